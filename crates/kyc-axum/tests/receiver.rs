//! End to end on loopback: kyc-mock delivers signed webhooks to an axum service using
//! `VerifiedEvent`, after a KYC flow driven through kyc-ureq; then a replayed, a tampered, an
//! unsigned and an oversized delivery are sent by hand.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::post;
use kyc_axum::{ReceiptLayer, VerifiedEvent, WebhookReceiver};
use kyc_core::webhook::{Event, Verifier, WebhookKeys, WebhookSecret};
use kyc_core::{
    Config, Country, CreateSession, Credentials, DocumentType, Environment, UploadFile,
};

const PATH: &str = "/hooks/identity";
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0xFF, 0xD9,
];

/// The service's state: the receiver and what the handler saw.
#[derive(Clone)]
struct App {
    receiver: WebhookReceiver,
    seen: Arc<Mutex<Vec<Event>>>,
}

impl FromRef<App> for WebhookReceiver {
    fn from_ref(app: &App) -> Self {
        app.receiver.clone()
    }
}

async fn identity(State(app): State<App>, VerifiedEvent(event): VerifiedEvent) -> StatusCode {
    app.seen.lock().unwrap().push(event);
    StatusCode::NO_CONTENT
}

/// Serves the app on 127.0.0.1 on a thread of its own; its base URL.
fn serve(app: App) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let router = Router::new()
                .route(PATH, post(identity))
                .layer(ReceiptLayer::new())
                .with_state(app);
            axum::serve(listener, router).await.unwrap();
        });
    });
    url
}

fn send(url: &str, headers: &[(String, String)], body: &[u8]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut request = agent.post(format!("{url}{PATH}"));
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let mut response = request.send(body).unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap())
}

#[test]
fn verified_events_reach_the_handler_once_and_nothing_else_does() {
    let secret = WebhookSecret::from_base64(kyc_mock::DEFAULT_WEBHOOK_SECRET).unwrap();
    let verifier =
        Verifier::new(WebhookKeys::new().with(kyc_mock::DEFAULT_WEBHOOK_API_KEY, secret))
            .expected_endpoint(PATH);
    let app = App {
        receiver: WebhookReceiver::new(verifier).body_limit(64 * 1024),
        seen: Arc::default(),
    };
    let url = serve(app.clone());

    let mock = kyc_mock::MockServer::start(
        kyc_mock::MockConfig::new()
            .processing_delay(Duration::ZERO)
            .webhook_url(format!("{url}{PATH}")),
    )
    .unwrap();
    let config = Config::builder(Environment::Sandbox)
        .base_url(mock.base_url())
        .build()
        .unwrap();
    let client = kyc_ureq::Client::new(
        config,
        Credentials::new(mock.client_id(), mock.client_secret()),
    );
    let user = "usr-axum";
    let session = client
        .create_session(&CreateSession::new(user, Country::Arg))
        .unwrap();
    for document in [
        DocumentType::Selfie,
        DocumentType::IdentityCardFront,
        DocumentType::IdentityCardBack,
    ] {
        let upload = UploadFile::new(session.id.clone(), user, document).file_name("doc.jpg");
        client
            .upload(&upload, kyc_ureq::Source::bytes(JPEG))
            .unwrap();
    }

    // The simulator's signed notification reached the handler, typed.
    let deliveries = mock.wait_for_webhook_deliveries(1, Duration::from_secs(10));
    let delivery = deliveries.first().expect("a delivery");
    assert_eq!(delivery.last_status(), Some(204), "{delivery:?}");
    {
        let seen = app.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let Event::ValidationSession(notification) = &seen[0] else {
            panic!("not a validation-session event: {:?}", seen[0]);
        };
        assert_eq!(notification.session_id.as_str(), session.id.as_str());
        assert_eq!(notification.status.to_string(), "VALIDATED");
    }

    // The same delivery again (Pomelo redelivering, or someone replaying it): 200, not handled.
    let headers = delivery.attempts.last().unwrap().headers.clone();
    let (status, body) = send(&url, &headers, &delivery.body);
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"status":"already_received"}"#)
    );
    assert_eq!(app.seen.lock().unwrap().len(), 1);

    // Tampered, unsigned, or signed for another endpoint: 401, the same body every time.
    let mut tampered = delivery.body.clone();
    tampered[0] ^= 0x20;
    let unsigned: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("x-signature"))
        .cloned()
        .collect();
    let elsewhere: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            if n.eq_ignore_ascii_case("x-endpoint") {
                (n.clone(), "/other".to_owned())
            } else {
                (n.clone(), v.clone())
            }
        })
        .collect();
    for (headers, body) in [
        (&headers, &tampered),
        (&unsigned, &delivery.body),
        (&elsewhere, &delivery.body),
    ] {
        let (status, text) = send(&url, headers, body);
        assert_eq!(
            (status, text.as_str()),
            (401, r#"{"error":"unauthenticated"}"#)
        );
    }
    // Over the receiver's body limit: 413 before any verification.
    let (status, _) = send(&url, &headers, &vec![b' '; 65 * 1024]);
    assert_eq!(status, 413);
    assert_eq!(
        app.seen.lock().unwrap().len(),
        1,
        "nothing else reached the handler"
    );
}

#[test]
fn rejections_say_why_for_logs_and_answer_alike() {
    use axum::response::IntoResponse;
    let verifier = Verifier::new(WebhookKeys::new());
    let receiver = WebhookReceiver::new(verifier);
    let rejection = receiver.verify(&http::HeaderMap::new(), b"{}").unwrap_err();
    assert_eq!(rejection.reason(), "missing_header");
    assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
    let response = rejection.into_response();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
    // Turning the guard off lets every authenticated delivery through (nothing to test here
    // without a signature; the setting must at least build and keep the verifier).
    let open = receiver.replay_capacity(0);
    assert!(format!("{open:?}").contains("replay_guard: false"));
}
