//! The audit story: events per action of the closed vocabulary, with their distinct
//! authors and time range. One lazy plan, [`plan()`], collected once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use polars::prelude::*;

use super::common::{self, Ascending, Descending, column::*, sorted};
use super::names::Codes;
use super::rows;
use super::view::AuditTally;
use crate::vocabulary;

/// What tells two audit events or two authors apart, in a few bytes whatever the text
/// it stands for: a number as it is, else the first 128 bits of the text's SHA-256 (no
/// one can make two texts collide there). Millions of events are kept this way, and
/// nothing an event says is kept to be counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Identity {
    Number(i64),
    Digest([u8; 16]),
}

impl Identity {
    /// An id as written: a number in its own spelling is that number (`007` is not
    /// `7`: another text), anything else its digest.
    pub(crate) fn of_id(id: &str) -> Identity {
        let own_spelling = id == "0" || (!id.starts_with(['0', '+', '-']) && !id.is_empty());
        match id.parse() {
            Ok(n) if own_spelling && id.bytes().all(|b| b.is_ascii_digit()) => Identity::Number(n),
            _ => Identity::of_text(id),
        }
    }

    /// A text by its digest alone.
    pub(crate) fn of_text(text: &str) -> Identity {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(text.as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        Identity::Digest(first)
    }
}

/// Audit events that survived scope, window and exclusions. An action is a label of
/// the closed vocabulary (a [`vocabulary::Code`]), so no free text from an event can
/// be counted under its own name. Authors are only ever counted: they are kept as codes.
#[derive(Debug, Default)]
pub(crate) struct AuditBatch {
    labels: Codes<&'static str>,
    authors: Codes<Identity>,
    action: Vec<u32>,
    author: Vec<Option<u32>>,
    time: Vec<i64>,
}

impl AuditBatch {
    /// Room for `events` more, made at once: the batch of a large export takes its
    /// size, not up to twice that.
    pub(crate) fn reserve(&mut self, events: usize) {
        self.action.reserve_exact(events);
        self.author.reserve_exact(events);
        self.time.reserve_exact(events);
    }

    pub(crate) fn push(
        &mut self,
        action: vocabulary::Code,
        author: Option<Identity>,
        time: DateTime<Utc>,
    ) {
        self.action.push(self.labels.code(action.label()));
        self.author.push(author.map(|a| self.authors.code(a)));
        self.time.push(time.timestamp_micros());
    }
}

/// Counts the events in total and per action.
pub(crate) fn audit_tally(batch: AuditBatch) -> PolarsResult<AuditTally> {
    let labels = Arc::new(batch.labels.labels());
    let events = DataFrame::new_infer_height(vec![
        Column::new(ACTION.into(), batch.action),
        Column::new(USER.into(), batch.author),
        Column::new(TIME.into(), batch.time),
    ])?
    .lazy();
    let frames = common::collect(plan(events, labels.clone()))?;
    let [totals, per_action] = &frames[..] else {
        return Err(common::missing_frames());
    };
    let actions = rows::all(per_action, |row| rows::action(row, &labels))?;
    rows::only(totals, |row| rows::audit(row, actions))
}

/// The frames of the story, in the order [`audit_tally`] reads them: totals, and one
/// row per action, most events first but the catch-all "other changes" last.
fn plan(events: LazyFrame, labels: Arc<Vec<&'static str>>) -> Vec<LazyFrame> {
    let counts = || {
        let mut exprs = vec![common::accesses(), common::distinct(USER).alias(AUTHORS)];
        exprs.extend(common::time_range());
        exprs
    };
    let per_action = events
        .clone()
        .group_by([col(ACTION)])
        .agg(counts())
        .with_column(common::texts(ACTION, labels).alias(ACTION_TEXT));
    let per_action = sorted(
        per_action,
        [
            (col(ACTION_TEXT).eq(lit(vocabulary::OTHER)), Ascending),
            (col(ACCESSES), Descending),
            (col(ACTION_TEXT), Ascending),
        ],
    );
    vec![events.select(counts()), per_action]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Pushes an event of `label` by `author` (a user key) at `time`.
    fn push(b: &mut AuditBatch, label: &str, author: Option<&str>, time: &str) {
        b.push(
            vocabulary::code(label),
            author.map(Identity::of_text),
            at(time),
        );
    }

    #[test]
    fn identities_are_the_texts_they_stand_for() {
        let rows = [
            ("7", Identity::Number(7)),
            ("0", Identity::Number(0)),
            ("9223372036854775807", Identity::Number(i64::MAX)),
        ];
        for (text, want) in rows {
            assert_eq!(Identity::of_id(text), want, "{text}");
        }
        // Other spellings of a number are other texts.
        for text in [
            "007",
            "+7",
            "-7",
            " 7",
            "7.0",
            "9223372036854775808",
            "",
            "a7",
        ] {
            assert_eq!(Identity::of_id(text), Identity::of_text(text), "{text}");
            assert!(
                matches!(Identity::of_id(text), Identity::Digest(_)),
                "{text}"
            );
        }
        assert_ne!(Identity::of_text("a"), Identity::of_text("b"));
    }

    #[test]
    fn audit_counts_per_action() {
        let mut b = AuditBatch::default();
        push(
            &mut b,
            "Changed visibility",
            Some("id:1"),
            "2026-03-14T20:00:00Z",
        );
        push(
            &mut b,
            "Changed visibility",
            Some("id:2"),
            "2026-03-15T20:00:00Z",
        );
        push(
            &mut b,
            "Added a member",
            Some("id:1"),
            "2026-03-13T20:00:00Z",
        );
        push(&mut b, "Added a member", None, "2026-03-13T21:00:00Z");
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

    /// Most events first, ties by label, and "other changes" last whatever its number.
    #[test]
    fn other_changes_come_last() {
        let mut b = AuditBatch::default();
        let t = "2026-03-14T20:00:00Z";
        let (a, bb, c) = ("Added a member", "Changed visibility", "Removed a member");
        for action in [vocabulary::OTHER, bb, vocabulary::OTHER, c, a, c] {
            push(&mut b, action, None, t);
        }
        push(&mut b, vocabulary::OTHER, Some("id:1"), t);
        let actions: Vec<_> = audit_tally(b)
            .unwrap()
            .actions
            .iter()
            .map(|a| (a.action, a.events, a.authors))
            .collect();
        assert_eq!(
            actions,
            [(c, 2, 0), (a, 1, 0), (bb, 1, 0), (vocabulary::OTHER, 3, 1)]
        );
    }
}
