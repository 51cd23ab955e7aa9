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

#[test]
fn replicas_sharing_postgres_recognise_each_others_deliveries() {
    let Ok(url) = std::env::var("KYC_TEST_POSTGRES") else {
        assert!(
            std::env::var_os("KYC_REQUIRE_POSTGRES").is_none(),
            "KYC_REQUIRE_POSTGRES is set but KYC_TEST_POSTGRES is not"
        );
        eprintln!("skipped: no PostgreSQL");
        return;
    };
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
