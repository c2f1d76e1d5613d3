//! The local API: JSON over HTTP on a loopback address, for the `convene` command (and pages)
//! while a node runs. Reads are open to local processes; writes need the token from
//! `HOME/api.token` as `Authorization: Bearer TOKEN`.
//!
//! Every route is a thin wrapper: the work happens on the store actor or in the network loop.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Query as UrlQuery, Request, State as AxumState};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use convene_protocol::{Address, AuthorKey, Content, Identity, Kind, Record};
use convene_search::{Facet, Hit, Query, SimilarityThreshold};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::actor::{ActorError, StoreHandle};
use super::net::{BookPeer, NetCommand};
use super::peers::{PeerEntry, PeerError};
use super::{Status, status_of};
use crate::limits::{
    API_BODY_TIMEOUT, API_HEADER_BYTES, API_IMPORT_BODY_BYTES, API_JSON_BODY_BYTES,
};
use crate::{
    CsvImport, CsvMapping, Draft, ImportReport, ListFilter, NoProgress, Node, NodeError, Person,
};

/// Path prefix of this version of the API.
pub const API_VERSION: &str = "/v1";

#[derive(Clone, Debug)]
pub(crate) struct State {
    pub store: StoreHandle,
    pub net: mpsc::Sender<NetCommand>,
    pub token: String,
    pub identity: Arc<Identity>,
    pub organisation: Option<String>,
    pub api: String,
}

/// A record on the API: its bytes, base64.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecordBody {
    pub record: String,
}

impl RecordBody {
    pub fn of(record: &Record) -> RecordBody {
        RecordBody {
            record: BASE64.encode(record.bytes()),
        }
    }

