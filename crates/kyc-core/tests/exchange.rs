//! The lifecycle of calls, tested purely: callers sharing one `TokenSlot` run on a virtual clock
//! against a scripted server, with no network and no sleeping. A deterministic scenario per rule,
//! then a property test over arbitrary servers, policies and interleavings.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use kyc_core::{
    Call, CallError, Config, Country, CreateSession, Credentials, Environment, Exchange, Fault,
    GetSession, Next, Now, Purpose, Reply, RetryPolicy, Settings, Stage, TokenCall, TokenSlot,
    TransportError, TransportErrorKind,
};
use proptest::prelude::*;

const SECOND: Duration = Duration::from_secs(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What the scripted server does with one request.
#[derive(Clone, Debug)]
enum Answer {
    /// A token, valid for this many seconds (token endpoint) or a session (any other).
    Ok,
    /// This status with the API's error body, and maybe `Retry-After` seconds.
    Status(u16, Option<u64>),
    /// No response: the connection failed (after the request may have reached the server, or
    /// not).
    Broken { reached: bool },
    /// The server never answers: the attempt times out.
    Silent,
}

/// One request the simulated callers sent.
#[derive(Clone, Debug)]
struct Sent {
    caller: usize,
    at: Duration,
    /// When the attempt ended (answer, failure or timeout).
    done: Duration,
    timeout: Duration,
    purpose: Purpose,
    key: Option<String>,
    token: Option<String>,
}

/// What a finished caller got.
#[derive(Debug)]
struct Finished {
    at: Duration,
    result: Result<(), String>,
    error_status: Option<u16>,
    during_token: bool,
}

/// Any driver, with its output reduced to "ok".
trait Driver {
    fn step(&mut self, now: Now, slot: &mut TokenSlot) -> Next<()>;
    fn answer(&mut self, reply: Reply, replayable: bool);
    fn give_up(&mut self, slot: &mut TokenSlot);
}

impl<X: Exchange> Driver for X {
    fn step(&mut self, now: Now, slot: &mut TokenSlot) -> Next<()> {
        match Exchange::poll(self, now, slot) {
            Next::Send(out) => Next::Send(out),
            Next::Wait(until) => Next::Wait(until),
            Next::Done(result) => Next::Done(result.map(drop)),
        }
    }
    fn answer(&mut self, reply: Reply, replayable: bool) {
        Exchange::receive(self, reply, replayable);
    }
    fn give_up(&mut self, slot: &mut TokenSlot) {
        Exchange::release(self, slot);
    }
}

enum State {
    /// Polls at this time.
    Ready(Duration),
    Sending {
        done_at: Duration,
        reply: Option<Reply>,
    },
    Waiting(Duration),
    Finished(Finished),
}

struct Caller<'a> {
    driver: Box<dyn Driver + 'a>,
    state: State,
    /// Reports the body spent after its first attempt (a one-shot reader).
    one_shot: bool,
    /// Gives up (its future dropped) as soon as it is handed a token request to send.
    abandons: bool,
    sent_own: usize,
}

/// The simulation: callers, one slot, a virtual clock and a scripted server.
struct Sim<'a> {
    base: Now,
    slot: TokenSlot,
    callers: Vec<Caller<'a>>,
    token_answers: Vec<(Answer, Duration)>,
    call_answers: Vec<(Answer, Duration)>,
    token_lifetime: u64,
    sent: Vec<Sent>,
    served_tokens: usize,
    /// When each refused token request ended, and its index in `sent`.
    refusals: Vec<(Duration, usize)>,
    steps: usize,
}

impl<'a> Sim<'a> {
    fn new(settings: &Settings) -> Self {
        Self {
            base: Now::new(
                Instant::now(),
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            ),
            slot: TokenSlot::new(settings),
            callers: Vec::new(),
            token_answers: Vec::new(),
            call_answers: Vec::new(),
            token_lifetime: 3600,
            sent: Vec::new(),
            served_tokens: 0,
            refusals: Vec::new(),
            steps: 0,
        }
    }

    fn now(&self, at: Duration) -> Now {
        self.base.later(at)
    }

