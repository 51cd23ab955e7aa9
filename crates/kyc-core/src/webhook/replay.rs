//! [`ReplayGuard`]: remembers the deliveries a receiver handled, so that a redelivery (Pomelo
//! sends a notification again until it gets a `2xx`) or a replay (someone who captured a delivery
//! sends it again) is recognised and not handled twice, while a delivery whose handling failed is
//! handled again when it comes back.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use sha2::{Digest as _, Sha256};

use super::{Event, Verifier, WebhookHeader};

/// What identifies a delivery, whatever the spelling of its headers: the `event_id` when the body
/// has one, otherwise a digest of the api key, the endpoint and the body. Scoped by api key: the
/// same event id under two api keys is two deliveries.
///
/// Never the text of `X-Signature`: the verifier accepts one MAC in three spellings (base64, hex
/// in either case), so a captured delivery re-spelled would pass as new; and if Pomelo signs each
/// redelivery again, with a fresh `X-Timestamp`, neither the signature nor the timestamp repeats.
/// What does not change between a delivery and its redelivery is the body.
///
/// Without an `event_id`, the body is the identity. That is safe for Pomelo's notifications:
/// the body names the session and its new status (or the documents it needs), so two distinct
/// notifications have distinct bodies. What it costs: two deliveries with byte-identical bodies
/// within the window are one (a session that went back to a status it had minutes before, with
/// no other member to tell the notifications apart, is reported once), and the body is hashed
/// once per delivery (SHA-256, a few hundred bytes).
///
/// `Debug` and `Display` show the digest in hex (32 bytes): no part of the body.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryKey([u8; 32]);

impl DeliveryKey {
    /// The key of a delivery with `headers` and `body`, which the verifier accepted as `event`.
    /// Reads `X-Api-Key` and `X-Endpoint` (absent: empty).
    #[must_use]
    pub fn of(headers: &HeaderMap, body: &[u8], event: &Event) -> Self {
        let value = |which: WebhookHeader| {
            headers
                .get(which.lowercase())
                .map_or(&[][..], http::HeaderValue::as_bytes)
        };
        let api_key = value(WebhookHeader::ApiKey);
        match event.event_id() {
            Some(id) => Self::digest(b"event", &[api_key, id.as_bytes()]),
            None => Self::digest(b"body", &[api_key, value(WebhookHeader::Endpoint), body]),
        }
    }

    /// SHA-256 over a domain tag and each part with its length before it, so no two different
    /// lists of parts give the same message.
    fn digest(tag: &[u8], parts: &[&[u8]]) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"kyc-rs webhook delivery v1\0");
        hash.update(tag);
        for part in parts {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        Self(hash.finalize().into())
    }

    /// The digest's 32 bytes (for a durable store).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for DeliveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for DeliveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeliveryKey({self})")
    }
}

/// What [`ReplayGuard::begin`] says about a delivery.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Begin {
    /// Not handled before, and not being handled: handle it, then [`ReplayGuard::commit`] the
    /// ticket once the handler succeeded, or [`ReplayGuard::abandon`] it.
    New(Ticket),
    /// Another copy is being handled now and its outcome is not known: do not answer `2xx` (the
    /// first copy may still fail); answer so that the sender tries again later.
    InFlight,
    /// Handled (committed) within the window: answer `2xx` so that Pomelo stops redelivering,
    /// without handling it again.
    Done,
}

/// A delivery being handled, from [`Begin::New`]: give it back to [`ReplayGuard::commit`] when
/// the handler succeeded, or to [`ReplayGuard::abandon`] when it failed. Not `Clone`: one
/// outcome per ticket. A ticket neither committed nor abandoned keeps its delivery in flight
/// until its lease ends ([`ReplayGuard::lease`]), then the delivery is forgotten.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "commit the ticket when the handler succeeded, abandon it otherwise"]
pub struct Ticket {
    key: DeliveryKey,
    signed_at: SystemTime,
    generation: u64,
}

