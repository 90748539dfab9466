//! The IP-block story: what the requests from the requester's own addresses met,
//! per status, per minute, and per path of theirs, with everything else summed
//! without names. One lazy plan, [`plan()`], collected once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use polars::prelude::*;

use super::common::{self, Ascending, Descending, column::*, sorted};
use super::names::Names;
use super::rows;
use super::view::IpBlock;

/// One request from the requester's own addresses, for the IP-block story.
#[derive(Debug, Clone)]
pub(crate) struct ClientRequest {
    /// The requester's path it went to; `None` for a path outside their namespaces,
    /// which the reply may count but never name.
    pub path: Option<String>,
    pub status: Option<u16>,
    pub time: DateTime<Utc>,
    /// A 401 on `info/refs`: Git over HTTP always asks without credentials first.
    pub git_challenge: bool,
}

/// Counts the requests from the requester's addresses.
///
/// # Panics
///
/// When polars fails on the frames this module built itself, which would be a bug
/// here: the caller has no error to report it with.
pub(crate) fn ip_block(
    requests: &[ClientRequest],
    whole: common::WholeMinutes,
) -> PolarsResult<IpBlock> {
    let refused_times = || requests.iter().filter(|r| r.refused()).map(|r| r.time);
    let (refused_first, refused_last) = (refused_times().min(), refused_times().max());
    let (requests, names) = frame(requests)?;
    let frames = common::collect(plan(requests, Arc::new(names), whole))?;
    let [totals, statuses, busiest, paths, elsewhere] = &frames[..] else {
        return Err(common::missing_frames());
    };
    Ok(IpBlock {
        accesses: rows::only(totals, rows::accesses)?,
        statuses: rows::all(statuses, rows::status)?,
        busiest_minute: rows::first(busiest, rows::busiest_minute)?,
        git_challenges: rows::only(totals, rows::git_challenges)?,
        paths: rows::all(paths, rows::path_refusals)?,
        elsewhere: rows::only(elsewhere, rows::refusals)?,
        refused_first,
        refused_last,
    })
}

impl ClientRequest {
    /// Refused as unauthenticated (not as a Git challenge), forbidden or rate limited.
    pub(super) fn refused(&self) -> bool {
        match self.status {
            Some(401) => !self.git_challenge,
            Some(403 | 429) => true,
            _ => false,
        }
    }
}

/// The requests as numbers; paths are interned in a table of their own.
fn frame(requests: &[ClientRequest]) -> PolarsResult<(LazyFrame, Names)> {
    let names = Names::default();
    let path: Vec<Option<u32>> = requests
        .iter()
        .map(|r| r.path.as_deref().map(|p| names.intern(p).index()))
        .collect();
    let df = DataFrame::new_infer_height(vec![
        Column::new(PATH.into(), path),
        Column::new(
            STATUS.into(),
            requests
                .iter()
                .map(|r| r.status.map(u32::from))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            TIME.into(),
            requests
                .iter()
                .map(|r| r.time.timestamp_micros())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            GIT_CHALLENGE.into(),
            requests.iter().map(|r| r.git_challenge).collect::<Vec<_>>(),
        ),
    ])?;
    Ok((df.lazy(), names))
}

/// The frames of the story, in the order [`count`] reads them: totals,
/// statuses, the busiest minute, the requester's paths, and the rest.
fn plan(requests: LazyFrame, names: Arc<Names>, whole: common::WholeMinutes) -> Vec<LazyFrame> {
    let totals = requests.clone().select([
        common::accesses(),
        common::count_if(col(GIT_CHALLENGE)).alias(GIT_CHALLENGES),
    ]);
    let own = requests
        .clone()
        .filter(col(PATH).is_not_null())
        .group_by([col(PATH)])
        .agg(refusals())
        .with_column(common::texts(PATH, names));
    // Most refused first, then most requests, then in the order of the paths.
    let refused = col(UNAUTHORIZED) + col(FORBIDDEN) + col(RATE_LIMITED);
    let own = sorted(
        own,
        [
            (refused, Descending),
            (col(ACCESSES), Descending),
            (col(PATH), Ascending),
        ],
    );
    let elsewhere = requests
        .clone()
        .filter(col(PATH).is_null())
        .select(refusals());
    vec![
        totals,
        common::per_status(common::per_code(requests.clone())),
        common::busiest_minute(requests, whole),
        own,
        elsewhere,
    ]
}

