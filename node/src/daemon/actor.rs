//! The store actor: one thread owns the [`Node`] (store and index) while the daemon runs.
//!
//! Everything that touches the store goes through its bounded queue: records from the network
//! (verified here, off the network thread, and committed in batches: one durable transaction for
//! everything queued, not one per record) and calls from the local API. A caller learns a
//! record's fate only after the transaction holding it is durable, so the network acknowledges
//! nothing that a crash could lose.
//!
//! A job that fails — an I/O error, a full disk, even a panic — fails for its caller only: the
//! actor reports it, rolls back what was not durable, reopens what failed (retrying while the
//! node is degraded) and carries on with the next job. Only if the thread itself ends does the
//! daemon stop, at once and with the reason (see [`Daemon::wait`](super::Daemon::wait)).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use convene_protocol::{Record, RecordId};
use rayon::prelude::*;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::{Node, NodeError, Outcome};

/// Jobs waiting for the store; senders wait (API, sync) or give up (gossip) when it is full.
const QUEUE: usize = 256;
/// Most records verified and committed in one transaction.
const MAX_BATCH: usize = 2_048;
/// Batches at least this large are verified on every core.
const PARALLEL_FROM: usize = 16;
/// The index is committed when the queue runs dry, or at least this often under a steady stream.
const INDEX_COMMIT_EVERY: Duration = Duration::from_secs(1);
/// While degraded, the actor tries to reopen what failed at most this often.
const RECOVER_EVERY: Duration = Duration::from_secs(2);

/// What became of one record offered by the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Verified, and now the latest version at its address. Durable.
    Stored,
    /// Already held.
    Duplicate,
    /// Valid, but an equal or newer version is held.
    Stale,
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

type Work = Box<dyn FnOnce(&mut Node) -> Box<dyn Any + Send> + Send>;
type Verdicts = Result<Vec<Verdict>, ActorError>;
/// Records offered together, and where their verdicts go.
type IngestJob = (Vec<Vec<u8>>, oneshot::Sender<Verdicts>);

enum Job {
    Ingest {
        records: Vec<Vec<u8>>,
        reply: oneshot::Sender<Verdicts>,
    },
    Call {
        work: Work,
        reply: oneshot::Sender<Result<Box<dyn Any + Send>, ActorError>>,
    },
    /// Nothing to do but a chance to recover, sent now and then while the node is degraded.
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
            Job::Call { .. } => f.write_str("Call"),
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

    /// Whether the store is healthy now.
    pub fn health(&self) -> Health {
        self.health.borrow().clone()
    }

