//! The call driver: what an adapter does after each attempt of one logical call.
//!
//! Every adapter runs the same loop: build the request, send it, report what happened to a [`Call`],
//! and do what it answers ([`Next`]): hand the outcome to the caller, sleep and resend, or drop the
//! token the server refused, get a new one and resend. The rules (attempt counting, one token
//! refresh per call on a `401`, no retry past the deadline, no retry of a body that cannot be sent
//! again) live here, once, so a blocking and an async adapter cannot drift apart.
//!
//! The driver reads no clock and draws no random number: the adapter passes `now`, the jitter it
//! drew and the time left before the call's deadline with each report.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, StatusCode};

use crate::endpoint::Endpoint;
use crate::retry::{Outcome, RetryDecision, RetryPolicy};
use crate::secret::AccessToken;

/// What happened to one attempt, as the adapter saw it.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum AttemptOutcome<'a> {
    /// A complete response arrived (any status).
    Response {
        /// Its status.
        status: StatusCode,
        /// Its headers (`Retry-After` is read from them).
        headers: &'a HeaderMap,
    },
    /// No complete response arrived.
    Transport {
        /// Whether the request may have reached the server: `false` only when the failure
        /// happened before any request byte was sent (DNS, connect refused, TLS handshake).
        may_have_reached_server: bool,
    },
    /// The attempt failed in a way that would repeat identically: the HTTP stack refused the
    /// request as built, or the local source of the body failed. Never retried.
    Unrepeatable,
}

/// The facts about one attempt that the driver cannot know by itself.
#[derive(Clone, Copy, Debug)]
pub struct AttemptFacts<'a> {
    /// The current time (for a `Retry-After` given as an HTTP date).
    pub now: SystemTime,
    /// A random number in `[0, 1]` drawn for this attempt (back-off jitter); see
    /// [`jitter_from_random`].
    pub jitter: f64,
    /// Time left before the call's overall deadline, measured after the attempt ended. A retry
    /// whose delay is not strictly shorter is not made.
    pub time_left: Duration,
    /// Whether the request body can be sent again whole (`false` for a caller's reader once bytes
    /// were read from it).
    pub body_replayable: bool,
    /// The access token the attempt carried, if any.
    pub token: Option<&'a AccessToken>,
}

/// What the adapter does next.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Next {
    /// Stop: parse the response with [`parse_response`](crate::parse_response), or return the
    /// transport error, to the caller.
    Done,
    /// Wait this long, then send the same request again (same token, same idempotency key).
    RetryAfter(Duration),
    /// The server refused the token: call [`TokenCache::on_unauthorized`](crate::TokenCache::on_unauthorized)
    /// with `rejected`, obtain a token (a new one unless another caller already replaced it),
    /// rebuild the request with it and send it at once. Happens at most once per call; the
    /// attempt count starts again for the replay.
    RefreshTokenAndReplay {
        /// The token the `401` answered.
        rejected: AccessToken,
    },
}

/// One logical call's retry and replay state. Create one per call (not per attempt) and report
/// every attempt to it with [`Call::next`].
///
/// Rules, in order, for each attempt:
///
/// 1. A `2xx` response, or an [`AttemptOutcome::Unrepeatable`] failure: [`Next::Done`].
/// 2. A `401` to an authenticated call that carried a token, when no replay happened yet in this
///    call and the body can be sent again: [`Next::RefreshTokenAndReplay`].
/// 3. Otherwise [`RetryPolicy::decide`] with the attempt number within the current replay
///    segment; its delay is kept only if the body can be sent again and the delay is shorter than
///    the time left. Anything else: [`Next::Done`].
///
/// So a call sends at most `max_attempts` requests before a replay and `max_attempts` after it.
#[derive(Clone, Debug)]
pub struct Call {
    method: Method,
    has_idempotency_key: bool,
    authenticated: bool,
    policy: RetryPolicy,
    /// Attempts reported in the current segment (since the start or the replay).
    attempts_in_segment: u32,
    attempts: u32,
    replayed: bool,
}

