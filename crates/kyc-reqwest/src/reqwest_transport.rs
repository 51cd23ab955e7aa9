//! The default [`Transport`]: reqwest, converting the core's `http::Request` to reqwest and the
//! whole response back, untouched.

use crate::AttemptTimeout;
use crate::transport::{BoxFuture, SendBody, Transport};
use crate::{TransportError, TransportErrorKind};

pub use kyc_adapter::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BODY};

/// Sends requests with a [`reqwest::Client`] (connection pool with keep-alive).
///
/// Every request goes out with the request's [`AttemptTimeout`] as reqwest's per-request timeout;
/// its headers and body pass through untouched (a streamed body with its `Content-Length`, never
/// chunked), and the whole response comes back, whatever its status, with its body read up to
/// [`ReqwestTransport::max_response_body`] bytes.
///
/// The client built by [`ReqwestTransport::new`] follows no redirect (a 3xx goes to the core like
/// any other status) and sends its own `User-Agent`. A client you pass to
/// [`ReqwestTransport::from_client`] keeps its own settings: give it
/// `redirect(reqwest::redirect::Policy::none())` so a 3xx reaches the core.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    max_response_body: u64,
}

impl ReqwestTransport {
    /// A transport with its own client: no redirects, [`DEFAULT_CONNECT_TIMEOUT`],
    /// [`DEFAULT_MAX_RESPONSE_BODY`].
    ///
    /// # Errors
    ///
    /// [`TransportErrorKind::Other`] when reqwest cannot build its client (its TLS backend
    /// failed to initialise).
    pub fn new() -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
            .user_agent(concat!(
                "kyc-rs/",
                env!("CARGO_PKG_VERSION"),
                " (kyc-reqwest)"
            ))
            .build()
            .map_err(|e| TransportError::new(TransportErrorKind::Other, false).with_source(e))?;
        Ok(Self::from_client(client))
    }

    /// A transport over a client you configured (proxy, TLS roots, pool size…).
    #[must_use]
    pub fn from_client(client: reqwest::Client) -> Self {
        Self {
            client,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
        }
    }

    /// Sets the largest response body read, in bytes; a larger one is an error.
    #[must_use]
    pub fn max_response_body(mut self, limit: u64) -> Self {
        self.max_response_body = limit;
        self
    }

    /// The reqwest client, to share its connection pool.
    #[must_use]
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    async fn exchange(
        &self,
        request: http::Request<SendBody>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let timeout = request.extensions().get::<AttemptTimeout>().map(|t| t.0);
        let (parts, body) = request.into_parts();
        let body = match body.as_bytes() {
            Some(bytes) => reqwest::Body::from(bytes.clone()),
            None => reqwest::Body::wrap_stream(body.into_stream()),
        };
        let url = reqwest::Url::parse(&parts.uri.to_string()).map_err(|e| {
            TransportError::new(TransportErrorKind::InvalidRequest, false).with_source(e)
        })?;
        let mut builder = self
            .client
            .request(parts.method, url)
            .version(parts.version)
            .headers(parts.headers)
            .body(body);
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout);
        }
        let mut response = builder.send().await.map_err(|e| classify(e, false))?;
        let limit = self.max_response_body;
        let too_large =
            || TransportError::new(TransportErrorKind::ResponseTooLarge { limit }, true);
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(e, true))? {
            if bytes.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        let mut out = http::Response::new(bytes);
        *out.status_mut() = response.status();
        *out.version_mut() = response.version();
        *out.headers_mut() = std::mem::take(response.headers_mut());
        Ok(out)
    }
}

impl Transport for ReqwestTransport {
    fn send(
        &self,
        request: http::Request<SendBody>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        Box::pin(self.exchange(request))
    }

    /// reqwest's per-request timeout, set to the attempt's budget, runs from connecting until the
    /// response body has finished: the conformance suite's trickling servers check it.
    fn bounds_attempts(&self) -> bool {
        true
    }
}

/// Maps a reqwest error to the kinds kyc-ureq reports for the same failures. The URL is dropped
/// from the error (its query may carry a user id).
fn classify(e: reqwest::Error, reading_body: bool) -> TransportError {
    use TransportErrorKind as K;
    let (kind, reached) = if reading_body {
        if e.is_timeout() {
            (K::Timeout, true)
        } else {
            (K::Connection, true)
        }
    } else if e.is_builder() {
        (K::InvalidRequest, false)
    } else if e.is_timeout() {
        (K::Timeout, !e.is_connect())
    } else if e.is_connect() {
        (K::Connect, false)
    } else if e.is_request() || e.is_body() || e.is_decode() {
        (K::Connection, true)
    } else {
        (K::Other, true)
    };
    TransportError::new(kind, reached).with_source(e.without_url())
}
