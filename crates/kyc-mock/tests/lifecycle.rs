//! Session lifecycle: processing, outcomes, signed webhooks (checked with an independent HMAC),
//! required-file flow, retries, expiry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests: panics are failures

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::{Client, Hook, JPEG, PNG, Receiver, expected_signature};
use kyc_mock::{
    DEFAULT_WEBHOOK_API_KEY, DEFAULT_WEBHOOK_SECRET, MockConfig, MockServer, Outcome, StartError,
    WebhookKind,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(5);

/// Checks the four Pomelo headers and the signature, recomputed here with the hmac crate.
fn assert_signed(hook: &Hook, server: &MockServer, endpoint: &str) {
    assert_eq!(hook.method, "POST");
    assert_eq!(hook.target, endpoint);
    assert_eq!(hook.header("x-api-key"), Some(server.webhook_api_key()));
    assert_eq!(hook.header("x-endpoint"), Some(endpoint));
    assert_eq!(hook.header("content-type"), Some("application/json"));
    let timestamp = hook.header("x-timestamp").unwrap();
    let ts: u64 = timestamp.parse().expect("X-Timestamp is Unix seconds");
    let now = server.now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert!(
        now.abs_diff(ts) <= 5,
        "timestamp {ts} far from the simulator's now {now}"
    );
    let expected = expected_signature(server.webhook_secret(), timestamp, endpoint, &hook.body);
    assert_eq!(hook.header("x-signature"), Some(expected.as_str()));
}

#[test]
fn the_test_hmac_matches_the_reference_vector() {
    assert_eq!(
        expected_signature(
            DEFAULT_WEBHOOK_SECRET,
            "1700000000",
            "/webhooks/identity/sessions",
            br#"{"id":"iss-123","status":"VALIDATED"}"#
        ),
        "hmac-sha256 JoGyuWrhnlXQTCenRej5MVnolkroEtek63ESCjDEXdg="
    );
}

#[test]
fn complete_documents_lead_to_validated_and_a_signed_webhook() {
    let receiver = Receiver::start();
    let endpoint = "/webhooks/identity?tenant=t1";
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::from_millis(1000))
            .webhook_url(receiver.url(endpoint)),
    )
    .unwrap();
    assert_eq!(server.webhook_api_key(), DEFAULT_WEBHOOK_API_KEY);
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = client.create_session(&token, "ARG", "usr-ok");
    client.upload(&token, &id, "usr-ok", "selfie", "s.jpg", "image/jpeg", JPEG);
    client.upload(
        &token,
        &id,
        "usr-ok",
        "identity-card-front",
        "f.png",
        "image/png",
        PNG,
    );
    assert_eq!(
        client.session(&token, &id)["status"],
        "IN_PROGRESS",
        "one document still missing"
    );
    client.upload(
        &token,
        &id,
        "usr-ok",
        "identity-card-back",
        "b.png",
        "image/png",
        PNG,
    );
    let processing = client.session(&token, &id);
    assert_eq!(processing["status"], "PROCESSING");
    assert!(
        processing["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["status"] == "PROCESSING")
    );
    // Further uploads are refused while processing.
    let reply = client.upload(&token, &id, "usr-ok", "selfie", "s.jpg", "image/jpeg", JPEG);
    assert_eq!(reply.status, 409);

    let hooks = receiver.wait_for(1);
    assert_eq!(hooks.len(), 1);
    assert_signed(&hooks[0], &server, endpoint);
    let payload = hooks[0].json();
    assert_eq!(payload["event_type"], "identity.session.status_changed");
    assert!(payload["event_id"].as_str().unwrap().starts_with("evt-"));
    assert!(payload["created_at"].is_string());
    assert_eq!(
        payload["data"],
        json!({"session_id": id, "user_id": "usr-ok", "status": "VALIDATED", "reason": null,
               "country": "ARG", "flow_type": "kyc-accounts"})
    );
    let session = client.session(&token, &id);
    assert_eq!(session["status"], "VALIDATED");
    assert!(
        session["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "SUCCESS")
    );

    let deliveries = server.wait_for_webhook_deliveries(1, WAIT);
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    assert_eq!(d.kind, WebhookKind::SessionStatus);
    assert!(d.delivered());
    assert_eq!(d.last_status(), Some(200));
    assert_eq!(d.session_id, id);
    assert_eq!(d.endpoint, endpoint);
    assert_eq!(d.body, hooks[0].body, "the log holds the exact bytes sent");
    assert_eq!(d.attempts.len(), 1);
}

#[test]
fn not_validated_marker_gives_document_mismatch() {
    let receiver = Receiver::start();
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .webhook_url(receiver.url("/hooks")),
    )
    .unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = client.create_session(&token, "ARG", "usr-not-validated-1");
    client.upload_all(&token, &id, "usr-not-validated-1");
    let session = client.session(&token, &id);
    assert_eq!(session["status"], "NOT_VALIDATED");
    assert_eq!(session["reason"], "DOCUMENT_MISMATCH");
    let steps = session["steps"].as_array().unwrap();
    let failed: Vec<_> = steps
        .iter()
        .filter(|s| s["status"] == "FAILED")
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(failed, [json!("selfie_document_match")]);
    let hook = &receiver.wait_for(1)[0];
    assert_signed(hook, &server, "/hooks");
    assert_eq!(hook.json()["data"]["status"], "NOT_VALIDATED");
    assert_eq!(hook.json()["data"]["reason"], "DOCUMENT_MISMATCH");
}

