//! Inputs as they arrive in tickets: Kibana exports made in a browser's time zone, files
//! saved with a byte-order mark or with a very long first line, gzip files cut short
//! or with something appended, and audit events whose entity path climbs with `..`.
//! Each is read right, or refused with the way forward, and every line still lands in
//! one bucket.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::support::{
    ALICE_ABOUT_ACME, assert_fast_path_agrees, assert_reconciled, logbrief, root, stderr, stdout,
};

/// `summarize` for alice, Owner of `acme`, as JSON, without a known list.
fn summarize(extra: &[&str], files: &[&Path]) -> std::process::Output {
    logbrief()
        .args(ALICE_ABOUT_ACME)
        .args(["--format", "json"])
        .args(extra)
        .args(files)
        .output()
        .unwrap()
}

/// The JSON reply of a run that must succeed, reconciled.
fn reply(extra: &[&str], files: &[&Path]) -> Value {
    let out = summarize(extra, files);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_reconciled(&v);
    v
}

/// The summarize command line of `reply`, for `assert_fast_path_agrees`.
fn summarize_args(extra: &[&str], files: &[&Path]) -> Vec<String> {
    ALICE_ABOUT_ACME
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .chain(files.iter().map(|f| f.display().to_string()))
        .collect()
}

fn inspect(extra: &[&str], files: &[&Path]) -> (std::process::Output, Value) {
    let out = logbrief()
        .args(["inspect", "--json"])
        .args(extra)
        .args(files)
        .output()
        .unwrap();
    let reports = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, reports)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(root().join(path)).unwrap()
}

fn n(v: &Value, key: &str) -> u64 {
    v["reconciliation"][key].as_u64().unwrap()
}

// ---------------------------------------------------------------------------------
// Kibana exports and --input-tz

