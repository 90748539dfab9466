//! `logbrief fetch audit-events`: every audit event of a group, a project or the
//! instance in a time window, written as the REST API's JSON array, which
//! `summarize --template audit` reads as it is.
//!
//! A long fetch can be interrupted (a network failure past the retries, Ctrl-C). It
//! keeps what it has beside the output: `OUT.part` holds the events so far, one per
//! line, and `OUT.state` the next page's address and how many bytes of `OUT.part`
//! that address follows. Running the same command again continues from there, and
//! the file it writes is the one an uninterrupted run writes.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::client::{Client, OnWait, Page, encode_segment};
use super::{kept, open_at, private_file, read_state, remove_if_present, replace, sibling};
use crate::error::{Error, FetchError, Result};

/// Whose audit events.
#[derive(Debug, Clone)]
pub enum Entity {
    Group(String),
    Project(String),
    Instance,
}

impl Entity {
    fn route(&self) -> String {
        match self {
            Entity::Group(path) => format!("/groups/{}/audit_events", encode_segment(path)),
            Entity::Project(path) => format!("/projects/{}/audit_events", encode_segment(path)),
            Entity::Instance => "/audit_events".to_owned(),
        }
    }
}

/// What to fetch and where to write it.
#[derive(Debug, Clone)]
pub struct Request {
    pub entity: Entity,
    /// Inclusive.
    pub since: Option<DateTime<Utc>>,
    /// Exclusive.
    pub until: Option<DateTime<Utc>>,
    pub out: PathBuf,
    /// Throws away what an interrupted run kept, instead of continuing it.
    pub restart: bool,
}

/// What a fetch did, for the engineer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub events: u64,
    pub pages: u64,
    /// Events a later page repeated (offset pagination shifts when events arrive).
    pub repeated: u64,
    /// Pages an interrupted run had fetched already.
    pub resumed_pages: u64,
}

/// Where an interrupted fetch stands.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    /// The first page's route: a state is continued only by the same request.
    request: String,
    /// The next page's address; `None` when every page is in.
    next: Option<String>,
    /// The length of the part file when `next` was recorded.
    part_bytes: u64,
    pages: u64,
    /// Events in the part file, repeats included.
    #[serde(default)]
    events: u64,
}

/// The API's time format: seconds, UTC, `Z`.
fn api_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The first page's route and query. Keyset pagination (newest first, as the API
/// requires) keeps pages stable while events are added; a server without it answers
/// with offset pages, whose `Link` is followed the same way.
fn first_route(request: &Request) -> String {
    let mut query = vec![
        "pagination=keyset".to_owned(),
        "order_by=id".to_owned(),
        "sort=desc".to_owned(),
        "per_page=100".to_owned(),
    ];
    // The API takes whole seconds, both bounds inclusive. Rounded outwards, the file
    // may hold events of a bound's own second; `summarize --since/--until` keeps
    // exactly the window.
    if let Some(since) = request.since {
        query.push(format!("created_after={}", api_time(floor_second(since))));
    }
    if let Some(until) = request.until {
        let last = floor_second(until);
        let last = if last == until {
            last
        } else {
            last + chrono::Duration::seconds(1)
        };
        query.push(format!("created_before={}", api_time(last)));
    }
    format!("{}?{}", request.entity.route(), query.join("&"))
}

fn floor_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// Fetches every page into the part file, then writes the output.
pub fn fetch(
    client: &Client,
    request: &Request,
    on_page: &dyn Fn(u64, u64),
    on_wait: OnWait<'_>,
) -> Result<Fetched> {
    let part_path = sibling(&request.out, ".part");
    let state_path = sibling(&request.out, ".state");
    let mut state = start(client, request, &part_path, &state_path)?;
    let resumed_pages = state.pages;

    let mut part = open_at(&part_path, &state_path, state.part_bytes)?;
    let mut asked = HashSet::new();
    while let Some(url) = state.next.take() {
        if !asked.insert(url.clone()) {
            return Err(kept(client.circular(&url), state.pages));
        }
        let page: Page<Vec<serde_json::Value>> = client
            .get(&url, on_wait)
            .map_err(|e| kept(e, state.pages))?;
        let mut text = String::new();
        for event in &page.body {
            if !event.is_object() {
                let source = FetchError::NotAnEvent {
                    route: client.route_of(&url).to_owned(),
                    page: state.pages + 1,
                };
                return Err(kept(source.into(), state.pages));
            }
            text.push_str(&event.to_string());
            text.push('\n');
        }
        part.write_all(text.as_bytes())
            .and_then(|()| part.sync_data())
            .map_err(|e| Error::write(&part_path, e))?;
        state.part_bytes += text.len() as u64;
        state.pages += 1;
        state.events += page.body.len() as u64;
        state.next = page.next;
        let bytes = serde_json::to_vec(&state).map_err(|e| Error::Internal(e.to_string()))?;
        replace(&state_path, &bytes)?;
        on_page(state.pages, state.events);
    }
    drop(part);

    let (written, repeated) = write_array(&part_path, &request.out)?;
    // The state goes first: a part file without a state is simply started over.
    for p in [&state_path, &part_path] {
        fs::remove_file(p).map_err(|e| Error::write(p, e))?;
    }
    Ok(Fetched {
        events: written,
        pages: state.pages,
        repeated,
        resumed_pages,
    })
}

