//! The admin API (`/_admin/…`, JSON) and the console (`/_console/`, a page over that API), on the
//! simulator's own port.
//!
//! Safe on a developer's machine: they answer only to peers on loopback, only to requests whose
//! `Host` is a loopback name or address (a DNS-rebinding page cannot reach them), and only with
//! the admin token (`x-admin-token`, or `?token=` for a `GET`, so that the page and its images
//! can load). A state change is a `POST` with the token in the header and a JSON body, which no
//! cross-site form can send. Faults, the request log and the statistics never see these routes.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST};
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Map, Value, json};

use crate::chaos::WebhookChaos;
use crate::clock::{millis, rfc3339};
use crate::config::Decision;
use crate::delivery::{dispatch, resend};
use crate::faults::Fault;
use crate::http::{ApiError, HttpResponse, data, with_body};
use crate::lifecycle::{Refusal, decide_by_hand};
use crate::routes::{Route, fault_options};
use crate::session::Session;
use crate::state::{MAX_DELIVERIES, Shared};
use crate::subject::Subject;
use crate::webhook::{DeliveryOrigin, DropReason, WebhookDelivery};

/// Largest admin request body.
const BODY_LIMIT: usize = 64 * 1024;
/// Longest the clock may be moved at once.
const MAX_ADVANCE: Duration = Duration::from_secs(10 * 365 * 86_400);
/// Sessions `GET /_admin/sessions` lists by default (the newest), and at most.
const DEFAULT_LIMIT: usize = 200;
const MAX_LIMIT: usize = 10_000;
/// Webhook deliveries the admin API lists by default (the newest).
const DELIVERIES_LISTED: usize = 200;
/// Most faults queued by one request.
const MAX_TIMES: usize = 1_000;

const CONSOLE_HTML: &str = include_str!("console/index.html");
const CONSOLE_JS: &str = include_str!("console/app.js");
const CONSOLE_CSS: &str = include_str!("console/style.css");

