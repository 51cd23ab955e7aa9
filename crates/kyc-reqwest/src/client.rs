//! The client: the loop every call runs over kyc-core's driver (send, wait, done), and one method
//! per KYC operation on top of it.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kyc_adapter::{Running, Shared, SourceCell, Trace, random_bytes};
use kyc_core::{
    CancelSession, CleanResult, CleanValidations, Config, CreateAdditionalSession,
    CreateKybSession, CreateSession, Credentials, DocumentType, Endpoint, Exchange, FileInfo,
    GetReport, GetSession, Next, Now, Outgoing, Reply, Report, RevokeToken, SearchSessions,
    Session, SessionCreated, SessionId, SessionPage, Settings, TokenCall, TokenInfo, UploadFile,
};
use tokio::io::AsyncRead;
use tokio::sync::Notify;

use crate::error::{Error, SourceError, TransportError, TransportErrorKind};
use crate::reqwest_transport::{DEFAULT_MAX_RESPONSE_BODY, ReqwestTransport};
use crate::search::SearchAll;
use crate::transport::{BoxFuture, SendBody, Transport};
use crate::upload::{NoStream, PathSource, ReaderSource, UploadSource};

pub use kyc_adapter::{DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OVERALL_TIMEOUT};

/// How long after an attempt's timeout the client stops waiting for a transport that ignores
/// [`AttemptTimeout`](crate::AttemptTimeout); the default transport's own timeout fires first.
const TRANSPORT_GRACE: Duration = Duration::from_millis(250);

/// An async client for Pomelo's Identity API.
///
/// Cheap to clone; clones share the token slot, the transport (and so reqwest's connection pool)
/// and the settings. `Send + Sync`, and its futures are `Send`: use one from many tasks. Needs a
/// tokio runtime with the time driver enabled (sleeps and timeouts).
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Shared<Box<dyn Transport>, Notify>>,
}

/// Builds a [`Client`]; every setting but the configuration and credentials has a default.
#[must_use]
pub struct ClientBuilder {
    settings: Settings,
    transport: Option<Box<dyn Transport>>,
    reqwest_client: Option<reqwest::Client>,
    max_response_body: u64,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("settings", &self.settings)
            .field("custom_transport", &self.transport.is_some())
            .field("own_reqwest_client", &self.reqwest_client.is_some())
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

    kyc_adapter::settings_setters!();

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
            inner: Arc::new(Shared::new(self.settings, transport)),
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

/// Both clocks, the monotonic one as tokio sees it (so a paused test clock drives the calls too).
fn now() -> Now {
    Now::new(tokio::time::Instant::now().into_std(), SystemTime::now())
}

impl Client {
    /// Starts a client for `config` (environment, base URL, paths) and `credentials`.
    pub fn builder(config: Config, credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            settings: Settings::new(config, credentials),
            transport: None,
            reqwest_client: None,
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
        &self.inner.settings.config
    }

    /// Runs any endpoint as one logical call: kyc-core's [`kyc_core::Call`] decides everything
    /// (token, retries, the replay after a `401`, the deadline); this sends, sleeps and waits as
    /// it says. A creating call is sent with the request's own idempotency key
    /// ([`CreateSession::idempotency_key`], [`UploadFile::idempotency_key`]) or one drawn here,
    /// once; its errors carry the key ([`Error::idempotency_key`]).
    ///
    /// Uploads built with [`UploadFile::from_stream`] need a stream: use [`Client::upload_path`],
    /// [`Client::upload_reader`] or [`Client::upload_stream`] for those.
    ///
    /// # Errors
    ///
    /// [`Error::Core`] for refused input, a non-2xx answer or an undecodable body;
    /// [`Error::Transport`] when no response arrived; [`Error::Token`] when no token could be
    /// obtained; [`Error::Source`] for a streamed upload passed here; [`Error::Randomness`] when
    /// no idempotency key could be drawn.
    pub async fn execute<E: Endpoint + Sync>(&self, endpoint: &E) -> Result<E::Output, Error> {
        self.execute_with(endpoint, &mut NoStream).await
    }

    async fn execute_with<E: Endpoint + Sync>(
        &self,
        endpoint: &E,
        source: &mut dyn UploadSource,
    ) -> Result<E::Output, Error> {
        let call = kyc_adapter::new_call(&self.inner.settings, endpoint, now())?;
        self.drive(call, source, kyc_adapter::operation_name::<E>())
            .await
    }

    /// The loop: do what the driver says until it is done. If this future is dropped mid-call, a
    /// token fetch it holds goes to the next waiting task at once.
    async fn drive<X: Exchange + Send>(
        &self,
        exchange: X,
        source: &mut dyn UploadSource,
        operation: &'static str,
    ) -> Result<X::Output, Error> {
        let inner = &*self.inner;
        let mut trace = Trace::start(operation);
        let mut running = Running::new(exchange, &inner.tokens, || inner.woken.notify_waiters());
        loop {
            let (next, woken) = {
                let mut slot = inner.tokens.lock();
                let next = running.exchange.poll(now(), &mut slot);
                let wake = slot.take_wake();
                // Registered before the lock is released, so no wake-up is missed.
                let woken = matches!(next, Next::Wait(_)).then(|| inner.woken.notified());
                drop(slot);
                if wake {
                    inner.woken.notify_waiters();
                }
                (next, woken)
            };
            match next {
                Next::Send(out) => {
                    trace.sending(&out);
                    let reply = self.send(*out, source).await;
                    trace.received(&reply);
                    running.exchange.receive(reply, source.can_replay());
                }
                Next::Wait(until) => {
                    trace.waiting(until);
                    if let Some(woken) = woken {
                        let until = tokio::time::Instant::from_std(until);
                        // Woken or timed out: either way, poll again.
                        let _ = tokio::time::timeout_at(until, woken).await;
                    }
                }
                Next::Done(result) => {
                    running.finish();
                    trace.done(&result);
                    return result;
                }
            }
        }
    }

