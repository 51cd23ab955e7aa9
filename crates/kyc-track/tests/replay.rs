//! kyc-axum's receiver with its replay store on the tracker's databases: two receivers (two
//! replicas) sharing one store recognise each other's deliveries, with the same rule as in one
//! process: a delivery counts only once its handler succeeded.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use kyc_axum::{ReplayStore, WebhookReceiver};
use kyc_core::webhook::{Verifier, WebhookKeys, WebhookSecret, sign};
use kyc_track::{PgStore, SqliteStore};

const API_KEY: &str = "Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA=";
const SECRET: &str = "uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=";
const PATH: &str = "/webhooks/identity";

fn receiver(store: Arc<dyn ReplayStore>) -> WebhookReceiver {
    let keys = WebhookKeys::new().with(API_KEY, WebhookSecret::from_base64(SECRET).unwrap());
    WebhookReceiver::new(Verifier::new(keys).expected_endpoint(PATH)).replay_store(store)
}

fn delivery(body: &str, timestamp: u64) -> (kyc_core::http::HeaderMap, Vec<u8>) {
    let signed = sign(
        API_KEY,
        &WebhookSecret::from_base64(SECRET).unwrap(),
        PATH,
        timestamp,
        body.as_bytes(),
    );
    let mut headers = kyc_core::http::HeaderMap::new();
    headers.insert("x-api-key", signed.api_key.parse().unwrap());
    headers.insert("x-signature", signed.signature.parse().unwrap());
    headers.insert("x-timestamp", signed.timestamp.parse().unwrap());
    headers.insert("x-endpoint", signed.endpoint.parse().unwrap());
    (headers, body.as_bytes().to_vec())
}

/// Two replicas on `store`: a failed handler leaves the delivery to be handled again, on either;
/// a copy while it is handled is in flight on the other; once committed, a redelivery (re-signed
/// later) is a repeat on both.
fn shared(store: Arc<dyn ReplayStore>) {
    let (a, b) = (receiver(store.clone()), receiver(store));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = r#"{"event_type":"identity.session.status_changed","data":{"session_id":"iss-r","status":"VALIDATED"}}"#;
    let (h1, b1) = delivery(body, now);
    // Replica A's handler fails: the receipt is dropped uncommitted.
    let first = a.verify(&h1, &b1).unwrap();
    assert_eq!(
        b.verify(&h1, &b1).unwrap_err().reason(),
        "in_flight",
        "a copy while A handles it"
    );
    drop(first.receipt);
    // Delivered again, re-signed a second later, to replica B: handled, and committed.
    let (h2, b2) = delivery(body, now + 1);
    let second = b.verify(&h2, &b2).unwrap();
    second.receipt.commit();
    for receiver in [&a, &b] {
        assert_eq!(receiver.verify(&h1, &b1).unwrap_err().reason(), "repeated");
        assert_eq!(receiver.verify(&h2, &b2).unwrap_err().reason(), "repeated");
    }
}

