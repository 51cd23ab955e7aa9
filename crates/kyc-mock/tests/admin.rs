//! The admin API and the console over real HTTP (issue #17): who may call them (loopback Host,
//! the admin token, POST with the token in a header), and what they do (sessions with their
//! timeline and previews, decisions by hand with their webhooks, faults, the clock, resends).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests: panics are failures

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Client, Receiver, admin_get, admin_post};
use kyc_mock::{AdminError, Decision, MockConfig, MockServer, Outcome};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

/// A raw request with any `Host`; the status code of the answer.
fn raw_status(server: &MockServer, request: &str) -> u16 {
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn manual_server(receiver: &Receiver) -> MockServer {
    MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .default_outcome(Outcome::Manual)
            .webhook_url(receiver.url("/status"))
            .required_file_webhook_url(receiver.url("/required")),
    )
    .unwrap()
}

#[test]
fn only_loopback_hosts_with_the_token_get_in_and_changes_need_a_post_with_the_header() {
    let server = common::instant_server();
    let token = server.admin_token().to_owned();
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(
        server
            .console_url()
            .ends_with(&format!("/_console/?token={token}"))
    );
    let client = Client::new(&server);

    // The page with the token in the query, and its assets.
    let page = client
        .try_send("GET", &format!("/_console/?token={token}"), &[], None)
        .unwrap();
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(html.contains(&format!("app.js?token={token}")));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "offline: nothing external"
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    for asset in ["app.js", "style.css"] {
        let reply = client
            .try_send(
                "GET",
                &format!("/_console/{asset}?token={token}"),
                &[],
                None,
            )
            .unwrap();
        assert_eq!(reply.status, 200, "{asset}");
        let text = String::from_utf8(reply.body).unwrap();
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{asset}"
        );
    }

    // No token, a wrong one, a query token on a POST.
    let before = server.now();
    assert_eq!(
        client
            .try_send("GET", "/_console/", &[], None)
            .unwrap()
            .status,
        401
    );
    let wrong = "x".repeat(32);
    assert_eq!(
        client
            .try_send(
                "GET",
                "/_admin/sessions",
                &[("x-admin-token", &wrong)],
                None
            )
            .unwrap()
            .status,
        401
    );
    let body = json!({"advance_seconds": 60}).to_string();
    let by_query = client
        .try_send(
            "POST",
            &format!("/_admin/clock?token={token}"),
            &[("content-type", "application/json")],
            Some(body.as_bytes()),
        )
        .unwrap();
    assert_eq!(
        by_query.status, 401,
        "a query token does not authorise a POST"
    );
    let as_form = client
        .try_send(
            "POST",
            "/_admin/clock",
            &[
                ("x-admin-token", &token),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(b"advance_seconds=60"),
        )
        .unwrap();
    assert_eq!(as_form.status, 415);
    assert!(
        server.now() < before + Duration::from_secs(30),
        "nothing moved the clock"
    );

    // A DNS-rebinding page reaches the port under another name: refused even with the token.
    for host in [
        "evil.example",
        "evil.example:80",
        "127.0.0.1.nip.io",
        "localhost.evil",
    ] {
        let request = format!(
            "GET /_admin/sessions HTTP/1.1\r\nHost: {host}\r\nx-admin-token: {token}\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(raw_status(&server, &request), 403, "{host}");
    }
    for host in [
        "localhost",
        format!("127.0.0.1:{}", server.local_addr().port()).as_str(),
    ] {
        let request = format!(
            "GET /_admin/sessions HTTP/1.1\r\nHost: {host}\r\nx-admin-token: {token}\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(raw_status(&server, &request), 200, "{host}");
    }
    // The admin API stays out of the request log and the statistics.
    assert!(server.requests().is_empty());
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn a_rejection_by_hand_finishes_the_session_and_sends_its_webhook() {
    let receiver = Receiver::start();
    let server = manual_server(&receiver);
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = client.create_session(&token, "ARG", "usr-console-1");
    client.upload_all(&token, &id, "usr-console-1");
    // Manual: processing is done, and the session waits.
    assert_eq!(client.session(&token, &id)["status"], "PROCESSING");

    let list = admin_get(&client, &server, "/_admin/sessions").json();
    assert_eq!(list["data"][0]["id"], id.as_str());
    assert_eq!(list["data"][0]["status"], "PROCESSING");
    assert_eq!(list["data"][0]["kind"], "kyc");
    let detail =
        admin_get(&client, &server, &format!("/_admin/sessions/{id}")).json()["data"].clone();
    let timeline: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert!(
        timeline[0].starts_with("POST /identity/v2/sessions → 201"),
        "{timeline:?}"
    );
    assert!(
        timeline.iter().any(|t| t.contains("/files/selfie → 201")),
        "{timeline:?}"
    );
    let waiting = timeline
        .iter()
        .position(|t| t.contains("waiting for a decision"));
    let last_upload = timeline.iter().rposition(|t| t.contains("/files/"));
    assert!(waiting > last_upload, "{timeline:?}");
    // Each image has a preview, served as it was uploaded.
    let file = &detail["files"][0];
    assert_eq!(file["preview"], true);
    let preview = admin_get(
        &client,
        &server,
        &format!(
            "/_admin/sessions/{id}/files/{}",
            file["id"].as_str().unwrap()
        ),
    );
    assert_eq!(preview.status, 200);
    assert_eq!(preview.body, common::JPEG);

    let bad = admin_post(
        &client,
        &server,
        &format!("/_admin/sessions/{id}/outcome"),
        &json!({"outcome": "maybe"}),
    );
    assert_eq!(bad.status, 400);
    let decided = admin_post(
        &client,
        &server,
        &format!("/_admin/sessions/{id}/outcome"),
        &json!({"outcome": "not_validated", "reason": "FACE_MISMATCH"}),
    );
    assert_eq!(
        decided.status,
        200,
        "{}",
        String::from_utf8_lossy(&decided.body)
    );
    assert_eq!(decided.json()["data"]["status"], "NOT_VALIDATED");
    let session = client.session(&token, &id);
    assert_eq!(session["status"], "NOT_VALIDATED");
    assert_eq!(session["reason"], "FACE_MISMATCH");
    let hooks = receiver.wait_for(1);
    assert_eq!(hooks[0].json()["data"]["status"], "NOT_VALIDATED");
    assert_eq!(hooks[0].json()["data"]["reason"], "FACE_MISMATCH");
    // Final: nothing left to decide.
    let again = admin_post(
        &client,
        &server,
        &format!("/_admin/sessions/{id}/outcome"),
        &json!({"outcome": "validated"}),
    );
    assert_eq!(again.status, 409);

    // The delivery is listed with its headers and can be sent again.
    let deliveries = server.wait_for_webhook_deliveries(1, WAIT);
    let event = deliveries[0].event_id.clone();
    let listed = admin_get(&client, &server, "/_admin/webhooks").json();
    assert_eq!(listed["data"][0]["event_id"], event.as_str());
    assert_eq!(listed["data"][0]["delivered"], true);
    assert!(listed["data"][0]["attempts"][0]["headers"]["x-signature"].is_string());
    let resent = admin_post(
        &client,
        &server,
        &format!("/_admin/webhooks/{event}/resend"),
        &json!({}),
    );
    assert_eq!(resent.status, 202);
    let hooks = receiver.wait_for(2);
    assert_eq!(hooks[1].json()["event_id"], event.as_str());
    assert_eq!(hooks[1].body, hooks[0].body);
    assert_eq!(
        admin_post(
            &client,
            &server,
            "/_admin/webhooks/evt-none/resend",
            &json!({})
        )
        .status,
        404
    );
}

#[test]
fn requiring_files_by_hand_asks_for_them_and_their_upload_restarts_processing() {
    let receiver = Receiver::start();
    let server = manual_server(&receiver);
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = client.create_session(&token, "ARG", "usr-console-2");
    client.upload_all(&token, &id, "usr-console-2");
    server
        .decide(
            &id,
            Decision::RequireFiles {
                documents: vec!["identity-card-front".into(), "identity-card-back".into()],
                reason: "GLARE".into(),
            },
        )
        .unwrap();
    let hooks = receiver.wait_for(1);
    let required = hooks[0].json();
    assert_eq!(required["event_type"], "identity.session.required_file");
    assert_eq!(
        required["data"]["required_documents"],
        json!(["identity-card-front", "identity-card-back"])
    );
    assert_eq!(client.session(&token, &id)["status"], "IN_PROGRESS");
    for doc in ["identity-card-front", "identity-card-back"] {
        let r = client.upload(
            &token,
            &id,
            "usr-console-2",
            doc,
            "d.jpg",
            "image/jpeg",
            common::JPEG,
        );
        assert_eq!(r.status, 201);
    }
    assert_eq!(client.session(&token, &id)["status"], "PROCESSING");
    server.decide(&id, Decision::Validated).unwrap();
    assert_eq!(client.session(&token, &id)["status"], "VALIDATED");
    assert!(matches!(
        server.decide(&id, Decision::Validated),
        Err(AdminError::Refused(_))
    ));
    assert!(matches!(
        server.decide("iss-none", Decision::Validated),
        Err(AdminError::NotFound(_))
    ));
    assert!(matches!(
        server.decide(
            &id,
            Decision::RequireFiles {
                documents: vec![],
                reason: "x".into()
            }
        ),
        Err(AdminError::Refused(_))
    ));
}

#[test]
fn faults_and_the_clock_from_the_admin_api() {
    let server = common::instant_server();
    let client = Client::new(&server);
    let queued = admin_post(
        &client,
        &server,
        "/_admin/faults",
        &json!({"route": "token", "kind": "status", "status": 503, "retry_after": 1, "times": 2}),
    );
    assert_eq!(queued.status, 200);
    assert_eq!(queued.json()["data"]["pending"], 2);
    assert_eq!(server.pending_faults(), 2);
    assert_eq!(client.token_reply(&server).status, 503);
    assert_eq!(client.token_reply(&server).header("retry-after"), Some("1"));
    assert_eq!(client.token_reply(&server).status, 200);
    for bad in [
        json!({"route": "nowhere", "kind": "status", "status": 503}),
        json!({"route": "token", "kind": "status", "status": 42}),
        json!({"route": "token", "kind": "explode"}),
        json!({"route": "token", "kind": "drop_connection", "times": 0}),
    ] {
        assert_eq!(
            admin_post(&client, &server, "/_admin/faults", &bad).status,
            400,
            "{bad}"
        );
    }
    admin_post(
        &client,
        &server,
        "/_admin/faults",
        &json!({"route": "any", "kind": "drop_connection", "times": 3}),
    );
    let trickle =
        json!({"route": "get_session", "kind": "trickle", "head_after_ms": 10, "body_over_ms": 10});
    let queued = admin_post(&client, &server, "/_admin/faults", &trickle);
    assert_eq!(queued.json()["data"]["pending"], 4);
    assert_eq!(
        admin_post(&client, &server, "/_admin/faults/clear", &json!({})).json()["data"]["pending"],
        0
    );

    let before = server.now();
    let moved = admin_post(
        &client,
        &server,
        "/_admin/clock",
        &json!({"advance_seconds": 86_400}),
    );
    assert_eq!(moved.status, 200);
    assert!(server.now() >= before + Duration::from_secs(86_400));
    assert_eq!(
        admin_post(
            &client,
            &server,
            "/_admin/clock",
            &json!({"advance_seconds": -1})
        )
        .status,
        400
    );
}

#[test]
fn decisions_previews_and_lists_stay_consistent() {
    let receiver = Receiver::start();
    let server = manual_server(&receiver);
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = client.create_session(&token, "ARG", "usr-console-4");
    client.upload_all(&token, &id, "usr-console-4");
    // A document the session cannot take would leave it waiting for ever: refused.
    let other = client.create_session(&token, "ARG", "usr-console-5");
    let refused = server.decide(
        &other,
        Decision::RequireFiles {
            documents: vec!["driver-license-back".into()],
            reason: "x".into(),
        },
    );
    assert!(
        matches!(refused, Err(AdminError::Refused(_))),
        "{refused:?}"
    );
    // Asked for files, then decided: nothing is awaited any more.
    let selfie = Decision::RequireFiles {
        documents: vec!["selfie".into()],
        reason: "x".into(),
    };
    server.decide(&other, selfie).unwrap();
    let fraud = Decision::NotValidated {
        reason: "FRAUD".into(),
    };
    server.decide(&other, fraud).unwrap();
    let detail = admin_get(&client, &server, &format!("/_admin/sessions/{other}")).json();
    assert_eq!(detail["data"]["required_again"], json!([]));
    // A preview is served only under its own session.
    let detail = admin_get(&client, &server, &format!("/_admin/sessions/{id}")).json();
    let file = detail["data"]["files"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let elsewhere = format!("/_admin/sessions/{other}/files/{file}");
    assert_eq!(admin_get(&client, &server, &elsewhere).status, 404);
    let own = format!("/_admin/sessions/{id}/files/{file}");
    assert_eq!(admin_get(&client, &server, &own).status, 200);
    // The list takes a limit, newest first.
    let one = admin_get(&client, &server, "/_admin/sessions?limit=1").json();
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(one["data"][0]["id"], other.as_str());
    assert_eq!(
        admin_get(&client, &server, "/_admin/sessions?limit=0").status,
        400
    );
}

#[test]
fn the_clock_stops_at_year_9999_and_every_route_still_answers() {
    let server = common::instant_server();
    let client = Client::new(&server);
    let decade = json!({"advance_seconds": 315_360_000});
    let mut refused = false;
    for _ in 0..1_000 {
        if admin_post(&client, &server, "/_admin/clock", &decade).status == 400 {
            refused = true;
            break;
        }
    }
    assert!(refused, "the clock said when it could go no further");
    let secs = server
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // 9999-01-01T00:00:00Z is 253,370,764,800 s after the epoch.
    assert!(secs >= 253_370_764_800, "{secs}");
    let reply = client.token_reply(&server);
    assert_eq!(reply.status, 200);
    assert!(reply.header("date").unwrap().contains("9999"));
}
