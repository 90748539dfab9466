//! The privacy guard (SPEC §8): the last check before anything reaches a ticket.
//!
//! It knows every personal value seen in the inputs and the directory (addresses,
//! usernames, emails, display names, user agents), except the requester's own, and
//! refuses a reply in which one of them appears as a whole token in text that came
//! from data. Templates mark data with [`render::Marked`](crate::render::Marked), so
//! the template's own words ("API requests") are never mistaken for a username `api`.
//!
//! [`Guarded`] can only be built here: a value of that type has passed the check.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use ipnetwork::IpNetwork;

use crate::directory::{Directory, PersonalValue, Verified};
use crate::error::{Error, Result};
use crate::ingest::Request;
use crate::render::{DATA_END, DATA_START};

/// A value that passed the privacy guard. Only this module can make one.
#[derive(Debug)]
pub struct Guarded<T>(T);

impl<T> Guarded<T> {
    pub fn get(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CanaryKind {
    Ip,
    Username,
    Email,
    Name,
    UserAgent,
}

impl CanaryKind {
    fn name(self) -> &'static str {
        match self {
            CanaryKind::Ip => "IP address",
            CanaryKind::Username => "username",
            CanaryKind::Email => "email",
            CanaryKind::Name => "name",
            CanaryKind::UserAgent => "user agent",
        }
    }
}

/// Collects the values a reply must never contain.
#[derive(Debug, Default)]
pub struct Canaries {
    values: HashMap<String, CanaryKind>,
    /// Every value added, as it was spelled.
    seen: HashSet<String>,
    ips: HashSet<IpAddr>,
    /// The requester's own identity, lower-cased: never a canary.
    own: HashSet<String>,
    /// Ranges the requester supplied: addresses in them are theirs.
    own_ranges: Vec<IpNetwork>,
}

impl Canaries {
    pub fn new(requester: Option<&Verified>, own_ranges: &[IpNetwork]) -> Self {
        let mut own = HashSet::new();
        if let Some(v) = requester {
            own.insert(v.username.to_lowercase());
            own.extend(v.emails.iter().map(|e| e.to_lowercase()));
            if let Some(name) = &v.name {
                own.insert(name.to_lowercase());
            }
        }
        Canaries {
            own,
            own_ranges: own_ranges.to_vec(),
            ..Canaries::default()
        }
    }

    fn add(&mut self, value: &str, kind: CanaryKind) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        // Values repeat line after line: a value seen before, in the same spelling, is
        // skipped without lower-casing (allocating) it again. The stored keys are
        // lower-case, so they cannot serve as this check for mixed-case values such as
        // user agents.
        if self.seen.contains(value) {
            return;
        }
        self.seen.insert(value.to_owned());
        let lower = value.to_lowercase();
        if !self.own.contains(&lower) {
            self.values.entry(lower).or_insert(kind);
        }
    }

    pub fn add_directory(&mut self, dir: &Directory) {
        for (_, value) in dir.personal_values() {
            match value {
                PersonalValue::Username(v) => self.add(v, CanaryKind::Username),
                PersonalValue::Name(v) => self.add(v, CanaryKind::Name),
                PersonalValue::Email(v) => self.add(v, CanaryKind::Email),
            }
        }
    }

    pub fn add_request(&mut self, r: &Request<'_>) {
        for ip in r.client_ip.iter().chain(&r.other_ips) {
            self.add_ip(*ip);
        }
        if let Some(u) = &r.username {
            self.add(u, CanaryKind::Username);
        }
        if let Some(ua) = &r.user_agent {
            self.add(ua, CanaryKind::UserAgent);
        }
    }

    pub fn add_audit_event(&mut self, e: &crate::ingest::audit::AuditEvent) {
        if let Some(ip) = e.ip {
            self.add_ip(ip);
        }
        if let Some(name) = &e.author_name {
            self.add(name, CanaryKind::Name);
        }
        if let Some(email) = &e.author_email {
            self.add(email, CanaryKind::Email);
        }
        // A user's audit events name that user as their target.
        if e.target_type.as_deref() == Some("User")
            && let Some(target) = &e.target_details
        {
            self.add(target, CanaryKind::Name);
        }
    }

    fn add_ip(&mut self, ip: IpAddr) {
        if self.ips.insert(ip) && !self.own_ranges.iter().any(|n| n.contains(ip)) {
            self.values.insert(ip.to_string(), CanaryKind::Ip);
        }
    }