#[test]
fn the_default_outcome_is_configurable_and_changeable() {
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .default_outcome(Outcome::NotValidated {
                reason: "RISK_REJECTED".into(),
            }),
    )
    .unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = client.create_session(&token, "MEX", "usr-1");
    client.upload_all(&token, &id, "usr-1");
    let s = client.session(&token, &id);
    assert_eq!(
        (s["status"].as_str(), s["reason"].as_str()),
        (Some("NOT_VALIDATED"), Some("RISK_REJECTED"))
    );
    let failed: Vec<_> = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "FAILED")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["name"], "risk_validation");

    server.set_default_outcome(Outcome::Validated);
    let id = client.create_session(&token, "MEX", "usr-2");
    client.upload_all(&token, &id, "usr-2");
    assert_eq!(client.session(&token, &id)["status"], "VALIDATED");
    // Without a webhook URL nothing is delivered.
    assert!(server.webhook_deliveries().is_empty());
}

#[test]
fn needs_file_marker_asks_for_the_back_again_then_validates() {
    let receiver = Receiver::start();
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::from_millis(20))
            .webhook_url(receiver.url("/hooks/status"))
            .required_file_webhook_url(receiver.url("/hooks/required-file")),
    )
    .unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let user = "usr-needs-file-7";
    let id = client.create_session(&token, "ARG", user);
    client.upload_all(&token, &id, user);

    let hooks = receiver.wait_for(1);
    let required = &hooks[0];
    assert_signed(required, &server, "/hooks/required-file");
    let payload = required.json();
    assert_eq!(payload["event_type"], "identity.session.required_file");
    assert_eq!(payload["data"]["session_id"], id.as_str());
    assert_eq!(payload["data"]["entity_id"], user);
    assert_eq!(
        payload["data"]["required_documents"],
        json!(["identity-card-back"])
    );
    assert!(payload["data"]["reason"].is_string());
    let session = client.session(&token, &id);
    assert_eq!(session["status"], "IN_PROGRESS");
    assert!(
        session["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "ocr" && s["status"] == "PENDING")
    );

    // Another document does not restart processing; the requested one does.
    client.upload(&token, &id, user, "selfie", "s2.jpg", "image/jpeg", JPEG);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(client.session(&token, &id)["status"], "IN_PROGRESS");
    assert_eq!(receiver.received().len(), 1);
    client.upload(
        &token,
        &id,
        user,
        "identity-card-back",
        "b2.jpg",
        "image/jpeg",
        JPEG,
    );

    let hooks = receiver.wait_for(2);
    assert_eq!(hooks.len(), 2);
    assert_signed(&hooks[1], &server, "/hooks/status");
    assert_eq!(hooks[1].json()["data"]["status"], "VALIDATED");
    assert_eq!(client.session(&token, &id)["status"], "VALIDATED");
    let kinds: Vec<_> = server
        .wait_for_webhook_deliveries(2, WAIT)
        .iter()
        .map(|d| d.kind)
        .collect();
    assert_eq!(
        kinds,
        [WebhookKind::RequiredFile, WebhookKind::SessionStatus]
    );
}

