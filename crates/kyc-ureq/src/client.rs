//! The client: one generic execute path (token → build → send with retries → 401 replay → parse)
//! and one method per KYC operation on top of it.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kyc_core::{
    AccessToken, AttemptFacts, AttemptOutcome, Call, CancelSession, CleanResult, CleanValidations,
    Config, CreateSession, Credentials, DocumentType, Endpoint, FileInfo, GetReport, GetSession,
    IdempotencyKey, Next, Report, RequestToken, RetryPolicy, RevokeToken, SearchSessions, Session,
    SessionCreated, SessionId, SessionPage, UploadFile, build_request, jitter_from_random,
    parse_response,
};

use crate::auth::TokenState;
use crate::error::{Error, SourceError, SourceErrorKind, TransportError, TransportErrorKind};
use crate::search::SearchAll;
use crate::transport::{AttemptTimeout, IntoSendBody, SourceCell, Transport};
use crate::upload::{NoStream, PathSource, ReaderSource, UploadSource};
use crate::ureq_transport::{DEFAULT_MAX_RESPONSE_BODY, UreqTransport};

pub use kyc_adapter::{DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OVERALL_TIMEOUT};

/// A blocking client for Pomelo's Identity API.
///
/// Cheap to clone; clones share the token cache, the transport (and so ureq's connection pool) and
/// the settings. `Send + Sync`: use one from many threads.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    credentials: Credentials,
    transport: Box<dyn Transport>,
    retry: RetryPolicy,
    attempt_timeout: Duration,
    overall_timeout: Duration,
    tokens: TokenState,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("credentials", &self.inner.credentials)
            .field("retry", &self.inner.retry)
            .field("attempt_timeout", &self.inner.attempt_timeout)
            .field("overall_timeout", &self.inner.overall_timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]; every setting but the configuration and credentials has a default.
#[must_use]
pub struct ClientBuilder {
    config: Config,
    credentials: Credentials,
    transport: Option<Box<dyn Transport>>,
    retry: RetryPolicy,
    attempt_timeout: Duration,
    overall_timeout: Duration,
    max_response_body: u64,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field("credentials", &self.credentials)
            .field("custom_transport", &self.transport.is_some())
            .field("retry", &self.retry)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("overall_timeout", &self.overall_timeout)
            .field("max_response_body", &self.max_response_body)
            .finish()
    }
}

impl ClientBuilder {
    /// Sends through `transport` instead of the default [`UreqTransport`] (a closure works: see
    /// [`Transport`]).
    pub fn transport(mut self, transport: impl Transport + 'static) -> Self {
        self.transport = Some(Box::new(transport));
        self
    }

    /// Sets the retry policy (default: [`RetryPolicy::default`]; [`RetryPolicy::never`] disables
    /// retries).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets the time one attempt may take (default [`DEFAULT_ATTEMPT_TIMEOUT`]).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Sets the time one logical call may take, retries included (default
    /// [`DEFAULT_OVERALL_TIMEOUT`]).
    pub fn overall_timeout(mut self, timeout: Duration) -> Self {
        self.overall_timeout = timeout;
        self
    }

    /// Sets the largest response body the default transport reads (default
    /// [`DEFAULT_MAX_RESPONSE_BODY`]); a larger body is
    /// [`TransportErrorKind::ResponseTooLarge`]. Ignored with a custom transport.
    pub fn max_response_body(mut self, limit: u64) -> Self {
        self.max_response_body = limit;
        self
    }

    /// Builds the client. No request is sent: the token is fetched by the first call that needs
    /// it.
    #[must_use]
    pub fn build(self) -> Client {
        let transport = self.transport.unwrap_or_else(|| {
            Box::new(
                UreqTransport::with_attempt_timeout(self.attempt_timeout)
                    .max_response_body(self.max_response_body),
            )
        });
        Client {
            inner: Arc::new(Inner {
                tokens: TokenState::new(self.config.token_margin()),
                config: self.config,
                credentials: self.credentials,
                transport,
                retry: self.retry,
                attempt_timeout: self.attempt_timeout,
                overall_timeout: self.overall_timeout,
            }),
        }
    }
}

