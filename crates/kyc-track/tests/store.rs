//! One suite for every store: the in-memory one, SQLite (a file), and PostgreSQL when one is
//! given. Atomic commits, delivery keys, version checks, claims with leases, the outbox, the
//! poll budget, pending creates.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kyc_core::SessionId;
use kyc_core::SessionStatus;
use kyc_core::track::{Input, Observation, Origin, PendingCreate, TrackSettings, Tracked, decide};
use kyc_track::{Commit, Committed, MemoryStore, PgStore, SqliteStore, Store, VerdictRecord};

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn temp_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kyc-track-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// A record of `id` as the rules make it when tracking starts.
fn followed(id: &str, now: SystemTime) -> Tracked {
    let input = Input::Follow {
        session_id: SessionId::from(id),
        subject: Some("usr-1".into()),
        expiration_at: None,
        origin: Origin::Created,
    };
    decide(None, &input, now, &TrackSettings::default())
        .record
        .unwrap()
}

fn observed(record: &Tracked, status: SessionStatus, now: SystemTime) -> kyc_core::track::Decision {
    let o = Observation::new(record.session_id.clone(), status, Origin::Webhook);
    decide(
        Some(record),
        &Input::Observed(o),
        now,
        &TrackSettings::default(),
    )
}

fn write(store: &dyn Store, record: &Tracked, read: Option<u64>) -> Committed {
    let mut commit = Commit::default();
    commit.read_version = read;
    commit.record = Some(record.clone());
    store.commit(&commit).unwrap()
}