impl Ticket {
    /// The delivery this ticket is for.
    #[must_use]
    pub fn key(&self) -> &DeliveryKey {
        &self.key
    }
}

/// The deliveries a receiver is handling and has handled, in steps that are pure functions of
/// their arguments (`now` is one, as everywhere in kyc-core):
///
/// 1. [`begin`](ReplayGuard::begin) when a verified delivery arrives: [`Begin::New`] with a
///    [`Ticket`] (handle it), [`Begin::InFlight`] (a copy is being handled: answer non-`2xx`,
///    e.g. `409` with `Retry-After`) or [`Begin::Done`] (answer `2xx`, do not handle it);
/// 2. [`commit`](ReplayGuard::commit) the ticket once the handler succeeded: from then on the
///    delivery is [`Begin::Done`] for the verifier's window;
/// 3. or [`abandon`](ReplayGuard::abandon) it when the handler failed, panicked or was cancelled:
///    the delivery is forgotten, and its redelivery is [`Begin::New`] again.
///
/// So a delivery counts as received only once it was handled: a handler that fails (its database
/// was down) loses nothing, because Pomelo sends the notification again and this time it reaches
/// the handler. A delivery is known by its [`DeliveryKey`] (its `event_id`, else its api key,
/// endpoint and body: not its signature's spelling).
///
/// Bounded in time and in size. A handled delivery is remembered until the verifier would refuse
/// it as stale anyway (signing time or commit, the later, plus the window; a window too large to
/// add saturates). An in-flight delivery whose ticket is never given back is forgotten when its
/// lease ends (60 s by default, [`ReplayGuard::lease`]). At most `capacity` handled deliveries
/// are kept; when more arrive, the handled one due to be forgotten first is forgotten now
/// (counted by [`ReplayGuard::evicted_early`]). A delivery in flight is never forgotten to make
/// room: the guard holds those beyond its capacity until their leases end. Share one behind a mutex among the receiver's handlers.
///
/// What it cannot do: it lives in one process's memory. Several processes behind a load balancer
/// each have their own, so a redelivery reaching another process is handled again; a restart
/// forgets everything. Make the handler's effect idempotent (e.g. keyed by session and status)
/// where that matters. A durable store shared by every process is planned (`kyc-track`, the
/// tracker).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use kyc_core::webhook::{Begin, DeliveryKey, Event, ReplayGuard, Verifier, WebhookKeys};
///
/// let verifier = Verifier::new(WebhookKeys::new());
/// let mut guard = ReplayGuard::for_verifier(&verifier, 10_000);
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// # let (headers, body) = (http::HeaderMap::new(), b"{}");
/// # let event = Event::from_json(serde_json::json!({"event_id": "evt-1"}));
/// // After `verifier.verify(&headers, body, now)` accepted `event`:
/// let key = DeliveryKey::of(&headers, body, &event);
/// let Begin::New(ticket) = guard.begin(key, now, now) else { panic!("first delivery") };
/// assert_eq!(guard.begin(key, now, now), Begin::InFlight); // a copy meanwhile: not 2xx
///
/// // The handler failed: the redelivery is handled again.
/// guard.abandon(ticket);
/// let Begin::New(ticket) = guard.begin(key, now, now) else { panic!("redelivery") };
///
/// // The handler succeeded: the next copy is answered 2xx without handling it.
/// guard.commit(ticket, now);
/// assert_eq!(guard.begin(key, now, now), Begin::Done);
/// ```
#[derive(Debug, Clone)]
pub struct ReplayGuard {
    window: Duration,
    lease: Duration,
    capacity: usize,
    entries: Entries,
    generation: u64,
    evicted_early: u64,
}

impl ReplayGuard {
    /// How long an in-flight delivery is held by default when its ticket is never given back.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

