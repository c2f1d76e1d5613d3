//! Golden vectors: signed records checked into `tests/vectors.json`. They must keep verifying and
//! decoding to the same content, and this version of the encoder must still produce exactly
//! their bytes. A failure here means the record format changed: that needs a new format
//! version, not new vectors. Regenerate (only for a deliberate new vector) with
//! `CONVENE_BLESS=1 cargo test -p convene-protocol golden`.

use std::collections::BTreeMap;

use convene_protocol::{
    Binding, Charter, ContactCard, ContactVisibility, Content, Delegation, Experiment, Featured,
    Identity, Interest, Kind, Lesson, NetworkId, NetworkPolicy, Organisation, Practitioner, Record,
    Slug, Status, Vouch,
};
use serde_json::{Value, json};

use crate::NOW;
use crate::layout::{field, raw_record};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors.json");
const SEED: [u8; 32] = [42; 32];
const CREATED_AT: i64 = 1_735_732_800; // 2025-01-01T12:00:00Z

fn fresh_vectors() -> Value {
    let identity = Identity::from_secret(SEED);
    let author = identity.author();
    let person = |slug: &str| -> convene_protocol::Address {
        format!("convene://{author}/practitioner/{slug}")
            .parse()
            .unwrap()
    };
    let experiment = Content::Experiment(Experiment {
        title: "Virtual town hall meetings".into(),
        summary: "Monthly online public meetings with phone dial-in".into(),
        description: Some(
            "Streamed, with questions by web form, chat and phone.\nRecordings published.".into(),
        ),
        status: Status::Running,
        started: Some("2024-03-01".parse().unwrap()),
        ended: None,
        organisation: Some("Example Metropolitan Council".into()),
        contacts: vec![person("priya-shah")],
        tags: vec!["online engagement".into(), "digital inclusion".into()],
        sector: Some("local government".into()),
        region: Some("Yorkshire".into()),
        context: BTreeMap::from([
            ("budget".to_string(), "under £20k a year".to_string()),
            ("population".to_string(), "800,000".to_string()),
        ]),
        outcomes: Some("Attendance up from 40 to 210.".into()),
        links: vec!["https://example.org/town-hall".into()],
        adopted_from: Some(
            format!("convene://{author}/experiment/ward-forums")
                .parse()
                .unwrap(),
        ),
        review_by: Some("2027-03-01".parse().unwrap()),
        networks: Vec::new(),
    });
    let practitioner = Content::Practitioner(Practitioner {
        name: "Priya Shah".into(),
        role: Some("Digital Inclusion Lead".into()),
        organisation: Some("Example Metropolitan Council".into()),
        bio: Some("Runs device lending and digital champions.".into()),
        expertise: vec!["digital inclusion".into(), "online engagement".into()],
        interests: vec!["chatbots".into()],
        open_to: vec!["mentoring".into(), "talks".into()],
        contact: Some("priya.shah@example.org".into()),
        region: Some("Yorkshire".into()),
        networks: Vec::new(),
        contact_visibility: None,
    });
    let lesson = Content::Lesson(Lesson {
        title: "Keep a phone dial-in".into(),
        summary: "A fifth of participants joined by phone.".into(),
        body: Some("Phone participants were the residents we most wanted to hear.".into()),
        about: Some(
            format!("convene://{author}/experiment/virtual-town-hall")
                .parse()
                .unwrap(),
        ),
        worked: Some("Calling the day before.".into()),
        didnt_work: Some("Keypad queueing.".into()),
        recommendation: Some("Budget for a phone bridge.".into()),
        tags: vec!["accessibility".into()],
        links: vec![],
        contacts: vec![person("priya-shah")],
        networks: Vec::new(),
    });
    let organisation = Content::Organisation(Organisation {
        name: "Example Metropolitan Council".into(),
        org_type: Some("council".into()),
        region: Some("Yorkshire".into()),
        website: Some("https://example.org".into()),
        description: Some("A metropolitan borough council.".into()),
        domain: None,
        recovery: Vec::new(),
    });
    let subject = Identity::from_secret([43; 32]).author();
    let vouch_slug = Vouch::slug_for(&subject);
    let vouch = Content::Vouch(Vouch {
        subject,
        name: "Neighbouring District Council".into(),
        expires: "2027-01-01".parse().unwrap(),
        note: Some("Partners on the housing pilot since 2024.".into()),
    });
    let mut vectors = Vec::new();
    for (name, slug, seq, content) in [
        (
            "experiment, every field",
            "virtual-town-hall",
            3,
            experiment,
        ),
        ("practitioner", "priya-shah", 1, practitioner),
        ("lesson", "phone-dial-in", 2, lesson),
        (
            "organisation",
            "example-metropolitan-council",
            1,
            organisation,
        ),
        ("vouch", vouch_slug.as_str(), 1, vouch),
    ] {
        let record = Record::sign(
            &identity,
            Slug::new(slug).unwrap(),
            seq,
            CREATED_AT,
            content,
        )
        .unwrap();
        vectors.push(vector(name, &record));
    }
    let address = format!("convene://{author}/lesson/phone-dial-in")
        .parse()
        .unwrap();
    let retraction = Record::sign_retraction(&identity, &address, 3, CREATED_AT + 60).unwrap();
    vectors.push(vector("retraction", &retraction));
    let future_body = [
        field(1, b"Keep a phone dial-in"),
        field(2, b"A fifth of participants joined by phone."),
        field(8, b"accessibility"),
        field(900, b"a field from a newer version"),
        field(900, b"repeated"),
    ]
    .concat();
    vectors.extend(network_vectors(&identity));
    let future = raw_record(SEED, 3, 0, 1, CREATED_AT, "from-a-newer-node", &future_body);
    vectors.push(vector(
        "lesson with unknown fields",
        &Record::from_bytes(future, NOW).unwrap(),
    ));
    vectors.extend(key_vectors());
    Value::Array(vectors)
}

