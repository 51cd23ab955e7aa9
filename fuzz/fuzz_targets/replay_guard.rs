//! The webhook replay guard against a plain model of its contract, over fuzzer-chosen sequences
//! of deliveries (keys from a small set, signing times around `now`, a clock that may stand still,
//! move forward or jump back) and fuzzer-chosen window and capacity:
//!
//! - it answers exactly as the model does: `Repeated` for a key remembered and not yet past its
//!   time (signing time or arrival, the later, plus the window); when full, the entry due to be
//!   forgotten first (ties: the oldest) makes room and is counted in `evicted_early`;
//! - it never holds more than its capacity;
//! - `check` on arbitrary headers and event JSON never panics, and a second `check` of the same
//!   delivery at the same instant is always `Repeated`.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::{Result, Unstructured};
use http::{HeaderMap, HeaderName, HeaderValue};
use kyc_core::webhook::{Delivery, Event, ReplayGuard};
use libfuzzer_sys::fuzz_target;

/// The contract, written the slow and obvious way.
struct Model {
    window: Duration,
    capacity: usize,
    /// (key, remembered until (`None`: past the last instant `SystemTime` holds), arrival order)
    entries: Vec<(String, Option<SystemTime>, u64)>,
    order: u64,
    evicted_early: u64,
}

impl Model {
    fn check(&mut self, key: &str, signed_at: SystemTime, now: SystemTime) -> Delivery {
        self.entries.retain(|(_, until, _)| until.is_none_or(|u| u >= now));
        if self.entries.iter().any(|(k, _, _)| k == key) {
            return Delivery::Repeated;
        }
        let until = signed_at.max(now).checked_add(self.window);
        while self.entries.len() >= self.capacity {
            let first = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, until, order))| (until.is_none(), *until, *order))
                .map(|(i, _)| i);
            let Some(first) = first else { break };
            self.entries.remove(first);
            self.evicted_early += 1;
        }
        self.order += 1;
        self.entries.push((key.to_owned(), until, self.order));
        Delivery::First
    }
}

fn base() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn arbitrary_delivery(u: &mut Unstructured<'_>) -> Result<(HeaderMap, Event)> {
    let mut headers = HeaderMap::new();
    for name in ["x-signature", "x-timestamp"] {
        if u.arbitrary()? {
            let len = u.int_in_range(0usize..=40)?;
            if let Ok(value) = HeaderValue::from_bytes(u.bytes(len)?) {
                headers.append(HeaderName::from_static(name), value);
            }
        }
    }
    let len = u.int_in_range(0usize..=128)?;
    let body = u.bytes(len)?;
    let json = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    Ok((headers, Event::from_json(json)))
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let window = Duration::from_secs(u.int_in_range(0u64..=600)?);
    let capacity = u.int_in_range(0usize..=8)?;
    let mut guard = ReplayGuard::new(window, capacity);
    let mut model = Model {
        window,
        capacity: capacity.max(1),
        entries: Vec::new(),
        order: 0,
        evicted_early: 0,
    };
    let mut now = base();
    let steps = u.int_in_range(1usize..=256)?;
    for _ in 0..steps {
        match u.int_in_range(0u8..=9)? {
            // The clock jumps back (a receiver's wall clock is not monotonic).
            0 => now = now.checked_sub(Duration::from_secs(u.int_in_range(0u64..=900)?)).unwrap_or(now),
            // A delivery through `check`, from arbitrary headers and JSON: no panic, and the same
            // delivery again at once is a repeat.
            1 => {
                let (headers, event) = arbitrary_delivery(u)?;
                let _ = guard.check(&headers, &event, now);
                assert_eq!(guard.check(&headers, &event, now), Delivery::Repeated);
                // Outside the model's knowledge from here on: start both afresh.
                guard = ReplayGuard::new(window, capacity);
                model.entries.clear();
                model.evicted_early = 0;
            }
            _ => {
                now += Duration::from_secs(u.int_in_range(0u64..=120)?);
                let key = format!("k{}", u.int_in_range(0u8..=11)?);
                let offset = Duration::from_secs(u.int_in_range(0u64..=900)?);
                let signed_at = if u.arbitrary()? {
                    now.checked_sub(offset).unwrap_or(now)
                } else {
                    now + offset
                };
                let expected = model.check(&key, signed_at, now);
                let got = guard.check_key(key.clone(), signed_at, now);
                assert_eq!(got, expected, "{key} signed {signed_at:?} at {now:?}");
            }
        }
        assert!(guard.len() <= capacity.max(1), "over capacity");
        assert_eq!(guard.evicted_early(), model.evicted_early);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
