//! The way of an API request: matches it in the route table (`routes.rs`), authenticates from
//! the head, reads the body with a bound and a deadline, records the request, applies injected
//! faults, calls the row's handler, and notes the answer in the session's timeline.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{ALLOW, CONNECTION, CONTENT_LENGTH, RETRY_AFTER, TRANSFER_ENCODING};
use http::request::Parts;
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};

use crate::faults::Fault;
use crate::handlers::auth;
use crate::handlers::request::{Call, Noted, no_query};
use crate::http::{ApiError, HttpResponse, truncated_json, with_body};
use crate::record::Entry;
use crate::routes::{Matched, Row, find};
use crate::state::Shared;

/// Body limit for the JSON endpoints.
const JSON_BODY_LIMIT: usize = 1024 * 1024;
/// Room for multipart framing on top of the largest accepted file.
const MULTIPART_SLACK: usize = 64 * 1024;
/// Bytes of an oversized body read and discarded before answering `413`.
const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

/// Returned to hyper to close the connection without a response.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the simulator")
    }
}

impl std::error::Error for DropConnection {}

enum BodyRead {
    Complete(Bytes),
    TooLarge,
    /// The body could not be read (bad chunked framing, client gone mid-body).
    Broken,
    /// The body did not arrive whole within the configured body-read timeout.
    TimedOut,
    /// Not read: the request was refused from its head.
    Unread,
}

impl BodyRead {
    /// Whether the connection must close after the answer: its framing is lost, or the rest of
    /// the body is still on the wire.
    fn leaves_connection_unusable(&self, parts: &Parts) -> bool {
        match self {
            BodyRead::Broken | BodyRead::TimedOut => true,
            BodyRead::Unread => may_have_body(parts),
            BodyRead::Complete(_) | BodyRead::TooLarge => false,
        }
    }
}

/// Whether the head announces a body (chunked, or a non-zero length).
fn may_have_body(parts: &Parts) -> bool {
    parts.headers.contains_key(TRANSFER_ENCODING)
        || parts
            .headers
            .get(CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// Throws away, as it arrives and without keeping any of it, the body of a request answered from
/// its head, so that a client that sends its whole body before reading can still read the answer
/// instead of failing on a reset connection. At most [`DRAIN_LIMIT`] bytes within `timeout`; a
/// body declared larger is not waited for at all (the connection closes after the answer).
fn discard_in_background(parts: &Parts, mut body: Incoming, timeout: std::time::Duration) {
    if declared_length(parts).is_some_and(|len| len > DRAIN_LIMIT as u64) {
        return;
    }
    tokio::spawn(tokio::time::timeout(timeout, async move {
        let mut total = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            total = total.saturating_add(frame.data_ref().map_or(0, Bytes::len));
            if total > DRAIN_LIMIT {
                break;
            }
        }
    }));
}

fn declared_length(parts: &Parts) -> Option<u64> {
    parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Reads at most `limit` bytes. A larger body (declared or actual) is `TooLarge`; it is read and
/// discarded up to [`DRAIN_LIMIT`] more bytes so that the client, still sending, can read the
/// `413` instead of failing on a reset connection.
async fn read_body(parts: &Parts, mut body: Incoming, limit: usize) -> BodyRead {
    let declared = declared_length(parts);
    let drain_budget = limit.saturating_add(DRAIN_LIMIT) as u64;
    if declared.is_some_and(|len| len > drain_budget) {
        return BodyRead::TooLarge;
    }
    let mut collected: Vec<u8> = Vec::new();
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return BodyRead::Broken;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len() as u64);
        if total > drain_budget {
            return BodyRead::TooLarge;
        }
        if total <= limit as u64 {
            collected.extend_from_slice(&data);
        }
    }
    if total > limit as u64 {
        BodyRead::TooLarge
    } else {
        BodyRead::Complete(Bytes::from(collected))
    }
}

fn record(shared: &Shared, request_id: &HeaderValue, parts: &Parts, body: Bytes) {
    if shared.config.max_recorded_requests > 0 {
        // Made outside the lock.
        let entry = Entry::new(request_id.clone(), parts, body);
        shared.lock().requests.push(entry);
    }
}

