//! The counting (SPEC §5), done with polars over the requests left in scope. This is
//! the only place that builds [`Aggregates`], and `Aggregates` holds nothing but
//! counts, times, status codes and the paths of the requester's own namespaces:
//! the identities that were counted stay in the frames and never leave this module.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use lasso::{Key, Spur, ThreadedRodeo};

use chrono::{DateTime, SecondsFormat, Utc};
use polars::prelude::*;
use serde::Serialize;

use crate::exclude::Rule;
use crate::ingest::Kind;
use crate::vocabulary;

/// Column names, in one place.
mod column {
    pub const PATH: &str = "path";
    pub const USER: &str = "user";
    pub const IP: &str = "ip";
    pub const TIME: &str = "time_us";
    pub const STATUS: &str = "status";
    pub const KIND: &str = "kind";
    pub const AGENT: &str = "user_agent";
    pub const RULE: &str = "rule";
    pub const COUNTRY: &str = "country";
    pub const MINUTE: &str = "minute";

    pub const ACCESSES: &str = "accesses";
    pub const USERS: &str = "users";
    pub const ANONYMOUS: &str = "anonymous_accesses";
    pub const UNIQUE_IPS: &str = "unique_ips";
    pub const FIRST: &str = "first_seen";
    pub const LAST: &str = "last_seen";
    pub const AGENTS: &str = "distinct_user_agents";
}

/// The distinct texts the records carry (paths, user keys, user agents, countries),
/// each stored once however many records name it. Records hold a [`Name`] instead,
/// so the memory they take grows with the distinct values, not with every line.
/// Threads reading different chunks intern into the same table.
#[derive(Debug, Default)]
pub struct Names(ThreadedRodeo);

/// A text interned in [`Names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name(Spur);

impl Names {
    pub fn intern(&self, text: &str) -> Name {
        Name(self.0.get_or_intern(text))
    }

    pub fn resolve(&self, name: Name) -> &str {
        self.0.resolve(&name.0)
    }

    /// The text of a polars column value made by [`Name::index`].
    fn resolve_index(&self, index: u32) -> Option<&str> {
        let key = Spur::try_from_usize(usize::try_from(index).ok()?)?;
        self.0.try_resolve(&key)
    }
}

impl Name {
    /// The name as a column value.
    fn index(self) -> u32 {
        // The table holds at most `u32::MAX` names: its keys are `u32`.
        u32::try_from(self.0.into_usize()).unwrap_or(u32::MAX)
    }
}

/// One request that survived scope and window, with what the counting needs.
#[derive(Debug, Clone)]
pub struct Counted {
    /// The directory path of the project or namespace it was attributed to.
    pub path: Name,
    /// A stable key for the user (`id:1`, `name:bob`), `None` when anonymous.
    pub user: Option<Name>,
    pub ip: Option<IpAddr>,
    pub time: DateTime<Utc>,
    pub status: Option<u16>,
    pub kind: Kind,
    pub user_agent: Option<Name>,
    /// The client's country, when a GeoIP database was given.
    pub country: Option<Name>,
}

/// A column-wise batch of requests, appended to as lines are read. Texts are columns
/// of [`Name`] indexes, resolved only for the rows of the results.
#[derive(Debug, Default)]
pub struct Batch {
    names: Names,
    /// A dense number per distinct client address: addresses are only ever counted.
    ips: HashMap<IpAddr, u32>,
    path: Vec<u32>,
    user: Vec<Option<u32>>,
    ip: Vec<Option<u32>>,
    time: Vec<i64>,
    status: Vec<Option<u32>>,
    /// The position in [`Kind::ALL`].
    kind: Vec<u32>,
    agent: Vec<Option<u32>>,
    /// The position in [`Rule::ALL`]; null when counted.
    rule: Vec<Option<u32>>,
    country: Vec<Option<u32>>,
    minute: Vec<i64>,
}

impl Batch {
    /// A batch of records whose names are in `names`.
    pub fn new(names: Names) -> Self {
        Batch {
            names,
            ..Batch::default()
        }
    }

