//! The one generic path from an endpoint type to an `http::Request`, and from an `http::Response`
//! back to the endpoint's output. Every operation goes through [`build_request`] and
//! [`parse_response`]; nothing else formats URLs, adds auth headers or routes statuses.

use std::fmt;

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;

use crate::body::{OutgoingBody, RequestBody};
use crate::config::Config;
use crate::error::{
    ApiError, BodySnippet, DecodeError, DecodeReason, Error, InvalidInput, request_id,
};
use crate::secret::AccessToken;

/// Name of the idempotency header (API reference §4.5).
pub const IDEMPOTENCY_HEADER: &str = "x-idempotency-key";

/// [`IDEMPOTENCY_HEADER`] as a header name, checked once rather than on every request.
static IDEMPOTENCY_HEADER_NAME: HeaderName = HeaderName::from_static(IDEMPOTENCY_HEADER);

/// One API operation: its method, path, body and the type its successful response decodes into.
pub trait Endpoint {
    /// What a successful response decodes into.
    type Output;
    /// The request body type ([`crate::Body`] for JSON, [`crate::MultipartBody`] for uploads).
    type Body: RequestBody + Into<OutgoingBody>;

    /// The HTTP method.
    const METHOD: Method;
    /// Whether the call creates something, and so carries an idempotency key (decision 6).
    const CREATES: bool = false;
    /// Whether the call needs a bearer token (every call but the OAuth ones).
    const AUTHENTICATED: bool = true;

    /// Whether sending the request again has the same effect as sending it once, so that it may
    /// be retried after it may have reached the server even without an idempotency key. By
    /// default, whether the method is idempotent (RFC 9110 §9.2.2); the OAuth calls say `true`.
    #[must_use]
    fn idempotent() -> bool {
        crate::retry::is_idempotent(&Self::METHOD)
    }

    /// The caller's idempotency key for a creating call, when the request carries one; a call
    /// without one draws its own.
    fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        None
    }

    /// The path (percent-encoded, starting with `/`) and query, relative to the base URL.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] when the endpoint's parameters cannot form a safe path.
    fn path_and_query(&self, config: &Config) -> Result<String, InvalidInput>;

    /// The body and its content type (`None` for a body-less request).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] when the body cannot be built.
    fn body(
        &self,
        config: &Config,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<(Option<HeaderValue>, Self::Body), InvalidInput>;

    /// Decodes a 2xx response body.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when the body is not what the API promises.
    fn parse(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<Self::Output, Error>;
}

/// The value of the `x-idempotency-key` header. The core draws no randomness: make one from random
/// bytes with [`IdempotencyKey::from_random_bytes`] once per logical call, and reuse it on every
/// attempt of that call.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    /// The key, ready for the header (every attempt clones it instead of building it); always
    /// visible ASCII, so it is its own text.
    header: HeaderValue,
}

impl IdempotencyKey {
    /// Uses `key` as is.
    ///
    /// # Errors
    ///
    /// [`InvalidInput::InvalidIdempotencyKey`] unless `key` is 1 to 255 visible ASCII characters.
    pub fn new(key: impl Into<String>) -> Result<Self, InvalidInput> {
        let key = key.into();
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidInput::InvalidIdempotencyKey);
        }
        // Visible ASCII is always a valid header value.
        let header = HeaderValue::try_from(key).map_err(|_| InvalidInput::InvalidIdempotencyKey)?;
        Ok(Self { header })
    }

    /// A key made of the lowercase hex of 16 random bytes the caller drew (128 bits).
    #[must_use]
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        let digit = |n: u8| char::from_digit(u32::from(n), 16).unwrap_or('0');
        let mut text = String::with_capacity(32);
        for b in bytes {
            text.push(digit(b >> 4));
            text.push(digit(b & 0x0f));
        }
        let header = HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("0"));
        Self { header }
    }

    /// The key.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only visible ASCII ever gets in (checked by `new`, hex from `from_random_bytes`).
        self.header.to_str().unwrap_or_default()
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdempotencyKey")
            .field(&self.as_str())
            .finish()
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes that stay literal in a path segment: RFC 3986 unreserved characters. Everything else,
/// `/ ? # % [ ]` and non-ASCII included, is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes an identifier as exactly one path segment.
///
/// # Errors
///
/// [`InvalidInput::InvalidId`] for an empty id, `.` or `..` (which would change the route).
pub fn encode_segment(what: &'static str, id: &str) -> Result<String, InvalidInput> {
    if id.is_empty() || id == "." || id == ".." {
        return Err(InvalidInput::InvalidId { what });
    }
    Ok(utf8_percent_encode(id, SEGMENT).to_string())
}

