//! [`Tracker`]: kyc-core's tracking rules carried out over a [`Store`] and a kyc-reqwest client,
//! on tokio.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kyc_core::track::{
    Decision, Input, Observation, Origin, PendingCreate, Resume, TrackSettings, decide,
    resume_create,
};
use kyc_core::webhook::Event;
use kyc_core::{
    Fault, GetSession, IdempotencyKey, SearchSessions, SessionCreated, SessionId, Sort,
};

use crate::create::Create;
use crate::store::{Commit, Committed, Store, StoreError, VerdictRecord};

/// How many times an input is decided again when its record moved under it (another input for
/// the same session committed first).
const COMMIT_ATTEMPTS: u32 = 16;

/// Why a tracker could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackError {
    /// The store failed: nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The API call failed (its fault says how; a create's error carries its key).
    #[error(transparent)]
    Call(#[from] kyc_core::CallError),
    /// A record kept changing under the input: written by others faster than it could be
    /// decided (16 times).
    #[error("the session {0} kept changing; the input was not applied")]
    Contended(SessionId),
    /// A stored pending create could not be read back.
    #[error("a stored create could not be read: {0}")]
    Stored(String),
    /// The blocking store call did not finish (its thread panicked or the runtime is shutting
    /// down).
    #[error("the store call was interrupted")]
    Interrupted,
    /// The create succeeded but the session it made could not be recorded as tracked (or it is
    /// not known whether it was: an interrupted store call): the create stays pending under its
    /// key unless that call did commit, and a tracker resuming it adopts that session. Do not
    /// create it again under a new key.
    #[error("session {session_id} was created but not recorded: {source}")]
    Unrecorded {
        /// The session the create made.
        session_id: SessionId,
        /// The create's idempotency key, under which it stays pending.
        idempotency_key: String,
        /// Why it could not be recorded.
        source: Box<TrackError>,
    },
}

/// What became of a webhook given to [`Tracker::ingest`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ingested {
    /// Applied and committed; the verdict it reached, if any, is in the outbox.
    Applied {
        /// The verdict reached by this delivery.
        verdict: Option<VerdictRecord>,
    },
    /// The same delivery was applied before: nothing changed.
    Duplicate,
    /// Not a session's status (a required-file notice, another event): only its key was kept.
    Ignored,
}

/// What one [`Tracker::tick`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TickReport {
    /// Sessions polled.
    pub polled: usize,
    /// Verdicts reached by those polls.
    pub verdicts: usize,
    /// Polls that got no usable answer.
    pub failed: usize,
    /// When there will be something to do again (the next due poll, or the budget's next slot),
    /// if anything is tracked.
    pub next: Option<SystemTime>,
}

/// Tunables of a tracker's loops (the tracking rules themselves are [`TrackSettings`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackerOptions {
    /// How long a claimed poll is held before another tracker may take it (should exceed a
    /// poll's own timeout). Default 5 min.
    pub poll_lease: Duration,
    /// How long a claimed verdict is held before it is handed over again. Default 60 s.
    pub verdict_lease: Duration,
    /// The most polls one tick makes. Default 64.
    pub polls_per_tick: usize,
    /// How long delivery keys are kept (a redelivery older than that is refused as stale by the
    /// verifier anyway). Default 30 days.
    pub delivery_memory: Duration,
    /// How long a create is held by the tracker sending it (or resuming it) before another may
    /// resume it: longer than its calls may take with their retries (a resume searches, then
    /// may send: two calls of at most the client's overall timeout, 180 s by default, each).
    /// Default 10 min.
    pub create_lease: Duration,
    /// How often [`Tracker::run`] looks for creates whose sender died before recording their
    /// answer. Default 30 s.
    pub resume_every: Duration,
    /// How many times a pending create is resumed before it is given up (kept in the store,
    /// never resumed again by itself; see [`Resumed::gave_up`]). A create is also given up once
    /// older than [`TrackSettings::give_up_after`]. Default 20.
    pub create_attempts: u32,
}

