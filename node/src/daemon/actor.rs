//! The store actor: one thread owns the [`Node`] (store and index) while the daemon runs.
//!
//! Everything that touches the store goes through its bounded queue as a [`Request`], one variant
//! per operation: records from the network (verified here, off the network thread, and
//! committed in batches: one durable transaction for everything queued, not one per record),
//! imports, publishing and the reads of the local API and of sync. A caller learns a record's
//! fate only after the transaction holding it is durable, so the network acknowledges nothing
//! that a crash could lose.
//!
//! No request holds the thread for long: imports arrive in chunks of at most
//! [`ADMIT_CHUNK`] records (the API splits them), and a reindex runs [`REINDEX_STEP`] records at
//! a time between other requests, so gossip intake goes on during both.
//!
//! A job that fails — an I/O error, a full disk, even a panic — fails for its caller only: the
//! actor reports it, rolls back what was not durable, reopens what failed (retrying while the
//! node is degraded) and carries on with the next job. Only if the thread itself ends does the
//! daemon stop, at once and with the reason (see [`Daemon::wait`](super::Daemon::wait)).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use convene_protocol::{Address, AuthorKey, NetworkId, Record, RecordId};
use convene_search::{Facet, Query, SimilarQuery, Uncommitted};
use rayon::prelude::*;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::rate::Buckets;
use crate::admission::Source;
use crate::domains::DomainCheck;
use crate::settings::NodeSettings;
use crate::transfer::{Admitted, RowResult};
use crate::trust::{Block, Found, Pin, Trust};
use crate::{
    Draft, ListFilter, NetworkChange, NetworkView, Node, NodeError, Outcome, Person,
    PublishOutcome, Publisher, SimilarCheck, Store, StoreCounts, SyncPlan,
};

/// Jobs waiting for the store; senders wait (API, sync) or give up (gossip) when it is full.
const QUEUE: usize = 256;
/// Most records verified and committed in one transaction.
const MAX_BATCH: usize = 2_048;
/// Batches at least this large are verified on every core.
const PARALLEL_FROM: usize = 16;
/// The index is committed before every request that reads it, once nothing has changed it for
/// this long (a burst of records pays for one commit, and gossip is forwarded before it), and
/// at least every [`INDEX_COMMIT_EVERY`] under a steady stream. A tantivy commit writes a new
/// segment and reloads the reader: committing after every record cost the 100-node
/// propagation benchmark most of its time (see `docs/benchmarks.md`).
const INDEX_COMMIT_QUIET: Duration = Duration::from_secs(1);
/// The longest an index change waits for a commit that no read asked for; a crash loses none
/// of them (the index catches up from the store's log), this only bounds that catching up.
const INDEX_COMMIT_EVERY: Duration = Duration::from_secs(5);
/// An index with at least this many segments, and this many documents outside its largest
/// segment, is merged into one in the background ([`index_merge_due`]).
const MERGE_AT_SEGMENTS: usize = 4;
/// See [`MERGE_AT_SEGMENTS`]: a tenth of the documents, and at least this many.
const MERGE_AT_DOCS_OUTSIDE: u64 = 10_000;
/// ... once nothing has changed the index for this long: an import through the API arrives in
/// chunks, with the queue empty between them, and merging after each would rewrite the whole
/// index again and again.
const MERGE_QUIET: Duration = Duration::from_secs(30);
/// While degraded, the actor tries to reopen what failed at most this often.
const RECOVER_EVERY: Duration = Duration::from_secs(2);
/// Most records (or CSV rows) in one import request to the actor.
pub const ADMIT_CHUNK: usize = 1_024;
/// Records re-indexed between two other requests while a reindex runs.
pub const REINDEX_STEP: usize = 1_000;

/// What became of one record offered by the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Verified, and now the latest version at its address. Durable.
    Stored,
    /// Already held.
    Duplicate,
    /// Valid, but an equal or newer version is held.
    Stale,
    /// Valid, but this node's admission policy refuses it.
    Refused(String),
    /// Valid, but in no network this node replicates; not stored.
    Elsewhere,
    /// Failed verification or validation; nothing was stored.
    Invalid(String),
}

/// Why the store actor did not do a job.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActorError {
    /// The actor stopped (the daemon is shutting down).
    #[error("the store is closed (the node is shutting down)")]
    Closed,
    /// The job failed; nothing it did that was not durable was kept. The actor carries on.
    #[error("{0}")]
    Failed(String),
}

/// Where the answer to a request goes.
pub type Reply<T> = oneshot::Sender<Result<Result<T, NodeError>, ActorError>>;
type Verdicts = Result<Vec<Verdict>, ActorError>;
/// Records offered together from one source, and where their verdicts go.
type IngestJob = (Vec<Vec<u8>>, Source, oneshot::Sender<Verdicts>);

