//! What a handler gets (`Call`) and the request checks handlers share: a JSON object body, no
//! query, the idempotency key and its replays.

use std::sync::Arc;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Map, Value};

use crate::config::Alternative;
use crate::http::{ApiError, HandlerResult, HttpResponse, with_body};
use crate::multipart::parse_header_params;
use crate::state::{Replay, Shared, State, fingerprint};

/// A handler of the route table.
pub(crate) type Handler = fn(&Arc<Shared>, &Call<'_>) -> HandlerResult;

/// A matched request, as a handler gets it: its head, its path parameters and its whole body.
pub(crate) struct Call<'a> {
    pub(crate) parts: &'a Parts,
    /// `(name, value)` of each `{name}` segment of the route's path.
    pub(crate) params: &'a [(&'static str, &'a str)],
    pub(crate) body: &'a [u8],
    /// The `x-request-id` the answer will carry.
    pub(crate) request_id: &'a str,
}

impl<'a> Call<'a> {
    /// The path parameter `name` (empty if the route has none by that name).
    pub(crate) fn param(&self, name: &str) -> &'a str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v)
    }
}

/// Marks an answer whose handler already noted the request in the session's timeline.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Noted;

/// Parses a JSON object body sent with `Content-Type: application/json`.
pub(crate) fn json_object(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = parse_header_params(content_type)
        .map(|(essence, _)| essence)
        .unwrap_or_default();
    if essence != "application/json" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be sent with Content-Type: application/json",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "invalid_body",
            "the body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(
            "invalid_body",
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

/// Refuses any query parameter on routes that take none.
pub(crate) fn no_query(query: Option<&str>) -> Result<(), ApiError> {
    match query {
        None | Some("") => Ok(()),
        Some(q) => Err(ApiError::bad_request(
            "invalid_parameter",
            format!("this endpoint takes no query parameters, got `{q}`"),
        )),
    }
}

/// A create or an upload as idempotency sees it: its `x-idempotency-key` (none when absent, or
/// ignored with `Alternative::IgnoresIdempotencyKeys`) and the request's fingerprint.
pub(crate) struct Idempotency {
    key: Option<String>,
    print: [u8; 32],
}

impl Idempotency {
    /// Reads the key, checked for shape.
    pub(crate) fn of(shared: &Shared, call: &Call<'_>) -> Result<Self, ApiError> {
        let key = idempotency_key(&call.parts.headers)?
            .filter(|_| !shared.config.plays(Alternative::IgnoresIdempotencyKeys));
        let parts = call.parts;
        Ok(Self {
            key,
            print: fingerprint(parts.method.as_str(), parts.uri.path(), call.body),
        })
    }

    /// The remembered answer when the key was used with the same request (marked
    /// `idempotent-replayed: true`); `409` when it was used with another.
    pub(crate) fn replayed(&self, state: &mut State) -> Result<Option<HttpResponse>, ApiError> {
        let Some(key) = &self.key else {
            return Ok(None);
        };
        match state.idempotency.check(key, &self.print) {
            Replay::Fresh => Ok(None),
            Replay::Same(stored) => {
                state.stats.idempotent_replays += 1;
                let mut response =
                    with_body(stored.status, "application/json", stored.body.to_vec());
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                Ok(Some(response))
            }
            Replay::Conflict => Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_conflict",
                "this x-idempotency-key was already used with a different request",
            )),
        }
    }

    /// Remembers the answer under the key, if there is one.
    pub(crate) fn remember(&self, state: &mut State, status: StatusCode, body: Bytes) {
        if let Some(key) = &self.key {
            state.idempotency.remember(key, self.print, status, body);
        }
    }
}

/// The `x-idempotency-key` header, checked for shape.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all("x-idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bad =
        |why: &str| ApiError::bad_request("invalid_header", format!("x-idempotency-key {why}"));
    if values.next().is_some() {
        return Err(bad("is given more than once"));
    }
    let value = value.to_str().map_err(|_| bad("must be visible ASCII"))?;
    if value.is_empty() || value.len() > 255 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("must be 1 to 255 visible ASCII characters"));
    }
    Ok(Some(value.to_owned()))
}
