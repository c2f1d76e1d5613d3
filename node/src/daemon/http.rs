//! The local API: JSON over HTTP on a loopback address, for the `convene` command (and pages)
//! while a node runs. Reads are open to local processes; writes need the token from
//! `HOME/api.token` as `Authorization: Bearer TOKEN`.
//!
//! Every route is a thin wrapper: the work happens on the store actor or in the network loop.

use crate::{AskDelegation, AskToJoin, NetworkChange, NetworkView, PendingJoin};
use convene_protocol::wire::{Request as WireRequest, Response as WireResponse};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{
    FromRequest, FromRequestParts, Path, Query as UrlQuery, Request, State as AxumState,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use convene_protocol::{AuthorKey, Record};
use convene_search::{Facet, Query, SimilarQuery};
use tokio::sync::{mpsc, oneshot};

use super::actor::{ActorError, Reply, Request as StoreRequest, StoreHandle};
use super::net::{BookPeer, NetCommand};
use super::peers::{PeerEntry, PeerError};
use super::status::{Status, status_of};
use crate::admission::Source;
use crate::api::{
    API_VERSION, AddressQuery, AuthorQuery, BlockRequest, BlockResponse, DomainCheckRequest,
    ErrorBody, ErrorCode, ImportQuery, ListRequest, NewsRequest, PeerBlockRequest, PeerRequest,
    PeopleRequest, PinRequest, PinResponse, PublishRequest, PublishResponse, RecordBody, Reindexed,
};
use crate::digest::{Digest, DigestRequest, MapRequest, NetworkMap};
use crate::domains::DomainCheck;
use crate::limits::{
    API_BODY_TIMEOUT, API_HEADER_BYTES, API_IMPORT_BODY_BYTES, API_JSON_BODY_BYTES,
};
use crate::trust::{Block, Found, Pin, Trust};
use crate::{CsvMapping, ImportReport, ListFilter, NoProgress, NodeError, Person, PublishOutcome};

#[derive(Clone, Debug)]
pub(crate) struct State {
    pub store: StoreHandle,
    pub net: mpsc::Sender<NetCommand>,
    pub token: String,
    pub api: String,
    /// The node's identity, which CSV rows' bare references point to.
    pub author: convene_protocol::AuthorKey,
    /// The certificate authorities domain proofs are fetched with (`[node] https_ca_file`).
    pub ca_file: Option<std::path::PathBuf>,
    /// This node's libp2p peer id.
    pub node_id: String,
    /// Where the web listener listens, if it does.
    pub web: Option<std::net::SocketAddr>,
}

/// A failed API call: its body, sent with the status its code goes with.
#[derive(Debug)]
pub struct ApiError(ErrorBody);

impl ApiError {
    fn new(code: ErrorCode, message: impl ToString) -> ApiError {
        ApiError(ErrorBody::new(code, message))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.error)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

impl From<NodeError> for ApiError {
    fn from(error: NodeError) -> ApiError {
        ApiError(ErrorBody::of(&error))
    }
}

impl From<ActorError> for ApiError {
    fn from(error: ActorError) -> ApiError {
        match error {
            ActorError::Closed => ApiError::new(ErrorCode::Closed, error),
            ActorError::Failed(_) => ApiError::new(ErrorCode::Failed, error),
        }
    }
}

impl From<PeerError> for ApiError {
    fn from(error: PeerError) -> ApiError {
        let code = match error {
            PeerError::NotFound(_) => ErrorCode::NotFound,
            PeerError::Book { .. } => ErrorCode::Internal,
            _ => ErrorCode::Invalid,
        };
        ApiError::new(code, error)
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

impl State {
    /// Asks the store actor; its errors and the node's become API errors.
    async fn on_store<T>(&self, request: impl FnOnce(Reply<T>) -> StoreRequest) -> ApiResult<T> {
        Ok(Json(self.store.ask(request).await??))
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
                ErrorCode::Unauthorised,
                "writes need the token from the home directory's api.token",
            ))
        }
    }

    async fn ask_net<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> NetCommand,
    ) -> Result<T, ApiError> {
        let (reply, result) = oneshot::channel();
        let closed = || ApiError::new(ErrorCode::Closed, "network stopped");
        self.net.send(command(reply)).await.map_err(|_| closed())?;
        result.await.map_err(|_| closed())
    }

    /// Spreads one of this node's records just stored: by gossip, or — for a members-only
    /// network's record, which gossip would show to everyone — by asking peers to sync, which
    /// sends it only to members' nodes.
    async fn gossip(&self, record: &Record) {
        let address = record.address();
        let spread = self
            .store
            .ask(|reply| StoreRequest::Spread { address, reply })
            .await;
        let command = match spread {
            Ok(Ok((false, networks))) => NetCommand::Publish {
                bytes: record.bytes().to_vec(),
                networks,
            },
            _ => NetCommand::Announce,
        };
        let _ = self.net.send(command).await;
        // A practitioner's contact card (or its retraction) came with it: it travels by sync.
        if record.header().kind == convene_protocol::Kind::Practitioner {
            let _ = self.net.send(NetCommand::Announce).await;
        }
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

/// A JSON body; one that does not parse is an `invalid` error, as JSON like every other.
pub(crate) struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::new(ErrorCode::Invalid, rejection.body_text())),
        }
    }
}

