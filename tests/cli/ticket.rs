//! `--ticket`, `--post-note` and `--chart` against a stub Zendesk on 127.0.0.1: the
//! ticket's requester checked both ways, the note posted as exactly one private
//! comment, the chart uploaded and attached, rate limits, refused credentials, a
//! ticket that does not exist, redirects, and the token in no output or file.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::thread;

use assert_cmd::Command;
use base64::Engine as _;
use serde_json::{Value, json};

use super::stories::IP_BLOCK;
use super::support::{QUICK_START, logbrief, root, stderr, stdout};

const AGENT: &str = "agent@support.example";
const TOKEN: &str = "zd-stub-token-Vq3mR8xK2pL7";
/// The ticket alice@acme.example wrote (her identity in another case).
const HERS: u64 = 4242;
/// A ticket someone else wrote.
const THEIRS: u64 = 4243;
/// What the other requester's email is: it must never be printed.
const OTHER_EMAIL: &str = "mallory@elsewhere.example";
const UPLOAD_TOKEN: &str = "upl-7f3a9c";

/// One request the stub received.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    url: String,
    authorized: bool,
    content_type: String,
    body: Vec<u8>,
}

/// A fault served once, to the first request of `method` whose address holds `at`.
struct Fault {
    method: &'static str,
    at: &'static str,
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
}

#[derive(Default)]
struct Shared {
    seen: Vec<Seen>,
    faults: Vec<Fault>,
}

struct Zendesk {
    base: String,
    shared: Arc<Mutex<Shared>>,
    server: Arc<tiny_http::Server>,
}

impl Drop for Zendesk {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn answer(method: &str, url: &str) -> (u16, Value) {
    let path = url.split('?').next().unwrap_or_default();
    match (method, path) {
        ("GET", "/api/v2/tickets/4242.json") => (
            200,
            json!({"ticket": {"id": HERS, "requester_id": 501, "subject": "Who accessed our project?"}}),
        ),
        ("GET", "/api/v2/tickets/4243.json") => {
            (200, json!({"ticket": {"id": THEIRS, "requester_id": 502}}))
        }
        ("GET", "/api/v2/users/501/identities.json") => (
            200,
            json!({"identities": [
                {"id": 1, "type": "phone_number", "value": "+1 555 0100", "verified": true},
                {"id": 2, "type": "email", "value": "Alice@ACME.example", "verified": true}
            ], "next_page": null, "count": 2}),
        ),
        ("GET", "/api/v2/users/502/identities.json") => (
            200,
            json!({"identities": [
                {"id": 3, "type": "email", "value": OTHER_EMAIL, "verified": true},
                {"id": 4, "type": "twitter", "value": "alice", "verified": true}
            ], "next_page": null}),
        ),
        ("POST", "/api/v2/uploads.json") => (
            201,
            json!({"upload": {"token": UPLOAD_TOKEN, "attachment": {"id": 9, "content_type": "image/svg+xml"}}}),
        ),
        ("PUT", "/api/v2/tickets/4242.json" | "/api/v2/tickets/4243.json") => {
            (200, json!({"ticket": {"id": HERS}, "audit": {"id": 77}}))
        }
        _ => (404, json!({"error": "RecordNotFound"})),
    }
}

impl Zendesk {
    fn start() -> Zendesk {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (srv, sh) = (Arc::clone(&server), Arc::clone(&shared));
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{AGENT}/token:{TOKEN}"))
        );
        thread::spawn(move || {
            for mut request in srv.incoming_requests() {
                let header = |name: &'static str| {
                    request
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv(name))
                        .map(|h| h.value.as_str().to_owned())
                        .unwrap_or_default()
                };
                let authorized = header("Authorization") == expected;
                let content_type = header("Content-Type");
                let method = request.method().as_str().to_owned();
                let url = request.url().to_owned();
                let mut body = Vec::new();
                let _ = request.as_reader().read_to_end(&mut body);
                let fault = {
                    let mut s = sh.lock().unwrap();
                    s.seen.push(Seen {
                        method: method.clone(),
                        url: url.clone(),
                        authorized,
                        content_type,
                        body,
                    });
                    let at = s
                        .faults
                        .iter()
                        .position(|f| f.method == method && url.contains(f.at));
                    at.map(|i| s.faults.remove(i))
                };
                let (status, headers, body) = match fault {
                    _ if !authorized => (
                        401,
                        Vec::new(),
                        json!({"error": "Couldn't authenticate you"}),
                    ),
                    Some(f) => (f.status, f.headers, json!({"error": "fault"})),
                    None => {
                        let (status, body) = answer(&method, &url);
                        (status, Vec::new(), body)
                    }
                };
                let mut response = tiny_http::Response::from_data(body.to_string().into_bytes())
                    .with_status_code(status);
                response.add_header(
                    tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap(),
                );
                for (k, v) in headers {
                    response.add_header(tiny_http::Header::from_bytes(k, v).unwrap());
                }
                let _ = request.respond(response);
            }
        });
        Zendesk {
            base: format!("http://127.0.0.1:{port}"),
            shared,
            server,
        }
    }

    fn fault(
        &self,
        method: &'static str,
        at: &'static str,
        status: u16,
        headers: &[(&'static str, &'static str)],
    ) {
        self.shared.lock().unwrap().faults.push(Fault {
            method,
            at,
            status,
            headers: headers.to_vec(),
        });
    }

    fn seen(&self) -> Vec<Seen> {
        self.shared.lock().unwrap().seen.clone()
    }

    /// The requests of one method.
    fn of(&self, method: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == method)
            .collect()
    }
}

