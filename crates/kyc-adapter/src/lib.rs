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
mod source;
mod trace;
mod walk;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub use defaults::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BODY};
pub use source::{Observe, Source, SourceFrom, file_name_of};
pub use trace::{Trace, operation_name};
pub use walk::{Walk, WalkStep};

/// What both clients re-export, written once: each adapter's `lib.rs` says
/// `pub use kyc_adapter::exports::*;`, so a name is the same item whichever client it comes from.
pub mod exports {
    pub use crate::env::{
        ENV_AUDIENCE, ENV_BASE_URL, ENV_CANCEL_SESSION_PATH, ENV_CLEAN_VALIDATIONS_PATH,
        ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_ENVIRONMENT, ENV_FIRST_PAGE, ENV_GET_SESSION_PATH,
        ENV_MAX_PAGES, ENV_SEARCH_SESSIONS_PATH, FromEnvError, SETTINGS, Setting,
    };
    pub use crate::new_idempotency_key;
    /// The protocol core, re-exported so one dependency is enough.
    pub use kyc_core;
    /// Re-exported so transports build requests and responses with the same `http` version.
    pub use kyc_core::http;
    pub use kyc_core::{
        AttemptTimeout, CallError as Error, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OVERALL_TIMEOUT,
        Fault, SourceError, SourceErrorKind, Stage, TokenInfo, TransportError, TransportErrorKind,
    };
}

pub use exports::{Error, SourceError, SourceErrorKind};

use kyc_core::{Call, Endpoint, Exchange, IdempotencyKey, Now, Settings, TokenSlot};

/// One logical call of `endpoint` made at `now`, its random bytes (back-off jitter, and the
/// idempotency key of a creating request that carries none of the caller's) from the operating
/// system.
///
/// # Errors
///
/// [`Fault::Randomness`](kyc_core::Fault::Randomness) when no random bytes could be drawn; the
/// refusals of [`Call::new`].
pub fn new_call<'a, E: Endpoint>(
    settings: &'a Settings,
    endpoint: &'a E,
    now: Now,
) -> Result<Call<'a, E>, Error> {
    Call::new(settings, endpoint, random_bytes()?, now)
}

/// A new idempotency key of 128 random bits from the operating system: a job draws one, stores
/// it, then creates with it (`CreateSession::idempotency_key`, `UploadFile::idempotency_key`), so
/// that after a crash or a timeout it can create again under the same key.
///
/// # Errors
///
/// [`Fault::Randomness`](kyc_core::Fault::Randomness) when the random source fails.
pub fn new_idempotency_key() -> Result<IdempotencyKey, Error> {
    Ok(IdempotencyKey::from_random_bytes(random_bytes()?))
}

/// 16 bytes from the operating system's random source, for one call (its idempotency key and
/// its back-off jitter).
///
/// # Errors
///
/// [`Fault::Randomness`](kyc_core::Fault::Randomness) when the source fails.
pub fn random_bytes() -> Result<[u8; 16], Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| Error::new(kyc_core::Fault::Randomness))?;
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

/// What a client and its clones share: the settings every call follows, the transport, the
/// token slot and the wake-up of the callers waiting on it (a `Condvar`, a `Notify`). Its
/// `Debug` shows the settings only.
pub struct Shared<T, W> {
    /// The settings every call follows.
    pub settings: Settings,
    /// The transport.
    pub transport: T,
    /// The token slot.
    pub tokens: Tokens,
    /// Wakes the callers waiting on the token slot.
    pub woken: W,
}

impl<T, W: Default> Shared<T, W> {
    /// A client's shared state for `settings` and `transport`, with an empty token slot.
    pub fn new(settings: Settings, transport: T) -> Self {
        Self {
            tokens: Tokens::new(&settings),
            settings,
            transport,
            woken: W::default(),
        }
    }
}

impl<T, W> std::fmt::Debug for Shared<T, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
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

