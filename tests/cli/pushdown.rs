//! `logbrief pushdown`: the filter an engine applies where the logs live. The lines
//! it keeps, summarized here, give the numbers the whole files give.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::support::{ALICE_ABOUT_ACME, QUICK_START, logbrief, root, stderr, stdout};

/// The filter for alice, Owner of acme, about acme.
fn filter(lines: &str) -> regex::Regex {
    let requester = &ALICE_ABOUT_ACME[1..];
    let out = logbrief()
        .arg("pushdown")
        .args(requester)
        .args(["--lines", lines])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    regex::Regex::new(text.trim_end()).unwrap()
}

/// Every line of a fixture log, decompressed.
pub(crate) fn lines_of(path: &Path) -> Vec<String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    let reader: Box<dyn Read> = if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(&bytes[..]))
    } else {
        Box::new(&bytes[..])
    };
    BufReader::new(reader).lines().map(Result::unwrap).collect()
}

/// The quick start's logs, and beside them in `dir` the lines `re` keeps of each (what
/// an engine would return), with how many lines the logs hold and how many were kept.
struct Kept {
    whole: Vec<PathBuf>,
    kept: Vec<PathBuf>,
    lines: usize,
    candidates: usize,
}

fn keep(re: &regex::Regex, dir: &Path) -> Kept {
    let mut k = Kept {
        whole: Vec::new(),
        kept: Vec::new(),
        lines: 0,
        candidates: 0,
    };
    for log in &QUICK_START[QUICK_START.len() - 3..] {
        let path = root().join(log);
        let all = lines_of(&path);
        let text: String = all
            .iter()
            .filter(|l| re.is_match(l))
            .map(|l| format!("{l}\n"))
            .collect();
        k.lines += all.len();
        k.candidates += text.lines().count();
        let out = dir.join(path.file_name().unwrap()).with_extension("kept");
        std::fs::write(&out, text).unwrap();
        k.whole.push(path);
        k.kept.push(out);
    }
    k
}

/// The quick start's flags, then `args`, `extra` and `files`.
fn run(args: &[&str], files: &[PathBuf], extra: &[String]) -> std::process::Output {
    let flags = &QUICK_START[..QUICK_START.len() - 3];
    logbrief()
        .args(flags)
        .args(args)
        .args(extra)
        .args(files)
        .output()
        .unwrap()
}

