//! `convene node run`: the long-running node.
//!
//! Three parts, each owning its state:
//! - the store actor ([`actor`]): one thread owns the [`Node`]; everything reaches it through a
//!   bounded queue;
//! - the network loop ([`net`]): one task owns the libp2p swarm (gossip, sync, discovery);
//! - the local API ([`http`]): HTTP on a loopback address, for the `convene` command and pages
//!   (its surface, shared with the client, is [`crate::api`]).
//!
//! While it runs, `HOME/node.api` holds the API address and `HOME/api.token` the token writes
//! need; commands use them instead of opening the store (see [`crate::Directory`]).

pub mod actor;
mod codec;
mod domain_checks;
mod forms;
pub(crate) mod http;
pub mod net;
mod page;
pub mod peers;
mod rate;
mod session;
mod status;
pub mod sync;
mod web;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

pub use crate::api::API_VERSION;
pub use crate::home::layout::{API_FILE, TOKEN_FILE};
pub use crate::recover::Recovery;
pub use crate::settings::NodeSettings;
use crate::{Home, HomeError, Node, NodeError};
pub use actor::{ActorError, Degraded, Health, StoreHandle, Verdict};
pub use http::openapi_json;
pub use net::{BookPeer, NetStatus, PeerStatus};
pub use peers::{PeerBans, PeerBook, PeerEntry, PeerError, parse_peer_id};
pub use status::Status;
use status::status_of;
pub use sync::SyncReport;

/// Errors starting or running the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error(transparent)]
    Peer(#[from] PeerError),
    #[error("{what}: {reason}")]
    Setting { what: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the network failed to start: {0}")]
    Network(String),
    #[error("another node is already running on this home (its API answers at {0})")]
    AlreadyRunning(String),
    #[error(transparent)]
    Api(#[from] http::ApiError),
    /// A part of the running node stopped by itself; the process must exit so that a service
    /// manager restarts it.
    #[error("the node stopped: {0}")]
    Died(String),
    #[error(
        "{addr} is already in use by another program (another Convene node?); choose another \
         port with --listen or `listen` in config.toml"
    )]
    PortInUse { addr: Multiaddr },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DaemonError + '_ {
    move |source| DaemonError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl RunOptions {
    /// Listening on 127.0.0.1 only, on ports the system picks, without mDNS: for tests and
    /// benchmarks that run several nodes on one machine.
    pub fn loopback() -> RunOptions {
        RunOptions {
            listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
            api: Some("127.0.0.1:0".into()),
            mdns: Some(false),
            web: None,
            policy: crate::Policy::default(),
        }
    }
}

/// Overrides of the config file's `[node]` section, from the command line.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Replaces `listen` when not empty.
    pub listen: Vec<String>,
    pub api: Option<String>,
    /// `Some(false)` for `--no-mdns`.
    pub mdns: Option<bool>,
    /// Replaces `[node] web`: where the web listener (open data) listens.
    pub web: Option<String>,
    /// The local rules of the admission step; the default has none.
    pub policy: crate::Policy,
}

/// A running node. Drop it only after [`Daemon::shutdown`].
#[derive(Debug)]
pub struct Daemon {
    api: http::State,
    net: mpsc::Sender<NetCommand>,
    store: StoreHandle,
    api_addr: SocketAddr,
    api_task: tokio::task::JoinHandle<()>,
    /// The web listener, if the operator asked for one: its address, task and stop.
    web: Option<(SocketAddr, tokio::task::JoinHandle<()>, oneshot::Sender<()>)>,
    /// The periodic domain checks.
    domain_task: tokio::task::JoinHandle<()>,
    api_stop: oneshot::Sender<()>,
    net_task: tokio::task::JoinHandle<()>,
    net_stop: Option<oneshot::Sender<()>>,
    store_thread: Option<std::thread::JoinHandle<Result<(), NodeError>>>,
    store_ended: oneshot::Receiver<()>,
    api_file: PathBuf,
}

use net::NetCommand;

