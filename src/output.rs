//! Where results go: standard output, and the names inputs are shown by.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `text` to `out` and flushes it.
pub(crate) fn write_out(out: &mut dyn Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|source| Error::Write {
            what: "standard output".into(),
            source,
        })
}

/// How standard input is named where inputs are listed: the program's own words.
pub(crate) const STANDARD_INPUT: &str = "(standard input)";

/// An input as messages and notes name it.
pub(crate) fn display_name(path: &Path) -> String {
    if path == Path::new("-") {
        STANDARD_INPUT.to_owned()
    } else {
        path.display().to_string()
    }
}
