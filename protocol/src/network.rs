//! Convened networks: their ids, charters, the bindings of nodes to organisations, and the
//! charter rules.
//!
//! A network is convened by an organisation (its founder) and described by a **charter**: a
//! chain of signed versions, each naming the version it replaces. Version 1 is signed by the
//! founder; each later version counts only if signed by a convenor of the version it replaces.
//! Charter versions are immutable (each is its own record, signed once at `seq` 1, never
//! retracted), so every node that holds the same versions resolves the same charter, whatever
//! order they arrived in: see [`resolve`].
//!
//! A record names the networks it is published into (its `networks` field, part of the signed
//! bytes); a record that names none is in the public commons. A *binding* is an organisation's
//! signed list of the libp2p peer ids of its nodes: a node sends a members-only network's
//! records only to peers bound to a member organisation.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::{AuthorKey, RecordError, RecordId, Slug};

/// Longest network slug: a charter version's slug is `<network>-v<version>` and slugs are at
/// most 64 bytes.
pub const MAX_NETWORK_SLUG: usize = 40;
/// Most networks one record may be published into.
pub const MAX_NETWORKS: usize = 16;
/// Most convenors a charter may name.
pub const MAX_CONVENORS: usize = 32;
/// Most members a charter may name (a charter stays well under the record size limit).
pub const MAX_MEMBERS: usize = 1_000;
/// Most node ids one binding may list.
pub const MAX_NODES: usize = 16;
/// Longest node id text (libp2p peer ids in base58 are about 52 characters).
pub const MAX_NODE_ID: usize = 128;

/// A network a record can be published into: the public commons, or a convened network,
/// identified by its founder's key and its slug.
///
/// Text form: `commons`, or `convene://<founder>/network/<slug>`. As bytes (inside records):
/// empty for the commons, else founder (32 bytes) ‖ slug.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum NetworkId {
    Commons,
    Convened { founder: AuthorKey, slug: Slug },
}

impl NetworkId {
    pub const COMMONS: &'static str = "commons";

    pub fn is_commons(&self) -> bool {
        matches!(self, NetworkId::Commons)
    }

    /// The byte form used inside records.
    pub fn to_key(&self) -> Vec<u8> {
        match self {
            NetworkId::Commons => Vec::new(),
            NetworkId::Convened { founder, slug } => {
                let mut key = Vec::with_capacity(32 + slug.as_str().len());
                key.extend_from_slice(founder.as_bytes());
                key.extend_from_slice(slug.as_str().as_bytes());
                key
            }
        }
    }

    pub fn from_key(key: &[u8]) -> Option<NetworkId> {
        if key.is_empty() {
            return Some(NetworkId::Commons);
        }
        let (founder, slug) = key.split_at_checked(32)?;
        let slug = Slug::new(std::str::from_utf8(slug).ok()?).ok()?;
        if slug.as_str().len() > MAX_NETWORK_SLUG {
            return None;
        }
        Some(NetworkId::Convened {
            founder: AuthorKey(founder.try_into().ok()?),
            slug,
        })
    }
}

impl fmt::Display for NetworkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkId::Commons => f.write_str(NetworkId::COMMONS),
            NetworkId::Convened { founder, slug } => {
                write!(f, "{}{founder}/network/{slug}", crate::Address::SCHEME)
            }
        }
    }
}

impl FromStr for NetworkId {
    type Err = String;

    fn from_str(text: &str) -> Result<NetworkId, String> {
        let text = text.trim();
        if text == NetworkId::COMMONS {
            return Ok(NetworkId::Commons);
        }
        let fail = |reason: &str| {
            format!(
                "invalid network {text:?}: {reason} (expected `commons` or \
                 convene://<founder>/network/<slug>)"
            )
        };
        let rest = text
            .strip_prefix(crate::Address::SCHEME)
            .ok_or_else(|| fail("it does not start with convene://"))?;
        let mut parts = rest.split('/');
        let (Some(founder), Some("network"), Some(slug), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(fail("it needs the parts <founder>/network/<slug>"));
        };
        let founder = AuthorKey::from_base32(founder)
            .ok_or_else(|| fail("the founder key is not 52 base32 characters"))?;
        let slug = Slug::new(slug).map_err(|e| fail(&e.to_string()))?;
        if slug.as_str().len() > MAX_NETWORK_SLUG {
            return Err(fail(&format!(
                "a network slug is at most {MAX_NETWORK_SLUG} characters"
            )));
        }
        Ok(NetworkId::Convened { founder, slug })
    }
}

