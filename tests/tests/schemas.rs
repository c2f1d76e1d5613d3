//! Every command's `--json` output is documented by a JSON Schema in `docs/schemas/`, and
//! checked against it (issue 11, friction 13: docs and behaviour disagreed).
//!
//! [`check`] runs on every `--json` output any test reads (`Run::json`), so the whole suite
//! checks the schemas against real output. One test walks `convene --help` so that no command
//! with `--json` lacks a schema, and one runs every such command once, so that every schema is
//! checked even where no other test reads that output.
//!
//! Writing a new schema: `CONVENE_SCHEMA_DUMP=DIR cargo test -p convene-tests --test e2e
//! schemas::` writes each output the tests read to `DIR/NAME.json` before checking it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::util::{self, Home, NodeProcess, Run};

fn schemas_dir() -> PathBuf {
    util::repo().join("docs/schemas")
}

/// The schema a command line's output follows, by its name in `docs/schemas/`: the longest run
/// of the line's leading words that names a file (`network show innopints` → `network-show`).
/// A wider search (`search --wider`, `people --wider`) answers in its own shape.
pub fn name_for(args: &[&str]) -> Option<String> {
    let exists = |name: &str| schemas_dir().join(format!("{name}.json")).is_file();
    if args.contains(&"--wider") {
        return Some("search-wider".to_string()).filter(|name| exists(name));
    }
    let words: Vec<&str> = args
        .iter()
        .take_while(|arg| !arg.starts_with('-'))
        .take(3)
        .copied()
        .collect();
    (1..=words.len())
        .rev()
        .map(|n| words[..n].join("-"))
        .find(|name| exists(name))
}

fn validator(name: &str) -> Arc<jsonschema::Validator> {
    static VALIDATORS: OnceLock<Mutex<BTreeMap<String, Arc<jsonschema::Validator>>>> =
        OnceLock::new();
    let mut validators = VALIDATORS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    validators
        .entry(name.to_string())
        .or_insert_with(|| {
            let path = schemas_dir().join(format!("{name}.json"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let schema: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            // Shared types are in defs.json, referred to relatively: the schema's own path is
            // the base they resolve against.
            let base = format!("file://{}", path.display());
            Arc::new(
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .with_base_uri(base)
                    .build(&schema)
                    .unwrap_or_else(|e| panic!("{} is not a valid schema: {e}", path.display())),
            )
        })
        .clone()
}

/// Checks a command's JSON output against its schema; panics naming every mismatch.
#[track_caller]
pub fn check(args: &[&str], output: &serde_json::Value, run: &Run) {
    let name = name_for(args);
    if let Ok(dir) = std::env::var("CONVENE_SCHEMA_DUMP") {
        let file = name.clone().unwrap_or_else(|| command_of(args));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(
            PathBuf::from(dir).join(format!("{file}.json")),
            serde_json::to_string_pretty(output).unwrap(),
        );
        if name.is_none() {
            return;
        }
    }
    let Some(name) = name else {
        panic!("this command prints JSON, but docs/schemas/ has no schema for it\n{run}");
    };
    let errors: Vec<String> = validator(&name)
        .iter_errors(output)
        .map(|error| format!("  at {}: {error}", error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the output does not follow docs/schemas/{name}.json:\n{}\n{run}",
        errors.join("\n")
    );
}

/// The command a line runs, as a schema would be named (`network-show`), found among the
/// commands that have `--json`.
fn command_of(args: &[&str]) -> String {
    static COMMANDS: OnceLock<BTreeSet<String>> = OnceLock::new();
    let commands = COMMANDS.get_or_init(commands_with_json);
    let words: Vec<&str> = args
        .iter()
        .take_while(|arg| !arg.starts_with('-'))
        .copied()
        .collect();
    (1..=words.len().min(3))
        .rev()
        .map(|n| words[..n].join(" "))
        .find(|command| commands.contains(command))
        .unwrap_or_else(|| words.first().copied().unwrap_or("unknown").to_string())
        .replace(' ', "-")
}

/// The commands (as `word word`) whose help offers `--json`, found by walking `convene --help`.
fn commands_with_json() -> BTreeSet<String> {
    fn walk(path: &mut Vec<String>, found: &mut BTreeSet<String>) {
        let output = std::process::Command::new(util::binary())
            .args(path.iter())
            .arg("--help")
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&output.stdout).into_owned();
        if help
            .lines()
            .any(|line| line.trim_start().starts_with("--json"))
        {
            found.insert(path.join(" "));
        }
        let subcommands: Vec<String> = help
            .lines()
            .skip_while(|line| !line.starts_with("Commands:"))
            .skip(1)
            .take_while(|line| !line.trim().is_empty())
            .filter_map(|line| line.split_whitespace().next())
            .filter(|word| *word != "help")
            .map(str::to_string)
            .collect();
        for subcommand in subcommands {
            path.push(subcommand);
            walk(path, found);
            path.pop();
        }
    }
    let mut found = BTreeSet::new();
    walk(&mut Vec::new(), &mut found);
    found
}

fn schema_names() -> BTreeSet<String> {
    std::fs::read_dir(schemas_dir())
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json").map(str::to_string)
        })
        // The types the others share, not an output.
        .filter(|name| name != "defs")
        .collect()
}

