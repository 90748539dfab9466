//! `logbrief fetch logs` against a stub cluster on 127.0.0.1: the fixture logs as
//! documents of two indices, the query evaluated by the model of the standard
//! analyser (`es_model`), points in time, `search_after` pages, the totals
//! aggregation, and the faults a real cluster shows (429 with Retry-After, 500, a
//! connection cut without an answer, an expired point in time). No network beyond
//! loopback. A stub serves the fixtures, or the documents of other logs it is given
//! (the generated benchmark logs).
//!
//! The stub speaks HTTP/1.1 itself, one request a connection, so that a fault can
//! close the socket without a word.

#[path = "../../src/elastic/analyser.rs"]
mod analyser;
#[path = "es_model.rs"]
mod es_model;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::thread;

use serde_json::{Value, json};

use super::support::{ALICE_ABOUT_ACME, Bench, QUICK_START, logbrief, stderr, stdout};

const KEY: &str = "ZXNmZXRjaDpzdHViLWtleS05UXc3TGs=";
const RAILS: &str = "pubsub-rails-inf-gprd-000001";
const WORKHORSE: &str = "pubsub-workhorse-inf-gprd-000001";
const INDICES: [&str; 2] = [RAILS, WORKHORSE];
/// Small pages: a fetch of the fixtures takes many.
const PAGE: usize = 7;

struct Doc {
    index: &'static str,
    id: String,
    /// The order of the document in its shard: `_shard_doc`.
    seq: i64,
    /// `@timestamp` in milliseconds; a document without one sorts last, as a missing
    /// value does in an ascending sort.
    millis: Option<i64>,
    source: Value,
}

impl Doc {
    fn sort(&self) -> (i64, i64) {
        (self.millis.unwrap_or(i64::MAX), self.seq)
    }
}

/// The lines of a log, relative to the repository or absolute.
fn lines_of(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(super::support::root().join(path)).unwrap();
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        String::from_utf8(bytes).unwrap()
    };
    text.lines().map(str::to_owned).collect()
}

/// The documents a stub serves, and which of them each query matches.
struct DocSet {
    docs: Vec<Doc>,
    /// Which documents a query matches, by the query's text: every page asks again,
    /// and the model's evaluation over every document is most of the stub's work, so
    /// each query is evaluated once per set.
    matched: Mutex<HashMap<String, Arc<Vec<bool>>>>,
}

impl DocSet {
    /// Every line of the logs that is a JSON object, as a document of the log's index.
    fn of(logs: &[(&Path, &'static str)]) -> DocSet {
        let mut docs = Vec::new();
        for &(file, index) in logs {
            let stem = file.file_name().unwrap().to_str().unwrap();
            for (n, line) in lines_of(file).iter().enumerate() {
                let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                let time = fields
                    .get("time")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let mut source = json!({"json": fields});
                let millis = time.as_deref().map(|t| {
                    source["@timestamp"] = json!(t);
                    chrono::DateTime::parse_from_rfc3339(t)
                        .unwrap()
                        .timestamp_millis()
                });
                let seq = i64::try_from(docs.len()).unwrap();
                docs.push(Doc {
                    index,
                    id: format!("{stem}-{}", n + 1),
                    seq,
                    millis,
                    source,
                });
            }
        }
        DocSet {
            docs,
            matched: Mutex::default(),
        }
    }

    /// Which documents `query` matches, by their place in `docs`.
    fn matching(&self, query: &Value) -> Arc<Vec<bool>> {
        let mut seen = self.matched.lock().unwrap();
        let m = seen.entry(query.to_string()).or_insert_with(|| {
            Arc::new(
                self.docs
                    .iter()
                    .map(|d| es_model::matches(query, &d.source))
                    .collect(),
            )
        });
        Arc::clone(m)
    }

    /// The documents `query` matches, in time order.
    fn matched_in_order(&self, query: &Value) -> Vec<&Doc> {
        let matched = self.matching(query);
        let mut docs: Vec<&Doc> = self
            .docs
            .iter()
            .zip(matched.iter())
            .filter(|(_, m)| **m)
            .map(|(d, _)| d)
            .collect();
        docs.sort_by_key(|d| d.sort());
        docs
    }

    /// What a fetch must write: the documents the model matches, in time order.
    fn expected(&self, query: &Value) -> Vec<Value> {
        let patterns = [json!("@timestamp"), json!("json.*")];
        self.matched_in_order(query)
            .iter()
            .map(|d| filtered(&d.source, &patterns))
            .collect()
    }

    /// The documents of each index, as the manifest's sources.
    fn counts(&self) -> Vec<(String, u64)> {
        INDICES
            .iter()
            .map(|i| {
                let n = self.docs.iter().filter(|d| d.index == *i).count();
                ((*i).to_owned(), n as u64)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// The fixture logs' documents.
static FIXTURES: LazyLock<Arc<DocSet>> = LazyLock::new(|| {
    Arc::new(DocSet::of(&[
        (Path::new("fixtures/logs/production_json.log"), RAILS),
        (Path::new("fixtures/logs/api_json.log.gz"), RAILS),
        (Path::new("fixtures/logs/workhorse.log"), WORKHORSE),
    ]))
});

/// A fault served once, to the search that would be page `n` (counted from 1 over
/// the pages the stub answered).
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// 429 with `Retry-After: 0`.
    Limited,
    /// 500.
    Error,
    /// The connection closed without an answer.
    Cut,
    /// The point in time expired: 404, now and for ever.
    Expired,
}

/// How a hostile cluster lies, from the candidates' page `.1` on (counted as faults
/// are).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lie {
    /// `timed_out: true`.
    TimedOut,
    /// Two of five shards failed.
    ShardsFailed,
    /// The totals' answer: two of five shards failed.
    TotalsShardsFailed,
    /// The first hit has no `_source`.
    NoSource,
    /// The first hit's `_source` is a string.
    StringSource,
    /// The first hit's `_source` is `{}`.
    EmptySource,
    /// The query's window is not applied.
    IgnoresWindow,
    /// `search_after` is not applied: every page is the first.
    IgnoresSearchAfter,
    /// A scroll gives its first page again and again.
    RepeatingScroll,
    /// Every document at one time.
    OneTime,
    /// The totals count one document per index.
    Undercount,
    /// Searches for candidates answer with gzip that inflates to 80 MiB.
    GzipBomb,
}

struct Pit {
    indices: Vec<&'static str>,
    expired: bool,
}

struct Shared {
    docs: Arc<DocSet>,
    faults: Vec<(usize, Fault)>,
    /// After this many pages, every search answers 500.
    broken_after: Option<usize>,
    /// Answers `_pit` with 405 and opens points in time at `_search/point_in_time`.
    opensearch: bool,
    /// Knows no point in time at all: only a scroll reads everything.
    scroll_only: bool,
    /// Open scrolls by their newest id: the documents left, and whether it expired.
    scrolls: HashMap<String, (Vec<Value>, bool)>,
    scrolls_cleared: usize,
    pages: usize,
    /// Points in time by their newest id.
    pits: HashMap<String, Pit>,
    opened: usize,
    closed: usize,
    /// `(method, target, whether the key was right)` of every request.
    seen: Vec<(String, String, bool)>,
    /// The query of every search for candidates.
    queries: Vec<Value>,
    /// How long each answer to a search for candidates waits before it is sent.
    slow: Option<std::time::Duration>,
    /// A lie, and the page it starts at.
    lie: Option<(Lie, usize)>,
}

impl Shared {
    fn new(docs: Arc<DocSet>) -> Shared {
        Shared {
            docs,
            faults: Vec::new(),
            broken_after: None,
            opensearch: false,
            scroll_only: false,
            scrolls: HashMap::new(),
            scrolls_cleared: 0,
            pages: 0,
            pits: HashMap::new(),
            opened: 0,
            closed: 0,
            seen: Vec::new(),
            queries: Vec::new(),
            slow: None,
            lie: None,
        }
    }
}

struct Stub {
    port: u16,
    base: String,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Stub {
    /// A stub of the fixtures.
    fn start() -> Stub {
        Stub::serving(Arc::clone(&FIXTURES))
    }

    /// A stub of other documents.
    fn serving(docs: Arc<DocSet>) -> Stub {
        Stub::on(0, docs)
    }

    /// The stub on `port` (0: any free one). A restarted stub knows no point in time.
    fn on(port: u16, docs: Arc<DocSet>) -> Stub {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Mutex::new(Shared::new(docs)));
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, st) = (Arc::clone(&shared), Arc::clone(&stop));
        let thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let sh = Arc::clone(&sh);
                thread::spawn(move || handle(stream, &sh));
            }
        });
        Stub {
            port,
            base: format!("http://127.0.0.1:{port}"),
            shared,
            stop,
            thread: Some(thread),
        }
    }

