//! The network event loop: one task owns the libp2p swarm.
//!
//! It turns swarm events into work for the store actor (gossiped records, sync requests) and
//! work back into swarm calls (validation results, responses, dials). It never waits on the
//! store: gossip that finds the store's queue full is ignored (not penalised), and everything
//! slower runs in spawned tasks that report back on a bounded channel this loop drains.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use convene_protocol::wire::{
    GOSSIP_TOPIC, MAX_FRAME_BYTES, Request, Response, SYNC_PROTOCOL, network_topic,
};
use convene_protocol::{MAX_RECORD_BYTES, NetworkId, RecordId};
use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageId};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, allow_block_list, connection_limits, identify, kad,
    mdns, memory_connection_limits, noise, ping, tcp, yamux,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};

use super::actor::{StoreHandle, Verdict};
use super::codec::SyncCodec;
use super::peers::{BookSnapshot, PeerBans, PeerBook, PeerEntry, PeerError};
use super::rate::Buckets;
use super::sync::{self, Responder, SyncBudget, SyncReport};
use crate::admission::Source;
use crate::settings::NodeSettings;
use crate::trust::Block;

/// How long a peer that sent too many invalid records stays refused.
const BLOCK_FOR: Duration = Duration::from_secs(3600);
/// Longest wait between redials of a remembered peer.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often the peer table is refreshed through Kademlia.
const KAD_BOOTSTRAP_EVERY: Duration = Duration::from_secs(300);
/// How often a node announces, in the DHT, the networks it replicates and looks for their
/// other nodes.
const PROVIDE_EVERY: Duration = Duration::from_secs(30);
/// Gossip score below which a peer's messages are ignored; such a peer is also disconnected.
const GRAYLIST: f64 = -100.0;
/// A connection this node opened is not closed as spare before it is this old: long enough
/// for identify, a first sync and the gossip mesh to settle.
const SPARE_GRACE: Duration = Duration::from_secs(30);
/// Queue of commands to the network loop.
pub(crate) const COMMAND_QUEUE: usize = 256;
/// Peers whose invalid records are counted at once; beyond this the oldest count is dropped.
const MAX_TRACKED_OFFENDERS: usize = 4_096;
/// Concurrent sync streams per connection.
const SYNC_STREAMS: usize = 8;

/// Everything the swarm speaks. (The derive cannot add `Debug`.)
#[allow(missing_debug_implementations)]
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    limits: connection_limits::Behaviour,
    memory: memory_connection_limits::Behaviour,
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    kad: Toggle<kad::Behaviour<kad::store::MemoryStore>>,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
}

/// What the rest of the daemon asks of the network loop.
#[derive(Debug)]
pub enum NetCommand {
    /// Announce one of this node's records (already stored) by gossip, on the topics of the
    /// networks it is in (the commons' when it names none).
    Publish {
        bytes: Vec<u8>,
        networks: Vec<NetworkId>,
    },
    /// Send a sync request; the response (or failure) comes back on `reply`.
    Request {
        peer: PeerId,
        request: Request,
        reply: oneshot::Sender<Result<Response, String>>,
    },
    /// Count invalid records a peer sent outside gossip (during sync).
    Penalise {
        peer: PeerId,
        invalid: u32,
    },
    /// Ask every connected peer to sync with this node (it stored records they may lack).
    Announce,
    AddPeer(PeerEntry, oneshot::Sender<Result<(), PeerError>>),
    RemovePeer(String, oneshot::Sender<Result<Vec<PeerEntry>, PeerError>>),
    Peers(oneshot::Sender<Vec<BookPeer>>),
    /// Blocks a peer for good (`None`: lifts the block); answers whether it was blocked.
    BanPeer(PeerId, Option<Block>, oneshot::Sender<bool>),
    /// The operator's peer blocks.
    Bans(oneshot::Sender<Vec<(PeerId, Block)>>),
    Status(oneshot::Sender<NetStatus>),
    /// Subscribe to a gossip topic by name. Only for tests that play a misbehaving peer.
    #[doc(hidden)]
    SubscribeUnchecked(String),
}

/// Reports from tasks the loop spawned.
enum Internal {
    Verdict {
        message_id: MessageId,
        source: PeerId,
        verdict: Verdict,
    },
    Respond {
        channel: ResponseChannel<Response>,
        response: Response,
    },
    SyncFinished {
        peer: PeerId,
        result: Result<SyncReport, String>,
    },
    /// The networks this node replicates now: their gossip topics are the ones to be on.
    Replicates(Vec<NetworkId>),
}

/// The network part of `convene node status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NetStatus {
    pub peer_id: String,
    pub listen: Vec<String>,
    pub ticket: String,
    pub peers: Vec<PeerStatus>,
    /// Peers refused for sending invalid records.
    pub blocked: Vec<String>,
    /// Invalid records received, from anyone, since start.
    pub invalid_records: u64,
    /// Gossiped records left to sync since start: refused by this node's admission policy or
    /// over an author's gossip rate (`refused`), or over a peer's (`over_peer_rate`).
    #[serde(default)]
    pub gossip_refused: u64,
    #[serde(default)]
    pub gossip_over_peer_rate: u64,
    /// Records received by gossip since start, each counted once, and the copies of them
    /// received in all (the same record from several peers).
    #[serde(default)]
    pub gossip_received: u64,
    #[serde(default)]
    pub gossip_copies: u64,
    pub last_sync: Option<SyncReport>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerStatus {
    pub peer_id: String,
    /// The organisation the peer's node is bound to, by the name this node knows it by (only
    /// nodes in a network publish a binding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    pub address: String,
    /// Gossipsub's score for the peer (negative once it sent invalid records).
    pub score: Option<f64>,
    pub invalid_records: u32,
    /// The peer takes part in record gossip (is subscribed to the topic).
    pub gossip: bool,
    /// The peer is in this node's gossip mesh: records this node forwards go to it at once
    /// (others learn of them at the next heartbeat).
    #[serde(default)]
    pub mesh: bool,
    pub last_sync: Option<SyncReport>,
}

