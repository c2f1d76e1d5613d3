//! The record store: redb, the node's source of truth.
//!
//! All writes go through a [`Batch`], one redb write transaction, and only through
//! [`Batch::admit_all`]: each record passes the admission step ([`crate::admission::admit`])
//! against what the batch holds at its address (each sees the ones before it), and only what it
//! accepts is written. The records become durable together when the batch commits, with one
//! fsync. Dropping a batch without committing discards it, which is how dry runs work. Batches
//! are private to this crate: the node's write path ([`crate::Node::admit`]) is the only way in.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use convene_protocol::sync::SyncItem;
use convene_protocol::{Address, AuthorKey, Record, RecordError, RecordId, Version};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableHandle};

use crate::admission::{self, Admission, Held, Ignored, Policy, Source};
use crate::domains::DomainCheck;
use crate::networks::{HeldCharter, Joined};
use crate::tables::{
    BLOCKS, DOMAINS, HISTORY, JOINED, KINDS, LATEST, LOG, PINS, PLACES, RECORDS, REQUESTS, WATCHES,
    WEB_ACCOUNTS, WEB_SESSIONS,
};

/// Superseded versions kept per address (`history_v1`) for `convene history`; a newer one
/// pushes out the oldest.
pub const HISTORY_VERSIONS: usize = 10;
use crate::trust::{Block, Pin};

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is in use by another convene process (is a node running?)")]
    Locked,
    #[error("store error: {0}")]
    Redb(#[from] redb::Error),
    /// The store file is missing or empty where one was expected: a data disk that did not
    /// mount, a deleted or moved file. Opening it would silently start an empty directory.
    #[error(
        "{path} is {what}, but this home has a store: if its disk is not mounted, mount it and \
         retry; to restore a backup, copy it there; to start a new store and fill it from peers, run \
         `convene recover --from-peers` (or `convene recover` for an empty one)"
    )]
    Missing { path: PathBuf, what: &'static str },
    /// The store file is not a readable redb database.
    #[error(
        "{path} is damaged ({reason}). Run `convene recover` to move it aside, salvage every \
         record that still verifies and start a new store (add --from-peers to fetch the rest \
         from peers); see the operator guide, \"Recovering a damaged store\""
    )]
    Damaged { path: PathBuf, reason: String },
    /// The store was closed after a failure and could not be reopened yet.
    #[error("the store at {0} is closed after a failure; it is reopened on the next attempt")]
    Closed(PathBuf),
    #[error("the store is in use by a running export; try again when it finishes")]
    Busy,
    #[error("the store holds an undecodable record {id}: {source}")]
    Corrupt { id: RecordId, source: RecordError },
}

macro_rules! redb_errors {
    ($($ty:ty),*) => {$(
        impl From<$ty> for StoreError {
            fn from(error: $ty) -> StoreError {
                StoreError::Redb(error.into())
            }
        }
    )*};
}
redb_errors!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::CompactionError
);

/// What applying one record did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Stored as the latest version at its address; `replaced` is the version it superseded.
    Stored { replaced: Option<RecordId> },
    /// This exact record is already stored.
    Duplicate,
    /// Not stored: the stored version at this address wins over it.
    Stale { stored: Version, retracted: bool },
    /// Not stored: a rule of the node's admission policy refuses it, for this reason.
    Refused(String),
    /// Not stored: it is in no network this node replicates (why, for the log).
    Elsewhere(String),
}

impl Outcome {
    pub fn is_stored(&self) -> bool {
        matches!(self, Outcome::Stored { .. })
    }
}

/// The latest version at an address, as recorded in the `latest` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatestEntry {
    pub version: Version,
    pub created_at: i64,
    pub retracted: bool,
}

impl LatestEntry {
    fn of(record: &Record) -> LatestEntry {
        LatestEntry {
            version: record.version(),
            created_at: record.header().created_at,
            retracted: record.is_retraction(),
        }
    }

    fn to_bytes(self) -> [u8; 49] {
        let mut bytes = [0u8; 49];
        bytes[..32].copy_from_slice(self.version.id.as_bytes());
        bytes[32..40].copy_from_slice(&self.version.seq.to_be_bytes());
        bytes[40..48].copy_from_slice(&self.created_at.to_be_bytes());
        bytes[48] = u8::from(self.retracted);
        bytes
    }

    fn from_bytes(bytes: [u8; 49]) -> LatestEntry {
        LatestEntry {
            version: Version {
                id: RecordId(bytes[..32].try_into().expect("32 bytes")),
                seq: u64::from_be_bytes(bytes[32..40].try_into().expect("8 bytes")),
            },
            created_at: i64::from_be_bytes(bytes[40..48].try_into().expect("8 bytes")),
            retracted: bytes[48] & 1 != 0,
        }
    }

    /// This entry as an element of the catch-up sync set.
    pub fn sync_item(&self) -> SyncItem {
        SyncItem {
            created_at: u64::try_from(self.created_at).unwrap_or(0),
            id: self.version.id,
        }
    }
}

/// Counts of what the store holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoreCounts {
    /// Addresses whose latest version has content.
    pub live: u64,
    /// Addresses whose latest version is a retraction.
    pub retracted: u64,
    /// Entries in the arrival log.
    pub log: u64,
}

/// Rewrites `table` in key order into a new table, which then takes its name, all within
/// `txn`. Nothing else changes: the same entries under the same name.
fn rewrite_in_key_order<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &redb::WriteTransaction,
    table: redb::TableDefinition<'_, K, V>,
) -> Result<(), StoreError> {
    let name = format!("{}_rewritten", table.name());
    let rewritten = redb::TableDefinition::<K, V>::new(&name);
    {
        let source = txn.open_table(table)?;
        let mut target = txn.open_table(rewritten)?;
        for entry in source.iter()? {
            let (key, value) = entry?;
            target.insert(key.value(), value.value())?;
        }
    }
    txn.delete_table(table)?;
    txn.rename_table(rewritten, table)?;
    Ok(())
}

