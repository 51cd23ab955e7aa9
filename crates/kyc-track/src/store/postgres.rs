//! [`PgStore`]: the store on PostgreSQL, shared by a fleet of trackers. Every rule of the store
//! holds across processes through the database alone: the delivery key is a primary key (a
//! redelivery landing on another replica is a duplicate there), a record is written only on the
//! version it was decided on, due polls and waiting verdicts are claimed with
//! `FOR UPDATE SKIP LOCKED` and a lease (a replica that dies holds nothing longer than its
//! lease), and the poll budget is one row updated atomically (the budget is the fleet's, not a
//! replica's). Migrations run under an advisory lock, so replicas starting together migrate once.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kyc_core::SessionId;
use kyc_core::later as add;
use kyc_core::track::{PendingCreate, PollBudget, Tracked};
use postgres::{Client, NoTls, Statement};

use super::rows::{corrupt, from_ms, limit, ms, not_new, tracked, verdict};
use super::{Commit, Committed, Store, StoreError, VerdictRecord};

/// The schema, one migration per version, each applied in its own transaction under the
/// migration lock.
const MIGRATIONS: &[&str] = &[
    // 1: sessions, deliveries, the outbox, pending creates, the poll budget.
    "CREATE TABLE sessions (
         session_id TEXT PRIMARY KEY,
         version BIGINT NOT NULL,
         first_seen BIGINT NOT NULL,
         next_poll BIGINT,
         claimed_until BIGINT,
         record TEXT NOT NULL
     );
     CREATE INDEX sessions_next_poll ON sessions (next_poll) WHERE next_poll IS NOT NULL;
     CREATE INDEX sessions_first_seen ON sessions (first_seen);
     CREATE TABLE deliveries (key TEXT PRIMARY KEY, received_at BIGINT NOT NULL);
     CREATE INDEX deliveries_received_at ON deliveries (received_at);
     CREATE TABLE verdicts (
         key TEXT PRIMARY KEY,
         sequence BIGSERIAL UNIQUE,
         record TEXT NOT NULL,
         deliveries INTEGER NOT NULL DEFAULT 0,
         claimed_until BIGINT,
         acked_at BIGINT
     );
     CREATE INDEX verdicts_waiting ON verdicts (sequence) WHERE acked_at IS NULL;
     CREATE TABLE pending_creates (
         idempotency_key TEXT PRIMARY KEY,
         started_at BIGINT NOT NULL,
         record TEXT NOT NULL
     );
     CREATE TABLE budget (id INTEGER PRIMARY KEY CHECK (id = 1), next_free BIGINT NOT NULL);
     INSERT INTO budget (id, next_free) VALUES (1, 0);",
    // 2: kyc-axum's replay store (deliveries of a receiver used without the tracker).
    "CREATE TABLE receipts (
         key TEXT PRIMARY KEY,
         claim BIGINT NOT NULL,
         lease_until BIGINT,
         remember_until BIGINT
     );",
    // 3: a pending create is held by its sender until its answer is due, then by whoever resumes
    // it (NULL: free, as every create written before this version).
    "ALTER TABLE pending_creates ADD COLUMN held_until BIGINT;",
    // 4: receipts found by when they may be forgotten (their memory, or a dead claim's lease).
    "CREATE INDEX receipts_expiry ON receipts ((COALESCE(remember_until, lease_until)));",
];

/// A new session's row; one already tracked is left as it is.
const INSERT_SESSION: &str = "INSERT INTO sessions
         (session_id, version, first_seen, next_poll, claimed_until, record)
     VALUES ($1, $2, $3, $4, NULL, $5)
     ON CONFLICT (session_id) DO NOTHING";

/// The key of the advisory lock migrations take (any constant of this project's).
const MIGRATION_LOCK: i64 = 0x6b79_635f_7472_6b01;

/// The most connections one store opens (a tracker's work is a handful of short transactions).
pub const DEFAULT_POOL_SIZE: usize = 4;

