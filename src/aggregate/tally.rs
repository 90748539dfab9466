//! The access and high-load stories: every request left in scope, counted in total,
//! per path, status, status class, kind, excluding rule, country and minute. One
//! lazy plan, [`plan`], collected once.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use polars::prelude::*;

use super::common::{self, Ascending, Descending, column::*, sorted};
use super::names::{Codes, Name, Names, position};
use super::rows;
use super::view::Tally;
use crate::exclude::Rule;
use crate::ingest::Kind;

/// One request that survived scope and window, with what the counting needs.
#[derive(Debug, Clone)]
pub(crate) struct Counted {
    /// The directory path of the project or namespace it was attributed to.
    pub path: Name,
    /// A stable key for the user (`id:1`, `name:bob`), `None` when anonymous.
    pub user: Option<Name>,
    /// Whether the log records who made the request: not Workhorse's, nor NGINX's
    /// without a user the directory knows.
    pub identified: bool,
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
pub(crate) struct Batch {
    names: Names,
    whole_minutes: common::WholeMinutes,
    /// Client addresses are only ever counted.
    ips: Codes<IpAddr>,
    path: Vec<u32>,
    user: Vec<Option<u32>>,
    who_unknown: Vec<bool>,
    ip: Vec<Option<u32>>,
    time: Vec<i64>,
    status: Vec<Option<u32>>,
    /// The position in [`Kind::ALL`].
    kind: Vec<u32>,
    agent: Vec<Option<u32>>,
    /// The position in [`Rule::ALL`]; null when counted.
    rule: Vec<Option<u32>>,
    country: Vec<Option<u32>>,
}

impl Batch {
    /// A batch of records whose names are in `names`.
    pub(crate) fn new(names: Names) -> Self {
        Batch {
            names,
            ..Batch::default()
        }
    }

    /// Only the minutes wholly inside the window can be the busiest.
    pub(crate) fn within(mut self, whole: common::WholeMinutes) -> Self {
        self.whole_minutes = whole;
        self
    }

    /// The table the records' names are in.
    pub(crate) fn names(&self) -> &Names {
        &self.names
    }

    pub(crate) fn push(&mut self, r: &Counted, rule: Option<Rule>) {
        self.path.push(r.path.index());
        self.user.push(r.user.map(Name::index));
        self.who_unknown.push(!r.identified);
        self.ip.push(r.ip.map(|ip| self.ips.code(ip)));
        self.time.push(r.time.timestamp_micros());
        self.status.push(r.status.map(u32::from));
        self.kind.push(position(&Kind::ALL, r.kind));
        self.agent.push(r.user_agent.map(Name::index));
        self.rule.push(rule.map(|rule| position(&Rule::ALL, rule)));
        self.country.push(r.country.map(Name::index));
    }

    /// The time (microseconds) and status of each counted request (no rule took it
    /// out), for the timeline.
    pub(super) fn counted_times_and_statuses(&self) -> impl Iterator<Item = (i64, Option<u32>)> {
        (self.time.iter().zip(&self.status).zip(&self.rule))
            .filter(|(_, rule)| rule.is_none())
            .map(|((&t, &status), _)| (t, status))
    }

