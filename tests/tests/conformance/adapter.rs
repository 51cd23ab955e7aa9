//! One trait over both clients, so every scenario is written once. kyc-ureq is called directly;
//! kyc-reqwest is driven on a tokio runtime (concurrent calls run as tasks on a multi-thread
//! runtime, as a service would run them).

use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use futures_util::StreamExt;
use kyc_core::{
    CleanResult, CleanValidations, Config, CreateAdditionalSession, CreateKybSession,
    CreateSession, Credentials, DocumentType, Environment, FileInfo, Report, RetryPolicy,
    SearchSessions, Session, SessionCreated, SessionPage, UploadFile,
};
use kyc_mock::MockServer;

/// An error reduced to the facts a user acts on, identical in shape for both clients.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Failure {
    /// `invalid_input`, `api`, `decode`, `transport`, `source`, `randomness`.
    pub(crate) kind: &'static str,
    /// Whether the failure happened while obtaining the token (`Error::Token`).
    pub(crate) during_token: bool,
    /// The HTTP status that caused it, if a response did.
    pub(crate) status: Option<u16>,
    /// Whether the server gave a request id.
    pub(crate) has_request_id: bool,
    /// The details: refused input, API error codes, decode path and reason, transport kind and
    /// whether the request may have reached the server, or the source error kind.
    pub(crate) detail: String,
    /// Whether the error carries the idempotency key its call was sent with.
    pub(crate) keyed: bool,
}

/// Reduces any client's error to a [`Failure`]: all three share kyc-core's `CallError`.
fn summary(e: &kyc_core::CallError, during_token: bool) -> Failure {
    use kyc_core::CallError as E;
    let base = |kind, detail: String| Failure {
        kind,
        during_token,
        status: e.status().map(|s| s.as_u16()),
        has_request_id: e.request_id().is_some(),
        detail,
        keyed: false,
    };
    match e {
        // Creating calls' errors carry their idempotency key (random: its value not compared).
        E::Keyed { error, .. } => Failure {
            keyed: true,
            ..summary(error, during_token)
        },
        E::Token(inner) => summary(inner, true),
        E::Core(kyc_core::Error::InvalidInput(i)) => base("invalid_input", format!("{i:?}")),
        E::Core(kyc_core::Error::Api(a)) => {
            let codes: Vec<String> = a
                .body
                .as_ref()
                .map(|b| b.codes().map(str::to_owned).collect())
                .unwrap_or_default();
            base(
                "api",
                format!("codes={codes:?} body_parsed={}", a.body.is_some()),
            )
        }
        E::Core(kyc_core::Error::Decode(d)) => {
            base("decode", format!("path={} reason={:?}", d.path, d.reason))
        }
        E::Core(other) => base("core_other", format!("{other:?}")),
        E::Transport(t) => base(
            "transport",
            format!("{:?} reached={}", t.kind(), t.may_have_reached_server()),
        ),
        E::Source(s) => base("source", format!("{:?}", s.kind())),
        E::Randomness => base("randomness", String::new()),
        other => base("unknown", format!("{other:?}")),
    }
}

fn failure(e: kyc_core::CallError) -> Failure {
    summary(&e, false)
}

/// Client settings a scenario may change; the same for both clients.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) retry: RetryPolicy,
    pub(crate) attempt_timeout: Duration,
    pub(crate) overall_timeout: Duration,
    pub(crate) max_response_body: Option<u64>,
    pub(crate) client_secret: Option<String>,
    /// Point the client at a loopback port nobody listens on instead of the simulator.
    pub(crate) unreachable: bool,
    /// Overrides of the client's configuration (the settings a user changes when an account
    /// differs).
    pub(crate) configure: Option<fn(kyc_core::ConfigBuilder) -> kyc_core::ConfigBuilder>,
}

impl Default for Settings {
    /// Fast retries (1–10 ms back-off, `Retry-After` honoured up to 2 s).
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default()
                .max_attempts(4)
                .backoff(Duration::from_millis(1), Duration::from_millis(10))
                .max_retry_after(Duration::from_secs(2)),
            attempt_timeout: Duration::from_secs(10),
            overall_timeout: Duration::from_secs(30),
            max_response_body: None,
            client_secret: None,
            unreachable: false,
            configure: None,
        }
    }
}

