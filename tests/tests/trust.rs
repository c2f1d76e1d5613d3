//! Organisational trust: a record's organisation is its author's, shown with how this node knows
//! who the author is (the trust path); an impostor's profile is flagged, never merged; the
//! operator's pin is the strongest word.

use crate::https;
use crate::util::{Home, NodeProcess, carry, key_of, turn};

const HOUSING: &str = r#"
kind = "experiment"
title = "AI housing allocation"
summary = "Matching applicants to social housing with a scoring model"
status = "running"
organisation = "Ashdown Vale District Council"
"#;

fn search_json(home: &Home, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["search", "--json"];
    all.extend_from_slice(args);
    home.run(&all).ok().json()
}

#[test]
fn a_record_claiming_another_organisation_shows_its_real_author_as_unverified() {
    let ashdown = Home::init("Ashdown Vale District Council");
    let brackley = Home::init("Brackley Borough Council");
    let address = brackley.publish("housing.toml", HOUSING);
    let brackley_key = key_of(&address);
    carry(&brackley, &ashdown);

    // The bug this pins: the draft's free text showed as the organisation and `--org` matched it.
    let hits = search_json(&ashdown, &["housing"]);
    let hit = &hits[0];
    assert_eq!(hit["address"], address.as_str());
    assert_eq!(hit["organisation"], "Brackley Borough Council", "{hit}");
    assert_eq!(hit["trust"]["basis"], "unverified");
    assert_eq!(
        hit["trust"]["path"],
        "unverified: calls itself Brackley Borough Council"
    );
    ashdown
        .run(&[
            "search",
            "housing",
            "--org",
            "Ashdown Vale District Council",
        ])
        .code(1);
    assert_eq!(
        ashdown.search_addresses(&["housing", "--org", "Brackley Borough Council"]),
        std::slice::from_ref(&address)
    );
    let shown = ashdown.run(&["show", &address, "--json"]).ok().json();
    assert_eq!(shown["organisation"], "Brackley Borough Council");
    assert_eq!(
        shown["organisation_claimed"],
        "Ashdown Vale District Council"
    );
    ashdown
        .run(&["show", &address])
        .ok()
        .stdout_has("by: unverified: calls itself Brackley Borough Council");
    // Its own records are its own.
    let own_key = ashdown.own_key();
    let own = ashdown.run(&["trust", &own_key]).ok();
    assert!(own.stdout.contains("this node's own identity"), "{own}");

    // The operator's word: pinned, with the note, and taken back.
    ashdown
        .run(&[
            "trust",
            &brackley_key,
            "--as",
            "Brackley Borough Council",
            "--note",
            "checked by phone",
        ])
        .ok()
        .stderr_has("pinned by this node (checked by phone)");
    let hit = &search_json(&ashdown, &["housing"])[0];
    assert_eq!(hit["trust"]["basis"], "pinned", "{hit}");
    let pins = ashdown.run(&["trust", "--json"]).ok().json();
    assert_eq!(pins[0]["key"], brackley_key.as_str());
    assert_eq!(pins[0]["note"], "checked by phone");
    ashdown.run(&["distrust", &brackley_key]).ok();
    let hit = &search_json(&ashdown, &["housing"])[0];
    assert_eq!(hit["trust"]["basis"], "unverified");
    ashdown.run(&["distrust", &brackley_key]).code(1);
    ashdown.run(&["trust", "--json"]).code(1);
}

