//! Helpers for driving the real `convene` binary: a temporary home and a command wrapper whose
//! failures show what was run and what came back.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The `convene` binary, freshly built: the first call runs `cargo build -p convene` for this
/// test binary's profile (a no-op when nothing changed), so `cargo test -p convene-tests` after
/// a change to the command never runs a stale binary.
pub fn binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test binary path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>/deps/..");
            let target_dir = profile_dir.parent().expect("target/<profile>");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut build = Command::new(cargo);
            build
                .current_dir(repo())
                .args([
                    "build", "--quiet", "--locked", "-p", "convene", "--bin", "convene",
                ])
                .arg("--target-dir")
                .arg(target_dir);
            let profile = profile_dir.file_name().and_then(|n| n.to_str());
            if profile == Some("release") {
                build.arg("--release");
            }
            let status = build
                .status()
                .expect("running cargo build for the convene binary");
            assert!(status.success(), "building the convene binary failed");
            let binary = profile_dir.join(format!("convene{}", std::env::consts::EXE_SUFFIX));
            assert!(
                binary.exists(),
                "{} is missing after the build",
                binary.display()
            );
            binary
        })
        .clone()
}

/// The repository root, for the sample records in `examples/`.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// What a command printed and how it exited.
pub struct Run {
    pub line: String,
    /// The arguments after `--home HOME`.
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(line: String, args: &[&str], output: Output) -> Run {
        Run {
            line,
            args: args.iter().map(|arg| arg.to_string()).collect(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing everything on failure.
    #[track_caller]
    pub fn code(self, expected: i32) -> Run {
        assert_eq!(self.code, expected, "unexpected exit code\n{self}");
        self
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        self.code(0)
    }

    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Run {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Run {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{self}"
        );
        self
    }

    /// Stdout as JSON. With `--json`, it is also checked against the command's JSON Schema
    /// in `docs/schemas/` (see `schemas.rs`), so every output a test reads checks the schema.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        let value = serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"));
        if self.args.iter().any(|arg| arg == "--json") {
            let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
            crate::schemas::check(&args, &value, self);
        }
        value
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ran: {}\nexit code: {}\n--- stdout\n{}--- stderr\n{}---",
            self.line, self.code, self.stdout, self.stderr
        )
    }
}

/// A Convene home in a temporary directory.
pub struct Home {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Home {
    /// A directory where a home can be created, not yet initialised.
    pub fn empty() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("home");
        Home { _dir: dir, path }
    }

    /// A home at `path` (not yet initialised), which the caller keeps alive.
    pub fn at(path: PathBuf) -> Home {
        let dir = tempfile::tempdir().unwrap();
        Home { _dir: dir, path }
    }

    /// An initialised home for an organisation.
    pub fn init(organisation: &str) -> Home {
        let home = Home::empty();
        home.run(&["init", "--name", organisation]).ok();
        home
    }

    /// An initialised home with every sample record from `examples/records` published.
    pub fn with_samples() -> Home {
        let home = Home::init("Example Metropolitan Council");
        let mut samples: Vec<PathBuf> = std::fs::read_dir(repo().join("examples/records"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        samples.sort();
        for sample in samples {
            home.run(&["publish", "--yes", sample.to_str().unwrap()])
                .ok();
        }
        home
    }

    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path.parent().unwrap().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None)
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut command = Command::new(binary());
        command
            .arg("--home")
            .arg(&self.path)
            .args(args)
            .env_remove("CONVENE_HOME")
            .env("NO_COLOR", "1")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let line = format!("convene --home {} {}", self.path.display(), args.join(" "));
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {line}: {e}"));
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        Run::from(line, args, child.wait_with_output().unwrap())
    }

    /// The address printed by publishing `draft` (TOML text) with --yes.
    pub fn publish(&self, name: &str, draft: &str) -> String {
        let path = self.file(name, draft);
        self.run(&["publish", "--yes", path.to_str().unwrap()])
            .ok()
            .stdout
            .trim()
            .to_string()
    }