    /// The same address, started over.
    fn restart(self) -> Stub {
        let (port, docs) = (self.port, self.with(|s| Arc::clone(&s.docs)));
        drop(self);
        Stub::on(port, docs)
    }

    fn fault(&self, page: usize, fault: Fault) {
        self.shared.lock().unwrap().faults.push((page, fault));
    }

    fn with<T>(&self, f: impl FnOnce(&mut Shared) -> T) -> T {
        f(&mut self.shared.lock().unwrap())
    }
}

/// One request, read whole; the answer, or none at all.
fn handle(stream: TcpStream, shared: &Mutex<Shared>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    if reader.read_line(&mut head).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = head.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .map_or(0, |l| l.parse().unwrap());
    assert!(
        !headers.contains_key("transfer-encoding"),
        "bodies have a length"
    );
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let key_ok = headers.get("authorization") == Some(&format!("ApiKey {KEY}"));
    let (answer, slow, bomb) = {
        let mut s = shared.lock().unwrap();
        let bomb = lying(&s, Lie::GzipBomb) && body.get("size") != Some(&json!(0));
        s.seen.push((method.clone(), target.clone(), key_ok));
        let answer = if key_ok {
            answer(&mut s, &method, &target, &body)
        } else {
            Some((401, json!({"error": "security_exception"})))
        };
        (
            answer,
            s.slow.filter(|_| body.get("size") != Some(&json!(0))),
            bomb,
        )
    };
    if let Some(slow) = slow {
        thread::sleep(slow);
    }
    let Some((status, body)) = answer else {
        // The connection is cut: nothing is written.
        return;
    };
    let mut body = body.to_string().into_bytes();
    let mut extra = String::new();
    if status == 429 {
        extra.push_str("Retry-After: 0\r\n");
    }
    if bomb && status == 200 {
        body = gzip_bomb(80);
        extra.push_str("Content-Encoding: gzip\r\n");
    }
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} Stub\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n{extra}\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
}

/// A JSON object of `mib` MiB once decompressed (spaces, then `{}`), gzip'd to a few
/// hundred kilobytes at most.
fn gzip_bomb(mib: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..mib {
        gz.write_all(&spaces).unwrap();
    }
    gz.write_all(b"{}").unwrap();
    gz.finish().unwrap()
}

