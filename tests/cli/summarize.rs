//! `logbrief summarize` on the quick start and around it: the numbers the generator
//! labelled, the reply, the JSON and the internal note; standard input; `verify`; the
//! refusals and exit codes; windows, exclusions, the team configuration; threads and
//! progress.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use super::assert_reply_snapshot;
use super::support::{
    COMPARED, QUICK_START, Summarize, assert_matches_labels, expected, input_formats, logbrief,
    root, run, stderr, stdout, summarize_args, with,
};

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
fn quick_start_markdown_reply() {
    let out = Summarize::quick_start().run();
    assert!(out.status.success(), "{}", stderr(&out));
    let reply = stdout(&out);
    assert!(!reply.contains("{{") && !reply.contains("{%") && !reply.contains('<'));
    assert_eq!(
        stderr(&out),
        "logbrief: warning: fixtures/logs/production_json.log: 4 malformed lines (first at lines 8, 9, 39, 40; the first: not valid JSON), counted as malformed\n"
    );
    assert_reply_snapshot("access_markdown", &reply);
}

#[test]
fn quick_start_text_reply() {
    let out = Summarize::quick_start().format("text").run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_reply_snapshot("access_text", &stdout(&out));
}

#[test]
fn json_reply_has_every_documented_key() {
    let v = Summarize::quick_start().json();
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
    // Without --geoip, `countries` is an empty list, not absent.
    assert_eq!(v["countries"], serde_json::json!([]));
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
        let a = Summarize::quick_start().format(format).run();
        let b = Summarize::quick_start().format(format).run();
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
    let out = Summarize::quick_start()
        .arg("--internal-note")
        .arg(&note)
        .run();
    assert!(out.status.success(), "{}", stderr(&out));
    // It names the requester: readable by its owner only.
    let mode = std::fs::metadata(&note).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&note).unwrap();
    // The command line as run, with the note's own (temporary) path in it.
    let command = format!(
        "- Command: `logbrief {} --internal-note {}`",
        super::support::QUICK_START.join(" "),
        note.display()
    );
    assert!(text.contains(&command), "{text}");
    let folder = format!("- Working folder: `{}`", super::support::root().display());
    assert!(text.contains(&folder), "{text}");
    // The generation time, the note's path and the folder of the checkout are the
    // things allowed to change between runs.
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("**logbrief internal note**") {
                "**logbrief internal note** (logbrief [version], generated [time])"
            } else if l.starts_with("- Command: ") {
                "- Command: [as run]"
            } else if l.starts_with("- Working folder: ") {
                "- Working folder: [the checkout]"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_reply_snapshot("internal_note", &text);
}

#[test]
fn standard_input_and_gzip_by_content() {
    let tmp = tempfile::tempdir().unwrap();
    // A gzip file whose name does not say so.
    let renamed = tmp.path().join("api-export");
    std::fs::copy(root().join("fixtures/logs/api_json.log.gz"), &renamed).unwrap();
    let by_file = Summarize::quick_start().json();
    let production = std::fs::read(root().join("fixtures/logs/production_json.log")).unwrap();
    let out = Summarize::quick_start_flags()
        .arg("-")
        .arg(&renamed)
        .arg("fixtures/logs/workhorse.log")
        .format("json")
        .stdin(production)
        .run();
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

fn refusal(out: Output) -> String {
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "a refusal printed to stdout");
    stderr(&out)
}

