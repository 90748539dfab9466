//! The guard's second round (RULES.md §8, SPEC §3 and §8): no spelling of an email or
//! an address slips through a typed value, the inputs' names are data where the JSON
//! shows them, no bidirectional control, Liquid marker or markdown block reaches a
//! reply, the requester's own emails are theirs, a refusal names the part it is about
//! and fits its advice to it, a mistyped requester hears of no other address, and a
//! `--namespace` address must be on the team's instance. Each case with its alarm and
//! a harmless neighbour that passes.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use super::support::{Summarize, logbrief, stderr, stdout};

/// The quick start with a team configuration of `toml` (written into `tmp`).
fn with_config(tmp: &Path, toml: &str) -> Summarize {
    let config = tmp.join("logbrief.toml");
    std::fs::write(&config, toml).unwrap();
    Summarize::quick_start().arg("--config").arg(config)
}

/// A team configuration with this greeting and sign-off, as TOML strings.
fn greeting_and_sign_off(greeting: &str, sign_off: &str) -> String {
    format!(
        "greeting = {}\nsign_off = {}\n",
        Value::from(greeting),
        Value::from(sign_off)
    )
}

/// The guard's refusal line on standard error.
fn refusal(out: &Output) -> String {
    let err = stderr(out);
    err.lines()
        .find(|l| l.contains("privacy guard"))
        .unwrap_or_else(|| panic!("no refusal: {err}"))
        .to_owned()
}

/// Asserts that `out` is a refusal by the guard (exit 5, nothing on standard output)
/// that names `part` and gives advice containing `advice`, and returns its line.
fn refused(out: &Output, part: &str, advice: &str) -> String {
    assert_eq!(out.status.code(), Some(5), "{}", stderr(out));
    assert!(out.stdout.is_empty());
    let line = refusal(out);
    assert!(line.contains(part), "{part}: {line}");
    assert!(line.contains(advice), "{advice}: {line}");
    line
}

fn printed(out: &Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    stdout(out)
}

/// Another user's email (shared@dup.example is in the fixture directory, twice) and
/// an address, in the spellings a reader undoes: fullwidth, percent-encoded (once and
/// twice), `[at]` and `(dot)`, split by an invisible character; an IPv4 address as one
/// number in decimal, hex and octal, and dotted with hex or octal parts.
const DISGUISED: &[(&str, &str)] = &[
    ("shared＠dup.example", "email address"),
    ("shared%40dup.example", "email address"),
    ("shared%2540dup.example", "email address"),
    ("shared [at] dup.example", "email address"),
    ("shared(at)dup(dot)example", "email address"),
    ("shared\u{200B}@dup.example", "email address"),
    ("ｓｈａｒｅｄ＠ｄｕｐ．ｅｘａｍｐｌｅ", "email address"),
    ("3221225985", "IP address"),
    ("0xC0000201", "IP address"),
    ("030000001001", "IP address"),
    ("0300.0000.0002.0001", "IP address"),
    ("0xc0.0.2.1", "IP address"),
    ("１９２．０．２．１", "IP address"),
    ("192%2E0%2E2%2E1", "IP address"),
];

#[test]
fn disguised_emails_and_addresses_in_the_greeting_and_sign_off_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for (value, kind) in DISGUISED {
        for format in ["markdown", "text"] {
            let greeting = greeting_and_sign_off(&format!("Hello {value},"), "");
            let out = with_config(tmp.path(), &greeting).format(format).run();
            let line = refused(
                &out,
                "the greeting (greeting in the team configuration)",
                "change greeting in the team configuration",
            );
            assert!(line.contains(&format!("({kind})")), "{value}: {line}");
            assert!(!line.contains(value), "{line}");

            let sign_off = greeting_and_sign_off("Hello,", &format!("Ask {value} (our team)"));
            let out = with_config(tmp.path(), &sign_off).format(format).run();
            refused(
                &out,
                "the sign-off (sign_off in the team configuration)",
                "change sign_off in the team configuration",
            );
        }
    }
}

