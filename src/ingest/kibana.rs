//! Kibana Discover CSV exports: a header row naming the columns (`@timestamp`, and the
//! log's fields prefixed with `json.`), then one record per log line.
//!
//! A record is rebuilt as the JSON object the log line was and read by the JSON
//! decoder, so a field means the same whichever way it reached logbrief. Kibana shows
//! empty values as `-`, and writes `@timestamp` in the browser's time zone in its
//! display format (`Mar 14, 2026 @ 20:06:12.345`), with no zone in the value. That
//! zone cannot be guessed: the log's own `json.time`, which carries one, is read when
//! the export has it, and otherwise `--input-tz` must say which zone the browser was
//! in (see [`Columns::needs_zone`]).

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::Zone;

/// Whether the first line is a Kibana CSV header.
pub(crate) fn looks_like(first_line: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(first_line) else {
        return false;
    };
    !text.trim_start().starts_with('{')
        && text.contains(',')
        && text.split(',').any(|f| {
            let f = f.trim().trim_matches('"');
            f == "@timestamp" || f.starts_with("json.")
        })
}

const TIMESTAMP: &str = "@timestamp";
const TIME: &str = "time";

/// The columns of an export, from its header.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    /// The names, with `json.` stripped.
    names: Vec<String>,
    /// The log's own `time` (`json.time`).
    time: Option<usize>,
    /// Kibana's `@timestamp`, in the browser's zone.
    timestamp: Option<usize>,
}

/// A time as a record writes it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stamp {
    /// With a zone (`Z`, an offset): exact.
    Zoned(DateTime<Utc>),
    /// Without one: it needs the zone it was written in.
    Local(NaiveDateTime),
    /// Present, but not a time.
    Unreadable,
    Absent,
}

