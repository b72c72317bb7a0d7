//! The mutations: small, structure-blind edits of a corpus input, a few at a time.

use crate::MAX_INPUT;

/// A small, seedable random number generator (xorshift64*): the same seed gives the
/// same run on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; zero is replaced).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: usize) -> usize {
        if bound == 0 {
            return 0;
        }
        (self.next_u64() % bound as u64) as usize
    }

    /// `length` random bytes.
    pub fn bytes(&mut self, length: usize) -> Vec<u8> {
        (0..length).map(|_| self.next_u64() as u8).collect()
    }
}

/// Byte values that sit on boundaries decoders care about.
const INTERESTING: [u8; 8] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x20, 0x2f, 0x3a];

/// One to four mutations of `input`; `corpus` provides material for splicing.
pub(crate) fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(9) {
            0 if !out.is_empty() => {
                let at = rng.below(out.len());
                out[at] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let at = rng.below(out.len());
                out[at] = rng.next_u64() as u8;
            }
            2 if !out.is_empty() => {
                let at = rng.below(out.len());
                out[at] = INTERESTING[rng.below(INTERESTING.len())];
            }
            3 => {
                let at = rng.below(out.len() + 1);
                let length = 1 + rng.below(8);
                let inserted = rng.bytes(length);
                out.splice(at..at, inserted);
            }
            4 if !out.is_empty() => {
                let start = rng.below(out.len());
                let end = start + 1 + rng.below((out.len() - start).min(16));
                out.drain(start..end);
            }
            5 if !out.is_empty() => {
                let start = rng.below(out.len());
                let end = start + 1 + rng.below((out.len() - start).min(64));
                let copy = out[start..end].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, copy);
            }
            6 if !corpus.is_empty() => {
                // Splice: a prefix of this input and a suffix of another.
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(out.len() + 1);
                let from = rng.below(other.len() + 1);
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            7 if !out.is_empty() => {
                let length = rng.below(out.len());
                out.truncate(length);
            }
            8 if out.len() >= 2 => {
                // A length-like field: a big-endian u16 or u32 at a random place.
                let values: [u32; 6] = [0, 1, 0x7f, 0xffff, 0x7fff_ffff, u32::MAX];
                let value = values[rng.below(values.len())];
                let at = rng.below(out.len() - 1);
                if at + 4 <= out.len() && rng.below(2) == 0 {
                    out[at..at + 4].copy_from_slice(&value.to_be_bytes());
                } else {
                    out[at..at + 2].copy_from_slice(&(value as u16).to_be_bytes());
                }
            }
            _ => {}
        }
    }
    out.truncate(MAX_INPUT);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let corpus = vec![b"hello world".to_vec(), b"\x10\x0d\x00\x04MQTT".to_vec()];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..100)
                .map(|index| mutate(&mut rng, &corpus[index % 2], &corpus))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn mutations_change_inputs_and_stay_bounded() {
        let mut rng = Rng::new(1);
        let corpus = vec![vec![0u8; 100]];
        let changed = (0..1000)
            .filter(|_| mutate(&mut rng, &corpus[0], &corpus) != corpus[0])
            .count();
        assert!(changed > 900, "{changed}");
        let big = vec![vec![1u8; MAX_INPUT]];
        for _ in 0..100 {
            assert!(mutate(&mut rng, &big[0], &big).len() <= MAX_INPUT);
        }
    }
}