    fn into_frame(self) -> PolarsResult<(LazyFrame, Names)> {
        let df = DataFrame::new_infer_height(vec![
            Column::new(PATH.into(), self.path),
            Column::new(USER.into(), self.user),
            Column::new(WHO_UNKNOWN.into(), self.who_unknown),
            Column::new(IP.into(), self.ip),
            Column::new(TIME.into(), self.time),
            Column::new(STATUS.into(), self.status),
            Column::new(KIND.into(), self.kind),
            Column::new(AGENT.into(), self.agent),
            Column::new(RULE.into(), self.rule),
            Column::new(COUNTRY.into(), self.country),
        ])?;
        Ok((df.lazy(), self.names))
    }
}

/// Counts the counted requests (`rule` null) and, per rule, the excluded ones;
/// `countries` when the requests carry them.
pub(crate) fn tally(batch: Batch, countries: bool) -> PolarsResult<Tally> {
    let whole = batch.whole_minutes;
    let (requests, names) = batch.into_frame()?;
    let frames = common::collect(plan(requests, Arc::new(names), countries, whole))?;
    let [
        totals,
        paths,
        statuses,
        classes,
        rules,
        busiest,
        per_country @ ..,
    ] = &frames[..]
    else {
        return Err(common::missing_frames());
    };
    Ok(Tally {
        counts: rows::only(totals, rows::counts)?,
        paths: rows::all(paths, rows::path_counts)?,
        statuses: rows::all(statuses, rows::status)?,
        status_classes: rows::all(classes, rows::class)?,
        kinds: rows::only(totals, rows::kinds)?,
        distinct_user_agents: rows::only(totals, rows::distinct_user_agents)?,
        excluded: rows::excluded(rules)?,
        countries: per_country
            .first()
            .map(|frame| rows::all(frame, rows::country))
            .transpose()?,
        busiest_minute: rows::first(busiest, rows::busiest_minute)?,
    })
}

/// The frames of the tally, in the order [`tally`] reads them: totals, paths,
/// statuses, status classes, rules, the busiest minute, and countries if asked.
fn plan(
    requests: LazyFrame,
    names: Arc<Names>,
    countries: bool,
    whole: common::WholeMinutes,
) -> Vec<LazyFrame> {
    let counted = requests.clone().filter(col(RULE).is_null());
    let per_code = common::per_code(counted.clone());
    let mut frames = vec![
        totals(counted.clone()),
        per_path(counted.clone(), names.clone()),
        common::per_status(per_code.clone()),
        common::per_class(per_code),
        per_rule(requests),
        common::busiest_minute(counted.clone(), whole),
    ];
    if countries {
        frames.push(per_country(counted, names));
    }
    frames
}

/// The counts, the time range, the user agents and the kinds of all requests.
fn totals(counted: LazyFrame) -> LazyFrame {
    let mut exprs = common::counts_with_times();
    exprs.push(common::distinct(AGENT).alias(AGENTS));
    exprs.extend(
        (0u32..)
            .zip(Kind::ALL)
            .map(|(code, k)| common::count_if(col(KIND).eq(lit(code))).alias(kind(k))),
    );
    counted.select(exprs)
}

/// Most accessed path first; on a tie, in the order of the paths.
fn per_path(counted: LazyFrame, names: Arc<Names>) -> LazyFrame {
    let per_path = counted
        .group_by([col(PATH)])
        .agg(common::request_counts())
        .with_column(common::texts(PATH, names));
    sorted(
        per_path,
        [(col(ACCESSES), Descending), (col(PATH), Ascending)],
    )
}

/// The excluded requests, one row per rule that took any out.
fn per_rule(requests: LazyFrame) -> LazyFrame {
    requests
        .filter(col(RULE).is_not_null())
        .group_by([col(RULE)])
        .agg(common::counts_with_times())
}

/// Most addresses first, then most requests, then in the order of the countries.
fn per_country(counted: LazyFrame, names: Arc<Names>) -> LazyFrame {
    let per_country = counted
        .group_by([col(COUNTRY)])
        .agg([common::accesses(), common::distinct(IP).alias(UNIQUE_IPS)])
        .with_column(common::texts(COUNTRY, names));
    sorted(
        per_country,
        [
            (col(UNIQUE_IPS), Descending),
            (col(ACCESSES), Descending),
            (col(COUNTRY), Ascending),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::format_time;
    use crate::aggregate::view::{Counts, KindCounts, PathCounts};

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
            identified: true,
            ip: r.ip.map(|i| i.parse().unwrap()),
            time: r.time,
            status: r.status,
            kind: r.kind,
            user_agent: Some(names.intern("ua")),
            country: None,
        };
        b.push(&counted, rule);
    }

    /// Three requests to `acme/a` (two by one user from two addresses, a Git pull by no
    /// one signed in), one to `acme/b` with neither address nor status, and two to
    /// `acme/b` that the IP rule leaves out.
    fn six_requests() -> Batch {
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
        b
    }

    #[test]
    fn counts_per_total_path_status_kind_and_rule() {
        let b = six_requests();
        let t = tally(b, false).unwrap();
        assert_eq!(
            t.counts,
            Counts {
                accesses: 4,
                users: 2,
                anonymous_accesses: 1,
                unidentified_accesses: 0,
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
                unidentified_accesses: 0,
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
                unidentified_accesses: 0,
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
                unidentified_accesses: 0,
                unique_ips: 1,
                first_seen: Some(at("2026-03-14T20:11:00Z")),
                last_seen: Some(at("2026-03-14T20:11:00Z")),
            }
        );
        assert_eq!(t.excluded.user, Counts::default());
        assert_eq!(t.distinct_user_agents, 1);
    }

    #[test]
    fn nothing_counted_is_all_zero() {
        let t = tally(Batch::default(), false).unwrap();
        assert_eq!(t.counts, Counts::default());
        assert!(t.paths.is_empty() && t.statuses.is_empty());
    }

    /// A request at `t` with only the parts the orders depend on.
    fn bare(names: &Names, path: &str, t: &str, status: Option<u16>, country: &str) -> Counted {
        Counted {
            path: names.intern(path),
            user: None,
            identified: true,
            ip: None,
            time: at(t),
            status,
            kind: Kind::Web,
            user_agent: None,
            country: Some(names.intern(country)),
        }
    }

    /// The plan sorts texts as Rust compares them (by bytes), not as numbers, and
    /// ties keep the order the replies have always had.
    #[test]
    fn orders_are_those_of_the_texts_and_ties_break_the_same_way() {
        let mut b = Batch::default();
        let rows = [
            ("b", Some(99), "é"),
            ("B", Some(1000), "de"),
            ("a/b", Some(200), "DE"),
            ("a-b", None, "de"),
            ("a", Some(599), "é"),
            ("é", Some(600), "DE"),
        ];
        for (path, status, country) in rows {
            let r = bare(b.names(), path, "2026-03-14T20:06:00Z", status, country);
            b.push(&r, None);
        }
        let t = tally(b, true).unwrap();
        let paths: Vec<_> = t.paths.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["B", "a", "a-b", "a/b", "b", "é"]);
        let statuses: Vec<_> = t.statuses.iter().map(|s| s.status.as_str()).collect();
        assert_eq!(statuses, ["1000", "200", "599", "600", "99", "unknown"]);
        let classes: Vec<_> = t
            .status_classes
            .iter()
            .map(|c| (c.class.as_str(), c.accesses))
            .collect();
        assert_eq!(classes, [("2xx", 1), ("5xx", 1), ("unknown", 4)]);
        let countries: Vec<_> = t
            .countries
            .unwrap()
            .iter()
            .map(|c| (c.country.clone(), c.accesses))
            .collect();
        assert_eq!(
            countries,
            [("DE".into(), 2), ("de".into(), 2), ("é".into(), 2)]
        );
    }

    /// The busiest minute is the earliest of the busiest, and a minute starts at the
    /// full minute before it, before 1970 too.
    #[test]
    fn busiest_minute_is_the_earliest_and_rounds_down() {
        let mut b = Batch::default();
        for t in [
            "1969-12-31T23:59:30.5Z",
            "1969-12-31T23:59:01Z",
            "2026-03-14T20:06:59Z",
            "2026-03-14T20:06:00Z",
        ] {
            let r = bare(b.names(), "acme/a", t, Some(200), "DE");
            b.push(&r, None);
        }
        let busiest = tally(b, false).unwrap().busiest_minute.unwrap();
        assert_eq!(
            (format_time(busiest.minute).as_str(), busiest.accesses),
            ("1969-12-31T23:59:00.000Z", 2)
        );
    }
}
