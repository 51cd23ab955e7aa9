//! The doctor's probes and their run: find out, read-only, how a Pomelo account behaves where
//! Pomelo's reference is silent.
//!
//! The checks send a fixed, bounded list of requests with the client's normal retry rules: the
//! token request (and, when the configured audience is refused, one per other known audience),
//! two reads of `--session` when one is given, four searches of one session each, and one read of
//! a session that cannot exist: at most 10 requests before retries. Nothing is created, uploaded,
//! cancelled or cleaned. Each probe is an ordinary kyc-core [`Endpoint`], run through kyc-ureq
//! like every other call; the verdicts are `checks.rs`'s.

use std::time::SystemTime;

use kyc_core::http::header::HeaderValue;
use kyc_core::http::{HeaderMap, Method, StatusCode};
use kyc_core::webhook::{Verifier, WebhookKeys};
use kyc_core::{
    Body, Config, Credentials, Endpoint, Error, IdempotencyKey, InvalidInput, RequestToken,
    SessionId, Settings, encode_segment,
};
use kyc_ureq::Client;

use super::checks::{self as doctor, Answer, Check, KNOWN_AUDIENCES, Received, Sent};
use crate::capture::Capture;

/// `GET` of any path, authenticated, whose answer of any status is a [`Received`]. The doctor's
/// probes of sessions and searches; it never changes anything on the server.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Probe {
    path_and_query: String,
}

impl Probe {
    /// A probe of `path_and_query` (already percent-encoded, starting with `/`).
    ///
    /// # Errors
    ///
    /// [`InvalidInput::InvalidRequestTarget`] for a path that does not start with `/`.
    pub(crate) fn new(path_and_query: impl Into<String>) -> Result<Self, InvalidInput> {
        let path_and_query = path_and_query.into();
        if !path_and_query.starts_with('/') {
            return Err(InvalidInput::InvalidRequestTarget);
        }
        Ok(Self { path_and_query })
    }

    /// A probe of the session `session_id` under the path `template` (`{session_id}` replaced).
    ///
    /// # Errors
    ///
    /// [`InvalidInput::InvalidId`] for an id that cannot be one path segment.
    pub(crate) fn session(template: &str, session_id: &str) -> Result<Self, InvalidInput> {
        let id = encode_segment("session id", session_id)?;
        Self::new(template.replace("{session_id}", &id))
    }

    /// The path and query it asks for.
    #[must_use]
    pub(crate) fn path(&self) -> &str {
        &self.path_and_query
    }
}

impl Endpoint for Probe {
    type Output = Received;
    type Body = Body;
    const METHOD: Method = Method::GET;

    fn path_and_query(&self, _: &Config) -> Result<String, InvalidInput> {
        Ok(self.path_and_query.clone())
    }

    fn body(
        &self,
        _: &Config,
        _: Option<&IdempotencyKey>,
    ) -> Result<(Option<HeaderValue>, Body), InvalidInput> {
        Ok((None, Body::empty()))
    }

    fn parse(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<Received, Error> {
        Ok(Received::from_parts(status, headers, body))
    }
}

/// The token request with another audience, whose answer of any status is a [`Received`]: the
/// credentials check, and the search for the audience an account accepts. Its body is kyc-core's
/// own token request's, built for a configuration with that audience.
#[derive(Clone, Debug)]
pub(crate) struct ProbeToken<'a> {
    /// The client's credentials.
    credentials: &'a Credentials,
    /// The configuration with the audience to ask for.
    config: Config,
}

impl<'a> ProbeToken<'a> {
    /// The token request of `credentials` for `audience`, on `config`'s host.
    fn new(credentials: &'a Credentials, config: &Config, audience: &str) -> Self {
        let config = Config::builder(config.environment().clone())
            .base_url(config.base_url().as_str())
            .audience(audience)
            .build()
            .unwrap_or_else(|_| config.clone());
        Self {
            credentials,
            config,
        }
    }
}

impl Endpoint for ProbeToken<'_> {
    type Output = Received;
    type Body = Body;
    const METHOD: Method = Method::POST;
    const AUTHENTICATED: bool = false;

    fn idempotent() -> bool {
        true
    }

    fn path_and_query(&self, config: &Config) -> Result<String, InvalidInput> {
        self.request().path_and_query(config)
    }

    fn body(
        &self,
        _: &Config,
        key: Option<&IdempotencyKey>,
    ) -> Result<(Option<HeaderValue>, Body), InvalidInput> {
        self.request().body(&self.config, key)
    }

    fn parse(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<Received, Error> {
        // The token is a secret: only the body's shape is kept, never its values.
        Ok(Received::from_parts(status, headers, body))
    }
}

