//! Every verdict, exactly once, through a misbehaving network and crashes. 210 sessions on kyc-mock
//! whose webhooks are dropped (30 %), duplicated (20 %), held and reordered, re-signed on every
//! retry, without `event_id`; the sessions created through the tracker (their keys written
//! first). Two runs:
//!
//! - one `kyc track serve` on a SQLite file, killed with SIGKILL twice mid-run and restarted on
//!   the same file;
//! - a fleet of three on one PostgreSQL database, the webhooks spread over them, one redeployed
//!   mid-run and one killed with SIGKILL while a poll of its is in flight (every poll takes
//!   0.8 s, so replicas poll at once and a claim must hold).
//!
//! Each shows: every session final in the simulator has exactly one verdict, with the simulator's
//! status, acknowledged by one consumer (`kyc track verdicts --ack`); none for a session that is
//! not final; no session created twice; polls per session bounded. The fleet also shows that no
//! session was polled by two replicas at once and that the polls stayed within the fleet's
//! budget.

// A panic is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kyc_core::track::TrackSettings;
use kyc_core::{
    Config, Country, CreateSession, Credentials, DocumentType, Environment, SessionStatus,
    UploadFile,
};
use kyc_mock::{Fault, MockConfig, MockServer, RecordedRequest, Route, WebhookChaos};
use kyc_track::{PgStore, SqliteStore, Store, Tracker};

const SESSIONS: usize = 210;

/// How long the simulator takes to answer a poll in the fleet run.
const POLL_TAKES: Duration = Duration::from_millis(800);
const SEED: u64 = 20_261_207;
const PATH: &str = "/webhooks/identity";
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1,
];
/// The most polls a session may take in these tests (the trackers' `--max-polls`).
const MAX_POLLS: u32 = 30;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How the trackers of a run are started.
#[derive(Clone)]
struct Fleet {
    db: String,
    ports: Vec<u16>,
    polls_per_minute: u32,
    poll_lease_secs: u32,
}

impl Fleet {
    /// The rules every tracker of the run follows (the creator in this test too: a record's next
    /// poll is scheduled by whoever writes it).
    fn settings(&self) -> TrackSettings {
        let mut settings = TrackSettings::default();
        settings.quiet_period = Duration::from_secs(1);
        settings.max_backoff = Duration::from_secs(3);
        settings.max_polls = MAX_POLLS;
        settings.polls_per_minute = self.polls_per_minute;
        settings
    }

    /// `kyc track serve` number `i`, started and its start line read.
    fn serve(&self, mock: &MockServer, i: usize) -> Replica {
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
                &format!("127.0.0.1:{}", self.ports[i]),
                "--webhook-path",
                PATH,
                "--db",
                &self.db,
                "--secret",
                &secret,
                "--quiet-period",
                "1",
                "--max-backoff",
                "3",
                "--max-polls",
                &MAX_POLLS.to_string(),
                "--polls-per-minute",
                &self.polls_per_minute.to_string(),
                "--poll-lease",
                &self.poll_lease_secs.to_string(),
                "--replica",
                &format!("r{i}"),
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
        Replica(child)
    }
}

/// A running `kyc track serve`, killed when dropped: a failed assertion does not leave it
/// running (it would hold the test's output open and keep polling).
struct Replica(Child);

