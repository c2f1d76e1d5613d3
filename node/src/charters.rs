//! Convening networks: founding one, amending its charter (inviting and removing members),
//! joining and leaving, and binding this node to its organisation. Every charter version and
//! binding is signed with the [`Publisher`]'s identity and enters the store by the write path,
//! like any record.

use convene_protocol::network::{JoinRequest, MAX_NODES};
use convene_protocol::{
    Address, AuthorKey, Binding, Charter, Content, Featured, Kind, NetworkId, NetworkPolicy,
    Record, Slug,
};
use serde::{Deserialize, Serialize};

use crate::networks::Joined;
use crate::{Node, NodeError, Publisher, next_seq};

/// A change to the networks, asked by this node's operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum NetworkChange {
    /// Convene a new network: this organisation is its founder and first convenor; this node
    /// joins it.
    Create {
        slug: Slug,
        name: String,
        #[serde(default)]
        purpose: Option<String>,
        #[serde(default)]
        policy: NetworkPolicy,
    },
    /// Add a member organisation (a convenor's amendment).
    Invite {
        network: String,
        organisation: AuthorKey,
    },
    /// Remove a member organisation (a convenor's amendment): its records leave a
    /// members-only network from this version on.
    Remove {
        network: String,
        organisation: AuthorKey,
    },
    /// Make a member a convenor too (a convenor's amendment); it ranks after the others.
    AddConvenor {
        network: String,
        organisation: AuthorKey,
    },
    /// Replicate the network's records from now on.
    Join { network: String },
    /// Feature a record of the network (or with `remove`, stop featuring it), as a convenor.
    Feature {
        network: String,
        record: Address,
        #[serde(default)]
        remove: bool,
    },
    /// Drop an organisation's join request unanswered.
    Decline {
        network: String,
        organisation: AuthorKey,
    },
    /// Stop replicating the network's records (those held stay).
    Leave { network: String },
}

/// A network as this node sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkView {
    pub id: NetworkId,
    /// The charter's name; `None` while the charter is not held (joined from a ticket, before
    /// the first sync).
    pub name: Option<String>,
    pub purpose: Option<String>,
    pub policy: Option<NetworkPolicy>,
    /// The charter version that counts, and how many versions led to it.
    pub version: Option<u64>,
    pub convenors: Vec<Member>,
    /// Member organisations, convenors included.
    pub members: Vec<Member>,
    pub federates: Vec<NetworkId>,
    /// This node replicates it.
    pub joined: bool,
    /// This node's organisation is a member / a convenor.
    pub member: bool,
    pub convenor: bool,
    /// Records held that name it (as counted: a removed member's are not).
    pub records: u64,
    /// The records its convenors feature.
    #[serde(default)]
    pub featured: Vec<Address>,
}

/// `POST /networks/ask`: send a request to join `network` to `peer` (a convenor's node).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AskToJoin {
    pub network: String,
    /// The convenor's node: a libp2p peer id.
    pub peer: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// A person's request, through their running node, to publish for an organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AskDelegation {
    pub organisation: AuthorKey,
    /// The organisation's node: a libp2p peer id.
    pub peer: String,
    #[serde(default)]
    pub person: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Most join requests a node keeps unanswered.
pub const MAX_PENDING_JOINS: usize = 1_000;

/// A join request kept for a convenor, as this node received it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingJoin {
    pub request: JoinRequest,
    /// Unix seconds.
    pub received_at: i64,
    /// The name this node knows the organisation by, when answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

fn join_key(network: &NetworkId, organisation: &AuthorKey) -> Vec<u8> {
    let mut key = network.to_key();
    key.extend_from_slice(organisation.as_bytes());
    key
}

/// A member organisation: its key, the name this node knows it by, and how many nodes its
/// binding lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub key: AuthorKey,
    pub name: Option<String>,
    pub nodes: usize,
}

impl NetworkView {
    /// The name to show: the charter's, else the id.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.id.to_string())
    }
}

