//! Random logs full of canary values: whatever the mix, every line lands in one
//! bucket and no canary reaches a reply.

use proptest::prelude::*;
use serde_json::Value;

use super::support::{assert_fast_path_agrees, assert_reconciled, logbrief, stderr, stdout};

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
    if n.is_multiple_of(7) {
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
            r#"{"level":"info","msg":"Starting server","time":"2026-03-14T20:00:00Z"}"#.to_owned()
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
            // Entities 0 and 1 are acme's, 2 another group's, 3 a user.
            let of_others_only =
                audit.iter().all(|e| e.0 >= 2) && audit.iter().any(|e| e.0 == 2);
            if audit.is_empty() || of_others_only {
                // No audit events at all, or only other groups': the story is refused,
                // not answered.
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

/// Paths that name the owned `acme` in several spellings, and paths that name only
/// look-alikes of it (`acme-corp` is another customer, the others are unknown).
const LOOK_ALIKE_PATHS: &[&str] = &[
    "/acme/platform/api/-/issues",
    "/ACME/Platform/API.git/info/refs",
    "/acme.git/info/refs",
    "/api/v4/projects/acme%2Fplatform%2Fapi",
    "\\/acme\\/platform\\/-\\/issues",
    "/acme-corp/app",
    "/ACME-CORP/app.git/git-upload-pack",
    "/acmex/x",
    "/acme.io/app",
    "/acme_x/y",
    "/xacme/z",
    "/my-acme/platform",
    "/api/v4/projects/acme-corp%2Fapp",
    "/acmes/api?from=acme.io",
];
const LOOK_ALIKE_PROJECTS: &[&str] = &[
    "acme/platform/api",
    "acme-corp/app",
    "acme.io/app",
    "acmex/x",
];
const LOOK_ALIKE_ROOTS: &[&str] = &["acme", "acme-corp", "acmes", "acme.io"];

/// Line `n` of a log heavy in look-alikes: a Rails request, a Workhorse request, or a
/// line cut mid-write (malformed, which a full parse reports and the fast path may not).
/// Lines are in time order, as logs are: the fast path reads the period a log covers
/// from the requests at the edges of its chunks.
fn look_alike_line(
    (kind, path, project, root, user): (u8, usize, Option<usize>, Option<usize>, u8),
    n: usize,
) -> String {
    let (minute, second) = (n / 60, n % 60);
    let path = LOOK_ALIKE_PATHS[path];
    let mut meta = String::new();
    if let Some(p) = project {
        meta += &format!(r#","meta.project":"{}""#, LOOK_ALIKE_PROJECTS[p]);
    }
    if let Some(r) = root {
        meta += &format!(r#","meta.root_namespace":"{}""#, LOOK_ALIKE_ROOTS[r]);
    }
    // Every line is its own request: a shared correlation id would tie a look-alike's
    // line to a request in scope.
    match kind % 4 {
        0 | 1 => format!(
            r#"{{"method":"GET","path":"{path}","status":200,"time":"2026-03-14T20:{minute:02}:{second:02}.000Z","remote_ip":"198.51.100.{user}","user_id":{user},"username":"user{user}","ua":"Agent/{user}","correlation_id":"r{n}"{meta}}}"#
        ),
        2 => format!(
            r#"{{"correlation_id":"w{n}","method":"GET","msg":"access","remote_ip":"192.0.2.{user}","status":200,"time":"2026-03-14T20:{minute:02}:{second:02}Z","uri":"{path}","user_agent":"Agent/{user}"}}"#
        ),
        _ => format!(r#"{{"method":"GET","path":"{path}"{meta},"time":"2026-03-14T20:0"#),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// RULES.md §6 on a log where most lines name look-alikes of the owned namespace,
    /// some of them next to its true name: the fast path, which passes over the
    /// look-alikes unread, gives the reply a full parse gives.
    #[test]
    fn look_alikes_passed_over_change_no_reply(
        lines in proptest::collection::vec(
            (any::<u8>(), 0..LOOK_ALIKE_PATHS.len(), proptest::option::of(0..LOOK_ALIKE_PROJECTS.len()), proptest::option::of(0..LOOK_ALIKE_ROOTS.len()), 0u8..8),
            1..80,
        ),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("directory.json");
        std::fs::write(&dir, DIRECTORY).unwrap();
        let log = tmp.path().join("look-alikes.log");
        // Requests elsewhere open and close the log, so that its edges are requests.
        let edge = |time: &str| format!(r#"{{"method":"GET","path":"/dashboard","status":200,"time":"2026-03-14T{time}Z","correlation_id":"{time}"}}"#);
        let text: String = std::iter::once(edge("20:00:00"))
            .chain(lines.iter().enumerate().map(|(n, &l)| look_alike_line(l, n)))
            .chain([edge("20:59:59")])
            .map(|l| l + "\n")
            .collect();
        std::fs::write(&log, text).unwrap();
        let args: Vec<String> = ["summarize", "--requester", "alice@acme.example", "--directory"]
            .iter()
            .map(|a| (*a).to_owned())
            .chain([dir.display().to_string(), log.display().to_string()])
            .collect();
        assert_fast_path_agrees(&args);
    }
}
