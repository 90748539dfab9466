//! Ingest: turns exported log files into canonical [`Request`] records.
//!
//! Each format has its own module; all of them produce the same borrowed `Request`,
//! so attribution, exclusion and counting never care where a line came from. Lines are
//! handed out as raw bytes first (see [`reader`]), which lets a later stage decide
//! whether a line is worth parsing at all (RULES.md §6).

pub mod audit;
pub mod chunks;
pub mod json;
pub mod kibana;
pub mod nginx;
pub mod reader;
mod values;

use std::borrow::Cow;
use std::net::IpAddr;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

use crate::error::Error;
use reader::Dropped;

/// Which component logged a request. When several logged the same one, the most
/// complete record wins (RULES.md §6): Rails knows the user, Workhorse does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    Rails,
    Workhorse,
    /// NGINX in front of GitLab (`gitlab_access.log`), or any combined-format log.
    Nginx,
}

impl Source {
    /// Higher is more complete.
    pub fn completeness(self) -> u8 {
        match self {
            Source::Rails => 2,
            Source::Workhorse | Source::Nginx => 1,
        }
    }
}

/// The format of one input file, detected or hinted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    RailsJson,
    WorkhorseJson,
    /// NGINX's combined format, GitLab's `gitlab_access.log` among them.
    Nginx,
    /// A Kibana Discover CSV export of a GitLab JSON log.
    KibanaCsv,
    /// Pretty-printed JSON objects, one after another (a log line copied from a
    /// viewer, a documentation example): each object is one record.
    JsonDocuments,
    /// Audit events as the REST API returns them: JSON arrays, pages concatenated.
    AuditJson,
    /// Audit events as streaming sends them: one JSON object per line.
    AuditNdjson,
    /// The audit events CSV export of GitLab's UI.
    AuditCsv,
    /// An empty file: nothing to detect.
    Empty,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::RailsJson => "gitlab-rails-json",
            Format::WorkhorseJson => "gitlab-workhorse-json",
            Format::Nginx => "nginx-combined",
            Format::KibanaCsv => "kibana-csv",
            Format::JsonDocuments => "json-documents",
            Format::AuditJson => "audit-events-json",
            Format::AuditNdjson => "audit-events-ndjson",
            Format::AuditCsv => "audit-events-csv",
            Format::Empty => "empty",
        }
    }
}

/// Route parameters that name a namespace or project.
#[derive(Debug, Default, Clone)]
pub struct Params<'a> {
    pub namespace_id: Option<Cow<'a, str>>,
    pub project_id: Option<Cow<'a, str>>,
    pub repository_path: Option<Cow<'a, str>>,
    pub service: Option<Cow<'a, str>>,
    /// Git SSH access checks (`/api/v4/internal/allowed`): the Git command, the
    /// protocol and the client address gitlab-shell passes on.
    pub action: Option<Cow<'a, str>>,
    pub protocol: Option<Cow<'a, str>>,
    pub check_ip: Option<Cow<'a, str>>,
}

/// One request, as every format reports it. Strings borrow from the line when they can.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub source: Source,
    pub time: DateTime<Utc>,
    /// The request path, possibly with its query string.
    pub path: Cow<'a, str>,
    pub status: Option<u16>,
    /// The client address, when the log has a real one (not masked).
    pub client_ip: Option<IpAddr>,
    pub user_id: Option<u64>,
    pub username: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub correlation_id: Option<Cow<'a, str>>,
    pub meta_project: Option<Cow<'a, str>>,
    pub meta_root_namespace: Option<Cow<'a, str>>,
    pub params: Params<'a>,
}

#[cfg(test)]
impl<'a> Request<'a> {
    /// A request for `path` and nothing else known, for tests.
    pub(crate) fn at_path(path: &'a str) -> Request<'a> {
        Request {
            source: Source::Rails,
            time: DateTime::UNIX_EPOCH,
            path: path.into(),
            status: None,
            client_ip: None,
            user_id: None,
            username: None,
            user_agent: None,
            correlation_id: None,
            meta_project: None,
            meta_root_namespace: None,
            params: Params::default(),
        }
    }
}

/// What one line turned out to be.
#[derive(Debug)]
pub enum Line<'a> {
    Request(Box<Request<'a>>),
    /// An audit event.
    Audit(Box<audit::AuditEvent>),
    /// Valid, but not a request (a blank line, a Workhorse start-up message, ...).
    NotRequest,
    /// Cannot be read; the reason never quotes the line.
    Malformed(&'static str),
}

/// The access check gitlab-shell makes for every Git command over SSH.
pub const INTERNAL_ALLOWED: &str = "/api/v4/internal/allowed";

/// What a request did, for the per-kind counts (RULES.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Web,
    Api,
    GitPull,
    GitPush,
    Download,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Web,
        Kind::Api,
        Kind::GitPull,
        Kind::GitPush,
        Kind::Download,
    ];
}