/// A URL query; one that does not parse is an `invalid` error, as JSON like every other.
pub(crate) struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match UrlQuery::<T>::from_request_parts(parts, state).await {
            Ok(UrlQuery(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::new(ErrorCode::Invalid, rejection.body_text())),
        }
    }
}

/// A path or method the API does not have.
async fn no_route() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "no such route in this API; GET /v1/openapi.json lists them",
    )
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
            ErrorCode::ForbiddenHost,
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
            ErrorCode::TooLarge,
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
                    ErrorCode::Timeout,
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

/// The API's description (OpenAPI 3.1), generated from the route handlers' annotations and the
/// request and response types. `GET /v1/openapi.json` serves it; `convene node openapi` prints it.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Convene node local API",
        description = "The API the `convene` command uses to talk to a running node, on a loopback \
            address only (`[node] api`, default 127.0.0.1:4718). Reads are open to local users; \
            writes need the token in `HOME/api.token` as `Authorization: Bearer TOKEN`. Every \
            error is an `ErrorBody` whose `code` is stable across versions; programs match on it, \
            never on the message. Every number in a request is bounded (limits, lengths, body \
            sizes: 1 MiB for JSON, 16 MiB for an import chunk)."
    ),
    paths(
        health, status, search, wider_search, facets, people, similar, record, list, export,
        peers, trust, pins, blocks, networks, digest, cohort, history, join_requests, delegation_asks,
        network_map, peer_blocks, openapi, watches, watch_feed, change_watch, news, publish, retract, reindex, add_peer, set_pin,
        change_account, accounts, set_block, change_network, ask_to_join, ask_for_delegation,
        check_domains, set_peer_block, remove_peer, import_jsonl, import_csv
    ),
    components(schemas(ErrorBody, ErrorCode)),
    modifiers(&TokenScheme),
    tags(
        (name = "search", description = "Searching this node's index and its peers'"),
        (name = "records", description = "Records: publishing, retracting, reading, importing, exporting"),
        (name = "trust", description = "Who authors are: trust paths, pins, blocks, delegates, domains"),
        (name = "networks", description = "Convened networks"),
        (name = "peers", description = "The nodes this node connects to"),
        (name = "web", description = "Colleagues' accounts on the web page"),
        (name = "watches", description = "Saved searches: what is new on a topic, also as Atom"),
        (name = "node", description = "The node itself")
    )
)]
pub struct ApiDoc;

/// The `token` security scheme: the bearer token from `HOME/api.token`.
struct TokenScheme;

impl utoipa::Modify for TokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The token in HOME/api.token (mode 0600)."))
                    .build(),
            ),
        );
    }
}

/// The API's description as JSON.
pub fn openapi_json() -> String {
    use utoipa::OpenApi as _;
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the description serialises")
}

#[utoipa::path(get, path = "/v1/openapi.json", tag = "node", summary = "This description.", responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json")))]
async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        openapi_json(),
    )
        .into_response()
}

fn router(state: State) -> Router {
    let json = middleware::from_fn_with_state(API_JSON_BODY_BYTES, bounded_body);
    let import = middleware::from_fn_with_state(API_IMPORT_BODY_BYTES, bounded_body);
    let reads = Router::new()
        .route("/health", get(health))
        .route("/status", get(status))
        .route("/search", post(search))
        .route("/search/wider", post(wider_search))
        .route("/facets", post(facets))
        .route("/people", post(people))
        .route("/similar", post(similar))
        .route("/record", get(record))
        .route("/list", post(list))
        .route("/export", get(export))
        .route("/peers", get(peers))
        .route("/trust", get(trust))
        .route("/pins", get(pins))
        .route("/blocks", get(blocks))
        .route("/networks", get(networks))
        .route("/networks/digest", post(digest))
        .route("/cohort", post(cohort))
        .route("/history", post(history))
        .route("/networks/requests", get(join_requests))
        .route("/delegates/requests", get(delegation_asks))
        .route("/networks/map", post(network_map))
        .route("/peer-blocks", get(peer_blocks))
        .route("/openapi.json", get(openapi))
        .route("/watches", get(watches))
        .route("/watches/{id}/atom", get(watch_feed))
        .layer(json.clone());
    // Each write handler takes `Authorised` first: the token is checked before the body is read.
    let writes = Router::new()
        .route("/publish", post(publish))
        .route("/retract", post(retract))
        .route("/reindex", post(reindex))
        .route("/peers", post(add_peer))
        .route("/pins", post(set_pin))
        .route("/web/accounts", post(change_account))
        .route("/watches", post(change_watch))
        .route("/news", post(news))
        .route("/web/accounts/list", post(accounts))
        .route("/blocks", post(set_block))
        .route("/networks", post(change_network))
        .route("/networks/ask", post(ask_to_join))
        .route("/delegates/ask", post(ask_for_delegation))
        .route("/domains/check", post(check_domains))
        .route("/peer-blocks", post(set_peer_block))
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
        .fallback(no_route)
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
    stop: oneshot::Receiver<()>,
) {
    serve_app(listener, router(state), limits, stop).await
}