/// Keys that change: a consented delegation, a profile naming a recovery key, a rotation, a
/// recovery and a revocation.
fn key_vectors() -> Vec<Value> {
    use convene_protocol::Succession;
    use convene_protocol::keys::{accept_succession, consent, declare_recovery};
    let organisation = Identity::from_secret([50; 32]);
    let person = Identity::from_secret([51; 32]);
    let recovery = Identity::from_secret([52; 32]);
    let successor = Identity::from_secret([53; 32]);
    let kept = vec![convene_protocol::RecordId([54; 32])];
    let sign = |by: &Identity, slug: Slug, content: Content| {
        Record::sign(by, slug, 1, CREATED_AT, content).unwrap()
    };
    let delegation = sign(
        &organisation,
        Delegation::slug_for(&person.author()),
        Content::Delegation(Delegation {
            delegate: person.author(),
            role: "Digital Lead".into(),
            kinds: Vec::new(),
            expires: "2026-12-31".parse().unwrap(),
            consent: Some(consent(&person, &organisation.author())),
            person: Some("Sam Patel".into()),
        }),
    );
    let profile = sign(
        &organisation,
        Slug::new("profile").unwrap(),
        Content::Organisation(Organisation {
            name: "Example Police".into(),
            recovery: vec![recovery.author()],
            ..Organisation::default()
        }),
    );
    let succession = |by: &Identity, declared: bool, to: Option<&Identity>| {
        let subject = if declared || to.is_some() && by.author() == organisation.author() {
            organisation.author()
        } else {
            person.author()
        };
        sign(
            by,
            Succession::slug_for(&subject),
            Content::Succession(Succession {
                subject,
                successor: to.map(Identity::author),
                accepted: to.map(|to| accept_succession(to, &subject)),
                declaration: declared.then(|| declare_recovery(&organisation, &by.author())),
                kept: kept.clone(),
                reason: Some("a vector".into()),
            }),
        )
    };
    vec![
        vector("delegation with consent", &delegation),
        vector("organisation naming a recovery key", &profile),
        vector(
            "succession: rotation",
            &succession(&organisation, false, Some(&successor)),
        ),
        vector(
            "succession: recovery",
            &succession(&recovery, true, Some(&successor)),
        ),
        vector(
            "succession: revocation of a delegate",
            &succession(&organisation, false, None),
        ),
    ]
}

/// An experiment's address of `author`, for vectors that refer to one.
fn lesson_experiment(author: &Identity) -> convene_protocol::Address {
    format!("convene://{}/experiment/virtual-town-hall", author.author())
        .parse()
        .unwrap()
}

