//! Every sync message: decoding never panics, and what decodes encodes back to the same bytes.
#![no_main]

use convene_protocol::wire::{Request, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = Request::decode(data) {
        assert_eq!(request.encode(), data);
    }
    if let Ok(response) = Response::decode(data) {
        let encoded = response.encode();
        assert_eq!(Response::decode(&encoded).expect("re-decodes"), response);
    }
    // Reconciliation messages from a peer go to negentropy.
    if let Ok(mut responder) = convene_protocol::sync::Reconciler::respond_to(Vec::new()) {
        let _ = responder.answer(data);
    }
});
