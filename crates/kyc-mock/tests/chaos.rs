//! Webhook delivery chaos (issue #25): drops, duplicates, holds that reorder, retries signed anew
//! or with the first signature, bodies without `event_id`, several target URLs, and the seed
//! that replays every decision. Small receivers on 127.0.0.1; assertions on counts and orders,
//! every wait bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests: panics are failures

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::{Client, Hook, Receiver, admin_get, admin_post, expected_signature};
use kyc_mock::{
    AdminError, Decision, DeliveryOrigin, DropReason, MockConfig, MockServer, StartError,
    WebhookChaos, WebhookDelivery,
};
use serde_json::json;

/// Longest a test waits for the simulator to settle its deliveries.
const WAIT: Duration = Duration::from_secs(30);

fn start(urls: &[String], chaos: WebhookChaos, seed: u64) -> MockServer {
    MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .webhook_retry_delay(Duration::from_millis(10))
            .webhook_urls(urls)
            .webhook_chaos(chaos)
            .webhook_seed(seed),
    )
    .unwrap()
}

/// Sends `count` validation-session notifications, one after the other: each a new session
/// decided by hand at once. Returns the sessions' ids.
fn notify(server: &MockServer, count: usize) -> Vec<String> {
    let client = Client::new(server);
    let token = client.token(server);
    (0..count)
        .map(|i| {
            let id = client.create_session(&token, "ARG", &format!("usr-chaos-{i}"));
            server.decide(&id, Decision::Validated).unwrap();
            id
        })
        .collect()
}

/// Every delivery, once none is on its way any more.
fn settled(server: &MockServer) -> Vec<WebhookDelivery> {
    assert!(
        server.wait_for_settled_webhooks(WAIT),
        "{} notifications still on their way",
        server.pending_webhooks()
    );
    server.webhook_deliveries()
}

/// A delivery's copy: 0 for the first, `n` for the `n`-th duplicate.
fn copy(d: &WebhookDelivery) -> u32 {
    match d.origin {
        DeliveryOrigin::First => 0,
        DeliveryOrigin::Duplicate(n) => n,
        other => panic!("unexpected {other:?}"),
    }
}

/// What the chaos decided for each delivery, in notification and copy order.
fn decisions(deliveries: &[WebhookDelivery]) -> Vec<(u64, u32, Option<DropReason>, Duration)> {
    let mut all: Vec<_> = deliveries
        .iter()
        .map(|d| (d.notification, copy(d), d.dropped, d.held))
        .collect();
    all.sort_by_key(|(notification, copy, _, _)| (*notification, *copy));
    all
}

fn event_id(hook: &Hook) -> String {
    hook.json()["event_id"].as_str().unwrap().to_owned()
}

#[test]
fn a_share_of_notifications_is_dropped_and_never_reaches_the_receiver() {
    let receiver = Receiver::start();
    let server = start(
        &[receiver.url("/hooks")],
        WebhookChaos::new().drop_rate(0.3),
        2024,
    );
    notify(&server, 80);
    let deliveries = settled(&server);
    assert_eq!(deliveries.len(), 80);
    let dropped: Vec<&WebhookDelivery> =
        deliveries.iter().filter(|d| d.dropped.is_some()).collect();
    // 80 × 0.3 = 24 expected, standard deviation 4.1: within three of them.
    assert!((12..=36).contains(&dropped.len()), "{}", dropped.len());
    for d in &dropped {
        assert_eq!(d.dropped, Some(DropReason::Chaos));
        assert!(d.attempts.is_empty() && !d.delivered() && !d.answered());
        assert_eq!(d.origin, DeliveryOrigin::First);
    }
    // The receiver saw exactly the others, once each.
    let hooks = receiver.received();
    assert_eq!(hooks.len(), 80 - dropped.len());
    let seen: HashSet<String> = hooks.iter().map(event_id).collect();
    assert_eq!(seen.len(), hooks.len());
    for d in &deliveries {
        assert_eq!(seen.contains(&d.event_id), d.dropped.is_none(), "{d:?}");
    }
    let stats = server.stats();
    assert_eq!(stats.webhook_notifications, 80);
    assert_eq!(stats.webhooks_dropped, dropped.len() as u64);
    assert_eq!(stats.webhook_attempts, hooks.len() as u64);
    // Notifications are numbered 1 to 80 in the order they were sent.
    let mut numbers: Vec<u64> = deliveries.iter().map(|d| d.notification).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=80).collect::<Vec<_>>());
}