    /// An empty collection for the same requester, to fill on another thread and
    /// [`merge`](Self::merge) back.
    pub fn empty_like(&self) -> Canaries {
        Canaries {
            own: self.own.clone(),
            own_ranges: self.own_ranges.clone(),
            ..Canaries::default()
        }
    }

    /// Takes in what another collection for the same requester gathered.
    pub fn merge(&mut self, other: Canaries) {
        for (value, kind) in other.values {
            self.values.entry(value).or_insert(kind);
        }
        self.seen.extend(other.seen);
        self.ips.extend(other.ips);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Freezes the collection into a guard. `allowed` are data strings that may appear
    /// even if they contain a canary: the paths in scope.
    pub fn into_guard(self, allowed: impl IntoIterator<Item = String>) -> Result<Guard> {
        let mut values: Vec<(String, CanaryKind)> = self.values.into_iter().collect();
        values.sort();
        let matcher = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(values.iter().map(|(v, _)| v.as_str()))
            .map_err(|e| Error::Internal(format!("privacy guard: {e}")))?;
        Ok(Guard {
            matcher,
            kinds: values.into_iter().map(|(_, k)| k).collect(),
            allowed: allowed.into_iter().map(|a| a.to_lowercase()).collect(),
        })
    }
}

/// The frozen guard: checks data text, and finishes rendered replies.
pub struct Guard {
    matcher: AhoCorasick,
    kinds: Vec<CanaryKind>,
    allowed: HashSet<String>,
}

/// Whether the characters next to a match continue its token, so that a canary is
/// never cut out of a longer word (`bob` in `bobby`, `192.0.2.1` in `192.0.2.10`).
/// `.`, `-` and `+` join tokens only between word characters, so a sentence's full
/// stop after an address does not hide it.
fn continues(next: Option<char>, beyond: Option<char>) -> bool {
    let word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '@');
    match next {
        None => false,
        Some(c) if word(c) => true,
        Some('.' | '-' | '+') => beyond.is_some_and(word),
        Some(_) => false,
    }
}

impl Guard {
    /// The kinds of canaries found as whole tokens in `text`.
    fn hits(&self, text: &str, found: &mut BTreeMap<CanaryKind, usize>) {
        if self.allowed.contains(&text.to_lowercase()) {
            return;
        }
        for m in self.matcher.find_overlapping_iter(text) {
            let mut before = text[..m.start()].chars().rev();
            let mut after = text[m.end()..].chars();
            let joined_before = continues(before.next(), before.next());
            let joined_after = continues(after.next(), after.next());
            if !joined_before && !joined_after {
                *found.entry(self.kinds[m.pattern().as_usize()]).or_default() += 1;
            }
        }
    }

