//! Every limit on what the node accepts from outside, in one place.
//!
//! A number, length or count that comes from input — a request, a file, a peer — is checked
//! against one of these where it enters, before it is used. `docs/guarantees.md` lists them for
//! operators. Limits on record contents live with the record format
//! (`convene_protocol::content::limits`, `MAX_RECORD_BYTES`), limits on searches with the index
//! ([`convene_search::limits`]); they are re-exported here so this page is the whole list.

use std::time::Duration;

pub use convene_protocol::MAX_RECORD_BYTES;
pub use convene_search::limits as search;

/// Local API: connections served at once; more are closed on arrival.
pub const API_CONNECTIONS: usize = 64;
/// Local API: time a client has to send a request's headers (and that an idle connection is
/// kept open between requests).
pub const API_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Local API: time a client has to send a request's body.
pub const API_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// Local API: bytes of a request's headers.
pub const API_HEADER_BYTES: usize = 64 * 1024;
/// Local API: bytes of a JSON request body (a search, a draft, a peer).
pub const API_JSON_BODY_BYTES: usize = 1024 * 1024;
/// Local API: bytes of one import request (a chunk of JSON Lines or CSV rows). The client
/// sends large files in several requests of at most [`IMPORT_CHUNK_BYTES`].
pub const API_IMPORT_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Import through a node: bytes the client puts in one request.
pub const IMPORT_CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// Import: bytes of one JSON Lines line. A record is at most [`MAX_RECORD_BYTES`]; base64 and
/// the JSON around it take it to about 88 KiB, so this leaves room and no more.
pub const IMPORT_LINE_BYTES: usize = 256 * 1024;
/// Import: bytes of one CSV row (all its fields).
pub const CSV_ROW_BYTES: usize = 256 * 1024;
/// Import: bytes of a CSV column mapping file.
pub const CSV_MAPPING_BYTES: usize = 16 * 1024;
/// Characters of a value quoted back in an error message.
pub const QUOTED_CHARS: usize = 120;
/// Characters in the name a pin gives an author (`convene trust KEY --as NAME`).
pub const PIN_NAME_CHARS: usize = 200;
/// Characters in a pin's note.
pub const PIN_NOTE_CHARS: usize = 500;

/// Characters in the reason given for a block.
pub const BLOCK_REASON_CHARS: usize = 500;

/// Cuts `text` for quoting in an error message: at most [`QUOTED_CHARS`] characters, with an
/// ellipsis and the full length when it was longer.
pub fn quote(text: &str) -> String {
    let count = text.chars().count();
    if count <= QUOTED_CHARS {
        return text.to_string();
    }
    let head: String = text.chars().take(QUOTED_CHARS).collect();
    format!("{head}… ({count} characters)")
}

/// The web page: the largest form body a browser may send (a publish form, or a record kept
/// from a wider search, its signed bytes in base64).
pub const WEB_FORM_BYTES: usize = 512 * 1024;
/// The web page: sign-in attempts one client address may make per minute.
pub const WEB_SIGN_INS_PER_CLIENT_PER_MINUTE: u32 = 10;
/// The web page: sign-in attempts the whole page takes per minute, from everyone.
pub const WEB_SIGN_INS_PER_MINUTE: u32 = 60;
