//! The `convene` command: argument parsing and output. The work happens in `convene-node`.

mod output;
mod progress;

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use convene_node::daemon::{PeerBook, PeerEntry, RunOptions};
use convene_node::search::{Query, SimilarityThreshold};
use convene_node::{Access, Client, Draft, DraftFormat, Home, ListFilter, Node, NodeError, now};
use convene_protocol::{Address, Date, Kind, Status};

use crate::output::Out;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  nothing found (search, facets, people, similar, list, show)
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
    },
    /// Sign and publish a record draft (TOML or JSON; `-` reads stdin).
    #[command(
        after_help = "A draft names its kind and fields, e.g.\n\n  kind = \"experiment\"\n  title = \"Virtual town hall\"\n  summary = \"Monthly online public meeting\"\n  status = \"running\"\n  tags = [\"engagement\"]\n\nSee examples/ for every kind. Publishing an existing slug makes its next version."
    )]
    Publish {
        file: PathBuf,
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
        /// Number of results.
        #[arg(short = 'n', long, default_value_t = 10)]
        limit: usize,
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
        #[arg(short = 'n', long, default_value_t = 10)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Records most like a given record (address) or draft (file).
    Similar {
        target: String,
        #[arg(short = 'n', long, default_value_t = 10)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show one record.
    Show {
        address: Address,
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
    Retract { address: Address },
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
    },
    /// Rebuild the search index from the store.
    Reindex,
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
    },
    /// The running node: peer id, addresses, connected peers, record counts, last sync.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print a ticket (peer id and addresses) that another node can add with `convene peers add`.
    Ticket,
}

#[derive(Debug, Subcommand)]
enum PeersCommand {
    /// Remember a peer and connect to it: a ticket, or a multiaddr like /ip4/192.0.2.7/tcp/4717/p2p/12D3Koo…
    Add { peer: String },
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
}

