//! "When your Pomelo account differs": the simulator plays each alternative of
//! docs/wire-conventions.md, and every client copes, with the override the README names where
//! one is needed, or on its own where the reader and the pager are tolerant enough.

use std::time::Duration;

use kyc_core::webhook::{Event, Verifier, WebhookKeys, WebhookSecret};
use std::path::PathBuf;

use kyc_core::{
    ConfigBuilder, Country, CreateSession, DocumentType, GetSession, RetryPolicy, SearchSessions,
    UploadFile,
};
use kyc_mock::{Alternative, Fault, Route};

use crate::adapter::{From, Settings};
use crate::{Ctx, conform, mock};

fn data(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/kyc-cli/data")
        .join(name)
}

fn new_session(ctx: &mut Ctx, user: &str) -> String {
    let created = ctx.client.execute(&CreateSession::new(user, Country::Arg));
    ctx.check("create_session", created).unwrap().id.0
}

fn singular(builder: ConfigBuilder) -> ConfigBuilder {
    builder.get_session_path("/identity/v1/session/{session_id}")
}

#[test]
fn a_singular_get_session_path_is_corrected_by_the_path_override() {
    let server = mock().alternative(Alternative::SingularGetPath);
    conform(server.clone(), Settings::default(), |ctx| {
        let id = new_session(ctx, "usr-path");
        let get = ctx.client.execute(&GetSession::new(&id));
        assert_eq!(
            ctx.check("default path", get).unwrap_err().status,
            Some(404)
        );
    });
    let settings = Settings {
        configure: Some(singular),
        ..Settings::default()
    };
    conform(server, settings, |ctx| {
        let id = new_session(ctx, "usr-path");
        let get = ctx.client.execute(&GetSession::new(&id));
        ctx.check("POMELO_GET_SESSION_PATH", get).unwrap();
    });
}

fn walk(ctx: &mut Ctx, user: &str) -> (usize, u64, Vec<String>) {
    for _ in 0..7 {
        new_session(ctx, user);
    }
    let (all, pages) = ctx.client.search_all(
        SearchSessions::new()
            .user_id(user)
            .page_size(3)
            .sort(kyc_core::Sort::asc("created_at")),
    );
    let mut ids = Vec::new();
    let mut errors = 0;
    for item in all {
        match ctx.check("item", item) {
            Ok(session) => ids.push(session.id.0),
            Err(_) => errors += 1,
        }
    }
    (errors, pages, ids)
}

#[test]
fn a_one_based_server_is_walked_whole_with_or_without_the_first_page_setting() {
    let server = mock().alternative(Alternative::OneBasedPages);
    for configure in [
        None,
        Some((|b| b.first_page(1)) as fn(ConfigBuilder) -> ConfigBuilder),
    ] {
        let settings = Settings {
            configure,
            ..Settings::default()
        };
        conform(server.clone(), settings, |ctx| {
            let (errors, pages, ids) = walk(ctx, "usr-one-based");
            assert_eq!((errors, pages, ids.len()), (0, 3, 7), "{ids:?}");
        });
    }
}

#[test]
fn a_server_stuck_on_current_page_zero_is_walked_whole_without_asking_twice() {
    let runs = conform(
        mock().alternative(Alternative::StuckCurrentPage),
        Settings::default(),
        |ctx| {
            let (errors, pages, ids) = walk(ctx, "usr-stuck");
            assert_eq!((errors, pages, ids.len()), (0, 3, 7));
        },
    );
    for run in &runs {
        let asked: Vec<_> = run
            .requests
            .iter()
            .filter(|r| r.method == "GET")
            .map(|r| r.query.clone())
            .collect();
        assert_eq!(asked.len(), 3, "{}: {asked:?}", run.adapter);
    }
}

#[test]
fn a_server_that_ignores_page_number_ends_the_walk_with_an_error_not_a_loop() {
    let runs = conform(
        mock().alternative(Alternative::IgnoresPageNumber),
        Settings::default(),
        |ctx| {
            let (errors, pages, ids) = walk(ctx, "usr-ignores");
            // The first page's three sessions, then the stop.
            assert_eq!((errors, pages, ids.len()), (1, 2, 3));
        },
    );
    for run in &runs {
        let searches = run.requests.iter().filter(|r| r.method == "GET").count();
        assert_eq!(searches, 2, "{}", run.adapter);
    }
}

#[test]
fn fractional_file_sizes_are_read_and_kept() {
    conform(
        mock().alternative(Alternative::FractionalSizes),
        Settings::default(),
        |ctx| {
            let id = new_session(ctx, "usr-sizes");
            let uploaded = ctx.client.upload(
                &UploadFile::new(&id, "usr-sizes", DocumentType::Selfie),
                From::Path(PathBuf::from(&data("selfie.jpg"))),
            );
            let file = ctx.check("upload", uploaded).unwrap();
            let size = file.size.unwrap();
            assert!(size.is_f64() && size.as_f64().unwrap() < 0.001, "{size}");
            let session = ctx.client.execute(&GetSession::new(&id));
            let session = ctx.check("get_session", session).unwrap();
            assert_eq!(session.files.len(), 1);
        },
    );
}

