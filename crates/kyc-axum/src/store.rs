//! Where a receiver remembers the deliveries it handled: [`ReplayStore`], in process by default
//! ([`MemoryReplayStore`], kyc-core's `ReplayGuard`), or shared by several processes (kyc-track's
//! `PgStore` and `SqliteStore` implement it), so a redelivery landing on another replica, or
//! after a restart, is still recognised.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use kyc_core::webhook::{Begin, DeliveryKey, ReplayGuard, Ticket};

/// What [`ReplayStore::begin`] says of a delivery.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Started {
    /// Not handled, nor being handled: handle it, then commit or abandon `claim`.
    New {
        /// The claim to commit or abandon (an abandon frees the delivery only while this claim
        /// still holds it).
        claim: u64,
    },
    /// Another copy is being handled (its claim has not ended).
    InFlight,
    /// Handled before (committed, and still remembered).
    Done,
}

/// A replay store failed: the delivery is answered `503`, so Pomelo sends it again.
#[derive(Debug, thiserror::Error)]
#[error("the replay store failed: {0}")]
pub struct ReplayStoreError(pub String);

/// The memory of a receiver: which deliveries were handled, which are being handled. A
/// delivery counts as handled only once [`ReplayStore::commit`] recorded it; a claim that is
/// abandoned, or that outlives `lease_until`, leaves it to be handled again.
///
/// Calls are short and synchronous: a database implementation makes one short transaction per
/// call. When [`ReplayStore::blocks`] (the default), the receiver's extractor and
/// [`ReceiptLayer`](crate::ReceiptLayer) make them on tokio's blocking pool, never on the
/// runtime's worker threads.
pub trait ReplayStore: Send + Sync {
    /// Whether a call may block its thread (a database's I/O, a lock held across it): then an
    /// async caller makes it on a blocking thread. `true` unless overridden; an in-memory store
    /// whose calls take a moment returns `false` and is called in place.
    fn blocks(&self) -> bool {
        true
    }

    /// Starts handling `key` at `now`: claimed until `lease_until` unless handled before or
    /// being handled.
    ///
    /// # Errors
    ///
    /// [`ReplayStoreError`] when the store fails.
    fn begin(
        &self,
        key: &DeliveryKey,
        signed_at: SystemTime,
        lease_until: SystemTime,
        now: SystemTime,
    ) -> Result<Started, ReplayStoreError>;

    /// Records `key` as handled at `now`, remembered until `remember_until` (the later of its
    /// signing and `now`, plus the receiver's replay memory), if `claim` still holds it.
    ///
    /// # Errors
    ///
    /// [`ReplayStoreError`] when the store fails (then the delivery is handled again when it
    /// comes back).
    fn commit(
        &self,
        key: &DeliveryKey,
        claim: u64,
        now: SystemTime,
        remember_until: SystemTime,
    ) -> Result<(), ReplayStoreError>;

    /// Ends `claim` without recording the delivery: its handling failed.
    ///
    /// # Errors
    ///
    /// [`ReplayStoreError`] when the store fails (then the claim ends at its lease).
    fn abandon(&self, key: &DeliveryKey, claim: u64) -> Result<(), ReplayStoreError>;
}

/// The default replay store: kyc-core's [`ReplayGuard`] in this process (bounded; gone with the
/// process, and not shared by replicas: use a database-backed store for those).
#[derive(Debug)]
pub struct MemoryReplayStore {
    state: Mutex<MemoryState>,
}

#[derive(Debug)]
struct MemoryState {
    guard: ReplayGuard,
    tickets: HashMap<u64, Ticket>,
    next: u64,
}

impl MemoryReplayStore {
    /// Remembers up to `capacity` deliveries for `window` after their signing (or their commit,
    /// whichever is later); a claim lapses after `lease`.
    #[must_use]
    pub fn new(window: Duration, capacity: usize, lease: Duration) -> Self {
        Self {
            state: Mutex::new(MemoryState {
                guard: ReplayGuard::new(window, capacity).lease(lease),
                tickets: HashMap::new(),
                next: 0,
            }),
        }
    }

    /// The guard's count of deliveries forgotten early because it was full.
    #[must_use]
    pub fn evicted_early(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .guard
            .evicted_early()
    }
}

impl ReplayStore for MemoryReplayStore {
    /// A lock held for a map's update: called in place.
    fn blocks(&self) -> bool {
        false
    }

    fn begin(
        &self,
        key: &DeliveryKey,
        signed_at: SystemTime,
        _lease_until: SystemTime,
        now: SystemTime,
    ) -> Result<Started, ReplayStoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(match state.guard.begin(*key, signed_at, now) {
            Begin::New(ticket) => {
                state.next = state.next.wrapping_add(1);
                let claim = state.next;
                state.tickets.insert(claim, ticket);
                Started::New { claim }
            }
            Begin::InFlight => Started::InFlight,
            Begin::Done => Started::Done,
        })
    }

    fn commit(
        &self,
        _key: &DeliveryKey,
        claim: u64,
        now: SystemTime,
        _remember_until: SystemTime,
    ) -> Result<(), ReplayStoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(ticket) = state.tickets.remove(&claim) {
            // The guard computes the end of its memory from the commit time and its window.
            state.guard.commit(ticket, now);
        }
        Ok(())
    }

    fn abandon(&self, _key: &DeliveryKey, claim: u64) -> Result<(), ReplayStoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(ticket) = state.tickets.remove(&claim) {
            state.guard.abandon(ticket);
        }
        Ok(())
    }
}
