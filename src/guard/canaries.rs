//! Canaries: every personal value the inputs and the directory hold, kept as hashes of
//! the value folded, and found as whole tokens in a reply's data.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::LazyLock;

use ipnetwork::IpNetwork;

use crate::directory::{Directory, PersonalValue, Verified};
use crate::error::Result;
use crate::ingest::Request;

use super::hits::{ByHash, Findings, Guard, HitKind};

/// The keys of the canaries' hashes: random for each run, so that no one can choose a
/// value whose hash meets a path of a reply, and shared by every collection of the
/// run, so that collections filled on several threads can be merged.
static HASH_KEYS: LazyLock<RandomState> = LazyLock::new(RandomState::new);

/// The 64-bit hash of a folded value. The hash is fed in pieces when a reply is
/// searched; `write` of the standard hasher gives the same hash for a text fed whole
/// or in pieces (`write_str` would not: it marks the end of each piece).
fn hash_folded(folded: &[u8]) -> u64 {
    let mut h = HASH_KEYS.build_hasher();
    h.write(folded);
    h.finish()
}

/// Appends `c` lower-cased (all of Unicode, not only ASCII) to `out`. The Greek final
/// sigma `ς` is the lower case of `Σ` at the end of a word only; it is folded to `σ`
/// so that a name is found however its last letter was written.
fn fold_char(c: char, out: &mut Vec<u8>) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase() as u8);
        return;
    }
    let mut buf = [0u8; 4];
    for l in c.to_lowercase() {
        let l = if l == 'ς' { 'σ' } else { l };
        out.extend_from_slice(l.encode_utf8(&mut buf).as_bytes());
    }
}

/// `text` folded as [`fold_char`] folds each of its characters, into `out`.
fn fold_text(text: &str, out: &mut Vec<u8>) {
    out.clear();
    if text.is_ascii() {
        out.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
    } else {
        text.chars().for_each(|c| fold_char(c, out));
    }
}

/// Collects the values a reply must never contain.
///
/// Only a hash of each value, lower-cased, is kept, never the value: a crawl
/// brings a million usernames and user agents, and a reply is a few kilobytes. The
/// guard hashes each whole-token stretch of a reply's data and looks it up. Two
/// different texts with the same hash can only make a stretch of a reply look like a
/// canary, which refuses the reply (exit 5); a canary in the reply always has its own
/// hash, so a collision never lets one through.
#[derive(Debug, Default)]
pub(crate) struct Canaries {
    values: ByHash,
    /// The length of the longest folded value, in bytes: no stretch of a reply
    /// longer than that can be a canary.
    longest: usize,
    /// The hashes of the requester's own identity, and the identity lower-cased, to
    /// tell it apart from another value with the same hash.
    own: HashSet<u64>,
    own_values: HashSet<String>,
    /// The requester's own emails, lower-cased: the email detector passes over them.
    own_emails: HashSet<String>,
    /// Ranges the requester supplied: addresses in them are theirs.
    own_ranges: Vec<IpNetwork>,
    /// Reused for folding each value.
    scratch: Vec<u8>,
}

impl Canaries {
    pub(crate) fn new(requester: Option<&Verified>, own_ranges: &[IpNetwork]) -> Self {
        let mut own_values = HashSet::new();
        let own_emails: HashSet<String> = requester
            .iter()
            .flat_map(|v| &v.emails)
            .map(|e| e.trim().to_lowercase())
            .collect();
        if let Some(v) = requester {
            own_values.insert(v.username.to_lowercase());
            own_values.extend(v.emails.iter().map(|e| e.to_lowercase()));
            if let Some(name) = &v.name {
                own_values.insert(name.to_lowercase());
            }
        }
        let mut scratch = Vec::new();
        let own = own_values
            .iter()
            .map(|v| {
                fold_text(v.trim(), &mut scratch);
                hash_folded(&scratch)
            })
            .collect();
        Canaries {
            own,
            own_values,
            own_emails,
            own_ranges: own_ranges.to_vec(),
            ..Canaries::default()
        }
    }

