//! The web page's search at scale: time to first byte of `/?q=…` from a running node, and the
//! page's weight, beside `Node::search` on the same queries in the same process.
//!
//! `cargo bench -p convene-node --bench pages` (`CONVENE_BENCH_RECORDS`, default 100,000)
//!
//! Imports the benchmark corpus into a home, runs the queries through `Node::search` (the
//! baseline: the index and snippets, no page) and through `Node::search_page` (what the page
//! gathers: also trust paths and facet counts, no HTML), then starts the node with its web listener and
//! asks each query as a browser would: a plain search, and the same with a facet filter
//! (`kind=experiment&region=…`). Each request is a new connection (as a first visit is); time
//! to first byte is from connecting to the first byte of the answer. Prints median, p99 and
//! max, the ratio of the page's median to the baseline's, and the pages' median and largest
//! size.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use convene_node::daemon::{Daemon, RunOptions};
use convene_node::search::Query;
use convene_node::{Home, Node, Source};

mod corpus;
use corpus::{REGIONS, Rng, Vocabulary, generate};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(what: &str, mut times: Vec<Duration>) -> Duration {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "| {what} | {:.2} | {:.2} | {:.2} |",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap())
    );
    percentile(&times, 0.5)
}

/// `%`-escapes everything but letters and digits.
fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One GET on a new connection: time to the first byte of the answer, and the body's size.
fn fetch(addr: &str, path: &str) -> (Duration, usize) {
    let started = Instant::now();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut first = [0u8; 1];
    stream.read_exact(&mut first).unwrap();
    let ttfb = started.elapsed();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    let text = String::from_utf8_lossy(&rest);
    assert!(text.starts_with("TTP/1.1 200"), "{path}: {}", &text[..80]);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(0, |(_, body)| body.len());
    (ttfb, body)
}

fn main() {
    let count: usize = std::env::var("CONVENE_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("home");
    Home::init(&path, Some("Benchmark Council".into())).unwrap();
    let home = Home::open(&path).unwrap();
    eprintln!("generating and importing {count} records…");
    let vocabulary = Vocabulary::new();
    let records = generate(count, &vocabulary);
    let mut node = Node::open(&home.data_dir()).unwrap();
    for chunk in records.chunks(10_000) {
        node.admit(chunk, Source::Import).unwrap();
    }
    node.close().unwrap();

    let mut rng = Rng(7);
    let queries: Vec<(String, &str)> = (0..200)
        .map(|n| {
            let text = match n % 3 {
                0 => vocabulary.word(&mut rng).to_string(),
                1 => vocabulary.text(&mut rng, 2, 2),
                _ => vocabulary.text(&mut rng, 3, 3),
            };
            (text, rng.pick(REGIONS))
        })
        .collect();

    // The baseline: the same searches through `Node::search`, a page's worth of results each.
    let node = Node::open(&home.data_dir()).unwrap();
    let mut baseline = Vec::new();
    for _ in 0..3 {
        for (text, _) in &queries {
            let started = Instant::now();
            node.search(&Query {
                text: text.clone(),
                limit: convene_node::pages::PAGE_RESULTS,
                ..Query::default()
            })
            .unwrap();
            baseline.push(started.elapsed());
        }
    }
    // What the page gathers (results, trust paths, facet counts), without HTML or HTTP.
    let mut gathered = Vec::new();
    for _ in 0..3 {
        for (text, _) in &queries {
            let started = Instant::now();
            node.search_page(
                &convene_node::pages::PageQuery {
                    q: Some(text.clone()),
                    ..Default::default()
                },
                convene_node::pages::Viewer::Visitor,
            )
            .unwrap();
            gathered.push(started.elapsed());
        }
    }
    // A record's page, for experiments: its fields, trust path, lessons, adoptions, the
    // organisations interested and similar work.
    let experiments: Vec<_> = records
        .iter()
        .filter(|r| r.header().kind == convene_protocol::Kind::Experiment)
        .step_by(97)
        .take(200)
        .map(|r| r.address())
        .collect();
    let mut record_pages = Vec::new();
    for address in &experiments {
        let started = Instant::now();
        node.record_page(address, convene_node::pages::Viewer::Visitor)
            .unwrap()
            .expect("an open record");
        record_pages.push(started.elapsed());
    }
    node.close().unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let daemon = runtime
        .block_on(Daemon::start(
            &home,
            RunOptions {
                web: Some("127.0.0.1:0".into()),
                ..RunOptions::loopback()
            },
        ))
        .unwrap();
    let web = runtime
        .block_on(daemon.status())
        .unwrap()
        .web
        .expect("the web listener");
    let (mut plain, mut filtered, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        for (text, region) in &queries {
            let (ttfb, size) = fetch(&web, &format!("/?q={}", escape(text)));
            plain.push(ttfb);
            sizes.push(size);
            let (ttfb, size) = fetch(
                &web,
                &format!(
                    "/?q={}&kind=experiment&region={}",
                    escape(text),
                    escape(&region.to_lowercase())
                ),
            );
            filtered.push(ttfb);
            sizes.push(size);
        }
    }
    runtime.block_on(daemon.shutdown()).unwrap();

    println!(
        "\n{count} records; {} queries (1–3 words, Zipf-distributed) × 3 rounds; each page on a \
         new connection\n",
        queries.len()
    );
    println!("| what | median ms | p99 ms | max ms |\n|---|---|---|---|");
    let base = report("`Node::search`, 20 results (baseline)", baseline);
    report(
        "`Node::search_page`: results, trust paths and facet counts",
        gathered,
    );
    report("`Node::record_page`, an experiment", record_pages);
    let page = report("search page `/?q=…`, time to first byte", plain);
    let page_filtered = report(
        "search page with kind + region filters, time to first byte",
        filtered,
    );
    sizes.sort_unstable();
    println!(
        "\npage ÷ baseline, median: {:.1} (filtered: {:.1}); page weight: median {:.1} KiB, \
         largest {:.1} KiB (HTML and its inline style; no scripts, images or other requests)",
        page.as_secs_f64() / base.as_secs_f64(),
        page_filtered.as_secs_f64() / base.as_secs_f64(),
        sizes[sizes.len() / 2] as f64 / 1024.0,
        *sizes.last().unwrap() as f64 / 1024.0
    );
}
