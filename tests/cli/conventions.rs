//! The command line's conventions: completions and a manual page, grouped help with
//! examples, `--quiet`, and `--namespace` given as a browser address; and the code's
//! own: the layers of docs/ARCHITECTURE.md, which no import climbs.

use std::collections::BTreeSet;
use std::path::Path;

use super::support::{Summarize, logbrief, root, stderr, stdout};

const SUBCOMMANDS: &[&str] = &["summarize", "verify", "init", "inspect", "fetch"];

#[test]
fn completions_parse_and_list_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = logbrief().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    // The bash script is read by bash without a syntax error.
    let out = logbrief().args(["completions", "bash"]).output().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("logbrief.bash");
    std::fs::write(&file, &out.stdout).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
}

#[test]
fn the_manual_page_is_roff_and_lists_every_subcommand() {
    let out = logbrief().arg("man").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(
        page.starts_with(".ie") || page.contains(".TH logbrief"),
        "{page}"
    );
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!("logbrief\\-{sub}")),
            "the page lacks {sub}"
        );
    }
}

/// One page per subcommand, with every option the subcommand's help lists.
#[test]
fn each_subcommand_has_a_manual_page_with_all_its_options() {
    for path in [
        &["summarize"][..],
        &["verify"],
        &["fetch", "logs"],
        &["pushdown"],
    ] {
        let out = logbrief().arg("man").args(path).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let page = stdout(&out);
        let name = format!("logbrief-{}", path.join("-"));
        assert!(page.contains(&format!(".TH {name} 1")), "{page}");
        let help = stdout(&logbrief().args(path).arg("--help").output().unwrap());
        for flag in help
            .split_whitespace()
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(|w| w.trim_end_matches([',', '.', ')', ';']))
            .filter(|w| {
                w.chars()
                    .skip(2)
                    .all(|c| c.is_ascii_lowercase() || c == '-')
            })
        {
            let roff = flag.replace('-', "\\-");
            assert!(page.contains(&roff), "{name} lacks {flag}");
        }
    }
    let out = logbrief().args(["man", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("has no subcommand nope"));
}

#[test]
fn summarize_help_is_grouped_with_an_example_per_story() {
    let out = logbrief().args(["summarize", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = stdout(&out);
    for heading in [
        "Requester and scope:",
        "Exclusions (the known list):",
        "Time:",
        "Output:",
        "Reading and performance:",
        "Examples:",
    ] {
        assert!(help.contains(heading), "help lacks {heading}");
    }
    for story in [
        "--template ip-block",
        "--template high-load",
        "--template audit",
    ] {
        assert!(help.contains(story), "help lacks an example of {story}");
    }
}

#[test]
fn quiet_keeps_warnings_off_standard_error_but_not_errors() {
    let loud = Summarize::quick_start().run();
    assert!(stderr(&loud).contains("warning:"), "{}", stderr(&loud));
    let quiet = Summarize::quick_start().arg("--quiet").run();
    assert!(quiet.status.success());
    assert_eq!(stderr(&quiet), "");
    assert_eq!(quiet.stdout, loud.stdout);
    // A refusal is no warning: it is said however quiet the run.
    let refused = Summarize::quick_start()
        .args(["-q", "--namespace", "globex"])
        .run();
    assert_eq!(refused.status.code(), Some(3));
    assert!(stderr(&refused).contains("globex"), "{}", stderr(&refused));
}

#[test]
fn a_namespace_can_be_given_as_its_browser_address() {
    let by_path = Summarize::new()
        .namespaces(&["acme/platform/api"])
        .files(["fixtures/logs/production_json.log"])
        .format("json")
        .run();
    let by_url = Summarize::new()
        .namespaces(&["https://gitlab.example.com/acme/platform/api/-/issues"])
        .files(["fixtures/logs/production_json.log"])
        .format("json")
        .run();
    assert!(by_url.status.success(), "{}", stderr(&by_url));
    assert_eq!(by_path.stdout, by_url.stdout);
}

#[test]
fn verify_and_inspect_speak_json_with_format() {
    let out = logbrief()
        .args(["verify", "--requester", "alice@acme.example"])
        .args(["--directory", "fixtures/directory.json", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["scope"], serde_json::json!(["acme"]));
    assert_eq!(v["owner_of"][0]["namespace"], "acme");
    assert_eq!(v["owner_of"][0]["plan"], "premium");

    let inspect = |flag: &[&str]| {
        let out = logbrief()
            .arg("inspect")
            .args(flag)
            .arg("fixtures/logs/workhorse.log")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        out.stdout
    };
    let json = inspect(&["--format", "json"]);
    assert!(serde_json::from_slice::<serde_json::Value>(&json).is_ok());
    assert_eq!(json, inspect(&["--json"]));
}

#[test]
fn fetch_finds_the_instance_in_gitlab_url() {
    let fetch = |env: Option<&str>| {
        let mut cmd = logbrief();
        cmd.args([
            "fetch",
            "directory",
            "--namespace",
            "acme",
            "--retries",
            "0",
        ])
        .args(["-o", "/nonexistent-folder/directory.json"])
        .env("GITLAB_TOKEN", "glpat-test-token-0000");
        if let Some(url) = env {
            cmd.env("GITLAB_URL", url);
        }
        cmd.output().unwrap()
    };
    let missing = fetch(None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("GITLAB_URL"),
        "{}",
        stderr(&missing)
    );
    // Named by the environment, the instance is tried (nothing listens there).
    let named = fetch(Some("http://127.0.0.1:9"));
    assert_eq!(named.status.code(), Some(4), "{}", stderr(&named));
    assert!(!stderr(&named).contains("glpat-"), "{}", stderr(&named));
}

#[test]
fn verbose_explains_the_known_list_and_the_buckets_in_counts() {
    let out = Summarize::quick_start().arg("--verbose").run();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--exclude-domain took out 13 requests (4 signed-in users"),
        "{err}"
    );
    assert!(err.contains("--exclude-ip took out 5 requests"), "{err}");
    assert!(err.contains("logbrief: 192 lines: 4 malformed"), "{err}");
    // Counts only: the reply is unchanged.
    assert_eq!(out.stdout, Summarize::quick_start().run().stdout);
}

/// The top-level modules of `src/`, from the bottom up, in the layers of
/// docs/ARCHITECTURE.md. A module uses only the modules listed before it, so no two
/// import each other, however indirectly. `lib.rs` (the crate root, which dispatches)
/// and `main.rs` stand above them all.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "ground",
        &[
            "error",
            "limits",
            "files",
            "output",
            "vocabulary",
            "progress",
        ],
    ),
    ("inputs", &["digest", "directory", "ingest"]),
    ("meaning", &["scope", "exclude", "geo", "manifest", "guard"]),
    ("engines' languages", &["elastic"]),
    ("command line", &["cli", "fetch", "zendesk", "config"]),
    (
        "counting and writing",
        &["aggregate", "inspect", "render", "manual", "chart"],
    ),
    ("commands", &["pushdown", "summarize"]),
    ("the other commands' arguments", &["commands"]),
];

/// The top-level modules that `text` (Rust source) names as `crate::NAME`, in `use`
/// lines, groups (`use crate::{a, b::c}`) and paths, outside comments.
fn crate_modules(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| l.to_owned() + "\n")
        .collect();
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
            continue;
        };
        // The first name of each entry of the group, at its own depth.
        let (mut depth, mut entry_start) = (0, true);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => entry_start = true,
                c if entry_start && (c.is_alphanumeric() || c == '_') => {
                    let name: String = group[i..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    found.insert(name);
                    entry_start = false;
                }
                _ => {}
            }
        }
    }
    found.remove("self");
    found
}

