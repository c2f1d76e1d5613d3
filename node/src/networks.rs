//! Convened networks as this node sees them: the charters it holds (resolved by the charter
//! rules), the networks it joined (a local decision), and which organisations bind which nodes.
//!
//! Three questions are answered here, from that state alone (pure functions, no I/O):
//! - **admission**: may a record naming networks enter this store? A record published into a
//!   members-only network by a non-member is refused; one in no network this node replicates
//!   is left where it is (not stored, not wrong).
//! - **where a record counts**: a members-only network counts a record only while its author
//!   is a member, so a removed member's records leave the network with the charter version that
//!   removed it. A record that counts in none of the networks it names is hidden: not searched,
//!   not sent.
//! - **who may receive it**: a record is *open* if it is in the commons or an open network;
//!   otherwise it goes only to peers bound (by a binding record) to an organisation that is a
//!   member of a members-only network the record counts in.

use std::collections::{BTreeMap, HashMap, HashSet};

use convene_protocol::network::{CharterVersion, Resolved, resolve};
use convene_protocol::{
    AuthorKey, Binding, Charter, Content, Delegation, Featured, Kind, NetworkId, NetworkPolicy,
    Record, RecordId,
};
use serde::{Deserialize, Serialize};

/// A network this node joined: it replicates the network's records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined {
    /// Unix seconds.
    pub at: i64,
}

/// What admission decides about where a record belongs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// In a network this node replicates (or not a record that names networks).
    Keep,
    /// In no network this node replicates: not stored, nothing wrong with it.
    Elsewhere(String),
    /// Refused: published into a members-only network by a non-member, or a charter amendment
    /// by someone who cannot amend it.
    Refused(String),
}

/// A charter version held, with its signer.
#[derive(Clone, Debug)]
pub struct HeldCharter {
    pub id: RecordId,
    pub author: AuthorKey,
    pub charter: Charter,
}

/// This node's view of the networks.
#[derive(Clone, Debug, Default)]
pub struct Networks {
    versions: HashMap<RecordId, HeldCharter>,
    resolved: BTreeMap<NetworkId, Resolved>,
    joined: BTreeMap<NetworkId, Joined>,
    /// Peer id (text) → organisations whose binding lists it.
    bound: HashMap<String, Vec<AuthorKey>>,
    /// Organisation → the peer ids its binding lists.
    nodes: HashMap<AuthorKey, Vec<String>>,
    /// Record → the networks whose (current) convenors feature it.
    featured: HashMap<crate::Address, Vec<NetworkId>>,
    /// Delegate key → the organisations it acts for, by their unexpired delegations.
    acting: HashMap<AuthorKey, Vec<(AuthorKey, Delegation)>>,
    /// Key → the keys it succeeds (rotation, recovery): it is a member wherever they are.
    predecessors: HashMap<AuthorKey, Vec<AuthorKey>>,
}

impl Networks {
    /// The view from what the store holds: every charter version, every live binding, and the
    /// networks joined.
    pub fn new(
        versions: Vec<HeldCharter>,
        bindings: Vec<(AuthorKey, Binding)>,
        joined: BTreeMap<NetworkId, Joined>,
    ) -> Networks {
        let versions: HashMap<RecordId, HeldCharter> =
            versions.into_iter().map(|held| (held.id, held)).collect();
        let mut by_network: BTreeMap<NetworkId, Vec<CharterVersion<'_>>> = BTreeMap::new();
        for held in versions.values() {
            by_network
                .entry(held.charter.id())
                .or_default()
                .push(CharterVersion {
                    id: held.id,
                    author: held.author,
                    charter: &held.charter,
                });
        }
        let resolved = by_network
            .into_iter()
            .filter_map(|(network, held)| Some((network.clone(), resolve(&network, &held)?)))
            .collect();
        let mut bound: HashMap<String, Vec<AuthorKey>> = HashMap::new();
        let mut nodes = HashMap::new();
        for (organisation, binding) in bindings {
            for node in &binding.nodes {
                bound.entry(node.clone()).or_default().push(organisation);
            }
            nodes.insert(organisation, binding.nodes);
        }
        Networks {
            versions,
            resolved,
            joined,
            bound,
            nodes,
            featured: HashMap::new(),
            acting: HashMap::new(),
            predecessors: HashMap::new(),
        }
    }

