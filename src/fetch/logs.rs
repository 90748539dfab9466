//! `logbrief fetch logs`: the candidate documents of Elasticsearch or OpenSearch (the
//! query of `pushdown --engine elasticsearch`) as NDJSON, one `_source` a line, and
//! the manifest of every document per index for `summarize --manifest`.
//!
//! The totals come first: one search without hits, a `terms` aggregation on `_index`
//! with the first and last time of the documents in each that look like requests
//! (the period, as the other engines' manifests give it). The candidates are then read in pages from a
//! point in time (Elasticsearch's `_pit`, else OpenSearch's `_search/point_in_time`),
//! sorted by time and `_shard_doc`, each page after the last one's sort values.
//!
//! A point in time that expires (HTTP 404) is opened again. A new one knows nothing of
//! the old one's `_shard_doc`, so the pages go on from the last time written, every
//! document of that time included, and the documents of that time written already are
//! left out: their `_index` and `_id` are kept while the time stays the same. That is
//! also what keeps the output free of repeats, since a document repeats only at its
//! own time.
//!
//! A cluster with neither point-in-time API is read with a sorted scroll instead, the
//! last resort: sorted by time, restarted from the last time written (a `range` on
//! the time added to the query) when it expires or an interrupted run goes on, with
//! the same rule against repeats.
//!
//! The documents go to `OUT.part` as they come; after each page but the last,
//! `OUT.state` records where the pages stand (the last sort values, digests of the
//! ids at the last time, the documents written and the length of `OUT.part`). Running
//! the same command again cuts `OUT.part` back to that length and goes on as after an
//! expiry; the file it ends with is the one an uninterrupted run writes. `OUT` and its
//! manifest appear only when every page is in, together: until then an earlier
//! complete pair stays as it was.
//!
//! Nothing the cluster says is taken on trust: an answer with failed shards or that
//! timed out, a hit without a `_source` object, hits outside the window asked for or
//! that do not come after the last one read (a cluster that ignores `search_after`),
//! pages that bring nothing new, or more documents than the totals counted end the
//! fetch (exit 4) without writing `OUT`.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::{Answer, Client, Items, Method, OnWait};
use super::{kept, open_at, read_state, remove_if_present, sibling};
use crate::elastic::{TIME_FIELD, source_fields};
use crate::error::{Error, FetchError, Result};

/// How long a point in time is kept between two pages.
const KEEP_ALIVE: &str = "2m";

/// What to fetch and where to write it.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// Index names or patterns, comma-separated.
    pub index: String,
    /// The candidate query.
    pub query: Value,
    /// The totals request (`size: 0` and the aggregation per index).
    pub totals: Value,
    /// What the log line's field names start with.
    pub prefix: String,
    pub out: PathBuf,
    pub manifest: PathBuf,
    /// Throws away what an interrupted run kept, instead of continuing it.
    pub restart: bool,
    pub page_size: u32,
}

/// What a fetch did, for the engineer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fetched {
    /// Documents in the output.
    pub written: u64,
    /// Of them, those an interrupted run had written.
    pub resumed: u64,
    pub pages: u64,
    /// Points in time opened again after they expired.
    pub reopened: u64,
    /// Indices in the manifest, and the documents they hold in the window.
    pub indices: usize,
    pub total: u64,
}

/// Where an interrupted fetch stands.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    /// [`KIND`]: what wrote it.
    kind: String,
    /// The cluster, indices, query and field prefix: a state is continued only by the
    /// same fetch.
    cluster: String,
    index: String,
    query: Value,
    prefix: String,
    /// The sort values of the last document read; `None` before the first.
    after: Option<Vec<Value>>,
    /// Digests of `_index` and `_id` of the documents read at the last time
    /// ([`doc_key`]): a few bytes each, at most [`MAX_AT_ONE_TIME`].
    at_last: Vec<u64>,
    written: u64,
    /// The length of the part file when the state was recorded.
    bytes: u64,
    pages: u64,
}

