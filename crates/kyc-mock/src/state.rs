//! State shared between the HTTP handlers, the background tasks and the synchronous public API.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use crate::chaos::WebhookChaos;
use crate::clock::Clock;
use crate::config::{MockConfig, Outcome};
use crate::faults::FaultQueue;
use crate::ids::IdGen;
use crate::record::RequestLog;
use crate::session::Session;
use crate::webhook::{DeliveryOrigin, WebhookDelivery, WebhookKind, WebhookTarget};

/// Most idempotency keys remembered; the oldest are forgotten first.
const MAX_IDEMPOTENCY_KEYS: usize = 10_000;
/// Most webhook deliveries kept in the log; the oldest are dropped first.
pub(crate) const MAX_DELIVERIES: usize = 10_000;

/// Everything the simulator knows, behind one lock (never held across an `.await`).
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: MockConfig,
    pub(crate) clock: Clock,
    pub(crate) ids: IdGen,
    pub(crate) base_url: String,
    /// HMAC key signing the JWT-shaped access tokens.
    pub(crate) jwt_key: Vec<u8>,
    /// Decoded webhook secret.
    pub(crate) webhook_key: Vec<u8>,
    /// Where validation-session notifications go, taken in turn.
    pub(crate) webhook_targets: Vec<WebhookTarget>,
    /// Where required-file notifications go, taken in turn.
    pub(crate) required_file_targets: Vec<WebhookTarget>,
    /// The seed of the webhook chaos's generator.
    pub(crate) webhook_seed: u64,
    /// The console's and admin API's token (`MockServer::admin_token`).
    pub(crate) admin_token: String,
    state: Mutex<State>,
    deliveries_changed: Condvar,
    /// The `Date` header of the current second, and that second (formatted once a second).
    date: Mutex<(u64, HeaderValue)>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) token: Option<IssuedToken>,
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) next_seq: u64,
    pub(crate) idempotency: IdempotencyStore,
    pub(crate) faults: FaultQueue,
    pub(crate) requests: RequestLog,
    pub(crate) deliveries: VecDeque<WebhookDelivery>,
    pub(crate) default_outcome: Outcome,
    pub(crate) stats: MockStats,
    /// How webhooks are delivered now (`MockServer::set_webhook_chaos`).
    pub(crate) chaos: WebhookChaos,
    /// Notifications numbered so far: the last one's number.
    pub(crate) notifications: u64,
    /// Notifications on their way (held, attempted, waiting to retry or to be duplicated).
    pub(crate) pending_webhooks: usize,
    /// Uploaded images kept for the console's previews.
    pub(crate) previews: Previews,
}

/// Most uploaded images kept for previews, and their largest total size: the oldest go first.
const MAX_PREVIEWS: usize = 200;
const MAX_PREVIEW_BYTES: usize = 32 * 1024 * 1024;
/// Largest image kept for a preview.
pub(crate) const MAX_PREVIEW_FILE: usize = 1024 * 1024;

/// The bytes of recent uploaded images, by file id, for the console.
#[derive(Debug, Default)]
pub(crate) struct Previews {
    files: VecDeque<(String, &'static str, Bytes)>,
    bytes: usize,
}

impl Previews {
    /// Keeps `data` of file `id`, forgetting the oldest beyond the bounds.
    pub(crate) fn keep(&mut self, id: String, content_type: &'static str, data: Bytes) {
        if data.len() > MAX_PREVIEW_FILE {
            return;
        }
        self.bytes += data.len();
        self.files.push_back((id, content_type, data));
        while self.files.len() > MAX_PREVIEWS || self.bytes > MAX_PREVIEW_BYTES {
            match self.files.pop_front() {
                Some((_, _, old)) => self.bytes -= old.len(),
                None => break,
            }
        }
    }

    /// Whether file `id` is still kept.
    pub(crate) fn has(&self, id: &str) -> bool {
        self.files.iter().any(|(file, _, _)| file == id)
    }