    /// A view with these charters, bindings and delegations, and this one's networks joined
    /// and featured lists (for a write that brings charters, bindings or delegations).
    pub fn rebuilt(
        &self,
        charters: Vec<HeldCharter>,
        bindings: Vec<(AuthorKey, Binding)>,
        delegations: Vec<(AuthorKey, Delegation)>,
        today: convene_protocol::Date,
    ) -> Networks {
        let mut networks = Networks::new(charters, bindings, self.joined.clone())
            .with_delegations(delegations, today);
        networks.featured = self.featured.clone();
        networks
    }

    /// This view with the delegations held, `(organisation, delegation)`: those that have not
    /// expired by `today` let their delegates act for the organisation.
    pub fn with_delegations(
        mut self,
        delegations: Vec<(AuthorKey, Delegation)>,
        today: convene_protocol::Date,
    ) -> Networks {
        for (organisation, delegation) in delegations {
            if delegation.expires >= today {
                self.acting
                    .entry(delegation.delegate)
                    .or_default()
                    .push((organisation, delegation));
            }
        }
        self
    }

    /// This view with the keys' successions: a successor is a member wherever a key it
    /// succeeds is.
    pub fn with_successions(
        mut self,
        successions: &convene_protocol::keys::Successions,
    ) -> Networks {
        self.predecessors = successions
            .verdicts()
            .filter_map(|verdict| verdict.successor)
            .map(|successor| (successor, successions.predecessors(&successor)))
            .collect();
        self
    }

    /// The organisations `key` acts for by delegation, with their delegations.
    pub fn acts_for(&self, key: &AuthorKey) -> &[(AuthorKey, Delegation)] {
        self.acting.get(key).map_or(&[], Vec::as_slice)
    }

    /// Whether `key` is a member under `charter`: a member organisation, or a delegate of one
    /// (for records of `kind`, when given, if its delegation covers them).
    pub fn member(&self, charter: &Charter, key: &AuthorKey, kind: Option<Kind>) -> bool {
        charter.is_member(key)
            || self
                .predecessors
                .get(key)
                .is_some_and(|before| before.iter().any(|k| charter.is_member(k)))
            || self.acts_for(key).iter().any(|(organisation, delegation)| {
                charter.is_member(organisation) && kind.is_none_or(|kind| delegation.covers(kind))
            })
    }

    /// This view with the featured lists held: `(author, list)`. A list counts only while its
    /// author convenes the network.
    pub fn with_featured(mut self, lists: Vec<(AuthorKey, Featured)>) -> Networks {
        for (author, list) in lists {
            let convenes = self
                .resolved
                .get(&list.network)
                .is_some_and(|r| r.head.convenors.contains(&author));
            if !convenes {
                continue;
            }
            for address in list.records {
                let networks = self.featured.entry(address).or_default();
                if !networks.contains(&list.network) {
                    networks.push(list.network.clone());
                }
            }
        }
        self
    }

    /// The networks whose convenors feature the record at `address`.
    pub fn featured_in(&self, address: &crate::Address) -> &[NetworkId] {
        self.featured.get(address).map_or(&[], Vec::as_slice)
    }

    /// The records featured in `network`.
    pub fn featured(&self, network: &NetworkId) -> Vec<crate::Address> {
        let mut out: Vec<crate::Address> = self
            .featured
            .iter()
            .filter(|(_, networks)| networks.contains(network))
            .map(|(address, _)| address.clone())
            .collect();
        out.sort();
        out
    }

    /// The current charter of `network`, if a founding version is held.
    pub fn charter(&self, network: &NetworkId) -> Option<&Resolved> {
        self.resolved.get(network)
    }