/// What a state of `fetch logs` says it is.
const KIND: &str = "logbrief fetch logs 2";

/// The most documents that may share one time: their ids are what keeps a point in
/// time opened again from writing them twice, and are kept in the state.
const MAX_AT_ONE_TIME: usize = 10_000;

/// Full pages in a row that may bring nothing new, beyond those that a point in time
/// opened again at the last time reads again.
const MAX_IDLE_PAGES: u64 = 3;

/// A digest of a document's `_index` and `_id` (FNV-1a, 64 bits): a state holds these,
/// not the ids.
fn doc_key(index: &str, id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in index.bytes().chain([0xff]).chain(id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One source of the manifest.
#[derive(Debug, Serialize)]
struct Source {
    name: String,
    lines: u64,
    first: Option<String>,
    last: Option<String>,
}

#[derive(Deserialize)]
struct SearchPage {
    #[serde(default)]
    pit_id: Option<String>,
    #[serde(rename = "_scroll_id", default)]
    scroll_id: Option<String>,
    #[serde(default)]
    timed_out: bool,
    #[serde(rename = "_shards", default)]
    shards: Option<Shards>,
    hits: Hits,
}

/// How many shards answered a search.
#[derive(Deserialize, Default)]
struct Shards {
    #[serde(default)]
    total: u64,
    #[serde(default)]
    successful: u64,
    #[serde(default)]
    skipped: u64,
    #[serde(default)]
    failed: u64,
}

/// What part of an answer is missing, if any: a search that timed out or on which
/// shards failed holds only some of the documents.
fn missing_part(timed_out: bool, shards: Option<&Shards>) -> Option<String> {
    if timed_out {
        return Some("the search timed out".to_owned());
    }
    let s = shards?;
    // Elasticsearch counts skipped shards as successful, OpenSearch may not: either way
    // every shard is accounted for when nothing is missing.
    (s.failed > 0 || s.successful.saturating_add(s.skipped) < s.total).then(|| {
        format!(
            "{} of {} shards did not answer",
            s.failed.max(
                s.total
                    .saturating_sub(s.successful.saturating_add(s.skipped))
            ),
            s.total
        )
    })
}

#[derive(Deserialize)]
struct Hits {
    hits: Items<Hit>,
}

#[derive(Deserialize)]
struct Hit {
    #[serde(rename = "_index")]
    index: String,
    #[serde(rename = "_id")]
    id: String,
    #[serde(rename = "_source", default)]
    source: Option<Value>,
    #[serde(default)]
    sort: Vec<Value>,
}

/// Which API opened a point in time: they close it differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PitApi {
    Elasticsearch,
    OpenSearch,
}

struct Pit {
    id: String,
    api: PitApi,
}

/// How the candidates are read: from a point in time, or, where the cluster has
/// none, from a sorted scroll (its id once the first page has been read).
enum Cursor {
    Pit(Pit),
    Scroll(Option<String>),
}

impl Cursor {
    fn open(client: &Client, index: &str, on_wait: OnWait<'_>) -> Result<Cursor> {
        Ok(match open_pit(client, index, on_wait)? {
            Some(pit) => Cursor::Pit(pit),
            None => Cursor::Scroll(None),
        })
    }

    /// Lets the cluster free what the cursor holds, as far as it lets: it expires anyway.
    fn close(&self, client: &Client) {
        match self {
            Cursor::Pit(pit) => close_pit(client, pit),
            Cursor::Scroll(Some(id)) => {
                client.delete_quietly(&client.url("/_search/scroll"), &json!({"scroll_id": [id]}));
            }
            Cursor::Scroll(None) => {}
        }
    }
}

/// `query`, from the time `last` on (the sort value of a time: epoch milliseconds),
/// with the documents that have no time, which sort after every other.
fn from_time(query: &Value, last: Option<&Value>) -> Value {
    match last {
        None => query.clone(),
        Some(t) => json!({"bool": {
            "must": [query],
            "filter": [{"bool": {
                "should": [
                    {"range": {TIME_FIELD: {"gte": t}}},
                    {"bool": {"must_not": [{"exists": {"field": TIME_FIELD}}]}},
                ],
                "minimum_should_match": 1,
            }}],
        }}),
    }
}

/// The characters an index pattern keeps in a route: `*` and `,` are the pattern's.
const INDEX: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'*')
    .remove(b',')
    .remove(b'+');

