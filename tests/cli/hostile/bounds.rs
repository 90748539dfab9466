//! Every reader bounded (RULES.md §11, docs/FORMATS.md "Limits"): a device without
//! end, gzip bombs (a few MB that inflate to GBs: zeros, one endless line, endless
//! short lines), fields and values without end in every format, more audit events
//! than a run keeps, and side files past their size. Each runs under the address-space
//! limit of [`super::bounded`]: it exits 4 naming the file and line (or 0 where the
//! input is valid), never aborts.
//!
//! Bombs are written as they are compressed, and kept between runs in the target
//! folder: a few MB on disk each.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::{Mutex, OnceLock};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::{bounded, bounded_std};
use crate::support::{ALICE_ABOUT_ACME, root, stderr, stdout};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Where the inputs of these tests are made, once per run of the tests.
fn folder() -> &'static Path {
    static FOLDER: OnceLock<PathBuf> = OnceLock::new();
    FOLDER.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-bounds");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// The parts of a gzip bomb: `head`, then `body` repeated to `size` bytes, then
/// `tail`.
struct Bomb {
    name: &'static str,
    head: Vec<u8>,
    body: Vec<u8>,
    size: u64,
    tail: Vec<u8>,
}

impl Bomb {
    fn new(name: &'static str, head: &[u8], body: &[u8], size: u64, tail: &[u8]) -> Bomb {
        Bomb {
            name,
            head: head.to_vec(),
            body: body.to_vec(),
            size,
            tail: tail.to_vec(),
        }
    }

    /// The bomb's file, compressed as it is written, never whole in memory. Made once
    /// (the tests that share it wait for it) and kept for later runs.
    fn path(&self) -> PathBuf {
        static MAKING: Mutex<()> = Mutex::new(());
        let _one_at_a_time = MAKING.lock().unwrap_or_else(|p| p.into_inner());
        let path = folder().join(self.name);
        if path.exists() {
            return path;
        }
        let part = folder().join(format!("{}.part", self.name));
        let mut gz = GzEncoder::new(
            BufWriter::new(File::create(&part).unwrap()),
            Compression::fast(),
        );
        gz.write_all(&self.head).unwrap();
        let block = self.body.repeat((MIB as usize / self.body.len()).max(1));
        let mut left = self.size;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            gz.write_all(&block[..n]).unwrap();
            left -= n as u64;
        }
        gz.write_all(&self.tail).unwrap();
        gz.finish().unwrap().flush().unwrap();
        std::fs::rename(&part, &path).unwrap();
        path
    }
}

/// A request line in the scope of acme, as Rails writes it.
const IN_SCOPE: &str = r#"{"method":"GET","path":"/acme/web/site","status":200,"time":"2026-03-14T19:58:03.120Z","correlation_id":"01KKPYTRBGW8YGZJKJH851Q6MZ","meta.remote_ip":"203.0.113.20","meta.user":"bob","user_id":2}"#;

/// A request about another group.
const ELSEWHERE: &str = r#"{"method":"GET","path":"/globex/core","status":200,"time":"2026-03-14T19:58:03.120Z","correlation_id":"01KKPYTRBGW8YGZJKJH851Q6MY","meta.remote_ip":"198.51.100.90","user_id":5}"#;

/// An audit event about acme.
fn event(id: u64) -> String {
    format!(
        r#"{{"id":{id},"author_id":3,"entity_id":60,"entity_type":"Group","details":{{"change":"visibility","from":"Internal","to":"Private","author_name":"Gina Gray","author_email":"gina@acme.example","target_id":60,"target_type":"Group","target_details":"acme","ip_address":"203.0.113.23","entity_path":"acme"}},"created_at":"2026-03-20T08:30:00.250Z"}}"#
    )
}

/// `summarize` for alice about acme, under the address-space limit.
fn summarize(args: &[&str]) -> Output {
    bounded()
        .args(ALICE_ABOUT_ACME)
        .args(args)
        .output()
        .unwrap()
}

