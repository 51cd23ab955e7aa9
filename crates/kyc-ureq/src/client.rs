//! The client: the loop every call runs over kyc-core's driver (send, wait, done), and one method
//! per KYC operation on top of it.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Condvar};
use std::time::{Instant, SystemTime};

use kyc_adapter::{Running, Shared, SourceCell, Trace, random_bytes};
use kyc_core::{
    CancelSession, CleanResult, CleanValidations, Config, CreateAdditionalSession,
    CreateKybSession, CreateSession, Credentials, DocumentType, Endpoint, Exchange, FileInfo,
    GetReport, GetSession, Next, Now, Outgoing, Reply, Report, RevokeToken, SearchSessions,
    Session, SessionCreated, SessionId, SessionPage, Settings, TokenCall, TokenInfo, UploadFile,
};

use crate::error::{Error, SourceError};
use crate::search::SearchAll;
use crate::transport::{SendBody, Transport};
use crate::upload::{NoStream, PathSource, ReaderSource, UploadSource};
use crate::ureq_transport::{DEFAULT_MAX_RESPONSE_BODY, UreqTransport};

pub use kyc_adapter::{DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OVERALL_TIMEOUT};

/// A blocking client for Pomelo's Identity API.
///
/// Cheap to clone; clones share the token slot, the transport (and so ureq's connection pool) and
/// the settings. `Send + Sync`: use one from many threads.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Shared<Box<dyn Transport>, Condvar>>,
}

/// Builds a [`Client`]; every setting but the configuration and credentials has a default.
#[must_use]
pub struct ClientBuilder {
    settings: Settings,
    transport: Option<Box<dyn Transport>>,
    max_response_body: u64,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("settings", &self.settings)
            .field("custom_transport", &self.transport.is_some())
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

    kyc_adapter::settings_setters!();

    /// Sets the largest response body the default transport reads (default
    /// [`DEFAULT_MAX_RESPONSE_BODY`]); a larger body is
    /// [`TransportErrorKind::ResponseTooLarge`](crate::TransportErrorKind). Ignored with a custom
    /// transport.
    pub fn max_response_body(mut self, limit: u64) -> Self {
        self.max_response_body = limit;
        self
    }

    /// Builds the client. No request is sent: the token is fetched by the first call that needs
    /// it.
    #[must_use]
    pub fn build(self) -> Client {
        let timeout = self.settings.attempt_timeout;
        let transport = self.transport.unwrap_or_else(|| {
            Box::new(
                UreqTransport::with_attempt_timeout(timeout)
                    .max_response_body(self.max_response_body),
            )
        });
        Client {
            inner: Arc::new(Shared::new(self.settings, transport)),
        }
    }
}

fn now() -> Now {
    Now::new(Instant::now(), SystemTime::now())
}