/// One operation on the store, with where its answer goes.
#[derive(Debug)]
pub enum Request {
    Search {
        query: Query,
        reply: Reply<Vec<Found>>,
    },
    Facets {
        query: Query,
        reply: Reply<Vec<Facet>>,
    },
    People {
        topic: String,
        limit: usize,
        reply: Reply<Vec<Person>>,
    },
    Similar {
        query: SimilarQuery,
        reply: Reply<Vec<(f32, Found)>>,
    },
    Trust {
        author: AuthorKey,
        reply: Reply<Trust>,
    },
    Pins {
        reply: Reply<Vec<(AuthorKey, Pin)>>,
    },
    Accounts {
        reply: Reply<Vec<crate::accounts::AccountView>>,
    },
    ChangeAccount {
        change: crate::accounts::AccountChange,
        reply: Reply<crate::accounts::AccountChanged>,
    },
    SignIn {
        token: String,
        reply: Reply<Option<crate::accounts::NewSession>>,
    },
    WebSession {
        secret: String,
        reply: Reply<Option<crate::accounts::Session>>,
    },
    SignOut {
        secret: String,
        reply: Reply<()>,
    },
    SetPin {
        author: AuthorKey,
        pin: Option<Pin>,
        reply: Reply<bool>,
    },
    Blocks {
        reply: Reply<Vec<(AuthorKey, Block)>>,
    },
    /// Authors whose profile's domain is due for a check.
    DomainsDue {
        recheck_secs: i64,
        reply: Reply<Vec<(AuthorKey, String)>>,
    },
    RecordDomainCheck {
        author: AuthorKey,
        check: DomainCheck,
        reply: Reply<()>,
    },
    SetBlock {
        author: AuthorKey,
        block: Option<Block>,
        reply: Reply<(bool, usize)>,
    },
    Get {
        address: Address,
        reply: Reply<Record>,
    },
    List {
        filter: ListFilter,
        reply: Reply<Vec<Record>>,
    },
    Counts {
        reply: Reply<StoreCounts>,
    },
    /// The catch-up sync set `peer` may see, within `scope` (`None`: the networks this node
    /// replicates, when it starts the sync).
    SyncSet {
        peer: String,
        scope: Option<Vec<NetworkId>>,
        reply: Reply<SyncPlan>,
    },
    /// The networks this node holds a charter of or joined.
    Networks {
        reply: Reply<Vec<NetworkView>>,
    },
    /// Founds, amends, joins or leaves a network as the node's identity; the network as it now
    /// is, and the records signed to spread (a charter version, a new binding).
    ChangeNetwork {
        change: NetworkChange,
        reply: Reply<(NetworkView, Vec<Record>)>,
    },
    /// Tells the actor this node's peer id, and makes sure the organisation's binding lists it
    /// once the node joined a network; the new binding, if one was signed.
    Bind {
        node: String,
        reply: Reply<Option<Record>>,
    },
    /// Keeps a join request `from` a peer for the convenor.
    ReceiveJoin {
        request: convene_protocol::network::JoinRequest,
        from: String,
        reply: Reply<()>,
    },
    JoinRequests {
        reply: Reply<Vec<crate::charters::PendingJoin>>,
    },
    ReceiveDelegationAsk {
        ask: convene_protocol::keys::DelegationAsk,
        from: String,
        reply: Reply<()>,
    },
    DelegationAsks {
        reply: Reply<Vec<crate::keys::PendingDelegation>>,
    },
    /// Signs this home's request to publish for `organisation`, sent by `node`.
    SignDelegationAsk {
        organisation: AuthorKey,
        node: String,
        person: Option<String>,
        note: Option<String>,
        reply: Reply<Vec<u8>>,
    },
    /// Signs a request to join `network` sent by `node` (this node's peer id).
    SignJoin {
        network: String,
        node: String,
        note: Option<String>,
        reply: Reply<(NetworkId, Vec<u8>)>,
    },
    /// A peer's search: the matching records it may receive, signed.
    AnswerSearch {
        peer: String,
        text: String,
        kind: Option<convene_protocol::Kind>,
        limit: usize,
        reply: Reply<Vec<Vec<u8>>>,
    },
    /// Checks and merges what peers answered to a wider search.
    MergeWider {
        query: crate::wider::WiderQuery,
        replies: Vec<(String, crate::wider::PeerReply)>,
        reply: Reply<crate::wider::WiderSearch>,
    },
    /// The web page's search, open records only.
    SearchPage {
        query: crate::pages::PageQuery,
        viewer: crate::pages::Viewer,
        reply: Reply<crate::pages::SearchPage>,
    },
    /// The web page of one open network.
    NetworkPage {
        id: NetworkId,
        viewer: crate::pages::Viewer,
        reply: Reply<Option<crate::pages::NetworkPage>>,
    },
    /// The web page of one organisation.
    OrganisationPage {
        key: AuthorKey,
        viewer: crate::pages::Viewer,
        reply: Reply<crate::pages::OrganisationPage>,
    },
    /// The web page of one record, if it is open.
    FollowingPage {
        account: String,
        reply: Reply<crate::pages::FollowingPage>,
    },
    Watches {
        watcher: crate::watches::Watcher,
        reply: Reply<Vec<crate::watches::Watch>>,
    },
    ChangeWatch {
        watcher: crate::watches::Watcher,
        change: crate::watches::WatchChange,
        reply: Reply<Option<crate::watches::Watch>>,
    },
    AtomFeed {
        id: String,
        web: Option<String>,
        reply: Reply<String>,
    },
    News {
        watcher: crate::watches::Watcher,
        mark_seen: bool,
        reply: Reply<Vec<crate::watches::News>>,
    },
    PeoplePage {
        topic: String,
        viewer: crate::pages::Viewer,
        reply: Reply<crate::pages::PeoplePage>,
    },
    RecordPage {
        address: Address,
        viewer: crate::pages::Viewer,
        reply: Reply<Option<crate::pages::RecordPage>>,
    },
    /// A snapshot to write the open data from.
    OpenData {
        licence: String,
        reply: Reply<crate::open_data::OpenData>,
    },
    /// The name of the organisation each peer's node is bound to, if known.
    PeerNames {
        peers: Vec<String>,
        reply: Reply<Vec<Option<String>>>,
    },
    Cohort {
        experiment: Address,
        reply: Reply<crate::cohort::Cohort>,
    },
    History {
        address: Address,
        reply: Reply<crate::history::History>,
    },
    Digest {
        network: String,
        since: convene_protocol::Date,
        reply: Reply<crate::digest::Digest>,
    },
    NetworkMap {
        network: String,
        reply: Reply<crate::digest::NetworkMap>,
    },
    /// How the record at `address` spreads: whether it goes only to some nodes (a
    /// members-only network's record, a contact card: never gossiped), and the networks it
    /// names (whose gossip topics it goes on; none: the commons').
    Spread {
        address: Address,
        reply: Reply<(bool, Vec<NetworkId>)>,
    },
    /// The networks this node replicates (the commons and those it joined).
    Scope {
        reply: Reply<Vec<NetworkId>>,
    },
    /// The store's log head and the organisations whose bindings list `peer`.
    PeerView {
        peer: String,
        reply: Reply<(u64, Vec<AuthorKey>)>,
    },
    LogHead {
        reply: Reply<u64>,
    },
    /// Stored records by id, in order, until `budget` bytes: how many ids were served, and the
    /// bytes of those still stored.
    Fetch {
        /// The peer asking: it gets only what it may receive.
        peer: String,
        ids: Vec<RecordId>,
        budget: usize,
        reply: Reply<(usize, Vec<Vec<u8>>)>,
    },
    /// A read-only handle on the store, for a long read (an export) off this thread.
    Snapshot {
        reply: Reply<Store>,
    },
    /// Publishes a draft as the node's identity.
    Publish {
        draft: Draft,
        check: SimilarCheck,
        reply: Reply<PublishOutcome>,
    },
    Retract {
        address: Address,
        reply: Reply<Record>,
    },
    /// Verified records (an import chunk of at most [`ADMIT_CHUNK`]) for the write path; in a
    /// dry run nothing is kept.
    Admit {
        records: Vec<Record>,
        source: Source,
        dry_run: bool,
        reply: Reply<Vec<Admitted>>,
    },
    /// CSV rows as drafts (at most [`ADMIT_CHUNK`]), published as the node's identity.
    PublishRows {
        rows: Vec<Draft>,
        dry_run: bool,
        reply: Reply<Vec<RowResult>>,
    },
    /// Rebuilds the index, [`REINDEX_STEP`] records at a time; answers the records indexed.
    Reindex {
        reply: Reply<u64>,
    },
    /// Panics inside a request: only for tests of what a failing request does.
    #[doc(hidden)]
    PanicForTests {
        message: String,
        reply: Reply<()>,
    },
}

