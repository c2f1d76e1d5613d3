//! The blocking client of a running node's local API, used by the `convene` command.

use crate::accounts::{AccountChange, AccountChanged, AccountView};
use crate::api::NewsRequest;
use crate::cohort::Cohort;
use crate::digest::{Digest, DigestRequest, MapRequest, NetworkMap};
use crate::watches::{News, Watch, WatchChange};
use crate::{AskToJoin, NetworkChange, NetworkView, PendingJoin};
use convene_protocol::Date;
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use convene_protocol::{Address, AuthorKey, Record};
use convene_search::{Facet, Query, SimilarQuery};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    API_VERSION, AddressQuery, BlockRequest, BlockResponse, DomainCheckRequest, ErrorBody,
    ImportQuery, ListRequest, PeerBlockRequest, PeerRequest, PeopleRequest, PinRequest,
    PinResponse, PublishRequest, PublishResponse, RecordBody, Reindexed,
};
use crate::daemon::{BookPeer, PeerEntry, Status};
use crate::directory::{Directory, Local};
use crate::domains::DomainCheck;
use crate::layout::{API_FILE, TOKEN_FILE};
use crate::limits::{IMPORT_CHUNK_BYTES, IMPORT_LINE_BYTES};
use crate::transfer::{LineRead, read_line_bounded};
use crate::trust::{Block, Found, Pin, Trust};
use crate::{
    CsvMapping, Draft, Home, ImportReport, ListFilter, Node, NodeError, Person, Progress,
    PublishOutcome, Published, Publisher, Rejection, SimilarCheck,
};

/// Uses the home's running node if there is one, else opens the store (rebuilding a damaged
/// index, with `progress`).
pub fn open_directory(
    home: &Home,
    progress: &dyn Progress,
) -> Result<Box<dyn Directory>, NodeError> {
    if let Some(client) = Client::find(home.dir())? {
        tracing::debug!(api = client.address(), "using the running node");
        return Ok(Box::new(client));
    }
    let publisher = Publisher::of(home)?;
    let mut node = Node::open_with(&home.data_dir(), false, progress)?;
    node.set_owner(publisher.author());
    let ca_file = home
        .config()
        .node
        .https_ca_file
        .as_ref()
        .map(|path| home.dir().join(path));
    Ok(Box::new(Local {
        node,
        publisher,
        ca_file,
    }))
}

/// A connection to the node running on a home directory.
#[derive(Debug)]
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// Lines sent to a running node per import request (fewer if they reach the byte limit).
const IMPORT_LINES_PER_REQUEST: usize = 2_000;

/// How long a command waits for a running node to answer a quick health check.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

impl Client {
    /// Connects to the node running on `home_dir`, if one is: its API file names an address
    /// that accepts connections. A file left by a node that was killed is ignored.
    pub fn connect(home_dir: &Path) -> Option<Client> {
        Client::find(home_dir).ok().flatten()
    }

