//! The digest cache (RULES.md §10): a file is hashed once, by `inspect` or `summarize`,
//! and its digest is reused only while the file is unchanged; the reply never depends
//! on where a digest came from.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::support::{Summarize, logbrief, root, stderr};

/// A scratch folder with a copy of a fixture log whose times are old enough to cache
/// (a digest is not cached while the file's times are under a second old).
struct Scratch {
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("production_json.log");
        fs::copy(root().join("fixtures/logs/production_json.log"), &log).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        Scratch { dir, log }
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn entries(&self) -> Vec<PathBuf> {
        match fs::read_dir(self.cache().join("logbrief/digests")) {
            Ok(dir) => dir.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// `summarize` on the copy, with this cache; returns the output and the note.
    fn summarize(&self, extra: &[&str]) -> (Output, String) {
        let note = self.dir.path().join("note.md");
        let args = Summarize::new()
            .format("json")
            .args(["--internal-note", note.to_str().unwrap()])
            .args(extra)
            .arg(&self.log)
            .to_args();
        let out = logbrief()
            .env("XDG_CACHE_HOME", self.cache())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        (out, fs::read_to_string(note).unwrap())
    }
}

fn sha256(path: &Path) -> String {
    Sha256::digest(fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn digest_of(out: &Output) -> String {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["inputs"][0]["sha256"].as_str().unwrap().to_owned()
}

const COMPUTED: &str = "(computed now)";
const CACHED: &str = "(from the digest cache)";

#[test]
fn a_file_is_hashed_once_and_the_reply_does_not_depend_on_the_cache() {
    let s = Scratch::new();
    let (first, note) = s.summarize(&[]);
    assert!(note.contains(COMPUTED), "{note}");
    assert_eq!(digest_of(&first), sha256(&s.log));
    assert_eq!(s.entries().len(), 1);
    for threads in ["1", "2"] {
        let (again, note) = s.summarize(&["--threads", threads]);
        assert!(note.contains(CACHED), "{note}");
        assert_eq!(
            again.stdout, first.stdout,
            "the reply is the same, cached or not"
        );
    }
    let (uncached, note) = s.summarize(&["--no-cache", "--threads", "1"]);
    assert!(note.contains(COMPUTED), "{note}");
    assert_eq!(uncached.stdout, first.stdout);
}

#[cfg(unix)]
#[test]
fn the_cache_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    s.summarize(&[]);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&s.cache().join("logbrief/digests")), 0o700);
    let entries = s.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(mode(&entries[0]), 0o600);
    // The entry's name says nothing of the path.
    let name = entries[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(!name.contains("production"), "{name}");
}

#[test]
fn inspect_fills_the_cache_for_the_summary_that_follows() {
    let s = Scratch::new();
    let out = logbrief()
        .env("XDG_CACHE_HOME", s.cache())
        .args(["inspect", "--format", "json"])
        .arg(&s.log)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["sha256"].as_str().unwrap(), sha256(&s.log));
    let (_, note) = s.summarize(&[]);
    assert!(note.contains(CACHED), "{note}");
}

#[test]
fn a_file_changed_in_place_with_its_old_size_and_mtime_is_hashed_again() {
    let s = Scratch::new();
    let (before, _) = s.summarize(&[]);
    let mtime = fs::metadata(&s.log).unwrap().modified().unwrap();
    // The same length and inode, one request fewer: a line's time moves a year back,
    // out of nothing but the digest.
    let text = fs::read_to_string(&s.log).unwrap();
    let changed = text.replacen("\"time\":\"2026-", "\"time\":\"2025-", 1);
    assert_ne!(changed, text);
    assert_eq!(changed.len(), text.len());
    let f = fs::OpenOptions::new().write(true).open(&s.log).unwrap();
    std::io::Write::write_all(&mut &f, changed.as_bytes()).unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    assert_eq!(fs::metadata(&s.log).unwrap().modified().unwrap(), mtime);
    let (after, note) = s.summarize(&[]);
    assert!(note.contains(COMPUTED), "{note}");
    assert_eq!(digest_of(&after), sha256(&s.log));
    assert_ne!(digest_of(&after), digest_of(&before));
}

#[test]
fn a_damaged_cache_is_ignored_and_rebuilt() {
    let s = Scratch::new();
    let (first, _) = s.summarize(&[]);
    for damage in [
        "",
        "{\"key\":",
        "not json at all",
        "{\"key\":{},\"sha256\":\"0\"}",
    ] {
        for entry in s.entries() {
            fs::write(entry, damage).unwrap();
        }
        let (out, note) = s.summarize(&[]);
        assert!(note.contains(COMPUTED), "{note}");
        assert_eq!(out.stdout, first.stdout);
        let (_, note) = s.summarize(&[]);
        assert!(note.contains(CACHED), "rebuilt: {note}");
    }
}

#[test]
fn standard_input_and_no_cache_leave_the_cache_alone() {
    let s = Scratch::new();
    let out = logbrief()
        .env("XDG_CACHE_HOME", s.cache())
        .args(Summarize::new().format("json").arg("-").to_args())
        .write_stdin(fs::read(&s.log).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(digest_of(&out), sha256(&s.log));
    let (_, note) = s.summarize(&["--no-cache"]);
    assert!(note.contains(COMPUTED), "{note}");
    assert!(!s.cache().exists(), "nothing was written");
}
