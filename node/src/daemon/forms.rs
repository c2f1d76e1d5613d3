//! What a signed-in colleague does on the web page: sign in with a one-time link, publish an
//! experiment for the organisation (warned first of similar records), say "we're interested
//! too", follow a search, search the wider network and keep a result, and sign out. Every form
//! post is checked twice against another site's forgery ([`Posted`]): its `Origin` must be
//! this page's, and it carries the session's token. What is published goes through the local
//! API's publish path, so it is signed, admitted, stored and gossiped exactly as `convene
//! publish` would.

use std::net::SocketAddr;

use axum::extract::{
    ConnectInfo, Form, FromRequest, Query as UrlQuery, Request, State as AxumState,
};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use convene_protocol::{Address, Content, Experiment, NetworkId, NetworkPolicy, Status};
use maud::{Markup, html};
use serde::Deserialize;

use super::actor::Request as StoreRequest;
use super::page::{answered, html_response, problem, record_href};
use super::session::{Signed, WebState, same_origin, token_matches};
use crate::accounts::SESSION_SECS;
use crate::{Draft, PublishOutcome, SimilarCheck};

/// Similar records shown before publishing.
const SIMILAR_SHOWN: usize = 5;

fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The signed-in colleague a form post comes from, if it came from this page with their
/// session's token; otherwise the page that says why not.
async fn colleague(state: &WebState, headers: &HeaderMap, csrf: &str) -> Result<Signed, Response> {
    let signed = state.signed_in(headers).await;
    if !same_origin(headers) {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "That form was sent from another site, so it was not acted on.",
            signed.as_ref(),
        ));
    }
    let Some(signed) = signed else {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "You are not signed in (or your session ended). Sign in with the link your node's \
             operator gave you, then try again.",
            None,
        ));
    };
    if !token_matches(&signed, csrf) {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "That form is out of date (it came from an earlier session). Go back, reload the \
             page and send it again.",
            Some(&signed),
        ));
    }
    Ok(signed)
}

/// A form a signed-in colleague posted from this page: parsed, its origin and its session
/// token checked ([`colleague`]). Otherwise the handler never runs, and the page says why.
pub(crate) struct Posted<T> {
    signed: Signed,
    form: T,
}

/// A form that carries its session's token.
pub(crate) trait Tokened {
    fn csrf(&self) -> &str;
}

impl<T> FromRequest<WebState> for Posted<T>
where
    T: serde::de::DeserializeOwned + Tokened + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Response> {
        let headers = request.headers().clone();
        let Ok(Form(form)) = Form::<T>::from_request(request, state).await else {
            let signed = state.signed_in(&headers).await;
            return Err(problem(
                StatusCode::BAD_REQUEST,
                "That form was incomplete.",
                signed.as_ref(),
            ));
        };
        let signed = colleague(state, &headers, form.csrf()).await?;
        Ok(Posted { signed, form })
    }
}

macro_rules! tokened {
    ($($form:ty),*) => {
        $(impl Tokened for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })*
    };
}

tokened!(TokenForm, InterestForm, PublishForm, KeepForm, FollowForm);

#[derive(Deserialize)]
pub(crate) struct SignInParam {
    #[serde(default)]
    token: Option<String>,
}

/// The page a sign-in link opens: a button that signs in (a link alone never does, so a mail
/// scanner that follows it does not use it up).
pub(crate) async fn sign_in_page(
    AxumState(state): AxumState<WebState>,
    headers: HeaderMap,
    param: Result<UrlQuery<SignInParam>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let signed = state.signed_in(&headers).await;
    let token = param.ok().and_then(|UrlQuery(p)| p.token);
    let body = html! {
        h1 { "Sign in" }
        @if let Some(signed) = &signed {
            p { "You are signed in as " (signed.session.account) "." }
        }
        @match &token {
            Some(token) => {
                p { "This link signs you in to your organisation's directory on this browser. It works once." }
                form method="post" action="/sign-in" {
                    input type="hidden" name="token" value=(token);
                    button type="submit" { "Sign in" }
                }
            }
            None => {
                p {
                    "Colleagues sign in with a link from the person who runs your organisation's "
                    "Convene node. They make one with " code { "convene web user add \"Your Name\"" }
                    " (or " code { "convene web user link \"Your Name\"" } " for a new link)."
                }
                p { "Without signing in you can search every open record: " a href="/" { "search the directory" } "." }
            }
        }
    };
    // The token is in this page's address: the pages' `Referrer-Policy: same-origin` never
    // sends it on to another site (`no-referrer` would make the browser send `Origin: null`
    // with the form, which the origin check refuses).
    html_response(StatusCode::OK, "Sign in", body, signed.as_ref())
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    token: String,
}

