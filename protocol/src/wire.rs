//! The messages nodes exchange over the network, and their byte encodings.
//!
//! Two channels carry records between nodes (see `docs/protocol.md`, "Wire protocols"):
//!
//! - gossip on the topic [`GOSSIP_TOPIC`]: one message is exactly one record's bytes;
//! - the request-response protocol [`SYNC_PROTOCOL`]: a [`Request`] goes out on a fresh stream and
//!   one [`Response`] comes back. Each is framed as a 4-byte big-endian length and that many
//!   bytes, at most [`MAX_FRAME_BYTES`].
//!
//! Pure encoding and decoding: moving the frames is the node's job.

use crate::network::{MAX_NETWORK_SLUG, NetworkId};
use crate::{MAX_RECORD_BYTES, RecordId};

/// The gossipsub topic new records are announced on.
pub const GOSSIP_TOPIC: &str = "convene/records/1";
/// The gossipsub topic of a network's records: the commons' is [`GOSSIP_TOPIC`]; a convened
/// network's is `convene/network/<16 hex digits of BLAKE3 of its byte form>/1`.
pub fn network_topic(network: &NetworkId) -> String {
    match network {
        NetworkId::Commons => GOSSIP_TOPIC.to_string(),
        convened => {
            let hash = blake3::hash(&convened.to_key());
            let hex: String = hash.as_bytes()[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("convene/network/{hex}/1")
        }
    }
}

/// The request-response protocol for catch-up sync.
pub const SYNC_PROTOCOL: &str = "/convene/sync/2";
/// Most ids one [`Request::Fetch`] may ask for.
pub const MAX_FETCH_IDS: usize = 1_024;
/// A [`Response::Records`] stops adding records once it holds this many bytes of them.
pub const RECORDS_BUDGET: usize = 2 * 1024 * 1024;
/// Largest frame either side accepts: a full records budget plus one maximal record and slack.
pub const MAX_FRAME_BYTES: usize = RECORDS_BUDGET + MAX_RECORD_BYTES + 64 * 1024;
/// Largest reconciliation message either side accepts: the negentropy frame limit both sides
/// use ([`crate::sync::SYNC_FRAME_LIMIT`]) and a little slack.
pub const MAX_RECONCILE_BYTES: usize = crate::sync::SYNC_FRAME_LIMIT as usize + 4 * 1024;
/// Most networks one sync may ask for (its scope).
pub const MAX_SCOPE: usize = 64;
/// Largest scope on the wire: a count, then each network as a length byte and its key.
const MAX_SCOPE_BYTES: usize = 1 + MAX_SCOPE * (1 + 32 + MAX_NETWORK_SLUG);
/// Largest request frame: a reconciliation round or a full fetch, whichever is larger. A
/// responder reads no more than this from a stream, whatever the length prefix says.
pub const MAX_REQUEST_BYTES: usize =
    if 9 + MAX_SCOPE_BYTES + MAX_RECONCILE_BYTES > 5 + 32 * MAX_FETCH_IDS {
        9 + MAX_SCOPE_BYTES + MAX_RECONCILE_BYTES
    } else {
        5 + 32 * MAX_FETCH_IDS
    };
/// Longest query text a [`Request::Search`] may carry, in bytes.
pub const MAX_SEARCH_TEXT: usize = 500;
/// Most results a [`Request::Search`] may ask for.
pub const MAX_SEARCH_RESULTS: u16 = 50;

/// Longest reason a refusal may give.
pub const MAX_REFUSAL_BYTES: usize = 1_024;

const RECONCILE: u8 = 1;
const FETCH: u8 = 2;
const ANNOUNCE: u8 = 3;
const JOIN: u8 = 4;
const DELEGATE: u8 = 5;
const SEARCH: u8 = 6;
const RECORDS: u8 = 2;
const REFUSED: u8 = 3;
const ACK: u8 = 4;

/// What the initiator of a sync asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// One round of set reconciliation. `session` is chosen by the initiator at random per
    /// reconciliation, so the responder can keep its side of the set fixed for the session.
    /// `scope` lists the networks the initiator replicates (the commons among them, if it
    /// keeps it): the set reconciled is the records in those networks that the responder may
    /// send this initiator, plus profiles, vouches, charters and bindings.
    Reconcile {
        session: u64,
        scope: Vec<NetworkId>,
        message: Vec<u8>,
    },
    /// Send these records, by id, in this order.
    Fetch { ids: Vec<RecordId> },
    /// "I have stored new records": the receiver should start a sync with the sender soon.
    /// Sent after an import or a sync brought in records that gossip did not carry.
    Announce,
    /// A signed request to join a network ([`crate::network::JoinRequest`]), for a convenor's
    /// node; answered with [`Response::Ack`] once kept for the convenor, or refused.
    Join { request: Vec<u8> },
    /// A person's signed request to publish for an organisation
    /// ([`crate::keys::DelegationAsk`]), for the organisation's node; answered with
    /// [`Response::Ack`] once kept, or refused.
    Delegate { request: Vec<u8> },
    /// "Run this query on your index": answered with [`Response::Records`] holding the
    /// matching records the asker may see (signed, to verify), best first, at most `limit`
    /// (1 to [`MAX_SEARCH_RESULTS`]) and [`RECORDS_BUDGET`] bytes. `kind`: only records of
    /// this kind.
    Search {
        text: String,
        kind: Option<crate::Kind>,
        limit: u16,
    },
}

