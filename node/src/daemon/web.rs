//! The web listener: what the node serves beyond its own machine's commands — the directory's
//! pages (`/`, `/record`, see [`super::page`]; signing in, publishing and "we're interested
//! too" for colleagues, see [`super::forms`]) and the open data (`/open/records.jsonl`, `.csv`,
//! `.jsonld`), readable by anyone who can reach it and by scripts on other sites (CORS for
//! GET). Only open records go into open data, never a members-only network's (see
//! [`crate::open_data`]). It listens where the operator says (`--web ADDR` or `[node] web`),
//! with the same connection limits as the local API.

use axum::Router;
use axum::extract::{DefaultBodyLimit, State as AxumState};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::mpsc;

use super::actor::Request as StoreRequest;
use super::forms;
pub(crate) use super::session::WebState;
use crate::limits::WEB_FORM_BYTES;
use crate::open_data::OpenData;

pub(crate) fn router(state: WebState) -> Router {
    let open = Router::new()
        .route("/open/records.jsonl", get(jsonl).options(preflight))
        .route("/open/records.csv", get(csv).options(preflight))
        .route("/open/records.jsonld", get(jsonld).options(preflight))
        .layer(axum::middleware::map_response(cors));
    let pages = Router::new()
        .route("/", get(super::page::search))
        .route("/record", get(super::page::record))
        .route("/people", get(super::page::people))
        .route("/organisation", get(super::page::organisation))
        .route("/network", get(super::page::network))
        .route("/sign-in", get(forms::sign_in_page).post(forms::sign_in))
        .route("/sign-out", axum::routing::post(forms::sign_out))
        .route("/publish", get(forms::publish_page).post(forms::publish))
        .route("/interest", axum::routing::post(forms::interest))
        .route("/wider", get(forms::wider))
        .route("/following", get(forms::following))
        .route("/follow", axum::routing::post(forms::follow))
        .route("/unfollow", axum::routing::post(forms::unfollow))
        .route("/keep", axum::routing::post(forms::keep))
        .layer(DefaultBodyLimit::max(WEB_FORM_BYTES))
        .layer(axum::middleware::map_response(page_headers));
    Router::new()
        .merge(open)
        .merge(pages)
        .fallback(not_found)
        .with_state(state)
}

/// Open data may be read by scripts on other sites: it is open, and nothing in it depends on
/// cookies or credentials. The pages get no such header.
async fn cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, OPTIONS"),
    );
    response
}

/// Every page: no scripts at all, no framing by another site, forms only to this page, no
/// copies kept by the browser or a proxy (a signed-in page shows more than an open one).
async fn page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn not_found(method: Method) -> Response {
    let status = if method == Method::GET || method == Method::HEAD {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::METHOD_NOT_ALLOWED
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Open data: /open/records.jsonl, /open/records.csv, /open/records.jsonld\n",
    )
        .into_response()
}

async fn jsonl(AxumState(state): AxumState<WebState>) -> Response {
    stream(state, "application/x-ndjson", |data, out| {
        data.write_jsonl(out)
    })
    .await
}

async fn csv(AxumState(state): AxumState<WebState>) -> Response {
    stream(state, "text/csv; charset=utf-8", |data, out| {
        data.write_csv(out)
    })
    .await
}

async fn jsonld(AxumState(state): AxumState<WebState>) -> Response {
    stream(state, "application/ld+json", |data, out| {
        data.write_jsonld(out)
    })
    .await
}

/// Streams one format from a snapshot of the store, written on a blocking thread.
async fn stream(
    state: WebState,
    content_type: &'static str,
    write: fn(&OpenData, &mut dyn std::io::Write) -> Result<u64, crate::NodeError>,
) -> Response {
    let licence = state.licence.clone();
    let snapshot = state
        .store
        .ask(|reply| StoreRequest::OpenData { licence, reply })
        .await;
    let data = match snapshot {
        Ok(Ok(data)) => data,
        Ok(Err(error)) => return unavailable(&error.to_string()),
        Err(error) => return unavailable(&error.to_string()),
    };
    let (chunks, receiver) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(16);
    tokio::task::spawn_blocking(move || {
        let mut writer = super::http::ChannelWriter::new(chunks);
        if let Err(error) = write(&data, &mut writer) {
            writer.fail(std::io::Error::other(error.to_string()));
        }
    });
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    (
        [(header::CONTENT_TYPE, content_type)],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

fn unavailable(reason: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("the store cannot be read now: {reason}\n"),
    )
        .into_response()
}