pub(crate) async fn sign_in(
    AxumState(state): AxumState<WebState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return problem(
            StatusCode::FORBIDDEN,
            "That form was sent from another site, so it was not acted on.",
            None,
        );
    }
    let allowed = state
        .sign_ins
        .lock()
        .map(|mut limits| limits.take(client.ip()))
        .unwrap_or(false);
    if !allowed {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts in the last minute. Wait a minute, then try your link again.",
            None,
        );
    }
    let Ok(Form(form)) = form else {
        return problem(
            StatusCode::BAD_REQUEST,
            "That sign-in form was incomplete.",
            None,
        );
    };
    let answer = state
        .store
        .ask(|reply| StoreRequest::SignIn {
            token: form.token,
            reply,
        })
        .await;
    match answer {
        Ok(Ok(Some(new))) => {
            let mut response = see_other("/");
            response.headers_mut().insert(
                header::SET_COOKIE,
                state.session_cookie(&new.secret, SESSION_SECS),
            );
            tracing::info!(account = %new.session.account, "a colleague signed in to the web page");
            response
        }
        Ok(Ok(None)) => problem(
            StatusCode::BAD_REQUEST,
            "That sign-in link has been used, has expired or was replaced by a newer one. Ask \
             your node's operator for a new one.",
            None,
        ),
        Ok(Err(error)) => problem(StatusCode::SERVICE_UNAVAILABLE, &error.to_string(), None),
        Err(error) => problem(StatusCode::SERVICE_UNAVAILABLE, &error.to_string(), None),
    }
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn sign_out(
    AxumState(state): AxumState<WebState>,
    Posted { signed, .. }: Posted<TokenForm>,
) -> Response {
    let secret = signed.secret.clone();
    let _ = state
        .store
        .ask(|reply| StoreRequest::SignOut { secret, reply })
        .await;
    let mut response = see_other("/");
    response
        .headers_mut()
        .insert(header::SET_COOKIE, state.session_cookie("", 0));
    response
}

#[derive(Deserialize)]
pub(crate) struct InterestForm {
    #[serde(default)]
    csrf: String,
    address: String,
    #[serde(default)]
    note: String,
}

pub(crate) async fn interest(
    AxumState(state): AxumState<WebState>,
    Posted { signed, form }: Posted<InterestForm>,
) -> Response {
    let Ok(experiment) = form.address.parse::<Address>() else {
        return problem(
            StatusCode::BAD_REQUEST,
            "That is not the address of an experiment.",
            Some(&signed),
        );
    };
    let note = Some(form.note.trim().to_string()).filter(|n| !n.is_empty());
    let draft = Draft {
        slug: None,
        content: Content::Interest(convene_protocol::Interest {
            experiment: experiment.clone(),
            note,
        }),
    };
    if let Err(error) = draft.content.validate() {
        return problem(StatusCode::BAD_REQUEST, &error.to_string(), Some(&signed));
    }
    let request = crate::api::PublishRequest {
        draft,
        check: SimilarCheck::Skip,
    };
    match state.api.publish(request).await {
        Ok(_) => {
            tracing::info!(account = %signed.session.account, %experiment, "interest published from the web page");
            see_other(&format!("{}&done=interested", record_href(&experiment)))
        }
        Err(error) => problem(StatusCode::BAD_REQUEST, &error.to_string(), Some(&signed)),
    }
}

/// The publish form's fields, as sent and as shown again.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PublishForm {
    csrf: String,
    title: String,
    summary: String,
    status: String,
    description: String,
    sector: String,
    region: String,
    tags: String,
    network: String,
    /// Set by the "publish anyway" button, after the similar records were shown.
    confirm: String,
}

