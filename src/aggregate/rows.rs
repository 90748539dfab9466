//! The one place result rows become view types. Each function reads one row of a
//! frame a story's plan made, by the column names the plan gave it; the plans have
//! already cast, sorted and resolved, so reading is a lookup.

use chrono::{DateTime, Utc};
use polars::prelude::*;

use super::common::column::*;
use super::names::at_position;
use super::view::{
    ActionCounts, AuditTally, BusiestMinute, ClassCount, CountryCounts, Counts, Excluded,
    KindCounts, PathCounts, PathRefusals, Refusals, StatusCount,
};
use crate::exclude::Rule;
use crate::ingest::Kind;

/// One row of a result frame.
pub(super) struct Row<'a> {
    frame: &'a DataFrame,
    at: usize,
}

impl Row<'_> {
    /// A count; the plans cast every count to `u64`.
    fn u64(&self, name: &str) -> PolarsResult<u64> {
        Ok(self.frame.column(name)?.u64()?.get(self.at).unwrap_or(0))
    }

    /// A code: a [`super::names::position`] or a dense code.
    fn code(&self, name: &str) -> PolarsResult<Option<u32>> {
        Ok(self.frame.column(name)?.u32()?.get(self.at))
    }

    fn text(&self, name: &str) -> PolarsResult<String> {
        let text = self.frame.column(name)?.str()?.get(self.at);
        Ok(text.unwrap_or_default().to_owned())
    }

    /// A time in microseconds.
    fn time(&self, name: &str) -> PolarsResult<Option<DateTime<Utc>>> {
        let micros = self.frame.column(name)?.i64()?.get(self.at);
        Ok(micros.and_then(DateTime::from_timestamp_micros))
    }
}

/// Every row of `frame`, read in order.
pub(super) fn all<T>(
    frame: &DataFrame,
    read: impl Fn(&Row) -> PolarsResult<T>,
) -> PolarsResult<Vec<T>> {
    (0..frame.height())
        .map(|at| read(&Row { frame, at }))
        .collect()
}

/// The first row of `frame`, if it has one.
pub(super) fn first<T>(
    frame: &DataFrame,
    read: impl FnOnce(&Row) -> PolarsResult<T>,
) -> PolarsResult<Option<T>> {
    (frame.height() > 0)
        .then(|| read(&Row { frame, at: 0 }))
        .transpose()
}

/// The row of a frame that aggregates without grouping: it always has one.
pub(super) fn only<T>(
    frame: &DataFrame,
    read: impl FnOnce(&Row) -> PolarsResult<T>,
) -> PolarsResult<T> {
    first(frame, read)?.ok_or_else(|| polars_err!(NoData: "an aggregate without its row"))
}

pub(super) fn counts(row: &Row) -> PolarsResult<Counts> {
    Ok(Counts {
        accesses: row.u64(ACCESSES)?,
        users: row.u64(USERS)?,
        anonymous_accesses: row.u64(ANONYMOUS)?,
        unidentified_accesses: row.u64(UNIDENTIFIED)?,
        unique_ips: row.u64(UNIQUE_IPS)?,
        first_seen: row.time(FIRST)?,
        last_seen: row.time(LAST)?,
    })
}

pub(super) fn accesses(row: &Row) -> PolarsResult<u64> {
    row.u64(ACCESSES)
}

pub(super) fn distinct_user_agents(row: &Row) -> PolarsResult<u64> {
    row.u64(AGENTS)
}

pub(super) fn kinds(row: &Row) -> PolarsResult<KindCounts> {
    Ok(KindCounts {
        web: row.u64(kind(Kind::Web))?,
        api: row.u64(kind(Kind::Api))?,
        git_pull: row.u64(kind(Kind::GitPull))?,
        git_push: row.u64(kind(Kind::GitPush))?,
        download: row.u64(kind(Kind::Download))?,
    })
}

pub(super) fn path_counts(row: &Row) -> PolarsResult<PathCounts> {
    Ok(PathCounts {
        path: row.text(PATH)?,
        accesses: row.u64(ACCESSES)?,
        users: row.u64(USERS)?,
        anonymous_accesses: row.u64(ANONYMOUS)?,
        unidentified_accesses: row.u64(UNIDENTIFIED)?,
        unique_ips: row.u64(UNIQUE_IPS)?,
    })
}

pub(super) fn status(row: &Row) -> PolarsResult<StatusCount> {
    Ok(StatusCount {
        status: row.text(STATUS)?,
        accesses: row.u64(ACCESSES)?,
    })
}

pub(super) fn class(row: &Row) -> PolarsResult<ClassCount> {
    Ok(ClassCount {
        class: row.text(CLASS)?,
        accesses: row.u64(ACCESSES)?,
    })
}

/// The excluded requests, from a frame with one row per rule that took any out.
pub(super) fn excluded(per_rule: &DataFrame) -> PolarsResult<Excluded> {
    let mut excluded = Excluded::default();
    for (rule, counts) in all(per_rule, |row| Ok((row.code(RULE)?, counts(row)?)))? {
        match at_position(&Rule::ALL, rule) {
            Some(Rule::User) => excluded.user = counts,
            Some(Rule::Domain) => excluded.domain = counts,
            Some(Rule::Ip) | None => excluded.ip = counts,
        }
    }
    Ok(excluded)
}

pub(super) fn country(row: &Row) -> PolarsResult<CountryCounts> {
    Ok(CountryCounts {
        country: row.text(COUNTRY)?,
        name: None,
        accesses: row.u64(ACCESSES)?,
        unique_ips: row.u64(UNIQUE_IPS)?,
    })
}

pub(super) fn busiest_minute(row: &Row) -> PolarsResult<BusiestMinute> {
    let minute = row
        .time(MINUTE)?
        .ok_or_else(|| polars_err!(NoData: "a busiest minute without its time"))?;
    Ok(BusiestMinute {
        minute,
        accesses: row.u64(ACCESSES)?,
    })
}

pub(super) fn git_challenges(row: &Row) -> PolarsResult<u64> {
    row.u64(GIT_CHALLENGES)
}

pub(super) fn refusals(row: &Row) -> PolarsResult<Refusals> {
    Ok(Refusals {
        accesses: row.u64(ACCESSES)?,
        unauthorized_401: row.u64(UNAUTHORIZED)?,
        forbidden_403: row.u64(FORBIDDEN)?,
        rate_limited_429: row.u64(RATE_LIMITED)?,
    })
}

pub(super) fn path_refusals(row: &Row) -> PolarsResult<PathRefusals> {
    Ok(PathRefusals {
        path: row.text(PATH)?,
        refusals: refusals(row)?,
    })
}

/// The events of an audit group; its action is the label `labels` holds at its code.
pub(super) fn action(row: &Row, labels: &[&'static str]) -> PolarsResult<ActionCounts> {
    let action = at_position(labels, row.code(ACTION)?)
        .ok_or_else(|| polars_err!(ComputeError: "an action outside the batch"))?;
    Ok(ActionCounts {
        action,
        events: row.u64(ACCESSES)?,
        authors: row.u64(AUTHORS)?,
        first_seen: row.time(FIRST)?,
        last_seen: row.time(LAST)?,
    })
}

/// The whole audit batch, from the row of its totals and its actions in order.
pub(super) fn audit(row: &Row, actions: Vec<ActionCounts>) -> PolarsResult<AuditTally> {
    Ok(AuditTally {
        events: row.u64(ACCESSES)?,
        authors: row.u64(AUTHORS)?,
        first_seen: row.time(FIRST)?,
        last_seen: row.time(LAST)?,
        actions,
    })
}