impl Daemon {
    /// Opens the store, starts the network and the local API. Must run inside a tokio runtime.
    pub async fn start(home: &Home, options: RunOptions) -> Result<Daemon, DaemonError> {
        let mut settings = home.config().node.clone();
        if !options.listen.is_empty() {
            settings.listen = options.listen;
        }
        if let Some(api) = options.api {
            settings.api = api;
        }
        if let Some(mdns) = options.mdns {
            settings.mdns = mdns;
        }
        if options.web.is_some() {
            settings.web = options.web;
        }
        settings.check().map_err(|reason| DaemonError::Setting {
            what: home
                .dir()
                .join(crate::layout::CONFIG_FILE)
                .display()
                .to_string(),
            reason,
        })?;
        let listen: Vec<Multiaddr> = settings
            .listen
            .iter()
            .map(|text| {
                text.parse().map_err(|e| DaemonError::Setting {
                    what: format!("listen address {text:?}"),
                    reason: format!("{e} (expected a multiaddr like /ip4/0.0.0.0/tcp/4717)"),
                })
            })
            .collect::<Result<_, _>>()?;
        let api_addr: SocketAddr = settings.api.parse().map_err(|e| DaemonError::Setting {
            what: format!("API address {:?}", settings.api),
            reason: format!("{e} (expected 127.0.0.1:PORT)"),
        })?;
        if !api_addr.ip().is_loopback() {
            return Err(DaemonError::Setting {
                what: format!("API address {api_addr}"),
                reason: "the local API only listens on a loopback address such as 127.0.0.1".into(),
            });
        }
        for addr in &listen {
            refuse_shared_port(addr)?;
        }
        let bootstrap = settings
            .bootstrap
            .iter()
            .map(|text| PeerEntry::parse(text))
            .collect::<Result<Vec<_>, _>>()?;
        let book = PeerBook::load(home.dir())?;
        let keypair = node_key(home.dir())?;
        let token = api_token(home.dir())?;

        let node = match Node::open(&home.data_dir()) {
            Err(NodeError::Store(crate::StoreError::Locked))
                if crate::Client::connect(home.dir()).is_some() =>
            {
                let running = std::fs::read_to_string(home.dir().join(API_FILE))
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                return Err(DaemonError::AlreadyRunning(running));
            }
            other => other?,
        };
        let mut node = node;
        node.set_policy(options.policy);
        let publisher = crate::Publisher::of(home)?;
        let author = publisher.author();
        node.set_owner(author);
        let (store, actor_thread) = actor::spawn(node, publisher, &settings);

        let (mut swarm, gossip_counts) =
            net::build_swarm(keypair, &settings, settings.mdns).map_err(DaemonError::Network)?;
        for addr in &listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| DaemonError::Setting {
                    what: format!("listen address {addr}"),
                    reason: e.to_string(),
                })?;
        }
        let (net_tx, net_rx) = mpsc::channel(net::COMMAND_QUEUE);
        let net = net::Net::new(
            (swarm, gossip_counts),
            store.clone(),
            settings.clone(),
            book,
            PeerBans::load(home.dir())?,
            bootstrap,
            net_rx,
            net_tx.clone(),
        );
        tracing::info!(peer = %net.local_peer_id(), "starting the node");
        // Members' nodes send members-only records only to nodes bound to a member
        // organisation: this node's organisation binds it.
        let node_id = net.local_peer_id().to_string();
        if let Ok(Err(error)) = store
            .ask(|reply| actor::Request::Bind {
                node: node_id.clone(),
                reply,
            })
            .await
        {
            tracing::warn!(%error, "could not bind this node to its organisation");
        }
        let (net_stop, net_stopped) = oneshot::channel();
        let net_task = tokio::spawn(net.run(net_stopped));

        let listener = tokio::net::TcpListener::bind(api_addr)
            .await
            .map_err(io_error(Path::new(&settings.api)))?;
        let api_addr = listener.local_addr().map_err(io_error(home.dir()))?;
        let limits = http::ServeLimits {
            connections: settings.api_max_connections as usize,
            header_timeout: std::time::Duration::from_secs(settings.api_header_timeout_secs),
        };
        let web = match &settings.web {
            None => None,
            Some(text) => {
                let addr: SocketAddr = text.parse().map_err(|e| DaemonError::Setting {
                    what: format!("web address {text:?}"),
                    reason: format!("{e} (expected an address like 127.0.0.1:4719)"),
                })?;
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(io_error(Path::new(text)))?;
                let addr = listener.local_addr().map_err(io_error(home.dir()))?;
                Some((addr, listener))
            }
        };
        let web_addr = web.as_ref().map(|(addr, _)| *addr);
        let ca_file = settings
            .https_ca_file
            .as_ref()
            .map(|path| home.dir().join(path));
        let state = http::State {
            store: store.clone(),
            net: net_tx.clone(),
            token,
            api: api_addr.to_string(),
            author,
            ca_file: ca_file.clone(),
            node_id,
            web: web_addr,
        };
        let web = web.map(|(addr, listener)| {
            let (stop, stopped) = oneshot::channel();
            let app = web::router(web::WebState {
                store: store.clone(),
                api: state.clone(),
                licence: settings.open_data_licence.clone(),
                secure: settings
                    .web_url
                    .as_deref()
                    .is_some_and(|url| url.starts_with("https://")),
                sign_ins: std::sync::Arc::new(std::sync::Mutex::new(session::SignInLimits::new())),
            });
            let task = tokio::spawn(http::serve_app(listener, app, limits, stopped));
            tracing::info!(web = %addr, "web listener (pages and open data) listening");
            (addr, task, stop)
        });
        let (api_stop, stopped) = oneshot::channel();
        let api_task = tokio::spawn(http::serve(listener, state.clone(), limits, stopped));
        let domain_task = tokio::spawn(domain_checks::run(store.clone(), ca_file));
        let api_file = home.dir().join(API_FILE);
        write_atomically(&api_file, format!("{api_addr}\n").as_bytes())?;
        tracing::info!(api = %api_addr, "local API listening");
        // Wait until the listeners are up, so the first status shows them.
        for _ in 0..50 {
            let status = status_of(&net_tx, &store, api_addr, web_addr).await;
            if status.is_none_or(|s| !s.net.listen.is_empty() || listen.is_empty()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(Daemon {
            api: state,
            net: net_tx,
            store,
            api_addr,
            api_task,
            web,
            domain_task,
            api_stop,
            net_task,
            net_stop: Some(net_stop),
            store_thread: Some(actor_thread.thread),
            store_ended: actor_thread.ended,
            api_file,
        })
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    pub async fn status(&self) -> Option<Status> {
        status_of(
            &self.net,
            &self.store,
            self.api_addr,
            self.web.as_ref().map(|(addr, _, _)| *addr),
        )
        .await
    }

    /// Publishes `draft` as the home's identity and gossips it, as `convene publish --yes`
    /// does through the API.
    pub async fn publish(&self, draft: crate::Draft) -> Result<crate::Published, DaemonError> {
        let request = crate::api::PublishRequest {
            draft,
            check: crate::SimilarCheck::Skip,
        };
        match self.api.publish(request).await? {
            crate::PublishOutcome::Published(published) => Ok(published),
            crate::PublishOutcome::Similar(_) | crate::PublishOutcome::Retracted(_) => {
                unreachable!("no check was asked")
            }
        }
    }

    /// Gossips bytes as they are, without storing or checking them. Only for tests that play a
    /// misbehaving peer.
    #[doc(hidden)]
    pub async fn gossip_unchecked(&self, bytes: Vec<u8>) {
        let _ = self
            .net
            .send(NetCommand::Publish {
                bytes,
                networks: Vec::new(),
            })
            .await;
    }

    /// Subscribes to a gossip topic by name, whatever it is. Only for tests that play a
    /// misbehaving peer.
    #[doc(hidden)]
    pub async fn subscribe_unchecked(&self, topic: String) {
        let _ = self.net.send(NetCommand::SubscribeUnchecked(topic)).await;
    }

    /// Sends a sync request as it is and returns the answer. Only for tests that play a
    /// misbehaving peer.
    #[doc(hidden)]
    pub async fn request_unchecked(
        &self,
        peer: libp2p::PeerId,
        request: convene_protocol::wire::Request,
    ) -> Result<convene_protocol::wire::Response, String> {
        let (reply, result) = oneshot::channel();
        self.net
            .send(NetCommand::Request {
                peer,
                request,
                reply,
            })
            .await
            .map_err(|_| "the network loop stopped".to_string())?;
        result
            .await
            .map_err(|_| "the network loop stopped".to_string())?
    }

    /// Remembers a peer and dials it.
    pub async fn add_peer(&self, entry: PeerEntry) -> Result<(), DaemonError> {
        let (reply, result) = oneshot::channel();
        self.net
            .send(NetCommand::AddPeer(entry, reply))
            .await
            .map_err(|_| DaemonError::Network("the network loop stopped".into()))?;
        Ok(result
            .await
            .map_err(|_| DaemonError::Network("the network loop stopped".into()))??)
    }

    /// Resolves if a part of the node stops by itself: the store thread or the network loop
    /// ended (a panic outside any job, or a failure it could not recover from). The daemon is
    /// then unusable; the caller shuts down what is left and exits non-zero.
    pub async fn died(&mut self) -> String {
        tokio::select! {
            _ = &mut self.store_ended => {
                let thread = self.store_thread.take().expect("joined once");
                match tokio::task::spawn_blocking(move || thread.join()).await {
                    Ok(Ok(Ok(()))) => "the store closed unexpectedly".to_string(),
                    Ok(Ok(Err(error))) => format!("the store failed: {error}"),
                    Ok(Err(panic)) => format!(
                        "the store thread panicked: {}",
                        actor::panic_message(&*panic)
                    ),
                    Err(error) => format!("the store thread could not be joined: {error}"),
                }
            }
            ended = &mut self.net_task => match ended {
                Ok(()) => "the network loop ended unexpectedly".to_string(),
                Err(error) if error.is_panic() => format!(
                    "the network loop panicked: {}",
                    actor::panic_message(&*error.into_panic())
                ),
                Err(error) => format!("the network loop ended: {error}"),
            },
        }
    }

    /// Stops the API, says goodbye to peers, commits pending writes and closes the store.
    pub async fn shutdown(mut self) -> Result<(), DaemonError> {
        let _ = std::fs::remove_file(&self.api_file);
        let _ = self.api_stop.send(());
        let _ = (&mut self.api_task).await;
        if let Some((_, task, stop)) = self.web.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
        self.domain_task.abort();
        let _ = (&mut self.domain_task).await;
        if let Some(stop) = self.net_stop.take() {
            let _ = stop.send(());
        }
        if !self.net_task.is_finished() {
            let _ = (&mut self.net_task).await;
        }
        self.store.stop().await;
        drop(self.net);
        drop(self.store);
        drop(self.api);
        let Some(thread) = self.store_thread.take() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|e| DaemonError::Network(e.to_string()))?
            .map_err(|_| DaemonError::Network("the store thread panicked".into()))??;
        Ok(())
    }
}