pub use kyc_adapter::TokenInfo;

impl Client {
    /// Starts a client for `config` (environment, base URL, paths) and `credentials`.
    pub fn builder(config: Config, credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            config,
            credentials,
            transport: None,
            retry: RetryPolicy::default(),
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            overall_timeout: DEFAULT_OVERALL_TIMEOUT,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
        }
    }

    /// A client with every default for `config` and `credentials`.
    #[must_use]
    pub fn new(config: Config, credentials: Credentials) -> Self {
        Self::builder(config, credentials).build()
    }

    /// The configuration in use.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Runs any endpoint through the one generic path: token (when the endpoint needs one) →
    /// [`build_request`] → send with retries → on a `401` to the token used, one token refresh and
    /// one replay → [`parse_response`].
    ///
    /// The idempotency key of a creating call is drawn once and sent on every attempt. Uploads
    /// built with [`UploadFile::from_stream`] need a stream: use [`Client::upload_path`],
    /// [`Client::upload_reader`] or [`Client::upload_stream`] for those.
    ///
    /// # Errors
    ///
    /// [`Error::Core`] for refused input, a non-2xx answer or an undecodable body;
    /// [`Error::Transport`] when no response arrived; [`Error::Token`] when no token could be
    /// obtained; [`Error::Source`] for a streamed upload passed here; [`Error::Randomness`] when
    /// no idempotency key could be drawn.
    pub fn execute<E>(&self, endpoint: &E) -> Result<E::Output, Error>
    where
        E: Endpoint,
        E::Body: IntoSendBody,
    {
        self.execute_with(endpoint, &mut NoStream)
    }

    fn execute_with<E>(
        &self,
        endpoint: &E,
        source: &mut dyn UploadSource,
    ) -> Result<E::Output, Error>
    where
        E: Endpoint,
        E::Body: IntoSendBody,
    {
        let inner = &*self.inner;
        let deadline = deadline_after(inner.overall_timeout);
        let key = if E::CREATES {
            Some(random_idempotency_key()?)
        } else {
            None
        };
        // Refused input costs nothing: not even the token request.
        kyc_core::validate(&inner.config, endpoint, key.as_ref())?;
        let call = Call::for_endpoint::<E>(inner.retry.clone());
        let response = self.run(call, deadline, source, |token| {
            build_request(&inner.config, endpoint, token, key.as_ref()).map_err(Error::from)
        })?;
        parse_response::<E, _>(&response).map_err(Error::from)
    }

    /// Runs one logical call as its [`Call`] driver says: gets a token when the call needs one,
    /// sends what `build` makes, then retries, replays with a new token or stops; returns the last
    /// response, whatever its status.
    fn run<B: IntoSendBody>(
        &self,
        mut call: Call,
        deadline: Instant,
        source: &mut dyn UploadSource,
        mut build: impl FnMut(Option<&AccessToken>) -> Result<http::Request<B>, Error>,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        let inner = &*self.inner;
        let mut token: Option<AccessToken> = None;
        loop {
            if call.authenticated() && token.is_none() {
                token = Some(self.current_token(deadline)?.access_token.clone());
            }
            let request = build(token.as_ref())?;
            let (mut parts, body) = request.into_parts();
            let stream = if body.needs_stream() {
                Some(source.open()?)
            } else {
                None
            };
            let cell = SourceCell::default();
            let body = body.into_send_body(stream)?.watched(&cell);
            let budget = call
                .attempt_budget(inner.attempt_timeout, time_left(deadline))
                .ok_or_else(|| {
                    TransportError::new(TransportErrorKind::Timeout, false)
                        .with_source("the call's overall deadline passed")
                })?;
            parts.extensions.insert(AttemptTimeout(budget));
            let result = inner.transport.send(http::Request::from_parts(parts, body));
            if let Some(e) = cell.take() {
                let kind = if e.kind() == std::io::ErrorKind::InvalidData {
                    SourceErrorKind::LengthChanged
                } else {
                    SourceErrorKind::Read
                };
                return Err(SourceError::new(kind, None, Some(e)).into());
            }
            let outcome = match &result {
                Ok(response) => AttemptOutcome::Response {
                    status: response.status(),
                    headers: response.headers(),
                },
                // A request the HTTP stack refuses as built fails the same way every time.
                Err(e) if e.kind() == TransportErrorKind::InvalidRequest => {
                    AttemptOutcome::Unrepeatable
                }
                Err(e) => AttemptOutcome::Transport {
                    may_have_reached_server: e.may_have_reached_server(),
                },
            };
            let next = call.next(
                outcome,
                AttemptFacts {
                    now: SystemTime::now(),
                    jitter: random_jitter(),
                    time_left: time_left(deadline),
                    body_replayable: source.can_replay(),
                    token: token.as_ref(),
                },
            );
            match next {
                Next::RetryAfter(delay) => std::thread::sleep(delay),
                Next::RefreshTokenAndReplay { rejected } => {
                    inner.tokens.on_unauthorized(&rejected);
                    token = None;
                }
                _ => return result.map_err(Error::from),
            }
        }
    }

    fn current_token(&self, deadline: Instant) -> Result<Arc<crate::auth::Current>, Error> {
        let inner = &*self.inner;
        inner
            .tokens
            .token(&inner.config, &inner.credentials, deadline, |request| {
                let sent_at = SystemTime::now();
                let call = Call::for_endpoint::<RequestToken<'_>>(inner.retry.clone());
                let response = self.run(call, deadline, &mut NoStream, |_| {
                    Ok(copy_request(&request))
                })?;
                let grant = parse_response::<RequestToken<'_>, _>(&response)?;
                Ok((grant, sent_at))
            })
    }

    /// The current access token: the cached one while it is fresh, otherwise a new one (one
    /// request, shared with every thread asking at the same time).
    ///
    /// # Errors
    ///
    /// [`Error::Token`] when the token request fails (wrong credentials: status `401`).
    pub fn token(&self) -> Result<TokenInfo, Error> {
        let deadline = deadline_after(self.inner.overall_timeout);
        let current = self.current_token(deadline)?;
        Ok((*current).clone())
    }

    /// Revokes the client's token at Pomelo and forgets it here; the next call fetches a new one.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`]. The local token is forgotten even then.
    pub fn revoke_token(&self) -> Result<(), Error> {
        let result = self.execute(&RevokeToken {
            credentials: &self.inner.credentials,
        });
        self.inner.tokens.clear();
        result
    }

    /// Starts a KYC session.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub fn create_session(&self, session: &CreateSession) -> Result<SessionCreated, Error> {
        self.execute(session)
    }

    /// Uploads a document held in memory ([`UploadFile::from_bytes`], with
    /// [`UploadFile::country`] and the other options set as needed). Retried as the policy says.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`]; `Error::Core` with
    /// [`InvalidInput`](kyc_core::InvalidInput) for an empty, oversized or unsupported file.
    pub fn upload_file(&self, upload: &UploadFile) -> Result<FileInfo, Error> {
        self.execute(upload)
    }

    /// Uploads `bytes` as `document_type` of `entity_id` (the user) in `session_id`.
    ///
    /// # Errors
    ///
    /// As [`Client::upload_file`].
    pub fn upload_bytes(
        &self,
        session_id: impl Into<SessionId>,
        entity_id: impl Into<String>,
        document_type: DocumentType,
        file_name: impl Into<String>,
        bytes: Vec<u8>,
    ) -> Result<FileInfo, Error> {
        self.upload_file(&UploadFile::from_bytes(
            session_id,
            entity_id,
            document_type,
            file_name,
            bytes,
        ))
    }

    /// Uploads the file at `path`, streamed: the file is never held in memory, and it is re-opened
    /// for each retry. The file name sent is the path's last component.
    ///
    /// # Errors
    ///
    /// As [`Client::upload_file`]; [`Error::Source`] when the file cannot be opened or read, or
    /// changes length while it is sent.
    pub fn upload_path(
        &self,
        session_id: impl Into<SessionId>,
        entity_id: impl Into<String>,
        document_type: DocumentType,
        path: impl AsRef<Path>,
    ) -> Result<FileInfo, Error> {
        let path = path.as_ref();
        let (mut source, leading, len) = PathSource::measure(path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let upload =
            UploadFile::from_stream(session_id, entity_id, document_type, name, &leading, len);
        self.execute_with(&upload, &mut source)
    }

    /// Uploads `len` bytes read from `reader`, streamed.
    ///
    /// The reader is read once: an attempt that fails after reading from it is not retried (nor
    /// replayed after a `401`), whatever the retry policy says; an attempt that failed before
    /// reading (connection refused) is. Upload from a path when retries matter.
    ///
    /// # Errors
    ///
    /// As [`Client::upload_path`]; [`SourceErrorKind::LengthChanged`] when the reader does not
    /// yield exactly `len` bytes.
    pub fn upload_reader<R: Read + Send + 'static>(
        &self,
        session_id: impl Into<SessionId>,
        entity_id: impl Into<String>,
        document_type: DocumentType,
        file_name: impl Into<String>,
        reader: R,
        len: u64,
    ) -> Result<FileInfo, Error> {
        let (mut source, leading) = ReaderSource::new(reader)?;
        let upload = UploadFile::from_stream(
            session_id,
            entity_id,
            document_type,
            file_name,
            &leading,
            len,
        );
        self.execute_with(&upload, &mut source)
    }

    /// Uploads with an [`UploadFile`] you built with [`UploadFile::from_stream`] (to set
    /// [`UploadFile::country`] or other options), streaming the whole file from `reader` (its
    /// first bytes included). Retries as [`Client::upload_reader`].
    ///
    /// # Errors
    ///
    /// As [`Client::upload_reader`].
    pub fn upload_stream<R: Read + Send + 'static>(
        &self,
        upload: &UploadFile,
        reader: R,
    ) -> Result<FileInfo, Error> {
        let mut source = ReaderSource::whole(reader);
        self.execute_with(upload, &mut source)
    }

    /// Reads a session.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`] (status `404` for an unknown id).
    pub fn get_session(&self, session_id: impl Into<SessionId>) -> Result<Session, Error> {
        self.execute(&GetSession::new(session_id))
    }

    /// Cancels a session; returns it when the server sends it back.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`] (status `409` for a session already final).
    pub fn cancel_session(
        &self,
        session_id: impl Into<SessionId>,
    ) -> Result<Option<Session>, Error> {
        self.execute(&CancelSession::new(session_id))
    }

    /// Reads a session's report.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub fn report(&self, session_id: impl Into<SessionId>) -> Result<Report, Error> {
        self.execute(&GetReport::new(session_id))
    }

    /// Reads one page of a search.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub fn search_sessions(&self, search: &SearchSessions) -> Result<SessionPage, Error> {
        self.execute(search)
    }

    /// Every session matching `search`, page after page, each page fetched when the previous one
    /// is used up. Stops after an empty page, the last page, or the first error (yielded once).
    #[must_use]
    pub fn search_all(&self, search: SearchSessions) -> SearchAll {
        SearchAll::new(self.clone(), search)
    }

    /// Deletes a user's validations (test environments only; refused for production).
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub fn clean_validations(&self, clean: &CleanValidations) -> Result<CleanResult, Error> {
        self.execute(clean)
    }
}

/// `timeout` from now; a timeout too large for the clock means "a year", which is never reached.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}

/// A copy of a request with an in-memory body (the token request, resent on retries).
fn copy_request(request: &http::Request<kyc_core::Body>) -> http::Request<kyc_core::Body> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// 128 random bits from the operating system, as an idempotency key.
fn random_idempotency_key() -> Result<IdempotencyKey, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| Error::Randomness)?;
    Ok(IdempotencyKey::from_random_bytes(bytes))
}

/// A random number in `[0, 1)` for back-off jitter (0.5, the midpoint, if the source fails).
fn random_jitter() -> f64 {
    getrandom::u64().map_or(0.5, jitter_from_random)
}

/// Time left before `deadline` (zero once it passed).
fn time_left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// `Client` must stay `Clone + Send + Sync` (shared by threads, clones share the cache).
const _: fn() = || {
    fn check<T: Send + Sync + Clone>() {}
    check::<Client>();
};