fn index_route(index: &str) -> String {
    format!("/{}", utf8_percent_encode(index.trim(), INDEX))
}

fn unexpected(client: &Client, url: &str, what: &'static str) -> Error {
    FetchError::Unexpected {
        method: "POST",
        route: client.shown(url),
        what,
    }
    .into()
}

fn partial(client: &Client, url: &str, what: String) -> Error {
    FetchError::Partial {
        method: "POST",
        route: client.shown(url),
        what,
    }
    .into()
}

/// Every document per index in the window, with its first and last time.
fn totals(client: &Client, request: &Request, on_wait: OnWait<'_>) -> Result<Vec<Source>> {
    let url = client.url(&format!("{}/_search", index_route(&request.index)));
    let answer: Value = client.post_ok(&url, &request.totals, on_wait)?;
    let shards = answer
        .get("_shards")
        .map(|s| serde_json::from_value::<Shards>(s.clone()).unwrap_or_default());
    let timed_out = answer.get("timed_out") == Some(&Value::Bool(true));
    if let Some(what) = missing_part(timed_out, shards.as_ref()) {
        return Err(partial(client, &url, what));
    }
    // Indices beyond the aggregation's buckets would be missing from the manifest.
    if answer
        .pointer("/aggregations/sources/sum_other_doc_count")
        .and_then(Value::as_u64)
        .is_some_and(|n| n > 0)
    {
        return Err(partial(
            client,
            &url,
            "more indices than the count per index holds".to_owned(),
        ));
    }
    let buckets = answer
        .pointer("/aggregations/sources/buckets")
        .and_then(Value::as_array)
        .ok_or_else(|| unexpected(client, &url, "aggregation per index"))?;
    let mut sources = Vec::new();
    for bucket in buckets {
        let (Some(name), Some(lines)) = (
            bucket.get("key").and_then(Value::as_str),
            bucket.get("doc_count").and_then(Value::as_u64),
        ) else {
            return Err(unexpected(client, &url, "index name or count in a bucket"));
        };
        sources.push(Source {
            name: name.to_owned(),
            lines,
            first: bucket.pointer("/requests/first").and_then(time_of),
            last: bucket.pointer("/requests/last").and_then(time_of),
        });
    }
    sources.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(sources)
}

