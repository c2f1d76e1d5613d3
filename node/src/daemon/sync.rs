//! Catch-up sync between two connected nodes, both sides.
//!
//! The initiator ([`run`]) reconciles its set of latest versions with the peer's (range-based set
//! reconciliation, `convene_protocol::sync`), then fetches what it lacks in bounded batches and
//! hands each batch to the store actor, which verifies every record as if it came by gossip. Each
//! node pulls; both sides start a sync when a connection opens, so both end with the union.
//!
//! The responder ([`Responder`]) answers reconciliation rounds and fetches. It keeps its side of
//! the set fixed for the length of a session (one per peer), so the initiator sees a consistent
//! set even while records arrive.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use convene_protocol::RecordId;
use convene_protocol::sync::Reconciler;
use convene_protocol::wire::{MAX_FETCH_IDS, RECORDS_BUDGET, Request, Response};
use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::actor::{StoreHandle, Verdict};
use super::net::NetCommand;

/// What one sync with one peer did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    pub peer: String,
    /// Unix seconds when the sync finished.
    pub finished_at: i64,
    pub millis: u64,
    /// Reconciliation round trips.
    pub rounds: u32,
    /// Bytes of reconciliation messages, both directions.
    pub reconcile_bytes: u64,
    /// Records the peer had and this node lacked.
    pub needed: u64,
    /// Of those, stored as the latest version.
    pub stored: u64,
    /// Records that failed verification.
    pub invalid: u64,
}

/// Why a sync stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SyncFailure {
    #[error("request to the peer failed: {0}")]
    Request(String),
    #[error("the peer refused: {0}")]
    Refused(String),
    #[error("the peer answered out of turn")]
    Unexpected,
    #[error("the peer served none of the records asked for")]
    NothingServed,
    #[error(transparent)]
    Reconcile(#[from] convene_protocol::sync::SyncError),
    #[error("the store is closed")]
    Closed,
    #[error("store: {0}")]
    Store(String),
}

async fn request(
    net: &mpsc::Sender<NetCommand>,
    peer: PeerId,
    request: Request,
) -> Result<Response, SyncFailure> {
    let (reply, response) = oneshot::channel();
    net.send(NetCommand::Request {
        peer,
        request,
        reply,
    })
    .await
    .map_err(|_| SyncFailure::Closed)?;
    match response.await.map_err(|_| SyncFailure::Closed)? {
        Ok(Response::Refused { reason }) => Err(SyncFailure::Refused(reason)),
        Ok(response) => Ok(response),
        Err(error) => Err(SyncFailure::Request(error)),
    }
}

/// Syncs with `peer`: reconcile, then fetch and store what this node lacks.
pub async fn run(
    peer: PeerId,
    store: StoreHandle,
    net: mpsc::Sender<NetCommand>,
) -> Result<SyncReport, SyncFailure> {
    let started = Instant::now();
    let mut report = SyncReport {
        peer: peer.to_string(),
        ..SyncReport::default()
    };
    let items = store
        .call(|node| node.store().sync_items())
        .await
        .map_err(|_| SyncFailure::Closed)?
        .map_err(|e| SyncFailure::Store(e.to_string()))?;
    let (mut reconciler, mut message) = Reconciler::initiate(items)?;
    let session = rand_u64();
    let mut need = Vec::new();
    loop {
        report.rounds += 1;
        report.reconcile_bytes += message.len() as u64;
        let answer = match request(&net, peer, Request::Reconcile { session, message }).await? {
            Response::Reconcile { message } => message,
            _ => return Err(SyncFailure::Unexpected),
        };
        report.reconcile_bytes += answer.len() as u64;
        let round = reconciler.take_answer(&answer)?;
        need.extend(round.need);
        match round.next {
            Some(next) => message = next,
            None => break,
        }
    }
    report.needed = need.len() as u64;
    let mut rest: &[RecordId] = &need;
    while !rest.is_empty() {
        let ask = &rest[..rest.len().min(MAX_FETCH_IDS)];
        let (served, records) =
            match request(&net, peer, Request::Fetch { ids: ask.to_vec() }).await? {
                Response::Records { served, records } => (served as usize, records),
                _ => return Err(SyncFailure::Unexpected),
            };
        if served == 0 || served > ask.len() {
            return Err(SyncFailure::NothingServed);
        }
        rest = &rest[served..];
        if records.is_empty() {
            continue;
        }
        let verdicts = store
            .ingest(records)
            .await
            .map_err(|error| SyncFailure::Store(error.to_string()))?;
        let reasons: Vec<&str> = verdicts
            .iter()
            .filter_map(|v| match v {
                Verdict::Invalid(reason) => Some(reason.as_str()),
                _ => None,
            })
            .collect();
        let invalid = reasons.len();
        report.stored += verdicts.iter().filter(|v| **v == Verdict::Stored).count() as u64;
        report.invalid += invalid as u64;
        if let Some(reason) = reasons.first() {
            tracing::warn!(%peer, invalid, reason, "peer sent invalid records during sync");
            let _ = net
                .send(NetCommand::Penalise {
                    peer,
                    invalid: invalid as u32,
                })
                .await;
        }
    }
    report.millis = started.elapsed().as_millis() as u64;
    report.finished_at = crate::now();
    Ok(report)
}

