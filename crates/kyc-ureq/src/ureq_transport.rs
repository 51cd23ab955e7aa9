//! The default [`Transport`]: ureq 3, converting the core's `http::Request` to ureq and the whole
//! response back, untouched.

use std::time::Duration;

use crate::AttemptTimeout;
use crate::DEFAULT_ATTEMPT_TIMEOUT;
use crate::transport::{SendBody, Transport};
use crate::{TransportError, TransportErrorKind};

pub use kyc_adapter::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BODY};

/// Idle connections this crate's own agent keeps for reuse (ureq's default is 3 per host). One
/// client is meant to be shared by a service's threads: with ureq's default, 16 threads sharing
/// one client opened about 600 new connections a second on loopback and ran at 0.7× of a
/// well-pooled agent (kyc-bench's `shared_clients`). Idle connections still close after ureq's
/// 15 s idle age. For another size, build your agent and use [`UreqTransport::from_agent`].
pub const DEFAULT_MAX_IDLE_CONNECTIONS: usize = 32;

/// Sends requests with a ureq 3 [`ureq::Agent`] (connection pool with keep-alive).
///
/// Every request is sent with ureq's "status as error" off (so 4xx/5xx bodies reach the core),
/// redirects not followed (a 3xx goes to the core like any other status), and the response body
/// read up to [`UreqTransport::max_response_body`] bytes. Headers and bodies pass through
/// untouched in both directions; a request body with a known length goes out with
/// `Content-Length`, never chunked.
///
/// # Timeouts
///
/// The request's [`AttemptTimeout`] bounds the whole exchange: connecting, sending the request,
/// waiting for the response head and reading the body, together (ureq's global timeout, which
/// counts from the start of the request). A server that accepts and never answers, or trickles its
/// head or body, is cut when the budget is spent. A transport built with [`UreqTransport::new`] or
/// [`UreqTransport::with_attempt_timeout`] carries the usual budget in its agent, so the common
/// request needs no per-request configuration; a budget shortened by the call's deadline is set on
/// the request.
#[derive(Debug, Clone)]
pub struct UreqTransport {
    agent: ureq::Agent,
    /// The attempt budget this transport's own agent was built with (`None` for a caller's agent,
    /// whose settings cannot be trusted to match and are overridden per request).
    preset: Option<Duration>,
    max_response_body: u64,
}

impl Default for UreqTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl UreqTransport {
    /// A transport with its own agent: keep-alive on with [`DEFAULT_MAX_IDLE_CONNECTIONS`],
    /// [`DEFAULT_CONNECT_TIMEOUT`], [`DEFAULT_MAX_RESPONSE_BODY`], tuned for the client's
    /// [`DEFAULT_ATTEMPT_TIMEOUT`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_attempt_timeout(DEFAULT_ATTEMPT_TIMEOUT)
    }

    /// Like [`UreqTransport::new`], tuned for a client whose attempt timeout is `timeout` (any
    /// other timeout still works, through a per-request configuration).
    #[must_use]
    pub fn with_attempt_timeout(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(DEFAULT_CONNECT_TIMEOUT))
            .timeout_global(Some(timeout))
            .max_idle_connections(DEFAULT_MAX_IDLE_CONNECTIONS)
            .max_idle_connections_per_host(DEFAULT_MAX_IDLE_CONNECTIONS)
            .user_agent(concat!("kyc-rs/", env!("CARGO_PKG_VERSION"), " (kyc-ureq)"))
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::new(),
            SyncResolver::default(),
        );
        Self {
            agent,
            preset: Some(timeout),
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
        }
    }

    /// A transport over an agent you configured (proxy, TLS roots, pool size…). The settings above
    /// that the client relies on (status not an error, no redirects, the attempt's whole budget)
    /// are applied to each request, whatever the agent's defaults. An agent built with ureq's
    /// default resolver then looks each host up on a thread of its own, bounded by the budget;
    /// this crate's own agent resolves synchronously, which is faster.
    #[must_use]
    pub fn from_agent(agent: ureq::Agent) -> Self {
        Self {
            agent,
            preset: None,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
        }
    }

    /// Sets the largest response body read, in bytes; a larger one is an error.
    #[must_use]
    pub fn max_response_body(mut self, limit: u64) -> Self {
        self.max_response_body = limit;
        self
    }

    /// The agent, to share its connection pool.
    #[must_use]
    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }
}

