//! The `[node]` section of `config.toml`: how `convene node run` joins the network.

use serde::{Deserialize, Serialize};

/// The licence open records are published under unless the operator says otherwise.
pub const DEFAULT_LICENCE: &str = "https://creativecommons.org/licenses/by/4.0/";

/// Network settings. Every field has a default, so an empty or missing `[node]` section works.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeSettings {
    /// Multiaddrs to listen on for other nodes.
    pub listen: Vec<String>,
    /// Where the local API listens. Must be a loopback address.
    pub api: String,
    /// Peers (tickets or multiaddrs with `/p2p/`) to connect to at start, besides `convene peers add`.
    pub bootstrap: Vec<String>,
    /// Find nodes on the same LAN by multicast DNS.
    pub mdns: bool,
    /// Find nodes beyond the known ones through a Kademlia peer table. Off: connect only to
    /// added, bootstrap and mDNS peers (a closed network).
    pub kademlia: bool,
    /// Seconds between catch-up syncs with each connected peer (also done on connecting).
    pub sync_interval_secs: u64,
    /// Most connections, in and out.
    pub max_connections: u32,
    /// Refuse new connections while the process uses more than this many MiB.
    pub max_memory_mib: u64,
    /// Disconnect (and refuse for an hour) a peer after this many invalid records.
    pub max_invalid_records: u32,
    /// Dial peers found through Kademlia until this many are connected.
    pub target_peers: u32,
    /// Sync: reconciliation rounds one sync may take, either side; a longer one stops (the
    /// initiator fetches what it learnt, the responder refuses more).
    pub sync_max_rounds: u32,
    /// Sync: records one sync may fetch; the next sync goes on from there.
    pub sync_max_records: u64,
    /// Sync: new sessions this node answers per peer per minute.
    pub sync_sessions_per_minute: u32,
    /// Sync: requests of any kind this node answers per peer per minute.
    pub sync_requests_per_minute: u32,
    /// Seconds between syncs a peer's `Announce` may start with it.
    pub announce_min_interval_secs: u64,
    /// Gossip: records accepted from one peer per minute; more are dropped unpunished (sync
    /// brings them later).
    pub gossip_records_per_peer_per_minute: u32,
    /// Gossip: verified records accepted from one author per minute, whoever forwards them;
    /// more are refused (sync brings them later).
    pub gossip_records_per_author_per_minute: u32,
    /// Domain proofs: a PEM file of the certificate authorities to trust instead of the public
    /// web roots when fetching `https://DOMAIN/.well-known/convene.json` (a private CA).
    pub https_ca_file: Option<String>,
    /// Local API: connections served at once (more are closed on arrival), 1 to 1,024.
    pub api_max_connections: u32,
    /// Local API: seconds a client has to send a request's headers (and an idle connection
    /// stays open), 1 to 600.
    pub api_header_timeout_secs: u64,
    /// Wider search: searches this node runs for one peer per minute (more are refused).
    pub searches_per_minute: u32,
    /// Where the web listener (open data, for browsers and other programs) listens; none: no
    /// web listener. Loopback unless the operator names a LAN or intranet address.
    pub web: Option<String>,
    /// The address colleagues reach the web page at, when it is not the listener's own (a TLS
    /// proxy in front, a host name): sign-in links use it, and with `https://` the session
    /// cookie is marked Secure.
    pub web_url: Option<String>,
    /// The licence the open records are published under (a URL), shown with each.
    pub open_data_licence: String,
}

impl Default for NodeSettings {
    fn default() -> NodeSettings {
        NodeSettings {
            listen: vec!["/ip4/0.0.0.0/tcp/4717".into()],
            api: "127.0.0.1:4718".into(),
            bootstrap: Vec::new(),
            mdns: true,
            kademlia: true,
            sync_interval_secs: 300,
            max_connections: 128,
            max_memory_mib: 1024,
            max_invalid_records: 5,
            target_peers: 8,
            sync_max_rounds: 1_000,
            sync_max_records: 1_000_000,
            sync_sessions_per_minute: 6,
            sync_requests_per_minute: 1_200,
            announce_min_interval_secs: 10,
            gossip_records_per_peer_per_minute: 600,
            gossip_records_per_author_per_minute: 120,
            https_ca_file: None,
            api_max_connections: crate::limits::API_CONNECTIONS as u32,
            api_header_timeout_secs: crate::limits::API_HEADER_TIMEOUT.as_secs(),
            searches_per_minute: 30,
            web: None,
            web_url: None,
            open_data_licence: DEFAULT_LICENCE.into(),
        }
    }
}

