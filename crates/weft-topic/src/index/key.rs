//! [`LevelKey`]: how the trie stores a literal level, and [`Probe`]: how a topic level
//! looks one up.
//!
//! Short levels (the vast majority: `orders`, `eu`, `created`) are stored inline and
//! zero-padded, so a lookup compares two small arrays in registers instead of following a
//! pointer to a heap string and calling `memcmp`; on a large index that pointer is a cache
//! miss per level. Zero padding is unambiguous because levels never contain NUL.

use std::hash::BuildHasher;

/// Levels up to this many bytes are stored inline.
const INLINE: usize = 23;

/// A literal filter level as a trie key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LevelKey {
    /// At most [`INLINE`] bytes, zero-padded.
    Short([u8; INLINE]),
    /// Longer levels.
    Long(Box<[u8]>),
}

impl LevelKey {
    pub(super) fn new(level: &str) -> Self {
        match pad(level.as_bytes()) {
            Some(short) => Self::Short(short),
            None => Self::Long(level.as_bytes().into()),
        }
    }

    /// The level's bytes, as hashed by [`hash_level`].
    pub(super) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Short(bytes) => {
                let len = bytes.iter().position(|&byte| byte == 0).unwrap_or(INLINE);
                &bytes[..len]
            }
            Self::Long(bytes) => bytes,
        }
    }
}

/// A topic level prepared for lookups in every node that the match visits at its depth:
/// hashed once and padded once.
pub(super) struct Probe<'t> {
    pub(super) hash: u64,
    key: ProbeKey<'t>,
}

enum ProbeKey<'t> {
    Short([u8; INLINE]),
    Long(&'t [u8]),
}

impl<'t> Probe<'t> {
    pub(super) fn new(hasher: &impl BuildHasher, level: &'t str) -> Self {
        let bytes = level.as_bytes();
        let key = match pad(bytes) {
            Some(short) => ProbeKey::Short(short),
            None => ProbeKey::Long(bytes),
        };
        Self {
            hash: hash_level(hasher, bytes),
            key,
        }
    }

    /// Whether `key` is this level.
    #[inline]
    pub(super) fn is(&self, key: &LevelKey) -> bool {
        match (&self.key, key) {
            (ProbeKey::Short(probe), LevelKey::Short(stored)) => probe == stored,
            (ProbeKey::Long(probe), LevelKey::Long(stored)) => *probe == &**stored,
            _ => false,
        }
    }
}

/// The hash of a level: the same for a [`LevelKey`] and a [`Probe`] of the same level.
pub(super) fn hash_level(hasher: &impl BuildHasher, bytes: &[u8]) -> u64 {
    hasher.hash_one(bytes)
}

fn pad(bytes: &[u8]) -> Option<[u8; INLINE]> {
    let mut short = [0; INLINE];
    short.get_mut(..bytes.len())?.copy_from_slice(bytes);
    Some(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_levels_are_inline_and_long_levels_on_the_heap() {
        assert!(matches!(LevelKey::new("orders"), LevelKey::Short(_)));
        assert!(matches!(
            LevelKey::new(&"x".repeat(INLINE)),
            LevelKey::Short(_)
        ));
        assert!(matches!(
            LevelKey::new(&"x".repeat(INLINE + 1)),
            LevelKey::Long(_)
        ));
    }

    #[test]
    fn key_bytes_are_the_level() {
        for level in [
            "a",
            "orders",
            &"x".repeat(INLINE),
            &"y".repeat(INLINE + 1),
            "ünï",
        ] {
            assert_eq!(LevelKey::new(level).as_bytes(), level.as_bytes());
        }
    }

    #[test]
    fn probe_is_equal_only_to_its_own_level() {
        let hasher = foldhash::fast::RandomState::default();
        let long = "z".repeat(40);
        for level in ["a", "ab", &long] {
            let probe = Probe::new(&hasher, level);
            assert!(probe.is(&LevelKey::new(level)), "{level}");
            assert_eq!(
                probe.hash,
                hash_level(&hasher, LevelKey::new(level).as_bytes())
            );
            for other in ["b", "a\u{1}", "abc", &long[1..]] {
                assert!(!probe.is(&LevelKey::new(other)), "{level} vs {other}");
            }
        }
    }
}
