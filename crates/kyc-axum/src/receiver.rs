//! [`WebhookReceiver`]: the verifier, the replay guard, the body limit and the clock; and the
//! [`Receipt`] of a delivery being handled.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use kyc_core::webhook::{DeliveryKey, Event, Verifier, WebhookError, signed_at};

use crate::Rejection;
use crate::store::{MemoryReplayStore, ReplayStore, Started};

/// How long a claim on a delivery lasts if its [`Receipt`] is leaked: 60 s.
pub const DEFAULT_REPLAY_LEASE: Duration = Duration::from_secs(60);

/// Largest webhook body read by default: 1 MiB (Pomelo's notifications are a few hundred bytes).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Deliveries the default replay guard remembers at most.
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// How long a handled delivery is remembered by default: 24 h after its signing (or its commit,
/// the later). Pomelo does not publish how long it retries, nor whether a retry is signed again
/// (a retry signed again passes the freshness check however late it comes): a day covers
/// retries spread over hours. See [`WebhookReceiver::replay_memory`].
pub const DEFAULT_REPLAY_MEMORY: Duration = Duration::from_secs(24 * 3600);

/// What the extractor needs: the verifier, the replay guard, the body limit and the clock. Cheap
/// to clone (one `Arc`); clones share the replay guard.
#[derive(Clone)]
pub struct WebhookReceiver {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    verifier: Verifier,
    /// `None`: no replay guard.
    store: Option<Arc<dyn ReplayStore>>,
    /// Whether `store` is the default in-memory one (rebuilt when the capacity or lease change).
    own_store: bool,
    capacity: usize,
    lease: Duration,
    memory: Duration,
    body_limit: usize,
    clock: fn() -> SystemTime,
}

impl Inner {
    fn memory(&self) -> Option<Arc<dyn ReplayStore>> {
        (self.capacity > 0).then(|| {
            let store: Arc<dyn ReplayStore> = Arc::new(MemoryReplayStore::new(
                self.remember_for(),
                self.capacity,
                self.lease,
            ));
            store
        })
    }
}

impl Inner {
    /// How long a handled delivery is remembered: the setting, and never less than the
    /// verifier's window (a copy inside it would pass verification).
    fn remember_for(&self) -> Duration {
        self.memory.max(self.verifier.tolerance_value())
    }
}

impl WebhookReceiver {
    /// A receiver verifying with `verifier`, remembering up to [`DEFAULT_REPLAY_CAPACITY`]
    /// deliveries for [`DEFAULT_REPLAY_MEMORY`], reading bodies up to [`DEFAULT_BODY_LIMIT`], with
    /// the system clock.
    #[must_use]
    pub fn new(verifier: Verifier) -> Self {
        let mut inner = Inner {
            verifier,
            store: None,
            own_store: true,
            capacity: DEFAULT_REPLAY_CAPACITY,
            lease: DEFAULT_REPLAY_LEASE,
            memory: DEFAULT_REPLAY_MEMORY,
            body_limit: DEFAULT_BODY_LIMIT,
            clock: SystemTime::now,
        };
        inner.store = inner.memory();
        Self {
            inner: Arc::new(inner),
        }
    }

    fn with(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| (*shared).clone());
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Remembers deliveries in `store` instead of this process's memory: a database shared by
    /// every replica of a service (kyc-track's `PgStore` or `SqliteStore`), so that a redelivery
    /// landing on another replica, or after a restart, is recognised, with the same rule:
    /// counted only once its handler succeeded.
    #[must_use]
    pub fn replay_store(self, store: Arc<dyn ReplayStore>) -> Self {
        self.with(|inner| {
            inner.store = Some(store);
            inner.own_store = false;
        })
    }

    /// Remembers at most `capacity` handled deliveries within its memory (24 h by default: size
    /// it for a day of deliveries, or shorten [`WebhookReceiver::replay_memory`]; see kyc-core's
    /// [`ReplayGuard::evicted_early`](kyc_core::webhook::ReplayGuard::evicted_early)); `0` turns the guard off, and every authenticated delivery
    /// reaches the handler, copies included.
    #[must_use]
    pub fn replay_capacity(self, capacity: usize) -> Self {
        self.with(|inner| {
            inner.capacity = capacity;
            if inner.own_store || capacity == 0 {
                inner.own_store = true;
                inner.store = inner.memory();
            }
        })
    }

