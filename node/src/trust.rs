//! Who published a record, as this node knows it: the trust path.
//!
//! A record's organisation is its author's — the key that signed it — never the free text a
//! draft puts in its `organisation` field. What this node calls an author, and why, is decided
//! here from what the node holds, as pure functions of it:
//!
//! 1. **own** — the author is this node's own identity;
//! 2. **pinned** — the node's operator said who this key is (`convene trust KEY --as NAME`), the
//!    strongest link there is;
//! 3. **vouched** — an organisation this node trusts (its own identity, or one it pinned) signed
//!    a vouch for the key that has not expired: one hop, never more, so trust does not spread
//!    through chains of strangers;
//! 4. **unverified** — the author's own organisation profile names it: a claim, shown as one;
//! 5. **unknown** — no profile has arrived: only the key is known.
//!
//! Two authors known under the same name (case and spacing aside) are flagged as a conflict on
//! both, never merged: an impostor's profile cannot take a name over, it can only get itself
//! flagged next to the real holder.

use std::collections::HashMap;

use convene_protocol::{AuthorKey, Date, Vouch};
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
    /// Organisations this node trusts vouch for it.
    Vouched { by: Vec<AuthorKey> },
    /// Only the author's own profile says so.
    Unverified,
    /// No organisation profile from this author has arrived.
    Unknown,
}

/// How this node knows who an author is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trust {
    pub author: AuthorKey,
    /// What this node calls the author: the pinned name, else the profile's.
    pub name: Option<String>,
    #[serde(flatten)]
    pub basis: Basis,
    /// Other authors this node knows under the same name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<AuthorKey>,
    /// The whole path in words, as the command shows it.
    pub path: String,
}

/// A search result with its author's trust path.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Found {
    #[serde(flatten)]
    pub hit: convene_search::Hit,
    pub trust: Trust,
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
    owner: Option<AuthorKey>,
    /// Folded name → the authors known under it.
    holders: HashMap<String, Vec<AuthorKey>>,
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
            owner: evidence.owner,
            holders: HashMap::new(),
        };
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

    /// What this node calls `author`: the pinned name, else the name a trusted voucher gives,
    /// else the profile's.
    pub fn name_of(&self, author: &AuthorKey) -> Option<&str> {
        self.pins
            .get(author)
            .map(|pin| pin.name.as_str())
            .or_else(|| {
                self.vouched
                    .get(author)
                    .and_then(|vouches| vouches.first())
                    .map(|(_, name)| name.as_str())
            })
            .or_else(|| self.profiles.get(author).map(String::as_str))
    }

    /// The subjects of `voucher`'s live vouches, whether they count or not.
    pub fn vouched_by(&self, voucher: &AuthorKey) -> Vec<AuthorKey> {
        self.subjects.get(voucher).cloned().unwrap_or_default()
    }

    /// The trust path of `author`; `owner` is this node's own identity.
    pub fn assess(&self, author: &AuthorKey, owner: Option<&AuthorKey>) -> Trust {
        let name = self.name_of(author).map(str::to_string);
        let basis = if owner == Some(author) || self.owner.as_ref() == Some(author) {
            Basis::Own
        } else if let Some(pin) = self.pins.get(author) {
            Basis::Pinned {
                note: pin.note.clone(),
            }
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
            .map(|holders| holders.iter().filter(|h| *h != author).copied().collect())
            .unwrap_or_default();
        let path = path(author, name.as_deref(), &basis, &conflicts, self);
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
        Basis::Unverified => format!("unverified: calls itself {name_or_key}"),
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
        let claimed = names.assess(&key(1), None);
        assert_eq!(claimed.basis, Basis::Unverified);
        assert_eq!(
            claimed.path,
            "unverified: calls itself Leicestershire Police"
        );
        let pinned = names.assess(&key(2), None);
        assert!(matches!(pinned.basis, Basis::Pinned { .. }));
        assert!(
            pinned
                .path
                .contains("pinned by this node (checked by phone)")
        );
        assert_eq!(names.assess(&key(3), None).basis, Basis::Unknown);
        assert_eq!(names.assess(&key(1), Some(&key(1))).basis, Basis::Own);
    }

    #[test]
    fn two_authors_under_one_name_are_flagged_on_both_never_merged() {
        let names = Names::new(
            [(key(9), "ashdown vale  district COUNCIL.".to_string())],
            [(key(2), pin("Ashdown Vale District Council"))],
        );
        let impostor = names.assess(&key(9), None);
        assert_eq!(impostor.conflicts, vec![key(2)]);
        assert!(impostor.path.starts_with("unverified: calls itself"));
        assert!(impostor.path.contains("CONFLICT"), "{}", impostor.path);
        assert!(impostor.path.contains("(pinned)"), "{}", impostor.path);
        let real = names.assess(&key(2), None);
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
        assert!(names.assess(&key(2), None).conflicts.is_empty());
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
        let three = names.assess(&key(3), None);
        assert_eq!(three.basis, Basis::Vouched { by: vec![key(1)] });
        assert_eq!(three.name.as_deref(), Some("Three, as One knows it"));
        for unvouched in [4, 6, 7] {
            assert!(
                !matches!(
                    names.assess(&key(unvouched), None).basis,
                    Basis::Vouched { .. }
                ),
                "{unvouched}"
            );
        }
        assert!(names.assess(&key(8), None).path.ends_with("(this node)"));
    }

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
            assert_eq!(a.assess(&key(subject), None), b.assess(&key(subject), None));
        }
        // Own word first among several vouchers.
        assert_eq!(a.name_of(&key(3)), Some("By Us"));
    }
}