impl Columns {
    pub(crate) fn new(header: &csv::ByteRecord) -> Self {
        let names: Vec<String> = header
            .iter()
            .map(|f| {
                let name = String::from_utf8_lossy(f).trim().to_owned();
                name.strip_prefix("json.")
                    .map(str::to_owned)
                    .unwrap_or(name)
            })
            .collect();
        let find = |wanted: &str| names.iter().position(|n| n == wanted);
        Columns {
            time: find(TIME),
            timestamp: find(TIMESTAMP),
            names,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// The time a record is read at: a time with a zone first (`json.time` before
    /// `@timestamp`), then one without.
    fn stamp(&self, record: &csv::ByteRecord) -> Stamp {
        let stamps = [self.time, self.timestamp].map(|column| {
            column
                .and_then(|i| value(record, i))
                .map_or(Stamp::Absent, read_stamp)
        });
        let zoned = stamps.iter().find(|s| matches!(s, Stamp::Zoned(_)));
        let local = stamps.iter().find(|s| matches!(s, Stamp::Local(_)));
        let unreadable = stamps.iter().find(|s| matches!(s, Stamp::Unreadable));
        *zoned.or(local).or(unreadable).unwrap_or(&Stamp::Absent)
    }

    /// Whether a record takes its time from a value written without a zone, which
    /// only `--input-tz` can place in time.
    pub(crate) fn needs_zone(&self, record: &csv::ByteRecord) -> bool {
        record.len() == self.len() && matches!(self.stamp(record), Stamp::Local(_))
    }
}

/// A field's value; Kibana's `-` and empty fields are absent.
fn value(record: &csv::ByteRecord, i: usize) -> Option<String> {
    let raw = String::from_utf8_lossy(record.get(i)?);
    let v = raw.trim();
    (!v.is_empty() && v != "-").then(|| v.to_owned())
}

/// A time as Kibana writes it: ISO 8601 or RFC 3339 with a zone, the same without
/// one, or Kibana's display format (which never has one).
fn read_stamp(s: String) -> Stamp {
    if let Ok(t) = DateTime::parse_from_rfc3339(&s) {
        return Stamp::Zoned(t.with_timezone(&Utc));
    }
    [
        "%b %d, %Y @ %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(&s, f).ok())
    .map_or(Stamp::Unreadable, Stamp::Local)
}

/// Rebuilds one record as JSON bytes, its time in UTC. `Err` says why the record is
/// malformed: a field count that does not match the header (a damaged record), a
/// time without a zone when none was given, or a local time `zone` skips or repeats.
pub(crate) fn record_to_json(
    columns: &Columns,
    record: &csv::ByteRecord,
    zone: Option<Zone>,
) -> Result<Vec<u8>, &'static str> {
    if record.len() != columns.len() {
        return Err("record with a different number of fields than the header");
    }
    let mut object = Map::new();
    for (i, name) in columns.names.iter().enumerate() {
        if Some(i) == columns.time || Some(i) == columns.timestamp {
            continue;
        }
        if let Some(v) = value(record, i) {
            object.insert(name.clone(), Value::String(v));
        }
    }
    let time = match columns.stamp(record) {
        Stamp::Zoned(t) => Some(t),
        Stamp::Local(local) => match zone {
            Some(zone) => Some(zone.instant(local)?),
            None => return Err("a time without a zone, and no --input-tz"),
        },
        // Without a time, the JSON decoder decides: a request is malformed.
        Stamp::Unreadable | Stamp::Absent => None,
    };
    if let Some(t) = time {
        object.insert(
            TIME.into(),
            Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        );
    }
    serde_json::to_vec(&Value::Object(object)).map_err(|_| "record that cannot be rebuilt")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn fixed(secs: i32) -> Option<Zone> {
        Some(Zone::Fixed(FixedOffset::east_opt(secs).unwrap()))
    }

    fn berlin() -> Option<Zone> {
        Zone::named("Europe/Berlin")
    }

    #[test]
    fn headers() {
        assert!(looks_like(b"@timestamp,json.path,json.status"));
        assert!(looks_like(b"\"json.time\",\"json.path\""));
        assert!(!looks_like(b"time,path"));
        assert!(!looks_like(br#"{"@timestamp":"x","json.path":"/"}"#));
    }

    /// The time of a one-column export holding `value` in `column`, read in `zone`.
    fn time_of(column: &str, value: &str, zone: Option<Zone>) -> Result<String, &'static str> {
        let cols = Columns::new(&csv::ByteRecord::from(vec![column, "json.path"]));
        let json = record_to_json(&cols, &csv::ByteRecord::from(vec![value, "/x"]), zone)?;
        let v: Value = serde_json::from_slice(&json).unwrap();
        Ok(v["time"].as_str().unwrap_or("absent").to_owned())
    }

    #[test]
    #[rustfmt::skip]
    fn timestamps_in_kibana_display_format_and_zones() {
        // (what it guards, @timestamp, --input-tz, the time read or Err: malformed)
        type Row = (&'static str, &'static str, Option<Zone>, Result<&'static str, ()>);
        let rows: Vec<Row> = vec![
            ("display format at UTC", "Mar 14, 2026 @ 20:06:12.345", fixed(0), Ok("2026-03-14T20:06:12.345Z")),
            ("a one-digit day", "Mar 4, 2026 @ 20:06:12.345", fixed(0), Ok("2026-03-04T20:06:12.345Z")),
            ("an offset", "Mar 14, 2026 @ 21:06:12.345", fixed(3600), Ok("2026-03-14T20:06:12.345Z")),
            ("a zone in the value wins", "2026-03-14T20:06:12.345Z", fixed(3600), Ok("2026-03-14T20:06:12.345Z")),
            ("an offset in the value wins", "2026-03-14T21:06:12.345+01:00", berlin(), Ok("2026-03-14T20:06:12.345Z")),
            ("ISO without a zone", "2026-03-14T21:06:12.345", berlin(), Ok("2026-03-14T20:06:12.345Z")),
            ("no zone given: not guessed", "Mar 14, 2026 @ 20:06:12.345", None, Err(())),
            ("a zone in the value needs none", "2026-03-14T20:06:12Z", None, Ok("2026-03-14T20:06:12Z")),
            // Europe/Berlin, 29 March 2026: 02:00 CET is 03:00 CEST.
            ("the last minute of winter time", "Mar 29, 2026 @ 01:59:59.999", berlin(), Ok("2026-03-29T00:59:59.999Z")),
            ("the first minute of summer time", "Mar 29, 2026 @ 03:00:00.000", berlin(), Ok("2026-03-29T01:00:00Z")),
            ("the spring gap does not exist", "Mar 29, 2026 @ 02:30:00.000", berlin(), Err(())),
            ("summer time", "Jul 1, 2026 @ 14:00:00.000", berlin(), Ok("2026-07-01T12:00:00Z")),
            // 25 October 2026: 03:00 CEST is 02:00 CET, so 02:00-02:59 happens twice.
            ("the repeated autumn hour names two instants", "Oct 25, 2026 @ 02:30:00.000", berlin(), Err(())),
            ("just before the repeated hour", "Oct 25, 2026 @ 01:59:59.000", berlin(), Ok("2026-10-24T23:59:59Z")),
            ("just after it", "Oct 25, 2026 @ 03:00:00.000", berlin(), Ok("2026-10-25T02:00:00Z")),
            ("New York in winter", "Mar 7, 2026 @ 12:00:00.000", Zone::named("america/new_york"), Ok("2026-03-07T17:00:00Z")),
            ("New York in summer", "Mar 9, 2026 @ 12:00:00.000", Zone::named("America/New_York"), Ok("2026-03-09T16:00:00Z")),
        ];
        for (why, value, zone, want) in rows {
            let got = time_of("@timestamp", value, zone).map_err(|_| ());
            assert_eq!(got.as_deref(), want.as_deref(), "{why}");
        }
        assert_eq!(time_of("@timestamp", "yesterday", fixed(0)).unwrap(), "absent");
    }

    #[test]
    fn the_logs_own_time_wins_and_needs_no_zone() {
        let header = csv::ByteRecord::from(vec!["@timestamp", "json.time", "json.path"]);
        let cols = Columns::new(&header);
        let rec = |ts: &str, t: &str| csv::ByteRecord::from(vec![ts, t, "/acme"]);
        let both = rec("Mar 14, 2026 @ 21:06:12.345", "2026-03-14T20:06:12.345Z");
        assert!(!cols.needs_zone(&both));
        let json: Value =
            serde_json::from_slice(&record_to_json(&cols, &both, None).unwrap()).unwrap();
        assert_eq!(json["time"], "2026-03-14T20:06:12.345Z");
        assert!(json.get("@timestamp").is_none());
        // Without json.time in a record, @timestamp is all there is.
        let only_timestamp = rec("Mar 14, 2026 @ 21:06:12.345", "-");
        assert!(cols.needs_zone(&only_timestamp));
        assert!(record_to_json(&cols, &only_timestamp, None).is_err());
        // A json.time without a zone is no better than @timestamp.
        assert!(cols.needs_zone(&rec("-", "2026-03-14 20:06:12")));
        assert!(!cols.needs_zone(&rec("2026-03-14T20:06:12Z", "2026-03-14 20:06:12")));
        // A damaged record decides nothing.
        assert!(!cols.needs_zone(&csv::ByteRecord::from(vec!["Mar 14, 2026 @ 21:06:12.345"])));
    }

    #[test]
    fn records_become_the_json_they_were() {
        let header = csv::ByteRecord::from(vec![
            "@timestamp",
            "json.path",
            "json.status",
            "json.username",
            "json.ua",
        ]);
        let cols = Columns::new(&header);
        let rec = csv::ByteRecord::from(vec![
            "Mar 14, 2026 @ 20:06:12.345",
            "/acme/app",
            "200",
            "-",
            "Mozilla/5.0 (KHTML, like Gecko)",
        ]);
        let json: Value =
            serde_json::from_slice(&record_to_json(&cols, &rec, fixed(0)).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"path": "/acme/app", "status": "200", "ua": "Mozilla/5.0 (KHTML, like Gecko)", "time": "2026-03-14T20:06:12.345Z"})
        );
        let short = csv::ByteRecord::from(vec!["Mar 14, 2026 @ 20:06:12.345", "/acme/app"]);
        assert!(record_to_json(&cols, &short, fixed(0)).is_err());
    }
}
