//! The tracking rules (`kyc_core::track`), each property-tested over arbitrary sequences of
//! inputs at arbitrary times: one verdict per session, kept; conflicts kept, never a second
//! verdict; stale updates ignored; polls bounded by count and time; the budget never exceeded.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kyc_core::track::{
    Input, Observation, Origin, PendingCreate, PollBudget, Resume, TrackSettings, Tracked, decide,
    resume_create,
};
use kyc_core::{Session, SessionId, SessionStatus};
use proptest::prelude::*;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn status() -> impl Strategy<Value = SessionStatus> {
    prop_oneof![
        Just(SessionStatus::InProgress),
        Just(SessionStatus::Processing),
        Just(SessionStatus::ManualReview),
        Just(SessionStatus::Validated),
        Just(SessionStatus::NotValidated),
        Just(SessionStatus::Expired),
        Just(SessionStatus::Cancelled),
        "[A-Z_]{1,12}".prop_map(|s| SessionStatus::parse(&s)),
    ]
}

fn origin() -> impl Strategy<Value = Origin> {
    prop_oneof![
        Just(Origin::Webhook),
        Just(Origin::Poll),
        Just(Origin::Search)
    ]
}

/// An input about session `iss-1`, and the seconds that pass before it arrives.
fn input() -> impl Strategy<Value = (Input, u64)> {
    let id = || SessionId::from("iss-1");
    let observed = (
        status(),
        origin(),
        proptest::option::of(0u64..100_000),
        proptest::option::of(0u64..200_000),
    )
        .prop_map(move |(status, origin, observed, expires)| {
            let mut o = Observation::new(id(), status, origin);
            o.observed_at = observed.map(at);
            o.expiration_at = expires.map(at);
            o.subject = Some("usr-1".to_owned());
            Input::Observed(o)
        });
    let input = prop_oneof![
        4 => observed,
        1 => Just(Input::PollFailed { session_id: id() }),
        1 => Just(Input::Follow {
            session_id: id(),
            subject: Some("usr-1".to_owned()),
            expiration_at: None,
            origin: Origin::Created,
        }),
        1 => Just(Input::NotFound { session_id: id() }),
    ];
    (input, 0u64..50_000)
}

fn settings() -> impl Strategy<Value = TrackSettings> {
    (1u64..3600, 1u32..60, 1u64..2_000_000, 0u64..3600, 1u32..600).prop_map(
        |(quiet, max_polls, give_up, grace, per_minute)| {
            let mut s = TrackSettings::default();
            s.quiet_period = Duration::from_secs(quiet);
            s.max_backoff = Duration::from_secs(quiet * 40);
            s.max_polls = max_polls;
            s.give_up_after = Duration::from_secs(give_up);
            s.expiry_grace = Duration::from_secs(grace);
            s.polls_per_minute = per_minute;
            s
        },
    )
}

