//! A delivery counts as received only once its handler succeeded: a failed, panicked or
//! cancelled handler leaves it to be handled again, a copy arriving meanwhile is not answered
//! `2xx`, and one delivery is one whatever the spelling of its signature. In process, through
//! the router as axum serves it; every wait is on a signal from the handler, none on a timer.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use base64::Engine as _;
use kyc_axum::{ReceiptLayer, VerifiedEvent, WebhookReceiver};
use kyc_core::webhook::{Verifier, WebhookKeys, WebhookSecret, sign};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

const API_KEY: &str = "receipt-key";
const SECRET: &str = "uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=";
const PATH: &str = "/hooks/identity";
const NOW: u64 = 1_700_000_000;
const BODY: &[u8] = br#"{"data":{"session_id":"iss-1","status":"VALIDATED"}}"#;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

/// How the handler behaves on a call.
#[derive(Clone, Copy)]
enum Act {
    Answer(StatusCode),
    Panic,
    /// Tell the test it started, then answer what the test sends.
    Wait,
}

/// The service's state: the receiver, the script of the handler's calls (the last act repeats)
/// and what it needs to talk to the test.
#[derive(Clone)]
struct App {
    receiver: WebhookReceiver,
    calls: Arc<AtomicUsize>,
    script: Arc<Vec<Act>>,
    entered: mpsc::UnboundedSender<()>,
    release: Arc<Mutex<Option<oneshot::Receiver<StatusCode>>>>,
}

impl FromRef<App> for WebhookReceiver {
    fn from_ref(app: &App) -> Self {
        app.receiver.clone()
    }
}

