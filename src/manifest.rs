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
use crate::limits::SideFile;

/// One JSON value of the file: the whole document (`sources` set), or one source (a
/// row, as engines write them: DuckDB's `FORMAT json`, ClickHouse's `JSONEachRow`).
/// A row may repeat the optional keys; they must then agree.
#[derive(Deserialize)]
struct Value {
    #[serde(default)]
    sources: Option<Vec<Source>>,
    #[serde(flatten)]
    source: Option<Source>,
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
    lines: Count,
    /// Absent or null for a source without requests.
    #[serde(default)]
    first: Option<String>,
    #[serde(default)]
    last: Option<String>,
}

/// A count as a number, or as the decimal string some engines write for 64-bit
/// integers (ClickHouse quotes them in JSON).
#[derive(Deserialize)]
#[serde(untagged)]
enum Count {
    Number(u64),
    Text(String),
}

/// The file's values, as one document.
struct File {
    sources: Vec<Source>,
    engine: Option<String>,
    filter: Option<String>,
    ran_at: Option<String>,
}

impl File {
    fn of(values: Vec<Value>) -> std::result::Result<File, &'static str> {
        let mut file = File {
            sources: Vec::new(),
            engine: None,
            filter: None,
            ran_at: None,
        };
        let documents = values.iter().filter(|v| v.sources.is_some()).count();
        if documents > 1 || (documents == 1 && values.len() > 1) {
            return Err(
                "holds more than one document: give one object with `sources`, \
                        or one source per line",
            );
        }
        for value in values {
            match (value.sources, value.source) {
                (Some(sources), _) => file.sources = sources,
                (None, Some(source)) => file.sources.push(source),
                (None, None) => {
                    return Err("a value is neither a document with `sources` nor a source \
                                with `name` and `lines`");
                }
            }
            for (mine, theirs) in [
                (&mut file.engine, value.engine),
                (&mut file.filter, value.filter),
                (&mut file.ran_at, value.ran_at),
            ] {
                match (mine.as_ref(), theirs) {
                    (Some(a), Some(b)) if *a != b => {
                        return Err("its sources name different engines, filters or times");
                    }
                    (_, Some(b)) => *mine = Some(b),
                    _ => {}
                }
            }
        }
        Ok(file)
    }
}

