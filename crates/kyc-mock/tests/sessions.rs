//! Create, get, cancel, report and clean_validations, with idempotency, over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests: panics are failures

mod common;

use std::time::Duration;

use common::{Client, JPEG, instant_server, session_body};
use kyc_mock::{MockConfig, MockServer};
use serde_json::json;

fn is_session_id(id: &str) -> bool {
    id.len() == 31 && id.starts_with("iss-") && id[4..].bytes().all(|b| b.is_ascii_alphanumeric())
}

#[test]
fn create_returns_201_with_id_dates_and_url() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let reply = client.post_json(
        "/identity/v2/sessions",
        Some(&token),
        &session_body("ARG", "usr-1"),
    );
    assert_eq!(reply.status, 201);
    let data = &reply.json()["data"];
    assert_eq!(data.as_object().unwrap().len(), 4, "{data}");
    assert!(is_session_id(data["id"].as_str().unwrap()), "{data}");
    let created = data["created_at"].as_str().unwrap();
    let expires = data["expiration_at"].as_str().unwrap();
    assert_eq!(created.len(), 20, "RFC 3339 with Z: {created}");
    assert!(created.ends_with('Z') && expires.ends_with('Z'));
    // 24 h later: same time of day, next date.
    assert_eq!(created[11..], expires[11..]);
    assert_ne!(created[..10], expires[..10]);
    assert!(
        data["url"]
            .as_str()
            .unwrap()
            .contains(data["id"].as_str().unwrap())
    );
}

#[test]
fn create_refuses_invalid_bodies_with_400_invalid_body() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let mut cases = Vec::new();
    for (field, value) in [
        ("flow_type", json!("kyb-cards")),
        ("flow_type", json!(null)),
        ("country", json!("URY")),
        ("country", json!("arg")),
        ("integration_method", json!("SDK")),
        ("data", json!("usr-1")),
        ("extra", json!(1)),
    ] {
        let mut body = session_body("ARG", "usr-1");
        body[field] = value;
        cases.push(body);
    }
    for data in [
        json!({}),
        json!({"user_id": ""}),
        json!({"user_id": 5}),
        json!({"user_id": "u", "personal_data": []}),
        json!({"user_id": "u", "terms_data": "yes"}),
        json!({"user_id": "u", "nickname": "x"}),
    ] {
        let mut body = session_body("ARG", "usr-1");
        body["data"] = data;
        cases.push(body);
    }
    let mut missing = session_body("ARG", "usr-1");
    missing.as_object_mut().unwrap().remove("country");
    cases.push(missing);
    cases.push(json!([1, 2]));
    for body in cases {
        let reply = client.post_json("/identity/v2/sessions", Some(&token), &body);
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.error_code(), "invalid_body", "{body}");
    }
    // Every problem is listed.
    let reply = client.post_json(
        "/identity/v2/sessions",
        Some(&token),
        &json!({"flow_type": "x", "country": "y", "integration_method": "z", "data": {}}),
    );
    assert_eq!(
        reply.json()["error"]["details"].as_array().unwrap().len(),
        4
    );
    // Not JSON at all, and not UTF-8.
    let auth = format!("Bearer {token}");
    for raw in [&b"{\"flow_type\": "[..], b"\xff\xfe\x00{}", b""] {
        let reply = client.send(
            "POST",
            "/identity/v2/sessions",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            Some(raw),
        );
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (400, "invalid_body")
        );
    }
    assert_eq!(server.session_count(), 0, "nothing was created");
    // All six countries and both flows and methods are accepted.
    for country in ["ARG", "BRA", "CHL", "MEX", "COL", "PER"] {
        client.create_session(&token, country, "usr-2");
    }
    for (flow, method) in [("kyc-cards", "WEB"), ("kyc-accounts", "WEB")] {
        let mut body = session_body("BRA", "usr-3");
        body["flow_type"] = json!(flow);
        body["integration_method"] = json!(method);
        body["data"] = json!({"user_id": "usr-3"});
        assert_eq!(
            client
                .post_json("/identity/v2/sessions", Some(&token), &body)
                .status,
            201
        );
    }
}

