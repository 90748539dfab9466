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
//! After each page, `OUT.state` records where the pages stand (the last sort values,
//! the ids at the last time, the documents written and the length of `OUT`). Running
//! the same command again cuts `OUT` back to that length and goes on as after an
//! expiry; the file it ends with is the one an uninterrupted run writes.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::{Answer, Client, Method, OnWait};
use super::{kept, open_at, read_state, remove_if_present, replace, sibling};
use crate::error::{Error, FetchError, Result};
use crate::pushdown::elastic::{TIME_FIELD, source_fields};

/// How long a point in time is kept between two pages.
const KEEP_ALIVE: &str = "2m";

/// What to fetch and where to write it.
#[derive(Debug, Clone)]
pub struct Request {
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
pub struct Fetched {
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
    /// The cluster, indices and query: a state is continued only by the same fetch.
    request: String,
    /// The sort values of the last document read; `None` before the first.
    after: Option<Vec<Value>>,
    /// `_index` and `_id` of the documents read at the last time.
    at_last: Vec<(String, String)>,
    written: u64,
    /// The length of the output when the state was recorded.
    bytes: u64,
    pages: u64,
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
    hits: Hits,
}

#[derive(Deserialize)]
struct Hits {
    hits: Vec<Hit>,
}

#[derive(Deserialize)]
struct Hit {
    #[serde(rename = "_index")]
    index: String,
    #[serde(rename = "_id")]
    id: String,
    #[serde(rename = "_source", default)]
    source: Value,
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
        route: client.route_of(url).to_owned(),
        what,
    }
    .into()
}

