//! Configuration of a [`MockServer`](crate::MockServer): credentials, lifetimes, limits, the outcome
//! rule's default and where webhooks go.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::chaos::WebhookChaos;
use crate::faults::{Fault, RandomFaults};

/// Default OAuth client id accepted by `POST /oauth/token`.
pub const DEFAULT_CLIENT_ID: &str = "kyc-mock-client";
/// Default OAuth client secret accepted by `POST /oauth/token`.
pub const DEFAULT_CLIENT_SECRET: &str = "kyc-mock-secret";
/// Default OAuth audience (Pomelo's production audience).
pub const DEFAULT_AUDIENCE: &str = "https://auth.pomelo.la";
/// Default webhook `X-Api-Key`: the example pair Pomelo publishes (reference §8.4).
pub const DEFAULT_WEBHOOK_API_KEY: &str = "Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA=";
/// Default webhook secret (base64): the example pair Pomelo publishes (reference §8.4).
pub const DEFAULT_WEBHOOK_SECRET: &str = "uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=";
/// Default largest accepted uploaded file: 64 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
/// Default most connections served at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default time a client has to send a whole request body once its head arrived.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default largest `data.user_id` plus `data.personal_data` a session stores, as compact JSON.
pub const DEFAULT_MAX_PERSONAL_DATA_BYTES: usize = 16 * 1024;
/// Default most webhook notifications on their way at once (held, being attempted or waiting to
/// retry, with their duplicates).
pub const DEFAULT_WEBHOOK_MAX_PENDING: usize = 10_000;

/// The terminal result a session reaches when no marker in its user id decides otherwise.
///
/// See the crate documentation for the whole outcome rule.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The session ends `VALIDATED` with every step `SUCCESS`.
    Validated,
    /// The session ends `NOT_VALIDATED` with this `reason`.
    NotValidated {
        /// The reason reported in the session and in the webhook, e.g. `DOCUMENT_MISMATCH`.
        reason: String,
    },
    /// The session waits in `PROCESSING` until someone decides, from the console, the admin API
    /// or [`MockServer::decide`](crate::MockServer::decide) (markers in the user id still apply).
    Manual,
}

/// A decision taken by hand on a session that is not final yet: from the console, the admin API
/// (`POST /_admin/sessions/{id}/outcome`) or [`MockServer::decide`](crate::MockServer::decide).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// `VALIDATED`, every step `SUCCESS`, and the validation-session notification.
    Validated,
    /// `NOT_VALIDATED` with `reason`, and the validation-session notification.
    NotValidated {
        /// The reason, e.g. `DOCUMENT_MISMATCH`.
        reason: String,
    },
    /// Back to `IN_PROGRESS` asking for `documents` again, with the required-file notification;
    /// uploading them restarts processing.
    RequireFiles {
        /// The document types asked for (`identity-card-back`, `company-document`…).
        documents: Vec<String>,
        /// Why, e.g. `ILLEGIBLE_DOCUMENT`.
        reason: String,
    },
}

/// Settings for [`MockServer::start`](crate::MockServer::start). Build it with
/// [`MockConfig::new`] (or `default()`) and the chained setters.
///
/// ```
/// use std::time::Duration;
/// let config = kyc_mock::MockConfig::new()
///     .token_lifetime(Duration::from_secs(2))
///     .processing_delay(Duration::ZERO);
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct MockConfig {
    pub(crate) bind_addr: SocketAddr,
    pub(crate) danger_allow_non_loopback: bool,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) audience: String,
    pub(crate) token_lifetime: Duration,
    pub(crate) session_lifetime: Duration,
    pub(crate) processing_delay: Duration,
    pub(crate) default_outcome: Outcome,
    pub(crate) max_upload_bytes: usize,
    pub(crate) max_sessions: usize,
    pub(crate) max_connections: usize,
    pub(crate) body_read_timeout: Duration,
    pub(crate) max_personal_data_bytes: usize,
    pub(crate) max_recorded_requests: usize,
    pub(crate) webhook_urls: Vec<String>,
    pub(crate) required_file_webhook_url: Option<String>,
    pub(crate) webhook_api_key: String,
    pub(crate) webhook_secret: String,
    pub(crate) webhook_timeout: Duration,
    pub(crate) webhook_max_attempts: u32,
    pub(crate) webhook_retry_delay: Duration,
    pub(crate) webhook_chaos: WebhookChaos,
    pub(crate) webhook_seed: Option<u64>,
    pub(crate) webhook_max_pending: usize,
    pub(crate) notify_processing: bool,
    pub(crate) alternatives: Vec<Alternative>,
    pub(crate) strict_audience: bool,
    pub(crate) random_faults: Option<RandomFaults>,
}