impl Request<'_> {
    /// Classifies the request: Git over HTTP first, then downloads, then API, then web.
    pub fn kind(&self) -> Kind {
        let (path, query) = match self.path.split_once('?') {
            Some((p, q)) => (p, q),
            None => (self.path.as_ref(), ""),
        };
        let path = path.to_ascii_lowercase();
        if path.ends_with(INTERNAL_ALLOWED) {
            return match self.params.action.as_deref() {
                Some("git-receive-pack") => Kind::GitPush,
                Some("git-upload-archive") => Kind::Download,
                _ => Kind::GitPull,
            };
        }
        let service = self
            .params
            .service
            .as_deref()
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let query = query.to_ascii_lowercase();
        if path.ends_with("/git-receive-pack")
            || (path.ends_with("/info/refs")
                && (query.contains("service=git-receive-pack") || service == "git-receive-pack"))
        {
            return Kind::GitPush;
        }
        if path.ends_with("/git-upload-pack") || path.ends_with("/info/refs") {
            return Kind::GitPull;
        }
        if path.contains("/info/lfs/")
            || path.contains("/-/archive/")
            || path.contains("/repository/archive")
            || path.contains("/-/raw/")
            || path.contains("/raw/")
            || (path.starts_with("/api/")
                && (path.contains("/repository/files/") || path.contains("/repository/blobs/"))
                && path.ends_with("/raw"))
        {
            return Kind::Download;
        }
        if path.starts_with("/api/") {
            return Kind::Api;
        }
        Kind::Web
    }
}

/// Parses a client address as logs write it: a comma list (the first entry is the
/// client), an optional port, brackets around IPv6, IPv4-mapped IPv6 folded to IPv4.
/// Masked values (`[filtered]`, `x.x.x.x`) and anything else give `None`.
pub fn parse_ip(raw: &str) -> Option<IpAddr> {
    let first = raw.split(',').next()?.trim();
    let ip = first
        .parse::<IpAddr>()
        .ok()
        .or_else(|| first.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            // `1.2.3.4:0` parses as a socket address already; this catches `[::1]`.
            first
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse().ok())
        })?;
    Some(fold_mapped(ip))
}

pub fn fold_mapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Parses a log timestamp: RFC 3339, with its zone. A time written without a zone is
/// not read (RULES.md §9: times without a zone are not guessed); GitLab's JSON logs and
/// the audit API always write one, so such a line is malformed.
pub fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Detects a file's format from its first bytes (see [`reader::LineReader::peek`]:
/// at least 256 KiB and the whole first line). `None`: no known format.
pub fn detect(head: &[u8], hint: Option<Format>) -> Option<Format> {
    if let Some(hint) = hint {
        return Some(hint);
    }
    if head.iter().all(u8::is_ascii_whitespace) {
        return Some(Format::Empty);
    }
    // Only complete lines are judged; a line longer than the buffer is judged by its start.
    let complete = match head.iter().rposition(|&b| b == b'\n') {
        Some(end) => &head[..end],
        None => head,
    };
    let first = complete.split(|&b| b == b'\n').next().unwrap_or_default();
    if kibana::looks_like(first.trim_ascii()) {
        return Some(Format::KibanaCsv);
    }
    if audit::is_csv_header(first.trim_ascii()) {
        return Some(Format::AuditCsv);
    }
    // `[` alone proves nothing (a TOML file starts so): the first element must be an
    // audit event.
    if audit::is_api_array(head) {
        return Some(Format::AuditJson);
    }
    // A line holding only `{` opens a pretty-printed object; a JSON log never has one.
    if first.trim_ascii() == b"{" {
        return Some(Format::JsonDocuments);
    }
    let (mut rails, mut workhorse, mut nginx, mut events) = (0usize, 0usize, 0usize, 0usize);
    for line in complete.split(|&b| b == b'\n').take(200) {
        let trimmed = line.trim_ascii();
        if !trimmed.starts_with(b"{") {
            nginx += usize::from(nginx::looks_like(trimmed));
            continue;
        }
        // Any JSON object line is a GitLab JSON log line (graphql_json lines carry
        // neither `time` nor `path`); Workhorse is told apart by its `msg`. A line
        // wrapped in a record or a document (`jsonPayload`, `json`) holds its keys as
        // they are.
        if serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_err() {
            continue;
        }
        if audit::is_event_line(trimmed) {
            events += 1;
        } else if has_key(trimmed, b"msg")
            && (has_key(trimmed, b"uri") || has_key(trimmed, b"level"))
        {
            workhorse += 1;
        } else {
            rails += 1;
        }
    }
    if events > rails + workhorse + nginx {
        return Some(Format::AuditNdjson);
    }
    match (rails, workhorse, nginx) {
        (0, 0, 0) => None,
        (r, w, n) if n > r + w => Some(Format::Nginx),
        (r, w, _) if w > r => Some(Format::WorkhorseJson),
        _ => Some(Format::RailsJson),
    }
}

