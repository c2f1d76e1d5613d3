//! Store and index tests: a model-based test of versions and retractions, index catch-up after
//! a crash between the store and index commits, and import / export.

use std::collections::HashMap;
use std::io::Cursor;

use convene_node::search::Query;
use convene_node::{
    CsvImport, CsvMapping, ExportLine, NoProgress, Node, NodeError, Outcome, PublishOutcome,
    Published, Publisher, SimilarCheck, Source,
};
use convene_protocol::{
    Address, Content, Experiment, Identity, Kind, Record, Slug, Status, Version,
};
use proptest::prelude::*;

const NOW: i64 = 1_767_225_600;

fn identity(seed: u8) -> Identity {
    Identity::from_secret([seed; 32])
}

fn publisher(seed: u8) -> Publisher {
    Publisher::new(identity(seed), None)
}

/// Tests offer records as an import would.
trait Ingest {
    fn ingest(&mut self, records: &[Record]) -> Result<Vec<Outcome>, NodeError>;
}

impl Ingest for Node {
    fn ingest(&mut self, records: &[Record]) -> Result<Vec<Outcome>, NodeError> {
        self.admit(records, Source::Import)
    }
}

/// Publishes without a similarity check.
fn publish(node: &mut Node, publisher: &Publisher, draft: convene_node::Draft) -> Published {
    match node
        .publish(publisher, draft, SimilarCheck::Skip, NOW)
        .unwrap()
    {
        PublishOutcome::Published(published) => published,
        PublishOutcome::Similar(_) | PublishOutcome::Retracted(_) => {
            unreachable!("no check was asked")
        }
    }
}

fn experiment(title: &str) -> Content {
    Content::Experiment(Experiment {
        title: title.to_string(),
        summary: format!("summary of {title}"),
        status: Status::Running,
        ..Experiment::default()
    })
}

fn signed(author: u8, slug: &str, seq: u64, title: &str) -> Record {
    Record::sign(
        &identity(author),
        Slug::new(slug).unwrap(),
        seq,
        NOW,
        experiment(title),
    )
    .unwrap()
}

fn search_all(node: &Node, text: &str) -> Vec<Address> {
    let mut found: Vec<Address> = node
        .search(&Query {
            text: text.into(),
            limit: 1_000,
            ..Query::default()
        })
        .unwrap()
        .into_iter()
        .map(|hit| hit.address)
        .collect();
    found.sort();
    found
}

// ---------------------------------------------------------------------------------------------
// Model-based: random publishes, retractions and replays of old versions, with restarts, must
// leave the store and the index exactly where a simple map of "winning version per address" is.

#[derive(Clone, Debug)]
enum Op {
    Publish {
        author: u8,
        slug: usize,
        seq: u64,
        word: usize,
    },
    Retract {
        author: u8,
        slug: usize,
        seq: u64,
    },
    /// Deliver again a record seen earlier (a duplicate or an old version arriving late).
    Replay {
        pick: usize,
    },
    Reopen,
}

const SLUGS: [&str; 3] = ["alpha", "beta", "gamma"];
const WORDS: [&str; 3] = ["allotments", "bikes", "libraries"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..3, 0..SLUGS.len(), 1u64..6, 0..WORDS.len())
            .prop_map(|(author, slug, seq, word)| Op::Publish { author, slug, seq, word }),
        1 => (1u8..3, 0..SLUGS.len(), 1u64..7).prop_map(|(author, slug, seq)| Op::Retract { author, slug, seq }),
        2 => any::<usize>().prop_map(|pick| Op::Replay { pick }),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Default)]
struct Model {
    /// Address → (winning version, title if live).
    latest: HashMap<Address, (Version, Option<String>)>,
    /// Address → the live versions the winners replaced, oldest first, since its last
    /// retraction: what `history_v1` keeps (the newest `HISTORY_VERSIONS` of them).
    replaced: HashMap<Address, Vec<Version>>,
}

impl Model {
    fn apply(&mut self, record: &Record) -> bool {
        let address = record.address();
        let wins = self
            .latest
            .get(&address)
            .is_none_or(|(version, _)| record.version() > *version);
        if wins {
            let title = record.content().map(|c| c.title().to_string());
            let replaced = self.replaced.entry(address.clone()).or_default();
            match self
                .latest
                .insert(address, (record.version(), title.clone()))
            {
                _ if title.is_none() => replaced.clear(),
                Some((version, Some(_))) => replaced.push(version),
                _ => {}
            }
        }
        wins
    }

    fn live_with_word(&self, word: &str) -> Vec<Address> {
        let mut found: Vec<Address> = self
            .latest
            .iter()
            .filter(|(_, (_, title))| title.as_deref().is_some_and(|t| t.contains(word)))
            .map(|(address, _)| address.clone())
            .collect();
        found.sort();
        found
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn store_and_index_follow_the_winning_versions(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut node = Node::create(dir.path()).unwrap();
        let mut model = Model::default();
        let mut seen: Vec<Record> = Vec::new();
        for op in ops {
            let record = match op {
                Op::Publish { author, slug, seq, word } => {
                    Some(signed(author, SLUGS[slug], seq, &format!("{} {seq}", WORDS[word])))
                }
                Op::Retract { author, slug, seq } => {
                    let address = Address { author: identity(author).author(), kind: Kind::Experiment, slug: Slug::new(SLUGS[slug]).unwrap() };
                    Some(Record::sign_retraction(&identity(author), &address, seq, NOW).unwrap())
                }
                Op::Replay { pick } if !seen.is_empty() => Some(seen[pick % seen.len()].clone()),
                Op::Replay { .. } => None,
                Op::Reopen => {
                    drop(node);
                    node = Node::create(dir.path()).unwrap();
                    None
                }
            };
            if let Some(record) = record {
                let was_new = !seen.contains(&record);
                let model_stored = model.apply(&record);
                let outcome = node.ingest(std::slice::from_ref(&record)).unwrap().remove(0);
                prop_assert_eq!(outcome.is_stored(), model_stored, "{:?}", outcome);
                if !model_stored {
                    // Refused: either this exact record again, or one the stored version beats.
                    let refused = matches!(outcome, Outcome::Duplicate | Outcome::Stale { .. });
                    prop_assert!(refused, "{:?}", outcome);
                }
                if was_new {
                    seen.push(record);
                }
            }
            for (address, (version, title)) in &model.latest {
                let stored = node.store().get(address).unwrap().expect("the model's address is stored");
                prop_assert_eq!(stored.version(), *version);
                prop_assert_eq!(stored.content().map(|c| c.title().to_string()), title.clone());
                let replaced = &model.replaced[address];
                let kept = &replaced[replaced.len().saturating_sub(convene_node::HISTORY_VERSIONS)..];
                let mut expected: Vec<(u64, String)> = kept.iter().map(|v| (v.seq, v.id.to_hex())).collect();
                expected.push((version.seq, version.id.to_hex()));
                expected.reverse();
                let history: Vec<(u64, String)> = node.history(address).unwrap().versions.into_iter().map(|v| (v.seq, v.id)).collect();
                prop_assert_eq!(history, expected, "history of {}", address);
            }
            for word in WORDS {
                prop_assert_eq!(search_all(&node, word), model.live_with_word(word), "search for {}", word);
            }
            let live = model.latest.values().filter(|(_, title)| title.is_some()).count() as u64;
            prop_assert_eq!(node.index().num_docs(), live);
            prop_assert_eq!(node.counts().unwrap().live, live);
        }
    }
}

#[test]
fn a_retraction_removes_the_content_and_an_older_version_never_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::create(dir.path()).unwrap();
    let v1 = signed(1, "pilot", 1, "allotment pilot");
    let v2 = signed(1, "pilot", 2, "allotment pilot revised");
    node.ingest(&[v1.clone(), v2.clone()]).unwrap();
    let retraction = node.retract(&publisher(1), &v2.address(), NOW).unwrap();
    assert_eq!(retraction.header().seq, 3);
    assert!(search_all(&node, "allotment").is_empty());
    let outcomes = node.ingest(&[v1, v2]).unwrap();
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            Outcome::Stale {
                retracted: true,
                ..
            }
        )),
        "{outcomes:?}"
    );
    assert!(node.get(&retraction.address()).is_err());
    assert!(search_all(&node, "allotment").is_empty());
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn the_index_catches_up_with_records_stored_while_it_was_behind() {
    // Simulates a crash after a store commit and before the index commit: the index of an
    // empty store is put back after a record was stored.
    let dir = tempfile::tempdir().unwrap();
    let empty_index = tempfile::tempdir().unwrap();
    Node::create(dir.path()).unwrap().close().unwrap();
    copy_dir(
        &dir.path().join(convene_node::INDEX_DIR),
        empty_index.path(),
    );
    {
        let mut node = Node::create(dir.path()).unwrap();
        node.ingest(&[signed(1, "late", 1, "bikes for staff")])
            .unwrap();
        node.close().unwrap();
    }
    let index = dir.path().join(convene_node::INDEX_DIR);
    std::fs::remove_dir_all(&index).unwrap();
    copy_dir(empty_index.path(), &index);
    let node = Node::create(dir.path()).unwrap();
    assert_eq!(search_all(&node, "bikes").len(), 1);
    assert_eq!(
        node.index().position().unwrap(),
        node.store().log_head().unwrap()
    );
}

