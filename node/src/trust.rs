//! Who published a record, as this node knows it: the trust path.
//!
//! A record's organisation is its author's — the key that signed it — never the free text a
//! draft puts in its `organisation` field. What this node calls an author, and why, is decided
//! here from what the node holds, as pure functions of it:
//!
//! 1. **own** — the author is this node's own identity;
//! 2. **pinned** — the node's operator said who this key is (`convene trust KEY --as NAME`), the
//!    strongest link there is;
//! 3. **verified** — the author's profile names a web domain, and the domain serves a proof
//!    listing the key (checked by this node itself, within the last 30 days);
//! 4. **vouched** — an organisation this node trusts (its own identity, or one it pinned) signed
//!    a vouch for the key that has not expired: one hop, never more, so trust does not spread
//!    through chains of strangers;
//! 5. **unverified** — the author's own organisation profile names it: a claim, shown as one
//!    (with why its domain, if it names one, did not verify);
//! 6. **unknown** — no profile has arrived: only the key is known.
//!
//! Two authors known under the same name (case and spacing aside) are flagged as a conflict on
//! both, never merged: an impostor's profile cannot take a name over, it can only get itself
//! flagged next to the real holder.

use std::collections::HashMap;

use convene_protocol::keys::{Authority, Successions};
use convene_protocol::{AuthorKey, Date, Vouch};

use crate::domains::{CHECK_VALID_SECS, DomainCheck};
use serde::{Deserialize, Serialize};

/// The operator's word about who a key is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub name: String,
    /// How the operator knows (e.g. "checked by phone").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Unix seconds when the pin was made.
    pub at: i64,
}

/// The operator's refusal of an author: its records are purged and refused from then on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub reason: String,
    /// Unix seconds when the block was made.
    pub at: i64,
}

/// A pin's name and note: not blank, within their limits, no control characters.
pub fn check_pin(pin: &Pin) -> Result<(), String> {
    if pin.name.trim().is_empty() {
        return Err("the name is empty".into());
    }
    check_text("name", &pin.name, crate::limits::PIN_NAME_CHARS)?;
    if let Some(note) = &pin.note {
        check_text("note", note, crate::limits::PIN_NOTE_CHARS)?;
    }
    Ok(())
}

/// A block's reason: given, within its limit, no control characters.
pub fn check_block(block: &Block) -> Result<(), String> {
    if block.reason.trim().is_empty() {
        return Err("give a reason for the block (--reason)".into());
    }
    check_text("reason", &block.reason, crate::limits::BLOCK_REASON_CHARS)
}

fn check_text(what: &str, text: &str, max: usize) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > max {
        return Err(format!(
            "the {what} is {chars} characters, over the limit of {max}"
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(format!("the {what} has a control character"));
    }
    Ok(())
}

/// Why this node calls an author what it does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum Basis {
    /// This node's own identity.
    Own,
    /// Pinned by this node's operator.
    Pinned {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Its profile's domain serves a proof of the key, as this node checked.
    Verified { domain: String },
    /// Organisations this node trusts vouch for it.
    Vouched { by: Vec<AuthorKey> },
    /// An organisation's signed delegation says this key acts for it, in this role.
    Delegated {
        by: AuthorKey,
        role: String,
        /// Why the delegation looks stale, if it does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stale: Option<String>,
    },
    /// The key succeeds another (a rotation or a recovery): it goes by that key's name and
    /// trust.
    Succeeds { from: AuthorKey, how: Authority },
    /// Only the author's own profile says so.
    Unverified,
    /// No organisation profile from this author has arrived.
    Unknown,
}

/// How this node knows who an author is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Trust {
    #[schema(value_type = String)]
    pub author: AuthorKey,
    /// What this node calls the author: the pinned name, else the profile's.
    pub name: Option<String>,
    /// `basis` (own, pinned, domain, vouched, delegated, succeeds, self_described, …) and its
    /// details.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub basis: Basis,
    /// Other authors this node knows under the same name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub conflicts: Vec<AuthorKey>,
    /// The whole path in words, as the command shows it.
    pub path: String,
}

/// A search result with its author's trust path.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Found {
    #[serde(flatten)]
    pub hit: convene_search::Hit,
    pub trust: Trust,
    /// The networks whose convenors feature it ("featured by …").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub featured: Vec<String>,
}

