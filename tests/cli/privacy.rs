//! The privacy guard from both sides (RULES.md §8): personal values hidden in any free-text
//! field of any format never reach an output, and visitors named like the program's
//! own words never stop a harmless reply. On the quick start: a reply that would repeat
//! a username is stopped, and no personal value of anyone but the requester is in it.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{Value, json};

use super::support::{Summarize, logbrief, root, stderr, stdout};

/// Words, numbers and labels the program itself prints somewhere in a reply: times
/// and dates, "between … and …", counts, status classes, kinds, story names, country
/// codes, vocabulary labels and "fewer than K". (The inputs' names are data where the
/// JSON shows them: `input_names_are_data_where_the_json_shows_them`.)
const PROGRAM_WORDS: &[&str] = &[
    "utc",
    "and",
    "between",
    "at",
    "on",
    "from",
    "to",
    "since",
    "until",
    "access",
    "audit",
    "high-load",
    "ip-block",
    "unknown",
    "2xx",
    "4xx",
    "200",
    "403",
    "404",
    "429",
    "1",
    "2",
    "3",
    "4",
    "2026",
    "03",
    "14",
    "20",
    "us",
    "gb",
    "se",
    "s",
    "es",
    "fewer",
    "than",
    "api",
    "web",
    "git",
    "other",
    "changes",
    "other changes",
    "added",
    "member",
    "added a member",
    "changed visibility",
    "json",
    "markdown",
    "requests",
    "request",
    "users",
    "the",
];

const OWNER: &str =
    r#"{"id": 1, "username": "alice", "name": "Alice Owner", "email": "alice@acme.example"}"#;

fn directory(users: &[(u64, &str, &str)]) -> String {
    let users: Vec<String> = std::iter::once(OWNER.to_owned())
        .chain(users.iter().map(|(id, username, name)| {
            json!({"id": id, "username": username, "name": name,
                   "email": format!("{}@visitor.example", username.replace(' ', "."))})
            .to_string()
        }))
        .collect();
    format!(
        r#"{{
  "namespaces": [
    {{"id": 60, "full_path": "acme", "kind": "group", "plan": "premium"}},
    {{"id": 61, "full_path": "acme/platform", "kind": "group", "parent_id": 60}},
    {{"id": 70, "full_path": "globex", "kind": "group", "plan": "premium"}}
  ],
  "projects": [
    {{"id": 7, "path_with_namespace": "acme/platform/api"}},
    {{"id": 8, "path_with_namespace": "acme/web"}},
    {{"id": 40, "path_with_namespace": "globex/core"}}
  ],
  "users": [{}],
  "members": [{{"namespace_id": 60, "user_id": 1, "access_level": 50}}]
}}"#,
        users.join(",\n")
    )
}

/// The addresses of the MaxMind test database's countries, so the high-load story
/// prints country codes.
const GEO_IPS: &[&str] = &[
    "81.2.69.142",
    "89.160.20.112",
    "216.160.83.56",
    "2.125.160.216",
];

struct Story {
    args: Vec<String>,
    name: &'static str,
}