/// The state to go on from: the recorded one when it is this fetch's, else a new
/// one. `--restart` forgets what an earlier fetch left.
fn start(client: &Client, request: &Request, part_path: &Path, state_path: &Path) -> Result<State> {
    let route = first_route(request);
    if request.restart {
        remove_if_present(&[part_path, state_path])?;
    }
    // The state names the instance too: another `--gitlab-url` is another fetch.
    let first = client.url(&route);
    match read_state::<State>(state_path)? {
        Some(state) if state.request == first => Ok(state),
        Some(_) => Err(Error::Usage(format!(
            "{} belongs to a fetch of other events, another window or another instance; \
             use --restart to start this one over",
            state_path.display()
        ))),
        None => Ok(State {
            request: first.clone(),
            next: Some(first),
            part_bytes: 0,
            pages: 0,
            events: 0,
        }),
    }
}

/// The output: the events of the part file as one JSON array, in the order the API
/// gave them, each event once (by `id`).
fn write_array(part_path: &Path, out: &Path) -> Result<(u64, u64)> {
    let part = File::open(part_path).map_err(|source| Error::Read {
        path: part_path.to_owned(),
        source,
    })?;
    let tmp = sibling(out, ".tmp");
    let file = private_file(&tmp, true)?;
    let mut w = BufWriter::new(file);
    let mut seen = HashSet::new();
    let (mut written, mut repeated) = (0u64, 0u64);
    w.write_all(b"[").map_err(|e| Error::write(&tmp, e))?;
    for line in BufReader::new(part).lines() {
        let line = line.map_err(|source| Error::Read {
            path: part_path.to_owned(),
            source,
        })?;
        let event = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .filter(serde_json::Value::is_object);
        let Some(event) = event else {
            return Err(Error::InputLine {
                path: part_path.to_owned(),
                line: written + repeated + 1,
                message: "not an audit event; the file was changed, use --restart".into(),
            });
        };
        let id = event.get("id").map(ToString::to_string);
        if id.is_some_and(|id| !seen.insert(id)) {
            repeated += 1;
            continue;
        }
        let sep: &[u8] = if written == 0 { b"\n" } else { b",\n" };
        w.write_all(sep)
            .and_then(|()| w.write_all(line.as_bytes()))
            .map_err(|e| Error::write(&tmp, e))?;
        written += 1;
    }
    w.write_all(b"\n]\n").map_err(|e| Error::write(&tmp, e))?;
    let file = w
        .into_inner()
        .map_err(|e| Error::write(&tmp, e.into_error()))?;
    file.sync_all().map_err(|e| Error::write(&tmp, e))?;
    fs::rename(&tmp, out).map_err(|e| Error::write(out, e))?;
    Ok((written, repeated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_window_in_the_api_terms() {
        let r = Request {
            entity: Entity::Group("acme/platform".into()),
            since: Some(at("2026-03-01T00:00:00Z")),
            until: Some(at("2026-03-15T00:00:00Z")),
            out: "events.json".into(),
            restart: false,
        };
        assert_eq!(
            first_route(&r),
            "/groups/acme%2Fplatform/audit_events?pagination=keyset&order_by=id&sort=desc\
             &per_page=100&created_after=2026-03-01T00:00:00Z&created_before=2026-03-15T00:00:00Z"
        );
        let r = Request {
            entity: Entity::Instance,
            since: None,
            until: None,
            ..r
        };
        assert_eq!(
            first_route(&r),
            "/audit_events?pagination=keyset&order_by=id&sort=desc&per_page=100"
        );
    }

    #[test]
    fn bounds_round_outwards_to_whole_seconds() {
        // `--until 2026-03-14T20:06:00.5Z` is exclusive 20:06:00.500000001.
        let r = Request {
            entity: Entity::Project("acme/app".into()),
            since: Some(at("2026-03-14T20:00:00.7Z")),
            until: Some(at("2026-03-14T20:06:00.500000001Z")),
            out: "e.json".into(),
            restart: false,
        };
        assert!(
            first_route(&r).ends_with(
                "created_after=2026-03-14T20:00:00Z&created_before=2026-03-14T20:06:01Z"
            )
        );
    }
}
