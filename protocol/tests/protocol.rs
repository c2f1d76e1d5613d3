//! Protocol tests: the documented byte layout, golden vectors, signing, verification,
//! validation and version ordering.

mod charters;
mod golden;
mod keys;
mod layout;
mod properties;
mod sync;
mod validation;

use convene_protocol::{Content, Experiment, Identity, Lesson, Practitioner, Record, Slug, Status};

/// A fixed clock for tests: 2026-01-01T00:00:00Z.
pub const NOW: i64 = 1_767_225_600;

pub fn identity(seed: u8) -> Identity {
    Identity::from_secret([seed; 32])
}

pub fn experiment() -> Experiment {
    Experiment {
        title: "Virtual town hall".into(),
        summary: "Monthly online public meeting with phone dial-in".into(),
        status: Status::Running,
        tags: vec!["online engagement".into(), "democracy".into()],
        ..Experiment::default()
    }
}

pub fn sign(content: Content, slug: &str, seq: u64) -> Record {
    Record::sign(
        &identity(1),
        Slug::new(slug).unwrap(),
        seq,
        NOW - 60,
        content,
    )
    .unwrap()
}

pub fn practitioner() -> Practitioner {
    Practitioner {
        name: "Priya Shah".into(),
        expertise: vec!["digital inclusion".into()],
        ..Practitioner::default()
    }
}

pub fn lesson() -> Lesson {
    Lesson {
        title: "Keep a phone dial-in".into(),
        summary: "A fifth joined by phone".into(),
        ..Lesson::default()
    }
}
