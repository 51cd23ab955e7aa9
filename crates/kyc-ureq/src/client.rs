//! The client: the loop every call runs over kyc-core's driver (send, wait, done), the one entry
//! for any endpoint ([`Client::execute`]) and the one for uploads ([`Client::upload`]), and
//! one-line conveniences on top of them.

use std::fmt;
use std::sync::{Arc, Condvar};
use std::time::{Instant, SystemTime};

use kyc_adapter::{Running, Shared, SourceCell, Trace};
use kyc_core::{
    Config, Credentials, Endpoint, Exchange, FileInfo, Next, Now, Outgoing, Reply, Settings,
    UploadFile,
};

use crate::transport::{SendBody, Transport};
use crate::upload::{self, NoStream, Source, UploadSource};
use crate::ureq_transport::{DEFAULT_MAX_RESPONSE_BODY, UreqTransport};
use crate::{Error, SourceError};

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
    pub fn execute<E: Endpoint>(&self, endpoint: &E) -> Result<E::Output, Error> {
        self.execute_with(endpoint, &mut NoStream)
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
    pub fn upload(&self, upload: &UploadFile, source: Source) -> Result<FileInfo, Error> {
        let (upload, mut source) = upload::open(upload, source)?;
        self.execute_with(&upload, &mut *source)
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

    kyc_adapter::client_methods!();
}

/// `Client` must stay `Clone + Send + Sync` (shared by threads, clones share the token slot).
const _: fn() = || {
    fn check<T: Send + Sync + Clone>() {}
    check::<Client>();
};
