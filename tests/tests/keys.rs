//! Keys that change: a delegate's revocation with a cut-off it cannot backdate around, an
//! organisation's rotation to a new key that keeps its old addresses working, and recovery
//! after a stolen key that wins over the thief's own rotation. Each home is its own process
//! and node; records travel between them as a node's export and import.

use convene_protocol::{Content, Experiment, Identity, Record, Slug, Status};

use crate::util::{Home, key_of};

fn experiment(title: &str, summary: &str) -> String {
    format!(
        "kind = \"experiment\"\ntitle = \"{title}\"\nsummary = \"{summary}\"\nstatus = \"running\"\n"
    )
}

/// The home's signing identity, read from its key file.
fn identity(home: &Home) -> Identity {
    let text = std::fs::read_to_string(home.path.join("identity.key")).unwrap();
    let bytes: Vec<u8> = (0..64)
        .step_by(2)
        .map(|at| u8::from_str_radix(&text.trim()[at..at + 2], 16).unwrap())
        .collect();
    Identity::from_secret(bytes.try_into().unwrap())
}

/// Imports `from`'s export into `to`; returns the import report (some lines may be refused).
fn carry_report(from: &Home, to: &Home) -> serde_json::Value {
    let export = from.run(&["export"]).ok().stdout;
    let file = to.file("carried.jsonl", &export);
    let run = to.run(&["import", file.to_str().unwrap(), "--json"]);
    assert!(matches!(run.code, 0 | 3), "{run}");
    run.json()
}