#[test]
fn a_deleted_index_is_rebuilt_by_reindex() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::create(dir.path()).unwrap();
    node.ingest(&[
        signed(1, "a", 1, "libraries open late"),
        signed(1, "b", 1, "bikes"),
    ])
    .unwrap();
    node.reindex(&NoProgress).unwrap();
    assert_eq!(search_all(&node, "libraries").len(), 1);
    assert_eq!(node.index().num_docs(), 2);
    drop(node);
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let node = Node::create(dir.path()).unwrap();
    assert_eq!(
        node.index().num_docs(),
        2,
        "a missing index is rebuilt from the store on open"
    );
}

#[test]
fn publishing_an_existing_slug_makes_the_next_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::create(dir.path()).unwrap();
    let me = publisher(1);
    let draft = |title: &str| convene_node::Draft {
        slug: Some(Slug::new("pilot").unwrap()),
        content: experiment(title),
    };
    let first = publish(&mut node, &me, draft("first"));
    let second = publish(&mut node, &me, draft("second"));
    assert_eq!(
        (first.record.header().seq, second.previous_seq),
        (1, Some(1))
    );
    assert_eq!(second.record.header().seq, 2);
    assert_eq!(
        node.get(&first.record.address())
            .unwrap()
            .content()
            .unwrap()
            .title(),
        "second"
    );
}

#[test]
fn only_the_author_can_retract() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::create(dir.path()).unwrap();
    let record = signed(1, "mine", 1, "mine");
    node.ingest(std::slice::from_ref(&record)).unwrap();
    let error = node
        .retract(&publisher(2), &record.address(), NOW)
        .unwrap_err();
    assert!(error.to_string().contains("another author"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Export and import.

fn export(node: &Node) -> String {
    let mut out = Vec::new();
    node.export(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn import(node: &mut Node, text: &str, dry_run: bool) -> convene_node::ImportReport {
    node.import_jsonl(
        &mut Cursor::new(text.as_bytes().to_vec()),
        dry_run,
        NOW,
        &NoProgress,
    )
    .unwrap()
}

#[test]
fn an_export_imports_into_another_node_exactly_and_idempotently() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut source = Node::create(a.path()).unwrap();
    let records: Vec<Record> = (0..2_500)
        .map(|n| {
            signed(
                1 + (n % 2) as u8,
                &format!("r{n}"),
                1,
                &format!("bikes {n}"),
            )
        })
        .collect();
    source.ingest(&records).unwrap();
    source
        .retract(&publisher(1), &records[0].address(), NOW)
        .unwrap();
    let text = export(&source);
    assert_eq!(text.lines().count(), 2_500);

    let mut target = Node::create(b.path()).unwrap();
    let report = import(&mut target, &text, false);
    assert_eq!(
        (report.read, report.stored, report.unchanged),
        (2_500, 2_500, 0)
    );
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(export(&target), text, "same records, same bytes");
    assert_eq!(target.index().num_docs(), 2_499);

    let again = import(&mut target, &text, false);
    assert_eq!(
        (again.stored, again.unchanged, again.rejected.len()),
        (0, 2_500, 0)
    );
}

#[test]
fn a_dry_run_reports_without_storing() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut source = Node::create(a.path()).unwrap();
    source
        .ingest(&[signed(1, "x", 1, "x"), signed(1, "y", 1, "y")])
        .unwrap();
    let mut target = Node::create(b.path()).unwrap();
    let report = import(&mut target, &export(&source), true);
    assert_eq!((report.stored, report.dry_run), (2, true));
    assert_eq!(target.counts().unwrap().live, 0);
    assert_eq!(target.index().num_docs(), 0);
}

#[test]
fn tampered_lines_are_rejected_with_their_line_number_and_the_rest_imported() {
    let dir = tempfile::tempdir().unwrap();
    let records = [
        signed(1, "one", 1, "one"),
        signed(1, "two", 1, "two"),
        signed(1, "three", 1, "three"),
    ];
    let mut lines: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(&ExportLine::of(r)).unwrap())
        .collect();
    // Line 2: one changed byte in the body (the summary), which only the signature catches.
    let mut bytes = records[1].bytes().to_vec();
    let in_body = bytes.len() - 64 - 3;
    bytes[in_body] ^= 1;
    let mut tampered = ExportLine::of(&records[1]);
    tampered.record = base64_encode(&bytes);
    tampered.id = None;
    lines[1] = serde_json::to_string(&tampered).unwrap();
    lines.push("{not json".into());
    let mut node = Node::create(dir.path()).unwrap();
    let report = import(&mut node, &(lines.join("\n") + "\n"), false);
    assert_eq!(report.stored, 2);
    let rejected: Vec<(u64, bool)> = report
        .rejected
        .iter()
        .map(|r| {
            (
                r.line,
                r.reason.contains(if r.line == 2 {
                    "bad signature"
                } else {
                    "not a Convene export line"
                }),
            )
        })
        .collect();
    assert_eq!(rejected, [(2, true), (4, true)], "{:?}", report.rejected);
    assert!(
        node.get(&records[1].address()).is_err(),
        "nothing stored for the tampered line"
    );
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_csv_of_case_studies_imports_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::create(dir.path()).unwrap();
    let csv = "Project,What,Keywords,State,Budget\n\
               Community fridges,Shared fridges in libraries,food; libraries,running,£5k\n\
               ,No title here,x,idea,\n\
               Parklets,Parking spaces as seating,streets; parking,piloting,\n";
    let mapping = CsvMapping::parse(
        "kind = \"experiment\"\n[columns]\ntitle = \"Project\"\nsummary = \"What\"\ntags = \"Keywords\"\nstatus = \"State\"\n\"context.budget\" = \"Budget\"\n[defaults]\nregion = \"Yorkshire\"\n",
    )
    .unwrap();
    let me = Publisher::new(identity(1), Some("Example Council".into()));
    let run = |node: &mut Node| {
        let job = CsvImport {
            mapping: &mapping,
            publisher: &me,
            dry_run: false,
            now: NOW,
        };
        node.import_csv(&mut csv.as_bytes(), &job, &NoProgress)
            .unwrap()
    };
    let report = run(&mut node);
    assert_eq!(report.stored, 1);
    let reasons: Vec<(u64, String)> = report
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.clone()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, 3);
    assert!(reasons[0].1.contains("title"), "{reasons:?}");
    assert_eq!(reasons[1].0, 4);
    assert!(reasons[1].1.contains("piloting"), "{reasons:?}");
    let hits = node
        .search(&Query {
            text: "fridges".into(),
            tags: vec!["Libraries".into()],
            ..Query::default()
        })
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].region.as_deref(), Some("Yorkshire"));
    // The publisher's organisation is filled into the record as a hint, but a result shows
    // the author as this node knows it: here no profile has arrived, so no name.
    assert_eq!(hits[0].organisation, None);
    let Some(Content::Experiment(stored)) = node.get(&hits[0].address).unwrap().content().cloned()
    else {
        panic!("an experiment")
    };
    assert_eq!(stored.organisation.as_deref(), Some("Example Council"));

    let again = run(&mut node);
    assert_eq!(
        (again.stored, again.unchanged),
        (0, 1),
        "a second import changes nothing"
    );
}

