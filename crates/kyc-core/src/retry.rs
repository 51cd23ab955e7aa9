//! The retry decision: a pure function of the call, the outcome of the last attempt, the attempt
//! number and a jitter value drawn from the call's random bytes. The call driver
//! ([`Call`](crate::Call)) applies it; adapters sleep and resend, they decide nothing.

use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use http::{HeaderMap, Method, StatusCode};

/// What happened to one attempt.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Outcome<'a> {
    /// A response arrived.
    Response {
        /// Its status.
        status: StatusCode,
        /// Its headers (for `Retry-After`).
        headers: &'a HeaderMap,
    },
    /// No response arrived.
    Transport {
        /// Whether the request may have reached the server: `false` only when the failure
        /// happened before any request byte was sent (DNS, connect refused, TLS handshake).
        may_have_reached_server: bool,
    },
}

/// What to do after an attempt.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum RetryDecision {
    /// Send the same request again after this delay.
    RetryAfter(Duration),
    /// Do not retry: hand the outcome to the caller.
    Stop,
}

/// Retry settings: how many attempts, and the exponential back-off between them.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Total attempts, the first included (1 disables retries).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled for each further attempt.
    pub base_delay: Duration,
    /// Upper bound of the back-off delay.
    pub max_delay: Duration,
    /// Upper bound applied to a server's `Retry-After`.
    pub max_retry_after: Duration,
    /// Whether a creating call (create session, upload) is sent again, under the same
    /// idempotency key, after it may have reached the server.
    pub resend_creates: bool,
}

impl Default for RetryPolicy {
    /// 4 attempts; 250 ms, 500 ms, 1 s back-off (each with jitter), capped at 8 s; `Retry-After`
    /// honoured up to 30 s.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
            resend_creates: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    #[must_use]
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the total number of attempts (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the base and maximum back-off delay. Any durations are accepted, `Duration::MAX`
    /// included: a delay never exceeds `max`.
    #[must_use]
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_delay = max.max(base);
        self
    }

    /// Whether a creating call is sent again after it may have reached the server (default
    /// `true`, relying on the server honouring `x-idempotency-key`).
    ///
    /// Pomelo has not published whether its Identity API honours `x-idempotency-key` (reference
    /// §4.5, §12.11). With `false`, a create or upload is retried only when it surely did not
    /// reach the server (connection refused, DNS) or was answered with a status that means it was
    /// not processed (a `401` replay); a timeout, a dropped connection or a `5xx` is returned to
    /// the caller, whose error carries the key it was sent with (`CallError::idempotency_key`),
    /// to reconcile with a search, or to create again under the same key.
    #[must_use]
    pub fn resend_creates(mut self, resend: bool) -> Self {
        self.resend_creates = resend;
        self
    }

    /// Whether creating calls may be sent again after they may have reached the server.
    #[must_use]
    pub fn resends_creates(&self) -> bool {
        self.resend_creates
    }

    /// Sets the largest `Retry-After` honoured; longer ones are clamped to it.
    #[must_use]
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Decides whether to retry after attempt number `attempt` (1 for the first) of a call;
    /// `replay_safe` says whether sending it again cannot repeat its effect (an idempotent method
    /// or endpoint, or an idempotency key the server honours).
    ///
    /// - Retries 408, 429, 500, 502, 503, 504 and transport failures, while attempts remain.
    /// - Never retries a call that is not replay-safe once the request may have reached the server:
    ///   only a failure before sending is retried then.
    /// - Waits `base × 2^(attempt−1)`, capped at `max_delay`, scaled by `0.5 + jitter / 2` (equal
    ///   jitter; `jitter` is a random number in `[0, 1]` the caller drew, clamped).
    /// - A `Retry-After` (seconds or HTTP date, read against `now`) replaces the back-off when
    ///   longer, clamped to `max_retry_after`.
    #[must_use]
    pub(crate) fn decide(
        &self,
        replay_safe: bool,
        outcome: Outcome<'_>,
        attempt: u32,
        jitter: f64,
        now: SystemTime,
    ) -> RetryDecision {
        if attempt >= self.max_attempts {
            return RetryDecision::Stop;
        }
        let retry_after = match outcome {
            Outcome::Response { status, headers } => {
                if !is_retryable_status(status) || !replay_safe {
                    return RetryDecision::Stop;
                }
                retry_after(headers, now)
            }
            Outcome::Transport {
                may_have_reached_server,
            } => {
                if may_have_reached_server && !replay_safe {
                    return RetryDecision::Stop;
                }
                None
            }
        };
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let exponent = attempt.saturating_sub(1).min(31);
        let capped = self
            .base_delay
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let backoff = scale(capped, 0.5 + jitter / 2.0);
        let delay = match retry_after {
            Some(server) => server
                .min(self.max_retry_after)
                .max(backoff.min(self.max_retry_after)),
            None => backoff,
        };
        RetryDecision::RetryAfter(delay)
    }
}

