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

use convene_protocol::sync::{Reconciler, SyncItem};
use convene_protocol::wire::{MAX_FETCH_IDS, RECORDS_BUDGET, Request, Response};
use convene_protocol::{AuthorKey, NetworkId, RecordId};
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

use super::actor::{self, StoreHandle, Verdict};
use super::rate::Bucket;
use crate::admission::Source;
use crate::settings::NodeSettings;

/// What one sync may cost, either side: from the `[node]` settings.
#[derive(Clone, Copy, Debug)]
pub struct SyncBudget {
    /// Reconciliation rounds in one sync.
    pub max_rounds: u32,
    /// Records one sync fetches.
    pub max_records: u64,
    /// New sessions answered per peer per minute.
    pub sessions_per_minute: u32,
    /// Requests answered per peer per minute.
    pub requests_per_minute: u32,
    /// Searches answered per peer per minute ([`Request::Search`]).
    pub searches_per_minute: u32,
}

impl From<&NodeSettings> for SyncBudget {
    fn from(settings: &NodeSettings) -> SyncBudget {
        SyncBudget {
            max_rounds: settings.sync_max_rounds,
            max_records: settings.sync_max_records,
            sessions_per_minute: settings.sync_sessions_per_minute,
            requests_per_minute: settings.sync_requests_per_minute,
            searches_per_minute: settings.searches_per_minute,
        }
    }
}

impl Default for SyncBudget {
    fn default() -> SyncBudget {
        SyncBudget::from(&NodeSettings::default())
    }
}

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
    /// Valid records this node's admission policy refused (a blocked author, a local rule).
    #[serde(default)]
    pub refused: u64,
    /// The sync stopped at its budget (rounds or records); the next one goes on.
    #[serde(default)]
    pub truncated: bool,
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

/// What a sync needs of the network: to ask the peer, and to report one that sent invalid
/// records. The network loop implements it; a test can too.
pub trait Link: Send + Sync {
    /// Sends `request` to `peer`: `None` if the network stopped, else the answer or why the
    /// request failed.
    fn request(
        &self,
        peer: PeerId,
        request: Request,
    ) -> impl Future<Output = Option<Result<Response, String>>> + Send;

    /// Counts `invalid` records against `peer`.
    fn penalise(&self, peer: PeerId, invalid: u32) -> impl Future<Output = ()> + Send;
}

async fn request(net: &impl Link, peer: PeerId, request: Request) -> Result<Response, SyncFailure> {
    match net
        .request(peer, request)
        .await
        .ok_or(SyncFailure::Closed)?
    {
        Ok(Response::Refused { reason }) => Err(SyncFailure::Refused(reason)),
        Ok(response) => Ok(response),
        Err(error) => Err(SyncFailure::Request(error)),
    }
}