/// The Kibana exports of the formats fixture: `export.csv` has `json.time` (with `Z`)
/// beside `@timestamp`, `export_cet.csv` only `@timestamp`, written at UTC+01:00.
#[test]
fn a_kibana_export_whose_times_have_no_zone_is_refused_until_input_tz_names_it() {
    let cet = root().join("fixtures/formats/kibana/export_cet.csv");
    let out = summarize(&[], &[&cet]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("fixtures/formats/kibana/export_cet.csv: line 2: ")
            && err.contains("--input-tz Europe/Berlin")
            && err.contains("--input-tz +01:00"),
        "{err}"
    );
    // Nothing of the export's content is quoted.
    let text = String::from_utf8(fixture("fixtures/formats/kibana/export_cet.csv")).unwrap();
    let second = text.lines().nth(1).unwrap();
    for field in second.split(',').filter(|f| f.len() > 3) {
        assert!(
            !err.contains(field.trim_matches('"')),
            "{err} quotes {field}"
        );
    }

    // Named, as an offset or as the zone the browser was in, it reads as the UTC
    // export with json.time does.
    let want: Value = serde_json::from_slice(&fixture("fixtures/formats/expected.json")).unwrap();
    // The fixture's numbers are with its known list.
    let known = [
        "--exclude-domain",
        "acme.example",
        "--exclude-ip",
        "203.0.113.0/24",
    ];
    for zone in ["+01:00", "Europe/Berlin", "europe/berlin", "Europe/Paris"] {
        let got = reply(&[&known[..], &["--input-tz", zone]].concat(), &[&cet]);
        let got = super::support::folded(&got);
        assert_eq!(got["counts"], want["counts"], "--input-tz {zone}");
        assert_eq!(
            got["reconciliation"], want["variants"]["kibana_cet"]["reconciliation"],
            "--input-tz {zone}"
        );
    }
    // json.time carries its zone: no --input-tz needed, and one given changes nothing.
    let utc = root().join("fixtures/formats/kibana/export.csv");
    let plain = super::support::folded(&reply(&known, &[&utc]));
    assert_eq!(plain["counts"], want["counts"]);
    assert_eq!(
        super::support::folded(&reply(
            &[&known[..], &["--input-tz", "America/New_York"]].concat(),
            &[&utc]
        ))["counts"],
        want["counts"]
    );

    // inspect refuses alike, printing nothing as for any usage error, and reads with
    // the zone.
    let (out, reports) = inspect(&[], &[&cet, &utc]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--input-tz"));
    assert_eq!(reports, Value::Null);
    let (out, reports) = inspect(&["--input-tz", "Europe/Berlin"], &[&cet]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(reports[0]["first_request"], want["counts"]["first_seen"]);

    // A zone that does not exist is a usage error naming the flag.
    for bad in ["Europe/Atlantis", "CEST", "+25:00"] {
        let out = summarize(&["--input-tz", bad], &[&cet]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&out).contains(&format!("--input-tz {bad}:")),
            "{}",
            stderr(&out)
        );
    }
}

/// A request at `utc` (seconds after `start`) as a Rails line and as a Kibana record
/// whose `@timestamp` is written in `local`.
struct Visit {
    utc: chrono::DateTime<chrono::Utc>,
    local: chrono::NaiveDateTime,
}

fn rails_line(i: usize, v: &Visit) -> String {
    format!(
        r#"{{"method":"GET","path":"/acme/docs/-/issues/{i}","status":200,"time":"{}","remote_ip":"198.51.100.{}","correlation_id":"dst{i}"}}"#,
        v.utc.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        i % 200 + 1
    )
}

fn kibana_export(visits: &[(usize, &Visit)]) -> String {
    let mut csv = String::from(
        "@timestamp,json.method,json.path,json.status,json.remote_ip,json.correlation_id\n",
    );
    // Discover exports the newest first.
    for (i, v) in visits.iter().rev() {
        csv.push_str(&format!(
            "\"{}\",GET,/acme/docs/-/issues/{i},200,198.51.100.{},dst{i}\n",
            v.local.format("%b %-d, %Y @ %H:%M:%S%.3f"),
            i % 200 + 1
        ));
    }
    csv
}

/// Visits every ten minutes from `from` for four hours; Berlin's offset is `before`
/// hours until `switch` (UTC) and `after` hours from then on, worked out by hand.
fn visits(from: &str, switch: &str, before: i64, after: i64) -> Vec<Visit> {
    let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let (from, switch) = (t(from), t(switch));
    (0..24)
        .map(|k| {
            let utc = from + chrono::Duration::minutes(10 * k);
            let offset = if utc < switch { before } else { after };
            let local = (utc + chrono::Duration::hours(offset)).naive_utc();
            Visit { utc, local }
        })
        .collect()
}

#[test]
fn an_export_across_the_spring_change_is_read_in_the_browsers_zone() {
    let tmp = tempfile::tempdir().unwrap();
    // Europe/Berlin, 29 March 2026: 02:00 CET (01:00 UTC) becomes 03:00 CEST.
    let visits = visits("2026-03-28T23:00:00Z", "2026-03-29T01:00:00Z", 1, 2);
    let numbered: Vec<(usize, &Visit)> = visits.iter().enumerate().collect();
    let rails: String = numbered
        .iter()
        .map(|(i, v)| rails_line(*i, v) + "\n")
        .collect();
    let log = write(tmp.path(), "production_json.log", rails.as_bytes());
    let export = write(
        tmp.path(),
        "export.csv",
        kibana_export(&numbered).as_bytes(),
    );

    let from_log = reply(&[], &[&log]);
    let from_export = reply(&["--input-tz", "Europe/Berlin"], &[&export]);
    assert_eq!(from_log["counts"]["accesses"], 24);
    assert_eq!(from_export["counts"], from_log["counts"]);
    assert_eq!(
        from_export["counts"]["first_seen"],
        "2026-03-28T23:00:00.000Z"
    );
    assert_eq!(
        from_export["counts"]["last_seen"],
        "2026-03-29T02:50:00.000Z"
    );
    // The window is in UTC: from the change on, the export counts what the log counts.
    for since in [
        "2026-03-29T00:55:00Z",
        "2026-03-29T01:00:00Z",
        "2026-03-29T01:05:00Z",
    ] {
        let window = ["--since", since];
        let tz = ["--input-tz", "Europe/Berlin", "--since", since];
        assert_eq!(
            reply(&tz, &[&export])["counts"],
            reply(&window, &[&log])["counts"],
            "--since {since}"
        );
    }
    // A fixed offset cannot follow the change: the last two hours are an hour off.
    let fixed = reply(&["--input-tz", "+01:00"], &[&export]);
    assert_eq!(fixed["counts"]["last_seen"], "2026-03-29T03:50:00.000Z");

    // A local time in the spring gap never happened: that record is malformed, by
    // its line number, and the others are read.
    let mut with_gap = kibana_export(&numbered);
    with_gap.push_str("\"Mar 29, 2026 @ 02:30:00.000\",GET,/acme/docs,200,198.51.100.9,gap\n");
    let gap = write(tmp.path(), "gap.csv", with_gap.as_bytes());
    let got = reply(&["--input-tz", "Europe/Berlin"], &[&gap]);
    assert_eq!(got["counts"], from_log["counts"]);
    assert_eq!((n(&got, "lines"), n(&got, "malformed")), (26, 1));
    assert_eq!(got["inputs"][0]["malformed_lines"], serde_json::json!([26]));
    let (out, reports) = inspect(&["--input-tz", "Europe/Berlin"], &[&gap]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(reports[0]["malformed_lines"], serde_json::json!([26]));
}

#[test]
fn the_autumn_hour_that_repeats_is_not_guessed() {
    let tmp = tempfile::tempdir().unwrap();
    // 25 October 2026: 03:00 CEST (01:00 UTC) becomes 02:00 CET, so the local hour
    // 02:00-02:59 happens twice: at 00:xx and at 01:xx UTC.
    let visits = visits("2026-10-24T23:00:00Z", "2026-10-25T01:00:00Z", 2, 1);
    let numbered: Vec<(usize, &Visit)> = visits.iter().enumerate().collect();
    let export = write(
        tmp.path(),
        "export.csv",
        kibana_export(&numbered).as_bytes(),
    );
    let twice = |v: &Visit| v.local.format("%H").to_string() == "02";
    let clear: Vec<(usize, &Visit)> = numbered
        .iter()
        .copied()
        .filter(|(_, v)| !twice(v))
        .collect();
    assert_eq!(clear.len(), 12);
    let rails: String = clear
        .iter()
        .map(|(i, v)| rails_line(*i, v) + "\n")
        .collect();
    let log = write(tmp.path(), "production_json.log", rails.as_bytes());

    let got = reply(&["--input-tz", "Europe/Berlin"], &[&export]);
    // The twelve records of the repeated hour are malformed; the rest are exact.
    assert_eq!((n(&got, "lines"), n(&got, "malformed")), (25, 12));
    assert_eq!(got["counts"], reply(&[], &[&log])["counts"]);
    // Newest first: the later pass of the hour (01:xx UTC) is on lines 8 to 13.
    assert_eq!(
        got["inputs"][0]["malformed_lines"].as_array().unwrap()[..3],
        [8, 9, 10]
    );
}

// ---------------------------------------------------------------------------------
// Detection

#[test]
fn a_byte_order_mark_hides_neither_the_format_nor_the_first_line() {
    let tmp = tempfile::tempdir().unwrap();
    let bom = |bytes: Vec<u8>| [b"\xEF\xBB\xBF".to_vec(), bytes].concat();
    let cases = [
        (
            "fixtures/logs/production_json.log",
            "gitlab-rails-json",
            "production_json.log",
        ),
        (
            "fixtures/formats/nginx/gitlab_access.log",
            "nginx-combined",
            "gitlab_access.log",
        ),
        (
            "fixtures/formats/kibana/export.csv",
            "kibana-csv",
            "export.csv",
        ),
        (
            "fixtures/audit/api_pages.json",
            "audit-events-json",
            "api_pages.json",
        ),
        ("fixtures/audit/export.csv", "audit-events-csv", "audit.csv"),
    ];
    for (fixture_path, format, name) in cases {
        let original = root().join(fixture_path);
        let with_bom = write(tmp.path(), name, &bom(fixture(fixture_path)));
        let gz = write(
            tmp.path(),
            &format!("{name}.gz"),
            &gzip(&bom(fixture(fixture_path))),
        );
        let template: &[&str] = if format.starts_with("audit") {
            &["--template", "audit"]
        } else {
            &[]
        };
        let want = reply(template, &[&original]);
        for file in [&with_bom, &gz] {
            let got = reply(template, &[file]);
            assert_eq!(got["inputs"][0]["format"], format, "{}", file.display());
            for key in ["counts", "reconciliation", "audit"] {
                assert_eq!(got[key], want[key], "{key} of {}", file.display());
            }
            let (out, reports) = inspect(&[], &[file]);
            assert!(out.status.success(), "{}", stderr(&out));
            assert_eq!(
                reports[0]["malformed"],
                want["inputs"][0]["malformed"],
                "{}",
                file.display()
            );
        }
    }
}

#[test]
fn a_first_line_longer_than_the_read_ahead_is_still_detected() {
    let tmp = tempfile::tempdir().unwrap();
    // A GraphQL call with a 600 KiB query first, then an ordinary log.
    let query = "{ project(fullPath: \\\"acme/docs\\\") { id } } ".repeat(15_000);
    let first = format!(
        r#"{{"method":"POST","path":"/api/graphql","status":200,"time":"2026-03-14T19:00:00.000Z","params":[{{"key":"query","value":"{query}"}}],"correlation_id":"long1"}}"#
    );
    assert!(first.len() > 600 * 1024);
    let mut text = format!("{first}\n").into_bytes();
    text.extend(fixture("fixtures/logs/production_json.log"));
    let plain = write(tmp.path(), "graphql_json.log", &text);
    let gz = write(tmp.path(), "graphql_json.log.gz", &gzip(&text));
    let original = root().join("fixtures/logs/production_json.log");
    // Full parses are compared: the fast path may leave malformed lines unread.
    let want = assert_fast_path_agrees(&summarize_args(&[], &[&original]));
    for file in [&plain, &gz] {
        let got = assert_fast_path_agrees(&summarize_args(&[], &[file]));
        assert_eq!(got["inputs"][0]["format"], "gitlab-rails-json");
        assert_eq!(n(&got, "lines"), n(&want, "lines") + 1);
        assert_eq!(n(&got, "malformed"), n(&want, "malformed"));
        assert_eq!(got["counts"], want["counts"]);
    }
}

#[test]
fn a_toml_file_is_not_taken_for_audit_events() {
    let tmp = tempfile::tempdir().unwrap();
    let cargo = root().join("Cargo.toml");
    let (out, reports) = inspect(&[], &[&cargo]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(reports[0]["format"], Value::Null);
    assert!(stderr(&out).contains("Cargo.toml: the format is not recognised"));
    let out = summarize(&["--template", "audit"], &[&cargo]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(out.stdout.is_empty());

    // Real audit events in an array, and an empty page, are still audit events.
    let empty = write(tmp.path(), "no_events.json", b"[\n]\n");
    let pages = root().join("fixtures/audit/api_pages.json");
    let (out, reports) = inspect(&[], &[&pages, &empty]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(reports[0]["format"], "audit-events-json");
    assert_eq!(reports[1]["format"], "audit-events-json");
    assert_eq!(reports[1]["lines"], 0);
    // An array of something else is not.
    let numbers = write(tmp.path(), "numbers.json", b"[1, 2, 3]\n");
    let (out, _) = inspect(&[], &[&numbers]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

// ---------------------------------------------------------------------------------
// gzip

/// The line a cut gzip breaks in: one after the whole lines it still decodes to.
fn line_where_it_breaks(gz: &[u8]) -> u64 {
    let mut decoder = flate2::read::GzDecoder::new(gz);
    let mut text = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match decoder.read(&mut buf) {
            Ok(0) => panic!("the cut went unnoticed"),
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    text.iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

#[test]
fn a_cut_gzip_fails_at_the_same_line_in_summarize_and_inspect() {
    let tmp = tempfile::tempdir().unwrap();
    // Several megabytes decoded, so summarize reads it in many chunks.
    let log = fixture("fixtures/logs/production_json.log").repeat(60);
    let gz = gzip(&log);
    for (k, keep) in [1, 3, 5, 7].into_iter().enumerate() {
        let cut = write(
            tmp.path(),
            &format!("cut{k}.log.gz"),
            &gz[..gz.len() * keep / 8],
        );
        let at = format!(
            "cut{k}.log.gz: line {}: ",
            line_where_it_breaks(&gz[..gz.len() * keep / 8])
        );
        for threads in ["1", "2", "4"] {
            let out = summarize(&["--threads", threads], &[&cut]);
            assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
            assert!(out.stdout.is_empty());
            assert!(
                stderr(&out).contains(&at),
                "want {at} with {threads} threads: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out).contains("corrupt or truncated"),
                "{}",
                stderr(&out)
            );
        }
        let (out, reports) = inspect(&[], &[&cut]);
        assert_eq!(out.status.code(), Some(4));
        assert!(
            reports[0]["error"].as_str().unwrap().contains(&at),
            "{reports}"
        );
    }
}

#[test]
fn garbage_after_the_gzip_members_is_one_malformed_line_not_a_rejected_file() {
    let tmp = tempfile::tempdir().unwrap();
    let log = fixture("fixtures/logs/production_json.log");
    let middle = log[..log.len() / 2]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    let (first, second) = log.split_at(middle);
    // Two members, as `cat a.gz b.gz` makes, then what a careless `>>` appended.
    let mut stored = gzip(first);
    stored.extend(gzip(second));
    let members = write(tmp.path(), "members.log.gz", &stored);
    stored.extend(b"{\"path\":\"/acme/docs\",\"time\":\"2026-03-14T20:00:00Z\"}\n\x00\x00\x00");
    let appended = write(tmp.path(), "appended.log.gz", &stored);

    let original = root().join("fixtures/logs/production_json.log");
    // Full parses are compared: the fast path may leave malformed lines unread.
    let want = assert_fast_path_agrees(&summarize_args(&[], &[&original]));
    let clean = assert_fast_path_agrees(&summarize_args(&[], &[&members]));
    assert_eq!(clean["counts"], want["counts"]);
    assert_eq!(clean["reconciliation"], want["reconciliation"]);

    let got = assert_fast_path_agrees(&summarize_args(&[], &[&appended]));
    let lines = n(&want, "lines") + 1;
    assert_eq!(got["counts"], want["counts"]);
    assert_eq!(
        (n(&got, "lines"), n(&got, "malformed")),
        (lines, n(&want, "malformed") + 1)
    );
    let mut malformed_lines = want["inputs"][0]["malformed_lines"].clone();
    malformed_lines.as_array_mut().unwrap().push(lines.into());
    assert_eq!(got["inputs"][0]["malformed_lines"], malformed_lines);
    let out = summarize(&[], &[&appended]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("/acme/docs"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "appended.log.gz: line {lines}: bytes after the last gzip member"
        )),
        "{}",
        stderr(&out)
    );

    let (out, reports) = inspect(&[], &[&appended]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(reports[0]["malformed_lines"], malformed_lines);
    let warning = reports[0]["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains(&format!(
            "appended.log.gz: line {lines}: bytes after the last gzip member"
        )),
        "{warning}"
    );
    let text = stdout(&logbrief().arg("inspect").arg(&appended).output().unwrap());
    assert!(text.contains("  warning:    "), "{text}");
    assert!(!text.contains("/acme/docs"), "{text}");
}

// ---------------------------------------------------------------------------------
// Audit events

#[test]
fn audit_entity_paths_with_dot_segments_decide_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let event = |id: u64, entity_id: u64, path: &str| {
        format!(
            r#"{{"id":{id},"author_id":1,"entity_id":{entity_id},"entity_type":"Project","entity_path":"{path}","details":{{"change":"visibility","from":"Private","to":"Public"}},"created_at":"2026-03-14T20:0{id}:00Z","event_type":"project_visibility_level_updated"}}"#
        )
    };
    // Entity ids the directory does not know, so the path is all there is.
    let climbing = [
        "acme/../acme-corp/app",
        "acme-corp/../acme/docs",
        "acme/./docs",
        "acme/%2e%2e/acme-corp/app",
        "acme/docs%2F..%2F..%2Facme-corp%2Fapp",
    ];
    let mut stream: String = climbing
        .iter()
        .enumerate()
        .map(|(i, path)| event(i as u64 + 1, 900 + i as u64, path) + "\n")
        .collect();
    stream.push_str(&(event(9, 999, "acme/docs") + "\n"));
    let file = write(tmp.path(), "streaming.ndjson", stream.as_bytes());
    let got = reply(&["--template", "audit"], &[&file]);
    assert_eq!(got["audit"]["events"], 1);
    assert_eq!(n(&got, "out_of_scope"), climbing.len() as u64);
    assert_eq!(n(&got, "counted"), 1);
}

/// The period the logs cover is read from the edges of what the prefilter passes over;
/// lines at an edge that are no request (Workhorse's start-up lines) must not hide the
/// requests next to them. Regression: the fast path once said the logs began at the
/// first request in scope.
#[test]
fn the_period_the_logs_cover_does_not_depend_on_the_prefilter() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("workhorse.log");
    let access = |time: &str, uri: &str| {
        format!(
            "{{\"correlation_id\":\"c-{time}\",\"level\":\"info\",\"method\":\"GET\",\
             \"msg\":\"access\",\"remote_ip\":\"198.51.100.7\",\"status\":200,\
             \"time\":\"{time}\",\"uri\":\"{uri}\",\"user_agent\":\"curl/8\"}}\n"
        )
    };
    let text = [
        "{\"level\":\"info\",\"msg\":\"Starting\",\"time\":\"2026-03-14T18:00:00.000Z\"}\n"
            .to_owned(),
        access("2026-03-14T18:00:01.000Z", "/other/repo"),
        access("2026-03-14T18:30:00.000Z", "/acme/web/site"),
        access("2026-03-14T19:00:00.000Z", "/other/repo"),
        "{\"level\":\"info\",\"msg\":\"keywatcher: stopping\",\"time\":\"2026-03-14T19:00:05.000Z\"}\n"
            .to_owned(),
    ]
    .concat();
    std::fs::write(&log, text).unwrap();
    let full = assert_fast_path_agrees(&summarize_args(&[], &[&log]));
    assert_eq!(full["logs_cover"]["first"], "2026-03-14T18:00:01.000Z");
    assert_eq!(full["logs_cover"]["last"], "2026-03-14T19:00:00.000Z");
}
