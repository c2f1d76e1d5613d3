//! The admission step: whether a verified record may enter the store.
//!
//! Every record that enters the store passes [`admit`] first, whatever path it came by (own
//! publish or retraction, JSON Lines or CSV import, gossip, catch-up sync): the store's batch
//! asks it once per record, with what the store holds at the record's address, and writes only
//! what it accepts. It is a pure function: no I/O, no clock, no randomness, so the same record
//! and the same state give the same answer on every node.
//!
//! Two rules hold for every record, in this order:
//! 1. **The version rule** — at one address the higher `seq` wins, and at equal `seq` the lower
//!    id; a record that does not win is *ignored* (it is a duplicate or stale, not wrong).
//! 2. **The retraction rule** — a retraction is a version like any other, and it stays as a
//!    tombstone: an older version arriving after it is stale by rule 1, so retracted content
//!    never comes back (the outcome says the held version is a retraction).
//!
//! Before them, a record whose author this node's operator blocked is *rejected*
//! (`convene block`), and so is one signed by a key whose word has ended — revoked, rotated or
//! recovered — unless the succession about the key keeps it (see [`crate::keys`]): a revoked
//! key cannot backdate. After them, the networks the node replicates place the record (see
//! [`crate::networks`]): one published into a members-only network by a non-member is
//! *rejected*, one in no network this node replicates *ignored*. Then the node's [`Policy`] —
//! its local rules — may *reject* what the version rule would store. To add a rule, implement [`Rule`] and add it
//! to the policy the node runs with ([`crate::Node::set_policy`],
//! [`crate::daemon::RunOptions::policy`]).

use std::collections::HashSet;

use std::sync::Arc;

use convene_protocol::keys::Successions;
use convene_protocol::{AuthorKey, Kind, Record, Version};

use crate::networks::{Networks, Placement};

/// Where a record came from on its way to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Signed here: a publish, a retraction, a row of a CSV import.
    Own,
    /// A JSON Lines import, or salvage from a damaged store.
    Import,
    /// Gossip from a connected peer.
    Gossip,
    /// Catch-up sync with a peer.
    Sync,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Own => "own",
            Source::Import => "import",
            Source::Gossip => "gossip",
            Source::Sync => "sync",
        }
    }
}

/// What the store holds at a record's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    pub version: Version,
    pub retracted: bool,
}

/// Why a record was not stored although nothing is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// This exact record is already held.
    Duplicate,
    /// The held version wins over this one; `retracted` says the held version is a retraction.
    Stale { held: Version, retracted: bool },
    /// It is in no network this node replicates (see [`crate::networks`]).
    Elsewhere(String),
}

/// The decision about one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Store it as the latest version at its address.
    Accept,
    /// Do not store it; nothing is wrong with it.
    Ignore(Ignored),
    /// Do not store it: a rule of this node's policy refuses it, for this reason.
    Reject(String),
}

/// One local rule of admission: may this record enter, having won its version contest?
pub trait Rule: std::fmt::Debug + Send + Sync {
    /// `Err(reason)` refuses the record; the reason is shown to whoever offered it.
    fn check(&self, record: &Record, source: Source) -> Result<(), String>;
}

/// The local rules a node admits records by. The default policy has none: every record that
/// wins its version contest is stored.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    rules: Vec<Arc<dyn Rule>>,
    /// Authors whose records are refused, whatever they are.
    blocked: Arc<HashSet<AuthorKey>>,
    /// The networks this node replicates and the charters it holds: a record for a
    /// members-only network by a non-member is refused, one for no network this node
    /// replicates ignored.
    networks: Option<Arc<Networks>>,
    /// The verdicts on keys whose word has ended.
    successions: Option<Arc<Successions>>,
}

impl Policy {
    /// This policy, refusing every record of `blocked` authors as well.
    pub fn blocking(mut self, blocked: Arc<HashSet<AuthorKey>>) -> Policy {
        self.blocked = blocked;
        self
    }

    /// This policy, placing records by `networks` as well.
    pub fn placing(mut self, networks: Arc<Networks>) -> Policy {
        self.networks = Some(networks);
        self
    }

    /// This policy, refusing what a key signed beyond the cut-off of a succession as well.
    pub fn succeeding(mut self, successions: Arc<Successions>) -> Policy {
        self.successions = Some(successions);
        self
    }

    /// A policy with `rule` added after the existing ones.
    pub fn with(mut self, rule: impl Rule + 'static) -> Policy {
        self.rules.push(Arc::new(rule));
        self
    }
}