/// Memory redb may use to cache the store's pages (its default is 1 GiB). The operating
/// system caches the file as well, so a smaller cache costs a copy, not a disk read: at 100,000
/// records import and search times did not change between 16 MiB and 1 GiB, and a node over a
/// million records went from 177 to 70 MiB of its own memory at rest (docs/benchmarks.md).
pub const STORE_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// The first bytes of every redb file.
const REDB_MAGIC: &[u8] = b"redb";

/// The redb database. Clones share it: readers see consistent snapshots while a writer works.
#[derive(Clone, Debug)]
pub struct Store {
    /// `None` after [`Store::reopen`] failed: every operation then says the store is closed.
    db: Option<Arc<Database>>,
    path: PathBuf,
}

impl Store {
    /// Opens the store file, creating it if it does not exist.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            db: Some(Arc::new(open_database(path)?)),
            path: path.to_path_buf(),
        })
    }

    /// Opens a store file that must already exist and hold a database: a missing or empty file
    /// is refused (see [`StoreError::Missing`]), and so is one that is not a redb file.
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        let what = match std::fs::metadata(path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Some("missing"),
            Ok(meta) if meta.len() == 0 => Some("empty"),
            _ => None,
        };
        if let Some(what) = what {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
                what,
            });
        }
        Store::open(path)
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> Result<&Database, StoreError> {
        self.db
            .as_deref()
            .ok_or_else(|| StoreError::Closed(self.path.clone()))
    }

    /// Closes and reopens the database, as redb asks after an I/O error (a full disk). Fails,
    /// changing nothing, while a clone (a running export) still reads from it.
    pub(crate) fn reopen(&mut self) -> Result<(), StoreError> {
        if let Some(db) = &self.db
            && Arc::strong_count(db) > 1
        {
            return Err(StoreError::Busy);
        }
        // redb allows one handle per file: the old one goes before the new one opens.
        self.db = None;
        self.db = Some(Arc::new(open_database(&self.path)?));
        Ok(())
    }

    /// Makes the file as small as its contents allow. First the tables whose entries arrive in
    /// no particular key order (records by id, addresses) are rewritten in key order, in one
    /// transaction: entries inserted at random places leave B-tree pages partly empty, and
    /// written in order they fill them. Then the file's free pages are given back to the file
    /// system: redb grows its file as it writes and reuses freed pages, but never shrinks it by
    /// itself. Each step is a durable commit, so a crash midway leaves a whole store. Returns
    /// the file's size before and after. Needs the only handle on the store (no export reading
    /// it).
    pub fn compact(&mut self) -> Result<(u64, u64), StoreError> {
        let size = |path: &Path| std::fs::metadata(path).map(|meta| meta.len()).unwrap_or(0);
        let before = size(&self.path);
        let db = self
            .db
            .as_mut()
            .ok_or_else(|| StoreError::Closed(self.path.clone()))?;
        let db = Arc::get_mut(db).ok_or(StoreError::Busy)?;
        let txn = db.begin_write()?;
        rewrite_in_key_order(&txn, RECORDS)?;
        rewrite_in_key_order(&txn, LATEST)?;
        rewrite_in_key_order(&txn, KINDS)?;
        rewrite_in_key_order(&txn, HISTORY)?;
        rewrite_in_key_order(&txn, PLACES)?;
        txn.commit()?;
        // One call compacts as far as it can; a second finds little more. Bounded all the same.
        for _ in 0..4 {
            if !db.compact()? {
                break;
            }
        }
        Ok((before, size(&self.path)))
    }

    /// Makes every commit so far durable (see [`Batch::commit_unsynced`]).
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        self.batch()?.commit()
    }

    /// Starts a batch of writes.
    pub(crate) fn batch(&self) -> Result<Batch, StoreError> {
        Ok(Batch {
            txn: self.db()?.begin_write()?,
        })
    }

    /// The position the next arrival will get: the number of log entries.
    pub fn log_head(&self) -> Result<u64, StoreError> {
        let txn = self.db()?.begin_read()?;
        Ok(txn.open_table(LOG)?.len()?)
    }

    /// Records that arrived at positions `from..`, oldest first, at most `limit` of them, with the
    /// position after the last entry read. Entries whose record was superseded are skipped.
    pub fn log_since(&self, from: u64, limit: usize) -> Result<(Vec<Record>, u64), StoreError> {
        let (arrivals, next) = self.arrivals(from, limit)?;
        Ok((
            arrivals.into_iter().map(|(_, record)| record).collect(),
            next,
        ))
    }

    /// [`Store::log_since`], each record with its position in the log.
    pub(crate) fn arrivals(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<(Vec<(u64, Record)>, u64), StoreError> {
        let txn = self.db()?.begin_read()?;
        let log = txn.open_table(LOG)?;
        let records = txn.open_table(RECORDS)?;
        let mut out = Vec::new();
        let mut next = from;
        for entry in log.range(from..)?.take(limit) {
            let (position, id) = entry?;
            next = position.value() + 1;
            if let Some(bytes) = records.get(id.value())? {
                out.push((
                    position.value(),
                    decode(RecordId(id.value()), bytes.value())?,
                ));
            }
        }
        Ok((out, next))
    }

    /// The latest version at `address`, which may be a retraction.
    pub fn get(&self, address: &Address) -> Result<Option<Record>, StoreError> {
        latest_in(&self.db()?.begin_read()?, &address.to_key())
    }

    /// The versions this node holds at `address`, oldest first: those its latest replaced (at
    /// most [`HISTORY_VERSIONS`]; none once it is retracted), then the latest itself. Empty if
    /// nothing is held there. One read transaction, so a write in between cannot show a
    /// version twice.
    pub fn versions(&self, address: &Address) -> Result<Vec<Record>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let key = address.to_key();
        let Some(latest) = latest_in(&txn, &key)? else {
            return Ok(Vec::new());
        };
        let history = txn.open_table(HISTORY)?;
        let (start, end) = history_bounds(&key);
        let mut versions = Vec::new();
        for entry in history.range(start.as_slice()..end.as_slice())? {
            let (_, bytes) = entry?;
            let bytes = bytes.value();
            versions.push(decode(RecordId::of(bytes), bytes)?);
        }
        versions.push(latest);
        Ok(versions)
    }

    /// The latest-version entry at `address`, without reading the record.
    pub fn latest(&self, address: &Address) -> Result<Option<LatestEntry>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let latest = txn.open_table(LATEST)?;
        Ok(latest
            .get(address.to_key().as_slice())?
            .map(|entry| LatestEntry::from_bytes(entry.value())))
    }

    /// Calls `visit` with every stored record (live or retracted) in address order, or only
    /// `author`'s. Stops early if `visit` returns false.
    pub fn for_each(
        &self,
        author: Option<&AuthorKey>,
        mut visit: impl FnMut(Record) -> bool,
    ) -> Result<(), StoreError> {
        let txn = self.db()?.begin_read()?;
        let latest = txn.open_table(LATEST)?;
        let records = txn.open_table(RECORDS)?;
        let start: Vec<u8> = author.map(|a| a.as_bytes().to_vec()).unwrap_or_default();
        for entry in latest.range(start.as_slice()..)? {
            let (key, value) = entry?;
            if let Some(author) = author
                && !key.value().starts_with(author.as_bytes())
            {
                break;
            }
            let id = LatestEntry::from_bytes(value.value()).version.id;
            let Some(bytes) = records.get(id.0)? else {
                continue;
            };
            if !visit(decode(id, bytes.value())?) {
                break;
            }
        }
        Ok(())
    }

    /// The catch-up sync set: one item per address, the latest version (tombstones included).
    pub fn sync_items(&self) -> Result<Vec<SyncItem>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let latest = txn.open_table(LATEST)?;
        let mut items = Vec::with_capacity(latest.len()? as usize);
        for entry in latest.iter()? {
            let (_, value) = entry?;
            items.push(LatestEntry::from_bytes(value.value()).sync_item());
        }
        Ok(items)
    }

    /// The catch-up sync set as one peer may see it: the items for which `wanted(address key,
    /// networks)` holds, `networks` being what the record names (`None` for the kinds that are
    /// in no network). One pass over the latest and places tables, both in address order.
    pub fn sync_items_where(
        &self,
        mut wanted: impl FnMut(&[u8], Option<&[convene_protocol::NetworkId]>) -> bool,
    ) -> Result<Vec<SyncItem>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let latest = txn.open_table(LATEST)?;
        let places = txn.open_table(PLACES)?;
        let mut places = places.iter()?.peekable();
        let mut items = Vec::new();
        let no_networks: &[convene_protocol::NetworkId] = &[];
        for entry in latest.iter()? {
            let (key, value) = entry?;
            let key = key.value();
            let mut named = None;
            while let Some(Ok((place, _))) = places.peek() {
                match place.value().cmp(key) {
                    std::cmp::Ordering::Less => {
                        places.next();
                    }
                    std::cmp::Ordering::Equal => {
                        let (_, networks) = places.next().expect("peeked")?;
                        named = Some(crate::networks::decode_list(networks.value()));
                        break;
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
            let networks = match (key.get(32).copied(), &named) {
                (_, Some(named)) => Some(named.as_slice()),
                (Some(kind), None) if carries_networks(kind) => Some(no_networks),
                _ => None,
            };
            if wanted(key, networks) {
                items.push(LatestEntry::from_bytes(value.value()).sync_item());
            }
        }
        Ok(items)
    }

    /// The networks the record at `address` names (empty: the commons); `None` for kinds in no
    /// network.
    pub fn places(
        &self,
        address: &Address,
    ) -> Result<Option<Vec<convene_protocol::NetworkId>>, StoreError> {
        if !carries_networks(address.kind as u8) {
            return Ok(None);
        }
        let txn = self.db()?.begin_read()?;
        let places = txn.open_table(PLACES)?;
        Ok(Some(
            places
                .get(address.to_key().as_slice())?
                .map(|value| crate::networks::decode_list(value.value()))
                .unwrap_or_default(),
        ))
    }

    /// Every charter version held (charter versions are never retracted).
    pub fn charters(&self) -> Result<Vec<HeldCharter>, StoreError> {
        Ok(charters_of(
            self.live_of_kind(convene_protocol::Kind::Charter)?,
        ))
    }

    /// Every live interest: the organisation, what it says, and when it was signed.
    pub fn interests(
        &self,
    ) -> Result<Vec<(AuthorKey, convene_protocol::Interest, i64)>, StoreError> {
        Ok(self
            .live_of_kind(convene_protocol::Kind::Interest)?
            .into_iter()
            .filter_map(|(record, entry)| match record.content() {
                Some(convene_protocol::Content::Interest(interest)) => {
                    Some((record.header().author, interest.clone(), entry.created_at))
                }
                _ => None,
            })
            .collect())
    }

    /// Every succession (revocation, rotation, recovery), with its author.
    pub fn successions(
        &self,
    ) -> Result<Vec<(AuthorKey, convene_protocol::Succession)>, StoreError> {
        Ok(successions_of(
            self.live_of_kind(convene_protocol::Kind::Succession)?,
        ))
    }

    /// Purges `author`'s records — tombstones too, its successions aside — whose id `keeps`
    /// refuses: what a key signed beyond the cut-off of a succession about it. Returns the
    /// addresses purged. Durable on return.
    pub(crate) fn purge_unkept(
        &self,
        author: &AuthorKey,
        keeps: impl Fn(&RecordId) -> bool,
    ) -> Result<Vec<Address>, StoreError> {
        // Read first: most verdicts have nothing left to purge, and need no write.
        let mut doomed = Vec::new();
        {
            let txn = self.db()?.begin_read()?;
            let latest = txn.open_table(LATEST)?;
            for entry in latest.range(author.as_bytes().as_slice()..)? {
                let (key, value) = entry?;
                if !key.value().starts_with(author.as_bytes()) {
                    break;
                }
                let entry = LatestEntry::from_bytes(value.value());
                let succession =
                    key.value().get(32) == Some(&(convene_protocol::Kind::Succession as u8));
                if !succession && !keeps(&entry.version.id) {
                    doomed.push((key.value().to_vec(), entry));
                }
            }
        }
        if doomed.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.db()?.begin_write()?;
        let mut purged = Vec::new();
        {
            let mut latest = txn.open_table(LATEST)?;
            let mut records = txn.open_table(RECORDS)?;
            let mut places = txn.open_table(PLACES)?;
            let mut kinds = txn.open_table(KINDS)?;
            let mut history = txn.open_table(HISTORY)?;
            for (key, entry) in doomed {
                // Only what is still the version that was judged (a write may have come in
                // between).
                let current = latest
                    .get(key.as_slice())?
                    .map(|held| LatestEntry::from_bytes(held.value()).version.id);
                if current != Some(entry.version.id) {
                    continue;
                }
                records.remove(entry.version.id.0)?;
                latest.remove(key.as_slice())?;
                kinds.remove(kind_key(&key).as_slice())?;
                places.remove(key.as_slice())?;
                forget_history(&mut history, &key)?;
                if let Some(address) = Address::from_key(&key) {
                    purged.push(address);
                }
            }
        }
        txn.commit()?;
        Ok(purged)
    }

    /// Every live delegation, with the organisation that signed it.
    pub fn delegations(
        &self,
    ) -> Result<Vec<(AuthorKey, convene_protocol::Delegation)>, StoreError> {
        Ok(delegations_of(
            self.live_of_kind(convene_protocol::Kind::Delegation)?,
        ))
    }

    /// Every live featured list, with its author.
    pub fn featured(&self) -> Result<Vec<(AuthorKey, convene_protocol::Featured)>, StoreError> {
        Ok(self
            .live_of_kind(convene_protocol::Kind::Featured)?
            .into_iter()
            .filter_map(|(record, _)| match record.content() {
                Some(convene_protocol::Content::Featured(list)) => {
                    Some((record.header().author, list.clone()))
                }
                _ => None,
            })
            .collect())
    }

    /// Every live binding: which organisation lists which nodes.
    pub fn bindings(&self) -> Result<Vec<(AuthorKey, convene_protocol::Binding)>, StoreError> {
        Ok(bindings_of(
            self.live_of_kind(convene_protocol::Kind::Binding)?,
        ))
    }

    /// The networks this node joined.
    pub fn joined(
        &self,
    ) -> Result<std::collections::BTreeMap<convene_protocol::NetworkId, Joined>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = txn.open_table(JOINED)?;
        let mut out = std::collections::BTreeMap::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            if let (Some(network), Ok(joined)) = (
                convene_protocol::NetworkId::from_key(key.value()),
                serde_json::from_slice::<Joined>(value.value()),
            ) {
                out.insert(network, joined);
            }
        }
        Ok(out)
    }

    /// Joins `network` (or, with `None`, leaves it); whether it was joined. Durable on return.
    pub(crate) fn set_joined(
        &self,
        network: &convene_protocol::NetworkId,
        joined: Option<&Joined>,
    ) -> Result<bool, StoreError> {
        let txn = self.db()?.begin_write()?;
        let had = {
            let mut table = txn.open_table(JOINED)?;
            let key = network.to_key();
            match joined {
                Some(joined) => {
                    let bytes = serde_json::to_vec(joined).expect("plain data");
                    table.insert(key.as_slice(), bytes.as_slice())?.is_some()
                }
                None => table.remove(key.as_slice())?.is_some(),
            }
        };
        txn.commit()?;
        Ok(had)
    }

    /// Join requests kept for this node's convenor: (key, JSON) pairs.
    pub(crate) fn join_requests(&self) -> Result<Vec<KeyValue>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = txn.open_table(REQUESTS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            out.push((key.value().to_vec(), value.value().to_vec()));
        }
        Ok(out)
    }

    /// Keeps (or with `None` drops) the join request at `key`; whether there was one. Durable
    /// on return.
    pub(crate) fn set_join_request(
        &self,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let txn = self.db()?.begin_write()?;
        let had = {
            let mut table = txn.open_table(REQUESTS)?;
            match value {
                Some(value) => table.insert(key, value)?.is_some(),
                None => table.remove(key)?.is_some(),
            }
        };
        txn.commit()?;
        Ok(had)
    }

    /// The saved searches whose keys start with `prefix`: (key, JSON) pairs, by key.
    pub(crate) fn watches(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = txn.open_table(WATCHES)?;
        let mut out = Vec::new();
        for entry in table.range(prefix..)? {
            let (key, value) = entry?;
            if !key.value().starts_with(prefix) {
                break;
            }
            out.push((key.value().to_string(), value.value().to_vec()));
        }
        Ok(out)
    }

    /// Writes (`Some`) or removes (`None`) saved searches, in one transaction; whether each
    /// key was there before. Durable on return.
    pub(crate) fn write_watches(
        &self,
        writes: &[(String, Option<Vec<u8>>)],
    ) -> Result<Vec<bool>, StoreError> {
        let txn = self.db()?.begin_write()?;
        let mut had = Vec::with_capacity(writes.len());
        {
            let mut table = txn.open_table(WATCHES)?;
            for (key, value) in writes {
                had.push(match value {
                    Some(value) => table.insert(key.as_str(), value.as_slice())?.is_some(),
                    None => table.remove(key.as_str())?.is_some(),
                });
            }
        }
        txn.commit()?;
        Ok(had)
    }

    /// Every web account: (name, JSON) pairs, by name.
    pub(crate) fn web_accounts(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = txn.open_table(WEB_ACCOUNTS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            out.push((key.value().to_string(), value.value().to_vec()));
        }
        Ok(out)
    }

    /// Every web session: (hash of its secret, JSON) pairs.
    pub(crate) fn web_sessions(&self) -> Result<Vec<HashedValue>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = txn.open_table(WEB_SESSIONS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            out.push((key.value(), value.value().to_vec()));
        }
        Ok(out)
    }

    /// The web session whose secret hashes to `hash`, as JSON.
    pub(crate) fn web_session(&self, hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = txn.open_table(WEB_SESSIONS)?;
        Ok(table.get(hash)?.map(|value| value.value().to_vec()))
    }

    /// Writes (`Some`) or removes (`None`) web accounts and sessions, all in one transaction.
    /// Durable on return.
    pub(crate) fn write_web(
        &self,
        accounts: &[(&str, Option<Vec<u8>>)],
        sessions: &[([u8; 32], Option<Vec<u8>>)],
    ) -> Result<(), StoreError> {
        let txn = self.db()?.begin_write()?;
        {
            let mut table = txn.open_table(WEB_ACCOUNTS)?;
            for (name, value) in accounts {
                match value {
                    Some(value) => table.insert(*name, value.as_slice())?,
                    None => table.remove(*name)?,
                };
            }
            let mut table = txn.open_table(WEB_SESSIONS)?;
            for (hash, value) in sessions {
                match value {
                    Some(value) => table.insert(hash, value.as_slice())?,
                    None => table.remove(hash)?,
                };
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// The record with this id, if it is stored (only winning versions are).
    pub fn get_by_id(&self, id: RecordId) -> Result<Option<Record>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let records = txn.open_table(RECORDS)?;
        match records.get(id.0)? {
            Some(bytes) => decode(id, bytes.value()).map(Some),
            None => Ok(None),
        }
    }

    /// The stored records among `ids`, in order, until they reach `budget` bytes (at least one
    /// id is served): how many ids were served, and the bytes of those still stored (a version
    /// superseded meanwhile is skipped).
    pub fn fetch(
        &self,
        ids: &[RecordId],
        budget: usize,
    ) -> Result<(usize, Vec<Vec<u8>>), StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = txn.open_table(RECORDS)?;
        let mut records = Vec::new();
        let mut bytes = 0;
        let mut served = 0;
        for id in ids {
            if served > 0 && bytes >= budget {
                break;
            }
            served += 1;
            if let Some(stored) = table.get(id.0)? {
                bytes += stored.value().len();
                records.push(stored.value().to_vec());
            }
        }
        Ok((served, records))
    }

    /// Every live vouch: who vouched, and what it says.
    pub fn vouches(&self) -> Result<Vec<(AuthorKey, convene_protocol::Vouch)>, StoreError> {
        Ok(self
            .live_of_kind(convene_protocol::Kind::Vouch)?
            .into_iter()
            .filter_map(|(record, _)| match record.content() {
                Some(convene_protocol::Content::Vouch(vouch)) => {
                    Some((record.header().author, vouch.clone()))
                }
                _ => None,
            })
            .collect())
    }

    /// Every live record of `kind`, with its entry. A full scan of the latest table: for the
    /// few kinds of statements about authors (profiles, vouches), not for the directory.
    fn live_of_kind(
        &self,
        kind: convene_protocol::Kind,
    ) -> Result<Vec<(Record, LatestEntry)>, StoreError> {
        let txn = self.db()?.begin_read()?;
        live_of_kind(
            &txn.open_table(KINDS)?,
            &txn.open_table(LATEST)?,
            &txn.open_table(RECORDS)?,
            kind,
        )
    }

    /// The addresses of the records that name `network`.
    pub fn addresses_in(
        &self,
        network: &convene_protocol::NetworkId,
    ) -> Result<Vec<Address>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let places = txn.open_table(PLACES)?;
        let mut out = Vec::new();
        for entry in places.iter()? {
            let (key, value) = entry?;
            if crate::networks::decode_list(value.value()).contains(network)
                && let Some(address) = Address::from_key(key.value())
            {
                out.push(address);
            }
        }
        Ok(out)
    }

    /// The last domain checks.
    pub fn domain_checks(&self) -> Result<Vec<(AuthorKey, DomainCheck)>, StoreError> {
        self.decisions(DOMAINS)
    }

    /// Records the check of `author`'s domain. Durable on return.
    pub(crate) fn set_domain_check(
        &self,
        author: &AuthorKey,
        check: &DomainCheck,
    ) -> Result<(), StoreError> {
        self.decide(DOMAINS, author, Some(check)).map(|_| ())
    }

    /// Each author's organisation profile: its newest live organisation record.
    pub fn profiles(&self) -> Result<Vec<(AuthorKey, convene_protocol::Organisation)>, StoreError> {
        let mut newest: std::collections::HashMap<
            AuthorKey,
            (i64, convene_protocol::Organisation),
        > = std::collections::HashMap::new();
        for (record, entry) in self.live_of_kind(convene_protocol::Kind::Organisation)? {
            let Some(convene_protocol::Content::Organisation(profile)) = record.content() else {
                continue;
            };
            let author = record.header().author;
            if newest
                .get(&author)
                .is_none_or(|(at, _)| entry.created_at > *at)
            {
                newest.insert(author, (entry.created_at, profile.clone()));
            }
        }
        Ok(newest
            .into_iter()
            .map(|(author, (_, profile))| (author, profile))
            .collect())
    }

    /// The operator's pins.
    pub fn pins(&self) -> Result<Vec<(AuthorKey, Pin)>, StoreError> {
        self.decisions(PINS)
    }

    /// Pins `author` (or, with `None`, removes its pin; whether there was one). Durable on
    /// return. Pins are local decisions, not records: they do not pass the admission step.
    pub(crate) fn set_pin(
        &self,
        author: &AuthorKey,
        pin: Option<&Pin>,
    ) -> Result<bool, StoreError> {
        self.decide(PINS, author, pin)
    }

    /// The operator's blocks.
    pub fn blocks(&self) -> Result<Vec<(AuthorKey, Block)>, StoreError> {
        self.decisions(BLOCKS)
    }

    /// Blocks `author` and purges every record of it (or, with `None`, lifts the block);
    /// whether it was blocked before. Returns the addresses purged. Durable on return.
    pub(crate) fn set_block(
        &self,
        author: &AuthorKey,
        block: Option<&Block>,
    ) -> Result<(bool, Vec<Address>), StoreError> {
        let txn = self.db()?.begin_write()?;
        let had = Store::decide_in(&txn, BLOCKS, author, block)?;
        let mut purged = Vec::new();
        if block.is_some() {
            let mut latest = txn.open_table(LATEST)?;
            let mut records = txn.open_table(RECORDS)?;
            let mut keys = Vec::new();
            for entry in latest.range(author.as_bytes().as_slice()..)? {
                let (key, value) = entry?;
                if !key.value().starts_with(author.as_bytes()) {
                    break;
                }
                keys.push((key.value().to_vec(), LatestEntry::from_bytes(value.value())));
            }
            let mut places = txn.open_table(PLACES)?;
            let mut kinds = txn.open_table(KINDS)?;
            let mut history = txn.open_table(HISTORY)?;
            for (key, entry) in keys {
                if let Some(bytes) = records.remove(entry.version.id.0)? {
                    purged.push(decode(entry.version.id, bytes.value())?.address());
                }
                latest.remove(key.as_slice())?;
                kinds.remove(kind_key(&key).as_slice())?;
                places.remove(key.as_slice())?;
                forget_history(&mut history, &key)?;
            }
        }
        txn.commit()?;
        Ok((had, purged))
    }

    /// Every entry of a table of local decisions (author → JSON). An entry that does not parse
    /// (written by a newer version) is left out, not fatal.
    fn decisions<T: serde::de::DeserializeOwned>(
        &self,
        table: redb::TableDefinition<'_, [u8; 32], &[u8]>,
    ) -> Result<Vec<(AuthorKey, T)>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = txn.open_table(table)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            if let Ok(decision) = serde_json::from_slice::<T>(value.value()) {
                out.push((AuthorKey(key.value()), decision));
            }
        }
        Ok(out)
    }

    /// Sets or (with `None`) removes one local decision; whether there was one. Durable.
    fn decide<T: serde::Serialize>(
        &self,
        table: redb::TableDefinition<'_, [u8; 32], &[u8]>,
        author: &AuthorKey,
        decision: Option<&T>,
    ) -> Result<bool, StoreError> {
        let txn = self.db()?.begin_write()?;
        let had = Store::decide_in(&txn, table, author, decision)?;
        txn.commit()?;
        Ok(had)
    }

    fn decide_in<T: serde::Serialize>(
        txn: &redb::WriteTransaction,
        table: redb::TableDefinition<'_, [u8; 32], &[u8]>,
        author: &AuthorKey,
        decision: Option<&T>,
    ) -> Result<bool, StoreError> {
        let mut table = txn.open_table(table)?;
        let had = match decision {
            Some(decision) => {
                let bytes = serde_json::to_vec(decision).expect("plain data");
                table.insert(author.0, bytes.as_slice())?.is_some()
            }
            None => table.remove(author.0)?.is_some(),
        };
        Ok(had)
    }

    pub fn counts(&self) -> Result<StoreCounts, StoreError> {
        let txn = self.db()?.begin_read()?;
        let latest = txn.open_table(LATEST)?;
        let mut counts = StoreCounts {
            log: txn.open_table(LOG)?.len()?,
            ..StoreCounts::default()
        };
        for entry in latest.iter()? {
            let (_, value) = entry?;
            if LatestEntry::from_bytes(value.value()).retracted {
                counts.retracted += 1;
            } else {
                counts.live += 1;
            }
        }
        Ok(counts)
    }
}

