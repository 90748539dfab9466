//! Texts as numbers. Records hold a [`Name`] or a dense code instead of a text, so the
//! frames polars counts hold numbers only and the memory they take grows with the
//! distinct values, not with every line. Texts come back only for the rows of the
//! results, after grouping (see [`Texts`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::sync::Mutex;

/// How many independently locked parts the table has, so that threads reading
/// different chunks seldom wait for each other.
const SHARDS: usize = 64;

/// The distinct texts the records carry (paths, user keys, user agents, countries),
/// each stored once however many records name it. Threads reading different chunks
/// intern into the same table.
///
/// A crawl brings a million distinct user keys and user agents, so each text costs
/// its bytes and about twenty more: the texts of a part lie end to end in one string,
/// found by a 32-bit piece of their hash.
#[derive(Debug)]
pub struct Names {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
        }
    }
}

/// One part of [`Names`]: the texts whose hash falls in it.
#[derive(Debug, Default)]
struct Shard {
    /// Every text of the part, end to end.
    texts: String,
    /// Where each text ends in `texts`, by its number in the part.
    ends: Vec<usize>,
    /// The number of a text by 32 bits of its hash. A text whose bits are taken
    /// by another text is in `clashes`.
    by_hash: HashMap<u32, u32, BuildHasherDefault<Spread>>,
    clashes: HashMap<Box<str>, u32>,
}

impl Shard {
    fn text(&self, local: u32) -> Option<&str> {
        text_at(&self.texts, &self.ends, local)
    }

    /// The number of `text` in the part, given a new one if it has none.
    fn intern(&mut self, text: &str, bits: u32) -> u32 {
        let next = u32::try_from(self.ends.len()).expect("fewer than 2^32 distinct texts");
        let Shard {
            texts,
            ends,
            by_hash,
            clashes,
        } = self;
        let local = match by_hash.entry(bits) {
            Entry::Vacant(v) => *v.insert(next),
            Entry::Occupied(o) if text_at(texts, ends, *o.get()) == Some(text) => *o.get(),
            Entry::Occupied(_) => *clashes.entry(text.into()).or_insert(next),
        };
        if local == next {
            texts.push_str(text);
            ends.push(texts.len());
        }
        local
    }
}

/// The text numbered `local` among `texts`, which end at `ends`.
fn text_at<'a>(texts: &'a str, ends: &[usize], local: u32) -> Option<&'a str> {
    let local = usize::try_from(local).ok()?;
    let end = *ends.get(local)?;
    let start = local.checked_sub(1).map_or(0, |before| ends[before]);
    texts.get(start..end)
}

/// Spreads a key that is a piece of a hash already over the table.
#[derive(Default)]
struct Spread(u64);

impl Hasher for Spread {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }
}

/// A text interned in [`Names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name(u32);

impl Names {
    pub fn intern(&self, text: &str) -> Name {
        let hash = self.hasher.hash_one(text);
        // The low bits choose the part, the high ones find the text in it.
        let shard = (hash % SHARDS as u64) as usize;
        let bits = (hash >> 32) as u32;
        let local = self.shards[shard]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .intern(text, bits);
        let code = u64::from(local) * SHARDS as u64 + shard as u64;
        Name(u32::try_from(code).expect("fewer than 2^32 distinct texts"))
    }

    pub fn resolve(&self, name: Name) -> String {
        self.text(name.0).unwrap_or_default()
    }
}

impl Name {
    /// The name as a column value.
    pub(super) fn index(self) -> u32 {
        self.0
    }
}

/// A table that gives back the text of a column code, for [`super::common::texts`].
pub(super) trait Texts: Send + Sync + 'static {
    fn text(&self, code: u32) -> Option<String>;
}

impl Texts for Names {
    /// The text of a column value made by [`Name::index`].
    fn text(&self, code: u32) -> Option<String> {
        let code = usize::try_from(code).ok()?;
        let shard = self.shards[code % SHARDS]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        shard
            .text(u32::try_from(code / SHARDS).ok()?)
            .map(str::to_owned)
    }
}

/// Labels by code, as [`Codes::labels`] lists them.
impl Texts for Vec<&'static str> {
    fn text(&self, code: u32) -> Option<String> {
        self.get(usize::try_from(code).ok()?).map(|&t| t.to_owned())
    }
}

/// A dense number per distinct value, for values that are only ever counted (client
/// addresses, audit authors) or that name a small closed set (audit labels).
#[derive(Debug)]
pub(super) struct Codes<K>(HashMap<K, u32>);

impl<K> Default for Codes<K> {
    fn default() -> Self {
        Codes(HashMap::new())
    }
}

impl<K: Hash + Eq> Codes<K> {
    pub(super) fn code(&mut self, value: K) -> u32 {
        let next = u32::try_from(self.0.len()).unwrap_or(u32::MAX);
        *self.0.entry(value).or_insert(next)
    }
}

impl<K: Copy> Codes<K> {
    /// The values, each at the position of its code.
    pub(super) fn labels(&self) -> Vec<K> {
        let mut by_code: Vec<(u32, K)> = self.0.iter().map(|(&k, &c)| (c, k)).collect();
        by_code.sort_unstable_by_key(|&(c, _)| c);
        by_code.into_iter().map(|(_, k)| k).collect()
    }
}

/// The position of a value in one of the enums' `ALL`, as a column value.
pub(super) fn position<T: PartialEq>(all: &[T], value: T) -> u32 {
    let at = all.iter().position(|v| *v == value).unwrap_or_default();
    u32::try_from(at).unwrap_or_default()
}

/// The value a column code made by [`position`] stands for.
pub(super) fn at_position<T: Copy>(all: &[T], code: Option<u32>) -> Option<T> {
    all.get(usize::try_from(code?).ok()?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_comes_back_from_its_name() {
        let names = Names::default();
        let texts: Vec<String> = (0..5000).map(|i| format!("agent/{i} ünï")).collect();
        let interned: Vec<Name> = texts.iter().map(|t| names.intern(t)).collect();
        for (t, n) in texts.iter().zip(&interned) {
            assert_eq!(names.intern(t), *n);
            assert_eq!(names.resolve(*n), *t);
            assert_eq!(names.text(n.index()).as_deref(), Some(t.as_str()));
        }
        let distinct: std::collections::HashSet<_> = interned.iter().collect();
        assert_eq!(distinct.len(), texts.len());
        assert_eq!(names.intern(""), names.intern(""));
        assert_eq!(names.resolve(names.intern("")), "");
    }

    /// Two texts whose hashes share the bits the table is keyed by stay two texts.
    #[test]
    fn texts_with_the_same_hash_bits_stay_apart() {
        let mut shard = Shard::default();
        let a = shard.intern("acme/app", 7);
        let b = shard.intern("bob", 7);
        let c = shard.intern("carol", 7);
        assert_eq!(
            (shard.intern("acme/app", 7), shard.intern("bob", 7)),
            (a, b)
        );
        assert_eq!(shard.intern("carol", 7), c);
        assert!(a != b && b != c && a != c);
        assert_eq!(
            [a, b, c].map(|n| shard.text(n)),
            [Some("acme/app"), Some("bob"), Some("carol")]
        );
    }
}
