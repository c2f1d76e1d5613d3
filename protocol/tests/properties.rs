//! Properties over many inputs: round trips, tamper detection, version ordering, addresses.

use convene_protocol::{Address, Content, Experiment, Record, RecordId, Status, Version};
use proptest::prelude::*;

use crate::{NOW, experiment, identity, lesson, practitioner, sign};

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9 éü£.,-]{{1,{max}}}"))
        .unwrap()
        .prop_filter("not blank", |s| !s.trim().is_empty())
}

fn arb_experiment() -> impl Strategy<Value = Content> {
    (
        text(60),
        text(200),
        proptest::option::of(text(500)),
        proptest::sample::select(Status::ALL.to_vec()),
        proptest::collection::vec(text(20), 0..6),
        proptest::collection::btree_map(text(10), text(30), 0..4),
    )
        .prop_map(|(title, summary, description, status, tags, context)| {
            let mut content = Content::Experiment(Experiment {
                title,
                summary,
                description,
                status,
                tags,
                context,
                ..Experiment::default()
            });
            content.normalize();
            content
        })
}

proptest! {
    #[test]
    fn signed_records_verify_and_decode_to_what_was_signed(content in arb_experiment(), seq in 1u64..1_000) {
        let record = sign(content.clone(), "round-trip", seq);
        let received = Record::from_bytes(record.bytes().to_vec(), NOW).unwrap();
        prop_assert_eq!(received.content(), Some(&content));
        prop_assert_eq!(received.header().seq, seq);
        prop_assert_eq!(received.id(), record.id());
    }

    #[test]
    fn signing_is_deterministic(content in arb_experiment()) {
        prop_assert_eq!(sign(content.clone(), "same", 1).into_bytes(), sign(content, "same", 1).into_bytes());
    }

    #[test]
    fn higher_seq_wins_and_equal_seq_goes_to_the_lower_id(a in 1u64..5, b in 1u64..5, x: [u8; 32], y: [u8; 32]) {
        let va = Version { seq: a, id: RecordId(x) };
        let vb = Version { seq: b, id: RecordId(y) };
        if a != b {
            prop_assert_eq!(va > vb, a > b);
        } else if x != y {
            prop_assert_eq!(va > vb, x < y);
        } else {
            prop_assert_eq!(va, vb);
        }
    }
}

#[test]
fn changing_any_byte_makes_the_record_fail() {
    for content in [
        Content::Experiment(experiment()),
        Content::Practitioner(practitioner()),
        Content::Lesson(lesson()),
    ] {
        let bytes = sign(content, "tamper", 3).into_bytes();
        for at in 0..bytes.len() {
            for flip in [0x01u8, 0x80] {
                let mut tampered = bytes.clone();
                tampered[at] ^= flip;
                assert!(
                    Record::from_bytes(tampered, NOW).is_err(),
                    "flipping bit {flip:#x} of byte {at} went unnoticed"
                );
            }
        }
    }
}

#[test]
fn truncated_or_extended_records_fail() {
    let bytes = sign(Content::Experiment(experiment()), "cut", 1).into_bytes();
    for len in 0..bytes.len() {
        assert!(
            Record::from_bytes(bytes[..len].to_vec(), NOW).is_err(),
            "truncated to {len} bytes"
        );
    }
    let mut longer = bytes;
    longer.push(0);
    assert!(Record::from_bytes(longer, NOW).is_err());
}

#[test]
fn a_retraction_wins_over_the_version_it_retracts() {
    let content = sign(Content::Experiment(experiment()), "gone", 4);
    let retraction = Record::sign_retraction(&identity(1), &content.address(), 5, NOW).unwrap();
    let received = Record::from_bytes(retraction.bytes().to_vec(), NOW).unwrap();
    assert!(received.is_retraction());
    assert_eq!(received.content(), None);
    assert_eq!(received.address(), content.address());
    assert!(received.version() > content.version());
}

#[test]
fn addresses_round_trip_through_text_and_keys() {
    let address = sign(Content::Lesson(lesson()), "dial-in", 1).address();
    let text = address.to_string();
    assert!(text.starts_with("convene://"));
    assert_eq!(text.parse::<Address>().unwrap(), address);
    assert_eq!(Address::from_key(&address.to_key()).unwrap(), address);
    let error = "convene://nope/lesson/x".parse::<Address>().unwrap_err();
    assert!(error.to_string().contains("author key"), "{error}");
}
