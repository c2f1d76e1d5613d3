//! Following a topic: a saved search, and what matched it since its follower last looked.
//!
//! A watch remembers a position in the store's arrival log. Its news are the records that
//! arrived after that position (new ones and new versions alike, from any source) and match its
//! search — found by the index, restricted to those addresses (`Query::among`). Nothing is kept
//! per arrival, so a running node and a command see the same news; looking moves the position
//! to the log's head. The operator's watches (`convene watch`) and each web account's are kept
//! apart.

use convene_protocol::{Address, Kind, NetworkId};
use serde::{Deserialize, Serialize};

use crate::trust::Found;
use crate::{Node, NodeError};

/// Watches one watcher keeps at most.
pub const MAX_WATCHES: usize = 100;
/// The longest search text a watch keeps, in characters.
pub const MAX_TEXT: usize = 200;
/// Arrivals one look goes through at most: the most recent ones, if more arrived since.
pub const NEWS_SCAN: usize = convene_search::limits::AMONG;
/// Records one watch's news lists at most, best match first.
pub const NEWS_RESULTS: usize = 50;

/// Whose watches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Watcher {
    /// The node's operator, at the command line.
    Operator,
    /// A colleague's web account.
    Account(String),
}

impl Watcher {
    fn prefix(&self) -> String {
        match self {
            Watcher::Operator => "operator\0".to_string(),
            Watcher::Account(name) => format!("web:{name}\0"),
        }
    }
}

/// A saved search.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    /// Its name among the watcher's watches: a slug of its text (and kind).
    pub id: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    pub created_at: i64,
    /// The arrival log's position up to which its follower has looked.
    pub seen: u64,
}

/// What matched a watch since its follower last looked.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct News {
    pub watch: Watch,
    pub found: Vec<Found>,
    /// More arrived than one look goes through ([`NEWS_SCAN`]): only the latest were searched.
    pub truncated: bool,
}

/// A change to a watcher's watches.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WatchChange {
    Add {
        text: String,
        #[serde(default)]
        kind: Option<Kind>,
    },
    Remove {
        id: String,
    },
}

fn id_of(text: &str, kind: Option<Kind>) -> String {
    let base = match kind {
        Some(kind) => format!("{text} {kind}"),
        None => text.to_string(),
    };
    convene_protocol::slugify(&base).to_string()
}

impl Node {
    /// A watcher's watches, by id.
    pub fn watches(&self, watcher: &Watcher) -> Result<Vec<Watch>, NodeError> {
        Ok(self
            .store()
            .watches(&watcher.prefix())?
            .into_iter()
            .filter_map(|(_, bytes)| serde_json::from_slice(&bytes).ok())
            .collect())
    }

    /// Adds a watch (from now on: what arrived before is not news) or removes one. Adding one
    /// that exists answers it unchanged.
    pub fn change_watch(
        &self,
        watcher: &Watcher,
        change: &WatchChange,
    ) -> Result<Option<Watch>, NodeError> {
        match change {
            WatchChange::Add { text, kind } => {
                let text = text.trim();
                if text.is_empty()
                    || text.chars().count() > MAX_TEXT
                    || text.chars().any(char::is_control)
                {
                    return Err(NodeError::Invalid(format!(
                        "a watch's search is one line of 1 to {MAX_TEXT} characters"
                    )));
                }
                let id = id_of(text, *kind);
                let held = self.watches(watcher)?;
                if let Some(existing) = held.iter().find(|w| w.id == id) {
                    return Ok(Some(existing.clone()));
                }
                if held.len() >= MAX_WATCHES {
                    return Err(NodeError::Invalid(format!(
                        "{MAX_WATCHES} watches is the most one follower keeps; remove one first"
                    )));
                }
                let watch = Watch {
                    id: id.clone(),
                    text: text.to_string(),
                    kind: *kind,
                    created_at: crate::now(),
                    seen: self.store().log_head()?,
                };
                let bytes = serde_json::to_vec(&watch).expect("plain data");
                self.store()
                    .write_watches(&[(format!("{}{id}", watcher.prefix()), Some(bytes))])?;
                Ok(Some(watch))
            }
            WatchChange::Remove { id } => {
                let key = format!("{}{id}", watcher.prefix());
                let had = self.store().write_watches(&[(key, None)])?;
                if !had[0] {
                    return Err(NodeError::Invalid(format!(
                        "there is no watch {id:?}; the list shows those there are"
                    )));
                }
                Ok(None)
            }
        }
    }

