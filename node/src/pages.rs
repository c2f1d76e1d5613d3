//! What the web page shows, and to whom. A visitor who is not signed in sees only open records —
//! the commons' and open networks' experiments, practitioners and lessons, never a members-only
//! network's, never a contact card. A signed-in colleague acts for this node's organisation and
//! sees what a node of that organisation may receive: also the records of the members-only
//! networks it is a member of. Each comes with its author's trust path. Searches, facet counts
//! and record pages are all drawn from the viewer's set, so not even a count says anything of a
//! network the viewer may not see. The HTML is `daemon/page.rs`'s; this module gathers what it
//! shows.

use convene_protocol::{Address, Content, Kind, NetworkId, NetworkPolicy, Record, Status};
use serde::{Deserialize, Serialize};

use crate::search::{Facet, Hit, Query};
use crate::trust::{Found, Trust};
use crate::{NodeError, is_stale, now};

/// The longest value a page's query string may carry in one field.
pub const MAX_FIELD: usize = 200;
/// Results on one page.
pub const PAGE_RESULTS: usize = 20;
/// Similar experiments a record's page lists.
pub const SIMILAR_SHOWN: usize = 5;
/// Records listed on an organisation's page, per key (its own, each delegate's).
pub const ORGANISATION_RESULTS: usize = 200;

/// Who is looking at a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Viewer {
    /// Anyone who can reach the page: open records only.
    Visitor,
    /// A colleague signed in to this node's organisation: what its nodes may receive.
    Colleague,
}

/// A search as the page's form and facet links ask it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PageQuery {
    pub q: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub sector: Option<String>,
    pub region: Option<String>,
    pub organisation: Option<String>,
    pub tag: Option<String>,
}

impl PageQuery {
    /// The filters set, as (field, value) pairs in a fixed order.
    pub fn filters(&self) -> Vec<(&'static str, &str)> {
        [
            ("kind", &self.kind),
            ("status", &self.status),
            ("sector", &self.sector),
            ("region", &self.region),
            ("organisation", &self.organisation),
            ("tag", &self.tag),
        ]
        .into_iter()
        .filter_map(|(field, value)| Some((field, value.as_deref()?)))
        .filter(|(_, value)| !value.trim().is_empty())
        .collect()
    }

    /// This query with `field` set to `value` (`None`: removed).
    pub fn with(&self, field: &str, value: Option<&str>) -> PageQuery {
        let mut out = self.clone();
        let slot = match field {
            "kind" => &mut out.kind,
            "status" => &mut out.status,
            "sector" => &mut out.sector,
            "region" => &mut out.region,
            "organisation" => &mut out.organisation,
            "tag" => &mut out.tag,
            _ => &mut out.q,
        };
        *slot = value.map(str::to_string);
        out
    }

    /// The index query, with every value checked and bounded; an error names the field.
    fn to_query(&self, networks: Vec<NetworkId>) -> Result<Query, String> {
        check("q", self.q.as_deref())?;
        for (field, value) in self.filters() {
            check(field, Some(value))?;
        }
        let kind = match self.kind.as_deref().filter(|k| !k.is_empty()) {
            None => None,
            Some(text) => match text.parse::<Kind>() {
                Ok(kind @ (Kind::Experiment | Kind::Practitioner | Kind::Lesson)) => Some(kind),
                _ => return Err(format!("kind {text:?}: experiment, practitioner or lesson")),
            },
        };
        let status = match self.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => Some(text.parse::<Status>().map_err(|e| format!("status: {e}"))?),
        };
        let text = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
        Ok(Query {
            text: self.q.clone().unwrap_or_default(),
            kind,
            tags: text(&self.tag).into_iter().collect(),
            status,
            sector: text(&self.sector),
            region: text(&self.region),
            organisation: text(&self.organisation),
            any_network: networks,
            limit: PAGE_RESULTS,
            ..Query::default()
        })
    }
}

fn check(field: &str, value: Option<&str>) -> Result<(), String> {
    let Some(value) = value else {
        return Ok(());
    };
    if value.chars().count() > MAX_FIELD || value.chars().any(char::is_control) {
        return Err(format!(
            "{field}: one line of at most {MAX_FIELD} characters"
        ));
    }
    Ok(())
}

/// A search page's results and facet counts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchPage {
    pub query: PageQuery,
    pub results: Vec<PageHit>,
    pub facets: Vec<Facet>,
}

/// One result on the page.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PageHit {
    pub found: Found,
    /// Its review date has passed without an update.
    pub stale: bool,
}

