//! A Convene node: the record store (redb, the source of truth), the search index kept in step
//! with it, and the operations the `convene` command offers on top of them: publish, retract,
//! search, people, similar, list, export, import and reindex.
//!
//! A [`Node`] owns both the store and the index. Every record enters through one write path,
//! [`Node::admit`]: the admission step ([`admission::admit`]) decides, the store commits (durable
//! on return), then the index follows from the store's arrival log and catches up on the next
//! open if the process died in between. See `docs/ARCHITECTURE.md`, "The write path".

pub mod accounts;
pub mod admission;
pub mod api;
mod charters;
mod client;
pub mod cohort;
pub mod daemon;
pub mod digest;
mod directory;
pub mod domains;
mod draft;
mod fsutil;
pub mod history;
mod home;
pub mod keys;
pub mod limits;
pub mod networks;
pub mod open_data;
pub mod pages;
mod people;
mod progress;
mod publish;
pub mod recover;
mod settings;
mod store;
mod tables;
mod transfer;
pub mod trust;
pub mod watches;
pub mod wider;

use std::path::Path;

use convene_protocol::{Address, AuthorKey, Content, Date, Kind, NetworkId, Record, RecordError};
use convene_search::{Hit, Index, IndexError, Query, SimilarQuery};

pub use crate::admission::{Policy, Source};
pub use crate::charters::{
    AskDelegation, AskToJoin, Member, NetworkChange, NetworkView, PendingJoin,
};
pub use crate::client::Client;
pub use crate::client::open_directory;
pub use crate::directory::{Directory, Local};
pub use crate::draft::{Draft, DraftError, DraftFormat};
pub use crate::home::layout::{INDEX_DIR, STORE_FILE};
pub use crate::home::{Config, Home, HomeError, layout};

/// Writes a new file readable by its owner only (mode 0600), durably; refuses to overwrite
/// one (a key or a recovery kit is never replaced by accident).
pub fn write_secret_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    fsutil::write_file(
        path,
        contents,
        fsutil::Access::Secret,
        fsutil::Existing::Refuse,
    )
}
pub use crate::people::{Person, Reason};
pub use crate::progress::{NoProgress, Progress};
pub use crate::publish::{PublishOutcome, Published, Publisher, SimilarCheck, next_seq};
pub use crate::settings::NodeSettings;
pub use crate::store::{HISTORY_VERSIONS, LatestEntry, Outcome, Store, StoreCounts, StoreError};
pub use crate::transfer::{
    Admitted, CsvChunk, CsvImport, CsvMapping, ExportLine, ImportReport, LineRead, Rejection,
    RowResult, SimilarRow, csv_chunks, export_store, read_line_bounded,
};
pub use crate::trust::{Found, Trust};
pub use convene_search::{self as search, Snippet};

/// How the node indexes in bulk: catching up, rebuilding, after an import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub struct Bulk {
    /// Log entries applied to the index per store read while catching up or rebuilding.
    pub chunk: usize,
    /// Log entries a replay indexes between index commits ([`Node::replay_log`]).
    pub commit_every: u64,
    /// Records a bulk write adds before the index is merged after it
    /// ([`Node::merge_index_after_bulk`]).
    pub merge_after: u64,
}

impl Default for Bulk {
    fn default() -> Bulk {
        Bulk {
            chunk: 2_000,
            commit_every: 32_000,
            merge_after: 20_000,
        }
    }
}

/// An import's store commits per durable one (see [`Node::unsynced_import`]): 32 batches of
/// 1,024 records, so one fsync per 32,768 records instead of one per 1,024.
const IMPORT_SYNC_EVERY: u32 = 32;

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
    #[error("{address} was refused by this node's admission policy: {reason}")]
    Refused { address: Address, reason: String },
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
    /// A value given is not acceptable; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// Writing to the store failed (a full disk, an I/O error); nothing was stored.
    #[error("{0}")]
    Write(String),
    /// The running node refused or failed a request.
    #[error("{0}")]
    Api(String),
    /// A node runs on the home (it holds the store) but its API does not answer.
    #[error(
        "a node is running on this home, but its local API at {api} is not answering \
         ({reason}). Look at the node's log; if it is stuck, restart it (for a service: \
         `systemctl restart convene-node`)"
    )]
    NodeNotAnswering { api: String, reason: String },
}

/// Below this many free bytes a disk counts as full: write failures are put down to it, and a
/// degraded node waits for more before it reopens its store.
const NEARLY_FULL: u64 = 1024 * 1024;

/// A store and its index.
#[derive(Debug)]
pub struct Node {
    store: Store,
    index: Index,
    data_dir: std::path::PathBuf,
    write_failure: Option<String>,
    /// The local rules of the admission step.
    policy: Policy,
    /// This node's own identity, if it has one: its records are trusted as its own.
    owner: Option<AuthorKey>,
    /// Authors' names as this node knows them; rebuilt from the store after an organisation
    /// profile or a pin changes.
    names: std::sync::Mutex<Option<(Date, std::sync::Arc<trust::Names>)>>,
    /// Authors the operator blocked: the admission step refuses their records.
    blocked: std::sync::Arc<std::collections::HashSet<AuthorKey>>,
    /// The networks as this node sees them; rebuilt from the store after a charter, a binding
    /// or a join changes.
    networks: std::sync::Mutex<Option<(Date, std::sync::Arc<networks::Networks>)>>,
    networks_epoch: std::sync::atomic::AtomicU64,
    /// Goes up each time an organisation profile is stored (its domain may want a check).
    profiles_epoch: std::sync::atomic::AtomicU64,
    /// The verdicts on keys whose word has ended; rebuilt after a succession or a delegation
    /// arrives.
    successions: std::sync::Mutex<Option<std::sync::Arc<convene_protocol::keys::Successions>>>,
    /// Store commits since the last durable one, while an import leaves most of them unsynced
    /// (see [`Node::unsynced_import`]); `None` otherwise, when every commit is durable.
    unsynced_commits: Option<u32>,
    /// A durable commit happened during an unsynced import since the import last looked: the
    /// index may be committed up to it (see [`Node::commit_index_if_synced`]).
    synced_during_import: bool,
    /// The write path leaves the index uncommitted for the owner to commit on its own schedule
    /// (the daemon's store actor: before reads and when quiet); otherwise every write commits it.
    defer_index_commits: bool,
    bulk: Bulk,
}