/// Every rule of a store, against `store` (empty).
fn suite(store: &dyn Store) {
    // A new record is written once; a second "new" write of it is a conflict.
    let r = followed("iss-1", at(0));
    assert_eq!(write(store, &r, None), Committed::Done);
    assert_eq!(store.load(&r.session_id).unwrap().as_ref(), Some(&r));
    assert_eq!(write(store, &r, None), Committed::Conflict);

    // Versions: a write based on a stale read is refused.
    let d = observed(&r, SessionStatus::Processing, at(10));
    let processing = d.record.unwrap();
    assert_eq!(
        write(store, &processing, Some(r.version + 7)),
        Committed::Conflict
    );
    assert_eq!(write(store, &processing, Some(r.version)), Committed::Done);
    assert_eq!(store.load(&r.session_id).unwrap().unwrap(), processing);

    // A delivery, its effect and its verdict commit together; the same delivery again writes
    // nothing, whatever it carries.
    let d = observed(&processing, SessionStatus::Validated, at(20));
    let validated = d.record.clone().unwrap();
    let mut commit = Commit::default();
    commit.delivery = Some("delivery-1".into());
    commit.read_version = Some(processing.version);
    commit.record = Some(validated.clone());
    commit.verdict = Some(VerdictRecord::of(&validated, d.verdict.clone().unwrap()));
    commit.at = Some(at(20));
    assert_eq!(store.commit(&commit).unwrap(), Committed::Done);
    let mut again = commit.clone();
    again.read_version = Some(validated.version);
    let mut changed = validated.clone();
    changed.polls = 99;
    changed.version += 1;
    again.record = Some(changed);
    assert_eq!(store.commit(&again).unwrap(), Committed::Duplicate);
    assert_eq!(store.load(&r.session_id).unwrap().unwrap(), validated);

    // A conflict rolls the delivery key back with everything else: the retry is not a duplicate.
    let s2 = followed("iss-2", at(30));
    assert_eq!(write(store, &s2, None), Committed::Done);
    let d2 = observed(&s2, SessionStatus::NotValidated, at(31));
    let mut conflicted = Commit::default();
    conflicted.delivery = Some("delivery-2".into());
    conflicted.at = Some(at(31));
    conflicted.read_version = Some(s2.version + 1);
    conflicted.record = d2.record.clone();
    conflicted.verdict = Some(VerdictRecord::of(
        d2.record.as_ref().unwrap(),
        d2.verdict.clone().unwrap(),
    ));
    assert_eq!(store.commit(&conflicted).unwrap(), Committed::Conflict);
    assert_eq!(
        store.verdicts(10).unwrap().len(),
        1,
        "its verdict was not written"
    );
    conflicted.read_version = Some(s2.version);
    assert_eq!(store.commit(&conflicted).unwrap(), Committed::Done);

    // The outbox: oldest first, each held by one consumer for its lease, handed again after it,
    // never after its acknowledgement; one verdict per key.
    let first = store
        .claim_verdicts(at(40), Duration::from_secs(30), 10)
        .unwrap();
    let keys: Vec<&str> = first.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(keys, ["iss-1", "iss-2"]);
    assert_eq!(first[0].verdict.status, SessionStatus::Validated);
    assert_eq!(first[0].deliveries, 1);
    assert!(
        store
            .claim_verdicts(at(50), Duration::from_secs(30), 10)
            .unwrap()
            .is_empty()
    );
    assert!(store.ack("iss-1", at(55)).unwrap());
    assert!(!store.ack("iss-1", at(56)).unwrap(), "acknowledged once");
    assert!(!store.ack("iss-nope", at(56)).unwrap());
    let later = store
        .claim_verdicts(at(71), Duration::from_secs(30), 10)
        .unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!((later[0].key.as_str(), later[0].deliveries), ("iss-2", 2));
    let mut duplicate = Commit::default();
    duplicate.verdict = Some(later[0].clone());
    assert_eq!(store.commit(&duplicate).unwrap(), Committed::Done);
    assert_eq!(store.verdicts(10).unwrap().len(), 2, "one verdict per key");
    let all = store.verdicts(10).unwrap();
    assert_eq!((all[0].1, all[1].1), (true, false));

    // Polls: due sessions, earliest first, each held by one poller until its record is written
    // or its lease ends.
    let a = followed("iss-a", at(100));
    let b = followed("iss-b", at(50));
    assert_eq!(write(store, &a, None), Committed::Done);
    assert_eq!(write(store, &b, None), Committed::Done);
    let (due_a, due_b) = (a.next_poll.unwrap(), b.next_poll.unwrap());
    assert_eq!(store.next_due().unwrap(), Some(due_b));
    assert!(
        store
            .claim_due(due_b - Duration::from_secs(1), Duration::from_secs(60), 10)
            .unwrap()
            .is_empty()
    );
    let claimed = store.claim_due(due_a, Duration::from_secs(60), 10).unwrap();
    let ids: Vec<&str> = claimed.iter().map(|r| r.session_id.as_str()).collect();
    assert_eq!(ids, ["iss-b", "iss-a"]);
    assert!(
        store
            .claim_due(due_a, Duration::from_secs(60), 10)
            .unwrap()
            .is_empty(),
        "held"
    );
    assert_eq!(
        store.next_due().unwrap(),
        Some(due_a + Duration::from_secs(60)),
        "a held session is next due when its lease ends, not before: a tracker does not spin on it"
    );
    let polled = decide(
        Some(&b),
        &Input::PollFailed {
            session_id: b.session_id.clone(),
        },
        due_b,
        &TrackSettings::default(),
    )
    .record
    .unwrap();
    assert_eq!(write(store, &polled, Some(b.version)), Committed::Done);
    let after_lease = store
        .claim_due(due_a + Duration::from_secs(61), Duration::from_secs(60), 1)
        .unwrap();
    assert_eq!(after_lease.len(), 1);
    assert_eq!(
        after_lease[0].session_id.as_str(),
        "iss-a",
        "a lapsed lease frees the row"
    );

    // The budget: one poll per interval, for everyone.
    assert_eq!(store.take_poll(at(200), 60).unwrap(), None);
    assert_eq!(store.take_poll(at(200), 60).unwrap(), Some(at(201)));
    assert_eq!(store.take_poll(at(201), 60).unwrap(), None);

    // Pending creates: written before the request, held by their sender until the answer is
    // due, then claimed by one resumer at a time (oldest first), gone with the create's commit.
    let pending = PendingCreate::new("key-1", "usr-9", serde_json::json!({"a": 1}), at(300));
    store.put_pending_create(&pending, at(310)).unwrap();
    assert_eq!(
        store.pending_creates().unwrap(),
        std::slice::from_ref(&pending)
    );
    let lease = Duration::from_secs(20);
    assert!(
        store
            .claim_pending_creates(at(305), lease, 10)
            .unwrap()
            .is_empty(),
        "its sender holds it"
    );
    let older = PendingCreate::new("key-0", "usr-8", serde_json::json!({"b": 2}), at(299));
    store.put_pending_create(&older, at(299)).unwrap();
    let claimed = store.claim_pending_creates(at(310), lease, 1).unwrap();
    assert_eq!(
        claimed,
        std::slice::from_ref(&older),
        "oldest first, `limit` of them"
    );
    let claimed = store.claim_pending_creates(at(311), lease, 10).unwrap();
    assert_eq!(
        claimed,
        std::slice::from_ref(&pending),
        "the other is held now"
    );
    assert!(
        store
            .claim_pending_creates(at(329), lease, 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.claim_pending_creates(at(331), lease, 10).unwrap(),
        [older.clone(), pending.clone()],
        "a lapsed hold frees them"
    );
    let mut finish = Commit::default();
    finish.finish_create = Some("key-0".into());
    assert_eq!(store.commit(&finish).unwrap(), Committed::Done);
    assert_eq!(
        store.pending_creates().unwrap(),
        std::slice::from_ref(&pending)
    );
    let made = followed("iss-made", at(301));
    let mut finish = Commit::default();
    finish.record = Some(made);
    finish.finish_create = Some("key-1".into());
    assert_eq!(store.commit(&finish).unwrap(), Committed::Done);
    assert!(store.pending_creates().unwrap().is_empty());

    // Listing, and forgetting old delivery keys.
    let listed: Vec<String> = store
        .list(3)
        .unwrap()
        .iter()
        .map(|r| r.session_id.as_str().to_owned())
        .collect();
    assert_eq!(listed, ["iss-made", "iss-a", "iss-b"]);
    assert_eq!(store.forget_deliveries(at(25)).unwrap(), 1);
    assert_eq!(store.forget_deliveries(at(25)).unwrap(), 0);
}

#[test]
fn the_memory_store_keeps_every_rule() {
    suite(&MemoryStore::new());
}

#[test]
fn the_sqlite_store_keeps_every_rule() {
    suite(&SqliteStore::in_memory().unwrap());
}

#[test]
fn a_sqlite_file_keeps_everything_across_opens_and_migrates_once() {
    let path = temp_file("reopen.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        suite(&store);
    }
    let store = kyc_track::open(&format!("sqlite:{}", path.display())).unwrap();
    assert_eq!(store.list(100).unwrap().len(), 5);
    assert_eq!(store.verdicts(100).unwrap().len(), 2);
    assert!(kyc_track::open("postgres-but-not-quite:").is_err());
    std::fs::remove_file(&path).unwrap();
}

/// The test database's URL: `KYC_TEST_POSTGRES` (set by `.ci/run`, which starts a throwaway
/// server with `scripts/postgres.sh`). Unset, the PostgreSQL tests say they skipped, unless
/// `KYC_REQUIRE_POSTGRES` is set (CI): then they fail.
fn postgres_url() -> Option<String> {
    match std::env::var("KYC_TEST_POSTGRES") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("KYC_REQUIRE_POSTGRES").is_none(),
                "KYC_REQUIRE_POSTGRES is set but KYC_TEST_POSTGRES is not"
            );
            eprintln!("skipped: no PostgreSQL (eval \"$(scripts/postgres.sh start)\" to run it)");
            None
        }
    }
}

