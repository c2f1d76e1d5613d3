//! The versions of a record this node has held, and what changed between them (`convene
//! history`).
//!
//! The store keeps the versions a newer one replaced in `history_v1` (at most
//! [`crate::store::HISTORY_VERSIONS`] per address). A node holds only what reached it: a version
//! published and replaced before this node heard of the record is not there, which the answer
//! says. A retraction deletes the history with the content.

use convene_protocol::{Address, Content, Record};
use serde::{Deserialize, Serialize};

use crate::{Node, NodeError};

/// An address's versions held here, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub address: Address,
    /// The title or name of the newest version that has one.
    pub title: String,
    /// The latest version first, then each version it replaced.
    pub versions: Vec<Version>,
    /// Whether versions older than the oldest listed existed (its sequence number is above 1)
    /// but are not held here: they came and went before this node heard of the record, or
    /// were pushed out of the history by newer ones.
    pub earlier_not_held: bool,
}

/// One version, and what it changed from the version before it that is held here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub seq: u64,
    /// The version's record id (hex).
    pub id: String,
    /// When its author signed it (RFC 3339; the author's clock).
    pub signed_at: String,
    pub retraction: bool,
    /// Field by field, by the fields' names. Empty for the oldest version held (nothing to
    /// compare it with).
    pub changes: Vec<Change>,
}

/// A field whose value differs between two versions. `before` is absent for a field the
/// newer version added, `after` for one it removed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
}

impl Node {
    /// The versions of the record at `address` held here, with what each changed. Unlike
    /// [`Node::get`], a retracted record has a history (its tombstone, which ended it).
    pub fn history(&self, address: &Address) -> Result<History, NodeError> {
        let held = self.store().versions(address)?;
        if held.is_empty() {
            return Err(NodeError::NotFound(address.clone()));
        }
        Ok(history_of(address, &held))
    }
}

/// The history of `held`, the versions at one address oldest first.
fn history_of(address: &Address, held: &[Record]) -> History {
    let title = held
        .iter()
        .rev()
        .find_map(|record| record.content().map(|c| c.title().to_string()))
        .unwrap_or_default();
    let mut versions: Vec<Version> = held
        .iter()
        .enumerate()
        .map(|(at, record)| {
            let before = at
                .checked_sub(1)
                .and_then(|earlier| held[earlier].content());
            let changes = match (before, record.content()) {
                (Some(before), Some(after)) => changes(before, after),
                _ => Vec::new(),
            };
            Version {
                seq: record.header().seq,
                id: record.version().id.to_hex(),
                signed_at: crate::rfc3339(record.header().created_at),
                retraction: record.is_retraction(),
                changes,
            }
        })
        .collect();
    versions.reverse();
    History {
        address: address.clone(),
        title,
        earlier_not_held: held.first().is_some_and(|oldest| oldest.header().seq > 1),
        versions,
    }
}

/// The fields whose values differ, by name.
fn changes(before: &Content, after: &Content) -> Vec<Change> {
    let fields = |content: &Content| match serde_json::to_value(content) {
        Ok(serde_json::Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    let (before, after) = (fields(before), fields(after));
    let mut found = Vec::new();
    for (field, value) in &after {
        if before.get(field) != Some(value) {
            found.push(Change {
                field: field.clone(),
                before: before.get(field).cloned(),
                after: Some(value.clone()),
            });
        }
    }
    for (field, value) in &before {
        if !after.contains_key(field) {
            found.push(Change {
                field: field.clone(),
                before: Some(value.clone()),
                after: None,
            });
        }
    }
    found.sort_by(|a, b| a.field.cmp(&b.field));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_protocol::{Experiment, Identity, Slug, Status};
    use serde_json::json;

    fn version(identity: &Identity, seq: u64, experiment: Experiment) -> Record {
        Record::sign(
            identity,
            Slug::new("night-bus").unwrap(),
            seq,
            1_790_000_000 + seq as i64,
            Content::Experiment(experiment),
        )
        .unwrap()
    }

    #[test]
    fn each_version_lists_the_fields_it_changed_added_and_removed() {
        let identity = Identity::from_secret([7; 32]);
        let first = Experiment {
            title: "Night bus".into(),
            summary: "A late bus".into(),
            status: Status::Running,
            tags: vec!["transport".into()],
            region: Some("North".into()),
            ..Experiment::default()
        };
        let second = Experiment {
            status: Status::Completed,
            tags: vec!["transport".into(), "evaluation".into()],
            outcomes: Some("Ridership doubled".into()),
            region: None,
            ..first.clone()
        };
        let held = [version(&identity, 2, first), version(&identity, 3, second)];
        let history = history_of(&held[1].address(), &held);
        assert_eq!(history.title, "Night bus");
        assert!(history.earlier_not_held, "version 1 was never held here");
        let seqs: Vec<u64> = history.versions.iter().map(|v| v.seq).collect();
        assert_eq!(seqs, [3, 2], "newest first");
        assert!(history.versions[1].changes.is_empty());
        let changed: Vec<(&str, Option<&serde_json::Value>, Option<&serde_json::Value>)> = history
            .versions[0]
            .changes
            .iter()
            .map(|c| (c.field.as_str(), c.before.as_ref(), c.after.as_ref()))
            .collect();
        assert_eq!(
            changed,
            [
                ("outcomes", None, Some(&json!("Ridership doubled"))),
                ("region", Some(&json!("North")), None),
                ("status", Some(&json!("running")), Some(&json!("completed"))),
                (
                    "tags",
                    Some(&json!(["transport"])),
                    Some(&json!(["transport", "evaluation"]))
                ),
            ]
        );
    }
}
