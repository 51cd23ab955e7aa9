//! The client's logic over closure transports: no network, every request seen, exact counts.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use kyc_core::{
    CleanValidations, Config, Country, CreateSession, Credentials, DocumentType, Environment,
    RetryPolicy, SearchSessions, UploadFile,
};

use kyc_ureq::{
    AttemptTimeout, Client, ClientBuilder, Error, Fault, SendBody, Source, SourceErrorKind, Stage,
    TransportError, TransportErrorKind,
};

/// One request as the fake saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    headers: http::HeaderMap,
    body: Vec<u8>,
    streamed: bool,
    timeout: Option<Duration>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Reply = Result<http::Response<Vec<u8>>, TransportError>;

/// A fake API: records every request, and answers with `handler(request, how many requests to the
/// same path came before)`.
#[derive(Default)]
struct Fake {
    seen: Mutex<Vec<Seen>>,
    /// Every call of the transport, including those whose body could not be read.
    calls: AtomicUsize,
}

impl Fake {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path == path).count()
    }

    fn on(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }
}

fn respond(status: u16, body: &str) -> Reply {
    Ok(http::Response::builder()
        .status(status)
        .header("x-request-id", "req-test")
        .body(body.as_bytes().to_vec())
        .unwrap())
}

fn token_reply(token: &str) -> Reply {
    respond(
        200,
        &format!(r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600}}"#),
    )
}

const SESSION: &str = r#"{"data":{"id":"iss-1","status":"IN_PROGRESS"}}"#;
const TOKEN: &str = "/oauth/token";
const GET: &str = "/identity/v1/sessions/iss-1";

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(4)
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
}

fn builder_with(
    handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
) -> (ClientBuilder, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let log = fake.clone();
    let transport = move |req: http::Request<SendBody>| -> Reply {
        log.calls.fetch_add(1, Ordering::SeqCst);
        let timeout = req.extensions().get::<AttemptTimeout>().map(|t| t.0);
        let (parts, body) = req.into_parts();
        let streamed = body.is_streamed();
        let body = body.into_bytes()?;
        let seen = Seen {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers,
            body,
            streamed,
            timeout,
        };
        let before = {
            let mut all = log.seen.lock().unwrap();
            let before = all.iter().filter(|s| s.path == seen.path).count();
            all.push(seen.clone());
            before
        };
        handler(&seen, before)
    };
    let builder = Client::builder(
        Config::new(Environment::Sandbox).unwrap(),
        Credentials::new("cli-1", "very-secret-value"),
    )
    .transport(transport)
    .retry_policy(fast_retries());
    (builder, fake)
}

fn client_with(
    handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
) -> (Client, Arc<Fake>) {
    let (builder, fake) = builder_with(handler);
    (builder.build(), fake)
}

/// Token "tok-1", sessions found.
fn happy(seen: &Seen, _: usize) -> Reply {
    match seen.path.as_str() {
        TOKEN => token_reply("tok-1"),
        _ => respond(200, SESSION),
    }
}

#[test]
fn the_token_is_fetched_lazily_once_and_reused() {
    let (client, fake) = client_with(happy);
    assert_eq!(fake.count(TOKEN), 0, "building the client sends nothing");
    for _ in 0..5 {
        let session = client.get_session("iss-1").unwrap();
        assert_eq!(session.id.as_str(), "iss-1");
    }
    assert_eq!(fake.count(TOKEN), 1);
    let gets = fake.on(GET);
    assert_eq!(gets.len(), 5);
    assert!(
        gets.iter()
            .all(|g| g.header("authorization") == Some("Bearer tok-1"))
    );
    let info = client.token().unwrap();
    assert_eq!(info.access_token.expose_secret(), "tok-1");
    assert!(info.expires_at.is_some());
    assert_eq!(fake.count(TOKEN), 1);
}

#[test]
fn concurrent_calls_share_one_token_request() {
    let (client, fake) = client_with(|seen, _| match seen.path.as_str() {
        TOKEN => {
            std::thread::sleep(Duration::from_millis(150));
            token_reply("tok-1")
        }
        _ => respond(200, SESSION),
    });
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                client.get_session("iss-1").map(|s| s.id)
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap().as_str(), "iss-1");
    }
    assert_eq!(fake.count(TOKEN), 1);
    assert_eq!(fake.count(GET), 8);
}