/// A schema of its own for one test in the shared database.
fn schema(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("t_{}_{test}_{nanos}", std::process::id())
}

#[test]
fn the_postgres_store_keeps_every_rule() {
    let Some(url) = postgres_url() else { return };
    suite(&PgStore::open_in_schema(&url, &schema("suite")).unwrap());
}

/// Every replica claims with `claim` at once, 20 times each: `expected` items in all, each
/// claimed by one replica once.
fn claimed_once_each(
    replicas: &[PgStore],
    expected: usize,
    claim: impl Fn(&PgStore) -> Vec<String> + Sync,
) {
    let claim = &claim;
    let claimed: Vec<Vec<String>> = std::thread::scope(|s| {
        let claims: Vec<_> = replicas
            .iter()
            .map(|store| s.spawn(move || (0..20).flat_map(|_| claim(store)).collect::<Vec<_>>()))
            .collect();
        claims.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<&String> = claimed.iter().flatten().collect();
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(
        (total, all.len()),
        (expected, expected),
        "each claimed once: {claimed:?}"
    );
}

#[test]
fn replicas_on_one_postgres_share_keys_claims_and_the_budget() {
    let Some(url) = postgres_url() else { return };
    let schema = schema("fleet");
    // Three replicas starting at once migrate the schema once, without error.
    let replicas: Vec<PgStore> = std::thread::scope(|s| {
        let starts: Vec<_> = (0..3)
            .map(|_| s.spawn(|| PgStore::open_in_schema(&url, &schema).unwrap()))
            .collect();
        starts.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // 40 due sessions, claimed by the three at once: each by one replica only.
    for i in 0..40 {
        let r = followed(&format!("iss-{i:02}"), at(0));
        assert_eq!(write(&replicas[i % 3], &r, None), Committed::Done);
    }
    let due = at(0) + Duration::from_secs(3600);
    claimed_once_each(&replicas, 40, |store| {
        store
            .claim_due(due, Duration::from_secs(60), 3)
            .unwrap()
            .into_iter()
            .map(|r| r.session_id.as_str().to_owned())
            .collect()
    });
    // The same delivery on two replicas: one effect.
    let r = followed("iss-dup", at(0));
    let mut commit = Commit::default();
    commit.delivery = Some("same-delivery".into());
    commit.record = Some(r);
    assert_eq!(replicas[0].commit(&commit).unwrap(), Committed::Done);
    assert_eq!(replicas[1].commit(&commit).unwrap(), Committed::Duplicate);
    // A pending create is resumed by one replica at a time.
    for i in 0..12 {
        let create =
            PendingCreate::new(format!("key-{i:02}"), "usr-1", serde_json::json!({}), at(i));
        replicas[i as usize % 3]
            .put_pending_create(&create, at(i))
            .unwrap();
    }
    claimed_once_each(&replicas, 12, |store| {
        store
            .claim_pending_creates(due, Duration::from_secs(60), 2)
            .unwrap()
            .into_iter()
            .map(|c| c.idempotency_key)
            .collect()
    });
    // The budget is the fleet's: one poll per interval whoever asks.
    let granted = replicas
        .iter()
        .filter(|s| s.take_poll(at(500), 60).unwrap().is_none())
        .count();
    assert_eq!(granted, 1);
    // (That the due query reads the index on `next_poll` shows at scale: kyc-bench's `track`
    // prints its plan with a million sessions; on a table this small any plan is a scan.)
    assert!(!replicas[0].explain_due(due).unwrap().is_empty());
}
