//! Shared plumbing of the kyc-rs adapters (`kyc-ureq`, `kyc-reqwest`): configuration from
//! `POMELO_*` environment variables, the transport defaults, the operating system's random bytes,
//! and the lock around the [`TokenSlot`] that every call of a client shares.
//!
//! It holds no HTTP client and no protocol knowledge: the lifecycle of a call (tokens, retries,
//! replays, deadlines) is `kyc_core::Call`'s, and the error type every call returns is
//! `kyc_core::CallError`, re-exported here as [`Error`]. Both adapters re-export what their users
//! need; use it through them.

mod defaults;
pub mod env;

use std::sync::{Mutex, MutexGuard, PoisonError};

pub use defaults::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BODY};
pub use env::{
    ENV_AUDIENCE, ENV_BASE_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_ENVIRONMENT, FromEnvError,
};
pub use kyc_core::{
    AttemptTimeout, CallError as Error, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OVERALL_TIMEOUT,
    SourceError, SourceErrorKind, TokenInfo, TransportError, TransportErrorKind,
};

use kyc_core::{Exchange, Settings, TokenSlot};

/// 16 bytes from the operating system's random source, for one call (its idempotency key and
/// its back-off jitter).
///
/// # Errors
///
/// [`Error::Randomness`] when the source fails.
pub fn random_bytes() -> Result<[u8; 16], Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| Error::Randomness)?;
    Ok(bytes)
}

/// The [`TokenSlot`] of one client behind a mutex. The lock is never held across a send, a
/// sleep or an `.await`, and a poisoned lock is used as is: the slot is consistent after every
/// method, so a panic elsewhere cannot leave it half-changed.
#[derive(Debug)]
pub struct Tokens(Mutex<TokenSlot>);

impl Tokens {
    /// An empty slot for a client with `settings`.
    #[must_use]
    pub fn new(settings: &Settings) -> Self {
        Self(Mutex::new(TokenSlot::new(settings)))
    }

    /// Locks the slot.
    pub fn lock(&self) -> MutexGuard<'_, TokenSlot> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running exchange that hands back a token fetch it holds when it is dropped before it is done
/// (an async caller's future dropped mid-fetch, a transport that panicked), so that the next
/// waiter fetches at once instead of when the lease runs out. `wake` wakes the waiters.
pub struct Running<'a, X: Exchange, W: Fn()> {
    /// The exchange.
    pub exchange: X,
    tokens: &'a Tokens,
    wake: W,
    done: bool,
}

impl<'a, X: Exchange, W: Fn()> Running<'a, X, W> {
    /// Watches `exchange`, whose calls share `tokens`.
    pub fn new(exchange: X, tokens: &'a Tokens, wake: W) -> Self {
        Self {
            exchange,
            tokens,
            wake,
            done: false,
        }
    }

    /// The exchange ended normally: nothing to hand back.
    pub fn finish(&mut self) {
        self.done = true;
    }
}

impl<X: Exchange, W: Fn()> Drop for Running<'_, X, W> {
    fn drop(&mut self) {
        if !self.done {
            let mut slot = self.tokens.lock();
            self.exchange.release(&mut slot);
            let wake = slot.take_wake();
            drop(slot);
            if wake {
                (self.wake)();
            }
        }
    }
}