/// Replaces `{session_id}` in a configured template with the encoded id.
pub(crate) fn session_path(template: &str, session_id: &str) -> Result<String, InvalidInput> {
    Ok(template.replace("{session_id}", &encode_segment("session id", session_id)?))
}

/// Checks everything [`build_request`] checks except the token and the idempotency key, without
/// sending anything: refused input is found before it costs a request (the call drivers do this
/// first; a CLI or a form can too). A creating endpoint's body is built with a placeholder key.
///
/// # Errors
///
/// [`InvalidInput`] when the endpoint's parameters are refused.
pub fn validate<E: Endpoint>(config: &Config, endpoint: &E) -> Result<(), InvalidInput> {
    endpoint.path_and_query(config)?;
    let placeholder = IdempotencyKey {
        header: HeaderValue::from_static("kyc-rs-validation"),
    };
    endpoint.body(config, E::CREATES.then_some(&placeholder))?;
    Ok(())
}

/// Builds the `http::Request` for `endpoint`.
///
/// `token` is required for authenticated endpoints, `idempotency_key` for creating ones; reuse the
/// same key on every attempt of one logical call. The `Authorization` header is marked sensitive,
/// so `http`'s `Debug` does not print it.
///
/// # Errors
///
/// [`Error::InvalidInput`] when the endpoint's parameters are refused, the token or key is missing,
/// or the token cannot be a header value.
pub fn build_request<E: Endpoint>(
    config: &Config,
    endpoint: &E,
    token: Option<&AccessToken>,
    idempotency_key: Option<&IdempotencyKey>,
) -> Result<http::Request<E::Body>, Error> {
    let uri = config.uri(endpoint.path_and_query(config)?)?;
    let (content_type, body) = endpoint.body(config, idempotency_key)?;
    let mut request = http::Request::new(body);
    *request.method_mut() = E::METHOD;
    *request.uri_mut() = uri;
    let content_length = request.body().content_length();
    let headers = request.headers_mut();
    // At most five headers: one allocation instead of a growth step per insert.
    headers.reserve(5);
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    if let Some(ct) = content_type {
        headers.insert(CONTENT_TYPE, ct);
    }
    if E::METHOD != Method::GET || content_length > 0 {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(content_length));
    }
    if E::AUTHENTICATED {
        let token = token.ok_or(InvalidInput::MissingAccessToken)?;
        let bearer = token.bearer().ok_or(InvalidInput::InvalidHeaderValue {
            what: "access token",
        })?;
        headers.insert(AUTHORIZATION, bearer.clone());
    }
    if E::CREATES {
        let key = idempotency_key.ok_or(InvalidInput::MissingIdempotencyKey)?;
        headers.insert(&IDEMPOTENCY_HEADER_NAME, key.header.clone());
    }
    Ok(request)
}

/// Whether `token` can be sent in an `Authorization` header.
pub(crate) fn usable_as_bearer(token: &AccessToken) -> bool {
    token.bearer().is_some()
}

/// Reads `response` as the answer to `E`: 2xx decodes into `E::Output`, anything else becomes
/// [`Error::Api`]. Never panics, whatever the status, headers and bytes.
///
/// # Errors
///
/// [`Error::Api`] for a non-2xx status; [`Error::Decode`] for a 2xx body that does not decode.
pub fn parse_response<E: Endpoint, B: AsRef<[u8]>>(
    response: &http::Response<B>,
) -> Result<E::Output, Error> {
    let status = response.status();
    let headers = response.headers();
    let body = response.body().as_ref();
    if !status.is_success() {
        return Err(ApiError::from_response(status, headers, body).into());
    }
    E::parse(status, headers, body)
}