/// What a file opened for an upload looked like when it was opened: every attempt checks the
/// file against it before reading it again, so one upload never sends two different files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    /// Its length.
    pub len: u64,
    /// Its modification time, where the system keeps one.
    pub modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    /// The stamp of `meta`.
    #[must_use]
    pub fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    /// Whether the file now described by `meta` is still the one stamped.
    ///
    /// # Errors
    ///
    /// [`SourceErrorKind::LengthChanged`] or [`SourceErrorKind::Changed`], naming `path`.
    pub fn check(
        &self,
        meta: &std::fs::Metadata,
        path: &std::path::Path,
    ) -> Result<(), SourceError> {
        let now = Self::of(meta);
        let kind = if now.len != self.len {
            SourceErrorKind::LengthChanged
        } else if now.modified != self.modified {
            SourceErrorKind::Changed
        } else {
            return Ok(());
        };
        Err(SourceError::new(kind, Some(path.to_owned()), None))
    }
}

/// Where the reader or stream of an upload leaves its first failure, so that the client tells a
/// failing source from a failing connection whatever the HTTP stack makes of the error. Clones
/// share the cell.
#[derive(Clone, Default, Debug)]
pub struct SourceCell(Arc<Mutex<Option<std::io::Error>>>);

impl SourceCell {
    /// The failure left, if any (and empties the cell).
    #[must_use]
    pub fn take(&self) -> Option<std::io::Error> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Keeps a copy of `e` unless a failure is already kept.
    pub fn put(&self, e: &std::io::Error) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(std::io::Error::new(e.kind(), e.to_string()));
        }
    }
}

/// Writes a send body's `Debug`: its length and whether it is streamed, never its bytes.
///
/// # Errors
///
/// The formatter's.
pub fn debug_body(f: &mut std::fmt::Formatter<'_>, len: u64, streamed: bool) -> std::fmt::Result {
    let how = if streamed { "streamed" } else { "bytes" };
    write!(f, "SendBody({len} bytes, {how})")
}

/// The builder setters both clients share, written once: expands inside an adapter's
/// `impl ClientBuilder` whose `settings` field is a [`kyc_core::Settings`].
#[macro_export]
macro_rules! settings_setters {
    () => {
        /// Sets the retry policy (default: [`RetryPolicy::default`](kyc_core::RetryPolicy);
        /// [`RetryPolicy::never`](kyc_core::RetryPolicy::never) disables retries).
        pub fn retry_policy(mut self, policy: kyc_core::RetryPolicy) -> Self {
            self.settings.retry = policy;
            self
        }

        /// Sets the time one attempt may take, connection to last response byte (default
        /// [`DEFAULT_ATTEMPT_TIMEOUT`](kyc_core::DEFAULT_ATTEMPT_TIMEOUT)).
        pub fn attempt_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.settings.attempt_timeout = timeout;
            self
        }

        /// Sets the time one logical call may take, token fetch and retries included (default
        /// [`DEFAULT_OVERALL_TIMEOUT`](kyc_core::DEFAULT_OVERALL_TIMEOUT)).
        pub fn overall_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.settings.overall_timeout = timeout;
            self
        }

        /// Sets how long refused credentials are remembered (default
        /// [`DEFAULT_TOKEN_REFUSAL_MEMORY`](kyc_core::DEFAULT_TOKEN_REFUSAL_MEMORY); zero asks
        /// again on every call).
        pub fn token_refusal_memory(mut self, memory: std::time::Duration) -> Self {
            self.settings.token_refusal_memory = memory;
            self
        }
    };
}