#[test]
fn the_same_seed_makes_the_same_decisions() {
    let chaos = WebhookChaos::new()
        .drop_rate(0.2)
        .duplicate_rate(0.3)
        .max_duplicates(2)
        .max_delay(Duration::from_millis(30));
    let run = |seed| {
        let receiver = Receiver::start();
        let server = start(&[receiver.url("/h")], chaos.clone(), seed);
        assert_eq!(server.webhook_seed(), seed);
        notify(&server, 30);
        let deliveries = settled(&server);
        assert_eq!(
            receiver.received().len(),
            deliveries.iter().map(|d| d.attempts.len()).sum::<usize>()
        );
        decisions(&deliveries)
    };
    let first = run(77);
    assert_eq!(first, run(77), "a replay decides alike");
    assert_ne!(first, run(78), "another seed decides otherwise");
    // The seed drew some of everything.
    assert!(first.iter().any(|(_, _, dropped, _)| dropped.is_some()));
    assert!(first.iter().any(|(_, copy, _, _)| *copy > 0));
    assert!(
        first
            .iter()
            .all(|(_, _, _, held)| *held <= Duration::from_millis(30))
    );
    // Without a seed, one is drawn at random, below 2^53 (exact in any JSON reader).
    let random = MockServer::start(MockConfig::new()).unwrap();
    assert!(random.webhook_seed() < 1 << 53);
}

#[test]
fn duplicates_arrive_later_as_separate_deliveries() {
    let receiver = Receiver::start();
    let server = start(
        &[receiver.url("/dup")],
        WebhookChaos::new().duplicate_rate(1.0).max_duplicates(2),
        5,
    );
    let sessions = notify(&server, 10);
    let deliveries = settled(&server);
    let mut copies: HashMap<u64, Vec<&WebhookDelivery>> = HashMap::new();
    for d in &deliveries {
        copies.entry(d.notification).or_default().push(d);
    }
    assert_eq!(copies.len(), 10);
    let mut counts = HashSet::new();
    for list in copies.values() {
        // Listed in the order they finished: the first, then each duplicate after the other.
        let origins: Vec<DeliveryOrigin> = list.iter().map(|d| d.origin).collect();
        let expected = [
            DeliveryOrigin::First,
            DeliveryOrigin::Duplicate(1),
            DeliveryOrigin::Duplicate(2),
        ];
        assert_eq!(origins, expected[..list.len()]);
        assert!((2..=3).contains(&list.len()));
        counts.insert(list.len());
        assert!(
            list.iter()
                .all(|d| d.event_id == list[0].event_id && d.body == list[0].body && d.delivered())
        );
    }
    assert_eq!(counts.len(), 2, "one and two extra copies both occur");
    // The receiver got every copy, the same body each time.
    let hooks = receiver.received();
    assert_eq!(hooks.len(), deliveries.len());
    let mut received: HashMap<String, usize> = HashMap::new();
    for hook in &hooks {
        *received.entry(event_id(hook)).or_default() += 1;
    }
    for list in copies.values() {
        assert_eq!(received[&list[0].event_id], list.len());
    }
    let by_session: HashSet<&str> = deliveries.iter().map(|d| d.session_id.as_str()).collect();
    assert_eq!(by_session.len(), sessions.len());
    assert_eq!(
        server.stats().webhook_duplicates,
        (deliveries.len() - 10) as u64
    );
}