    /// The record; the client trusts its own node, which verified it on arrival.
    pub fn decode(&self) -> Result<Record, String> {
        let bytes = BASE64
            .decode(&self.record)
            .map_err(|e| format!("bad base64 from the node: {e}"))?;
        Record::from_stored_bytes(bytes).map_err(|e| e.to_string())
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PeopleRequest {
    pub topic: String,
    pub limit: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SimilarRequest {
    pub content: Content,
    pub exclude: Option<Address>,
    pub threshold: f32,
    pub limit: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ListRequest {
    pub author: Option<AuthorKey>,
    pub kind: Option<Kind>,
    pub stale: bool,
    pub now: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AddressQuery {
    pub address: Address,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PublishResponse {
    pub record: RecordBody,
    pub previous_seq: Option<u64>,
}

/// The URL query of an import request; the body is the chunk of the file itself (whole lines
/// of JSON Lines, or a CSV header and whole rows), at most [`API_IMPORT_BODY_BYTES`].
#[derive(Debug, Serialize, Deserialize)]
pub struct ImportQuery {
    /// The number, in the whole file, of the body's first line (for CSV: of its first row's
    /// first line), so rejections name lines of the whole file.
    pub first_line: u64,
    pub dry_run: bool,
    /// For CSV: the column mapping (TOML).
    #[serde(default)]
    pub mapping: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PeerRequest {
    pub peer: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Reindexed {
    pub indexed: u64,
}

/// What a failed request answers: a message, and a code the client maps back to an error.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub code: String,
}

/// A failed API call: the HTTP status, a code for clients, and the message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl ToString) -> ApiError {
        ApiError {
            status,
            code,
            message: message.to_string(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            code: self.code.to_string(),
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<NodeError> for ApiError {
    fn from(error: NodeError) -> ApiError {
        let (status, code) = match &error {
            NodeError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            NodeError::Retracted(_) => (StatusCode::GONE, "retracted"),
            NodeError::NotYours { .. } => (StatusCode::FORBIDDEN, "not_yours"),
            NodeError::Stale { .. } => (StatusCode::CONFLICT, "stale"),
            NodeError::Draft(_)
            | NodeError::Record(_)
            | NodeError::Import(_)
            | NodeError::Index(convene_search::IndexError::OverLimit(_)) => {
                (StatusCode::BAD_REQUEST, "invalid")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, error)
    }
}

impl From<ActorError> for ApiError {
    fn from(error: ActorError) -> ApiError {
        match error {
            ActorError::Closed => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "closed", error),
            ActorError::Failed(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "failed", error)
            }
        }
    }
}

impl From<PeerError> for ApiError {
    fn from(error: PeerError) -> ApiError {
        let status = match error {
            PeerError::NotFound(_) => StatusCode::NOT_FOUND,
            PeerError::Book { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let code = if status == StatusCode::NOT_FOUND {
            "not_found"
        } else {
            "invalid"
        };
        ApiError::new(status, code, error)
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

impl State {
    /// Runs `work` on the store actor; node errors become API errors.
    async fn on_store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Node) -> Result<T, NodeError> + Send + 'static,
    ) -> ApiResult<T> {
        Ok(Json(self.store.call(work).await??))
    }

    fn authorise(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        // Same time whether the token is wrong early or late.
        let matches = given.is_some_and(|given| {
            given.len() == self.token.len()
                && given
                    .bytes()
                    .zip(self.token.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        });
        if matches {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorised",
                "writes need the token from the home directory's api.token",
            ))
        }
    }

    async fn ask_net<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> NetCommand,
    ) -> Result<T, ApiError> {
        let (reply, result) = oneshot::channel();
        let closed = || ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "closed", "network stopped");
        self.net.send(command(reply)).await.map_err(|_| closed())?;
        result.await.map_err(|_| closed())
    }

    async fn gossip(&self, record: &Record) {
        let _ = self
            .net
            .send(NetCommand::Publish(record.bytes().to_vec()))
            .await;
    }
}

/// Proof that a request carried the token. As an extractor it runs on the headers alone,
/// before anything reads the body: an unauthenticated write is refused without reading it.
pub(crate) struct Authorised;

impl FromRequestParts<State> for Authorised {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, ApiError> {
        state.authorise(&parts.headers).map(|()| Authorised)
    }
}

/// The same check as a layer over every write route, outside the body limits: a client
/// without the token learns so before even its body's declared size is looked at.
async fn require_token(
    AxumState(state): AxumState<State>,
    request: Request,
    next: Next,
) -> Response {
    match state.authorise(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// Refuses requests whose `Host` is not this machine by a loopback name. A web page on a
/// hostile domain that resolves to 127.0.0.1 (DNS rebinding) sends its own domain as `Host`,
/// so it cannot read the API even though its requests reach the port.
async fn loopback_host(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if is_loopback_host(host) {
        next.run(request).await
    } else {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_host",
            format!(
                "the local API answers only requests addressed to 127.0.0.1, [::1] or \
                 localhost, not to {:?}",
                crate::limits::quote(host)
            ),
        )
        .into_response()
    }
}

/// `127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT` (any port), or the same without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(inside, _)| inside),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Reads a request's body before the handler does, at most `limit` bytes and within
/// [`API_BODY_TIMEOUT`], so that neither a huge nor a trickling body holds the node's memory
/// or a connection.
async fn bounded_body(
    AxumState(limit): AxumState<usize>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body is over this route's limit of {limit} bytes"),
        )
        .into_response()
    };
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large();
    }
    let bytes =
        match tokio::time::timeout(API_BODY_TIMEOUT, axum::body::to_bytes(body, limit)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => return too_large(),
            Err(_) => {
                return ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    format!(
                        "the request body did not arrive within {} s",
                        API_BODY_TIMEOUT.as_secs()
                    ),
                )
                .into_response();
            }
        };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn router(state: State) -> Router {
    let json = middleware::from_fn_with_state(API_JSON_BODY_BYTES, bounded_body);
    let import = middleware::from_fn_with_state(API_IMPORT_BODY_BYTES, bounded_body);
    let reads = Router::new()
        .route("/health", get(health))
        .route("/status", get(status))
        .route("/search", post(search))
        .route("/facets", post(facets))
        .route("/people", post(people))
        .route("/similar", post(similar))
        .route("/record", get(record))
        .route("/list", post(list))
        .route("/export", get(export))
        .route("/peers", get(peers))
        .layer(json.clone());
    // Each write handler takes `Authorised` first: the token is checked before the body is read.
    let writes = Router::new()
        .route("/publish", post(publish))
        .route("/retract", post(retract))
        .route("/reindex", post(reindex))
        .route("/peers", post(add_peer))
        .route("/peers/{key}", delete(remove_peer))
        .layer(json);
    let imports = Router::new()
        .route("/import/jsonl", post(import_jsonl))
        .route("/import/csv", post(import_csv))
        .layer(import);
    // (Layers apply to the routes added before them; the last one added runs first.)
    let writes = writes
        .merge(imports)
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let v1 = reads.merge(writes);
    Router::new()
        .nest(API_VERSION, v1)
        // The body limits above replace axum's default one.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(middleware::from_fn(loopback_host))
        .with_state(state)
}

/// How many connections the API serves at once, and how long a client has for its headers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ServeLimits {
    pub connections: usize,
    pub header_timeout: std::time::Duration,
}

/// Serves the API until `stop`: HTTP/1 with a deadline for each request's headers (which is
/// also how long an idle connection stays open), a cap on connections (more are closed at
/// once), and a graceful end for the requests in flight.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: State,
    limits: ServeLimits,
    mut stop: oneshot::Receiver<()>,
) {
    let app = router(state);
    let max = limits.connections;
    let slots = Arc::new(tokio::sync::Semaphore::new(max));
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut refused = 0u64;
    loop {
        let (stream, _) = tokio::select! {
            biased;
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, typically: wait for connections to close.
                    tracing::warn!(%error, "the local API cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    refused,
                    "the local API is at its limit of {max} connections; closing new ones"
                );
            }
            drop(stream);
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let mut closing = closing_rx.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(API_HEADER_BYTES);
            let connection =
                builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = closing.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_secs(5),
                        connection,
                    )
                    .await;
                }
            }
        });
    }
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
}