#[test]
fn every_command_with_json_output_has_a_schema_and_every_schema_a_command() {
    let mut expected: BTreeSet<String> = commands_with_json()
        .iter()
        .map(|command| command.replace(' ', "-"))
        .collect();
    assert!(
        expected.len() >= 29,
        "the help walk found too few: {expected:?}"
    );
    expected.insert("search-wider".into());
    let held = schema_names();
    let missing: Vec<&String> = expected.difference(&held).collect();
    let orphaned: Vec<&String> = held.difference(&expected).collect();
    assert!(
        missing.is_empty() && orphaned.is_empty(),
        "docs/schemas/ lacks {missing:?} and has {orphaned:?} that no command prints"
    );
    for name in held.iter().chain(std::iter::once(&"defs".to_string())) {
        let path = schemas_dir().join(format!("{name}.json"));
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        for key in ["title", "description"] {
            assert!(schema[key].is_string(), "{name}.json has no {key}");
        }
        validator(name);
    }
}

/// A schema is a contract: an output that breaks it is caught.
#[test]
fn an_output_that_breaks_its_schema_is_caught() {
    let run = Run {
        line: "convene list --json".into(),
        args: vec!["list".into(), "--json".into()],
        code: 0,
        stdout: String::new(),
        stderr: String::new(),
    };
    let broken = serde_json::json!([{ "address": 7 }]);
    let caught = std::panic::catch_unwind(|| check(&["list", "--json"], &broken, &run));
    assert!(caught.is_err());
    let fine =
        std::panic::catch_unwind(|| check(&["list", "--json"], &serde_json::json!([]), &run));
    assert!(fine.is_ok());
}

const FRIDGES: &str = "kind = \"experiment\"\nslug = \"fridges\"\ntitle = \"Community fridges\"\nsummary = \"Surplus food shared through fridges in libraries\"\nstatus = \"running\"\ntags = [\"food\", \"libraries\"]\nregion = \"North\"\ncontacts = [\"sam-patel\"]\n";
const SAM: &str = "kind = \"practitioner\"\nslug = \"sam-patel\"\nname = \"Sam Patel\"\nrole = \"Food projects lead\"\nexpertise = [\"community fridges\", \"food waste\"]\ncontact = \"sam@example.org\"\n";
const LESSON: &str = "kind = \"lesson\"\ntitle = \"Fridges need a rota\"\nsummary = \"A volunteer rota keeps community fridges clean and stocked\"\ncontacts = [\"sam-patel\"]\ntags = [\"food\"]\n";

