//! [`decide`]: one input and a session's record give the next record, the verdict reached and a
//! conflict found.

use std::time::{Duration, SystemTime};

use super::TrackSettings;
use super::record::{Change, Conflict, Origin, Tracked, Verdict};
use crate::enums::SessionStatus;
use crate::model::{Session, SessionId};
use crate::secret::Redacted;
use crate::webhook::SessionNotification;

/// What Pomelo said of a session: a webhook, a poll or a search result. `Debug` shows the
/// reason's length only.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Observation {
    /// The session.
    pub session_id: SessionId,
    /// Its status.
    pub status: SessionStatus,
    /// Why, when Pomelo said (with `NOT_VALIDATED`).
    pub reason: Option<String>,
    /// The person or company it verifies.
    pub subject: Option<String>,
    /// Pomelo's time of this status (the session's `updated_at`, the event's `created_at`).
    pub observed_at: Option<SystemTime>,
    /// When the session expires.
    pub expiration_at: Option<SystemTime>,
    /// Where it came from.
    pub origin: Origin,
}

impl std::fmt::Debug for Observation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observation")
            .field("session_id", &self.session_id)
            .field("status", &self.status)
            .field("reason", &Redacted(self.reason.as_deref()))
            .field("subject", &self.subject)
            .field("observed_at", &self.observed_at)
            .field("expiration_at", &self.expiration_at)
            .field("origin", &self.origin)
            .finish()
    }
}

impl Observation {
    /// `status` of `session_id`, from `origin`, with nothing else known.
    #[must_use]
    pub fn new(session_id: SessionId, status: SessionStatus, origin: Origin) -> Self {
        Self {
            session_id,
            status,
            reason: None,
            subject: None,
            observed_at: None,
            expiration_at: None,
            origin,
        }
    }

    /// What a session read says (a poll, or a search's item), if it has a status.
    #[must_use]
    pub fn from_session(session: &Session, origin: Origin) -> Option<Self> {
        Some(Self {
            session_id: session.id.clone(),
            status: session.status.clone()?,
            reason: session.reason.clone(),
            subject: session
                .user_id
                .clone()
                .or_else(|| session.company_id.clone()),
            observed_at: session
                .updated_at
                .as_ref()
                .and_then(crate::Timestamp::to_system_time),
            expiration_at: session
                .expiration_at
                .as_ref()
                .and_then(crate::Timestamp::to_system_time),
            origin,
        })
    }

    /// What a validation-session webhook says.
    #[must_use]
    pub fn from_notification(notification: &SessionNotification) -> Self {
        let subject = notification.user_id.clone().or_else(|| {
            notification
                .field("company_id")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        });
        Self {
            session_id: SessionId::from(notification.session_id.as_str()),
            status: notification.status.clone(),
            reason: notification.reason.clone(),
            subject,
            observed_at: notification
                .created_at
                .as_ref()
                .and_then(crate::Timestamp::to_system_time),
            expiration_at: None,
            origin: Origin::Webhook,
        }
    }
}

/// One input to [`decide`].
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Input {
    /// Tracking starts: the session was created through the tracker, or an existing one is to be
    /// followed (`kyc track add`). Harmless when the session is tracked already.
    Follow {
        /// The session.
        session_id: SessionId,
        /// The person or company it verifies, when known.
        subject: Option<String>,
        /// When it expires, when known.
        expiration_at: Option<SystemTime>,
        /// [`Origin::Created`] or [`Origin::Followed`].
        origin: Origin,
    },
    /// Pomelo said something of a session.
    Observed(Observation),
    /// A poll got no usable answer (no response, a `5xx`): it counts as a poll.
    PollFailed {
        /// The session.
        session_id: SessionId,
    },
    /// A poll was answered `404`: the account has no such session; polling stops.
    NotFound {
        /// The session.
        session_id: SessionId,
    },
}

impl Input {
    /// The session the input is about.
    #[must_use]
    pub fn session_id(&self) -> &SessionId {
        match self {
            Input::Follow { session_id, .. }
            | Input::PollFailed { session_id }
            | Input::NotFound { session_id } => session_id,
            Input::Observed(o) => &o.session_id,
        }
    }
}

/// What [`decide`] says: write `record` (when `changed`), hand `verdict` to the application (in
/// the same transaction: the outbox), report `conflict`.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct Decision {
    /// The record after the input (`None`: the session is not tracked and the input does not
    /// start tracking it).
    pub record: Option<Tracked>,
    /// Whether `record` differs from the current one (a new record always does). Its `version`
    /// is the current one plus one when it does.
    pub changed: bool,
    /// The verdict this input reached: at most one per session, ever.
    pub verdict: Option<Verdict>,
    /// A final status contradicting the verdict, newly found.
    pub conflict: Option<Conflict>,
}

