//! Texts as numbers. Records hold a [`Name`] or a dense code instead of a text, so the
//! frames polars counts hold numbers only and the memory they take grows with the
//! distinct values, not with every line. Texts come back only for the rows of the
//! results, after grouping (see [`Texts`]).

use std::collections::HashMap;
use std::hash::Hash;

use lasso::{Key, Spur, ThreadedRodeo};

/// The distinct texts the records carry (paths, user keys, user agents, countries),
/// each stored once however many records name it. Threads reading different chunks
/// intern into the same table.
#[derive(Debug, Default)]
pub struct Names(ThreadedRodeo);

/// A text interned in [`Names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name(Spur);

impl Names {
    pub fn intern(&self, text: &str) -> Name {
        Name(self.0.get_or_intern(text))
    }

    pub fn resolve(&self, name: Name) -> &str {
        self.0.resolve(&name.0)
    }
}

impl Name {
    /// The name as a column value.
    pub(super) fn index(self) -> u32 {
        // The table holds at most `u32::MAX` names: its keys are `u32`.
        u32::try_from(self.0.into_usize()).unwrap_or(u32::MAX)
    }
}

/// A table that gives back the text of a column code, for [`super::common::texts`].
pub(super) trait Texts: Send + Sync + 'static {
    fn text(&self, code: u32) -> Option<&str>;
}

impl Texts for Names {
    /// The text of a column value made by [`Name::index`].
    fn text(&self, code: u32) -> Option<&str> {
        let key = Spur::try_from_usize(usize::try_from(code).ok()?)?;
        self.0.try_resolve(&key)
    }
}

/// Labels by code, as [`Codes::labels`] lists them.
impl Texts for Vec<&'static str> {
    fn text(&self, code: u32) -> Option<&str> {
        self.get(usize::try_from(code).ok()?).copied()
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
