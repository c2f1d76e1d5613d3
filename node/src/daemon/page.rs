//! The directory as web pages, for colleagues who will never open a terminal: a search page
//! with facet filters and counts, and a page per record. Server-rendered HTML (maud escapes
//! every value), no JavaScript, one small stylesheet inline; built to WCAG 2.2 AA habits — a
//! language, a skip link, landmarks, one `h1` per page, labelled form fields, visible focus,
//! text contrast above 7:1, nothing conveyed by colour alone, and a layout that reflows on a
//! phone. Visitors are not signed in: they see open records only (see [`crate::pages`]).

use axum::extract::{Query as UrlQuery, State as AxumState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::actor::{ActorError, Request as StoreRequest};
use super::session::{Signed, WebState, viewer};
use crate::pages::{NetworkPage, OrganisationPage, PageQuery, PeoplePage, RecordPage, SearchPage};
use crate::search::Facet;

const STYLE: &str = "
body{font-family:system-ui,sans-serif;line-height:1.5;margin:0;color:#111;background:#fff}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
header,main,footer{max-width:60rem;margin:0 auto;padding:1rem}
header{border-bottom:2px solid #111;display:flex;flex-wrap:wrap;gap:1rem;justify-content:space-between;align-items:center}
header a.home{color:#111;font-weight:bold;text-decoration:none}
header nav ul{display:flex;flex-wrap:wrap;gap:1rem;list-style:none;margin:0;padding:0;align-items:center}
a{color:#0b3d91}a:focus,input:focus,select:focus,textarea:focus,button:focus{outline:3px solid #b35900;outline-offset:2px}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}label{display:block;font-weight:bold}
form.stack{display:block}form.stack div{margin-bottom:1rem}form.inline{display:inline}
input,select,textarea,button{font-size:1rem;font-family:inherit;padding:.4rem}button{cursor:pointer}
textarea,form.stack input,form.stack select{width:100%;max-width:40rem;box-sizing:border-box}
.hint{color:#333;font-weight:normal}
.layout{display:flex;flex-wrap:wrap;gap:2rem}.facets{flex:1 1 14rem}.results{flex:3 1 24rem}
.facets ul,.results ol{padding-left:1.2rem}.meta{color:#333}.mark{font-weight:bold}
.notice{border:2px solid #111;padding:.5rem 1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:bold}
";

/// What a page handler got from the store actor.
pub(crate) type Answer<T> = Result<Result<T, crate::NodeError>, ActorError>;

/// The page for an answer: `page` for a value, the matching error page otherwise (a value
/// `page` cannot show becomes `missing`'s "not found").
pub(crate) fn answered<T>(
    answer: Answer<T>,
    signed: Option<&Signed>,
    page: impl FnOnce(T) -> Option<Response>,
    missing: &str,
) -> Response {
    match answer {
        Ok(Ok(value)) => {
            page(value).unwrap_or_else(|| problem(StatusCode::NOT_FOUND, missing, signed))
        }
        Ok(Err(crate::NodeError::Invalid(reason))) => problem(
            StatusCode::BAD_REQUEST,
            &format!("That could not be done: {reason}."),
            signed,
        ),
        Ok(Err(error)) => problem(StatusCode::SERVICE_UNAVAILABLE, &error.to_string(), signed),
        Err(error) => problem(StatusCode::SERVICE_UNAVAILABLE, &error.to_string(), signed),
    }
}

/// What a page's address asks for, parsed from its query string.
pub(crate) trait PageParam: serde::de::DeserializeOwned {
    type Value;
    /// What the page says when the address does not parse.
    const WRONG: &'static str;
    fn value(self) -> Option<Self::Value>;
}

/// A page request: who is looking (signed in or not) and what the address asks for. One that
/// does not parse never reaches the handler: the page says [`PageParam::WRONG`].
pub(crate) struct Viewing<P: PageParam> {
    signed: Option<Signed>,
    value: P::Value,
}

impl<P: PageParam + Send> axum::extract::FromRequestParts<WebState> for Viewing<P> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &WebState,
    ) -> Result<Self, Response> {
        let signed = state.signed_in(&parts.headers).await;
        let value = UrlQuery::<P>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|UrlQuery(param)| param.value());
        match value {
            Some(value) => Ok(Viewing { signed, value }),
            None => Err(problem(StatusCode::BAD_REQUEST, P::WRONG, signed.as_ref())),
        }
    }
}

impl PageParam for PageQuery {
    type Value = PageQuery;
    const WRONG: &'static str = "That search address is not one this page understands.";
    fn value(self) -> Option<PageQuery> {
        Some(self)
    }
}

pub(crate) async fn search(
    AxumState(state): AxumState<WebState>,
    Viewing {
        signed,
        value: query,
    }: Viewing<PageQuery>,
) -> Response {
    let signed = signed.as_ref();
    let answer = state
        .store
        .ask(|reply| StoreRequest::SearchPage {
            query: query.clone(),
            viewer: viewer(signed),
            reply,
        })
        .await;
    answered(
        answer,
        signed,
        |page| {
            Some(html_response(
                StatusCode::OK,
                &search_title(&page),
                search_body(&page, signed),
                signed,
            ))
        },
        "",
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct RecordParam {
    address: String,
    /// A word to show above the record (after a form sent here): `interested`, `published`.
    #[serde(default)]
    done: Option<String>,
}

impl PageParam for RecordParam {
    type Value = (convene_protocol::Address, Option<String>);
    const WRONG: &'static str = "That is not the address of a record.";
    fn value(self) -> Option<Self::Value> {
        Some((self.address.parse().ok()?, self.done))
    }
}

pub(crate) async fn record(
    AxumState(state): AxumState<WebState>,
    Viewing {
        signed,
        value: (address, done),
    }: Viewing<RecordParam>,
) -> Response {
    let signed = signed.as_ref();
    let answer = state
        .store
        .ask(|reply| StoreRequest::RecordPage {
            address,
            viewer: viewer(signed),
            reply,
        })
        .await;
    answered(
        answer,
        signed,
        |page| {
            let page = page?;
            let title = page.content.title().to_string();
            Some(html_response(
                StatusCode::OK,
                &title,
                record_body(&page, done.as_deref(), signed),
                signed,
            ))
        },
        if signed.is_some() {
            "No record is held at that address."
        } else {
            "No record is published at that address for visitors to this page."
        },
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct PeopleParam {
    #[serde(default)]
    topic: String,
}

impl PageParam for PeopleParam {
    type Value = String;
    const WRONG: &'static str = "That address is not one this page understands.";
    fn value(self) -> Option<String> {
        Some(self.topic)
    }
}

pub(crate) async fn people(
    AxumState(state): AxumState<WebState>,
    Viewing {
        signed,
        value: topic,
    }: Viewing<PeopleParam>,
) -> Response {
    let signed = signed.as_ref();
    let answer = state
        .store
        .ask(|reply| StoreRequest::PeoplePage {
            topic,
            viewer: viewer(signed),
            reply,
        })
        .await;
    answered(
        answer,
        signed,
        |page| {
            let title = if page.topic.trim().is_empty() {
                "People to learn from".to_string()
            } else {
                format!("People to learn from: {}", page.topic)
            };
            Some(html_response(
                StatusCode::OK,
                &title,
                people_body(&page),
                signed,
            ))
        },
        "",
    )
}

fn people_body(page: &PeoplePage) -> Markup {
    use crate::Reason;
    html! {
        h1 { "People to learn from" }
        form role="search" method="get" action="/people" {
            div {
                label for="topic" { "A topic" }
                input id="topic" name="topic" type="search" value=(page.topic);
            }
            button type="submit" { "Find people" }
        }
        @if page.topic.trim().is_empty() {
            p { "Name a topic — “digital inclusion”, “drones”, “warm spaces” — to find the people who know it, ran a pilot on it or wrote down what they learned." }
        } @else if page.people.is_empty() {
            p {
                "No one has published on this yet — be the first, or "
                a href=(href(&PageQuery { q: Some(page.topic.clone()), ..PageQuery::default() })) { "search the records" }
                " or the wider network (" code { "convene people --wider" } ")."
            }
        } @else {
            ol {
                @for person in &page.people {
                    li {
                        h2 { a href=(record_href(&person.address)) { (person.practitioner.name) } }
                        p class="meta" {
                            @if let Some(role) = &person.practitioner.role { (role) " · " }
                            (person.trust.path)
                        }
                        ul {
                            @for reason in &person.reasons {
                                li {
                                    @match reason {
                                        Reason::Ran { title, address } => { "Ran " a href=(record_href(address)) { (title) } }
                                        Reason::Wrote { title, address } => { "Wrote " a href=(record_href(address)) { (title) } }
                                        other => { (other.to_string()) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct OrganisationParam {
    key: String,
}

impl PageParam for OrganisationParam {
    type Value = convene_protocol::AuthorKey;
    const WRONG: &'static str = "That is not an organisation's key.";
    fn value(self) -> Option<Self::Value> {
        convene_protocol::AuthorKey::from_base32(self.key.trim().trim_start_matches("convene://"))
    }
}

pub(crate) async fn organisation(
    AxumState(state): AxumState<WebState>,
    Viewing { signed, value: key }: Viewing<OrganisationParam>,
) -> Response {
    let signed = signed.as_ref();
    let answer = state
        .store
        .ask(|reply| StoreRequest::OrganisationPage {
            key,
            viewer: viewer(signed),
            reply,
        })
        .await;
    answered(
        answer,
        signed,
        |page| {
            let title = page
                .trust
                .name
                .clone()
                .unwrap_or_else(|| "An organisation".into());
            Some(html_response(
                StatusCode::OK,
                &title,
                organisation_body(&page),
                signed,
            ))
        },
        "",
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct NetworkParam {
    id: String,
}

impl PageParam for NetworkParam {
    type Value = convene_protocol::NetworkId;
    const WRONG: &'static str = "That is not a network's address.";
    fn value(self) -> Option<Self::Value> {
        self.id.parse().ok()
    }
}

pub(crate) async fn network(
    AxumState(state): AxumState<WebState>,
    Viewing { signed, value: id }: Viewing<NetworkParam>,
) -> Response {
    let signed = signed.as_ref();
    let answer = state
        .store
        .ask(|reply| StoreRequest::NetworkPage {
            id,
            viewer: viewer(signed),
            reply,
        })
        .await;
    answered(
        answer,
        signed,
        |page| {
            let page = page?;
            let title = page.name.clone();
            Some(html_response(
                StatusCode::OK,
                &title,
                network_body(&page),
                signed,
            ))
        },
        "No network you may see is known at that address to this node.",
    )
}

fn network_body(page: &NetworkPage) -> Markup {
    html! {
        h1 { (page.name) }
        @if let Some(purpose) = &page.purpose { p { (purpose) } }
        h2 { "Convened by" }
        ul {
            @for (name, key) in &page.convenors {
                li { a href=(organisation_href(key)) { (name) } }
            }
        }
        h2 { "Members" }
        @if page.members.is_empty() {
            p { "An open network: any organisation may publish into it." }
        } @else {
            ul {
                @for (name, key) in &page.members {
                    li { a href=(organisation_href(key)) { (name) } }
                }
            }
        }
        @if !page.featured.is_empty() {
            h2 { "Featured work" }
            ul {
                @for (address, title) in &page.featured {
                    li { a href=(record_href(address)) { (title) } }
                }
            }
        }
        (digest_section(&page.digest))
        h2 { "Published in it" }
        @if page.records.is_empty() {
            p { "Nothing published in it yet, as far as this node knows." }
        } @else {
            ul {
                @for hit in &page.records {
                    li { a href=(record_href(&hit.address)) { (hit.title) } " — " (kind_label(hit.kind)) }
                }
            }
        }
        p class="meta" { "Address: " code { (page.id) } }
    }
}

/// A network's news: what started, finished or was learned, and who joined, recently.
fn digest_section(digest: &crate::digest::Digest) -> Markup {
    let groups = [
        ("Started", &digest.started),
        ("Finished", &digest.finished),
        ("Other news", &digest.other),
        ("Lessons learned", &digest.lessons),
        ("People", &digest.people),
    ];
    html! {
        h2 { "Since " (digest.since) }
        @if groups.iter().all(|(_, items)| items.is_empty()) {
            p { "Nothing new in the last " (crate::pages::DIGEST_DAYS) " days." }
        }
        @for (heading, items) in groups {
            @if !items.is_empty() {
                h3 { (heading) }
                ul {
                    @for item in items {
                        li {
                            a href=(record_href(&item.address)) { (item.title) }
                            @if let Some(organisation) = &item.organisation { " — " (organisation) }
                            span class="meta" { " · " (item.day) }
                        }
                    }
                }
            }
        }
    }
}

/// The organisation a record's author publishes for: the one that delegated to it, else itself.
fn publisher(trust: &crate::trust::Trust) -> convene_protocol::AuthorKey {
    match &trust.basis {
        crate::trust::Basis::Delegated { by, .. } => *by,
        _ => trust.author,
    }
}

fn organisation_href(key: &convene_protocol::AuthorKey) -> String {
    format!("/organisation?key={key}")
}

fn organisation_body(page: &OrganisationPage) -> Markup {
    html! {
        h1 { (page.trust.name.as_deref().unwrap_or("An organisation without a profile")) }
        dl {
            dt { "How this node knows it" }
            dd { (page.trust.path) }
            @if let Some(profile) = &page.profile {
                @if let Some(kind) = &profile.org_type { dt { "Type" } dd { (kind) } }
                @if let Some(region) = &profile.region { dt { "Region" } dd { (region) } }
                @if let Some(about) = &profile.description { dt { "About" } dd { (about) } }
                @if let Some(website) = &profile.website { dt { "Website" } dd { (website) } }
            }
        }
        h2 { "Published by it" }
        @if page.records.is_empty() {
            p { "Nothing open to visitors yet." }
        } @else {
            ul {
                @for hit in &page.records {
                    li {
                        a href=(record_href(&hit.address)) { (hit.title) }
                        " — " (kind_label(hit.kind))
                    }
                }
            }
        }
        p class="meta" { "Key: " code { (page.key) } }
    }
}

pub(crate) fn html_response(
    status: StatusCode,
    title: &str,
    body: Markup,
    signed: Option<&Signed>,
) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        layout(title, body, signed).into_string(),
    )
        .into_response()
}

pub(crate) fn problem(status: StatusCode, message: &str, signed: Option<&Signed>) -> Response {
    html_response(
        status,
        "Something went wrong",
        html! {
            h1 { "Something went wrong" }
            p { (message) }
            p { a href="/" { "Back to the search" } }
        },
        signed,
    )
}

fn layout(title: &str, body: Markup, signed: Option<&Signed>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Convene directory" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                a class="skip" href="#main" { "Skip to the content" }
                header {
                    a class="home" href="/" { "Convene directory" }
                    nav aria-label="Your account" {
                        ul {
                            li { a href="/people" { "People to learn from" } }
                            @if let Some(signed) = signed {
                                li { "Signed in as " (signed.session.account) }
                                li { a href="/publish" { "Publish an experiment" } }
                                li { a href="/following" { "Following" } }
                                li {
                                    form class="inline" method="post" action="/sign-out" {
                                        input type="hidden" name="csrf" value=(signed.session.csrf);
                                        button type="submit" { "Sign out" }
                                    }
                                }
                            } @else {
                                li { a href="/sign-in" { "Sign in" } }
                            }
                        }
                    }
                }
                main id="main" { (body) }
                footer {
                    p class="meta" {
                        @if signed.is_some() {
                            "Records from this node, the organisations it federates with and the "
                            "members-only networks your organisation belongs to. "
                        } @else {
                            "Open records from this node and the organisations it federates with. "
                        }
                        "Open data: " a href="/open/records.jsonl" { "JSON Lines" } ", "
                        a href="/open/records.csv" { "CSV" } ", "
                        a href="/open/records.jsonld" { "JSON-LD" } "."
                    }
                }
            }
        }
    }
}

fn href(query: &PageQuery) -> String {
    let pairs: Vec<(&str, &str)> = query
        .q
        .as_deref()
        .filter(|q| !q.is_empty())
        .map(|q| ("q", q))
        .into_iter()
        .chain(query.filters())
        .collect();
    if pairs.is_empty() {
        return "/".into();
    }
    format!(
        "/?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}

pub(crate) fn record_href(address: &convene_protocol::Address) -> String {
    format!(
        "/record?{}",
        serde_urlencoded::to_string([("address", address.to_string())]).unwrap_or_default()
    )
}

fn search_title(page: &SearchPage) -> String {
    match page.query.q.as_deref().filter(|q| !q.is_empty()) {
        Some(q) => format!("Search: {q}"),
        None => "Search the directory".into(),
    }
}

fn search_body(page: &SearchPage, signed: Option<&Signed>) -> Markup {
    let query = &page.query;
    let filters = query.filters();
    html! {
        h1 { "Search the directory" }
        form role="search" method="get" action="/" {
            div {
                label for="q" { "Words to look for" }
                input id="q" name="q" type="search" value=(query.q.as_deref().unwrap_or(""));
            }
            div {
                label for="kind" { "Kind" }
                select id="kind" name="kind" {
                    @for (value, label) in [("", "Everything"), ("experiment", "Experiments"), ("practitioner", "People"), ("lesson", "Lessons")] {
                        option value=(value) selected[query.kind.as_deref().unwrap_or("") == value] { (label) }
                    }
                }
            }
            @for (field, value) in &filters {
                @if *field != "kind" {
                    input type="hidden" name=(field) value=(value);
                }
            }
            button type="submit" { "Search" }
        }
        @if !filters.is_empty() {
            section aria-labelledby="active" {
                h2 id="active" { "Filters in use" }
                ul {
                    @for (field, value) in &filters {
                        li { (field) ": " (value) " — " a href=(href(&query.with(field, None))) { "remove the filter " (field) " " (value) } }
                    }
                }
            }
        }
        @if let Some(q) = query.q.as_deref().filter(|q| !q.trim().is_empty()) {
            p {
                a href={"/people?" (serde_urlencoded::to_string([("topic", q)]).unwrap_or_default())} { "People to learn from about “" (q) "”" }
                @if signed.is_some() {
                    " · " a href={"/wider?" (serde_urlencoded::to_string([("q", q)]).unwrap_or_default())} { "Search the wider network for “" (q) "”" }
                }
            }
            @if let Some(signed) = signed {
                form method="post" action="/follow" {
                    input type="hidden" name="csrf" value=(signed.session.csrf);
                    input type="hidden" name="q" value=(q);
                    button type="submit" { "Follow this search" }
                }
            }
        }
        div class="layout" {
            nav class="facets" aria-label="Narrow the results" {
                h2 { "Narrow the results" }
                @for facet in &page.facets {
                    (facet_list(query, facet))
                }
            }
            section class="results" aria-labelledby="results" {
                h2 id="results" {
                    @match page.results.len() {
                        0 => "No results",
                        1 => "1 result",
                        n => { (n) " results" }
                    }
                }
                @if page.results.is_empty() {
                    p {
                        "No one has published on this yet — be the first ("
                        @if signed.is_some() {
                            a href="/publish" { "publish an experiment" }
                        } @else {
                            "publish it from your organisation's node"
                        }
                        "), or search the wider network"
                        @if signed.is_some() { " with the link above." } @else { " (" code { "convene search --wider" } ")." }
                    }
                } @else {
                    ol {
                        @for hit in &page.results {
                            li {
                                h3 { a href=(record_href(&hit.found.hit.address)) { (hit.found.hit.title) } }
                                p class="meta" {
                                    (kind_label(hit.found.hit.kind))
                                    @if let Some(status) = &hit.found.hit.status { " · " (status) }
                                    " · " (hit.found.trust.path)
                                }
                                @if !hit.found.featured.is_empty() {
                                    p class="mark" { "Featured by " (hit.found.featured.join(", ")) }
                                }
                                @if hit.stale {
                                    p class="mark" { "Not reviewed since its review date passed" }
                                }
                                p { (hit.found.hit.snippet.text) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn facet_list(query: &PageQuery, facet: &Facet) -> Markup {
    let field = match facet.field.as_str() {
        "kind" => "kind",
        "status" => "status",
        "sector" => "sector",
        "region" => "region",
        "organisation" => "organisation",
        "tags" | "tag" => "tag",
        _ => return html! {},
    };
    if facet.values.is_empty() {
        return html! {};
    }
    html! {
        h3 { (facet_title(field)) }
        ul {
            @for (value, count) in &facet.values {
                li {
                    a href=(href(&query.with(field, Some(value)))) { (value) }
                    " (" (count) ")"
                }
            }
        }
    }
}

fn facet_title(field: &str) -> &'static str {
    match field {
        "kind" => "Kind",
        "status" => "Status",
        "sector" => "Sector",
        "region" => "Region",
        "organisation" => "Organisation",
        _ => "Topic",
    }
}

fn kind_label(kind: convene_protocol::Kind) -> &'static str {
    match kind {
        convene_protocol::Kind::Experiment => "Experiment",
        convene_protocol::Kind::Practitioner => "Person",
        convene_protocol::Kind::Lesson => "Lesson",
        convene_protocol::Kind::Organisation => "Organisation",
        _ => "Record",
    }
}

fn record_body(page: &RecordPage, done: Option<&str>, signed: Option<&Signed>) -> Markup {
    use convene_protocol::Content;
    let mut fields: Vec<(&str, String)> = Vec::new();
    fn text(fields: &mut Vec<(&'static str, String)>, label: &'static str, value: Option<&String>) {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            fields.push((label, value.clone()));
        }
    }
    match &page.content {
        Content::Experiment(e) => {
            fields.push(("Status", e.status.as_str().to_string()));
            text(&mut fields, "Summary", Some(&e.summary));
            text(&mut fields, "Description", e.description.as_ref());
            text(&mut fields, "Outcomes", e.outcomes.as_ref());
            text(&mut fields, "Sector", e.sector.as_ref());
            text(&mut fields, "Region", e.region.as_ref());
            if !e.tags.is_empty() {
                fields.push(("Topics", e.tags.join(", ")));
            }
        }
        Content::Practitioner(p) => {
            text(&mut fields, "Role", p.role.as_ref());
            text(&mut fields, "About", p.bio.as_ref());
            if !p.expertise.is_empty() {
                fields.push(("Can help with", p.expertise.join(", ")));
            }
            if !p.interests.is_empty() {
                fields.push(("Wants to learn", p.interests.join(", ")));
            }
            text(&mut fields, "Region", p.region.as_ref());
            let reach = match (&p.contact, p.contact_visibility) {
                (Some(contact), _) => contact.clone(),
                (None, Some(convene_protocol::ContactVisibility::Networks)) => {
                    "shown only to members of the networks they publish in".into()
                }
                _ => "through their organisation".into(),
            };
            fields.push(("How to reach them", reach));
        }
        Content::Lesson(l) => {
            text(&mut fields, "Summary", Some(&l.summary));
            text(&mut fields, "What worked", l.worked.as_ref());
            text(&mut fields, "What did not", l.didnt_work.as_ref());
            text(&mut fields, "Recommendation", l.recommendation.as_ref());
            text(&mut fields, "More", l.body.as_ref());
            if !l.tags.is_empty() {
                fields.push(("Topics", l.tags.join(", ")));
            }
        }
        Content::Organisation(o) => {
            text(&mut fields, "About", o.description.as_ref());
            text(&mut fields, "Region", o.region.as_ref());
            text(&mut fields, "Website", o.website.as_ref());
        }
        _ => {}
    }
    html! {
        @match done {
            Some("published") => p class="notice" role="status" { "Published for your organisation. It is on its way to the nodes you federate with." },
            Some("interested") => p class="notice" role="status" { "Your organisation now says it is interested in this too." },
            Some("kept") => p class="notice" role="status" { "Kept in this directory: it was checked and admitted like any record from a peer." },
            _ => {}
        }
        h1 { (page.content.title()) }
        p class="meta" { (kind_label(page.content.kind())) " · updated " (page.updated) }
        @if !page.featured.is_empty() {
            p class="mark" { "Featured by " (page.featured.join(", ")) }
        }
        @if page.stale {
            p class="mark" { "Not reviewed since its review date passed" }
        }
        dl {
            dt { "Published by" }
            dd {
                (page.trust.path) " — "
                a href=(organisation_href(&publisher(&page.trust))) { "more from this publisher" }
            }
            @for (label, value) in &fields {
                dt { (label) }
                dd { (value) }
            }
        }
        @if !page.links.is_empty() {
            h2 { "Linked records" }
            ul {
                @for (field, address, title) in &page.links {
                    li { (link_label(field)) ": " a href=(record_href(address)) { (title) } }
                }
            }
        }
        @if !page.lessons.is_empty() {
            h2 { "Lessons learned from it" }
            ul {
                @for lesson in &page.lessons {
                    li { a href=(record_href(&lesson.address)) { (lesson.title) } }
                }
            }
        }
        @if !page.ran.is_empty() {
            h2 { "Experiments they ran" }
            ul {
                @for hit in &page.ran {
                    li { a href=(record_href(&hit.address)) { (hit.title) } @if let Some(status) = &hit.status { span class="meta" { " · " (status) } } }
                }
            }
        }
        @if !page.wrote.is_empty() {
            h2 { "Lessons they wrote" }
            ul {
                @for hit in &page.wrote {
                    li { a href=(record_href(&hit.address)) { (hit.title) } }
                }
            }
        }
        @if !page.interested.is_empty() {
            h2 { "Also interested (" (page.interested.len()) ")" }
            ul {
                @for each in &page.interested {
                    li {
                        a href=(organisation_href(&each.organisation)) { (each.name.as_deref().unwrap_or("An organisation")) }
                        @if let Some(note) = &each.note { " — “" (note) "”" }
                        span class="meta" { " · since " (each.day) }
                    }
                }
            }
        }
        @if !page.similar.is_empty() {
            h2 { "Similar work elsewhere" }
            ul {
                @for (score, hit) in &page.similar {
                    li {
                        a href=(record_href(&hit.address)) { (hit.title) }
                        @if let Some(organisation) = &hit.organisation { " — " (organisation) }
                        span class="meta" { " · " (format!("{:.0}% similar", score * 100.0)) }
                    }
                }
            }
        }
        @if !page.adopted_by.is_empty() {
            h2 { "Adopted by" }
            ul {
                @for adopted in &page.adopted_by {
                    li { a href=(record_href(&adopted.address)) { (adopted.title) } }
                }
            }
        }
        @if let (Some(signed), convene_protocol::Kind::Experiment) = (signed, page.content.kind()) {
            section aria-labelledby="interest" {
                h2 id="interest" { "Trying this too?" }
                form class="stack" method="post" action="/interest" {
                    input type="hidden" name="csrf" value=(signed.session.csrf);
                    input type="hidden" name="address" value=(page.address);
                    div {
                        label for="note" { "A note for the others (optional)" span class="hint" { " — e.g. “piloting in 2026”" } }
                        input id="note" name="note" type="text" maxlength="500";
                    }
                    button type="submit" { "We're interested too" }
                }
            }
        }
        p class="meta" { "Address: " code { (page.address) } }
    }
}

fn link_label(field: &str) -> &'static str {
    match field {
        "contacts" => "Contact",
        "about" => "About the experiment",
        "adopted_from" => "Adopted from",
        _ => "Linked",
    }
}
