//! The privacy guard (RULES.md §8): the last check before anything reaches a ticket.
//!
//! A reply is made of three kinds of text, and the renderer marks which is which:
//! the template's own words (unmarked), text the program formats itself — counts,
//! times, status classes, labels from the audit vocabulary or the GeoIP database,
//! input file names — between [`OWN_START`] and [`OWN_END`], and text that came from
//! data between [`DATA_START`] and [`DATA_END`]. Only data is checked, so a visitor
//! called `utc`, `2xx` or `2026` cannot stop a reply that prints a time, a status
//! class or a year.
//!
//! Data is checked twice:
//! - against **canaries**, every username, email, display name and user agent seen in
//!   the inputs and the directory (except the requester's own), as whole tokens;
//! - by **detectors** that need no canary: an email address, an IPv4 or IPv6 address
//!   in any spelling (compared as a parsed address, so `2001:DB8:0:0:0:0:0:77` is
//!   `2001:db8::77`), a URL with credentials, a GitLab token, a bearer or basic
//!   credential. Text that names someone only once is caught this way.
//!
//! Detectors read each value as typed and as a reader would see it: folded by Unicode
//! NFKC (`＠` is `@`), percent-decoded (`%40`), with `[at]` and `[dot]` spelled out,
//! so that no spelling of an email or an address escapes them.
//!
//! What is the requester's own is not a hit: a data value equal to a path in scope
//! (`acme/bob` names the project, not the user `bob`), the requester's own emails, and
//! addresses inside the ranges the requester supplied. The domains they supplied are
//! checked like any data, so a username typed where a domain belongs is not repeated.
//!
//! Whatever a value holds, a finished reply carries no bidirectional control and no
//! Liquid marker (`{{`, `{%`): markdown and text drop the one and break the other, JSON
//! writes them as `\u` escapes, so its values stay exact.
//!
//! [`Guarded`] can only be built here: a value of that type has passed the check.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::LazyLock;

use ipnetwork::IpNetwork;
use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use crate::directory::{Directory, PersonalValue, Verified};
use crate::error::{Error, Result};
use crate::ingest::Request;

/// Opens a span of data in rendered text (Unicode private use; stripped from data).
pub const DATA_START: char = '\u{E000}';
/// Closes a span of data.
pub const DATA_END: char = '\u{E001}';
/// Opens a span of text the program formatted itself: escaped, never checked.
pub const OWN_START: char = '\u{E002}';
/// Closes a span of the program's own text.
pub const OWN_END: char = '\u{E003}';
/// Encloses, at the start of a data span, the code of the [`Place`] it is printed in,
/// when that is not the heading above it (the greeting, the known list…).
pub const PLACE: char = '\u{E004}';

/// Whether `c` is one of the marks, which never belong to a value.
pub fn is_mark(c: char) -> bool {
    matches!(c, DATA_START | DATA_END | OWN_START | OWN_END | PLACE)
}

/// Where in a reply a value is printed, as far as a refusal must tell the engineer:
/// each place that holds values someone typed has advice of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// The team configuration's `greeting`.
    Greeting,
    /// The team configuration's `sign_off`.
    SignOff,
    /// `--exclude-domain`, or `company_domains` in the team configuration.
    Domains,
    /// `--exclude-ip`, `--exclude-ip-file`, or `office_ranges`.
    Ranges,
    /// `--client-ip`.
    ClientRanges,
    /// The inputs' names as given (the JSON's `inputs[].name`).
    InputNames,
    /// Anywhere else: a heading's part of the reply, or a JSON field.
    Reply,
}

impl Place {
    const MARKED: [Place; 5] = [
        Place::Greeting,
        Place::SignOff,
        Place::Domains,
        Place::Ranges,
        Place::ClientRanges,
    ];

    /// The code a data span carries between [`PLACE`] marks.
    pub fn code(self) -> &'static str {
        match self {
            Place::Greeting => "greeting",
            Place::SignOff => "sign-off",
            Place::Domains => "domains",
            Place::Ranges => "ranges",
            Place::ClientRanges => "client",
            Place::InputNames => "inputs",
            Place::Reply => "reply",
        }
    }

    /// How a refusal names the place in a rendered reply.
    fn described(self) -> &'static str {
        match self {
            Place::Greeting => "the greeting (greeting in the team configuration)",
            Place::SignOff => "the sign-off (sign_off in the team configuration)",
            Place::Domains => {
                "the excluded domains (--exclude-domain, or company_domains in the team configuration)"
            }
            Place::Ranges => {
                "the excluded ranges (--exclude-ip, or office_ranges in the team configuration)"
            }
            Place::ClientRanges => "the requester's addresses (--client-ip)",
            Place::InputNames => "the inputs' names",
            Place::Reply => "the reply",
        }
    }

    /// How to go on when a value in this place stopped a reply.
    fn advice(self) -> &'static str {
        match self {
            Place::Greeting => {
                "change greeting in the team configuration: every reply prints it as it is \
                 written, so it may name no one, in any spelling (an empty greeting leaves \
                 it out)"
            }
            Place::SignOff => {
                "change sign_off in the team configuration: every reply prints it as it is \
                 written, so it may name no one, in any spelling"
            }
            Place::Domains => {
                "check the --exclude-domain values (and company_domains in the team \
                 configuration): each must be an email domain, not a name or an address"
            }
            Place::Ranges | Place::ClientRanges => "check the --exclude-ip and --client-ip values",
            Place::InputNames => {
                "give the inputs names that name no one (the JSON shows each name as it was \
                 given: run logbrief from the inputs' folder, or copy them under plain names)"
            }
            Place::Reply => {
                "narrow the reply (a narrower --namespace, or --min-count); if the value is \
                 the customer's own, report the case to the logbrief maintainers with this \
                 message"
            }
        }
    }

    fn from_code(code: &str) -> Option<Place> {
        Place::MARKED.into_iter().find(|p| p.code() == code)
    }

    /// Whether a number on its own (`3221225985`) may be an IPv4 address here. In the
    /// inputs' names numbers are dates, times and sequence numbers (`-20260304`,
    /// `.1741046400`); elsewhere in data nothing explains a bare number of eight to ten
    /// digits. Hex, octal and dotted spellings are addresses everywhere.
    fn reads_numbers_as_addresses(self) -> bool {
        self != Place::InputNames
    }
}

