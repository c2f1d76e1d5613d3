//! Tickets (how one node tells another how to reach it) and the peer book (`peers.json`: the
//! peers added with `convene peers add`, redialled after restarts and dropped connections).

use std::path::{Path, PathBuf};

use data_encoding::BASE32_NOPAD;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

const TICKET_PREFIX: &str = "convene1";

/// A peer to dial: its id, if known, and addresses to try.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerEntry {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "peer_id_text"
    )]
    pub peer: Option<PeerId>,
    pub addrs: Vec<Multiaddr>,
}

/// Reads a libp2p peer id (`12D3KooW…`).
pub fn parse_peer_id(text: &str) -> Result<PeerId, PeerError> {
    text.trim()
        .parse()
        .map_err(|_| PeerError::NotAPeerId(crate::limits::quote(text)))
}

/// A ticket or multiaddr that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error(
        "{0:?} is neither a ticket (from `convene node ticket`) nor a multiaddr like /ip4/192.0.2.7/tcp/4717/p2p/12D3Koo…"
    )]
    Unreadable(String),
    #[error("{0:?}: the ticket is damaged ({1})")]
    BadTicket(String, &'static str),
    #[error("{path}: {reason}")]
    Book { path: PathBuf, reason: String },
    #[error("no peer {0} in the peer book")]
    NotFound(String),
    #[error("{0:?} is not a peer id (12D3KooW…)")]
    NotAPeerId(String),
}

impl PeerEntry {
    /// Reads a ticket, or a multiaddr (optionally ending in `/p2p/PEER`).
    pub fn parse(text: &str) -> Result<PeerEntry, PeerError> {
        let text = text.trim();
        if let Some(body) = text.strip_prefix(TICKET_PREFIX) {
            return decode_ticket(body).map_err(|why| PeerError::BadTicket(text.into(), why));
        }
        let addr: Multiaddr = text
            .parse()
            .map_err(|_| PeerError::Unreadable(text.into()))?;
        let (peer, addr) = split_peer(addr);
        if addr.is_empty() {
            return Err(PeerError::Unreadable(text.into()));
        }
        Ok(PeerEntry {
            peer,
            addrs: vec![addr],
        })
    }

    /// The copy-pasteable ticket for a peer and its addresses.
    pub fn ticket(&self) -> String {
        let mut bytes = Vec::new();
        let peer = self.peer.map(|p| p.to_bytes()).unwrap_or_default();
        bytes.push(peer.len() as u8);
        bytes.extend_from_slice(&peer);
        for addr in &self.addrs {
            let addr = addr.to_vec();
            if addr.len() > u8::MAX as usize {
                continue;
            }
            bytes.push(addr.len() as u8);
            bytes.extend_from_slice(&addr);
        }
        format!(
            "{TICKET_PREFIX}{}",
            BASE32_NOPAD.encode(&bytes).to_ascii_lowercase()
        )
    }

    /// True if `key` names this entry: its peer id, or one of its addresses.
    pub fn matches(&self, key: &str) -> bool {
        self.peer.is_some_and(|peer| peer.to_string() == key)
            || self.addrs.iter().any(|addr| addr.to_string() == key)
    }
}

/// Splits a trailing `/p2p/PEER` off an address.
pub fn split_peer(mut addr: Multiaddr) -> (Option<PeerId>, Multiaddr) {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => {
            addr.pop();
            (Some(peer), addr)
        }
        _ => (None, addr),
    }
}

fn decode_ticket(body: &str) -> Result<PeerEntry, &'static str> {
    let bytes = BASE32_NOPAD
        .decode(body.to_ascii_uppercase().as_bytes())
        .map_err(|_| "not base32")?;
    let mut rest = bytes.as_slice();
    let mut take = || -> Result<Option<&[u8]>, &'static str> {
        let Some((&len, tail)) = rest.split_first() else {
            return Ok(None);
        };
        if tail.len() < len as usize {
            return Err("truncated");
        }
        let (item, tail) = tail.split_at(len as usize);
        rest = tail;
        Ok(Some(item))
    };
    let peer = match take()? {
        None => return Err("empty"),
        Some([]) => None,
        Some(bytes) => Some(PeerId::from_bytes(bytes).map_err(|_| "bad peer id")?),
    };
    let mut addrs = Vec::new();
    while let Some(addr) = take()? {
        let addr = Multiaddr::try_from(addr.to_vec()).map_err(|_| "bad address")?;
        if addr.is_empty() {
            return Err("an empty address");
        }
        addrs.push(addr);
    }
    if addrs.is_empty() {
        return Err("no addresses");
    }
    Ok(PeerEntry { peer, addrs })
}