impl serde::Serialize for NetworkId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for NetworkId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<NetworkId, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Who may publish into a network, and who receives its records.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum NetworkPolicy {
    /// Anyone may publish into it; its records are open to everyone.
    #[default]
    Open,
    /// Only member organisations publish into it, and its records go only to their nodes.
    Members,
}

impl NetworkPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkPolicy::Open => "open",
            NetworkPolicy::Members => "members",
        }
    }
}

impl FromStr for NetworkPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<NetworkPolicy, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(NetworkPolicy::Open),
            "members" | "members-only" => Ok(NetworkPolicy::Members),
            other => Err(format!(
                "unknown network policy {other:?}: expected open or members"
            )),
        }
    }
}

impl fmt::Display for NetworkPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One version of a network's charter (kind 6). Published at the slug
/// `<network>-v<version>` with `seq` 1; never retracted or re-signed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Charter {
    /// The organisation that convened the network (signed version 1).
    pub founder: AuthorKey,
    /// The network's slug; with the founder, the network's id.
    pub network: Slug,
    /// 1 for the founding charter, then one more than the version it replaces.
    pub version: u64,
    /// The id of the version this one replaces (absent only in version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<RecordId>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default)]
    pub policy: NetworkPolicy,
    /// Organisations that may amend the charter, in order of precedence: when two convenors
    /// amend the same version at once, the amendment of the one listed first counts.
    pub convenors: Vec<AuthorKey>,
    /// Member organisations (convenors are members too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<AuthorKey>,
    /// Networks this one federates with (shown to members; replication stays per network).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federates: Vec<NetworkId>,
}

impl Charter {
    /// The network this charter describes.
    pub fn id(&self) -> NetworkId {
        NetworkId::Convened {
            founder: self.founder,
            slug: self.network.clone(),
        }
    }

    /// The slug this version is published at.
    pub fn slug(&self) -> Slug {
        Slug::new(&format!("{}-v{}", self.network, self.version))
            .expect("a network slug of at most 40 bytes and a number make a slug")
    }

    /// Whether `key` is a member organisation (convenors are members).
    pub fn is_member(&self, key: &AuthorKey) -> bool {
        self.convenors.contains(key) || self.members.contains(key)
    }

    /// Members and convenors, each once, convenors first.
    pub fn all_members(&self) -> Vec<AuthorKey> {
        let mut out = self.convenors.clone();
        for member in &self.members {
            if !out.contains(member) {
                out.push(*member);
            }
        }
        out
    }

    /// The next version, replacing this one (`id` is this version's record id), with the same
    /// content for the caller to amend.
    pub fn amend(&self, id: RecordId) -> Charter {
        Charter {
            version: self.version + 1,
            previous: Some(id),
            ..self.clone()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), RecordError> {
        let invalid = |field: &'static str, reason: String| RecordError::Invalid { field, reason };
        if self.network.as_str().len() > MAX_NETWORK_SLUG {
            return Err(invalid(
                "network",
                format!("a network slug is at most {MAX_NETWORK_SLUG} characters"),
            ));
        }
        if self.version == 0 {
            return Err(invalid("version", "versions start at 1".into()));
        }
        match (self.version, &self.previous) {
            (1, Some(_)) => {
                return Err(invalid(
                    "previous",
                    "version 1 replaces nothing, so it names no previous version".into(),
                ));
            }
            (2.., None) => {
                return Err(RecordError::Missing("previous"));
            }
            _ => {}
        }
        if self.convenors.is_empty() {
            return Err(RecordError::Missing("convenors"));
        }
        for (field, keys, max) in [
            ("convenors", &self.convenors, MAX_CONVENORS),
            ("members", &self.members, MAX_MEMBERS),
        ] {
            if keys.len() > max {
                return Err(RecordError::TooMany {
                    field,
                    count: keys.len(),
                    max,
                });
            }
            if has_duplicates(keys) {
                return Err(invalid(field, "a key is listed twice".into()));
            }
        }
        if self.version == 1 && !self.convenors.contains(&self.founder) {
            return Err(invalid(
                "convenors",
                "the founding charter names its founder as a convenor".into(),
            ));
        }
        check_networks("federates", &self.federates)?;
        if self.federates.iter().any(NetworkId::is_commons) {
            return Err(invalid(
                "federates",
                "a network federates with other convened networks, not the commons".into(),
            ));
        }
        if self.federates.contains(&self.id()) {
            return Err(invalid(
                "federates",
                "a network does not federate with itself".into(),
            ));
        }
        Ok(())
    }
}

/// An organisation's signed list of the libp2p peer ids of its nodes (kind 7), at the slug
/// [`Binding::SLUG`]: a newer version replaces the list, a retraction unbinds them all.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    pub nodes: Vec<String>,
}