/// Whether `c` is a bidirectional control or mark, which can make a reply read
/// otherwise than its characters run (U+202A–U+202E, U+2066–U+2069, and the marks
/// U+061C, U+200E, U+200F).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{200E}' | '\u{200F}')
}

/// A value that passed the privacy guard. Only this module can make one.
#[derive(Debug)]
pub struct Guarded<T>(T);

impl<T> Guarded<T> {
    pub fn get(&self) -> &T {
        &self.0
    }
}

/// The kind of personal value a hit was: what a refusal may say instead of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HitKind {
    Ip,
    Username,
    Email,
    Name,
    UserAgent,
    Token,
    UrlCredentials,
}

impl HitKind {
    /// Every kind, in the order of their discriminants.
    const ALL: [HitKind; 7] = [
        HitKind::Ip,
        HitKind::Username,
        HitKind::Email,
        HitKind::Name,
        HitKind::UserAgent,
        HitKind::Token,
        HitKind::UrlCredentials,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HitKind::Ip => "IP address",
            HitKind::Username => "username",
            HitKind::Email => "email address",
            HitKind::Name => "name",
            HitKind::UserAgent => "user agent",
            HitKind::Token => "token or credential",
            HitKind::UrlCredentials => "URL with credentials",
        }
    }
}

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

/// A hasher for keys that are hashes already: multiplied by an odd number, so that
/// keys that differ in their lowest bits only lie apart in the table.
#[derive(Default, Clone, Copy)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is meant; any other key is still spread over the table.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Canaries by the hash of their folded value, with the kind in the hash's lowest
/// three bits: eight bytes a canary, and a lookup for each kind there is.
#[derive(Debug, Default)]
struct ByHash {
    keys: HashSet<u64, BuildHasherDefault<Prehashed>>,
    /// The kinds there are, a bit each by their place in [`HitKind::ALL`].
    kinds: u8,
}

const KIND_BITS: u64 = 0b111;

impl ByHash {
    fn len(&self) -> usize {
        self.keys.len()
    }

    fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The kind of the canary with this hash.
    fn get(&self, hash: u64) -> Option<HitKind> {
        (0u8..)
            .zip(HitKind::ALL)
            .filter(|&(code, _)| self.kinds & (1 << code) != 0)
            .find(|&(code, _)| self.keys.contains(&(hash & !KIND_BITS | u64::from(code))))
            .map(|(_, kind)| kind)
    }

    /// Adds a canary, unless one with the same hash is there already (whose kind
    /// stays). Whether it was added.
    fn insert(&mut self, hash: u64, kind: HitKind) -> bool {
        if self.get(hash).is_some() {
            return false;
        }
        let code = kind as u8;
        self.kinds |= 1 << code;
        self.keys.insert(hash & !KIND_BITS | u64::from(code))
    }

    fn contains(&self, hash: u64) -> bool {
        self.get(hash).is_some()
    }

    /// Takes in the canaries of another table.
    fn merge(&mut self, mut other: ByHash) {
        // The larger table takes in the smaller one.
        if other.len() > self.len() {
            std::mem::swap(self, &mut other);
        }
        for key in other.keys {
            let kind = HitKind::ALL[(key & KIND_BITS) as usize];
            self.insert(key, kind);
        }
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
pub struct Canaries {
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
    pub fn new(requester: Option<&Verified>, own_ranges: &[IpNetwork]) -> Self {
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

    fn add(&mut self, value: &str, kind: HitKind) {
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

    pub fn add_directory(&mut self, dir: &Directory) {
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
    pub fn add_request(&mut self, r: &Request<'_>) {
        if let Some(u) = &r.username {
            self.add(u, HitKind::Username);
        }
        if let Some(ua) = &r.user_agent {
            self.add(ua, HitKind::UserAgent);
        }
    }

    pub fn add_audit_event(&mut self, e: &crate::ingest::audit::AuditEvent) {
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
    pub fn empty_like(&self) -> Canaries {
        Canaries {
            own: self.own.clone(),
            own_values: self.own_values.clone(),
            own_emails: self.own_emails.clone(),
            own_ranges: self.own_ranges.clone(),
            ..Canaries::default()
        }
    }

    /// Takes in what another collection for the same requester gathered.
    pub fn merge(&mut self, other: Canaries) {
        self.values.merge(other.values);
        self.longest = self.longest.max(other.longest);
    }

    /// Freezes the collection into a guard. `allowed` are data values that belong to
    /// the requester and may appear whole: the paths in scope.
    pub fn into_guard(self, allowed: impl IntoIterator<Item = String>) -> Result<Guard> {
        Ok(Guard {
            values: self.values,
            longest: self.longest,
            allowed: allowed.into_iter().map(|a| a.to_lowercase()).collect(),
            own_emails: self.own_emails,
            own_ranges: self.own_ranges,
        })
    }
}

/// What becomes of the template's own emphasis (`**`) when a reply is finished: kept
/// for markdown, taken out for plain text. Data is never touched: it is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emphasis {
    Keep,
    Strip,
}

impl Emphasis {
    fn push(self, template: &str, out: &mut String) {
        match self {
            Emphasis::Keep => out.push_str(template),
            Emphasis::Strip => out.push_str(&template.replace("**", "")),
        }
    }
}

/// The frozen guard: checks data text, and finishes rendered replies.
pub struct Guard {
    values: ByHash,
    longest: usize,
    allowed: HashSet<String>,
    own_emails: HashSet<String>,
    own_ranges: Vec<IpNetwork>,
}

/// What a check found: the kinds of values, and the parts of the reply they were in,
/// each as a refusal names it, with its place (for the advice).
#[derive(Debug, Default)]
struct Findings {
    kinds: BTreeMap<HitKind, usize>,
    parts: BTreeMap<String, Place>,
}

impl Findings {
    fn add(&mut self, kind: HitKind, n: usize) {
        if n > 0 {
            *self.kinds.entry(kind).or_default() += n;
        }
    }

    /// Takes in what `other` found in another spelling of the same value: per kind,
    /// the most any spelling showed, so that a value is not counted once per spelling.
    fn most(&mut self, other: Findings) {
        for (kind, n) in other.kinds {
            let have = self.kinds.entry(kind).or_default();
            *have = (*have).max(n);
        }
    }

    fn total(&self) -> usize {
        self.kinds.values().sum()
    }
}

/// Whether the characters next to a match continue its token, so that a canary is
/// never cut out of a longer word (`bob` in `bobby`). `.`, `-` and `+` join tokens
/// only between word characters, so a sentence's full stop after a name does not
/// hide it.
fn continues(next: Option<char>, beyond: Option<char>) -> bool {
    let word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '@');
    match next {
        None => false,
        Some(c) if word(c) => true,
        Some('.' | '-' | '+') => beyond.is_some_and(word),
        Some(_) => false,
    }
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
        .expect("a valid pattern")
});
static URL_CREDENTIALS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s/?#@]+@").expect("a valid pattern")
});
/// GitLab's token prefixes (personal, deploy, runner, pipeline trigger, feed, incoming
/// mail, agent, OAuth app secret, CI job, SCIM, feature flag client, workspace, and
/// the runner registration prefix), followed by the token's characters.
static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:\bgl(?:pat|dt|rt|rtr|ptt|ft|imt|agent|oas|cbt|soat|sst|ffct|wt|cuid|ltst|tst)-[a-z0-9_.=-]{8,}|\bGR1348941[a-z0-9_-]{8,}|\b(?:bearer|basic|token)\s+[a-z0-9._~+/=-]{12,})",
    )
    .expect("a valid pattern")
});

