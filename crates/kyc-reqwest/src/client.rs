//! The client: one generic execute path (token → build → send → what the core's [`Call`] driver
//! says: retry, refresh and replay, or stop → parse) and one method per KYC operation on top of it.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kyc_core::{
    AccessToken, AttemptFacts, AttemptOutcome, Call, CancelSession, CleanResult, CleanValidations,
    Config, CreateSession, Credentials, DocumentType, Endpoint, FileInfo, GetReport, GetSession,
    IdempotencyKey, Next, Report, RequestToken, RetryPolicy, RevokeToken, SearchSessions, Session,
    SessionCreated, SessionId, SessionPage, UploadFile, build_request, jitter_from_random,
    parse_response,
};
use tokio::io::AsyncRead;
use tokio::time::Instant;

use crate::auth::{Current, TokenState};
use crate::error::{Error, SourceError, SourceErrorKind, TransportError, TransportErrorKind};
use crate::reqwest_transport::{DEFAULT_MAX_RESPONSE_BODY, ReqwestTransport};
use crate::search::SearchAll;
use crate::transport::{AttemptTimeout, BoxFuture, IntoSendBody, SendBody, SourceCell, Transport};
use crate::upload::{NoStream, PathSource, ReaderSource, UploadSource};

pub use kyc_adapter::{DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OVERALL_TIMEOUT};

/// How long after an attempt's timeout the client stops waiting for a transport that ignores
/// [`AttemptTimeout`]; the default transport's own timeout fires first.
const TRANSPORT_GRACE: Duration = Duration::from_millis(250);

/// An async client for Pomelo's Identity API.
///
/// Cheap to clone; clones share the token cache, the transport (and so reqwest's connection pool)
/// and the settings. `Send + Sync`, and its futures are `Send`: use one from many tasks. Needs a
/// tokio runtime with the time driver enabled (sleeps and timeouts).
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
    reqwest_client: Option<reqwest::Client>,
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
            .field("own_reqwest_client", &self.reqwest_client.is_some())
            .field("retry", &self.retry)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("overall_timeout", &self.overall_timeout)
            .field("max_response_body", &self.max_response_body)
            .finish()
    }
}

impl ClientBuilder {
    /// Sends through `transport` instead of the default [`ReqwestTransport`] (a closure returning
    /// a future works: see [`Transport`]).
    pub fn transport(mut self, transport: impl Transport + 'static) -> Self {
        self.transport = Some(Box::new(transport));
        self
    }

