//! `convene network …`: convening networks (create, invite, remove, add a convenor), joining
//! and leaving them, and showing them.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use convene_node::digest::{Digest, Item, MAX_DIGEST_DAYS, NetworkMap};
use convene_node::{AskToJoin, Directory, NetworkChange, NetworkView};
use convene_protocol::{AuthorKey, Date, NetworkId, NetworkPolicy, Slug};

use crate::output::Out;

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Convene a network: your organisation is its founder and first convenor, and this node
    /// joins it. Open (anyone may publish into it) unless --members-only.
    Create {
        /// The network's name, e.g. "East Midlands Innovation Network".
        name: String,
        /// Only member organisations publish into it, and its records go only to their nodes.
        #[arg(long)]
        members_only: bool,
        /// What the network is for.
        #[arg(long)]
        purpose: Option<String>,
        /// The network's slug in its address (default: from the name).
        #[arg(long)]
        slug: Option<Slug>,
    },
    /// Add a member organisation (you must be a convenor).
    Invite {
        network: String,
        /// The organisation's key, as in its addresses: convene://KEY/…
        key: AuthorKey,
    },
    /// Remove a member organisation (you must be a convenor): its records leave a
    /// members-only network from this charter version on.
    Remove { network: String, key: AuthorKey },
    /// Make a member a convenor too: it may then amend the charter (ranked after the others).
    Convenor { network: String, key: AuthorKey },
    /// Replicate a network's records on this node: a network's address or name, or a ticket
    /// from `convene network ticket` (which also connects to the node that gave it and sends
    /// its convenor a signed request to join).
    Join {
        network: String,
        /// A word for the convenor with the join request ("we run the triage pilot").
        #[arg(long)]
        note: Option<String>,
    },
    /// Join requests waiting for your answer, as a convenor.
    Requests {
        #[arg(long)]
        json: bool,
    },
    /// Admit an organisation that asked to join (the same as `invite`).
    Approve { network: String, key: AuthorKey },
    /// Drop an organisation's join request without admitting it.
    Decline { network: String, key: AuthorKey },
    /// Stop replicating a network's records (those held stay).
    Leave { network: String },
    /// The networks this node knows: joined ones first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A network's charter: its policy, convenors and members.
    Show {
        network: String,
        #[arg(long)]
        json: bool,
    },
    /// Feature a record of the network, as a convenor: results say "featured by" the network,
    /// and searches within it (`search --network`) show it first. --remove takes it off.
    Feature {
        network: String,
        record: convene_protocol::Address,
        #[arg(long)]
        remove: bool,
    },
    /// What is new and changed in a network: experiments started and finished, lessons
    /// written, new people and what they offer. Markdown, for a newsletter or an agenda.
    Digest {
        network: String,
        /// How far back: days (`30d`), weeks (`6w`) or a date (YYYY-MM-DD).
        #[arg(long, default_value = "30d", value_parser = since)]
        since: Date,
        #[arg(long)]
        json: bool,
    },
    /// Who is working on what in a network: each organisation's experiments by status, lessons,
    /// people and topics; the topics most shared; members with nothing in it yet.
    Map {
        network: String,
        #[arg(long)]
        json: bool,
    },
    /// A network's member organisations: name, key, convenor or member, nodes bound.
    Members {
        network: String,
        #[arg(long)]
        json: bool,
    },
    /// Print a ticket for a network: its address and how to reach this node. Another
    /// organisation joins with `convene network join TICKET`; a convenor then invites it.
    Ticket { network: String },
}

/// Separates a network's address from the peer ticket in a network ticket.
const TICKET_SEPARATOR: char = '#';

/// What the network commands need of the node beyond the directory: the running node's
/// peer ticket, and adding a peer to it.
pub struct Peers<'a> {
    pub ticket: &'a dyn Fn() -> Result<String>,
    /// Adds a peer (a ticket); its peer id, if the ticket names one.
    pub add: &'a dyn Fn(&str) -> Result<Option<String>>,
}