/// `[at]`, `(at)`, `{at}`, `<at>` and the same with `dot`, with the spaces around them:
/// how an email is written to escape a search.
static SPELLED_AT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\s*[\[({<]\s*at\s*[\])}>]\s*").expect("a valid pattern"));
static SPELLED_DOT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\s*[\[({<]\s*dot\s*[\])}>]\s*").expect("a valid pattern"));

/// Whether `c` is invisible and ignored by readers (Unicode's default-ignorable code
/// points: soft hyphen, zero-width spaces and joiners, bidirectional controls,
/// variation selectors, tags…): a value split by one reads as the value whole.
fn is_ignorable(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// One round of what a reader undoes: NFKC folding (`＠` is `@`, `１` is `1`), the
/// ideographic full stops read as `.` (as in domain names), invisible characters
/// dropped, and percent-encoding decoded (`%40` is `@`).
fn unfold_once(text: &str) -> String {
    let folded: String = text
        .nfkc()
        .filter(|&c| !is_ignorable(c))
        .map(|c| {
            if matches!(c, '\u{3002}' | '\u{FF61}') {
                '.'
            } else {
                c
            }
        })
        .collect();
    match percent_encoding::percent_decode_str(&folded).decode_utf8_lossy() {
        Cow::Borrowed(_) => folded,
        Cow::Owned(decoded) => decoded,
    }
}

/// `text` as a reader would see it, when that differs from `text`: folded and decoded
/// until nothing changes (a value encoded twice, `%2540`, is decoded twice; a few
/// rounds at most), then with `[at]` and `[dot]` spelled out.
fn unfolded(text: &str) -> Option<String> {
    let plain = text.is_ascii() && !text.contains(['%', '[', '(', '{', '<']);
    if plain {
        return None;
    }
    let mut current = text.to_owned();
    for _ in 0..4 {
        let next = unfold_once(&current);
        if next == current {
            break;
        }
        current = next;
    }
    if current.contains(['[', '(', '{', '<']) {
        let at = SPELLED_AT.replace_all(&current, "@");
        current = SPELLED_DOT.replace_all(&at, ".").into_owned();
    }
    (current != text).then_some(current)
}

/// The smallest address a number standing alone is read as: below it, the first
/// octet is 0, which names no host (`0x10` or `0123` is not anyone's address).
const LONE_NUMBER_FROM: u64 = 1 << 24;

/// Every address written in `text`, each with the ways it reads: IPv4 as dotted runs
/// of digits (leading zeros allowed: `192.000.002.077` reads as decimal and as octal),
/// dotted forms with hex or octal parts (`0xC0.0.2.1`, `0300.0000.0002.0001`), one
/// number in hex or octal (`0xC0000201`, `030000001001`) and, when `numbers`, in
/// decimal (`3221225985`), as inet_aton reads them; IPv6 as runs of hex digits and
/// colons (compressed or expanded, any case, with an IPv4 tail). A port, brackets or a
/// zone (`%eth0`) end the run, so they hide nothing. A version (`1.2.3`) is not an
/// address, nor a number below [`LONE_NUMBER_FROM`].
fn addresses(text: &str, numbers: bool) -> Vec<Vec<IpAddr>> {
    // inet_aton's spellings first: the dotted runs of digits inside one of them
    // (`0.2.77` in `0xc0.0.2.77`) are part of it, not addresses of their own.
    let mut spelled = Vec::new();
    let other: Vec<Vec<IpAddr>> = runs(text, |b| b.is_ascii_alphanumeric() || b == b'.')
        .into_iter()
        .filter_map(|(at, token)| {
            let v4 = inet_aton(token, numbers)?;
            spelled.push(at..at + token.len());
            Some(vec![IpAddr::V4(v4)])
        })
        .collect();
    let dotted = runs(text, |b| b.is_ascii_digit() || b == b'.')
        .into_iter()
        .filter(|(at, _)| !spelled.iter().any(|s| s.contains(at)))
        .map(|(_, run)| dotted_v4(run))
        .filter(|readings| !readings.is_empty());
    let v6 = text
        .split(|c: char| !(c.is_ascii_hexdigit() || c == ':' || c == '.'))
        .filter(|run| run.matches(':').count() >= 2)
        .filter_map(|run| run.trim_end_matches('.').parse::<std::net::Ipv6Addr>().ok())
        .map(|ip| vec![fold(IpAddr::V6(ip))]);
    dotted.chain(other).chain(v6).collect()
}

/// The maximal runs of ASCII characters that `keep`, without their leading and
/// trailing dots, with where each begins in `text`.
fn runs(text: &str, keep: impl Fn(u8) -> bool) -> Vec<(usize, &str)> {
    let kept = |b: u8| b.is_ascii() && keep(b);
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !kept(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && kept(bytes[i]) {
            i += 1;
        }
        // ASCII bytes begin and end characters.
        let run = &text[start..i];
        let trimmed = run.trim_start_matches('.');
        let from = start + run.len() - trimmed.len();
        let trimmed = trimmed.trim_end_matches('.');
        if !trimmed.is_empty() {
            out.push((from, trimmed));
        }
    }
    out
}

/// Four parts of digits, each of up to four: read as decimal parts from 0 to 255,
/// and, when a part has a leading zero, as inet_aton reads it (that part octal).
fn dotted_v4(run: &str) -> Vec<IpAddr> {
    let parts: Vec<&str> = run.split('.').collect();
    if parts.len() != 4 || parts.iter().any(|p| p.is_empty() || p.len() > 4) {
        return Vec::new();
    }
    let read = |part: &dyn Fn(&str) -> Option<u64>| -> Option<IpAddr> {
        let mut octets = [0u8; 4];
        for (o, p) in octets.iter_mut().zip(&parts) {
            *o = u8::try_from(part(p)?).ok()?;
        }
        Some(IpAddr::V4(Ipv4Addr::from(octets)))
    };
    let mut readings: Vec<IpAddr> = read(&|p| p.parse().ok()).into_iter().collect();
    if parts.iter().any(|p| p.len() > 1 && p.starts_with('0'))
        && let Some(c) = read(&|p| c_number(p).map(|(n, _)| n)).filter(|c| !readings.contains(c))
    {
        readings.push(c);
    }
    readings
}

/// One part of an inet_aton address: `0x` and hex digits, `0` and octal digits, or
/// decimal digits; with whether it was hex or octal.
fn c_number(part: &str) -> Option<(u64, bool)> {
    let (digits, radix) = match part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None if part.len() > 1 && part.starts_with('0') => (&part[1..], 8),
        None => (part, 10),
    };
    if digits.is_empty() || digits.len() > 12 || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let n = u64::from_str_radix(digits, radix).ok()?;
    Some((n, radix != 10))
}