    /// Like [`Client::connect`], but tells a node that is gone (no API file, or nothing
    /// listening: `Ok(None)`) from one that runs and does not answer (an error saying so,
    /// rather than the store's "in use" that opening it would give).
    pub fn find(home_dir: &Path) -> Result<Option<Client>, NodeError> {
        let Ok(text) = std::fs::read_to_string(home_dir.join(API_FILE)) else {
            return Ok(None);
        };
        let Ok(addr) = text.trim().parse::<SocketAddr>() else {
            return Ok(None);
        };
        let not_answering = |reason: String| NodeError::NodeNotAnswering {
            api: addr.to_string(),
            reason,
        };
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => return Ok(None),
            Err(error) => return Err(not_answering(error.to_string())),
        }
        let token = std::fs::read_to_string(home_dir.join(TOKEN_FILE))
            .ok()
            .map(|t| t.trim().to_string());
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .build()
            .into();
        let client = Client {
            base: format!("http://{addr}{API_VERSION}"),
            token,
            agent,
        };
        // A quick question that does not wait for the store: is anyone serving the API?
        let health: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(HEALTH_TIMEOUT))
            .build()
            .into();
        match health.get(format!("{}/health", client.base)).call() {
            Ok(response) if response.status().is_success() => Ok(Some(client)),
            Ok(response) => Err(not_answering(format!("it answered {}", response.status()))),
            Err(error) => Err(not_answering(error.to_string())),
        }
    }

    pub fn address(&self) -> &str {
        &self.base
    }

    fn check(
        &self,
        mut response: ureq::http::Response<ureq::Body>,
    ) -> Result<ureq::http::Response<ureq::Body>, NodeError> {
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body: Option<ErrorBody> = response.body_mut().read_json().ok();
        Err(match body {
            Some(body) => body.into_error(),
            None => NodeError::Api(format!("the node answered {status}")),
        })
    }

    fn failed(&self, error: ureq::Error) -> NodeError {
        NodeError::Api(format!("talking to the node at {}: {error}", self.base))
    }

    fn read<T: DeserializeOwned>(
        &self,
        response: ureq::http::Response<ureq::Body>,
    ) -> Result<T, NodeError> {
        let mut response = self.check(response)?;
        response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_json()
            .map_err(|e| self.failed(e))
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, NodeError> {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .call()
            .map_err(|e| self.failed(e))?;
        self.read(response)
    }

    fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, NodeError> {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = request.send_json(body).map_err(|e| self.failed(e))?;
        self.read(response)
    }

    pub fn status(&self) -> Result<Status, NodeError> {
        self.get("/status")
    }

    /// Imports whole lines of a JSON Lines export; `first_line` numbers the first of them.
    pub fn import_jsonl_chunk(
        &self,
        lines: Vec<u8>,
        first_line: u64,
        dry_run: bool,
    ) -> Result<ImportReport, NodeError> {
        self.post_bytes("/import/jsonl", lines, first_line, dry_run, None)
    }

    /// Imports a CSV header and whole rows; the header's first line counts as `first_line`.
    pub fn import_csv_chunk(
        &self,
        csv: Vec<u8>,
        first_line: u64,
        mapping: &str,
        dry_run: bool,
    ) -> Result<ImportReport, NodeError> {
        self.post_bytes("/import/csv", csv, first_line, dry_run, Some(mapping))
    }

    fn post_bytes(
        &self,
        path: &str,
        body: Vec<u8>,
        first_line: u64,
        dry_run: bool,
        mapping: Option<&str>,
    ) -> Result<ImportReport, NodeError> {
        let query = ImportQuery {
            first_line,
            dry_run,
            mapping: mapping.map(str::to_string),
        };
        let query = serde_urlencoded_query(&query);
        let mut request = self
            .agent
            .post(format!("{}{path}?{query}", self.base))
            .header("Content-Type", "application/octet-stream");
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = request.send(&body[..]).map_err(|e| self.failed(e))?;
        self.read(response)
    }

    /// Blocks a peer for good (`None`: lifts the block); whether it was blocked.
    pub fn block_peer(&self, peer: &str, block: Option<Block>) -> Result<bool, NodeError> {
        let request = PeerBlockRequest {
            peer: peer.to_string(),
            block,
        };
        let done: PinResponse = self.post("/peer-blocks", &request)?;
        Ok(done.had)
    }

    /// The operator's peer blocks.
    pub fn peer_blocks(&self) -> Result<Vec<(String, Block)>, NodeError> {
        self.get("/peer-blocks")
    }

    pub fn peers(&self) -> Result<Vec<BookPeer>, NodeError> {
        self.get("/peers")
    }

    pub fn add_peer(&self, peer: &str) -> Result<PeerEntry, NodeError> {
        self.post("/peers", &PeerRequest { peer: peer.into() })
    }

    pub fn remove_peer(&self, key: &str) -> Result<Vec<PeerEntry>, NodeError> {
        let encoded = percent_encode(key);
        let mut request = self.agent.delete(format!("{}/peers/{encoded}", self.base));
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = request.call().map_err(|e| self.failed(e))?;
        self.read(response)
    }
}

/// `first_line=…&dry_run=…&mapping=…`, percent-encoded.
fn serde_urlencoded_query(query: &ImportQuery) -> String {
    let mut out = format!("first_line={}&dry_run={}", query.first_line, query.dry_run);
    if let Some(mapping) = &query.mapping {
        out.push_str("&mapping=");
        out.push_str(&percent_encode(mapping));
    }
    out
}

/// Percent-encodes everything but unreserved characters.
pub(crate) fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every operation through the running node's API.
impl Directory for Client {
    fn search(&self, query: &Query) -> Result<Vec<Found>, NodeError> {
        self.post("/search", query)
    }

    fn facets(&self, query: &Query) -> Result<Vec<Facet>, NodeError> {
        self.post("/facets", query)
    }

    fn people(&self, topic: &str, limit: usize) -> Result<Vec<Person>, NodeError> {
        self.post(
            "/people",
            &PeopleRequest {
                topic: topic.into(),
                limit,
            },
        )
    }