/// Runs a node in the foreground until SIGINT or SIGTERM, then shuts it down cleanly.
pub fn run_until_signal(home: &Home, options: RunOptions) -> Result<(), DaemonError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(io_error(home.dir()))?;
    runtime.block_on(async {
        let mut daemon = Daemon::start(home, options).await?;
        if let Some(status) = daemon.status().await {
            eprintln!("Convene node {} running", status.net.peer_id);
            for addr in &status.net.listen {
                eprintln!("  listening on {addr}");
            }
            eprintln!("  local API on http://{}", status.api);
            if let Some(web) = &status.web {
                eprintln!("  open data on http://{web}/open/records.jsonl (.csv, .jsonld)");
            }
            eprintln!("  ticket: {}", status.net.ticket);
        }
        let died = tokio::select! {
            () = wait_for_signal() => None,
            reason = daemon.died() => Some(reason),
        };
        match died {
            None => {
                eprintln!("Shutting down…");
                daemon.shutdown().await
            }
            Some(reason) => {
                tracing::error!(%reason, "stopping the node");
                // Whatever still runs is stopped; its own errors add nothing to the reason.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(10), daemon.shutdown())
                    .await;
                Err(DaemonError::Died(reason))
            }
        }
    })
}

/// What [`sync_from_peers`] did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FromPeers {
    /// Peers a sync finished with.
    pub synced: Vec<String>,
    /// Peers connected that had not finished a sync when the wait ran out.
    pub unfinished: Vec<String>,
    /// Records stored from them.
    pub stored: u64,
}

