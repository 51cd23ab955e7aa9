//! The shared token cache with async single-flight refresh: the core's [`TokenCache`] decides,
//! this module only makes sure one task fetches while the others wait for its result.
//!
//! A `tokio::sync::Mutex` (fair, first come first served) is held for the whole fetch; the cache
//! itself sits behind a plain mutex never held across an `.await`. A task that waited for a
//! refresh takes that refresh's result, success or failure, instead of sending a request of its
//! own.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use kyc_core::{AccessToken, Config, Credentials, TokenCache, TokenDecision, TokenGrant};
use tokio::time::Instant;

use crate::error::{Error, TransportError, TransportErrorKind};

/// What the token state hands out: the token with its type and expiry.
pub(crate) use kyc_adapter::TokenInfo as Current;

struct State {
    cache: TokenCache,
    /// Number of refreshes finished (success or failure).
    generation: u64,
    /// The last refresh's result, for the tasks that waited on it.
    last: Option<Result<Arc<Current>, Arc<Error>>>,
}

pub(crate) struct TokenState {
    state: Mutex<State>,
    /// Held by the task fetching a token.
    refresh: tokio::sync::Mutex<()>,
}

enum Step {
    Done(Result<Arc<Current>, Error>),
    Fetch(http::Request<kyc_core::Body>),
}

impl TokenState {
    pub(crate) fn new(margin: Duration) -> Self {
        Self {
            state: Mutex::new(State {
                cache: TokenCache::new(margin),
                generation: 0,
                last: None,
            }),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Never held across an await or a panic-prone call: a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Uses the cached token, or the result of a refresh that finished after `seen`, or says what
    /// to fetch.
    fn step(&self, config: &Config, credentials: &Credentials, seen: Option<u64>) -> Step {
        let st = self.lock();
        if let Some(seen) = seen {
            if st.generation != seen {
                if let Some(Err(e)) = &st.last {
                    return Step::Done(Err(Error::Token(e.clone())));
                }
            }
        }
        match st.cache.decide(config, credentials, SystemTime::now()) {
            Ok(TokenDecision::Use(token)) => {
                Step::Done(Ok(Arc::new(Current::from_cache(&st.cache, token))))
            }
            Ok(TokenDecision::Fetch(request)) => Step::Fetch(*request),
            Err(e) => Step::Done(Err(e.into())),
        }
    }

    /// A token usable now: the cached one, the one another task is fetching, or one fetched here
    /// with `fetch` (which returns the grant and when its request was sent).
    pub(crate) async fn token<F, Fut>(
        &self,
        config: &Config,
        credentials: &Credentials,
        deadline: Instant,
        fetch: F,
    ) -> Result<Arc<Current>, Error>
    where
        F: FnOnce(http::Request<kyc_core::Body>) -> Fut,
        Fut: Future<Output = Result<(TokenGrant, SystemTime), Error>>,
    {
        let seen = {
            if let Step::Done(result) = self.step(config, credentials, None) {
                return result;
            }
            self.lock().generation
        };
        let _flight = tokio::time::timeout_at(deadline, self.refresh.lock())
            .await
            .map_err(|_| {
                Error::from(
                    TransportError::new(TransportErrorKind::Timeout, false)
                        .with_source("the call's deadline passed while waiting for a token"),
                )
            })?;
        let request = match self.step(config, credentials, Some(seen)) {
            Step::Done(result) => return result,
            Step::Fetch(request) => request,
        };
        // If this future is dropped mid-fetch, the lock is released and the next waiter fetches.
        let result = fetch(request).await;
        let mut st = self.lock();
        st.generation += 1;
        let outcome = match result {
            Ok((grant, sent_at)) => {
                let token = st.cache.store(grant, sent_at).clone();
                Ok(Arc::new(Current::from_cache(&st.cache, &token)))
            }
            Err(e) => Err(Arc::new(e)),
        };
        st.last = Some(outcome.clone());
        outcome.map_err(Error::Token)
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
