//! The local API's surface, shared by the server (`daemon::http`) and the client
//! ([`crate::Client`]): paths, request and response bodies, and errors as stable codes.
//!
//! Errors cross the API as an [`ErrorBody`]: a [`ErrorCode`] that clients match on, the address
//! concerned where there is one, and a message for people. Nothing is parsed from the message.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use convene_protocol::{Address, AuthorKey, Kind, Record};
use convene_search::Hit;
use serde::{Deserialize, Serialize};

use crate::{Draft, NodeError, SimilarCheck};

/// Path prefix of this version of the API.
pub const API_VERSION: &str = "/v1";

/// A record on the API: its bytes, base64.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordBody {
    /// The record's signed bytes, base64 (see docs/protocol.md).
    pub record: String,
}

impl RecordBody {
    pub fn of(record: &Record) -> RecordBody {
        RecordBody {
            record: BASE64.encode(record.bytes()),
        }
    }

    /// The record; the client trusts its own node, which verified it on arrival.
    pub fn decode(&self) -> Result<Record, NodeError> {
        let bytes = BASE64
            .decode(&self.record)
            .map_err(|e| NodeError::Api(format!("bad base64 from the node: {e}")))?;
        Record::from_stored_bytes(bytes).map_err(|e| NodeError::Api(e.to_string()))
    }
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeopleRequest {
    pub topic: String,
    pub limit: usize,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListRequest {
    #[schema(value_type = Option<String>)]
    pub author: Option<AuthorKey>,
    #[schema(value_type = Option<String>)]
    pub kind: Option<Kind>,
    pub stale: bool,
    pub now: i64,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AddressQuery {
    #[schema(value_type = String)]
    #[param(value_type = String)]
    pub address: Address,
}

/// `POST /publish`: a draft, and whether to look for similar records first.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublishRequest {
    /// The record's fields as a draft file has them, `kind` included.
    #[schema(value_type = Object)]
    pub draft: Draft,
    /// `{"check": "skip"}`, or `{"check": "ask", "limit": N}` to be shown similar records
    /// instead of publishing when there are any.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub check: SimilarCheck,
}

/// What `POST /publish` did.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PublishResponse {
    Published {
        record: RecordBody,
        previous_seq: Option<u64>,
    },
    /// Nothing was published: these records are similar.
    Similar {
        #[schema(value_type = Vec<Object>)]
        similar: Vec<(f32, Hit)>,
    },
    /// Nothing was published: the address holds a retraction (publish with `"check": "skip"`
    /// to bring the record back).
    Retracted {
        #[schema(value_type = String)]
        address: Address,
    },
}

/// The URL query of an import request; the body is the chunk of the file itself (whole lines
/// of JSON Lines, or a CSV header and whole rows), at most
/// [`crate::limits::API_IMPORT_BODY_BYTES`].
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// The number, in the whole file, of the body's first line (for CSV: of its first row's
    /// first line), so rejections name lines of the whole file.
    pub first_line: u64,
    pub dry_run: bool,
    /// For CSV: the column mapping (TOML).
    #[serde(default)]
    pub mapping: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorQuery {
    #[schema(value_type = String)]
    #[param(value_type = String)]
    pub author: AuthorKey,
}

/// `POST /pins`: pin `author` as `pin`, or with `pin: null` remove its pin.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PinRequest {
    #[schema(value_type = String)]
    pub author: AuthorKey,
    #[schema(value_type = Option<Object>)]
    pub pin: Option<crate::trust::Pin>,
}

/// Whether the author had a pin before.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PinResponse {
    pub had: bool,
}

/// `POST /blocks`: block `author` (purging its records), or with `block: null` lift the block.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlockRequest {
    #[schema(value_type = String)]
    pub author: AuthorKey,
    #[schema(value_type = Option<Object>)]
    pub block: Option<crate::trust::Block>,
}

