//! The formats, and each input's detected from its first bytes.

use super::{audit, kibana, nginx};

/// The format of one input file, detected or hinted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
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
    pub(crate) fn name(self) -> &'static str {
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

/// Detects a file's format from its first bytes (see [`reader::LineReader::peek`]:
/// at least 256 KiB and the whole first line). `None`: no known format.
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