    /// The records among the latest [`NEWS_SCAN`] arrivals that match watch `id`, best first
    /// (what its Atom feed lists), whatever its follower has seen.
    pub fn recent_matches(
        &self,
        watcher: &Watcher,
        id: &str,
    ) -> Result<(Watch, Vec<Found>), NodeError> {
        let watch = self
            .watches(watcher)?
            .into_iter()
            .find(|w| w.id == id)
            .ok_or_else(|| {
                NodeError::Invalid(format!(
                    "there is no watch {id:?}; `convene watch list` shows those there are"
                ))
            })?;
        let from = self.store().log_head()?.saturating_sub(NEWS_SCAN as u64);
        let found = self.matches_since(&watch, &self.arrived(from)?, from, &[])?;
        Ok((watch, found))
    }

    /// The addresses of the live records that arrived at log positions `from..` (at most
    /// [`NEWS_SCAN`]), with their positions. Read once for every watch a look goes through.
    fn arrived(&self, from: u64) -> Result<Vec<(u64, Address)>, NodeError> {
        let (arrivals, _) = self.store().arrivals(from, NEWS_SCAN)?;
        Ok(arrivals
            .into_iter()
            .filter(|(_, record)| !record.is_retraction())
            .map(|(position, record)| (position, record.address()))
            .collect())
    }

    /// The records among `arrived` from position `from` on that match `watch`, published into
    /// one of `networks` (empty: any).
    fn matches_since(
        &self,
        watch: &Watch,
        arrived: &[(u64, Address)],
        from: u64,
        networks: &[NetworkId],
    ) -> Result<Vec<Found>, NodeError> {
        let mut among: Vec<Address> = arrived
            .iter()
            .filter(|(position, _)| *position >= from)
            .map(|(_, address)| address.clone())
            .collect();
        among.sort_by_key(|a| a.to_string());
        among.dedup();
        if among.is_empty() {
            return Ok(Vec::new());
        }
        self.find(&convene_search::Query {
            text: watch.text.clone(),
            kind: watch.kind,
            any_network: networks.to_vec(),
            among,
            limit: NEWS_RESULTS,
            ..convene_search::Query::default()
        })
    }

    /// Each watch's news: what arrived since its follower last looked and matches it, drawn
    /// from records published into one of `networks` (empty: any). With `mark_seen`, looking
    /// moves every watch up to now.
    pub fn news(
        &self,
        watcher: &Watcher,
        networks: &[NetworkId],
        mark_seen: bool,
    ) -> Result<Vec<News>, NodeError> {
        let head = self.store().log_head()?;
        let oldest = head.saturating_sub(NEWS_SCAN as u64);
        let watches = self.watches(watcher)?;
        // The arrivals every watch looks through, read once: from the earliest any has not seen.
        let earliest = watches
            .iter()
            .map(|watch| watch.seen.max(oldest))
            .min()
            .unwrap_or(head);
        let arrived = if earliest < head {
            self.arrived(earliest)?
        } else {
            Vec::new()
        };
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for watch in watches {
            let from = watch.seen.max(oldest);
            let found = self.matches_since(&watch, &arrived, from, networks)?;
            if mark_seen && watch.seen != head {
                let moved = Watch {
                    seen: head,
                    ..watch.clone()
                };
                seen.push((
                    format!("{}{}", watcher.prefix(), watch.id),
                    Some(serde_json::to_vec(&moved).expect("plain data")),
                ));
            }
            out.push(News {
                truncated: watch.seen < from,
                watch,
                found,
            });
        }
        if !seen.is_empty() {
            self.store().write_watches(&seen)?;
        }
        Ok(out)
    }
}

/// Text escaped for XML.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

