//! How long a record takes to reach every node of a network of daemons on loopback.
//!
//! `cargo bench -p convene-node --bench propagation [-- NODES ROUNDS [closed] [dropout]]`
//! (20 nodes and 30 rounds unless told).
//!
//! With `closed`, Kademlia is off: nodes keep only the links dialled here, so records travel
//! several hops (gossip forwards each record once its hop has stored it durably). With
//! `dropout`, a tenth of the nodes (chosen at random, never the next publisher) shut down half
//! way through, and the rounds after that are timed to the nodes still running.
//!
//! Starts NODES daemons in this process (real swarms on 127.0.0.1, real stores), wires them in a
//! sparse random graph (each node dials its parent in a binary tree plus one random earlier
//! node; Kademlia may add links), waits for the gossip mesh, then publishes ROUNDS records from
//! random nodes. For each record: how long the publish call took, and the time from the publish
//! call until the first other node, half of them and all of them have it durably stored.
//! Reports the median, p99 and max over rounds, and the copies of each record that gossip
//! delivered to each node (gossipsub's own count, duplicates included).

use std::time::{Duration, Instant};

use convene_node::daemon::{Daemon, PeerEntry, RunOptions};
use convene_node::{Draft, DraftFormat, Home};
use tokio::sync::broadcast;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let mut numbers = args.iter().filter_map(|a| a.parse::<usize>().ok());
    let nodes = numbers.next().unwrap_or(20);
    let rounds = numbers.next().unwrap_or(30);
    let closed = args.iter().any(|a| a == "closed");
    let dropout = args.iter().any(|a| a == "dropout");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run(nodes, rounds, closed, dropout));
}

fn random(below: usize) -> usize {
    let mut bytes = [0; 8];
    getrandom::fill(&mut bytes).unwrap();
    (u64::from_le_bytes(bytes) % below as u64) as usize
}

/// One round's times, from the publish call.
struct Round {
    publish: Duration,
    first: Duration,
    half: Duration,
    all: Duration,
}

