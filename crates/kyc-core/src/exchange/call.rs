//! [`Call`]: one logical call of one endpoint, from validation to its typed result.

use std::time::Instant;

use http::StatusCode;

use crate::endpoint::{Endpoint, IdempotencyKey, build_request, parse_response, validate};
use crate::error::InvalidInput;
use crate::retry::{Outcome, RetryDecision};
use crate::secret::AccessToken;

use super::tokens::{Acquire, Acquired};
use super::{
    AttemptTimeout, CallError, Exchange, Jitter, Next, Now, Outgoing, Purpose, Reply, Settings,
    TokenSlot, TransportErrorKind, deadline_after, deadline_passed,
};

/// The reply to the last request sent, waiting for the next poll to be judged.
#[derive(Debug)]
struct Pending {
    reply: Reply,
    replayable: bool,
    purpose: Purpose,
}

/// The driver of one logical call of endpoint `E`: validation, the idempotency key, the token,
/// every attempt, retries, the replay after a `401`, the deadline, and the typed result. An
/// adapter runs it with [`Exchange::poll`] and [`Exchange::receive`] (see the
/// [module documentation](crate::exchange)).
///
/// Rules, in order, for each answer to the call's own request:
///
/// 1. A `2xx` response is parsed with [`parse_response`]: done.
/// 2. A failure that would repeat identically (the HTTP stack refused the request as built, the
///    upload source failed) is returned: done.
/// 3. A `401` to an authenticated call, when it was not replayed yet and its body can be sent
///    again: the rejected token is dropped from the slot, a token is obtained again (a new one
///    unless another caller already replaced it) and the request is sent at once with it. At most
///    once per call; the attempt count starts again for the replay.
/// 4. Otherwise the retry policy decides, with the attempt number since the start or the replay;
///    a retry is made only if the body can be sent again and its delay ends before the deadline.
///    Anything else is returned as it is: an [`ApiError`](crate::ApiError) for a response, the
///    transport's error otherwise.
///
/// So a call sends at most `max_attempts` requests before a replay and `max_attempts` after it,
/// every one with the same idempotency key, and none after its deadline.
#[derive(Debug)]
pub struct Call<'a, E: Endpoint> {
    settings: &'a Settings,
    endpoint: &'a E,
    key: Option<IdempotencyKey>,
    deadline: Instant,
    jitter: Jitter,
    acquire: Acquire,
    token: Option<AccessToken>,
    in_flight: Option<Purpose>,
    pending: Option<Pending>,
    retry_at: Option<Instant>,
    attempts: u32,
    attempts_in_segment: u32,
    replayed: bool,
    finished: bool,
}

impl<'a, E: Endpoint> Call<'a, E> {
    /// A call of `endpoint` with `settings`, made at `now`. `random` is 16 bytes drawn at random
    /// for this call: they seed the back-off jitter, and a creating call makes its idempotency key
    /// of them (128 bits, hex) unless the request carries the caller's
    /// ([`Endpoint::idempotency_key`]).
    ///
    /// Everything that can be refused without a request is refused here, so refused input costs
    /// nothing, not even a token request.
    ///
    /// # Errors
    ///
    /// A [`CallError`] whose fault is the [`InvalidInput`](crate::Fault::InvalidInput) the
    /// endpoint or the credentials are refused for.
    pub fn new(
        settings: &'a Settings,
        endpoint: &'a E,
        random: [u8; 16],
        now: Now,
    ) -> Result<Self, CallError> {
        let key = E::CREATES.then(|| {
            endpoint
                .idempotency_key()
                .cloned()
                .unwrap_or_else(|| IdempotencyKey::from_random_bytes(random))
        });
        Self::build(settings, endpoint, key, random, now)
    }

    /// As [`Call::new`], with the caller's idempotency key instead of one drawn from `random`
    /// (a job that stored the key of an earlier attempt sends the same one again). For an
    /// endpoint that creates nothing, the key is not sent.
    ///
    /// # Errors
    ///
    /// As [`Call::new`].
    pub fn with_idempotency_key(
        settings: &'a Settings,
        endpoint: &'a E,
        key: IdempotencyKey,
        random: [u8; 16],
        now: Now,
    ) -> Result<Self, CallError> {
        Self::build(settings, endpoint, E::CREATES.then_some(key), random, now)
    }

    fn build(
        settings: &'a Settings,
        endpoint: &'a E,
        key: Option<IdempotencyKey>,
        random: [u8; 16],
        now: Now,
    ) -> Result<Self, CallError> {
        validate(&settings.config, endpoint)?;
        if E::AUTHENTICATED {
            crate::auth::check_credentials(&settings.credentials)?;
        }
        Ok(Self {
            settings,
            endpoint,
            key,
            deadline: deadline_after(now.instant, settings.overall_timeout),
            jitter: Jitter::new(random),
            acquire: Acquire::new(),
            token: None,
            in_flight: None,
            pending: None,
            retry_at: None,
            attempts: 0,
            attempts_in_segment: 0,
            replayed: false,
            finished: false,
        })
    }

