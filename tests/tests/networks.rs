//! Convened networks across real node processes: members-only networks reach their members'
//! nodes and no one else's, by any path; a removed member's records leave; charters converge.

use std::time::Duration;

use crate::util::{
    Home, NodeProcess, carry, create_network, held, publish_into, ticket, turn, wait_until,
};

/// Syncs again soon after anything changes, so the tests measure the rules, not the timers.
const QUICK: &str = "announce_min_interval_secs = 1\nsync_interval_secs = 3";

fn experiment(title: &str, summary: &str) -> String {
    format!(
        "kind = \"experiment\"\ntitle = \"{title}\"\nsummary = \"{summary}\"\nstatus = \"running\"\n"
    )
}

/// `home` publishing `draft` into `network` is refused: its organisation is not a member.
fn refused_as_non_member(home: &Home, draft: &str, network: &str) {
    let file = home.file("refused.toml", draft);
    home.run(&[
        "publish",
        file.to_str().unwrap(),
        "--yes",
        "--network",
        network,
    ])
    .code(2)
    .stderr_has("not a member");
}

fn holds(home: &Home, address: &str) -> bool {
    held(home).iter().any(|(held, _)| held == address)
}

fn finds(home: &Home, words: &str, address: &str) -> bool {
    home.search_addresses(&[words]).iter().any(|a| a == address)
}

fn started(homes: &[&Home]) -> Vec<NodeProcess> {
    homes
        .iter()
        .map(|home| {
            home.set_node_config(QUICK);
            NodeProcess::start(home)
        })
        .collect()
}

#[test]
fn members_only_records_reach_members_and_never_an_outsider_even_from_a_node_in_two_networks() {
    let _turn = turn();
    let (council, police, charity, outsider) = (
        Home::init("Leicester City Council"),
        Home::init("Leicestershire Police"),
        Home::init("Rutland Volunteers"),
        Home::init("Outsider Analytics Ltd"),
    );
    let nodes = started(&[&council, &police, &charity, &outsider]);
    // Two members-only networks: the council convenes one with the police and the charity;
    // the police convene another with the outsider. The police node is in both.
    let pilots = create_network(&council, "East Midlands Pilots", true);
    for member in [&police, &charity] {
        council
            .run(&["network", "invite", &pilots, &member.own_key()])
            .ok();
    }
    let digital = create_network(&police, "Police Digital", true);
    police
        .run(&["network", "invite", &digital, &outsider.own_key()])
        .ok();
    let pilots_ticket = council.run(&["network", "ticket", &pilots]).ok().stdout;
    police.run(&["network", "join", pilots_ticket.trim()]).ok();
    charity.run(&["network", "join", pilots_ticket.trim()]).ok();
    let digital_ticket = police.run(&["network", "ticket", &digital]).ok().stdout;
    outsider
        .run(&["network", "join", digital_ticket.trim()])
        .ok();
    // The outsider also asks to replicate the council's network, and connects to a member.
    outsider.run(&["network", "join", &pilots]).ok();

    let open = publish_into(
        &police,
        "open.toml",
        &experiment("Open data on burglary", "Weekly open data for everyone"),
        &[],
    );
    let shared = publish_into(
        &police,
        "shared.toml",
        &experiment(
            "Joint triage rota",
            "Two forces sharing one rota for welfare calls",
        ),
        &[&pilots],
    );
    let digital_only = publish_into(
        &police,
        "digital.toml",
        &experiment(
            "Body camera analytics",
            "Trialling analytics on body camera footage",
        ),
        &[&digital],
    );
    // A person findable by everyone, whose contact only the council's network sees.
    let sam = publish_into(
        &police,
        "sam.toml",
        "kind = \"practitioner\"\nname = \"Sam Patel\"\nrole = \"Digital Lead\"\ncontact = \"sam.patel@police.example\"\ncontact_visibility = \"networks\"\n",
        &[&pilots, "commons"],
    );
    wait_until(
        Duration::from_secs(60),
        "the charity gets the shared record",
        || holds(&charity, &shared),
    );
    wait_until(
        Duration::from_secs(60),
        "the charity gets Sam's contact",
        || {
            charity.run(&["show", &sam, "--json"]).ok().json()["contact"]
                .as_str()
                .is_some_and(|c| c.starts_with("sam.patel@police.example"))
        },
    );
    wait_until(
        Duration::from_secs(60),
        "the outsider gets its network's record",
        || holds(&outsider, &digital_only) && holds(&outsider, &open),
    );
    assert!(finds(&charity, "triage rota", &shared));
    assert!(finds(&council, "triage rota", &shared));
    // Give any leak time to happen: several sync rounds.
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        !holds(&outsider, &shared),
        "the outsider's node stored a members-only record of a network it is not in"
    );
    assert!(!finds(&outsider, "triage rota", &shared));
    // The outsider finds the person, but never receives the contact.
    let shown = outsider.run(&["show", &sam, "--json"]).ok().json();
    assert_eq!(
        shown["contact"], "only for members of the networks they are published in",
        "{shown}"
    );
    assert!(
        !held(&outsider)
            .iter()
            .any(|(address, _)| address.contains("/contact/")),
        "the outsider's node stored a contact card"
    );
    for member in [&council, &charity] {
        assert!(
            !holds(member, &digital_only),
            "Police Digital's record leaked into the other network"
        );
    }
    // The outsider holds the charter (charters are public), so it refuses to publish into a
    // members-only network it is not a member of.
    refused_as_non_member(
        &outsider,
        &experiment("Sneaking in", "An outsider publishing into the network"),
        &pilots,
    );
    // Peers in a network are shown by their organisation's name (issue 11, friction 10).
    let peers = crate::util::status(&council)["peers"].clone();
    assert!(
        peers
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["organisation"] == "Leicestershire Police"),
        "{peers}"
    );
    // And in the peer list of the nodes it dialled (the police joined by the council's ticket).
    let book = police.run(&["peers", "list", "--json"]).ok().json();
    assert!(
        book.as_array()
            .unwrap()
            .iter()
            .any(|p| p["organisation"] == "Leicester City Council"),
        "{book}"
    );
    police
        .run(&["peers", "list"])
        .ok()
        .stdout_has("\tconnected\tLeicester City Council");
    // Nothing was ever offered to it by gossip either.
    let log = nodes[3].log();
    assert!(
        !log.contains("members-only network's record came by gossip"),
        "{log}"
    );
}