/// The JSON summary of `files`, which must succeed.
fn summary(files: &[PathBuf], extra: &[String]) -> Value {
    let out = run(&["--format", "json"], files, extra);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_candidates_an_engine_keeps_give_the_numbers_of_the_whole_files() {
    let tmp = tempfile::tempdir().unwrap();
    let Kept {
        whole,
        kept,
        lines,
        candidates,
    } = keep(&filter("json"), tmp.path());
    assert!(
        candidates < lines,
        "the filter leaves lines out: {candidates} of {lines}"
    );
    let (whole, kept) = (summary(&whole, &[]), summary(&kept, &[]));
    for key in [
        "counts",
        "paths",
        "statuses",
        "kinds",
        "excluded",
        "countries",
    ] {
        assert_eq!(kept[key], whole[key], "{key}");
    }
    assert!(whole["counts"]["accesses"].as_u64().unwrap() > 0);
}

#[test]
fn the_filter_names_the_scope_only_and_needs_a_verified_requester() {
    let re = filter("nginx");
    let text = re.as_str();
    // Namespaces and ids of the scope, and the spellings around them; no person.
    for person in ["alice", "bob", "@", "example"] {
        assert!(!text.contains(person), "{text}");
    }
    assert!(text.contains("acme"), "{text}");
    let out = logbrief()
        .args([
            "pushdown",
            "--requester",
            "nobody@acme.example",
            "--directory",
            "fixtures/directory.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

/// The manifest an engine writes: per source, its lines and the first and last time
/// of its requests (from `inspect`, which reads every line).
fn manifest_of(files: &[PathBuf], filter: &str) -> String {
    let out = logbrief()
        .args(["inspect", "--format", "json"])
        .args(files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sources: Vec<Value> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": r["name"],
                "lines": r["lines"],
                "first": r["first_request"],
                "last": r["last_request"],
            })
        })
        .collect();
    serde_json::json!({"sources": sources, "engine": "test", "filter": filter}).to_string()
}

#[test]
fn candidates_and_a_manifest_give_the_reply_of_the_whole_logs() {
    let re = filter("json");
    let tmp = tempfile::tempdir().unwrap();
    let Kept { whole, kept, .. } = keep(&re, tmp.path());
    let manifest = tmp.path().join("manifest.json");
    std::fs::write(&manifest, manifest_of(&whole, re.as_str())).unwrap();
    let note = tmp.path().join("note.md");
    let with_manifest = [
        "--manifest".to_owned(),
        manifest.display().to_string(),
        "--internal-note".to_owned(),
        note.display().to_string(),
    ];
    for format in ["markdown", "text"] {
        let from_whole = run(&["--format", format], &whole, &[]);
        let from_kept = run(&["--format", format], &kept, &with_manifest);
        assert!(from_kept.status.success(), "{}", stderr(&from_kept));
        assert_eq!(stdout(&from_kept), stdout(&from_whole), "{format}");
    }
    let from_whole = summary(&whole, &[]);
    let from_kept = summary(&kept, &with_manifest);
    super::support::assert_reconciled(&from_kept);
    let bucket = |v: &Value, k: &str| v["reconciliation"][k].as_u64().unwrap();
    for k in ["lines", "out_of_window", "excluded", "counted"] {
        assert_eq!(bucket(&from_kept, k), bucket(&from_whole, k), "{k}");
    }
    assert_eq!(from_kept["logs_cover"], from_whole["logs_cover"]);
    let inputs = from_kept["inputs"].as_array().unwrap();
    assert_eq!(inputs.last().unwrap()["format"], "engine-manifest");
    let note = std::fs::read_to_string(&note).unwrap();
    assert!(
        note.contains("the inputs are the lines `test` kept"),
        "{note}"
    );
    assert!(
        note.contains(&format!("counts {} lines", bucket(&from_whole, "lines"))),
        "{note}"
    );

    // The IP-block story needs the requester's requests to other paths, which the
    // filter leaves out; audit events are no engine's candidates.
    for story in [
        &["--template", "ip-block", "--client-ip", "203.0.113.0/24"][..],
        &["--template", "audit"],
    ] {
        let out = run(story, &kept, &with_manifest);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("--manifest cannot be used"),
            "{}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty());
    }

    // A manifest of other logs is refused, whatever the format: one with fewer lines
    // than the candidates, and one whose period does not hold the lines read (the
    // reply would claim that period).
    for (text, says) in [
        (
            r#"{"sources":[{"name":"x","lines":3,"first":"2026-03-14T18:00:00Z","last":"2026-03-14T19:00:00Z"}]}"#,
            "fewer than the",
        ),
        (
            r#"{"sources":[{"name":"x","lines":100000,"first":"2026-03-15T00:00:00Z","last":"2026-03-15T01:00:00Z"}]}"#,
            "outside its sources",
        ),
    ] {
        std::fs::write(&manifest, text).unwrap();
        for format in ["json", "markdown"] {
            let out = run(&["--format", format], &kept, &with_manifest);
            assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
            assert!(stderr(&out).contains(says), "{}", stderr(&out));
            assert!(out.stdout.is_empty());
        }
    }
}

/// The lines `logbrief filter` copies from its standard input.
fn filtered(requester: &[&str], input: String) -> std::process::Output {
    logbrief()
        .arg("filter")
        .args(requester)
        .write_stdin(input)
        .output()
        .unwrap()
}

#[test]
fn logbrief_filter_keeps_fewer_lines_than_the_expression_and_the_same_reply() {
    let re = filter("json");
    let tmp = tempfile::tempdir().unwrap();
    let Kept { whole, .. } = keep(&re, tmp.path());
    let (mut kept, mut all, mut by_regex) = (Vec::new(), 0, 0);
    for path in &whole {
        let lines = lines_of(path);
        all += lines.len();
        by_regex += lines.iter().filter(|l| re.is_match(l)).count();
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let out = filtered(&ALICE_ABOUT_ACME[1..], text);
        assert!(out.status.success(), "{}", stderr(&out));
        let lines_out = stdout(&out);
        // Whole lines of the input, each kept by the expression too.
        for line in lines_out.lines() {
            assert!(re.is_match(line), "{line}");
        }
        let file = tmp
            .path()
            .join(path.file_name().unwrap())
            .with_extension("filtered");
        std::fs::write(&file, lines_out).unwrap();
        kept.push(file);
    }
    let count: usize = kept.iter().map(|f| lines_of(f).len()).sum();
    assert!(
        0 < count && count < by_regex && by_regex < all,
        "{count} {by_regex} {all}"
    );
    let manifest = tmp.path().join("manifest.json");
    std::fs::write(&manifest, manifest_of(&whole, "logbrief filter")).unwrap();
    let with_manifest = ["--manifest".to_owned(), manifest.display().to_string()];
    assert_eq!(
        stdout(&run(&[], &kept, &with_manifest)),
        stdout(&run(&[], &whole, &[]))
    );

    // A line without its end at the end of the input is still judged; an unverified
    // requester gets exit 3 and nothing.
    let line = r#"{"time":"2026-03-15T10:00:00Z","path":"/acme/docs","status":200}"#;
    let out = filtered(&ALICE_ABOUT_ACME[1..], line.to_owned());
    assert_eq!(stdout(&out), format!("{line}\n"));
    let out = filtered(
        &[
            "--requester",
            "nobody@acme.example",
            "--directory",
            "fixtures/directory.json",
        ],
        line.to_owned(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

#[test]
fn every_engine_gets_the_expression_in_its_own_quoting_and_no_person() {
    let re = filter("json");
    let expression = re.as_str();
    let tmp = tempfile::tempdir().unwrap();
    let job = tmp.path().join("job.py");
    for (engine, quoted) in [
        ("duckdb", format!("regexp_matches(line, '{expression}')")),
        (
            "bigquery",
            format!("REGEXP_CONTAINS(line, r'{expression}')"),
        ),
        (
            "clickhouse",
            format!("match(line, '{}')", expression.replace('\\', "\\\\")),
        ),
        ("spark", format!("--regex '{expression}'")),
    ] {
        let out = logbrief()
            .arg("pushdown")
            .args(&ALICE_ABOUT_ACME[1..])
            .args(["--engine", engine, "--since", "2026-03-15", "--write-job"])
            .arg(&job)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains(&quoted), "{engine}: {text}");
        // The window, a day wider on the left.
        assert!(text.contains("2026-03-14"), "{engine}: {text}");
        // Only Spark's pipe names the requester, in the command the engineer runs.
        for person in ["bob", "carol", "@example"] {
            assert!(!text.contains(person), "{engine}: {text}");
        }
    }
    // Elasticsearch gets query DSL for the console, on the text fields, with the window.
    let out = logbrief()
        .arg("pushdown")
        .args(&ALICE_ABOUT_ACME[1..])
        .args(["--engine", "elasticsearch", "--since", "2026-03-15"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("GET pubsub-rails-inf-gprd-*,pubsub-workhorse-inf-gprd-*/_search"));
    assert!(text.contains(r#""gte": "2026-03-14T00:00:00Z""#), "{text}");
    assert!(text.contains(r#""json.meta.project""#), "{text}");
    for person in ["alice", "bob", "carol", "example"] {
        assert!(!text.contains(person), "{text}");
    }

    // The job is the project's own, written out whole.
    let written = std::fs::read_to_string(&job).unwrap();
    assert!(written.starts_with("\"\"\"logbrief's candidate job for Spark."));
    assert!(written.contains("def main():"));
}

/// A line longer than logbrief keeps in memory (64 MiB) cannot be judged: `filter`
/// passes it through whole, so that `summarize` counts it as it would in the file.
#[test]
fn logbrief_filter_passes_a_line_too_long_to_judge_through_whole() {
    let long = "x".repeat((64 << 20) + 10);
    let line = r#"{"time":"2026-03-15T10:00:00Z","path":"/acme/docs","status":200}"#;
    let other = r#"{"time":"2026-03-15T10:00:00Z","path":"/other/repo","status":200}"#;
    let exactly = "x".repeat(64 << 20);
    for input in [
        format!("{long}\n{other}\n{line}\n"),
        format!("{other}\n{long}"),
        format!("{line}\n{exactly}\n{other}"),
    ] {
        let out = filtered(&ALICE_ABOUT_ACME[1..], input.clone());
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        let kept: Vec<&str> = text.lines().collect();
        let want: Vec<&str> = input.lines().filter(|l| *l != other).collect();
        assert!(kept == want, "{} lines kept of {}", kept.len(), want.len());
        assert!(text.ends_with('\n'));
    }
}
