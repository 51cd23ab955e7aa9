//! [`SqliteStore`]: the embedded default, one file, SQLite compiled in. Write-ahead log,
//! `synchronous = FULL` (a commit survives a power loss, not only a crash), one connection behind
//! a lock (one process per file; a fleet shares PostgreSQL instead).

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kyc_core::SessionId;
use kyc_core::later as add;
use kyc_core::track::{PendingCreate, PollBudget, Tracked};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::rows::{corrupt, from_ms, limit, ms, not_new, tracked, verdict};
use super::{Commit, Committed, Store, StoreError, VerdictRecord};

/// The schema, one migration per version, applied in order inside one transaction each.
const MIGRATIONS: &[&str] = &[
    // 1: sessions, deliveries, the outbox, pending creates, the poll budget.
    "CREATE TABLE sessions (
         session_id TEXT PRIMARY KEY,
         version INTEGER NOT NULL,
         first_seen INTEGER NOT NULL,
         next_poll INTEGER,
         claimed_until INTEGER,
         record TEXT NOT NULL
     );
     CREATE INDEX sessions_next_poll ON sessions (next_poll) WHERE next_poll IS NOT NULL;
     CREATE INDEX sessions_first_seen ON sessions (first_seen);
     CREATE TABLE deliveries (key TEXT PRIMARY KEY, received_at INTEGER NOT NULL);
     CREATE INDEX deliveries_received_at ON deliveries (received_at);
     CREATE TABLE verdicts (
         key TEXT PRIMARY KEY,
         sequence INTEGER NOT NULL UNIQUE,
         record TEXT NOT NULL,
         deliveries INTEGER NOT NULL DEFAULT 0,
         claimed_until INTEGER,
         acked_at INTEGER
     );
     CREATE INDEX verdicts_waiting ON verdicts (sequence) WHERE acked_at IS NULL;
     CREATE TABLE pending_creates (
         idempotency_key TEXT PRIMARY KEY,
         started_at INTEGER NOT NULL,
         record TEXT NOT NULL
     );
     CREATE TABLE budget (id INTEGER PRIMARY KEY CHECK (id = 1), next_free INTEGER NOT NULL);
     INSERT INTO budget (id, next_free) VALUES (1, 0);",
    // 2: kyc-axum's replay store (deliveries of a receiver used without the tracker).
    "CREATE TABLE receipts (
         key TEXT PRIMARY KEY,
         claim INTEGER NOT NULL,
         lease_until INTEGER,
         remember_until INTEGER
     );",
    // 3: a pending create is held by its sender until its answer is due, then by whoever resumes
    // it (NULL: free, as every create written before this version).
    "ALTER TABLE pending_creates ADD COLUMN held_until INTEGER;",
    // 4: receipts found by when they may be forgotten (their memory, or a dead claim's lease).
    "CREATE INDEX receipts_expiry ON receipts (COALESCE(remember_until, lease_until));",
];

/// The store in one SQLite file.
pub struct SqliteStore {
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

impl SqliteStore {
    /// Opens (creating when missing) the store in the file at `path`, and brings its schema up to
    /// date.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the file cannot be opened or migrated.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, StoreError> {
        let connection = Connection::open(path).map_err(db)?;
        Self::with(connection)
    }

    /// A store in memory (gone with the value), with the same SQL as a file: for tests.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when SQLite fails.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::with(Connection::open_in_memory().map_err(db)?)
    }

    fn with(mut connection: Connection) -> Result<Self, StoreError> {
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
            )
            .map_err(db)?;
        // Another process may hold the file for a moment (a restart overlapping the old one).
        connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(db)?;
        migrate(&mut connection)?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }

    /// Writes `records` (sessions not tracked yet) in one transaction: the import of another
    /// tracker's state, or a benchmark's population. A record already tracked is left as it is.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when SQLite fails (nothing was written).
    pub fn insert_many(&self, records: &[Tracked]) -> Result<usize, StoreError> {
        let mut connection = self.connection();
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let mut written = 0;
        {
            let mut statement = tx
                .prepare_cached(
                    "INSERT INTO sessions
                         (session_id, version, first_seen, next_poll, claimed_until, record)
                     VALUES (?1, ?2, ?3, ?4, NULL, ?5)
                     ON CONFLICT (session_id) DO NOTHING",
                )
                .map_err(db)?;
            for record in records {
                let text = serde_json::to_string(record).map_err(corrupt("session record"))?;
                written += statement
                    .execute(params![
                        record.session_id.as_str(),
                        i64::try_from(record.version).unwrap_or(i64::MAX),
                        ms(record.first_seen),
                        record.next_poll.map(ms),
                        text
                    ])
                    .map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(written)
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Applies the migrations the file has not seen, each in its own transaction with the version it
/// brings (`PRAGMA user_version`), so a crash mid-migration leaves the previous version whole.
fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    loop {
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(db)?;
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            return Ok(());
        };
        tx.execute_batch(step).map_err(db)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))
            .map_err(db)?;
        tx.commit().map_err(db)?;
    }
}