fn config_for(server: &MockServer, settings: &Settings) -> (Config, Credentials) {
    let base_url = if settings.unreachable {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    } else {
        server.base_url().to_owned()
    };
    let mut builder = Config::builder(Environment::Sandbox)
        .base_url(base_url)
        .audience(server.audience());
    if let Some(configure) = settings.configure {
        builder = configure(builder);
    }
    let config = builder.build().unwrap();
    let secret = settings
        .client_secret
        .clone()
        .unwrap_or_else(|| server.client_secret().to_owned());
    (config, Credentials::new(server.client_id(), secret))
}

/// Every operation of the clients, blocking, with errors summarised.
pub(crate) trait Adapter: Send + Sync {
    fn name(&self) -> &'static str;
    /// Whether a token was obtained (the token itself differs per run).
    fn token(&self) -> Result<bool, Failure>;
    fn revoke_token(&self) -> Result<(), Failure>;
    fn create_session(&self, session: &CreateSession) -> Result<SessionCreated, Failure>;
    fn create_kyb_session(&self, session: &CreateKybSession) -> Result<SessionCreated, Failure>;
    fn create_additional_session(
        &self,
        session: &CreateAdditionalSession,
    ) -> Result<SessionCreated, Failure>;
    fn upload_file(&self, upload: &UploadFile) -> Result<FileInfo, Failure>;
    fn upload_bytes(
        &self,
        session: &str,
        entity: &str,
        document: DocumentType,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<FileInfo, Failure>;
    fn upload_path(
        &self,
        session: &str,
        entity: &str,
        document: DocumentType,
        path: &Path,
    ) -> Result<FileInfo, Failure>;
    fn upload_reader(
        &self,
        session: &str,
        entity: &str,
        document: DocumentType,
        name: &str,
        bytes: Vec<u8>,
        declared_len: u64,
    ) -> Result<FileInfo, Failure>;
    fn get_session(&self, id: &str) -> Result<Session, Failure>;
    fn cancel_session(&self, id: &str) -> Result<Option<Session>, Failure>;
    fn report(&self, id: &str) -> Result<Report, Failure>;
    fn search_sessions(&self, search: &SearchSessions) -> Result<SessionPage, Failure>;
    /// Every item of `search_all`, and the number of pages fetched.
    fn search_all(&self, search: SearchSessions) -> (Vec<Result<Session, Failure>>, u64);
    fn clean_validations(&self, clean: &CleanValidations) -> Result<CleanResult, Failure>;
    /// `n` searches started at the same moment (threads for kyc-ureq, tasks for kyc-reqwest).
    fn concurrent_searches(&self, n: usize, search: &SearchSessions)
    -> Vec<Result<usize, Failure>>;
}

pub(crate) struct Ureq(kyc_ureq::Client);

impl Ureq {
    pub(crate) fn new(server: &MockServer, settings: &Settings) -> Self {
        let (config, credentials) = config_for(server, settings);
        let mut builder = kyc_ureq::Client::builder(config, credentials)
            .retry_policy(settings.retry.clone())
            .attempt_timeout(settings.attempt_timeout)
            .overall_timeout(settings.overall_timeout);
        if let Some(limit) = settings.max_response_body {
            builder = builder.max_response_body(limit);
        }
        Self(builder.build())
    }
}

impl Adapter for Ureq {
    fn name(&self) -> &'static str {
        "kyc-ureq"
    }
    fn token(&self) -> Result<bool, Failure> {
        self.0
            .token()
            .map(|t| !t.access_token.expose_secret().is_empty() && t.expires_at.is_some())
            .map_err(failure)
    }
    fn revoke_token(&self) -> Result<(), Failure> {
        self.0.revoke_token().map_err(failure)
    }
    fn create_session(&self, session: &CreateSession) -> Result<SessionCreated, Failure> {
        self.0.create_session(session).map_err(failure)
    }
    fn create_kyb_session(&self, session: &CreateKybSession) -> Result<SessionCreated, Failure> {
        self.0.create_kyb_session(session).map_err(failure)
    }
    fn create_additional_session(
        &self,
        session: &CreateAdditionalSession,
    ) -> Result<SessionCreated, Failure> {
        self.0.create_additional_session(session).map_err(failure)
    }
    fn upload_file(&self, upload: &UploadFile) -> Result<FileInfo, Failure> {
        self.0.upload_file(upload).map_err(failure)
    }
    fn upload_bytes(
        &self,
        session: &str,
        entity: &str,
        document: DocumentType,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<FileInfo, Failure> {
        self.0
            .upload_bytes(session, entity, document, name, bytes)
            .map_err(failure)
    }
    fn upload_path(
        &self,
        session: &str,
        entity: &str,
        document: DocumentType,
        path: &Path,
    ) -> Result<FileInfo, Failure> {
        self.0
            .upload_path(session, entity, document, path)
            .map_err(failure)
    }
    fn upload_reader(
        &self,
        session: &str,
        entity: &str,
        document: DocumentType,
        name: &str,
        bytes: Vec<u8>,
        declared_len: u64,
    ) -> Result<FileInfo, Failure> {
        self.0
            .upload_reader(
                session,
                entity,
                document,
                name,
                Cursor::new(bytes),
                declared_len,
            )
            .map_err(failure)
    }
    fn get_session(&self, id: &str) -> Result<Session, Failure> {
        self.0.get_session(id).map_err(failure)
    }
    fn cancel_session(&self, id: &str) -> Result<Option<Session>, Failure> {
        self.0.cancel_session(id).map_err(failure)
    }
    fn report(&self, id: &str) -> Result<Report, Failure> {
        self.0.report(id).map_err(failure)
    }
    fn search_sessions(&self, search: &SearchSessions) -> Result<SessionPage, Failure> {
        self.0.search_sessions(search).map_err(failure)
    }
    fn search_all(&self, search: SearchSessions) -> (Vec<Result<Session, Failure>>, u64) {
        let mut all = self.0.search_all(search);
        let items = all.by_ref().map(|r| r.map_err(failure)).collect();
        (items, all.pages_fetched())
    }
    fn clean_validations(&self, clean: &CleanValidations) -> Result<CleanResult, Failure> {
        self.0.clean_validations(clean).map_err(failure)
    }
    fn concurrent_searches(
        &self,
        n: usize,
        search: &SearchSessions,
    ) -> Vec<Result<usize, Failure>> {
        let barrier = Arc::new(Barrier::new(n));
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let client = self.0.clone();
                let barrier = barrier.clone();
                let search = search.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    client
                        .search_sessions(&search)
                        .map(|p| p.sessions.len())
                        .map_err(failure)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    }
}

pub(crate) struct Reqwest {
    client: kyc_reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Reqwest {
    pub(crate) fn new(server: &MockServer, settings: &Settings) -> Self {
        let (config, credentials) = config_for(server, settings);
        let mut builder = kyc_reqwest::Client::builder(config, credentials)
            .retry_policy(settings.retry.clone())
            .attempt_timeout(settings.attempt_timeout)
            .overall_timeout(settings.overall_timeout);
        if let Some(limit) = settings.max_response_body {
            builder = builder.max_response_body(limit);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Self {
            client: builder.build(),
            runtime,
        }
    }

    fn block<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(f)
    }
}

impl Adapter for Reqwest {
    fn name(&self) -> &'static str {
        "kyc-reqwest"
    }
    fn token(&self) -> Result<bool, Failure> {
        self.block(self.client.token())
            .map(|t| !t.access_token.expose_secret().is_empty() && t.expires_at.is_some())
            .map_err(failure)
    }
    fn revoke_token(&self) -> Result<(), Failure> {
        self.block(self.client.revoke_token()).map_err(failure)
    }
    fn create_session(&self, session: &CreateSession) -> Result<SessionCreated, Failure> {
        self.block(self.client.create_session(session))
            .map_err(failure)
    }
    fn create_kyb_session(&self, session: &CreateKybSession) -> Result<SessionCreated, Failure> {
        self.block(self.client.create_kyb_session(session))
            .map_err(failure)
    }
    fn create_additional_session(
        &self,
        session: &CreateAdditionalSession,
    ) -> Result<SessionCreated, Failure> {
        self.block(self.client.create_additional_session(session))
            .map_err(failure)
    }
    fn upload_file(&self, upload: &UploadFile) -> Result<FileInfo, Failure> {
        self.block(self.client.upload_file(upload)).map_err(failure)
    }
    fn upload_bytes(
        &self,
        session: &str,
        entity: &str,
        document: DocumentType,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<FileInfo, Failure> {
        self.block(
            self.client
                .upload_bytes(session, entity, document, name, bytes),
        )
        .map_err(failure)
    }
    fn upload_path(
        &self,
        session: &str,
        entity: &str,
        document: DocumentType,
        path: &Path,
    ) -> Result<FileInfo, Failure> {
        self.block(self.client.upload_path(session, entity, document, path))
            .map_err(failure)
    }
    fn upload_reader(
        &self,
        session: &str,
        entity: &str,
        document: DocumentType,
        name: &str,
        bytes: Vec<u8>,
        declared_len: u64,
    ) -> Result<FileInfo, Failure> {
        self.block(self.client.upload_reader(
            session,
            entity,
            document,
            name,
            Cursor::new(bytes),
            declared_len,
        ))
        .map_err(failure)
    }
    fn get_session(&self, id: &str) -> Result<Session, Failure> {
        self.block(self.client.get_session(id)).map_err(failure)
    }
    fn cancel_session(&self, id: &str) -> Result<Option<Session>, Failure> {
        self.block(self.client.cancel_session(id)).map_err(failure)
    }
    fn report(&self, id: &str) -> Result<Report, Failure> {
        self.block(self.client.report(id)).map_err(failure)
    }
    fn search_sessions(&self, search: &SearchSessions) -> Result<SessionPage, Failure> {
        self.block(self.client.search_sessions(search))
            .map_err(failure)
    }
    fn search_all(&self, search: SearchSessions) -> (Vec<Result<Session, Failure>>, u64) {
        self.block(async {
            let mut all = self.client.search_all(search);
            let mut items = Vec::new();
            while let Some(item) = all.next().await {
                items.push(item.map_err(failure));
            }
            (items, all.pages_fetched())
        })
    }
    fn clean_validations(&self, clean: &CleanValidations) -> Result<CleanResult, Failure> {
        self.block(self.client.clean_validations(clean))
            .map_err(failure)
    }
    fn concurrent_searches(
        &self,
        n: usize,
        search: &SearchSessions,
    ) -> Vec<Result<usize, Failure>> {
        self.block(async {
            let barrier = Arc::new(tokio::sync::Barrier::new(n));
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let client = self.client.clone();
                    let barrier = barrier.clone();
                    let search = search.clone();
                    tokio::spawn(async move {
                        barrier.wait().await;
                        client
                            .search_sessions(&search)
                            .await
                            .map(|p| p.sessions.len())
                            .map_err(failure)
                    })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        })
    }
}

/// The 60-line adapter of kyc-core's crate documentation ("Bring your own HTTP stack"),
/// compiled here from the very file the documentation shows, so the suite proves what the
/// documentation promises.
// Its items are `pub` for a reader of the documentation; here they are private to the suite.
#[allow(unreachable_pub)]
mod own_stack {
    include!("../../../crates/kyc-core/doc/own_stack.rs");
}

/// The HTTP function the third adapter is given: kyc-ureq's transport, called with bodies in
/// memory (any stack would do; this one classifies its failures the same way).
type SendFn = Box<
    dyn FnMut(http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, kyc_core::TransportError>
        + Send,
>;

/// The third client: kyc-core's documented adapter over a plain function. It has `&mut self`
/// methods, so calls from several threads take turns.
pub(crate) struct Own(std::sync::Mutex<own_stack::OwnStack<SendFn>>);

impl Own {
    pub(crate) fn new(server: &MockServer, settings: &Settings) -> Self {
        use kyc_ureq::Transport as _;
        let (config, credentials) = config_for(server, settings);
        let mut core = kyc_core::Settings::new(config, credentials);
        core.retry = settings.retry.clone();
        core.attempt_timeout = settings.attempt_timeout;
        core.overall_timeout = settings.overall_timeout;
        let mut transport = kyc_ureq::UreqTransport::with_attempt_timeout(settings.attempt_timeout);
        if let Some(limit) = settings.max_response_body {
            transport = transport.max_response_body(limit);
        }
        let send: SendFn = Box::new(move |request: http::Request<Vec<u8>>| {
            transport.send(request.map(kyc_ureq::SendBody::from_bytes))
        });
        Self(std::sync::Mutex::new(own_stack::OwnStack::new(core, send)))
    }

    fn with<T>(&self, f: impl FnOnce(&mut own_stack::OwnStack<SendFn>) -> T) -> T {
        f(&mut self.0.lock().unwrap())
    }

    fn call<E: kyc_core::Endpoint>(&self, endpoint: &E) -> Result<E::Output, Failure> {
        self.with(|s| s.call(endpoint, None)).map_err(failure)
    }
}

impl Adapter for Own {
    fn name(&self) -> &'static str {
        "own-stack"
    }
    fn token(&self) -> Result<bool, Failure> {
        self.with(|s| s.token())
            .map(|t| !t.access_token.expose_secret().is_empty() && t.expires_at.is_some())
            .map_err(failure)
    }
    fn revoke_token(&self) -> Result<(), Failure> {
        self.with(|s| {
            let credentials = s.settings.credentials.clone();
            let revoked = s.call(
                &kyc_core::RevokeToken {
                    credentials: &credentials,
                },
                None,
            );
            s.tokens.clear();
            revoked
        })
        .map_err(failure)
    }
    fn create_session(&self, session: &CreateSession) -> Result<SessionCreated, Failure> {
        self.call(session)
    }
    fn create_kyb_session(&self, session: &CreateKybSession) -> Result<SessionCreated, Failure> {
        self.call(session)
    }
    fn create_additional_session(
        &self,
        session: &CreateAdditionalSession,
    ) -> Result<SessionCreated, Failure> {
        self.call(session)
    }
    fn upload_file(&self, upload: &UploadFile) -> Result<FileInfo, Failure> {
        self.call(upload)
    }
    fn upload_bytes(
        &self,
        session: &str,
        entity: &str,
        document: DocumentType,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<FileInfo, Failure> {
        self.call(&UploadFile::from_bytes(
            session, entity, document, name, bytes,
        ))
    }
    fn upload_path(
        &self,
        session: &str,
        entity: &str,
        document: DocumentType,
        path: &Path,
    ) -> Result<FileInfo, Failure> {
        // Read whole: a file in memory is retried like a file re-read from disk.
        let bytes = std::fs::read(path).map_err(|e| {
            failure(
                kyc_core::SourceError::new(
                    kyc_core::SourceErrorKind::Open,
                    Some(path.to_owned()),
                    Some(e),
                )
                .into(),
            )
        })?;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        self.upload_bytes(session, entity, document, &name, bytes)
    }
    fn upload_reader(
        &self,
        session: &str,
        entity: &str,
        document: DocumentType,
        name: &str,
        bytes: Vec<u8>,
        declared_len: u64,
    ) -> Result<FileInfo, Failure> {
        let leading = bytes.get(..8).unwrap_or(&bytes).to_vec();
        let upload =
            UploadFile::from_stream(session, entity, document, name, &leading, declared_len);
        let mut reader = Cursor::new(bytes);
        self.with(|s| s.call(&upload, Some(&mut reader)))
            .map_err(failure)
    }
    fn get_session(&self, id: &str) -> Result<Session, Failure> {
        self.call(&kyc_core::GetSession::new(id))
    }
    fn cancel_session(&self, id: &str) -> Result<Option<Session>, Failure> {
        self.call(&kyc_core::CancelSession::new(id))
    }
    fn report(&self, id: &str) -> Result<Report, Failure> {
        self.call(&kyc_core::GetReport::new(id))
    }
    fn search_sessions(&self, search: &SearchSessions) -> Result<SessionPage, Failure> {
        self.call(search)
    }
    fn search_all(&self, search: SearchSessions) -> (Vec<Result<Session, Failure>>, u64) {
        let config = self.with(|s| s.settings.config.clone());
        let mut pager = kyc_core::Pager::new(&config, search);
        let mut items = Vec::new();
        loop {
            match pager.next_step() {
                kyc_core::PagerStep::Fetch(page) => match self.call(&page) {
                    Ok(page) => items.extend(pager.receive(page).into_iter().map(Ok)),
                    Err(e) => {
                        items.push(Err(e));
                        break;
                    }
                },
                kyc_core::PagerStep::Failed(e) => {
                    items.push(Err(failure(kyc_core::CallError::Core(e.into()))));
                    break;
                }
                _ => break,
            }
        }
        (items, u64::from(pager.pages_fetched()))
    }
    fn clean_validations(&self, clean: &CleanValidations) -> Result<CleanResult, Failure> {
        self.call(clean)
    }
    fn concurrent_searches(
        &self,
        n: usize,
        search: &SearchSessions,
    ) -> Vec<Result<usize, Failure>> {
        let barrier = Barrier::new(n);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        self.call(search).map(|p| p.sessions.len())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }
}
