//! The prefilter: finds the lines that may concern the scope without parsing any line.
//!
//! Most lines of an export are about other customers. RULES.md §6 lets a line whose raw
//! bytes mention nothing that could place it in scope be counted `out_of_scope`
//! unparsed; every other line is parsed as usual. The prefilter is that test, and it
//! must never skip a line that attribution ([`crate::scope`]) would place in scope,
//! whatever spelling the line uses. It looks, case-insensitively, for:
//!
//! - **a name**: for each scope root and each former path of a project in scope, the
//!   longest segment of the path. Any path attribution accepts for that subtree (a
//!   routed path, `meta.project`, an encoded API path, a Git URL) contains it as a
//!   whole segment, so a hit inside a longer name (`acme-corp`, `acmex`, `acme.io`,
//!   `my-acme`) is passed over and the search goes on in the same line: see
//!   [`ends_a_segment`].
//! - **an API route with an owned id**: `/projects/` or `/groups/` (also with JSON's
//!   `\/`) followed by the id of a project or group in scope, leading zeros allowed,
//!   or by a segment with a percent-encoded character that could spell a name or a
//!   digit (attribution decodes API ids).
//! - **a percent-escape of a name's byte** (`%63` in `/a%63me`): a letter, a digit,
//!   `.`, `_` or `-`, which GitLab's router decodes before it routes.
//! - **an escape that could hide either**: in JSON, `\u` escapes of letters, digits,
//!   `.`, `_`, `-`, `/`, `%` or anything beyond ASCII; in NGINX's quoted fields, a
//!   backslash before anything but `"` or `\`.
//!
//! A hit is only a candidate: the line is then parsed and attributed like any other.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Range;

use aho_corasick::{AhoCorasick, Input, MatchKind, Span, packed};
use ipnetwork::IpNetwork;

use crate::directory::{Directory, Node, Verified};

/// What a pattern stands for, and so how a hit is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needle {
    /// A segment of an owned path: a candidate unless a name character continues it.
    Name,
    /// The dotted text of a client address: a hit is a candidate.
    Address,
    /// `projects/` and the like: a candidate when an owned id follows.
    Route(Collection),
    /// JSON's `\u`: a candidate when the escaped character could be part of a needle.
    JsonEscape,
    /// NGINX's backslash: a candidate unless it escapes a quote or a backslash.
    NginxEscape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collection {
    Projects,
    Groups,
}

/// How the lines to be searched are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    Json,
    Nginx,
}

/// What a line that concerns the scope names, one way or another: the names the
/// prefilter searches for (lower case, sorted), and the ids of the projects and
/// groups in scope, which API routes may name instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Terms {
    pub names: Vec<String>,
    pub project_ids: BTreeSet<u64>,
    pub group_ids: BTreeSet<u64>,
}

impl Terms {
    /// For each scope root and each former path of a project in scope, its longest
    /// segment; the ids of every project and group in scope.
    pub(crate) fn of(dir: &Directory, verified: &Verified) -> Terms {
        let mut names: Vec<String> = Vec::new();
        let mut project_ids = BTreeSet::new();
        let mut group_ids = BTreeSet::new();
        for &node in &verified.scope {
            names.extend(longest_segment(dir.path_of(node)));
        }
        for (i, ns) in dir.namespaces.iter().enumerate() {
            if verified.contains(dir, Node::Namespace(i)) {
                group_ids.insert(ns.id);
            }
        }
        for (i, p) in dir.projects.iter().enumerate() {
            if verified.contains(dir, Node::Project(i)) {
                project_ids.insert(p.id);
                names.extend(p.former_paths.iter().filter_map(|f| longest_segment(f)));
            }
        }
        names.sort();
        names.dedup();
        Terms {
            names,
            project_ids,
            group_ids,
        }
    }
}

/// The compiled search for one scope and one syntax.
#[derive(Debug)]
pub(crate) struct Prefilter {
    finder: Finder,
    patterns: Vec<Vec<u8>>,
    needles: Vec<Needle>,
    /// Per pattern, the others that can match where it does; see [`rivals`].
    rivals: Vec<Vec<usize>>,
    project_ids: HashSet<u64>,
    group_ids: HashSet<u64>,
}

impl Prefilter {
    /// The prefilter for `verified`'s scope, for lines written in `syntax`.
    pub(crate) fn new(dir: &Directory, verified: &Verified, syntax: Syntax) -> Prefilter {
        Self::build(dir, verified, syntax, Vec::new())
    }

    /// The prefilter for the IP-block story, which also counts the requester's requests
    /// to paths outside the scope: it also finds lines that mention an address of
    /// `clients` in dotted form, or an IPv4-mapped IPv6 address in any form. `None`
    /// when the ranges cannot be searched as text: IPv6 ranges, and IPv4 ranges wider
    /// than a /8.
    pub(crate) fn with_clients(
        dir: &Directory,
        verified: &Verified,
        syntax: Syntax,
        clients: &[IpNetwork],
    ) -> Option<Prefilter> {
        let mut texts = vec!["::ffff:".to_owned()];
        for network in clients {
            texts.extend(dotted_prefixes(network)?);
        }
        Some(Self::build(dir, verified, syntax, texts))
    }

