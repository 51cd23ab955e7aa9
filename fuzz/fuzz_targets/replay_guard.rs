//! The webhook replay guard against a plain model of its contract, over fuzzer-chosen sequences
//! of steps (deliveries of keys from a small set with signing times around `now`, commits and
//! abandons of the tickets handed out, a clock that may stand still, move forward or jump back)
//! and fuzzer-chosen window, lease and capacity:
//!
//! - `begin`, `commit` and `abandon` act exactly as the model does: a handled (committed) key is
//!   `Done` until the later of its signing and commit plus the window (the later of two commits);
//!   a begun key is `InFlight` until its ticket is committed or abandoned or its lease ends; an
//!   abandon frees the key only if that ticket still holds it; when full, the handled entry due
//!   to be forgotten first (ties: the oldest write) makes room and is counted in `evicted_early`;
//!   an entry in flight is never forgotten to make room;
//! - it never holds more than its capacity or the deliveries in flight, whichever is more, and
//!   never answers `Done` for a key no ticket of which was committed;
//! - `begin_delivery` on arbitrary headers, body and event JSON never panics, and the same
//!   delivery again at once is `InFlight`.
#![no_main]

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::{Result, Unstructured};
use http::{HeaderMap, HeaderName, HeaderValue};
use kyc_core::webhook::{Begin, DeliveryKey, Event, ReplayGuard, Ticket};
use libfuzzer_sys::fuzz_target;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    InFlight(u64),
    Done,
}

/// What the model answers for `begin`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Answer {
    New(u64),
    InFlight,
    Done,
}

/// The contract, written the slow and obvious way.
struct Model {
    window: Duration,
    lease: Duration,
    capacity: usize,
    /// (key, state, remembered until (`None`: past the last instant `SystemTime` holds), write
    /// order)
    entries: Vec<(u8, State, Option<SystemTime>, u64)>,
    order: u64,
    generation: u64,
    evicted_early: u64,
}

impl Model {
    fn forget_expired(&mut self, now: SystemTime) {
        self.entries.retain(|(_, _, until, _)| until.is_none_or(|u| u >= now));
    }

    /// Forgets handled entries, the one due first first, while more than `most` are held.
    fn trim(&mut self, most: usize) {
        while self.entries.len() > most {
            let first = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, (_, state, _, _))| *state == State::Done)
                .min_by_key(|(_, (_, _, until, order))| (until.is_none(), *until, *order))
                .map(|(i, _)| i);
            let Some(first) = first else { break };
            self.entries.remove(first);
            self.evicted_early += 1;
        }
    }

    fn put(&mut self, key: u8, state: State, until: Option<SystemTime>) {
        self.entries.retain(|(k, _, _, _)| *k != key);
        self.order += 1;
        self.entries.push((key, state, until, self.order));
    }

    fn find(&self, key: u8) -> Option<(State, Option<SystemTime>)> {
        self.entries
            .iter()
            .find(|(k, _, _, _)| *k == key)
            .map(|(_, state, until, _)| (*state, *until))
    }

    fn begin(&mut self, key: u8, now: SystemTime) -> Answer {
        self.forget_expired(now);
        match self.find(key) {
            Some((State::Done, _)) => return Answer::Done,
            Some((State::InFlight(_), _)) => return Answer::InFlight,
            None => {}
        }
        self.trim(self.capacity - 1);
        self.generation += 1;
        self.put(key, State::InFlight(self.generation), now.checked_add(self.lease));
        Answer::New(self.generation)
    }

    fn commit(&mut self, key: u8, signed_at: SystemTime, now: SystemTime) {
        self.forget_expired(now);
        let until = signed_at.max(now).checked_add(self.window);
        let until = match self.find(key) {
            Some((State::Done, before)) => match (until, before) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            },
            Some(_) | None => until,
        };
        self.put(key, State::Done, until);
        self.trim(self.capacity);
    }

    fn abandon(&mut self, key: u8, generation: u64) {
        if self.find(key).is_some_and(|(state, _)| state == State::InFlight(generation)) {
            self.entries.retain(|(k, _, _, _)| *k != key);
        }
    }
}

fn base() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn key(n: u8) -> DeliveryKey {
    let event = Event::from_json(serde_json::json!({ "event_id": format!("evt-{n}") }));
    DeliveryKey::of(&HeaderMap::new(), b"", &event)
}