/// Whether an index name matches a comma-separated list of names and `*` patterns.
fn index_matches(pattern: &str, index: &str) -> bool {
    pattern.split(',').any(|p| {
        let pieces: Vec<&str> = p.trim().split('*').collect();
        let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
        if pieces.len() == 1 {
            return p.trim() == index;
        }
        let mut rest = match index.strip_prefix(first) {
            Some(r) => r,
            None => return false,
        };
        for middle in &pieces[1..pieces.len() - 1] {
            match rest.find(middle) {
                Some(i) => rest = &rest[i + middle.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last)
    })
}

/// `_source` filtering, for the patterns the fetch asks for.
fn filtered(source: &Value, patterns: &[Value]) -> Value {
    let keep = |k: &str| {
        patterns.iter().filter_map(Value::as_str).any(|p| {
            p == k
                || p == "*"
                || p.starts_with(&format!("{k}."))
                || p.strip_suffix('*').is_some_and(|s| k.starts_with(s))
        })
    };
    let map = source.as_object().unwrap();
    Value::Object(
        map.iter()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

fn time_metric(millis: Option<i64>, as_string: bool) -> Value {
    match millis {
        None => json!({"value": null}),
        Some(m) if as_string => {
            let t = chrono::DateTime::from_timestamp_millis(m).unwrap();
            json!({"value": m as f64,
                "value_as_string": t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)})
        }
        Some(m) => json!({"value": m as f64}),
    }
}

fn open_pit(s: &mut Shared, pattern: &str) -> String {
    s.opened += 1;
    let id = format!("pit-{}-0", s.opened);
    let indices = INDICES
        .into_iter()
        .filter(|i| index_matches(pattern, i))
        .collect();
    s.pits.insert(
        id.clone(),
        Pit {
            indices,
            expired: false,
        },
    );
    id
}

/// The answer to one request; `None` cuts the connection.
fn answer(s: &mut Shared, method: &str, target: &str, body: &Value) -> Option<(u16, Value)> {
    let path = target.split('?').next().unwrap();
    let not_found = Some((404, json!({"error": "not found"})));
    match (method, path) {
        ("POST", "/_search") => search(s, body),
        ("POST", "/_search/scroll") => scroll_next(s, body),
        ("DELETE", "/_search/scroll") => {
            let id = body["scroll_id"][0].as_str().unwrap_or_default();
            s.scrolls_cleared += usize::from(s.scrolls.remove(id).is_some());
            Some((200, json!({"succeeded": true, "num_freed": 1})))
        }
        ("DELETE", "/_pit") => {
            let id = body["id"].as_str().unwrap_or_default();
            s.closed += usize::from(s.pits.remove(id).is_some());
            Some((200, json!({"succeeded": true, "num_freed": 1})))
        }
        ("DELETE", "/_search/point_in_time") => {
            let id = body["pit_id"][0].as_str().unwrap_or_default();
            s.closed += usize::from(s.pits.remove(id).is_some());
            Some((200, json!({"pits": [{"pit_id": id, "successful": true}]})))
        }
        ("POST", p) => {
            let (pattern, route) = p.trim_start_matches('/').split_once('/')?;
            match route {
                "_pit" if s.opensearch || s.scroll_only => {
                    Some((405, json!({"error": "no handler"})))
                }
                "_pit" => Some((200, json!({"id": open_pit(s, pattern)}))),
                "_search/point_in_time" if s.opensearch => {
                    Some((200, json!({"pit_id": open_pit(s, pattern)})))
                }
                "_search" if target.contains("scroll=") => scroll_open(s, pattern, body),
                "_search" => {
                    let (status, mut answer) = totals(&s.docs, pattern, body);
                    if s.lie.is_some_and(|(lie, _)| lie == Lie::TotalsShardsFailed) {
                        answer["_shards"] =
                            json!({"total": 5, "successful": 3, "skipped": 0, "failed": 2});
                    }
                    if s.lie.is_some_and(|(lie, _)| lie == Lie::Undercount) {
                        for b in answer["aggregations"]["sources"]["buckets"]
                            .as_array_mut()
                            .unwrap()
                        {
                            b["doc_count"] = json!(1);
                        }
                    }
                    Some((status, answer))
                }
                _ => not_found,
            }
        }
        _ => not_found,
    }
}

/// The totals: documents per index that the query matches, and their times.
fn totals(set: &DocSet, pattern: &str, body: &Value) -> (u16, Value) {
    assert_eq!(body["size"], 0);
    let mut buckets = Vec::new();
    let matched = set.matching(&body["query"]);
    for index in INDICES.into_iter().filter(|i| index_matches(pattern, i)) {
        let docs: Vec<&Doc> = set
            .docs
            .iter()
            .zip(matched.iter())
            .filter(|(d, m)| d.index == index && **m)
            .map(|(d, _)| d)
            .collect();
        if docs.is_empty() {
            continue;
        }
        // The times of a `filter` sub-aggregation, evaluated by the model too.
        let (name, sub) = body["aggs"]["sources"]["aggs"]
            .as_object()
            .unwrap()
            .iter()
            .next()
            .unwrap();
        let times: Vec<i64> = docs
            .iter()
            .filter(|d| es_model::matches(&sub["filter"], &d.source))
            .filter_map(|d| d.millis)
            .collect();
        assert_eq!(
            sub["aggs"]["first"],
            json!({"min": {"field": "@timestamp"}})
        );
        // Rails' times as Elasticsearch gives them; Workhorse's as the bare number.
        let as_string = index == RAILS;
        buckets.push(json!({
            "key": index,
            "doc_count": docs.len(),
            name: {
                "doc_count": times.len(),
                "first": time_metric(times.iter().copied().min(), as_string),
                "last": time_metric(times.iter().copied().max(), as_string),
            },
        }));
    }
    (
        200,
        json!({"hits": {"hits": []}, "aggregations": {"sources": {
            "doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": buckets}}}),
    )
}

/// A page of candidates from a point in time.
/// The fault a page is to meet, if any, as an answer; `Err(true)` when the page's
/// point in time or scroll is to expire first.
fn fault_for_page(s: &mut Shared) -> Result<bool, Option<(u16, Value)>> {
    let page = s.pages + 1;
    if s.broken_after.is_some_and(|n| page > n) {
        return Err(Some((500, json!({"error": "broken"}))));
    }
    let fault = s
        .faults
        .iter()
        .position(|(at, _)| *at == page)
        .map(|i| s.faults.remove(i).1);
    match fault {
        Some(Fault::Limited) => Err(Some((429, json!({"error": "too many requests"})))),
        Some(Fault::Error) => Err(Some((500, json!({"error": "internal"})))),
        Some(Fault::Cut) => Err(None),
        Some(Fault::Expired) => Ok(true),
        None => Ok(false),
    }
}

/// A sorted scroll: the first page, and the rest kept under a new id.
fn scroll_open(s: &mut Shared, pattern: &str, body: &Value) -> Option<(u16, Value)> {
    if let Err(answer) = fault_for_page(s) {
        return answer;
    }
    assert_eq!(body["sort"], json!([{"@timestamp": "asc"}]));
    s.queries.push(body["query"].clone());
    let patterns = body["_source"].as_array().unwrap().clone();
    let hits: Vec<Value> = s
        .docs
        .matched_in_order(&body["query"])
        .into_iter()
        .filter(|d| index_matches(pattern, d.index))
        .map(|d| {
            json!({"_index": d.index, "_id": d.id, "_score": null,
                "_source": filtered(&d.source, &patterns), "sort": [d.sort().0]})
        })
        .collect();
    let size = usize::try_from(body["size"].as_u64().unwrap()).unwrap();
    let id = format!("scroll{}-0", s.scrolls.len() + s.scrolls_cleared + s.pages);
    s.scrolls.insert(id.clone(), (hits, false));
    scroll_page(s, &id, size)
}

/// The next page of a scroll; its size is the first page's.
fn scroll_next(s: &mut Shared, body: &Value) -> Option<(u16, Value)> {
    let id = body["scroll_id"].as_str().unwrap_or_default().to_owned();
    match fault_for_page(s) {
        Err(answer) => return answer,
        Ok(true) => {
            if let Some(scroll) = s.scrolls.get_mut(&id) {
                scroll.1 = true;
            }
        }
        Ok(false) => {}
    }
    match s.scrolls.get(&id) {
        None => Some((400, json!({"error": "unknown or stale scroll"}))),
        Some((_, true)) => Some((404, json!({"error": "search_context_missing_exception"}))),
        Some(_) => scroll_page(s, &id, PAGE),
    }
}

fn scroll_page(s: &mut Shared, id: &str, size: usize) -> Option<(u16, Value)> {
    let (mut left, expired) = s.scrolls.remove(id).unwrap();
    let mut rest = left.split_off(size.min(left.len()));
    if lying(s, Lie::RepeatingScroll) {
        // What this page gave comes again.
        rest = left.iter().cloned().chain(rest).collect();
    }
    s.pages += 1;
    // A new id for every answer: only the newest is accepted.
    let (stem, generation) = id.rsplit_once('-').unwrap();
    let newest = format!("{stem}-{}", generation.parse::<u64>().unwrap() + 1);
    s.scrolls.insert(newest.clone(), (rest, expired));
    Some((200, json!({"_scroll_id": newest, "hits": {"hits": left}})))
}

/// Whether the stub tells `lie` on the page it is answering.
fn lying(s: &Shared, lie: Lie) -> bool {
    s.lie
        .is_some_and(|(l, from)| l == lie && s.pages + 1 >= from)
}

/// The query without its window, as a cluster that ignores it would match.
fn without_window(query: &Value) -> Value {
    let mut q = query.clone();
    if let Some(b) = q.get_mut("bool").and_then(Value::as_object_mut) {
        b.remove("filter");
    }
    q
}

/// The lies told on a page's answer.
fn lie_on(s: &Shared, answer: &mut Value) {
    if lying(s, Lie::TimedOut) {
        answer["timed_out"] = json!(true);
    }
    if lying(s, Lie::ShardsFailed) {
        answer["_shards"] = json!({"total": 5, "successful": 3, "skipped": 0, "failed": 2});
    }
    let first = answer.pointer_mut("/hits/hits/0");
    if let Some(hit) = first.and_then(Value::as_object_mut) {
        if lying(s, Lie::NoSource) {
            hit.remove("_source");
        }
        if lying(s, Lie::StringSource) {
            hit.insert("_source".into(), json!("a document"));
        }
        if lying(s, Lie::EmptySource) {
            hit.insert("_source".into(), json!({}));
        }
    }
}

fn search(s: &mut Shared, body: &Value) -> Option<(u16, Value)> {
    let page = s.pages + 1;
    let id = body["pit"]["id"].as_str().unwrap_or_default().to_owned();
    match fault_for_page(s) {
        Err(answer) => return answer,
        Ok(true) => {
            if let Some(pit) = s.pits.get_mut(&id) {
                pit.expired = true;
            }
        }
        Ok(false) => {}
    }
    let Some(pit) = s.pits.remove(&id) else {
        // An id that is not the newest is refused: the fetch must follow `pit_id`.
        return Some((400, json!({"error": "unknown or stale point in time"})));
    };
    if pit.expired {
        s.pits.insert(id, pit);
        return Some((404, json!({"error": "search_context_missing_exception"})));
    }
    assert_eq!(
        body["sort"],
        json!([{"@timestamp": "asc"}, {"_shard_doc": "asc"}])
    );
    assert_eq!(body["track_total_hits"], false);
    s.queries.push(body["query"].clone());
    let size = usize::try_from(body["size"].as_u64().unwrap()).unwrap();
    let after = body["search_after"].as_array().map(|a| {
        let n = |v: &Value| v.as_i64().unwrap();
        (n(&a[0]), n(&a[1]))
    });
    let query = if lying(s, Lie::IgnoresWindow) {
        without_window(&body["query"])
    } else {
        body["query"].clone()
    };
    let after = after.filter(|_| !lying(s, Lie::IgnoresSearchAfter));
    let one_time = lying(s, Lie::OneTime);
    let sort = |d: &Doc| {
        if one_time {
            (1_773_500_000_000, d.seq)
        } else {
            d.sort()
        }
    };
    let mut docs: Vec<&Doc> = s
        .docs
        .matched_in_order(&query)
        .into_iter()
        .filter(|d| pit.indices.contains(&d.index))
        .filter(|d| after.is_none_or(|a| sort(d) > a))
        .collect();
    docs.sort_by_key(|d| sort(d));
    let patterns = body["_source"].as_array().unwrap().clone();
    let hits: Vec<Value> = docs
        .iter()
        .take(size)
        .map(|d| {
            let (t, seq) = sort(d);
            let mut source = filtered(&d.source, &patterns);
            if one_time {
                source["@timestamp"] = json!("2026-03-14T14:53:20.000Z");
            }
            json!({"_index": d.index, "_id": d.id, "_score": null,
                "_source": source, "sort": [t, seq]})
        })
        .collect();
    // A new id for every answer: only the newest is accepted.
    let (stem, generation) = id.rsplit_once('-').unwrap();
    let newest = format!("{stem}-{}", generation.parse::<u64>().unwrap() + 1);
    s.pits.insert(newest.clone(), pit);
    let mut answer = json!({"pit_id": newest, "took": 1, "timed_out": false,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {"hits": hits}});
    lie_on(s, &mut answer);
    s.pages = page;
    Some((200, answer))
}

/// The quick start's requester and scope.
const SCOPE: &[&str] = ALICE_ABOUT_ACME.split_at(1).1;

fn fetch_logs(stub: &Stub, key: Option<&str>, out: &Path, extra: &[&str]) -> Output {
    fetch_as(stub, key, SCOPE, PAGE, out, extra)
}

/// `fetch logs` for the requester and scope of `scope`, in pages of `page`.
fn fetch_as(
    stub: &Stub,
    key: Option<&str>,
    scope: &[&str],
    page: usize,
    out: &Path,
    extra: &[&str],
) -> Output {
    let mut cmd = logbrief();
    if let Some(key) = key {
        cmd.env("ELASTIC_API_KEY", key);
    }
    cmd.args(["fetch", "logs", "--elasticsearch", &stub.base])
        .args(scope)
        .args(["--page-size", &page.to_string(), "--backoff", "0.05"])
        .args(["--timeout", "10", "-o"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// The candidate query `pushdown --engine elasticsearch` prints for the scope.
fn pushdown_query() -> Value {
    pushdown_query_of(SCOPE)
}

/// The candidate query `pushdown --engine elasticsearch` prints for `args` (a scope,
/// a window).
fn pushdown_query_of(scope: &[&str]) -> Value {
    let mut args = vec!["pushdown", "--engine", "elasticsearch"];
    args.extend_from_slice(scope);
    let out = logbrief().args(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let at = text.find("/_search\n").unwrap() + "/_search\n".len();
    let search = serde_json::Deserializer::from_str(&text[at..])
        .into_iter::<Value>()
        .next()
        .unwrap()
        .unwrap();
    search["query"].clone()
}

fn ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn manifest_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap().to_os_string();
    name.push(".manifest.json");
    path.with_file_name(name)
}

fn part_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap().to_os_string();
    name.push(".part");
    path.with_file_name(name)
}

fn state_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap().to_os_string();
    name.push(".state");
    path.with_file_name(name)
}

/// The manifest's sources as `(name, lines)`.
fn sources(manifest: &Value) -> Vec<(String, u64)> {
    manifest["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["lines"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_stub_reads_index_patterns_as_a_cluster_does() {
    assert!(index_matches("pubsub-rails-inf-gprd-*", RAILS));
    assert!(index_matches("x,pubsub-*-gprd-*", WORKHORSE));
    assert!(index_matches(RAILS, RAILS));
    assert!(!index_matches("pubsub-rails-*", WORKHORSE));
    assert!(!index_matches("pubsub-rails", RAILS));
}

#[test]
fn every_fault_on_the_way_and_exactly_the_documents_the_model_matches() {
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("candidates.ndjson");
    stub.fault(2, Fault::Limited);
    stub.fault(3, Fault::Error);
    stub.fault(4, Fault::Cut);
    stub.fault(5, Fault::Expired);
    stub.fault(9, Fault::Expired);
    let run = fetch_logs(&stub, Some(KEY), &out, &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    let printed = stdout(&run);
    assert!(printed.contains("opened again 2 time(s)"), "{printed}");
    let told = stderr(&run);
    assert!(told.contains("HTTP 429 (rate limited)"), "{told}");
    assert!(
        told.contains("HTTP 500") && told.contains("connection failed"),
        "{told}"
    );
    assert!(!told.contains(KEY) && !printed.contains(KEY));
    assert!(stub.with(|s| s.faults.is_empty()), "every fault was served");

    let query = pushdown_query();
    let want = FIXTURES.expected(&query);
    let got = ndjson(&out);
    assert!(
        !want.is_empty() && want.len() < FIXTURES.docs.len(),
        "the query keeps some documents, not all"
    );
    assert_eq!(got.len(), want.len(), "no repeats, no gaps");
    assert!(got == want, "exactly the documents the model matches");
    assert!(printed.contains(&format!("{} documents from", want.len())));
    assert!(stub.with(|s| s.queries.iter().all(|q| *q == query)));

    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(manifest_of(&out)).unwrap()).unwrap();
    assert_eq!(sources(&manifest), FIXTURES.counts());
    assert_eq!(manifest["engine"], "elasticsearch");
    assert_eq!(
        serde_json::from_str::<Value>(manifest["filter"].as_str().unwrap()).unwrap(),
        query
    );
    // Rails' times from value_as_string, Workhorse's from the number: the same form.
    for s in manifest["sources"].as_array().unwrap() {
        for key in ["first", "last"] {
            let t = s[key].as_str().unwrap();
            assert!(t.starts_with("2026-03-") && t.ends_with('Z'), "{t}");
        }
    }
    assert!(!state_of(&out).exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [&out, &manifest_of(&out)] {
            let mode = std::fs::metadata(f).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "personal data is for its owner only");
        }
    }
    stub.with(|s| {
        assert!(s.seen.iter().all(|(_, _, key_ok)| *key_ok));
        assert_eq!(s.closed, 1, "the last point in time is closed");
    });

    // OpenSearch: points in time of its own, the same documents.
    let opensearch = Stub::start();
    opensearch.with(|s| s.opensearch = true);
    opensearch.fault(3, Fault::Expired);
    let other = dir.path().join("opensearch.ndjson");
    let named = dir.path().join("named-manifest.json");
    let run = fetch_logs(
        &opensearch,
        Some(KEY),
        &other,
        &["--manifest", named.to_str().unwrap()],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(named.exists() && !manifest_of(&other).exists());
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&other).unwrap());
    opensearch.with(|s| {
        assert_eq!(s.opened, 2);
        assert_eq!(s.closed, 1);
        assert!(
            s.seen
                .iter()
                .any(|(m, t, _)| m == "DELETE" && t == "/_search/point_in_time")
        );
    });
}

/// A cluster with no point in time is read with a sorted scroll, the last resort:
/// through the same faults, and an expiry that restarts it from the last time written,
/// to the same file.
#[test]
fn a_cluster_without_points_in_time_is_read_with_a_scroll() {
    let dir = tempfile::tempdir().unwrap();
    let with_pit = dir.path().join("pit.ndjson");
    let run = fetch_logs(&Stub::start(), Some(KEY), &with_pit, &[]);
    assert!(run.status.success(), "{}", stderr(&run));

    let stub = Stub::start();
    stub.with(|s| s.scroll_only = true);
    for (page, fault) in [
        (2, Fault::Limited),
        (3, Fault::Expired),
        (5, Fault::Cut),
        (6, Fault::Expired),
    ] {
        stub.fault(page, fault);
    }
    let out = dir.path().join("scroll.ndjson");
    let run = fetch_logs(&stub, Some(KEY), &out, &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stub.with(|s| s.faults.is_empty()), "every fault was served");
    let (got, want) = (ndjson(&out), FIXTURES.expected(&pushdown_query()));
    assert_eq!(got.len(), want.len(), "no repeats, no gaps");
    assert!(
        got == want,
        "exactly the documents the model matches, in order"
    );
    assert!(
        std::fs::read(&out).unwrap() == std::fs::read(&with_pit).unwrap(),
        "the file a point in time gives"
    );
    stub.with(|s| {
        assert_eq!(s.opened, 0);
        assert!(
            s.seen
                .iter()
                .any(|(m, t, _)| m == "POST" && t == "/_search/scroll")
        );
        // Restarts go on from the last time written.
        assert!(
            s.queries
                .iter()
                .skip(1)
                .all(|q| q["bool"]["must"].is_array())
        );
        assert_eq!(s.scrolls_cleared, 1, "the last scroll is cleared");
    });
}

#[test]
fn an_interrupted_fetch_resumes_to_the_same_file() {
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let (whole, resumed) = (dir.path().join("whole"), dir.path().join("resumed"));
    let run = fetch_logs(&stub, Some(KEY), &whole, &[]);
    assert!(run.status.success(), "{}", stderr(&run));

    let stub = stub.restart();
    stub.with(|s| s.broken_after = Some(3));
    let broken = fetch_logs(&stub, Some(KEY), &resumed, &["--retries", "1"]);
    assert_eq!(broken.status.code(), Some(4));
    let message = stderr(&broken);
    assert!(
        message.contains("POST /_search: HTTP 500, still after 2 tries"),
        "{message}"
    );
    assert!(
        message.contains("3 page(s) fetched so far are kept"),
        "{message}"
    );
    // The documents so far are in the part file; nothing under the output's name.
    assert!(!resumed.exists());
    assert_eq!(ndjson(&part_of(&resumed)).len(), 3 * PAGE);
    assert!(state_of(&resumed).exists());
    assert!(!manifest_of(&resumed).exists());
    assert!(!message.contains(KEY) && !stdout(&broken).contains(KEY));
    let state = std::fs::read_to_string(state_of(&resumed)).unwrap();
    assert!(!state.contains(KEY));

    // A page written after its state was recorded is dropped and fetched again.
    std::fs::OpenOptions::new()
        .append(true)
        .open(part_of(&resumed))
        .unwrap()
        .write_all(b"{\"half\": \"a page\"}\n")
        .unwrap();
    // Another scope must not continue this fetch.
    let refused = fetch_logs(&stub, Some(KEY), &resumed, &["--since", "2026-03-14"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("--restart"));

    let stub = stub.restart();
    let again = fetch_logs(&stub, Some(KEY), &resumed, &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains(&format!("({} of them written by an earlier run)", 3 * PAGE)),
        "{}",
        stdout(&again)
    );
    assert!(std::fs::read(&whole).unwrap() == std::fs::read(&resumed).unwrap());
    assert!(!state_of(&resumed).exists());
    let m = |p: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(manifest_of(p)).unwrap()).unwrap()
    };
    assert_eq!(m(&whole)["sources"], m(&resumed)["sources"]);

    // --restart starts over and gives the same file again.
    stub.with(|s| s.broken_after = Some(s.pages + 2));
    assert_eq!(
        fetch_logs(&stub, Some(KEY), &resumed, &["--retries", "0"])
            .status
            .code(),
        Some(4)
    );
    stub.with(|s| s.broken_after = None);
    let before = stub.with(|s| s.pages);
    let restarted = fetch_logs(&stub, Some(KEY), &resumed, &["--restart"]);
    assert!(restarted.status.success(), "{}", stderr(&restarted));
    assert!(!stdout(&restarted).contains("earlier run"));
    // Every page once; a last full page is followed by an empty one.
    let documents = ndjson(&whole).len();
    assert_eq!(
        stub.with(|s| s.pages) - before,
        documents / PAGE + 1,
        "{documents} documents"
    );
    assert!(std::fs::read(&whole).unwrap() == std::fs::read(&resumed).unwrap());
}

#[test]
fn the_key_stays_secret_and_an_unverified_requester_gets_nothing() {
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.ndjson");
    let files = |out: &Path| [out.to_owned(), manifest_of(out), state_of(out)];

    let run = fetch_logs(&stub, Some(KEY), &out, &[]);
    assert!(run.status.success());
    for output in [&run.stdout, &run.stderr] {
        assert!(!String::from_utf8_lossy(output).contains(KEY));
    }
    for f in files(&out) {
        if let Ok(bytes) = std::fs::read(&f) {
            assert!(!String::from_utf8_lossy(&bytes).contains(KEY));
        }
    }

    // A key the cluster refuses: the status and what to check, not the key.
    let wrong = "d3Jvbmc6a2V5LTEyMzQ1Njc4";
    let other = dir.path().join("other.ndjson");
    let refused = fetch_logs(&stub, Some(wrong), &other, &[]);
    assert_eq!(refused.status.code(), Some(4));
    let message = stderr(&refused);
    assert!(
        message.contains("HTTP 401: the API key was refused; check ELASTIC_API_KEY"),
        "{message}"
    );
    assert!(!message.contains(wrong) && !stdout(&refused).contains(wrong));
    assert!(files(&other).iter().all(|f| !f.exists()));

    // No key: a usage error, nothing asked.
    let before = stub.with(|s| s.seen.len());
    let none = fetch_logs(&stub, None, &other, &[]);
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("ELASTIC_API_KEY is not set"));

    // A requester who does not verify: exit 3, nothing asked, nothing written.
    let mut cmd = logbrief();
    let unverified = cmd
        .env("ELASTIC_API_KEY", KEY)
        .args(["fetch", "logs", "--elasticsearch", &stub.base])
        .args([
            "--requester",
            "mallory@evil.example",
            "--directory",
            "fixtures/directory.json",
            "-o",
        ])
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(unverified.status.code(), Some(3), "{}", stderr(&unverified));
    assert!(files(&other).iter().all(|f| !f.exists()));
    assert_eq!(stub.with(|s| s.seen.len()), before);

    // Plain http beyond loopback would carry the key in clear.
    let clear = logbrief()
        .env("ELASTIC_API_KEY", KEY)
        .args([
            "fetch",
            "logs",
            "--elasticsearch",
            "http://logs.example.com:9200",
        ])
        .args(SCOPE)
        .arg("-o")
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(clear.status.code(), Some(2));
    assert!(stderr(&clear).contains("--elasticsearch: use https"));
}

#[test]
fn summarize_of_the_fetched_documents_is_the_reply_of_the_files() {
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("acme.ndjson");
    let run = fetch_logs(&stub, Some(KEY), &out, &[]);
    assert!(run.status.success(), "{}", stderr(&run));

    let whole = logbrief().args(QUICK_START).output().unwrap();
    assert!(whole.status.success(), "{}", stderr(&whole));
    let fetched = logbrief()
        .args(&QUICK_START[..QUICK_START.len() - 3])
        .arg("--manifest")
        .arg(manifest_of(&out))
        .arg(&out)
        .output()
        .unwrap();
    assert!(fetched.status.success(), "{}", stderr(&fetched));
    // The cluster holds the lines it could not parse as documents its query cannot
    // match: they are among the lines it left out, so the reply's count of unreadable
    // lines that may concern the scope is the one of the documents fetched.
    let without_unreadable = |reply: String| {
        reply
            .split_inclusive('\n')
            .map(|line| match line.find(" could not be read") {
                Some(end) => {
                    let start = line[..end].rfind(". ").map_or(0, |i| i + 1);
                    let stop = line[end..].find('.').map_or(line.len(), |i| end + i + 1);
                    format!("{}{}", &line[..start], &line[stop..])
                }
                None => line.to_owned(),
            })
            .collect::<String>()
    };
    assert_eq!(
        without_unreadable(stdout(&fetched)),
        without_unreadable(stdout(&whole))
    );
}

/// The benchmark's input, and the stub's documents of its logs.
struct Generated {
    bench: Bench,
    docs: Arc<DocSet>,
}

/// Pages of the generated candidates: large enough that the fetch is quick, small
/// enough that it takes tens of them.
const GENERATED_PAGE: usize = 50;

/// A benchmark log of 20 MB and a look-alike-heavy one of 10 MB (a fifth of its lines
/// name look-alikes of northwind), with the benchmark's directory, generated once per
/// run into `CARGO_TARGET_TMPDIR/esfetch/`. Both are Rails logs (`production_json`
/// lines), so they go to the Rails index.
fn generated() -> &'static Generated {
    static GENERATED: OnceLock<Generated> = OnceLock::new();
    GENERATED.get_or_init(|| {
        let bench = Bench::generate("esfetch", "20M", "10M");
        let logs = bench.logs.each_ref().map(|l| (l.as_path(), RAILS));
        let docs = Arc::new(DocSet::of(&logs));
        Generated { bench, docs }
    })
}