/// Whether index changes made at `changes` are due for a commit that no read asked for: once
/// nothing has changed the index for [`INDEX_COMMIT_QUIET`] and no job waits, or once the
/// oldest has waited [`INDEX_COMMIT_EVERY`] whatever else is going on.
fn index_commit_due(changes: Option<Uncommitted>, queue_empty: bool, now: Instant) -> bool {
    changes.is_some_and(|changes| {
        now.saturating_duration_since(changes.first) >= INDEX_COMMIT_EVERY
            || (queue_empty && now.saturating_duration_since(changes.last) >= INDEX_COMMIT_QUIET)
    })
}

/// Whether an index whose segments hold `sizes` documents (largest first), last changed at
/// `last_change`, is due for a merge into one: nothing has changed it for [`MERGE_QUIET`], it
/// has [`MERGE_AT_SEGMENTS`] segments or more, and the ones beside the largest hold a tenth of
/// its documents, and at least [`MERGE_AT_DOCS_OUTSIDE`]. A large import
/// through the API leaves ten segments at a million records, and each search visits every one
/// (the median search at 1M: 1.4 ms on ten, 0.9 ms on one). Small segments from records
/// arriving one by one are left to tantivy's own merging until they add up: merging a
/// million-record index rewrites all of it (about 10 s on one core), so it should not follow
/// every few new records.
fn index_merge_due(sizes: &[u64], last_change: Option<Instant>, now: Instant) -> bool {
    let Some((largest, others)) = sizes.split_first() else {
        return false;
    };
    let outside: u64 = others.iter().sum();
    last_change.is_none_or(|last| now.saturating_duration_since(last) >= MERGE_QUIET)
        && sizes.len() >= MERGE_AT_SEGMENTS
        && outside >= MERGE_AT_DOCS_OUTSIDE
        && outside * 10 >= (largest + outside)
}

impl Request {
    /// Whether answering may read the search index, so that it must first commit what was
    /// stored before it. The requests listed here read only the store; they are the ones the
    /// network loop and every web page's sign-in check send often, which otherwise would each
    /// commit the index after every gossiped record. Any other request commits first.
    fn reads_index(&self) -> bool {
        !matches!(
            self,
            Request::SyncSet { .. }
                | Request::Fetch { .. }
                | Request::LogHead { .. }
                | Request::PeerView { .. }
                | Request::Scope { .. }
                | Request::Spread { .. }
                | Request::Get { .. }
                | Request::Counts { .. }
                | Request::WebSession { .. }
                | Request::Bind { .. }
                | Request::DomainsDue { .. }
                | Request::Snapshot { .. }
        )
    }
}

enum Job {
    Ingest {
        records: Vec<Vec<u8>>,
        source: Source,
        reply: oneshot::Sender<Verdicts>,
    },
    Request(Box<Request>),
    /// Nothing to do but a chance to recover (while degraded) or to commit the index, sent
    /// every second by the network loop.
    Tick,
    /// Ends the thread with a panic outside any job: only for tests of what the daemon does
    /// when its store thread dies.
    Abort,
    /// Finish: commit the index and close the store, whoever still holds a handle.
    Stop,
}

/// The queue is full; try again later.
#[derive(Debug)]
pub struct Busy;

/// A cheap, cloneable handle to the store actor.
#[derive(Clone, Debug)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
    stored: broadcast::Sender<RecordId>,
    health: watch::Receiver<Health>,
    networks: watch::Receiver<u64>,
    profiles: watch::Receiver<u64>,
}

/// Whether the store is working, or what is wrong with it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Health {
    /// Set while writes fail (a full disk, an I/O error): what failed, and since when (unix
    /// seconds). Reads that do not need the failed part keep working; the actor retries.
    pub degraded: Option<Degraded>,
}

/// What is wrong with a degraded store.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Degraded {
    pub reason: String,
    pub since: i64,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Ingest { records, .. } => write!(f, "Ingest({} records)", records.len()),
            Job::Request(request) => request.fmt(f),
            Job::Tick => f.write_str("Tick"),
            Job::Abort => f.write_str("Abort"),
            Job::Stop => f.write_str("Stop"),
        }
    }
}

impl StoreHandle {
    /// Ids of records from the network, sent once they are durably stored as latest versions.
    /// A receiver that falls more than a few thousand behind skips ahead (and is told so).
    pub fn subscribe(&self) -> broadcast::Receiver<RecordId> {
        self.stored.subscribe()
    }

    /// Goes up each time the networks view changed (a charter, a binding, a join): what peers
    /// may send this node, and what it may send them, changed.
    pub fn networks_epoch(&self) -> u64 {
        *self.networks.borrow()
    }

    /// Changes each time an organisation profile is stored.
    pub fn profiles(&self) -> watch::Receiver<u64> {
        self.profiles.clone()
    }

    /// Whether the store is healthy now.
    pub fn health(&self) -> Health {
        self.health.borrow().clone()
    }