/// `ClientBuilder::from_env` and `Client::from_env`, written once: expands at the root of an
/// adapter whose `Client::builder(config, credentials)` makes a `ClientBuilder` and whose
/// `ClientBuilder::build()` makes the `Client`.
#[macro_export]
macro_rules! from_env {
    ($client:ty, $builder:ty) => {
        impl $builder {
            /// A builder configured from `POMELO_CLIENT_ID`, `POMELO_CLIENT_SECRET` (required),
            /// `POMELO_ENV` (`production`, `sandbox` or `stage`; default `sandbox`), and every
            /// optional override in [`SETTINGS`](crate::SETTINGS): `POMELO_BASE_URL`,
            /// `POMELO_AUDIENCE`, the path templates (`POMELO_GET_SESSION_PATH`,
            /// `POMELO_CANCEL_SESSION_PATH`, `POMELO_SEARCH_SESSIONS_PATH`,
            /// `POMELO_CLEAN_VALIDATIONS_PATH`), `POMELO_FIRST_PAGE` and `POMELO_MAX_PAGES`.
            /// `kyc` reads the same variables.
            ///
            /// # Errors
            ///
            /// [`FromEnvError`](crate::FromEnvError) for a missing variable, or one whose value
            /// is refused (it names it).
            pub fn from_env() -> Result<$builder, $crate::env::FromEnvError> {
                let (config, credentials) = $crate::env::from_process_env()?;
                Ok(<$client>::builder(config, credentials))
            }
        }

        impl $client {
            /// A client with every default, configured from the environment as
            /// [`ClientBuilder::from_env`] says.
            ///
            /// # Errors
            ///
            /// [`FromEnvError`](crate::FromEnvError) for a missing or unusable variable.
            pub fn from_env() -> Result<$client, $crate::env::FromEnvError> {
                <$builder>::from_env().map(<$builder>::build)
            }
        }
    };
}