    fn build(
        dir: &Directory,
        verified: &Verified,
        syntax: Syntax,
        addresses: Vec<String>,
    ) -> Prefilter {
        let Terms {
            names,
            project_ids,
            group_ids,
        } = Terms::of(dir, verified);
        let mut patterns: Vec<String> = Vec::new();
        let mut needles = Vec::new();
        for name in names {
            patterns.push(name);
            needles.push(Needle::Name);
        }
        for address in addresses {
            patterns.push(address);
            needles.push(Needle::Address);
        }
        // A route is a whole segment: a slash, JSON-escaped or not, on either side.
        for (route, collection) in [
            ("projects", Collection::Projects),
            ("groups", Collection::Groups),
        ] {
            for (before, after) in [("/", "/"), ("/", "\\/"), ("\\/", "/"), ("\\/", "\\/")] {
                patterns.push(format!("{before}{route}{after}"));
                needles.push(Needle::Route(collection));
            }
        }
        match syntax {
            Syntax::Json => {
                // `\u` and the first hex digit: three bytes make the search faster
                // than two would.
                for digit in "0123456789abcdef".chars() {
                    patterns.push(format!("\\u{digit}"));
                    needles.push(Needle::JsonEscape);
                }
            }
            Syntax::Nginx => {
                patterns.push("\\".to_owned());
                needles.push(Needle::NginxEscape);
            }
        }
        let patterns: Vec<Vec<u8>> = patterns.into_iter().map(String::into_bytes).collect();
        Prefilter {
            finder: Finder::new(&patterns),
            rivals: rivals(&patterns),
            patterns,
            needles,
            project_ids: project_ids.into_iter().collect(),
            group_ids: group_ids.into_iter().collect(),
        }
    }

    /// The next line of `text` at or after `from` that may concern the scope, as the
    /// range of its bytes without the line terminator. `text` holds whole lines;
    /// `lower` is the same text in ASCII lower case (see [`lower_case`]), which is what
    /// is searched: the patterns are lower case, so the search ignores case.
    pub(crate) fn next_candidate(
        &self,
        text: &[u8],
        lower: &[u8],
        from: usize,
    ) -> Option<Range<usize>> {
        self.search(text, lower, from, true)
    }

    /// [`Self::next_candidate`]; `escapes`: whether a percent-escape of a name's byte
    /// makes a candidate (not in an API id once decoded: it is decoded only once).
    fn search(
        &self,
        text: &[u8],
        lower: &[u8],
        mut from: usize,
        escapes: bool,
    ) -> Option<Range<usize>> {
        debug_assert_eq!(text.len(), lower.len());
        while from < text.len() {
            let hit = self.finder.find(lower, from);
            // An escape of a letter may spell any name (`/a%63me`): the bytes before
            // the next hit are looked at once for one.
            let before = hit.as_ref().map_or(text.len(), |h| h.start());
            if escapes && let Some(at) = encoded_name_byte(text, from, before) {
                return Some(line_around(text, at));
            }
            let hit = hit?;
            let (start, pattern) = (hit.start(), hit.pattern().as_usize());
            // The search reports one pattern where several may start: when it is not
            // confirmed, the others that start there are tried before moving on.
            let confirmed = self.confirms(text, lower, start, hit.end(), pattern)
                || self.rivals[pattern].iter().any(|&other| {
                    let end = start + self.patterns[other].len();
                    lower[start..].starts_with(&self.patterns[other])
                        && self.confirms(text, lower, start, end, other)
                });
            if confirmed {
                return Some(line_around(text, start));
            }
            from = start + 1;
        }
        None
    }

    /// Whether one line may concern the scope.
    pub(crate) fn may_concern(&self, line: &[u8]) -> bool {
        let mut lower = Vec::new();
        lower_case(line, &mut lower);
        self.next_candidate(line, &lower, 0).is_some()
    }

    fn confirms(
        &self,
        text: &[u8],
        lower: &[u8],
        start: usize,
        end: usize,
        pattern: usize,
    ) -> bool {
        match self.needles[pattern] {
            Needle::Name => ends_a_segment(lower, start, end),
            Needle::Address => true,
            Needle::Route(collection) => {
                let ids = match collection {
                    Collection::Projects => &self.project_ids,
                    Collection::Groups => &self.group_ids,
                };
                let segment = id_segment(&text[end..]);
                if !segment.contains(&b'%') {
                    return starts_with_owned_id(segment, ids);
                }
                // Attribution decodes an API id: so does the prefilter, then looks at
                // the decoded id as it would at a line (its length shrinks with every
                // level, so this ends).
                let decoded: Vec<u8> = percent_encoding::percent_decode(segment).collect();
                let start = decoded
                    .iter()
                    .position(|&b| b != b'/')
                    .unwrap_or(decoded.len());
                let mut lower = Vec::new();
                lower_case(&decoded, &mut lower);
                starts_with_owned_id(&decoded[start..], ids)
                    || self.search(&decoded, &lower, 0, false).is_some()
            }
            Needle::JsonEscape => {
                let hex = text.get(start + 2..start + 6).unwrap_or_default();
                match std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                {
                    Some(unit) => unit >= 0x80 || may_spell(unit as u8),
                    // Not a valid escape: the line is not valid JSON.
                    None => false,
                }
            }
            Needle::NginxEscape => match text.get(start + 1) {
                Some(b'"' | b'\\') | None => false,
                Some(b'x' | b'X') => match (
                    hex_value(text.get(start + 2)),
                    hex_value(text.get(start + 3)),
                ) {
                    (Some(hi), Some(lo)) => {
                        let byte = hi * 16 + lo;
                        byte >= 0x80 || may_spell(byte)
                    }
                    // `\x` without hex digits leaves the `x`, a letter.
                    _ => true,
                },
                Some(&b) => b >= 0x80 || may_spell(b),
            },
        }
    }
}

/// Searches lower-cased text for lower-case patterns: with SIMD (Teddy) where the CPU
/// has it and the patterns are few, else with an automaton.
#[derive(Debug)]
enum Finder {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

impl Finder {
    fn new(patterns: &[Vec<u8>]) -> Finder {
        let packed = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(patterns)
            .build();
        match packed {
            Some(searcher) => Finder::Packed(searcher),
            None => Finder::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(patterns)
                    .expect("the prefilter's patterns are short"),
            ),
        }
    }

    /// The first hit at or after `from`: where it starts and ends, and which pattern.
    fn find(&self, lower: &[u8], from: usize) -> Option<aho_corasick::Match> {
        let span = Span::from(from..lower.len());
        match self {
            Finder::Packed(searcher) => searcher.find_in(lower, span),
            Finder::Automaton(automaton) => automaton.find(Input::new(lower).span(span)),
        }
    }
}

