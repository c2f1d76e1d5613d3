//! Ingest and search benchmark.
//!
//! Generates N signed records (default 100,000; `CONVENE_BENCH_RECORDS` overrides), then measures
//! in one process:
//! - verifying their signatures alone on one thread (the baseline),
//! - importing them through the real path: parse → verify (all cores) → redb → tantivy,
//! - search latency through `Node::search` (snippets and all) beside the same queries on a bare
//!   tantivy index of the same text, built as tantivy's documentation shows (parse, top 10, load
//!   the 10 documents), and beside Convene's own index and query run on tantivy directly.
//!
//! Prints a Markdown report for `docs/benchmarks.md`. Run: `cargo bench -p convene-node`.

use std::io::Cursor;
use std::time::{Duration, Instant};

use convene_node::search::Query;
use convene_node::{ExportLine, NoProgress, Node};
use convene_protocol::Kind;
use ed25519_dalek::{Signature, VerifyingKey};
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::Value;

mod corpus;
use corpus::{Rng, Vocabulary, generate};

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let meta = e.metadata().unwrap();
                    if meta.is_dir() {
                        dir_size(&e.path())
                    } else {
                        meta.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// A tantivy index of the records' text as tantivy's documentation builds one: `TEXT` fields
/// (the default tokenizer, with positions) for title, summary, body and tags.
struct BareIndex {
    index: tantivy::Index,
    reader: tantivy::IndexReader,
    text: [tantivy::schema::Field; 4],
    address: tantivy::schema::Field,
}

impl BareIndex {
    fn build(dir: &std::path::Path, records: &[convene_protocol::Record]) -> BareIndex {
        use convene_protocol::Content;
        use tantivy::schema::{STORED, STRING, Schema, TEXT};
        let mut builder = Schema::builder();
        let text =
            ["title", "summary", "body", "topics"].map(|name| builder.add_text_field(name, TEXT));
        let address = builder.add_text_field("address", STRING | STORED);
        let index = tantivy::Index::create_in_dir(dir, builder.build()).unwrap();
        let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 64 << 20).unwrap();
        let [title, summary, body, topics] = text;
        for record in records {
            let Some(content) = record.content() else {
                continue;
            };
            let mut doc = tantivy::TantivyDocument::default();
            doc.add_text(address, record.address().to_string());
            doc.add_text(title, content.title());
            let mut add = |field, value: &Option<String>| {
                if let Some(value) = value {
                    doc.add_text(field, value);
                }
            };
            let tags = match content {
                Content::Experiment(e) => {
                    add(summary, &Some(e.summary.clone()));
                    add(body, &e.description);
                    add(body, &e.outcomes);
                    &e.tags
                }
                Content::Practitioner(p) => {
                    add(summary, &p.role);
                    add(body, &p.bio);
                    &p.expertise
                }
                Content::Lesson(l) => {
                    add(summary, &Some(l.summary.clone()));
                    for value in [&l.body, &l.worked, &l.didnt_work, &l.recommendation] {
                        add(body, value);
                    }
                    &l.tags
                }
                _ => continue,
            };
            for tag in tags {
                doc.add_text(topics, tag);
            }
            writer.add_document(doc).unwrap();
        }
        writer.commit().unwrap();
        writer.wait_merging_threads().unwrap();
        let reader = index.reader().unwrap();
        BareIndex {
            index,
            reader,
            text,
            address,
        }
    }
}

/// Lines the import admits at once (`transfer.rs` reads in chunks of this many).
const IMPORT_CHUNK: usize = 1_024;

/// CPU time this process has used, all threads (from /proc; 10 ms resolution).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Loads the top ten hits of `query` as a search would, and returns something of them so the
/// work is not optimised away.
fn top_ten_of(
    reader: &tantivy::IndexReader,
    address: tantivy::schema::Field,
    query: &dyn tantivy::query::Query,
) -> usize {
    let searcher = reader.searcher();
    let top = searcher
        .search(query, &TopDocs::with_limit(10).order_by_score())
        .unwrap();
    top.into_iter()
        .map(|(_, doc)| {
            let doc: tantivy::TantivyDocument = searcher.doc(doc).unwrap();
            doc.get_first(address)
                .and_then(|v| v.as_str().map(str::len))
                .unwrap_or(0)
        })
        .sum::<usize>()
}

