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
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::client::{Client, Items, OnWait, Page, encode_segment, with_param};
use super::{kept, open_at, read_state, remove_if_present, sibling};
use crate::error::{Error, FetchError, Result};

/// Whose audit events.
#[derive(Debug, Clone)]
pub(crate) enum Entity {
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
pub(crate) struct Request {
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
pub(crate) struct Fetched {
    pub events: u64,
    pub pages: u64,
    /// Events a later page repeated (offset pagination shifts when events arrive).
    pub repeated: u64,
    /// Pages an interrupted run had fetched already.
    pub resumed_pages: u64,
}

/// Where an interrupted fetch stands. It names the fetch it belongs to (the instance,
/// the route without its query, the window) so that another command cannot continue
/// it, and the next page by its pagination parameter alone: the rest of the address is
/// the command's own.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    /// [`KIND`]: what wrote it.
    kind: String,
    /// The instance's API.
    instance: String,
    /// The events' route, without its query.
    route: String,
    /// The window as the API is asked for it, each bound in its own field.
    created_after: Option<String>,
    created_before: Option<String>,
    /// The next page's pagination parameter (`cursor=…` or `page=N`); `None` only
    /// before the first page. No state is recorded after the last page: the output
    /// is written then.
    after: Option<String>,
    /// The length of the part file when `after` was recorded.
    part_bytes: u64,
    pages: u64,
    /// Events in the part file, repeats included.
    events: u64,
}

/// What a state of `fetch audit-events` says it is.
const KIND: &str = "logbrief fetch audit-events 2";

/// Pages in a row that may bring no event not seen before (empty pages, or events
/// already written under a new cursor) before the server is taken to be going round.
const MAX_IDLE_PAGES: u32 = 3;

/// The most events a fetch keeps, repeats included: far beyond a group's audit log in
/// any window a ticket needs, and what `summarize` holds in memory.
pub(crate) const MAX_EVENTS: u64 = 5_000_000;

/// The API's time format: seconds, UTC, `Z`.
fn api_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The window as the API is asked for it: whole seconds, both inclusive, rounded
/// outwards. The file may hold events of a bound's own second; `summarize
/// --since/--until` keeps exactly the window.
fn api_window(request: &Request) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let since = request.since.map(floor_second);
    let until = request.until.map(|until| {
        let last = floor_second(until);
        if last == until {
            last
        } else {
            last + chrono::Duration::seconds(1)
        }
    });
    (since, until)
}

/// The events' route, without a query.
fn route(request: &Request) -> String {
    request.entity.route()
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
    let (since, until) = api_window(request);
    if let Some(since) = since {
        query.push(format!("created_after={}", api_time(since)));
    }
    if let Some(until) = until {
        query.push(format!("created_before={}", api_time(until)));
    }
    format!("{}?{}", route(request), query.join("&"))
}