#[test]
fn a_refused_refresh_reaches_every_waiter_is_remembered_then_tried_again() {
    let fail = Arc::new(AtomicUsize::new(1));
    let fail_in = fail.clone();
    let (builder, fake) = builder_with(move |seen, _| match seen.path.as_str() {
        TOKEN => {
            std::thread::sleep(Duration::from_millis(150));
            if fail_in.load(Ordering::SeqCst) == 1 {
                respond(
                    401,
                    r#"{"error":{"message":"bad credentials","details":[]}}"#,
                )
            } else {
                token_reply("tok-2")
            }
        }
        _ => respond(200, SESSION),
    });
    let client = builder
        .token_refusal_memory(Duration::from_millis(300))
        .build();
    let barrier = Arc::new(Barrier::new(6));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                client.get_session("iss-1")
            })
        })
        .collect();
    for t in threads {
        let err = t.join().unwrap().unwrap_err();
        assert_eq!(err.stage, Stage::Token, "{err:?}");
        assert_eq!(err.status(), Some(http::StatusCode::UNAUTHORIZED));
    }
    assert_eq!(
        fake.count(TOKEN),
        1,
        "one refresh in flight, its failure shared"
    );
    assert_eq!(fake.count(GET), 0);
    fail.store(0, Ordering::SeqCst);
    // Refused credentials are remembered for a while (issue #18): no token request meanwhile.
    let remembered = client.get_session("iss-1").unwrap_err();
    assert_eq!(remembered.status(), Some(http::StatusCode::UNAUTHORIZED));
    assert_eq!(fake.count(TOKEN), 1);
    std::thread::sleep(Duration::from_millis(350));
    client.get_session("iss-1").unwrap();
    assert_eq!(fake.count(TOKEN), 2);
}

#[test]
fn a_401_drops_the_token_fetches_one_and_replays_once() {
    let (client, fake) = client_with(|seen, n| match seen.path.as_str() {
        TOKEN => token_reply(if n == 0 { "tok-1" } else { "tok-2" }),
        _ if seen.header("authorization") == Some("Bearer tok-1") => respond(401, "{}"),
        _ => respond(200, SESSION),
    });
    client.get_session("iss-1").unwrap();
    let auth: Vec<_> = fake
        .on(GET)
        .iter()
        .map(|s| s.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(auth, ["Bearer tok-1", "Bearer tok-2"]);
    assert_eq!(fake.count(TOKEN), 2);
    // The new token is cached: no further refresh.
    client.get_session("iss-1").unwrap();
    assert_eq!(fake.count(TOKEN), 2);
}

#[test]
fn a_second_401_is_returned_after_exactly_one_replay() {
    let (client, fake) = client_with(|seen, n| match seen.path.as_str() {
        TOKEN => token_reply(&format!("tok-{n}")),
        _ => respond(
            401,
            r#"{"error":{"message":"nope","details":[{"code":"unauthorized"}]}}"#,
        ),
    });
    let err = client.get_session("iss-1").unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::UNAUTHORIZED));
    assert_eq!(
        api(&err).body.as_ref().unwrap().codes().collect::<Vec<_>>(),
        ["unauthorized"]
    );
    assert_eq!(fake.count(GET), 2);
    assert_eq!(fake.count(TOKEN), 2);
}

#[test]
fn retryable_statuses_are_retried_until_success() {
    let (client, fake) = client_with(|seen, n| match (seen.path.as_str(), n) {
        (TOKEN, _) => token_reply("tok-1"),
        (_, 0) => respond(503, "unavailable"),
        (_, 1) => respond(500, "oops"),
        _ => respond(200, SESSION),
    });
    client.get_session("iss-1").unwrap();
    assert_eq!(fake.count(GET), 3);
}

#[test]
fn retries_stop_after_max_attempts_with_the_last_answer() {
    let (client, fake) = client_with(|seen, _| match seen.path.as_str() {
        TOKEN => token_reply("tok-1"),
        _ => respond(503, r#"{"error":{"message":"down","details":[]}}"#),
    });
    let err = client.get_session("iss-1").unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(err.request_id(), Some("req-test"));
    assert_eq!(fake.count(GET), 4);
}

#[test]
fn a_non_retryable_status_is_returned_at_once() {
    let (client, fake) = client_with(|seen, _| match seen.path.as_str() {
        TOKEN => token_reply("tok-1"),
        _ => respond(
            404,
            r#"{"error":{"message":"no","details":[{"code":"not_found"}]}}"#,
        ),
    });
    let err = client.get_session("iss-1").unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::NOT_FOUND));
    assert_eq!(fake.count(GET), 1);
}