/// Answers at once, without waiting for the store: commands use it to tell a busy node from
/// one that does not answer.
async fn health(AxumState(state): AxumState<State>) -> Json<super::Health> {
    Json(state.store.health())
}

async fn status(AxumState(state): AxumState<State>) -> ApiResult<Status> {
    let api = state.api.parse().expect("our own address");
    status_of(&state.net, &state.store, api)
        .await
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "closed", "shutting down"))
}

async fn search(
    AxumState(state): AxumState<State>,
    Json(query): Json<Query>,
) -> ApiResult<Vec<Hit>> {
    state.on_store(move |node| node.search(&query)).await
}

async fn facets(
    AxumState(state): AxumState<State>,
    Json(query): Json<Query>,
) -> ApiResult<Vec<Facet>> {
    state
        .on_store(move |node| Ok(node.index().facets(&query)?))
        .await
}

async fn people(
    AxumState(state): AxumState<State>,
    Json(request): Json<PeopleRequest>,
) -> ApiResult<Vec<Person>> {
    state
        .on_store(move |node| node.people(&request.topic, request.limit))
        .await
}

async fn similar(
    AxumState(state): AxumState<State>,
    Json(request): Json<SimilarRequest>,
) -> ApiResult<Vec<(f32, Hit)>> {
    request.content.validate().map_err(NodeError::Record)?;
    state
        .on_store(move |node| {
            node.similar(
                &request.content,
                request.exclude.as_ref(),
                SimilarityThreshold(request.threshold),
                request.limit,
            )
        })
        .await
}

async fn record(
    AxumState(state): AxumState<State>,
    UrlQuery(query): UrlQuery<AddressQuery>,
) -> ApiResult<RecordBody> {
    state
        .on_store(move |node| node.get(&query.address).map(|r| RecordBody::of(&r)))
        .await
}

async fn list(
    AxumState(state): AxumState<State>,
    Json(request): Json<ListRequest>,
) -> ApiResult<Vec<RecordBody>> {
    state
        .on_store(move |node| {
            let records = node.list(&ListFilter {
                author: request.author,
                kind: request.kind,
                stale: request.stale,
                now: request.now,
            })?;
            Ok(records.iter().map(RecordBody::of).collect())
        })
        .await
}

/// Streams the export from a snapshot of the store, so writes go on meanwhile.
async fn export(AxumState(state): AxumState<State>) -> Result<Response, ApiError> {
    let store = state.store.call(|node| node.store().clone()).await?;
    let (lines, receiver) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(16);
    tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter {
            lines,
            buffer: Vec::with_capacity(64 * 1024),
        };
        let node_error = crate::transfer::export_store(&store, &mut writer);
        if let Err(error) = node_error {
            let _ = writer
                .lines
                .blocking_send(Err(std::io::Error::other(error.to_string())));
        }
    });
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// Writes into the export stream in chunks of about 64 KiB.
struct ChannelWriter {
    lines: mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    buffer: Vec<u8>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buffer.is_empty() {
            let chunk = std::mem::take(&mut self.buffer);
            self.lines
                .blocking_send(Ok(chunk))
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        }
        Ok(())
    }
}

