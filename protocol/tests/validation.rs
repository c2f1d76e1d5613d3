//! Every rejection the protocol promises, with the error that names it.

use convene_protocol::{
    Content, Experiment, MAX_CLOCK_SKEW_SECS, MAX_RECORD_BYTES, Record, RecordError, Slug, limits,
};

use crate::{NOW, experiment, identity, sign};

fn sign_at(content: Content, created_at: i64) -> Result<Record, RecordError> {
    Record::sign(
        &identity(1),
        Slug::new("x").unwrap(),
        1,
        created_at,
        content,
    )
}

#[test]
fn a_signature_by_another_key_is_rejected() {
    let mut bytes = sign(Content::Experiment(experiment()), "x", 1).into_bytes();
    // Swap in a different (valid) author key: the signature no longer matches.
    bytes[15..47].copy_from_slice(identity(2).author().as_bytes());
    assert_eq!(
        Record::from_bytes(bytes, NOW),
        Err(RecordError::BadSignature)
    );
}

#[test]
fn a_record_over_64_kib_is_rejected_when_signing_and_when_received() {
    let mut big = experiment();
    big.description = Some("x".repeat(MAX_RECORD_BYTES));
    match sign_at(Content::Experiment(big), NOW) {
        Err(RecordError::TooLarge { max, .. }) => assert_eq!(max, MAX_RECORD_BYTES),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let mut received = sign(Content::Experiment(experiment()), "x", 1).into_bytes();
    received.resize(MAX_RECORD_BYTES + 1, 0);
    assert!(matches!(
        Record::from_bytes(received, NOW),
        Err(RecordError::TooLarge { size, .. }) if size == MAX_RECORD_BYTES + 1
    ));
}

#[test]
fn missing_required_fields_are_named() {
    let no_title = Experiment {
        title: String::new(),
        ..experiment()
    };
    assert_eq!(
        sign_at(Content::Experiment(no_title), NOW),
        Err(RecordError::Missing("title"))
    );
    let no_summary = Experiment {
        summary: " ".into(),
        ..experiment()
    };
    assert_eq!(
        sign_at(Content::Experiment(no_summary), NOW),
        Err(RecordError::Missing("summary"))
    );
    let mut nameless = crate::practitioner();
    nameless.name.clear();
    assert_eq!(
        sign_at(Content::Practitioner(nameless), NOW),
        Err(RecordError::Missing("name"))
    );
}

#[test]
fn over_long_fields_and_too_many_tags_are_rejected() {
    let long_title = Experiment {
        title: "t".repeat(limits::TITLE + 1),
        ..experiment()
    };
    assert_eq!(
        sign_at(Content::Experiment(long_title), NOW),
        Err(RecordError::TooLong {
            field: "title",
            len: limits::TITLE + 1,
            max: limits::TITLE
        })
    );
    let many_tags = Experiment {
        tags: (0..=limits::TAGS).map(|n| format!("tag {n}")).collect(),
        ..experiment()
    };
    assert_eq!(
        sign_at(Content::Experiment(many_tags), NOW),
        Err(RecordError::TooMany {
            field: "tags",
            count: limits::TAGS + 1,
            max: limits::TAGS
        })
    );
}

#[test]
fn every_problem_is_listed_at_once_and_validate_gives_the_first() {
    // Regression: issue 11, friction 5 (three mistakes took three rounds).
    let wrong_thrice = Experiment {
        title: String::new(),
        summary: "s".repeat(limits::SUMMARY + 1),
        tags: (0..=limits::TAGS).map(|n| format!("tag {n}")).collect(),
        ..experiment()
    };
    let content = Content::Experiment(wrong_thrice);
    let problems = content.problems();
    assert_eq!(
        problems,
        vec![
            RecordError::Missing("title"),
            RecordError::TooLong {
                field: "summary",
                len: limits::SUMMARY + 1,
                max: limits::SUMMARY
            },
            RecordError::TooMany {
                field: "tags",
                count: limits::TAGS + 1,
                max: limits::TAGS
            },
        ]
    );
    assert_eq!(content.validate(), Err(problems[0].clone()));
    assert!(Content::Experiment(experiment()).problems().is_empty());
}

#[test]
fn control_characters_in_single_line_fields_are_rejected() {
    let bell = Experiment {
        title: "ring\u{7}".into(),
        ..experiment()
    };
    assert_eq!(
        sign_at(Content::Experiment(bell), NOW),
        Err(RecordError::ControlCharacter { field: "title" })
    );
}

#[test]
fn records_from_more_than_15_minutes_in_the_future_are_rejected() {
    let at_limit = sign_at(Content::Experiment(experiment()), NOW + MAX_CLOCK_SKEW_SECS).unwrap();
    assert!(Record::from_bytes(at_limit.into_bytes(), NOW).is_ok());
    let too_far = sign_at(
        Content::Experiment(experiment()),
        NOW + MAX_CLOCK_SKEW_SECS + 1,
    )
    .unwrap();
    assert_eq!(
        Record::from_bytes(too_far.into_bytes(), NOW),
        Err(RecordError::FromTheFuture {
            created_at: NOW + MAX_CLOCK_SKEW_SECS + 1,
            now: NOW,
            max_skew: MAX_CLOCK_SKEW_SECS
        })
    );
}

#[test]
fn an_ended_date_before_the_start_is_rejected() {
    let backwards = Experiment {
        started: Some("2024-05-01".parse().unwrap()),
        ended: Some("2024-04-01".parse().unwrap()),
        ..experiment()
    };
    assert!(matches!(
        sign_at(Content::Experiment(backwards), NOW),
        Err(RecordError::Invalid { field: "ended", .. })
    ));
}

#[test]
fn contacts_must_be_practitioner_addresses() {
    let org = sign(Content::Experiment(experiment()), "not-a-person", 1).address();
    let wrong = Experiment {
        contacts: vec![org],
        ..experiment()
    };
    assert!(matches!(
        sign_at(Content::Experiment(wrong), NOW),
        Err(RecordError::Invalid {
            field: "contacts",
            ..
        })
    ));
}

#[test]
fn slugs_are_checked() {
    for bad in ["", "Upper", "-lead", "trail-", "sp ace", &"x".repeat(65)] {
        assert!(Slug::new(bad).is_err(), "{bad:?} should be rejected");
    }
    assert!(Slug::new("virtual-town-hall-2").is_ok());
}

/// ed25519's group order L, little-endian, as signatures store `s`.
const GROUP_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

#[test]
fn a_malleated_signature_is_rejected() {
    // `s + L` is the same signature to a lax verifier, but another byte string: it must not
    // verify (or the same record could travel under two ids).
    let mut bytes = sign(Content::Experiment(experiment()), "x", 1).into_bytes();
    let s_at = bytes.len() - 32;
    let mut carry = 0u16;
    for (i, order) in GROUP_ORDER.iter().enumerate() {
        let sum = u16::from(bytes[s_at + i]) + u16::from(*order) + carry;
        bytes[s_at + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    assert_eq!(
        Record::from_bytes(bytes, NOW),
        Err(RecordError::BadSignature)
    );
}

#[test]
fn a_small_order_key_cannot_sign_anything() {
    // The identity point as the author, and the signature (R = identity, s = 0) that a lax
    // verifier accepts for every message under such a key.
    let good = sign(Content::Experiment(experiment()), "x", 1).into_bytes();
    let mut identity_point = [0u8; 32];
    identity_point[0] = 1;
    let mut bytes = good[..good.len() - 64].to_vec();
    bytes[15..47].copy_from_slice(&identity_point);
    bytes.extend_from_slice(&identity_point);
    bytes.extend_from_slice(&[0u8; 32]);
    assert!(matches!(
        Record::from_bytes(bytes, NOW),
        Err(RecordError::BadSignature)
    ));
}

#[test]
fn a_vouch_is_only_valid_at_the_slug_for_its_subject() {
    let identity = convene_protocol::Identity::from_secret([3; 32]);
    let subject = convene_protocol::Identity::from_secret([4; 32]).author();
    let vouch = convene_protocol::Content::Vouch(convene_protocol::Vouch {
        subject,
        name: "Neighbouring Council".into(),
        expires: "2027-01-01".parse().unwrap(),
        note: None,
    });
    let wrong = convene_protocol::Slug::new("neighbours").unwrap();
    let error = convene_protocol::Record::sign(&identity, wrong, 1, 0, vouch.clone()).unwrap_err();
    assert!(error.to_string().contains("slug"), "{error}");
    let right = convene_protocol::Vouch::slug_for(&subject);
    convene_protocol::Record::sign(&identity, right, 1, 0, vouch).unwrap();
}
