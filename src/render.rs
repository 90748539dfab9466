//! Rendering replies and internal notes from askama templates in `templates/`.
//!
//! Templates only ever receive a [`Guarded`] view of the aggregates. Every value they
//! print is marked: text the program formats itself (counts, times, labels) by the
//! filters and the view's methods, which wrap it in the guard's own-text marks, and
//! everything else by the [`Marked`] escaper, which wraps it in data marks. The guard
//! then knows exactly which text came from data, checks only that, escapes both for
//! the output format, and removes the marks.

use std::fmt::{self, Write};

use askama::Template;
use askama::filters::Safe;
use chrono::{DateTime, Utc};

use crate::aggregate::{
    ActionCounts, Aggregates, AuditTally, BusiestMinute, CountryCounts, Filters, IpBlock,
    PathRefusals, StatusCount, format_time,
};
use crate::config::{OutputFormat, Story};
use crate::error::{Error, Result};
use crate::exclude::Rule;
use crate::guard::{
    DATA_END, DATA_START, Emphasis, Guard, Guarded, OWN_END, OWN_START, PLACE, Place, is_mark,
};
use crate::ingest::Kind;

/// Filters the templates use for counts, so that `--min-count` applies to every one.
// askama's `filter_fn` makes public items of its own for each filter.
#[allow(unreachable_pub)]
mod filters {
    use std::borrow::Borrow;

    use askama::filters::Safe;
    use askama::{Result, Values};

    use super::own;

    /// A count, or "fewer than K" when it is below `--min-count K` (but not zero).
    #[askama::filter_fn]
    pub(super) fn count<N: Borrow<u64>>(
        n: N,
        _: &dyn Values,
        min: &Option<u64>,
    ) -> Result<Safe<String>> {
        let n = *n.borrow();
        Ok(own(super::count_text(n, *min)))
    }

    /// Text from outside (a file name, a manifest's strings) in the internal note: a
    /// code span that cannot start a line, a list item or a heading of its own.
    #[askama::filter_fn]
    pub(super) fn quoted<T: std::fmt::Display>(value: T, _: &dyn Values) -> Result<String> {
        Ok(super::code_span(&value.to_string()))
    }

    /// A number of lines, not of anyone's requests: printed as it is.
    #[askama::filter_fn]
    pub(super) fn num64<N: Borrow<u64>>(n: N, _: &dyn Values) -> Result<Safe<String>> {
        Ok(own(super::thousands(*n.borrow())))
    }

    /// A number that is not a count of anyone's requests (how many accounts the
    /// engineer named): printed as it is.
    #[askama::filter_fn]
    pub(super) fn num<N: Borrow<usize>>(n: N, _: &dyn Values) -> Result<Safe<String>> {
        Ok(own(n.borrow()))
    }

    /// The plural ending for a count as [`count`] prints it: "fewer than K" is plural.
    #[askama::filter_fn]
    pub(super) fn plural<N: Borrow<u64>>(
        n: N,
        _: &dyn Values,
        min: &Option<u64>,
        many: &'static str,
    ) -> Result<Safe<&'static str>> {
        let n = *n.borrow();
        let hidden = matches!(*min, Some(k) if n > 0 && n < k);
        // The ending is the template's own text, like the word it ends.
        Ok(Safe(if n == 1 && !hidden { "" } else { many }))
    }
}

/// A count as every reply prints it: "fewer than K" below `--min-count K` (but not
/// zero), else with thousands separators.
fn count_text(n: u64, min: Option<u64>) -> String {
    match min {
        Some(k) if n > 0 && n < k => format!("fewer than {}", thousands(k)),
        _ => thousands(n),
    }
}

/// A number as a reply writes it, with thousands separators: 2,142.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Text the program formats itself (counts, times, labels): the guard escapes it for
/// the format but never checks it against what the logs hold.
fn own(s: impl fmt::Display) -> Safe<String> {
    let mut out = String::new();
    out.push(OWN_START);
    out.extend(s.to_string().chars().filter(|&c| !is_mark(c)));
    out.push(OWN_END);
    Safe(out)
}

/// One value from data, marked for the guard.
fn data(s: &str, out: &mut String) {
    placed(Place::Reply, s, out);
}

/// One value from data, marked for the guard with the place it is printed in, when
/// that is a place of its own (the greeting, the known list) rather than the heading
/// above it.
fn placed(place: Place, s: &str, out: &mut String) {
    out.push(DATA_START);
    if place != Place::Reply {
        out.push(PLACE);
        out.push_str(place.code());
        out.push(PLACE);
    }
    out.extend(s.chars().filter(|&c| !is_mark(c)));
    out.push(DATA_END);
}

/// The escaper every template uses: marks data instead of escaping it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Marked;

impl askama::filters::Escaper for Marked {
    fn write_escaped_str<W: Write>(&self, mut dest: W, string: &str) -> fmt::Result {
        dest.write_char(DATA_START)?;
        for c in string.chars().filter(|&c| !is_mark(c)) {
            dest.write_char(c)?;
        }
        dest.write_char(DATA_END)
    }
}

/// Escapes a data span for Zendesk's markdown: punctuation that could start emphasis,
/// code, a link, a heading, HTML or a Liquid placeholder is backslash-escaped, and so
/// is what could turn into an automatic link (`www.`, `://`). A span that begins a
/// line (the greeting, the sign-off) cannot begin a block either: its leading spaces
/// are dropped, and a leading `-` or `=` (a rule, a list item, a heading's underline)
/// and the `.` of a leading number before a space (`1. `, an ordered list) are escaped.
pub(crate) fn escape_markdown(s: &str, out: &mut String) {
    let lower = s.to_ascii_lowercase();
    let linkish = lower.contains("www") || lower.contains("://");
    let starts_line = out.is_empty() || out.ends_with('\n');
    let s = if starts_line { s.trim_start() } else { s };
    // Where the character that would open a block is, at the start of a line.
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let block = match s[digits..].chars().next() {
        _ if !starts_line => None,
        // `1.` opens a list only before a space or the line's end (`203.0.113.0` does not).
        Some('.')
            if digits > 0
                && s[digits + 1..]
                    .chars()
                    .next()
                    .is_none_or(char::is_whitespace) =>
        {
            Some(digits)
        }
        Some('-' | '=') if digits == 0 => Some(0),
        _ => None,
    };
    for (i, c) in s.char_indices() {
        if Some(i) == block {
            out.push('\\');
            out.push(c);
            continue;
        }
        if c.is_control() {
            out.push(' ');
            continue;
        }
        let special = matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '{'
                | '}'
                | '['
                | ']'
                | '('
                | ')'
                | '#'
                | '+'
                | '!'
                | '<'
                | '>'
                | '|'
                | '~'
                | '%'
                | '&'
        );
        if special || (linkish && matches!(c, '.' | ':' | '/')) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Plain text needs no escaping, only control characters removed.
pub(crate) fn escape_text(s: &str, out: &mut String) {
    out.extend(s.chars().map(|c| if c.is_control() { ' ' } else { c }));
}

/// Removes the data marks without checking.
#[cfg(test)]
fn unmark(s: &str) -> String {
    s.chars().filter(|&c| !is_mark(c)).collect()
}

/// The internal note's text: the data marks removed, and in the text from data every
/// control character (a line break above all) and bidirectional control shown as an
/// escape (`\n`, `\u{202e}`), so that no value can start a line of its own or reorder
/// the note as displayed (RULES.md §11).
fn note_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_data = false;
    for c in s.chars() {
        match c {
            DATA_START => in_data = true,
            DATA_END => in_data = false,
            c if is_mark(c) => {}
            c if in_data && needs_escape(c) => push_escaped(c, &mut out),
            c => out.push(c),
        }
    }
    out
}