impl Call {
    /// A call of `method`; `has_idempotency_key` tells whether it carries `x-idempotency-key`,
    /// `authenticated` whether it carries a bearer token.
    #[must_use]
    pub fn new(
        method: Method,
        has_idempotency_key: bool,
        authenticated: bool,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            method,
            has_idempotency_key,
            authenticated,
            policy,
            attempts_in_segment: 0,
            attempts: 0,
            replayed: false,
        }
    }

    /// A call of endpoint `E`, from its `METHOD`, `CREATES` (which makes it carry an idempotency
    /// key) and `AUTHENTICATED`.
    #[must_use]
    pub fn for_endpoint<E: Endpoint>(policy: RetryPolicy) -> Self {
        Self::new(E::METHOD, E::CREATES, E::AUTHENTICATED, policy)
    }

    /// Whether the call needs a bearer token.
    #[must_use]
    pub fn authenticated(&self) -> bool {
        self.authenticated
    }

    /// Attempts reported so far, across the replay.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether the one token refresh and replay of this call was used.
    #[must_use]
    pub fn replayed(&self) -> bool {
        self.replayed
    }

    /// How long the next attempt may take: `per_attempt`, shortened to `time_left` before the
    /// call's deadline; `None` when no time is left (do not send: the call timed out).
    #[must_use]
    pub fn attempt_budget(&self, per_attempt: Duration, time_left: Duration) -> Option<Duration> {
        (!time_left.is_zero()).then(|| per_attempt.min(time_left))
    }

    /// Reports one attempt and says what to do next.
    pub fn next(&mut self, outcome: AttemptOutcome<'_>, facts: AttemptFacts<'_>) -> Next {
        self.attempts = self.attempts.saturating_add(1);
        self.attempts_in_segment = self.attempts_in_segment.saturating_add(1);
        let outcome = match outcome {
            AttemptOutcome::Unrepeatable => return Next::Done,
            AttemptOutcome::Response { status, .. } if status.is_success() => return Next::Done,
            AttemptOutcome::Response { status, headers } => {
                if status == StatusCode::UNAUTHORIZED
                    && self.authenticated
                    && !self.replayed
                    && facts.body_replayable
                {
                    if let Some(token) = facts.token {
                        self.replayed = true;
                        self.attempts_in_segment = 0;
                        return Next::RefreshTokenAndReplay {
                            rejected: token.clone(),
                        };
                    }
                }
                Outcome::Response { status, headers }
            }
            AttemptOutcome::Transport {
                may_have_reached_server,
            } => Outcome::Transport {
                may_have_reached_server,
            },
        };
        let decision = self.policy.decide(
            &self.method,
            self.has_idempotency_key,
            outcome,
            self.attempts_in_segment,
            facts.jitter,
            facts.now,
        );
        match decision {
            RetryDecision::RetryAfter(delay)
                if facts.body_replayable && delay < facts.time_left =>
            {
                Next::RetryAfter(delay)
            }
            _ => Next::Done,
        }
    }
}

