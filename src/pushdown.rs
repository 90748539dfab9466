//! `logbrief pushdown`: the scope filter, for the engine where the logs live.
//!
//! A month of a large customer's traffic is more than anyone exports to a laptop. The
//! prefilter is a superset predicate (RULES.md §6): a line whose raw bytes it passes
//! over cannot be in scope. Compiled for an engine that spans many machines, it lets
//! that engine return only the candidate lines, which logbrief then reads as usual:
//! attribution, the known list, deduplication, the window, counting and the guard all
//! run here, on every candidate, so the engine decides nothing but what to leave out.
//!
//! For now the filter is printed as one regular expression in the subset RE2, Rust's
//! `regex`, Java and DuckDB agree on ([`prefilter::regex`]). It names the requester's
//! own namespaces and the ids of their projects and groups, nothing else.

use std::io::Write;

use crate::config::RequesterConfig;
use crate::directory::{self, Directory};
use crate::error::Result;
use crate::output::write_out;
use crate::scope::prefilter::{self, Syntax, Terms};

/// Verifies the requester as `summarize` does, then prints the filter for lines
/// written in `syntax`.
pub fn pushdown(config: &RequesterConfig, syntax: Syntax, out: &mut dyn Write) -> Result<()> {
    let dir = Directory::load(&config.directory)?;
    let verified = directory::verify(&dir, &config.email, &config.namespaces)?;
    let regex = prefilter::regex(&Terms::of(&dir, &verified), syntax);
    write_out(out, &(regex + "\n"))
}