/// A record's page.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecordPage {
    pub address: Address,
    pub content: Content,
    pub trust: Trust,
    /// Updated on (the author's date of this version).
    pub updated: String,
    pub stale: bool,
    /// The networks whose convenors feature it.
    pub featured: Vec<String>,
    /// Contacts (and a lesson's experiment, an experiment's origin) by name, if open.
    pub links: Vec<(String, Address, String)>,
    /// Lessons about it (experiments), open ones.
    pub lessons: Vec<Hit>,
    /// Experiments adopted from it, open ones.
    pub adopted_by: Vec<Hit>,
    /// A practitioner's: the experiments and lessons that name them as a contact.
    #[serde(default)]
    pub ran: Vec<Hit>,
    #[serde(default)]
    pub wrote: Vec<Hit>,
    /// Organisations that said they are interested in it too (experiments).
    pub interested: Vec<crate::cohort::Interested>,
    /// Similar experiments elsewhere, most similar first, that the viewer may see.
    pub similar: Vec<(f32, Hit)>,
}

/// An organisation's page: who it is as this node knows it, and its open records.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrganisationPage {
    pub key: convene_protocol::AuthorKey,
    pub trust: Trust,
    /// Its own profile, if this node holds it.
    pub profile: Option<convene_protocol::Organisation>,
    /// Its open records (and its delegates'), newest matches first.
    pub records: Vec<Hit>,
}

/// An open network's page: its charter, its members and what is published in it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NetworkPage {
    pub id: NetworkId,
    pub name: String,
    pub purpose: Option<String>,
    /// Convenors and members, by the names this node knows them by, and their keys.
    pub convenors: Vec<(String, convene_protocol::AuthorKey)>,
    pub members: Vec<(String, convene_protocol::AuthorKey)>,
    /// Records its convenors feature, open ones.
    pub featured: Vec<(Address, String)>,
    /// Records published into it (up to a page of them).
    pub records: Vec<Hit>,
    /// What is new in it over the last [`DIGEST_DAYS`] days.
    pub digest: crate::digest::Digest,
}

/// A colleague's followed topics, each with what is new since they last looked.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FollowingPage {
    pub news: Vec<crate::watches::News>,
}

/// Days of news a network's page shows.
pub const DIGEST_DAYS: i64 = 30;

/// "People to learn from" about a topic.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeoplePage {
    pub topic: String,
    /// Best first; each with the evidence the viewer may see.
    pub people: Vec<crate::Person>,
}

impl crate::Node {
    /// A signed-in colleague's followed topics with what is new in each since they last looked
    /// (which moves them up to now), from what a colleague may see.
    pub fn following_page(&self, account: &str) -> Result<FollowingPage, NodeError> {
        let networks = self.networks()?;
        let viewer = Viewer::Colleague;
        let visible = self.page_networks(viewer, &networks);
        let watcher = crate::watches::Watcher::Account(account.to_string());
        let mut news = self.news(&watcher, &visible, true)?;
        for each in &mut news {
            let mut shown = Vec::new();
            for found in std::mem::take(&mut each.found) {
                if self
                    .store()
                    .get(&found.hit.address)?
                    .is_some_and(|record| self.shows(&record, &networks, viewer))
                {
                    shown.push(found);
                }
            }
            each.found = shown;
        }
        Ok(FollowingPage { news })
    }

    /// The people to learn from about `topic`, as `viewer` may see them: their profiles and
    /// every piece of evidence drawn from records the viewer may see.
    pub fn people_page(&self, topic: &str, viewer: Viewer) -> Result<PeoplePage, NodeError> {
        check("topic", Some(topic)).map_err(NodeError::Invalid)?;
        let networks = self.networks()?;
        let mut people = Vec::new();
        if !topic.trim().is_empty() {
            let visible = self.page_networks(viewer, &networks);
            for person in self.people_in(topic, PAGE_RESULTS, &visible)? {
                if self
                    .store()
                    .get(&person.address)?
                    .is_some_and(|record| self.shows(&record, &networks, viewer))
                {
                    people.push(person);
                }
            }
        }
        Ok(PeoplePage {
            topic: topic.to_string(),
            people,
        })
    }

