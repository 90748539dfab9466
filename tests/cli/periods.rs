//! The period a reply states (RULES.md §9): stray times are malformed and set no
//! period, the period is the same however the lines were read, the window and the
//! minute agree, and a gap in the logs is said with its times.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use proptest::prelude::*;
use serde_json::Value;

use super::support::{ALICE_ABOUT_ACME, Summarize, logbrief, root, stderr, stdout};

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
        assert!(
            !reply.contains("1970") && !reply.contains("2099"),
            "{reply}"
        );
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "{malformed} malformed lines (first at {first}; the first: a time before 2011 \
                 or more than a day after the run)"
            )),
            "{err}"
        );
        let json = at_clock(
            "2026-03-14T21:00:00Z",
            &s.clone().args(extra).format("json"),
        );
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
            !v["logs_cover"]["last"]
                .as_str()
                .unwrap()
                .starts_with("2099"),
            "{v}"
        );
    }
}

/// Request lines from `from` for `minutes` minutes, `per_minute` a minute, in time
/// order: one in ten to acme, the others to another customer's project.
fn traffic(from: &str, minutes: i64, per_minute: i64) -> String {
    let start: chrono::DateTime<chrono::Utc> = from.parse().unwrap();
    let mut out = String::new();
    for i in 0..minutes * per_minute {
        let t = start + chrono::TimeDelta::milliseconds(i * 60_000 / per_minute);
        let path = if i % 10 == 3 {
            "/acme/docs/-/issues"
        } else {
            "/globex/core/-/merge_requests"
        };
        out += &rails(
            &t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            path,
            i as u32,
        );
    }
    out
}