    fn verdict<T>(&self, found: BTreeMap<CanaryKind, usize>, value: T) -> Result<Guarded<T>> {
        if found.is_empty() {
            return Ok(Guarded(value));
        }
        Err(Error::Privacy {
            hits: found.values().sum(),
            kinds: found
                .keys()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// Checks every string of a serializable value (the JSON reply, the aggregates).
    pub fn vet<T: serde::Serialize>(&self, value: T) -> Result<Guarded<T>> {
        let json = serde_json::to_value(&value)
            .map_err(|e| Error::Internal(format!("privacy guard: {e}")))?;
        let mut found = BTreeMap::new();
        self.walk(&json, &mut found);
        self.verdict(found, value)
    }

    /// Serializes `value` as pretty JSON after checking every string in it: in JSON,
    /// every string is data.
    pub fn json<T: serde::Serialize>(&self, value: &T) -> Result<Guarded<String>> {
        let json = serde_json::to_value(value)
            .map_err(|e| Error::Internal(format!("privacy guard: {e}")))?;
        let mut found = BTreeMap::new();
        self.walk(&json, &mut found);
        let mut text = serde_json::to_string_pretty(&json)
            .map_err(|e| Error::Internal(format!("privacy guard: {e}")))?;
        text.push('\n');
        self.verdict(found, text)
    }

    fn walk(&self, v: &serde_json::Value, found: &mut BTreeMap<CanaryKind, usize>) {
        match v {
            serde_json::Value::String(s) => self.hits(s, found),
            serde_json::Value::Array(a) => a.iter().for_each(|x| self.walk(x, found)),
            serde_json::Value::Object(o) => o.values().for_each(|x| self.walk(x, found)),
            _ => {}
        }
    }

    /// Checks the data spans of a rendered reply, then removes the marks and escapes
    /// each span with `escape`. The template's own text is passed through unchanged.
    pub fn finish(&self, marked: &str, escape: fn(&str, &mut String)) -> Result<Guarded<String>> {
        let mut out = String::with_capacity(marked.len());
        let mut found = BTreeMap::new();
        let mut rest = marked;
        while let Some(start) = rest.find(DATA_START) {
            out.push_str(&rest[..start]);
            let after = &rest[start + DATA_START.len_utf8()..];
            let end = after
                .find(DATA_END)
                .ok_or_else(|| Error::Internal("unbalanced data mark in a template".into()))?;
            let span = &after[..end];
            self.hits(span, &mut found);
            escape(span, &mut out);
            rest = &after[end + DATA_END.len_utf8()..];
        }
        if rest.contains(DATA_END) {
            return Err(Error::Internal("unbalanced data mark in a template".into()));
        }
        out.push_str(rest);
        self.verdict(found, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(values: &[(&str, CanaryKind)], allowed: &[&str]) -> Guard {
        let mut c = Canaries::default();
        for (v, k) in values {
            c.add(v, *k);
        }
        c.into_guard(allowed.iter().map(|s| s.to_string())).unwrap()
    }

    fn marked(data: &str) -> String {
        format!("The template says API and bob. {DATA_START}{data}{DATA_END} done.")
    }

    fn plain(s: &str, out: &mut String) {
        out.push_str(s);
    }

    #[test]
    fn whole_tokens_in_data_only() {
        let g = guard(
            &[
                ("api", CanaryKind::Username),
                ("bob", CanaryKind::Username),
                ("192.0.2.1", CanaryKind::Ip),
                ("Erin Example", CanaryKind::Name),
            ],
            &["acme/api"],
        );
        // The template's own words never count.
        assert!(g.finish(&marked("12"), plain).is_ok());
        // An allowed path that contains a canary as a segment.
        assert!(g.finish(&marked("acme/api"), plain).is_ok());
        // A canary inside a longer token is not a hit.
        assert!(g.finish(&marked("192.0.2.10"), plain).is_ok());
        assert!(g.finish(&marked("bobby"), plain).is_ok());
        // Whole tokens are, in any case.
        assert!(g.finish(&marked("bob.smith"), plain).is_ok());
        for bad in [
            "192.0.2.1",
            "from 192.0.2.1.",
            "BOB",
            "acme/bob",
            "erin example",
            "(bob)",
        ] {
            let err = g.finish(&marked(bad), plain).unwrap_err();
            assert!(matches!(err, Error::Privacy { .. }), "{bad}");
        }
    }

    #[test]
    fn the_requesters_own_values_are_not_canaries() {
        let dir = Directory::from_slice(
            br#"{"namespaces":[{"id":1,"full_path":"acme","plan":"premium"}],
                "users":[{"id":1,"username":"alice","name":"Alice A","email":"alice@acme.example"},
                         {"id":2,"username":"bob","email":"bob@acme.example"}],
                "members":[{"namespace_id":1,"user_id":1,"access_level":50}]}"#,
        )
        .unwrap();
        let v = crate::directory::verify(&dir, "alice@acme.example", &[]).unwrap();
        let mut c = Canaries::new(Some(&v), &[]);
        c.add_directory(&dir);
        let g = c.into_guard(vec![]).unwrap();
        assert!(
            g.vet(vec!["alice", "alice@acme.example", "Alice A"])
                .is_ok()
        );
        assert!(g.vet(vec!["bob@acme.example"]).is_err());
    }

    #[test]
    fn addresses_in_the_requesters_ranges_are_theirs() {
        let mut c = Canaries::new(None, &["203.0.113.0/24".parse().unwrap()]);
        c.add_ip("203.0.113.5".parse().unwrap());
        c.add_ip("198.51.100.5".parse().unwrap());
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn unbalanced_marks_are_an_error() {
        let g = guard(&[], &[]);
        assert!(g.finish(&format!("x {DATA_START} y"), plain).is_err());
        assert!(g.finish(&format!("x {DATA_END} y"), plain).is_err());
    }
}
