//! The token slot every call of a client shares, and each caller's way through it.
//!
//! One *fetch sequence* runs at a time: it starts when a caller needs a token and none is valid,
//! and ends when a token arrives or the sequence fails for good. Within it, one caller at a time
//! holds the *ticket* and sends the token request, under a lease as long as its attempt may take;
//! the others wait. A transient failure (`429`, `5xx`, a connection failure) opens the sequence
//! again after the retry policy's back-off, and whichever caller is still waiting then takes the
//! next ticket; so a call with minutes left is not failed by a `503` that a call with seconds left
//! happened to receive. The sequence fails for good when the policy stops (refused credentials at
//! once; anything else after `max_attempts` attempts in all), and every caller that was waiting
//! on it gets that failure. A caller gives up at its own deadline, never at another's.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::auth::{RequestToken, TokenCache, TokenGrant};
use crate::endpoint::{Endpoint, build_request, parse_response};
use crate::retry::{Outcome, RetryDecision};
use crate::secret::AccessToken;

use super::{
    AttemptTimeout, CallError, Exchange, Jitter, Next, Now, Outgoing, Purpose, Reply, Settings,
    TransportErrorKind, deadline_after, deadline_passed,
};

/// The current access token, its type and when it expires, as a client's `token()` returns it.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct TokenInfo {
    /// The bearer token (`Debug` redacts it).
    pub access_token: AccessToken,
    /// The token type the server gave (`Bearer` when it gave none).
    pub token_type: String,
    /// When it expires, as the token response said.
    pub expires_at: Option<SystemTime>,
}

/// Where the current fetch sequence stands.
#[derive(Debug)]
enum Flight {
    /// No sequence in progress.
    Idle,
    /// The holder of `ticket` is sending attempt number `attempts` of the sequence; its lease
    /// ends when that attempt's time is up.
    Fetching {
        ticket: u64,
        lease: Instant,
        attempts: u32,
        last: Option<Arc<CallError>>,
    },
    /// No one holds the ticket: the next attempt may start at `not_before` (at once when `None`).
    Open {
        not_before: Option<Instant>,
        attempts: u32,
        last: Option<Arc<CallError>>,
    },
}

/// The token state of one client, shared by all its calls: the cached token, who is fetching the
/// next one, how the last fetch ended. Keep it behind the adapter's lock and pass it to every
/// [`Exchange::poll`]; it never reads a clock.
#[derive(Debug)]
pub struct TokenSlot {
    cache: TokenCache,
    flight: Flight,
    /// The number of the current (or last) fetch sequence.
    sequence: u64,
    /// How sequence `.0` failed, for the callers that waited on it.
    failure: Option<(u64, Arc<CallError>)>,
    /// Refused credentials, remembered until `.0`.
    refused: Option<(Instant, Arc<CallError>)>,
    tickets: u64,
    wake: bool,
}

impl TokenSlot {
    /// An empty slot for a client with these settings.
    #[must_use]
    pub fn new(settings: &Settings) -> Self {
        Self {
            cache: TokenCache::new(settings.config.token_margin()),
            flight: Flight::Idle,
            sequence: 0,
            failure: None,
            refused: None,
            tickets: 0,
            wake: false,
        }
    }

    /// Whether callers waiting on the slot should be woken (something they wait for changed),
    /// and resets the flag. Call it after every [`Exchange::poll`] and [`Exchange::release`].
    pub fn take_wake(&mut self) -> bool {
        std::mem::take(&mut self.wake)
    }

    /// The cached token, if it may still be used at `now`.
    #[must_use]
    pub fn valid_token(&self, now: SystemTime) -> Option<&AccessToken> {
        self.cache.valid_token(now)
    }

    /// Whether a token request is in flight.
    #[must_use]
    pub fn is_fetching(&self) -> bool {
        matches!(self.flight, Flight::Fetching { .. })
    }

    /// Forgets the cached token and any remembered refusal (after a revoke, for instance): the
    /// next call fetches a new token.
    pub fn clear(&mut self) {
        self.cache.clear();
        self.refused = None;
        self.wake = true;
    }