/// `POST /peer-blocks`: block a peer for good (`block: null` lifts it). Answers a
/// [`PinResponse`]-like `{"had": bool}`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeerBlockRequest {
    /// A libp2p peer id (`12D3KooW…`).
    pub peer: String,
    #[schema(value_type = Option<Object>)]
    pub block: Option<crate::trust::Block>,
}

/// `POST /domains/check`: check the domains organisation profiles name — those due (not
/// checked for a day), or with `all`, every one. Answers `[[author, check], …]`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DomainCheckRequest {
    #[serde(default)]
    pub all: bool,
}

/// Whether the author was blocked before, and how many records were purged.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlockResponse {
    pub had: bool,
    pub purged: usize,
}

/// `POST /news`: what is new for each of the operator's saved searches; with `mark_seen`,
/// looking moves them up to now.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewsRequest {
    #[serde(default)]
    pub mark_seen: bool,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeerRequest {
    pub peer: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reindexed {
    pub indexed: u64,
}

/// What a failed request is, for programs: stable across versions of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No record at `address` (404).
    NotFound,
    /// The record at `address` was retracted (410).
    Retracted,
    /// The record at `address` is another author's (403).
    NotYours,
    /// A newer version is held at `address` (409).
    Stale,
    /// The node's admission policy refuses the record at `address` (403).
    Refused,
    /// The request is malformed or a value is out of range (400).
    Invalid,
    /// A write without the token (401).
    Unauthorised,
    /// The `Host` is not a loopback name (403).
    ForbiddenHost,
    /// The body is over the route's limit (413).
    TooLarge,
    /// The body did not arrive in time (408).
    Timeout,
    /// The node is shutting down (503).
    Closed,
    /// The request failed inside the node, which carries on (500).
    Failed,
    /// Anything else (500).
    Internal,
    /// A code from a newer node that this client does not know.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::NotFound => 404,
            ErrorCode::Retracted => 410,
            ErrorCode::NotYours | ErrorCode::Refused | ErrorCode::ForbiddenHost => 403,
            ErrorCode::Stale => 409,
            ErrorCode::Invalid => 400,
            ErrorCode::Unauthorised => 401,
            ErrorCode::TooLarge => 413,
            ErrorCode::Timeout => 408,
            ErrorCode::Closed => 503,
            ErrorCode::Failed | ErrorCode::Internal | ErrorCode::Unknown => 500,
        }
    }
}

/// What a failed request answers.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// For people.
    pub error: String,
    pub code: ErrorCode,
    /// The record the error is about, if it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Address>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, error: impl ToString) -> ErrorBody {
        ErrorBody {
            error: error.to_string(),
            code,
            address: None,
        }
    }

    /// How the server reports a node error.
    pub fn of(error: &NodeError) -> ErrorBody {
        let (code, address) = match error {
            NodeError::NotFound(address) => (ErrorCode::NotFound, Some(address)),
            NodeError::Retracted(address) => (ErrorCode::Retracted, Some(address)),
            NodeError::NotYours { address } => (ErrorCode::NotYours, Some(address)),
            NodeError::Stale { address, .. } => (ErrorCode::Stale, Some(address)),
            NodeError::Refused { address, .. } => (ErrorCode::Refused, Some(address)),
            NodeError::Draft(_)
            | NodeError::Record(_)
            | NodeError::Import(_)
            | NodeError::Invalid(_)
            | NodeError::Index(convene_search::IndexError::OverLimit(_)) => {
                (ErrorCode::Invalid, None)
            }
            _ => (ErrorCode::Internal, None),
        };
        ErrorBody {
            error: error.to_string(),
            code,
            address: address.cloned(),
        }
    }

    /// The node error a client reports for this body.
    pub fn into_error(self) -> NodeError {
        match (self.code, self.address) {
            (ErrorCode::NotFound, Some(address)) => NodeError::NotFound(address),
            (ErrorCode::Retracted, Some(address)) => NodeError::Retracted(address),
            (ErrorCode::NotYours, Some(address)) => NodeError::NotYours { address },
            _ => NodeError::Api(self.error),
        }
    }
}