/// Whether `path` is the console's or the admin API's.
pub(crate) fn is_admin_path(path: &str) -> bool {
    ["/_admin", "/_console"].iter().any(|p| {
        path == *p
            || path
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Serves one console or admin request.
pub(crate) async fn serve(
    shared: &Arc<Shared>,
    peer: SocketAddr,
    parts: Parts,
    body: Incoming,
) -> HttpResponse {
    let mut response = match guard(shared, peer, &parts) {
        Err(error) => error.into_response(),
        Ok(()) => {
            let body = if parts.method == Method::POST {
                let read = Limited::new(body, BODY_LIMIT).collect();
                match tokio::time::timeout(shared.config.body_read_timeout, read).await {
                    Ok(Ok(collected)) => Some(collected.to_bytes()),
                    _ => None,
                }
            } else {
                Some(Bytes::new())
            };
            match body {
                Some(body) => route(shared, &parts, &body).unwrap_or_else(ApiError::into_response),
                None => ApiError::bad_request(
                    "invalid_body",
                    format!("admin bodies must arrive whole, at most {BODY_LIMIT} bytes"),
                )
                .into_response(),
            }
        }
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    response
}

fn forbidden(detail: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
}

/// Loopback peer, loopback `Host`, the admin token; for a `POST`, the token in the header and a
/// JSON body.
fn guard(shared: &Shared, peer: SocketAddr, parts: &Parts) -> Result<(), ApiError> {
    if !peer.ip().to_canonical().is_loopback() {
        return Err(forbidden("the console answers only on loopback"));
    }
    let host = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !is_loopback_host(host) {
        return Err(forbidden(
            "the Host header must be a loopback name or address (localhost, 127.0.0.1, [::1])",
        ));
    }
    let header = parts
        .headers
        .get("x-admin-token")
        .and_then(|h| h.to_str().ok());
    let query = (parts.method == Method::GET)
        .then(|| query_param(parts.uri.query(), "token"))
        .flatten();
    let given = header.or(query.as_deref()).unwrap_or_default();
    if !same(given.as_bytes(), shared.admin_token.as_bytes()) {
        return Err(ApiError::unauthorized(
            "the admin token is missing or wrong: use the console URL the simulator printed, \
             or send it in x-admin-token",
        ));
    }
    match parts.method {
        Method::GET => Ok(()),
        Method::POST if header.is_none() => Err(forbidden(
            "a state change needs the admin token in the x-admin-token header",
        )),
        Method::POST => {
            let json = parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    v.split(';')
                        .next()
                        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
                });
            if json {
                Ok(())
            } else {
                Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "admin requests send Content-Type: application/json",
                ))
            }
        }
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "the admin API takes GET and POST",
        )),
    }
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, port)) if port.is_empty() || port.starts_with(':') => ip,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The value of `name` in a query string (no percent-decoding: tokens are alphanumeric).
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn route(shared: &Arc<Shared>, parts: &Parts, body: &[u8]) -> Result<HttpResponse, ApiError> {
    let path = parts.uri.path();
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let get = parts.method == Method::GET;
    match (get, segments.as_slice()) {
        (true, ["_console"]) => Ok(page(shared)),
        (true, ["_console", "app.js"]) => Ok(asset("text/javascript; charset=utf-8", CONSOLE_JS)),
        (true, ["_console", "style.css"]) => Ok(asset("text/css; charset=utf-8", CONSOLE_CSS)),
        (true, ["_admin"]) => Ok(data(StatusCode::OK, index(shared))),
        (true, ["_admin", "sessions"]) => {
            let limit = limit(parts, DEFAULT_LIMIT, MAX_LIMIT)?;
            Ok(data(StatusCode::OK, sessions(shared, limit)))
        }
        (true, ["_admin", "sessions", id]) => session(shared, id).map(|v| data(StatusCode::OK, v)),
        (true, ["_admin", "sessions", id, "files", file]) => preview(shared, id, file),
        (false, ["_admin", "sessions", id, "outcome"]) => {
            let decision = decision(&object(body)?)?;
            decide(shared, id, &decision)?;
            session(shared, id).map(|v| data(StatusCode::OK, v))
        }
        (true, ["_admin", "webhooks"]) => {
            let limit = limit(parts, DELIVERIES_LISTED, MAX_DELIVERIES)?;
            Ok(data(StatusCode::OK, webhooks(shared, None, limit)))
        }
        (true, ["_admin", "webhooks", "chaos"]) => Ok(data(StatusCode::OK, chaos_view(shared))),
        (false, ["_admin", "webhooks", "chaos"]) => {
            let current = shared.lock().chaos.clone();
            set_webhook_chaos(shared, chaos(&object(body)?, current)?)?;
            Ok(data(StatusCode::OK, chaos_view(shared)))
        }
        (false, ["_admin", "webhooks", event, "resend"]) => {
            resend_webhook(shared, event)?;
            Ok(data(StatusCode::ACCEPTED, json!({ "event_id": event })))
        }
        (true, ["_admin", "faults"]) => Ok(data(
            StatusCode::OK,
            json!({ "pending": shared.lock().faults.pending() }),
        )),
        (false, ["_admin", "faults"]) => {
            let (route, fault, times) = fault(&object(body)?)?;
            shared
                .lock()
                .faults
                .push(route.fault_target(), fault, times);
            Ok(data(
                StatusCode::OK,
                json!({ "pending": shared.lock().faults.pending() }),
            ))
        }
        (false, ["_admin", "faults", "clear"]) => {
            shared.lock().faults.clear();
            Ok(data(StatusCode::OK, json!({ "pending": 0 })))
        }
        (false, ["_admin", "clock"]) => {
            let map = object(body)?;
            let seconds = map
                .get("advance_seconds")
                .and_then(Value::as_u64)
                .filter(|s| Duration::from_secs(*s) <= MAX_ADVANCE)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_body",
                        "`advance_seconds` must be a whole number of seconds, at most ten years",
                    )
                })?;
            if !shared.clock.advance(Duration::from_secs(seconds)) {
                return Err(ApiError::bad_request(
                    "invalid_body",
                    "the clock stops at 9999-12-31: it moved as far as it can",
                ));
            }
            Ok(data(
                StatusCode::OK,
                json!({ "now": rfc3339(shared.clock.now()) }),
            ))
        }
        _ => Err(ApiError::not_found(format!(
            "no admin route for {} {path}",
            parts.method
        ))),
    }
}

