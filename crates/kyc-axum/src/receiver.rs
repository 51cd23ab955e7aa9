//! [`WebhookReceiver`]: the verifier, the replay guard, the body limit and the clock; and the
//! [`Receipt`] of a delivery being handled.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use kyc_core::webhook::{Begin, Event, ReplayGuard, Ticket, Verifier, WebhookError};

use crate::Rejection;

/// Largest webhook body read by default: 1 MiB (Pomelo's notifications are a few hundred bytes).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Deliveries the default replay guard remembers within one freshness window.
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// What the extractor needs: the verifier, the replay guard, the body limit and the clock. Cheap
/// to clone (one `Arc`); clones share the replay guard.
#[derive(Clone)]
pub struct WebhookReceiver {
    inner: Arc<Inner>,
}

struct Inner {
    verifier: Verifier,
    guard: Option<Mutex<ReplayGuard>>,
    body_limit: usize,
    clock: fn() -> SystemTime,
}

impl WebhookReceiver {
    /// A receiver verifying with `verifier`, remembering up to [`DEFAULT_REPLAY_CAPACITY`]
    /// deliveries for the verifier's window, reading bodies up to [`DEFAULT_BODY_LIMIT`], with the
    /// system clock.
    #[must_use]
    pub fn new(verifier: Verifier) -> Self {
        let guard = ReplayGuard::for_verifier(&verifier, DEFAULT_REPLAY_CAPACITY);
        Self {
            inner: Arc::new(Inner {
                verifier,
                guard: Some(Mutex::new(guard)),
                body_limit: DEFAULT_BODY_LIMIT,
                clock: SystemTime::now,
            }),
        }
    }

    fn with(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            verifier: shared.verifier.clone(),
            guard: shared
                .guard
                .as_ref()
                .map(|g| Mutex::new(g.lock().unwrap_or_else(PoisonError::into_inner).clone())),
            body_limit: shared.body_limit,
            clock: shared.clock,
        });
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Remembers at most `capacity` deliveries within one window (see kyc-core's
    /// [`ReplayGuard::evicted_early`]); `0` turns the guard off, and every authenticated delivery
    /// reaches the handler, copies included.
    #[must_use]
    pub fn replay_capacity(self, capacity: usize) -> Self {
        self.with(|inner| {
            inner.guard = (capacity > 0)
                .then(|| Mutex::new(ReplayGuard::for_verifier(&inner.verifier, capacity)));
        })
    }

    /// How long a delivery stays in flight if its [`Receipt`] is leaked (neither committed nor
    /// dropped): [`ReplayGuard::lease`], 60 s by default. A receipt is dropped when its request
    /// ends, however it ends, so this matters only to a receipt kept on purpose (e.g.
    /// `std::mem::forget`).
    #[must_use]
    pub fn replay_lease(self, lease: Duration) -> Self {
        self.with(|inner| {
            inner.guard = inner.guard.take().map(|guard| {
                Mutex::new(
                    guard
                        .into_inner()
                        .unwrap_or_else(PoisonError::into_inner)
                        .lease(lease),
                )
            });
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

    /// Whether deliveries are remembered (a [`ReceiptLayer`](crate::ReceiptLayer) is needed).
    pub(crate) fn guards_replays(&self) -> bool {
        self.inner.guard.is_some()
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
    /// the delivery to be handled again when it comes back.
    ///
    /// # Errors
    ///
    /// [`Rejection::Unauthenticated`] when the signature, timestamp, api key or endpoint is
    /// wrong or missing; [`Rejection::InvalidJson`] for an authentic body that is not JSON;
    /// [`Rejection::InFlight`] while another copy of the delivery is being handled;
    /// [`Rejection::Repeated`] for a delivery handled before within the window.
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
        let ticket = match &self.inner.guard {
            None => None,
            Some(guard) => {
                let mut guard = guard.lock().unwrap_or_else(PoisonError::into_inner);
                match guard.begin_delivery(headers, body, &event, now) {
                    Begin::New(ticket) => Some(ticket),
                    Begin::InFlight => return Err(Rejection::InFlight),
                    Begin::Done => return Err(Rejection::Repeated),
                }
            }
        };
        Ok(Delivery {
            event,
            receipt: Receipt {
                receiver: self.clone(),
                ticket,
            },
        })
    }
}

impl std::fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("replay_guard", &self.inner.guard.is_some())
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
    ticket: Option<Ticket>,
}

impl Receipt {
    /// The delivery was handled: record it as received.
    pub fn commit(mut self) {
        if let (Some(ticket), Some(guard)) = (self.ticket.take(), &self.receiver.inner.guard) {
            let now = self.receiver.now();
            guard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .commit(ticket, now);
        }
    }
}

impl Drop for Receipt {
    /// Not committed: the handler failed, panicked or was cancelled. The delivery is forgotten.
    fn drop(&mut self) {
        if let (Some(ticket), Some(guard)) = (self.ticket.take(), &self.receiver.inner.guard) {
            guard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .abandon(ticket);
        }
    }
}

impl std::fmt::Debug for Receipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receipt")
            .field("delivery", &self.ticket.as_ref().map(Ticket::key))
            .finish()
    }
}