/// An entry of the peer book, and whether it is connected now.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BookPeer {
    pub peer_id: Option<String>,
    pub addrs: Vec<String>,
    pub connected: bool,
    /// The organisation the peer's node is bound to, by the name this node knows it by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
}

struct Redial {
    entry: PeerEntry,
    backoff: Duration,
    next: Instant,
}

#[derive(Default)]
struct PeerState {
    address: Option<Multiaddr>,
    /// This node dialled the peer (its first connection), rather than the peer this node.
    outbound: bool,
    connected_at: Option<Instant>,
    /// Identify said the peer speaks the sync protocol (or it sent a sync request): only then
    /// does this node start syncs with it.
    speaks_sync: bool,
    /// It announced new records while a sync with it was recent: sync once the gap passes.
    announced: bool,
    syncing: bool,
    sync_again: bool,
    last_sync_started: Option<Instant>,
    last_sync: Option<SyncReport>,
}

/// A connected peer, as [`spare_connections`] weighs it.
#[derive(Clone, Copy, Debug)]
struct Connection {
    peer: PeerId,
    since: Instant,
    /// This node opened it.
    outbound: bool,
    /// Something here needs it: a remembered peer, a gossip mesh peer, a node of a network
    /// this node replicates, or a sync under way.
    busy: bool,
}

/// The connections to close, newest first, to come down to `target`: those this node opened,
/// past [`SPARE_GRACE`], that nothing needs. Connections other nodes opened are theirs to close.
fn spare_connections(connections: Vec<Connection>, target: usize, now: Instant) -> Vec<PeerId> {
    let excess = connections.len().saturating_sub(target);
    let mut spare: Vec<Connection> = connections
        .into_iter()
        .filter(|c| c.outbound && !c.busy && now.saturating_duration_since(c.since) >= SPARE_GRACE)
        .collect();
    spare.sort_by_key(|c| std::cmp::Reverse(c.since));
    spare.into_iter().take(excess).map(|c| c.peer).collect()
}

/// Gossipsub's own counts of the records that arrived by gossip: each the first time, and
/// every copy (a record comes from each mesh peer that forwards it before hearing that this
/// node has it).
pub struct GossipCounts(prometheus_client::registry::Registry);

impl GossipCounts {
    /// Records received by gossip for the first time, and copies received in all, since start.
    fn read(&self) -> (u64, u64) {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.0).is_err() {
            return (0, 0);
        }
        (
            counter_total(&text, "topic_msg_recv_counts_total"),
            counter_total(&text, "topic_msg_recv_counts_unfiltered_total"),
        )
    }
}

impl std::fmt::Debug for GossipCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GossipCounts")
    }
}

/// The sum of counter `name` over all its labels, in Prometheus' text format.
fn counter_total(text: &str, name: &str) -> u64 {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            // `name{labels} value` or `name value`; not a longer name that starts with it.
            let value = match rest.strip_prefix('{') {
                Some(labelled) => labelled.rsplit_once("} ")?.1,
                None => rest.strip_prefix(' ')?,
            };
            value.trim().parse::<u64>().ok()
        })
        .sum()
}

/// Builds the swarm: TCP, noise, yamux, and the behaviours above.
pub fn build_swarm(
    keypair: libp2p::identity::Keypair,
    settings: &NodeSettings,
    mdns_on: bool,
) -> Result<(Swarm<Behaviour>, GossipCounts), String> {
    let mut registry = prometheus_client::registry::Registry::default();
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| e.to_string())?
        .with_behaviour(
            |key| -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
                let peer_id = key.public().to_peer_id();
                let mdns = if mdns_on {
                    Some(mdns::tokio::Behaviour::new(
                        mdns::Config::default(),
                        peer_id,
                    )?)
                } else {
                    None
                };
                let kad = settings.kademlia.then(|| {
                    let mut kad = kad::Behaviour::with_config(
                        peer_id,
                        kad::store::MemoryStore::new(peer_id),
                        kad::Config::new(StreamProtocol::new("/convene/kad/1")),
                    );
                    kad.set_mode(Some(kad::Mode::Server));
                    kad
                });
                Ok(Behaviour {
                    limits: connection_limits::Behaviour::new(
                        connection_limits::ConnectionLimits::default()
                            .with_max_established(Some(settings.max_connections))
                            .with_max_pending_incoming(Some(settings.max_connections))
                            .with_max_established_per_peer(Some(2)),
                    ),
                    memory: memory_connection_limits::Behaviour::with_max_bytes(
                        (settings.max_memory_mib as usize).saturating_mul(1024 * 1024),
                    ),
                    blocked: allow_block_list::Behaviour::default(),
                    identify: identify::Behaviour::new(identify::Config::new(
                        "/convene/1".into(),
                        key.public(),
                    )),
                    ping: ping::Behaviour::default(),
                    mdns: mdns.into(),
                    kad: kad.into(),
                    gossipsub: gossip(key)?
                        .with_metrics(&mut registry, gossipsub::MetricsConfig::default()),
                    sync: request_response::Behaviour::with_codec(
                        SyncCodec,
                        [(StreamProtocol::new(SYNC_PROTOCOL), ProtocolSupport::Full)],
                        request_response::Config::default()
                            .with_request_timeout(Duration::from_secs(60))
                            .with_max_concurrent_streams(SYNC_STREAMS),
                    ),
                })
            },
        )
        .map_err(|e| e.to_string())?
        .with_swarm_config(|config| config.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    Ok((swarm, GossipCounts(registry)))
}