/// `?limit=`: `default` without one, else 1 to `max`.
fn limit(parts: &Parts, default: usize, max: usize) -> Result<usize, ApiError> {
    match query_param(parts.uri.query(), "limit") {
        None => Ok(default),
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request("invalid_parameter", format!("`limit` must be 1 to {max}"))
            }),
    }
}

fn page(shared: &Shared) -> HttpResponse {
    with_body(
        StatusCode::OK,
        "text/html; charset=utf-8",
        console_html(&shared.admin_token).into_bytes(),
    )
}

/// The console's page, with its token and the route table's fault menu.
fn console_html(token: &str) -> String {
    // The token is alphanumeric, the route names snake case: safe where they go.
    CONSOLE_HTML
        .replace("{{TOKEN}}", token)
        .replace("{{FAULT_ROUTES}}", &fault_options())
}

fn asset(content_type: &'static str, text: &'static str) -> HttpResponse {
    with_body(StatusCode::OK, content_type, text.as_bytes().to_vec())
}

fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::bad_request(
            "invalid_body",
            "the body must be a JSON object",
        )),
    }
}

/// What the simulator is, for scripts: its URL, the test credentials it already prints, and the
/// admin routes.
fn index(shared: &Shared) -> Value {
    json!({
        "base_url": shared.base_url,
        "client_id": shared.config.client_id,
        "audience": shared.config.audience,
        "openapi_url": format!("{}{}", shared.base_url, crate::openapi::PATH),
        "routes": [
            "GET /_admin/sessions",
            "GET /_admin/sessions/{id}",
            "GET /_admin/sessions/{id}/files/{file_id}",
            "POST /_admin/sessions/{id}/outcome",
            "GET /_admin/webhooks",
            "POST /_admin/webhooks/{event_id}/resend",
            "GET /_admin/webhooks/chaos",
            "POST /_admin/webhooks/chaos",
            "GET /_admin/faults",
            "POST /_admin/faults",
            "POST /_admin/faults/clear",
            "POST /_admin/clock",
        ],
    })
}

fn overview(session: &Session) -> Value {
    let mut view = json!({
        "id": session.id,
        "kind": session.subject.kind(),
        "status": session.status.as_str(),
        "reason": session.reason,
        "country": session.country,
        "flow_type": session.flow_type,
        "created_at": rfc3339(session.created_at),
        "updated_at": rfc3339(session.updated_at),
        "files": session.files.len(),
        "required_again": session.required_again,
    });
    if let Some(map) = view.as_object_mut() {
        map.extend(session.subject.members());
    }
    view
}

/// The newest `limit` sessions, newest first.
fn sessions(shared: &Shared, limit: usize) -> Value {
    let now = shared.clock.now();
    let mut state = shared.lock();
    let mut all: Vec<&mut Session> = state.sessions.values_mut().collect();
    all.sort_by_key(|s| std::cmp::Reverse(s.seq));
    Value::Array(
        all.into_iter()
            .take(limit)
            .map(|s| {
                s.refresh(now);
                overview(s)
            })
            .collect(),
    )
}

/// One session as the API shows it, with its timeline, partners, webhooks and which of its files
/// have a preview.
fn session(shared: &Shared, id: &str) -> Result<Value, ApiError> {
    let now = shared.clock.now();
    let mut view = {
        let mut state = shared.lock();
        let state = &mut *state;
        let session = state
            .sessions
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found(format!("no session `{id}`")))?;
        session.refresh(now);
        let mut view = session.to_json();
        let timeline: Vec<Value> = session
            .timeline
            .iter()
            .map(|e| json!({ "at": rfc3339(e.at), "what": e.what.text() }))
            .collect();
        let previews: Vec<bool> = session
            .files
            .iter()
            .map(|f| state.previews.has(&f.id))
            .collect();
        if let Some(map) = view.as_object_mut() {
            map.insert("kind".into(), json!(session.subject.kind()));
            map.insert("timeline".into(), json!(timeline));
            map.insert("required_again".into(), json!(session.required_again));
            if let Subject::Company(company) = &session.subject {
                map.insert("company".into(), Value::Object(company.data.clone()));
                map.insert("partners".into(), json!(company.partners));
            }
            if let Some(Value::Array(files)) = map.get_mut("files") {
                for (file, preview) in files.iter_mut().zip(previews) {
                    if let Some(file) = file.as_object_mut() {
                        file.insert("preview".into(), json!(preview));
                    }
                }
            }
        }
        view
    };
    if let Some(map) = view.as_object_mut() {
        map.insert(
            "webhooks".into(),
            webhooks(shared, Some(id), DELIVERIES_LISTED),
        );
    }
    Ok(view)
}

