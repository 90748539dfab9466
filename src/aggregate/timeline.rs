//! Requests over time by status class, for `--chart`: one plain pass over the
//! requests a story counts, into buckets of a step chosen from the period so that
//! there are at most [`MAX_BUCKETS`]. Counts and times only: nothing here can hold an
//! address, a name, a path or a user agent.

use chrono::{DateTime, TimeDelta, Utc};

use super::ClientRequest;
use super::tally::Batch;

/// The most buckets a timeline has.
pub(super) const MAX_BUCKETS: i64 = 200;

/// The steps a timeline may have, the finest first; past the last, whole days.
const STEPS: [i64; 7] = [60, 5 * 60, 15 * 60, 3600, 6 * 3600, 86_400, 7 * 86_400];

/// What a request's status says, as the chart draws it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Success,
    Redirect,
    ClientError,
    /// 401 (other than Git's challenge), 403 and 429: what leads to a block. Only the
    /// IP-block story tells them apart from the other 4xx.
    Refused,
    ServerError,
    /// 1xx, no status, or one outside 100..=599.
    Other,
}

impl Class {
    /// Every class, in the order the chart stacks them.
    pub(crate) const ALL: [Class; 6] = [
        Class::Success,
        Class::Redirect,
        Class::ClientError,
        Class::Refused,
        Class::ServerError,
        Class::Other,
    ];

    /// The class of a status, as the replies' status classes have it (RULES.md §5).
    /// Refusals are a class only where the story marks them (see
    /// [`client_timeline`]), by the IP-block story's own rule.
    fn of(status: Option<u16>) -> Class {
        match status {
            Some(200..=299) => Class::Success,
            Some(300..=399) => Class::Redirect,
            Some(400..=499) => Class::ClientError,
            Some(500..=599) => Class::ServerError,
            _ => Class::Other,
        }
    }

    fn index(self) -> usize {
        Class::ALL.iter().position(|&c| c == self).unwrap_or(0)
    }
}

/// Requests per bucket and class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timeline {
    /// The start of the first bucket; buckets follow without gaps.
    pub start: DateTime<Utc>,
    /// Each bucket's length.
    pub step: TimeDelta,
    /// Per bucket, the requests of each class in [`Class::ALL`]'s order.
    pub buckets: Vec<[u64; Class::ALL.len()]>,
    /// Whether refusals are told apart (the IP-block story).
    pub marks_refusals: bool,
}

impl Timeline {
    /// The requests of a class in all buckets.
    pub(crate) fn total_of(&self, class: Class) -> u64 {
        self.buckets.iter().map(|b| b[class.index()]).sum()
    }

    /// Every request counted.
    pub(crate) fn total(&self) -> u64 {
        self.buckets.iter().flatten().sum()
    }

    /// The requests of a bucket in a class.
    pub(crate) fn count(&self, bucket: usize, class: Class) -> u64 {
        self.buckets.get(bucket).map_or(0, |b| b[class.index()])
    }

    /// Builds the timeline of requests given as (time, class).
    fn of(requests: &[(i64, Class)], marks_refusals: bool) -> Timeline {
        let (Some(first), Some(last)) = (
            requests.iter().map(|r| r.0).min(),
            requests.iter().map(|r| r.0).max(),
        ) else {
            return Timeline {
                start: DateTime::UNIX_EPOCH,
                step: TimeDelta::minutes(1),
                buckets: Vec::new(),
                marks_refusals,
            };
        };
        let step_us = step_for(first, last) * 1_000_000;
        let start = first.div_euclid(step_us) * step_us;
        let n = usize::try_from((last - start) / step_us + 1).unwrap_or(0);
        let mut buckets = vec![[0u64; Class::ALL.len()]; n];
        for &(t, class) in requests {
            let i = usize::try_from((t - start) / step_us).unwrap_or(0);
            buckets[i][class.index()] += 1;
        }
        Timeline {
            start: DateTime::from_timestamp_micros(start).unwrap_or_default(),
            step: TimeDelta::microseconds(step_us),
            buckets,
            marks_refusals,
        }
    }
}