impl Transport for UreqTransport {
    fn send(
        &self,
        request: http::Request<SendBody>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let timeout = request.extensions().get::<AttemptTimeout>().map(|t| t.0);
        let (parts, body) = request.into_parts();
        let result = if body.as_bytes().is_some_and(<[u8]>::is_empty)
            && !parts.headers.contains_key(http::header::CONTENT_LENGTH)
        {
            // No content and no declared length (a GET): send no body, so ureq adds no
            // `Content-Length: 0` the request did not carry.
            self.run(http::Request::from_parts(parts, ()), timeout)
        } else if let Some(bytes) = body.as_bytes() {
            let request = http::Request::from_parts(parts, bytes);
            self.run(request, timeout)
        } else {
            let mut reader = body.into_reader();
            let request =
                http::Request::from_parts(parts, ureq::SendBody::from_reader(&mut reader));
            self.run(request, timeout)
        };
        let response = result.map_err(|e| classify(e, Phase::Exchange))?;
        let (parts, mut body) = response.into_parts();
        let bytes = body
            .with_config()
            .limit(self.max_response_body)
            .read_to_vec()
            .map_err(|e| classify(e, Phase::ResponseBody(self.max_response_body)))?;
        Ok(http::Response::from_parts(parts, bytes))
    }
}

impl UreqTransport {
    fn run<S: ureq::AsSendBody>(
        &self,
        request: http::Request<S>,
        timeout: Option<Duration>,
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        if self.preset.is_some() && timeout == self.preset {
            // The agent was built with exactly these settings: no per-request configuration.
            return self.agent.run(request);
        }
        let configured = self
            .agent
            .configure_request(request)
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false);
        let configured = configured.timeout_global(timeout);
        self.agent.run(configured.build())
    }
}

/// ureq's resolver, asked to resolve synchronously. With a whole-request timeout, ureq bounds the
/// lookup by it on a thread spawned for every request, which cost a quarter of `get_session`
/// throughput on loopback (measured with kyc-bench's `get_session_rps`: ratio 0.73 against 0.97).
/// The lookup is then bounded by the system resolver's own timeouts instead; everything after it
/// (connect, request, response head and body) stays within the attempt's budget.
///
/// This uses ureq's `unversioned` API, which may change in a minor release of ureq 3: the
/// workspace's `Cargo.lock` pins the version it was written against.
#[derive(Debug, Default)]
struct SyncResolver(ureq::unversioned::resolver::DefaultResolver);

impl ureq::unversioned::resolver::Resolver for SyncResolver {
    fn resolve(
        &self,
        uri: &http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let unbounded = ureq::unversioned::transport::NextTimeout {
            after: ureq::unversioned::transport::time::Duration::NotHappening,
            ..timeout
        };
        self.0.resolve(uri, config, unbounded)
    }
}

#[derive(Clone, Copy)]
enum Phase {
    Exchange,
    ResponseBody(u64),
}

fn classify(e: ureq::Error, phase: Phase) -> TransportError {
    use TransportErrorKind as K;
    use std::io::ErrorKind as Io;
    let (kind, reached) = match (&e, phase) {
        (ureq::Error::BodyExceedsLimit(_), Phase::ResponseBody(limit)) => {
            (K::ResponseTooLarge { limit }, true)
        }
        (_, Phase::ResponseBody(_)) if matches!(e, ureq::Error::Timeout(_)) => (K::Timeout, true),
        (_, Phase::ResponseBody(_)) => (K::Connection, true),
        (ureq::Error::Timeout(t), _) => (
            K::Timeout,
            !matches!(t, ureq::Timeout::Resolve | ureq::Timeout::Connect),
        ),
        (ureq::Error::HostNotFound | ureq::Error::ConnectionFailed, _) => (K::Connect, false),
        (ureq::Error::Io(io), _) => match io.kind() {
            Io::ConnectionRefused
            | Io::AddrNotAvailable
            | Io::NetworkUnreachable
            | Io::HostUnreachable => (K::Connect, false),
            Io::TimedOut | Io::WouldBlock => (K::Timeout, true),
            _ => (K::Connection, true),
        },
        (ureq::Error::Protocol(_), _) => (K::Connection, true),
        (ureq::Error::Tls(_), _) => (K::Connect, false),
        #[cfg(feature = "rustls")]
        (ureq::Error::Rustls(_) | ureq::Error::Pem(_), _) => (K::Connect, false),
        (
            ureq::Error::BadUri(_)
            | ureq::Error::Http(_)
            | ureq::Error::InvalidProxyUrl
            | ureq::Error::BodyExceedsLimit(_),
            _,
        ) => (K::InvalidRequest, false),
        _ => (K::Other, true),
    };
    TransportError::new(kind, reached).with_source(e)
}