/// A `min` or `max` of a time field in RFC 3339: from `value_as_string` when it is
/// RFC 3339, else from `value` in milliseconds since the epoch.
fn time_of(metric: &Value) -> Option<String> {
    let parsed = metric
        .get("value_as_string")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc));
    let t = parsed.or_else(|| {
        let millis = metric.get("value").and_then(Value::as_f64)?;
        DateTime::from_timestamp_millis(millis as i64)
    })?;
    Some(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A point in time on the indices: Elasticsearch's, else OpenSearch's where the
/// cluster does not know `_pit`; `None` where it knows neither.
fn open_pit(client: &Client, index: &str, on_wait: OnWait<'_>) -> Result<Option<Pit>> {
    let route = index_route(index);
    for (path, key, api) in [
        ("_pit", "id", PitApi::Elasticsearch),
        ("_search/point_in_time", "pit_id", PitApi::OpenSearch),
    ] {
        let url = client.url(&format!("{route}/{path}?keep_alive={KEEP_ALIVE}"));
        match client.post::<Value>(&url, &json!({}), on_wait)? {
            Answer::Page(page) => {
                let id = page.body.get(key).and_then(Value::as_str);
                let id = id.ok_or_else(|| unexpected(client, &url, "point in time id"))?;
                return Ok(Some(Pit {
                    id: id.to_owned(),
                    api,
                }));
            }
            Answer::Status(400 | 404 | 405) => {}
            Answer::Status(status) => {
                return Err(client.status_error(Method::Post, &url, status));
            }
        }
    }
    Ok(None)
}

/// Closes a point in time, as far as the cluster lets it: it expires anyway.
fn close_pit(client: &Client, pit: &Pit) {
    match pit.api {
        PitApi::Elasticsearch => {
            client.delete_quietly(&client.url("/_pit"), &json!({"id": pit.id}));
        }
        PitApi::OpenSearch => client.delete_quietly(
            &client.url("/_search/point_in_time"),
            &json!({"pit_id": [pit.id]}),
        ),
    }
}

/// The state to go on from and the part file ready to append to: the recorded state
/// when it is this fetch's, else a new one (and a new, empty part file). A state of
/// another fetch, or one that does not agree with its part file, is refused.
fn start(
    client: &Client,
    request: &Request,
    part_path: &Path,
    state_path: &Path,
) -> Result<(State, File)> {
    if request.restart {
        remove_if_present(&[part_path, state_path])?;
    }
    let fresh = State {
        kind: KIND.to_owned(),
        cluster: client.url(""),
        index: request.index.clone(),
        query: request.query.clone(),
        prefix: request.prefix.clone(),
        after: None,
        at_last: Vec::new(),
        written: 0,
        bytes: 0,
        pages: 0,
    };
    let Some(state) = read_state::<State>(state_path)? else {
        return Ok((fresh, crate::files::create_private(part_path)?));
    };
    let other = if state.kind != fresh.kind {
        Some("another command")
    } else if state.cluster != fresh.cluster {
        Some("another cluster")
    } else if state.index != fresh.index {
        Some("other indices")
    } else if state.query != fresh.query || state.prefix != fresh.prefix {
        Some("another scope or window")
    } else {
        None
    };
    if let Some(other) = other {
        return Err(Error::Usage(format!(
            "{} belongs to a fetch of {other}; use --restart to start this one over",
            state_path.display()
        )));
    }
    let consistent = state.after.is_some() == (state.pages > 0)
        && (state.written > 0) == (state.pages > 0)
        && state.at_last.len() <= MAX_AT_ONE_TIME;
    if !consistent {
        return Err(not_resumable(state_path));
    }
    let mut part = open_at(part_path, state_path, state.bytes)?;
    let (lines, last_time) = lines_in(&mut part, part_path, state.bytes)?;
    // The last document kept is the one the sort values point after.
    let after_time = state
        .after
        .as_ref()
        .and_then(|a| a.first())
        .and_then(sort_millis);
    let moved = matches!((last_time, after_time), (Some(t), Some(a)) if t != a);
    if lines != state.written || moved {
        return Err(not_resumable(state_path));
    }
    Ok((state, part))
}

fn not_resumable(state_path: &Path) -> Error {
    Error::Usage(format!(
        "{} does not agree with the documents kept beside it; use --restart to fetch again",
        state_path.display()
    ))
}

/// The documents in the first `len` bytes of the part file, and the time of the last
/// one in milliseconds, when it has one; the file is left at its end.
fn lines_in(part: &mut File, part_path: &Path, len: u64) -> Result<(u64, Option<i64>)> {
    use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
    let read_error = |source| Error::Read {
        path: part_path.to_owned(),
        source,
    };
    part.seek(SeekFrom::Start(0)).map_err(read_error)?;
    let mut lines = 0;
    let mut last = String::new();
    let mut reader = BufReader::new(Read::by_ref(part).take(len));
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_err(read_error)? == 0 {
            break;
        }
        lines += 1;
        last = line;
    }
    drop(reader);
    part.seek(SeekFrom::End(0)).map_err(read_error)?;
    let time = serde_json::from_str::<Value>(&last)
        .ok()
        .and_then(|doc| doc.get(TIME_FIELD).and_then(source_millis));
    Ok((lines, time))
}