#[test]
fn retry_after_is_honoured() {
    let (client, fake) = client_with(|seen, n| match (seen.path.as_str(), n) {
        (TOKEN, _) => token_reply("tok-1"),
        (_, 0) => Ok(http::Response::builder()
            .status(429)
            .header("retry-after", "1")
            .body(Vec::new())
            .unwrap()),
        _ => respond(200, SESSION),
    });
    let started = Instant::now();
    client.get_session("iss-1").unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.count(GET), 2);
}

#[test]
fn a_retry_that_would_pass_the_deadline_is_not_made() {
    let (builder, fake) = builder_with(|seen, _| match seen.path.as_str() {
        TOKEN => token_reply("tok-1"),
        _ => Ok(http::Response::builder()
            .status(503)
            .header("retry-after", "20")
            .body(Vec::new())
            .unwrap()),
    });
    let client = builder.overall_timeout(Duration::from_secs(2)).build();
    let started = Instant::now();
    let err = client.get_session("iss-1").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(fake.count(GET), 1);
}

#[test]
fn each_attempt_carries_its_timeout_capped_by_the_deadline() {
    let (builder, fake) = builder_with(happy);
    let client = builder
        .attempt_timeout(Duration::from_secs(5))
        .overall_timeout(Duration::from_secs(60))
        .build();
    client.get_session("iss-1").unwrap();
    let timeout = fake.on(GET)[0].timeout.unwrap();
    assert_eq!(timeout, Duration::from_secs(5));

    let (builder, fake) = builder_with(happy);
    let client = builder
        .attempt_timeout(Duration::from_secs(60))
        .overall_timeout(Duration::from_secs(3))
        .build();
    client.get_session("iss-1").unwrap();
    let timeout = fake.on(GET)[0].timeout.unwrap();
    assert!(timeout <= Duration::from_secs(3) && timeout > Duration::from_secs(2));
}

#[test]
fn a_create_sends_one_idempotency_key_on_every_attempt_and_a_new_one_per_call() {
    let (client, fake) = client_with(|seen, n| match (seen.path.as_str(), n) {
        (TOKEN, _) => token_reply("tok-1"),
        (_, 0) => respond(503, ""),
        (_, 1) => Err(TransportError::new(TransportErrorKind::Connection, true)),
        (_, 2) => respond(502, ""),
        _ => respond(201, r#"{"data":{"id":"iss-9"}}"#),
    });
    let create = CreateSession::new("usr-1", Country::Arg);
    assert_eq!(client.create_session(&create).unwrap().id.as_str(), "iss-9");
    let creates = fake.on("/identity/v2/sessions");
    assert_eq!(creates.len(), 4);
    let key = creates[0].header("x-idempotency-key").unwrap().to_owned();
    assert_eq!(key.len(), 32);
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        creates
            .iter()
            .all(|c| c.header("x-idempotency-key") == Some(key.as_str()))
    );
    assert!(creates.iter().all(|c| c.body == creates[0].body));

    client.create_session(&create).unwrap();
    let again = fake.on("/identity/v2/sessions");
    assert_ne!(again[4].header("x-idempotency-key"), Some(key.as_str()));
}

#[test]
fn a_post_without_key_is_not_retried_once_it_may_have_reached_the_server() {
    let reached = Arc::new(AtomicUsize::new(1));
    let reached_in = reached.clone();
    let (client, fake) = client_with(move |seen, _| match seen.path.as_str() {
        TOKEN => token_reply("tok-1"),
        _ => Err(TransportError::new(
            TransportErrorKind::Connection,
            reached_in.load(Ordering::SeqCst) == 1,
        )),
    });
    let clean = CleanValidations::user_id("usr-1");
    let err = client.clean_validations(&clean).unwrap_err();
    assert!(transport(&err).may_have_reached_server());
    assert_eq!(fake.count("/clean_validations"), 1);
    assert!(
        fake.on("/clean_validations")[0]
            .header("x-idempotency-key")
            .is_none()
    );

    reached.store(0, Ordering::SeqCst);
    let err = client.clean_validations(&clean).unwrap_err();
    assert!(!transport(&err).may_have_reached_server());
    assert_eq!(
        fake.count("/clean_validations"),
        1 + 4,
        "never sent: retried"
    );
}

