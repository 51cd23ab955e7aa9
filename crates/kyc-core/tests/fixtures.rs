//! Canned responses (`data/responses/*.json`) → expected models or errors, driven by one table.
//!
//! Each fixture names the endpoint whose response it is, the status, headers and body (JSON in
//! `body`, or raw text in `body_text`), and what parsing must give: `{"ok": <model as JSON>}`,
//! `{"api": {...}}` or `{"decode": {...}}`.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;

use kyc_core::{
    CancelSession, CleanValidations, CreateSession, DecodeReason, Error, GetReport, GetSession,
    RequestToken, RevokeToken, SearchSessions, UploadFile, parse_response,
};
use serde_json::{Value, json};

fn parse(endpoint: &str, response: &http::Response<Vec<u8>>) -> Result<Value, Error> {
    fn ok<T: serde::Serialize>(r: Result<T, Error>) -> Result<Value, Error> {
        r.map(|v| serde_json::to_value(v).unwrap())
    }
    match endpoint {
        "create_session" => ok(parse_response::<CreateSession, _>(response)),
        "get_session" => ok(parse_response::<GetSession, _>(response)),
        "cancel_session" => ok(parse_response::<CancelSession, _>(response)),
        "report" => ok(parse_response::<GetReport, _>(response)),
        "upload_file" => ok(parse_response::<UploadFile, _>(response)),
        "clean_validations" => ok(parse_response::<CleanValidations, _>(response)),
        "revoke_token" => ok(parse_response::<RevokeToken<'_>, _>(response)),
        "search_sessions" => parse_response::<SearchSessions, _>(response)
            .map(|page| json!({"sessions": page.sessions, "pagination": page.pagination})),
        "token" => parse_response::<RequestToken<'_>, _>(response).map(|grant| {
            json!({
                "token_type": grant.token_type,
                "expires_in_secs": grant.expires_in.map(|d| d.as_secs()),
                "scope": grant.scope,
            })
        }),
        other => panic!("unknown endpoint {other} in fixture"),
    }
}

fn check(path: &Path) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let fixture: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let body = match (&fixture.get("body"), &fixture.get("body_text")) {
        (Some(json), None) => serde_json::to_vec(json).unwrap(),
        (None, Some(Value::String(text))) => text.clone().into_bytes(),
        _ => panic!("{name}: needs exactly one of body / body_text"),
    };
    let mut builder = http::Response::builder().status(fixture["status"].as_u64().unwrap() as u16);
    for (k, v) in fixture["headers"].as_object().unwrap() {
        builder = builder.header(k.as_str(), v.as_str().unwrap());
    }
    let response = builder.body(body).unwrap();
    let result = parse(fixture["endpoint"].as_str().unwrap(), &response);
    let expect = &fixture["expect"];
    match (result, expect) {
        (Ok(model), Value::Object(e)) if e.contains_key("ok") => {
            assert_eq!(model, e["ok"], "{name}: parsed model differs");
        }
        (Err(Error::Api(api)), Value::Object(e)) if e.contains_key("api") => {
            let want = &e["api"];
            assert_eq!(
                api.status.as_u16() as u64,
                want["status"].as_u64().unwrap(),
                "{name}"
            );
            assert_eq!(
                api.request_id.as_deref(),
                want["request_id"].as_str(),
                "{name}"
            );
            let codes: Option<Vec<&str>> = api.body.as_ref().map(|b| b.codes().collect());
            let want_codes: Option<Vec<&str>> = want["codes"]
                .as_array()
                .map(|a| a.iter().map(|c| c.as_str().unwrap()).collect());
            assert_eq!(codes, want_codes, "{name}");
            let message = api.body.as_ref().and_then(|b| b.message.as_deref());
            assert_eq!(message, want["message"].as_str(), "{name}");
            assert_eq!(
                api.raw_body.as_bytes(),
                response.body().as_slice(),
                "{name}: raw body kept"
            );
        }
        (Err(Error::Decode(decode)), Value::Object(e)) if e.contains_key("decode") => {
            let want = &e["decode"];
            assert_eq!(
                decode.status.as_u16() as u64,
                want["status"].as_u64().unwrap(),
                "{name}"
            );
            assert_eq!(
                decode.request_id.as_deref(),
                want["request_id"].as_str(),
                "{name}"
            );
            let reason = match decode.reason {
                DecodeReason::Syntax { .. } => "syntax",
                DecodeReason::Eof => "eof",
                DecodeReason::Data => "data",
                other => panic!("{name}: unexpected reason {other:?}"),
            };
            assert_eq!(reason, want["reason"].as_str().unwrap(), "{name}");
            if let Some(path) = want.get("path") {
                assert_eq!(decode.path, path.as_str().unwrap(), "{name}");
            }
        }
        (got, _) => panic!("{name}: expected {expect}, got {got:?}"),
    }
}

#[test]
fn every_response_fixture_parses_as_expected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/responses");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "fixtures missing from {}", dir.display());
    for file in files {
        check(&file);
    }
}

#[test]
fn error_messages_and_debug_never_echo_the_body() {
    // A 400 whose body echoes a document number: the error keeps it for the caller, but neither
    // `Display` nor `Debug` prints it.
    let body = br#"{"error":{"message":"document 30123456 already used","details":[{"code":"duplicate","detail":"30123456"}]}}"#;
    let response = http::Response::builder()
        .status(400)
        .body(body.to_vec())
        .unwrap();
    let err = parse_response::<GetSession, _>(&response).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("400") && shown.contains("duplicate"),
        "{shown}"
    );
    assert!(!shown.contains("30123456"), "{shown}");
}