/// Runs the node (with the home's settings, its API on a free port) until a sync has finished
/// with every connected peer and none is under way, or until `wait` runs out; then stops it.
/// For `convene recover --from-peers`: a new store fills with what the peers hold.
pub fn sync_from_peers(home: &Home, wait: std::time::Duration) -> Result<FromPeers, DaemonError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(io_error(home.dir()))?;
    runtime.block_on(async {
        let options = RunOptions {
            api: Some("127.0.0.1:0".into()),
            ..RunOptions::default()
        };
        let daemon = Daemon::start(home, options).await?;
        let deadline = tokio::time::Instant::now() + wait;
        // Peers take a moment to connect; a sync starts on connecting.
        let settle = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        let mut result = FromPeers::default();
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let Some(status) = daemon.status().await else {
                break;
            };
            let (synced, unfinished): (Vec<_>, Vec<_>) = status
                .net
                .peers
                .iter()
                .partition(|peer| peer.last_sync.is_some());
            result.synced = synced.iter().map(|p| p.peer_id.clone()).collect();
            result.unfinished = unfinished.iter().map(|p| p.peer_id.clone()).collect();
            result.stored = synced
                .iter()
                .filter_map(|p| p.last_sync.as_ref())
                .map(|s| s.stored)
                .sum();
            let now = tokio::time::Instant::now();
            if now >= deadline
                || (now >= settle && !result.synced.is_empty() && result.unfinished.is_empty())
            {
                break;
            }
        }
        daemon.shutdown().await?;
        Ok(result)
    })
}

