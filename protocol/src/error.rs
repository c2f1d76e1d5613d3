//! Why a record, or a draft of one, was refused.

/// Everything that can be wrong with a record's bytes or content.
///
/// Each variant names the problem so that a user, or the operator of a node that received a
/// record, can tell what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record is {size} bytes, over the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("record ends early: {what} is cut off")]
    Truncated { what: &'static str },
    #[error("not a Convene record: the domain tag is missing")]
    BadDomainTag,
    #[error("unknown record format version {0} (this node reads version {1})")]
    UnsupportedVersion(u8, u8),
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    #[error("unknown flag bits {0:#04x}")]
    UnknownFlags(u8),
    #[error("author key is not a valid ed25519 public key")]
    BadAuthorKey,
    #[error("bad signature: the record was changed or not signed by its author")]
    BadSignature,
    #[error("{trailing} bytes follow the signature")]
    TrailingBytes { trailing: usize },
    #[error("invalid slug {slug:?}: {reason}")]
    BadSlug { slug: String, reason: &'static str },
    #[error("body fields out of order: field {field} follows field {previous}")]
    FieldOrder { previous: u16, field: u16 },
    #[error("field {field} appears more than once")]
    RepeatedField { field: &'static str },
    #[error("a retraction must have an empty body")]
    RetractionWithBody,
    #[error("missing required field `{0}`")]
    Missing(&'static str),
    #[error("field `{field}` is {len} characters long, over the limit of {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("field `{field}` has {count} entries, over the limit of {max}")]
    TooMany {
        field: &'static str,
        count: usize,
        max: usize,
    },
    #[error("field `{field}` is empty")]
    Empty { field: &'static str },
    #[error("field `{field}` contains a control character")]
    ControlCharacter { field: &'static str },
    #[error("field `{field}` is not valid UTF-8")]
    InvalidUtf8 { field: &'static str },
    #[error("field `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("created_at {created_at} is more than {max_skew} seconds ahead of now ({now})")]
    FromTheFuture {
        created_at: i64,
        now: i64,
        max_skew: i64,
    },
    #[error("seq must be at least 1")]
    ZeroSeq,
}
