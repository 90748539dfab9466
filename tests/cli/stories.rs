//! What each story tells: the handbook's two examples (access from the office, an
//! ip-block), high load with countries, audit events; small counts shown as "fewer
//! than K", and crafted paths escaped in markdown.

use serde_json::Value;

use super::assert_reply_snapshot;
use super::support::{
    Summarize, assert_fast_path_agrees, expected, input_formats, json_of, logbrief, root, stderr,
    stdout, summarize_args, with,
};

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
    let office = Summarize::quick_start_flags().arg(&log);
    let out = office.run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_reply_snapshot("access_all_from_office", &stdout(&out));
    let json = office.json();
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
    let out = Summarize::new()
        .namespaces(&[])
        .args([
            "--exclude-domain",
            "acme.example",
            "--exclude-user",
            "carol",
            "--exclude-user",
            "erin",
        ])
        .arg(&log)
        .run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_reply_snapshot("access_all_from_known_accounts", &stdout(&out));
}

pub(crate) const IP_BLOCK: &[&str] = &[
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
        assert_reply_snapshot(name, &reply);
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
    let args = with(IP_BLOCK, &[]);
    let v = json_of(&args);
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
    let high_load = Summarize::new()
        .namespaces(&[])
        .args([
            "--template",
            "high-load",
            "--geoip",
            "fixtures/geoip/GeoIP2-Country-Test.mmdb",
        ])
        .arg("fixtures/geo/production_json.log");
    for (format, name) in [
        ("markdown", "high_load_markdown"),
        ("text", "high_load_text"),
    ] {
        let out = high_load.clone().format(format).run();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_reply_snapshot(name, &stdout(&out));
    }
    let v = high_load.json();
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
    let got = super::support::folded(&assert_fast_path_agrees(&summarize_args(&args)));
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
    assert_reply_snapshot("audit_markdown", &stdout(&out));
    let out = logbrief()
        .args(&args)
        .args(["--format", "text"])
        .output()
        .unwrap();
    assert_reply_snapshot("audit_text", &stdout(&out));

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
fn small_counts_can_be_shown_as_fewer_than_k() {
    let min_count = |k: &str| Summarize::quick_start().args(["--details", "--min-count", k]);
    let out = min_count("5").format("text").run();
    assert!(out.status.success(), "{}", stderr(&out));
    let reply = stdout(&out);
    assert_reply_snapshot("access_min_count", &reply);
    // No count from 1 to 4 is left as a number; plurals follow "fewer than".
    for n in 1..5 {
        for unit in ["request", "user", "unique IP address", "signed-in user"] {
            assert!(!reply.contains(&format!(" {n} {unit}")), "{n} {unit}");
        }
    }
    assert!(!reply.contains("fewer than 5 request ") && !reply.contains("fewer than 5 request,"));
    let json = min_count("5").format("json").run();
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["excluded"]["ip"]["users"], "fewer than 5");
    assert_eq!(v["counts"]["accesses"], 69);
    // The inputs' own line counts stay exact.
    assert!(v["inputs"][0]["malformed"].is_u64());
    let bad = min_count("1").run();
    assert_eq!(bad.status.code(), Some(2));
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
    let out = Summarize::new()
        .directory(&dir)
        .namespaces(&[])
        .arg("fixtures/logs/production_json.log")
        .run();
    assert!(out.status.success(), "{}", stderr(&out));
    let reply = stdout(&out);
    assert!(reply.contains(r"\[click\]\(https:"), "{reply}");
    assert!(
        !reply.contains("{{") && !reply.contains("[click]("),
        "{reply}"
    );
}

#[test]
fn greeting_and_sign_off_come_from_the_team_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("logbrief.toml");
    let reply = |toml: &str, format: &str| {
        std::fs::write(&config, toml).unwrap();
        let out = Summarize::quick_start()
            .arg("--config")
            .arg(&config)
            .format(format)
            .run();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    // Without a word in the file, a reply opens with "Hello," and has no sign-off.
    let plain = reply("", "markdown");
    assert!(plain.starts_with("Hello,\n\n"), "{plain}");
    // An empty greeting leaves it out, for a Zendesk macro that adds its own.
    let bare = reply(
        "greeting = \"\"\nsign_off = \"Best regards, the Support team\"\n",
        "text",
    );
    assert!(
        bare.starts_with("Leaving out the list you gave us"),
        "{bare}"
    );
    assert!(
        bare.ends_with("IP addresses.\n\nBest regards, the Support team\n"),
        "{bare}"
    );
    // The team's words are data: escaped for markdown, and checked by the guard.
    let escaped = reply("greeting = \"Hi *there*,\"\n", "markdown");
    assert!(escaped.starts_with("Hi \\*there\\*,\n\n"), "{escaped}");
    std::fs::write(&config, "sign_off = \"Ask carol@contractor.example\"\n").unwrap();
    let out = Summarize::quick_start().arg("--config").arg(&config).run();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
}

#[test]
fn counts_read_with_thousands_separators() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("production_json.log");
    let lines: String = (0..1_234)
        .map(|i| {
            format!(
                r#"{{"method":"GET","path":"/acme/platform/api","status":200,"time":"2026-03-14T20:{:02}:{:02}.000Z","remote_ip":"198.51.100.{}","correlation_id":"t{i}"}}"#,
                i / 60 % 60,
                i % 60,
                i % 200
            ) + "\n"
        })
        .collect();
    std::fs::write(&log, lines).unwrap();
    let out = Summarize::new().files([&log]).arg("--details").run();
    assert!(out.status.success(), "{}", stderr(&out));
    let reply = stdout(&out);
    assert!(reply.contains("**1,234 requests** reached acme"), "{reply}");
    assert!(reply.contains("- 1,234 web page views"), "{reply}");
}