/// How long a caller waits for a free connection before the store reports an error.
const POOL_WAIT: Duration = Duration::from_secs(10);

/// The store on PostgreSQL.
pub struct PgStore {
    config: postgres::Config,
    schema: Option<String>,
    pool: Mutex<Pool>,
    returned: Condvar,
    size: usize,
}

#[derive(Default)]
struct Pool {
    idle: Vec<Conn>,
    open: usize,
}

impl Drop for PgStore {
    /// Closes the idle connections on a thread of their own: the client blocks on its own
    /// runtime while closing, which a thread driving async tasks must not do (a store is often
    /// dropped at the end of a tokio service).
    fn drop(&mut self) {
        let idle = std::mem::take(&mut self.pool().idle);
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configuration may hold a password: only the shape is shown.
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .field("pool_size", &self.size)
            .finish_non_exhaustive()
    }
}

/// The error PostgreSQL gave, with its SQLSTATE code and message (never the statement's
/// parameters: they may be personal data; PostgreSQL's detail line, which can quote a row's
/// values, is left out).
fn db(e: &postgres::Error) -> StoreError {
    StoreError::Database(match e.as_db_error() {
        Some(server) => format!("{} ({})", server.message(), server.code().code()),
        None => e.to_string(),
    })
}

/// Column `i` of `row` as a `T`: a column of another type (a schema changed by hand) is an
/// error, never a panic.
fn col<'a, T: postgres::types::FromSql<'a>>(
    row: &'a postgres::Row,
    i: usize,
) -> Result<T, StoreError> {
    row.try_get(i).map_err(|e| StoreError::Corrupt {
        what: "column",
        why: e.to_string(),
    })
}

/// A connection and the statements prepared on it: the store's frequent statements are parsed
/// once per connection, not once per call (a round trip each time otherwise).
struct Conn {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

/// A connection taken from the pool, given back when dropped (unless it broke).
struct Lease<'a> {
    store: &'a PgStore,
    conn: Option<Conn>,
}

impl Lease<'_> {
    fn conn(&mut self) -> Result<&mut Conn, StoreError> {
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::Database("no connection".into()))
    }

    fn client(&mut self) -> Result<&mut Client, StoreError> {
        Ok(&mut self.conn()?.client)
    }

    /// `sql` prepared on this connection (once: later calls find it prepared). A statement is
    /// the connection's, usable inside any transaction opened on it afterwards.
    fn prepare(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        let conn = self.conn()?;
        if let Some(statement) = conn.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = conn.client.prepare(sql).map_err(|e| db(&e))?;
        conn.prepared.insert(sql, statement.clone());
        Ok(statement)
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut pool = self.store.pool();
        match self.conn.take() {
            Some(conn) if !conn.client.is_closed() => pool.idle.push(conn),
            _ => pool.open = pool.open.saturating_sub(1),
        }
        drop(pool);
        self.store.returned.notify_one();
    }
}

impl PgStore {
    /// Runs `claim` (an `UPDATE … WHERE key IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …`:
    /// rows another replica is claiming right now are skipped, not waited for) and reads each
    /// row it returns with `read`, in one transaction: a row that cannot be read leaves every
    /// claim of the call untaken.
    fn claim<T>(
        &self,
        claim: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        read: impl Fn(&postgres::Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut connection = self.lease()?;
        let statement = connection.prepare(claim)?;
        let mut tx = connection.client()?.transaction().map_err(|e| db(&e))?;
        let rows = tx.query(&statement, params).map_err(|e| db(&e))?;
        let out = rows.iter().map(read).collect::<Result<Vec<T>, _>>()?;
        tx.commit().map_err(|e| db(&e))?;
        Ok(out)
    }

    /// Connects to the database at `url` (`postgres://user@host:port/database`, or a
    /// `host=... dbname=...` string) and brings its schema up to date.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the database cannot be reached or migrated;
    /// [`StoreError::UnknownLocation`] for a URL PostgreSQL does not read.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::connect(url, None)
    }