impl Binding {
    pub const SLUG: &'static str = "nodes";

    pub fn slug() -> Slug {
        Slug::new(Binding::SLUG).expect("a valid slug")
    }

    pub(crate) fn validate(&self) -> Result<(), RecordError> {
        if self.nodes.is_empty() {
            return Err(RecordError::Missing("nodes"));
        }
        if self.nodes.len() > MAX_NODES {
            return Err(RecordError::TooMany {
                field: "nodes",
                count: self.nodes.len(),
                max: MAX_NODES,
            });
        }
        for node in &self.nodes {
            let base58 = |c: char| c.is_ascii_alphanumeric() && !matches!(c, '0' | 'O' | 'I' | 'l');
            if node.is_empty() || node.len() > MAX_NODE_ID || !node.chars().all(base58) {
                return Err(RecordError::Invalid {
                    field: "nodes",
                    reason: format!("{node:?} is not a node id (a base58 libp2p peer id)"),
                });
            }
        }
        if has_duplicates(&self.nodes) {
            return Err(RecordError::Invalid {
                field: "nodes",
                reason: "a node is listed twice".into(),
            });
        }
        Ok(())
    }
}

fn has_duplicates<T: Ord + Clone>(items: &[T]) -> bool {
    let mut sorted = items.to_vec();
    sorted.sort();
    sorted.windows(2).any(|pair| pair[0] == pair[1])
}

/// Checks a list of networks: at most [`MAX_NETWORKS`], none twice.
pub(crate) fn check_networks(
    field: &'static str,
    networks: &[NetworkId],
) -> Result<(), RecordError> {
    if networks.len() > MAX_NETWORKS {
        return Err(RecordError::TooMany {
            field,
            count: networks.len(),
            max: MAX_NETWORKS,
        });
    }
    if has_duplicates(networks) {
        return Err(RecordError::Invalid {
            field,
            reason: "a network is listed twice".into(),
        });
    }
    Ok(())
}

/// Checks what a charter version's header must say: version 1 is signed by the founder, every
/// version sits at its own slug with `seq` 1.
pub(crate) fn check_charter_header(
    author: &AuthorKey,
    slug: &Slug,
    seq: u64,
    charter: &Charter,
) -> Result<(), RecordError> {
    if *slug != charter.slug() {
        return Err(RecordError::Invalid {
            field: "slug",
            reason: format!(
                "version {} of this charter is published at {}",
                charter.version,
                charter.slug()
            ),
        });
    }
    if seq != 1 {
        return Err(RecordError::Invalid {
            field: "seq",
            reason: "a charter version is signed once, at seq 1; amend it with a new version"
                .into(),
        });
    }
    if charter.version == 1 && *author != charter.founder {
        return Err(RecordError::Invalid {
            field: "founder",
            reason: "the founding charter is signed by its founder".into(),
        });
    }
    Ok(())
}

/// A charter version as held: its record id, its signer and its content.
#[derive(Clone, Copy, Debug)]
pub struct CharterVersion<'a> {
    pub id: RecordId,
    pub author: AuthorKey,
    pub charter: &'a Charter,
}