    /// How long a delivery is held in flight: [`ReplayGuard::lease`](kyc_core::webhook::ReplayGuard::lease),
    /// 60 s by default. A receipt is committed or dropped when its request ends, however it
    /// ends, so the lease ends a claim only for a handler still running after it (a copy
    /// arriving then is handled beside it), a process killed mid-handler (its claim in a
    /// database store), or a receipt kept on purpose (e.g. `std::mem::forget`). Keep it longer
    /// than any handler runs: a timeout layer in front of the receiver, shorter than the lease,
    /// makes that hold.
    #[must_use]
    pub fn replay_lease(self, lease: Duration) -> Self {
        self.with(|inner| {
            inner.lease = lease;
            if inner.own_store {
                inner.store = inner.memory();
            }
        })
    }

    /// Remembers a handled delivery for `memory` after its signing (or its commit, the later):
    /// a copy within that time is answered `200` without reaching the handler, a later one is
    /// handled again. [`DEFAULT_REPLAY_MEMORY`] (24 h) by default; never less than the
    /// verifier's freshness window. Longer than the sender's retries: a retry that Pomelo signs
    /// again passes verification however late it comes.
    #[must_use]
    pub fn replay_memory(self, memory: Duration) -> Self {
        self.with(|inner| {
            inner.memory = memory;
            if inner.own_store {
                inner.store = inner.memory();
            }
        })
    }

    /// Reads bodies up to `bytes`; a larger one is answered `413`.
    #[must_use]
    pub fn body_limit(self, bytes: usize) -> Self {
        self.with(|inner| inner.body_limit = bytes)
    }

    /// Reads the time from `clock` instead of the system clock (for tests).
    #[must_use]
    pub fn clock(self, clock: fn() -> SystemTime) -> Self {
        self.with(|inner| inner.clock = clock)
    }

    /// The verifier in use.
    #[must_use]
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// The largest body read.
    pub(crate) fn body_limit_value(&self) -> usize {
        self.inner.body_limit
    }

    /// Where the replay store's calls go when they may block ([`ReplayStore::blocks`]) and a
    /// tokio runtime is running: its blocking pool, off the worker threads. `None`: make them in
    /// place (the memory store, or no runtime to hand them to).
    pub(crate) fn blocking_pool(&self) -> Option<tokio::runtime::Handle> {
        if self.inner.store.as_ref().is_some_and(|s| s.blocks()) {
            tokio::runtime::Handle::try_current().ok()
        } else {
            None
        }
    }

    /// Whether deliveries are remembered (a [`ReceiptLayer`](crate::ReceiptLayer) is needed).
    pub(crate) fn guards_replays(&self) -> bool {
        self.inner.store.is_some()
    }

    pub(crate) fn now(&self) -> SystemTime {
        (self.inner.clock)()
    }

    /// The checks that need only the headers, before the body is read.
    pub(crate) fn check_headers(&self, headers: &HeaderMap) -> Result<(), Rejection> {
        self.inner
            .verifier
            .check_headers(headers, self.now())
            .map_err(Rejection::Unauthenticated)
    }

    /// What the extractor does once the body is collected, for use outside axum's extractors:
    /// verifies the delivery, then asks the replay guard whether to handle it. Handle the event,
    /// then [`Receipt::commit`] once it was handled; a receipt dropped without a commit leaves
    /// the delivery to be handled again when it comes back. With a replay store that
    /// [blocks](ReplayStore::blocks) (a database), this and [`Receipt::commit`] block: call them
    /// from synchronous code or a blocking thread (the extractor does).
    ///
    /// # Errors
    ///
    /// [`Rejection::Unauthenticated`] when the signature, timestamp, api key or endpoint is
    /// wrong or missing; [`Rejection::InvalidJson`] for an authentic body that is not JSON;
    /// [`Rejection::InFlight`] while another copy of the delivery is being handled;
    /// [`Rejection::Repeated`] for a delivery handled before within the window;
    /// [`Rejection::StoreUnavailable`] when the replay store failed.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Delivery, Rejection> {
        let now = self.now();
        let event = self
            .inner
            .verifier
            .verify(headers, body, now)
            .map_err(|e| match e {
                WebhookError::InvalidJson { .. } => Rejection::InvalidJson,
                other => Rejection::Unauthenticated(other),
            })?;
        let claim = match &self.inner.store {
            None => None,
            Some(store) => {
                let key = DeliveryKey::of(headers, body, &event);
                let signed_at = signed_at(headers).unwrap_or(now);
                // A lease past what the clock can count holds for as long as it can (never `now`:
                // that would free the delivery at once).
                let lease_until = kyc_core::later(now, self.inner.lease);
                match store
                    .begin(&key, signed_at, lease_until, now)
                    .map_err(|_| Rejection::StoreUnavailable)?
                {
                    Started::New { claim } => Some(Claim {
                        key,
                        claim,
                        signed_at,
                    }),
                    Started::InFlight => return Err(Rejection::InFlight),
                    _ => return Err(Rejection::Repeated),
                }
            }
        };
        Ok(Delivery {
            event,
            receipt: Receipt {
                receiver: self.clone(),
                claim,
            },
        })
    }
}