    /// As [`PgStore::open`], with every table in `schema` (created when missing): several
    /// independent trackers, or tests, in one database. `schema` is letters, digits and `_`.
    ///
    /// # Errors
    ///
    /// As [`PgStore::open`]; [`StoreError::UnknownLocation`] for another schema name.
    pub fn open_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        let valid = !schema.is_empty()
            && schema.len() <= 48
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(StoreError::UnknownLocation(format!("schema {schema:?}")));
        }
        Self::connect(url, Some(schema.to_owned()))
    }

    fn connect(url: &str, schema: Option<String>) -> Result<Self, StoreError> {
        let config: postgres::Config = url.parse().map_err(|_| {
            StoreError::UnknownLocation("a postgres URL that does not parse".into())
        })?;
        let store = Self {
            config,
            schema,
            pool: Mutex::new(Pool::default()),
            returned: Condvar::new(),
            size: DEFAULT_POOL_SIZE,
        };
        let mut lease = store.lease()?;
        migrate(lease.client()?, store.schema.as_deref())?;
        drop(lease);
        Ok(store)
    }

    fn pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection: an idle one, a new one while under the pool's size, or the next one given
    /// back (waiting at most 10 s).
    fn lease(&self) -> Result<Lease<'_>, StoreError> {
        let mut pool = self.pool();
        let deadline = std::time::Instant::now() + POOL_WAIT;
        loop {
            if let Some(conn) = pool.idle.pop() {
                return Ok(Lease {
                    store: self,
                    conn: Some(conn),
                });
            }
            if pool.open < self.size {
                pool.open += 1;
                drop(pool);
                return match self.new_client() {
                    Ok(client) => Ok(Lease {
                        store: self,
                        conn: Some(Conn {
                            client,
                            prepared: HashMap::new(),
                        }),
                    }),
                    Err(e) => {
                        self.pool().open -= 1;
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(StoreError::Database(
                    "no database connection free within 10 s".into(),
                ));
            }
            pool = self
                .returned
                .wait_timeout(pool, left)
                .map(|(pool, _)| pool)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    fn new_client(&self) -> Result<Client, StoreError> {
        let mut client = self.config.connect(NoTls).map_err(|e| db(&e))?;
        if let Some(schema) = &self.schema {
            client
                .batch_execute(&format!("SET search_path TO {schema}"))
                .map_err(|e| db(&e))?;
        }
        Ok(client)
    }

    /// Writes `records` (sessions not tracked yet) in one transaction (an import, or a
    /// benchmark's population); a record already tracked is left as it is.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when PostgreSQL fails (nothing was written).
    pub fn insert_many(&self, records: &[Tracked]) -> Result<usize, StoreError> {
        let mut lease = self.lease()?;
        let statement = lease.prepare(INSERT_SESSION)?;
        let mut tx = lease.client()?.transaction().map_err(|e| db(&e))?;
        let mut written = 0;
        for record in records {
            let text = serde_json::to_string(record).map_err(corrupt("session record"))?;
            written += tx
                .execute(
                    &statement,
                    &[
                        &record.session_id.as_str(),
                        &i64::try_from(record.version).unwrap_or(i64::MAX),
                        &ms(record.first_seen),
                        &record.next_poll.map(ms),
                        &text,
                    ],
                )
                .map_err(|e| db(&e))?;
        }
        tx.commit().map_err(|e| db(&e))?;
        Ok(usize::try_from(written).unwrap_or(usize::MAX))
    }

    /// The plan PostgreSQL chooses for the query that finds due sessions (`EXPLAIN`), to show
    /// that it reads the index on `next_poll`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when PostgreSQL fails.
    pub fn explain_due(&self, now: SystemTime) -> Result<String, StoreError> {
        let mut lease = self.lease()?;
        let client = lease.client()?;
        let rows = client
            .query(
                "EXPLAIN SELECT session_id, record FROM sessions
                 WHERE next_poll IS NOT NULL AND next_poll <= $1
                   AND (claimed_until IS NULL OR claimed_until <= $1)
                 ORDER BY next_poll LIMIT 64 FOR UPDATE SKIP LOCKED",
                &[&ms(now)],
            )
            .map_err(|e| db(&e))?;
        Ok(rows
            .iter()
            .map(|r| col::<String>(r, 0))
            .collect::<Result<Vec<_>, _>>()?
            .join("\n"))
    }
}

/// Applies the migrations the database has not seen, under an advisory lock held for the
/// transaction, so replicas starting at once migrate once.
/// Brings the schema up to date, one version per transaction, each under the migration lock;
/// the schema `schema` (the connection's search path) is created under the lock too: two
/// replicas creating it at once would otherwise collide in PostgreSQL's catalog.
fn migrate(client: &mut Client, schema: Option<&str>) -> Result<(), StoreError> {
    loop {
        let mut tx = client.transaction().map_err(|e| db(&e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(|e| db(&e))?;
        if let Some(schema) = schema {
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .map_err(|e| db(&e))?;
        }
        tx.batch_execute("CREATE TABLE IF NOT EXISTS kyc_track_schema (version INTEGER NOT NULL)")
            .map_err(|e| db(&e))?;
        let version: i32 = match tx
            .query_opt("SELECT version FROM kyc_track_schema", &[])
            .map_err(|e| db(&e))?
        {
            Some(row) => col(&row, 0)?,
            None => {
                tx.execute("INSERT INTO kyc_track_schema (version) VALUES (0)", &[])
                    .map_err(|e| db(&e))?;
                0
            }
        };
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            tx.commit().map_err(|e| db(&e))?;
            return Ok(());
        };
        tx.batch_execute(step).map_err(|e| db(&e))?;
        tx.execute(
            "UPDATE kyc_track_schema SET version = $1",
            &[&(version + 1)],
        )
        .map_err(|e| db(&e))?;
        tx.commit().map_err(|e| db(&e))?;
    }
}

impl Store for PgStore {
    fn load(&self, session: &SessionId) -> Result<Option<Tracked>, StoreError> {
        let mut lease = self.lease()?;
        let select = lease.prepare("SELECT record FROM sessions WHERE session_id = $1")?;
        let row = lease
            .client()?
            .query_opt(&select, &[&session.as_str()])
            .map_err(|e| db(&e))?;
        row.map(|r| tracked(&col::<String>(&r, 0)?)).transpose()
    }

    fn commit(&self, commit: &Commit) -> Result<Committed, StoreError> {
        let mut lease = self.lease()?;
        let insert_key = lease.prepare(
            "INSERT INTO deliveries (key, received_at) VALUES ($1, $2)
             ON CONFLICT (key) DO NOTHING",
        )?;
        let insert_session = lease.prepare(INSERT_SESSION)?;
        let update_session = lease.prepare(
            "UPDATE sessions SET version = $2, next_poll = $3, claimed_until = NULL, record = $4
             WHERE session_id = $1 AND version = $5",
        )?;
        let insert_verdict = lease.prepare(
            "INSERT INTO verdicts (key, record) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )?;
        let finish_create =
            lease.prepare("DELETE FROM pending_creates WHERE idempotency_key = $1")?;
        let mut tx = lease.client()?.transaction().map_err(|e| db(&e))?;
        if let Some(key) = &commit.delivery {
            let at = ms(commit.at.unwrap_or(UNIX_EPOCH));
            // A copy committing on another replica holds the key's index entry: this waits for
            // it, then finds the key taken.
            let inserted = tx.execute(&insert_key, &[key, &at]).map_err(|e| db(&e))?;
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
                        &insert_session,
                        &[
                            &record.session_id.as_str(),
                            &version,
                            &ms(record.first_seen),
                            &next_poll,
                            &text,
                        ],
                    )
                    .map_err(|e| db(&e))?,
                Some(read) => tx
                    .execute(
                        &update_session,
                        &[
                            &record.session_id.as_str(),
                            &version,
                            &next_poll,
                            &text,
                            &i64::try_from(read).unwrap_or(i64::MAX),
                        ],
                    )
                    .map_err(|e| db(&e))?,
            };
            if written == 0 {
                // Dropping the transaction rolls the delivery key back too.
                return Ok(Committed::Conflict);
            }
        }
        if let Some(verdict) = &commit.verdict {
            let text = serde_json::to_string(verdict).map_err(corrupt("verdict"))?;
            tx.execute(&insert_verdict, &[&verdict.key, &text])
                .map_err(|e| db(&e))?;
        }
        if let Some(key) = &commit.finish_create {
            tx.execute(&finish_create, &[key]).map_err(|e| db(&e))?;
        }
        tx.commit().map_err(|e| db(&e))?;
        Ok(Committed::Done)
    }

    fn claim_due(
        &self,
        now: SystemTime,
        lease: Duration,
        limit_to: usize,
    ) -> Result<Vec<Tracked>, StoreError> {
        // Rows another replica holds under a lease are not due for this one.
        let mut out = self.claim(
            "UPDATE sessions SET claimed_until = $2, next_poll = $2
             WHERE session_id IN (
                 SELECT session_id FROM sessions
                 WHERE next_poll IS NOT NULL AND next_poll <= $1
                   AND (claimed_until IS NULL OR claimed_until <= $1)
                 ORDER BY next_poll LIMIT $3
                 FOR UPDATE SKIP LOCKED)
             RETURNING record",
            &[&ms(now), &ms(add(now, lease)), &limit(limit_to)],
            |r| tracked(&col::<String>(r, 0)?),
        )?;
        out.sort_by_key(|r| r.next_poll);
        Ok(out)
    }

    fn next_due(&self) -> Result<Option<SystemTime>, StoreError> {
        let mut lease = self.lease()?;
        let select =
            lease.prepare("SELECT MIN(next_poll) FROM sessions WHERE next_poll IS NOT NULL")?;
        let row = lease
            .client()?
            .query_one(&select, &[])
            .map_err(|e| db(&e))?;
        Ok(col::<Option<i64>>(&row, 0)?.map(from_ms))
    }

    fn take_poll(
        &self,
        now: SystemTime,
        polls_per_minute: u32,
    ) -> Result<Option<SystemTime>, StoreError> {
        let mut lease = self.lease()?;
        // One row, updated only when its time has come: the fleet's budget, taken atomically.
        let take =
            lease.prepare("UPDATE budget SET next_free = $2 WHERE id = 1 AND next_free <= $1")?;
        let read = lease.prepare("SELECT next_free FROM budget WHERE id = 1")?;
        let client = lease.client()?;
        let mut budget = PollBudget { next_free: now };
        budget.take(now, polls_per_minute);
        let granted = client
            .execute(&take, &[&ms(now), &ms(budget.next_free)])
            .map_err(|e| db(&e))?;
        if granted == 1 {
            return Ok(None);
        }
        let row = client.query_one(&read, &[]).map_err(|e| db(&e))?;
        Ok(Some(from_ms(col(&row, 0)?)))
    }

    fn claim_verdicts(
        &self,
        now: SystemTime,
        lease: Duration,
        limit_to: usize,
    ) -> Result<Vec<VerdictRecord>, StoreError> {
        let mut out = self.claim(
            "UPDATE verdicts SET claimed_until = $2, deliveries = deliveries + 1
             WHERE key IN (
                 SELECT key FROM verdicts
                 WHERE acked_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $1)
                 ORDER BY sequence LIMIT $3
                 FOR UPDATE SKIP LOCKED)
             RETURNING sequence, record, deliveries",
            &[&ms(now), &ms(add(now, lease)), &limit(limit_to)],
            |r| {
                Ok((
                    col::<i64>(r, 0)?,
                    verdict(&col::<String>(r, 1)?, i64::from(col::<i32>(r, 2)?))?,
                ))
            },
        )?;
        out.sort_by_key(|(sequence, _)| *sequence);
        Ok(out.into_iter().map(|(_, v)| v).collect())
    }

    fn ack(&self, key: &str, now: SystemTime) -> Result<bool, StoreError> {
        let mut lease = self.lease()?;
        let changed = lease
            .client()?
            .execute(
                "UPDATE verdicts SET acked_at = $2 WHERE key = $1 AND acked_at IS NULL",
                &[&key, &ms(now)],
            )
            .map_err(|e| db(&e))?;
        Ok(changed > 0)
    }

    fn verdicts(&self, limit_to: usize) -> Result<Vec<(VerdictRecord, bool)>, StoreError> {
        let mut lease = self.lease()?;
        let rows = lease
            .client()?
            .query(
                "SELECT record, deliveries, acked_at IS NOT NULL FROM verdicts
                 ORDER BY sequence LIMIT $1",
                &[&limit(limit_to)],
            )
            .map_err(|e| db(&e))?;
        rows.iter()
            .map(|r| {
                Ok((
                    verdict(&col::<String>(r, 0)?, i64::from(col::<i32>(r, 1)?))?,
                    col::<bool>(r, 2)?,
                ))
            })
            .collect()
    }

    fn list(&self, limit_to: usize) -> Result<Vec<Tracked>, StoreError> {
        let mut lease = self.lease()?;
        let rows = lease
            .client()?
            .query(
                "SELECT record FROM sessions ORDER BY first_seen DESC, session_id LIMIT $1",
                &[&limit(limit_to)],
            )
            .map_err(|e| db(&e))?;
        rows.iter()
            .map(|r| tracked(&col::<String>(r, 0)?))
            .collect()
    }

    fn put_pending_create(
        &self,
        create: &PendingCreate,
        held_until: SystemTime,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(create).map_err(corrupt("pending create"))?;
        let mut lease = self.lease()?;
        lease
            .client()?
            .execute(
                "INSERT INTO pending_creates (idempotency_key, started_at, record, held_until)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (idempotency_key)
                 DO UPDATE SET record = excluded.record, held_until = excluded.held_until",
                &[
                    &create.idempotency_key,
                    &ms(create.started_at),
                    &text,
                    &ms(held_until),
                ],
            )
            .map_err(|e| db(&e))?;
        Ok(())
    }

    fn claim_pending_creates(
        &self,
        now: SystemTime,
        lease: Duration,
        limit_to: usize,
    ) -> Result<Vec<PendingCreate>, StoreError> {
        // A create written by a version that did not hold creates (no `held_until`) counts as
        // held for one lease from its start: its sender may still be waiting.
        let mut out: Vec<PendingCreate> = self.claim(
            "UPDATE pending_creates SET held_until = $2
             WHERE idempotency_key IN (
                 SELECT idempotency_key FROM pending_creates
                 WHERE held_until <= $1 OR (held_until IS NULL AND started_at <= $4)
                 ORDER BY started_at LIMIT $3
                 FOR UPDATE SKIP LOCKED)
             RETURNING record",
            &[
                &ms(now),
                &ms(add(now, lease)),
                &limit(limit_to),
                &ms(now.checked_sub(lease).unwrap_or(UNIX_EPOCH)),
            ],
            |r| serde_json::from_str(&col::<String>(r, 0)?).map_err(corrupt("pending create")),
        )?;
        out.sort_by_key(|c| c.started_at);
        Ok(out)
    }

    fn pending_creates(&self) -> Result<Vec<PendingCreate>, StoreError> {
        let mut lease = self.lease()?;
        let rows = lease
            .client()?
            .query(
                "SELECT record FROM pending_creates ORDER BY started_at",
                &[],
            )
            .map_err(|e| db(&e))?;
        rows.iter()
            .map(|r| serde_json::from_str(&col::<String>(r, 0)?).map_err(corrupt("pending create")))
            .collect()
    }

    fn forget_deliveries(&self, before: SystemTime) -> Result<u64, StoreError> {
        let mut lease = self.lease()?;
        let client = lease.client()?;
        let removed = client
            .execute(
                "DELETE FROM deliveries WHERE received_at < $1",
                &[&ms(before)],
            )
            .map_err(|e| db(&e))?;
        client
            .execute(
                "DELETE FROM receipts WHERE remember_until < $1
                    OR (remember_until IS NULL AND lease_until < $1)",
                &[&ms(before)],
            )
            .map_err(|e| db(&e))?;
        Ok(removed)
    }
}

impl kyc_axum::ReplayStore for PgStore {
    fn begin(
        &self,
        key: &kyc_core::webhook::DeliveryKey,
        _signed_at: SystemTime,
        lease_until: SystemTime,
        now: SystemTime,
    ) -> Result<kyc_axum::Started, kyc_axum::ReplayStoreError> {
        let fail = |e: StoreError| kyc_axum::ReplayStoreError(e.to_string());
        let key = key.to_string();
        let claim = super::new_claim();
        let mut lease = self.lease().map_err(fail)?;
        // One statement: a copy on another replica inserting the same key waits for this one,
        // then finds it claimed.
        let insert = lease
            .prepare(
                "INSERT INTO receipts (key, claim, lease_until, remember_until)
                 VALUES ($1, $2, $3, NULL)
                 ON CONFLICT (key) DO UPDATE
                     SET claim = excluded.claim, lease_until = excluded.lease_until,
                         remember_until = NULL
                     WHERE (receipts.remember_until IS NULL OR receipts.remember_until <= $4)
                       AND (receipts.lease_until IS NULL OR receipts.lease_until <= $4)
                 RETURNING claim",
            )
            .map_err(fail)?;
        let client = lease.client().map_err(fail)?;
        let taken = client
            .query_opt(&insert, &[&key, &claim, &ms(lease_until), &ms(now)])
            .map_err(|e| fail(db(&e)))?;
        if super::time_to_prune() {
            // Best effort: a failure here leaves the rows for the next prune; rows another
            // replica is pruning are skipped.
            let _ = client.execute(
                "DELETE FROM receipts WHERE key IN (
                     SELECT key FROM receipts
                     WHERE COALESCE(remember_until, lease_until) < $1
                     LIMIT $2 FOR UPDATE SKIP LOCKED)",
                &[&ms(now), &super::RECEIPTS_PRUNED],
            );
        }
        if taken.is_some() {
            return Ok(kyc_axum::Started::New {
                claim: claim as u64,
            });
        }
        let remembered: Option<i64> = client
            .query_opt(
                "SELECT remember_until FROM receipts WHERE key = $1",
                &[&key],
            )
            .map_err(|e| fail(db(&e)))?
            .map(|row| col::<Option<i64>>(&row, 0))
            .transpose()
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
        self.write_receipt(
            "UPDATE receipts SET remember_until = $3, lease_until = NULL
             WHERE key = $1 AND claim = $2",
            &[&key.to_string(), &(claim as i64), &ms(remember_until)],
        )
    }

    fn abandon(
        &self,
        key: &kyc_core::webhook::DeliveryKey,
        claim: u64,
    ) -> Result<(), kyc_axum::ReplayStoreError> {
        self.write_receipt(
            "DELETE FROM receipts WHERE key = $1 AND claim = $2 AND remember_until IS NULL",
            &[&key.to_string(), &(claim as i64)],
        )
    }
}

impl PgStore {
    /// One statement on `receipts` for kyc-axum's replay store, its failure as that store's.
    fn write_receipt(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<(), kyc_axum::ReplayStoreError> {
        let fail = |e: StoreError| kyc_axum::ReplayStoreError(e.to_string());
        let mut lease = self.lease().map_err(fail)?;
        lease
            .client()
            .map_err(fail)?
            .execute(sql, params)
            .map(|_| ())
            .map_err(|e| fail(db(&e)))
    }
}