#[test]
fn a_members_delegate_publishes_into_the_network_and_a_removed_members_records_leave_it() {
    let _turn = turn();
    let (council, charity, volunteer) = (
        Home::init("Leicester City Council"),
        Home::init("Rutland Volunteers"),
        Home::init("Jo Smith"),
    );
    let _nodes = started(&[&council, &charity, &volunteer]);
    let pilots = create_network(&council, "East Midlands Pilots", true);
    // The charity asks to join with the convenor's ticket; the convenor sees and admits it.
    let pilots_ticket = council.run(&["network", "ticket", &pilots]).ok().stdout;
    charity
        .run(&[
            "network",
            "join",
            pilots_ticket.trim(),
            "--note",
            "we run lunch clubs in Rutland",
        ])
        .ok()
        .stderr_has("asked to join");
    let requests = council.run(&["network", "requests", "--json"]).ok().json();
    assert_eq!(
        requests[0]["request"]["organisation"],
        charity.own_key().as_str()
    );
    assert_eq!(
        requests[0]["request"]["note"],
        "we run lunch clubs in Rutland"
    );
    council
        .run(&["network", "approve", &pilots, &charity.own_key()])
        .ok();
    council.run(&["network", "requests"]).code(1);
    wait_until(
        Duration::from_secs(60),
        "the charity gets the charter",
        || {
            charity
                .run(&["network", "show", &pilots, "--json"])
                .ok()
                .json()["member"]
                == true
        },
    );
    let lunch = publish_into(
        &charity,
        "lunch.toml",
        &experiment("Lunch club transport", "Volunteer drivers for lunch clubs"),
        &[&pilots],
    );
    wait_until(
        Duration::from_secs(60),
        "the council gets the charity's record",
        || finds(&council, "lunch club", &lunch),
    );
    // The charity's delegate, on its own key and node, publishes into the network as the
    // charity does, and its node receives the network's records.
    // The volunteer consents first: a delegation without it counts for nothing.
    charity
        .run(&[
            "delegate",
            &volunteer.own_key(),
            "--as",
            "Volunteer Coordinator",
        ])
        .code(2)
        .stderr_has("needs the person's consent");
    // So the volunteer asks, from their running node to the charity's; the charity approves.
    volunteer.publish("jo.toml", "kind = \"practitioner\"\nname = \"Jo Smith\"\n");
    volunteer
        .run(&[
            "org",
            "ask",
            &charity.own_key(),
            &crate::util::ticket(&charity),
            "--note",
            "coordinating drivers",
        ])
        .ok()
        .stderr_has("org requests");
    let asked = charity.run(&["org", "requests", "--json"]).ok().json();
    assert_eq!(asked[0]["ask"]["delegate"], volunteer.own_key().as_str());
    assert_eq!(asked[0]["ask"]["person"], "Jo Smith", "{asked}");
    assert_eq!(asked[0]["ask"]["note"], "coordinating drivers");
    charity
        .run(&[
            "org",
            "approve",
            &volunteer.own_key(),
            "--as",
            "Volunteer Coordinator",
        ])
        .ok();
    charity.run(&["org", "requests"]).code(1);
    let delegates = charity.run(&["org", "delegates", "--json"]).ok().json();
    assert_eq!(delegates[0]["status"], "active", "{delegates}");
    volunteer
        .run(&["network", "join", pilots_ticket.trim()])
        .ok();
    wait_until(
        Duration::from_secs(60),
        "the delegate's node gets the delegation",
        || {
            volunteer
                .run(&["network", "show", &pilots, "--json"])
                .ok()
                .json()["version"]
                == 2
                && finds(&volunteer, "lunch club", &lunch)
        },
    );
    let rota = publish_into(
        &volunteer,
        "rota.toml",
        &experiment("Driver rota app", "A shared rota for volunteer drivers"),
        &[&pilots],
    );
    wait_until(
        Duration::from_secs(60),
        "the council gets the delegate's record",
        || finds(&council, "driver rota", &rota),
    );
    // It shows as the charity's, with how the council's node knows.
    let hit = council
        .run(&["search", "driver rota", "--json"])
        .ok()
        .json()[0]
        .clone();
    assert_eq!(hit["organisation"], "Rutland Volunteers", "{hit}");
    assert_eq!(hit["trust"]["basis"], "delegated", "{hit}");
    // Regression: a delegate goes by its organisation's name and was flagged as a conflict
    // with its own organisation.
    assert!(hit["trust"].get("conflicts").is_none(), "{hit}");
    assert!(
        hit["trust"]["path"]
            .as_str()
            .unwrap()
            .starts_with("Volunteer Coordinator, delegated by "),
        "{hit}"
    );
    council
        .run(&["network", "remove", &pilots, &charity.own_key()])
        .ok()
        .stderr_has("charter version 3");
    assert!(
        !finds(&council, "lunch club", &lunch),
        "a removed member's record is still in the network"
    );
    assert!(
        !finds(&council, "driver rota", &rota),
        "a removed member's delegate's record is still in the network"
    );
    let shown = council
        .run(&["network", "show", &pilots, "--json"])
        .ok()
        .json();
    assert_eq!(shown["records"], 0, "{shown}");
    // The charity's node learns of its removal and refuses to publish into the network.
    wait_until(
        Duration::from_secs(60),
        "the charity gets charter version 3",
        || {
            charity
                .run(&["network", "show", &pilots, "--json"])
                .ok()
                .json()["version"]
                == 3
        },
    );
    assert!(!finds(&charity, "lunch club", &lunch));
    refused_as_non_member(
        &charity,
        &experiment("Another pilot", "Published after removal"),
        &pilots,
    );
}