/// Search latencies of one node's index, each list sorted.
struct SearchTimes {
    /// Bare tantivy with its own index and query parser.
    bare: Vec<Duration>,
    /// Convene's index and query, run on tantivy directly.
    engine: Vec<Duration>,
    /// `Node::search`.
    ours: Vec<Duration>,
    /// `Node::search` by kind of query: one word, two, three, a quoted two-word phrase.
    by_kind: [Vec<Duration>; 4],
    /// `Node::search` with kind and region filters.
    filtered: Vec<Duration>,
}

impl SearchTimes {
    fn measure(node: &Node, queries: &[String], bare: &dyn Fn(&str) -> usize) -> SearchTimes {
        let (index, reader) = node.index().raw_tantivy();
        let address = index.schema().get_field("address").unwrap();
        // The engine alone on Convene's index and the query `Node::search` builds: what the
        // API adds is the rest.
        let engine = |text: &str| top_ten_of(reader, address, &*node.index().raw_text_query(text));
        let ours = |text: &str| {
            node.search(&Query {
                text: text.to_string(),
                limit: 10,
                ..Query::default()
            })
            .unwrap()
            .len()
        };
        // Warm every path, then time them interleaved so machine noise hits all alike.
        for query in queries {
            bare(query);
            engine(query);
            ours(query);
        }
        let mut times = SearchTimes {
            bare: Vec::new(),
            engine: Vec::new(),
            ours: Vec::new(),
            by_kind: Default::default(),
            filtered: Vec::new(),
        };
        for _round in 0..5 {
            for (n, query) in queries.iter().enumerate() {
                let start = Instant::now();
                std::hint::black_box(bare(query));
                times.bare.push(start.elapsed());
                let start = Instant::now();
                std::hint::black_box(engine(query));
                times.engine.push(start.elapsed());
                let start = Instant::now();
                std::hint::black_box(ours(query));
                times.ours.push(start.elapsed());
                times.by_kind[n % 4].push(start.elapsed());
            }
        }
        for query in queries {
            let start = Instant::now();
            std::hint::black_box(
                node.search(&Query {
                    text: query.clone(),
                    kind: Some(Kind::Experiment),
                    region: Some("Yorkshire".into()),
                    limit: 10,
                    ..Query::default()
                })
                .unwrap(),
            );
            times.filtered.push(start.elapsed());
        }
        times.bare.sort();
        times.engine.sort();
        times.ours.sort();
        times.by_kind.iter_mut().for_each(|kind| kind.sort());
        times.filtered.sort();
        times
    }

    /// Prints the report's search lines; `when` names the index's state ("" or a suffix).
    fn print(&self, when: &str) {
        let ms = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1_000.0);
        let median_p99 = |times: &[Duration]| {
            format!(
                "{} / {}",
                ms(percentile(times, 0.5)),
                ms(percentile(times, 0.99))
            )
        };
        println!(
            "| search, bare tantivy index with its query parser{when}: median / p99 | {} |",
            median_p99(&self.bare)
        );
        println!(
            "| search, Convene's index and query on bare tantivy{when}: median / p99 | {} |",
            median_p99(&self.engine)
        );
        println!(
            "| search, `Node::search`{when}: median / p99 | {} |",
            median_p99(&self.ours)
        );
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .map(|times| {
                format!(
                    "{:.2} / {:.1}",
                    percentile(times, 0.5).as_secs_f64() * 1_000.0,
                    percentile(times, 0.99).as_secs_f64() * 1_000.0
                )
            })
            .collect();
        println!(
            "| `Node::search` by query{when}, median / p99 in ms: one word; two words; three words; a quoted two-word phrase | {} |",
            kinds.join("; ")
        );
        let our_median = percentile(&self.ours, 0.5).as_secs_f64();
        println!(
            "| `Node::search` ÷ bare tantivy, query parser (median){when} | **{:.2}** (aim ≤ 1.2) |",
            our_median / percentile(&self.bare, 0.5).as_secs_f64()
        );
        println!(
            "| `Node::search` ÷ bare tantivy, same query (median){when} | **{:.2}** (aim ≤ 1.2) |",
            our_median / percentile(&self.engine, 0.5).as_secs_f64()
        );
        println!(
            "| search with kind + region filters{when}: median / p99 | {} |",
            median_p99(&self.filtered)
        );
    }
}