    /// The content type and bytes of file `id`, when still kept.
    pub(crate) fn get(&self, id: &str) -> Option<(&'static str, Bytes)> {
        self.files
            .iter()
            .find(|(file, _, _)| file == id)
            .map(|(_, kind, data)| (*kind, data.clone()))
    }
}

/// What the simulator has done since it started: counts for load tests, where the request log is
/// too small or turned off ([`MockServer::stats`](crate::MockServer::stats)).
///
/// `creates_applied` and `uploads_applied` count what changed the state (a replayed answer
/// does not): a client that never sends a create twice without its key keeps them equal to
/// its own count of creates and uploads that reached the simulator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MockStats {
    /// Connections accepted.
    pub connections: u64,
    /// Requests received (faulted ones included).
    pub requests: u64,
    /// Requests answered with a fault, injected or random.
    pub faults: u64,
    /// Token requests answered with a token.
    pub tokens_issued: u64,
    /// Sessions created.
    pub creates_applied: u64,
    /// Files stored by uploads.
    pub uploads_applied: u64,
    /// Creates and uploads answered from the idempotency store instead of applied again.
    pub idempotent_replays: u64,
    /// Webhook notifications sent (numbered), each counted once whatever its copies.
    pub webhook_notifications: u64,
    /// Webhook deliveries withheld: never attempted, the receiver never saw them.
    pub webhooks_dropped: u64,
    /// Extra copies of notifications delivered by the chaos settings.
    pub webhook_duplicates: u64,
    /// HTTP attempts of webhook deliveries (retries included).
    pub webhook_attempts: u64,
}

/// The access token currently handed out.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub(crate) value: String,
    pub(crate) expires_at: SystemTime,
    pub(crate) revoked: bool,
}

impl IssuedToken {
    pub(crate) fn usable(&self, now: SystemTime) -> bool {
        !self.revoked && now < self.expires_at
    }
}

impl Shared {
    pub(crate) fn new(
        config: MockConfig,
        base_url: String,
        webhook_key: Vec<u8>,
        webhook_targets: Vec<WebhookTarget>,
        required_file_targets: Vec<WebhookTarget>,
    ) -> Self {
        let ids = IdGen::new();
        // Below 2^53, so that the seed survives JSON readers that turn numbers into doubles.
        let webhook_seed = config.webhook_seed.unwrap_or_else(|| ids.next_u64() >> 11);
        let jwt_key = ids.bytes(32);
        let state = State {
            token: None,
            sessions: HashMap::new(),
            next_seq: 0,
            idempotency: IdempotencyStore::default(),
            faults: FaultQueue::default(),
            requests: RequestLog::new(config.max_recorded_requests),
            deliveries: VecDeque::new(),
            default_outcome: config.default_outcome.clone(),
            stats: MockStats::default(),
            previews: Previews::default(),
            chaos: config.webhook_chaos.clone(),
            notifications: 0,
            pending_webhooks: 0,
        };
        let admin_token = admin_token(&ids);
        Self {
            config,
            clock: Clock::default(),
            ids,
            base_url,
            jwt_key,
            webhook_key,
            webhook_targets,
            required_file_targets,
            webhook_seed,
            admin_token,
            state: Mutex::new(state),
            deliveries_changed: Condvar::new(),
            date: Mutex::new((u64::MAX, HeaderValue::from_static(""))),
        }
    }