/// A sort value of the time field in milliseconds: Elasticsearch gives a `date` in
/// milliseconds and a `date_nanos` in nanoseconds, told apart by their size (a time
/// of this century in nanoseconds is past 10^18, in milliseconds below 10^13).
fn sort_millis(v: &Value) -> Option<i64> {
    let n = v.as_i64()?;
    Some(if n.unsigned_abs() >= 1_000_000_000_000_000 {
        n / 1_000_000
    } else {
        n
    })
}

/// A document's time in milliseconds, as its `_source` holds it: RFC 3339, a time
/// without a zone (UTC, as the cluster reads it), or milliseconds since the epoch.
fn source_millis(v: &Value) -> Option<i64> {
    if let Some(n) = v.as_i64() {
        return Some(n);
    }
    let text = v.as_str()?.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

/// The window the candidate query asks for, in milliseconds (`gte`, `lt`), from its
/// `range` on the time field.
fn window_of(query: &Value) -> (Option<i64>, Option<i64>) {
    let range = query
        .pointer("/bool/filter")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|f| f.pointer(&format!("/range/{TIME_FIELD}")));
    let bound = |key: &str| range.and_then(|r| r.get(key)).and_then(source_millis);
    (bound("gte"), bound("lt"))
}

/// Sort values as numbers, for comparing; `None` when one is not an integer.
fn sort_key(sort: &[Value]) -> Option<Vec<i128>> {
    sort.iter()
        .map(|v| {
            v.as_i64()
                .map(i128::from)
                .or_else(|| v.as_u64().map(i128::from))
        })
        .collect()
}

/// Fetches the totals, then every candidate page into the part file; then, with every
/// page in, the output and its manifest.
pub(crate) fn fetch(
    client: &Client,
    request: &Request,
    on_page: &dyn Fn(u64, u64),
    on_wait: OnWait<'_>,
) -> Result<Fetched> {
    let part_path = sibling(&request.out, ".part");
    let state_path = sibling(&request.out, ".state");
    let (mut state, mut out) = start(client, request, &part_path, &state_path)?;
    let resumed = state.written;
    let sources = totals(client, request, on_wait).map_err(|e| kept(e, state.pages))?;
    let total: u64 = sources.iter().map(|s| s.lines).sum();
    let mut pages = Pages::new(client, request, &mut state, total, on_wait)
        .map_err(|e| kept(e, state.pages))?;
    let files = PartFiles {
        part: &part_path,
        state: &state_path,
    };
    let result = pages.read_all(&mut state, &mut out, &files, on_page);
    pages.cursor.close(client);
    // Every error stops before its page is counted: `state.pages` are recorded.
    result.map_err(|e| kept(e, state.pages))?;
    drop(out);
    write_outputs(request, &sources, &files)?;
    Ok(Fetched {
        written: state.written,
        resumed,
        pages: state.pages,
        reopened: pages.reopened,
        indices: sources.len(),
        total,
    })
}

/// The files a fetch keeps beside its output until every page is in.
struct PartFiles<'a> {
    part: &'a Path,
    state: &'a Path,
}

/// The candidate pages being read: the cursor, where the next page starts, and what
/// keeps a page read again from being written twice.
struct Pages<'a> {
    client: &'a Client,
    request: &'a Request,
    on_wait: OnWait<'a>,
    /// The documents the totals count in the window: no fetch writes more.
    total: u64,
    window: (Option<i64>, Option<i64>),
    cursor: Cursor,
    /// The sort values the next page starts after.
    after: Option<Vec<Value>>,
    /// The sort value of the last time read, and the documents of that time written.
    last_time: Option<Value>,
    at_last: HashSet<u64>,
    reopened: u64,
    expired_in_a_row: u32,
    /// Full pages in a row that brought nothing new, and how many may.
    idle: u64,
    idle_allowed: u64,
}

/// A new point in time, from the last time on: all of it.
fn from_last_time(t: &Option<Value>) -> Option<Vec<Value>> {
    t.clone().map(|t| vec![t, json!(-1)])
}

