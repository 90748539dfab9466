//! Any bytes as an input file: detection, then every format's reader through the same
//! driver `summarize` and `inspect` use. Nothing may panic.
#![no_main]

use std::io::Cursor;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use logbrief::ingest::{self, ReadOptions, reader::LineReader};

fuzz_target!(|data: &[u8]| {
    let Ok(reader) =
        LineReader::from_reader(Path::new("fuzz"), Box::new(Cursor::new(data.to_vec())), true)
    else {
        return;
    };
    // A small limit reaches the overlong-line path with small inputs.
    let mut reader = reader.with_max_line(4096);
    let Ok(head) = reader.peek() else { return };
    let Some(format) = ingest::detect(head, None) else {
        return;
    };
    let _ = ingest::each_line(&mut reader, format, &ReadOptions::default(), |_, _| Ok(()));
    let _ = reader.finish();
});