#[test]
fn brazil_driver_licence_pair_completes_and_needs_file_asks_for_its_back() {
    let receiver = Receiver::start();
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .webhook_url(receiver.url("/h")),
    )
    .unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let user = "usr-bra-needs-file-not-validated";
    let id = client.create_session(&token, "BRA", user);
    for doc in ["selfie", "driver-license-front", "driver-license-back"] {
        assert_eq!(
            client
                .upload(&token, &id, user, doc, "x.jpg", "image/jpeg", JPEG)
                .status,
            201
        );
    }
    let first = &receiver.wait_for(1)[0];
    assert_eq!(
        first.json()["data"]["required_documents"],
        json!(["driver-license-back"])
    );
    client.upload(
        &token,
        &id,
        user,
        "driver-license-back",
        "x.jpg",
        "image/jpeg",
        JPEG,
    );
    // needs-file is consumed, then not-validated applies.
    let session = client.session(&token, &id);
    assert_eq!(session["status"], "NOT_VALIDATED");
    assert_eq!(
        receiver.wait_for(2)[1].json()["data"]["status"],
        "NOT_VALIDATED"
    );
}

#[test]
fn failed_deliveries_are_retried_a_bounded_number_of_times() {
    let receiver = Receiver::start();
    receiver.respond_with(&[500, 503]);
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .webhook_retry_delay(Duration::from_millis(10))
            .webhook_url(receiver.url("/retry")),
    )
    .unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = client.create_session(&token, "ARG", "usr-r");
    client.upload_all(&token, &id, "usr-r");
    let hooks = receiver.wait_for(3);
    for hook in &hooks {
        assert_signed(hook, &server, "/retry");
        assert_eq!(hook.body, hooks[0].body, "the same notification each time");
    }
    let deliveries = server.wait_for_webhook_deliveries(1, WAIT);
    let statuses: Vec<_> = deliveries[0].attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(200)]);
    assert!(deliveries[0].delivered());

    // Always failing: gives up after max attempts.
    receiver.respond_with(&[500, 500, 500, 500]);
    let id = client.create_session(&token, "ARG", "usr-r2");
    client.upload_all(&token, &id, "usr-r2");
    let deliveries = server.wait_for_webhook_deliveries(2, WAIT);
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[1].attempts.len(), 3);
    assert!(!deliveries[1].delivered());
    assert_eq!(deliveries[1].last_status(), Some(500));
    assert_eq!(receiver.received().len(), 6);
}

#[test]
fn an_unreachable_receiver_is_recorded_as_failed() {
    // Bind then free a port, so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .webhook_max_attempts(2)
            .webhook_retry_delay(Duration::from_millis(5))
            .webhook_url(format!("http://127.0.0.1:{port}/gone")),
    )
    .unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = client.create_session(&token, "ARG", "usr-u");
    client.upload_all(&token, &id, "usr-u");
    let deliveries = server.wait_for_webhook_deliveries(1, WAIT);
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].attempts.len(), 2);
    assert!(
        deliveries[0]
            .attempts
            .iter()
            .all(|a| a.status.is_none() && a.error.is_some())
    );
    assert!(!deliveries[0].delivered());
}