/// Names compared for conflicts: case, accents aside, and runs of spaces and punctuation
/// folded, so "Ashdown Vale  District council" and "ashdown vale district council." collide.
pub fn fold(name: &str) -> String {
    let mut folded = String::with_capacity(name.len());
    for word in name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
    {
        if !folded.is_empty() {
            folded.push(' ');
        }
        folded.extend(word.chars().flat_map(char::to_lowercase));
    }
    folded
}

/// Everything the node knows about authors' names: their profiles and the operator's pins.
#[derive(Clone, Debug, Default)]
pub struct Names {
    profiles: HashMap<AuthorKey, String>,
    pins: HashMap<AuthorKey, Pin>,
    /// Subject → the vouches for it that count: from trusted vouchers, not expired; the
    /// voucher and the name it gives, own vouches first, then by voucher key.
    vouched: HashMap<AuthorKey, Vec<(AuthorKey, String)>>,
    /// Voucher → every subject its live vouches name, counted or not.
    subjects: HashMap<AuthorKey, Vec<AuthorKey>>,
    /// Author → the domain its profile names, and this node's last check of it, if any.
    domains: HashMap<AuthorKey, (String, Option<DomainCheck>)>,
    /// Unix seconds the names were built at (whether a check is recent enough).
    now: Option<i64>,
    owner: Option<AuthorKey>,
    /// Folded name → the authors known under it.
    holders: HashMap<String, Vec<AuthorKey>>,
    /// Delegate → the organisation it acts for and its role, by an unexpired delegation.
    delegated: HashMap<AuthorKey, (AuthorKey, String)>,
    /// Delegate → why its delegation is stale: it names a person whose practitioner record
    /// now goes by another name.
    stale: HashMap<AuthorKey, String>,
    /// The verdicts on keys whose word has ended.
    successions: std::sync::Arc<Successions>,
}

/// What the node holds that decides names: profiles, pins and vouches, and who it is.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    pub profiles: Vec<(AuthorKey, String)>,
    pub pins: Vec<(AuthorKey, Pin)>,
    /// (voucher, vouch), live ones.
    pub vouches: Vec<(AuthorKey, Vouch)>,
    /// This node's own identity.
    pub owner: Option<AuthorKey>,
    /// Vouches that expired before this day do not count.
    pub today: Option<Date>,
    /// Author → the domain its profile names.
    pub profile_domains: Vec<(AuthorKey, String)>,
    /// This node's last check of each author's domain.
    pub domain_checks: Vec<(AuthorKey, DomainCheck)>,
    /// Unix seconds now: a check older than `domains::CHECK_VALID_SECS` does not count.
    pub now: Option<i64>,
    /// (organisation, delegation), live ones: unexpired ones make their delegates act for the
    /// organisation.
    pub delegations: Vec<(AuthorKey, convene_protocol::Delegation)>,
    /// The verdicts on keys whose word has ended: a successor goes by its predecessor's
    /// name and trust; an ended key's path says how it ended.
    pub successions: std::sync::Arc<Successions>,
    /// (key, name) of the practitioner records delegates publish: a delegation that names
    /// a person whose record goes by another name now is stale.
    pub people: Vec<(AuthorKey, String)>,
}

impl Names {
    /// From each author's profile name and the pins (no vouches, no owner).
    pub fn new(
        profiles: impl IntoIterator<Item = (AuthorKey, String)>,
        pins: impl IntoIterator<Item = (AuthorKey, Pin)>,
    ) -> Names {
        Names::from_evidence(Evidence {
            profiles: profiles.into_iter().collect(),
            pins: pins.into_iter().collect(),
            ..Evidence::default()
        })
    }