    /// The page of an open network whose charter this node holds (`None` otherwise: a
    /// members-only network has no page for visitors).
    pub fn network_page(
        &self,
        id: &NetworkId,
        viewer: Viewer,
    ) -> Result<Option<NetworkPage>, NodeError> {
        let networks = self.networks()?;
        let Some(resolved) = networks.charter(id) else {
            return Ok(None);
        };
        let charter = &resolved.head;
        if !self.page_networks(viewer, &networks).contains(id) {
            return Ok(None);
        }
        let names = self.names()?;
        let named = |keys: &[convene_protocol::AuthorKey]| {
            let mut out: Vec<(String, convene_protocol::AuthorKey)> = keys
                .iter()
                .map(|key| {
                    let name = names.name_of(key).map_or_else(
                        || format!("key {}…", &key.to_base32()[..12]),
                        str::to_string,
                    );
                    (name, *key)
                })
                .collect();
            out.sort();
            out
        };
        let mut featured = Vec::new();
        for address in networks.featured(id) {
            if let Ok(record) = self.get(&address)
                && self.shows(&record, &networks, viewer)
            {
                let title = record
                    .content()
                    .map(|c| c.title().to_string())
                    .unwrap_or_default();
                featured.push((record.address(), title));
            }
        }
        let records = self.shown_hits(
            &Query {
                network: Some(id.clone()),
                limit: PAGE_RESULTS,
                ..Query::default()
            },
            &networks,
            viewer,
        )?;
        let today = convene_protocol::Date::from_unix(now());
        let since = convene_protocol::Date::from_unix((today.unix_days() - DIGEST_DAYS) * 86_400);
        let digest = self.digest(&id.to_string(), since, today)?;
        Ok(Some(NetworkPage {
            digest,
            id: id.clone(),
            name: charter.name.clone(),
            purpose: charter.purpose.clone(),
            convenors: named(&charter.convenors),
            members: named(&charter.members),
            featured,
            records,
        }))
    }