/// Decides whether `record`, offered from `source`, enters a store that holds `held` at its
/// address.
pub fn admit(record: &Record, held: Option<Held>, source: Source, policy: &Policy) -> Admission {
    if policy.blocked.contains(&record.header().author) {
        return Admission::Reject("its author is blocked on this node".into());
    }
    if let Some(verdict) = policy
        .successions
        .as_ref()
        .and_then(|successions| successions.verdict(&record.header().author))
        && record.header().kind != Kind::Succession
        && !verdict.keeps(&record.id())
    {
        return Admission::Reject(format!(
            "its author's key was {}, and this record is not among those kept from before",
            verdict.describe()
        ));
    }
    let version = record.version();
    if let Some(held) = held {
        if held.version.id == version.id {
            return Admission::Ignore(Ignored::Duplicate);
        }
        if version <= held.version {
            return Admission::Ignore(Ignored::Stale {
                held: held.version,
                retracted: held.retracted,
            });
        }
    }
    if let Some(networks) = &policy.networks {
        match networks.place(record, source == Source::Own) {
            Placement::Keep => {}
            Placement::Elsewhere(reason) => return Admission::Ignore(Ignored::Elsewhere(reason)),
            Placement::Refused(reason) => return Admission::Reject(reason),
        }
    }
    for rule in &policy.rules {
        if let Err(reason) = rule.check(record, source) {
            return Admission::Reject(reason);
        }
    }
    Admission::Accept
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_protocol::{Content, Identity, Lesson, Slug};

    fn lesson(seq: u64, title: &str) -> Record {
        let identity = Identity::from_secret([9; 32]);
        let content = Content::Lesson(Lesson {
            title: title.into(),
            summary: "s".into(),
            ..Lesson::default()
        });
        Record::sign(
            &identity,
            Slug::new("l").unwrap(),
            seq,
            1_700_000_000,
            content,
        )
        .unwrap()
    }

    fn held(record: &Record) -> Option<Held> {
        Some(Held {
            version: record.version(),
            retracted: record.is_retraction(),
        })
    }

    #[derive(Debug)]
    struct OnlyFrom(Source);

    impl Rule for OnlyFrom {
        fn check(&self, _: &Record, source: Source) -> Result<(), String> {
            if source == self.0 {
                Ok(())
            } else {
                Err(format!("only {} records", self.0.as_str()))
            }
        }
    }

    #[test]
    fn a_newer_version_is_accepted_and_an_older_one_ignored() {
        let (v1, v2) = (lesson(1, "a"), lesson(2, "b"));
        let open = Policy::default();
        assert_eq!(admit(&v1, None, Source::Gossip, &open), Admission::Accept);
        assert_eq!(
            admit(&v2, held(&v1), Source::Gossip, &open),
            Admission::Accept
        );
        assert_eq!(
            admit(&v1, held(&v2), Source::Gossip, &open),
            Admission::Ignore(Ignored::Stale {
                held: v2.version(),
                retracted: false
            })
        );
        assert_eq!(
            admit(&v2, held(&v2), Source::Sync, &open),
            Admission::Ignore(Ignored::Duplicate)
        );
    }

    #[test]
    fn a_blocked_author_is_refused_whatever_the_record() {
        let (v1, v2) = (lesson(1, "a"), lesson(2, "b"));
        let author = v1.header().author;
        let policy = Policy::default().blocking(Arc::new([author].into_iter().collect()));
        for source in [Source::Own, Source::Import, Source::Gossip, Source::Sync] {
            assert!(matches!(
                admit(&v2, held(&v1), source, &policy),
                Admission::Reject(reason) if reason.contains("blocked")
            ));
        }
    }

    #[test]
    fn a_key_past_its_cut_off_is_refused_from_every_source_but_what_it_kept() {
        let (kept, later) = (lesson(1, "a"), lesson(2, "b"));
        let identity = Identity::from_secret([9; 32]);
        let retirement = convene_protocol::Succession {
            subject: identity.author(),
            successor: None,
            accepted: None,
            declaration: None,
            kept: vec![kept.id()],
            reason: None,
        };
        let statement = Record::sign(
            &identity,
            convene_protocol::Succession::slug_for(&identity.author()),
            1,
            1_700_000_000,
            Content::Succession(retirement.clone()),
        )
        .unwrap();
        let successions = convene_protocol::keys::Successions::new(
            &[convene_protocol::keys::Statement {
                author: identity.author(),
                succession: &retirement,
            }],
            |_, _| false,
        );
        let policy = Policy::default().succeeding(Arc::new(successions));
        for source in [Source::Own, Source::Import, Source::Gossip, Source::Sync] {
            assert_eq!(admit(&kept, None, source, &policy), Admission::Accept);
            assert!(matches!(
                admit(&later, held(&kept), source, &policy),
                Admission::Reject(reason) if reason.contains("retired by its holder")
            ));
            // The statement itself is not cut off by what it says.
            assert_eq!(admit(&statement, None, source, &policy), Admission::Accept);
        }
    }

    #[test]
    fn a_rule_rejects_only_what_would_otherwise_be_stored() {
        let (v1, v2) = (lesson(1, "a"), lesson(2, "b"));
        let policy = Policy::default().with(OnlyFrom(Source::Own));
        assert_eq!(admit(&v1, None, Source::Own, &policy), Admission::Accept);
        assert_eq!(
            admit(&v2, held(&v1), Source::Gossip, &policy),
            Admission::Reject("only own records".into())
        );
        // The version rule answers first: a stale record is ignored, not rejected.
        assert!(matches!(
            admit(&v1, held(&v2), Source::Gossip, &policy),
            Admission::Ignore(Ignored::Stale { .. })
        ));
    }
}
