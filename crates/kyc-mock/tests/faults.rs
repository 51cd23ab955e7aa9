//! Fault injection, observed from the client side.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests: panics are failures

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Client, session_body};
use kyc_mock::{Fault, MockConfig, MockServer, Route};

fn setup() -> (MockServer, Client, String) {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    (server, client, token)
}

/// Sends raw bytes on a fresh connection and reads until the server closes it (at most 5 s).
fn raw_exchange(server: &MockServer, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    out
}

fn get_request(path: &str, token: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n")
        .into_bytes()
}

#[test]
fn status_faults_answer_json_errors_for_the_next_n_requests_then_stop() {
    let (server, client, token) = setup();
    server.inject_fault(Route::CreateSession, Fault::status(503), 2);
    assert_eq!(server.pending_faults(), 2);
    for _ in 0..2 {
        let reply = client.post_json(
            "/identity/v2/sessions",
            Some(&token),
            &session_body("ARG", "usr-f"),
        );
        assert_eq!(reply.status, 503);
        assert_eq!(reply.error_code(), "injected_fault");
    }
    // Other routes were not affected, and the third create goes through.
    assert_eq!(client.get("/identity/v1/sessions", &token).status, 200);
    let reply = client.post_json(
        "/identity/v2/sessions",
        Some(&token),
        &session_body("ARG", "usr-f"),
    );
    assert_eq!(reply.status, 201);
    assert_eq!(
        server.session_count(),
        1,
        "faulted requests created nothing"
    );
    assert_eq!(server.pending_faults(), 0);
    let creates = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/identity/v2/sessions")
        .count();
    assert_eq!(creates, 3, "faulted requests are recorded too");
}

#[test]
fn too_many_requests_carries_retry_after() {
    let (server, client, token) = setup();
    server.inject_fault(Route::SearchSessions, Fault::too_many_requests(2), 1);
    let reply = client.get("/identity/v1/sessions", &token);
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("2"));
    assert_eq!(reply.error_code(), "injected_fault");
    server.inject_fault(
        Route::Token,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        1,
    );
    let reply = client.token_reply(&server);
    assert_eq!(reply.status, 500);
    assert!(reply.header("retry-after").is_none());
}

#[test]
fn delay_waits_then_answers_normally() {
    let (server, client, token) = setup();
    server.inject_fault(
        Route::GetSession,
        Fault::Delay(Duration::from_millis(300)),
        1,
    );
    let id = client.create_session(&token, "ARG", "usr-d");
    let start = Instant::now();
    let reply = client.get(&format!("/identity/v1/sessions/{id}"), &token);
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["data"]["id"], id.as_str());
    let start = Instant::now();
    client.get(&format!("/identity/v1/sessions/{id}"), &token);
    assert!(start.elapsed() < Duration::from_millis(300));
}

#[test]
fn dropped_connection_writes_no_response() {
    let (server, client, token) = setup();
    server.inject_fault(Route::SearchSessions, Fault::DropConnection, 1);
    let got = raw_exchange(&server, &get_request("/identity/v1/sessions", &token));
    assert!(
        got.is_empty(),
        "expected no bytes, got {:?}",
        String::from_utf8_lossy(&got)
    );

    server.inject_fault(Route::SearchSessions, Fault::DropConnection, 1);
    let err = client.try_send(
        "GET",
        "/identity/v1/sessions",
        &[("authorization", &format!("Bearer {token}"))],
        None,
    );
    assert!(err.is_err(), "the client sees a transport error: {err:?}");
    // The server carries on.
    assert_eq!(client.get("/identity/v1/sessions", &token).status, 200);
    let searches = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/identity/v1/sessions")
        .count();
    assert_eq!(searches, 3);
}

#[test]
fn truncated_body_promises_more_than_it_sends() {
    let (server, client, token) = setup();
    server.inject_fault(Route::GetSession, Fault::TruncatedBody, 1);
    let got = raw_exchange(
        &server,
        &get_request("/identity/v1/sessions/iss-any", &token),
    );
    let text = String::from_utf8_lossy(&got).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let declared: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("content-length");
    assert!(!body.is_empty(), "some of the body is sent");
    assert!(
        declared > body.len(),
        "declared {declared}, got {}",
        body.len()
    );

    server.inject_fault(Route::GetSession, Fault::TruncatedBody, 1);
    let result = client.try_send(
        "GET",
        "/identity/v1/sessions/iss-any",
        &[("authorization", &format!("Bearer {token}"))],
        None,
    );
    assert!(
        result.is_err(),
        "the client fails reading the body: {result:?}"
    );
}

#[test]
fn non_json_and_html_bodies() {
    let (server, client, token) = setup();
    server.inject_fault(Route::CreateSession, Fault::NonJsonBody { status: 200 }, 1);
    server.inject_fault(
        Route::CreateSession,
        Fault::HtmlErrorPage { status: 502 },
        1,
    );
    let reply = client.post_json(
        "/identity/v2/sessions",
        Some(&token),
        &session_body("ARG", "usr-h"),
    );
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&reply.body).is_err());
    let reply = client.post_json(
        "/identity/v2/sessions",
        Some(&token),
        &session_body("ARG", "usr-h"),
    );
    assert_eq!(reply.status, 502);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        String::from_utf8(reply.body.clone())
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );
    assert_eq!(server.session_count(), 0);
}

