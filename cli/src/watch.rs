//! `convene watch …` and `convene news`: following a topic — saved searches, and what matched
//! them since the last look.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use convene_node::Directory;
use convene_node::watches::WatchChange;
use convene_protocol::Kind;

use crate::output::Out;

#[derive(Debug, Subcommand)]
pub enum WatchCommand {
    /// Follow a search: from now on, `convene news` lists what arrives and matches it (and the
    /// running node serves it as an Atom feed at /v1/watches/ID/atom on its local API).
    Add {
        /// Words to look for, e.g. "digital inclusion".
        #[arg(required = true)]
        words: Vec<String>,
        #[arg(long)]
        kind: Option<Kind>,
    },
    /// The searches you follow.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop following a search.
    Remove { id: String },
}

pub fn watch(command: WatchCommand, node: &mut dyn Directory, out: &mut Out) -> Result<ExitCode> {
    match command {
        WatchCommand::Add { words, kind } => {
            let change = WatchChange::Add {
                text: words.join(" "),
                kind,
            };
            if let Some(watch) = node.change_watch(&change)? {
                out.line(&watch.id)?;
                say!(
                    "following {:?}: `convene news` lists what arrives on it from now on",
                    watch.text
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        WatchCommand::List { json } => {
            let watches = node.watches()?;
            if json {
                out.line(&serde_json::to_string_pretty(&watches)?)?;
                return Ok(ExitCode::SUCCESS);
            }
            if watches.is_empty() {
                say!("you follow no searches; add one with `convene watch add WORDS`");
                return Ok(ExitCode::from(1));
            }
            for watch in &watches {
                let kind = watch.kind.map(|k| format!(" ({k})")).unwrap_or_default();
                out.line(&format!("{}\t{}{kind}", watch.id, watch.text))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        WatchCommand::Remove { id } => {
            node.change_watch(&WatchChange::Remove { id: id.clone() })?;
            say!("no longer following {id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `convene news`: what arrived since the last look and matches each followed search.
pub fn news(node: &mut dyn Directory, peek: bool, json: bool, out: &mut Out) -> Result<ExitCode> {
    let news = node.news(!peek)?;
    if json {
        out.line(&serde_json::to_string_pretty(&news)?)?;
    }
    if news.is_empty() {
        say!("you follow no searches; add one with `convene watch add WORDS`");
        return Ok(ExitCode::from(1));
    }
    let total: usize = news.iter().map(|n| n.found.len()).sum();
    if !json {
        for each in &news {
            if each.found.is_empty() {
                continue;
            }
            out.line(&format!(
                "{} ({:?}): {} new or changed",
                each.watch.id,
                each.watch.text,
                each.found.len()
            ))?;
            out.hits(&each.found, false)?;
            if each.truncated {
                say!(
                    "{}: much arrived since the last look; only the latest arrivals were searched",
                    each.watch.id
                );
            }
        }
    }
    if total == 0 {
        say!("nothing new since the last look");
        return Ok(ExitCode::from(1));
    }
    if peek {
        say!("(--peek: still news until you look without it)");
    }
    Ok(ExitCode::SUCCESS)
}