/// Opens (or creates) a redb file and its tables. A file that is not a redb database, or that
/// redb cannot make sense of, is reported as damaged rather than handed to redb (which may
/// panic on some garbled files).
fn open_database(path: &Path) -> Result<Database, StoreError> {
    let damaged = |reason: String| StoreError::Damaged {
        path: path.to_path_buf(),
        reason,
    };
    if let Ok(mut file) = std::fs::File::open(path) {
        use std::io::Read;
        let mut magic = [0u8; 4];
        let read = file.read(&mut magic).unwrap_or(0);
        if read > 0 && (read < magic.len() || magic != REDB_MAGIC) {
            return Err(damaged("it does not start like a redb database".into()));
        }
    }
    let opened = quietly(|| -> Result<Database, StoreError> {
        let db = redb::Builder::new()
            .set_cache_size(STORE_CACHE_BYTES)
            .create(path)
            .map_err(|error| match error {
                redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked,
                redb::DatabaseError::Storage(redb::StorageError::Corrupted(reason)) => {
                    damaged(reason)
                }
                other => StoreError::Redb(other.into()),
            })?;
        let txn = db.begin_write()?;
        txn.open_table(RECORDS)?;
        txn.open_table(LATEST)?;
        txn.open_table(LOG)?;
        txn.open_table(PINS)?;
        txn.open_table(BLOCKS)?;
        txn.open_table(DOMAINS)?;
        txn.open_table(PLACES)?;
        txn.open_table(JOINED)?;
        txn.open_table(REQUESTS)?;
        txn.open_table(WEB_ACCOUNTS)?;
        txn.open_table(WEB_SESSIONS)?;
        txn.open_table(WATCHES)?;
        txn.open_table(HISTORY)?;
        {
            let latest = txn.open_table(LATEST)?;
            let mut kinds = txn.open_table(KINDS)?;
            if kinds.len()? != latest.len()? {
                kinds.retain(|_, ()| false)?;
                for entry in latest.iter()? {
                    let (key, _) = entry?;
                    kinds.insert(kind_key(key.value()).as_slice(), ())?;
                }
            }
        }
        txn.commit()?;
        Ok(db)
    });
    match opened {
        Ok(result) => result,
        Err(panic) => Err(damaged(format!(
            "redb could not read it: {}",
            panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "it panicked".into())
        ))),
    }
}