#[test]
fn disguised_emails_and_addresses_as_excluded_domains_are_refused() {
    for (value, kind) in DISGUISED {
        for format in ["markdown", "text", "json"] {
            let out = Summarize::quick_start()
                .args(["--exclude-domain", value])
                .format(format)
                .run();
            let line = refused(
                &out,
                "the excluded domains (field filters.exclude_domains[])",
                "check the --exclude-domain values",
            );
            assert!(line.contains(&format!("({kind})")), "{value}: {line}");
        }
    }
}

#[test]
fn harmless_greetings_sign_offs_and_domains_with_numbers_pass() {
    let tmp = tempfile::tempdir().unwrap();
    for (greeting, sign_off) in [
        ("Hello Alice,", "Best regards, the Support team"),
        ("Hi there (at last),", "Support, 2026 — ticket 4711"),
        (
            "Hello 100% of you,",
            "Version 1.2.3 of our answer [draft 2]",
        ),
        ("Dear customer,", "Call +1 415 555 0100 or 0800 123 4567"),
        ("Hello,", "Regards, Support (EMEA) — 24/7"),
    ] {
        for format in ["markdown", "text"] {
            let out = with_config(tmp.path(), &greeting_and_sign_off(greeting, sign_off))
                .format(format)
                .run();
            let reply = printed(&out);
            if format == "text" {
                assert!(reply.starts_with(greeting), "{reply}");
                assert!(reply.ends_with(&format!("\n\n{sign_off}\n")), "{reply}");
            }
        }
    }
    // A domain with digits is a domain.
    let out = Summarize::quick_start()
        .args(["--exclude-domain", "1und1.example", "--format", "json"])
        .run();
    printed(&out);
}

#[test]
fn the_requesters_own_emails_are_theirs_in_any_spelling() {
    let tmp = tempfile::tempdir().unwrap();
    // alice@acme.example asks; a.owner@alice.example is her secondary email.
    for (greeting, sign_off) in [
        ("Hello alice@acme.example,", "Sent to alice@acme.example"),
        ("Hello ALICE@acme.example,", "Also a.owner@alice.example"),
        (
            "Hello alice＠acme.example,",
            "Also a.owner [at] alice.example",
        ),
    ] {
        for format in ["markdown", "text"] {
            let out = with_config(tmp.path(), &greeting_and_sign_off(greeting, sign_off))
                .format(format)
                .run();
            printed(&out);
        }
    }
    // Another person's email beside the requester's own still stops the reply.
    let out = with_config(
        tmp.path(),
        &greeting_and_sign_off("Hello alice@acme.example,", "Copy to bob@acme.example"),
    )
    .run();
    let line = refused(
        &out,
        "the sign-off (sign_off in the team configuration)",
        "change sign_off",
    );
    assert!(!line.contains("the greeting"), "{line}");
}

#[test]
fn a_refusal_names_the_part_that_holds_the_hit_and_advises_on_it() {
    let tmp = tempfile::tempdir().unwrap();
    // A sign-off after the per-path list is the sign-off, not the list above it, and
    // the advice is about the configuration, not about narrowing the reply.
    let out = with_config(
        tmp.path(),
        &greeting_and_sign_off("Hello,", "Questions? carol@contractor.example"),
    )
    .args(["--template", "access"])
    .run();
    let line = refused(
        &out,
        "printed in the sign-off (sign_off in the team configuration)",
        "change sign_off in the team configuration",
    );
    assert!(!line.contains("Per group or project"), "{line}");
    assert!(
        !line.contains("--namespace") && !line.contains("--min-count"),
        "{line}"
    );
    // A greeting naming a user by username is the greeting.
    let out = with_config(tmp.path(), &greeting_and_sign_off("Hi carol,", "")).run();
    let line = refused(&out, "printed in the greeting", "change greeting");
    assert!(line.contains("(username)"), "{line}");
    // Two parts at once: each named, each with its advice.
    let out = with_config(
        tmp.path(),
        &greeting_and_sign_off("Hi carol,", "From 3221225985"),
    )
    .run();
    let line = refused(&out, "the greeting", "change greeting");
    assert!(
        line.contains("the sign-off") && line.contains("change sign_off"),
        "{line}"
    );
}

/// A log with the quick start's lines under another name, in `tmp`.
fn renamed_log(tmp: &Path, name: &str) -> PathBuf {
    let folder = tmp.join("inputs");
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join(name);
    std::fs::copy(
        super::support::root().join("fixtures/logs/production_json.log"),
        &path,
    )
    .unwrap();
    path
}

