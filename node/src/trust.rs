//! Who published a record, as this node knows it: the trust path.
//!
//! A record's organisation is its author's — the key that signed it — never the free text a
//! draft puts in its `organisation` field. What this node calls an author, and why, is decided
//! here from what the node holds, as pure functions of it:
//!
//! 1. **own** — the author is this node's own identity;
//! 2. **pinned** — the node's operator said who this key is (`convene trust KEY --as NAME`), the
//!    strongest link there is;
//! 3. **unverified** — the author's own organisation profile names it: a claim, shown as one;
//! 4. **unknown** — no profile has arrived: only the key is known.
//!
//! Two authors known under the same name (case and spacing aside) are flagged as a conflict on
//! both, never merged: an impostor's profile cannot take a name over, it can only get itself
//! flagged next to the real holder.

use std::collections::HashMap;

use convene_protocol::AuthorKey;
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
    /// Folded name → the authors known under it.
    holders: HashMap<String, Vec<AuthorKey>>,
}

impl Names {
    /// From each author's profile name and the pins.
    pub fn new(
        profiles: impl IntoIterator<Item = (AuthorKey, String)>,
        pins: impl IntoIterator<Item = (AuthorKey, Pin)>,
    ) -> Names {
        let mut names = Names {
            profiles: profiles.into_iter().collect(),
            pins: pins.into_iter().collect(),
            holders: HashMap::new(),
        };
        let authors: Vec<AuthorKey> = names
            .profiles
            .keys()
            .chain(names.pins.keys())
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

    /// What this node calls `author`: the pinned name, else the profile's.
    pub fn name_of(&self, author: &AuthorKey) -> Option<&str> {
        self.pins
            .get(author)
            .map(|pin| pin.name.as_str())
            .or_else(|| self.profiles.get(author).map(String::as_str))
    }

    /// The trust path of `author`; `owner` is this node's own identity.
    pub fn assess(&self, author: &AuthorKey, owner: Option<&AuthorKey>) -> Trust {
        let name = self.name_of(author).map(str::to_string);
        let basis = if owner == Some(author) {
            Basis::Own
        } else if let Some(pin) = self.pins.get(author) {
            Basis::Pinned {
                note: pin.note.clone(),
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