/// Runs `work`, turning a panic into an error without printing it. (The panic hook is
/// process-wide: a panic on another thread meanwhile would go unprinted too; opening a store
/// happens before the node starts its other threads.)
fn quietly<T>(work: impl FnOnce() -> T + std::panic::UnwindSafe) -> std::thread::Result<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(work);
    std::panic::set_hook(hook);
    result
}

/// The latest version at an address key, as `txn` sees it (a retraction included).
fn latest_in(txn: &redb::ReadTransaction, key: &[u8]) -> Result<Option<Record>, StoreError> {
    let Some(entry) = txn.open_table(LATEST)?.get(key)? else {
        return Ok(None);
    };
    let id = LatestEntry::from_bytes(entry.value()).version.id;
    let records = txn.open_table(RECORDS)?;
    let bytes = records.get(id.0)?.ok_or_else(|| StoreError::Corrupt {
        id,
        source: RecordError::Truncated {
            what: "the record (missing from the records table)",
        },
    })?;
    decode(id, bytes.value()).map(Some)
}

/// The `history_v1` keys of an address key's versions lie in `start..end`.
fn history_bounds(address_key: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut start = Vec::with_capacity(address_key.len() + 9);
    start.extend_from_slice(address_key);
    start.push(0);
    let mut end = start.clone();
    *end.last_mut().expect("pushed") = 1;
    (start, end)
}

