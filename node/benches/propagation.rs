//! How long a record takes to reach every node of a 20-node network on loopback.
//!
//! `cargo bench -p convene-node --bench propagation [-- NODES ROUNDS [closed]]`
//!
//! With `closed`, Kademlia is off: nodes keep only the links dialled here, so records travel
//! several hops (gossip forwards only after each hop's durable commit).
//!
//! Starts NODES daemons in this process (real swarms on 127.0.0.1, real stores), wires them in a
//! sparse random graph (each node dials its parent in a binary tree plus one random earlier
//! node; Kademlia may add links), waits for the gossip mesh, then publishes ROUNDS records from
//! random nodes. For each record: the time from the publish call until every other node has it
//! durably stored (and the time to the median node). Reports the median and max over rounds.

use std::time::{Duration, Instant};

use convene_node::daemon::{Daemon, PeerEntry, RunOptions};
use convene_node::{Draft, DraftFormat, Home};
use tokio::sync::broadcast;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let nodes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let closed = args.next().is_some_and(|a| a == "closed");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run(nodes, rounds, closed));
}

fn random(below: usize) -> usize {
    let mut bytes = [0; 8];
    getrandom::fill(&mut bytes).unwrap();
    (u64::from_le_bytes(bytes) % below as u64) as usize
}

async fn run(nodes: usize, rounds: usize, closed: bool) {
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
        daemons.push((home, daemon));
    }
    eprintln!("{nodes} nodes started");
    let tickets: Vec<String> = tickets_of(&daemons).await;
    let mut links = 0;
    for (i, (_, daemon)) in daemons.iter().enumerate().skip(1) {
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
        for (_, daemon) in &daemons {
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

    let mut all = Vec::new();
    let mut median_node = Vec::new();
    for round in 0..rounds {
        let mut receivers: Vec<broadcast::Receiver<_>> =
            daemons.iter().map(|(_, d)| d.store().subscribe()).collect();
        let publisher = random(nodes);
        let (home, daemon) = &daemons[publisher];
        let author = home.identity().unwrap().author();
        let text = format!(
            "kind = \"experiment\"\ntitle = \"Propagation round {round}\"\nsummary = \"Timing how fast news travels\"\n"
        );
        let draft = Draft::parse(&text, DraftFormat::Toml, "bench", &author).unwrap();
        let start = Instant::now();
        let record = daemon.publish(draft).await.unwrap().record;
        let id = record.id();
        let mut arrivals = Vec::new();
        for (i, receiver) in receivers.iter_mut().enumerate() {
            if i == publisher {
                continue;
            }
            let arrived = tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    match receiver.recv().await {
                        Ok(stored) if stored == id => return start.elapsed(),
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => panic!("node stopped"),
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("round {round}: node {i} never got the record"));
            arrivals.push(arrived);
        }
        arrivals.sort();
        all.push(*arrivals.last().unwrap());
        median_node.push(arrivals[arrivals.len() / 2]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    all.sort();
    median_node.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "time for a record to reach all {} other nodes over {rounds} records: median {:.1} ms, max {:.1} ms",
        nodes - 1,
        ms(all[all.len() / 2]),
        ms(*all.last().unwrap())
    );
    println!(
        "time to reach half the nodes: median {:.1} ms, max {:.1} ms",
        ms(median_node[median_node.len() / 2]),
        ms(*median_node.last().unwrap())
    );
    let (mean, max) = connections(&daemons).await;
    println!("at the end: {mean:.1} connections per node (max {max})");
    for (_, daemon) in daemons {
        daemon.shutdown().await.unwrap();
    }
}

/// Connections per node: the mean and the most any node has.
async fn connections(daemons: &[(Home, Daemon)]) -> (f64, usize) {
    let mut total = 0;
    let mut max = 0;
    for (_, daemon) in daemons {
        let peers = daemon.status().await.unwrap().net.peers.len();
        total += peers;
        max = max.max(peers);
    }
    (total as f64 / daemons.len() as f64, max)
}

async fn tickets_of(daemons: &[(Home, Daemon)]) -> Vec<String> {
    let mut tickets = Vec::new();
    for (_, daemon) in daemons {
        tickets.push(daemon.status().await.unwrap().net.ticket);
    }
    tickets
}
