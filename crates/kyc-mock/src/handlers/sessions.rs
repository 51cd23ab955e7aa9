//! Create, get, cancel, report and clean_validations.

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::request::{Call, Idempotency, json_object};
use crate::http::{ApiError, HandlerResult, data, with_body};
use crate::json::{one_of, required_string, unknown_members};
use crate::kyb::{KYB_COUNTRIES, Kind, check_additional_data, check_company_data};
use crate::session::{COUNTRIES, FLOW_TYPES, INTEGRATION_METHODS, Session, Status};
use crate::state::Shared;
use crate::subject::{Person, Subject};

/// The fields of a new session, from a checked create body.
struct NewSession {
    flow_type: String,
    country: String,
    integration_method: String,
    subject: Subject,
    terms_data: Option<Value>,
}

/// Checks a create-session body: the new session's fields, or every problem found.
fn validate_create(map: &Map<String, Value>) -> Result<NewSession, Vec<String>> {
    let mut problems = unknown_members(
        map,
        &["flow_type", "country", "integration_method", "data"],
        "",
    );
    let flow_type = one_of(map, "flow_type", &FLOW_TYPES, &mut problems);
    let kind = Kind::of(&flow_type);
    let (countries, methods): (&[&str], &[&str]) = match kind {
        Kind::Kyc => (&COUNTRIES, &INTEGRATION_METHODS),
        Kind::Kyb | Kind::Additional => (&KYB_COUNTRIES, &["API"]),
    };
    let country = one_of(map, "country", countries, &mut problems);
    let integration_method = one_of(map, "integration_method", methods, &mut problems);
    let checked = match map.get("data") {
        Some(Value::Object(data)) => match kind {
            Kind::Kyb => check_company_data(data, &mut problems)
                .map(|company| (Subject::Company(company), data.get("terms_data").cloned())),
            Kind::Additional => {
                let company_id = check_additional_data(data, &mut problems);
                let (person, _) = person(data, &mut problems);
                Some((Subject::Employee { person, company_id }, None))
            }
            Kind::Kyc => {
                problems.extend(unknown_members(
                    data,
                    &["user_id", "personal_data", "terms_data"],
                    "data.",
                ));
                let (person, terms) = person(data, &mut problems);
                Some((Subject::Person(person), terms))
            }
        },
        Some(_) => {
            problems.push("`data` must be an object".to_owned());
            None
        }
        None => {
            problems.push("`data` is required".to_owned());
            None
        }
    };
    match checked {
        Some((subject, terms_data)) if problems.is_empty() => Ok(NewSession {
            flow_type,
            country,
            integration_method,
            subject,
            terms_data,
        }),
        _ => Err(problems),
    }
}

/// `data.user_id` and `data.personal_data` of a person's session, and `data.terms_data`.
fn person(data: &Map<String, Value>, problems: &mut Vec<String>) -> (Person, Option<Value>) {
    let user_id = required_string(data, "user_id", "data.")
        .map_err(|p| problems.push(p))
        .unwrap_or_default()
        .to_owned();
    let mut object = |name: &str| match data.get(name) {
        None => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => {
            problems.push(format!("`data.{name}` must be an object"));
            None
        }
    };
    let personal_data = object("personal_data");
    let terms = object("terms_data");
    (
        Person {
            user_id,
            personal_data,
        },
        terms,
    )
}