/// The methods both clients have in the same words, written once: expands inside an adapter's
/// `impl Client` whose `inner` is an `Arc<Shared<..>>` and which has `execute`, `upload`,
/// `drive`, `builder` and `now()`; `client_methods!()` for a blocking client,
/// `client_methods!(async, .await)` for an async one. Every operation method is a one-line
/// shorthand for `execute`.
#[macro_export]
// `crate::` means the adapter the methods expand in (its `Error`, `Source`, `SearchAll`).
#[allow(clippy::crate_in_macro_def)]
macro_rules! client_methods {
    ($($async:ident, $($await:tt)+)?) => {
        /// A client with every default for `config` and `credentials`.
        #[must_use]
        pub fn new(config: kyc_core::Config, credentials: kyc_core::Credentials) -> Self {
            Self::builder(config, credentials).build()
        }

        /// The configuration in use.
        #[must_use]
        pub fn config(&self) -> &kyc_core::Config {
            &self.inner.settings.config
        }

        /// The settings every call follows (configuration, credentials, retry policy,
        /// timeouts).
        #[must_use]
        pub fn settings(&self) -> &kyc_core::Settings {
            &self.inner.settings
        }

        /// The current access token: the cached one while it is fresh, otherwise a new one (one
        /// request, shared with every caller asking at the same time).
        ///
        /// # Errors
        ///
        /// An [`Error`](crate::Error) in the [`Stage::Token`](crate::Stage::Token) when the token
        /// request fails (wrong credentials: status `401`).
        pub $($async)? fn token(&self) -> Result<kyc_core::TokenInfo, crate::Error> {
            let call = kyc_core::TokenCall::new(
                &self.inner.settings,
                $crate::random_bytes()?,
                now(),
            )?;
            self.drive(call, &mut crate::upload::NoStream, "token") $($($await)+)?
        }

        /// Revokes the client's token at Pomelo and forgets it here; the next call fetches a
        /// new one.
        ///
        /// # Errors
        ///
        /// As [`Client::execute`]. The local token is forgotten even then.
        pub $($async)? fn revoke_token(&self) -> Result<(), crate::Error> {
            let revoke = kyc_core::RevokeToken {
                credentials: &self.inner.settings.credentials,
            };
            let result = self.execute(&revoke) $($($await)+)?;
            self.inner.tokens.lock().clear();
            result
        }

        /// Starts a KYC session: [`Client::execute`] of `session`.
        ///
        /// # Errors
        ///
        /// As [`Client::execute`].
        pub $($async)? fn create_session(
            &self,
            session: &kyc_core::CreateSession,
        ) -> Result<kyc_core::SessionCreated, crate::Error> {
            self.execute(session) $($($await)+)?
        }

        /// Starts a KYB session for a company and its partners. Upload the company's documents
        /// to the company's entity with [`UploadFile::kyb`](kyc_core::UploadFile::kyb) and
        /// `company-document`.
        ///
        /// # Errors
        ///
        /// As [`Client::execute`].
        pub $($async)? fn create_kyb_session(
            &self,
            session: &kyc_core::CreateKybSession,
        ) -> Result<kyc_core::SessionCreated, crate::Error> {
            self.execute(session) $($($await)+)?
        }

        /// Starts an additional (employee) session for a user of a validated company.
        ///
        /// # Errors
        ///
        /// As [`Client::execute`].
        pub $($async)? fn create_additional_session(
            &self,
            session: &kyc_core::CreateAdditionalSession,
        ) -> Result<kyc_core::SessionCreated, crate::Error> {
            self.execute(session) $($($await)+)?
        }

        /// Uploads the file at `path` as `document_type` of `entity_id` in `session_id`,
        /// streamed: [`Client::upload`] with [`Source::path`](crate::Source::path).
        ///
        /// # Errors
        ///
        /// As [`Client::upload`].
        pub $($async)? fn upload_path(
            &self,
            session_id: impl Into<kyc_core::SessionId>,
            entity_id: impl Into<String>,
            document_type: kyc_core::DocumentType,
            path: impl AsRef<std::path::Path>,
        ) -> Result<kyc_core::FileInfo, crate::Error> {
            let upload = kyc_core::UploadFile::new(session_id, entity_id, document_type);
            self.upload(&upload, crate::Source::path(path.as_ref())) $($($await)+)?
        }

        /// Reads a session.
        ///
        /// # Errors
        ///
        /// As [`Client::execute`] (status `404` for an unknown id).
        pub $($async)? fn get_session(
            &self,
            session_id: impl Into<kyc_core::SessionId>,
        ) -> Result<kyc_core::Session, crate::Error> {
            self.execute(&kyc_core::GetSession::new(session_id)) $($($await)+)?
        }

        /// Cancels a session; returns it when the server sends it back.
        ///
        /// # Errors
        ///
        /// As [`Client::execute`] (status `409` for a session already final).
        pub $($async)? fn cancel_session(
            &self,
            session_id: impl Into<kyc_core::SessionId>,
        ) -> Result<Option<kyc_core::Session>, crate::Error> {
            self.execute(&kyc_core::CancelSession::new(session_id)) $($($await)+)?
        }

        /// Reads a session's report.
        ///
        /// # Errors
        ///
        /// As [`Client::execute`].
        pub $($async)? fn report(
            &self,
            session_id: impl Into<kyc_core::SessionId>,
        ) -> Result<kyc_core::Report, crate::Error> {
            self.execute(&kyc_core::GetReport::new(session_id)) $($($await)+)?
        }

        /// Reads one page of a search.
        ///
        /// # Errors
        ///
        /// As [`Client::execute`].
        pub $($async)? fn search_sessions(
            &self,
            search: &kyc_core::SearchSessions,
        ) -> Result<kyc_core::SessionPage, crate::Error> {
            self.execute(search) $($($await)+)?
        }

        /// Every session matching `search`, page after page, each page fetched when the
        /// previous one is used up, as [`kyc_core::Pager`] says: never a page twice, at most
        /// [`Config::max_pages`](kyc_core::Config::max_pages) pages, each session once.
        #[must_use]
        pub fn search_all(&self, search: kyc_core::SearchSessions) -> crate::SearchAll {
            crate::SearchAll::new(self.clone(), search)
        }

        /// Deletes a user's validations (test environments only; refused for production).
        ///
        /// # Errors
        ///
        /// As [`Client::execute`].
        pub $($async)? fn clean_validations(
            &self,
            clean: &kyc_core::CleanValidations,
        ) -> Result<kyc_core::CleanResult, crate::Error> {
            self.execute(clean) $($($await)+)?
        }
    };
}
