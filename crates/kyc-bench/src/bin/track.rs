//! The tracker's figures (issue #25), printed as markdown rows:
//!
//! ```text
//! cargo run --release -p kyc-bench --bin track [-- --sessions 1000,100000,1000000 --deliveries 4000]
//! ```
//!
//! 1. Webhook ingestion per second on one SQLite file (WAL, `synchronous = FULL`): verify the
//!    signature, compute the delivery key, decide, and commit the delivery key, the session and
//!    its verdict in one transaction; against a bare `INSERT` of the same session row into the
//!    same file, one transaction each. Both run alternately in rounds in one process; the ratio
//!    is of the medians.
//! 2. The cost of one reconciliation tick's store work (take a poll from the budget, claim the due
//!    sessions, find the next due time) with 1,000 … 1,000,000 tracked sessions, of which a fixed
//!    64 are due: it must not grow with the sessions that are not due (an index on `next_poll`).
//! 3. The time from a dropped webhook to the verdict under the default schedule, computed with
//!    kyc-core's rules (no network): a session whose outcome comes at T after its creation, every
//!    webhook lost, polled as the schedule says.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kyc_core::track::{Input, Observation, Origin, TrackSettings, Tracked, decide};
use kyc_core::webhook::{DeliveryKey, Verifier, WebhookKeys, WebhookSecret, sign};
use kyc_core::{SessionId, SessionStatus};
use kyc_track::{SqliteStore, Store, apply};

type Error = Box<dyn std::error::Error>;