    /// A `401` answered a call made with `rejected`: drops it unless another caller already
    /// replaced it.
    pub(crate) fn on_unauthorized(&mut self, rejected: &AccessToken) {
        self.cache.on_unauthorized(rejected);
    }

    /// `token` with the type and expiry the cache holds for it.
    pub(crate) fn info(&self, token: &AccessToken) -> TokenInfo {
        TokenInfo {
            access_token: token.clone(),
            token_type: self.cache.token_type().unwrap_or("Bearer").to_owned(),
            expires_at: self.cache.expires_at(),
        }
    }

    /// Ends the current sequence with `error`, for every caller that waited on it.
    fn fail_sequence(&mut self, error: Arc<CallError>) {
        self.flight = Flight::Idle;
        self.failure = Some((self.sequence, error));
        self.wake = true;
    }
}

/// What a caller's token acquisition says.
#[derive(Debug)]
pub(crate) enum Acquired {
    /// Use this token.
    Token(AccessToken),
    /// Send the token request.
    Send(Box<Outgoing>),
    /// Wait for another caller's fetch, or for the back-off, at most until then.
    Wait(Instant),
    /// No token: the call fails with this.
    Failed(CallError),
}

#[derive(Clone, Copy, Debug)]
enum State {
    /// Not waiting on any sequence.
    Start,
    /// Waiting on sequence `sequence`.
    Joined { sequence: u64 },
    /// Holding `ticket` of `sequence`; the request left at `sent_at`.
    Fetching {
        sequence: u64,
        ticket: u64,
        sent_at: SystemTime,
    },
}

/// One caller's way through the [`TokenSlot`].
#[derive(Debug)]
pub(crate) struct Acquire {
    state: State,
}

/// Whether a token endpoint's status refuses the credentials themselves (never retried, and
/// remembered): `400` (audience, grant), `401`, `403`.
fn is_refusal(status: http::StatusCode) -> bool {
    matches!(status.as_u16(), 400 | 401 | 403)
}

impl Acquire {
    pub(crate) fn new() -> Self {
        Self {
            state: State::Start,
        }
    }

    /// Whether a token request of this caller is in flight.
    pub(crate) fn is_fetching(&self) -> bool {
        matches!(self.state, State::Fetching { .. })
    }

    /// What this caller does to get a token now.
    pub(crate) fn poll(
        &mut self,
        now: Now,
        slot: &mut TokenSlot,
        settings: &Settings,
        deadline: Instant,
    ) -> Acquired {
        if let Some((until, error)) = &slot.refused {
            if now.instant < *until {
                self.state = State::Start;
                return Acquired::Failed(error.as_ref().clone().in_token_stage());
            }
            slot.refused = None;
        }
        if let Some(token) = slot.cache.valid_token(now.wall) {
            self.state = State::Start;
            return Acquired::Token(token.clone());
        }
        if let State::Joined { sequence } | State::Fetching { sequence, .. } = self.state {
            if let Some((failed, error)) = &slot.failure {
                if *failed == sequence {
                    self.state = State::Start;
                    return Acquired::Failed(error.as_ref().clone().in_token_stage());
                }
            }
        }
        if now.instant >= deadline {
            self.state = State::Start;
            return Acquired::Failed(deadline_passed(
                "the call's deadline passed while waiting for a token",
            ));
        }
        let max_attempts = settings.retry.max_attempts;
        let (attempts, last) = match &mut slot.flight {
            Flight::Idle => {
                slot.sequence += 1;
                (0, None)
            }
            Flight::Fetching {
                lease,
                attempts,
                last,
                ..
            } => {
                if now.instant < *lease {
                    self.state = State::Joined {
                        sequence: slot.sequence,
                    };
                    return Acquired::Wait((*lease).min(deadline));
                }
                // The holder's lease ran out without an answer: its attempt counts as failed.
                (*attempts, last.take())
            }
            Flight::Open {
                not_before,
                attempts,
                last,
            } => match *not_before {
                Some(at) if now.instant < at => {
                    if at >= deadline {
                        // The next attempt would start after this call's deadline: stop now
                        // with what the last attempt said.
                        self.state = State::Start;
                        return Acquired::Failed(match last {
                            Some(error) => error.as_ref().clone().in_token_stage(),
                            None => deadline_passed(
                                "the call's deadline passed while waiting for a token",
                            ),
                        });
                    }
                    self.state = State::Joined {
                        sequence: slot.sequence,
                    };
                    return Acquired::Wait(at);
                }
                _ => (*attempts, last.take()),
            },
        };
        if attempts >= max_attempts {
            // Only a lapsed lease gets here: the policy's attempts are spent.
            let error = last
                .unwrap_or_else(|| Arc::new(deadline_passed("no token request answered in time")));
            slot.fail_sequence(error.clone());
            self.state = State::Start;
            return Acquired::Failed(error.as_ref().clone().in_token_stage());
        }
        self.take(now, slot, settings, deadline, attempts + 1, last)
    }