impl State {
    /// Signs `draft` with the home's identity, stores it, and gossips it.
    pub(crate) async fn publish(&self, mut draft: Draft) -> Result<crate::Published, ApiError> {
        let identity = self.identity.clone();
        draft.fill_organisation(self.organisation.as_deref());
        let published = self
            .store
            .call(move |node| {
                draft.content.validate().map_err(NodeError::Record)?;
                node.publish(&identity, &draft, crate::now())
            })
            .await??;
        self.gossip(&published.record).await;
        Ok(published)
    }
}

async fn publish(
    _: Authorised,
    AxumState(state): AxumState<State>,
    Json(draft): Json<Draft>,
) -> ApiResult<PublishResponse> {
    let published = state.publish(draft).await?;
    Ok(Json(PublishResponse {
        record: RecordBody::of(&published.record),
        previous_seq: published.previous_seq,
    }))
}

async fn retract(
    _: Authorised,
    AxumState(state): AxumState<State>,
    Json(request): Json<AddressQuery>,
) -> ApiResult<RecordBody> {
    let identity = state.identity.clone();
    let record = state
        .store
        .call(move |node| node.retract(&identity, &request.address, crate::now()))
        .await??;
    state.gossip(&record).await;
    Ok(Json(RecordBody::of(&record)))
}

async fn import_jsonl(
    _: Authorised,
    AxumState(state): AxumState<State>,
    UrlQuery(query): UrlQuery<ImportQuery>,
    body: Bytes,
) -> ApiResult<ImportReport> {
    let report = state
        .store
        .call(move |node| {
            let mut input = &body[..];
            let mut report =
                node.import_jsonl(&mut input, query.dry_run, crate::now(), &NoProgress)?;
            for rejection in &mut report.rejected {
                rejection.line += query.first_line.saturating_sub(1);
            }
            Ok::<_, NodeError>(report)
        })
        .await??;
    if report.stored > 0 && !report.dry_run {
        let _ = state.net.send(NetCommand::Announce).await;
    }
    Ok(Json(report))
}

async fn import_csv(
    _: Authorised,
    AxumState(state): AxumState<State>,
    UrlQuery(query): UrlQuery<ImportQuery>,
    body: Bytes,
) -> ApiResult<ImportReport> {
    let mapping = CsvMapping::parse(query.mapping.as_deref().unwrap_or_default())
        .map_err(|reason| ApiError::new(StatusCode::BAD_REQUEST, "invalid", reason))?;
    let identity = state.identity.clone();
    let organisation = state.organisation.clone();
    let report = state
        .store
        .call(move |node| {
            let job = CsvImport {
                mapping: &mapping,
                identity: &identity,
                organisation: organisation.as_deref(),
                dry_run: query.dry_run,
                now: crate::now(),
            };
            let mut report = node.import_csv(&mut &body[..], &job, &NoProgress)?;
            for rejection in &mut report.rejected {
                rejection.line += query.first_line.saturating_sub(1);
            }
            Ok::<_, NodeError>(report)
        })
        .await??;
    if report.stored > 0 && !report.dry_run {
        let _ = state.net.send(NetCommand::Announce).await;
    }
    Ok(Json(report))
}

async fn reindex(_: Authorised, AxumState(state): AxumState<State>) -> ApiResult<Reindexed> {
    state
        .on_store(|node| {
            node.reindex(&NoProgress)?;
            Ok(Reindexed {
                indexed: node.index().num_docs(),
            })
        })
        .await
}

async fn peers(AxumState(state): AxumState<State>) -> ApiResult<Vec<BookPeer>> {
    Ok(Json(state.ask_net(NetCommand::Peers).await?))
}

async fn add_peer(
    _: Authorised,
    AxumState(state): AxumState<State>,
    Json(request): Json<PeerRequest>,
) -> ApiResult<PeerEntry> {
    let entry = PeerEntry::parse(&request.peer)?;
    let added = entry.clone();
    state
        .ask_net(|reply| NetCommand::AddPeer(entry, reply))
        .await??;
    Ok(Json(added))
}

async fn remove_peer(
    _: Authorised,
    AxumState(state): AxumState<State>,
    Path(key): Path<String>,
) -> ApiResult<Vec<PeerEntry>> {
    let removed = state
        .ask_net(|reply| NetCommand::RemovePeer(key, reply))
        .await??;
    Ok(Json(removed))
}