/// The most pending creates one [`Tracker::resume_creates`] takes.
const CREATES_PER_ROUND: usize = 16;

/// What one [`Tracker::resume_creates`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Resumed {
    /// The sessions found (adopted) or created again, now tracked.
    pub sessions: Vec<SessionId>,
    /// The creates that failed this time (their idempotency key, and why): still pending, they
    /// are taken again after [`TrackerOptions::create_lease`].
    pub failed: Vec<(String, TrackError)>,
    /// The creates given up this time (their idempotency key): resumed
    /// [`TrackerOptions::create_attempts`] times, or older than
    /// [`TrackSettings::give_up_after`]. They stay in the store
    /// ([`Store::pending_creates`]) for someone to look at, and are not resumed again.
    pub gave_up: Vec<String>,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        Self {
            poll_lease: Duration::from_secs(300),
            verdict_lease: Duration::from_secs(60),
            polls_per_tick: 64,
            delivery_memory: Duration::from_secs(30 * 24 * 3600),
            create_lease: Duration::from_secs(600),
            resume_every: Duration::from_secs(30),
            create_attempts: 20,
        }
    }
}

/// Follows sessions to their verdicts: creates (crash-safe), webhooks, polls and the outbox,
/// each input one transaction in the store. Cheap to clone; clones share the store and the
/// client.
#[derive(Clone)]
pub struct Tracker {
    client: kyc_reqwest::Client,
    store: Arc<dyn Store>,
    settings: Arc<TrackSettings>,
    options: Arc<TrackerOptions>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("settings", &self.settings)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn now() -> SystemTime {
    SystemTime::now()
}

impl Tracker {
    /// A tracker calling Pomelo through `client` and keeping its state in `store`, with
    /// `settings` as its rules and default [`TrackerOptions`].
    pub fn new(
        client: kyc_reqwest::Client,
        store: Arc<dyn Store>,
        settings: TrackSettings,
    ) -> Self {
        Self::with_options(client, store, settings, TrackerOptions::default())
    }

    /// As [`Tracker::new`], with `options`.
    pub fn with_options(
        client: kyc_reqwest::Client,
        store: Arc<dyn Store>,
        settings: TrackSettings,
        options: TrackerOptions,
    ) -> Self {
        Self {
            client,
            store,
            settings: Arc::new(settings),
            options: Arc::new(options),
        }
    }

    /// The rules this tracker follows.
    #[must_use]
    pub fn settings(&self) -> &TrackSettings {
        &self.settings
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Runs `f` on the store on a blocking thread.
    async fn on_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, TrackError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|_| TrackError::Interrupted)?
            .map_err(TrackError::from)
    }