#[test]
fn idempotency_key_replays_the_same_session_and_conflicts_on_a_different_body() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let key = [("x-idempotency-key", "key-0001")];
    let first = client.post_json_with(
        "/identity/v2/sessions",
        Some(&token),
        &session_body("ARG", "usr-1"),
        &key,
    );
    assert_eq!(first.status, 201);
    let again = client.post_json_with(
        "/identity/v2/sessions",
        Some(&token),
        &session_body("ARG", "usr-1"),
        &key,
    );
    assert_eq!(again.status, 201);
    assert_eq!(
        again.body, first.body,
        "same key, same body → same response"
    );
    assert_eq!(server.session_count(), 1);

    let conflict = client.post_json_with(
        "/identity/v2/sessions",
        Some(&token),
        &session_body("BRA", "usr-1"),
        &key,
    );
    assert_eq!(conflict.status, 409);
    assert_eq!(conflict.error_code(), "idempotency_conflict");
    assert_eq!(server.session_count(), 1);

    let other = client.post_json_with(
        "/identity/v2/sessions",
        Some(&token),
        &session_body("ARG", "usr-1"),
        &[("x-idempotency-key", "key-0002")],
    );
    assert_eq!(other.status, 201);
    assert_ne!(other.json()["data"]["id"], first.json()["data"]["id"]);
    let none = client.post_json(
        "/identity/v2/sessions",
        Some(&token),
        &session_body("ARG", "usr-1"),
    );
    assert_ne!(none.json()["data"]["id"], first.json()["data"]["id"]);
    assert_eq!(server.session_count(), 3);

    let bad_key = client.post_json_with(
        "/identity/v2/sessions",
        Some(&token),
        &session_body("ARG", "usr-1"),
        &[("x-idempotency-key", &"k".repeat(300))],
    );
    assert_eq!(
        (bad_key.status, bad_key.error_code().as_str()),
        (400, "invalid_header")
    );
}

#[test]
fn get_returns_the_full_session_object() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let mut body = session_body("BRA", "usr-get");
    body["data"]["personal_data"] = json!({"document_number": "123"});
    let created = client
        .post_json("/identity/v2/sessions", Some(&token), &body)
        .json();
    let id = created["data"]["id"].as_str().unwrap();
    let s = client.session(&token, id);
    for (field, value) in [
        ("id", json!(id)),
        ("user_id", json!("usr-get")),
        ("flow_type", json!("kyc-accounts")),
        ("country", json!("BRA")),
        ("integration_method", json!("API")),
        ("status", json!("IN_PROGRESS")),
        ("reason", json!(null)),
        ("created_at", created["data"]["created_at"].clone()),
        ("expiration_at", created["data"]["expiration_at"].clone()),
        ("url", created["data"]["url"].clone()),
        ("files", json!([])),
    ] {
        assert_eq!(s[field], value, "{field}");
    }
    assert!(s["updated_at"].is_string());
    let steps = s["steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .any(|st| st["name"] == "ocr" && st["status"] == "PENDING")
    );
    assert!(
        steps
            .iter()
            .all(|st| st["name"].is_string() && st["status"].is_string())
    );

    let missing = client.get("/identity/v1/sessions/iss-doesnotexist", &token);
    assert_eq!(
        (missing.status, missing.error_code().as_str()),
        (404, "not_found")
    );
    // The singular path is not served (decision 1).
    assert_eq!(
        client
            .get(&format!("/identity/v1/session/{id}"), &token)
            .status,
        404
    );
    // Query parameters are refused on routes that take none.
    let with_query = client.get(&format!("/identity/v1/sessions/{id}?expand=files"), &token);
    assert_eq!(
        (with_query.status, with_query.error_code().as_str()),
        (400, "invalid_parameter")
    );
}

#[test]
fn cancel_moves_to_cancelled_once() {
    let server = instant_server();
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = client.create_session(&token, "ARG", "usr-c");
    let reply = client.delete(&format!("/identity/v1/sessions/{id}"), &token);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["data"]["status"], "CANCELLED");
    assert_eq!(client.session(&token, &id)["status"], "CANCELLED");
    let again = client.delete(&format!("/identity/v1/sessions/{id}"), &token);
    assert_eq!(
        (again.status, again.error_code().as_str()),
        (409, "invalid_state")
    );
    let upload = client.upload(&token, &id, "usr-c", "selfie", "s.jpg", "image/jpeg", JPEG);
    assert_eq!(
        (upload.status, upload.error_code().as_str()),
        (409, "invalid_state")
    );
    assert_eq!(
        client
            .delete("/identity/v1/sessions/iss-nope", &token)
            .status,
        404
    );

    // A validated session is final too.
    let done = client.create_session(&token, "ARG", "usr-d");
    client.upload_all(&token, &done, "usr-d");
    assert_eq!(client.session(&token, &done)["status"], "VALIDATED");
    let reply = client.delete(&format!("/identity/v1/sessions/{done}"), &token);
    assert_eq!(reply.status, 409);
}

#[test]
fn cancelling_during_processing_wins_over_the_outcome() {
    let server =
        MockServer::start(MockConfig::new().processing_delay(Duration::from_millis(1000))).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = client.create_session(&token, "ARG", "usr-p");
    client.upload_all(&token, &id, "usr-p");
    assert_eq!(client.session(&token, &id)["status"], "PROCESSING");
    assert_eq!(
        client
            .delete(&format!("/identity/v1/sessions/{id}"), &token)
            .status,
        200
    );
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(client.session(&token, &id)["status"], "CANCELLED");
}