fn arbitrary_delivery(u: &mut Unstructured<'_>) -> Result<(HeaderMap, Vec<u8>, Event)> {
    let mut headers = HeaderMap::new();
    for name in ["x-api-key", "x-endpoint", "x-signature", "x-timestamp"] {
        if u.arbitrary()? {
            let len = u.int_in_range(0usize..=40)?;
            if let Ok(value) = HeaderValue::from_bytes(u.bytes(len)?) {
                headers.append(HeaderName::from_static(name), value);
            }
        }
    }
    let len = u.int_in_range(0usize..=128)?;
    let body = u.bytes(len)?.to_vec();
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    Ok((headers, body, Event::from_json(json)))
}

/// A ticket out, with what the model knows of it: key, signing time, generation.
type Outstanding = (Ticket, u8, SystemTime, u64);

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let window = Duration::from_secs(u.int_in_range(0u64..=600)?);
    let lease = Duration::from_secs(u.int_in_range(0u64..=120)?);
    let capacity = u.int_in_range(0usize..=8)?;
    let mut guard = ReplayGuard::new(window, capacity).lease(lease);
    let mut model = Model {
        window,
        lease,
        capacity: capacity.max(1),
        entries: Vec::new(),
        order: 0,
        generation: 0,
        evicted_early: 0,
    };
    let mut outstanding: Vec<Outstanding> = Vec::new();
    let mut committed: HashSet<u8> = HashSet::new();
    let mut now = base();
    let steps = u.int_in_range(1usize..=256)?;
    for _ in 0..steps {
        match u.int_in_range(0u8..=11)? {
            // The clock jumps back (a receiver's wall clock is not monotonic).
            0 => {
                let back = Duration::from_secs(u.int_in_range(0u64..=900)?);
                now = now.checked_sub(back).unwrap_or(now);
            }
            // A delivery through `begin_delivery`, from arbitrary headers and JSON: no panic, and
            // the same delivery again at once is in flight (or done, if the guard had it done).
            1 => {
                let (headers, body, event) = arbitrary_delivery(u)?;
                let mut fresh = ReplayGuard::new(window, capacity).lease(lease);
                if let Begin::New(ticket) = fresh.begin_delivery(&headers, &body, &event, now) {
                    assert_eq!(
                        fresh.begin_delivery(&headers, &body, &event, now),
                        Begin::InFlight
                    );
                    fresh.abandon(ticket);
                    assert!(fresh.is_empty());
                }
            }
            // A commit or an abandon of a ticket out.
            2 | 3 if !outstanding.is_empty() => {
                let i = u.choose_index(outstanding.len())?;
                let (ticket, n, signed_at, generation) = outstanding.remove(i);
                if u.arbitrary()? {
                    guard.commit(ticket, now);
                    model.commit(n, signed_at, now);
                    committed.insert(n);
                } else {
                    guard.abandon(ticket);
                    model.abandon(n, generation);
                }
            }
            _ => {
                now += Duration::from_secs(u.int_in_range(0u64..=120)?);
                let n = u.int_in_range(0u8..=11)?;
                let offset = Duration::from_secs(u.int_in_range(0u64..=900)?);
                let signed_at = if u.arbitrary()? {
                    now.checked_sub(offset).unwrap_or(now)
                } else {
                    now + offset
                };
                let expected = model.begin(n, now);
                match guard.begin(key(n), signed_at, now) {
                    Begin::New(ticket) => {
                        let Answer::New(generation) = expected else {
                            panic!("key {n} new, the model says {expected:?}")
                        };
                        outstanding.push((ticket, n, signed_at, generation));
                    }
                    Begin::InFlight => assert_eq!(expected, Answer::InFlight, "key {n}"),
                    Begin::Done => {
                        assert_eq!(expected, Answer::Done, "key {n}");
                        assert!(committed.contains(&n), "key {n} done, never committed");
                    }
                }
            }
        }
        let in_flight = model
            .entries
            .iter()
            .filter(|(_, state, _, _)| matches!(state, State::InFlight(_)))
            .count();
        assert!(guard.len() <= capacity.max(1).max(in_flight), "over capacity");
        assert_eq!(guard.len(), model.entries.len());
        assert_eq!(guard.evicted_early(), model.evicted_early);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
