//! `logbrief fetch` against a stub GitLab on 127.0.0.1: responses shaped like the
//! REST API's, pages joined by `Link` headers, and the faults a real instance shows
//! (429 with Retry-After, 500, a slow answer, a broken page). No network beyond
//! loopback.

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::{Value, json};

const TOKEN: &str = "glpat-stub-7xQ2mZr9LkP4";

/// A fault served once, to the first request whose path and query contain `at`.
#[derive(Clone)]
enum Fault {
    Status(u16, Option<&'static str>),
    /// A 429 with these headers.
    Limited(Vec<(&'static str, String)>),
    Slow(Duration),
    Malformed,
    Redirect,
}

/// How a hostile stub lies, on every answer it gives.
#[derive(Clone, Default)]
struct Mode {
    /// How the audit pages point to the next one.
    links: Links,
    /// Audit events whatever `created_after` and `created_before` say.
    ignore_window: bool,
    /// Each audit page from the second on starts with the last event of the page
    /// before, its id written as a string (`"190"`).
    repeat_as_string: bool,
    /// The first event of the second audit page, replaced.
    bad_event: Option<Value>,
    /// The parent of `northwind` (60) is `northwind/platform` (61): a loop.
    ancestor_loop: bool,
    /// `northwind/platform` (61) is its own parent.
    self_parent: bool,
    /// The projects of northwind never end: every page has new ones and a next.
    endless_projects: bool,
    /// Audit pages of this many MiB of JSON once decompressed, sent as gzip.
    gzip_mib: Option<usize>,
    /// Audit pages of this many `{}`.
    flood: Option<usize>,
}

/// How the audit pages point to the next one.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
enum Links {
    /// `Link` with the absolute address, as GitLab does.
    #[default]
    Absolute,
    /// `Link: <audit_events?…>`: relative to the page's address.
    Relative,
    /// `Link: <?…>`: the query alone.
    QueryOnly,
    /// `Link` to `/api/v4/../../admin/…`.
    DotDot,
    /// `Link` to `/api/v4/%2e%2e/%2e%2e/admin/…`.
    EncodedDots,
    /// `Link` to the same route on another host (an uppercase host is the same).
    OtherHost,
    /// `Link` with `&private_token=<the token>` added.
    WithToken,
    /// `Link` with `&email=<someone's>` added; the page it points to fails.
    WithEmail,
    /// Offset pages, `X-Next-Page`, `X-Page` and `X-Total-Pages`, no `Link`.
    HeadersOnly,
    /// Offset pages, `X-Page` and `X-Total-Pages` only.
    TotalPagesOnly,
    /// Empty pages, each with a next link, for ever.
    Empty,
    /// The first page again and again, under a new cursor each time.
    Same,
    /// The same cursor with a new junk parameter each time.
    Junk,
}

#[derive(Default)]
struct Shared {
    mode: Mode,
    faults: Vec<(String, Fault)>,
    /// From this audit page on, every answer is a 500.
    broken_from_page: Option<usize>,
    /// `(path and query, when, whether the token was right)` of every request.
    seen: Vec<(String, Instant, bool)>,
}

struct Stub {
    base: String,
    shared: Arc<Mutex<Shared>>,
    server: Arc<tiny_http::Server>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// Audit events per page, whatever `per_page` asks: small, so a test has many pages.
const PAGE: usize = 40;
/// The stub's events, newest first as the API returns them.
const EVENTS: u64 = 230;

fn event(id: u64) -> Value {
    // Spread over March 2026, one every three hours, ids in time order.
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00.123Z").unwrap()
        + chrono::Duration::hours(3 * i64::try_from(id).unwrap());
    let (entity_path, entity_type, entity_id) = match id % 3 {
        0 => ("northwind/platform/api", "Project", 7),
        1 => ("northwind/platform", "Group", 61),
        _ => ("northwind", "Group", 60),
    };
    let author = 1 + id % 4;
    let action = match id % 5 {
        0 => json!({"add": "user_access", "as": "Developer"}),
        1 => json!({"change": "visibility", "from": "Private", "to": "Public"}),
        2 => json!({"custom_message": "Project archived"}),
        3 => json!({"remove": "user_access"}),
        _ => json!({"change": "access_level", "from": "Developer", "to": "Maintainer"}),
    };
    let mut details = json!({
        "author_name": format!("Stub Person {author}"),
        "author_email": format!("person{author}@customer.example"),
        "target_id": entity_id,
        "target_type": entity_type,
        "target_details": entity_path,
        "ip_address": format!("198.51.100.{author}"),
        "entity_path": entity_path,
    });
    for (k, v) in action.as_object().unwrap() {
        details[k] = v.clone();
    }
    json!({
        "id": id,
        "author_id": author,
        "entity_id": entity_id,
        "entity_type": entity_type,
        "details": details,
        "created_at": at.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

fn query_of(url: &str) -> HashMap<String, String> {
    url.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace("%3A", ":")))
        .collect()
}

/// An audit page: events newest first, after the cursor, within the window.
fn audit_page(base: &str, url: &str) -> (Value, Option<String>, usize) {
    let (page, next, page_no, _) = audit_page_as(base, url, &Mode::default());
    (page, next, page_no)
}

/// An audit page as `mode` serves it: the events, the `Link` target of the next page
/// (or none), the page's number, and the headers beside `Link`.
fn audit_page_as(
    base: &str,
    url: &str,
    mode: &Mode,
) -> (Value, Option<String>, usize, Vec<(&'static str, String)>) {
    let q = query_of(url);
    let after = q
        .get("created_after")
        .cloned()
        .filter(|_| !mode.ignore_window);
    let before = q
        .get("created_before")
        .cloned()
        .filter(|_| !mode.ignore_window);
    let offset_page: Option<usize> = q.get("page").and_then(|p| p.parse().ok());
    let offset = matches!(mode.links, Links::HeadersOnly | Links::TotalPagesOnly);
    let cursor: u64 = q
        .get("cursor")
        .and_then(|c| c.strip_prefix("eyJpZCI6"))
        .and_then(|c| c.parse().ok())
        .unwrap_or(EVENTS + 1);
    let in_window = |e: &Value| {
        let t = e["created_at"].as_str().unwrap().to_owned();
        let t = &t[..19];
        after.as_deref().is_none_or(|a| t >= &a[..19])
            && before.as_deref().is_none_or(|b| t <= &b[..19])
    };
    let (rest, page_no): (Vec<Value>, usize) = if offset {
        let n = offset_page.unwrap_or(1);
        let all: Vec<Value> = (1..=EVENTS).rev().map(event).filter(in_window).collect();
        (all.into_iter().skip((n - 1) * PAGE).collect(), n)
    } else if matches!(mode.links, Links::Same) {
        ((1..=EVENTS).rev().map(event).collect(), 1)
    } else {
        let rest = (1..cursor).rev().map(event).filter(in_window).collect();
        (
            rest,
            usize::try_from((EVENTS + 1).saturating_sub(cursor) / PAGE as u64).unwrap() + 1,
        )
    };
    let mut page: Vec<Value> = rest.iter().take(PAGE).cloned().collect();
    if matches!(mode.links, Links::Empty) {
        page.clear();
    }
    let more = rest.len() > PAGE || matches!(mode.links, Links::Empty | Links::Same);
    if mode.repeat_as_string && cursor <= EVENTS {
        // The event just before the cursor, once more, with its id as a string.
        let mut repeat = event(cursor);
        repeat["id"] = json!(cursor.to_string());
        page.insert(0, repeat);
    }
    if let (Some(bad), 2) = (&mode.bad_event, page_no) {
        page[0] = bad.clone();
    }
    let mut headers = Vec::new();
    if offset {
        let total = (page_no - 1) + rest.len().div_ceil(PAGE);
        headers.push(("X-Page", page_no.to_string()));
        headers.push(("X-Total-Pages", total.to_string()));
        if more && mode.links == Links::HeadersOnly {
            headers.push(("X-Next-Page", (page_no + 1).to_string()));
        }
        return (Value::Array(page), None, page_no, headers);
    }
    let next = more.then(|| {
        let last = match mode.links {
            // A new cursor every time.
            Links::Empty | Links::Same => cursor + 1000,
            // The first page's own cursor, again and again.
            Links::Junk => EVENTS + 1,
            _ => rest[PAGE - 1]["id"].as_u64().unwrap(),
        };
        let path = url.split('?').next().unwrap();
        let kept: Vec<String> = url
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default()
            .split('&')
            .filter(|kv| !kv.starts_with("cursor=") && !kv.starts_with("junk="))
            .map(str::to_owned)
            .collect();
        let query = format!("{}&cursor=eyJpZCI6{last}", kept.join("&"));
        let route = path.trim_start_matches("/api/v4");
        match mode.links {
            Links::Relative => format!("{}?{query}", path.rsplit('/').next().unwrap()),
            Links::QueryOnly => format!("?{query}"),
            Links::DotDot => format!("{base}/api/v4/../../admin{route}?{query}"),
            Links::EncodedDots => format!("{base}/api/v4/%2e%2e/%2E%2E/admin{route}?{query}"),
            Links::OtherHost => format!("http://localhost.invalid{path}?{query}"),
            Links::WithToken => format!("{base}{path}?{query}&private_token={TOKEN}"),
            Links::WithEmail => format!("{base}{path}?{query}&email=person1@customer.example"),
            Links::Junk => format!("{base}{path}?{query}&junk={page_no}"),
            _ => format!("{base}{path}?{query}"),
        }
    });
    (Value::Array(page), next, page_no, headers)
}

fn users() -> Vec<Value> {
    vec![
        json!({"id": 1, "username": "owner", "name": "Olive Owner", "email": "owner@northwind.example", "public_email": ""}),
        json!({"id": 2, "username": "dev", "name": "Dana Dev", "email": "dana@northwind.example"}),
        json!({"id": 3, "username": "maint", "name": "Max Maint", "public_email": "max@public.example"}),
    ]
}

/// The members every group of northwind has, from the root.
fn inherited() -> Vec<Value> {
    vec![
        json!({"id": 1, "username": "owner", "name": "Olive Owner", "state": "active", "access_level": 50}),
        json!({"id": 2, "username": "dev", "name": "Dana Dev", "state": "active", "access_level": 30}),
        json!({"id": 3, "username": "maint", "name": "Max Maint", "state": "active", "access_level": 40,
            "expires_at": "2999-12-31"}),
    ]
}

/// The answer to one request: status, headers, body.
fn answer(base: &str, url: &str, mode: &Mode) -> (u16, Vec<(&'static str, String)>, String) {
    let path = url.split('?').next().unwrap();
    let ok = |v: Value| (200, Vec::new(), v.to_string());
    let paged = |items: Vec<Value>, per: usize| {
        let page: usize = query_of(url)
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let slice: Vec<Value> = items
            .iter()
            .skip((page - 1) * per)
            .take(per)
            .cloned()
            .collect();
        let mut headers = Vec::new();
        if page * per < items.len() {
            let (path, query) = url.split_once('?').unwrap_or((url, ""));
            let mut kept: Vec<&str> = query
                .split('&')
                .filter(|kv| !kv.starts_with("page="))
                .collect();
            let next_page = format!("page={}", page + 1);
            kept.push(&next_page);
            let next_url = format!("{path}?{}", kept.join("&"));
            headers.push((
                "Link",
                format!(
                    "<{base}{first}>; rel=\"first\", <{base}{next_url}>; rel=\"next\"",
                    first = url
                ),
            ));
            headers.push(("X-Next-Page", (page + 1).to_string()));
        }
        (200, headers, Value::Array(slice).to_string())
    };
    match path {
        "/api/v4/namespaces/northwind" | "/api/v4/namespaces/60" => ok(json!({
            "id": 60, "name": "Northwind", "path": "northwind", "kind": "group",
            "full_path": "northwind",
            "parent_id": if mode.ancestor_loop { json!(61) } else { Value::Null },
            "plan": "premium",
            "members_count_with_descendants": 4
        })),
        "/api/v4/namespaces/northwind%2Fplatform" | "/api/v4/namespaces/61" => ok(json!({
            "id": 61, "name": "Platform", "path": "platform", "kind": "group",
            "full_path": "northwind/platform",
            "parent_id": if mode.self_parent { 61 } else { 60 }
        })),
        "/api/v4/groups/60/projects" if mode.endless_projects => {
            let page: u64 = query_of(url)
                .get("page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            // Ten thousand new projects a page, as a server that ignores per_page may
            // send.
            let items: Vec<Value> = (0..10_000)
                .map(|i| {
                    let id = page * 10_000 + i;
                    json!({"id": id, "path_with_namespace": format!("northwind/p{id}")})
                })
                .collect();
            let next = format!(
                "<{base}/api/v4/groups/60/projects?per_page=100&page={}>; rel=\"next\"",
                page + 1
            );
            (200, vec![("Link", next)], Value::Array(items).to_string())
        }
        "/api/v4/namespaces/olive" => ok(json!({
            "id": 90, "path": "olive", "kind": "user", "full_path": "olive", "parent_id": null
        })),
        "/api/v4/groups/60/descendant_groups" => ok(json!([
            {"id": 61, "full_path": "northwind/platform", "parent_id": 60},
            {"id": 62, "full_path": "northwind/platform/tools", "parent_id": 61},
        ])),
        "/api/v4/groups/61/descendant_groups" => ok(json!([
            {"id": 62, "full_path": "northwind/platform/tools", "parent_id": 61},
        ])),
        "/api/v4/groups/60/projects" | "/api/v4/groups/61/projects" => paged(
            vec![
                json!({"id": 7, "path_with_namespace": "northwind/platform/api", "visibility": "public"}),
                json!({"id": 8, "path_with_namespace": "northwind/platform/tools/cli"}),
                json!({"id": 9, "path_with_namespace": "northwind/website"}),
            ],
            2,
        ),
        "/api/v4/groups/60/members/all" => paged(inherited(), 2),
        "/api/v4/groups/61/members/all" => {
            // Sam's email is on the member record (an enterprise user); Gil is blocked.
            let mut all = inherited();
            all.push(
                json!({"id": 4, "username": "sub", "name": "Sam Sub", "state": "active",
                "access_level": 30, "email": "sam@northwind.example"}),
            );
            all.push(
                json!({"id": 5, "username": "gone", "name": "Gil Gone", "state": "blocked",
                "access_level": 50}),
            );
            paged(all, 2)
        }
        "/api/v4/groups/62/members/all" => {
            let mut all = inherited();
            all.push(
                json!({"id": 4, "username": "sub", "name": "Sam Sub", "state": "active",
                "access_level": 30}),
            );
            ok(Value::Array(all))
        }
        "/api/v4/users/1/emails" => ok(json!([
            {"id": 11, "email": "olive@home.example", "confirmed_at": "2025-01-01T00:00:00Z"},
            {"id": 12, "email": "unconfirmed@home.example", "confirmed_at": null},
        ])),
        p if p.starts_with("/api/v4/users/") && p.ends_with("/emails") => {
            (403, Vec::new(), r#"{"message":"403 Forbidden"}"#.to_owned())
        }
        p if p.starts_with("/api/v4/users/") => {
            let id: u64 = p["/api/v4/users/".len()..].parse().unwrap_or(0);
            match users().into_iter().find(|u| u["id"] == id) {
                Some(u) => ok(u),
                None => (404, Vec::new(), r#"{"message":"404 Not found"}"#.to_owned()),
            }
        }
        "/api/v4/groups/northwind/audit_events" if mode.flood.is_some() => {
            let n = mode.flood.unwrap();
            let mut body = String::with_capacity(3 * n + 2);
            body.push('[');
            for i in 0..n {
                body.push_str(if i == 0 { "{}" } else { ",{}" });
            }
            body.push(']');
            (200, Vec::new(), body)
        }
        "/api/v4/groups/northwind/audit_events"
        | "/api/v4/projects/northwind%2Fplatform%2Fapi/audit_events"
        | "/api/v4/audit_events" => {
            let (page, next, _, mut headers) = audit_page_as(base, url, mode);
            headers.extend(next.map(|n| ("Link", format!("<{n}>; rel=\"next\""))));
            (200, headers, page.to_string())
        }
        "/api/v4/groups/outside/audit_events" => (
            200,
            vec![(
                "Link",
                "<https://elsewhere.example/api/v4/x>; rel=\"next\"".to_owned(),
            )],
            "[]".to_owned(),
        ),
        _ => (404, Vec::new(), r#"{"message":"404 Not found"}"#.to_owned()),
    }
}

/// A JSON array of `mib` MiB once decompressed (spaces, then `[]`), gzip'd to a few
/// hundred kilobytes at most.
fn gzip_bomb(mib: usize) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..mib {
        gz.write_all(&spaces).unwrap();
    }
    gz.write_all(b"[]").unwrap();
    gz.finish().unwrap()
}

impl Stub {
    fn start() -> Stub {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (srv, sh, b) = (Arc::clone(&server), Arc::clone(&shared), base.clone());
        thread::spawn(move || {
            for mut request in srv.incoming_requests() {
                let (sh, b) = (Arc::clone(&sh), b.clone());
                // One thread per request: a slow answer holds up no other.
                thread::spawn(move || {
                    let url = request.url().to_owned();
                    let token_ok = request
                        .headers()
                        .iter()
                        .any(|h| h.field.equiv("PRIVATE-TOKEN") && h.value.as_str() == TOKEN);
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let (fault, mode) = {
                        let mut s = sh.lock().unwrap();
                        s.seen.push((url.clone(), Instant::now(), token_ok));
                        let mode = s.mode.clone();
                        let broken = s.broken_from_page.is_some_and(|from| {
                            url.contains("/audit_events") && audit_page(&b, &url).2 >= from
                        });
                        let fault = if broken {
                            Some(Fault::Status(500, None))
                        } else {
                            let at = s
                                .faults
                                .iter()
                                .position(|(at, _)| url.contains(at.as_str()));
                            at.map(|i| s.faults.remove(i).1)
                        };
                        (fault, mode)
                    };
                    let (status, headers, body) = if !token_ok {
                        (
                            401,
                            Vec::new(),
                            r#"{"message":"401 Unauthorized"}"#.to_owned(),
                        )
                    } else {
                        match fault {
                            Some(Fault::Status(code, retry_after)) => (
                                code,
                                retry_after
                                    .map(|r| ("Retry-After", r.to_owned()))
                                    .into_iter()
                                    .collect(),
                                "Retry later".to_owned(),
                            ),
                            Some(Fault::Limited(headers)) => {
                                (429, headers, "Retry later".to_owned())
                            }
                            Some(Fault::Slow(d)) => {
                                thread::sleep(d);
                                answer(&b, &url, &mode)
                            }
                            Some(Fault::Malformed) => {
                                let (s, h, body) = answer(&b, &url, &mode);
                                (s, h, body[..body.len() / 2].to_owned())
                            }
                            Some(Fault::Redirect) => (
                                302,
                                vec![("Location", "https://elsewhere.example/".to_owned())],
                                String::new(),
                            ),
                            None => answer(&b, &url, &mode),
                        }
                    };
                    let mut body = body.into_bytes();
                    let mut headers = headers;
                    if let (Some(mib), true) = (mode.gzip_mib, url.contains("/audit_events")) {
                        body = gzip_bomb(mib);
                        headers.push(("Content-Encoding", "gzip".to_owned()));
                    }
                    let mut response =
                        tiny_http::Response::from_data(body).with_status_code(status);
                    response.add_header(
                        tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap(),
                    );
                    for (k, v) in headers {
                        response
                            .add_header(tiny_http::Header::from_bytes(k, v.as_bytes()).unwrap());
                    }
                    let _ = request.respond(response);
                });
            }
        });
        Stub {
            base,
            shared,
            server,
        }
    }

    fn fault(&self, at: &str, fault: Fault) {
        self.shared
            .lock()
            .unwrap()
            .faults
            .push((at.to_owned(), fault));
    }

    /// Runs `f` while every audit page from `page` on answers 500.
    fn broken_from<T>(&self, page: usize, f: impl FnOnce() -> T) -> T {
        self.shared.lock().unwrap().broken_from_page = Some(page);
        let out = f();
        self.shared.lock().unwrap().broken_from_page = None;
        out
    }

    fn seen(&self) -> Vec<(String, Instant, bool)> {
        self.shared.lock().unwrap().seen.clone()
    }

    /// A stub that lies as `mode` says.
    fn lying(mode: Mode) -> Stub {
        let stub = Stub::start();
        stub.shared.lock().unwrap().mode = mode;
        stub
    }
}

fn logbrief(token: Option<&str>) -> Command {
    let mut c = Command::cargo_bin("logbrief").unwrap();
    c.env_remove("GITLAB_TOKEN");
    for proxy in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        c.env_remove(proxy);
    }
    if let Some(t) = token {
        c.env("GITLAB_TOKEN", t);
    }
    c
}

fn fetch(stub: &Stub, token: Option<&str>, args: &[&str]) -> Output {
    let mut all = vec![
        "fetch",
        args[0],
        "--gitlab-url",
        &stub.base,
        "--backoff",
        "0.05",
    ];
    all.extend_from_slice(&args[1..]);
    logbrief(token).args(&all).output().unwrap()
}

/// A stub, a directory for the files, and the path of the one a test writes.
fn setup(name: &str) -> (Stub, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    (Stub::start(), dir, file)
}

fn fetch_directory(stub: &Stub, namespace: &str, out: &Path) -> Output {
    let out = out.to_str().unwrap();
    fetch(
        stub,
        Some(TOKEN),
        &["directory", "--namespace", namespace, "-o", out],
    )
}

fn assert_same_file(a: &Path, b: &Path) {
    assert!(
        std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
        "{} and {} differ",
        a.display(),
        b.display()
    );
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Nothing a run printed or wrote carries the token.
fn assert_no_token(output: &Output, files: &[&Path]) {
    assert!(!text(&output.stdout).contains(TOKEN));
    assert!(!text(&output.stderr).contains(TOKEN));
    for f in files {
        if let Ok(bytes) = std::fs::read(f) {
            assert!(!text(&bytes).contains(TOKEN), "{}", f.display());
        }
    }
}

/// Nothing a run printed carries a person's name, email or address from the stub.
fn assert_no_personal_data(output: &Output) {
    let printed = text(&output.stdout) + &text(&output.stderr);
    for needle in [
        "Olive",
        "Dana",
        "@northwind.example",
        "@customer.example",
        "Stub Person",
        "198.51.100.",
        "owner",
    ] {
        assert!(!printed.contains(needle), "{needle} printed: {printed}");
    }
}

#[test]
fn the_fetched_directory_verifies_the_owner() {
    let (stub, _dir, file) = setup("directory.json");
    let out = fetch_directory(&stub, "northwind", &file);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "wrote {}: 3 groups, 3 projects, 4 users (4 with an email), 11 memberships\n",
            file.display()
        )
    );
    assert_no_token(&out, &[&file]);
    assert_no_personal_data(&out);
    assert!(stub.seen().iter().all(|(_, _, token_ok)| *token_ok));

    let d: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        d["namespaces"][0],
        json!({"id": 60, "full_path": "northwind", "kind": "group", "plan": "premium"})
    );
    assert_eq!(d["namespaces"][2]["parent_id"], 61);
    assert_eq!(
        d["projects"].as_array().unwrap().len(),
        3,
        "both pages of projects"
    );
    assert_eq!(
        d["users"][0]["emails"],
        json!(["olive@home.example"]),
        "confirmed secondary emails only"
    );
    assert_eq!(d["users"][2]["email"], "max@public.example");
    assert!(
        d["members"]
            .as_array()
            .unwrap()
            .contains(&json!({"namespace_id": 61, "user_id": 4, "access_level": 30}))
    );
    assert!(
        !d["members"].to_string().contains("\"user_id\":5"),
        "a blocked member has no access"
    );
    assert!(text(&out.stderr).contains("1 memberships left out: blocked, awaiting or expired"));
    // A user the API does not show is written from the member record.
    assert_eq!(
        d["users"][3],
        json!({"id": 4, "username": "sub", "name": "Sam Sub", "email": "sam@northwind.example"})
    );
    // Secondary emails: the second refusal would be the same; it is not asked for.
    let asked = stub
        .seen()
        .iter()
        .filter(|(u, _, _)| u.ends_with("/emails"))
        .count();
    assert_eq!(asked, 2);

    let verify = |email: &str| {
        logbrief(None)
            .args([
                "verify",
                "--requester",
                email,
                "--directory",
                file.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let ok = verify("OLIVE@home.example");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).ends_with("in scope:\n  northwind\n"),
        "{}",
        text(&ok.stdout)
    );
    assert_eq!(verify("unconfirmed@home.example").status.code(), Some(3));
    assert_eq!(
        verify("dana@northwind.example").status.code(),
        Some(3),
        "not an Owner"
    );
}

#[test]
fn a_subgroup_brings_its_root_and_plan() {
    let (stub, _dir, file) = setup("d.json");
    let out = fetch_directory(&stub, "northwind/platform", &file);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let d: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let paths: Vec<&str> = d["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["full_path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "northwind",
            "northwind/platform",
            "northwind/platform/tools"
        ]
    );
    assert_eq!(d["namespaces"][0]["plan"], "premium");
    assert!(d["namespaces"][1].get("plan").is_none());

    let personal = fetch_directory(&stub, "olive", &file);
    assert_eq!(personal.status.code(), Some(2));
    assert!(text(&personal.stderr).contains("personal namespace"));

    // The group's address in the browser names the same group; an address on another
    // instance is refused before anything is asked.
    let by_address = tempfile::tempdir().unwrap();
    let copy = by_address.path().join("d.json");
    let address = format!("{}/groups/northwind/platform/-/settings", stub.base);
    let out = fetch_directory(&stub, &address, &copy);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_same_file(&file, &copy);
    let elsewhere = fetch_directory(&stub, "https://gitlab.com/northwind/platform", &copy);
    assert_eq!(elsewhere.status.code(), Some(2));
    assert!(text(&elsewhere.stderr).contains("is an address on gitlab.com"));
}

fn events_of(path: &Path) -> Vec<Value> {
    serde_json::from_slice::<Value>(&std::fs::read(path).unwrap())
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn audit_events_survive_rate_limits_errors_slowness_and_broken_pages() {
    let (stub, _dir, file) = setup("events.json");
    stub.fault("audit_events?", Fault::Slow(Duration::from_millis(2500)));
    stub.fault("cursor=eyJpZCI6191", Fault::Status(429, Some("1")));
    stub.fault("cursor=eyJpZCI6151", Fault::Status(500, None));
    stub.fault("cursor=eyJpZCI6111", Fault::Status(503, None));
    stub.fault("cursor=eyJpZCI671", Fault::Malformed);
    let out = fetch(
        &stub,
        Some(TOKEN),
        &[
            "audit-events",
            "--group",
            "northwind",
            "--timeout",
            "1",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("wrote {}: 230 events from 6 pages\n", file.display())
    );
    let stderr = text(&out.stderr);
    for said in [
        "no answer in time",
        "HTTP 429 (rate limited); trying again in 1.0 s",
        "HTTP 500",
        "HTTP 503",
        "not the JSON expected",
    ] {
        assert!(stderr.contains(said), "{said}: {stderr}");
    }
    assert_no_token(&out, &[&file]);
    assert_no_personal_data(&out);

    let events = events_of(&file);
    let ids: Vec<u64> = events.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=EVENTS).rev().collect::<Vec<_>>());
    assert_eq!(events[0], event(EVENTS), "events are written as served");

    // Retry-After was honoured: the retry came a second after the 429.
    let seen = stub.seen();
    let limited: Vec<Instant> = seen
        .iter()
        .filter(|(u, _, _)| u.contains("cursor=eyJpZCI6191"))
        .map(|(_, t, _)| *t)
        .collect();
    assert_eq!(limited.len(), 2);
    assert!(limited[1] - limited[0] >= Duration::from_millis(1000));
    assert!(
        seen.iter()
            .all(|(u, _, _)| !u.contains("&page=") && !u.contains("?page=")),
        "keyset links followed"
    );
}

#[test]
fn a_window_and_what_summarize_makes_of_it() {
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let (events, directory) = (dir.path().join("e.json"), dir.path().join("d.json"));
    let out = fetch(
        &stub,
        Some(TOKEN),
        &[
            "audit-events",
            "--group",
            "northwind",
            "--since",
            "2026-03-10",
            "--until",
            "2026-03-19",
            "-o",
            events.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = &stub.seen()[0].0;
    assert!(
        first.contains("created_after=2026-03-10T00:00:00Z"),
        "{first}"
    );
    assert!(
        first.contains("created_before=2026-03-20T00:00:00Z"),
        "{first}"
    );
    // Events every 3 hours from 2026-03-01T00:00: ids 72 (03-10T00:00) to 151
    // (03-19T21:00), and 152 of 03-20T00:00:00.123, in the bound's own second.
    let got = events_of(&events);
    assert_eq!(got.len(), 81);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&events).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "personal data is for its owner only");
    }

    let out = fetch_directory(&stub, "northwind", &directory);
    assert!(out.status.success());
    let summary = logbrief(None)
        .args([
            "summarize",
            "--template",
            "audit",
            "--format",
            "json",
            "--requester",
            "owner@northwind.example",
            "--directory",
            directory.to_str().unwrap(),
            "--since",
            "2026-03-10",
            "--until",
            "2026-03-19",
            events.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(summary.status.success(), "{}", text(&summary.stderr));
    let s: Value = serde_json::from_slice(&summary.stdout).unwrap();
    assert_eq!(s["audit"]["events"], 80);
    assert_eq!(s["audit"]["authors"], 4);
    assert_eq!(s["reconciliation"]["lines"], 81);
    assert_eq!(s["reconciliation"]["counted"], 80);
    assert_eq!(s["reconciliation"]["out_of_window"], 1);
}

#[test]
fn an_interrupted_fetch_resumes_to_the_same_file() {
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let (whole, resumed) = (
        dir.path().join("whole.json"),
        dir.path().join("resumed.json"),
    );
    let args = |out: &Path| {
        vec![
            "audit-events".to_owned(),
            "--group".into(),
            "northwind".into(),
            "--retries".into(),
            "1".into(),
            "-o".into(),
            out.to_str().unwrap().to_owned(),
        ]
    };
    let run = |out: &Path| {
        let a = args(out);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        fetch(&stub, Some(TOKEN), &a)
    };
    assert!(run(&whole).status.success());

    stub.shared.lock().unwrap().broken_from_page = Some(4);
    let broken = run(&resumed);
    assert_eq!(broken.status.code(), Some(4));
    let stderr = text(&broken.stderr);
    assert!(stderr.contains("HTTP 500, still after 2 tries"), "{stderr}");
    assert!(
        stderr.contains("run the same command again to continue"),
        "{stderr}"
    );
    assert_no_token(&broken, &[]);
    assert!(!resumed.exists());
    let part = std::fs::read_to_string(dir.path().join("resumed.json.part")).unwrap();
    assert_eq!(part.lines().count(), 3 * PAGE, "three pages kept");

    // Another window must not continue this fetch.
    let a = args(&resumed);
    let mut other: Vec<&str> = a.iter().map(String::as_str).collect();
    other.extend(["--since", "2026-03-02"]);
    let refused = fetch(&stub, Some(TOKEN), &other);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("--restart"));

    stub.shared.lock().unwrap().broken_from_page = None;
    let before = stub.seen().len();
    let again = run(&resumed);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout)
            .contains("230 events from 6 pages (3 of them fetched by an earlier run)")
    );
    assert_eq!(
        stub.seen().len() - before,
        3,
        "only the missing pages were asked for"
    );
    assert_same_file(&whole, &resumed);
    assert!(!dir.path().join("resumed.json.part").exists());
    assert!(!dir.path().join("resumed.json.state").exists());

    // --restart starts over and gives the same file again.
    stub.shared.lock().unwrap().broken_from_page = Some(2);
    assert_eq!(run(&resumed).status.code(), Some(4));
    stub.shared.lock().unwrap().broken_from_page = None;
    let a = args(&resumed);
    let mut restart: Vec<&str> = a.iter().map(String::as_str).collect();
    restart.push("--restart");
    let out = fetch(&stub, Some(TOKEN), &restart);
    assert!(out.status.success());
    assert!(text(&out.stdout).ends_with("230 events from 6 pages\n"));
    assert_same_file(&whole, &resumed);
}

#[test]
fn the_token_stays_secret_and_is_sent_nowhere_else() {
    let (stub, _dir, file) = setup("e.json");
    let f = file.to_str().unwrap();

    let missing = fetch(
        &stub,
        None,
        &["audit-events", "--group", "northwind", "-o", f],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("GITLAB_TOKEN is not set"));

    let wrong = "glpat-wrong-Zq81nT";
    let refused = fetch(
        &stub,
        Some(wrong),
        &["audit-events", "--group", "northwind", "-o", f],
    );
    assert_eq!(refused.status.code(), Some(4));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("HTTP 401: the token was refused"),
        "{stderr}"
    );
    assert!(!stderr.contains(wrong) && !stderr.contains(TOKEN));
    // A fetch that got no page leaves no empty part file behind.
    assert!(!file.with_extension("json.part").exists());
    assert!(!file.exists());

    stub.fault("audit_events", Fault::Redirect);
    let redirected = fetch(
        &stub,
        Some(TOKEN),
        &["audit-events", "--group", "northwind", "-o", f],
    );
    assert_eq!(redirected.status.code(), Some(4));
    assert!(text(&redirected.stderr).contains("HTTP 302: a redirect, not followed"));

    let outside = fetch(
        &stub,
        Some(TOKEN),
        &["audit-events", "--group", "outside", "--restart", "-o", f],
    );
    assert_eq!(outside.status.code(), Some(4));
    assert!(text(&outside.stderr).contains("the token was not sent there"));

    // Plain http is for loopback only; this fails before any connection.
    let clear = logbrief(Some(TOKEN))
        .args([
            "fetch",
            "audit-events",
            "--gitlab-url",
            "http://gitlab.example.com",
            "--instance",
            "-o",
            f,
        ])
        .output()
        .unwrap();
    assert_eq!(clear.status.code(), Some(2));
    assert!(text(&clear.stderr).contains("use https"));
    for out in [&missing, &refused, &redirected, &outside, &clear] {
        assert_no_token(out, &[&file]);
        assert_no_personal_data(out);
    }
}

#[test]
fn progress_on_a_terminal_only() {
    let (stub, _dir, file) = setup("e.json");
    let f = file.to_str().unwrap();
    stub.fault(
        "cursor=eyJpZCI6191",
        Fault::Slow(Duration::from_millis(600)),
    );
    let piped = fetch(
        &stub,
        Some(TOKEN),
        &["audit-events", "--group", "northwind", "-o", f],
    );
    assert!(piped.status.success());
    assert!(
        !text(&piped.stderr).contains(['\r', '\x1b']),
        "no progress on a pipe"
    );

    let script = Path::new("/usr/bin/script");
    if !script.exists() {
        eprintln!("skipped the terminal half: /usr/bin/script is not installed");
        return;
    }
    stub.fault(
        "cursor=eyJpZCI6191",
        Fault::Slow(Duration::from_millis(600)),
    );
    let command = format!(
        "{} fetch audit-events --gitlab-url {} --group northwind --restart -o {f} > /dev/null",
        env!("CARGO_BIN_EXE_logbrief"),
        stub.base
    );
    let out = std::process::Command::new(script)
        .args(["-qec", &command, "/dev/null"])
        .env("GITLAB_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success());
    let terminal = text(&out.stdout);
    assert!(
        terminal.contains("fetching audit events") && terminal.contains("1 pages, 40 events"),
        "{terminal}"
    );
    assert!(!terminal.contains(TOKEN));
}

#[test]
fn a_resume_survives_a_crash_between_a_page_and_its_state() {
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let (whole, resumed) = (dir.path().join("whole.json"), dir.path().join("r.json"));
    let run = |out: &Path, extra: &[&str]| {
        let mut a = vec![
            "audit-events",
            "--group",
            "northwind",
            "--retries",
            "0",
            "-o",
        ];
        a.push(out.to_str().unwrap());
        a.extend_from_slice(extra);
        fetch(&stub, Some(TOKEN), &a)
    };
    assert!(run(&whole, &[]).status.success());
    let broken = stub.broken_from(3, || run(&resumed, &[]));
    assert_eq!(broken.status.code(), Some(4));

    // A page written to the part file whose state was never recorded, cut short.
    let part = dir.path().join("r.json.part");
    let mut bytes = std::fs::read(&part).unwrap();
    bytes.extend_from_slice(b"{\"id\": 150, \"author_id\": 3, \"details\": {\"author_na");
    std::fs::write(&part, &bytes).unwrap();
    let again = run(&resumed, &[]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_same_file(&whole, &resumed);

    // A state whose part file is gone cannot be continued.
    let broken = stub.broken_from(2, || run(&resumed, &[]));
    assert_eq!(broken.status.code(), Some(4));
    std::fs::remove_file(&part).unwrap();
    let lost = run(&resumed, &[]);
    assert_eq!(lost.status.code(), Some(2));
    assert!(text(&lost.stderr).contains("use --restart"));
    assert!(run(&resumed, &["--restart"]).status.success());
    assert_same_file(&whole, &resumed);

    // Another instance is another fetch.
    let broken = stub.broken_from(2, || run(&resumed, &[]));
    assert_eq!(broken.status.code(), Some(4));
    let other = logbrief(Some(TOKEN))
        .args([
            "fetch",
            "audit-events",
            "--gitlab-url",
            "http://localhost:9",
            "--group",
            "northwind",
        ])
        .args(["-o", resumed.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(2));
    assert!(text(&other.stderr).contains("another instance"));
}

#[test]
fn rate_limits_without_retry_after_and_beyond_the_longest_wait() {
    let (stub, _dir, file) = setup("e.json");
    let f = file.to_str().unwrap();
    let reset = (chrono::Utc::now().timestamp() + 2).to_string();
    stub.fault(
        "cursor=eyJpZCI6191",
        Fault::Limited(vec![("RateLimit-Reset", reset)]),
    );
    let out = fetch(
        &stub,
        Some(TOKEN),
        &["audit-events", "--group", "northwind", "-o", f],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let limited: Vec<Instant> = stub
        .seen()
        .iter()
        .filter(|(u, _, _)| u.contains("cursor=eyJpZCI6191"))
        .map(|(_, t, _)| *t)
        .collect();
    assert!(
        limited[1] - limited[0] >= Duration::from_millis(900),
        "waited for the reset"
    );

    stub.fault("cursor=eyJpZCI6151", Fault::Status(429, Some("600")));
    let out = fetch(
        &stub,
        Some(TOKEN),
        &[
            "audit-events",
            "--group",
            "northwind",
            "--max-wait",
            "60",
            "--restart",
            "-o",
            f,
        ],
    );
    assert_eq!(out.status.code(), Some(4));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the server asks to wait 600 s, longer than --max-wait"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 page(s) fetched so far are kept"),
        "{stderr}"
    );
}

#[test]
fn a_project_and_the_instance_have_their_own_routes() {
    let (stub, _dir, file) = setup("e.json");
    let f = file.to_str().unwrap();
    let project = fetch(
        &stub,
        Some(TOKEN),
        &[
            "audit-events",
            "--project",
            "northwind/platform/api",
            "-o",
            f,
        ],
    );
    assert!(project.status.success(), "{}", text(&project.stderr));
    let instance = fetch(
        &stub,
        Some(TOKEN),
        &["audit-events", "--instance", "--restart", "-o", f],
    );
    assert!(instance.status.success(), "{}", text(&instance.stderr));
    let seen = stub.seen();
    assert!(
        seen[0]
            .0
            .starts_with("/api/v4/projects/northwind%2Fplatform%2Fapi/audit_events?")
    );
    assert!(
        seen.iter()
            .any(|(u, _, _)| u.starts_with("/api/v4/audit_events?"))
    );
    let both = logbrief(Some(TOKEN))
        .args([
            "fetch",
            "audit-events",
            "--gitlab-url",
            &stub.base,
            "--group",
            "a",
            "--instance",
            "-o",
            f,
        ])
        .output()
        .unwrap();
    assert_eq!(
        both.status.code(),
        Some(2),
        "one of --group, --project, --instance"
    );
}

/// `fetch audit-events --group northwind -o OUT` with `extra` flags, retrying once.
fn audit_into(stub: &Stub, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "audit-events",
        "--group",
        "northwind",
        "--retries",
        "1",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    fetch(stub, Some(TOKEN), &args)
}

/// `OUT` with `suffix` added to its name.
fn beside(out: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = out.file_name().unwrap().to_os_string();
    name.push(suffix);
    out.with_file_name(name)
}

/// Every file a run may leave beside `out`, and `out` itself.
fn left_beside(out: &Path) -> Vec<std::path::PathBuf> {
    [".part", ".state", ".tmp", ".manifest.json"]
        .iter()
        .map(|s| beside(out, s))
        .chain([out.to_owned()])
        .collect()
}

#[test]
fn a_next_link_with_the_token_is_neither_followed_nor_printed_nor_stored() {
    let stub = Stub::lying(Mode {
        links: Links::WithToken,
        ..Mode::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.json");
    let run = audit_into(&stub, &out, &[]);
    assert_eq!(run.status.code(), Some(4));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("put the secret in the address of the page after"),
        "{stderr}"
    );
    assert!(!stderr.contains("run the same command again"), "{stderr}");
    let files = left_beside(&out);
    assert_no_token(&run, &files.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    assert!(!out.exists(), "no output from a fetch that stopped");
    assert_eq!(stub.seen().len(), 1, "the link was not followed");
}

#[test]
fn a_next_link_with_someones_email_reaches_no_message_request_or_state() {
    let stub = Stub::lying(Mode {
        links: Links::WithEmail,
        ..Mode::default()
    });
    stub.fault("cursor=eyJpZCI6151", Fault::Status(500, None));
    stub.fault("cursor=eyJpZCI6151", Fault::Status(500, None));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.json");
    let run = audit_into(&stub, &out, &[]);
    assert_eq!(run.status.code(), Some(4));
    let stderr = text(&run.stderr);
    assert!(stderr.contains("HTTP 500, still after 2 tries"), "{stderr}");
    assert!(
        stderr.contains("2 page(s) fetched so far are kept"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("customer.example") && !stderr.contains('?'),
        "{stderr}"
    );
    let state = std::fs::read_to_string(beside(&out, ".state")).unwrap();
    assert!(!state.contains("customer.example"), "{state}");
    assert!(
        stub.seen().iter().all(|(u, _, _)| !u.contains("email=")),
        "only the cursor of a next link is followed"
    );
}

#[test]
fn dot_segments_and_their_encodings_keep_the_token_in_the_api() {
    for links in [Links::DotDot, Links::EncodedDots, Links::OtherHost] {
        let stub = Stub::lying(Mode {
            links,
            ..Mode::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("events.json");
        let run = audit_into(&stub, &out, &[]);
        assert_eq!(run.status.code(), Some(4), "{links:?}");
        let stderr = text(&run.stderr);
        assert!(
            stderr.contains("pointed outside its API") && stderr.contains("token was not sent"),
            "{links:?}: {stderr}"
        );
        assert!(!stderr.contains("cursor="), "{links:?}: {stderr}");
        let seen = stub.seen();
        assert_eq!(
            seen.len(),
            1,
            "{links:?}: nothing asked beyond the first page"
        );
        assert!(seen.iter().all(|(u, _, _)| !u.contains("admin")));
        assert!(!out.exists());
        assert_no_token(&run, &[]);
    }
}

#[test]
fn relative_next_links_are_resolved_as_rfc_3986_says() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.json");
    assert!(audit_into(&Stub::start(), &whole, &[]).status.success());
    for links in [Links::Relative, Links::QueryOnly] {
        let stub = Stub::lying(Mode {
            links,
            ..Mode::default()
        });
        let out = dir.path().join(format!("{links:?}.json"));
        let run = audit_into(&stub, &out, &[]);
        assert!(run.status.success(), "{links:?}: {}", text(&run.stderr));
        assert!(text(&run.stdout).contains("230 events from 6 pages"));
        assert_same_file(&whole, &out);
    }
}

#[test]
fn nothing_is_written_through_a_symlink_and_every_file_is_private() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.json");
    let directory = dir.path().join("directory.json");
    let planted = [
        (out.clone(), ""),
        (out.clone(), ".tmp"),
        (out.clone(), ".part"),
        (out.clone(), ".state.tmp"),
        (directory.clone(), ""),
        (directory.clone(), ".tmp"),
    ];
    let mut victims = Vec::new();
    for (i, (file, suffix)) in planted.iter().enumerate() {
        let victim = dir.path().join(format!("victim{i}"));
        std::fs::write(&victim, "keep").unwrap();
        symlink(&victim, beside(file, suffix)).unwrap();
        victims.push(victim);
    }
    let untouched = || {
        victims
            .iter()
            .all(|v| std::fs::read_to_string(v).unwrap() == "keep")
    };
    let private = |f: &Path| {
        let meta = std::fs::symlink_metadata(f).unwrap();
        meta.is_file() && meta.permissions().mode() & 0o777 == 0o600
    };
    let run = audit_into(&stub, &out, &[]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(
        fetch_directory(&stub, "northwind", &directory)
            .status
            .success()
    );
    assert!(untouched());
    assert!(private(&out) && private(&directory));
    let whole = std::fs::read(&out).unwrap();

    // An earlier output open to others is replaced by a private one.
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(audit_into(&stub, &out, &[]).status.success());
    assert!(private(&out));

    // A run that fails leaves the earlier output as it was.
    let broken = stub.broken_from(3, || audit_into(&stub, &out, &["--restart"]));
    assert_eq!(broken.status.code(), Some(4));
    assert!(std::fs::read(&out).unwrap() == whole);

    // The files of an interrupted run are reused only as logbrief left them.
    let (part, state) = (beside(&out, ".part"), beside(&out, ".state"));
    for kept in [&part, &state] {
        let aside = beside(kept, ".aside");
        std::fs::rename(kept, &aside).unwrap();
        symlink(&aside, kept).unwrap();
        let refused = audit_into(&stub, &out, &[]);
        assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
        assert!(text(&refused.stderr).contains("symbolic link"));
        std::fs::remove_file(kept).unwrap();
        std::fs::rename(&aside, kept).unwrap();
    }
    let resumed = audit_into(&stub, &out, &[]);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert!(std::fs::read(&out).unwrap() == whole);
    assert!(untouched());
}

#[test]
fn page_numbers_without_a_link_are_followed() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.json");
    assert!(audit_into(&Stub::start(), &whole, &[]).status.success());
    for links in [Links::HeadersOnly, Links::TotalPagesOnly] {
        let stub = Stub::lying(Mode {
            links,
            ..Mode::default()
        });
        let out = dir.path().join(format!("{links:?}.json"));
        let run = audit_into(&stub, &out, &[]);
        assert!(run.status.success(), "{links:?}: {}", text(&run.stderr));
        assert!(
            text(&run.stdout).contains("230 events from 6 pages"),
            "{links:?}: {}",
            text(&run.stdout)
        );
        assert_same_file(&whole, &out);
        assert!(stub.seen().iter().any(|(u, _, _)| u.ends_with("&page=6")));
    }
}

#[test]
fn a_server_that_ignores_the_window_is_refused() {
    let stub = Stub::lying(Mode {
        ignore_window: true,
        ..Mode::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.json");
    let window = ["--since", "2026-03-10", "--until", "2026-03-19"];
    let run = audit_into(&stub, &out, &window);
    assert_eq!(run.status.code(), Some(4));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("page 1 of /api/v4/groups/northwind/audit_events: the server answered with events outside the window"),
        "{stderr}"
    );
    assert!(!stderr.contains("run the same command again"), "{stderr}");
    assert!(!out.exists());
    // Without a window every event is in it.
    let run = audit_into(&stub, &out, &["--restart"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
}

#[test]
fn ids_are_numbers_however_they_are_written() {
    let stub = Stub::lying(Mode {
        repeat_as_string: true,
        ..Mode::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.json");
    let run = audit_into(&stub, &out, &[]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(
        text(&run.stdout),
        format!(
            "wrote {}: 230 events from 6 pages; 5 repeated events left out\n",
            out.display()
        )
    );
    let ids: Vec<u64> = events_of(&out)
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (1..=EVENTS).rev().collect::<Vec<_>>());
}

#[test]
fn elements_that_are_not_events_are_refused() {
    for bad in [
        json!({}),
        json!("an event"),
        json!({"id": "not a number", "created_at": "2026-03-10T00:00:00Z"}),
        json!(null),
    ] {
        let stub = Stub::lying(Mode {
            bad_event: Some(bad.clone()),
            ..Mode::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("events.json");
        let run = audit_into(&stub, &out, &[]);
        assert_eq!(run.status.code(), Some(4), "{bad}");
        assert!(
            text(&run.stderr).contains(
                "page 2 of /api/v4/groups/northwind/audit_events: an element is not an audit event"
            ),
            "{bad}: {}",
            text(&run.stderr)
        );
        assert!(!out.exists());
    }
}

#[test]
fn a_state_that_does_not_match_the_command_is_refused() {
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let (whole, out) = (
        dir.path().join("whole.json"),
        dir.path().join("events.json"),
    );
    assert!(audit_into(&stub, &whole, &[]).status.success());
    assert_eq!(
        stub.broken_from(4, || audit_into(&stub, &out, &[]))
            .status
            .code(),
        Some(4)
    );
    let state_path = beside(&out, ".state");
    let original: Value = serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    assert!(
        !original.to_string().contains('?'),
        "no address with a query: {original}"
    );
    let write_state = |state: &Value| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::remove_file(&state_path).unwrap();
        std::fs::write(&state_path, state.to_string()).unwrap();
        std::fs::set_permissions(&state_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    for (change, said) in [
        (
            json!({"route": "/groups/other/audit_events"}),
            "another group, project or instance",
        ),
        (
            json!({"route": "/audit_events"}),
            "another group, project or instance",
        ),
        (
            json!({"instance": "https://gitlab.example.com/api/v4"}),
            "another instance",
        ),
        (
            json!({"created_after": "2026-03-02T00:00:00Z"}),
            "another window",
        ),
        (json!({"kind": "logbrief fetch logs 2"}), "another command"),
        (json!({"after": null}), "does not agree"),
        (json!({"events": 80}), "does not agree"),
    ] {
        let mut state = original.clone();
        for (k, v) in change.as_object().unwrap() {
            state[k] = v.clone();
        }
        write_state(&state);
        let run = audit_into(&stub, &out, &[]);
        assert_eq!(
            run.status.code(),
            Some(2),
            "{change}: {}",
            text(&run.stderr)
        );
        let stderr = text(&run.stderr);
        assert!(
            stderr.contains(said) && stderr.contains("--restart"),
            "{change}: {stderr}"
        );
    }
    write_state(&original);
    assert!(audit_into(&stub, &out, &[]).status.success());
    assert_same_file(&whole, &out);
}

#[test]
fn pages_that_bring_nothing_new_end_the_fetch() {
    for (links, said, asked) in [
        (Links::Empty, "3 pages in a row brought nothing new", 3),
        (Links::Same, "3 pages in a row brought nothing new", 4),
        (Links::Junk, "the pages go round in a circle", 2),
    ] {
        let stub = Stub::lying(Mode {
            links,
            ..Mode::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("events.json");
        let run = audit_into(&stub, &out, &[]);
        assert_eq!(run.status.code(), Some(4), "{links:?}");
        let stderr = text(&run.stderr);
        assert!(stderr.contains(said), "{links:?}: {stderr}");
        assert!(
            !stderr.contains("run the same command again"),
            "running it again would go round again: {stderr}"
        );
        assert_eq!(stub.seen().len(), asked, "{links:?}");
        assert!(!out.exists());
    }
}

/// `fetch audit-events` under the address-space limit of the hostile tests.
fn bounded_audit(stub: &Stub, out: &Path) -> Output {
    crate::hostile::bounded()
        .env("GITLAB_TOKEN", TOKEN)
        .args(["fetch", "audit-events", "--gitlab-url", &stub.base])
        .args(["--group", "northwind", "--retries", "0", "-o"])
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn a_page_is_bounded_once_decompressed_and_by_its_elements() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.json");
    // 80 MiB of JSON in less than a megabyte of gzip: the limit counts what it
    // inflates to.
    let bomb = Stub::lying(Mode {
        gzip_mib: Some(80),
        ..Mode::default()
    });
    let run = bounded_audit(&bomb, &out);
    assert_eq!(run.status.code(), Some(4), "{}", text(&run.stderr));
    assert!(
        text(&run.stderr).contains("the page is larger than 64 MiB once decompressed"),
        "{}",
        text(&run.stderr)
    );
    // Twenty million `{}`: 60 MB, within the bytes, far beyond what a page holds.
    let flood = Stub::lying(Mode {
        flood: Some(20_000_000),
        ..Mode::default()
    });
    let run = bounded_audit(&flood, &out);
    assert_eq!(run.status.code(), Some(4), "{}", text(&run.stderr));
    assert!(
        text(&run.stderr).contains("more elements in a page than logbrief reads (10000)"),
        "{}",
        text(&run.stderr)
    );
    assert!(!out.exists());
}

#[test]
fn ancestors_in_a_loop_and_lists_without_end_are_refused() {
    for mode in [
        Mode {
            ancestor_loop: true,
            ..Mode::default()
        },
        Mode {
            self_parent: true,
            ..Mode::default()
        },
    ] {
        let stub = Stub::lying(mode);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("directory.json");
        let run = fetch_directory(&stub, "northwind/platform", &file);
        assert_eq!(run.status.code(), Some(4));
        assert!(
            text(&run.stderr).contains("the ancestors of northwind/platform go round in a loop"),
            "{}",
            text(&run.stderr)
        );
        assert!(stub.seen().len() <= 3, "{} requests", stub.seen().len());
        assert!(!file.exists());
    }

    let stub = Stub::lying(Mode {
        endless_projects: true,
        ..Mode::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("directory.json");
    let run = crate::hostile::bounded()
        .env("GITLAB_TOKEN", TOKEN)
        .args(["fetch", "directory", "--gitlab-url", &stub.base])
        .args(["--namespace", "northwind", "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(4), "{}", text(&run.stderr));
    assert!(
        text(&run.stderr).contains("/api/v4/groups/60/projects: more than 500000 entries"),
        "{}",
        text(&run.stderr)
    );
    assert!(!file.exists());
}

#[test]
fn a_wait_longer_than_max_wait_stops_whatever_its_size() {
    let (stub, _dir, file) = setup("e.json");
    stub.fault(
        "cursor=eyJpZCI6191",
        Fault::Status(429, Some("99999999999999999999")),
    );
    let run = audit_into(&stub, &file, &[]);
    assert_eq!(run.status.code(), Some(4));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains(
            "the server asks to wait longer than any clock holds, longer than --max-wait"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("trying again"), "{stderr}");
    let asked = stub
        .seen()
        .iter()
        .filter(|(u, _, _)| u.contains("cursor=eyJpZCI6191"))
        .count();
    assert_eq!(asked, 1, "not asked again at once");
}

#[test]
fn a_host_without_an_address_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e.json");
    let run = logbrief(Some(TOKEN))
        .args([
            "fetch",
            "audit-events",
            "--gitlab-url",
            "https://gitlab.invalid",
        ])
        .args([
            "--group",
            "northwind",
            "--retries",
            "1",
            "--backoff",
            "0.05",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(4));
    let stderr = text(&run.stderr);
    // "Name or service not known" where a resolver answers; a temporary failure where
    // none can be reached, which is worth another try.
    assert!(
        stderr.contains(
            "GET /api/v4/groups/northwind/audit_events: the host name could not be resolved (DNS: "
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("connection failed"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn a_certificate_the_client_refuses_is_named_and_not_retried() {
    let openssl = Path::new("/usr/bin/openssl");
    if !openssl.exists() {
        eprintln!("skipped: /usr/bin/openssl is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let made = std::process::Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new(openssl)
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-accept",
            &port.to_string(),
            "-cert",
        ])
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "s_server did not start"
        );
        thread::sleep(Duration::from_millis(50));
    }
    let out = dir.path().join("e.json");
    let run = logbrief(Some(TOKEN))
        .args(["fetch", "audit-events", "--gitlab-url"])
        .arg(format!("https://127.0.0.1:{port}"))
        .args(["--group", "northwind", "--backoff", "0.05", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(run.status.code(), Some(4));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains(
            "GET /api/v4/groups/northwind/audit_events: the server's TLS certificate was \
             refused (invalid peer certificate: "
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("trying again"), "one try: {stderr}");
    assert_no_token(&run, &[]);
}
