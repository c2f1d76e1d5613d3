//! Catch-up sync: which records two nodes must send each other so that both hold the union of
//! their sets.
//!
//! Each node offers the set of its latest versions, one item per address: (created_at, id), the
//! id being the record id. The sets are reconciled with range-based set reconciliation
//! (negentropy): the two sides exchange fingerprints of ranges of their sorted items and split
//! only the ranges that differ, so the bytes exchanged grow with the number of differences, not
//! with the size of the sets. The initiator ends up knowing which ids it has that the other side
//! lacks (to send) and which ids it lacks (to fetch); the fetched records are then verified and
//! stored like any others, and the version rules decide what wins.
//!
//! Pure: messages in, messages out. Moving them between nodes is the network's job.

use negentropy::{Id, Negentropy, NegentropyStorageVector};

use crate::RecordId;

/// Largest reconciliation message either side sends. Larger differences take more rounds.
pub const SYNC_FRAME_LIMIT: u64 = 60_000;

/// One element of a node's sync set: a latest version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SyncItem {
    /// The record's `created_at`; records before 1970 count as 0.
    pub created_at: u64,
    pub id: RecordId,
}

/// A reconciliation message was malformed or out of turn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("set reconciliation failed: {0}")]
pub struct SyncError(String);

impl From<negentropy::Error> for SyncError {
    fn from(error: negentropy::Error) -> SyncError {
        SyncError(error.to_string())
    }
}

/// What one round of reconciliation gave the initiator.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// The next message to send, or `None` when reconciliation is complete.
    pub next: Option<Vec<u8>>,
    /// Ids the initiator holds and the other side lacks.
    pub have: Vec<RecordId>,
    /// Ids the other side holds and the initiator lacks.
    pub need: Vec<RecordId>,
}

/// One side of a reconciliation.
pub struct Reconciler {
    inner: Negentropy<'static, NegentropyStorageVector>,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("initiator", &self.inner.is_initiator())
            .finish()
    }
}

impl Reconciler {
    fn new(items: impl IntoIterator<Item = SyncItem>) -> Result<Reconciler, SyncError> {
        let mut storage = NegentropyStorageVector::new();
        for item in items {
            storage.insert(item.created_at, Id::from_byte_array(item.id.0))?;
        }
        storage.seal()?;
        Ok(Reconciler {
            inner: Negentropy::owned(storage, SYNC_FRAME_LIMIT)?,
        })
    }

    /// Starts a reconciliation over `items`; returns the first message to send.
    pub fn initiate(
        items: impl IntoIterator<Item = SyncItem>,
    ) -> Result<(Reconciler, Vec<u8>), SyncError> {
        let mut reconciler = Reconciler::new(items)?;
        let first = reconciler.inner.initiate()?;
        Ok((reconciler, first))
    }

    /// The side that answers a reconciliation over `items`.
    pub fn respond_to(items: impl IntoIterator<Item = SyncItem>) -> Result<Reconciler, SyncError> {
        Reconciler::new(items)
    }

    /// Responder: the answer to a message from the initiator.
    pub fn answer(&mut self, message: &[u8]) -> Result<Vec<u8>, SyncError> {
        Ok(self.inner.reconcile(message)?)
    }

    /// Initiator: takes in an answer; says what to send next and what it learned.
    pub fn take_answer(&mut self, answer: &[u8]) -> Result<Round, SyncError> {
        let (mut have, mut need) = (Vec::new(), Vec::new());
        let next = self
            .inner
            .reconcile_with_ids(answer, &mut have, &mut need)?;
        let ids = |ids: Vec<Id>| ids.into_iter().map(|id| RecordId(id.to_bytes())).collect();
        Ok(Round {
            next,
            have: ids(have),
            need: ids(need),
        })
    }
}

/// Statistics of a reconciliation run in one process, for tests and benchmarks.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Ids the initiator has and the responder lacks.
    pub have: Vec<RecordId>,
    /// Ids the responder has and the initiator lacks.
    pub need: Vec<RecordId>,
    /// Messages exchanged, both directions.
    pub messages: usize,
    /// Bytes of all messages, both directions.
    pub bytes: usize,
}

/// Runs a whole reconciliation between two in-memory sets.
pub fn reconcile_locally(
    initiator: impl IntoIterator<Item = SyncItem>,
    responder: impl IntoIterator<Item = SyncItem>,
) -> Result<Reconciled, SyncError> {
    let (mut a, mut message) = Reconciler::initiate(initiator)?;
    let mut b = Reconciler::respond_to(responder)?;
    let mut result = Reconciled::default();
    loop {
        result.messages += 1;
        result.bytes += message.len();
        let answer = b.answer(&message)?;
        result.messages += 1;
        result.bytes += answer.len();
        let round = a.take_answer(&answer)?;
        result.have.extend(round.have);
        result.need.extend(round.need);
        match round.next {
            Some(next) => message = next,
            None => break,
        }
    }
    result.have.sort();
    result.need.sort();
    Ok(result)
}
