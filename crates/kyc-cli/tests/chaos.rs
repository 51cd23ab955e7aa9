//! Every verdict, exactly once, through a misbehaving network and two crashes: 210 sessions on
//! kyc-mock whose webhooks are dropped (30 %), duplicated (20 %), held and reordered, re-signed on
//! every retry, without `event_id`; `kyc track serve` killed with SIGKILL twice mid-run and
//! restarted on the same SQLite file; the sessions created through the tracker (their keys
//! written first). At the end: every session final in the simulator has exactly one verdict,
//! with the simulator's status, acknowledged by one consumer (`kyc track verdicts --ack`); none
//! for a session that is not final; no session created twice; polls per session bounded.

// A panic is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kyc_core::track::TrackSettings;
use kyc_core::{
    Config, Country, CreateSession, Credentials, DocumentType, Environment, SessionStatus,
    UploadFile,
};
use kyc_mock::{MockConfig, MockServer, WebhookChaos};
use kyc_track::{SqliteStore, Store, Tracker};

const SESSIONS: usize = 210;
const SEED: u64 = 20_261_207;
const PATH: &str = "/webhooks/identity";
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1,
];
/// The most polls a session may take in this test (the tracker's `--max-polls`).
const MAX_POLLS: u32 = 30;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `kyc track serve` on `port` with `db`, started and its start line read.
fn serve(mock: &MockServer, port: u16, db: &str) -> Child {
    let secret = format!("{}:{}", mock.webhook_api_key(), mock.webhook_secret());
    let mut child = Command::new(env!("CARGO_BIN_EXE_kyc"))
        .args([
            "--base-url",
            mock.base_url(),
            "--audience",
            mock.audience(),
            "--client-id",
            mock.client_id(),
            "--client-secret",
            mock.client_secret(),
            "track",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--webhook-path",
            PATH,
            "--db",
            db,
            "--secret",
            &secret,
            "--quiet-period",
            "1",
            "--max-backoff",
            "3",
            "--max-polls",
            &MAX_POLLS.to_string(),
            "--polls-per-minute",
            "6000",
            "--idle",
            "0.2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("\"listen\""), "start line: {line:?}");
    child
}

