//! Kibana Discover CSV exports: a header row naming the columns (`@timestamp`, and the
//! log's fields prefixed with `json.`), then one record per log line.
//!
//! A record is rebuilt as the JSON object the log line was and read by the JSON
//! decoder, so a field means the same whichever way it reached logbrief. Kibana shows
//! empty values as `-`, and writes `@timestamp` in the browser's time zone in its
//! display format (`Mar 14, 2026 @ 20:06:12.345`): `--input-tz` says which zone.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};

/// Whether the first line is a Kibana CSV header.
pub fn looks_like(first_line: &[u8]) -> bool {
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

/// The column names of a header record, with `json.` stripped.
pub fn columns(header: &csv::ByteRecord) -> Vec<String> {
    header
        .iter()
        .map(|f| {
            let name = String::from_utf8_lossy(f).trim().to_owned();
            name.strip_prefix("json.")
                .map(str::to_owned)
                .unwrap_or(name)
        })
        .collect()
}

/// Rebuilds one record as JSON bytes; `None` when its field count does not match
/// the header (a damaged record).
pub fn record_to_json(
    columns: &[String],
    record: &csv::ByteRecord,
    tz: FixedOffset,
) -> Option<Vec<u8>> {
    if record.len() != columns.len() {
        return None;
    }
    let mut object = Map::new();
    let mut timestamp = None;
    for (name, raw) in columns.iter().zip(record.iter()) {
        let value = String::from_utf8_lossy(raw);
        let value = value.trim();
        if value.is_empty() || value == "-" {
            continue;
        }
        if name == "@timestamp" {
            timestamp = Some(value.to_owned());
        } else {
            object.insert(name.clone(), Value::String(value.to_owned()));
        }
    }
    // The log's own `time` is exact and in UTC; `@timestamp` is the fallback.
    if !object.contains_key("time")
        && let Some(t) = timestamp.as_deref().and_then(|t| parse_timestamp(t, tz))
    {
        object.insert(
            "time".into(),
            Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
    }
    serde_json::to_vec(&Value::Object(object)).ok()
}

/// `@timestamp` as Kibana writes it: its display format, or ISO 8601; without a zone
/// it is read in `tz`.
pub fn parse_timestamp(s: &str, tz: FixedOffset) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = [
        "%b %d, %Y @ %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())?;
    tz.from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    #[test]
    fn headers() {
        assert!(looks_like(b"@timestamp,json.path,json.status"));
        assert!(looks_like(b"\"json.time\",\"json.path\""));
        assert!(!looks_like(b"time,path"));
        assert!(!looks_like(br#"{"@timestamp":"x","json.path":"/"}"#));
    }

    #[test]
    fn timestamps_in_kibana_display_format_and_zones() {
        let cet = FixedOffset::east_opt(3600).unwrap();
        let t = |s, tz| parse_timestamp(s, tz).map(|t| t.to_rfc3339());
        assert_eq!(
            t("Mar 14, 2026 @ 20:06:12.345", utc()).unwrap(),
            "2026-03-14T20:06:12.345+00:00"
        );
        assert_eq!(
            t("Mar 4, 2026 @ 20:06:12.345", utc()).unwrap(),
            "2026-03-04T20:06:12.345+00:00"
        );
        assert_eq!(
            t("Mar 14, 2026 @ 21:06:12.345", cet).unwrap(),
            "2026-03-14T20:06:12.345+00:00"
        );
        // A zone in the value wins over --input-tz.
        assert_eq!(
            t("2026-03-14T20:06:12.345Z", cet).unwrap(),
            "2026-03-14T20:06:12.345+00:00"
        );
        assert!(t("yesterday", utc()).is_none());
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
        let cols = columns(&header);
        let rec = csv::ByteRecord::from(vec![
            "Mar 14, 2026 @ 20:06:12.345",
            "/acme/app",
            "200",
            "-",
            "Mozilla/5.0 (KHTML, like Gecko)",
        ]);
        let json: Value =
            serde_json::from_slice(&record_to_json(&cols, &rec, utc()).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"path": "/acme/app", "status": "200", "ua": "Mozilla/5.0 (KHTML, like Gecko)", "time": "2026-03-14T20:06:12.345Z"})
        );
        let short = csv::ByteRecord::from(vec!["Mar 14, 2026 @ 20:06:12.345", "/acme/app"]);
        assert!(record_to_json(&cols, &short, utc()).is_none());
    }
}