async fn scripted(State(app): State<App>, VerifiedEvent(_event): VerifiedEvent) -> StatusCode {
    let call = app.calls.fetch_add(1, Ordering::SeqCst);
    let act = app.script[call.min(app.script.len() - 1)];
    match act {
        Act::Answer(status) => status,
        Act::Panic => panic!("the handler's database driver panicked"),
        Act::Wait => {
            app.entered.send(()).unwrap();
            let release = app.release.lock().unwrap().take().unwrap();
            release.await.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

struct Harness {
    router: Router,
    calls: Arc<AtomicUsize>,
    entered: mpsc::UnboundedReceiver<()>,
    release: Option<oneshot::Sender<StatusCode>>,
}

impl Harness {
    fn new(script: Vec<Act>) -> Self {
        Self::with(script, |router| router.layer(ReceiptLayer::new()), |r| r)
    }

    fn with(
        script: Vec<Act>,
        layer: impl FnOnce(Router<App>) -> Router<App>,
        receiver: impl FnOnce(WebhookReceiver) -> WebhookReceiver,
    ) -> Self {
        let secret = WebhookSecret::from_base64(SECRET).unwrap();
        let verifier =
            Verifier::new(WebhookKeys::new().with(API_KEY, secret)).expected_endpoint(PATH);
        let (entered_tx, entered) = mpsc::unbounded_channel();
        let (release, release_rx) = oneshot::channel();
        let app = App {
            receiver: receiver(WebhookReceiver::new(verifier).clock(now)),
            calls: Arc::default(),
            script: Arc::new(script),
            entered: entered_tx,
            release: Arc::new(Mutex::new(Some(release_rx))),
        };
        let calls = app.calls.clone();
        let router = layer(Router::new().route(PATH, post(scripted))).with_state(app);
        Self {
            router,
            calls,
            entered,
            release: Some(release),
        }
    }

    /// Sends `request` through the router; its status.
    async fn send(&self, request: Request) -> u16 {
        let response = self.router.clone().oneshot(request).await.unwrap();
        response.status().as_u16()
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Sends a delivery in a task of its own (as hyper serves a connection) and returns once its
    /// handler started (the script's first act must be `Act::Wait`).
    async fn first_in_flight(&mut self) -> JoinHandle<Result<Response, Infallible>> {
        let router = self.router.clone();
        let first = tokio::spawn(async move { router.oneshot(delivery()).await });
        self.entered.recv().await.unwrap();
        first
    }

    /// Lets the waiting handler answer `status`.
    fn release(&mut self, status: StatusCode) {
        self.release.take().unwrap().send(status).unwrap();
    }
}

fn delivery() -> Request {
    let secret = WebhookSecret::from_base64(SECRET).unwrap();
    let mut request = Request::post(PATH).body(Body::from(BODY)).unwrap();
    sign(API_KEY, &secret, PATH, NOW, BODY)
        .apply(request.headers_mut())
        .unwrap();
    request
}

/// The same delivery with its MAC written as base64, lowercase hex and uppercase hex.
fn spellings() -> Vec<Request> {
    let base64 = delivery();
    let signature = base64.headers()["x-signature"].to_str().unwrap().to_owned();
    let mac = base64::engine::general_purpose::STANDARD
        .decode(signature.trim_start_matches("hmac-sha256 "))
        .unwrap();
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    let mut requests = vec![base64];
    for text in [hex.clone(), hex.to_uppercase()] {
        let mut request = delivery();
        let value = format!("hmac-sha256 {text}").parse().unwrap();
        request.headers_mut().insert("x-signature", value);
        requests.push(request);
    }
    requests
}

const NO_CONTENT: Act = Act::Answer(StatusCode::NO_CONTENT);

#[tokio::test]
async fn a_delivery_whose_handler_failed_reaches_the_handler_again() {
    let harness = Harness::new(vec![
        Act::Answer(StatusCode::INTERNAL_SERVER_ERROR),
        NO_CONTENT,
    ]);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(harness.send(delivery()).await);
    }
    // Failed (Pomelo sends it again), handled, then known.
    assert_eq!(statuses, [500, 204, 200]);
    assert_eq!(harness.calls(), 2);
}

#[tokio::test]
async fn one_delivery_respelled_is_one_delivery() {
    let harness = Harness::new(vec![NO_CONTENT]);
    let mut statuses = Vec::new();
    for request in spellings() {
        statuses.push(harness.send(request).await);
    }
    assert_eq!(statuses, [204, 200, 200]);
    assert_eq!(harness.calls(), 1);
}

#[tokio::test]
async fn a_panicking_handler_leaves_the_delivery_unseen() {
    let harness = Harness::new(vec![Act::Panic, NO_CONTENT]);
    // As hyper serves a connection: in a task of its own, which the panic ends.
    let router = harness.router.clone();
    let panicked = tokio::spawn(async move { router.oneshot(delivery()).await }).await;
    assert!(panicked.unwrap_err().is_panic());
    assert_eq!(harness.send(delivery()).await, 204);
    assert_eq!(harness.send(delivery()).await, 200);
    assert_eq!(harness.calls(), 2);
}

#[tokio::test]
async fn a_cancelled_request_leaves_the_delivery_unseen() {
    let mut harness = Harness::new(vec![Act::Wait, NO_CONTENT]);
    let first = harness.first_in_flight().await;
    // A timeout layer firing, or the client going away: the request's future is dropped.
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    assert_eq!(harness.send(delivery()).await, 204);
    assert_eq!(harness.calls(), 2);
}

#[tokio::test]
async fn a_copy_arriving_while_the_first_is_handled_is_not_answered_2xx() {
    let mut harness = Harness::new(vec![Act::Wait, NO_CONTENT]);
    let first = harness.first_in_flight().await;

    // The first copy's outcome is not known: the second is told to come back.
    let response = harness.router.clone().oneshot(delivery()).await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(harness.calls(), 1, "the copy did not reach the handler");

    // The first succeeds; only now is a copy answered 200, unhandled.
    harness.release(StatusCode::NO_CONTENT);
    assert_eq!(
        first.await.unwrap().unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(harness.send(delivery()).await, 200);
    assert_eq!(harness.calls(), 1);
}

#[tokio::test]
async fn a_copy_that_was_told_to_come_back_is_handled_when_the_first_failed() {
    let mut harness = Harness::new(vec![Act::Wait, NO_CONTENT]);
    let first = harness.first_in_flight().await;
    assert_eq!(harness.send(delivery()).await, 409);
    harness.release(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        first.await.unwrap().unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(harness.send(delivery()).await, 204);
    assert_eq!(harness.calls(), 2);
}

#[tokio::test]
async fn without_the_layer_the_receiver_refuses_rather_than_guess() {
    let harness = Harness::with(vec![NO_CONTENT], |router| router, |r| r);
    let response = harness.router.clone().oneshot(delivery()).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(harness.calls(), 0);
    // With the replay guard off there is nothing to record: no layer needed, every copy handled.
    let open = Harness::with(vec![NO_CONTENT], |router| router, |r| r.replay_capacity(0));
    assert_eq!(open.send(delivery()).await, 204);
    assert_eq!(open.send(delivery()).await, 204);
    assert_eq!(open.calls(), 2);
}
