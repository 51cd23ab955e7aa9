//! The shared token cache with single-flight refresh: the core's [`TokenCache`] decides, this
//! module only makes sure one thread fetches while the others wait for its result.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use kyc_core::{AccessToken, Config, Credentials, TokenCache, TokenDecision, TokenGrant};

use crate::error::{Error, TransportError, TransportErrorKind};

/// What the token state hands out: the token with its type and expiry.
pub(crate) use kyc_adapter::TokenInfo as Current;

struct State {
    cache: TokenCache,
    /// Whether a thread is fetching a token right now.
    refreshing: bool,
    /// Number of refreshes finished (success or failure).
    generation: u64,
    /// The last refresh's result, for the threads that waited on it.
    last: Option<Result<Arc<Current>, Arc<Error>>>,
}

pub(crate) struct TokenState {
    state: Mutex<State>,
    finished: Condvar,
}

/// Clears `refreshing` and wakes the waiters even if the fetch panics.
struct RefreshGuard<'a> {
    owner: &'a TokenState,
    done: bool,
}

impl Drop for RefreshGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut st = self.owner.lock();
            st.refreshing = false;
            st.generation += 1;
            st.last = None;
            self.owner.finished.notify_all();
        }
    }
}

impl TokenState {
    pub(crate) fn new(margin: Duration) -> Self {
        Self {
            state: Mutex::new(State {
                cache: TokenCache::new(margin),
                refreshing: false,
                generation: 0,
                last: None,
            }),
            finished: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent under a panic (the guard above resets the flag), so a
        // poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A token usable now: the cached one, the one another thread is fetching, or one fetched
    /// here with `fetch` (which returns the grant and when its request was sent).
    pub(crate) fn token(
        &self,
        config: &Config,
        credentials: &Credentials,
        deadline: Instant,
        fetch: impl FnOnce(http::Request<kyc_core::Body>) -> Result<(TokenGrant, SystemTime), Error>,
    ) -> Result<Arc<Current>, Error> {
        let mut st = self.lock();
        loop {
            let now = SystemTime::now();
            if st.refreshing {
                let awaited = st.generation;
                while st.refreshing {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        return Err(TransportError::new(TransportErrorKind::Timeout, false)
                            .with_source("the call's deadline passed while waiting for a token")
                            .into());
                    };
                    st = self
                        .finished
                        .wait_timeout(st, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                if st.generation == awaited + 1 {
                    match &st.last {
                        Some(Ok(current)) => return Ok(current.clone()),
                        Some(Err(e)) => return Err(Error::Token(e.clone())),
                        None => {}
                    }
                }
                continue;
            }
            let request = match st.cache.decide(config, credentials, now)? {
                TokenDecision::Use(token) => {
                    return Ok(Arc::new(Current::from_cache(&st.cache, token)));
                }
                TokenDecision::Fetch(request) => *request,
            };
            st.refreshing = true;
            drop(st);
            let mut guard = RefreshGuard {
                owner: self,
                done: false,
            };
            let result = fetch(request);
            let mut st = self.lock();
            guard.done = true;
            st.refreshing = false;
            st.generation += 1;
            let outcome = match result {
                Ok((grant, sent_at)) => {
                    let token = st.cache.store(grant, sent_at).clone();
                    Ok(Arc::new(Current::from_cache(&st.cache, &token)))
                }
                Err(e) => Err(Arc::new(e)),
            };
            st.last = Some(outcome.clone());
            self.finished.notify_all();
            return outcome.map_err(Error::Token);
        }
    }

    /// A `401` answered a call made with `rejected`: drop it unless already replaced.
    pub(crate) fn on_unauthorized(&self, rejected: &AccessToken) {
        self.lock().cache.on_unauthorized(rejected);
    }

    /// Forgets the cached token.
    pub(crate) fn clear(&self) {
        self.lock().cache.clear();
    }
}
