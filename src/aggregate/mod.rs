//! The counting (RULES.md §5), with polars as the engine. This is the only place that
//! builds [`Aggregates`], and `Aggregates` holds nothing but counts, times, status
//! codes and the paths of the requester's own namespaces: the identities that were
//! counted stay in the frames and never leave this module.
//!
//! Each story has one lazy plan, collected once, in a file of its own: `tally.rs`
//! (the access and high-load stories), `ip_block.rs` and `audit.rs`. The plans group,
//! count, classify and sort; `common.rs` holds what they share and the column names.
//! Records reach polars as numbers (`names.rs`), texts come back only for the rows of
//! the results, and `rows.rs` is the one place those rows become the types of `view.rs`.

mod audit;
mod common;
mod ip_block;
mod names;
mod report;
mod rows;
mod tally;
mod timeline;
mod view;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

pub(crate) use audit::{AuditBatch, Identity, audit_tally};
pub(crate) use common::WholeMinutes;
pub(crate) use ip_block::{ClientRequest, ip_block};
pub(crate) use names::Names;
pub(crate) use report::{Filters, Gap, InputSummary, KnownList, Period, Reconciliation};
pub(crate) use tally::{Batch, Counted, tally};
pub(crate) use timeline::{Class, Timeline, client_timeline, timeline};
pub(crate) use view::{
    ActionCounts, AuditTally, BusiestMinute, CountryCounts, Counts, IpBlock, PathRefusals,
    Refusals, StatusCount, Tally,
};

impl Aggregates {
    /// Whether the window reaches beyond the period the logs cover, at its start and
    /// at its end, by more than a minute (logs rarely start or end on the dot). One
    /// rule for the reply's sentence and the engineer's warning.
    pub(crate) fn window_beyond_logs(&self) -> Option<(bool, bool)> {
        const SLACK: chrono::TimeDelta = chrono::TimeDelta::minutes(1);
        let (first, last) = (self.logs_cover.first?, self.logs_cover.last?);
        let early = self.filters.since.is_some_and(|s| s + SLACK < first);
        let late = self.filters.until.is_some_and(|u| u > last + SLACK);
        (early || late).then_some((early, late))
    }
}

/// The one timestamp format of every output: UTC, milliseconds, `Z`.
pub(crate) fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn ser_time<S: serde::Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_time(*t)),
        None => s.serialize_none(),
    }
}

/// Everything a reply may be built from: counts, times, and the requester's paths.
/// How the reply was produced (the command line, the memberships, the files read, the
/// warnings) is not here: it is the note's [`crate::render::Provenance`], which no
/// story's template receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Aggregates {
    pub template: &'static str,
    pub scope: Vec<String>,
    pub filters: Filters,
    /// The period the inputs' records of the story's kind cover, in scope or not.
    pub logs_cover: Period,
    /// Lines that could not be read but may concern the scope: the counts may be low
    /// by as many (RULES.md §9).
    pub unreadable_in_scope: u64,
    /// Of `reconciliation.duplicate`, the request lines another input held too
    /// (overlapping exports): each such request was counted once (RULES.md §6).
    pub overlap: u64,
    /// Gaps in the logs within the period the reply covers (RULES.md §9).
    pub gaps: Vec<Gap>,
    #[serde(flatten)]
    pub tally: Tally,
    pub reconciliation: Reconciliation,
    pub inputs: Vec<InputSummary>,
    /// Present when the reply tells the audit story.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditTally>,
    /// Present when the reply tells the IP-block story.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlock>,
    /// The GeoIP database used, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geoip: Option<crate::geo::GeoIpInfo>,
    /// How many entries of `scope` are projects (the others are groups).
    #[serde(skip)]
    pub scope_projects: usize,
    /// The reply's first and last lines, from the team configuration.
    #[serde(skip)]
    pub greeting: Option<String>,
    #[serde(skip)]
    pub sign_off: Option<String>,
}