    /// The table the records' names are in.
    pub fn names(&self) -> &Names {
        &self.names
    }

    pub fn push(&mut self, r: &Counted, rule: Option<Rule>) {
        let next = u32::try_from(self.ips.len()).unwrap_or(u32::MAX);
        self.path.push(r.path.index());
        self.user.push(r.user.map(Name::index));
        self.ip
            .push(r.ip.map(|ip| *self.ips.entry(ip).or_insert(next)));
        self.time.push(r.time.timestamp_micros());
        self.status.push(r.status.map(u32::from));
        self.kind.push(position(&Kind::ALL, r.kind));
        self.agent.push(r.user_agent.map(Name::index));
        self.rule.push(rule.map(|rule| position(&Rule::ALL, rule)));
        self.country.push(r.country.map(Name::index));
        self.minute.push(r.time.timestamp().div_euclid(60));
    }

    pub fn len(&self) -> usize {
        self.path.len()
    }

    pub fn is_empty(&self) -> bool {
        self.path.is_empty()
    }

    fn into_frame(self) -> PolarsResult<(LazyFrame, Names)> {
        let df = DataFrame::new_infer_height(vec![
            Column::new(column::PATH.into(), self.path),
            Column::new(column::USER.into(), self.user),
            Column::new(column::IP.into(), self.ip),
            Column::new(column::TIME.into(), self.time),
            Column::new(column::STATUS.into(), self.status),
            Column::new(column::KIND.into(), self.kind),
            Column::new(column::AGENT.into(), self.agent),
            Column::new(column::RULE.into(), self.rule),
            Column::new(column::COUNTRY.into(), self.country),
            Column::new(column::MINUTE.into(), self.minute),
        ])?;
        Ok((df.lazy(), self.names))
    }
}

