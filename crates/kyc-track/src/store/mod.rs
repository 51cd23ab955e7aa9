//! Where tracked sessions, delivered webhooks, verdicts waiting for the application, pending
//! creates and the poll budget live: the [`Store`] trait, one transaction per input, and its
//! implementations ([`MemoryStore`] for tests, [`SqliteStore`] embedded in one file, `PgStore` shared by a fleet).

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod rows;
mod sqlite;

pub(crate) use rows::json_fault;

use std::fmt;
use std::time::{Duration, SystemTime};

use kyc_core::SessionId;
use kyc_core::track::{Origin, PendingCreate, Tracked, Verdict};
use serde::{Deserialize, Serialize};

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{DEFAULT_POOL_SIZE, PgStore};
pub use sqlite::SqliteStore;

/// A verdict waiting in the outbox for the application: its stable key, the session, and what
/// it says. Handed over at least once (until acknowledged); the key makes its effect exactly
/// once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VerdictRecord {
    /// The stable key (the session id): acknowledge with it, and key your effect on it.
    pub key: String,
    /// The session.
    pub session_id: SessionId,
    /// The person or company it verifies, when known.
    pub subject: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// How many times it was handed over (claimed) so far, this time included.
    pub deliveries: u32,
}

impl fmt::Debug for VerdictRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerdictRecord")
            .field("key", &self.key)
            .field("session_id", &self.session_id)
            .field("verdict", &self.verdict)
            .field("deliveries", &self.deliveries)
            .finish_non_exhaustive()
    }
}

impl VerdictRecord {
    /// The outbox entry of `verdict`, reached by `record`.
    #[must_use]
    pub fn of(record: &Tracked, verdict: Verdict) -> Self {
        Self {
            key: record.verdict_key(),
            session_id: record.session_id.clone(),
            subject: record.subject.clone(),
            verdict,
            deliveries: 0,
        }
    }

    /// Where the verdict came from.
    #[must_use]
    pub fn origin(&self) -> Origin {
        self.verdict.origin
    }
}

/// Everything one input writes, in one transaction: all of it, or none of it.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Commit {
    /// The dedup key of the webhook delivery this is the effect of: recorded with the effect, so
    /// the same delivery is never applied twice and a failed effect leaves it unseen.
    pub delivery: Option<String>,
    /// The version of the record the decision was made on (`None`: the session was not
    /// tracked). A record that moved since is [`Committed::Conflict`]: read and decide again.
    pub read_version: Option<u64>,
    /// The record to write (it also ends any poll claim on it).
    pub record: Option<Tracked>,
    /// A verdict to put in the outbox (one per key, ever).
    pub verdict: Option<VerdictRecord>,
    /// A pending create that this input completes (its idempotency key): removed.
    pub finish_create: Option<String>,
    /// When (this machine's clock), for the delivery's age.
    pub at: Option<SystemTime>,
}

/// What came of a [`Commit`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Committed {
    /// Everything was written.
    Done,
    /// The delivery's key was recorded before: nothing was written (a redelivery).
    Duplicate,
    /// The record changed since it was read: nothing was written; read, decide and commit again.
    Conflict,
}

/// Why a store could not do what was asked. The input was not applied (nothing was written):
/// answer the webhook with a `5xx` so that Pomelo delivers it again, or poll again later.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed (I/O, a lock held too long, a full disk…).
    #[error("the tracker's database failed: {0}")]
    Database(String),
    /// A stored value could not be read back.
    #[error("a stored {what} could not be read: {why}")]
    Corrupt {
        /// What.
        what: &'static str,
        /// Why.
        why: String,
    },
    /// The store's location is not one this library knows (`sqlite:PATH`, `postgres://...`,
    /// `memory:`).
    #[error("unknown store location {0:?}: use sqlite:PATH, postgres://... or memory:")]
    UnknownLocation(String),
}

/// Durable state of a tracker. One call is one transaction; implementations must make
/// [`Store::commit`] atomic, and [`Store::claim_due`] and [`Store::claim_verdicts`] hand a row to
/// one caller at a time until its lease ends (several trackers may share one store).
pub trait Store: Send + Sync {
    /// The record of `session`, if it is tracked.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    fn load(&self, session: &SessionId) -> Result<Option<Tracked>, StoreError>;

    /// Writes `commit` whole, or nothing.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails (nothing was written).
    fn commit(&self, commit: &Commit) -> Result<Committed, StoreError>;

