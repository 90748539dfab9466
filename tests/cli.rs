//! Drives the real `logbrief` binary on the bundled fixtures: replies are snapshots,
//! numbers are compared with the counts the fixture generator derived from its own
//! events, and every exit code of SPEC §9 is exercised.

use std::path::Path;
use std::process::Output;

/// `logbrief fetch` against a stub GitLab.
#[path = "cli/fetch.rs"]
mod fetch;

/// The privacy guard against hostile inputs and visitors named like its own words.
#[path = "cli/privacy.rs"]
mod privacy;

/// What the inputs cannot support is refused or said out loud.
#[path = "cli/honesty.rs"]
mod honesty;

/// Inputs as they arrive: time zones, byte-order marks, long lines, damaged gzip.
#[path = "cli/inputs.rs"]
mod inputs;

use assert_cmd::Command;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary, run from the repository root with a clean environment.
fn logbrief() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logbrief"));
    cmd.current_dir(root()).env_clear();
    cmd
}

const QUICK_START: &[&str] = &[
    "summarize",
    "--requester",
    "alice@acme.example",
    "--directory",
    "fixtures/directory.json",
    "--namespace",
    "acme",
    "--exclude-domain",
    "acme.example",
    "--exclude-ip",
    "203.0.113.0/24",
    "fixtures/logs/production_json.log",
    "fixtures/logs/api_json.log.gz",
    "fixtures/logs/workhorse.log",
];