    /// The names everything the node holds gives. A pure function of the evidence: the same
    /// profiles, pins and vouches, in any order, give the same names.
    pub fn from_evidence(evidence: Evidence) -> Names {
        let mut names = Names {
            profiles: evidence.profiles.into_iter().collect(),
            pins: evidence.pins.into_iter().collect(),
            vouched: HashMap::new(),
            subjects: HashMap::new(),
            domains: HashMap::new(),
            now: evidence.now,
            owner: evidence.owner,
            holders: HashMap::new(),
            delegated: HashMap::new(),
            stale: HashMap::new(),
            successions: evidence.successions,
        };
        let mut delegations = evidence.delegations;
        // The first organisation (by key) wins when several delegate one key: every node
        // holding the same delegations agrees.
        delegations.sort_by_key(|(organisation, _)| *organisation);
        for (organisation, delegation) in delegations {
            let current = evidence
                .today
                .is_none_or(|today| delegation.expires >= today);
            if current
                && delegation.delegate != organisation
                && !names.delegated.contains_key(&delegation.delegate)
            {
                let delegate = delegation.delegate;
                let now_called: Vec<&String> = evidence
                    .people
                    .iter()
                    .filter(|(key, _)| *key == delegate)
                    .map(|(_, name)| name)
                    .collect();
                if let Some(person) = &delegation.person
                    && !now_called.is_empty()
                    && !now_called.iter().any(|name| fold(name) == fold(person))
                {
                    let mut now_called: Vec<&str> = now_called.iter().map(|n| n.as_str()).collect();
                    now_called.sort();
                    names.stale.insert(
                        delegate,
                        format!(
                            "the delegation names {person}; the person's record says {}",
                            now_called.join(" / ")
                        ),
                    );
                }
                names
                    .delegated
                    .insert(delegate, (organisation, delegation.role));
            }
        }
        let mut checks: HashMap<AuthorKey, DomainCheck> =
            evidence.domain_checks.into_iter().collect();
        for (author, domain) in evidence.profile_domains {
            let check = checks.remove(&author);
            names.domains.insert(author, (domain, check));
        }
        for (voucher, vouch) in evidence.vouches {
            names
                .subjects
                .entry(voucher)
                .or_default()
                .push(vouch.subject);
            let trusted = names.owner == Some(voucher) || names.pins.contains_key(&voucher);
            let current = evidence.today.is_none_or(|today| vouch.expires >= today);
            if trusted && current && vouch.subject != voucher {
                names
                    .vouched
                    .entry(vouch.subject)
                    .or_default()
                    .push((voucher, vouch.name));
            }
        }
        let owner = names.owner;
        for vouches in names.vouched.values_mut() {
            vouches.sort_by(|a, b| {
                (owner != Some(a.0), a.0, &a.1).cmp(&(owner != Some(b.0), b.0, &b.1))
            });
            vouches.dedup_by_key(|(voucher, _)| *voucher);
        }
        let authors: Vec<AuthorKey> = names
            .profiles
            .keys()
            .chain(names.pins.keys())
            .chain(names.vouched.keys())
            .chain(names.delegated.keys())
            .copied()
            .collect();
        for author in authors {
            let Some(name) = names.name_of(&author) else {
                continue;
            };
            let holders = names.holders.entry(fold(name)).or_default();
            if !holders.contains(&author) {
                holders.push(author);
            }
        }
        for holders in names.holders.values_mut() {
            holders.sort();
        }
        names
    }

    /// What this node calls `author`: the pinned name, else (for a verified domain) the
    /// profile's, else the name a trusted voucher gives, else the profile's.
    pub fn name_of(&self, author: &AuthorKey) -> Option<&str> {
        self.pins
            .get(author)
            .map(|pin| pin.name.as_str())
            .or_else(|| {
                // A delegate goes by the name of the organisation it acts for.
                let (organisation, _) = self.delegated.get(author)?;
                self.direct_name(organisation)
            })
            .or_else(|| self.verified_domain(author).and(self.direct_name(author)))
            .or_else(|| self.inherited_name(author))
            .or_else(|| self.direct_name(author))
    }

    /// The name of the nearest key `author` succeeds that has one.
    fn inherited_name(&self, author: &AuthorKey) -> Option<&str> {
        self.successions
            .predecessors(author)
            .iter()
            .find_map(|before| self.direct_name(before))
    }

    /// The organisation a key speaks for: the one it is a delegate of, else itself, at the
    /// end of its chain of successions.
    fn organisation_of(&self, key: &AuthorKey) -> AuthorKey {
        let key = self.delegated.get(key).map_or(*key, |(by, _)| *by);
        self.successions.current(&key)
    }

    /// The nearest key `author` succeeds, and how.
    fn succeeds(&self, author: &AuthorKey) -> Option<(AuthorKey, Authority)> {
        let before = *self.successions.predecessors(author).first()?;
        let how = self.successions.verdict(&before)?.how;
        Some((before, how))
    }

    /// Whether `key` acts for an organisation by an unexpired delegation.
    pub fn is_delegate(&self, key: &AuthorKey) -> bool {
        self.delegated.contains_key(key)
    }