impl ProbeToken<'_> {
    fn request(&self) -> RequestToken<'_> {
        RequestToken {
            credentials: self.credentials,
        }
    }
}

/// What to check beyond what needs no input.
#[derive(Debug, Default)]
#[non_exhaustive]
pub(crate) struct Options {
    /// A session of the account, to find which get-session path answers it.
    pub(crate) session: Option<SessionId>,
    /// A captured webhook delivery and the receiver's keys, to find which digest encoding and
    /// endpoint form verify.
    pub(crate) webhook: Option<(Capture, WebhookKeys)>,
}

impl Options {
    /// Checks the get-session path with `session`.
    #[must_use]
    pub(crate) fn session(mut self, session: impl Into<SessionId>) -> Self {
        self.session = Some(session.into());
        self
    }

    /// Checks webhook verification with `capture` and `keys`.
    #[must_use]
    pub(crate) fn webhook(mut self, capture: Capture, keys: WebhookKeys) -> Self {
        self.webhook = Some((capture, keys));
        self
    }
}

/// Every check's finding.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub(crate) struct Report {
    /// The checks, in the order they ran.
    pub(crate) checks: Vec<Check>,
}

impl Report {
    /// Whether a check failed.
    #[must_use]
    pub(crate) fn failed(&self) -> bool {
        self.checks
            .iter()
            .any(|c| c.verdict == doctor::Verdict::Failed)
    }

    /// The settings that fit the account, as `POMELO_*=value` lines.
    #[must_use]
    pub(crate) fn settings(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter_map(|c| c.setting.as_deref())
            .collect()
    }
}

/// A client for `settings` with `config`.
fn client(settings: &Settings, config: Config) -> Client {
    Client::builder(config, settings.credentials.clone())
        .retry_policy(settings.retry.clone())
        .attempt_timeout(settings.attempt_timeout)
        .overall_timeout(settings.overall_timeout)
        .build()
}

/// Sends one probe: what came back, whatever its status, or why nothing did.
fn send<E: Endpoint<Output = Received>>(client: &Client, endpoint: &E) -> Answer {
    match client.execute(endpoint) {
        Ok(received) => Ok(received),
        Err(e) => match &e.fault {
            kyc_ureq::Fault::Api(api) => Ok(Received::from_api_error(api)),
            _ => Err(e.to_string()),
        },
    }
}

/// Adds a request and its answer to a check.
fn record(check: &mut Check, sent: Sent, answer: &Answer) {
    check.sent.push(sent);
    if let Ok(received) = answer {
        check.received.push(received.clone());
    }
}

/// Runs every check against the account `settings` describe (through clients of its own, with
/// this crate's default transport: one per audience it tries).
#[must_use]
pub(crate) fn run(settings: &Settings, options: &Options) -> Report {
    let mut checks = Vec::new();
    let config = &settings.config;
    let token_path = "/oauth/token";

    // Credentials and audience.
    let mine = client(settings, config.clone());
    let probe = ProbeToken::new(&settings.credentials, config, config.audience());
    let configured = send(&mine, &probe);
    let local = SystemTime::now();
    let refused_audience = configured
        .as_ref()
        .is_ok_and(|r| r.status == 400 || r.codes.iter().any(|c| c == "invalid_audience"));
    let mut others: Vec<(&str, Answer)> = Vec::new();
    if refused_audience {
        for audience in KNOWN_AUDIENCES
            .into_iter()
            .filter(|a| *a != config.audience())
        {
            let probe = ProbeToken::new(&settings.credentials, config, audience);
            others.push((audience, send(&mine, &probe)));
        }
    }
    let mut check = doctor::credentials(config.audience(), &configured, &others);
    record(
        &mut check,
        Sent::new(&Method::POST, token_path),
        &configured,
    );
    for (_, answer) in &others {
        record(&mut check, Sent::new(&Method::POST, token_path), answer);
    }
    // The other checks run with the audience that works.
    let accepted = others
        .iter()
        .find(|(_, a)| a.as_ref().is_ok_and(|r| (200..300).contains(&r.status)))
        .map(|(audience, _)| *audience);
    let client = match accepted {
        Some(audience) => match Config::builder(config.environment().clone())
            .base_url(config.base_url().as_str())
            .audience(audience)
            .build()
        {
            Ok(other) => self::client(settings, merge_paths(other, config)),
            Err(_) => mine,
        },
        None => mine,
    };
    let token_ok = check.verdict != doctor::Verdict::Failed;
    checks.push(check);

    // Clock.
    let server_date = configured
        .as_ref()
        .ok()
        .and_then(|r| r.date)
        .or_else(|| others.iter().find_map(|(_, a)| a.as_ref().ok()?.date));
    checks.push(doctor::clock(
        local,
        server_date,
        &configured,
        Verifier::DEFAULT_TOLERANCE,
    ));

    if token_ok {
        checks.push(session_path(&client, config, options.session.as_ref()));
        checks.push(search(&client, config));
        checks.push(error_body(&client, config));
    } else {
        for name in ["get_session_path", "search", "error_body"] {
            checks.push(Check::new(
                name,
                doctor::Verdict::Unknown,
                "needs a token: see the credentials check",
            ));
        }
    }
    checks.push(match &options.webhook {
        Some((capture, keys)) => doctor::webhook(capture, keys),
        None => Check::new(
            "webhook",
            doctor::Verdict::Unknown,
            "needs a captured delivery: kyc doctor --webhook-file FILE with the webhook secrets",
        ),
    });
    Report { checks }
}

