//! Interning of device ids and source names.
//!
//! On the hot path a device is a `u32`; its string exists once, here. The [`Interner`] is shared
//! by every thread of a process (sources intern, sinks resolve). Sources put an
//! [`InternCache`] in front of it so that a known id costs one local hash lookup and no lock.
//! The Arrow dictionary of all names is cached and rebuilt only when new names arrive, so a
//! batch's `device` column is a `DictionaryArray` whose keys are the interned ids themselves.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use datafusion::arrow::array::{ArrayRef, StringArray};

type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

#[derive(Default)]
struct Inner {
    ids: FastMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
    dictionary: Option<ArrayRef>,
}

/// A process-wide, append-only string interner.
#[derive(Default)]
pub struct Interner {
    inner: RwLock<Inner>,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner")
            .field("len", &self.len())
            .finish()
    }
}

impl Interner {
    /// A new, empty interner behind an `Arc`.
    pub fn shared() -> Arc<Interner> {
        Arc::new(Interner::default())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked while holding it; the map is
        // append-only and never left half-updated, so reading on is sound.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The id of `name`, interning it if new.
    pub fn intern(&self, name: &str) -> u32 {
        if let Some(&id) = self.read().ids.get(name) {
            return id;
        }
        let mut inner = self.write();
        if let Some(&id) = inner.ids.get(name) {
            return id;
        }
        let id = u32::try_from(inner.names.len()).unwrap_or(u32::MAX);
        let name: Arc<str> = Arc::from(name);
        inner.names.push(Arc::clone(&name));
        inner.ids.insert(name, id);
        inner.dictionary = None;
        id
    }

    /// The id of `name` if it was interned.
    pub fn lookup(&self, name: &str) -> Option<u32> {
        self.read().ids.get(name).copied()
    }

    /// The name of `id`.
    pub fn name(&self, id: u32) -> Option<Arc<str>> {
        self.read().names.get(id as usize).cloned()
    }

    /// Number of interned names.
    pub fn len(&self) -> usize {
        self.read().names.len()
    }

    /// Whether nothing was interned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All names as an Arrow `StringArray` indexed by id (cached until a new name arrives).
    pub fn dictionary_values(&self) -> ArrayRef {
        if let Some(dict) = &self.read().dictionary {
            return Arc::clone(dict);
        }
        let mut inner = self.write();
        let dict: ArrayRef = Arc::new(StringArray::from_iter_values(
            inner.names.iter().map(|n| &**n),
        ));
        inner.dictionary = Some(Arc::clone(&dict));
        dict
    }
}

/// A thread-local cache in front of a shared [`Interner`]: known names cost no lock.
#[derive(Debug)]
pub struct InternCache {
    shared: Arc<Interner>,
    local: FastMap<Box<str>, u32>,
}

impl InternCache {
    /// A cache over `shared`.
    pub fn new(shared: Arc<Interner>) -> Self {
        Self {
            shared,
            local: FastMap::default(),
        }
    }

    /// The id of `name`, interning it if new.
    #[inline]
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.local.get(name) {
            return id;
        }
        let id = self.shared.intern(name);
        self.local.insert(name.into(), id);
        id
    }

    /// The shared interner.
    pub fn shared(&self) -> &Arc<Interner> {
        &self.shared
    }
}

/// Sort keys for interned names that do not depend on interning order: a 64-bit FNV-1a hash
/// of the name, computed once per id. Sorting output rows by it (then by name on the
/// astronomically rare hash tie, see [`NameKeys::cmp`]) gives the same order in every run
/// — whatever order the names were first seen in — at the price of an integer compare per
/// row instead of a lock and a string compare.
#[derive(Debug)]
pub struct NameKeys {
    interner: Arc<Interner>,
    keys: Vec<u64>,
}

impl NameKeys {
    /// Keys over `interner`.
    pub fn new(interner: Arc<Interner>) -> Self {
        Self {
            interner,
            keys: Vec::new(),
        }
    }

    /// The key of `id` (0 is never a key: it marks "not computed").
    pub fn key(&mut self, id: u32) -> u64 {
        let i = id as usize;
        if i >= self.keys.len() {
            self.keys.resize(i + 1, 0);
        }
        if self.keys[i] == 0 {
            let name = self.interner.name(id).unwrap_or_else(|| Arc::from(""));
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in name.as_bytes() {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            self.keys[i] = h.max(1);
        }
        self.keys[i]
    }

    /// Orders two ids by key, then by name (only on a hash tie between distinct names).
    pub fn cmp(&mut self, a: u32, b: u32) -> std::cmp::Ordering {
        if a == b {
            return std::cmp::Ordering::Equal;
        }
        self.key(a)
            .cmp(&self.key(b))
            .then_with(|| self.interner.name(a).cmp(&self.interner.name(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Array;

    #[test]
    fn name_keys_ignore_interning_order() {
        let (one, two) = (Interner::shared(), Interner::shared());
        for n in ["home-001-bed", "home-002-door", "llamas-env-01"] {
            one.intern(n);
        }
        for n in ["llamas-env-01", "home-002-door", "home-001-bed"] {
            two.intern(n);
        }
        let (mut k1, mut k2) = (
            NameKeys::new(Arc::clone(&one)),
            NameKeys::new(Arc::clone(&two)),
        );
        let order = |keys: &mut NameKeys, interner: &Interner| {
            let mut ids: Vec<u32> = (0..3).collect();
            ids.sort_by(|a, b| keys.cmp(*a, *b));
            ids.iter()
                .map(|i| interner.name(*i).expect("name").to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(order(&mut k1, &one), order(&mut k2, &two));
        assert_eq!(k1.key(0), k2.key(2));
    }

    #[test]
    fn ids_are_dense_and_stable() {
        let interner = Interner::shared();
        let mut cache = InternCache::new(Arc::clone(&interner));
        assert_eq!(cache.intern("a"), 0);
        assert_eq!(cache.intern("b"), 1);
        assert_eq!(interner.intern("a"), 0);
        assert_eq!(interner.name(1).as_deref(), Some("b"));
        assert_eq!(interner.lookup("c"), None);
        let dict = interner.dictionary_values();
        assert_eq!(dict.len(), 2);
        interner.intern("c");
        assert_eq!(interner.dictionary_values().len(), 3);
    }
}