/// Serves `app` on `listener` until `stop`, with the API's limits (see [`serve`]): the web
/// listener is served the same way.
pub(crate) async fn serve_app(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ServeLimits,
    mut stop: oneshot::Receiver<()>,
) {
    let max = limits.connections;
    let slots = Arc::new(tokio::sync::Semaphore::new(max));
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut refused = 0u64;
    loop {
        let (stream, peer) = tokio::select! {
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
        // Handlers that limit by client (the web page's sign-in) read its address.
        let app = app
            .clone()
            .layer(axum::Extension(axum::extract::ConnectInfo(peer)));
        let service = hyper_util::service::TowerToHyperService::new(app);
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
#[utoipa::path(get, path = "/v1/health", tag = "node", summary = "Answers at once, without waiting for the store: whether the node is up and how busy it is.", responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn health(AxumState(state): AxumState<State>) -> Json<super::actor::Health> {
    Json(state.store.health())
}

#[utoipa::path(get, path = "/v1/status", tag = "node", summary = "The node's identity, listeners, peers and record counts.", responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn status(AxumState(state): AxumState<State>) -> ApiResult<Status> {
    let api = state.api.parse().expect("our own address");
    status_of(&state.net, &state.store, api, state.web)
        .await
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::Closed, "shutting down"))
}

#[utoipa::path(post, path = "/v1/search", tag = "search", summary = "Search this node's index: words and filters; ranked hits with snippets and trust paths.", request_body = Query, responses((status = 200, description = "Done", body = Vec<Found>), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn search(
    AxumState(state): AxumState<State>,
    ApiJson(query): ApiJson<Query>,
) -> ApiResult<Vec<Found>> {
    state
        .on_store(|reply| StoreRequest::Search { query, reply })
        .await
}

#[utoipa::path(post, path = "/v1/facets", tag = "search", summary = "How the matches of a search divide by kind, status, sector, region and organisation.", request_body = Query, responses((status = 200, description = "Done", body = Vec<Facet>), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn facets(
    AxumState(state): AxumState<State>,
    ApiJson(query): ApiJson<Query>,
) -> ApiResult<Vec<Facet>> {
    state
        .on_store(|reply| StoreRequest::Facets { query, reply })
        .await
}

#[utoipa::path(post, path = "/v1/people", tag = "search", summary = "Who to learn from about a topic, and why.", request_body = PeopleRequest, responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn people(
    AxumState(state): AxumState<State>,
    ApiJson(request): ApiJson<PeopleRequest>,
) -> ApiResult<Vec<Person>> {
    state
        .on_store(|reply| StoreRequest::People {
            topic: request.topic,
            limit: request.limit,
            reply,
        })
        .await
}

#[utoipa::path(post, path = "/v1/similar", tag = "search", summary = "Records like a draft or a record.", request_body = serde_json::Value, responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn similar(
    AxumState(state): AxumState<State>,
    ApiJson(query): ApiJson<SimilarQuery>,
) -> ApiResult<Vec<(f32, Found)>> {
    state
        .on_store(|reply| StoreRequest::Similar { query, reply })
        .await
}

#[utoipa::path(get, path = "/v1/trust", tag = "trust", summary = "How this node knows who an author is: its trust path.", params(AuthorQuery), responses((status = 200, description = "Done", body = Trust), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn trust(
    AxumState(state): AxumState<State>,
    ApiQuery(query): ApiQuery<AuthorQuery>,
) -> ApiResult<Trust> {
    state
        .on_store(|reply| StoreRequest::Trust {
            author: query.author,
            reply,
        })
        .await
}

#[utoipa::path(post, path = "/v1/domains/check", tag = "trust", summary = "Check the web domains organisation profiles claim.", request_body = DomainCheckRequest, security(("token" = [])), responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn check_domains(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiJson(request): ApiJson<DomainCheckRequest>,
) -> ApiResult<Vec<(AuthorKey, DomainCheck)>> {
    let recheck = if request.all {
        0
    } else {
        crate::domains::RECHECK_SECS
    };
    Ok(Json(
        super::domain_checks::check_due(&state.store, state.ca_file.clone(), recheck).await?,
    ))
}

#[utoipa::path(get, path = "/v1/blocks", tag = "trust", summary = "The authors this node refuses.", responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn blocks(AxumState(state): AxumState<State>) -> ApiResult<Vec<(AuthorKey, Block)>> {
    state.on_store(|reply| StoreRequest::Blocks { reply }).await
}

