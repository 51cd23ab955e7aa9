//! The tracking rules against arbitrary sequences of inputs at arbitrary times: `decide` never
//! panics, a session never gets two verdicts, the verdict is the first final status and never
//! changes, a conflict is never a verdict and is reported once per status, and polling stays
//! within its bounds (count, time, never in the past).
//!
//! Input layout: the settings (quiet period, back-off cap, poll count and time bounds, expiry
//! grace, final statuses drawn from the known ones and two unknown spellings), then up to 128
//! steps: a wait (any number of seconds, sometimes huge) and an input about one of three sessions
//! (follow, an observation with any status, origin, timestamp and expiry, a failed poll, a 404).
#![no_main]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::{Result, Unstructured};
use kyc_core::track::{Input, Observation, Origin, TrackSettings, Tracked, decide};
use kyc_core::{SessionId, SessionStatus};
use libfuzzer_sys::fuzz_target;

const STATUSES: [&str; 11] = [
    "IN_PROGRESS",
    "PROCESSING",
    "MANUAL_REVIEW",
    "VALIDATED",
    "NOT_VALIDATED",
    "NOT VALIDATED",
    "REJECTED",
    "EXPIRED",
    "CANCELLED",
    "WEIRD",
    "",
];

fn status(u: &mut Unstructured<'_>) -> Result<SessionStatus> {
    Ok(SessionStatus::parse(u.choose(&STATUSES)?))
}

fn time(u: &mut Unstructured<'_>) -> Result<Option<SystemTime>> {
    if !u.arbitrary::<bool>()? {
        return Ok(None);
    }
    let secs = match u.int_in_range(0u8..=3)? {
        0 => 0,
        1 => u.arbitrary::<u64>()?,
        _ => 1_700_000_000 + u.int_in_range(0u64..=200_000)?,
    };
    Ok(UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
}

fn duration(u: &mut Unstructured<'_>) -> Result<Duration> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => Duration::ZERO,
        1 => Duration::from_secs(u.arbitrary()?),
        2 => Duration::MAX,
        _ => Duration::from_secs(u.int_in_range(1u64..=10_000)?),
    })
}

fn settings(u: &mut Unstructured<'_>) -> Result<TrackSettings> {
    let mut s = TrackSettings::default();
    s.quiet_period = duration(u)?;
    s.max_backoff = duration(u)?;
    s.max_polls = u.int_in_range(0u32..=64)?;
    s.give_up_after = duration(u)?;
    s.expiry_grace = duration(u)?;
    s.polls_per_minute = u.arbitrary()?;
    if u.arbitrary::<bool>()? {
        s.final_statuses = (0..u.int_in_range(0usize..=4)?)
            .map(|_| status(u))
            .collect::<Result<_>>()?;
    }
    Ok(s)
}

fn input(u: &mut Unstructured<'_>, id: SessionId) -> Result<Input> {
    Ok(match u.int_in_range(0u8..=5)? {
        0 => Input::Follow {
            session_id: id,
            subject: None,
            expiration_at: time(u)?,
            origin: *u.choose(&[Origin::Created, Origin::Followed])?,
        },
        1 => Input::PollFailed { session_id: id },
        2 => Input::NotFound { session_id: id },
        _ => {
            let origin = *u.choose(&[Origin::Webhook, Origin::Poll, Origin::Search])?;
            let mut o = Observation::new(id, status(u)?, origin);
            o.observed_at = time(u)?;
            o.expiration_at = time(u)?;
            Input::Observed(o)
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(settings) = settings(&mut u) else { return };
    let ids = [SessionId::from("iss-a"), SessionId::from("iss-b"), SessionId::from("iss-c")];
    let mut now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut records: HashMap<String, Tracked> = HashMap::new();
    let mut first_final: HashMap<String, SessionStatus> = HashMap::new();
    let mut verdicts: HashMap<String, SessionStatus> = HashMap::new();
    let mut conflicts: HashSet<(String, String)> = HashSet::new();
    for _ in 0..128 {
        let Ok(wait) = u.arbitrary::<u32>() else { break };
        now = now.checked_add(Duration::from_secs(u64::from(wait))).unwrap_or(now);
        let Ok(id) = u.choose(&ids).cloned() else { break };
        let Ok(input) = input(&mut u, id.clone()) else { break };
        let key = id.as_str().to_owned();
        if let Input::Observed(o) = &input {
            if settings.is_final(&o.status) {
                first_final.entry(key.clone()).or_insert_with(|| o.status.clone());
            }
        }
        let current = records.get(&key);
        let decision = decide(current, &input, now, &settings);
        if let Some(v) = &decision.verdict {
            assert!(verdicts.insert(key.clone(), v.status.clone()).is_none(), "two verdicts");
            assert_eq!(Some(&v.status), first_final.get(&key), "not the first final status");
        }
        if let Some(c) = &decision.conflict {
            assert!(decision.verdict.is_none());
            assert_ne!(Some(&c.status), verdicts.get(&key));
            assert!(conflicts.insert((key.clone(), c.status.as_str().to_owned())), "reported twice");
        }
        if let Some(record) = &decision.record {
            if let Some(v) = verdicts.get(&key) {
                assert_eq!(record.verdict.as_ref().map(|r| &r.status), Some(v));
                assert!(record.next_poll.is_none());
            }
            if let Some(next) = record.next_poll {
                assert!(next >= now, "a poll in the past");
                assert!(record.polls < settings.max_polls);
            }
            if decision.changed {
                records.insert(key, record.clone());
            }
        }
    }
});
