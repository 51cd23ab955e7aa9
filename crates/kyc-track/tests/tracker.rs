//! The tracker against the simulator: a verdict found by polling when no webhook comes, handed
//! to the application once acknowledged; creates resumed after a crash, under the same key or by
//! search, never twice.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Duration;

use kyc_core::track::{PendingCreate, TrackSettings};
use kyc_core::{
    Config, Country, CreateSession, Credentials, DocumentType, Environment, IdempotencyKey,
    SessionStatus, UploadFile,
};
use kyc_mock::{Alternative, MockConfig, MockServer};
use kyc_track::{MemoryStore, SqliteStore, Store, Tracker};

const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1,
];

fn client(server: &MockServer) -> kyc_reqwest::Client {
    let config = Config::builder(Environment::Sandbox)
        .base_url(server.base_url())
        .audience(server.audience())
        .build()
        .unwrap();
    kyc_reqwest::Client::new(
        config,
        Credentials::new(server.client_id(), server.client_secret()),
    )
}

/// A KYC create as a pending create keeps it (what the tracker writes before sending it).
fn stored(create: &CreateSession) -> serde_json::Value {
    serde_json::json!({"kind": "kyc", "body": serde_json::to_value(create).unwrap()})
}

fn fast() -> TrackSettings {
    let mut settings = TrackSettings::default();
    settings.quiet_period = Duration::from_millis(30);
    settings.max_backoff = Duration::from_millis(200);
    settings.polls_per_minute = 6000;
    settings
}

async fn upload_documents(client: &kyc_reqwest::Client, session: &kyc_core::SessionId, user: &str) {
    for document in [
        DocumentType::Selfie,
        DocumentType::IdentityCardFront,
        DocumentType::IdentityCardBack,
    ] {
        let upload = UploadFile::new(session.clone(), user, document).file_name("doc.jpg");
        client
            .upload(&upload, kyc_reqwest::Source::bytes(JPEG))
            .await
            .unwrap();
    }
}