#[test]
fn input_names_are_data_where_the_json_shows_them() {
    let tmp = tempfile::tempdir().unwrap();
    let named = renamed_log(
        tmp.path(),
        "bob@acme.example_192.0.2.99_{{ticket.requester.email}}.log",
    );
    let run = |log: &Path, format: &str| {
        Summarize::quick_start_flags()
            .files([log])
            .format(format)
            .run()
    };
    let out = run(&named, "json");
    let line = refused(
        &out,
        "the inputs' names (field inputs[].name)",
        "give the inputs names that name no one",
    );
    assert!(
        line.contains("IP address") && line.contains("email address"),
        "{line}"
    );
    assert!(
        !line.contains("bob") && !line.contains("192.0.2.99"),
        "{line}"
    );
    // A folder named after a user of the logs is part of the name the JSON shows.
    std::fs::create_dir_all(tmp.path().join("carol")).unwrap();
    let in_folder = tmp.path().join("carol/production_json.log");
    std::fs::copy(&named, &in_folder).unwrap();
    refused(
        &run(&in_folder, "json"),
        "(field inputs[].name)",
        "give the inputs names",
    );
    // The markdown and text replies do not show the inputs' names.
    for format in ["markdown", "text"] {
        printed(&run(&named, format));
    }
    // Dates, times, sequence numbers and versions in a name are not addresses.
    for harmless in [
        "production_json.log-20260304",
        "production_json.log.1741046400",
        "api_json.log.2026.03.04.1",
        "export-2026-03-04T20-06-00Z.log",
        "production_json.log.000000001",
        "v1.2.3-production.log",
    ] {
        let log = renamed_log(tmp.path(), harmless);
        let v: Value = serde_json::from_slice(&printed(&run(&log, "json")).into_bytes()).unwrap();
        assert!(
            v["inputs"][0]["name"].as_str().unwrap().ends_with(harmless),
            "{v}"
        );
    }
}