#[test]
fn every_failed_check_is_named_and_nothing_reaches_stdout() {
    let summarize = |email: &str, ns: &[&str]| {
        let out = Summarize::new()
            .requester(email)
            .namespaces(ns)
            .arg("fixtures/logs/production_json.log")
            .run();
        refusal(out)
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
    let v = refusal(run(&[
        "verify",
        "--requester",
        "frank@hobby.example",
        "--directory",
        "fixtures/directory.json",
    ]));
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
    assert_reply_snapshot("verify_alice", &stdout(&out));
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

    let out = Summarize::quick_start_flags().arg(&text).run();
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

    let out = Summarize::quick_start_flags()
        .arg("fixtures/logs/missing.log")
        .run();
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("missing.log"));

    // A gzip stream cut short: the file and the line where reading stopped.
    let gz = std::fs::read(root().join("fixtures/logs/api_json.log.gz")).unwrap();
    let cut = tmp.path().join("cut.log.gz");
    std::fs::write(&cut, &gz[..gz.len() * 2 / 3]).unwrap();
    let out = Summarize::quick_start_flags().arg(&cut).run();
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
        let out = Summarize::quick_start().args(extra).run();
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_window_without_requests_says_so() {
    let since = Summarize::quick_start().args(["--since", "2027-01-01"]);
    let out = since.clone().format("text").run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_reply_snapshot("access_nothing_found", &stdout(&out));
    let json = since.json();
    assert_eq!(json["reconciliation"]["counted"], 0);
    // Everything the quick start counted or excluded now falls outside the window.
    let base = Summarize::quick_start().json();
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
    let logs = &QUICK_START[QUICK_START.len() - 3..];
    // The quick start, with the office range read from the file instead.
    let from_file = Summarize::new()
        .args(["--exclude-domain", "acme.example", "--exclude-ip-file"])
        .arg(&file)
        .files(logs);
    let a = from_file.json();
    let b = Summarize::quick_start().json();
    assert_eq!(a["excluded"], b["excluded"]);
    assert_eq!(a["counts"], b["counts"]);

    std::fs::write(&file, "203.0.113.0/24\nthe office\n").unwrap();
    let out = from_file.run();
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("office.txt: line 2"),
        "{}",
        stderr(&out)
    );
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
        "office_ranges = [\"203.0.113.0/24\"]\ncompany_domains = [\"acme.example\"]\nformat = \"json\"\nkibana_url = \"https://kibana.example\"\nkibana_data_view = \"gitlab-logs\"\n",
    )
    .unwrap();
    let logs = &QUICK_START[QUICK_START.len() - 3..];
    let with_team = Summarize::new().files(logs).arg("--config").arg(&team);
    let note = tmp.path().join("note.md");
    let out = with_team.clone().arg("--internal-note").arg(&note).run();
    assert!(out.status.success(), "{}", stderr(&out));
    let from_file: Value =
        serde_json::from_slice(&out.stdout).expect("format = json from the file");
    let from_flags = Summarize::quick_start().json();
    assert_eq!(from_file["excluded"], from_flags["excluded"]);
    assert_eq!(from_file["counts"], from_flags["counts"]);
    let note = std::fs::read_to_string(note).unwrap();
    assert!(
        note.contains("https://kibana.example/app/discover#/?_g=(time:(from:'2026-03-14T19:58:03.120Z',to:'2026-03-16T17:45:10.256Z'))&_a=(index:'gitlab-logs',query:"),
        "{note}"
    );

    // A flag replaces the file's ranges; --format on the command line wins.
    let out = with_team
        .clone()
        .args(["--exclude-ip", "192.0.2.1"])
        .format("text")
        .run();
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
    let out = with_team.run();
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(err.contains("team.toml: line 2"), "{err}");
    assert!(!err.contains("carol"), "{err}");
}

/// Progress goes to standard error only when it is a terminal (RULES.md §10): a run whose
/// standard error is a pipe shows none there, and the same run under `script`
/// (which gives it a terminal) shows bytes read and the rate.
#[test]
fn progress_only_on_a_terminal() {
    let summarize = Summarize::new().arg("fixtures/mixed/production_json.log");
    let out = summarize.run();
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
    let command = std::iter::once(env!("CARGO_BIN_EXE_logbrief").to_owned())
        .chain(summarize.to_args())
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
    // `--no-progress` keeps a terminal quiet too.
    let out = std::process::Command::new(script)
        .args([
            "-qec",
            &format!("{command} --no-progress > /dev/null"),
            "/dev/null",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let terminal = String::from_utf8_lossy(&out.stdout);
    assert!(!terminal.contains("MiB/s"), "{terminal}");
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