/// What `summarize` prints for the generated requester with `flags`, then `inputs`,
/// which must succeed.
fn summarize_generated(g: &Generated, flags: &[&str], inputs: &[&Path]) -> String {
    let out = logbrief()
        .arg("summarize")
        .args(g.bench.requester())
        .args(flags)
        .args(inputs)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// The benchmark's logs, fetched whole and then with a window inside their period
/// (39 seconds): the fetch writes exactly the documents the model matches, far fewer
/// than the logs hold, and they give the reply of the files byte for byte, with the
/// same counts, paths and statuses.
///
/// The logs are 20 MB and 10 MB (see [`generated`]): about 11,400 lines of 2.6 KB on
/// average, 1,100 of them candidates, a few hundred of those look-alikes. That is
/// enough for every kind of line the generator writes, and keeps the test at about
/// 6 seconds in a debug build on two cores (the generation, the model's evaluation of
/// two queries and four runs of `summarize` over 30 MB take nearly all of it).
#[test]
fn a_generated_log_fetched_gives_the_reply_of_the_files() {
    let g = generated();
    let stub = Stub::serving(Arc::clone(&g.docs));
    let dir = tempfile::tempdir().unwrap();
    let requester = g.bench.requester();
    let scope: Vec<&str> = requester.iter().map(String::as_str).collect();
    let files = g.bench.logs.each_ref().map(PathBuf::as_path);
    let mut accesses = Vec::new();
    for (name, window) in [
        ("whole", &[][..]),
        (
            "window",
            &[
                "--since",
                "2026-03-02T00:00:10Z",
                "--until",
                "2026-03-02T00:00:25Z",
            ][..],
        ),
    ] {
        // The model's documents first, so that the stub answers within the timeout.
        let query = pushdown_query_of(&[&scope[..], window].concat());
        let want = g.docs.expected(&query);
        let out = dir.path().join(format!("{name}.ndjson"));
        let run = fetch_as(&stub, Some(KEY), &scope, GENERATED_PAGE, &out, window);
        assert!(run.status.success(), "{name}: {}", stderr(&run));
        assert!(
            stdout(&run).contains(&format!("{} documents from", want.len())),
            "{}",
            stdout(&run)
        );
        let got = ndjson(&out);
        assert_eq!(got.len(), want.len(), "{name}: no repeats, no gaps");
        assert!(
            got == want,
            "{name}: exactly the documents the model matches"
        );
        assert!(
            !got.is_empty() && got.len() * 4 < g.docs.docs.len(),
            "{name}: the filter keeps {} of {} documents",
            got.len(),
            g.docs.docs.len()
        );
        let manifest = manifest_of(&out);
        let m: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        // The engine's window is a day wider on each side: every document is counted.
        assert_eq!(sources(&m), g.docs.counts(), "{name}");

        let fetched = ["--manifest", manifest.to_str().unwrap()];
        fn flags<'a>(window: &[&'a str], format: &[&'a str], manifest: &[&'a str]) -> Vec<&'a str> {
            [window, format, manifest].concat()
        }
        assert_eq!(
            summarize_generated(g, &flags(window, &[], &fetched), &[&out]),
            summarize_generated(g, &flags(window, &[], &[]), &files),
            "{name}"
        );
        let json = |manifest: &[&str], inputs: &[&Path]| -> Value {
            let flags = flags(window, &["--format", "json"], manifest);
            serde_json::from_str(&summarize_generated(g, &flags, inputs)).unwrap()
        };
        let (from_fetch, from_files) = (json(&fetched, &[&out]), json(&[], &files));
        for key in ["counts", "paths", "statuses"] {
            assert_eq!(from_fetch[key], from_files[key], "{name}: {key}");
        }
        accesses.push(from_files["counts"]["accesses"].as_u64().unwrap());
    }
    assert!(
        accesses[1] > 0 && accesses[1] < accesses[0],
        "the window cuts the period: {accesses:?}"
    );
}