#[utoipa::path(post, path = "/v1/blocks", tag = "trust", summary = "Block an author (purging its records), or lift the block.", request_body = BlockRequest, security(("token" = [])), responses((status = 200, description = "Done", body = BlockResponse), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn set_block(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiJson(request): ApiJson<BlockRequest>,
) -> ApiResult<BlockResponse> {
    let Json((had, purged)) = state
        .on_store(|reply| StoreRequest::SetBlock {
            author: request.author,
            block: request.block,
            reply,
        })
        .await?;
    Ok(Json(BlockResponse { had, purged }))
}

#[utoipa::path(get, path = "/v1/networks", tag = "networks", summary = "The networks this node knows or replicates.", responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn networks(AxumState(state): AxumState<State>) -> ApiResult<Vec<NetworkView>> {
    state
        .on_store(|reply| StoreRequest::Networks { reply })
        .await
}

#[utoipa::path(get, path = "/v1/networks/requests", tag = "networks", summary = "Join requests waiting for this node's organisation, as a convenor.", responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn join_requests(AxumState(state): AxumState<State>) -> ApiResult<Vec<PendingJoin>> {
    state
        .on_store(|reply| StoreRequest::JoinRequests { reply })
        .await
}

/// How long a join request waits for the convenor's node to be reachable.
const ASK_WITHIN: std::time::Duration = std::time::Duration::from_secs(15);

#[utoipa::path(post, path = "/v1/networks/ask", tag = "networks", summary = "Send a convenor's node a signed request to join a network.", request_body = serde_json::Value, security(("token" = [])), responses((status = 200, description = "Done"), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn ask_to_join(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiJson(ask): ApiJson<AskToJoin>,
) -> ApiResult<()> {
    let peer = peer_id(&ask.peer)?;
    let Json((_, request)) = state
        .on_store(|reply| StoreRequest::SignJoin {
            network: ask.network,
            node: state.node_id.clone(),
            note: ask.note,
            reply,
        })
        .await?;
    send_until_acked(
        &state,
        peer,
        WireRequest::Join { request },
        "the convenor's node",
    )
    .await
}

#[utoipa::path(post, path = "/v1/delegates/ask", tag = "trust", summary = "Send an organisation's node a signed request to publish for it.", request_body = serde_json::Value, security(("token" = [])), responses((status = 200, description = "Done"), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn ask_for_delegation(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiJson(ask): ApiJson<AskDelegation>,
) -> ApiResult<()> {
    let peer = peer_id(&ask.peer)?;
    let Json(request) = state
        .on_store(|reply| StoreRequest::SignDelegationAsk {
            organisation: ask.organisation,
            node: state.node_id.clone(),
            person: ask.person,
            note: ask.note,
            reply,
        })
        .await?;
    send_until_acked(
        &state,
        peer,
        WireRequest::Delegate { request },
        "the organisation's node",
    )
    .await
}

/// Asks the connected peers (at most [`crate::wider::MAX_PEERS`]) to run the query, in
/// parallel, waits at most the query's time for each, and has the store check and merge what
/// they sent.
#[utoipa::path(post, path = "/v1/search/wider", tag = "search", summary = "Ask every connected peer to run the query too; every answer verified, merged and ranked, with which peers answered.", request_body = serde_json::Value, responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn wider_search(
    AxumState(state): AxumState<State>,
    ApiJson(query): ApiJson<crate::wider::WiderQuery>,
) -> ApiResult<crate::wider::WiderSearch> {
    state.wider(query).await.map(Json)
}

impl State {
    /// Asks every connected peer (at most [`crate::wider::MAX_PEERS`]) to run `query`, in
    /// parallel and within its wait; every answer is verified and merged by the store actor.
    pub(crate) async fn wider(
        &self,
        query: crate::wider::WiderQuery,
    ) -> Result<crate::wider::WiderSearch, ApiError> {
        let state = self;
        use crate::wider::PeerReply;
        let query = query
            .bounded()
            .map_err(|e| ApiError::new(ErrorCode::Invalid, e.to_string()))?;
        let net = state.ask_net(NetCommand::Status).await?;
        let peers: Vec<libp2p::PeerId> = net
            .peers
            .iter()
            .filter_map(|peer| peer.peer_id.parse().ok())
            .take(crate::wider::MAX_PEERS)
            .collect();
        let wait = std::time::Duration::from_millis(query.wait_ms);
        let asks = peers.into_iter().map(|peer| {
            let state = state.clone();
            let request = WireRequest::Search {
                text: query.text.clone(),
                kind: query.kind,
                limit: query.limit,
            };
            async move {
                let answer = tokio::time::timeout(
                    wait,
                    state.ask_net(|reply| NetCommand::Request {
                        peer,
                        request,
                        reply,
                    }),
                )
                .await;
                let reply = match answer {
                    Err(_) => PeerReply::TimedOut,
                    Ok(Err(error)) => PeerReply::Failed(error.to_string()),
                    Ok(Ok(Ok(WireResponse::Records { records, .. }))) => {
                        PeerReply::Records(records)
                    }
                    Ok(Ok(Ok(WireResponse::Refused { reason }))) => PeerReply::Refused(reason),
                    Ok(Ok(Ok(_))) => PeerReply::Failed("it answered out of turn".into()),
                    Ok(Ok(Err(error))) => PeerReply::Failed(error.to_string()),
                };
                (peer.to_string(), reply)
            }
        });
        let replies = futures::future::join_all(asks).await;
        let Json(found) = state
            .on_store(|reply| StoreRequest::MergeWider {
                query,
                replies,
                reply,
            })
            .await?;
        Ok(found)
    }
}

