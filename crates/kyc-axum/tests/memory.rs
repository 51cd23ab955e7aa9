//! How long the receiver remembers a handled delivery, and what it forgets when full: a retry
//! that Pomelo signs again, later than the freshness window, is still recognised (24 h by
//! default, a setting); a full guard forgets handled deliveries, never one being handled.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use kyc_axum::WebhookReceiver;
use kyc_core::webhook::{Verifier, WebhookKeys, WebhookSecret, sign};

const API_KEY: &str = "memory-key";
const SECRET: &str = "uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=";
const PATH: &str = "/hooks/identity";
const START: u64 = 1_700_000_000;

/// The receivers' clock, moved by the tests (one test moves it: the others read their own).
static NOW: AtomicU64 = AtomicU64::new(START);

fn clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW.load(Ordering::SeqCst))
}

fn receiver() -> WebhookReceiver {
    let keys = WebhookKeys::new().with(API_KEY, WebhookSecret::from_base64(SECRET).unwrap());
    WebhookReceiver::new(Verifier::new(keys)).clock(clock)
}

/// Event `id`, signed at the clock's time.
fn delivery(id: &str) -> (HeaderMap, Vec<u8>) {
    let body = format!(
        r#"{{"event_id":"{id}","event_type":"identity.session.status_changed","data":{{"session_id":"iss-1","status":"VALIDATED"}}}}"#
    );
    let mut headers = HeaderMap::new();
    let secret = WebhookSecret::from_base64(SECRET).unwrap();
    sign(
        API_KEY,
        &secret,
        PATH,
        NOW.load(Ordering::SeqCst),
        body.as_bytes(),
    )
    .apply(&mut headers)
    .unwrap();
    (headers, body.into_bytes())
}

#[test]
fn a_retry_signed_again_after_the_window_is_recognised_for_the_memory_s_length() {
    let (default, short) = (
        receiver(),
        receiver().replay_memory(Duration::from_secs(60)),
    );
    for receiver in [&default, &short] {
        let (headers, body) = delivery("evt-late");
        receiver.verify(&headers, &body).unwrap().receipt.commit();
    }
    // Ten minutes later, past the 5-minute freshness window, signed again: the default memory
    // (24 h) knows it; a memory set shorter than the window is the window, and it is gone.
    NOW.store(START + 600, Ordering::SeqCst);
    let (headers, body) = delivery("evt-late");
    assert_eq!(
        default.verify(&headers, &body).unwrap_err().reason(),
        "repeated"
    );
    assert!(
        short.verify(&headers, &body).is_ok(),
        "forgotten after 300 s"
    );
    // A day and a bit later, the default forgets too.
    NOW.store(START + 24 * 3600 + 1, Ordering::SeqCst);
    let (headers, body) = delivery("evt-late");
    assert!(default.verify(&headers, &body).is_ok());
}

#[test]
fn a_full_guard_forgets_handled_deliveries_never_one_being_handled() {
    // The system clock: this test does not move the shared one.
    let keys = WebhookKeys::new().with(API_KEY, WebhookSecret::from_base64(SECRET).unwrap());
    let receiver = WebhookReceiver::new(Verifier::new(keys)).replay_capacity(1);
    let signed = |id: &str| {
        let body = format!(
            r#"{{"event_id":"{id}","data":{{"session_id":"iss-2","status":"VALIDATED"}}}}"#
        );
        let mut headers = HeaderMap::new();
        let secret = WebhookSecret::from_base64(SECRET).unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        sign(API_KEY, &secret, PATH, now, body.as_bytes())
            .apply(&mut headers)
            .unwrap();
        (headers, body.into_bytes())
    };
    let (h1, b1) = signed("evt-held");
    let held = receiver.verify(&h1, &b1).unwrap();
    // The guard is full (capacity 1) with a delivery being handled: another is taken beside it,
    // and a copy of the first is still in flight.
    let (h2, b2) = signed("evt-other");
    receiver.verify(&h2, &b2).unwrap().receipt.commit();
    assert_eq!(receiver.verify(&h1, &b1).unwrap_err().reason(), "in_flight");
    held.receipt.commit();
    assert_eq!(receiver.verify(&h1, &b1).unwrap_err().reason(), "repeated");
}
