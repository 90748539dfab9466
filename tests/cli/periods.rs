//! The period a reply states (RULES.md §9): stray times are malformed and set no
//! period, the period is the same however the lines were read, the window and the
//! minute agree, and a gap in the logs is said with its times.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use super::support::{Summarize, logbrief, root, stderr, stdout};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

/// A Rails request line at `time`, to `path`.
fn rails(time: &str, path: &str, ip: u32) -> String {
    format!(
        r#"{{"method":"GET","path":"{path}","status":200,"time":"{time}","remote_ip":"192.0.2.{}","user_id":1,"username":"alice"}}"#,
        ip % 250
    ) + "\n"
}

/// `summarize` with the run's clock set to `now`.
fn at_clock(now: &str, s: &Summarize) -> Output {
    logbrief()
        .args(s.to_args())
        .env("LOGBRIEF_NOW", now)
        .output()
        .unwrap()
}

#[test]
fn stray_times_are_malformed_and_set_no_period() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = String::new();
    log += &rails("1970-01-01T00:00:00Z", "/globex/app", 1);
    log += &rails("2026-03-14T20:06:12Z", "/acme/docs", 2);
    log += &rails("2010-12-31T23:59:59Z", "/acme/docs", 3);
    log += &rails("2026-03-14T20:09:40Z", "/globex/app", 4);
    log += &rails("2026-03-15T20:00:00Z", "/acme/docs", 5);
    log += &rails("2026-03-16T20:00:00Z", "/acme/docs", 6);
    log += &rails("2099-12-31T00:00:00Z", "/globex/app", 7);
    let path = write(tmp.path(), "production_json.log", &log);
    let s = Summarize::new().arg(&path);
    // Stray lines in scope are malformed however lines are read; those out of scope
    // may stay unread (RULES.md §6) and are malformed once read.
    for (extra, malformed, first) in [
        (&[][..], 2, "lines 3, 6"),
        (&["--parse-all"], 4, "lines 1, 3, 6, 7"),
    ] {
        let out = at_clock("2026-03-14T21:00:00Z", &s.clone().args(extra));
        assert!(out.status.success(), "{}", stderr(&out));
        let reply = stdout(&out);
        assert!(
            reply.contains("from 2026-03-14 20:06 UTC to 2026-03-15 20:00 UTC"),
            "{reply}"
        );
        assert!(!reply.contains("1970") && !reply.contains("2099"), "{reply}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "{malformed} malformed lines (first at {first}; the first: a time before 2011 \
                 or more than a day after the run)"
            )),
            "{err}"
        );
        let json = at_clock("2026-03-14T21:00:00Z", &s.clone().args(extra).format("json"));
        let v: Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(v["reconciliation"]["malformed"], malformed, "{v}");
        assert_eq!(v["counts"]["accesses"], 2, "{v}");
        assert_eq!(v["logs_cover"]["first"], "2026-03-14T20:06:12.000Z");
        assert_eq!(v["logs_cover"]["last"], "2026-03-15T20:00:00.000Z");
    }
    // A day later, the line of 2026-03-16 is a log line like the others.
    let out = at_clock("2026-03-15T21:00:00Z", &s.clone().format("json"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reconciliation"]["malformed"], 1, "{v}");
    assert_eq!(v["logs_cover"]["last"], "2026-03-16T20:00:00.000Z");
}

#[test]
fn stray_times_of_every_format_are_malformed() {
    let tmp = tempfile::tempdir().unwrap();
    // NGINX.
    let nginx = fs::read_to_string(root().join("fixtures/formats/nginx/gitlab_access.log"))
        .unwrap()
        .lines()
        .take(3)
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + "192.0.2.1 - - [01/Jan/1970:00:00:00 +0000] \"GET /acme/docs HTTP/1.1\" 200 1 \"-\" \"curl/8\"\n";
    let nginx = write(tmp.path(), "gitlab_access.log", &nginx);
    let v = Summarize::new().arg(&nginx).json();
    assert_eq!(v["inputs"][0]["malformed"], 1, "{v}");
    assert_eq!(v["inputs"][0]["malformed_lines"][0], 4, "{v}");
    // Audit events, streamed and as the API's array.
    let events = fs::read_to_string(root().join("fixtures/audit/streaming.ndjson")).unwrap();
    let first = events.lines().next().unwrap();
    let stray: Value = {
        let mut e: Value = serde_json::from_str(first).unwrap();
        e["created_at"] = Value::String("2099-01-01T00:00:00Z".into());
        e["id"] = Value::from(999_999);
        e
    };
    let valid: Vec<Value> = events
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let ndjson = |events: &[Value]| events.iter().map(|e| format!("{e}\n")).collect::<String>();
    let with_stray: Vec<Value> = valid.iter().cloned().chain([stray]).collect();
    for (name, text, without) in [
        ("audit.ndjson", ndjson(&with_stray), ndjson(&valid)),
        (
            "audit.json",
            serde_json::to_string(&with_stray).unwrap(),
            serde_json::to_string(&valid).unwrap(),
        ),
    ] {
        let malformed = |text: &str| {
            let file = write(tmp.path(), name, text);
            Summarize::new()
                .args(["--template", "audit"])
                .arg(&file)
                .json()
        };
        let base = malformed(&without);
        let v = malformed(&text);
        assert_eq!(
            v["reconciliation"]["malformed"].as_u64().unwrap(),
            base["reconciliation"]["malformed"].as_u64().unwrap() + 1,
            "{name}: {v}"
        );
        assert_eq!(v["logs_cover"], base["logs_cover"], "{name}");
        assert!(
            !v["logs_cover"]["last"].as_str().unwrap().starts_with("2099"),
            "{v}"
        );
    }
}