/// Syncs with `peer`: reconcile, then fetch and store what this node lacks.
pub async fn run(
    peer: PeerId,
    store: StoreHandle,
    net: impl Link,
    budget: SyncBudget,
) -> Result<SyncReport, SyncFailure> {
    let started = Instant::now();
    let mut report = SyncReport {
        peer: peer.to_string(),
        ..SyncReport::default()
    };
    // This node's side: the networks it replicates, as the peer may see them (so that what
    // the peer may not have does not show up as a difference every time).
    let plan = store
        .ask(|reply| actor::Request::SyncSet {
            peer: peer.to_string(),
            scope: None,
            reply,
        })
        .await
        .map_err(|_| SyncFailure::Closed)?
        .map_err(|e| SyncFailure::Store(e.to_string()))?;
    let scope = plan.scope;
    let (mut reconciler, mut message) = Reconciler::initiate(plan.items)?;
    let session = rand_u64();
    let mut need = Vec::new();
    loop {
        if report.rounds >= budget.max_rounds {
            // A responder that never finishes cannot keep this node reconciling: fetch what
            // is known so far; the next sync goes on from there.
            report.truncated = true;
            break;
        }
        report.rounds += 1;
        report.reconcile_bytes += message.len() as u64;
        let reconcile = Request::Reconcile {
            session,
            scope: scope.clone(),
            message,
        };
        let answer = match request(&net, peer, reconcile).await? {
            Response::Reconcile { message } => message,
            _ => return Err(SyncFailure::Unexpected),
        };
        report.reconcile_bytes += answer.len() as u64;
        let round = reconciler.take_answer(&answer)?;
        need.extend(round.need);
        if need.len() as u64 >= budget.max_records {
            need.truncate(budget.max_records as usize);
            report.truncated = true;
            break;
        }
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
            .ingest(records, Source::Sync)
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
        report.refused += verdicts
            .iter()
            .filter(|v| matches!(v, Verdict::Refused(_)))
            .count() as u64;
        report.invalid += invalid as u64;
        if let Some(reason) = reasons.first() {
            tracing::warn!(%peer, invalid, reason, "peer sent invalid records during sync");
            net.penalise(peer, invalid as u32).await;
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
/// or disconnects; each peer's requests and new sessions rate-limited; the sync set (the latest
/// versions the peer may see, in the networks it asks for) built once per kind of peer — the
/// organisations it is bound to and the networks it asks for — and reused until the store
/// changes.
#[derive(Clone, Debug)]
pub struct Responder {
    state: Arc<Mutex<ResponderState>>,
    budget: SyncBudget,
}

#[derive(Debug, Default)]
struct ResponderState {
    sessions: HashMap<PeerId, Session>,
    rates: HashMap<PeerId, Rates>,
    /// The store log head the cached sync sets were built at, and the sets by (the peer's
    /// organisations, the scope it asked for).
    cache: Option<(u64, SetCache)>,
    /// Times the sync set was built from the store (for tests and status).
    builds: u64,
}

type SetKey = (Vec<AuthorKey>, Vec<NetworkId>);
type SetCache = HashMap<SetKey, Arc<Vec<SyncItem>>>;

/// Most distinct sync sets kept at once; past it the cache starts again.
const MAX_CACHED_SETS: usize = 64;

#[derive(Debug)]
struct Session {
    id: u64,
    reconciler: Reconciler,
    rounds: u32,
}

#[derive(Debug)]
struct Rates {
    requests: Bucket,
    sessions: Bucket,
    /// Searches asked of this node ([`Request::Search`]): each runs a query on the index.
    searches: Bucket,
}

impl Default for Responder {
    fn default() -> Responder {
        Responder::new(SyncBudget::default())
    }
}

impl Responder {
    pub fn new(budget: SyncBudget) -> Responder {
        Responder {
            state: Arc::default(),
            budget,
        }
    }

    /// How many times the sync set was built from the store.
    pub fn builds(&self) -> u64 {
        self.state.lock().expect("not poisoned").builds
    }

    /// Answers one request from `peer`.
    pub async fn answer(&self, store: &StoreHandle, peer: PeerId, request: Request) -> Response {
        let refuse = |reason: String| Response::Refused { reason };
        let new_session = match &request {
            Request::Reconcile { session, .. } => {
                let state = self.state.lock().expect("not poisoned");
                state.sessions.get(&peer).is_none_or(|s| s.id != *session)
            }
            _ => false,
        };
        {
            let mut state = self.state.lock().expect("not poisoned");
            let budget = self.budget;
            let rates = state.rates.entry(peer).or_insert_with(|| Rates {
                requests: Bucket::new(budget.requests_per_minute),
                sessions: Bucket::new(budget.sessions_per_minute),
                searches: Bucket::new(budget.searches_per_minute),
            });
            if matches!(request, Request::Search { .. }) && !rates.searches.take() {
                return refuse(format!(
                    "over the limit of {} searches a minute; try later",
                    budget.searches_per_minute
                ));
            }
            if !rates.requests.take() {
                return refuse(format!(
                    "over the limit of {} sync requests a minute; slow down",
                    budget.requests_per_minute
                ));
            }
            if new_session && !rates.sessions.take() {
                return refuse(format!(
                    "over the limit of {} sync sessions a minute; try later",
                    budget.sessions_per_minute
                ));
            }
        }
        match request {
            Request::Reconcile {
                session,
                scope,
                message,
            } => {
                let cached = {
                    let mut state = self.state.lock().expect("not poisoned");
                    match state.sessions.remove(&peer) {
                        Some(existing) if existing.id == session => Some(existing),
                        _ => None,
                    }
                };
                let mut session = match cached {
                    Some(session) => session,
                    None => {
                        let items = match self.sync_set(store, peer, scope).await {
                            Ok(items) => items,
                            Err(reason) => return refuse(reason),
                        };
                        match Reconciler::respond_to(items.iter().copied()) {
                            Ok(reconciler) => Session {
                                id: session,
                                reconciler,
                                rounds: 0,
                            },
                            Err(error) => return refuse(error.to_string()),
                        }
                    }
                };
                session.rounds += 1;
                if session.rounds > self.budget.max_rounds {
                    return refuse(format!(
                        "the session is over the limit of {} rounds",
                        self.budget.max_rounds
                    ));
                }
                match session.reconciler.answer(&message) {
                    Ok(message) => {
                        self.state
                            .lock()
                            .expect("not poisoned")
                            .sessions
                            .insert(peer, session);
                        Response::Reconcile { message }
                    }
                    Err(error) => refuse(error.to_string()),
                }
            }
            Request::Fetch { ids } => {
                let served = store
                    .ask(|reply| actor::Request::Fetch {
                        peer: peer.to_string(),
                        ids,
                        budget: RECORDS_BUDGET,
                        reply,
                    })
                    .await;
                match served {
                    Ok(Ok((served, records))) => Response::Records {
                        served: served as u32,
                        records,
                    },
                    Ok(Err(error)) => refuse(error.to_string()),
                    Err(closed) => refuse(closed.to_string()),
                }
            }
            Request::Announce => Response::Ack,
            Request::Search { text, kind, limit } => {
                let found = store
                    .ask(|reply| actor::Request::AnswerSearch {
                        peer: peer.to_string(),
                        text,
                        kind,
                        limit: usize::from(limit),
                        reply,
                    })
                    .await;
                match found {
                    Ok(Ok(records)) => Response::Records {
                        served: records.len() as u32,
                        records,
                    },
                    Ok(Err(error)) => refuse(error.to_string()),
                    Err(closed) => refuse(closed.to_string()),
                }
            }
            Request::Delegate { request } => {
                match convene_protocol::keys::DelegationAsk::verify(&request) {
                    Ok(ask) => acked(
                        store
                            .ask(|reply| actor::Request::ReceiveDelegationAsk {
                                ask,
                                from: peer.to_string(),
                                reply,
                            })
                            .await,
                    ),
                    Err(error) => refuse(error.to_string()),
                }
            }
            Request::Join { request } => {
                match convene_protocol::network::JoinRequest::verify(&request) {
                    Ok(request) => acked(
                        store
                            .ask(|reply| actor::Request::ReceiveJoin {
                                request,
                                from: peer.to_string(),
                                reply,
                            })
                            .await,
                    ),
                    Err(error) => refuse(error.to_string()),
                }
            }
        }
    }

    /// The latest versions `peer` may see within `scope`, built from the store only when it
    /// changed since the last build for a peer like this one (its log head moved).
    async fn sync_set(
        &self,
        store: &StoreHandle,
        peer: PeerId,
        mut scope: Vec<NetworkId>,
    ) -> Result<Arc<Vec<SyncItem>>, String> {
        scope.sort();
        scope.dedup();
        let (head, organisations) = store
            .ask(|reply| actor::Request::PeerView {
                peer: peer.to_string(),
                reply,
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let key: SetKey = (crate::networks::distinct(&organisations), scope.clone());
        if let Some((at, sets)) = &self.state.lock().expect("not poisoned").cache
            && *at == head
            && let Some(items) = sets.get(&key)
        {
            return Ok(items.clone());
        }
        let plan = store
            .ask(|reply| actor::Request::SyncSet {
                peer: peer.to_string(),
                scope: Some(scope),
                reply,
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let items = Arc::new(plan.items);
        let key: SetKey = (crate::networks::distinct(&plan.organisations), plan.scope);
        let mut state = self.state.lock().expect("not poisoned");
        state.builds += 1;
        let sets = match &mut state.cache {
            Some((at, sets)) if *at == plan.head && sets.len() < MAX_CACHED_SETS => sets,
            cache => &mut cache.insert((plan.head, HashMap::new())).1,
        };
        sets.insert(key, items.clone());
        Ok(items)
    }

    /// Forgets `peer`'s session and rate counters (it disconnected).
    pub fn forget(&self, peer: &PeerId) {
        let mut state = self.state.lock().expect("not poisoned");
        state.sessions.remove(peer);
        state.rates.remove(peer);
    }
}

/// The answer to a request the store actor keeps (a join or delegation request): an
/// acknowledgement once kept, else why not.
fn acked(kept: Result<Result<(), crate::NodeError>, actor::ActorError>) -> Response {
    match kept {
        Ok(Ok(())) => Response::Ack,
        Ok(Err(error)) => Response::Refused {
            reason: error.to_string(),
        },
        Err(closed) => Response::Refused {
            reason: closed.to_string(),
        },
    }
}