#[test]
fn replicas_sharing_a_sqlite_file_recognise_each_others_deliveries() {
    let dir = std::env::temp_dir().join(format!("kyc-track-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("replay.db");
    let _ = std::fs::remove_file(&path);
    shared(Arc::new(SqliteStore::open(&path).unwrap()));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The test database (`KYC_TEST_POSTGRES`, which `.ci/run` sets); `None`, saying so, when
/// there is none, unless `KYC_REQUIRE_POSTGRES` is set: then the test fails.
fn postgres_url() -> Option<String> {
    let url = std::env::var("KYC_TEST_POSTGRES").ok();
    if url.is_none() {
        assert!(
            std::env::var_os("KYC_REQUIRE_POSTGRES").is_none(),
            "KYC_REQUIRE_POSTGRES is set but KYC_TEST_POSTGRES is not"
        );
        eprintln!("skipped: no PostgreSQL");
    }
    url
}

#[test]
fn replicas_sharing_postgres_recognise_each_others_deliveries() {
    let Some(url) = postgres_url() else { return };
    let schema = format!("t_{}_replay", std::process::id());
    // Two stores (two processes' pools) on one database.
    let one = Arc::new(PgStore::open_in_schema(&url, &schema).unwrap());
    let two: Arc<dyn ReplayStore> = Arc::new(PgStore::open_in_schema(&url, &schema).unwrap());
    let (a, b) = (receiver(one), receiver(two));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = r#"{"event_id":"evt-1","event_type":"identity.session.status_changed","data":{"session_id":"iss-p","status":"VALIDATED"}}"#;
    let (h, bytes) = delivery(body, now);
    let held = a.verify(&h, &bytes).unwrap();
    assert_eq!(b.verify(&h, &bytes).unwrap_err().reason(), "in_flight");
    held.receipt.commit();
    assert_eq!(b.verify(&h, &bytes).unwrap_err().reason(), "repeated");
}

/// Serves `receiver` in an axum app (the extractor and `ReceiptLayer`) on a loopback port inside
/// a multi-threaded tokio runtime, as a service does; posts the delivery `(headers, body)` three
/// times (the handler fails the first) and returns the three statuses.
fn through_axum(
    receiver: WebhookReceiver,
    headers: &kyc_core::http::HeaderMap,
    body: &[u8],
) -> Vec<u16> {
    use axum::http::StatusCode;
    use std::sync::atomic::{AtomicUsize, Ordering};
    /// This app's calls (each test serves its own app).
    type Calls = axum::Extension<Arc<AtomicUsize>>;
    async fn handler(
        axum::Extension(calls): Calls,
        kyc_axum::VerifiedEvent(_event): kyc_axum::VerifiedEvent,
    ) -> StatusCode {
        // The first call fails: the delivery is not counted, and its redelivery is handled.
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::NO_CONTENT
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route(PATH, axum::routing::post(handler))
        .layer(kyc_axum::ReceiptLayer::new())
        .layer(axum::Extension(Arc::new(AtomicUsize::new(0))))
        .with_state(receiver);
    runtime.spawn(async move { axum::serve(listener, app).await });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into();
    let statuses = (0..3)
        .map(|_| {
            let mut request = agent.post(format!("http://{address}{PATH}"));
            for (name, value) in headers {
                request = request.header(name.as_str(), value.to_str().unwrap());
            }
            request
                .content_type("application/json")
                .send(body)
                .map_or(0, |r| r.status().as_u16())
        })
        .collect();
    runtime.shutdown_background();
    statuses
}

fn axum_delivery() -> (kyc_core::http::HeaderMap, Vec<u8>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = format!(
        r#"{{"event_id":"evt-axum-{}","event_type":"identity.session.status_changed","data":{{"session_id":"iss-x","status":"VALIDATED"}}}}"#,
        std::process::id()
    );
    delivery(&body, now)
}

#[test]
fn in_an_axum_service_the_sqlite_store_counts_a_delivery_once_its_handler_succeeded() {
    let dir = std::env::temp_dir().join(format!("kyc-track-replay-axum-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(SqliteStore::open(dir.join("replay.db")).unwrap());
    let (headers, body) = axum_delivery();
    // Failed, handled, then a repeat answered without the handler.
    assert_eq!(
        through_axum(receiver(store), &headers, &body),
        [500, 204, 200]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn in_an_axum_service_the_postgres_store_counts_a_delivery_once_its_handler_succeeded() {
    let Some(url) = postgres_url() else { return };
    let schema = format!("t_{}_replay_axum", std::process::id());
    let store = Arc::new(PgStore::open_in_schema(&url, &schema).unwrap());
    let (headers, body) = axum_delivery();
    assert_eq!(
        through_axum(receiver(store), &headers, &body),
        [500, 204, 200]
    );
}

#[test]
fn a_receiver_without_the_tracker_forgets_receipts_whose_memory_ended() {
    use kyc_core::webhook::DeliveryKey;
    let dir = std::env::temp_dir().join(format!("kyc-track-prune-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("replay.db");
    let store = SqliteStore::open(&path).unwrap();
    let at = |secs: u64| UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000 + secs);
    let key = |i: u32| {
        let event = kyc_core::webhook::Event::from_json(
            serde_json::json!({"event_id": format!("evt-prune-{i}")}),
        );
        DeliveryKey::of(&kyc_core::http::HeaderMap::new(), b"", &event)
    };
    // 600 deliveries handled at 0 and remembered until 100, then 1,000 more at 1,000: no tracker
    // sweeps; the store's own prunes (512 at most every 256 claims, so at least three among
    // these 1,000 claims, whatever other tests of this process claim) remove the old ones.
    for i in 0..600 {
        let kyc_axum::Started::New { claim } = store.begin(&key(i), at(0), at(60), at(0)).unwrap()
        else {
            panic!("new")
        };
        store.commit(&key(i), claim, at(0), at(100)).unwrap();
    }
    for i in 600..1600 {
        let kyc_axum::Started::New { claim } =
            store.begin(&key(i), at(1000), at(1060), at(1000)).unwrap()
        else {
            panic!("new")
        };
        store.commit(&key(i), claim, at(1000), at(1100)).unwrap();
    }
    let rows: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM receipts", [], |row| row.get(0))
        .unwrap();
    assert_eq!(
        rows, 1000,
        "the 600 expired receipts gone, the 1,000 remembered kept"
    );
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}