    /// Every network whose charter this node holds.
    pub fn charters(&self) -> impl Iterator<Item = (&NetworkId, &Resolved)> {
        self.resolved.iter()
    }

    pub fn joined(&self) -> &BTreeMap<NetworkId, Joined> {
        &self.joined
    }

    /// Whether this node replicates `network`'s records (the commons always).
    pub fn replicates(&self, network: &NetworkId) -> bool {
        network.is_commons() || self.joined.contains_key(network)
    }

    /// The networks this node replicates: what it asks peers for in a sync.
    pub fn scope(&self) -> Vec<NetworkId> {
        std::iter::once(NetworkId::Commons)
            .chain(self.joined.keys().cloned())
            .collect()
    }

    /// The organisations whose bindings list `peer` (a libp2p peer id).
    pub fn organisations_of(&self, peer: &str) -> &[AuthorKey] {
        self.bound.get(peer).map_or(&[], Vec::as_slice)
    }

    /// The node ids `organisation`'s binding lists.
    pub fn nodes_of(&self, organisation: &AuthorKey) -> &[String] {
        self.nodes.get(organisation).map_or(&[], Vec::as_slice)
    }

    /// A network's display name: its charter's, else its id.
    pub fn name_of(&self, network: &NetworkId) -> String {
        match (network, self.resolved.get(network)) {
            (NetworkId::Commons, _) => "the commons".into(),
            (_, Some(resolved)) => resolved.head.name.clone(),
            (id, None) => id.to_string(),
        }
    }