pub fn run(
    command: NetworkCommand,
    node: &mut dyn Directory,
    peers: Peers<'_>,
    out: &mut Out,
) -> Result<ExitCode> {
    match command {
        NetworkCommand::Create {
            name,
            members_only,
            purpose,
            slug,
        } => {
            let slug = slug.unwrap_or_else(|| convene_protocol::slugify(&name));
            let policy = if members_only {
                NetworkPolicy::Members
            } else {
                NetworkPolicy::Open
            };
            let view = node.change_network(NetworkChange::Create {
                slug,
                name,
                purpose,
                policy,
            })?;
            out.line(&view.id.to_string())?;
            say!(
                "convened {} ({}); this node joined it. Invite organisations with `convene \
                 network invite {} KEY`, or give them `convene network ticket {}`",
                view.label(),
                describe_policy(view.policy),
                view.id,
                view.id
            );
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Invite { network, key } => amend(
            node,
            NetworkChange::Invite {
                network,
                organisation: key,
            },
            &format!("invited {key}"),
        ),
        NetworkCommand::Remove { network, key } => amend(
            node,
            NetworkChange::Remove {
                network,
                organisation: key,
            },
            &format!("removed {key}"),
        ),
        NetworkCommand::Convenor { network, key } => amend(
            node,
            NetworkChange::AddConvenor {
                network,
                organisation: key,
            },
            &format!("{key} is now a convenor"),
        ),
        NetworkCommand::Join { network, note } => {
            let (network, convenor) = match network.split_once(TICKET_SEPARATOR) {
                Some((id, ticket)) => {
                    let id: NetworkId = id
                        .parse()
                        .map_err(|e: String| anyhow::anyhow!(e))
                        .context("reading the network ticket")?;
                    let peer =
                        (peers.add)(ticket).context("connecting to the node in the ticket")?;
                    (id.to_string(), peer)
                }
                None => (network, None),
            };
            let view = node.change_network(NetworkChange::Join {
                network: network.clone(),
            })?;
            say!(
                "joined {}: this node now replicates its records{}",
                view.label(),
                if view.name.is_none() {
                    " (its charter comes with the first sync)"
                } else {
                    ""
                }
            );
            if let Some(peer) = convenor
                && !view.member
            {
                let ask = AskToJoin {
                    network,
                    peer,
                    note,
                };
                match node.ask_to_join(&ask) {
                    Ok(()) => say!(
                        "asked to join: the convenor sees your request with `convene network \
                         requests`"
                    ),
                    Err(error) => say!("the join request was not sent: {error}"),
                }
            }
            if view.policy == Some(NetworkPolicy::Members) && !view.member {
                say!(
                    "it is members-only and your organisation is not a member: its members' nodes \
                     send this node nothing of it until a convenor admits you"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Requests { json } => {
            let pending = node.join_requests()?;
            if json {
                out.line(&serde_json::to_string_pretty(&pending)?)?;
            } else if pending.is_empty() {
                say!("no join requests wait for an answer");
            } else {
                let views = node.networks()?;
                for join in &pending {
                    let request = &join.request;
                    let network = views
                        .iter()
                        .find(|v| v.id == request.network)
                        .map_or_else(|| request.network.to_string(), NetworkView::label);
                    out.line(&format!(
                        "{network}\t{}\t{}\t{}{}",
                        join.name.as_deref().unwrap_or("(no profile held)"),
                        request.organisation,
                        Date::from_unix(join.received_at),
                        request
                            .note
                            .as_deref()
                            .map(|note| format!("\t{note}"))
                            .unwrap_or_default()
                    ))?;
                }
                say!("admit one with `convene network approve NETWORK KEY`, or `decline`");
            }
            Ok(if pending.is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        NetworkCommand::Approve { network, key } => amend(
            node,
            NetworkChange::Invite {
                network,
                organisation: key,
            },
            &format!("admitted {key}"),
        ),
        NetworkCommand::Decline { network, key } => {
            let view = node.change_network(NetworkChange::Decline {
                network,
                organisation: key,
            })?;
            say!("declined {key}'s request to join {}", view.label());
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Leave { network } => {
            let view = node.change_network(NetworkChange::Leave { network })?;
            say!(
                "left {}: no more of its records arrive; those held stay",
                view.label()
            );
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::List { json } => {
            let views = node.networks()?;
            if json {
                out.line(&serde_json::to_string_pretty(&views)?)?;
            } else if views.is_empty() {
                say!("no networks yet: `convene network create NAME` convenes one");
            } else {
                for view in &views {
                    out.line(&summary_line(view))?;
                }
            }
            Ok(if views.is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        NetworkCommand::Show { network, json } => {
            let view = find(node, &network)?;
            if json {
                out.line(&serde_json::to_string_pretty(&view)?)?;
                return Ok(ExitCode::SUCCESS);
            }
            out.line(&view.label())?;
            out.line(&format!("  address:  {}", view.id))?;
            if let Some(purpose) = &view.purpose {
                out.line(&format!("  purpose:  {purpose}"))?;
            }
            out.line(&format!("  policy:   {}", describe_policy(view.policy)))?;
            if let Some(version) = view.version {
                out.line(&format!("  charter:  version {version}"))?;
            }
            out.line(&format!(
                "  here:     {}",
                match (view.joined, view.convenor, view.member) {
                    (_, true, _) => "joined; your organisation convenes it",
                    (true, false, true) => "joined; your organisation is a member",
                    (true, false, false) => "joined; your organisation is not a member",
                    (false, _, _) => "not joined",
                }
            ))?;
            out.line(&format!("  records:  {}", view.records))?;
            if !view.featured.is_empty() {
                out.line("  featured:")?;
                for address in &view.featured {
                    out.line(&format!("    {address}"))?;
                }
            }
            out.line("  members:")?;
            for member in &view.members {
                let role = if view.convenors.iter().any(|c| c.key == member.key) {
                    " (convenor)"
                } else {
                    ""
                };
                out.line(&format!(
                    "    {}{role}  {}",
                    member.name.as_deref().unwrap_or("(no profile held)"),
                    member.key
                ))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Feature {
            network,
            record,
            remove,
        } => {
            let done = if remove {
                format!("{record} is no longer featured")
            } else {
                format!("featured {record}")
            };
            let view = node.change_network(NetworkChange::Feature {
                network,
                record,
                remove,
            })?;
            say!(
                "{done} in {} ({} featured)",
                view.label(),
                view.featured.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Digest {
            network,
            since,
            json,
        } => {
            let digest = node.digest(&network, since)?;
            if json {
                out.line(&serde_json::to_string_pretty(&digest)?)?;
            } else {
                out.line(&digest_markdown(&digest))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Map { network, json } => {
            let map = node.network_map(&network)?;
            if json {
                out.line(&serde_json::to_string_pretty(&map)?)?;
            } else {
                for line in map_lines(&map) {
                    out.line(&line)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Members { network, json } => {
            let view = find(node, &network)?;
            if json {
                out.line(&serde_json::to_string_pretty(&view.members)?)?;
            } else {
                for member in &view.members {
                    let role = if view.convenors.iter().any(|c| c.key == member.key) {
                        "convenor"
                    } else {
                        "member"
                    };
                    out.line(&format!(
                        "{}\t{role}\t{} nodes\t{}",
                        member.name.as_deref().unwrap_or("(no profile held)"),
                        member.nodes,
                        member.key
                    ))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Ticket { network } => {
            let view = find(node, &network)?;
            let ticket = (peers.ticket)()?;
            out.line(&format!("{}{TICKET_SEPARATOR}{ticket}", view.id))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn amend(node: &mut dyn Directory, change: NetworkChange, done: &str) -> Result<ExitCode> {
    let view = node.change_network(change)?;
    say!(
        "{done}: {} is at charter version {}",
        view.label(),
        view.version.unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// A network by address or name, among those this node knows.
pub fn find(node: &dyn Directory, text: &str) -> Result<NetworkView> {
    let views = node.networks()?;
    if let Ok(id) = text.parse::<NetworkId>()
        && let Some(view) = views.iter().find(|v| v.id == id)
    {
        return Ok(view.clone());
    }
    let wanted = text.trim().to_lowercase();
    let matches: Vec<&NetworkView> = views
        .iter()
        .filter(|view| {
            view.name
                .as_deref()
                .is_some_and(|name| name.to_lowercase() == wanted)
                || matches!(&view.id, NetworkId::Convened { slug, .. } if slug.as_str() == wanted)
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!("no network called {text:?} is known here (`convene network list`)"),
        _ => bail!("several networks are called {text:?}: name one by its address"),
    }
}

fn describe_policy(policy: Option<NetworkPolicy>) -> &'static str {
    match policy {
        Some(NetworkPolicy::Open) => "open: anyone may publish into it",
        Some(NetworkPolicy::Members) => {
            "members-only: only members publish into it, and its records go only to their nodes"
        }
        None => "unknown until its charter arrives",
    }
}

fn summary_line(view: &NetworkView) -> String {
    let policy = match view.policy {
        Some(NetworkPolicy::Open) => "open",
        Some(NetworkPolicy::Members) => "members-only",
        None => "charter not held yet",
    };
    let here = match (view.joined, view.convenor, view.member) {
        (_, true, _) => "convenor",
        (true, false, true) => "member",
        (true, false, false) => "joined",
        (false, _, _) => "not joined",
    };
    format!(
        "{}\t{policy}\t{} members\t{} records\t{here}\t{}",
        view.label(),
        view.members.len(),
        view.records,
        view.id
    )
}

/// Parses `--since`: `30d`, `6w` or a date, at most [`MAX_DIGEST_DAYS`] back.
fn since(text: &str) -> Result<Date, String> {
    let today = Date::from_unix(convene_node::now());
    let text = text.trim();
    let days_back = |count: &str, unit: i64| -> Result<i64, String> {
        let count: i64 = count.parse().map_err(|_| {
            format!("{text:?}: expected a number of days (30d), weeks (6w) or a date")
        })?;
        Ok(count.saturating_mul(unit))
    };
    let days = if let Some(count) = text.strip_suffix('d') {
        days_back(count, 1)?
    } else if let Some(count) = text.strip_suffix('w') {
        days_back(count, 7)?
    } else {
        let date: Date = text.parse()?;
        today.unix_days() - date.unix_days()
    };
    if !(0..=MAX_DIGEST_DAYS).contains(&days) {
        return Err(format!(
            "{text:?}: a digest looks back 0 to {MAX_DIGEST_DAYS} days"
        ));
    }
    Ok(Date::from_unix((today.unix_days() - days) * 86_400))
}

/// A digest as Markdown: a heading per group, a bullet per record.
fn digest_markdown(digest: &Digest) -> String {
    let mut text = format!(
        "# {}: new and changed, {} to {}\n",
        digest.name, digest.since, digest.until
    );
    let groups: [(&str, &[Item]); 5] = [
        ("Experiments under way", &digest.started),
        ("Experiments completed or stopped", &digest.finished),
        ("Other experiments and ideas", &digest.other),
        ("Lessons learned", &digest.lessons),
        ("People", &digest.people),
    ];
    if groups.iter().all(|(_, items)| items.is_empty()) {
        text.push_str("\nNothing new or changed in this period.\n");
        return text;
    }
    for (heading, items) in groups {
        if items.is_empty() {
            continue;
        }
        text.push_str(&format!("\n## {heading} ({})\n\n", items.len()));
        for item in items {
            let mut facts = vec![
                item.organisation
                    .clone()
                    .unwrap_or_else(|| "unknown organisation".into()),
            ];
            if let Some(status) = item.status {
                facts.push(status.to_string());
            }
            facts.push(if item.new {
                "new".into()
            } else {
                format!("updated {}", item.day)
            });
            text.push_str(&format!("- **{}** — {}\n", item.title, facts.join(" · ")));
            if let Some(summary) = &item.summary {
                text.push_str(&format!("  {summary}\n"));
            }
            if !item.topics.is_empty() {
                let label = if heading == "People" {
                    "offers"
                } else {
                    "topics"
                };
                text.push_str(&format!("  {label}: {}\n", item.topics.join(", ")));
            }
            if !item.interests.is_empty() {
                text.push_str(&format!(
                    "  wants to learn: {}\n",
                    item.interests.join(", ")
                ));
            }
            text.push_str(&format!("  <{}>\n", item.address));
        }
    }
    text
}

/// A network map as lines: one per organisation, then the shared topics and the quiet members.
fn map_lines(map: &NetworkMap) -> Vec<String> {
    let mut lines = vec![format!("{}: who is working on what", map.name)];
    for org in &map.organisations {
        let experiments: Vec<String> = org
            .experiments
            .iter()
            .map(|(status, count)| format!("{count} {status}"))
            .collect();
        let experiments = if experiments.is_empty() {
            "no experiments".to_string()
        } else {
            format!("experiments: {}", experiments.join(", "))
        };
        lines.push(format!(
            "  {}{}\t{experiments}\t{} lessons\t{} people\t{}",
            org.name.as_deref().unwrap_or("(no profile held)"),
            if org.member { "" } else { " (not a member)" },
            org.lessons,
            org.people,
            org.topics.join(", ")
        ));
    }
    if !map.topics.is_empty() {
        let shared: Vec<String> = map
            .topics
            .iter()
            .map(|t| {
                format!(
                    "{} ({} organisations, {} records)",
                    t.topic, t.organisations, t.records
                )
            })
            .collect();
        lines.push(format!("Topics: {}", shared.join("; ")));
    }
    let quiet: Vec<&str> = map
        .organisations
        .iter()
        .filter(|org| org.member && org.records() == 0)
        .map(|org| org.name.as_deref().unwrap_or("(no profile held)"))
        .collect();
    if !quiet.is_empty() {
        lines.push(format!(
            "Members with nothing in the network yet: {}",
            quiet.join(", ")
        ));
    }
    lines
}