    /// Takes the ticket for attempt `attempts` of the current sequence.
    fn take(
        &mut self,
        now: Now,
        slot: &mut TokenSlot,
        settings: &Settings,
        deadline: Instant,
        attempts: u32,
        last: Option<Arc<CallError>>,
    ) -> Acquired {
        let request = RequestToken {
            credentials: &settings.credentials,
        };
        let request = match build_request(&settings.config, &request, None, None) {
            Ok(request) => request,
            Err(e) => {
                let error = Arc::new(CallError::from(e));
                slot.fail_sequence(error.clone());
                self.state = State::Start;
                return Acquired::Failed(error.as_ref().clone().in_token_stage());
            }
        };
        let budget = settings
            .attempt_timeout
            .min(deadline.saturating_duration_since(now.instant));
        slot.tickets += 1;
        let ticket = slot.tickets;
        slot.flight = Flight::Fetching {
            ticket,
            lease: deadline_after(now.instant, budget),
            attempts,
            last,
        };
        self.state = State::Fetching {
            sequence: slot.sequence,
            ticket,
            sent_at: now.wall,
        };
        let mut request = request.map(Into::into);
        request.extensions_mut().insert(AttemptTimeout(budget));
        Acquired::Send(Box::new(Outgoing {
            request,
            timeout: budget,
            purpose: Purpose::Token,
        }))
    }

    /// Takes in the answer to this caller's token request: `Some` when the caller is done with
    /// the slot (a token, or the sequence's final failure), `None` to poll again.
    pub(crate) fn on_reply(
        &mut self,
        reply: Reply,
        now: Now,
        slot: &mut TokenSlot,
        settings: &Settings,
        jitter: &mut Jitter,
    ) -> Option<Acquired> {
        let State::Fetching {
            sequence,
            ticket,
            sent_at,
        } = self.state
        else {
            return None;
        };
        self.state = State::Joined { sequence };
        // The attempt number, when this caller still holds the ticket: if its lease ran out and
        // another caller took the ticket, only that caller's word counts.
        let attempts = match slot.flight {
            Flight::Fetching {
                ticket: t,
                attempts,
                ..
            } if t == ticket => Some(attempts),
            _ => None,
        };
        let mut decide = |outcome| match attempts {
            Some(attempts) => settings.retry.decide(
                RequestToken::idempotent(),
                outcome,
                attempts,
                jitter.next(),
                now.wall,
            ),
            None => RetryDecision::Stop,
        };
        let (error, decision, refused) = match reply {
            Reply::Response(response) => match parse_response::<RequestToken<'_>, _>(&response) {
                Ok(grant) => return Some(self.store(grant, sent_at, attempts.is_some(), slot)),
                Err(e) => {
                    let refused = is_refusal(response.status());
                    let decision = if refused {
                        RetryDecision::Stop
                    } else {
                        decide(Outcome::Response {
                            status: response.status(),
                            headers: response.headers(),
                        })
                    };
                    (CallError::from(e), decision, refused)
                }
            },
            Reply::Transport(e) => {
                let decision = if e.kind() == TransportErrorKind::InvalidRequest {
                    RetryDecision::Stop
                } else {
                    decide(Outcome::Transport {
                        may_have_reached_server: e.may_have_reached_server(),
                    })
                };
                (CallError::new(e), decision, false)
            }
            Reply::Source(e) => (CallError::new(e), RetryDecision::Stop, false),
        };
        let attempts = attempts?;
        let error = Arc::new(error);
        match decision {
            RetryDecision::RetryAfter(delay) => {
                slot.flight = Flight::Open {
                    not_before: Some(deadline_after(now.instant, delay)),
                    attempts,
                    last: Some(error),
                };
                slot.wake = true;
                None
            }
            RetryDecision::Stop => {
                if refused && !settings.token_refusal_memory.is_zero() {
                    let until = deadline_after(now.instant, settings.token_refusal_memory);
                    slot.refused = Some((until, error.clone()));
                }
                slot.fail_sequence(error.clone());
                self.state = State::Start;
                Some(Acquired::Failed(error.as_ref().clone().in_token_stage()))
            }
        }
    }

    fn store(
        &mut self,
        grant: TokenGrant,
        sent_at: SystemTime,
        current: bool,
        slot: &mut TokenSlot,
    ) -> Acquired {
        let token = slot.cache.store(grant, sent_at).clone();
        if current {
            slot.flight = Flight::Idle;
            slot.failure = None;
        }
        slot.wake = true;
        self.state = State::Start;
        Acquired::Token(token)
    }

    /// Gives up: a held ticket goes to the next waiter at once.
    pub(crate) fn release(&mut self, slot: &mut TokenSlot) {
        if let State::Fetching { ticket, .. } = self.state {
            if let Flight::Fetching {
                ticket: t,
                attempts,
                last,
                ..
            } = &mut slot.flight
            {
                if *t == ticket {
                    slot.flight = Flight::Open {
                        not_before: None,
                        attempts: *attempts,
                        last: last.take(),
                    };
                    slot.wake = true;
                }
            }
        }
        self.state = State::Start;
    }
}

