//! One GitLab JSON log line: the borrowing decoder, then the derived access kind.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logbrief::ingest::{Line, json};

fuzz_target!(|data: &[u8]| {
    for flavor in [
        json::Flavor::Auto,
        json::Flavor::Rails,
        json::Flavor::Workhorse,
    ] {
        if let Line::Request(r) = json::parse_line(data, flavor) {
            let _ = r.kind();
        }
    }
});
