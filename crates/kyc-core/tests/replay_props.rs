//! The replay guard's promises: inside the window and under its capacity it never forgets a
//! delivery; it never holds more than its capacity; and a delivery it forgot is one the verifier
//! refuses as stale anyway.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kyc_core::webhook::{Delivery, Event, ReplayGuard};
use proptest::prelude::*;

const WINDOW: u64 = 300;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

proptest! {
    #[test]
    fn never_forgets_inside_the_window_under_its_capacity(
        steps in proptest::collection::vec((0u8..12, 0u64..400, 0u64..60), 1..200),
    ) {
        // Twelve keys at most, room for all: nothing is evicted early.
        let mut guard = ReplayGuard::new(Duration::from_secs(WINDOW), 16);
        let mut until: HashMap<u8, u64> = HashMap::new();
        let mut now = 0u64;
        for (key, age, advance) in steps {
            now += advance;
            let signed = now.saturating_sub(age);
            let seen = guard.check_key(format!("k{key}"), at(signed), at(now));
            let live = until.get(&key).is_some_and(|u| now <= *u);
            prop_assert_eq!(seen == Delivery::Repeated, live, "key {} at {}", key, now);
            if !live {
                until.insert(key, signed.max(now) + WINDOW);
            }
        }
        prop_assert_eq!(guard.evicted_early(), 0);
    }

    #[test]
    fn holds_at_most_its_capacity_and_what_it_forgot_is_stale(
        capacity in 1usize..8,
        steps in proptest::collection::vec((0u16..1000, 0u64..400, 0u64..30), 1..300),
    ) {
        let mut guard = ReplayGuard::new(Duration::from_secs(WINDOW), capacity);
        let mut first_seen: HashMap<u16, u64> = HashMap::new();
        let mut now = 0u64;
        for (key, age, advance) in steps {
            now += advance;
            let signed = now.saturating_sub(age);
            let seen = guard.check_key(format!("k{key}"), at(signed), at(now));
            prop_assert!(guard.len() <= capacity);
            if seen == Delivery::First {
                if let Some(signed_before) = first_seen.get(&key) {
                    // Forgotten: its window passed (the verifier refuses it as stale), unless the
                    // capacity forced deliveries out early, which is counted.
                    let stale = now > signed_before + WINDOW;
                    prop_assert!(stale || guard.evicted_early() > 0);
                }
                first_seen.insert(key, signed);
            }
        }
    }
}

#[test]
fn a_delivery_is_known_by_its_event_id_or_else_its_signature() {
    let mut guard = ReplayGuard::new(Duration::from_secs(WINDOW), 100);
    let mut headers = http::HeaderMap::new();
    headers.insert("x-timestamp", "1700000000".parse().unwrap());
    headers.insert("x-signature", "hmac-sha256 abc".parse().unwrap());
    let with_id = Event::from_json(serde_json::json!({"event_id": "evt-1"}));
    let without = Event::from_json(serde_json::json!({"x": 1}));
    let now = at(10);
    assert_eq!(guard.check(&headers, &with_id, now), Delivery::First);
    assert_eq!(guard.check(&headers, &with_id, now), Delivery::Repeated);
    assert_eq!(guard.check(&headers, &without, now), Delivery::First);
    assert_eq!(guard.check(&headers, &without, now), Delivery::Repeated);
    headers.insert("x-signature", "hmac-sha256 other".parse().unwrap());
    assert_eq!(
        guard.check(&headers, &without, now),
        Delivery::First,
        "another signature"
    );
    // After the window: forgotten (and refused as stale by the verifier).
    assert_eq!(
        guard.check(&headers, &with_id, at(WINDOW + 11)),
        Delivery::First
    );
}

#[test]
fn a_window_too_large_to_add_remembers_instead_of_forgetting_at_once() {
    // `Duration::MAX` added to any instant overflows `SystemTime`: the delivery is remembered as
    // long as the capacity allows, not forgotten on the next call.
    let mut guard = ReplayGuard::new(Duration::MAX, 10);
    assert_eq!(
        guard.check_key("k".to_owned(), at(0), at(5)),
        Delivery::First
    );
    assert_eq!(
        guard.check_key("k".to_owned(), at(0), at(6)),
        Delivery::Repeated
    );
    assert_eq!(
        guard.check_key("k".to_owned(), at(0), at(1_000_000_000)),
        Delivery::Repeated
    );
    assert_eq!(guard.len(), 1);
}
