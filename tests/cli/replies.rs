//! Replies as short as the handbook's, read as the customer reads them, and an
//! internal note that backs every number they state.

use std::path::PathBuf;

use super::support::{Summarize, expected, logbrief, stderr, stdout};

/// The four stories on the bundled fixtures, as the README runs them.
fn stories() -> Vec<(&'static str, Summarize)> {
    let (audit, _) = expected("audit");
    vec![
        ("access", Summarize::quick_start()),
        (
            "ip-block",
            Summarize::new().namespaces(&[]).args([
                "--template",
                "ip-block",
                "--client-ip",
                "192.0.2.0/24",
                "fixtures/formats/json/production_json.log",
                "fixtures/formats/json/api_json.log",
                "fixtures/formats/json/workhorse.log",
            ]),
        ),
        (
            "high-load",
            Summarize::new().args([
                "--template",
                "high-load",
                "--geoip",
                "fixtures/geoip/GeoIP2-Country-Test.mmdb",
                "fixtures/geo/production_json.log",
            ]),
        ),
        ("audit", Summarize::from_args(&["summarize"]).args(audit)),
    ]
}

/// The reply and the note of one run.
fn reply_and_note(run: &Summarize, extra: &[&str]) -> (String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let note: PathBuf = tmp.path().join("note.md");
    let out = run
        .clone()
        .args(extra)
        .arg("--internal-note")
        .arg(&note)
        .run();
    assert!(out.status.success(), "{}", stderr(&out));
    (stdout(&out), std::fs::read_to_string(&note).unwrap())
}

/// The numbers a text states: counts, not the digits of dates, times, addresses,
/// ranges or paths; "1,234" is one number.
fn numbers(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|w| !w.contains([':', '/', '-']) && w.matches('.').count() < 3)
        .map(|w| w.replace(',', ""))
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit()))
        .collect()
}

/// The note's section that lists the reply's numbers.
fn figures(note: &str) -> &str {
    let start = note
        .find("**The reply, number by number**")
        .expect("the note lists the reply's numbers");
    let rest = &note[start..];
    let end = rest[2..].find("\n**").map_or(rest.len(), |i| i + 2);
    &rest[..end]
}

#[test]
fn default_replies_are_short_with_at_most_one_list() {
    for (story, run) in stories() {
        let (reply, _) = reply_and_note(&run, &[]);
        let lines: Vec<&str> = reply.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(lines.len() <= 12, "{story}: {} lines\n{reply}", lines.len());
        // A list is a run of lines starting with "- "; the short reply has one at most.
        let lists = reply
            .split("\n\n")
            .filter(|block| block.lines().any(|l| l.starts_with("- ")))
            .count();
        assert!(lists <= 1, "{story}: {lists} lists\n{reply}");
        // The breakdowns wait for --details.
        let (detailed, _) = reply_and_note(&run, &["--details"]);
        assert!(
            detailed.len() > reply.len(),
            "{story}: --details adds nothing"
        );
    }
}

#[test]
fn every_number_of_the_reply_is_in_the_note_under_its_words() {
    for (story, run) in stories() {
        for extra in [&[][..], &["--details"][..]] {
            let (reply, note) = reply_and_note(&run, extra);
            let backed = numbers(figures(&note));
            for n in numbers(&reply) {
                assert!(
                    backed.contains(&n),
                    "{story} {extra:?}: {n} is not in the note\n{reply}\n{}",
                    figures(&note)
                );
            }
        }
    }
}

#[test]
fn signed_in_users_and_other_visitors_are_stated_apart() {
    let (reply, note) = reply_and_note(&Summarize::quick_start(), &[]);
    assert!(
        reply.contains(
            "Of these, 39 were made by 7 signed-in users, 26 by visitors who were not signed \
             in and 4 by visitors the logs do not identify"
        ),
        "{reply}"
    );
    assert!(note.contains("- made by signed-in users: 39"), "{note}");
    // With --details, the rows per project say that one user may count under several.
    let (detailed, _) = reply_and_note(&Summarize::quick_start(), &["--details"]);
    assert!(
        detailed.contains("One user or address may appear under several of these"),
        "{detailed}"
    );
}