/// The finest step, in seconds, that covers `first..=last` (microseconds) in at most
/// [`MAX_BUCKETS`] buckets aligned on the step.
fn step_for(first: i64, last: i64) -> i64 {
    let fits = |step: i64| {
        let us = step * 1_000_000;
        last.div_euclid(us) - first.div_euclid(us) < MAX_BUCKETS
    };
    STEPS.into_iter().find(|&s| fits(s)).unwrap_or_else(|| {
        let days = (last - first) / 86_400_000_000 / (MAX_BUCKETS - 1) + 1;
        (days..)
            .map(|d| d * 86_400)
            .find(|&s| fits(s))
            .unwrap_or(i64::MAX / 2_000_000)
    })
}

/// The timeline of the requests counted by the access and high-load stories: in
/// scope, in the window, not taken out by the known list.
pub(crate) fn timeline(batch: &Batch) -> Timeline {
    let requests: Vec<(i64, Class)> = batch
        .counted_times_and_statuses()
        .map(|(t, status)| (t, Class::of(status.and_then(|s| u16::try_from(s).ok()))))
        .collect();
    Timeline::of(&requests, false)
}

/// The timeline of the IP-block story: the requests from the requester's addresses,
/// refusals marked (a Git challenge is not one).
pub(crate) fn client_timeline(requests: &[ClientRequest]) -> Timeline {
    let requests: Vec<(i64, Class)> = requests
        .iter()
        .map(|r| {
            let class = match r.refused() {
                true => Class::Refused,
                false => Class::of(r.status),
            };
            (r.time.timestamp_micros(), class)
        })
        .collect();
    Timeline::of(&requests, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn client(status: u16, t: &str, git_challenge: bool) -> ClientRequest {
        ClientRequest {
            path: None,
            status: Some(status),
            time: at(t),
            git_challenge,
        }
    }

    #[test]
    fn the_step_keeps_the_buckets_within_the_most() {
        let us = |s: &str| at(s).timestamp_micros();
        let step = |a: &str, b: &str| step_for(us(a), us(b));
        assert_eq!(step("2026-03-14T20:06:10Z", "2026-03-14T20:06:50Z"), 60);
        assert_eq!(step("2026-03-14T20:00:00Z", "2026-03-14T23:19:59Z"), 60);
        assert_eq!(step("2026-03-14T20:00:00Z", "2026-03-14T23:20:00Z"), 300);
        assert_eq!(step("2026-03-14T00:00:00Z", "2026-03-20T00:00:00Z"), 3600);
        assert_eq!(step("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"), 86_400);
        let decade = step("2011-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
        let span_days = (us("2026-01-01T00:00:00Z") - us("2011-01-01T00:00:00Z")) / 86_400_000_000;
        assert!(decade % 86_400 == 0 && span_days / (decade / 86_400) < MAX_BUCKETS);
    }

    #[test]
    fn buckets_count_every_request_once_by_class() {
        let t = client_timeline(&[
            client(200, "2026-03-14T20:06:01Z", false),
            client(401, "2026-03-14T20:06:31Z", false),
            client(401, "2026-03-14T20:06:50Z", true),
            client(429, "2026-03-14T20:09:00Z", false),
            client(503, "2026-03-14T20:09:59Z", false),
        ]);
        assert_eq!(t.start, at("2026-03-14T20:06:00Z"));
        assert_eq!(t.step, TimeDelta::minutes(1));
        assert_eq!(t.buckets.len(), 4);
        assert_eq!(t.count(0, Class::Refused), 1);
        assert_eq!(
            t.count(0, Class::ClientError),
            1,
            "a Git challenge is no refusal"
        );
        assert_eq!(t.count(1, Class::Success) + t.count(2, Class::Success), 0);
        assert_eq!(
            (t.count(3, Class::Refused), t.count(3, Class::ServerError)),
            (1, 1)
        );
        assert_eq!(t.total(), 5);
        assert!(t.marks_refusals);
        assert_eq!(client_timeline(&[]).total(), 0);
    }
}
