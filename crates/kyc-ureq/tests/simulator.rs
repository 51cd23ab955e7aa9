//! The client over real HTTP against the `kyc-mock` simulator on loopback: every operation, the
//! token cache under threads, 401 replay, retries, faults, timeouts, limits, pagination, uploads.

// Helpers outside `#[test]` functions unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use kyc_core::{
    CleanValidations, Config, Country, CreateSession, Credentials, DocumentType, Environment,
    InvalidInput, RetryPolicy, SearchSessions, SessionStatus, UploadFile,
};
use kyc_mock::{Fault, MockConfig, MockServer, RecordedRequest, Route};
use kyc_ureq::{Client, ClientBuilder, Error, TransportErrorKind};

const TOKEN: &str = "/oauth/token";
const CREATE: &str = "/identity/v2/sessions";
const SEARCH: &str = "/identity/v1/sessions";

fn start() -> MockServer {
    start_with(MockConfig::new().processing_delay(Duration::ZERO))
}

fn start_with(config: MockConfig) -> MockServer {
    MockServer::start(config).unwrap()
}

/// Fast retries (1–10 ms back-off, `Retry-After` honoured up to 2 s) so faults cost little time.
fn builder(server: &MockServer) -> ClientBuilder {
    let config = Config::builder(Environment::Sandbox)
        .base_url(server.base_url())
        .audience(server.audience())
        .build()
        .unwrap();
    Client::builder(
        config,
        Credentials::new(server.client_id(), server.client_secret()),
    )
    .retry_policy(
        RetryPolicy::default()
            .max_attempts(4)
            .backoff(Duration::from_millis(1), Duration::from_millis(10))
            .max_retry_after(Duration::from_secs(2)),
    )
    .attempt_timeout(Duration::from_secs(10))
    .overall_timeout(Duration::from_secs(30))
}

fn client(server: &MockServer) -> Client {
    builder(server).build()
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/data")
        .join(name)
}

fn requests(server: &MockServer, method: &str, path: &str) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == method && r.path == path)
        .collect()
}

fn token_requests(server: &MockServer) -> usize {
    requests(server, "POST", TOKEN).len()
}

fn new_session(client: &Client, user: &str) -> kyc_core::SessionId {
    client
        .create_session(&CreateSession::new(user, Country::Arg))
        .unwrap()
        .id
}

