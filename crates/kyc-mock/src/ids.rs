//! Random identifiers (`iss-…`, `fil-…`, `req-…`, `evt-…`). Not cryptographic: the simulator only
//! needs ids that do not collide within a run and that a client cannot predict by accident.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

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
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `prefix` followed by `len` random ASCII letters and digits.
    pub(crate) fn id(&self, prefix: &str, len: usize) -> String {
        let mut out = String::with_capacity(prefix.len() + len);
        out.push_str(prefix);
        for _ in 0..len {
            let n = usize::try_from(self.next_u64() % ALPHANUMERIC.len() as u64).unwrap_or(0);
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
}
