//! Record decoding and validation: any bytes either decode and verify, or are refused with an
//! error; a record that decodes re-reads to the same id, address and content.
#![no_main]

use convene_protocol::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = 1_800_000_000;
    if let Ok(record) = Record::from_bytes(data.to_vec(), now) {
        let again = Record::from_stored_bytes(record.bytes().to_vec()).expect("stored bytes re-read");
        assert_eq!(again.id(), record.id());
        assert_eq!(again.address(), record.address());
        assert_eq!(again.content(), record.content());
    }
    // Unverified decoding (the store's path) must not panic either.
    let _ = Record::from_stored_bytes(data.to_vec());
});