    /// Runs `work` on the store thread and returns its result. If `work` panics, the caller
    /// gets [`ActorError::Failed`] and the actor goes on.
    pub async fn call<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Node) -> R + Send + 'static,
    ) -> Result<R, ActorError> {
        let (reply, result) = oneshot::channel();
        let work: Work = Box::new(move |node| Box::new(work(node)));
        self.jobs
            .send(Job::Call { work, reply })
            .await
            .map_err(|_| ActorError::Closed)?;
        let value = result.await.map_err(|_| ActorError::Closed)??;
        Ok(*value.downcast::<R>().expect("the job's own result type"))
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

    /// Gives a degraded actor a chance to recover, if its queue has room.
    pub fn tick(&self) {
        let _ = self.jobs.try_send(Job::Tick);
    }

    /// Verifies and stores records, waiting for room in the queue.
    pub async fn ingest(&self, records: Vec<Vec<u8>>) -> Verdicts {
        let (reply, result) = oneshot::channel();
        self.jobs
            .send(Job::Ingest { records, reply })
            .await
            .map_err(|_| ActorError::Closed)?;
        result.await.map_err(|_| ActorError::Closed)?
    }

    /// Queues records without waiting; the verdicts arrive on the returned receiver.
    pub fn try_ingest(&self, records: Vec<Vec<u8>>) -> Result<oneshot::Receiver<Verdicts>, Busy> {
        let (reply, result) = oneshot::channel();
        self.jobs
            .try_send(Job::Ingest { records, reply })
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
pub fn spawn(node: Node) -> (StoreHandle, ActorThread) {
    let (jobs, queue) = mpsc::channel(QUEUE);
    let (stored, _) = broadcast::channel(4_096);
    let (health_tx, health) = watch::channel(Health::default());
    let (alive, ended) = oneshot::channel::<()>();
    let announce = stored.clone();
    let thread = std::thread::Builder::new()
        .name("convene-store".into())
        .spawn(move || {
            // Dropped however the thread ends, which is what `ended` waits for.
            let _alive = alive;
            Actor::new(node, announce, health_tx).run(queue)
        })
        .expect("spawning the store thread");
    (
        StoreHandle {
            jobs,
            stored,
            health,
        },
        ActorThread { thread, ended },
    )
}

struct Actor {
    node: Node,
    stored: broadcast::Sender<RecordId>,
    health: watch::Sender<Health>,
    /// Records were stored since the index was last committed.
    index_dirty: bool,
    last_index_commit: Instant,
    last_recovery: Option<Instant>,
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
        stored: broadcast::Sender<RecordId>,
        health: watch::Sender<Health>,
    ) -> Actor {
        Actor {
            node,
            stored,
            health,
            index_dirty: false,
            last_index_commit: Instant::now(),
            last_recovery: None,
        }
    }

    fn run(mut self, mut queue: mpsc::Receiver<Job>) -> Result<(), NodeError> {
        while let Some(job) = queue.blocking_recv() {
            let mut deferred = None;
            let mut stop = false;
            match job {
                Job::Stop => break,
                Job::Abort => panic!("the store thread was told to abort"),
                Job::Tick => {}
                Job::Call { work, reply } => deferred = Some((work, reply)),
                Job::Ingest { records, reply } => {
                    let mut batch = vec![(records, reply)];
                    let mut size = batch[0].0.len();
                    while size < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(Job::Ingest { records, reply }) => {
                                size += records.len();
                                batch.push((records, reply));
                            }
                            Ok(Job::Call { work, reply }) => {
                                deferred = Some((work, reply));
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
            if let Some((work, reply)) = deferred {
                // Reads see every record acknowledged before them.
                self.commit_index_if_dirty();
                let _ = reply.send(self.run_job(work));
            }
            if stop {
                break;
            }
            if self.index_dirty
                && (queue.is_empty() || self.last_index_commit.elapsed() >= INDEX_COMMIT_EVERY)
            {
                self.commit_index_if_dirty();
            }
        }
        // Later jobs fail at once (their callers see `Closed`) instead of waiting.
        queue.close();
        if self.index_dirty {
            self.node.commit_index()?;
        }
        self.node.close()
    }

    /// Runs one API job. A panic fails the job, not the actor: what the job left half-done in
    /// the index is rolled back and the index caught up from the store again.
    fn run_job(&mut self, work: Work) -> Result<Box<dyn Any + Send>, ActorError> {
        match catch_unwind(AssertUnwindSafe(|| work(&mut self.node))) {
            Ok(value) => {
                // The job may have met a failed write and reported it to its caller; the
                // store needs reopening all the same.
                if let Some(reason) = self.node.take_write_failure() {
                    self.degrade(reason);
                }
                Ok(value)
            }
            Err(panic) => {
                let message = panic_message(&*panic);
                tracing::error!(panic = %message, "a request failed inside the store; carrying on");
                self.index_dirty = false;
                if let Err(error) = self.node.recover() {
                    self.degrade(format!("after a failed request: {error}"));
                }
                Err(ActorError::Failed(format!(
                    "the node failed to carry out the request ({message}); it is still running"
                )))
            }
        }
    }

    fn commit_index_if_dirty(&mut self) {
        if !self.index_dirty {
            return;
        }
        match self.node.commit_index() {
            Ok(()) => {
                self.index_dirty = false;
                self.last_index_commit = Instant::now();
            }
            Err(error) => {
                // The store holds everything; the index catches up once it can be written.
                self.index_dirty = false;
                self.degrade(self.node.describe_write_failure(&error));
            }
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
        for (records, reply) in batch {
            let checked: Vec<Result<Record, _>> = if records.len() >= PARALLEL_FROM {
                records.into_par_iter().map(verify).collect()
            } else {
                records.into_iter().map(verify).collect()
            };
            let mut verdicts = Vec::with_capacity(checked.len());
            for result in checked {
                match result {
                    Ok(record) => {
                        verdicts.push(None);
                        valid.push(record);
                    }
                    Err(error) => verdicts.push(Some(Verdict::Invalid(error.to_string()))),
                }
            }
            jobs.push((verdicts, reply));
        }
        let outcomes = if valid.is_empty() {
            Ok(Vec::new())
        } else {
            self.store_and_index(&valid)
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
                self.index_dirty = true;
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
                    })
                })
                .collect();
            let _ = reply.send(Ok(verdicts));
        }
    }

    /// Stores `records` durably, then hands the winners to the index. A store failure degrades
    /// the node and fails the batch; an index failure only delays search (the store has them).
    fn store_and_index(&mut self, records: &[Record]) -> Result<Vec<Outcome>, String> {
        let stored = catch_unwind(AssertUnwindSafe(|| self.node.store_records(records)));
        let outcomes = match stored {
            Ok(Ok(outcomes)) => outcomes,
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
        if let Err(error) = self.node.index_stored(records, &outcomes) {
            self.index_dirty = false;
            self.degrade(self.node.describe_write_failure(&error));
        }
        Ok(outcomes)
    }
}
