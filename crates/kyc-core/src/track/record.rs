//! The record of one tracked session: what is known of it, where that came from, its verdict
//! once reached, and when to poll it next.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::enums::SessionStatus;
use crate::model::SessionId;
use crate::secret::Redacted;

/// How many status changes a record keeps (the oldest are dropped first).
pub(crate) const MAX_HISTORY: usize = 32;
/// How many conflicts a record keeps (the oldest are dropped first).
pub(crate) const MAX_CONFLICTS: usize = 8;

/// Where a piece of knowledge about a session came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Origin {
    /// The session was created through the tracker.
    Created,
    /// Tracking was asked for an existing session (`kyc track add`).
    Followed,
    /// A signed webhook delivery.
    Webhook,
    /// A poll (`GET` of the session).
    Poll,
    /// A search (the recovery of a create whose answer was lost).
    Search,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Created => "created",
            Origin::Followed => "followed",
            Origin::Webhook => "webhook",
            Origin::Poll => "poll",
            Origin::Search => "search",
        })
    }
}

/// A session's verdict: the final status it reached, once. Its key
/// ([`Tracked::verdict_key`], [`verdict_key`]) is stable, so an application that records the
/// keys it acted on acts on each verdict exactly once, however often it is handed over.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Verdict {
    /// The final status.
    pub status: SessionStatus,
    /// Why, when Pomelo said (with `NOT_VALIDATED`). `Debug` shows only its length.
    pub reason: Option<String>,
    /// Where it was learnt.
    pub origin: Origin,
    /// When it was learnt (this machine's clock).
    #[serde(with = "millis")]
    pub decided_at: SystemTime,
}

impl fmt::Debug for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verdict")
            .field("status", &self.status)
            .field("reason", &Redacted(self.reason.as_deref()))
            .field("origin", &self.origin)
            .field("decided_at", &self.decided_at)
            .finish()
    }
}

/// A final status that contradicts a session's verdict, kept for inspection; it never becomes a
/// second verdict.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Conflict {
    /// The status that arrived.
    pub status: SessionStatus,
    /// Where it came from.
    pub origin: Origin,
    /// When it arrived (this machine's clock).
    #[serde(with = "millis")]
    pub at: SystemTime,
}

/// One change of what is known of a session, for `kyc track show`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Change {
    /// The status after the change (`None`: tracking started without one).
    pub status: Option<SessionStatus>,
    /// Where it came from.
    pub origin: Origin,
    /// When it arrived (this machine's clock).
    #[serde(with = "millis")]
    pub at: SystemTime,
}

/// What the tracker knows of one session. A store keeps it whole (its fields are plain data) and
/// indexes `next_poll`, `verdict` and the verdict's acknowledgement.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Tracked {
    /// The session.
    pub session_id: SessionId,
    /// The person or company it verifies (`user_id`, or the company id of a KYB session).
    pub subject: Option<String>,
    /// The last status known.
    pub status: Option<SessionStatus>,
    /// Pomelo's time of that status (the session's `updated_at`, the event's `created_at`).
    #[serde(with = "opt_millis", default)]
    pub observed_at: Option<SystemTime>,
    /// When the session expires, as Pomelo said.
    #[serde(with = "opt_millis", default)]
    pub expiration_at: Option<SystemTime>,
    /// When tracking started (this machine's clock).
    #[serde(with = "millis")]
    pub first_seen: SystemTime,
    /// When something was last heard of the session (this machine's clock).
    #[serde(with = "millis")]
    pub last_heard: SystemTime,
    /// Polls made, in all.
    pub polls: u32,
    /// Polls made since something new was last heard (drives the back-off).
    pub quiet_polls: u32,
    /// Whether the last poll the schedule made after `expiration_at` was made.
    pub polled_after_expiry: bool,
    /// Whether a create named this session: its answer, or its recovery by search
    /// ([`Origin::Created`] or [`Origin::Search`]). Such a session is no other lost create's
    /// answer; one tracked only from a webhook, a poll or `follow` may be.
    #[serde(default)]
    pub from_create: bool,
    /// When to poll next (`None`: never again).
    #[serde(with = "opt_millis", default)]
    pub next_poll: Option<SystemTime>,
    /// Why polling stopped without a verdict, when it did (`max_polls`, `give_up_after`,
    /// `not_found`).
    pub gave_up: Option<String>,
    /// The verdict, once reached; it never changes.
    pub verdict: Option<Verdict>,
    /// Final statuses that contradicted the verdict (the last few).
    pub conflicts: Vec<Conflict>,
    /// How the status changed, and from where (the last few).
    pub history: Vec<Change>,
    /// Bumped by every write, so a store can refuse a write based on a stale read.
    pub version: u64,
}

impl fmt::Debug for Tracked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracked")
            .field("session_id", &self.session_id)
            .field("subject", &self.subject)
            .field("status", &self.status)
            .field("polls", &self.polls)
            .field("next_poll", &self.next_poll)
            .field("gave_up", &self.gave_up)
            .field("verdict", &self.verdict)
            .field("conflicts", &self.conflicts.len())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Tracked {
    /// A record of `session_id`, first seen at `now`, with nothing known yet.
    #[must_use]
    pub fn new(session_id: SessionId, now: SystemTime) -> Self {
        Self {
            session_id,
            subject: None,
            status: None,
            observed_at: None,
            expiration_at: None,
            first_seen: now,
            last_heard: now,
            polls: 0,
            quiet_polls: 0,
            polled_after_expiry: false,
            from_create: false,
            next_poll: None,
            gave_up: None,
            verdict: None,
            conflicts: Vec::new(),
            history: Vec::new(),
            version: 0,
        }
    }

    /// The stable key of this session's verdict.
    #[must_use]
    pub fn verdict_key(&self) -> String {
        verdict_key(&self.session_id)
    }

    pub(crate) fn note(&mut self, change: Change) {
        self.history.push(change);
        let excess = self.history.len().saturating_sub(MAX_HISTORY);
        self.history.drain(..excess);
    }

    pub(crate) fn note_conflict(&mut self, conflict: Conflict) {
        self.conflicts.push(conflict);
        let excess = self.conflicts.len().saturating_sub(MAX_CONFLICTS);
        self.conflicts.drain(..excess);
    }
}

/// The stable key of the verdict of `session_id`: the session id itself, as one session has one
/// verdict. An application keys its effect (the account opened, the e-mail sent) on it.
#[must_use]
pub fn verdict_key(session_id: &SessionId) -> String {
    session_id.as_str().to_owned()
}

/// Milliseconds since the Unix epoch (times before it are the epoch; after year 292 million,
/// saturated).
pub(crate) fn to_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(UNIX_EPOCH)
}

/// A `SystemTime` as milliseconds since the Unix epoch.
pub(crate) mod millis {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        to_millis(*t).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        u64::deserialize(d).map(from_millis)
    }
}

/// An optional `SystemTime` as milliseconds since the Unix epoch.
pub(crate) mod opt_millis {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        t: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        t.map(to_millis).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        Option::<u64>::deserialize(d).map(|ms| ms.map(from_millis))
    }
}
