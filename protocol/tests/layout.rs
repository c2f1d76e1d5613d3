//! Records built byte by byte from `docs/protocol.md`, independently of the crate's encoder,
//! must verify and decode; and the crate's own records must match the layout.

use convene_protocol::{Content, Kind, Record, RecordError};
use ed25519_dalek::{Signer, SigningKey};

use crate::{NOW, experiment, sign};

/// Builds a record following the documented layout, with a raw body.
pub fn raw_record(
    secret: [u8; 32],
    kind: u8,
    flags: u8,
    seq: u64,
    created_at: i64,
    slug: &str,
    body: &[u8],
) -> Vec<u8> {
    let key = SigningKey::from_bytes(&secret);
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"convene-record");
    bytes.push(1);
    bytes.extend_from_slice(&key.verifying_key().to_bytes());
    bytes.push(kind);
    bytes.push(flags);
    bytes.extend_from_slice(&seq.to_be_bytes());
    bytes.extend_from_slice(&created_at.to_be_bytes());
    bytes.push(slug.len() as u8);
    bytes.extend_from_slice(slug.as_bytes());
    bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
    bytes.extend_from_slice(body);
    let signature = key.sign(&bytes);
    bytes.extend_from_slice(&signature.to_bytes());
    bytes
}

/// One body field: number (u16 BE), length (u32 BE), value.
pub fn field(number: u16, value: &[u8]) -> Vec<u8> {
    let mut out = number.to_be_bytes().to_vec();
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(value);
    out
}

fn lesson_body(extra: &[Vec<u8>]) -> Vec<u8> {
    let mut body = [
        field(1, b"Keep a phone dial-in"),
        field(2, b"A fifth joined by phone"),
    ]
    .concat();
    for part in extra {
        body.extend_from_slice(part);
    }
    body
}

#[test]
fn a_hand_built_record_verifies_and_decodes() {
    let bytes = raw_record(
        [3; 32],
        3,
        0,
        1,
        NOW,
        "dial-in",
        &lesson_body(&[field(8, b"accessibility")]),
    );
    let record = Record::from_bytes(bytes.clone(), NOW).unwrap();
    assert_eq!(record.header().kind, Kind::Lesson);
    assert_eq!(record.bytes(), bytes.as_slice());
    let Some(Content::Lesson(lesson)) = record.content() else {
        panic!("expected a lesson, got {:?}", record.content());
    };
    assert_eq!(lesson.tags, ["accessibility"]);
}

#[test]
fn the_crate_writes_the_documented_layout() {
    let record = sign(Content::Experiment(experiment()), "town-hall", 7);
    let bytes = record.bytes();
    assert_eq!(&bytes[..14], b"convene-record");
    assert_eq!(bytes[14], 1, "format version");
    assert_eq!(&bytes[15..47], record.header().author.as_bytes());
    assert_eq!(bytes[47], Kind::Experiment as u8);
    assert_eq!(bytes[48], 0, "flags");
    assert_eq!(u64::from_be_bytes(bytes[49..57].try_into().unwrap()), 7);
    assert_eq!(
        i64::from_be_bytes(bytes[57..65].try_into().unwrap()),
        NOW - 60
    );
    assert_eq!(bytes[65] as usize, "town-hall".len());
    assert_eq!(&bytes[66..75], b"town-hall");
    let body_len = u32::from_be_bytes(bytes[75..79].try_into().unwrap()) as usize;
    assert_eq!(bytes.len(), 79 + body_len + 64);
    // The first body field is the title.
    assert_eq!(&bytes[79..81], &1u16.to_be_bytes());
    assert_eq!(
        record.id().as_bytes(),
        blake3::hash(bytes).as_bytes(),
        "the id is the BLAKE3 hash of all the bytes"
    );
}

#[test]
fn unknown_fields_are_accepted_and_the_bytes_kept_unchanged() {
    // Field 900 appears twice (a newer node's list field), after every known field.
    let body = lesson_body(&[field(900, b"from the future"), field(900, b"twice")]);
    let bytes = raw_record([3; 32], 3, 0, 2, NOW, "future", &body);
    let record = Record::from_bytes(bytes.clone(), NOW).unwrap();
    assert_eq!(record.unknown_fields(), [900, 900]);
    assert_eq!(
        record.into_bytes(),
        bytes,
        "bytes are forwarded exactly as received"
    );
}

#[test]
fn fields_out_of_order_are_rejected() {
    let body = [field(2, b"summary"), field(1, b"title")].concat();
    let bytes = raw_record([3; 32], 3, 0, 1, NOW, "x", &body);
    assert_eq!(
        Record::from_bytes(bytes, NOW),
        Err(RecordError::FieldOrder {
            previous: 2,
            field: 1
        })
    );
}

#[test]
fn a_known_single_field_may_not_repeat() {
    let body = [field(1, b"title"), field(1, b"again"), field(2, b"summary")].concat();
    let bytes = raw_record([3; 32], 3, 0, 1, NOW, "x", &body);
    assert_eq!(
        Record::from_bytes(bytes, NOW),
        Err(RecordError::FieldOrder {
            previous: 1,
            field: 1
        })
    );
}

#[test]
fn a_retraction_with_a_body_is_rejected() {
    let bytes = raw_record([3; 32], 3, 1, 2, NOW, "x", &lesson_body(&[]));
    assert_eq!(
        Record::from_bytes(bytes, NOW),
        Err(RecordError::RetractionWithBody)
    );
}

#[test]
fn unknown_kinds_flags_and_versions_are_rejected() {
    let body = lesson_body(&[]);
    let unknown_kind = raw_record([3; 32], 42, 0, 1, NOW, "x", &body);
    assert_eq!(
        Record::from_bytes(unknown_kind, NOW),
        Err(RecordError::UnknownKind(42))
    );
    let unknown_flag = raw_record([3; 32], 3, 0b10, 1, NOW, "x", &body);
    assert_eq!(
        Record::from_bytes(unknown_flag, NOW),
        Err(RecordError::UnknownFlags(0b10))
    );
    let mut version_two = raw_record([3; 32], 3, 0, 1, NOW, "x", &body);
    version_two[14] = 2;
    assert_eq!(
        Record::from_bytes(version_two, NOW),
        Err(RecordError::UnsupportedVersion(2, 1))
    );
}

#[test]
fn a_zero_seq_is_rejected() {
    let bytes = raw_record([3; 32], 3, 0, 0, NOW, "x", &lesson_body(&[]));
    assert_eq!(Record::from_bytes(bytes, NOW), Err(RecordError::ZeroSeq));
}

#[test]
fn content_of_a_received_record_is_validated() {
    let body = [field(1, b"   "), field(2, b"summary")].concat();
    let bytes = raw_record([3; 32], 3, 0, 1, NOW, "blank-title", &body);
    assert_eq!(
        Record::from_bytes(bytes, NOW),
        Err(RecordError::Missing("title"))
    );
}