/// One API request in, one response out (or a dropped connection).
pub(crate) async fn serve(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<HttpResponse, DropConnection> {
    let (parts, body) = request.into_parts();
    // Made a header value once: the log, the timeline and the answer share its bytes.
    let request_id = HeaderValue::from_maybe_shared(Bytes::from(shared.ids.id("req-", 20)))
        .unwrap_or_else(|_| HeaderValue::from_static("req-"));
    let path = parts.uri.path();
    let matched = find(parts.method.as_str(), path, &shared.config);
    let row = matched.row();
    let limit = if row.is_some_and(|row| row.rules.file_body) {
        shared
            .config
            .max_upload_bytes
            .saturating_add(MULTIPART_SLACK)
    } else {
        JSON_BODY_LIMIT
    };
    // Faults are the tester's own: a faulted request is read and recorded whole, as before.
    let fault = {
        let mut state = shared.lock();
        state.stats.requests += 1;
        let fault = state.faults.take(row.map(|row| row.name)).or_else(|| {
            let random = shared.config.random_faults.as_ref()?;
            random.pick(shared.ids.next_u64(), shared.ids.next_u64())
        });
        if fault.is_some() {
            state.stats.faults += 1;
        }
        fault
    };
    // Authenticate from the head: without a valid token, no byte of the body is read.
    let denied = match row {
        Some(row) if fault.is_none() && row.rules.bearer => {
            auth::authorize(&shared, &parts.headers).err()
        }
        _ => None,
    };
    // A body-less request is handled at once: its token, checked from its head, still holds.
    let bodyless = body.is_end_stream();
    let body = if denied.is_some() {
        discard_in_background(&parts, body, shared.config.body_read_timeout);
        BodyRead::Unread
    } else if bodyless {
        // Nothing to read, and so no deadline to arm.
        BodyRead::Complete(Bytes::new())
    } else {
        let read = read_body(&parts, body, limit);
        tokio::time::timeout(shared.config.body_read_timeout, read)
            .await
            .unwrap_or(BodyRead::TimedOut)
    };
    let recorded = match &body {
        BodyRead::Complete(bytes) => bytes.clone(),
        _ => Bytes::new(),
    };
    record(&shared, &request_id, &parts, recorded);
    let request_id_text = request_id.to_str().unwrap_or_default();

    let close = body.leaves_connection_unusable(&parts);
    let session_id = match &matched {
        Matched::Found(_, params) => params
            .iter()
            .find(|(name, _)| *name == "session_id")
            .map(|(_, id)| *id),
        _ => None,
    };
    let mut response = match (fault, denied) {
        (Some(Fault::DropConnection), _) => return Err(DropConnection),
        (Some(Fault::LoseResponse), _) => {
            // Applied, and the answer never leaves.
            let _ = respond(&shared, matched, &parts, body, (request_id_text, false));
            return Err(DropConnection);
        }
        (None, Some(error)) => error.into_response(),
        (None, None) if matches!(body, BodyRead::Broken | BodyRead::TimedOut) => {
            unreadable(&body).into_response()
        }
        (Some(Fault::Delay(delay)), _) => {
            tokio::time::sleep(delay).await;
            respond(&shared, matched, &parts, body, (request_id_text, false))
        }
        (
            Some(Fault::Trickle {
                head_after,
                body_over,
            }),
            _,
        ) => {
            let response = respond(&shared, matched, &parts, body, (request_id_text, false));
            tokio::time::sleep(head_after).await;
            response.map(|b| b.trickled(body_over))
        }
        (Some(fault), _) => faulted(&fault),
        // Not faulted, so authenticated from its head when its route needs it; checked again
        // after a body, during which the token may have expired or been revoked.
        (None, None) => respond(&shared, matched, &parts, body, (request_id_text, bodyless)),
    };
    if close {
        // Answer if the client still listens, then close.
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    if let Some(id) = session_id.filter(|_| response.extensions().get::<Noted>().is_none()) {
        note(
            &shared,
            id,
            path,
            &parts.method,
            response.status(),
            &request_id,
        );
    }
    let headers = response.headers_mut();
    headers.insert("x-request-id", request_id.clone());
    // The simulator's own clock (advance_clock moves it), so a client can measure its skew.
    headers.insert(http::header::DATE, shared.date_header());
    Ok(response)
}

/// Adds a request on one session (a route with a `{session_id}` parameter) to the session's timeline,
/// unless its handler did (the upload that stores a file, before the processing it may start).
fn note(
    shared: &Shared,
    id: &str,
    path: &str,
    method: &Method,
    status: StatusCode,
    request_id: &HeaderValue,
) {
    // Only authenticated requests: anyone may reach the port, not everyone may write here.
    if status == StatusCode::UNAUTHORIZED {
        return;
    }
    let now = shared.clock.now();
    if let Some(session) = shared.lock().sessions.get_mut(id) {
        session.note_request(now, method, path, status, request_id);
    }
}

/// The answer to a body that could not be read whole.
fn unreadable(body: &BodyRead) -> ApiError {
    match body {
        BodyRead::TimedOut => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time",
        ),
        _ => ApiError::bad_request("invalid_body", "the request body could not be read"),
    }
}

/// The answer an injected fault gives instead of the real one.
fn faulted(fault: &Fault) -> HttpResponse {
    let code =
        |status: u16| StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match fault {
        Fault::Status {
            status,
            retry_after,
        } => {
            let status = code(*status);
            let mut response = ApiError::new(
                status,
                "injected_fault",
                format!("injected fault: {status}"),
            )
            .into_response();
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(*seconds));
            }
            response
        }
        Fault::TruncatedBody => truncated_json(),
        Fault::NonJsonBody { status } => with_body(
            code(*status),
            "text/plain; charset=utf-8",
            b"upstream said: this is not JSON".to_vec(),
        ),
        Fault::HtmlErrorPage { status } => {
            let status = code(*status);
            let page = format!(
                "<!DOCTYPE html>\n<html><head><title>{status}</title></head>\
                 <body><h1>{status}</h1><p>The gateway could not complete the request.</p></body></html>\n"
            );
            with_body(status, "text/html; charset=utf-8", page.into_bytes())
        }
        // Handled by the caller; answering normally would be wrong, so say so.
        Fault::DropConnection | Fault::LoseResponse | Fault::Delay(_) | Fault::Trickle { .. } => {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "injected_fault",
                "unexpected fault handling",
            )
            .into_response()
        }
    }
}

