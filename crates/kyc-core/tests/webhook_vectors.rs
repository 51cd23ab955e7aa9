//! Table-driven webhook vectors: every `tests/data/webhooks/*.json` file is one case (format in
//! `tests/data/webhooks/generate.py`, which writes them with an independent implementation of the
//! signature algorithm). The set covers the reference's known answers, every rejection reason and
//! the accepted event shapes.

// A panic is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use kyc_core::webhook::{Event, Verifier, WebhookError, WebhookKeys, WebhookSecret, sign};
use serde_json::{Value, json};

const ALL_KINDS: [&str; 10] = [
    "missing_header",
    "unknown_api_key",
    "unsupported_algorithm",
    "malformed_signature",
    "malformed_timestamp",
    "stale",
    "future",
    "endpoint_mismatch",
    "signature_mismatch",
    "invalid_json",
];

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/webhooks");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

struct Case {
    verifier: Verifier,
    headers: HeaderMap,
    body: Vec<u8>,
    now: SystemTime,
    secrets: Vec<String>,
}

fn load(case: &Value) -> Case {
    let mut keys = WebhookKeys::new();
    let mut secrets = Vec::new();
    for (api_key, list) in case["secrets"].as_object().unwrap() {
        for secret in list.as_array().unwrap() {
            let secret = secret.as_str().unwrap();
            secrets.push(secret.to_owned());
            keys.insert(api_key.clone(), WebhookSecret::from_base64(secret).unwrap());
        }
    }
    let mut verifier = Verifier::new(keys);
    if let Some(secs) = case.get("tolerance_secs") {
        verifier = verifier.tolerance(Duration::from_secs(secs.as_u64().unwrap()));
    }
    if let Some(endpoint) = case.get("expected_endpoint") {
        verifier = verifier.expected_endpoint(endpoint.as_str().unwrap());
    }
    let mut headers = HeaderMap::new();
    for (name, value) in case["headers"].as_object().unwrap() {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
        );
    }
    let now_secs = case["now"].as_i64().unwrap();
    let now = if now_secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(now_secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(now_secs.unsigned_abs())
    };
    Case {
        verifier,
        headers,
        body: case["body"].as_str().unwrap().as_bytes().to_vec(),
        now,
        secrets,
    }
}

/// The typed fields of an event, as JSON, to compare with a vector's expectations.
fn typed_view(event: &Event) -> Value {
    match event {
        Event::ValidationSession(n) => json!({
            "variant": "validation_session",
            "session_id": n.session_id,
            "status": n.status.as_str(),
            "user_id": n.user_id,
            "reason": n.reason,
            "country": n.country.as_ref().map(|c| c.as_str()),
            "flow_type": n.flow_type.as_ref().map(|f| f.as_str()),
            "event_id": n.event_id,
            "event_type": n.event_type,
            "created_at": n.created_at,
        }),
        Event::RequiredFile(n) => json!({
            "variant": "required_file",
            "required_documents": n.required_documents.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            "session_id": n.session_id,
            "user_id": n.user_id,
            "entity_id": n.entity_id,
            "reason": n.reason,
            "event_id": n.event_id,
            "event_type": n.event_type,
            "created_at": n.created_at,
        }),
        Event::Other(n) => json!({
            "variant": "other",
            "event_id": n.event_id,
            "event_type": n.event_type,
            "created_at": n.created_at,
        }),
        other => panic!("new Event variant not covered by the vector runner: {other:?}"),
    }
}

fn check_error_details(err: &WebhookError, expected: &Value) -> Result<(), String> {
    let kind = expected["kind"].as_str().unwrap();
    if err.kind() != kind {
        return Err(format!("expected {kind}, got {err:?}"));
    }
    let detail_ok = match err {
        WebhookError::MissingHeader { name } => expected["name"] == *name,
        WebhookError::Stale { age, .. } => expected["age_secs"] == age.as_secs(),
        WebhookError::FromFuture { ahead, .. } => expected["ahead_secs"] == ahead.as_secs(),
        WebhookError::InvalidJson { line, column } => {
            expected["line"] == *line && expected["column"] == *column
        }
        _ => true,
    };
    if detail_ok {
        Ok(())
    } else {
        Err(format!("details differ: expected {expected}, got {err:?}"))
    }
}