const API_KEY: &str = "Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA=";
const SECRET: &str = "uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=";

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn temp(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("kyc-bench-track-{}-{name}", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn remove(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// One signed delivery: a session's verdict.
struct Delivery {
    headers: kyc_core::http::HeaderMap,
    body: Vec<u8>,
}

fn deliveries(n: usize, round: usize) -> Result<Vec<Delivery>, Error> {
    let secret = WebhookSecret::from_base64(SECRET)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    (0..n)
        .map(|i| {
            let body = format!(
                r#"{{"event_type":"identity.session.status_changed","created_at":"2026-12-07T12:00:00Z","data":{{"session_id":"iss-{round}-{i}","user_id":"usr-{i}","status":"VALIDATED","reason":null,"country":"ARG","flow_type":"kyc-accounts"}}}}"#
            )
            .into_bytes();
            let signed = sign(API_KEY, &secret, "/webhooks/identity", now, &body);
            let mut headers = kyc_core::http::HeaderMap::new();
            headers.insert("x-api-key", signed.api_key.parse()?);
            headers.insert("x-signature", signed.signature.parse()?);
            headers.insert("x-timestamp", signed.timestamp.parse()?);
            headers.insert("x-endpoint", signed.endpoint.parse()?);
            Ok(Delivery { headers, body })
        })
        .collect()
}

/// Deliveries per second through the tracker's path into `store`.
fn ingest(store: &SqliteStore, batch: &[Delivery], verifier: &Verifier) -> Result<f64, Error> {
    let settings = TrackSettings::default();
    let started = Instant::now();
    for d in batch {
        let now = SystemTime::now();
        let event = verifier.verify(&d.headers, &d.body, now)?;
        let key = DeliveryKey::of(&d.headers, &d.body, &event).to_string();
        let kyc_core::webhook::Event::ValidationSession(n) = &event else {
            return Err("not a session event".into());
        };
        let input = Input::Observed(Observation::from_notification(n));
        apply(store, &input, &settings, Some(key), None, SystemTime::now)?;
    }
    Ok(batch.len() as f64 / started.elapsed().as_secs_f64())
}

/// Bare inserts per second of the same session rows into `connection`, one transaction each.
fn bare(
    connection: &mut rusqlite::Connection,
    batch: &[Delivery],
    round: usize,
) -> Result<f64, Error> {
    let settings = TrackSettings::default();
    let rows: Vec<(String, String)> = (0..batch.len())
        .map(|i| {
            let id = SessionId::from(format!("bare-{round}-{i}").as_str());
            let o = Observation::new(id.clone(), SessionStatus::Validated, Origin::Webhook);
            let record = decide(None, &Input::Observed(o), SystemTime::now(), &settings)
                .record
                .ok_or("no record")?;
            Ok((id.as_str().to_owned(), serde_json::to_string(&record)?))
        })
        .collect::<Result<_, Error>>()?;
    let started = Instant::now();
    for (id, text) in &rows {
        let tx = connection.transaction()?;
        tx.execute(
            "INSERT INTO bare (session_id, record) VALUES (?1, ?2)",
            rusqlite::params![id, text],
        )?;
        tx.commit()?;
    }
    Ok(rows.len() as f64 / started.elapsed().as_secs_f64())
}

fn ingestion(per_round: usize, rounds: usize) -> Result<(), Error> {
    let path = temp("ingest.db");
    let store = SqliteStore::open(&path)?;
    let mut connection = rusqlite::Connection::open(&path)?;
    connection.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE IF NOT EXISTS bare (session_id TEXT PRIMARY KEY, record TEXT NOT NULL);",
    )?;
    connection.busy_timeout(Duration::from_secs(5))?;
    let keys = WebhookKeys::new().with(API_KEY, WebhookSecret::from_base64(SECRET)?);
    let verifier = Verifier::new(keys).expected_endpoint("/webhooks/identity");
    let (mut tracked, mut plain) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let batch = deliveries(per_round, round)?;
        tracked.push(ingest(&store, &batch, &verifier)?);
        plain.push(bare(&mut connection, &batch, round)?);
    }
    let ratios: Vec<f64> = tracked.iter().zip(&plain).map(|(t, b)| t / b).collect();
    let (t, b) = (median(&mut tracked), median(&mut plain));
    let mut r = ratios.clone();
    let spread = (
        r.iter().copied().fold(f64::INFINITY, f64::min),
        r.iter().copied().fold(0.0, f64::max),
    );
    println!(
        "| T1. webhook ingestion (verify + key + decide + one transaction: key, session, verdict) vs a bare INSERT of the session row, same SQLite file, synchronous=FULL | report | {t:.0} vs {b:.0} per s ({rounds} rounds of {per_round}) | {:.2} ({:.2}–{:.2})× |",
        median(&mut r),
        spread.0,
        spread.1
    );
    drop(store);
    remove(&path);
    Ok(())
}

fn tick_cost(sessions: usize) -> Result<(), Error> {
    let path = temp(&format!("tick-{sessions}.db"));
    let store = SqliteStore::open(&path)?;
    let settings = TrackSettings::default();
    let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let due = 64usize;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..sessions {
        let input = Input::Follow {
            session_id: SessionId::from(format!("iss-{i:08}").as_str()),
            subject: Some(format!("usr-{i}")),
            expiration_at: None,
            origin: Origin::Created,
        };
        // The due ones were first seen an hour earlier; the rest an hour later (not due).
        let seen = if i < due {
            base
        } else {
            base + Duration::from_secs(7200)
        };
        let record: Tracked = decide(None, &input, seen, &settings)
            .record
            .ok_or("no record")?;
        batch.push(record);
        if batch.len() == 10_000 {
            store.insert_many(&batch)?;
            batch.clear();
        }
    }
    store.insert_many(&batch)?;
    let populated = started.elapsed();
    let now = base + Duration::from_secs(3600);
    let mut times = Vec::new();
    for _ in 0..9 {
        let started = Instant::now();
        // What a tick asks of the store, its polls aside: the budget, the due sessions (claimed
        // for a lease that ends at once, so the next round finds them again), the next due time.
        let _ = store.take_poll(now, u32::MAX)?;
        let claimed = store.claim_due(now, Duration::ZERO, due)?;
        let _ = store.next_due()?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
        if claimed.len() != due {
            return Err(format!("{} due, expected {due}", claimed.len()).into());
        }
    }
    let size = std::fs::metadata(&path)?.len() as f64 / 1_048_576.0;
    println!(
        "| T2. one tick's store work (budget, claim 64 due, next due) with {sessions} tracked sessions, 64 of them due | must not grow with sessions not due | {:.0} µs median of 9 (file {size:.0} MiB, populated in {:.1} s) | — |",
        median(&mut times),
        populated.as_secs_f64()
    );
    drop(store);
    remove(&path);
    Ok(())
}

fn dropped_webhook() {
    let settings = TrackSettings::default();
    let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut cells = Vec::new();
    for outcome_after in [60u64, 300, 1800, 7200, 43_200] {
        let id = SessionId::from("iss-1");
        let follow = Input::Follow {
            session_id: id.clone(),
            subject: None,
            expiration_at: Some(base + Duration::from_secs(86_400)),
            origin: Origin::Created,
        };
        let mut record = decide(None, &follow, base, &settings).record;
        let outcome = base + Duration::from_secs(outcome_after);
        let mut verdict_at = None;
        for _ in 0..100 {
            let Some(r) = &record else { break };
            let Some(at) = r.next_poll else { break };
            let status = if at >= outcome {
                SessionStatus::Validated
            } else {
                SessionStatus::Processing
            };
            let o = Observation::new(id.clone(), status, Origin::Poll);
            let d = decide(record.as_ref(), &Input::Observed(o), at, &settings);
            if d.verdict.is_some() {
                verdict_at = Some(at);
            }
            record = d.record;
            if verdict_at.is_some() {
                break;
            }
        }
        let late = verdict_at
            .and_then(|v| v.duration_since(outcome).ok())
            .map_or("never".to_owned(), |d| format!("{} min", d.as_secs() / 60));
        cells.push(format!("outcome at {} min: +{late}", outcome_after / 60));
    }
    println!(
        "| T3. from a dropped webhook to the verdict, default schedule (quiet 10 min, doubling to 6 h) | report | {} | — |",
        cells.join("; ")
    );
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let sessions: Vec<usize> = value("--sessions")
        .unwrap_or_else(|| "1000,100000,1000000".to_owned())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let deliveries: usize = value("--deliveries")
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    println!("| figure | goal | measured | ratio |");
    println!("|---|---|---|---|");
    ingestion(deliveries / 5, 5)?;
    for n in sessions {
        tick_cost(n)?;
    }
    dropped_webhook();
    Ok(())
}
