//! Create, get, cancel, report and clean_validations.

use bytes::Bytes;
use http::StatusCode;
use http::request::Parts;
use serde_json::{Map, Value, json};

use super::{idempotency_key, json_object, required_string, unknown_members};
use crate::http::{ApiError, HandlerResult, data};
use crate::kyb::{KYB_COUNTRIES, Kind, Kyb, check_additional_data, check_kyb_data};
use crate::session::{COUNTRIES, FLOW_TYPES, INTEGRATION_METHODS, Session, Status};
use crate::state::{Replay, Shared, fingerprint};

/// Checks a create-session body; the fields of the new session, or every problem found.
struct NewSession {
    flow_type: String,
    country: String,
    integration_method: String,
    /// The person, or for KYB the company (the entity the outcome markers are read from).
    user_id: String,
    personal_data: Option<Value>,
    terms_data: Option<Value>,
    kyb: Option<Kyb>,
    /// Additional session: the company the person works for.
    company_id: Option<String>,
}

fn one_of(
    map: &Map<String, Value>,
    name: &str,
    allowed: &[&str],
    problems: &mut Vec<String>,
) -> String {
    match required_string(map, name, "") {
        Ok(v) if allowed.contains(&v) => v.to_owned(),
        Ok(v) => {
            problems.push(format!(
                "`{name}` must be one of {}, got `{v}`",
                allowed.join(", ")
            ));
            String::new()
        }
        Err(p) => {
            problems.push(p);
            String::new()
        }
    }
}

fn validate_create(map: &Map<String, Value>) -> Result<NewSession, Vec<String>> {
    let mut problems = unknown_members(
        map,
        &["flow_type", "country", "integration_method", "data"],
        "",
    );
    let flow_type = one_of(map, "flow_type", &FLOW_TYPES, &mut problems);
    let kind = Kind::of(&flow_type);
    let countries: &[&str] = match kind {
        Kind::Kyc => &COUNTRIES,
        Kind::Kyb | Kind::Additional => &KYB_COUNTRIES,
    };
    let country = one_of(map, "country", countries, &mut problems);
    let methods: &[&str] = match kind {
        Kind::Kyc => &INTEGRATION_METHODS,
        Kind::Kyb | Kind::Additional => &["API"],
    };
    let integration_method = one_of(map, "integration_method", methods, &mut problems);
    let mut new = NewSession {
        flow_type,
        country,
        integration_method,
        user_id: String::new(),
        personal_data: None,
        terms_data: None,
        kyb: None,
        company_id: None,
    };
    match map.get("data") {
        Some(Value::Object(data)) => match kind {
            Kind::Kyb => {
                new.kyb = check_kyb_data(data, &mut problems);
                if let Some(kyb) = &new.kyb {
                    new.user_id = kyb.company_id().to_owned();
                }
                new.terms_data = data.get("terms_data").cloned();
            }
            Kind::Additional => {
                new.company_id = Some(check_additional_data(data, &mut problems));
                person(data, &mut new, &mut problems);
            }
            Kind::Kyc => {
                problems.extend(unknown_members(
                    data,
                    &["user_id", "personal_data", "terms_data"],
                    "data.",
                ));
                person(data, &mut new, &mut problems);
            }
        },
        Some(_) => problems.push("`data` must be an object".to_owned()),
        None => problems.push("`data` is required".to_owned()),
    }
    if problems.is_empty() {
        Ok(new)
    } else {
        Err(problems)
    }
}

/// `data.user_id`, `data.personal_data` and `data.terms_data` of a person's session.
fn person(data: &Map<String, Value>, new: &mut NewSession, problems: &mut Vec<String>) {
    match required_string(data, "user_id", "data.") {
        Ok(u) => new.user_id = u.to_owned(),
        Err(p) => problems.push(p),
    }
    for (name, slot) in [
        ("personal_data", &mut new.personal_data),
        ("terms_data", &mut new.terms_data),
    ] {
        match data.get(name) {
            None => {}
            Some(v @ Value::Object(_)) => *slot = Some(v.clone()),
            Some(_) => problems.push(format!("`data.{name}` must be an object")),
        }
    }
}