    /// Decides `input` against the stored record and commits the decision with `delivery`,
    /// again (bounded) while the record moves under it.
    async fn apply(
        &self,
        input: Input,
        delivery: Option<String>,
        finish_create: Option<String>,
    ) -> Result<(Committed, Decision), TrackError> {
        let settings = self.settings.clone();
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            apply(&*store, &input, &settings, delivery, finish_create, now)
        })
        .await
        .map_err(|_| TrackError::Interrupted)?
    }

    /// Creates a session and tracks it, so that its verdict reaches the application even if
    /// every webhook is lost, and a crash cannot create it twice: the create and its idempotency
    /// key (the caller's, or one drawn here) are written to the store before the request leaves;
    /// a create whose answer was lost is resumed by [`Tracker::resume_creates`] (which
    /// [`Tracker::run`] calls every [`TrackerOptions::resume_every`]) once
    /// [`TrackerOptions::create_lease`] has passed, under the same key, or adopted if a search
    /// finds it.
    ///
    /// # Errors
    ///
    /// [`TrackError::Store`] when the create could not be written (nothing was sent);
    /// [`TrackError::Call`] when Pomelo refused it (then it is forgotten) or when no answer came
    /// (then it stays pending, to be resumed; the error carries its key);
    /// [`TrackError::Unrecorded`] when the session was created but could not be recorded (it
    /// stays pending, to be adopted).
    pub async fn create(&self, create: impl Into<Create>) -> Result<SessionCreated, TrackError> {
        let create = create.into();
        let key = match create.key() {
            Some(key) => key.clone(),
            None => kyc_reqwest::new_idempotency_key()?,
        };
        let create = create.with_key(key.clone());
        let pending = PendingCreate::new(key.as_str(), create.subject(), create.to_json()?, now());
        let held_until = kyc_core::later(now(), self.options.create_lease);
        self.on_store(move |store| store.put_pending_create(&pending, held_until))
            .await?;
        self.send_create(&create, &key).await
    }

    /// Sends a create whose pending record is stored, and tracks what it made.
    async fn send_create(
        &self,
        create: &Create,
        key: &IdempotencyKey,
    ) -> Result<SessionCreated, TrackError> {
        let sent = match create {
            Create::Kyc(c) => self.client.execute(c).await,
            Create::Kyb(c) => self.client.execute(c).await,
            Create::Additional(c) => self.client.execute(c).await,
        };
        match sent {
            Ok(created) => {
                let input = Input::Follow {
                    session_id: created.id.clone(),
                    subject: Some(create.subject().to_owned()),
                    expiration_at: created
                        .expiration_at
                        .as_ref()
                        .and_then(kyc_core::Timestamp::to_system_time),
                    origin: Origin::Created,
                };
                match self.apply(input, None, Some(key.as_str().to_owned())).await {
                    Ok(_) => Ok(created),
                    Err(e) => Err(TrackError::Unrecorded {
                        session_id: created.id,
                        idempotency_key: key.as_str().to_owned(),
                        source: Box::new(e),
                    }),
                }
            }
            Err(error) => {
                if refused_for_good(&error) {
                    // Pomelo answered and refused: nothing was created, nothing to resume.
                    let key = key.as_str().to_owned();
                    self.on_store(move |store| {
                        let commit = Commit {
                            finish_create: Some(key),
                            ..Commit::default()
                        };
                        store.commit(&commit).map(|_| ())
                    })
                    .await?;
                }
                Err(error.into())
            }
        }
    }

    /// Resumes the creates whose sender died (or gave up waiting) before recording an answer:
    /// up to 16 pending creates no tracker holds, one at a time, each held for
    /// [`TrackerOptions::create_lease`] while it is resumed, adopted when a search by its subject finds the session its lost
    /// answer named (see [`resume_create`]), or sent again under the same key. A create that
    /// fails is reported in [`Resumed::failed`] and does not stop the others.
    ///
    /// # Errors
    ///
    /// [`TrackError::Store`] when the pending creates could not be claimed.
    pub async fn resume_creates(&self) -> Result<Resumed, TrackError> {
        let lease = self.options.create_lease;
        let mut report = Resumed::default();
        for _ in 0..CREATES_PER_ROUND {
            // One at a time, each claimed as its turn comes: a lease covers one create's search
            // and send, not a batch's.
            let at = now();
            let claimed = self
                .on_store(move |store| store.claim_pending_creates(at, lease, 1))
                .await?;
            let Some(mut create) = claimed.into_iter().next() else {
                break;
            };
            // Bounded by count and by time: each resume is counted in the stored create first.
            let give_up = create.count_resume(
                at,
                self.options.create_attempts,
                self.settings.give_up_after,
            );
            let held_until = if give_up {
                kyc_core::far_future()
            } else {
                kyc_core::later(at, lease)
            };
            let counted = create.clone();
            self.on_store(move |store| store.put_pending_create(&counted, held_until))
                .await?;
            if give_up {
                report.gave_up.push(create.idempotency_key);
                continue;
            }
            match self.resume_create(&create).await {
                Ok(session_id) => report.sessions.push(session_id),
                Err(e) => report.failed.push((create.idempotency_key, e)),
            }
        }
        Ok(report)
    }

    /// Resumes one claimed create.
    async fn resume_create(&self, create: &PendingCreate) -> Result<SessionId, TrackError> {
        // Newest first: the lost answer is among the subject's latest sessions.
        let search = SearchSessions::new()
            .user_id(create.subject.as_str())
            .sort(Sort::desc("created_at"));
        let found = self.client.execute(&search).await?;
        let ids: Vec<SessionId> = found.sessions.iter().map(|s| s.id.clone()).collect();
        // Sessions another create named already (not those tracked from a webhook only: this
        // create's lost answer may be one of them).
        let taken = self
            .on_store(move |store| {
                let mut taken = HashSet::new();
                for id in ids {
                    if store.load(&id)?.is_some_and(|r| r.from_create) {
                        taken.insert(id);
                    }
                }
                Ok(taken)
            })
            .await?;
        match resume_create(create, &found.sessions, |id| taken.contains(id)) {
            Resume::Adopt(session_id) => {
                let input = Input::Follow {
                    session_id: session_id.clone(),
                    subject: Some(create.subject.clone()),
                    expiration_at: None,
                    origin: Origin::Search,
                };
                self.apply(input, None, Some(create.idempotency_key.clone()))
                    .await?;
                Ok(session_id)
            }
            _ => {
                let key = IdempotencyKey::new(create.idempotency_key.as_str())
                    .map_err(|e| TrackError::Stored(e.to_string()))?;
                let typed = Create::from_json(&create.request)?.with_key(key.clone());
                Ok(self.send_create(&typed, &key).await?.id)
            }
        }
    }

    /// Starts tracking an existing session (created elsewhere): it is polled after the quiet
    /// period unless a webhook comes first.
    ///
    /// # Errors
    ///
    /// [`TrackError::Store`] when it could not be written.
    pub async fn follow(&self, session_id: impl Into<SessionId>) -> Result<(), TrackError> {
        let input = Input::Follow {
            session_id: session_id.into(),
            subject: None,
            expiration_at: None,
            origin: Origin::Followed,
        };
        self.apply(input, None, None).await.map(|_| ())
    }

    /// Applies a verified webhook delivery: its effect, its dedup key `delivery` and the verdict
    /// it reaches commit together. Answer the delivery `2xx` only when this returns `Ok`; on an
    /// error answer `5xx`, so that Pomelo delivers it again.
    ///
    /// # Errors
    ///
    /// [`TrackError::Store`] or [`TrackError::Contended`]: nothing was written.
    pub async fn ingest(&self, event: &Event, delivery: String) -> Result<Ingested, TrackError> {
        let Event::ValidationSession(notification) = event else {
            // Only the key: the same notice again is a duplicate, and nothing else changes.
            let committed = self
                .on_store(move |store| {
                    let commit = Commit {
                        delivery: Some(delivery),
                        at: Some(now()),
                        ..Commit::default()
                    };
                    store.commit(&commit)
                })
                .await?;
            return Ok(match committed {
                Committed::Duplicate => Ingested::Duplicate,
                _ => Ingested::Ignored,
            });
        };
        let input = Input::Observed(Observation::from_notification(notification));
        let (committed, decision) = self.apply(input, Some(delivery), None).await?;
        Ok(match committed {
            Committed::Duplicate => Ingested::Duplicate,
            _ => Ingested::Applied {
                verdict: match (&decision.record, decision.verdict) {
                    (Some(record), Some(verdict)) => Some(VerdictRecord::of(record, verdict)),
                    _ => None,
                },
            },
        })
    }

    /// One reconciliation pass: polls the sessions due now, within the poll budget and at most
    /// [`TrackerOptions::polls_per_tick`] of them, and applies each answer. Bounded by count and,
    /// through the client's timeouts, by time.
    ///
    /// # Errors
    ///
    /// [`TrackError::Store`] when the store fails (the claims lapse, another tick takes them).
    pub async fn tick(&self) -> Result<TickReport, TrackError> {
        let mut report = TickReport::default();
        let (lease, limit) = (self.options.poll_lease, self.options.polls_per_tick);
        let per_minute = self.settings.polls_per_minute;
        while report.polled < limit {
            // The budget first: a claim the budget cannot serve would only wait in its lease.
            let at = now();
            if let Some(next_free) = self
                .on_store(move |store| store.take_poll(at, per_minute))
                .await?
            {
                report.next = Some(next_free);
                return Ok(report);
            }
            let claimed = self
                .on_store(move |store| store.claim_due(at, lease, 1))
                .await?;
            let Some(record) = claimed.into_iter().next() else {
                break;
            };
            report.polled += 1;
            let input = match self
                .client
                .execute(&GetSession::new(record.session_id.clone()))
                .await
            {
                Ok(session) => match Observation::from_session(&session, Origin::Poll) {
                    Some(mut observation) => {
                        // The answer is about the session asked for, whatever id it spells.
                        observation.session_id = record.session_id.clone();
                        Input::Observed(observation)
                    }
                    None => Input::PollFailed {
                        session_id: record.session_id.clone(),
                    },
                },
                Err(e) if e.status() == Some(kyc_core::http::StatusCode::NOT_FOUND) => {
                    Input::NotFound {
                        session_id: record.session_id.clone(),
                    }
                }
                Err(_) => {
                    report.failed += 1;
                    Input::PollFailed {
                        session_id: record.session_id.clone(),
                    }
                }
            };
            let (_, decision) = self.apply(input, None, None).await?;
            report.verdicts += usize::from(decision.verdict.is_some());
        }
        report.next = self.on_store(|store| store.next_due()).await?;
        Ok(report)
    }

    /// Verdicts waiting for the application, at most `limit`, each held for this caller for
    /// [`TrackerOptions::verdict_lease`]: acknowledge each with [`Tracker::ack`] once its effect
    /// is committed; one not acknowledged is handed over again after the lease.
    ///
    /// # Errors
    ///
    /// [`TrackError::Store`] when the store fails.
    pub async fn next_verdicts(&self, limit: usize) -> Result<Vec<VerdictRecord>, TrackError> {
        let lease = self.options.verdict_lease;
        self.on_store(move |store| store.claim_verdicts(now(), lease, limit))
            .await
    }

    /// Acknowledges the verdict `key`: it is not handed over again.
    ///
    /// # Errors
    ///
    /// [`TrackError::Store`] when the store fails.
    pub async fn ack(&self, key: &str) -> Result<bool, TrackError> {
        let key = key.to_owned();
        self.on_store(move |store| store.ack(&key, now())).await
    }

    /// The push form of the outbox: hands waiting verdicts, at most `limit`, to `handler` one at
    /// a time (each claimed just before it is handed over, so a slow handler cannot outlast the
    /// claims of the ones after it) and acknowledges each when the handler succeeds (a failed
    /// one is handed over again after the lease). Returns how many were acknowledged. At least once: key the handler's effect on
    /// [`VerdictRecord::key`] to make it exactly once.
    ///
    /// # Errors
    ///
    /// [`TrackError::Store`] when the store fails.
    pub async fn deliver<F, Fut, E>(
        &self,
        limit: usize,
        mut handler: F,
    ) -> Result<usize, TrackError>
    where
        F: FnMut(VerdictRecord) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let mut acked = 0;
        for _ in 0..limit {
            let Some(verdict) = self.next_verdicts(1).await?.into_iter().next() else {
                break;
            };
            let key = verdict.key.clone();
            if handler(verdict).await.is_ok() && self.ack(&key).await? {
                acked += 1;
            }
        }
        Ok(acked)
    }

    /// Runs the reconciliation loop until `stop` completes: [`Tracker::tick`], then a sleep until
    /// the next due poll (at most `idle`, at least 10 ms), resuming creates whose sender died
    /// ([`Tracker::resume_creates`]) at start and every [`TrackerOptions::resume_every`], and
    /// forgetting old delivery keys once an hour. Store or poll failures are retried at the next round.
    pub async fn run(&self, idle: Duration, stop: impl Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        let mut forgot_at: Option<SystemTime> = None;
        let mut resumed_at: Option<SystemTime> = None;
        loop {
            // The round's work races `stop`: a stop is not held up by a slow Pomelo (what was
            // claimed and not finished is taken again after its lease).
            let round = async {
                let at = now();
                if resumed_at.is_none_or(|t| {
                    at.duration_since(t).unwrap_or_default() >= self.options.resume_every
                }) && self.resume_creates().await.is_ok()
                {
                    resumed_at = Some(at);
                }
                if forgot_at.is_none_or(|t| {
                    at.duration_since(t).unwrap_or_default() > Duration::from_secs(3600)
                }) {
                    let memory = self.options.delivery_memory;
                    let before = at.checked_sub(memory).unwrap_or(SystemTime::UNIX_EPOCH);
                    if self
                        .on_store(move |store| store.forget_deliveries(before))
                        .await
                        .is_ok()
                    {
                        forgot_at = Some(at);
                    }
                }
                match self.tick().await {
                    Ok(report) => report
                        .next
                        .and_then(|next| next.duration_since(now()).ok())
                        .unwrap_or(if report.next.is_some() {
                            Duration::ZERO
                        } else {
                            idle
                        })
                        .clamp(
                            Duration::from_millis(10),
                            idle.max(Duration::from_millis(10)),
                        ),
                    Err(_) => idle.max(Duration::from_millis(10)),
                }
            };
            let wait = tokio::select! {
                () = &mut stop => return,
                wait = round => wait,
            };
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// Applies `input` to the store, blocking: reads the session's record, decides with kyc-core's
/// rules at `clock()`, and commits the decision with `delivery` and `finish_create`, in one
/// transaction; reads and decides again while the record moves under it (at most 16 times). What
/// a [`Tracker`] does for every input, for programs that drive a store themselves (`kyc track
/// add`).
///
/// # Errors
///
/// [`TrackError::Store`] or [`TrackError::Contended`]: nothing was written.
pub fn apply(
    store: &dyn Store,
    input: &Input,
    settings: &TrackSettings,
    delivery: Option<String>,
    finish_create: Option<String>,
    clock: impl Fn() -> SystemTime,
) -> Result<(Committed, Decision), TrackError> {
    for _ in 0..COMMIT_ATTEMPTS {
        let current = store.load(input.session_id())?;
        let at = clock();
        let decision = decide(current.as_ref(), input, at, settings);
        let mut commit = Commit::default();
        commit.delivery.clone_from(&delivery);
        commit.finish_create.clone_from(&finish_create);
        commit.at = Some(at);
        commit.read_version = current.as_ref().map(|c| c.version);
        if decision.changed {
            commit.record.clone_from(&decision.record);
        }
        if let (Some(record), Some(verdict)) = (&decision.record, &decision.verdict) {
            commit.verdict = Some(VerdictRecord::of(record, verdict.clone()));
        }
        match store.commit(&commit)? {
            Committed::Conflict => continue,
            done => return Ok((done, decision)),
        }
    }
    Err(TrackError::Contended(input.session_id().clone()))
}

/// Whether a create's failure means Pomelo answered and created nothing (a `4xx` other than
/// `408`, `425` and `429`, or refused input), so it need not be resumed.
fn refused_for_good(error: &kyc_core::CallError) -> bool {
    match &error.fault {
        Fault::InvalidInput(_) => true,
        Fault::Api(api) => {
            api.status.is_client_error() && !matches!(api.status.as_u16(), 408 | 425 | 429)
        }
        _ => false,
    }
}