fn preview(shared: &Shared, session: &str, file: &str) -> Result<HttpResponse, ApiError> {
    let state = shared.lock();
    let belongs = state
        .sessions
        .get(session)
        .is_some_and(|s| s.files.iter().any(|f| f.id == file));
    let (content_type, bytes) = belongs
        .then(|| state.previews.get(file))
        .flatten()
        .ok_or_else(|| ApiError::not_found(format!("no preview of `{file}` in `{session}`")))?;
    drop(state);
    Ok(with_body(StatusCode::OK, content_type, bytes.to_vec()))
}

fn delivery_view(d: &WebhookDelivery) -> Value {
    let attempts: Vec<Value> = d
        .attempts
        .iter()
        .map(|a| {
            let headers: Map<String, Value> = a
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            json!({ "url": a.url, "status": a.status, "error": a.error, "headers": headers })
        })
        .collect();
    json!({
        "event_id": d.event_id,
        "kind": d.kind.as_str(),
        "session_id": d.session_id,
        "notification": d.notification,
        "origin": d.origin.as_str(),
        "duplicate": match d.origin {
            DeliveryOrigin::Duplicate(n) => Some(n),
            _ => None,
        },
        "dropped": d.dropped.map(DropReason::as_str),
        "held_ms": millis(d.held),
        "url": d.url,
        "endpoint": d.endpoint,
        "delivered": d.delivered(),
        "last_status": d.last_status(),
        "attempts": attempts,
        "body": d.json(),
    })
}

/// The newest `limit` logged webhook deliveries (of one session, when given), newest first.
fn webhooks(shared: &Shared, session: Option<&str>, limit: usize) -> Value {
    let state = shared.lock();
    Value::Array(
        state
            .deliveries
            .iter()
            .rev()
            .filter(|d| session.is_none_or(|s| d.session_id == s))
            .take(limit)
            .map(delivery_view)
            .collect(),
    )
}