impl Node {
    /// Watch `id`'s recent matches as an Atom feed, so any feed reader can follow it. Each
    /// entry's link is its page on the web listener at `web` (e.g. `http://127.0.0.1:4719`),
    /// if there is one.
    pub fn atom_feed(
        &self,
        watcher: &Watcher,
        id: &str,
        web: Option<&str>,
    ) -> Result<String, NodeError> {
        let (watch, found) = self.recent_matches(watcher, id)?;
        let mut entries = String::new();
        let mut newest = watch.created_at;
        for found in &found {
            let Some(record) = self.store().get(&found.hit.address)? else {
                continue;
            };
            let updated = record.header().created_at;
            newest = newest.max(updated);
            let address = found.hit.address.to_string();
            let link = web
                .map(|base| {
                    let query =
                        serde_urlencoded::to_string([("address", &address)]).unwrap_or_default();
                    format!(
                        "<link href=\"{}\"/>",
                        xml(&format!("{base}/record?{query}"))
                    )
                })
                .unwrap_or_default();
            entries.push_str(&format!(
                "<entry><id>{}</id><title>{}</title>{link}<updated>{}</updated>\
                 <author><name>{}</name></author><summary>{}</summary></entry>\n",
                xml(&address),
                xml(&found.hit.title),
                crate::rfc3339(updated),
                xml(found.trust.name.as_deref().unwrap_or("unknown")),
                xml(&format!("{} — {}", found.hit.summary, found.trust.path)),
            ));
        }
        Ok(format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
             <feed xmlns=\"http://www.w3.org/2005/Atom\">\n\
             <id>urn:convene:watch:{}</id><title>Convene: {}</title><updated>{}</updated>\n\
             <generator>Convene</generator>\n{entries}</feed>\n",
            xml(&watch.id),
            xml(&watch.text),
            crate::rfc3339(newest),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_protocol::{Content, Experiment, Identity, Record, Slug, Status};

    fn experiment(identity: &Identity, slug: &str, title: &str, seq: u64) -> Record {
        Record::sign(
            identity,
            Slug::new(slug).unwrap(),
            seq,
            crate::now(),
            Content::Experiment(Experiment {
                title: title.into(),
                summary: format!("{title}, a pilot"),
                status: Status::Running,
                ..Experiment::default()
            }),
        )
        .unwrap()
    }

    #[test]
    fn news_are_what_arrived_since_the_last_look_and_match() {
        let dir = tempfile::tempdir().unwrap();
        let mut node = Node::create(dir.path()).unwrap();
        let identity = Identity::from_secret([7; 32]);
        node.admit(
            &[experiment(&identity, "fridges", "Community fridges", 1)],
            crate::Source::Import,
        )
        .unwrap();
        let me = Watcher::Operator;
        let add = WatchChange::Add {
            text: "fridges".into(),
            kind: None,
        };
        let watch = node.change_watch(&me, &add).unwrap().unwrap();
        assert_eq!(watch.id, "fridges");
        // What was there before the watch is not news.
        assert!(node.news(&me, &[], true).unwrap()[0].found.is_empty());
        node.admit(
            &[
                experiment(&identity, "more-fridges", "More fridges", 1),
                experiment(&identity, "drones", "Drones for surveys", 1),
                experiment(&identity, "fridges", "Community fridges, now in schools", 2),
            ],
            crate::Source::Import,
        )
        .unwrap();
        let news = node.news(&me, &[], false).unwrap();
        let mut titles: Vec<&str> = news[0].found.iter().map(|f| f.hit.title.as_str()).collect();
        titles.sort_unstable();
        assert_eq!(
            titles,
            ["Community fridges, now in schools", "More fridges"]
        );
        // A watch added now starts from now, whatever the others have not seen yet.
        let drones = WatchChange::Add {
            text: "drones".into(),
            kind: None,
        };
        node.change_watch(&me, &drones).unwrap();
        node.admit(
            &[experiment(&identity, "roof-drones", "Drones for roofs", 1)],
            crate::Source::Import,
        )
        .unwrap();
        let news = node.news(&me, &[], false).unwrap();
        let titles = |id: &str| -> Vec<String> {
            let each = news.iter().find(|n| n.watch.id == id).unwrap();
            let mut titles: Vec<String> = each.found.iter().map(|f| f.hit.title.clone()).collect();
            titles.sort_unstable();
            titles
        };
        assert_eq!(titles("drones"), ["Drones for roofs"]);
        assert_eq!(titles("fridges").len(), 2);
        node.change_watch(
            &me,
            &WatchChange::Remove {
                id: "drones".into(),
            },
        )
        .unwrap();
        // Without marking, looking again shows the same; marked, they are no longer news.
        assert_eq!(node.news(&me, &[], true).unwrap()[0].found.len(), 2);
        assert!(node.news(&me, &[], true).unwrap()[0].found.is_empty());
        // Another follower's watches are their own.
        assert!(
            node.watches(&Watcher::Account("Sam".into()))
                .unwrap()
                .is_empty()
        );
        assert_eq!(node.change_watch(&me, &add).unwrap().unwrap().id, "fridges");
        node.change_watch(
            &me,
            &WatchChange::Remove {
                id: "fridges".into(),
            },
        )
        .unwrap();
        assert!(node.watches(&me).unwrap().is_empty());
        assert!(
            node.change_watch(
                &me,
                &WatchChange::Remove {
                    id: "fridges".into()
                }
            )
            .is_err()
        );
    }
}
