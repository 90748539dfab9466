//! `logbrief inspect`: what each input is, before anyone summarizes it. Every line is
//! parsed (no line is set aside unread), and the report holds counts, line numbers and
//! times only: nothing a log line says about a person.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::aggregate::format_time;
use crate::digest::Cache;
use crate::error::{Error, Result};
use crate::ingest::reader::LineReader;
use crate::ingest::{self, Line, ReadOptions};

/// How many malformed line numbers a report lists.
const MALFORMED_SHOWN: usize = 10;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct FileReport {
    pub name: String,
    /// `None` when no known format was recognised.
    pub format: Option<&'static str>,
    pub gzip: bool,
    pub sha256: Option<String>,
    pub lines: u64,
    pub requests: u64,
    pub audit_events: u64,
    pub not_requests: u64,
    pub malformed: u64,
    pub malformed_lines: Vec<u64>,
    #[serde(serialize_with = "crate::aggregate::ser_time")]
    pub first_request: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::aggregate::ser_time")]
    pub last_request: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::aggregate::ser_time")]
    pub first_event: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::aggregate::ser_time")]
    pub last_event: Option<DateTime<Utc>>,
    /// Why reading stopped early, if it did (a corrupt gzip stream, a broken array, a
    /// Kibana export whose times need `--input-tz`).
    pub error: Option<String>,
    /// What was read but deserves a word (garbage after the last gzip member).
    pub warnings: Vec<String>,
}

/// Reads one file through. An unknown format is a report without a format, not an
/// error, so one odd file does not hide the others. Returns the report and the error
/// that stopped the reading, if one did (in the report as text; the error decides the
/// exit code).
pub(crate) fn inspect_file(
    path: &Path,
    options: &ReadOptions,
    digests: &Cache,
) -> Result<(FileReport, Option<Error>)> {
    // The digest is computed beside the reading, or taken from the cache, which this
    // fills for the `summarize` that usually follows.
    let digest = digests.start(path, true);
    let mut reader = LineReader::open(path, digest.inline())?;
    let mut report = FileReport::empty(crate::output::display_name(path), reader.is_gzip());
    let head = match reader.peek() {
        Ok(head) => head,
        // Nothing could be read (a gzip stream broken from its start).
        Err(e) => {
            report.error = Some(e.to_string());
            return Ok((report, Some(e)));
        }
    };
    let Some(format) = ingest::detect(head, options.hint) else {
        return Ok((report, None));
    };
    report.format = Some(format.name());
    let read = ingest::each_line(&mut reader, format, options, |line_no, line| {
        report.lines += 1;
        match line {
            Line::Request(r) => {
                report.requests += 1;
                widen(&mut report.first_request, &mut report.last_request, r.time);
            }
            Line::Audit(e) => {
                report.audit_events += 1;
                widen(&mut report.first_event, &mut report.last_event, e.time);
            }
            Line::NotRequest => report.not_requests += 1,
            Line::Malformed(_) => {
                report.malformed += 1;
                if report.malformed_lines.len() < MALFORMED_SHOWN {
                    report.malformed_lines.push(line_no);
                }
            }
        }
        Ok(())
    });
    if read.is_ok()
        && let Some(warning) = reader.trailing_garbage_warning(report.lines)
    {
        report.warnings.push(warning);
    }
    // A read error ends this file's report, not the whole inspection.
    let digest = read
        .and_then(|()| reader.finish())
        .and_then(|sha256| digest.finish(digests, path, sha256));
    match digest {
        Ok(digest) => {
            report.sha256 = Some(digest.sha256);
            report.warnings.extend(digest.warnings);
            Ok((report, None))
        }
        Err(e) => {
            report.error = Some(e.to_string());
            Ok((report, Some(e)))
        }
    }
}

impl FileReport {
    /// The report of a file nothing of which has been read yet.
    fn empty(name: String, gzip: bool) -> FileReport {
        FileReport {
            name,
            format: None,
            gzip,
            sha256: None,
            lines: 0,
            requests: 0,
            audit_events: 0,
            not_requests: 0,
            malformed: 0,
            malformed_lines: Vec::new(),
            first_request: None,
            last_request: None,
            first_event: None,
            last_event: None,
            error: None,
            warnings: Vec::new(),
        }
    }
}