fn stories(dir: &Path, logs: &[PathBuf], audit: &[PathBuf]) -> Vec<Story> {
    let base = |extra: &[&str], inputs: &[PathBuf]| -> Vec<String> {
        let mut args: Vec<String> = vec![
            "summarize".into(),
            "--requester".into(),
            "alice@acme.example".into(),
            "--directory".into(),
            dir.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(inputs.iter().map(|p| p.display().to_string()));
        args
    };
    vec![
        Story {
            name: "access",
            args: base(&["--template", "access"], logs),
        },
        Story {
            name: "access, min-count",
            args: base(&["--template", "access", "--min-count", "3"], logs),
        },
        Story {
            name: "high-load",
            args: base(
                &[
                    "--template",
                    "high-load",
                    "--geoip",
                    "fixtures/geoip/GeoIP2-Country-Test.mmdb",
                ],
                logs,
            ),
        },
        Story {
            name: "ip-block",
            args: base(
                &["--template", "ip-block", "--client-ip", "81.2.69.0/24"],
                logs,
            ),
        },
        Story {
            name: "audit",
            args: base(&["--template", "audit"], audit),
        },
    ]
}

/// A Rails line by `user` (id, username) to an owned project.
fn rails(i: usize, user: Option<(u64, &str)>, ip: &str, status: u16, path: &str) -> String {
    let (id, name) = match user {
        Some((id, name)) => (json!(id), json!(name)),
        None => (Value::Null, Value::Null),
    };
    json!({
        "method": "GET", "path": path, "status": status,
        "time": format!("2026-03-14T20:{:02}:{:02}.000Z", 6 + i % 3, i % 60),
        "remote_ip": ip, "user_id": id, "username": name,
        "ua": "Mozilla/5.0 (X11; Linux x86_64)", "correlation_id": format!("cid{i}"),
    })
    .to_string()
}

#[test]
fn visitors_named_like_the_programs_own_words_leave_every_story_printable() {
    let tmp = tempfile::tempdir().unwrap();
    let users: Vec<(u64, &str, &str)> = PROGRAM_WORDS
        .iter()
        .enumerate()
        .map(|(i, w)| (100 + i as u64, *w, *w))
        .collect();
    let dir = tmp.path().join("directory.json");
    std::fs::write(&dir, directory(&users)).unwrap();

    let mut logs = Vec::new();
    let mut audit = Vec::new();
    let lines: Vec<String> = users
        .iter()
        .enumerate()
        .map(|(i, (id, name, _))| {
            let status = [200, 403, 429, 404][i % 4];
            let path = [
                "/acme/platform/api/-/issues",
                "/api/v4/projects/7",
                "/acme/web",
            ][i % 3];
            rails(
                i,
                Some((*id, name)),
                GEO_IPS[i % GEO_IPS.len()],
                status,
                path,
            )
        })
        .collect();
    let log = tmp.path().join("production_json.log");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    logs.push(log);
    let events: Vec<String> = users
        .iter()
        .enumerate()
        .map(|(i, (id, name, _))| {
            let event_type = [
                "member_created",
                "project_visibility_level_updated",
                "no_such_event",
            ][i % 3];
            json!({
                "id": 500 + i, "author_id": id, "author_name": name,
                "entity_id": 7, "entity_type": "Project", "entity_path": "acme/platform/api",
                "event_type": event_type,
                "target_type": "User", "target_details": name,
                "ip_address": GEO_IPS[i % GEO_IPS.len()],
                "details": {"author_email": format!("{name}@visitor.example")},
                "created_at": format!("2026-03-14T20:06:{:02}Z", i % 60),
            })
            .to_string()
        })
        .collect();
    let stream = tmp.path().join("audit.ndjson");
    std::fs::write(&stream, events.join("\n") + "\n").unwrap();
    audit.push(stream);

    for story in stories(&dir, &logs, &audit) {
        for format in ["markdown", "text", "json"] {
            let out = logbrief()
                .args(&story.args)
                .args(["--format", format])
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{} {format}: {}",
                story.name,
                stderr(&out)
            );
            assert!(!out.stdout.is_empty(), "{} {format}", story.name);
        }
    }
}

/// A personal value and the spellings under which it must never appear.
#[derive(Debug, Clone)]
struct Secret {
    /// As written into the input.
    text: String,
    /// Every spelling to look for in the outputs, lower-case.
    forms: Vec<String>,
}

fn secret(text: String, forms: Vec<String>) -> Secret {
    let mut forms: Vec<String> = forms.into_iter().map(|f| f.to_lowercase()).collect();
    forms.push(text.to_lowercase());
    Secret { text, forms }
}

fn word(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-z][a-z0-9]{{{},{}}}", len.start, len.end)).unwrap()
}

