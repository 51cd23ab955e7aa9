//! The lifecycle of one logical call, sans-IO: the driver an adapter's loop runs.
//!
//! A call is more than one request: it may need an access token first (fetched once for every
//! caller sharing a [`TokenSlot`]), it is retried as the [`RetryPolicy`] says, it is replayed once
//! with a new token after a `401`, and it ends by its deadline. [`Call`] holds all of that; an
//! adapter only moves bytes:
//!
//! ```text
//! loop {
//!     match call.poll(now, &mut tokens) {          // tokens: behind the adapter's lock
//!         Next::Send(out) => call.receive(send(out.request, out.timeout), replayable),
//!         Next::Wait(until) => sleep or wait for the token slot's wake-up, at most until `until`,
//!         Next::Done(result) => return result,
//!     }
//! }
//! ```
//!
//! The token request is an ordinary endpoint ([`RequestToken`](crate::RequestToken)) sent through
//! the same `Send` step, so the adapter cannot tell it from the call's own request and needs no
//! code for it. [`TokenCall`] is the same driver for "just give me the current token".
//!
//! # Time and randomness
//!
//! Every decision takes [`Now`]: a monotonic instant for deadlines, back-off and leases, and the
//! wall clock for token expiry and `Retry-After` dates. The random bytes that make an idempotency
//! key and the back-off jitter are given once, when the call is made. The same inputs give the
//! same steps, so the lifecycle is property-tested without a network or a clock
//! (`tests/exchange.rs`).
//!
//! # Sharing a token among callers
//!
//! A [`TokenSlot`] is shared by every call of one client: the adapter keeps it behind its lock
//! (a `Mutex`, for instance) and passes it to each `poll`. The slot decides who fetches a token
//! (one caller at a time), what the others do meanwhile (wait, each until its own deadline at
//! most), when a failed fetch is tried again (`429`, `5xx` and connection failures, as the retry
//! policy says, whichever caller is still waiting), and what every waiter gets when it finally
//! fails. Refused credentials are never retried, and are remembered for
//! [`Settings::token_refusal_memory`] so that a misconfigured service does not send a token request
//! per call. After a `poll`, [`TokenSlot::take_wake`] says whether callers waiting on the slot
//! should be woken (a condition variable's `notify_all`, a `Notify::notify_waiters`); an adapter
//! with a single caller can ignore it.

mod call;
mod error;
mod tokens;

use std::time::{Duration, Instant, SystemTime};

pub use call::Call;
pub use error::{
    CallError, Fault, SourceError, SourceErrorKind, Stage, TransportError, TransportErrorKind,
};
pub use tokens::{TokenCall, TokenInfo, TokenSlot};

use crate::body::OutgoingBody;
use crate::config::Config;
use crate::retry::RetryPolicy;
use crate::secret::Credentials;

/// Default time one attempt may take, connection to last response byte: 60 s (long enough for a
/// 16 MiB upload over a slow uplink).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Default time one logical call may take, token fetch, retries and back-off included: 3 min. A
/// retry whose delay would end after it is not made.
pub const DEFAULT_OVERALL_TIMEOUT: Duration = Duration::from_secs(180);

/// Default time refused credentials are remembered: 10 s. Within it, calls fail with the refusal at
/// once instead of each sending a token request that will be refused again.
pub const DEFAULT_TOKEN_REFUSAL_MEMORY: Duration = Duration::from_secs(10);

/// The time as an adapter reads it, once per step.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Now {
    /// A monotonic instant: deadlines, attempt budgets, back-off, leases.
    pub instant: Instant,
    /// The wall clock: token expiry, `Retry-After` given as an HTTP date.
    pub wall: SystemTime,
}

impl Now {
    /// Both clocks, read by the caller (`Instant::now()` and `SystemTime::now()` in an adapter).
    #[must_use]
    pub fn new(instant: Instant, wall: SystemTime) -> Self {
        Self { instant, wall }
    }

    /// `by` later on both clocks (for tests and simulations).
    #[must_use]
    pub fn later(self, by: Duration) -> Self {
        Self {
            instant: self.instant.checked_add(by).unwrap_or(self.instant),
            wall: self.wall.checked_add(by).unwrap_or(self.wall),
        }
    }
}

/// Everything a client needs to run calls: where ([`Config`]), as whom ([`Credentials`]), and the
/// rules every call follows. Both adapters' builders fill one in; your own adapter can too.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Settings {
    /// The API configuration.
    pub config: Config,
    /// The client credentials.
    pub credentials: Credentials,
    /// The retry policy ([`RetryPolicy::never`] disables retries).
    pub retry: RetryPolicy,
    /// The time one attempt may take, connection to last response byte.
    pub attempt_timeout: Duration,
    /// The time one logical call may take, token fetch, retries and back-off included.
    pub overall_timeout: Duration,
    /// How long refused credentials (`400`, `401` or `403` from the token endpoint) are
    /// remembered; zero sends a token request for every call again.
    pub token_refusal_memory: Duration,
}