impl Client {
    /// Starts a client for `config` (environment, base URL, paths) and `credentials`.
    pub fn builder(config: Config, credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            settings: Settings::new(config, credentials),
            transport: None,
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

    /// The settings every call follows (configuration, credentials, retry policy, timeouts).
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
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
    pub fn execute<E: Endpoint>(&self, endpoint: &E) -> Result<E::Output, Error> {
        self.execute_with(endpoint, &mut NoStream)
    }

    fn execute_with<E: Endpoint>(
        &self,
        endpoint: &E,
        source: &mut dyn UploadSource,
    ) -> Result<E::Output, Error> {
        let call = kyc_adapter::new_call(&self.inner.settings, endpoint, now())?;
        self.drive(call, source, kyc_adapter::operation_name::<E>())
    }

    /// The loop: do what the driver says until it is done.
    fn drive<X: Exchange>(
        &self,
        exchange: X,
        source: &mut dyn UploadSource,
        operation: &'static str,
    ) -> Result<X::Output, Error> {
        let inner = &*self.inner;
        let mut trace = Trace::start(operation);
        let mut running = Running::new(exchange, &inner.tokens, || inner.woken.notify_all());
        let mut slot = inner.tokens.lock();
        loop {
            let next = running.exchange.poll(now(), &mut slot);
            if slot.take_wake() {
                inner.woken.notify_all();
            }
            match next {
                Next::Send(out) => {
                    drop(slot);
                    trace.sending(&out);
                    let reply = self.send(*out, source);
                    trace.received(&reply);
                    slot = inner.tokens.lock();
                    running.exchange.receive(reply, source.can_replay());
                }
                Next::Wait(until) => {
                    trace.waiting(until);
                    let left = until.saturating_duration_since(Instant::now());
                    slot = match inner.woken.wait_timeout(slot, left) {
                        Ok((slot, _)) => slot,
                        Err(poisoned) => poisoned.into_inner().0,
                    };
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
    /// transport.
    fn send(&self, out: Outgoing, source: &mut dyn UploadSource) -> Reply {
        let (parts, body) = out.request.into_parts();
        let stream = if body.needs_stream() {
            match source.open() {
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
        let result = self
            .inner
            .transport
            .send(http::Request::from_parts(parts, body));
        if let Some(e) = cell.take() {
            return Reply::Source(SourceError::while_sending(e, source.path()));
        }
        match result {
            Ok(response) => Reply::Response(response),
            Err(e) => Reply::Transport(e),
        }
    }

    /// The current access token: the cached one while it is fresh, otherwise a new one (one
    /// request, shared with every thread asking at the same time).
    ///
    /// # Errors
    ///
    /// [`Error::Token`] when the token request fails (wrong credentials: status `401`).
    pub fn token(&self) -> Result<TokenInfo, Error> {
        let call = TokenCall::new(&self.inner.settings, random_bytes()?, now())?;
        self.drive(call, &mut NoStream, "token")
    }

    /// Revokes the client's token at Pomelo and forgets it here; the next call fetches a new one.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`]. The local token is forgotten even then.
    pub fn revoke_token(&self) -> Result<(), Error> {
        let result = self.execute(&RevokeToken {
            credentials: &self.inner.settings.credentials,
        });
        self.inner.tokens.lock().clear();
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

    /// Starts a KYB session for a company and its partners. Upload the company's documents to
    /// the company's entity with [`UploadFile::kyb`] and `company-document`.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub fn create_kyb_session(&self, session: &CreateKybSession) -> Result<SessionCreated, Error> {
        self.execute(session)
    }

    /// Starts an additional (employee) session for a user of a validated company.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub fn create_additional_session(
        &self,
        session: &CreateAdditionalSession,
    ) -> Result<SessionCreated, Error> {
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
        let upload = UploadFile::from_bytes(session_id, entity_id, document_type, file_name, bytes);
        self.upload_file(&upload)
    }

    /// Uploads the file at `path`, streamed: the file is never held in memory. It is opened once,
    /// and every attempt reads that open file from its start; a file modified in place between
    /// attempts fails the call. The file name sent is the path's last component.
    ///
    /// # Errors
    ///
    /// As [`Client::upload_file`]; [`Error::Source`] when the file cannot be opened or read, or
    /// changes while it is sent.
    pub fn upload_path(
        &self,
        session_id: impl Into<SessionId>,
        entity_id: impl Into<String>,
        document_type: DocumentType,
        path: impl AsRef<Path>,
    ) -> Result<FileInfo, Error> {
        let path = path.as_ref();
        let (mut source, leading, len) = PathSource::open_path(path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let upload =
            UploadFile::from_stream(session_id, entity_id, document_type, name, &leading, len);
        self.execute_with(&upload, &mut source)
    }

    /// Uploads with an [`UploadFile`] you built with [`UploadFile::from_stream`] (to set
    /// [`UploadFile::country`] or other options), streaming the file at `path` as
    /// [`Client::upload_path`] does: opened once, retried whole.
    ///
    /// # Errors
    ///
    /// As [`Client::upload_path`].
    pub fn upload_prepared_path(
        &self,
        upload: &UploadFile,
        path: impl AsRef<Path>,
    ) -> Result<FileInfo, Error> {
        let (mut source, _, _) = PathSource::open_path(path.as_ref())?;
        self.execute_with(upload, &mut source)
    }

    /// As [`Client::upload_prepared_path`], with every attempt's reader of the file passed through
    /// `observe` first (a progress display, say: each attempt reads the file from its start).
    ///
    /// # Errors
    ///
    /// As [`Client::upload_path`].
    pub fn upload_prepared_path_observed(
        &self,
        upload: &UploadFile,
        path: impl AsRef<Path>,
        observe: impl Fn(Box<dyn Read + Send>) -> Box<dyn Read + Send> + Send + Sync + 'static,
    ) -> Result<FileInfo, Error> {
        let (source, _, _) = PathSource::open_path(path.as_ref())?;
        let mut source = source.observed(std::sync::Arc::new(observe));
        self.execute_with(upload, &mut source)
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

    /// Uploads with an [`UploadFile`] you built with [`UploadFile::from_stream`], streaming the
    /// whole file from `reader` (its first bytes included). Retries as [`Client::upload_reader`].
    ///
    /// # Errors
    ///
    /// As [`Client::upload_reader`].
    pub fn upload_stream<R: Read + Send + 'static>(
        &self,
        upload: &UploadFile,
        reader: R,
    ) -> Result<FileInfo, Error> {
        self.execute_with(upload, &mut ReaderSource::whole(reader))
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
    pub fn clean_validations(&self, clean: &CleanValidations) -> Result<CleanResult, Error> {
        self.execute(clean)
    }
}

/// `Client` must stay `Clone + Send + Sync` (shared by threads, clones share the token slot).
const _: fn() = || {
    fn check<T: Send + Sync + Clone>() {}
    check::<Client>();
};