fn personal_value() -> impl Strategy<Value = Secret> {
    let email = (word(2..8), word(2..8))
        .prop_map(|(user, host)| secret(format!("zq{user}@{host}.example"), vec![]));
    let v4 = (1u8..=254, any::<u8>(), 1u8..=254, 0u8..4).prop_map(|(a, b, d, how)| {
        let addr = format!("10.{a}.{b}.{d}");
        let text = match how {
            0 => addr.clone(),
            1 => format!("{addr}:8443"),
            2 => format!("::ffff:{addr}"),
            _ => format!("010.{a:03}.{b:03}.{d:03}"),
        };
        secret(text, vec![addr])
    });
    let v6 = (any::<u16>(), any::<u16>(), any::<bool>()).prop_map(|(x, y, upper)| {
        let short = format!("2001:db8:{x:x}::{y:x}");
        let long = format!("2001:0db8:{x:04x}:0000:0000:0000:0000:{y:04x}");
        let text = if upper {
            long.to_uppercase()
        } else {
            short.clone()
        };
        secret(text, vec![short, long])
    });
    let name = (word(3..7), word(3..7)).prop_map(|(a, b)| {
        let cap = |s: &str| s[..1].to_uppercase() + &s[1..];
        secret(format!("Zq{} Xv{}", cap(&a), cap(&b)), vec![])
    });
    let token = proptest::string::string_regex("[A-Za-z0-9_]{20}")
        .unwrap()
        .prop_map(|t| secret(format!("glpat-{t}"), vec![]));
    let url = (word(2..6), word(4..8), word(2..6)).prop_map(|(u, p, h)| {
        secret(
            format!("https://zq{u}:{p}@ci.{h}.example"),
            vec![format!("zq{u}:{p}")],
        )
    });
    prop_oneof![email, v4, v6, name, token, url]
}