    /// A guard that remembers handled deliveries for `window` after they were signed (or
    /// committed, the later), at most `capacity` deliveries in all (at least 1). Deliveries in
    /// flight are never forgotten to make room: a full guard holds them beyond its capacity
    /// until each is committed, abandoned or its lease ends (as many as are handled at once).
    #[must_use]
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self {
            window,
            lease: Self::DEFAULT_LEASE,
            capacity: capacity.max(1),
            entries: Entries::default(),
            generation: 0,
            evicted_early: 0,
        }
    }

    /// A guard for `verifier`'s freshness window.
    #[must_use]
    pub fn for_verifier(verifier: &Verifier, capacity: usize) -> Self {
        Self::new(verifier.tolerance_value(), capacity)
    }

    /// How long a delivery stays in flight when its ticket is neither committed nor abandoned
    /// (a leaked ticket): after it, the delivery is forgotten and a copy is [`Begin::New`].
    /// Longer than any handler may run: a receiver that abandons every ticket it does not
    /// commit (kyc-axum does, on failure, panic and cancellation) never relies on it.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Deliveries remembered now, in flight or handled.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.len() == 0
    }

    /// Deliveries forgotten before their time ended, because more than `capacity` arrived within
    /// one window. A non-zero count means the capacity is too small for the traffic.
    #[must_use]
    pub fn evicted_early(&self) -> u64 {
        self.evicted_early
    }

    /// A verified delivery arrived at `now`, signed at `signed_at` (its `X-Timestamp`): whether
    /// to handle it. [`Begin::New`] puts it in flight until its ticket is committed or abandoned.
    pub fn begin(&mut self, key: DeliveryKey, signed_at: SystemTime, now: SystemTime) -> Begin {
        self.entries.forget_expired(now);
        match self.entries.get(&key).map(|entry| entry.state) {
            Some(State::Done) => return Begin::Done,
            Some(State::InFlight { .. }) => return Begin::InFlight,
            None => {}
        }
        self.trim(self.capacity - 1);
        self.generation = self.generation.wrapping_add(1);
        let until = later_by(now, self.lease);
        let state = State::InFlight {
            generation: self.generation,
        };
        self.entries.put(key, Entry { state, until });
        Begin::New(Ticket {
            key,
            signed_at,
            generation: self.generation,
        })
    }

    /// [`ReplayGuard::begin`] for a delivery as received: its key from [`DeliveryKey::of`], its
    /// signing time from `X-Timestamp` (`now` if absent or not decimal seconds, which a verified
    /// delivery never is).
    pub fn begin_delivery(
        &mut self,
        headers: &HeaderMap,
        body: &[u8],
        event: &Event,
        now: SystemTime,
    ) -> Begin {
        let signed_at = signed_at(headers).unwrap_or(now);
        self.begin(DeliveryKey::of(headers, body, event), signed_at, now)
    }

    /// The handler of `ticket`'s delivery succeeded at `now`: from now on the delivery is
    /// [`Begin::Done`] until the verifier would refuse it as stale anyway (signing time or `now`,
    /// the later, plus the window). Committing a ticket whose lease ended is still recorded: the
    /// delivery was handled.
    pub fn commit(&mut self, ticket: Ticket, now: SystemTime) {
        self.entries.forget_expired(now);
        let mut until = later_by(ticket.signed_at.max(now), self.window);
        // Handled before (by another copy's ticket): remembered for the later of the two.
        if let Some(Entry {
            state: State::Done,
            until: before,
        }) = self.entries.get(&ticket.key)
        {
            until = until.max(*before);
        }
        let entry = Entry {
            state: State::Done,
            until,
        };
        self.entries.put(ticket.key, entry);
        self.trim(self.capacity);
    }

    /// The handler of `ticket`'s delivery failed, panicked or was cancelled: the delivery is
    /// forgotten, so its redelivery is [`Begin::New`]. A ticket whose lease ended, and whose
    /// delivery another ticket holds now, changes nothing.
    pub fn abandon(&mut self, ticket: Ticket) {
        let held_by_this_ticket = matches!(
            self.entries.get(&ticket.key),
            Some(Entry { state: State::InFlight { generation }, .. }) if *generation == ticket.generation
        );
        if held_by_this_ticket {
            self.entries.remove(&ticket.key);
        }
    }

    /// Forgets the handled deliveries due first while the guard holds more than `most`. A
    /// delivery in flight is never forgotten early (a copy would then be handled beside it):
    /// when only those are left, the guard holds more than its capacity until their leases end.
    fn trim(&mut self, most: usize) {
        while self.entries.len() > most {
            if !self.entries.forget_first_done() {
                break;
            }
            self.evicted_early += 1;
        }
    }
}