/// The audiences of Pomelo's environments (reference §2): the simulator accepts each of them, and
/// its own, unless [`MockConfig::strict_audience`] is set.
pub const KNOWN_AUDIENCES: [&str; 3] = [
    "https://auth.pomelo.la",
    "https://auth-staging.pomelo.la",
    "https://auth-dev.pomelo.la",
];

/// A way a real Pomelo account may differ from this project's guesses where Pomelo's reference is
/// silent (docs/wire-conventions.md, "When your Pomelo account differs"). The simulator plays
/// each on request ([`MockConfig::alternative`], `--alternative NAME`), so that every override of
/// the client has an end-to-end test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Alternative {
    /// Get session answers at `/identity/v1/session/{id}` (Pomelo's English pages); a get on
    /// the plural path is `404`.
    SingularGetPath,
    /// Webhook digests written in lowercase hex instead of base64.
    HexSignatures,
    /// Search pages numbered from 1: `page[number]=1` is the first page, `current_page` counts
    /// from 1, and a request without `page[number]` gets page 1.
    OneBasedPages,
    /// Search ignores `page[number]`: every request gets the first page (the metadata still
    /// counts every page).
    IgnoresPageNumber,
    /// Search metadata always says `current_page: 0`, whatever page it is.
    StuckCurrentPage,
    /// `x-idempotency-key` is ignored: a repeated create makes another session, a repeated
    /// upload is applied again.
    IgnoresIdempotencyKeys,
    /// File sizes in megabytes, fractional, as in Pomelo's KYB report example (`0.00085`).
    FractionalSizes,
    /// Uploads also accept WEBP (`image/webp`) and HEIC (`image/heic`), checked by their leading
    /// bytes like the others.
    MoreFormats,
}

impl Alternative {
    /// Every alternative.
    pub const ALL: [Alternative; 8] = [
        Alternative::SingularGetPath,
        Alternative::HexSignatures,
        Alternative::OneBasedPages,
        Alternative::IgnoresPageNumber,
        Alternative::StuckCurrentPage,
        Alternative::IgnoresIdempotencyKeys,
        Alternative::FractionalSizes,
        Alternative::MoreFormats,
    ];

    /// Its name, as `--alternative` takes it (`singular-get-path`, …).
    pub fn name(self) -> &'static str {
        match self {
            Alternative::SingularGetPath => "singular-get-path",
            Alternative::HexSignatures => "hex-signatures",
            Alternative::OneBasedPages => "one-based-pages",
            Alternative::IgnoresPageNumber => "ignores-page-number",
            Alternative::StuckCurrentPage => "stuck-current-page",
            Alternative::IgnoresIdempotencyKeys => "ignores-idempotency-keys",
            Alternative::FractionalSizes => "fractional-sizes",
            Alternative::MoreFormats => "more-formats",
        }
    }

    /// The alternative named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name.trim())
    }
}

impl fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockConfig")
            .field("bind_addr", &self.bind_addr)
            .field("danger_allow_non_loopback", &self.danger_allow_non_loopback)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("audience", &self.audience)
            .field("token_lifetime", &self.token_lifetime)
            .field("session_lifetime", &self.session_lifetime)
            .field("processing_delay", &self.processing_delay)
            .field("default_outcome", &self.default_outcome)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("max_sessions", &self.max_sessions)
            .field("max_connections", &self.max_connections)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_personal_data_bytes", &self.max_personal_data_bytes)
            .field("max_recorded_requests", &self.max_recorded_requests)
            .field("webhook_urls", &self.webhook_urls)
            .field("required_file_webhook_url", &self.required_file_webhook_url)
            .field("webhook_api_key", &self.webhook_api_key)
            .field("webhook_secret", &"[redacted]")
            .field("webhook_timeout", &self.webhook_timeout)
            .field("webhook_max_attempts", &self.webhook_max_attempts)
            .field("webhook_retry_delay", &self.webhook_retry_delay)
            .field("webhook_chaos", &self.webhook_chaos)
            .field("webhook_seed", &self.webhook_seed)
            .field("webhook_max_pending", &self.webhook_max_pending)
            .field("notify_processing", &self.notify_processing)
            .field("alternatives", &self.alternatives)
            .field("strict_audience", &self.strict_audience)
            .field("random_faults", &self.random_faults)
            .finish()
    }
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            bind_addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            danger_allow_non_loopback: false,
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            token_lifetime: Duration::from_secs(86_400),
            session_lifetime: Duration::from_secs(86_400),
            processing_delay: Duration::from_millis(50),
            default_outcome: Outcome::Validated,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_sessions: 10_000,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_personal_data_bytes: DEFAULT_MAX_PERSONAL_DATA_BYTES,
            max_recorded_requests: 1_000,
            webhook_urls: Vec::new(),
            required_file_webhook_url: None,
            webhook_api_key: DEFAULT_WEBHOOK_API_KEY.to_owned(),
            webhook_secret: DEFAULT_WEBHOOK_SECRET.to_owned(),
            webhook_timeout: Duration::from_secs(2),
            webhook_max_attempts: 3,
            webhook_retry_delay: Duration::from_millis(100),
            webhook_chaos: WebhookChaos::new(),
            webhook_seed: None,
            webhook_max_pending: DEFAULT_WEBHOOK_MAX_PENDING,
            notify_processing: false,
            alternatives: Vec::new(),
            strict_audience: false,
            random_faults: None,
        }
    }
}