impl PublishForm {
    /// The experiment the form describes, or what is wrong with it, field by field.
    fn draft(&self) -> Result<Draft, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let text = |value: &str| Some(value.trim().to_string()).filter(|v| !v.is_empty());
        if self.title.trim().is_empty() {
            problems.push(("title", "Give the experiment a title.".to_string()));
        }
        if self.summary.trim().is_empty() {
            problems.push((
                "summary",
                "Say in a sentence or two what it is.".to_string(),
            ));
        }
        let status = match self.status.parse::<Status>() {
            Ok(status) => status,
            Err(_) => {
                problems.push(("status", "Choose a status from the list.".to_string()));
                Status::Idea
            }
        };
        let networks = match self.network.trim() {
            "" | "commons" => Vec::new(),
            text => match text.parse::<NetworkId>() {
                Ok(id) => vec![id],
                Err(_) => {
                    problems.push(("network", "Choose a network from the list.".to_string()));
                    Vec::new()
                }
            },
        };
        let content = Content::Experiment(Experiment {
            title: self.title.trim().to_string(),
            summary: self.summary.trim().to_string(),
            description: text(&self.description),
            status,
            tags: self
                .tags
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            sector: text(&self.sector),
            region: text(&self.region),
            networks,
            ..Experiment::default()
        });
        if problems.is_empty()
            && let Err(error) = content.validate()
        {
            let field = match &error {
                convene_protocol::RecordError::Invalid { field, .. } => field,
                _ => &"",
            };
            problems.push((field_of(field), error.to_string()));
        }
        if problems.is_empty() {
            Ok(Draft {
                slug: None,
                content,
            })
        } else {
            Err(problems)
        }
    }
}

/// The form field a record field is entered in.
fn field_of(field: &str) -> &'static str {
    match field {
        "title" => "title",
        "summary" => "summary",
        "description" => "description",
        "sector" => "sector",
        "region" => "region",
        "networks" => "network",
        f if f.starts_with("tag") => "tags",
        _ => "title",
    }
}

/// The networks a colleague may publish into from this node: the commons, open networks this
/// node joined, and members-only ones its organisation is a member of.
async fn publishable(state: &WebState) -> Vec<(String, String)> {
    let views = state
        .store
        .ask(|reply| StoreRequest::Networks { reply })
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let mut out = vec![(
        "commons".to_string(),
        "Everyone (the public commons)".to_string(),
    )];
    for view in views {
        let open = view.policy == Some(NetworkPolicy::Open);
        if (open && view.joined) || view.member {
            let name = view.name.unwrap_or_else(|| view.id.to_string());
            let label = if open {
                format!("{name} (open network)")
            } else {
                format!("{name} (members only)")
            };
            out.push((view.id.to_string(), label));
        }
    }
    out
}

pub(crate) async fn publish_page(
    AxumState(state): AxumState<WebState>,
    headers: HeaderMap,
) -> Response {
    let Some(signed) = state.signed_in(&headers).await else {
        return see_other("/sign-in");
    };
    let networks = publishable(&state).await;
    let form = PublishForm {
        status: "running".into(),
        ..PublishForm::default()
    };
    html_response(
        StatusCode::OK,
        "Publish an experiment",
        publish_body(&form, &signed, &networks, &[], &[]),
        Some(&signed),
    )
}