    fn offset(&self, instant: Instant) -> Duration {
        instant.saturating_duration_since(self.base.instant)
    }

    fn add<X: Exchange + 'a>(&mut self, x: X, start: Duration, one_shot: bool) {
        self.callers.push(Caller {
            driver: Box::new(x),
            state: State::Ready(start),
            one_shot,
            abandons: false,
            sent_own: 0,
        });
    }

    fn call<E: kyc_core::Endpoint + 'a>(
        &mut self,
        settings: &'a Settings,
        endpoint: &'a E,
        random: u8,
        start: Duration,
        one_shot: bool,
    ) {
        let call = Call::new(settings, endpoint, [random; 16], self.now(start)).unwrap();
        self.add(call, start, one_shot);
    }

    fn answer(&mut self, purpose: Purpose) -> (Reply, Duration) {
        let list = match purpose {
            Purpose::Token => &mut self.token_answers,
            _ => &mut self.call_answers,
        };
        let (answer, latency) = if list.is_empty() {
            (Answer::Ok, ms(5))
        } else {
            list.remove(0)
        };
        let response = |status: u16, body: String, retry_after: Option<u64>| {
            let mut b = http::Response::builder()
                .status(status)
                .header("x-request-id", "req-1");
            if let Some(s) = retry_after {
                b = b.header("retry-after", s.to_string());
            }
            Reply::Response(b.body(body.into_bytes()).unwrap())
        };
        let reply = match answer {
            Answer::Ok if purpose == Purpose::Token => {
                self.served_tokens += 1;
                response(
                    200,
                    format!(
                        r#"{{"access_token":"tok-{}","expires_in":{}}}"#,
                        self.served_tokens, self.token_lifetime
                    ),
                    None,
                )
            }
            Answer::Ok => response(200, r#"{"data":{"id":"iss-1"}}"#.to_owned(), None),
            Answer::Status(status, retry_after) => response(
                status,
                r#"{"error":{"message":"no","details":[{"code":"x"}]}}"#.to_owned(),
                retry_after,
            ),
            Answer::Broken { reached } => {
                Reply::Transport(TransportError::new(TransportErrorKind::Connection, reached))
            }
            Answer::Silent => {
                return (
                    Reply::Transport(TransportError::new(TransportErrorKind::Timeout, true)),
                    Duration::MAX,
                );
            }
        };
        (reply, latency)
    }

    /// Runs every caller to its end; panics if the simulation does not terminate.
    fn run(&mut self) {
        loop {
            self.steps += 1;
            assert!(self.steps < 100_000, "the simulation does not terminate");
            let next = self
                .callers
                .iter()
                .enumerate()
                .filter_map(|(i, c)| match &c.state {
                    State::Ready(t) | State::Waiting(t) => Some((*t, i)),
                    State::Sending { done_at, .. } => Some((*done_at, i)),
                    State::Finished(_) => None,
                })
                .min();
            let Some((at, i)) = next else { return };
            let now = self.now(at);
            let caller = &mut self.callers[i];
            if let State::Sending { reply, .. } = &mut caller.state {
                let replayable = !(caller.one_shot && caller.sent_own > 0);
                caller.driver.answer(reply.take().unwrap(), replayable);
            }
            let step = caller.driver.step(now, &mut self.slot);
            let state = match step {
                Next::Send(out) => {
                    let key = out
                        .request
                        .headers()
                        .get("x-idempotency-key")
                        .map(|v| v.to_str().unwrap().to_owned());
                    let token = out
                        .request
                        .headers()
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_owned());
                    if out.purpose == Purpose::Call {
                        self.callers[i].sent_own += 1;
                    }
                    if out.purpose == Purpose::Token && self.callers[i].abandons {
                        // Dropped before anything was sent.
                        self.callers[i].driver.give_up(&mut self.slot);
                        State::Finished(Finished {
                            at,
                            result: Err("abandoned".to_owned()),
                            error_status: None,
                            during_token: false,
                        })
                    } else {
                        let (mut reply, latency) = self.answer(out.purpose);
                        let took = if latency > out.timeout {
                            reply = Reply::Transport(TransportError::new(
                                TransportErrorKind::Timeout,
                                true,
                            ));
                            out.timeout
                        } else {
                            latency
                        };
                        if out.purpose == Purpose::Token
                            && matches!(&reply, Reply::Response(r) if matches!(r.status().as_u16(), 400 | 401 | 403))
                        {
                            self.refusals.push((at + took, self.sent.len()));
                        }
                        self.sent.push(Sent {
                            caller: i,
                            at,
                            done: at + took,
                            timeout: out.timeout,
                            purpose: out.purpose,
                            key,
                            token,
                        });
                        State::Sending {
                            done_at: at + took,
                            reply: Some(reply),
                        }
                    }
                }
                Next::Wait(until) => {
                    let until = self.offset(until);
                    assert!(until >= at, "a wait never ends in the past");
                    State::Waiting(until)
                }
                Next::Done(result) => {
                    let (error_status, during_token) = match &result {
                        Err(e) => (e.status().map(|s| s.as_u16()), e.stage == Stage::Token),
                        Ok(()) => (None, false),
                    };
                    State::Finished(Finished {
                        at,
                        result: result.map_err(|e| format!("{e}")),
                        error_status,
                        during_token,
                    })
                }
            };
            self.callers[i].state = state;
            if self.slot.take_wake() {
                for c in &mut self.callers {
                    if let State::Waiting(t) = c.state {
                        c.state = State::Ready(t.min(at));
                    }
                }
            }
        }
    }

    fn finished(&self, i: usize) -> &Finished {
        match &self.callers[i].state {
            State::Finished(f) => f,
            _ => panic!("caller {i} did not finish"),
        }
    }

    fn count(&self, purpose: Purpose) -> usize {
        self.sent.iter().filter(|s| s.purpose == purpose).count()
    }
}

