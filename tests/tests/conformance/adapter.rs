//! One type over the three clients, so every scenario is written once, generic over each client's
//! one entry for any endpoint and its one entry for uploads. kyc-ureq is called directly;
//! kyc-reqwest is driven on a tokio runtime (concurrent calls run as tasks on a multi-thread
//! runtime, as a service would run them).

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use futures_util::StreamExt;
use kyc_core::{
    Config, Credentials, Endpoint, Environment, FileInfo, RetryPolicy, SearchSessions, Session,
    UploadFile,
};
use kyc_mock::MockServer;

/// An error reduced to the facts a user acts on, identical in shape for both clients.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Failure {
    /// `invalid_input`, `api`, `decode`, `transport`, `source`, `randomness`.
    pub(crate) kind: &'static str,
    /// Whether the failure happened while obtaining the token (`Stage::Token`).
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

/// Reduces any client's error to a [`Failure`]: all three share kyc-core's `CallError`, one
/// `match` on its fault.
fn failure(e: kyc_core::CallError) -> Failure {
    use kyc_core::Fault;
    let base = |kind, detail: String| Failure {
        kind,
        during_token: e.stage == kyc_core::Stage::Token,
        status: e.status().map(|s| s.as_u16()),
        has_request_id: e.request_id().is_some(),
        detail,
        // Creating calls' errors carry their idempotency key (random: its value not compared).
        keyed: e.idempotency_key.is_some(),
    };
    match &e.fault {
        Fault::InvalidInput(i) => base("invalid_input", format!("{i:?}")),
        Fault::Api(a) => {
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
        Fault::Decode(d) => base("decode", format!("path={} reason={:?}", d.path, d.reason)),
        Fault::Pagination(p) => base(
            "core_other",
            format!("{:?}", kyc_core::Error::from(p.clone())),
        ),
        Fault::Transport(t) => base(
            "transport",
            format!("{:?} reached={}", t.kind(), t.may_have_reached_server()),
        ),
        Fault::Source(s) => base("source", format!("{:?}", s.kind())),
        Fault::Randomness => base("randomness", String::new()),
        other => base("unknown", format!("{other:?}")),
    }
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

/// Where the bytes of an upload come from, the same for every client.
pub(crate) enum From {
    /// Held in memory.
    Bytes(Vec<u8>),
    /// A file, streamed.
    Path(PathBuf),
    /// These bytes through a reader that claims `len` bytes, streamed once.
    Reader { bytes: Vec<u8>, len: u64 },
}

/// One client under test: kyc-ureq, kyc-reqwest or kyc-core's documented adapter. Every
/// operation runs through its one generic entry ([`Client::execute`]) or its one upload entry
/// ([`Client::upload`]); only the token, the walk over pages and concurrency need more.
// One per run of a scenario: the runtime's size does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Client {
    /// kyc-ureq, called directly.
    Ureq(kyc_ureq::Client),
    /// kyc-reqwest on a multi-thread tokio runtime (concurrent calls run as tasks, as a service
    /// would run them).
    Reqwest {
        client: kyc_reqwest::Client,
        runtime: tokio::runtime::Runtime,
    },
    /// kyc-core's documented adapter over a plain function. It has `&mut self` methods, so calls
    /// from several threads take turns.
    Own(std::sync::Mutex<own_stack::OwnStack<SendFn>>),
}

impl Client {
    pub(crate) fn ureq(server: &MockServer, settings: &Settings) -> Self {
        let (config, credentials) = config_for(server, settings);
        let mut builder = kyc_ureq::Client::builder(config, credentials)
            .retry_policy(settings.retry.clone())
            .attempt_timeout(settings.attempt_timeout)
            .overall_timeout(settings.overall_timeout);
        if let Some(limit) = settings.max_response_body {
            builder = builder.max_response_body(limit);
        }
        Self::Ureq(builder.build())
    }

    pub(crate) fn reqwest(server: &MockServer, settings: &Settings) -> Self {
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
        Self::Reqwest {
            client: builder.build(),
            runtime,
        }
    }

    pub(crate) fn own(server: &MockServer, settings: &Settings) -> Self {
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
        Self::Own(std::sync::Mutex::new(own_stack::OwnStack::new(core, send)))
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Client::Ureq(_) => "kyc-ureq",
            Client::Reqwest { .. } => "kyc-reqwest",
            Client::Own(_) => "own-stack",
        }
    }

    /// Any endpoint, through each client's one generic entry.
    pub(crate) fn execute<E: Endpoint + Sync>(&self, endpoint: &E) -> Result<E::Output, Failure> {
        match self {
            Client::Ureq(c) => c.execute(endpoint),
            Client::Reqwest { client, runtime } => runtime.block_on(client.execute(endpoint)),
            Client::Own(own) => own.lock().unwrap().call(endpoint, None),
        }
        .map_err(failure)
    }

    /// An upload, through each client's one upload entry (the documented adapter reads a path
    /// whole: a file in memory is retried like a file re-read from disk).
    pub(crate) fn upload(&self, upload: &UploadFile, from: From) -> Result<FileInfo, Failure> {
        match self {
            Client::Ureq(c) => c.upload(upload, ureq_source(from)).map_err(failure),
            Client::Reqwest { client, runtime } => runtime
                .block_on(client.upload(upload, reqwest_source(from)))
                .map_err(failure),
            Client::Own(_) => match from {
                From::Bytes(bytes) => self.execute(&upload.clone().with_bytes(bytes)),
                From::Path(path) => {
                    let bytes = std::fs::read(&path).map_err(|e| {
                        failure(
                            kyc_core::SourceError::new(
                                kyc_core::SourceErrorKind::Open,
                                Some(path.clone()),
                                Some(e),
                            )
                            .into(),
                        )
                    })?;
                    let name = path.file_name().unwrap().to_string_lossy().into_owned();
                    self.execute(&upload.clone().with_bytes(bytes).file_name_or(name))
                }
                From::Reader { bytes, len } => {
                    let leading = bytes.get(..8).unwrap_or(&bytes).to_vec();
                    let upload = upload.clone().with_stream(&leading, len);
                    let mut reader = Cursor::new(bytes);
                    self.with_own(|s| s.call(&upload, Some(&mut reader)))
                        .map_err(failure)
                }
            },
        }
    }

    /// Whether a token was obtained (the token itself differs per run).
    pub(crate) fn token(&self) -> Result<bool, Failure> {
        match self {
            Client::Ureq(c) => c.token(),
            Client::Reqwest { client, runtime } => runtime.block_on(client.token()),
            Client::Own(_) => self.with_own(|s| s.token()),
        }
        .map(|t| !t.access_token.expose_secret().is_empty() && t.expires_at.is_some())
        .map_err(failure)
    }

    pub(crate) fn revoke_token(&self) -> Result<(), Failure> {
        match self {
            Client::Ureq(c) => c.revoke_token(),
            Client::Reqwest { client, runtime } => runtime.block_on(client.revoke_token()),
            Client::Own(_) => self.with_own(|s| {
                let credentials = s.settings.credentials.clone();
                let revoked = s.call(
                    &kyc_core::RevokeToken {
                        credentials: &credentials,
                    },
                    None,
                );
                s.tokens.clear();
                revoked
            }),
        }
        .map_err(failure)
    }

    /// Every item of `search_all`, and the number of pages fetched.
    pub(crate) fn search_all(
        &self,
        search: SearchSessions,
    ) -> (Vec<Result<Session, Failure>>, u64) {
        match self {
            Client::Ureq(c) => {
                let mut all = c.search_all(search);
                let items = all.by_ref().map(|r| r.map_err(failure)).collect();
                (items, all.pages_fetched())
            }
            Client::Reqwest { client, runtime } => runtime.block_on(async {
                let mut all = client.search_all(search);
                let mut items = Vec::new();
                while let Some(item) = all.next().await {
                    items.push(item.map_err(failure));
                }
                (items, all.pages_fetched())
            }),
            Client::Own(_) => {
                let config = self.with_own(|s| s.settings.config.clone());
                let mut pager = kyc_core::Pager::new(&config, search);
                let mut items = Vec::new();
                loop {
                    match pager.next_step() {
                        kyc_core::PagerStep::Fetch(page) => match self.execute(&page) {
                            Ok(page) => items.extend(pager.receive(page).into_iter().map(Ok)),
                            Err(e) => {
                                items.push(Err(e));
                                break;
                            }
                        },
                        kyc_core::PagerStep::Failed(e) => {
                            items.push(Err(failure(e.into())));
                            break;
                        }
                        _ => break,
                    }
                }
                (items, u64::from(pager.pages_fetched()))
            }
        }
    }

    /// `n` searches started at the same moment (threads for kyc-ureq and the documented adapter,
    /// tasks for kyc-reqwest).
    pub(crate) fn concurrent_searches(
        &self,
        n: usize,
        search: &SearchSessions,
    ) -> Vec<Result<usize, Failure>> {
        let count = |page: Result<kyc_core::SessionPage, Failure>| page.map(|p| p.sessions.len());
        if let Client::Reqwest { client, runtime } = self {
            return runtime.block_on(async {
                let barrier = Arc::new(tokio::sync::Barrier::new(n));
                let tasks: Vec<_> = (0..n)
                    .map(|_| {
                        let (client, barrier, search) =
                            (client.clone(), barrier.clone(), search.clone());
                        tokio::spawn(async move {
                            barrier.wait().await;
                            client.execute(&search).await.map_err(failure)
                        })
                    })
                    .collect();
                let mut out = Vec::new();
                for t in tasks {
                    out.push(count(t.await.unwrap()));
                }
                out
            });
        }
        let barrier = Barrier::new(n);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        count(self.execute(search))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    fn with_own<T>(&self, f: impl FnOnce(&mut own_stack::OwnStack<SendFn>) -> T) -> T {
        match self {
            Client::Own(own) => f(&mut own.lock().unwrap()),
            _ => unreachable!("only the documented adapter is driven directly"),
        }
    }
}

fn ureq_source(from: From) -> kyc_ureq::Source {
    match from {
        From::Bytes(bytes) => kyc_ureq::Source::bytes(bytes),
        From::Path(path) => kyc_ureq::Source::path(path),
        From::Reader { bytes, len } => kyc_ureq::Source::reader(Box::new(Cursor::new(bytes)), len),
    }
}

fn reqwest_source(from: From) -> kyc_reqwest::Source {
    match from {
        From::Bytes(bytes) => kyc_reqwest::Source::bytes(bytes),
        From::Path(path) => kyc_reqwest::Source::path(path),
        From::Reader { bytes, len } => {
            kyc_reqwest::Source::reader(Box::new(Cursor::new(bytes)), len)
        }
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