/// A network's charter as resolved from the versions a node holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The record ids of the versions that count, from the founding charter to the current one.
    pub chain: Vec<RecordId>,
    /// The signer of each version in `chain`.
    pub signers: Vec<AuthorKey>,
    /// The current charter.
    pub head: Charter,
}

impl Resolved {
    pub fn head_id(&self) -> RecordId {
        *self.chain.last().expect("a chain has its founding version")
    }
}

/// **The charter rules.** Resolves `network`'s current charter from the versions held, in any
/// order: `None` when no valid founding version is held.
///
/// 1. Version 1 counts only if signed by the founder.
/// 2. A later version counts only if it names the version it replaces (`previous`), has the
///    next version number, and is signed by a convenor of the version it replaces.
/// 3. When several versions replace the same one (concurrent amendments), the one signed by
///    the convenor listed first in the replaced version counts, and between two by the same
///    convenor the one with the lower record id.
///
/// The result depends only on the set of versions, never on their order of arrival. A version
/// arriving late changes the result only if it is a counting successor the node lacked — an
/// old version that was replaced is already in the chain, or loses to the amendment that
/// replaced it, so the charter never rolls back.
pub fn resolve(network: &NetworkId, versions: &[CharterVersion<'_>]) -> Option<Resolved> {
    let mine: Vec<&CharterVersion<'_>> = versions
        .iter()
        .filter(|v| v.charter.id() == *network)
        .collect();
    let mut successors: HashMap<RecordId, Vec<&CharterVersion<'_>>> = HashMap::new();
    for version in &mine {
        if let Some(previous) = version.charter.previous {
            successors.entry(previous).or_default().push(version);
        }
    }
    let founding = mine
        .iter()
        .filter(|v| {
            v.charter.version == 1 && v.charter.previous.is_none() && v.author == v.charter.founder
        })
        .min_by_key(|v| v.id)?;
    let mut resolved = Resolved {
        chain: vec![founding.id],
        signers: vec![founding.author],
        head: founding.charter.clone(),
    };
    let mut current = *founding;
    loop {
        let rank = |author: &AuthorKey| {
            current
                .charter
                .convenors
                .iter()
                .position(|convenor| convenor == author)
        };
        let next = successors
            .get(&current.id)
            .into_iter()
            .flatten()
            .filter(|v| v.charter.version == current.charter.version + 1)
            .filter_map(|v| rank(&v.author).map(|rank| (rank, v.id, *v)))
            .min_by_key(|(rank, id, _)| (*rank, *id));
        match next {
            Some((_, _, version)) => {
                resolved.chain.push(version.id);
                resolved.signers.push(version.author);
                resolved.head = version.charter.clone();
                current = version;
            }
            None => return Some(resolved),
        }
    }
}

/// Most records one featured list names.
pub const MAX_FEATURED: usize = 64;

/// A convenor's list of records it features in a network (kind 8): "featured by …" in results,
/// and first in searches within the network. Published at [`Featured::slug_for`] the network,
/// so a newer list replaces the older and a retraction clears it. It counts only while its
/// author convenes the network; it travels like the network's records (a members-only
/// network's list only to members).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Featured {
    pub network: NetworkId,
    #[serde(default)]
    pub records: Vec<crate::Address>,
}

impl Featured {
    /// The slug a convenor's featured list for `network` lives at: `featured-` and 16 hex
    /// digits of the BLAKE3 hash of the network's byte form.
    pub fn slug_for(network: &NetworkId) -> Slug {
        let hash = blake3::hash(&network.to_key());
        let hex: String = hash.as_bytes()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Slug::new(&format!("featured-{hex}")).expect("a valid slug")
    }

    pub(crate) fn validate(&self) -> Result<(), RecordError> {
        if self.network.is_commons() {
            return Err(RecordError::Invalid {
                field: "network",
                reason: "records are featured in a convened network, not the commons".into(),
            });
        }
        if self.records.len() > MAX_FEATURED {
            return Err(RecordError::TooMany {
                field: "records",
                count: self.records.len(),
                max: MAX_FEATURED,
            });
        }
        if has_duplicates(&self.records) {
            return Err(RecordError::Invalid {
                field: "records",
                reason: "a record is listed twice".into(),
            });
        }
        Ok(())
    }
}