    fn similar(&self, query: &SimilarQuery) -> Result<Vec<(f32, Found)>, NodeError> {
        self.post("/similar", query)
    }

    fn trust(&self, author: &AuthorKey) -> Result<Trust, NodeError> {
        let response = self
            .agent
            .get(format!("{}/trust", self.base))
            .query("author", author.to_base32())
            .call()
            .map_err(|e| self.failed(e))?;
        self.read(response)
    }

    fn pins(&self) -> Result<Vec<(AuthorKey, Pin)>, NodeError> {
        self.get("/pins")
    }

    fn watches(&self) -> Result<Vec<Watch>, NodeError> {
        self.get("/watches")
    }

    fn change_watch(&mut self, change: &WatchChange) -> Result<Option<Watch>, NodeError> {
        self.post("/watches", change)
    }

    fn news(&mut self, mark_seen: bool) -> Result<Vec<News>, NodeError> {
        self.post("/news", &NewsRequest { mark_seen })
    }

    fn accounts(&self) -> Result<Vec<AccountView>, NodeError> {
        self.post("/web/accounts/list", &serde_json::json!({}))
    }

    fn change_account(&mut self, change: &AccountChange) -> Result<AccountChanged, NodeError> {
        self.post("/web/accounts", change)
    }

    fn set_pin(&mut self, author: &AuthorKey, pin: Option<Pin>) -> Result<bool, NodeError> {
        let request = PinRequest {
            author: *author,
            pin,
        };
        let done: PinResponse = self.post("/pins", &request)?;
        Ok(done.had)
    }

    fn check_domains(&mut self, all: bool) -> Result<Vec<(AuthorKey, DomainCheck)>, NodeError> {
        self.post("/domains/check", &DomainCheckRequest { all })
    }

    fn blocks(&self) -> Result<Vec<(AuthorKey, Block)>, NodeError> {
        self.get("/blocks")
    }

    fn set_block(
        &mut self,
        author: &AuthorKey,
        block: Option<Block>,
    ) -> Result<(bool, usize), NodeError> {
        let request = BlockRequest {
            author: *author,
            block,
        };
        let done: BlockResponse = self.post("/blocks", &request)?;
        Ok((done.had, done.purged))
    }

    fn networks(&self) -> Result<Vec<NetworkView>, NodeError> {
        self.get("/networks")
    }

    fn change_network(&mut self, change: NetworkChange) -> Result<NetworkView, NodeError> {
        self.post("/networks", &change)
    }

    fn join_requests(&self) -> Result<Vec<PendingJoin>, NodeError> {
        self.get("/networks/requests")
    }

    fn cohort(&self, experiment: &Address) -> Result<Cohort, NodeError> {
        self.post(
            "/cohort",
            &AddressQuery {
                address: experiment.clone(),
            },
        )
    }

    fn history(&self, address: &Address) -> Result<crate::history::History, NodeError> {
        self.post(
            "/history",
            &AddressQuery {
                address: address.clone(),
            },
        )
    }

    fn ask_to_join(&mut self, ask: &AskToJoin) -> Result<(), NodeError> {
        self.post("/networks/ask", ask)
    }

    fn delegation_asks(&self) -> Result<Vec<crate::keys::PendingDelegation>, NodeError> {
        self.get("/delegates/requests")
    }

    fn wider_search(
        &self,
        query: &crate::wider::WiderQuery,
    ) -> Result<crate::wider::WiderSearch, NodeError> {
        self.post("/search/wider", query)
    }

    fn ask_for_delegation(&mut self, ask: &crate::AskDelegation) -> Result<(), NodeError> {
        self.post("/delegates/ask", ask)
    }

    fn digest(&self, network: &str, since: Date) -> Result<Digest, NodeError> {
        self.post(
            "/networks/digest",
            &DigestRequest {
                network: network.to_string(),
                since,
            },
        )
    }

    fn network_map(&self, network: &str) -> Result<NetworkMap, NodeError> {
        self.post(
            "/networks/map",
            &MapRequest {
                network: network.to_string(),
            },
        )
    }

