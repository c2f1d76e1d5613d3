//! Gossip intake latency while the store is busy with long jobs.
//!
//! Starts a node in this process, then, while a record from "the network" is offered to the
//! store every 20 ms (as gossip offers them) and the time until its verdict is measured:
//! 1. nothing else runs (the baseline),
//! 2. a 100,000-record JSON Lines import arrives through the local API (as `convene import`
//!    sends it: 2,000 lines per request),
//! 3. a full reindex of those records runs through the local API.
//!
//! Prints a Markdown table for `docs/benchmarks.md`: the intake latency under load as a ratio to
//! the idle baseline measured in the same process. `CONVENE_BENCH_RECORDS` sets the import size.
//! Run: `cargo bench -p convene-node --bench intake`.

use std::time::{Duration, Instant};

use convene_node::daemon::{Daemon, RunOptions};
use convene_node::{ExportLine, Home, Source};
use convene_protocol::{Content, Identity, Lesson, Record, Slug};

/// How often a gossip record is offered.
const EVERY: Duration = Duration::from_millis(20);

fn lesson(identity: &Identity, n: usize, now: i64) -> Record {
    let content = Content::Lesson(Lesson {
        title: format!("Lesson number {n} on pothole reporting"),
        summary: format!("What we learned from attempt {n} at reporting potholes online"),
        body: Some("Residents used the map more than the form; text alerts helped.".into()),
        tags: vec!["potholes".into(), "service design".into()],
        ..Lesson::default()
    });
    Record::sign(
        identity,
        Slug::new(&format!("l{n}")).unwrap(),
        1,
        now,
        content,
    )
    .unwrap()
}

/// Offers one fresh record every [`EVERY`] until `done` says stop; returns the latencies.
async fn offer_while(
    daemon: &Daemon,
    identity: &Identity,
    first: usize,
    done: tokio::sync::watch::Receiver<bool>,
) -> Vec<Duration> {
    let now = convene_node::now() - 60;
    let mut latencies = Vec::new();
    let mut n = first;
    while !*done.borrow() {
        let bytes = lesson(identity, n, now).bytes().to_vec();
        n += 1;
        let start = Instant::now();
        let verdicts = daemon
            .store()
            .ingest(vec![bytes], Source::Gossip)
            .await
            .unwrap();
        latencies.push(start.elapsed());
        assert_eq!(verdicts.len(), 1);
        tokio::time::sleep(EVERY).await;
    }
    latencies
}

fn summary(mut latencies: Vec<Duration>) -> (usize, Duration, Duration, Duration) {
    latencies.sort();
    let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    (
        latencies.len(),
        at(0.5),
        at(0.99),
        *latencies.last().unwrap(),
    )
}

fn post(api: &str, token: &str, path: &str, body: &[u8]) -> Duration {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(true)
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into();
    let start = Instant::now();
    agent
        .post(format!("http://{api}/v1{path}"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/octet-stream")
        .send(body)
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    start.elapsed()
}

fn main() {
    let count: usize = std::env::var("CONVENE_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    eprintln!("signing {count} records…");
    let importer = Identity::from_secret([1; 32]);
    let now = convene_node::now() - 3_600;
    let lines: Vec<Vec<u8>> = (0..count)
        .map(|n| {
            let mut line = serde_json::to_vec(&ExportLine::of(&lesson(&importer, n, now))).unwrap();
            line.push(b'\n');
            line
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let home = Home::init(&dir.path().join("home"), Some("Bench council".into())).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let daemon = Daemon::start(&home, RunOptions::loopback()).await.unwrap();
        let api = daemon.api_addr().to_string();
        let token = std::fs::read_to_string(home.dir().join("api.token")).unwrap();
        let token = token.trim().to_string();
        let gossiper = Identity::from_secret([2; 32]);

        // 1. Idle.
        let (stop, done) = tokio::sync::watch::channel(false);
        let timer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let _ = stop.send(true);
        });
        let idle = offer_while(&daemon, &gossiper, 0, done).await;
        timer.await.unwrap();

        // 2. During the import.
        let (stop, done) = tokio::sync::watch::channel(false);
        let (api2, token2) = (api.clone(), token.clone());
        let import = tokio::task::spawn_blocking(move || {
            let start = Instant::now();
            let mut slowest = Duration::ZERO;
            for (i, chunk) in lines.chunks(2_000).enumerate() {
                let body: Vec<u8> = chunk.concat();
                let path = format!("/import/jsonl?first_line={}&dry_run=false", i * 2_000 + 1);
                slowest = slowest.max(post(&api2, &token2, &path, &body));
            }
            let _ = stop.send(true);
            (start.elapsed(), slowest)
        });
        let busy = offer_while(&daemon, &gossiper, 1_000_000, done).await;
        let (import_time, slowest_request) = import.await.unwrap();

        // 3. During a reindex.
        let (stop, done) = tokio::sync::watch::channel(false);
        let reindex = tokio::task::spawn_blocking(move || {
            let took = post(&api, &token, "/reindex", b"{}");
            let _ = stop.send(true);
            took
        });
        let reindexing = offer_while(&daemon, &gossiper, 2_000_000, done).await;
        let reindex_time = reindex.await.unwrap();
        daemon.shutdown().await.unwrap();

        let (n0, p50_0, p99_0, max0) = summary(idle);
        let (n1, p50_1, p99_1, max1) = summary(busy);
        let (n2, p50_2, p99_2, max2) = summary(reindexing);
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        let ratio = |d: Duration| format!("{:.0}×", d.as_secs_f64() / p99_0.as_secs_f64());
        println!(
            "Import of {count} records through the API: {:.1} s (slowest 2,000-line request {}); \
             reindex: {:.1} s\n",
            import_time.as_secs_f64(),
            ms(slowest_request),
            reindex_time.as_secs_f64()
        );
        println!("| gossip intake, one record | offered | p50 | p99 | max | p99 ÷ idle p99 |");
        println!("|---|---:|---:|---:|---:|---:|");
        for (name, n, p50, p99, max) in [
            ("idle (baseline)", n0, p50_0, p99_0, max0),
            ("during the import", n1, p50_1, p99_1, max1),
            ("during the reindex", n2, p50_2, p99_2, max2),
        ] {
            println!(
                "| {name} | {n} | {} | {} | {} | {} |",
                ms(p50),
                ms(p99),
                ms(max),
                ratio(p99)
            );
        }
    });
}