/// The markdown reply, the same with and without `--parse-all` and on one thread.
fn reply_every_way(files: &[&Path], extra: &[&str]) -> String {
    let run = |more: &[&str]| {
        let out = Summarize::new().args(extra).args(more).files(files).run();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let reply = run(&[]);
    assert_eq!(run(&["--parse-all"]), reply, "--parse-all");
    assert_eq!(run(&["--threads", "1"]), reply, "--threads 1");
    assert_eq!(run(&["--threads", "3"]), reply, "--threads 3");
    reply
}

#[test]
fn the_period_is_the_same_however_the_lines_were_read() {
    let tmp = tempfile::tempdir().unwrap();
    // Over a megabyte, so several chunks; the last line and a late one in the middle
    // are another customer's, which the default reading passes over unparsed.
    let mut log = traffic("2026-03-14T00:00:07Z", 23 * 60 + 56, 8);
    let lines: Vec<&str> = log.lines().collect();
    assert!(log.len() > 1 << 20);
    let last_line: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert!(last_line["path"].as_str().unwrap().contains("globex"));
    let last = last_line["time"].as_str().unwrap().to_owned();
    assert!(last.starts_with("2026-03-14T23:55"), "{last}");
    let middle = lines.len() / 2;
    let late = rails("2026-03-14T23:59:30Z", "/globex/core", 9);
    log = lines[..middle]
        .iter()
        .map(|l| format!("{l}\n"))
        .chain([late])
        .chain(lines[middle..].iter().map(|l| format!("{l}\n")))
        .collect();
    let path = write(tmp.path(), "production_json.log", &log);
    let reply = reply_every_way(&[&path], &[]);
    assert!(
        reply.contains("from 2026-03-14 00:00 UTC to 2026-03-14 23:55 UTC"),
        "{reply}"
    );
    // Through an engine's candidates and its manifest.
    let first = "2026-03-14T00:00:07Z";
    assert_eq!(through_engine(tmp.path(), &path, &log, first, &last), reply);
}

/// The reply through an engine's candidates and its manifest: the lines `logbrief
/// filter` keeps of `log` (read from `path`), and the totals an engine counts over it,
/// with its first and last time.
fn through_engine(dir: &Path, path: &Path, log: &str, first: &str, last: &str) -> String {
    let filtered = logbrief()
        .arg("filter")
        .args(&ALICE_ABOUT_ACME[1..])
        .write_stdin(log.to_owned())
        .output()
        .unwrap();
    assert!(filtered.status.success(), "{}", stderr(&filtered));
    let candidates = dir.join("candidates.log");
    fs::write(&candidates, &filtered.stdout).unwrap();
    let manifest = write(
        dir,
        "manifest.json",
        &serde_json::json!({
            "sources": [{"name": path.to_str().unwrap(), "lines": log.lines().count(),
                         "first": first, "last": last}],
            "engine": "duckdb",
            "filter": "logbrief filter",
        })
        .to_string(),
    );
    let out = Summarize::new()
        .arg("--manifest")
        .arg(&manifest)
        .arg(&candidates)
        .run();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_missing_day_and_a_stretch_without_lines_are_said_with_their_times() {
    let tmp = tempfile::tempdir().unwrap();
    let monday = write(
        tmp.path(),
        "monday.log",
        &traffic("2026-03-02T00:00:00Z", 24 * 60, 2),
    );
    let wednesday = write(
        tmp.path(),
        "wednesday.log",
        &(traffic("2026-03-04T00:00:00Z", 10 * 60, 2)
            + &traffic("2026-03-04T14:00:00Z", 10 * 60, 2)),
    );
    let reply = reply_every_way(&[&monday, &wednesday], &[]);
    assert!(
        reply.contains(
            "The logs hold no lines from 2026-03-02 23:59 UTC to 2026-03-04 00:00 UTC and from \
             2026-03-04 09:59 UTC to 2026-03-04 14:00 UTC, so requests made in those times are \
             not counted."
        ),
        "{reply}"
    );
    let v = Summarize::new().files([&monday, &wednesday]).json();
    assert_eq!(v["gaps"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["gaps"][0]["from"], "2026-03-02T23:59:30.000Z");
    assert_eq!(v["gaps"][0]["to"], "2026-03-04T00:00:00.000Z");
    // Within a window that leaves the missing day out, nothing is said.
    let reply = reply_every_way(&[&monday, &wednesday], &["--since", "2026-03-04"]);
    assert!(!reply.contains("hold no lines from 2026-03-02"), "{reply}");
    assert!(reply.contains("from 2026-03-04 09:59 UTC to 2026-03-04 14:00 UTC"));
    // The note says each gap too.
    let note = tmp.path().join("note.md");
    let out = Summarize::new()
        .arg("--internal-note")
        .arg(&note)
        .files([&monday, &wednesday])
        .run();
    assert!(out.status.success());
    let note = fs::read_to_string(&note).unwrap();
    assert!(
        note.contains("- Gap in the logs (no lines where over 100 were expected): 2026-03-02 23:59:30 UTC to 2026-03-04 00:00:00 UTC"),
        "{note}"
    );
}

#[test]
fn more_than_three_gaps_are_counted_after_the_first_three() {
    let tmp = tempfile::tempdir().unwrap();
    let log: String = (0..6)
        .map(|h| traffic(&format!("2026-03-04T{:02}:00:00Z", h * 4), 60, 10))
        .collect();
    let path = write(tmp.path(), "production_json.log", &log);
    let reply = reply_every_way(&[&path], &[]);
    assert!(
        reply.contains(
            "The logs hold no lines from 2026-03-04 00:59 UTC to 2026-03-04 04:00 UTC, from \
             2026-03-04 04:59 UTC to 2026-03-04 08:00 UTC, from 2026-03-04 08:59 UTC to \
             2026-03-04 12:00 UTC and in 2 more stretches, so requests made in those times are \
             not counted."
        ),
        "{reply}"
    );
}

#[test]
fn quiet_logs_have_no_gaps() {
    let tmp = tempfile::tempdir().unwrap();
    // A request every three hours for a week: a quiet project's logs, not gaps.
    let quiet = write(
        tmp.path(),
        "production_json.log",
        &traffic("2026-03-02T00:00:00Z", 7 * 24 * 60, 1)
            .lines()
            .step_by(180)
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    let reply = reply_every_way(&[&quiet], &[]);
    assert!(!reply.contains("hold no lines"), "{reply}");
    // A Kibana export filtered to one namespace is sparse by nature: never gaps.
    for file in [
        "fixtures/formats/kibana/export.csv",
        "fixtures/formats/nginx/gitlab_access.log",
    ] {
        let v = Summarize::new()
            .args(["--input-tz", "UTC"])
            .arg(file)
            .json();
        assert_eq!(v["gaps"], serde_json::json!([]), "{file}");
    }
}

/// `n` requests to acme from `from`, one every `step` seconds.
fn burst(from: &str, n: i64, step: i64) -> String {
    let start: chrono::DateTime<chrono::Utc> = from.parse().unwrap();
    (0..n)
        .map(|i| {
            let t = start + chrono::TimeDelta::seconds(i * step);
            rails(&t.to_rfc3339(), "/acme/docs", i as u32)
        })
        .collect()
}

#[test]
fn the_busiest_minute_is_a_whole_minute_inside_the_window() {
    let tmp = tempfile::tempdir().unwrap();
    // 36 requests in 20:06 (20 of them from 20:06:30 on), 15 in 20:07.
    let log = burst("2026-03-14T20:06:00Z", 16, 1)
        + &burst("2026-03-14T20:06:30Z", 20, 1)
        + &burst("2026-03-14T20:07:00Z", 15, 2);
    let path = write(tmp.path(), "production_json.log", &log);
    let busiest = |extra: &[&str]| {
        let v = Summarize::new()
            .args(["--template", "high-load"])
            .args(extra)
            .arg(&path)
            .json();
        (
            v["busiest_minute"]["minute"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            v["busiest_minute"]["accesses"].as_u64().unwrap_or(0),
        )
    };
    assert_eq!(busiest(&[]), ("2026-03-14T20:06:00.000Z".into(), 36));
    // The window cuts 20:06: its 20 requests are not said as the minute's.
    assert_eq!(
        busiest(&["--since", "2026-03-14T20:06:30Z"]),
        ("2026-03-14T20:07:00.000Z".into(), 15)
    );
    let reply = reply_every_way(
        &[&path],
        &[
            "--template",
            "high-load",
            "--details",
            "--since",
            "2026-03-14T20:06:30Z",
        ],
    );
    assert!(
        reply.contains("The busiest minute was 20:07 UTC on 2026-03-14, with 15 requests."),
        "{reply}"
    );
    // A window inside one minute has no whole minute to name.
    assert_eq!(
        busiest(&[
            "--since",
            "2026-03-14T20:06:10Z",
            "--until",
            "2026-03-14T20:06:50Z"
        ]),
        (String::new(), 0)
    );
}

#[test]
fn the_window_and_the_minute_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let log = burst("2026-03-14T20:06:00Z", 61, 1) + &burst("2026-03-14T20:07:20Z", 3, 1);
    let path = write(tmp.path(), "production_json.log", &log);
    // `--until` is the last instant the window includes: 20:07:00 is in it.
    let until = ["--until", "2026-03-14T20:07:00Z"];
    let v = Summarize::new().args(until).arg(&path).json();
    assert_eq!(v["filters"]["until"], "2026-03-14T20:07:00.000Z");
    assert_eq!(v["counts"]["accesses"], 61);
    assert_eq!(v["counts"]["last_seen"], "2026-03-14T20:07:00.000Z");
    let reply = reply_every_way(&[&path], &until);
    assert!(
        reply.contains("reached acme between 20:06 and 20:07 UTC on 2026-03-14"),
        "{reply}"
    );
    assert!(
        reply.contains("from 2026-03-14 20:06 UTC to 2026-03-14 20:07 UTC"),
        "{reply}"
    );
    // A date includes its whole day.
    let v = Summarize::new()
        .args(["--until", "2026-03-14"])
        .arg(&path)
        .json();
    assert_eq!(v["filters"]["until"], "2026-03-14T23:59:59.999Z");
}

#[test]
fn a_leap_second_prints_one_way_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let log = rails("2016-12-31T23:59:58Z", "/acme/docs", 1)
        + &rails("2016-12-31T23:59:60Z", "/acme/docs", 2)
        + &rails("2016-12-31T23:59:60.500Z", "/acme/docs", 3);
    let path = write(tmp.path(), "production_json.log", &log);
    let v = Summarize::new()
        .args(["--template", "high-load"])
        .arg(&path)
        .json();
    assert_eq!(v["counts"]["last_seen"], "2016-12-31T23:59:59.999Z", "{v}");
    assert_eq!(v["logs_cover"]["last"], "2016-12-31T23:59:59.999Z");
    assert_eq!(v["busiest_minute"]["minute"], "2016-12-31T23:59:00.000Z");
    assert_eq!(v["busiest_minute"]["accesses"], 3);
    let reply = reply_every_way(&[&path], &["--template", "high-load", "--details"]);
    assert!(
        reply.contains("to acme at 23:59 UTC on 2016-12-31"),
        "{reply}"
    );
    assert!(
        reply.contains("The busiest minute was 23:59 UTC on 2016-12-31, with 3 requests."),
        "{reply}"
    );
    assert!(!reply.contains("2017"), "{reply}");
}

/// One stretch of a generated log: lines at a steady rate, then a pause.
#[derive(Debug, Clone)]
struct Stretch {
    lines: u16,
    seconds_apart: u8,
    pause_minutes: u16,
}

/// What may stand between the lines of a stretch.
#[derive(Debug, Clone, Copy)]
enum Odd {
    None,
    Stray1970,
    Stray2099InScope,
    Cut,
}

fn generated_log(stretches: &[Stretch], odd: &[Odd]) -> String {
    let mut t: chrono::DateTime<chrono::Utc> = "2026-03-02T00:00:00Z".parse().unwrap();
    let mut out = String::new();
    let mut n = 0usize;
    for s in stretches {
        for _ in 0..s.lines {
            let at = t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let path = if n.is_multiple_of(7) {
                "/acme/docs/-/issues"
            } else {
                "/globex/core"
            };
            out += &rails(&at, path, n as u32);
            match odd[n % odd.len()] {
                Odd::None => {}
                Odd::Stray1970 => out += &rails("1970-01-01T00:00:00Z", "/globex/core", 1),
                Odd::Stray2099InScope => out += &rails("2099-01-01T00:00:00Z", "/acme/docs", 2),
                Odd::Cut => {
                    let line = rails(&at, "/acme/docs", 3);
                    out += &line[..line.len() / 2];
                    out += "\n";
                }
            }
            n += 1;
            t += chrono::TimeDelta::seconds(i64::from(s.seconds_apart));
        }
        t += chrono::TimeDelta::minutes(i64::from(s.pause_minutes));
    }
    out
}

fn stretch() -> impl Strategy<Value = Stretch> {
    (1u16..600, 1u8..40, prop_oneof![0u16..30, 60u16..900]).prop_map(
        |(lines, seconds_apart, pause_minutes)| Stretch {
            lines,
            seconds_apart,
            pause_minutes,
        },
    )
}

fn odd() -> impl Strategy<Value = Odd> {
    prop_oneof![
        6 => Just(Odd::None),
        1 => Just(Odd::Stray1970),
        1 => Just(Odd::Stray2099InScope),
        1 => Just(Odd::Cut),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Gaps, stray times and malformed lines: the markdown reply is byte for byte the
    /// same with and without `--parse-all`, and through an engine's candidates with the
    /// manifest an engine would write (where no gap is said: RULES.md §9).
    #[test]
    fn the_reply_is_the_same_however_the_lines_were_read(
        stretches in proptest::collection::vec(stretch(), 1..5),
        odd in proptest::collection::vec(odd(), 1..12),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let log = generated_log(&stretches, &odd);
        let path = write(tmp.path(), "production_json.log", &log);
        let run = |s: Summarize| {
            let out = s.run();
            assert!(out.status.success(), "{}", stderr(&out));
            stdout(&out)
        };
        let reply = run(Summarize::new().arg(&path));
        prop_assert_eq!(&run(Summarize::new().arg("--parse-all").arg(&path)), &reply);
        prop_assert_eq!(&run(Summarize::new().args(["--threads", "1"]).arg(&path)), &reply);
        if reply.contains("hold no lines") {
            return Ok(());
        }
        // The engine's totals: every line, and the first and last time a log line can
        // hold (an engine's query over the log, where stray times are left aside).
        let times: Vec<String> = log
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["time"].as_str().map(str::to_owned))
            .filter(|t| !t.starts_with("1970") && !t.starts_with("2099"))
            .collect();
        let (first, last) = (times.first().unwrap(), times.last().unwrap());
        let through_engine = through_engine(tmp.path(), &path, &log, first, last);
        prop_assert_eq!(&through_engine, &reply);
    }
}

#[test]
fn a_log_filtered_to_the_customer_has_no_gaps() {
    let tmp = tempfile::tempdir().unwrap();
    // The customer's own requests, already picked out of the platform's logs: a
    // quiet night is theirs.
    let grepped = |text: String| -> String {
        text.lines()
            .filter(|l| l.contains("/acme/"))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let day = traffic("2026-03-02T06:00:00Z", 16 * 60, 20)
        + &traffic("2026-03-03T06:00:00Z", 16 * 60, 20);
    let only_acme = write(tmp.path(), "acme.log", &grepped(day.clone()));
    let reply = reply_every_way(&[&only_acme], &[]);
    assert!(!reply.contains("hold no lines"), "{reply}");
    // The platform's log of the same hours: the night is a gap in it.
    let platform = write(tmp.path(), "production_json.log", &day);
    let reply = reply_every_way(&[&platform], &[]);
    assert!(
        reply.contains("The logs hold no lines from 2026-03-02 21:59 UTC to 2026-03-03 06:00 UTC"),
        "{reply}"
    );
}
