//! `logbrief pushdown` and `logbrief filter`: the scope filter, for the engine where
//! the logs live.
//!
//! A month of a large customer's traffic is more than anyone exports to a laptop. The
//! prefilter is a superset predicate (RULES.md §6): a line whose raw bytes it passes
//! over cannot be in scope. Compiled for an engine that spans many machines, it lets
//! that engine return only the candidate lines, which logbrief then reads as usual:
//! attribution, the known list, deduplication, the window, counting and the guard all
//! run here, on every candidate, so the engine decides nothing but what to leave out.
//!
//! The filter is one regular expression in the subset RE2, Rust's `regex`, Java and
//! DuckDB agree on ([`prefilter::regex`]), alone or inside the queries of an engine
//! ([`engines`]), or logbrief's own prefilter over a stream (`logbrief filter`, which
//! Spark's `pipe` runs on every executor). It names the requester's own namespaces and
//! the ids of their projects and groups, nothing else.

pub(crate) mod elastic;
mod engines;
pub(crate) mod es_model;

use std::io::{Read, Write};
use std::path::Path;

use chrono::Duration;

use crate::cli::EngineArg;
use crate::config::{self, RequesterConfig};
use crate::directory::{self, Directory};
use crate::error::{Error, Result};
use crate::ingest::reader::MAX_LINE;
use crate::output::write_out;
use crate::scope::prefilter::{self, Prefilter, Syntax, Terms};

/// The PySpark job `--engine spark` runs; `--write-job` writes it out.
pub const SPARK_JOB: &str = include_str!("spark_job.py");

/// What `pushdown` is asked for, beyond the requester.
pub struct Request<'a> {
    pub engine: EngineArg,
    pub syntax: Syntax,
    pub source: Option<String>,
    pub output: Option<String>,
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
    pub write_job: Option<&'a Path>,
    pub field_prefix: &'a str,
}