/// The spellings inet_aton reads that [`dotted_v4`] does not: one to four parts, at
/// least one in hex, or one number alone in octal or (when `numbers`) decimal; the last
/// part fills the bytes that are left. Four decimal or octal parts are `dotted_v4`'s,
/// and two or three without hex are versions (`1.2.3`), not addresses.
fn inet_aton(token: &str, numbers: bool) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.is_empty() || parts.len() > 4 || !token.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let read: Vec<(u64, bool)> = parts.iter().map(|p| c_number(p)).collect::<Option<_>>()?;
    let hex = parts
        .iter()
        .any(|p| p.starts_with("0x") || p.starts_with("0X"));
    let lone = parts.len() == 1;
    if !(hex || (lone && (read[0].1 || numbers))) {
        return None;
    }
    let (last, leading) = read.split_last()?;
    if leading.iter().any(|&(n, _)| n > 255) {
        return None;
    }
    let room = 8 * (5 - parts.len() as u32);
    if last.0 >> room != 0 {
        return None;
    }
    let value = leading
        .iter()
        .enumerate()
        .fold(last.0, |acc, (i, &(n, _))| acc | n << (24 - 8 * i as u32));
    if lone && value < LONE_NUMBER_FROM {
        return None;
    }
    Some(Ipv4Addr::from(u32::try_from(value).ok()?))
}