/// Characters that a value must not carry into the note as they are.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

fn push_escaped(c: char, out: &mut String) {
    use fmt::Write as _;
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

/// `s` as a markdown code span: backslashes doubled and every control character
/// escaped (so `\n` in the span is a line break in the name, `\\n` a backslash and an
/// n), fenced with more backticks than any run inside it.
fn code_span(s: &str) -> String {
    let mut body = String::with_capacity(s.len() + 2);
    for c in s.chars().filter(|&c| !is_mark(c)) {
        match c {
            '\\' => body.push_str("\\\\"),
            c if needs_escape(c) => push_escaped(c, &mut body),
            c => body.push(c),
        }
    }
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    // A span that begins or ends with a backtick needs a space inside its fence.
    let pad = if body.starts_with('`') || body.ends_with('`') || body.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// How much a reply says beyond its answer: `--min-count` and `--details`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Detail {
    /// Counts below it print as "fewer than K".
    pub min_count: Option<u64>,
    /// The breakdowns (per kind, path, status, country, action) follow the answer.
    pub details: bool,
}

/// What the stories need, derived from the guarded aggregates. Text fields are
/// already marked: the program's own words as such, the requester's paths, ranges and
/// domains as data.
struct View<'a> {
    a: &'a Aggregates,
    /// `--min-count`: counts below it print as "fewer than K".
    min: Option<u64>,
    /// `--details`: the breakdowns after the answer.
    details: bool,
    ip_block: IpBlock,
    ip_block_busiest: Safe<String>,
    clients: Safe<String>,
    /// The busiest minute, "20:06 UTC on 2026-03-14".
    busiest: Safe<String>,
    audit: AuditTally,
    scope: Safe<String>,
    excluded_total: u64,
    /// When the requests taken out by the address rule were made.
    ip_period: Safe<String>,
    /// The requester's own ranges and domains that took something out.
    ranges: Safe<String>,
    domains: Safe<String>,
    /// What the known list did, rule by rule (RULES.md §9): the named accounts that
    /// took something out, whether the team-wide list did, and the requester's
    /// entries that took out nothing.
    asked_users: usize,
    team_took: bool,
    none_users: usize,
    none_ranges: Safe<String>,
    none_domains: Safe<String>,
}

impl<'a> View<'a> {
    fn new(a: &'a Aggregates, detail: Detail) -> Self {
        let audit = a.audit.clone().unwrap_or_default();
        let ip_block = a.ip_block.clone().unwrap_or_default();
        View {
            a,
            min: detail.min_count,
            details: detail.details,
            ip_block_busiest: own(busiest_text(ip_block.busiest_minute.as_ref())),
            ip_block,
            clients: join_and(&a.filters.client_ranges, Place::ClientRanges),
            busiest: own(busiest_text(a.tally.busiest_minute.as_ref())),
            audit,
            scope: join_and(&a.scope, Place::Reply),
            excluded_total: a.tally.excluded.total_accesses(),
            ip_period: own(period(
                a.tally.excluded.ip.first_seen,
                a.tally.excluded.ip.last_seen,
            )),
            ranges: join_and(
                &known(&a.filters, &a.filters.exclude_ip_ranges, Took::Something),
                Place::Ranges,
            ),
            domains: join_and(
                &known(&a.filters, &a.filters.exclude_domains, Took::Something),
                Place::Domains,
            ),
            asked_users: a.filters.exclude_users - a.filters.matched_nothing.users,
            team_took: [&a.filters.team_wide.ip_ranges, &a.filters.team_wide.domains]
                .into_iter()
                .flatten()
                .any(|e| {
                    !a.filters.matched_nothing.ip_ranges.contains(e)
                        && !a.filters.matched_nothing.domains.contains(e)
                }),
            none_users: a.filters.matched_nothing.users,
            none_ranges: join_and(
                &known(&a.filters, &a.filters.exclude_ip_ranges, Took::Nothing),
                Place::Ranges,
            ),
            none_domains: join_and(
                &known(&a.filters, &a.filters.exclude_domains, Took::Nothing),
                Place::Domains,
            ),
        }
    }

    /// Whether the requester's own rules of the known list took anything out.
    fn asked_any(&self) -> bool {
        self.asked_users > 0 || !self.domains.0.is_empty() || !self.ranges.0.is_empty()
    }

