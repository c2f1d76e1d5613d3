//! End-to-end tests: the real `convene` binary, driven as a user would drive it.

mod browser;
mod colleagues;
mod federation;
mod fuzz_seeds;
mod hardening;
mod https;
mod keys;
mod networks;
mod open_data;
mod openapi;
mod schemas;
mod trust;
mod util;
mod wider;

use util::Home;

const EXPERIMENT: &str = r#"
kind = "experiment"
title = "Community fridge network"
summary = "Shared fridges in libraries where residents leave and take surplus food."
status = "running"
tags = ["food", "libraries"]
"#;

#[test]
fn init_prints_the_identity_and_next_step_and_refuses_to_overwrite() {
    let home = Home::empty();
    let run = home
        .run(&["init", "--name", "Example Borough Council"])
        .ok();
    let identity = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Identity: "))
        .unwrap()
        .to_string();
    assert_eq!(identity.len(), 52, "{run}");
    let run = run.stdout_has("convene --home").stdout_has("publish");
    assert!(
        run.stdout.contains(&format!(
            "convene://{identity}/organisation/example-borough-council"
        )),
        "{run}"
    );
    let key_before = std::fs::read(home.path.join("identity.key")).unwrap();
    home.run(&["init"])
        .code(2)
        .stderr_has("already a Convene home");
    assert_eq!(
        std::fs::read(home.path.join("identity.key")).unwrap(),
        key_before,
        "the key was not touched"
    );
}

#[test]
fn commands_on_a_missing_home_say_to_run_init() {
    Home::empty()
        .run(&["search", "x"])
        .code(2)
        .stderr_has("convene init");
}

#[test]
fn the_home_can_come_from_the_environment() {
    let home = Home::init("Env Council");
    let output = std::process::Command::new(util::binary())
        .args(["list", "--kind", "organisation"])
        .env("CONVENE_HOME", &home.path)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("Env Council"));
}

#[test]
fn published_samples_are_found_by_search_in_every_output_form() {
    let home = Home::with_samples();
    // Piped: one tab-separated line per hit, best first.
    let run = home.run(&["search", "phone", "dial-in"]).ok();
    let first = run.stdout.lines().next().unwrap();
    assert!(
        first.ends_with("Keep a phone dial-in for online meetings"),
        "{run}"
    );
    // JSON: an array with address, kind, title, score and snippet.
    let run = home.run(&["search", "chatbot", "--json"]).ok();
    let hits = run.json();
    let hits = hits.as_array().unwrap();
    assert!(!hits.is_empty());
    for field in ["address", "kind", "title", "score", "snippet"] {
        assert!(
            hits[0].get(field).is_some(),
            "hit lacks {field}: {}",
            hits[0]
        );
    }
    assert!(hits.iter().any(|h| h["title"] == "Council tax chatbot"));
    // Filters.
    let completed = home.search_addresses(&["digital", "--status", "completed"]);
    assert_eq!(completed.len(), 1);
    assert!(completed[0].ends_with("/experiment/device-lending-library"));
    let lessons = home.search_addresses(&["--kind", "lesson", "--tag", "chatbots"]);
    assert_eq!(lessons.len(), 1);
    assert!(lessons[0].ends_with("/lesson/chatbot-handover-first"));
    assert_eq!(
        home.search_addresses(&["phone", "--region", "yorkshire", "--kind", "experiment"])
            .len(),
        1
    );
    assert_eq!(home.search_addresses(&["-n", "2", "digital"]).len(), 2);
    let recent = home.search_addresses(&["--kind", "experiment", "--started-after", "2024-01-01"]);
    assert_eq!(recent.len(), 2, "{recent:?}");
    assert!(
        recent
            .iter()
            .all(|a| !a.ends_with("device-lending-library"))
    );
    home.run(&["search", "--since", "March"])
        .code(2)
        .stderr_has("YYYY-MM-DD");
    // No match: exit code 1 and nothing on stdout.
    let none = home.run(&["search", "zeppelin"]).code(1);
    assert!(none.stdout.is_empty());
}

