//! The queries each engine runs: one keeps the candidate lines, one counts every line
//! per source with the first and last request time (the manifest).
//!
//! The period of a source is the first and last time of the lines that look like
//! requests to the engine: JSON lines with a `path` and no `msg` (Rails, internal API
//! calls other than the SSH access check left out), or a Workhorse `access` line with
//! a `uri`; in NGINX logs, every line with a time. That is a little wider than
//! logbrief's own notion, never narrower, so a manifest never claims less than the
//! candidates show. Fields are read from a `jsonPayload` wrapper first, as the reader
//! does.

use chrono::{DateTime, SecondsFormat, Utc};

use super::quote;
use crate::error::Result;
use crate::scope::prefilter::Syntax;

/// What every engine needs to know.
pub(super) struct Plan {
    pub regex: String,
    pub syntax: Syntax,
    /// The window the engine applies, already widened by a day on either side; the
    /// second bound is exclusive.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub source: Option<String>,
    pub output: Option<String>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The header every script starts with.
pub(super) fn header(plan: &Plan, comment: &str, engine: &str) -> String {
    let window = match (plan.since, plan.until) {
        (None, None) => String::new(),
        (since, until) => format!(
            "\n{comment} Window (a day wider than asked; summarize applies the exact one): {} to {}.",
            since.map_or("the start".to_owned(), rfc3339),
            until.map_or("the end".to_owned(), rfc3339),
        ),
    };
    format!(
        "{comment} logbrief pushdown --engine {engine}: keeps the lines that may concern the \
         requester's scope\n{comment} and counts every line per source for `summarize --manifest`.\
         {window}\n"
    )
}

/// `time >= since AND time < until` over `time`, for the bounds given.
fn window_condition(plan: &Plan, time: &str, literal: impl Fn(DateTime<Utc>) -> String) -> String {
    let mut parts = Vec::new();
    if let Some(s) = plan.since {
        parts.push(format!("{time} >= {}", literal(s)));
    }
    if let Some(u) = plan.until {
        parts.push(format!("{time} < {}", literal(u)));
    }
    if parts.is_empty() {
        return "TRUE".to_owned();
    }
    // A line whose time the engine cannot read is kept: logbrief judges it.
    format!("({time} IS NULL OR ({}))", parts.join(" AND "))
}

/// How one engine reads a JSON field and a time.
struct Dialect {
    /// The value at a JSON path (given as its keys), NULL when there is none.
    field: fn(&[&str]) -> String,
    /// `{}` is a text column: RFC 3339 and the like, to a time in UTC.
    parse_time: &'static str,
    /// `{}` is the line: the text between NGINX's brackets.
    nginx_text: &'static str,
    /// `{}` is that text: `day/Mon/year:h:m:s zone` to a time.
    nginx_time: &'static str,
}

impl Dialect {
    /// The columns a line gives, as `expression AS name`: its time's text and, for
    /// JSON, what tells a request; each read from a `jsonPayload` wrapper first.
    fn columns(&self, syntax: Syntax) -> String {
        match syntax {
            Syntax::Json => {
                let f = |name: &str| {
                    format!(
                        "coalesce({}, {})",
                        (self.field)(&["jsonPayload", name]),
                        (self.field)(&[name])
                    )
                };
                format!(
                    "coalesce({}, {}, {}) AS time_text,\n         {} AS msg, {} AS path, {} AS uri",
                    (self.field)(&["jsonPayload", "time"]),
                    (self.field)(&["time"]),
                    (self.field)(&["timestamp"]),
                    f("msg"),
                    f("path"),
                    f("uri"),
                )
            }
            Syntax::Nginx => format!("{} AS time_text", self.nginx_text.replace("{}", "line")),
        }
    }

    /// The time of a line from `time_text` (NULL when it has none the engine reads).
    fn time(&self, syntax: Syntax) -> String {
        match syntax {
            Syntax::Json => self.parse_time.replace("{}", "time_text"),
            Syntax::Nginx => self.nginx_time.replace("{}", "time_text"),
        }
    }
}

/// Whether a line looks like a request, over the columns of [`Dialect::columns`] and
/// its time `t`.
fn request(syntax: Syntax) -> &'static str {
    match syntax {
        Syntax::Json => {
            "t IS NOT NULL AND ((msg IS NULL AND path IS NOT NULL\n\
             \x20             AND NOT (lower(path) LIKE '/api/v4/internal/%'\n\
             \x20                      AND lower(path) <> '/api/v4/internal/allowed'))\n\
             \x20            OR (msg = 'access' AND uri IS NOT NULL))"
        }
        Syntax::Nginx => "t IS NOT NULL",
    }
}

fn json_path(keys: &[&str]) -> String {
    format!("'$.{}'", keys.join("."))
}

const DUCKDB: Dialect = Dialect {
    field: |keys| format!("json_extract_string(doc, {})", json_path(keys)),
    parse_time: "try_cast({} AS TIMESTAMPTZ)",
    nginx_text: r"regexp_extract({}, '\[([^\]]+)\]', 1)",
    nginx_time: "try_strptime({}, '%d/%b/%Y:%H:%M:%S %z')",
};