    /// "request", or "event" in the audit story.
    fn record(&self) -> Safe<&'static str> {
        Safe(if self.a.audit.is_some() {
            "event"
        } else {
            "request"
        })
    }

    /// "requests", or "events" in the audit story.
    fn records(&self) -> Safe<&'static str> {
        Safe(if self.a.audit.is_some() {
            "events"
        } else {
            "requests"
        })
    }

    /// The team's greeting, when there is one: data, checked like any, and named as
    /// the greeting when it stops a reply.
    fn greeting(&self) -> Option<Safe<String>> {
        self.a
            .greeting
            .as_deref()
            .map(|g| lines_of(Place::Greeting, g))
    }

    fn sign_off(&self) -> Option<Safe<String>> {
        self.a
            .sign_off
            .as_deref()
            .map(|s| lines_of(Place::SignOff, s))
    }

    /// What the scope is, in the customer's words: "group and its projects",
    /// "projects", "groups and projects".
    fn scope_noun(&self) -> Safe<&'static str> {
        let (all, projects) = (self.a.scope.len(), self.a.scope_projects);
        Safe(match (projects, all) {
            (0, 1) => "group and its projects",
            (0, _) => "groups and their projects",
            (p, 1) if p == all => "project",
            (p, _) if p == all => "projects",
            _ => "groups and projects",
        })
    }

    /// What the per-path list lists: projects, or the groups and projects requests
    /// went to.
    fn path_noun(&self) -> Safe<&'static str> {
        Safe(if self.a.scope_projects == self.a.scope.len() {
            "project"
        } else {
            "group or project"
        })
    }

    /// A label the program holds as a constant (an audit action from the vocabulary).
    fn label(&self, label: &'static str) -> Safe<String> {
        own(label)
    }

    /// Whether the reply lists audit events counted as "other changes".
    fn has_other_changes(&self) -> bool {
        self.actions()
            .0
            .iter()
            .any(|x| x.action == crate::vocabulary::OTHER)
    }

    /// A response status or status class, as the counting wrote it.
    fn status(&self, s: &StatusCount) -> Safe<String> {
        own(&s.status)
    }

    /// A country as the GeoIP database names it: "Bhutan (BT)", or the code alone.
    fn country(&self, c: &CountryCounts) -> Safe<String> {
        match &c.name {
            // The parentheses are the program's words, not escaped.
            Some(name) => Safe(format!("{} ({})", own(name).0, own(&c.country).0)),
            None => own(&c.country),
        }
    }

    /// Whether a count reads as singular: exactly one, and shown as such.
    fn one(&self, n: impl std::borrow::Borrow<u64>) -> bool {
        *n.borrow() == 1 && self.min.is_none_or(|k| k <= 1)
    }

    /// Refusals (401 without Git challenges, 403, 429) on the requester's own paths.
    fn owned_refusals(&self) -> u64 {
        self.ip_block
            .paths
            .iter()
            .map(|p| p.refusals.refused())
            .sum()
    }

    /// A count as the `count` filter prints it.
    fn count_text(&self, n: u64) -> String {
        count_text(n, self.min)
    }

    /// The kinds of access that occurred, with their counts, in a fixed order.
    fn kinds(&self) -> Vec<(u64, Kind)> {
        let k = &self.a.tally.kinds;
        [
            (k.web, Kind::Web),
            (k.api, Kind::Api),
            (k.git_pull, Kind::GitPull),
            (k.git_push, Kind::GitPush),
            (k.download, Kind::Download),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .collect()
    }

    fn action_period(&self, x: &ActionCounts) -> Safe<String> {
        own(period(x.first_seen, x.last_seen))
    }

    /// The period the reply went through: the window, within what the logs cover;
    /// without a window, what the logs cover ("from … to …").
    fn window(&self) -> Option<Safe<String>> {
        let f = &self.a.filters;
        let cover = &self.a.logs_cover;
        let from = later(f.since, cover.first);
        let to = earlier(f.until, cover.last);
        match (from, to) {
            (Some(s), Some(u)) if s > u => None,
            (Some(s), Some(u)) => Some(format!("from {} to {}", minute(s), minute(u))),
            (Some(s), None) => Some(format!("since {}", minute(s))),
            (None, Some(u)) => Some(format!("until {}", minute(u))),
            (None, None) => None,
        }
        .map(own)
    }

    /// The gaps in the logs, in one sentence: the first three with their times, then
    /// how many more (RULES.md §9).
    fn gaps(&self) -> Option<Safe<String>> {
        const SHOWN: usize = 3;
        let gaps = &self.a.gaps;
        if gaps.is_empty() {
            return None;
        }
        let stretches: Vec<String> = gaps
            .iter()
            .take(SHOWN)
            .map(|g| format!("from {} to {}", minute(g.from), minute(g.to)))
            .collect();
        let mut said = match stretches.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) if gaps.len() <= SHOWN => format!("{} and {last}", rest.join(", ")),
            _ => stretches.join(", "),
        };
        if gaps.len() > SHOWN {
            let more = gaps.len() - SHOWN;
            said.push_str(&format!(
                " and in {more} more stretch{}",
                if more == 1 { "" } else { "es" }
            ));
        }
        let those = if gaps.len() == 1 {
            "that time"
        } else {
            "those times"
        };
        Some(own(format!(
            "The logs hold no lines {said}, so requests made in {those} are not counted."
        )))
    }

    /// A sentence for a window that reaches beyond the logs (RULES.md §9: said out loud).
    fn beyond(&self) -> Option<Safe<String>> {
        let f = &self.a.filters;
        let (Some(first), Some(last)) = (self.a.logs_cover.first, self.a.logs_cover.last) else {
            return None;
        };
        let asked = match (f.since, f.until) {
            (Some(s), Some(u)) => format!("from {} to {}", minute(s), minute(u)),
            (Some(s), None) => format!("since {}", minute(s)),
            (None, Some(u)) => format!("until {}", minute(u)),
            (None, None) => return None,
        };
        let outside = f.since.is_some_and(|s| s > last) || f.until.is_some_and(|u| u < first);
        let what = if self.a.audit.is_some() {
            "audit events"
        } else {
            "logs"
        };
        let text = if outside {
            format!(
                "The {what} available to us cover {} to {}, which lies outside the period {asked}.",
                minute(first),
                minute(last)
            )
        } else if self.a.window_beyond_logs().is_some() {
            format!("That is all the {what} available to us hold of the period {asked}.")
        } else {
            return None;
        };
        Some(own(text))
    }

    /// Requests by signed-in users: the counted ones that neither a log recording
    /// users shows without one nor come from a log that records no user.
    fn signed_in_accesses(&self) -> u64 {
        let c = &self.a.tally.counts;
        c.accesses
            .saturating_sub(c.anonymous_accesses)
            .saturating_sub(c.unidentified_accesses)
    }

    /// A count and its noun: "1 request", "69 requests", "fewer than 5 requests".
    fn counted(&self, n: u64, singular: &str, plural: &str) -> String {
        format!(
            "{} {}",
            self.count_text(n),
            if self.one(n) { singular } else { plural }
        )
    }

    /// Who made the counted requests, in one sentence (RULES.md §9): requests by
    /// signed-in users, by visitors a log recording users shows as not signed in, and
    /// by visitors whose logs record no user, who are never said to be "not signed in".
    fn who_made(&self) -> Safe<String> {
        let c = &self.a.tally.counts;
        let signed = self.signed_in_accesses();
        let users = self.counted(c.users, "signed-in user", "signed-in users");
        let mut parts: Vec<(u64, String)> = Vec::new();
        if signed > 0 {
            parts.push((signed, format!("by {users}")));
        }
        if c.anonymous_accesses > 0 {
            parts.push((
                c.anonymous_accesses,
                "by visitors who were not signed in".to_owned(),
            ));
        }
        if c.unidentified_accesses > 0 {
            parts.push((
                c.unidentified_accesses,
                "by visitors the logs do not identify, so we cannot tell whether they were signed in".to_owned(),
            ));
        }
        let text = match parts.as_slice() {
            [] => String::new(),
            [(_, by)] if signed > 0 => format!("All of them were made {by}."),
            [(_, by)] if c.anonymous_accesses > 0 => format!("All of them were made {by}."),
            [_] => "The logs do not record who made them, so we cannot tell whether those visitors were signed in.".to_owned(),
            [(n, by), rest @ ..] => {
                let verb = if self.one(*n) { "was" } else { "were" };
                let mut text = format!("Of these, {} {verb} made {by}", self.count_text(*n));
                for (i, (n, by)) in rest.iter().enumerate() {
                    text.push_str(if i + 1 == rest.len() { " and " } else { ", " });
                    text.push_str(&format!("{} {by}", self.count_text(*n)));
                }
                text.push('.');
                text
            }
        };
        own(text)
    }

    /// When the counted requests were made: "between 20:06 and 20:10 UTC on 2019-08-15".
    fn requests_period(&self) -> Safe<String> {
        let c = &self.a.tally.counts;
        own(period(c.first_seen, c.last_seen))
    }

    /// What one rule of the known list took out, as the sentence about the list says
    /// it: with its count when the count is that rule's alone (not shared with the
    /// team-wide list), else the bare noun.
    fn took(&self, rule: Rule) -> Safe<String> {
        let ex = &self.a.tally.excluded;
        let n = match rule {
            Rule::User => ex.user.accesses,
            Rule::Domain => ex.domain.accesses,
            Rule::Ip => ex.ip.accesses,
        };
        if self.team_took || n == 0 {
            return Safe(self.records().0.to_owned());
        }
        own(self.counted(n, self.record().0, self.records().0))
    }

    /// The IP-block story's refused requests on the requester's own paths, most first.
    fn refused_paths(&self) -> Vec<&PathRefusals> {
        self.ip_block
            .paths
            .iter()
            .filter(|p| p.refusals.refused() > 0)
            .collect()
    }

    /// When the refused requests came: "The first was refused at …, the last at …".
    fn refused_when(&self) -> Safe<String> {
        let b = &self.ip_block;
        own(match (b.refused_first, b.refused_last) {
            (Some(f), Some(l)) if f == l => format!("It came at {}.", at(f)),
            (Some(f), Some(l)) => format!("The first came at {}, the last at {}.", at(f), at(l)),
            _ => String::new(),
        })
    }

    /// The IP-block story's finding, first, in the handbook's manner: where most of the
    /// refused requests went (one owned path, or paths outside the scope), or that they
    /// were spread with no place taking most of them.
    fn finding(&self) -> Option<Safe<String>> {
        let elsewhere = self.ip_block.elsewhere.refused();
        let total = self.owned_refusals() + elsewhere;
        if total == 0 {
            return None;
        }
        let mut shares: Vec<(u64, Option<&str>)> = self
            .ip_block
            .paths
            .iter()
            .map(|p| (p.refusals.refused(), Some(p.path.as_str())))
            .chain(std::iter::once((elsewhere, None)))
            .filter(|(k, _)| *k > 0)
            .collect();
        shares.sort_by_key(|share| std::cmp::Reverse(share.0));
        let mut out = String::new();
        let number = |n: u64, out: &mut String| out.push_str(&own(self.count_text(n)).0);
        let cause = ", which is what likely caused the temporary block, ";
        match shares.as_slice() {
            [(k, place), ..] if 2 * k > total => {
                if *k == total {
                    out.push_str(if self.one(total) {
                        "The one request from your addresses that was refused (401, 403 or 429)"
                    } else {
                        "All the requests from your addresses that were refused (401, 403 or 429)"
                    });
                } else {
                    out.push_str("Most of the requests from your addresses that were refused (");
                    number(*k, &mut out);
                    out.push_str(" of ");
                    number(total, &mut out);
                    out.push_str(", with 401, 403 or 429)");
                }
                out.push_str(cause);
                match place {
                    Some(path) => {
                        out.push_str("involved ");
                        data(path, &mut out);
                        out.push('.');
                    }
                    None => out.push_str(
                        &own(
                            "went to paths outside your groups and projects, which we cannot name.",
                        )
                        .0,
                    ),
                }
            }
            _ => {
                out.push_str("The ");
                number(total, &mut out);
                out.push_str(" requests from your addresses that were refused (401, 403 or 429)");
                out.push_str(cause);
                out.push_str("were spread out: no single path received most of them.");
            }
        }
        Some(Safe(out))
    }

    /// Requests refused as rate limited (429) among the counted ones.
    fn rate_limited(&self) -> u64 {
        self.a
            .tally
            .statuses
            .iter()
            .filter(|s| s.status == "429")
            .map(|s| s.accesses)
            .sum()
    }

    /// Where most of the load went, when there is more than one place: "Most of them
    /// went to acme/api (127 requests)." or "The most went to …".
    fn busiest_path(&self) -> Option<Safe<String>> {
        let paths = &self.a.tally.paths;
        let top = paths.iter().max_by_key(|p| p.accesses)?;
        if paths.len() < 2 {
            return None;
        }
        let mut out = String::new();
        out.push_str(if 2 * top.accesses > self.a.tally.counts.accesses {
            "Most of the requests went to "
        } else {
            "The largest share went to "
        });
        data(&top.path, &mut out);
        out.push_str(" (");
        out.push_str(&own(self.counted(top.accesses, "request", "requests")).0);
        out.push_str(").");
        Some(Safe(out))
    }

    /// Countries by requests, most first; in the short reply the first five and the
    /// rest summed.
    fn countries(&self) -> (Vec<&CountryCounts>, Option<Rest>) {
        self.countries_listed(self.details)
    }

    fn countries_listed(&self, details: bool) -> (Vec<&CountryCounts>, Option<Rest>) {
        let mut all: Vec<&CountryCounts> = self.a.tally.countries.iter().flatten().collect();
        all.sort_by(|a, b| {
            b.accesses
                .cmp(&a.accesses)
                .then(b.unique_ips.cmp(&a.unique_ips))
                .then((a.country == "unknown").cmp(&(b.country == "unknown")))
        });
        if details || all.len() <= SHORT_LIST {
            return (all, None);
        }
        let rest = all.split_off(SHORT_LIST - 1);
        let sum = |f: fn(&CountryCounts) -> u64| rest.iter().map(|c| f(c)).sum::<u64>();
        let rest_sum = Rest {
            records: sum(|c| c.accesses),
            unique_ips: sum(|c| c.unique_ips),
            kinds: rest.len(),
        };
        (all, Some(rest_sum))
    }

    /// "in Bhutan (BT)", "in the United Kingdom (GB)".
    fn in_country(&self, c: &CountryCounts) -> Safe<String> {
        let the = c.name.as_deref().is_some_and(takes_the);
        Safe(format!(
            "{}{}",
            own(if the { "in the " } else { "in " }).0,
            self.country(c).0
        ))
    }

    /// The audit actions as the reply lists them: those that change access,
    /// visibility, members, tokens or keys first, then the rest, each by events; in
    /// the short reply the first few and the rest summed (events, kinds).
    fn actions(&self) -> (Vec<&ActionCounts>, Option<Rest>) {
        self.actions_listed(self.details)
    }

    fn actions_listed(&self, details: bool) -> (Vec<&ActionCounts>, Option<Rest>) {
        let mut all: Vec<&ActionCounts> = self.audit.actions.iter().collect();
        all.sort_by(|a, b| {
            crate::vocabulary::changes_access(b.action)
                .cmp(&crate::vocabulary::changes_access(a.action))
                .then(
                    (a.action == crate::vocabulary::OTHER)
                        .cmp(&(b.action == crate::vocabulary::OTHER)),
                )
                .then(b.events.cmp(&a.events))
                .then(a.action.cmp(b.action))
        });
        if details || all.len() <= SHORT_LIST {
            return (all, None);
        }
        let rest = all.split_off(SHORT_LIST - 1);
        let rest_sum = Rest {
            records: rest.iter().map(|x| x.events).sum(),
            unique_ips: 0,
            kinds: rest.len(),
        };
        (all, Some(rest_sum))
    }
}

