//! What a convenor reads about a network: the digest (what is new and changed since a day,
//! grouped for a newsletter or a meeting agenda) and the map (who is working on what).
//!
//! Both read only the records this node holds that count in the network (a removed member's
//! are left out), so they show what members see.

use std::collections::BTreeMap;

use convene_protocol::{AuthorKey, Content, Date, NetworkId, Record, Status};
use serde::{Deserialize, Serialize};

use crate::{Node, NodeError};

/// Longest window a digest covers, in days.
pub const MAX_DIGEST_DAYS: i64 = 3_660;
/// Topics the map lists.
const MAP_TOPICS: usize = 20;

/// `POST /networks/digest`: what changed in `network` on or after `since`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DigestRequest {
    pub network: String,
    pub since: Date,
}

/// What is new and changed in a network since a day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    pub network: NetworkId,
    pub name: String,
    pub since: Date,
    /// The day the digest was made.
    pub until: Date,
    /// Experiments under way (planned or running), new or changed.
    pub started: Vec<Item>,
    /// Experiments that completed or stopped.
    pub finished: Vec<Item>,
    /// Other new or changed experiments (ideas, paused).
    pub other: Vec<Item>,
    pub lessons: Vec<Item>,
    /// People, with what they offer and want to learn.
    pub people: Vec<Item>,
}

/// One record in a digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub address: convene_protocol::Address,
    pub title: String,
    /// The organisation this node knows the author as.
    pub organisation: Option<String>,
    pub summary: Option<String>,
    pub status: Option<Status>,
    /// Tags, or a person's expertise.
    pub topics: Vec<String>,
    /// What a person wants to learn.
    pub interests: Vec<String>,
    /// First published in the window (else: changed).
    pub new: bool,
    /// The day this version was signed.
    pub day: Date,
}

/// `POST /networks/map`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MapRequest {
    pub network: String,
}

/// Who is working on what in a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkMap {
    pub network: NetworkId,
    pub name: String,
    /// Every member organisation, and any other author with records in the network, most
    /// active first.
    pub organisations: Vec<Activity>,
    /// The most used topics: how many records and how many organisations.
    pub topics: Vec<Topic>,
}

/// One organisation's activity in a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub key: AuthorKey,
    pub name: Option<String>,
    pub member: bool,
    /// Experiments by status.
    pub experiments: BTreeMap<String, u64>,
    pub lessons: u64,
    pub people: u64,
    /// Its most used topics, most used first.
    pub topics: Vec<String>,
}

impl Activity {
    pub fn records(&self) -> u64 {
        self.experiments.values().sum::<u64>() + self.lessons + self.people
    }
}

/// A topic and how widely it is shared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    pub topic: String,
    pub records: u64,
    pub organisations: u64,
}

impl Node {
    /// The live records that count in `network`, each with its author's name.
    fn network_records(&self, network: &NetworkId) -> Result<Vec<Record>, NodeError> {
        if network.is_commons() {
            return Err(NodeError::Invalid(
                "the commons is everyone's: digests and maps are for convened networks".into(),
            ));
        }
        let networks = self.networks()?;
        let mut out = Vec::new();
        for address in self.store().addresses_in(network)? {
            if !networks.counts(network, &address.author) {
                continue;
            }
            if let Some(record) = self.store().get(&address)?
                && !record.is_retraction()
            {
                out.push(record);
            }
        }
        Ok(out)
    }

    fn network_named(&self, text: &str) -> Result<(NetworkId, String), NodeError> {
        let networks = self.networks()?;
        let id = networks.find(text).map_err(NodeError::Invalid)?;
        let name = networks.name_of(&id);
        Ok((id, name))
    }

