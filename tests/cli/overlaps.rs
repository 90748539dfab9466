//! The same requests twice are counted once (RULES.md §6): a log given plain and
//! compressed, exports that overlap, placeholder correlation ids.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::support::{Summarize, root, stderr, stdout};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

fn fixture(path: &str) -> String {
    fs::read_to_string(root().join(path)).unwrap()
}

/// The lines of `text` from `from` to `to` (a range of line indices), each with its end.
fn lines(text: &str, range: std::ops::Range<usize>) -> String {
    text.lines()
        .skip(range.start)
        .take(range.len())
        .map(|l| format!("{l}\n"))
        .collect()
}

fn counts(v: &Value) -> (Value, Value) {
    (v["counts"].clone(), v["paths"].clone())
}

#[test]
fn the_same_log_plain_and_gzipped_is_read_once() {
    let tmp = tempfile::tempdir().unwrap();
    let text = fixture("fixtures/formats/nginx/gitlab_access.log");
    let plain = write(tmp.path(), "access.log", text.as_bytes());
    let packed = write(tmp.path(), "rotated.log.1.gz", &gzip(text.as_bytes()));
    let once = Summarize::new().arg(&plain).json();
    let twice = Summarize::new().arg(&plain).arg(&packed).json();
    assert_eq!(counts(&twice), counts(&once));
    let lines = once["reconciliation"]["lines"].as_u64().unwrap();
    assert_eq!(
        twice["reconciliation"]["duplicate"].as_u64().unwrap(),
        lines
    );
    // Each input keeps the SHA-256 of its bytes on disk.
    let digests: Vec<&str> = twice["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sha256"].as_str().unwrap())
        .collect();
    assert_ne!(digests[0], digests[1]);
    let out = Summarize::new().arg(&plain).arg(&packed).run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("rotated.log.1.gz has the same content (once decompressed) as"),
        "{}",
        stderr(&out)
    );
}

/// Two halves of a log that share a fifth of their lines.
fn halves(text: &str) -> (String, String) {
    let n = text.lines().count();
    let shared = n / 5;
    let cut = (n + shared) / 2;
    (lines(text, 0..cut), lines(text, cut - shared..n))
}

#[test]
fn overlapping_exports_count_each_shared_request_once_and_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, path) in [
        ("nginx", "fixtures/formats/nginx/gitlab_access.log"),
        ("rails", "fixtures/formats/json/production_json.log"),
    ] {
        // Rails lines without their correlation_id: only their content tells them.
        let text: String = fixture(path)
            .lines()
            .map(|l| match serde_json::from_str::<Value>(l) {
                Ok(Value::Object(mut o)) => {
                    o.remove("correlation_id");
                    format!("{}\n", Value::Object(o))
                }
                _ => format!("{l}\n"),
            })
            .collect();
        let whole = write(tmp.path(), &format!("{name}.log"), text.as_bytes());
        let (a, b) = halves(&text);
        let a = write(tmp.path(), &format!("{name}-a.log"), a.as_bytes());
        let b = write(tmp.path(), &format!("{name}-b.log"), b.as_bytes());
        let want = Summarize::new().arg(&whole).json();
        for extra in [&[][..], &["--parse-all"], &["--threads", "1"]] {
            let got = Summarize::new().args(extra).arg(&a).arg(&b).json();
            assert_eq!(counts(&got), counts(&want), "{name} {extra:?}");
            let overlap = got["overlap"].as_u64().unwrap();
            assert!(overlap > 0, "{name}: {got}");
            assert_eq!(
                got["reconciliation"]["duplicate"].as_u64().unwrap(),
                want["reconciliation"]["duplicate"].as_u64().unwrap() + overlap
            );
        }
        let note = tmp.path().join(format!("{name}-note.md"));
        let out = Summarize::new()
            .arg("--internal-note")
            .arg(&note)
            .arg(&a)
            .arg(&b)
            .run();
        assert!(out.status.success(), "{}", stderr(&out));
        let json = Summarize::new().arg(&a).arg(&b).json();
        let overlap = json["overlap"].as_u64().unwrap();
        let reply = stdout(&out);
        assert!(
            reply.contains(&format!(
                " {overlap} requests appeared in more than one of the log files, and we counted \
                 each once."
            )),
            "{name}: {reply}"
        );
        let note = fs::read_to_string(&note).unwrap();
        assert!(
            note.contains(&format!(
                "request lines another input held too (overlapping exports, each counted \
                 once): {overlap}"
            )),
            "{note}"
        );
    }
}

