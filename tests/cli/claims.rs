//! No claim the logs cannot support, second round (RULES.md §3, §9): trial plans,
//! logs that record no user, the same requests twice, unreadable lines, gaps, stray
//! times, exports of other groups, the known list said as what it did.

use std::fs;
use std::path::Path;

use serde_json::Value;

use super::support::{QUICK_START, Summarize, logbrief, root, stderr, stdout};

/// The fixture directory with `acme`'s plan replaced, written into `dir`.
fn directory_with_plan(dir: &Path, plan: &str) -> std::path::PathBuf {
    let mut v: Value =
        serde_json::from_slice(&fs::read(root().join("fixtures/directory.json")).unwrap()).unwrap();
    for ns in v["namespaces"].as_array_mut().unwrap() {
        if ns["full_path"] == "acme" {
            ns["plan"] = Value::String(plan.into());
        }
    }
    let path = dir.join(format!("directory-{plan}.json"));
    fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    path
}

#[test]
fn trials_and_free_programs_are_not_paid() {
    let tmp = tempfile::tempdir().unwrap();
    for plan in [
        "ultimate_trial",
        "premium_trial",
        "opensource",
        "edu",
        "Free",
    ] {
        let directory = directory_with_plan(tmp.path(), plan);
        let out = Summarize::new()
            .directory(&directory)
            .arg("fixtures/logs/production_json.log")
            .run();
        assert_eq!(out.status.code(), Some(3), "{plan}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
        let err = stderr(&out);
        assert!(err.contains("without a paid plan"), "{plan}: {err}");
        assert!(err.contains(&format!("plan: {plan}")), "{plan}: {err}");
    }
    // A Premium customer trying Ultimate is paying, and so are the legacy plans.
    for plan in ["ultimate_trial_paid_customer", "gold", "Premium"] {
        let directory = directory_with_plan(tmp.path(), plan);
        let out = logbrief()
            .args(["verify", "--requester", "alice@acme.example", "--directory"])
            .arg(&directory)
            .output()
            .unwrap();
        assert!(out.status.success(), "{plan}: {}", stderr(&out));
        assert!(stdout(&out).contains("acme"), "{plan}");
    }
}

#[test]
fn percent_encoded_letters_in_a_path_are_decoded_before_attribution() {
    let tmp = tempfile::tempdir().unwrap();
    let original = root().join("fixtures/formats/nginx/gitlab_access.log");
    let text = fs::read_to_string(&original).unwrap();
    let encoded = text
        .replace(" /acme/docs", " /a%63me/docs")
        .replace(" /acme/", " /%61cme/");
    assert_ne!(encoded, text, "the fixture names acme's paths");
    let log = tmp.path().join("gitlab_access.log");
    fs::write(&log, encoded).unwrap();
    let counts = |file: &Path, extra: &[&str]| {
        let v = Summarize::new().args(extra).arg(file).json();
        (
            v["counts"].clone(),
            v["paths"].clone(),
            v["reconciliation"]["counted"].clone(),
        )
    };
    let want = counts(&original, &[]);
    assert!(want.0["accesses"].as_u64().unwrap() > 0);
    assert_eq!(counts(&log, &[]), want);
    assert_eq!(counts(&log, &["--parse-all"]), want);
}

#[test]
fn an_audit_export_of_other_groups_is_refused_with_their_count() {
    let tmp = tempfile::tempdir().unwrap();
    let all = fs::read_to_string(root().join("fixtures/audit/streaming.ndjson")).unwrap();
    let others: String = all
        .lines()
        .filter(|l| {
            !l.contains(r#""entity_path":"acme/"#) && !l.contains(r#""entity_path":"acme""#)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(others.lines().count() > 5);
    let log = tmp.path().join("other-groups.ndjson");
    fs::write(&log, others).unwrap();
    let out = Summarize::new()
        .args(["--template", "audit"])
        .arg(&log)
        .run();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("none of the 11 audit events read is about acme"),
        "{err}"
    );
    // globex, acme-corp, acmex and newco: counted, never named.
    assert!(err.contains("4 other top-level groups"), "{err}");
    for name in ["globex", "acme-corp", "acmex", "newco"] {
        assert!(!err.contains(name), "{err}");
    }
    // The quiet case: the whole export, some of it about acme, is summarized.
    let out = Summarize::new()
        .args(["--template", "audit"])
        .arg("fixtures/audit/streaming.ndjson")
        .run();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The quick start's three logs, for the requester's own flags.
fn quick_logs() -> &'static [&'static str] {
    &QUICK_START[QUICK_START.len() - 3..]
}

#[test]
fn a_rule_that_took_out_nothing_is_said_as_none_came_from_it() {
    let reply = |extra: &[&str], quiet: bool| {
        let mut s = Summarize::new().args(extra);
        if quiet {
            s = s.arg("-q");
        }
        let out = s.files(quick_logs()).run();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    // A typo in a domain, and a range no request came from.
    for quiet in [false, true] {
        let text = reply(
            &[
                "--exclude-domain",
                "acme.exmaple",
                "--exclude-ip",
                "203.0.113.0/24",
                "--exclude-ip",
                "2001:db8:ffff::/48",
            ],
            quiet,
        );
        assert!(!text.contains("at acme.exmaple and"), "{text}");
        assert!(
            text.contains(
                "As you asked, we left out 15 requests from your addresses 203.0.113.0/24."
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "None of the requests came from users with an email address at acme.exmaple \
                 or your addresses 2001:db8:ffff::/48."
            ),
            "{text}"
        );
    }
    // The quiet case: rules that all took something out are said as before.
    let text = reply(
        &[
            "--exclude-domain",
            "acme.example",
            "--exclude-ip",
            "203.0.113.0/24",
        ],
        false,
    );
    assert!(
        text.contains(
            "As you asked, we left out 13 requests by users with an email address at \
             acme.example and 5 requests from your addresses 203.0.113.0/24."
        ),
        "{text}"
    );
    assert!(!text.contains("None of the"), "{text}");
}

#[test]
fn the_team_wide_list_is_the_teams_never_as_you_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("logbrief.toml");
    fs::write(
        &config,
        "office_ranges = [\"203.0.113.0/24\"]\ncompany_domains = [\"acme.example\"]\n",
    )
    .unwrap();
    let out = Summarize::new()
        .arg("--config")
        .arg(&config)
        .files(quick_logs())
        .run();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("As you asked"), "{text}");
    assert!(!text.contains("your addresses"), "{text}");
    assert!(
        text.contains(
            "We left out requests from the addresses and email domains we leave out of every \
             summary."
        ),
        "{text}"
    );
}

#[test]
fn lines_that_may_concern_the_scope_but_cannot_be_read_are_said_in_the_reply() {
    let tmp = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(root().join("fixtures/logs/production_json.log")).unwrap();
    // Nine lines in ten cut short, as a log copied while it was written may be.
    let mut cut_in_scope = 0;
    let damaged: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i % 10 == 0 || l.len() < 40 {
                format!("{l}\n")
            } else {
                let cut = &l[..l.len() * 2 / 3];
                let lower = cut.to_lowercase();
                if ["acme/platform", "acme/web", "acme/docs"]
                    .iter()
                    .any(|p| lower.contains(p))
                {
                    cut_in_scope += 1;
                }
                format!("{cut}\n")
            }
        })
        .collect();
    let log = tmp.path().join("production_json.log");
    fs::write(&log, damaged).unwrap();
    let reply = |extra: &[&str]| {
        let out = Summarize::new().args(extra).arg(&log).run();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let text = reply(&[]);
    assert!(
        text.contains("of the logs that may concern acme could not be read, so there may be up"),
        "{text}"
    );
    let said: u64 = text
        .split(" line")
        .find_map(|s| {
            s.rsplit(' ')
                .next()
                .and_then(|n| n.replace(',', "").parse().ok())
        })
        .unwrap();
    assert!(said >= cut_in_scope, "{said} < {cut_in_scope}");
    // The same reply however the lines were read.
    assert_eq!(reply(&["--parse-all"]), text);
    assert_eq!(reply(&["--threads", "1"]), text);
}

#[test]
fn a_manifest_of_other_logs_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = tmp.path().join("manifest.json");
    let run = |filter: &str| {
        fs::write(
            &manifest,
            serde_json::json!({
                "sources": [{"name": "gs://other-bucket/api.json.gz", "lines": 100000,
                             "first": "2025-01-01T00:00:00Z", "last": "2026-03-20T00:00:00Z"}],
                "engine": "spark",
                "filter": filter,
            })
            .to_string(),
        )
        .unwrap();
        Summarize::new()
            .arg("--manifest")
            .arg(&manifest)
            .arg("fixtures/logs/production_json.log")
            .run()
    };
    let out = run("(?i)globex");
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("its filter is not the expression"),
        "{}",
        stderr(&out)
    );
    // The expression pushdown prints for this scope is accepted.
    let printed = logbrief()
        .args([
            "pushdown",
            "--requester",
            "alice@acme.example",
            "--directory",
            "fixtures/directory.json",
            "--namespace",
            "acme",
        ])
        .output()
        .unwrap();
    assert!(printed.status.success(), "{}", stderr(&printed));
    let out = run(stdout(&printed).trim());
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn logs_that_record_no_user_never_say_not_signed_in() {
    // Workhorse alone: it logs every request, and no user.
    let json = Summarize::new()
        .arg("fixtures/formats/json/workhorse.log")
        .json();
    let c = &json["counts"];
    assert!(c["accesses"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(c["anonymous_accesses"], 0);
    assert_eq!(c["unidentified_accesses"], c["accesses"]);
    let out = Summarize::new()
        .arg("fixtures/formats/json/workhorse.log")
        .run();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("not signed in"), "{text}");
    assert!(
        text.contains("The logs do not record who made them, so we cannot tell whether"),
        "{text}"
    );
    // NGINX: a request without a user it knows is one whose visitor cannot be told.
    let nginx = Summarize::new()
        .arg("fixtures/formats/nginx/gitlab_access.log")
        .json();
    assert_eq!(nginx["counts"]["anonymous_accesses"], 0, "{nginx}");
    assert!(nginx["counts"]["unidentified_accesses"].as_u64().unwrap() > 0);
    // The quiet case: Rails logs record users; who was not signed in is said.
    let rails = Summarize::new()
        .arg("fixtures/formats/json/production_json.log")
        .json();
    assert_eq!(rails["counts"]["unidentified_accesses"], 0);
    assert!(rails["counts"]["anonymous_accesses"].as_u64().unwrap() > 0);
}
