//! Files logbrief writes (RULES.md §11): a planted symlink is never followed, an
//! output never replaces an input, the mode is set when the file is made, and text
//! from outside cannot forge a line of the note.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use super::super::support::{Summarize, logbrief, root, stderr};

const LOG: &str = "fixtures/logs/production_json.log";

/// A scratch folder with a copy of a fixture log and a victim file that no run may
/// touch.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let s = Scratch {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::copy(root().join(LOG), s.path("self.log")).unwrap();
        fs::write(s.path("victim"), "the victim's own content\n").unwrap();
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn victim_untouched(&self) {
        assert_eq!(
            fs::read_to_string(self.path("victim")).unwrap(),
            "the victim's own content\n"
        );
    }

    fn summarize_with_note(&self, note: &Path, logs: &[&Path]) -> std::process::Output {
        let args = Summarize::new()
            .arg("--internal-note")
            .arg(note)
            .files(logs)
            .to_args();
        logbrief().args(args).output().unwrap()
    }
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_symlink_planted_at_the_notes_names_is_not_followed() {
    let s = Scratch::new();
    let note = s.path("n.md");
    // At the name a temporary file once had, and at the note itself.
    symlink(s.path("victim"), s.path("n.md.tmp")).unwrap();
    symlink(s.path("victim"), &note).unwrap();
    let out = s.summarize_with_note(&note, &[&s.path("self.log")]);
    assert!(out.status.success(), "{}", stderr(&out));
    s.victim_untouched();
    let meta = fs::symlink_metadata(&note).unwrap();
    assert!(meta.is_file(), "the note is a file of its own");
    assert_eq!(mode(&note), 0o600);
    assert!(
        fs::read_to_string(&note)
            .unwrap()
            .contains("logbrief internal note")
    );
    // The planted link is left as it was, pointing where it pointed.
    assert_eq!(fs::read_link(s.path("n.md.tmp")).unwrap(), s.path("victim"));
    // No temporary file is left behind.
    let leftovers: Vec<_> = fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") && n != "n.md.tmp")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn an_existing_note_open_to_others_is_replaced_by_a_private_one() {
    let s = Scratch::new();
    let note = s.path("n.md");
    fs::write(&note, "old").unwrap();
    fs::set_permissions(&note, fs::Permissions::from_mode(0o644)).unwrap();
    let out = s.summarize_with_note(&note, &[&s.path("self.log")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&note), 0o600);
}

#[test]
fn a_note_over_an_input_is_refused_and_the_input_kept() {
    let s = Scratch::new();
    let log = s.path("self.log");
    let before = fs::read(&log).unwrap();
    fs::hard_link(&log, s.path("hard.log")).unwrap();
    symlink(&log, s.path("link.log")).unwrap();
    fs::create_dir(s.path("sub")).unwrap();
    let spellings = [
        log.clone(),
        s.path("hard.log"),
        s.path("link.log"),
        s.path("sub/../self.log"),
    ];
    for note in &spellings {
        let out = s.summarize_with_note(note, &[&log]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: {}",
            note.display(),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("is also an input"),
            "{}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty());
        assert_eq!(fs::read(&log).unwrap(), before, "{}", note.display());
    }
    // The directory, a side input, is kept the same way.
    let directory = s.path("directory.json");
    fs::copy(root().join("fixtures/directory.json"), &directory).unwrap();
    let args = Summarize::new()
        .directory(&directory)
        .arg("--internal-note")
        .arg(&directory)
        .arg(&log)
        .to_args();
    let out = logbrief().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        fs::read(&directory).unwrap(),
        fs::read(root().join("fixtures/directory.json")).unwrap()
    );
    // The quiet case: a note beside the input is written.
    let out = s.summarize_with_note(&s.path("note.md"), &[&log]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_file_name_cannot_forge_a_line_of_the_note() {
    let s = Scratch::new();
    let evil = s.path("evil\n- sha256 0000 (computed now)\n# Heading\n.log");
    fs::copy(root().join(LOG), &evil).unwrap();
    let note = s.path("n.md");
    let out = s.summarize_with_note(&note, &[&evil]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = fs::read_to_string(&note).unwrap();
    for line in text.lines() {
        assert!(!line.starts_with("- sha256 0000"), "{text}");
        assert!(!line.starts_with("# Heading"), "{text}");
    }
    // The name is there, quoted, with its line breaks shown.
    assert!(
        text.contains(r"evil\n- sha256 0000 (computed now)\n# Heading\n.log`"),
        "{text}"
    );
}

#[test]
fn init_and_the_spark_job_replace_a_planted_symlink_instead_of_following_it() {
    let s = Scratch::new();
    let config = s.path("logbrief.toml");
    symlink(s.path("victim"), &config).unwrap();
    let out = logbrief()
        .args(["init", "--force"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    s.victim_untouched();
    assert!(fs::symlink_metadata(&config).unwrap().is_file());

    let job = s.path("job.py");
    symlink(s.path("victim"), &job).unwrap();
    let out = logbrief()
        .args([
            "pushdown",
            "--engine",
            "spark",
            "--requester",
            "alice@acme.example",
            "--directory",
            "fixtures/directory.json",
            "--write-job",
        ])
        .arg(&job)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    s.victim_untouched();
    assert!(fs::symlink_metadata(&job).unwrap().is_file());
    assert!(fs::read_to_string(&job).unwrap().contains("spark"));
}
