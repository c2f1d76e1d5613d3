//! Wider search: a node asks its connected peers to search their own records, in parallel and
//! for a bounded time. Here the wanted record lives only in an open network the asking node
//! has not joined; one peer answers with a record whose bytes were altered on its disk, and one
//! never answers (its process is stopped).

use std::process::Command;
use std::time::Duration;

use crate::util::{
    Home, NodeProcess, create_network, publish_into, status, ticket, turn, wait_until,
};

fn experiment(title: &str, summary: &str) -> String {
    format!(
        "kind = \"experiment\"\ntitle = \"{title}\"\nsummary = \"{summary}\"\nstatus = \"running\"\n"
    )
}

fn connected(home: &Home) -> usize {
    status(home)["peers"].as_array().unwrap().len()
}

#[test]
fn a_wider_search_finds_what_peers_hold_verifies_it_and_says_who_answered() {
    let _turn = turn();
    let asker = Home::init("Asker Council");
    let holder = Home::init("Holder Council");
    let damaged = Home::init("Damaged Council");
    let silent = Home::init("Silent Council");
    // The holder's wanted record is in an open network the asker does not replicate, and its
    // members-only record must never reach the asker.
    let open = create_network(&holder, "Solar Pilots", false);
    let closed = create_network(&holder, "Quiet Pilots", true);
    let wanted = publish_into(
        &holder,
        "shelters.toml",
        &experiment("Solar bus shelters", "Shelters that light themselves"),
        &[&open],
    );
    publish_into(
        &holder,
        "sun.toml",
        "kind = \"practitioner\"\nname = \"Sunita Rao\"\nrole = \"Energy officer\"\nexpertise = [\"solar\"]\n",
        &[&open],
    );
    publish_into(
        &holder,
        "quiet.toml",
        &experiment("Solar quiet roofs", "Only for members"),
        &[&closed],
    );
    // The damaged node's record is altered on its disk after it was signed: same length, so
    // the store still reads it, but its signature no longer matches.
    publish_into(
        &damaged,
        "lamps.toml",
        &experiment("Solar lamp posts", "Street lights"),
        &[],
    );
    let store = damaged.path.join("data/store.redb");
    let bytes = std::fs::read(&store).unwrap();
    let needle = b"Solar lamp posts";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the title is in the store file");
    let mut altered = bytes.clone();
    altered[at..at + needle.len()].copy_from_slice(b"Solar lamp pests");
    std::fs::write(&store, altered).unwrap();

    asker.set_node_config("web = \"127.0.0.1:0\"");
    let nodes: Vec<NodeProcess> = [&asker, &holder, &damaged, &silent]
        .iter()
        .map(|home| NodeProcess::start(home))
        .collect();
    for other in [&holder, &damaged, &silent] {
        asker.run(&["peers", "add", &ticket(other)]).ok();
    }
    wait_until(
        Duration::from_secs(60),
        "the asker connects to all three",
        || connected(&asker) == 3,
    );
    // Without --wider, the asker does not have it.
    asker
        .run(&["search", "solar", "shelters", "--kind", "experiment"])
        .code(1);
    // The silent node stops answering, its connections still open.
    let silent_pid = nodes[3].child.id().to_string();
    Command::new("kill")
        .args(["-STOP", &silent_pid])
        .status()
        .unwrap();

    let run = asker.run(&["search", "solar", "--wider", "--wait", "3", "--json"]);
    Command::new("kill")
        .args(["-CONT", &silent_pid])
        .status()
        .unwrap();
    let found = run.ok().json();
    let results = found["results"].as_array().unwrap();
    let titles: Vec<&str> = results
        .iter()
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert!(titles.contains(&"Solar bus shelters"), "{found}");
    assert!(
        !titles.contains(&"Solar quiet roofs"),
        "a members-only record reached a non-member: {found}"
    );
    assert!(
        !titles.iter().any(|t| t.contains("lamp")),
        "an altered record was shown: {found}"
    );
    let hit = results
        .iter()
        .find(|r| r["address"] == wanted.as_str())
        .unwrap();
    assert_eq!(hit["from"][0], crate::util::peer_id(&holder));
    assert_eq!(hit["held"], false);
    assert!(
        hit["trust"]["path"]
            .as_str()
            .unwrap()
            .contains("Holder Council"),
        "{hit}"
    );
    let outcome = |home: &Home| {
        let id = crate::util::peer_id(home);
        found["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["peer"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} was not asked: {found}"))
            .clone()
    };
    assert_eq!(outcome(&holder)["outcome"], "answered");
    assert_eq!(outcome(&damaged)["outcome"], "answered");
    assert!(
        outcome(&damaged)["invalid"].as_u64().unwrap() >= 1,
        "{found}"
    );
    assert_eq!(outcome(&silent)["outcome"], "timed_out");

    // People too: practitioners on the topic, from the peers.
    let people = asker
        .run(&["people", "solar", "--wider", "--json"])
        .ok()
        .json();
    assert_eq!(people["results"][0]["title"], "Sunita Rao", "{people}");
    assert_eq!(people["results"][0]["kind"], "practitioner");

    // The same from the web page, for a signed-in colleague: verified results, and a button to
    // keep each; keeping goes through the admission step, which refuses a record of a network
    // this node does not replicate.
    let web = status(&asker)["web"].as_str().unwrap().to_string();
    let visitor = crate::colleagues::Browser::new(&web).get("/wider?q=solar");
    assert_eq!(
        visitor.status, 403,
        "a visitor cannot spend the node's welcome with its peers"
    );
    let (browser, csrf) = crate::colleagues::signed_in(&asker, &web, "Priya Shah");
    let page = browser.get("/wider?q=solar+shelters");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Solar bus shelters"), "{}", page.body);
    assert!(!page.body.contains("Solar quiet roofs") && !page.body.contains("lamp"));
    assert!(page.body.contains("Holder Council"), "{}", page.body);
    let record = hit["record"].as_str().unwrap();
    let refused = browser.post(
        "/keep",
        &crate::colleagues::form(&[("csrf", &csrf), ("record", record)]),
    );
    assert_eq!(refused.status, 409, "{}", refused.body);
    let mut forged = record.to_string();
    forged.replace_range(40..44, "AAAA");
    let forged = browser.post(
        "/keep",
        &crate::colleagues::form(&[("csrf", &csrf), ("record", &forged)]),
    );
    assert_eq!(
        forged.status, 400,
        "an altered record is not kept: {}",
        forged.body
    );

    // Keeping it goes through the admission step: a record of a network this node does not
    // replicate is not stored, and the command says why.
    let kept = asker
        .run(&[
            "search",
            "solar",
            "shelters",
            "--kind",
            "experiment",
            "--wider",
            "--keep",
        ])
        .ok();
    assert!(kept.stderr.contains("not kept"), "{kept}");
    asker.run(&["network", "join", &open]).ok();
    asker
        .run(&[
            "search",
            "solar",
            "shelters",
            "--kind",
            "experiment",
            "--wider",
            "--keep",
        ])
        .ok()
        .stderr_has("kept 1 of 1");
    assert_eq!(
        asker.search_addresses(&["solar", "shelters", "--kind", "experiment"]),
        std::slice::from_ref(&wanted)
    );
    // Now that it is held, the page says so instead of offering to keep it; and a colleague
    // keeps the person from the page.
    let page = browser.get("/wider?q=solar");
    assert!(
        page.body.contains("Already in this directory"),
        "{}",
        page.body
    );
    let person = people["results"][0]["record"].as_str().unwrap();
    let kept = browser.post(
        "/keep",
        &crate::colleagues::form(&[("csrf", &csrf), ("record", person)]),
    );
    assert_eq!(kept.status, 303, "{}", kept.body);
    assert!(kept.header("location").unwrap().ends_with("&done=kept"));
    asker
        .run(&["people", "solar"])
        .ok()
        .stdout_has("Sunita Rao");
    for node in nodes {
        node.stop();
    }
}
