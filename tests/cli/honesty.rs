//! No confident wrong answer (RULES.md §9): what the inputs cannot support is refused with
//! a way forward, or said out loud in the reply, on standard error and in the note.

use super::support::{QUICK_START, logbrief, stderr, stdout, with};

/// The quick start's flags without its three log files.
fn base() -> Vec<String> {
    with(&QUICK_START[..QUICK_START.len() - 3], &[])
}

const LOGS: &[&str] = &[
    "fixtures/logs/production_json.log",
    "fixtures/logs/api_json.log.gz",
    "fixtures/logs/workhorse.log",
];

const AUDIT: &[&str] = &[
    "fixtures/audit/api_pages.json",
    "fixtures/audit/streaming.ndjson",
];

fn run(args: &[String]) -> std::process::Output {
    logbrief().args(args).output().unwrap()
}

fn args(extra: &[&str], files: &[&str]) -> Vec<String> {
    let mut a = base();
    a.extend(extra.iter().chain(files).map(|s| s.to_string()));
    a
}

#[test]
fn a_story_without_records_of_its_kind_is_refused_with_the_story_that_fits() {
    let out = run(&args(&["--template", "audit"], LOGS));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("use --template access, ip-block or high-load"));

    for story in ["access", "high-load"] {
        let out = run(&args(&["--template", story], AUDIT));
        assert_eq!(out.status.code(), Some(4), "{story}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
        assert!(
            stderr(&out).contains("use --template audit"),
            "{}",
            stderr(&out)
        );
    }

    // An empty input supports no answer either.
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("production_json.log");
    std::fs::write(&empty, "").unwrap();
    let out = run(&args(&[], &[empty.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("the inputs are empty"));
}

#[test]
fn a_window_beyond_the_logs_is_said_in_the_reply_on_stderr_and_in_the_note() {
    let tmp = tempfile::tempdir().unwrap();
    let note = tmp.path().join("note.md");
    let window = ["--since", "2026-03-01", "--until", "2026-03-31"];
    let mut a = args(&window, LOGS);
    a.extend(["--internal-note".into(), note.display().to_string()]);
    for format in ["markdown", "text"] {
        let out = logbrief()
            .args(&a)
            .args(["--format", format])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let reply = stdout(&out);
        // The period gone through is the one the logs cover, not the one asked for.
        assert!(
            reply.contains("request logs from 2026-03-14 19:58 UTC to 2026-03-16 17:45 UTC"),
            "{reply}"
        );
        assert!(
            reply.contains(
                "That is all the logs available to us hold of the period from \
                 2026-03-01 00:00 UTC to 2026-03-31 23:59 UTC."
            ),
            "{reply}"
        );
        assert!(
            stderr(&out).contains("reaches beyond the logs"),
            "{}",
            stderr(&out)
        );
    }
    let text = std::fs::read_to_string(&note).unwrap();
    assert!(text.contains("reaches beyond the logs"), "{text}");
    assert!(
        text.contains("- Logs cover: 2026-03-14 19:58:03.120 UTC to"),
        "{text}"
    );

    // A window inside the logs draws no warning and reads as asked.
    let out = run(&args(
        &["--since", "2026-03-15", "--until", "2026-03-15"],
        LOGS,
    ));
    assert!(out.status.success());
    assert!(!stderr(&out).contains("reaches beyond"));
    assert!(stdout(&out).contains("from 2026-03-15 00:00 UTC to 2026-03-15 23:59 UTC"));
    assert!(!stdout(&out).contains("That is all"));

    // A window outside the logs says so instead of claiming there were no requests.
    let out = run(&args(
        &["--since", "2026-04-01", "--until", "2026-04-30"],
        LOGS,
    ));
    assert!(out.status.success());
    assert!(
        stdout(&out).contains(
            "The logs available to us cover 2026-03-14 19:58 UTC to 2026-03-16 17:45 UTC, \
             which lies outside the period from 2026-04-01 00:00 UTC to 2026-04-30 23:59 UTC."
        ),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_same_file_twice_is_read_once() {
    let json = |files: &[&str]| {
        let out = logbrief()
            .args(args(&["--format", "json"], files))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        (
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
            stderr(&out),
        )
    };
    let (once, _) = json(LOGS);
    // The same content under another name, too.
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("copy.log");
    std::fs::copy(LOGS[0], &copy).unwrap();
    let mut twice: Vec<&str> = LOGS.to_vec();
    twice.extend([LOGS[0], copy.to_str().unwrap()]);
    let (v, err) = json(&twice);
    for key in ["counts", "paths", "statuses", "kinds", "excluded"] {
        assert_eq!(v[key], once[key], "{key}");
    }
    let r = |v: &serde_json::Value, k: &str| v["reconciliation"][k].as_u64().unwrap();
    let lines = v["inputs"][0]["lines"].as_u64().unwrap();
    assert_eq!(r(&v, "lines"), r(&once, "lines") + 2 * lines);
    assert_eq!(r(&v, "duplicate"), r(&once, "duplicate") + 2 * lines);
    assert!(err.contains("has the same content (SHA-256) as"), "{err}");
    assert_eq!(err.matches("same content").count(), 2, "{err}");
}

#[test]
fn a_rule_of_the_known_list_that_matched_nothing_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let note = tmp.path().join("note.md");
    let a = args(
        &[
            "--exclude-user",
            "nosuchuser",
            "--exclude-domain",
            "acme.exmaple",
            "--internal-note",
            note.to_str().unwrap(),
        ],
        LOGS,
    );
    let out = run(&a);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let text = std::fs::read_to_string(&note).unwrap();
    for rule in ["--exclude-user nosuchuser", "--exclude-domain acme.exmaple"] {
        let warning = format!("{rule} matched nothing in scope");
        assert!(err.contains(&warning), "{err}");
        assert!(text.contains(&warning), "{text}");
    }
    // The rules that did match are not named.
    assert!(
        !err.contains("--exclude-domain acme.example matched"),
        "{err}"
    );
    assert!(
        !err.contains("--exclude-ip 203.0.113.0/24 matched"),
        "{err}"
    );
}

#[test]
fn the_team_configuration_is_named_and_keyed_per_customer() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("logbrief.toml");
    std::fs::write(
        &config,
        r#"
company_domains = ["acme.example"]

[customers."acme"]
office_ranges = ["203.0.113.0/24"]

[customers."globex"]
office_ranges = ["198.51.100.0/24"]
"#,
    )
    .unwrap();
    let note = tmp.path().join("note.md");
    let mut a: Vec<String> = [
        "summarize",
        "--requester",
        "alice@acme.example",
        "--directory",
        "fixtures/directory.json",
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
        "--internal-note",
        note.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(LOGS.iter().map(|s| s.to_string()));
    let out = run(&a);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // acme's range applies to acme's Owner; globex's never does.
    assert_eq!(
        v["filters"]["exclude_ip_ranges"],
        serde_json::json!(["203.0.113.0/24"])
    );
    assert_eq!(
        v["filters"]["exclude_domains"],
        serde_json::json!(["acme.example"])
    );
    let file = config.display().to_string();
    for said in [
        format!("{file} (top level) added --exclude-domain acme.example"),
        format!("{file} (customers.\"acme\") added --exclude-ip 203.0.113.0/24"),
    ] {
        assert!(err.contains(&said), "{err}");
        let text = std::fs::read_to_string(&note).unwrap();
        assert!(text.contains(&said), "{text}");
    }
    assert!(!err.contains("198.51.100.0/24"), "{err}");
    let text = std::fs::read_to_string(&note).unwrap();
    assert!(
        text.contains(&format!("- Team configuration: `{file}`")),
        "{text}"
    );

    // The numbers are those of the same list typed as flags.
    let flags = logbrief()
        .args(with(QUICK_START, &["--format", "json"]))
        .output()
        .unwrap();
    let flags: serde_json::Value = serde_json::from_slice(&flags.stdout).unwrap();
    assert_eq!(v["counts"], flags["counts"]);
    assert_eq!(v["excluded"], flags["excluded"]);

    // A flag replaces the file's list, and the file then adds nothing of that kind.
    let mut b = a.clone();
    b.extend(["--exclude-ip".into(), "192.0.2.0/24".into()]);
    let out = run(&b);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["filters"]["exclude_ip_ranges"],
        serde_json::json!(["192.0.2.0/24"])
    );
    assert!(
        !stderr(&out).contains("added --exclude-ip"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_client_range_wider_than_a_customer_needs_an_explicit_flag() {
    let ip_block = |range: &str, extra: &[&str]| {
        let mut a: Vec<String> = [
            "summarize",
            "--template",
            "ip-block",
            "--requester",
            "alice@acme.example",
            "--directory",
            "fixtures/directory.json",
            "--client-ip",
            range,
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
        a.push("fixtures/formats/json/production_json.log".into());
        run(&a)
    };
    for wide in ["0.0.0.0/0", "10.0.0.0/8", "2001:db8::/16"] {
        let out = ip_block(wide, &[]);
        assert_eq!(out.status.code(), Some(2), "{wide}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
        assert!(
            stderr(&out).contains("--allow-wide-client-ip"),
            "{}",
            stderr(&out)
        );
    }
    for narrow in ["192.0.2.0/24", "198.51.0.0/16", "2001:db8::/32"] {
        let out = ip_block(narrow, &[]);
        assert!(out.status.success(), "{narrow}: {}", stderr(&out));
    }
    let out = ip_block("10.0.0.0/8", &["--allow-wide-client-ip"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_internal_note_into_a_missing_folder_is_a_usage_error() {
    let out = run(&args(
        &["--internal-note", "/nonexistent-folder/note.md"],
        LOGS,
    ));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn a_json_time_without_a_zone_is_not_guessed() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("production_json.log");
    let line = |time: &str| {
        format!(
            r#"{{"method":"GET","path":"/acme/platform/api","status":200,"time":"{time}","remote_ip":"198.51.100.7","correlation_id":"c-{time}"}}"#
        )
    };
    std::fs::write(
        &log,
        [
            line("2026-03-14T20:06:12.000Z"),
            line("2026-03-14T20:07:12.000"),
            line("2026-03-14 20:08:12"),
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let out = logbrief()
        .args(args(&["--format", "json"], &[log.to_str().unwrap()]))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["counts"]["accesses"], 1);
    assert_eq!(v["reconciliation"]["malformed"], 2);
    assert!(
        stderr(&out).contains(
            "2 malformed lines (first at lines 2, 3; the first: a request without a valid \
             time (with its zone))"
        ),
        "{}",
        stderr(&out)
    );
}