#[test]
fn facets_count_every_match_by_kind_status_and_region() {
    let home = Home::with_samples();
    let facets = home.run(&["facets", "--json"]).ok().json();
    let counts = |field: &str| -> Vec<(String, u64)> {
        facets[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["value"].as_str().unwrap().to_string(),
                    v["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let mut kinds = counts("kind");
    kinds.sort();
    let expected = [
        ("experiment", 3),
        ("lesson", 2),
        ("organisation", 1),
        ("practitioner", 2),
    ];
    assert_eq!(kinds, expected.map(|(k, n)| (k.to_string(), n)));
    assert_eq!(counts("region"), [("yorkshire".to_string(), 5)], "{facets}");
    let digital = home
        .run(&["facets", "digital", "--kind", "experiment"])
        .ok();
    let mut lines: Vec<&str> = digital
        .stdout
        .lines()
        .filter(|l| l.starts_with("status\t"))
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        ["status\tcompleted\t1", "status\trunning\t1"],
        "{digital}"
    );
    home.run(&["facets", "zeppelin"]).code(1);
}

#[test]
fn people_names_who_to_learn_from_and_why() {
    let home = Home::with_samples();
    let run = home.run(&["people", "chatbots", "--json"]).ok();
    let people = run.json();
    let first = &people[0];
    assert_eq!(first["name"], "Tom Okafor", "{run}");
    let reasons: Vec<&str> = first["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"ran: Council tax chatbot"), "{reasons:?}");
    assert!(
        reasons.contains(&"wrote: Design the chatbot's handover before its answers"),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("expertise: chatbots")),
        "{reasons:?}"
    );
    home.run(&["people", "beekeeping"]).code(1);
}

#[test]
fn publishing_warns_about_similar_records_and_needs_yes_in_scripts() {
    let home = Home::init("Example Council");
    home.publish("fridge.toml", EXPERIMENT);
    let copy = home.file(
        "copy.toml",
        &EXPERIMENT.replace(
            "Community fridge network",
            "Community fridges network pilot",
        ),
    );
    home.run(&["publish", copy.to_str().unwrap()])
        .code(4)
        .stderr_has("1 similar experiment already exists")
        .stderr_has("Community fridge network")
        .stderr_has("--yes");
    assert_eq!(
        home.run(&["list", "--kind", "experiment"])
            .stdout
            .lines()
            .count(),
        1,
        "nothing was published"
    );
    home.run(&["publish", "--yes", copy.to_str().unwrap()]).ok();
    assert_eq!(
        home.run(&["list", "--kind", "experiment"])
            .stdout
            .lines()
            .count(),
        2
    );
}

#[test]
fn publishing_the_same_slug_makes_the_next_version() {
    let home = Home::init("Example Council");
    let address = home.publish("v1.toml", EXPERIMENT);
    let again = home.publish(
        "v2.toml",
        &EXPERIMENT.replace("status = \"running\"", "status = \"completed\""),
    );
    assert_eq!(address, again);
    let shown = home.run(&["show", &address, "--json"]).ok().json();
    assert_eq!(shown["seq"], 2);
    assert_eq!(shown["status"], "completed");
    assert_eq!(
        shown["organisation"], "Example Council",
        "filled in from the config"
    );
}

#[test]
fn drafts_can_come_from_stdin_as_json() {
    let home = Home::init("Example Council");
    let run = home
        .run_with_stdin(
            &["publish", "-", "--json"],
            Some(r#"{"kind":"lesson","title":"Pilot with one ward first","summary":"Fewer moving parts."}"#),
        )
        .ok();
    let published = run.json();
    assert_eq!(published["seq"], 1);
    assert!(
        published["address"]
            .as_str()
            .unwrap()
            .ends_with("/lesson/pilot-with-one-ward-first")
    );
}

#[test]
fn bad_drafts_are_refused_with_the_problem_named_and_nothing_stored() {
    let home = Home::init("Example Council");
    let cases = [
        (
            "no-title.toml",
            "kind = \"experiment\"\nsummary = \"s\"\n",
            "missing required field `title`",
        ),
        (
            "blank-title.toml",
            "kind = \"lesson\"\ntitle = \"  \"\nsummary = \"s\"\n",
            "missing required field `title`",
        ),
        (
            "typo.toml",
            "kind = \"lesson\"\ntitle = \"t\"\nsumary = \"s\"\n",
            "unknown field `sumary`",
        ),
        (
            "kind.toml",
            "kind = \"meetup\"\nname = \"x\"\n",
            "unknown variant `meetup`",
        ),
        ("nokind.toml", "title = \"t\"\n", "missing field `kind`"),
        (
            "status.toml",
            "kind = \"experiment\"\ntitle = \"t\"\nsummary = \"s\"\nstatus = \"maybe\"\n",
            "field `status`: \"maybe\" is not one of idea, planned, running",
        ),
        (
            "date.toml",
            "kind = \"experiment\"\ntitle = \"t\"\nsummary = \"s\"\nstarted = \"March\"\n",
            "YYYY-MM-DD",
        ),
        (
            "toml.toml",
            "kind = \"lesson\"\ntitle = \"unterminated\n",
            "not valid TOML",
        ),
        (
            "slug.toml",
            "kind = \"lesson\"\nslug = \"Bad Slug\"\ntitle = \"t\"\nsummary = \"s\"\n",
            "invalid slug",
        ),
    ];
    for (name, text, expected) in cases {
        let path = home.file(name, text);
        home.run(&["publish", "--yes", path.to_str().unwrap()])
            .code(2)
            .stderr_has(expected)
            .stderr_has(name);
    }
    let many_tags = format!(
        "kind = \"experiment\"\ntitle = \"t\"\nsummary = \"s\"\ntags = [{}]\n",
        (0..40)
            .map(|n| format!("\"t{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let path = home.file("tags.toml", &many_tags);
    home.run(&["publish", "--yes", path.to_str().unwrap()])
        .code(2)
        .stderr_has("`tags` has 40 entries, over the limit of 32");
    let long = format!("kind = \"practitioner\"\nname = \"{}\"\n", "n".repeat(300));
    let path = home.file("long.toml", &long);
    home.run(&["publish", "--yes", path.to_str().unwrap()])
        .code(2)
        .stderr_has("over the limit of 200");
    let big = format!(
        "kind = \"lesson\"\ntitle = \"t\"\nsummary = \"s\"\nbody = \"{}\"\n",
        "x".repeat(70_000)
    );
    let path = home.file("big.toml", &big);
    home.run(&["publish", "--yes", path.to_str().unwrap()])
        .code(2)
        .stderr_has("over the limit of 65536 bytes");
    home.run(&["publish", "--yes", "/nonexistent/draft.toml"])
        .code(2)
        .stderr_has("/nonexistent/draft.toml");
    // Only the organisation record from init exists.
    let all = home.run(&["list"]).ok();
    assert_eq!(all.stdout.lines().count(), 1, "{all}");
}

#[test]
fn similar_lists_records_like_an_address_or_a_draft() {
    let home = Home::with_samples();
    let run = home.run(&["list", "--kind", "experiment"]).ok();
    let lending = run
        .stdout
        .lines()
        .find(|l| l.contains("device-lending"))
        .unwrap()
        .split('\t')
        .nth(1)
        .unwrap()
        .to_string();
    let run = home.run(&["similar", &lending, "--json"]).ok();
    let similar = run.json();
    let titles: Vec<&str> = similar
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert!(
        !titles.contains(&"Device lending library"),
        "a record is not similar to itself: {titles:?}"
    );
    assert_eq!(
        titles.first(),
        Some(&"Virtual town hall meetings"),
        "{titles:?}"
    );
    let draft = home.file("draft.toml", "kind = \"experiment\"\ntitle = \"Tablet lending for residents\"\nsummary = \"Borrow a tablet with data, with help from digital champions.\"\ntags = [\"digital inclusion\"]\n");
    let run = home.run(&["similar", draft.to_str().unwrap()]).ok();
    assert!(
        run.stdout
            .lines()
            .next()
            .unwrap()
            .contains("device-lending-library"),
        "{run}"
    );
    home.run(&["similar", "nothing-like-this"])
        .code(2)
        .stderr_has("neither a record address nor a draft file");
}

#[test]
fn list_filters_by_owner_kind_and_staleness() {
    let home = Home::with_samples();
    let mine = home.run(&["list", "--mine"]).ok();
    assert_eq!(mine.stdout.lines().count(), 8, "{mine}");
    assert_eq!(
        home.run(&["list", "--kind", "lesson"])
            .ok()
            .stdout
            .lines()
            .count(),
        2
    );
    // The device lending library's review date (2025-01-31) has passed; the town hall's has not.
    let stale = home.run(&["list", "--stale"]).ok();
    assert_eq!(stale.stdout.lines().count(), 1, "{stale}");
    assert!(stale.stdout.contains("device-lending-library"));
    // Regression (issue 11, friction 12): the date shown was the update's, not the review's.
    assert_eq!(
        stale.stdout.split('\t').nth(2),
        Some("2025-01-31"),
        "{stale}"
    );
    let other = Home::init("Other Council");
    other.run(&["list", "--kind", "lesson"]).code(1);
}

#[test]
fn a_retracted_record_disappears_and_stays_retracted() {
    let home = Home::init("Example Council");
    let address = home.publish("fridge.toml", EXPERIMENT);
    assert_eq!(
        home.search_addresses(&["fridges"]),
        std::slice::from_ref(&address)
    );
    home.run(&["retract", &address])
        .ok()
        .stdout_has(&address)
        .stderr_has("seq 2");
    home.run(&["search", "fridges"]).code(1);
    home.run(&["show", &address])
        .code(1)
        .stderr_has("was retracted");
    home.run(&["retract", &address])
        .code(1)
        .stderr_has("was retracted");
    // The tombstone travels in exports, so other nodes learn of the retraction too.
    let export = home.run(&["export"]).ok();
    assert_eq!(export.stdout.lines().count(), 2);
    // Someone else's record cannot be retracted here.
    let other = Home::init("Other Council");
    let theirs = other.publish("fridge.toml", EXPERIMENT);
    let file = other.file("export.jsonl", &other.run(&["export"]).ok().stdout);
    home.run(&["import", file.to_str().unwrap()]).ok();
    home.run(&["retract", &theirs])
        .code(2)
        .stderr_has("another author");
}

#[test]
fn exports_import_on_another_node_verified_and_idempotently() {
    let source = Home::with_samples();
    let exported = source.file("all.jsonl", "");
    source
        .run(&["export", "-o", exported.to_str().unwrap()])
        .ok()
        .stderr_has("exported 8 records");
    let target = Home::init("Second Council");
    let path = exported.to_str().unwrap();
    target
        .run(&["import", "--dry-run", path])
        .ok()
        .stderr_has("would store 8");
    target.run(&["search", "chatbot"]).code(1);
    target
        .run(&["import", path])
        .ok()
        .stderr_has("stored 8, 0 already present, 0 rejected");
    target.run(&["search", "chatbot"]).ok();
    let ours = target.run(&["people", "chatbots", "--json"]).ok().json();
    assert_eq!(ours[0]["name"], "Tom Okafor");
    target
        .run(&["import", path])
        .ok()
        .stderr_has("stored 0, 8 already present");
    // Same records, same bytes, on both nodes.
    let source_lines: Vec<String> = std::fs::read_to_string(&exported)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let target_export = target.run(&["export"]).ok().stdout;
    for line in &source_lines {
        assert!(
            target_export.contains(line.as_str()),
            "missing from the target's export: {line}"
        );
    }
}

#[test]
fn tampered_imports_are_rejected_line_by_line_with_a_nonzero_exit() {
    let source = Home::with_samples();
    let export = source.run(&["export"]).ok().stdout;
    let mut lines: Vec<serde_json::Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Line 3: flip one bit inside the signed bytes; line 5: claim a different id.
    let mut bytes = base64_decode(lines[2]["record"].as_str().unwrap());
    let at = bytes.len() - 80;
    bytes[at] ^= 0x20;
    lines[2]["record"] = base64_encode(&bytes).into();
    lines[2].as_object_mut().unwrap().remove("id");
    lines[4]["id"] = "00".repeat(32).into();
    let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    text.push_str("this is not json\n");
    let target = Home::init("Second Council");
    let file = target.file("tampered.jsonl", &text);
    let run = target
        .run(&["import", file.to_str().unwrap()])
        .code(3)
        .stderr_has("line 3: rejected: bad signature")
        .stderr_has("line 5: rejected: `id`")
        .stderr_has("line 9: rejected: not a Convene export line")
        .stderr_has("stored 6");
    let listed = target.run(&["list", "--json"]).ok().json();
    assert_eq!(
        listed.as_array().unwrap().len(),
        7,
        "6 imported plus the target's own organisation\n{run}"
    );
}

#[test]
fn a_csv_of_case_studies_is_imported_with_a_column_mapping() {
    let home = Home::init("Example Council");
    let csv = home.file(
        "cases.csv",
        "Project,Description,Keywords,Stage\n\
         Parklets,Parking spaces turned into seating,streets;parking,completed\n\
         Repair cafe,Volunteers fix residents' appliances,circular economy;volunteers,running\n\
         ,Missing its title,x,idea\n\
         Night bus,,x,Live\n",
    );
    let path = csv.to_str().unwrap();
    home.run(&["import", path]).code(2).stderr_has("--map");
    let mapping = home.file(
        "mapping.toml",
        "kind = \"experiment\"\n[columns]\ntitle = \"Project\"\nsummary = \"Description\"\ntags = \"Keywords\"\nstatus = \"Stage\"\n[defaults]\nregion = \"Yorkshire\"\n",
    );
    let map = mapping.to_str().unwrap();
    home.run(&["import", path, "--map", map])
        .code(3)
        .stderr_has("line 4: rejected")
        // Every problem of a row at once (regression: issue 11, friction 5).
        .stderr_has("line 5: rejected")
        .stderr_has("2 problems")
        .stderr_has("missing required field `summary`")
        .stderr_has("field `status`: \"live\" is not one of")
        .stderr_has("stored 2");
    assert_eq!(home.search_addresses(&["--tag", "volunteers"]).len(), 1);
    home.run(&["import", path, "--map", map])
        .code(3)
        .stderr_has("stored 0, 2 already present");
}

#[test]
fn reindex_rebuilds_a_lost_index_from_the_store() {
    let home = Home::with_samples();
    std::fs::remove_dir_all(home.path.join("data/index")).unwrap();
    std::fs::create_dir(home.path.join("data/index")).unwrap();
    home.run(&["reindex"]).ok().stderr_has("indexed 8 records");
    assert_eq!(
        home.search_addresses(&["chatbot", "--kind", "experiment"])
            .len(),
        1
    );
}

#[test]
fn a_second_process_on_the_same_home_gets_a_clear_error_and_the_first_finishes() {
    use std::io::{BufRead, Write};
    let home = Home::init("Example Council");
    // `publish -` opens the store, then waits for its draft on stdin: the store stays in use.
    // With logging on, it says when it has opened the store.
    let mut first = std::process::Command::new(util::binary())
        .args([
            "--home",
            home.path.to_str().unwrap(),
            "publish",
            "--yes",
            "-",
        ])
        .env("RUST_LOG", "convene_node=info")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = std::io::BufReader::new(first.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("opened the store") {
        let mut line = String::new();
        if log.read_line(&mut line).unwrap() == 0 {
            panic!("the first process ended before opening the store:\n{seen}");
        }
        seen.push_str(&line);
    }
    home.run(&["list"])
        .code(2)
        .stderr_has("in use by another convene process");
    first
        .stdin
        .take()
        .unwrap()
        .write_all(EXPERIMENT.as_bytes())
        .unwrap();
    let status = first.wait().unwrap();
    assert!(status.success(), "the first process failed: {seen}");
    assert_eq!(home.search_addresses(&["fridge"]).len(), 1);
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn updating_your_own_record_or_adding_another_person_is_never_a_duplicate() {
    // Regression (issue 11, frictions 1 and 2): an edited practitioner record was refused as
    // "30% similar" to someone else, and so was an unrelated person with shared expertise.
    let home = Home::init("Example Council");
    let sam = "kind = \"practitioner\"\nslug = \"sam-patel\"\nname = \"Sam Patel\"\nrole = \"Digital lead\"\nexpertise = [\"digital inclusion\", \"device lending\"]\n";
    home.publish("sam.toml", sam);
    let josh = home.file(
        "josh.toml",
        "kind = \"practitioner\"\nname = \"Josh Reed\"\nrole = \"Digital lead\"\nexpertise = [\"digital inclusion\", \"device lending\"]\n",
    );
    home.run(&["publish", josh.to_str().unwrap()]).ok();
    let edited = home.file("sam2.toml", &sam.replace("Digital lead", "Head of digital"));
    home.run(&["publish", edited.to_str().unwrap()])
        .ok()
        .stderr_has("published version 2");
    // The same name under another slug is the one question worth asking.
    let twin = home.file(
        "twin.toml",
        "kind = \"practitioner\"\nslug = \"s-patel\"\nname = \"Sam  Patel\"\n",
    );
    home.run(&["publish", twin.to_str().unwrap()])
        .code(4)
        .stderr_has("1 practitioner with the same name already exists")
        .stderr_has("same person");
    // Experiments are still checked, updates of one's own excepted.
    let address = home.publish("fridge.toml", EXPERIMENT);
    let revised = home.file(
        "fridge2.toml",
        &EXPERIMENT.replace("status = \"running\"", "status = \"completed\""),
    );
    home.run(&["publish", revised.to_str().unwrap()]).ok();
    let shown = home.run(&["show", &address, "--json"]).ok().json();
    assert_eq!(shown["seq"], 2);
}

#[test]
fn json_output_for_retract_import_and_a_held_up_publish() {
    // Regression (issue 11, friction 12): retract and import had no --json, and publish --json
    // printed nothing when similar records held it up.
    let home = Home::init("Example Council");
    let address = home.publish("fridge.toml", EXPERIMENT);
    let copy = home.file(
        "copy.toml",
        &EXPERIMENT.replace(
            "Community fridge network",
            "Community fridges network pilot",
        ),
    );
    let held = home
        .run(&["publish", "--json", copy.to_str().unwrap()])
        .code(4)
        .json();
    assert_eq!(held["published"], false);
    assert_eq!(held["similar"][0]["address"], address.as_str());

    let export = home.run(&["export"]).ok().stdout;
    let other = Home::init("Other Council");
    let file = other.file("in.jsonl", &format!("{export}not json\n"));
    let report = other
        .run(&["import", "--json", file.to_str().unwrap()])
        .code(3)
        .json();
    assert_eq!(report["stored"], 2, "{report}");
    assert_eq!(report["rejected"][0]["line"], 3);

    let retracted = home.run(&["retract", "--json", &address]).ok().json();
    assert_eq!(retracted["address"], address.as_str());
    assert_eq!(retracted["seq"], 2);
    assert_eq!(retracted["retracted"], true);
}

#[test]
fn show_takes_a_slug_and_names_the_records_it_refers_to() {
    // Regression (issue 11, friction 8): show needed the full 70-character address, and showed
    // contacts as addresses.
    let home = Home::init("Example Council");
    let priya = home.publish(
        "priya.toml",
        "kind = \"practitioner\"\nname = \"Priya Shah\"\nrole = \"Digital inclusion lead\"\n",
    );
    let lesson = home.file(
        "lesson.toml",
        "kind = \"lesson\"\ntitle = \"Pilot with one ward first\"\nsummary = \"Fewer moving parts.\"\ncontacts = [\"priya-shah\", \"nobody-here\"]\n",
    );
    // Regression (friction 6): a contact that does not exist was taken silently.
    home.run(&["publish", lesson.to_str().unwrap()])
        .ok()
        .stderr_has("warning: contacts:")
        .stderr_has("nobody-here is not a record this node holds");
    let shown = home.run(&["show", "priya"]).ok();
    assert!(shown.stdout.contains("Priya Shah"), "{shown}");
    let lesson = home.run(&["show", "pilot-with-one-ward-first"]).ok();
    assert!(
        lesson.stdout.contains(&format!("Priya Shah ({priya})")),
        "{lesson}"
    );
    assert!(
        lesson.stdout.contains("nobody-here (not held here)"),
        "{lesson}"
    );
    // A prefix that fits two records asks for more.
    home.publish(
        "lesson2.toml",
        "kind = \"lesson\"\ntitle = \"Pilot with two wards\"\nsummary = \"More parts.\"\n",
    );
    home.run(&["show", "pilot-with"])
        .code(2)
        .stderr_has("could be any of");
    home.run(&["show", "zeppelin"])
        .code(2)
        .stderr_has("no record's slug");
}

#[test]
fn a_retracted_record_comes_back_only_when_asked_to() {
    // Regression (issue 11, friction 12): republishing a retracted slug silently brought it back.
    let home = Home::init("Example Council");
    let path = home.file("fridge.toml", EXPERIMENT);
    let address = home
        .run(&["publish", "--yes", path.to_str().unwrap()])
        .ok()
        .stdout
        .trim()
        .to_string();
    home.run(&["retract", &address]).ok();
    home.run(&["publish", path.to_str().unwrap()])
        .code(4)
        .stderr_has("was retracted")
        .stderr_has("--yes");
    home.run(&["show", &address]).code(1);
    home.run(&["publish", "--yes", path.to_str().unwrap()])
        .ok()
        .stderr_has("published version 3");
    home.run(&["show", &address]).ok();
}

/// Regression (issue 11, friction 11): expertise, interests and tags were lower-cased in
/// output (`LoRaWAN` → `lorawan`). The author's spelling is kept; matching ignores case.
#[test]
fn the_authors_spelling_of_topics_is_kept_and_matching_ignores_case() {
    let home = Home::init("Example Borough Council");
    let address = home.publish(
        "sam.toml",
        "kind = \"practitioner\"\nname = \"Sam Patel\"\nexpertise = [\"LoRaWAN\", \"lorawan\", \"IoT sensors\"]\ninterests = [\"GOV.UK Notify\"]\n",
    );
    let shown = home.run(&["show", &address, "--json"]).ok().json();
    assert_eq!(
        shown["expertise"],
        serde_json::json!(["LoRaWAN", "IoT sensors"])
    );
    assert_eq!(shown["interests"], serde_json::json!(["GOV.UK Notify"]));
    assert_eq!(
        home.search_addresses(&["--tag", "lorawan"]),
        std::slice::from_ref(&address)
    );
    home.run(&["people", "lorawan"]).ok().stdout_has("LoRaWAN");
}

/// Regression (issue 11, friction 4): CSV contacts written as names failed with "invalid
/// address \"Sam Patel\": it does not start with convene://".
#[test]
fn csv_contacts_by_name_resolve_to_the_one_practitioner_of_that_name() {
    let council = Home::init("Example Borough Council");
    let (police, charity, trust) = (
        Home::init("Example Police"),
        Home::init("Example Charity"),
        Home::init("Example Trust"),
    );
    let priya = police.publish(
        "priya.toml",
        "kind = \"practitioner\"\nname = \"Priya Shah\"\n",
    );
    for other in [&charity, &trust] {
        other.publish(
            "alex.toml",
            "kind = \"practitioner\"\nname = \"Alex Jones\"\n",
        );
    }
    for other in [&police, &charity, &trust] {
        crate::util::carry(other, &council);
    }
    let sam = council.publish(
        "sam.toml",
        "kind = \"practitioner\"\nname = \"Sam Patel\"\n",
    );
    let csv = council.file(
        "projects.csv",
        "Project,What,People\n\
         Warm spaces,Libraries as warm spaces,Sam Patel; Priya Shah\n\
         Street lights,Smart street lighting,Alex Jones\n",
    );
    let mapping = council.file(
        "projects.toml",
        "kind = \"experiment\"\nlist_separator = \";\"\n[columns]\ntitle = \"Project\"\nsummary = \"What\"\ncontacts = \"People\"\n",
    );
    let report = council
        .run(&[
            "import",
            csv.to_str().unwrap(),
            "--map",
            mapping.to_str().unwrap(),
            "--json",
        ])
        .code(3)
        .json();
    let rejected = report["rejected"][0]["reason"].as_str().unwrap();
    assert!(
        rejected.contains("2 practitioners are called \"alex jones\""),
        "{report}"
    );
    let warm = council.search_addresses(&["warm", "spaces"]);
    let shown = council.run(&["show", &warm[0], "--json"]).ok().json();
    assert_eq!(
        shown["contacts"],
        serde_json::json!([sam, priya]),
        "{shown}"
    );
}

/// Regression (issue 11, friction 9): `similar` listed only records of the same kind, so an
/// experiment never showed its own lessons or people.
#[test]
fn similar_lists_an_experiments_lessons_and_people_beside_similar_experiments() {
    let home = Home::init("Example Borough Council");
    let sam = home.publish(
        "sam.toml",
        "kind = \"practitioner\"\nname = \"Sam Patel\"\n",
    );
    let fridge = home.publish(
        "fridge.toml",
        &format!("{EXPERIMENT}contacts = [\"{sam}\"]\n"),
    );
    let lesson = home.publish(
        "lesson.toml",
        &format!(
            "kind = \"lesson\"\ntitle = \"Clean the fridges daily\"\nsummary = \"Hygiene first\"\nabout = \"{fridge}\"\n"
        ),
    );
    let run = home.run(&["similar", &fridge]);
    assert!(
        run.stdout.contains(&format!(
            "related\tlesson\t{lesson}\tClean the fridges daily"
        )),
        "{run}"
    );
    assert!(
        run.stdout
            .contains(&format!("related\tpractitioner\t{sam}\tSam Patel")),
        "{run}"
    );
}

/// Issue 11, lineage: "adopted from" is shown on the copy, "adopted by" on the original, and
/// `lineage` shows the family of adaptations with their outcomes.
#[test]
fn history_lists_the_versions_held_with_what_each_changed() {
    let council = Home::init("Example Council");
    let draft = "kind = \"experiment\"\nslug = \"night-bus\"\ntitle = \"Night bus\"\nsummary = \"A late bus for shift workers\"\nstatus = \"running\"\ntags = [\"transport\"]\n";
    council.publish("bus.toml", draft);
    council.publish(
        "bus.toml",
        &format!("{draft}outcomes = \"Ridership doubled\"\n")
            .replace("running", "completed")
            .replace("[\"transport\"]", "[\"transport\", \"evaluation\"]"),
    );
    // Another node that first hears of the record at version 2 holds no version 1.
    let neighbour = Home::init("Neighbour Council");
    util::carry(&council, &neighbour);
    council.publish(
        "bus.toml",
        &format!("{draft}outcomes = \"Ridership doubled\"\n").replace("running", "completed"),
    );
    council
        .run(&["history", "night-bus"])
        .ok()
        .stdout_has("History of \"Night bus\"")
        .stdout_has("version 3")
        .stdout_has("latest")
        .stdout_has("tags: removed \"evaluation\"")
        .stdout_has("status: \"running\" → \"completed\"")
        .stdout_has("outcomes: added \"Ridership doubled\"")
        .stdout_has("(the oldest version held here)");
    let held = council.run(&["history", "night-bus", "--json"]).ok().json();
    let seqs: Vec<u64> = held["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|version| version["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 2, 1]);
    assert_eq!(held["earlier_not_held"], false);
    let address = held["address"].as_str().unwrap().to_string();
    let seen = neighbour.run(&["history", &address, "--json"]).ok().json();
    assert_eq!(seen["versions"].as_array().unwrap().len(), 1);
    assert_eq!(seen["earlier_not_held"], true);
    neighbour
        .run(&["history", &address])
        .ok()
        .stdout_has("Versions before 2 are not held here");

    // Through a running node, the same; and a retraction leaves only its tombstone.
    let node = crate::util::NodeProcess::start(&council);
    let through_node = council.run(&["history", "night-bus", "--json"]).ok().json();
    assert_eq!(through_node, held);
    council.run(&["retract", &address]).ok();
    council
        .run(&["history", &address])
        .ok()
        .stdout_has("version 4")
        .stdout_has("retracted");
    let after = council.run(&["history", &address, "--json"]).ok().json();
    assert_eq!(after["versions"].as_array().unwrap().len(), 1);
    node.stop();
    council
        .run(&["history", "no-such-record"])
        .code(2)
        .stderr_has("no-such-record");
}

#[test]
fn lineage_shows_what_an_experiment_was_adopted_from_and_by() {
    let (council, metro, district) = (
        Home::init("Example Borough Council"),
        Home::init("Example Metropolitan Council"),
        Home::init("Example District Council"),
    );
    let forums = council.publish(
        "forums.toml",
        "kind = \"experiment\"\ntitle = \"Ward forums\"\nsummary = \"Monthly ward meetings\"\nstatus = \"completed\"\noutcomes = \"Turnout doubled\"\n",
    );
    crate::util::carry(&council, &metro);
    let town_hall = metro.publish(
        "hall.toml",
        &format!("kind = \"experiment\"\ntitle = \"Virtual town hall\"\nsummary = \"Ward forums online\"\nstatus = \"running\"\nadopted_from = \"{forums}\"\n"),
    );
    crate::util::carry(&metro, &district);
    let surgeries = district.publish(
        "surgeries.toml",
        &format!("kind = \"experiment\"\ntitle = \"Online surgeries\"\nsummary = \"Councillor surgeries by video\"\nstatus = \"planned\"\nadopted_from = \"{town_hall}\"\n"),
    );
    crate::util::carry(&district, &council);
    council
        .run(&["show", &forums])
        .ok()
        .stdout_has(&format!("adopted by: Virtual town hall ({town_hall})"));
    let tree = council.run(&["lineage", &town_hall, "--json"]).ok().json();
    assert_eq!(tree["address"], forums.as_str());
    assert_eq!(tree["outcomes"], "Turnout doubled");
    assert_eq!(tree["adopted_by"][0]["address"], town_hall.as_str());
    assert_eq!(
        tree["adopted_by"][0]["adopted_by"][0]["address"],
        surgeries.as_str()
    );
    council
        .run(&["lineage", &town_hall])
        .ok()
        .stdout_has("Ward forums — Example Borough Council · completed")
        .stdout_has("└─ Virtual town hall — Example Metropolitan Council · running  ← this one")
        .stdout_has("└─ Online surgeries — Example District Council · planned");
}

/// Issue 11, "we're interested in this too": an organisation says so with a signed interest;
/// `cohort` (and `show`) lists who is interested and who is trying something like it.
#[test]
fn interest_and_cohort_show_who_shares_an_idea() {
    let (council, metro, district) = (
        Home::init("Example Borough Council"),
        Home::init("Example Metropolitan Council"),
        Home::init("Example District Council"),
    );
    let fridge = council.publish("fridge.toml", EXPERIMENT);
    for other in [&metro, &district] {
        crate::util::carry(&council, other);
    }
    metro
        .run(&["interest", &fridge, "--note", "piloting in 2027"])
        .ok()
        .stderr_has("1 organisations are now");
    district.run(&["interest", &fridge]).ok();
    let jo = district.publish("jo.toml", "kind = \"practitioner\"\nname = \"Jo Smith\"\n");
    let theirs = district.publish(
        "theirs.toml",
        &format!(
            "kind = \"experiment\"\ntitle = \"Community fridges in libraries\"\nsummary = \"Shared fridges in libraries where residents leave and take surplus food\"\nstatus = \"running\"\ncontacts = [\"{jo}\"]\n"
        ),
    );
    for other in [&metro, &district] {
        crate::util::carry(other, &council);
    }
    council
        .run(&["show", &fridge])
        .ok()
        .stdout_has("also interested: ");
    let cohort = council.run(&["cohort", &fridge, "--json"]).ok().json();
    let interested = cohort["interested"].as_array().unwrap();
    assert_eq!(interested.len(), 2, "{cohort}");
    assert!(
        interested
            .iter()
            .any(|each| each["name"] == "Example Metropolitan Council"
                && each["note"] == "piloting in 2027"),
        "{cohort}"
    );
    let trying = &cohort["trying"][0];
    assert_eq!(trying["address"], theirs.as_str(), "{cohort}");
    assert_eq!(trying["contacts"][0][1], "Jo Smith");
    // Withdrawn, it leaves the cohort.
    metro.run(&["interest", &fridge, "--withdraw"]).ok();
    crate::util::carry(&metro, &council);
    let cohort = council.run(&["cohort", &fridge, "--json"]).ok().json();
    assert_eq!(
        cohort["interested"].as_array().unwrap().len(),
        1,
        "{cohort}"
    );
}

/// Issue 11, following a topic: `watch add` saves a search; `news` lists what arrived since the
/// last look and matches it (once; `--peek` leaves it news); a running node serves the same as
/// an Atom feed.
#[test]
fn news_lists_what_arrived_on_a_followed_search_since_the_last_look() {
    let _turn = crate::util::turn();
    let home = Home::init("Example Council");
    home.publish("old.toml", EXPERIMENT);
    home.run(&["watch", "add", "fridge"])
        .ok()
        .stdout_has("fridge");
    home.run(&["news"])
        .code(1)
        .stderr_has("nothing new since the last look");
    home.publish(
        "schools.toml",
        "kind = \"experiment\"\ntitle = \"Fridge <&> schools\"\nsummary = \"Surplus food fridge at school gates\"\nstatus = \"idea\"\n",
    );
    home.publish(
        "drones.toml",
        "kind = \"experiment\"\ntitle = \"Drone surveys\"\nsummary = \"Roof surveys by drone\"\nstatus = \"idea\"\n",
    );
    let peeked = home.run(&["news", "--peek", "--json"]).ok().json();
    let found = peeked[0]["found"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{peeked}");
    assert_eq!(found[0]["title"], "Fridge <&> schools");
    home.run(&["news"])
        .ok()
        .stdout_has("fridge (\"fridge\"): 1 new or changed")
        .stdout_has("Fridge <&> schools");
    home.run(&["news"]).code(1);
    home.run(&["watch", "list"])
        .ok()
        .stdout_has("fridge\tfridge");

    // Through a running node, and as Atom for a feed reader.
    let node = crate::util::NodeProcess::start(&home);
    home.publish(
        "again.toml",
        "kind = \"experiment\"\ntitle = \"Fridge library\"\nsummary = \"Borrow a fridge\"\nstatus = \"idea\"\n",
    );
    home.run(&["news", "--peek"])
        .ok()
        .stdout_has("Fridge library");
    let api = home.api();
    let feed = crate::util::http(
        &api,
        &format!("GET /v1/watches/fridge/atom HTTP/1.1\r\nHost: {api}"),
        b"",
    );
    assert_eq!(feed.status, 200, "{}", feed.body);
    assert!(
        feed.header("content-type")
            .unwrap()
            .starts_with("application/atom+xml")
    );
    assert!(
        feed.body
            .contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">")
    );
    assert!(
        feed.body
            .contains("<title>Fridge &lt;&amp;&gt; schools</title>"),
        "{}",
        feed.body
    );
    assert!(feed.body.contains("<title>Fridge library</title>"));
    assert!(!feed.body.contains("Drone"));
    let missing = crate::util::http(
        &api,
        &format!("GET /v1/watches/nothing/atom HTTP/1.1\r\nHost: {api}"),
        b"",
    );
    assert_eq!(missing.status, 400);
    home.run(&["watch", "remove", "fridge"]).ok();
    home.run(&["watch", "list"]).code(1);
    node.stop();
}

/// A running node commits its search index only before a search and once quiet (so gossip is
/// forwarded without waiting for a commit). A record published through it and then lost to
/// `kill -9` before any commit is still found: the index catches up from the store on open.
#[test]
fn a_record_published_just_before_kill_9_is_found_though_the_index_was_not_committed() {
    let _turn = crate::util::turn();
    let home = Home::init("Deferred Index Council");
    let node = crate::util::NodeProcess::start(&home);
    let address = home.publish(
        "late.toml",
        "kind = \"experiment\"\ntitle = \"Lantern repair cafe\"\nsummary = \"Fixing street lanterns together\"\n",
    );
    // Well inside the second of quiet before the node would commit on its own.
    node.kill_9();
    let found = home.search_addresses(&["lantern"]);
    assert_eq!(found, vec![address]);
}