/// Imports one signed record into `to`; returns the import report.
fn offer(to: &Home, record: &Record) -> serde_json::Value {
    let line = serde_json::json!({ "record": base64_of(record.bytes()) });
    let file = to.file("offered.jsonl", &format!("{line}\n"));
    let run = to.run(&["import", file.to_str().unwrap(), "--json"]);
    assert!(matches!(run.code, 0 | 3), "{run}");
    run.json()
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An experiment signed by `identity` with any date: what a thief or a revoked key would try.
fn signed_experiment(identity: &Identity, slug: &str, title: &str, created_at: i64) -> Record {
    Record::sign(
        identity,
        Slug::new(slug).unwrap(),
        1,
        created_at,
        Content::Experiment(Experiment {
            title: title.into(),
            summary: "signed outside the home".into(),
            status: Status::Running,
            ..Experiment::default()
        }),
    )
    .unwrap()
}

fn finds(home: &Home, text: &str) -> Vec<serde_json::Value> {
    let run = home.run(&["search", text, "--json"]);
    match run.code {
        1 => Vec::new(),
        _ => run.ok().json().as_array().unwrap().clone(),
    }
}

#[test]
fn a_revoked_delegate_keeps_its_old_records_and_cannot_publish_or_backdate_new_ones() {
    let police = Home::init("Leicestershire Police");
    let brackley = Home::init("Brackley Borough Council");
    let police_key = police.own_key();
    // Sam runs a home of their own and consents to publish for the police.
    let sam = Home::empty();
    let consent = sam
        .run(&["init", "--for-org", &police_key])
        .ok()
        .stdout
        .lines()
        .last()
        .unwrap()
        .to_string();
    let sam_key = identity(&sam).author().to_string();
    // A consent given to someone else does not do.
    let other = Home::empty();
    let elsewhere = other
        .run(&["init", "--for-org", &brackley.own_key()])
        .ok()
        .stdout;
    police
        .run(&[
            "delegate",
            &identity(&other).author().to_string(),
            "--as",
            "Analyst",
            "--consent",
            elsewhere.lines().last().unwrap(),
        ])
        .code(2)
        .stderr_has("does not verify for your organisation");
    sam.publish(
        "sam.toml",
        "kind = \"practitioner\"\nname = \"Sam Patel\"\n",
    );
    carry_report(&sam, &police);
    police
        .run(&[
            "delegate",
            &sam_key,
            "--as",
            "Digital Lead",
            "--consent",
            &consent,
        ])
        .ok();
    // The delegation names the person as their record did.
    let delegates = police.run(&["org", "delegates", "--json"]).ok().json();
    assert_eq!(delegates[0]["person"], "Sam Patel", "{delegates}");
    let drones = sam.publish(
        "drones.toml",
        &experiment("Drone pilot", "Drones for searches"),
    );
    carry_report(&police, &brackley);
    carry_report(&sam, &brackley);
    carry_report(&sam, &police);
    let hit = &finds(&brackley, "drone")[0];
    assert_eq!(hit["address"], drones.as_str());
    assert_eq!(hit["trust"]["basis"], "delegated", "{hit}");
    assert_eq!(hit["organisation"], "Leicestershire Police", "{hit}");
    assert!(hit["trust"].get("conflicts").is_none(), "{hit}");
    // The person's record changes name: the delegation shows as stale.
    sam.publish(
        "sam.toml",
        "kind = \"practitioner\"\nslug = \"sam-patel\"\nname = \"Jo Bloggs\"\n",
    );
    carry_report(&sam, &brackley);
    let hit = &finds(&brackley, "drone")[0];
    assert!(
        hit["trust"]["path"]
            .as_str()
            .unwrap()
            .contains("STALE: the delegation names Sam Patel; the person's record says Jo Bloggs"),
        "{hit}"
    );

    police
        .run(&["org", "revoke", &sam_key, "--reason", "left the force"])
        .ok()
        .stderr_has("the 2 records of it this node holds stay valid");
    let delegates = police.run(&["org", "delegates", "--json"]).ok().json();
    assert_eq!(delegates[0]["status"], "revoked", "{delegates}");
    carry_report(&police, &brackley);

    // What Sam signs now is refused on every node that holds the revocation, and so is a
    // record dated before the revocation: a revoked key cannot backdate.
    sam.publish("boats.toml", &experiment("Boat patrols", "River patrols"));
    // Refused too: the renamed practitioner record, which the police never held when it
    // revoked (so it could not vouch that it came before).
    let report = carry_report(&sam, &brackley);
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{report}");
    for rejection in rejected {
        assert!(
            rejection["reason"]
                .as_str()
                .unwrap()
                .contains("revoked by the organisation it acted for"),
            "{report}"
        );
    }
    let backdated = signed_experiment(&identity(&sam), "old-plan", "Backdated plan", 1_600_000_000);
    for node in [&brackley, &police] {
        let report = offer(node, &backdated);
        assert_eq!(report["stored"], 0, "{report}");
        assert!(finds(node, "boat").is_empty());
        assert!(finds(node, "backdated").is_empty());
    }
    // The old record stays, shown with how the key ended.
    let hit = &finds(&brackley, "drone")[0];
    assert_eq!(hit["address"], drones.as_str());
    assert!(
        hit["trust"]["path"].as_str().unwrap().contains(
            "this key was revoked by the organisation it acted for (Leicestershire Police)"
        ),
        "{hit}"
    );
}

#[test]
fn a_rotated_organisation_keeps_its_old_addresses_working_on_every_node() {
    let ashdown = Home::init("Ashdown Vale District Council");
    let brackley = Home::init("Brackley Borough Council");
    let old_key = ashdown.own_key();
    let fridges = ashdown.publish(
        "fridges.toml",
        &experiment("Community fridges", "Shared fridges"),
    );
    let old_identity = identity(&ashdown);
    carry_report(&ashdown, &brackley);
    brackley
        .run(&["trust", &old_key, "--as", "Ashdown Vale District Council"])
        .ok();

    ashdown
        .run(&["org", "rotate", "--reason", "yearly rotation"])
        .ok()
        .stderr_has("re-signed under the new one");
    let new_key = identity(&ashdown).author().to_string();
    assert_ne!(new_key, old_key);
    carry_report(&ashdown, &brackley);

    for node in [&ashdown, &brackley] {
        // The old address resolves to the new key's record, found once, under the old name.
        let shown = node.run(&["show", &fridges, "--json"]).ok().json();
        assert_eq!(
            key_of(shown["address"].as_str().unwrap()),
            new_key,
            "{shown}"
        );
        let hits = finds(node, "fridges");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0]["organisation"], "Ashdown Vale District Council");
    }
    let hit = &finds(&brackley, "fridges")[0];
    assert_eq!(hit["trust"]["basis"], "succeeds", "{hit}");
    assert!(
        hit["trust"]["path"]
            .as_str()
            .unwrap()
            .contains("pinned by this node"),
        "the new key inherits the pin on the old one: {hit}"
    );
    // The new key continues the same records: an edit is the next version.
    let edited = ashdown.publish(
        "fridges.toml",
        &experiment("Community fridges", "Shared fridges, now in ten libraries"),
    );
    assert_eq!(key_of(&edited), new_key);
    // The old key is gone from the home, and its word has ended: what it signs is refused.
    let left: Vec<String> = std::fs::read_dir(&ashdown.path)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("identity"))
        .collect();
    assert_eq!(left, ["identity.key"]);
    let late = signed_experiment(&old_identity, "late", "Late idea", 1_700_000_000);
    assert_eq!(offer(&brackley, &late)["stored"], 0);
}