    /// Sends with your own [`reqwest::Client`] (its pool, proxy and TLS settings) through a
    /// [`ReqwestTransport`]. Configure it with `redirect(reqwest::redirect::Policy::none())` so
    /// a 3xx reaches the core.
    pub fn reqwest_client(mut self, client: reqwest::Client) -> Self {
        self.reqwest_client = Some(client);
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

    /// Sets the largest response body the reqwest transport reads (default
    /// [`DEFAULT_MAX_RESPONSE_BODY`]); a larger body is
    /// [`TransportErrorKind::ResponseTooLarge`]. Ignored with a custom transport.
    pub fn max_response_body(mut self, limit: u64) -> Self {
        self.max_response_body = limit;
        self
    }

    /// Builds the client. No request is sent: the token is fetched by the first call that needs
    /// it. If reqwest cannot build its default client (its TLS backend failed to initialise),
    /// every call reports that as a [`TransportErrorKind::Other`] error that never reached the
    /// server.
    #[must_use]
    pub fn build(self) -> Client {
        let limit = self.max_response_body;
        let transport: Box<dyn Transport> = match (self.transport, self.reqwest_client) {
            (Some(custom), _) => custom,
            (None, Some(client)) => {
                Box::new(ReqwestTransport::from_client(client).max_response_body(limit))
            }
            (None, None) => match ReqwestTransport::new() {
                Ok(t) => Box::new(t.max_response_body(limit)),
                Err(e) => Box::new(Unavailable(Arc::from(e.to_string()))),
            },
        };
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

/// The transport used when reqwest could not build its client: every attempt fails, unsent.
struct Unavailable(Arc<str>);

impl Transport for Unavailable {
    fn send(
        &self,
        _: http::Request<SendBody>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        let why = self.0.to_string();
        Box::pin(async move {
            Err(TransportError::new(TransportErrorKind::Other, false).with_source(why))
        })
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
            reqwest_client: None,
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
    /// [`build_request`] → send, then as the core's [`Call`] driver says: sleep and retry, or on
    /// a `401` to the token used, one token refresh and one replay → [`parse_response`].
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
    pub async fn execute<E>(&self, endpoint: &E) -> Result<E::Output, Error>
    where
        E: Endpoint + Sync,
        E::Body: IntoSendBody,
    {
        self.execute_with(endpoint, &mut NoStream).await
    }

    async fn execute_with<E>(
        &self,
        endpoint: &E,
        source: &mut dyn UploadSource,
    ) -> Result<E::Output, Error>
    where
        E: Endpoint + Sync,
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
        let response = self
            .run(call, deadline, source, |token| {
                build_request(&inner.config, endpoint, token, key.as_ref()).map_err(Error::from)
            })
            .await?;
        parse_response::<E, _>(&response).map_err(Error::from)
    }

    /// Runs one logical call as its [`Call`] driver says: gets a token when the call needs one,
    /// sends what `build` makes, then retries, replays with a new token or stops; returns the last
    /// response, whatever its status.
    async fn run<B: IntoSendBody>(
        &self,
        mut call: Call,
        deadline: Instant,
        source: &mut dyn UploadSource,
        mut build: impl FnMut(Option<&AccessToken>) -> Result<http::Request<B>, Error> + Send,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        let inner = &*self.inner;
        let mut token: Option<AccessToken> = None;
        loop {
            if call.authenticated() && token.is_none() {
                token = Some(self.current_token(deadline).await?.access_token.clone());
            }
            let request = build(token.as_ref())?;
            let (mut parts, body) = request.into_parts();
            let stream = if body.needs_stream() {
                Some(source.open().await?)
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
            let sent = inner.transport.send(http::Request::from_parts(parts, body));
            let result =
                match tokio::time::timeout(budget.saturating_add(TRANSPORT_GRACE), sent).await {
                    Ok(result) => result,
                    Err(_) => Err(TransportError::new(TransportErrorKind::Timeout, true)
                        .with_source("the transport outlived the attempt's timeout")),
                };
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
                Next::RetryAfter(delay) => tokio::time::sleep(delay).await,
                Next::RefreshTokenAndReplay { rejected } => {
                    inner.tokens.on_unauthorized(&rejected);
                    token = None;
                }
                _ => return result.map_err(Error::from),
            }
        }
    }

    /// Boxed: the token request runs through [`Client::run`], which calls this.
    fn current_token(&self, deadline: Instant) -> BoxFuture<'_, Result<Arc<Current>, Error>> {
        Box::pin(async move {
            let inner = &*self.inner;
            inner
                .tokens
                .token(
                    &inner.config,
                    &inner.credentials,
                    deadline,
                    |request| async move {
                        let sent_at = SystemTime::now();
                        let call = Call::for_endpoint::<RequestToken<'_>>(inner.retry.clone());
                        let response = self
                            .run(call, deadline, &mut NoStream, |_| {
                                Ok(copy_request(&request))
                            })
                            .await?;
                        let grant = parse_response::<RequestToken<'_>, _>(&response)?;
                        Ok((grant, sent_at))
                    },
                )
                .await
        })
    }

    /// The current access token: the cached one while it is fresh, otherwise a new one (one
    /// request, shared with every task asking at the same time).
    ///
    /// # Errors
    ///
    /// [`Error::Token`] when the token request fails (wrong credentials: status `401`).
    pub async fn token(&self) -> Result<TokenInfo, Error> {
        let deadline = deadline_after(self.inner.overall_timeout);
        let current = self.current_token(deadline).await?;
        Ok((*current).clone())
    }

    /// Revokes the client's token at Pomelo and forgets it here; the next call fetches a new one.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`]. The local token is forgotten even then.
    pub async fn revoke_token(&self) -> Result<(), Error> {
        let result = self
            .execute(&RevokeToken {
                credentials: &self.inner.credentials,
            })
            .await;
        self.inner.tokens.clear();
        result
    }

    /// Starts a KYC session.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub async fn create_session(&self, session: &CreateSession) -> Result<SessionCreated, Error> {
        self.execute(session).await
    }

    /// Uploads a document held in memory ([`UploadFile::from_bytes`], with
    /// [`UploadFile::country`] and the other options set as needed). Retried as the policy says.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`]; `Error::Core` with
    /// [`InvalidInput`](kyc_core::InvalidInput) for an empty, oversized or unsupported file.
    pub async fn upload_file(&self, upload: &UploadFile) -> Result<FileInfo, Error> {
        self.execute(upload).await
    }

    /// Uploads `bytes` as `document_type` of `entity_id` (the user) in `session_id`.
    ///
    /// # Errors
    ///
    /// As [`Client::upload_file`].
    pub async fn upload_bytes(
        &self,
        session_id: impl Into<SessionId>,
        entity_id: impl Into<String>,
        document_type: DocumentType,
        file_name: impl Into<String>,
        bytes: Vec<u8>,
    ) -> Result<FileInfo, Error> {
        let upload = UploadFile::from_bytes(session_id, entity_id, document_type, file_name, bytes);
        self.upload_file(&upload).await
    }

    /// Uploads the file at `path`, streamed: the file is never held in memory, and it is re-opened
    /// for each retry. The file name sent is the path's last component.
    ///
    /// # Errors
    ///
    /// As [`Client::upload_file`]; [`Error::Source`] when the file cannot be opened or read, or
    /// changes length while it is sent.
    pub async fn upload_path(
        &self,
        session_id: impl Into<SessionId>,
        entity_id: impl Into<String>,
        document_type: DocumentType,
        path: impl AsRef<Path>,
    ) -> Result<FileInfo, Error> {
        let path = path.as_ref();
        let (mut source, leading, len) = PathSource::measure(path).await?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let upload =
            UploadFile::from_stream(session_id, entity_id, document_type, name, &leading, len);
        self.execute_with(&upload, &mut source).await
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
    pub async fn upload_reader<R: AsyncRead + Send + Unpin + 'static>(
        &self,
        session_id: impl Into<SessionId>,
        entity_id: impl Into<String>,
        document_type: DocumentType,
        file_name: impl Into<String>,
        reader: R,
        len: u64,
    ) -> Result<FileInfo, Error> {
        let (mut source, leading) = ReaderSource::new(reader).await?;
        let upload = UploadFile::from_stream(
            session_id,
            entity_id,
            document_type,
            file_name,
            &leading,
            len,
        );
        self.execute_with(&upload, &mut source).await
    }

    /// Uploads with an [`UploadFile`] you built with [`UploadFile::from_stream`] (to set
    /// [`UploadFile::country`] or other options), streaming the whole file from `reader` (its
    /// first bytes included). Retries as [`Client::upload_reader`].
    ///
    /// # Errors
    ///
    /// As [`Client::upload_reader`].
    pub async fn upload_stream<R: AsyncRead + Send + Unpin + 'static>(
        &self,
        upload: &UploadFile,
        reader: R,
    ) -> Result<FileInfo, Error> {
        let mut source = ReaderSource::whole(reader);
        self.execute_with(upload, &mut source).await
    }