/// Vectors added with convened networks: a founding charter, an amendment by a second
/// convenor, a binding, and a lesson published into a members-only network and the commons.
fn network_vectors(founder: &Identity) -> Vec<Value> {
    let second = Identity::from_secret([44; 32]);
    let member = Identity::from_secret([45; 32]);
    let charter = Charter {
        founder: founder.author(),
        network: Slug::new("east-midlands").unwrap(),
        version: 1,
        previous: None,
        name: "East Midlands Innovation Network".into(),
        purpose: Some("Councils and police in the East Midlands sharing what they try.".into()),
        policy: NetworkPolicy::Members,
        convenors: vec![founder.author(), second.author()],
        members: vec![member.author()],
        federates: vec![],
    };
    let sign = |identity: &Identity, charter: &Charter| {
        Record::sign(
            identity,
            charter.slug(),
            1,
            CREATED_AT,
            Content::Charter(charter.clone()),
        )
        .unwrap()
    };
    let founding = sign(founder, &charter);
    let mut amended = charter.amend(founding.id());
    amended
        .members
        .push(Identity::from_secret([46; 32]).author());
    amended.federates = vec![NetworkId::Convened {
        founder: second.author(),
        slug: Slug::new("police-digital").unwrap(),
    }];
    let amendment = sign(&second, &amended);
    let binding = Record::sign(
        &member,
        Binding::slug(),
        2,
        CREATED_AT,
        Content::Binding(Binding {
            nodes: vec!["12D3KooWLRPJAA5o6nqPQhvgT36NeLjVCYKTRQxWQLf6bFJUTzsS".into()],
        }),
    )
    .unwrap();
    let lesson = Record::sign(
        &member,
        Slug::new("shared-triage").unwrap(),
        1,
        CREATED_AT,
        Content::Lesson(Lesson {
            title: "Share the triage rota".into(),
            summary: "Two forces covering one rota halved the queue.".into(),
            networks: vec![charter.id(), NetworkId::Commons],
            ..Lesson::default()
        }),
    )
    .unwrap();
    let featured = Record::sign(
        founder,
        Featured::slug_for(&charter.id()),
        1,
        CREATED_AT,
        Content::Featured(Featured {
            network: charter.id(),
            records: vec![lesson.address()],
        }),
    )
    .unwrap();
    let person = Record::sign(
        &member,
        Slug::new("sam-patel").unwrap(),
        1,
        CREATED_AT,
        Content::Practitioner(Practitioner {
            name: "Sam Patel".into(),
            networks: vec![charter.id()],
            contact_visibility: Some(ContactVisibility::Networks),
            ..Practitioner::default()
        }),
    )
    .unwrap();
    let card = Record::sign(
        &member,
        Slug::new("sam-patel").unwrap(),
        1,
        CREATED_AT,
        Content::ContactCard(ContactCard {
            contact: "sam.patel@example.org".into(),
            networks: vec![charter.id()],
        }),
    )
    .unwrap();
    let delegation = Record::sign(
        &member,
        Delegation::slug_for(&Identity::from_secret([47; 32]).author()),
        1,
        CREATED_AT,
        Content::Delegation(Delegation {
            delegate: Identity::from_secret([47; 32]).author(),
            role: "Digital Lead".into(),
            kinds: vec![Kind::Experiment, Kind::Lesson],
            expires: "2026-12-31".parse().unwrap(),
            consent: None,
            person: None,
        }),
    )
    .unwrap();
    let interest = Record::sign(
        &member,
        Interest::slug_for(&lesson_experiment(founder)),
        1,
        CREATED_AT,
        Content::Interest(Interest {
            experiment: lesson_experiment(founder),
            note: Some("Piloting in 2026".into()),
        }),
    )
    .unwrap();
    vec![
        vector("charter, founding version", &founding),
        vector("charter, amended by a second convenor", &amendment),
        vector("binding", &binding),
        vector("lesson in a network and the commons", &lesson),
        vector("featured list", &featured),
        vector("practitioner with a contact for its networks", &person),
        vector("contact card", &card),
        vector("delegation", &delegation),
        vector("interest", &interest),
    ]
}

fn vector(name: &str, record: &Record) -> Value {
    json!({
        "name": name,
        "record_hex": hex(record.bytes()),
        "id": record.id().to_hex(),
        "address": record.address().to_string(),
        "seq": record.header().seq,
        "created_at": record.header().created_at,
        "retraction": record.is_retraction(),
        "unknown_fields": record.unknown_fields(),
        "content": record.content(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
        .collect()
}

fn stored() -> Value {
    let text = std::fs::read_to_string(PATH).expect("tests/vectors.json is checked in");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn golden_vectors_verify_and_decode() {
    let vectors = stored();
    let vectors = vectors.as_array().unwrap();
    assert_eq!(vectors.len(), 21);
    for vector in vectors {
        let name = vector["name"].as_str().unwrap();
        let bytes = unhex(vector["record_hex"].as_str().unwrap());
        let record =
            Record::from_bytes(bytes.clone(), NOW).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(record.id().to_hex(), vector["id"], "{name}: id");
        assert_eq!(
            record.address().to_string(),
            vector["address"],
            "{name}: address"
        );
        assert_eq!(
            record.is_retraction(),
            vector["retraction"],
            "{name}: retraction flag"
        );
        assert_eq!(
            serde_json::to_value(record.content()).unwrap(),
            vector["content"],
            "{name}: content"
        );
        assert_eq!(
            serde_json::to_value(record.unknown_fields()).unwrap(),
            vector["unknown_fields"],
            "{name}"
        );
        assert_eq!(
            record.into_bytes(),
            bytes,
            "{name}: bytes are kept as received"
        );
    }
}

#[test]
fn golden_vectors_match_what_this_encoder_writes() {
    let fresh = fresh_vectors();
    if std::env::var_os("CONVENE_BLESS").is_some() {
        std::fs::write(PATH, serde_json::to_string_pretty(&fresh).unwrap() + "\n").unwrap();
    }
    assert_eq!(
        fresh,
        stored(),
        "the record encoding changed; see the comment at the top of golden.rs"
    );
}

#[test]
fn golden_content_round_trips_through_the_draft_json() {
    for vector in stored().as_array().unwrap() {
        if vector["content"].is_null() {
            continue;
        }
        let content: Content = serde_json::from_value(vector["content"].clone()).unwrap();
        assert_eq!(serde_json::to_value(&content).unwrap(), vector["content"]);
    }
}