/// Decodes a JSON body as `T`, reporting the JSON path of a failure.
pub(crate) fn decode_json<T: DeserializeOwned>(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Error> {
    // Path tracking costs time on every member of every body; only a failure needs the path. So
    // the body is read plainly first, and again with tracking only to explain a failure (the
    // second pass sees the same bytes with the same rules, so it fails the same way).
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let fail = |path: String, inner: serde_json::Error| -> Error {
        let reason = match inner.classify() {
            serde_json::error::Category::Syntax => DecodeReason::Syntax {
                line: inner.line(),
                column: inner.column(),
            },
            serde_json::error::Category::Eof => DecodeReason::Eof,
            _ => DecodeReason::Data,
        };
        DecodeError {
            status,
            request_id: request_id(headers),
            path,
            reason,
            raw_body: BodySnippet::new(body),
        }
        .into()
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        fail(path, e.into_inner())
    })?;
    de.end().map_err(|e| fail(".".to_owned(), e))?;
    Ok(value)
}

/// Decodes `{"data": T}` and returns the `T`.
pub(crate) fn decode_data<T: DeserializeOwned>(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Error> {
    #[derive(serde::Deserialize)]
    struct Envelope<T> {
        data: T,
    }
    decode_json::<Envelope<T>>(status, headers, body).map(|e| e.data)
}

/// Decodes `{"data": T}`, or `None` for an empty body or `204` (for calls whose response Pomelo does
/// not document: cancel, clean validations, revoke).
pub(crate) fn decode_optional_data<T: DeserializeOwned>(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<T>, Error> {
    if status == StatusCode::NO_CONTENT || body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    #[derive(serde::Deserialize)]
    struct Envelope<T> {
        #[serde(default = "none")]
        data: Option<T>,
    }
    fn none<T>() -> Option<T> {
        None
    }
    decode_json::<Envelope<T>>(status, headers, body).map(|e| e.data)
}

/// The JSON content type.
pub(crate) fn json_content_type() -> Option<HeaderValue> {
    Some(HeaderValue::from_static("application/json"))
}

/// Serialises `value` as a JSON body.
/// The first allocation for a JSON request body (a create-session body with personal data is
/// 500 to 900 bytes).
const JSON_BODY_CAPACITY: usize = 1024;

/// `io::Write` for a `Vec`, with writes forced inline: the serialiser writes a few bytes at a
/// time, and a call per write cost as much as a tenth of building a create-session request.
struct BodyWriter(Vec<u8>);

impl std::io::Write for BodyWriter {
    #[inline(always)]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    #[inline(always)]
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.extend_from_slice(buf);
        Ok(())
    }

    #[inline(always)]
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[inline]
pub(crate) fn json_body<T: serde::Serialize>(
    value: &T,
) -> Result<(Option<HeaderValue>, crate::Body), InvalidInput> {
    // Room for a typical create-session body at once: `serde_json::to_vec` starts at 128 bytes
    // and copies the body at every doubling.
    let mut writer = BodyWriter(Vec::with_capacity(JSON_BODY_CAPACITY));
    serde_json::to_writer(&mut writer, value).map_err(|_| InvalidInput::Unserialisable)?;
    Ok((json_content_type(), crate::Body::from(writer.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_id_stays_one_segment(id in "\\PC*|[./?#%\\\\]{0,6}") {
            match encode_segment("session id", &id) {
                Err(_) => prop_assert!(id.is_empty() || id == "." || id == ".."),
                Ok(seg) => {
                    prop_assert!(!seg.contains(['/', '?', '#', '\\']));
                    prop_assert!(seg != "." && seg != "..");
                    let url = url::Url::parse(&format!("https://h/identity/v1/sessions/{seg}/report")).unwrap();
                    let segs: Vec<_> = url.path_segments().unwrap().collect();
                    prop_assert_eq!(segs.len(), 5);
                    prop_assert_eq!(segs[3], seg.as_str());
                    let decoded = percent_encoding::percent_decode_str(segs[3]).decode_utf8().unwrap();
                    prop_assert_eq!(decoded, id.as_str());
                    prop_assert!(http::Uri::try_from(url.as_str()).is_ok());
                }
            }
        }
    }

    #[test]
    fn idempotency_keys_are_checked() {
        assert!(IdempotencyKey::new("").is_err());
        assert!(IdempotencyKey::new("a b").is_err());
        assert!(IdempotencyKey::new("x".repeat(256)).is_err());
        assert_eq!(
            IdempotencyKey::from_random_bytes([0xab; 16]).as_str(),
            "ab".repeat(16)
        );
    }
}