/// Keeps a superseded version in `history_v1`, and drops the oldest beyond
/// [`HISTORY_VERSIONS`].
fn keep_superseded(
    history: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    address_key: &[u8],
    seq: u64,
    bytes: &[u8],
) -> Result<(), StoreError> {
    let (start, end) = history_bounds(address_key);
    // Seq, then the id's complement: two versions with one seq (an equivocation) are both
    // kept, in version order (on equal seq the lower id wins, so it sorts later).
    let mut key = start.clone();
    key.extend_from_slice(&seq.to_be_bytes());
    key.extend(RecordId::of(bytes).0.iter().map(|byte| !byte));
    history.insert(key.as_slice(), bytes)?;
    let mut kept = Vec::new();
    for entry in history.range(start.as_slice()..end.as_slice())? {
        kept.push(entry?.0.value().to_vec());
    }
    for old in &kept[..kept.len().saturating_sub(HISTORY_VERSIONS)] {
        history.remove(old.as_slice())?;
    }
    Ok(())
}

/// Deletes every superseded version kept for an address.
fn forget_history(
    history: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    address_key: &[u8],
) -> Result<(), StoreError> {
    let (start, end) = history_bounds(address_key);
    history.retain_in(start.as_slice()..end.as_slice(), |_, _| false)?;
    Ok(())
}