fn run(args: &[&str]) -> Output {
    logbrief().args(args).output().expect("logbrief runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

fn with(base: &[&str], extra: &[&str]) -> Vec<String> {
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn json_of(args: &[String]) -> Value {
    let out = logbrief()
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_reconciled(&v);
    v
}

/// lines = malformed + not_request + duplicate + out_of_scope + out_of_window + excluded + counted
fn assert_reconciled(v: &Value) {
    let r = &v["reconciliation"];
    let n = |k: &str| {
        r[k].as_u64()
            .unwrap_or_else(|| panic!("reconciliation.{k}"))
    };
    let buckets = [
        "malformed",
        "not_request",
        "duplicate",
        "out_of_scope",
        "out_of_window",
        "excluded",
        "counted",
    ];
    assert_eq!(n("lines"), buckets.iter().map(|b| n(b)).sum::<u64>(), "{r}");
    let per_input: u64 = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["lines"].as_u64().unwrap())
        .sum();
    assert_eq!(n("lines"), per_input);
    let audit_events = v["audit"]["events"].as_u64().unwrap_or(0);
    assert_eq!(
        n("counted"),
        v["counts"]["accesses"].as_u64().unwrap() + audit_events
    );
    let excluded: u64 = ["user", "domain", "ip"]
        .iter()
        .map(|rule| v["excluded"][rule]["accesses"].as_u64().unwrap())
        .sum();
    // Excluded audit events are in the reconciliation only.
    if v.get("audit").is_none() {
        assert_eq!(n("excluded"), excluded);
    }
}

/// The detected format of each input, in order.
fn input_formats(v: &Value) -> Vec<&str> {
    v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["format"].as_str().unwrap())
        .collect()
}

/// The keys of `expected.json` that logbrief's JSON must match exactly.
const COMPARED: &[&str] = &[
    "counts",
    "paths",
    "statuses",
    "kinds",
    "distinct_user_agents",
    "reconciliation",
];

fn expected(set: &str) -> (Vec<String>, Value) {
    let path = root().join("fixtures").join(set).join("expected.json");
    let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let args = v["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    (args, v)
}

/// The buckets a full parse may fill where the fast path counts a line out of scope
/// unread (SPEC §6).
const UNREAD_BUCKETS: &[&str] = &["malformed", "not_request", "duplicate"];

/// Runs `args` (a summarize command line) with the prefilter and with `--parse-all`,
/// and checks SPEC §6: the two agree on every number except where lines that name
/// nothing in scope went. The replies in markdown and text are byte-identical; the JSON
/// is byte-identical when no line moved. Returns the full parse's JSON.
fn assert_fast_path_agrees(args: &[String]) -> Value {
    let raw = |extra: &[&str]| {
        let out = logbrief().args(args).args(extra).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        out.stdout
    };
    for format in ["markdown", "text"] {
        assert_eq!(
            stdout_of(raw(&["--format", format])),
            stdout_of(raw(&["--format", format, "--parse-all"])),
            "{format} reply of {args:?}"
        );
    }
    let fast_raw = raw(&["--format", "json"]);
    let full_raw = raw(&["--format", "json", "--parse-all"]);
    let fast: Value = serde_json::from_slice(&fast_raw).unwrap();
    let full: Value = serde_json::from_slice(&full_raw).unwrap();
    assert_reconciled(&fast);
    assert_reconciled(&full);
    if fast["reconciliation"] == full["reconciliation"] {
        assert_eq!(stdout_of(fast_raw), stdout_of(full_raw), "JSON of {args:?}");
        return full;
    }
    // Lines moved: everything but the buckets is still the same.
    let without_buckets = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("reconciliation");
        for input in v["inputs"].as_array_mut().unwrap() {
            let input = input.as_object_mut().unwrap();
            input.remove("malformed");
            input.remove("malformed_lines");
        }
        v
    };
    assert_eq!(without_buckets(&fast), without_buckets(&full), "{args:?}");
    let bucket = |v: &Value, k: &str| v["reconciliation"][k].as_u64().unwrap();
    for k in ["lines", "out_of_window", "excluded", "counted"] {
        assert_eq!(bucket(&fast, k), bucket(&full, k), "{k} of {args:?}");
    }
    let mut moved = 0;
    for k in UNREAD_BUCKETS {
        assert!(bucket(&fast, k) <= bucket(&full, k), "{k} of {args:?}");
        moved += bucket(&full, k) - bucket(&fast, k);
    }
    assert_eq!(
        bucket(&fast, "out_of_scope"),
        bucket(&full, "out_of_scope") + moved,
        "out_of_scope of {args:?}"
    );
    full
}

fn stdout_of(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("stdout is UTF-8")
}

/// A fixture set's command line, as `expected.json` records it.
fn summarize_args(args: &[String]) -> Vec<String> {
    with(
        &["summarize"],
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
}

/// The generator's labels describe every line as a full parse reads it; the fast path
/// must agree with the full parse.
fn assert_matches_labels(set: &str) {
    let (args, want) = expected(set);
    let got = assert_fast_path_agrees(&summarize_args(&args));
    for key in COMPARED {
        assert_eq!(
            got[key], want[key],
            "{set}: {key} differs from the generator's labels"
        );
    }
    assert_excluded_matches(&got, &want, set);
}

/// Per rule, the numbers SPEC §4 names; the time ranges are checked by the snapshots.
fn assert_excluded_matches(got: &Value, want: &Value, label: &str) {
    for rule in ["user", "domain", "ip"] {
        for key in ["accesses", "users", "unique_ips"] {
            assert_eq!(
                got["excluded"][rule][key], want["excluded"][rule][key],
                "{label}: excluded.{rule}.{key}"
            );
        }
    }
}

#[test]
fn quick_start_numbers_match_the_generators_labels() {
    let (args, _) = expected("logs");
    assert_eq!(
        with(
            &["summarize"],
            &args.iter().map(String::as_str).collect::<Vec<_>>()
        ),
        with(QUICK_START, &[])
    );
    assert_matches_labels("logs");
}

#[test]
fn thousands_of_mixed_lines_match_the_generators_labels() {
    assert_matches_labels("mixed");
}

#[test]
fn quick_start_markdown_reply() {
    let out = run(QUICK_START);
    assert!(out.status.success(), "{}", stderr(&out));
    let reply = stdout(&out);
    assert!(!reply.contains("{{") && !reply.contains("{%") && !reply.contains('<'));
    assert_eq!(
        stderr(&out),
        "logbrief: warning: fixtures/logs/production_json.log: 4 malformed lines (first at lines 8, 9, 39, 40; the first: not valid JSON), counted as malformed\n"
    );
    insta::assert_snapshot!("access_markdown", reply);
}

#[test]
fn quick_start_text_reply() {
    let out = logbrief()
        .args(QUICK_START)
        .args(["--format", "text"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("access_text", stdout(&out));
}

#[test]
fn json_reply_has_every_documented_key() {
    let v = json_of(&with(QUICK_START, &[]));
    for key in [
        "accesses",
        "users",
        "anonymous_accesses",
        "unique_ips",
        "first_seen",
        "last_seen",
    ] {
        assert!(v["counts"].get(key).is_some(), "counts.{key}");
    }
    for p in v["paths"].as_array().unwrap() {
        for key in ["path", "accesses", "users", "unique_ips"] {
            assert!(p.get(key).is_some(), "paths[].{key}");
        }
    }
    for rule in ["user", "domain", "ip"] {
        for key in ["accesses", "users", "unique_ips"] {
            assert!(
                v["excluded"][rule].get(key).is_some(),
                "excluded.{rule}.{key}"
            );
        }
    }
    for i in v["inputs"].as_array().unwrap() {
        for key in ["name", "format", "sha256", "lines", "malformed"] {
            assert!(i.get(key).is_some(), "inputs[].{key}");
        }
    }
    assert!(v.get("statuses").is_some() && v.get("kinds").is_some());
    let formats = input_formats(&v);
    assert_eq!(
        formats,
        [
            "gitlab-rails-json",
            "gitlab-rails-json",
            "gitlab-workhorse-json"
        ]
    );
}

#[test]
fn same_inputs_give_byte_identical_replies() {
    for format in ["markdown", "text", "json"] {
        let a = logbrief()
            .args(QUICK_START)
            .args(["--format", format])
            .output()
            .unwrap();
        let b = logbrief()
            .args(QUICK_START)
            .args(["--format", format])
            .output()
            .unwrap();
        assert!(a.status.success());
        assert_eq!(a.stdout, b.stdout, "{format}");
    }
}

#[test]
fn internal_note_records_inputs_filters_and_reconciliation() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let note = dir.path().join("note.md");
    // A note left readable by others from an earlier run is replaced by a private one.
    std::fs::write(&note, "old").unwrap();
    std::fs::set_permissions(&note, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = logbrief()
        .args(QUICK_START)
        .arg("--internal-note")
        .arg(&note)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // It names the requester: readable by its owner only.
    let mode = std::fs::metadata(&note).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&note).unwrap();
    // The generation time is the one thing allowed to change between runs.
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("**logbrief internal note**") {
                "**logbrief internal note** (generated [time])"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("internal_note", text);
}

#[test]
fn standard_input_and_gzip_by_content() {
    let tmp = tempfile::tempdir().unwrap();
    // A gzip file whose name does not say so.
    let renamed = tmp.path().join("api-export");
    std::fs::copy(root().join("fixtures/logs/api_json.log.gz"), &renamed).unwrap();
    let by_file = json_of(&with(QUICK_START, &[]));
    let production = std::fs::read(root().join("fixtures/logs/production_json.log")).unwrap();
    let mut args: Vec<String> = QUICK_START[..QUICK_START.len() - 3]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend([
        "-".to_owned(),
        renamed.display().to_string(),
        "fixtures/logs/workhorse.log".to_owned(),
    ]);
    let out = logbrief()
        .args(&args)
        .args(["--format", "json"])
        .write_stdin(production)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let by_stdin: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in COMPARED {
        assert_eq!(by_stdin[key], by_file[key], "{key}");
    }
    assert_eq!(by_stdin["inputs"][0]["name"], "(standard input)");
    assert_eq!(
        by_stdin["inputs"][1]["sha256"],
        by_file["inputs"][1]["sha256"]
    );
}

fn refusal(args: &[&str]) -> String {
    let out = run(args);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "a refusal printed to stdout");
    stderr(&out)
}

#[test]
fn every_failed_check_is_named_and_nothing_reaches_stdout() {
    let summarize = |email: &'static str, ns: &'static [&'static str]| {
        let mut a = vec![
            "summarize",
            "--requester",
            email,
            "--directory",
            "fixtures/directory.json",
        ];
        for n in ns {
            a.extend(["--namespace", n]);
        }
        a.push("fixtures/logs/production_json.log");
        refusal(&a)
    };
    assert!(
        summarize("nobody@nowhere.example", &[]).contains("no user in the directory has the email")
    );
    assert!(
        summarize("shared@dup.example", &[]).contains("2 users in the directory share the email")
    );
    assert!(summarize("erin@outside.example", &[]).contains("is not an Owner of any namespace"));
    assert!(summarize("frank@hobby.example", &[]).contains("without a paid plan"));
    let out_of_scope = summarize("alice@acme.example", &["acme-corp"]);
    assert!(
        out_of_scope.contains("exists but is outside"),
        "{out_of_scope}"
    );
    let typo = summarize("alice@acme.example", &["acme/platfrom"]);
    assert!(
        typo.contains("is not in the directory (did you mean acme/platform?)"),
        "{typo}"
    );
    // The same checks through `verify`.
    let v = refusal(&[
        "verify",
        "--requester",
        "frank@hobby.example",
        "--directory",
        "fixtures/directory.json",
    ]);
    assert!(v.contains("without a paid plan"));
}

#[test]
fn verify_lists_the_scope() {
    let out = run(&[
        "verify",
        "--requester",
        "ALICE@acme.example",
        "--directory",
        "fixtures/directory.json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("verify_alice", stdout(&out));
    let sub = run(&[
        "verify",
        "--requester",
        "ian@acme.example",
        "--directory",
        "fixtures/directory.json",
    ]);
    assert!(
        stdout(&sub).contains("  acme/platform\n"),
        "{}",
        stdout(&sub)
    );
}

#[test]
fn input_errors_exit_4_naming_the_file_not_the_content() {
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "erin was here from 198.51.100.7\nsecond line\n").unwrap();
    let base = &QUICK_START[..QUICK_START.len() - 3];

    let out = logbrief().args(base).arg(&text).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(
        err.contains("notes.txt") && err.contains("format is not recognised"),
        "{err}"
    );
    assert!(
        !err.contains("erin") && !err.contains("198.51.100.7"),
        "{err}"
    );

    let out = logbrief()
        .args(base)
        .arg("fixtures/logs/missing.log")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("missing.log"));

    // A gzip stream cut short: the file and the line where reading stopped.
    let gz = std::fs::read(root().join("fixtures/logs/api_json.log.gz")).unwrap();
    let cut = tmp.path().join("cut.log.gz");
    std::fs::write(&cut, &gz[..gz.len() * 2 / 3]).unwrap();
    let out = logbrief().args(base).arg(&cut).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(err.contains("cut.log.gz: line "), "{err}");
    assert!(out.stdout.is_empty());

    let bad_dir = tmp.path().join("directory.json");
    std::fs::write(&bad_dir, "{\"namespaces\": [").unwrap();
    let out = logbrief()
        .args(["verify", "--requester", "alice@acme.example", "--directory"])
        .arg(&bad_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("directory file"), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_2() {
    for extra in [
        &["--exclude-ip", "office"][..],
        &["--since", "last week"],
        &["--format", "html"],
    ] {
        let out = logbrief().args(QUICK_START).args(extra).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn the_guard_stops_a_reply_that_would_print_a_username() {
    // A slip of the engineer: a username where a domain belongs. The reply would
    // repeat it, so nothing is printed.
    let mut args = with(QUICK_START, &[]);
    args.extend(["--exclude-domain".into(), "carol".into()]);
    for format in ["markdown", "text", "json"] {
        let out = logbrief()
            .args(&args)
            .args(["--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(5), "{format}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{format}");
        let err = stderr(&out);
        // The refusal never repeats the value (the warnings above it may repeat the
        // engineer's own flags), and says which kind of value hit, where, and how to
        // go on.
        let refusal = err.lines().find(|l| l.contains("privacy guard")).unwrap();
        assert!(!refusal.contains("carol"), "{refusal}");
        assert!(refusal.contains("(username)"), "{refusal}");
        assert!(
            refusal.contains("in the excluded domains (field filters.exclude_domains[])"),
            "{format}: {refusal}"
        );
        assert!(
            refusal.contains("check the --exclude-domain values"),
            "{refusal}"
        );
    }
}

#[test]
fn no_personal_value_of_anyone_else_reaches_a_reply() {
    let dir: Value =
        serde_json::from_slice(&std::fs::read(root().join("fixtures/directory.json")).unwrap())
            .unwrap();
    let mut canaries: Vec<String> = Vec::new();
    for u in dir["users"].as_array().unwrap() {
        if u["username"] == "alice" {
            continue;
        }
        canaries.push(u["username"].as_str().unwrap().to_owned());
        for key in ["email", "name"] {
            if let Some(s) = u[key].as_str() {
                canaries.push(s.to_owned());
            }
        }
    }
    for format in ["markdown", "text", "json"] {
        let out = logbrief()
            .args(QUICK_START)
            .args(["--format", format])
            .output()
            .unwrap();
        let reply = stdout(&out).to_lowercase();
        for c in &canaries {
            let c = c.to_lowercase();
            // Whole words only. `api` is a username and also the name of the
            // requester's own project acme/platform/api, which the reply names.
            let hit = reply
                .split(|ch: char| !(ch.is_alphanumeric() || "@._-".contains(ch)))
                .any(|tok| tok == c);
            assert!(!hit || c == "api", "{format} reply contains {c}");
        }
    }
}

mod properties {
    //! Random logs full of canary values: whatever the mix, every line lands in one
    //! bucket and no canary reaches a reply.

    use super::*;
    use proptest::prelude::*;

    const DIRECTORY: &str = r#"{
      "namespaces": [
        {"id": 60, "full_path": "acme", "plan": "premium"},
        {"id": 61, "full_path": "acme/platform", "parent_id": 60},
        {"id": 70, "full_path": "acme-corp", "plan": "premium"}
      ],
      "projects": [
        {"id": 7, "path_with_namespace": "acme/platform/api"},
        {"id": 20, "path_with_namespace": "acme-corp/app"}
      ],
      "users": [
        {"id": 1, "username": "alice", "email": "alice@acme.example"},
        {"id": 2, "username": "canaryuser2", "name": "Canary Two", "email": "canary2@canary.example"},
        {"id": 3, "username": "canaryuser3", "name": "Canary Three", "email": "canary3@acme.example"}
      ],
      "members": [{"namespace_id": 60, "user_id": 1, "access_level": 50}]
    }"#;

    const PATHS: &[&str] = &[
        "/acme/platform/api/-/issues",
        "/api/v4/projects/7/issues",
        "/acme/platform/api.git/info/refs?service=git-upload-pack",
        "/groups/acme/-/activity",
        "/acme-corp/app",
        "/api/v4/projects/20",
        "/dashboard",
        "/acmex/x",
    ];

    #[derive(Debug, Clone)]
    enum Event {
        Rails {
            path: usize,
            user: Option<u8>,
            ip: u8,
            ua: u8,
            cid: u8,
            second: u8,
        },
        Workhorse {
            path: usize,
            ip: u8,
            ua: u8,
            cid: u8,
            second: u8,
        },
        WorkhorseOther,
        Garbage(u8),
        Blank,
        Truncated,
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            6 => (0..PATHS.len(), proptest::option::of(0u8..6), any::<u8>(), 0u8..5, 0u8..40, 0u8..60)
                .prop_map(|(path, user, ip, ua, cid, second)| Event::Rails { path, user, ip, ua, cid, second }),
            3 => (0..PATHS.len(), any::<u8>(), 0u8..5, 0u8..40, 0u8..60)
                .prop_map(|(path, ip, ua, cid, second)| Event::Workhorse { path, ip, ua, cid, second }),
            1 => Just(Event::WorkhorseOther),
            1 => any::<u8>().prop_map(Event::Garbage),
            1 => Just(Event::Blank),
            1 => Just(Event::Truncated),
        ]
    }

    fn ip(n: u8) -> String {
        if n % 7 == 0 {
            format!("::ffff:198.51.100.{n}")
        } else {
            format!("198.51.100.{n}, 10.0.0.1")
        }
    }

    fn line(e: &Event) -> String {
        match e {
            Event::Rails {
                path,
                user,
                ip: i,
                ua,
                cid,
                second,
            } => {
                let (id, name) = match user {
                    None => ("null".to_owned(), "null".to_owned()),
                    Some(u) => (
                        format!("{}", 2 + u % 2 + if *u > 3 { 10 } else { 0 }),
                        format!("\"canaryuser{}\"", 2 + u % 2 + if *u > 3 { 10 } else { 0 }),
                    ),
                };
                format!(
                    r#"{{"method":"GET","path":"{}","status":200,"time":"2026-03-14T20:06:{second:02}.000Z","remote_ip":"{}","user_id":{id},"username":{name},"ua":"CanaryAgent/{ua}.0","correlation_id":"c{cid}"}}"#,
                    PATHS[*path].split('?').next().unwrap(),
                    ip(*i)
                )
            }
            Event::Workhorse {
                path,
                ip: i,
                ua,
                cid,
                second,
            } => format!(
                r#"{{"correlation_id":"c{cid}","method":"GET","msg":"access","remote_addr":"192.0.2.{i}:0","remote_ip":"192.0.2.{i}","status":200,"time":"2026-03-14T20:06:{second:02}Z","uri":"{}","user_agent":"CanaryAgent/{ua}.0"}}"#,
                PATHS[*path]
            ),
            Event::WorkhorseOther => {
                r#"{"level":"info","msg":"Starting server","time":"2026-03-14T20:00:00Z"}"#
                    .to_owned()
            }
            Event::Garbage(n) => format!("garbage canaryuser2 198.51.100.{n}"),
            Event::Blank => String::new(),
            Event::Truncated => {
                r#"{"method":"GET","path":"/acme/platform/api","time":"2026-03-14T20:0"#.to_owned()
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

        #[test]
        fn reconciled_and_free_of_canaries(
            events in proptest::collection::vec(event(), 0..60),
            audit in proptest::collection::vec((0u8..4, 0u8..6, any::<u8>(), 0u8..30), 0..20),
            exclude_domain in any::<bool>(),
        ) {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("directory.json");
            std::fs::write(&dir, DIRECTORY).unwrap();
            let log = tmp.path().join("mixed.log");
            // A first JSON line makes the file recognisable whatever follows.
            let text: Vec<String> = std::iter::once(line(&Event::WorkhorseOther)).chain(events.iter().map(line)).collect();
            let mut bytes: Vec<u8> = text.iter().flat_map(|l| l.bytes().chain([b'\n'])).collect();
            // Sometimes the last line has no line break, as in a file cut mid-write.
            if events.len() % 2 == 1 && !text.last().unwrap().is_empty() {
                bytes.pop();
            }
            std::fs::write(&log, bytes).unwrap();

            let mut args = vec!["summarize".to_owned(), "--requester".into(), "alice@acme.example".into(), "--directory".into(), dir.display().to_string()];
            if exclude_domain {
                args.extend(["--exclude-domain".into(), "acme.example".into()]);
            }
            args.push(log.display().to_string());

            let json = logbrief().args(&args).args(["--format", "json"]).output().unwrap();
            prop_assert!(json.status.success(), "{}", stderr(&json));
            let v: Value = serde_json::from_slice(&json.stdout).unwrap();
            assert_reconciled(&v);
            prop_assert_eq!(v["reconciliation"]["lines"].as_u64().unwrap(), events.len() as u64 + 1);

            let stories: [&[&str]; 3] = [
                &["--template", "access"],
                &["--template", "high-load", "--geoip", "fixtures/geoip/GeoIP2-Country-Test.mmdb"],
                &["--template", "ip-block", "--client-ip", CLIENTS],
            ];
            // Audit events by canary authors, on owned and foreign entities.
            let events_file = tmp.path().join("audit.ndjson");
            let audit_lines: String = audit
                .iter()
                .map(|(entity, author, ip, id)| {
                    let (kind, entity_id, path) = [("Project", 7, "acme/platform/api"), ("Group", 60, "acme"), ("Project", 20, "acme-corp/app"), ("User", 2, "canaryuser2")][*entity as usize];
                    format!(
                        r#"{{"id":{id},"author_id":{},"author_name":"Canary Author{author}","entity_id":{entity_id},"entity_type":"{kind}","entity_path":"{path}","event_type":"repository_git_operation","ip_address":"198.51.100.{ip}","details":{{"author_email":"author{author}@canary.example","target_type":"User","target_details":"canaryuser{author}"}},"created_at":"2026-03-14T20:06:{:02}Z"}}"#,
                        100 + author,
                        id % 60
                    ) + "\n"
                })
                .collect();
            std::fs::write(&events_file, if audit_lines.is_empty() { "\n".to_owned() } else { audit_lines }).unwrap();
            let mut audit_args = args.clone();
            audit_args.push(events_file.display().to_string());
            for format in ["markdown", "text", "json"] {
                let out = logbrief().args(&audit_args).args(["--template", "audit", "--format", format]).output().unwrap();
                if audit.is_empty() {
                    // No audit events at all: the story is refused, not answered.
                    prop_assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
                    prop_assert!(out.stdout.is_empty());
                    continue;
                }
                prop_assert!(out.status.success(), "{}", stderr(&out));
                let reply = stdout(&out).to_lowercase();
                for canary in ["canary author", "canary.example", "198.51.100.", "canaryuser"] {
                    prop_assert!(!reply.contains(canary), "audit {} reply contains {}", format, canary);
                }
            }

            for story in stories {
                for format in ["markdown", "text", "json"] {
                    let out = logbrief().args(&args).args(story).args(["--format", format]).output().unwrap();
                    prop_assert!(out.status.success(), "{}", stderr(&out));
                    // The requester's own range is theirs to see.
                    let reply = stdout(&out).to_lowercase().replace(CLIENTS, "");
                    for canary in ["canaryuser", "canary two", "canary three", "canary.example", "canaryagent", "198.51.100.", "192.0.2.", "10.0.0.1"] {
                        prop_assert!(!reply.contains(canary), "{:?} {} reply contains {}", story, format, canary);
                    }
                }
            }
        }

        /// Requests to namespaces the requester does not own never change a number
        /// of the summary, wherever they fall in the log.
        #[test]
        fn foreign_requests_change_nothing(
            base in proptest::collection::vec(event(), 1..40),
            foreign in proptest::collection::vec(foreign_event(), 1..30),
            seed in any::<u64>(),
        ) {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("directory.json");
            std::fs::write(&dir, DIRECTORY).unwrap();
            let write = |name: &str, events: &[Event]| {
                let path = tmp.path().join(name);
                let text: String = std::iter::once(line(&Event::WorkhorseOther))
                    .chain(events.iter().map(line))
                    .map(|l| l + "\n")
                    .collect();
                std::fs::write(&path, text).unwrap();
                path
            };
            // Interleave the foreign events with the base ones, in a seeded order.
            let mut mixed = base.clone();
            for (i, e) in foreign.iter().enumerate() {
                let at = ((seed >> (i % 32)) as usize + i * 7) % (mixed.len() + 1);
                mixed.insert(at, e.clone());
            }
            let summary = |log: &std::path::Path| {
                let out = logbrief()
                    .args(["summarize", "--requester", "alice@acme.example", "--directory"])
                    .arg(&dir)
                    .args(["--exclude-domain", "acme.example", "--format", "json"])
                    .arg(log)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", stderr(&out));
                serde_json::from_slice::<Value>(&out.stdout).unwrap()
            };
            let a = summary(&write("base.log", &base));
            let b = summary(&write("mixed.log", &mixed));
            for key in ["counts", "paths", "statuses", "status_classes", "kinds", "distinct_user_agents", "excluded"] {
                prop_assert_eq!(&a[key], &b[key], "{}", key);
            }
        }
    }

    /// The requester's addresses in the ip-block runs.
    const CLIENTS: &str = "198.51.100.0/25";

    /// Events whose paths all belong to other customers or to no namespace. Their
    /// correlation ids are their own: a line sharing one with a request in scope would
    /// be another line of that request, no longer foreign.
    fn foreign_event() -> impl Strategy<Value = Event> {
        event().prop_map(|e| match e {
            Event::Rails {
                path,
                user,
                ip,
                ua,
                cid,
                second,
            } => Event::Rails {
                path: 4 + path % 4,
                user,
                ip,
                ua,
                cid: 100 + cid,
                second,
            },
            Event::Workhorse {
                path,
                ip,
                ua,
                cid,
                second,
            } => Event::Workhorse {
                path: 4 + path % 4,
                ip,
                ua,
                cid: 100 + cid,
                second,
            },
            other => other,
        })
    }
}

/// The handbook's first example: after leaving out the company's users, 2 users viewed
/// the project 4 times, and all 4 requests came from the office addresses.
#[test]
fn every_remaining_request_came_from_the_office() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("production_json.log");
    let line = |t: &str, id: u32, user: &str, ip: &str| {
        format!(
            r#"{{"method":"GET","path":"/acme/platform/api","format":"html","controller":"ProjectsController","action":"show","status":200,"time":"2026-03-14T{t}Z","params":[{{"key":"namespace_id","value":"acme/platform"}},{{"key":"id","value":"api"}}],"remote_ip":"{ip}","user_id":{id},"username":"{user}","ua":"Mozilla/5.0","correlation_id":"c-{t}","meta.project":"acme/platform/api","meta.root_namespace":"acme"}}"#
        )
    };
    let lines = [
        line("20:06:01.000", 4, "carol", "203.0.113.10"),
        line("20:07:30.000", 4, "carol", "203.0.113.10"),
        line("20:09:12.000", 6, "erin", "203.0.113.10"),
        line("20:10:44.000", 6, "erin", "203.0.113.10"),
        line("20:08:00.000", 2, "bob", "198.51.100.7"),
    ];
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let base = &QUICK_START[..QUICK_START.len() - 3];
    let out = logbrief().args(base).arg(&log).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("access_all_from_office", stdout(&out));
    let json = json_of(&with(base, &[log.to_str().unwrap()]));
    assert_eq!(json["counts"]["accesses"], 0);
    let ip = &json["excluded"]["ip"];
    assert_eq!(
        (&ip["accesses"], &ip["users"], &ip["unique_ips"]),
        (&4.into(), &2.into(), &1.into())
    );
    assert_eq!(
        (&ip["first_seen"], &ip["last_seen"]),
        (
            &"2026-03-14T20:06:01.000Z".into(),
            &"2026-03-14T20:10:44.000Z".into()
        )
    );
    assert_eq!(json["excluded"]["domain"]["accesses"], 1);

    // Without the office range, the named accounts and the domain take out everything.
    let out = logbrief()
        .args([
            "summarize",
            "--requester",
            "alice@acme.example",
            "--directory",
            "fixtures/directory.json",
        ])
        .args([
            "--exclude-domain",
            "acme.example",
            "--exclude-user",
            "carol",
            "--exclude-user",
            "erin",
        ])
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("access_all_from_known_accounts", stdout(&out));
}

#[test]
fn a_window_without_requests_says_so() {
    let out = logbrief()
        .args(QUICK_START)
        .args(["--since", "2027-01-01", "--format", "text"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("access_nothing_found", stdout(&out));
    let json = json_of(&with(QUICK_START, &["--since", "2027-01-01"]));
    assert_eq!(json["reconciliation"]["counted"], 0);
    // Everything the quick start counted or excluded now falls outside the window.
    let base = json_of(&with(QUICK_START, &[]));
    let n = |v: &Value, k: &str| v["reconciliation"][k].as_u64().unwrap();
    assert_eq!(
        n(&json, "out_of_window"),
        n(&base, "counted") + n(&base, "excluded")
    );
}

#[test]
fn ranges_from_a_file_equal_ranges_on_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("office.txt");
    std::fs::write(&file, "# office ranges\n\n203.0.113.0/24   # main office\n").unwrap();
    let base = &QUICK_START[..QUICK_START.len() - 3];
    let logs = &QUICK_START[QUICK_START.len() - 3..];
    let without_flag: Vec<&str> = base
        .iter()
        .copied()
        .filter(|a| *a != "--exclude-ip" && *a != "203.0.113.0/24")
        .collect();
    let mut from_file = with(
        &without_flag,
        &["--exclude-ip-file", file.to_str().unwrap()],
    );
    from_file.extend(logs.iter().map(|s| s.to_string()));
    let a = json_of(&from_file);
    let b = json_of(&with(QUICK_START, &[]));
    assert_eq!(a["excluded"], b["excluded"]);
    assert_eq!(a["counts"], b["counts"]);

    std::fs::write(&file, "203.0.113.0/24\nthe office\n").unwrap();
    let out = logbrief().args(&from_file).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("office.txt: line 2"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_format_hint_overrides_detection() {
    let base = &QUICK_START[..QUICK_START.len() - 3];
    let detected = json_of(&with(base, &["fixtures/logs/workhorse.log"]));
    let hinted = json_of(&with(
        base,
        &["--format-hint", "workhorse", "fixtures/logs/workhorse.log"],
    ));
    assert_eq!(detected["reconciliation"], hinted["reconciliation"]);
    // A wrong hint makes every line unreadable as a request: no reply claims "no
    // requests"; the refusal says what the lines look like.
    for (hint, file, looks_like) in [
        (
            "rails",
            "fixtures/logs/workhorse.log",
            "gitlab-workhorse-json",
        ),
        (
            "workhorse",
            "fixtures/logs/production_json.log",
            "gitlab-rails-json",
        ),
    ] {
        for parse_all in [false, true] {
            let mut args = with(base, &["--format-hint", hint, file]);
            if parse_all {
                args.push("--parse-all".into());
            }
            let out = logbrief().args(&args).output().unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(4), "{hint}: {err}");
            assert!(out.stdout.is_empty());
            assert!(
                err.contains(&format!("they look like {looks_like}")),
                "{err}"
            );
        }
    }
}

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
    insta::assert_snapshot!("inspect_quick_start", text);
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
    let summary = json_of(&with(QUICK_START, &[]));
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

/// The same requests written as GitLab JSON logs, an NGINX access log and two Kibana
/// exports (one made in a browser at UTC+01:00) give the same summary.
#[test]
fn every_format_gives_the_same_numbers() {
    let path = root().join("fixtures/formats/expected.json");
    let want: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let variants = want["variants"].as_object().unwrap();
    assert_eq!(variants.len(), 4);
    for (name, variant) in variants {
        let args: Vec<String> = std::iter::once("summarize".to_owned())
            .chain(
                variant["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_owned()),
            )
            .collect();
        let got = assert_fast_path_agrees(&args);
        assert_eq!(
            got["reconciliation"], variant["reconciliation"],
            "{name}: reconciliation"
        );
        for key in [
            "counts",
            "paths",
            "statuses",
            "kinds",
            "distinct_user_agents",
        ] {
            assert_eq!(got[key], want[key], "{name}: {key}");
        }
        assert_excluded_matches(&got, &want, name);
    }
}

#[test]
fn quoted_globs_are_expanded_in_name_order() {
    let base = &QUICK_START[..QUICK_START.len() - 3];
    let by_glob = json_of(&with(base, &["fixtures/logs/*.log*"]));
    let names: Vec<&str> = by_glob["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "fixtures/logs/api_json.log.gz",
            "fixtures/logs/production_json.log",
            "fixtures/logs/workhorse.log"
        ]
    );
    let by_name = json_of(&with(QUICK_START, &[]));
    assert_eq!(by_glob["counts"], by_name["counts"]);
    let out = logbrief()
        .args(base)
        .arg("fixtures/logs/*.nothing")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("no file matches"), "{}", stderr(&out));
}

/// Audit events in the API's pages, a stream with resent events, and two generations
/// of the UI's CSV export give the numbers the generator labelled.
#[test]
fn audit_events_in_every_shape_match_the_generators_labels() {
    let (args, want) = expected("audit");
    let args = summarize_args(&args);
    let got = assert_fast_path_agrees(&args);
    assert_eq!(got["audit"], want["audit"]);
    assert_eq!(got["reconciliation"], want["reconciliation"]);
    let formats = input_formats(&got);
    assert_eq!(
        formats,
        [
            "audit-events-json",
            "audit-events-ndjson",
            "audit-events-csv",
            "audit-events-csv"
        ]
    );

    let out = logbrief().args(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("audit_markdown", stdout(&out));
    let out = logbrief()
        .args(&args)
        .args(["--format", "text"])
        .output()
        .unwrap();
    insta::assert_snapshot!("audit_text", stdout(&out));

    // No author, email or address of the events reaches any reply.
    let events = std::fs::read_to_string(root().join("fixtures/audit/streaming.ndjson")).unwrap();
    for format in ["markdown", "text", "json"] {
        let reply = stdout(
            &logbrief()
                .args(&args)
                .args(["--format", format])
                .output()
                .unwrap(),
        );
        for line in events
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        {
            for key in ["author_name", "ip_address"] {
                if let Some(v) = line[key].as_str() {
                    assert!(
                        !reply.contains(v),
                        "{format} reply contains an event's {key}"
                    );
                }
            }
        }
    }
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

#[test]
fn several_formats_in_one_run() {
    let files = [
        "fixtures/logs/production_json.log",
        "fixtures/formats/nginx/gitlab_access.log",
        "fixtures/formats/kibana/export.csv",
        "fixtures/audit/streaming.ndjson",
        "fixtures/mixed/workhorse.log.gz",
    ];
    let base = &QUICK_START[..QUICK_START.len() - 3];
    let all = json_of(&with(base, &files));
    let formats = input_formats(&all);
    assert_eq!(
        formats,
        [
            "gitlab-rails-json",
            "nginx-combined",
            "kibana-csv",
            "audit-events-ndjson",
            "gitlab-workhorse-json"
        ]
    );
    // Each file's lines are accounted for in the one reconciliation.
    let one_by_one: u64 = files
        .iter()
        .map(|f| {
            // Alone, the audit events need the story that counts them.
            let story: &[&str] = if f.contains("audit") {
                &["--template", "audit", f]
            } else {
                &[f]
            };
            json_of(&with(base, story))["reconciliation"]["lines"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(all["reconciliation"]["lines"].as_u64().unwrap(), one_by_one);
}

const IP_BLOCK: &[&str] = &[
    "summarize",
    "--template",
    "ip-block",
    "--client-ip",
    "192.0.2.0/24",
    "--requester",
    "alice@acme.example",
    "--directory",
    "fixtures/directory.json",
    "fixtures/formats/json/production_json.log",
    "fixtures/formats/json/api_json.log",
    "fixtures/formats/json/workhorse.log",
];

/// The handbook's second example: what the requester's addresses ran into, by owned
/// path; other customers' paths are summed and never named.
#[test]
fn ip_block_names_only_owned_paths() {
    for (format, name) in [("markdown", "ip_block_markdown"), ("text", "ip_block_text")] {
        let out = logbrief()
            .args(IP_BLOCK)
            .args(["--format", format])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let reply = stdout(&out);
        insta::assert_snapshot!(name, reply);
        for foreign in [
            "acme-corp",
            "acmex",
            "globex",
            "hobby",
            "dashboard",
            "/api/",
            "users/",
        ] {
            assert!(!reply.contains(foreign), "{format} reply names {foreign}");
        }
    }
    let v = json_of(&with(IP_BLOCK, &[]));
    let b = &v["ip_block"];
    // Every request from the addresses is either on a named own path or in the sum.
    let on_paths: u64 = b["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["accesses"].as_u64().unwrap())
        .sum();
    assert_eq!(
        on_paths + b["elsewhere"]["accesses"].as_u64().unwrap(),
        b["accesses"].as_u64().unwrap()
    );
    assert!(b["git_challenges"].as_u64().unwrap() > 0);
    assert!(b["elsewhere"]["unauthorized_401"].as_u64().unwrap() > 0);

    // The prefilter also finds the requester's addresses, so requests to other
    // customers' paths are still summed; a range it cannot search as text (IPv6)
    // means every line is read. Either way the reply is the one a full parse gives.
    let args: Vec<String> = IP_BLOCK.iter().map(|s| s.to_string()).collect();
    assert_eq!(assert_fast_path_agrees(&args)["ip_block"], *b);
    let mut with_v6 = args.clone();
    with_v6.extend(["--client-ip".into(), "2001:db8::/32".into()]);
    assert_fast_path_agrees(&with_v6);

    let out = logbrief()
        .args(&IP_BLOCK[..3])
        .args(&IP_BLOCK[5..])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "ip-block without --client-ip");
}

#[test]
fn high_load_reply_with_countries() {
    let args = [
        "summarize",
        "--template",
        "high-load",
        "--requester",
        "alice@acme.example",
        "--directory",
        "fixtures/directory.json",
        "--geoip",
        "fixtures/geoip/GeoIP2-Country-Test.mmdb",
        "fixtures/geo/production_json.log",
    ];
    for (format, name) in [
        ("markdown", "high_load_markdown"),
        ("text", "high_load_text"),
    ] {
        let out = logbrief()
            .args(args)
            .args(["--format", format])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        insta::assert_snapshot!(name, stdout(&out));
    }
    let v = json_of(&with(&args, &[]));
    let by_country: u64 = v["countries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["accesses"].as_u64().unwrap())
        .sum();
    assert_eq!(by_country, v["counts"]["accesses"].as_u64().unwrap());
    assert_eq!(v["geoip"]["database_type"], "GeoIP2-Country");
}

/// Countries, user agents and the busiest minute of a labelled set whose addresses
/// come from the ranges of MaxMind's test database.
#[test]
fn country_counts_match_the_test_database_ranges() {
    let (args, want) = expected("geo");
    let got = assert_fast_path_agrees(&summarize_args(&args));
    for key in [
        "counts",
        "paths",
        "statuses",
        "kinds",
        "distinct_user_agents",
        "countries",
        "busiest_minute",
        "reconciliation",
    ] {
        assert_eq!(got[key], want[key], "geo: {key}");
    }
}

/// `logbrief init` writes the example; a team file stands in for the flags it names,
/// and a flag replaces the file's list.
#[test]
fn team_configuration_and_init() {
    let tmp = tempfile::tempdir().unwrap();
    let out = logbrief()
        .arg("init")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let example = std::fs::read_to_string(tmp.path().join("logbrief.toml")).unwrap();
    assert!(example.contains("office_ranges") && example.contains("kibana_url"));
    let again = logbrief()
        .arg("init")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "init must not overwrite");

    let team = tmp.path().join("team.toml");
    std::fs::write(
        &team,
        "office_ranges = [\"203.0.113.0/24\"]\ncompany_domains = [\"acme.example\"]\nformat = \"json\"\nkibana_url = \"https://kibana.example\"\n",
    )
    .unwrap();
    let logs = &QUICK_START[QUICK_START.len() - 3..];
    let mut args = vec![
        "summarize",
        "--requester",
        "alice@acme.example",
        "--directory",
        "fixtures/directory.json",
        "--namespace",
        "acme",
    ];
    args.extend(logs);
    let note = tmp.path().join("note.md");
    let out = logbrief()
        .args(&args)
        .arg("--config")
        .arg(&team)
        .arg("--internal-note")
        .arg(&note)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let from_file: Value =
        serde_json::from_slice(&out.stdout).expect("format = json from the file");
    let from_flags = json_of(&with(QUICK_START, &[]));
    assert_eq!(from_file["excluded"], from_flags["excluded"]);
    assert_eq!(from_file["counts"], from_flags["counts"]);
    let note = std::fs::read_to_string(note).unwrap();
    assert!(
        note.contains("https://kibana.example/app/discover#/?_g=(time:(from:'2026-03-14T20:06:12.345Z',to:'2026-03-16T17:45:10.250Z'))"),
        "{note}"
    );

    // A flag replaces the file's ranges; --format on the command line wins.
    let out = logbrief()
        .args(&args)
        .arg("--config")
        .arg(&team)
        .args(["--exclude-ip", "192.0.2.1", "--format", "text"])
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("from your addresses 192.0.2.1/32."),
        "{}",
        stdout(&out)
    );

    // A broken file: its name and line, never its content.
    std::fs::write(
        &team,
        "office_ranges = [\"203.0.113.0/24\"]\nsecret_name = \"carol\"\n",
    )
    .unwrap();
    let out = logbrief()
        .args(&args)
        .arg("--config")
        .arg(&team)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(err.contains("team.toml: line 2"), "{err}");
    assert!(!err.contains("carol"), "{err}");
}

/// A crafted path in the directory cannot turn into a link, HTML or a Liquid
/// placeholder in the markdown reply.
#[test]
fn crafted_paths_are_escaped_in_markdown() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("directory.json");
    std::fs::write(
        &dir,
        r#"{"namespaces":[{"id":1,"full_path":"[click](https:","plan":"premium"},{"id":2,"full_path":"{{ticket.requester.email}}","plan":"premium"}],
            "users":[{"id":1,"username":"alice","email":"alice@acme.example"}],
            "members":[{"namespace_id":1,"user_id":1,"access_level":50},{"namespace_id":2,"user_id":1,"access_level":50}]}"#,
    )
    .unwrap();
    let out = logbrief()
        .args([
            "summarize",
            "--requester",
            "alice@acme.example",
            "--directory",
        ])
        .arg(&dir)
        .arg("fixtures/logs/production_json.log")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let reply = stdout(&out);
    assert!(reply.contains(r"\[click\]\(https:"), "{reply}");
    assert!(
        !reply.contains("{{") && !reply.contains("[click]("),
        "{reply}"
    );
}

#[test]
fn small_counts_can_be_shown_as_fewer_than_k() {
    let out = logbrief()
        .args(QUICK_START)
        .args(["--min-count", "5", "--format", "text"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let reply = stdout(&out);
    insta::assert_snapshot!("access_min_count", reply);
    // No count from 1 to 4 is left as a number; plurals follow "fewer than".
    for n in 1..5 {
        for unit in ["request", "user", "unique IP address", "signed-in user"] {
            assert!(!reply.contains(&format!(" {n} {unit}")), "{n} {unit}");
        }
    }
    assert!(!reply.contains("fewer than 5 request ") && !reply.contains("fewer than 5 request,"));
    let json = logbrief()
        .args(QUICK_START)
        .args(["--min-count", "5", "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["excluded"]["ip"]["users"], "fewer than 5");
    assert_eq!(v["counts"]["accesses"], 69);
    // The inputs' own line counts stay exact.
    assert!(v["inputs"][0]["malformed"].is_u64());
    let bad = logbrief()
        .args(QUICK_START)
        .args(["--min-count", "1"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// Deep nesting, invalid UTF-8 in every field and a gzip bomb: each is a malformed
/// line, memory stays bounded, and the good lines around them still count.
#[test]
fn hostile_lines_are_malformed_not_fatal() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let good = r#"{"method":"GET","path":"/acme/docs","status":200,"time":"2026-03-14T20:06:12.345Z","remote_ip":"198.51.100.7"}"#;

    let nested = tmp.path().join("nested.log");
    let deep = format!(
        r#"{{"path":"/acme/docs","time":"2026-03-14T20:06:12Z","x":{}"#,
        "[".repeat(200_000)
    );
    std::fs::write(&nested, format!("{good}\n{deep}\n")).unwrap();

    let utf8 = tmp.path().join("utf8.log");
    let mut bad = Vec::new();
    for field in [
        "path",
        "time",
        "remote_ip",
        "username",
        "ua",
        "meta.project",
    ] {
        bad.extend(
            format!(r#"{{"path":"/acme/docs","time":"2026-03-14T20:06:12Z","{field}":""#)
                .into_bytes(),
        );
        bad.extend(b"\xff\xfe\xc3\x28");
        bad.extend(b"\"}\n");
    }
    std::fs::write(&utf8, [format!("{good}\n").into_bytes(), bad].concat()).unwrap();

    // 200 MB of zeros without a line break, compressed to a few hundred kilobytes.
    let bomb = tmp.path().join("bomb.log.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(format!("{good}\n").as_bytes()).unwrap();
    let zeros = vec![b'0'; 1 << 20];
    for _ in 0..200 {
        enc.write_all(&zeros).unwrap();
    }
    enc.write_all(format!("\n{good}\n").as_bytes()).unwrap();
    std::fs::write(&bomb, enc.finish().unwrap()).unwrap();

    let out = logbrief()
        .args(["inspect", "--json"])
        .args([&nested, &utf8, &bomb])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = |i: usize, k: &str| reports[i][k].as_u64().unwrap();
    assert_eq!(
        (r(0, "lines"), r(0, "requests"), r(0, "malformed")),
        (2, 1, 1)
    );
    assert_eq!(
        (r(1, "lines"), r(1, "requests"), r(1, "malformed")),
        (7, 1, 6)
    );
    assert_eq!(
        (r(2, "lines"), r(2, "requests"), r(2, "malformed")),
        (3, 2, 1)
    );

    let base = &QUICK_START[..QUICK_START.len() - 3];
    let v = json_of(&with(
        base,
        &[
            nested.to_str().unwrap(),
            utf8.to_str().unwrap(),
            bomb.to_str().unwrap(),
        ],
    ));
    assert_eq!(v["reconciliation"]["malformed"], 8);
}

/// Progress goes to standard error only when it is a terminal (SPEC §10): a run whose
/// standard error is a pipe shows none there, and the same run under `script`
/// (which gives it a terminal) shows bytes read and the rate.
#[test]
fn progress_only_on_a_terminal() {
    let args = [
        "summarize",
        "--requester",
        "alice@acme.example",
        "--directory",
        "fixtures/directory.json",
        "--namespace",
        "acme",
        "fixtures/mixed/production_json.log",
    ];
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let piped = stderr(&out);
    assert!(
        !piped.contains("reading") && !piped.contains(['\r', '\x1b']),
        "no progress on a pipe: {piped}"
    );

    let script = Path::new("/usr/bin/script");
    if !script.exists() {
        eprintln!("skipped the terminal half: /usr/bin/script is not installed");
        return;
    }
    let command = std::iter::once(env!("CARGO_BIN_EXE_logbrief"))
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ");
    let out = std::process::Command::new(script)
        .args(["-qec", &format!("{command} > /dev/null"), "/dev/null"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let terminal = String::from_utf8_lossy(&out.stdout);
    assert!(
        terminal.contains("reading") && terminal.contains("MiB/s"),
        "{terminal}"
    );
}

/// Chunks are searched on several threads and put back in input order: the reply and
/// the JSON (first malformed line numbers included) do not depend on the threads.
#[test]
fn same_output_whatever_the_threads() {
    let (args, _) = expected("mixed");
    let args = summarize_args(&args);
    let json = |threads: &str| {
        let out = logbrief()
            .args(&args)
            .args(["--format", "json", "--threads", threads])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        (stdout(&out), stderr(&out))
    };
    let one = json("1");
    assert!(one.1.contains("malformed"), "{}", one.1);
    for threads in ["2", "3", "8"] {
        assert_eq!(json(threads), one, "--threads {threads}");
    }
}