/// Applies `input`, received at `now`, to the session's `current` record under `settings`.
///
/// Rules:
/// - A session reaches one verdict, the first final status that arrives, and keeps it. A later
///   final status that differs is kept as a [`Conflict`] (once per status) and reported, never a
///   second verdict; a later non-final status is ignored.
/// - Before the verdict, a non-final status older than what is known (Pomelo's timestamps, where
///   both have one; otherwise the later arrival wins) changes nothing. A final status always
///   counts: nothing follows a final status.
/// - A session first heard of by webhook or search is adopted: tracking starts with it.
/// - Something new (a status that changed, or any webhook) resets the back-off; a poll that
///   brings nothing new lengthens it. See [`TrackSettings`] for the schedule and its bounds.
#[must_use]
pub fn decide(
    current: Option<&Tracked>,
    input: &Input,
    now: SystemTime,
    settings: &TrackSettings,
) -> Decision {
    let mut record = match (current, input) {
        (Some(current), _) => current.clone(),
        (None, Input::Follow { .. } | Input::Observed(_)) => {
            Tracked::new(input.session_id().clone(), now)
        }
        (None, Input::PollFailed { .. } | Input::NotFound { .. }) => {
            return Decision {
                record: None,
                changed: false,
                verdict: None,
                conflict: None,
            };
        }
    };
    let mut verdict = None;
    let mut conflict = None;
    match input {
        Input::Follow {
            subject,
            expiration_at,
            origin,
            ..
        } => {
            if record.subject.is_none() {
                record.subject.clone_from(subject);
            }
            if record.expiration_at.is_none() {
                record.expiration_at = *expiration_at;
            }
            if matches!(origin, Origin::Created | Origin::Search) {
                record.from_create = true;
            }
            if current.is_none() {
                record.note(Change {
                    status: None,
                    origin: *origin,
                    at: now,
                });
            }
        }
        Input::Observed(o) => {
            if record.subject.is_none() {
                record.subject.clone_from(&o.subject);
            }
            if o.expiration_at.is_some() {
                record.expiration_at = o.expiration_at;
            }
            if o.origin == Origin::Poll {
                record.polls = record.polls.saturating_add(1);
                if after_expiry(&record, now, settings) {
                    record.polled_after_expiry = true;
                }
            }
            let is_final = settings.is_final(&o.status);
            match &record.verdict {
                Some(reached) => {
                    if is_final
                        && o.status != reached.status
                        && !record.conflicts.iter().any(|c| c.status == o.status)
                    {
                        let found = Conflict {
                            status: o.status.clone(),
                            origin: o.origin,
                            at: now,
                        };
                        record.note_conflict(found.clone());
                        conflict = Some(found);
                    }
                }
                None if is_final => {
                    let reached = Verdict {
                        status: o.status.clone(),
                        reason: o.reason.clone(),
                        origin: o.origin,
                        decided_at: now,
                    };
                    record.status = Some(o.status.clone());
                    record.observed_at = o.observed_at.or(record.observed_at);
                    record.last_heard = now;
                    record.quiet_polls = 0;
                    record.note(Change {
                        status: Some(o.status.clone()),
                        origin: o.origin,
                        at: now,
                    });
                    record.verdict = Some(reached.clone());
                    verdict = Some(reached);
                }
                None => {
                    let stale = matches!(
                        (o.observed_at, record.observed_at),
                        (Some(new), Some(known)) if new < known
                    );
                    let news = !stale && record.status.as_ref() != Some(&o.status);
                    if news {
                        record.status = Some(o.status.clone());
                        record.note(Change {
                            status: Some(o.status.clone()),
                            origin: o.origin,
                            at: now,
                        });
                    }
                    if !stale && o.observed_at.is_some() {
                        record.observed_at = o.observed_at;
                    }
                    if news || o.origin == Origin::Webhook {
                        record.last_heard = now;
                        record.quiet_polls = 0;
                    } else if o.origin == Origin::Poll {
                        record.quiet_polls = record.quiet_polls.saturating_add(1);
                    }
                }
            }
        }
        Input::PollFailed { .. } => {
            record.polls = record.polls.saturating_add(1);
            record.quiet_polls = record.quiet_polls.saturating_add(1);
        }
        Input::NotFound { .. } => {
            record.polls = record.polls.saturating_add(1);
            if record.verdict.is_none() {
                record.gave_up = Some("not_found".to_owned());
            }
        }
    }
    schedule(&mut record, now, settings);
    let changed = current != Some(&record);
    if changed {
        record.version = current.map_or(0, |c| c.version).saturating_add(1);
    }
    Decision {
        record: Some(record),
        changed,
        verdict,
        conflict,
    }
}

/// Whether `now` is past the session's expiry and its grace.
fn after_expiry(record: &Tracked, now: SystemTime, settings: &TrackSettings) -> bool {
    record
        .expiration_at
        .is_some_and(|at| now >= add(at, settings.expiry_grace))
}

use crate::time::later as add;

/// The wait before the next poll after `quiet_polls` polls that brought nothing new: the quiet
/// period, doubled for each, up to the cap.
fn backoff(settings: &TrackSettings, quiet_polls: u32) -> Duration {
    let factor = 1u32 << quiet_polls.min(20);
    settings
        .quiet_period
        .checked_mul(factor)
        .unwrap_or(settings.max_backoff)
        .min(settings.max_backoff.max(settings.quiet_period))
}

/// Sets the record's next poll, or stops polling it.
fn schedule(record: &mut Tracked, now: SystemTime, settings: &TrackSettings) {
    if record.verdict.is_some() || record.gave_up.is_some() {
        record.next_poll = None;
        return;
    }
    if record.polls >= settings.max_polls {
        record.gave_up = Some("max_polls".to_owned());
        record.next_poll = None;
        return;
    }
    let deadline = add(record.first_seen, settings.give_up_after);
    if now >= deadline {
        record.gave_up = Some("give_up_after".to_owned());
        record.next_poll = None;
        return;
    }
    let mut next = add(now, backoff(settings, record.quiet_polls));
    if let Some(expiry) = record.expiration_at {
        let last_chance = add(expiry, settings.expiry_grace);
        // Brought forward to the moment after expiry, never to "now": once that moment has
        // passed (the tracker was down, or the poll then failed), the back-off spaces the tries
        // as any other, or an outage would spend every poll at the budget's pace.
        if !record.polled_after_expiry && now < last_chance && next > last_chance {
            next = last_chance;
        }
    }
    record.next_poll = Some(next.min(deadline));
}
