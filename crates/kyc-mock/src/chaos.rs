//! Webhook delivery chaos: the ways a real network and a real Pomelo may deliver notifications
//! (lost, duplicated, held and so reordered, retried with the first signature, without an
//! `event_id`), decided from one seeded SplitMix64 stream so that a run can be replayed.
//!
//! Notification number `k` (from 1, in the order the simulator sends them) takes the
//! [`DRAWS`] numbers of the stream from position `DRAWS × k`: whether it is dropped, whether and
//! how often it is duplicated, and the hold of each copy. Its decisions therefore depend only on
//! the seed, `k` and the settings, never on what happened to earlier notifications.

use std::time::Duration;

use crate::clock::millis;
use crate::ids::{splitmix64, unit};

/// Longest [`WebhookChaos::max_delay`]: ten minutes.
pub const MAX_WEBHOOK_DELAY: Duration = Duration::from_secs(600);
/// Most [`WebhookChaos::max_duplicates`].
pub const MAX_WEBHOOK_DUPLICATES: u32 = 10;
/// Numbers of the seeded stream each notification takes: drop, duplicate, how many, then the
/// hold of each copy (the original and up to [`MAX_WEBHOOK_DUPLICATES`]).
const DRAWS: u64 = 16;
const _: () = assert!(3 + 1 + MAX_WEBHOOK_DUPLICATES as u64 <= DRAWS);

/// How the simulator misbehaves when it delivers webhooks, the way a real network and a real
/// Pomelo may: set it with [`MockConfig::webhook_chaos`](crate::MockConfig::webhook_chaos), change
/// it while running with [`MockServer::set_webhook_chaos`](crate::MockServer::set_webhook_chaos) or
/// `POST /_admin/webhooks/chaos`, or with the `--webhook-…` options.
///
/// Every random choice comes from one stream seeded with
/// [`MockConfig::webhook_seed`](crate::MockConfig::webhook_seed): the same seed, settings and
/// order of notifications give the same decisions. What happened to each notification is in
/// [`MockServer::webhook_deliveries`](crate::MockServer::webhook_deliveries).
///
/// ```
/// use std::time::Duration;
/// use kyc_mock::WebhookChaos;
///
/// let chaos = WebhookChaos::new()
///     .drop_rate(0.1)
///     .duplicate_rate(0.2)
///     .max_delay(Duration::from_millis(500))
///     .keep_first_signature(true);
/// assert_eq!(chaos.max_duplicates, 1);
/// assert!(!chaos.omit_event_id);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WebhookChaos {
    /// Share of notifications (0 to 1) never delivered: no attempt is made, and the delivery is
    /// listed as [dropped](crate::WebhookDelivery::dropped). Default 0.
    pub drop_rate: f64,
    /// Share of notifications (0 to 1) delivered again, each copy as a separate delivery after
    /// the previous one finished (all its attempts) and its own hold. Default 0.
    pub duplicate_rate: f64,
    /// Extra copies of a duplicated notification: from 1 to this many, uniformly (default 1, at
    /// most [`MAX_WEBHOOK_DUPLICATES`]).
    pub max_duplicates: u32,
    /// Each delivery is held a random time from zero to this (whole milliseconds) before its
    /// first attempt, so that later notifications can overtake earlier ones. Default zero, at
    /// most [`MAX_WEBHOOK_DELAY`].
    pub max_delay: Duration,
    /// Retries and duplicates keep the notification's first `X-Timestamp` (and so, for the same
    /// endpoint, its `X-Signature`) instead of being signed anew with a fresh timestamp, the
    /// default.
    pub keep_first_signature: bool,
    /// Bodies are sent without their `event_id` member.
    pub omit_event_id: bool,
}

impl Default for WebhookChaos {
    fn default() -> Self {
        Self {
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            max_duplicates: 1,
            max_delay: Duration::ZERO,
            keep_first_signature: false,
            omit_event_id: false,
        }
    }
}

impl WebhookChaos {
    /// No chaos: every notification delivered once, at once, each attempt signed anew, with its
    /// `event_id`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`drop_rate`](Self#structfield.drop_rate).
    pub fn drop_rate(mut self, rate: f64) -> Self {
        self.drop_rate = rate;
        self
    }

    /// Sets [`duplicate_rate`](Self#structfield.duplicate_rate).
    pub fn duplicate_rate(mut self, rate: f64) -> Self {
        self.duplicate_rate = rate;
        self
    }

    /// Sets [`max_duplicates`](Self#structfield.max_duplicates).
    pub fn max_duplicates(mut self, max: u32) -> Self {
        self.max_duplicates = max;
        self
    }

    /// Sets [`max_delay`](Self#structfield.max_delay).
    pub fn max_delay(mut self, max: Duration) -> Self {
        self.max_delay = max;
        self
    }

    /// Sets [`keep_first_signature`](Self#structfield.keep_first_signature).
    pub fn keep_first_signature(mut self, keep: bool) -> Self {
        self.keep_first_signature = keep;
        self
    }

    /// Sets [`omit_event_id`](Self#structfield.omit_event_id).
    pub fn omit_event_id(mut self, omit: bool) -> Self {
        self.omit_event_id = omit;
        self
    }

