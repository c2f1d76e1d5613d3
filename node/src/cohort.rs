//! "We're interested in this too": the organisations interested in an experiment's idea (by
//! their signed interest records), and those trying something like it (similar experiments),
//! with their people — the isolated early movers finding each other.

use convene_protocol::{Address, AuthorKey, Content, Date, Kind, Status};
use convene_search::{SimilarQuery, SimilarityThreshold};
use serde::{Deserialize, Serialize};

use crate::{Node, NodeError};

/// Most similar experiments a cohort lists.
const TRYING: usize = 20;

/// Who shares an experiment's idea.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cohort {
    pub experiment: Address,
    pub title: String,
    /// Organisations that said they are interested, newest first.
    pub interested: Vec<Interested>,
    /// Experiments like it elsewhere, most similar first.
    pub trying: Vec<Trying>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interested {
    pub organisation: AuthorKey,
    pub name: Option<String>,
    /// How this node knows who they are.
    pub trust: String,
    pub note: Option<String>,
    pub day: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trying {
    pub address: Address,
    pub title: String,
    pub organisation: Option<String>,
    pub status: Option<Status>,
    pub similarity: f32,
    /// Its people: address and name, for those held here.
    pub contacts: Vec<(Address, String)>,
}

impl Node {
    /// The organisations that said they are interested in `experiment`, newest first. (Reads
    /// every interest held: interests are not indexed.)
    pub(crate) fn interested_in(&self, experiment: &Address) -> Result<Vec<Interested>, NodeError> {
        let mut interested: Vec<Interested> = Vec::new();
        for (organisation, interest, created_at) in self.store().interests()? {
            if interest.experiment != *experiment {
                continue;
            }
            let trust = self.trust(&organisation)?;
            interested.push(Interested {
                organisation,
                name: trust.name.clone(),
                trust: trust.path,
                note: interest.note,
                day: Date::from_unix(created_at),
            });
        }
        interested.sort_by(|a, b| b.day.cmp(&a.day).then_with(|| a.name.cmp(&b.name)));
        Ok(interested)
    }

    /// The cohort of the experiment at `experiment`.
    pub fn cohort(&self, experiment: &Address) -> Result<Cohort, NodeError> {
        if experiment.kind != Kind::Experiment {
            return Err(NodeError::Invalid(format!(
                "{experiment} is a {}: a cohort is for experiments",
                experiment.kind
            )));
        }
        let record = self.get(experiment)?;
        let content = record
            .content()
            .cloned()
            .expect("live records have content");
        let interested = self.interested_in(experiment)?;
        let similar = self.find_similar(&SimilarQuery {
            content: content.clone(),
            exclude: Some(experiment.clone()),
            threshold: SimilarityThreshold::PUBLISH,
            limit: TRYING,
        })?;
        let mut trying = Vec::new();
        for (similarity, found) in similar {
            if found.hit.kind != Kind::Experiment {
                continue;
            }
            let contacts = match self.get(&found.hit.address)?.content() {
                Some(Content::Experiment(e)) => e
                    .contacts
                    .iter()
                    .filter_map(|contact| {
                        let person = self.get(contact).ok()?;
                        Some((contact.clone(), person.content()?.title().to_string()))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            trying.push(Trying {
                address: found.hit.address,
                title: found.hit.title,
                organisation: found.trust.name,
                status: found.hit.status.as_deref().and_then(|s| s.parse().ok()),
                similarity,
                contacts,
            });
        }
        Ok(Cohort {
            experiment: experiment.clone(),
            title: content.title().to_string(),
            interested,
            trying,
        })
    }
}