/// The `kinds_v1` key of an address key (author 32 bytes ‖ kind ‖ slug): its kind first.
fn kind_key(address_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(address_key.len() + 1);
    key.push(address_key.get(32).copied().unwrap_or(0));
    key.extend_from_slice(address_key);
    key
}

fn live_of_kind(
    kinds: &impl ReadableTable<&'static [u8], ()>,
    latest: &impl ReadableTable<&'static [u8], [u8; 49]>,
    records: &impl ReadableTable<[u8; 32], &'static [u8]>,
    kind: convene_protocol::Kind,
) -> Result<Vec<(Record, LatestEntry)>, StoreError> {
    let mut out = Vec::new();
    let start = [kind as u8];
    for entry in kinds.range(start.as_slice()..)? {
        let (key, _) = entry?;
        let Some((&first, address_key)) = key.value().split_first() else {
            continue;
        };
        if first != kind as u8 {
            break;
        }
        let Some(value) = latest.get(address_key)? else {
            continue;
        };
        let entry = LatestEntry::from_bytes(value.value());
        if entry.retracted {
            continue;
        }
        if let Some(bytes) = records.get(entry.version.id.0)? {
            out.push((decode(entry.version.id, bytes.value())?, entry));
        }
    }
    Ok(out)
}

fn successions_of(
    records: Vec<(Record, LatestEntry)>,
) -> Vec<(AuthorKey, convene_protocol::Succession)> {
    records
        .into_iter()
        .filter_map(|(record, _)| match record.content() {
            Some(convene_protocol::Content::Succession(succession)) => {
                Some((record.header().author, succession.clone()))
            }
            _ => None,
        })
        .collect()
}

