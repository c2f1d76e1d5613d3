//! A home of 100,000 records (or `CONVENE_BENCH_RECORDS`) seen from outside, as a practitioner
//! and an operator see it: `convene search`, `people` and `similar` timed from process start to
//! answer, first on the home alone and then through a running node, and the node's memory at
//! rest and after those searches. Beside them, as the baseline, the time `convene --version`
//! takes to start and exit.
//!
//! `cargo bench -p convene --bench home` (the corpus is `node/benches/corpus`, the same as the
//! ingest benchmark's). Prints a Markdown table. `CONVENE_BENCH_HOME=DIR` keeps the home in DIR
//! and reuses it on later runs.

#[path = "../../node/benches/corpus/mod.rs"]
mod corpus;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use convene_node::ExportLine;
use corpus::{REGIONS, Rng, Vocabulary, generate};

const BIN: &str = env!("CARGO_BIN_EXE_convene");

fn convene(home: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("CONVENE_HOME")
        .stdin(Stdio::null())
        .output()
        .expect("running convene")
}

fn ok(output: Output, what: &str) -> Output {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// One command of the mix: its kind (for the table) and its arguments.
struct Ask {
    kind: &'static str,
    args: Vec<String>,
}

fn mix(vocabulary: &Vocabulary, similar_to: &[String]) -> Vec<Ask> {
    let mut rng = Rng(7);
    let mut asks = Vec::new();
    let mut push = |kind, args: Vec<String>| asks.push(Ask { kind, args });
    for n in 0..120 {
        let search = |words: String| vec!["search".to_string(), words];
        match n % 6 {
            0 => push("one word", search(vocabulary.word(&mut rng).to_string())),
            1 => push(
                "two or three words",
                search(vocabulary.text(&mut rng, 2, 3)),
            ),
            2 => push(
                "a question",
                search(format!(
                    "how did a council {} {} with {}?",
                    vocabulary.word(&mut rng),
                    vocabulary.word(&mut rng),
                    vocabulary.word(&mut rng)
                )),
            ),
            3 => push(
                "a quoted phrase",
                search(format!("\"{}\"", vocabulary.text(&mut rng, 2, 2))),
            ),
            4 => {
                let mut args = search(vocabulary.word(&mut rng).to_string());
                args.extend(["--kind", "experiment", "--region"].map(String::from));
                args.push(rng.pick(REGIONS).to_string());
                push("filtered by kind and region", args);
            }
            _ => {
                if n % 12 == 5 {
                    push(
                        "people",
                        vec!["people".into(), vocabulary.word(&mut rng).to_string()],
                    );
                } else {
                    let target = &similar_to[(n / 12) % similar_to.len()];
                    push("similar", vec!["similar".into(), target.clone()]);
                }
            }
        }
    }
    asks
}

/// Runs every command of `asks` once, timed from spawn to exit; each must answer (exit 0 or
/// 1, "nothing found").
fn timed(home: &Path, asks: &[Ask]) -> Vec<(&'static str, Duration)> {
    asks.iter()
        .map(|ask| {
            let args: Vec<&str> = ask.args.iter().map(String::as_str).collect();
            let start = Instant::now();
            let output = convene(home, &args);
            let elapsed = start.elapsed();
            assert!(
                matches!(output.status.code(), Some(0 | 1)),
                "{:?} failed: {}",
                ask.args,
                String::from_utf8_lossy(&output.stderr)
            );
            (ask.kind, elapsed)
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Median, p99 and max of the times of `kind` (or of all).
fn summary(times: &[(&str, Duration)], kind: Option<&str>) -> String {
    let mut picked: Vec<Duration> = times
        .iter()
        .filter(|(k, _)| kind.is_none_or(|kind| kind == *k))
        .map(|(_, d)| *d)
        .collect();
    picked.sort();
    format!(
        "{} / {} / {}",
        ms(percentile(&picked, 0.5)),
        ms(percentile(&picked, 0.99)),
        ms(*picked.last().unwrap())
    )
}

/// A process's resident memory from /proc: (all, anonymous, file-backed), in MiB.
fn memory(pid: u32) -> (f64, f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("RssAnon:"), field("RssFile:"))
}

fn start_node(home: &Path) -> Child {
    let child = Command::new(BIN)
        .arg("--home")
        .arg(home)
        .args(["node", "run", "--listen", "/ip4/127.0.0.1/tcp/0"])
        .args(["--api", "127.0.0.1:0", "--no-mdns"])
        .env_remove("CONVENE_HOME")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting convene node run");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !convene(home, &["node", "status"]).status.success() {
        assert!(Instant::now() < deadline, "the node did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    child
}

fn main() {
    let count: usize = std::env::var("CONVENE_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
        .clamp(1_000, 5_000_000);
    let dir = tempfile::tempdir().unwrap();
    // `CONVENE_BENCH_HOME=DIR` keeps the home there, and a later run with the same DIR uses
    // it as it is (no import timed): for trying changes on a large home.
    let kept = std::env::var_os("CONVENE_BENCH_HOME").map(PathBuf::from);
    let home: PathBuf = kept.clone().unwrap_or_else(|| dir.path().join("home"));
    let vocabulary = Vocabulary::new();
    let reused = kept.is_some() && home.join("data").exists();
    let import = if reused {
        eprintln!("using the home in {}", home.display());
        None
    } else {
        ok(
            convene(&home, &["init", "--name", "Benchmark Council"]),
            "init",
        );
        eprintln!("generating {count} signed records…");
        let corpus = dir.path().join("corpus.jsonl");
        {
            let records = generate(count, &vocabulary);
            let mut file = std::io::BufWriter::new(std::fs::File::create(&corpus).unwrap());
            for record in &records {
                serde_json::to_writer(&mut file, &ExportLine::of(record)).unwrap();
                std::io::Write::write_all(&mut file, b"\n").unwrap();
            }
        }
        eprintln!("importing with `convene import`…");
        let start = Instant::now();
        ok(
            convene(&home, &["import", corpus.to_str().unwrap()]),
            "import",
        );
        std::fs::remove_file(&corpus).unwrap();
        Some(start.elapsed())
    };

    // Records for `similar` to start from: the first results of a few searches.
    let mut rng = Rng(11);
    let mut similar_to = Vec::new();
    while similar_to.len() < 5 {
        let word = vocabulary.word(&mut rng).to_string();
        let found = convene(&home, &["search", "--json", "-n", "1", &word]);
        let hits: serde_json::Value = serde_json::from_slice(&found.stdout).unwrap_or_default();
        if let Some(address) = hits[0]["address"].as_str() {
            similar_to.push(address.to_string());
        }
    }
    let asks = mix(&vocabulary, &similar_to);
    let baseline: Vec<(&str, Duration)> = (0..40)
        .map(|_| {
            let start = Instant::now();
            ok(convene(&home, &["--version"]), "--version");
            ("start", start.elapsed())
        })
        .collect();

    // The home alone: each command opens the store and the index itself.
    timed(&home, &asks[..10]);
    let alone = timed(&home, &asks);

    // Through a running node.
    let mut node = start_node(&home);
    std::thread::sleep(Duration::from_secs(2));
    let at_rest = memory(node.id());
    timed(&home, &asks[..10]);
    let through = timed(&home, &asks);
    for _ in 1..4 {
        timed(&home, &asks);
    }
    let after = memory(node.id());
    let _ = Command::new("kill")
        .args(["-TERM", &node.id().to_string()])
        .status();
    let _ = node.wait();

    let store = std::fs::metadata(home.join("data").join("store.redb"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!("| measure | value |");
    println!("|---|---|");
    let imported = import.map_or_else(
        || "an existing home".to_string(),
        |import| {
            format!(
                "{count}, imported by `convene import` at {:.0} records/s",
                count as f64 / import.as_secs_f64()
            )
        },
    );
    println!(
        "| records | {imported}; store file {:.0} MiB |",
        store as f64 / (1024.0 * 1024.0)
    );
    println!(
        "| `convene --version`, start to exit (baseline): median / p99 / max | {} |",
        summary(&baseline, None)
    );
    for (label, times) in [
        ("the home alone", &alone),
        ("through a running node", &through),
    ] {
        println!(
            "| the whole mix ({} commands), {label}: median / p99 / max | {} |",
            times.len(),
            summary(times, None)
        );
        let mut kinds: Vec<&str> = times.iter().map(|(k, _)| *k).collect();
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            println!("| … {kind}, {label} | {} |", summary(times, Some(kind)));
        }
    }
    let mib = |(all, anon, file): (f64, f64, f64)| {
        format!("{all:.0} MiB ({anon:.0} anonymous, {file:.0} file-backed)")
    };
    println!("| node memory at rest (RSS) | {} |", mib(at_rest));
    println!(
        "| node memory after {} searches through it (RSS) | {} |",
        asks.len() * 4 + 10,
        mib(after)
    );
}