impl Settings {
    /// The settings for `config` and `credentials`, with every default: [`RetryPolicy::default`],
    /// [`DEFAULT_ATTEMPT_TIMEOUT`], [`DEFAULT_OVERALL_TIMEOUT`], [`DEFAULT_TOKEN_REFUSAL_MEMORY`].
    #[must_use]
    pub fn new(config: Config, credentials: Credentials) -> Self {
        Self {
            config,
            credentials,
            retry: RetryPolicy::default(),
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            overall_timeout: DEFAULT_OVERALL_TIMEOUT,
            token_refusal_memory: DEFAULT_TOKEN_REFUSAL_MEMORY,
        }
    }
}

/// The time one attempt may take (connect, send, receive the whole response), already shortened
/// to what is left of the call's deadline. Every request a [`Next::Send`] carries has it in its
/// extensions, so a transport that only sees the request can respect it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AttemptTimeout(pub Duration);

/// What a request is sent for (adapters need not care; tracing may).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Purpose {
    /// The access token request, made on behalf of every caller sharing the token slot.
    Token,
    /// The call's own request.
    Call,
}

/// One request to send, and the time it may take.
#[derive(Debug)]
#[non_exhaustive]
pub struct Outgoing {
    /// The request, with [`AttemptTimeout`] in its extensions. Its body is JSON bytes, or a
    /// multipart upload whose file part may have to be streamed from the adapter's source.
    pub request: http::Request<OutgoingBody>,
    /// The time the attempt may take, the same as its [`AttemptTimeout`]. A transport that cannot
    /// be bounded whole must be abandoned when it passes.
    pub timeout: Duration,
    /// What it is sent for.
    pub purpose: Purpose,
}

/// What the adapter does next.
#[derive(Debug)]
#[must_use]
pub enum Next<T> {
    /// Send this request, then report what came of it with [`Exchange::receive`].
    Send(Box<Outgoing>),
    /// Nothing to do before this instant: sleep until then, or wait for the token slot's wake-up
    /// (whichever comes first), then poll again. Waking early is harmless.
    Wait(Instant),
    /// The call is over: its result.
    Done(Result<T, CallError>),
}

/// What came of one attempt, as the adapter saw it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Reply {
    /// A complete response arrived, whatever its status (a `404` or a `503` is a response).
    Response(http::Response<Vec<u8>>),
    /// No complete response arrived. [`TransportErrorKind::InvalidRequest`] means the HTTP stack
    /// refused the request as built: it is never retried.
    Transport(TransportError),
    /// The local source of a streamed upload failed: never retried.
    Source(SourceError),
}

/// A driver the adapter's loop runs: [`Call`] (one operation) or [`TokenCall`] (the current token).
pub trait Exchange {
    /// What the call returns when it succeeds.
    type Output;

    /// Says what to do next. `tokens` is the slot shared by every call of the client.
    fn poll(&mut self, now: Now, tokens: &mut TokenSlot) -> Next<Self::Output>;

    /// Reports what came of the request the last [`Next::Send`] gave. `replayable` says whether
    /// the request's body could be sent again whole (`false` once bytes of a one-shot reader were
    /// read; always `true` for a body held in memory).
    fn receive(&mut self, reply: Reply, replayable: bool);

    /// The caller gives up (its future was dropped, say): hands a token fetch it holds to the next
    /// waiter at once instead of when its lease runs out. Harmless at any other time.
    fn release(&mut self, tokens: &mut TokenSlot);
}

/// The back-off jitter stream of one call: deterministic from the call's random bytes.
#[derive(Clone, Debug)]
struct Jitter(u64);

impl Jitter {
    fn new(random: [u8; 16]) -> Self {
        let word = |bytes: &[u8]| {
            bytes
                .iter()
                .rev()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        };
        let (low, high) = random.split_at(8);
        let mut state = word(low) ^ word(high).rotate_left(32);
        splitmix(&mut state);
        Self(state)
    }

    /// A number in `[0, 1)`.
    fn next(&mut self) -> f64 {
        let bits = splitmix(&mut self.0);
        (bits >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// SplitMix64: a well-mixed 64-bit stream from any seed.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `timeout` after `now`, or a year after it when the clock cannot count that far.
fn deadline_after(now: Instant, timeout: Duration) -> Instant {
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}

/// The transport error of a call whose deadline passed before it could go on.
fn deadline_passed(what: &'static str) -> CallError {
    TransportError::new(TransportErrorKind::Timeout, false)
        .with_source(what)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_the_unit_interval_and_depends_on_every_byte() {
        let mut a = Jitter::new([0; 16]);
        let mut b = Jitter::new([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let (x, y) = (a.next(), b.next());
        assert!((0.0..1.0).contains(&x) && (0.0..1.0).contains(&y));
        assert_ne!(x, y);
        for _ in 0..1000 {
            let j = a.next();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