fn main() {
    let count: usize = std::env::var("CONVENE_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    eprintln!("generating {count} signed records…");
    let vocabulary = Vocabulary::new();
    let records = generate(count, &vocabulary);
    let export: Vec<u8> = records
        .iter()
        .flat_map(|r| {
            let mut line = serde_json::to_vec(&ExportLine::of(r)).unwrap();
            line.push(b'\n');
            line
        })
        .collect();

    // Baseline: the signatures alone, one thread.
    let prepared: Vec<(VerifyingKey, Signature, &[u8])> = records
        .iter()
        .map(|r| {
            let bytes = r.bytes();
            let (signed, signature) = bytes.split_at(bytes.len() - 64);
            let key = VerifyingKey::from_bytes(r.header().author.as_bytes()).unwrap();
            (key, Signature::from_slice(signature).unwrap(), signed)
        })
        .collect();
    let start = Instant::now();
    for (key, signature, signed) in &prepared {
        key.verify_strict(signed, signature).unwrap();
    }
    let verify = start.elapsed();

    // Each stage of the import alone, on the same records: parsing the lines (one thread),
    // storing them in the import's batches (admission and a durable commit each, no index),
    // and indexing them (one commit at the end). With the verification above, their CPU time
    // says how fast two cores could import at best.
    let cpu_before = cpu_time();
    let start = Instant::now();
    let mut parsed = 0;
    for line in export
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
    {
        let line: ExportLine = serde_json::from_slice(line).unwrap();
        parsed += base64::Engine::decode(&base64::engine::general_purpose::STANDARD, line.record)
            .unwrap()
            .len();
    }
    std::hint::black_box(parsed);
    let parse = (start.elapsed(), cpu_time() - cpu_before);
    let stage_dir = tempfile::tempdir().unwrap();
    let mut stage = Node::create(&stage_dir.path().join("store")).unwrap();
    let cpu_before = cpu_time();
    let start = Instant::now();
    let chunks = records.len().div_ceil(IMPORT_CHUNK);
    for (n, chunk) in records.chunks(IMPORT_CHUNK).enumerate() {
        stage
            .store_only_for_benchmarks(chunk, n + 1 == chunks)
            .unwrap();
    }
    let store = (start.elapsed(), cpu_time() - cpu_before);
    drop(stage);
    let mut stage = Node::create(&stage_dir.path().join("index")).unwrap();
    let cpu_before = cpu_time();
    let start = Instant::now();
    for chunk in records.chunks(IMPORT_CHUNK) {
        stage.index_only_for_benchmarks(chunk, false).unwrap();
    }
    stage.index_only_for_benchmarks(&[], true).unwrap();
    let index_stage = (start.elapsed(), cpu_time() - cpu_before);
    stage.close().unwrap();
    drop(stage_dir);

    // The real import path into a fresh node.
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::create(dir.path()).unwrap();
    eprintln!("importing…");
    let start = Instant::now();
    let report = node
        .import_jsonl(
            &mut Cursor::new(export.clone()),
            false,
            convene_node::now(),
            &NoProgress,
        )
        .unwrap();
    let import = start.elapsed();
    assert_eq!(
        report.stored as usize,
        count,
        "{:?}",
        report.rejected.first()
    );
    // As `convene import` does before it exits: let the index finish merging its segments.
    let start = Instant::now();
    node.close().unwrap();
    let close = start.elapsed();
    let node = Node::create(dir.path()).unwrap();
    assert_eq!(node.index().num_docs() as usize, count);

    // Search latency: our API against bare tantivy on the same index.
    let mut rng = Rng(42);
    // Queries draw their words from the same distribution as the text: people search for
    // common topics more often than rare ones.
    let queries: Vec<String> = (0..200)
        .map(|n| match n % 4 {
            0 => vocabulary.word(&mut rng).to_string(),
            1 => vocabulary.text(&mut rng, 2, 2),
            2 => vocabulary.text(&mut rng, 3, 3),
            _ => format!("\"{}\"", vocabulary.text(&mut rng, 2, 2)),
        })
        .collect();
    let bare_dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let bare_index = BareIndex::build(bare_dir.path(), &records);
    let bare_build = start.elapsed();
    let [title, summary, body, topics] = bare_index.text;
    let mut parser = QueryParser::for_index(&bare_index.index, vec![title, summary, body, topics]);
    parser.set_field_boost(title, 3.0);
    parser.set_field_boost(topics, 2.0);
    parser.set_field_boost(summary, 1.5);
    // Bare tantivy as its documentation shows it: its own index of the same text (default
    // tokenizer, positions) and its query parser over the same fields.
    let bare = |text: &str| {
        top_ten_of(
            &bare_index.reader,
            bare_index.address,
            &*parser.parse_query_lenient(text).0,
        )
    };
    let imported = SearchTimes::measure(&node, &queries, &bare);
    let verify_rate = per_second(count, verify);
    let import_rate = per_second(count, import);
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| records | {count} ({:.1} MiB of JSON Lines) |",
        export.len() as f64 / 1_048_576.0
    );
    println!(
        "| verify signatures alone, 1 thread (baseline) | {verify_rate:.0} records/s ({:.2} s) |",
        verify.as_secs_f64()
    );
    println!(
        "| import: parse, verify, store, index | {import_rate:.0} records/s ({:.2} s) |",
        import.as_secs_f64()
    );
    println!(
        "| import ÷ baseline | **{:.2}** (aim ≥ 0.33) |",
        import_rate / verify_rate
    );
    let stage_line = |what: &str, (wall, cpu): (Duration, Duration)| {
        println!(
            "| stage alone: {what}: time (CPU) | {:.2} s ({:.2} s) |",
            wall.as_secs_f64(),
            cpu.as_secs_f64()
        );
    };
    stage_line("parse the lines, 1 thread", parse);
    stage_line("verify, 1 thread (the baseline)", (verify, verify));
    stage_line(
        "store, batches of 1,024 (a durable commit every 32), no index",
        store,
    );
    stage_line("index, one commit at the end", index_stage);
    // Two cores do at most twice a core's work, and no faster than the slowest stage, which
    // runs on one thread (store) or one writer thread (index).
    let cpu_total = parse.1 + verify + store.1 + index_stage.1;
    let limit = (cpu_total / 2).max(store.0).max(index_stage.0);
    println!(
        "| two-core limit these imply (max of CPU ÷ 2 and the slowest stage) | {:.0} records/s ({:.2} s) |",
        count as f64 / limit.as_secs_f64(),
        limit.as_secs_f64()
    );
    println!(
        "| import ÷ two-core limit | **{:.2}** (aim ≥ 0.8) |",
        limit.as_secs_f64() / import.as_secs_f64()
    );
    println!(
        "| then closing (index segment merges) | {:.2} s |",
        close.as_secs_f64()
    );
    println!(
        "| index segments after import, before merging | {} |",
        node.index().segment_count()
    );
    println!(
        "| store size / index size | {:.1} MiB / {:.1} MiB |",
        std::fs::metadata(dir.path().join("store.redb"))
            .unwrap()
            .len() as f64
            / 1_048_576.0,
        dir_size(&dir.path().join("index")) as f64 / 1_048_576.0
    );
    println!(
        "| bare tantivy index of the same text (default tokenizer, positions): build / size | {:.2} s / {:.1} MiB |",
        bare_build.as_secs_f64(),
        dir_size(bare_dir.path()) as f64 / 1_048_576.0
    );
    imported.print("");
    // As `convene import` ends a bulk import: the index merged into one segment.
    let mut node = node;
    let segments = node.index().segment_count();
    let start = Instant::now();
    node.merge_index_after_bulk(count as u64, &NoProgress)
        .unwrap();
    let merge = start.elapsed();
    println!(
        "| then merging the index into one segment, as `convene import` ends: time; segments; index size | {:.1} s; {segments} → {}; {:.1} MiB |",
        merge.as_secs_f64(),
        node.index().segment_count(),
        dir_size(&dir.path().join("index")) as f64 / 1_048_576.0
    );
    SearchTimes::measure(&node, &queries, &bare).print(" after the merge");
    // Store size per byte of record, as the import left it and after `convene compact`.
    let record_bytes: u64 = records.iter().map(|r| r.bytes().len() as u64).sum();
    let start = Instant::now();
    let (written, compacted) = node.compact().unwrap().store_bytes;
    let compaction = start.elapsed();
    println!(
        "| store bytes per record byte: as imported / after `convene compact` | {:.2} / **{:.2}** (aim ≤ 1.5; compaction took {:.1} s) |",
        written as f64 / record_bytes as f64,
        compacted as f64 / record_bytes as f64,
        compaction.as_secs_f64()
    );
    println!();
    println!(
        "{} queries (1–3 words or a 2-word phrase, Zipf-distributed like the text) × 5 rounds, \
         interleaved; top 10 hits each.",
        queries.len()
    );
}