impl NodeSettings {
    /// The section as `convene init` writes it: every setting, commented out at its default.
    pub const COMMENTED: &'static str = "
# How `convene node run` joins the network. Everything here has a default; uncomment to change.
[node]
# Where other nodes reach this one. Open this TCP port in the firewall to accept connections.
# listen = [\"/ip4/0.0.0.0/tcp/4717\"]
# The local API that `convene` commands and the web page use while the node runs (loopback only).
# api = \"127.0.0.1:4718\"
# Nodes to connect to at start: tickets from `convene node ticket`, or /ip4/.../tcp/.../p2p/... addresses.
# bootstrap = []
# Find other nodes on the same local network automatically.
# mdns = true
# Find nodes beyond those listed through a distributed peer table (Kademlia). Off: a closed
# network of listed and LAN peers only.
# kademlia = true
# Seconds between catch-up syncs with each connected node (they also sync on connecting).
# sync_interval_secs = 300
# Most connections at once, in and out.
# max_connections = 128
# Refuse new connections while this process uses more memory than this (MiB).
# max_memory_mib = 1024
# Disconnect a node, and refuse it for an hour, after this many invalid records from it.
# max_invalid_records = 5
# Dial nodes found through the distributed peer table until this many are connected.
# target_peers = 8
# Catch-up sync budgets: rounds and records per sync, sessions and requests answered per peer
# per minute, and the least time between syncs a peer's announcement may start.
# sync_max_rounds = 1000
# sync_max_records = 1000000
# sync_sessions_per_minute = 6
# sync_requests_per_minute = 1200
# announce_min_interval_secs = 10
# Gossip: records taken per minute from one peer, and from one author whoever forwards them;
# the rest wait for the next catch-up sync.
# gossip_records_per_peer_per_minute = 600
# gossip_records_per_author_per_minute = 120
# Domain proofs: trust only the certificate authorities in this PEM file (a private CA)
# instead of the public web roots.
# https_ca_file = \"/etc/convene/ca.pem\"
# Local API: connections served at once; more are closed on arrival.
# api_max_connections = 64
# Local API: seconds a client has to send a request's headers; also how long an idle
# connection stays open.
# api_header_timeout_secs = 10
# Wider search: searches this node runs for one peer per minute; more are refused.
# searches_per_minute = 30
# The web listener: open data at /open/records.jsonl, .csv and .jsonld for anyone who can reach
# it (only open records, never a members-only network's). Off unless set; `node run --web ADDR`
# also sets it. Use a LAN or intranet address to share it beyond this machine.
# web = \"127.0.0.1:4719\"
# The address colleagues reach the web page at, if not the listener's own: a TLS proxy in front
# of it, a host name. Sign-in links use it; with https:// the session cookie is marked Secure.
# web_url = \"https://directory.example.org\"
# The licence the open records are published under, shown with each record.
# open_data_licence = \"https://creativecommons.org/licenses/by/4.0/\"
";

    /// Checks every number against its bounds, naming the setting that is out of range.
    pub fn check(&self) -> Result<(), String> {
        if let Some(web) = &self.web {
            web.parse::<std::net::SocketAddr>().map_err(|e| {
                format!("[node] web = {web:?} is not an address like 127.0.0.1:4719 ({e})")
            })?;
        }
        if let Some(url) = &self.web_url
            && (!(url.starts_with("http://") || url.starts_with("https://"))
                || url.len() > 500
                || url.chars().any(|c| c.is_control() || c.is_whitespace()))
        {
            return Err(format!(
                "[node] web_url = {url:?} must be an http:// or https:// address of at most 500 \
                 characters"
            ));
        }
        let licence = &self.open_data_licence;
        if licence.trim().is_empty() || licence.len() > 500 || licence.chars().any(char::is_control)
        {
            return Err(
                "[node] open_data_licence must be one line of 1 to 500 characters (a URL)".into(),
            );
        }
        let ranges: [(&str, u64, u64, u64); 15] = [
            (
                "searches_per_minute",
                self.searches_per_minute.into(),
                1,
                100_000,
            ),
            (
                "gossip_records_per_peer_per_minute",
                self.gossip_records_per_peer_per_minute.into(),
                1,
                1_000_000,
            ),
            (
                "gossip_records_per_author_per_minute",
                self.gossip_records_per_author_per_minute.into(),
                1,
                1_000_000,
            ),
            ("sync_max_rounds", self.sync_max_rounds.into(), 1, 100_000),
            ("sync_max_records", self.sync_max_records, 1, 100_000_000),
            (
                "sync_sessions_per_minute",
                self.sync_sessions_per_minute.into(),
                1,
                600,
            ),
            (
                "sync_requests_per_minute",
                self.sync_requests_per_minute.into(),
                1,
                100_000,
            ),
            (
                "announce_min_interval_secs",
                self.announce_min_interval_secs,
                1,
                3_600,
            ),
            ("sync_interval_secs", self.sync_interval_secs, 1, 86_400),
            ("max_connections", self.max_connections.into(), 1, 65_536),
            ("max_memory_mib", self.max_memory_mib, 16, 1 << 20),
            (
                "max_invalid_records",
                self.max_invalid_records.into(),
                1,
                1_000_000,
            ),
            ("target_peers", self.target_peers.into(), 0, 65_536),
            (
                "api_max_connections",
                self.api_max_connections.into(),
                1,
                1_024,
            ),
            (
                "api_header_timeout_secs",
                self.api_header_timeout_secs,
                1,
                600,
            ),
        ];
        for (name, value, low, high) in ranges {
            if !(low..=high).contains(&value) {
                return Err(format!(
                    "[node] {name} = {value} is out of range ({low} to {high})"
                ));
            }
        }
        Ok(())
    }
}