/// The Rust files of a top-level module: `src/NAME.rs`, or every file under `src/NAME/`.
fn module_files(path: &Path) -> Vec<std::path::PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files.extend(module_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            files.push(p);
        }
    }
    files
}

#[test]
fn no_module_imports_one_of_a_layer_above_it() {
    let order: Vec<&str> = LAYERS.iter().flat_map(|(_, m)| m.iter().copied()).collect();
    let src = root().join("src");
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() || path.extension().is_some_and(|e| e == "rs") {
            modules.insert((name, path));
        }
    }
    let mut faults = Vec::new();
    for (name, path) in &modules {
        if name == "lib" || name == "main" {
            continue;
        }
        let Some(place) = order.iter().position(|m| m == name) else {
            faults.push(format!(
                "src/{name} is in no layer: add it to LAYERS here and to docs/ARCHITECTURE.md"
            ));
            continue;
        };
        for file in module_files(path) {
            let text = std::fs::read_to_string(&file).unwrap();
            for used in crate_modules(&text) {
                if used == *name {
                    continue;
                }
                match order.iter().position(|m| *m == used) {
                    Some(at) if at < place => {}
                    _ => faults.push(format!(
                        "{} uses crate::{used}, which does not stand below {name}",
                        file.strip_prefix(root()).unwrap().display()
                    )),
                }
            }
        }
    }
    // Every layer names a module that exists.
    for m in &order {
        if !modules.iter().any(|(name, _)| name == m) {
            faults.push(format!("LAYERS names {m}, which src/ does not hold"));
        }
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}

#[test]
fn the_import_reader_sees_groups_and_paths_but_not_comments() {
    let text = "use crate::error::{Error, Result};\n\
                use crate::{\n    directory::{self, Directory},\n    ingest::Request,\n};\n\
                // crate::summarize is only named here\n\
                let x = crate::files::write(p, b, crate::files::SHARED);\n";
    let want: BTreeSet<String> = ["error", "directory", "ingest", "files"]
        .map(String::from)
        .into();
    assert_eq!(crate_modules(text), want);
}