#[test]
fn a_server_that_ignores_idempotency_keys_applies_a_resent_create_twice_unless_the_policy_says_not_to()
 {
    // The first attempt is processed at once, but its answer comes after 1 s while the attempt
    // may take 0.3 s: the client resends, under the same key.
    let server = || mock().alternative(Alternative::IgnoresIdempotencyKeys);
    let resend = Settings {
        attempt_timeout: Duration::from_millis(300),
        ..Settings::default()
    };
    let runs = conform(server(), resend.clone(), |ctx| {
        let token = ctx.client.token();
        ctx.check("token", token).unwrap();
        ctx.server
            .inject_fault(Route::CreateSession, processed_then_slow(), 1);
        new_session(ctx, "usr-twice");
        std::thread::sleep(Duration::from_millis(900));
        ctx.note(format!("sessions stored: {}", ctx.server.session_count()));
    });
    for run in &runs {
        assert!(
            run.transcript.iter().any(|l| l == "sessions stored: 2"),
            "{}: the key was ignored, the create applied twice",
            run.adapter
        );
    }
    let careful = Settings {
        retry: resend.retry.clone().resend_creates(false),
        ..resend
    };
    conform(server(), careful, |ctx| {
        let token = ctx.client.token();
        ctx.check("token", token).unwrap();
        ctx.server
            .inject_fault(Route::CreateSession, processed_then_slow(), 1);
        let created = ctx
            .client
            .execute(&CreateSession::new("usr-once", Country::Arg));
        let failure = ctx.check("timed out, not resent", created).unwrap_err();
        assert_eq!(failure.detail, "Timeout reached=true");
        assert!(failure.keyed, "the error names the key it was sent with");
        std::thread::sleep(Duration::from_millis(900));
        ctx.note(format!("sessions stored: {}", ctx.server.session_count()));
    });
}

/// A create the simulator applies at once and answers a second later.
fn processed_then_slow() -> Fault {
    Fault::Trickle {
        head_after: Duration::from_secs(1),
        body_over: Duration::ZERO,
    }
}

#[test]
fn hex_webhook_signatures_verify() {
    let received = std::sync::Mutex::new(None);
    let with_receiver = || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/identity", listener.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || crate::scenarios::receive_one(listener, tx));
        *received.lock().unwrap() = Some(rx);
        mock()
            .webhook_url(url)
            .alternative(Alternative::HexSignatures)
    };
    crate::conform_with(with_receiver, Settings::default(), |ctx| {
        let user = "usr-hex";
        let id = new_session(ctx, user);
        for (document, file) in [
            (DocumentType::Selfie, "selfie.jpg"),
            (DocumentType::IdentityCardFront, "identity-card-front.png"),
            (DocumentType::IdentityCardBack, "identity-card-back.png"),
        ] {
            let uploaded = ctx.client.upload(
                &UploadFile::new(&id, user, document),
                From::Path(PathBuf::from(&data(file))),
            );
            ctx.check("upload", uploaded).unwrap();
        }
        let rx = received.lock().unwrap().take().unwrap();
        let (headers, body) = rx.recv_timeout(Duration::from_secs(15)).unwrap();
        let signature = headers["x-signature"].to_str().unwrap().to_owned();
        assert_eq!(signature.len(), "hmac-sha256 ".len() + 64, "{signature}");
        let verifier = Verifier::new(WebhookKeys::new().with(
            ctx.server.webhook_api_key(),
            WebhookSecret::from_base64(ctx.server.webhook_secret()).unwrap(),
        ));
        let event = verifier.verify(&headers, &body, std::time::SystemTime::now());
        assert!(
            matches!(event, Ok(Event::ValidationSession(_))),
            "{event:?}"
        );
        ctx.note("hex-signed webhook verified");
    });
}

#[test]
fn creating_calls_under_the_callers_key_send_it_and_a_failure_names_it() {
    let settings = Settings {
        retry: RetryPolicy::never(),
        ..Settings::default()
    };
    let runs = conform(mock(), settings, |ctx| {
        let key = kyc_core::IdempotencyKey::new("job-7-create").unwrap();
        ctx.server
            .inject_fault(Route::CreateSession, Fault::status(503), 1);
        let create = CreateSession::new("usr-key", Country::Arg).idempotency_key(key.clone());
        let failed = ctx.client.execute(&create);
        assert!(ctx.check("503", failed).unwrap_err().keyed);
        let again = ctx.client.execute(&create);
        ctx.check("again under the same key", again).unwrap();
    });
    for run in &runs {
        let keys: Vec<_> = run
            .requests
            .iter()
            .filter(|r| r.path == "/identity/v2/sessions")
            .map(|r| r.header("x-idempotency-key").unwrap().to_owned())
            .collect();
        assert_eq!(keys, ["job-7-create", "job-7-create"], "{}", run.adapter);
    }
}

#[test]
fn a_format_the_library_does_not_detect_is_sent_with_its_content_type() {
    conform(
        mock().alternative(Alternative::MoreFormats),
        Settings::default(),
        |ctx| {
            let id = new_session(ctx, "usr-webp");
            let webp = b"RIFF\x10\x00\x00\x00WEBPVP8 webp picture".to_vec();
            let undetected = kyc_core::UploadFile::from_bytes(
                id.as_str(),
                "usr-webp",
                DocumentType::Selfie,
                "selfie.webp",
                webp.clone(),
            );
            let refused = ctx.client.execute(&undetected);
            assert_eq!(
                ctx.check("undetected", refused).unwrap_err().kind,
                "invalid_input"
            );
            let typed = undetected.content_type("image/webp");
            let sent = ctx.client.execute(&typed);
            let file = ctx.check("with its type", sent).unwrap();
            assert_eq!(file.content_type.as_deref(), Some("image/webp"));
        },
    );
}
