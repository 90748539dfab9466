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

mod engines;
mod quote;

use std::io::{Read, Write};
use std::path::Path;

use chrono::Duration;

use crate::cli::EngineArg;
use crate::config::{self, RequesterConfig};
use crate::directory::{self, Directory};
use crate::elastic;
use crate::error::{Error, Result};
use crate::ingest::reader::MAX_LINE;
use crate::output::write_out;
use crate::scope::prefilter::{self, Prefilter, Syntax, Terms};

/// The PySpark job `--engine spark` runs; `--write-job` writes it out.
pub(crate) const SPARK_JOB: &str = include_str!("spark_job.py");

/// What `pushdown` is asked for, beyond the requester.
pub(crate) struct Request<'a> {
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
pub(crate) fn pushdown(
    config: &RequesterConfig,
    request: Request<'_>,
    out: &mut dyn Write,
) -> Result<()> {
    let spark = check_values(config, &request)?;
    let (terms, window) = verified_terms(config, request.since, request.until)?;
    let regex = prefilter::regex(&terms, request.syntax);
    // The expression is made of the scope's names, which come from the directory.
    if quote::check("--directory", &regex).is_err() {
        return Err(quote::refused(
            "--directory",
            "a path in scope holds a control character (such as a line break) or a \
             bidirectional control, which the printed filter cannot hold safely",
        ));
    }
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
        EngineArg::Bigquery => engines::bigquery(&plan)?,
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
            let spark = spark.expect("checked for Spark");
            if let Some(path) = request.write_job {
                crate::files::write(path, SPARK_JOB.as_bytes(), crate::files::SHARED)?;
            }
            let pipe = filter_command(config, &spark.directory_name, request.syntax);
            engines::spark(&plan, &pipe, &spark.directory, &spark.job)
        }
    };
    write_out(out, &text)
}

/// What the Spark lines name besides the plan: the directory shipped with the job,
/// its file name there, and the job.
struct SparkNames {
    directory: String,
    directory_name: String,
    job: String,
}

/// A path as the text a script holds, refused when it is not UTF-8 (its display would
/// name another file).
fn path_text<'p>(option: &str, path: &'p Path) -> Result<&'p str> {
    let text = path
        .to_str()
        .ok_or_else(|| quote::refused(option, "the path is not valid UTF-8"))?;
    quote::check(option, text)?;
    Ok(text)
}

/// Refuses, before anything is read or written, every value the engine's text cannot
/// hold (RULES.md §6): a control character or bidirectional control anywhere, a
/// BigQuery table that could end its backticks, an index pattern with what no index
/// name holds, and for Spark a word its parsers would take for another. Each value is
/// judged whole before the next, in the order of the options.
fn check_values(config: &RequesterConfig, request: &Request<'_>) -> Result<Option<SparkNames>> {
    let source = request.source.as_deref();
    let output = request.output.as_deref();
    match request.engine {
        EngineArg::Regex => {}
        EngineArg::Duckdb | EngineArg::Clickhouse => {
            for (option, value) in [("--source", source), ("--output", output)] {
                if let Some(value) = value {
                    quote::check(option, value)?;
                }
            }
        }
        EngineArg::Bigquery => {
            if let Some(source) = source {
                quote::check("--source", source)?;
                quote::bigquery_table("--source", source)?;
            }
        }
        EngineArg::Elasticsearch => {
            if let Some(source) = source {
                quote::index_pattern("--source", source)?;
            }
            quote::check("--field-prefix", request.field_prefix)?;
        }
        EngineArg::Spark => {
            // The job reads its options with Python's argparse.
            for (option, value) in [("--source", source), ("--output", output)] {
                if let Some(value) = value {
                    quote::check(option, value)?;
                    quote::not_an_option(option, value, "the job")?;
                }
            }
            let job = match request.write_job {
                Some(path) => path_text("--write-job", path)?,
                None => "logbrief_candidates.py",
            };
            quote::not_an_option("--write-job", job, "spark-submit")?;
            let directory = path_text("--directory", &config.directory)?;
            // spark-submit --files takes a comma-separated list of URIs: a comma
            // splits it, `#` starts a fragment (the name on the executors), and a
            // colon may end a scheme.
            if directory.contains([',', '#', ':']) {
                return Err(quote::refused(
                    "--directory",
                    "spark-submit --files reads a comma-separated list of URIs, so the \
                     directory's path cannot hold `,`, `#` or `:`",
                ));
            }
            // The requester and the namespaces go into the pipe command.
            quote::check("--requester", &config.email)?;
            for ns in &config.namespaces {
                quote::check("--namespace", ns)?;
            }
            let directory_name = match config.directory.file_name() {
                Some(name) => name.to_str().expect("a UTF-8 path has UTF-8 names"),
                None => "directory.json",
            };
            return Ok(Some(SparkNames {
                directory: directory.to_owned(),
                directory_name: directory_name.to_owned(),
                job: job.to_owned(),
            }));
        }
    }
    Ok(None)
}