#[utoipa::path(get, path = "/v1/delegates/requests", tag = "trust", summary = "People's requests to publish for this node's organisation.", responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn delegation_asks(
    AxumState(state): AxumState<State>,
) -> ApiResult<Vec<crate::keys::PendingDelegation>> {
    state
        .on_store(|reply| StoreRequest::DelegationAsks { reply })
        .await
}

/// A peer id from a request body, or an error naming what is wrong with it.
fn peer_id(text: &str) -> Result<libp2p::PeerId, ApiError> {
    super::peers::parse_peer_id(text).map_err(|e| ApiError::new(ErrorCode::Invalid, e.to_string()))
}

/// Sends a signed request to `peer` until it answers: the peer may have been added a moment
/// ago and still be connecting.
async fn send_until_acked(
    state: &State,
    peer: libp2p::PeerId,
    request: WireRequest,
    who: &str,
) -> ApiResult<()> {
    let deadline = tokio::time::Instant::now() + ASK_WITHIN;
    loop {
        let request = request.clone();
        let answer = state
            .ask_net(|reply| NetCommand::Request {
                peer,
                request,
                reply,
            })
            .await?;
        match answer {
            Ok(WireResponse::Ack) => return Ok(Json(())),
            Ok(WireResponse::Refused { reason }) => {
                return Err(ApiError::new(
                    ErrorCode::Refused,
                    format!("{who} refused the request: {reason}"),
                ));
            }
            Ok(_) => {
                return Err(ApiError::new(
                    ErrorCode::Failed,
                    format!("{who} answered out of turn"),
                ));
            }
            Err(error) if tokio::time::Instant::now() >= deadline => {
                return Err(ApiError::new(
                    ErrorCode::Timeout,
                    format!("{who} could not be reached: {error}"),
                ));
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
        }
    }
}

#[utoipa::path(post, path = "/v1/cohort", tag = "records", summary = "Who shares an experiment's idea: the organisations interested in it and those trying something like it.", request_body = AddressQuery, responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn cohort(
    AxumState(state): AxumState<State>,
    ApiJson(request): ApiJson<AddressQuery>,
) -> ApiResult<crate::cohort::Cohort> {
    state
        .on_store(|reply| StoreRequest::Cohort {
            experiment: request.address,
            reply,
        })
        .await
}

#[utoipa::path(post, path = "/v1/history", tag = "records", summary = "The versions of a record this node holds, newest first, with what each changed from the one before it.", request_body = AddressQuery, responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 404, description = "No record at that address", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn history(
    AxumState(state): AxumState<State>,
    ApiJson(request): ApiJson<AddressQuery>,
) -> ApiResult<crate::history::History> {
    state
        .on_store(|reply| StoreRequest::History {
            address: request.address,
            reply,
        })
        .await
}

#[utoipa::path(post, path = "/v1/networks/digest", tag = "networks", summary = "What is new in a network.", request_body = serde_json::Value, responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn digest(
    AxumState(state): AxumState<State>,
    ApiJson(request): ApiJson<DigestRequest>,
) -> ApiResult<Digest> {
    state
        .on_store(|reply| StoreRequest::Digest {
            network: request.network,
            since: request.since,
            reply,
        })
        .await
}

#[utoipa::path(post, path = "/v1/networks/map", tag = "networks", summary = "Who is in a network and what they publish, as this node knows it.", request_body = serde_json::Value, responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn network_map(
    AxumState(state): AxumState<State>,
    ApiJson(request): ApiJson<MapRequest>,
) -> ApiResult<NetworkMap> {
    state
        .on_store(|reply| StoreRequest::NetworkMap {
            network: request.network,
            reply,
        })
        .await
}

#[utoipa::path(post, path = "/v1/networks", tag = "networks", summary = "Found, amend, join or leave a network.", request_body = serde_json::Value, security(("token" = [])), responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn change_network(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiJson(change): ApiJson<NetworkChange>,
) -> ApiResult<NetworkView> {
    let (view, signed) = state
        .store
        .ask(|reply| StoreRequest::ChangeNetwork { change, reply })
        .await??;
    for record in &signed {
        state.gossip(record).await;
    }
    Ok(Json(view))
}