#[test]
fn every_operation_works_against_the_simulator() {
    let server = start();
    let client = client(&server);
    let user = "usr-every-operation";

    let token = client.token().unwrap();
    assert!(!token.access_token.expose_secret().is_empty());

    let created = client
        .create_session(&CreateSession::new(user, Country::Arg))
        .unwrap();
    assert!(created.id.as_str().starts_with("iss-"));

    let selfie = client
        .upload_path(
            created.id.clone(),
            user,
            DocumentType::Selfie,
            data("selfie.jpg"),
        )
        .unwrap();
    assert_eq!(selfie.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(selfie.file_name.as_deref(), Some("selfie.jpg"));
    let front = std::fs::read(data("identity-card-front.png")).unwrap();
    let len = front.len() as u64;
    let front = client
        .upload_reader(
            created.id.clone(),
            user,
            DocumentType::IdentityCardFront,
            "front.png",
            Cursor::new(front),
            len,
        )
        .unwrap();
    assert_eq!(front.size, Some(len));
    let back = std::fs::read(data("identity-card-back.png")).unwrap();
    client
        .upload_bytes(
            created.id.clone(),
            user,
            DocumentType::IdentityCardBack,
            "back.png",
            back,
        )
        .unwrap();

    let session = client.get_session(created.id.clone()).unwrap();
    assert_eq!(session.id, created.id);
    assert_eq!(session.files.len(), 3);
    assert_eq!(session.status, Some(SessionStatus::Validated));

    let report = client.report(created.id.clone()).unwrap();
    assert_eq!(report.id, created.id);
    assert_eq!(report.status, Some(SessionStatus::Validated));

    let page = client
        .search_sessions(&SearchSessions::new().user_id(user))
        .unwrap();
    assert_eq!(page.sessions.len(), 1);
    let all: Vec<_> = client
        .search_all(SearchSessions::new().user_id(user))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(all.len(), 1);

    let other = new_session(&client, user);
    let cancelled = client.cancel_session(other.clone()).unwrap().unwrap();
    assert_eq!(cancelled.status, Some(SessionStatus::Cancelled));
    let again = client.cancel_session(other).unwrap_err();
    assert_eq!(again.status(), Some(http::StatusCode::CONFLICT));

    let cleaned = client
        .clean_validations(&CleanValidations::user_id(user))
        .unwrap();
    assert_eq!(cleaned.deleted_sessions, Some(2));

    client.revoke_token().unwrap();
    let before = token_requests(&server);
    let unknown = client.get_session(created.id).unwrap_err();
    assert_eq!(unknown.status(), Some(http::StatusCode::NOT_FOUND));
    assert_eq!(
        token_requests(&server),
        before + 1,
        "a new token after revoke"
    );
    server.shutdown();
}

#[test]
fn concurrent_calls_share_exactly_one_token_request() {
    let server = start();
    let client = client(&server);
    let threads = 16;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let client = client.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..3 {
                    client
                        .search_sessions(&SearchSessions::new().user_id(format!("usr-t{i}")))
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(token_requests(&server), 1);
    assert_eq!(requests(&server, "GET", SEARCH).len(), threads * 3);
}

#[test]
fn the_token_is_refreshed_when_it_nears_expiry() {
    // A 4 s token: the cache's margin (capped at half the lifetime) makes it stale after 2 s.
    let server = start_with(
        MockConfig::new()
            .token_lifetime(Duration::from_secs(4))
            .processing_delay(Duration::ZERO),
    );
    let client = client(&server);
    client.search_sessions(&SearchSessions::new()).unwrap();
    client.search_sessions(&SearchSessions::new()).unwrap();
    assert_eq!(token_requests(&server), 1);
    std::thread::sleep(Duration::from_millis(2_200));
    client.search_sessions(&SearchSessions::new()).unwrap();
    assert_eq!(token_requests(&server), 2);
    // No 401 was needed: the refresh happened before the server refused anything.
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.path == TOKEN || r.header("authorization").is_some())
    );
}

#[test]
fn a_401_brings_one_refresh_and_one_replay() {
    let server = start();
    let first = client(&server);
    let id = new_session(&first, "usr-401");
    // Another process revokes the token: `first`'s cached token is now refused.
    client(&server).revoke_token().unwrap();
    let tokens_before = token_requests(&server);
    let gets_before = requests(&server, "GET", &format!("{SEARCH}/{id}")).len();

    let session = first.get_session(id.clone()).unwrap();
    assert_eq!(session.id, id);
    assert_eq!(token_requests(&server), tokens_before + 1);
    let gets = requests(&server, "GET", &format!("{SEARCH}/{id}"));
    assert_eq!(
        gets.len(),
        gets_before + 2,
        "the refused call and its replay"
    );
    let auth: Vec<_> = gets
        .iter()
        .rev()
        .take(2)
        .map(|r| r.header("authorization"))
        .collect();
    assert_ne!(auth[0], auth[1], "the replay carries the new token");
}

#[test]
fn a_429_is_retried_after_its_retry_after() {
    let server = start();
    let client = client(&server);
    client.token().unwrap();
    server.inject_fault(Route::SearchSessions, Fault::too_many_requests(1), 1);
    let started = Instant::now();
    client.search_sessions(&SearchSessions::new()).unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(requests(&server, "GET", SEARCH).len(), 2);
}

#[test]
fn a_503_is_retried_until_the_server_recovers() {
    let server = start();
    let client = client(&server);
    server.inject_fault(Route::SearchSessions, Fault::status(503), 2);
    client.search_sessions(&SearchSessions::new()).unwrap();
    assert_eq!(requests(&server, "GET", SEARCH).len(), 3);

    server.inject_fault(Route::SearchSessions, Fault::status(503), 10);
    let err = client.search_sessions(&SearchSessions::new()).unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(
        requests(&server, "GET", SEARCH).len(),
        3 + 4,
        "max_attempts"
    );
}