/// `config` with the paths of `from`.
fn merge_paths(config: Config, from: &Config) -> Config {
    let paths = from.paths();
    Config::builder(config.environment().clone())
        .base_url(config.base_url().as_str())
        .audience(config.audience())
        .get_session_path(paths.get_session.as_str())
        .cancel_session_path(paths.cancel_session.as_str())
        .search_sessions_path(paths.search_sessions.as_str())
        .clean_validations_path(paths.clean_validations.as_str())
        .first_page(from.first_page())
        .max_pages(from.max_pages())
        .build()
        .unwrap_or(config)
}

/// The other spelling of a get-session template (singular ⇄ plural).
fn other_spelling(template: &str) -> String {
    if template.contains("/sessions/") {
        template.replacen("/sessions/", "/session/", 1)
    } else {
        template.replacen("/session/", "/sessions/", 1)
    }
}

fn session_path(client: &Client, config: &Config, session: Option<&SessionId>) -> Check {
    let configured = config.paths().get_session.clone();
    let other = other_spelling(&configured);
    let Some(session) = session else {
        return doctor::get_session_path(&configured, &other, None);
    };
    let probes: Vec<(Sent, Answer)> = [&configured, &other]
        .into_iter()
        .map(
            |template| match Probe::session(template, session.as_str()) {
                Ok(probe) => (Sent::new(&Method::GET, probe.path()), send(client, &probe)),
                Err(e) => (
                    Sent::new(&Method::GET, template.as_str()),
                    Err(e.to_string()),
                ),
            },
        )
        .collect();
    let (Some(mine), Some(theirs)) = (probes.first(), probes.get(1)) else {
        return doctor::get_session_path(&configured, &other, None);
    };
    let mut check = doctor::get_session_path(&configured, &other, Some((&mine.1, &theirs.1)));
    for (sent, answer) in probes {
        record(&mut check, sent, &answer);
    }
    check
}

fn search(client: &Client, config: &Config) -> Check {
    let path = config.paths().search_sessions.clone();
    let queries = [
        "?page[size]=1",
        "?page[size]=1&page[number]=0",
        "?page[size]=1&page[number]=1",
        "?page[size]=1&page[number]=2",
    ];
    let answers: Vec<(Sent, Answer)> = queries
        .iter()
        .map(|query| {
            let target = format!("{path}{query}");
            let answer = Probe::new(target.as_str())
                .map_err(|e| e.to_string())
                .and_then(|probe| send(client, &probe));
            (Sent::new(&Method::GET, target), answer)
        })
        .collect();
    let none: Answer = Err("not sent".to_owned());
    let at = |i: usize| answers.get(i).map_or(&none, |(_, a)| a);
    let mut check = doctor::search(&path, at(0), [at(1), at(2), at(3)]);
    for (sent, answer) in &answers {
        record(&mut check, sent.clone(), answer);
    }
    check
}

fn error_body(client: &Client, config: &Config) -> Check {
    let template = &config.paths().get_session;
    match Probe::session(template, "kyc-doctor-no-such-session") {
        Ok(probe) => {
            let answer = send(client, &probe);
            let mut check = doctor::error_body(&answer);
            record(&mut check, Sent::new(&Method::GET, probe.path()), &answer);
            check
        }
        Err(e) => Check::new("error_body", doctor::Verdict::Failed, e.to_string()),
    }
}
