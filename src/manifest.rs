//! `summarize --manifest FILE`: what the engine that filtered the logs counted of them
//! (see `logbrief pushdown`), so that nothing is lost (RULES.md §6).
//!
//! An engine that applied the scope filter returns the candidate lines and, per
//! source, how many lines it held and the earliest and latest log time in it:
//!
//! ```json
//! {"sources": [{"name": "gs://logs/2026-03/api.json.gz", "lines": 81234567,
//!               "first": "2026-03-01T00:00:00Z", "last": "2026-03-31T23:59:59Z"}],
//!  "engine": "spark", "filter": "(?i)(?:acme|…)", "ran_at": "2026-04-01T08:00:00Z"}
//! ```
//!
//! The reconciliation then covers every line the engine held: `lines` is the
//! manifest's total, the lines the filter left out are `out_of_scope` unread (as the
//! prefilter's are), and the candidates land in their buckets as usual. The period the
//! logs cover is the sources', not the candidates'. The internal note names the
//! manifest, its digest and its totals; the reply is the one the whole logs give.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::digest::hex;
use crate::error::{Error, Result};

#[derive(Deserialize)]
struct File {
    sources: Vec<Source>,
    #[serde(default)]
    engine: Option<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    ran_at: Option<String>,
}

#[derive(Deserialize)]
struct Source {
    #[allow(dead_code)]
    name: String,
    lines: u64,
    /// Absent for a source without lines.
    #[serde(default)]
    first: Option<String>,
    #[serde(default)]
    last: Option<String>,
}

/// A manifest, checked: its totals, and what the internal note says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The file's name as given, and its SHA-256.
    pub name: String,
    pub sha256: String,
    /// Lines in all sources.
    pub lines: u64,
    pub sources: usize,
    /// The earliest and latest log time in any source.
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub engine: Option<String>,
    pub filter: Option<String>,
    pub ran_at: Option<String>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest> {
        let fail = |message: String| Error::Manifest {
            path: path.to_owned(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        // serde_json's message names the line and column, never the content.
        let file: File = serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))?;
        let time = |t: &Option<String>, i: usize, key: &str| -> Result<Option<DateTime<Utc>>> {
            t.as_deref()
                .map(|t| {
                    DateTime::parse_from_rfc3339(t)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| {
                            fail(format!(
                                "sources[{i}].{key} is not an RFC 3339 time with a zone"
                            ))
                        })
                })
                .transpose()
        };
        let (mut lines, mut first, mut last) = (0u64, None::<DateTime<Utc>>, None::<DateTime<Utc>>);
        for (i, source) in file.sources.iter().enumerate() {
            let (f, l) = (
                time(&source.first, i, "first")?,
                time(&source.last, i, "last")?,
            );
            if source.lines > 0 && (f.is_none() || l.is_none()) {
                return Err(fail(format!(
                    "sources[{i}] has lines but no first or last time: the period the logs \
                     cover must come from the engine"
                )));
            }
            if let (Some(f), Some(l)) = (f, l)
                && f > l
            {
                return Err(fail(format!("sources[{i}].first is after its last")));
            }
            // Logs are written before they are counted; a day allows for clocks.
            if l.is_some_and(|l| l > Utc::now() + chrono::Duration::days(1)) {
                return Err(fail(format!("sources[{i}].last lies in the future")));
            }
            lines = lines
                .checked_add(source.lines)
                .ok_or_else(|| fail("the line counts overflow".to_owned()))?;
            first = match (first, f) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            last = last.max(l);
        }
        Ok(Manifest {
            name: crate::output::display_name(path),
            sha256: hex(&Sha256::digest(&bytes)),
            lines,
            sources: file.sources.len(),
            first,
            last,
            engine: file.engine,
            filter: file.filter,
            ran_at: file.ran_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Manifest> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        std::fs::write(&path, text).unwrap();
        Manifest::load(&path)
    }

    #[test]
    fn totals_and_the_period_of_every_source() {
        let m = load(
            r#"{"sources":[
              {"name":"a","lines":10,"first":"2026-03-02T00:00:00Z","last":"2026-03-03T00:00:00Z"},
              {"name":"b","lines":5,"first":"2026-03-01T12:00:00+01:00","last":"2026-03-02T00:00:00Z"},
              {"name":"c","lines":0}],
              "engine":"spark","filter":"(?i)acme"}"#,
        )
        .unwrap();
        assert_eq!((m.lines, m.sources), (15, 3));
        assert_eq!(m.first.unwrap().to_rfc3339(), "2026-03-01T11:00:00+00:00");
        assert_eq!(m.last.unwrap().to_rfc3339(), "2026-03-03T00:00:00+00:00");
        assert_eq!(m.engine.as_deref(), Some("spark"));
    }

    #[test]
    fn what_does_not_add_up_is_refused_without_quoting_it() {
        for (text, says) in [
            (
                r#"{"sources":[{"name":"a","lines":3}]}"#,
                "no first or last time",
            ),
            (
                r#"{"sources":[{"name":"a","lines":3,"first":"2026-03-02","last":"2026-03-03T00:00:00Z"}]}"#,
                "sources[0].first is not an RFC 3339",
            ),
            (
                r#"{"sources":[{"name":"a","lines":3,"first":"2026-03-04T00:00:00Z","last":"2026-03-03T00:00:00Z"}]}"#,
                "after its last",
            ),
            (
                r#"{"sources":[{"name":"a","lines":3,"first":"2026-03-04T00:00:00Z","last":"2999-01-01T00:00:00Z"}]}"#,
                "lies in the future",
            ),
            (
                r#"{"sources":[{"name":"secret-value","lines":-1}]}"#,
                "line 1",
            ),
            ("not json", "line 1"),
        ] {
            let e = load(text).unwrap_err();
            assert_eq!(e.exit_code(), 4);
            let message = e.to_string();
            assert!(message.contains(says), "{message}");
            assert!(!message.contains("secret-value"), "{message}");
        }
    }
}