fn settings(policy: RetryPolicy) -> Settings {
    let config = Config::new(Environment::Sandbox).unwrap();
    let mut s = Settings::new(config, Credentials::new("cli-1", "secret"));
    s.retry = policy;
    s.attempt_timeout = 2 * SECOND;
    s.overall_timeout = 20 * SECOND;
    s
}

fn fast() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(3)
        .backoff(ms(100), ms(400))
        .max_retry_after(5 * SECOND)
}

#[test]
fn concurrent_callers_share_one_token_request() {
    let s = settings(fast());
    let get = GetSession::new("iss-1");
    let mut sim = Sim::new(&s);
    sim.token_answers.push((Answer::Ok, ms(300)));
    for i in 0..5 {
        sim.call(&s, &get, i, ms(u64::from(i) * 10), false);
    }
    sim.run();
    assert_eq!(sim.count(Purpose::Token), 1);
    assert_eq!(sim.count(Purpose::Call), 5);
    for i in 0..5 {
        assert!(sim.finished(i).result.is_ok());
    }
}

#[test]
fn a_transient_token_failure_is_retried_for_every_waiter() {
    let s = settings(fast());
    let get = GetSession::new("iss-1");
    let mut sim = Sim::new(&s);
    sim.token_answers.push((Answer::Status(503, None), ms(50)));
    sim.token_answers.push((Answer::Ok, ms(50)));
    for i in 0..4 {
        sim.call(&s, &get, i, Duration::ZERO, false);
    }
    sim.run();
    assert_eq!(
        sim.count(Purpose::Token),
        2,
        "one 503, one success: {:?}",
        sim.sent
    );
    for i in 0..4 {
        assert!(sim.finished(i).result.is_ok(), "{:?}", sim.finished(i));
    }
}