    /// One attempt: the body from the core (and the source, for a streamed upload) through the
    /// transport, abandoned a little after its budget if the transport ignores it.
    async fn send(&self, out: Outgoing, source: &mut dyn UploadSource) -> Reply {
        let (parts, body) = out.request.into_parts();
        let stream = if body.needs_stream() {
            match source.open().await {
                Ok(stream) => Some(stream),
                Err(e) => return Reply::Source(e),
            }
        } else {
            None
        };
        let cell = SourceCell::default();
        let body = match SendBody::from_core(body, stream) {
            Ok(body) => body.watched(&cell),
            Err(e) => return Reply::Source(e),
        };
        let transport = &self.inner.transport;
        let sent = transport.send(http::Request::from_parts(parts, body));
        let result = if transport.bounds_attempts() {
            sent.await
        } else {
            tokio::time::timeout(out.timeout.saturating_add(TRANSPORT_GRACE), sent)
                .await
                .unwrap_or_else(|_| {
                    Err(TransportError::new(TransportErrorKind::Timeout, true)
                        .with_source("the transport outlived the attempt's timeout"))
                })
        };
        if let Some(e) = cell.take() {
            return Reply::Source(SourceError::while_sending(e, source.path()));
        }
        match result {
            Ok(response) => Reply::Response(response),
            Err(e) => Reply::Transport(e),
        }
    }

    /// The current access token: the cached one while it is fresh, otherwise a new one (one
    /// request, shared with every task asking at the same time).
    ///
    /// # Errors
    ///
    /// [`Error::Token`] when the token request fails (wrong credentials: status `401`).
    pub async fn token(&self) -> Result<TokenInfo, Error> {
        let call = TokenCall::new(&self.inner.settings, random_bytes()?, now())?;
        self.drive(call, &mut NoStream, "token").await
    }

    /// Revokes the client's token at Pomelo and forgets it here; the next call fetches a new one.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`]. The local token is forgotten even then.
    pub async fn revoke_token(&self) -> Result<(), Error> {
        let revoke = RevokeToken {
            credentials: &self.inner.settings.credentials,
        };
        let result = self.execute(&revoke).await;
        self.inner.tokens.lock().clear();
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

    /// Starts a KYB session for a company and its partners. Upload the company's documents to
    /// the company's entity with [`UploadFile::kyb`] and `company-document`.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub async fn create_kyb_session(
        &self,
        session: &CreateKybSession,
    ) -> Result<SessionCreated, Error> {
        self.execute(session).await
    }

    /// Starts an additional (employee) session for a user of a validated company.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub async fn create_additional_session(
        &self,
        session: &CreateAdditionalSession,
    ) -> Result<SessionCreated, Error> {
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

    /// Uploads the file at `path`, streamed with `tokio::fs`: the file is never held in memory.
    /// It is opened once, and every attempt reads that open file from its start; a file modified
    /// in place between attempts fails the call. The file name sent is the path's last component.
    ///
    /// # Errors
    ///
    /// As [`Client::upload_file`]; [`Error::Source`] when the file cannot be opened or read, or
    /// changes while it is sent.
    pub async fn upload_path(
        &self,
        session_id: impl Into<SessionId>,
        entity_id: impl Into<String>,
        document_type: DocumentType,
        path: impl AsRef<Path>,
    ) -> Result<FileInfo, Error> {
        let path = path.as_ref();
        let (mut source, leading, len) = PathSource::open_path(path).await?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let upload =
            UploadFile::from_stream(session_id, entity_id, document_type, name, &leading, len);
        self.execute_with(&upload, &mut source).await
    }

    /// Uploads with an [`UploadFile`] you built with [`UploadFile::from_stream`] (to set
    /// [`UploadFile::country`] or other options), streaming the file at `path` as
    /// [`Client::upload_path`] does: opened once, retried whole.
    ///
    /// # Errors
    ///
    /// As [`Client::upload_path`].
    pub async fn upload_prepared_path(
        &self,
        upload: &UploadFile,
        path: impl AsRef<Path>,
    ) -> Result<FileInfo, Error> {
        let (mut source, _, _) = PathSource::open_path(path.as_ref()).await?;
        self.execute_with(upload, &mut source).await
    }

    /// Uploads `len` bytes read from `reader`, streamed.
    ///
    /// The reader is read once: an attempt that fails after reading from it is not retried (nor
    /// replayed after a `401`), whatever the retry policy says; an attempt that failed before
    /// reading (connection refused) is. Upload from a path when retries matter.
    ///
    /// # Errors
    ///
    /// As [`Client::upload_path`]; [`SourceErrorKind::LengthChanged`](crate::SourceErrorKind)
    /// when the reader does not yield exactly `len` bytes.
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

    /// Uploads with an [`UploadFile`] you built with [`UploadFile::from_stream`], streaming the
    /// whole file from `reader` (its first bytes included). Retries as [`Client::upload_reader`].
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
    /// is used up, as [`kyc_core::Pager`] says: never a page twice, at most
    /// [`Config::max_pages`] pages, each session once.
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

/// `Client` must stay `Clone + Send + Sync`, and its futures `Send` (for `tokio::spawn`).
const _: fn() = || {
    fn check<T: Send + Sync + Clone>() {}
    fn send<T: Send>(_: &T) {}
    check::<Client>();
    let _ = |c: Client| {
        send(&c.get_session("iss-1"));
        send(&c.token());
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