#[utoipa::path(get, path = "/v1/pins", tag = "trust", summary = "The operator's pins.", responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn pins(AxumState(state): AxumState<State>) -> ApiResult<Vec<(AuthorKey, Pin)>> {
    state.on_store(|reply| StoreRequest::Pins { reply }).await
}

#[utoipa::path(get, path = "/v1/watches", tag = "watches", summary = "The operator's saved searches.", responses((status = 200, description = "Done", body = serde_json::Value), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn watches(AxumState(state): AxumState<State>) -> ApiResult<Vec<crate::watches::Watch>> {
    state
        .on_store(|reply| StoreRequest::Watches {
            watcher: crate::watches::Watcher::Operator,
            reply,
        })
        .await
}

#[utoipa::path(post, path = "/v1/watches", tag = "watches", summary = "Add (`{\"op\": \"add\", \"text\": …, \"kind\": …}`) or remove (`{\"op\": \"remove\", \"id\": …}`) a saved search.", request_body = serde_json::Value, security(("token" = [])), responses((status = 200, description = "The watch added, or null", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody)))]
async fn change_watch(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiJson(change): ApiJson<crate::watches::WatchChange>,
) -> ApiResult<Option<crate::watches::Watch>> {
    state
        .on_store(|reply| StoreRequest::ChangeWatch {
            watcher: crate::watches::Watcher::Operator,
            change,
            reply,
        })
        .await
}

#[utoipa::path(post, path = "/v1/news", tag = "watches", summary = "What is new for each saved search since the last look (marking it seen if asked).", request_body = NewsRequest, security(("token" = [])), responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody)))]
async fn news(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiJson(request): ApiJson<NewsRequest>,
) -> ApiResult<Vec<crate::watches::News>> {
    state
        .on_store(|reply| StoreRequest::News {
            watcher: crate::watches::Watcher::Operator,
            mark_seen: request.mark_seen,
            reply,
        })
        .await
}

#[utoipa::path(get, path = "/v1/watches/{id}/atom", tag = "watches", summary = "A saved search's recent matches as an Atom feed, for any feed reader on this machine.", params(("id" = String, Path, description = "The watch's id")), responses((status = 200, description = "Atom", content_type = "application/atom+xml"), (status = 400, description = "No such watch", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody)))]
async fn watch_feed(
    AxumState(state): AxumState<State>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let web = state.web.map(|addr| format!("http://{addr}"));
    let Json(feed) = state
        .on_store(|reply| StoreRequest::AtomFeed { id, web, reply })
        .await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/atom+xml; charset=utf-8",
        )],
        feed,
    )
        .into_response())
}

#[utoipa::path(post, path = "/v1/web/accounts/list", tag = "web", summary = "Colleagues' web accounts.", security(("token" = [])), responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn accounts(
    _: Authorised,
    AxumState(state): AxumState<State>,
) -> ApiResult<Vec<crate::accounts::AccountView>> {
    state
        .on_store(|reply| StoreRequest::Accounts { reply })
        .await
}

#[utoipa::path(post, path = "/v1/web/accounts", tag = "web", summary = "Add or remove a colleague's web account, or issue a new one-time sign-in link.", request_body = serde_json::Value, security(("token" = [])), responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn change_account(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiJson(change): ApiJson<crate::accounts::AccountChange>,
) -> ApiResult<crate::accounts::AccountChanged> {
    state
        .on_store(|reply| StoreRequest::ChangeAccount { change, reply })
        .await
}

#[utoipa::path(post, path = "/v1/pins", tag = "trust", summary = "Pin an author as a name, or remove the pin.", request_body = PinRequest, security(("token" = [])), responses((status = 200, description = "Done", body = PinResponse), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn set_pin(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiJson(request): ApiJson<PinRequest>,
) -> ApiResult<PinResponse> {
    let Json(had) = state
        .on_store(|reply| StoreRequest::SetPin {
            author: request.author,
            pin: request.pin,
            reply,
        })
        .await?;
    Ok(Json(PinResponse { had }))
}

#[utoipa::path(get, path = "/v1/record", tag = "records", summary = "One record, by address.", params(AddressQuery), responses((status = 200, description = "Done", body = RecordBody), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn record(
    AxumState(state): AxumState<State>,
    ApiQuery(query): ApiQuery<AddressQuery>,
) -> ApiResult<RecordBody> {
    let Json(record) = state
        .on_store(|reply| StoreRequest::Get {
            address: query.address,
            reply,
        })
        .await?;
    Ok(Json(RecordBody::of(&record)))
}

#[utoipa::path(post, path = "/v1/list", tag = "records", summary = "Records held, by author and kind, or those overdue for review.", request_body = ListRequest, responses((status = 200, description = "Done", body = Vec<RecordBody>), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn list(
    AxumState(state): AxumState<State>,
    ApiJson(request): ApiJson<ListRequest>,
) -> ApiResult<Vec<RecordBody>> {
    let filter = ListFilter {
        author: request.author,
        kind: request.kind,
        stale: request.stale,
        now: request.now,
    };
    let Json(records) = state
        .on_store(|reply| StoreRequest::List { filter, reply })
        .await?;
    Ok(Json(records.iter().map(RecordBody::of).collect()))
}