#[test]
fn ip_block_leads_with_the_refusals_and_their_times() {
    let (_, run) = stories().swap_remove(1);
    let (reply, note) = reply_and_note(&run, &[]);
    let first = reply.lines().nth(2).unwrap();
    assert!(
        first.starts_with("The 4 requests from your addresses that were refused (401, 403 or 429)"),
        "{reply}"
    );
    assert!(
        first.contains("The first came at 08:18 UTC on 2026-03-14"),
        "{reply}"
    );
    // The Git challenges are explained before the totals, and the busiest minute and
    // the statuses wait for --details.
    assert!(
        reply.find("Git over HTTP") < reply.find("We went through"),
        "{reply}"
    );
    assert!(
        !reply.contains("busiest minute") && !reply.contains("200:"),
        "{reply}"
    );
    // The known list does not touch this story: the reply is the same with or without
    // it, and the note says so.
    let (with_list, note_with_list) = reply_and_note(
        &run,
        &[
            "--exclude-domain",
            "acme.example",
            "--exclude-ip",
            "192.0.2.0/28",
        ],
    );
    assert_eq!(reply, with_list);
    assert!(
        note_with_list.contains("which the known list does not touch"),
        "{note_with_list}"
    );
    assert!(note.contains("- refused (401, 403 or 429): 4"), "{note}");
}

#[test]
fn high_load_puts_countries_by_requests_and_what_a_customer_can_act_on() {
    let (_, run) = stories().swap_remove(2);
    let (reply, _) = reply_and_note(&run, &[]);
    assert!(
        reply.contains("151 by visitors who were not signed in"),
        "{reply}"
    );
    assert!(
        reply.contains("10 were refused as rate limited (429)"),
        "{reply}"
    );
    assert!(
        reply.contains("Most of the requests went to acme/platform/api (127 requests)"),
        "{reply}"
    );
    let countries: Vec<&str> = reply.lines().filter(|l| l.starts_with("- ")).collect();
    assert!(countries[0].starts_with("- 46 requests"), "{reply}");
    assert!(reply.contains("in the United Kingdom (GB)"), "{reply}");
    assert!(reply.contains("in Bhutan (BT)"), "{reply}");
}

#[test]
fn audit_lists_changes_of_access_first() {
    let (_, run) = stories().swap_remove(3);
    let (reply, note) = reply_and_note(&run, &[]);
    let actions: Vec<&str> = reply.lines().filter(|l| l.starts_with("- ")).collect();
    assert_eq!(
        actions,
        [
            "- Changed visibility: 2 events by 1 author",
            "- Added a member: 1 event by 1 author",
            "- Added an SSH key: 1 event by 1 author",
            "- Created a project access token: 1 event by 1 author",
            "- Ran a Git operation: 10 events by 4 authors",
            "- 20 more events of 6 other kinds",
        ]
    );
    // The period is said once; the note speaks of events, never of requests.
    assert_eq!(reply.matches("2026-03-02").count(), 1, "{reply}");
    assert!(!note.contains("**Counted**"), "{note}");
    assert!(!note.contains("(user 0, domain 0, IP 0)"), "{note}");
    let detailed = stdout(
        &logbrief()
            .args(run.to_args())
            .arg("--details")
            .output()
            .unwrap(),
    );
    assert!(detailed.contains("- Other changes: 6 events"), "{detailed}");
    assert!(
        detailed.contains("\"Other changes\" are events"),
        "{detailed}"
    );
}