#[test]
fn a_create_is_retried_with_the_same_idempotency_key() {
    let server = start();
    let client = client(&server);
    server.inject_fault(Route::CreateSession, Fault::status(503), 1);
    server.inject_fault(Route::CreateSession, Fault::DropConnection, 1);
    server.inject_fault(Route::CreateSession, Fault::status(502), 1);
    let created = client
        .create_session(&CreateSession::new("usr-key", Country::Arg))
        .unwrap();
    let creates = requests(&server, "POST", CREATE);
    assert_eq!(creates.len(), 4);
    let key = creates[0].header("x-idempotency-key").unwrap();
    assert_eq!(key.len(), 32);
    assert!(
        creates
            .iter()
            .all(|c| c.header("x-idempotency-key") == Some(key))
    );
    assert_eq!(server.session_count(), 1);
    assert_eq!(
        client.get_session(created.id).unwrap().user_id.as_deref(),
        Some("usr-key")
    );

    // The next logical call has a key of its own.
    new_session(&client, "usr-key");
    let creates = requests(&server, "POST", CREATE);
    assert_ne!(creates[4].header("x-idempotency-key"), Some(key));
}

#[test]
fn a_post_without_key_is_not_retried_once_the_server_may_have_it() {
    let server = start();
    let client = client(&server);
    client.token().unwrap();
    server.inject_fault(Route::CleanValidations, Fault::DropConnection, 1);
    let err = client
        .clean_validations(&CleanValidations::user_id("usr-x"))
        .unwrap_err();
    let transport = err.transport_error().unwrap();
    assert!(transport.may_have_reached_server());
    assert_eq!(requests(&server, "POST", "/clean_validations").len(), 1);

    server.inject_fault(Route::CleanValidations, Fault::status(503), 1);
    let err = client
        .clean_validations(&CleanValidations::user_id("usr-x"))
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(requests(&server, "POST", "/clean_validations").len(), 2);
}

#[test]
fn a_dropped_connection_is_retried_for_a_get_and_an_upload_from_a_path() {
    let server = start();
    let client = client(&server);
    let id = new_session(&client, "usr-drop");
    server.inject_fault(Route::GetSession, Fault::DropConnection, 2);
    client.get_session(id.clone()).unwrap();
    assert_eq!(requests(&server, "GET", &format!("{SEARCH}/{id}")).len(), 3);

    server.inject_fault(Route::UploadFile, Fault::DropConnection, 1);
    client
        .upload_path(
            id.clone(),
            "usr-drop",
            DocumentType::Selfie,
            data("selfie.jpg"),
        )
        .unwrap();
    let path = format!("{SEARCH}/{id}/entities/usr-drop/files/selfie");
    let uploads = requests(&server, "POST", &path);
    assert_eq!(uploads.len(), 2);
    assert_eq!(
        uploads[0].header("x-idempotency-key"),
        uploads[1].header("x-idempotency-key")
    );
    let file_len = std::fs::metadata(data("selfie.jpg")).unwrap().len();
    for u in &uploads {
        // Streamed with an explicit length, never chunked.
        assert!(u.header("transfer-encoding").is_none());
        let declared: usize = u.header("content-length").unwrap().parse().unwrap();
        assert!(declared as u64 > file_len);
    }
    assert_eq!(client.get_session(id).unwrap().files.len(), 1);
}

#[test]
fn an_upload_from_a_reader_is_not_retried_after_its_bytes_were_sent() {
    let server = start();
    let client = client(&server);
    let id = new_session(&client, "usr-reader");
    server.inject_fault(Route::UploadFile, Fault::status(503), 1);
    let bytes = std::fs::read(data("selfie.jpg")).unwrap();
    let len = bytes.len() as u64;
    let err = client
        .upload_reader(
            id.clone(),
            "usr-reader",
            DocumentType::Selfie,
            "s.jpg",
            Cursor::new(bytes),
            len,
        )
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    let path = format!("{SEARCH}/{id}/entities/usr-reader/files/selfie");
    assert_eq!(requests(&server, "POST", &path).len(), 1);
}