/// `inspect`, under the address-space limit.
fn inspect(args: &[&str]) -> Output {
    bounded().arg("inspect").args(args).output().unwrap()
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The run stopped with an input error (exit 4, not an abort) that names `file` and
/// `line`, and says `what`.
#[track_caller]
fn refused(out: &Output, file: &str, line: u64, what: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    let want = format!("{file}: line {line}: {what}");
    assert!(err.contains(&want), "want {want:?} in:\n{err}");
}

/// The run succeeded under the limit.
#[track_caller]
fn read(out: &Output) {
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(out));
}

const UNENDED: &str = "a line goes on for more than 1 GiB without an end; the input was not \
                       read past it";

// ---------------------------------------------------------------------------------
// A device without end

/// `/dev/zero` as a log of every line-based format, by every way of reading it: the
/// line without end stops at 1 GiB.
#[test]
fn dev_zero_as_lines_stops_at_the_unended_line_bound() {
    let runs: [&[&str]; 4] = [
        &["--format-hint", "rails"],
        &["--format-hint", "nginx", "--parse-all", "--threads", "1"],
        &["--format-hint", "workhorse", "--threads", "3"],
        &["--format-hint", "rails", "--template", "audit"],
    ];
    for args in runs {
        let out = summarize(&[args, &["/dev/zero"]].concat());
        refused(&out, "/dev/zero", 1, UNENDED);
    }
    let out = inspect(&["--format-hint", "workhorse", "/dev/zero"]);
    refused(&out, "/dev/zero", 1, UNENDED);
    // Without a hint, its first bytes are no known format.
    let out = summarize(&["/dev/zero"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("/dev/zero: the format is not recognised"));
}

/// `/dev/zero` as a Kibana export: one record without end (it grew past 8 GB).
#[test]
fn dev_zero_as_a_kibana_export_stops_at_the_record_limit() {
    let record = "a CSV record longer than 16 MiB starts here, the most one may hold; the \
                  input was not read past it";
    let out = summarize(&["--format-hint", "kibana", "--input-tz", "UTC", "/dev/zero"]);
    refused(&out, "/dev/zero", 1, record);
    let out = inspect(&["--format-hint", "kibana", "/dev/zero"]);
    refused(&out, "/dev/zero", 1, record);
}

/// Every side file as `/dev/zero`: read until the machine ran out (24 GB seen), now
/// refused at its size limit, before anything is parsed.
#[test]
fn side_files_from_a_device_stop_at_their_size_limits() {
    let log = "fixtures/logs/production_json.log";
    let cases: [(&str, &str); 5] = [
        (
            "--config",
            "larger than 4 MiB, the most a configuration file may hold",
        ),
        (
            "--manifest",
            "larger than 4 MiB, the most a manifest may hold",
        ),
        (
            "--exclude-ip-file",
            "larger than 4 MiB, the most an address list may hold",
        ),
        (
            "--geoip",
            "larger than 256 MiB, the most a GeoIP database may hold",
        ),
        (
            "--directory",
            "larger than 128 MiB, the most a directory file may hold",
        ),
    ];
    for (flag, what) in cases {
        let mut cmd = bounded();
        match flag {
            "--directory" => cmd.args([
                "summarize",
                "--requester",
                "alice@acme.example",
                "--directory",
                "/dev/zero",
            ]),
            _ => cmd.args(ALICE_ABOUT_ACME).args([flag, "/dev/zero"]),
        };
        let out = cmd.arg(log).output().unwrap();
        refused(&out, "/dev/zero", 1, what);
    }
    // The directory of `verify` and of `filter` is read the same way.
    let dir = [
        "--requester",
        "alice@acme.example",
        "--directory",
        "/dev/zero",
    ];
    for command in ["verify", "filter"] {
        let out = bounded()
            .arg(command)
            .args(dir)
            .write_stdin("")
            .output()
            .unwrap();
        refused(&out, "/dev/zero", 1, "larger than 128 MiB");
    }
}

/// A side file one byte past its limit is refused with the line the limit fell on;
/// at its limit, it is read.
#[test]
fn a_side_file_past_its_limit_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let ranges = dir.path().join("ranges.txt");
    let line = b"192.0.2.0/24 # a range of the documentation\n";
    let lines = 4 * MIB / line.len() as u64;
    let mut list = line.repeat(lines as usize);
    list.resize(4 * MIB as usize, b'\n');
    std::fs::write(&ranges, &list).unwrap();
    let log = "fixtures/logs/production_json.log";
    read(&summarize(&["--exclude-ip-file", text(&ranges), log]));
    list.extend(b"198.51.100.0/24\n");
    std::fs::write(&ranges, &list).unwrap();
    let out = summarize(&["--exclude-ip-file", text(&ranges), log]);
    refused(
        &out,
        text(&ranges),
        lines + 1 + (4 * MIB - lines * line.len() as u64),
        "larger than 4 MiB, the most an address list may hold; it was not read",
    );
}

