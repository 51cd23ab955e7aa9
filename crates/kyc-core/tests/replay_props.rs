//! The replay guard's promises: a delivery is reported handled (`Done`) only after a ticket for it
//! was committed, whatever the interleaving of arrivals, commits, abandons and the clock; inside
//! the window and under its capacity it never forgets a handled delivery; it never forgets a
//! delivery in flight early, and holds no more than its capacity otherwise; a delivery it forgot is one the verifier refuses as stale anyway; and a delivery
//! is one key whatever the spelling of its signature.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};
use kyc_core::webhook::{
    Begin, DeliveryKey, Event, ReplayGuard, Ticket, Verifier, WebhookKeys, WebhookSecret, sign,
};
use proptest::prelude::*;

const WINDOW: u64 = 300;
const LEASE: u64 = 60;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

/// A distinct key per small number.
fn key(n: u16) -> DeliveryKey {
    let event = Event::from_json(serde_json::json!({ "event_id": format!("evt-{n}") }));
    DeliveryKey::of(&HeaderMap::new(), b"", &event)
}

/// Begins and commits at once: a handler that always succeeds. Whether it was new.
fn handle(guard: &mut ReplayGuard, key: DeliveryKey, signed: SystemTime, now: SystemTime) -> bool {
    match guard.begin(key, signed, now) {
        Begin::New(ticket) => {
            guard.commit(ticket, now);
            true
        }
        Begin::InFlight | Begin::Done => false,
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// A delivery of key `n`, signed `age` seconds before now.
    Arrive { n: u16, age: u64 },
    /// The handler of the `i`-th outstanding ticket (modulo their number) succeeded.
    Commit(usize),
    /// It failed, panicked or was cancelled.
    Abandon(usize),
    /// The clock moves on.
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u16..6, 0u64..400).prop_map(|(n, age)| Step::Arrive { n, age }),
        2 => any::<usize>().prop_map(Step::Commit),
        2 => any::<usize>().prop_map(Step::Abandon),
        2 => prop_oneof![0u64..30, 0u64..400].prop_map(Step::Wait),
    ]
}