/// The requester's terms, once verified as `summarize` verifies them, and the window
/// an engine applies: a day wider on each side, so that times an engine reads in
/// another zone stay in.
fn verified_terms(
    config: &RequesterConfig,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<(Terms, config::Window)> {
    let window = config::window(since, until)?;
    let dir = Directory::load(&config.directory)?;
    let verified = directory::verify(&dir, &config.email, &config.namespaces)?;
    let engine_window = config::Window {
        since: window.since.map(|t| t - Duration::days(1)),
        until_exclusive: window.until_exclusive.map(|t| t + Duration::days(1)),
    };
    Ok((Terms::of(&dir, &verified), engine_window))
}

/// What `fetch logs` asks a cluster for a verified requester: the candidate query and
/// the totals request, both within the engine's window.
pub(crate) fn elastic_requests(
    config: &RequesterConfig,
    since: Option<&str>,
    until: Option<&str>,
    prefix: &str,
) -> Result<(serde_json::Value, serde_json::Value)> {
    let (terms, window) = verified_terms(config, since, until)?;
    let plan = elastic::Plan {
        prefix,
        since: window.since,
        until: window.until_exclusive,
    };
    Ok((elastic::query(&terms, &plan), elastic::totals(&plan)))
}

/// Verifies the requester as `summarize` does, then prints the filter for `engine`.
pub fn pushdown(config: &RequesterConfig, request: Request<'_>, out: &mut dyn Write) -> Result<()> {
    // BigQuery's table goes between backticks: a name that could end them is none.
    if request.engine == EngineArg::Bigquery
        && request
            .source
            .as_deref()
            .is_some_and(|s| s.contains(['`', '\n', '\\']))
    {
        return Err(Error::Usage(
            "--source: a BigQuery table is PROJECT.DATASET.TABLE, without backticks".into(),
        ));
    }
    let (terms, window) = verified_terms(config, request.since, request.until)?;
    let regex = prefilter::regex(&terms, request.syntax);
    // Every engine takes it between single quotes, raw.
    debug_assert!(!regex.contains('\''));
    let plan = engines::Plan {
        regex,
        syntax: request.syntax,
        since: window.since,
        until: window.until_exclusive,
        source: request.source,
        output: request.output,
    };
    let text = match request.engine {
        EngineArg::Regex => plan.regex + "\n",
        EngineArg::Duckdb => engines::duckdb(&plan),
        EngineArg::Bigquery => engines::bigquery(&plan),
        EngineArg::Clickhouse => engines::clickhouse(&plan),
        EngineArg::Elasticsearch => elastic::console(
            &terms,
            &elastic::Plan {
                prefix: request.field_prefix,
                since: plan.since,
                until: plan.until,
            },
            plan.source.as_deref().unwrap_or(elastic::DEFAULT_INDEX),
            &engines::header(&plan, "#", "elasticsearch"),
        ),
        EngineArg::Spark => {
            let job = request
                .write_job
                .unwrap_or(Path::new("logbrief_candidates.py"));
            if let Some(path) = request.write_job {
                crate::files::write(path, SPARK_JOB.as_bytes(), crate::files::SHARED)?;
            }
            let pipe = filter_command(config, request.syntax);
            let directory = config.directory.display().to_string();
            engines::spark(&plan, &pipe, &directory, &job.display().to_string())
        }
    };
    write_out(out, &text)
}

/// The `logbrief filter` command line an executor runs, with the directory shipped
/// beside the job.
fn filter_command(config: &RequesterConfig, syntax: Syntax) -> String {
    // Plain words stay as they are, for the reader; others are quoted, never altered.
    let quote = |s: &str| {
        if s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@._-+/".contains(&b))
        {
            s.to_owned()
        } else {
            engines::shell_quoted(s)
        }
    };
    let mut command = format!(
        "logbrief filter --requester {} --directory {}",
        quote(&config.email),
        quote(
            &config
                .directory
                .file_name()
                .map_or("directory.json".into(), |n| n.to_string_lossy())
        )
    );
    for ns in &config.namespaces {
        command.push_str(&format!(" --namespace {}", quote(ns)));
    }
    if syntax == Syntax::Nginx {
        command.push_str(" --lines nginx");
    }
    command
}

/// Copies the lines of `input` that the prefilter keeps to `out`, each ended by `\n`.
/// A line longer than the reader keeps in memory goes through whole, unjudged.
pub fn filter(
    config: &RequesterConfig,
    syntax: Syntax,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<()> {
    let dir = Directory::load(&config.directory)?;
    let verified = directory::verify(&dir, &config.email, &config.namespaces)?;
    let prefilter = Prefilter::new(&dir, &verified, syntax);
    let write_err = |source| Error::Write {
        what: "standard output".into(),
        source,
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    let (mut buf, mut lower) = (Vec::with_capacity(4 << 20), Vec::new());
    let (mut at_end, mut overlong) = (false, false);
    while !at_end {
        // Fill to at least 4 MiB, or to the end of the input.
        let start = buf.len();
        buf.resize(start.max(4 << 20) + (1 << 20), 0);
        let mut filled = start;
        while filled < buf.len() {
            match input.read(&mut buf[filled..]) {
                Ok(0) => {
                    at_end = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(Error::Read {
                        path: "standard input".into(),
                        source,
                    });
                }
            }
        }
        buf.truncate(filled);
        // The rest of a line too long to judge goes through as it is, to its end.
        if overlong {
            let Some(end) = memchr::memchr(b'\n', &buf) else {
                out.write_all(&buf).map_err(write_err)?;
                buf.clear();
                if at_end {
                    out.write_all(b"\n").map_err(write_err)?;
                }
                continue;
            };
            out.write_all(&buf[..=end]).map_err(write_err)?;
            buf.drain(..=end);
            overlong = false;
        }
        // A line as long as the reader keeps cannot be judged here: it goes through
        // whole, and `summarize` counts it as it would in the whole file. Only the
        // first line can be that long: the buffer grows only while it holds no end.
        let first_end = memchr::memchr(b'\n', &buf);
        if first_end.unwrap_or(buf.len()) >= MAX_LINE {
            let Some(end) = first_end else {
                out.write_all(&buf).map_err(write_err)?;
                buf.clear();
                if at_end {
                    out.write_all(b"\n").map_err(write_err)?;
                } else {
                    overlong = true;
                }
                continue;
            };
            out.write_all(&buf[..=end]).map_err(write_err)?;
            buf.drain(..=end);
        }
        // Whole lines now; the rest waits for more input, unless there is none.
        let whole = match memchr::memrchr(b'\n', &buf) {
            _ if at_end => buf.len(),
            Some(i) => i + 1,
            None => continue,
        };
        let text = &buf[..whole];
        prefilter::lower_case(text, &mut lower);
        let mut from = 0;
        while let Some(line) = prefilter.next_candidate(text, &lower, from) {
            out.write_all(&text[line.clone()]).map_err(write_err)?;
            out.write_all(b"\n").map_err(write_err)?;
            from =
                memchr::memchr(b'\n', &text[line.end..]).map_or(text.len(), |i| line.end + i + 1);
        }
        buf.drain(..whole);
    }
    out.flush().map_err(write_err)
}
