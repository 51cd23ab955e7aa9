//! The tracker's webhook receiver over HTTP on loopback: one effect per delivery however it is
//! re-spelled or re-signed, a store failure answered 503 (so Pomelo delivers again) and applied
//! when it comes back, forgeries refused before their body is read.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use kyc_core::track::{PendingCreate, TrackSettings, Tracked};
use kyc_core::webhook::{Verifier, WebhookKeys, WebhookSecret, sign};
use kyc_core::{Config, Credentials, Environment, SessionId};
use kyc_track::{Commit, Committed, MemoryStore, Store, StoreError, Tracker, VerdictRecord};

const API_KEY: &str = "Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA=";
const SECRET: &str = "uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=";
const PATH: &str = "/webhooks/identity";

/// A store whose commits fail while `down` is set: the database of a receiver that is down.
struct Flaky {
    inner: MemoryStore,
    down: AtomicBool,
}

impl Store for Flaky {
    fn load(&self, s: &SessionId) -> Result<Option<Tracked>, StoreError> {
        self.inner.load(s)
    }
    fn commit(&self, c: &Commit) -> Result<Committed, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Database("the disk is full".into()));
        }
        self.inner.commit(c)
    }
    fn claim_due(&self, n: SystemTime, l: Duration, k: usize) -> Result<Vec<Tracked>, StoreError> {
        self.inner.claim_due(n, l, k)
    }
    fn next_due(&self) -> Result<Option<SystemTime>, StoreError> {
        self.inner.next_due()
    }
    fn take_poll(&self, n: SystemTime, p: u32) -> Result<Option<SystemTime>, StoreError> {
        self.inner.take_poll(n, p)
    }
    fn claim_verdicts(
        &self,
        n: SystemTime,
        l: Duration,
        k: usize,
    ) -> Result<Vec<VerdictRecord>, StoreError> {
        self.inner.claim_verdicts(n, l, k)
    }
    fn ack(&self, k: &str, n: SystemTime) -> Result<bool, StoreError> {
        self.inner.ack(k, n)
    }
    fn verdicts(&self, l: usize) -> Result<Vec<(VerdictRecord, bool)>, StoreError> {
        self.inner.verdicts(l)
    }
    fn list(&self, l: usize) -> Result<Vec<Tracked>, StoreError> {
        self.inner.list(l)
    }
    fn put_pending_create(&self, c: &PendingCreate, h: SystemTime) -> Result<(), StoreError> {
        self.inner.put_pending_create(c, h)
    }
    fn claim_pending_creates(
        &self,
        n: SystemTime,
        l: Duration,
        k: usize,
    ) -> Result<Vec<PendingCreate>, StoreError> {
        self.inner.claim_pending_creates(n, l, k)
    }
    fn pending_creates(&self) -> Result<Vec<PendingCreate>, StoreError> {
        self.inner.pending_creates()
    }
    fn forget_deliveries(&self, b: SystemTime) -> Result<u64, StoreError> {
        self.inner.forget_deliveries(b)
    }
}

/// A tracker on `store` (its client points nowhere: these tests never poll) serving its
/// receiver on a loopback port; the receiver's URL.
async fn receiver(store: Arc<dyn Store>) -> String {
    let config = Config::builder(Environment::Sandbox)
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let client = kyc_reqwest::Client::new(config, Credentials::new("id", "secret"));
    let tracker = Tracker::new(client, store, TrackSettings::default());
    let keys = WebhookKeys::new().with(API_KEY, WebhookSecret::from_base64(SECRET).unwrap());
    let router = tracker.router(PATH, Verifier::new(keys).expected_endpoint(PATH));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{PATH}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Posts `body` signed at `timestamp`, its digest spelled by `spell`; the status.
fn post(url: &str, body: &str, timestamp: u64, spell: fn(&[u8]) -> String) -> u16 {
    let secret = WebhookSecret::from_base64(SECRET).unwrap();
    let signed = sign(API_KEY, &secret, PATH, timestamp, body.as_bytes());
    let mac = base64::engine::general_purpose::STANDARD
        .decode(signed.signature.trim_start_matches("hmac-sha256 "))
        .unwrap();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    agent
        .post(url)
        .header("content-type", "application/json")
        .header("x-api-key", &signed.api_key)
        .header("x-signature", format!("hmac-sha256 {}", spell(&mac)))
        .header("x-timestamp", &signed.timestamp)
        .header("x-endpoint", &signed.endpoint)
        .send(body)
        .unwrap()
        .status()
        .as_u16()
}

fn base64(mac: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(mac)
}

fn hex_lower(mac: &[u8]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_upper(mac: &[u8]) -> String {
    mac.iter().map(|b| format!("{b:02X}")).collect()
}

fn notification(session: &str, status: &str) -> String {
    format!(
        r#"{{"event_type":"identity.session.status_changed","data":{{"session_id":"{session}","user_id":"usr-1","status":"{status}"}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_delivery_is_one_effect_however_it_is_spelled_or_signed_again() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let url = receiver(store.clone()).await;
    let body = notification("iss-1", "VALIDATED");
    let t = now_unix();
    let statuses = tokio::task::spawn_blocking(move || {
        [
            post(&url, &body, t, base64),
            post(&url, &body, t, hex_lower),
            post(&url, &body, t, hex_upper),
            // Signed again for its redelivery: a fresh timestamp, no event id.
            post(&url, &body, t + 1, base64),
        ]
    })
    .await
    .unwrap();
    assert_eq!(statuses, [200; 4]);
    let verdicts = store.verdicts(10).unwrap();
    assert_eq!(verdicts.len(), 1);
    let record = store.load(&SessionId::from("iss-1")).unwrap().unwrap();
    assert_eq!(record.history.len(), 1, "adopted and decided once");
    assert_eq!(record.version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failure_is_503_and_the_redelivery_is_applied() {
    let flaky = Arc::new(Flaky {
        inner: MemoryStore::new(),
        down: AtomicBool::new(true),
    });
    let url = receiver(flaky.clone()).await;
    let body = notification("iss-2", "NOT_VALIDATED");
    let t = now_unix();
    let (first, url, body) = tokio::task::spawn_blocking(move || {
        let status = post(&url, &body, t, base64);
        (status, url, body)
    })
    .await
    .unwrap();
    assert_eq!(
        first, 503,
        "nothing committed: Pomelo must deliver it again"
    );
    assert!(flaky.verdicts(10).unwrap().is_empty());
    flaky.down.store(false, Ordering::SeqCst);
    let again = tokio::task::spawn_blocking(move || post(&url, &body, t, base64))
        .await
        .unwrap();
    assert_eq!(again, 200);
    assert_eq!(flaky.verdicts(10).unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgeries_and_garbage_are_refused_and_change_nothing() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let url = receiver(store.clone()).await;
    let t = now_unix();
    let statuses = tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let unsigned = agent
            .post(&url)
            .send(notification("iss-3", "VALIDATED"))
            .unwrap()
            .status()
            .as_u16();
        let stale = post(&url, &notification("iss-3", "VALIDATED"), t - 3600, base64);
        let not_json = post(&url, "not json", t, base64);
        [unsigned, stale, not_json]
    })
    .await
    .unwrap();
    assert_eq!(statuses, [401, 401, 400]);
    assert!(store.list(10).unwrap().is_empty());
}
