//! `POST /identity/v1/sessions/{session_id}/entities/{entity_id}/files/{type_document}`.

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde_json::json;

use super::request::{Call, Idempotency, Noted};
use crate::config::Alternative;
use crate::http::{ApiError, HandlerResult, with_body};
use crate::lifecycle::{after_upload, schedule};
use crate::multipart::{FilePart, boundary, parse_single_file};
use crate::session::{FileRecord, Status};
use crate::state::Shared;

/// Accepted file types and their leading bytes (reference decision 3).
const MAGIC: [(&str, &[u8]); 3] = [
    ("image/jpeg", &[0xFF, 0xD8, 0xFF]),
    (
        "image/png",
        &[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
    ),
    ("application/pdf", b"%PDF-"),
];

fn invalid_file(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_file", detail)
}

/// Whether a file's leading bytes are those of a format.
type Sniff = fn(&[u8]) -> bool;

/// More formats, accepted with `Alternative::MoreFormats`: the content type and a check of the
/// leading bytes (WEBP: `RIFF....WEBP`; HEIC: an ISO box `ftyp` with a HEIF brand).
const MORE: [(&str, Sniff); 2] = [
    ("image/webp", |d| {
        d.starts_with(b"RIFF") && d.get(8..12) == Some(b"WEBP".as_slice())
    }),
    ("image/heic", |d| {
        d.get(4..8) == Some(b"ftyp".as_slice())
            && matches!(d.get(8..12), Some(b"heic" | b"heix" | b"mif1"))
    }),
];

/// Checks the file part: declared type accepted, non-empty, within the size limit, magic bytes
/// matching the declared type.
fn check_file(
    part: &FilePart<'_>,
    max: usize,
    more_formats: bool,
) -> Result<&'static str, ApiError> {
    let more = MORE
        .iter()
        .find(|(t, _)| more_formats && *t == part.content_type);
    if let Some((content_type, matches)) = more {
        if part.data.is_empty() {
            return Err(invalid_file("the file is empty"));
        }
        if part.data.len() > max {
            return Err(ApiError::file_too_large(max));
        }
        if !matches(part.data) {
            return Err(invalid_file(format!(
                "the file's leading bytes do not match its content type {content_type}"
            )));
        }
        return Ok(content_type);
    }
    let Some((content_type, magic)) = MAGIC.iter().find(|(t, _)| *t == part.content_type) else {
        return Err(invalid_file(format!(
            "content type `{}` is not accepted; use image/jpeg, image/png or application/pdf",
            part.content_type
        )));
    };
    if part.data.is_empty() {
        return Err(invalid_file("the file is empty"));
    }
    if part.data.len() > max {
        return Err(ApiError::file_too_large(max));
    }
    if !part.data.starts_with(magic) {
        return Err(invalid_file(format!(
            "the file's leading bytes do not match its content type {content_type}"
        )));
    }
    Ok(content_type)
}

/// `POST /identity/v1/sessions/{session_id}/entities/{entity_id}/files/{type_document}`.
pub(crate) fn upload(shared: &Arc<Shared>, call: &Call<'_>) -> HandlerResult {
    let (session_id, entity_id, type_document) = (
        call.param("session_id"),
        call.param("entity_id"),
        call.param("type_document"),
    );
    let parts = call.parts;
    let idempotency = Idempotency::of(shared, call)?;
    if let Some(replay) = idempotency.replayed(&mut shared.lock())? {
        return Ok(replay);
    }
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = boundary(content_type).map_err(|e| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            e,
        )
    })?;
    let part = parse_single_file(call.body, &boundary);

    let now = shared.clock.now();
    let mut state = shared.lock();
    if let Some(replay) = idempotency.replayed(&mut state)? {
        return Ok(replay);
    }
    let session = state
        .sessions
        .get_mut(session_id)
        .ok_or_else(|| ApiError::not_found(format!("no session `{session_id}`")))?;
    session.refresh(now);
    if session.status != Status::InProgress {
        return Err(ApiError::invalid_state(format!(
            "the session is {} and takes no more files",
            session.status.as_str()
        )));
    }
    let allowed = session
        .documents_for(entity_id)
        .map_err(|why| ApiError::bad_request("invalid_entity", why))?;
    if !allowed.contains(&type_document) {
        return Err(ApiError::bad_request(
            "invalid_document_type",
            format!(
                "document type `{}` is not accepted for entity `{}` in {}; accepted: {}",
                type_document,
                entity_id,
                session.country,
                allowed.join(", ")
            ),
        ));
    }
    let part = part.map_err(|e| ApiError::bad_request("invalid_multipart", e))?;
    let more_formats = shared.config.plays(Alternative::MoreFormats);
    let content_type = check_file(&part, shared.config.max_upload_bytes, more_formats)?;

    let file = FileRecord {
        id: shared.ids.id("fil-", 27),
        entity_id: entity_id.to_owned(),
        type_document: type_document.to_owned(),
        file_name: part.file_name.clone(),
        content_type,
        size: part.data.len(),
        created_at: now,
        size_in_megabytes: shared.config.plays(Alternative::FractionalSizes),
    };
    session
        .files
        .retain(|f| f.entity_id != entity_id || f.type_document != type_document);
    session.files.push(file.clone());
    session.updated_at = now;
    session.required_again.retain(|d| d != type_document);
    session.note(
        now,
        format!("POST {} → 201 ({})", parts.uri.path(), call.request_id),
    );
    state.stats.uploads_applied += 1;
    if content_type.starts_with("image/") {
        state.previews.keep(
            file.id.clone(),
            content_type,
            Bytes::copy_from_slice(part.data),
        );
    }
    let mut payload = file.to_json();
    if let Some(obj) = payload.as_object_mut() {
        obj.insert("session_id".to_owned(), json!(session_id));
    }
    let bytes = Bytes::from(serde_json::to_vec(&json!({ "data": payload })).unwrap_or_default());
    idempotency.remember(&mut state, StatusCode::CREATED, bytes.clone());
    let (notifications, later) = after_upload(shared, &mut state, session_id);
    drop(state);
    schedule(shared, session_id.to_owned(), notifications, later);
    let mut response = with_body(StatusCode::CREATED, "application/json", bytes.to_vec());
    // Noted above, before the processing it may have started and finished.
    response.extensions_mut().insert(Noted);
    Ok(response)
}
