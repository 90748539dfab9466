//! What leaves the counting: numbers, times, status codes, labels of the closed
//! audit vocabulary, and the texts of paths and countries. The identities that were
//! counted (users, addresses, user agents) stay in the frames. [`super::rows`] is the
//! one place result rows become these types.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{format_time, ser_time};

/// The numbers of a group of requests: all counted ones, or those one rule took out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Counts {
    pub accesses: u64,
    pub users: u64,
    /// Requests that a log recording users shows without one.
    pub anonymous_accesses: u64,
    /// Requests from logs that record no user (Workhorse, NGINX without a user it
    /// knows): whether they were signed in cannot be told (RULES.md §9).
    pub unidentified_accesses: u64,
    pub unique_ips: u64,
    #[serde(serialize_with = "ser_time")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_time")]
    pub last_seen: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PathCounts {
    pub path: String,
    pub accesses: u64,
    pub users: u64,
    pub anonymous_accesses: u64,
    pub unidentified_accesses: u64,
    pub unique_ips: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StatusCount {
    pub status: String,
    pub accesses: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ClassCount {
    pub class: String,
    pub accesses: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct KindCounts {
    pub web: u64,
    pub api: u64,
    pub git_pull: u64,
    pub git_push: u64,
    pub download: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Excluded {
    pub user: Counts,
    pub domain: Counts,
    pub ip: Counts,
}

impl Excluded {
    pub(crate) fn total_accesses(&self) -> u64 {
        self.user.accesses + self.domain.accesses + self.ip.accesses
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct CountryCounts {
    pub country: String,
    /// The country's English name from the GeoIP database, when it has one.
    pub name: Option<String>,
    pub accesses: u64,
    pub unique_ips: u64,
}

fn countries_or_none<S: serde::Serializer>(
    countries: &Option<Vec<CountryCounts>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    countries.as_deref().unwrap_or_default().serialize(s)
}

/// The UTC minute with the most requests (the earliest, on a tie).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct BusiestMinute {
    #[serde(serialize_with = "ser_minute")]
    pub minute: DateTime<Utc>,
    pub accesses: u64,
}

fn ser_minute<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

/// The numbers of the counted requests (RULES.md §5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Tally {
    pub counts: Counts,
    pub paths: Vec<PathCounts>,
    pub statuses: Vec<StatusCount>,
    pub status_classes: Vec<ClassCount>,
    pub kinds: KindCounts,
    pub distinct_user_agents: u64,
    pub excluded: Excluded,
    /// Per country, when a GeoIP database was given (RULES.md §5); in JSON an empty
    /// list without one, so that tools find the key either way.
    #[serde(serialize_with = "countries_or_none")]
    pub countries: Option<Vec<CountryCounts>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busiest_minute: Option<BusiestMinute>,
}

/// Refusals of one path: unauthenticated, forbidden, rate limited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Refusals {
    pub accesses: u64,
    pub unauthorized_401: u64,
    pub forbidden_403: u64,
    pub rate_limited_429: u64,
}

impl Refusals {
    pub(crate) fn refused(&self) -> u64 {
        self.unauthorized_401 + self.forbidden_403 + self.rate_limited_429
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PathRefusals {
    pub path: String,
    #[serde(flatten)]
    pub refusals: Refusals,
}

/// What requests from the requester's addresses met (RULES.md §7, `ip-block`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct IpBlock {
    pub accesses: u64,
    pub statuses: Vec<StatusCount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busiest_minute: Option<BusiestMinute>,
    /// 401 answers to Git's first, credential-less request: expected, not a cause.
    pub git_challenges: u64,
    /// The requester's own paths, most refused first; refusals exclude Git challenges.
    pub paths: Vec<PathRefusals>,
    /// Everything outside the requester's namespaces, summed without names.
    pub elsewhere: Refusals,
    /// The first and last refused request (401 but Git challenges, 403, 429).
    #[serde(serialize_with = "ser_time")]
    pub refused_first: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_time")]
    pub refused_last: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ActionCounts {
    pub action: &'static str,
    pub events: u64,
    pub authors: u64,
    #[serde(serialize_with = "ser_time")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_time")]
    pub last_seen: Option<DateTime<Utc>>,
}

/// The audit summary (RULES.md §5): per action, events, distinct authors, first and last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct AuditTally {
    pub events: u64,
    pub authors: u64,
    #[serde(serialize_with = "ser_time")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_time")]
    pub last_seen: Option<DateTime<Utc>>,
    pub actions: Vec<ActionCounts>,
}
