//! The local API: JSON over HTTP on a loopback address, for the `convene` command (and pages)
//! while a node runs. Reads are open to local processes; writes need the token from
//! `HOME/api.token` as `Authorization: Bearer TOKEN`.
//!
//! Every route is a thin wrapper: the work happens on the store actor or in the network loop.

use std::sync::Arc;

use axum::extract::{Path, Query as UrlQuery, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use convene_protocol::{Address, AuthorKey, Content, Identity, Kind, Record};
use convene_search::{Facet, Hit, Query, SimilarityThreshold};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::actor::{Closed, StoreHandle};
use super::net::{BookPeer, NetCommand};
use super::peers::{PeerEntry, PeerError};
use super::{Status, status_of};
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

#[derive(Debug, Serialize, Deserialize)]
pub struct JsonlImport {
    /// JSON Lines, whole lines only.
    pub text: String,
    /// The number of the first line in `text`, so rejections name lines of the whole file.
    pub first_line: u64,
    pub dry_run: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CsvImportRequest {
    pub csv: String,
    pub mapping: String,
    pub dry_run: bool,
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
            NodeError::Draft(_) | NodeError::Record(_) | NodeError::Import(_) => {
                (StatusCode::BAD_REQUEST, "invalid")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, error)
    }
}

impl From<Closed> for ApiError {
    fn from(error: Closed) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "closed", error)
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

pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: State,
    stop: oneshot::Receiver<()>,
) {
    let v1 = Router::new()
        .route("/status", get(status))
        .route("/search", post(search))
        .route("/facets", post(facets))
        .route("/people", post(people))
        .route("/similar", post(similar))
        .route("/record", get(record))
        .route("/list", post(list))
        .route("/export", get(export))
        .route("/publish", post(publish))
        .route("/retract", post(retract))
        .route("/import/jsonl", post(import_jsonl))
        .route("/import/csv", post(import_csv))
        .route("/reindex", post(reindex))
        .route("/peers", get(peers).post(add_peer))
        .route("/peers/{key}", delete(remove_peer));
    let app = Router::new()
        .nest(API_VERSION, v1)
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024 * 1024))
        .with_state(state);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = stop.await;
        })
        .await;
    if let Err(error) = result {
        tracing::error!(%error, "the local API stopped");
    }
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
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    Json(draft): Json<Draft>,
) -> ApiResult<PublishResponse> {
    state.authorise(&headers)?;
    let published = state.publish(draft).await?;
    Ok(Json(PublishResponse {
        record: RecordBody::of(&published.record),
        previous_seq: published.previous_seq,
    }))
}

async fn retract(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    Json(request): Json<AddressQuery>,
) -> ApiResult<RecordBody> {
    state.authorise(&headers)?;
    let identity = state.identity.clone();
    let record = state
        .store
        .call(move |node| node.retract(&identity, &request.address, crate::now()))
        .await??;
    state.gossip(&record).await;
    Ok(Json(RecordBody::of(&record)))
}

async fn import_jsonl(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    Json(request): Json<JsonlImport>,
) -> ApiResult<ImportReport> {
    state.authorise(&headers)?;
    let report = state
        .store
        .call(move |node| {
            let mut input = request.text.as_bytes();
            let mut report =
                node.import_jsonl(&mut input, request.dry_run, crate::now(), &NoProgress)?;
            for rejection in &mut report.rejected {
                rejection.line += request.first_line.saturating_sub(1);
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
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    Json(request): Json<CsvImportRequest>,
) -> ApiResult<ImportReport> {
    state.authorise(&headers)?;
    let mapping = CsvMapping::parse(&request.mapping)
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
                dry_run: request.dry_run,
                now: crate::now(),
            };
            node.import_csv(&mut request.csv.as_bytes(), &job, &NoProgress)
        })
        .await??;
    if report.stored > 0 && !report.dry_run {
        let _ = state.net.send(NetCommand::Announce).await;
    }
    Ok(Json(report))
}

async fn reindex(AxumState(state): AxumState<State>, headers: HeaderMap) -> ApiResult<Reindexed> {
    state.authorise(&headers)?;
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
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    Json(request): Json<PeerRequest>,
) -> ApiResult<PeerEntry> {
    state.authorise(&headers)?;
    let entry = PeerEntry::parse(&request.peer)?;
    let added = entry.clone();
    state
        .ask_net(|reply| NetCommand::AddPeer(entry, reply))
        .await??;
    Ok(Json(added))
}

async fn remove_peer(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> ApiResult<Vec<PeerEntry>> {
    state.authorise(&headers)?;
    let removed = state
        .ask_net(|reply| NetCommand::RemovePeer(key, reply))
        .await??;
    Ok(Json(removed))
}