/// Ticks until `tracker` has a verdict waiting, at most 200 times.
async fn until_verdict(tracker: &Tracker) -> Vec<kyc_track::VerdictRecord> {
    for _ in 0..200 {
        tracker.tick().await.unwrap();
        let verdicts = tracker.next_verdicts(10).await.unwrap();
        if !verdicts.is_empty() {
            return verdicts;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no verdict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_any_webhook_the_verdict_is_found_by_polling_and_handed_over_until_acknowledged() {
    let server = MockServer::start(MockConfig::new().processing_delay(Duration::ZERO)).unwrap();
    let client = client(&server);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut options = kyc_track::TrackerOptions::default();
    options.verdict_lease = Duration::from_millis(100);
    let tracker = Tracker::with_options(client.clone(), store.clone(), fast(), options);
    let created = tracker
        .create(CreateSession::new("usr-track-1", Country::Arg))
        .await
        .unwrap();
    assert!(
        store.pending_creates().unwrap().is_empty(),
        "the create completed"
    );
    upload_documents(&client, &created.id, "usr-track-1").await;

    let verdicts = until_verdict(&tracker).await;
    assert_eq!(verdicts.len(), 1);
    let verdict = &verdicts[0];
    assert_eq!(verdict.key, created.id.as_str());
    assert_eq!(verdict.verdict.status, SessionStatus::Validated);
    assert_eq!(verdict.subject.as_deref(), Some("usr-track-1"));
    // Not acknowledged: held for its lease, not handed to anyone else meanwhile...
    assert!(tracker.next_verdicts(10).await.unwrap().is_empty());
    // ...and acknowledged through the push form, which acknowledges only what succeeded.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let failed = tracker
        .deliver(10, |_| async { Err::<(), &str>("database down") })
        .await
        .unwrap();
    assert_eq!(failed, 0);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut seen = Vec::new();
    let acked = tracker
        .deliver(10, |v| {
            seen.push(v.key.clone());
            async { Ok::<(), &str>(()) }
        })
        .await
        .unwrap();
    assert_eq!(
        (acked, seen.as_slice()),
        (1, [created.id.as_str().to_owned()].as_slice())
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        tracker.next_verdicts(10).await.unwrap().is_empty(),
        "acknowledged: done"
    );
    assert_eq!(store.verdicts(10).unwrap()[0].0.deliveries, 3);
    // Polling stopped with the verdict.
    let record = store.load(&created.id).unwrap().unwrap();
    assert!(record.next_poll.is_none());
    assert!(record.polls >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_was_lost_is_sent_again_under_its_key_or_found_by_search() {
    // An account that honours idempotency keys: the same key returns the same session.
    let server = MockServer::start(MockConfig::new().processing_delay(Duration::ZERO)).unwrap();
    let client = client(&server);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let key = IdempotencyKey::new("track-key-0000000000000000000001").unwrap();
    let create = CreateSession::new("usr-crash", Country::Arg).idempotency_key(key.clone());
    // The crash: the create was sent, its answer lost, the pending record left behind.
    let first = client.execute(&create).await.unwrap();
    let request = stored(&create);
    store
        .put_pending_create(
            &PendingCreate::new(
                key.as_str(),
                "usr-crash",
                request.clone(),
                std::time::SystemTime::now(),
            ),
            std::time::SystemTime::now(),
        )
        .unwrap();
    let tracker = Tracker::new(client.clone(), store.clone(), fast());
    let resumed = tracker.resume_creates().await.unwrap();
    assert_eq!(
        resumed.sessions,
        std::slice::from_ref(&first.id),
        "adopted: found by search"
    );
    assert!(store.pending_creates().unwrap().is_empty());
    assert!(store.load(&first.id).unwrap().is_some());

    // An account that ignores keys, and a crash before anything was sent: no session of the
    // subject since the create started, so it is sent (once).
    let server =
        MockServer::start(MockConfig::new().alternative(Alternative::IgnoresIdempotencyKeys))
            .unwrap();
    let client = self::client(&server);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let create = CreateSession::new("usr-unsent", Country::Arg).idempotency_key(key.clone());
    let request = stored(&create);
    store
        .put_pending_create(
            &PendingCreate::new(
                key.as_str(),
                "usr-unsent",
                request,
                std::time::SystemTime::now(),
            ),
            std::time::SystemTime::now(),
        )
        .unwrap();
    let tracker = Tracker::new(client, store.clone(), fast());
    let made = tracker.resume_creates().await.unwrap();
    assert_eq!(made.sessions.len(), 1);
    assert!(tracker.resume_creates().await.unwrap().sessions.is_empty());
    let creates = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/identity/v2/sessions")
        .count();
    assert_eq!(creates, 1, "created once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_creates_are_resumed_each_once_and_a_held_or_failing_one_stops_none() {
    let server = MockServer::start(MockConfig::new().processing_delay(Duration::ZERO)).unwrap();
    let client = client(&server);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let now = std::time::SystemTime::now();
    let pending = |key: &str, user: &str, request: serde_json::Value| {
        PendingCreate::new(key, user, request, now - Duration::from_secs(1))
    };
    // A create that cannot be read back: it fails, and the others are resumed all the same.
    store
        .put_pending_create(
            &pending("track-key-bad", "usr-none", serde_json::json!({})),
            now,
        )
        .unwrap();
    // Two creates of one subject, both sent, both answers lost: two sessions, one each.
    let mut made = Vec::new();
    for n in 1..=2 {
        let key = IdempotencyKey::new(format!("track-key-twice-{n:016}")).unwrap();
        let create = CreateSession::new("usr-twice", Country::Arg).idempotency_key(key.clone());
        made.push(client.execute(&create).await.unwrap().id);
        let request = stored(&create);
        store
            .put_pending_create(&pending(key.as_str(), "usr-twice", request), now)
            .unwrap();
    }
    // A create whose sender is still waiting for its answer: not touched.
    store
        .put_pending_create(
            &pending("track-key-held", "usr-held", serde_json::json!({})),
            now + Duration::from_secs(600),
        )
        .unwrap();
    let tracker = Tracker::new(client, store.clone(), fast());
    let resumed = tracker.resume_creates().await.unwrap();
    let mut adopted = resumed.sessions.clone();
    adopted.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    made.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(adopted, made, "each lost answer adopted once");
    assert_eq!(resumed.failed.len(), 1);
    assert_eq!(resumed.failed[0].0, "track-key-bad");
    let left: Vec<String> = store
        .pending_creates()
        .unwrap()
        .into_iter()
        .map(|c| c.idempotency_key)
        .collect();
    assert_eq!(left, ["track-key-bad", "track-key-held"]);
    // The failed one is held by this resumer for its lease: not taken again at once.
    let again = tracker.resume_creates().await.unwrap();
    assert!(again.sessions.is_empty() && again.failed.is_empty());
    let creates = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/identity/v2/sessions")
        .count();
    assert_eq!(creates, 2, "nothing created again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_claims_each_verdict_only_when_it_hands_it_over() {
    use kyc_core::track::{Input, Observation, Origin};
    let server = MockServer::start(MockConfig::new()).unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    for i in 0..3 {
        let validated = Input::Observed(Observation::new(
            kyc_core::SessionId::from(format!("iss-{i}").as_str()),
            SessionStatus::Validated,
            Origin::Webhook,
        ));
        kyc_track::apply(
            &*store,
            &validated,
            &fast(),
            Some(format!("delivery-{i}")),
            None,
            std::time::SystemTime::now,
        )
        .unwrap();
    }
    let tracker = Tracker::new(client(&server), store.clone(), fast());
    // While the first verdict's handler runs, the two after it are not held by this batch:
    // another consumer may take them (a slow handler cannot outlast their claims).
    let mut free_while_handling = Vec::new();
    let acked = tracker
        .deliver(3, |_| {
            let free = store
                .claim_verdicts(std::time::SystemTime::now(), Duration::from_secs(60), 10)
                .unwrap();
            free_while_handling.push(free.len());
            async { Ok::<(), &str>(()) }
        })
        .await
        .unwrap();
    // The other consumer took the two; this batch handed over and acknowledged one.
    assert_eq!((acked, free_while_handling), (1, vec![2]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_every_answer_was_lost_is_adopted_by_the_running_loop_after_its_lease() {
    use kyc_mock::{Fault, Route};
    let server = MockServer::start(MockConfig::new().processing_delay(Duration::ZERO)).unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut options = kyc_track::TrackerOptions::default();
    options.create_lease = Duration::from_secs(3);
    options.resume_every = Duration::from_millis(50);
    let tracker = Tracker::with_options(client(&server), store.clone(), fast(), options);
    // Every attempt reaches the simulator, which creates the session, and loses its answer.
    server.inject_fault(Route::CreateSession, Fault::LoseResponse, 100);
    let started = std::time::Instant::now();
    let lost = tracker
        .create(CreateSession::new("usr-lost", Country::Arg))
        .await;
    assert!(lost.is_err(), "no answer came");
    server.clear_faults();
    assert_eq!(server.session_count(), 1, "made once, under one key");
    assert_eq!(store.pending_creates().unwrap().len(), 1);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let tracker = tracker.clone();
        async move {
            tracker
                .run(Duration::from_millis(20), async {
                    let _ = stopped.await;
                })
                .await;
        }
    });
    // Not before the sender's lease: the create is still its sender's.
    tokio::time::sleep(Duration::from_millis(150)).await;
    if started.elapsed() < Duration::from_millis(2500) {
        assert_eq!(
            store.pending_creates().unwrap().len(),
            1,
            "held by its sender"
        );
    }
    let mut adopted = None;
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if store.pending_creates().unwrap().is_empty() {
            adopted = store.list(10).unwrap().into_iter().next();
            break;
        }
    }
    let _ = stop.send(());
    running.await.unwrap();
    let adopted = adopted.expect("resumed within 6 s of the lease");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "not before the lease"
    );
    assert_eq!(adopted.subject.as_deref(), Some("usr-lost"));
    assert_eq!(
        server.session_count(),
        1,
        "found by search, not created again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_whose_session_a_webhook_made_tracked_is_still_adopted() {
    use kyc_core::track::{Input, Observation, Origin};
    // An account that ignores keys: sending the create again would make a second session.
    let server =
        MockServer::start(MockConfig::new().alternative(Alternative::IgnoresIdempotencyKeys))
            .unwrap();
    let client = client(&server);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let key = IdempotencyKey::new("track-key-webhook-first-0000001").unwrap();
    let create = CreateSession::new("usr-heard", Country::Arg).idempotency_key(key.clone());
    let made = client.execute(&create).await.unwrap();
    let request = stored(&create);
    let now = std::time::SystemTime::now();
    store
        .put_pending_create(
            &PendingCreate::new(key.as_str(), "usr-heard", request, now),
            now,
        )
        .unwrap();
    // Before the create is resumed, a webhook about the new session makes it tracked.
    let heard = Input::Observed(Observation::new(
        made.id.clone(),
        SessionStatus::InProgress,
        Origin::Webhook,
    ));
    kyc_track::apply(
        &*store,
        &heard,
        &fast(),
        Some("delivery-heard".into()),
        None,
        || now,
    )
    .unwrap();
    let tracker = Tracker::new(client, store.clone(), fast());
    let resumed = tracker.resume_creates().await.unwrap();
    assert_eq!(resumed.sessions, std::slice::from_ref(&made.id), "adopted");
    assert_eq!(server.session_count(), 1, "not created again");
    assert!(store.load(&made.id).unwrap().unwrap().from_create);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_keeps_failing_is_given_up_after_its_attempts_and_kept() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let now = std::time::SystemTime::now();
    // Its stored request cannot be read back: every resume fails.
    let broken = PendingCreate::new("track-key-broken", "usr-none", serde_json::json!({}), now);
    store.put_pending_create(&broken, now).unwrap();
    let mut options = kyc_track::TrackerOptions::default();
    options.create_attempts = 2;
    options.create_lease = Duration::from_millis(200);
    let tracker = Tracker::with_options(client(&server), store.clone(), fast(), options);
    let mut rounds = Vec::new();
    for _ in 0..4 {
        let round = tracker.resume_creates().await.unwrap();
        rounds.push((round.failed.len(), round.gave_up));
        // Past the lease: free to be taken again.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let given_up = vec!["track-key-broken".to_owned()];
    assert_eq!(
        rounds,
        [(1, vec![]), (1, vec![]), (0, given_up), (0, vec![])],
        "two attempts, then given up, then left alone"
    );
    let kept = store.pending_creates().unwrap();
    assert_eq!(kept.len(), 1, "kept for inspection");
    assert_eq!(kept[0].attempts, 3);
}
