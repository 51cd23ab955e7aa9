//! The async client's own logic over closure transports: no network, every request seen. The
//! behaviour shared with kyc-ureq is proven by the workspace's conformance suite; these cover what
//! is async-specific (tasks sharing one token fetch, the reader lent to an attempt, the client's
//! guard against a transport that never answers).

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kyc_core::{Config, Credentials, DocumentType, Environment, RetryPolicy, UploadFile};

use kyc_reqwest::{
    Client, Error, Fault, SendBody, Source, SourceErrorKind, Stage, TransportError,
    TransportErrorKind,
};

type Reply = Result<http::Response<Vec<u8>>, TransportError>;

fn respond(status: u16, body: &str) -> Reply {
    Ok(http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap())
}

const TOKEN: &str = "/oauth/token";
const SESSION: &str = r#"{"data":{"id":"iss-1"}}"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

/// A client whose transport records each path and answers with `handler(path, calls before)`.
fn client_with(
    handler: impl Fn(&str, usize) -> (Duration, Reply) + Send + Sync + 'static,
) -> (Client, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let handler = Arc::new(handler);
    let transport = move |req: http::Request<SendBody>| {
        let path = req.uri().path().to_owned();
        let before = {
            let mut all = log.lock().unwrap();
            let n = all.iter().filter(|p| **p == path).count();
            all.push(path.clone());
            n
        };
        let handler = handler.clone();
        async move {
            // Read the body as a real transport would (streams fail here, not later).
            req.into_body().into_bytes().await?;
            let (delay, reply) = handler(&path, before);
            tokio::time::sleep(delay).await;
            reply
        }
    };
    let client = Client::builder(
        Config::new(Environment::Sandbox).unwrap(),
        Credentials::new("cli-1", "very-secret-value"),
    )
    .transport(transport)
    .retry_policy(
        RetryPolicy::default()
            .max_attempts(4)
            .backoff(Duration::from_millis(1), Duration::from_millis(5)),
    )
    // Refused credentials are remembered this long (issue #18).
    .token_refusal_memory(Duration::from_millis(200))
    .build();
    (client, seen)
}

fn count(seen: &Mutex<Vec<String>>, path: &str) -> usize {
    seen.lock().unwrap().iter().filter(|p| *p == path).count()
}

