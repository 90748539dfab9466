//! Audit events, in the three shapes support receives them: the REST API's JSON arrays
//! (several pages may be concatenated in one file), streaming NDJSON, and the UI's CSV
//! export (read by its header: older exports lack `Author Email`).
//!
//! Every shape becomes one [`AuditEvent`]. Its `action` is the grouping key of the
//! audit summary: a label of the closed vocabulary ([`crate::vocabulary`]), read from
//! the event's name, its message, what `details` says changed or the export's
//! sentence. The event's own text is never kept: what the vocabulary does not know is
//! counted as "other changes".

use std::net::IpAddr;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use super::{Line, parse_ip, parse_time};
use crate::limits;
use crate::vocabulary::{self, ActionText};
use serde::de::{IgnoredAny, MapAccess, Visitor};
use std::fmt;

/// One audit event, whichever shape it came in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AuditEvent {
    pub id: Option<String>,
    pub author_id: Option<i64>,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub entity_id: Option<u64>,
    pub entity_type: Option<String>,
    pub entity_path: Option<String>,
    pub target_type: Option<String>,
    pub target_details: Option<String>,
    /// A label of the vocabulary, or [`vocabulary::OTHER`].
    pub action: &'static str,
    pub ip: Option<IpAddr>,
    pub time: DateTime<Utc>,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn integer(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The action of an API or streaming event (see the module documentation).
fn json_action(event: &Value) -> &'static str {
    let details = event.get("details");
    fn string(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
    let field = |k: &str| string(event.get(k)).or_else(|| string(details.and_then(|d| d.get(k))));
    let change = ["add", "remove", "change", "with", "failed_login"]
        .into_iter()
        .find_map(|verb| field(verb).map(|what| (verb, what)));
    let text = ActionText {
        event_name: field("event_type").or_else(|| field("event_name")),
        custom_message: string(details.and_then(|d| d.get("custom_message"))),
        change,
        sentence: None,
    };
    vocabulary::label(&text).unwrap_or(vocabulary::OTHER)
}

/// Reads an event object from the API or a stream.
pub(crate) fn from_json(event: &Value) -> Line<'static> {
    if !event.is_object() {
        return Line::Malformed("not an audit event object");
    }
    let details = event.get("details");
    // Newer events repeat some fields at the top level; older ones only in `details`.
    let field = |k: &str| text(event.get(k)).or_else(|| details.and_then(|d| text(d.get(k))));
    let Some(time) = field("created_at").as_deref().and_then(parse_time) else {
        return Line::Malformed("audit event without a valid created_at");
    };
    Line::Audit(Box::new(AuditEvent {
        id: text(event.get("id")),
        author_id: integer(event.get("author_id")),
        author_name: field("author_name"),
        author_email: field("author_email"),
        entity_id: integer(event.get("entity_id")).and_then(|i| u64::try_from(i).ok()),
        entity_type: field("entity_type"),
        entity_path: field("entity_path"),
        target_type: field("target_type"),
        target_details: field("target_details"),
        action: json_action(event),
        ip: field("ip_address").as_deref().and_then(parse_ip),
        time,
    }))
}

/// Why an event longer than [`limits::AUDIT_EVENT`] is malformed: an event is read
/// whole into memory, where it takes several times its bytes.
pub(crate) const TOO_LONG: &str = "an audit event longer than the limit";

/// Reads one NDJSON line.
pub(crate) fn parse_ndjson_line(bytes: &[u8]) -> Line<'static> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Line::NotRequest;
    }
    if bytes.len() > limits::AUDIT_EVENT {
        return Line::Malformed(TOO_LONG);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => from_json(&v),
        Err(_) => Line::Malformed("not valid JSON"),
    }
}

/// The UI export's columns, found by name.
pub(crate) struct CsvColumns {
    index: std::collections::HashMap<String, usize>,
    len: usize,
}