/// SIGKILL: no shutdown, whatever was in flight.
fn kill(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// What `kyc track verdicts --ack` prints: verdicts taken and acknowledged, one line each.
fn consume(db: &str) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_kyc"))
        .args(["track", "verdicts", "--ack", "--limit", "1000", "--db", db])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn client(mock: &MockServer) -> kyc_reqwest::Client {
    let config = Config::builder(Environment::Sandbox)
        .base_url(mock.base_url())
        .audience(mock.audience())
        .build()
        .unwrap();
    kyc_reqwest::Client::new(
        config,
        Credentials::new(mock.client_id(), mock.client_secret()),
    )
}

#[test]
fn every_final_session_gets_one_verdict_through_lost_doubled_reordered_webhooks_and_two_kills() {
    let dir = std::env::temp_dir().join(format!("kyc-chaos-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db_path = dir.join("track.db");
    let db = format!("sqlite:{}", db_path.display());
    let port = free_port();
    let chaos = WebhookChaos::new()
        .drop_rate(0.3)
        .duplicate_rate(0.2)
        .max_delay(Duration::from_millis(400))
        .omit_event_id(true);
    let mock = MockServer::start(
        MockConfig::new()
            .webhook_url(format!("http://127.0.0.1:{port}{PATH}"))
            .webhook_chaos(chaos)
            .webhook_seed(SEED)
            .notify_processing(true)
            .processing_delay(Duration::from_millis(150))
            .max_recorded_requests(50_000),
    )
    .unwrap();
    // The store exists before the first tracker: `serve` and this test's creates share it.
    drop(SqliteStore::open(&db_path).unwrap());
    let mut tracker_process = serve(&mock, port, &db);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db_path).unwrap());
    // The same rules as the served tracker: a record's next poll is scheduled by whoever writes it.
    let mut settings = TrackSettings::default();
    settings.quiet_period = Duration::from_secs(1);
    settings.max_backoff = Duration::from_secs(3);
    settings.max_polls = MAX_POLLS;
    settings.polls_per_minute = 6000;
    let creator = Tracker::new(client(&mock), store.clone(), settings);
    let uploader = client(&mock);
    // Sessions: one in five not validated, one in seven left without documents (never final).
    let mut expected: BTreeMap<String, Option<SessionStatus>> = BTreeMap::new();
    let mut users = Vec::new();
    let started = Instant::now();
    for i in 0..SESSIONS {
        let idle = i % 7 == 3;
        let user = if i % 5 == 1 {
            format!("usr-chaos-{i}-not-validated")
        } else {
            format!("usr-chaos-{i}")
        };
        let created = runtime
            .block_on(creator.create(CreateSession::new(user.as_str(), Country::Arg)))
            .unwrap();
        if !idle {
            for document in [
                DocumentType::Selfie,
                DocumentType::IdentityCardFront,
                DocumentType::IdentityCardBack,
            ] {
                let upload =
                    UploadFile::new(created.id.clone(), user.as_str(), document).file_name("d.jpg");
                runtime
                    .block_on(uploader.upload(&upload, kyc_reqwest::Source::bytes(JPEG)))
                    .unwrap();
            }
        }
        let outcome = match (idle, i % 5 == 1) {
            (true, _) => None,
            (false, true) => Some(SessionStatus::NotValidated),
            (false, false) => Some(SessionStatus::Validated),
        };
        expected.insert(created.id.as_str().to_owned(), outcome);
        users.push(user);
        // Two crashes mid-run: the tracker dies with webhooks and polls in flight, and comes
        // back on the same file.
        if i == SESSIONS / 3 || i == 2 * SESSIONS / 3 {
            kill(&mut tracker_process);
            std::thread::sleep(Duration::from_millis(300));
            tracker_process = serve(&mock, port, &db);
        }
    }
    let created_in = started.elapsed();

    // Bounded wait: every final session has its verdict in the store.
    let finals = expected.values().filter(|o| o.is_some()).count();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let reached = store.verdicts(usize::MAX).unwrap().len();
        if reached >= finals || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    // One consumer takes every verdict and acknowledges it; a second pass gets nothing more.
    let mut consumed = consume(&db);
    consumed.extend(consume(&db));
    kill(&mut tracker_process);

    let missing: Vec<_> = expected
        .iter()
        .filter(|(_, o)| o.is_some())
        .filter_map(|(id, _)| store.load(&kyc_core::SessionId::from(id.as_str())).unwrap())
        .filter(|r| r.verdict.is_none())
        .map(|r| serde_json::to_string(&r).unwrap())
        .collect();
    assert!(
        missing.is_empty(),
        "{} without a verdict: {missing:?}",
        missing.len()
    );
    let mut per_key: HashMap<String, Vec<&serde_json::Value>> = HashMap::new();
    for line in &consumed {
        // Grouped by session: two lines for one session, whatever their keys, are two verdicts.
        per_key
            .entry(line["session_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(line);
    }
    for (session, outcome) in &expected {
        let got = per_key.get(session).map(Vec::as_slice).unwrap_or_default();
        match outcome {
            Some(status) => {
                let record = store
                    .load(&kyc_core::SessionId::from(session.as_str()))
                    .unwrap();
                assert_eq!(
                    got.len(),
                    1,
                    "{session}: one verdict, got {got:?}; {record:?}"
                );
                assert_eq!(got[0]["status"], status.as_str(), "{session}");
                assert_eq!(
                    got[0]["key"],
                    session.as_str(),
                    "a stable key: the session id"
                );
            }
            None => assert!(got.is_empty(), "{session} is not final: {got:?}"),
        }
    }
    assert_eq!(per_key.len(), finals, "no verdict for an unknown session");
    assert!(
        store
            .verdicts(usize::MAX)
            .unwrap()
            .iter()
            .all(|(_, acked)| *acked),
        "every verdict acknowledged"
    );

    // No session created twice: one per user in the simulator.
    let requests = mock.requests();
    let creates = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/identity/v2/sessions")
        .count();
    assert_eq!(mock.session_count(), SESSIONS);
    assert!(creates >= SESSIONS);
    // Polls per session, bounded.
    let mut polls: HashMap<&str, u32> = HashMap::new();
    for r in &requests {
        if r.method == "GET" {
            if let Some(id) = r.path.strip_prefix("/identity/v1/sessions/") {
                *polls.entry(id).or_default() += 1;
            }
        }
    }
    let mut counts: Vec<u32> = expected
        .keys()
        .map(|id| polls.get(id.as_str()).copied().unwrap_or(0))
        .collect();
    counts.sort_unstable();
    let max = *counts.last().unwrap();
    assert!(max <= MAX_POLLS, "a session polled {max} times");
    let stats = mock.stats();
    println!(
        "chaos: {SESSIONS} sessions ({finals} final) created in {:.1} s; webhooks: {} \
         notifications, {} dropped, {} duplicated, {} attempts; polls per session: median {}, \
         max {max}; {} verdicts consumed",
        created_in.as_secs_f64(),
        stats.webhook_notifications,
        stats.webhooks_dropped,
        stats.webhook_duplicates,
        stats.webhook_attempts,
        counts[counts.len() / 2],
        consumed.len()
    );
    let _ = users;
    let _ = std::fs::remove_dir_all(&dir);
}
