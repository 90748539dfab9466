//! Texts as numbers. Records hold a [`Name`] or a dense code instead of a text, so the
//! frames polars counts hold numbers only and the memory they take grows with the
//! distinct values, not with every line. Texts come back only for the rows of the
//! results, after grouping (see [`Texts`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Mutex, MutexGuard};

use string_interner::backend::StringBackend;
use string_interner::symbol::SymbolU32;
use string_interner::{StringInterner, Symbol};

/// How many independently locked parts the table has, so that threads reading
/// different chunks seldom wait for each other.
const SHARDS: usize = 64;

/// One part of [`Names`]: its texts lie end to end in one string, each found by its
/// hash, so that a text costs its bytes and a dozen more.
type Shard = StringInterner<StringBackend<SymbolU32>>;

/// The distinct texts the records carry (paths, user keys, user agents, countries),
/// each stored once however many records name it. Threads reading different chunks
/// intern into the same table; a text's hash chooses its part.
///
/// A crawl brings a million distinct user keys and user agents, so the per-text cost
/// matters: a map from texts to numbers and back would cost ten times the bytes of a
/// typical user key.
#[derive(Debug)]
pub(crate) struct Names {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl Names {
    /// A part, whether or not a thread holding it panicked: texts are only ever added.
    fn shard(&self, i: usize) -> MutexGuard<'_, Shard> {
        self.shards[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A text interned in [`Names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Name(u32);

impl Names {
    pub(crate) fn intern(&self, text: &str) -> Name {
        let shard = (self.hasher.hash_one(text) % SHARDS as u64) as usize;
        let local = self.shard(shard).get_or_intern(text).to_usize();
        // The part is the code's remainder, the text's number in it the quotient.
        let code = local * SHARDS + shard;
        Name(u32::try_from(code).expect("fewer than 2^32 distinct texts"))
    }

    pub(crate) fn resolve(&self, name: Name) -> String {
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
        let local = SymbolU32::try_from_usize(code / SHARDS)?;
        self.shard(code % SHARDS).resolve(local).map(str::to_owned)
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
}