#[test]
fn transport_failures_of_a_get_are_retried_and_kept_typed() {
    let (client, fake) = client_with(|seen, _| match seen.path.as_str() {
        TOKEN => token_reply("tok-1"),
        _ => Err(TransportError::new(TransportErrorKind::Timeout, true).with_source("slow")),
    });
    let err = client.get_session("iss-1").unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(fake.count(GET), 4);
}

#[test]
fn an_invalid_request_is_never_retried() {
    let (client, fake) = client_with(|seen, _| match seen.path.as_str() {
        TOKEN => token_reply("tok-1"),
        _ => Err(TransportError::new(
            TransportErrorKind::InvalidRequest,
            false,
        )),
    });
    let err = client.get_session("iss-1").unwrap_err();
    assert_eq!(transport(&err).kind(), TransportErrorKind::InvalidRequest);
    assert_eq!(fake.count(GET), 1);
}

#[test]
fn io_errors_from_a_closure_transport_are_classified() {
    let refused: TransportError = io::Error::from(io::ErrorKind::ConnectionRefused).into();
    assert_eq!(refused.kind(), TransportErrorKind::Connect);
    assert!(!refused.may_have_reached_server());
    let reset: TransportError = io::Error::from(io::ErrorKind::ConnectionReset).into();
    assert_eq!(reset.kind(), TransportErrorKind::Connection);
    assert!(reset.may_have_reached_server());
    let timed: TransportError = io::Error::from(io::ErrorKind::TimedOut).into();
    assert_eq!(timed.kind(), TransportErrorKind::Timeout);
}

#[test]
fn a_2xx_that_is_not_json_is_a_decode_error() {
    let (client, fake) = client_with(|seen, _| match seen.path.as_str() {
        TOKEN => token_reply("tok-1"),
        _ => respond(200, "<html>gateway</html>"),
    });
    let err = client.get_session("iss-1").unwrap_err();
    let Fault::Decode(decode) = &err.fault else {
        panic!("{err:?}")
    };
    assert_eq!(decode.status, http::StatusCode::OK);
    assert_eq!(fake.count(GET), 1);
}

#[test]
fn invalid_input_is_refused_before_anything_is_sent() {
    let (client, fake) = client_with(happy);
    let err = client.get_session("..").unwrap_err();
    assert!(matches!(err.fault, Fault::InvalidInput(_)), "{err:?}");
    let err = client
        .upload(
            &UploadFile::new("iss-1", "usr-1", DocumentType::Selfie).file_name("x.gif"),
            Source::bytes(b"GIF89a".to_vec()),
        )
        .unwrap_err();
    assert!(matches!(err.fault, Fault::InvalidInput(_)), "{err:?}");
    // Nothing at all was sent: not even the token request.
    assert!(fake.seen().is_empty(), "{:?}", fake.seen().len());
}