/// The driver of "the current access token": the cached one while it is fresh, otherwise one
/// fetched through the shared [`TokenSlot`], with the same rules as a [`Call`](crate::Call).
#[derive(Debug)]
pub struct TokenCall<'a> {
    settings: &'a Settings,
    deadline: Instant,
    jitter: Jitter,
    acquire: Acquire,
    pending: Option<Reply>,
    finished: bool,
}

impl<'a> TokenCall<'a> {
    /// A token call with `settings`, made at `now`; `random` drives the back-off jitter.
    ///
    /// # Errors
    ///
    /// A [`CallError`] whose fault is [`InvalidInput::Empty`](crate::InvalidInput::Empty) when the
    /// client id or secret is empty.
    pub fn new(settings: &'a Settings, random: [u8; 16], now: Now) -> Result<Self, CallError> {
        crate::auth::check_credentials(&settings.credentials)?;
        Ok(Self {
            settings,
            deadline: deadline_after(now.instant, settings.overall_timeout),
            jitter: Jitter::new(random),
            acquire: Acquire::new(),
            pending: None,
            finished: false,
        })
    }
}

impl Exchange for TokenCall<'_> {
    type Output = TokenInfo;

    fn poll(&mut self, now: Now, tokens: &mut TokenSlot) -> Next<TokenInfo> {
        if self.finished {
            return Next::Done(Err(crate::InvalidInput::Finished.into()));
        }
        let mut acquired = None;
        if let Some(reply) = self.pending.take() {
            acquired = self
                .acquire
                .on_reply(reply, now, tokens, self.settings, &mut self.jitter);
        }
        let acquired = match acquired {
            Some(a) => a,
            None => self.acquire.poll(now, tokens, self.settings, self.deadline),
        };
        match acquired {
            Acquired::Token(token) => {
                self.finished = true;
                Next::Done(Ok(tokens.info(&token)))
            }
            Acquired::Send(out) => Next::Send(out),
            Acquired::Wait(until) => Next::Wait(until),
            Acquired::Failed(error) => {
                self.finished = true;
                Next::Done(Err(error))
            }
        }
    }

    fn receive(&mut self, reply: Reply, _replayable: bool) {
        if self.acquire.is_fetching() {
            self.pending = Some(reply);
        }
    }

    fn release(&mut self, tokens: &mut TokenSlot) {
        self.acquire.release(tokens);
    }
}