    /// Up to `limit` sessions whose next poll is due at `now` and that no one else holds,
    /// earliest first, each held for `lease` (until its record is written or the lease ends).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    fn claim_due(
        &self,
        now: SystemTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Tracked>, StoreError>;

    /// When the next session becomes claimable: the earliest next poll, where a session held
    /// under a lease counts at its lease's end (`None`: nothing to poll). A tracker sleeps until
    /// then: a session another replica holds does not wake it before it can be taken.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    fn next_due(&self) -> Result<Option<SystemTime>, StoreError>;

    /// Takes one poll from the shared budget at `now` (see
    /// [`PollBudget`](kyc_core::track::PollBudget)): `Ok(None)` when granted, `Ok(Some(t))` when
    /// the next poll may go at `t`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    fn take_poll(
        &self,
        now: SystemTime,
        polls_per_minute: u32,
    ) -> Result<Option<SystemTime>, StoreError>;

    /// Up to `limit` unacknowledged verdicts that no one holds, oldest first, each held for
    /// `lease` (handed to one consumer at a time; again after the lease if not acknowledged).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    fn claim_verdicts(
        &self,
        now: SystemTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<VerdictRecord>, StoreError>;

    /// Acknowledges the verdict `key`: it is not handed over again. `false` when there is no
    /// such verdict (or it was acknowledged before).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    fn ack(&self, key: &str, now: SystemTime) -> Result<bool, StoreError>;

    /// Every verdict, acknowledged or not, oldest first, at most `limit` (for inspection).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    fn verdicts(&self, limit: usize) -> Result<Vec<(VerdictRecord, bool)>, StoreError>;

    /// Tracked sessions, most recently first seen first, at most `limit`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    fn list(&self, limit: usize) -> Result<Vec<Tracked>, StoreError>;

    /// Writes a create about to be sent (before it is sent), held by its sender until
    /// `held_until`: no one resumes it before then (the sender is still waiting for its answer).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails (then do not send it).
    fn put_pending_create(
        &self,
        create: &PendingCreate,
        held_until: SystemTime,
    ) -> Result<(), StoreError>;

    /// Up to `limit` pending creates that no one holds at `now` (their sender died or gave up
    /// waiting), oldest first, each held for `lease` by the caller, who resumes them. Skips, and
    /// does not wait for, the creates another tracker is claiming.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    fn claim_pending_creates(
        &self,
        now: SystemTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<PendingCreate>, StoreError>;

    /// The creates written and not completed, held or not, oldest first (for inspection).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    fn pending_creates(&self) -> Result<Vec<PendingCreate>, StoreError>;

    /// Forgets delivery keys recorded before `before` (a redelivery older than that would be
    /// refused as stale by the verifier anyway). Returns how many.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    fn forget_deliveries(&self, before: SystemTime) -> Result<u64, StoreError>;
}

/// How many receipts one prune removes at most, and how many `begin`s come between two prunes.
pub(crate) const RECEIPTS_PRUNED: i64 = 512;

/// Whether this `begin` of kyc-axum's replay store should also forget expired receipts: one in
/// 256 in this process. A receiver used without the tracker has no other sweep, and each
/// delivery leaves a row; pruning a bounded batch now and then keeps the table at about the
/// deliveries of one memory.
pub(crate) fn time_to_prune() -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    static BEGUN: AtomicU64 = AtomicU64::new(0);
    BEGUN.fetch_add(1, Ordering::Relaxed) % 256 == 255
}

/// A claim number for kyc-axum's replay store: the clock's nanoseconds mixed with a counter, so
/// two claims of one key (one lapsed, one new) differ.
pub(crate) fn new_claim() -> i64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    (nanos ^ n.rotate_left(40)) as i64
}

/// Opens the store at `location`: `sqlite:PATH` (the file is created with its schema when
/// missing), `postgres://...` (a fleet's shared database; its schema created and migrated) or
/// `memory:` (gone with the process).
///
/// # Errors
///
/// [`StoreError::UnknownLocation`] for another scheme; the database's error otherwise.
pub fn open(location: &str) -> Result<Box<dyn Store>, StoreError> {
    let location = location.trim();
    if let Some(path) = location.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        return Ok(Box::new(SqliteStore::open(path)?));
    }
    #[cfg(feature = "postgres")]
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        return Ok(Box::new(PgStore::open(location)?));
    }
    if location == "memory:" {
        return Ok(Box::new(MemoryStore::new()));
    }
    // Only the scheme: a location may carry a password.
    let scheme = location.split(':').next().unwrap_or_default();
    Err(StoreError::UnknownLocation(format!("{scheme}:...")))
}
