//! The directory file and verification against it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logbrief::directory::{self, Directory};

fuzz_target!(|data: &[u8]| {
    if let Ok(dir) = Directory::from_slice(data) {
        let _ = directory::verify(&dir, "alice@acme.example", &[]);
        let _ = directory::verify(&dir, "alice@acme.example", &["acme".to_owned()]);
    }
});
