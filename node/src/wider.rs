//! Search beyond what this node holds: it asks its connected peers to run a query on their own
//! index ([`convene_protocol::wire::Request::Search`]), waits a bounded time, and merges what
//! they send. Nothing a peer sends is taken on its word:
//!
//! - every record is verified (signature, layout, content) — a peer cannot forge or alter one;
//! - what this node's own rules exclude is dropped: a blocked author, a key past its cut-off, a
//!   record this node holds a tombstone or a newer version of (the newer is shown instead);
//! - results are merged by address keeping the latest version, and ranked here, by the query's
//!   words in the title, summary and tags, then by how many peers sent it;
//! - the answer says which peers answered, which refused or timed out, and how many records each
//!   sent that did not verify.
//!
//! A peer answers only with records the asker may see: [`crate::Node::answer_search`] filters
//! by the same rule as sync (members-only records go only to members' nodes).

use std::collections::HashMap;

use convene_protocol::{AuthorKey, Content, Kind, Record};
use serde::{Deserialize, Serialize};

use crate::trust::Trust;
use crate::{NodeError, trust};

/// The longest a wider search waits for peers, in milliseconds.
pub const MAX_WAIT_MS: u64 = 10_000;
/// How long a wider search waits unless told otherwise, in milliseconds.
pub const DEFAULT_WAIT_MS: u64 = 2_000;
/// Most peers one wider search asks.
pub const MAX_PEERS: usize = 32;

/// A wider search, as the CLI and the page ask it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WiderQuery {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// Results wanted, 1 to 50 (0: 10).
    #[serde(default)]
    pub limit: u16,
    /// How long to wait for peers, in milliseconds (0: 2,000; at most 10,000).
    #[serde(default)]
    pub wait_ms: u64,
}

impl WiderQuery {
    /// The query with its numbers bounded, or why it cannot be sent.
    pub fn bounded(mut self) -> Result<WiderQuery, NodeError> {
        let max = convene_protocol::wire::MAX_SEARCH_RESULTS;
        self.limit = match self.limit {
            0 => 10,
            n => n.min(max),
        };
        self.wait_ms = match self.wait_ms {
            0 => DEFAULT_WAIT_MS,
            n => n.min(MAX_WAIT_MS),
        };
        self.text = self.text.trim().to_string();
        if self.text.len() > convene_protocol::wire::MAX_SEARCH_TEXT {
            return Err(NodeError::Invalid(format!(
                "the query is {} bytes; a wider search carries at most {}",
                self.text.len(),
                convene_protocol::wire::MAX_SEARCH_TEXT
            )));
        }
        Ok(self)
    }
}

/// What one peer did with the query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PeerOutcome {
    /// It answered with this many records, of which `invalid` did not verify.
    Answered {
        records: usize,
        invalid: usize,
    },
    Refused {
        reason: String,
    },
    TimedOut,
    Failed {
        reason: String,
    },
}

/// One peer's part in a wider search.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerAnswer {
    pub peer: String,
    /// The organisation its node is bound to, as this node knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    #[serde(flatten)]
    pub outcome: PeerOutcome,
}

/// What a peer sent back, before it is checked.
#[derive(Clone, Debug)]
pub enum PeerReply {
    Records(Vec<Vec<u8>>),
    Refused(String),
    TimedOut,
    Failed(String),
}

/// One result of a wider search.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WiderHit {
    pub address: String,
    pub kind: Kind,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The author's organisation as this node knows it, and how.
    pub trust: Trust,
    /// The peers that sent it.
    pub from: Vec<String>,
    /// This node already holds this version (or a newer one).
    pub held: bool,
    /// The signed record, base64 (to keep it: `convene search --wider --keep`).
    pub record: String,
}

/// The merged answer of a wider search.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WiderSearch {
    pub results: Vec<WiderHit>,
    pub peers: Vec<PeerAnswer>,
}