const BIGQUERY: Dialect = Dialect {
    field: |keys| format!("SAFE.JSON_VALUE(line, {})", json_path(keys)),
    parse_time: "SAFE_CAST({} AS TIMESTAMP)",
    nginx_text: r"REGEXP_EXTRACT({}, r'\[([^\]]+)\]')",
    nginx_time: "SAFE.PARSE_TIMESTAMP('%d/%b/%Y:%H:%M:%S %z', {})",
};

const CLICKHOUSE: Dialect = Dialect {
    // JSONExtractString gives '' for a missing key or a line that is not JSON.
    field: |keys| {
        let keys: Vec<String> = keys.iter().map(|k| quote::clickhouse(k)).collect();
        format!("nullIf(JSONExtractString(line, {}), '')", keys.join(", "))
    },
    parse_time: "parseDateTime64BestEffortOrNull({}, 6, 'UTC')",
    // ClickHouse's string literals read backslash escapes.
    nginx_text: r"nullIf(extract({}, '\\[([^\\]]+)\\]'), '')",
    nginx_time: "parseDateTime64OrNull({}, '%d/%b/%Y:%H:%i:%S %z', 'UTC')",
};

/// The folder the outputs go to, without a trailing slash.
fn folder(plan: &Plan) -> &str {
    match plan.output.as_deref().unwrap_or(".").trim_end_matches('/') {
        "" => "/",
        f => f,
    }
}

