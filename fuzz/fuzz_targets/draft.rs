//! Drafts as people write them (TOML or JSON) and CSV column mappings: any text is parsed into
//! a valid draft or refused with an error, never a panic.
#![no_main]

use convene_node::{CsvMapping, Draft, DraftFormat};
use convene_protocol::Identity;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let author = Identity::from_secret([7; 32]).author();
    for format in [DraftFormat::Toml, DraftFormat::Json] {
        if let Ok(draft) = Draft::parse(text, format, "fuzz", &author) {
            draft.content.validate().expect("a parsed draft is valid");
        }
    }
    let _ = CsvMapping::parse(text);
});