    /// Sends a request built around its reply channel and waits for the answer. If the
    /// request panics, the caller gets [`ActorError::Failed`] and the actor goes on.
    pub async fn ask<T>(
        &self,
        request: impl FnOnce(Reply<T>) -> Request,
    ) -> Result<Result<T, NodeError>, ActorError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Request(Box::new(request(reply))))
            .await
            .map_err(|_| ActorError::Closed)?;
        answer.await.map_err(|_| ActorError::Closed)?
    }

    /// [`StoreHandle::ask`] from a thread outside the runtime (an import reading its input).
    pub fn ask_blocking<T>(
        &self,
        request: impl FnOnce(Reply<T>) -> Request,
    ) -> Result<Result<T, NodeError>, ActorError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .blocking_send(Job::Request(Box::new(request(reply))))
            .map_err(|_| ActorError::Closed)?;
        answer.blocking_recv().map_err(|_| ActorError::Closed)?
    }

    /// Asks the actor to finish once the jobs queued before this one are done. Later jobs fail
    /// with [`ActorError::Closed`].
    pub async fn stop(&self) {
        let _ = self.jobs.send(Job::Stop).await;
    }

    /// Makes the store thread die (a panic outside any job). Only for tests.
    #[doc(hidden)]
    pub async fn abort_for_tests(&self) {
        let _ = self.jobs.send(Job::Abort).await;
    }

    /// Gives the actor a turn when idle: a degraded one retries, a dirty index is committed.
    /// Skipped if its queue is full.
    pub fn tick(&self) {
        let _ = self.jobs.try_send(Job::Tick);
    }

    /// Verifies records from the network (`source`: gossip or sync) and offers them to the
    /// write path, waiting for room in the queue.
    pub async fn ingest(&self, records: Vec<Vec<u8>>, source: Source) -> Verdicts {
        let (reply, result) = oneshot::channel();
        self.jobs
            .send(Job::Ingest {
                records,
                source,
                reply,
            })
            .await
            .map_err(|_| ActorError::Closed)?;
        result.await.map_err(|_| ActorError::Closed)?
    }

    /// Queues records without waiting; the verdicts arrive on the returned receiver.
    pub fn try_ingest(
        &self,
        records: Vec<Vec<u8>>,
        source: Source,
    ) -> Result<oneshot::Receiver<Verdicts>, Busy> {
        let (reply, result) = oneshot::channel();
        self.jobs
            .try_send(Job::Ingest {
                records,
                source,
                reply,
            })
            .map_err(|_| Busy)?;
        Ok(result)
    }
}

/// The running actor thread: join it to wait for the store to close; `ended` resolves the
/// moment the thread ends for any reason (including a panic outside a job).
#[derive(Debug)]
pub struct ActorThread {
    pub thread: std::thread::JoinHandle<Result<(), NodeError>>,
    pub ended: oneshot::Receiver<()>,
}

/// Starts the actor on its own thread. It runs until [`StoreHandle::stop`] (or until every
/// handle is dropped), then commits the index and closes the node.
pub fn spawn(
    node: Node,
    publisher: Publisher,
    settings: &NodeSettings,
) -> (StoreHandle, ActorThread) {
    let author_rates = Buckets::new(settings.gossip_records_per_author_per_minute);
    let (jobs, queue) = mpsc::channel(QUEUE);
    let (stored, _) = broadcast::channel(4_096);
    let (health_tx, health) = watch::channel(Health::default());
    let (networks_tx, networks) = watch::channel(0);
    let (profiles_tx, profiles) = watch::channel(0);
    let (alive, ended) = oneshot::channel::<()>();
    let announce = stored.clone();
    let thread = std::thread::Builder::new()
        .name("convene-store".into())
        .spawn(move || {
            // Dropped however the thread ends, which is what `ended` waits for.
            let _alive = alive;
            Actor::new(node, publisher, announce, health_tx, author_rates).run(
                queue,
                networks_tx,
                profiles_tx,
            )
        })
        .expect("spawning the store thread");
    (
        StoreHandle {
            jobs,
            stored,
            health,
            networks,
            profiles,
        },
        ActorThread { thread, ended },
    )
}

struct Actor {
    node: Node,
    publisher: Publisher,
    stored: broadcast::Sender<RecordId>,
    health: watch::Sender<Health>,
    last_recovery: Option<Instant>,
    /// A reindex under way.
    reindex: Option<Reindexing>,
    /// Gossiped records taken per author per minute (the rest wait for sync).
    author_rates: Buckets<AuthorKey>,
    /// This node's libp2p peer id, once the daemon said it (see [`Request::Bind`]).
    node_id: Option<String>,
}

/// A reindex under way: the next log position to index, and who waits for the end.
struct Reindexing {
    next: u64,
    reply: Reply<u64>,
}