/// Runs `inputs` through `decide` as a store would (writing each changed record), returning
/// every decision.
fn run(
    inputs: &[(Input, u64)],
    settings: &TrackSettings,
) -> Vec<(SystemTime, Option<Tracked>, kyc_core::track::Decision)> {
    let mut now = at(0);
    let mut record: Option<Tracked> = None;
    let mut out = Vec::new();
    for (input, wait) in inputs {
        now += Duration::from_secs(*wait);
        let decision = decide(record.as_ref(), input, now, settings);
        let before = record.clone();
        if decision.changed {
            record.clone_from(&decision.record);
        }
        out.push((now, before, decision));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn one_verdict_per_session_ever_and_it_is_the_first_final_status(
        inputs in proptest::collection::vec(input(), 1..40),
        settings in settings(),
    ) {
        let steps = run(&inputs, &settings);
        let verdicts: Vec<_> = steps.iter().filter_map(|(_, _, d)| d.verdict.clone()).collect();
        prop_assert!(verdicts.len() <= 1, "{verdicts:?}");
        // The verdict is the first final status observed (before it, a session may not even be
        // tracked: a poll failure of an unknown session writes nothing).
        let first_final = inputs.iter().find_map(|(i, _)| match i {
            Input::Observed(o) if settings.is_final(&o.status) => Some(o.status.clone()),
            _ => None,
        });
        prop_assert_eq!(verdicts.first().map(|v| v.status.clone()), first_final.clone());
        // Once reached, the record's verdict never changes, and nothing is polled any more.
        let mut reached = None;
        for (_, _, d) in &steps {
            if let Some(r) = &d.record {
                if let Some(v) = &r.verdict {
                    if let Some(before) = &reached {
                        prop_assert_eq!(before, v);
                    }
                    reached = Some(v.clone());
                    prop_assert!(r.next_poll.is_none());
                } else {
                    prop_assert!(reached.is_none(), "a verdict was lost");
                }
            }
        }
    }

    #[test]
    fn a_different_final_status_after_the_verdict_is_a_conflict_once_never_a_verdict(
        inputs in proptest::collection::vec(input(), 1..40),
        settings in settings(),
    ) {
        let steps = run(&inputs, &settings);
        let mut conflicts = Vec::new();
        for (_, before, d) in &steps {
            if let Some(c) = &d.conflict {
                let verdict = before.as_ref().and_then(|b| b.verdict.clone()).unwrap();
                prop_assert_ne!(&c.status, &verdict.status);
                prop_assert!(settings.is_final(&c.status));
                prop_assert!(d.verdict.is_none());
                prop_assert!(!conflicts.contains(&c.status), "reported twice");
                conflicts.push(c.status.clone());
            }
        }
    }

    #[test]
    fn a_stale_non_final_status_changes_nothing_and_a_known_one_is_not_news(
        inputs in proptest::collection::vec(input(), 1..40),
        settings in settings(),
    ) {
        for (_, before, d) in run(&inputs, &settings) {
            let (Some(before), Some(after)) = (before, d.record) else { continue };
            // Any change of status before the verdict came from a newer or undated update, or
            // a final status.
            if before.verdict.is_none() && after.status != before.status {
                let last = after.history.last().unwrap();
                prop_assert_eq!(&last.status, &after.status);
            }
            // After the verdict, the status stays the verdict's.
            if let Some(v) = &before.verdict {
                prop_assert_eq!(after.status.as_ref(), Some(&v.status));
            }
            prop_assert!(after.history.len() <= 32 && after.conflicts.len() <= 8);
        }
    }

    #[test]
    fn polls_are_bounded_by_count_and_time(
        inputs in proptest::collection::vec(input(), 1..60),
        settings in settings(),
    ) {
        for (now, _, d) in run(&inputs, &settings) {
            let Some(r) = d.record else { continue };
            if let Some(next) = r.next_poll {
                prop_assert!(next >= now, "a poll scheduled in the past");
                prop_assert!(next <= r.first_seen + settings.give_up_after);
                prop_assert!(r.polls < settings.max_polls);
                let wait = next.duration_since(now).unwrap();
                prop_assert!(wait <= settings.max_backoff.max(settings.quiet_period));
                prop_assert!(r.verdict.is_none() && r.gave_up.is_none());
            }
            if r.polls >= settings.max_polls || now >= r.first_seen + settings.give_up_after {
                prop_assert!(r.next_poll.is_none());
            }
        }
    }

    #[test]
    fn a_failed_poll_is_tried_again_no_sooner_than_the_quiet_period(
        inputs in proptest::collection::vec(input(), 1..60),
        settings in settings(),
    ) {
        // Whatever the expiry: an outage must not spend the polls at the budget's pace.
        for ((input, _), (now, _, d)) in inputs.iter().zip(run(&inputs, &settings)) {
            let (Input::PollFailed { .. }, Some(r)) = (input, d.record) else { continue };
            if let Some(next) = r.next_poll {
                // Sooner only for the poll after the session expires, and only while that is
                // still ahead: once it has passed, a failure there is spaced as any other.
                let soonest = (now + settings.quiet_period).min(r.first_seen + settings.give_up_after);
                let last_chance = r.expiration_at.map(|e| e + settings.expiry_grace);
                prop_assert!(
                    next >= soonest || (next > now && Some(next) == last_chance),
                    "tried again {:?} after a failure", next.duration_since(now)
                );
            }
        }
    }

    #[test]
    fn the_budget_never_allows_more_than_its_polls_in_any_minute(
        per_minute in 1u32..500,
        asks in proptest::collection::vec(0u64..3_000, 1..400),
    ) {
        let mut budget = PollBudget::default();
        let mut now = at(0);
        let mut granted = Vec::new();
        for wait in asks {
            now += Duration::from_millis(wait);
            if budget.take(now, per_minute) {
                granted.push(now);
            }
        }
        for (i, start) in granted.iter().enumerate() {
            let in_minute = granted[i..]
                .iter()
                .take_while(|t| t.duration_since(*start).unwrap() < Duration::from_secs(60))
                .count();
            prop_assert!(in_minute <= per_minute as usize, "{in_minute} > {per_minute}");
        }
    }

    #[test]
    fn decide_never_panics_at_the_ends_of_time(
        inputs in proptest::collection::vec(input(), 1..10),
        far in 0u64..u64::MAX / 4,
    ) {
        let mut settings = TrackSettings::default();
        settings.give_up_after = Duration::MAX;
        settings.max_backoff = Duration::MAX;
        settings.quiet_period = Duration::from_secs(far.max(1));
        let mut record = None;
        for now in [UNIX_EPOCH, at(0), UNIX_EPOCH + Duration::from_secs(far)] {
            for (input, _) in &inputs {
                let d = decide(record.as_ref(), input, now, &settings);
                if d.changed {
                    record = d.record;
                }
            }
        }
    }
}

#[test]
fn a_dropped_webhook_is_polled_after_the_quiet_period_then_with_back_off() {
    let settings = TrackSettings::default();
    let id = SessionId::from("iss-1");
    let follow = Input::Follow {
        session_id: id.clone(),
        subject: Some("usr-1".into()),
        expiration_at: None,
        origin: Origin::Created,
    };
    let d = decide(None, &follow, at(0), &settings);
    let r = d.record.unwrap();
    assert_eq!(r.next_poll, Some(at(600)), "the quiet period");
    let processing = Input::Observed(Observation::new(
        id.clone(),
        SessionStatus::Processing,
        Origin::Poll,
    ));
    let r = decide(Some(&r), &processing, at(600), &settings)
        .record
        .unwrap();
    assert_eq!(r.next_poll, Some(at(1200)), "news: the quiet period again");
    let r = decide(Some(&r), &processing, at(1200), &settings)
        .record
        .unwrap();
    assert_eq!(r.next_poll, Some(at(2400)), "nothing new: doubled");
    let validated = Input::Observed(Observation::new(
        id.clone(),
        SessionStatus::Validated,
        Origin::Poll,
    ));
    let d = decide(Some(&r), &validated, at(2400), &settings);
    assert_eq!(d.verdict.unwrap().status, SessionStatus::Validated);
    assert_eq!(d.record.unwrap().next_poll, None);
}

#[test]
fn a_session_is_polled_once_more_after_it_expires_and_a_webhook_of_an_unknown_one_adopts_it() {
    let settings = TrackSettings::default();
    let mut o = Observation::new(
        SessionId::from("iss-2"),
        SessionStatus::InProgress,
        Origin::Webhook,
    );
    o.expiration_at = Some(at(300));
    let d = decide(None, &Input::Observed(o), at(0), &settings);
    let r = d.record.unwrap();
    assert_eq!(r.history.first().unwrap().origin, Origin::Webhook);
    assert_eq!(r.next_poll, Some(at(600)), "expiry + grace comes first");
    // Final statuses are a setting.
    let mut only_validated = TrackSettings::default();
    only_validated.final_statuses = TrackSettings::parse_final_statuses(" VALIDATED, ,");
    assert_eq!(only_validated.final_statuses, [SessionStatus::Validated]);
    let expired = Input::Observed(Observation::new(
        SessionId::from("iss-2"),
        SessionStatus::Expired,
        Origin::Poll,
    ));
    let d = decide(Some(&r), &expired, at(600), &only_validated);
    assert!(
        d.verdict.is_none(),
        "EXPIRED is not final under this setting"
    );
    assert!(d.record.unwrap().polled_after_expiry);
}

#[test]
fn a_lost_create_answer_is_found_by_search_or_the_create_is_sent_again() {
    let pending = PendingCreate::new("k".repeat(32), "usr-9", serde_json::json!({}), at(1000));
    let session = |id: &str, user: &str, created: &str| -> Session {
        serde_json::from_value(
            serde_json::json!({"id": id, "user_id": user, "created_at": created}),
        )
        .unwrap()
    };
    let untracked = |_: &SessionId| false;
    assert_eq!(resume_create(&pending, &[], untracked), Resume::SendAgain);
    let old = session("iss-old", "usr-9", "2023-01-01T00:00:00Z");
    let other = session("iss-other", "usr-8", "2023-11-14T22:20:00Z");
    assert_eq!(
        resume_create(&pending, &[old.clone(), other], untracked),
        Resume::SendAgain
    );
    // 2023-11-14T22:30:00Z is 1_700_001_000 s: the create's own start.
    let made = session("iss-made", "usr-9", "2023-11-14T22:30:01Z");
    let later = session("iss-later", "usr-9", "2023-11-14T23:30:00Z");
    let found = [later, old, made];
    assert_eq!(
        resume_create(&pending, &found, untracked),
        Resume::Adopt(SessionId::from("iss-made"))
    );
    // A tracked session is another create's answer (a create's own is tracked as it completes):
    // two pending creates of one subject adopt two sessions, then none is left for a third.
    assert_eq!(
        resume_create(&pending, &found, |id| id.as_str() == "iss-made"),
        Resume::Adopt(SessionId::from("iss-later"))
    );
    assert_eq!(
        resume_create(&pending, &found, |id| id.as_str() != "iss-old"),
        Resume::SendAgain
    );
}

#[test]
fn an_older_non_final_status_changes_nothing_but_a_final_one_always_counts() {
    let settings = TrackSettings::default();
    let id = SessionId::from("iss-3");
    let seen = |status, observed: u64| {
        let mut o = Observation::new(id.clone(), status, Origin::Webhook);
        o.observed_at = Some(at(observed));
        Input::Observed(o)
    };
    let r = decide(
        None,
        &seen(SessionStatus::Processing, 100),
        at(200),
        &settings,
    )
    .record
    .unwrap();
    // Delivered late: IN_PROGRESS from before PROCESSING.
    let d = decide(
        Some(&r),
        &seen(SessionStatus::InProgress, 50),
        at(210),
        &settings,
    );
    let after = d.record.unwrap();
    assert_eq!(after.status, Some(SessionStatus::Processing));
    assert_eq!(after.history.len(), 1);
    // An undated update is taken in arrival order.
    let undated = Input::Observed(Observation::new(
        id.clone(),
        SessionStatus::ManualReview,
        Origin::Poll,
    ));
    let after = decide(Some(&after), &undated, at(220), &settings)
        .record
        .unwrap();
    assert_eq!(after.status, Some(SessionStatus::ManualReview));
    // A final status, however old its timestamp, is the verdict; a later different one a
    // conflict.
    let d = decide(
        Some(&after),
        &seen(SessionStatus::NotValidated, 10),
        at(230),
        &settings,
    );
    assert_eq!(d.verdict.unwrap().status, SessionStatus::NotValidated);
    let decided = d.record.unwrap();
    let d = decide(
        Some(&decided),
        &seen(SessionStatus::Validated, 300),
        at(240),
        &settings,
    );
    assert!(d.verdict.is_none());
    assert_eq!(d.conflict.unwrap().status, SessionStatus::Validated);
    let again = decide(
        d.record.as_ref(),
        &seen(SessionStatus::Validated, 300),
        at(250),
        &settings,
    );
    assert!(
        again.conflict.is_none() && !again.changed,
        "the same conflict is kept once"
    );
}

#[test]
fn debug_shows_neither_a_create_s_personal_data_nor_a_reason() {
    let pending = PendingCreate::new(
        "k".repeat(32),
        "usr-9",
        serde_json::json!({"kind": "kyc", "body": {"name": "Juana Pérez", "fiscal_id": "20-12345678-9"}}),
        at(0),
    );
    let shown = format!("{pending:?}");
    assert!(
        shown.contains("usr-9") && shown.contains("2 members"),
        "{shown}"
    );
    assert!(
        !shown.contains("Juana") && !shown.contains("12345678"),
        "{shown}"
    );
    let mut o = Observation::new(
        SessionId::from("iss-1"),
        SessionStatus::NotValidated,
        Origin::Webhook,
    );
    o.reason = Some("documento de Juana Pérez vencido".to_owned());
    let shown = format!("{:?}", Input::Observed(o));
    assert!(
        shown.contains("NotValidated") && shown.contains("bytes"),
        "{shown}"
    );
    assert!(!shown.contains("Juana"), "{shown}");
}

#[test]
fn a_pending_create_is_resumed_a_bounded_number_of_times_within_a_bounded_time() {
    let day = Duration::from_secs(24 * 3600);
    let mut create = PendingCreate::new("k".repeat(32), "usr-9", serde_json::json!({}), at(0));
    let given_up: Vec<bool> = (1..=4)
        .map(|n| create.count_resume(at(n), 3, day))
        .collect();
    assert_eq!(
        given_up,
        [false, false, false, true],
        "three resumes, then given up"
    );
    assert_eq!(create.attempts, 4);
    let mut old = PendingCreate::new("k".repeat(32), "usr-9", serde_json::json!({}), at(0));
    assert!(!old.count_resume(at(100), 20, day));
    assert!(
        old.count_resume(at(100) + day, 20, day),
        "older than give_up_after"
    );
    // A clock that went back counts as young, not as a panic.
    assert!(!old.count_resume(UNIX_EPOCH, 20, day));
}