impl<'a> Pages<'a> {
    /// Opens a cursor where `state` stands.
    fn new(
        client: &'a Client,
        request: &'a Request,
        state: &mut State,
        total: u64,
        on_wait: OnWait<'a>,
    ) -> Result<Pages<'a>> {
        let at_last: HashSet<u64> = state.at_last.drain(..).collect();
        let last_time = state.after.as_ref().and_then(|a| a.first().cloned());
        let after = from_last_time(&last_time);
        let cursor = Cursor::open(client, &request.index, on_wait)?;
        // Pages that bring nothing new: a point in time opened again at the last time
        // reads the documents of that time again, a page for each page size of them.
        let idle_allowed = MAX_IDLE_PAGES + at_last.len() as u64 / u64::from(request.page_size);
        Ok(Pages {
            client,
            request,
            on_wait,
            total,
            window: window_of(&request.query),
            cursor,
            after,
            last_time,
            at_last,
            reopened: 0,
            expired_in_a_row: 0,
            idle: 0,
            idle_allowed,
        })
    }

    /// Every page into `out`, each recorded in the state file but the last.
    fn read_all(
        &mut self,
        state: &mut State,
        out: &mut File,
        files: &PartFiles<'_>,
        on_page: &dyn Fn(u64, u64),
    ) -> Result<()> {
        let page_size = self.request.page_size as usize;
        loop {
            let Some((url, hits)) = self.next_page(state.pages + 1)? else {
                continue;
            };
            let (text, new) = self.take(&hits)?;
            if state.written + new > self.total {
                return Err(FetchError::MoreThanCounted { total: self.total }.into());
            }
            self.idle = if new == 0 && !hits.is_empty() {
                self.idle + 1
            } else {
                0
            };
            if self.idle > self.idle_allowed {
                return Err(FetchError::Stuck {
                    route: self.client.shown(&url),
                    pages: u32::try_from(self.idle).unwrap_or(u32::MAX),
                }
                .into());
            }
            if let Some(last) = hits.last() {
                self.after = Some(last.sort.clone());
            }
            out.write_all(text.as_bytes())
                .and_then(|()| out.sync_data())
                .map_err(|e| Error::write(files.part, e))?;
            state.written += new;
            state.bytes += text.len() as u64;
            state.pages += 1;
            on_page(state.pages, state.written);
            if hits.len() < page_size {
                return Ok(());
            }
            // The last page is not recorded: the output is written then.
            self.record(state, files.state)?;
        }
    }

    /// The next page's route and hits, checked; `None` when the cursor expired and
    /// was opened again.
    fn next_page(&mut self, page: u64) -> Result<Option<(String, Vec<Hit>)>> {
        let (url, body) = self.page_request();
        let expires = matches!(self.cursor, Cursor::Pit(_) | Cursor::Scroll(Some(_)));
        let answer = match self.client.post::<SearchPage>(&url, &body, self.on_wait)? {
            Answer::Page(answer) => answer.body,
            // The point in time or the scroll expired: a new one, from the last time
            // written.
            Answer::Status(404) if expires => {
                self.reopen()?;
                return Ok(None);
            }
            Answer::Status(status) => {
                return Err(self.client.status_error(Method::Post, &url, status));
            }
        };
        self.expired_in_a_row = 0;
        if let Some(what) = missing_part(answer.timed_out, answer.shards.as_ref()) {
            return Err(partial(self.client, &url, what));
        }
        match (&mut self.cursor, answer.pit_id, answer.scroll_id) {
            (Cursor::Pit(pit), Some(id), _) => pit.id = id,
            (Cursor::Scroll(scroll), _, Some(id)) => *scroll = Some(id),
            _ => {}
        }
        let hits = answer.hits.hits.0;
        if hits.len() > self.request.page_size as usize {
            return Err(unexpected(
                self.client,
                &url,
                "more hits than the page size asked for",
            ));
        }
        let after = self.after.as_deref();
        check_hits(
            &hits,
            &self.cursor,
            after,
            self.last_time.as_ref(),
            self.window,
        )
        .map_err(|what| what.into_error(self.client, &url, page))?;
        Ok(Some((url, hits)))
    }

    /// The route and body that ask for the next page.
    fn page_request(&self) -> (String, Value) {
        let request = self.request;
        match &self.cursor {
            Cursor::Pit(pit) => {
                let mut body = json!({
                    "query": request.query,
                    "pit": {"id": pit.id, "keep_alive": KEEP_ALIVE},
                    "sort": [{TIME_FIELD: "asc"}, {"_shard_doc": "asc"}],
                    "size": request.page_size,
                    "_source": source_fields(&request.prefix),
                    "track_total_hits": false,
                });
                if let Some(after) = &self.after {
                    body["search_after"] = json!(after);
                }
                (self.client.url("/_search"), body)
            }
            Cursor::Scroll(None) => (
                self.client.url(&format!(
                    "{}/_search?scroll={KEEP_ALIVE}",
                    index_route(&request.index)
                )),
                json!({
                    "query": from_time(&request.query, self.last_time.as_ref()),
                    "sort": [{TIME_FIELD: "asc"}],
                    "size": request.page_size,
                    "_source": source_fields(&request.prefix),
                }),
            ),
            Cursor::Scroll(Some(id)) => (
                self.client.url("/_search/scroll"),
                json!({"scroll": KEEP_ALIVE, "scroll_id": id}),
            ),
        }
    }

    /// A new cursor after the last one expired, from the last time written. One that
    /// expires before its first page is not tried for ever.
    fn reopen(&mut self) -> Result<()> {
        if self.expired_in_a_row >= 2 {
            return Err(FetchError::Vanishing {
                times: self.expired_in_a_row + 1,
            }
            .into());
        }
        self.expired_in_a_row += 1;
        self.reopened += 1;
        self.cursor = match std::mem::replace(&mut self.cursor, Cursor::Scroll(None)) {
            Cursor::Pit(_) => Cursor::open(self.client, &self.request.index, self.on_wait)?,
            Cursor::Scroll(_) => Cursor::Scroll(None),
        };
        self.after = from_last_time(&self.last_time);
        self.idle_allowed = self.idle
            + MAX_IDLE_PAGES
            + self.at_last.len() as u64 / u64::from(self.request.page_size);
        Ok(())
    }

    /// The documents of `hits` not written yet, a line each, and how many they are.
    fn take(&mut self, hits: &[Hit]) -> Result<(String, u64)> {
        let mut text = String::new();
        let mut new = 0u64;
        let mut crowded = false;
        for hit in hits {
            let time = &hit.sort[0];
            if self.last_time.as_ref() != Some(time) {
                self.at_last.clear();
                self.last_time = Some(time.clone());
            }
            if self.at_last.insert(doc_key(&hit.index, &hit.id)) {
                if let Some(source) = &hit.source {
                    text.push_str(&source.to_string());
                }
                text.push('\n');
                new += 1;
            }
            crowded |= self.at_last.len() > MAX_AT_ONE_TIME;
        }
        if crowded {
            return Err(FetchError::Crowded {
                most: MAX_AT_ONE_TIME,
            }
            .into());
        }
        Ok((text, new))
    }

    /// Records where the pages stand, after a page that is in the part file.
    fn record(&self, state: &mut State, state_path: &Path) -> Result<()> {
        state.after.clone_from(&self.after);
        state.at_last = self.at_last.iter().copied().collect();
        let recorded = serde_json::to_vec(&*state)
            .map_err(|e| Error::Internal(e.to_string()))
            .and_then(|bytes| crate::files::write_private(state_path, &bytes));
        if recorded.is_err() {
            // The page is in the part file, not in its state.
            state.pages -= 1;
        }
        recorded
    }
}

