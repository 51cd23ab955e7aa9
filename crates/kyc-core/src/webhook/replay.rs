//! [`ReplayGuard`]: remembers the deliveries a receiver accepted, so that a redelivery (Pomelo
//! sends a notification again until it gets a `2xx`) or a replay (someone who captured a delivery
//! sends it again) within the freshness window is recognised and not processed twice.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;

use super::{Event, Verifier};

/// A delivery seen before or not.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[must_use]
pub enum Delivery {
    /// Not seen within the window: process it.
    First,
    /// Seen before within the window: answer `2xx` (so that Pomelo stops redelivering) and do not
    /// process it again.
    Repeated,
}

/// When an entry may be forgotten: an instant, or never (a window that reaches past the last
/// instant `SystemTime` can hold). Ordered: every instant comes before `End`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Until {
    At(SystemTime),
    End,
}

/// What a receiver accepted, remembered for the verifier's window and no longer: after it, the
/// verifier refuses the delivery as stale anyway. Bounded: at most `capacity` deliveries are kept;
/// when more arrive within one window, the one that would be forgotten first is forgotten now
/// (counted by [`ReplayGuard::evicted_early`]). Pure: `now` is an argument, as everywhere in
/// kyc-core. Share one behind a mutex among the receiver's handlers.
///
/// A delivery is known by its `event_id` when it has one, otherwise by its `X-Signature` (a
/// signature covers the timestamp, the endpoint and the body: the same bytes sent again).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use kyc_core::webhook::{Delivery, ReplayGuard, Verifier, WebhookKeys};
///
/// let verifier = Verifier::new(WebhookKeys::new());
/// let mut guard = ReplayGuard::for_verifier(&verifier, 10_000);
/// # let headers = http::HeaderMap::new();
/// # let event = kyc_core::webhook::Event::from_json(serde_json::json!({"event_id": "evt-1"}));
/// let now = SystemTime::now();
/// // After `verifier.verify(&headers, &body, now)` accepted `event`:
/// assert_eq!(guard.check(&headers, &event, now), Delivery::First);
/// assert_eq!(guard.check(&headers, &event, now), Delivery::Repeated); // answer 2xx, skip it
/// ```
#[derive(Debug, Clone)]
pub struct ReplayGuard {
    window: Duration,
    capacity: usize,
    /// When each key may be forgotten.
    until: HashMap<String, Until>,
    /// The same entries by expiry (with a sequence number to keep equal times apart).
    by_expiry: BTreeMap<(Until, u64), String>,
    sequence: u64,
    evicted_early: u64,
}

impl ReplayGuard {
    /// A guard that remembers deliveries for `window` after they were signed, at most `capacity`
    /// of them (at least 1).
    #[must_use]
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self {
            window,
            capacity: capacity.max(1),
            until: HashMap::new(),
            by_expiry: BTreeMap::new(),
            sequence: 0,
            evicted_early: 0,
        }
    }

    /// A guard for `verifier`'s freshness window.
    #[must_use]
    pub fn for_verifier(verifier: &Verifier, capacity: usize) -> Self {
        Self::new(verifier.tolerance_value(), capacity)
    }

    /// Deliveries remembered now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// Whether nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }

    /// Deliveries forgotten before their window ended, because more than `capacity` arrived within
    /// one window. A non-zero count means the capacity is too small for the traffic.
    #[must_use]
    pub fn evicted_early(&self) -> u64 {
        self.evicted_early
    }

    /// Whether the delivery of `event` with `headers`, which the verifier accepted at `now`, was
    /// seen before within the window; remembers it.
    pub fn check(&mut self, headers: &HeaderMap, event: &Event, now: SystemTime) -> Delivery {
        let key = match event.event_id() {
            Some(id) => format!("event:{id}"),
            None => format!(
                "signature:{}",
                headers
                    .get("x-signature")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .unwrap_or_default()
            ),
        };
        let signed_at = headers
            .get("x-timestamp")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
            .unwrap_or(now);
        self.check_key(key, signed_at, now)
    }

    /// [`ReplayGuard::check`] with the key and signing time given.
    pub fn check_key(&mut self, key: String, signed_at: SystemTime, now: SystemTime) -> Delivery {
        self.forget_expired(now);
        if self.until.contains_key(&key) {
            return Delivery::Repeated;
        }
        // Kept until the verifier would refuse the delivery anyway (its window, both ways). A
        // window too large to add to that instant saturates: kept while the capacity allows.
        let until = signed_at
            .max(now)
            .checked_add(self.window)
            .map_or(Until::End, Until::At);
        while self.until.len() >= self.capacity {
            let Some(((_, _), oldest)) = self.by_expiry.pop_first() else {
                break;
            };
            self.until.remove(&oldest);
            self.evicted_early += 1;
        }
        self.sequence = self.sequence.wrapping_add(1);
        self.by_expiry.insert((until, self.sequence), key.clone());
        self.until.insert(key, until);
        Delivery::First
    }

    fn forget_expired(&mut self, now: SystemTime) {
        while let Some(((until, _), _)) = self.by_expiry.first_key_value() {
            // Kept through the window's last instant: the verifier accepts |now − t| <= window.
            if *until >= Until::At(now) {
                break;
            }
            if let Some((_, key)) = self.by_expiry.pop_first() {
                self.until.remove(&key);
            }
        }
    }
}
