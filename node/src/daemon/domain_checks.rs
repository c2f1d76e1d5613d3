//! The running node checks the domains that organisation profiles name: once soon after start,
//! then every hour for those not checked for a day (`domains::RECHECK_SECS`), a few seconds
//! after a profile arrives (one that names a domain never checked is due at once), and at once
//! when `convene org check` asks. The fetches run on blocking threads; the results go to the store
//! actor like any other write.

use std::path::PathBuf;
use std::time::Duration;

use convene_protocol::AuthorKey;

use super::actor::{ActorError, Request, StoreHandle};
use crate::NodeError;
use crate::domains::{self, DomainCheck};

/// How often the node looks for domains due for a check.
const EVERY: Duration = Duration::from_secs(3_600);
/// The first look, after start; and the wait after a profile arrives (others may follow).
const FIRST: Duration = Duration::from_secs(5);

/// Checks every domain due (not checked for `recheck_secs`; 0: all) and records the results.
pub(crate) async fn check_due(
    store: &StoreHandle,
    ca_file: Option<PathBuf>,
    recheck_secs: i64,
) -> Result<Vec<(AuthorKey, DomainCheck)>, NodeError> {
    let failed = |error: ActorError| NodeError::Api(error.to_string());
    let due = store
        .ask(|reply| Request::DomainsDue {
            recheck_secs,
            reply,
        })
        .await
        .map_err(failed)??;
    let mut done = Vec::with_capacity(due.len());
    for (author, domain) in due {
        let ca = ca_file.clone();
        let check = tokio::task::spawn_blocking(move || {
            domains::check(&author, &domain, ca.as_deref(), crate::now())
        })
        .await
        .map_err(|e| NodeError::Api(format!("the domain check failed: {e}")))?;
        if !check.verified {
            tracing::info!(
                domain = %check.domain,
                reason = check.reason.as_deref().unwrap_or(""),
                "a domain did not verify"
            );
        }
        let recorded = check.clone();
        store
            .ask(|reply| Request::RecordDomainCheck {
                author,
                check: recorded,
                reply,
            })
            .await
            .map_err(failed)??;
        done.push((author, check));
    }
    Ok(done)
}

/// Runs until the store closes: the periodic checks.
pub(crate) async fn run(store: StoreHandle, ca_file: Option<PathBuf>) {
    let mut profiles = store.profiles();
    loop {
        tokio::time::sleep(FIRST).await;
        profiles.mark_unchanged();
        match check_due(&store, ca_file.clone(), domains::RECHECK_SECS).await {
            Ok(_) => {}
            Err(NodeError::Api(reason)) if reason.contains("closed") => return,
            Err(error) => tracing::warn!(%error, "checking domains failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            changed = profiles.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}
