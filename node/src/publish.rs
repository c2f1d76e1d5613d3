//! The publishing rules: how a draft becomes the next signed version at its address.
//!
//! Every front-end (the command, the local API, CSV import, the web page) publishes through
//! [`Node::publish`] and [`Node::retract`] with a [`Publisher`], so the rules live here once:
//! the organisation is filled in where the draft names none, the address is the author's, the
//! kind's and the draft's slug, the next version's `seq` is one above the held one, the content
//! is validated when it is signed, and a check for similar records can stop a publish before
//! anything is signed.

use convene_protocol::{
    Address, AuthorKey, ContactCard, ContactVisibility, Content, Identity, Kind, NetworkId, Record,
};
use convene_search::{Hit, SimilarQuery, SimilarityThreshold};

use crate::admission::Source;
use crate::store::LatestEntry;
use crate::{Draft, Node, NodeError, Outcome};

/// Who publishes: the identity that signs, and the organisation filled into drafts that name
/// none (from the home's config).
#[derive(Debug)]
pub struct Publisher {
    identity: Identity,
    organisation: Option<String>,
}

/// The result of publishing.
#[derive(Clone, Debug)]
pub struct Published {
    pub record: Record,
    /// The version this one replaced, if the address already had one.
    pub previous_seq: Option<u64>,
}

/// Whether to look for similar records before publishing.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "check")]
pub enum SimilarCheck {
    /// Publish whatever exists.
    Skip,
    /// Publish only if nothing like it exists; otherwise answer with at most `limit` of what
    /// does, most similar first. For experiments and lessons, records at least
    /// [`SimilarityThreshold::PUBLISH`] similar (the same idea elsewhere); for practitioners,
    /// people of the same name; never for a new version of one's own record (an update).
    Ask { limit: usize },
}

/// What a publish did.
// One per publish, returned at once: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum PublishOutcome {
    Published(Published),
    /// Nothing was signed: these records are similar (the draft's own address excluded). The
    /// caller shows them and may publish again with [`SimilarCheck::Skip`].
    Similar(Vec<(f32, Hit)>),
    /// Nothing was signed: the address holds a retraction, and publishing would bring the
    /// record back. The caller asks, and may publish again with [`SimilarCheck::Skip`].
    Retracted(Address),
}

/// Takes a practitioner's contact out of the draft when only its networks' members may see it:
/// the record keeps no contact, and the contact goes in a contact card for those networks.
/// Returns the draft and the card (`None`: no card, or retract the one there is).
fn split_contact(mut draft: Draft) -> Result<(Draft, Option<ContactCard>), NodeError> {
    let Content::Practitioner(person) = &mut draft.content else {
        return Ok((draft, None));
    };
    match person.contact_visibility.unwrap_or_default() {
        ContactVisibility::Everyone => Ok((draft, None)),
        ContactVisibility::Nobody => {
            if person.contact.is_some() {
                return Err(NodeError::Invalid(
                    "contact_visibility = \"nobody\" means no one is given a contact: leave \
                     `contact` out (readers are told to ask through the organisation)"
                        .into(),
                ));
            }
            Ok((draft, None))
        }
        ContactVisibility::Networks => {
            let Some(contact) = person.contact.take() else {
                return Ok((draft, None));
            };
            let networks: Vec<NetworkId> = person
                .networks
                .iter()
                .filter(|network| !network.is_commons())
                .cloned()
                .collect();
            if networks.is_empty() {
                return Err(NodeError::Invalid(
                    "contact_visibility = \"networks\" shows the contact only to the members of \
                     the networks the person is published into: publish into a convened network \
                     (--network)"
                        .into(),
                ));
            }
            Ok((draft, Some(ContactCard { contact, networks })))
        }
    }
}

/// The `seq` of the next version after `held` (1 for a new address).
pub fn next_seq(held: Option<u64>) -> u64 {
    held.map_or(1, |seq| seq + 1)
}

impl Publisher {
    pub fn new(identity: Identity, organisation: Option<String>) -> Publisher {
        Publisher {
            identity,
            organisation,
        }
    }

    /// The home's identity and organisation.
    pub fn of(home: &crate::Home) -> Result<Publisher, crate::HomeError> {
        Ok(Publisher::new(
            home.identity()?,
            home.config().organisation.clone(),
        ))
    }

    pub fn author(&self) -> AuthorKey {
        self.identity.author()
    }

