//! Settling what was collected: one request logged by several components is one
//! request, records outside the window are set aside, the known list takes its share,
//! and every line ends in exactly one bucket of the reconciliation (RULES.md §6).

use std::collections::{HashMap, HashSet};

use crate::aggregate::{
    AuditBatch, Batch, ClientRequest, Identity, InputSummary, Names, Reconciliation,
};
use crate::config::{Story, Window};
use crate::error::{Error, Result};
use crate::exclude::Rule;
use crate::ingest::Source;

use super::collect::{At, Collected, Elsewhere, LineKey, Scoped, ScopedEvent, Twin};

/// What is left to count once every line has its bucket.
pub(crate) struct Settled {
    pub(crate) reconciliation: Reconciliation,
    pub(crate) batch: Batch,
    /// The requester's own requests, for the IP-block story.
    pub(crate) client_requests: Vec<ClientRequest>,
    pub(crate) audit: AuditBatch,
    /// Audit events the known list took out, per rule (user, domain, IP): events and
    /// their distinct authors.
    pub(crate) audit_excluded: [(u64, HashSet<Identity>); 3],
}

/// Deduplicates, applies the window and the known list, and checks that the buckets
/// add up to the lines read.
pub(crate) fn settle(collected: Collected, window: &Window, names: Names) -> Result<Settled> {
    let Collected {
        mut reconciliation,
        scoped,
        events,
        elsewhere,
        twins,
        ..
    } = collected;
    let copies = by_content(&scoped, &elsewhere);
    reconciliation.overlap = copies.iter().filter(|&&c| c).count() as u64;
    let (duplicate, elsewhere_dup) =
        by_request(&scoped, &elsewhere, &twins, &copies, &mut reconciliation);
    let mut settled = Settled {
        reconciliation,
        batch: Batch::new(names).within(super::whole_minutes(window)),
        client_requests: Vec::new(),
        audit: AuditBatch::default(),
        audit_excluded: Default::default(),
    };
    settled.requests(scoped, duplicate, window);
    // Outside the scope these lines stay `out_of_scope` in the reconciliation; the
    // IP-block story only adds them up, nameless.
    for (e, dup) in elsewhere.into_iter().zip(elsewhere_dup) {
        if !dup && window.contains(e.time) {
            settled.client_requests.push(ClientRequest {
                path: None,
                status: e.status,
                time: e.time,
                git_challenge: e.git_challenge,
            });
        }
    }
    settled.events(events, window);
    let r = &settled.reconciliation;
    if r.bucket_sum() != r.lines {
        return Err(Error::Internal("the reconciliation does not add up".into()));
    }
    Ok(settled)
}

impl Settled {
    fn requests(&mut self, scoped: Vec<Scoped>, duplicate: Vec<bool>, window: &Window) {
        let rec = &mut self.reconciliation;
        for (s, dup) in scoped.into_iter().zip(duplicate) {
            if dup {
                rec.duplicate += 1;
            } else if !window.contains(s.counted.time) {
                rec.out_of_window += 1;
            } else {
                // The IP-block story is about the requester's own traffic: the known
                // list does not apply to it.
                if s.from_client {
                    self.client_requests.push(ClientRequest {
                        path: Some(self.batch.names().resolve(s.counted.path)),
                        status: s.counted.status,
                        time: s.counted.time,
                        git_challenge: s.git_challenge,
                    });
                }
                match s.rule {
                    Some(_) => rec.excluded += 1,
                    None => rec.counted += 1,
                }
                self.batch.push(&s.counted, s.rule);
            }
        }
    }

    /// The same event may arrive twice (a stream retries, exports overlap): by id, the
    /// first one stays.
    fn events(&mut self, events: Vec<ScopedEvent>, window: &Window) {
        let rec = &mut self.reconciliation;
        let mut seen_ids = HashSet::new();
        self.audit.reserve(events.len());
        for e in events {
            if e.id.is_some_and(|id| !seen_ids.insert(id)) {
                rec.duplicate += 1;
            } else if !window.contains(e.time) {
                rec.out_of_window += 1;
            } else if let Some(rule) = e.rule {
                rec.excluded += 1;
                let at = Rule::ALL.iter().position(|r| *r == rule).unwrap_or(0);
                let (events, authors) = &mut self.audit_excluded[at];
                *events += 1;
                authors.extend(e.author);
            } else {
                rec.counted += 1;
                self.audit.push(e.action, e.author, e.time);
            }
        }
    }
}

/// The same request line in several inputs (overlapping exports) is one request: a
/// line held k times by one input and m times by another counts max(k, m) times, and
/// the other copies are duplicates; within one input, repeated lines stay as they are
/// (RULES.md §6). Returns, for the lines in scope and then the requester's lines
/// elsewhere, which are such copies.
fn by_content(scoped: &[Scoped], elsewhere: &[Elsewhere]) -> Vec<bool> {
    let keyed: Vec<(At, Option<LineKey>)> = scoped
        .iter()
        .map(|s| (s.at, s.key))
        .chain(elsewhere.iter().map(|e| (e.at, e.key)))
        .collect();
    let mut copy = vec![false; keyed.len()];
    // Copies are across inputs: with one input there are none to look for.
    let mut inputs = keyed.iter().filter(|k| k.1.is_some()).map(|k| k.0.0);
    if let Some(one) = inputs.next()
        && inputs.all(|i| i == one)
    {
        return copy;
    }
    let mut order: Vec<usize> = (0..keyed.len()).filter(|&i| keyed[i].1.is_some()).collect();
    order.sort_by_key(|&i| keyed[i].0);
    // The most copies of each line one input held, over the inputs read before the
    // current one; and the copies the current one holds so far.
    let mut before: HashMap<LineKey, u64> = HashMap::new();
    let mut current: HashMap<LineKey, u64> = HashMap::new();
    let mut input = None;
    for i in order {
        let (at, Some(key)) = keyed[i] else {
            continue;
        };
        if input != Some(at.0) {
            for (k, n) in current.drain() {
                let most = before.entry(k).or_default();
                *most = (*most).max(n);
            }
            input = Some(at.0);
        }
        let seen = current.entry(key).or_default();
        *seen += 1;
        copy[i] = *seen <= before.get(&key).copied().unwrap_or(0);
    }
    copy
}