impl Node {
    /// Every network this node holds a charter of or joined, joined ones first.
    pub fn network_views(&self) -> Result<Vec<NetworkView>, NodeError> {
        let networks = self.networks()?;
        let mut ids: Vec<NetworkId> = networks.joined().keys().cloned().collect();
        for (id, _) in networks.charters() {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        ids.iter().map(|id| self.network_view(id)).collect()
    }

    /// One network as this node sees it.
    pub fn network_view(&self, id: &NetworkId) -> Result<NetworkView, NodeError> {
        let networks = self.networks()?;
        let names = self.names()?;
        let owner = self.owner;
        let member = |key: &AuthorKey| Member {
            key: *key,
            name: names.name_of(key).map(str::to_string),
            nodes: networks.nodes_of(key).len(),
        };
        let mut records = 0;
        for address in self.store().addresses_in(id)? {
            if networks.counts(id, &address.author)
                && self.store().latest(&address)?.is_some_and(|l| !l.retracted)
            {
                records += 1;
            }
        }
        let resolved = networks.charter(id);
        let head = resolved.map(|resolved| &resolved.head);
        Ok(NetworkView {
            id: id.clone(),
            name: head.map(|c| c.name.clone()),
            purpose: head.and_then(|c| c.purpose.clone()),
            policy: head.map(|c| c.policy),
            version: head.map(|c| c.version),
            convenors: head.map_or(Vec::new(), |c| c.convenors.iter().map(member).collect()),
            members: head.map_or(Vec::new(), |c| c.all_members().iter().map(member).collect()),
            federates: head.map_or(Vec::new(), |c| c.federates.clone()),
            joined: networks.joined().contains_key(id),
            member: owner.is_some_and(|o| head.is_some_and(|c| networks.member(c, &o, None))),
            convenor: owner.is_some_and(|o| head.is_some_and(|c| c.convenors.contains(&o))),
            records,
            featured: networks.featured(id),
        })
    }

    /// Applies `change` as `publisher`: signs and stores a charter version if it amends one.
    /// Returns the network as it now is, and the record to spread, if one was signed.
    pub fn change_network(
        &mut self,
        publisher: &Publisher,
        change: NetworkChange,
        now: i64,
    ) -> Result<(NetworkView, Option<Record>), NodeError> {
        let me = publisher.author();
        let (id, record) = match change {
            NetworkChange::Create {
                slug,
                name,
                purpose,
                policy,
            } => {
                let charter = Charter {
                    founder: me,
                    network: slug,
                    version: 1,
                    previous: None,
                    name,
                    purpose,
                    policy,
                    convenors: vec![me],
                    members: Vec::new(),
                    federates: Vec::new(),
                };
                let id = charter.id();
                if self.networks()?.charter(&id).is_some() {
                    return Err(NodeError::Invalid(format!(
                        "you already convene a network at {id}; choose another slug"
                    )));
                }
                let record = self.sign_charter(publisher, charter, now)?;
                self.set_joined(&id, Some(&Joined { at: now }))?;
                (id, Some(record))
            }
            NetworkChange::Invite {
                network,
                organisation,
            } => self
                .amend(publisher, &network, now, |charter| {
                    if charter.is_member(&organisation) {
                        return Err(format!("{organisation} is already a member"));
                    }
                    charter.members.push(organisation);
                    Ok(())
                })
                .and_then(|amended| {
                    // An invitation answers the organisation's join request, if it sent one.
                    self.store()
                        .set_join_request(&join_key(&amended.0, &organisation), None)?;
                    Ok(amended)
                })?,
            NetworkChange::Remove {
                network,
                organisation,
            } => self.amend(publisher, &network, now, |charter| {
                if !charter.is_member(&organisation) {
                    return Err(format!("{organisation} is not a member"));
                }
                if charter.convenors == [organisation] {
                    return Err("a network keeps at least one convenor: add another first".into());
                }
                charter.members.retain(|key| *key != organisation);
                charter.convenors.retain(|key| *key != organisation);
                Ok(())
            })?,
            NetworkChange::AddConvenor {
                network,
                organisation,
            } => self.amend(publisher, &network, now, |charter| {
                if charter.convenors.contains(&organisation) {
                    return Err(format!("{organisation} is already a convenor"));
                }
                charter.members.retain(|key| *key != organisation);
                charter.convenors.push(organisation);
                Ok(())
            })?,
            NetworkChange::Join { network } => {
                let id = self
                    .networks()?
                    .find(&network)
                    .map_err(NodeError::Invalid)?;
                self.set_joined(&id, Some(&Joined { at: now }))?;
                (id, None)
            }
            NetworkChange::Feature {
                network,
                record,
                remove,
            } => self.feature(publisher, &network, record, remove, now)?,
            NetworkChange::Decline {
                network,
                organisation,
            } => {
                let id = self
                    .networks()?
                    .find(&network)
                    .map_err(NodeError::Invalid)?;
                if !self
                    .store()
                    .set_join_request(&join_key(&id, &organisation), None)?
                {
                    return Err(NodeError::Invalid(format!(
                        "no join request from {organisation} for this network"
                    )));
                }
                (id, None)
            }
            NetworkChange::Leave { network } => {
                let id = self
                    .networks()?
                    .find(&network)
                    .map_err(NodeError::Invalid)?;
                if !self.set_joined(&id, None)? {
                    return Err(NodeError::Invalid(format!(
                        "this node has not joined {}",
                        self.networks()?.name_of(&id)
                    )));
                }
                (id, None)
            }
        };
        Ok((self.network_view(&id)?, record))
    }

    /// Signs the next version of `network`'s charter, changed by `change`, as `publisher`
    /// (who must be a convenor of the current version).
    fn amend(
        &mut self,
        publisher: &Publisher,
        network: &str,
        now: i64,
        change: impl FnOnce(&mut Charter) -> Result<(), String>,
    ) -> Result<(NetworkId, Option<Record>), NodeError> {
        let networks = self.networks()?;
        let id = networks.find(network).map_err(NodeError::Invalid)?;
        let resolved = networks.charter(&id).ok_or_else(|| {
            NodeError::Invalid(format!(
                "this node does not hold the charter of {id} yet; sync with a member first"
            ))
        })?;
        if !resolved.head.convenors.contains(&publisher.author()) {
            return Err(NodeError::Invalid(format!(
                "only a convenor of {} can amend its charter; this organisation is not one",
                resolved.head.name
            )));
        }
        let mut next = resolved.head.amend(resolved.head_id());
        change(&mut next).map_err(NodeError::Invalid)?;
        let record = self.sign_charter(publisher, next, now)?;
        Ok((id, Some(record)))
    }

    /// Signs the next version of `publisher`'s featured list for `network`, with `record`
    /// added (or removed).
    fn feature(
        &mut self,
        publisher: &Publisher,
        network: &str,
        record: Address,
        remove: bool,
        now: i64,
    ) -> Result<(NetworkId, Option<Record>), NodeError> {
        let networks = self.networks()?;
        let id = networks.find(network).map_err(NodeError::Invalid)?;
        let resolved = networks.charter(&id).ok_or_else(|| {
            NodeError::Invalid(format!("this node does not hold the charter of {id} yet"))
        })?;
        let name = resolved.head.name.clone();
        if !resolved.head.convenors.contains(&publisher.author()) {
            return Err(NodeError::Invalid(format!(
                "only a convenor of {name} features records in it"
            )));
        }
        let address = Address {
            author: publisher.author(),
            kind: Kind::Featured,
            slug: Featured::slug_for(&id),
        };
        let held = self.store().get(&address)?;
        let mut records = match held.as_ref().and_then(Record::content) {
            Some(Content::Featured(list)) => list.records.clone(),
            _ => Vec::new(),
        };
        if remove {
            if !records.contains(&record) {
                return Err(NodeError::Invalid(format!(
                    "{record} is not featured in {name}"
                )));
            }
            records.retain(|featured| *featured != record);
        } else {
            if records.contains(&record) {
                return Err(NodeError::Invalid(format!(
                    "{record} is already featured in {name}"
                )));
            }
            let in_network = self.store().places(&record)?.is_some_and(|named| {
                named.contains(&id) && networks.visible(&record.author, &named)
            });
            if self.get(&record).is_err() || !in_network {
                return Err(NodeError::Invalid(format!(
                    "{record} is not a record of {name} held here: only what is published into \
                     the network can be featured in it"
                )));
            }
            records.push(record);
        }
        let seq = next_seq(held.map(|record| record.header().seq));
        let list = Content::Featured(Featured {
            network: id.clone(),
            records,
        });
        let record = publisher.sign_at(Featured::slug_for(&id), seq, list, now)?;
        self.admit_own(&record)?;
        Ok((id, Some(record)))
    }

    fn sign_charter(
        &mut self,
        publisher: &Publisher,
        charter: Charter,
        now: i64,
    ) -> Result<Record, NodeError> {
        let record = publisher.sign_at(charter.slug(), 1, Content::Charter(charter), now)?;
        self.admit_own(&record)?;
        Ok(record)
    }

    /// Keeps a join request a peer sent, for this node's convenor to answer (`convene network
    /// requests`). `from` is the peer that sent it: the request must name it. Refused unless
    /// this node's organisation convenes the network.
    pub fn receive_join(
        &mut self,
        request: JoinRequest,
        from: &str,
        now: i64,
    ) -> Result<(), NodeError> {
        if request.node != from {
            return Err(NodeError::Invalid(
                "the join request names another node than the one that sent it".into(),
            ));
        }
        let networks = self.networks()?;
        let convenes = networks.charter(&request.network).is_some_and(|resolved| {
            self.owner
                .is_some_and(|owner| resolved.head.convenors.contains(&owner))
        });
        if !convenes {
            return Err(NodeError::Invalid(format!(
                "this node's organisation does not convene {}",
                request.network
            )));
        }
        if networks
            .charter(&request.network)
            .is_some_and(|resolved| resolved.head.is_member(&request.organisation))
        {
            return Ok(());
        }
        let key = join_key(&request.network, &request.organisation);
        let pending = self.store().join_requests()?;
        if pending.len() >= MAX_PENDING_JOINS && !pending.iter().any(|(k, _)| *k == key) {
            return Err(NodeError::Invalid(format!(
                "{MAX_PENDING_JOINS} join requests wait for an answer here already; try later"
            )));
        }
        let kept = PendingJoin {
            request,
            received_at: now,
            name: None,
        };
        let value = serde_json::to_vec(&kept).expect("plain data");
        self.store()
            .set_join_request(&key, Some(&value))
            .map_err(|e| self.write_failed(e.into()))?;
        Ok(())
    }

    /// The join requests waiting for this node's convenor, oldest first; those whose
    /// organisation became a member meanwhile are left out.
    pub fn join_requests(&self) -> Result<Vec<PendingJoin>, NodeError> {
        let networks = self.networks()?;
        let names = self.names()?;
        let mut out: Vec<PendingJoin> = self
            .store()
            .join_requests()?
            .into_iter()
            .filter_map(|(_, value)| serde_json::from_slice::<PendingJoin>(&value).ok())
            .filter(|pending| {
                !networks
                    .charter(&pending.request.network)
                    .is_some_and(|r| r.head.is_member(&pending.request.organisation))
            })
            .map(|mut pending| {
                pending.name = names
                    .name_of(&pending.request.organisation)
                    .map(str::to_string);
                pending
            })
            .collect();
        out.sort_by_key(|pending| pending.received_at);
        Ok(out)
    }

    /// Makes sure `publisher`'s binding lists `node` (this node's peer id), so that members'
    /// nodes send it their members-only records. Returns the new binding version, if one was
    /// signed. A binding lists at most [`MAX_NODES`]; the oldest entries make room.
    pub fn bind(
        &mut self,
        publisher: &Publisher,
        node: &str,
        now: i64,
    ) -> Result<Option<Record>, NodeError> {
        let address = convene_protocol::Address {
            author: publisher.author(),
            kind: convene_protocol::Kind::Binding,
            slug: Binding::slug(),
        };
        let held = self.store().get(&address)?;
        let mut nodes = match held.as_ref().and_then(Record::content) {
            Some(Content::Binding(binding)) => binding.nodes.clone(),
            _ => Vec::new(),
        };
        if nodes.iter().any(|n| n == node) {
            return Ok(None);
        }
        nodes.push(node.to_string());
        if nodes.len() > MAX_NODES {
            nodes.drain(..nodes.len() - MAX_NODES);
        }
        let seq = next_seq(held.map(|record| record.header().seq));
        let record = publisher.sign_at(
            Binding::slug(),
            seq,
            Content::Binding(Binding { nodes }),
            now,
        )?;
        self.admit_own(&record)?;
        Ok(Some(record))
    }
}
