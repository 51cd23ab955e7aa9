//! Upload file: strict multipart, content types and magic bytes, document types per country, size
//! limit, idempotency.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests: panics are failures

mod common;

use common::{Client, JPEG, PDF, PNG, multipart};
use kyc_mock::{MockConfig, MockServer};

fn setup(config: MockConfig) -> (MockServer, Client, String) {
    let server = MockServer::start(config).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    (server, client, token)
}

#[test]
fn each_allowed_type_is_accepted_and_listed_on_the_session() {
    let (_server, client, token) = setup(MockConfig::new());
    let id = client.create_session(&token, "ARG", "usr-u");
    for (doc, name, content_type, data) in [
        ("selfie", "selfie.jpg", "image/jpeg", JPEG),
        ("identity-card-front", "front.png", "image/png", PNG),
        ("identity-card-back", "back.pdf", "application/pdf", PDF),
    ] {
        let reply = client.upload(&token, &id, "usr-u", doc, name, content_type, data);
        assert_eq!(
            reply.status,
            201,
            "{doc}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let file = &reply.json()["data"];
        assert!(file["id"].as_str().unwrap().starts_with("fil-"));
        assert_eq!(file["session_id"], id.as_str());
        assert_eq!(file["entity_id"], "usr-u");
        assert_eq!(file["type_document"], doc);
        assert_eq!(file["file_name"], name);
        assert_eq!(file["content_type"], content_type);
        assert_eq!(file["size"], data.len());
        assert!(file["created_at"].is_string());
    }
    let session = client.session(&token, &id);
    let files = session["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    assert!(
        files.iter().all(|f| f.get("session_id").is_none()),
        "session files omit session_id"
    );
}

#[test]
fn brazil_accepts_driver_licences_and_argentina_does_not() {
    let (_server, client, token) = setup(MockConfig::new());
    let arg = client.create_session(&token, "ARG", "usr-arg");
    for doc in [
        "driver-license-front",
        "driver-license-back",
        "passport",
        "company-document",
    ] {
        let reply = client.upload(&token, &arg, "usr-arg", doc, "x.jpg", "image/jpeg", JPEG);
        assert_eq!(reply.status, 400, "{doc}");
        assert_eq!(reply.error_code(), "invalid_document_type");
    }
    for country in ["CHL", "MEX", "COL", "PER"] {
        let id = client.create_session(&token, country, "usr-x");
        let reply = client.upload(
            &token,
            &id,
            "usr-x",
            "driver-license-front",
            "x.jpg",
            "image/jpeg",
            JPEG,
        );
        assert_eq!(reply.status, 400, "{country}");
        let reply = client.upload(
            &token,
            &id,
            "usr-x",
            "identity-card-front",
            "x.jpg",
            "image/jpeg",
            JPEG,
        );
        assert_eq!(reply.status, 201, "{country}");
    }
    let bra = client.create_session(&token, "BRA", "usr-bra");
    for doc in ["driver-license-front", "driver-license-back"] {
        let reply = client.upload(&token, &bra, "usr-bra", doc, "x.png", "image/png", PNG);
        assert_eq!(reply.status, 201, "{doc}");
    }
}

#[test]
fn content_type_must_be_accepted_and_match_the_magic_bytes() {
    let (_server, client, token) = setup(MockConfig::new());
    let id = client.create_session(&token, "ARG", "usr-m");
    for (content_type, data) in [
        ("image/png", JPEG),
        ("image/jpeg", PNG),
        ("application/pdf", JPEG),
        ("image/jpeg", b"GIF89a..."),
        ("image/gif", b"GIF89a..."),
        ("text/plain", b"hello"),
        ("image/jpeg", &[0xFF, 0xD8]),
        ("image/jpeg", b""),
    ] {
        let reply = client.upload(&token, &id, "usr-m", "selfie", "f", content_type, data);
        assert_eq!(reply.status, 400, "{content_type} {data:?}");
        assert_eq!(reply.error_code(), "invalid_file");
    }
    assert_eq!(client.session(&token, &id)["files"], serde_json::json!([]));
}

/// `haystack` with every `from` replaced by `to`, byte-wise.
fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    assert_ne!(out, haystack, "nothing replaced");
    out
}

