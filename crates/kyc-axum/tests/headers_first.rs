//! A request that cannot be authentic is refused from its headers, before one byte of its body is
//! read: an unauthenticated client cannot make the receiver hold a body buffer (up to the body
//! limit) per connection. Each request's body here never ends and records whether it was polled;
//! the extractor is polled once, with no timer involved.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::convert::Infallible;
use std::future::Future as _;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use http::HeaderMap;
use kyc_axum::{Rejection, VerifiedEvent, WebhookReceiver};
use kyc_core::webhook::{Verifier, WebhookKeys, WebhookSecret, sign};

const API_KEY: &str = "headers-first-key";
const SECRET: &str = "uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=";
const PATH: &str = "/hooks/identity";
const NOW: u64 = 1_700_000_000;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

/// A body that never yields a byte and remembers whether anyone asked for one.
struct Watched(Arc<AtomicBool>);

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        self.0.store(true, Ordering::SeqCst);
        Poll::Pending
    }
}

fn receiver() -> WebhookReceiver {
    let secret = WebhookSecret::from_base64(SECRET).unwrap();
    let verifier = Verifier::new(WebhookKeys::new().with(API_KEY, secret)).expected_endpoint(PATH);
    // Polled without a router, so without ReceiptLayer: the replay guard is off (it is not what
    // these tests are about, and the extractor refuses to record deliveries without the layer).
    WebhookReceiver::new(verifier).clock(now).replay_capacity(0)
}

fn signed(api_key: &str, timestamp: u64) -> HeaderMap {
    let secret = WebhookSecret::from_base64(SECRET).unwrap();
    sign(api_key, &secret, PATH, timestamp, b"{}")
        .to_header_map()
        .unwrap()
}

/// Polls the extractor once on a request with `headers` and a body that never comes; what it
/// answered (if anything) and whether the body was read.
fn poll_once(headers: HeaderMap) -> (Poll<Result<VerifiedEvent, Rejection>>, bool) {
    let polled = Arc::new(AtomicBool::new(false));
    let mut request = Request::post(PATH)
        .header("content-length", "1000000")
        .body(Body::new(Watched(polled.clone())))
        .unwrap();
    request.headers_mut().extend(headers);
    let receiver = receiver();
    let mut extracting = pin!(VerifiedEvent::from_request(request, &receiver));
    let answer = extracting
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
    (answer, polled.load(Ordering::SeqCst))
}

#[test]
fn unsigned_unknown_and_stale_requests_are_refused_before_the_body_is_read() {
    let mut unsigned = signed(API_KEY, NOW);
    unsigned.remove("x-signature");
    for (headers, reason) in [
        (HeaderMap::new(), "missing_header"),
        (unsigned, "missing_header"),
        (signed("someone-else", NOW), "unknown_api_key"),
        (signed(API_KEY, NOW - 301), "stale"),
        (signed(API_KEY, NOW + 301), "future"),
    ] {
        let (answer, body_read) = poll_once(headers);
        let Poll::Ready(Err(rejection)) = answer else {
            panic!("{reason}: not refused at once ({answer:?})");
        };
        assert!(
            matches!(rejection, Rejection::Unauthenticated(ref e) if e.kind() == reason),
            "{rejection:?}"
        );
        assert!(!body_read, "{reason}: the body was read before the refusal");
    }
}

#[test]
fn a_request_whose_headers_pass_waits_for_its_body() {
    let (answer, body_read) = poll_once(signed(API_KEY, NOW));
    assert!(answer.is_pending(), "{answer:?}");
    assert!(body_read);
}