fn delegations_of(
    records: Vec<(Record, LatestEntry)>,
) -> Vec<(AuthorKey, convene_protocol::Delegation)> {
    records
        .into_iter()
        .filter_map(|(record, _)| match record.content() {
            Some(convene_protocol::Content::Delegation(delegation)) => {
                Some((record.header().author, delegation.clone()))
            }
            _ => None,
        })
        .collect()
}

fn charters_of(records: Vec<(Record, LatestEntry)>) -> Vec<HeldCharter> {
    records
        .into_iter()
        .filter_map(|(record, _)| match record.content() {
            Some(convene_protocol::Content::Charter(charter)) => Some(HeldCharter {
                id: record.id(),
                author: record.header().author,
                charter: charter.clone(),
            }),
            _ => None,
        })
        .collect()
}

fn bindings_of(records: Vec<(Record, LatestEntry)>) -> Vec<(AuthorKey, convene_protocol::Binding)> {
    records
        .into_iter()
        .filter_map(|(record, _)| match record.content() {
            Some(convene_protocol::Content::Binding(binding)) => {
                Some((record.header().author, binding.clone()))
            }
            _ => None,
        })
        .collect()
}

/// A table entry's key and value bytes.
/// A key hash and its value, as the web sessions table holds them.
pub(crate) type HashedValue = ([u8; 32], Vec<u8>);
pub(crate) type KeyValue = (Vec<u8>, Vec<u8>);

/// Every charter version held and every live binding.
/// Successions with their authors, and delegations with their organisations.
pub(crate) type SuccessionState = (
    Vec<(AuthorKey, convene_protocol::Succession)>,
    Vec<(AuthorKey, convene_protocol::Delegation)>,
);

pub(crate) type CharterState = (
    Vec<HeldCharter>,
    Vec<(AuthorKey, convene_protocol::Binding)>,
    Vec<(AuthorKey, convene_protocol::Delegation)>,
);

/// Whether records of this kind byte name networks (experiments, practitioners, lessons).
fn carries_networks(kind: u8) -> bool {
    [
        convene_protocol::Kind::Experiment,
        convene_protocol::Kind::Practitioner,
        convene_protocol::Kind::Lesson,
        convene_protocol::Kind::Featured,
        convene_protocol::Kind::Contact,
    ]
    .iter()
    .any(|k| *k as u8 == kind)
}