#[test]
fn any_route_faults_and_fifo_order() {
    let (server, client, token) = setup();
    server.inject_fault(Route::Any, Fault::status(500), 1);
    server.inject_fault(Route::GetSession, Fault::status(503), 1);
    server.inject_fault(Route::Any, Fault::status(502), 1);
    // The first matching fault is used: 500 for the token call (even an unknown route would take it).
    assert_eq!(client.token_reply(&server).status, 500);
    assert_eq!(
        client.get("/identity/v1/sessions/iss-x", &token).status,
        503
    );
    assert_eq!(client.send("GET", "/nowhere", &[], None).status, 502);
    assert_eq!(
        client.get("/identity/v1/sessions/iss-x", &token).status,
        404
    );

    server.inject_fault(Route::Any, Fault::status(500), 5);
    assert_eq!(server.pending_faults(), 5);
    server.clear_faults();
    assert_eq!(server.pending_faults(), 0);
    assert_eq!(client.get("/identity/v1/sessions", &token).status, 200);
}

#[test]
fn faults_apply_to_every_route() {
    let (server, client, token) = setup();
    let id = client.create_session(&token, "ARG", "usr-all");
    let auth = format!("Bearer {token}");
    let json_h = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let cases: Vec<(Route, &str, String)> = vec![
        (Route::Token, "POST", "/oauth/token".into()),
        (Route::Revoke, "POST", "/oauth/token/revoke".into()),
        (Route::CreateSession, "POST", "/identity/v2/sessions".into()),
        (
            Route::UploadFile,
            "POST",
            format!("/identity/v1/sessions/{id}/entities/usr-all/files/selfie"),
        ),
        (
            Route::GetSession,
            "GET",
            format!("/identity/v1/sessions/{id}"),
        ),
        (
            Route::CancelSession,
            "DELETE",
            format!("/identity/v1/sessions/{id}"),
        ),
        (
            Route::SessionReport,
            "GET",
            format!("/identity/v1/sessions/{id}/report"),
        ),
        (Route::SearchSessions, "GET", "/identity/v1/sessions".into()),
        (Route::CleanValidations, "POST", "/clean_validations".into()),
    ];
    for (route, method, path) in cases {
        server.inject_fault(route, Fault::status(418), 1);
        let body = if method == "POST" {
            Some(&b"{}"[..])
        } else {
            None
        };
        let reply = client.send(method, &path, &json_h, body);
        assert_eq!(reply.status, 418, "{route:?}");
        assert_eq!(server.pending_faults(), 0, "{route:?}");
    }
    assert_eq!(
        client.session(&token, &id)["status"],
        "IN_PROGRESS",
        "the faulted cancel did nothing"
    );
}

#[test]
fn a_lost_response_was_applied_and_its_keyed_retry_is_a_replay() {
    let (server, client, token) = setup();
    server.inject_fault(Route::CreateSession, Fault::LoseResponse, 1);
    let body = session_body("ARG", "usr-lost").to_string();
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("x-idempotency-key", "key-lost-1"),
    ];
    let lost = client.try_send(
        "POST",
        "/identity/v2/sessions",
        &headers,
        Some(body.as_bytes()),
    );
    assert!(lost.is_err(), "no answer: {lost:?}");
    assert_eq!(server.session_count(), 1, "but the session was created");
    let retry = client.send(
        "POST",
        "/identity/v2/sessions",
        &headers,
        Some(body.as_bytes()),
    );
    assert_eq!(retry.status, 201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(server.session_count(), 1);
    let stats = server.stats();
    assert_eq!(
        (
            stats.creates_applied,
            stats.idempotent_replays,
            stats.faults
        ),
        (1, 1, 1)
    );
    assert_eq!(stats.tokens_issued, 1);
    assert_eq!(stats.requests, 3);
}

#[test]
fn random_faults_come_from_their_mix_and_are_counted() {
    let server = MockServer::start(
        MockConfig::new().random_faults(1.0, vec![Fault::status(503), Fault::TruncatedBody]),
    )
    .unwrap();
    let client = Client::new(&server);
    let mut statuses = std::collections::HashSet::new();
    for _ in 0..40 {
        // The token request is faulted too: every answer is one of the two faults.
        match client.try_send("POST", "/oauth/token", &[], Some(b"{}")) {
            Ok(reply) => {
                statuses.insert(reply.status);
            }
            Err(_) => {
                statuses.insert(0);
            }
        }
    }
    // 503, and the truncated 200 that the client cannot read whole.
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [503, 0, 200].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(server.stats().faults, 40);
    assert_eq!(server.stats().tokens_issued, 0);

    // A rate of zero never faults.
    let calm =
        MockServer::start(MockConfig::new().random_faults(0.0, Fault::typical_mix())).unwrap();
    let client = Client::new(&calm);
    for _ in 0..20 {
        assert_eq!(client.token_reply(&calm).status, 200);
    }
    assert_eq!(calm.stats().faults, 0);
}
