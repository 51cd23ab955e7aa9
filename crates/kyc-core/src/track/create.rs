//! Creates that survive a crash: the idempotency key is written before the request, and the
//! create is resumed after a crash without creating twice.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::record::millis;
use crate::model::{Session, SessionId};

/// A create that was sent, or about to be, and whose answer is not recorded yet. A store writes
/// it before the request leaves; it is removed once the session it created is tracked.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PendingCreate {
    /// The idempotency key every attempt carries, before and after a crash.
    pub idempotency_key: String,
    /// The person or company the session verifies (the `user_id`, or the company id of a KYB
    /// create): what a search filters by to find a session whose create answer was lost.
    pub subject: String,
    /// The create's request, as JSON (the create types read it back), to send it again.
    pub request: serde_json::Value,
    /// When it was first written (this machine's clock).
    #[serde(with = "millis")]
    pub started_at: SystemTime,
    /// How many times it was resumed after its first send ([`PendingCreate::count_resume`]).
    pub attempts: u32,
}

/// The request holds the person's data (names, document numbers): `Debug` shows only its size.
impl std::fmt::Debug for PendingCreate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let members = self.request.as_object().map_or(0, serde_json::Map::len);
        f.debug_struct("PendingCreate")
            .field("idempotency_key", &self.idempotency_key)
            .field("subject", &self.subject)
            .field("request", &format_args!("[redacted, {members} members]"))
            .field("started_at", &self.started_at)
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl PendingCreate {
    /// A create of a session for `subject` under `idempotency_key`, about to be sent at `now`.
    #[must_use]
    pub fn new(
        idempotency_key: impl Into<String>,
        subject: impl Into<String>,
        request: serde_json::Value,
        now: SystemTime,
    ) -> Self {
        Self {
            idempotency_key: idempotency_key.into(),
            subject: subject.into(),
            request,
            started_at: now,
            attempts: 0,
        }
    }
}

impl PendingCreate {
    /// Counts one more resume at `now`, and says whether to give the create up instead: it was
    /// resumed `max_attempts` times already, or is older than `give_up_after`. Resuming is
    /// bounded by count and by time, whatever the server answers.
    pub fn count_resume(
        &mut self,
        now: SystemTime,
        max_attempts: u32,
        give_up_after: Duration,
    ) -> bool {
        self.attempts = self.attempts.saturating_add(1);
        let too_old = now
            .duration_since(self.started_at)
            .is_ok_and(|age| age > give_up_after);
        self.attempts > max_attempts || too_old
    }
}

/// What to do with a [`PendingCreate`] found after a restart.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Resume {
    /// The session exists (a search found it): track it, send nothing.
    Adopt(SessionId),
    /// Nothing found: send the create again, under the same idempotency key.
    SendAgain,
}

/// How far before `started_at` a session may have been created by this create: the server's
/// clock and this machine's may differ this much.
pub const CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Decides how to resume `pending` after a crash, from the subject's sessions a search found
/// (`filter[user_id]`): a session of the subject created no earlier than the create was started
/// (less [`CLOCK_SKEW_MARGIN`]) and not `taken` by another create is the one the lost answer
/// named, and is adopted (the earliest such, if several); otherwise the create is sent again
/// under the same key. `taken` says which sessions a create already named (their record's
/// [`Tracked::from_create`](super::Tracked::from_create)): a create's answer is recorded in the
/// same commit that completes it, so such a session is another create's, and two pending
/// creates of one subject adopt two sessions, not one. A session tracked only because a webhook
/// or a poll spoke of it is not taken: it may well be this create's lost answer. Sessions whose creation time is unknown are not
/// adopted: a key honoured by the server then prevents the double, and where the server ignores
/// keys nothing else can tell.
#[must_use]
pub fn resume_create(
    pending: &PendingCreate,
    found: &[Session],
    taken: impl Fn(&SessionId) -> bool,
) -> Resume {
    let since = pending
        .started_at
        .checked_sub(CLOCK_SKEW_MARGIN)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    found
        .iter()
        .filter(|s| {
            s.user_id.as_deref() == Some(pending.subject.as_str())
                || s.company_id.as_deref() == Some(pending.subject.as_str())
        })
        .filter(|s| !taken(&s.id))
        .filter_map(|s| {
            let created = s.created_at.as_ref()?.to_system_time()?;
            (created >= since).then_some((created, &s.id))
        })
        .min_by_key(|(created, _)| *created)
        .map_or(Resume::SendAgain, |(_, id)| Resume::Adopt(id.clone()))
}
