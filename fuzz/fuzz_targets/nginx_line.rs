//! One NGINX combined / gitlab_access line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logbrief::ingest::{Line, nginx};

fuzz_target!(|data: &[u8]| {
    if let Line::Request(r) = nginx::parse_line(data) {
        let _ = r.kind();
    }
});
