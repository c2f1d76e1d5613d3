//! Import input: bounded line reading never keeps more than its limit, and every line of an
//! export file is either a verified record or a reason; CSV cutting keeps every row.
#![no_main]

use convene_node::{LineRead, read_line_bounded};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    let mut line = Vec::new();
    let mut consumed = 0u64;
    loop {
        match read_line_bounded(&mut input, &mut line, 64).expect("reading a slice") {
            LineRead::End => break,
            LineRead::Line(n) => {
                assert!(line.len() <= 64);
                consumed += n;
            }
            LineRead::TooLong(n) => {
                assert!(n > 64);
                consumed += n;
            }
        }
    }
    assert_eq!(consumed, data.len() as u64);
    let mut reader = data;
    if let Ok(chunks) = convene_node::csv_chunks(&mut reader, 256) {
        // Every row of the file is in exactly one chunk, after a copy of the header.
        let rows: u64 = chunks.iter().map(|chunk| chunk.rows_bytes).sum();
        assert!(rows <= data.len() as u64);
        for chunk in &chunks {
            assert!(chunk.first_line >= 1);
            assert!(chunk.bytes.len() as u64 >= chunk.rows_bytes);
        }
    }
});