#[test]
fn a_waiter_with_time_left_outlives_a_fetcher_whose_deadline_passed() {
    let mut short = settings(fast());
    short.overall_timeout = SECOND;
    let long = settings(fast());
    let get = GetSession::new("iss-1");
    let mut sim = Sim::new(&long);
    // The first token request hangs past the short caller's deadline.
    sim.token_answers.push((Answer::Silent, Duration::ZERO));
    sim.token_answers.push((Answer::Ok, ms(10)));
    sim.call(&short, &get, 1, Duration::ZERO, false);
    sim.call(&long, &get, 2, ms(10), false);
    sim.run();
    let first = sim.finished(0);
    assert!(first.result.is_err());
    assert!(
        first.at <= SECOND,
        "gives up at its own deadline: {:?}",
        first.at
    );
    assert!(sim.finished(1).result.is_ok(), "{:?}", sim.finished(1));
    assert_eq!(
        sim.sent[0].timeout, SECOND,
        "the fetch runs under its holder's budget"
    );
}

#[test]
fn refused_credentials_fail_every_waiter_once_and_are_remembered() {
    let mut s = settings(fast());
    s.token_refusal_memory = 10 * SECOND;
    let get = GetSession::new("iss-1");
    let mut sim = Sim::new(&s);
    sim.token_answers.push((Answer::Status(401, None), ms(100)));
    sim.token_answers.push((Answer::Ok, ms(10)));
    for i in 0..3 {
        sim.call(&s, &get, i, Duration::ZERO, false);
    }
    // Within the memory: refused without a request. After it: a new request, which succeeds.
    sim.call(&s, &get, 9, 5 * SECOND, false);
    sim.call(&s, &get, 10, 11 * SECOND, false);
    sim.run();
    for i in 0..4 {
        let f = sim.finished(i);
        assert!(f.during_token && f.error_status == Some(401), "{f:?}");
    }
    assert!(sim.finished(4).result.is_ok());
    assert_eq!(sim.count(Purpose::Token), 2);
}

#[test]
fn a_released_ticket_goes_to_the_next_waiter_at_once() {
    let s = settings(fast());
    let get = GetSession::new("iss-1");
    let now = Now::new(Instant::now(), SystemTime::UNIX_EPOCH);
    let mut slot = TokenSlot::new(&s);
    let mut a = Call::new(&s, &get, [1; 16], now).unwrap();
    let mut b = Call::new(&s, &get, [2; 16], now).unwrap();
    let Next::Send(first) = a.poll(now, &mut slot) else {
        panic!()
    };
    assert_eq!(first.purpose, Purpose::Token);
    assert!(matches!(b.poll(now, &mut slot), Next::Wait(_)));
    a.release(&mut slot);
    assert!(slot.take_wake());
    let Next::Send(second) = b.poll(now.later(ms(1)), &mut slot) else {
        panic!()
    };
    assert_eq!(second.purpose, Purpose::Token);
}

