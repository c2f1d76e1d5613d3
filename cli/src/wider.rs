//! `convene search --wider`: the query asked of the running node's peers, their checked
//! answers merged, and which peers answered.

use std::process::ExitCode;

use anyhow::Result;
use convene_node::wider::{PeerOutcome, WiderQuery, WiderSearch};
use convene_node::{Directory, NoProgress};

use crate::output::Out;

pub fn search(
    node: &mut dyn Directory,
    query: WiderQuery,
    keep: bool,
    json: bool,
    out: &mut Out,
) -> Result<ExitCode> {
    let found = node.wider_search(&query)?;
    if json {
        out.line(&serde_json::to_string_pretty(&found)?)?;
    } else {
        show(&found, out)?;
    }
    say!("{}", peers_line(&found));
    if keep {
        let fresh: Vec<&convene_node::wider::WiderHit> =
            found.results.iter().filter(|hit| !hit.held).collect();
        let lines: String = fresh
            .iter()
            .map(|hit| format!("{}\n", serde_json::json!({ "record": hit.record })))
            .collect();
        let report = node.import_jsonl(&mut lines.as_bytes(), false, &NoProgress)?;
        say!(
            "kept {} of {} new results (through this node's admission step)",
            report.stored,
            fresh.len()
        );
        for rejection in &report.rejected {
            say!("not kept: {}", rejection.reason);
        }
    }
    Ok(crate::found(!found.results.is_empty()))
}

fn show(found: &WiderSearch, out: &mut Out) -> Result<()> {
    for (rank, hit) in found.results.iter().enumerate() {
        let peers = match hit.from.len() {
            1 => "1 peer".to_string(),
            n => format!("{n} peers"),
        };
        let held = if hit.held { ", held here" } else { "" };
        out.line(&format!(
            "{:>3}. {}  {} · {} (from {peers}{held})",
            rank + 1,
            hit.title,
            hit.kind,
            hit.trust.path
        ))?;
        if let Some(summary) = &hit.summary {
            out.line(&format!("     {summary}"))?;
        }
        out.line(&format!("     {}", hit.address))?;
    }
    Ok(())
}

/// "asked 3 peers: 2 answered (1 record did not verify), 1 timed out".
fn peers_line(found: &WiderSearch) -> String {
    if found.peers.is_empty() {
        return "no peer is connected: nothing to ask (`convene peers add TICKET`)".into();
    }
    let (mut answered, mut timed_out, mut refused, mut failed, mut invalid) = (0, 0, 0, 0, 0);
    for peer in &found.peers {
        match &peer.outcome {
            PeerOutcome::Answered { invalid: bad, .. } => {
                answered += 1;
                invalid += bad;
            }
            PeerOutcome::TimedOut => timed_out += 1,
            PeerOutcome::Refused { .. } => refused += 1,
            PeerOutcome::Failed { .. } => failed += 1,
        }
    }
    let mut parts = vec![format!("{answered} answered")];
    if invalid > 0 {
        parts[0].push_str(&format!(
            " ({invalid} record{} did not verify and {} dropped)",
            if invalid == 1 { "" } else { "s" },
            if invalid == 1 { "was" } else { "were" }
        ));
    }
    for (count, what) in [
        (timed_out, "timed out"),
        (refused, "refused"),
        (failed, "could not be asked"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {what}"));
        }
    }
    format!(
        "asked {} peer{}: {}",
        found.peers.len(),
        if found.peers.len() == 1 { "" } else { "s" },
        parts.join(", ")
    )
}