/// Whether a JSON line has the key `key`, as the line writes it (`"msg":`) or as a
/// search index's flattened document does (`"json.msg":`). One pass over the line:
/// detection looks at hundreds of lines.
fn has_key(line: &[u8], key: &[u8]) -> bool {
    let n = key.len();
    line.windows(n + 2).enumerate().any(|(at, w)| {
        w[..n] == *key
            && w[n..] == *b"\":"
            && (line[..at].ends_with(b"\"") || line[..at].ends_with(b"\"json."))
    })
}

/// The zone of times written without one (`--input-tz`): UTC or a fixed offset, or an
/// IANA zone, whose offset changes with daylight saving time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Fixed(chrono::FixedOffset),
    Named(chrono_tz::Tz),
}

impl Zone {
    /// An IANA zone by name (`Europe/Berlin`), in any case.
    pub fn named(name: &str) -> Option<Zone> {
        let name = name.trim();
        chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(name))
            .map(|&tz| Zone::Named(tz))
    }

    /// The instant a local time names in this zone. Where daylight saving time makes
    /// that no single instant, nothing is guessed: a time in the spring gap never
    /// happened, and one in the autumn hour that repeats happened twice, an hour
    /// apart, and either could be meant. `Err` says which, for a malformed line.
    pub fn instant(self, local: NaiveDateTime) -> Result<DateTime<Utc>, &'static str> {
        let found = match self {
            Zone::Fixed(offset) => offset.from_local_datetime(&local).map(|t| t.to_utc()),
            Zone::Named(tz) => tz.from_local_datetime(&local).map(|t| t.to_utc()),
        };
        match found {
            LocalResult::Single(t) => Ok(t),
            LocalResult::Ambiguous(..) => {
                Err("a local time in the hour --input-tz repeats when clocks go back")
            }
            LocalResult::None => {
                Err("a local time in the hour --input-tz skips when clocks go forward")
            }
        }
    }
}

/// How the lines of one input are read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// The format named by `--format-hint`, if any; a hinted JSON flavour is strict.
    pub hint: Option<Format>,
    /// The zone of times written without one (Kibana's `@timestamp`); `None` when
    /// `--input-tz` was not given, and such times are not guessed.
    pub input_tz: Option<Zone>,
}

/// How the lines of a line-based format are written; other formats have records
/// that are not lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineSyntax {
    /// GitLab's JSON logs.
    Json,
    /// NGINX's combined format.
    Nginx,
    /// Audit events, one JSON object per line.
    AuditEvents,
}

/// The syntax of a format whose records are lines, or `None`.
pub fn line_syntax(format: Format) -> Option<LineSyntax> {
    match format {
        Format::RailsJson | Format::WorkhorseJson | Format::Empty => Some(LineSyntax::Json),
        Format::Nginx => Some(LineSyntax::Nginx),
        Format::AuditNdjson => Some(LineSyntax::AuditEvents),
        Format::KibanaCsv | Format::JsonDocuments | Format::AuditJson | Format::AuditCsv => None,
    }
}

/// The JSON flavour `options` ask for: a hinted one is strict.
pub fn flavor(options: &ReadOptions) -> json::Flavor {
    match options.hint {
        Some(Format::RailsJson) => json::Flavor::Rails,
        Some(Format::WorkhorseJson) => json::Flavor::Workhorse,
        _ => json::Flavor::Auto,
    }
}

/// Parses one line (without its terminator) of a line-based format.
pub fn parse_line(format: Format, flavor: json::Flavor, bytes: &[u8]) -> Line<'_> {
    let line = match line_syntax(format) {
        Some(LineSyntax::Nginx) => nginx::parse_line(bytes),
        Some(LineSyntax::AuditEvents) => audit::parse_ndjson_line(bytes),
        _ => json::parse_line(bytes, flavor),
    };
    plausible(line)
}

/// The environment variable that sets the run's clock (RFC 3339), for tests: the
/// latest time a log line may hold depends on it.
pub const CLOCK_VARIABLE: &str = "LOGBRIEF_NOW";

/// The run's clock: `LOGBRIEF_NOW` when it holds an RFC 3339 time, else the system's,
/// read once per run.
pub fn run_clock() -> DateTime<Utc> {
    static CLOCK: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *CLOCK.get_or_init(|| {
        std::env::var(CLOCK_VARIABLE)
            .ok()
            .and_then(|t| parse_time(&t))
            .unwrap_or_else(Utc::now)
    })
}