impl crate::Node {
    /// Answers a peer's search: the best matches for `text` (of `kind`) that a node bound to
    /// `organisations` may receive, as signed bytes, at most `limit` and the records budget.
    pub fn answer_search(
        &self,
        organisations: &[AuthorKey],
        text: &str,
        kind: Option<Kind>,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, NodeError> {
        let networks = self.networks()?;
        let hits = self.search(&convene_search::Query {
            text: text.to_string(),
            kind,
            // Some hits may be withheld from this peer: look a little further.
            limit: limit.saturating_mul(3),
            ..convene_search::Query::default()
        })?;
        let mut out = Vec::new();
        let mut bytes = 0;
        for hit in hits {
            let Some(record) = self.store().get(&hit.address)? else {
                continue;
            };
            if record.is_retraction() || !self.may_send(&networks, organisations, &record) {
                continue;
            }
            bytes += record.bytes().len();
            if bytes > convene_protocol::wire::RECORDS_BUDGET || out.len() == limit {
                break;
            }
            out.push(record.into_bytes());
        }
        Ok(out)
    }

    /// Checks and merges what peers sent for `query` (see the module documentation).
    pub fn merge_wider(
        &self,
        query: &WiderQuery,
        replies: Vec<(String, PeerReply)>,
    ) -> Result<WiderSearch, NodeError> {
        let now = crate::now();
        let names = self.names()?;
        let successions = self.successions()?;
        let networks = self.networks()?;
        let blocked = self.blocks()?;
        let words = words(&query.text);
        let mut merged: HashMap<String, (Record, Vec<String>)> = HashMap::new();
        let mut peers = Vec::with_capacity(replies.len());
        for (peer, reply) in replies {
            let organisation = networks
                .organisations_of(&peer)
                .first()
                .and_then(|org| names.name_of(org).map(str::to_string));
            let outcome = match reply {
                PeerReply::Refused(reason) => PeerOutcome::Refused { reason },
                PeerReply::TimedOut => PeerOutcome::TimedOut,
                PeerReply::Failed(reason) => PeerOutcome::Failed { reason },
                PeerReply::Records(records) => {
                    let (sent, mut invalid) = (records.len(), 0);
                    for bytes in records {
                        let Ok(record) = Record::from_bytes(bytes, now) else {
                            invalid += 1;
                            continue;
                        };
                        let author = record.header().author;
                        let wanted = !record.is_retraction()
                            && query.kind.is_none_or(|kind| kind == record.header().kind)
                            && matches!(
                                record.header().kind,
                                Kind::Experiment
                                    | Kind::Practitioner
                                    | Kind::Lesson
                                    | Kind::Organisation
                            )
                            && !blocked.iter().any(|(key, _)| *key == author)
                            && successions.counts(&author, &record.id());
                        if !wanted {
                            continue;
                        }
                        let key = record.address().to_string();
                        match merged.get_mut(&key) {
                            Some((kept, from)) => {
                                if record.version() > kept.version() {
                                    *kept = record;
                                }
                                if !from.contains(&peer) {
                                    from.push(peer.clone());
                                }
                            }
                            None => {
                                merged.insert(key, (record, vec![peer.clone()]));
                            }
                        }
                    }
                    PeerOutcome::Answered {
                        records: sent,
                        invalid,
                    }
                }
            };
            peers.push(PeerAnswer {
                peer,
                organisation,
                outcome,
            });
        }
        let mut results = Vec::with_capacity(merged.len());
        for (_, (record, from)) in merged {
            // What this node holds decides: a tombstone hides it, a newer version replaces it.
            let held = self.store().get(&record.address())?;
            let (record, held) = match held {
                Some(mine) if mine.version() >= record.version() => {
                    if mine.is_retraction() {
                        continue;
                    }
                    (mine, true)
                }
                _ => (record, false),
            };
            let Some(content) = record.content() else {
                continue;
            };
            results.push((
                score(&words, content),
                from.len(),
                hit(&names, &record, content, from, held),
            ));
        }
        results.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(b.1.cmp(&a.1))
                .then_with(|| a.2.title.cmp(&b.2.title))
                .then_with(|| a.2.address.cmp(&b.2.address))
        });
        Ok(WiderSearch {
            results: results
                .into_iter()
                .take(usize::from(query.limit.max(1)))
                .map(|(_, _, hit)| hit)
                .collect(),
            peers,
        })
    }
}

fn hit(
    names: &trust::Names,
    record: &Record,
    content: &Content,
    mut from: Vec<String>,
    held: bool,
) -> WiderHit {
    use base64::Engine;
    from.sort();
    let summary = match content {
        Content::Experiment(e) => Some(e.summary.clone()),
        Content::Lesson(l) => Some(l.summary.clone()),
        Content::Practitioner(p) => p.role.clone(),
        Content::Organisation(o) => o.description.clone(),
        _ => None,
    };
    WiderHit {
        address: record.address().to_string(),
        kind: record.header().kind,
        title: content.title().to_string(),
        summary,
        trust: names.assess(&record.header().author),
        from,
        held,
        record: base64::engine::general_purpose::STANDARD.encode(record.bytes()),
    }
}

/// The query's words, folded for matching.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().count() > 1)
        .map(crate::trust::fold)
        .collect()
}

/// How well `content` matches: each word in the title counts 3, in the tags 2, in the summary 1.
fn score(words: &[String], content: &Content) -> u32 {
    let title = crate::trust::fold(content.title());
    let (summary, tags): (String, String) = match content {
        Content::Experiment(e) => (
            crate::trust::fold(&e.summary),
            crate::trust::fold(&e.tags.join(" ")),
        ),
        Content::Lesson(l) => (
            crate::trust::fold(&l.summary),
            crate::trust::fold(&l.tags.join(" ")),
        ),
        Content::Practitioner(p) => (
            crate::trust::fold(p.role.as_deref().unwrap_or("")),
            crate::trust::fold(&p.expertise.join(" ")),
        ),
        Content::Organisation(o) => (
            crate::trust::fold(o.description.as_deref().unwrap_or("")),
            String::new(),
        ),
        _ => (String::new(), String::new()),
    };
    let has = |text: &str, word: &str| text.split(' ').any(|w| w == word);
    words
        .iter()
        .map(|word| {
            3 * u32::from(has(&title, word))
                + 2 * u32::from(has(&tags, word))
                + u32::from(has(&summary, word))
        })
        .sum()
}
