//! Detectors that need no canary: emails, addresses in every spelling, URLs with
//! credentials and tokens, in data as typed and as a reader would see it.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use super::hits::{Findings, Guard, HitKind};
use super::marks::Place;

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
pub(super) fn unfolded(text: &str) -> Option<String> {
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
pub(super) fn addresses(text: &str, numbers: bool) -> Vec<Vec<IpAddr>> {
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
    /// What the detectors that need no canary find in `text`, printed in `place`. The
    /// requester's own emails, and addresses that read (in every way they read) as
    /// inside the ranges the requester supplied, are theirs.
    pub(super) fn detect(&self, text: &str, place: Place, found: &mut Findings) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