    fn get(&self, address: &Address) -> Result<Record, NodeError> {
        let response = self
            .agent
            .get(format!("{}/record", self.base))
            .query("address", address.to_string())
            .call()
            .map_err(|e| self.failed(e))?;
        let body: RecordBody = self.read(response)?;
        body.decode()
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<Record>, NodeError> {
        let bodies: Vec<RecordBody> = self.post(
            "/list",
            &ListRequest {
                author: filter.author,
                kind: filter.kind,
                stale: filter.stale,
                now: filter.now,
            },
        )?;
        bodies.iter().map(RecordBody::decode).collect()
    }

    /// Copies the node's export to `out`; returns the number of records.
    fn export(&self, out: &mut dyn Write) -> Result<u64, NodeError> {
        let response = self
            .agent
            .get(format!("{}/export", self.base))
            .call()
            .map_err(|e| self.failed(e))?;
        let response = self.check(response)?;
        let mut reader = response.into_body().into_reader();
        let mut buffer = vec![0; 64 * 1024];
        let mut lines = 0;
        let io = |source| NodeError::Io {
            path: "export output".into(),
            source,
        };
        loop {
            let n = reader.read(&mut buffer).map_err(io)?;
            if n == 0 {
                break;
            }
            lines += buffer[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            out.write_all(&buffer[..n]).map_err(io)?;
        }
        out.flush().map_err(io)?;
        Ok(lines)
    }

    fn publish(&mut self, draft: Draft, check: SimilarCheck) -> Result<PublishOutcome, NodeError> {
        let response: PublishResponse = self.post("/publish", &PublishRequest { draft, check })?;
        Ok(match response {
            PublishResponse::Published {
                record,
                previous_seq,
            } => PublishOutcome::Published(Published {
                record: record.decode()?,
                previous_seq,
            }),
            PublishResponse::Similar { similar } => PublishOutcome::Similar(similar),
            PublishResponse::Retracted { address } => PublishOutcome::Retracted(address),
        })
    }

    fn retract(&mut self, address: &Address) -> Result<Record, NodeError> {
        let body: RecordBody = self.post(
            "/retract",
            &AddressQuery {
                address: address.clone(),
            },
        )?;
        body.decode()
    }

    /// The lines go in requests of at most [`IMPORT_CHUNK_BYTES`]; a line over the limit is
    /// reported here and not sent.
    fn import_jsonl(
        &mut self,
        input: &mut (dyn BufRead + Send),
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError> {
        let mut total = ImportReport {
            dry_run,
            ..ImportReport::default()
        };
        let mut number = 0u64;
        let mut line = Vec::new();
        let mut ended = false;
        while !ended {
            let first_line = number + 1;
            let mut chunk = Vec::new();
            let mut lines = 0;
            let mut bytes = 0;
            while lines < IMPORT_LINES_PER_REQUEST && chunk.len() < IMPORT_CHUNK_BYTES {
                let read =
                    read_line_bounded(input, &mut line, IMPORT_LINE_BYTES).map_err(|source| {
                        NodeError::Io {
                            path: format!("import input, line {}", number + 1),
                            source,
                        }
                    })?;
                number += 1;
                lines += 1;
                match read {
                    LineRead::End => {
                        number -= 1;
                        lines -= 1;
                        ended = true;
                        break;
                    }
                    LineRead::Line(n) => {
                        bytes += n;
                        chunk.extend_from_slice(&line);
                    }
                    LineRead::TooLong(n) => {
                        bytes += n;
                        total.read += 1;
                        total.rejected.push(Rejection {
                            line: number,
                            reason: format!(
                                "the line is {n} bytes long, over the limit of \
                                 {IMPORT_LINE_BYTES} bytes"
                            ),
                        });
                    }
                }
                // An empty line keeps the numbering of the lines after a skipped one.
                chunk.push(b'\n');
            }
            if lines == 0 {
                break;
            }
            let report = self.import_jsonl_chunk(chunk, first_line, dry_run)?;
            total.add(report);
            progress.advance(bytes);
        }
        total.rejected.sort_by_key(|r| r.line);
        Ok(total)
    }

    /// The rows go in requests of at most [`IMPORT_CHUNK_BYTES`], each with the header.
    fn import_csv(
        &mut self,
        input: &mut dyn std::io::Read,
        _mapping: &CsvMapping,
        mapping_text: &str,
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError> {
        let mut total = ImportReport {
            dry_run,
            ..ImportReport::default()
        };
        for chunk in crate::transfer::csv_chunks(input, IMPORT_CHUNK_BYTES)? {
            let report =
                self.import_csv_chunk(chunk.bytes, chunk.first_line, mapping_text, dry_run)?;
            total.add(report);
            progress.advance(chunk.rows_bytes);
        }
        Ok(total)
    }

    fn reindex(&mut self, _progress: &dyn Progress) -> Result<u64, NodeError> {
        let done: Reindexed = self.post("/reindex", &())?;
        Ok(done.indexed)
    }

    fn close(self: Box<Self>) -> Result<(), NodeError> {
        Ok(())
    }
}