impl CsvColumns {
    pub(crate) fn new(header: &csv::ByteRecord) -> Self {
        let index = header
            .iter()
            .enumerate()
            .map(|(i, name)| (String::from_utf8_lossy(name).trim().to_ascii_lowercase(), i))
            .collect();
        CsvColumns {
            index,
            len: header.len(),
        }
    }

    fn get(&self, record: &csv::ByteRecord, name: &str) -> Option<String> {
        let raw = record.get(*self.index.get(name)?)?;
        let value = String::from_utf8_lossy(raw).trim().to_owned();
        (!value.is_empty()).then_some(value)
    }

    /// Reads one record of the export.
    pub(crate) fn event(&self, record: &csv::ByteRecord) -> Line<'static> {
        if record.len() != self.len {
            return Line::Malformed("record with a different number of fields than the header");
        }
        let get = |name: &str| self.get(record, name);
        let Some(time) = get("created at (utc)")
            .as_deref()
            .and_then(parse_export_time)
        else {
            return Line::Malformed("audit event without a valid creation time");
        };
        let sentence = get("action");
        let action = vocabulary::label(&ActionText {
            sentence: sentence.as_deref(),
            ..ActionText::default()
        })
        .unwrap_or(vocabulary::OTHER);
        Line::Audit(Box::new(AuditEvent {
            id: get("id"),
            author_id: get("author id").and_then(|s| s.parse().ok()),
            author_name: get("author name"),
            author_email: get("author email"),
            entity_id: get("entity id").and_then(|s| s.parse().ok()),
            entity_type: get("entity type"),
            entity_path: get("entity path"),
            target_type: get("target type"),
            target_details: get("target details"),
            action,
            ip: get("ip address").as_deref().and_then(parse_ip),
            time,
        }))
    }
}

/// `2026-03-14 20:06:12 UTC`, or any time `parse_time` reads. The column is named
/// `Created At (UTC)`, so a time without a zone in it is in UTC.
fn parse_export_time(s: &str) -> Option<DateTime<Utc>> {
    let bare = s.trim().trim_end_matches("UTC").trim();
    parse_time(bare).or_else(|| {
        NaiveDateTime::parse_from_str(bare, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(|n| n.and_utc())
    })
}

/// Whether a first line is the UI export's header.
pub(crate) fn is_csv_header(first_line: &[u8]) -> bool {
    let lower = String::from_utf8_lossy(first_line).to_ascii_lowercase();
    lower.contains("author id") && lower.contains("entity type") && lower.contains("created at")
}

/// Whether a JSON object line is an audit event (for detection).
pub(crate) fn is_event_line(line: &[u8]) -> bool {
    let has = |key: &[u8]| line.windows(key.len()).any(|w| w == key);
    has(br#""entity_type""#) && has(br#""created_at""#)
}

/// Whether a JSON value is an audit event: an object with the keys every event has.
pub(crate) fn is_event(value: &Value) -> bool {
    value.get("entity_type").is_some() && value.get("created_at").is_some()
}

/// Whether JSON text is an audit event, as [`is_event`] tells, by the object's own
/// keys alone: nothing of it is kept in memory.
pub(crate) fn is_event_text(text: &[u8]) -> bool {
    struct EventKeys;
    impl<'de> Visitor<'de> for EventKeys {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let (mut entity_type, mut created_at) = (false, false);
            while let Some(key) = map.next_key::<std::borrow::Cow<'_, str>>()? {
                entity_type |= key == "entity_type";
                created_at |= key == "created_at";
                map.next_value::<IgnoredAny>()?;
            }
            Ok(entity_type && created_at)
        }
    }
    use serde::Deserializer as _;
    serde_json::Deserializer::from_slice(text)
        .deserialize_map(EventKeys)
        .unwrap_or(false)
}