impl Store for SqliteStore {
    fn load(&self, session: &SessionId) -> Result<Option<Tracked>, StoreError> {
        let connection = self.connection();
        let text: Option<String> = connection
            .query_row(
                "SELECT record FROM sessions WHERE session_id = ?1",
                params![session.as_str()],
                |row| row.get(0),
            )
            .optional()
            .map_err(db)?;
        text.as_deref().map(tracked).transpose()
    }

    fn commit(&self, commit: &Commit) -> Result<Committed, StoreError> {
        let mut connection = self.connection();
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        if let Some(key) = &commit.delivery {
            let at = ms(commit.at.unwrap_or(UNIX_EPOCH));
            let inserted = tx
                .execute(
                    "INSERT INTO deliveries (key, received_at) VALUES (?1, ?2)
                     ON CONFLICT (key) DO NOTHING",
                    params![key, at],
                )
                .map_err(db)?;
            if inserted == 0 {
                return Ok(Committed::Duplicate);
            }
        }
        if let Some(record) = &commit.record {
            let text = serde_json::to_string(record).map_err(corrupt("session record"))?;
            let version = i64::try_from(record.version).unwrap_or(i64::MAX);
            let next_poll = record.next_poll.map(ms);
            let written = match commit.read_version {
                None => tx
                    .execute(
                        "INSERT INTO sessions
                             (session_id, version, first_seen, next_poll, claimed_until, record)
                         VALUES (?1, ?2, ?3, ?4, NULL, ?5)
                         ON CONFLICT (session_id) DO NOTHING",
                        params![
                            record.session_id.as_str(),
                            version,
                            ms(record.first_seen),
                            next_poll,
                            text
                        ],
                    )
                    .map_err(db)?,
                Some(read) => tx
                    .execute(
                        "UPDATE sessions
                         SET version = ?2, next_poll = ?3, claimed_until = NULL, record = ?4
                         WHERE session_id = ?1 AND version = ?5",
                        params![
                            record.session_id.as_str(),
                            version,
                            next_poll,
                            text,
                            i64::try_from(read).unwrap_or(i64::MAX)
                        ],
                    )
                    .map_err(db)?,
            };
            if written == 0 {
                // Dropping the transaction rolls back the delivery key too.
                return Ok(Committed::Conflict);
            }
        }
        if let Some(verdict) = &commit.verdict {
            let text = serde_json::to_string(verdict).map_err(corrupt("verdict"))?;
            tx.execute(
                "INSERT INTO verdicts (key, sequence, record)
                 VALUES (?1, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM verdicts), ?2)
                 ON CONFLICT (key) DO NOTHING",
                params![verdict.key, text],
            )
            .map_err(db)?;
        }
        if let Some(key) = &commit.finish_create {
            tx.execute(
                "DELETE FROM pending_creates WHERE idempotency_key = ?1",
                params![key],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(Committed::Done)
    }

    fn claim_due(
        &self,
        now: SystemTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Tracked>, StoreError> {
        let mut connection = self.connection();
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let rows: Vec<(String, String)> = {
            let mut statement = tx
                .prepare_cached(
                    "SELECT session_id, record FROM sessions
                     WHERE next_poll IS NOT NULL AND next_poll <= ?1
                       AND (claimed_until IS NULL OR claimed_until <= ?1)
                     ORDER BY next_poll LIMIT ?2",
                )
                .map_err(db)?;
            let found = statement
                .query_map(params![ms(now), self::limit(limit)], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .map_err(db)?;
            found.collect::<Result<_, _>>().map_err(db)?
        };
        let until = ms(add(now, lease));
        let mut out = Vec::with_capacity(rows.len());
        for (id, text) in rows {
            tx.execute(
                "UPDATE sessions SET claimed_until = ?2, next_poll = ?2 WHERE session_id = ?1",
                params![id, until],
            )
            .map_err(db)?;
            out.push(tracked(&text)?);
        }
        tx.commit().map_err(db)?;
        Ok(out)
    }

    fn next_due(&self) -> Result<Option<SystemTime>, StoreError> {
        let connection = self.connection();
        let next: Option<i64> = connection
            .query_row(
                "SELECT MIN(next_poll) FROM sessions WHERE next_poll IS NOT NULL",
                [],
                |row| row.get(0),
            )
            .map_err(db)?;
        Ok(next.map(from_ms))
    }

    fn take_poll(
        &self,
        now: SystemTime,
        polls_per_minute: u32,
    ) -> Result<Option<SystemTime>, StoreError> {
        let mut connection = self.connection();
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let next_free: i64 = tx
            .query_row("SELECT next_free FROM budget WHERE id = 1", [], |row| {
                row.get(0)
            })
            .map_err(db)?;
        let mut budget = PollBudget {
            next_free: from_ms(next_free),
        };
        if !budget.take(now, polls_per_minute) {
            return Ok(Some(budget.next_free));
        }
        tx.execute(
            "UPDATE budget SET next_free = ?1 WHERE id = 1",
            params![ms(budget.next_free)],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(None)
    }

    fn claim_verdicts(
        &self,
        now: SystemTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<VerdictRecord>, StoreError> {
        let mut connection = self.connection();
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let rows: Vec<(String, String, i64)> = {
            let mut statement = tx
                .prepare_cached(
                    "SELECT key, record, deliveries FROM verdicts
                     WHERE acked_at IS NULL AND (claimed_until IS NULL OR claimed_until <= ?1)
                     ORDER BY sequence LIMIT ?2",
                )
                .map_err(db)?;
            let found = statement
                .query_map(params![ms(now), self::limit(limit)], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .map_err(db)?;
            found.collect::<Result<_, _>>().map_err(db)?
        };
        let until = ms(add(now, lease));
        let mut out = Vec::with_capacity(rows.len());
        for (key, text, deliveries) in rows {
            tx.execute(
                "UPDATE verdicts SET claimed_until = ?2, deliveries = deliveries + 1
                 WHERE key = ?1",
                params![key, until],
            )
            .map_err(db)?;
            out.push(verdict(&text, deliveries.saturating_add(1))?);
        }
        tx.commit().map_err(db)?;
        Ok(out)
    }

    fn ack(&self, key: &str, now: SystemTime) -> Result<bool, StoreError> {
        let connection = self.connection();
        let changed = connection
            .execute(
                "UPDATE verdicts SET acked_at = ?2 WHERE key = ?1 AND acked_at IS NULL",
                params![key, ms(now)],
            )
            .map_err(db)?;
        Ok(changed > 0)
    }

    fn verdicts(&self, limit: usize) -> Result<Vec<(VerdictRecord, bool)>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT record, deliveries, acked_at IS NOT NULL FROM verdicts
                 ORDER BY sequence LIMIT ?1",
            )
            .map_err(db)?;
        let rows = statement
            .query_map(params![self::limit(limit)], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, bool>(2)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (text, deliveries, acked) = row.map_err(db)?;
            out.push((verdict(&text, deliveries)?, acked));
        }
        Ok(out)
    }

    fn list(&self, limit: usize) -> Result<Vec<Tracked>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT record FROM sessions ORDER BY first_seen DESC, session_id LIMIT ?1",
            )
            .map_err(db)?;
        let rows = statement
            .query_map(params![self::limit(limit)], |row| row.get::<_, String>(0))
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(tracked(&row.map_err(db)?)?);
        }
        Ok(out)
    }

    fn put_pending_create(
        &self,
        create: &PendingCreate,
        held_until: SystemTime,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(create).map_err(corrupt("pending create"))?;
        self.connection()
            .execute(
                "INSERT INTO pending_creates (idempotency_key, started_at, record, held_until)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (idempotency_key)
                 DO UPDATE SET record = excluded.record, held_until = excluded.held_until",
                params![
                    create.idempotency_key,
                    ms(create.started_at),
                    text,
                    ms(held_until)
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    fn claim_pending_creates(
        &self,
        now: SystemTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<PendingCreate>, StoreError> {
        let mut connection = self.connection();
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let rows: Vec<String> = {
            let mut statement = tx
                .prepare_cached(
                    "UPDATE pending_creates SET held_until = ?2
                     WHERE idempotency_key IN (
                         SELECT idempotency_key FROM pending_creates
                         WHERE held_until <= ?1 OR (held_until IS NULL AND started_at <= ?4)
                         ORDER BY started_at LIMIT ?3)
                     RETURNING record",
                )
                .map_err(db)?;
            // A create written by a version that did not hold creates (no `held_until`) counts
            // as held for one lease from its start: its sender may still be waiting.
            let unheld_since = ms(now.checked_sub(lease).unwrap_or(UNIX_EPOCH));
            let found = statement
                .query_map(
                    params![
                        ms(now),
                        ms(add(now, lease)),
                        self::limit(limit),
                        unheld_since
                    ],
                    |row| row.get(0),
                )
                .map_err(db)?;
            found.collect::<Result<_, _>>().map_err(db)?
        };
        tx.commit().map_err(db)?;
        let mut out = rows
            .iter()
            .map(|text| serde_json::from_str(text).map_err(corrupt("pending create")))
            .collect::<Result<Vec<PendingCreate>, StoreError>>()?;
        out.sort_by_key(|c| c.started_at);
        Ok(out)
    }

    fn pending_creates(&self) -> Result<Vec<PendingCreate>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached("SELECT record FROM pending_creates ORDER BY started_at")
            .map_err(db)?;
        let rows = statement
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let text = row.map_err(db)?;
            out.push(serde_json::from_str(&text).map_err(corrupt("pending create"))?);
        }
        Ok(out)
    }

    fn forget_deliveries(&self, before: SystemTime) -> Result<u64, StoreError> {
        let connection = self.connection();
        let removed = connection
            .execute(
                "DELETE FROM deliveries WHERE received_at < ?1",
                params![ms(before)],
            )
            .map_err(db)?;
        connection
            .execute(
                "DELETE FROM receipts WHERE remember_until < ?1
                    OR (remember_until IS NULL AND lease_until < ?1)",
                params![ms(before)],
            )
            .map_err(db)?;
        Ok(removed as u64)
    }
}

impl kyc_axum::ReplayStore for SqliteStore {
    fn begin(
        &self,
        key: &kyc_core::webhook::DeliveryKey,
        _signed_at: SystemTime,
        lease_until: SystemTime,
        now: SystemTime,
    ) -> Result<kyc_axum::Started, kyc_axum::ReplayStoreError> {
        let key = key.to_string();
        let claim = super::new_claim();
        let connection = self.connection();
        let fail = |e: rusqlite::Error| kyc_axum::ReplayStoreError(e.to_string());
        // Claimed unless handled and remembered, or claimed by a copy whose lease runs.
        let taken: Option<i64> = connection
            .query_row(
                "INSERT INTO receipts (key, claim, lease_until, remember_until)
                 VALUES (?1, ?2, ?3, NULL)
                 ON CONFLICT (key) DO UPDATE
                     SET claim = excluded.claim, lease_until = excluded.lease_until,
                         remember_until = NULL
                     WHERE (receipts.remember_until IS NULL OR receipts.remember_until <= ?4)
                       AND (receipts.lease_until IS NULL OR receipts.lease_until <= ?4)
                 RETURNING claim",
                params![key, claim, ms(lease_until), ms(now)],
                |row| row.get(0),
            )
            .optional()
            .map_err(fail)?;
        if super::time_to_prune() {
            // Best effort: a failure here leaves the rows for the next prune.
            let _ = connection.execute(
                "DELETE FROM receipts WHERE key IN (
                     SELECT key FROM receipts
                     WHERE COALESCE(remember_until, lease_until) < ?1 LIMIT ?2)",
                params![ms(now), super::RECEIPTS_PRUNED],
            );
        }
        if taken.is_some() {
            return Ok(kyc_axum::Started::New {
                claim: claim as u64,
            });
        }
        let remembered: Option<i64> = connection
            .query_row(
                "SELECT remember_until FROM receipts WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()
            .map_err(fail)?
            .flatten();
        Ok(not_new(remembered, now))
    }

    fn commit(
        &self,
        key: &kyc_core::webhook::DeliveryKey,
        claim: u64,
        _now: SystemTime,
        remember_until: SystemTime,
    ) -> Result<(), kyc_axum::ReplayStoreError> {
        self.connection()
            .execute(
                "UPDATE receipts SET remember_until = ?3, lease_until = NULL
                 WHERE key = ?1 AND claim = ?2",
                params![key.to_string(), claim as i64, ms(remember_until)],
            )
            .map(|_| ())
            .map_err(|e| kyc_axum::ReplayStoreError(e.to_string()))
    }

    fn abandon(
        &self,
        key: &kyc_core::webhook::DeliveryKey,
        claim: u64,
    ) -> Result<(), kyc_axum::ReplayStoreError> {
        self.connection()
            .execute(
                "DELETE FROM receipts WHERE key = ?1 AND claim = ?2 AND remember_until IS NULL",
                params![key.to_string(), claim as i64],
            )
            .map(|_| ())
            .map_err(|e| kyc_axum::ReplayStoreError(e.to_string()))
    }
}
