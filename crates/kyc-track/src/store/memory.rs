//! [`MemoryStore`]: the store's rules over maps behind one lock, for tests and short-lived
//! programs. Gone with the process.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use kyc_core::SessionId;
use kyc_core::track::{PendingCreate, PollBudget, Tracked};

use super::{Commit, Committed, Store, StoreError, VerdictRecord};
use kyc_core::later as add;

#[derive(Default)]
struct State {
    sessions: HashMap<String, (Tracked, Option<SystemTime>)>,
    deliveries: HashMap<String, SystemTime>,
    /// Verdicts by key, in insertion order: (record, sequence, claimed until, acknowledged).
    verdicts: BTreeMap<String, Outboxed>,
    sequence: u64,
    budget: PollBudget,
    /// Pending creates by key, with the time their holder holds them until.
    creates: BTreeMap<String, (PendingCreate, SystemTime)>,
}

struct Outboxed {
    record: VerdictRecord,
    sequence: u64,
    claimed_until: Option<SystemTime>,
    acked: bool,
}

/// The store in memory. Cheap to make; every method takes one lock.
#[derive(Default)]
pub struct MemoryStore(Mutex<State>);

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn load(&self, session: &SessionId) -> Result<Option<Tracked>, StoreError> {
        Ok(self
            .state()
            .sessions
            .get(session.as_str())
            .map(|(r, _)| r.clone()))
    }

    fn commit(&self, commit: &Commit) -> Result<Committed, StoreError> {
        let mut state = self.state();
        if let Some(key) = &commit.delivery {
            if state.deliveries.contains_key(key) {
                return Ok(Committed::Duplicate);
            }
        }
        if let Some(record) = &commit.record {
            let current = state
                .sessions
                .get(record.session_id.as_str())
                .map(|(r, _)| r.version);
            if current != commit.read_version {
                return Ok(Committed::Conflict);
            }
        }
        // Every check passed: write all of it.
        if let Some(key) = &commit.delivery {
            let at = commit.at.unwrap_or(SystemTime::UNIX_EPOCH);
            state.deliveries.insert(key.clone(), at);
        }
        if let Some(record) = &commit.record {
            state.sessions.insert(
                record.session_id.as_str().to_owned(),
                (record.clone(), None),
            );
        }
        if let Some(verdict) = &commit.verdict {
            if !state.verdicts.contains_key(&verdict.key) {
                state.sequence += 1;
                let sequence = state.sequence;
                state.verdicts.insert(
                    verdict.key.clone(),
                    Outboxed {
                        record: verdict.clone(),
                        sequence,
                        claimed_until: None,
                        acked: false,
                    },
                );
            }
        }
        if let Some(key) = &commit.finish_create {
            state.creates.remove(key);
        }
        Ok(Committed::Done)
    }

    fn claim_due(
        &self,
        now: SystemTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Tracked>, StoreError> {
        let mut state = self.state();
        let mut due: Vec<(SystemTime, String)> = state
            .sessions
            .iter()
            .filter_map(|(id, (r, claimed))| {
                let next = r.next_poll?;
                let free = claimed.is_none_or(|until| until <= now);
                (next <= now && free).then(|| (next, id.clone()))
            })
            .collect();
        due.sort();
        due.truncate(limit);
        let mut out = Vec::with_capacity(due.len());
        for (_, id) in due {
            if let Some((record, claimed)) = state.sessions.get_mut(&id) {
                *claimed = Some(add(now, lease));
                out.push(record.clone());
            }
        }
        Ok(out)
    }

    fn next_due(&self) -> Result<Option<SystemTime>, StoreError> {
        Ok(self
            .state()
            .sessions
            .values()
            .filter_map(|(r, claimed)| {
                Some(r.next_poll?.max(claimed.unwrap_or(SystemTime::UNIX_EPOCH)))
            })
            .min())
    }

    fn take_poll(
        &self,
        now: SystemTime,
        polls_per_minute: u32,
    ) -> Result<Option<SystemTime>, StoreError> {
        let mut state = self.state();
        if state.budget.take(now, polls_per_minute) {
            Ok(None)
        } else {
            Ok(Some(state.budget.next_free))
        }
    }

    fn claim_verdicts(
        &self,
        now: SystemTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<VerdictRecord>, StoreError> {
        let mut state = self.state();
        let mut free: Vec<(u64, String)> = state
            .verdicts
            .iter()
            .filter(|(_, o)| !o.acked && o.claimed_until.is_none_or(|until| until <= now))
            .map(|(key, o)| (o.sequence, key.clone()))
            .collect();
        free.sort();
        free.truncate(limit);
        let mut out = Vec::with_capacity(free.len());
        for (_, key) in free {
            if let Some(o) = state.verdicts.get_mut(&key) {
                o.claimed_until = Some(add(now, lease));
                o.record.deliveries = o.record.deliveries.saturating_add(1);
                out.push(o.record.clone());
            }
        }
        Ok(out)
    }

    fn ack(&self, key: &str, _now: SystemTime) -> Result<bool, StoreError> {
        let mut state = self.state();
        Ok(match state.verdicts.get_mut(key) {
            Some(o) if !o.acked => {
                o.acked = true;
                true
            }
            _ => false,
        })
    }

    fn verdicts(&self, limit: usize) -> Result<Vec<(VerdictRecord, bool)>, StoreError> {
        let state = self.state();
        let mut all: Vec<&Outboxed> = state.verdicts.values().collect();
        all.sort_by_key(|o| o.sequence);
        Ok(all
            .into_iter()
            .take(limit)
            .map(|o| (o.record.clone(), o.acked))
            .collect())
    }

    fn list(&self, limit: usize) -> Result<Vec<Tracked>, StoreError> {
        let state = self.state();
        let mut all: Vec<&Tracked> = state.sessions.values().map(|(r, _)| r).collect();
        all.sort_by(|a, b| {
            b.first_seen
                .cmp(&a.first_seen)
                .then_with(|| a.session_id.as_str().cmp(b.session_id.as_str()))
        });
        Ok(all.into_iter().take(limit).cloned().collect())
    }

    fn put_pending_create(
        &self,
        create: &PendingCreate,
        held_until: SystemTime,
    ) -> Result<(), StoreError> {
        self.state()
            .creates
            .insert(create.idempotency_key.clone(), (create.clone(), held_until));
        Ok(())
    }

    fn claim_pending_creates(
        &self,
        now: SystemTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<PendingCreate>, StoreError> {
        let mut state = self.state();
        let mut free: Vec<&mut (PendingCreate, SystemTime)> = state
            .creates
            .values_mut()
            .filter(|(_, held_until)| *held_until <= now)
            .collect();
        free.sort_by_key(|(c, _)| c.started_at);
        Ok(free
            .into_iter()
            .take(limit)
            .map(|(create, held_until)| {
                *held_until = add(now, lease);
                create.clone()
            })
            .collect())
    }

    fn pending_creates(&self) -> Result<Vec<PendingCreate>, StoreError> {
        let mut all: Vec<PendingCreate> = self
            .state()
            .creates
            .values()
            .map(|(c, _)| c.clone())
            .collect();
        all.sort_by_key(|c| c.started_at);
        Ok(all)
    }

    fn forget_deliveries(&self, before: SystemTime) -> Result<u64, StoreError> {
        let mut state = self.state();
        let was = state.deliveries.len();
        state.deliveries.retain(|_, at| *at >= before);
        Ok((was - state.deliveries.len()) as u64)
    }
}
