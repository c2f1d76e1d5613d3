//! Wider search across a network of local nodes: how long `search --wider` takes, beside a
//! search of the asking node's own index on the same queries.
//!
//! `cargo bench -p convene-node --bench wider [-- NODES RECORDS QUERIES]` (defaults 10, 1000,
//! 200)
//!
//! Starts NODES daemons in this process (real swarms on 127.0.0.1, real stores), each holding
//! RECORDS experiments of its own (a seeded mix of words), the first dialling all the others.
//! Once every link is up, it runs QUERIES two-word queries through the first node's local API
//! (as `convene search --wider` does), each asking the NODES-1 peers; and the same queries as a
//! plain search of the first node's index. Reports median, p99 and max of both.

use std::time::{Duration, Instant};

use convene_node::daemon::{Daemon, PeerEntry, RunOptions};
use convene_node::search::Query;
use convene_node::wider::{PeerOutcome, WiderQuery};
use convene_node::{Client, Directory, Home, Node, Source};
use convene_protocol::{Content, Experiment, Record, Slug, Status};

const WORDS: [&str; 24] = [
    "housing",
    "transport",
    "libraries",
    "youth",
    "energy",
    "solar",
    "digital",
    "inclusion",
    "mentoring",
    "volunteers",
    "food",
    "fridges",
    "policing",
    "drones",
    "health",
    "walking",
    "cycling",
    "schools",
    "data",
    "open",
    "budget",
    "parks",
    "heat",
    "loneliness",
];

/// A small seeded generator: the same records and queries on every run.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 as usize
    }

    fn word(&mut self) -> &'static str {
        WORDS[self.next() % WORDS.len()]
    }
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let nodes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let records: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let queries: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run(nodes.max(2), records, queries));
}

async fn run(nodes: usize, records: usize, queries: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut seeded = Seeded(0x9e37_79b9_7f4a_7c15);
    let mut daemons = Vec::new();
    for i in 0..nodes {
        let path = dir.path().join(format!("node{i}"));
        Home::init(&path, Some(format!("Org {i}"))).unwrap();
        // Only the links dialled here: the first node and each of the others.
        let config = std::fs::read_to_string(path.join("config.toml")).unwrap();
        let config = config
            .replace("# kademlia = true", "kademlia = false")
            // The benchmark asks far faster than a person would.
            .replace("# searches_per_minute = 30", "searches_per_minute = 100000");
        std::fs::write(path.join("config.toml"), config).unwrap();
        let home = Home::open(&path).unwrap();
        if i > 0 {
            let identity = home.identity().unwrap();
            let mut node = Node::open(&home.data_dir()).unwrap();
            let batch: Vec<Record> = (0..records)
                .map(|n| {
                    let (a, b, c) = (seeded.word(), seeded.word(), seeded.word());
                    Record::sign(
                        &identity,
                        Slug::new(&format!("pilot-{n}")).unwrap(),
                        1,
                        1_767_225_600,
                        Content::Experiment(Experiment {
                            title: format!("{a} and {b} pilot {n}"),
                            summary: format!("Trying {a} with {c} in org {i}"),
                            status: Status::Running,
                            tags: vec![b.into(), c.into()],
                            ..Experiment::default()
                        }),
                    )
                    .unwrap()
                })
                .collect();
            node.admit(&batch, Source::Own).unwrap();
            node.close().unwrap();
        }
        let daemon = Daemon::start(&home, RunOptions::loopback()).await.unwrap();
        daemons.push((home, daemon));
    }
    let first = &daemons[0].1;
    for (_, daemon) in daemons.iter().skip(1) {
        let ticket = daemon.status().await.unwrap().net.ticket;
        first
            .add_peer(PeerEntry::parse(&ticket).unwrap())
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while first.status().await.unwrap().net.peers.len() < nodes - 1 {
        assert!(Instant::now() < deadline, "the links did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the catch-up syncs on connecting finish before measuring.
    let total = (records * (nodes - 1)) as u64;
    while first.status().await.unwrap().counts.unwrap().live < total {
        assert!(Instant::now() < deadline, "the first sync did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "{nodes} nodes, {} records each, all linked to the first; {queries} queries",
        records
    );
    let home0 = daemons[0].0.dir().to_path_buf();
    let texts: Vec<String> = (0..queries)
        .map(|_| format!("{} {}", seeded.word(), seeded.word()))
        .collect();
    let (wider, local, answered) = tokio::task::spawn_blocking(move || {
        let client = Client::connect(&home0).expect("the first node's API");
        let mut wider = Vec::with_capacity(texts.len());
        let mut local = Vec::with_capacity(texts.len());
        let mut answered = 0usize;
        for text in &texts {
            let started = Instant::now();
            let found = client
                .wider_search(&WiderQuery {
                    text: text.clone(),
                    kind: None,
                    limit: 10,
                    wait_ms: 2_000,
                })
                .unwrap();
            wider.push(started.elapsed());
            answered += found
                .peers
                .iter()
                .filter(|p| matches!(p.outcome, PeerOutcome::Answered { .. }))
                .count();
            let started = Instant::now();
            client
                .search(&Query {
                    text: text.clone(),
                    limit: 10,
                    ..Query::default()
                })
                .unwrap();
            local.push(started.elapsed());
        }
        (wider, local, answered)
    })
    .await
    .unwrap();
    let report = |what: &str, mut times: Vec<Duration>| {
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "{what:<28} median {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            times.last().unwrap().as_secs_f64() * 1e3
        );
        at(0.5)
    };
    let wider_median = report(&format!("wider search ({} peers)", nodes - 1), wider);
    let local_median = report("local search (same node)", local);
    println!(
        "peers answering: {:.1}%   wider ÷ local median: {:.1}",
        100.0 * answered as f64 / (queries * (nodes - 1)) as f64,
        wider_median.as_secs_f64() / local_median.as_secs_f64()
    );
    for (_, daemon) in daemons {
        daemon.shutdown().await.unwrap();
    }
}