#[test]
fn held_deliveries_let_the_final_notification_overtake_processing() {
    let receiver = Receiver::start();
    let max = Duration::from_millis(400);
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .notify_processing(true)
            .webhook_url(receiver.url("/order"))
            .webhook_seed(11)
            .webhook_chaos(WebhookChaos::new().max_delay(max)),
    )
    .unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let sessions: Vec<String> = (0..16)
        .map(|i| {
            let user = format!("usr-order-{i}");
            let id = client.create_session(&token, "ARG", &user);
            client.upload_all(&token, &id, &user);
            id
        })
        .collect();
    let deliveries = settled(&server);
    assert_eq!(deliveries.len(), 32);
    assert!(deliveries.iter().all(|d| d.held <= max));
    let holds: HashSet<Duration> = deliveries.iter().map(|d| d.held).collect();
    assert!(holds.len() > 16, "holds are drawn, not fixed");
    // The seed held some final notification far less than its session's PROCESSING one.
    let hold = |session: &str, status: &str| {
        deliveries
            .iter()
            .find(|d| d.session_id == session && d.json().unwrap()["data"]["status"] == status)
            .unwrap()
            .held
    };
    assert!(
        sessions
            .iter()
            .any(|s| { hold(s, "VALIDATED") + Duration::from_millis(200) < hold(s, "PROCESSING") })
    );
    // Each session's two notifications arrived, and for some the final one came first.
    let hooks = receiver.received();
    let mut arrived: HashMap<String, Vec<String>> = HashMap::new();
    for hook in &hooks {
        let body = hook.json();
        let data = &body["data"];
        arrived
            .entry(data["session_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(data["status"].as_str().unwrap().to_owned());
        if data["status"] == "PROCESSING" {
            assert_eq!(body["event_type"], "identity.session.status_changed");
            assert_eq!(data["reason"], serde_json::Value::Null);
        }
    }
    assert_eq!(arrived.len(), 16);
    let mut overtaken = 0;
    for statuses in arrived.values() {
        let mut sorted = statuses.clone();
        sorted.sort();
        assert_eq!(sorted, ["PROCESSING", "VALIDATED"]);
        if statuses[0] == "VALIDATED" {
            overtaken += 1;
        }
    }
    assert!(overtaken > 0, "{arrived:?}");
}

/// A server whose first attempt fails and whose retry comes at least 1.1 s later (so a fresh
/// `X-Timestamp`, in whole seconds, must differ), then a duplicate; the three hooks received.
fn retried_and_duplicated(keep_first_signature: bool) -> (MockServer, Vec<Hook>) {
    let receiver = Receiver::start();
    receiver.respond_with(&[500]);
    let server = MockServer::start(
        MockConfig::new()
            .webhook_url(receiver.url("/sig?tenant=1"))
            .webhook_max_attempts(2)
            .webhook_retry_delay(Duration::from_millis(1100))
            .webhook_seed(3)
            .webhook_chaos(
                WebhookChaos::new()
                    .duplicate_rate(1.0)
                    .keep_first_signature(keep_first_signature),
            ),
    )
    .unwrap();
    notify(&server, 1);
    let deliveries = settled(&server);
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[0].attempts.len(), 2);
    let hooks = receiver.received();
    assert_eq!(hooks.len(), 3);
    for hook in &hooks {
        let timestamp = hook.header("x-timestamp").unwrap();
        let expected = expected_signature(
            server.webhook_secret(),
            timestamp,
            "/sig?tenant=1",
            &hook.body,
        );
        assert_eq!(hook.header("x-signature"), Some(expected.as_str()));
    }
    (server, hooks)
}

#[test]
fn retries_and_duplicates_are_signed_anew_with_a_fresh_timestamp() {
    let (server, hooks) = retried_and_duplicated(false);
    assert!(!server.webhook_chaos().keep_first_signature);
    let timestamp = |i: usize| -> u64 { hooks[i].header("x-timestamp").unwrap().parse().unwrap() };
    assert!(
        timestamp(1) > timestamp(0),
        "the retry's timestamp is fresh"
    );
    assert!(timestamp(2) >= timestamp(1));
    assert_ne!(
        hooks[0].header("x-signature"),
        hooks[1].header("x-signature")
    );
    assert_eq!(hooks[0].body, hooks[1].body);
}

#[test]
fn retries_and_duplicates_can_keep_the_first_signature() {
    let (_server, hooks) = retried_and_duplicated(true);
    for hook in &hooks[1..] {
        assert_eq!(
            hook.headers, hooks[0].headers,
            "byte for byte the first attempt's"
        );
        assert_eq!(hook.body, hooks[0].body);
    }
}