/// Whether a time cannot be a log line's: before 2011 (older than GitLab's logs), or
/// more than a day after the run (RULES.md §9). Such a time is a clock that was not
/// set, or a value that is no time, and would claim a period the logs do not cover.
pub fn is_stray(t: DateTime<Utc>) -> bool {
    let earliest = DateTime::<Utc>::from_naive_utc_and_offset(
        NaiveDate::from_ymd_opt(2011, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default(),
        Utc,
    );
    t < earliest || t > run_clock() + chrono::TimeDelta::days(1)
}

/// A record whose time is stray (see [`is_stray`]) is malformed, in every format. A
/// leap second (`23:59:60`) is read as the last instant of the second before it, so
/// that it falls in the minute it names and prints one way everywhere.
pub fn plausible(mut line: Line<'_>) -> Line<'_> {
    let time = match &mut line {
        Line::Request(r) => &mut r.time,
        Line::Audit(e) => &mut e.time,
        Line::NotRequest | Line::Malformed(_) => return line,
    };
    if time.nanosecond() >= 1_000_000_000 {
        *time = time.with_nanosecond(999_999_999).unwrap_or(*time);
    }
    if is_stray(*time) {
        Line::Malformed("a time before 2011 or more than a day after the run")
    } else {
        line
    }
}

/// Reads every line (for CSV, every record) of `reader` as `format`, handing each to
/// `f` with its 1-based line number. A CSV header counts as a line that is not a
/// request; a CSV record that spans several physical lines counts once. The garbage
/// after the last member of a gzip file is one more line, malformed. An error from `f`
/// stops the reading and is returned.
///
/// A Kibana export whose times have no zone, read without `--input-tz`, is refused
/// with a usage error before any of its records is handed on (see [`kibana`]). Every
/// record is read within its limit (see [`crate::limits`]).
pub fn each_line(
    reader: &mut reader::LineReader,
    format: Format,
    options: &ReadOptions,
    mut f: impl FnMut(u64, Line<'_>) -> crate::error::Result<()>,
) -> crate::error::Result<()> {
    let flavor = flavor(options);
    // Line-based formats check their times in `parse_line`; the others here.
    let mut f = |n: u64, line: Line<'_>| match line_syntax(format) {
        Some(_) => f(n, line),
        None => f(n, plausible(line)),
    };
    let last = match format {
        Format::KibanaCsv | Format::AuditCsv => {
            each_csv_record(reader, format, flavor, options.input_tz, &mut f)?
        }
        Format::AuditJson => values::each_array_element(reader, &mut f)?,
        Format::JsonDocuments => values::each_document(reader, flavor, &mut f)?,
        // Line-based formats are cut as `summarize` cuts them, so that both agree on
        // every line's number and bucket.
        _ => {
            return chunks::each_line(reader, format, flavor, f);
        }
    };
    if reader.trailing_garbage() {
        f(last + 1, Line::Malformed(Dropped::TrailingGarbage.reason()))?;
    }
    Ok(())
}

/// How many records of a Kibana export, at most, decide whether its times need
/// `--input-tz`. They are held back until then, so a refused file hands on nothing.
const ZONE_SAMPLE: usize = 100;

/// The most bytes of records held back for that decision: fewer records decide when
/// they are long.
const ZONE_SAMPLE_BYTES: usize = crate::limits::CSV_RECORD;

/// The stream a CSV reader reads, which fails once a record goes on past its limit
/// ([`crate::limits::CSV_RECORD`]): the csv crate grows a record without bound.
struct RecordBudget<R> {
    inner: R,
    /// Bytes handed out.
    at: u64,
    /// Reading fails past this many bytes.
    until: u64,
    reached: bool,
}

impl<R: std::io::Read> std::io::Read for RecordBudget<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let room = self.until.saturating_sub(self.at);
        if room == 0 && !out.is_empty() {
            self.reached = true;
            return Err(std::io::Error::other("the limit of a CSV record"));
        }
        let most = out.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut out[..most])?;
        self.at += n as u64;
        Ok(n)
    }
}