/// `POST /identity/v2/sessions`.
pub(crate) fn create(shared: &Shared, parts: &Parts, body: &[u8]) -> HandlerResult {
    let key = idempotency_key(&parts.headers)?.filter(|_| {
        !shared
            .config
            .plays(crate::config::Alternative::IgnoresIdempotencyKeys)
    });
    let print = fingerprint(parts.method.as_str(), parts.uri.path(), body);
    if let Some(key) = &key {
        let seen = shared.lock().idempotency.check(key, &print);
        match seen {
            Replay::Fresh => {}
            Replay::Same(stored) => {
                shared.lock().stats.idempotent_replays += 1;
                return Ok(super::replay(stored));
            }
            Replay::Conflict => return Err(idempotency_conflict()),
        }
    }
    let map = json_object(&parts.headers, body)?;
    let new = validate_create(&map).map_err(|problems| {
        ApiError::many(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the session request body is invalid",
            problems,
        )
    })?;
    let json_len = |v: &Value| serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
    // A person's data, or for KYB the company's and every partner's: the limit applies to each
    // of them (the company and up to 50 partners each as much as a person).
    let (stored, limit, what) = match &new.kyb {
        Some(kyb) => {
            let parts = 1 + kyb.partners.len();
            (
                map.get("data").map_or(0, json_len),
                shared.config.max_personal_data_bytes.saturating_mul(parts),
                format!(
                    "`data` of a KYB create with {} partner(s)",
                    kyb.partners.len()
                ),
            )
        }
        None => (
            new.user_id.len() + new.personal_data.as_ref().map_or(0, json_len),
            shared.config.max_personal_data_bytes,
            "`data.user_id` and `data.personal_data`".to_owned(),
        ),
    };
    if stored > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "personal_data_too_large",
            format!("{what} may take at most {limit} bytes of JSON here"),
        ));
    }

    let now = shared.clock.now();
    let mut state = shared.lock();
    // Re-check under the same lock as the insert, so two concurrent requests with one key
    // cannot both create a session.
    if let Some(key) = &key {
        match state.idempotency.check(key, &print) {
            Replay::Fresh => {}
            Replay::Same(stored) => {
                state.stats.idempotent_replays += 1;
                return Ok(super::replay(stored));
            }
            Replay::Conflict => return Err(idempotency_conflict()),
        }
    }
    if let Some(company) = &new.company_id {
        let validated = state.sessions.values().any(|s| {
            s.status == Status::Validated
                && s.kyb.as_ref().is_some_and(|k| k.company_id() == company)
        });
        if !validated {
            return Err(ApiError::invalid_state(format!(
                "company `{company}` has no VALIDATED KYB session; validate the company first"
            )));
        }
    }
    if state.sessions.len() >= shared.config.max_sessions {
        return Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "session_limit",
            format!(
                "the simulator keeps at most {} sessions; clean some with /clean_validations",
                shared.config.max_sessions
            ),
        ));
    }
    let id = shared.ids.id("iss-", 27);
    let expiration_at = now
        .checked_add(shared.config.session_lifetime)
        .unwrap_or(now);
    let seq = state.next_seq;
    state.next_seq += 1;
    let kyb = new.kyb.is_some();
    let mut session = Session {
        // KYB runs through the API only: no web-flow URL.
        url: if kyb {
            String::new()
        } else {
            format!("{}/identity/web/sessions/{id}", shared.base_url)
        },
        kyb: new.kyb,
        company_id: new.company_id,
        id: id.clone(),
        seq,
        steps: Session::initial_steps(new.terms_data.is_some(), new.personal_data.is_some() || kyb),
        user_id: new.user_id,
        flow_type: new.flow_type,
        country: new.country,
        integration_method: new.integration_method,
        personal_data: new.personal_data,
        status: Status::InProgress,
        reason: None,
        created_at: now,
        updated_at: now,
        expiration_at,
        files: Vec::new(),
        required_again: Vec::new(),
        timeline: std::collections::VecDeque::new(),
        required_file_sent: false,
        generation: 0,
    };
    let mut created = json!({
        "id": session.id,
        "created_at": crate::clock::rfc3339(session.created_at),
        "expiration_at": crate::clock::rfc3339(session.expiration_at),
    });
    if let (false, Some(map)) = (kyb, created.as_object_mut()) {
        map.insert("url".to_owned(), json!(session.url));
    }
    let payload = json!({ "data": created });
    session.note(
        now,
        format!(
            "POST /identity/v2/sessions → 201 ({} {})",
            session.flow_type, session.country
        ),
    );
    state.sessions.insert(id, session);
    state.stats.creates_applied += 1;
    let bytes = Bytes::from(serde_json::to_vec(&payload).unwrap_or_default());
    if let Some(key) = &key {
        state
            .idempotency
            .remember(key, print, StatusCode::CREATED, bytes.clone());
    }
    Ok(crate::http::with_body(
        StatusCode::CREATED,
        "application/json",
        bytes.to_vec(),
    ))
}