#[test]
fn two_organisations_under_one_name_are_flagged_on_both() {
    let ashdown = Home::init("Ashdown Vale District Council");
    let impostor = Home::init("Ashdown Vale District Council");
    let address = impostor.publish("housing.toml", HOUSING);
    let impostor_key = key_of(&address);
    carry(&impostor, &ashdown);

    let hit = &search_json(&ashdown, &["housing"])[0];
    assert_eq!(hit["organisation"], "Ashdown Vale District Council");
    assert_eq!(hit["trust"]["basis"], "unverified");
    let path = hit["trust"]["path"].as_str().unwrap();
    assert!(path.contains("CONFLICT"), "{path}");
    assert_eq!(hit["trust"]["conflicts"].as_array().unwrap().len(), 1);
    // The real one is flagged too: the name is not taken over, it is contested.
    let own = ashdown
        .run(&["search", "--json", "--kind", "organisation"])
        .ok()
        .json();
    let flagged = own
        .as_array()
        .unwrap()
        .iter()
        .filter(|hit| !hit["trust"]["conflicts"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(flagged, 2, "both profiles carry the flag: {own}");
    // Pinning the impostor under its own name ends the conflict.
    ashdown
        .run(&[
            "trust",
            &impostor_key,
            "--as",
            "Unknown group using our name",
        ])
        .ok();
    let hit = &search_json(&ashdown, &["housing"])[0];
    assert_eq!(hit["organisation"], "Unknown group using our name");
    assert!(
        hit["trust"]["conflicts"]
            .as_array()
            .is_none_or(|c| c.is_empty()),
        "{hit}"
    );
    ashdown
        .run(&["search", "housing", "--org", "Unknown group using our name"])
        .ok();
}

#[test]
fn pins_work_through_a_running_node_and_bad_ones_are_refused() {
    let _turn = turn();
    let ashdown = Home::init("Ashdown Vale District Council");
    let brackley = Home::init("Brackley Borough Council");
    let address = brackley.publish("housing.toml", HOUSING);
    carry(&brackley, &ashdown);
    let node = NodeProcess::start(&ashdown);
    let key = key_of(&address);
    ashdown
        .run(&["trust", &key, "--as", "Brackley BC"])
        .ok()
        .stderr_has("pinned by this node");
    let hit = &search_json(&ashdown, &["housing"])[0];
    assert_eq!(hit["organisation"], "Brackley BC");
    assert_eq!(hit["trust"]["basis"], "pinned");
    ashdown
        .run(&["trust", &key, "--as", "   "])
        .code(2)
        .stderr_has("the name is empty");
    ashdown
        .run(&["trust", &key, "--as", &"x".repeat(201)])
        .code(2)
        .stderr_has("over the limit of 200");
    node.stop();
    // The pin is the store's: it holds after the node is gone.
    let hit = &search_json(&ashdown, &["housing"])[0];
    assert_eq!(hit["trust"]["basis"], "pinned");
}

#[test]
fn a_vouch_from_an_organisation_this_node_trusts_names_the_subject() {
    let reader = Home::init("Reader Council");
    let ashdown = Home::init("Ashdown Vale District Council");
    let brackley = Home::init("Brackley Borough Council");
    let address = brackley.publish("housing.toml", HOUSING);
    let brackley_key = key_of(&address);
    let ashdown_key = ashdown.own_key();
    ashdown
        .run(&[
            "vouch",
            &brackley_key,
            "--as",
            "Brackley Borough Council",
            "--note",
            "partners on the housing pilot",
        ])
        .ok()
        .stderr_has("vouched for");
    ashdown
        .run(&["vouch", &ashdown_key, "--as", "Ourselves"])
        .code(2)
        .stderr_has("cannot vouch for itself");
    carry(&brackley, &reader);
    carry(&ashdown, &reader);

    // A vouch from an organisation the reader does not trust counts for nothing.
    let hit = &search_json(&reader, &["housing"])[0];
    assert_eq!(hit["trust"]["basis"], "unverified", "{hit}");

    // Once the reader pins Ashdown, Ashdown's word carries: one hop.
    reader
        .run(&[
            "trust",
            &ashdown_key,
            "--as",
            "Ashdown Vale District Council",
        ])
        .ok();
    let hit = &search_json(&reader, &["housing"])[0];
    assert_eq!(hit["trust"]["basis"], "vouched", "{hit}");
    assert_eq!(hit["trust"]["by"][0], ashdown_key.as_str());
    assert_eq!(
        hit["trust"]["path"],
        "Brackley Borough Council — vouched for by Ashdown Vale District Council (pinned)"
    );
    // On Ashdown's own node its vouch counts as its own word.
    carry(&brackley, &ashdown);
    let hit = &search_json(&ashdown, &["housing"])[0];
    assert!(
        hit["trust"]["path"]
            .as_str()
            .unwrap()
            .ends_with("(this node)"),
        "{hit}"
    );

    // Taken back: the retraction travels like any record, and the vouch stops counting.
    ashdown.run(&["vouch", &brackley_key, "--revoke"]).ok();
    carry(&ashdown, &reader);
    let hit = &search_json(&reader, &["housing"])[0];
    assert_eq!(hit["trust"]["basis"], "unverified", "{hit}");

    // A vouch that has expired counts for nothing either.
    ashdown
        .run(&[
            "vouch",
            &brackley_key,
            "--as",
            "Brackley Borough Council",
            "--until",
            "2020-01-01",
        ])
        .ok();
    carry(&ashdown, &reader);
    let hit = &search_json(&reader, &["housing"])[0];
    assert_eq!(hit["trust"]["basis"], "unverified", "{hit}");
}

/// The trust path of the organisation profile `home` holds for `key`.
fn profile_trust(home: &Home, key: &str) -> serde_json::Value {
    let hits = search_json(home, &["--kind", "organisation"]);
    hits.as_array()
        .unwrap()
        .iter()
        .find(|hit| key_of(hit["address"].as_str().unwrap()) == key)
        .unwrap_or_else(|| panic!("no profile of {key}: {hits}"))["trust"]
        .clone()
}

#[test]
fn a_domain_proof_is_checked_by_each_node_itself() {
    let _turn = turn();
    let ca = https::TestCa::new();
    let server = https::Server::start(&ca, false);
    let domain = server.domain();
    let ashdown = Home::init("Ashdown Vale District Council");
    let ashdown_key = ashdown.own_key();
    let reader = Home::init("Reader Council");
    reader.set_node_config(&format!(
        "https_ca_file = {:?}",
        ca.pem_path.display().to_string()
    ));
    let proof = ashdown
        .run(&["org", "domain", &domain])
        .ok()
        .stderr_has("/.well-known/convene.json");
    server.serve(&proof.stdout);
    carry(&ashdown, &reader);
    assert_eq!(
        profile_trust(&reader, &ashdown_key)["path"],
        format!(
            "unverified: calls itself Ashdown Vale District Council ({domain} not checked yet)"
        )
    );

    // Valid: a running node checks by itself, soon after it starts.
    let node = NodeProcess::start(&reader);
    // And soon after a profile arrives, without waiting for its hourly round (once, a new
    // profile stayed "not checked yet" for up to an hour). Its first round is over by now.
    std::thread::sleep(std::time::Duration::from_secs(7));
    let newcomer = Home::init("Newcomer Council");
    newcomer.run(&["org", "domain", &domain]).ok();
    carry(&newcomer, &reader);
    let newcomer_key = newcomer.own_key();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !profile_trust(&reader, &newcomer_key)["path"]
        .as_str()
        .unwrap()
        .contains("did not verify")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the node did not check a newly arrived profile's domain"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while profile_trust(&reader, &ashdown_key)["basis"] != "verified" {
        assert!(
            std::time::Instant::now() < deadline,
            "the node did not verify {domain}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(
        profile_trust(&reader, &ashdown_key)["path"],
        format!("Ashdown Vale District Council — verified: {domain}")
    );
    node.stop();

    // Wrong key: the domain serves a proof for another organisation's key.
    let other = Home::init("Other Council");
    let wrong = other.run(&["org", "domain", &domain]).ok().stdout;
    server.serve(&wrong);
    let checks = reader.run(&["org", "check", "--all", "--json"]).ok().json();
    let ours = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["key"] == ashdown_key.as_str())
        .unwrap();
    assert_eq!(ours["verified"], false);
    assert!(
        ours["reason"]
            .as_str()
            .unwrap()
            .contains("does not list key"),
        "{ours}"
    );
    assert_eq!(profile_trust(&reader, &ashdown_key)["basis"], "unverified");

    // An expired certificate proves nothing.
    let expired = https::Server::start(&ca, true);
    let expired_domain = expired.domain();
    let proof = ashdown.run(&["org", "domain", &expired_domain]).ok().stdout;
    expired.serve(&proof);
    carry(&ashdown, &reader);
    let checks = reader.run(&["org", "check", "--json"]).ok().json();
    let reason = checks[0]["reason"].as_str().unwrap().to_lowercase();
    assert!(
        reason.contains("expired") || reason.contains("certificate"),
        "{reason}"
    );
    assert_eq!(profile_trust(&reader, &ashdown_key)["basis"], "unverified");

    // Unreachable: nothing answers.
    drop(expired);
    ashdown.run(&["org", "domain", &expired_domain]).ok();
    carry(&ashdown, &reader);
    let checks = reader.run(&["org", "check", "--all", "--json"]).ok().json();
    let ours = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["key"] == ashdown_key.as_str())
        .unwrap();
    assert_eq!(ours["verified"], false);
    assert!(
        profile_trust(&reader, &ashdown_key)["path"]
            .as_str()
            .unwrap()
            .contains("did not verify"),
    );
}