/// Gossipsub for records: content-addressed message ids, validation by the store before
/// forwarding, and peer scoring that punishes invalid records.
fn gossip(
    key: &libp2p::identity::Keypair,
) -> Result<gossipsub::Behaviour, Box<dyn std::error::Error + Send + Sync>> {
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .validate_messages()
        // The record id on the commons topic (BLAKE3 of topic and record on a network's, so
        // that a record in several networks goes out on each): copies are recognised before
        // any signature is checked.
        .message_id_fn(|message| {
            if message.topic.as_str() == GOSSIP_TOPIC {
                MessageId::from(RecordId::of(&message.data).0.to_vec())
            } else {
                let tagged = [message.topic.as_str().as_bytes(), b"\n", &message.data].concat();
                MessageId::from(RecordId::of(&tagged).0.to_vec())
            }
        })
        // Room for oversize records to arrive, so that validation rejects them by name.
        .max_transmit_size(2 * MAX_RECORD_BYTES + 4096)
        // Tell mesh peers "I have it" (IDONTWANT, gossipsub 1.2) on receipt of any record, not
        // only those over 1 KB: a record is forwarded only after its hop has stored it, so the
        // notice often arrives first and saves a copy.
        .idontwant_message_size_threshold(0)
        .idontwant_on_publish(true)
        // A mesh of 3 rather than 6: each node receives about 2 copies of a record instead of
        // 5.5 (at most 3 on the busiest node, against 4.7 with a mesh of 4), and no slower
        // across 100 nodes, 10 of them gone (docs/benchmarks.md, "Propagation"). Sync brings
        // whatever a thinner mesh misses.
        .mesh_n(3)
        .mesh_n_low(2)
        .mesh_n_high(6)
        .mesh_outbound_min(1)
        .build()?;
    let mut behaviour =
        gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), config)?;
    let topic = IdentTopic::new(GOSSIP_TOPIC);
    let mut params = gossipsub::PeerScoreParams {
        // Organisations behind one NAT, or nodes on one test host, share an address.
        ip_colocation_factor_weight: 0.0,
        ..gossipsub::PeerScoreParams::default()
    };
    params.topics.insert(topic.hash(), topic_score_params());
    let thresholds = gossipsub::PeerScoreThresholds {
        gossip_threshold: -10.0,
        publish_threshold: -50.0,
        graylist_threshold: GRAYLIST,
        ..gossipsub::PeerScoreThresholds::default()
    };
    behaviour.with_peer_score(params, thresholds)?;
    behaviour.subscribe(&topic)?;
    Ok(behaviour)
}

/// How a peer's gossip on a records topic (the commons' or a network's) is scored.
fn topic_score_params() -> gossipsub::TopicScoreParams {
    gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        // A little credit for staying in the mesh, capped low so it cannot hide bad records.
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 300.0,
        first_message_deliveries_weight: 0.5,
        first_message_deliveries_cap: 20.0,
        // The directory is quiet: no penalty for delivering few messages.
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        // Each invalid record costs its count squared, times this: 4 cost -80, 5 cost -125
        // (below the graylist threshold: the peer is ignored, then disconnected).
        invalid_message_deliveries_weight: -5.0,
        // Per decay interval (a second): the penalty halves in about a minute.
        invalid_message_deliveries_decay: 0.99,
        ..gossipsub::TopicScoreParams::default()
    }
}

/// The loop's state.
#[allow(missing_debug_implementations)]
pub struct Net {
    swarm: Swarm<Behaviour>,
    gossip_counts: GossipCounts,
    store: StoreHandle,
    settings: NodeSettings,
    book: PeerBook,
    commands: mpsc::Receiver<NetCommand>,
    commands_tx: mpsc::Sender<NetCommand>,
    internal: mpsc::Receiver<Internal>,
    internal_tx: mpsc::Sender<Internal>,
    topic: IdentTopic,
    responder: Responder,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Response, String>>>,
    peers: HashMap<PeerId, PeerState>,
    redials: Vec<Redial>,
    /// Invalid records per peer, and when the last came; forgotten an hour after the last.
    invalid: HashMap<PeerId, (u32, Instant)>,
    invalid_total: u64,
    gossip_refused: u64,
    gossip_over_peer_rate: u64,
    blocked: HashMap<PeerId, Instant>,
    last_sync: Option<SyncReport>,
    last_kad_bootstrap: Option<Instant>,
    /// Where changes to the peer book go to be saved, off this loop; set while it runs.
    book_saves: Option<watch::Sender<Option<BookSnapshot>>>,
    /// Gossiped records taken per peer per minute.
    gossip_rates: Buckets<PeerId>,
    /// The store's networks epoch last seen (see [`StoreHandle::networks_epoch`]).
    networks_epoch: u64,
    /// The records topics this node is on: the commons' and its networks'.
    topics: HashSet<gossipsub::TopicHash>,
    /// The convened networks this node replicates: it provides them in the DHT, and dials the
    /// other nodes that do.
    replicated: Vec<NetworkId>,
    last_provide: Option<Instant>,
    /// Peers the operator blocked for good.
    bans: PeerBans,
    /// Nodes found in the DHT as nodes of a network this node replicates: kept connected.
    /// Only those dialled or connected (a failed dial or a closed connection drops one), so at
    /// most the connection limit.
    network_nodes: HashSet<PeerId>,
    /// Where changes to the bans go to be saved, off this loop; set while it runs.
    ban_saves: Option<watch::Sender<Option<BookSnapshot>>>,
}