/// One number the reply states, for the note: the reply's words, the number, and how
/// it was derived.
pub(crate) struct Figure {
    pub words: String,
    pub value: String,
    pub how: &'static str,
}

/// The figures of a note, in the order it lists them.
#[derive(Default)]
struct Figures(Vec<Figure>);

impl Figures {
    fn add(&mut self, words: &str, value: String, how: &'static str) {
        self.0.push(Figure {
            words: words.to_owned(),
            value,
            how,
        });
    }
}

impl View<'_> {
    /// Every number the story's reply can state (with `--details` too), under the
    /// reply's words, so that a colleague can check each against the counts below it.
    fn figures(&self) -> Vec<Figure> {
        let mut out = Figures::default();
        let story = self.a.template;
        if story == "access" || story == "high-load" {
            self.request_figures(&mut out);
            self.left_out_request_figures(&mut out);
        }
        if story == "high-load" {
            self.high_load_figures(&mut out);
        }
        if story == "ip-block" {
            self.ip_block_figures(&mut out);
        }
        if story == "audit" {
            self.audit_figures(&mut out);
        }
        if story != "audit" {
            out.add(
                "requests that appeared in more than one of the log files",
                self.a.reconciliation.overlap.to_string(),
                "request lines another input held too, each counted once",
            );
        }
        out.add(
            "lines that may concern the scope but could not be read",
            self.a.unreadable_in_scope.to_string(),
            "malformed lines the scope's prefilter matches",
        );
        out.0
    }

    /// The requests counted, by whom and of which kind, and per path (access and high-load).
    fn request_figures(&self, out: &mut Figures) {
        let a = self.a;
        let c = &a.tally.counts;
        out.add(
            "requests",
            c.accesses.to_string(),
            "in scope, in the window, not left out",
        );
        out.add(
            "unique IP addresses",
            c.unique_ips.to_string(),
            "distinct client addresses of those requests",
        );
        out.add(
            "made by signed-in users",
            self.signed_in_accesses().to_string(),
            "requests − not signed in − not identified",
        );
        out.add(
            "signed-in users",
            c.users.to_string(),
            "distinct user ids, else usernames",
        );
        out.add(
            "by visitors who were not signed in",
            c.anonymous_accesses.to_string(),
            "requests a log that records users shows without one",
        );
        out.add(
            "by visitors the logs do not identify",
            c.unidentified_accesses.to_string(),
            "requests from logs that record no user (Workhorse, NGINX)",
        );
        for (n, kind) in self.kinds() {
            out.add(
                kind_words(kind),
                n.to_string(),
                "counted requests of that kind",
            );
        }
        for p in &a.tally.paths {
            out.add(
                &p.path,
                format!(
                    "{}, {}, {}",
                    exact(p.accesses, "request", "requests"),
                    exact(p.users, "signed-in user", "signed-in users"),
                    exact(p.unique_ips, "unique IP address", "unique IP addresses")
                ),
                "counted requests per group or project; a user or address may count under several",
            );
        }
    }

    /// What the known list left out of the requests (access and high-load).
    fn left_out_request_figures(&self, out: &mut Figures) {
        let ex = &self.a.tally.excluded;
        let rule = |r: &crate::aggregate::Counts| {
            format!(
                "{} by {} from {}",
                exact(r.accesses, "request", "requests"),
                exact(r.users, "signed-in user", "signed-in users"),
                exact(r.unique_ips, "unique IP address", "unique IP addresses")
            )
        };
        out.add(
            "left out: by the accounts named",
            rule(&ex.user),
            "known list, user rule (first of user, domain, IP)",
        );
        out.add(
            "left out: by users with an email address at the domains",
            rule(&ex.domain),
            "known list, domain rule",
        );
        out.add(
            "left out: from the addresses",
            rule(&ex.ip),
            "known list, IP rule",
        );
        out.add(
            "more requests the list accounts for",
            self.excluded_total.to_string(),
            "user + domain + IP",
        );
    }

    /// Rate limits, user agents, countries and the busiest minute (high-load).
    fn high_load_figures(&self, out: &mut Figures) {
        let a = self.a;
        out.add(
            "refused as rate limited (429)",
            self.rate_limited().to_string(),
            "counted requests answered 429",
        );
        out.add(
            "different user agents",
            a.tally.distinct_user_agents.to_string(),
            "distinct user agent strings",
        );
        for x in self.countries_listed(true).0 {
            out.add(
                x.name.as_deref().unwrap_or(&x.country),
                format!(
                    "{} from {}",
                    exact(x.accesses, "request", "requests"),
                    exact(x.unique_ips, "IP address", "IP addresses")
                ),
                "per country of the GeoIP database, most requests first",
            );
        }
        if let Some(r) = self.countries_listed(false).1 {
            out.add(
                "other places",
                format!(
                    "{} requests from {} IP addresses in {} places",
                    r.records, r.unique_ips, r.kinds
                ),
                "the countries after the first five, summed",
            );
        }
        if let Some(b) = &a.tally.busiest_minute {
            out.add(
                "the busiest minute",
                format!(
                    "{} at {}",
                    exact(b.accesses, "request", "requests"),
                    busiest_text(Some(b))
                ),
                "counted requests per UTC minute",
            );
        }
    }

    /// The requester's own addresses: refusals per path, statuses, the busiest minute.
    fn ip_block_figures(&self, out: &mut Figures) {
        let b = &self.ip_block;
        out.add(
            "requests from your addresses",
            b.accesses.to_string(),
            "every request from the --client-ip ranges, in the window; the known list does not apply",
        );
        out.add(
            "refused (401, 403 or 429)",
            (self.owned_refusals() + b.elsewhere.refused()).to_string(),
            "401 that are not Git challenges, 403, 429",
        );
        let refusals = |r: &crate::aggregate::Refusals| {
            format!(
                "{} × 401, {} × 403, {} × 429 of {} requests",
                r.unauthorized_401, r.forbidden_403, r.rate_limited_429, r.accesses
            )
        };
        for p in self.refused_paths() {
            out.add(
                &p.path,
                refusals(&p.refusals),
                "refusals per path of the requester's",
            );
        }
        out.add(
            "paths outside your groups and projects",
            refusals(&b.elsewhere),
            "everything outside the scope, summed without names",
        );
        out.add(
            "further 401 responses (Git asking for credentials)",
            b.git_challenges.to_string(),
            "401 on info/refs, not counted as refused",
        );
        for s in &b.statuses {
            out.add(
                &format!("status {}", s.status),
                s.accesses.to_string(),
                "requests from the ranges per status, Git challenges included",
            );
        }
        if let Some(m) = &b.busiest_minute {
            out.add(
                "the busiest minute",
                format!(
                    "{} at {}",
                    exact(m.accesses, "request", "requests"),
                    busiest_text(Some(m))
                ),
                "requests from the ranges per UTC minute, any status",
            );
        }
    }

    /// Audit events, their authors and actions, and what the known list left out.
    fn audit_figures(&self, out: &mut Figures) {
        let a = self.a;
        let ex = &a.tally.excluded;
        let t = &self.audit;
        out.add(
            "events",
            t.events.to_string(),
            "audit events about the scope, in the window, not left out",
        );
        out.add(
            "authors",
            t.authors.to_string(),
            "distinct authors of those events",
        );
        for x in self.actions_listed(true).0 {
            out.add(
                x.action,
                format!(
                    "{} by {}",
                    exact(x.events, "event", "events"),
                    exact(x.authors, "author", "authors")
                ),
                "per action of the closed vocabulary",
            );
        }
        if let Some(r) = self.actions_listed(false).1 {
            out.add(
                "more events of other kinds",
                format!("{} events of {} kinds", r.records, r.kinds),
                "the actions after the first five, summed",
            );
        }
        for (words, r) in [
            ("left out: by the accounts named", &ex.user),
            (
                "left out: by users with an email address at the domains",
                &ex.domain,
            ),
            ("left out: from the addresses", &ex.ip),
        ] {
            out.add(
                words,
                format!(
                    "{} by {}",
                    exact(r.accesses, "event", "events"),
                    exact(r.users, "author", "authors")
                ),
                "known list, first of user, domain, IP",
            );
        }
        out.add(
            "more events the known list accounts for",
            a.reconciliation.excluded.to_string(),
            "events left out by the known list",
        );
    }
}