#[test]
fn the_output_and_its_manifest_appear_together_and_only_when_whole() {
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("acme.ndjson");
    let first = fetch_logs(&stub, Some(KEY), &out, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let (documents, manifest) = (
        std::fs::read(&out).unwrap(),
        std::fs::read(manifest_of(&out)).unwrap(),
    );

    // A second run that fails leaves the first pair as it was.
    stub.with(|s| s.broken_after = Some(s.pages + 2));
    let broken = fetch_logs(&stub, Some(KEY), &out, &["--retries", "0", "--restart"]);
    assert_eq!(broken.status.code(), Some(4), "{}", stderr(&broken));
    assert!(
        std::fs::read(&out).unwrap() == documents,
        "the documents are kept"
    );
    assert!(
        std::fs::read(manifest_of(&out)).unwrap() == manifest,
        "and their manifest"
    );
    assert_eq!(
        ndjson(&part_of(&out)).len(),
        2 * PAGE,
        "the new run's pages aside"
    );
    stub.with(|s| s.broken_after = None);
    let summary = logbrief()
        .args(&QUICK_START[..QUICK_START.len() - 3])
        .arg("--manifest")
        .arg(manifest_of(&out))
        .arg(&out)
        .output()
        .unwrap();
    assert!(summary.status.success(), "{}", stderr(&summary));

    // Interrupted (Ctrl-C) half way: nothing under either name.
    let other = dir.path().join("interrupted.ndjson");
    stub.with(|s| s.slow = Some(std::time::Duration::from_millis(150)));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_logbrief"))
        .current_dir(super::support::root())
        .env_clear()
        .env("ELASTIC_API_KEY", KEY)
        .args(["fetch", "logs", "--elasticsearch", &stub.base])
        .args(SCOPE)
        .args(["--page-size", &PAGE.to_string(), "-o"])
        .arg(&other)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !state_of(&other).exists() {
        assert!(started.elapsed().as_secs() < 60, "no page recorded");
        thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: the pid is the child's, still running (it is only waited for below).
    unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(!other.exists() && !manifest_of(&other).exists());
    assert!(!ndjson(&part_of(&other)).is_empty());
    stub.with(|s| s.slow = None);
    let again = fetch_logs(&stub, Some(KEY), &other, &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("written by an earlier run"));
    assert!(std::fs::read(&other).unwrap() == documents);
    assert!(!part_of(&other).exists() && !state_of(&other).exists());
}

#[test]
fn nothing_is_written_through_a_symlink_and_every_file_is_private() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("acme.ndjson");
    // A victim for each name: two outputs that are links to one file would be refused
    // as the same file (exit 2), which proves nothing here.
    let suffixes = [
        "",
        ".tmp",
        ".part",
        ".state.tmp",
        ".manifest.json",
        ".manifest.json.tmp",
    ];
    let victims: Vec<PathBuf> = (0..suffixes.len())
        .map(|i| dir.path().join(format!("victim{i}")))
        .collect();
    for (suffix, victim) in suffixes.iter().zip(&victims) {
        std::fs::write(victim, "keep").unwrap();
        let mut name = out.file_name().unwrap().to_os_string();
        name.push(suffix);
        symlink(victim, out.with_file_name(name)).unwrap();
    }
    let untouched = || {
        victims
            .iter()
            .all(|v| std::fs::read_to_string(v).unwrap() == "keep")
    };
    let run = fetch_logs(&stub, Some(KEY), &out, &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(untouched());
    for f in [&out, &manifest_of(&out)] {
        let meta = std::fs::symlink_metadata(f).unwrap();
        assert!(meta.is_file(), "{}", f.display());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }

    // An earlier output open to others is replaced by a private one.
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(fetch_logs(&stub, Some(KEY), &out, &[]).status.success());
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The files of an interrupted run are reused only as logbrief left them.
    stub.with(|s| s.broken_after = Some(s.pages + 2));
    let broken = fetch_logs(&stub, Some(KEY), &out, &["--retries", "0"]);
    assert_eq!(broken.status.code(), Some(4));
    stub.with(|s| s.broken_after = None);
    let (part, state) = (part_of(&out), state_of(&out));
    for kept in [&part, &state] {
        let aside = kept.with_extension("aside");
        std::fs::rename(kept, &aside).unwrap();
        symlink(&aside, kept).unwrap();
        let refused = fetch_logs(&stub, Some(KEY), &out, &[]);
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
        assert!(
            stderr(&refused).contains("symbolic link"),
            "{}",
            stderr(&refused)
        );
        std::fs::remove_file(kept).unwrap();
        std::fs::rename(&aside, kept).unwrap();
    }
    std::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = fetch_logs(&stub, Some(KEY), &out, &[]);
    assert_eq!(open.status.code(), Some(2));
    assert!(
        stderr(&open).contains("others may read or write it"),
        "{}",
        stderr(&open)
    );
    std::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o600)).unwrap();
    let resumed = fetch_logs(&stub, Some(KEY), &out, &[]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(untouched());
}

#[test]
fn an_output_over_the_other_or_over_the_directory_is_refused() {
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("acme.ndjson");
    let same = fetch_logs(
        &stub,
        Some(KEY),
        &out,
        &["--manifest", out.to_str().unwrap()],
    );
    assert_eq!(same.status.code(), Some(2));
    assert!(
        stderr(&same).contains("are the same file"),
        "{}",
        stderr(&same)
    );
    let part = part_of(&out);
    let on_part = fetch_logs(
        &stub,
        Some(KEY),
        &out,
        &["--manifest", part.to_str().unwrap()],
    );
    assert_eq!(on_part.status.code(), Some(2));

    let directory = dir.path().join("directory.json");
    std::fs::copy(
        super::support::root().join("fixtures/directory.json"),
        &directory,
    )
    .unwrap();
    let before = std::fs::read(&directory).unwrap();
    let scope = [
        "--requester",
        "alice@acme.example",
        "--directory",
        directory.to_str().unwrap(),
        "--namespace",
        "acme",
    ];
    let over = fetch_as(&stub, Some(KEY), &scope, PAGE, &directory, &[]);
    assert_eq!(over.status.code(), Some(2));
    assert!(
        stderr(&over).contains("is also an input"),
        "{}",
        stderr(&over)
    );
    assert!(std::fs::read(&directory).unwrap() == before);
    assert!(stub.with(|s| s.seen.is_empty()), "nothing asked");
    assert!(!out.exists() && !part.exists());
}

/// A stub of the fixtures that tells `lie` from page `from` on.
fn liar(lie: Lie, from: usize) -> Stub {
    let stub = Stub::start();
    stub.with(|s| s.lie = Some((lie, from)));
    stub
}

/// Runs a fetch that must stop (exit 4) and say `said`, leaving neither the output nor
/// a manifest.
fn refused(stub: &Stub, extra: &[&str], said: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.ndjson");
    let run = fetch_logs(stub, Some(KEY), &out, extra);
    assert_eq!(run.status.code(), Some(4), "{said}: {}", stderr(&run));
    assert!(stderr(&run).contains(said), "{said}: {}", stderr(&run));
    assert!(!out.exists() && !manifest_of(&out).exists(), "{said}");
    assert!(!stderr(&run).contains(KEY));
    run
}

#[test]
fn a_partial_answer_is_never_passed_off_as_the_whole() {
    for (lie, from, said) in [
        (
            Lie::TimedOut,
            3,
            "part of the documents (the search timed out)",
        ),
        (
            Lie::ShardsFailed,
            2,
            "part of the documents (2 of 5 shards did not answer)",
        ),
        (
            Lie::TotalsShardsFailed,
            1,
            "part of the documents (2 of 5 shards did not answer)",
        ),
    ] {
        let run = refused(&liar(lie, from), &[], said);
        if from > 1 {
            let kept = format!("{} page(s) fetched so far are kept", from - 1);
            assert!(stderr(&run).contains(&kept), "{lie:?}: {}", stderr(&run));
        }
    }
}

#[test]
fn hits_without_a_source_object_are_refused() {
    for lie in [Lie::NoSource, Lie::StringSource, Lie::EmptySource] {
        refused(
            &liar(lie, 2),
            &[],
            "the answer has no _source object in a hit",
        );
    }
}

#[test]
fn a_cluster_that_ignores_the_window_is_refused() {
    let window = ["--since", "2026-03-16", "--until", "2026-03-16"];
    let stub = liar(Lie::IgnoresWindow, 1);
    refused(&stub, &window, "outside the window it was asked for");
    // The same window, applied: the fetch goes through.
    let dir = tempfile::tempdir().unwrap();
    let run = fetch_logs(&Stub::start(), Some(KEY), &dir.path().join("c"), &window);
    assert!(run.status.success(), "{}", stderr(&run));
}

#[test]
fn a_state_that_does_not_match_the_command_is_refused() {
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.ndjson");
    stub.with(|s| s.broken_after = Some(3));
    assert_eq!(
        fetch_logs(&stub, Some(KEY), &out, &["--retries", "0"])
            .status
            .code(),
        Some(4)
    );
    stub.with(|s| s.broken_after = None);
    let state_path = state_of(&out);
    let original: Value = serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    let write_state = |state: &Value| {
        // As logbrief leaves it: its owner's only.
        std::fs::remove_file(&state_path).unwrap();
        std::fs::write(&state_path, state.to_string()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&state_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    let moved = |mut s: Value| {
        let t = s["after"][0].as_i64().unwrap();
        s["after"][0] = json!(t + 3_600_000);
        s
    };
    let cases: [(&str, Value, &str); 5] = [
        (
            "cluster",
            json!({"cluster": "http://127.0.0.1:9/"}),
            "another cluster",
        ),
        ("index", json!({"index": "pubsub-*"}), "other indices"),
        (
            "query",
            json!({"query": {"match_all": {}}}),
            "another scope or window",
        ),
        ("after", json!({"after": null}), "does not agree"),
        ("written", json!({"written": 3}), "does not agree"),
    ];
    for (what, change, said) in cases {
        let mut state = original.clone();
        for (k, v) in change.as_object().unwrap() {
            state[k] = v.clone();
        }
        write_state(&state);
        let run = fetch_logs(&stub, Some(KEY), &out, &[]);
        assert_eq!(run.status.code(), Some(2), "{what}: {}", stderr(&run));
        assert!(stderr(&run).contains(said), "{what}: {}", stderr(&run));
        assert!(stderr(&run).contains("--restart"), "{what}");
    }
    write_state(&moved(original.clone()));
    let run = fetch_logs(&stub, Some(KEY), &out, &[]);
    assert_eq!(
        run.status.code(),
        Some(2),
        "a moved after: {}",
        stderr(&run)
    );
    assert!(stderr(&run).contains("does not agree"));

    write_state(&original);
    let run = fetch_logs(&stub, Some(KEY), &out, &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(ndjson(&out), FIXTURES.expected(&pushdown_query()));
}

#[test]
fn a_cluster_that_does_not_page_on_is_stopped() {
    let stub = liar(Lie::IgnoresSearchAfter, 1);
    refused(
        &stub,
        &[],
        "page 2 of /_search: the cluster answered with documents that do not come after",
    );
    assert_eq!(stub.with(|s| s.pages), 2);
    let scroll = liar(Lie::RepeatingScroll, 2);
    scroll.with(|s| s.scroll_only = true);
    refused(
        &scroll,
        &[],
        "page 3 of /_search/scroll: the cluster answered with documents that do not come after",
    );
    assert_eq!(
        scroll.with(|s| s.pages),
        3,
        "the page that came again is the last asked for"
    );
}

#[test]
fn more_documents_than_the_totals_counted_are_refused() {
    refused(
        &liar(Lie::Undercount, 1),
        &[],
        "the cluster gave more candidate documents than it counted in the window (2)",
    );
}

#[test]
fn a_point_in_time_that_keeps_vanishing_is_named() {
    let stub = Stub::start();
    for _ in 0..3 {
        stub.fault(2, Fault::Expired);
    }
    let run = refused(
        &stub,
        &[],
        "expired 3 times in a row before a page could be read",
    );
    assert!(!stderr(&run).contains("check --index"), "{}", stderr(&run));
}

#[test]
fn a_page_is_bounded_once_decompressed() {
    let stub = liar(Lie::GzipBomb, 1);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.ndjson");
    let run = crate::hostile::bounded()
        .env("ELASTIC_API_KEY", KEY)
        .args(["fetch", "logs", "--elasticsearch", &stub.base])
        .args(SCOPE)
        .args(["--retries", "0", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(4), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("the page is larger than 64 MiB once decompressed"),
        "{}",
        stderr(&run)
    );
    assert!(!out.exists());
}

#[test]
fn documents_at_one_time_keep_the_state_small_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.ndjson");
    let run = fetch_logs(&liar(Lie::OneTime, 1), Some(KEY), &whole, &[]);
    assert!(run.status.success(), "{}", stderr(&run));

    let stub = liar(Lie::OneTime, 1);
    stub.with(|s| s.broken_after = Some(3));
    let out = dir.path().join("resumed.ndjson");
    assert_eq!(
        fetch_logs(&stub, Some(KEY), &out, &["--retries", "0"])
            .status
            .code(),
        Some(4)
    );
    let state: Value = serde_json::from_slice(&std::fs::read(state_of(&out)).unwrap()).unwrap();
    let at_last = state["at_last"].as_array().unwrap();
    assert_eq!(
        at_last.len(),
        3 * PAGE,
        "every document so far is at the last time"
    );
    assert!(
        at_last.iter().all(Value::is_u64),
        "digests, not ids: {state}"
    );
    stub.with(|s| s.broken_after = None);
    // The point in time is gone: the fetch opens another from that time, and writes
    // none of the documents of that time twice.
    let stub = stub.restart();
    stub.with(|s| s.lie = Some((Lie::OneTime, 1)));
    let run = fetch_logs(&stub, Some(KEY), &out, &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&whole).unwrap());

    // More documents at one time than a state keeps.
    let one = FIXTURES.matched_in_order(&pushdown_query())[0];
    let docs = (0..10_001)
        .map(|i| Doc {
            index: one.index,
            id: format!("copy-{i}"),
            seq: i,
            millis: one.millis,
            source: one.source.clone(),
        })
        .collect();
    let crowded = Stub::serving(Arc::new(DocSet {
        docs,
        matched: Mutex::default(),
    }));
    let out = dir.path().join("crowded.ndjson");
    let run = fetch_as(&crowded, Some(KEY), SCOPE, 1000, &out, &[]);
    assert_eq!(run.status.code(), Some(4), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("more than 10000 documents share one time"),
        "{}",
        stderr(&run)
    );
    assert!(!out.exists());
}