#[test]
fn no_bidirectional_control_or_liquid_marker_reaches_any_format() {
    let tmp = tempfile::tempdir().unwrap();
    let config = greeting_and_sign_off(
        "Hello \u{202E}{{ticket.requester.name}}\u{202C},",
        "{% if x %}Regards\u{2066}\u{2069}{%endif%}",
    );
    let bidi = |text: &str| {
        text.chars()
            .any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
    };
    for format in ["markdown", "text"] {
        let reply = printed(&with_config(tmp.path(), &config).format(format).run());
        assert!(!bidi(&reply), "{format}: {reply:?}");
        assert!(
            !reply.contains("{{") && !reply.contains("{%"),
            "{format}: {reply}"
        );
        assert!(reply.contains("ticket.requester.name"), "{reply}");
    }
    // In JSON the name stays exact for tools, and its text carries neither.
    let name = "\u{202E}gol.{{ticket.id}}{%raw%}.log";
    let log = renamed_log(tmp.path(), name);
    let out = Summarize::quick_start_flags()
        .files([&log])
        .format("json")
        .run();
    let text = printed(&out);
    assert!(!bidi(&text), "{text:?}");
    assert!(!text.contains("{{") && !text.contains("{%"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["inputs"][0]["name"],
        Value::from(log.display().to_string())
    );
}

#[test]
fn a_greeting_or_sign_off_cannot_open_a_markdown_block() {
    let tmp = tempfile::tempdir().unwrap();
    for (greeting, sign_off, first, last) in [
        ("---", "1. first", "\\---", "1\\. first"),
        ("===", "- item", "\\===", "\\- item"),
        (
            "  - indented",
            "2026. A year",
            "\\- indented",
            "2026\\. A year",
        ),
    ] {
        let reply = printed(
            &with_config(tmp.path(), &greeting_and_sign_off(greeting, sign_off))
                .format("markdown")
                .run(),
        );
        assert_eq!(reply.lines().next(), Some(first), "{reply}");
        assert_eq!(reply.lines().last(), Some(last), "{reply}");
    }
    // A greeting that opens no block is printed as it is.
    let reply = printed(
        &with_config(
            tmp.path(),
            &greeting_and_sign_off("Hello Alice,", "Version 2. Regards"),
        )
        .run(),
    );
    assert!(reply.starts_with("Hello Alice,\n\n"), "{reply}");
    assert!(reply.ends_with("\n\nVersion 2. Regards\n"), "{reply}");
}

#[test]
fn a_mistyped_requester_hears_of_no_other_address() {
    for typo in [
        "alice@acme.exmple",
        "alise@acme.example",
        "ALICE@acme.examp1e",
    ] {
        let out = Summarize::quick_start().requester(typo).run();
        assert_eq!(out.status.code(), Some(3));
        assert!(out.stdout.is_empty());
        let err = stderr(&out);
        assert!(
            err.contains(&format!("no user in the directory has the email {typo}")),
            "{err}"
        );
        assert!(!err.contains("did you mean"), "{err}");
        for user in [
            "alice@acme.example",
            "a.owner@alice.example",
            "@acme.example",
        ] {
            assert!(
                !err.to_lowercase()
                    .replace(&typo.to_lowercase(), "")
                    .contains(user),
                "{err}"
            );
        }
    }
    // The address as it is verifies.
    printed(&Summarize::quick_start().run());
}

/// `summarize` about acme/platform/api given as `namespace`, with the team's instance
/// from the team configuration (`gitlab_url`) or the environment (`GITLAB_URL`).
fn about(namespace: &str, config: Option<&Path>, env: Option<&str>) -> Output {
    let mut args = Summarize::quick_start().namespaces(&[namespace]);
    if let Some(config) = config {
        args = args.arg("--config").arg(config);
    }
    let mut cmd = logbrief();
    cmd.args(args.to_args());
    if let Some(url) = env {
        cmd.env("GITLAB_URL", url);
    }
    cmd.output().unwrap()
}

#[test]
fn a_namespace_address_must_be_on_the_teams_instance() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("logbrief.toml");
    std::fs::write(&config, "gitlab_url = \"https://gitlab.example.com\"\n").unwrap();
    for other in [
        "https://gitlab.other.example/acme/platform/api",
        "https://gitlab.example.com.other.example/acme/platform/api",
        "https://gitlab.example.com@other.example/acme/platform/api",
        "ftp://gitlab.example.com/acme/platform/api",
    ] {
        for (config, env) in [
            (Some(config.as_path()), None),
            (None, Some("gitlab.example.com")),
        ] {
            let out = about(other, config, env);
            assert_eq!(out.status.code(), Some(2), "{other}: {}", stderr(&out));
            assert!(out.stdout.is_empty());
            let err = stderr(&out);
            assert!(err.contains(&format!("--namespace {other}")), "{err}");
            assert!(err.contains("give the namespace's path"), "{err}");
        }
    }
    let err = stderr(&about(
        "https://gitlab.other.example/acme",
        Some(&config),
        None,
    ));
    assert!(
        err.contains("gitlab.example.com (gitlab_url in ") && err.contains("logbrief.toml)"),
        "{err}"
    );
    // `verify` reads the instance from the environment too.
    let out = logbrief()
        .args(["verify", "--requester", "alice@acme.example"])
        .args(["--directory", "fixtures/directory.json"])
        .args(["--namespace", "https://gitlab.other.example/acme"])
        .env("GITLAB_URL", "https://gitlab.example.com")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // The instance's own addresses, by https or http, and paths, are the namespace.
    let by_path = printed(&about("acme/platform/api", Some(&config), None));
    for ours in [
        "https://gitlab.example.com/acme/platform/api/-/issues",
        "http://GitLab.example.com/acme/platform/api",
    ] {
        assert_eq!(
            printed(&about(ours, Some(&config), None)),
            by_path,
            "{ours}"
        );
    }
    // Without a known instance an address on any host names its path; another scheme
    // never does.
    let anywhere = about("https://gitlab.other.example/acme/platform/api", None, None);
    assert_eq!(printed(&anywhere), by_path);
    let ftp = about("ftp://gitlab.example.com/acme/platform/api", None, None);
    assert_eq!(ftp.status.code(), Some(2), "{}", stderr(&ftp));
}
