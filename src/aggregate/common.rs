//! What the stories' polars plans share: the column names, the numbers every group
//! of requests has, statuses and the busiest minute, the sort orders, and collecting
//! the several frames of one story at once.

use std::sync::Arc;

use polars::prelude::*;

use super::names::Texts;

/// Column names, in one place: the columns of the input frames, then those the
/// plans make.
pub(super) mod column {
    pub(crate) const PATH: &str = "path";
    pub(crate) const USER: &str = "user";
    pub(crate) const IP: &str = "ip";
    pub(crate) const TIME: &str = "time_us";
    pub(crate) const STATUS: &str = "status";
    pub(crate) const KIND: &str = "kind";
    pub(crate) const AGENT: &str = "user_agent";
    pub(crate) const RULE: &str = "rule";
    pub(crate) const COUNTRY: &str = "country";
    pub(crate) const GIT_CHALLENGE: &str = "git_challenge";
    pub(crate) const ACTION: &str = "action";

    pub(crate) const ACCESSES: &str = "accesses";
    pub(crate) const USERS: &str = "users";
    pub(crate) const ANONYMOUS: &str = "anonymous_accesses";
    pub(crate) const UNIDENTIFIED: &str = "unidentified_accesses";
    /// The input column: the request's log records no user (Workhorse, NGINX).
    pub(crate) const WHO_UNKNOWN: &str = "who_unknown";
    pub(crate) const UNIQUE_IPS: &str = "unique_ips";
    pub(crate) const FIRST: &str = "first_seen";
    pub(crate) const LAST: &str = "last_seen";
    pub(crate) const AGENTS: &str = "distinct_user_agents";
    pub(crate) const CLASS: &str = "class";
    /// The start of a minute, in microseconds.
    pub(crate) const MINUTE: &str = "minute";
    pub(crate) const GIT_CHALLENGES: &str = "git_challenges";
    pub(crate) const UNAUTHORIZED: &str = "unauthorized_401";
    pub(crate) const FORBIDDEN: &str = "forbidden_403";
    pub(crate) const RATE_LIMITED: &str = "rate_limited_429";
    pub(crate) const AUTHORS: &str = "authors";
    pub(crate) const ACTION_TEXT: &str = "action_text";

    /// The count of one kind of request.
    pub(crate) fn kind(kind: crate::ingest::Kind) -> &'static str {
        use crate::ingest::Kind;
        match kind {
            Kind::Web => "kind_web",
            Kind::Api => "kind_api",
            Kind::GitPull => "kind_git_pull",
            Kind::GitPush => "kind_git_push",
            Kind::Download => "kind_download",
        }
    }
}

use column::*;

/// The status of a request without one, and the class of a status outside
/// `100..=599` (RULES.md §5).
const UNKNOWN: &str = "unknown";
const MICROS_PER_MINUTE: i64 = 60_000_000;

/// The minutes wholly inside the window, by the start of the first and of the last
/// (microseconds since 1970): only these can be the busiest minute, so a minute the
/// window cuts is never said with a part of its requests as if they were all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WholeMinutes {
    first: Option<i64>,
    last: Option<i64>,
}

impl WholeMinutes {
    /// The whole minutes from `since` to just before `until_exclusive`.
    pub(crate) fn of(
        since: Option<chrono::DateTime<chrono::Utc>>,
        until_exclusive: Option<chrono::DateTime<chrono::Utc>>,
    ) -> WholeMinutes {
        let floor = |t: chrono::DateTime<chrono::Utc>| {
            let micros = t.timestamp_micros();
            (
                micros.div_euclid(MICROS_PER_MINUTE) * MICROS_PER_MINUTE,
                micros,
            )
        };
        WholeMinutes {
            first: since.map(|s| match floor(s) {
                (minute, micros) if minute == micros => minute,
                (minute, _) => minute + MICROS_PER_MINUTE,
            }),
            // The minute before the one `until_exclusive` falls in ends by then.
            last: until_exclusive.map(|u| floor(u).0 - MICROS_PER_MINUTE),
        }
    }
}

/// Collects the frames of one story in one go, in the order given.
pub(super) fn collect(plans: Vec<LazyFrame>) -> PolarsResult<Vec<DataFrame>> {
    let flags = plans
        .first()
        .map(LazyFrame::get_current_optimizations)
        .unwrap_or_default();
    let plans = plans.into_iter().map(|plan| plan.logical_plan).collect();
    LazyFrame::collect_all_with_engine(plans, Engine::Auto, flags)
}

/// The error of a story that did not get back the frames it planned.
pub(super) fn missing_frames() -> PolarsError {
    polars_err!(ComputeError: "a plan gave back other frames than it made")
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    Ascending,
    Descending,
}
pub(super) use Order::{Ascending, Descending};