#[test]
fn bodies_can_leave_out_the_event_id() {
    let receiver = Receiver::start();
    let server = start(
        &[receiver.url("/no-id")],
        WebhookChaos::new().omit_event_id(true),
        1,
    );
    let client = Client::new(&server);
    let sessions = notify(&server, 1);
    let deliveries = settled(&server);
    let hooks = receiver.received();
    let body = hooks[0].json();
    assert!(body.get("event_id").is_none(), "{body}");
    assert_eq!(body["event_type"], "identity.session.status_changed");
    assert_eq!(body["data"]["session_id"], sessions[0].as_str());
    // The log keeps the id the body left out, and the exact bytes sent.
    assert!(deliveries[0].event_id.starts_with("evt-"));
    assert_eq!(deliveries[0].body, hooks[0].body);
    // A resend by hand sends those bytes again, outside the chaos, as the same notification.
    server.resend_webhook(&deliveries[0].event_id).unwrap();
    let deliveries = settled(&server);
    assert_eq!(deliveries[1].origin, DeliveryOrigin::Resend);
    assert_eq!(deliveries[1].notification, deliveries[0].notification);
    assert_eq!(receiver.received()[1].body, hooks[0].body);

    // Turned off over the admin API, which answers with the settings now in force.
    let changed = admin_post(
        &client,
        &server,
        "/_admin/webhooks/chaos",
        &json!({"omit_event_id": false}),
    );
    assert_eq!(changed.status, 200);
    assert_eq!(changed.json()["data"]["omit_event_id"], false);
    assert!(!server.webhook_chaos().omit_event_id);
    notify(&server, 1);
    let deliveries = settled(&server);
    let last = receiver.received().pop().unwrap();
    assert_eq!(last.json()["event_id"], deliveries[2].event_id.as_str());
    assert_eq!(deliveries[2].notification, 2);
}

#[test]
fn several_urls_take_turns_and_a_retry_goes_to_the_next() {
    let receivers: Vec<Receiver> = (0..3).map(|_| Receiver::start()).collect();
    receivers[0].respond_with(&[500]);
    let urls: Vec<String> = receivers
        .iter()
        .enumerate()
        .map(|(i, r)| r.url(&format!("/fleet/{i}")))
        .collect();
    let server = start(&urls, WebhookChaos::new(), 9);
    assert_eq!(server.webhook_urls(), urls.as_slice());
    assert_eq!(server.webhook_url(), Some(urls[0].as_str()));
    notify(&server, 6);
    let mut deliveries = settled(&server);
    deliveries.sort_by_key(|d| d.notification);
    let attempted: Vec<Vec<(&str, Option<u16>)>> = deliveries
        .iter()
        .map(|d| {
            d.attempts
                .iter()
                .map(|a| (a.url.as_str(), a.status))
                .collect()
        })
        .collect();
    assert_eq!(
        attempted,
        [
            vec![(urls[0].as_str(), Some(500)), (urls[1].as_str(), Some(200))],
            vec![(urls[1].as_str(), Some(200))],
            vec![(urls[2].as_str(), Some(200))],
            vec![(urls[0].as_str(), Some(200))],
            vec![(urls[1].as_str(), Some(200))],
            vec![(urls[2].as_str(), Some(200))],
        ]
    );
    // Each receiver saw its share, signed for its own endpoint.
    let counts: Vec<usize> = receivers.iter().map(|r| r.received().len()).collect();
    assert_eq!(counts, [2, 3, 2]);
    for (i, receiver) in receivers.iter().enumerate() {
        for hook in receiver.received() {
            assert_eq!(
                hook.header("x-endpoint"),
                Some(format!("/fleet/{i}").as_str())
            );
        }
    }
    assert_eq!(deliveries[0].url, urls[0]);
    assert_eq!(deliveries[0].endpoint, "/fleet/0");
}

#[test]
fn the_pending_queue_is_bounded() {
    let receiver = Receiver::start();
    receiver.respond_with(&[500, 500]);
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .notify_processing(true)
            .webhook_url(receiver.url("/full"))
            .webhook_max_attempts(2)
            .webhook_retry_delay(Duration::from_millis(200))
            .webhook_max_pending(1),
    )
    .unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = client.create_session(&token, "ARG", "usr-full");
    // The last upload sends PROCESSING and the outcome at once: the second finds the queue full.
    client.upload_all(&token, &id, "usr-full");
    let deliveries = settled(&server);
    assert_eq!(deliveries.len(), 2);
    let full: Vec<_> = deliveries.iter().filter(|d| d.dropped.is_some()).collect();
    assert_eq!(full.len(), 1);
    assert_eq!(full[0].dropped, Some(DropReason::QueueFull));
    assert_eq!(full[0].notification, 2);
    assert_eq!(full[0].json().unwrap()["data"]["status"], "VALIDATED");
    assert_eq!(receiver.received().len(), 2, "the first one's two attempts");
}

