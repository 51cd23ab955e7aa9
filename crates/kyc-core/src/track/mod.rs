//! Following sessions to their verdicts, sans-IO: the record of a tracked session and the pure
//! decisions over it.
//!
//! A team integrates Pomelo Identity to learn one thing per person or company: the verdict, once,
//! and to act on it once. Webhooks may be lost, repeated, re-signed, reordered; a process may
//! crash between sending a create and reading its answer. The rules here turn whatever arrives
//! (a create, a webhook, a poll, a search) into what to write, what to poll and when, and which
//! verdict to hand to the application, so that a durable store (`kyc-track`) and its loops only
//! carry them out:
//!
//! - [`decide`]: one input and the session's current [`Tracked`] record give the next record, the
//!   verdict reached (at most one per session, ever), and a conflict found. A later final status
//!   that differs from the verdict is kept as a [`Conflict`], never a second verdict; a non-final
//!   status older than what is known (by Pomelo's own timestamps where both have one, else by
//!   arrival) changes nothing; a session first heard of by webhook is adopted.
//! - Polling: a session not heard of for [`TrackSettings::quiet_period`] is polled, then with
//!   back-off doubling to [`TrackSettings::max_backoff`], once more just after its
//!   `expiration_at`, and never more than [`TrackSettings::max_polls`] times nor after
//!   [`TrackSettings::give_up_after`]. The record carries its next poll time, so a store finds
//!   the sessions due with one indexed query.
//! - [`PollBudget`]: at most [`TrackSettings::polls_per_minute`] polls in any 60 seconds, for
//!   every schedule together (the store keeps its one state, so a fleet shares it).
//! - [`PendingCreate`] and [`resume_create`]: a create's idempotency key is written before the
//!   request; after a crash the create is sent again under the same key, unless a search by the
//!   subject finds the session the lost answer named.
//!
//! Which statuses are final is a guess (Pomelo documents `IN_PROGRESS` and `NOT VALIDATED`):
//! [`TrackSettings::final_statuses`] changes it, like every other setting here. Time comes in as
//! arguments: nothing here reads a clock.

mod budget;
mod create;
mod decide;
mod record;

use std::time::Duration;

pub use budget::PollBudget;
pub use create::{CLOCK_SKEW_MARGIN, PendingCreate, Resume, resume_create};
pub use decide::{Decision, Input, Observation, decide};
pub use record::{Change, Conflict, Origin, Tracked, Verdict, verdict_key};

use crate::enums::SessionStatus;

/// Default quiet period before a session is polled: 10 min.
pub const DEFAULT_QUIET_PERIOD: Duration = Duration::from_secs(10 * 60);
/// Default longest wait between two polls of one session: 6 h.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// Default most polls of one session: 40.
pub const DEFAULT_MAX_POLLS: u32 = 40;
/// Default time after which a session is no longer polled: 7 days.
pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default wait after a session's `expiration_at` before its last poll: 5 min.
pub const DEFAULT_EXPIRY_GRACE: Duration = Duration::from_secs(5 * 60);
/// Default poll budget: 60 polls a minute, for every session together.
pub const DEFAULT_POLLS_PER_MINUTE: u32 = 60;

/// The rules of tracking, every one a guess where Pomelo publishes nothing, so every one a
/// setting (`kyc-track`'s builder, `POMELO_*` variables, `kyc track` options).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackSettings {
    /// The statuses that end a session: reaching one is its verdict. Default: `VALIDATED`,
    /// `NOT_VALIDATED`, `REJECTED`, `EXPIRED`, `CANCELLED` ([`SessionStatus::is_final`]).
    pub final_statuses: Vec<SessionStatus>,
    /// How long a session may go unheard of before it is polled.
    pub quiet_period: Duration,
    /// The longest wait between two polls of one session (the back-off doubles up to it).
    pub max_backoff: Duration,
    /// The most polls of one session, whatever happens.
    pub max_polls: u32,
    /// How long after it was first tracked a session is still polled.
    pub give_up_after: Duration,
    /// How long after its `expiration_at` a session is polled once more.
    pub expiry_grace: Duration,
    /// Polls a minute for every session together (at least 1).
    pub polls_per_minute: u32,
}

impl Default for TrackSettings {
    fn default() -> Self {
        Self {
            final_statuses: vec![
                SessionStatus::Validated,
                SessionStatus::NotValidated,
                SessionStatus::Rejected,
                SessionStatus::Expired,
                SessionStatus::Cancelled,
            ],
            quiet_period: DEFAULT_QUIET_PERIOD,
            max_backoff: DEFAULT_MAX_BACKOFF,
            max_polls: DEFAULT_MAX_POLLS,
            give_up_after: DEFAULT_GIVE_UP_AFTER,
            expiry_grace: DEFAULT_EXPIRY_GRACE,
            polls_per_minute: DEFAULT_POLLS_PER_MINUTE,
        }
    }
}

impl TrackSettings {
    /// Whether `status` ends a session under these settings.
    #[must_use]
    pub fn is_final(&self, status: &SessionStatus) -> bool {
        self.final_statuses.contains(status)
    }

    /// The final statuses from a comma-separated list (`VALIDATED,NOT_VALIDATED`), as
    /// `POMELO_FINAL_STATUSES` and `--final-statuses` give them. Blank items are skipped.
    #[must_use]
    pub fn parse_final_statuses(list: &str) -> Vec<SessionStatus> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(SessionStatus::parse)
            .collect()
    }
}