/// An exact count and its noun, for the note: "1 request", "69 requests".
fn exact(n: u64, one: &str, more: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { more })
}

/// A kind of access as the replies name it.
fn kind_words(kind: Kind) -> &'static str {
    match kind {
        Kind::Web => "web page views",
        Kind::Api => "API calls",
        Kind::GitPull => "Git fetches (clone or pull)",
        Kind::GitPush => "Git pushes",
        Kind::Download => "downloads (archives, raw files, LFS objects)",
    }
}

/// What a short list sums in its last item: requests or events, addresses, and how
/// many countries or kinds of action.
struct Rest {
    records: u64,
    unique_ips: u64,
    kinds: usize,
}

/// A greeting or sign-off of several lines, each a value of its own that starts a
/// line, kept apart by a markdown line break (two spaces before the line's end), so
/// "Best regards," and the team's name stay on lines of their own.
fn lines_of(place: Place, text: &str) -> Safe<String> {
    let mut out = String::new();
    let lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    for (i, line) in lines.enumerate() {
        if i > 0 {
            out.push_str("  \n");
        }
        placed(place, line, &mut out);
    }
    Safe(out)
}

/// The most items a list of the short reply holds; past it, the rest is one item.
const SHORT_LIST: usize = 6;

/// Country names that read with "the" ("the United Kingdom", "the Philippines").
fn takes_the(name: &str) -> bool {
    const PLURAL: &[&str] = &[
        "Netherlands",
        "Philippines",
        "Bahamas",
        "Gambia",
        "Maldives",
        "Comoros",
        "Seychelles",
    ];
    name.starts_with("United ")
        || name.ends_with(" Islands")
        || name.ends_with(" Republic")
        || name.starts_with("Republic of ")
        || PLURAL.contains(&name)
}

fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.max(b)
}

fn earlier(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

// One template per story, in markdown; the text form is the same reply with the
// template's emphasis taken out (see `guard::Emphasis`).

#[derive(Template)]
#[template(path = "access.md")]
struct Access<'a> {
    v: View<'a>,
}

#[derive(Template)]
#[template(path = "ip_block.md")]
struct IpBlockStory<'a> {
    v: View<'a>,
}

#[derive(Template)]
#[template(path = "high_load.md")]
struct HighLoad<'a> {
    v: View<'a>,
}

#[derive(Template)]
#[template(path = "audit.md")]
struct Audit<'a> {
    v: View<'a>,
}

/// The story's reply with its marks, before the guard.
fn story_text(story: Story, v: View<'_>) -> Result<String> {
    match story {
        Story::Access => Access { v }.render(),
        Story::Audit => Audit { v }.render(),
        Story::HighLoad => HighLoad { v }.render(),
        Story::IpBlock => IpBlockStory { v }.render(),
    }
    .map(|text| with_newline(tidy(&text)))
    .map_err(|e| Error::Internal(format!("template: {e}")))
}

/// A reply never holds two empty lines in a row, whichever parts of a template
/// printed nothing.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut newlines = 0;
    for c in text.chars() {
        newlines = if c == '\n' { newlines + 1 } else { 0 };
        if newlines <= 2 {
            out.push(c);
        }
    }
    out
}