/// Writes `text` in ASCII lower case to `lower`, reusing its memory.
pub(crate) fn lower_case(text: &[u8], lower: &mut Vec<u8>) {
    lower.resize(text.len(), 0);
    for (l, t) in lower.iter_mut().zip(text) {
        *l = t.to_ascii_lowercase();
    }
}

/// The dotted text every address of an IPv4 range starts with, one per value of a
/// partly fixed octet (`10.1.0.0/22` gives `10.1.0.` to `10.1.3.`); a /32 is its
/// address. `None` for IPv6 and for ranges wider than a /8.
fn dotted_prefixes(network: &IpNetwork) -> Option<Vec<String>> {
    let IpNetwork::V4(v4) = network else {
        return None;
    };
    let prefix = v4.prefix();
    if prefix < 8 {
        return None;
    }
    let octets = v4.network().octets();
    if prefix == 32 {
        return Some(vec![v4.ip().to_string()]);
    }
    let fixed = usize::from(prefix / 8);
    let head: Vec<String> = octets[..fixed].iter().map(u8::to_string).collect();
    let head = head.join(".");
    let spare = prefix % 8;
    if spare == 0 {
        return Some(vec![format!("{head}.")]);
    }
    let first = octets[fixed];
    let count = 1u16 << (8 - spare);
    // Many values of the partial octet: the whole octet's prefix finds them all, with
    // a few more lines to parse.
    if count > 16 {
        return Some(vec![format!("{head}.")]);
    }
    // The last octet ends the address: no dot follows it.
    let dot = if fixed == 3 { "" } else { "." };
    Some(
        (0..count)
            .map(|i| format!("{head}.{}{dot}", u16::from(first) + i))
            .collect(),
    )
}

/// The longest segment of a path, lower-cased as attribution compares paths.
fn longest_segment(path: &str) -> Option<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .max_by_key(|s| s.len())
        .map(str::to_lowercase)
}

/// For each pattern, the others that can match at the same place: those it starts with
/// and those that start with it (`acme` and `acme-corp`, the name `10` and the address
/// text `10.`).
fn rivals(patterns: &[Vec<u8>]) -> Vec<Vec<usize>> {
    let mut by_text: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (i, p) in patterns.iter().enumerate() {
        by_text.entry(p).or_default().push(i);
    }
    let mut rivals = vec![Vec::new(); patterns.len()];
    for (i, p) in patterns.iter().enumerate() {
        for len in 1..=p.len() {
            for &j in by_text.get(&p[..len]).into_iter().flatten() {
                if j != i {
                    rivals[i].push(j);
                    rivals[j].push(i);
                }
            }
        }
    }
    for r in &mut rivals {
        r.sort_unstable();
        r.dedup();
    }
    rivals
}

/// Whether a name found at `start..end` of the lower-cased text may be a whole path
/// segment once the line is decoded, as attribution compares paths (RULES.md §3).
/// A letter, a digit, `_` or `-` next to the name continue its segment into another
/// name (`acme-corp`, `acmex`, `my-acme`), and so does a `.` after it followed by one
/// of them (`acme.io`), except `g` and `w`, which may start the `.git` and `.wiki.git`
/// that attribution strips. A path that `params` confirm may go on after a dot
/// (`oldco/handbook.json`), but then the `params` name the project on the same line,
/// and that hit ends its segment. The byte before the name does not count when an
/// escape may end there (`%2F`, `\u002f`, `\x2f`, NGINX's `\c`): attribution reads the
/// decoded character. Anything else (a separator, a quote, `?`, a space, an escape, a
/// byte beyond ASCII, the end of the text) may end the segment.
fn ends_a_segment(lower: &[u8], start: usize, end: usize) -> bool {
    let continues = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-');
    let after = match lower.get(end) {
        Some(b'.') => lower
            .get(end + 1)
            .is_some_and(|b| continues(b) && !matches!(b, b'g' | b'w')),
        Some(b) => continues(b),
        None => false,
    };
    if after {
        return false;
    }
    let before = match start.checked_sub(1).map(|i| &lower[i]) {
        Some(b) if continues(b) || *b == b'.' => {
            // The longest escape that can end at `start` is JSON's six bytes.
            let window = &lower[start.saturating_sub(6)..start];
            !window.contains(&b'%') && !window.contains(&b'\\')
        }
        _ => false,
    };
    !before
}

/// The first percent-escape in `text[from..to]` of a byte a name is made of (a letter,
/// a digit, `.`, `_`, `-`): GitLab's router decodes it, so it may spell an owned name
/// (RULES.md §9). Escapes of other bytes (`%20`, `%3D`, `%2F`) spell no name.
fn encoded_name_byte(text: &[u8], from: usize, to: usize) -> Option<usize> {
    memchr::memchr_iter(b'%', &text[from..to])
        .map(|i| from + i)
        .find(
            |&at| match (hex_value(text.get(at + 1)), hex_value(text.get(at + 2))) {
                (Some(hi), Some(lo)) => {
                    let b = hi << 4 | lo;
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
                }
                _ => false,
            },
        )
}

/// Whether a byte could be part of a name, an id or a route after decoding.
fn may_spell(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-' | b'/' | b'%' | b'\\')
}

fn hex_value(b: Option<&u8>) -> Option<u8> {
    b.and_then(|&b| (b as char).to_digit(16)).map(|d| d as u8)
}