/// Opens the index in `dir`; an index that cannot be opened (deleted or garbled files) is
/// derived state, so it is moved out of the way and a new one made, to be rebuilt from the
/// store. Only a lock held by another process is an error.
fn open_index(dir: &Path) -> Result<Index, NodeError> {
    match Index::open(dir) {
        Ok(index) => Ok(index),
        Err(IndexError::Locked(reason)) => Err(IndexError::Locked(reason).into()),
        Err(error) => {
            tracing::warn!(
                "the search index in {} is damaged ({error}); rebuilding it from the store",
                dir.display()
            );
            std::fs::remove_dir_all(dir).map_err(|source| NodeError::Io {
                path: dir.display().to_string(),
                source,
            })?;
            Ok(Index::open(dir)?)
        }
    }
}

/// What a compaction did ([`Node::compact`], [`compact`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compaction {
    /// The store file's size before and after, in bytes.
    pub store_bytes: (u64, u64),
    /// The search index's segments before and after the merge; `None` when the index could
    /// not be read, so was left for the node to rebuild from the store when it next opens.
    pub index_segments: Option<(usize, usize)>,
}

/// Compacts the store and merges the search index of the stopped node whose data is in
/// `data_dir` (what `convene compact` runs). A store that is missing is an error; an index
/// that is damaged or of an older schema is left alone, as opening the node rebuilds it.
pub fn compact(data_dir: &Path) -> Result<Compaction, NodeError> {
    let mut store = Store::open_existing(&data_dir.join(STORE_FILE))?;
    let store_bytes = store.compact()?;
    drop(store);
    let index_segments = match Index::open(&data_dir.join(INDEX_DIR)) {
        Ok(mut index) => {
            let segments = index.merge_into_one()?;
            index.close()?;
            Some(segments)
        }
        Err(IndexError::Locked(reason)) => return Err(IndexError::Locked(reason).into()),
        Err(error) => {
            tracing::warn!("the search index was not merged, as it could not be read: {error}");
            None
        }
    };
    Ok(Compaction {
        store_bytes,
        index_segments,
    })
}