/// Inputs of every format, each free-text field holding one of `secrets` in turn.
fn hostile_inputs(tmp: &Path, secrets: &[Secret]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let s = |i: usize| secrets[i % secrets.len()].text.as_str();
    let enc = |v: &str| v.replace(' ', "%20");
    let mut rails = Vec::new();
    let mut workhorse = Vec::new();
    let mut nginx = Vec::new();
    let mut kibana = vec![
        "@timestamp,json.time,json.method,json.path,json.status,json.remote_ip,json.user_id,json.username,json.ua,json.correlation_id".to_owned(),
    ];
    for i in 0..secrets.len().max(3) {
        rails.push(
            json!({
                "method": "GET",
                "path": format!("/acme/platform/api/-/issues?search={}", enc(s(i))),
                "status": 200,
                "time": format!("2026-03-14T20:06:{:02}.000Z", i % 60),
                "remote_ip": "81.2.69.142",
                "user_id": null, "username": null,
                "ua": format!("Agent ({})", s(i + 1)),
                "route": format!("/api/:version/{}", s(i + 2)),
                "params": [{"key": "note", "value": s(i + 3)}],
                "meta.caller_id": s(i + 4),
                "exception.message": s(i + 5),
                "correlation_id": format!("r{i}"),
            })
            .to_string(),
        );
        workhorse.push(
            json!({
                "correlation_id": format!("w{i}"), "method": "GET", "msg": "access",
                "remote_ip": "89.160.20.112", "status": 200,
                "time": format!("2026-03-14T20:07:{:02}Z", i % 60),
                "uri": format!("/acme/web/-/raw/main/x?ref={}", enc(s(i))),
                "user_agent": format!("curl ({})", s(i + 1)),
            })
            .to_string(),
        );
        nginx.push(format!(
            r#"216.160.83.56 - {} [14/Mar/2026:20:08:{:02} +0000] "GET /acme/web?q={} HTTP/1.1" 200 512 "https://ref.example/?{}" "Agent {}""#,
            s(i).replace(' ', "_"),
            i % 60,
            enc(s(i + 1)),
            enc(s(i + 2)),
            s(i + 3)
        ));
        kibana.push(format!(
            "\"Mar 14, 2026 @ 20:09:{:02}.000\",2026-03-14T20:09:{:02}.000Z,GET,/acme/platform/api?x={},200,2.125.160.216,-,-,\"{}\",k{i}",
            i % 60,
            i % 60,
            enc(s(i)),
            s(i + 1).replace('"', "")
        ));
    }
    let mut stream = Vec::new();
    let mut csv = vec![
        "ID,Author ID,Author Name,Author Email,Entity ID,Entity Type,Entity Path,Target ID,Target Type,Target Details,Action,IP Address,Created At (UTC)".to_owned(),
    ];
    for i in 0..secrets.len().max(3) {
        let event_type = if i % 2 == 0 {
            Value::from(format!("custom_{}", s(i + 1)))
        } else {
            Value::Null
        };
        stream.push(
            json!({
                "id": 900 + i, "author_id": 2, "author_name": s(i),
                "entity_id": 7, "entity_type": "Project", "entity_path": "acme/platform/api",
                "event_type": event_type,
                "target_type": "Project", "target_details": s(i + 2),
                "details": {
                    "custom_message": format!("Token {} created for {}", s(i + 3), s(i + 4)),
                    "add": s(i + 5),
                    "author_email": "zz@visitor.example",
                },
                "created_at": format!("2026-03-14T20:10:{:02}Z", i % 60),
            })
            .to_string(),
        );
        let field = |v: &str| format!("\"{}\"", v.replace('"', ""));
        let action = [
            format!("Added member {} as Developer", s(i + 2)),
            format!("Blocked access for {}", s(i + 3)),
            format!("Added SSH key of {} (laptop)", s(i + 4)),
            format!("Changed visibility from {} to Public", s(i + 5)),
        ][i % 4]
            .clone();
        csv.push(format!(
            "{},3,{},{},7,Project,acme/platform/api,7,Project,{},{},198.51.100.7,2026-03-14 20:11:{:02} UTC",
            800 + i,
            field(s(i)),
            field(&format!("{}@x.example", i)),
            field(s(i + 1)),
            field(&action),
            i % 60
        ));
    }
    let write = |name: &str, lines: &[String]| {
        let path = tmp.join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    };
    (
        vec![
            write("production_json.log", &rails),
            write("workhorse.log", &workhorse),
            write("gitlab_access.log", &nginx),
            write("kibana.csv", &kibana),
        ],
        vec![write("audit.ndjson", &stream), write("audit.csv", &csv)],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Every injected value is absent from every output: the reply in every format,
    /// the internal note and standard error. The vocabulary and the counts-only
    /// replies make that the normal case, so the run also succeeds.
    #[test]
    fn injected_personal_values_reach_no_output(
        secrets in proptest::collection::vec(personal_value(), 1..8),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("directory.json");
        std::fs::write(&dir, directory(&[(2, "zzvisitor", "Zz Visitor")])).unwrap();
        let (logs, audit) = hostile_inputs(tmp.path(), &secrets);
        let note = tmp.path().join("note.md");
        for story in stories(&dir, &logs, &audit) {
            for format in ["markdown", "text", "json"] {
                let out = logbrief()
                    .args(&story.args)
                    .args(["--format", format, "--input-tz", "+00:00", "--internal-note"])
                    .arg(&note)
                    .output()
                    .unwrap();
                prop_assert_eq!(out.status.code(), Some(0), "{} {}: {}", story.name, format, stderr(&out));
                let note_text = std::fs::read_to_string(&note).unwrap_or_default();
                let outputs = [stdout(&out), stderr(&out), note_text];
                for text in &outputs {
                    let text = text.to_lowercase();
                    for s in &secrets {
                        for form in &s.forms {
                            prop_assert!(
                                !text.contains(form.as_str()),
                                "{} {}: an output holds {}",
                                story.name,
                                format,
                                form
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn the_guard_stops_a_reply_that_would_print_a_username() {
    // A slip of the engineer: a username where a domain belongs. The reply would
    // repeat it, so nothing is printed.
    let slip = Summarize::quick_start().args(["--exclude-domain", "carol"]);
    for format in ["markdown", "text", "json"] {
        let out = slip.clone().format(format).run();
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
        let out = Summarize::quick_start().format(format).run();
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