/// Requests, and those refused as unauthenticated (a Git challenge is not), as
/// forbidden, and as rate limited.
fn refusals() -> [Expr; 4] {
    let status = |code: u32| col(STATUS).eq(lit(code));
    [
        common::accesses(),
        common::count_if(status(401).and(col(GIT_CHALLENGE).not())).alias(UNAUTHORIZED),
        common::count_if(status(403)).alias(FORBIDDEN),
        common::count_if(status(429)).alias(RATE_LIMITED),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::format_time;
    use crate::aggregate::view::Refusals;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn ip_block_names_owned_paths_and_sums_the_rest() {
        let r = |path: Option<&str>, status, t: &str, git_challenge| ClientRequest {
            path: path.map(Into::into),
            status: Some(status),
            time: at(t),
            git_challenge,
        };
        let block = ip_block(
            &[
                r(Some("acme/a"), 401, "2026-03-14T20:06:01Z", false),
                r(Some("acme/a"), 401, "2026-03-14T20:06:31Z", false),
                r(Some("acme/a"), 401, "2026-03-14T20:06:50Z", true),
                r(Some("acme/b"), 200, "2026-03-14T20:07:00Z", false),
                r(None, 429, "2026-03-14T20:07:10Z", false),
                r(None, 403, "2026-03-14T20:07:20Z", false),
            ],
            Default::default(),
        )
        .unwrap();
        assert_eq!(block.accesses, 6);
        assert_eq!(block.git_challenges, 1);
        assert_eq!(
            (block.refused_first, block.refused_last),
            (
                Some(at("2026-03-14T20:06:01Z")),
                Some(at("2026-03-14T20:07:20Z"))
            )
        );
        assert_eq!(block.paths[0].path, "acme/a");
        assert_eq!(block.paths[0].refusals.unauthorized_401, 2);
        assert_eq!(
            block.elsewhere,
            Refusals {
                accesses: 2,
                unauthorized_401: 0,
                forbidden_403: 1,
                rate_limited_429: 1
            }
        );
        let busiest = block.busiest_minute.unwrap();
        assert_eq!(
            (format_time(busiest.minute).as_str(), busiest.accesses),
            ("2026-03-14T20:06:00.000Z", 3)
        );
    }

    /// Most refused first, then most requests, then by the path's text; a Git
    /// challenge is not a refusal.
    #[test]
    fn paths_order_by_refusals_then_requests_then_text() {
        let r = |path: &str, status, git_challenge| ClientRequest {
            path: Some(path.into()),
            status: Some(status),
            time: at("2026-03-14T20:06:01Z"),
            git_challenge,
        };
        let block = ip_block(
            &[
                r("é", 200, false),
                r("B", 401, true),
                r("B", 200, false),
                r("c", 429, false),
                r("a", 401, false),
                r("a", 200, false),
                r("A", 200, false),
                r("b", 403, false),
                r("b", 403, false),
            ],
            Default::default(),
        )
        .unwrap();
        let paths: Vec<_> = block
            .paths
            .iter()
            .map(|p| (p.path.as_str(), p.refusals.refused(), p.refusals.accesses))
            .collect();
        assert_eq!(
            paths,
            [
                ("b", 2, 2),
                ("a", 1, 2),
                ("c", 1, 1),
                ("B", 0, 2),
                ("A", 0, 1),
                ("é", 0, 1)
            ]
        );
        assert_eq!(
            ip_block(&[], Default::default()).unwrap(),
            IpBlock::default()
        );
    }
}