#[test]
fn a_mapping_naming_a_missing_column_is_refused_before_anything_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::create(dir.path()).unwrap();
    let mapping = CsvMapping::parse("kind = \"lesson\"\n[columns]\ntitle = \"Heading\"\n").unwrap();
    let error = node
        .import_csv(
            &mut "Title\nx\n".as_bytes(),
            &CsvImport {
                mapping: &mapping,
                publisher: &publisher(1),
                dry_run: false,
                now: NOW,
            },
            &NoProgress,
        )
        .unwrap_err();
    assert!(error.to_string().contains("\"Heading\""), "{error}");
    assert_eq!(node.counts().unwrap().log, 0);
}

#[test]
fn search_filters_and_people_find_the_right_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::create(dir.path()).unwrap();
    let me = publisher(1);
    let publish = |node: &mut Node, toml: &str| {
        let draft =
            convene_node::Draft::parse(toml, convene_node::DraftFormat::Toml, "t", &me.author())
                .unwrap();
        publish(node, &me, draft).record
    };
    let priya = publish(
        &mut node,
        "kind = \"practitioner\"\nname = \"Priya Shah\"\nexpertise = [\"digital inclusion\"]\n",
    );
    let sam = publish(
        &mut node,
        "kind = \"practitioner\"\nname = \"Sam Lee\"\nexpertise = [\"parking\"]\n",
    );
    publish(
        &mut node,
        "kind = \"experiment\"\ntitle = \"Device lending\"\nsummary = \"Tablets for residents to close the digital divide\"\nstatus = \"completed\"\nregion = \"North West\"\ncontacts = [\"sam-lee\"]\ntags = [\"Digital Inclusion\"]\n",
    );
    publish(
        &mut node,
        "kind = \"experiment\"\ntitle = \"Digital champions\"\nsummary = \"Volunteers helping people online\"\nstatus = \"running\"\nregion = \"Yorkshire\"\n",
    );

    let running = node
        .search(&Query {
            text: "digital".into(),
            status: Some(Status::Running),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(
        running.iter().map(|h| h.title.as_str()).collect::<Vec<_>>(),
        ["Digital champions"]
    );
    let north_west = node
        .search(&Query {
            text: "digital".into(),
            region: Some("north west".into()),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(north_west.len(), 1);
    let tagged = node
        .search(&Query {
            tags: vec!["digital inclusion".into()],
            kind: Some(Kind::Experiment),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(tagged.len(), 1);

    let people = node.people("digital inclusion", 10).unwrap();
    let names: Vec<&str> = people
        .iter()
        .map(|p| p.practitioner.name.as_str())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"Priya Shah") && names.contains(&"Sam Lee"));
    let sam_found = people.iter().find(|p| p.address == sam.address()).unwrap();
    assert!(
        sam_found
            .reasons
            .iter()
            .any(|r| r.to_string() == "ran: Device lending"),
        "{:?}",
        sam_found.reasons
    );
    let priya_found = people
        .iter()
        .find(|p| p.address == priya.address())
        .unwrap();
    assert_eq!(
        priya_found.reasons[0].to_string(),
        "expertise: digital inclusion"
    );
}

// ---------------------------------------------------------------------------------------------
// Catch-up sync between two stores, in process: reconcile the sync sets, send each side what it
// lacks (verified on arrival, as from the network), and both end with the same records.

#[test]
fn two_stores_reconciled_in_process_end_with_the_same_records() {
    use convene_protocol::sync::reconcile_locally;
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut a, mut b) = (
        Node::create(a_dir.path()).unwrap(),
        Node::create(b_dir.path()).unwrap(),
    );
    let shared: Vec<Record> = (0..300)
        .map(|n| signed(1, &format!("s{n}"), 1, &format!("shared {n}")))
        .collect();
    a.ingest(&shared).unwrap();
    b.ingest(&shared).unwrap();
    a.ingest(
        &(0..40)
            .map(|n| signed(2, &format!("a{n}"), 1, "only on a"))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    b.ingest(
        &(0..25)
            .map(|n| signed(3, &format!("b{n}"), 1, "only on b"))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    // A retracts a shared record; B has a newer version of another.
    a.retract(&publisher(1), &shared[0].address(), NOW).unwrap();
    b.ingest(&[signed(1, "s1", 2, "shared 1 revised")]).unwrap();

    let result = reconcile_locally(
        a.store().sync_items().unwrap(),
        b.store().sync_items().unwrap(),
    )
    .unwrap();
    assert_eq!(
        (result.have.len(), result.need.len()),
        (42, 27),
        "40 + retraction + old s1; 25 + new s1 + old s0"
    );
    // What each side sends, read before either side changes; checked on arrival.
    let outgoing = |from: &Node, ids: &[convene_protocol::RecordId]| -> Vec<Record> {
        ids.iter()
            .map(|id| {
                let bytes = from.store().get_by_id(*id).unwrap().unwrap().into_bytes();
                Record::from_bytes(bytes, NOW).unwrap()
            })
            .collect()
    };
    let (to_b, to_a) = (outgoing(&a, &result.have), outgoing(&b, &result.need));
    b.ingest(&to_b).unwrap();
    a.ingest(&to_a).unwrap();
    assert_eq!(export(&a), export(&b));
    assert_eq!(a.counts().unwrap().live, 300 - 1 + 40 + 25);
    assert!(search_all(&b, "revised").len() == 1 && search_all(&a, "revised").len() == 1);
    let again = reconcile_locally(
        a.store().sync_items().unwrap(),
        b.store().sync_items().unwrap(),
    )
    .unwrap();
    assert_eq!(
        (again.have.len(), again.need.len(), again.messages),
        (0, 0, 2)
    );
}

/// The store actor, run in this process on a fresh home.
mod actor {
    use convene_node::daemon::actor::Request;
    use convene_node::daemon::{ActorError, Daemon, DaemonError, RunOptions};
    use convene_node::{Home, NodeError};

    fn options() -> RunOptions {
        RunOptions::loopback()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_that_panics_fails_for_its_caller_and_the_store_carries_on() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::init(dir.path(), Some("Panic Council".into())).unwrap();
        let daemon = Daemon::start(&home, options()).await.unwrap();
        let failed = daemon
            .store()
            .ask(|reply| Request::PanicForTests {
                message: "a bug in one request".into(),
                reply,
            })
            .await;
        match failed {
            Err(ActorError::Failed(message)) => assert!(
                message.contains("a bug in one request") && message.contains("still running"),
                "{message}"
            ),
            other => panic!("expected the job to fail, got {other:?}"),
        }
        // The next job runs as if nothing happened.
        let counts = daemon
            .store()
            .ask(|reply| Request::Counts { reply })
            .await
            .unwrap();
        assert!(counts.is_ok());
        assert!(daemon.status().await.is_some(), "the node still answers");
        daemon.shutdown().await.unwrap();
    }

    /// Regression: a node stopped while a reindex ran committed the half-built index as up to
    /// date with the store, so after a restart searches missed every record the reindex had
    /// not reached yet, and nothing caught up.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_stopped_during_a_reindex_still_finds_every_record_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::init(dir.path(), Some("Reindex Council".into())).unwrap();
        let indexed = {
            let mut node = convene_node::Node::open(&home.data_dir()).unwrap();
            let records: Vec<_> = (0..5_000u64)
                .map(|n| super::signed((n % 7) as u8 + 1, &format!("r{n}"), 1, "A pilot"))
                .collect();
            node.admit(&records, convene_node::Source::Import).unwrap();
            let indexed = node.index().num_docs();
            node.close().unwrap();
            indexed
        };
        assert!(indexed >= 5_000, "{indexed} indexed");
        let daemon = Daemon::start(&home, options()).await.unwrap();
        let store = daemon.store().clone();
        let reindex =
            tokio::spawn(async move { store.ask(|reply| Request::Reindex { reply }).await });
        // Long enough for the reindex to start, far too short for 5,000 records.
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        daemon.shutdown().await.unwrap();
        let _ = reindex.await;
        let node = convene_node::Node::open(&home.data_dir()).unwrap();
        assert_eq!(node.index().num_docs(), indexed);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn when_the_store_thread_dies_the_daemon_says_so_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::init(dir.path(), None).unwrap();
        let mut daemon = Daemon::start(&home, options()).await.unwrap();
        daemon.store().abort_for_tests().await;
        let reason = tokio::time::timeout(std::time::Duration::from_secs(10), daemon.died())
            .await
            .expect("the daemon noticed within 10 s");
        assert!(reason.contains("store thread panicked"), "{reason}");
        // What is left shuts down without hanging.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), daemon.shutdown())
            .await
            .expect("shutdown finished");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn out_of_range_settings_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::init(dir.path(), None).unwrap();
        let config = dir.path().join("config.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            text.replacen("\n[node]\n", "\n[node]\napi_header_timeout_secs = 0\n", 1),
        )
        .unwrap();
        let home = Home::open(home.dir()).unwrap();
        match Daemon::start(&home, options()).await {
            Err(DaemonError::Setting { reason, .. }) => {
                assert!(reason.contains("api_header_timeout_secs = 0"), "{reason}")
            }
            other => panic!("expected a settings error, got {other:?}"),
        }
    }

    #[test]
    fn a_missing_store_is_refused_not_replaced_by_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::init(dir.path(), Some("Lost Store Council".into())).unwrap();
        std::fs::remove_file(home.data_dir().join(convene_node::STORE_FILE)).unwrap();
        match convene_node::Node::open(&home.data_dir()) {
            Err(NodeError::Store(error)) => {
                let message = error.to_string();
                assert!(message.contains("store.redb is missing"), "{message}");
                assert!(message.contains("convene recover"), "{message}");
            }
            other => panic!("expected the missing store to be refused, got {other:?}"),
        }
        assert!(
            !home.data_dir().join(convene_node::STORE_FILE).exists(),
            "nothing was created in its place"
        );
    }
}

/// Catch-up sync's budgets, with this test playing the misbehaving peer.
mod sync_limits {
    use convene_node::Node;
    use convene_node::daemon::actor;
    use convene_node::daemon::net::NetCommand;
    use convene_node::daemon::sync::{self, Responder, SyncBudget};
    use convene_protocol::sync::Reconciler;
    use convene_protocol::wire::{Request, Response};
    use libp2p::PeerId;

    use super::{Ingest, publisher, signed};
    use convene_node::Source;

    fn budget() -> SyncBudget {
        SyncBudget {
            max_rounds: 1_000,
            max_records: 1_000_000,
            sessions_per_minute: 100,
            requests_per_minute: 1_000,
            searches_per_minute: 30,
        }
    }

    /// A store actor over a node holding `n` records.
    fn store_with(n: usize) -> (tempfile::TempDir, actor::StoreHandle) {
        let dir = tempfile::tempdir().unwrap();
        let mut node = Node::create(dir.path()).unwrap();
        let records: Vec<_> = (0..n)
            .map(|i| signed(7, &format!("r{i}"), 1, &format!("record {i}")))
            .collect();
        node.ingest(&records).unwrap();
        let (handle, _thread) = actor::spawn(node, publisher(7), &Default::default());
        (dir, handle)
    }

    fn opening() -> Vec<u8> {
        Reconciler::initiate(Vec::new()).unwrap().1
    }

    fn refused(response: &Response) -> &str {
        match response {
            Response::Refused { reason } => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sync_set_is_built_once_until_the_store_changes() {
        let (_dir, store) = store_with(200);
        let responder = Responder::new(budget());
        for session in 0..3 {
            let peer = PeerId::random();
            let message = opening();
            let answer = responder
                .answer(
                    &store,
                    peer,
                    Request::Reconcile {
                        session,
                        scope: vec![convene_protocol::NetworkId::Commons],
                        message,
                    },
                )
                .await;
            assert!(matches!(answer, Response::Reconcile { .. }), "{answer:?}");
        }
        assert_eq!(responder.builds(), 1, "three sessions, one build");
        let record = signed(7, "new-one", 1, "arrived later").into_bytes();
        store.ingest(vec![record], Source::Sync).await.unwrap();
        let message = opening();
        responder
            .answer(
                &store,
                PeerId::random(),
                Request::Reconcile {
                    session: 9,
                    scope: vec![convene_protocol::NetworkId::Commons],
                    message,
                },
            )
            .await;
        assert_eq!(responder.builds(), 2, "rebuilt after the store changed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_peer_opening_sessions_too_fast_is_refused() {
        let (_dir, store) = store_with(10);
        let responder = Responder::new(SyncBudget {
            sessions_per_minute: 3,
            ..budget()
        });
        let peer = PeerId::random();
        for session in 0..3 {
            let message = opening();
            let answer = responder
                .answer(
                    &store,
                    peer,
                    Request::Reconcile {
                        session,
                        scope: vec![convene_protocol::NetworkId::Commons],
                        message,
                    },
                )
                .await;
            assert!(matches!(answer, Response::Reconcile { .. }));
        }
        let message = opening();
        let answer = responder
            .answer(
                &store,
                peer,
                Request::Reconcile {
                    session: 4,
                    scope: vec![convene_protocol::NetworkId::Commons],
                    message,
                },
            )
            .await;
        assert!(refused(&answer).contains("sync sessions a minute"));
        // Another peer is not affected.
        let message = opening();
        let answer = responder
            .answer(
                &store,
                PeerId::random(),
                Request::Reconcile {
                    session: 5,
                    scope: vec![convene_protocol::NetworkId::Commons],
                    message,
                },
            )
            .await;
        assert!(matches!(answer, Response::Reconcile { .. }));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_peer_sending_requests_too_fast_is_refused() {
        let (_dir, store) = store_with(10);
        let responder = Responder::new(SyncBudget {
            requests_per_minute: 5,
            ..budget()
        });
        let peer = PeerId::random();
        for _ in 0..5 {
            let answer = responder
                .answer(&store, peer, Request::Fetch { ids: vec![] })
                .await;
            assert!(matches!(answer, Response::Records { .. }), "{answer:?}");
        }
        let answer = responder
            .answer(&store, peer, Request::Fetch { ids: vec![] })
            .await;
        assert!(refused(&answer).contains("sync requests a minute"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_session_that_never_ends_is_cut_off_at_its_round_limit() {
        let (_dir, store) = store_with(10);
        let responder = Responder::new(SyncBudget {
            max_rounds: 2,
            ..budget()
        });
        let peer = PeerId::random();
        let message = opening();
        for round in 1..=3 {
            let answer = responder
                .answer(
                    &store,
                    peer,
                    Request::Reconcile {
                        session: 1,
                        scope: vec![convene_protocol::NetworkId::Commons],
                        message: message.clone(),
                    },
                )
                .await;
            if round <= 2 {
                assert!(
                    matches!(answer, Response::Reconcile { .. }),
                    "round {round}"
                );
            } else {
                assert!(refused(&answer).contains("limit of 2 rounds"));
            }
        }
    }

    /// Runs the initiator against a responder over `store`, both in this process.
    async fn sync_against(
        store: &actor::StoreHandle,
        initiator: actor::StoreHandle,
        budget: SyncBudget,
    ) -> sync::SyncReport {
        let (net, mut commands) = tokio::sync::mpsc::channel(16);
        let responder = Responder::new(self::budget());
        let peer = PeerId::random();
        let store = store.clone();
        tokio::spawn(async move {
            while let Some(command) = commands.recv().await {
                if let NetCommand::Request { request, reply, .. } = command {
                    let _ = reply.send(Ok(responder.answer(&store, peer, request).await));
                }
            }
        });
        sync::run(peer, initiator, net, budget).await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_initiator_stops_at_its_round_and_record_budgets() {
        let (_a, many) = store_with(5_000);
        let (_b, empty) = store_with(0);
        let report = sync_against(
            &many,
            empty.clone(),
            SyncBudget {
                max_records: 300,
                ..budget()
            },
        )
        .await;
        assert!(report.truncated, "{report:?}");
        assert!(report.stored <= 300 && report.stored > 0, "{report:?}");
        // Each later sync goes on from there until everything is held.
        let mut rounds = 0;
        loop {
            let report = sync_against(&many, empty.clone(), budget()).await;
            rounds += 1;
            if !report.truncated {
                break;
            }
            assert!(rounds < 10);
        }
        let held = empty
            .ask(|reply| actor::Request::Counts { reply })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(held.live, 5_000);
        let (_c, empty_too) = store_with(0);
        let report = sync_against(
            &many,
            empty_too,
            SyncBudget {
                max_rounds: 1,
                ..budget()
            },
        )
        .await;
        assert_eq!(report.rounds, 1);
        assert!(report.truncated, "{report:?}");
    }
}

/// Every way a record can enter the store passes the admission step: with a policy that
/// refuses everything, nothing is stored through any of them.
mod admission {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use convene_node::admission::Rule;
    use convene_node::daemon::{Daemon, PeerEntry, RunOptions};
    use convene_node::{
        Client, CsvImport, CsvMapping, Directory, Draft, ExportLine, Home, NoProgress, Node,
        NodeError, Policy, SimilarCheck, Source,
    };
    use convene_protocol::Record;

    use super::{Ingest, NOW, experiment, publisher, signed};

    /// Refuses every record, and notes where each one came from.
    #[derive(Debug, Default, Clone)]
    struct RefuseAll {
        seen: Arc<Mutex<Vec<Source>>>,
    }

    impl Rule for RefuseAll {
        fn check(&self, _: &Record, source: Source) -> Result<(), String> {
            self.seen.lock().unwrap().push(source);
            Err("this node takes nothing".into())
        }
    }

    impl RefuseAll {
        fn saw(&self, source: Source) -> bool {
            self.seen.lock().unwrap().contains(&source)
        }

        fn policy(&self) -> Policy {
            Policy::default().with(self.clone())
        }
    }

    fn refusing_node() -> (tempfile::TempDir, Node, RefuseAll) {
        let dir = tempfile::tempdir().unwrap();
        let mut node = Node::create(dir.path()).unwrap();
        let rule = RefuseAll::default();
        node.set_policy(rule.policy());
        (dir, node, rule)
    }

    fn draft(title: &str) -> Draft {
        Draft {
            slug: None,
            content: experiment(title),
        }
    }

    #[test]
    fn publish_is_refused() {
        let (_dir, mut node, rule) = refusing_node();
        let error = node
            .publish(&publisher(1), draft("bike library"), SimilarCheck::Skip, 1)
            .unwrap_err();
        assert!(
            matches!(&error, NodeError::Refused { reason, .. } if reason == "this node takes nothing"),
            "{error}"
        );
        assert!(rule.saw(Source::Own));
        assert_eq!(node.counts().unwrap().log, 0);
    }

    #[test]
    fn retract_is_refused_and_the_record_stays() {
        let dir = tempfile::tempdir().unwrap();
        let mut node = Node::create(dir.path()).unwrap();
        let record = signed(1, "kept", 1, "a record to keep");
        node.ingest(std::slice::from_ref(&record)).unwrap();
        let rule = RefuseAll::default();
        node.set_policy(rule.policy());
        let error = node
            .retract(&publisher(1), &record.address(), 2)
            .unwrap_err();
        assert!(matches!(error, NodeError::Refused { .. }), "{error}");
        assert!(node.get(&record.address()).is_ok(), "still live");
        assert_eq!(node.counts().unwrap().log, 1);
    }

    #[test]
    fn a_jsonl_import_stores_nothing() {
        let (_dir, mut node, rule) = refusing_node();
        let lines: String = (0..5)
            .map(|i| signed(2, &format!("r{i}"), 1, "imported"))
            .map(|r| serde_json::to_string(&ExportLine::of(&r)).unwrap() + "\n")
            .collect();
        let report = node
            .import_jsonl(&mut lines.as_bytes(), false, NOW, &NoProgress)
            .unwrap();
        assert_eq!((report.read, report.stored), (5, 0));
        assert_eq!(report.rejected.len(), 5);
        assert!(report.rejected[0].reason.contains("admission policy"));
        assert!(rule.saw(Source::Import));
        assert_eq!(node.counts().unwrap().log, 0);
    }

    #[test]
    fn a_csv_import_stores_nothing() {
        let (_dir, mut node, rule) = refusing_node();
        let mapping =
            CsvMapping::parse("kind = \"lesson\"\n[columns]\ntitle = \"T\"\nsummary = \"S\"\n")
                .unwrap();
        let job = CsvImport {
            mapping: &mapping,
            publisher: &publisher(1),
            dry_run: false,
            now: 1,
        };
        let report = node
            .import_csv(&mut "T,S\na,b\nc,d\n".as_bytes(), &job, &NoProgress)
            .unwrap();
        assert_eq!((report.read, report.stored), (2, 0));
        assert_eq!(report.rejected.len(), 2, "{:?}", report.rejected);
        assert!(rule.saw(Source::Own));
        assert_eq!(node.counts().unwrap().log, 0);
    }

    fn options(policy: Policy) -> RunOptions {
        RunOptions {
            policy,
            ..RunOptions::loopback()
        }
    }

    /// Waits for `done` (checked every 50 ms), at most 60 s.
    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited 60 s for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gossip_sync_and_the_local_api_store_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let open = Home::init(&dir.path().join("open"), None).unwrap();
        let closed = Home::init(&dir.path().join("closed"), None).unwrap();
        let source = Daemon::start(&open, options(Policy::default()))
            .await
            .unwrap();
        // A record held before the two meet reaches the refusing node by sync.
        source
            .publish(
                Draft::parse(
                    "kind = \"lesson\"\ntitle = \"Held before\"\nsummary = \"s\"\n",
                    convene_node::DraftFormat::Toml,
                    "t",
                    &open.identity().unwrap().author(),
                )
                .unwrap(),
            )
            .await
            .unwrap();
        let rule = RefuseAll::default();
        let refusing = Daemon::start(&closed, options(rule.policy()))
            .await
            .unwrap();
        let ticket = source.status().await.unwrap().net.ticket;
        refusing
            .add_peer(PeerEntry::parse(&ticket).unwrap())
            .await
            .unwrap();
        until("the sync to offer the record", || rule.saw(Source::Sync)).await;

        // A record published once both are in the gossip mesh reaches it by gossip.
        let mut round = 0;
        while !rule.saw(Source::Gossip) {
            assert!(round < 60, "no gossip arrived in 60 rounds");
            let text = format!("kind = \"lesson\"\ntitle = \"Gossip {round}\"\nsummary = \"s\"\n");
            let author = open.identity().unwrap().author();
            let draft = Draft::parse(&text, convene_node::DraftFormat::Toml, "t", &author).unwrap();
            source.publish(draft).await.unwrap();
            round += 1;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
            while !rule.saw(Source::Gossip) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }

        // The local API's writes go the same way.
        let client = tokio::task::spawn_blocking({
            let home = closed.dir().to_path_buf();
            move || {
                let mut client = Client::find(&home).unwrap().expect("the node answers");
                let published = client.publish(draft("from the api"), SimilarCheck::Skip);
                let line = serde_json::to_string(&ExportLine::of(&signed(3, "x", 1, "x"))).unwrap();
                let imported = client
                    .import_jsonl_chunk(format!("{line}\n").into_bytes(), 1, false)
                    .unwrap();
                let csv = client
                    .import_csv_chunk(
                        b"T,S\na,b\n".to_vec(),
                        1,
                        "kind = \"lesson\"\n[columns]\ntitle = \"T\"\nsummary = \"S\"\n",
                        false,
                    )
                    .unwrap();
                (published.map(|_| ()), imported, csv)
            }
        })
        .await
        .unwrap();
        let (published, imported, csv) = client;
        let error = published.unwrap_err();
        assert!(error.to_string().contains("takes nothing"), "{error}");
        assert_eq!((imported.stored, imported.rejected.len()), (0, 1));
        assert_eq!((csv.stored, csv.rejected.len()), (0, 1));

        let counts = refusing.status().await.unwrap().counts.unwrap();
        assert_eq!(counts.log, 0, "nothing entered the refusing node's store");
        refusing.shutdown().await.unwrap();
        source.shutdown().await.unwrap();
    }
}

/// Gossip rates: one author (or one peer) cannot take more than its share of a node's gossip
/// intake; what is over the rate is refused unpunished and arrives by the next sync.
mod gossip_rates {
    use std::time::Duration;

    use convene_node::daemon::{Daemon, PeerEntry, RunOptions};
    use convene_node::{Draft, DraftFormat, Home};

    async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !done().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited 60 s for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn lesson(home: &Home, n: usize) -> Draft {
        let text = format!("kind = \"lesson\"\ntitle = \"Lesson {n}\"\nsummary = \"s\"\n");
        Draft::parse(
            &text,
            DraftFormat::Toml,
            "t",
            &home.identity().unwrap().author(),
        )
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_author_over_its_gossip_rate_waits_for_the_next_sync() {
        let dir = tempfile::tempdir().unwrap();
        let source_home = Home::init(&dir.path().join("source"), Some("Source".into())).unwrap();
        let victim_path = dir.path().join("victim");
        Home::init(&victim_path, Some("Victim".into())).unwrap();
        let config = victim_path.join("config.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            text.replacen(
                "\n[node]\n",
                "\n[node]\ngossip_records_per_author_per_minute = 5\nsync_interval_secs = 3600\n",
                1,
            ),
        )
        .unwrap();
        let victim_home = Home::open(&victim_path).unwrap();
        let source = Daemon::start(&source_home, RunOptions::loopback())
            .await
            .unwrap();
        let victim = Daemon::start(&victim_home, RunOptions::loopback())
            .await
            .unwrap();
        let ticket = source.status().await.unwrap().net.ticket;
        victim
            .add_peer(PeerEntry::parse(&ticket).unwrap())
            .await
            .unwrap();
        let source_id = source.status().await.unwrap().net.peer_id;
        // (Homes made by the library hold no records: no profile is published.)
        until("the gossip mesh", async || {
            let status = victim.status().await.unwrap();
            status
                .net
                .peers
                .iter()
                .any(|p| p.peer_id == source_id && p.mesh)
        })
        .await;

        for n in 0..20 {
            source.publish(lesson(&source_home, n)).await.unwrap();
        }
        until("every gossiped record to be decided", async || {
            let status = victim.status().await.unwrap();
            status.counts.unwrap().live + status.net.gossip_refused >= 20
        })
        .await;
        let status = victim.status().await.unwrap();
        let stored = status.counts.unwrap().live;
        assert!(
            stored <= 6,
            "at most the rate (and a little refill): {stored}"
        );
        assert!(
            status.net.gossip_refused >= 14,
            "{:?}",
            status.net.gossip_refused
        );
        assert!(status.net.blocked.is_empty(), "the peer is not punished");

        // The next sync brings the rest: here, the one on reconnecting.
        victim.shutdown().await.unwrap();
        let victim = Daemon::start(&victim_home, RunOptions::loopback())
            .await
            .unwrap();
        until("the sync to bring every record", async || {
            victim
                .status()
                .await
                .and_then(|s| s.counts)
                .is_some_and(|c| c.live == 20)
        })
        .await;
        victim.shutdown().await.unwrap();
        source.shutdown().await.unwrap();
    }
}

/// The trust rules as pure functions: whatever order a node learns the same statements in, it
/// reaches the same verdicts, and the verdicts keep the rules.
mod trust_rules {
    use std::collections::BTreeMap;

    use convene_node::trust::{Basis, Evidence, Names, Pin};
    use convene_protocol::{AuthorKey, Vouch};
    use proptest::prelude::*;

    fn key(n: u8) -> AuthorKey {
        AuthorKey([n; 32])
    }

    const NAMES: [&str; 4] = ["Ashdown Vale", "ashdown  vale", "Brackley", "Coldwater"];

    /// Drawn: author → profile name, author → pin name, (voucher, subject) → (name, days from
    /// today it expires), the owner.
    type Drawn = (
        BTreeMap<u8, usize>,
        BTreeMap<u8, usize>,
        BTreeMap<(u8, u8), (usize, i64)>,
        Option<u8>,
    );

    /// Unique per author, as the store holds them: one profile, one pin each; one vouch per
    /// (voucher, subject).
    fn evidence() -> impl Strategy<Value = Evidence> {
        let profiles = proptest::collection::btree_map(0u8..8, 0usize..4, 0..8);
        let pins = proptest::collection::btree_map(0u8..8, 0usize..4, 0..4);
        let vouches =
            proptest::collection::btree_map((0u8..8, 0u8..8), (0usize..4, -3i64..3), 0..12);
        (profiles, pins, vouches, proptest::option::of(0u8..8)).prop_map(
            |(profiles, pins, vouches, owner): Drawn| {
                let today: convene_protocol::Date = "2026-11-26".parse().unwrap();
                Evidence {
                    profiles: profiles
                        .into_iter()
                        .map(|(a, n)| (key(a), NAMES[n].to_string()))
                        .collect(),
                    pins: pins
                        .into_iter()
                        .map(|(a, n)| {
                            let pin = Pin {
                                name: NAMES[n].into(),
                                note: None,
                                at: 0,
                            };
                            (key(a), pin)
                        })
                        .collect(),
                    vouches: vouches
                        .into_iter()
                        .map(|((voucher, subject), (n, days))| {
                            let expires = convene_protocol::Date::from_unix(
                                1_795_651_200 + days * 86_400, // today ± days
                            );
                            let vouch = Vouch {
                                subject: key(subject),
                                name: NAMES[n].into(),
                                expires,
                                note: None,
                            };
                            (key(voucher), vouch)
                        })
                        .collect(),
                    owner: owner.map(key),
                    today: Some(today),
                    ..Evidence::default()
                }
            },
        )
    }

    proptest! {
        #[test]
        fn the_same_statements_in_any_order_give_the_same_verdicts_and_keep_the_rules(
            evidence in evidence(),
            seed in any::<u64>(),
        ) {
            let mut shuffled = evidence.clone();
            // A deterministic shuffle from the seed.
            let mut state = seed | 1;
            let mut next = move || { state ^= state << 13; state ^= state >> 7; state ^= state << 17; state };
            for i in (1..shuffled.profiles.len()).rev() { let j = (next() % (i as u64 + 1)) as usize; shuffled.profiles.swap(i, j); }
            for i in (1..shuffled.pins.len()).rev() { let j = (next() % (i as u64 + 1)) as usize; shuffled.pins.swap(i, j); }
            for i in (1..shuffled.vouches.len()).rev() { let j = (next() % (i as u64 + 1)) as usize; shuffled.vouches.swap(i, j); }
            let owner = evidence.owner;
            let trusted: Vec<AuthorKey> = evidence.pins.iter().map(|(a, _)| *a).chain(owner).collect();
            let today = evidence.today.unwrap();
            let vouches = evidence.vouches.clone();
            let pinned: Vec<AuthorKey> = evidence.pins.iter().map(|(a, _)| *a).collect();
            let (a, b) = (Names::from_evidence(evidence), Names::from_evidence(shuffled));
            for n in 0u8..8 {
                let author = key(n);
                let verdict = a.assess(&author);
                prop_assert_eq!(&verdict, &b.assess(&author));
                match &verdict.basis {
                    Basis::Own => prop_assert_eq!(Some(author), owner),
                    Basis::Pinned { .. } => prop_assert!(pinned.contains(&author)),
                    Basis::Vouched { by } => {
                        prop_assert!(!pinned.contains(&author) && Some(author) != owner);
                        for voucher in by {
                            // Only directly trusted vouchers, only current vouches, one hop.
                            prop_assert!(trusted.contains(voucher));
                            prop_assert!(vouches.iter().any(|(v, vouch)| v == voucher
                                && vouch.subject == author
                                && vouch.expires >= today));
                        }
                    }
                    // No domain checks are drawn here: nothing is verified.
                    Basis::Verified { .. } => prop_assert!(false, "verified without a check"),
                    // No delegations are drawn here.
                    Basis::Delegated { .. } => prop_assert!(false, "delegated without a delegation"),
                    // No successions are drawn here.
                    Basis::Succeeds { .. } => prop_assert!(false, "a successor without a succession"),
                    Basis::Unverified | Basis::Unknown => {}
                }
                // A conflict is flagged on both sides.
                for other in &verdict.conflicts {
                    prop_assert!(a.assess(other).conflicts.contains(&author));
                }
            }
        }
    }
}

#[test]
fn csv_values_are_mapped_and_enumerations_read_whatever_their_case() {
    // Regression (issue 11, friction 3): `Completed` was rejected on every row, and there was no
    // way to say that the spreadsheet's `Live` means `running`.
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::create(dir.path()).unwrap();
    let mapping = CsvMapping::parse(
        "kind = \"experiment\"\n[columns]\ntitle = \"Project\"\nsummary = \"What\"\nstatus = \"State\"\n[values.status]\nLive = \"running\"\n\"On hold\" = \"paused\"\n",
    )
    .unwrap();
    let csv = "Project,What,State\nFridges,Shared fridges,Completed\nParklets,Seating,live\nBikes,Staff bikes,ON HOLD\n";
    let me = publisher(1);
    let job = CsvImport {
        mapping: &mapping,
        publisher: &me,
        dry_run: false,
        now: NOW,
    };
    let report = node
        .import_csv(&mut csv.as_bytes(), &job, &NoProgress)
        .unwrap();
    assert_eq!((report.stored, report.rejected.len()), (3, 0), "{report:?}");
    let statuses: Vec<String> = ["fridges", "parklets", "bikes"]
        .iter()
        .map(|slug| {
            let address = Address {
                author: identity(1).author(),
                kind: Kind::Experiment,
                slug: Slug::new(slug).unwrap(),
            };
            match node.get(&address).unwrap().content() {
                Some(Content::Experiment(e)) => e.status.as_str().to_string(),
                _ => panic!("an experiment"),
            }
        })
        .collect();
    assert_eq!(statuses, ["completed", "running", "paused"]);
    // A mapping for a field the kind does not have is refused by name.
    let error = CsvMapping::parse(
        "kind = \"lesson\"\n[columns]\ntitle = \"T\"\n[values.status]\nLive = \"running\"\n",
    )
    .unwrap_err();
    assert!(error.contains("status"), "{error}");
}

#[test]
fn a_renamed_spreadsheet_row_is_reported_as_like_the_record_it_was() {
    // Regression (issue 11, friction 7): renaming a project in the sheet made a second record
    // without a word.
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::create(dir.path()).unwrap();
    let mapping = CsvMapping::parse(
        "kind = \"experiment\"\n[columns]\ntitle = \"Project\"\nsummary = \"What\"\n",
    )
    .unwrap();
    let me = publisher(1);
    let job = CsvImport {
        mapping: &mapping,
        publisher: &me,
        dry_run: false,
        now: NOW,
    };
    let first = "Project,What\nCommunity fridges,Shared fridges in libraries for surplus food\nParklets,Parking spaces as seating\n";
    let report = node
        .import_csv(&mut first.as_bytes(), &job, &NoProgress)
        .unwrap();
    assert_eq!((report.stored, report.similar.len()), (2, 0), "{report:?}");
    let renamed = "Project,What\nCommunity fridge network,Shared fridges in libraries for surplus food\nParklets,Parking spaces as seating\n";
    let report = node
        .import_csv(&mut renamed.as_bytes(), &job, &NoProgress)
        .unwrap();
    assert_eq!((report.stored, report.unchanged), (1, 1), "{report:?}");
    assert_eq!(report.similar.len(), 1, "{report:?}");
    assert_eq!(report.similar[0].line, 2);
    assert_eq!(report.similar[0].title, "Community fridges");
    assert_eq!(
        report.similar[0].address.slug.as_str(),
        "community-fridge-network"
    );
}

fn interest(author: u8, experiment: &Address) -> Record {
    Record::sign(
        &identity(author),
        convene_protocol::Interest::slug_for(experiment),
        1,
        NOW,
        Content::Interest(convene_protocol::Interest {
            experiment: experiment.clone(),
            note: None,
        }),
    )
    .unwrap()
}

/// Views built from one kind (interests here) read that kind through `kinds_v1`, which follows
/// every write and purge, and is rebuilt on open for a store that lacks it.
#[test]
fn a_kinds_records_are_found_through_the_kinds_table_after_writes_purges_and_an_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::create(dir.path()).unwrap();
    let fridges = signed(1, "fridges", 1, "Community fridges");
    let address = fridges.address();
    node.ingest(&[fridges]).unwrap();
    node.ingest(&[
        interest(2, &address),
        interest(3, &address),
        signed(2, "other", 1, "Other"),
    ])
    .unwrap();
    let interested = |node: &Node| -> Vec<convene_protocol::AuthorKey> {
        let mut keys: Vec<_> = node
            .store()
            .interests()
            .unwrap()
            .into_iter()
            .map(|(author, _, _)| author)
            .collect();
        keys.sort();
        keys
    };
    let mut both = vec![identity(2).author(), identity(3).author()];
    both.sort();
    assert_eq!(interested(&node), both);
    // A blocked author's interest is purged, and the view no longer lists it.
    node.set_block(
        &identity(3).author(),
        Some(&convene_node::trust::Block {
            reason: "spam".into(),
            at: NOW,
        }),
    )
    .unwrap();
    assert_eq!(interested(&node), [identity(2).author()]);
    node.close().unwrap();

    // A store from before the table: it is rebuilt from the addresses held.
    {
        let db = redb::Database::create(dir.path().join(convene_node::STORE_FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut kinds = txn
                .open_table(redb::TableDefinition::<&[u8], ()>::new("kinds_v1"))
                .unwrap();
            kinds.retain(|_, ()| false).unwrap();
        }
        txn.commit().unwrap();
    }
    let node = Node::open(dir.path()).unwrap();
    assert_eq!(interested(&node), [identity(2).author()]);
}

/// `convene history`: each version a newer one replaced is kept, up to the bound, and a
/// retraction or a block deletes them with the content.
#[test]
fn replaced_versions_are_kept_for_the_history_until_retracted_or_blocked() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::create(dir.path()).unwrap();
    let total = convene_node::HISTORY_VERSIONS as u64 + 3;
    for seq in 1..=total {
        node.ingest(&[signed(
            1,
            "fridges",
            seq,
            &format!("Community fridges {seq}"),
        )])
        .unwrap();
    }
    // A slug that starts with the other's keeps its own history apart.
    node.ingest(&[signed(1, "fridges-2", 1, "Fridges again")])
        .unwrap();
    node.ingest(&[signed(1, "fridges-2", 2, "Fridges again, edited")])
        .unwrap();
    let address = signed(1, "fridges", 1, "x").address();
    let history = node.history(&address).unwrap();
    let seqs: Vec<u64> = history.versions.iter().map(|v| v.seq).collect();
    let expected: Vec<u64> = (total - convene_node::HISTORY_VERSIONS as u64..=total)
        .rev()
        .collect();
    assert_eq!(seqs, expected, "the latest and the newest replaced ones");
    assert!(history.earlier_not_held);
    assert_eq!(history.title, format!("Community fridges {total}"));
    let changed: Vec<&str> = history.versions[0]
        .changes
        .iter()
        .map(|change| change.field.as_str())
        .collect();
    assert_eq!(changed, ["summary", "title"]);
    assert_eq!(
        node.history(&signed(1, "fridges-2", 1, "x").address())
            .unwrap()
            .versions
            .len(),
        2
    );

    // A retraction deletes the content of every version, and survives a reopen.
    let retraction = Record::sign_retraction(&identity(1), &address, total + 1, NOW).unwrap();
    node.ingest(&[retraction]).unwrap();
    node.close().unwrap();
    let mut node = Node::open(dir.path()).unwrap();
    let history = node.history(&address).unwrap();
    assert_eq!(history.versions.len(), 1);
    assert!(history.versions[0].retraction);
    // Blocking the author purges the rest.
    node.set_block(
        &identity(1).author(),
        Some(&convene_node::trust::Block {
            reason: "spam".into(),
            at: NOW,
        }),
    )
    .unwrap();
    assert!(matches!(
        node.history(&signed(1, "fridges-2", 1, "x").address()),
        Err(NodeError::NotFound(_))
    ));
    node.close().unwrap();
    use redb::{ReadableDatabase, ReadableTableMetadata};
    let db = redb::Database::create(dir.path().join(convene_node::STORE_FILE)).unwrap();
    let txn = db.begin_read().unwrap();
    let history = txn
        .open_table(redb::TableDefinition::<&[u8], &[u8]>::new("history_v1"))
        .unwrap();
    assert_eq!(
        history.len().unwrap(),
        0,
        "no version of a blocked author is left"
    );
}

/// Everything a compaction must leave as it was: the live records, each address's versions,
/// the arrival log, the counts and a view read through `kinds_v1`.
fn store_contents(node: &Node) -> Vec<String> {
    let mut out = Vec::new();
    let live = node
        .list(&convene_node::ListFilter {
            now: NOW,
            ..Default::default()
        })
        .unwrap();
    for record in &live {
        let versions = node.store().versions(&record.address()).unwrap();
        let ids: Vec<String> = versions.iter().map(|v| v.id().to_string()).collect();
        out.push(format!("{} {}", record.address(), ids.join(",")));
    }
    let (log, next) = node.store().log_since(0, 100_000).unwrap();
    out.extend(log.iter().map(|record| format!("log {}", record.id())));
    out.push(format!("log ends at {next}"));
    out.push(format!("{:?}", node.store().counts().unwrap()));
    out.push(format!("{:?}", node.store().interests().unwrap()));
    out
}

/// `convene compact` first rewrites the tables keyed in no particular order (records by id,
/// addresses) in key order, so that their pages fill, then gives free pages back. No entry
/// changes, the tables keep their names across a reopen, and writes go on as before.
#[test]
fn compaction_rewrites_tables_in_key_order_and_changes_no_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::create(dir.path()).unwrap();
    // Written in small batches, as gossip would: ids land at random places in the tree.
    for batch in 0..40u64 {
        let records: Vec<Record> = (0..10)
            .map(|i| {
                let n = batch * 10 + i;
                signed(
                    (n % 7) as u8 + 1,
                    &format!("pilot-{n}"),
                    1,
                    &format!("Pilot {n}: shared fridges, repair cafes and a longer title"),
                )
            })
            .collect();
        node.ingest(&records).unwrap();
    }
    for n in 0..30u64 {
        let author = (n % 7) as u8 + 1;
        node.ingest(&[signed(author, &format!("pilot-{n}"), 2, "A second version")])
            .unwrap();
    }
    let first = signed(1, "pilot-0", 1, "x").address();
    node.ingest(&[interest(9, &first)]).unwrap();
    let before = store_contents(&node);

    let compaction = node.compact().unwrap();
    let (size_before, size_after) = compaction.store_bytes;
    assert_eq!(compaction.index_segments.map(|(_, after)| after), Some(1));
    assert!(
        size_after < size_before,
        "{size_before} bytes became {size_after}"
    );
    assert_eq!(store_contents(&node), before);
    drop(node);
    let mut node = Node::open(dir.path()).unwrap();
    assert_eq!(store_contents(&node), before);

    // Later writes reach the rewritten tables: a version, its history, a new record.
    node.ingest(&[signed(1, "pilot-0", 3, "A third version")])
        .unwrap();
    let later = signed(2, "after-compaction", 1, "Written afterwards");
    node.ingest(std::slice::from_ref(&later)).unwrap();
    assert_eq!(node.store().versions(&first).unwrap().len(), 3);
    assert_eq!(search_all(&node, "afterwards"), vec![later.address()]);
    let after = store_contents(&node);
    assert!(after.contains(&format!("{} {}", later.address(), later.id())));
    assert!(after.contains(&format!("log {}", later.id())));
}

/// Records the position the index on disk claims, each time a rebuild reports progress.
struct CommittedPositions {
    index_dir: std::path::PathBuf,
    seen: std::cell::RefCell<Vec<u64>>,
}

impl convene_node::Progress for CommittedPositions {
    fn start(&self, _total: Option<u64>, _what: &str) {}
    fn advance(&self, _done: u64) {
        let on_disk = convene_node::search::Index::open(&self.index_dir).unwrap();
        self.seen.borrow_mut().push(on_disk.position().unwrap());
    }
    fn finish(&self) {}
}

/// Issue 13: a rebuild committed the index once, at its end, so tantivy held every
/// replacement in memory until then (1.2 GB at a million records), and it left a segment per
/// commit for every search to visit.
#[test]
fn a_rebuild_commits_as_it_goes_and_ends_with_the_index_in_one_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::create(dir.path()).unwrap();
    for group in 0..10u64 {
        let records: Vec<Record> = (0..30)
            .map(|n| signed(1, &format!("pilot-{group}-{n}"), 1, "Shared allotment rota"))
            .collect();
        node.ingest(&records).unwrap();
    }
    node.set_bulk_for_tests(convene_node::Bulk {
        chunk: 10,
        commit_every: 50,
        merge_after: 100,
    });
    let progress = CommittedPositions {
        index_dir: dir.path().join(convene_node::INDEX_DIR),
        seen: Default::default(),
    };

    node.reindex(&progress).unwrap();

    let seen = progress.seen.into_inner();
    assert!(
        seen.iter().any(|position| (50..300).contains(position)),
        "the index committed only at the end: {seen:?}"
    );
    // Until its first commit the index on disk is the old one, whole (300).
    let during: Vec<u64> = seen.into_iter().skip_while(|p| *p == 300).collect();
    assert!(during.windows(2).all(|two| two[0] <= two[1]), "{during:?}");
    assert_eq!(node.index().position().unwrap(), 300);
    assert_eq!(node.index().num_docs(), 300);
    assert_eq!(node.index().segment_count(), 1);
    assert_eq!(search_all(&node, "allotment").len(), 300);
}