/// `delay × factor` for a `factor` in `[0.5, 1]`, never more than `delay`: `Duration::mul_f64`
/// computes through `f64` seconds, which round up past `Duration::MAX` (a panic) and, for large
/// delays, past the delay itself. The same arithmetic, saturated.
fn scale(delay: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(delay.as_secs_f64() * factor)
        .unwrap_or(Duration::MAX)
        .min(delay)
}

/// Whether `method` may be replayed without changing the outcome (RFC 9110 §9.2.2).
#[must_use]
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// Whether a response with `status` is worth retrying: 408, 429, 500, 502, 503, 504.
#[must_use]
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// Reads `Retry-After` as delay-seconds or as an HTTP date relative to `now`.
#[must_use]
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = httpdate::parse_http_date(text).ok()?;
    Some(date.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn headers(retry_after: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = retry_after {
            h.insert(RETRY_AFTER, v.parse().unwrap());
        }
        h
    }

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy::default().max_attempts(10);
        let h = headers(None);
        let out = Outcome::Response {
            status: StatusCode::SERVICE_UNAVAILABLE,
            headers: &h,
        };
        let delays: Vec<_> = (1..6).map(|a| p.decide(true, out, a, 1.0, NOW)).collect();
        let ms = |d| RetryDecision::RetryAfter(Duration::from_millis(d));
        assert_eq!(delays, vec![ms(250), ms(500), ms(1000), ms(2000), ms(4000)]);
        assert_eq!(p.decide(true, out, 9, 1.0, NOW), ms(8000));
        assert_eq!(p.decide(true, out, 1, 0.0, NOW), ms(125));
    }

    #[test]
    fn the_largest_backoff_saturates_instead_of_panicking() {
        // `Duration::MAX` scaled by 1.0 through `f64` rounds up past `Duration::MAX`.
        let p = RetryPolicy::default()
            .max_attempts(10)
            .backoff(Duration::MAX, Duration::MAX);
        let h = headers(None);
        let out = Outcome::Response {
            status: StatusCode::SERVICE_UNAVAILABLE,
            headers: &h,
        };
        assert_eq!(
            p.decide(true, out, 1, 1.0, NOW),
            RetryDecision::RetryAfter(Duration::MAX)
        );
        let RetryDecision::RetryAfter(half) = p.decide(true, out, 3, 0.0, NOW) else {
            panic!("a retry");
        };
        assert!(
            half <= Duration::MAX / 2 + Duration::from_secs(1),
            "{half:?}"
        );
    }

    #[test]
    fn retry_after_seconds_and_dates_are_honoured_and_clamped() {
        let p = RetryPolicy::default();
        let h = headers(Some("7"));
        let out = Outcome::Response {
            status: StatusCode::TOO_MANY_REQUESTS,
            headers: &h,
        };
        assert_eq!(
            p.decide(true, out, 1, 0.5, NOW),
            RetryDecision::RetryAfter(Duration::from_secs(7))
        );
        let h = headers(Some("86400"));
        let out = Outcome::Response {
            status: StatusCode::TOO_MANY_REQUESTS,
            headers: &h,
        };
        assert_eq!(
            p.decide(true, out, 1, 0.5, NOW),
            RetryDecision::RetryAfter(Duration::from_secs(30))
        );
        let h = headers(Some("Thu, 01 Jan 1970 00:00:12 GMT"));
        let out = Outcome::Response {
            status: StatusCode::TOO_MANY_REQUESTS,
            headers: &h,
        };
        assert_eq!(
            p.decide(true, out, 1, 0.5, NOW),
            RetryDecision::RetryAfter(Duration::from_secs(12))
        );
    }

    #[test]
    fn a_post_without_key_is_retried_only_when_it_never_left() {
        let p = RetryPolicy::default();
        let h = headers(None);
        let served = Outcome::Response {
            status: StatusCode::BAD_GATEWAY,
            headers: &h,
        };
        assert_eq!(p.decide(false, served, 1, 0.5, NOW), RetryDecision::Stop);
        assert!(matches!(
            p.decide(true, served, 1, 0.5, NOW),
            RetryDecision::RetryAfter(_)
        ));
        let unsent = Outcome::Transport {
            may_have_reached_server: false,
        };
        assert!(matches!(
            p.decide(false, unsent, 1, 0.5, NOW),
            RetryDecision::RetryAfter(_)
        ));
        let maybe = Outcome::Transport {
            may_have_reached_server: true,
        };
        assert_eq!(p.decide(false, maybe, 1, 0.5, NOW), RetryDecision::Stop);
    }

    fn method() -> impl Strategy<Value = Method> {
        prop_oneof![
            Just(Method::GET),
            Just(Method::POST),
            Just(Method::PUT),
            Just(Method::DELETE),
            Just(Method::PATCH),
            Just(Method::HEAD)
        ]
    }

    proptest! {
        #[test]
        fn any_backoff_setting_and_jitter_give_a_delay_within_the_maximum(
            base in any::<(u64, u32)>(),
            max in any::<(u64, u32)>(),
            attempt in 1u32..40,
            jitter in any::<f64>(),
        ) {
            let duration = |(secs, nanos): (u64, u32)| Duration::new(secs, nanos % 1_000_000_000);
            let p = RetryPolicy::default()
                .max_attempts(50)
                .backoff(duration(base), duration(max));
            let out = Outcome::Transport { may_have_reached_server: false };
            match p.decide(true, out, attempt, jitter, NOW) {
                RetryDecision::RetryAfter(delay) => prop_assert!(delay <= p.max_delay),
                RetryDecision::Stop => prop_assert!(false, "a transport failure is retried"),
            }
        }

        #[test]
        fn decisions_respect_the_rules(
            method in method(),
            has_key in any::<bool>(),
            status in 100u16..600,
            transport in any::<bool>(),
            reached in any::<bool>(),
            retry_after in proptest::option::of(prop_oneof![
                (0u64..100_000).prop_map(|s| s.to_string()),
                ".{0,30}",
            ]),
            attempt in 0u32..20,
            jitter in any::<f64>(),
        ) {
            let p = RetryPolicy::default();
            let mut h = HeaderMap::new();
            if let Some(v) = retry_after.as_deref().and_then(|v| v.parse().ok()) {
                h.insert(RETRY_AFTER, v);
            }
            let status = StatusCode::from_u16(status).unwrap();
            let outcome = if transport {
                Outcome::Transport { may_have_reached_server: reached }
            } else {
                Outcome::Response { status, headers: &h }
            };
            let decision = p.decide(is_idempotent(&method) || has_key, outcome, attempt, jitter, NOW);
            let replay_safe = is_idempotent(&method) || has_key;
            match decision {
                RetryDecision::Stop => {}
                RetryDecision::RetryAfter(delay) => {
                    prop_assert!(attempt < p.max_attempts);
                    prop_assert!(delay <= p.max_delay.max(p.max_retry_after));
                    if transport {
                        prop_assert!(replay_safe || !reached);
                    } else {
                        prop_assert!(replay_safe);
                        prop_assert!(is_retryable_status(status));
                    }
                }
            }
            if !transport && status.is_success() {
                prop_assert_eq!(decision, RetryDecision::Stop);
            }
        }
    }
}