impl SearchArgs {
    fn into_query(self, limit: usize) -> Query {
        Query {
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
            limit,
        }
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
                eprintln!("convene: {node_error}");
                return ExitCode::from(1);
            }
            eprintln!("convene: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<ExitCode> {
    let home_dir = resolve_home(cli.home)?;
    let mut out = Out::stdout();
    if let Command::Init { name } = &cli.command {
        return init(&home_dir, name.clone(), &mut out);
    }
    let home = Home::open(&home_dir)?;
    match cli.command {
        Command::Node { command } => return node_command(command, &home, &mut out),
        Command::Peers { command } => return peers_command(command, &home, &mut out),
        _ => {}
    }
    let mut node = Access::open(&home)
        .with_context(|| format!("opening the store in {}", home.data_dir().display()))?;
    let code = command(cli.command, &home, &mut node, &mut out)?;
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
        } => {
            let options = RunOptions {
                listen,
                api,
                mdns: no_mdns.then_some(false),
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
    }
}

fn peers_command(command: PeersCommand, home: &Home, out: &mut Out) -> Result<ExitCode> {
    let client = Client::connect(home.dir());
    match command {
        PeersCommand::Add { peer } => {
            let entry = match &client {
                Some(client) => client.add_peer(&peer)?,
                None => {
                    let entry = PeerEntry::parse(&peer)?;
                    PeerBook::load(home.dir())?.add(entry.clone())?;
                    entry
                }
            };
            let name = entry
                .peer
                .map_or_else(|| "the peer".to_string(), |p| p.to_string());
            let when = if client.is_some() {
                "connecting now"
            } else {
                "the node will connect when it runs"
            };
            eprintln!("added {name} ({when})");
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
            eprintln!(
                "forgot {} peer entr{}",
                removed.len(),
                if removed.len() == 1 { "y" } else { "ies" }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn command(command: Command, home: &Home, node: &mut Access, out: &mut Out) -> Result<ExitCode> {
    match command {
        Command::Init { .. } | Command::Node { .. } | Command::Peers { .. } => {
            unreachable!("handled above")
        }
        Command::Publish { file, yes, json } => publish(home, node, &file, yes, json, out),
        Command::Search {
            search,
            limit,
            json,
        } => {
            let hits = node.search(&search.into_query(limit))?;
            out.hits(&hits, json)?;
            Ok(found(!hits.is_empty()))
        }
        Command::Facets { search, json } => {
            let facets = node.facets(&search.into_query(0))?;
            out.facets(&facets, json)?;
            Ok(found(facets.iter().any(|facet| !facet.values.is_empty())))
        }
        Command::People { query, limit, json } => {
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
            let similar =
                node.similar(&content, exclude.as_ref(), SimilarityThreshold::ANY, limit)?;
            out.similar(&similar, json)?;
            Ok(found(!similar.is_empty()))
        }
        Command::Show { address, json } => {
            let record = node.get(&address)?;
            out.record(&record, json)?;
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
            out.list(&records, json)?;
            Ok(found(!records.is_empty()))
        }
        Command::Retract { address } => {
            let record = node.retract(&home.identity()?, &address, now())?;
            out.line(&record.address().to_string())?;
            eprintln!(
                "retracted {} (tombstone seq {})",
                record.address(),
                record.header().seq
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { output } => {
            let count = match output {
                Some(path) => {
                    let file = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let mut writer = io::BufWriter::new(file);
                    let count = node.export(&mut writer)?;
                    writer
                        .into_inner()
                        .map_err(|e| e.into_error())
                        .and_then(|file| file.sync_all())
                        .with_context(|| format!("writing {}", path.display()))?;
                    count
                }
                None => node.export(&mut io::BufWriter::new(io::stdout().lock()))?,
            };
            eprintln!("exported {count} records");
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { file, map, dry_run } => {
            import(home, node, &file, map.as_deref(), dry_run)
        }
        Command::Reindex => {
            let progress = progress::Bar::new("records");
            let indexed = node.reindex(&progress)?;
            eprintln!("indexed {indexed} records");
            Ok(ExitCode::SUCCESS)
        }
    }
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
    let home = Home::init(dir, name.clone())?;
    let identity = home.identity()?;
    let mut node = Node::open(&home.data_dir())?;
    out.line(&format!("Created a Convene home in {}", dir.display()))?;
    out.line(&format!("Identity: {}", identity.author()))?;
    if let Some(name) = name {
        let draft = Draft::from_json(
            serde_json::json!({ "kind": "organisation", "name": name }),
            "--name",
            &identity.author(),
        )?;
        let published = node.publish(&identity, &draft, now())?;
        out.line(&format!("Organisation: {}", published.record.address()))?;
    }
    node.close()?;
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

fn publish(
    home: &Home,
    node: &mut Access,
    file: &Path,
    yes: bool,
    json: bool,
    out: &mut Out,
) -> Result<ExitCode> {
    let identity = home.identity()?;
    let mut draft = read_draft(file, home)?;
    draft.fill_organisation(home.config().organisation.as_deref());
    let address = draft.address(&identity.author());
    let similar = node.similar(
        &draft.content,
        Some(&address),
        SimilarityThreshold::PUBLISH,
        5,
    )?;
    if !similar.is_empty() && !yes {
        let kind = draft.content.kind();
        let many = if similar.len() == 1 { "" } else { "s" };
        eprintln!(
            "{} similar {kind}{many} already exist{}:",
            similar.len(),
            if many.is_empty() { "s" } else { "" }
        );
        for (similarity, hit) in &similar {
            eprintln!(
                "  {:>3.0}%  {}  {}",
                similarity * 100.0,
                hit.title,
                hit.address
            );
        }
        eprintln!("Consider joining or updating one of them instead.");
        let interactive =
            file != Path::new("-") && io::stdin().is_terminal() && io::stderr().is_terminal();
        if !interactive {
            eprintln!("Not published. Re-run with --yes to publish anyway.");
            return Err(Exit(4).into());
        }
        eprint!("Publish anyway? [y/N] ");
        io::stderr().flush().ok();
        let mut answer = String::new();
        io::stdin()
            .lock()
            .read_line(&mut answer)
            .context("reading the answer")?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            eprintln!("Not published.");
            return Err(Exit(4).into());
        }
    }
    let published = node.publish(&identity, &draft, now())?;
    out.published(&published, json)?;
    Ok(ExitCode::SUCCESS)
}

fn import(
    home: &Home,
    node: &mut Access,
    file: &Path,
    map: Option<&Path>,
    dry_run: bool,
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
            let identity = home.identity()?;
            let job = convene_node::CsvImport {
                mapping: &mapping,
                identity: &identity,
                organisation: home.config().organisation.as_deref(),
                dry_run,
                now: now(),
            };
            node.import_csv(&mut input, &job, &text, &progress)?
        }
        None => node.import_jsonl(&mut input, dry_run, now(), &progress)?,
    };
    convene_node::Progress::finish(&progress);
    for rejection in &report.rejected {
        eprintln!("line {}: rejected: {}", rejection.line, rejection.reason);
    }
    let verb = if dry_run { "would store" } else { "stored" };
    eprintln!(
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