#[test]
fn an_attempt_that_outlives_its_timeout_is_a_timeout_error() {
    let server = start();
    let client = builder(&server)
        .attempt_timeout(Duration::from_millis(300))
        .retry_policy(RetryPolicy::never())
        .build();
    client.token().unwrap();
    server.inject_fault(
        Route::SearchSessions,
        Fault::Delay(Duration::from_secs(3)),
        1,
    );
    let started = Instant::now();
    let err = client.search_sessions(&SearchSessions::new()).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn the_overall_deadline_bounds_retries() {
    let server = start();
    let client = builder(&server)
        .attempt_timeout(Duration::from_millis(300))
        .overall_timeout(Duration::from_millis(800))
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(50)
                .backoff(Duration::from_millis(1), Duration::from_millis(1)),
        )
        .build();
    client.token().unwrap();
    server.inject_fault(
        Route::SearchSessions,
        Fault::Delay(Duration::from_secs(3)),
        50,
    );
    let started = Instant::now();
    let err = client.search_sessions(&SearchSessions::new()).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    assert!(requests(&server, "GET", SEARCH).len() <= 4);
}

#[test]
fn a_truncated_body_is_a_typed_transport_error() {
    let server = start();
    let client = builder(&server).retry_policy(RetryPolicy::never()).build();
    client.token().unwrap();
    server.inject_fault(Route::SearchSessions, Fault::TruncatedBody, 1);
    let err = client.search_sessions(&SearchSessions::new()).unwrap_err();
    let transport = err.transport_error().unwrap();
    assert_eq!(transport.kind(), TransportErrorKind::Connection);
    assert!(transport.may_have_reached_server());

    // With retries on, a GET recovers from it.
    let client = builder(&server).build();
    server.inject_fault(Route::SearchSessions, Fault::TruncatedBody, 1);
    client.search_sessions(&SearchSessions::new()).unwrap();
}

#[test]
fn non_json_bodies_are_typed_errors() {
    let server = start();
    let client = builder(&server).retry_policy(RetryPolicy::never()).build();
    client.token().unwrap();

    server.inject_fault(Route::SearchSessions, Fault::NonJsonBody { status: 200 }, 1);
    let err = client.search_sessions(&SearchSessions::new()).unwrap_err();
    let decode = err.decode_error().unwrap();
    assert_eq!(decode.status, http::StatusCode::OK);
    assert!(err.request_id().is_some());

    server.inject_fault(Route::SearchSessions, Fault::NonJsonBody { status: 500 }, 1);
    let err = client.search_sessions(&SearchSessions::new()).unwrap_err();
    let api = err.api_error().unwrap();
    assert_eq!(api.status, http::StatusCode::INTERNAL_SERVER_ERROR);
    assert!(api.body.is_none());
    assert!(!api.raw_body.as_bytes().is_empty());

    server.inject_fault(
        Route::SearchSessions,
        Fault::HtmlErrorPage { status: 502 },
        1,
    );
    let err = client.search_sessions(&SearchSessions::new()).unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::BAD_GATEWAY));
    assert!(err.api_error().unwrap().raw_body.to_text().contains('<'));
}

#[test]
fn a_response_over_the_body_limit_is_refused_not_truncated() {
    let server = start();
    let setup = client(&server);
    for _ in 0..20 {
        new_session(&setup, "usr-limit");
    }
    let search = SearchSessions::new().user_id("usr-limit").page_size(20);
    let page = setup.search_sessions(&search).unwrap();
    assert_eq!(page.sessions.len(), 20);

    // 4 KiB: room for the token response, not for twenty sessions.
    let limited = builder(&server)
        .max_response_body(4096)
        .retry_policy(RetryPolicy::never())
        .build();
    limited.token().unwrap();
    let err = limited.search_sessions(&search).unwrap_err();
    assert_eq!(
        err.transport_error().unwrap().kind(),
        TransportErrorKind::ResponseTooLarge { limit: 4096 }
    );
}

#[test]
fn an_unreachable_server_is_a_connect_error_that_never_reached_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = Config::builder(Environment::Sandbox)
        .base_url(format!("http://{addr}"))
        .build()
        .unwrap();
    let client = Client::builder(config, Credentials::new("id", "secret"))
        .retry_policy(RetryPolicy::never())
        .build();
    let err = client.token().unwrap_err();
    let transport = err.transport_error().unwrap();
    assert_eq!(transport.kind(), TransportErrorKind::Connect);
    assert!(!transport.may_have_reached_server());
}