// ---------------------------------------------------------------------------------
// Gzip bombs

fn zeros() -> Bomb {
    Bomb::new("zeros.gz", b"", b"\0", GIB + 64 * MIB, b"")
}

/// One line that starts as a request in the scope and never ends.
fn endless_line() -> Bomb {
    let head = format!("{IN_SCOPE}\n{}", &IN_SCOPE[..IN_SCOPE.len() - 1]);
    Bomb::new(
        "endless-line.gz",
        format!("{head},\"params\":\"").as_bytes(),
        b"a",
        GIB + 64 * MIB,
        b"\"}\n",
    )
}

/// Zeros as every line format and every way of reading: one line without end.
#[test]
fn a_bomb_of_zeros_stops_at_the_unended_line_bound() {
    let bomb = zeros().path();
    let file = text(&bomb);
    for args in [
        &["--format-hint", "rails"][..],
        &["--format-hint", "nginx", "--parse-all"],
        &["--format-hint", "kibana", "--input-tz", "UTC"],
    ] {
        let out = summarize(&[args, &[file]].concat());
        let what = match args[1] {
            "kibana" => "a CSV record longer than 16 MiB starts here",
            _ => UNENDED,
        };
        refused(&out, file, 1, what);
    }
    refused(
        &inspect(&["--format-hint", "rails", file]),
        file,
        1,
        UNENDED,
    );
    // Detected, it is no known format: refused once its first bytes are read.
    let out = summarize(&[file]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("the format is not recognised"));
}

/// One line that goes on without end after a good one: the good one is read, the
/// endless one named.
#[test]
fn a_bomb_of_one_endless_line_names_it() {
    let bomb = endless_line().path();
    let file = text(&bomb);
    for args in [
        &["--format-hint", "rails"][..],
        &["--format-hint", "rails", "--parse-all", "--threads", "1"],
    ] {
        refused(&summarize(&[args, &[file]].concat()), file, 2, UNENDED);
    }
    refused(
        &inspect(&["--format-hint", "rails", file]),
        file,
        2,
        UNENDED,
    );
}

