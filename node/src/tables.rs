//! Every redb table the store uses. Names carry a version: a change of key or value layout gets
//! a new name and a migration, never a silent reinterpretation.

use redb::TableDefinition;

/// Record id (BLAKE3 of the record bytes) → the record's exact bytes.
///
/// Holds exactly one record per address: the winning version, which may be a retraction
/// (tombstone). A superseded version moves to `history_v1` in the same transaction that stores
/// its successor; a retraction deletes both, so retracted content does not linger on disk.
pub(crate) const RECORDS: TableDefinition<'_, [u8; 32], &[u8]> = TableDefinition::new("records_v1");

/// Address key (author 32 bytes ‖ kind 1 byte ‖ slug) → `LatestEntry` bytes: the winning
/// version's id (32 bytes) ‖ seq (u64 BE) ‖ created_at (i64 BE) ‖ flags (1 byte; bit 0 =
/// retraction). Everything catch-up sync needs about a record, without reading the record.
///
/// Keys sort by author, so one author's records are a range.
pub(crate) const LATEST: TableDefinition<'_, &[u8], [u8; 49]> = TableDefinition::new("latest_v1");

/// Arrival position (0, 1, 2, …) → id of the record that arrived there.
///
/// Append-only. The search index remembers the position it has indexed up to and replays the
/// rest after a restart. An entry whose record has since been superseded points at an id that is
/// no longer in `RECORDS`; readers skip it, since its successor arrived later in the log.
pub(crate) const LOG: TableDefinition<'_, u64, [u8; 32]> = TableDefinition::new("log_v1");

/// Author key → a pin (JSON: `trust::Pin`): this node's operator's word about who the key is.
/// Local decisions, never sent to peers.
pub(crate) const PINS: TableDefinition<'_, [u8; 32], &[u8]> = TableDefinition::new("pins_v1");

/// Author key → a block (JSON: `trust::Block`): the operator refuses every record of this
/// author, and those held were purged. Local decisions, never sent to peers.
pub(crate) const BLOCKS: TableDefinition<'_, [u8; 32], &[u8]> = TableDefinition::new("blocks_v1");

/// Author key → the last check of the domain its profile names (JSON: `domains::DomainCheck`).
/// Local observations, never sent to peers; re-checked by the node.
pub(crate) const DOMAINS: TableDefinition<'_, [u8; 32], &[u8]> = TableDefinition::new("domains_v1");

/// Address key → the networks the record at that address names (`networks::encode_list`), for
/// experiments, practitioners and lessons that name any. Kept when a retraction replaces the
/// record, so the tombstone goes where the record went. What catch-up sync filters by, without
/// reading records.
pub(crate) const PLACES: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("places_v1");

/// Network key (founder 32 bytes ‖ slug) → when this node joined it (JSON:
/// `networks::Joined`). A local decision: the node replicates the networks it joined.
pub(crate) const JOINED: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("joined_v1");

/// Network key ‖ organisation key → a join request a convenor has not answered (JSON:
/// `charters::PendingJoin`). Local: requests come from the asking node, never from gossip.
pub(crate) const REQUESTS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("requests_v1");

/// Account name → a colleague's web account (JSON: `accounts::Account`): who the operator lets
/// sign in to the web page, and the one-time sign-in link pending for them (its BLAKE3 hash,
/// never the link). Local, never sent to peers.
pub(crate) const WEB_ACCOUNTS: TableDefinition<'_, &str, &[u8]> =
    TableDefinition::new("web_accounts_v1");

/// BLAKE3 of a session's secret (the browser's cookie) → the session (JSON:
/// `accounts::Session`). The secret itself is never stored. Local, never sent to peers.
pub(crate) const WEB_SESSIONS: TableDefinition<'_, [u8; 32], &[u8]> =
    TableDefinition::new("web_sessions_v1");

/// Watcher ‖ 0 ‖ watch id → a saved search (JSON: `watches::Watch`): a topic the operator
/// (`convene watch`) or a colleague on the web page follows, and how far in the arrival log
/// they have looked. Local, never sent to peers.
pub(crate) const WATCHES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("watches_v1");

/// Kind (1 byte) ‖ address key → nothing: the addresses of `latest_v1`, by kind, so the views
/// built from one kind (charters, bindings, delegations, successions, interests, featured lists,
/// profiles) read only that kind's records instead of every address. Holds exactly the keys of
/// `latest_v1`: written and removed with them, and rebuilt from them on open if the two ever
/// differ in length (a store from before this table).
pub(crate) const KINDS: TableDefinition<'_, &[u8], ()> = TableDefinition::new("kinds_v1");

/// Address key ‖ 0 ‖ seq (u64 BE) ‖ the record id's bitwise complement (so keys sort in
/// version order) → the exact bytes of a version this node held at that address
/// until a newer one replaced it: what `convene history` shows. At most
/// [`crate::store::HISTORY_VERSIONS`] per address, the newest kept. Local: never a sync item,
/// never indexed, never sent to peers. A retraction, a purge or a block deletes the address's
/// history in the transaction that removes its content, so retracted content still does not
/// linger. (The 0 byte, which no slug holds, keeps one address's history apart from that of a
/// slug it is the start of.)
pub(crate) const HISTORY: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("history_v1");