pub(crate) fn idempotency_conflict() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_conflict",
        "this x-idempotency-key was already used with a different request",
    )
}

/// Looks a session up (after applying expiry) and maps it with `f`.
fn with_session<T>(
    shared: &Shared,
    id: &str,
    f: impl FnOnce(&mut Session) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let now = shared.clock.now();
    let mut state = shared.lock();
    let session = state
        .sessions
        .get_mut(id)
        .ok_or_else(|| ApiError::not_found(format!("no session `{id}`")))?;
    session.refresh(now);
    f(session)
}

/// `GET /identity/v1/sessions/{id}`.
pub(crate) fn get(shared: &Shared, id: &str) -> HandlerResult {
    with_session(shared, id, |s| Ok(data(StatusCode::OK, s.to_json())))
}

/// `GET /identity/v1/sessions/{id}/report`.
pub(crate) fn report(shared: &Shared, id: &str) -> HandlerResult {
    with_session(shared, id, |s| {
        Ok(data(StatusCode::OK, s.report_json(&shared.base_url)))
    })
}

/// `DELETE /identity/v1/sessions/{id}`.
pub(crate) fn cancel(shared: &Shared, id: &str) -> HandlerResult {
    let now = shared.clock.now();
    with_session(shared, id, |s| {
        if s.status.is_final() {
            return Err(ApiError::invalid_state(format!(
                "the session is {} and cannot be cancelled",
                s.status.as_str()
            )));
        }
        s.status = Status::Cancelled;
        s.updated_at = now;
        s.required_again.clear();
        // A pending processing timer must not finish a cancelled session.
        s.generation += 1;
        Ok(data(StatusCode::OK, s.to_json()))
    })
}

/// `POST /clean_validations`: deletes a user's sessions, by `user_id` or else by the
/// `personal_data.document_number` stored with them.
pub(crate) fn clean(shared: &Shared, parts: &Parts, body: &[u8]) -> HandlerResult {
    let map = json_object(&parts.headers, body)?;
    let mut problems = unknown_members(&map, &["user_id", "document_number"], "");
    let user_id = map
        .get("user_id")
        .map(|_| required_string(&map, "user_id", ""));
    let document = map
        .get("document_number")
        .map(|_| required_string(&map, "document_number", ""));
    for value in [&user_id, &document].into_iter().flatten() {
        if let Err(p) = value {
            problems.push(p.clone());
        }
    }
    if user_id.is_none() && document.is_none() {
        problems.push("one of `user_id` or `document_number` is required".to_owned());
    }
    if !problems.is_empty() {
        return Err(ApiError::many(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the clean_validations body is invalid",
            problems,
        ));
    }
    let mut state = shared.lock();
    let before = state.sessions.len();
    match (user_id, document) {
        (Some(Ok(user)), _) => state.sessions.retain(|_, s| s.user_id != user),
        (None, Some(Ok(number))) => state
            .sessions
            .retain(|_, s| s.document_number() != Some(number)),
        _ => {}
    }
    let deleted = before - state.sessions.len();
    Ok(data(StatusCode::OK, json!({ "deleted_sessions": deleted })))
}