    /// The page of the organisation whose key is `key`: its trust path, its profile and its
    /// open records, and those of its delegates.
    pub fn organisation_page(
        &self,
        key: &convene_protocol::AuthorKey,
        viewer: Viewer,
    ) -> Result<OrganisationPage, NodeError> {
        let mut profile = None;
        self.store().for_each(Some(key), |record| {
            if let Some(Content::Organisation(organisation)) = record.content() {
                profile = Some(organisation.clone());
                return false;
            }
            true
        })?;
        let networks = self.networks()?;
        let open = self.page_networks(viewer, &networks);
        let names = self.names()?;
        let mut records = Vec::new();
        for author in std::iter::once(*key).chain(names.delegates_of(key)) {
            records.extend(self.shown_hits(
                &Query {
                    author: Some(author),
                    any_network: open.clone(),
                    limit: ORGANISATION_RESULTS,
                    ..Query::default()
                },
                &networks,
                viewer,
            )?);
        }
        records.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.title.cmp(&b.title)));
        Ok(OrganisationPage {
            key: *key,
            trust: self.trust(key)?,
            profile,
            records,
        })
    }

    /// The networks whose records `viewer` may see: the commons and every open network, and
    /// for a colleague also the members-only networks this node's organisation is a member of.
    fn page_networks(
        &self,
        viewer: Viewer,
        networks: &crate::networks::Networks,
    ) -> Vec<NetworkId> {
        let owner = self.colleagues_organisation(viewer);
        let mut out = vec![NetworkId::Commons];
        out.extend(
            networks
                .charters()
                .filter(|(_, resolved)| {
                    resolved.head.policy == NetworkPolicy::Open
                        || owner.is_some_and(|owner| networks.member(&resolved.head, &owner, None))
                })
                .map(|(id, _)| id.clone()),
        );
        out
    }

    /// The organisation a signed-in colleague acts for (`None` for a visitor).
    fn colleagues_organisation(&self, viewer: Viewer) -> Option<convene_protocol::AuthorKey> {
        match viewer {
            Viewer::Visitor => None,
            Viewer::Colleague => self.owner(),
        }
    }

    /// The search page for `query`: open records only, facets counted over the same set.
    pub fn search_page(&self, query: &PageQuery, viewer: Viewer) -> Result<SearchPage, NodeError> {
        let networks = self.networks()?;
        let index_query = query
            .to_query(self.page_networks(viewer, &networks))
            .map_err(NodeError::Invalid)?;
        let (found, facets) = self.find_with_facets(&index_query)?;
        let today = convene_protocol::Date::from_unix(now());
        let mut results = Vec::with_capacity(found.len());
        for found in found {
            // The index filter is by network; what counts there is checked again per record
            // (a removed member's, a successor's stand-in).
            let Some(record) = self.store().get(&found.hit.address)? else {
                continue;
            };
            if !self.shows(&record, &networks, viewer) {
                continue;
            }
            let stale = record.content().is_some_and(|c| is_stale(c, today));
            results.push(PageHit { found, stale });
        }
        Ok(SearchPage {
            query: query.clone(),
            results,
            facets,
        })
    }

    /// The page of the record at `address`, if it is open (`None` otherwise: the page says
    /// "not found", whether it does not exist or is not for visitors).
    pub fn record_page(
        &self,
        address: &Address,
        viewer: Viewer,
    ) -> Result<Option<RecordPage>, NodeError> {
        let networks = self.networks()?;
        let record = match self.get(address) {
            Ok(record) => record,
            Err(NodeError::NotFound(_) | NodeError::Retracted(_)) => return Ok(None),
            Err(error) => return Err(error),
        };
        if !self.shows(&record, &networks, viewer) {
            return Ok(None);
        }
        let content = record.content().expect("live").clone();
        let names_of = |field: &str, address: &Address| -> Result<Option<_>, NodeError> {
            Ok(match self.get(address) {
                Ok(target) if self.shows(&target, &networks, viewer) => Some((
                    field.to_string(),
                    target.address(),
                    target
                        .content()
                        .map(|c| c.title().to_string())
                        .unwrap_or_default(),
                )),
                _ => None,
            })
        };
        let mut links = Vec::new();
        for (field, target) in content.references() {
            if field == "records" || field == "experiment" {
                continue;
            }
            if let Some(link) = names_of(field, target)? {
                links.push(link);
            }
        }
        let open = self.page_networks(viewer, &networks);
        let mut lessons = Vec::new();
        let mut adopted_by = Vec::new();
        let mut interested = Vec::new();
        let mut similar = Vec::new();
        let mut ran = Vec::new();
        let mut wrote = Vec::new();
        if record.header().kind == Kind::Practitioner {
            for (kind, out) in [(Kind::Experiment, &mut ran), (Kind::Lesson, &mut wrote)] {
                *out = self.shown_hits(
                    &Query {
                        kind: Some(kind),
                        contact: Some(record.address()),
                        any_network: open.clone(),
                        limit: PAGE_RESULTS,
                        ..Query::default()
                    },
                    &networks,
                    viewer,
                )?;
            }
        }
        if record.header().kind == Kind::Experiment {
            interested = self.interested_in(&record.address())?;
            for (score, found) in self.find_similar(&convene_search::SimilarQuery {
                content: content.clone(),
                exclude: Some(record.address()),
                threshold: convene_search::SimilarityThreshold::PUBLISH,
                limit: SIMILAR_SHOWN,
            })? {
                if found.hit.kind == Kind::Experiment
                    && self
                        .store()
                        .get(&found.hit.address)?
                        .is_some_and(|other| self.shows(&other, &networks, viewer))
                {
                    similar.push((score, found.hit));
                }
            }
            let about = |query: Query| {
                self.shown_hits(
                    &Query {
                        any_network: open.clone(),
                        limit: PAGE_RESULTS,
                        ..query
                    },
                    &networks,
                    viewer,
                )
            };
            lessons = about(Query {
                kind: Some(Kind::Lesson),
                about: Some(record.address()),
                ..Query::default()
            })?;
            adopted_by = about(Query {
                kind: Some(Kind::Experiment),
                adopted_from: Some(record.address()),
                ..Query::default()
            })?;
        }
        let today = convene_protocol::Date::from_unix(now());
        Ok(Some(RecordPage {
            address: record.address(),
            trust: self.trust(&record.header().author)?,
            updated: convene_protocol::Date::from_unix(record.header().created_at).to_string(),
            stale: is_stale(&content, today),
            featured: networks
                .featured_in(&record.address())
                .iter()
                .map(|network| networks.name_of(network))
                .collect(),
            content,
            links,
            lessons,
            adopted_by,
            interested,
            similar,
            ran,
            wrote,
        }))
    }

    /// The hits of `query` whose records `viewer` may see (the index filters by network;
    /// what counts there is checked again per record).
    fn shown_hits(
        &self,
        query: &Query,
        networks: &crate::networks::Networks,
        viewer: Viewer,
    ) -> Result<Vec<Hit>, NodeError> {
        let mut out = Vec::new();
        for hit in self.search(query)? {
            if self
                .store()
                .get(&hit.address)?
                .is_some_and(|record| self.shows(&record, networks, viewer))
            {
                out.push(hit);
            }
        }
        Ok(out)
    }

    /// Whether `viewer` may see `record`: an experiment, practitioner, lesson or profile,
    /// counted in its networks; for a visitor in the commons or an open network, for a
    /// colleague also where a node of their organisation may receive it.
    fn shows(&self, record: &Record, networks: &crate::networks::Networks, viewer: Viewer) -> bool {
        let Some(content) = record.content() else {
            return false;
        };
        if !matches!(
            content.kind(),
            Kind::Experiment | Kind::Practitioner | Kind::Lesson | Kind::Organisation
        ) {
            return false;
        }
        let author = record.header().author;
        let Some(named) = crate::networks::named_networks(record) else {
            return true;
        };
        match self.colleagues_organisation(viewer) {
            None => networks.is_open(named) && networks.visible(&author, named),
            Some(owner) => networks.may_receive(&[owner], &author, content.kind(), named),
        }
    }
}