    pub(super) fn add(&mut self, value: &str, kind: HitKind) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        fold_text(value, &mut self.scratch);
        let key = hash_folded(&self.scratch);
        // Values repeat line after line: one seen before costs a lookup.
        if self.values.contains(key) {
            return;
        }
        // The requester's own values are not canaries, spelled in any case; the
        // comparison is the one of the values themselves, so no other value with the
        // same hash escapes.
        if self.own.contains(&key) && self.own_values.contains(&value.to_lowercase()) {
            return;
        }
        self.values.insert(key, kind);
        self.longest = self.longest.max(self.scratch.len());
    }

    pub(crate) fn add_directory(&mut self, dir: &Directory) {
        for (_, value) in dir.personal_values() {
            match value {
                PersonalValue::Username(v) => self.add(v, HitKind::Username),
                PersonalValue::Name(v) => self.add(v, HitKind::Name),
                PersonalValue::Email(v) => self.add(v, HitKind::Email),
            }
        }
    }

    /// Addresses need no canary: the detector refuses every address outside the
    /// requester's ranges, in any spelling.
    pub(crate) fn add_request(&mut self, r: &Request<'_>) {
        if let Some(u) = &r.username {
            self.add(u, HitKind::Username);
        }
        if let Some(ua) = &r.user_agent {
            self.add(ua, HitKind::UserAgent);
        }
    }

    pub(crate) fn add_audit_event(&mut self, e: &crate::ingest::audit::AuditEvent) {
        if let Some(name) = &e.author_name {
            self.add(name, HitKind::Name);
        }
        if let Some(email) = &e.author_email {
            self.add(email, HitKind::Email);
        }
        // A user's audit events name that user as their target.
        if e.target_type.as_deref() == Some("User")
            && let Some(target) = &e.target_details
        {
            self.add(target, HitKind::Name);
        }
    }

    /// An empty collection for the same requester, to fill on another thread and
    /// [`merge`](Self::merge) back.
    pub(crate) fn empty_like(&self) -> Canaries {
        Canaries {
            own: self.own.clone(),
            own_values: self.own_values.clone(),
            own_emails: self.own_emails.clone(),
            own_ranges: self.own_ranges.clone(),
            ..Canaries::default()
        }
    }

    /// Takes in what another collection for the same requester gathered.
    pub(crate) fn merge(&mut self, other: Canaries) {
        self.values.merge(other.values);
        self.longest = self.longest.max(other.longest);
    }

    /// Freezes the collection into a guard. `allowed` are data values that belong to
    /// the requester and may appear whole: the paths in scope.
    pub(crate) fn into_guard(self, allowed: impl IntoIterator<Item = String>) -> Result<Guard> {
        Ok(Guard {
            values: self.values,
            longest: self.longest,
            allowed: allowed.into_iter().map(|a| a.to_lowercase()).collect(),
            own_emails: self.own_emails,
            own_ranges: self.own_ranges,
        })
    }
}

/// Whether the characters next to a match continue its token, so that a canary is
/// never cut out of a longer word (`bob` in `bobby`). `.`, `-` and `+` join tokens
/// only between word characters, so a sentence's full stop after a name does not
/// hide it.
pub(super) fn continues(next: Option<char>, beyond: Option<char>) -> bool {
    let word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '@');
    match next {
        None => false,
        Some(c) if word(c) => true,
        Some('.' | '-' | '+') => beyond.is_some_and(word),
        Some(_) => false,
    }
}
impl Guard {
    /// Canaries found as whole tokens in `text`.
    pub(super) fn canaries(&self, text: &str, found: &mut Findings) {
        self.each_canary(text, |kind| found.add(kind, 1));
    }

