//! What every part of the guard shares: the kinds of values a hit can be, the
//! canaries' table by hash, what a check found, and the frozen guard itself. The
//! canaries fill the table, the detectors and the final check add to the findings.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use ipnetwork::IpNetwork;

use super::marks::Place;

/// The kind of personal value a hit was: what a refusal may say instead of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum HitKind {
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
    pub(super) const ALL: [HitKind; 7] = [
        HitKind::Ip,
        HitKind::Username,
        HitKind::Email,
        HitKind::Name,
        HitKind::UserAgent,
        HitKind::Token,
        HitKind::UrlCredentials,
    ];

    pub(super) fn name(self) -> &'static str {
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
pub(super) struct ByHash {
    keys: HashSet<u64, BuildHasherDefault<Prehashed>>,
    /// The kinds there are, a bit each by their place in [`HitKind::ALL`].
    kinds: u8,
}

const KIND_BITS: u64 = 0b111;

impl ByHash {
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The kind of the canary with this hash.
    pub(super) fn get(&self, hash: u64) -> Option<HitKind> {
        (0u8..)
            .zip(HitKind::ALL)
            .filter(|&(code, _)| self.kinds & (1 << code) != 0)
            .find(|&(code, _)| self.keys.contains(&(hash & !KIND_BITS | u64::from(code))))
            .map(|(_, kind)| kind)
    }

    /// Adds a canary, unless one with the same hash is there already (whose kind
    /// stays). Whether it was added.
    pub(super) fn insert(&mut self, hash: u64, kind: HitKind) -> bool {
        if self.get(hash).is_some() {
            return false;
        }
        let code = kind as u8;
        self.kinds |= 1 << code;
        self.keys.insert(hash & !KIND_BITS | u64::from(code))
    }

    pub(super) fn contains(&self, hash: u64) -> bool {
        self.get(hash).is_some()
    }

    /// Takes in the canaries of another table.
    pub(super) fn merge(&mut self, mut other: ByHash) {
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

/// The frozen guard: checks data text, and finishes rendered replies.
pub(crate) struct Guard {
    pub(super) values: ByHash,
    pub(super) longest: usize,
    pub(super) allowed: HashSet<String>,
    pub(super) own_emails: HashSet<String>,
    pub(super) own_ranges: Vec<IpNetwork>,
}

/// What a check found: the kinds of values, and the parts of the reply they were in,
/// each as a refusal names it, with its place (for the advice).
#[derive(Debug, Default)]
pub(super) struct Findings {
    pub(super) kinds: BTreeMap<HitKind, usize>,
    pub(super) parts: BTreeMap<String, Place>,
}

impl Findings {
    pub(super) fn add(&mut self, kind: HitKind, n: usize) {
        if n > 0 {
            *self.kinds.entry(kind).or_default() += n;
        }
    }

    /// Takes in what `other` found in another spelling of the same value: per kind,
    /// the most any spelling showed, so that a value is not counted once per spelling.
    pub(super) fn most(&mut self, other: Findings) {
        for (kind, n) in other.kinds {
            let have = self.kinds.entry(kind).or_default();
            *have = (*have).max(n);
        }
    }

    pub(super) fn total(&self) -> usize {
        self.kinds.values().sum()
    }
}
