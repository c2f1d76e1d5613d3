//! Who is signed in to the web page: the session cookie, the guard against cross-site
//! requests, and the limit on sign-in attempts. The accounts and sessions themselves live in
//! the store (`crate::accounts`); this module reads the browser's side of them.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderValue, header};

use super::actor::{Request as StoreRequest, StoreHandle};
use super::rate::{Bucket, Buckets};
use crate::accounts::Session;
use crate::limits::{WEB_SIGN_INS_PER_CLIENT_PER_MINUTE, WEB_SIGN_INS_PER_MINUTE};
use crate::pages::Viewer;

/// The session cookie's name. With the `__Host-` prefix when the cookie is Secure, so a
/// neighbouring subdomain cannot set or shadow it.
const COOKIE: &str = "convene_session";
const SECURE_COOKIE: &str = "__Host-convene_session";

/// What every route of the web listener shares.
#[derive(Clone, Debug)]
pub(crate) struct WebState {
    pub store: StoreHandle,
    /// The local API's state: publishing through it signs, stores and gossips as the CLI does.
    pub api: super::http::State,
    /// The licence open records are published under.
    pub licence: String,
    /// Whether the page is reached over HTTPS (`[node] web_url`): the cookie is then Secure.
    pub secure: bool,
    pub sign_ins: Arc<Mutex<SignInLimits>>,
}

/// How many sign-in attempts are left this minute, per client address and in all.
#[derive(Debug)]
pub(crate) struct SignInLimits {
    per_client: Buckets<IpAddr>,
    all: Bucket,
}

impl SignInLimits {
    pub(crate) fn new() -> SignInLimits {
        SignInLimits {
            per_client: Buckets::new(WEB_SIGN_INS_PER_CLIENT_PER_MINUTE),
            all: Bucket::new(WEB_SIGN_INS_PER_MINUTE),
        }
    }

    /// Takes an attempt for `client`, if it and the page have one left.
    pub(crate) fn take(&mut self, client: IpAddr) -> bool {
        self.per_client.take(&client) && self.all.take()
    }
}

/// A signed-in colleague: their session and the secret their browser holds.
#[derive(Clone, Debug)]
pub(crate) struct Signed {
    pub secret: String,
    pub session: Session,
}

impl WebState {
    fn cookie_name(&self) -> &'static str {
        if self.secure { SECURE_COOKIE } else { COOKIE }
    }

    /// The colleague signed in on this request's cookie, if any (an expired or unknown
    /// session, or a store that cannot answer, is nobody).
    pub(crate) async fn signed_in(&self, headers: &HeaderMap) -> Option<Signed> {
        let secret = cookie(headers, self.cookie_name())?;
        let answer = self
            .store
            .ask(|reply| StoreRequest::WebSession {
                secret: secret.clone(),
                reply,
            })
            .await;
        let session = answer.ok()?.ok()??;
        Some(Signed { secret, session })
    }

    /// The `Set-Cookie` value that keeps `secret` in the browser: not readable by scripts,
    /// never sent with another site's requests, Secure over HTTPS.
    pub(crate) fn session_cookie(&self, secret: &str, max_age: i64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let value = format!(
            "{}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
            self.cookie_name()
        );
        HeaderValue::from_str(&value).expect("hex secret and fixed text")
    }
}

/// Who `signed` makes the viewer of a page.
pub(crate) fn viewer(signed: Option<&Signed>) -> Viewer {
    if signed.is_some() {
        Viewer::Colleague
    } else {
        Viewer::Visitor
    }
}

/// The value of cookie `name` in the request, if it is there once and looks like a secret.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        for pair in value.to_str().ok()?.split(';') {
            if let Some((key, value)) = pair.trim().split_once('=')
                && key == name
            {
                if found.is_some() {
                    return None;
                }
                found = Some(value.to_string());
            }
        }
    }
    found.filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether a form post comes from this page: its `Origin` (browsers send one with every POST)
/// names the host the request was sent to. A post without an Origin is let through to the
/// session's token check, which every form carries.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin = origin.to_str().ok().and_then(|o| o.split_once("://"));
    match (origin, host) {
        (Some((_, origin_host)), Some(host)) => origin_host.eq_ignore_ascii_case(host),
        _ => false,
    }
}

/// Whether a form's token is the session's.
pub(crate) fn token_matches(signed: &Signed, token: &str) -> bool {
    crate::accounts::same_secret(&signed.session.csrf, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn the_session_cookie_is_read_only_when_it_is_there_once() {
        let secret = "ab".repeat(32);
        let one = headers(&[("cookie", &format!("theme=dark; convene_session={secret}"))]);
        assert_eq!(cookie(&one, COOKIE), Some(secret.clone()));
        let twice = headers(&[(
            "cookie",
            &format!("convene_session={secret}; convene_session={secret}"),
        )]);
        assert_eq!(cookie(&twice, COOKIE), None);
        let short = headers(&[("cookie", "convene_session=abc")]);
        assert_eq!(cookie(&short, COOKIE), None);
    }

    #[test]
    fn a_post_from_another_site_is_not_same_origin() {
        let ours = headers(&[
            ("host", "127.0.0.1:4719"),
            ("origin", "http://127.0.0.1:4719"),
        ]);
        assert!(same_origin(&ours));
        let theirs = headers(&[
            ("host", "127.0.0.1:4719"),
            ("origin", "https://evil.example"),
        ]);
        assert!(!same_origin(&theirs));
        let opaque = headers(&[("host", "127.0.0.1:4719"), ("origin", "null")]);
        assert!(!same_origin(&opaque));
    }
}