/// The records of a CSV export. Returns the number of the physical line after the
/// last record, less one (the last line, for what follows it).
fn each_csv_record(
    reader: &mut reader::LineReader,
    format: Format,
    flavor: json::Flavor,
    zone: Option<Zone>,
    f: &mut impl FnMut(u64, Line<'_>) -> crate::error::Result<()>,
) -> crate::error::Result<u64> {
    use crate::limits::{CSV_FIELDS, CSV_RECORD, size};
    let path = reader.path().to_owned();
    let stream = RecordBudget {
        inner: reader.reader(),
        at: 0,
        until: CSV_RECORD as u64,
        reached: false,
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(stream);
    let stop = |line, message: String| Error::InputLine {
        path: path.clone(),
        line,
        message: format!("{message}; the input was not read past it"),
    };
    let mut record = csv::ByteRecord::new();
    let mut audit_columns: Option<audit::CsvColumns> = None;
    let mut kibana: Option<KibanaRecords> = None;
    let mut last = 0;
    loop {
        let line_no = csv.position().line();
        // The csv reader reads ahead of the record by its buffer; the limit allows it.
        let next = csv.position().byte() + CSV_RECORD as u64;
        csv.get_mut().until = next + (64 << 10);
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => last = line_no,
            Err(_) if csv.get_ref().reached => {
                return Err(stop(
                    line_no,
                    format!(
                        "a CSV record longer than {} starts here, the most one may hold",
                        size(CSV_RECORD as u64)
                    ),
                ));
            }
            Err(e) => {
                let line = e.position().map_or(line_no, |p| p.line());
                return Err(Error::InputLine {
                    path,
                    line,
                    message: match e.kind() {
                        csv::ErrorKind::Io(_) => {
                            "read failed; the records after this one were not read".into()
                        }
                        _ => "the CSV cannot be read past this record".into(),
                    },
                });
            }
        }
        if record.len() > CSV_FIELDS {
            return Err(stop(
                line_no,
                format!("a CSV record of more than {CSV_FIELDS} fields, the most one may hold"),
            ));
        }
        if format == Format::AuditCsv {
            match &audit_columns {
                Some(cols) => f(line_no, cols.event(&record))?,
                None => {
                    audit_columns = Some(audit::CsvColumns::new(&record));
                    f(line_no, Line::NotRequest)?;
                }
            }
            continue;
        }
        match &mut kibana {
            Some(records) => records.take(&path, line_no, &record, f)?,
            None => {
                kibana = Some(KibanaRecords {
                    columns: kibana::Columns::new(&record),
                    zone,
                    flavor,
                    held: Some(Vec::new()),
                    held_bytes: 0,
                });
                f(line_no, Line::NotRequest)?;
            }
        }
    }
    if let Some(records) = &mut kibana {
        records.release(&path, f)?;
    }
    Ok(csv.position().line().max(last + 1) - 1)
}

/// The records of a Kibana export after its header.
struct KibanaRecords {
    columns: kibana::Columns,
    zone: Option<Zone>,
    flavor: json::Flavor,
    /// The first records, until they decide whether the export needs a zone.
    held: Option<Vec<(u64, csv::ByteRecord)>>,
    /// Their bytes.
    held_bytes: usize,
}

impl KibanaRecords {
    fn take(
        &mut self,
        path: &std::path::Path,
        line_no: u64,
        record: &csv::ByteRecord,
        f: &mut impl FnMut(u64, Line<'_>) -> crate::error::Result<()>,
    ) -> crate::error::Result<()> {
        if let Some(held) = &mut self.held {
            // A copy of the record's size: a clone would copy the whole buffer the
            // reader grew for the longest record so far.
            let mut copy = csv::ByteRecord::with_capacity(record.as_slice().len(), record.len());
            record.iter().for_each(|field| copy.push_field(field));
            self.held_bytes += record.as_slice().len() + record.len() * size_of::<usize>();
            held.push((line_no, copy));
            if held.len() < ZONE_SAMPLE && self.held_bytes < ZONE_SAMPLE_BYTES {
                return Ok(());
            }
            return self.release(path, f);
        }
        self.hand_on(line_no, record, f)
    }

    /// Decides on the records held back, then hands them on.
    fn release(
        &mut self,
        path: &std::path::Path,
        f: &mut impl FnMut(u64, Line<'_>) -> crate::error::Result<()>,
    ) -> crate::error::Result<()> {
        let Some(held) = self.held.take() else {
            return Ok(());
        };
        if self.zone.is_none()
            && let Some((line, _)) = held.iter().find(|(_, r)| self.columns.needs_zone(r))
        {
            return Err(Error::Usage(format!(
                "{}: line {line}: the Kibana export's times have no zone (Kibana writes \
                 @timestamp in the zone of the browser it was exported from); name that zone \
                 with --input-tz, for example --input-tz Europe/Berlin or --input-tz +01:00 \
                 (--input-tz UTC if the browser was set to UTC), or export the json.time column",
                path.display()
            )));
        }
        for (line_no, record) in &held {
            self.hand_on(*line_no, record, f)?;
        }
        Ok(())
    }

    fn hand_on(
        &self,
        line_no: u64,
        record: &csv::ByteRecord,
        f: &mut impl FnMut(u64, Line<'_>) -> crate::error::Result<()>,
    ) -> crate::error::Result<()> {
        match kibana::record_to_json(&self.columns, record, self.zone) {
            Ok(json) => f(line_no, json::parse_line(&json, self.flavor)),
            Err(why) => f(line_no, Line::Malformed(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addresses() {
        let cases: &[(&str, Option<&str>)] = &[
            ("81.2.69.144, 127.0.0.1", Some("81.2.69.144")),
            ("68.0.116.160:0", Some("68.0.116.160")),
            ("::ffff:198.51.100.9", Some("198.51.100.9")),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("[filtered]", None),
            ("x.x.x.x", None),
            ("", None),
            ("not an ip", None),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_ip(raw), want.map(|w| w.parse().unwrap()), "{raw}");
        }
    }

    #[test]
    fn timestamps() {
        let t = |s| parse_time(s).map(|t| t.to_rfc3339());
        assert_eq!(
            t("2019-09-17T22:17:19Z").unwrap(),
            "2019-09-17T22:17:19+00:00"
        );
        assert_eq!(
            t("2019-09-17T22:17:19.800+02:00").unwrap(),
            "2019-09-17T20:17:19.800+00:00"
        );
        assert_eq!(
            t("2019-09-17 22:17:19+00:00").unwrap(),
            "2019-09-17T22:17:19+00:00"
        );
        // Without a zone, a time is not guessed.
        assert!(t("2019-09-17 22:17:19").is_none());
        assert!(t("2019-09-17T22:17:19.800").is_none());
        assert!(t("yesterday").is_none());
    }

    fn req(path: &str) -> Request<'_> {
        Request::at_path(path)
    }

    #[test]
    fn kinds() {
        let cases = [
            (
                "/acme/app.git/info/refs?service=git-upload-pack",
                Kind::GitPull,
            ),
            ("/acme/app.git/git-upload-pack", Kind::GitPull),
            (
                "/acme/app.git/info/refs?service=git-receive-pack",
                Kind::GitPush,
            ),
            ("/acme/app.git/git-receive-pack", Kind::GitPush),
            ("/acme/app.git/info/lfs/objects/batch", Kind::Download),
            ("/acme/app/-/archive/main/app-main.zip", Kind::Download),
            ("/acme/app/-/raw/main/README.md", Kind::Download),
            ("/acme/app/raw/main/README.md", Kind::Download),
            (
                "/api/v4/projects/7/repository/files/a%2Fb.rs/raw",
                Kind::Download,
            ),
            ("/api/v4/projects/7/repository/archive.zip", Kind::Download),
            ("/api/v4/projects/7/issues", Kind::Api),
            ("/api/graphql", Kind::Api),
            ("/acme/app/-/issues/1", Kind::Web),
            ("/acme/app/-/blob/main/raw.rs", Kind::Web),
        ];
        for (path, kind) in cases {
            assert_eq!(req(path).kind(), kind, "{path}");
        }
        for (action, kind) in [
            (Some("git-upload-pack"), Kind::GitPull),
            (Some("git-receive-pack"), Kind::GitPush),
            (Some("git-upload-archive"), Kind::Download),
            (None, Kind::GitPull),
        ] {
            let mut r = req(INTERNAL_ALLOWED);
            r.params.action = action.map(Into::into);
            assert_eq!(r.kind(), kind, "{action:?}");
        }
    }

    #[test]
    fn detection() {
        let rails = br#"{"time":"2026-03-14T20:06:12Z","path":"/x"}"#.to_vec();
        let wh =
            br#"{"level":"info","msg":"access","uri":"/x","time":"2026-03-14T20:06:12Z"}"#.to_vec();
        let graphql = br#"{"query_string":"q","duration_s":7}"#.to_vec();
        let join = |lines: &[&Vec<u8>]| {
            lines
                .iter()
                .flat_map(|l| l.iter().copied().chain([b'\n']))
                .collect::<Vec<u8>>()
        };
        assert_eq!(
            detect(&join(&[&rails, &wh, &rails]), None),
            Some(Format::RailsJson)
        );
        assert_eq!(
            detect(&join(&[&wh, &wh, &rails]), None),
            Some(Format::WorkhorseJson)
        );
        assert_eq!(detect(&join(&[&graphql]), None), Some(Format::RailsJson));
        assert_eq!(detect(b"plain text\nmore\n", None), None);
        let combined =
            b"192.0.2.1 - - [14/Mar/2026:20:06:12 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"-\"\n";
        assert_eq!(detect(combined, None), Some(Format::Nginx));
        let csv = b"@timestamp,json.path,json.status\n\"Mar 14, 2026 @ 20:06:12.345\",/acme,200\n";
        assert_eq!(detect(csv, None), Some(Format::KibanaCsv));
        assert_eq!(
            detect(b"{\n  \"time\": \"x\"\n}\n", None),
            Some(Format::JsonDocuments)
        );
        let page = b"[\n  {\"id\": 1, \"entity_type\": \"Group\", \"created_at\": \"2026-03-14T20:06:12Z\"}\n]\n";
        assert_eq!(detect(page, None), Some(Format::AuditJson));
        // A `[` is no evidence of audit events.
        assert_eq!(
            detect(
                b"[package]\nname = \"logbrief\"\nversion = \"0.1.0\"\n",
                None
            ),
            None
        );
        assert_eq!(detect(b"[\n  1,\n  2\n]\n", None), None);
        assert_eq!(detect(b"\x1f\x8b\x08binary", None), None);
        assert_eq!(detect(b"", None), Some(Format::Empty));
        assert_eq!(
            detect(b"plain", Some(Format::WorkhorseJson)),
            Some(Format::WorkhorseJson)
        );
    }

    /// Lines wrapped as log archives store them (`jsonPayload`), and as search indexes'
    /// documents hold them (in a `json` object, or flattened into `json.` keys), are
    /// detected as the lines they wrap.
    #[test]
    fn detection_of_wrapped_lines() {
        let archived = |line: &str| {
            format!(
                r#"{{"insertId":"x1","jsonPayload":{line},"timestamp":"2026-03-14T20:06:12.5Z","resource":{{"type":"gce_instance","labels":{{"zone":"europe-west1-b"}}}},"severity":"INFO","logName":"projects/p/logs/app"}}"#
            )
        };
        let nested = |line: &str| {
            format!(
                r#"{{"@timestamp":"2026-03-14T20:06:12.5Z","json":{line},"type":"app","host":"web-01","fluentd":{{"worker":0}}}}"#
            )
        };
        let flattened = |line: &str| {
            let serde_json::Value::Object(fields) = serde_json::from_str(line).unwrap() else {
                unreachable!()
            };
            let mut doc = serde_json::Map::new();
            doc.insert("@timestamp".into(), "2026-03-14T20:06:12.5Z".into());
            for (key, value) in fields {
                doc.insert(format!("json.{key}"), value);
            }
            doc.insert("type".into(), "app".into());
            serde_json::Value::Object(doc).to_string()
        };
        let rails = r#"{"time":"2026-03-14T20:06:12Z","path":"/x","status":200}"#;
        let access = r#"{"level":"info","msg":"access","uri":"/x","time":"2026-03-14T20:06:12Z"}"#;
        // Workhorse's other lines name no `uri`, and some no `level`.
        let start = r#"{"level":"info","msg":"Starting","time":"2026-03-14T20:06:12Z"}"#;
        let bare = r#"{"msg":"access","uri":"/x","time":"2026-03-14T20:06:12Z"}"#;
        let file = |lines: &[&String]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        let wrappers: [&dyn Fn(&str) -> String; 3] = [&archived, &nested, &flattened];
        for wrap in wrappers {
            let (rails, access, start, bare) = (wrap(rails), wrap(access), wrap(start), wrap(bare));
            assert_eq!(
                detect(file(&[&rails, &access, &rails]).as_bytes(), None),
                Some(Format::RailsJson),
                "{rails}"
            );
            for wh in [&access, &start, &bare] {
                assert_eq!(
                    detect(file(&[wh, wh, &rails]).as_bytes(), None),
                    Some(Format::WorkhorseJson),
                    "{wh}"
                );
            }
        }
    }

    #[test]
    fn a_key_is_found_whole_plain_or_flattened() {
        for line in [r#"{"msg":"x"}"#, r#"{"a":1,"json.msg":"x"}"#] {
            assert!(has_key(line.as_bytes(), b"msg"), "{line}");
        }
        let others = [
            r#"{"errmsg":"x"}"#,
            r#"{"xjson.msg":"x"}"#,
            r#"{"msgs":"x"}"#,
            r#"{"a":"msg"}"#,
            r#"{"a":"\"msg\":"}"#,
        ];
        for line in others {
            assert!(!has_key(line.as_bytes(), b"msg"), "{line}");
        }
    }

    fn reader_of(stored: Vec<u8>) -> reader::LineReader {
        reader::LineReader::from_reader(
            std::path::Path::new("t"),
            Box::new(std::io::Cursor::new(stored)),
            true,
        )
        .unwrap()
    }

    fn gzip(text: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(text).unwrap();
        enc.finish().unwrap()
    }

    /// What `each_line` hands on: (line number, what the line is).
    fn read_all(
        stored: Vec<u8>,
        options: &ReadOptions,
    ) -> crate::error::Result<Vec<(u64, String)>> {
        let mut r = reader_of(stored);
        let format = detect(r.peek().unwrap(), options.hint).expect("a known format");
        let mut seen = Vec::new();
        each_line(&mut r, format, options, |n, line| {
            let what = match line {
                Line::Request(r) => format!("request {} {}", r.path, r.time.to_rfc3339()),
                Line::Audit(_) => "audit".to_owned(),
                Line::NotRequest => "not a request".to_owned(),
                Line::Malformed(why) => format!("malformed: {why}"),
            };
            seen.push((n, what));
            Ok(())
        })?;
        Ok(seen)
    }

    #[test]
    fn detection_through_a_byte_order_mark_and_a_long_first_line() {
        let rails = br#"{"time":"2026-03-14T20:06:12Z","path":"/acme/docs"}"#;
        let kibana = b"@timestamp,json.time,json.path\n-,2026-03-14T20:06:12Z,/acme\n";
        let bom = |text: &[u8]| [b"\xEF\xBB\xBF".as_slice(), text].concat();
        let mut long = br#"{"time":"2026-03-14T20:06:12Z","path":"/acme/docs","params":""#.to_vec();
        long.extend(std::iter::repeat_n(b'q', 600 * 1024));
        long.extend(b"\"}\n");
        long.extend(rails);
        let cases: Vec<(&str, Vec<u8>, Format)> = vec![
            ("JSON after a BOM", bom(rails), Format::RailsJson),
            (
                "gzip JSON after a BOM",
                gzip(&bom(rails)),
                Format::RailsJson,
            ),
            ("Kibana header after a BOM", bom(kibana), Format::KibanaCsv),
            ("a first line of 600 KiB", long.clone(), Format::RailsJson),
            ("the same in gzip", gzip(&long), Format::RailsJson),
        ];
        for (why, stored, want) in cases {
            let mut r = reader_of(stored.clone());
            assert_eq!(detect(r.peek().unwrap(), None), Some(want), "{why}");
            let lines = read_all(stored, &ReadOptions::default()).unwrap();
            assert!(
                lines.iter().all(|(_, l)| !l.starts_with("malformed")),
                "{why}: {lines:?}"
            );
        }
    }

    #[test]
    fn a_kibana_export_without_zones_needs_input_tz() {
        let export = b"@timestamp,json.path\n\"Mar 14, 2026 @ 21:06:12.345\",/acme\n\"Mar 14, 2026 @ 21:07:00.000\",/acme\n".to_vec();
        let err = read_all(export.clone(), &ReadOptions::default()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let message = err.to_string();
        assert!(message.starts_with("t: line 2: "), "{message}");
        assert!(
            message.contains("--input-tz") && !message.contains("/acme"),
            "{message}"
        );

        let berlin = ReadOptions {
            input_tz: Zone::named("Europe/Berlin"),
            ..ReadOptions::default()
        };
        assert_eq!(
            read_all(export, &berlin).unwrap(),
            [
                (1, "not a request".to_owned()),
                (2, "request /acme 2026-03-14T20:06:12.345+00:00".to_owned()),
                (3, "request /acme 2026-03-14T20:07:00+00:00".to_owned()),
            ]
        );

        // With json.time, nothing is needed; a record without it, past the first ones
        // that decided, cannot be placed in time and is malformed, not guessed.
        let mut with_time = b"@timestamp,json.time,json.path\n".to_vec();
        for _ in 0..ZONE_SAMPLE {
            with_time.extend(b"\"Mar 14, 2026 @ 21:06:12.345\",2026-03-14T20:06:12.345Z,/acme\n");
        }
        with_time.extend(b"\"Mar 14, 2026 @ 21:06:12.345\",-,/acme\n");
        let lines = read_all(with_time, &ReadOptions::default()).unwrap();
        assert_eq!(lines.len(), ZONE_SAMPLE + 2);
        assert_eq!(
            lines.last().unwrap(),
            &(
                ZONE_SAMPLE as u64 + 2,
                "malformed: a time without a zone, and no --input-tz".to_owned()
            )
        );

        // An export with only a header needs nothing.
        assert_eq!(
            read_all(b"@timestamp,json.path\n".to_vec(), &ReadOptions::default())
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn garbage_after_gzip_members_is_the_last_malformed_line_in_every_shape() {
        let event =
            r#"{"id":1,"entity_type":"Group","entity_id":60,"created_at":"2026-03-14T20:06:12Z"}"#;
        let utc = ReadOptions {
            input_tz: Zone::named("UTC"),
            ..ReadOptions::default()
        };
        let shapes: Vec<(&str, String, u64)> = vec![
            (
                "JSON lines",
                "{\"time\":\"2026-03-14T20:06:12Z\",\"path\":\"/acme\"}\n".repeat(2),
                3,
            ),
            (
                "Kibana CSV",
                "@timestamp,json.path\n\"Mar 14, 2026 @ 21:06:12.345\",/acme\n".to_owned(),
                3,
            ),
            ("API pages", format!("[{event},{event}]\n"), 3),
            (
                "pretty-printed objects",
                "{\n\"time\": \"2026-03-14T20:06:12Z\",\n\"path\": \"/x\"\n}\n".to_owned(),
                2,
            ),
        ];
        for (why, text, want) in shapes {
            let mut stored = gzip(text.as_bytes());
            stored.extend(b"\x00\x00garbage\n{\"path\":\"/acme\"}\n");
            let lines = read_all(stored, &utc).unwrap();
            let (n, what) = lines.last().unwrap();
            assert_eq!(*n, want, "{why}: {lines:?}");
            assert_eq!(
                what, "malformed: bytes after the last gzip member that are not gzip",
                "{why}"
            );
            assert_eq!(
                lines
                    .iter()
                    .filter(|(_, l)| l.starts_with("malformed"))
                    .count(),
                1,
                "{why}"
            );
        }
    }
}