/// Refuses what a session may not store: each entity's data (a person, or a company and each of
/// its partners) within the configured size.
fn check_size(
    shared: &Shared,
    map: &Map<String, Value>,
    subject: &Subject,
) -> Result<(), ApiError> {
    let json_len = |v: &Value| serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
    let max = shared.config.max_personal_data_bytes;
    let (stored, limit, what) = match subject {
        Subject::Company(company) => (
            map.get("data").map_or(0, json_len),
            max.saturating_mul(1 + company.partners.len()),
            format!(
                "`data` of a KYB create with {} partner(s)",
                company.partners.len()
            ),
        ),
        Subject::Person(person) | Subject::Employee { person, .. } => (
            person.user_id.len() + person.personal_data.as_ref().map_or(0, json_len),
            max,
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
    Ok(())
}

/// `POST /identity/v2/sessions`.
pub(crate) fn create(shared: &Arc<Shared>, call: &Call<'_>) -> HandlerResult {
    let idempotency = Idempotency::of(shared, call)?;
    if let Some(replay) = idempotency.replayed(&mut shared.lock())? {
        return Ok(replay);
    }
    let map = json_object(&call.parts.headers, call.body)?;
    let new = validate_create(&map).map_err(|problems| {
        ApiError::many(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the session request body is invalid",
            problems,
        )
    })?;
    check_size(shared, &map, &new.subject)?;

    let now = shared.clock.now();
    let mut state = shared.lock();
    // Re-check under the same lock as the insert, so two concurrent requests with one key
    // cannot both create a session.
    if let Some(replay) = idempotency.replayed(&mut state)? {
        return Ok(replay);
    }
    if let Subject::Employee { company_id, .. } = &new.subject {
        let validated = state.sessions.values().any(|s| {
            s.status == Status::Validated
                && matches!(&s.subject, Subject::Company(c) if c.id() == company_id)
        });
        if !validated {
            return Err(ApiError::invalid_state(format!(
                "company `{company_id}` has no VALIDATED KYB session; validate the company first"
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
    // KYB runs through the API only: no web-flow URL. The form is done when the create brought
    // the person's data, or the company's.
    let (url, form_done) = match &new.subject {
        Subject::Company(_) => (String::new(), true),
        Subject::Person(person) | Subject::Employee { person, .. } => (
            format!("{}/identity/web/sessions/{id}", shared.base_url),
            person.personal_data.is_some(),
        ),
    };
    let mut session = Session {
        url,
        subject: new.subject,
        id: id.clone(),
        seq,
        steps: Session::initial_steps(new.terms_data.is_some(), form_done),
        flow_type: new.flow_type,
        country: new.country,
        integration_method: new.integration_method,
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
    if let (false, Some(map)) = (session.url.is_empty(), created.as_object_mut()) {
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
    idempotency.remember(&mut state, StatusCode::CREATED, bytes.clone());
    Ok(with_body(
        StatusCode::CREATED,
        "application/json",
        bytes.to_vec(),
    ))
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

/// `GET /identity/v1/sessions/{session_id}`.
pub(crate) fn get(shared: &Arc<Shared>, call: &Call<'_>) -> HandlerResult {
    with_session(shared, call.param("session_id"), |s| {
        Ok(data(StatusCode::OK, &*s))
    })
}

/// `GET /identity/v1/sessions/{session_id}/report`.
pub(crate) fn report(shared: &Arc<Shared>, call: &Call<'_>) -> HandlerResult {
    with_session(shared, call.param("session_id"), |s| {
        Ok(data(
            StatusCode::OK,
            crate::report::report_json(&shared.base_url, s),
        ))
    })
}

/// `DELETE /identity/v1/sessions/{session_id}`.
pub(crate) fn cancel(shared: &Arc<Shared>, call: &Call<'_>) -> HandlerResult {
    let now = shared.clock.now();
    with_session(shared, call.param("session_id"), |s| {
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
        Ok(data(StatusCode::OK, &*s))
    })
}

/// `POST /clean_validations`: deletes a user's sessions, by `user_id` or else by the
/// `personal_data.document_number` stored with them.
pub(crate) fn clean(shared: &Arc<Shared>, call: &Call<'_>) -> HandlerResult {
    let map = json_object(&call.parts.headers, call.body)?;
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
        (Some(Ok(user)), _) => state.sessions.retain(|_, s| s.subject.id() != user),
        (None, Some(Ok(number))) => state
            .sessions
            .retain(|_, s| s.subject.document_number() != Some(number)),
        _ => {}
    }
    let deleted = before - state.sessions.len();
    Ok(data(StatusCode::OK, json!({ "deleted_sessions": deleted })))
}
