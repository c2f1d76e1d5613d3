//! Recovering a home whose store is lost or damaged.
//!
//! A record is self-delimiting (its header gives the slug and body lengths) and signed, so the
//! records in a damaged store file can be found without redb: scan the bytes for the record
//! domain tag, cut a candidate at the length its header gives, and keep it if its signature
//! verifies. A garbled record fails verification and is left out; a good one is exactly as its
//! author signed it, wherever it was found. What the scan cannot find, peers still hold:
//! catch-up sync brings it back (`convene recover --from-peers`).

use std::path::{Path, PathBuf};

use convene_protocol::{DOMAIN_TAG, MAX_RECORD_BYTES, Record};

use crate::{INDEX_DIR, Node, NodeError, Outcome, Progress, STORE_FILE, Store, StoreError};

/// Records salvaged per store transaction.
const SALVAGE_BATCH: usize = 1_024;

/// What [`recover`] did.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Recovery {
    /// Where the old store file went, if there was one.
    pub moved_to: Option<PathBuf>,
    /// Candidate records found in it (by their domain tag).
    pub found: u64,
    /// Of those, records whose signature verified.
    pub verified: u64,
    /// Of those, stored as the latest version at their address (the rest were older versions
    /// of the same records, or copies).
    pub stored: u64,
}

/// What the store in `data_dir` is like before a recovery.
#[derive(Debug)]
pub enum StoreState {
    /// It opens: nothing to recover.
    Healthy,
    /// No file, or an empty one.
    Missing,
    /// It cannot be opened; why.
    Damaged(String),
}

/// Looks at the store without changing it.
pub fn store_state(data_dir: &Path) -> Result<StoreState, NodeError> {
    match Store::open_existing(&data_dir.join(STORE_FILE)) {
        Ok(_) => Ok(StoreState::Healthy),
        Err(StoreError::Missing { .. }) => Ok(StoreState::Missing),
        Err(StoreError::Damaged { reason, .. }) => Ok(StoreState::Damaged(reason)),
        Err(error) => Err(error.into()),
    }
}

/// Starts a new store in `data_dir`: a damaged store file is moved aside (never deleted) and
/// every record in it that still verifies is stored again; the index is rebuilt. A healthy
/// store is left alone. `now` is the time records are verified at.
pub fn recover(data_dir: &Path, now: i64, progress: &dyn Progress) -> Result<Recovery, NodeError> {
    let store_path = data_dir.join(STORE_FILE);
    let mut recovery = Recovery::default();
    match store_state(data_dir)? {
        StoreState::Healthy => return Ok(recovery),
        StoreState::Missing => {}
        StoreState::Damaged(_) => {
            let aside = data_dir.join(format!("{STORE_FILE}.damaged-{now}"));
            std::fs::rename(&store_path, &aside).map_err(|source| NodeError::Io {
                path: store_path.display().to_string(),
                source,
            })?;
            recovery.moved_to = Some(aside);
        }
    }
    // A leftover empty file would be refused as "empty"; the index belongs to the old store.
    let _ = std::fs::remove_file(&store_path);
    let index = data_dir.join(INDEX_DIR);
    if index.exists() {
        std::fs::remove_dir_all(&index).map_err(|source| NodeError::Io {
            path: index.display().to_string(),
            source,
        })?;
    }
    let mut node = Node::create(data_dir)?;
    if let Some(aside) = &recovery.moved_to {
        let bytes = std::fs::read(aside).map_err(|source| NodeError::Io {
            path: aside.display().to_string(),
            source,
        })?;
        progress.start(Some(bytes.len() as u64), "salvaging records");
        let mut batch = Vec::with_capacity(SALVAGE_BATCH);
        let mut last = 0;
        for (offset, candidate) in candidates(&bytes) {
            recovery.found += 1;
            progress.advance((offset - last) as u64);
            last = offset;
            if let Ok(record) = Record::from_bytes(candidate.to_vec(), now) {
                recovery.verified += 1;
                batch.push(record);
            }
            if batch.len() >= SALVAGE_BATCH {
                recovery.stored += store(&mut node, &mut batch)?;
            }
        }
        recovery.stored += store(&mut node, &mut batch)?;
        progress.finish();
    }
    node.close()?;
    Ok(recovery)
}

fn store(node: &mut Node, batch: &mut Vec<Record>) -> Result<u64, NodeError> {
    let outcomes = node.admit(batch, crate::Source::Import)?;
    batch.clear();
    Ok(outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Stored { .. }))
        .count() as u64)
}

/// Every place in `bytes` that starts like a record, with the bytes its header says it spans.
fn candidates(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut from = 0;
    std::iter::from_fn(move || {
        loop {
            let at = from + find(&bytes[from..], DOMAIN_TAG)?;
            from = at + 1;
            if let Some(length) = record_length(&bytes[at..]) {
                return Some((at, &bytes[at..at + length]));
            }
        }
    })
}

/// The length a record starting at `bytes[0]` has by its header, if it fits in `bytes` and
/// in the record limit. Offsets as in `docs/protocol.md`.
fn record_length(bytes: &[u8]) -> Option<usize> {
    const SLUG_LENGTH_AT: usize = 65;
    let slug = *bytes.get(SLUG_LENGTH_AT)? as usize;
    let body_at = SLUG_LENGTH_AT + 1 + slug;
    let body = u32::from_be_bytes(bytes.get(body_at..body_at + 4)?.try_into().ok()?) as usize;
    let length = body_at.checked_add(4)?.checked_add(body)?.checked_add(64)?;
    (length <= MAX_RECORD_BYTES && length <= bytes.len()).then_some(length)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