    /// What is new and changed in `network` since `since` (at most [`MAX_DIGEST_DAYS`] ago).
    pub fn digest(&self, network: &str, since: Date, today: Date) -> Result<Digest, NodeError> {
        let days = today.unix_days() - since.unix_days();
        if !(0..=MAX_DIGEST_DAYS).contains(&days) {
            return Err(NodeError::Invalid(format!(
                "a digest covers 0 to {MAX_DIGEST_DAYS} days back from today; {since} is not \
                 in that range"
            )));
        }
        let (id, name) = self.network_named(network)?;
        let names = self.names()?;
        let mut digest = Digest {
            network: id.clone(),
            name,
            since,
            until: today,
            started: Vec::new(),
            finished: Vec::new(),
            other: Vec::new(),
            lessons: Vec::new(),
            people: Vec::new(),
        };
        let from = since.unix_days() * 86_400;
        for record in self.network_records(&id)? {
            let header = record.header();
            if header.created_at < from {
                continue;
            }
            let Some(content) = record.content() else {
                continue;
            };
            let mut item = Item {
                address: record.address(),
                title: content.title().to_string(),
                organisation: names.name_of(&header.author).map(str::to_string),
                summary: None,
                status: None,
                topics: Vec::new(),
                interests: Vec::new(),
                new: header.seq == 1,
                day: Date::from_unix(header.created_at),
            };
            let group = match content {
                Content::Experiment(e) => {
                    item.summary = Some(e.summary.clone());
                    item.status = Some(e.status);
                    item.topics = e.tags.clone();
                    match e.status {
                        Status::Planned | Status::Running => &mut digest.started,
                        Status::Completed | Status::Stopped => &mut digest.finished,
                        Status::Idea | Status::Paused => &mut digest.other,
                    }
                }
                Content::Lesson(l) => {
                    item.summary = Some(l.summary.clone());
                    item.topics = l.tags.clone();
                    &mut digest.lessons
                }
                Content::Practitioner(p) => {
                    item.summary = p.role.clone();
                    item.topics = p.expertise.clone();
                    item.interests = p.interests.clone();
                    &mut digest.people
                }
                _ => continue,
            };
            group.push(item);
        }
        for group in [
            &mut digest.started,
            &mut digest.finished,
            &mut digest.other,
            &mut digest.lessons,
            &mut digest.people,
        ] {
            group.sort_by(|a, b| b.day.cmp(&a.day).then_with(|| a.title.cmp(&b.title)));
        }
        Ok(digest)
    }

    /// Who is working on what in `network`.
    pub fn network_map(&self, network: &str) -> Result<NetworkMap, NodeError> {
        let (id, name) = self.network_named(network)?;
        let names = self.names()?;
        let networks = self.networks()?;
        let mut organisations: BTreeMap<AuthorKey, Activity> = BTreeMap::new();
        let activity = |key: AuthorKey, member: bool| Activity {
            key,
            name: names.name_of(&key).map(str::to_string),
            member,
            experiments: BTreeMap::new(),
            lessons: 0,
            people: 0,
            topics: Vec::new(),
        };
        if let Some(resolved) = networks.charter(&id) {
            for key in resolved.head.all_members() {
                organisations.insert(key, activity(key, true));
            }
        }
        // topic → (records, organisations); per organisation, topic → uses.
        let mut topics: BTreeMap<String, (u64, BTreeMap<AuthorKey, u64>)> = BTreeMap::new();
        for record in self.network_records(&id)? {
            let author = record.header().author;
            let entry = organisations
                .entry(author)
                .or_insert_with(|| activity(author, false));
            let tags: &[String] = match record.content() {
                Some(Content::Experiment(e)) => {
                    *entry
                        .experiments
                        .entry(e.status.as_str().to_string())
                        .or_default() += 1;
                    &e.tags
                }
                Some(Content::Lesson(l)) => {
                    entry.lessons += 1;
                    &l.tags
                }
                Some(Content::Practitioner(p)) => {
                    entry.people += 1;
                    &p.expertise
                }
                _ => &[],
            };
            for tag in tags {
                let (records, by) = topics.entry(tag.clone()).or_default();
                *records += 1;
                *by.entry(author).or_default() += 1;
            }
        }
        for (key, activity) in organisations.iter_mut() {
            let mut own: Vec<(&String, u64)> = topics
                .iter()
                .filter_map(|(topic, (_, by))| by.get(key).map(|uses| (topic, *uses)))
                .collect();
            own.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            activity.topics = own.into_iter().take(5).map(|(t, _)| t.clone()).collect();
        }
        let mut organisations: Vec<Activity> = organisations.into_values().collect();
        organisations.sort_by(|a, b| {
            b.records()
                .cmp(&a.records())
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut topics: Vec<Topic> = topics
            .into_iter()
            .map(|(topic, (records, by))| Topic {
                topic,
                records,
                organisations: by.len() as u64,
            })
            .collect();
        topics.sort_by(|a, b| {
            b.organisations
                .cmp(&a.organisations)
                .then_with(|| b.records.cmp(&a.records))
                .then_with(|| a.topic.cmp(&b.topic))
        });
        topics.truncate(MAP_TOPICS);
        Ok(NetworkMap {
            network: id,
            name,
            organisations,
            topics,
        })
    }
}