/// Refuses a TCP listen address whose port another socket already listens on. libp2p sets
/// `SO_REUSEPORT` on its listeners, so without this check a second node on the same port starts
/// "fine" and the kernel shares incoming connections between the two. A plain bind without that
/// option fails while any socket holds the port.
fn refuse_shared_port(addr: &Multiaddr) -> Result<(), DaemonError> {
    use libp2p::multiaddr::Protocol;
    let mut ip = None;
    let mut port = None;
    for protocol in addr.iter() {
        match protocol {
            Protocol::Ip4(v4) => ip = Some(std::net::IpAddr::V4(v4)),
            Protocol::Ip6(v6) => ip = Some(std::net::IpAddr::V6(v6)),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    let (Some(ip), Some(port)) = (ip, port) else {
        return Ok(());
    };
    if port == 0 {
        return Ok(());
    }
    match std::net::TcpListener::bind((ip, port)) {
        Ok(_probe) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
            Err(DaemonError::PortInUse { addr: addr.clone() })
        }
        // Anything else (an address this host lacks, say) is for libp2p to report.
        Err(_) => Ok(()),
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// The node's network key, made on first use and kept in `HOME/node.key` (not the
/// organisation's signing key: a node can be rebuilt or moved without touching that).
fn node_key(home_dir: &Path) -> Result<libp2p::identity::Keypair, DaemonError> {
    let path = home_dir.join(crate::layout::NODE_KEY_FILE);
    let secret = match std::fs::read_to_string(&path) {
        Ok(text) => data_encoding::HEXLOWER_PERMISSIVE
            .decode(text.trim().as_bytes())
            .ok()
            .filter(|bytes| bytes.len() == 32)
            .ok_or_else(|| DaemonError::Setting {
                what: path.display().to_string(),
                reason: "invalid node key (expected 64 hex digits); delete it to make a new one"
                    .into(),
            })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = vec![0; 32];
            getrandom::fill(&mut bytes).map_err(|e| DaemonError::Network(e.to_string()))?;
            write_secret(&path, data_encoding::HEXLOWER.encode(&bytes).as_bytes())?;
            bytes
        }
        Err(e) => return Err(io_error(&path)(e)),
    };
    libp2p::identity::Keypair::ed25519_from_bytes(secret).map_err(|e| DaemonError::Setting {
        what: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The node's peer id, if it has run before (its network key exists); nothing is created.
pub fn local_peer_id(home_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(home_dir.join(crate::layout::NODE_KEY_FILE)).ok()?;
    let secret = data_encoding::HEXLOWER_PERMISSIVE
        .decode(text.trim().as_bytes())
        .ok()?;
    let keypair = libp2p::identity::Keypair::ed25519_from_bytes(secret).ok()?;
    Some(keypair.public().to_peer_id().to_string())
}

/// The API token from `HOME/api.token`, made on first use.
fn api_token(home_dir: &Path) -> Result<String, DaemonError> {
    let path = home_dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_string()),
        Ok(_) => Err(DaemonError::Setting {
            what: path.display().to_string(),
            reason: "empty token file; delete it to make a new one".into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0; 24];
            getrandom::fill(&mut bytes).map_err(|e| DaemonError::Network(e.to_string()))?;
            let token = data_encoding::HEXLOWER.encode(&bytes);
            write_secret(&path, token.as_bytes())?;
            Ok(token)
        }
        Err(e) => Err(io_error(&path)(e)),
    }
}

fn write_secret(path: &Path, contents: &[u8]) -> Result<(), DaemonError> {
    Ok(crate::home::write_new(path, contents, true)?)
}

fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), DaemonError> {
    use crate::fsutil::{Access, Existing, write_file};
    write_file(path, contents, Access::Public, Existing::Replace).map_err(io_error(path))
}