impl Net {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        (swarm, gossip_counts): (Swarm<Behaviour>, GossipCounts),
        store: StoreHandle,
        settings: NodeSettings,
        book: PeerBook,
        bans: PeerBans,
        bootstrap: Vec<PeerEntry>,
        commands: mpsc::Receiver<NetCommand>,
        commands_tx: mpsc::Sender<NetCommand>,
    ) -> Net {
        let (internal_tx, internal) = mpsc::channel(COMMAND_QUEUE);
        let responder = Responder::new(SyncBudget::from(&settings));
        let gossip_rates = Buckets::new(settings.gossip_records_per_peer_per_minute);
        let now = Instant::now();
        let redials = book
            .entries()
            .iter()
            .cloned()
            .chain(bootstrap)
            .map(|entry| Redial {
                entry,
                backoff: Duration::from_secs(1),
                next: now,
            })
            .collect();
        Net {
            swarm,
            gossip_counts,
            store,
            settings,
            book,
            commands,
            commands_tx,
            internal,
            internal_tx,
            topic: IdentTopic::new(GOSSIP_TOPIC),
            responder,
            pending: HashMap::new(),
            peers: HashMap::new(),
            redials,
            invalid: HashMap::new(),
            invalid_total: 0,
            gossip_refused: 0,
            gossip_over_peer_rate: 0,
            blocked: HashMap::new(),
            last_sync: None,
            last_kad_bootstrap: None,
            book_saves: None,
            gossip_rates,
            // Unlike any epoch: the first tick learns which networks' topics to be on.
            networks_epoch: u64::MAX,
            topics: HashSet::from([IdentTopic::new(GOSSIP_TOPIC).hash()]),
            replicated: Vec::new(),
            last_provide: None,
            bans,
            ban_saves: None,
            network_nodes: HashSet::new(),
        }
    }

    pub fn local_peer_id(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }

    /// Runs until `stop` fires (or is dropped), or every command sender is gone. The stop
    /// signal is looked at first on every turn, so a busy network cannot delay a shutdown.
    pub async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (book_saves, saves) = watch::channel(None);
        self.book_saves = Some(book_saves);
        let saver = tokio::spawn(save_books(saves));
        let (ban_saves, saves) = watch::channel(None);
        self.ban_saves = Some(ban_saves);
        let ban_saver = tokio::spawn(save_books(saves));
        for (peer, _) in self.bans.entries() {
            self.swarm.behaviour_mut().blocked.block_peer(peer);
        }
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => break,
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => break,
                },
                Some(internal) = self.internal.recv() => self.on_internal(internal),
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                _ = tick.tick() => self.on_tick(),
            }
        }
        self.shut_down().await;
        // The saver finishes what it has; then the book is saved once more, as it is now.
        self.book_saves = None;
        self.ban_saves = None;
        let _ = saver.await;
        let _ = ban_saver.await;
        for last in [self.book.snapshot(), self.bans.snapshot()] {
            if let Ok(Err(error)) = tokio::task::spawn_blocking(move || last.save()).await {
                tracing::warn!(%error, "could not save the peer book");
            }
        }
    }

    /// Has the peer book saved in the background (the newest state wins).
    fn save_book(&self) {
        if let Some(saves) = &self.book_saves {
            let _ = saves.send(Some(self.book.snapshot()));
        }
    }

    /// Closes every connection, so peers learn at once that this node is gone.
    async fn shut_down(&mut self) {
        let connected: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for peer in connected {
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.swarm.connected_peers().next().is_some() {
            match tokio::time::timeout_at(deadline, self.swarm.select_next_some()).await {
                Ok(_) => {}
                Err(_) => break,
            }
        }
        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err("the node is shutting down".into()));
        }
    }

    fn on_command(&mut self, command: NetCommand) {
        match command {
            NetCommand::Publish { bytes, networks } => {
                let topics: Vec<IdentTopic> = if networks.is_empty() {
                    vec![self.topic.clone()]
                } else {
                    networks
                        .iter()
                        .map(|network| IdentTopic::new(network_topic(network)))
                        .collect()
                };
                let gossipsub = &mut self.swarm.behaviour_mut().gossipsub;
                for topic in topics {
                    match gossipsub.publish(topic, bytes.clone()) {
                        Ok(_) => {}
                        Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                            tracing::debug!("no peers to gossip to; they will sync")
                        }
                        Err(error) => tracing::warn!(%error, "gossiping a record failed"),
                    }
                }
            }
            NetCommand::Request {
                peer,
                request,
                reply,
            } => {
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                self.pending.insert(id, reply);
            }
            NetCommand::Penalise { peer, invalid } => self.penalise(peer, invalid),
            NetCommand::Announce => self.announce(None),
            NetCommand::AddPeer(entry, reply) => {
                self.book.add_unsaved(entry.clone());
                self.save_book();
                self.redials.push(Redial {
                    entry,
                    backoff: Duration::from_secs(1),
                    next: Instant::now(),
                });
                self.on_tick();
                let _ = reply.send(Ok(()));
            }
            NetCommand::RemovePeer(key, reply) => {
                let result = self.book.remove_unsaved(&key);
                if let Ok(gone) = &result {
                    self.save_book();
                    self.redials.retain(|r| !gone.contains(&r.entry));
                    for peer in gone.iter().filter_map(|e| e.peer) {
                        let _ = self.swarm.disconnect_peer_id(peer);
                    }
                }
                let _ = reply.send(result);
            }
            NetCommand::BanPeer(peer, block, reply) => {
                let banning = block.is_some();
                let had = self.bans.set_unsaved(&peer, block);
                if let Some(saves) = &self.ban_saves {
                    let _ = saves.send(Some(self.bans.snapshot()));
                }
                if banning {
                    tracing::warn!(%peer, "blocked by the operator");
                    self.swarm.behaviour_mut().blocked.block_peer(peer);
                    let _ = self.swarm.disconnect_peer_id(peer);
                } else if !self.blocked.contains_key(&peer) {
                    self.swarm.behaviour_mut().blocked.unblock_peer(peer);
                }
                let _ = reply.send(had);
            }
            NetCommand::Bans(reply) => {
                let _ = reply.send(self.bans.entries());
            }
            NetCommand::Peers(reply) => {
                let peers = self
                    .book
                    .entries()
                    .iter()
                    .map(|entry| BookPeer {
                        peer_id: entry.peer.map(|p| p.to_string()),
                        addrs: entry.addrs.iter().map(|a| a.to_string()).collect(),
                        connected: entry.peer.is_some_and(|p| self.swarm.is_connected(&p)),
                        organisation: None,
                    })
                    .collect();
                let _ = reply.send(peers);
            }
            NetCommand::Status(reply) => {
                let _ = reply.send(self.status());
            }
            NetCommand::SubscribeUnchecked(name) => {
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .subscribe(&IdentTopic::new(name));
            }
        }
    }

    fn status(&self) -> NetStatus {
        let gossipsub = &self.swarm.behaviour().gossipsub;
        let topic = self.topic.hash();
        let gossiping: HashSet<PeerId> = gossipsub
            .all_peers()
            .filter(|(_, topics)| topics.contains(&&topic))
            .map(|(peer, _)| *peer)
            .collect();
        let mesh: HashSet<PeerId> = gossipsub.mesh_peers(&topic).copied().collect();
        let mut peers: Vec<PeerStatus> = self
            .peers
            .iter()
            .map(|(peer, state)| PeerStatus {
                peer_id: peer.to_string(),
                organisation: None,
                address: state
                    .address
                    .as_ref()
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                score: gossipsub.peer_score(peer),
                invalid_records: self.invalid.get(peer).map_or(0, |(count, _)| *count),
                gossip: gossiping.contains(peer),
                mesh: mesh.contains(peer),
                last_sync: state.last_sync.clone(),
            })
            .collect();
        peers.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        let (gossip_received, gossip_copies) = self.gossip_counts.read();
        NetStatus {
            peer_id: self.local_peer_id().to_string(),
            listen: self.listen_addrs().iter().map(|a| a.to_string()).collect(),
            ticket: self.ticket(),
            peers,
            blocked: self.blocked.keys().map(|p| p.to_string()).collect(),
            invalid_records: self.invalid_total,
            gossip_refused: self.gossip_refused,
            gossip_over_peer_rate: self.gossip_over_peer_rate,
            gossip_received,
            gossip_copies,
            last_sync: self.last_sync.clone(),
        }
    }

    fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.swarm.listeners().cloned().collect()
    }

    fn ticket(&self) -> String {
        PeerEntry {
            peer: Some(self.local_peer_id()),
            addrs: self.listen_addrs(),
        }
        .ticket()
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        // Every second the store gets a turn even when idle: a degraded one retries, and an
        // index left uncommitted after a burst is committed.
        self.store.tick();
        // Redial remembered peers that are not connected, backing off.
        for index in 0..self.redials.len() {
            let redial = &self.redials[index];
            let connected = redial
                .entry
                .peer
                .is_some_and(|p| self.swarm.is_connected(&p));
            let banned = redial.entry.peer.is_some_and(|p| self.bans.contains(&p));
            if connected || banned || redial.next > now {
                continue;
            }
            let opts = match redial.entry.peer {
                Some(peer) => DialOpts::peer_id(peer)
                    .addresses(redial.entry.addrs.clone())
                    .build(),
                None => DialOpts::unknown_peer_id()
                    .address(redial.entry.addrs[0].clone())
                    .build(),
            };
            if let Err(error) = self.swarm.dial(opts) {
                tracing::debug!(%error, "dial failed");
            }
            let redial = &mut self.redials[index];
            redial.next = now + redial.backoff;
            redial.backoff = (redial.backoff * 2).min(MAX_BACKOFF);
        }
        // The networks changed (a charter, a binding, a join): what peers may send this node
        // changed too, so it syncs with each again.
        let epoch = self.store.networks_epoch();
        if epoch != self.networks_epoch {
            self.networks_epoch = epoch;
            for state in self.peers.values_mut() {
                state.announced = true;
            }
            let store = self.store.clone();
            let internal = self.internal_tx.clone();
            tokio::spawn(async move {
                let scope = store
                    .ask(|reply| super::actor::Request::Scope { reply })
                    .await;
                if let Ok(Ok(scope)) = scope {
                    let _ = internal.send(Internal::Replicates(scope)).await;
                }
            });
        }
        // Periodic sync with each connected peer.
        let interval = Duration::from_secs(self.settings.sync_interval_secs.max(1));
        let due: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, s)| {
                let gap = Duration::from_secs(self.settings.announce_min_interval_secs);
                let announced = s.announced && s.last_sync_started.is_none_or(|at| now - at >= gap);
                s.speaks_sync
                    && !s.syncing
                    && (announced || s.last_sync_started.is_none_or(|at| now - at >= interval))
            })
            .map(|(peer, _)| *peer)
            .collect();
        for peer in due {
            self.start_sync(peer);
        }
        // Disconnect peers whose gossip score fell so low that gossipsub ignores them.
        let graylisted: Vec<PeerId> = self
            .peers
            .keys()
            .copied()
            .filter(|peer| {
                let gossipsub = &self.swarm.behaviour().gossipsub;
                gossipsub
                    .peer_score(peer)
                    .is_some_and(|score| score < GRAYLIST)
            })
            .collect();
        for peer in graylisted {
            self.block(peer, "its gossip score fell below the graylist threshold");
        }
        self.close_spare_connections(now);
        // Lift expired blocks.
        let expired: Vec<PeerId> = self
            .blocked
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in expired {
            self.blocked.remove(&peer);
            self.invalid.remove(&peer);
            if !self.bans.contains(&peer) {
                self.swarm.behaviour_mut().blocked.unblock_peer(peer);
            }
        }
        // Forget old offences, so the map holds only recent offenders.
        let blocked = &self.blocked;
        self.invalid
            .retain(|peer, (_, last)| blocked.contains_key(peer) || now - *last < BLOCK_FOR);
        // Say in the DHT which networks this node replicates, and find their other nodes: a
        // ticket is needed to join a network, not to find its members again.
        if !self.peers.is_empty()
            && !self.replicated.is_empty()
            && self.last_provide.is_none_or(|at| now - at >= PROVIDE_EVERY)
        {
            self.last_provide = Some(now);
            if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                for network in &self.replicated {
                    let key = kad::RecordKey::new(&network_topic(network));
                    if let Err(error) = kad.start_providing(key.clone()) {
                        tracing::debug!(%error, "could not provide a network in the DHT");
                    }
                    kad.get_providers(key);
                }
            }
        }
        // Refresh the Kademlia table now and then.
        if !self.peers.is_empty()
            && self
                .last_kad_bootstrap
                .is_none_or(|at| now - at >= KAD_BOOTSTRAP_EVERY)
        {
            self.last_kad_bootstrap = Some(now);
            if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                let _ = kad.bootstrap();
            }
        }
    }

    /// Marks `peer` as speaking the sync protocol; the first time, starts a sync with it.
    fn peer_speaks_sync(&mut self, peer: PeerId) {
        if let Some(state) = self.peers.get_mut(&peer)
            && !state.speaks_sync
        {
            state.speaks_sync = true;
            if state.last_sync_started.is_none() {
                self.start_sync(peer);
            }
        }
    }

    fn start_sync(&mut self, peer: PeerId) {
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        if state.syncing {
            state.sync_again = true;
            return;
        }
        state.syncing = true;
        state.announced = false;
        state.last_sync_started = Some(Instant::now());
        let store = self.store.clone();
        let commands = self.commands_tx.clone();
        let internal = self.internal_tx.clone();
        let budget = SyncBudget::from(&self.settings);
        tokio::spawn(async move {
            let result = sync::run(peer, store, commands, budget)
                .await
                .map_err(|e| e.to_string());
            let _ = internal.send(Internal::SyncFinished { peer, result }).await;
        });
    }

    /// Asks connected peers (but `except`) to sync with this node.
    fn announce(&mut self, except: Option<PeerId>) {
        let peers: Vec<PeerId> = self
            .peers
            .keys()
            .copied()
            .filter(|p| Some(*p) != except)
            .collect();
        for peer in peers {
            // The Ack needs no handling; failures only mean the next periodic sync does it.
            let (reply, _) = oneshot::channel();
            let id = self
                .swarm
                .behaviour_mut()
                .sync
                .send_request(&peer, Request::Announce);
            self.pending.insert(id, reply);
        }
    }

    fn penalise(&mut self, peer: PeerId, invalid: u32) {
        self.invalid_total += u64::from(invalid);
        if self.invalid.len() >= MAX_TRACKED_OFFENDERS && !self.invalid.contains_key(&peer) {
            let oldest = self
                .invalid
                .iter()
                .filter(|(p, _)| !self.blocked.contains_key(p))
                .min_by_key(|(_, (_, last))| *last)
                .map(|(p, _)| *p);
            if let Some(oldest) = oldest {
                self.invalid.remove(&oldest);
            }
        }
        let (count, last) = self.invalid.entry(peer).or_insert((0, Instant::now()));
        *count = count.saturating_add(invalid);
        *last = Instant::now();
        let count = *count;
        if count >= self.settings.max_invalid_records {
            self.block(peer, "it sent too many invalid records");
        }
    }

    /// Disconnects `peer` and refuses it for [`BLOCK_FOR`].
    fn block(&mut self, peer: PeerId, why: &str) {
        if self.blocked.contains_key(&peer) {
            return;
        }
        let invalid = self.invalid.get(&peer).map_or(0, |(count, _)| *count);
        tracing::warn!(%peer, invalid, "disconnecting a peer for an hour: {why}");
        self.blocked.insert(peer, Instant::now() + BLOCK_FOR);
        self.swarm.behaviour_mut().blocked.block_peer(peer);
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    fn on_internal(&mut self, internal: Internal) {
        match internal {
            Internal::Verdict {
                message_id,
                source,
                verdict,
            } => {
                let acceptance = match &verdict {
                    Verdict::Stored => MessageAcceptance::Accept,
                    // A local policy's refusal says nothing against the peer.
                    Verdict::Duplicate
                    | Verdict::Stale
                    | Verdict::Refused(_)
                    | Verdict::Elsewhere => MessageAcceptance::Ignore,
                    Verdict::Invalid(reason) => {
                        tracing::warn!(peer = %source, reason, "rejected a gossiped record");
                        MessageAcceptance::Reject
                    }
                };
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &source, acceptance);
                match verdict {
                    Verdict::Invalid(_) => self.penalise(source, 1),
                    Verdict::Refused(_) => self.gossip_refused += 1,
                    _ => {}
                }
            }
            Internal::Replicates(networks) => {
                self.replicated = networks
                    .iter()
                    .filter(|network| !network.is_commons())
                    .cloned()
                    .collect();
                self.last_provide = None;
                let wanted: HashSet<gossipsub::TopicHash> = networks
                    .iter()
                    .map(|network| IdentTopic::new(network_topic(network)).hash())
                    .collect();
                let gossipsub = &mut self.swarm.behaviour_mut().gossipsub;
                for network in &networks {
                    let topic = IdentTopic::new(network_topic(network));
                    if self.topics.insert(topic.hash()) {
                        let _ = gossipsub.set_topic_params(topic.clone(), topic_score_params());
                        if let Err(error) = gossipsub.subscribe(&topic) {
                            tracing::warn!(%error, "could not subscribe to a network's topic");
                        }
                    }
                }
                let left: Vec<gossipsub::TopicHash> = self
                    .topics
                    .iter()
                    .filter(|topic| !wanted.contains(*topic) && **topic != self.topic.hash())
                    .cloned()
                    .collect();
                for topic in left {
                    self.topics.remove(&topic);
                    gossipsub.unsubscribe(&IdentTopic::new(topic.into_string()));
                }
            }
            Internal::Respond { channel, response } => {
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, response);
            }
            Internal::SyncFinished { peer, result } => {
                let Some(state) = self.peers.get_mut(&peer) else {
                    return;
                };
                state.syncing = false;
                match result {
                    Ok(report) => {
                        tracing::info!(
                            %peer,
                            rounds = report.rounds,
                            needed = report.needed,
                            stored = report.stored,
                            millis = report.millis,
                            "synced"
                        );
                        let stored = report.stored;
                        state.last_sync = Some(report.clone());
                        self.last_sync = Some(report);
                        if stored > 0 {
                            self.announce(Some(peer));
                        }
                    }
                    Err(error) => tracing::info!(%peer, %error, "sync failed"),
                }
                let state = self.peers.get_mut(&peer).expect("present above");
                if std::mem::take(&mut state.sync_again) {
                    self.start_sync(peer);
                }
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                let address = match &endpoint {
                    ConnectedPoint::Dialer { address, .. } => address.clone(),
                    ConnectedPoint::Listener { send_back_addr, .. } => send_back_addr.clone(),
                };
                if let ConnectedPoint::Dialer { address, .. } = &endpoint {
                    let (_, bare) = super::peers::split_peer(address.clone());
                    for redial in &mut self.redials {
                        if redial.entry.peer.is_none() && redial.entry.addrs.contains(&bare) {
                            redial.entry.peer = Some(peer_id);
                        }
                    }
                    if self.book.learn_peer_id(&bare, peer_id) {
                        self.save_book();
                    }
                }
                for redial in &mut self.redials {
                    if redial.entry.peer == Some(peer_id) {
                        redial.backoff = Duration::from_secs(1);
                    }
                }
                if num_established.get() == 1 {
                    tracing::info!(peer = %peer_id, %address, "connected");
                    // The first sync starts once identify says the peer speaks the protocol.
                    self.peers.insert(
                        peer_id,
                        PeerState {
                            address: Some(address),
                            outbound: endpoint.is_dialer(),
                            connected_at: Some(Instant::now()),
                            ..PeerState::default()
                        },
                    );
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                tracing::info!(peer = %peer_id, "disconnected");
                self.peers.remove(&peer_id);
                self.responder.forget(&peer_id);
                self.network_nodes.remove(&peer_id);
                let soon = Instant::now() + Duration::from_secs(1);
                for redial in &mut self.redials {
                    if redial.entry.peer == Some(peer_id) {
                        redial.next = redial.next.min(soon);
                    }
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(?peer_id, %error, "could not connect");
                if let Some(peer) = peer_id
                    && !self.swarm.is_connected(&peer)
                {
                    self.network_nodes.remove(&peer);
                }
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            }) => self.on_gossip(propagation_source, message_id, message),
            BehaviourEvent::Sync(request_response::Event::Message { peer, message, .. }) => {
                match message {
                    request_response::Message::Request {
                        request, channel, ..
                    } => self.on_sync_request(peer, request, channel),
                    request_response::Message::Response {
                        request_id,
                        response,
                    } => {
                        if let Some(reply) = self.pending.remove(&request_id) {
                            let _ = reply.send(Ok(response));
                        }
                    }
                }
            }
            BehaviourEvent::Sync(request_response::Event::OutboundFailure {
                request_id,
                error,
                ..
            }) => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                let sync = StreamProtocol::new(SYNC_PROTOCOL);
                if info.protocols.contains(&sync) {
                    self.peer_speaks_sync(peer_id);
                } else {
                    tracing::debug!(peer = %peer_id, "the peer does not speak the sync protocol");
                }
                for addr in info.listen_addrs {
                    if is_dialable(&addr)
                        && let Some(kad) = self.swarm.behaviour_mut().kad.as_mut()
                    {
                        kad.add_address(&peer_id, addr);
                    }
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, addr) in found {
                    if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                        kad.add_address(&peer, addr.clone());
                    }
                    if !self.swarm.is_connected(&peer) && !self.blocked.contains_key(&peer) {
                        let opts = DialOpts::peer_id(peer).addresses(vec![addr]).build();
                        let _ = self.swarm.dial(opts);
                    }
                }
            }
            BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                result:
                    kad::QueryResult::GetProviders(Ok(kad::GetProvidersOk::FoundProviders {
                        providers,
                        ..
                    })),
                ..
            }) => {
                // Another node of a network this node replicates: connect, whatever the
                // target number of peers.
                for peer in providers {
                    if peer != self.local_peer_id()
                        && !self.swarm.is_connected(&peer)
                        && !self.blocked.contains_key(&peer)
                        && !self.bans.contains(&peer)
                    {
                        tracing::debug!(%peer, "dialling a node of a network found in the DHT");
                        self.network_nodes.insert(peer);
                        let _ = self.swarm.dial(DialOpts::peer_id(peer).build());
                    }
                }
            }
            BehaviourEvent::Kad(kad::Event::RoutingUpdated {
                peer, addresses, ..
            }) => {
                let wanted = self.peers.len() < self.settings.target_peers as usize;
                if wanted
                    && peer != self.local_peer_id()
                    && !self.swarm.is_connected(&peer)
                    && !self.blocked.contains_key(&peer)
                {
                    let opts = DialOpts::peer_id(peer)
                        .addresses(addresses.into_vec())
                        .build();
                    let _ = self.swarm.dial(opts);
                }
            }
            _ => {}
        }
    }

    /// Kademlia's lookups connect to the nodes they ask, and those connections used to stay
    /// for the idle timeout (an hour): at 100 nodes every node ended up connected to about 86
    /// others (issue 13). Above twice `target_peers`, this closes the connections this node
    /// opened that nothing here needs — not a remembered peer, not in a gossip mesh, not a node
    /// of a network this node replicates, not syncing, and past [`SPARE_GRACE`] — newest first,
    /// down to `target_peers`. Connections other nodes opened are theirs to close.
    fn close_spare_connections(&mut self, now: Instant) {
        let target = self.settings.target_peers as usize;
        if self.peers.len() <= target.saturating_mul(2).max(4) {
            return;
        }
        let mesh: HashSet<PeerId> = self
            .swarm
            .behaviour()
            .gossipsub
            .all_mesh_peers()
            .copied()
            .collect();
        let remembered: HashSet<PeerId> = self
            .redials
            .iter()
            .filter_map(|redial| redial.entry.peer)
            .collect();
        let connections: Vec<Connection> = self
            .peers
            .iter()
            .map(|(peer, state)| Connection {
                peer: *peer,
                since: state.connected_at.unwrap_or(now),
                outbound: state.outbound,
                busy: state.syncing
                    || mesh.contains(peer)
                    || remembered.contains(peer)
                    || self.network_nodes.contains(peer),
            })
            .collect();
        for peer in spare_connections(connections, target, now) {
            tracing::debug!(%peer, "closing a spare connection");
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn on_gossip(&mut self, source: PeerId, message_id: MessageId, message: gossipsub::Message) {
        if !self.topics.contains(&message.topic) {
            return;
        }
        if !self.gossip_rates.take(&source) {
            // Over the peer's share of this minute: dropped unpunished, sync brings it later.
            tracing::debug!(peer = %source, "gossip over the per-peer rate; left to sync");
            self.gossip_over_peer_rate += 1;
            self.swarm
                .behaviour_mut()
                .gossipsub
                .report_message_validation_result(&message_id, &source, MessageAcceptance::Ignore);
            return;
        }
        match self.store.try_ingest(vec![message.data], Source::Gossip) {
            Ok(verdicts) => {
                let internal = self.internal_tx.clone();
                tokio::spawn(async move {
                    let verdict = match verdicts.await {
                        Ok(Ok(mut verdicts)) => verdicts.remove(0),
                        // The store stopped or failed: leave the record to a later sync.
                        Ok(Err(_)) | Err(_) => Verdict::Duplicate,
                    };
                    let _ = internal
                        .send(Internal::Verdict {
                            message_id,
                            source,
                            verdict,
                        })
                        .await;
                });
            }
            Err(_busy) => {
                // Not the sender's fault: drop it unpunished; sync brings it later.
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(
                        &message_id,
                        &source,
                        MessageAcceptance::Ignore,
                    );
            }
        }
    }

    fn on_sync_request(
        &mut self,
        peer: PeerId,
        request: Request,
        channel: ResponseChannel<Response>,
    ) {
        // Asking means speaking the protocol.
        self.peer_speaks_sync(peer);
        if matches!(request, Request::Announce) {
            let _ = self
                .swarm
                .behaviour_mut()
                .sync
                .send_response(channel, Response::Ack);
            // At most one announced sync per peer per gap: the tick starts it when due.
            let gap = Duration::from_secs(self.settings.announce_min_interval_secs);
            if let Some(state) = self.peers.get_mut(&peer) {
                let recent = state.last_sync_started.is_some_and(|at| at.elapsed() < gap);
                if recent || state.syncing {
                    state.announced = true;
                } else {
                    self.start_sync(peer);
                }
            }
            return;
        }
        let responder = self.responder.clone();
        let store = self.store.clone();
        let internal = self.internal_tx.clone();
        tokio::spawn(async move {
            let response = responder.answer(&store, peer, request).await;
            debug_assert!(response.encode().len() <= MAX_FRAME_BYTES);
            let _ = internal.send(Internal::Respond { channel, response }).await;
        });
    }
}

/// Addresses worth remembering for a peer: not the unspecified address.
fn is_dialable(addr: &Multiaddr) -> bool {
    !addr.iter().any(|p| match p {
        libp2p::multiaddr::Protocol::Ip4(ip) => ip.is_unspecified(),
        libp2p::multiaddr::Protocol::Ip6(ip) => ip.is_unspecified(),
        _ => false,
    })
}

/// Saves each new state of the peer book as it comes, on a blocking thread.
async fn save_books(mut saves: watch::Receiver<Option<BookSnapshot>>) {
    while saves.changed().await.is_ok() {
        let Some(snapshot) = saves.borrow_and_update().clone() else {
            continue;
        };
        if let Ok(Err(error)) = tokio::task::spawn_blocking(move || snapshot.save()).await {
            tracing::warn!(%error, "could not save the peer book");
        }
    }
}

impl sync::Link for mpsc::Sender<NetCommand> {
    async fn request(&self, peer: PeerId, request: Request) -> Option<Result<Response, String>> {
        let (reply, response) = oneshot::channel();
        self.send(NetCommand::Request {
            peer,
            request,
            reply,
        })
        .await
        .ok()?;
        response.await.ok()
    }

    async fn penalise(&self, peer: PeerId, invalid: u32) {
        let _ = self.send(NetCommand::Penalise { peer, invalid }).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gossip_counts_sum_a_counter_over_topics_and_skip_longer_names() {
        let text = "# HELP topic_msg_recv_counts Number of gossip messages received.\n\
                    # TYPE topic_msg_recv_counts counter\n\
                    topic_msg_recv_counts_total{hash=\"convene/records/1\"} 7\n\
                    topic_msg_recv_counts_total{hash=\"convene/network/a\"} 2\n\
                    topic_msg_recv_counts_unfiltered_total{hash=\"convene/records/1\"} 19\n\
                    # EOF\n";
        assert_eq!(counter_total(text, "topic_msg_recv_counts_total"), 9);
        assert_eq!(
            counter_total(text, "topic_msg_recv_counts_unfiltered_total"),
            19
        );
        assert_eq!(counter_total(text, "no_such_counter_total"), 0);
    }

    fn connection(n: u8, age_secs: u64, outbound: bool, busy: bool, now: Instant) -> Connection {
        Connection {
            peer: PeerId::from_public_key(
                &libp2p::identity::Keypair::ed25519_from_bytes([n; 32])
                    .unwrap()
                    .public(),
            ),
            since: now - Duration::from_secs(age_secs),
            outbound,
            busy,
        }
    }

    /// Regression (issue 13): Kademlia's lookups left every node of a 100-node network
    /// connected to ~86 others. Only what this node opened and nothing needs is closed.
    #[test]
    fn only_idle_connections_this_node_opened_are_spare_newest_first() {
        let now = Instant::now() + Duration::from_secs(3_600);
        let connections = vec![
            connection(1, 600, true, false, now),  // spare, oldest
            connection(2, 300, true, false, now),  // spare
            connection(3, 120, true, false, now),  // spare, newest past the grace
            connection(4, 5, true, false, now),    // within the grace
            connection(5, 600, false, false, now), // the peer opened it
            connection(6, 600, true, true, now),   // needed (mesh, remembered, syncing)
        ];
        let peer = |i: usize| connections[i].peer;
        assert_eq!(
            spare_connections(connections.clone(), 4, now),
            [peer(2), peer(1)],
            "six connections, target four: the two newest spare ones go"
        );
        assert_eq!(
            spare_connections(connections.clone(), 0, now),
            [peer(2), peer(1), peer(0)]
        );
        assert!(spare_connections(connections, 6, now).is_empty());
    }
}