    /// Addresses from a piped `search` (tab-separated: score, kind, address, title).
    pub fn search_addresses(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["search"];
        all.extend_from_slice(args);
        self.run(&all)
            .stdout
            .lines()
            .map(|line| line.split('\t').nth(2).unwrap_or_default().to_string())
            .collect()
    }
}

/// Tests that start node processes take turns (one at a time), so that their time limits
/// measure the nodes, not the machine's crowding.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running `convene node run` on a home.
pub struct NodeProcess {
    pub child: Child,
    log: PathBuf,
}

impl NodeProcess {
    pub fn start(home: &Home) -> NodeProcess {
        let log = home.path.with_extension(format!("{}.log", now_nanos()));
        let child = Command::new(binary())
            .args(["--home", home.path.to_str().unwrap(), "node", "run"])
            .args(["--listen", "/ip4/127.0.0.1/tcp/0", "--api", "127.0.0.1:0"])
            .arg("--no-mdns")
            .env(
                "RUST_LOG",
                "info,libp2p_kad=error,convene_node::daemon::actor=debug",
            )
            .env_remove("CONVENE_HOME")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting convene node run");
        let node = NodeProcess { child, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = home.run(&["node", "status", "--json"]);
            if status.code == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the node did not start\n{status}\n{}",
                node.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        node
    }

    pub fn log(&self) -> String {
        format!(
            "--- node log\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    /// SIGTERM, and wait for the clean shutdown.
    pub fn stop(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        // Regression: a handle kept by the daemon once made the store actor wait forever here.
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the node did not stop within 30 s of SIGTERM\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            status.success(),
            "unclean shutdown: {status}\n{}",
            self.log()
        );
    }

    pub fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// An HTTP answer read off the wire: status code, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one raw HTTP/1.1 request (`Connection: close`) and reads the whole answer.
pub fn http(api: &str, head: &str, body: &[u8]) -> Answer {
    let mut stream = std::net::TcpStream::connect(api).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!("{head}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    // The server may answer (and close) before it reads a refused body.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

impl Home {
    /// The running node's API address.
    pub fn api(&self) -> String {
        std::fs::read_to_string(self.path.join("node.api"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// The token the node's API wants for writes.
    pub fn token(&self) -> String {
        std::fs::read_to_string(self.path.join("api.token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Sets `[node]` settings in config.toml (lines like `key = value`).
    pub fn set_node_config(&self, lines: &str) {
        let path = self.path.join("config.toml");
        let config = std::fs::read_to_string(&path).unwrap();
        let config = config.replacen("\n[node]\n", &format!("\n[node]\n{lines}\n"), 1);
        std::fs::write(path, config).unwrap();
    }
}

/// The author key of an address (`convene://KEY/kind/slug`), as the commands take it.
pub fn key_of(address: &str) -> String {
    address
        .trim_start_matches("convene://")
        .split('/')
        .next()
        .unwrap()
        .to_string()
}

impl Home {
    /// This home's identity key, as in its addresses (from its own profile record).
    pub fn own_key(&self) -> String {
        let listed = self.run(&["list", "--mine", "--json"]).ok().json();
        key_of(listed[0]["address"].as_str().unwrap())
    }
}

pub fn status(home: &Home) -> serde_json::Value {
    home.run(&["node", "status", "--json"]).ok().json()
}

pub fn ticket(home: &Home) -> String {
    home.run(&["node", "ticket"]).ok().stdout.trim().to_string()
}

pub fn peer_id(home: &Home) -> String {
    status(home)["peer_id"].as_str().unwrap().to_string()
}

/// Waits until `check` holds, or fails after `limit` showing `context`.
#[track_caller]
pub fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

/// Every (address, id) a home stores, retractions included.
pub fn held(home: &Home) -> BTreeSet<(String, String)> {
    home.run(&["export"])
        .ok()
        .stdout
        .lines()
        .map(|line| {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                line["address"].as_str().unwrap().to_string(),
                line["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Copies every record of `from` into `to` (export, then import).
pub fn carry(from: &Home, to: &Home) {
    let export = from.run(&["export"]).ok().stdout;
    let file = to.file("carried.jsonl", &export);
    to.run(&["import", file.to_str().unwrap()]).ok();
}

/// Publishes a draft into `networks` (none: the commons); the record's address.
pub fn publish_into(home: &Home, name: &str, draft: &str, networks: &[&str]) -> String {
    let file = home.file(name, draft);
    let mut args = vec!["publish", file.to_str().unwrap(), "--yes", "--json"];
    for network in networks {
        args.extend(["--network", network]);
    }
    home.run(&args).ok().json()["address"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Convenes a network named `name` on `home` (members-only or open); its address.
pub fn create_network(home: &Home, name: &str, members_only: bool) -> String {
    let mut args = vec!["network", "create", name];
    if members_only {
        args.push("--members-only");
    }
    home.run(&args).ok().stdout.trim().to_string()
}
