//! The client: the loop every call runs over kyc-core's driver (send, wait, done), the one entry
//! for any endpoint ([`Client::execute`]) and the one for uploads ([`Client::upload`]), and
//! one-line conveniences on top of them.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kyc_adapter::{Running, Shared, SourceCell, Trace};
use kyc_core::{
    Config, Credentials, Endpoint, Exchange, FileInfo, Next, Now, Outgoing, Reply, Settings,
    UploadFile,
};
use tokio::sync::Notify;

use crate::reqwest_transport::{DEFAULT_MAX_RESPONSE_BODY, ReqwestTransport};
use crate::transport::{BoxFuture, SendBody, Transport};
use crate::upload::{self, NoStream, Source, UploadSource};
use crate::{Error, SourceError, TransportError, TransportErrorKind};

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

    /// Runs any endpoint as one logical call: kyc-core's [`kyc_core::Call`] decides everything
    /// (token, retries, the replay after a `401`, the deadline); this sends, sleeps and waits as
    /// it says. A creating call is sent with the request's own idempotency key
    /// ([`CreateSession::idempotency_key`](kyc_core::CreateSession::idempotency_key),
    /// [`UploadFile::idempotency_key`]) or one drawn here, once; its errors carry the key
    /// ([`Error::idempotency_key`]). Every operation, your own
    /// endpoints included, runs through here; the named methods below are one-line shorthands.
    ///
    /// An upload whose file is streamed needs its source: use [`Client::upload`].
    ///
    /// # Errors
    ///
    /// An [`Error`] whose [`fault`](Error::fault) says what went wrong: the refused input, the
    /// API's answer, an undecodable body, the transport's failure, or the random source's; its
    /// [`stage`](Error::stage) says whether obtaining the token failed.
    pub async fn execute<E: Endpoint + Sync>(&self, endpoint: &E) -> Result<E::Output, Error> {
        self.execute_with(endpoint, &mut NoStream).await
    }

    /// Uploads the document `upload` describes (session, entity, document type and options
    /// such as [`UploadFile::country`] or [`UploadFile::kyb`]), its file taken from `source`:
    /// [`Source::bytes`], [`Source::path`] (streamed, the file opened once and every attempt
    /// reading it from its start; a file modified in place between attempts fails the call) or
    /// [`Source::reader`] (streamed once: not retried after bytes were read from it).
    ///
    /// # Errors
    ///
    /// As [`Client::execute`]; a [`Fault::Source`](crate::Fault::Source) when the file cannot be
    /// opened or read, or changes while it is sent.
    pub async fn upload(&self, upload: &UploadFile, source: Source) -> Result<FileInfo, Error> {
        let (upload, mut source) = upload::open(upload, source).await?;
        self.execute_with(&upload, &mut *source).await
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

    kyc_adapter::client_methods!(async, .await);
}

/// `Client` must stay `Clone + Send + Sync`, and its futures `Send` (for `tokio::spawn`).
const _: fn() = || {
    fn check<T: Send + Sync + Clone>() {}
    fn send<T: Send>(_: &T) {}
    check::<Client>();
    let _ = |c: Client| {
        send(&c.get_session("iss-1"));
        send(&c.token());
        send(&c.upload_path("iss-1", "usr-1", kyc_core::DocumentType::Selfie, "f.jpg"));
        let upload = UploadFile::new("iss-1", "usr-1", kyc_core::DocumentType::Selfie);
        send(&c.upload(&upload, Source::reader(Box::new(tokio::io::empty()), 1)));
    };
};