/// An IPv4-mapped IPv6 address is the IPv4 address.
fn fold(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl Guard {
    /// Checks one data value; `part` names where it is in the reply, `place` what kind
    /// of place that is. The value is read as written and, when that differs, as a
    /// reader would see it (see [`unfolded`]); each kind counts as often as the
    /// spelling that shows it most.
    fn check(&self, text: &str, part: &str, place: Place, found: &mut Findings) {
        if text.trim().is_empty() || self.allowed.contains(&text.trim().to_lowercase()) {
            return;
        }
        let mut here = Findings::default();
        self.canaries(text, &mut here);
        self.detect(text, place, &mut here);
        if let Some(seen) = unfolded(text) {
            let mut unfolded = Findings::default();
            self.canaries(&seen, &mut unfolded);
            self.detect(&seen, place, &mut unfolded);
            here.most(unfolded);
        }
        if here.total() > 0 {
            found.parts.insert(part.to_owned(), place);
            for (kind, n) in here.kinds {
                found.add(kind, n);
            }
        }
    }

    /// Canaries found as whole tokens in `text`.
    fn canaries(&self, text: &str, found: &mut Findings) {
        self.each_canary(text, |kind| found.add(kind, 1));
    }

    /// Calls `hit` with the kind of each canary in `text`: each stretch of `text` that
    /// begins and ends where a token may (see [`continues`]) and is no longer than the
    /// longest canary is folded, hashed and looked up. The work is bounded by the
    /// length of `text` times the longest canary's, whatever the number of canaries.
    fn each_canary(&self, text: &str, mut hit: impl FnMut(HitKind)) {
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

    /// What the detectors that need no canary find in `text`, printed in `place`. The
    /// requester's own emails, and addresses that read (in every way they read) as
    /// inside the ranges the requester supplied, are theirs.
    fn detect(&self, text: &str, place: Place, found: &mut Findings) {
        let emails = EMAIL
            .find_iter(text)
            .filter(|m| !self.own_emails.contains(&m.as_str().to_lowercase()))
            .count();
        found.add(HitKind::Email, emails);
        found.add(
            HitKind::UrlCredentials,
            URL_CREDENTIALS.find_iter(text).count(),
        );
        found.add(HitKind::Token, TOKEN.find_iter(text).count());
        let theirs = |ip: &IpAddr| self.own_ranges.iter().any(|n| n.contains(*ip));
        let addresses: BTreeSet<IpAddr> = addresses(text, place.reads_numbers_as_addresses())
            .into_iter()
            .filter(|readings| !readings.iter().all(theirs))
            .map(|readings| readings[0])
            .collect();
        found.add(HitKind::Ip, addresses.len());
    }

    fn verdict<T>(&self, found: Findings, value: T) -> Result<Guarded<T>> {
        if found.kinds.is_empty() {
            return Ok(Guarded(value));
        }
        Err(Error::Privacy {
            hits: found.kinds.values().sum(),
            kinds: found
                .kinds
                .keys()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", "),
            advice: advice(found.parts.values().copied()),
            parts: found.parts.into_keys().collect::<Vec<_>>().join(", "),
        })
    }

    /// Checks every data string of a serializable value (the aggregates) that every
    /// format of the reply may show: the fields only the JSON shows
    /// ([`JSON_ONLY_FIELDS`]) are checked when the JSON is written.
    pub fn vet<T: serde::Serialize>(&self, value: T) -> Result<Guarded<T>> {
        let json = serde_json::to_value(&value)
            .map_err(|e| Error::Internal(format!("privacy guard: {e}")))?;
        let mut found = Findings::default();
        self.walk(&json, JSON_ONLY_FIELDS, &mut String::new(), &mut found);
        self.verdict(found, value)
    }

    /// Serializes `value` as pretty JSON after checking every data string in it, then
    /// applies `after` (which may only replace numbers with the program's own words,
    /// as `--min-count` does).
    pub fn json(
        &self,
        mut value: serde_json::Value,
        after: impl FnOnce(&mut serde_json::Value),
    ) -> Result<Guarded<String>> {
        let mut found = Findings::default();
        self.walk(&value, &[], &mut String::new(), &mut found);
        after(&mut value);
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| Error::Internal(format!("privacy guard: {e}")))?;
        let mut text = defuse_json(&text);
        text.push('\n');
        self.verdict(found, text)
    }

    /// Walks a JSON value; `at` is the path of keys to it (`paths[].path`), which both
    /// decides whether a string is the program's own and names the part on a hit.
    /// Strings of the fields in `skip` are not checked here.
    fn walk(&self, v: &serde_json::Value, skip: &[&str], at: &mut String, found: &mut Findings) {
        use serde_json::Value;
        match v {
            // Standard input's name is the program's words, not a file's name.
            Value::String(s) if at == "inputs[].name" && s == crate::output::STANDARD_INPUT => {}
            Value::String(s)
                if !OWN_JSON_FIELDS.contains(&at.as_str()) && !skip.contains(&at.as_str()) =>
            {
                let (part, place) = part_of_field(at);
                self.check(s, &part, place, found);
            }
            Value::Array(a) => {
                let len = at.len();
                at.push_str("[]");
                a.iter().for_each(|x| self.walk(x, skip, at, found));
                at.truncate(len);
            }
            Value::Object(o) => {
                for (key, x) in o {
                    let len = at.len();
                    if !at.is_empty() {
                        at.push('.');
                    }
                    at.push_str(key);
                    self.walk(x, skip, at, found);
                    at.truncate(len);
                }
            }
            _ => {}
        }
    }

    /// Checks the data spans of a rendered reply, then removes the marks and escapes
    /// each data or own span with `escape`. The template's own text is passed through
    /// unchanged. A hit is reported with the part of the reply it is in: the place its
    /// span names (the greeting, the known list…), else the heading above it, or the
    /// opening. The finished text carries no bidirectional control and no Liquid
    /// marker (see [`defuse_text`]).
    pub fn finish(
        &self,
        marked: &str,
        escape: fn(&str, &mut String),
        emphasis: Emphasis,
    ) -> Result<Guarded<String>> {
        let unbalanced = || Error::Internal("unbalanced mark in a template".into());
        let mut out = String::with_capacity(marked.len());
        let mut found = Findings::default();
        let mut part = "the opening".to_owned();
        let mut rest = marked;
        while let Some(start) = rest.find([DATA_START, OWN_START]) {
            let template = &rest[..start];
            if template.contains([DATA_END, OWN_END]) {
                return Err(unbalanced());
            }
            if let Some(heading) = heading(template) {
                part = heading;
            }
            emphasis.push(template, &mut out);
            let open = rest[start..].chars().next().ok_or_else(unbalanced)?;
            let close = if open == DATA_START {
                DATA_END
            } else {
                OWN_END
            };
            let after = &rest[start + open.len_utf8()..];
            let end = after.find(close).ok_or_else(unbalanced)?;
            let (place, span) = match after[..end].strip_prefix(PLACE) {
                Some(placed) if open == DATA_START => {
                    let (code, span) = placed.split_once(PLACE).ok_or_else(unbalanced)?;
                    (Place::from_code(code).ok_or_else(unbalanced)?, span)
                }
                _ => (Place::Reply, &after[..end]),
            };
            if span.contains(is_mark) {
                return Err(unbalanced());
            }
            if open == DATA_START {
                match place {
                    Place::Reply => self.check(span, &part, place, &mut found),
                    _ => self.check(span, place.described(), place, &mut found),
                }
            }
            escape(span, &mut out);
            rest = &after[end + close.len_utf8()..];
        }
        if rest.contains(is_mark) {
            return Err(unbalanced());
        }
        emphasis.push(rest, &mut out);
        self.verdict(found, defuse_text(&out))
    }
}