/// The message of a panic caught in a job.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Actor {
    fn new(
        node: Node,
        publisher: Publisher,
        stored: broadcast::Sender<RecordId>,
        health: watch::Sender<Health>,
        author_rates: Buckets<AuthorKey>,
    ) -> Actor {
        let mut node = node;
        // This actor commits the index itself: before reads, and when quiet.
        node.defer_index_commits();
        Actor {
            node,
            publisher,
            stored,
            health,
            last_recovery: None,
            reindex: None,
            author_rates,
            node_id: None,
        }
    }

    /// Binds this node to its organisation once it is in a network (a node in none needs no
    /// binding: it receives only open records). The new binding, if one was signed.
    fn bind_if_joined(&mut self) -> Result<Option<Record>, NodeError> {
        let Some(node_id) = &self.node_id else {
            return Ok(None);
        };
        if self.node.networks()?.joined().is_empty() {
            return Ok(None);
        }
        self.node.bind(&self.publisher, node_id, crate::now())
    }

    /// The next job: waits for one, unless a reindex has a step to take meanwhile.
    fn next_job(&mut self, queue: &mut mpsc::Receiver<Job>) -> Option<Job> {
        while self.reindex.is_some() {
            match queue.try_recv() {
                Ok(job) => return Some(job),
                Err(mpsc::error::TryRecvError::Empty) => self.reindex_step(),
                Err(mpsc::error::TryRecvError::Disconnected) => return None,
            }
        }
        queue.blocking_recv()
    }

    fn run(
        mut self,
        mut queue: mpsc::Receiver<Job>,
        networks: watch::Sender<u64>,
        profiles: watch::Sender<u64>,
    ) -> Result<(), NodeError> {
        while let Some(job) = self.next_job(&mut queue) {
            let mut deferred = None;
            let mut stop = false;
            match job {
                Job::Stop => break,
                Job::Abort => panic!("the store thread was told to abort"),
                Job::Tick => {}
                Job::Request(request) => deferred = Some(*request),
                Job::Ingest {
                    records,
                    source,
                    reply,
                } => {
                    let mut batch = vec![(records, source, reply)];
                    let mut size = batch[0].0.len();
                    while size < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(Job::Ingest {
                                records,
                                source,
                                reply,
                            }) => {
                                size += records.len();
                                batch.push((records, source, reply));
                            }
                            Ok(Job::Request(request)) => {
                                deferred = Some(*request);
                                break;
                            }
                            Ok(Job::Tick) => {}
                            Ok(Job::Abort) => panic!("the store thread was told to abort"),
                            Ok(Job::Stop) => {
                                stop = true;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.recover_if_degraded();
                    self.ingest(batch);
                }
            }
            self.recover_if_degraded();
            if let Some(request) = deferred {
                // Reads see every record acknowledged before them.
                if request.reads_index() {
                    self.commit_index_if_dirty();
                }
                self.serve(request);
            }
            let epoch = self.node.networks_epoch();
            networks.send_if_modified(|seen| std::mem::replace(seen, epoch) != epoch);
            let epoch = self.node.profiles_epoch();
            profiles.send_if_modified(|seen| std::mem::replace(seen, epoch) != epoch);
            if stop {
                break;
            }
            if index_commit_due(
                self.node.index().uncommitted(),
                queue.is_empty(),
                Instant::now(),
            ) {
                self.commit_index_if_dirty();
            }
            if self.reindex.is_some() {
                self.reindex_step();
            } else if queue.is_empty() {
                self.merge_index_when_due();
            }
        }
        // Later jobs fail at once (their callers see `Closed`) instead of waiting.
        queue.close();
        if let Some(reindexing) = self.reindex.take() {
            // A half-built index must not be committed as up to date: the index stays as it
            // was before the reindex and catches up from the store on the next open.
            let _ = self.node.discard_index_changes();
            let _ = reindexing.reply.send(Err(ActorError::Closed));
        }
        if self.node.index().uncommitted().is_some() {
            self.node.commit_index()?;
        }
        self.node.close()
    }

    /// Carries out one request and answers it.
    fn serve(&mut self, request: Request) {
        match request {
            Request::Search { query, reply } => self.answer(reply, |a| a.node.find(&query)),
            Request::Facets { query, reply } => {
                self.answer(reply, |a| Ok(a.node.index().facets(&query)?))
            }
            Request::People {
                topic,
                limit,
                reply,
            } => self.answer(reply, |a| a.node.people(&topic, limit)),
            Request::Similar { query, reply } => self.answer(reply, |a| {
                query.content.validate()?;
                a.node.find_similar(&query)
            }),
            Request::Trust { author, reply } => self.answer(reply, |a| a.node.trust(&author)),
            Request::Pins { reply } => self.answer(reply, |a| a.node.pins()),
            Request::Accounts { reply } => self.answer(reply, |a| a.node.accounts()),
            Request::ChangeAccount { change, reply } => {
                self.answer(reply, |a| a.node.change_account(&change))
            }
            Request::SignIn { token, reply } => self.answer(reply, |a| a.node.sign_in(&token)),
            Request::WebSession { secret, reply } => {
                self.answer(reply, |a| a.node.web_session(&secret))
            }
            Request::SignOut { secret, reply } => self.answer(reply, |a| a.node.sign_out(&secret)),
            Request::SetPin { author, pin, reply } => {
                self.answer(reply, |a| a.node.set_pin(&author, pin.as_ref()))
            }
            Request::Blocks { reply } => self.answer(reply, |a| a.node.blocks()),
            Request::DomainsDue {
                recheck_secs,
                reply,
            } => self.answer(reply, |a| a.node.domains_due(recheck_secs)),
            Request::RecordDomainCheck {
                author,
                check,
                reply,
            } => self.answer(reply, |a| a.node.record_domain_check(&author, &check)),
            Request::SetBlock {
                author,
                block,
                reply,
            } => self.answer(reply, |a| a.node.set_block(&author, block.as_ref())),
            Request::Get { address, reply } => self.answer(reply, |a| a.node.get(&address)),
            Request::List { filter, reply } => self.answer(reply, |a| a.node.list(&filter)),
            Request::Counts { reply } => self.answer(reply, |a| a.node.counts()),
            Request::SyncSet { peer, scope, reply } => {
                self.answer(reply, |a| a.node.sync_plan(&peer, scope))
            }
            Request::Networks { reply } => self.answer(reply, |a| a.node.network_views()),
            Request::ChangeNetwork { change, reply } => self.answer(reply, |a| {
                let (view, charter) = a.node.change_network(&a.publisher, change, crate::now())?;
                let mut signed: Vec<Record> = charter.into_iter().collect();
                signed.extend(a.bind_if_joined()?);
                for record in &signed {
                    let _ = a.stored.send(record.id());
                }
                Ok((view, signed))
            }),
            Request::Bind { node, reply } => self.answer(reply, |a| {
                a.node_id = Some(node);
                let bound = a.bind_if_joined()?;
                if let Some(record) = &bound {
                    let _ = a.stored.send(record.id());
                }
                Ok(bound)
            }),
            Request::ReceiveJoin {
                request,
                from,
                reply,
            } => self.answer(reply, |a| a.node.receive_join(request, &from, crate::now())),
            Request::JoinRequests { reply } => self.answer(reply, |a| a.node.join_requests()),
            Request::ReceiveDelegationAsk { ask, from, reply } => self.answer(reply, |a| {
                a.node.receive_delegation_ask(ask, &from, crate::now())
            }),
            Request::DelegationAsks { reply } => self.answer(reply, |a| a.node.delegation_asks()),
            Request::SignDelegationAsk {
                organisation,
                node,
                person,
                note,
                reply,
            } => self.answer(reply, |a| {
                Ok(a.publisher.sign_delegation_ask(
                    organisation,
                    &node,
                    person,
                    note,
                    crate::now(),
                )?)
            }),
            Request::SignJoin {
                network,
                node,
                note,
                reply,
            } => self.answer(reply, |a| {
                let id = a
                    .node
                    .networks()?
                    .find(&network)
                    .map_err(NodeError::Invalid)?;
                let bytes = a
                    .publisher
                    .sign_join(id.clone(), &node, note, crate::now())?;
                Ok((id, bytes))
            }),
            Request::PeerNames { peers, reply } => self.answer(reply, |a| {
                let networks = a.node.networks()?;
                let mut names = Vec::with_capacity(peers.len());
                for peer in &peers {
                    let name = match networks.organisations_of(peer).first() {
                        Some(organisation) => a.node.trust(organisation)?.name,
                        None => None,
                    };
                    names.push(name);
                }
                Ok(names)
            }),
            Request::Cohort { experiment, reply } => {
                self.answer(reply, |a| a.node.cohort(&experiment))
            }
            Request::History { address, reply } => self.answer(reply, |a| a.node.history(&address)),
            Request::Digest {
                network,
                since,
                reply,
            } => self.answer(reply, |a| {
                let today = convene_protocol::Date::from_unix(crate::now());
                a.node.digest(&network, since, today)
            }),
            Request::NetworkMap { network, reply } => {
                self.answer(reply, |a| a.node.network_map(&network))
            }
            Request::Spread { address, reply } => self.answer(reply, |a| {
                let restricted = a.node.is_members_only_at(&address)?;
                let networks = a.node.store().places(&address)?.unwrap_or_default();
                Ok((restricted, networks))
            }),
            Request::Scope { reply } => self.answer(reply, |a| Ok(a.node.networks()?.scope())),
            Request::PeerView { peer, reply } => self.answer(reply, |a| {
                let organisations = a.node.networks()?.organisations_of(&peer).to_vec();
                Ok((a.node.store().log_head()?, organisations))
            }),
            Request::LogHead { reply } => self.answer(reply, |a| Ok(a.node.store().log_head()?)),
            Request::Fetch {
                peer,
                ids,
                budget,
                reply,
            } => self.answer(reply, |a| {
                let organisations = a.node.networks()?.organisations_of(&peer).to_vec();
                a.node.fetch_for(&organisations, &ids, budget)
            }),
            Request::Snapshot { reply } => self.answer(reply, |a| Ok(a.node.store().clone())),
            Request::AnswerSearch {
                peer,
                text,
                kind,
                limit,
                reply,
            } => self.answer(reply, |a| {
                let organisations = a.node.networks()?.organisations_of(&peer).to_vec();
                a.node.answer_search(&organisations, &text, kind, limit)
            }),
            Request::MergeWider {
                query,
                replies,
                reply,
            } => self.answer(reply, |a| a.node.merge_wider(&query, replies)),
            Request::SearchPage {
                query,
                viewer,
                reply,
            } => self.answer(reply, |a| a.node.search_page(&query, viewer)),
            Request::NetworkPage { id, viewer, reply } => {
                self.answer(reply, |a| a.node.network_page(&id, viewer))
            }
            Request::OrganisationPage { key, viewer, reply } => {
                self.answer(reply, |a| a.node.organisation_page(&key, viewer))
            }
            Request::PeoplePage {
                topic,
                viewer,
                reply,
            } => self.answer(reply, |a| a.node.people_page(&topic, viewer)),
            Request::FollowingPage { account, reply } => {
                self.answer(reply, |a| a.node.following_page(&account))
            }
            Request::Watches { watcher, reply } => self.answer(reply, |a| a.node.watches(&watcher)),
            Request::ChangeWatch {
                watcher,
                change,
                reply,
            } => self.answer(reply, |a| a.node.change_watch(&watcher, &change)),
            Request::AtomFeed { id, web, reply } => self.answer(reply, |a| {
                a.node
                    .atom_feed(&crate::watches::Watcher::Operator, &id, web.as_deref())
            }),
            Request::News {
                watcher,
                mark_seen,
                reply,
            } => self.answer(reply, |a| a.node.news(&watcher, &[], mark_seen)),
            Request::RecordPage {
                address,
                viewer,
                reply,
            } => self.answer(reply, |a| a.node.record_page(&address, viewer)),
            Request::OpenData { licence, reply } => {
                self.answer(reply, |a| a.node.open_data(&licence))
            }
            Request::Publish {
                draft,
                check,
                reply,
            } => self.answer(reply, |a| {
                let outcome = a.node.publish(&a.publisher, draft, check, crate::now())?;
                if let PublishOutcome::Published(published) = &outcome {
                    let _ = a.stored.send(published.record.id());
                }
                Ok(outcome)
            }),
            Request::Retract { address, reply } => self.answer(reply, |a| {
                let record = a.node.retract(&a.publisher, &address, crate::now())?;
                let _ = a.stored.send(record.id());
                Ok(record)
            }),
            Request::Admit {
                records,
                source,
                dry_run,
                reply,
            } => self.answer(reply, |a| {
                let outcomes = if dry_run {
                    a.node.begin()?.admit(&records, source)?
                } else {
                    a.node.admit_uncommitted(&records, source)?
                };
                Ok(Admitted::list(&records, outcomes))
            }),
            Request::PublishRows {
                rows,
                dry_run,
                reply,
            } => self.answer(reply, |a| {
                a.node
                    .publish_rows(&a.publisher, rows, crate::now(), dry_run)
            }),
            Request::Reindex { reply } => self.start_reindex(reply),
            Request::PanicForTests { message, reply } => {
                self.answer(reply, |_| -> Result<(), NodeError> { panic!("{message}") })
            }
        }
    }

    /// Runs one request's work and sends its result. A panic fails the request, not the
    /// actor: what it left half-done in the index is rolled back and the index caught up from
    /// the store again.
    fn answer<T>(
        &mut self,
        reply: Reply<T>,
        work: impl FnOnce(&mut Actor) -> Result<T, NodeError>,
    ) {
        let answer = match catch_unwind(AssertUnwindSafe(|| work(self))) {
            Ok(result) => {
                // The work may have met a failed write and reported it to its caller; the
                // store needs reopening all the same.
                if let Some(reason) = self.node.take_write_failure() {
                    self.degrade(reason);
                }
                Ok(result)
            }
            Err(panic) => {
                let message = panic_message(&*panic);
                tracing::error!(panic = %message, "a request failed inside the store; carrying on");
                // What the failed request left in the index writer is not to be committed.
                let _ = self.node.discard_index_changes();
                if let Err(error) = self.node.recover() {
                    self.degrade(format!("after a failed request: {error}"));
                }
                self.restart_reindex();
                Err(ActorError::Failed(format!(
                    "the node failed to carry out the request ({message}); it is still running"
                )))
            }
        };
        let _ = reply.send(answer);
    }

    fn start_reindex(&mut self, reply: Reply<u64>) {
        if let Some(running) = self.reindex.take() {
            // One rebuild serves both callers: the first learns it was folded into this one.
            let _ = running.reply.send(Ok(Err(NodeError::Import(
                "another reindex request took over this one".into(),
            ))));
        }
        match self.node.begin_reindex() {
            Ok(()) => self.reindex = Some(Reindexing { next: 0, reply }),
            Err(error) => {
                let _ = reply.send(Ok(Err(error)));
            }
        }
    }

    /// After the index was rolled back, a reindex under way starts again from the beginning.
    fn restart_reindex(&mut self) {
        if let Some(mut running) = self.reindex.take() {
            match self.node.begin_reindex() {
                Ok(()) => {
                    running.next = 0;
                    self.reindex = Some(running);
                }
                Err(error) => {
                    let _ = running.reply.send(Ok(Err(error)));
                }
            }
        }
    }

    /// Indexes the next [`REINDEX_STEP`] records of a reindex; at the end, commits and answers.
    fn reindex_step(&mut self) {
        let Some(running) = &mut self.reindex else {
            return;
        };
        let from = running.next;
        let step = catch_unwind(AssertUnwindSafe(|| {
            self.node.index_log_step(from, REINDEX_STEP)
        }));
        let running = self.reindex.as_mut().expect("checked above");
        match step {
            Ok(Ok(Some(next))) => running.next = next,
            Ok(Ok(None)) => {
                let running = self.reindex.take().expect("checked above");
                let done = self.node.finish_reindex();
                let _ = running.reply.send(Ok(done));
            }
            Ok(Err(error)) => {
                let running = self.reindex.take().expect("checked above");
                let _ = self.node.discard_index_changes();
                let _ = running.reply.send(Ok(Err(error)));
            }
            Err(panic) => {
                let running = self.reindex.take().expect("checked above");
                let message = panic_message(&*panic);
                let _ = self.node.recover();
                let _ = running.reply.send(Err(ActorError::Failed(format!(
                    "the reindex failed ({message}); the node is still running"
                ))));
            }
        }
    }

    /// Starts a background merge of the index's segments when [`index_merge_due`], and notes
    /// when one ends. Searches go on meanwhile, on the segments as they were.
    fn merge_index_when_due(&mut self) {
        match self.node.index_merge_ended() {
            Ok(true) => tracing::info!(
                docs = self.node.index().num_docs(),
                "merged the search index into one segment"
            ),
            Ok(false) => {}
            Err(error) => tracing::warn!("merging the search index failed: {error}"),
        }
        let index = self.node.index();
        let sizes = index.segment_sizes();
        if !index_merge_due(&sizes, index.last_change(), Instant::now()) {
            return;
        }
        match self.node.start_index_merge() {
            Ok(true) => tracing::info!(
                segments = sizes.len(),
                "merging the search index into one segment in the background"
            ),
            Ok(false) => {}
            Err(error) => tracing::warn!("could not start merging the search index: {error}"),
        }
    }

    fn commit_index_if_dirty(&mut self) {
        // A reindex commits once, at its end: until then searches see the index as it was.
        if self.node.index().uncommitted().is_none() || self.reindex.is_some() {
            return;
        }
        if let Err(error) = self.node.commit_index() {
            // The store holds everything; the index catches up once it can be written.
            let _ = self.node.discard_index_changes();
            self.degrade(self.node.describe_write_failure(&error));
        }
    }

    fn degrade(&mut self, reason: String) {
        if self.health.borrow().degraded.is_none() {
            tracing::error!(%reason, "the store is degraded; retrying every few seconds");
            // The first retry waits a little; later failures must not push it back, or a
            // client retrying often would keep the node from ever recovering.
            self.last_recovery = Some(Instant::now());
        } else {
            tracing::debug!(%reason, "the store is still degraded");
        }
        self.health.send_modify(|health| {
            let since = health
                .degraded
                .as_ref()
                .map_or_else(crate::now, |d| d.since);
            health.degraded = Some(Degraded { reason, since });
        });
    }

    /// While degraded, reopens the store and the index (at most every [`RECOVER_EVERY`]).
    fn recover_if_degraded(&mut self) {
        if self.health.borrow().degraded.is_none()
            || self
                .last_recovery
                .is_some_and(|at| at.elapsed() < RECOVER_EVERY)
        {
            return;
        }
        self.last_recovery = Some(Instant::now());
        match self.node.recover() {
            Ok(()) => {
                tracing::info!("the store recovered: writes work again");
                self.health.send_modify(|health| health.degraded = None);
                self.restart_reindex();
            }
            Err(error) => {
                let reason = self.node.describe_write_failure(&error);
                tracing::debug!(%reason, "the store could not be reopened yet");
                self.health.send_modify(|health| {
                    if let Some(degraded) = &mut health.degraded {
                        degraded.reason = reason;
                    }
                });
            }
        }
    }

    /// Verifies every record of every job, stores the valid ones in one transaction, and only
    /// then answers each job. If the transaction fails, every job of the batch gets the error
    /// and nothing of it is acknowledged.
    fn ingest(&mut self, batch: Vec<IngestJob>) {
        let now = crate::now();
        let verify = |bytes: Vec<u8>| Record::from_bytes(bytes, now);
        let mut jobs = Vec::with_capacity(batch.len());
        let mut valid = Vec::new();
        // Runs of `valid` from one source: (source, length).
        let mut runs = Vec::with_capacity(batch.len());
        for (records, source, reply) in batch {
            let before = valid.len();
            let checked: Vec<Result<Record, _>> = if records.len() >= PARALLEL_FROM {
                records.into_par_iter().map(verify).collect()
            } else {
                records.into_iter().map(verify).collect()
            };
            let mut verdicts = Vec::with_capacity(checked.len());
            for result in checked {
                match result {
                    Ok(record)
                        if source == Source::Gossip
                            && self.node.is_members_only(&record).unwrap_or(false) =>
                    {
                        // Members-only records go only to members' nodes, by sync; one that
                        // comes by gossip was sent to everyone, and is not passed on.
                        verdicts.push(Some(Verdict::Invalid(
                            "a members-only network's record came by gossip, which would \
                             show it to non-members"
                                .into(),
                        )));
                    }
                    Ok(record)
                        if source == Source::Gossip
                            && !self.author_rates.take(&record.header().author) =>
                    {
                        verdicts.push(Some(Verdict::Refused(
                            "its author is over its gossip rate; it comes with the next sync"
                                .into(),
                        )));
                    }
                    Ok(record) => {
                        verdicts.push(None);
                        valid.push(record);
                    }
                    Err(error) => verdicts.push(Some(Verdict::Invalid(error.to_string()))),
                }
            }
            runs.push((source, valid.len() - before));
            jobs.push((verdicts, reply));
        }
        let outcomes = if valid.is_empty() {
            Ok(Vec::new())
        } else {
            self.store_and_index(&valid, &runs)
        };
        let outcomes = match outcomes {
            Ok(outcomes) => outcomes,
            Err(reason) => {
                for (_, reply) in jobs {
                    let _ = reply.send(Err(ActorError::Failed(reason.clone())));
                }
                return;
            }
        };
        for (record, outcome) in valid.iter().zip(&outcomes) {
            if outcome.is_stored() {
                // No receivers is fine.
                let _ = self.stored.send(record.id());
            }
        }
        let mut outcomes = outcomes.into_iter();
        for (verdicts, reply) in jobs {
            let verdicts = verdicts
                .into_iter()
                .map(|verdict| {
                    verdict.unwrap_or_else(|| match outcomes.next().expect("one per record") {
                        Outcome::Stored { .. } => Verdict::Stored,
                        Outcome::Duplicate => Verdict::Duplicate,
                        Outcome::Stale { .. } => Verdict::Stale,
                        Outcome::Refused(reason) => Verdict::Refused(reason),
                        Outcome::Elsewhere(_) => Verdict::Elsewhere,
                    })
                })
                .collect();
            let _ = reply.send(Ok(verdicts));
        }
    }

    /// Stores `records` durably, then hands the winners to the index. A store failure degrades
    /// the node and fails the batch; an index failure only delays search (the store has them).
    fn store_and_index(
        &mut self,
        records: &[Record],
        runs: &[(Source, usize)],
    ) -> Result<Vec<Outcome>, String> {
        let stored = catch_unwind(AssertUnwindSafe(|| self.node.store_runs(records, runs)));
        let (outcomes, stored) = match stored {
            Ok(Ok(done)) => done,
            Ok(Err(error)) => {
                let reason = self.node.describe_write_failure(&error);
                self.node.take_write_failure();
                self.degrade(reason.clone());
                return Err(reason);
            }
            Err(panic) => {
                let reason = format!("storing records failed: {}", panic_message(&*panic));
                self.degrade(reason.clone());
                return Err(reason);
            }
        };
        if let Err(error) = self.node.index_records(&stored) {
            let _ = self.node.discard_index_changes();
            self.degrade(self.node.describe_write_failure(&error));
        }
        Ok(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Changes first made `first` ago and last made `last` ago.
    fn changes(now: Instant, first: u64, last: u64) -> Option<Uncommitted> {
        Some(Uncommitted {
            first: now - Duration::from_millis(first),
            last: now - Duration::from_millis(last),
        })
    }

    #[test]
    fn the_index_is_committed_once_quiet_or_once_changes_have_waited_long_enough() {
        let now = Instant::now();
        assert!(!index_commit_due(None, true, now), "nothing to commit");
        // A record just stored: gossip forwards it before any commit.
        assert!(!index_commit_due(changes(now, 10, 10), true, now));
        // A burst that ended a second ago: one commit for all of it.
        assert!(index_commit_due(changes(now, 1_500, 1_000), true, now));
        // Still arriving, or other jobs waiting: not yet.
        assert!(!index_commit_due(changes(now, 3_000, 200), true, now));
        assert!(!index_commit_due(changes(now, 3_000, 2_000), false, now));
        // A steady stream still commits every few seconds.
        assert!(index_commit_due(changes(now, 5_000, 0), false, now));
    }

    #[test]
    fn an_index_is_merged_once_quiet_with_a_tenth_of_it_beside_the_largest_segment() {
        let now = Instant::now();
        let quiet = Some(now - MERGE_QUIET);
        let due = |sizes: &[u64]| index_merge_due(sizes, quiet, now);
        // As an import through the API leaves it: ten segments of similar size.
        assert!(due(&[120_000; 10]));
        // ... but not while chunks of it still arrive, or just after.
        assert!(!index_merge_due(&[120_000; 10], Some(now), now));
        assert!(!index_merge_due(
            &[120_000; 10],
            Some(now - MERGE_QUIET / 2),
            now
        ));
        // A node started on such an index, unchanged since.
        assert!(index_merge_due(&[120_000; 10], None, now));
        // One large segment and a few small ones from records arriving since.
        assert!(!due(&[1_000_000, 30_000, 20_000, 5_000]));
        assert!(due(&[1_000_000, 60_000, 40_000, 20_000]));
        // Too few segments, or too few documents outside the largest, to be worth it.
        assert!(!due(&[500_000, 500_000, 500_000]));
        assert!(!due(&[2_000, 2_000, 2_000, 2_000]));
        assert!(!due(&[1_000_000]));
        assert!(!due(&[]));
    }
}