impl std::fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("replay_guard", &self.inner.store.is_some())
            .field("body_limit", &self.inner.body_limit)
            .finish_non_exhaustive()
    }
}

/// A verified delivery to handle, from [`WebhookReceiver::verify`]: its event, and the receipt
/// to commit once it was handled.
#[derive(Debug)]
#[non_exhaustive]
pub struct Delivery {
    /// The typed event.
    pub event: Event,
    /// Commit it once the event was handled; dropping it uncommitted leaves the delivery to be
    /// handled again.
    pub receipt: Receipt,
}

/// A delivery being handled. [`Receipt::commit`] records it as received (copies arriving later
/// within the window are answered `200` without reaching a handler); dropping the receipt
/// uncommitted, which happens when the handler failed, panicked or was cancelled, forgets it, so
/// its redelivery reaches the handler. Until one or the other, copies are answered `409`.
///
/// In an axum router, [`ReceiptLayer`](crate::ReceiptLayer) holds the receipt of each request
/// and commits it when the response is `2xx`.
#[must_use = "a receipt dropped uncommitted leaves the delivery to be handled again"]
pub struct Receipt {
    receiver: WebhookReceiver,
    /// `None` when the receiver guards no replays.
    claim: Option<Claim>,
}

/// A receipt's hold on its delivery in the replay store.
struct Claim {
    key: DeliveryKey,
    claim: u64,
    signed_at: SystemTime,
}

impl Receipt {
    /// The delivery was handled: record it as received. If the replay store fails now, the
    /// delivery is not recorded and a redelivery reaches the handler again (at least once).
    pub fn commit(mut self) {
        if let (Some(claim), Some(store)) = (self.claim.take(), &self.receiver.inner.store) {
            let now = self.receiver.now();
            let remember_until =
                kyc_core::later(claim.signed_at.max(now), self.receiver.inner.remember_for());
            let _ = store.commit(&claim.key, claim.claim, now, remember_until);
        }
    }
}

impl Receipt {
    /// Where committing or abandoning it goes (see [`WebhookReceiver::blocking_pool`]); `None`
    /// also when it holds no claim (nothing to write).
    pub(crate) fn blocking_pool(&self) -> Option<tokio::runtime::Handle> {
        self.claim.as_ref()?;
        self.receiver.blocking_pool()
    }

    /// Abandons it on this thread (what a drop does, without handing the store call to the
    /// blocking pool): for a caller already on a blocking thread.
    pub(crate) fn abandon_here(mut self) {
        self.abandon_on(None);
    }

    /// Ends its claim uncommitted, on `pool` when given (not waited for), else in place.
    fn abandon_on(&mut self, pool: Option<tokio::runtime::Handle>) {
        if let (Some(claim), Some(store)) = (self.claim.take(), &self.receiver.inner.store) {
            let store = store.clone();
            let abandon = move || {
                let _ = store.abandon(&claim.key, claim.claim);
            };
            match pool {
                Some(pool) => drop(pool.spawn_blocking(abandon)),
                None => abandon(),
            }
        }
    }
}

impl Drop for Receipt {
    /// Not committed: the handler failed, panicked or was cancelled. The delivery is forgotten
    /// (or, if the store fails now, when its claim's lease ends). With a store that blocks,
    /// inside a tokio runtime, on its blocking pool (a drop happens on a worker thread).
    fn drop(&mut self) {
        let pool = self.blocking_pool();
        self.abandon_on(pool);
    }
}

impl std::fmt::Debug for Receipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receipt")
            .field("delivery", &self.claim.as_ref().map(|c| c.key))
            .finish()
    }
}
