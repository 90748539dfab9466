//! `logbrief inspect`: formats, line counts and times without personal data, in
//! agreement with summarize; odd files (empty, a 10 MB line, invalid UTF-8, binary),
//! pretty-printed JSON objects and a cut gzip reported in place.

use serde_json::Value;

use super::assert_reply_snapshot;
use super::support::{Summarize, logbrief, root, run, stderr, stdout};

#[test]
fn inspect_reports_formats_lines_and_times_without_personal_data() {
    let out = run(&[
        "inspect",
        "fixtures/logs/production_json.log",
        "fixtures/logs/api_json.log.gz",
        "fixtures/logs/workhorse.log",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_reply_snapshot("inspect_quick_start", &text);
    for personal in ["carol", "erin", "203.0.113", "198.51.100", "Mozilla"] {
        assert!(!text.contains(personal), "{personal}");
    }
    // inspect's line counts agree with summarize's reconciliation.
    let json_out = run(&[
        "inspect",
        "--json",
        "fixtures/logs/production_json.log",
        "fixtures/logs/api_json.log.gz",
        "fixtures/logs/workhorse.log",
    ]);
    let reports: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    let summary = Summarize::quick_start().json();
    for (report, input) in reports
        .as_array()
        .unwrap()
        .iter()
        .zip(summary["inputs"].as_array().unwrap())
    {
        for key in ["lines", "malformed", "sha256", "format"] {
            assert_eq!(report[key], input[key], "{key}");
        }
    }
}

#[test]
fn inspect_gets_through_odd_files() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty.log");
    std::fs::write(&empty, "").unwrap();
    let long = tmp.path().join("long.log");
    // A 10 MB line (not JSON: it is cut short) between two good lines.
    let good =
        r#"{"method":"GET","path":"/acme/docs","status":200,"time":"2026-03-14T20:06:12.345Z"}"#;
    let mut bytes = format!("{good}\n{{\"path\":\"").into_bytes();
    bytes.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    bytes.extend(format!("\n{good}\n").into_bytes());
    std::fs::write(&long, bytes).unwrap();
    let invalid_utf8 = tmp.path().join("latin1.log");
    std::fs::write(
        &invalid_utf8,
        [good.as_bytes(), b"\n{\"path\":\"/caf\xe9\"}\n"].concat(),
    )
    .unwrap();
    let binary = tmp.path().join("core.bin");
    std::fs::write(
        &binary,
        (0..4096u32)
            .map(|i| (i * 7 % 256) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();

    let out = logbrief()
        .arg("inspect")
        .arg("--json")
        .args([&empty, &long, &invalid_utf8, &binary])
        .output()
        .unwrap();
    // The binary file is in no known format: exit 4, after every report was printed.
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("core.bin"), "{}", stderr(&out));
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = |i: usize, k: &str| reports[i][k].clone();
    assert_eq!((r(0, "format"), r(0, "lines")), ("empty".into(), 0.into()));
    assert_eq!(
        (r(1, "lines"), r(1, "requests"), r(1, "malformed")),
        (3.into(), 2.into(), 1.into())
    );
    assert_eq!(r(1, "malformed_lines"), serde_json::json!([2]));
    assert_eq!((r(2, "lines"), r(2, "malformed")), (2.into(), 1.into()));
    assert_eq!(r(3, "format"), Value::Null);
}

#[test]
fn inspect_reads_pretty_printed_objects_and_reports_a_cut_gzip_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let pretty = tmp.path().join("copied.json");
    let object = serde_json::json!({
        "method": "GET", "path": "/acme/docs", "status": 200, "time": "2026-03-14T20:06:12.345Z",
        "remote_ip": "198.51.100.7", "username": "carol"
    });
    let text = format!(
        "{}\n{}\n",
        serde_json::to_string_pretty(&object).unwrap(),
        serde_json::to_string_pretty(&object).unwrap()
    );
    std::fs::write(&pretty, text).unwrap();
    let gz = std::fs::read(root().join("fixtures/logs/api_json.log.gz")).unwrap();
    let cut = tmp.path().join("cut.log.gz");
    std::fs::write(&cut, &gz[..gz.len() * 2 / 3]).unwrap();

    let out = logbrief()
        .args(["inspect", "--json"])
        .args([&cut, &pretty])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stopped = reports[0]["error"].as_str().unwrap();
    assert!(stopped.contains("cut.log.gz: line "), "{stopped}");
    assert_eq!(reports[1]["format"], "json-documents");
    assert_eq!(
        (&reports[1]["lines"], &reports[1]["requests"]),
        (&2.into(), &2.into())
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("carol"));
}