/// Runs every command that prints JSON at least once, on real data, each output checked by
/// `Run::json`; the schemas checked are exactly the schemas held.
#[test]
fn every_json_output_matches_its_schema() {
    let _turn = util::turn();
    let council = Home::init("Example Council");
    let neighbour = Home::init("Neighbour Council");
    let mut checked = BTreeSet::new();
    let mut read = |run: Run| -> serde_json::Value {
        let args: Vec<&str> = run.args.iter().map(String::as_str).collect();
        checked.insert(name_for(&args).unwrap_or_else(|| command_of(&args)));
        run.json()
    };

    // Records, published and imported.
    council.publish("sam.toml", SAM);
    let fridges_file = council.file("fridges.toml", FRIDGES);
    let published = read(
        council
            .run(&["publish", fridges_file.to_str().unwrap(), "--yes", "--json"])
            .ok(),
    );
    let fridges = published["address"].as_str().unwrap().to_string();
    let lesson = council.publish("lesson.toml", LESSON);
    let again = council.file(
        "fridges2.toml",
        &FRIDGES.replace("slug = \"fridges\"", "slug = \"more-fridges\""),
    );
    // Held up by a similar record: the other shape `publish --json` has.
    read(
        council
            .run(&["publish", again.to_str().unwrap(), "--json"])
            .code(4),
    );
    council
        .run(&["publish", again.to_str().unwrap(), "--yes"])
        .ok();
    let export = council.run(&["export"]).ok().stdout;
    let carried = neighbour.file("council.jsonl", &export);
    read(
        neighbour
            .run(&["import", carried.to_str().unwrap(), "--json"])
            .ok(),
    );
    let csv = neighbour.file(
        "cases.csv",
        "Project,Description\nNight bus,A late bus for shift workers\nBad row,\n",
    );
    let mapping = neighbour.file(
        "map.toml",
        "kind = \"experiment\"\n[columns]\ntitle = \"Project\"\nsummary = \"Description\"\n",
    );
    read(
        neighbour
            .run(&[
                "import",
                csv.to_str().unwrap(),
                "--map",
                mapping.to_str().unwrap(),
                "--json",
            ])
            .code(3),
    );

    // Finding.
    read(council.run(&["search", "fridges", "--json"]).ok());
    read(council.run(&["facets", "fridges", "--json"]).ok());
    read(council.run(&["people", "fridges", "--json"]).ok());
    read(council.run(&["similar", &fridges, "--json"]).ok());
    read(council.run(&["show", &fridges, "--json"]).ok());
    read(council.run(&["show", "sam-patel", "--json"]).ok());
    read(council.run(&["list", "--json"]).ok());
    let interest = neighbour.run(&["interest", &fridges, "--note", "piloting in 2027"]);
    interest.ok();
    read(neighbour.run(&["cohort", &fridges, "--json"]).ok());
    read(council.run(&["lineage", &fridges, "--json"]).ok());
    read(council.run(&["history", &fridges, "--json"]).ok());
    read(council.run(&["retract", &lesson, "--json"]).ok());

    // Trust.
    let neighbour_key = neighbour.own_key();
    read(
        council
            .run(&[
                "trust",
                &neighbour_key,
                "--as",
                "Neighbour Council",
                "--json",
            ])
            .ok(),
    );
    read(council.run(&["trust", &neighbour_key, "--json"]).ok());
    read(council.run(&["trust", "--json"]).ok());
    read(
        council
            .run(&[
                "block",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "--reason",
                "spam",
                "--json",
            ])
            .ok(),
    );
    read(council.run(&["block", "--json"]).ok());
    read(council.run(&["org", "check", "--json"]).code(1));
    read(council.run(&["org", "requests", "--json"]).code(1));
    read(council.run(&["org", "delegates", "--json"]).code(1));

    // Networks, following, web accounts.
    let network = util::create_network(&council, "Food networks", false);
    read(council.run(&["network", "list", "--json"]).ok());
    read(council.run(&["network", "show", &network, "--json"]).ok());
    read(
        council
            .run(&["network", "members", &network, "--json"])
            .ok(),
    );
    read(council.run(&["network", "digest", &network, "--json"]).ok());
    read(council.run(&["network", "map", &network, "--json"]).ok());
    read(council.run(&["network", "requests", "--json"]).code(1));
    council.run(&["watch", "add", "fridges"]).ok();
    read(council.run(&["watch", "list", "--json"]).ok());
    council.publish("lesson2.toml", &LESSON.replace("a rota", "a cleaning rota"));
    read(council.run(&["news", "--peek", "--json"]).ok());
    council.set_node_config("web = \"127.0.0.1:0\"");
    council.run(&["web", "user", "add", "Priya Shah"]).ok();
    read(council.run(&["web", "user", "list", "--json"]).ok());

    // Two running nodes: status, peers, a wider search.
    let council_node = NodeProcess::start(&council);
    let neighbour_node = NodeProcess::start(&neighbour);
    read(
        neighbour
            .run(&["peers", "add", &util::ticket(&council), "--json"])
            .ok(),
    );
    util::wait_until(Duration::from_secs(30), "the peers connect", || {
        util::status(&neighbour)["peers"]
            .as_array()
            .is_some_and(|peers| !peers.is_empty())
    });
    read(neighbour.run(&["node", "status", "--json"]).ok());
    read(neighbour.run(&["peers", "list", "--json"]).ok());
    read(
        neighbour
            .run(&["search", "fridges", "--wider", "--json"])
            .ok(),
    );
    neighbour_node.stop();
    council_node.stop();

    assert_eq!(
        checked,
        schema_names(),
        "every schema is checked against real output here"
    );
}
