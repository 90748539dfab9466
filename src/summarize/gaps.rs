//! Gaps in the logs (RULES.md §9): stretches of the period where the request logs hold
//! no line although lines would be expected, so that requests there went uncounted.
//!
//! Platform logs hold every customer's traffic, so a quiet night of one project is
//! no gap; a stretch counts only when it is longer than [`LONGEST`] and the logs' own
//! rate of lines predicts at least [`EXPECTED`] lines in it.

use chrono::{DateTime, TimeDelta, Utc};

use crate::aggregate::Gap;
use crate::config::Window;

use super::collect::{Span, Timeline};

/// The longest stretch without lines that is not a gap.
const LONGEST: TimeDelta = TimeDelta::hours(1);

/// How many lines the logs' rate must predict in a stretch for it to be a gap.
const EXPECTED: f64 = 100.0;

/// The gaps in the logs, in time order, within the window: the stretches between the
/// times the logs cover (every request log together), each longer than [`LONGEST`]
/// where the lines of all of them, spread over the whole period they cover, predict
/// at least [`EXPECTED`] lines.
pub(crate) fn gaps(timelines: &[Timeline], window: &Window) -> Vec<Gap> {
    let mut spans: Vec<Span> = timelines
        .iter()
        .flat_map(|t| t.spans.iter().copied())
        .collect();
    spans.sort_unstable_by_key(|s| (s.first, s.last));
    let (Some(first), Some(last)) = (
        spans.first().map(|s| s.first),
        spans.iter().map(|s| s.last).max(),
    ) else {
        return Vec::new();
    };
    let lines: u64 = timelines.iter().map(|t| t.lines).sum();
    let period = (last - first).num_milliseconds().max(1) as f64;
    let per_ms = lines as f64 / period;
    let mut gaps = Vec::new();
    let mut covered_to = first;
    for span in spans {
        if span.first > covered_to
            && let Some(gap) = within(covered_to, span.first, window)
            && (gap.to - gap.from).num_milliseconds() as f64 * per_ms >= EXPECTED
        {
            gaps.push(gap);
        }
        covered_to = covered_to.max(span.last);
    }
    gaps
}

/// The part of the stretch from `from` to `to` inside the window, when it is longer
/// than [`LONGEST`].
fn within(from: DateTime<Utc>, to: DateTime<Utc>, window: &Window) -> Option<Gap> {
    let from = window.since.map_or(from, |s| from.max(s));
    let to = window.until_exclusive.map_or(to, |u| to.min(u));
    (to - from > LONGEST).then_some(Gap { from, to })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn span(a: &str, b: &str) -> Span {
        Span {
            first: t(a),
            last: t(b),
        }
    }

    fn timeline(lines: u64, spans: &[(&str, &str)]) -> Timeline {
        Timeline {
            lines,
            spans: spans.iter().map(|(a, b)| span(a, b)).collect(),
        }
    }

    const ALL: Window = Window {
        since: None,
        until_exclusive: None,
    };

    #[test]
    fn a_missing_day_between_two_files_is_a_gap() {
        let files = [
            timeline(10_000, &[("2026-03-03T00:00:00Z", "2026-03-03T23:59:00Z")]),
            timeline(10_000, &[("2026-03-05T00:00:00Z", "2026-03-05T23:59:00Z")]),
        ];
        let got = gaps(&files, &ALL);
        assert_eq!(
            got,
            vec![Gap {
                from: t("2026-03-03T23:59:00Z"),
                to: t("2026-03-05T00:00:00Z")
            }]
        );
        // Within a window that holds only part of it, the part inside.
        let window = Window {
            since: Some(t("2026-03-04T12:00:00Z")),
            until_exclusive: None,
        };
        assert_eq!(gaps(&files, &window)[0].from, t("2026-03-04T12:00:00Z"));
        // A window that holds an hour of it holds no gap.
        let window = Window {
            since: Some(t("2026-03-04T23:00:00Z")),
            until_exclusive: None,
        };
        assert!(gaps(&files, &window).is_empty());
    }

    #[test]
    fn quiet_logs_and_short_stretches_are_no_gaps() {
        // 50 lines over a day: two quiet hours predict 4 lines.
        let quiet = [timeline(
            50,
            &[
                ("2026-03-03T00:00:00Z", "2026-03-03T10:00:00Z"),
                ("2026-03-03T12:00:00Z", "2026-03-04T00:00:00Z"),
            ],
        )];
        assert!(gaps(&quiet, &ALL).is_empty());
        // A busy log with stretches of an hour at most.
        let busy = [timeline(
            100_000,
            &[
                ("2026-03-03T00:00:00Z", "2026-03-03T10:00:00Z"),
                ("2026-03-03T11:00:00Z", "2026-03-04T00:00:00Z"),
            ],
        )];
        assert!(gaps(&busy, &ALL).is_empty());
        // Another log covering the stretch fills it.
        let filled = [
            timeline(
                100_000,
                &[
                    ("2026-03-03T00:00:00Z", "2026-03-03T08:00:00Z"),
                    ("2026-03-03T12:00:00Z", "2026-03-04T00:00:00Z"),
                ],
            ),
            timeline(100, &[("2026-03-03T07:30:00Z", "2026-03-03T12:30:00Z")]),
        ];
        assert!(gaps(&filled, &ALL).is_empty());
    }
}