#[test]
fn a_recovery_after_a_stolen_key_refuses_the_thiefs_records_and_beats_its_rotation() {
    let ashdown = Home::init("Ashdown Vale District Council");
    let brackley = Home::init("Brackley Borough Council");
    let old_key = ashdown.own_key();
    let fridges = ashdown.publish(
        "fridges.toml",
        &experiment("Community fridges", "Shared fridges"),
    );
    let kit = ashdown.path.parent().unwrap().join("kit.toml");
    ashdown
        .run(&["org", "recovery-kit", "--out", kit.to_str().unwrap()])
        .ok();
    carry_report(&ashdown, &brackley);

    // A thief copies the key, publishes under it and rotates it to a key of its own.
    let thief = Home::init("Somebody Else");
    std::fs::copy(
        ashdown.path.join("identity.key"),
        thief.path.join("identity.key"),
    )
    .unwrap();
    carry_report(&ashdown, &thief);
    thief.publish(
        "grab.toml",
        &experiment("Send us your data", "A phishing page"),
    );
    thief.run(&["org", "rotate"]).ok();
    let thief_key = identity(&thief).author().to_string();
    carry_report(&thief, &brackley);
    assert_eq!(
        finds(&brackley, "phishing").len(),
        1,
        "the theft worked at first"
    );

    // The thief's rotation reaches the council's own node too (regression: the recovery was
    // then refused as "already rotated").
    carry_report(&thief, &ashdown);
    // The council recovers with its kit, on its own home: it looks first at what a recovery
    // would keep, and leaves out the record that is not its own.
    let preview = ashdown
        .run(&[
            "org",
            "recover",
            "--kit",
            kit.to_str().unwrap(),
            "--dry-run",
        ])
        .ok();
    let grab = preview
        .stdout
        .lines()
        .find(|line| line.contains("Send us your data"))
        .and_then(|line| line.split('\t').nth(1))
        .expect("the thief's record is listed")
        .to_string();
    assert!(preview.stdout.contains("Community fridges"), "{preview}");
    ashdown
        .run(&[
            "org",
            "recover",
            "--kit",
            kit.to_str().unwrap(),
            "--drop",
            &grab,
            "--reason",
            "key stolen",
        ])
        .ok()
        .stderr_has("re-signed under the new one");
    let new_key = identity(&ashdown).author().to_string();
    carry_report(&ashdown, &brackley);
    // Recovery wins over the thief's rotation, whatever the order the statements came in.
    carry_report(&thief, &brackley);
    // What the thief signed with the stolen key is gone; what it signed with its own new key
    // is only its own claim, flagged next to the council.
    for hit in finds(&brackley, "phishing") {
        assert_eq!(key_of(hit["address"].as_str().unwrap()), thief_key, "{hit}");
        assert_eq!(hit["trust"]["basis"], "unverified", "{hit}");
        assert!(
            hit["trust"]["path"].as_str().unwrap().contains("CONFLICT"),
            "{hit}"
        );
    }
    // The council's record under its new key, and the thief's copy under its own key as a
    // flagged claim: never the thief's copy as the council's.
    let hits = finds(&brackley, "fridges");
    let (council, others): (Vec<_>, Vec<_>) = hits
        .iter()
        .partition(|hit| key_of(hit["address"].as_str().unwrap()) == new_key);
    assert_eq!(council.len(), 1, "{hits:?}");
    assert_eq!(council[0]["trust"]["basis"], "succeeds", "{}", council[0]);
    for hit in others {
        assert_eq!(key_of(hit["address"].as_str().unwrap()), thief_key, "{hit}");
        assert!(
            hit["trust"]["path"].as_str().unwrap().contains("CONFLICT"),
            "{hit}"
        );
    }
    let shown = brackley.run(&["show", &fridges, "--json"]).ok().json();
    assert_eq!(key_of(shown["address"].as_str().unwrap()), new_key);
    let old = brackley.run(&["trust", &old_key]).ok();
    assert!(
        old.stdout.contains("recovered with a recovery key"),
        "{old}"
    );
    // The thief's new key is not the council's successor: it is only a claim.
    let thief_trust = brackley.run(&["trust", &thief_key, "--json"]).ok().json();
    assert_ne!(thief_trust["basis"], "succeeds", "{thief_trust}");
}