/// Stretches a time range to include `t`.
fn widen(first: &mut Option<DateTime<Utc>>, last: &mut Option<DateTime<Utc>>, t: DateTime<Utc>) {
    *first = Some(first.map_or(t, |f| f.min(t)));
    *last = Some(last.map_or(t, |l| l.max(t)));
}

/// Inspects every file and prints the reports. A file that needs a flag it was not
/// given (a Kibana export's zone) fails the run before anything is printed (exit 2);
/// after the reports are printed, the run fails if a file is in no known format or
/// could not be read to its end (exit 4).
pub(crate) fn inspect(
    paths: &[std::path::PathBuf],
    options: &ReadOptions,
    digests: &Cache,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let (reports, errors): (Vec<FileReport>, Vec<Option<Error>>) = paths
        .iter()
        .map(|p| inspect_file(p, options, digests))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .unzip();
    let text = if json {
        let mut s = serde_json::to_string_pretty(&reports)
            .map_err(|e| Error::Internal(format!("json: {e}")))?;
        s.push('\n');
        s
    } else {
        reports
            .iter()
            .map(render_text)
            .collect::<Vec<_>>()
            .join("\n")
    };
    // A flag the files need and were not given is a usage error: nothing is printed,
    // as for any usage error, and the same command with the flag prints the reports.
    let mut errors: Vec<Error> = errors.into_iter().flatten().collect();
    if let Some(i) = errors.iter().position(|e| matches!(e, Error::Usage(_))) {
        return Err(errors.swap_remove(i));
    }
    crate::output::write_out(out, &text)?;
    if let Some(i) = reports
        .iter()
        .position(|r| r.format.is_none() && r.error.is_none())
    {
        return Err(Error::UnknownFormat {
            path: paths[i].clone(),
        });
    }
    match reports.iter().find_map(|r| r.error.as_ref()) {
        Some(message) => Err(Error::Incomplete(message.clone())),
        None => Ok(()),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn render_text(r: &FileReport) -> String {
    let mut s = format!("{}\n", r.name);
    let Some(format) = r.format else {
        match &r.error {
            Some(error) => s.push_str(&format!("  stopped:    {error}\n")),
            None => s.push_str("  format:     not recognised (try --format-hint)\n"),
        }
        return s;
    };
    s.push_str(&format!(
        "  format:     {format}{}\n",
        if r.gzip { " (gzip)" } else { "" }
    ));
    let records = if r.audit_events > 0 || r.requests == 0 && format.starts_with("audit") {
        format!("{} audit event{}", r.audit_events, plural(r.audit_events))
    } else {
        format!("{} request{}", r.requests, plural(r.requests))
    };
    s.push_str(&format!(
        "  lines:      {} ({records}, {} not request{}, {} malformed)\n",
        r.lines,
        r.not_requests,
        plural(r.not_requests),
        r.malformed
    ));
    if !r.malformed_lines.is_empty() {
        let shown: Vec<String> = r.malformed_lines.iter().map(u64::to_string).collect();
        let more = if r.malformed > r.malformed_lines.len() as u64 {
            ", ..."
        } else {
            ""
        };
        let lines = if r.malformed == 1 { "line" } else { "lines" };
        s.push_str(&format!(
            "  malformed:  {lines} {}{more}\n",
            shown.join(", ")
        ));
    }
    match (r.first_request, r.last_request) {
        (Some(a), Some(b)) => s.push_str(&format!(
            "  requests:   {} to {}\n",
            format_time(a),
            format_time(b)
        )),
        _ if r.audit_events > 0 || format.starts_with("audit") => {}
        _ => s.push_str("  requests:   none\n"),
    }
    if let (Some(a), Some(b)) = (r.first_event, r.last_event) {
        s.push_str(&format!(
            "  events:     {} to {}\n",
            format_time(a),
            format_time(b)
        ));
    }
    if format.starts_with("audit") && r.first_event.is_none() {
        s.push_str("  events:     none\n");
    }
    for warning in &r.warnings {
        s.push_str(&format!("  warning:    {warning}\n"));
    }
    if let Some(error) = &r.error {
        s.push_str(&format!("  stopped:    {error}\n"));
    }
    if let Some(sha) = &r.sha256 {
        s.push_str(&format!("  sha256:     {sha}\n"));
    }
    s
}