#[test]
fn tasks_share_one_token_fetch_and_its_failure() {
    let fail = Arc::new(AtomicUsize::new(1));
    let failing = fail.clone();
    let (client, seen) = client_with(move |path, _| match path {
        TOKEN if failing.load(Ordering::SeqCst) == 1 => (
            Duration::from_millis(100),
            respond(401, r#"{"error":{"message":"no","details":[]}}"#),
        ),
        TOKEN => (
            Duration::from_millis(100),
            respond(200, r#"{"access_token":"tok-1","expires_in":3600}"#),
        ),
        _ => (Duration::ZERO, respond(200, SESSION)),
    });
    let rt = runtime();
    let run_many = |client: &Client| {
        rt.block_on(async {
            let tasks: Vec<_> = (0..10)
                .map(|_| {
                    let client = client.clone();
                    tokio::spawn(async move { client.get_session("iss-1").await })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        })
    };
    for result in run_many(&client) {
        let err = result.unwrap_err();
        assert_eq!(err.stage, Stage::Token, "{err:?}");
        assert_eq!(err.status(), Some(http::StatusCode::UNAUTHORIZED));
    }
    assert_eq!(count(&seen, TOKEN), 1, "one fetch, its failure shared");
    fail.store(0, Ordering::SeqCst);
    // Within the refusal memory: refused again without a request.
    assert!(run_many(&client).iter().all(Result::is_err));
    assert_eq!(count(&seen, TOKEN), 1);
    std::thread::sleep(Duration::from_millis(250));
    assert!(run_many(&client).iter().all(Result::is_ok));
    assert_eq!(count(&seen, TOKEN), 2);
    assert_eq!(count(&seen, "/identity/v1/sessions/iss-1"), 10);
}

#[test]
fn a_reader_is_retried_only_while_none_of_its_bytes_were_read() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let transport = move |req: http::Request<SendBody>| {
        let first = req.uri().path() != TOKEN && counter.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if req.uri().path() == TOKEN {
                return respond(200, r#"{"access_token":"tok-1"}"#);
            }
            if first {
                // Refused before any body byte was read: the body is dropped unread.
                return Err(TransportError::new(TransportErrorKind::Connect, false));
            }
            let body = req.into_body().into_bytes().await?;
            assert!(body.windows(13).any(|w| w == b"%PDF-1.7 body"));
            respond(503, "")
        }
    };
    let client = Client::builder(
        Config::new(Environment::Sandbox).unwrap(),
        Credentials::new("cli-1", "s"),
    )
    .transport(transport)
    .retry_policy(
        RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(1)),
    )
    .build();
    let pdf = b"%PDF-1.7 body".to_vec();
    let len = pdf.len() as u64;
    let err = runtime()
        .block_on(client.upload(
            &UploadFile::new("iss-1", "usr-1", DocumentType::Selfie).file_name("d.pdf"),
            Source::reader(Box::new(std::io::Cursor::new(pdf)), len),
        ))
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        2,
        "retried after the unread refusal, not after the 503 that read it"
    );
}

#[test]
fn a_reader_shorter_than_declared_is_a_source_error() {
    let (client, seen) = client_with(|path, _| match path {
        TOKEN => (Duration::ZERO, respond(200, r#"{"access_token":"tok-1"}"#)),
        _ => (Duration::ZERO, respond(201, r#"{"data":{"id":"fil-1"}}"#)),
    });
    let err = runtime()
        .block_on(client.upload(
            &UploadFile::new("iss-1", "usr-1", DocumentType::Selfie).file_name("s.jpg"),
            Source::reader(
                Box::new(std::io::Cursor::new(b"\xFF\xD8\xFF short".to_vec())),
                1000,
            ),
        ))
        .unwrap_err();
    // An upload's error carries the idempotency key it was sent with (issue #12).
    assert!(err.idempotency_key.is_some(), "{err:?}");
    assert!(
        matches!(&err.fault, Fault::Source(e) if e.kind() == SourceErrorKind::LengthChanged),
        "{err:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 2, "token, then one attempt");
}

#[test]
fn a_transport_that_never_answers_is_cut_off_after_the_attempt_timeout() {
    let hanging = |req: http::Request<SendBody>| async move {
        if req.uri().path() == TOKEN {
            return respond(200, r#"{"access_token":"tok-1"}"#);
        }
        std::future::pending::<()>().await;
        respond(200, SESSION)
    };
    let client = Client::builder(
        Config::new(Environment::Sandbox).unwrap(),
        Credentials::new("c", "s"),
    )
    .transport(hanging)
    .retry_policy(RetryPolicy::never())
    .attempt_timeout(Duration::from_millis(100))
    .build();
    let started = std::time::Instant::now();
    let err = runtime().block_on(client.get_session("iss-1")).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(transport(&err).may_have_reached_server());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn invalid_input_is_refused_before_anything_is_sent() {
    let (client, seen) = client_with(|_, _| (Duration::ZERO, respond(200, "{}")));
    let rt = runtime();
    let err = rt.block_on(client.get_session("..")).unwrap_err();
    assert!(matches!(err.fault, Fault::InvalidInput(_)), "{err:?}");
    let gif = b"GIF89a".to_vec();
    let err = rt
        .block_on(client.upload(
            &UploadFile::new("iss-1", "usr-1", DocumentType::Selfie).file_name("x.gif"),
            Source::bytes(gif),
        ))
        .unwrap_err();
    assert!(matches!(err.fault, Fault::InvalidInput(_)), "{err:?}");
    // Nothing at all was sent: not even the token request.
    assert!(seen.lock().unwrap().is_empty());
}

/// The transport error of `err`, which must be one.
fn transport(err: &Error) -> &TransportError {
    match &err.fault {
        Fault::Transport(t) => t,
        other => panic!("not a transport error: {other:?}"),
    }
}