/// The answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// The responder's reconciliation message.
    Reconcile { message: Vec<u8> },
    /// The records among the first `served` requested ids that the responder still holds (a
    /// superseded version may have been deleted since reconciliation). The initiator asks again
    /// for the ids after `served`.
    Records { served: u32, records: Vec<Vec<u8>> },
    /// The responder will not answer (busy, malformed request); says why.
    Refused { reason: String },
    /// The answer to [`Request::Announce`].
    Ack,
}

/// A frame that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed sync message: {0}")]
pub struct WireError(&'static str);

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.bytes.len() < n {
            return Err(WireError("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    fn end(&self) -> Result<(), WireError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(WireError("trailing bytes"))
        }
    }
}

/// A refusal's reason cut to at most [`MAX_REFUSAL_BYTES`], at a character boundary.
fn fit_refusal(reason: &str) -> &str {
    if reason.len() <= MAX_REFUSAL_BYTES {
        return reason;
    }
    let mut end = MAX_REFUSAL_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

fn reconcile_message(bytes: &[u8]) -> Result<Vec<u8>, WireError> {
    if bytes.len() > MAX_RECONCILE_BYTES {
        return Err(WireError("reconciliation message over the limit"));
    }
    Ok(bytes.to_vec())
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::Reconcile {
                session,
                scope,
                message,
            } => {
                let mut out = Vec::with_capacity(10 + message.len());
                out.push(RECONCILE);
                out.extend_from_slice(&session.to_be_bytes());
                let scope = &scope[..scope.len().min(MAX_SCOPE)];
                out.push(scope.len() as u8);
                for network in scope {
                    let key = network.to_key();
                    out.push(key.len() as u8);
                    out.extend_from_slice(&key);
                }
                out.extend_from_slice(message);
                out
            }
            Request::Fetch { ids } => {
                let mut out = Vec::with_capacity(5 + 32 * ids.len());
                out.push(FETCH);
                out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
                for id in ids {
                    out.extend_from_slice(&id.0);
                }
                out
            }
            Request::Announce => vec![ANNOUNCE],
            Request::Join { request } => {
                let mut out = Vec::with_capacity(1 + request.len());
                out.push(JOIN);
                out.extend_from_slice(request);
                out
            }
            Request::Delegate { request } => {
                let mut out = Vec::with_capacity(1 + request.len());
                out.push(DELEGATE);
                out.extend_from_slice(request);
                out
            }
            Request::Search { text, kind, limit } => {
                let mut out = Vec::with_capacity(4 + text.len());
                out.push(SEARCH);
                out.push(kind.map_or(0, |kind| kind as u8));
                out.extend_from_slice(&limit.to_be_bytes());
                out.extend_from_slice(text.as_bytes());
                out
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Request, WireError> {
        let mut reader = Reader { bytes };
        let request = match reader.u8()? {
            RECONCILE => {
                let session = reader.u64()?;
                let count = usize::from(reader.u8()?);
                if count > MAX_SCOPE {
                    return Err(WireError("scope names too many networks"));
                }
                let mut scope = Vec::with_capacity(count);
                for _ in 0..count {
                    let len = usize::from(reader.u8()?);
                    let network = NetworkId::from_key(reader.take(len)?)
                        .ok_or(WireError("not a network id"))?;
                    scope.push(network);
                }
                Request::Reconcile {
                    session,
                    scope,
                    message: reconcile_message(reader.rest())?,
                }
            }
            FETCH => {
                let count = reader.u32()? as usize;
                if count > MAX_FETCH_IDS {
                    return Err(WireError("fetch asks for too many ids"));
                }
                let ids = (0..count)
                    .map(|_| Ok(RecordId(reader.take(32)?.try_into().expect("32 bytes"))))
                    .collect::<Result<_, WireError>>()?;
                Request::Fetch { ids }
            }
            ANNOUNCE => Request::Announce,
            JOIN => {
                let request = reader.rest();
                if request.len() > crate::network::MAX_JOIN_BYTES {
                    return Err(WireError("join request over the limit"));
                }
                Request::Join {
                    request: request.to_vec(),
                }
            }
            SEARCH => {
                let kind = match reader.u8()? {
                    0 => None,
                    byte => {
                        Some(crate::Kind::from_byte(byte).map_err(|_| WireError("unknown kind"))?)
                    }
                };
                let limit = u16::from_be_bytes([reader.u8()?, reader.u8()?]);
                if limit == 0 || limit > MAX_SEARCH_RESULTS {
                    return Err(WireError("search asks for too many results, or none"));
                }
                let text = reader.rest();
                if text.len() > MAX_SEARCH_TEXT {
                    return Err(WireError("search text over the limit"));
                }
                Request::Search {
                    text: String::from_utf8(text.to_vec())
                        .map_err(|_| WireError("search text is not UTF-8"))?,
                    kind,
                    limit,
                }
            }
            DELEGATE => {
                let request = reader.rest();
                if request.len() > crate::keys::MAX_ASK_BYTES {
                    return Err(WireError("delegation request over the limit"));
                }
                Request::Delegate {
                    request: request.to_vec(),
                }
            }
            _ => return Err(WireError("unknown request type")),
        };
        reader.end()?;
        Ok(request)
    }
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Response::Reconcile { message } => {
                let mut out = Vec::with_capacity(1 + message.len());
                out.push(RECONCILE);
                out.extend_from_slice(message);
                out
            }
            Response::Records { served, records } => {
                let size: usize = records.iter().map(|r| 4 + r.len()).sum();
                let mut out = Vec::with_capacity(9 + size);
                out.push(RECORDS);
                out.extend_from_slice(&served.to_be_bytes());
                out.extend_from_slice(&(records.len() as u32).to_be_bytes());
                for record in records {
                    out.extend_from_slice(&(record.len() as u32).to_be_bytes());
                    out.extend_from_slice(record);
                }
                out
            }
            Response::Refused { reason } => {
                let mut out = vec![REFUSED];
                out.extend_from_slice(fit_refusal(reason).as_bytes());
                out
            }
            Response::Ack => vec![ACK],
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Response, WireError> {
        let mut reader = Reader { bytes };
        let response = match reader.u8()? {
            RECONCILE => Response::Reconcile {
                message: reconcile_message(reader.rest())?,
            },
            RECORDS => {
                let served = reader.u32()?;
                let count = reader.u32()? as usize;
                if count > served as usize || served as usize > MAX_FETCH_IDS {
                    return Err(WireError("more records than ids asked for"));
                }
                let mut records = Vec::with_capacity(count);
                for _ in 0..count {
                    let len = reader.u32()? as usize;
                    // Oversize records are passed on so that validation rejects them by name.
                    records.push(reader.take(len)?.to_vec());
                }
                Response::Records { served, records }
            }
            REFUSED => {
                let reason = reader.rest();
                if reason.len() > MAX_REFUSAL_BYTES {
                    return Err(WireError("refusal reason over the limit"));
                }
                // Invalid UTF-8 is replaced (each bad byte by three), so cut the text again
                // to what an encoder may send back.
                let reason = String::from_utf8_lossy(reason);
                Response::Refused {
                    reason: fit_refusal(&reason).to_string(),
                }
            }
            ACK => Response::Ack,
            _ => return Err(WireError("unknown response type")),
        };
        reader.end()?;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses_round_trip() {
        let requests = [
            Request::Reconcile {
                session: 7,
                scope: vec![],
                message: vec![0x61, 1, 2],
            },
            Request::Reconcile {
                session: 8,
                scope: vec![
                    NetworkId::Commons,
                    NetworkId::Convened {
                        founder: crate::AuthorKey([3; 32]),
                        slug: crate::Slug::new("innopints").unwrap(),
                    },
                ],
                message: vec![0x61],
            },
            Request::Fetch {
                ids: vec![RecordId([1; 32]), RecordId([2; 32])],
            },
            Request::Fetch { ids: vec![] },
            Request::Announce,
            Request::Join {
                request: vec![1, 2, 3],
            },
            Request::Delegate {
                request: vec![4, 5],
            },
            Request::Search {
                text: "community fridges".into(),
                kind: Some(crate::Kind::Experiment),
                limit: 20,
            },
            Request::Search {
                text: String::new(),
                kind: None,
                limit: 1,
            },
        ];
        for request in requests {
            assert_eq!(Request::decode(&request.encode()), Ok(request));
        }
        let responses = [
            Response::Reconcile {
                message: vec![0x61],
            },
            Response::Records {
                served: 3,
                records: vec![vec![1, 2, 3], vec![]],
            },
            Response::Refused {
                reason: "busy".into(),
            },
            Response::Ack,
        ];
        for response in responses {
            assert_eq!(Response::decode(&response.encode()), Ok(response));
        }
    }

    /// Regression (found by the `wire` fuzz target): a refusal with invalid UTF-8 decoded to a
    /// text whose encoding was over the limit, so it could not be sent back; and a long reason
    /// of our own was encoded whole, so a peer refused our refusal.
    #[test]
    fn refusals_of_any_length_or_encoding_fit_and_round_trip() {
        let mut lossy = vec![REFUSED];
        lossy.extend_from_slice(&[0xff; MAX_REFUSAL_BYTES]);
        let decoded = Response::decode(&lossy).unwrap();
        assert_eq!(Response::decode(&decoded.encode()).unwrap(), decoded);
        let long = Response::Refused {
            reason: "é".repeat(MAX_REFUSAL_BYTES),
        };
        let encoded = long.encode();
        assert!(encoded.len() <= 1 + MAX_REFUSAL_BYTES);
        assert!(Response::decode(&encoded).is_ok());
    }

    #[test]
    fn truncated_and_padded_frames_are_rejected() {
        let fetch = Request::Fetch {
            ids: vec![RecordId([9; 32])],
        }
        .encode();
        assert!(Request::decode(&fetch[..fetch.len() - 1]).is_err());
        let mut padded = fetch.clone();
        padded.push(0);
        assert!(Request::decode(&padded).is_err());
        assert!(Request::decode(&[]).is_err());
        assert!(Request::decode(&[9]).is_err());
        let mut too_many = vec![FETCH];
        too_many.extend_from_slice(&(MAX_FETCH_IDS as u32 + 1).to_be_bytes());
        assert!(Request::decode(&too_many).is_err());
        // Reconciliation messages are bounded by the negentropy frame limit, not the frame's.
        let big = Request::Reconcile {
            session: 1,
            scope: vec![],
            message: vec![0; MAX_RECONCILE_BYTES + 1],
        }
        .encode();
        assert!(big.len() <= MAX_REQUEST_BYTES + 1);
        assert!(Request::decode(&big).is_err());
        let big = Response::Reconcile {
            message: vec![0; MAX_RECONCILE_BYTES + 1],
        }
        .encode();
        assert!(Response::decode(&big).is_err());
        let mut long = vec![REFUSED];
        long.extend_from_slice("x".repeat(MAX_REFUSAL_BYTES + 1).as_bytes());
        assert!(Response::decode(&long).is_err());
        let lying = Response::Records {
            served: 1,
            records: vec![vec![1], vec![2]],
        }
        .encode();
        assert!(Response::decode(&lying).is_err());
    }
}