    /// The draft as it will be published: the organisation filled in where it names none, and
    /// a vouch at the one slug for its subject (so a newer vouch replaces the older).
    pub fn complete(&self, mut draft: Draft) -> Draft {
        draft.fill_organisation(self.organisation.as_deref());
        if let convene_protocol::Content::Vouch(vouch) = &draft.content {
            draft.slug = Some(convene_protocol::Vouch::slug_for(&vouch.subject));
        }
        if let convene_protocol::Content::Delegation(delegation) = &draft.content {
            draft.slug = Some(convene_protocol::Delegation::slug_for(&delegation.delegate));
        }
        if let convene_protocol::Content::Interest(interest) = &draft.content {
            draft.slug = Some(convene_protocol::Interest::slug_for(&interest.experiment));
        }
        if let convene_protocol::Content::Succession(succession) = &draft.content {
            draft.slug = Some(convene_protocol::Succession::slug_for(&succession.subject));
        }
        draft
    }

    /// Where this publisher publishes `draft`.
    pub fn address(&self, draft: &Draft) -> Address {
        draft.address(&self.author())
    }

    /// Signs `draft` (already [`complete`](Publisher::complete)d) as the version after `held`,
    /// dated `now`. Signing validates the content.
    pub(crate) fn sign(
        &self,
        draft: &Draft,
        held: Option<u64>,
        now: i64,
    ) -> Result<Record, NodeError> {
        Ok(Record::sign(
            &self.identity,
            draft.slug(),
            next_seq(held),
            now,
            draft.content.clone(),
        )?)
    }

    /// Signs `content` at `slug` as version `seq`, dated `now` (for charters and bindings,
    /// whose slugs and versions follow their own rules).
    pub(crate) fn sign_at(
        &self,
        slug: convene_protocol::Slug,
        seq: u64,
        content: convene_protocol::Content,
        now: i64,
    ) -> Result<Record, NodeError> {
        Ok(Record::sign(&self.identity, slug, seq, now, content)?)
    }

    /// Signs this identity's request to publish for `organisation`, sent by `node`.
    pub(crate) fn sign_delegation_ask(
        &self,
        organisation: AuthorKey,
        node: &str,
        person: Option<String>,
        note: Option<String>,
        now: i64,
    ) -> Result<Vec<u8>, convene_protocol::RecordError> {
        convene_protocol::keys::DelegationAsk::sign(
            &self.identity,
            organisation,
            node,
            person,
            note,
            now,
        )
    }

    /// Signs a request to join `network`, sent by `node`.
    pub(crate) fn sign_join(
        &self,
        network: convene_protocol::NetworkId,
        node: &str,
        note: Option<String>,
        now: i64,
    ) -> Result<Vec<u8>, NodeError> {
        Ok(convene_protocol::network::JoinRequest::sign(
            &self.identity,
            network,
            node,
            note,
            now,
        )?)
    }

    /// A retraction of the version `held` at `address`.
    fn retraction(
        &self,
        address: &Address,
        held: Option<LatestEntry>,
        now: i64,
    ) -> Result<Record, NodeError> {
        if address.author != self.author() {
            return Err(NodeError::NotYours {
                address: address.clone(),
            });
        }
        let held = held.ok_or_else(|| NodeError::NotFound(address.clone()))?;
        if held.retracted {
            return Err(NodeError::Retracted(address.clone()));
        }
        Ok(Record::sign_retraction(
            &self.identity,
            address,
            next_seq(Some(held.version.seq)),
            now,
        )?)
    }
}

impl Node {
    /// Publishes `draft` as `publisher`'s next version at its address, unless `check` finds
    /// similar records first. The record goes through the write path like any other.
    pub fn publish(
        &mut self,
        publisher: &Publisher,
        draft: Draft,
        check: SimilarCheck,
        now: i64,
    ) -> Result<PublishOutcome, NodeError> {
        let draft = publisher.complete(draft);
        let (draft, card) = split_contact(draft)?;
        if let convene_protocol::Content::Vouch(vouch) = &draft.content
            && vouch.subject == publisher.author()
        {
            return Err(NodeError::Invalid(
                "an organisation cannot vouch for itself".into(),
            ));
        }
        if let convene_protocol::Content::Delegation(delegation) = &draft.content
            && delegation.delegate == publisher.author()
        {
            return Err(NodeError::Invalid(
                "an organisation does not delegate to its own key".into(),
            ));
        }
        let address = publisher.address(&draft);
        let held = self.store().latest(&address)?;
        // Bringing a retracted record back is never done silently (regression: issue 11,
        // friction 12).
        if matches!(check, SimilarCheck::Ask { .. }) && held.is_some_and(|held| held.retracted) {
            return Ok(PublishOutcome::Retracted(address));
        }
        // A new version of a record of one's own is an update, never a duplicate.
        let updating = held.is_some_and(|held| !held.retracted);
        if let SimilarCheck::Ask { limit } = check
            && !updating
        {
            draft.content.validate()?;
            let similar = self.similar_before_publishing(&draft, &address, limit)?;
            if !similar.is_empty() {
                return Ok(PublishOutcome::Similar(similar));
            }
        }
        let previous_seq = held.map(|held| held.version.seq);
        let record = publisher.sign(&draft, previous_seq, now)?;
        self.admit_own(&record)?;
        if draft.content.kind() == Kind::Practitioner {
            self.set_contact_card(publisher, &address, card, now)?;
        }
        Ok(PublishOutcome::Published(Published {
            record,
            previous_seq,
        }))
    }