impl std::ops::Deref for Replica {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Replica {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SIGKILL: no shutdown, whatever was in flight.
fn kill(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// SIGKILL to `replica` while a poll it sent is unanswered (the simulator holds every poll
/// [`POLL_TAKES`]): it dies holding that session's claim. Returns the session and when its poll
/// arrived. Waits at most 60 s for such a moment.
fn kill_mid_poll(mock: &MockServer, replica: &mut Child, agent: &str) -> (String, SystemTime) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let in_flight = mock.requests().into_iter().rev().find(|r| {
            r.method == "GET"
                && r.header("user-agent") == Some(agent)
                && r.received_at.elapsed().unwrap_or_default() < POLL_TAKES / 2
        });
        if let Some(poll) = in_flight {
            if let Some(id) = poll.path.strip_prefix("/identity/v1/sessions/") {
                kill(replica);
                return (id.to_owned(), poll.received_at);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{agent} sent no poll within 60 s");
}

/// SIGTERM: a replica's orderly stop, as a deployment does.
fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
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

/// The simulator, its webhooks spread over `ports` and misbehaving.
fn simulator(ports: &[u16]) -> MockServer {
    let chaos = WebhookChaos::new()
        .drop_rate(0.3)
        .duplicate_rate(0.2)
        .max_delay(Duration::from_millis(400))
        .omit_event_id(true);
    let urls: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}{PATH}"))
        .collect();
    MockServer::start(
        MockConfig::new()
            .webhook_urls(urls)
            .webhook_chaos(chaos)
            .webhook_seed(SEED)
            .notify_processing(true)
            .processing_delay(Duration::from_millis(150))
            .max_recorded_requests(50_000),
    )
    .unwrap()
}

/// What a run leaves to check.
struct Outcome {
    expected: BTreeMap<String, Option<SessionStatus>>,
    consumed: Vec<serde_json::Value>,
    requests: Vec<RecordedRequest>,
    stats: kyc_mock::MockStats,
    sessions_in_simulator: usize,
    created_in: Duration,
}

/// Creates the sessions through a tracker on `store` (one in five not validated, one in seven
/// left without documents, so never final), calling `crash(i)` after each, waits (at most 120 s)
/// until every final session has its verdict, and consumes the verdicts.
fn run(
    mock: &MockServer,
    fleet: &Fleet,
    store: Arc<dyn Store>,
    mut crash: impl FnMut(usize),
) -> Outcome {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let creator = Tracker::new(client(mock), store.clone(), fleet.settings());
    let uploader = client(mock);
    let mut expected = BTreeMap::new();
    let started = Instant::now();
    for i in 0..SESSIONS {
        let idle = i % 7 == 3;
        let refused = i % 5 == 1;
        let user = if refused {
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
        let outcome = match (idle, refused) {
            (true, _) => None,
            (false, true) => Some(SessionStatus::NotValidated),
            (false, false) => Some(SessionStatus::Validated),
        };
        expected.insert(created.id.as_str().to_owned(), outcome);
        crash(i);
    }
    let created_in = started.elapsed();
    let finals = expected.values().filter(|o| o.is_some()).count();
    let deadline = Instant::now() + Duration::from_secs(120);
    while store.verdicts(usize::MAX).unwrap().len() < finals && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    // One consumer takes every verdict and acknowledges it; a second pass gets nothing more.
    let mut consumed = consume(&fleet.db);
    consumed.extend(consume(&fleet.db));
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
    assert!(
        store
            .verdicts(usize::MAX)
            .unwrap()
            .iter()
            .all(|(_, acked)| *acked),
        "every verdict acknowledged"
    );
    Outcome {
        expected,
        consumed,
        requests: mock.requests(),
        stats: mock.stats(),
        sessions_in_simulator: mock.session_count(),
        created_in,
    }
}

/// The checks every run shares; returns the polls of each session (GETs, in arrival order).
fn check<'a>(outcome: &'a Outcome, name: &str) -> HashMap<String, Vec<&'a RecordedRequest>> {
    let mut per_session: HashMap<String, Vec<&serde_json::Value>> = HashMap::new();
    for line in &outcome.consumed {
        // Grouped by session: two lines for one session, whatever their keys, are two verdicts.
        per_session
            .entry(line["session_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(line);
    }
    for (session, expected) in &outcome.expected {
        let got = per_session
            .get(session)
            .map(Vec::as_slice)
            .unwrap_or_default();
        match expected {
            Some(status) => {
                assert_eq!(got.len(), 1, "{session}: one verdict, got {got:?}");
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
    let finals = outcome.expected.values().filter(|o| o.is_some()).count();
    assert_eq!(
        per_session.len(),
        finals,
        "no verdict for an unknown session"
    );
    // No session created twice: one per create in the simulator.
    assert_eq!(outcome.sessions_in_simulator, SESSIONS);
    // Polls per session, bounded.
    let mut polls: HashMap<String, Vec<&RecordedRequest>> = HashMap::new();
    for r in &outcome.requests {
        if r.method == "GET" {
            if let Some(id) = r.path.strip_prefix("/identity/v1/sessions/") {
                polls.entry(id.to_owned()).or_default().push(r);
            }
        }
    }
    let mut counts: Vec<usize> = outcome
        .expected
        .keys()
        .map(|id| polls.get(id).map_or(0, Vec::len))
        .collect();
    counts.sort_unstable();
    let max = *counts.last().unwrap();
    assert!(max <= MAX_POLLS as usize, "a session polled {max} times");
    let stats = &outcome.stats;
    println!(
        "{name}: {SESSIONS} sessions ({finals} final) created in {:.1} s; webhooks: {} \
         notifications, {} dropped, {} duplicated, {} attempts; polls per session: median {}, \
         max {max}; {} verdicts consumed",
        outcome.created_in.as_secs_f64(),
        stats.webhook_notifications,
        stats.webhooks_dropped,
        stats.webhook_duplicates,
        stats.webhook_attempts,
        counts[counts.len() / 2],
        outcome.consumed.len()
    );
    polls
}

#[test]
fn every_final_session_gets_one_verdict_through_lost_doubled_reordered_webhooks_and_two_kills() {
    let dir = std::env::temp_dir().join(format!("kyc-chaos-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db_path = dir.join("track.db");
    let fleet = Fleet {
        db: format!("sqlite:{}", db_path.display()),
        ports: vec![free_port()],
        polls_per_minute: 6000,
        // A kill can land between a poll's claim and its write: the restarted tracker takes the
        // session when the lease ends, well inside the run.
        poll_lease_secs: 3,
    };
    let mock = simulator(&fleet.ports);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db_path).unwrap());
    let mut tracker = fleet.serve(&mock, 0);
    let outcome = run(&mock, &fleet, store, |i| {
        // Two crashes mid-run: the tracker dies with webhooks and polls in flight, and comes
        // back on the same file.
        if i == SESSIONS / 3 || i == 2 * SESSIONS / 3 {
            kill(&mut tracker);
            std::thread::sleep(Duration::from_millis(300));
            tracker = fleet.serve(&mock, 0);
        }
    });
    kill(&mut tracker);
    check(&outcome, "chaos (SQLite, one replica)");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_fleet_of_three_on_postgres_keeps_every_promise_through_a_kill_and_a_restart() {
    let Ok(url) = std::env::var("KYC_TEST_POSTGRES") else {
        assert!(
            std::env::var_os("KYC_REQUIRE_POSTGRES").is_none(),
            "KYC_REQUIRE_POSTGRES is set but KYC_TEST_POSTGRES is not"
        );
        eprintln!("skipped: no PostgreSQL (eval \"$(scripts/postgres.sh start)\" to run it)");
        return;
    };
    // A schema of its own in the test database, migrated once here; the replicas reach it
    // through the connection's search_path.
    let schema = format!("fleet_{}", std::process::id());
    let store: Arc<dyn Store> = Arc::new(PgStore::open_in_schema(&url, &schema).unwrap());
    let separator = if url.contains('?') { '&' } else { '?' };
    let fleet = Fleet {
        db: format!("{url}{separator}options=-csearch_path%3D{schema}"),
        ports: (0..3).map(|_| free_port()).collect(),
        // Binding: 2 polls a second for the whole fleet, whatever the three schedules ask.
        polls_per_minute: 120,
        poll_lease_secs: 3,
    };
    let mock = simulator(&fleet.ports);
    // Every poll answered after 0.8 s: replicas poll at once, each holding its session for
    // longer than the budget's 500 ms between polls, so a session not held by its claim would be
    // taken again by the next replica while the first still waits (a mutation that drops the
    // claim fails). Two replicas can still poll faster than the budget: it stays binding.
    mock.inject_fault(Route::GetSession, Fault::Delay(POLL_TAKES), 100_000);
    let mut replicas: Vec<Replica> = (0..3).map(|i| fleet.serve(&mock, i)).collect();
    let mut victim = None;
    let outcome = run(&mock, &fleet, store, |i| {
        if i == SESSIONS / 3 {
            // Replica 1 is redeployed while sessions are created and webhooks arrive.
            terminate(&mut replicas[1]);
            replicas[1] = fleet.serve(&mock, 1);
        }
        if i == SESSIONS - 1 {
            // Replica 0 dies with SIGKILL while one of its polls is in flight: the session it
            // claimed waits for the lease; its webhooks fail over to the others (the simulator
            // retries on the next URL) or are caught up by polls.
            victim = Some(kill_mid_poll(&mock, &mut replicas[0], "kyc-track r0"));
        }
    });
    drop(replicas);
    let polls = check(&outcome, "fleet (PostgreSQL, three replicas)");
    // The session replica 0 was polling when it died is not polled again before its claim's
    // lease (3 s) ends, then is free for the others (it reached its verdict: `check`).
    let (victim, died_polling_at) = victim.unwrap();
    let mut taken_over = "its verdict came by webhook".to_owned();
    for r in polls.get(&victim).map(Vec::as_slice).unwrap_or_default() {
        if r.received_at > died_polling_at {
            let after = r.received_at.duration_since(died_polling_at).unwrap();
            assert!(
                after >= Duration::from_millis(2500),
                "{victim} polled again {after:?} after its poller died"
            );
            assert_ne!(r.header("user-agent"), Some("kyc-track r0"));
            taken_over = format!(
                "polled again {after:?} later by {:?}",
                r.header("user-agent").unwrap_or_default()
            );
            break;
        }
    }
    // No session polled by two replicas at once: a claim holds a session until its poll is
    // written (0.8 s after it was sent), and the next poll is a quiet period (1 s) later, so two
    // polls of one session are 1.8 s apart or more (3 s: a dead replica's lease); a session
    // claimed twice would be polled again within 0.5 s, when the budget frees the next poll.
    let mut closest = Duration::MAX;
    for list in polls.values() {
        for pair in list.windows(2) {
            let gap = pair[1]
                .received_at
                .duration_since(pair[0].received_at)
                .unwrap_or_default();
            closest = closest.min(gap);
        }
    }
    assert!(
        closest >= Duration::from_secs(1),
        "two polls {closest:?} apart"
    );
    // The fleet's budget: polls are 500 ms apart on average; in any 10 s at most 20 (+1 at the
    // window's edge, +1 for a poll sent just before the one before it was recorded).
    let mut times: Vec<SystemTime> = polls.values().flatten().map(|r| r.received_at).collect();
    times.sort();
    let mut most = 0;
    for (i, start) in times.iter().enumerate() {
        let within = times[i..]
            .iter()
            .take_while(|t| t.duration_since(*start).unwrap_or_default() < Duration::from_secs(10))
            .count();
        most = most.max(within);
    }
    assert!(
        most <= 22,
        "{most} polls in 10 s for a budget of 120 a minute"
    );
    let agents: std::collections::BTreeSet<&str> = polls
        .values()
        .flatten()
        .filter_map(|r| r.header("user-agent"))
        .collect();
    let closest = if closest == Duration::MAX {
        "none polled twice".to_owned()
    } else {
        format!("closest two polls of one session {closest:?} apart")
    };
    println!(
        "fleet: {} polls by {agents:?}; {closest}; at most {most} polls in any 10 s; r0 killed \
         polling {victim}: {taken_over}",
        times.len()
    );
}