/// The signing time a delivery's `X-Timestamp` gives, read as the verifier reads it (decimal
/// Unix seconds): `None` when it is absent or malformed, which it never is on a verified
/// delivery. What a replay store remembers a delivery from.
#[must_use]
pub fn signed_at(headers: &HeaderMap) -> Option<SystemTime> {
    let value = headers.get(WebhookHeader::Timestamp.lowercase())?;
    let seconds = super::verify::parse_timestamp(value.as_bytes()).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

/// `at + by`, or [`Until::End`] when that is past what `SystemTime` can hold.
fn later_by(at: SystemTime, by: Duration) -> Until {
    at.checked_add(by).map_or(Until::End, Until::At)
}

/// When an entry may be forgotten: an instant, or never (a window that reaches past the last
/// instant `SystemTime` can hold). Ordered: every instant comes before `End`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Until {
    At(SystemTime),
    End,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Being handled; `generation` names the ticket that holds it.
    InFlight { generation: u64 },
    /// Handled.
    Done,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    state: State,
    until: Until,
}

/// Where the guard keeps its entries: the seam a durable store will take the place of. Knows
/// nothing of tickets, only keys, entries and their expiry.
#[derive(Debug, Clone, Default)]
struct Entries {
    /// Each key's entry and its place in `by_expiry`.
    by_key: HashMap<DeliveryKey, (Entry, u64)>,
    /// The same entries by expiry (with a sequence number to keep equal times apart).
    by_expiry: BTreeMap<(Until, u64), DeliveryKey>,
    sequence: u64,
}

impl Entries {
    fn len(&self) -> usize {
        self.by_key.len()
    }

    fn get(&self, key: &DeliveryKey) -> Option<&Entry> {
        self.by_key.get(key).map(|(entry, _)| entry)
    }

    /// Sets `key`'s entry, replacing any.
    fn put(&mut self, key: DeliveryKey, entry: Entry) {
        self.remove(&key);
        self.sequence = self.sequence.wrapping_add(1);
        self.by_expiry.insert((entry.until, self.sequence), key);
        self.by_key.insert(key, (entry, self.sequence));
    }

    fn remove(&mut self, key: &DeliveryKey) {
        if let Some((entry, sequence)) = self.by_key.remove(key) {
            self.by_expiry.remove(&(entry.until, sequence));
        }
    }

    /// Forgets every entry whose time ended before `now` (kept through its last instant: the
    /// verifier accepts `|now − t| <= window`).
    fn forget_expired(&mut self, now: SystemTime) {
        while let Some(((until, _), _)) = self.by_expiry.first_key_value() {
            if *until >= Until::At(now) {
                break;
            }
            self.forget_first();
        }
    }

    /// Forgets the handled entry due first; whether there was one. In-flight entries (as many
    /// as deliveries being handled at once) are stepped over.
    fn forget_first_done(&mut self) -> bool {
        let found = self
            .by_expiry
            .iter()
            .find(|(_, key)| {
                matches!(
                    self.by_key.get(*key),
                    Some((
                        Entry {
                            state: State::Done,
                            ..
                        },
                        _
                    ))
                )
            })
            .map(|(slot, key)| (*slot, *key));
        match found {
            Some((slot, key)) => {
                self.by_expiry.remove(&slot);
                self.by_key.remove(&key);
                true
            }
            None => false,
        }
    }

    /// Forgets the entry due first; whether there was one.
    fn forget_first(&mut self) -> bool {
        match self.by_expiry.pop_first() {
            Some((_, key)) => {
                self.by_key.remove(&key);
                true
            }
            None => false,
        }
    }
}
