//! Convene's record protocol: the record types, the exact bytes that are signed, stored and
//! forwarded, ids and addresses, signing, verification and validation.
//!
//! This crate is pure: it does no I/O and knows nothing of the network, the disk or the index.
//! Time comes in as an argument (`now`, unix seconds) so every check is reproducible in tests.
//! The byte layout is documented in `docs/protocol.md`.

mod codec;
mod content;
pub mod domain;
mod error;
mod ids;
pub mod keys;
pub mod network;
mod record;
pub mod sync;
mod text;
pub mod wire;

pub use content::{
    Content, Date, Experiment, Lesson, Organisation, Practitioner, Status, Vouch, limits,
};
pub use error::RecordError;
pub use ids::{Address, AddressError, AuthorKey, Identity, Kind, RecordId, Slug};
pub use keys::{Sig, Succession};
pub use network::{
    Binding, Charter, ContactCard, ContactVisibility, Delegation, Featured, Interest, NetworkId,
    NetworkPolicy,
};
pub use record::{Header, MAX_CLOCK_SKEW_SECS, MAX_RECORD_BYTES, Record, Version};
pub use text::{fold_tag, normalize_tag, slugify};

/// The domain-separation tag every signed record starts with.
pub const DOMAIN_TAG: &[u8; 14] = b"convene-record";
/// The record format version this crate writes and the only one it reads.
pub const FORMAT_VERSION: u8 = 1;