#[test]
fn a_lapsed_lease_is_taken_over_and_the_late_answer_is_harmless() {
    let s = settings(fast());
    let get = GetSession::new("iss-1");
    let now = Now::new(Instant::now(), SystemTime::UNIX_EPOCH);
    let mut slot = TokenSlot::new(&s);
    let mut a = Call::new(&s, &get, [1; 16], now).unwrap();
    let mut b = Call::new(&s, &get, [2; 16], now).unwrap();
    let Next::Send(_) = a.poll(now, &mut slot) else {
        panic!()
    };
    let Next::Wait(until) = b.poll(now, &mut slot) else {
        panic!()
    };
    assert_eq!(
        until,
        now.instant + 2 * SECOND,
        "waits for the holder's lease"
    );
    let later = now.later(2 * SECOND);
    let Next::Send(out) = b.poll(later, &mut slot) else {
        panic!()
    };
    assert_eq!(out.purpose, Purpose::Token);
    // The first holder's answer arrives late: a token is still a token.
    let token = http::Response::builder()
        .status(200)
        .body(br#"{"access_token":"late","expires_in":600}"#.to_vec())
        .unwrap();
    a.receive(Reply::Response(token), true);
    let Next::Send(call) = a.poll(later, &mut slot) else {
        panic!()
    };
    assert_eq!(call.request.headers()["authorization"], "Bearer late");
}

#[test]
fn a_create_keeps_its_key_through_retries_and_a_replay() {
    let s = settings(fast());
    let create = CreateSession::new("usr-1", Country::Arg);
    let mut sim = Sim::new(&s);
    sim.call_answers.push((Answer::Status(503, None), ms(5)));
    sim.call_answers
        .push((Answer::Broken { reached: true }, ms(5)));
    sim.call_answers.push((Answer::Status(401, None), ms(5)));
    sim.call_answers.push((Answer::Status(502, None), ms(5)));
    sim.call(&s, &create, 7, Duration::ZERO, false);
    sim.run();
    assert!(sim.finished(0).result.is_ok(), "{:?}", sim.finished(0));
    let keys: HashSet<_> = sim
        .sent
        .iter()
        .filter(|x| x.purpose == Purpose::Call)
        .map(|x| x.key.clone().unwrap())
        .collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(sim.count(Purpose::Call), 5);
    assert_eq!(sim.count(Purpose::Token), 2, "a new token after the 401");
}

#[test]
fn a_create_carrying_the_callers_key_sends_it_on_every_attempt_and_its_error_names_it() {
    let s = settings(fast());
    let key = kyc_core::IdempotencyKey::new("job-42-create").unwrap();
    let create = CreateSession::new("usr-1", Country::Arg).idempotency_key(key.clone());
    let mut sim = Sim::new(&s);
    sim.call_answers = vec![(Answer::Status(503, None), ms(5)); 3];
    sim.call(&s, &create, 1, Duration::ZERO, false);
    sim.run();
    let keys: Vec<_> = sim
        .sent
        .iter()
        .filter(|x| x.purpose == Purpose::Call)
        .map(|x| x.key.clone())
        .collect();
    assert_eq!(keys, vec![Some("job-42-create".to_owned()); 3]);
    let finished = sim.finished(0);
    assert_eq!(finished.error_status, Some(503));
    assert!(
        finished
            .result
            .as_ref()
            .unwrap_err()
            .contains("job-42-create")
    );
}

#[test]
fn a_policy_that_does_not_resend_creates_stops_once_the_server_may_have_the_create() {
    let s = settings(fast().resend_creates(false));
    let create = CreateSession::new("usr-1", Country::Arg);
    let get = GetSession::new("iss-1");
    let mut sim = Sim::new(&s);
    // Never sent (connection refused): retried. A 401: not processed, replayed with a new
    // token. A 503: the create may have been applied: returned, not resent.
    sim.call_answers = vec![
        (Answer::Broken { reached: false }, ms(5)),
        (Answer::Status(401, None), ms(5)),
        (Answer::Status(503, None), ms(5)),
        (Answer::Status(503, None), ms(5)),
    ];
    sim.call(&s, &create, 1, Duration::ZERO, false);
    sim.run();
    assert_eq!(sim.count(Purpose::Call), 3);
    assert_eq!(sim.finished(0).error_status, Some(503));
    // A read is still retried.
    sim.call(&s, &get, 2, 10 * SECOND, false);
    sim.run();
    assert!(sim.finished(1).result.is_ok());
    assert_eq!(sim.count(Purpose::Call), 5);
}

#[test]
fn the_caller_may_bring_its_own_idempotency_key() {
    let s = settings(fast());
    let create = CreateSession::new("usr-1", Country::Arg);
    let key = kyc_core::IdempotencyKey::new("job-42-create").unwrap();
    let now = Now::new(Instant::now(), SystemTime::UNIX_EPOCH);
    let call = Call::with_idempotency_key(&s, &create, key.clone(), [0; 16], now).unwrap();
    assert_eq!(call.idempotency_key(), Some(&key));
}

#[test]
fn a_token_call_returns_the_cached_token_without_a_request() {
    let s = settings(fast());
    let mut sim = Sim::new(&s);
    let t1 = TokenCall::new(&s, [1; 16], sim.now(Duration::ZERO)).unwrap();
    let t2 = TokenCall::new(&s, [2; 16], sim.now(SECOND)).unwrap();
    sim.add(t1, Duration::ZERO, false);
    sim.add(t2, SECOND, false);
    sim.run();
    assert!(sim.finished(0).result.is_ok() && sim.finished(1).result.is_ok());
    assert_eq!(sim.count(Purpose::Token), 1);
}

#[test]
fn refused_input_and_empty_credentials_are_refused_before_any_step() {
    let s = settings(fast());
    let now = Now::new(Instant::now(), SystemTime::UNIX_EPOCH);
    let bad = GetSession::new("..");
    assert!(matches!(
        Call::new(&s, &bad, [0; 16], now),
        Err(CallError {
            fault: Fault::InvalidInput(_),
            ..
        })
    ));
    let mut empty = s.clone();
    empty.credentials = Credentials::new("", "");
    let get = GetSession::new("iss-1");
    assert!(Call::new(&empty, &get, [0; 16], now).is_err());
    assert!(TokenCall::new(&empty, [0; 16], now).is_err());
}

#[test]
fn a_finished_call_polled_again_says_so() {
    let s = settings(RetryPolicy::never());
    let get = GetSession::new("iss-1");
    let now = Now::new(Instant::now(), SystemTime::UNIX_EPOCH);
    let mut slot = TokenSlot::new(&s);
    let mut call = Call::new(&s, &get, [0; 16], now).unwrap();
    let Next::Send(_) = call.poll(now, &mut slot) else {
        panic!()
    };
    call.receive(
        Reply::Transport(TransportError::new(TransportErrorKind::Connect, false)),
        true,
    );
    assert!(matches!(
        call.poll(now, &mut slot),
        Next::Done(Err(CallError {
            stage: Stage::Token,
            ..
        }))
    ));
    assert!(matches!(
        call.poll(now, &mut slot),
        Next::Done(Err(CallError {
            fault: Fault::InvalidInput(kyc_core::InvalidInput::Finished),
            ..
        }))
    ));
}

// ---------------------------------------------------------------- properties

fn answer() -> impl Strategy<Value = (Answer, Duration)> {
    let answer = prop_oneof![
        5 => Just(Answer::Ok),
        1 => Just(Answer::Status(401, None)),
        1 => Just(Answer::Status(404, None)),
        2 => Just(Answer::Status(503, None)),
        1 => (0u64..4).prop_map(|s| Answer::Status(429, Some(s))),
        1 => Just(Answer::Status(500, None)),
        1 => any::<bool>().prop_map(|reached| Answer::Broken { reached }),
        1 => Just(Answer::Silent),
    ];
    (answer, (0u64..3000).prop_map(ms))
}

#[derive(Clone, Debug)]
struct Plan {
    max_attempts: u32,
    attempt_ms: u64,
    overall_ms: u64,
    memory_s: u64,
    lifetime_s: u64,
    /// Per caller: starts at (ms), creates (vs gets), one-shot body, shorter deadline, abandons.
    callers: Vec<(u64, bool, bool, bool, bool)>,
    token_answers: Vec<(Answer, Duration)>,
    call_answers: Vec<(Answer, Duration)>,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        1u32..5,
        200u64..4000,
        500u64..15_000,
        prop_oneof![Just(0u64), Just(5)],
        prop_oneof![Just(3600u64), 0u64..20],
        proptest::collection::vec(
            (
                0u64..5000,
                any::<bool>(),
                prop::bool::weighted(0.2),
                prop::bool::weighted(0.3),
                prop::bool::weighted(0.1),
            ),
            1..7,
        ),
        proptest::collection::vec(answer(), 0..12),
        proptest::collection::vec(answer(), 0..20),
    )
        .prop_map(
            |(
                max_attempts,
                attempt_ms,
                overall_ms,
                memory_s,
                lifetime_s,
                callers,
                token_answers,
                call_answers,
            )| Plan {
                max_attempts,
                attempt_ms,
                overall_ms,
                memory_s,
                lifetime_s,
                callers,
                token_answers,
                call_answers,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_call_keeps_every_promise(plan in plan()) {
        let policy = RetryPolicy::default()
            .max_attempts(plan.max_attempts)
            .backoff(ms(50), ms(800))
            .max_retry_after(2 * SECOND);
        let mut s = settings(policy);
        s.attempt_timeout = ms(plan.attempt_ms);
        s.overall_timeout = ms(plan.overall_ms);
        s.token_refusal_memory = Duration::from_secs(plan.memory_s);
        let mut short = s.clone();
        short.overall_timeout = ms(plan.overall_ms / 3);
        let get = GetSession::new("iss-1");
        let create = CreateSession::new("usr-1", Country::Arg);
        let mut sim = Sim::new(&s);
        sim.token_lifetime = plan.lifetime_s;
        sim.token_answers = plan.token_answers.clone();
        sim.call_answers = plan.call_answers.clone();
        let mut deadlines = Vec::new();
        for (i, (start, creates, one_shot, is_short, abandons)) in plan.callers.iter().enumerate() {
            let settings = if *is_short { &short } else { &s };
            let start = ms(*start);
            if *creates {
                sim.call(settings, &create, i as u8, start, *one_shot);
            } else {
                sim.call(settings, &get, i as u8, start, *one_shot);
            }
            sim.callers[i].abandons = *abandons;
            deadlines.push(start + settings.overall_timeout);
        }
        sim.run();

        // At most one token request in flight at any time.
        let tokens: Vec<&Sent> = sim.sent.iter().filter(|x| x.purpose == Purpose::Token).collect();
        for pair in tokens.windows(2) {
            prop_assert!(pair[1].at >= pair[0].done, "token requests overlap: {pair:?}");
        }
        // No token request while refused credentials are remembered.
        if plan.memory_s > 0 {
            for (refused, index) in &sim.refusals {
                let memory = Duration::from_secs(plan.memory_s);
                // (The refused request itself may start at the same instant: zero latency.)
                let mut later = sim.sent.iter().enumerate().filter(|(j, x)| j != index && x.purpose == Purpose::Token);
                prop_assert!(!later.any(|(_, t)| t.at >= *refused && t.at < *refused + memory),
                    "a token request inside the refusal memory after {refused:?}");
            }
        }
        let replays_bound: usize = sim.sent.iter().filter(|x| x.purpose == Purpose::Call).count();
        prop_assert!(tokens.len() <= plan.max_attempts as usize * (2 * plan.callers.len() + replays_bound),
            "{} token requests", tokens.len());

        let max = plan.max_attempts as usize;
        for (i, (_, creates, one_shot, _, _)) in plan.callers.iter().enumerate() {
            let finished = sim.finished(i);
            prop_assert!(finished.at <= deadlines[i], "caller {i} ended after its deadline");
            let own: Vec<&Sent> = sim.sent.iter().filter(|x| x.caller == i).collect();
            for sent in &own {
                prop_assert!(sent.at < deadlines[i], "caller {i} sent at or after its deadline");
                prop_assert!(sent.at + sent.timeout <= deadlines[i], "an attempt outlives the deadline");
                prop_assert!(sent.timeout <= ms(plan.attempt_ms));
            }
            let calls: Vec<&&Sent> = own.iter().filter(|x| x.purpose == Purpose::Call).collect();
            prop_assert!(calls.len() <= 2 * max, "caller {i}: {} attempts", calls.len());
            if *one_shot {
                prop_assert!(calls.len() <= 1, "a spent body is never resent");
            }
            let tokens_used: HashSet<_> = calls.iter().map(|c| c.token.clone()).collect();
            prop_assert!(tokens_used.len() <= 2, "at most one replay with a new token");
            let keys: HashSet<_> = calls.iter().map(|c| c.key.clone()).collect();
            if *creates {
                prop_assert!(keys.len() <= 1 && !keys.contains(&None), "a create never changes key");
            } else {
                prop_assert!(keys.iter().all(Option::is_none));
            }
        }
        // Keys differ between calls.
        let mut by_key: HashMap<String, usize> = HashMap::new();
        for sent in sim.sent.iter().filter(|x| x.purpose == Purpose::Call) {
            if let Some(key) = &sent.key {
                let owner = *by_key.entry(key.clone()).or_insert(sent.caller);
                prop_assert_eq!(owner, sent.caller);
            }
        }
    }
}