/// Streams the export from a snapshot of the store, so writes go on meanwhile.
#[utoipa::path(get, path = "/v1/export", tag = "records", summary = "Every record held, retractions included, as JSON Lines of signed bytes.", responses((status = 200, description = "JSON Lines", content_type = "application/x-ndjson"), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn export(AxumState(state): AxumState<State>) -> Result<Response, ApiError> {
    let Json(store) = state
        .on_store(|reply| StoreRequest::Snapshot { reply })
        .await?;
    let (lines, receiver) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(16);
    tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter::new(lines);
        let node_error = crate::transfer::export_store(&store, &mut writer);
        if let Err(error) = node_error {
            writer.fail(std::io::Error::other(error.to_string()));
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

/// Writes into a response stream in chunks of about 64 KiB.
pub(crate) struct ChannelWriter {
    lines: mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    pub(crate) fn new(lines: mpsc::Sender<Result<Vec<u8>, std::io::Error>>) -> ChannelWriter {
        ChannelWriter {
            lines,
            buffer: Vec::with_capacity(64 * 1024),
        }
    }

    /// Ends the stream with an error (the client sees the body cut short).
    pub(crate) fn fail(self, error: std::io::Error) {
        let _ = self.lines.blocking_send(Err(error));
    }
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
    /// Publishes `request.draft` as the node's identity (unless similar records stop it) and
    /// gossips the record.
    pub(crate) async fn publish(
        &self,
        request: PublishRequest,
    ) -> Result<PublishOutcome, ApiError> {
        let outcome = self
            .store
            .ask(|reply| StoreRequest::Publish {
                draft: request.draft,
                check: request.check,
                reply,
            })
            .await??;
        if let PublishOutcome::Published(published) = &outcome {
            self.gossip(&published.record).await;
        }
        Ok(outcome)
    }
}

#[utoipa::path(post, path = "/v1/publish", tag = "records", summary = "Publish a draft as this node's organisation (signed, admitted, stored, gossiped); or, if asked, be shown similar records first.", request_body = PublishRequest, security(("token" = [])), responses((status = 200, description = "Done", body = PublishResponse), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn publish(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiJson(request): ApiJson<PublishRequest>,
) -> ApiResult<PublishResponse> {
    Ok(Json(match state.publish(request).await? {
        PublishOutcome::Published(published) => PublishResponse::Published {
            record: RecordBody::of(&published.record),
            previous_seq: published.previous_seq,
        },
        PublishOutcome::Similar(similar) => PublishResponse::Similar { similar },
        PublishOutcome::Retracted(address) => PublishResponse::Retracted { address },
    }))
}

#[utoipa::path(post, path = "/v1/retract", tag = "records", summary = "Retract one of this organisation's records.", request_body = AddressQuery, security(("token" = [])), responses((status = 200, description = "Done", body = RecordBody), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn retract(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiJson(request): ApiJson<AddressQuery>,
) -> ApiResult<RecordBody> {
    let record: Record = state
        .store
        .ask(|reply| StoreRequest::Retract {
            address: request.address,
            reply,
        })
        .await??;
    state.gossip(&record).await;
    Ok(Json(RecordBody::of(&record)))
}

/// A store actor failure as a node error, for the import loops that run off the runtime.
fn actor_failed(error: ActorError) -> NodeError {
    NodeError::Api(error.to_string())
}

/// Runs an import that reads its body on a blocking thread, sending the store actor chunks of
/// at most [`super::actor::ADMIT_CHUNK`] records: gossip intake goes on between them.
async fn import_off_runtime(
    state: &State,
    query: &ImportQuery,
    import: impl FnOnce(StoreHandle) -> Result<ImportReport, NodeError> + Send + 'static,
) -> ApiResult<ImportReport> {
    let store = state.store.clone();
    let mut report = tokio::task::spawn_blocking(move || import(store))
        .await
        .map_err(|error| ApiError::new(ErrorCode::Failed, error))??;
    for rejection in &mut report.rejected {
        rejection.line += query.first_line.saturating_sub(1);
    }
    if report.stored > 0 && !report.dry_run {
        let _ = state.net.send(NetCommand::Announce).await;
    }
    Ok(Json(report))
}

#[utoipa::path(post, path = "/v1/import/jsonl", tag = "records", summary = "Import whole lines of a JSON Lines export; every record verified and admitted as if from the network.", request_body(content = String, content_type = "text/plain", description = "A chunk of the file: whole lines, at most 16 MiB"), params(ImportQuery), security(("token" = [])), responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn import_jsonl(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    body: Bytes,
) -> ApiResult<ImportReport> {
    let dry_run = query.dry_run;
    import_off_runtime(&state, &query, move |store| {
        crate::transfer::import_jsonl_into(
            &mut &body[..],
            dry_run,
            crate::now(),
            &NoProgress,
            &mut |records| {
                store
                    .ask_blocking(|reply| StoreRequest::Admit {
                        records,
                        source: Source::Import,
                        dry_run,
                        reply,
                    })
                    .map_err(actor_failed)?
            },
        )
    })
    .await
}