pub(crate) async fn publish(
    AxumState(state): AxumState<WebState>,
    Posted { signed, form }: Posted<PublishForm>,
) -> Response {
    let networks = publishable(&state).await;
    let again = |problems: &[(&'static str, String)], similar: &[(f32, crate::search::Hit)]| {
        let status = if problems.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        html_response(
            status,
            "Publish an experiment",
            publish_body(&form, &signed, &networks, problems, similar),
            Some(&signed),
        )
    };
    if !form.network.is_empty() && !networks.iter().any(|(id, _)| *id == form.network) {
        return again(
            &[(
                "network",
                "Your organisation cannot publish into that network from this node.".into(),
            )],
            &[],
        );
    }
    let draft = match form.draft() {
        Ok(draft) => draft,
        Err(problems) => return again(&problems, &[]),
    };
    let check = if form.confirm == "yes" {
        SimilarCheck::Skip
    } else {
        SimilarCheck::Ask {
            limit: SIMILAR_SHOWN,
        }
    };
    let request = crate::api::PublishRequest { draft, check };
    match state.api.publish(request).await {
        Ok(PublishOutcome::Published(published)) => {
            let address = published.record.address();
            tracing::info!(account = %signed.session.account, %address, "published from the web page");
            see_other(&format!("{}&done=published", record_href(&address)))
        }
        Ok(PublishOutcome::Similar(similar)) => again(&[], &similar),
        Ok(PublishOutcome::Retracted(address)) => again(
            &[(
                "title",
                format!(
                    "Your organisation published an experiment of this title before and \
                     retracted it ({address}). Give this one another title, or bring that one \
                     back with `convene publish` on the node."
                ),
            )],
            &[],
        ),
        Err(error) => again(&[("title", error.to_string())], &[]),
    }
}

fn publish_body(
    form: &PublishForm,
    signed: &Signed,
    networks: &[(String, String)],
    problems: &[(&str, String)],
    similar: &[(f32, crate::search::Hit)],
) -> Markup {
    let problem_of = |field: &str| {
        problems
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, message)| message.clone())
    };
    let field = |name: &'static str, label: &str, hint: &str, value: &str, long: bool| {
        let error = problem_of(name);
        let described = match (&error, hint.is_empty()) {
            (Some(_), _) => format!("{name}-error"),
            (None, false) => format!("{name}-hint"),
            (None, true) => String::new(),
        };
        html! {
            div {
                label for=(name) { (label) }
                @if !hint.is_empty() { p class="hint" id={(name) "-hint"} { (hint) } }
                @if let Some(error) = &error { p class="mark" id={(name) "-error"} { "Error: " (error) } }
                @if long {
                    textarea id=(name) name=(name) rows="5" aria-invalid=[error.as_ref().map(|_| "true")] aria-describedby=[(!described.is_empty()).then_some(&described)] { (value) }
                } @else {
                    input id=(name) name=(name) type="text" value=(value) aria-invalid=[error.as_ref().map(|_| "true")] aria-describedby=[(!described.is_empty()).then_some(&described)];
                }
            }
        }
    };
    html! {
        h1 { "Publish an experiment" }
        p { "It is published for your organisation, signed by its node, and reaches the nodes it federates with." }
        @if !problems.is_empty() {
            div class="notice" role="alert" {
                h2 { "Some things need fixing" }
                ul {
                    @for (name, message) in problems {
                        li { a href={"#" (name)} { (message) } }
                    }
                }
            }
        }
        @if !similar.is_empty() {
            div class="notice" role="alert" {
                h2 { "Similar work is already in the directory" }
                p { "Before publishing, look at these: you may want to contact them, or publish yours as an adaptation." }
                ul {
                    @for (score, hit) in similar {
                        li {
                            a href=(record_href(&hit.address)) { (hit.title) }
                            " — " (format!("{:.0}% similar", score * 100.0))
                            @if let Some(organisation) = &hit.organisation { " · " (organisation) }
                        }
                    }
                }
                p { "If yours is different, publish it anyway with the button at the end of the form." }
            }
        }
        form class="stack" method="post" action="/publish" {
            input type="hidden" name="csrf" value=(signed.session.csrf);
            (field("title", "Title", "", &form.title, false))
            (field("summary", "Summary", "One or two sentences: what you are trying and why.", &form.summary, true))
            div {
                label for="status" { "Status" }
                select id="status" name="status" {
                    @for status in Status::ALL {
                        option value=(status.as_str()) selected[form.status == status.as_str()] { (status.as_str()) }
                    }
                }
            }
            (field("description", "Description (optional)", "", &form.description, true))
            (field("tags", "Topics (optional)", "Separated by commas, e.g. digital inclusion, libraries.", &form.tags, false))
            (field("sector", "Sector (optional)", "", &form.sector, false))
            (field("region", "Region (optional)", "", &form.region, false))
            div {
                label for="network" { "Who may see it" }
                @if let Some(error) = problem_of("network") { p class="mark" id="network-error" { "Error: " (error) } }
                select id="network" name="network" {
                    @for (id, label) in networks {
                        option value=(id) selected[form.network == *id || (form.network.is_empty() && id == "commons")] { (label) }
                    }
                }
            }
            @if similar.is_empty() {
                button type="submit" { "Publish" }
            } @else {
                button type="submit" name="confirm" value="yes" { "Publish anyway" }
            }
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct WiderParam {
    #[serde(default)]
    q: String,
}

/// "Search the wider network": the query asked of every connected peer, for a signed-in
/// colleague (a visitor could otherwise spend this node's welcome with its peers). Every result
/// is verified; one not held here can be kept, through the admission step.
pub(crate) async fn wider(
    AxumState(state): AxumState<WebState>,
    headers: HeaderMap,
    param: Result<UrlQuery<WiderParam>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(signed) = state.signed_in(&headers).await else {
        return problem(
            StatusCode::FORBIDDEN,
            "Searching the wider network is for signed-in colleagues: it asks the nodes this \
             one is connected to. Sign in with the link your node's operator gave you.",
            None,
        );
    };
    let Ok(UrlQuery(param)) = param else {
        return problem(
            StatusCode::BAD_REQUEST,
            "That address is not one this page understands.",
            Some(&signed),
        );
    };
    let query = crate::wider::WiderQuery {
        text: param.q.clone(),
        kind: None,
        limit: 20,
        wait_ms: 0,
    };
    match state.api.wider(query).await {
        Ok(found) => html_response(
            StatusCode::OK,
            &format!("The wider network: {}", param.q),
            wider_body(&param.q, &found, &signed),
            Some(&signed),
        ),
        Err(error) => problem(StatusCode::BAD_REQUEST, &error.to_string(), Some(&signed)),
    }
}

fn wider_body(q: &str, found: &crate::wider::WiderSearch, signed: &Signed) -> Markup {
    use crate::wider::PeerOutcome;
    let answered = found
        .peers
        .iter()
        .filter(|p| matches!(p.outcome, PeerOutcome::Answered { .. }))
        .count();
    html! {
        h1 { "The wider network: “" (q) "”" }
        p {
            "Asked " (found.peers.len()) " connected node(s); " (answered) " answered. "
            "Every result below was checked against its author's signature."
        }
        @if found.results.is_empty() {
            p { "None of them holds anything on this that you may see." }
        } @else {
            ol {
                @for hit in &found.results {
                    li {
                        h2 { (hit.title) }
                        p class="meta" { (hit.trust.path) }
                        @if let Some(summary) = &hit.summary { p { (summary) } }
                        @if hit.held {
                            p { a href={"/record?" (serde_urlencoded::to_string([("address", &hit.address)]).unwrap_or_default())} { "Already in this directory" } }
                        } @else {
                            form method="post" action="/keep" {
                                input type="hidden" name="csrf" value=(signed.session.csrf);
                                input type="hidden" name="record" value=(hit.record);
                                button type="submit" aria-label={"Keep “" (hit.title) "” in this directory"} { "Keep it in this directory" }
                            }
                        }
                    }
                }
            }
        }
        h2 { "The nodes asked" }
        @if found.peers.is_empty() {
            p { "This node is connected to no other node just now." }
        } @else {
            ul {
                @for peer in &found.peers {
                    li {
                        (peer.organisation.as_deref().unwrap_or("A node"))
                        " (" code { (peer.peer.chars().take(16).collect::<String>()) "…" } "): "
                        @match &peer.outcome {
                            PeerOutcome::Answered { records, invalid } => {
                                (records) " result(s)"
                                @if *invalid > 0 { ", " (invalid) " that did not verify (dropped)" }
                            }
                            PeerOutcome::Refused { reason } => { "refused: " (reason) }
                            PeerOutcome::TimedOut => "did not answer in time",
                            PeerOutcome::Failed { reason } => { "failed: " (reason) }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct KeepForm {
    #[serde(default)]
    csrf: String,
    record: String,
}

/// Keeps a record a wider search found: verified again, then admitted like any import.
pub(crate) async fn keep(
    AxumState(state): AxumState<WebState>,
    Posted { signed, form }: Posted<KeepForm>,
) -> Response {
    use base64::Engine as _;
    let record = base64::engine::general_purpose::STANDARD
        .decode(form.record.trim())
        .ok()
        .and_then(|bytes| convene_protocol::Record::from_bytes(bytes, crate::now()).ok());
    let Some(record) = record else {
        return problem(
            StatusCode::BAD_REQUEST,
            "That is not a signed record, or its signature does not verify.",
            Some(&signed),
        );
    };
    let address = record.address();
    let answer = state
        .store
        .ask(|reply| StoreRequest::Admit {
            records: vec![record],
            source: crate::Source::Import,
            dry_run: false,
            reply,
        })
        .await;
    answered(
        answer,
        Some(&signed),
        |admitted| {
            Some(match admitted.first().map(|a| &a.outcome) {
                Some(crate::Outcome::Stored { .. } | crate::Outcome::Duplicate) => {
                    tracing::info!(account = %signed.session.account, %address, "kept from a wider search");
                    // As after an import: peers that lack it may sync it from here.
                    let _ = state.api.net.try_send(super::net::NetCommand::Announce);
                    see_other(&format!("{}&done=kept", record_href(&address)))
                }
                Some(outcome) => {
                    let why = match outcome {
                        crate::Outcome::Refused(reason) => {
                            format!("its admission policy refuses it ({reason})")
                        }
                        crate::Outcome::Elsewhere(why) => format!(
                            "it is in no network this node replicates ({why}); join the network first"
                        ),
                        crate::Outcome::Stale { .. } => {
                            "a newer version is already held".to_string()
                        }
                        _ => "it was not stored".to_string(),
                    };
                    problem(
                        StatusCode::CONFLICT,
                        &format!("This node did not keep it: {why}."),
                        Some(&signed),
                    )
                }
                None => problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Nothing was admitted.",
                    Some(&signed),
                ),
            })
        },
        "",
    )
}

#[derive(Deserialize)]
pub(crate) struct FollowForm {
    #[serde(default)]
    csrf: String,
    /// Follow: the search to follow.
    #[serde(default)]
    q: String,
    /// Unfollow: the watch's id.
    #[serde(default)]
    id: String,
}

/// Follows a search ("Follow this search"): from now on, what arrives and matches it is news
/// on the colleague's "Following" page.
pub(crate) async fn follow(
    AxumState(state): AxumState<WebState>,
    posted: Posted<FollowForm>,
) -> Response {
    change_watch(state, posted, true).await
}

pub(crate) async fn unfollow(
    AxumState(state): AxumState<WebState>,
    posted: Posted<FollowForm>,
) -> Response {
    change_watch(state, posted, false).await
}

async fn change_watch(
    state: WebState,
    Posted { signed, form }: Posted<FollowForm>,
    follow: bool,
) -> Response {
    let change = if follow {
        crate::watches::WatchChange::Add {
            text: form.q,
            kind: None,
        }
    } else {
        crate::watches::WatchChange::Remove { id: form.id }
    };
    let answer = state
        .store
        .ask(|reply| StoreRequest::ChangeWatch {
            watcher: crate::watches::Watcher::Account(signed.session.account.clone()),
            change,
            reply,
        })
        .await;
    answered(answer, Some(&signed), |_| Some(see_other("/following")), "")
}

/// The colleague's followed searches, each with what is new since they last looked.
pub(crate) async fn following(
    AxumState(state): AxumState<WebState>,
    headers: HeaderMap,
) -> Response {
    let Some(signed) = state.signed_in(&headers).await else {
        return see_other("/sign-in");
    };
    let answer = state
        .store
        .ask(|reply| StoreRequest::FollowingPage {
            account: signed.session.account.clone(),
            reply,
        })
        .await;
    answered(
        answer,
        Some(&signed),
        |page| {
            Some(html_response(
                StatusCode::OK,
                "Following",
                following_body(&page, &signed),
                Some(&signed),
            ))
        },
        "",
    )
}

fn following_body(page: &crate::pages::FollowingPage, signed: &Signed) -> Markup {
    html! {
        h1 { "Following" }
        @if page.news.is_empty() {
            p { "You follow no topics yet. Search for one, then press “Follow this search” to see here what arrives on it." }
        }
        @for news in &page.news {
            section aria-labelledby={"watch-" (news.watch.id)} {
                h2 id={"watch-" (news.watch.id)} { "“" (news.watch.text) "”" }
                @if news.found.is_empty() {
                    p { "Nothing new since you last looked." }
                } @else {
                    p { (news.found.len()) " new or changed since you last looked:" }
                    ul {
                        @for found in &news.found {
                            li {
                                a href=(record_href(&found.hit.address)) { (found.hit.title) }
                                span class="meta" { " — " (found.trust.path) }
                            }
                        }
                    }
                }
                @if news.truncated {
                    p class="meta" { "Much arrived since: only the latest arrivals were looked through." }
                }
                form class="inline" method="post" action="/unfollow" {
                    input type="hidden" name="csrf" value=(signed.session.csrf);
                    input type="hidden" name="id" value=(news.watch.id);
                    button type="submit" aria-label={"Stop following “" (news.watch.text) "”"} { "Stop following" }
                }
            }
        }
    }
}