    /// The keys that act for `organisation` by its unexpired delegations.
    pub fn delegates_of(&self, organisation: &AuthorKey) -> Vec<AuthorKey> {
        let mut out: Vec<AuthorKey> = self
            .delegated
            .iter()
            .filter(|(_, (by, _))| by == organisation)
            .map(|(delegate, _)| *delegate)
            .collect();
        out.sort();
        out
    }

    /// [`Names::name_of`] without delegations: the pin, the verified profile, the counted
    /// vouches' name, the profile.
    fn direct_name(&self, author: &AuthorKey) -> Option<&str> {
        self.pins
            .get(author)
            .map(|pin| pin.name.as_str())
            .or_else(|| {
                self.verified_domain(author)
                    .and(self.profiles.get(author).map(String::as_str))
            })
            .or_else(|| {
                self.vouched
                    .get(author)
                    .and_then(|vouches| vouches.first())
                    .map(|(_, name)| name.as_str())
            })
            .or_else(|| self.profiles.get(author).map(String::as_str))
    }

    /// The domain `author` is verified for: its profile names it, and this node's check of it
    /// succeeded within [`CHECK_VALID_SECS`].
    pub fn verified_domain(&self, author: &AuthorKey) -> Option<&str> {
        let (domain, check) = self.domains.get(author)?;
        let check = check.as_ref()?;
        let recent = self
            .now
            .is_none_or(|now| now - check.at <= CHECK_VALID_SECS);
        (check.verified && check.domain == *domain && recent).then_some(domain.as_str())
    }

    /// Why `author`'s domain is not verified, if its profile names one.
    fn unverified_domain(&self, author: &AuthorKey) -> Option<String> {
        let (domain, check) = self.domains.get(author)?;
        if self.verified_domain(author).is_some() {
            return None;
        }
        Some(match check {
            Some(check) if check.domain != *domain => format!("{domain} not checked yet"),
            Some(check) if check.verified => format!("{domain} last verified too long ago"),
            Some(check) => format!(
                "{domain} did not verify: {}",
                check.reason.as_deref().unwrap_or("no reason given")
            ),
            None => format!("{domain} not checked yet"),
        })
    }

    /// Authors whose profile names a domain that was never checked, or not since
    /// `recheck_secs`, or was checked under another domain.
    pub fn domains_due(&self, now: i64, recheck_secs: i64) -> Vec<(AuthorKey, String)> {
        self.domains
            .iter()
            .filter(|(_, (domain, check))| {
                check
                    .as_ref()
                    .is_none_or(|c| c.domain != *domain || now - c.at >= recheck_secs)
            })
            .map(|(author, (domain, _))| (*author, domain.clone()))
            .collect()
    }

    /// The subjects of `voucher`'s live vouches, whether they count or not.
    pub fn vouched_by(&self, voucher: &AuthorKey) -> Vec<AuthorKey> {
        self.subjects.get(voucher).cloned().unwrap_or_default()
    }

    /// The trust path of `author`.
    pub fn assess(&self, author: &AuthorKey) -> Trust {
        self.assess_as(author, true, true)
    }