fn decode(id: RecordId, bytes: &[u8]) -> Result<Record, StoreError> {
    Record::from_stored_bytes(bytes.to_vec()).map_err(|source| StoreError::Corrupt { id, source })
}

/// One write transaction. Records must already be verified (`Record::from_bytes` or signed here).
pub(crate) struct Batch {
    txn: redb::WriteTransaction,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Batch")
    }
}

impl Batch {
    /// Offers records, in order, to the admission step and writes the ones it accepts; each
    /// sees the ones before it. One outcome per record.
    pub(crate) fn admit_all(
        &mut self,
        incoming: &[Record],
        source: Source,
        policy: &Policy,
    ) -> Result<Vec<Outcome>, StoreError> {
        let mut latest = self.txn.open_table(LATEST)?;
        let mut records = self.txn.open_table(RECORDS)?;
        let mut log = self.txn.open_table(LOG)?;
        let mut places = self.txn.open_table(PLACES)?;
        let mut kinds = self.txn.open_table(KINDS)?;
        let mut history = self.txn.open_table(HISTORY)?;
        let mut position = log.len()?;
        let mut outcomes = Vec::with_capacity(incoming.len());
        for record in incoming {
            let key = record.address().to_key();
            let held = latest
                .get(key.as_slice())?
                .map(|entry| LatestEntry::from_bytes(entry.value()));
            let admission = admission::admit(
                record,
                held.map(|held| Held {
                    version: held.version,
                    retracted: held.retracted,
                }),
                source,
                policy,
            );
            match admission {
                Admission::Accept => {}
                Admission::Ignore(Ignored::Duplicate) => {
                    outcomes.push(Outcome::Duplicate);
                    continue;
                }
                Admission::Ignore(Ignored::Stale { held, retracted }) => {
                    outcomes.push(Outcome::Stale {
                        stored: held,
                        retracted,
                    });
                    continue;
                }
                Admission::Ignore(Ignored::Elsewhere(reason)) => {
                    outcomes.push(Outcome::Elsewhere(reason));
                    continue;
                }
                Admission::Reject(reason) => {
                    outcomes.push(Outcome::Refused(reason));
                    continue;
                }
            }
            // A retraction keeps the networks of what it retracts: the tombstone goes where
            // the record went.
            if !record.is_retraction() {
                match crate::networks::named_networks(record) {
                    Some(networks) if !networks.is_empty() => {
                        let list = crate::networks::encode_list(networks);
                        places.insert(key.as_slice(), list.as_slice())?;
                    }
                    _ => {
                        places.remove(key.as_slice())?;
                    }
                }
            }
            if let Some(held) = held {
                let superseded = records
                    .remove(held.version.id.0)?
                    .map(|bytes| bytes.value().to_vec());
                if record.is_retraction() {
                    forget_history(&mut history, &key)?;
                } else if let (Some(bytes), false) = (superseded, held.retracted) {
                    keep_superseded(&mut history, &key, held.version.seq, &bytes)?;
                }
            }
            let version = record.version();
            records.insert(version.id.0, record.bytes())?;
            if held.is_none() {
                kinds.insert(kind_key(&key).as_slice(), ())?;
            }
            latest.insert(key.as_slice(), LatestEntry::of(record).to_bytes())?;
            log.insert(position, version.id.0)?;
            position += 1;
            outcomes.push(Outcome::Stored {
                replaced: held.map(|held| held.version.id),
            });
        }
        Ok(outcomes)
    }

    /// The live records of `kind` as this batch sees them (its own writes included).
    fn live(&self, kind: convene_protocol::Kind) -> Result<Vec<(Record, LatestEntry)>, StoreError> {
        live_of_kind(
            &self.txn.open_table(KINDS)?,
            &self.txn.open_table(LATEST)?,
            &self.txn.open_table(RECORDS)?,
            kind,
        )
    }

    /// Every succession and live delegation as this batch sees them (its own writes included).
    pub(crate) fn successions_and_delegations(&self) -> Result<SuccessionState, StoreError> {
        use convene_protocol::Kind;
        Ok((
            successions_of(self.live(Kind::Succession)?),
            delegations_of(self.live(Kind::Delegation)?),
        ))
    }

    /// Every charter version, live binding and delegation as this batch sees them (its own writes
    /// included), for placing records that arrive with the charter that admits them.
    pub(crate) fn charters_and_bindings(&self) -> Result<CharterState, StoreError> {
        use convene_protocol::Kind;
        Ok((
            charters_of(self.live(Kind::Charter)?),
            bindings_of(self.live(Kind::Binding)?),
            delegations_of(self.live(Kind::Delegation)?),
        ))
    }

    /// The latest-version entry at `address` as this batch sees it.
    pub fn latest(&self, address: &Address) -> Result<Option<LatestEntry>, StoreError> {
        let latest = self.txn.open_table(LATEST)?;
        Ok(latest
            .get(address.to_key().as_slice())?
            .map(|entry| LatestEntry::from_bytes(entry.value())))
    }

    /// The latest record at `address` as this batch sees it.
    pub fn get(&self, address: &Address) -> Result<Option<Record>, StoreError> {
        let Some(entry) = self.latest(address)? else {
            return Ok(None);
        };
        let records = self.txn.open_table(RECORDS)?;
        let id = entry.version.id;
        match records.get(id.0)? {
            Some(bytes) => decode(id, bytes.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Makes the batch durable (fsync) before returning.
    pub fn commit(self) -> Result<(), StoreError> {
        self.txn.commit()?;
        Ok(())
    }

    /// Commits the batch without waiting for the disk: later transactions see it, and it
    /// becomes durable with the next [`Batch::commit`] or [`Store::sync`]. A crash before then
    /// rolls the store back to the last durable commit, whole.
    pub fn commit_unsynced(mut self) -> Result<(), StoreError> {
        self.txn
            .set_durability(redb::Durability::None)
            .map_err(redb::Error::from)?;
        self.txn.commit()?;
        Ok(())
    }
}