fn upload_handler(fail_first: usize) -> impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static {
    move |seen, n| match seen.path.as_str() {
        TOKEN => token_reply("tok-1"),
        _ if n < fail_first => respond(503, ""),
        _ => respond(201, r#"{"data":{"id":"fil-1","size":5}}"#),
    }
}

const UPLOAD: &str = "/identity/v1/sessions/iss-1/entities/usr-1/files/selfie";

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kyc-ureq-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn an_upload_from_a_path_is_streamed_with_its_length_and_retried_whole() {
    let (client, fake) = client_with(upload_handler(1));
    let jpeg = b"\xFF\xD8\xFF\xE0 a tiny jpeg".to_vec();
    let path = temp_file("selfie.jpg", &jpeg);
    let info = client
        .upload_path("iss-1", "usr-1", DocumentType::Selfie, &path)
        .unwrap();
    assert_eq!(info.id.as_deref(), Some("fil-1"));
    let sent = fake.on(UPLOAD);
    assert_eq!(sent.len(), 2);
    for s in &sent {
        assert!(s.streamed);
        assert_eq!(
            s.header("content-length").unwrap(),
            s.body.len().to_string()
        );
        assert!(s.body.windows(jpeg.len()).any(|w| w == jpeg.as_slice()));
        assert!(String::from_utf8_lossy(&s.body).contains("filename=\"selfie.jpg\""));
        assert!(String::from_utf8_lossy(&s.body).contains("Content-Type: image/jpeg"));
    }
    assert_eq!(sent[0].body, sent[1].body);
    assert_eq!(
        sent[0].header("x-idempotency-key"),
        sent[1].header("x-idempotency-key")
    );
}

#[test]
fn an_upload_from_a_reader_is_not_retried_once_its_bytes_were_read() {
    let (client, fake) = client_with(upload_handler(1));
    let png = b"\x89PNG\r\n\x1a\n rest of a png".to_vec();
    let len = png.len() as u64;
    let err = client
        .upload(
            &UploadFile::new("iss-1", "usr-1", DocumentType::Selfie).file_name("s.png"),
            Source::reader(Box::new(io::Cursor::new(png)), len),
        )
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(fake.count(UPLOAD), 1);
}

#[test]
fn an_upload_from_a_reader_is_retried_when_nothing_was_read() {
    let uploads = Arc::new(AtomicUsize::new(0));
    let counter = uploads.clone();
    let transport = move |req: http::Request<SendBody>| -> Reply {
        if req.uri().path() == TOKEN {
            return token_reply("tok-1");
        }
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            // Refused before any body byte was read: the body is dropped unread.
            return Err(TransportError::new(TransportErrorKind::Connect, false));
        }
        let body = req.into_body().into_bytes()?;
        assert!(body.windows(13).any(|w| w == b"%PDF-1.7 body"));
        respond(201, r#"{"data":{"id":"fil-2"}}"#)
    };
    let client = Client::builder(
        Config::new(Environment::Sandbox).unwrap(),
        Credentials::new("cli-1", "s"),
    )
    .transport(transport)
    .retry_policy(fast_retries())
    .build();
    let pdf = b"%PDF-1.7 body".to_vec();
    let len = pdf.len() as u64;
    let info = client
        .upload(
            &UploadFile::new("iss-1", "usr-1", DocumentType::Selfie).file_name("d.pdf"),
            Source::reader(Box::new(io::Cursor::new(pdf)), len),
        )
        .unwrap();
    assert_eq!(info.id.as_deref(), Some("fil-2"));
    assert_eq!(uploads.load(Ordering::SeqCst), 2);
}

#[test]
fn a_reader_shorter_than_declared_is_a_source_error_and_not_retried() {
    let (client, fake) = client_with(upload_handler(0));
    let jpeg = b"\xFF\xD8\xFF short".to_vec();
    let err = client
        .upload(
            &UploadFile::new("iss-1", "usr-1", DocumentType::Selfie).file_name("s.jpg"),
            Source::reader(Box::new(io::Cursor::new(jpeg)), 1000),
        )
        .unwrap_err();
    // An upload's error carries the idempotency key it was sent with (issue #12).
    assert_eq!(
        err.idempotency_key.as_ref().map(|k| k.as_str().len()),
        Some(32)
    );
    match &err.fault {
        Fault::Source(e) => assert_eq!(e.kind(), SourceErrorKind::LengthChanged),
        other => panic!("{other:?}"),
    }
    // The token request, then one upload attempt whose body failed mid-way; no retry.
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    assert_eq!(fake.count(UPLOAD), 0);
}

#[test]
fn a_missing_file_is_a_source_error_naming_the_path() {
    let (client, fake) = client_with(happy);
    let err = client
        .upload_path(
            "iss-1",
            "usr-1",
            DocumentType::Selfie,
            "/nonexistent/kyc/selfie.jpg",
        )
        .unwrap_err();
    match &err.fault {
        Fault::Source(e) => {
            assert_eq!(e.kind(), SourceErrorKind::Open);
            assert!(e.path().is_some());
        }
        other => panic!("{other:?}"),
    }
    assert!(fake.seen().is_empty());
}

#[test]
fn a_streamed_upload_given_to_execute_without_a_stream_is_refused() {
    let (client, fake) = client_with(happy);
    let upload = UploadFile::from_stream(
        "iss-1",
        "usr-1",
        DocumentType::Selfie,
        "s.jpg",
        b"\xFF\xD8\xFF",
        10,
    );
    let err = client.execute(&upload).unwrap_err();
    assert!(matches!(&err.fault, Fault::Source(e) if e.kind() == SourceErrorKind::Missing));
    assert_eq!(fake.count(UPLOAD), 0);
}

fn page(ids: &[&str], current: u64, total: u64) -> String {
    let sessions: Vec<String> = ids.iter().map(|id| format!(r#"{{"id":"{id}"}}"#)).collect();
    format!(
        r#"{{"data":[{}],"meta":{{"pagination":{{"total_pages":{total},"current_page":{current},"page_size":2,"total_items":5}}}}}}"#,
        sessions.join(",")
    )
}

fn query_map(seen: &Seen) -> HashMap<String, String> {
    seen.query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.replace("%5B", "[").replace("%5D", "]"), v.to_owned()))
        .collect()
}

#[test]
fn search_all_fetches_pages_lazily_until_the_last() {
    let (client, fake) = client_with(|seen, _| match seen.path.as_str() {
        TOKEN => token_reply("tok-1"),
        _ => {
            let q = query_map(seen);
            match q.get("page[number]").map(String::as_str) {
                None | Some("0") => respond(200, &page(&["iss-a", "iss-b"], 0, 3)),
                Some("1") => respond(200, &page(&["iss-c", "iss-d"], 1, 3)),
                Some("2") => respond(200, &page(&["iss-e"], 2, 3)),
                Some(_) => respond(500, "asked past the last page"),
            }
        }
    });
    let mut all = client.search_all(SearchSessions::new().page_size(2));
    assert_eq!(
        fake.count("/identity/v1/sessions"),
        0,
        "nothing before the first next()"
    );
    let first = all.next().unwrap().unwrap();
    assert_eq!(first.id.as_str(), "iss-a");
    assert_eq!(all.pages_fetched(), 1);
    let rest: Vec<String> = all.by_ref().map(|s| s.unwrap().id.0).collect();
    assert_eq!(rest, ["iss-b", "iss-c", "iss-d", "iss-e"]);
    assert_eq!(all.pages_fetched(), 3);
    assert!(all.next().is_none());
    assert_eq!(fake.count("/identity/v1/sessions"), 3);
}

#[test]
fn search_all_stops_on_an_empty_page_and_after_an_error() {
    let (client, fake) = client_with(|seen, n| match seen.path.as_str() {
        TOKEN => token_reply("tok-1"),
        _ if n == 0 => respond(200, &page(&[], 0, 9)),
        _ => respond(500, ""),
    });
    assert_eq!(client.search_all(SearchSessions::new()).count(), 0);
    assert_eq!(fake.count("/identity/v1/sessions"), 1);

    let mut failing = client.search_all(SearchSessions::new());
    assert!(failing.next().unwrap().is_err());
    assert!(failing.next().is_none());
}

#[test]
fn revoke_forgets_the_token_so_the_next_call_fetches_one() {
    let (client, fake) = client_with(|seen, n| match seen.path.as_str() {
        TOKEN => token_reply(&format!("tok-{n}")),
        "/oauth/token/revoke" => respond(200, "{}"),
        _ => respond(200, SESSION),
    });
    client.get_session("iss-1").unwrap();
    client.revoke_token().unwrap();
    let revoke = &fake.on("/oauth/token/revoke")[0];
    assert_eq!(revoke.method, "POST");
    assert!(revoke.header("authorization").is_none());
    client.get_session("iss-1").unwrap();
    assert_eq!(fake.count(TOKEN), 2);
    assert_eq!(
        fake.on(GET)[1].header("authorization"),
        Some("Bearer tok-1")
    );
}

#[test]
fn no_secret_in_debug_or_display() {
    let (client, _) = client_with(|seen, _| match seen.path.as_str() {
        TOKEN => token_reply("tok-secret-1"),
        _ => respond(401, ""),
    });
    let err = client.get_session("iss-1").unwrap_err();
    let (token_err, _) =
        client_with(|_, _| respond(401, r#"{"error":{"message":"very-secret-value"}}"#));
    let token_err = token_err.token().unwrap_err();
    let shown = format!("{client:?} {err:?} {err} {token_err:?} {token_err}");
    for secret in ["very-secret-value", "tok-secret-1"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[test]
fn huge_timeouts_do_not_overflow_the_clock() {
    let (builder, fake) = builder_with(happy);
    let client = builder
        .overall_timeout(Duration::MAX)
        .attempt_timeout(Duration::MAX)
        .build();
    client.get_session("iss-1").unwrap();
    assert!(fake.on(GET)[0].timeout.unwrap() > Duration::from_secs(3600));
}

/// The transport error of `err`, which must be one.
fn transport(err: &Error) -> &TransportError {
    match &err.fault {
        Fault::Transport(t) => t,
        other => panic!("not a transport error: {other:?}"),
    }
}

/// The API error of `err`, which must be one.
fn api(err: &Error) -> &kyc_core::ApiError {
    match &err.fault {
        Fault::Api(a) => a,
        other => panic!("not an API error: {other:?}"),
    }
}
