//! `kyc webhook sign` and `kyc webhook verify`: the signed headers, the verified event, and each
//! rejection reason as its own KIND with exit 3.

use kyc_core::webhook::{WebhookSecret, sign};
use serde_json::json;

use crate::support::{WEBHOOK_SECRET, kyc, kyc_with};

const API_KEY: &str = "Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA=";
const ENDPOINT: &str = "/webhooks/identity";
const NOW: u64 = 1_715_629_633;
const BODY: &[u8] = br#"{"event_type":"identity.session.status_changed","data":{"session_id":"iss-1","status":"VALIDATED","user_id":"usr-1"}}"#;

fn secret() -> WebhookSecret {
    WebhookSecret::from_base64(WEBHOOK_SECRET).unwrap()
}

fn key_and_secret() -> String {
    format!("{API_KEY}:{WEBHOOK_SECRET}")
}

/// The four headers kyc-core signs `body` with, as `--header` values.
fn signed_headers(timestamp: u64, endpoint: &str, body: &[u8]) -> Vec<String> {
    let signed = sign(API_KEY, &secret(), endpoint, timestamp, body);
    vec![
        format!("X-Api-Key: {}", signed.api_key),
        format!("X-Signature: {}", signed.signature),
        format!("X-Timestamp: {}", signed.timestamp),
        format!("X-Endpoint: {}", signed.endpoint),
    ]
}

/// `kyc webhook verify` with the test key, `--now NOW`, these headers and `body` on stdin.
fn verify(headers: &[String], body: &[u8], extra: &[&str]) -> crate::support::Run {
    let secret = key_and_secret();
    let now = NOW.to_string();
    let mut args = vec!["webhook", "verify", "--secret", &secret, "--now", &now];
    for header in headers {
        args.extend(["--header", header.as_str()]);
    }
    args.extend(["--body", "-"]);
    args.extend_from_slice(extra);
    kyc_with(&args, &[], Some(body))
}

#[test]
fn sign_prints_exactly_the_four_headers_kyc_core_computes() {
    let dir = crate::support::temp_dir("sign");
    let body_file = dir.join("event.json");
    std::fs::write(&body_file, BODY).unwrap();
    let headers = kyc(&[
        "webhook",
        "sign",
        "--api-key",
        API_KEY,
        "--secret",
        WEBHOOK_SECRET,
        "--endpoint",
        ENDPOINT,
        "--timestamp",
        &NOW.to_string(),
        "--body",
        body_file.to_str().unwrap(),
    ])
    .json();
    let expected = sign(API_KEY, &secret(), ENDPOINT, NOW, BODY);
    assert_eq!(
        headers,
        json!({
            "X-Api-Key": API_KEY,
            "X-Signature": expected.signature,
            "X-Timestamp": NOW.to_string(),
            "X-Endpoint": ENDPOINT,
        })
    );

    // Without --timestamp, now; without --body, the empty body.
    let now = kyc(&[
        "webhook",
        "sign",
        "--api-key",
        "k",
        "--secret",
        WEBHOOK_SECRET,
        "--endpoint",
        "/e",
    ])
    .json();
    let stamp: u64 = now["X-Timestamp"].as_str().unwrap().parse().unwrap();
    let expected = sign("k", &secret(), "/e", stamp, b"");
    assert_eq!(now["X-Signature"], expected.signature.as_str());
    assert!(stamp > NOW);

    let run = kyc(&[
        "webhook",
        "sign",
        "--api-key",
        "k",
        "--secret",
        "not base64!",
        "--endpoint",
        "/e",
    ]);
    run.failure("invalid_input", 2);
    assert!(!run.stderr.contains("not base64!"));
}

#[test]
fn a_valid_webhook_prints_its_type_and_body() {
    let run = verify(
        &signed_headers(NOW - 30, ENDPOINT, BODY),
        BODY,
        &["--endpoint", ENDPOINT],
    );
    let out = run.json();
    let raw: serde_json::Value = serde_json::from_slice(BODY).unwrap();
    assert_eq!(out, json!({"type": "validation_session", "event": raw}));

    let required =
        br#"{"data":{"session_id":"iss-1","required_documents":["identity-card-back"]}}"#;
    let out = verify(&signed_headers(NOW, ENDPOINT, required), required, &[]).json();
    assert_eq!(out["type"], "required_file");
    let other = br#"{"hello":"world"}"#;
    let out = verify(&signed_headers(NOW, ENDPOINT, other), other, &[]).json();
    assert_eq!(out["type"], "other");
    assert_eq!(out["event"], json!({"hello": "world"}));
}