fn floor_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// An event's id as a number, whether the API wrote it as `190` or `"190"`.
fn id_of(event: &serde_json::Value) -> Option<u64> {
    match event.get("id")? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

/// Whether `event` was created inside the window the API was asked for.
fn in_window(
    event: &serde_json::Value,
    window: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
) -> bool {
    if window == (None, None) {
        return true;
    }
    let Some(at) = event
        .get("created_at")
        .and_then(serde_json::Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    else {
        return false;
    };
    let second = floor_second(at.with_timezone(&Utc));
    window.0.is_none_or(|since| second >= since) && window.1.is_none_or(|until| second <= until)
}

/// The events of page `page` (at `route`) as lines of text, and how many of them
/// `seen` did not hold (it holds them now). An element that is not an event with an
/// id, or an event outside the window, refuses the page.
fn page_text(
    events: &[serde_json::Value],
    seen: &mut HashSet<u64>,
    window: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    route: impl Fn() -> String,
    page: u64,
) -> std::result::Result<(String, u64), FetchError> {
    let mut text = String::new();
    let mut new = 0u64;
    for event in events {
        let id = event.is_object().then(|| id_of(event)).flatten();
        let Some(id) = id else {
            let route = route();
            return Err(FetchError::NotAnEvent { route, page });
        };
        if !in_window(event, window) {
            let route = route();
            return Err(FetchError::OutsideWindow { route, page });
        }
        new += u64::from(seen.insert(id));
        text.push_str(&event.to_string());
        text.push('\n');
    }
    Ok((text, new))
}

/// The page at `url`, refused when it would take the events fetched past
/// [`MAX_EVENTS`].
fn get_page(
    client: &Client,
    url: &str,
    first: &str,
    state: &State,
    on_wait: OnWait<'_>,
) -> Result<Page<Vec<serde_json::Value>>> {
    let page: Page<Items<serde_json::Value>> =
        client.get(url, on_wait).map_err(|e| kept(e, state.pages))?;
    let page = Page {
        body: page.body.0,
        next: page.next,
    };
    if state.events + page.body.len() as u64 > MAX_EVENTS {
        let source = FetchError::TooLarge {
            route: client.shown(first),
            most: MAX_EVENTS as usize,
        };
        return Err(kept(source.into(), state.pages));
    }
    Ok(page)
}

/// Fetches every page into the part file, then writes the output.
pub(crate) fn fetch(
    client: &Client,
    request: &Request,
    on_page: &dyn Fn(u64, u64),
    on_wait: OnWait<'_>,
) -> Result<Fetched> {
    let part_path = sibling(&request.out, ".part");
    let state_path = sibling(&request.out, ".state");
    let (mut state, mut part, mut seen) = start(client, request, &part_path, &state_path)?;
    let resumed_pages = state.pages;
    let window = api_window(request);
    let first = client.url(&first_route(request));
    let mut asked = HashSet::new();
    let mut idle = 0;
    let mut pages = || -> Result<()> {
        loop {
            let url = match &state.after {
                None => first.clone(),
                Some(param) => with_param(&first, param),
            };
            if !asked.insert(url.clone()) {
                return Err(kept(client.circular(&url), state.pages));
            }
            let page = get_page(client, &url, &first, &state, on_wait)?;
            let route = || client.shown(&url);
            let (text, new) = page_text(&page.body, &mut seen, window, route, state.pages + 1)
                .map_err(|source| kept(source.into(), state.pages))?;
            idle = if new == 0 { idle + 1 } else { 0 };
            if idle >= MAX_IDLE_PAGES && page.next.is_some() {
                let source = FetchError::Stuck {
                    route: client.shown(&first),
                    pages: idle,
                };
                return Err(kept(source.into(), state.pages));
            }
            part.write_all(text.as_bytes())
                .and_then(|()| part.sync_data())
                .map_err(|e| Error::write(&part_path, e))?;
            state.part_bytes += text.len() as u64;
            state.pages += 1;
            state.events += page.body.len() as u64;
            on_page(state.pages, state.events);
            let Some(next) = page.next else { break };
            let param = client
                .next_param(&first, &next)
                .map_err(|e| kept(e, state.pages - 1))?;
            state.after = Some(param);
            let bytes = serde_json::to_vec(&state).map_err(|e| Error::Internal(e.to_string()))?;
            crate::files::write_private(&state_path, &bytes)?;
        }
        Ok(())
    };
    if let Err(e) = pages() {
        // A fetch that got no page leaves no empty part file behind.
        if state.pages == 0 {
            drop(part);
            crate::files::remove_if_present(&part_path)?;
        }
        return Err(e);
    }
    drop(part);

    let (written, repeated) = write_array(&part_path, state.part_bytes, &request.out)?;
    // The state goes first: a part file without a state is simply started over.
    for p in [&state_path, &part_path] {
        crate::files::remove_if_present(p)?;
    }
    Ok(Fetched {
        events: written,
        pages: state.pages,
        repeated,
        resumed_pages,
    })
}

/// The state to go on from, the part file ready to append to, and the ids in it: the
/// recorded state when it is this fetch's, else a new one. `--restart` forgets what an
/// earlier fetch left; a state of another fetch, or one that does not agree with its
/// part file, is refused.
fn start(
    client: &Client,
    request: &Request,
    part_path: &Path,
    state_path: &Path,
) -> Result<(State, File, HashSet<u64>)> {
    if request.restart {
        remove_if_present(&[part_path, state_path])?;
    }
    let (since, until) = api_window(request);
    let fresh = State {
        kind: KIND.to_owned(),
        instance: client.url(""),
        route: route(request),
        created_after: since.map(api_time),
        created_before: until.map(api_time),
        after: None,
        part_bytes: 0,
        pages: 0,
        events: 0,
    };
    let Some(state) = read_state::<State>(state_path)? else {
        // A part file without a state is started over.
        let part = crate::files::create_private(part_path)?;
        return Ok((fresh, part, HashSet::new()));
    };
    let other = if state.kind != fresh.kind {
        Some("another command")
    } else if state.instance != fresh.instance {
        Some("another instance")
    } else if state.route != fresh.route {
        Some("the events of another group, project or instance")
    } else if (&state.created_after, &state.created_before)
        != (&fresh.created_after, &fresh.created_before)
    {
        Some("another window")
    } else {
        None
    };
    if let Some(other) = other {
        return Err(Error::Usage(format!(
            "{} belongs to a fetch of {other}; use --restart to start this one over",
            state_path.display()
        )));
    }
    if state.after.is_none() != (state.pages == 0) {
        return Err(not_resumable(state_path));
    }
    let mut part = open_at(part_path, state_path, state.part_bytes)?;
    let (lines, seen) = ids_in(&mut part, part_path, state.part_bytes)?;
    if lines != state.events {
        return Err(not_resumable(state_path));
    }
    Ok((state, part, seen))
}

fn not_resumable(state_path: &Path) -> Error {
    Error::Usage(format!(
        "{} does not agree with the events kept beside it; use --restart to fetch again",
        state_path.display()
    ))
}

/// The events in the first `len` bytes of the part file, and their ids; the file is
/// left at its end.
fn ids_in(part: &mut File, part_path: &Path, len: u64) -> Result<(u64, HashSet<u64>)> {
    use std::io::{Read, Seek, SeekFrom};
    let read_error = |source| Error::Read {
        path: part_path.to_owned(),
        source,
    };
    part.seek(SeekFrom::Start(0)).map_err(read_error)?;
    let mut seen = HashSet::new();
    let mut lines = 0;
    for line in BufReader::new(Read::by_ref(part).take(len)).lines() {
        let line = line.map_err(read_error)?;
        let id = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .as_ref()
            .and_then(id_of);
        let Some(id) = id else {
            return Err(Error::InputLine {
                path: part_path.to_owned(),
                line: lines + 1,
                message: "not an audit event; the file was changed, use --restart".into(),
            });
        };
        seen.insert(id);
        lines += 1;
    }
    part.seek(SeekFrom::End(0)).map_err(read_error)?;
    Ok((lines, seen))
}

/// The output: the events of the part file (its first `len` bytes) as one JSON array,
/// in the order the API gave them, each event once (by `id`, as a number), written to
/// a fresh file that replaces `out` only once it is whole.
fn write_array(part_path: &Path, len: u64, out: &Path) -> Result<(u64, u64)> {
    use std::io::Read;
    let part = crate::files::reopen_private(part_path)?.ok_or_else(|| Error::Read {
        path: part_path.to_owned(),
        source: std::io::ErrorKind::NotFound.into(),
    })?;
    let mut pending = crate::files::Pending::create(out, crate::files::PRIVATE)?;
    let mut w = BufWriter::new(pending.file());
    let mut seen = HashSet::new();
    let (mut written, mut repeated) = (0u64, 0u64);
    w.write_all(b"[").map_err(|e| Error::write(out, e))?;
    for line in BufReader::new(part.take(len)).lines() {
        let line = line.map_err(|source| Error::Read {
            path: part_path.to_owned(),
            source,
        })?;
        let id = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .filter(serde_json::Value::is_object)
            .as_ref()
            .and_then(id_of);
        let Some(id) = id else {
            return Err(Error::InputLine {
                path: part_path.to_owned(),
                line: written + repeated + 1,
                message: "not an audit event; the file was changed, use --restart".into(),
            });
        };
        if !seen.insert(id) {
            repeated += 1;
            continue;
        }
        let sep: &[u8] = if written == 0 { b"\n" } else { b",\n" };
        w.write_all(sep)
            .and_then(|()| w.write_all(line.as_bytes()))
            .map_err(|e| Error::write(out, e))?;
        written += 1;
    }
    w.write_all(b"\n]\n").map_err(|e| Error::write(out, e))?;
    w.flush().map_err(|e| Error::write(out, e))?;
    drop(w);
    pending.commit()?;
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