#[test]
fn sessions_expire_with_the_clock() {
    let server = MockServer::start(
        MockConfig::new()
            .session_lifetime(Duration::from_secs(3600))
            .processing_delay(Duration::from_secs(30)),
    )
    .unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = client.create_session(&token, "ARG", "usr-x");
    let processing = client.create_session(&token, "ARG", "usr-p");
    client.upload_all(&token, &processing, "usr-p");
    client.upload(&token, &id, "usr-x", "selfie", "s.jpg", "image/jpeg", JPEG);
    server.advance_clock(Duration::from_secs(3599));
    assert_eq!(client.session(&token, &id)["status"], "IN_PROGRESS");
    server.advance_clock(Duration::from_secs(2));
    let s = client.session(&token, &id);
    assert_eq!(s["status"], "EXPIRED");
    assert_eq!(s["updated_at"], s["expiration_at"]);
    let reply = client.upload(
        &token,
        &id,
        "usr-x",
        "identity-card-front",
        "f.jpg",
        "image/jpeg",
        JPEG,
    );
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (409, "invalid_state")
    );
    assert_eq!(
        client
            .delete(&format!("/identity/v1/sessions/{id}"), &token)
            .status,
        409
    );
    let found = client
        .get("/identity/v1/sessions?filter[status]=EXPIRED", &token)
        .json();
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    // A session whose documents are all in is not expired while processing.
    assert_eq!(client.session(&token, &processing)["status"], "PROCESSING");
}

#[test]
fn webhook_timestamps_follow_the_simulated_clock() {
    let receiver = Receiver::start();
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .token_lifetime(Duration::from_secs(864_000))
            .webhook_url(receiver.url("/t")),
    )
    .unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    server.advance_clock(Duration::from_secs(7 * 86_400));
    let id = client.create_session(&token, "ARG", "usr-t");
    client.upload_all(&token, &id, "usr-t");
    let hook = &receiver.wait_for(1)[0];
    assert_signed(hook, &server, "/t");
    let real_now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ts: u64 = hook.header("x-timestamp").unwrap().parse().unwrap();
    assert!(ts >= real_now + 7 * 86_400 - 5);
}

#[test]
fn custom_webhook_credentials_are_used() {
    let receiver = Receiver::start();
    let secret = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ==";
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .webhook_api_key("key-1")
            .webhook_secret(secret)
            .webhook_url(receiver.url("/c")),
    )
    .unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = client.create_session(&token, "ARG", "usr-k");
    client.upload_all(&token, &id, "usr-k");
    let hook = &receiver.wait_for(1)[0];
    assert_eq!(hook.header("x-api-key"), Some("key-1"));
    let ts = hook.header("x-timestamp").unwrap();
    assert_eq!(
        hook.header("x-signature").unwrap(),
        expected_signature(secret, ts, "/c", &hook.body)
    );
    assert_ne!(
        hook.header("x-signature").unwrap(),
        expected_signature(DEFAULT_WEBHOOK_SECRET, ts, "/c", &hook.body)
    );
}

#[test]
fn unusable_settings_are_refused_at_start() {
    let cases = [
        MockConfig::new().webhook_url("http://192.0.2.1/hooks"),
        MockConfig::new().webhook_url("https://127.0.0.1/hooks"),
        MockConfig::new().webhook_url("not a url"),
        MockConfig::new().required_file_webhook_url("http://example.com/x"),
        MockConfig::new().webhook_secret("not base64!"),
        MockConfig::new().bind_addr("0.0.0.0:0".parse().unwrap()),
        MockConfig::new().max_connections(0),
    ];
    for config in cases {
        let debug = format!("{config:?}");
        assert!(
            !debug.contains(DEFAULT_WEBHOOK_SECRET),
            "secrets are redacted in Debug"
        );
        match MockServer::start(config) {
            Err(StartError::InvalidConfig { .. }) => {}
            other => panic!("{debug}: expected InvalidConfig, got {other:?}"),
        }
    }
    let ok = MockServer::start(MockConfig::new().webhook_url("http://localhost:1/x")).unwrap();
    assert!(ok.base_url().starts_with("http://127.0.0.1:"));
    ok.shutdown();
}

#[test]
fn a_bad_webhook_secret_is_refused_without_echoing_any_part_of_it() {
    let secret = "c2VjcmV0LXNlY3JldA#Q";
    let err = MockServer::start(MockConfig::new().webhook_secret(secret)).unwrap_err();
    let shown = format!("{err} {err:?}");
    // base64's own message would name the bad symbol (35, '#') and its offset (18).
    match &err {
        StartError::InvalidConfig { setting, reason } => {
            assert_eq!(
                (*setting, reason.as_str()),
                ("webhook_secret", "not standard padded base64")
            );
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    assert!(
        !shown.contains("35") && !shown.contains('#') && !shown.contains("c2Vj"),
        "{shown}"
    );
}
