//! Several real `convene node run` processes on 127.0.0.1 (mDNS off) forming one directory.
//!
//! These tests start many processes; they take turns (one federation test at a time) so that
//! their time limits measure the nodes, not the machine's crowding.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use convene_protocol::{Content, Identity, Record, Slug};

use crate::util::{Home, NodeProcess, held, peer_id, status, ticket, turn, wait_until};

/// A misbehaving node in this process (it can gossip bytes without checking them) that
/// `victim` adds as a peer: its home (kept alive), runtime, daemon and peer id.
pub(crate) fn attacker_joins(
    victim: &Home,
) -> (
    tempfile::TempDir,
    tokio::runtime::Runtime,
    convene_node::daemon::Daemon,
    String,
) {
    let dir = tempfile::tempdir().unwrap();
    let home = convene_node::Home::init(dir.path(), None).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let attacker = runtime
        .block_on(convene_node::daemon::Daemon::start(
            &home,
            convene_node::daemon::RunOptions::loopback(),
        ))
        .unwrap();
    let status = runtime.block_on(attacker.status()).unwrap();
    victim.run(&["peers", "add", &status.net.ticket]).ok();
    (dir, runtime, attacker, status.net.peer_id)
}

fn connected(home: &Home, peer: &str) -> bool {
    peer_says(home, peer, "gossip")
}