/// A finished reply in markdown or text without bidirectional controls, which would
/// make it read otherwise than it runs, and with each Liquid marker broken by a space
/// (`{{` becomes `{ {`), so that Zendesk fills in no placeholder. Markdown has escaped
/// the braces of data already; this also covers text, and spans that meet.
fn defuse_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().filter(|&c| !is_bidi_control(c)) {
        if matches!(c, '{' | '%') && out.ends_with('{') {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Pretty JSON with every bidirectional control and the second character of every
/// Liquid marker written as a `\u` escape: the text carries neither, and a tool that
/// reads the JSON gets the values exactly. Outside strings, pretty JSON never puts
/// `{` before `{` or `%`, so every marker is inside a string, where an escape is valid.
fn defuse_json(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_bidi_control(c) || (matches!(c, '{' | '%') && out.ends_with('{')) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// The last heading in a stretch of template text: a whole line of its own that ends
/// with a colon ("**Per path:**", "Per action:"), as the part a refusal names. The
/// stretch's first line continues a line begun before it, so it is never one.
fn heading(template: &str) -> Option<String> {
    template
        .split('\n')
        .skip(1)
        .map(|l| l.trim().trim_matches('*').trim())
        .filter(|l| l.ends_with(':') && !l.starts_with('-') && l.len() < 60)
        .last()
        .map(|l| format!("the part \"{}\"", l.trim_end_matches(':')))
}

/// How to go on after a refusal: the advice of each place that hit, once each.
fn advice(places: impl Iterator<Item = Place>) -> String {
    let places: BTreeSet<Place> = places.collect();
    places
        .into_iter()
        .map(Place::advice)
        .collect::<Vec<_>>()
        .join("; and ")
}

/// The part of a reply a field of the summary is printed in, as a refusal names it,
/// and its place.
fn part_of_field(at: &str) -> (String, Place) {
    let (part, place) = match at {
        "scope[]" => ("the scope", Place::Reply),
        "paths[].path" => ("the per-path list", Place::Reply),
        "ip_block.paths[].path" => ("the refusals per path", Place::Reply),
        "filters.exclude_domains[]" => ("the excluded domains", Place::Domains),
        "filters.exclude_ip_ranges[]" => ("the excluded ranges", Place::Ranges),
        "filters.matched_nothing.domains[]" | "filters.team_wide.domains[]" => {
            ("the excluded domains", Place::Domains)
        }
        "filters.matched_nothing.ip_ranges[]" | "filters.team_wide.ip_ranges[]" => {
            ("the excluded ranges", Place::Ranges)
        }
        "filters.client_ranges[]" => ("the requester's addresses", Place::ClientRanges),
        "inputs[].name" => ("the inputs' names", Place::InputNames),
        _ => ("a field", Place::Reply),
    };
    (format!("{part} (field {at})"), place)
}

/// Data fields only the JSON shows: checked when the JSON is written, not for every
/// format. The inputs' names are the engineer's (the internal note lists them too),
/// but the JSON hands them to the customer.
const JSON_ONLY_FIELDS: &[&str] = &["inputs[].name"];

/// The JSON fields the program writes itself (times, labels, status classes, the
/// inputs' formats and digests, the GeoIP database's names): never data. Every other
/// string is checked, the inputs' names included.
const OWN_JSON_FIELDS: &[&str] = &[
    "template",
    "filters.since",
    "filters.until",
    "logs_cover.first",
    "logs_cover.last",
    "gaps[].from",
    "gaps[].to",
    "counts.first_seen",
    "counts.last_seen",
    "excluded.user.first_seen",
    "excluded.user.last_seen",
    "excluded.domain.first_seen",
    "excluded.domain.last_seen",
    "excluded.ip.first_seen",
    "excluded.ip.last_seen",
    "statuses[].status",
    "status_classes[].class",
    "countries[].country",
    "countries[].name",
    "busiest_minute.minute",
    "inputs[].format",
    "inputs[].sha256",
    "audit.first_seen",
    "audit.last_seen",
    "audit.actions[].action",
    "audit.actions[].first_seen",
    "audit.actions[].last_seen",
    "ip_block.statuses[].status",
    "ip_block.busiest_minute.minute",
    "geoip.database_type",
    "geoip.build_date",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(values: &[(&str, HitKind)], allowed: &[&str]) -> Guard {
        let mut c = Canaries::new(None, &["203.0.113.0/24".parse().unwrap()]);
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

    fn refused(g: &Guard, data: &str) -> bool {
        matches!(
            g.finish(&marked(data), plain, Emphasis::Keep),
            Err(Error::Privacy { .. })
        )
    }

    #[test]
    fn whole_tokens_in_data_only() {
        let g = guard(
            &[
                ("api", HitKind::Username),
                ("bob", HitKind::Username),
                ("Erin Example", HitKind::Name),
            ],
            &["acme/api", "acme/bob"],
        );
        // The template's own words never count.
        assert!(g.finish(&marked("12"), plain, Emphasis::Keep).is_ok());
        // An allowed path that contains a canary as a segment.
        assert!(g.finish(&marked("acme/api"), plain, Emphasis::Keep).is_ok());
        assert!(g.finish(&marked("ACME/Bob"), plain, Emphasis::Keep).is_ok());
        // A canary inside a longer token is not a hit.
        assert!(g.finish(&marked("bobby"), plain, Emphasis::Keep).is_ok());
        assert!(
            g.finish(&marked("bob.smith"), plain, Emphasis::Keep)
                .is_ok()
        );
        for bad in ["BOB", "acme/web/bob", "erin example", "(bob)", "bob."] {
            assert!(refused(&g, bad), "{bad}");
        }
    }

    #[test]
    fn the_programs_own_text_is_never_checked() {
        let g = guard(
            &[
                ("utc", HitKind::Username),
                ("2xx", HitKind::Username),
                ("2026", HitKind::Username),
            ],
            &[],
        );
        let text = format!(
            "At {OWN_START}20:06 UTC on 2026-03-14{OWN_END}, {OWN_START}2xx{OWN_END}: \
             {OWN_START}198.51.100.7{OWN_END}"
        );
        let out = g.finish(&text, plain, Emphasis::Keep).unwrap();
        assert_eq!(out.get(), "At 20:06 UTC on 2026-03-14, 2xx: 198.51.100.7");
        assert!(refused(&g, "2026"));
    }

    #[test]
    fn detectors_need_no_canary() {
        let g = guard(&[], &["acme/app"]);
        for bad in [
            "zed.zulu@elsewhere.example",
            "Added member zed.zulu@elsewhere.example as Developer",
            "Blocked access for 192.0.2.77",
            "192.0.2.77:8080",
            "192.000.002.077",
            "2001:db8::77",
            "2001:DB8:0:0:0:0:0:77",
            "[2001:db8::77]:443",
            "fe80::1%eth0",
            "::ffff:192.0.2.77",
            "::FFFF:c000:024d",
            "https://bot:secret@ci.elsewhere.example",
            "token glpat-AbCdEf0123456789xyz_",
            "GLDT-abcdefghijkl",
            "Authorization: Bearer abcdefghijklmnop1234",
        ] {
            assert!(refused(&g, bad), "{bad}");
        }
        for fine in [
            "acme/app",
            "Added a member",
            "20:06 UTC",
            "version 1.2.3",
            "2026-03-14",
            // The requester's own range.
            "203.0.113.0/24",
            "203.0.113.9",
            "::ffff:203.0.113.9",
            "a token was created",
        ] {
            assert!(!refused(&g, fine), "{fine}");
        }
    }

    #[test]
    fn a_refusal_names_kinds_and_parts_never_values() {
        let g = guard(&[("erin", HitKind::Username)], &[]);
        let text = format!(
            "Hello {DATA_START}x{DATA_END}\n**Per path:**\n\n- {DATA_START}erin{DATA_END}: 3\n\
             - {DATA_START}192.0.2.1{DATA_END}"
        );
        let err = g.finish(&text, plain, Emphasis::Keep).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("username") && message.contains("IP address"));
        assert!(message.contains("Per path"));
        assert!(!message.contains("erin") && !message.contains("192.0.2.1"));
    }

    #[test]
    fn json_checks_data_fields_only() {
        let g = guard(&[("2xx", HitKind::Username)], &[]);
        let own = serde_json::json!({"status_classes": [{"class": "2xx"}], "template": "2xx"});
        assert!(g.json(own, |_| {}).is_ok());
        let data = serde_json::json!({"paths": [{"path": "2xx"}]});
        let err = g.json(data, |_| {}).unwrap_err().to_string();
        assert!(
            err.contains("the per-path list (field paths[].path)"),
            "{err}"
        );
        // The inputs' names are data in the JSON, but not checked by `vet`, which
        // checks what every format shows; standard input's name is the program's.
        let g = guard(
            &[("carol", HitKind::Username), ("input", HitKind::Username)],
            &[],
        );
        let named = |name: &str| serde_json::json!({"inputs": [{"name": name}]});
        assert!(g.vet(named("tickets/carol/production_json.log")).is_ok());
        let err = g
            .json(named("tickets/carol/production_json.log"), |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the inputs' names (field inputs[].name)"),
            "{err}"
        );
        assert!(
            err.contains("give the inputs names that name no one"),
            "{err}"
        );
        assert!(g.json(named("(standard input)"), |_| {}).is_ok());
        assert!(g.json(named("logs/input"), |_| {}).is_err());
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
        assert!(g.vet(vec!["alice", "Alice A"]).is_ok());
        assert!(g.vet(vec!["bob"]).is_err());
    }

    #[test]
    fn case_is_ignored_in_all_of_unicode() {
        let g = guard(
            &[
                ("Ärger Öztürk", HitKind::Name),
                ("ΟΔΥΣΣΕΑΣ", HitKind::Name),
                ("jürgen", HitKind::Username),
            ],
            &[],
        );
        for bad in [
            "ärger öztürk",
            "ÄRGER ÖZTÜRK",
            // The final sigma, written either way.
            "Οδυσσεας",
            "Οδυσσεaς".replace('a', "α").as_str(),
            "ΟΔΥΣΣΕΑΣ.",
            "JÜRGEN",
            "by Jürgen",
        ] {
            assert!(refused(&g, bad), "{bad}");
        }
        for fine in ["ärger öztürks", "jürgenz", "xjürgen", "jürgen_x"] {
            assert!(!refused(&g, fine), "{fine}");
        }
    }

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

    #[test]
    fn addresses_are_read_in_every_spelling() {
        // Each address written, by its first reading.
        let first = |s: &str, numbers: bool| -> BTreeSet<IpAddr> {
            addresses(s, numbers).into_iter().map(|r| r[0]).collect()
        };
        let v4: IpAddr = "192.0.2.77".parse().unwrap();
        for s in [
            "192.0.2.77",
            "at 192.0.2.77.",
            "192.0.2.77:443",
            "192.000.002.077",
            "user-192.0.2.77",
            "::ffff:192.0.2.77",
            "[::ffff:192.0.2.77]:80",
            "::FFFF:C000:024D",
            // One number in decimal, hex or octal; dotted with hex or octal parts; the
            // last part filling the bytes left, as inet_aton reads them.
            "3221226061",
            "at 3221226061.",
            "0xC000024D",
            "0XC000024D",
            "030000001115",
            "0300.0000.0002.0115",
            "0xc0.0x0.0x2.0x4d",
            "0xc0.0.2.77",
            "0xc0.0.589",
            "0xc0.589",
        ] {
            assert_eq!(first(s, true), BTreeSet::from([v4]), "{s}");
        }
        // A leading zero reads as decimal and as octal: both readings are kept.
        assert_eq!(
            addresses("192.000.002.077", true),
            vec![vec![v4, "192.0.2.63".parse::<IpAddr>().unwrap()]]
        );
        let v6: IpAddr = "2001:db8::77".parse().unwrap();
        for s in [
            "2001:DB8:0:0:0:0:0:77",
            "[2001:db8::77]:443",
            "2001:db8::77%eth0",
        ] {
            assert_eq!(first(s, true), BTreeSet::from([v6]), "{s}");
        }
        for s in [
            "20:06",
            "20:06:12",
            "1.2.3",
            "2.01.3",
            "2026-03-14T20:06:12.000Z",
            "1.2.3.256",
            // Numbers below 2^24 (first octet 0) are not anyone's address, nor are
            // numbers that do not fit, nor digits in a word.
            "0x10",
            "0123",
            "16777215",
            "4294967296",
            "0x100000000",
            "v3221226061",
            "3221226061x",
            "089",
        ] {
            assert!(addresses(s, true).is_empty(), "{s}");
        }
        // Where numbers are dates and sequence numbers (the inputs' names), a decimal
        // number alone is not read; hex and octal still are.
        for s in ["production_json.log-20260304", "api_json.log-1741046400"] {
            assert!(addresses(s, false).is_empty(), "{s}");
            assert!(!addresses(s, true).is_empty(), "{s}");
        }
        assert_eq!(first("log-0xC000024D", false), BTreeSet::from([v4]));
    }

    #[test]
    fn detectors_see_text_as_a_reader_does() {
        for (written, read) in [
            ("shared＠dup.example", "shared@dup.example"),
            ("ｓｈａｒｅｄ＠ｄｕｐ．ｅｘａｍｐｌｅ", "shared@dup.example"),
            ("shared%40dup.example", "shared@dup.example"),
            ("shared%2540dup.example", "shared@dup.example"),
            ("shared％40dup.example", "shared@dup.example"),
            ("shared%EF%BC%A0dup.example", "shared@dup.example"),
            ("shared [at] dup [dot] example", "shared@dup.example"),
            ("shared (AT) dup{dot}example", "shared@dup.example"),
            ("sha\u{200B}red@dup\u{00AD}.example", "shared@dup.example"),
            ("shared@dup。example", "shared@dup.example"),
            ("１９２．０．２．７７", "192.0.2.77"),
        ] {
            assert_eq!(unfolded(written).as_deref(), Some(read), "{written}");
        }
        for plain in ["Hello Alice,", "acme/platform", "100% sure (at last)"] {
            assert_eq!(unfolded(plain).as_deref().unwrap_or(plain), plain);
        }
        let g = guard(&[("shared@dup.example", HitKind::Email)], &[]);
        for bad in [
            "shared＠dup.example",
            "zed%40elsewhere.example",
            "zed [at] elsewhere.example",
            "３２２１２２６０６１",
            "0xC000024D",
        ] {
            assert!(refused(&g, bad), "{bad}");
        }
        for fine in [
            "Hello Alice,",
            "Hi there (at last)",
            "We are 100% sure",
            "1.2.3",
        ] {
            assert!(!refused(&g, fine), "{fine}");
        }
    }

    #[test]
    fn the_requesters_own_emails_pass_the_detector() {
        let dir = Directory::from_slice(
            br#"{"namespaces":[{"id":1,"full_path":"acme","plan":"premium"}],
                "users":[{"id":1,"username":"alice","email":"alice@acme.example","emails":["a@alice.example"]},
                         {"id":2,"username":"bob","email":"bob@acme.example"}],
                "members":[{"namespace_id":1,"user_id":1,"access_level":50}]}"#,
        )
        .unwrap();
        let v = crate::directory::verify(&dir, "alice@acme.example", &[]).unwrap();
        let mut c = Canaries::new(Some(&v), &[]);
        c.add_directory(&dir);
        let g = c.into_guard(vec![]).unwrap();
        for fine in [
            "Hello ALICE@acme.example,",
            "a@alice.example",
            "alice＠acme.example",
            "alice [at] acme.example",
        ] {
            assert!(!refused(&g, fine), "{fine}");
        }
        for bad in [
            "bob@acme.example",
            "xalice@acme.example",
            "alice@acme.example.org",
        ] {
            assert!(refused(&g, bad), "{bad}");
        }
    }

    #[test]
    fn a_refusal_names_the_place_of_a_typed_value_and_advises_on_it() {
        let g = guard(&[("carol", HitKind::Username)], &[]);
        let placed = |place: Place, value: &str| {
            format!(
                "{DATA_START}{PLACE}{}{PLACE}{value}{DATA_END}",
                place.code()
            )
        };
        let text = format!(
            "{}\n\n**Per path:**\n\n- {DATA_START}acme{DATA_END}: 3\n\n{}",
            placed(Place::Greeting, "Hello,"),
            placed(Place::SignOff, "Ask carol")
        );
        let err = g
            .finish(&text, plain, Emphasis::Keep)
            .unwrap_err()
            .to_string();
        assert!(err.contains("printed in the sign-off"), "{err}");
        assert!(err.contains("change sign_off"), "{err}");
        assert!(
            !err.contains("Per path") && !err.contains("--namespace"),
            "{err}"
        );
        // A place the renderer does not know is a bug, not a value.
        let bad = format!("{DATA_START}{PLACE}nowhere{PLACE}x{DATA_END}");
        assert!(matches!(
            g.finish(&bad, plain, Emphasis::Keep),
            Err(Error::Internal(_))
        ));
    }

    #[test]
    fn no_bidirectional_control_or_liquid_marker_leaves_the_guard() {
        let g = guard(&[], &[]);
        let text = format!(
            "Hi {DATA_START}\u{202E}{{{{ticket.id}}}} {{% if %}}\u{2066}{DATA_END} {OWN_START}{{{OWN_END}{DATA_START}{{x{DATA_END}."
        );
        let out = g.finish(&text, plain, Emphasis::Keep).unwrap();
        assert_eq!(out.get(), "Hi { {ticket.id}} { % if %} { {x.");
        let json = serde_json::json!({"paths": [{"path": "\u{202E}{{x}}{%y%}{{{"}]});
        let out = g.json(json.clone(), |_| {}).unwrap();
        let text = out.get();
        assert!(!text.contains("{{") && !text.contains("{%") && !text.contains('\u{202E}'));
        assert!(text.contains("\\u202e"), "{text}");
        let back: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(back, json);
    }

    #[test]
    fn plain_text_loses_the_templates_emphasis_never_the_datas() {
        let g = guard(&[], &[]);
        let text = format!("**We found {OWN_START}3{OWN_END}** in **{DATA_START}a**b{DATA_END}**.");
        let out = g.finish(&text, plain, Emphasis::Strip).unwrap();
        assert_eq!(out.get(), "We found 3 in a**b.");
        let out = g.finish(&text, plain, Emphasis::Keep).unwrap();
        assert_eq!(out.get(), "**We found 3** in **a**b**.");
    }

    #[test]
    fn unbalanced_marks_are_an_error() {
        let g = guard(&[], &[]);
        assert!(
            g.finish(&format!("x {DATA_START} y"), plain, Emphasis::Keep)
                .is_err()
        );
        assert!(
            g.finish(&format!("x {DATA_END} y"), plain, Emphasis::Keep)
                .is_err()
        );
        assert!(
            g.finish(&format!("x {OWN_START} y"), plain, Emphasis::Keep)
                .is_err()
        );
        assert!(
            g.finish(
                &format!("x {DATA_START}a{OWN_END} y"),
                plain,
                Emphasis::Keep
            )
            .is_err()
        );
    }
}