/// Who may see a practitioner's contact details.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ContactVisibility {
    /// Anyone: the contact is in the practitioner record itself.
    #[default]
    Everyone,
    /// Members of the networks the practitioner is published in: the contact is in a separate
    /// contact card that goes only to their nodes.
    Networks,
    /// Nobody: ask through the organisation.
    Nobody,
}

impl ContactVisibility {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactVisibility::Everyone => "everyone",
            ContactVisibility::Networks => "networks",
            ContactVisibility::Nobody => "nobody",
        }
    }
}

impl FromStr for ContactVisibility {
    type Err = String;

    fn from_str(text: &str) -> Result<ContactVisibility, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "everyone" => Ok(ContactVisibility::Everyone),
            "networks" => Ok(ContactVisibility::Networks),
            "nobody" => Ok(ContactVisibility::Nobody),
            other => Err(format!(
                "unknown contact visibility {other:?}: expected everyone, networks or nobody"
            )),
        }
    }
}

/// A practitioner's contact details for the members of its networks only (kind 9), at the
/// practitioner's own slug. It goes only to nodes bound to a member organisation of one of
/// `networks` — open networks included — and never by gossip.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactCard {
    pub contact: String,
    pub networks: Vec<NetworkId>,
}

impl ContactCard {
    pub(crate) fn validate(&self) -> Result<(), RecordError> {
        if self.contact.trim().is_empty() {
            return Err(RecordError::Missing("contact"));
        }
        if self.contact.chars().count() > crate::limits::SHORT
            || self.contact.chars().any(char::is_control)
        {
            return Err(RecordError::Invalid {
                field: "contact",
                reason: format!("one line of at most {} characters", crate::limits::SHORT),
            });
        }
        if self.networks.is_empty() || self.networks.iter().any(NetworkId::is_commons) {
            return Err(RecordError::Invalid {
                field: "networks",
                reason: "a contact card is for the members of convened networks".into(),
            });
        }
        check_networks("networks", &self.networks)
    }
}

/// An organisation's signed statement that a person's key acts for it (kind 10): "this key
/// publishes for us as ROLE, for these kinds of record, until EXPIRES". Published by the
/// organisation at [`Delegation::slug_for`] the delegate, so a newer one replaces it and a
/// retraction revokes it. In a members-only network, a member's delegate publishes as the
/// member does, and its node receives what the member's nodes receive.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delegation {
    /// The person's key, as in its addresses.
    pub delegate: AuthorKey,
    /// What the person does for the organisation ("Digital Lead").
    pub role: String,
    /// The kinds of record it covers; none: experiments, practitioners and lessons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<crate::Kind>,
    /// The last day it holds.
    pub expires: crate::Date,
    /// The person's consent ([`crate::keys::consent`]): without it the delegation counts for
    /// nothing, so no organisation can claim a key that did not ask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<crate::keys::Sig>,
    /// The name of the person it was given to, as their practitioner record had it: if the
    /// record's name changes, readers see the delegation as stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
}

impl Delegation {
    /// The slug a delegation of `delegate` is published at.
    pub fn slug_for(delegate: &AuthorKey) -> Slug {
        Slug::new(&format!("delegate-{}", delegate.to_base32())).expect("base32 is slug-safe")
    }

    /// Whether the delegate consented to act for `organisation` (the delegation's author).
    pub fn consented(&self, organisation: &AuthorKey) -> bool {
        self.consent.is_some_and(|consent| {
            crate::keys::consent_verifies(&consent, organisation, &self.delegate)
        })
    }

    /// Whether it covers records of `kind`.
    pub fn covers(&self, kind: crate::Kind) -> bool {
        if self.kinds.is_empty() {
            matches!(
                kind,
                crate::Kind::Experiment | crate::Kind::Practitioner | crate::Kind::Lesson
            )
        } else {
            self.kinds.contains(&kind)
        }
    }