/// The prefilter as one regular expression, for an engine that holds the logs
/// (`logbrief pushdown`): a line it does not match is one the prefilter passes over,
/// so it cannot be in scope. It is a superset of the prefilter: a name anywhere (the
/// look-alikes `ends_a_segment` passes over match too), a route followed by an owned
/// id or by any percent-encoded segment, and any escape that might hide a character.
/// It keeps to what RE2, Rust's `regex`, Java and DuckDB agree on: `(?i)`,
/// alternation, classes, `*`, `$`, and a backslash before punctuation; no look-around, no
/// back-references.
pub(crate) fn regex(terms: &Terms, syntax: Syntax) -> String {
    // `regex::escape` puts a backslash before punctuation only, which every dialect
    // reads as the character itself.
    let mut branches: Vec<String> = terms.names.iter().map(|n| regex::escape(n)).collect();
    for (route, ids) in [
        ("projects", &terms.project_ids),
        ("groups", &terms.group_ids),
    ] {
        // The separators `id_segment` stops at; a `%` before them may encode an id.
        let mut id = String::from(r#"[^/\\?#" \n]*%"#);
        if !ids.is_empty() {
            let owned: Vec<String> = ids.iter().map(u64::to_string).collect();
            id = format!("0*(?:{})(?:[^0-9]|$)|{id}", owned.join("|"));
        }
        branches.push(format!(r"(?:/|\\/){route}(?:/|\\/)(?:{id})"));
    }
    // A percent-escape of a letter, a digit, `.`, `_` or `-`.
    branches.push(r"%(?:2[de]|3[0-9]|[46][1-9a-f]|[57][0-9a]|5f)".to_owned());
    branches.push(match syntax {
        Syntax::Json => r"\\u[0-9a-f]".to_owned(),
        Syntax::Nginx => r#"\\[^"\\]"#.to_owned(),
    });
    format!("(?i)(?:{})", branches.join("|"))
}

/// The id segment after `projects/` or `groups/`: up to the next separator.
fn id_segment(rest: &[u8]) -> &[u8] {
    let end = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'\\' | b'?' | b'#' | b'"' | b' ' | b'\n'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Whether `digits` starts with an owned id (leading zeros allowed); a number longer
/// than a u64 names none.
fn starts_with_owned_id(digits: &[u8], ids: &HashSet<u64>) -> bool {
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 {
        return false;
    }
    let digits = &digits[..len];
    let significant = match digits.iter().position(|&b| b != b'0') {
        Some(i) => &digits[i..],
        None => &digits[len - 1..],
    };
    std::str::from_utf8(significant)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .is_some_and(|id| ids.contains(&id))
}

/// The line of `text` that holds byte `at`, without its terminator (`\n` or `\r\n`).
fn line_around(text: &[u8], at: usize) -> Range<usize> {
    let start = memchr::memrchr(b'\n', &text[..at]).map_or(0, |i| i + 1);
    let mut end = memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |i| at + i);
    if end > start && text[end - 1] == b'\r' {
        end -= 1;
    }
    start..end
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::directory;

    const DIR: &str = r#"{
      "namespaces": [
        {"id": 60, "full_path": "acme", "plan": "premium"},
        {"id": 61, "full_path": "acme/platform", "parent_id": 60},
        {"id": 70, "full_path": "acme-corp", "plan": "ultimate"}
      ],
      "projects": [
        {"id": 7, "path_with_namespace": "acme/platform/api"},
        {"id": 9, "path_with_namespace": "acme/docs", "former_paths": ["oldco/handbook"]},
        {"id": 20, "path_with_namespace": "acme-corp/app"}
      ],
      "users": [{"id": 1, "username": "alice", "email": "alice@acme.example"}],
      "members": [{"namespace_id": 60, "user_id": 1, "access_level": 50}]
    }"#;

    fn prefilter(syntax: Syntax) -> Prefilter {
        let dir = Directory::from_slice(DIR.as_bytes()).unwrap();
        let v = directory::verify(&dir, "alice@acme.example", &[]).unwrap();
        Prefilter::new(&dir, &v, syntax)
    }

    /// The prefilter as the regular expression `logbrief pushdown` prints.
    fn regex_of(syntax: Syntax) -> regex::Regex {
        let dir = Directory::from_slice(DIR.as_bytes()).unwrap();
        let v = directory::verify(&dir, "alice@acme.example", &[]).unwrap();
        regex::Regex::new(&regex(&Terms::of(&dir, &v), syntax)).unwrap()
    }

    #[test]
    fn the_regex_names_the_scope_and_nothing_else() {
        let dir = Directory::from_slice(DIR.as_bytes()).unwrap();
        let v = directory::verify(&dir, "alice@acme.example", &[]).unwrap();
        assert_eq!(
            regex(&Terms::of(&dir, &v), Syntax::Json),
            r#"(?i)(?:acme|handbook|(?:/|\\/)projects(?:/|\\/)(?:0*(?:7|9)(?:[^0-9]|$)|[^/\\?#" \n]*%)|(?:/|\\/)groups(?:/|\\/)(?:0*(?:60|61)(?:[^0-9]|$)|[^/\\?#" \n]*%)|%(?:2[de]|3[0-9]|[46][1-9a-f]|[57][0-9a]|5f)|\\u[0-9a-f])"#
        );
        let terms = Terms {
            names: vec!["a.b-c_d".to_owned()],
            project_ids: BTreeSet::new(),
            group_ids: BTreeSet::new(),
        };
        let re = regex::Regex::new(&regex(&terms, Syntax::Nginx)).unwrap();
        assert!(re.is_match("GET /A.B-C_D/x"));
        assert!(!re.is_match("GET /aXb-c_d/x"), "a dot is a dot");
        assert!(re.is_match(r"GET /\x61.b-c_d"));
        assert!(!re.is_match(r#"GET /x \" \\"#));
        assert!(re.is_match("GET /api/v4/projects/a%2Fb"));
        assert!(!re.is_match("GET /api/v4/projects/7"));
    }

    #[test]
    fn json_lines() {
        let p = prefilter(Syntax::Json);
        let re = regex_of(Syntax::Json);
        let yes = [
            r#"{"path":"/acme/app/-/issues"}"#,
            r#"{"path":"/ACME/App"}"#,
            r#"{"meta.project":"acme/platform/api"}"#,
            r#"{"path":"/api/v4/projects/7/issues"}"#,
            r#"{"path":"/api/v4/projects/007"}"#,
            r#"{"path":"/api/v4/PROJECTS/7"}"#,
            r#"{"path":"\/api\/v4\/projects\/7"}"#,
            r#"{"path":"/api/v4/groups/61/members"}"#,
            r#"{"path":"/api/v4/projects/%37/issues"}"#,
            r#"{"path":"/api/v4/projects/%61cme%2Fdocs"}"#,
            r#"{"path":"/api/v4/projects/%2F%2F7"}"#,
            r#"{"path":"/\u0061cme/docs"}"#,
            r#"{"path":"/api/v4/projects\u002f7"}"#,
            r#"{"path":"/oldco/handbook/-/wikis"}"#,
            r#"{"path":"/a%63me/docs"}"#,
            r#"{"path":"/%41CME/docs/-/raw/main/x"}"#,
        ];
        for line in yes {
            assert!(p.may_concern(line.as_bytes()), "{line}");
            assert!(re.is_match(line), "{line}");
        }
        let no = [
            r#"{"path":"/other/app/-/issues"}"#,
            r#"{"path":"/acme-corp/app"}"#,
            r#"{"path":"/api/v4/projects/70/issues"}"#,
            r#"{"path":"/api/v4/projects/20"}"#,
            r#"{"path":"/api/v4/groups/7"}"#,
            r#"{"path":"/api/v4/projects/other%2Fapp"}"#,
            r#"{"path":"/api/v4/projects/99999999999999999999999"}"#,
            r#"{"path":"/search?a=1\u0026b=2"}"#,
            r#"{"path":"/other/app?q=a%20b%3Dc%2F"}"#,
            // Attribution decodes an API id once: a second encoding names nothing.
            r#"{"path":"/api/v4/projects/%2561cme"}"#,
            r#"{"path":"/api/v4/projects/"}"#,
            "",
        ];
        for line in no {
            assert!(!p.may_concern(line.as_bytes()), "{line}");
        }
        // The regular expression is a superset: it also keeps look-alikes, encoded
        // ids and escapes the prefilter looks into, but not these.
        for i in [0, 2, 3, 4, 6, 8, 10, 11] {
            assert!(!re.is_match(no[i]), "{}", no[i]);
        }
    }

    #[test]
    fn nginx_lines() {
        let p = prefilter(Syntax::Nginx);
        let line = |path: &str| {
            format!(
                r#"192.0.2.1 - - [14/Mar/2026:20:06:12 +0000] "GET {path} HTTP/1.1" 200 5 "-" "agent \"x\"""#
            )
        };
        assert!(p.may_concern(line("/acme/app").as_bytes()));
        assert!(p.may_concern(line(r"/\x61cme/app").as_bytes()));
        assert!(p.may_concern(line(r"/\acme/app").as_bytes()));
        assert!(!p.may_concern(line("/other/app").as_bytes()));
        assert!(!p.may_concern(line(r"/other/\x16\x03").as_bytes()));
    }

    #[test]
    fn client_ranges_as_text() {
        let texts = |cidr: &str| dotted_prefixes(&cidr.parse().unwrap());
        assert_eq!(texts("203.0.113.0/24").unwrap(), ["203.0.113."]);
        assert_eq!(texts("10.0.0.0/8").unwrap(), ["10."]);
        assert_eq!(texts("198.51.100.7/32").unwrap(), ["198.51.100.7"]);
        assert_eq!(
            texts("10.1.4.0/22").unwrap(),
            ["10.1.4.", "10.1.5.", "10.1.6.", "10.1.7."]
        );
        assert_eq!(
            texts("192.0.2.8/30").unwrap(),
            ["192.0.2.8", "192.0.2.9", "192.0.2.10", "192.0.2.11"]
        );
        assert_eq!(texts("198.51.100.0/25").unwrap(), ["198.51.100."]);
        assert_eq!(texts("0.0.0.0/0"), None);
        assert_eq!(texts("2001:db8::/32"), None);

        let dir = Directory::from_slice(DIR.as_bytes()).unwrap();
        let v = directory::verify(&dir, "alice@acme.example", &[]).unwrap();
        let clients = ["198.51.100.0/24".parse().unwrap()];
        let p = Prefilter::with_clients(&dir, &v, Syntax::Json, &clients).unwrap();
        assert!(p.may_concern(br#"{"path":"/other/app","remote_ip":"198.51.100.7"}"#));
        assert!(p.may_concern(br#"{"path":"/other/app","remote_ip":"::FFFF:c633:6407"}"#));
        assert!(p.may_concern(br#"{"path":"/acme/app","remote_ip":"192.0.2.1"}"#));
        assert!(!p.may_concern(br#"{"path":"/other/app","remote_ip":"192.0.2.1"}"#));
    }

    #[test]
    fn many_patterns_are_searched_too() {
        let patterns: Vec<Vec<u8>> = (0..300).map(|i| format!("name{i}x").into_bytes()).collect();
        let finder = Finder::new(&patterns);
        assert!(matches!(finder, Finder::Automaton(_)));
        let hit = finder.find(b"a name299x b", 0).unwrap();
        assert_eq!((hit.start(), hit.pattern().as_usize()), (2, 299));
        assert!(matches!(Finder::new(&patterns[..3]), Finder::Packed(_)));
    }

    #[test]
    fn candidates_are_whole_lines() {
        let p = prefilter(Syntax::Json);
        let text = b"{\"path\":\"/x\"}\r\n{\"path\":\"/acme/a\"}\r\n{\"path\":\"/y\"}\n{\"path\":\"/acme\"}";
        let mut lower = Vec::new();
        lower_case(text, &mut lower);
        let first = p.next_candidate(text, &lower, 0).unwrap();
        assert_eq!(&text[first.clone()], b"{\"path\":\"/acme/a\"}");
        let second = p.next_candidate(text, &lower, first.end + 2).unwrap();
        assert_eq!(&text[second.clone()], b"{\"path\":\"/acme\"}");
        assert_eq!(p.next_candidate(text, &lower, second.end), None);
    }

    /// Look-alikes of an owned namespace, some of them known to the directory.
    const LOOK_ALIKES: &str = r#"{
      "namespaces": [
        {"id": 1, "full_path": "northwind", "plan": "premium"},
        {"id": 2, "full_path": "northwind/platform", "parent_id": 1},
        {"id": 3, "full_path": "northwind-labs", "plan": "ultimate"},
        {"id": 4, "full_path": "northwinds", "plan": "premium"},
        {"id": 5, "full_path": "10", "plan": "premium"}
      ],
      "projects": [
        {"id": 11, "path_with_namespace": "northwind/app"},
        {"id": 12, "path_with_namespace": "northwind/handbook", "former_paths": ["northwind/company-handbook"]},
        {"id": 21, "path_with_namespace": "northwind-labs/api"},
        {"id": 31, "path_with_namespace": "northwinds/app"}
      ],
      "users": [
        {"id": 1, "username": "owner", "email": "owner@northwind.example"},
        {"id": 2, "username": "both", "email": "both@northwind.example"}
      ],
      "members": [
        {"namespace_id": 1, "user_id": 1, "access_level": 50},
        {"namespace_id": 1, "user_id": 2, "access_level": 50},
        {"namespace_id": 3, "user_id": 2, "access_level": 50},
        {"namespace_id": 5, "user_id": 2, "access_level": 50}
      ]
    }"#;

    fn look_alikes(requester: &str, syntax: Syntax) -> Prefilter {
        let dir = Directory::from_slice(LOOK_ALIKES.as_bytes()).unwrap();
        let v = directory::verify(&dir, requester, &[]).unwrap();
        Prefilter::new(&dir, &v, syntax)
    }

    #[test]
    fn names_inside_other_names_are_passed_over() {
        let p = look_alikes("owner@northwind.example", Syntax::Json);
        let passed_over = [
            r#"{"path":"/northwind-labs/api/-/issues"}"#,
            r#"{"path":"/northwinds/app"}"#,
            r#"{"path":"/northwind.io/app"}"#,
            r#"{"path":"/northwind_x/app"}"#,
            r#"{"path":"/xnorthwind/app"}"#,
            r#"{"path":"/my-northwind/app"}"#,
            r#"{"path":"/NorthWind-Labs/API"}"#,
            r#"{"path":"/NORTHWIND.IO"}"#,
            r#"{"path":"/northwind-labs/api.git/info/refs"}"#,
            r#"{"path":"/northwind.io.git/info/refs"}"#,
            r#"{"path":"\/northwind-labs\/api"}"#,
            r#"{"path":"/api/v4/projects/northwind-labs%2Fapi"}"#,
            r#"{"path":"/api/v4/projects/northwinds%2fapp/issues"}"#,
            r#"{"path":"/api/v4/groups/northwind.io"}"#,
            r#"{"path":"/api/v4/projects/21","meta.project":"northwind-labs/api"}"#,
            r#"{"path":"/api/graphql","meta.root_namespace":"northwinds"}"#,
            r#"{"meta.project":"northwind.io/app","meta.root_namespace":"northwind.io"}"#,
            r#"{"path":"/northwinds/app","params":[{"key":"namespace_id","value":"northwinds"},{"key":"project_id","value":"app"}]}"#,
            r#"{"path":"/northwind-labs/api","params":{"namespace_id":"northwind-labs","project_id":"api"},"meta.project":"northwind-labs/api","meta.root_namespace":"northwind-labs"}"#,
            r#"{"path":"/other/company-handbook-v2"}"#,
            r#"{"path":"/other/old-company-handbook"}"#,
            r#"{"path":"/dashboard","ua":"northwinds-bot/1.0"}"#,
        ];
        for line in passed_over {
            assert!(!p.may_concern(line.as_bytes()), "{line}");
        }
        let kept = [
            r#"{"path":"/northwind/app"}"#,
            r#"{"path":"/NorthWind/App.git/info/refs"}"#,
            r#"{"path":"/northwind.git/info/refs"}"#,
            r#"{"path":"/northwind.wiki.git/info/refs"}"#,
            r#"{"path":"/northwind/app.wiki.git/git-upload-pack"}"#,
            r#"{"path":"/northwind"}"#,
            r#"{"path":"/northwind?x=1"}"#,
            r#"{"path":"/northwind#top"}"#,
            r#"{"path":"/northwind/-/issues"}"#,
            r#"{"path":"/groups/northwind/-/activity"}"#,
            r#"{"path":"/api/v4/projects/northwind%2Fapp"}"#,
            r#"{"path":"/api/v4/projects/11/issues"}"#,
            r#"{"path":"/api/v4/groups/2/members"}"#,
            r#"{"path":"\/northwind\/app"}"#,
            r#"{"path":"\u002fnorthwind\u002fapp"}"#,
            r#"{"path":"/\u006eorthwind-labs/api"}"#,
            r#"{"path":"/api/graphql","meta.root_namespace":"northwind"}"#,
            r#"{"path":"/api/graphql","meta.project":"NorthWind/App"}"#,
            r#"{"path":"/x/company-handbook/-/wikis"}"#,
            // A look-alike before or after the owned name on the same line.
            r#"{"path":"/northwind-labs/api","meta.project":"northwind/app"}"#,
            r#"{"meta.project":"northwind/app","path":"/northwind-labs/api"}"#,
            r#"{"path":"/northwinds/northwind/app"}"#,
        ];
        for line in kept {
            assert!(p.may_concern(line.as_bytes()), "{line}");
        }

        let p = look_alikes("owner@northwind.example", Syntax::Nginx);
        let line = |path: &str| {
            format!(
                r#"192.0.2.1 - - [14/Mar/2026:20:06:12 +0000] "GET {path} HTTP/1.1" 200 5 "https://northwinds.example/" "agent""#
            )
        };
        assert!(!p.may_concern(line("/northwind-labs/api").as_bytes()));
        assert!(!p.may_concern(line("/northwind.io").as_bytes()));
        assert!(p.may_concern(line("/northwind").as_bytes()));
        assert!(
            p.may_concern(line("/NORTHWIND/app.git/info/refs?service=git-upload-pack").as_bytes())
        );
        assert!(p.may_concern(line(r"/\x6eorthwind-labs/api").as_bytes()));
    }

    /// Where a name can end, byte by byte: the name is the first `acme` of each text.
    #[test]
    #[rustfmt::skip]
    fn where_a_name_ends() {
        let rows: &[(&str, bool)] = &[
            ("acme", true), ("/acme/", true), ("\"acme\"", true), ("/acme?a=b", true),
            ("/acme#x", true), (" acme ", true), ("\\/acme\\/", true), ("acme%2f", true),
            ("acme\\u002f", true), ("acme.git", true), ("acme.wiki.git", true),
            ("acme.gitlab", true), ("acme./", true), ("acme.", true), ("acme..", true),
            ("acme~", true), ("acme\u{e9}", true), ("=acme&", true),
            ("acme-corp", false), ("acmex", false), ("acme9", false), ("acme_x", false),
            ("acme.io", false), ("acme.json", false), ("acme.-", false),
            ("xacme", false), ("my-acme", false), ("9acme", false), ("_acme", false),
            ("x.acme", false),
            // The byte before may end an escape: attribution reads what it decodes to.
            ("%2facme", true), ("x%2facme", true), ("\\u002facme", true), ("\\x2facme", true),
            ("\\-acme", true), ("%2fxacme", true),
            ("%2facme-corp", false),
        ];
        let mut failures = vec![];
        for &(text, want) in rows {
            let start = text.find("acme").unwrap();
            if ends_a_segment(text.as_bytes(), start, start + 4) != want {
                failures.push(format!("{text:?}: want {want}"));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    /// A name passed over does not hide a longer name, or a client address, that starts
    /// where it does.
    #[test]
    fn a_name_passed_over_leaves_the_others_that_start_there() {
        let p = look_alikes("both@northwind.example", Syntax::Json);
        assert!(p.may_concern(br#"{"path":"/northwind-labs/api"}"#));
        assert!(p.may_concern(br#"{"path":"/NORTHWIND-LABS"}"#));
        assert!(!p.may_concern(br#"{"path":"/northwinds/app"}"#));

        let dir = Directory::from_slice(LOOK_ALIKES.as_bytes()).unwrap();
        let v = directory::verify(&dir, "both@northwind.example", &[]).unwrap();
        let clients = ["10.0.0.0/8".parse().unwrap()];
        let p = Prefilter::with_clients(&dir, &v, Syntax::Json, &clients).unwrap();
        assert!(p.may_concern(br#"{"path":"/other/app","remote_ip":"10.1.2.3"}"#));
        assert!(p.may_concern(br#"{"path":"/10/app"}"#));
        assert!(!p.may_concern(br#"{"path":"/other/app","remote_ip":"192.0.2.10"}"#));

        let rivals = rivals(&[
            b"ab".to_vec(),
            b"abc".to_vec(),
            b"b".to_vec(),
            b"ab".to_vec(),
        ]);
        assert_eq!(rivals, [vec![1, 3], vec![0, 3], vec![], vec![0, 1]]);
    }

    /// The prefilter's promise: a line it passes over is never one that attribution
    /// would place in scope, however the line spells its path. The lines are made here
    /// for every filter that makes that promise (`elastic` too).
    pub(crate) mod soundness {
        use super::*;
        use crate::ingest::{self, Format, Line, json::Flavor};
        use crate::scope;
        use proptest::prelude::*;

        /// Paths in scope and out of it, by path and by id, as requests name them.
        const PATHS: &[&str] = &[
            "/acme/docs/-/issues/1",
            "/acme/platform/api.git/info/refs",
            "/groups/acme/platform/-/edit",
            "/api/v4/projects/7/issues",
            "/api/v4/projects/0007",
            "/api/v4/groups/61/members",
            "/api/v4/projects/acme%2Fdocs",
            "/api/v4/projects/%2Facme%2Fdocs",
            "/oldco/handbook/-/wikis",
            "/acme-corp/app/-/issues",
            "/api/v4/projects/20",
            "/api/v4/projects/acme-corp%2Fapp",
            "/other/repo",
            "/dashboard/todos",
            "/acme.git/info/refs",
            "/acme.wiki.git/info/refs",
            "/acme/docs.wiki.git/git-upload-pack",
            "/acme?from=acme-corp",
            "/api/v4/groups/acme%2Fplatform",
            // In scope only when `params` name the project.
            "/oldco/handbook.json",
            // Look-alikes: the owned name inside another one.
            "/acmex/tool",
            "/acme.io/app",
            "/acme_x/app",
            "/xacme/docs",
            "/my-acme/docs",
            "/acme-corp/app.git/info/refs",
            "/acme-corp/app/-/blob/main/acme/docs",
            "/api/v4/projects/acme.io%2Fapp",
            "/oldco/handbook-v2",
        ];

        /// Values of `meta.project`, `meta.root_namespace` and the `params`, owned and
        /// look-alike.
        const PROJECTS: &[&str] = &[
            "acme/docs",
            "acme-corp/app",
            "acmex/tool",
            "acme.io/app",
            "xacme/docs",
            "oldco/handbook",
        ];
        const ROOTS: &[&str] = &["acme", "acme-corp", "acmes", "acme.io", "oldco"];
        const PARAMS: &[(&str, &str)] = &[
            ("acme", "docs"),
            ("acme-corp", "app"),
            ("oldco", "handbook"),
            ("acmex", "tool"),
            ("acme", "docs.json"),
        ];
        /// Fields attribution does not read, which name look-alikes before or after
        /// the fields it reads.
        const DECOYS: &[&str] = &[
            r#""referer":"https://x.example/acme-corp/app""#,
            r#""ua":"acmex-bot/1.0""#,
            r#""meta.caller_id":"Acme_Corp::Controller""#,
        ];

        /// Rewrites a path the ways a log may spell it: letters in either case,
        /// characters of the API id percent-encoded, and for JSON, characters escaped
        /// as `\u00XX` or `\/`; for NGINX, as `\xXX` or `\c`.
        fn spell(path: &str, choices: &[u8], json: bool) -> String {
            let mut out = String::new();
            let api_id_start = ["/projects/", "/groups/"]
                .iter()
                .filter_map(|r| path.find(r).map(|i| i + r.len()))
                .next();
            for (i, c) in path.chars().enumerate() {
                let choice = choices.get(i).copied().unwrap_or(0) % 12;
                let in_api_id = api_id_start.is_some_and(|s| i >= s);
                match choice {
                    1 => out.extend(c.to_uppercase()),
                    2 if in_api_id && c != '/' => out.push_str(&format!("%{:02X}", c as u32)),
                    3 if json => out.push_str(&format!("\\u{:04x}", c as u32)),
                    3 => out.push_str(&format!("\\x{:02x}", c as u32)),
                    4 if json && c == '/' => out.push_str("\\/"),
                    4 if !json && c.is_ascii_alphanumeric() => {
                        out.push('\\');
                        out.push(c);
                    }
                    _ => out.push(c),
                }
            }
            out
        }

        /// Whether attribution places `line` in alice's scope.
        pub(crate) fn in_scope(dir: &Directory, v: &Verified, line: &[u8], format: Format) -> bool {
            match ingest::parse_line(format, Flavor::Auto, line) {
                Line::Request(r) => scope::attribute(dir, &r).is_some_and(|n| v.contains(dir, n)),
                _ => false,
            }
        }

        /// A line of each syntax that names the same path, and the JSON line's
        /// other fields.
        #[derive(Debug)]
        pub(crate) struct Spelled {
            pub(crate) json: String,
            pub(crate) nginx: String,
        }

        /// A line names a path, and maybe a project, a root namespace and `params`,
        /// each owned or a look-alike and spelled its own way, with fields attribution
        /// does not read around them, in any order.
        pub(crate) fn lines() -> impl Strategy<Value = Spelled> {
            (
                0..PATHS.len(),
                proptest::option::of(0..PROJECTS.len()),
                proptest::option::of(0..ROOTS.len()),
                proptest::option::of((0..PARAMS.len(), any::<bool>())),
                proptest::collection::vec(0..DECOYS.len(), 0..3),
                any::<usize>(),
                proptest::collection::vec(any::<u8>(), 0..160),
            )
                .prop_map(|(which, project, root, params, decoys, turn, choices)| {
                    let path = PATHS[which];
                    // Each value is spelled with its own share of the choices.
                    let spelled = |value: &str, field: usize| {
                        spell(value, choices.get(field * 32..).unwrap_or_default(), true)
                    };
                    let mut fields = vec![
                        r#""time":"2026-03-14T20:06:12Z""#.to_owned(),
                        r#""method":"GET""#.to_owned(),
                        format!(r#""path":"{}""#, spelled(path, 0)),
                    ];
                    if let Some(i) = project {
                        fields.push(format!(r#""meta.project":"{}""#, spelled(PROJECTS[i], 1)));
                    }
                    if let Some(i) = root {
                        fields.push(format!(r#""meta.root_namespace":"{}""#, spelled(ROOTS[i], 2)));
                    }
                    if let Some((i, as_array)) = params {
                        let (ns, id) = (spelled(PARAMS[i].0, 3), spelled(PARAMS[i].1, 4));
                        fields.push(if as_array {
                            format!(r#""params":[{{"key":"namespace_id","value":"{ns}"}},{{"key":"project_id","value":"{id}"}}]"#)
                        } else {
                            format!(r#""params":{{"namespace_id":"{ns}","project_id":"{id}"}}"#)
                        });
                    }
                    fields.extend(decoys.iter().map(|&d| DECOYS[d].to_owned()));
                    let len = fields.len();
                    fields.rotate_left(turn % len);
                    let nginx_path = spell(path, &choices, false);
                    Spelled {
                        json: format!("{{{}}}", fields.join(",")),
                        nginx: format!(
                            r#"192.0.2.1 - - [14/Mar/2026:20:06:12 +0000] "GET {nginx_path} HTTP/1.1" 200 5 "-" "agent""#
                        ),
                    }
                })
        }

        /// The directory of these tests, and alice verified in it.
        pub(crate) fn alice() -> (Directory, Verified) {
            let dir = Directory::from_slice(DIR.as_bytes()).unwrap();
            let v = directory::verify(&dir, "alice@acme.example", &[]).unwrap();
            (dir, v)
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            #[test]
            fn a_line_passed_over_is_never_in_scope(line in lines()) {
                let (dir, v) = alice();
                let json = &line.json;
                let pf = prefilter(Syntax::Json);
                if !pf.may_concern(json.as_bytes()) {
                    prop_assert!(!in_scope(&dir, &v, json.as_bytes(), Format::RailsJson), "{json}");
                }
                // What `pushdown` prints keeps every line the prefilter keeps.
                let terms = Terms::of(&dir, &v);
                let re = regex::Regex::new(&regex(&terms, Syntax::Json)).unwrap();
                if !re.is_match(json) {
                    prop_assert!(!pf.may_concern(json.as_bytes()), "{json}");
                    prop_assert!(!in_scope(&dir, &v, json.as_bytes(), Format::RailsJson), "{json}");
                }

                let nginx = &line.nginx;
                let pf = prefilter(Syntax::Nginx);
                if !pf.may_concern(nginx.as_bytes()) {
                    prop_assert!(!in_scope(&dir, &v, nginx.as_bytes(), Format::Nginx), "{nginx}");
                }
                let re = regex::Regex::new(&regex(&terms, Syntax::Nginx)).unwrap();
                if !re.is_match(nginx) {
                    prop_assert!(!pf.may_concern(nginx.as_bytes()), "{nginx}");
                    prop_assert!(!in_scope(&dir, &v, nginx.as_bytes(), Format::Nginx), "{nginx}");
                }
            }
        }
    }
}