/// Millions of short lines are read through in flat memory; the lines are counted,
/// and the first malformed ones named.
#[test]
fn a_bomb_of_endless_short_lines_is_read_in_flat_memory() {
    let body = format!("{ELSEWHERE}\nnot json\n");
    let pairs = 128 * MIB / body.len() as u64;
    let bomb = Bomb::new(
        "short-lines.gz",
        format!("{IN_SCOPE}\n").as_bytes(),
        body.as_bytes(),
        pairs * body.len() as u64,
        b"",
    )
    .path();
    let file = text(&bomb);
    for args in [
        &["--format", "json"][..],
        &["--format", "json", "--parse-all"],
    ] {
        let out = summarize(&[args, &[file]].concat());
        read(&out);
        let reply: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(reply["reconciliation"]["lines"], 1 + 2 * pairs);
        assert_eq!(reply["reconciliation"]["counted"], 1);
    }
    let out = inspect(&["--json", file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report[0]["malformed"], pairs);
    assert_eq!(report[0]["malformed_lines"][0], 3);
}

/// Lines just within the line limit, many of them, searched by many threads: one
/// long line is searched at a time, so memory does not grow with the threads.
#[test]
fn long_lines_within_the_limit_are_read_by_many_threads_under_the_limit() {
    let line = format!("{},\"params\":\"", &IN_SCOPE[..IN_SCOPE.len() - 1]);
    let mut body = line.clone().into_bytes();
    body.extend(std::iter::repeat_n(b'q', 60 * MIB as usize));
    body.extend(b"\"}\n");
    let bomb = Bomb::new("long-lines.gz", b"", &body, 20 * body.len() as u64, b"").path();
    let out = summarize(&[
        "--format",
        "json",
        "--parse-all",
        "--threads",
        "8",
        text(&bomb),
    ]);
    read(&out);
    let reply: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(reply["reconciliation"]["lines"], 20);
}

/// `filter` reads standard input in flat memory, however long a line: it hands a line
/// it cannot judge through whole.
#[test]
fn filter_reads_a_line_without_end_in_flat_memory() {
    let dir = tempfile::tempdir().unwrap();
    // A file of zeros that takes no room on disk.
    let zeros = File::create(dir.path().join("zeros")).unwrap();
    zeros.set_len(GIB / 2).unwrap();
    let status = bounded_std()
        .args(["filter", "--requester", "alice@acme.example"])
        .args(["--directory", "fixtures/directory.json"])
        .stdin(File::open(dir.path().join("zeros")).unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

// ---------------------------------------------------------------------------------
// Fields and values without end

/// A Kibana export with one quoted field of 1 GiB (it aborted, exit 134).
#[test]
fn a_kibana_field_without_end_stops_at_the_record_limit() {
    let bomb = Bomb::new(
        "kibana-field.csv.gz",
        b"@timestamp,json.time,json.path,json.status\n-,2026-03-14T19:58:03Z,/acme/web,200\n-,2026-03-14T19:58:04Z,\"/acme/",
        b"x",
        GIB,
        b"\",200\n",
    )
    .path();
    let file = text(&bomb);
    let what = "a CSV record longer than 16 MiB starts here, the most one may hold";
    refused(&summarize(&[file]), file, 3, what);
    refused(&inspect(&[file]), file, 3, what);
}

/// A Kibana export whose first records include a long one: the records held back to
/// decide on the zone are held at their own size, not at the longest one's.
#[test]
fn a_long_kibana_record_among_the_first_is_held_at_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = b"@timestamp,json.time,json.path,json.status,json.ua\n".to_vec();
    csv.extend(b"-,2026-03-14T19:58:03Z,/acme/web/site,200,\"");
    csv.extend(std::iter::repeat_n(b'u', 15 * MIB as usize));
    csv.extend(b"\"\n");
    for i in 0..150 {
        csv.extend(format!("-,2026-03-14T19:58:{:02}Z,/acme/web/site,200,-\n", i % 60).as_bytes());
    }
    let path = dir.path().join("export.csv");
    std::fs::write(&path, &csv).unwrap();
    let out = summarize(&["--format", "json", text(&path)]);
    read(&out);
    let reply: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(reply["reconciliation"]["counted"], 151);
}

/// A CSV record of more fields than any export has.
#[test]
fn a_csv_record_of_too_many_fields_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = b"@timestamp,json.time,json.path".to_vec();
    csv.extend(",json.f".repeat(70_000).as_bytes());
    csv.extend(b"\n-,2026-03-14T19:58:03Z,/acme\n");
    let path = dir.path().join("wide.csv");
    std::fs::write(&path, &csv).unwrap();
    let file = text(&path);
    refused(
        &summarize(&[file]),
        file,
        1,
        "a CSV record of more than 65536 fields, the most one may hold",
    );
}

/// The UI's audit export with a field of 1 GiB (it reached 2 GB).
#[test]
fn an_audit_csv_field_without_end_stops_at_the_record_limit() {
    let bomb = Bomb::new(
        "audit-field.csv.gz",
        b"ID,Author ID,Author Name,Entity ID,Entity Type,Entity Path,Target ID,Target Type,Target Details,Action,IP Address,Created At (UTC)\n7,1,\"",
        b"x",
        GIB,
        b"\",60,Group,acme,60,Group,acme,Changed visibility,198.51.100.7,2026-03-14 20:06:12 UTC\n",
    )
    .path();
    let file = text(&bomb);
    let what = "a CSV record longer than 16 MiB starts here";
    refused(&summarize(&["--template", "audit", file]), file, 2, what);
}

/// A pretty-printed document with a string of 1 GiB (it aborted).
#[test]
fn a_json_document_without_end_stops_at_the_document_limit() {
    let head = "{\n  \"time\": \"2026-03-14T19:58:03Z\",\n  \"path\": \"/acme/web\"\n}\n{\n  \"time\": \"2026-03-14T19:58:04Z\",\n  \"path\": \"/acme/";
    let bomb = Bomb::new("document.json.gz", head.as_bytes(), b"x", GIB, b"\"\n}\n").path();
    let file = text(&bomb);
    let what = "a JSON document longer than 64 MiB starts here, the most one may hold; the \
                input was not read past it";
    refused(&summarize(&[file]), file, 5, what);
    refused(&inspect(&[file]), file, 5, what);
}

/// The API's array with a field of 1 GiB in its second event (it reached 2 GB).
#[test]
fn an_audit_array_element_without_end_stops_at_the_event_limit() {
    let head = format!(
        "[\n  {},\n  {{\"id\": 2, \"entity_type\": \"Group\", \"entity_id\": 60, \"details\": {{\"change\": \"",
        event(1)
    );
    let bomb = Bomb::new(
        "array-field.json.gz",
        head.as_bytes(),
        b"x",
        GIB,
        b"\"}}\n]\n",
    )
    .path();
    let file = text(&bomb);
    let what = "an element of the JSON array longer than 4 MiB starts here, the most an \
                audit event may hold; the input was not read past it";
    refused(&summarize(&["--template", "audit", file]), file, 3, what);
    refused(&inspect(&[file]), file, 3, what);
}

/// An array of copies of one event, each large in memory once parsed: read element by
/// element (the whole array was parsed at once: 3.6 GB for 3.4 million copies). The
/// copies are one event.
#[test]
fn an_audit_array_of_copies_is_read_element_by_element() {
    let heavy = format!(
        "{},\"extra\":[{}0]}}",
        &event(7)[..event(7).len() - 1],
        "0,".repeat(2_000)
    );
    let copies = 40_000u64;
    let body = format!("{heavy},\n");
    let bomb = Bomb::new(
        "array-copies.json.gz",
        b"[\n",
        body.as_bytes(),
        copies * body.len() as u64,
        format!("{heavy}\n]\n").as_bytes(),
    )
    .path();
    let out = summarize(&["--template", "audit", "--format", "json", text(&bomb)]);
    read(&out);
    let reply: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(reply["reconciliation"]["counted"], 1);
    assert_eq!(reply["reconciliation"]["duplicate"], copies);
}

/// An audit event longer than an event may hold, in a stream of them, is one
/// malformed line; the others are counted.
#[test]
fn a_streamed_audit_event_past_the_limit_is_one_malformed_line() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!(
        "{},\"extra\":\"{}\"}}",
        &event(2)[..event(2).len() - 1],
        "x".repeat(5 * MIB as usize)
    );
    let path = dir.path().join("stream.ndjson");
    std::fs::write(&path, format!("{}\n{long}\n{}\n", event(1), event(3))).unwrap();
    let out = summarize(&["--template", "audit", "--format", "json", text(&path)]);
    read(&out);
    let reply: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(reply["reconciliation"]["malformed"], 1);
    assert_eq!(reply["reconciliation"]["counted"], 2);
    let err = stderr(&out);
    assert!(
        err.contains(
            "1 malformed line (first at line 2; the first: an audit event longer than the limit)"
        ),
        "{err}"
    );
}

