//! A Convene node: the record store (redb, the source of truth), the search index kept in step
//! with it, and the operations the `convene` command offers on top of them: publish, retract,
//! search, people, similar, list, export, import and reindex.
//!
//! A [`Node`] owns both the store and the index. Every write goes store first, index second:
//! once the store commit returns the write is durable; the index follows from the store's arrival
//! log and catches up on the next open if the process died in between.

mod access;
mod client;
pub mod daemon;
mod draft;
mod home;
mod people;
mod progress;
mod store;
mod tables;
mod transfer;

use std::path::Path;

use convene_protocol::{Address, AuthorKey, Content, Date, Identity, Kind, Record, RecordError};
use convene_search::{Hit, Index, IndexError, Query, SimilarityThreshold};

pub use crate::access::Access;
pub use crate::client::Client;
pub use crate::draft::{Draft, DraftError, DraftFormat};
pub use crate::home::{Config, Home, HomeError};
pub use crate::people::{Person, Reason};
pub use crate::progress::{NoProgress, Progress};
pub use crate::store::{Batch, LatestEntry, Outcome, Store, StoreCounts, StoreError};
pub use crate::transfer::{CsvImport, CsvMapping, ExportLine, ImportReport, Rejection};
pub use convene_search::{self as search, Snippet};

/// Records applied to the index per store read while catching up or rebuilding.
const REPLAY_CHUNK: usize = 2_000;

