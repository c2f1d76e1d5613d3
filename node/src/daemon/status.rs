//! What `convene node status` shows, gathered from the network loop and the store actor.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::actor::{self, Health, StoreHandle};
use super::net::{NetCommand, NetStatus};
use crate::StoreCounts;

/// Everything `convene node status` shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    pub api: String,
    /// Where the web listener (open data) listens, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<String>,
    /// `None` when the store could not count (see `health`).
    pub counts: Option<StoreCounts>,
    /// Whether the store can write; a degraded store says why.
    pub health: Health,
    #[serde(flatten)]
    pub net: NetStatus,
}

/// The status now, or `None` once the network loop or the store has stopped.
pub(crate) async fn status_of(
    net: &mpsc::Sender<NetCommand>,
    store: &StoreHandle,
    api: SocketAddr,
    web: Option<SocketAddr>,
) -> Option<Status> {
    let (reply, result) = oneshot::channel();
    net.send(NetCommand::Status(reply)).await.ok()?;
    let net = result.await.ok()?;
    let mut net = net;
    let peers: Vec<String> = net.peers.iter().map(|p| p.peer_id.clone()).collect();
    if let Ok(Ok(names)) = store
        .ask(|reply| actor::Request::PeerNames { peers, reply })
        .await
    {
        for (peer, name) in net.peers.iter_mut().zip(names) {
            peer.organisation = name;
        }
    }
    let counts = match store.ask(|reply| actor::Request::Counts { reply }).await {
        Ok(Ok(counts)) => Some(counts),
        Ok(Err(_)) | Err(actor::ActorError::Failed(_)) => None,
        Err(actor::ActorError::Closed) => return None,
    };
    Some(Status {
        api: api.to_string(),
        web: web.map(|addr| addr.to_string()),
        counts,
        health: store.health(),
        net,
    })
}