    /// Calls `hit` with the kind of each canary in `text`: each stretch of `text` that
    /// begins and ends where a token may (see [`continues`]) and is no longer than the
    /// longest canary is folded, hashed and looked up. The work is bounded by the
    /// length of `text` times the longest canary's, whatever the number of canaries.
    pub(super) fn each_canary(&self, text: &str, mut hit: impl FnMut(HitKind)) {
        if self.values.is_empty() {
            return;
        }
        let chars: Vec<char> = text.chars().collect();
        // The folded text, and where each character's folding begins in it.
        let mut folded = Vec::with_capacity(text.len());
        let mut at = Vec::with_capacity(chars.len() + 1);
        for &c in &chars {
            at.push(folded.len());
            fold_char(c, &mut folded);
        }
        at.push(folded.len());
        let char_at = |i: Option<usize>| i.and_then(|i| chars.get(i).copied());
        let ends: Vec<usize> = (1..=chars.len())
            .filter(|&e| !continues(char_at(Some(e)), char_at(Some(e + 1))))
            .collect();
        for start in 0..chars.len() {
            if continues(char_at(start.checked_sub(1)), char_at(start.checked_sub(2))) {
                continue;
            }
            let mut h = HASH_KEYS.build_hasher();
            let mut hashed = at[start];
            let first = ends.partition_point(|&e| e <= start);
            for &end in &ends[first..] {
                if at[end] - at[start] > self.longest {
                    break;
                }
                h.write(&folded[hashed..at[end]]);
                hashed = at[end];
                if let Some(kind) = self.values.get(h.finish()) {
                    hit(kind);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// Folding twice is folding once, for every character: a value folded when it is
    /// collected and again in a reply (lower-cased by someone in between) is the same.
    #[test]
    fn folding_is_idempotent_for_every_character() {
        let (mut once, mut twice) = (Vec::new(), Vec::new());
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            once.clear();
            fold_char(c, &mut once);
            let folded = std::str::from_utf8(&once).unwrap();
            fold_text(folded, &mut twice);
            assert_eq!(once, twice, "{c:?}");
        }
    }

    #[test]
    fn a_value_hashes_the_same_whole_or_in_pieces() {
        let text = "Mozilla/5.0 (X11; Linux x86_64) — ünïcödé";
        let whole = hash_folded(text.as_bytes());
        for cut in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            let mut h = HASH_KEYS.build_hasher();
            h.write(&text.as_bytes()[..cut]);
            h.write(&text.as_bytes()[cut..]);
            assert_eq!(h.finish(), whole, "{cut}");
        }
    }

    #[test]
    fn merged_collections_know_every_value() {
        let mut a = Canaries::new(None, &[]);
        a.add("bob", HitKind::Username);
        let mut b = a.empty_like();
        for i in 0..100 {
            b.add(
                &format!("agent/{i} (a much longer user agent)"),
                HitKind::UserAgent,
            );
        }
        // A value both saw is one canary, of either kind.
        b.add("bob", HitKind::Name);
        a.merge(b);
        let g = a.into_guard(vec![]).unwrap();
        let mut found = Findings::default();
        g.canaries("bob and agent/99 (a much longer user agent)", &mut found);
        assert_eq!(found.kinds.values().sum::<usize>(), 2, "{:?}", found.kinds);
        assert_eq!(found.kinds.get(&HitKind::UserAgent), Some(&1));
    }

    /// The lookup against the plain definition, and against a plain Aho-Corasick
    /// search for the canaries.
    mod whole_tokens {
        use super::*;
        use proptest::prelude::*;

        /// Hits by kind, the slow way: every stretch of `text` between two token
        /// boundaries, folded, compared with every canary folded.
        fn reference(canaries: &[(String, HitKind)], text: &str) -> BTreeMap<HitKind, usize> {
            let folded = |t: &str| {
                let mut out = Vec::new();
                fold_text(t, &mut out);
                out
            };
            // A value folded like one before it keeps the first one's kind.
            let mut kinds: Vec<(Vec<u8>, HitKind)> = Vec::new();
            for (v, k) in canaries {
                let v = folded(v.trim());
                if !v.is_empty() && !kinds.iter().any(|(w, _)| *w == v) {
                    kinds.push((v, *k));
                }
            }
            let bounds: Vec<usize> = (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .collect();
            let mut hits = BTreeMap::new();
            for &s in &bounds {
                let mut before = text[..s].chars().rev();
                if continues(before.next(), before.next()) {
                    continue;
                }
                for &e in bounds.iter().filter(|&&e| e > s) {
                    let mut after = text[e..].chars();
                    if continues(after.next(), after.next()) {
                        continue;
                    }
                    let stretch = folded(&text[s..e]);
                    if let Some((_, k)) = kinds.iter().find(|(v, _)| *v == stretch) {
                        *hits.entry(*k).or_default() += 1;
                    }
                }
            }
            hits
        }

        /// Hits as an Aho-Corasick search finds them: ASCII case ignored, values
        /// lower-cased, overlapping matches that no token continues.
        fn automaton(canaries: &[(String, HitKind)], text: &str) -> usize {
            let values: Vec<String> = canaries
                .iter()
                .map(|(v, _)| v.trim().to_lowercase())
                .filter(|v| !v.is_empty())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let matcher = aho_corasick::AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .build(&values)
                .unwrap();
            matcher
                .find_overlapping_iter(text)
                .filter(|m| {
                    let mut before = text[..m.start()].chars().rev();
                    let mut after = text[m.end()..].chars();
                    !continues(before.next(), before.next())
                        && !continues(after.next(), after.next())
                })
                .count()
        }

        fn kind() -> impl Strategy<Value = HitKind> {
            prop_oneof![
                Just(HitKind::Username),
                Just(HitKind::Email),
                Just(HitKind::Name),
                Just(HitKind::UserAgent),
            ]
        }

        /// Values made of letters (some not ASCII, some with a case that changes
        /// length), digits and the characters that join or split tokens.
        fn value() -> impl Strategy<Value = String> {
            "[a-cA-CäÄσΣςİß0-9][a-cA-CäÄσΣς0-9 ._@+/-]{0,6}"
        }

        /// A piece of text: a canary in some case, a separator, or noise.
        fn piece(n: usize) -> impl Strategy<Value = (u8, usize, String)> {
            (
                0u8..6,
                0..n.max(1),
                "[a-cA-CäÄσΣςİß0-9]{0,3}|[ .+/@_-]{1,2}|[ .]",
            )
        }

        fn text(canaries: &[(String, HitKind)], pieces: &[(u8, usize, String)]) -> String {
            let mut text = String::new();
            for (how, which, other) in pieces {
                let canary = canaries.get(*which).map(|(v, _)| v.as_str());
                match (how, canary) {
                    (0, Some(v)) => text.push_str(v),
                    (1, Some(v)) => text.push_str(&v.to_uppercase()),
                    (2, Some(v)) => text.push_str(&v.to_lowercase()),
                    (3, _) => text.push_str(["-", ".", "+", "/", "@", "_", " ", "é"][*which % 8]),
                    _ => text.push_str(other),
                }
            }
            text
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

            #[test]
            fn the_lookup_finds_what_the_definition_finds(
                canaries in proptest::collection::vec((value(), kind()), 0..6),
                pieces in proptest::collection::vec(piece(6), 0..14),
            ) {
                let text = text(&canaries, &pieces);
                let mut c = Canaries::new(None, &[]);
                for (v, k) in &canaries {
                    c.add(v, *k);
                }
                let g = c.into_guard(vec![]).unwrap();
                let mut found = Findings::default();
                g.canaries(&text, &mut found);
                prop_assert_eq!(&found.kinds, &reference(&canaries, &text), "{:?}", text);
                // Never less strict than a search that ignores the case of ASCII only.
                prop_assert!(found.kinds.values().sum::<usize>() >= automaton(&canaries, &text), "{:?}", text);
            }
        }
    }
}