    /// `delegation`: whether a delegation counts; `inherit`: whether a predecessor's trust
    /// does (off for the predecessor's own path, so that a cycle of successions cannot loop).
    fn assess_as(&self, author: &AuthorKey, delegation: bool, inherit: bool) -> Trust {
        let name = if delegation {
            self.name_of(author)
        } else {
            self.direct_name(author)
        }
        .map(str::to_string);
        let delegated = self.delegated.get(author).filter(|_| delegation);
        let succeeds = self.succeeds(author).filter(|_| inherit);
        let basis = if self.owner.as_ref() == Some(author) {
            Basis::Own
        } else if let Some(pin) = self.pins.get(author) {
            Basis::Pinned {
                note: pin.note.clone(),
            }
        } else if let Some((organisation, role)) = delegated {
            Basis::Delegated {
                by: *organisation,
                role: role.clone(),
                stale: self.stale.get(author).cloned(),
            }
        } else if let Some(domain) = self.verified_domain(author) {
            Basis::Verified {
                domain: domain.to_string(),
            }
        } else if let Some((from, how)) = succeeds {
            Basis::Succeeds { from, how }
        } else if let Some(vouches) = self.vouched.get(author) {
            Basis::Vouched {
                by: vouches.iter().map(|(voucher, _)| *voucher).collect(),
            }
        } else if name.is_some() {
            Basis::Unverified
        } else {
            Basis::Unknown
        };
        let conflicts: Vec<AuthorKey> = name
            .as_deref()
            .and_then(|name| self.holders.get(&fold(name)))
            .map(|holders| {
                // An organisation's delegates and the keys of one chain of successions are one
                // organisation, not a conflict.
                let ours = self.organisation_of(author);
                holders
                    .iter()
                    .filter(|h| *h != author && self.organisation_of(h) != ours)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        let mut path = path(author, name.as_deref(), &basis, &conflicts, self);
        if let Some(verdict) = self.successions.verdict(author) {
            path.push_str(&format!("; this key was {}", verdict.describe()));
            // Which organisations revoked it, by the names this node knows them by.
            if verdict.how == Authority::Organisation {
                let by: Vec<String> = verdict
                    .by
                    .iter()
                    .map(|org| {
                        self.direct_name(org)
                            .map_or_else(|| format!("key {}…", short(org)), str::to_string)
                    })
                    .collect();
                path.push_str(&format!(" ({})", by.join(", ")));
            }
            if let Some(successor) = verdict.successor {
                path.push_str(&format!(", continued by key {}…", short(&successor)));
            } else if verdict.disputed {
                path.push_str(
                    ", but its recovery keys name different successors: none is recognised",
                );
            }
        }
        Trust {
            author: *author,
            name,
            basis,
            conflicts,
            path,
        }
    }
}

fn short(author: &AuthorKey) -> String {
    author.to_base32()[..12].to_string()
}

fn path(
    author: &AuthorKey,
    name: Option<&str>,
    basis: &Basis,
    conflicts: &[AuthorKey],
    names: &Names,
) -> String {
    let name_or_key = name.map_or_else(|| format!("key {}…", short(author)), str::to_string);
    let mut path = match basis {
        Basis::Own => format!("{name_or_key} — this node's own identity"),
        Basis::Pinned { note: Some(note) } => {
            format!("{name_or_key} — pinned by this node ({note})")
        }
        Basis::Pinned { note: None } => format!("{name_or_key} — pinned by this node"),
        Basis::Vouched { by } => {
            let vouchers: Vec<String> = by
                .iter()
                .map(|voucher| {
                    let who = names
                        .name_of(voucher)
                        .map_or_else(|| format!("key {}…", short(voucher)), str::to_string);
                    let how = if names.owner == Some(*voucher) {
                        "this node"
                    } else {
                        "pinned"
                    };
                    format!("{who} ({how})")
                })
                .collect();
            format!("{name_or_key} — vouched for by {}", vouchers.join(", "))
        }
        Basis::Verified { domain } => format!("{name_or_key} — verified: {domain}"),
        Basis::Succeeds { from, how } => {
            // The predecessor's own path, without its conflicts (this key's are shown) or how
            // it ended (that is this key).
            let before = names.assess_as(from, true, false);
            let before_path = path(from, before.name.as_deref(), &before.basis, &[], names);
            let how = match how {
                Authority::Recovery => "recovery",
                _ => "rotation",
            };
            format!(
                "{name_or_key} — new key (by {how}) of key {}…: {}",
                short(from),
                before_path
            )
        }
        Basis::Delegated { by, role, stale } => {
            // The organisation's own path, one level: delegations do not chain.
            let organisation = names.assess_as(by, false, false);
            match stale {
                Some(why) => format!("{role}, delegated by {} — STALE: {why}", organisation.path),
                None => format!("{role}, delegated by {}", organisation.path),
            }
        }
        Basis::Unverified => match names.unverified_domain(author) {
            Some(why) => format!("unverified: calls itself {name_or_key} ({why})"),
            None => format!("unverified: calls itself {name_or_key}"),
        },
        Basis::Unknown => format!("unknown: {name_or_key}, no organisation profile"),
    };
    if !conflicts.is_empty() {
        let others: Vec<String> = conflicts
            .iter()
            .map(|other| {
                let how = if names.pins.contains_key(other) {
                    "pinned"
                } else {
                    "unverified"
                };
                format!("key {}… ({how})", short(other))
            })
            .collect();
        path.push_str(&format!(
            "; CONFLICT: the same name is used by {}",
            others.join(", ")
        ));
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> AuthorKey {
        AuthorKey([n; 32])
    }

    fn pin(name: &str) -> Pin {
        Pin {
            name: name.into(),
            note: Some("checked by phone".into()),
            at: 0,
        }
    }

    #[test]
    fn a_profile_is_a_claim_a_pin_is_the_operators_word() {
        let names = Names::new(
            [(key(1), "Leicestershire Police".to_string())],
            [(key(2), pin("Ashdown Vale District Council"))],
        );
        let claimed = names.assess(&key(1));
        assert_eq!(claimed.basis, Basis::Unverified);
        assert_eq!(
            claimed.path,
            "unverified: calls itself Leicestershire Police"
        );
        let pinned = names.assess(&key(2));
        assert!(matches!(pinned.basis, Basis::Pinned { .. }));
        assert!(
            pinned
                .path
                .contains("pinned by this node (checked by phone)")
        );
        assert_eq!(names.assess(&key(3)).basis, Basis::Unknown);
        let own = Names::from_evidence(Evidence {
            owner: Some(key(1)),
            ..Evidence::default()
        });
        assert_eq!(own.assess(&key(1)).basis, Basis::Own);
    }

    #[test]
    fn a_delegation_naming_a_person_whose_record_now_says_otherwise_is_stale() {
        let (organisation, person) = (key(1), key(2));
        let names = |named: Option<&str>, people: &[&str]| {
            Names::from_evidence(Evidence {
                profiles: vec![(organisation, "Leicestershire Police".into())],
                delegations: vec![(
                    organisation,
                    convene_protocol::Delegation {
                        delegate: person,
                        role: "Digital Lead".into(),
                        kinds: Vec::new(),
                        expires: "2099-01-01".parse().unwrap(),
                        consent: None,
                        person: named.map(str::to_string),
                    },
                )],
                people: people.iter().map(|n| (person, n.to_string())).collect(),
                ..Evidence::default()
            })
        };
        let fresh = names(Some("Sam Patel"), &["sam  patel"]).assess(&person);
        assert!(!fresh.path.contains("STALE"), "{}", fresh.path);
        // No record yet, or no name in the delegation: nothing to compare.
        assert!(
            !names(Some("Sam Patel"), &[])
                .assess(&person)
                .path
                .contains("STALE")
        );
        assert!(
            !names(None, &["Jo Bloggs"])
                .assess(&person)
                .path
                .contains("STALE")
        );
        let stale = names(Some("Sam Patel"), &["Jo Bloggs"]).assess(&person);
        assert!(
            stale.path.ends_with(
                "STALE: the delegation names Sam Patel; the person's record says Jo Bloggs"
            ),
            "{}",
            stale.path
        );
        assert!(matches!(
            stale.basis,
            Basis::Delegated { stale: Some(_), .. }
        ));
    }

    #[test]
    fn two_authors_under_one_name_are_flagged_on_both_never_merged() {
        let names = Names::new(
            [(key(9), "ashdown vale  district COUNCIL.".to_string())],
            [(key(2), pin("Ashdown Vale District Council"))],
        );
        let impostor = names.assess(&key(9));
        assert_eq!(impostor.conflicts, vec![key(2)]);
        assert!(impostor.path.starts_with("unverified: calls itself"));
        assert!(impostor.path.contains("CONFLICT"), "{}", impostor.path);
        assert!(impostor.path.contains("(pinned)"), "{}", impostor.path);
        let real = names.assess(&key(2));
        assert_eq!(real.conflicts, vec![key(9)]);
        assert_eq!(real.name.as_deref(), Some("Ashdown Vale District Council"));
    }

    #[test]
    fn a_pin_renames_and_its_old_profile_name_is_not_held() {
        let names = Names::new(
            [
                (key(1), "Old Name".to_string()),
                (key(2), "Old Name".to_string()),
            ],
            [(key(1), pin("New Name"))],
        );
        assert!(names.assess(&key(2)).conflicts.is_empty());
        assert_eq!(names.name_of(&key(1)), Some("New Name"));
    }
}

#[cfg(test)]
mod vouch_tests {
    use super::*;

    fn key(n: u8) -> AuthorKey {
        AuthorKey([n; 32])
    }

    fn vouch(subject: u8, name: &str, expires: &str) -> Vouch {
        Vouch {
            subject: key(subject),
            name: name.into(),
            expires: expires.parse().unwrap(),
            note: None,
        }
    }

    fn evidence(vouches: Vec<(AuthorKey, Vouch)>) -> Evidence {
        Evidence {
            profiles: vec![(key(3), "Calls Itself Three".into())],
            pins: vec![(
                key(1),
                Pin {
                    name: "One".into(),
                    note: None,
                    at: 0,
                },
            )],
            vouches,
            owner: Some(key(9)),
            today: Some("2026-11-26".parse().unwrap()),
            ..Evidence::default()
        }
    }

    #[test]
    fn only_current_vouches_from_trusted_vouchers_count_and_only_one_hop() {
        let names = Names::from_evidence(evidence(vec![
            (key(1), vouch(3, "Three, as One knows it", "2027-01-01")),
            // Expired.
            (key(1), vouch(4, "Four", "2026-11-25")),
            // From a stranger.
            (key(5), vouch(6, "Six", "2027-01-01")),
            // From someone only vouched for: no second hop.
            (key(3), vouch(7, "Seven", "2027-01-01")),
            // Own word.
            (key(9), vouch(8, "Eight", "2027-01-01")),
        ]));
        let three = names.assess(&key(3));
        assert_eq!(three.basis, Basis::Vouched { by: vec![key(1)] });
        assert_eq!(three.name.as_deref(), Some("Three, as One knows it"));
        for unvouched in [4, 6, 7] {
            assert!(
                !matches!(names.assess(&key(unvouched)).basis, Basis::Vouched { .. }),
                "{unvouched}"
            );
        }
        assert!(names.assess(&key(8)).path.ends_with("(this node)"));
    }

    #[test]
    fn a_domain_counts_while_its_check_is_recent_and_for_the_profiles_domain() {
        let check = |domain: &str, at: i64, verified: bool| DomainCheck {
            domain: domain.into(),
            at,
            verified,
            reason: (!verified).then(|| "no".into()),
        };
        let names = Names::from_evidence(Evidence {
            profiles: vec![
                (key(1), "One".into()),
                (key(2), "Two".into()),
                (key(3), "Three".into()),
                (key(4), "Four".into()),
            ],
            profile_domains: vec![
                (key(1), "one.gov.uk".into()),
                (key(2), "two.gov.uk".into()),
                (key(3), "three.gov.uk".into()),
                (key(4), "four.gov.uk".into()),
            ],
            domain_checks: vec![
                (key(1), check("one.gov.uk", 1_000, true)),
                // Verified long ago.
                (
                    key(2),
                    check("two.gov.uk", 1_000 - CHECK_VALID_SECS - 1, true),
                ),
                // Verified, but for the domain the profile named before.
                (key(3), check("old.gov.uk", 1_000, true)),
                (key(4), check("four.gov.uk", 1_000, false)),
            ],
            now: Some(1_000),
            ..Evidence::default()
        });
        assert_eq!(
            names.assess(&key(1)).basis,
            Basis::Verified {
                domain: "one.gov.uk".into()
            }
        );
        for (n, why) in [
            (2, "last verified too long ago"),
            (3, "not checked yet"),
            (4, "did not verify: no"),
        ] {
            let trust = names.assess(&key(n));
            assert_eq!(trust.basis, Basis::Unverified);
            assert!(trust.path.contains(why), "{}", trust.path);
        }
        // Due again: the one checked long ago, and the one whose profile names a new domain.
        let mut due = names.domains_due(1_000, RECHECK);
        due.sort();
        assert_eq!(
            due,
            vec![
                (key(2), "two.gov.uk".into()),
                (key(3), "three.gov.uk".into())
            ]
        );
    }

    const RECHECK: i64 = crate::domains::RECHECK_SECS;

    #[test]
    fn the_same_statements_in_any_order_give_the_same_verdicts() {
        let statements = vec![
            (key(1), vouch(3, "By One", "2027-01-01")),
            (key(9), vouch(3, "By Us", "2027-01-01")),
            (key(1), vouch(8, "Eight", "2027-01-01")),
        ];
        let mut reversed = statements.clone();
        reversed.reverse();
        let (a, b) = (
            Names::from_evidence(evidence(statements)),
            Names::from_evidence(evidence(reversed)),
        );
        for subject in [1, 3, 8, 9] {
            assert_eq!(a.assess(&key(subject)), b.assess(&key(subject)));
        }
        // Own word first among several vouchers.
        assert_eq!(a.name_of(&key(3)), Some("By Us"));
    }
}