#[test]
fn the_admin_api_shows_and_changes_the_chaos_through_the_same_code() {
    let receiver = Receiver::start();
    let server = start(&[receiver.url("/admin")], WebhookChaos::new(), 31);
    let client = Client::new(&server);
    let view = admin_get(&client, &server, "/_admin/webhooks/chaos").json();
    let data = &view["data"];
    assert_eq!(data["seed"], 31);
    assert_eq!(data["drop_rate"], 0.0);
    assert_eq!(data["max_duplicates"], 1);
    assert_eq!(data["max_delay_ms"], 0);
    assert_eq!(data["keep_first_signature"], false);
    assert_eq!(data["urls"], json!([receiver.url("/admin")]));
    assert_eq!(data["pending"], 0);
    assert_eq!(data["max_pending"], kyc_mock::DEFAULT_WEBHOOK_MAX_PENDING);
    let index = admin_get(&client, &server, "/_admin").json();
    assert!(
        index["data"]["routes"]
            .as_array()
            .unwrap()
            .contains(&json!("POST /_admin/webhooks/chaos"))
    );

    let changed = admin_post(
        &client,
        &server,
        "/_admin/webhooks/chaos",
        &json!({"drop_rate": 1.0, "max_delay_ms": 5, "keep_first_signature": true}),
    );
    assert_eq!(changed.status, 200, "{}", changed.json());
    assert_eq!(
        server.webhook_chaos(),
        WebhookChaos::new()
            .drop_rate(1.0)
            .max_delay(Duration::from_millis(5))
            .keep_first_signature(true)
    );
    for bad in [
        json!({"drop_rate": 2}),
        json!({"duplicate_rate": "half"}),
        json!({"max_duplicates": 11}),
        json!({"max_delay_ms": 600_001}),
        json!({"omit_event_id": 1}),
        json!({"surprise": true}),
    ] {
        let refused = admin_post(&client, &server, "/_admin/webhooks/chaos", &bad);
        assert_eq!(refused.status, 400, "{bad}");
        assert_eq!(refused.error_code(), "invalid_body");
    }
    assert_eq!(server.webhook_chaos().drop_rate, 1.0, "nothing changed");
    assert!(matches!(
        server.set_webhook_chaos(WebhookChaos::new().duplicate_rate(1.5)),
        Err(AdminError::Refused(_))
    ));

    // Everything is dropped now; the listing says so, per delivery.
    notify(&server, 2);
    settled(&server);
    let listed = admin_get(&client, &server, "/_admin/webhooks").json();
    let newest = &listed["data"][0];
    assert_eq!(newest["notification"], 2);
    assert_eq!(newest["origin"], "first");
    assert_eq!(newest["dropped"], "chaos");
    assert_eq!(newest["held_ms"], 0);
    assert_eq!(newest["attempts"], json!([]));
    assert_eq!(newest["delivered"], false);
    let one = admin_get(&client, &server, "/_admin/webhooks?limit=1").json();
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        admin_get(&client, &server, "/_admin/webhooks?limit=0").status,
        400
    );
    let counts = admin_get(&client, &server, "/_admin/webhooks/chaos").json();
    assert_eq!(counts["data"]["notifications"], 2);
    assert_eq!(counts["data"]["dropped"], 2);
    assert!(receiver.received().is_empty());

    // Back to no chaos from Rust: the next one is delivered, its attempt's URL listed.
    server.set_webhook_chaos(WebhookChaos::new()).unwrap();
    notify(&server, 1);
    settled(&server);
    let listed = admin_get(&client, &server, "/_admin/webhooks").json();
    let newest = &listed["data"][0];
    assert_eq!(newest["dropped"], serde_json::Value::Null);
    assert_eq!(
        newest["attempts"][0]["url"],
        receiver.url("/admin").as_str()
    );
    assert_eq!(newest["attempts"][0]["status"], 200);
}

#[test]
fn chaos_out_of_bounds_is_refused_at_start() {
    for (config, setting) in [
        (
            MockConfig::new().webhook_chaos(WebhookChaos::new().drop_rate(-1.0)),
            "webhook_chaos",
        ),
        (
            MockConfig::new()
                .webhook_chaos(WebhookChaos::new().max_delay(Duration::from_secs(601))),
            "webhook_chaos",
        ),
        (
            MockConfig::new().webhook_max_pending(0),
            "webhook_max_pending",
        ),
        (
            MockConfig::new().webhook_urls(["http://127.0.0.1:1/a", "https://127.0.0.1:2/b"]),
            "webhook_urls",
        ),
    ] {
        match MockServer::start(config) {
            Err(StartError::InvalidConfig { setting: s, .. }) => assert_eq!(s, setting),
            other => panic!("{setting}: {other:?}"),
        }
    }
}