    /// Reads a session.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`] (status `404` for an unknown id).
    pub async fn get_session(&self, session_id: impl Into<SessionId>) -> Result<Session, Error> {
        self.execute(&GetSession::new(session_id)).await
    }

    /// Cancels a session; returns it when the server sends it back.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`] (status `409` for a session already final).
    pub async fn cancel_session(
        &self,
        session_id: impl Into<SessionId>,
    ) -> Result<Option<Session>, Error> {
        self.execute(&CancelSession::new(session_id)).await
    }

    /// Reads a session's report.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub async fn report(&self, session_id: impl Into<SessionId>) -> Result<Report, Error> {
        self.execute(&GetReport::new(session_id)).await
    }

    /// Reads one page of a search.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub async fn search_sessions(&self, search: &SearchSessions) -> Result<SessionPage, Error> {
        self.execute(search).await
    }

    /// Every session matching `search`, page after page, each page fetched when the previous one
    /// is used up. Ends after an empty page, the last page, or the first error (yielded once).
    #[must_use]
    pub fn search_all(&self, search: SearchSessions) -> SearchAll {
        SearchAll::new(self.clone(), search)
    }

    /// Deletes a user's validations (test environments only; refused for production).
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub async fn clean_validations(&self, clean: &CleanValidations) -> Result<CleanResult, Error> {
        self.execute(clean).await
    }
}

/// `timeout` from now; a timeout too large for the clock means "a year", which is never reached.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}

/// Time left before `deadline` (zero once it passed).
fn time_left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
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

/// `Client` must stay `Clone + Send + Sync`, and its futures `Send` (for `tokio::spawn`).
const _: fn() = || {
    fn check<T: Send + Sync + Clone>() {}
    fn send<T: Send>(_: &T) {}
    check::<Client>();
    let _ = |c: Client| {
        send(&c.get_session("iss-1"));
        send(&c.upload_path("iss-1", "usr-1", DocumentType::Selfie, "f.jpg"));
        send(&c.upload_reader(
            "iss-1",
            "usr-1",
            DocumentType::Selfie,
            "f.jpg",
            tokio::io::empty(),
            1,
        ));
    };
};