#[utoipa::path(post, path = "/v1/import/csv", tag = "records", summary = "Import CSV rows as records of this organisation, with a column mapping.", request_body(content = String, content_type = "text/plain", description = "A chunk of the file: whole lines, at most 16 MiB"), params(ImportQuery), security(("token" = [])), responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn import_csv(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    body: Bytes,
) -> ApiResult<ImportReport> {
    let mapping = CsvMapping::parse(query.mapping.as_deref().unwrap_or_default())
        .map_err(|reason| ApiError::new(ErrorCode::Invalid, reason))?;
    let dry_run = query.dry_run;
    let author = state.author;
    import_off_runtime(&state, &query, move |store| {
        crate::transfer::import_csv_into(
            &mut &body[..],
            &mapping,
            &author,
            dry_run,
            &NoProgress,
            &mut |rows| {
                store
                    .ask_blocking(|reply| StoreRequest::PublishRows {
                        rows,
                        dry_run,
                        reply,
                    })
                    .map_err(actor_failed)?
            },
        )
    })
    .await
}

#[utoipa::path(post, path = "/v1/reindex", tag = "node", summary = "Rebuild the search index from the store.", security(("token" = [])), responses((status = 200, description = "Done", body = Reindexed), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn reindex(_: Authorised, AxumState(state): AxumState<State>) -> ApiResult<Reindexed> {
    let Json(indexed) = state
        .on_store(|reply| StoreRequest::Reindex { reply })
        .await?;
    Ok(Json(Reindexed { indexed }))
}

#[utoipa::path(get, path = "/v1/peer-blocks", tag = "peers", summary = "Peers blocked for good.", responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn peer_blocks(AxumState(state): AxumState<State>) -> ApiResult<Vec<(String, Block)>> {
    let bans = state.ask_net(NetCommand::Bans).await?;
    Ok(Json(
        bans.into_iter()
            .map(|(peer, block)| (peer.to_string(), block))
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/peer-blocks", tag = "peers", summary = "Block a peer for good, or lift the block.", request_body = PeerBlockRequest, security(("token" = [])), responses((status = 200, description = "Done", body = PinResponse), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn set_peer_block(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiJson(request): ApiJson<PeerBlockRequest>,
) -> ApiResult<PinResponse> {
    let peer = super::peers::parse_peer_id(&request.peer)?;
    if let Some(block) = &request.block {
        crate::trust::check_block(block)
            .map_err(|reason| ApiError::new(ErrorCode::Invalid, reason))?;
    }
    let had = state
        .ask_net(|reply| NetCommand::BanPeer(peer, request.block, reply))
        .await?;
    Ok(Json(PinResponse { had }))
}

#[utoipa::path(get, path = "/v1/peers", tag = "peers", summary = "The peers this node knows, connected or not.", responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn peers(AxumState(state): AxumState<State>) -> ApiResult<Vec<BookPeer>> {
    let mut book = state.ask_net(NetCommand::Peers).await?;
    let peers: Vec<String> = book
        .iter()
        .map(|p| p.peer_id.clone().unwrap_or_default())
        .collect();
    if let Ok(Ok(names)) = state
        .store
        .ask(|reply| StoreRequest::PeerNames { peers, reply })
        .await
    {
        for (peer, name) in book.iter_mut().zip(names) {
            peer.organisation = name;
        }
    }
    Ok(Json(book))
}

#[utoipa::path(post, path = "/v1/peers", tag = "peers", summary = "Remember a peer (a ticket or a multiaddr) and connect to it.", request_body = PeerRequest, security(("token" = [])), responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
async fn add_peer(
    _: Authorised,
    AxumState(state): AxumState<State>,
    ApiJson(request): ApiJson<PeerRequest>,
) -> ApiResult<PeerEntry> {
    let entry = PeerEntry::parse(&request.peer)?;
    let added = entry.clone();
    state
        .ask_net(|reply| NetCommand::AddPeer(entry, reply))
        .await??;
    Ok(Json(added))
}

#[utoipa::path(delete, path = "/v1/peers/{key}", tag = "peers", summary = "Forget a peer.", params(("key" = String, Path, description = "A peer id or a ticket")), security(("token" = [])), responses((status = 200, description = "Done", body = serde_json::Value), (status = 400, description = "A value is missing or out of range", body = ErrorBody), (status = 401, description = "No token, or the wrong one", body = ErrorBody), (status = 413, description = "The body is over the limit", body = ErrorBody), (status = 403, description = "The Host is not a loopback name", body = ErrorBody), (status = 500, description = "The node failed", body = ErrorBody), (status = 503, description = "The node is shutting down", body = ErrorBody)))]
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