/// Reads an outcome body: `{"outcome": "validated"}`, `{"outcome": "not_validated", "reason":
/// "..."}` or `{"outcome": "require_files", "documents": [...], "reason": "..."}`.
fn decision(map: &Map<String, Value>) -> Result<Decision, ApiError> {
    let bad = |detail: &str| ApiError::bad_request("invalid_body", detail);
    let text = |name: &str| map.get(name).and_then(Value::as_str).map(str::to_owned);
    match map.get("outcome").and_then(Value::as_str) {
        Some("validated") => Ok(Decision::Validated),
        Some("not_validated") => Ok(Decision::NotValidated {
            reason: text("reason").unwrap_or_else(|| "DOCUMENT_MISMATCH".to_owned()),
        }),
        Some("require_files") => {
            let documents = map
                .get("documents")
                .and_then(Value::as_array)
                .and_then(|list| {
                    list.iter()
                        .map(|d| d.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| bad("`documents` must be a list of document types"))?;
            Ok(Decision::RequireFiles {
                documents,
                reason: text("reason").unwrap_or_else(|| "ILLEGIBLE_DOCUMENT".to_owned()),
            })
        }
        _ => Err(bad(
            "`outcome` must be validated, not_validated or require_files",
        )),
    }
}

/// The decision behind the console, the admin API and `MockServer::decide`.
pub(crate) fn decide(shared: &Arc<Shared>, id: &str, decision: &Decision) -> Result<(), ApiError> {
    let notifications = {
        let mut state = shared.lock();
        decide_by_hand(shared, &mut state, id, decision)
    }
    .map_err(|refusal| match refusal {
        Refusal::NoSession => ApiError::not_found(format!("no session `{id}`")),
        Refusal::Final(status) => {
            ApiError::invalid_state(format!("the session is {status}: nothing left to decide"))
        }
        Refusal::Invalid(why) => ApiError::bad_request("invalid_body", why),
    })?;
    dispatch(shared, notifications);
    Ok(())
}

/// Delivers a logged webhook again.
pub(crate) fn resend_webhook(shared: &Arc<Shared>, event_id: &str) -> Result<(), ApiError> {
    let delivery = shared
        .lock()
        .deliveries
        .iter()
        .rev()
        .find(|d| d.event_id == event_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no logged delivery `{event_id}`")))?;
    if resend(shared, &delivery) {
        Ok(())
    } else {
        Err(ApiError::invalid_state(
            "no webhook URL is configured for this kind of notification",
        ))
    }
}

/// The webhook chaos now, its seed, targets and counts.
fn chaos_view(shared: &Shared) -> Value {
    let state = shared.lock();
    let chaos = &state.chaos;
    let urls = |targets: &[crate::webhook::WebhookTarget]| -> Vec<String> {
        targets.iter().map(|t| t.url.clone()).collect()
    };
    json!({
        "seed": shared.webhook_seed,
        "drop_rate": chaos.drop_rate,
        "duplicate_rate": chaos.duplicate_rate,
        "max_duplicates": chaos.max_duplicates,
        "max_delay_ms": millis(chaos.max_delay),
        "keep_first_signature": chaos.keep_first_signature,
        "omit_event_id": chaos.omit_event_id,
        "notify_processing": shared.config.notify_processing,
        "urls": urls(&shared.webhook_targets),
        "required_file_urls": urls(&shared.required_file_targets),
        "pending": state.pending_webhooks,
        "max_pending": shared.config.webhook_max_pending,
        "notifications": state.stats.webhook_notifications,
        "dropped": state.stats.webhooks_dropped,
        "duplicates": state.stats.webhook_duplicates,
        "attempts": state.stats.webhook_attempts,
    })
}

/// Reads a chaos body onto `chaos`: any of `drop_rate`, `duplicate_rate` (numbers),
/// `max_duplicates`, `max_delay_ms` (whole numbers), `keep_first_signature`, `omit_event_id`
/// (booleans); other members are refused.
fn chaos(map: &Map<String, Value>, mut chaos: WebhookChaos) -> Result<WebhookChaos, ApiError> {
    let bad = |detail: String| ApiError::bad_request("invalid_body", detail);
    for (name, value) in map {
        match name.as_str() {
            "drop_rate" | "duplicate_rate" => {
                let rate = value
                    .as_f64()
                    .ok_or_else(|| bad(format!("`{name}` must be a number from 0 to 1")))?;
                if name == "drop_rate" {
                    chaos.drop_rate = rate;
                } else {
                    chaos.duplicate_rate = rate;
                }
            }
            "max_duplicates" => {
                chaos.max_duplicates = value
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| bad("`max_duplicates` must be a whole number".to_owned()))?;
            }
            "max_delay_ms" => {
                chaos.max_delay = value.as_u64().map(Duration::from_millis).ok_or_else(|| {
                    bad("`max_delay_ms` must be a whole number of milliseconds".to_owned())
                })?;
            }
            "keep_first_signature" | "omit_event_id" => {
                let flag = value
                    .as_bool()
                    .ok_or_else(|| bad(format!("`{name}` must be true or false")))?;
                if name == "omit_event_id" {
                    chaos.omit_event_id = flag;
                } else {
                    chaos.keep_first_signature = flag;
                }
            }
            other => {
                return Err(bad(format!(
                    "unknown member `{other}`: the chaos settings are drop_rate, \
                     duplicate_rate, max_duplicates, max_delay_ms, keep_first_signature and \
                     omit_event_id"
                )));
            }
        }
    }
    Ok(chaos)
}

/// Sets the webhook chaos, behind `POST /_admin/webhooks/chaos` and `MockServer::set_webhook_chaos`.
pub(crate) fn set_webhook_chaos(shared: &Shared, chaos: WebhookChaos) -> Result<(), ApiError> {
    chaos
        .check()
        .map_err(|why| ApiError::bad_request("invalid_body", why))?;
    shared.lock().chaos = chaos;
    Ok(())
}

/// Reads a fault body: `{"route": "upload_file", "kind": "status", "status": 503,
/// "retry_after": 2, "times": 1}`; kinds `status`, `delay` (`delay_ms`), `trickle`
/// (`head_after_ms`, `body_over_ms`), `drop_connection`,
/// `lose_response`, `truncated_body`, `non_json_body` and `html_error_page` (`status`).
fn fault(map: &Map<String, Value>) -> Result<(Route, Fault, usize), ApiError> {
    let bad = |detail: String| ApiError::bad_request("invalid_body", detail);
    let route = map
        .get("route")
        .and_then(Value::as_str)
        .and_then(Route::named)
        .ok_or_else(|| {
            let names: Vec<&str> = Route::names().collect();
            bad(format!("`route` must be one of {}", names.join(", ")))
        })?;
    let number = |name: &str| map.get(name).and_then(Value::as_u64);
    let status = number("status")
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..=599).contains(s));
    let need_status = || status.ok_or_else(|| bad("`status` must be 100 to 599".to_owned()));
    let fault = match map.get("kind").and_then(Value::as_str) {
        Some("status") => Fault::Status {
            status: need_status()?,
            retry_after: number("retry_after"),
        },
        Some("delay") => Fault::Delay(Duration::from_millis(
            number("delay_ms")
                .filter(|ms| *ms <= 60_000)
                .ok_or_else(|| bad("`delay_ms` must be 0 to 60000".to_owned()))?,
        )),
        Some("trickle") => {
            let ms = |name: &str| {
                number(name)
                    .filter(|ms| *ms <= 60_000)
                    .map(Duration::from_millis)
                    .ok_or_else(|| bad(format!("`{name}` must be 0 to 60000")))
            };
            Fault::Trickle {
                head_after: ms("head_after_ms")?,
                body_over: ms("body_over_ms")?,
            }
        }
        Some("drop_connection") => Fault::DropConnection,
        Some("lose_response") => Fault::LoseResponse,
        Some("truncated_body") => Fault::TruncatedBody,
        Some("non_json_body") => Fault::NonJsonBody {
            status: need_status()?,
        },
        Some("html_error_page") => Fault::HtmlErrorPage {
            status: need_status()?,
        },
        _ => {
            return Err(bad(
                "`kind` must be status, delay, trickle, drop_connection, lose_response, \
                 truncated_body, non_json_body or html_error_page"
                    .to_owned(),
            ));
        }
    };
    let times = match number("times") {
        None => 1,
        Some(n) if (1..=MAX_TIMES as u64).contains(&n) => usize::try_from(n).unwrap_or(1),
        Some(_) => return Err(bad(format!("`times` must be 1 to {MAX_TIMES}"))),
    };
    Ok((route, fault, times))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_pass() {
        for ok in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1",
            "127.0.0.1:9",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:8080",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "10.0.0.1",
            "[::2]:80",
            "[::1]x",
            "localhost:80x",
            "0.0.0.0",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn the_console_offers_every_route_for_a_fault() {
        let html = console_html("T0K3N");
        assert!(!html.contains("{{"), "a placeholder is left");
        for name in Route::names() {
            assert!(
                html.contains(&format!("<option value=\"{name}\">")),
                "{name}"
            );
        }
    }

    #[test]
    fn admin_paths_are_the_two_prefixes_only() {
        assert!(is_admin_path("/_admin"));
        assert!(is_admin_path("/_admin/sessions"));
        assert!(is_admin_path("/_console/"));
        assert!(!is_admin_path("/_adminx"));
        assert!(!is_admin_path("/identity/v1/_admin"));
    }
}
