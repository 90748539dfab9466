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
fn lines_of(path: &Path) -> Vec<String> {
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

fn summary(files: &[PathBuf]) -> Value {
    let flags = &QUICK_START[..QUICK_START.len() - 3];
    let out = logbrief()
        .args(flags)
        .args(["--format", "json"])
        .args(files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_candidates_an_engine_keeps_give_the_numbers_of_the_whole_files() {
    let re = filter("json");
    let tmp = tempfile::tempdir().unwrap();
    let logs = &QUICK_START[QUICK_START.len() - 3..];
    let (mut whole, mut kept) = (Vec::new(), Vec::new());
    let (mut lines, mut candidates) = (0, 0);
    for log in logs {
        let path = root().join(log);
        let all = lines_of(&path);
        let keep: Vec<&String> = all.iter().filter(|l| re.is_match(l)).collect();
        lines += all.len();
        candidates += keep.len();
        let out = tmp
            .path()
            .join(path.file_name().unwrap())
            .with_extension("candidates");
        let text: String = keep.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&out, text).unwrap();
        whole.push(path);
        kept.push(out);
    }
    assert!(
        candidates < lines,
        "the filter leaves lines out: {candidates} of {lines}"
    );
    let (whole, kept) = (summary(&whole), summary(&kept));
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