    /// What to show before publishing `draft` at `address`: for experiments and lessons,
    /// records about the same idea (join them rather than repeat them); for a practitioner,
    /// only people of the same name (is this the same person?); nothing for the rest.
    fn similar_before_publishing(
        &self,
        draft: &Draft,
        address: &Address,
        limit: usize,
    ) -> Result<Vec<(f32, Hit)>, NodeError> {
        let kind = draft.content.kind();
        match kind {
            Kind::Experiment | Kind::Lesson => self.similar(&SimilarQuery {
                content: draft.content.clone(),
                exclude: Some(address.clone()),
                threshold: SimilarityThreshold::PUBLISH,
                limit,
            }),
            Kind::Practitioner => {
                let name = crate::trust::fold(draft.content.title());
                let hits = self.search(&convene_search::Query {
                    text: format!("\"{}\"", draft.content.title().replace('"', " ")),
                    kind: Some(Kind::Practitioner),
                    limit: limit.max(1) * 5,
                    ..convene_search::Query::default()
                })?;
                Ok(hits
                    .into_iter()
                    .filter(|hit| hit.address != *address && crate::trust::fold(&hit.title) == name)
                    .take(limit)
                    .map(|hit| (1.0, hit))
                    .collect())
            }
            Kind::Organisation
            | Kind::Vouch
            | Kind::Charter
            | Kind::Binding
            | Kind::Featured
            | Kind::Contact
            | Kind::Delegation
            | Kind::Interest
            | Kind::Succession => Ok(Vec::new()),
        }
    }

    /// Retracts one of `publisher`'s records: a signed tombstone replaces it everywhere.
    pub fn retract(
        &mut self,
        publisher: &Publisher,
        address: &Address,
        now: i64,
    ) -> Result<Record, NodeError> {
        let held = self.store().latest(address)?;
        let record = publisher.retraction(address, held, now)?;
        self.admit_own(&record)?;
        if address.kind == Kind::Practitioner {
            self.set_contact_card(publisher, address, None, now)?;
        }
        Ok(record)
    }

    /// Makes the contact card at the practitioner's `address` say `card` (or, with `None`,
    /// retracts a live one): the card goes only to the members of its networks.
    fn set_contact_card(
        &mut self,
        publisher: &Publisher,
        address: &Address,
        card: Option<ContactCard>,
        now: i64,
    ) -> Result<(), NodeError> {
        let at = Address {
            kind: Kind::Contact,
            ..address.clone()
        };
        let held = self.store().get(&at)?;
        let live = held.as_ref().filter(|record| !record.is_retraction());
        match card {
            Some(card) => {
                let same =
                    live.and_then(Record::content) == Some(&Content::ContactCard(card.clone()));
                if !same {
                    let seq = next_seq(held.map(|record| record.header().seq));
                    let record =
                        publisher.sign_at(at.slug.clone(), seq, Content::ContactCard(card), now)?;
                    self.admit_own(&record)?;
                }
            }
            None => {
                if live.is_some() {
                    let latest = self.store().latest(&at)?;
                    let record = publisher.retraction(&at, latest, now)?;
                    self.admit_own(&record)?;
                }
            }
        }
        Ok(())
    }

    /// Admits a record signed here; anything but storing it is an error for the caller.
    pub(crate) fn admit_own(&mut self, record: &Record) -> Result<(), NodeError> {
        match self
            .admit(std::slice::from_ref(record), Source::Own)?
            .remove(0)
        {
            Outcome::Stored { .. } | Outcome::Duplicate => Ok(()),
            Outcome::Stale { stored, .. } => Err(NodeError::Stale {
                address: record.address(),
                stored: stored.seq,
                offered: record.header().seq,
            }),
            Outcome::Refused(reason) | Outcome::Elsewhere(reason) => Err(NodeError::Refused {
                address: record.address(),
                reason,
            }),
        }
    }
}