/// The numbers of a group of requests: all counted ones, or those one rule took out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub accesses: u64,
    pub users: u64,
    pub anonymous_accesses: u64,
    pub unique_ips: u64,
    #[serde(serialize_with = "ser_time")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_time")]
    pub last_seen: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathCounts {
    pub path: String,
    pub accesses: u64,
    pub users: u64,
    pub anonymous_accesses: u64,
    pub unique_ips: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusCount {
    pub status: String,
    pub accesses: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassCount {
    pub class: String,
    pub accesses: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KindCounts {
    pub web: u64,
    pub api: u64,
    pub git_pull: u64,
    pub git_push: u64,
    pub download: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Excluded {
    pub user: Counts,
    pub domain: Counts,
    pub ip: Counts,
}

impl Excluded {
    pub fn total_accesses(&self) -> u64 {
        self.user.accesses + self.domain.accesses + self.ip.accesses
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountryCounts {
    pub country: String,
    pub accesses: u64,
    pub unique_ips: u64,
}

/// The UTC minute with the most requests (the earliest, on a tie).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusiestMinute {
    #[serde(serialize_with = "ser_minute")]
    pub minute: DateTime<Utc>,
    pub accesses: u64,
}

fn ser_minute<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

/// The numbers of the counted requests (SPEC §5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub counts: Counts,
    pub paths: Vec<PathCounts>,
    pub statuses: Vec<StatusCount>,
    pub status_classes: Vec<ClassCount>,
    pub kinds: KindCounts,
    pub distinct_user_agents: u64,
    pub excluded: Excluded,
    /// Per country, when a GeoIP database was given (SPEC §5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub countries: Option<Vec<CountryCounts>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busiest_minute: Option<BusiestMinute>,
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

/// The one timestamp format of every output: UTC, milliseconds, `Z`.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Distinct non-null values, as polars counts them.
fn distinct(name: &str) -> Expr {
    col(name).drop_nulls().n_unique().cast(DataType::UInt64)
}

fn u64_at(df: &DataFrame, name: &str, row: usize) -> PolarsResult<u64> {
    Ok(df
        .column(name)?
        .cast(&DataType::UInt64)?
        .u64()?
        .get(row)
        .unwrap_or(0))
}

fn str_at(df: &DataFrame, name: &str, row: usize) -> PolarsResult<String> {
    Ok(df
        .column(name)?
        .str()?
        .get(row)
        .unwrap_or_default()
        .to_owned())
}

/// The text of a column of [`Name`] indexes.
fn name_at(df: &DataFrame, names: &Names, name: &str, row: usize) -> PolarsResult<String> {
    let index = df.column(name)?.u32()?.get(row);
    Ok(index
        .and_then(|i| names.resolve_index(i))
        .unwrap_or_default()
        .to_owned())
}

fn time_at(df: &DataFrame, name: &str, row: usize) -> PolarsResult<Option<DateTime<Utc>>> {
    Ok(df
        .column(name)?
        .i64()?
        .get(row)
        .and_then(DateTime::from_timestamp_micros))
}

/// The number of requests (rows) of a group.
fn accesses() -> Expr {
    len().cast(DataType::UInt64).alias(column::ACCESSES)
}

/// The four numbers every group of requests has (SPEC §5): accesses, users,
/// accesses without a user, unique IPs.
fn request_counts() -> [Expr; 4] {
    [
        accesses(),
        distinct(column::USER).alias(column::USERS),
        col(column::USER)
            .null_count()
            .cast(DataType::UInt64)
            .alias(column::ANONYMOUS),
        distinct(column::IP).alias(column::UNIQUE_IPS),
    ]
}

/// [`request_counts`] and the time range, as [`counts_at`] reads them.
fn counts_with_times() -> Vec<Expr> {
    let mut exprs = request_counts().to_vec();
    exprs.push(col(column::TIME).min().alias(column::FIRST));
    exprs.push(col(column::TIME).max().alias(column::LAST));
    exprs
}

/// The [`Counts`] of one row of a frame made with [`counts_with_times`].
fn counts_at(df: &DataFrame, row: usize) -> PolarsResult<Counts> {
    Ok(Counts {
        accesses: u64_at(df, column::ACCESSES, row)?,
        users: u64_at(df, column::USERS, row)?,
        anonymous_accesses: u64_at(df, column::ANONYMOUS, row)?,
        unique_ips: u64_at(df, column::UNIQUE_IPS, row)?,
        first_seen: time_at(df, column::FIRST, row)?,
        last_seen: time_at(df, column::LAST, row)?,
    })
}

/// The value a column code made by [`position`] stands for.
fn at_position<T: Copy>(all: &[T], code: Option<u32>) -> Option<T> {
    all.get(usize::try_from(code?).ok()?).copied()
}

/// Counts the counted requests (`rule` null) and, per rule, the excluded ones;
/// `countries` when the requests carry them.
pub fn tally(batch: Batch, countries: bool) -> PolarsResult<Tally> {
    let (all, names) = batch.into_frame()?;
    let counted = all.clone().filter(col(column::RULE).is_null());

    let mut totals = counts_with_times();
    totals.push(distinct(column::AGENT).alias(column::AGENTS));
    let totals = counted.clone().select(totals).collect()?;
    let counts = counts_at(&totals, 0)?;
    let distinct_user_agents = u64_at(&totals, column::AGENTS, 0)?;

    let per_path = counted
        .clone()
        .group_by([col(column::PATH)])
        .agg(request_counts())
        .collect()?;
    let mut paths = (0..per_path.height())
        .map(|i| {
            Ok(PathCounts {
                path: name_at(&per_path, &names, column::PATH, i)?,
                accesses: u64_at(&per_path, column::ACCESSES, i)?,
                users: u64_at(&per_path, column::USERS, i)?,
                anonymous_accesses: u64_at(&per_path, column::ANONYMOUS, i)?,
                unique_ips: u64_at(&per_path, column::UNIQUE_IPS, i)?,
            })
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    paths.sort_by(|a, b| {
        b.accesses
            .cmp(&a.accesses)
            .then_with(|| a.path.cmp(&b.path))
    });

    let mut statuses = group_counts(&counted, column::STATUS)?
        .into_iter()
        .map(|(status, accesses)| StatusCount {
            status: status.map_or_else(|| "unknown".to_owned(), |s| s.to_string()),
            accesses,
        })
        .collect::<Vec<_>>();
    statuses.sort_by(|a, b| a.status.cmp(&b.status));
    let mut status_classes: Vec<ClassCount> = Vec::new();
    for s in &statuses {
        let class = match s.status.as_bytes().first() {
            Some(d @ b'1'..=b'5') if s.status.len() == 3 => format!("{}xx", *d as char),
            _ => "unknown".to_owned(),
        };
        match status_classes.iter_mut().find(|c| c.class == class) {
            Some(c) => c.accesses += s.accesses,
            None => status_classes.push(ClassCount {
                class,
                accesses: s.accesses,
            }),
        }
    }
    status_classes.sort_by(|a, b| a.class.cmp(&b.class));

    let mut kinds = KindCounts::default();
    for (kind, n) in group_counts(&counted, column::KIND)? {
        let slot = match at_position(&Kind::ALL, kind) {
            Some(Kind::Web) => &mut kinds.web,
            Some(Kind::Api) => &mut kinds.api,
            Some(Kind::GitPull) => &mut kinds.git_pull,
            Some(Kind::GitPush) => &mut kinds.git_push,
            Some(Kind::Download) | None => &mut kinds.download,
        };
        *slot += n;
    }

    let per_rule = all
        .filter(col(column::RULE).is_not_null())
        .group_by([col(column::RULE)])
        .agg(counts_with_times())
        .collect()?;
    let mut excluded = Excluded::default();
    let rules = per_rule.column(column::RULE)?.u32()?;
    for i in 0..per_rule.height() {
        let counts = counts_at(&per_rule, i)?;
        match at_position(&Rule::ALL, rules.get(i)) {
            Some(Rule::User) => excluded.user = counts,
            Some(Rule::Domain) => excluded.domain = counts,
            Some(Rule::Ip) | None => excluded.ip = counts,
        }
    }

    let countries = if countries {
        let per_country = counted
            .clone()
            .group_by([col(column::COUNTRY)])
            .agg([accesses(), distinct(column::IP).alias(column::UNIQUE_IPS)])
            .collect()?;
        let mut rows = (0..per_country.height())
            .map(|i| {
                Ok(CountryCounts {
                    country: name_at(&per_country, &names, column::COUNTRY, i)?,
                    accesses: u64_at(&per_country, column::ACCESSES, i)?,
                    unique_ips: u64_at(&per_country, column::UNIQUE_IPS, i)?,
                })
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        rows.sort_by(|a, b| {
            b.unique_ips
                .cmp(&a.unique_ips)
                .then(b.accesses.cmp(&a.accesses))
                .then_with(|| a.country.cmp(&b.country))
        });
        Some(rows)
    } else {
        None
    };

    let per_minute = counted
        .group_by([col(column::MINUTE)])
        .agg([accesses()])
        .collect()?;
    let minutes = per_minute.column(column::MINUTE)?.i64()?.clone();
    let mut busiest: Option<(i64, u64)> = None;
    for i in 0..per_minute.height() {
        let (Some(minute), n) = (minutes.get(i), u64_at(&per_minute, column::ACCESSES, i)?) else {
            continue;
        };
        if busiest.is_none_or(|(bm, bn)| n > bn || (n == bn && minute < bm)) {
            busiest = Some((minute, n));
        }
    }
    let busiest_minute = busiest.and_then(|(minute, accesses)| {
        Some(BusiestMinute {
            minute: DateTime::from_timestamp(minute * 60, 0)?,
            accesses,
        })
    });

    Ok(Tally {
        counts,
        paths,
        statuses,
        status_classes,
        kinds,
        distinct_user_agents,
        excluded,
        countries,
        busiest_minute,
    })
}

/// The position of a value in one of the enums' `ALL`, as a column value.
fn position<T: PartialEq>(all: &[T], value: T) -> u32 {
    let at = all.iter().position(|v| *v == value).unwrap_or_default();
    u32::try_from(at).unwrap_or_default()
}

/// `(value, number of rows)` per distinct value of a `u32` column.
fn group_counts(frame: &LazyFrame, name: &str) -> PolarsResult<Vec<(Option<u32>, u64)>> {
    let df = frame
        .clone()
        .group_by([col(name)])
        .agg([accesses()])
        .collect()?;
    let values = df.column(name)?.u32()?;
    (0..df.height())
        .map(|i| Ok((values.get(i), u64_at(&df, column::ACCESSES, i)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A request as the tests write it, interned when pushed.
    struct Req {
        path: &'static str,
        user: Option<&'static str>,
        ip: Option<&'static str>,
        time: DateTime<Utc>,
        status: Option<u16>,
        kind: Kind,
    }

    fn req(
        path: &'static str,
        user: Option<&'static str>,
        ip: Option<&'static str>,
        t: &str,
        status: Option<u16>,
        kind: Kind,
    ) -> Req {
        Req {
            path,
            user,
            ip,
            time: at(t),
            status,
            kind,
        }
    }

    fn push(b: &mut Batch, r: Req, rule: Option<Rule>) {
        let names = b.names();
        let counted = Counted {
            path: names.intern(r.path),
            user: r.user.map(|u| names.intern(u)),
            ip: r.ip.map(|i| i.parse().unwrap()),
            time: r.time,
            status: r.status,
            kind: r.kind,
            user_agent: Some(names.intern("ua")),
            country: None,
        };
        b.push(&counted, rule);
    }

    #[test]
    fn counts_per_total_path_status_kind_and_rule() {
        let mut b = Batch::default();
        push(
            &mut b,
            req(
                "acme/a",
                Some("id:1"),
                Some("192.0.2.1"),
                "2026-03-14T20:06:00Z",
                Some(200),
                Kind::Web,
            ),
            None,
        );
        push(
            &mut b,
            req(
                "acme/a",
                Some("id:1"),
                Some("192.0.2.2"),
                "2026-03-14T20:07:00Z",
                Some(404),
                Kind::Web,
            ),
            None,
        );
        push(
            &mut b,
            req(
                "acme/a",
                None,
                Some("192.0.2.2"),
                "2026-03-14T20:05:00Z",
                Some(200),
                Kind::GitPull,
            ),
            None,
        );
        push(
            &mut b,
            req(
                "acme/b",
                Some("id:2"),
                None,
                "2026-03-14T20:10:00Z",
                None,
                Kind::Api,
            ),
            None,
        );
        push(
            &mut b,
            req(
                "acme/b",
                Some("id:3"),
                Some("203.0.113.1"),
                "2026-03-14T20:11:00Z",
                Some(200),
                Kind::Api,
            ),
            Some(Rule::Ip),
        );
        push(
            &mut b,
            req(
                "acme/b",
                Some("id:4"),
                Some("203.0.113.1"),
                "2026-03-14T20:11:00Z",
                Some(200),
                Kind::Api,
            ),
            Some(Rule::Ip),
        );
        let t = tally(b, false).unwrap();
        assert_eq!(
            t.counts,
            Counts {
                accesses: 4,
                users: 2,
                anonymous_accesses: 1,
                unique_ips: 2,
                first_seen: Some(at("2026-03-14T20:05:00Z")),
                last_seen: Some(at("2026-03-14T20:10:00Z")),
            }
        );
        assert_eq!(
            t.paths[0],
            PathCounts {
                path: "acme/a".into(),
                accesses: 3,
                users: 1,
                anonymous_accesses: 1,
                unique_ips: 2
            }
        );
        assert_eq!(
            t.paths[1],
            PathCounts {
                path: "acme/b".into(),
                accesses: 1,
                users: 1,
                anonymous_accesses: 0,
                unique_ips: 0
            }
        );
        let statuses: Vec<_> = t
            .statuses
            .iter()
            .map(|s| (s.status.as_str(), s.accesses))
            .collect();
        assert_eq!(statuses, [("200", 2), ("404", 1), ("unknown", 1)]);
        assert_eq!(
            t.kinds,
            KindCounts {
                web: 2,
                api: 1,
                git_pull: 1,
                ..KindCounts::default()
            }
        );
        assert_eq!(
            t.excluded.ip,
            Counts {
                accesses: 2,
                users: 2,
                anonymous_accesses: 0,
                unique_ips: 1,
                first_seen: Some(at("2026-03-14T20:11:00Z")),
                last_seen: Some(at("2026-03-14T20:11:00Z")),
            }
        );
        assert_eq!(t.excluded.user, Counts::default());
        assert_eq!(t.distinct_user_agents, 1);
    }

    #[test]
    fn ip_block_names_owned_paths_and_sums_the_rest() {
        let r = |path: Option<&str>, status, t: &str, git_challenge| ClientRequest {
            path: path.map(Into::into),
            status: Some(status),
            time: at(t),
            git_challenge,
        };
        let block = ip_block(&[
            r(Some("acme/a"), 401, "2026-03-14T20:06:01Z", false),
            r(Some("acme/a"), 401, "2026-03-14T20:06:31Z", false),
            r(Some("acme/a"), 401, "2026-03-14T20:06:50Z", true),
            r(Some("acme/b"), 200, "2026-03-14T20:07:00Z", false),
            r(None, 429, "2026-03-14T20:07:10Z", false),
            r(None, 403, "2026-03-14T20:07:20Z", false),
        ]);
        assert_eq!(block.accesses, 6);
        assert_eq!(block.git_challenges, 1);
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

    #[test]
    fn audit_counts_per_action() {
        let mut b = AuditBatch::default();
        b.push(
            "Changed visibility",
            Some("id:1".into()),
            at("2026-03-14T20:00:00Z"),
        );
        b.push(
            "Changed visibility",
            Some("id:2".into()),
            at("2026-03-15T20:00:00Z"),
        );
        b.push(
            "Added a member",
            Some("id:1".into()),
            at("2026-03-13T20:00:00Z"),
        );
        b.push("Added a member", None, at("2026-03-13T21:00:00Z"));
        let t = audit_tally(b).unwrap();
        assert_eq!((t.events, t.authors), (4, 2));
        assert_eq!(t.first_seen, Some(at("2026-03-13T20:00:00Z")));
        let actions: Vec<_> = t
            .actions
            .iter()
            .map(|a| (a.action, a.events, a.authors))
            .collect();
        assert_eq!(
            actions,
            [("Added a member", 2, 1), ("Changed visibility", 2, 2)]
        );
        assert_eq!(
            audit_tally(AuditBatch::default()).unwrap(),
            AuditTally::default()
        );
    }

    #[test]
    fn nothing_counted_is_all_zero() {
        let t = tally(Batch::default(), false).unwrap();
        assert_eq!(t.counts, Counts::default());
        assert!(t.paths.is_empty() && t.statuses.is_empty());
    }
}

/// One request from the requester's own addresses, for the IP-block story.
#[derive(Debug, Clone)]
pub struct ClientRequest {
    /// The requester's path it went to; `None` for a path outside their namespaces,
    /// which the reply may count but never name.
    pub path: Option<String>,
    pub status: Option<u16>,
    pub time: DateTime<Utc>,
    /// A 401 on `info/refs`: Git over HTTP always asks without credentials first.
    pub git_challenge: bool,
}

/// Refusals of one path: unauthenticated, forbidden, rate limited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Refusals {
    pub accesses: u64,
    pub unauthorized_401: u64,
    pub forbidden_403: u64,
    pub rate_limited_429: u64,
}

impl Refusals {
    pub fn refused(&self) -> u64 {
        self.unauthorized_401 + self.forbidden_403 + self.rate_limited_429
    }

    fn add(&mut self, r: &ClientRequest) {
        self.accesses += 1;
        match r.status {
            Some(401) if !r.git_challenge => self.unauthorized_401 += 1,
            Some(403) => self.forbidden_403 += 1,
            Some(429) => self.rate_limited_429 += 1,
            _ => {}
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathRefusals {
    pub path: String,
    #[serde(flatten)]
    pub refusals: Refusals,
}

/// What requests from the requester's addresses met (SPEC §7, `ip-block`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IpBlock {
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
}

pub fn ip_block(requests: &[ClientRequest]) -> IpBlock {
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let mut minutes: BTreeMap<i64, u64> = BTreeMap::new();
    let mut paths: BTreeMap<&str, Refusals> = BTreeMap::new();
    let mut block = IpBlock::default();
    for r in requests {
        block.accesses += 1;
        *statuses
            .entry(
                r.status
                    .map_or_else(|| "unknown".to_owned(), |s| s.to_string()),
            )
            .or_default() += 1;
        *minutes
            .entry(r.time.timestamp().div_euclid(60))
            .or_default() += 1;
        block.git_challenges += u64::from(r.git_challenge);
        match &r.path {
            Some(path) => paths.entry(path.as_str()).or_default().add(r),
            None => block.elsewhere.add(r),
        }
    }
    block.statuses = statuses
        .into_iter()
        .map(|(status, accesses)| StatusCount { status, accesses })
        .collect();
    // Ties go to the earliest minute: the map iterates in time order.
    block.busiest_minute = minutes
        .into_iter()
        .fold(None, |best: Option<(i64, u64)>, (m, n)| match best {
            Some((_, bn)) if bn >= n => best,
            _ => Some((m, n)),
        })
        .and_then(|(m, accesses)| {
            Some(BusiestMinute {
                minute: DateTime::from_timestamp(m * 60, 0)?,
                accesses,
            })
        });
    let mut paths: Vec<PathRefusals> = paths
        .into_iter()
        .map(|(path, refusals)| PathRefusals {
            path: path.to_owned(),
            refusals,
        })
        .collect();
    paths.sort_by(|a, b| {
        b.refusals
            .refused()
            .cmp(&a.refusals.refused())
            .then(b.refusals.accesses.cmp(&a.refusals.accesses))
            .then_with(|| a.path.cmp(&b.path))
    });
    block.paths = paths;
    block
}

/// Audit events that survived scope, window and exclusions. An action is a label of
/// the closed vocabulary (a `&'static str`), so no free text from an event can be
/// counted under its own name.
#[derive(Debug, Default)]
pub struct AuditBatch {
    action: Vec<&'static str>,
    author: Vec<Option<String>>,
    time: Vec<i64>,
}

impl AuditBatch {
    pub fn push(&mut self, action: &'static str, author: Option<String>, time: DateTime<Utc>) {
        self.action.push(action);
        self.author.push(author);
        self.time.push(time.timestamp_micros());
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionCounts {
    pub action: &'static str,
    pub events: u64,
    pub authors: u64,
    #[serde(serialize_with = "ser_time")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_time")]
    pub last_seen: Option<DateTime<Utc>>,
}

/// The audit summary (SPEC §5): per action, events, distinct authors, first and last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditTally {
    pub events: u64,
    pub authors: u64,
    #[serde(serialize_with = "ser_time")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_time")]
    pub last_seen: Option<DateTime<Utc>>,
    pub actions: Vec<ActionCounts>,
}

pub fn audit_tally(batch: AuditBatch) -> PolarsResult<AuditTally> {
    const ACTION: &str = "action";
    const AUTHORS: &str = "authors";
    let labels: HashMap<&str, &'static str> = batch.action.iter().map(|&a| (a, a)).collect();
    let frame = DataFrame::new_infer_height(vec![
        Column::new(ACTION.into(), batch.action),
        Column::new(column::USER.into(), batch.author),
        Column::new(column::TIME.into(), batch.time),
    ])?
    .lazy();
    let aggs = || {
        [
            accesses(),
            distinct(column::USER).alias(AUTHORS),
            col(column::TIME).min().alias(column::FIRST),
            col(column::TIME).max().alias(column::LAST),
        ]
    };
    let totals = frame.clone().select(aggs()).collect()?;
    let per_action = frame.group_by([col(ACTION)]).agg(aggs()).collect()?;
    let mut actions = (0..per_action.height())
        .map(|i| {
            Ok(ActionCounts {
                action: labels
                    .get(str_at(&per_action, ACTION, i)?.as_str())
                    .copied()
                    .ok_or_else(|| polars_err!(ComputeError: "an action outside the batch"))?,
                events: u64_at(&per_action, column::ACCESSES, i)?,
                authors: u64_at(&per_action, AUTHORS, i)?,
                first_seen: time_at(&per_action, column::FIRST, i)?,
                last_seen: time_at(&per_action, column::LAST, i)?,
            })
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    // Most events first; the catch-all "other changes" last, whatever its number.
    actions.sort_by(|a, b| {
        (a.action == vocabulary::OTHER)
            .cmp(&(b.action == vocabulary::OTHER))
            .then_with(|| b.events.cmp(&a.events))
            .then_with(|| a.action.cmp(b.action))
    });
    Ok(AuditTally {
        events: u64_at(&totals, column::ACCESSES, 0)?,
        authors: u64_at(&totals, AUTHORS, 0)?,
        first_seen: time_at(&totals, column::FIRST, 0)?,
        last_seen: time_at(&totals, column::LAST, 0)?,
        actions,
    })
}

/// Where every input line went (SPEC §6). The buckets always add up to `lines`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    pub lines: u64,
    pub malformed: u64,
    pub not_request: u64,
    pub duplicate: u64,
    pub out_of_scope: u64,
    pub out_of_window: u64,
    pub excluded: u64,
    pub counted: u64,
    /// Of `out_of_scope`, the lines counted without being parsed because they name
    /// nothing in scope (SPEC §6). The internal note shows it; the JSON stays the same
    /// whether lines were read or not.
    #[serde(skip)]
    pub unread: u64,
}

impl Reconciliation {
    pub fn bucket_sum(&self) -> u64 {
        self.malformed
            + self.not_request
            + self.duplicate
            + self.out_of_scope
            + self.out_of_window
            + self.excluded
            + self.counted
    }

    pub fn add(&mut self, other: &Reconciliation) {
        self.lines += other.lines;
        self.malformed += other.malformed;
        self.not_request += other.not_request;
        self.duplicate += other.duplicate;
        self.out_of_scope += other.out_of_scope;
        self.out_of_window += other.out_of_window;
        self.excluded += other.excluded;
        self.counted += other.counted;
        self.unread += other.unread;
    }
}

/// One input file as the reply's appendix and the internal note describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputSummary {
    pub name: String,
    pub format: &'static str,
    pub gzip: bool,
    pub sha256: String,
    pub lines: u64,
    pub malformed: u64,
    /// The first few malformed line numbers (never their content).
    pub malformed_lines: Vec<u64>,
    /// Why the first malformed line is malformed, in the program's words.
    #[serde(skip)]
    pub first_malformed: Option<&'static str>,
    /// Records of the story's kind read from it, in scope or not.
    #[serde(skip)]
    pub records: u64,
    /// Lines counted out of scope without being read.
    #[serde(skip)]
    pub unread: u64,
    /// With `--format-hint`: the format the content looks like, when it is another.
    #[serde(skip)]
    pub looks_like: Option<&'static str>,
}

/// The filters a reply may describe: the requester's own ranges and domains, and only
/// the number of named accounts (their names belong to other people).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filters {
    /// The requester's own addresses (`--client-ip`), for the IP-block story.
    pub client_ranges: Vec<String>,
    pub exclude_ip_ranges: Vec<String>,
    pub exclude_domains: Vec<String>,
    pub exclude_users: usize,
    #[serde(serialize_with = "ser_time")]
    pub since: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_time")]
    pub until: Option<DateTime<Utc>>,
}

/// A period of time: the first and the last moment of something.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Period {
    #[serde(serialize_with = "ser_time")]
    pub first: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_time")]
    pub last: Option<DateTime<Utc>>,
}

/// Everything a reply may be built from: counts, times, and the requester's paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Aggregates {
    pub template: &'static str,
    pub scope: Vec<String>,
    pub filters: Filters,
    /// The period the inputs' records of the story's kind cover, in scope or not.
    pub logs_cover: Period,
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
    /// What the engineer should know about how the answer was produced (standard
    /// error and the internal note; never the reply).
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// What the team configuration file added to the known list.
    #[serde(skip)]
    pub config_added: Vec<String>,
}