    /// Locks the state. A panic elsewhere while holding the lock leaves data that is still usable
    /// for a simulator, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The `Date` header for now on the simulator's clock (which `advance_clock` moves), made
    /// once a second rather than for every answer.
    pub(crate) fn date_header(&self) -> HeaderValue {
        let now = self.clock.now();
        let second = crate::clock::unix_seconds(now);
        let mut date = self.date.lock().unwrap_or_else(PoisonError::into_inner);
        if date.0 != second {
            if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(now)) {
                *date = (second, value);
            }
        }
        date.1.clone()
    }

    /// The targets of notifications of `kind`.
    pub(crate) fn targets(&self, kind: WebhookKind) -> &[WebhookTarget] {
        match kind {
            WebhookKind::SessionStatus => &self.webhook_targets,
            WebhookKind::RequiredFile => &self.required_file_targets,
        }
    }

    /// Logs a finished (or withheld) delivery, counts it and notes it in its session's timeline.
    pub(crate) fn record_delivery(&self, delivery: WebhookDelivery) {
        let mut state = self.lock();
        let now = self.clock.now();
        let stats = &mut state.stats;
        stats.webhook_attempts += delivery.attempts.len() as u64;
        if delivery.dropped.is_some() {
            stats.webhooks_dropped += 1;
        }
        if let DeliveryOrigin::Duplicate(_) = delivery.origin {
            stats.webhook_duplicates += 1;
        }
        if let Some(session) = state.sessions.get_mut(&delivery.session_id) {
            let answer = match (delivery.dropped, delivery.last_status()) {
                (Some(reason), _) => format!("dropped ({})", reason.as_str()),
                (None, Some(status)) => {
                    format!("{status} after {} attempt(s)", delivery.attempts.len())
                }
                (None, None) => format!("no answer after {} attempt(s)", delivery.attempts.len()),
            };
            let copy = match delivery.origin {
                DeliveryOrigin::First => String::new(),
                DeliveryOrigin::Duplicate(n) => format!(" (duplicate {n})"),
                DeliveryOrigin::Resend => " (resent)".to_owned(),
            };
            session.note(
                now,
                format!(
                    "webhook {} {}{copy}: {answer}",
                    delivery.kind.as_str(),
                    delivery.event_id
                ),
            );
        }
        state.deliveries.push_back(delivery);
        while state.deliveries.len() > MAX_DELIVERIES {
            state.deliveries.pop_front();
        }
        drop(state);
        self.deliveries_changed.notify_all();
    }

    /// One notification fewer on its way.
    pub(crate) fn webhook_settled(&self) {
        let mut state = self.lock();
        state.pending_webhooks = state.pending_webhooks.saturating_sub(1);
        drop(state);
        self.deliveries_changed.notify_all();
    }

    /// Waits until no notification is on its way or `timeout` passes; whether none is.
    pub(crate) fn wait_for_settled_webhooks(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.pending_webhooks > 0 {
            let Some(left) = deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
            else {
                return false;
            };
            state = match self.deliveries_changed.wait_timeout(state, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }

    /// Waits until at least `count` deliveries are logged or `timeout` passes.
    pub(crate) fn wait_for_deliveries(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<WebhookDelivery> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.deliveries.len() < count {
            let now = Instant::now();
            let Some(left) = deadline
                .checked_duration_since(now)
                .filter(|d| !d.is_zero())
            else {
                break;
            };
            state = match self.deliveries_changed.wait_timeout(state, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        state.deliveries.iter().cloned().collect()
    }
}

/// A response remembered under an `x-idempotency-key`.
#[derive(Debug, Clone)]
pub(crate) struct StoredResponse {
    fingerprint: [u8; 32],
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

/// What a request with an idempotency key should do.
#[derive(Debug)]
pub(crate) enum Replay {
    /// Key unknown: process the request, then remember its response.
    Fresh,
    /// Same key, same request: answer this again.
    Same(StoredResponse),
    /// Same key, different request: `409`.
    Conflict,
}

/// Remembered successful responses by idempotency key, bounded.
#[derive(Debug, Default)]
pub(crate) struct IdempotencyStore {
    map: HashMap<String, StoredResponse>,
    order: VecDeque<String>,
}

/// Identifies a request for idempotency: method, path and exact body bytes.
pub(crate) fn fingerprint(method: &str, path: &str, body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update([0]);
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hasher.finalize().into()
}

impl IdempotencyStore {
    pub(crate) fn check(&self, key: &str, fingerprint: &[u8; 32]) -> Replay {
        match self.map.get(key) {
            None => Replay::Fresh,
            Some(stored) if &stored.fingerprint == fingerprint => Replay::Same(stored.clone()),
            Some(_) => Replay::Conflict,
        }
    }

    pub(crate) fn remember(
        &mut self,
        key: &str,
        fingerprint: [u8; 32],
        status: StatusCode,
        body: Bytes,
    ) {
        if self
            .map
            .insert(
                key.to_owned(),
                StoredResponse {
                    fingerprint,
                    status,
                    body,
                },
            )
            .is_none()
        {
            self.order.push_back(key.to_owned());
        }
        while self.order.len() > MAX_IDEMPOTENCY_KEYS {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

/// 32 random characters from the operating system's generator (the console's token must not be
/// guessable by another local user or page); the simulator's own generator only if that fails.
fn admin_token(ids: &IdGen) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        bytes.copy_from_slice(&ids.bytes(32));
    }
    bytes
        .iter()
        .map(|b| {
            char::from(
                *ALPHABET
                    .get(usize::from(*b) % ALPHABET.len())
                    .unwrap_or(&b'0'),
            )
        })
        .collect()
}