/// Whether the start of a file is the API's JSON: an array whose first element is an
/// audit event, or an empty array (a page without events). A `[` alone is no
/// evidence: TOML and many other files start with one.
pub(crate) fn is_api_array(head: &[u8]) -> bool {
    use serde::Deserialize;
    let Some(rest) = head.trim_ascii_start().strip_prefix(b"[") else {
        return false;
    };
    let rest = rest.trim_ascii_start();
    if rest.starts_with(b"]") {
        return true;
    }
    if !rest.starts_with(b"{") {
        return false;
    }
    // Only the first element is read; the rest of the array may not be in `head`, and
    // no more of it than an event may hold is read into memory.
    let mut first =
        serde_json::Deserializer::from_slice(&rest[..rest.len().min(limits::AUDIT_EVENT)]);
    match Value::deserialize(&mut first) {
        Ok(event) => is_event(&event),
        // An element longer than the bytes read ahead: its keys must do.
        Err(e) if e.is_eof() => is_event_line(rest),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(line: Line<'_>) -> AuditEvent {
        match line {
            Line::Audit(e) => *e,
            other => panic!("not an audit event: {other:?}"),
        }
    }

    #[test]
    fn api_events_old_and_new() {
        let old: Value = serde_json::from_str(
            r#"{"id":2,"author_id":1,"entity_id":60,"entity_type":"Group","details":{"add":"group","author_name":"Administrator","author_email":"admin@example.com","target_id":"flightjs","target_type":"Group","target_details":"flightjs","ip_address":"127.0.0.1","entity_path":"flightjs"},"created_at":"2019-08-27T18:36:44.162Z"}"#,
        )
        .unwrap();
        let e = event(from_json(&old));
        assert_eq!(e.action, "Created a group");
        assert_eq!(e.id.as_deref(), Some("2"));
        assert_eq!(e.entity_path.as_deref(), Some("flightjs"));
        assert_eq!(e.author_email.as_deref(), Some("admin@example.com"));
        assert_eq!(e.ip, Some("127.0.0.1".parse().unwrap()));

        let streaming = br#"{"id": "1", "author_id": -3, "entity_id": 29, "entity_type": "Project", "details": {"author_name": "deploy-key-name", "custom_message": {"protocol": "ssh", "action": "git-upload-pack"}, "ip_address": "127.0.0.1", "entity_path": "example-group/example-project"}, "ip_address": "127.0.0.1", "author_name": "deploy-key-name", "entity_path": "example-group/example-project", "created_at": "2022-07-26T05:43:53.662Z", "event_type": "repository_git_operation"}"#;
        let e = event(parse_ndjson_line(streaming));
        assert_eq!(
            (e.action, e.author_id),
            (
                vocabulary::label(&ActionText {
                    event_name: Some("repository_git_operation"),
                    ..ActionText::default()
                })
                .unwrap(),
                Some(-3)
            )
        );
    }

    #[test]
    fn actions_are_labels_never_free_text() {
        let action = |fields: &str| {
            let v: Value = serde_json::from_str(&format!(
                r#"{{{fields},"created_at":"2026-03-14T20:06:12Z"}}"#
            ))
            .unwrap();
            event(from_json(&v)).action
        };
        assert_eq!(
            action(r#""details":{"change":"visibility","from":"Private","to":"Public"}"#),
            "Changed visibility"
        );
        assert_eq!(
            action(r#""details":{"add":"user_access","as":"Developer"}"#),
            "Added a member"
        );
        // A message, an event name or a change the vocabulary does not know is counted
        // as other changes, whatever personal data it holds.
        for unknown in [
            r#""details":{"custom_message":"Token glpat-abcdefghijklmnop1234 created for https://bot:secret@ci.elsewhere.example"}"#,
            r#""event_type":"zed.zulu@elsewhere.example_added""#,
            r#""details":{"change":"Yolanda Quist"}"#,
            r#""details":{"custom_message":{"protocol":"ssh"}}"#,
        ] {
            assert_eq!(action(unknown), vocabulary::OTHER, "{unknown}");
        }
    }

    #[test]
    fn csv_exports_by_header() {
        let header = csv::ByteRecord::from(vec![
            "ID",
            "Author ID",
            "Author Name",
            "Entity ID",
            "Entity Type",
            "Entity Path",
            "Target ID",
            "Target Type",
            "Target Details",
            "Action",
            "IP Address",
            "Created At (UTC)",
        ]);
        let cols = CsvColumns::new(&header);
        let rec = csv::ByteRecord::from(vec![
            "7",
            "1",
            "Smith, Jane",
            "60",
            "Group",
            "acme",
            "60",
            "Group",
            "acme",
            "Changed visibility from Private to Public",
            "198.51.100.7",
            "2026-03-14 20:06:12 UTC",
        ]);
        let e = event(cols.event(&rec));
        assert_eq!(e.action, "Changed visibility");
        assert_eq!(e.author_email, None);
        assert_eq!(e.time.to_rfc3339(), "2026-03-14T20:06:12+00:00");
        let short = csv::ByteRecord::from(vec!["7", "1"]);
        assert!(matches!(cols.event(&short), Line::Malformed(_)));
    }

    #[test]
    fn api_arrays_need_an_event_first() {
        let yes: &[&[u8]] = &[
            br#"[{"id":1,"entity_type":"Group","created_at":"2026-03-14T20:06:12Z"}]"#,
            b"[\n  {\n    \"entity_type\": \"Project\",\n    \"created_at\": \"x\"\n  },\n  {",
            b"  [ ]\n",
            b"[\n]\n[{\"entity_type\":\"Group\",\"created_at\":\"x\"}]",
            // The first element is cut off by the end of the bytes read ahead.
            br#"[{"entity_type":"Group","created_at":"2026-03-14T20:06:12Z","details":{"change":"aaaa"#,
        ];
        for head in yes {
            assert!(is_api_array(head), "{}", String::from_utf8_lossy(head));
        }
        let no: &[&[u8]] = &[
            b"[package]\nname = \"logbrief\"\n",
            b"[workspace]\nmembers = [\".\"]\n",
            b"[1, 2, 3]",
            br#"[{"time":"2026-03-14T20:06:12Z","path":"/acme"}]"#,
            br#"[{"entity_type":"Group"}]"#,
            br#"{"entity_type":"Group","created_at":"x"}"#,
            b"[{\"entity_type\": oops",
            b"",
        ];
        for head in no {
            assert!(!is_api_array(head), "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn an_event_is_told_by_its_own_keys() {
        let yes = [
            r#"{"entity_type":"Group","created_at":"x"}"#,
            "{\n  \"created_at\": 1,\n  \"details\": {},\n  \"entity_\\u0074ype\": null\n}",
        ];
        for text in yes {
            assert!(is_event_text(text.as_bytes()), "{text}");
        }
        let no = [
            r#"{"entity_type":"Group"}"#,
            r#"{"details":{"entity_type":"Group","created_at":"x"}}"#,
            r#"[{"entity_type":"Group","created_at":"x"}]"#,
            r#"{"entity_type":"Group","created_at":"x""#,
            "",
        ];
        for text in no {
            assert!(!is_event_text(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn an_event_past_its_limit_is_malformed_unread() {
        let event = format!(
            r#"{{"entity_type":"Group","created_at":"2026-03-14T20:06:12Z","details":{{"change":"{}"}}}}"#,
            "x".repeat(limits::AUDIT_EVENT)
        );
        assert!(matches!(
            parse_ndjson_line(event.as_bytes()),
            Line::Malformed(TOO_LONG)
        ));
        // Detection reads no more of a first element than an event may hold: its keys
        // decide.
        assert!(is_api_array(format!("[{event}]").as_bytes()));
    }

    #[test]
    fn ndjson_lines_that_are_not_events() {
        assert!(matches!(parse_ndjson_line(b""), Line::NotRequest));
        assert!(matches!(
            parse_ndjson_line(b"# comment"),
            Line::Malformed(_)
        ));
        assert!(matches!(
            parse_ndjson_line(br#"{"id":1}"#),
            Line::Malformed(_)
        ));
        assert!(matches!(parse_ndjson_line(b"[1]"), Line::Malformed(_)));
    }
}