/// With every page in, the manifest and the output, which appear together. Until the
/// last step there is the earlier pair, or one of them alone, never one beside the
/// other's stranger.
fn write_outputs(request: &Request, sources: &[Source], files: &PartFiles<'_>) -> Result<()> {
    let manifest = json!({
        "sources": sources,
        "engine": "elasticsearch",
        "filter": request.query.to_string(),
        "ran_at": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    let mut bytes =
        serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Internal(e.to_string()))?;
    bytes.push(b'\n');
    let mut pending = crate::files::Pending::create(&request.manifest, crate::files::PRIVATE)?;
    pending
        .write_all(&bytes)
        .map_err(|e| Error::write(&request.manifest, e))?;
    remove_if_present(&[files.state, &request.manifest])?;
    crate::files::promote(files.part, &request.out)?;
    pending.commit()
}

/// Why the hits of a page cannot be taken as they are.
enum BadHits {
    /// What the answer lacks.
    Missing(&'static str),
    /// Hits that do not come after the last one read.
    Backwards,
    OutsideWindow,
}

impl BadHits {
    fn into_error(self, client: &Client, url: &str, page: u64) -> Error {
        match self {
            BadHits::Missing(what) => unexpected(client, url, what),
            BadHits::Backwards => FetchError::Backwards {
                route: client.shown(url),
                page,
            }
            .into(),
            BadHits::OutsideWindow => FetchError::OutsideWindow {
                route: client.shown(url),
                page,
            }
            .into(),
        }
    }
}

/// Each hit has a `_source` object that is not empty and sort values that are
/// numbers; each comes after the one before it (after `after` for a point in time,
/// from `last_time` on for a scroll); each one's time lies in the window.
fn check_hits(
    hits: &[Hit],
    cursor: &Cursor,
    after: Option<&[Value]>,
    last_time: Option<&Value>,
    window: (Option<i64>, Option<i64>),
) -> Result<(), BadHits> {
    let pit = matches!(cursor, Cursor::Pit(_));
    let mut previous: Option<Vec<i128>> = if pit {
        after.and_then(sort_key)
    } else {
        last_time.and_then(|t| sort_key(std::slice::from_ref(t)))
    };
    for hit in hits {
        let source = hit.source.as_ref().and_then(Value::as_object);
        let Some(source) = source.filter(|s| !s.is_empty()) else {
            return Err(BadHits::Missing("_source object in a hit"));
        };
        let Some(key) = sort_key(&hit.sort).filter(|k| k.len() == if pit { 2 } else { 1 }) else {
            return Err(BadHits::Missing("sort values in a hit"));
        };
        if let Some(previous) = &previous {
            // Points in time: strictly after. A scroll sorts by time alone: never back.
            let forward = if pit {
                key > *previous
            } else {
                key[0] >= previous[0]
            };
            if !forward {
                return Err(BadHits::Backwards);
            }
        }
        if window != (None, None) {
            let at = source.get(TIME_FIELD).and_then(source_millis);
            let inside = at.is_some_and(|t| {
                window.0.is_none_or(|since| t >= since) && window.1.is_none_or(|until| t < until)
            });
            if !inside {
                return Err(BadHits::OutsideWindow);
            }
        }
        previous = Some(key);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_patterns_keep_their_stars_and_commas() {
        assert_eq!(
            index_route("pubsub-rails-*,logs.2026+x"),
            "/pubsub-rails-*,logs.2026+x"
        );
        assert_eq!(index_route("a/b c"), "/a%2Fb%20c");
    }

    #[test]
    fn times_of_a_metric() {
        let t = |v: Value| time_of(&v);
        assert_eq!(
            t(json!({"value": 1.77351e12, "value_as_string": "2026-03-14T18:00:00.000+01:00"}))
                .as_deref(),
            Some("2026-03-14T17:00:00.000Z")
        );
        assert_eq!(
            t(json!({"value": 1773511200003.0})).as_deref(),
            Some("2026-03-14T18:00:00.003Z")
        );
        assert_eq!(t(json!({"value": null})), None);
    }
}
