//! [`PollBudget`]: at most N polls in any 60 seconds, whatever the schedules ask for.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::record::{from_millis, millis, to_millis};

/// The shared poll budget's state: the earliest time the next poll may go. Polls are spaced at
/// least `60 s / polls_per_minute` apart, so any 60 seconds hold at most `polls_per_minute` of
/// them, however the sessions' schedules bunch up. A store keeps one state for everything it
/// tracks (a fleet of trackers shares it through the store), and asks [`PollBudget::take`]
/// before each poll.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PollBudget {
    /// The earliest time the next poll may go.
    #[serde(with = "millis")]
    pub next_free: SystemTime,
}

impl Default for PollBudget {
    fn default() -> Self {
        Self {
            next_free: SystemTime::UNIX_EPOCH,
        }
    }
}

impl PollBudget {
    /// The spacing of polls for `polls_per_minute` (at least 1 a minute): `60 s / n`, rounded up
    /// to the millisecond so that n polls never fit in less than a minute.
    #[must_use]
    pub fn interval(polls_per_minute: u32) -> Duration {
        let n = u64::from(polls_per_minute.max(1));
        Duration::from_millis(60_000u64.div_ceil(n))
    }

    /// Takes one poll at `now`: `true` (and the next is pushed one interval later) when the
    /// budget allows it, `false` otherwise (try again at [`PollBudget::next_free`]).
    pub fn take(&mut self, now: SystemTime, polls_per_minute: u32) -> bool {
        if now < self.next_free {
            return false;
        }
        let next = to_millis(now).saturating_add(
            u64::try_from(Self::interval(polls_per_minute).as_millis()).unwrap_or(u64::MAX),
        );
        self.next_free = from_millis(next);
        // `now` is in whole milliseconds here: a time before the state's own resolution never
        // gets a second poll in the same interval.
        true
    }
}