#[test]
fn concurrent_amendments_converge_and_an_old_charter_delivered_late_changes_nothing() {
    let _turn = turn();
    let (founder, second, late) = (
        Home::init("Leicester City Council"),
        Home::init("Nottingham City Council"),
        Home::init("Derby City Council"),
    );
    let (invitee_a, invitee_b) = (Home::init("Alpha Trust"), Home::init("Beta Trust"));
    // Offline: the founder makes the second council a convenor, and both amend version 2 at
    // once, each inviting a different organisation.
    let network = create_network(&founder, "East Midlands Pilots", true);
    founder
        .run(&["network", "convenor", &network, &second.own_key()])
        .ok();
    carry(&founder, &second);
    founder
        .run(&["network", "invite", &network, &invitee_a.own_key()])
        .ok();
    second
        .run(&["network", "invite", &network, &invitee_b.own_key()])
        .ok();
    let members = |home: &Home| -> Vec<String> {
        let shown = home
            .run(&["network", "show", &network, "--json"])
            .ok()
            .json();
        let mut keys: Vec<String> = shown["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["key"].as_str().unwrap().to_string())
            .collect();
        keys.sort();
        keys
    };
    // A third node learns the winning chain, then the losing amendment arrives late.
    carry(&founder, &late);
    let before = members(&late);
    assert!(before.contains(&invitee_a.own_key()));
    carry(&second, &late);
    assert_eq!(
        members(&late),
        before,
        "a late amendment changed the charter"
    );
    late.run(&["network", "members", &network])
        .ok()
        .stdout_has("Leicester City Council\tconvenor")
        .stdout_has(&invitee_a.own_key());

    // Online: the two convenors' nodes meet and converge on the founder's amendment (the
    // founder ranks first among the convenors).
    let _nodes = started(&[&founder, &second]);
    second.run(&["peers", "add", &ticket(&founder)]).ok();
    wait_until(Duration::from_secs(60), "the convenors converge", || {
        members(&second) == members(&founder)
    });
    let agreed = members(&founder);
    assert!(agreed.contains(&invitee_a.own_key()));
    assert!(!agreed.contains(&invitee_b.own_key()));
    assert_eq!(agreed, before);
}

#[test]
fn the_digest_map_and_featured_work_show_what_members_did() {
    let (council, police, charity) = (
        Home::init("Leicester City Council"),
        Home::init("Leicestershire Police"),
        Home::init("Rutland Volunteers"),
    );
    let pilots = create_network(&council, "East Midlands Pilots", true);
    for member in [&police, &charity] {
        council
            .run(&["network", "invite", &pilots, &member.own_key()])
            .ok();
    }
    carry(&council, &police);
    police.run(&["network", "join", &pilots]).ok();
    let triage = publish_into(
        &police,
        "triage.toml",
        &format!(
            "{}tags = [\"welfare\", \"triage\"]\n",
            experiment("Joint triage rota", "Two forces sharing one rota")
        ),
        &[&pilots],
    );
    publish_into(
        &police,
        "lesson.toml",
        "kind = \"lesson\"\ntitle = \"Share the rota early\"\nsummary = \"Agree the rota before the pilot starts\"\ntags = [\"triage\"]\n",
        &["East Midlands Pilots"],
    );
    publish_into(
        &police,
        "sam.toml",
        "kind = \"practitioner\"\nname = \"Sam Patel\"\nrole = \"Digital Lead\"\nexpertise = [\"triage\", \"LoRaWAN\"]\ninterests = [\"chatbots\"]\n",
        &[&pilots],
    );
    // Outside the network: not in its digest.
    publish_into(
        &police,
        "public.toml",
        &experiment("Open burglary data", "Weekly open data"),
        &[],
    );
    carry(&police, &council);
    publish_into(
        &council,
        "done.toml",
        &format!(
            "{}tags = [\"welfare\"]\n",
            experiment("Warm spaces", "Libraries as warm spaces").replace("running", "completed")
        ),
        &[&pilots],
    );

    let digest = council
        .run(&["network", "digest", "East Midlands Pilots", "--json"])
        .ok()
        .json();
    let titles = |group: &str| -> Vec<String> {
        digest[group]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(titles("started"), ["Joint triage rota"]);
    assert_eq!(titles("finished"), ["Warm spaces"]);
    assert_eq!(titles("lessons"), ["Share the rota early"]);
    assert_eq!(titles("people"), ["Sam Patel"]);
    assert_eq!(
        digest["started"][0]["organisation"],
        "Leicestershire Police"
    );
    assert_eq!(digest["started"][0]["address"], triage.as_str());
    assert_eq!(digest["people"][0]["interests"][0], "chatbots");
    council
        .run(&["network", "digest", &pilots, "--since", "7d"])
        .ok()
        .stdout_has("## Experiments under way (1)")
        .stdout_has("- **Joint triage rota** — Leicestershire Police · running · new")
        .stdout_has("wants to learn: chatbots");
    council
        .run(&["network", "digest", &pilots, "--since", "20000d"])
        .code(2)
        .stderr_has("0 to 3660 days");

    let map = council
        .run(&["network", "map", &pilots, "--json"])
        .ok()
        .json();
    let police_row = map["organisations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Leicestershire Police")
        .unwrap()
        .clone();
    assert_eq!(police_row["experiments"]["running"], 1, "{map}");
    assert_eq!(police_row["lessons"], 1);
    assert_eq!(police_row["people"], 1);
    // Two organisations work on welfare; triage is the police's alone.
    assert_eq!(map["topics"][0]["topic"], "welfare", "{map}");
    assert_eq!(map["topics"][0]["organisations"], 2);
    council
        .run(&["network", "map", &pilots])
        .ok()
        .stdout_has("Members with nothing in the network yet: (no profile held)");

    // Featured work: only a convenor features, only the network's records, first in searches
    // within the network and marked in results.
    police
        .run(&["network", "feature", &pilots, &triage])
        .code(2)
        .stderr_has("only a convenor");
    let public = council.search_addresses(&["burglary"]);
    council
        .run(&["network", "feature", &pilots, &public[0]])
        .code(2)
        .stderr_has("only what is published into the network");
    let warm = council.search_addresses(&["warm", "spaces"]);
    let within = |home: &Home| -> Vec<serde_json::Value> {
        home.run(&[
            "search",
            "--network",
            "East Midlands Pilots",
            "--kind",
            "experiment",
            "--json",
        ])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .clone()
    };
    assert_eq!(within(&council).len(), 2);
    council.run(&["network", "feature", &pilots, &warm[0]]).ok();
    let hits = within(&council);
    assert_eq!(hits[0]["address"], warm[0].as_str());
    assert_eq!(hits[0]["featured"][0], "East Midlands Pilots");
    assert_eq!(hits[1]["featured"].as_array().unwrap().len(), 0);
    council
        .run(&["network", "show", &pilots])
        .ok()
        .stdout_has("featured:")
        .stdout_has(&warm[0]);
    council
        .run(&["show", &warm[0]])
        .ok()
        .stdout_has("featured by: East Midlands Pilots");
    council
        .run(&["network", "feature", &pilots, &warm[0], "--remove"])
        .ok();
    assert!(
        council
            .run(&["network", "show", &pilots, "--json"])
            .ok()
            .json()["featured"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn an_open_networks_records_reach_the_nodes_that_joined_it_and_no_others() {
    let _turn = turn();
    let (convenor, joiner, bystander) = (
        Home::init("Innopints Leicester"),
        Home::init("Blaby District Council"),
        Home::init("Charnwood Borough Council"),
    );
    let _nodes = started(&[&convenor, &joiner, &bystander]);
    let innopints = convenor
        .run(&["network", "create", "Innopints"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let ticket = convenor.run(&["network", "ticket", &innopints]).ok().stdout;
    joiner.run(&["network", "join", ticket.trim()]).ok();
    bystander
        .run(&["peers", "add", &crate::util::ticket(&convenor)])
        .ok();
    wait_until(Duration::from_secs(60), "both hold the charter", || {
        [&joiner, &bystander]
            .iter()
            .all(|home| home.run(&["network", "list", "--json"]).code == 0)
    });
    // Open: the joiner, not even a member, publishes into it.
    let talk = publish_into(
        &joiner,
        "talk.toml",
        &experiment(
            "Pints and pilots",
            "Monthly meetup on what councils are trying",
        ),
        &["Innopints"],
    );
    let public = publish_into(
        &joiner,
        "public.toml",
        &experiment("Open planning data", "Planning applications as open data"),
        &[],
    );
    wait_until(
        Duration::from_secs(60),
        "the convenor gets the network's record",
        || holds(&convenor, &talk),
    );
    wait_until(
        Duration::from_secs(60),
        "the bystander gets the commons record",
        || holds(&bystander, &public),
    );
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        !holds(&bystander, &talk),
        "a node that did not join the network replicated its record"
    );
    assert_eq!(
        convenor.search_addresses(&["pints", "--network", "Innopints"]),
        std::slice::from_ref(&talk)
    );
}

#[test]
fn members_find_each_other_through_the_dht_and_again_after_restarts_without_tickets() {
    let _turn = turn();
    let (convenor, first, second) = (
        Home::init("Innopints Leicester"),
        Home::init("Blaby District Council"),
        Home::init("Charnwood Borough Council"),
    );
    // One peer is enough for these two: only the DHT can bring them together.
    for home in [&first, &second] {
        home.set_node_config("target_peers = 1");
    }
    let _convenor_node = started(&[&convenor]);
    let innopints = create_network(&convenor, "Innopints", true);
    let ticket = convenor.run(&["network", "ticket", &innopints]).ok().stdout;
    let mut nodes = started(&[&first, &second]);
    for home in [&first, &second] {
        home.run(&["network", "join", ticket.trim()]).ok();
    }
    let (first_id, second_id) = (crate::util::peer_id(&first), crate::util::peer_id(&second));
    let connected = |home: &Home, peer: &str| {
        crate::util::status(home)["peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["peer_id"] == peer)
    };
    wait_until(
        Duration::from_secs(90),
        "the members find each other",
        || connected(&first, &second_id) || connected(&second, &first_id),
    );
    // Restarted, they know only the convenor's node (their peer books), and meet again.
    for node in nodes.drain(..) {
        node.stop();
    }
    let _restarted = [NodeProcess::start(&first), NodeProcess::start(&second)];
    wait_until(Duration::from_secs(90), "the members meet again", || {
        connected(&first, &second_id) || connected(&second, &first_id)
    });
}

#[test]
fn an_outsider_that_asks_a_member_directly_gets_nothing_of_a_members_only_network() {
    use convene_protocol::wire::{Request, Response};
    let _turn = turn();
    let council = Home::init("Leicester City Council");
    let _node = started(&[&council]);
    let pilots = create_network(&council, "East Midlands Pilots", true);
    let secret = publish_into(
        &council,
        "secret.toml",
        &experiment("Budget pilot", "Not for outsiders yet"),
        &[&pilots],
    );
    let id: convene_protocol::RecordId =
        council.run(&["show", &secret, "--json"]).ok().json()["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
    // A node of no member organisation connects to the council's node and asks.
    let (_dir, runtime, outsider, outsider_id) = crate::federation::attacker_joins(&council);
    let council_id: libp2p::PeerId = crate::util::peer_id(&council).parse().unwrap();
    wait_until(Duration::from_secs(20), "the outsider connects", || {
        crate::util::status(&council)["peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["peer_id"] == outsider_id.as_str())
    });
    let ask = |request: Request| runtime.block_on(outsider.request_unchecked(council_id, request));
    // By id: served, but nothing sent — as if the record were not held.
    match ask(Request::Fetch { ids: vec![id] }).unwrap() {
        Response::Records { served, records } => {
            assert_eq!(served, 1);
            assert!(records.is_empty(), "the record was sent to an outsider");
        }
        other => panic!("{other:?}"),
    }
    // By reconciliation, asking for the network's scope: the set offered leaves it out.
    let network: convene_protocol::NetworkId = pilots.parse().unwrap();
    let (mut reconciler, mut message) =
        convene_protocol::sync::Reconciler::initiate(Vec::new()).unwrap();
    let mut offered = Vec::new();
    for session in 0.. {
        let answer = match ask(Request::Reconcile {
            session: 7,
            scope: vec![network.clone(), convene_protocol::NetworkId::Commons],
            message,
        })
        .unwrap()
        {
            Response::Reconcile { message } => message,
            other => panic!("{other:?}"),
        };
        let round = reconciler.take_answer(&answer).unwrap();
        offered.extend(round.need);
        match round.next {
            Some(next) if session < 10 => message = next,
            _ => break,
        }
    }
    assert!(!offered.is_empty(), "the charter and profile are offered");
    assert!(
        !offered.contains(&id),
        "the members-only record was offered to an outsider"
    );
}
