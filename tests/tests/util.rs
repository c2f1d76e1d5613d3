//! Helpers for driving the real `convene` binary: a temporary home and a command wrapper whose
//! failures show what was run and what came back.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `convene` binary built by `cargo test --workspace` next to this test binary.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/..");
    let binary = dir.join(format!("convene{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds it",
        binary.display()
    );
    binary
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
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(line: String, output: Output) -> Run {
        Run {
            line,
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

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
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
        Run::from(line, child.wait_with_output().unwrap())
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
