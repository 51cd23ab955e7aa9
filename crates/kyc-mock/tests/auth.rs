//! OAuth token, revoke and the bearer check, over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests: panics are failures

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Client, token_body};
use kyc_mock::{MockConfig, MockServer};
use serde_json::{Value, json};

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn token_is_a_jwt_with_the_expected_claims_and_is_reused_until_it_expires() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let reply = client.token_reply(&server);
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = reply.json();
    assert!(
        body.get("data").is_none(),
        "token answers are not wrapped in data"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_400);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3);
    let header = jwt_part(token, 0);
    assert_eq!(header["typ"], "JWT");
    let claims = jwt_part(token, 1);
    assert_eq!(claims["aud"], server.audience());
    assert!(
        claims["iss"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert!(claims["scope"].is_string());
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        86_400
    );

    let again = client.token(&server);
    assert_eq!(
        again, token,
        "Pomelo returns the same token until it expires"
    );
}

#[test]
fn wrong_credentials_are_401_and_wrong_audience_or_grant_400() {
    let server = MockServer::start(
        MockConfig::new()
            .client_id("cid")
            .client_secret("csecret")
            .audience("aud-x"),
    )
    .unwrap();
    assert_eq!(
        (
            server.client_id(),
            server.client_secret(),
            server.audience()
        ),
        ("cid", "csecret", "aud-x")
    );
    let client = Client::new(&server);
    assert_eq!(client.token_reply(&server).status, 200);

    let cases = [
        ("client_secret", json!("nope"), 401, "invalid_client"),
        ("client_id", json!("other"), 401, "invalid_client"),
        // Every environment's audience is accepted (issue #12); others are not.
        (
            "audience",
            json!("https://auth.example.com"),
            400,
            "invalid_audience",
        ),
        (
            "grant_type",
            json!("password"),
            400,
            "unsupported_grant_type",
        ),
        ("grant_type", json!(7), 400, "invalid_body"),
    ];
    for (field, value, status, code) in cases {
        let mut body = token_body(&server);
        body[field] = value;
        let reply = client.post_json("/oauth/token", None, &body);
        assert_eq!(reply.status, status, "{field}");
        assert_eq!(reply.error_code(), code, "{field}");
    }

    let mut missing = token_body(&server);
    missing.as_object_mut().unwrap().remove("audience");
    let reply = client.post_json("/oauth/token", None, &missing);
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (400, "invalid_body")
    );

    let reply = client.send(
        "POST",
        "/oauth/token",
        &[("content-type", "text/plain")],
        Some(token_body(&server).to_string().as_bytes()),
    );
    assert_eq!(reply.status, 415);
}

#[test]
fn identity_calls_need_a_valid_bearer_token() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let path = "/identity/v1/sessions";
    assert_eq!(client.get(path, &token).status, 200);

    let bad_headers: [&[(&str, &str)]; 5] = [
        &[],
        &[("authorization", "Bearer")],
        &[("authorization", "Basic a2V5OnNlY3JldA==")],
        &[("authorization", "Bearer garbage.garbage.garbage")],
        &[("authorization", "Bearer \u{1}")],
    ];
    let mut checked = 0;
    for headers in bad_headers {
        let reply = client.try_send("GET", path, headers, None);
        let Ok(reply) = reply else { continue }; // a header value the client itself refuses
        assert_eq!(reply.status, 401, "{headers:?}");
        assert_eq!(reply.error_code(), "unauthorized");
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} cases reached the server");
    // Every identity route checks it, including ones with a body.
    let reply = client.post_json(
        "/identity/v2/sessions",
        None,
        &common::session_body("ARG", "usr-1"),
    );
    assert_eq!(reply.status, 401);
    let reply = client.post_json(
        "/clean_validations",
        Some("nope"),
        &json!({"user_id": "usr-1"}),
    );
    assert_eq!(reply.status, 401);
}

#[test]
fn tokens_expire_with_a_short_lifetime() {
    let server =
        MockServer::start(MockConfig::new().token_lifetime(Duration::from_secs(1))).unwrap();
    let client = Client::new(&server);
    let reply = client.token_reply(&server);
    assert_eq!(reply.json()["expires_in"], 1);
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(client.get("/identity/v1/sessions", &token).status, 200);
    std::thread::sleep(Duration::from_millis(1_100));
    let reply = client.get("/identity/v1/sessions", &token);
    assert_eq!(reply.status, 401);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let fresh = client.token(&server);
    assert_ne!(fresh, token, "a new token after expiry");
    assert_eq!(client.get("/identity/v1/sessions", &fresh).status, 200);
}

#[test]
fn tokens_expire_when_the_clock_is_advanced() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    server.advance_clock(Duration::from_secs(86_399));
    assert_eq!(client.get("/identity/v1/sessions", &token).status, 200);
    assert_eq!(client.token(&server), token);
    server.advance_clock(Duration::from_secs(2));
    assert_eq!(client.get("/identity/v1/sessions", &token).status, 401);
    assert_ne!(client.token(&server), token);
}

#[test]
fn revoke_invalidates_the_token_and_the_next_request_gets_a_new_one() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);

    let mut wrong = token_body(&server);
    wrong["client_secret"] = json!("wrong");
    assert_eq!(
        client.post_json("/oauth/token/revoke", None, &wrong).status,
        401
    );
    assert_eq!(client.get("/identity/v1/sessions", &token).status, 200);

    let reply = client.post_json("/oauth/token/revoke", None, &token_body(&server));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({}));
    let reply = client.get("/identity/v1/sessions", &token);
    assert_eq!(reply.status, 401);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    let fresh = client.token(&server);
    assert_ne!(fresh, token);
    assert_eq!(client.get("/identity/v1/sessions", &fresh).status, 200);
}

#[test]
fn every_environments_audience_is_accepted_unless_the_audience_is_strict() {
    for (strict, status) in [(false, 200), (true, 400)] {
        let server = MockServer::start(
            MockConfig::new()
                .audience("aud-own")
                .strict_audience(strict),
        )
        .unwrap();
        let client = Client::new(&server);
        for audience in kyc_mock::KNOWN_AUDIENCES {
            let mut body = token_body(&server);
            body["audience"] = json!(audience);
            let reply = client.post_json("/oauth/token", None, &body);
            assert_eq!(reply.status, status, "{audience}, strict {strict}");
        }
        assert_eq!(client.token_reply(&server).status, 200, "its own audience");
    }
}