    /// Whether the settings are within their bounds; why not.
    pub(crate) fn check(&self) -> Result<(), String> {
        for (name, rate) in [
            ("drop_rate", self.drop_rate),
            ("duplicate_rate", self.duplicate_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("`{name}` must be a number from 0 to 1"));
            }
        }
        if self.max_duplicates > MAX_WEBHOOK_DUPLICATES {
            return Err(format!(
                "`max_duplicates` must be at most {MAX_WEBHOOK_DUPLICATES}"
            ));
        }
        if self.max_delay > MAX_WEBHOOK_DELAY {
            return Err(format!(
                "`max_delay` must be at most {} s",
                MAX_WEBHOOK_DELAY.as_secs()
            ));
        }
        Ok(())
    }
}

/// What happens to one notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Never delivered.
    pub(crate) dropped: bool,
    /// The hold before each copy's first attempt: the original's, then each duplicate's.
    pub(crate) holds: Vec<Duration>,
}

/// The decisions for notification number `notification` under `chaos`, from the stream seeded
/// with `seed`.
pub(crate) fn plan(seed: u64, notification: u64, chaos: &WebhookChaos) -> Plan {
    let draw = |i: u64| splitmix64(seed, notification.wrapping_mul(DRAWS).wrapping_add(i));
    let dropped = unit(draw(0)) < chaos.drop_rate;
    let duplicates = if chaos.max_duplicates > 0 && unit(draw(1)) < chaos.duplicate_rate {
        1 + draw(2) % u64::from(chaos.max_duplicates)
    } else {
        0
    };
    let max_ms = millis(chaos.max_delay);
    let holds = (0..=duplicates)
        .map(|copy| Duration::from_millis(draw(3 + copy) % max_ms.saturating_add(1)))
        .collect();
    Plan { dropped, holds }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_chaos_delivers_each_notification_once_at_once() {
        for k in 1..100 {
            assert_eq!(
                plan(k * 7, k, &WebhookChaos::new()),
                Plan {
                    dropped: false,
                    holds: vec![Duration::ZERO]
                }
            );
        }
    }

    #[test]
    fn shares_hold_within_statistical_bounds() {
        let chaos = WebhookChaos::new()
            .drop_rate(0.25)
            .duplicate_rate(0.5)
            .max_duplicates(3)
            .max_delay(Duration::from_millis(200));
        let plans: Vec<Plan> = (1..=10_000).map(|k| plan(42, k, &chaos)).collect();
        let dropped = plans.iter().filter(|p| p.dropped).count();
        // Mean 2,500, standard deviation about 43: four of them either side.
        assert!((2_330..=2_670).contains(&dropped), "{dropped}");
        let duplicated = plans.iter().filter(|p| p.holds.len() > 1).count();
        assert!((4_800..=5_200).contains(&duplicated), "{duplicated}");
        for extra in 1..=3 {
            let n = plans.iter().filter(|p| p.holds.len() == extra + 1).count();
            assert!((1_500..=1_840).contains(&n), "{extra}: {n}");
        }
        assert!(plans.iter().all(|p| p.holds.len() <= 4));
        let holds: Vec<Duration> = plans.iter().flat_map(|p| p.holds.clone()).collect();
        assert!(holds.iter().all(|h| *h <= Duration::from_millis(200)));
        assert!(holds.contains(&Duration::ZERO));
        assert!(holds.contains(&Duration::from_millis(200)));
    }

    #[test]
    fn a_notifications_decisions_depend_on_the_seed_and_its_number_only() {
        let chaos = WebhookChaos::new()
            .drop_rate(0.5)
            .duplicate_rate(0.5)
            .max_delay(Duration::from_secs(1));
        assert_eq!(plan(7, 12, &chaos), plan(7, 12, &chaos));
        let by_seed: Vec<Plan> = (1..=50).map(|k| plan(7, k, &chaos)).collect();
        let other_seed: Vec<Plan> = (1..=50).map(|k| plan(8, k, &chaos)).collect();
        assert_ne!(by_seed, other_seed);
        // A zero rate changes only its own decision: the holds stay those of the seed.
        let calm = WebhookChaos {
            drop_rate: 0.0,
            ..chaos.clone()
        };
        for k in 1..=50 {
            assert_eq!(plan(7, k, &calm).holds, plan(7, k, &chaos).holds);
        }
        // Every rate at 1: everything dropped and duplicated.
        let all = chaos.drop_rate(1.0).duplicate_rate(1.0);
        assert!((1..=50).all(|k| {
            let p = plan(9, k, &all);
            p.dropped && p.holds.len() == 2
        }));
    }

    #[test]
    fn settings_out_of_bounds_are_refused() {
        assert!(WebhookChaos::new().check().is_ok());
        for bad in [
            WebhookChaos::new().drop_rate(1.5),
            WebhookChaos::new().drop_rate(f64::NAN),
            WebhookChaos::new().duplicate_rate(-0.1),
            WebhookChaos::new().max_duplicates(MAX_WEBHOOK_DUPLICATES + 1),
            WebhookChaos::new().max_delay(MAX_WEBHOOK_DELAY + Duration::from_millis(1)),
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        let edge = WebhookChaos::new()
            .drop_rate(1.0)
            .max_duplicates(MAX_WEBHOOK_DUPLICATES)
            .max_delay(MAX_WEBHOOK_DELAY);
        assert!(edge.check().is_ok());
        assert!(plan(1, 1, &edge.duplicate_rate(1.0)).holds.len() <= 11);
    }
}