async fn run(nodes: usize, rounds: usize, closed: bool, dropout: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut daemons = Vec::new();
    let started = Instant::now();
    for i in 0..nodes {
        let path = dir.path().join(format!("node{i}"));
        let mut home = Home::init(&path, Some(format!("Org {i}"))).unwrap();
        if closed {
            let config = path.join("config.toml");
            let text = std::fs::read_to_string(&config).unwrap();
            std::fs::write(
                &config,
                text.replace("# kademlia = true", "kademlia = false"),
            )
            .unwrap();
            home = Home::open(&path).unwrap();
        }
        let daemon = Daemon::start(&home, RunOptions::loopback()).await.unwrap();
        daemons.push(Some((home, daemon)));
    }
    eprintln!("{nodes} nodes started");
    let tickets: Vec<String> = tickets_of(&daemons).await;
    let mut links = 0;
    for (i, node) in daemons.iter().enumerate().skip(1) {
        let (_, daemon) = node.as_ref().unwrap();
        let mut targets = vec![(i - 1) / 2, random(i)];
        targets.dedup();
        for target in targets {
            let entry = PeerEntry::parse(&tickets[target]).unwrap();
            daemon.add_peer(entry).await.unwrap();
            links += 1;
        }
    }
    eprintln!("{links} links added; waiting for the network to settle");
    // Wait until every node gossips with someone.
    loop {
        let mut ready = true;
        for (_, daemon) in daemons.iter().flatten() {
            let status = daemon.status().await.unwrap();
            ready &= status.net.peers.iter().any(|p| p.gossip);
        }
        if ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Heartbeats build the mesh.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (mean, max) = connections(&daemons).await;
    println!(
        "{nodes} nodes up in {:.1} s; {links} dialled links, {mean:.1} connections per node (max {max})",
        started.elapsed().as_secs_f64(),
    );
    if !closed {
        // Kademlia's lookups open connections; the spare ones close once past their grace
        // (30 s): measure the network as it runs, not as it starts.
        tokio::time::sleep(Duration::from_secs(40)).await;
        let (mean, max) = connections(&daemons).await;
        println!("after 40 s: {mean:.1} connections per node (max {max})");
    }

    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut publisher = random(nodes);
    for round in 0..rounds {
        if dropout && round == rounds / 2 {
            let mut dropped = 0;
            while dropped < nodes / 10 {
                let i = random(nodes);
                if i != publisher
                    && let Some((_, daemon)) = daemons[i].take()
                {
                    daemon.shutdown().await.unwrap();
                    dropped += 1;
                }
            }
            println!("{dropped} nodes shut down after round {round}");
        }
        let receivers: Vec<Option<broadcast::Receiver<_>>> = daemons
            .iter()
            .enumerate()
            .map(|(i, node)| {
                node.as_ref()
                    .filter(|_| i != publisher)
                    .map(|(_, daemon)| daemon.store().subscribe())
            })
            .collect();
        let (home, daemon) = daemons[publisher].as_ref().unwrap();
        let author = home.identity().unwrap().author();
        let text = format!(
            "kind = \"experiment\"\ntitle = \"Propagation round {round}\"\nsummary = \"Timing how fast news travels\"\n"
        );
        let draft = Draft::parse(&text, DraftFormat::Toml, "bench", &author).unwrap();
        let start = Instant::now();
        let record = daemon.publish(draft).await.unwrap().record;
        let publish = start.elapsed();
        let id = record.id();
        // Every receiver waits at once, so each arrival is timed when it happens.
        let waits = receivers
            .into_iter()
            .enumerate()
            .filter_map(|(i, receiver)| {
                let mut receiver = receiver?;
                Some(async move {
                    tokio::time::timeout(Duration::from_secs(30), async {
                        loop {
                            match receiver.recv().await {
                                Ok(stored) if stored == id => return start.elapsed(),
                                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                                Err(broadcast::error::RecvError::Closed) => panic!("node stopped"),
                            }
                        }
                    })
                    .await
                    .unwrap_or_else(|_| panic!("round {round}: node {i} never got the record"))
                })
            });
        let mut arrivals = futures::future::join_all(waits).await;
        arrivals.sort();
        let times = Round {
            publish,
            first: arrivals[0],
            half: arrivals[arrivals.len() / 2],
            all: *arrivals.last().unwrap(),
        };
        if dropout && round >= rounds / 2 {
            after.push(times);
        } else {
            before.push(times);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        publisher = loop {
            let next = random(nodes);
            if daemons[next].is_some() {
                break next;
            }
        };
    }
    report(&before, nodes - 1);
    if dropout {
        println!("after the dropout:");
        report(&after, nodes - 1 - nodes / 10);
    }
    let (mean, max) = connections(&daemons).await;
    println!("at the end: {mean:.1} connections per node (max {max})");
    let (mean, max) = copies(&daemons).await;
    println!("copies of each record received per node: mean {mean:.2}, most {max:.2}");
    for (_, daemon) in daemons.into_iter().flatten() {
        daemon.shutdown().await.unwrap();
    }
}

fn report(rounds: &[Round], others: usize) {
    if rounds.is_empty() {
        println!("no records timed");
        return;
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let line = |what: &str, pick: fn(&Round) -> Duration| {
        let mut times: Vec<Duration> = rounds.iter().map(pick).collect();
        times.sort();
        let p99 = times[(times.len() * 99).div_ceil(100) - 1];
        println!(
            "{what}: median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(times[times.len() / 2]),
            ms(p99),
            ms(*times.last().unwrap())
        );
    };
    println!("over {} records:", rounds.len());
    line("  the publish call", |r| r.publish);
    line("  to the first other node", |r| r.first);
    line("  to half the others", |r| r.half);
    line(&format!("  to all {others} others"), |r| r.all);
}

/// Connections per node: the mean and the most any node has.
async fn connections(daemons: &[Option<(Home, Daemon)>]) -> (f64, usize) {
    let mut total = 0;
    let mut max = 0;
    let mut running = 0;
    for (_, daemon) in daemons.iter().flatten() {
        running += 1;
        let peers = daemon.status().await.unwrap().net.peers.len();
        total += peers;
        max = max.max(peers);
    }
    (total as f64 / running as f64, max)
}

/// Copies received per record gossip brought, for each node still running: the mean and the
/// most any node received.
async fn copies(daemons: &[Option<(Home, Daemon)>]) -> (f64, f64) {
    let mut each = Vec::new();
    for (_, daemon) in daemons.iter().flatten() {
        let net = daemon.status().await.unwrap().net;
        if net.gossip_received > 0 {
            each.push(net.gossip_copies as f64 / net.gossip_received as f64);
        }
    }
    let mean = each.iter().sum::<f64>() / each.len().max(1) as f64;
    (mean, each.iter().copied().fold(0.0, f64::max))
}

async fn tickets_of(daemons: &[Option<(Home, Daemon)>]) -> Vec<String> {
    let mut tickets = Vec::new();
    for (_, daemon) in daemons.iter().flatten() {
        tickets.push(daemon.status().await.unwrap().net.ticket);
    }
    tickets
}