/// A manifest, checked: its totals, and what the internal note says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
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
    /// What the engine's filter cannot see, for the internal note.
    pub(crate) fn caveat(&self) -> Option<&'static str> {
        match self.engine.as_deref()?.to_ascii_lowercase().as_str() {
            "elasticsearch" | "opensearch" => Some(
                "a filter on analysed text cannot see an API id whose letters or digits are \
                 percent-encoded, so such requests are not among the candidates",
            ),
            _ => None,
        }
    }

    pub(crate) fn load(path: &Path) -> Result<Manifest> {
        let fail = |message: String| Error::Manifest {
            path: path.to_owned(),
            message,
        };
        let bytes = SideFile::Manifest.read(path)?;
        // serde_json's message names the line and column, never the content.
        let mut values = Vec::new();
        for value in serde_json::Deserializer::from_slice(&bytes).into_iter::<Value>() {
            values.push(value.map_err(|e| fail(e.to_string()))?);
        }
        let file = File::of(values).map_err(|m| fail(m.to_owned()))?;
        let (mut lines, mut first, mut last) = (0u64, None::<DateTime<Utc>>, None::<DateTime<Utc>>);
        for (i, source) in file.sources.iter().enumerate() {
            let (count, f, l) = source.checked(i, &fail)?;
            lines = lines
                .checked_add(count)
                .ok_or_else(|| fail("the line counts overflow".to_owned()))?;
            first = match (first, f) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            last = last.max(l);
        }
        // A source of other records only (start-up lines, say) has no period; the
        // logs as a whole must have one.
        if lines > 0 && first.is_none() {
            return Err(fail(
                "no source has a first or last time: the period the logs cover must come \
                 from the engine"
                    .to_owned(),
            ));
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

/// A source's line count, and its first and last times.
type CheckedSource = (u64, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

impl Source {
    /// The source's line count and period, checked: `i` is its place in `sources`.
    fn checked(&self, i: usize, fail: &dyn Fn(String) -> Error) -> Result<CheckedSource> {
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
        let (f, l) = (time(&self.first, i, "first")?, time(&self.last, i, "last")?);
        let count = match &self.lines {
            Count::Number(n) => *n,
            Count::Text(t) => t
                .parse()
                .map_err(|_| fail(format!("sources[{i}].lines is not a count")))?,
        };
        if f.is_none() != l.is_none() {
            return Err(fail(format!(
                "sources[{i}] has a first time or a last time, not both"
            )));
        }
        if let (Some(f), Some(l)) = (f, l)
            && f > l
        {
            return Err(fail(format!("sources[{i}].first is after its last")));
        }
        // Logs are written before they are counted; a day allows for clocks.
        if l.is_some_and(|l| l > crate::ingest::run_clock() + chrono::Duration::days(1)) {
            return Err(fail(format!("sources[{i}].last lies in the future")));
        }
        // The engine took its first and last over every line, stray times too: a
        // time no log line can hold would be the period's edge (RULES.md §9).
        if f.into_iter().chain(l).any(crate::ingest::is_stray) {
            return Err(fail(format!(
                "sources[{i}] has a first or last time before 2011, which no log line \
                 can hold: run the engine's totals again over the times from 2011 on"
            )));
        }
        Ok((count, f, l))
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
    fn one_source_per_line_as_engines_write_them() {
        // DuckDB's `FORMAT json` and ClickHouse's `JSONEachRow` (64-bit counts quoted);
        // a source of start-up lines only has no period.
        let m = load(concat!(
            r#"{"name":"a","lines":"10","first":"2026-03-02T00:00:00.000000Z","last":"2026-03-03T00:00:00Z","engine":"clickhouse"}"#,
            "\n",
            r#"{"name":"b","lines":2,"first":null,"last":null,"engine":"clickhouse"}"#,
            "\n"
        ))
        .unwrap();
        assert_eq!((m.lines, m.sources), (12, 2));
        assert_eq!(m.first.unwrap().to_rfc3339(), "2026-03-02T00:00:00+00:00");
        assert_eq!(m.engine.as_deref(), Some("clickhouse"));
        assert_eq!(m.caveat(), None);
        let es = Manifest {
            engine: Some("Elasticsearch".into()),
            ..m
        };
        assert!(es.caveat().unwrap().contains("percent-encoded"));
    }

    #[test]
    fn what_does_not_add_up_is_refused_without_quoting_it() {
        for (text, says) in [
            (
                r#"{"sources":[{"name":"a","lines":3}]}"#,
                "no source has a first or last time",
            ),
            (
                r#"{"sources":[{"name":"a","lines":3,"first":"2026-03-02T00:00:00Z"}]}"#,
                "not both",
            ),
            (
                r#"{"name":"a","lines":"3x","first":null,"last":null}"#,
                "sources[0].lines is not a count",
            ),
            (
                "{\"name\":\"a\",\"lines\":1,\"engine\":\"x\"}\n{\"sources\":[]}",
                "more than one document",
            ),
            (
                "{\"name\":\"a\",\"lines\":0,\"engine\":\"x\"}\n{\"name\":\"b\",\"lines\":0,\"engine\":\"y\"}",
                "different engines",
            ),
            (r#"{"engine":"x"}"#, "neither a document"),
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
                r#"{"sources":[{"name":"a","lines":3,"first":"1970-01-01T00:00:00Z","last":"2026-03-03T00:00:00Z"}]}"#,
                "before 2011, which no log line can hold",
            ),
            (
                r#"{"sources":[{"name":"secret-value","lines":-1}]}"#,
                "line 1",
            ),
            (
                r#"{"name":"secret-value","lines":-1}"#,
                "neither a document",
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
