//! logbrief: privacy-safe summaries of GitLab platform logs for support replies.
//!
//! [`run`] dispatches a command line; `summarize` is the pipeline, one stage a step
//! (verify → collect → settle → count → guard → render), over modules of one job
//! each: `ingest` reads lines into records, `directory` verifies the requester,
//! `scope` attributes each record to a namespace, `exclude` applies the known
//! list, `aggregate` counts, `guard` checks, and `render` writes the reply.

// Only what the binary needs is public. The fuzz targets in `fuzz/` (built with
// `--cfg fuzzing`) also reach the readers, attribution and the directory.
mod aggregate;
mod chart;
pub mod cli;
mod commands;
mod config;
mod digest;
#[cfg(fuzzing)]
pub mod directory;
#[cfg(not(fuzzing))]
mod directory;
mod elastic;
pub mod error;
mod exclude;
mod fetch;
mod files;
mod geo;
mod guard;
#[cfg(fuzzing)]
pub mod ingest;
#[cfg(not(fuzzing))]
mod ingest;
mod inspect;
mod limits;
mod manifest;
mod manual;
mod output;
mod progress;
mod pushdown;
mod render;
#[cfg(fuzzing)]
pub mod scope;
#[cfg(not(fuzzing))]
mod scope;
mod summarize;
mod vocabulary;
mod zendesk;

use std::io::Write;

use crate::cli::{Cli, Command, FetchCommand};
use crate::config::Config;
use crate::error::Result;
use crate::output::write_out;
use crate::summarize::summarize;

/// Runs one command; the reply (or the verification result) goes to `out`, warnings
/// for the engineer to `err`.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    match cli.command {
        Command::Summarize(args) => summarize(&Config::from_args(*args)?, out, err),
        Command::Verify(args) => commands::verify(args, out, err),
        Command::Init(args) => commands::init(&args.path, args.force, out),
        Command::Inspect(args) => commands::inspect(args, out),
        Command::Pushdown(args) => commands::pushdown(args, out),
        Command::Filter(args) => commands::filter(args, out),
        Command::Fetch(FetchCommand::Directory(args)) => commands::fetch_directory(args, out, err),
        Command::Completions(args) => commands::completions(args, out),
        Command::Man(args) => write_out(out, &manual::page(&args.command)?),
        Command::Fetch(FetchCommand::Logs(args)) => commands::fetch_logs(*args, out, err),
        Command::Fetch(FetchCommand::AuditEvents(args)) => {
            commands::fetch_audit_events(args, out, err)
        }
    }
}