/// See [`Node::describe_write_failure`].
pub fn describe_write_failure(dir: &Path, error: &NodeError) -> String {
    if let NodeError::Write(described) = error {
        return described.clone();
    }
    let free = fs4::available_space(dir).ok();
    // redb's words for "an earlier write failed", in ours.
    let text = error.to_string().replace(
        "Previous I/O error occurred. Please close and re-open the database.",
        "the store refuses writes until it is reopened after an earlier failure",
    );
    let full = free.is_some_and(|free| free < NEARLY_FULL)
        || text.contains("No space left")
        || text.contains("os error 28");
    match (full, free) {
        (true, Some(free)) => format!(
            "the disk holding {} is full ({} free): {text}. Free some space; a running node \
             recovers by itself",
            dir.display(),
            human_bytes(free)
        ),
        (_, Some(free)) => format!(
            "writing to {} failed ({} free there): {text}",
            dir.display(),
            human_bytes(free)
        ),
        (_, None) => format!("writing to {} failed: {text}", dir.display()),
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The current unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A unix time as RFC 3339 (`2026-11-26T15:29:18Z`).
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

impl Node {
    /// Opens the store and index in `data_dir`, creating an empty store if there is none (for a
    /// new home), and brings the index up to date.
    pub fn create(data_dir: &Path) -> Result<Node, NodeError> {
        Node::open_with(data_dir, true, &NoProgress)
    }

    /// Opens an existing home's store and its index, and brings the index up to date. A missing
    /// or empty store is refused ([`StoreError::Missing`]): that is a disk that did not mount or
    /// a lost file, not a new home. A damaged index is rebuilt from the store.
    pub fn open(data_dir: &Path) -> Result<Node, NodeError> {
        Node::open_with(data_dir, false, &NoProgress)
    }

    /// [`Node::open`] (or, with `create`, [`Node::create`]) showing the progress of any index
    /// rebuild or catch-up on `progress`.
    pub fn open_with(
        data_dir: &Path,
        create: bool,
        progress: &dyn Progress,
    ) -> Result<Node, NodeError> {
        std::fs::create_dir_all(data_dir).map_err(|source| NodeError::Io {
            path: data_dir.display().to_string(),
            source,
        })?;
        let store_path = data_dir.join(STORE_FILE);
        let store = if create {
            Store::open(&store_path)?
        } else {
            Store::open_existing(&store_path)?
        };
        tracing::info!(path = %store_path.display(), "opened the store");
        let index = open_index(&data_dir.join(INDEX_DIR))?;
        let mut node = Node {
            store,
            index,
            data_dir: data_dir.to_path_buf(),
            write_failure: None,
            policy: Policy::default(),
            owner: None,
            names: std::sync::Mutex::new(None),
            blocked: Default::default(),
            networks: std::sync::Mutex::new(None),
            networks_epoch: Default::default(),
            profiles_epoch: Default::default(),
            successions: std::sync::Mutex::new(None),
            defer_index_commits: false,
            unsynced_commits: None,
            synced_during_import: false,
            bulk: Bulk::default(),
        };
        node.load_blocks()?;
        // A purge interrupted by a crash is finished here (the successions are in the store).
        node.enforce_successions()?;
        if let Err(error) = node.catch_up(progress) {
            if let NodeError::Store(_) = error {
                return Err(error);
            }
            // Reads from the store still work; the index catches up on a later open.
            tracing::warn!(
                "the search index could not be brought up to date, so searches may miss \
                 recent records: {}",
                node.describe_write_failure(&error)
            );
            node.index.discard_uncommitted()?;
        }
        Ok(node)
    }

    /// Finishes background index work (segment merges) and closes the node. Call it before a
    /// process that wrote exits; dropping the node instead is safe but leaves merging undone.
    pub fn close(self) -> Result<(), NodeError> {
        self.index.close()?;
        Ok(())
    }

    /// Compacts the store file ([`Store::compact`]) and merges the search index into one
    /// segment ([`convene_search::Index::merge_into_one`]).
    pub fn compact(&mut self) -> Result<Compaction, NodeError> {
        let store_bytes = self.store.compact()?;
        let index_segments = Some(self.index.merge_into_one()?);
        Ok(Compaction {
            store_bytes,
            index_segments,
        })
    }

    /// The store, for reading: writes go through [`Node::admit`].
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Names this node's own identity (its records' trust path says "own"; its vouches count).
    pub fn set_owner(&mut self, author: AuthorKey) {
        self.owner = Some(author);
        self.forget_names();
    }

    /// This node's own identity, if [`Node::set_owner`] named it.
    pub fn owner(&self) -> Option<AuthorKey> {
        self.owner
    }

    /// What this node knows of authors' names (profiles, pins, vouches), built once until one
    /// changes or the day does (vouches expire).
    fn names(&self) -> Result<std::sync::Arc<trust::Names>, NodeError> {
        let today = Date::from_unix(now());
        let mut cached = self.names.lock().expect("not poisoned");
        if let Some((day, names)) = &*cached
            && *day == today
        {
            return Ok(names.clone());
        }
        let successions = self.successions()?;
        let delegations = keys::counting_delegations(self.store.delegations()?, &successions);
        let profiles = self.store.profiles()?;
        let profile_domains = profiles
            .iter()
            .filter_map(|(author, profile)| Some((*author, profile.domain.clone()?)))
            .collect();
        let names = std::sync::Arc::new(trust::Names::from_evidence(trust::Evidence {
            profiles: profiles
                .into_iter()
                .map(|(author, profile)| (author, profile.name))
                .collect(),
            pins: self.store.pins()?,
            vouches: self.store.vouches()?,
            owner: self.owner,
            today: Some(today),
            profile_domains,
            domain_checks: self.store.domain_checks()?,
            now: Some(now()),
            people: self.delegates_names(&delegations)?,
            delegations,
            successions,
        }));
        *cached = Some((today, names.clone()));
        Ok(names)
    }

    /// The names on the practitioner records of the delegates of `delegations`.
    fn delegates_names(
        &self,
        delegations: &[(AuthorKey, convene_protocol::Delegation)],
    ) -> Result<Vec<(AuthorKey, String)>, NodeError> {
        let mut out = Vec::new();
        for delegate in dedup(delegations.iter().map(|(_, d)| d.delegate).collect()) {
            self.store.for_each(Some(&delegate), |record| {
                if let Some(Content::Practitioner(person)) = record.content() {
                    out.push((delegate, person.name.clone()));
                }
                true
            })?;
        }
        Ok(out)
    }

    fn forget_names(&self) {
        *self.names.lock().expect("not poisoned") = None;
    }

    /// How this node knows who `author` is: the trust path.
    pub fn trust(&self, author: &AuthorKey) -> Result<trust::Trust, NodeError> {
        Ok(self.names()?.assess(author))
    }

    /// The trust paths of several authors at once (one look at the names).
    pub fn trust_all(
        &self,
        authors: impl IntoIterator<Item = AuthorKey>,
    ) -> Result<std::collections::HashMap<AuthorKey, trust::Trust>, NodeError> {
        let names = self.names()?;
        Ok(authors
            .into_iter()
            .map(|author| (author, names.assess(&author)))
            .collect())
    }

    /// The operator's pins.
    pub fn pins(&self) -> Result<Vec<(AuthorKey, trust::Pin)>, NodeError> {
        Ok(self.store.pins()?)
    }

    /// Pins `author` as `pin.name` (`None`: removes the pin; whether there was one), then
    /// re-indexes the author's records under the name this node now knows it by.
    pub fn set_pin(
        &mut self,
        author: &AuthorKey,
        pin: Option<&trust::Pin>,
    ) -> Result<bool, NodeError> {
        if let Some(pin) = pin {
            trust::check_pin(pin).map_err(NodeError::Invalid)?;
        }
        let had = self
            .store
            .set_pin(author, pin)
            .map_err(|e| self.write_failed(e.into()))?;
        // The author's name changes, and so may the names its vouches give.
        let before = self.names()?.vouched_by(author);
        self.forget_names();
        let after = self.names()?.vouched_by(author);
        self.reindex_author(author)?;
        for subject in dedup([before, after].concat()) {
            self.reindex_author(&subject)?;
        }
        self.commit_index()?;
        Ok(had)
    }

    /// Authors whose profile names a domain due for a check: never checked, or not for
    /// `recheck_secs` (0: all of them), or under another domain.
    pub fn domains_due(&self, recheck_secs: i64) -> Result<Vec<(AuthorKey, String)>, NodeError> {
        Ok(self.names()?.domains_due(now(), recheck_secs))
    }

    /// Records a check of `author`'s domain (made off this thread: it is network I/O), and
    /// re-indexes the author under the name it now has.
    pub fn record_domain_check(
        &mut self,
        author: &AuthorKey,
        check: &domains::DomainCheck,
    ) -> Result<(), NodeError> {
        self.store
            .set_domain_check(author, check)
            .map_err(|e| self.write_failed(e.into()))?;
        self.forget_names();
        self.reindex_author(author)?;
        self.commit_index()?;
        Ok(())
    }

    /// The operator's blocks.
    pub fn blocks(&self) -> Result<Vec<(AuthorKey, trust::Block)>, NodeError> {
        Ok(self.store.blocks()?)
    }

    /// Blocks `author`: purges every record of it from the store and the index, and refuses
    /// its records from every source from now on (`None`: lifts the block; what was purged
    /// comes back only if offered again). Whether it was blocked before, and how many records
    /// were purged.
    pub fn set_block(
        &mut self,
        author: &AuthorKey,
        block: Option<&trust::Block>,
    ) -> Result<(bool, usize), NodeError> {
        if let Some(block) = block {
            trust::check_block(block).map_err(NodeError::Invalid)?;
        }
        let (had, purged) = self
            .store
            .set_block(author, block)
            .map_err(|e| self.write_failed(e.into()))?;
        self.load_blocks()?;
        for address in &purged {
            self.index.remove(address)?;
        }
        self.forget_names();
        self.commit_index()?;
        Ok((had, purged.len()))
    }

    fn load_blocks(&mut self) -> Result<(), NodeError> {
        let blocked = self.store.blocks()?.into_iter().map(|(author, _)| author);
        self.blocked = std::sync::Arc::new(blocked.collect());
        Ok(())
    }

    /// Hands every record of `author` to the index writer again (its name changed).
    fn reindex_author(&mut self, author: &AuthorKey) -> Result<(), NodeError> {
        let mut records = Vec::new();
        self.store.for_each(Some(author), |record| {
            records.push(record);
            true
        })?;
        let names = self.names()?;
        let networks = self.networks()?;
        for record in &records {
            self.index_one(record, &names, &networks)?;
        }
        Ok(())
    }

    /// Hands one record to the index writer under its author's name, or removes it from the
    /// index if it counts in none of the networks it names (a removed member's).
    fn index_one(
        &mut self,
        record: &Record,
        names: &trust::Names,
        networks: &networks::Networks,
    ) -> Result<(), NodeError> {
        let author = record.header().author;
        if let Some(named) = networks::named_networks(record)
            && !networks.visible(&author, named)
        {
            self.index.remove(&record.address())?;
            return Ok(());
        }
        let successions = self.successions()?;
        if !successions.is_empty() {
            // A successor's record stands in for its predecessors' at the same kind and slug.
            if self.successor_record(&record.address())?.is_some() {
                self.index.remove(&record.address())?;
                return Ok(());
            }
            for predecessor in successions.predecessors(&author) {
                self.index.remove(&Address {
                    author: predecessor,
                    ..record.address()
                })?;
            }
        }
        self.index.apply(record, names.name_of(&author))?;
        Ok(())
    }

    /// The networks as this node sees them: charters held, networks joined, bindings.
    /// Built once until one of them changes or the day does (delegations expire).
    pub fn networks(&self) -> Result<std::sync::Arc<networks::Networks>, NodeError> {
        let today = Date::from_unix(now());
        let mut cached = self.networks.lock().expect("not poisoned");
        if let Some((day, networks)) = &*cached
            && *day == today
        {
            return Ok(networks.clone());
        }
        let successions = self.successions()?;
        let networks = std::sync::Arc::new(
            networks::Networks::new(
                self.store.charters()?,
                self.store.bindings()?,
                self.store.joined()?,
            )
            .with_featured(self.store.featured()?)
            .with_delegations(
                keys::counting_delegations(self.store.delegations()?, &successions),
                today,
            )
            .with_successions(&successions),
        );
        *cached = Some((today, networks.clone()));
        Ok(networks)
    }

    /// The verdicts on keys whose word has ended (revoked, rotated, recovered).
    pub fn successions(
        &self,
    ) -> Result<std::sync::Arc<convene_protocol::keys::Successions>, NodeError> {
        let mut cached = self.successions.lock().expect("not poisoned");
        if let Some(successions) = &*cached {
            return Ok(successions.clone());
        }
        let successions = std::sync::Arc::new(keys::successions(
            &self.store.successions()?,
            &self.store.delegations()?,
        ));
        *cached = Some(successions.clone());
        Ok(successions)
    }

    /// Purges from the store and the index what keys whose word has ended signed beyond their
    /// cut-off (what arrived before the succession did). Returns how many records went.
    pub fn enforce_successions(&mut self) -> Result<usize, NodeError> {
        let successions = self.successions()?;
        let mut purged = 0;
        for verdict in successions.verdicts() {
            let gone = self
                .store
                .purge_unkept(&verdict.subject, |id| verdict.keeps(id))
                .map_err(|e| self.write_failed(e.into()))?;
            for address in &gone {
                self.index.remove(address)?;
            }
            purged += gone.len();
        }
        if purged > 0 {
            tracing::info!(purged, "purged records signed beyond a key's cut-off");
            self.commit_index()?;
        }
        Ok(purged)
    }

    fn forget_networks(&self) {
        *self.networks.lock().expect("not poisoned") = None;
        self.networks_epoch
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Goes up each time an organisation profile is stored: a running node then checks the
    /// domains not checked yet, without waiting for its hourly round.
    pub fn profiles_epoch(&self) -> u64 {
        self.profiles_epoch
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Goes up each time the networks view may have changed (a charter, a binding, a join):
    /// a running node then syncs again with its peers, since what they may send it changed.
    pub fn networks_epoch(&self) -> u64 {
        self.networks_epoch
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Joins `network` (this node replicates its records from now on), or with `None` leaves
    /// it (records held stay; no more arrive). Whether it was joined before.
    pub fn set_joined(
        &mut self,
        network: &NetworkId,
        joined: Option<&networks::Joined>,
    ) -> Result<bool, NodeError> {
        if network.is_commons() {
            return Err(NodeError::Invalid(
                "every node keeps the commons; join or leave a convened network".into(),
            ));
        }
        let had = self
            .store
            .set_joined(network, joined)
            .map_err(|e| self.write_failed(e.into()))?;
        self.forget_networks();
        Ok(had)
    }

    /// What a sync with `peer` (a libp2p peer id) reconciles: the set that peer may see,
    /// within `scope` — what the peer asked for, or (with `None`, as the initiator) the
    /// networks this node replicates.
    pub fn sync_plan(
        &self,
        peer: &str,
        scope: Option<Vec<NetworkId>>,
    ) -> Result<SyncPlan, NodeError> {
        let networks = self.networks()?;
        let organisations = networks.organisations_of(peer).to_vec();
        let scope = scope.unwrap_or_else(|| networks.scope());
        Ok(SyncPlan {
            head: self.store.log_head()?,
            items: self.sync_set_for(&organisations, &scope)?,
            organisations,
            scope,
        })
    }

    /// The sync set a peer bound to `organisations` may see, within `scope` (the networks it
    /// asked for): profiles, vouches, charters and bindings always, and the records in `scope`
    /// it may receive.
    pub fn sync_set_for(
        &self,
        organisations: &[AuthorKey],
        scope: &[NetworkId],
    ) -> Result<Vec<convene_protocol::sync::SyncItem>, NodeError> {
        let networks = self.networks()?;
        Ok(self.store.sync_items_where(|key, named| {
            let Some(named) = named else { return true };
            let author = AuthorKey(key[..32].try_into().expect("address keys start with a key"));
            let Ok(kind) = Kind::from_byte(key[32]) else {
                return false;
            };
            networks::Networks::in_scope(scope, named)
                && networks.may_receive(organisations, &author, kind, named)
        })?)
    }

    /// The records among `ids` that a peer bound to `organisations` may receive, in order, until
    /// they reach `budget` bytes: how many ids were served, and the records' bytes. An id the
    /// peer may not have is skipped exactly like one no longer held.
    pub fn fetch_for(
        &self,
        organisations: &[AuthorKey],
        ids: &[convene_protocol::RecordId],
        budget: usize,
    ) -> Result<(usize, Vec<Vec<u8>>), NodeError> {
        let networks = self.networks()?;
        let (served, records) = self.store.fetch(ids, budget)?;
        let allowed = records
            .into_iter()
            .filter(|bytes| match Record::from_stored_bytes(bytes.clone()) {
                Ok(record) => self.may_send(&networks, organisations, &record),
                Err(_) => false,
            })
            .collect();
        Ok((served, allowed))
    }

    /// Whether a peer bound to `organisations` may receive `record` (a retraction goes where the
    /// record it retracts went).
    fn may_send(
        &self,
        networks: &networks::Networks,
        organisations: &[AuthorKey],
        record: &Record,
    ) -> bool {
        let author = record.header().author;
        let named = if record.is_retraction() {
            self.store.places(&record.address()).ok().flatten()
        } else {
            networks::named_networks(record).map(<[NetworkId]>::to_vec)
        };
        named.is_none_or(|named| {
            networks.may_receive(
                organisations,
                &author,
                record.header().kind,
                named.as_slice(),
            )
        })
    }

    /// Whether `record` belongs to members-only networks only: such a record never travels by
    /// gossip (it goes only to members' nodes, by sync).
    pub fn is_members_only(&self, record: &Record) -> Result<bool, NodeError> {
        let networks = self.networks()?;
        Ok(networks::named_networks(record)
            .is_some_and(|named| networks.restricted(record.header().kind, named)))
    }

    /// [`Node::is_members_only`] for the record held at `address` (a retraction: for the
    /// record it retracted).
    pub fn is_members_only_at(&self, address: &Address) -> Result<bool, NodeError> {
        let networks = self.networks()?;
        Ok(self
            .store
            .places(address)?
            .is_some_and(|named| networks.restricted(address.kind, &named)))
    }

    /// Replaces the local rules the admission step applies to every record from now on.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Indexes whatever the store logged since the index's last commit. Rebuilds from scratch if
    /// the index claims more than the store has (the store was restored from an older backup).
    fn catch_up(&mut self, progress: &dyn Progress) -> Result<(), NodeError> {
        let head = self.store.log_head()?;
        let position = self.index.position()?;
        if position == head {
            return Ok(());
        }
        if position > head {
            tracing::warn!(position, head, "index is ahead of the store; rebuilding it");
            return self.reindex(progress);
        }
        tracing::info!(
            from = position,
            to = head,
            "bringing the search index up to date"
        );
        progress.start(Some(head - position), "indexing");
        self.replay_log(position, progress)?;
        progress.finish();
        Ok(())
    }

    /// After a failed write: reopens the store (redb refuses writes after an I/O error until
    /// it is reopened, though reads go on), forgets what the index had not committed, and
    /// brings the index up to date from the store again.
    pub fn recover(&mut self) -> Result<(), NodeError> {
        // Reopening drops the old handle first; while the disk is still full the new one may
        // not open, and reads (which still work) would go too. Wait for space.
        if fs4::available_space(&self.data_dir).is_ok_and(|free| free < NEARLY_FULL) {
            return Err(NodeError::Write(format!(
                "the disk holding {} is still full",
                self.data_dir.display()
            )));
        }
        self.store.reopen()?;
        self.write_failure = None;
        self.index.discard_uncommitted()?;
        self.catch_up(&NoProgress)
    }

    /// A write failure in words an operator can act on: a full disk is named as such, with the
    /// directory and the space left.
    pub fn describe_write_failure(&self, error: &NodeError) -> String {
        describe_write_failure(&self.data_dir, error)
    }

    /// Indexes the store's log from position `from` to its end, committing the index every
    /// [`Bulk::commit_every`] log entries and at the end. Each commit records the position
    /// reached, so the index never claims more than it holds: a replay cut short (a crash, a
    /// kill) resumes from its last commit when the node next opens. Committing as it goes also
    /// bounds memory: until a commit, tantivy keeps every document replacement, which for a
    /// million records came to 1.2 GB.
    fn replay_log(&mut self, mut from: u64, progress: &dyn Progress) -> Result<(), NodeError> {
        let start = from;
        let mut committed = from;
        while let Some(next) = self.index_log_step(from, self.bulk.chunk)? {
            progress.advance(next - from);
            from = next;
            if from - committed >= self.bulk.commit_every {
                self.index.commit(from)?;
                committed = from;
            }
        }
        self.index.commit(from)?;
        self.merge_index_after_bulk(from - start, progress)?;
        Ok(())
    }

    /// Starts merging the index into one segment in the background
    /// ([`convene_search::Index::start_merging`]); whether one started.
    pub(crate) fn start_index_merge(&mut self) -> Result<bool, NodeError> {
        Ok(self.index.start_merging()?)
    }

    /// Whether the background merge has ended since the last call
    /// ([`convene_search::Index::merge_ended`]).
    pub(crate) fn index_merge_ended(&mut self) -> Result<bool, NodeError> {
        Ok(self.index.merge_ended()?)
    }

    /// Sets how the node indexes in bulk, so tests can reach its thresholds with few records.
    #[doc(hidden)]
    pub fn set_bulk_for_tests(&mut self, bulk: Bulk) {
        self.bulk = bulk;
    }

    /// After a bulk write (an import, a rebuild) of `added` records, merges the index into one
    /// segment if they are most of it: such a write leaves a segment per commit, which tantivy
    /// merges only so far (ten segments after a million records), and searches visit every
    /// one. At a million records one segment made the median search 1.8 → 1.1 ms, and the merge
    /// took about 10 s. Smaller writes are left to tantivy's own merging and `convene compact`.
    pub fn merge_index_after_bulk(
        &mut self,
        added: u64,
        progress: &dyn Progress,
    ) -> Result<(), NodeError> {
        if added < self.bulk.merge_after || added * 2 < self.index.num_docs() {
            return Ok(());
        }
        progress.start(None, "merging the search index");
        let merged = self.index.merge_into_one();
        progress.finish();
        merged?;
        Ok(())
    }

    /// Hands the records logged at positions `from..` (at most `limit` log entries) to the
    /// index writer; the position after them, or `None` at the log's end.
    pub(crate) fn index_log_step(
        &mut self,
        from: u64,
        limit: usize,
    ) -> Result<Option<u64>, NodeError> {
        let (records, next) = self.store.log_since(from, limit)?;
        if next == from {
            return Ok(None);
        }
        self.index_records(&records)?;
        Ok(Some(next))
    }

    /// Rebuilds the index from the store.
    pub fn reindex(&mut self, progress: &dyn Progress) -> Result<(), NodeError> {
        progress.start(Some(self.store.log_head()?), "reindexing");
        self.index.clear()?;
        self.replay_log(0, progress)?;
        progress.finish();
        Ok(())
    }

    /// Starts a rebuild taken in steps ([`Node::index_log_step`] from 0, then
    /// [`Node::finish_reindex`]): empties the index writer. Searches see the old index until
    /// the end.
    pub(crate) fn begin_reindex(&mut self) -> Result<(), NodeError> {
        Ok(self.index.clear()?)
    }

    /// Commits a stepped rebuild; returns the records indexed.
    pub(crate) fn finish_reindex(&mut self) -> Result<u64, NodeError> {
        self.commit_index()?;
        Ok(self.index.num_docs())
    }

    /// Forgets what the index writer holds that is not committed.
    pub(crate) fn discard_index_changes(&mut self) -> Result<(), NodeError> {
        Ok(self.index.discard_uncommitted()?)
    }

    /// Runs `import` with the store's commits made durable only every [`IMPORT_SYNC_EVERY`]
    /// batches and once at the end, whether it succeeds or not. Waiting for the disk after
    /// every batch left the import's other threads idle. A crash part way loses only batches of
    /// the import since its last durable commit, and the store stays whole: an import reports
    /// nothing as done until it ends, and running it again completes it.
    pub(crate) fn unsynced_import<T>(
        &mut self,
        import: impl FnOnce(&mut Node) -> Result<T, NodeError>,
    ) -> Result<T, NodeError> {
        self.unsynced_commits = Some(0);
        self.synced_during_import = false;
        let result = import(self);
        self.unsynced_commits = None;
        self.synced_during_import = false;
        let synced = self.store.sync().map_err(|e| self.write_failed(e.into()));
        let value = result?;
        synced?;
        Ok(value)
    }

    /// During an unsynced import, commits the index once the store has made a durable commit.
    /// Until the index commits, tantivy keeps every document replacement (a delete of the
    /// address, then an add) in memory: about 1.5 KB each, 1.5 GB for a million records.
    pub(crate) fn commit_index_if_synced(&mut self) -> Result<(), NodeError> {
        if std::mem::take(&mut self.synced_during_import) {
            self.commit_index()?;
        }
        Ok(())
    }

    /// The store step of the write path alone (admission and a transaction, the index left
    /// behind), committed as an import commits: for the ingest benchmark's cost of each stage.
    /// `last` makes every commit so far durable. The records stored.
    #[doc(hidden)]
    pub fn store_only_for_benchmarks(
        &mut self,
        records: &[Record],
        last: bool,
    ) -> Result<usize, NodeError> {
        self.unsynced_commits.get_or_insert(0);
        let stored = self.store_records(records, Source::Import)?.1.len();
        if last {
            self.unsynced_commits = None;
            self.store.sync()?;
        }
        Ok(stored)
    }

    /// The index step of the write path alone (and a commit, if asked): for the ingest
    /// benchmark's cost of each stage.
    #[doc(hidden)]
    pub fn index_only_for_benchmarks(
        &mut self,
        records: &[Record],
        commit: bool,
    ) -> Result<(), NodeError> {
        self.index_records(records)?;
        if commit {
            self.commit_index()?;
        }
        Ok(())
    }

    /// From now on the write path ([`Node::admit`], so publishing too) leaves its index changes
    /// uncommitted: the caller commits them ([`Index::uncommitted`] says since when they wait),
    /// before any search and when it sees fit. A crash loses nothing: the index catches up from
    /// the store's log on the next open.
    pub(crate) fn defer_index_commits(&mut self) {
        self.defer_index_commits = true;
    }

    /// **The write path.** Offers verified records from `source` to the admission step, stores
    /// the accepted ones in one durable transaction, then indexes them (and commits the index,
    /// unless [`Node::defer_index_commits`] was called). Returns one outcome per record, in
    /// order. Once the store has committed, the records are kept whatever happens to the index:
    /// an index that cannot be written (a full disk) is only warned about, and catches up from
    /// the store on a later open.
    pub fn admit(&mut self, records: &[Record], source: Source) -> Result<Vec<Outcome>, NodeError> {
        let (outcomes, stored) = self.store_records(records, source)?;
        if stored.is_empty() {
            return Ok(outcomes);
        }
        let defer = self.defer_index_commits;
        let indexed = self
            .index_records(&stored)
            .and_then(|()| if defer { Ok(()) } else { self.commit_index() });
        if let Err(error) = indexed {
            tracing::warn!(
                "stored, but the search index could not be updated, so searches miss this \
                 until it catches up: {}",
                self.describe_write_failure(&error)
            );
            self.index.discard_uncommitted()?;
        }
        Ok(outcomes)
    }

    /// [`Node::admit`] without committing the index (for a caller that commits it once after
    /// many of these). Index errors are returned.
    pub(crate) fn admit_uncommitted(
        &mut self,
        records: &[Record],
        source: Source,
    ) -> Result<Vec<Outcome>, NodeError> {
        let (outcomes, stored) = self.store_records(records, source)?;
        self.index_records(&stored)?;
        Ok(outcomes)
    }

    /// Starts a write on the write path: records admitted to it see each other, and become
    /// durable with [`Node::commit`]; dropping it discards them (a dry run).
    pub(crate) fn begin(&self) -> Result<Pending, NodeError> {
        let networks = self.networks()?;
        Ok(Pending {
            batch: self.store.batch()?,
            networks: networks.clone(),
            policy: self
                .policy
                .clone()
                .blocking(self.blocked.clone())
                .placing(networks)
                .succeeding(self.successions()?),
            stored: Vec::new(),
        })
    }

    /// Commits a pending write to the store (durable on return) and returns the records it
    /// stored, for the index. A failure is described for an operator (a full disk named as
    /// such), and remembered so that a running node reopens its store.
    pub(crate) fn commit(&mut self, pending: Pending) -> Result<Vec<Record>, NodeError> {
        let Pending { batch, stored, .. } = pending;
        let committed = match self.unsynced_commits {
            Some(since) if since + 1 < IMPORT_SYNC_EVERY => {
                self.unsynced_commits = Some(since + 1);
                batch.commit_unsynced()
            }
            Some(_) => {
                self.unsynced_commits = Some(0);
                self.synced_during_import = true;
                batch.commit()
            }
            None => batch.commit(),
        };
        match committed {
            Ok(()) => Ok(stored),
            Err(error) => Err(self.write_failed(error.into())),
        }
    }

    fn write_failed(&mut self, error: NodeError) -> NodeError {
        match error {
            NodeError::Store(StoreError::Redb(_)) => {
                let described = self.describe_write_failure(&error);
                self.write_failure = Some(described.clone());
                NodeError::Write(described)
            }
            other => other,
        }
    }

    /// Admits `records` in one transaction and commits it: the outcomes, and the records stored.
    pub(crate) fn store_records(
        &mut self,
        records: &[Record],
        source: Source,
    ) -> Result<(Vec<Outcome>, Vec<Record>), NodeError> {
        self.store_runs(records, &[(source, records.len())])
    }

    /// Admits consecutive runs of `records`, each from its own source, in one transaction.
    pub(crate) fn store_runs(
        &mut self,
        records: &[Record],
        runs: &[(Source, usize)],
    ) -> Result<(Vec<Outcome>, Vec<Record>), NodeError> {
        let mut pending = self.begin().map_err(|e| self.write_failed(e))?;
        let mut outcomes = Vec::with_capacity(records.len());
        let mut at = 0;
        for &(source, length) in runs {
            let run = &records[at..at + length];
            at += length;
            outcomes.extend(
                pending
                    .admit(run, source)
                    .map_err(|e| self.write_failed(e))?,
            );
        }
        Ok((outcomes, self.commit(pending)?))
    }

    /// The last store write failure since this was last asked, if any. redb refuses every
    /// later write until the store is reopened ([`Node::recover`]); a running node asks after
    /// each job, so that a failure inside any operation makes it recover.
    pub(crate) fn take_write_failure(&mut self) -> Option<String> {
        self.write_failure.take()
    }

    /// Hands stored records to the index writer, without committing the index, each under
    /// the name this node knows its author by. A new or changed organisation profile renames
    /// its author: the author's other records are re-indexed too.
    pub(crate) fn index_records(&mut self, stored: &[Record]) -> Result<(), NodeError> {
        // Authors whose name may change: those with a new profile, and the subjects of new or
        // retracted vouches (a vouch's slug names its subject).
        let profiles: Vec<AuthorKey> = stored
            .iter()
            .filter_map(|record| match record.header().kind {
                Kind::Organisation => Some(record.header().author),
                Kind::Vouch => record
                    .header()
                    .slug
                    .as_str()
                    .strip_prefix("for-")
                    .and_then(AuthorKey::from_base32),
                // A delegate goes by its organisation's name.
                Kind::Delegation => record
                    .header()
                    .slug
                    .as_str()
                    .strip_prefix("delegate-")
                    .and_then(AuthorKey::from_base32),
                _ => None,
            })
            .collect();
        if stored.iter().any(|r| r.header().kind == Kind::Organisation) {
            self.profiles_epoch
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let mut profiles = profiles;
        // A delegate's new practitioner record may make its delegation stale (or fresh).
        if stored.iter().any(|r| r.header().kind == Kind::Practitioner) {
            let names = self.names()?;
            profiles.extend(
                stored
                    .iter()
                    .filter(|r| r.header().kind == Kind::Practitioner)
                    .map(|r| r.header().author)
                    .filter(|author| names.is_delegate(author)),
            );
        }
        if !profiles.is_empty() {
            self.forget_names();
        }
        // A succession ends a key's word, a delegation lets an organisation end its
        // delegate's: the cut-offs are applied, and the keys on both sides indexed again (a
        // successor takes its predecessor's name and records).
        if stored
            .iter()
            .any(|r| matches!(r.header().kind, Kind::Succession | Kind::Delegation))
        {
            *self.successions.lock().expect("not poisoned") = None;
            self.forget_names();
            self.forget_networks();
            self.enforce_successions()?;
            for verdict in self.successions()?.verdicts() {
                profiles.push(verdict.subject);
                profiles.extend(verdict.successor);
            }
        }
        // An organisation's delegates go by its name: renamed with it.
        if stored.iter().any(|r| r.header().kind == Kind::Organisation) {
            let names = self.names()?;
            let delegates: Vec<AuthorKey> = stored
                .iter()
                .filter(|r| r.header().kind == Kind::Organisation)
                .flat_map(|r| names.delegates_of(&r.header().author))
                .collect();
            profiles.extend(delegates);
        }
        // A new charter version may change who counts in a network, a binding which node is
        // whose: the records of networks whose charter changed are indexed again.
        let changed_networks = self.networks_changed_by(stored)?;
        let names = self.names()?;
        let networks = self.networks()?;
        for record in stored {
            let author = record.header().author;
            if !profiles.contains(&author) {
                self.index_one(record, &names, &networks)?;
            }
        }
        for author in dedup(profiles) {
            self.reindex_author(&author)?;
        }
        for network in changed_networks {
            for address in self.store.addresses_in(&network)? {
                if let Some(record) = self.store.get(&address)? {
                    self.index_one(&record, &names, &networks)?;
                }
            }
        }
        Ok(())
    }

    /// After `stored` entered the store: forgets the networks view if a charter or binding is
    /// among them, and returns the networks whose current charter changed.
    fn networks_changed_by(&self, stored: &[Record]) -> Result<Vec<NetworkId>, NodeError> {
        let touches = |kind| stored.iter().any(|record| record.header().kind == kind);
        if ![
            Kind::Charter,
            Kind::Binding,
            Kind::Featured,
            Kind::Delegation,
        ]
        .into_iter()
        .any(touches)
        {
            return Ok(Vec::new());
        }
        let before = self.networks()?;
        self.forget_networks();
        let after = self.networks()?;
        Ok(after
            .charters()
            .filter(|(id, resolved)| {
                before
                    .charter(id)
                    .is_none_or(|old| old.head_id() != resolved.head_id())
            })
            .map(|(id, _)| id.clone())
            .collect())
    }

    /// Makes the index searchable up to the store's current log head.
    pub(crate) fn commit_index(&mut self) -> Result<(), NodeError> {
        let head = self.store.log_head()?;
        self.index.commit(head)?;
        Ok(())
    }

    /// The record a key's successor holds at `address`'s kind and slug, if the key's word
    /// has ended and its successor (or theirs) published one.
    fn successor_record(&self, address: &Address) -> Result<Option<Record>, NodeError> {
        let successions = self.successions()?;
        let current = successions.current(&address.author);
        if current == address.author {
            return Ok(None);
        }
        let moved = Address {
            author: current,
            ..address.clone()
        };
        Ok(self.store.get(&moved)?.filter(|r| !r.is_retraction()))
    }

    /// The latest live version at `address` — or, when its key was rotated or recovered and
    /// the successor published a record at the same kind and slug, the successor's: old
    /// addresses resolve to the new identity.
    pub fn get(&self, address: &Address) -> Result<Record, NodeError> {
        if let Some(record) = self.successor_record(address)? {
            return Ok(record);
        }
        match self.store.get(address)? {
            None => Err(NodeError::NotFound(address.clone())),
            Some(record) if record.is_retraction() => Err(NodeError::Retracted(address.clone())),
            Some(record) => Ok(record),
        }
    }

    pub fn search(&self, query: &Query) -> Result<Vec<Hit>, NodeError> {
        Ok(self.index.search(query)?)
    }

    /// [`Node::search`] without snippets, for callers that show none.
    pub fn search_without_snippets(&self, query: &Query) -> Result<Vec<Hit>, NodeError> {
        Ok(self.index.search_without_snippets(query)?)
    }

    /// Records like the query's content, best first.
    pub fn similar(&self, query: &SimilarQuery) -> Result<Vec<(f32, Hit)>, NodeError> {
        Ok(self.index.similar(query)?)
    }

    /// [`Node::search`], each hit with its author's trust path.
    /// Within a network, what its convenors feature comes first (in rank order otherwise).
    pub fn find(&self, query: &Query) -> Result<Vec<trust::Found>, NodeError> {
        let hits = self.search(query)?;
        self.found(query, hits)
    }

    /// [`Node::find`] and the facet counts of the same query, in one pass over the matches.
    pub fn find_with_facets(
        &self,
        query: &Query,
    ) -> Result<(Vec<trust::Found>, Vec<convene_search::Facet>), NodeError> {
        let (hits, facets) = self.index.search_with_facets(query)?;
        Ok((self.found(query, hits)?, facets))
    }

    fn found(&self, query: &Query, mut hits: Vec<Hit>) -> Result<Vec<trust::Found>, NodeError> {
        if let Some(network) = &query.network {
            let networks = self.networks()?;
            hits.sort_by_key(|hit| !networks.featured_in(&hit.address).contains(network));
        }
        self.with_trust(hits)
    }

    /// [`Node::similar`], each hit with its author's trust path.
    pub fn find_similar(
        &self,
        query: &SimilarQuery,
    ) -> Result<Vec<(f32, trust::Found)>, NodeError> {
        let (scores, hits): (Vec<f32>, Vec<Hit>) = self.similar(query)?.into_iter().unzip();
        Ok(scores.into_iter().zip(self.with_trust(hits)?).collect())
    }

    fn with_trust(&self, hits: Vec<Hit>) -> Result<Vec<trust::Found>, NodeError> {
        let trust = self.trust_all(hits.iter().map(|hit| hit.address.author))?;
        let networks = self.networks()?;
        Ok(hits
            .into_iter()
            .map(|hit| trust::Found {
                trust: trust[&hit.address.author].clone(),
                featured: networks
                    .featured_in(&hit.address)
                    .iter()
                    .map(|network| networks.name_of(network))
                    .collect(),
                hit,
            })
            .collect())
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

/// What one sync with one peer reconciles (see [`Node::sync_plan`]).
#[derive(Clone, Debug)]
pub struct SyncPlan {
    /// The store's log head when the set was built.
    pub head: u64,
    /// The organisations whose bindings list the peer.
    pub organisations: Vec<AuthorKey>,
    /// The networks reconciled.
    pub scope: Vec<NetworkId>,
    pub items: Vec<convene_protocol::sync::SyncItem>,
}

/// An open write on the write path (see [`Node::begin`]).
pub(crate) struct Pending {
    batch: store::Batch,
    policy: Policy,
    /// The networks view this write started with (to place records by the charters,
    /// bindings and delegations it brings).
    networks: std::sync::Arc<networks::Networks>,
    /// The records this write stored, in order.
    stored: Vec<Record>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pending({} stored)", self.stored.len())
    }
}

impl Pending {
    /// Offers records from `source` to the admission step; the accepted ones are written (not
    /// yet durable).
    pub(crate) fn admit(
        &mut self,
        records: &[Record],
        source: Source,
    ) -> Result<Vec<Outcome>, NodeError> {
        // Charters and bindings go first: a record published into a network can arrive in
        // the same batch as the charter version that admits its author.
        let frames: Vec<usize> = (0..records.len())
            .filter(|&at| is_frame(records[at].header().kind))
            .collect();
        if frames.is_empty() || frames.len() == records.len() {
            return self.admit_in_order(records, source);
        }
        let (first, rest): (Vec<Record>, Vec<Record>) = records
            .iter()
            .cloned()
            .partition(|record| is_frame(record.header().kind));
        let first_outcomes = self.admit_in_order(&first, source)?;
        if first_outcomes.iter().any(Outcome::is_stored) {
            let (statements, all_delegations) = self.batch.successions_and_delegations()?;
            let successions = keys::successions(&statements, &all_delegations);
            let (charters, bindings, delegations) = self.batch.charters_and_bindings()?;
            let networks = self
                .networks
                .rebuilt(
                    charters,
                    bindings,
                    keys::counting_delegations(delegations, &successions),
                    Date::from_unix(now()),
                )
                .with_successions(&successions);
            self.policy = self
                .policy
                .clone()
                .placing(std::sync::Arc::new(networks))
                .succeeding(std::sync::Arc::new(successions));
        }
        let rest_outcomes = self.admit_in_order(&rest, source)?;
        // Back into the order the records came in.
        let (mut first_outcomes, mut rest_outcomes) =
            (first_outcomes.into_iter(), rest_outcomes.into_iter());
        Ok((0..records.len())
            .map(|at| {
                if frames.binary_search(&at).is_ok() {
                    first_outcomes.next()
                } else {
                    rest_outcomes.next()
                }
                .expect("one outcome per record")
            })
            .collect())
    }

    fn admit_in_order(
        &mut self,
        records: &[Record],
        source: Source,
    ) -> Result<Vec<Outcome>, NodeError> {
        let outcomes = self.batch.admit_all(records, source, &self.policy)?;
        for (record, outcome) in records.iter().zip(&outcomes) {
            if outcome.is_stored() {
                self.stored.push(record.clone());
            }
        }
        Ok(outcomes)
    }

    /// The latest record at `address`, including what this write has admitted.
    pub(crate) fn held(&self, address: &Address) -> Result<Option<Record>, NodeError> {
        Ok(self.batch.get(address)?)
    }
}

/// Records that decide where others belong: admitted first in a write.
fn is_frame(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Charter | Kind::Binding | Kind::Delegation | Kind::Succession
    )
}

fn dedup(mut authors: Vec<AuthorKey>) -> Vec<AuthorKey> {
    authors.sort();
    authors.dedup();
    authors
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
