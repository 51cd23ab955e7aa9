//! Endpoint handlers, one module per concern, and the request checks they share.

pub(crate) mod auth;
pub(crate) mod search;
pub(crate) mod sessions;
pub(crate) mod upload;

use http::HeaderMap;
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use crate::http::ApiError;
use crate::multipart::parse_header_params;

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

/// Problems with members outside `allowed`.
pub(crate) fn unknown_members(map: &Map<String, Value>, allowed: &[&str], at: &str) -> Vec<String> {
    map.keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| format!("unknown member `{at}{k}`"))
        .collect()
}

/// A required non-empty string member, or a problem description.
pub(crate) fn required_string<'a>(
    map: &'a Map<String, Value>,
    name: &str,
    at: &str,
) -> Result<&'a str, String> {
    match map.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(format!("`{at}{name}` must not be empty")),
        Some(_) => Err(format!("`{at}{name}` must be a string")),
        None => Err(format!("`{at}{name}` is required")),
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

/// The `x-idempotency-key` header, checked for shape.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
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

/// The remembered answer to a repeated idempotent request, marked with `idempotent-replayed: true`.
pub(crate) fn replay(stored: crate::state::StoredResponse) -> crate::http::HttpResponse {
    let mut response =
        crate::http::with_body(stored.status, "application/json", stored.body.to_vec());
    response.headers_mut().insert(
        "idempotent-replayed",
        http::HeaderValue::from_static("true"),
    );
    response
}