/// What a log line built from the error could reveal: never a secret, the MAC or the body.
fn check_no_leak(err: &WebhookError, case: &Case) -> Result<(), String> {
    let texts = [err.to_string(), format!("{err:?}")];
    let mut forbidden: Vec<&[u8]> = case.secrets.iter().map(|s| s.as_bytes()).collect();
    if let Some(sig) = case.headers.get("x-signature") {
        if let Some(mac) = sig.as_bytes().get(12..).filter(|m| m.len() >= 8) {
            forbidden.push(mac);
        }
    }
    if case.body.len() >= 8 {
        forbidden.push(&case.body);
    }
    for text in &texts {
        for needle in &forbidden {
            if text.as_bytes().windows(needle.len()).any(|w| w == *needle) {
                return Err(format!("error text leaks input: {text}"));
            }
        }
    }
    Ok(())
}

fn run(name: &str, raw: &Value, kinds_seen: &mut BTreeSet<&'static str>) -> Result<(), String> {
    let case = load(raw);
    let result = case.verifier.verify(&case.headers, &case.body, case.now);
    let signature = case
        .verifier
        .verify_signature(&case.headers, &case.body, case.now);

    // The framework-neutral entry point agrees with the header-map one.
    let mut request = http::Request::post("/").body(case.body.clone()).unwrap();
    *request.headers_mut() = case.headers.clone();
    if case.verifier.verify_request(&request, case.now) != result {
        return Err("verify_request disagrees with verify".into());
    }

    let expect = &raw["expect"];
    let signature_ok = expect["signature_ok"].as_bool().unwrap();
    match (&signature, signature_ok) {
        (Ok(()), true) => {}
        (Err(sig_err), false) if result.as_ref().err() == Some(sig_err) => {}
        _ => {
            return Err(format!(
                "verify_signature gave {signature:?}, expected ok = {signature_ok}"
            ));
        }
    }

    if let Some(expected) = expect.get("error") {
        let err = result.err().ok_or("accepted, expected an error")?;
        check_error_details(&err, expected)?;
        check_no_leak(&err, &case)?;
        kinds_seen.insert(err.kind());
    } else {
        let expected = &expect["event"];
        let event = result.map_err(|e| format!("refused with {e:?}"))?;
        let view = typed_view(&event);
        for (field, value) in expected.as_object().unwrap() {
            if view[field] != *value {
                return Err(format!("{field}: expected {value}, got {}", view[field]));
            }
        }
        // `raw()` is the body exactly as parsed.
        let body: Value = serde_json::from_slice(&case.body).unwrap();
        if event.raw() != &body {
            return Err("raw() differs from the body".into());
        }
    }

    // Known answers: our signer produces the published header.
    if raw.get("kat").is_some() {
        let header = |n: &str| case.headers.get(n).unwrap().to_str().unwrap().to_owned();
        let secret = WebhookSecret::from_base64(&case.secrets[0]).unwrap();
        let signed = sign(
            &header("x-api-key"),
            &secret,
            &header("x-endpoint"),
            header("x-timestamp").parse().unwrap(),
            &case.body,
        );
        if signed.signature != header("x-signature") {
            return Err(format!("sign() gave {}", signed.signature));
        }
        if signed.to_header_map().unwrap() != case.headers {
            return Err(format!(
                "{name}: to_header_map differs from the vector's headers"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_vector_file_gives_its_expected_result() {
    let files = vector_files();
    assert!(files.len() >= 40, "vectors not found: {files:?}");
    let mut kinds_seen = BTreeSet::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let raw: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        if let Err(why) = run(&name, &raw, &mut kinds_seen) {
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let missing: Vec<_> = ALL_KINDS
        .iter()
        .filter(|k| !kinds_seen.contains(*k))
        .collect();
    assert!(missing.is_empty(), "no vector for {missing:?}");
}

#[test]
fn the_known_answer_vectors_are_present() {
    let names: Vec<_> = vector_files()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"kat-1".to_owned()) && names.contains(&"kat-2".to_owned()));
}
