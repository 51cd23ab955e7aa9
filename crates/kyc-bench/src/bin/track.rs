//! The tracker's figures (issue #25), printed as markdown rows:
//!
//! ```text
//! cargo run --release -p kyc-bench --bin track [-- --sessions 1000,100000,1000000 --deliveries 4000 --pg-sessions 1000000]
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
//!
//! With a PostgreSQL server (`--postgres URL` or `KYC_TEST_POSTGRES`; issue #26), in a schema of
//! its own, dropped at the end:
//!
//! - P1. ingestion as in 1 through `PgStore`, one replica and three at once, against a bare
//!   prepared `INSERT` of the session row, one transaction each, on the same server.
//! - P2. a tick's store work with 1,000 and `--pg-sessions` (1,000,000) sessions, 64 due, and
//!   the index the due-sessions query uses (`EXPLAIN`).
//! - P3. a replica claims a due poll and dies: the time until another replica claims it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kyc_core::track::{Input, Observation, Origin, TrackSettings, Tracked, decide};
use kyc_core::webhook::{DeliveryKey, Verifier, WebhookKeys, WebhookSecret, sign};
use kyc_core::{SessionId, SessionStatus};
use kyc_track::{PgStore, SqliteStore, Store, apply};

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
fn ingest(store: &dyn Store, batch: &[Delivery], verifier: &Verifier) -> Result<f64, Error> {
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

/// The rows a bare insert writes: `n` sessions' records as the tracker would write them (id and
/// JSON text), ids unique per `round`.
fn bare_rows(n: usize, round: usize) -> Result<Vec<(String, String)>, Error> {
    let settings = TrackSettings::default();
    (0..n)
        .map(|i| {
            let id = SessionId::from(format!("bare-{round}-{i}").as_str());
            let o = Observation::new(id.clone(), SessionStatus::Validated, Origin::Webhook);
            let record = decide(None, &Input::Observed(o), SystemTime::now(), &settings)
                .record
                .ok_or("no record")?;
            Ok((id.as_str().to_owned(), serde_json::to_string(&record)?))
        })
        .collect()
}

/// Bare inserts per second of the same session rows into `connection`, one transaction each.
fn bare(
    connection: &mut rusqlite::Connection,
    batch: &[Delivery],
    round: usize,
) -> Result<f64, Error> {
    let rows = bare_rows(batch.len(), round)?;
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

/// The PostgreSQL figures (issue #26): ingestion with one and three replicas against a bare
/// insert over the same pool, a tick at a million sessions with its plan, and how long a dead
/// replica's claimed polls wait.
fn postgres(url: &str, per_round: usize, rounds: usize, sessions: usize) -> Result<(), Error> {
    let schema = format!("bench_{}", std::process::id());
    let keys = WebhookKeys::new().with(API_KEY, WebhookSecret::from_base64(SECRET)?);
    let verifier = Verifier::new(keys).expected_endpoint("/webhooks/identity");
    let (first, second, third) = (
        PgStore::open_in_schema(url, &schema)?,
        PgStore::open_in_schema(url, &schema)?,
        PgStore::open_in_schema(url, &schema)?,
    );
    let replicas = [&first, &second, &third];
    let mut bare_client = postgres::Client::connect(url, postgres::NoTls)?;
    bare_client.batch_execute(&format!(
        "SET search_path TO {schema};
         CREATE TABLE IF NOT EXISTS bare (session_id TEXT PRIMARY KEY, record TEXT NOT NULL)"
    ))?;
    // Prepared once, as the store prepares its statements once per connection.
    let bare_insert =
        bare_client.prepare("INSERT INTO bare (session_id, record) VALUES ($1, $2)")?;
    let settings = TrackSettings::default();
    let (mut one, mut three, mut bare) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let batch = deliveries(per_round, 1000 + round)?;
        one.push(ingest(&first, &batch, &verifier)?);
        let batch = deliveries(per_round, 2000 + round)?;
        let started = Instant::now();
        std::thread::scope(|s| -> Result<(), Error> {
            let parts: Vec<_> = batch.chunks(per_round.div_ceil(3)).collect();
            let handles: Vec<_> = replicas
                .iter()
                .zip(parts)
                .map(|(store, part)| {
                    s.spawn(|| {
                        ingest(*store, part, &verifier)
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    })
                })
                .collect();
            for h in handles {
                h.join().map_err(|_| "a replica panicked")??;
            }
            Ok(())
        })?;
        three.push(batch.len() as f64 / started.elapsed().as_secs_f64());
        let rows = bare_rows(per_round, round)?;
        let started = Instant::now();
        for (id, text) in &rows {
            let mut tx = bare_client.transaction()?;
            tx.execute(&bare_insert, &[id, text])?;
            tx.commit()?;
        }
        bare.push(rows.len() as f64 / started.elapsed().as_secs_f64());
    }
    let ratio = |a: &[f64], b: &[f64]| -> (f64, f64, f64) {
        let mut r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
        let (lo, hi) = (
            r.iter().copied().fold(f64::INFINITY, f64::min),
            r.iter().copied().fold(0.0, f64::max),
        );
        (median(&mut r), lo, hi)
    };
    let (r1, l1, h1) = ratio(&one, &bare);
    let (r3, l3, h3) = ratio(&three, &bare);
    let b = median(&mut bare);
    println!(
        "| P1. webhook ingestion on PostgreSQL, one replica (verify + key + decide + one transaction) vs a bare INSERT of the session row over the same server | report | {:.0} vs {b:.0} per s ({rounds} rounds of {per_round}) | {r1:.2} ({l1:.2}–{h1:.2})× |",
        median(&mut one)
    );
    println!(
        "| P1. the same, three replicas (three pools) ingesting at once | report | {:.0} per s in all | {r3:.2} ({l3:.2}–{h3:.2})× |",
        median(&mut three)
    );
    // A replica dies holding a claim: another takes the session when the lease ends.
    let lease = Duration::from_secs(2);
    let input = Input::Follow {
        session_id: SessionId::from("iss-takeover"),
        subject: None,
        expiration_at: None,
        origin: Origin::Followed,
    };
    let record = decide(None, &input, SystemTime::now(), &settings)
        .record
        .ok_or("no record")?;
    second.insert_many(std::slice::from_ref(&record))?;
    let due = record.next_poll.ok_or("not scheduled")?;
    let claimed_at = Instant::now();
    let held = second.claim_due(due, lease, 10)?;
    if !held.iter().any(|r| r.session_id.as_str() == "iss-takeover") {
        return Err("the first replica did not claim it".into());
    }
    // Replica 1 dies here (no write). Replica 2 asks every 10 ms, at the session's due time plus
    // the real time passed.
    let taken = loop {
        let now = due + claimed_at.elapsed();
        let got = third.claim_due(now, lease, 64)?;
        if got.iter().any(|r| r.session_id.as_str() == "iss-takeover") {
            break claimed_at.elapsed();
        }
        if claimed_at.elapsed() > Duration::from_secs(30) {
            return Err("never taken over".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Printed after P2: measured first, before the table holds a million sessions.
    let takeover = format!(
        "| P3. a replica dies holding a claimed poll: time until another takes it | the lease (`--poll-lease`, 300 s by default; 2 s here) | {:.2} s | — |",
        taken.as_secs_f64()
    );
    // 1,000 tracked sessions, then `sessions`, 64 of them due: the tick's cost at both sizes.
    let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut tracked = 0;
    for size in [1_000.min(sessions), sessions] {
        let started = Instant::now();
        let mut batch = Vec::with_capacity(10_000);
        for i in tracked..size {
            let input = Input::Follow {
                session_id: SessionId::from(format!("iss-{i:08}").as_str()),
                subject: None,
                expiration_at: None,
                origin: Origin::Created,
            };
            let seen = if i < 64 {
                base
            } else {
                base + Duration::from_secs(7200)
            };
            batch.push(
                decide(None, &input, seen, &settings)
                    .record
                    .ok_or("no record")?,
            );
            if batch.len() == 10_000 {
                first.insert_many(&batch)?;
                batch.clear();
            }
        }
        first.insert_many(&batch)?;
        tracked = size;
        bare_client.batch_execute("VACUUM ANALYZE sessions")?;
        let populated = started.elapsed();
        let now = base + Duration::from_secs(3600);
        let mut times = Vec::new();
        for _ in 0..9 {
            let started = Instant::now();
            let _ = first.take_poll(now, u32::MAX)?;
            let claimed = first.claim_due(now, Duration::ZERO, 64)?;
            let _ = first.next_due()?;
            times.push(started.elapsed().as_secs_f64() * 1e6);
            if claimed.len() != 64 {
                return Err(format!("{} due, expected 64", claimed.len()).into());
            }
        }
        let plan = first.explain_due(now)?;
        let index = plan
            .lines()
            .find(|l| l.contains("Index"))
            .map_or("no index!", str::trim)
            .to_owned();
        println!(
            "| P2. one tick's store work (budget, claim 64 due, next due) with {size} sessions in PostgreSQL, 64 due | must not grow with sessions not due; the plan uses the index | {:.0} µs median of 9 (populated in {:.1} s); plan: `{index}` | — |",
            median(&mut times),
            populated.as_secs_f64()
        );
    }
    println!("{takeover}");
    bare_client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))?;
    Ok(())
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
    match value("--postgres").or_else(|| std::env::var("KYC_TEST_POSTGRES").ok()) {
        Some(url) => {
            let pg_sessions: usize = value("--pg-sessions")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1_000_000);
            postgres(&url, deliveries / 5, 5, pg_sessions)?;
        }
        None => eprintln!("track: no PostgreSQL figures (--postgres URL or KYC_TEST_POSTGRES)"),
    }
    Ok(())
}