fn rand_u64() -> u64 {
    let mut bytes = [0; 8];
    getrandom::fill(&mut bytes).expect("the OS gives randomness");
    u64::from_le_bytes(bytes)
}

/// The responder side: one reconciliation session per peer, kept until the peer starts another
/// or disconnects.
#[derive(Clone, Debug, Default)]
pub struct Responder {
    sessions: Arc<Mutex<HashMap<PeerId, (u64, Reconciler)>>>,
}

impl Responder {
    /// Answers one request from `peer`.
    pub async fn answer(&self, store: &StoreHandle, peer: PeerId, request: Request) -> Response {
        let refuse = |reason: String| Response::Refused { reason };
        match request {
            Request::Reconcile { session, message } => {
                let cached = {
                    let mut sessions = self.sessions.lock().expect("not poisoned");
                    match sessions.remove(&peer) {
                        Some((id, reconciler)) if id == session => Some(reconciler),
                        _ => None,
                    }
                };
                let mut reconciler = match cached {
                    Some(reconciler) => reconciler,
                    None => {
                        let items = match store.call(|node| node.store().sync_items()).await {
                            Ok(Ok(items)) => items,
                            Ok(Err(error)) => return refuse(error.to_string()),
                            Err(closed) => return refuse(closed.to_string()),
                        };
                        match Reconciler::respond_to(items) {
                            Ok(reconciler) => reconciler,
                            Err(error) => return refuse(error.to_string()),
                        }
                    }
                };
                match reconciler.answer(&message) {
                    Ok(message) => {
                        self.sessions
                            .lock()
                            .expect("not poisoned")
                            .insert(peer, (session, reconciler));
                        Response::Reconcile { message }
                    }
                    Err(error) => refuse(error.to_string()),
                }
            }
            Request::Fetch { ids } => {
                let served = store
                    .call(move |node| -> Result<Response, String> {
                        let mut records = Vec::new();
                        let mut bytes = 0;
                        let mut served = 0;
                        for id in ids {
                            if served > 0 && bytes >= RECORDS_BUDGET {
                                break;
                            }
                            served += 1;
                            // A version superseded since reconciliation is gone: skip it.
                            if let Some(record) =
                                node.store().get_by_id(id).map_err(|e| e.to_string())?
                            {
                                bytes += record.bytes().len();
                                records.push(record.into_bytes());
                            }
                        }
                        Ok(Response::Records { served, records })
                    })
                    .await;
                match served {
                    Ok(Ok(response)) => response,
                    Ok(Err(error)) => refuse(error),
                    Err(closed) => refuse(closed.to_string()),
                }
            }
            Request::Announce => Response::Ack,
        }
    }

    /// Forgets `peer`'s session.
    pub fn forget(&self, peer: &PeerId) {
        self.sessions.lock().expect("not poisoned").remove(peer);
    }
}
