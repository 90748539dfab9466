//! The digest cache is trusted only when it is the user's own (RULES.md §11): a folder
//! or entry that others can write, or a symlink, is ignored with a warning, so a
//! forged digest never reaches the note nor makes two files look alike.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::super::support::{Summarize, logbrief, root, stderr};

const FORGED: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A copy of a fixture log, old enough to be cached, and a cache holding its entry
/// with a forged digest.
struct Forged {
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl Forged {
    fn new() -> Forged {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("production_json.log");
        fs::copy(root().join("fixtures/logs/production_json.log"), &log).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        let f = Forged { dir, log };
        // A first run fills the cache; the entry's digest is then replaced.
        let out = f.run();
        assert!(out.status.success(), "{}", stderr(&out));
        let entry = f.entry();
        let mut value: Value = serde_json::from_slice(&fs::read(&entry).unwrap()).unwrap();
        value["sha256"] = Value::String(FORGED.into());
        fs::write(&entry, serde_json::to_vec(&value).unwrap()).unwrap();
        f
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn digests(&self) -> PathBuf {
        self.cache().join("logbrief/digests")
    }

    fn entry(&self) -> PathBuf {
        let entries: Vec<_> = fs::read_dir(self.digests())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries[0].clone()
    }

    fn run(&self) -> Output {
        let args = Summarize::new().format("json").arg(&self.log).to_args();
        logbrief()
            .env("XDG_CACHE_HOME", self.cache())
            .args(args)
            .output()
            .unwrap()
    }

    /// The digest the JSON reply gives, and stderr.
    fn digest(&self) -> (String, String) {
        let out = self.run();
        assert!(out.status.success(), "{}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            v["inputs"][0]["sha256"].as_str().unwrap().to_owned(),
            stderr(&out),
        )
    }

    fn true_digest(&self) -> String {
        Sha256::digest(fs::read(&self.log).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_private_cache_is_used_which_is_why_the_checks_matter() {
    // The control: the user's own private entry is believed, forged or not. Only
    // someone who can already write as the user can forge it.
    let f = Forged::new();
    let (digest, err) = f.digest();
    assert_eq!(digest, FORGED);
    assert!(!err.contains("digest cache"), "{err}");
}

#[test]
fn a_cache_folder_others_can_write_is_ignored_with_one_warning() {
    for (folder, mode) in [("logbrief/digests", 0o777), ("logbrief", 0o770)] {
        let f = Forged::new();
        chmod(&f.cache().join(folder), mode);
        let (digest, err) = f.digest();
        assert_eq!(digest, f.true_digest(), "{folder} {mode:o}");
        assert_eq!(err.matches("digest cache").count(), 1, "{err}");
        assert!(err.contains("can be written by others"), "{err}");
        // Nothing is written there: the forged entry stays as it was, unused.
        let entry: Value = serde_json::from_slice(&fs::read(f.entry()).unwrap()).unwrap();
        assert_eq!(entry["sha256"], FORGED);
    }
}

#[test]
fn a_cache_folder_that_is_a_symlink_is_ignored() {
    let f = Forged::new();
    let elsewhere = f.dir.path().join("elsewhere");
    fs::rename(f.digests(), &elsewhere).unwrap();
    symlink(&elsewhere, f.digests()).unwrap();
    let (digest, err) = f.digest();
    assert_eq!(digest, f.true_digest());
    assert!(err.contains("symbolic link"), "{err}");
}

#[test]
fn an_entry_that_is_a_symlink_or_open_to_others_is_not_used() {
    let f = Forged::new();
    let entry = f.entry();
    chmod(&entry, 0o666);
    let (digest, err) = f.digest();
    assert_eq!(digest, f.true_digest());
    assert!(err.contains("others may read or write it"), "{err}");

    let f = Forged::new();
    let entry = f.entry();
    let planted = f.dir.path().join("planted");
    fs::rename(&entry, &planted).unwrap();
    symlink(&planted, &entry).unwrap();
    let (digest, err) = f.digest();
    assert_eq!(digest, f.true_digest());
    assert!(err.contains("symbolic link"), "{err}");
    // The link is not replaced, and its target is not written.
    assert!(
        fs::symlink_metadata(&entry)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let planted: Value = serde_json::from_slice(&fs::read(&planted).unwrap()).unwrap();
    assert_eq!(planted["sha256"], FORGED);
}

#[test]
fn a_cache_of_another_user_is_ignored() {
    // Changing a folder's owner takes root; elsewhere this case cannot be made.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: a folder of another user cannot be made here");
        return;
    }
    let f = Forged::new();
    std::os::unix::fs::chown(f.digests(), Some(65534), Some(65534)).unwrap();
    let (digest, err) = f.digest();
    assert_eq!(digest, f.true_digest());
    assert!(err.contains("belongs to another user"), "{err}");
}