/// The peers remembered in `HOME/peers.json`.
#[derive(Debug)]
pub struct PeerBook {
    path: PathBuf,
    entries: Vec<PeerEntry>,
}

impl PeerBook {
    /// Loads the book in `home_dir` (empty if there is none yet).
    pub fn load(home_dir: &Path) -> Result<PeerBook, PeerError> {
        let path = home_dir.join(crate::layout::PEERS_FILE);
        let entries = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| PeerError::Book {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(PeerError::Book {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        Ok(PeerBook { path, entries })
    }

    pub fn entries(&self) -> &[PeerEntry] {
        &self.entries
    }

    /// Adds a peer, merging addresses into an entry for the same peer id. Saves the book.
    pub fn add(&mut self, entry: PeerEntry) -> Result<(), PeerError> {
        self.add_unsaved(entry);
        self.snapshot().save()
    }

    /// Forgets the entries named by `key` (a peer id or an address). Saves the book.
    pub fn remove(&mut self, key: &str) -> Result<Vec<PeerEntry>, PeerError> {
        let gone = self.remove_unsaved(key)?;
        self.snapshot().save()?;
        Ok(gone)
    }

    /// [`PeerBook::add`] in memory only; save a [`PeerBook::snapshot`] later.
    pub fn add_unsaved(&mut self, entry: PeerEntry) {
        let existing = self.entries.iter_mut().find(|e| {
            (entry.peer.is_some() && e.peer == entry.peer)
                || (e.peer.is_none() && e.addrs == entry.addrs)
        });
        match existing {
            Some(e) => {
                e.peer = e.peer.or(entry.peer);
                for addr in entry.addrs {
                    if !e.addrs.contains(&addr) {
                        e.addrs.push(addr);
                    }
                }
            }
            None => self.entries.push(entry),
        }
    }

    /// [`PeerBook::remove`] in memory only.
    pub fn remove_unsaved(&mut self, key: &str) -> Result<Vec<PeerEntry>, PeerError> {
        let (gone, kept) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition::<Vec<_>, _>(|e| e.matches(key));
        self.entries = kept;
        if gone.is_empty() {
            return Err(PeerError::NotFound(key.into()));
        }
        Ok(gone)
    }

    /// Records, in memory, the peer id learnt by dialling an address-only entry; whether
    /// anything changed.
    pub fn learn_peer_id(&mut self, addr: &Multiaddr, peer: PeerId) -> bool {
        let mut changed = false;
        for entry in &mut self.entries {
            if entry.peer.is_none() && entry.addrs.contains(addr) {
                entry.peer = Some(peer);
                changed = true;
            }
        }
        changed
    }

    /// The book as it is now, to save (off an async loop: saving is blocking file I/O).
    pub fn snapshot(&self) -> BookSnapshot {
        BookSnapshot {
            path: self.path.clone(),
            bytes: serde_json::to_vec_pretty(&self.entries).expect("plain data"),
        }
    }
}

/// Peers the operator blocked (`HOME/blocked-peers.json`): never connected to, in or out, and
/// not redialled, until unblocked.
#[derive(Debug)]
pub struct PeerBans {
    path: PathBuf,
    bans: std::collections::BTreeMap<String, crate::trust::Block>,
}

impl PeerBans {
    /// Loads the bans in `home_dir` (none if there is no file yet).
    pub fn load(home_dir: &Path) -> Result<PeerBans, PeerError> {
        let path = home_dir.join(crate::layout::BLOCKED_PEERS_FILE);
        let fail = |reason: String| PeerError::Book {
            path: path.clone(),
            reason,
        };
        let bans = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
            Err(e) => return Err(fail(e.to_string())),
        };
        Ok(PeerBans { path, bans })
    }

    /// Every ban whose peer id reads.
    pub fn entries(&self) -> Vec<(PeerId, crate::trust::Block)> {
        self.bans
            .iter()
            .filter_map(|(peer, block)| Some((peer.parse().ok()?, block.clone())))
            .collect()
    }

    pub fn contains(&self, peer: &PeerId) -> bool {
        self.bans.contains_key(&peer.to_string())
    }

    /// Bans `peer` (`None`: lifts its ban) in memory; whether it was banned.
    pub fn set_unsaved(&mut self, peer: &PeerId, block: Option<crate::trust::Block>) -> bool {
        match block {
            Some(block) => self.bans.insert(peer.to_string(), block).is_some(),
            None => self.bans.remove(&peer.to_string()).is_some(),
        }
    }

    /// [`PeerBans::set_unsaved`] for a peer id given as text, then saves the file.
    pub fn set(
        &mut self,
        peer: &str,
        block: Option<crate::trust::Block>,
    ) -> Result<bool, PeerError> {
        let peer = parse_peer_id(peer)?;
        let had = self.set_unsaved(&peer, block);
        self.snapshot().save()?;
        Ok(had)
    }

    /// The bans as they are now, to save off an async loop.
    pub fn snapshot(&self) -> BookSnapshot {
        BookSnapshot {
            path: self.path.clone(),
            bytes: serde_json::to_vec_pretty(&self.bans).expect("plain data"),
        }
    }
}

/// The contents of a peer book at one moment.
#[derive(Clone, Debug)]
pub struct BookSnapshot {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl BookSnapshot {
    /// Replaces the book's file, durably.
    pub fn save(&self) -> Result<(), PeerError> {
        use crate::fsutil::{Access, Existing, write_file};
        write_file(&self.path, &self.bytes, Access::Public, Existing::Replace).map_err(|e| {
            PeerError::Book {
                path: self.path.clone(),
                reason: e.to_string(),
            }
        })
    }
}

mod peer_id_text {
    use libp2p::PeerId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(peer: &Option<PeerId>, s: S) -> Result<S::Ok, S::Error> {
        match peer {
            Some(peer) => s.collect_str(peer),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PeerId>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| text.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_round_trip_and_multiaddrs_parse() {
        let peer = PeerId::random();
        let entry = PeerEntry {
            peer: Some(peer),
            addrs: vec![
                "/ip4/127.0.0.1/tcp/4717".parse().unwrap(),
                "/ip6/::1/tcp/4717".parse().unwrap(),
            ],
        };
        assert_eq!(PeerEntry::parse(&entry.ticket()).unwrap(), entry);
        let parsed = PeerEntry::parse(&format!("/ip4/127.0.0.1/tcp/4717/p2p/{peer}")).unwrap();
        assert_eq!(parsed.peer, Some(peer));
        assert_eq!(parsed.addrs, entry.addrs[..1]);
        assert!(PeerEntry::parse("example.org:4717").is_err());
        let damaged = &entry.ticket()[..20];
        assert!(matches!(
            PeerEntry::parse(damaged),
            Err(PeerError::BadTicket(..))
        ));
    }

    #[test]
    fn the_book_remembers_merges_and_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let peer = PeerId::random();
        let mut book = PeerBook::load(dir.path()).unwrap();
        let at = |port: u16| -> Multiaddr { format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap() };
        book.add(PeerEntry {
            peer: Some(peer),
            addrs: vec![at(1)],
        })
        .unwrap();
        book.add(PeerEntry {
            peer: Some(peer),
            addrs: vec![at(2)],
        })
        .unwrap();
        book.add(PeerEntry {
            peer: None,
            addrs: vec![at(3)],
        })
        .unwrap();
        let reloaded = PeerBook::load(dir.path()).unwrap();
        assert_eq!(reloaded.entries().len(), 2);
        assert_eq!(reloaded.entries()[0].addrs, vec![at(1), at(2)]);
        let mut book = reloaded;
        assert_eq!(book.remove(&peer.to_string()).unwrap().len(), 1);
        assert!(book.remove(&peer.to_string()).is_err());
        assert_eq!(PeerBook::load(dir.path()).unwrap().entries().len(), 1);
    }
}