pub(super) fn duckdb(plan: &Plan) -> String {
    let source = plan.source.as_deref().unwrap_or("logs/*.log");
    let output = folder(plan);
    let window = window_condition(plan, "t", |t| {
        format!("TIMESTAMPTZ {}", quote::duckdb(&rfc3339(t)))
    });
    let stamp = |e: &str| format!("strftime({e} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')");
    format!(
        "{header}\
-- Run it with `duckdb < this.sql`; then give logbrief {output}/kept.log and
-- --manifest {output}/manifest.json. DuckDB's CSV reader also ends a line at \\r, so a
-- file with \\r\\n line ends is counted with one empty line more per line.
SET TimeZone = 'UTC';
CREATE TEMP VIEW logbrief_lines AS
  SELECT source, line, t, CASE WHEN {request} THEN t END AS request_t
  FROM (SELECT *, {time} AS t
        FROM (SELECT source, line,
         {columns}
              FROM (SELECT filename AS source, line,
                           CASE WHEN json_valid(line) THEN line END AS doc
                    FROM read_csv({source}, columns = {{'line': 'VARCHAR'}}, header = false,
                                  delim = E'\\x1f', quote = '', escape = '', new_line = '\\n',
                                  strict_mode = false, auto_detect = false,
                                  max_line_size = 100000000, filename = true))))
  WHERE {window};
-- 1. The candidate lines.
COPY (SELECT line FROM logbrief_lines WHERE regexp_matches(line, {regex}))
  TO {kept} (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER E'\\x1f');
-- 2. The manifest: one source per line.
COPY (SELECT source AS name, count(*) AS lines,
             {first} AS first,
             {last} AS last,
             'duckdb' AS engine, {regex} AS filter,
             strftime(now() AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS ran_at
      FROM logbrief_lines GROUP BY source ORDER BY source)
  TO {manifest} (FORMAT json);
",
        header = header(plan, "--", "duckdb"),
        request = request(plan.syntax),
        time = DUCKDB.time(plan.syntax),
        columns = DUCKDB.columns(plan.syntax),
        source = quote::duckdb(source),
        regex = quote::duckdb(&plan.regex),
        kept = quote::duckdb(&format!("{output}/kept.log")),
        manifest = quote::duckdb(&format!("{output}/manifest.json")),
        first = stamp("min(request_t)"),
        last = stamp("max(request_t)"),
    )
}

pub(super) fn bigquery(plan: &Plan) -> Result<String> {
    let source = quote::bigquery_table(
        "--source",
        plan.source
            .as_deref()
            .unwrap_or("PROJECT.DATASET.raw_lines"),
    )?;
    let window = window_condition(plan, "t", |t| {
        format!("TIMESTAMP {}", quote::bigquery(&rfc3339(t)))
    });
    // A raw string keeps the expression's backslashes as they are, for the reader.
    let regex = quote::bigquery_raw(&plan.regex);
    let stamp = |e: &str| format!("FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6SZ', {e}, 'UTC')");
    let lines = format!(
        "WITH lines AS (
  SELECT source, line, t, IF({request}, t, NULL) AS request_t
  FROM (SELECT *, {time} AS t
        FROM (SELECT _FILE_NAME AS source, line,
         {columns}
              FROM {source}))
  WHERE {window}
)",
        request = request(plan.syntax),
        time = BIGQUERY.time(plan.syntax),
        columns = BIGQUERY.columns(plan.syntax),
    );
    Ok(format!(
        "{header}\
-- The source is a table with one STRING column `line`, one row per log line. For a log
-- archive in Cloud Storage, an external table such as
--   CREATE EXTERNAL TABLE DATASET.raw_lines (line STRING) OPTIONS (format = 'CSV',
--     uris = ['gs://BUCKET/logs/*.log.gz'], field_delimiter = '\\u001f', quote = '');
-- whose `_FILE_NAME` names each line's file.

-- 1. The candidate lines: save the `line` column as a text file, one line each
--    (`bq query --format=json`, then write each row's `line`).
{lines}
SELECT line FROM lines WHERE REGEXP_CONTAINS(line, {regex});

-- 2. The manifest: one row holding one JSON document, to save as manifest.json.
{lines}
SELECT TO_JSON_STRING(STRUCT(ARRAY_AGG(s ORDER BY s.name) AS sources,
                             'bigquery' AS engine, {regex} AS filter,
                             {ran_at} AS ran_at)) AS manifest
FROM (SELECT source AS name, COUNT(*) AS lines,
             {first} AS first,
             {last} AS last
      FROM lines GROUP BY source) AS s;
",
        header = header(plan, "--", "bigquery"),
        first = stamp("MIN(request_t)"),
        last = stamp("MAX(request_t)"),
        ran_at = stamp("CURRENT_TIMESTAMP()"),
    ))
}

pub(super) fn clickhouse(plan: &Plan) -> String {
    let source = plan
        .source
        .as_deref()
        .unwrap_or("https://BUCKET.s3.amazonaws.com/logs/*.log.gz");
    let output = folder(plan);
    let window = window_condition(plan, "t", |t| {
        let t = t.format("%Y-%m-%d %H:%M:%S").to_string();
        format!("toDateTime64({}, 6, 'UTC')", quote::clickhouse(&t))
    });
    let regex = quote::clickhouse(&plan.regex);
    let stamp = |e: &str| format!("formatDateTime({e}, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC')");
    let lines = format!(
        "(SELECT source, line, t, if({request}, t, NULL) AS request_t
      FROM (SELECT *, {time} AS t
            FROM (SELECT _path AS source, line,
         {columns}
                  FROM s3Cluster('CLUSTER', {source}, 'LineAsString')))
      WHERE {window})",
        request = request(plan.syntax),
        time = CLICKHOUSE.time(plan.syntax),
        columns = CLICKHOUSE.columns(plan.syntax),
        source = quote::clickhouse(source),
    );
    format!(
        "{header}\
-- For clickhouse-client on a current version; replace CLUSTER with the cluster's name.
-- s3Cluster reads gzip by the name's .gz; `_path` names each line's file.

-- 1. The candidate lines.
SELECT line FROM {lines}
WHERE match(line, {regex})
INTO OUTFILE {kept} FORMAT TSVRaw;

-- 2. The manifest: one source per line.
SELECT source AS name, count() AS lines,
       {first} AS first,
       {last} AS last,
       'clickhouse' AS engine, {regex} AS filter,
       formatDateTime(now(), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS ran_at
FROM {lines}
GROUP BY source ORDER BY source
INTO OUTFILE {manifest} FORMAT JSONEachRow;
",
        header = header(plan, "--", "clickhouse"),
        kept = quote::clickhouse(&format!("{output}/kept.log")),
        manifest = quote::clickhouse(&format!("{output}/manifest.json")),
        first = stamp("min(request_t)"),
        last = stamp("max(request_t)"),
    )
}

/// The two ways to run logbrief's PySpark job, and how to read what it writes.
/// `pipe` is the `logbrief filter` command line, its directory named `directory`.
pub(super) fn spark(plan: &Plan, pipe: &str, directory: &str, job: &str) -> String {
    let sources = plan
        .source
        .as_deref()
        .unwrap_or("hdfs:///logs/2026-03/*.log.gz");
    let output = plan.output.as_deref().unwrap_or("candidates");
    let lines = match plan.syntax {
        Syntax::Json => "json",
        Syntax::Nginx => "nginx",
    };
    let mut window = String::new();
    for (flag, t) in [("--since", plan.since), ("--until", plan.until)] {
        if let Some(t) = t {
            window.push_str(&format!(" {flag} {}", rfc3339(t)));
        }
    }
    format!(
        "{header}\
# The job is logbrief's own: `logbrief pushdown --engine spark --write-job {job}`
# writes it. Add --master and the cluster's options to spark-submit.
#
# With the expression (Java's regular expressions, Spark's rlike):
spark-submit {job} --lines {lines}{window} --output {output_arg} \\
  --regex {regex} \\
  {sources}
#
# Or with logbrief's own filter on every executor: this machine's logbrief and the
# directory go with --files (the executors must run the same OS and architecture).
spark-submit --files \"$(command -v logbrief)\",{directory} \\
  {job} --lines {lines}{window} --output {output_arg} \\
  --pipe {pipe} \\
  {sources}
#
# Then, with {output} copied here:
#   logbrief summarize --manifest {copied}/manifest/part-*.json ... {copied}/kept/part-*
",
        header = header(plan, "#", "spark"),
        regex = quote::shell(&plan.regex),
        sources = quote::shell(sources),
        output_arg = quote::shell(output),
        copied = quote::shell_word(output),
        pipe = quote::shell(pipe),
        job = quote::shell(job),
        directory = quote::shell(directory),
    )
}
