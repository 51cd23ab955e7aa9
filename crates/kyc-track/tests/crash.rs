//! The SQLite store killed with SIGKILL in the middle of its writes, twice: every commit it
//! reported is there when the file is opened again, nothing half-written is, and the file takes
//! writes again.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use kyc_core::track::{Input, Observation, Origin, TrackSettings};
use kyc_core::{SessionId, SessionStatus};
use kyc_track::{SqliteStore, Store, apply};

const CHILD: &str = "KYC_TRACK_CRASH_CHILD";
const FROM: &str = "KYC_TRACK_CRASH_FROM";

/// The child: tracks sessions `iss-FROM`, `iss-FROM+1`… and commits each one's verdict with its
/// webhook's delivery key, printing `committed ID` after each commit, until it is killed.
fn child(path: &str, from: u64) {
    let store = SqliteStore::open(path).unwrap();
    let settings = TrackSettings::default();
    let mut out = std::io::stdout().lock();
    for i in from.. {
        let id = SessionId::from(format!("iss-{i}").as_str());
        let follow = Input::Follow {
            session_id: id.clone(),
            subject: Some(format!("usr-{i}")),
            expiration_at: None,
            origin: Origin::Created,
        };
        apply(&store, &follow, &settings, None, None, SystemTime::now).unwrap();
        let validated = Input::Observed(Observation::new(
            id.clone(),
            SessionStatus::Validated,
            Origin::Webhook,
        ));
        let delivery = Some(format!("delivery-{i}"));
        apply(
            &store,
            &validated,
            &settings,
            delivery,
            None,
            SystemTime::now,
        )
        .unwrap();
        writeln!(out, "committed {i}").unwrap();
        out.flush().unwrap();
    }
}

/// Runs the child from session `from` until it reported `at_least` commits, kills it with
/// SIGKILL, and returns the last session it reported.
fn run_and_kill(path: &str, from: u64, at_least: u64) -> u64 {
    let mut process = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_store_killed_mid_write_keeps_every_commit_it_reported",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, path)
        .env(FROM, from.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut last = None;
    let reader = BufReader::new(process.stdout.take().unwrap());
    for line in reader.lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("committed ") {
            let n: u64 = n.parse().unwrap();
            last = Some(n);
            if n + 1 >= from + at_least {
                break;
            }
        }
    }
    // SIGKILL: no destructor, no flush, mid-transaction as likely as not.
    process.kill().unwrap();
    process.wait().unwrap();
    last.expect("the child committed something")
}

/// Checks that every session each run reported (`runs`: the first and last reported of each) is
/// there with its verdict, and that the rest is whole: at most one session per kill tracked
/// without its verdict (the kill fell between its two commits; the next run starts after it).
fn check(store: &SqliteStore, runs: &[(u64, u64)]) {
    for i in runs.iter().flat_map(|&(from, through)| from..=through) {
        let id = SessionId::from(format!("iss-{i}").as_str());
        let record = store
            .load(&id)
            .unwrap()
            .unwrap_or_else(|| panic!("iss-{i} lost"));
        assert_eq!(
            record.verdict.map(|v| v.status),
            Some(SessionStatus::Validated),
            "iss-{i}"
        );
    }
    let verdicts = store.verdicts(usize::MAX).unwrap();
    let tracked = store.list(usize::MAX).unwrap();
    // Whatever a kill interrupted is there whole or not at all: a session tracked without its
    // verdict only if the kill fell between its two commits.
    let without: Vec<_> = tracked.iter().filter(|r| r.verdict.is_none()).collect();
    assert!(without.len() <= runs.len(), "{without:?}");
    assert_eq!(verdicts.len() + without.len(), tracked.len());
}

#[test]
fn a_store_killed_mid_write_keeps_every_commit_it_reported() {
    if let Ok(path) = std::env::var(CHILD) {
        let from = std::env::var(FROM).unwrap().parse().unwrap();
        child(&path, from);
        return;
    }
    let dir = std::env::temp_dir().join(format!("kyc-track-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("track.db");
    let path_text = path.to_string_lossy().into_owned();
    let first = run_and_kill(&path_text, 0, 150);
    {
        let store = SqliteStore::open(&path).unwrap();
        check(&store, &[(0, first)]);
    }
    // Restarted on the same file, killed again.
    let next = store_resume_point(&path);
    let second = run_and_kill(&path_text, next, 150);
    let store = SqliteStore::open(&path).unwrap();
    check(&store, &[(0, first), (next, second)]);
    // The same delivery again is recognised after both crashes.
    let replay = Input::Observed(Observation::new(
        SessionId::from("iss-0"),
        SessionStatus::Validated,
        Origin::Webhook,
    ));
    let (committed, _) = apply(
        &store,
        &replay,
        &TrackSettings::default(),
        Some("delivery-0".into()),
        None,
        SystemTime::now,
    )
    .unwrap();
    assert_eq!(committed, kyc_track::Committed::Duplicate);
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The first session number the previous run did not track.
fn store_resume_point(path: &std::path::Path) -> u64 {
    let store = SqliteStore::open(path).unwrap();
    store
        .list(usize::MAX)
        .unwrap()
        .iter()
        .filter_map(|r| {
            r.session_id
                .as_str()
                .strip_prefix("iss-")?
                .parse::<u64>()
                .ok()
        })
        .max()
        .map_or(0, |n| n + 1)
}