#[test]
fn malformed_multipart_is_refused() {
    let (server, client, token) = setup(MockConfig::new());
    let id = client.create_session(&token, "ARG", "usr-mp");
    let good = multipart("b0undary", "s.jpg", "image/jpeg", JPEG);
    let ct = "multipart/form-data; boundary=b0undary";
    let two_parts = {
        let mut b = good[..good.len() - "--\r\n".len()].to_vec();
        b.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n");
        b.extend_from_slice(JPEG);
        b.extend_from_slice(b"\r\n--b0undary--\r\n");
        b
    };
    let wrong_name = replace(&good, b"name=\"file\"", b"name=\"document\"");
    let no_filename = replace(&good, b"; filename=\"s.jpg\"", b"");
    let no_part_type = replace(&good, b"Content-Type: image/jpeg\r\n", b"");
    let lf_only = replace(&good, b"\r\n", b"\n");
    let truncated = good[..good.len() - 8].to_vec();
    for (what, body) in [
        ("two parts", two_parts),
        ("wrong name", wrong_name),
        ("no filename", no_filename),
        ("no part content type", no_part_type),
        ("bare LF", lf_only),
        ("no closing delimiter", truncated),
        ("empty", Vec::new()),
        ("garbage", b"\xff\xfe\x00\x01garbage".to_vec()),
    ] {
        let reply = client.upload_raw(&token, &id, "usr-mp", "selfie", ct, &body);
        assert_eq!(
            reply.status,
            400,
            "{what}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.error_code(), "invalid_multipart", "{what}");
    }
    for content_type in [
        "application/json",
        "multipart/form-data",
        "multipart/mixed; boundary=b0undary",
        "",
    ] {
        let reply = client.upload_raw(&token, &id, "usr-mp", "selfie", content_type, &good);
        assert_eq!(reply.status, 415, "{content_type:?}");
        assert_eq!(reply.error_code(), "unsupported_media_type");
    }
    // The same bytes with the right header are fine, and were recorded exactly.
    server.clear_requests();
    assert_eq!(
        client
            .upload_raw(&token, &id, "usr-mp", "selfie", ct, &good)
            .status,
        201
    );
    let recorded = server.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].body, good);
    assert_eq!(recorded[0].header("content-type"), Some(ct));
}

#[test]
fn oversize_files_and_bodies_get_413() {
    let (_server, client, token) = setup(MockConfig::new().max_upload_bytes(1024));
    let id = client.create_session(&token, "ARG", "usr-big");
    let mut at_limit = JPEG.to_vec();
    at_limit.resize(1024, 0);
    let reply = client.upload(
        &token,
        &id,
        "usr-big",
        "selfie",
        "s.jpg",
        "image/jpeg",
        &at_limit,
    );
    assert_eq!(reply.status, 201);
    // Over the file limit but within the multipart slack: the file size is checked.
    let mut over = at_limit.clone();
    over.push(0);
    let reply = client.upload(
        &token,
        &id,
        "usr-big",
        "selfie",
        "s.jpg",
        "image/jpeg",
        &over,
    );
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (413, "payload_too_large")
    );
    // Far over: the body is refused from its Content-Length, unread.
    let huge = vec![0xFFu8; 200 * 1024];
    let reply = client.upload(
        &token,
        &id,
        "usr-big",
        "selfie",
        "s.jpg",
        "image/jpeg",
        &huge,
    );
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (413, "payload_too_large")
    );
}

#[test]
fn json_endpoints_bound_their_bodies() {
    let (_server, client, token) = setup(MockConfig::new());
    let auth = format!("Bearer {token}");
    let big = format!("{{\"user_id\": \"{}\"}}", "u".repeat(2 * 1024 * 1024));
    let reply = client.send(
        "POST",
        "/clean_validations",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(big.as_bytes()),
    );
    assert_eq!(reply.status, 413);
}

#[test]
fn upload_checks_session_entity_and_state() {
    let (server, client, token) = setup(MockConfig::new());
    let id = client.create_session(&token, "ARG", "usr-e");
    let reply = client.upload(
        &token,
        "iss-missing",
        "usr-e",
        "selfie",
        "s.jpg",
        "image/jpeg",
        JPEG,
    );
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (404, "not_found")
    );
    let reply = client.upload(
        &token,
        &id,
        "usr-other",
        "selfie",
        "s.jpg",
        "image/jpeg",
        JPEG,
    );
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (400, "invalid_entity")
    );
    // Re-uploading a document type replaces the earlier file.
    client.upload(
        &token,
        &id,
        "usr-e",
        "selfie",
        "one.jpg",
        "image/jpeg",
        JPEG,
    );
    client.upload(&token, &id, "usr-e", "selfie", "two.png", "image/png", PNG);
    let files = client.session(&token, &id)["files"].clone();
    assert_eq!(files.as_array().unwrap().len(), 1);
    assert_eq!(files[0]["file_name"], "two.png");
    // No upload without a token.
    let reply = client.upload_raw(
        "nope",
        &id,
        "usr-e",
        "selfie",
        "multipart/form-data; boundary=x",
        b"",
    );
    assert_eq!(reply.status, 401);
    drop(server);
}

#[test]
fn upload_honours_the_idempotency_key() {
    let (_server, client, token) = setup(MockConfig::new());
    let id = client.create_session(&token, "ARG", "usr-i");
    let auth = format!("Bearer {token}");
    let path = format!("/identity/v1/sessions/{id}/entities/usr-i/files/selfie");
    let ct = "multipart/form-data; boundary=xx";
    let send = |data: &[u8]| {
        client.send(
            "POST",
            &path,
            &[
                ("authorization", &auth),
                ("content-type", ct),
                ("x-idempotency-key", "up-1"),
            ],
            Some(&multipart("xx", "s.jpg", "image/jpeg", data)),
        )
    };
    let first = send(JPEG);
    assert_eq!(first.status, 201);
    let again = send(JPEG);
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let mut other = JPEG.to_vec();
    other.push(1);
    let conflict = send(&other);
    assert_eq!(
        (conflict.status, conflict.error_code().as_str()),
        (409, "idempotency_conflict")
    );
}