/// `frame` sorted by the keys, the first one first.
pub(super) fn sorted<const N: usize>(frame: LazyFrame, keys: [(Expr, Order); N]) -> LazyFrame {
    let (by, descending): (Vec<Expr>, Vec<bool>) = keys
        .into_iter()
        .map(|(key, order)| (key, order == Descending))
        .unzip();
    frame.sort_by_exprs(
        by,
        SortMultipleOptions::default().with_order_descending_multi(descending),
    )
}

/// A column of codes replaced by their texts. Meant for grouped frames: only the
/// rows of a result ever hold a text.
pub(super) fn texts<T: Texts>(name: &str, table: Arc<T>) -> Expr {
    col(name).map(
        move |codes| {
            let texts = codes
                .u32()?
                .iter()
                .map(|code| code.and_then(|code| table.text(code)).unwrap_or_default());
            Ok(StringChunked::from_iter_values(codes.name().clone(), texts).into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::String)),
    )
}

/// Distinct non-null values, as polars counts them.
pub(super) fn distinct(name: &str) -> Expr {
    col(name).drop_nulls().n_unique().cast(DataType::UInt64)
}

/// The number of requests (rows) of a group.
pub(super) fn accesses() -> Expr {
    len().cast(DataType::UInt64).alias(ACCESSES)
}

/// The rows where a condition holds.
pub(super) fn count_if(condition: Expr) -> Expr {
    condition.sum().cast(DataType::UInt64)
}

/// The numbers every group of requests has (RULES.md §5): accesses, users,
/// accesses without a signed-in user, accesses whose log records no user (so whether
/// one was signed in cannot be told), unique IPs.
pub(super) fn request_counts() -> [Expr; 5] {
    [
        accesses(),
        distinct(USER).alias(USERS),
        count_if(col(USER).is_null().and(col(WHO_UNKNOWN).not())).alias(ANONYMOUS),
        count_if(col(WHO_UNKNOWN)).alias(UNIDENTIFIED),
        distinct(IP).alias(UNIQUE_IPS),
    ]
}

/// [`request_counts`] and the time range.
pub(super) fn counts_with_times() -> Vec<Expr> {
    let mut exprs = request_counts().to_vec();
    exprs.extend(time_range());
    exprs
}

/// The first and the last time of a group.
pub(super) fn time_range() -> [Expr; 2] {
    [col(TIME).min().alias(FIRST), col(TIME).max().alias(LAST)]
}

/// Requests per status code, null for requests without one: the groups
/// [`per_status`] and [`per_class`] name and order.
pub(super) fn per_code(requests: LazyFrame) -> LazyFrame {
    requests.group_by([col(STATUS)]).agg([accesses()])
}

/// Requests per status, in the order of the status texts; `unknown` when a request
/// has none.
pub(super) fn per_status(per_code: LazyFrame) -> LazyFrame {
    let status = col(STATUS).cast(DataType::String).fill_null(lit(UNKNOWN));
    sorted(per_code.with_column(status), [(col(STATUS), Ascending)])
}

/// Requests per status class (`1xx` to `5xx`, else `unknown`), in the order of the
/// class texts.
pub(super) fn per_class(per_code: LazyFrame) -> LazyFrame {
    // The status rounded down to its hundred, without a division (which would need
    // another polars feature).
    let hundreds = col(STATUS) - col(STATUS) % lit(100u32);
    let class = (1u32..=5).rev().fold(lit(UNKNOWN), |rest, digit| {
        when(hundreds.clone().eq(lit(digit * 100)))
            .then(lit(format!("{digit}xx")))
            .otherwise(rest)
    });
    let per_class = per_code
        .group_by([class.alias(CLASS)])
        .agg([col(ACCESSES).sum()]);
    sorted(per_class, [(col(CLASS), Ascending)])
}

/// The UTC minute with the most requests, the earliest on a tie; no row without
/// requests.
pub(super) fn busiest_minute(requests: LazyFrame, whole: WholeMinutes) -> LazyFrame {
    // polars' `%` takes the sign of the divisor, so this rounds down before 1970 too.
    let minute = col(TIME) - col(TIME) % lit(MICROS_PER_MINUTE);
    let mut requests = requests.with_column(minute.alias(MINUTE));
    if let Some(first) = whole.first {
        requests = requests.filter(col(MINUTE).gt_eq(lit(first)));
    }
    if let Some(last) = whole.last {
        requests = requests.filter(col(MINUTE).lt_eq(lit(last)));
    }
    sorted(
        requests.group_by([col(MINUTE)]).agg([accesses()]),
        [(col(ACCESSES), Descending), (col(MINUTE), Ascending)],
    )
    .limit(1)
}