#[test]
fn headers_made_by_kyc_webhook_sign_verify() {
    let dir = crate::support::temp_dir("sign-then-verify");
    let body_file = dir.join("event.json");
    std::fs::write(&body_file, BODY).unwrap();
    let body_path = body_file.to_str().unwrap();
    let sign_args = [
        "webhook",
        "sign",
        "--api-key",
        API_KEY,
        "--secret",
        WEBHOOK_SECRET,
        "--endpoint",
        ENDPOINT,
        "--body",
        body_path,
    ];
    let headers: Vec<String> = kyc(&sign_args)
        .json()
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| format!("{name}: {}", value.as_str().unwrap()))
        .collect();
    let secret = key_and_secret();
    let mut args = vec![
        "webhook",
        "verify",
        "--secret",
        &secret,
        "--endpoint",
        ENDPOINT,
        "--body",
        body_path,
    ];
    for header in &headers {
        args.extend(["--header", header.as_str()]);
    }
    // No --now: signed and verified at the current time.
    assert_eq!(kyc(&args).json()["type"], "validation_session");
    // Without --body the body is empty: authentic for these headers only if signed empty.
    let without_body: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| *a != "--body" && *a != body_path)
        .collect();
    kyc(&without_body).failure("signature_mismatch", 3);
}

#[test]
fn a_rotated_secret_verifies_with_either_secret_configured() {
    let old = format!("{API_KEY}:c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24=");
    let run = verify(
        &signed_headers(NOW, ENDPOINT, BODY),
        BODY,
        &["--secret", &old],
    );
    assert_eq!(run.json()["type"], "validation_session");
}

#[test]
fn each_rejection_is_its_own_kind_with_exit_3() {
    let good = signed_headers(NOW, ENDPOINT, BODY);
    let replace = |index: usize, line: &str| {
        let mut headers = good.clone();
        headers[index] = line.to_owned();
        headers
    };
    let without = |index: usize| {
        let mut headers = good.clone();
        headers.remove(index);
        headers
    };
    let not_json = b"this is not json";
    // (kind, headers, body, further arguments)
    type Case<'a> = (&'a str, Vec<String>, &'a [u8], Vec<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        ("missing_header", without(1), BODY, vec![]),
        (
            "unknown_api_key",
            replace(0, "X-Api-Key: someone-else"),
            BODY,
            vec![],
        ),
        (
            "unsupported_algorithm",
            replace(1, "X-Signature: hmac-sha1 AAAA"),
            BODY,
            vec![],
        ),
        (
            "malformed_signature",
            replace(1, "X-Signature: hmac-sha256 not*base64"),
            BODY,
            vec![],
        ),
        (
            "malformed_timestamp",
            replace(2, "X-Timestamp: yesterday"),
            BODY,
            vec![],
        ),
        ("stale", signed_headers(NOW - 301, ENDPOINT, BODY), BODY, vec![]),
        ("future", signed_headers(NOW + 301, ENDPOINT, BODY), BODY, vec![]),
        (
            "endpoint_mismatch",
            good.clone(),
            BODY,
            vec!["--endpoint", "/webhooks/other"],
        ),
        (
            "signature_mismatch",
            good.clone(),
            br#"{"event_type":"identity.session.status_changed","data":{"session_id":"iss-1","status":"REJECTED"}}"#,
            vec![],
        ),
        (
            "invalid_json",
            signed_headers(NOW, ENDPOINT, not_json),
            not_json,
            vec![],
        ),
    ];
    for (kind, headers, body, extra) in cases {
        let run = verify(&headers, body, &extra);
        let message = run.failure(kind, 3);
        assert!(!message.is_empty(), "{kind}");
        // The message never quotes what the sender controls.
        assert!(
            !run.stderr.contains("iss-1") && !run.stderr.contains("not json"),
            "{run:#?}"
        );
    }
}

#[test]
fn tolerance_widens_the_freshness_window() {
    let headers = signed_headers(NOW - 600, ENDPOINT, BODY);
    verify(&headers, BODY, &[]).failure("stale", 3);
    let run = verify(&headers, BODY, &["--tolerance", "900"]);
    assert_eq!(run.json()["type"], "validation_session");
}

#[test]
fn without_now_the_current_time_is_used() {
    let headers = signed_headers(NOW, ENDPOINT, BODY);
    let secret = key_and_secret();
    let mut args = vec!["webhook", "verify", "--secret", secret.as_str()];
    for header in &headers {
        args.extend(["--header", header.as_str()]);
    }
    args.extend(["--body", "-"]);
    // Signed in May 2024: stale by now.
    kyc_with(&args, &[], Some(BODY)).failure("stale", 3);
}

#[test]
fn bad_secrets_and_headers_are_invalid_input_and_never_echoed() {
    let headers = signed_headers(NOW, ENDPOINT, BODY);
    for secret in [
        WEBHOOK_SECRET.to_owned(),
        format!(":{WEBHOOK_SECRET}"),
        format!("{API_KEY}:{WEBHOOK_SECRET}!"),
    ] {
        let run = kyc_with(
            &[
                "webhook",
                "verify",
                "--secret",
                &secret,
                "--header",
                &headers[0],
            ],
            &[],
            None,
        );
        let message = run.failure("invalid_input", 2);
        // Secrets come from --secret, --secret-file and POMELO_WEBHOOK_SECRETS alike (issue #18).
        assert!(message.contains("webhook secret #1"), "{message}");
    }
    let secret = key_and_secret();
    for header in ["X-Api-Key", "Bad Name: v", "X-Endpoint: a\u{7}b"] {
        let run = kyc(&["webhook", "verify", "--secret", &secret, "--header", header]);
        run.failure("invalid_input", 2);
    }
}
