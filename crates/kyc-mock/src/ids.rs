//! Random identifiers (`iss-…`, `fil-…`, `req-…`, `evt-…`) and the SplitMix64 generator behind
//! them and behind the seeded webhook chaos (`chaos.rs`). Not cryptographic: the simulator only
//! needs ids that do not collide within a run and that a client cannot predict by accident.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// SplitMix64's increment: its state after `n` steps is `seed + n × GAMMA`, so any position of a
/// stream can be reached at once.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The `position`-th number (from 0) of the SplitMix64 stream seeded with `seed`.
pub(crate) fn splitmix64(seed: u64, position: u64) -> u64 {
    let mut z = seed.wrapping_add(position.wrapping_add(1).wrapping_mul(GAMMA));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A random 64-bit draw as a uniform number in [0, 1) (its top 53 bits).
pub(crate) fn unit(draw: u64) -> f64 {
    (draw >> 11) as f64 / (1u64 << 53) as f64
}

/// A splitmix64 generator seeded from the process's hash randomness and the time.
#[derive(Debug)]
pub(crate) struct IdGen {
    state: Mutex<u64>,
}

impl IdGen {
    pub(crate) fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let seed = RandomState::new().hash_one(nanos);
        Self {
            state: Mutex::new(seed),
        }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&self) -> u64 {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let draw = splitmix64(*s, 0);
        *s = s.wrapping_add(GAMMA);
        draw
    }

    /// `prefix` followed by `len` random ASCII letters and digits: the next `len` numbers of the
    /// stream, drawn under one lock (every request draws an id).
    pub(crate) fn id(&self, prefix: &str, len: usize) -> String {
        let mut out = String::with_capacity(prefix.len() + len);
        out.push_str(prefix);
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for _ in 0..len {
            let draw = splitmix64(*s, 0);
            *s = s.wrapping_add(GAMMA);
            let n = usize::try_from(draw % ALPHANUMERIC.len() as u64).unwrap_or(0);
            out.push(char::from(*ALPHANUMERIC.get(n).unwrap_or(&b'0')));
        }
        out
    }

    /// `n` random bytes.
    pub(crate) fn bytes(&self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_prefix_length_and_alphabet() {
        let g = IdGen::new();
        let id = g.id("iss-", 27);
        assert_eq!(id.len(), 31);
        assert!(id.starts_with("iss-"));
        assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(g.id("iss-", 27), id);
        assert_eq!(g.bytes(33).len(), 33);
    }

    #[test]
    fn splitmix64_is_the_published_generator() {
        // The first outputs for seed 1234567 of the reference implementation (Vigna, 2015).
        assert_eq!(splitmix64(1_234_567, 0), 6_457_827_717_110_365_317);
        assert_eq!(splitmix64(1_234_567, 1), 3_203_168_211_198_807_973);
        assert_eq!(splitmix64(1_234_567, 2), 9_817_491_932_198_370_423);
        assert_eq!(splitmix64(1_234_567, 4), 16_408_922_859_458_223_821);
        assert!(unit(u64::MAX) < 1.0);
        assert!(unit(0) == 0.0);
    }
}
