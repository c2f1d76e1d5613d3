//! `people`: who to learn from on a topic.
//!
//! Three kinds of evidence, each a search of the index: practitioners whose own profile matches
//! (expertise first), the contacts of matching experiments ("ran: …"), and the contacts of
//! matching lessons or of the experiments those lessons are about ("wrote: …"). A person's score
//! is the sum of the scores of their evidence, so someone who both claims the expertise and ran
//! the pilot ranks above someone who did one of the two.

use std::collections::HashMap;

use convene_protocol::{Address, Content, Kind, Practitioner, fold_tag};
use convene_search::Query;

use crate::{Node, NodeError};

/// Hits of each kind of evidence looked at.
const EVIDENCE_PER_KIND: usize = 25;
/// Evidence from someone else's record counts a little less than a person's own profile.
const CONTACT_WEIGHT: f32 = 0.8;

/// Why a person was found.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Reason {
    /// Their profile matches; `topics` lists the expertise tags that share a word with the query.
    Expertise { topics: Vec<String> },
    /// Named as a contact of a matching experiment.
    Ran { title: String, address: Address },
    /// Named as a contact of a matching lesson, or of the experiment it is about.
    Wrote { title: String, address: Address },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Expertise { topics } if topics.is_empty() => f.write_str("profile matches"),
            Reason::Expertise { topics } => write!(f, "expertise: {}", topics.join(", ")),
            Reason::Ran { title, .. } => write!(f, "ran: {title}"),
            Reason::Wrote { title, .. } => write!(f, "wrote: {title}"),
        }
    }
}

/// A practitioner to learn from.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Person {
    pub address: Address,
    pub practitioner: Practitioner,
    pub score: f32,
    pub reasons: Vec<Reason>,
    /// Who published the profile, as this node knows it.
    pub trust: crate::trust::Trust,
}

impl Node {
    /// The practitioners to learn from on `topic`, best first.
    pub fn people(&self, topic: &str, limit: usize) -> Result<Vec<Person>, NodeError> {
        self.people_in(topic, limit, &[])
    }

    /// [`Node::people`], with every piece of evidence drawn from records published into one
    /// of `networks` (the commons among them: those that name none); empty, from any record.
    pub(crate) fn people_in(
        &self,
        topic: &str,
        limit: usize,
        networks: &[convene_protocol::NetworkId],
    ) -> Result<Vec<Person>, NodeError> {
        convene_search::limits::results(limit)?;
        convene_search::limits::text(topic)?;
        let mut found: HashMap<Address, (f32, Vec<Reason>)> = HashMap::new();
        let mut credit = |address: &Address, score: f32, reason: Reason| {
            let entry = found.entry(address.clone()).or_default();
            entry.0 += score;
            if !entry.1.contains(&reason) {
                entry.1.push(reason);
            }
        };
        // Evidence is ranked, never shown with a snippet.
        let search = |kind| {
            self.search_without_snippets(&Query {
                text: topic.to_string(),
                kind: Some(kind),
                limit: EVIDENCE_PER_KIND,
                any_network: networks.to_vec(),
                ..Query::default()
            })
        };
        let query_words: Vec<String> = topic
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 2)
            .map(fold_tag)
            .collect();
        for hit in search(Kind::Practitioner)? {
            let topics = hit
                .tags
                .iter()
                .filter(|tag| {
                    let tag = fold_tag(tag);
                    query_words.iter().any(|w| tag.contains(w.as_str()))
                })
                .cloned()
                .collect();
            credit(&hit.address, hit.score, Reason::Expertise { topics });
        }
        for hit in search(Kind::Experiment)? {
            for contact in &hit.contacts {
                let reason = Reason::Ran {
                    title: hit.title.clone(),
                    address: hit.address.clone(),
                };
                credit(contact, hit.score * CONTACT_WEIGHT, reason);
            }
        }
        for hit in search(Kind::Lesson)? {
            let mut contacts = hit.contacts.clone();
            if let Some(about) = &hit.about
                && let Ok(experiment) = self.get(about)
                && let Some(Content::Experiment(e)) = experiment.content()
            {
                contacts.extend(e.contacts.iter().cloned());
            }
            for contact in contacts {
                let reason = Reason::Wrote {
                    title: hit.title.clone(),
                    address: hit.address.clone(),
                };
                credit(&contact, hit.score * CONTACT_WEIGHT, reason);
            }
        }
        let mut people = Vec::new();
        for (address, (score, reasons)) in found {
            // A contact whose profile has not reached this node (or was retracted) is left out:
            // there is no one to show.
            let Ok(record) = self.get(&address) else {
                continue;
            };
            if let Some(Content::Practitioner(practitioner)) = record.content() {
                people.push(Person {
                    trust: self.trust(&address.author)?,
                    address,
                    practitioner: practitioner.clone(),
                    score,
                    reasons,
                });
            }
        }
        people.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.practitioner.name.cmp(&b.practitioner.name))
        });
        people.truncate(limit.max(1));
        Ok(people)
    }
}