/// The answer of the matched route. `request` is the request's id, and whether its bearer token
/// was checked from its head with nothing read since (not for a faulted request, whose head goes
/// unchecked, nor after a body).
fn respond(
    shared: &Arc<Shared>,
    matched: Matched<'_>,
    parts: &Parts,
    body: BodyRead,
    request: (&str, bool),
) -> HttpResponse {
    let (row, params) = match matched {
        Matched::Found(row, params) => (row, params),
        Matched::MethodNotAllowed(allow) => {
            let mut response = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("use {allow} on {}", parts.uri.path()),
            )
            .into_response();
            if let Ok(allow) = HeaderValue::from_str(&allow) {
                response.headers_mut().insert(ALLOW, allow);
            }
            return response;
        }
        Matched::NotFound => {
            return ApiError::not_found(format!(
                "no route for {} {}",
                parts.method,
                parts.uri.path()
            ))
            .into_response();
        }
    };
    handle(shared, row, &params, parts, body, request).unwrap_or_else(ApiError::into_response)
}

/// Checks what the row's rules ask for, then calls its handler.
fn handle(
    shared: &Arc<Shared>,
    row: &Row,
    params: &[(&'static str, &str)],
    parts: &Parts,
    body: BodyRead,
    (request_id, authorized): (&str, bool),
) -> Result<HttpResponse, ApiError> {
    if !row.rules.query {
        no_query(parts.uri.query())?;
    }
    if row.rules.bearer && !authorized {
        auth::authorize(shared, &parts.headers)?;
    }
    let body = match body {
        BodyRead::Complete(bytes) => bytes,
        BodyRead::TooLarge if row.rules.file_body => {
            return Err(ApiError::file_too_large(shared.config.max_upload_bytes));
        }
        BodyRead::Broken | BodyRead::TimedOut | BodyRead::Unread => return Err(unreadable(&body)),
        BodyRead::TooLarge => {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("request bodies may be at most {JSON_BODY_LIMIT} bytes here"),
            ));
        }
    };
    (row.handler)(
        shared,
        &Call {
            parts,
            params,
            body: &body,
            request_id,
        },
    )
}
