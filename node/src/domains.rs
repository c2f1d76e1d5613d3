//! Checking domain proofs: fetching `https://DOMAIN/.well-known/convene.json` and checking it
//! against a key (see `convene_protocol::domain`). Blocking network I/O: call it from a command,
//! or from a blocking task of the daemon — never on an async loop or the store's thread.

use std::path::Path;
use std::time::Duration;

use convene_protocol::AuthorKey;
use convene_protocol::domain::{DomainProof, MAX_PROOF_BYTES, WELL_KNOWN_PATH};
use serde::{Deserialize, Serialize};

/// How long a successful check counts for; a node re-checks well before.
pub const CHECK_VALID_SECS: i64 = 30 * 24 * 3600;
/// How often a running node checks each domain again.
pub const RECHECK_SECS: i64 = 24 * 3600;
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The result of checking that a key is a domain's, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainCheck {
    pub domain: String,
    /// Unix seconds.
    pub at: i64,
    pub verified: bool,
    /// Why not, when not verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Fetches the proof `domain` serves. `ca_file`, if given, is a PEM file of the only
/// certificate authorities trusted (a private CA, or a test's); otherwise the public web roots.
pub fn fetch(domain: &str, ca_file: Option<&Path>) -> Result<DomainProof, String> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let certs = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
                _ => None,
            })
            .collect::<Vec<_>>();
        if certs.is_empty() {
            return Err(format!("{}: no certificate in it", path.display()));
        }
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls.build())
        .timeout_global(Some(FETCH_TIMEOUT))
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("https://{domain}{WELL_KNOWN_PATH}");
    let mut response = agent
        .get(&url)
        .call()
        .map_err(|e| format!("fetching {url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_PROOF_BYTES as u64)
        .read_to_vec()
        .map_err(|e| format!("reading {url}: {e}"))?;
    serde_json::from_slice(&body).map_err(|e| {
        format!(
            "{url} is not a Convene domain proof: {}",
            crate::limits::quote(&e.to_string())
        )
    })
}

/// Checks that `author` is `domain`'s, as of `now`.
pub fn check(author: &AuthorKey, domain: &str, ca_file: Option<&Path>, now: i64) -> DomainCheck {
    let outcome = fetch(domain, ca_file).and_then(|proof| {
        proof
            .check(author, domain)
            .map_err(|error| error.to_string())
    });
    DomainCheck {
        domain: domain.to_string(),
        at: now,
        verified: outcome.is_ok(),
        reason: outcome.err(),
    }
}