#[test]
fn report_returns_personal_data_steps_and_files() {
    let server = instant_server();
    let client = Client::new(&server);
    let token = client.token(&server);
    let mut body = session_body("ARG", "usr-r");
    body["data"]["personal_data"] = json!({"first_name": "Diego", "document_number": "30111222"});
    let id = client
        .post_json("/identity/v2/sessions", Some(&token), &body)
        .json()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    client.upload_all(&token, &id, "usr-r");
    let reply = client.get(&format!("/identity/v1/sessions/{id}/report"), &token);
    assert_eq!(reply.status, 200);
    let data = &reply.json()["data"];
    assert_eq!(data["id"], id.as_str());
    assert_eq!(data["user_id"], "usr-r");
    assert_eq!(data["status"], "VALIDATED");
    assert_eq!(data["reason"], json!(null));
    assert_eq!(data["personal_data"]["first_name"], "Diego");
    assert_eq!(data["files"].as_array().unwrap().len(), 3);
    assert!(
        data["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "SUCCESS")
    );
    assert_eq!(
        client
            .get("/identity/v1/sessions/iss-x/report", &token)
            .status,
        404
    );
}

#[test]
fn clean_validations_deletes_by_user_id_or_document_number() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let with_doc = |user: &str, doc: &str| {
        let mut body = session_body("ARG", user);
        body["data"]["personal_data"] = json!({"document_number": doc});
        assert_eq!(
            client
                .post_json("/identity/v2/sessions", Some(&token), &body)
                .status,
            201
        );
    };
    with_doc("usr-a", "111");
    with_doc("usr-a", "111");
    with_doc("usr-b", "222");
    with_doc("usr-c", "333");
    let a_session = client.create_session(&token, "ARG", "usr-a");

    let clean =
        |body: serde_json::Value| client.post_json("/clean_validations", Some(&token), &body);
    let reply = clean(json!({"user_id": "usr-a"}));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"data": {"deleted_sessions": 3}}));
    assert_eq!(
        client
            .get(&format!("/identity/v1/sessions/{a_session}"), &token)
            .status,
        404
    );

    assert_eq!(
        clean(json!({"document_number": "222"})).json()["data"]["deleted_sessions"],
        1
    );
    // user_id wins over document_number.
    assert_eq!(
        clean(json!({"user_id": "usr-nobody", "document_number": "333"})).json()["data"]["deleted_sessions"],
        0
    );
    assert_eq!(server.session_count(), 1);
    assert_eq!(
        clean(json!({"user_id": "usr-c", "document_number": "999"})).json()["data"]["deleted_sessions"],
        1
    );
    assert_eq!(server.session_count(), 0);

    for bad in [
        json!({}),
        json!({"user_id": ""}),
        json!({"user_id": 3}),
        json!({"email": "a@b.c"}),
        json!("usr-a"),
    ] {
        let reply = clean(bad.clone());
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (400, "invalid_body"),
            "{bad}"
        );
    }
    // The path is at the host root, not under /identity/v1.
    assert_eq!(
        client
            .post_json(
                "/identity/v1/clean_validations",
                Some(&token),
                &json!({"user_id": "u"})
            )
            .status,
        404
    );
}

#[test]
fn unknown_routes_are_404_and_wrong_methods_405() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let auth = format!("Bearer {token}");
    let h = [("authorization", auth.as_str())];
    for (method, path, status) in [
        ("GET", "/", 404),
        ("GET", "/identity/v2/sessions/x", 404),
        ("GET", "/identity/v1/sessions/", 404),
        ("GET", "/identity/v1/sessions//report", 404),
        ("GET", "/oauth/token", 405),
        ("PUT", "/identity/v1/sessions/iss-1", 405),
        ("GET", "/identity/v2/sessions", 405),
        ("POST", "/identity/v1/sessions", 405),
        ("GET", "/clean_validations", 405),
    ] {
        let reply = client.send(
            method,
            path,
            &h,
            if method == "GET" { None } else { Some(b"{}") },
        );
        assert_eq!(reply.status, status, "{method} {path}");
        let code = reply.error_code();
        if status == 405 {
            assert_eq!(code, "method_not_allowed");
            assert!(reply.header("allow").is_some());
        }
    }
}

#[test]
fn the_session_store_is_bounded() {
    let server = MockServer::start(MockConfig::new().max_sessions(2)).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    client.create_session(&token, "ARG", "usr-1");
    client.create_session(&token, "ARG", "usr-2");
    let reply = client.post_json(
        "/identity/v2/sessions",
        Some(&token),
        &session_body("ARG", "usr-3"),
    );
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (507, "session_limit")
    );
    client.post_json(
        "/clean_validations",
        Some(&token),
        &json!({"user_id": "usr-1"}),
    );
    assert_eq!(
        client
            .post_json(
                "/identity/v2/sessions",
                Some(&token),
                &session_body("ARG", "usr-3")
            )
            .status,
        201
    );
}
