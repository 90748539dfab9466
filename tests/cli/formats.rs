//! Every input format gives the same numbers: the format variants of one set of
//! requests, thousands of mixed lines, several formats in one run, quoted globs, format
//! hints, and hostile lines that are malformed rather than fatal.

use serde_json::Value;

use super::support::{
    QUICK_START, Summarize, assert_excluded_matches, assert_fast_path_agrees,
    assert_matches_labels, input_formats, logbrief, root, stderr,
};

#[test]
fn thousands_of_mixed_lines_match_the_generators_labels() {
    assert_matches_labels("mixed");
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
        let got = super::support::folded(&assert_fast_path_agrees(&args));
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
fn several_formats_in_one_run() {
    let files = [
        "fixtures/logs/production_json.log",
        "fixtures/formats/nginx/gitlab_access.log",
        "fixtures/formats/kibana/export.csv",
        "fixtures/audit/streaming.ndjson",
        "fixtures/mixed/workhorse.log.gz",
    ];
    let all = Summarize::quick_start_flags().files(files).json();
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
            Summarize::quick_start_flags().args(story).json()["reconciliation"]["lines"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(all["reconciliation"]["lines"].as_u64().unwrap(), one_by_one);
}

#[test]
fn quoted_globs_are_expanded_in_name_order() {
    let by_glob = Summarize::quick_start_flags()
        .arg("fixtures/logs/*.log*")
        .json();
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
    let by_name = Summarize::quick_start().json();
    assert_eq!(by_glob["counts"], by_name["counts"]);
    let out = Summarize::quick_start_flags()
        .arg("fixtures/logs/*.nothing")
        .run();
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("no file matches"), "{}", stderr(&out));
}

#[test]
fn a_format_hint_overrides_detection() {
    let detected = Summarize::quick_start_flags()
        .arg("fixtures/logs/workhorse.log")
        .json();
    let hinted = Summarize::quick_start_flags()
        .args(["--format-hint", "workhorse", "fixtures/logs/workhorse.log"])
        .json();
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
            let mut summarize = Summarize::quick_start_flags().args(["--format-hint", hint, file]);
            if parse_all {
                summarize = summarize.arg("--parse-all");
            }
            let out = summarize.run();
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

    let v = Summarize::quick_start_flags()
        .files([&nested, &utf8, &bomb])
        .json();
    assert_eq!(v["reconciliation"]["malformed"], 8);
}

/// `text` as a log archive stores it: each line that is JSON becomes the `jsonPayload`
/// of a Cloud Logging `LogEntry`, byte for byte (repeated keys, escapes and all). The
/// entry's `timestamp` is a receive time later than every line's own `time`, which
/// must win; a line without a `time` string gets none, so that it stays the malformed
/// request it is unwrapped. Lines that are not JSON (Rails' plain-text lines, a line
/// cut off) and blank lines are kept as they are: an archive cannot hold them as JSON.
pub(crate) fn archived(text: &str) -> String {
    text.split('\n')
        .enumerate()
        .map(|(n, line)| {
            let Ok(value) = serde_json::from_str::<Value>(line) else {
                return line.to_owned();
            };
            let timestamp = if value["time"].is_string() {
                r#""timestamp":"2026-04-30T23:59:59.999Z","#
            } else {
                ""
            };
            format!(
                r#"{{"insertId":"e{n}","jsonPayload":{line},{timestamp}"receiveTimestamp":"2026-04-30T23:59:59.999Z","resource":{{"type":"gce_instance","labels":{{"instance_id":"4711","zone":"europe-west1-b"}}}},"severity":"INFO","logName":"projects/support/logs/gitlab"}}"#
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The quick start's logs, every line wrapped as a log archive stores it, give the
/// summary the logs themselves give, with the prefilter and with `--parse-all`.
#[test]
fn lines_wrapped_in_a_json_payload_give_the_same_numbers() {
    assert_rewritten_logs_give_the_same_numbers(archived);
}

/// `text` as a search index's documents hold it (each document's `_source`, one a
/// line): each line that is a JSON object becomes a document, its object under `json`
/// byte for byte, or flattened (each of its keys prefixed with `json.`), beside the
/// shipper's `type` and `host`. The document's `@timestamp` is an index time later than
/// every line's own `time`, which must win; a line without a `time` string gets none,
/// so that it stays the malformed request it is unwrapped. Other lines are kept as they
/// are.
fn indexed(text: &str, flattened: bool) -> String {
    text.split('\n')
        .map(|line| {
            let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(line) else {
                return line.to_owned();
            };
            let mut doc = serde_json::Map::new();
            if fields.get("time").is_some_and(Value::is_string) {
                doc.insert("@timestamp".into(), "2026-04-30T23:59:59.999Z".into());
            }
            let kind = if fields.contains_key("msg") {
                "workhorse"
            } else {
                "rails"
            };
            doc.insert("type".into(), kind.into());
            doc.insert("host".into(), "web-01".into());
            if flattened {
                for (key, value) in fields {
                    doc.insert(format!("json.{key}"), value);
                }
                return Value::Object(doc).to_string();
            }
            // The line's own bytes under `json`, repeated keys and escapes and all.
            let shipper = Value::Object(doc).to_string();
            format!(r#"{{"json":{line},{}"#, &shipper[1..])
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The quick start's logs as a search index's documents hold them, the line under
/// `json` or flattened into `json.` keys, give the summary the logs themselves give,
/// with the prefilter and with `--parse-all`.
#[test]
fn lines_held_in_search_index_documents_give_the_same_numbers() {
    assert_rewritten_logs_give_the_same_numbers(|text| indexed(text, false));
    assert_rewritten_logs_give_the_same_numbers(|text| indexed(text, true));
}

/// Requires the quick start's logs, each rewritten by `rewrite` (and compressed again
/// where they are), to give the summary the logs themselves give but for the inputs'
/// names and hashes, with the prefilter and with `--parse-all`.
fn assert_rewritten_logs_give_the_same_numbers(rewrite: impl Fn(&str) -> String) {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    let files = &QUICK_START[QUICK_START.len() - 3..];
    let mut rewritten = Vec::new();
    for file in files {
        let stored = std::fs::read(root().join(file)).unwrap();
        let path = tmp
            .path()
            .join(std::path::Path::new(file).file_name().unwrap());
        let out = if file.ends_with(".gz") {
            let mut text = String::new();
            flate2::read::GzDecoder::new(&stored[..])
                .read_to_string(&mut text)
                .unwrap();
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), Default::default());
            enc.write_all(rewrite(&text).as_bytes()).unwrap();
            enc.finish().unwrap()
        } else {
            rewrite(std::str::from_utf8(&stored).unwrap()).into_bytes()
        };
        assert_ne!(out, stored, "{file}");
        std::fs::write(&path, out).unwrap();
        rewritten.push(path);
    }
    // Everything but the inputs' names and hashes.
    let summary = |run: Summarize| {
        let mut v = run.json();
        for input in v["inputs"].as_array_mut().unwrap() {
            let input = input.as_object_mut().unwrap();
            input.remove("name");
            input.remove("sha256");
        }
        v
    };
    for extra in [&[][..], &["--parse-all"][..]] {
        let plain = summary(Summarize::quick_start().args(extra));
        let got = summary(Summarize::quick_start_flags().args(extra).files(&rewritten));
        assert!(plain["counts"]["accesses"].as_u64().unwrap() > 0);
        assert_eq!(got["reconciliation"], plain["reconciliation"], "{extra:?}");
        assert_eq!(got["counts"], plain["counts"], "{extra:?}");
        assert_eq!(got, plain, "{extra:?}");
    }
}