/// Errors from node operations.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error(transparent)]
    Draft(#[from] DraftError),
    #[error("invalid record: {0}")]
    Record(#[from] RecordError),
    #[error("no record at {0}")]
    NotFound(Address),
    #[error("{0} was retracted")]
    Retracted(Address),
    #[error("{address} belongs to another author; only its author can change or retract it")]
    NotYours { address: Address },
    #[error("{address}: the stored version (seq {stored}) wins over this one (seq {offered})")]
    Stale {
        address: Address,
        stored: u64,
        offered: u64,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Import(String),
    /// The running node refused or failed a request.
    #[error("{0}")]
    Api(String),
}

/// The result of publishing.
#[derive(Clone, Debug)]
pub struct Published {
    pub record: Record,
    /// The version this one replaced, if the address already had one.
    pub previous_seq: Option<u64>,
}

/// A store and its index.
#[derive(Debug)]
pub struct Node {
    store: Store,
    index: Index,
}

/// The current unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Node {
    /// Opens the store and index in `data_dir` (creating them), and brings the index up to date.
    pub fn open(data_dir: &Path) -> Result<Node, NodeError> {
        std::fs::create_dir_all(data_dir).map_err(|source| NodeError::Io {
            path: data_dir.display().to_string(),
            source,
        })?;
        let store_path = data_dir.join("store.redb");
        let store = Store::open(&store_path)?;
        tracing::info!(path = %store_path.display(), "opened the store");
        let index = Index::open(&data_dir.join("index"))?;
        let mut node = Node { store, index };
        node.catch_up()?;
        Ok(node)
    }

    /// Finishes background index work (segment merges) and closes the node. Call it before a
    /// process that wrote exits; dropping the node instead is safe but leaves merging undone.
    pub fn close(self) -> Result<(), NodeError> {
        self.index.close()?;
        Ok(())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Indexes whatever the store logged since the index's last commit. Rebuilds from scratch if
    /// the index claims more than the store has (the store was restored from an older backup).
    fn catch_up(&mut self) -> Result<(), NodeError> {
        let head = self.store.log_head()?;
        let position = self.index.position()?;
        if position == head {
            return Ok(());
        }
        if position > head {
            tracing::warn!(position, head, "index is ahead of the store; rebuilding it");
            return self.reindex(&NoProgress);
        }
        tracing::info!(
            from = position,
            to = head,
            "bringing the search index up to date"
        );
        self.replay_log(position, &NoProgress)
    }

    fn replay_log(&mut self, mut from: u64, progress: &dyn Progress) -> Result<(), NodeError> {
        loop {
            let (records, next) = self.store.log_since(from, REPLAY_CHUNK)?;
            if next == from {
                break;
            }
            for record in &records {
                self.index.apply(record)?;
            }
            progress.advance(next - from);
            from = next;
        }
        self.index.commit(from)?;
        Ok(())
    }

    /// Rebuilds the index from the store.
    pub fn reindex(&mut self, progress: &dyn Progress) -> Result<(), NodeError> {
        progress.start(Some(self.store.log_head()?), "reindexing");
        self.index.clear()?;
        self.replay_log(0, progress)?;
        progress.finish();
        Ok(())
    }

    /// Stores records that were verified elsewhere, in one durable batch, then indexes the ones
    /// that won. Returns one outcome per record, in order.
    pub fn ingest(&mut self, records: &[Record]) -> Result<Vec<Outcome>, NodeError> {
        let outcomes = self.store_and_index(records)?;
        if outcomes.iter().any(Outcome::is_stored) {
            self.commit_index()?;
        }
        Ok(outcomes)
    }

    /// Commits `records` to the store (durable on return) and hands the winners to the index
    /// writer, without committing the index.
    pub(crate) fn store_and_index(
        &mut self,
        records: &[Record],
    ) -> Result<Vec<Outcome>, NodeError> {
        let mut batch = self.store.batch()?;
        let outcomes = batch.apply_all(records)?;
        batch.commit()?;
        for (record, outcome) in records.iter().zip(&outcomes) {
            if outcome.is_stored() {
                self.index.apply(record)?;
            }
        }
        Ok(outcomes)
    }

    /// Makes the index searchable up to the store's current log head.
    pub(crate) fn commit_index(&mut self) -> Result<(), NodeError> {
        let head = self.store.log_head()?;
        self.index.commit(head)?;
        Ok(())
    }

    /// Signs `draft` as the next version at its address and stores it.
    pub fn publish(
        &mut self,
        identity: &Identity,
        draft: &Draft,
        now: i64,
    ) -> Result<Published, NodeError> {
        let address = draft.address(&identity.author());
        let previous_seq = self.store.latest(&address)?.map(|entry| entry.version.seq);
        let seq = previous_seq.map_or(1, |seq| seq + 1);
        let record = Record::sign(
            identity,
            address.slug.clone(),
            seq,
            now,
            draft.content.clone(),
        )?;
        self.store_own(&record)?;
        Ok(Published {
            record,
            previous_seq,
        })
    }

    /// Retracts one of the identity's own records: a signed tombstone replaces it everywhere.
    pub fn retract(
        &mut self,
        identity: &Identity,
        address: &Address,
        now: i64,
    ) -> Result<Record, NodeError> {
        if address.author != identity.author() {
            return Err(NodeError::NotYours {
                address: address.clone(),
            });
        }
        let entry = self
            .store
            .latest(address)?
            .ok_or_else(|| NodeError::NotFound(address.clone()))?;
        if entry.retracted {
            return Err(NodeError::Retracted(address.clone()));
        }
        let record = Record::sign_retraction(identity, address, entry.version.seq + 1, now)?;
        self.store_own(&record)?;
        Ok(record)
    }

    fn store_own(&mut self, record: &Record) -> Result<(), NodeError> {
        match self.ingest(std::slice::from_ref(record))?.remove(0) {
            Outcome::Stored { .. } => Ok(()),
            Outcome::Duplicate => Ok(()),
            Outcome::Stale { stored, .. } => Err(NodeError::Stale {
                address: record.address(),
                stored: stored.seq,
                offered: record.header().seq,
            }),
        }
    }

    /// The latest live version at `address`.
    pub fn get(&self, address: &Address) -> Result<Record, NodeError> {
        match self.store.get(address)? {
            None => Err(NodeError::NotFound(address.clone())),
            Some(record) if record.is_retraction() => Err(NodeError::Retracted(address.clone())),
            Some(record) => Ok(record),
        }
    }

    pub fn search(&self, query: &Query) -> Result<Vec<Hit>, NodeError> {
        Ok(self.index.search(query)?)
    }

    /// Records like `content`, best first, leaving out `exclude` (the record itself).
    pub fn similar(
        &self,
        content: &Content,
        exclude: Option<&Address>,
        threshold: SimilarityThreshold,
        limit: usize,
    ) -> Result<Vec<(f32, Hit)>, NodeError> {
        Ok(self.index.similar(content, exclude, threshold, limit)?)
    }

    /// Live records, optionally only one author's, one kind, or stale ones (review date passed).
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<Record>, NodeError> {
        let today = Date::from_unix(filter.now);
        let mut out = Vec::new();
        self.store.for_each(filter.author.as_ref(), |record| {
            let Some(content) = record.content() else {
                return true;
            };
            if filter.kind.is_some_and(|kind| kind != content.kind()) {
                return true;
            }
            if filter.stale && !is_stale(content, today) {
                return true;
            }
            out.push(record);
            true
        })?;
        Ok(out)
    }

    pub fn counts(&self) -> Result<StoreCounts, NodeError> {
        Ok(self.store.counts()?)
    }
}

/// What `list` shows.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub author: Option<AuthorKey>,
    pub kind: Option<Kind>,
    pub stale: bool,
    /// Unix seconds; decides which review dates have passed.
    pub now: i64,
}

/// A record is stale once its `review_by` date has passed without an update.
pub fn is_stale(content: &Content, today: Date) -> bool {
    match content {
        Content::Experiment(e) => e.review_by.is_some_and(|date| date < today),
        _ => false,
    }
}