proptest! {
    #[test]
    fn a_delivery_is_never_done_unless_a_ticket_for_it_was_committed(
        capacity in 1usize..10,
        steps in proptest::collection::vec(step(), 1..300),
    ) {
        let mut guard = ReplayGuard::new(Duration::from_secs(WINDOW), capacity)
            .lease(Duration::from_secs(LEASE));
        // Tickets out: key, ticket, when begun, when signed.
        let mut outstanding: Vec<(u16, Ticket, u64, u64)> = Vec::new();
        // When each key's last commit happened, and until when it must be remembered.
        let mut committed: HashMap<u16, u64> = HashMap::new();
        let mut now = 0u64;
        for step in steps {
            match step {
                Step::Arrive { n, age } => {
                    let signed = now.saturating_sub(age);
                    match guard.begin(key(n), at(signed), at(now)) {
                        Begin::Done => prop_assert!(
                            committed.contains_key(&n),
                            "key {} reported done, never committed", n
                        ),
                        Begin::InFlight => {
                            // Only while a ticket for it is out and its lease has not ended.
                            prop_assert!(
                                outstanding.iter().any(|(k, _, begun, _)| *k == n && now <= begun + LEASE),
                                "key {} reported in flight with no live ticket", n
                            );
                        }
                        Begin::New(ticket) => {
                            prop_assert_eq!(ticket.key(), &key(n));
                            // Whatever the capacity, a delivery in flight is never forgotten
                            // early: a copy is never handled beside it. (Once another ticket of
                            // it committed, it is a handled delivery, which a full guard may
                            // forget early, counted.)
                            prop_assert!(
                                !outstanding.iter().any(|(k, _, begun, _)| *k == n && now <= begun + LEASE)
                                    || (committed.contains_key(&n) && guard.evicted_early() > 0),
                                "key {} taken as new while in flight", n
                            );
                            if capacity >= 6 {
                                // With room for every key, no commit of it is forgotten early.
                                prop_assert!(
                                    committed.get(&n).is_none_or(|until| now > *until),
                                    "key {} taken as new while remembered as handled", n
                                );
                            }
                            outstanding.push((n, ticket, now, signed));
                        }
                    }
                }
                Step::Commit(i) if !outstanding.is_empty() => {
                    let (n, ticket, _, signed) = outstanding.remove(i % outstanding.len());
                    // Remembered until the verifier would refuse the delivery as stale.
                    let until = signed.max(now) + WINDOW;
                    committed
                        .entry(n)
                        .and_modify(|u| *u = (*u).max(until))
                        .or_insert(until);
                    guard.commit(ticket, at(now));
                }
                Step::Abandon(i) if !outstanding.is_empty() => {
                    let (_, ticket, _, _) = outstanding.remove(i % outstanding.len());
                    guard.abandon(ticket);
                }
                Step::Commit(_) | Step::Abandon(_) => {}
                Step::Wait(secs) => now += secs,
            }
            // Handled deliveries make room; deliveries in flight are held past the capacity
            // (until their leases end) rather than forgotten.
            prop_assert!(guard.len() <= capacity.max(outstanding.len()));
        }
        if capacity >= 6 {
            prop_assert_eq!(guard.evicted_early(), 0);
        }
    }

    #[test]
    fn never_forgets_inside_the_window_under_its_capacity(
        steps in proptest::collection::vec((0u16..12, 0u64..400, 0u64..60), 1..200),
    ) {
        // Twelve keys at most, room for all: nothing is evicted early.
        let mut guard = ReplayGuard::new(Duration::from_secs(WINDOW), 16);
        let mut until: HashMap<u16, u64> = HashMap::new();
        let mut now = 0u64;
        for (n, age, advance) in steps {
            now += advance;
            let signed = now.saturating_sub(age);
            let new = handle(&mut guard, key(n), at(signed), at(now));
            let live = until.get(&n).is_some_and(|u| now <= *u);
            prop_assert_eq!(!new, live, "key {} at {}", n, now);
            if !live {
                until.insert(n, signed.max(now) + WINDOW);
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
        for (n, age, advance) in steps {
            now += advance;
            let signed = now.saturating_sub(age);
            let new = handle(&mut guard, key(n), at(signed), at(now));
            prop_assert!(guard.len() <= capacity);
            if new {
                if let Some(signed_before) = first_seen.get(&n) {
                    // Forgotten: its window passed (the verifier refuses it as stale), unless the
                    // capacity forced deliveries out early, which is counted.
                    let stale = now > signed_before + WINDOW;
                    prop_assert!(stale || guard.evicted_early() > 0);
                }
                first_seen.insert(n, signed);
            }
        }
    }
}

#[test]
fn a_failed_handler_leaves_the_delivery_to_be_handled_again() {
    let mut guard = ReplayGuard::new(Duration::from_secs(WINDOW), 100);
    let Begin::New(first) = guard.begin(key(1), at(0), at(0)) else {
        panic!("new")
    };
    assert_eq!(guard.begin(key(1), at(0), at(1)), Begin::InFlight);
    guard.abandon(first);
    let Begin::New(second) = guard.begin(key(1), at(0), at(2)) else {
        panic!("new again")
    };
    guard.commit(second, at(3));
    assert_eq!(guard.begin(key(1), at(0), at(4)), Begin::Done);
    // Remembered through the window's last instant after the commit, then forgotten.
    assert_eq!(guard.begin(key(1), at(0), at(3 + WINDOW)), Begin::Done);
    assert!(matches!(
        guard.begin(key(1), at(0), at(4 + WINDOW)),
        Begin::New(_)
    ));
}

#[test]
fn a_leaked_ticket_holds_its_delivery_for_its_lease_only() {
    let mut guard =
        ReplayGuard::new(Duration::from_secs(WINDOW), 100).lease(Duration::from_secs(LEASE));
    let Begin::New(leaked) = guard.begin(key(1), at(0), at(0)) else {
        panic!("new")
    };
    assert_eq!(guard.begin(key(1), at(0), at(LEASE)), Begin::InFlight);
    let Begin::New(second) = guard.begin(key(1), at(0), at(LEASE + 1)) else {
        panic!("the lease ended")
    };
    // The first ticket's late abandon does not free the second's delivery…
    guard.abandon(leaked);
    assert_eq!(guard.begin(key(1), at(0), at(LEASE + 2)), Begin::InFlight);
    // …and the second's commit records it.
    guard.commit(second, at(LEASE + 3));
    assert_eq!(guard.begin(key(1), at(0), at(LEASE + 4)), Begin::Done);
}

#[test]
fn a_window_too_large_to_add_remembers_instead_of_forgetting_at_once() {
    // `Duration::MAX` added to any instant overflows `SystemTime`: the delivery is remembered as
    // long as the capacity allows, not forgotten on the next call.
    let mut guard = ReplayGuard::new(Duration::MAX, 10);
    assert!(handle(&mut guard, key(1), at(0), at(5)));
    assert!(!handle(&mut guard, key(1), at(0), at(6)));
    assert!(!handle(&mut guard, key(1), at(0), at(1_000_000_000)));
    assert_eq!(guard.len(), 1);
    // A lease too large to add holds too (until given back).
    let mut guard = ReplayGuard::new(Duration::from_secs(WINDOW), 10).lease(Duration::MAX);
    let Begin::New(ticket) = guard.begin(key(2), at(0), at(0)) else {
        panic!("new")
    };
    assert_eq!(
        guard.begin(key(2), at(0), at(1_000_000_000)),
        Begin::InFlight
    );
    guard.abandon(ticket);
    assert!(guard.is_empty());
}

const API_KEY: &str = "Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA=";
const SECRET: &str = "uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=";
const BODY: &[u8] = br#"{"data":{"session_id":"iss-1","status":"VALIDATED"}}"#;

fn signed(api_key: &str, endpoint: &str, timestamp: u64, body: &[u8]) -> HeaderMap {
    let secret = WebhookSecret::from_base64(SECRET).unwrap();
    sign(api_key, &secret, endpoint, timestamp, body)
        .to_header_map()
        .unwrap()
}

fn event(body: &[u8]) -> Event {
    Event::from_json(serde_json::from_slice(body).unwrap())
}

#[test]
fn one_delivery_respelled_or_signed_again_is_one_key() {
    let base64 = signed(API_KEY, "/hooks", 1_700_000_000, BODY);
    let mac = STANDARD
        .decode(&base64["x-signature"].as_bytes()[12..])
        .unwrap();
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    let mut spellings = vec![base64.clone()];
    for text in [hex.clone(), hex.to_uppercase()] {
        let mut headers = base64.clone();
        let value = HeaderValue::from_str(&format!("hmac-sha256 {text}")).unwrap();
        headers.insert("x-signature", value);
        spellings.push(headers);
    }
    // Every spelling verifies, and all are one delivery: the first is new, the others are not.
    let secret = WebhookSecret::from_base64(SECRET).unwrap();
    let verifier = Verifier::new(WebhookKeys::new().with(API_KEY, secret));
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_010);
    let mut guard = ReplayGuard::for_verifier(&verifier, 100);
    let mut new = Vec::new();
    for headers in &spellings {
        let event = verifier.verify(headers, BODY, now).unwrap();
        match guard.begin_delivery(headers, BODY, &event, now) {
            Begin::New(ticket) => {
                guard.commit(ticket, now);
                new.push(true);
            }
            _ => new.push(false),
        }
    }
    assert_eq!(new, [true, false, false]);
    // Signed again for a redelivery, at another time: still the same delivery.
    let again = signed(API_KEY, "/hooks", 1_700_000_060, BODY);
    assert_eq!(
        DeliveryKey::of(&again, BODY, &event(BODY)),
        DeliveryKey::of(&base64, BODY, &event(BODY))
    );
}

#[test]
fn keys_tell_apart_what_differs_and_are_scoped_by_api_key() {
    let other_body = br#"{"data":{"session_id":"iss-1","status":"NOT_VALIDATED"}}"#;
    let base = DeliveryKey::of(&signed(API_KEY, "/hooks", 1, BODY), BODY, &event(BODY));
    for (headers, body) in [
        (signed("another-key", "/hooks", 1, BODY), BODY),
        (signed(API_KEY, "/other", 1, BODY), BODY),
        (signed(API_KEY, "/hooks", 1, other_body), &other_body[..]),
    ] {
        assert_ne!(DeliveryKey::of(&headers, body, &event(body)), base);
    }
    // With an event id, the id decides, within one api key.
    let with_id = br#"{"event_id":"evt-1","data":{"session_id":"iss-1","status":"VALIDATED"}}"#;
    let other_shape = br#"{"event_id":"evt-1","data":{}}"#;
    let a = DeliveryKey::of(
        &signed(API_KEY, "/hooks", 1, with_id),
        with_id,
        &event(with_id),
    );
    let b = DeliveryKey::of(
        &signed(API_KEY, "/other", 2, other_shape),
        other_shape,
        &event(other_shape),
    );
    assert_eq!(a, b);
    let c = DeliveryKey::of(
        &signed("another-key", "/hooks", 1, with_id),
        with_id,
        &event(with_id),
    );
    assert_ne!(a, c);
    // An event id is not confused with a body that spells it.
    assert_ne!(
        a,
        DeliveryKey::of(&HeaderMap::new(), b"evt-1", &event(b"{}"))
    );
    // Debug shows the digest only.
    let text = format!("{a:?}");
    assert!(text.starts_with("DeliveryKey(") && text.len() == "DeliveryKey()".len() + 64);
}