/// Turns 64 random bits into a jitter value in `[0, 1)` for [`AttemptFacts::jitter`].
#[must_use]
pub fn jitter_from_random(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    fn facts(token: Option<&AccessToken>) -> AttemptFacts<'_> {
        AttemptFacts {
            now: NOW,
            jitter: 1.0,
            time_left: Duration::from_secs(60),
            body_replayable: true,
            token,
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy::default()
            .max_attempts(3)
            .backoff(Duration::from_millis(10), Duration::from_millis(40))
    }

    fn status(code: u16, headers: &HeaderMap) -> AttemptOutcome<'_> {
        AttemptOutcome::Response {
            status: StatusCode::from_u16(code).unwrap(),
            headers,
        }
    }

    #[test]
    fn retries_then_stops_at_max_attempts() {
        let h = HeaderMap::new();
        let mut call = Call::new(Method::GET, false, false, fast());
        assert_eq!(
            call.next(status(503, &h), facts(None)),
            Next::RetryAfter(Duration::from_millis(10))
        );
        assert_eq!(
            call.next(status(503, &h), facts(None)),
            Next::RetryAfter(Duration::from_millis(20))
        );
        assert_eq!(call.next(status(503, &h), facts(None)), Next::Done);
        assert_eq!(call.attempts(), 3);
    }

    #[test]
    fn one_401_replay_per_call_with_the_rejected_token_and_a_fresh_segment() {
        let h = HeaderMap::new();
        let old = AccessToken::new("old");
        let new = AccessToken::new("new");
        let mut call = Call::new(Method::GET, false, true, fast());
        assert_eq!(
            call.next(status(503, &h), facts(Some(&old))),
            Next::RetryAfter(Duration::from_millis(10))
        );
        assert_eq!(
            call.next(status(401, &h), facts(Some(&old))),
            Next::RefreshTokenAndReplay {
                rejected: old.clone()
            }
        );
        assert!(call.replayed());
        // The replay has max_attempts of its own.
        assert!(matches!(
            call.next(status(503, &h), facts(Some(&new))),
            Next::RetryAfter(_)
        ));
        assert!(matches!(
            call.next(status(503, &h), facts(Some(&new))),
            Next::RetryAfter(_)
        ));
        assert_eq!(call.next(status(503, &h), facts(Some(&new))), Next::Done);
        let mut call = Call::new(Method::GET, false, true, fast());
        assert!(matches!(
            call.next(status(401, &h), facts(Some(&old))),
            Next::RefreshTokenAndReplay { .. }
        ));
        assert_eq!(call.next(status(401, &h), facts(Some(&new))), Next::Done);
    }

    #[test]
    fn a_401_is_final_without_token_for_an_oauth_call_or_a_spent_reader() {
        let h = HeaderMap::new();
        let t = AccessToken::new("t");
        let mut token_request = Call::new(Method::POST, false, false, fast());
        assert_eq!(
            token_request.next(status(401, &h), facts(Some(&t))),
            Next::Done
        );
        let mut no_token = Call::new(Method::GET, false, true, fast());
        assert_eq!(no_token.next(status(401, &h), facts(None)), Next::Done);
        let mut spent = Call::new(Method::POST, true, true, fast());
        let f = AttemptFacts {
            body_replayable: false,
            ..facts(Some(&t))
        };
        assert_eq!(spent.next(status(401, &h), f), Next::Done);
    }

    #[test]
    fn a_retry_must_end_before_the_deadline_and_have_a_body_to_send() {
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, "5".parse().unwrap());
        let mut call = Call::new(Method::GET, false, false, fast());
        let short = AttemptFacts {
            time_left: Duration::from_secs(5),
            ..facts(None)
        };
        assert_eq!(call.next(status(429, &h), short), Next::Done);
        let mut call = Call::new(Method::GET, false, false, fast());
        let roomy = AttemptFacts {
            time_left: Duration::from_secs(6),
            ..facts(None)
        };
        assert_eq!(
            call.next(status(429, &h), roomy),
            Next::RetryAfter(Duration::from_secs(5))
        );
        let mut call = Call::new(Method::POST, true, true, fast());
        let spent = AttemptFacts {
            body_replayable: false,
            ..facts(None)
        };
        let lost = AttemptOutcome::Transport {
            may_have_reached_server: false,
        };
        assert_eq!(call.next(lost, spent), Next::Done);
    }

    #[test]
    fn unrepeatable_failures_and_keyless_posts_that_reached_the_server_stop() {
        let mut call = Call::new(Method::GET, false, false, fast());
        assert_eq!(
            call.next(AttemptOutcome::Unrepeatable, facts(None)),
            Next::Done
        );
        let reached = AttemptOutcome::Transport {
            may_have_reached_server: true,
        };
        let unsent = AttemptOutcome::Transport {
            may_have_reached_server: false,
        };
        let mut keyless = Call::new(Method::POST, false, true, fast());
        assert_eq!(keyless.next(reached, facts(None)), Next::Done);
        let mut keyless = Call::new(Method::POST, false, true, fast());
        assert!(matches!(
            keyless.next(unsent, facts(None)),
            Next::RetryAfter(_)
        ));
        let mut keyed = Call::new(Method::POST, true, true, fast());
        assert!(matches!(
            keyed.next(reached, facts(None)),
            Next::RetryAfter(_)
        ));
    }

    #[test]
    fn the_attempt_budget_is_capped_by_the_deadline() {
        let call = Call::new(Method::GET, false, false, fast());
        let s = Duration::from_secs;
        assert_eq!(call.attempt_budget(s(5), s(60)), Some(s(5)));
        assert_eq!(call.attempt_budget(s(60), s(3)), Some(s(3)));
        assert_eq!(call.attempt_budget(s(60), Duration::ZERO), None);
    }

    #[test]
    fn jitter_stays_in_the_unit_interval() {
        assert_eq!(jitter_from_random(0), 0.0);
        assert!(jitter_from_random(u64::MAX) < 1.0);
        assert!(jitter_from_random(u64::MAX) > 0.999);
    }

    /// One attempt as the property test generates it.
    #[derive(Clone, Debug)]
    enum Gen {
        Status(u16, Option<u64>),
        Transport(bool),
        Unrepeatable,
    }

    fn attempt() -> impl Strategy<Value = (Gen, f64, u64, bool, bool)> {
        let outcome = prop_oneof![
            4 => (prop_oneof![Just(200u16), Just(201), Just(204), Just(401), Just(404),
                              Just(408), Just(409), Just(429), Just(500), Just(502), Just(503),
                              100u16..600],
                  proptest::option::of(0u64..40))
                .prop_map(|(s, r)| Gen::Status(s, r)),
            2 => any::<bool>().prop_map(Gen::Transport),
            1 => Just(Gen::Unrepeatable),
        ];
        (
            outcome,
            any::<f64>(),
            0u64..20_000,
            prop::bool::weighted(0.85),
            prop::bool::weighted(0.9),
        )
    }

    fn method() -> impl Strategy<Value = Method> {
        prop_oneof![
            Just(Method::GET),
            Just(Method::POST),
            Just(Method::DELETE),
            Just(Method::PUT),
            Just(Method::PATCH)
        ]
    }

    proptest! {
        #[test]
        fn the_loop_an_adapter_runs_keeps_every_promise(
            method in method(),
            has_key in any::<bool>(),
            authenticated in any::<bool>(),
            max_attempts in 1u32..6,
            attempts in proptest::collection::vec(attempt(), 1..40),
        ) {
            let policy = RetryPolicy::default()
                .max_attempts(max_attempts)
                .backoff(Duration::from_millis(100), Duration::from_secs(2))
                .max_retry_after(Duration::from_secs(20));
            let replay_safe = crate::is_idempotent(&method) || has_key;
            let mut call = Call::new(method, has_key, authenticated, policy);
            let mut token = AccessToken::new("tok-0");
            let (mut in_segment, mut replays, mut sends) = (0u32, 0u32, 0u32);
            let mut done = false;
            for (generated, jitter, left_ms, replayable, with_token) in attempts {
                sends += 1;
                in_segment += 1;
                let mut headers = HeaderMap::new();
                let outcome = match &generated {
                    Gen::Status(code, retry_after) => {
                        if let Some(secs) = retry_after {
                            headers.insert(http::header::RETRY_AFTER, secs.to_string().parse().unwrap());
                        }
                        AttemptOutcome::Response {
                            status: StatusCode::from_u16(*code).unwrap(),
                            headers: &headers,
                        }
                    }
                    Gen::Transport(reached) => AttemptOutcome::Transport { may_have_reached_server: *reached },
                    Gen::Unrepeatable => AttemptOutcome::Unrepeatable,
                };
                let time_left = Duration::from_millis(left_ms);
                let sent_token = (authenticated && with_token).then_some(&token);
                let next = call.next(outcome, AttemptFacts {
                    now: NOW, jitter, time_left, body_replayable: replayable, token: sent_token,
                });
                prop_assert_eq!(call.attempts(), sends);
                match next {
                    Next::Done => { done = true; break; }
                    Next::RetryAfter(delay) => {
                        prop_assert!(in_segment < max_attempts, "never more than max_attempts per segment");
                        prop_assert!(delay < time_left, "never retries past the deadline");
                        prop_assert!(replayable, "never resends a body that cannot be sent again");
                        match generated {
                            Gen::Status(code, _) => {
                                prop_assert!(crate::is_retryable_status(StatusCode::from_u16(code).unwrap()));
                                prop_assert!(replay_safe);
                            }
                            Gen::Transport(reached) => prop_assert!(replay_safe || !reached),
                            Gen::Unrepeatable => prop_assert!(false, "an unrepeatable failure is never retried"),
                        }
                    }
                    Next::RefreshTokenAndReplay { rejected } => {
                        prop_assert!(matches!(generated, Gen::Status(401, _)));
                        prop_assert!(authenticated && replayable);
                        prop_assert_eq!(Some(&rejected), sent_token);
                        replays += 1;
                        prop_assert!(replays <= 1, "at most one replay per call");
                        in_segment = 0;
                        token = AccessToken::new("tok-1");
                    }
                }
                if let Gen::Status(code, _) = generated {
                    prop_assert!(!(200..300).contains(&code), "a 2xx is always Done");
                }
            }
            prop_assert!(sends <= 2 * max_attempts);
            if !done {
                prop_assert!(in_segment < max_attempts || sends == 0);
            }
        }
    }
}