    pub(crate) fn validate(&self) -> Result<(), RecordError> {
        if self.role.trim().is_empty() {
            return Err(RecordError::Missing("role"));
        }
        if self.role.chars().count() > crate::limits::SHORT
            || self.role.chars().any(char::is_control)
        {
            return Err(RecordError::Invalid {
                field: "role",
                reason: format!("one line of at most {} characters", crate::limits::SHORT),
            });
        }
        let publishable = [
            crate::Kind::Experiment,
            crate::Kind::Practitioner,
            crate::Kind::Lesson,
        ];
        if let Some(kind) = self.kinds.iter().find(|k| !publishable.contains(k)) {
            return Err(RecordError::Invalid {
                field: "kinds",
                reason: format!(
                    "a delegate publishes experiments, practitioners or lessons, not {kind}"
                ),
            });
        }
        if let Some(person) = &self.person
            && (person.trim().is_empty()
                || person.chars().count() > crate::limits::SHORT
                || person.chars().any(char::is_control))
        {
            return Err(RecordError::Invalid {
                field: "person",
                reason: format!("one line of 1 to {} characters", crate::limits::SHORT),
            });
        }
        if has_duplicates(&self.kinds) {
            return Err(RecordError::Invalid {
                field: "kinds",
                reason: "a kind is listed twice".into(),
            });
        }
        Ok(())
    }
}

/// An organisation's signal that it is interested in, or trying, the idea of an experiment
/// (kind 11): "we're interested in this too". Published at [`Interest::slug_for`] the
/// experiment, so a newer one replaces it and a retraction withdraws it. Public, like profiles.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interest {
    pub experiment: crate::Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Interest {
    /// The slug an interest in `experiment` is published at: `interest-` and 16 hex digits of
    /// the BLAKE3 hash of the experiment's address key.
    pub fn slug_for(experiment: &crate::Address) -> Slug {
        let hash = blake3::hash(&experiment.to_key());
        let hex: String = hash.as_bytes()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Slug::new(&format!("interest-{hex}")).expect("a valid slug")
    }

    pub(crate) fn validate(&self) -> Result<(), RecordError> {
        if self.experiment.kind != crate::Kind::Experiment {
            return Err(RecordError::Invalid {
                field: "experiment",
                reason: format!("{} is not an experiment", self.experiment),
            });
        }
        if let Some(note) = &self.note
            && (note.chars().count() > crate::limits::SUMMARY || note.chars().any(char::is_control))
        {
            return Err(RecordError::Invalid {
                field: "note",
                reason: format!("one line of at most {} characters", crate::limits::SUMMARY),
            });
        }
        Ok(())
    }
}

/// The first bytes of a signed join request: never mistaken for a record or another message.
const JOIN_TAG: &[u8] = b"convene-join-request";
/// The join request format this code writes and reads.
const JOIN_VERSION: u8 = 1;
/// Longest note a join request carries, in bytes.
pub const MAX_JOIN_NOTE: usize = 500;
/// Largest join request on the wire.
pub const MAX_JOIN_BYTES: usize = JOIN_TAG.len()
    + 1
    + 1
    + 32
    + MAX_NETWORK_SLUG
    + 32
    + 1
    + MAX_NODE_ID
    + 8
    + 2
    + MAX_JOIN_NOTE
    + 64;

/// An organisation asking a network's convenors to admit it: signed by the organisation's key,
/// naming the node that sends it (so a convenor's node takes it only from that node). Not a
/// record: it goes from the asking node to a convenor's node, and nowhere else.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JoinRequest {
    pub network: NetworkId,
    pub organisation: AuthorKey,
    /// The asking node's libp2p peer id.
    pub node: String,
    /// Unix seconds, by the asker's clock.
    pub created_at: i64,
    /// A word for the convenor ("we run the Leicester triage pilot").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Why join request bytes were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("malformed join request: {0}")]
    Malformed(&'static str),
    #[error("the join request's signature does not verify")]
    BadSignature,
    #[error("a join request is for a convened network, not the commons")]
    Commons,
}

