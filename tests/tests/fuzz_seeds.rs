//! The short form of fuzzing that CI runs: every input kept in `fuzz/seeds/` (the seeds, and
//! any input a fuzzer found a crash with, kept as a regression) goes through the same checks
//! as the fuzz targets in `fuzz/fuzz_targets/`. The long form is `cargo fuzz run`, see
//! docs/guarantees.md.

use convene_protocol::wire::{Request, Response};
use convene_protocol::{Identity, Record};

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = crate::util::repo().join("fuzz/seeds").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect()
}

#[test]
fn record_seeds_decode_or_are_refused_and_reread_the_same() {
    for data in seeds("record") {
        if let Ok(record) = Record::from_bytes(data.clone(), 1_800_000_000) {
            let again = Record::from_stored_bytes(record.bytes().to_vec()).unwrap();
            assert_eq!(again.id(), record.id());
        }
        let _ = Record::from_stored_bytes(data);
    }
}

#[test]
fn wire_seeds_decode_and_encode_back_or_are_refused() {
    for data in seeds("wire") {
        if let Ok(request) = Request::decode(&data) {
            assert_eq!(request.encode(), data);
        }
        if let Ok(response) = Response::decode(&data) {
            assert_eq!(Response::decode(&response.encode()).unwrap(), response);
        }
    }
}

#[test]
fn draft_seeds_parse_to_valid_drafts_or_are_refused() {
    let author = Identity::from_secret([7; 32]).author();
    for data in seeds("draft") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        for format in [
            convene_node::DraftFormat::Toml,
            convene_node::DraftFormat::Json,
        ] {
            if let Ok(draft) = convene_node::Draft::parse(text, format, "seed", &author) {
                draft.content.validate().unwrap();
            }
        }
        let _ = convene_node::CsvMapping::parse(text);
    }
}

#[test]
fn import_seeds_are_read_in_bounded_lines() {
    for data in seeds("import") {
        let mut input = &data[..];
        let mut line = Vec::new();
        let mut consumed = 0;
        loop {
            match convene_node::read_line_bounded(&mut input, &mut line, 64).unwrap() {
                convene_node::LineRead::End => break,
                convene_node::LineRead::Line(n) | convene_node::LineRead::TooLong(n) => {
                    assert!(line.len() <= 64);
                    consumed += n;
                }
            }
        }
        assert_eq!(consumed, data.len() as u64);
    }
}