/// The binary with Zendesk configured to `zendesk` as the agent, with `token`.
fn with_zendesk(zendesk: &Zendesk, token: &str) -> Command {
    let mut cmd = logbrief();
    cmd.env("ZENDESK_URL", &zendesk.base)
        .env("ZENDESK_EMAIL", AGENT)
        .env("ZENDESK_API_TOKEN", token);
    cmd
}

/// The quick start (Alice about acme, the bundled logs) with `extra` flags.
fn quick_start(cmd: &mut Command, extra: &[&str]) -> Output {
    cmd.args(&QUICK_START[..QUICK_START.len() - 3])
        .args(extra)
        .args(&QUICK_START[QUICK_START.len() - 3..])
        .output()
        .unwrap()
}

/// The IP-block story on the bundled JSON logs, with `extra` flags.
fn ip_block(cmd: &mut Command, extra: &[&str]) -> Output {
    let (flags, logs) = IP_BLOCK.split_at(IP_BLOCK.len() - 3);
    cmd.args(flags).args(extra).args(logs).output().unwrap()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Nothing a run printed or wrote holds the token, or the credentials as they are sent.
fn assert_no_token(out: &Output, files: &[&Path]) {
    let sent = base64::engine::general_purpose::STANDARD.encode(format!("{AGENT}/token:{TOKEN}"));
    let mut texts = vec![stdout(out), stderr(out)];
    texts.extend(files.iter().filter_map(|f| std::fs::read_to_string(f).ok()));
    for text in texts {
        assert!(!text.contains(TOKEN) && !text.contains(&sent), "{text}");
    }
}

/// The quick start about `ticket`, its note written to `note` and posted.
fn post_quick_start(zendesk: &Zendesk, ticket: &str, note: &Path) -> Output {
    let note = path_str(note);
    let flags = ["--ticket", ticket, "--post-note", "--internal-note", note];
    quick_start(&mut with_zendesk(zendesk, TOKEN), &flags)
}

/// The one comment the stub was given, as JSON.
fn only_comment(zendesk: &Zendesk) -> Value {
    let puts = zendesk.of("PUT");
    assert_eq!(puts.len(), 1, "{puts:?}");
    assert_eq!(puts[0].content_type, "application/json");
    serde_json::from_slice(&puts[0].body).unwrap()
}

#[test]
fn the_note_goes_to_the_ticket_as_one_private_comment() {
    let zendesk = Zendesk::start();
    let tmp = tempfile::tempdir().unwrap();
    let note = tmp.path().join("note.md");
    let out = post_quick_start(&zendesk, "4242", &note);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("requests"), "the reply is printed");
    assert!(
        stderr(&out).contains("the internal note was added to ticket 4242 as a private comment")
    );
    // The requester first, then the one comment; the reply itself is never sent.
    let order: Vec<(String, String)> = zendesk
        .seen()
        .iter()
        .map(|s| {
            (
                s.method.clone(),
                s.url.split('?').next().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("GET", "/api/v2/tickets/4242.json"),
        ("GET", "/api/v2/users/501/identities.json"),
        ("PUT", "/api/v2/tickets/4242.json"),
    ];
    assert_eq!(
        order,
        want.map(|(m, u)| (m.to_owned(), u.to_owned())).to_vec()
    );
    let comment = &only_comment(&zendesk)["ticket"]["comment"];
    assert_eq!(comment["public"], json!(false));
    assert!(comment.get("uploads").is_none());
    let html = comment["html_body"].as_str().unwrap();
    let note_text = std::fs::read_to_string(&note).unwrap();
    assert!(note_text.contains(&format!(
        "- Ticket: 4242, {}/agent/tickets/4242\n",
        zendesk.base
    )));
    assert!(note_text.contains(
        "The requester of ticket 4242 has this email as an identity in Zendesk (verified there)."
    ));
    // Every line of the note is in the comment, as HTML.
    assert!(
        html.contains("<strong>logbrief internal note</strong>"),
        "{html}"
    );
    for line in note_text.lines().filter(|l| l.starts_with("- ")) {
        let words: String = line[2..].chars().filter(|c| !"`*".contains(*c)).collect();
        let plain = words
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let html_plain: String = html
            .replace("<code>", "")
            .replace("</code>", "")
            .replace("<strong>", "")
            .replace("</strong>", "")
            .replace("&quot;", "\"");
        assert!(html_plain.contains(plain.trim()), "{line}\nnot in\n{html}");
    }
    assert!(
        !html.contains(&stdout(&out)[..40]),
        "the reply is not posted"
    );
    assert_no_token(&out, &[&note]);
}

#[test]
fn a_ticket_written_by_someone_else_is_refused_before_anything_is_posted() {
    let zendesk = Zendesk::start();
    let tmp = tempfile::tempdir().unwrap();
    let note = tmp.path().join("note.md");
    let out = post_quick_start(&zendesk, "4243", &note);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains(
            "the requester of ticket 4243 has no email identity in Zendesk equal to \
             alice@acme.example"
        ),
        "{err}"
    );
    assert!(
        !err.contains(OTHER_EMAIL) && !err.contains("elsewhere"),
        "{err}"
    );
    assert!(zendesk.of("PUT").is_empty() && zendesk.of("POST").is_empty());
    assert!(!note.exists(), "nothing was read, nothing written");
    assert_no_token(&out, &[]);

    // verify says the same, both ways.
    let verify = |ticket: &str, format: &str| {
        with_zendesk(&zendesk, TOKEN)
            .args([
                "verify",
                "--requester",
                "alice@acme.example",
                "--directory",
                "fixtures/directory.json",
                "--ticket",
                ticket,
                "--format",
                format,
            ])
            .output()
            .unwrap()
    };
    let refused = verify("4243", "text");
    assert_eq!(refused.status.code(), Some(3));
    assert!(refused.stdout.is_empty() && !stderr(&refused).contains(OTHER_EMAIL));
    let accepted = verify("4242", "text");
    assert_eq!(accepted.status.code(), Some(0), "{}", stderr(&accepted));
    let json = verify("4242", "json");
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        json["ticket"],
        json!({"id": 4242, "requester_checked": true})
    );
    assert!(
        stdout(&accepted)
            .contains("ticket 4242: its requester in Zendesk has this email as an identity")
    );
}