/// One request logged by several components is one request, wherever the scope
/// places each of its lines: the most complete line decides, the first in reading
/// order among equals (RULES.md §6). Lines that are `copies` of a line of another
/// input are duplicates already, and join nothing. Returns which lines in scope and
/// which of the requester's lines elsewhere are duplicates; out-of-scope duplicates
/// move from `out_of_scope` to `duplicate` here.
fn by_request(
    scoped: &[Scoped],
    elsewhere: &[Elsewhere],
    twins: &[Twin],
    copies: &[bool],
    reconciliation: &mut Reconciliation,
) -> (Vec<bool>, Vec<bool>) {
    let mut lines: Vec<(At, Source, Option<&str>)> = Vec::new();
    lines.extend(
        scoped
            .iter()
            .map(|s| (s.at, s.source, s.correlation_id.as_deref())),
    );
    lines.extend(
        elsewhere
            .iter()
            .map(|e| (e.at, e.source, e.correlation_id.as_deref())),
    );
    for (line, _) in lines.iter_mut().zip(copies).filter(|(_, c)| **c) {
        line.2 = None;
    }
    lines.extend(
        twins
            .iter()
            .map(|t| (t.at, t.source, Some(&*t.correlation_id))),
    );
    // Each list is in reading order; together they are sorted by place, and the flags
    // put back in the lists' order.
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by_key(|&i| lines[i].0);
    let flags = duplicates(order.iter().map(|&i| (lines[i].1, lines[i].2)));
    let mut duplicate = vec![false; lines.len()];
    for (&i, dup) in order.iter().zip(flags) {
        duplicate[i] = dup || copies.get(i).copied().unwrap_or(false);
    }
    let twin_duplicates = duplicate.split_off(scoped.len() + elsewhere.len());
    let elsewhere_dup = duplicate.split_off(scoped.len());
    let moved = elsewhere_dup
        .iter()
        .chain(&twin_duplicates)
        .filter(|&&d| d)
        .count() as u64;
    reconciliation.out_of_scope -= moved;
    reconciliation.duplicate += moved;
    (duplicate, elsewhere_dup)
}

/// Marks the requests that another component logged too (same `correlation_id`):
/// the most complete record stays, the first one among equals (RULES.md §6).
fn duplicates<'a>(records: impl Iterator<Item = (Source, Option<&'a str>)>) -> Vec<bool> {
    let records: Vec<(Source, Option<&str>)> = records.collect();
    let mut dup = vec![false; records.len()];
    let mut kept: HashMap<&str, usize> = HashMap::new();
    for (i, &(source, cid)) in records.iter().enumerate() {
        let Some(cid) = cid else {
            continue;
        };
        match kept.get(cid).copied() {
            None => {
                kept.insert(cid, i);
            }
            Some(k) if source.completeness() > records[k].0.completeness() => {
                dup[k] = true;
                kept.insert(cid, i);
            }
            Some(_) => dup[i] = true,
        }
    }
    dup
}

/// A story needs records of its kind; refuses the run when the inputs hold none, or
/// when `--format-hint` made every line unreadable as requests (RULES.md §9).
pub(crate) fn story_has_records(story: Story, inputs: &[InputSummary]) -> Result<()> {
    if inputs.iter().any(|i| i.records > 0) {
        return Ok(());
    }
    let name = story.name();
    let lines: u64 = inputs.iter().map(|i| i.lines).sum();
    if lines == 0 {
        return Err(Error::NoRecords(format!(
            "--template {name}: the inputs are empty"
        )));
    }
    let holds = |audit: bool| {
        inputs
            .iter()
            .any(|i| i.lines > 0 && i.format.starts_with("audit") == audit)
    };
    if story.counts_audit_events() {
        // Audit events are always read line by line: none means there are none.
        let fits = if holds(false) {
            "; these files hold requests: use --template access, ip-block or high-load"
        } else {
            ""
        };
        return Err(Error::NoRecords(format!(
            "--template {name} needs audit events, and the inputs hold none{fits}"
        )));
    }
    if !holds(false) {
        return Err(Error::NoRecords(format!(
            "--template {name} needs request logs, and the inputs hold only audit events: \
             use --template audit"
        )));
    }
    if let Some(i) = inputs
        .iter()
        .find(|i| i.looks_like.is_some() && i.lines > 0)
    {
        return Err(Error::NoRecords(format!(
            "{}: read as {} (--format-hint), none of its lines is a request; they look like {}: \
             leave out --format-hint or name that format",
            i.name,
            i.format,
            i.looks_like.unwrap_or_default()
        )));
    }
    // Every line was read and none is a request: the logs hold nothing to count. Lines
    // passed over unread may be requests to other customers, which is a valid answer.
    if inputs.iter().all(|i| i.unread == 0) {
        return Err(Error::NoRecords(format!(
            "--template {name} needs requests, and none of the inputs' {lines} lines is one"
        )));
    }
    Ok(())
}