/// A gzip file of `lines` made by `line`, written as it is compressed.
fn gzip_of_lines(name: &str, lines: u64, line: impl Fn(u64) -> String) -> PathBuf {
    let path = folder().join(name);
    if !path.exists() {
        let part = folder().join(format!("{name}.part"));
        let mut gz = GzEncoder::new(
            BufWriter::new(File::create(&part).unwrap()),
            Compression::fast(),
        );
        for n in 1..=lines {
            gz.write_all(line(n).as_bytes()).unwrap();
        }
        gz.finish().unwrap().flush().unwrap();
        std::fs::rename(&part, &path).unwrap();
    }
    path
}

/// More audit events in the scope than a run keeps: the run stops at the event past
/// the limit, in reading order however many threads search, having held two million
/// of them under the limit.
#[test]
fn more_audit_events_than_a_run_keeps_stop_at_the_limit() {
    let held = 2_000_000u64;
    let path = gzip_of_lines("many-events.ndjson.gz", held + 10, |id| {
        format!(
            r#"{{"id":{id},"entity_type":"Group","entity_id":60,"created_at":"2026-03-20T08:30:00Z"}}"#
        ) + "\n"
    });
    let file = text(&path);
    let what = "more than 2000000 audit events in the scope, the most one run keeps in memory";
    for threads in ["1", "3"] {
        let out = summarize(&["--template", "audit", "--threads", threads, file]);
        refused(&out, file, held + 1, what);
    }
}