/// The `logbrief filter` command line an executor runs, with the directory shipped
/// beside the job under `directory_name`. Plain words stay as they are, for the
/// reader; others are quoted, never altered; a value that starts with `-` is joined
/// to its option, so that it is not read as another.
fn filter_command(config: &RequesterConfig, directory_name: &str, syntax: Syntax) -> String {
    let option = |name: &str, value: &str| {
        if value.starts_with('-') {
            format!(" {}", quote::shell_word(&format!("{name}={value}")))
        } else {
            format!(" {name} {}", quote::shell_word(value))
        }
    };
    let mut command = String::from("logbrief filter");
    command.push_str(&option("--requester", &config.email));
    command.push_str(&option("--directory", directory_name));
    for ns in &config.namespaces {
        command.push_str(&option("--namespace", ns));
    }
    if syntax == Syntax::Nginx {
        command.push_str(" --lines nginx");
    }
    command
}

/// Copies the lines of `input` that the prefilter keeps to `out`, each ended by `\n`.
/// A line longer than the reader keeps in memory goes through whole, unjudged.
pub(crate) fn filter(
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
        at_end = fill(input, &mut buf, 4 << 20)?;
        // The rest of a line too long to judge goes through as it is, to its end.
        if overlong {
            if !pass_through(&mut buf, at_end, &mut out).map_err(write_err)? {
                continue;
            }
            overlong = false;
        }
        // A line as long as the reader keeps cannot be judged here: it goes through
        // whole, and `summarize` counts it as it would in the whole file. Only the
        // first line can be that long: the buffer grows only while it holds no end.
        let first_end = memchr::memchr(b'\n', &buf);
        if first_end.unwrap_or(buf.len()) >= MAX_LINE
            && !pass_through(&mut buf, at_end, &mut out).map_err(write_err)?
        {
            overlong = !at_end;
            continue;
        }
        // Whole lines now; the rest waits for more input, unless there is none.
        let whole = match memchr::memrchr(b'\n', &buf) {
            _ if at_end => buf.len(),
            Some(i) => i + 1,
            None => continue,
        };
        keep_candidates(&prefilter, &buf[..whole], &mut lower, &mut out).map_err(write_err)?;
        buf.drain(..whole);
    }
    out.flush().map_err(write_err)
}

/// Reads `input` onto the end of `buf` until `buf` holds at least `at_least` bytes and
/// a read more, or the input ends; says whether it ended.
fn fill(input: &mut dyn Read, buf: &mut Vec<u8>, at_least: usize) -> Result<bool> {
    let start = buf.len();
    buf.resize(start.max(at_least) + (1 << 20), 0);
    let mut filled = start;
    let mut at_end = false;
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
    Ok(at_end)
}

/// Writes the line `buf` starts with to `out`, unjudged, as far as `buf` holds it, and
/// takes it out of `buf`; says whether its end was there. A line the input ends in is
/// ended by `\n`.
fn pass_through(buf: &mut Vec<u8>, at_end: bool, out: &mut impl Write) -> std::io::Result<bool> {
    let Some(end) = memchr::memchr(b'\n', buf) else {
        out.write_all(buf)?;
        buf.clear();
        if at_end {
            out.write_all(b"\n")?;
        }
        return Ok(false);
    };
    out.write_all(&buf[..=end])?;
    buf.drain(..=end);
    Ok(true)
}

/// Writes the lines of `text` (whole lines) that the prefilter keeps to `out`, each
/// ended by `\n`.
fn keep_candidates(
    prefilter: &Prefilter,
    text: &[u8],
    lower: &mut Vec<u8>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    prefilter::lower_case(text, lower);
    let mut from = 0;
    while let Some(line) = prefilter.next_candidate(text, lower, from) {
        out.write_all(&text[line.clone()])?;
        out.write_all(b"\n")?;
        from = memchr::memchr(b'\n', &text[line.end..]).map_or(text.len(), |i| line.end + i + 1);
    }
    Ok(())
}