impl MockConfig {
    /// The defaults: loopback on an ephemeral port, [`DEFAULT_CLIENT_ID`] / [`DEFAULT_CLIENT_SECRET`] /
    /// [`DEFAULT_AUDIENCE`], 24 h tokens and sessions, 50 ms processing, outcome `VALIDATED`, 64 MiB
    /// uploads, no webhook URL, the reference's §8.4 webhook key pair.
    pub fn new() -> Self {
        Self::default()
    }

    /// Address to listen on (default `127.0.0.1:0`, an ephemeral port). A non-loopback address is
    /// refused unless [`danger_allow_non_loopback`](Self::danger_allow_non_loopback) is set.
    pub fn bind_addr(mut self, addr: SocketAddr) -> Self {
        self.bind_addr = addr;
        self
    }

    /// Allows listening on, and delivering webhooks to, addresses other than loopback.
    pub fn danger_allow_non_loopback(mut self, allow: bool) -> Self {
        self.danger_allow_non_loopback = allow;
        self
    }

    /// OAuth client id the token endpoint accepts.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// OAuth client secret the token endpoint accepts.
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = secret.into();
        self
    }

    /// OAuth audience the token endpoint accepts.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Lifetime of issued access tokens (default 24 h; short values such as 2 s are fine).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Time from `created_at` to `expiration_at` of new sessions (default 24 h).
    pub fn session_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// Real time a session spends in `PROCESSING` before its outcome (default 50 ms). With
    /// `Duration::ZERO` the outcome is decided before the completing upload's response is sent.
    pub fn processing_delay(mut self, delay: Duration) -> Self {
        self.processing_delay = delay;
        self
    }

    /// Outcome of sessions whose user id carries no marker (default [`Outcome::Validated`]).
    pub fn default_outcome(mut self, outcome: Outcome) -> Self {
        self.default_outcome = outcome;
        self
    }

    /// Largest accepted file in an upload, in bytes (default 64 MiB); larger → `413`.
    pub fn max_upload_bytes(mut self, max: usize) -> Self {
        self.max_upload_bytes = max;
        self
    }

    /// Most sessions kept at once (default 10 000); creating one more → `507`.
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max;
        self
    }

    /// Most connections served at once (default [`DEFAULT_MAX_CONNECTIONS`]); further clients wait to be accepted.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Time a client has to send a whole request body once its head arrived (default
    /// [`DEFAULT_BODY_READ_TIMEOUT`]); a slower body → `408` and the connection is closed, so that
    /// clients trickling bodies cannot hold every connection.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Largest `data.user_id` plus `data.personal_data` a created session stores, measured as
    /// compact JSON (default [`DEFAULT_MAX_PERSONAL_DATA_BYTES`]); more → `413`. With
    /// [`max_sessions`](Self::max_sessions) it bounds what sessions can make the simulator hold.
    pub fn max_personal_data_bytes(mut self, max: usize) -> Self {
        self.max_personal_data_bytes = max;
        self
    }

    /// Most requests kept for [`MockServer::requests`](crate::MockServer::requests) (default 1 000;
    /// the oldest are dropped first, and the log also keeps at most 256 MiB of bodies).
    pub fn max_recorded_requests(mut self, max: usize) -> Self {
        self.max_recorded_requests = max;
        self
    }

    /// Where validation-session notifications are POSTed (an `http://` URL on loopback). No URL,
    /// no notifications. Replaces any earlier [`webhook_urls`](Self::webhook_urls).
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_urls = vec![url.into()];
        self
    }

    /// Several webhook targets, e.g. a fleet of receivers behind one Pomelo account (replaces any
    /// earlier [`webhook_url`](Self::webhook_url)). Attempts take them in turn: notification
    /// number `k` (from 1) makes its first attempt to URL `(k - 1) mod n`, and each further
    /// attempt of it (retries, duplicates) to the next URL, as a round-robin load balancer
    /// would; so one session's notifications reach different receivers, and a retry reaches
    /// another one when a receiver is down.
    pub fn webhook_urls<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.webhook_urls = urls.into_iter().map(Into::into).collect();
        self
    }

    /// Where required-file notifications are POSTed; defaults to the
    /// [`webhook_urls`](Self::webhook_urls).
    pub fn required_file_webhook_url(mut self, url: impl Into<String>) -> Self {
        self.required_file_webhook_url = Some(url.into());
        self
    }

    /// Webhook `X-Api-Key` (default [`DEFAULT_WEBHOOK_API_KEY`]).
    pub fn webhook_api_key(mut self, key: impl Into<String>) -> Self {
        self.webhook_api_key = key.into();
        self
    }

    /// Webhook signing secret, base64 as Pomelo issues it (default [`DEFAULT_WEBHOOK_SECRET`]).
    pub fn webhook_secret(mut self, secret_base64: impl Into<String>) -> Self {
        self.webhook_secret = secret_base64.into();
        self
    }

    /// Time allowed for one webhook attempt, connect to response head (default 2 s).
    pub fn webhook_timeout(mut self, timeout: Duration) -> Self {
        self.webhook_timeout = timeout;
        self
    }

    /// Attempts per notification before giving up, counting the first (default 3, at least 1).
    pub fn webhook_max_attempts(mut self, attempts: u32) -> Self {
        self.webhook_max_attempts = attempts;
        self
    }

    /// Wait before the first retry; it doubles for each further retry (default 100 ms).
    pub fn webhook_retry_delay(mut self, delay: Duration) -> Self {
        self.webhook_retry_delay = delay;
        self
    }

    /// Delivers webhooks the way a real network and a real Pomelo may: dropped, duplicated,
    /// held and reordered, retried with the first signature, without `event_id` (default: none of
    /// it). Changeable while running with
    /// [`MockServer::set_webhook_chaos`](crate::MockServer::set_webhook_chaos).
    pub fn webhook_chaos(mut self, chaos: WebhookChaos) -> Self {
        self.webhook_chaos = chaos;
        self
    }

    /// Seeds the one generator every chaos decision comes from, so that a run can be replayed
    /// (default: a random seed below 2^53, shown by
    /// [`MockServer::webhook_seed`](crate::MockServer::webhook_seed) and in the start line).
    pub fn webhook_seed(mut self, seed: u64) -> Self {
        self.webhook_seed = Some(seed);
        self
    }

    /// Most notifications on their way at once, held, being attempted or waiting to retry
    /// (default [`DEFAULT_WEBHOOK_MAX_PENDING`], at least 1); one more is withheld and listed as
    /// dropped ([`DropReason::QueueFull`](crate::DropReason::QueueFull)).
    pub fn webhook_max_pending(mut self, max: usize) -> Self {
        self.webhook_max_pending = max;
        self
    }

    /// Also sends a validation-session notification with status `PROCESSING` when a session's
    /// documents are in (Pomelo says it notifies while a session is processed, too), so that a
    /// final notification may overtake it (default off).
    pub fn notify_processing(mut self, notify: bool) -> Self {
        self.notify_processing = notify;
        self
    }

    /// Plays `alternative` (call again for several).
    pub fn alternative(mut self, alternative: Alternative) -> Self {
        if !self.alternatives.contains(&alternative) {
            self.alternatives.push(alternative);
        }
        self
    }

    /// Accepts only the configured [`audience`](Self::audience), refusing the other
    /// [`KNOWN_AUDIENCES`] with `400 invalid_audience` as a real account would.
    pub fn strict_audience(mut self, strict: bool) -> Self {
        self.strict_audience = strict;
        self
    }

    /// Faults at random, for load tests of a client or of a service built on one: each request
    /// with no [injected](crate::MockServer::inject_fault) fault pending gets, with probability
    /// `rate` (0 to 1), one of `faults` chosen uniformly; e.g. `0.01` and
    /// [`Fault::typical_mix`]. Counted in [`MockStats::faults`](crate::MockStats::faults).
    pub fn random_faults(mut self, rate: f64, faults: Vec<Fault>) -> Self {
        self.random_faults = Some(RandomFaults {
            rate: if rate.is_finite() {
                rate.clamp(0.0, 1.0)
            } else {
                0.0
            },
            faults,
        });
        self
    }

    /// Whether the simulator plays `alternative`.
    pub fn plays(&self, alternative: Alternative) -> bool {
        self.alternatives.contains(&alternative)
    }
}

/// Why [`MockServer::start`](crate::MockServer::start) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// A setting is unusable; nothing was started.
    InvalidConfig {
        /// The [`MockConfig`] setter concerned.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The listening socket could not be bound.
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The background runtime or its thread could not be created.
    Runtime(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidConfig { setting, reason } => {
                write!(f, "invalid simulator setting `{setting}`: {reason}")
            }
            Self::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Self::Runtime(e) => write!(f, "cannot start the simulator's runtime: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Bind { source, .. } | Self::Runtime(source) => Some(source),
            Self::InvalidConfig { .. } => None,
        }
    }
}
