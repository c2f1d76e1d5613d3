//! The store actor: one thread owns the [`Node`] (store and index) while the daemon runs.
//!
//! Everything that touches the store goes through its bounded queue: records from the network
//! (verified here, off the network thread, and committed in batches: one durable transaction for
//! everything queued, not one per record) and calls from the local API. A caller learns a
//! record's fate only after the transaction holding it is durable, so the network acknowledges
//! nothing that a crash could lose.

use std::time::{Duration, Instant};

use convene_protocol::{Record, RecordId};
use rayon::prelude::*;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::{Node, NodeError, Outcome};

/// Jobs waiting for the store; senders wait (API, sync) or give up (gossip) when it is full.
const QUEUE: usize = 256;
/// Most records verified and committed in one transaction.
const MAX_BATCH: usize = 2_048;
/// Batches at least this large are verified on every core.
const PARALLEL_FROM: usize = 16;
/// The index is committed when the queue runs dry, or at least this often under a steady stream.
const INDEX_COMMIT_EVERY: Duration = Duration::from_secs(1);

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

type Call = Box<dyn FnOnce(&mut Node) + Send>;
/// Records offered together, and where their verdicts go.
type IngestJob = (Vec<Vec<u8>>, oneshot::Sender<Vec<Verdict>>);

enum Job {
    Ingest {
        records: Vec<Vec<u8>>,
        reply: oneshot::Sender<Vec<Verdict>>,
    },
    Call(Call),
    /// Finish: commit the index and close the store, whoever still holds a handle.
    Stop,
}

/// The store actor stopped (the daemon is shutting down, or the store failed).
#[derive(Debug, thiserror::Error)]
#[error("the store is closed")]
pub struct Closed;

/// The queue is full; try again later.
#[derive(Debug)]
pub struct Busy;

/// A cheap, cloneable handle to the store actor.
#[derive(Clone, Debug)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
    stored: broadcast::Sender<RecordId>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Ingest { records, .. } => write!(f, "Ingest({} records)", records.len()),
            Job::Call(_) => f.write_str("Call"),
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

    /// Runs `work` on the store thread and returns its result.
    pub async fn call<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Node) -> R + Send + 'static,
    ) -> Result<R, Closed> {
        let (reply, result) = oneshot::channel();
        let job = Job::Call(Box::new(move |node| {
            let _ = reply.send(work(node));
        }));
        self.jobs.send(job).await.map_err(|_| Closed)?;
        result.await.map_err(|_| Closed)
    }

    /// Asks the actor to finish once the jobs queued before this one are done. Later jobs fail
    /// with [`Closed`].
    pub async fn stop(&self) {
        let _ = self.jobs.send(Job::Stop).await;
    }

    /// Verifies and stores records, waiting for room in the queue.
    pub async fn ingest(&self, records: Vec<Vec<u8>>) -> Result<Vec<Verdict>, Closed> {
        let (reply, result) = oneshot::channel();
        self.jobs
            .send(Job::Ingest { records, reply })
            .await
            .map_err(|_| Closed)?;
        result.await.map_err(|_| Closed)
    }

    /// Queues records without waiting; the verdicts arrive on the returned receiver.
    pub fn try_ingest(
        &self,
        records: Vec<Vec<u8>>,
    ) -> Result<oneshot::Receiver<Vec<Verdict>>, Busy> {
        let (reply, result) = oneshot::channel();
        self.jobs
            .try_send(Job::Ingest { records, reply })
            .map_err(|_| Busy)?;
        Ok(result)
    }
}

/// Starts the actor on its own thread. It runs until every handle is dropped, then commits the
/// index and closes the node; join the returned thread to wait for that.
pub fn spawn(node: Node) -> (StoreHandle, std::thread::JoinHandle<Result<(), NodeError>>) {
    let (jobs, queue) = mpsc::channel(QUEUE);
    let (stored, _) = broadcast::channel(4_096);
    let announce = stored.clone();
    let thread = std::thread::Builder::new()
        .name("convene-store".into())
        .spawn(move || Actor::new(node, announce).run(queue))
        .expect("spawning the store thread");
    (StoreHandle { jobs, stored }, thread)
}

struct Actor {
    node: Node,
    stored: broadcast::Sender<RecordId>,
    /// Records were stored since the index was last committed.
    index_dirty: bool,
    last_index_commit: Instant,
}

impl Actor {
    fn new(node: Node, stored: broadcast::Sender<RecordId>) -> Actor {
        Actor {
            node,
            stored,
            index_dirty: false,
            last_index_commit: Instant::now(),
        }
    }

    fn run(mut self, mut queue: mpsc::Receiver<Job>) -> Result<(), NodeError> {
        while let Some(job) = queue.blocking_recv() {
            let mut deferred = None;
            let mut stop = false;
            match job {
                Job::Stop => break,
                Job::Call(call) => deferred = Some(call),
                Job::Ingest { records, reply } => {
                    let mut batch = vec![(records, reply)];
                    let mut size = batch[0].0.len();
                    while size < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(Job::Ingest { records, reply }) => {
                                size += records.len();
                                batch.push((records, reply));
                            }
                            Ok(Job::Call(call)) => {
                                deferred = Some(call);
                                break;
                            }
                            Ok(Job::Stop) => {
                                stop = true;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    if let Err(error) = self.ingest(batch) {
                        tracing::error!(%error, "storing records failed; the store stops");
                        return Err(error);
                    }
                }
            }
            if let Some(call) = deferred {
                // Reads see every record acknowledged before them.
                self.commit_index_if_dirty()?;
                call(&mut self.node);
            }
            if stop {
                break;
            }
            if self.index_dirty
                && (queue.is_empty() || self.last_index_commit.elapsed() >= INDEX_COMMIT_EVERY)
            {
                self.commit_index_if_dirty()?;
            }
        }
        // Later jobs fail at once (their callers see `Closed`) instead of waiting.
        queue.close();
        self.commit_index_if_dirty()?;
        self.node.close()
    }

    fn commit_index_if_dirty(&mut self) -> Result<(), NodeError> {
        if self.index_dirty {
            self.node.commit_index()?;
            self.index_dirty = false;
            self.last_index_commit = Instant::now();
        }
        Ok(())
    }

    /// Verifies every record of every job, stores the valid ones in one transaction, and only
    /// then answers each job.
    fn ingest(&mut self, batch: Vec<IngestJob>) -> Result<(), NodeError> {
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
            Vec::new()
        } else {
            self.node.store_and_index(&valid)?
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
            let _ = reply.send(verdicts);
        }
        Ok(())
    }
}