#[derive(Template)]
#[template(path = "internal_note.md")]
struct InternalNote<'a> {
    a: &'a Aggregates,
    p: &'a Provenance<'a>,
    /// The reply's numbers, under the reply's words.
    figures: Vec<Figure>,
    kibana: Option<String>,
    generated: String,
    version: &'static str,
    chart: Option<String>,
}

/// How a reply was produced: what the internal note (and standard error) receive
/// besides the guarded aggregates, and no story's template ever does. The stories see
/// only [`View`], which holds the aggregates and nothing of this.
pub(crate) struct Provenance<'a> {
    pub requester: &'a str,
    /// The command line as run, each argument quoted for a POSIX shell.
    pub command_line: String,
    /// The folder it ran in: relative paths start there.
    pub working_folder: Option<String>,
    /// The memberships that verified the requester.
    pub ownerships: Vec<crate::directory::Ownership>,
    /// The team configuration file read, if any.
    pub config_file: Option<String>,
    /// The directory, the team configuration and the GeoIP database, each with its
    /// SHA-256.
    pub side_files: Vec<SideFile>,
    /// What the team configuration added to the known list.
    pub config_added: Vec<String>,
    /// The engine's totals, when the inputs are the lines an engine kept.
    pub manifest: Option<crate::manifest::Manifest>,
    /// What the engineer should know about how the answer was produced.
    pub warnings: Vec<String>,
    /// `--exclude-user`, named in the note only.
    pub exclude_users: &'a [String],
    pub kibana: Option<&'a crate::config::Kibana>,
    pub ticket: Option<&'a TicketNote>,
    pub chart: Option<&'a std::path::Path>,
}

/// A file other than the logs that shaped a reply: the directory, the team
/// configuration, the GeoIP database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SideFile {
    pub role: &'static str,
    pub name: String,
    pub sha256: String,
}

/// The ticket as the internal note records it.
#[derive(Debug, Clone)]
pub(crate) struct TicketNote {
    pub id: u64,
    /// The ticket's address in Zendesk, when the account is known.
    pub link: Option<String>,
    /// What Zendesk said of the ticket's requester, when it was asked.
    pub checked: Option<crate::zendesk::Checked>,
}

impl TicketNote {
    /// Whether the ticket's requester was found to have the requester's email.
    fn is_checked(&self) -> bool {
        self.checked.is_some()
    }

    /// Whether Zendesk marks that email identity as verified.
    fn verified_in_zendesk(&self) -> bool {
        self.checked.is_some_and(|c| c.verified_in_zendesk)
    }
}

/// A Kibana Discover link for the logs behind a summary: the time range (the window
/// the engineer typed, else the period the logs cover), and the records the story
/// read: requests from the requester's addresses for ip-block, else the top-level
/// namespaces of the scope; in the team's data view when one is configured. Nothing
/// else from the logs goes into it.
pub(crate) fn kibana_link(kibana: &crate::config::Kibana, a: &Aggregates) -> String {
    use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
    const RISON: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'<')
        .add(b'>')
        .add(b'`')
        .add(b'{')
        .add(b'}')
        .add(b'%');
    // A rison string: `!` and `'` are escaped with `!`.
    let rison_text = |s: &str| s.replace('!', "!!").replace('\'', "!'");
    let from = a.filters.since.or(a.logs_cover.first);
    let to = a.filters.until.or(a.logs_cover.last);
    let query = if a.ip_block.is_some() && !a.filters.client_ranges.is_empty() {
        a.filters
            .client_ranges
            .iter()
            .map(|r| format!("json.remote_ip:\"{r}\""))
            .collect::<Vec<_>>()
            .join(" or ")
    } else {
        let mut roots: Vec<&str> = a
            .scope
            .iter()
            .map(|p| p.split('/').next().unwrap_or(p))
            .collect();
        roots.dedup();
        roots
            .iter()
            .map(|r| format!("json.meta.root_namespace:\"{r}\""))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let time = match (from, to) {
        (Some(f), Some(t)) => format!(
            "_g=(time:(from:'{}',to:'{}'))&",
            format_time(f),
            format_time(t)
        ),
        _ => String::new(),
    };
    let index = kibana
        .data_view
        .as_deref()
        .map(|d| format!("index:'{}',", rison_text(d)))
        .unwrap_or_default();
    let rison = format!(
        "{time}_a=({index}query:(language:kuery,query:'{}'))",
        rison_text(&query)
    );
    format!(
        "{}/app/discover#/?{}",
        kibana.url.trim_end_matches('/'),
        utf8_percent_encode(&rison, RISON)
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Took {
    Something,
    Nothing,
}

/// The requester's own entries of the known list (not the team-wide ones) that took
/// something out, or nothing.
fn known(f: &Filters, entries: &[String], took: Took) -> Vec<String> {
    let nothing = |e: &String| {
        f.matched_nothing.ip_ranges.contains(e) || f.matched_nothing.domains.contains(e)
    };
    entries
        .iter()
        .filter(|e| !f.team_wide.ip_ranges.contains(e) && !f.team_wide.domains.contains(e))
        .filter(|e| nothing(e) == (took == Took::Nothing))
        .cloned()
        .collect()
}

/// A busiest minute as the replies say it: "20:06 UTC on 2026-03-14".
fn busiest_text(b: Option<&BusiestMinute>) -> String {
    b.map(|b| b.minute.format("%H:%M UTC on %Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// "a", "a and b", "a, b and c": each item is a value from data, printed in `place`;
/// the commas and the "and" are the program's own words.
fn join_and(items: &[String], place: Place) -> Safe<String> {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == items.len() { " and " } else { ", " });
        }
        placed(place, item, &mut out);
    }
    Safe(out)
}

/// A moment as the replies say it: "20:06 UTC on 2026-03-14".
fn at(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC on %Y-%m-%d").to_string()
}

fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The time range in the handbook's manner: "between 20:06 and 20:10 UTC on 2019-08-15".
fn period(first: Option<DateTime<Utc>>, last: Option<DateTime<Utc>>) -> String {
    let (Some(first), Some(last)) = (first, last) else {
        return String::new();
    };
    let (fd, ld) = (first.format("%Y-%m-%d"), last.format("%Y-%m-%d"));
    let (ft, lt) = (first.format("%H:%M"), last.format("%H:%M"));
    if fd.to_string() != ld.to_string() {
        format!("between {} and {}", minute(first), minute(last))
    } else if ft.to_string() == lt.to_string() {
        format!("at {ft} UTC on {fd}")
    } else {
        format!("between {ft} and {lt} UTC on {fd}")
    }
}

/// `--min-count` in JSON: every count from 1 to K-1 becomes the string "fewer than K".
/// The description of the inputs (lines per file) is not a count of anyone's requests
/// and stays exact.
fn hide_small_counts(value: &mut serde_json::Value, k: u64) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            if let Some(x) = n.as_u64()
                && x > 0
                && x < k
            {
                *value = Value::String(format!("fewer than {k}"));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| hide_small_counts(v, k)),
        Value::Object(map) => map
            .iter_mut()
            .filter(|(key, _)| key.as_str() != "inputs")
            .for_each(|(_, v)| hide_small_counts(v, k)),
        _ => {}
    }
}