#[test]
fn the_chart_is_uploaded_first_and_attached_by_its_token() {
    let zendesk = Zendesk::start();
    let tmp = tempfile::tempdir().unwrap();
    let (note, chart) = (tmp.path().join("note.md"), tmp.path().join("blocks.svg"));
    let out = ip_block(
        &mut with_zendesk(&zendesk, TOKEN),
        &[
            "--ticket",
            "4242",
            "--post-note",
            "--internal-note",
            path_str(&note),
            "--chart",
            path_str(&chart),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let seen = zendesk.seen();
    let upload = seen.iter().position(|s| s.method == "POST").unwrap();
    let comment = seen.iter().position(|s| s.method == "PUT").unwrap();
    assert!(upload < comment, "the upload comes first");
    assert_eq!(seen[upload].url, "/api/v2/uploads.json?filename=blocks.svg");
    assert_eq!(seen[upload].content_type, "image/svg+xml");
    assert_eq!(seen[upload].body, std::fs::read(&chart).unwrap());
    let body = only_comment(&zendesk);
    assert_eq!(body["ticket"]["comment"]["uploads"], json!([UPLOAD_TOKEN]));
    assert_eq!(body["ticket"]["comment"]["public"], json!(false));
    let note_text = std::fs::read_to_string(&note).unwrap();
    assert!(note_text.contains(&format!(
        "- Chart: `{}`, requests over time by status class (counts only)",
        chart.display()
    )));
    assert!(stderr(&out).contains("as a private comment, with the chart"));
    assert_no_token(&out, &[&note, &chart]);
}

#[test]
fn rate_limits_and_server_errors_are_waited_out() {
    let zendesk = Zendesk::start();
    zendesk.fault("GET", "/tickets/4242", 503, &[]);
    zendesk.fault("GET", "/identities", 429, &[("Retry-After", "1")]);
    zendesk.fault("PUT", "/tickets/4242", 429, &[("Retry-After", "1")]);
    let tmp = tempfile::tempdir().unwrap();
    let note = tmp.path().join("note.md");
    let started = std::time::Instant::now();
    let out = post_quick_start(&zendesk, "4242", &note);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "Retry-After kept to"
    );
    let err = stderr(&out);
    assert!(
        err.contains("Zendesk: HTTP 429 (rate limited); trying again in 1.0 s"),
        "{err}"
    );
    assert!(err.contains("Zendesk: HTTP 503; trying again"), "{err}");
    // Two tries of the comment, one refused before it was taken: one comment.
    assert_eq!(zendesk.of("PUT").len(), 2);
    assert!(zendesk.of("GET").len() == 4);
    assert_no_token(&out, &[&note]);
}

#[test]
fn a_comment_that_may_have_been_taken_is_not_sent_twice() {
    let zendesk = Zendesk::start();
    zendesk.fault("PUT", "/tickets/4242", 500, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let note = tmp.path().join("note.md");
    let out = post_quick_start(&zendesk, "4242", &note);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        zendesk.of("PUT").len(),
        1,
        "not retried: it may have been added"
    );
    assert!(stdout(&out).contains("requests"), "the reply stays printed");
    assert!(note.exists(), "the note stays written");
    let err = stderr(&out);
    assert!(
        err.contains("PUT /api/v2/tickets/4242.json: HTTP 500"),
        "{err}"
    );
    assert!(err.contains("the server may have acted on it, so it was not sent again"));
    assert!(err.contains(&format!(
        "the internal note is in {}: check ticket 4242 and add the note",
        note.display()
    )));
    assert_no_token(&out, &[&note]);
}

#[test]
fn refused_credentials_name_the_variables_and_read_nothing() {
    let zendesk = Zendesk::start();
    let wrong = "zd-wrong-token-Kx82";
    let out = quick_start(&mut with_zendesk(&zendesk, wrong), &["--ticket", "4242"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("Zendesk: GET /api/v2/tickets/4242.json: HTTP 401: the credentials were refused; check ZENDESK_EMAIL"),
        "{err}"
    );
    assert!(
        err.contains("ZENDESK_API_TOKEN") && !err.contains(wrong),
        "{err}"
    );
    assert_eq!(zendesk.seen().len(), 1);
    assert_no_token(&out, &[]);
}

#[test]
fn a_ticket_that_does_not_exist_and_a_redirect_are_refused() {
    let zendesk = Zendesk::start();
    let out = quick_start(&mut with_zendesk(&zendesk, TOKEN), &["--ticket", "999"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("ticket 999 does not exist in Zendesk"),
        "{}",
        stderr(&out)
    );

    zendesk.fault(
        "GET",
        "/tickets/4242",
        302,
        &[("Location", "/api/v2/tickets/4243.json")],
    );
    let out = quick_start(&mut with_zendesk(&zendesk, TOKEN), &["--ticket", "4242"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("HTTP 302: a redirect, not followed"),
        "{}",
        stderr(&out)
    );
    assert!(
        !zendesk.seen().iter().any(|s| s.url.contains("4243")),
        "the redirect was not followed"
    );
    assert!(zendesk.seen().iter().all(|s| s.authorized));
}

#[test]
fn flags_that_cannot_work_are_usage_errors() {
    let zendesk = Zendesk::start();
    let tmp = tempfile::tempdir().unwrap();
    let note = tmp.path().join("note.md");
    let note = path_str(&note);
    for (extra, why) in [
        (vec!["--ticket", "0"], "0 is not in 1.."),
        (vec!["--ticket", "-4"], ""),
        (vec!["--ticket", "42a"], "invalid digit"),
        (vec!["--post-note", "--internal-note", note], "--ticket"),
        (vec!["--ticket", "4242", "--post-note"], "--internal-note"),
        (
            vec!["--template", "audit", "--chart", "x.svg"],
            "--chart draws requests",
        ),
        (
            vec!["--chart", "fixtures/logs/workhorse.log"],
            "is also an input",
        ),
        (
            vec!["--chart", note, "--internal-note", note],
            "are the same file",
        ),
    ] {
        let out = quick_start(&mut logbrief(), &extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{extra:?}: {}", stderr(&out));
    }
    // Posting needs Zendesk; half a configuration is refused before anything is read.
    let out = quick_start(
        &mut logbrief(),
        &["--ticket", "4242", "--post-note", "--internal-note", note],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--post-note needs Zendesk"));
    let mut half = logbrief();
    half.env("ZENDESK_URL", &zendesk.base)
        .env("ZENDESK_API_TOKEN", TOKEN);
    let out = quick_start(&mut half, &["--ticket", "4242"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("ZENDESK_API_TOKEN is set but ZENDESK_EMAIL is not"));
    let mut clear = logbrief();
    clear
        .env("ZENDESK_URL", "http://example.zendesk.com")
        .env("ZENDESK_EMAIL", AGENT)
        .env("ZENDESK_API_TOKEN", TOKEN);
    let out = quick_start(&mut clear, &["--ticket", "4242"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("use https"), "{}", stderr(&out));
    assert!(zendesk.seen().is_empty());
    assert_no_token(&out, &[]);
}

#[test]
fn without_zendesk_the_note_records_the_ticket_unchecked() {
    let tmp = tempfile::tempdir().unwrap();
    let note = tmp.path().join("note.md");
    let config = tmp.path().join("logbrief.toml");
    std::fs::write(&config, "zendesk_url = \"example.zendesk.com\"\n").unwrap();
    let out = quick_start(
        &mut logbrief(),
        &[
            "--config",
            path_str(&config),
            "--ticket",
            "4242",
            "--internal-note",
            path_str(&note),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("the requester of ticket 4242 was not checked"));
    let text = std::fs::read_to_string(&note).unwrap();
    assert!(text.contains(
        "- Ticket: 4242, https://example.zendesk.com/agent/tickets/4242 (its requester was not checked: Zendesk is not configured)\n"
    ), "{text}");
    assert!(text.contains("This is the directory check only"));
    // The JSON reply gains nothing from the ticket.
    let plain = quick_start(&mut logbrief(), &["--format", "json"]);
    let with = quick_start(&mut logbrief(), &["--format", "json", "--ticket", "4242"]);
    assert_eq!(plain.stdout, with.stdout);
}

/// The SVG's text, and its elements' names.
fn read_svg(path: &Path) -> (String, Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("the chart is XML");
    let svg = doc.root_element();
    assert_eq!(svg.tag_name().name(), "svg");
    assert_eq!(
        svg.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let names = svg
        .descendants()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name().to_owned())
        .collect();
    let words = svg
        .descendants()
        .filter(|n| n.is_text())
        .map(|n| n.text().unwrap_or_default().trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    (text, names, words)
}

/// The number of requests the chart's title gives.
fn charted_total(words: &[String]) -> u64 {
    let title = &words[0];
    let n = title.split(": ").nth(1).unwrap().split(' ').next().unwrap();
    n.replace(',', "").parse().unwrap()
}

#[test]
fn the_chart_is_svg_of_counts_only_and_agrees_with_the_reply() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, PathBuf); 3] = [
        ("access", tmp.path().join("access.svg")),
        ("high-load", tmp.path().join("high-load.svg")),
        ("ip-block", tmp.path().join("ip-block.svg")),
    ];
    let inputs: Vec<String> = QUICK_START[QUICK_START.len() - 3..]
        .iter()
        .chain(IP_BLOCK[IP_BLOCK.len() - 3..].iter())
        .chain(["fixtures/directory.json"].iter())
        .map(|f| std::fs::read_to_string(root().join(f)).unwrap_or_default())
        .collect();
    let ip = regex::Regex::new(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b").unwrap();
    for (story, chart) in &cases {
        let chart_flag = ["--chart", path_str(chart), "--format", "json"];
        let out = if *story == "ip-block" {
            ip_block(&mut logbrief(), &chart_flag)
        } else {
            quick_start(
                &mut logbrief(),
                &[&["--template", story][..], &chart_flag].concat(),
            )
        };
        assert_eq!(out.status.code(), Some(0), "{story}: {}", stderr(&out));
        let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
        let (text, names, words) = read_svg(chart);
        assert!(
            names.iter().filter(|n| *n == "rect").count() > 3,
            "{story}: bars"
        );
        assert_eq!(names[1], "title", "the title comes first");
        let counted = if *story == "ip-block" {
            reply["ip_block"]["accesses"].as_u64().unwrap()
        } else {
            reply["counts"]["accesses"].as_u64().unwrap()
        };
        assert!(counted > 0);
        assert_eq!(charted_total(&words), counted, "{story}: {words:?}");
        if *story == "ip-block" {
            assert!(
                words.iter().any(|w| w == "refused: 401, 403, 429"),
                "{words:?}"
            );
        }
        // Nothing personal and no path: no address, no email, no name of the inputs.
        assert!(!ip.is_match(&words.join("\n")), "{story}: {words:?}");
        assert!(!text.contains('@') && !text.contains("acme"), "{story}");
        for input in &inputs {
            for value in input
                .split(|c: char| !(c.is_alphanumeric() || "._-/:@".contains(c)))
                .filter(|v| v.len() > 6 && (v.contains('@') || v.contains('/') || v.contains('.')))
            {
                assert!(
                    !words.iter().any(|w| w.contains(value)),
                    "{story}: {value} charted"
                );
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(chart).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

#[test]
fn a_wait_longer_than_logbrief_waits_stops_the_run() {
    let zendesk = Zendesk::start();
    zendesk.fault("GET", "/tickets/4242", 429, &[("Retry-After", "3600")]);
    let out = quick_start(&mut with_zendesk(&zendesk, TOKEN), &["--ticket", "4242"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("Zendesk asks to wait longer than logbrief waits for it (60 s)"),
        "{err}"
    );
    assert!(!err.contains("--max-wait"), "{err}");
    assert_eq!(zendesk.seen().len(), 1);
}