/// Every document per index in the window, with its first and last time.
fn totals(client: &Client, request: &Request, on_wait: OnWait<'_>) -> Result<Vec<Source>> {
    let url = client.url(&format!("{}/_search", index_route(&request.index)));
    let answer: Value = client.post_ok(&url, &request.totals, on_wait)?;
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

/// The state to go on from: the recorded one when it is this fetch's, else a new one.
fn start(client: &Client, request: &Request, state_path: &std::path::Path) -> Result<State> {
    let fingerprint = json!({
        "cluster": client.url(""),
        "index": request.index,
        "query": request.query,
        "prefix": request.prefix,
    })
    .to_string();
    if request.restart {
        remove_if_present(&[state_path])?;
    }
    match read_state::<State>(state_path)? {
        Some(state) if state.request == fingerprint => Ok(state),
        Some(_) => Err(Error::Usage(format!(
            "{} belongs to a fetch of other indices, another scope or window or another \
             cluster; use --restart to start this one over",
            state_path.display()
        ))),
        None => Ok(State {
            request: fingerprint,
            after: None,
            at_last: Vec::new(),
            written: 0,
            bytes: 0,
            pages: 0,
        }),
    }
}

/// Fetches the totals, then every candidate page into the output, then writes the
/// manifest.
pub fn fetch(
    client: &Client,
    request: &Request,
    on_page: &dyn Fn(u64, u64),
    on_wait: OnWait<'_>,
) -> Result<Fetched> {
    let state_path = sibling(&request.out, ".state");
    let mut state = start(client, request, &state_path)?;
    let resumed = state.written;
    let sources = totals(client, request, on_wait).map_err(|e| kept(e, state.pages))?;
    let mut out = open_at(&request.out, &state_path, state.bytes)?;

    let search_url = client.url("/_search");
    let scroll_url = client.url("/_search/scroll");
    let first_scroll_url = client.url(&format!(
        "{}/_search?scroll={KEEP_ALIVE}",
        index_route(&request.index)
    ));
    let mut at_last: HashSet<(String, String)> = state.at_last.drain(..).collect();
    let mut last_time = state.after.as_ref().and_then(|a| a.first().cloned());
    // A new point in time: from the last time on, all of it.
    let from_last_time = |t: &Option<Value>| t.clone().map(|t| vec![t, json!(-1)]);
    let mut after = from_last_time(&last_time);
    let mut cursor =
        Cursor::open(client, &request.index, on_wait).map_err(|e| kept(e, state.pages))?;
    let (mut reopened, mut expired_in_a_row) = (0u64, 0u32);
    loop {
        let (url, body) = match &cursor {
            Cursor::Pit(pit) => {
                let mut body = json!({
                    "query": request.query,
                    "pit": {"id": pit.id, "keep_alive": KEEP_ALIVE},
                    "sort": [{TIME_FIELD: "asc"}, {"_shard_doc": "asc"}],
                    "size": request.page_size,
                    "_source": source_fields(&request.prefix),
                    "track_total_hits": false,
                });
                if let Some(after) = &after {
                    body["search_after"] = json!(after);
                }
                (&search_url, body)
            }
            Cursor::Scroll(None) => (
                &first_scroll_url,
                json!({
                    "query": from_time(&request.query, last_time.as_ref()),
                    "sort": [{TIME_FIELD: "asc"}],
                    "size": request.page_size,
                    "_source": source_fields(&request.prefix),
                }),
            ),
            Cursor::Scroll(Some(id)) => {
                (&scroll_url, json!({"scroll": KEEP_ALIVE, "scroll_id": id}))
            }
        };
        let page = match client.post::<SearchPage>(url, &body, on_wait) {
            Ok(Answer::Page(page)) => page.body,
            // The point in time or the scroll expired: a new one, from the last time
            // written. One that expires before its first page is not tried for ever.
            Ok(Answer::Status(404)) if expired_in_a_row < 2 => {
                expired_in_a_row += 1;
                reopened += 1;
                cursor = match cursor {
                    Cursor::Pit(_) => Cursor::open(client, &request.index, on_wait)
                        .map_err(|e| kept(e, state.pages))?,
                    Cursor::Scroll(_) => Cursor::Scroll(None),
                };
                after = from_last_time(&last_time);
                continue;
            }
            Ok(Answer::Status(status)) => {
                let e = client.status_error(Method::Post, url, status);
                cursor.close(client);
                return Err(kept(e, state.pages));
            }
            Err(e) => {
                cursor.close(client);
                return Err(kept(e, state.pages));
            }
        };
        expired_in_a_row = 0;
        match (&mut cursor, page.pit_id, page.scroll_id) {
            (Cursor::Pit(pit), Some(id), _) => pit.id = id,
            (Cursor::Scroll(scroll), _, Some(id)) => *scroll = Some(id),
            _ => {}
        }
        let hits = page.hits.hits;
        let mut text = String::new();
        for hit in &hits {
            let Some(time) = hit.sort.first() else {
                cursor.close(client);
                return Err(kept(
                    unexpected(client, &search_url, "sort values in a hit"),
                    state.pages,
                ));
            };
            if last_time.as_ref() != Some(time) {
                at_last.clear();
                last_time = Some(time.clone());
            }
            if at_last.insert((hit.index.clone(), hit.id.clone())) {
                text.push_str(&hit.source.to_string());
                text.push('\n');
                state.written += 1;
            }
        }
        if let Some(last) = hits.last() {
            after = Some(last.sort.clone());
        }
        out.write_all(text.as_bytes())
            .and_then(|()| out.sync_data())
            .map_err(|e| Error::write(&request.out, e))?;
        state.bytes += text.len() as u64;
        state.pages += 1;
        state.after.clone_from(&after);
        state.at_last = at_last.iter().cloned().collect();
        let bytes = serde_json::to_vec(&state).map_err(|e| Error::Internal(e.to_string()))?;
        replace(&state_path, &bytes)?;
        on_page(state.pages, state.written);
        if hits.len() < request.page_size as usize {
            break;
        }
    }
    drop(out);
    cursor.close(client);

    let total = sources.iter().map(|s| s.lines).sum();
    let manifest = json!({
        "sources": sources,
        "engine": "elasticsearch",
        "filter": request.query.to_string(),
        "ran_at": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    let mut bytes =
        serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Internal(e.to_string()))?;
    bytes.push(b'\n');
    replace(&request.manifest, &bytes)?;
    remove_if_present(&[&state_path])?;
    Ok(Fetched {
        written: state.written,
        resumed,
        pages: state.pages,
        reopened,
        indices: sources.len(),
        total,
    })
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