#[test]
fn a_line_repeated_within_one_file_stays_and_across_files_counts_as_often_as_one_holds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let line = r#"{"method":"GET","path":"/acme/docs","status":200,"time":"2026-03-14T20:06:12Z","remote_ip":"192.0.2.7","user_id":1,"username":"alice"}"#;
    let other = r#"{"method":"GET","path":"/acme/docs/-/issues","status":200,"time":"2026-03-14T20:06:13Z","remote_ip":"192.0.2.8"}"#;
    // Three copies in the first file, two in the second: three requests.
    let a = write(
        tmp.path(),
        "a.log",
        format!("{line}\n{line}\n{other}\n{line}\n").as_bytes(),
    );
    let b = write(tmp.path(), "b.log", format!("{line}\n{line}\n").as_bytes());
    let v = Summarize::new().arg(&a).arg(&b).json();
    assert_eq!(v["counts"]["accesses"], 4, "{v}");
    assert_eq!(v["reconciliation"]["duplicate"], 2);
    assert_eq!(v["overlap"], 2);
    // The other way round, the same.
    let v = Summarize::new().arg(&b).arg(&a).json();
    assert_eq!(v["counts"]["accesses"], 4, "{v}");
    assert_eq!(v["overlap"], 2);
}

#[test]
fn files_without_shared_lines_say_nothing_of_overlaps() {
    let tmp = tempfile::tempdir().unwrap();
    let text = fixture("fixtures/formats/nginx/gitlab_access.log");
    let n = text.lines().count();
    let a = write(tmp.path(), "a.log", lines(&text, 0..n / 2).as_bytes());
    let b = write(tmp.path(), "b.log", lines(&text, n / 2..n).as_bytes());
    let v = Summarize::new().arg(&a).arg(&b).json();
    assert_eq!(v["overlap"], 0);
    let out = Summarize::new().arg(&a).arg(&b).run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("more than one of the log files"));
}

#[test]
fn placeholder_correlation_ids_never_join_two_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let placeholders = [
        "-",
        "0",
        "00000000000000000000000000000000",
        "",
        "  ",
        "-",
        "0",
        "",
        "00000000000000000000000000000000",
        "-",
    ];
    let log: String = placeholders
        .iter()
        .enumerate()
        .map(|(i, cid)| {
            format!(
                r#"{{"method":"GET","path":"/acme/docs/-/issues/{i}","status":200,"time":"2026-03-14T20:06:{i:02}Z","remote_ip":"192.0.2.{i}","correlation_id":"{cid}"}}"#
            ) + "\n"
        })
        .collect();
    let path = write(tmp.path(), "production_json.log", log.as_bytes());
    let v = Summarize::new().arg(&path).json();
    assert_eq!(v["counts"]["accesses"], 10, "{v}");
    assert_eq!(v["reconciliation"]["duplicate"], 0);
    // A real id still joins the lines of one request.
    let twice = log.replace(
        r#""correlation_id":"-""#,
        r#""correlation_id":"01KKPYTRBG""#,
    );
    let path = write(tmp.path(), "production_json.log", twice.as_bytes());
    let v = Summarize::new().arg(&path).json();
    assert_eq!(v["counts"]["accesses"], 8, "{v}");
    assert_eq!(v["reconciliation"]["duplicate"], 2);
}