#[test]
fn the_note_holds_the_side_files_digests_and_links_the_records_the_story_read() {
    use sha2::{Digest, Sha256};
    let tmp = tempfile::tempdir().unwrap();
    let team = tmp.path().join("team.toml");
    std::fs::write(&team, "kibana_url = \"https://kibana.example\"\n").unwrap();
    let (_, run) = stories().swap_remove(1);
    let (_, note) = reply_and_note(&run.arg("--config").arg(&team), &[]);
    let sha = |path: &std::path::Path| {
        let digest = Sha256::digest(std::fs::read(path).unwrap());
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let directory = super::support::root().join("fixtures/directory.json");
    assert!(
        note.contains(&format!(
            "- Directory: `fixtures/directory.json`, sha256 {}",
            sha(&directory)
        )),
        "{note}"
    );
    assert!(note.contains(&format!("sha256 {}", sha(&team))), "{note}");
    // ip-block reads requests from the requester's addresses: the link filters on
    // them, over the period the logs cover.
    assert!(
        note.contains("query:'json.remote_ip:%22192.0.2.0/24%22'"),
        "{note}"
    );
    assert!(
        note.contains("_g=(time:(from:'2026-03-14T00:00:01.000Z',to:'2026-03-16T23:58:47"),
        "{note}"
    );
}

#[test]
fn notes_hold_no_placeholder_lines() {
    for (story, run) in stories() {
        let (_, note) = reply_and_note(&run, &[]);
        for noise in [
            "Engine: no manifest",
            "Requester's addresses (ip-block): none",
        ] {
            assert!(!note.contains(noise), "{story}: {noise}\n{note}");
        }
        if story == "audit" {
            assert!(!note.contains("accesses 0"), "{note}");
        }
    }
}

#[test]
fn audit_exclusions_are_counted_per_rule_as_events() {
    let (_, run) = stories().swap_remove(3);
    let json = run.clone().json();
    let excluded = &json["excluded"]["domain"];
    assert_eq!(
        excluded["accesses"], json["reconciliation"]["excluded"],
        "{json}"
    );
    assert!(excluded["users"].as_u64().unwrap() > 0, "{json}");
    let out = run.clone().arg("-v").run();
    let err = stderr(&out);
    assert!(
        err.contains("--exclude-domain took out 18 events (5 authors)"),
        "{err}"
    );
    assert!(!err.contains("requests"), "{err}");
    let (reply, note) = reply_and_note(&run, &[]);
    assert!(
        reply.contains("we left out 18 events by users with an email address at acme.example"),
        "{reply}"
    );
    assert!(
        note.contains("excluded by the known list: 18 (user 0, domain 18, IP 0)"),
        "{note}"
    );
}

#[test]
fn the_readme_shows_the_quick_start_reply_as_it_is_printed() {
    let readme = std::fs::read_to_string(super::support::root().join("README.md")).unwrap();
    let start = readme
        .find("```markdown\n")
        .expect("the README shows the quick start's reply")
        + "```markdown\n".len();
    let shown = &readme[start..start + readme[start..].find("```").unwrap()];
    let out = Summarize::quick_start().run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(shown, stdout(&out), "update the README's quick start reply");
}

#[test]
fn a_sign_off_of_two_lines_stays_on_two_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let team = tmp.path().join("team.toml");
    std::fs::write(
        &team,
        "sign_off = \"\"\"\nBest regards,\nThe Support Team\n1. first\"\"\"\n",
    )
    .unwrap();
    let out = Summarize::quick_start().arg("--config").arg(&team).run();
    assert!(out.status.success(), "{}", stderr(&out));
    let reply = stdout(&out);
    assert!(
        reply.ends_with("\n\nBest regards,  \nThe Support Team  \n1\\. first\n"),
        "{reply}"
    );
}

#[test]
fn an_address_without_its_scheme_is_a_namespace_refused_with_the_way_forward() {
    let out = Summarize::new()
        .namespaces(&["gitlab.com/acme/web"])
        .arg("fixtures/logs/production_json.log")
        .run();
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains(
            "namespace refused: --namespace gitlab.com/acme/web is not in the directory (did \
             you mean acme/web, or the address https://gitlab.com/acme/web?)"
        ),
        "{err}"
    );
    assert!(!err.contains("requester not verified"), "{err}");
}

#[test]
fn inspect_prints_nothing_when_a_file_needs_a_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let naive = tmp.path().join("export.csv");
    std::fs::write(
        &naive,
        "@timestamp,json.path,json.method\n\"Mar 14, 2026 @ 20:06:12.345\",/acme,GET\n",
    )
    .unwrap();
    let out = logbrief()
        .arg("inspect")
        .arg("fixtures/logs/production_json.log")
        .arg(&naive)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    assert!(stderr(&out).contains("--input-tz"));
    let out = logbrief()
        .args([
            "inspect",
            "--input-tz",
            "UTC",
            "fixtures/logs/production_json.log",
        ])
        .arg(&naive)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("kibana-csv"));
}

#[test]
fn ip_block_names_the_path_that_took_most_refusals_in_the_handbook_s_manner() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("production_json.log");
    let line = |t: &str, path: &str, status: u16| {
        format!(
            r#"{{"method":"GET","path":"{path}","status":{status},"time":"2026-03-14T{t}Z","remote_ip":"192.0.2.10","correlation_id":"c-{t}"}}"#
        )
    };
    let lines = [
        line("20:06:01.000", "/acme/docs", 401),
        line("20:06:21.000", "/acme/docs", 401),
        line("20:07:41.000", "/acme/docs", 403),
        line("20:08:00.000", "/other/place", 429),
        line("20:09:00.000", "/acme/docs", 200),
    ];
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let out = Summarize::new()
        .namespaces(&[])
        .args(["--template", "ip-block", "--client-ip", "192.0.2.0/24"])
        .arg(&log)
        .run();
    assert!(out.status.success(), "{}", stderr(&out));
    let reply = stdout(&out);
    assert!(
        reply.contains(
            "Most of the requests from your addresses that were refused (3 of 4, with 401, \
             403 or 429), which is what likely caused the temporary block, involved \
             acme/docs. The first came at 20:06 UTC on 2026-03-14, the last at 20:08 UTC on \
             2026-03-14."
        ),
        "{reply}"
    );
    assert!(
        reply.contains("- paths outside your groups and projects: 1 × 429 (of 1 request)"),
        "{reply}"
    );
    assert!(!reply.contains("other/place"), "{reply}");
}