impl JoinRequest {
    /// The bytes the organisation signs: tag ‖ version ‖ network key (length u8) ‖ organisation
    /// (32) ‖ node (length u8) ‖ created_at (i64) ‖ note (length u16, empty when none).
    fn signed_bytes(&self) -> Vec<u8> {
        let network = self.network.to_key();
        let note = self.note.as_deref().unwrap_or("");
        let mut bytes = JOIN_TAG.to_vec();
        bytes.push(JOIN_VERSION);
        bytes.push(network.len() as u8);
        bytes.extend_from_slice(&network);
        bytes.extend_from_slice(self.organisation.as_bytes());
        bytes.push(self.node.len() as u8);
        bytes.extend_from_slice(self.node.as_bytes());
        bytes.extend_from_slice(&self.created_at.to_be_bytes());
        bytes.extend_from_slice(&(note.len() as u16).to_be_bytes());
        bytes.extend_from_slice(note.as_bytes());
        bytes
    }

    /// Signs a request to join `network` as `identity`, sent by `node`: the signed bytes
    /// followed by the 64-byte signature.
    pub fn sign(
        identity: &crate::Identity,
        network: NetworkId,
        node: &str,
        note: Option<String>,
        created_at: i64,
    ) -> Result<Vec<u8>, RecordError> {
        if network.is_commons() {
            return Err(RecordError::Invalid {
                field: "network",
                reason: "a join request is for a convened network".into(),
            });
        }
        if node.is_empty() || node.len() > MAX_NODE_ID {
            return Err(RecordError::Invalid {
                field: "node",
                reason: "not a node id".into(),
            });
        }
        let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        if let Some(note) = &note
            && (note.len() > MAX_JOIN_NOTE || note.chars().any(char::is_control))
        {
            return Err(RecordError::Invalid {
                field: "note",
                reason: format!("a note is one line of at most {MAX_JOIN_NOTE} bytes"),
            });
        }
        let request = JoinRequest {
            network,
            organisation: identity.author(),
            node: node.to_string(),
            created_at,
            note,
        };
        let mut bytes = request.signed_bytes();
        let signature = ed25519_dalek::Signer::sign(identity.signing_key(), &bytes);
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(bytes)
    }

    /// Reads and verifies a signed request.
    pub fn verify(bytes: &[u8]) -> Result<JoinRequest, JoinError> {
        if bytes.len() > MAX_JOIN_BYTES {
            return Err(JoinError::Malformed("too long"));
        }
        let (signed, signature) = bytes
            .split_at_checked(bytes.len().saturating_sub(64))
            .filter(|(signed, _)| !signed.is_empty())
            .ok_or(JoinError::Malformed("too short"))?;
        let mut rest = signed
            .strip_prefix(JOIN_TAG)
            .ok_or(JoinError::Malformed("not a join request"))?;
        let mut take = |n: usize| -> Result<&[u8], JoinError> {
            let (head, tail) = rest
                .split_at_checked(n)
                .ok_or(JoinError::Malformed("truncated"))?;
            rest = tail;
            Ok(head)
        };
        if take(1)? != [JOIN_VERSION] {
            return Err(JoinError::Malformed("unknown version"));
        }
        let len = usize::from(take(1)?[0]);
        let network =
            NetworkId::from_key(take(len)?).ok_or(JoinError::Malformed("not a network id"))?;
        if network.is_commons() {
            return Err(JoinError::Commons);
        }
        let organisation = AuthorKey(take(32)?.try_into().expect("32 bytes"));
        let len = usize::from(take(1)?[0]);
        let node = std::str::from_utf8(take(len)?)
            .map_err(|_| JoinError::Malformed("the node id is not UTF-8"))?
            .to_string();
        let created_at = i64::from_be_bytes(take(8)?.try_into().expect("8 bytes"));
        let len = usize::from(u16::from_be_bytes(take(2)?.try_into().expect("2 bytes")));
        let note = std::str::from_utf8(take(len)?)
            .map_err(|_| JoinError::Malformed("the note is not UTF-8"))?
            .to_string();
        if !rest.is_empty() {
            return Err(JoinError::Malformed("trailing bytes"));
        }
        let signature = ed25519_dalek::Signature::from_bytes(
            signature.try_into().expect("64 bytes by the split"),
        );
        crate::ids::verifying_key(&organisation)
            .map_err(|_| JoinError::BadSignature)?
            .verify_strict(signed, &signature)
            .map_err(|_| JoinError::BadSignature)?;
        Ok(JoinRequest {
            network,
            organisation,
            node,
            created_at,
            note: (!note.is_empty()).then_some(note),
        })
    }
}