#[test]
fn wrong_credentials_are_an_api_error_of_the_token_request() {
    let server = start();
    let config = Config::builder(Environment::Sandbox)
        .base_url(server.base_url())
        .audience(server.audience())
        .build()
        .unwrap();
    let client = Client::new(config, Credentials::new(server.client_id(), "wrong-secret"));
    let err = client.search_sessions(&SearchSessions::new()).unwrap_err();
    assert!(matches!(err, Error::Token(_)));
    assert_eq!(err.status(), Some(http::StatusCode::UNAUTHORIZED));
    assert!(!format!("{err} {err:?}").contains("wrong-secret"));
    assert_eq!(
        token_requests(&server),
        1,
        "a refused token request is not retried"
    );
}

#[test]
fn search_all_walks_every_page_lazily() {
    let server = start();
    let client = client(&server);
    let user = "usr-pages";
    let mut ids: Vec<String> = (0..7).map(|_| new_session(&client, user).0).collect();
    new_session(&client, "usr-someone-else");
    let before = requests(&server, "GET", SEARCH).len();

    let mut all = client.search_all(SearchSessions::new().user_id(user).page_size(3));
    assert_eq!(requests(&server, "GET", SEARCH).len(), before);
    let mut found: Vec<String> = all.by_ref().map(|s| s.unwrap().id.0).collect();
    assert_eq!(all.pages_fetched(), 3);
    assert_eq!(requests(&server, "GET", SEARCH).len(), before + 3);
    found.sort();
    ids.sort();
    assert_eq!(found, ids);
}

#[test]
fn each_allowed_file_type_uploads_and_others_are_refused() {
    let server = start();
    let client = client(&server);
    let user = "usr-types";
    let id = new_session(&client, user);

    let jpeg = client
        .upload_path(id.clone(), user, DocumentType::Selfie, data("selfie.jpg"))
        .unwrap();
    assert_eq!(jpeg.content_type.as_deref(), Some("image/jpeg"));
    let png = client
        .upload_path(
            id.clone(),
            user,
            DocumentType::IdentityCardFront,
            data("identity-card-front.png"),
        )
        .unwrap();
    assert_eq!(png.content_type.as_deref(), Some("image/png"));
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
    let pdf = client
        .upload_bytes(
            id.clone(),
            user,
            DocumentType::IdentityCardBack,
            "back.pdf",
            pdf.to_vec(),
        )
        .unwrap();
    assert_eq!(pdf.content_type.as_deref(), Some("application/pdf"));

    let uploads_before = server.requests().len();
    let gif = client
        .upload_bytes(
            id.clone(),
            user,
            DocumentType::Selfie,
            "x.gif",
            b"GIF89a\x01\x00\x01\x00".to_vec(),
        )
        .unwrap_err();
    assert_eq!(
        gif.invalid_input(),
        Some(&InvalidInput::UnsupportedFileType)
    );
    let empty = client
        .upload_bytes(
            id.clone(),
            user,
            DocumentType::Selfie,
            "empty.jpg",
            Vec::new(),
        )
        .unwrap_err();
    assert_eq!(empty.invalid_input(), Some(&InvalidInput::EmptyFile));
    let licence = UploadFile::from_bytes(
        id.clone(),
        user,
        DocumentType::DriverLicenseFront,
        "licence.jpg",
        std::fs::read(data("selfie.jpg")).unwrap(),
    )
    .country(Country::Arg);
    let refused = client.upload_file(&licence).unwrap_err();
    assert!(matches!(
        refused.invalid_input(),
        Some(InvalidInput::DocumentTypeNotAllowed { .. })
    ));
    assert_eq!(
        server.requests().len(),
        uploads_before,
        "refused before sending"
    );

    // Without the country the client cannot tell; the simulator refuses it.
    let second = new_session(&client, user);
    let server_refused = client
        .upload_path(
            second,
            user,
            DocumentType::DriverLicenseFront,
            data("selfie.jpg"),
        )
        .unwrap_err();
    assert_eq!(server_refused.status(), Some(http::StatusCode::BAD_REQUEST));
    let codes: Vec<&str> = server_refused
        .api_error()
        .unwrap()
        .body
        .as_ref()
        .unwrap()
        .codes()
        .collect();
    assert_eq!(codes, ["invalid_document_type"]);
}