/// `home`'s status shows `peer` with `flag` true.
fn peer_says(home: &Home, peer: &str, flag: &str) -> bool {
    status(home)["peers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["peer_id"] == peer && p[flag] == true)
}

/// `home` forwards gossip to `peer` at once: the peer is in its mesh.
fn meshed(home: &Home, peer: &str) -> bool {
    peer_says(home, peer, "mesh")
}

fn counts(home: &Home) -> (u64, u64) {
    let status = status(home);
    (
        status["counts"]["live"].as_u64().unwrap(),
        status["counts"]["retracted"].as_u64().unwrap(),
    )
}

/// A CSV of `n` experiments and the mapping that imports it.
fn experiments_csv(home: &Home, name: &str, n: usize) -> (PathBuf, PathBuf) {
    let mut csv = String::from("Title,Summary,Keywords\n");
    for i in 0..n {
        csv.push_str(&format!(
            "{name} pilot {i},Trying idea number {i} of {name} with residents,{name};batch\n"
        ));
    }
    let csv = home.file(&format!("{name}.csv"), &csv);
    let mapping = home.file(
        &format!("{name}.toml"),
        "kind = \"experiment\"\n[columns]\ntitle = \"Title\"\nsummary = \"Summary\"\ntags = \"Keywords\"\n",
    );
    (csv, mapping)
}

#[test]
fn a_record_published_on_a_reaches_c_through_b_within_five_seconds() {
    let _turn = turn();
    let (a, b, c) = (
        Home::init("Alpha Council"),
        Home::init("Beta Police"),
        Home::init("Gamma Meetup"),
    );
    let (node_a, node_b, node_c) = (
        NodeProcess::start(&a),
        NodeProcess::start(&b),
        NodeProcess::start(&c),
    );
    b.run(&["peers", "add", &ticket(&a)]).ok();
    c.run(&["peers", "add", &ticket(&b)]).ok();
    let (id_a, id_b) = (peer_id(&a), peer_id(&b));
    wait_until(Duration::from_secs(20), "B and C connect", || {
        connected(&b, &id_a) && connected(&c, &id_b)
    });
    let id_c = peer_id(&c);
    wait_until(Duration::from_secs(20), "the gossip mesh forms", || {
        meshed(&a, &id_b) && meshed(&b, &id_c)
    });

    let address = a.publish(
        "fridge.toml",
        "kind = \"experiment\"\ntitle = \"Community fridge network\"\nsummary = \"Surplus food shared through fridges in libraries\"\nstatus = \"running\"\n",
    );
    let took = wait_until(Duration::from_secs(5), "C finds A's record", || {
        c.search_addresses(&["fridge"]).contains(&address)
    });
    eprintln!("A -> B -> C in {took:?}");
    assert!(
        c.run(&["show", &address])
            .ok()
            .stdout
            .contains("Community fridge")
    );

    // Retractions travel the same way, and stay effective.
    a.run(&["retract", &address]).ok();
    wait_until(
        Duration::from_secs(5),
        "C drops the retracted record",
        || c.search_addresses(&["fridge"]).is_empty(),
    );
    c.run(&["show", &address]).code(1).stderr_has("retracted");
    drop((node_a, node_b));
    node_c.stop();
}

#[test]
fn a_node_that_was_offline_catches_up_with_records_and_retractions() {
    let _turn = turn();
    let (a, b) = (Home::init("Alpha Council"), Home::init("Beta Police"));
    let node_a = NodeProcess::start(&a);
    let node_b = NodeProcess::start(&b);
    b.run(&["peers", "add", &ticket(&a)]).ok();
    let (early_csv, map) = experiments_csv(&a, "early", 20);
    a.run(&[
        "import",
        early_csv.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
    ])
    .ok();
    wait_until(Duration::from_secs(30), "B holds A's first records", || {
        held(&b).is_superset(&held(&a))
    });
    let early: Vec<String> = a
        .run(&["list", "--mine", "--kind", "experiment"])
        .ok()
        .stdout
        .lines()
        .map(|line| line.split('\t').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(early.len(), 20);

    node_b.stop();
    let (csv, map) = experiments_csv(&a, "later", 500);
    a.run(&[
        "import",
        csv.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
    ])
    .ok()
    .stderr_has("stored 500");
    for address in &early[..10] {
        a.run(&["retract", address]).ok();
    }
    let expected = held(&a);
    // Both organisations, 10 early experiments left, 500 later ones; 10 tombstones.
    assert_eq!(counts(&a), (2 + 10 + 500, 10));

    let node_b = NodeProcess::start(&b);
    let took = wait_until(Duration::from_secs(30), "B holds exactly A's set", || {
        held(&b) == expected
    });
    eprintln!("B caught up with 510 changes in {took:?}");
    for address in &early[..10] {
        b.run(&["show", address]).code(1).stderr_has("retracted");
    }
    assert_eq!(b.search_addresses(&["later", "-n", "1000"]).len(), 500);
    assert!(b.search_addresses(&["early", "-n", "100"]).len() == 10);
    drop(node_a);
    node_b.stop();
}

/// A record signed by `identity` with arbitrary fields, for playing a misbehaving peer.
fn signed(identity: &Identity, slug: &str, created_at: i64) -> Record {
    let content: Content = serde_json::from_value(serde_json::json!({
        "kind": "experiment",
        "title": format!("Tampered {slug}"),
        "summary": "A record that should never be stored",
    }))
    .unwrap();
    Record::sign(identity, Slug::new(slug).unwrap(), 1, created_at, content).unwrap()
}

#[test]
fn tampered_records_are_rejected_and_their_sender_penalised_then_disconnected() {
    let _turn = turn();
    let victim = Home::init("Victim Council");
    let node = NodeProcess::start(&victim);
    let before = counts(&victim);

    // The attacker is a node in this process that gossips bytes without checking them.
    let (attacker_dir, runtime, attacker, attacker_id) = attacker_joins(&victim);
    let attacker_home = convene_node::Home::open(attacker_dir.path()).unwrap();
    wait_until(Duration::from_secs(20), "the attacker joins gossip", || {
        connected(&victim, &attacker_id)
            && runtime
                .block_on(attacker.status())
                .unwrap()
                .net
                .peers
                .iter()
                .any(|p| p.gossip)
    });

    let identity = attacker_home.identity().unwrap();
    let now = convene_node::now();
    let mut changed_byte = signed(&identity, "changed-byte", now).into_bytes();
    let at = changed_byte.len() - 70;
    changed_byte[at] ^= 1;
    let mut wrong_key = signed(&identity, "wrong-key", now).into_bytes();
    let other = Identity::generate().unwrap().author();
    wrong_key[15..47].copy_from_slice(other.as_bytes());
    let future = signed(&identity, "from-the-future", now + 86_400).into_bytes();
    let mut oversize = signed(&identity, "oversize", now).into_bytes();
    oversize.resize(convene_protocol::MAX_RECORD_BYTES + 1000, 0);
    let tampered = [changed_byte, wrong_key, future, oversize];
    for bytes in &tampered {
        runtime.block_on(attacker.gossip_unchecked(bytes.clone()));
    }
    wait_until(
        Duration::from_secs(10),
        "the victim rejects all four",
        || status(&victim)["invalid_records"] == 4,
    );
    let peer = status(&victim)["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["peer_id"] == attacker_id.as_str())
        .cloned()
        .expect("still connected after four");
    assert_eq!(peer["invalid_records"], 4);
    assert!(
        peer["score"].as_f64().unwrap() < 0.0,
        "gossipsub penalised the sender: {peer}"
    );
    assert_eq!(counts(&victim), before, "nothing was stored");
    let log = node.log();
    for reason in ["bad signature", "ahead of now", "over the limit"] {
        assert!(log.contains(reason), "the log names {reason:?}\n{log}");
    }

    // One more and the victim disconnects the attacker and refuses it.
    runtime
        .block_on(attacker.gossip_unchecked(signed(&identity, "fifth", now + 86_400).into_bytes()));
    wait_until(
        Duration::from_secs(10),
        "the attacker is disconnected",
        || {
            let status = status(&victim);
            status["blocked"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == attacker_id.as_str())
                && !connected(&victim, &attacker_id)
        },
    );
    assert_eq!(counts(&victim), before);
    runtime.block_on(attacker.shutdown()).unwrap();
    node.stop();
}

#[test]
fn kill_9_during_a_stream_loses_nothing_acknowledged_and_the_index_matches_the_store() {
    let _turn = turn();
    let (source, relay, witness) = (
        Home::init("Source Council"),
        Home::init("Relay Police"),
        Home::init("Witness Meetup"),
    );
    // No Kademlia: the line must stay a line, so the witness hears of records only from the
    // relay, which forwards a gossiped record only after the batch holding it is durable.
    for home in [&source, &relay, &witness] {
        let config = home.path.join("config.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            text.replace("# kademlia = true", "kademlia = false"),
        )
        .unwrap();
    }
    let node_source = NodeProcess::start(&source);
    let node_relay = NodeProcess::start(&relay);
    let node_witness = NodeProcess::start(&witness);
    relay.run(&["peers", "add", &ticket(&source)]).ok();
    witness.run(&["peers", "add", &ticket(&relay)]).ok();
    let (id_source, id_relay) = (peer_id(&source), peer_id(&relay));
    wait_until(Duration::from_secs(20), "the line connects", || {
        connected(&relay, &id_source) && connected(&witness, &id_relay)
    });
    wait_until(Duration::from_secs(20), "organisations settle", || {
        counts(&relay).0 == 3 && counts(&witness).0 == 3
    });
    let id_witness = peer_id(&witness);
    wait_until(Duration::from_secs(20), "the gossip mesh forms", || {
        meshed(&source, &id_relay) && meshed(&relay, &id_witness)
    });

    // The source publishes a stream of records through its API as fast as it can.
    let mut client = convene_node::Client::connect(&source.path).expect("the source runs");
    let stream = std::thread::spawn(move || {
        use convene_node::Directory;
        let author = convene_protocol::Identity::generate().unwrap().author();
        for i in 0..1_500 {
            let text = format!(
                "kind = \"experiment\"\ntitle = \"Stream pilot {i}\"\nsummary = \"Record {i} of a stream\"\n"
            );
            let draft =
                convene_node::Draft::parse(&text, convene_node::DraftFormat::Toml, "s", &author)
                    .unwrap();
            if client
                .publish(draft, convene_node::SimilarCheck::Skip)
                .is_err()
            {
                return i;
            }
        }
        1_500
    });
    wait_until(
        Duration::from_secs(60),
        "the relay is in the middle of the stream",
        || counts(&relay).0 > 103,
    );
    node_relay.kill_9();
    let published = stream.join().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    node_witness.stop();
    drop(node_source);

    // Offline, the relay's store opens and its index catches up from the store's log.
    let relay_held = held(&relay);
    let witness_held = held(&witness);
    let missing: Vec<_> = witness_held.difference(&relay_held).collect();
    assert!(
        missing.is_empty(),
        "the witness holds {} records the relay acknowledged but lost (relay holds {}), e.g. {:?}",
        missing.len(),
        relay_held.len(),
        missing.first()
    );
    assert!(
        witness_held.len() > 3,
        "the witness heard part of the stream before the kill"
    );
    // The index agrees with the store: every live record is found, and nothing else.
    let live = relay.run(&["list", "--json"]).ok().json();
    let live = live.as_array().unwrap().len();
    // (Facet counts cover every match; a search returns at most 1,000.)
    let facets = relay.run(&["facets", "--json"]).ok().json();
    let found: u64 = facets["kind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value["count"].as_u64().unwrap())
        .sum();
    let live = live as u64;
    assert_eq!(found, live, "search finds exactly the stored live records");
    eprintln!(
        "source published {published}; relay killed holding {} records; witness got {} through it",
        relay_held.len(),
        witness_held.len()
    );
}

#[test]
fn while_a_node_runs_commands_use_it_and_writes_need_the_token() {
    let _turn = turn();
    let home = Home::init("Example Council");
    let node = NodeProcess::start(&home);
    // A second node on the same home is refused, naming the running one.
    home.run(&[
        "node",
        "run",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--api",
        "127.0.0.1:0",
    ])
    .code(2)
    .stderr_has("already running");
    // Commands work as before, through the node's API.
    let address = home.publish(
        "fridge.toml",
        "kind = \"experiment\"\ntitle = \"Community fridge network\"\nsummary = \"Surplus food shared through fridges\"\n",
    );
    assert_eq!(home.search_addresses(&["fridge"]), vec![address.clone()]);
    home.run(&["show", &address])
        .ok()
        .stdout_has("Community fridge");
    let export = home.run(&["export"]).ok();
    assert_eq!(export.stdout.lines().count(), 2, "{export}");
    assert_eq!(counts(&home), (2, 0));

    // A write without the token is refused and changes nothing.
    let api = std::fs::read_to_string(home.path.join("node.api")).unwrap();
    let body =
        r#"{"slug":null,"content":{"kind":"experiment","title":"Sneaky","summary":"No token"}}"#;
    let request = format!(
        "POST /v1/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(api.trim()).unwrap();
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert_eq!(counts(&home), (2, 0));

    // Bad peers are named.
    home.run(&["peers", "add", "example.org:4717"])
        .code(2)
        .stderr_has("neither a ticket");
    home.run(&["peers", "rm", "12D3KooWnobody"])
        .code(2)
        .stderr_has("no peer");
    node.stop();
    // Stopped: the commands open the store themselves again.
    assert_eq!(home.search_addresses(&["fridge"]), vec![address]);
    home.run(&["node", "status"])
        .code(2)
        .stderr_has("no node is running");
}

/// Five nodes in a ring (Kademlia and mDNS off, so the links are exactly the ones added),
/// split 3/2 by cutting two links, with publishes, edits and retractions on both sides while
/// apart; after the links are restored, every node holds the same latest versions and
/// tombstones. `CONVENE_PARTITION_SECS` sets how long they stay apart (15 s by default; the
/// figure in docs/guarantees.md is for 60).
#[test]
fn after_a_partition_heals_every_node_holds_the_same_latest_versions_within_30_s() {
    let _turn = turn();
    let apart: u64 = std::env::var("CONVENE_PARTITION_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let homes: Vec<Home> = (0..5)
        .map(|i| {
            let home = Home::init(&format!("Ring Council {i}"));
            home.set_node_config("kademlia = false");
            home
        })
        .collect();
    let nodes: Vec<NodeProcess> = homes.iter().map(NodeProcess::start).collect();
    let tickets: Vec<String> = homes.iter().map(ticket).collect();
    let ids: Vec<String> = homes.iter().map(peer_id).collect();
    let link = |from: usize, to: usize| {
        homes[from].run(&["peers", "add", &tickets[to]]).ok();
    };
    for i in 0..5 {
        link(i, (i + 1) % 5);
    }
    wait_until(Duration::from_secs(30), "the ring connects", || {
        (0..5).all(|i| connected(&homes[i], &ids[(i + 1) % 5]))
    });
    let draft = |title: &str, summary: &str| {
        format!("kind = \"experiment\"\ntitle = \"{title}\"\nsummary = \"{summary}\"\n")
    };
    // Records everyone sees before the split: one per node.
    let before: Vec<String> = homes
        .iter()
        .enumerate()
        .map(|(i, home)| {
            home.publish(
                &format!("b{i}.toml"),
                &draft(&format!("Shared pilot {i}"), "before the split"),
            )
        })
        .collect();
    wait_until(
        Duration::from_secs(30),
        "everyone holds the first records",
        || homes.iter().all(|home| held(home).len() >= 10),
    );

    // Split {0, 1, 2} from {3, 4}: cut 2–3 and 4–0 (each link was added, and is redialled,
    // by its first node only).
    for (a, b) in [(2, 3), (4, 0)] {
        homes[a].run(&["peers", "rm", &ids[b]]).ok();
    }
    wait_until(Duration::from_secs(10), "the links are cut", || {
        !connected(&homes[2], &ids[3]) && !connected(&homes[0], &ids[4])
    });
    let until = Instant::now() + Duration::from_secs(apart);
    let mut round = 0;
    while Instant::now() < until {
        for (i, home) in homes.iter().enumerate() {
            home.publish(
                &format!("p{i}-{round}.toml"),
                &draft(&format!("Apart pilot {i} {round}"), "written while apart"),
            );
        }
        // Edits and retractions of what both sides saw.
        if round == 0 {
            homes[1].publish(
                "b1.toml",
                &draft("Shared pilot 1", "edited on the larger side"),
            );
            homes[3].publish(
                "b3.toml",
                &draft("Shared pilot 3", "edited on the smaller side"),
            );
            homes[2].run(&["retract", &before[2]]).ok();
            homes[4].run(&["retract", &before[4]]).ok();
        }
        round += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    let sides_differ = held(&homes[0]) != held(&homes[3]);
    assert!(sides_differ, "the two sides were really apart");

    // Heal, and time how long until every node holds the same set.
    link(2, 3);
    link(4, 0);
    let healed = Instant::now();
    wait_until(
        Duration::from_secs(30),
        "all five hold the same records",
        || {
            let first = held(&homes[0]);
            homes[1..].iter().all(|home| held(home) == first)
        },
    );
    eprintln!(
        "partition of {apart} s ({round} rounds of writes): converged {:?} after healing",
        healed.elapsed()
    );
    let everything = held(&homes[0]);
    let live = |home: &Home| home.run(&["show", &before[2]]).code;
    assert_eq!(
        live(&homes[3]),
        1,
        "the retraction made while apart reached the other side"
    );
    assert!(
        homes[0]
            .run(&["show", &before[3]])
            .ok()
            .stdout
            .contains("edited on the smaller side"),
        "the edit made while apart reached the other side"
    );
    assert_eq!(everything.len(), held(&homes[4]).len());
    for node in nodes {
        node.stop();
    }
}

/// The peak resident memory of a process, from /proc (KiB).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// How long until `to` shows a record `from` just published: the median of `n`.
fn gossip_latency(from: &Home, to: &Home, tag: &str, n: usize) -> Duration {
    let mut times: Vec<Duration> = (0..n)
        .map(|i| {
            let address = from.publish(
                &format!("{tag}{i}.toml"),
                &format!("kind = \"experiment\"\ntitle = \"Timed {tag} {i}\"\nsummary = \"Timing gossip\"\n"),
            );
            wait_until(Duration::from_secs(10), "the honest record arrives", || {
                to.run(&["show", &address]).code == 0
            })
        })
        .collect();
    times.sort();
    times[n / 2]
}

/// A victim node and an honest peer connected to it (Kademlia off, so the links are exactly
/// these), running, with the victim's peer id.
struct VictimAndHonest {
    victim: Home,
    honest: Home,
    node: NodeProcess,
    honest_node: NodeProcess,
    victim_id: String,
}

fn victim_and_honest(victim: &str, honest: &str) -> VictimAndHonest {
    let victim = Home::init(victim);
    let honest = Home::init(honest);
    for home in [&victim, &honest] {
        home.set_node_config("kademlia = false");
    }
    let node = NodeProcess::start(&victim);
    let honest_node = NodeProcess::start(&honest);
    honest.run(&["peers", "add", &ticket(&victim)]).ok();
    let victim_id = peer_id(&victim);
    wait_until(Duration::from_secs(20), "the honest peer joins", || {
        connected(&honest, &victim_id)
    });
    let honest_id = peer_id(&honest);
    wait_until(Duration::from_secs(20), "the gossip mesh forms", || {
        meshed(&honest, &victim_id) && meshed(&victim, &honest_id)
    });
    VictimAndHonest {
        victim,
        honest,
        node,
        honest_node,
        victim_id,
    }
}

/// A peer gossiping 1,000 invalid records a second is cut off after the first few, and a flood
/// of 2,000 raw connections is turned away; meanwhile an honest peer's records arrive as fast
/// as before, and the victim's memory stays bounded.
#[test]
fn floods_of_invalid_records_and_connections_leave_honest_gossip_and_memory_alone() {
    let _turn = turn();
    let VictimAndHonest {
        victim,
        honest,
        node,
        honest_node,
        victim_id,
    } = victim_and_honest("Flooded Council", "Honest Council");
    let baseline = gossip_latency(&honest, &victim, "before", 5);
    // Gossipsub's own counts, as `node status` shows them: one peer, one copy of each record.
    let counted = status(&victim);
    assert!(
        counted["gossip_received"].as_u64().unwrap() >= 5,
        "{counted}"
    );
    assert_eq!(counted["gossip_copies"], counted["gossip_received"]);

    let (_attacker_dir, runtime, attacker, attacker_id) = attacker_joins(&victim);
    wait_until(Duration::from_secs(20), "the attacker joins gossip", || {
        connected(&victim, &attacker_id)
            && runtime
                .block_on(attacker.status())
                .unwrap()
                .net
                .peers
                .iter()
                .any(|p| p.peer_id == victim_id && p.gossip)
    });
    let identity = Identity::generate().unwrap();
    let now = convene_node::now();
    let records_before = counts(&victim);
    let burst = |from: usize| {
        let started = Instant::now();
        for i in from..from + 1_000 {
            let mut bytes = signed(&identity, &format!("bad-{i}"), now).into_bytes();
            let at = bytes.len() - 70;
            bytes[at] ^= 1;
            runtime.block_on(attacker.gossip_unchecked(bytes));
        }
        started.elapsed()
    };
    let sent_in = burst(0);
    wait_until(Duration::from_secs(10), "the attacker is blocked", || {
        let status = status(&victim);
        status["blocked"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == attacker_id.as_str())
    });
    // What was already delivered when the block came is checked (and counted); after it,
    // nothing from that peer gets in.
    std::thread::sleep(Duration::from_secs(1));
    let invalid = status(&victim)["invalid_records"].as_u64().unwrap();
    burst(1_000);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        status(&victim)["invalid_records"].as_u64().unwrap(),
        invalid,
        "nothing more from a blocked peer reaches the victim"
    );
    assert_eq!(
        counts(&victim),
        records_before,
        "nothing invalid was stored"
    );

    // 2,000 raw TCP connections to the p2p port, held open.
    let listen = status(&victim)["listen"][0].as_str().unwrap().to_string();
    let port: u16 = listen.split("/tcp/").nth(1).unwrap().parse().unwrap();
    let flood: Vec<std::net::TcpStream> = (0..2_000)
        .filter_map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let during = gossip_latency(&honest, &victim, "during", 5);
    drop(flood);
    let after = gossip_latency(&honest, &victim, "after", 5);
    let peak = peak_rss_kib(node.child.id());
    eprintln!(
        "1,000 invalid records sent in {sent_in:?}: {invalid} reached the victim before the \
         block; honest gossip median {baseline:?} before, {during:?} under 2,000 raw \
         connections, {after:?} after; victim peak RSS {} MiB",
        peak / 1024
    );
    let bound = baseline * 4 + Duration::from_millis(500);
    assert!(during <= bound && after <= bound, "honest latency held up");
    assert!(peak < 400 * 1024, "peak RSS {peak} KiB");
    assert!(connected(&honest, &victim_id));
    runtime.block_on(attacker.shutdown()).unwrap();
    honest_node.stop();
    node.stop();
}

/// A node whose store was lost gets everything back from a peer with one command, its own
/// organisation's records included.
#[test]
fn recover_from_peers_brings_back_a_lost_store_own_records_included() {
    let _turn = turn();
    let (keeper, lost) = (
        Home::init("Keeper Council"),
        Home::init("Forgetful Council"),
    );
    let keeper_node = NodeProcess::start(&keeper);
    let lost_node = NodeProcess::start(&lost);
    lost.run(&["peers", "add", &ticket(&keeper)]).ok();
    let own: Vec<String> = (0..3)
        .map(|i| {
            lost.publish(
                &format!("own{i}.toml"),
                &format!("kind = \"experiment\"\ntitle = \"Our pilot {i}\"\nsummary = \"Ours\"\n"),
            )
        })
        .collect();
    keeper.publish(
        "theirs.toml",
        "kind = \"experiment\"\ntitle = \"Their pilot\"\nsummary = \"Theirs\"\n",
    );
    wait_until(Duration::from_secs(30), "both hold everything", || {
        held(&keeper) == held(&lost)
    });
    let everything = held(&keeper);
    lost_node.stop();
    std::fs::remove_file(lost.path.join("data/store.redb")).unwrap();
    lost.run(&["list"])
        .code(2)
        .stderr_has("store.redb is missing");
    lost.run(&["recover", "--from-peers", "--wait", "30"])
        .ok()
        .stderr_has("synced with 1 peer");
    assert_eq!(held(&lost), everything);
    let listed = lost.run(&["list", "--mine"]).ok().stdout;
    for address in &own {
        assert!(listed.contains(address.as_str()), "{address} came back");
    }
    keeper_node.stop();
}

/// A peer hammering the sync protocol — 400 requests at once, most of them new sessions — gets
/// refusals beyond its budget, not the victim's memory; honest gossip goes on.
#[test]
fn a_flood_of_sync_requests_is_refused_beyond_its_budget_and_memory_stays_bounded() {
    use convene_protocol::wire::{Request, Response};

    let _turn = turn();
    let VictimAndHonest {
        victim,
        honest,
        node,
        honest_node,
        victim_id,
    } = victim_and_honest("Synced Council", "Patient Council");
    // Enough records that each new session costs the victim real work (imported through the
    // running node).
    let export = crate::hardening::export_file(&victim, "flood", 300);
    victim.run(&["import", export.to_str().unwrap()]).ok();
    let (_dir, runtime, attacker, attacker_id) = attacker_joins(&victim);
    wait_until(Duration::from_secs(20), "the attacker connects", || {
        connected(&victim, &attacker_id)
    });
    let victim_peer: libp2p::PeerId = victim_id.parse().unwrap();
    let attacker = std::sync::Arc::new(attacker);
    let answers: Vec<Result<Response, String>> = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..400u64 {
            let attacker = attacker.clone();
            tasks.spawn(async move {
                let request = if i % 2 == 0 {
                    let message = convene_protocol::sync::Reconciler::initiate(Vec::new())
                        .unwrap()
                        .1;
                    Request::Reconcile {
                        session: i,
                        scope: vec![convene_protocol::NetworkId::Commons],
                        message,
                    }
                } else {
                    Request::Fetch {
                        ids: vec![convene_protocol::RecordId([i as u8; 32]); 1_024],
                    }
                };
                attacker.request_unchecked(victim_peer, request).await
            });
        }
        let mut answers = Vec::new();
        while let Some(answer) = tasks.join_next().await {
            answers.push(answer.unwrap());
        }
        answers
    });
    let refused = answers
        .iter()
        .filter(|a| matches!(a, Ok(Response::Refused { .. })))
        .count();
    let reconciled = answers
        .iter()
        .filter(|a| matches!(a, Ok(Response::Reconcile { .. })))
        .count();
    let fetched = answers
        .iter()
        .filter(|a| matches!(a, Ok(Response::Records { .. })))
        .count();
    let failed = answers.iter().filter(|a| a.is_err()).count();
    let peak = peak_rss_kib(node.child.id());
    let latency = gossip_latency(&honest, &victim, "synced", 5);
    eprintln!(
        "400 sync requests at once: {reconciled} sessions and {fetched} fetches answered, \
         {refused} refused, {failed} dropped at the transport (8 streams per connection); \
         victim peak RSS {} MiB; honest gossip median {latency:?}",
        peak / 1024
    );
    assert!(
        reconciled <= 6,
        "at most the minute's budget of new sessions: {reconciled}"
    );
    // The rest are refused by the node or dropped by the stream cap; which of the two, and
    // how many fetches get through as slots free up, depends on timing.
    assert!(peak < 400 * 1024, "peak RSS {peak} KiB");
    assert!(latency < Duration::from_secs(2));
    let attacker = std::sync::Arc::into_inner(attacker).unwrap();
    runtime.block_on(attacker.shutdown()).unwrap();
    honest_node.stop();
    node.stop();
}

/// A peer subscribing to 5,000 gossip topics: gossipsub's subscription filter keeps at most
/// 100 per peer, the victim's memory stays bounded, and honest gossip goes on.
#[test]
fn a_flood_of_topic_subscriptions_leaves_memory_and_honest_gossip_alone() {
    let _turn = turn();
    let VictimAndHonest {
        victim,
        honest,
        node,
        honest_node,
        ..
    } = victim_and_honest("Subscribed Council", "Plain Council");
    let before = gossip_latency(&honest, &victim, "unsubscribed", 5);
    let (_dir, runtime, attacker, attacker_id) = attacker_joins(&victim);
    wait_until(Duration::from_secs(20), "the attacker connects", || {
        connected(&victim, &attacker_id)
    });
    let started = Instant::now();
    runtime.block_on(async {
        for i in 0..5_000 {
            attacker
                .subscribe_unchecked(format!("flood/topic/{i}/{}", "x".repeat(200)))
                .await;
        }
    });
    std::thread::sleep(Duration::from_secs(3));
    let after = gossip_latency(&honest, &victim, "subscribed", 5);
    let peak = peak_rss_kib(node.child.id());
    eprintln!(
        "5,000 topic subscriptions sent in {:?}: honest gossip median {before:?} before, \
         {after:?} after; victim peak RSS {} MiB",
        started.elapsed(),
        peak / 1024
    );
    assert!(after <= before * 4 + Duration::from_millis(500));
    assert!(peak < 400 * 1024, "peak RSS {peak} KiB");
    runtime.block_on(attacker.shutdown()).unwrap();
    honest_node.stop();
    node.stop();
}

fn lesson(title: &str) -> String {
    format!("kind = \"lesson\"\ntitle = \"{title}\"\nsummary = \"{title}, in short\"\n")
}

#[test]
fn a_block_purges_an_author_and_keeps_it_out_across_restart_and_sync() {
    let _turn = turn();
    let ashdown = Home::init("Ashdown Vale District Council");
    let spammer = Home::init("Widgets Unlimited");
    spammer.publish("one.toml", &lesson("Buy our widgets"));
    spammer.publish("two.toml", &lesson("Widgets for councils"));
    let key = spammer.own_key();
    let node_a = NodeProcess::start(&ashdown);
    let node_s = NodeProcess::start(&spammer);
    ashdown.run(&["peers", "add", &ticket(&spammer)]).ok();
    wait_until(
        Duration::from_secs(30),
        "the spammer's records arrive",
        || counts(&ashdown).0 == 4,
    );

    ashdown
        .run(&["block", &key, "--reason", "unsolicited advertising"])
        .ok()
        .stderr_has("3 records purged");
    assert_eq!(counts(&ashdown).0, 1, "only Ashdown's own profile is left");
    ashdown.run(&["search", "widgets"]).code(1);
    // Gossip of a new record is refused too (the spammer keeps publishing).
    spammer.publish("three.toml", &lesson("Widgets, third time"));

    // After a restart the block holds; the catch-up sync on connecting offers every record of
    // the spammer again, and each is refused.
    node_a.stop();
    let node_a = NodeProcess::start(&ashdown);
    wait_until(
        Duration::from_secs(30),
        "a sync with the spammer refuses its records",
        || status(&ashdown)["last_sync"]["refused"].as_u64() >= Some(4),
    );
    assert_eq!(counts(&ashdown).0, 1);
    let blocks = ashdown.run(&["block", "--json"]).ok().json();
    assert_eq!(blocks[0]["key"], key.as_str());
    assert_eq!(blocks[0]["reason"], "unsolicited advertising");
    ashdown.run(&["block", &key]).code(2).stderr_has("--reason");

    // Lifting the block: the next sync brings everything back.
    ashdown.run(&["unblock", &key]).ok();
    node_a.stop();
    let node_a = NodeProcess::start(&ashdown);
    wait_until(Duration::from_secs(30), "the records come back", || {
        counts(&ashdown).0 == 5
    });
    ashdown.run(&["unblock", &key]).code(1);
    node_a.stop();
    node_s.stop();
}

#[test]
fn an_import_of_a_blocked_authors_records_stores_none_of_them() {
    let ashdown = Home::init("Ashdown Vale District Council");
    let spammer = Home::init("Widgets Unlimited");
    spammer.publish("one.toml", &lesson("Buy our widgets"));
    let key = spammer.own_key();
    ashdown
        .run(&["block", &key, "--reason", "spam"])
        .ok()
        .stderr_has("0 records purged");
    let export = spammer.run(&["export"]).ok().stdout;
    let file = ashdown.file("spam.jsonl", &export);
    ashdown
        .run(&["import", file.to_str().unwrap()])
        .code(3)
        .stderr_has("its author is blocked on this node");
    ashdown.run(&["search", "widgets"]).code(1);
}

#[test]
fn a_blocked_peer_is_disconnected_and_kept_away_across_restarts() {
    let _turn = turn();
    let ashdown = Home::init("Ashdown Vale District Council");
    let pest = Home::init("Persistent Pest");
    let node_a = NodeProcess::start(&ashdown);
    let node_p = NodeProcess::start(&pest);
    // Both know each other, so both keep dialling.
    ashdown.run(&["peers", "add", &ticket(&pest)]).ok();
    pest.run(&["peers", "add", &ticket(&ashdown)]).ok();
    let pest_id = peer_id(&pest);
    wait_until(Duration::from_secs(20), "the two connect", || {
        connected(&ashdown, &pest_id)
    });

    ashdown
        .run(&["block", &pest_id, "--reason", "keeps flooding us"])
        .ok()
        .stderr_has("never connected to again");
    wait_until(Duration::from_secs(20), "the pest is disconnected", || {
        !peer_listed(&ashdown, &pest_id)
    });
    let blocks = ashdown.run(&["block", "--json"]).ok().json();
    assert_eq!(blocks[0]["what"], "peer");
    assert_eq!(blocks[0]["key"], pest_id.as_str());

    // After a restart the block holds, though both still have each other in their books.
    node_a.stop();
    let node_a = NodeProcess::start(&ashdown);
    // (Absence cannot be waited for: give both several redial rounds.)
    std::thread::sleep(Duration::from_secs(4));
    assert!(!peer_listed(&ashdown, &pest_id), "{}", status(&ashdown));

    // Lifted: they connect again.
    ashdown.run(&["unblock", &pest_id]).ok();
    wait_until(Duration::from_secs(30), "the two connect again", || {
        connected(&ashdown, &pest_id)
    });
    ashdown.run(&["unblock", &pest_id]).code(1);
    node_a.stop();
    node_p.stop();
}

/// `home`'s status lists `peer` as connected, gossiping or not.
fn peer_listed(home: &Home, peer: &str) -> bool {
    status(home)["peers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["peer_id"] == peer)
}

#[test]
fn a_node_refuses_its_own_ticket_as_a_peer() {
    // Regression (issue 11, friction 10).
    let _turn = turn();
    let home = Home::init("Example Council");
    let node = NodeProcess::start(&home);
    let own = ticket(&home);
    home.run(&["peers", "add", &own])
        .code(2)
        .stderr_has("this node's own ticket");
    node.stop();
    // Offline too, once the node has a network key.
    home.run(&["peers", "add", &own])
        .code(2)
        .stderr_has("this node's own ticket");
}
