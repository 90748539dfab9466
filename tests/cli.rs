//! Drives the real `logbrief` binary on the bundled fixtures: replies are snapshots,
//! numbers are compared with the counts the fixture generator derived from its own
//! events, and every exit code of RULES.md §9 is exercised. One test binary; each topic
//! is a module under `tests/cli/`.

/// The binary, the quick start, the `Summarize` builder and the shared checks.
#[path = "cli/support.rs"]
mod support;

/// `logbrief summarize` and `verify`: the quick start, the note, refusals, exit codes,
/// windows, exclusions and the team configuration.
#[path = "cli/summarize.rs"]
mod summarize;

/// What each story (access, ip-block, high-load, audit) tells, and how.
#[path = "cli/stories.rs"]
mod stories;

/// Every input format gives the same numbers; several in one run, globs, hints.
#[path = "cli/formats.rs"]
mod formats;

/// `logbrief inspect`.
#[path = "cli/inspect.rs"]
mod inspect;

/// The privacy guard: on the quick start, against hostile inputs, and with visitors
/// named like its own words.
#[path = "cli/privacy.rs"]
mod privacy;

/// The guard's second round: disguised spellings, the inputs' names, bidirectional
/// controls, Liquid and markdown blocks, the requester's own emails, refusals that
/// name their part, no suggested address, and namespace addresses on the instance.
#[path = "cli/guard_gaps.rs"]
mod guard_gaps;

/// What the inputs cannot support is refused or said out loud.
#[path = "cli/honesty.rs"]
mod honesty;

/// Completions, the manual page, grouped help, `--quiet`, namespaces as addresses.
#[path = "cli/conventions.rs"]
mod conventions;

/// Inputs as they arrive: time zones, byte-order marks, long lines, damaged gzip.
#[path = "cli/inputs.rs"]
mod inputs;

/// The digest cache: hashed once, reused only while a file is unchanged.
#[path = "cli/cache.rs"]
mod cache;

/// DuckDB and Spark running the filter (with LOGBRIEF_ENGINES_PYTHON).
#[path = "cli/engines.rs"]
mod engines;
/// `logbrief pushdown`: the filter for the engine where the logs live.
#[path = "cli/pushdown.rs"]
mod pushdown;

/// `logbrief fetch` against a stub GitLab.
#[path = "cli/fetch.rs"]
mod fetch;

/// `logbrief fetch logs` against a stub Elasticsearch or OpenSearch cluster.
#[path = "cli/esfetch.rs"]
mod esfetch;

/// `--ticket`, `--post-note` and `--chart` against a stub Zendesk.
#[path = "cli/ticket.rs"]
mod ticket;

/// Random logs: every line lands in one bucket, no canary reaches a reply.
#[path = "cli/properties.rs"]
mod properties;

/// Checks a reply against `tests/snapshots/cli__<name>.snap`. insta names a snapshot
/// file after the module whose assertion made it and keeps it beside that module's
/// source, so every reply is asserted here, at the crate root: the snapshots keep one
/// folder and the names they had before the tests were split into modules.
fn assert_reply_snapshot(name: &str, reply: &str) {
    insta::assert_snapshot!(name, reply);
}

/// Hostile files and the file system: symlinks, outputs over inputs, the cache's
/// trust, bounded readers, quoting in generated queries.
#[path = "cli/hostile.rs"]
mod hostile;

/// No claim the logs cannot support, second round: plans, users, overlaps, gaps,
/// stray times, wrong exports.
#[path = "cli/claims.rs"]
mod claims;

/// Short replies, each number backed by the internal note.
#[path = "cli/replies.rs"]
mod replies;

/// The same requests twice are counted once: one log plain and compressed, exports
/// that overlap, placeholder correlation ids.
#[path = "cli/overlaps.rs"]
mod overlaps;

/// The period a reply states: stray times, the same period however lines were read,
/// the window and the minute, gaps in the logs.
#[path = "cli/periods.rs"]
mod periods;
