//! The `convene` command: argument parsing and output. The work happens in `convene-node`.

mod output;
mod progress;

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use convene_node::daemon::{PeerBans, PeerBook, PeerEntry, RunOptions};
use convene_node::search::{Query, SimilarQuery, SimilarityThreshold};
use convene_node::trust::Block;
use convene_node::wider::WiderQuery;
use convene_node::{
    Client, Directory, Draft, DraftFormat, Home, HomeError, ListFilter, Node, NodeError,
    PublishOutcome, Publisher, SimilarCheck, now,
};
use convene_protocol::{Address, AuthorKey, Date, Kind, Record, Status};

use crate::output::Out;

/// `eprintln!` that cannot panic: a message to a closed stderr is dropped, not a crash.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` that cannot panic.
macro_rules! say_inline {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

mod keys;
mod network;
mod watch;
mod web;
mod wider;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  nothing found: search, facets, people, similar, cohort, list, an empty trust or block
     list, peers list, network list and requests, org check, requests and delegates, watch
     list, news with nothing new, web user list; show or history of a record not held (or
     retracted, for show); or nothing to undo (distrust, unblock)
  2  error: bad input or usage, missing home, store in use
  3  import finished, but some lines were rejected
  4  not published: similar records exist (answer the question, or pass --yes)";

/// Convene: a federated directory of public-service experiments, the people who ran them and
/// the lessons they learned.
#[derive(Debug, Parser)]
#[command(name = "convene", version, after_help = EXIT_CODES)]
struct Cli {
    /// Home directory (keys, config, data). Default: $CONVENE_HOME, else the platform data dir.
    #[arg(long, global = true, env = "CONVENE_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a home: a new identity (signing key), a config file and an empty store.
    Init {
        /// The organisation this node publishes for; also publishes its profile record.
        #[arg(long)]
        name: Option<String>,
        /// As a person who will publish for an organisation (its key, as in its addresses):
        /// also prints your consent, to send to it for `convene delegate`.
        #[arg(long, value_name = "ORG_KEY", conflicts_with = "name")]
        for_org: Option<AuthorKey>,
    },
    /// Sign and publish a record draft (TOML or JSON; `-` reads stdin).
    #[command(
        after_help = "A draft names its kind and fields, e.g.\n\n  kind = \"experiment\"\n  title = \"Virtual town hall\"\n  summary = \"Monthly online public meeting\"\n  status = \"running\"\n  tags = [\"engagement\"]\n\nSee examples/ for every kind. Publishing an existing slug makes its next version."
    )]
    Publish {
        file: PathBuf,
        /// Publish into this network (repeatable): a network's name or address, or `commons`.
        /// Default: the draft's `networks`, else the config's `networks`, else the commons.
        #[arg(long = "network", value_name = "NETWORK")]
        networks: Vec<String>,
        /// Publish even if similar records exist, without asking.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search the directory.
    Search {
        #[command(flatten)]
        search: SearchArgs,
        /// Number of results (at most 1000; with --wider, at most 50).
        #[arg(short = 'n', long, default_value_t = 10, value_parser = result_count)]
        limit: usize,
        /// Also ask the running node's connected peers to search their own records (only the
        /// words and --kind go with it); every record they send is verified.
        #[arg(long)]
        wider: bool,
        /// With --wider: seconds to wait for peers (1 to 10).
        #[arg(long, default_value_t = 2, requires = "wider", value_parser = clap::value_parser!(u64).range(1..=10))]
        wait: u64,
        /// With --wider: keep the results found elsewhere here (through the admission step).
        #[arg(long, requires = "wider")]
        keep: bool,
        #[arg(long)]
        json: bool,
    },
    /// Count what a search matches by kind, status, sector, region and organisation.
    Facets {
        #[command(flatten)]
        search: SearchArgs,
        #[arg(long)]
        json: bool,
    },
    /// Find the people to learn from on a topic.
    People {
        query: Vec<String>,
        /// Number of people (at most 1000; with --wider, at most 50).
        #[arg(short = 'n', long, default_value_t = 10, value_parser = result_count)]
        limit: usize,
        /// Also ask the running node's connected peers for practitioners on the topic (their
        /// records are verified); see `search --wider`.
        #[arg(long)]
        wider: bool,
        /// With --wider: seconds to wait for peers (1 to 10).
        #[arg(long, default_value_t = 2, requires = "wider", value_parser = clap::value_parser!(u64).range(1..=10))]
        wait: u64,
        #[arg(long)]
        json: bool,
    },
    /// Records most like a given record (address) or draft (file).
    Similar {
        target: String,
        /// Number of records (at most 1000).
        #[arg(short = 'n', long, default_value_t = 10, value_parser = result_count)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show one record.
    Show {
        /// An address, or a slug (or the start of one) of your own records, then of any.
        #[arg(value_parser = address_or_slug)]
        address: String,
        #[arg(long)]
        json: bool,
    },
    /// Say your organisation is interested in (or trying) an experiment's idea: a signed
    /// signal its cohort shows to everyone.
    Interest {
        /// The experiment: an address, or a slug (or the start of one).
        #[arg(value_parser = address_or_slug)]
        address: String,
        /// A word for the others ("piloting in 2026").
        #[arg(long, conflicts_with = "withdraw")]
        note: Option<String>,
        /// Take the signal back.
        #[arg(long)]
        withdraw: bool,
    },
    /// Who shares an experiment's idea: the organisations interested in it, and those trying
    /// something like it, with their people.
    Cohort {
        #[arg(value_parser = address_or_slug)]
        address: String,
        #[arg(long)]
        json: bool,
    },
    /// The family of an experiment: what it was adopted from, back to the original, and
    /// everything adopted from it since, with where each stands and its outcomes.
    Lineage {
        /// An address, or a slug (or the start of one) of your own experiments, then of any.
        #[arg(value_parser = address_or_slug)]
        address: String,
        #[arg(long)]
        json: bool,
    },
    /// The versions of a record this node holds, newest first, with what each changed.
    History {
        /// An address, or a slug (or the start of one) of your own records, then of any.
        #[arg(value_parser = address_or_slug)]
        address: String,
        #[arg(long)]
        json: bool,
    },
    /// List records.
    List {
        /// Only records published by this node's identity.
        #[arg(long)]
        mine: bool,
        #[arg(long)]
        kind: Option<Kind>,
        /// Only records whose review date has passed.
        #[arg(long)]
        stale: bool,
        #[arg(long)]
        json: bool,
    },
    /// Retract one of your records: a signed tombstone replaces it.
    Retract {
        address: Address,
        /// Print the tombstone's address, id and seq as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Say who an organisation's key is, on your own word ("pin" it); shown on every record it
    /// signed. Without --as: how this node knows the key; without KEY: every pin.
    Trust {
        /// The organisation's key, as in its addresses: convene://KEY/…
        key: Option<AuthorKey>,
        /// The name to know the key by.
        #[arg(long = "as", value_name = "NAME", requires = "key")]
        name: Option<String>,
        /// How you know (e.g. "checked by phone with their digital lead").
        #[arg(long, requires = "name")]
        note: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Take back a pin made with `trust`.
    Distrust { key: AuthorKey },
    /// Vouch, as your organisation, for another organisation's key: a signed statement that
    /// travels with your records. Nodes that trust you show the key under this name.
    Vouch {
        /// The organisation's key, as in its addresses: convene://KEY/…
        key: AuthorKey,
        /// Who they are, in your words.
        #[arg(long = "as", value_name = "NAME", required_unless_present = "revoke")]
        name: Option<String>,
        /// The last day the vouch holds (YYYY-MM-DD; default: a year from today).
        #[arg(long, value_name = "DATE", conflicts_with = "revoke")]
        until: Option<Date>,
        /// How you know them.
        #[arg(long, conflicts_with = "revoke")]
        note: Option<String>,
        /// Take your vouch for KEY back (a signed retraction).
        #[arg(long)]
        revoke: bool,
    },
    /// Let a person's key publish for your organisation: a signed, expiring delegation. In a
    /// members-only network your delegate publishes as a member, and its node receives what
    /// members' nodes do.
    Delegate {
        /// The person's key, as in their addresses: convene://KEY/… (`convene init` prints it).
        key: AuthorKey,
        /// What they do for you, e.g. "Digital Lead".
        #[arg(long = "as", value_name = "ROLE", required_unless_present = "revoke")]
        role: Option<String>,
        /// The last day it holds (YYYY-MM-DD; default: a year from today).
        #[arg(long, value_name = "DATE", conflicts_with = "revoke")]
        until: Option<Date>,
        /// Only these kinds of record (repeatable; default: experiments, practitioners and
        /// lessons).
        #[arg(long = "kind", value_name = "KIND", conflicts_with = "revoke")]
        kinds: Vec<Kind>,
        /// The person's name, as their practitioner record gives it (default: taken from that
        /// record when this node holds it): if the record's name changes, readers see the
        /// delegation as stale.
        #[arg(long, value_name = "NAME")]
        person: Option<String>,
        /// The person's consent, as `convene org consent YOUR_KEY` printed it for them
        /// (needed for a new delegation; a renewal reuses the one held).
        #[arg(long, value_name = "TOKEN")]
        consent: Option<String>,
        /// Revoke the delegation with a cut-off (the same as `convene org revoke KEY`).
        #[arg(long)]
        revoke: bool,
    },
    /// Refuse an author: every record it signed is purged from this node and refused from
    /// then on, whoever offers it (peers, imports); or refuse a peer: disconnected, never
    /// connected to again. Without KEY: every block.
    Block {
        /// An author's key, as in its addresses (convene://KEY/…), or a peer id (12D3KooW…).
        key: Option<String>,
        /// Why (kept with the block, shown by `block`).
        #[arg(long, requires = "key")]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Lift a block; an author's records come back when a peer or an import offers them.
    Unblock { key: String },
    /// Write every record (with its signed bytes) as JSON Lines.
    Export {
        /// Output file (default: stdout).
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Import a JSON Lines export, or a CSV of case studies with --map.
    Import {
        /// The file to import (`-` reads stdin).
        file: PathBuf,
        /// A TOML column mapping: the file is a CSV whose rows become records signed by you.
        #[arg(long, value_name = "MAPPING")]
        map: Option<PathBuf>,
        /// Check every line and report, but store nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report (counts and every rejected line) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the search index from the store.
    Reindex,
    /// Make the store file as small as its contents allow: rewrite its tables in key order and
    /// give the free space back to the disk (after an import, large retractions, purges or many
    /// updates); then merge the search index into one segment, which makes searches faster.
    /// The node must be stopped: compaction needs the store and index to itself.
    Compact,
    /// Start a new store when the old one is lost or damaged: the damaged file is moved aside,
    /// every record in it that still verifies is kept, and the index is rebuilt.
    #[command(
        after_help = "With --from-peers the node then runs until it has synced with its peers \
(those added with `convene peers add`, the config's bootstrap list, and the local network), so \
everything they hold comes back, this organisation's own records included. Stop a running \
node first."
    )]
    Recover {
        /// Then fetch what the salvage missed from peers.
        #[arg(long)]
        from_peers: bool,
        /// With --from-peers: seconds to wait for peers to connect and sync.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
        wait: u64,
    },
    /// Run this home's node on the network, or ask the running node about itself.
    Node {
        #[command(subcommand)]
        command: NodeCommand,
    },
    /// The peers this node keeps connecting to (remembered across restarts).
    Peers {
        #[command(subcommand)]
        command: PeersCommand,
    },
    /// Print a completion script for a shell: `convene completions bash > /etc/bash_completion.d/convene`.
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff): `convene man > convene.1`.
    Man,
    /// Convened networks: create one and invite members, join and leave, show them.
    Network {
        #[command(subcommand)]
        command: network::NetworkCommand,
    },
    /// Follow a topic: saved searches whose news `convene news` lists.
    Watch {
        #[command(subcommand)]
        command: watch::WatchCommand,
    },
    /// What arrived since you last looked and matches the searches you follow.
    News {
        /// Look without marking it seen.
        #[arg(long)]
        peek: bool,
        #[arg(long)]
        json: bool,
    },
    /// The node's web page: colleagues' accounts and their sign-in links.
    Web {
        #[command(subcommand)]
        command: web::WebCommand,
    },
    /// Your organisation's web domain, and the domains other organisations claim.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Name DOMAIN in your organisation's profile, and print the document to serve at
    /// https://DOMAIN/.well-known/convene.json, which proves the domain is yours.
    Domain { domain: String },
    /// As a person: consent to publish for an organisation (its key, as in its addresses).
    /// Prints a token to send it, for `convene delegate YOUR_KEY --as ROLE --consent TOKEN`.
    Consent { organisation: AuthorKey },
    /// As a person, with your node running: ask an organisation (its key, and its node's
    /// ticket from `convene node ticket`) to let you publish for it.
    Ask {
        organisation: AuthorKey,
        ticket: String,
        /// A word for whoever approves it ("digital lead from May").
        #[arg(long)]
        note: Option<String>,
    },
    /// People's requests to publish for your organisation, waiting for an answer.
    Requests {
        #[arg(long)]
        json: bool,
    },
    /// Let a person who asked publish for your organisation: a delegation with the consent
    /// their request carried.
    Approve {
        key: AuthorKey,
        /// What they do for you, e.g. "Digital Lead".
        #[arg(long = "as", value_name = "ROLE")]
        role: String,
        /// The last day it holds (YYYY-MM-DD; default: a year from today).
        #[arg(long)]
        until: Option<Date>,
        /// Only these kinds of record (repeatable; default: experiments, practitioners and
        /// lessons).
        #[arg(long = "kind")]
        kinds: Vec<Kind>,
    },
    /// Your delegations: who publishes for you, in what role, until when, and where each
    /// stands (active, expired, revoked).
    Delegates {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a delegate's key with a cut-off: the records of it this node holds stay valid;
    /// anything else it signs, whatever date it carries, is refused by every node.
    Revoke {
        key: AuthorKey,
        /// Why ("left the team", "laptop stolen"), shown with the revocation.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Move your organisation to a new key: the old key signs the change, the new one
    /// countersigns; your records are re-signed under the new key and old addresses resolve
    /// to them on every node. Stop the node first.
    Rotate {
        #[arg(long)]
        reason: Option<String>,
    },
    /// Make a recovery key to keep offline: writes a kit file (key and your declaration of
    /// it) and names the key in your profile. With it, `org recover` moves you to a new key if
    /// yours is lost or stolen.
    RecoveryKit {
        /// Where to write the kit (it must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Recover your organisation with a recovery kit when its key is lost or stolen: its word
    /// ends, only its records dated up to --before stay valid (anything a thief signed later
    /// is refused everywhere), and this home moves to a new key. Stop the node first.
    Recover {
        #[arg(long)]
        kit: PathBuf,
        /// The last day the key was surely safe (YYYY-MM-DD); default: keep every record of
        /// it this node holds.
        #[arg(long)]
        before: Option<Date>,
        /// A record of the key that is not yours (a thief's), left out (repeatable).
        #[arg(long = "drop", value_name = "ADDRESS")]
        drop: Vec<Address>,
        /// Only list the records the recovery would keep.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Check the domains organisations' profiles name: those not checked for a day, or every
    /// one with --all. A running node also checks them by itself.
    Check {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// Run the node in the foreground until Ctrl-C or SIGTERM. Settings: the [node] section of
    /// config.toml; these options override it.
    Run {
        /// Listen for other nodes here (repeatable), e.g. /ip4/0.0.0.0/tcp/4717.
        #[arg(long = "listen", value_name = "MULTIADDR")]
        listen: Vec<String>,
        /// Serve the local API here (loopback only), e.g. 127.0.0.1:4718; port 0 picks one.
        #[arg(long, value_name = "ADDR")]
        api: Option<String>,
        /// Do not look for nodes on the local network by multicast DNS.
        #[arg(long)]
        no_mdns: bool,
        /// Serve the open data (open records as JSON Lines, CSV and JSON-LD under /open/) here,
        /// e.g. 127.0.0.1:4719, or a LAN address to share it; port 0 picks one.
        #[arg(long, value_name = "ADDR")]
        web: Option<String>,
    },
    /// The running node: peer id, addresses, connected peers, record counts, last sync.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print a ticket (peer id and addresses) that another node can add with `convene peers add`.
    Ticket,
    /// Print the local API's description (OpenAPI 3.1 JSON), as a running node serves it at
    /// /v1/openapi.json.
    Openapi,
}

#[derive(Debug, Subcommand)]
enum PeersCommand {
    /// Remember a peer and connect to it: a ticket, or a multiaddr like /ip4/192.0.2.7/tcp/4717/p2p/12D3Koo…
    Add {
        peer: String,
        /// Print the peer added (peer id, addresses, whether it is being connected to now) as
        /// JSON.
        #[arg(long)]
        json: bool,
    },
    /// The remembered peers, and whether each is connected now.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Forget a peer (by peer id or address) and disconnect from it.
    Rm { peer: String },
}

/// What to search for: words and filters, shared by `search` and `facets`.
#[derive(Debug, clap::Args)]
struct SearchArgs {
    /// Words to look for (quotes for a phrase, e.g. '"town hall"'). None: everything.
    query: Vec<String>,
    #[arg(long)]
    kind: Option<Kind>,
    /// Only records with this tag (repeatable; all must match).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    #[arg(long)]
    status: Option<Status>,
    #[arg(long)]
    sector: Option<String>,
    #[arg(long)]
    region: Option<String>,
    /// Only records of this organisation.
    #[arg(long)]
    org: Option<String>,
    /// Only records published or last changed on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    since: Option<Date>,
    /// Only experiments started on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    started_after: Option<Date>,
    /// Only experiments started on or before this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    started_before: Option<Date>,
    /// Only records published into this network (`commons`, a network's address, or the
    /// name of a network this node joined).
    #[arg(long, value_name = "NETWORK")]
    network: Option<String>,
}

impl SearchArgs {
    /// The words of a wider search, which carries no filters but --kind.
    fn wider_text(self) -> Result<String> {
        let filtered = !self.tags.is_empty()
            || self.status.is_some()
            || self.sector.is_some()
            || self.region.is_some()
            || self.org.is_some()
            || self.since.is_some()
            || self.started_after.is_some()
            || self.started_before.is_some()
            || self.network.is_some();
        if filtered {
            bail!("a wider search carries only its words and --kind; drop the other filters");
        }
        Ok(self.query.join(" "))
    }

    fn into_query(self, node: &dyn Directory, limit: usize) -> Result<Query> {
        let network = match &self.network {
            None => None,
            Some(text) => Some(match text.parse::<convene_protocol::NetworkId>() {
                Ok(id) => id,
                Err(_) => network::find(node, text)?.id,
            }),
        };
        Ok(Query {
            text: self.query.join(" "),
            kind: self.kind,
            tags: self.tags,
            status: self.status,
            sector: self.sector,
            region: self.region,
            organisation: self.org,
            author: None,
            since: self.since,
            started_after: self.started_after,
            started_before: self.started_before,
            network,
            any_network: Vec::new(),
            among: Vec::new(),
            about: None,
            contact: None,
            adopted_from: None,
            limit,
        })
    }
}

/// Parses `-n`: a count of results, bounded like every number from input.
fn result_count(text: &str) -> Result<usize, String> {
    let max = convene_node::limits::search::RESULTS;
    match text.parse::<u64>() {
        Ok(n) if n <= max as u64 => Ok(n as usize),
        Ok(_) => Err(format!("at most {max} results can be asked for")),
        Err(_) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            Err(format!("at most {max} results can be asked for"))
        }
        Err(_) => Err("expected a whole number of results".into()),
    }
}

/// An error with the exit code it should produce.
#[derive(Debug)]
struct Exit(u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Exit {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A running node tells what it does; one-shot commands speak only of trouble.
    let default_filter = match &cli.command {
        Command::Node {
            command: NodeCommand::Run { .. },
        } => "info,libp2p_kad=error,libp2p_gossipsub=warn,libp2p_swarm=warn,tantivy=warn",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            if let Some(Exit(code)) = error.downcast_ref::<Exit>() {
                return ExitCode::from(*code);
            }
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            if let Some(node_error) = error.downcast_ref::<NodeError>()
                && matches!(node_error, NodeError::NotFound(_) | NodeError::Retracted(_))
            {
                say!("convene: {node_error}");
                return ExitCode::from(1);
            }
            say!("convene: {}", one_line(&error));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, `a: b: c`, leaving out a cause whose words the line
/// already holds (typed errors often include their source's message in their own).
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<ExitCode> {
    let mut out = Out::stdout();
    match &cli.command {
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut command, "convene", &mut script);
            out.line(String::from_utf8_lossy(&script).trim_end())?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Node {
            command: NodeCommand::Openapi,
        } => {
            out.line(&convene_node::daemon::openapi_json())?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .context("rendering the manual page")?;
            out.line(String::from_utf8_lossy(&page).trim_end())?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let home_dir = resolve_home(cli.home)?;
    if let Command::Init { name, for_org } = &cli.command {
        let code = init(&home_dir, name.clone(), &mut out)?;
        if let Some(organisation) = for_org {
            let home = Home::open(&home_dir)?;
            out.line(&keys::consent_token(&home, organisation)?)?;
            say!(
                "send the line above to the organisation: it runs `convene delegate {} --as \
                 ROLE --consent LINE` to let you publish for it. Or, once your node runs \
                 (`convene node run`), ask its node directly: `convene org ask {organisation} \
                 ITS_NODE_TICKET`",
                home.identity()?.author()
            );
        }
        return Ok(code);
    }
    let home = Home::open(&home_dir)?;
    match cli.command {
        Command::Node { command } => return node_command(command, &home, &mut out),
        Command::Peers { command } => return peers_command(command, &home, &mut out),
        Command::Export { output } => return export(&home, output),
        Command::Reindex => return reindex(&home),
        Command::Compact => return compact(&home),
        Command::Recover { from_peers, wait } => return recover(&home, from_peers, wait),
        Command::Org {
            command: OrgCommand::Rotate { reason },
        } => return keys::change_key(&home, None, reason, &mut out),
        Command::Org {
            command:
                OrgCommand::Recover {
                    kit,
                    before,
                    drop,
                    dry_run,
                    reason,
                },
        } => {
            let recovering = keys::Recovering {
                kit,
                before,
                drop,
                dry_run,
            };
            return keys::change_key(&home, Some(recovering), reason, &mut out);
        }
        _ => {}
    }
    let progress = progress::Bar::new("records");
    let mut node = convene_node::open_directory(&home, &progress)
        .with_context(|| format!("opening the store in {}", home.data_dir().display()))?;
    let code = command(cli.command, &home, node.as_mut(), &mut out)?;
    node.close()?;
    Ok(code)
}

fn running_node(home: &Home) -> Result<Client> {
    Client::connect(home.dir()).with_context(|| {
        format!(
            "no node is running on {}; start one with `convene --home {} node run`",
            home.dir().display(),
            shell_quote(&home.dir().display().to_string())
        )
    })
}

fn node_command(command: NodeCommand, home: &Home, out: &mut Out) -> Result<ExitCode> {
    match command {
        NodeCommand::Run {
            listen,
            api,
            no_mdns,
            web,
        } => {
            let options = RunOptions {
                listen,
                api,
                mdns: no_mdns.then_some(false),
                web,
                ..RunOptions::default()
            };
            convene_node::daemon::run_until_signal(home, options)?;
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Status { json } => {
            let status = running_node(home)?.status()?;
            out.status(&status, json)?;
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Ticket => {
            let status = running_node(home)?.status()?;
            out.line(&status.net.ticket)?;
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Openapi => unreachable!("handled before the home is opened"),
    }
}

fn org_command(
    command: OrgCommand,
    home: &Home,
    node: &mut dyn Directory,
    out: &mut Out,
) -> Result<ExitCode> {
    match command {
        OrgCommand::Domain { domain } => {
            let domain = convene_protocol::domain::normalize_domain(&domain);
            let identity = home.identity()?;
            let (profile, organisation) = keys::own_profile(node, home, "the domain")?;
            let mut organisation = organisation;
            organisation.domain = Some(domain.clone());
            let draft = Draft {
                slug: Some(profile.header().slug.clone()),
                content: convene_protocol::Content::Organisation(organisation),
            };
            node.publish(draft, SimilarCheck::Skip)?;
            let nodes = convene_node::daemon::local_peer_id(home.dir())
                .into_iter()
                .collect();
            let proof = convene_protocol::domain::DomainProof::sign(&domain, &[&identity], nodes);
            out.line(&serde_json::to_string_pretty(&proof)?)?;
            say!(
                "your profile now names {domain}. Serve the document above at \
                 https://{domain}{} (as application/json); nodes that hold your profile then \
                 show your records as verified: {domain}",
                convene_protocol::domain::WELL_KNOWN_PATH
            );
            Ok(ExitCode::SUCCESS)
        }
        OrgCommand::Check { all, json } => {
            let checks = node.check_domains(all)?;
            out.domain_checks(&checks, json)?;
            Ok(found(!checks.is_empty()))
        }
        OrgCommand::Consent { organisation } => {
            out.line(&keys::consent_token(home, &organisation)?)?;
            say!(
                "send the line above to the organisation: it runs `convene delegate {} --as \
                 ROLE --consent LINE`",
                home.identity()?.author()
            );
            Ok(ExitCode::SUCCESS)
        }
        OrgCommand::Delegates { json } => keys::delegates(node, home, json, out),
        OrgCommand::Ask {
            organisation,
            ticket,
            note,
        } => keys::ask(node, home, organisation, &ticket, note),
        OrgCommand::Requests { json } => keys::requests(node, json, out),
        OrgCommand::Approve {
            key,
            role,
            until,
            kinds,
        } => {
            let delegation = convene_protocol::Delegation {
                delegate: key,
                role,
                kinds,
                expires: until.unwrap_or_else(a_year_from_today),
                consent: None,
                person: None,
            };
            keys::approve(node, home, delegation, out)
        }
        OrgCommand::Revoke { key, reason } => keys::revoke(node, home, key, reason, out),
        OrgCommand::RecoveryKit { out: path } => keys::recovery_kit(node, home, &path, out),
        OrgCommand::Rotate { .. } | OrgCommand::Recover { .. } => {
            unreachable!("handled before the store is opened")
        }
    }
}

/// An address, or something a slug could start with; anything else is refused at once.
fn address_or_slug(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.starts_with(Address::SCHEME) {
        return text
            .parse::<Address>()
            .map(|_| text.to_string())
            .map_err(|e| e.to_string());
    }
    let slug_like = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if slug_like {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is neither an address (convene://<author>/<kind>/<slug>) nor a slug \
             (a-z, 0-9 and -)"
        ))
    }
}

/// A record's address from what was typed: an address, else a slug or the start of one among
/// your own records, else among all (regression: issue 11, friction 8 — `show` needed the full
/// 70-character address).
fn resolve_address(node: &dyn Directory, home: &Home, text: &str) -> Result<Address> {
    let text = text.trim();
    if let Ok(address) = text.parse::<Address>() {
        return Ok(address);
    }
    if text.starts_with(Address::SCHEME) {
        // Malformed: report it as such, not as a slug that matches nothing.
        text.parse::<Address>()?;
    }
    let me = home.identity()?.author();
    let all = node.list(&ListFilter {
        now: now(),
        ..ListFilter::default()
    })?;
    let mine = |record: &Record| record.header().author == me;
    let exact: Vec<&Record> = all
        .iter()
        .filter(|r| r.header().slug.as_str() == text)
        .collect();
    let prefix: Vec<&Record> = all
        .iter()
        .filter(|r| r.header().slug.as_str().starts_with(text))
        .collect();
    for candidates in [
        exact
            .iter()
            .copied()
            .filter(|r| mine(r))
            .collect::<Vec<_>>(),
        prefix.iter().copied().filter(|r| mine(r)).collect(),
        exact,
        prefix,
    ] {
        match candidates.as_slice() {
            [] => continue,
            [one] => return Ok(one.address()),
            many => bail!(
                "{text:?} could be any of: {}; give more of the slug, or the address",
                many.iter()
                    .take(10)
                    .map(|r| r.address().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    bail!("no record's slug is or starts with {text:?}; `convene list` shows them")
}

/// What `block` names: an author or a peer.
enum Blocked {
    Author(AuthorKey),
    Peer(String),
}

fn blocked(text: &str) -> Result<Blocked> {
    let text = text.trim();
    if let Ok(key) = text.parse::<AuthorKey>() {
        return Ok(Blocked::Author(key));
    }
    if convene_node::daemon::parse_peer_id(text).is_ok() {
        return Ok(Blocked::Peer(text.to_string()));
    }
    bail!("{text:?} is neither an author's key (as in convene://KEY/…) nor a peer id (12D3KooW…)")
}

/// Blocks a peer (`None`: lifts it) through the running node, or in the home's file.
fn block_peer(home: &Home, peer: &str, block: Option<Block>) -> Result<bool> {
    Ok(match Client::connect(home.dir()) {
        Some(client) => client.block_peer(peer, block)?,
        None => PeerBans::load(home.dir())?.set(peer, block)?,
    })
}

fn peer_blocks(home: &Home) -> Result<Vec<(String, Block)>> {
    Ok(match Client::connect(home.dir()) {
        Some(client) => client.peer_blocks()?,
        None => PeerBans::load(home.dir())?
            .entries()
            .into_iter()
            .map(|(peer, block)| (peer.to_string(), block))
            .collect(),
    })
}

/// Adds a peer (a ticket or multiaddr) to the running node, or to the peer book when no node
/// runs.
fn add_peer(home: &Home, peer: &str) -> Result<PeerEntry> {
    // Regression (issue 11, friction 10): a node's own ticket was accepted.
    let parsed = PeerEntry::parse(peer)?;
    if let (Some(theirs), Some(ours)) =
        (parsed.peer, convene_node::daemon::local_peer_id(home.dir()))
        && theirs.to_string() == ours
    {
        bail!("{peer:?} is this node's own ticket: give it to other nodes, and add theirs here");
    }
    // Regression (issue 11, friction 10): an address without a peer id was accepted, and then
    // whatever answered at it counted as the peer.
    if parsed.peer.is_none() {
        bail!(
            "{peer:?} names no peer id, so this node could not tell whether it reached the node \
             it meant: add their ticket (`convene node ticket` on their side), or the address \
             ending in /p2p/PEER_ID"
        );
    }
    Ok(match Client::connect(home.dir()) {
        Some(client) => client.add_peer(peer)?,
        None => {
            PeerBook::load(home.dir())?.add(parsed.clone())?;
            parsed
        }
    })
}

fn peers_command(command: PeersCommand, home: &Home, out: &mut Out) -> Result<ExitCode> {
    let client = Client::connect(home.dir());
    match command {
        PeersCommand::Add { peer, json } => {
            let entry = add_peer(home, &peer)?;
            if json {
                let mut value = serde_json::to_value(&entry)?;
                value["connecting"] = serde_json::json!(client.is_some());
                out.line(&serde_json::to_string_pretty(&value)?)?;
                return Ok(ExitCode::SUCCESS);
            }
            let name = entry
                .peer
                .map_or_else(|| "the peer".to_string(), |p| p.to_string());
            let when = if client.is_some() {
                "connecting now"
            } else {
                "the node will connect when it runs"
            };
            say!("added {name} ({when})");
            Ok(ExitCode::SUCCESS)
        }
        PeersCommand::List { json } => {
            let peers = match &client {
                Some(client) => client.peers()?,
                None => PeerBook::load(home.dir())?
                    .entries()
                    .iter()
                    .map(|entry| convene_node::daemon::BookPeer {
                        peer_id: entry.peer.map(|p| p.to_string()),
                        addrs: entry.addrs.iter().map(|a| a.to_string()).collect(),
                        connected: false,
                        organisation: None,
                    })
                    .collect(),
            };
            out.peers(&peers, client.is_some(), json)?;
            Ok(found(!peers.is_empty()))
        }
        PeersCommand::Rm { peer } => {
            let removed = match &client {
                Some(client) => client.remove_peer(&peer)?,
                None => PeerBook::load(home.dir())?.remove(&peer)?,
            };
            say!(
                "forgot {} peer entr{}",
                removed.len(),
                if removed.len() == 1 { "y" } else { "ies" }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn command(
    command: Command,
    home: &Home,
    node: &mut dyn Directory,
    out: &mut Out,
) -> Result<ExitCode> {
    match command {
        Command::Init { .. }
        | Command::Node { .. }
        | Command::Peers { .. }
        | Command::Completions { .. }
        | Command::Man => {
            unreachable!("handled above")
        }
        Command::Org { command } => org_command(command, home, node, out),
        Command::Web { command } => web::command(command, home, node, out),
        Command::Watch { command } => watch::watch(command, node, out),
        Command::News { peek, json } => watch::news(node, peek, json, out),
        Command::Publish {
            file,
            networks,
            yes,
            json,
        } => publish(home, node, &file, &networks, yes, json, out),
        Command::Network { command } => {
            let ticket = || -> Result<String> { Ok(running_node(home)?.status()?.net.ticket) };
            let add =
                |peer: &str| add_peer(home, peer).map(|entry| entry.peer.map(|p| p.to_string()));
            network::run(
                command,
                node,
                network::Peers {
                    ticket: &ticket,
                    add: &add,
                },
                out,
            )
        }
        Command::Search {
            search,
            limit,
            wider: true,
            wait,
            keep,
            json,
        } => {
            let kind = search.kind;
            let text = search.wider_text()?;
            let query = WiderQuery {
                text,
                kind,
                limit: u16::try_from(limit.min(50)).expect("at most 50"),
                wait_ms: wait * 1_000,
            };
            wider::search(node, query, keep, json, out)
        }
        Command::Search {
            search,
            limit,
            json,
            ..
        } => {
            let hits = node.search(&search.into_query(node, limit)?)?;
            out.hits(&hits, json)?;
            Ok(found(!hits.is_empty()))
        }
        Command::Facets { search, json } => {
            let facets = node.facets(&search.into_query(node, 0)?)?;
            out.facets(&facets, json)?;
            Ok(found(facets.iter().any(|facet| !facet.values.is_empty())))
        }
        Command::People {
            query,
            limit,
            wider: true,
            wait,
            json,
        } => {
            let query = WiderQuery {
                text: query.join(" "),
                kind: Some(Kind::Practitioner),
                limit: u16::try_from(limit.min(50)).expect("at most 50"),
                wait_ms: wait * 1_000,
            };
            wider::search(node, query, false, json, out)
        }
        Command::People {
            query, limit, json, ..
        } => {
            let people = node.people(&query.join(" "), limit)?;
            out.people(&people, json)?;
            Ok(found(!people.is_empty()))
        }
        Command::Similar {
            target,
            limit,
            json,
        } => {
            let (content, exclude) = match target.parse::<Address>() {
                Ok(address) => {
                    let record = node.get(&address)?;
                    let content = record
                        .content()
                        .cloned()
                        .expect("live records have content");
                    (content, Some(address))
                }
                Err(_) if Path::new(&target).exists() || target == "-" => {
                    let draft = read_draft(Path::new(&target), home)?;
                    // A draft of a record already published is not similar to itself.
                    let own_address = draft.address(&home.identity()?.author());
                    (draft.content, Some(own_address))
                }
                Err(address_error) => bail!(
                    "{target:?} is neither a record address nor a draft file ({address_error})"
                ),
            };
            let similar = node.similar(&SimilarQuery {
                content,
                exclude,
                threshold: SimilarityThreshold::ANY,
                limit,
            })?;
            out.similar(&similar, json)?;
            // Beside similar experiments: this one's lessons and people (friction 9).
            if !json
                && let Ok(address) = target.parse::<Address>()
                && address.kind == Kind::Experiment
            {
                let lessons = node.search(&Query {
                    kind: Some(Kind::Lesson),
                    about: Some(address.clone()),
                    limit: 20,
                    ..Query::default()
                })?;
                let people: Vec<(Address, String)> = match node.get(&address)?.content() {
                    Some(convene_protocol::Content::Experiment(e)) => e
                        .contacts
                        .iter()
                        .filter_map(|contact| {
                            let record = node.get(contact).ok()?;
                            Some((contact.clone(), record.content()?.title().to_string()))
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let lessons: Vec<(Address, String)> = lessons
                    .into_iter()
                    .map(|found| (found.hit.address, found.hit.title))
                    .collect();
                out.related(&[("Lessons about it", &lessons), ("Its people", &people)])?;
            }
            Ok(found(!similar.is_empty()))
        }
        Command::Show { address, json } => {
            let address = resolve_address(node, home, &address)?;
            let record = node.get(&address)?;
            let trust = node.trust(&address.author)?;
            // References shown by name: who the contacts are, what a lesson is about.
            let names = record
                .content()
                .map(|content| {
                    content
                        .references()
                        .into_iter()
                        .map(|(_, referenced)| {
                            let title = node
                                .get(referenced)
                                .ok()
                                .and_then(|r| r.content().map(|c| c.title().to_string()));
                            (referenced.to_string(), title)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut extras = Vec::new();
            if let Some(contact) = shown_contact(node, &record) {
                extras.push(("contact", serde_json::json!(contact)));
            }
            if address.kind == Kind::Experiment {
                let interested = node.cohort(&address)?.interested;
                if !interested.is_empty() {
                    let names: Vec<String> = interested
                        .iter()
                        .map(|each| {
                            each.name
                                .clone()
                                .unwrap_or_else(|| each.organisation.to_string())
                        })
                        .collect();
                    extras.push(("also_interested", serde_json::json!(names)));
                }
                let adopted_by = adopted_from(node, &address)?;
                if !adopted_by.is_empty() {
                    let shown: Vec<String> = adopted_by
                        .iter()
                        .map(|(address, title)| {
                            if json {
                                address.to_string()
                            } else {
                                format!("{title} ({address})")
                            }
                        })
                        .collect();
                    extras.push(("adopted_by", serde_json::json!(shown)));
                }
            }
            let featured: Vec<String> = node
                .networks()?
                .into_iter()
                .filter(|view| view.featured.contains(&address))
                .map(|view| view.label())
                .collect();
            if !featured.is_empty() {
                extras.push(("featured_by", serde_json::json!(featured)));
            }
            out.record(&record, &trust, &names, &extras, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Interest {
            address,
            note,
            withdraw,
        } => {
            let address = resolve_address(node, home, &address)?;
            if withdraw {
                let slug = convene_protocol::Interest::slug_for(&address);
                retract_own(node, home, Kind::Interest, slug)?;
                say!("withdrew your interest in {address}");
                return Ok(ExitCode::SUCCESS);
            }
            let experiment = node.get(&address)?;
            publish_statement(
                node,
                convene_protocol::Content::Interest(convene_protocol::Interest {
                    experiment: address.clone(),
                    note,
                }),
            )?;
            let cohort = node.cohort(&address)?;
            say!(
                "your organisation is interested in {:?}: {} organisations are now; see them with \
                 `convene cohort {address}`",
                experiment.content().map(|c| c.title()).unwrap_or_default(),
                cohort.interested.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Cohort { address, json } => {
            let address = resolve_address(node, home, &address)?;
            let cohort = node.cohort(&address)?;
            if json {
                out.line(&serde_json::to_string_pretty(&cohort)?)?;
            } else {
                out.line(&format!("Who shares the idea of {:?}", cohort.title))?;
                out.line(&format!("Interested ({}):", cohort.interested.len()))?;
                for each in &cohort.interested {
                    let note = each
                        .note
                        .as_deref()
                        .map(|n| format!(" — {n}"))
                        .unwrap_or_default();
                    out.line(&format!("  {} ({}){note}", each.trust, each.day))?;
                }
                out.line(&format!(
                    "Trying something like it ({}):",
                    cohort.trying.len()
                ))?;
                for each in &cohort.trying {
                    out.line(&format!(
                        "  {:.0}%  {} — {}{}",
                        each.similarity * 100.0,
                        each.title,
                        each.organisation
                            .as_deref()
                            .unwrap_or("unknown organisation"),
                        each.status.map(|s| format!(" · {s}")).unwrap_or_default()
                    ))?;
                    for (_, name) in &each.contacts {
                        out.line(&format!("        ask: {name}"))?;
                    }
                    out.line(&format!("        {}", each.address))?;
                }
            }
            Ok(found(
                !cohort.interested.is_empty() || !cohort.trying.is_empty(),
            ))
        }
        Command::History { address, json } => {
            let address = resolve_address(node, home, &address)?;
            out.history(&node.history(&address)?, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lineage { address, json } => {
            let address = resolve_address(node, home, &address)?;
            if address.kind != Kind::Experiment {
                bail!(
                    "{address} is a {}: lineage is for experiments",
                    address.kind
                );
            }
            let tree = lineage(node, &address)?;
            if json {
                out.line(&serde_json::to_string_pretty(&tree)?)?;
            } else {
                for line in lineage_lines(&tree, &address) {
                    out.line(&line)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Trust {
            key,
            name,
            note,
            json,
        } => {
            let Some(key) = key else {
                let pins = node.pins()?;
                out.pins(&pins, json)?;
                return Ok(found(!pins.is_empty()));
            };
            let Some(name) = name else {
                let trust = node.trust(&key)?;
                out.trust(&trust, json)?;
                return Ok(ExitCode::SUCCESS);
            };
            let pin = convene_node::trust::Pin {
                name,
                note,
                at: now(),
            };
            let had = node.set_pin(&key, Some(pin))?;
            let trust = node.trust(&key)?;
            say!(
                "{} {key}: {}",
                if had { "re-pinned" } else { "pinned" },
                trust.path
            );
            if json {
                out.trust(&trust, true)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Block { key, reason, json } => {
            let Some(key) = key else {
                let authors: Vec<(String, Block)> = node
                    .blocks()?
                    .into_iter()
                    .map(|(key, block)| (key.to_string(), block))
                    .collect();
                let peers = peer_blocks(home)?;
                out.blocks(&authors, &peers, json)?;
                return Ok(found(!authors.is_empty() || !peers.is_empty()));
            };
            let reason = reason.context("say why with --reason (it is kept with the block)")?;
            let block = Block { reason, at: now() };
            let key = match blocked(&key)? {
                Blocked::Peer(peer) => {
                    let had = block_peer(home, &peer, Some(block.clone()))?;
                    say!(
                        "{} peer {peer}: disconnected, and never connected to again",
                        if had { "blocked again" } else { "blocked" }
                    );
                    if json {
                        out.blocks(&[], &[(peer.to_string(), block)], true)?;
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                Blocked::Author(key) => key,
            };
            let (had, purged) = node.set_block(&key, Some(block.clone()))?;
            say!(
                "{} {key}: {purged} record{} purged; its records are refused from now on",
                if had { "blocked again" } else { "blocked" },
                if purged == 1 { "" } else { "s" }
            );
            if json {
                out.blocks(&[(key.to_string(), block)], &[], true)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Unblock { key } => {
            let (had, _) = match blocked(&key)? {
                Blocked::Peer(peer) => (block_peer(home, &peer, None)?, 0),
                Blocked::Author(key) => node.set_block(&key, None)?,
            };
            if !had {
                say!("{key} was not blocked");
                return Err(Exit(1).into());
            }
            say!("unblocked {key}: its records are taken again when offered");
            Ok(ExitCode::SUCCESS)
        }
        Command::Vouch {
            key,
            name,
            until,
            note,
            revoke,
        } => {
            if revoke {
                let slug = convene_protocol::Vouch::slug_for(&key);
                let record = retract_own(node, home, Kind::Vouch, slug)?;
                say!(
                    "took back the vouch for {key} (tombstone seq {})",
                    record.header().seq
                );
                return Ok(ExitCode::SUCCESS);
            }
            let expires = until.unwrap_or_else(a_year_from_today);
            let record = publish_statement(
                node,
                convene_protocol::Content::Vouch(convene_protocol::Vouch {
                    subject: key,
                    name: name.unwrap_or_default(),
                    expires,
                    note,
                }),
            )?;
            out.line(&record.address().to_string())?;
            say!("vouched for {key} until {expires}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Delegate {
            key,
            role,
            until,
            kinds,
            person,
            consent,
            revoke,
        } => {
            if revoke {
                return keys::revoke(node, home, key, None, out);
            }
            let expires = until.unwrap_or_else(a_year_from_today);
            let delegation = convene_protocol::Delegation {
                delegate: key,
                role: role.unwrap_or_default(),
                kinds,
                expires,
                consent: None,
                person,
            };
            keys::delegate(node, home, delegation, consent, out)
        }
        Command::Distrust { key } => {
            if !node.set_pin(&key, None)? {
                say!("{key} was not pinned");
                return Err(Exit(1).into());
            }
            say!("{key}: {}", node.trust(&key)?.path);
            Ok(ExitCode::SUCCESS)
        }
        Command::List {
            mine,
            kind,
            stale,
            json,
        } => {
            let author = if mine {
                Some(home.identity()?.author())
            } else {
                None
            };
            let records = node.list(&ListFilter {
                author,
                kind,
                stale,
                now: now(),
            })?;
            out.list(&records, stale, json)?;
            Ok(found(!records.is_empty()))
        }
        Command::Retract { address, json } => {
            let record = node.retract(&address)?;
            if json {
                out.line(&serde_json::to_string(&serde_json::json!({
                    "address": record.address().to_string(),
                    "id": record.id().to_hex(),
                    "seq": record.header().seq,
                    "retracted": true,
                }))?)?;
            } else {
                out.line(&record.address().to_string())?;
            }
            say!(
                "retracted {} (tombstone seq {})",
                record.address(),
                record.header().seq
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            file,
            map,
            dry_run,
            json,
        } => import(node, &file, map.as_deref(), dry_run, json, out),
        Command::Export { .. } | Command::Reindex | Command::Compact | Command::Recover { .. } => {
            unreachable!("handled above")
        }
    }
}

/// Writes every record as JSON Lines, through the running node or from the store alone: the
/// index is not opened, so an export works whatever state the index is in.
fn export(home: &Home, output: Option<PathBuf>) -> Result<ExitCode> {
    let client = Client::find(home.dir())?;
    let write = |out: &mut dyn Write| -> Result<u64> {
        Ok(match &client {
            Some(client) => client.export(out)?,
            None => {
                let path = home.data_dir().join(convene_node::STORE_FILE);
                let store = convene_node::Store::open_existing(&path)
                    .map_err(NodeError::from)
                    .with_context(|| {
                        format!("opening the store in {}", home.data_dir().display())
                    })?;
                convene_node::export_store(&store, out)?
            }
        })
    };
    let count = match output {
        Some(path) => {
            let file = std::fs::File::create(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut writer = io::BufWriter::new(file);
            let count = write(&mut writer)?;
            writer
                .into_inner()
                .map_err(|e| e.into_error())
                .and_then(|file| file.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            count
        }
        None => write(&mut io::BufWriter::new(io::stdout().lock()))?,
    };
    say!("exported {count} records");
    Ok(ExitCode::SUCCESS)
}

/// `convene recover`: a new store from what the damaged one still holds, then from peers.
fn recover(home: &Home, from_peers: bool, wait: u64) -> Result<ExitCode> {
    if let Some(client) = Client::find(home.dir())? {
        bail!(
            "a node is running on this home (its API at {}); stop it before recovering the store",
            client.address()
        );
    }
    let data = home.data_dir();
    let state = convene_node::recover::store_state(&data)?;
    match &state {
        convene_node::recover::StoreState::Healthy => {
            say!(
                "the store in {} opens fine: nothing to salvage",
                data.display()
            )
        }
        convene_node::recover::StoreState::Missing => {
            say!("no store in {}: starting an empty one", data.display())
        }
        convene_node::recover::StoreState::Damaged(reason) => {
            say!("the store in {} is damaged ({reason})", data.display())
        }
    }
    let progress = progress::Bar::new("bytes");
    let recovery = convene_node::recover::recover(&data, now(), &progress)?;
    if let Some(aside) = &recovery.moved_to {
        say!(
            "moved it to {}; salvaged {} records ({} verified of {} found, older versions dropped)",
            aside.display(),
            recovery.stored,
            recovery.verified,
            recovery.found
        );
    }
    if from_peers {
        say!("fetching from peers (up to {wait} s)…");
        let fetched =
            convene_node::daemon::sync_from_peers(home, std::time::Duration::from_secs(wait))?;
        if fetched.synced.is_empty() {
            bail!(
                "no peer could be synced with in {wait} s: add one with `convene peers add TICKET` \
                 (or list it under bootstrap in config.toml) and run `convene recover --from-peers` again"
            );
        }
        say!(
            "synced with {} peer{}: {} records fetched{}",
            fetched.synced.len(),
            if fetched.synced.len() == 1 { "" } else { "s" },
            fetched.stored,
            if fetched.unfinished.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} still syncing when the wait ran out",
                    fetched.unfinished.len()
                )
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Compacts the store file, which only a stopped node allows.
fn compact(home: &Home) -> Result<ExitCode> {
    if Client::find(home.dir())?.is_some() {
        bail!(
            "a node is running on this home: stop it first (compaction needs the store to itself), \
             then run `convene compact` and start the node again"
        );
    }
    let data = home.data_dir();
    say!(
        "compacting the store and the search index in {} …",
        data.display()
    );
    let compaction = convene_node::compact(&data)
        .with_context(|| format!("compacting the store and index in {}", data.display()))?;
    let (before, after) = compaction.store_bytes;
    let mib = |bytes: u64| bytes as f64 / 1_048_576.0;
    say!(
        "compacted the store: {:.1} MiB → {:.1} MiB ({:.1} MiB given back)",
        mib(before),
        mib(after),
        mib(before.saturating_sub(after))
    );
    match compaction.index_segments {
        Some((before, after)) => say!("merged the search index: {before} segments → {after}"),
        None => say!(
            "left the search index alone: it could not be read, and the node rebuilds it from \
             the store when it starts"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Rebuilds the search index. Without a running node, from the store alone: the old index is
/// deleted unread, so a damaged one cannot stand in the way.
fn reindex(home: &Home) -> Result<ExitCode> {
    let progress = progress::Bar::new("records");
    let indexed = match Client::find(home.dir())? {
        Some(mut client) => client.reindex(&progress)?,
        None => {
            let data = home.data_dir();
            let store = data.join(convene_node::STORE_FILE);
            // Check the store first: a missing store must not cost the index too.
            drop(
                convene_node::Store::open_existing(&store)
                    .map_err(NodeError::from)
                    .with_context(|| format!("opening the store in {}", data.display()))?,
            );
            let index = data.join(convene_node::INDEX_DIR);
            match std::fs::remove_dir_all(&index) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("removing {}", index.display()));
                }
            }
            let mut node = Node::open_with(&data, false, &progress)?;
            if node.index().position()? != node.store().log_head()? {
                // Opening could not index everything (it only warns): now it is an error.
                node.reindex(&progress)?;
            }
            let indexed = node.index().num_docs();
            node.close()?;
            indexed
        }
    };
    say!("indexed {indexed} records");
    Ok(ExitCode::SUCCESS)
}

fn found(any: bool) -> ExitCode {
    if any {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn resolve_home(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    directories::ProjectDirs::from("org", "Convene", "convene")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .context("cannot find a data directory for this user; pass --home DIR or set CONVENE_HOME")
}

fn init(dir: &Path, name: Option<String>, out: &mut Out) -> Result<ExitCode> {
    // Check the organisation's profile before anything is written, so a bad name leaves no
    // half-made home behind. (The key it is checked with is thrown away.)
    let profile = |author: &convene_protocol::AuthorKey| {
        name.as_ref()
            .map(|name| {
                let json = serde_json::json!({ "kind": "organisation", "name": name });
                let draft = Draft::from_json(json, "--name", author)?;
                Ok::<_, NodeError>(draft)
            })
            .transpose()
    };
    let scratch = convene_protocol::Identity::generate()
        .map_err(|e| anyhow::anyhow!("cannot make a key: {e}"))?;
    profile(&scratch.author())?;
    let existed = dir.exists();
    let made = (|| -> Result<String> {
        let home = Home::init(dir, name.clone())?;
        let identity = home.identity()?;
        let mut node = Node::create(&home.data_dir())?;
        let mut lines = format!(
            "Created a Convene home in {}\nIdentity: {}\n",
            dir.display(),
            identity.author()
        );
        if let Some(draft) = profile(&identity.author())? {
            let publisher = Publisher::of(&home)?;
            if let PublishOutcome::Published(published) =
                node.publish(&publisher, draft, SimilarCheck::Skip, now())?
            {
                lines.push_str(&format!("Organisation: {}\n", published.record.address()));
            }
        }
        node.close()?;
        Ok(lines)
    })();
    let lines = match made {
        Ok(lines) => lines,
        Err(error) => {
            // Leave nothing that a second `init` would refuse as "already a home".
            if !existed
                && !matches!(
                    error.downcast_ref(),
                    Some(HomeError::AlreadyInitialised { .. })
                )
            {
                let _ = std::fs::remove_dir_all(dir);
            }
            return Err(error);
        }
    };
    for line in lines.lines() {
        out.line(line)?;
    }
    out.line("")?;
    out.line("Next: describe an experiment, a person or a lesson in a TOML file (see examples/)")?;
    out.line(&format!(
        "and run: convene --home {} publish FILE.toml",
        shell_quote(&dir.display().to_string())
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn shell_quote(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-~".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn read_draft(path: &Path, home: &Home) -> Result<Draft> {
    let (text, name, format) = if path == Path::new("-") {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .context("reading the draft from stdin")?;
        let format = DraftFormat::sniff(&text);
        (text, "stdin".to_string(), format)
    } else {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the draft {}", path.display()))?;
        let format = DraftFormat::from_path(path).unwrap_or_else(|| DraftFormat::sniff(&text));
        (text, path.display().to_string(), format)
    };
    Ok(Draft::parse(
        &text,
        format,
        &name,
        &home.identity()?.author(),
    )?)
}

/// Most generations `lineage` follows up, and down.
const LINEAGE_DEPTH: usize = 10;

/// One experiment in a lineage, with the experiments adopted from it.
#[derive(Debug, serde::Serialize)]
struct Lineage {
    address: Address,
    title: String,
    organisation: Option<String>,
    status: Option<Status>,
    outcomes: Option<String>,
    adopted_by: Vec<Lineage>,
}

/// The tree of `address`'s lineage, rooted at its oldest ancestor held here.
fn lineage(node: &dyn Directory, address: &Address) -> Result<Lineage> {
    // Up: follow adopted_from while the record is held (and no loop).
    let mut root = address.clone();
    let mut seen = vec![root.clone()];
    for _ in 0..LINEAGE_DEPTH {
        let Ok(record) = node.get(&root) else { break };
        let Some(convene_protocol::Content::Experiment(e)) = record.content() else {
            break;
        };
        match &e.adopted_from {
            Some(parent) if !seen.contains(parent) && node.get(parent).is_ok() => {
                root = parent.clone();
                seen.push(root.clone());
            }
            _ => break,
        }
    }
    let mut visited = Vec::new();
    descend(node, &root, 0, &mut visited)
}

fn descend(
    node: &dyn Directory,
    address: &Address,
    depth: usize,
    visited: &mut Vec<Address>,
) -> Result<Lineage> {
    visited.push(address.clone());
    let record = node.get(address)?;
    let trust = node.trust(&address.author)?;
    let (title, status, outcomes) = match record.content() {
        Some(convene_protocol::Content::Experiment(e)) => {
            (e.title.clone(), Some(e.status), e.outcomes.clone())
        }
        other => (
            other.map(|c| c.title().to_string()).unwrap_or_default(),
            None,
            None,
        ),
    };
    let mut children = Vec::new();
    if depth < LINEAGE_DEPTH {
        for (child, _) in adopted_from(node, address)? {
            if !visited.contains(&child) {
                children.push(descend(node, &child, depth + 1, visited)?);
            }
        }
    }
    Ok(Lineage {
        address: address.clone(),
        title,
        organisation: trust.name,
        status,
        outcomes,
        adopted_by: children,
    })
}

/// A lineage as an indented tree; `this` is marked.
fn lineage_lines(tree: &Lineage, this: &Address) -> Vec<String> {
    fn walk(
        node: &Lineage,
        prefix: &str,
        last: bool,
        root: bool,
        this: &Address,
        out: &mut Vec<String>,
    ) {
        let branch = if root {
            ""
        } else if last {
            "└─ "
        } else {
            "├─ "
        };
        let mut facts = vec![
            node.organisation
                .clone()
                .unwrap_or_else(|| "unknown organisation".into()),
        ];
        if let Some(status) = node.status {
            facts.push(status.to_string());
        }
        let marker = if node.address == *this {
            "  ← this one"
        } else {
            ""
        };
        out.push(format!(
            "{prefix}{branch}{} — {}{marker}",
            node.title,
            facts.join(" · ")
        ));
        let child_prefix = if root {
            String::new()
        } else if last {
            format!("{prefix}   ")
        } else {
            format!("{prefix}│  ")
        };
        if let Some(outcomes) = &node.outcomes {
            out.push(format!(
                "{child_prefix}   outcomes: {}",
                outcomes.lines().next().unwrap_or("")
            ));
        }
        out.push(format!("{child_prefix}   {}", node.address));
        for (i, child) in node.adopted_by.iter().enumerate() {
            walk(
                child,
                &child_prefix,
                i + 1 == node.adopted_by.len(),
                false,
                this,
                out,
            );
        }
    }
    let mut out = Vec::new();
    walk(tree, "", true, true, this, &mut out);
    out
}

/// Publishes a statement of this home's organisation (a vouch, a delegation, an interest) at
/// the one slug its kind gives it (the publishing rules pick it), replacing an earlier one.
fn publish_statement(
    node: &mut dyn Directory,
    content: convene_protocol::Content,
) -> Result<Record> {
    let draft = Draft {
        slug: None,
        content,
    };
    match node.publish(draft, SimilarCheck::Skip)? {
        PublishOutcome::Published(published) => Ok(published.record),
        _ => unreachable!("no check was asked"),
    }
}

/// Publishes `content` as the next version at `slug`, without the similar-records check.
fn publish_statement_at(
    node: &mut dyn Directory,
    slug: convene_protocol::Slug,
    content: convene_protocol::Content,
) -> Result<Record> {
    let draft = Draft {
        slug: Some(slug),
        content,
    };
    match node.publish(draft, SimilarCheck::Skip)? {
        PublishOutcome::Published(published) => Ok(published.record),
        _ => unreachable!("no check was asked"),
    }
}

/// Retracts this home's record of `kind` at `slug`.
fn retract_own(
    node: &mut dyn Directory,
    home: &Home,
    kind: Kind,
    slug: convene_protocol::Slug,
) -> Result<Record> {
    let address = Address {
        author: home.identity()?.author(),
        kind,
        slug,
    };
    Ok(node.retract(&address)?)
}

/// The default last day of a vouch or a delegation.
fn a_year_from_today() -> Date {
    Date::from_unix(now() + 365 * 24 * 3600)
}

/// The experiments adopted from `address`: address and title.
fn adopted_from(node: &dyn Directory, address: &Address) -> Result<Vec<(Address, String)>> {
    Ok(node
        .search(&Query {
            kind: Some(Kind::Experiment),
            adopted_from: Some(address.clone()),
            limit: 100,
            ..Query::default()
        })?
        .into_iter()
        .map(|found| (found.hit.address, found.hit.title))
        .collect())
}

/// How to reach a practitioner whose contact is not for everyone: the contact card's, when
/// this node may hold it, else who may see it.
fn shown_contact(node: &dyn Directory, record: &Record) -> Option<String> {
    let Some(convene_protocol::Content::Practitioner(person)) = record.content() else {
        return None;
    };
    match person.contact_visibility? {
        convene_protocol::ContactVisibility::Everyone => None,
        convene_protocol::ContactVisibility::Nobody => {
            Some("ask through their organisation".into())
        }
        convene_protocol::ContactVisibility::Networks => {
            let card = Address {
                kind: Kind::Contact,
                ..record.address()
            };
            Some(
                match node.get(&card).ok().and_then(|r| r.content().cloned()) {
                    Some(convene_protocol::Content::ContactCard(card)) => {
                        format!("{} (shown to its networks' members)", card.contact)
                    }
                    _ => "only for members of the networks they are published in".into(),
                },
            )
        }
    }
}

/// Sets the networks a draft is published into: those given with `--network`, else the
/// draft's own, else the config's; each a network's name or address, or `commons`.
fn place(home: &Home, node: &dyn Directory, draft: &mut Draft, given: &[String]) -> Result<()> {
    let configured = &home.config().networks;
    let Some(networks) = draft.content.networks_mut() else {
        if !given.is_empty() {
            bail!(
                "a {} is in no network: --network is for experiments, practitioners and lessons",
                draft.content.kind()
            );
        }
        return Ok(());
    };
    let names = if !given.is_empty() {
        given
    } else if networks.is_empty() {
        configured
    } else {
        return Ok(());
    };
    if names.is_empty() {
        return Ok(());
    }
    let mut chosen = Vec::new();
    for name in names {
        let id = match name.parse::<convene_protocol::NetworkId>() {
            Ok(id) => id,
            Err(_) => network::find(node, name)?.id,
        };
        if !chosen.contains(&id) {
            chosen.push(id);
        }
    }
    *networks = chosen;
    Ok(())
}

fn publish(
    home: &Home,
    node: &mut dyn Directory,
    file: &Path,
    networks: &[String],
    yes: bool,
    json: bool,
    out: &mut Out,
) -> Result<ExitCode> {
    let mut draft = read_draft(file, home)?;
    place(home, node, &mut draft, networks)?;
    let check = if yes {
        SimilarCheck::Skip
    } else {
        SimilarCheck::Ask { limit: 5 }
    };
    let similar = match node.publish(draft.clone(), check)? {
        PublishOutcome::Published(published) => {
            out.published(&published, json)?;
            warn_unresolved(node, &published);
            return Ok(ExitCode::SUCCESS);
        }
        PublishOutcome::Similar(similar) => {
            explain_similar(draft.content.kind(), &similar);
            similar
        }
        PublishOutcome::Retracted(address) => {
            say!("{address} was retracted: publishing it again brings it back for everyone.");
            Vec::new()
        }
    };
    let interactive =
        file != Path::new("-") && io::stdin().is_terminal() && io::stderr().is_terminal();
    if !interactive {
        say!("Not published. Re-run with --yes to publish anyway.");
        not_published(out, &similar, json)?;
        return Err(Exit(4).into());
    }
    say_inline!("Publish anyway? [y/N] ");
    io::stderr().flush().ok();
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer")?;
    if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        say!("Not published.");
        not_published(out, &similar, json)?;
        return Err(Exit(4).into());
    }
    let PublishOutcome::Published(published) = node.publish(draft, SimilarCheck::Skip)? else {
        unreachable!("no check was asked")
    };
    out.published(&published, json)?;
    warn_unresolved(node, &published);
    Ok(ExitCode::SUCCESS)
}

/// Says which records a publish is held up by, and what to do instead.
fn explain_similar(kind: Kind, similar: &[(f32, convene_node::search::Hit)]) {
    let many = if similar.len() == 1 { "" } else { "s" };
    let exist = if many.is_empty() { "s" } else { "" };
    let person = kind == Kind::Practitioner;
    if person {
        say!(
            "{} {kind}{many} with the same name already exist{exist}:",
            similar.len()
        );
    } else {
        say!(
            "{} similar {kind}{many} already exist{exist}:",
            similar.len()
        );
    }
    for (similarity, hit) in similar {
        say!(
            "  {:>3.0}%  {}  {}",
            similarity * 100.0,
            hit.title,
            hit.address
        );
    }
    if person {
        say!("If this is the same person, update that record instead.");
    } else {
        say!("Consider joining or updating one of them instead.");
    }
}

/// Warns about references to records this node does not hold (regression: issue 11,
/// friction 6 — a contact that does not exist was taken silently, and the person then never
/// showed in `people`).
fn warn_unresolved(node: &dyn Directory, published: &convene_node::Published) {
    let Some(content) = published.record.content() else {
        return;
    };
    for (field, referenced) in content.references() {
        if node.get(referenced).is_err() {
            say!("warning: {field}: {referenced} is not a record this node holds (yet)");
        }
    }
}

/// With `--json`, what a publish held up by similar records prints (regression: issue 11,
/// friction 12 — it printed nothing).
fn not_published(
    out: &mut Out,
    similar: &[(f32, convene_node::search::Hit)],
    json: bool,
) -> Result<()> {
    if json {
        let similar: Vec<serde_json::Value> = similar
            .iter()
            .map(|(similarity, hit)| {
                serde_json::json!({
                    "similarity": similarity,
                    "title": hit.title,
                    "address": hit.address.to_string(),
                })
            })
            .collect();
        out.line(&serde_json::to_string(
            &serde_json::json!({ "published": false, "similar": similar }),
        )?)?;
    }
    Ok(())
}

fn import(
    node: &mut dyn Directory,
    file: &Path,
    map: Option<&Path>,
    dry_run: bool,
    json: bool,
    out: &mut Out,
) -> Result<ExitCode> {
    let is_csv = file
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("csv"));
    if is_csv && map.is_none() {
        bail!(
            "{} looks like a CSV: pass --map MAPPING.toml to say which columns are which fields",
            file.display()
        );
    }
    let (mut input, size): (Box<dyn BufRead + Send>, Option<u64>) = if file == Path::new("-") {
        (Box::new(io::BufReader::new(io::stdin())), None)
    } else {
        let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
        let size = f.metadata().ok().map(|m| m.len());
        (Box::new(io::BufReader::with_capacity(1 << 20, f)), size)
    };
    let progress = progress::Bar::new("bytes");
    convene_node::Progress::start(&progress, size, "importing");
    let report = match map {
        Some(map_path) => {
            let text = std::fs::read_to_string(map_path)
                .with_context(|| format!("reading the mapping {}", map_path.display()))?;
            let mapping = convene_node::CsvMapping::parse(&text)
                .map_err(|reason| anyhow::anyhow!("{}: {reason}", map_path.display()))?;
            node.import_csv(&mut input, &mapping, &text, dry_run, &progress)?
        }
        None => node.import_jsonl(&mut input, dry_run, &progress)?,
    };
    convene_node::Progress::finish(&progress);
    if json {
        out.line(&serde_json::to_string(&report)?)?;
    }
    for rejection in &report.rejected {
        say!("line {}: rejected: {}", rejection.line, rejection.reason);
    }
    // Regression (issue 11, friction 7): a renamed project silently became a second record.
    for row in &report.similar {
        say!(
            "line {}: new, but {:.0}% like {:?} ({}): renamed? If so, retract the old one",
            row.line,
            row.similarity * 100.0,
            row.title,
            row.like
        );
    }
    let verb = if dry_run { "would store" } else { "stored" };
    say!(
        "{} lines read: {verb} {}, {} already present, {} rejected",
        report.read,
        report.stored,
        report.unchanged,
        report.rejected.len()
    );
    Ok(if report.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