/// The API's array of millions of copies of one event (it took 3.6 GB for 3.4 million):
/// copies are counted as duplicates as they are read, and only the first is kept, so
/// more copies than the run keeps events are read whole.
#[test]
fn millions_of_copies_of_one_event_are_kept_once() {
    let copies = 2_000_100u64;
    let one = event(7);
    let path = gzip_of_lines("copies.json.gz", copies, |n| match n {
        1 => format!("[\n{one},\n"),
        n if n == copies => format!("{one}\n]\n"),
        _ => format!("{one},\n"),
    });
    let out = summarize(&["--template", "audit", "--format", "json", text(&path)]);
    read(&out);
    let reply: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(reply["reconciliation"]["counted"], 1);
    assert_eq!(reply["reconciliation"]["duplicate"], copies - 1);
}

// ---------------------------------------------------------------------------------
// The directory's namespaces

/// A directory whose namespaces' parents form a cycle, or a namespace its own parent:
/// invalid (exit 4), naming the ids.
#[test]
fn a_directory_with_a_parent_cycle_is_invalid() {
    let fixture: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join("fixtures/directory.json")).unwrap())
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            60,
            Some(62),
            "the parents of namespaces form a cycle (60 -> 62 -> 60",
        ),
        (61, Some(61), "namespace 61 is its own parent"),
    ];
    for (id, parent, what) in cases {
        let mut d = fixture.clone();
        for ns in d["namespaces"].as_array_mut().unwrap() {
            if ns["id"] == id {
                ns["parent_id"] = parent.into();
            }
        }
        let path = dir.path().join(format!("directory-{id}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&d).unwrap()).unwrap();
        let directory = [
            "--requester",
            "alice@acme.example",
            "--directory",
            text(&path),
        ];
        for command in [
            &["verify"][..],
            &["summarize", "fixtures/logs/production_json.log"],
        ] {
            let out = bounded()
                .arg(command[0])
                .args(directory)
                .args(&command[1..])
                .output()
                .unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(4), "{command:?}: {err}");
            assert!(
                err.contains(&format!("directory file {}: {what}", text(&path))),
                "{command:?}: {err}"
            );
            // Ids only: no path, no name.
            assert!(!err.contains("acme/"), "{err}");
        }
    }
}