    /// The idempotency key every attempt of this call carries (creating calls only).
    #[must_use]
    pub fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        self.key.as_ref()
    }

    /// The instant after which the call sends nothing more.
    #[must_use]
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Answers to the call's own request judged so far (token requests not counted).
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether the one replay after a `401` was used.
    #[must_use]
    pub fn replayed(&self) -> bool {
        self.replayed
    }

    fn finish(&mut self, result: Result<E::Output, CallError>) -> Next<E::Output> {
        self.finished = true;
        // Every error of a creating call carries the key it was sent with, so the caller can
        // reconcile, or create again under the same key.
        let result = match (result, &self.key) {
            (Err(error), Some(key)) => Err(error.with_idempotency_key(Some(key.clone()))),
            (result, _) => result,
        };
        Next::Done(result)
    }

    /// Judges the answer to the call's own request: `Some` step when the call is done, `None`
    /// when it goes on (a retry was scheduled, or a replay with a new token).
    fn judge(
        &mut self,
        pending: Pending,
        now: Now,
        tokens: &mut TokenSlot,
    ) -> Option<Next<E::Output>> {
        self.attempts = self.attempts.saturating_add(1);
        self.attempts_in_segment = self.attempts_in_segment.saturating_add(1);
        let Pending {
            reply, replayable, ..
        } = pending;
        let outcome = match &reply {
            Reply::Source(_) => None,
            Reply::Transport(e) if e.kind() == TransportErrorKind::InvalidRequest => None,
            Reply::Transport(e) => Some(Outcome::Transport {
                may_have_reached_server: e.may_have_reached_server(),
            }),
            Reply::Response(r) if r.status().is_success() => None,
            Reply::Response(r) => {
                if r.status() == StatusCode::UNAUTHORIZED
                    && E::AUTHENTICATED
                    && !self.replayed
                    && replayable
                {
                    if let Some(rejected) = self.token.take() {
                        tokens.on_unauthorized(&rejected);
                        self.replayed = true;
                        self.attempts_in_segment = 0;
                        return None;
                    }
                }
                Some(Outcome::Response {
                    status: r.status(),
                    headers: r.headers(),
                })
            }
        };
        if let Some(outcome) = outcome {
            let replay_safe =
                E::idempotent() || (self.key.is_some() && self.settings.retry.resends_creates());
            let decision = self.settings.retry.decide(
                replay_safe,
                outcome,
                self.attempts_in_segment,
                self.jitter.next(),
                now.wall,
            );
            let left = self.deadline.saturating_duration_since(now.instant);
            if let RetryDecision::RetryAfter(delay) = decision {
                if replayable && delay < left {
                    self.retry_at = Some(deadline_after(now.instant, delay));
                    return None;
                }
            }
        }
        let result = match reply {
            Reply::Response(response) => parse_response::<E, _>(&response).map_err(CallError::from),
            Reply::Transport(e) => Err(CallError::new(e)),
            Reply::Source(e) => Err(CallError::new(e)),
        };
        Some(self.finish(result))
    }
}

impl<E: Endpoint> Exchange for Call<'_, E> {
    type Output = E::Output;

    fn poll(&mut self, now: Now, tokens: &mut TokenSlot) -> Next<E::Output> {
        if self.finished {
            return Next::Done(Err(InvalidInput::Finished.into()));
        }
        if let Some(pending) = self.pending.take() {
            match pending.purpose {
                Purpose::Token => {
                    let acquired = self.acquire.on_reply(
                        pending.reply,
                        now,
                        tokens,
                        self.settings,
                        &mut self.jitter,
                    );
                    match acquired {
                        Some(Acquired::Token(token)) => self.token = Some(token),
                        Some(Acquired::Failed(error)) => return self.finish(Err(error)),
                        _ => {}
                    }
                }
                Purpose::Call => {
                    if let Some(step) = self.judge(pending, now, tokens) {
                        return step;
                    }
                }
            }
        }
        if let Some(at) = self.retry_at {
            if now.instant < at {
                return Next::Wait(at);
            }
            self.retry_at = None;
        }
        if E::AUTHENTICATED && self.token.is_none() {
            match self.acquire.poll(now, tokens, self.settings, self.deadline) {
                Acquired::Token(token) => self.token = Some(token),
                Acquired::Send(out) => {
                    self.in_flight = Some(Purpose::Token);
                    return Next::Send(out);
                }
                Acquired::Wait(until) => return Next::Wait(until),
                Acquired::Failed(error) => return self.finish(Err(error)),
            }
        }
        let left = self.deadline.saturating_duration_since(now.instant);
        if left.is_zero() {
            return self.finish(Err(deadline_passed("the call's overall deadline passed")));
        }
        let budget = self.settings.attempt_timeout.min(left);
        let request = build_request(
            &self.settings.config,
            self.endpoint,
            self.token.as_ref(),
            self.key.as_ref(),
        );
        match request {
            Ok(request) => {
                let mut request = request.map(Into::into);
                request.extensions_mut().insert(AttemptTimeout(budget));
                self.in_flight = Some(Purpose::Call);
                Next::Send(Box::new(Outgoing {
                    request,
                    timeout: budget,
                    purpose: Purpose::Call,
                }))
            }
            Err(e) => self.finish(Err(e.into())),
        }
    }

    fn receive(&mut self, reply: Reply, replayable: bool) {
        if let Some(purpose) = self.in_flight.take() {
            self.pending = Some(Pending {
                reply,
                replayable,
                purpose,
            });
        }
    }

    fn release(&mut self, tokens: &mut TokenSlot) {
        self.acquire.release(tokens);
    }
}