    /// Finds a network by its id, `commons`, or the name or slug of a charter held (a unique
    /// match, case-insensitive).
    pub fn find(&self, text: &str) -> Result<NetworkId, String> {
        if let Ok(id) = text.parse::<NetworkId>() {
            return Ok(id);
        }
        let wanted = crate::trust::fold(text);
        let matches: Vec<&NetworkId> = self
            .resolved
            .iter()
            .filter(|(_, resolved)| {
                crate::trust::fold(&resolved.head.name) == wanted
                    || resolved.head.network.as_str() == text.trim()
            })
            .map(|(id, _)| id)
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(format!(
                "no network called {text:?} is known here (`convene network list` shows them; \
                 a network's address works too)"
            )),
            several => Err(format!(
                "{} networks are called {text:?}; name one by its address: {}",
                several.len(),
                several
                    .iter()
                    .map(|id| id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Whether `network` counts a record by `author`: the commons and open networks count
    /// everyone's; a members-only network only its current members'. A network whose charter
    /// is not held counts nothing (this node cannot tell who belongs).
    pub fn counts(&self, network: &NetworkId, author: &AuthorKey) -> bool {
        match network {
            NetworkId::Commons => true,
            convened => self.resolved.get(convened).is_some_and(|resolved| {
                resolved.head.policy == NetworkPolicy::Open
                    || self.member(&resolved.head, author, None)
            }),
        }
    }

    /// Whether a record by `author` naming `networks` (none: the commons) counts anywhere:
    /// if not, it is hidden (not searched, not sent).
    pub fn visible(&self, author: &AuthorKey, networks: &[NetworkId]) -> bool {
        networks.is_empty() || networks.iter().any(|n| self.counts(n, author))
    }

    /// Whether a record by `author` naming `networks` may go to any peer: it is in the
    /// commons or in an open network.
    pub fn is_open(&self, networks: &[NetworkId]) -> bool {
        networks.is_empty()
            || networks.iter().any(|network| match network {
                NetworkId::Commons => true,
                convened => self
                    .resolved
                    .get(convened)
                    .is_some_and(|r| r.head.policy == NetworkPolicy::Open),
            })
    }

    /// Whether a record naming `networks` belongs to members-only networks only (and so never
    /// travels by gossip).
    pub fn members_only(&self, networks: &[NetworkId]) -> bool {
        !networks.is_empty()
            && !self.is_open(networks)
            && networks.iter().any(|network| {
                self.resolved
                    .get(network)
                    .is_some_and(|r| r.head.policy == NetworkPolicy::Members)
            })
    }

    /// Whether a record of `kind` naming `networks` goes only to some nodes (and so never
    /// travels by gossip): a members-only network's record, or a contact card.
    pub fn restricted(&self, kind: Kind, networks: &[NetworkId]) -> bool {
        kind == Kind::Contact || self.members_only(networks)
    }

    /// Whether a peer bound to `organisations` may receive a record of `kind` by `author`
    /// naming `networks`: an open record goes to anyone; a members-only one only to members of
    /// a members-only network it counts in; a contact card only to members of one of its
    /// networks, open or not.
    pub fn may_receive(
        &self,
        organisations: &[AuthorKey],
        author: &AuthorKey,
        kind: Kind,
        networks: &[NetworkId],
    ) -> bool {
        if !self.visible(author, networks) {
            return false;
        }
        if kind == Kind::Contact {
            return networks.iter().any(|network| {
                self.resolved.get(network).is_some_and(|resolved| {
                    self.counts(network, author)
                        && organisations
                            .iter()
                            .any(|org| self.member(&resolved.head, org, None))
                })
            });
        }
        if self.is_open(networks) {
            return true;
        }
        networks.iter().any(|network| {
            self.resolved.get(network).is_some_and(|resolved| {
                self.member(&resolved.head, author, None)
                    && organisations
                        .iter()
                        .any(|org| self.member(&resolved.head, org, None))
            })
        })
    }

    /// Whether a peer asking for `scope` wants a record naming `networks` (none: the commons).
    pub fn in_scope(scope: &[NetworkId], networks: &[NetworkId]) -> bool {
        if networks.is_empty() {
            return scope.contains(&NetworkId::Commons);
        }
        networks.iter().any(|network| scope.contains(network))
    }

    /// **Admission by network**: where `record` belongs. `own`: it was signed here (a record
    /// for a network this node has not joined is then refused, not left aside).
    pub fn place(&self, record: &Record, own: bool) -> Placement {
        let Some(content) = record.content() else {
            return Placement::Keep;
        };
        let author = record.header().author;
        if let Content::Charter(charter) = content {
            return self.place_charter(&author, charter);
        }
        if let Content::Featured(featured) = content
            && let Some(resolved) = self.resolved.get(&featured.network)
            && !resolved.head.convenors.contains(&author)
        {
            return Placement::Refused(format!(
                "only a convenor of {} features records in it",
                resolved.head.name
            ));
        }
        let networks = content.networks();
        for network in networks {
            let Some(resolved) = self.resolved.get(network) else {
                continue;
            };
            if resolved.head.policy == NetworkPolicy::Members
                && !self.member(&resolved.head, &author, Some(record.header().kind))
            {
                return Placement::Refused(format!(
                    "{} is a members-only network and the author is not a member",
                    resolved.head.name
                ));
            }
        }
        if networks.is_empty() {
            return Placement::Keep;
        }
        if networks
            .iter()
            .any(|network| self.replicates(network) && self.known(network))
        {
            return Placement::Keep;
        }
        let (reason, advice) = match networks.iter().find(|n| self.replicates(n)) {
            Some(unknown) => (
                format!("this node joined {unknown} but does not hold its charter yet"),
                "it comes with the first sync with a member's node (`convene network show` \
                 says when it has)",
            ),
            None => (
                format!(
                    "published into {}, which this node has not joined",
                    networks
                        .iter()
                        .map(|n| self.name_of(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "join it first (`convene network join`)",
            ),
        };
        if own {
            Placement::Refused(format!("{reason}: {advice}"))
        } else {
            Placement::Elsewhere(reason)
        }
    }

    fn known(&self, network: &NetworkId) -> bool {
        network.is_commons() || self.resolved.contains_key(network)
    }

    /// A charter amendment naming a version this node holds must be signed by one of that
    /// version's convenors; anything else about charters is left to the charter rules.
    fn place_charter(&self, author: &AuthorKey, charter: &Charter) -> Placement {
        let Some(previous) = charter.previous.and_then(|id| self.versions.get(&id)) else {
            return Placement::Keep;
        };
        if !previous.charter.convenors.contains(author) {
            return Placement::Refused(format!(
                "only a convenor of version {} of {} may amend it",
                previous.charter.version, previous.charter.name
            ));
        }
        Placement::Keep
    }
}

/// The networks a stored record names, for the store's index of them: `None` for the kinds
/// that are in no network (profiles, vouches, charters, bindings).
pub fn named_networks(record: &Record) -> Option<&[NetworkId]> {
    match record.header().kind {
        Kind::Experiment | Kind::Practitioner | Kind::Lesson => {
            record.content().map(Content::networks)
        }
        Kind::Featured | Kind::Contact => record.content().map(Content::networks),
        Kind::Organisation
        | Kind::Vouch
        | Kind::Charter
        | Kind::Binding
        | Kind::Delegation
        | Kind::Interest
        | Kind::Succession => None,
    }
}

/// Encodes a list of networks for the store: each as length (u16) ‖ its byte form.
pub(crate) fn encode_list(networks: &[NetworkId]) -> Vec<u8> {
    let mut out = Vec::new();
    for network in networks {
        let key = network.to_key();
        out.extend_from_slice(&(key.len() as u16).to_be_bytes());
        out.extend_from_slice(&key);
    }
    out
}

/// Decodes [`encode_list`]'s bytes; entries that do not decode are skipped.
pub(crate) fn decode_list(mut bytes: &[u8]) -> Vec<NetworkId> {
    let mut out = Vec::new();
    while let Some((len, rest)) = bytes.split_at_checked(2) {
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let Some((key, rest)) = rest.split_at_checked(len) else {
            break;
        };
        if let Some(network) = NetworkId::from_key(key) {
            out.push(network);
        }
        bytes = rest;
    }
    out
}

/// Distinct organisations, for the set of peers' organisations a sync set is built for.
pub fn distinct(organisations: &[AuthorKey]) -> Vec<AuthorKey> {
    let set: HashSet<AuthorKey> = organisations.iter().copied().collect();
    let mut out: Vec<AuthorKey> = set.into_iter().collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_protocol::keys::{Statement, Succession, Successions, accept_succession};
    use convene_protocol::{Identity, Slug};

    #[test]
    fn a_members_new_key_is_a_member_and_a_strangers_is_not() {
        let (founder, member, successor, stranger) = (
            Identity::from_secret([1; 32]),
            Identity::from_secret([2; 32]),
            Identity::from_secret([3; 32]),
            Identity::from_secret([4; 32]),
        );
        let charter = Charter {
            founder: founder.author(),
            network: Slug::new("pilots").unwrap(),
            version: 1,
            previous: None,
            name: "Pilots".into(),
            purpose: None,
            policy: NetworkPolicy::Members,
            convenors: vec![founder.author()],
            members: vec![founder.author(), member.author()],
            federates: Vec::new(),
        };
        let network = charter.id();
        let held = HeldCharter {
            id: RecordId([9; 32]),
            author: founder.author(),
            charter,
        };
        let rotation = Succession {
            subject: member.author(),
            successor: Some(successor.author()),
            accepted: Some(accept_succession(&successor, &member.author())),
            declaration: None,
            kept: Vec::new(),
            reason: None,
        };
        let successions = Successions::new(
            &[Statement {
                author: member.author(),
                succession: &rotation,
            }],
            |_, _| false,
        );
        let networks =
            Networks::new(vec![held], Vec::new(), BTreeMap::new()).with_successions(&successions);
        assert!(networks.counts(&network, &member.author()));
        assert!(networks.counts(&network, &successor.author()));
        assert!(!networks.counts(&network, &stranger.author()));
    }
}