/// askama drops a template's final newline; a reply is a text file and ends with one.
fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Renders the public reply in `format`, checked by `guard`.
pub(crate) fn reply(
    aggregates: &Guarded<Aggregates>,
    story: Story,
    format: OutputFormat,
    detail: Detail,
    guard: &Guard,
) -> Result<Guarded<String>> {
    let a = aggregates.get();
    match format {
        OutputFormat::Json => {
            let value =
                serde_json::to_value(a).map_err(|e| Error::Internal(format!("json: {e}")))?;
            // Counts are hidden after the check: "fewer than K" is the program's text.
            guard.json(value, |v| {
                if let Some(k) = detail.min_count {
                    hide_small_counts(v, k);
                }
            })
        }
        OutputFormat::Markdown => {
            let marked = story_text(story, View::new(a, detail))?;
            guard.finish(&marked, escape_markdown, Emphasis::Keep)
        }
        OutputFormat::Text => {
            let marked = story_text(story, View::new(a, detail))?;
            guard.finish(&marked, escape_text, Emphasis::Strip)
        }
    }
}

/// Renders the internal note for the support team.
pub(crate) fn internal_note(
    aggregates: &Guarded<Aggregates>,
    provenance: &Provenance<'_>,
    generated: DateTime<Utc>,
) -> Result<String> {
    let a = aggregates.get();
    let figures = View::new(
        a,
        Detail {
            min_count: None,
            details: true,
        },
    )
    .figures();
    let note = InternalNote {
        a,
        p: provenance,
        figures,
        generated: format_time(generated),
        version: env!("CARGO_PKG_VERSION"),
        kibana: provenance.kibana.map(|k| kibana_link(k, a)),
        chart: provenance.chart.map(|p| p.display().to_string()),
    };
    note.render()
        .map(|s| note_text(&s))
        .map_err(|e| Error::Internal(format!("template: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escaping_defuses_links_html_and_liquid() {
        let mut out = String::new();
        escape_markdown(
            "[x](http://e.example) <b> {{ a }} {% b %} *c* _d_",
            &mut out,
        );
        assert!(!out.contains("{{") && !out.contains("{%") && !out.contains("<b>"));
        assert!(!out.contains("](") && !out.contains("*c*"));
        let plain = |s: &str| {
            let mut out = String::new();
            escape_markdown(s, &mut out);
            out
        };
        assert_eq!(plain("203.0.113.0/24"), "203.0.113.0/24");
        assert_eq!(plain("acme/my_app"), "acme/my\\_app");
        assert_eq!(plain("www.evil.example/x"), "www\\.evil\\.example\\/x");
        assert_eq!(plain("https://e.example"), "https\\:\\/\\/e\\.example");
    }

    #[test]
    fn the_note_quotes_text_from_outside() {
        assert_eq!(code_span("fixtures/logs/a.log"), "`fixtures/logs/a.log`");
        assert_eq!(
            code_span("evil\n- sha256 0000\n.log"),
            "`evil\\n- sha256 0000\\n.log`"
        );
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x"), "`` `x ``");
        assert_eq!(code_span("back\\slash"), "`back\\\\slash`");
        assert_eq!(code_span("rtl\u{202e}x"), "`rtl\\u{202e}x`");
        let mut marked = String::new();
        data("w\narning\r", &mut marked);
        assert_eq!(note_text(&format!("- {marked}\n")), "- w\\narning\\r\n");
    }

    #[test]
    fn counts_have_thousands_separators() {
        let t = thousands;
        assert_eq!(
            [t(0), t(7), t(999), t(1000), t(2142), t(1_234_567)],
            ["0", "7", "999", "1,000", "2,142", "1,234,567"]
        );
    }

    #[test]
    fn periods_read_like_the_handbook() {
        let t = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        assert_eq!(
            period(t("2019-08-15T20:06:01Z"), t("2019-08-15T20:10:59Z")),
            "between 20:06 and 20:10 UTC on 2019-08-15"
        );
        assert_eq!(
            period(t("2019-08-15T20:06:01Z"), t("2019-08-15T20:06:59Z")),
            "at 20:06 UTC on 2019-08-15"
        );
        assert_eq!(
            period(t("2019-08-15T20:06:01Z"), t("2019-08-16T01:00:00Z")),
            "between 2019-08-15 20:06 UTC and 2019-08-16 01:00 UTC"
        );
    }

    #[test]
    fn lists_mark_each_item_as_data() {
        let s = |v: &[&str]| {
            join_and(
                &v.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                Place::Reply,
            )
            .0
        };
        assert_eq!(s(&[]), "");
        assert_eq!(unmark(&s(&["a"])), "a");
        assert_eq!(unmark(&s(&["a", "b", "c"])), "a, b and c");
        assert_eq!(
            s(&["a", "b"]),
            format!("{DATA_START}a{DATA_END} and {DATA_START}b{DATA_END}")
        );
    }
}
