//! The local API's JSON bodies: whatever a local process posts either deserialises and passes
//! the limits check, or is refused; a query that passes is safe to run.
#![no_main]

use convene_node::search::Query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(query) = serde_json::from_slice::<Query>(data) {
        if query.check().is_ok() {
            assert!(query.limit <= convene_node::limits::search::RESULTS);
        }
    }
    let _ = serde_json::from_slice::<convene_node::Draft>(data);
    let _ = serde_json::from_slice::<convene_protocol::Content>(data)
        .map(|content| content.validate());
});
