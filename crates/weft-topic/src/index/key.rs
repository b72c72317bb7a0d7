//! [`LevelKey`]: how the trie stores a literal level, and [`Probe`]: how a topic level
//! looks one up.
//!
//! Short levels (the vast majority: `orders`, `eu`, `created`) are stored inline as three
//! zero-padded little-endian words, so a lookup compares three integers in registers
//! instead of following a pointer to a heap string and calling `memcmp` (on a large index
//! that pointer is a cache miss per level), and hashes three words instead of a byte
//! string. Zero padding is unambiguous because levels never contain NUL; the empty level
//! (of `/a` or `a//b`) is the key of three zero words.

use std::hash::{BuildHasher, Hasher};

/// Levels up to this many bytes are stored inline.
const INLINE: usize = 24;

/// The inline form of a short level.
type Words = [u64; INLINE / 8];

/// A literal filter level as a trie key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LevelKey {
    /// At most [`INLINE`] bytes, zero-padded.
    Short(Words),
    /// Longer levels.
    Long(Box<[u8]>),
}

impl LevelKey {
    pub(super) fn new(level: &str) -> Self {
        let bytes = level.as_bytes();
        match pack(bytes) {
            Some(words) => Self::Short(words),
            None => Self::Long(bytes.into()),
        }
    }

    /// The hash of this level; the same as the hash of a [`Probe`] of it.
    pub(super) fn hash(&self, hasher: &impl BuildHasher) -> u64 {
        match self {
            Self::Short(words) => hash_words(hasher, words),
            Self::Long(bytes) => hasher.hash_one(&**bytes),
        }
    }
}

/// A topic level prepared for lookups: hashed and packed once, then compared with the
/// keys of the candidates that share its hash.
pub(super) struct Probe<'t> {
    pub(super) hash: u64,
    key: ProbeKey<'t>,
}

enum ProbeKey<'t> {
    Short(Words),
    Long(&'t [u8]),
}

impl<'t> Probe<'t> {
    #[inline]
    pub(super) fn new(hasher: &impl BuildHasher, level: &'t str) -> Self {
        let bytes = level.as_bytes();
        match pack(bytes) {
            Some(words) => Self {
                hash: hash_words(hasher, &words),
                key: ProbeKey::Short(words),
            },
            None => Self {
                hash: hasher.hash_one(bytes),
                key: ProbeKey::Long(bytes),
            },
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

#[inline]
fn hash_words(hasher: &impl BuildHasher, words: &Words) -> u64 {
    let mut state = hasher.build_hasher();
    for word in words {
        state.write_u64(*word);
    }
    state.finish()
}

/// Packs a level of at most [`INLINE`] bytes into zero-padded little-endian words.
///
/// Shifts rather than a copy: a variable-length `copy_from_slice` becomes a `memcpy` call
/// that costs more than the whole loop on levels this short.
#[inline]
fn pack(bytes: &[u8]) -> Option<Words> {
    if bytes.len() > INLINE {
        return None;
    }
    let mut words = [0u64; INLINE / 8];
    for (index, byte) in bytes.iter().enumerate() {
        words[index / 8] |= u64::from(*byte) << (8 * (index % 8));
    }
    Some(words)
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
    fn packing_keeps_every_byte_in_order() {
        assert_eq!(pack(b"ab"), Some([0x6261, 0, 0]));
        assert_eq!(pack(b"abcdefghi"), Some([0x6867_6665_6463_6261, 0x69, 0]));
    }

    #[test]
    fn probe_is_equal_only_to_its_own_level_and_hashes_like_it() {
        let hasher = foldhash::fast::RandomState::default();
        let exact = "x".repeat(INLINE);
        let long = "z".repeat(40);
        let levels = ["a", "ab", "ünï", exact.as_str(), long.as_str()];
        for level in levels {
            let probe = Probe::new(&hasher, level);
            let key = LevelKey::new(level);
            assert!(probe.is(&key), "{level}");
            assert_eq!(probe.hash, key.hash(&hasher), "{level}");
            for other in ["b", "abc", &exact[1..], &long[1..], &format!("{exact}x")] {
                assert!(!probe.is(&LevelKey::new(other)), "{level} vs {other}");
            }
            assert!(!probe.is(&LevelKey::new("")), "{level} vs the empty level");
            assert!(
                !Probe::new(&hasher, "").is(&key),
                "the empty level vs {level}"
            );
        }
        let empty = Probe::new(&hasher, "");
        assert!(empty.is(&LevelKey::new("")));
        assert_eq!(empty.hash, LevelKey::new("").hash(&hasher));
    }
}
