//! One conformance suite for every client: each scenario is written once, run against kyc-ureq,
//! kyc-reqwest and the 60-line adapter of kyc-core's documentation ("own-stack"), each with its
//! own `kyc-mock` simulator on loopback, and must give identical results and identical wire
//! requests (method, path, query, every header but `user-agent` and `host`, and
//! body; random ids, tokens, idempotency keys, boundaries and timestamps normalised by order of
//! first appearance, so their reuse pattern is compared too).

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod adapter;
mod differs;
mod normalise;
mod scenarios;

use std::time::{Duration, Instant};

use adapter::{Client, Failure, Settings};
use kyc_mock::{MockConfig, MockServer, RecordedRequest};
use normalise::Normaliser;

/// What a scenario sees: its simulator, the client under test, and the transcript it writes.
pub(crate) struct Ctx {
    pub(crate) server: MockServer,
    pub(crate) settings: Settings,
    pub(crate) client: Client,
    make: fn(&MockServer, &Settings) -> Client,
    lines: Vec<String>,
}

impl Ctx {
    /// Another client of the same kind on the same simulator (another process, say).
    pub(crate) fn another_client(&self, settings: &Settings) -> Client {
        (self.make)(&self.server, settings)
    }

    /// Records `result` under `label` in the transcript and returns it.
    pub(crate) fn check<T: std::fmt::Debug>(
        &mut self,
        label: &str,
        result: Result<T, Failure>,
    ) -> Result<T, Failure> {
        let line = match &result {
            Ok(value) => format!("{label}: ok {value:?}"),
            Err(failure) => format!("{label}: err {failure:?}"),
        };
        self.lines.push(line);
        result
    }

    /// Records a fact in the transcript.
    pub(crate) fn note(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }
}

/// One run of a scenario against one client.
pub(crate) struct Run {
    pub(crate) adapter: &'static str,
    pub(crate) transcript: Vec<String>,
    pub(crate) wire: Vec<String>,
    pub(crate) requests: Vec<RecordedRequest>,
    /// The simulator's counters at the end (connections accepted, ...).
    pub(crate) stats: kyc_mock::MockStats,
    pub(crate) elapsed: Duration,
}

fn run_one(
    make: fn(&MockServer, &Settings) -> Client,
    mock: MockConfig,
    settings: &Settings,
    scenario: &dyn Fn(&mut Ctx),
) -> Run {
    let server = MockServer::start(mock).unwrap();
    let client = make(&server, settings);
    let adapter = client.name();
    let mut ctx = Ctx {
        server,
        settings: settings.clone(),
        client,
        make,
        lines: Vec::new(),
    };
    let started = Instant::now();
    scenario(&mut ctx);
    let elapsed = started.elapsed();
    let requests = ctx.server.requests();
    let stats = ctx.server.stats();
    let mut normaliser = Normaliser::default();
    let transcript = ctx.lines.iter().map(|l| normaliser.text(l)).collect();
    let wire = requests
        .iter()
        .filter(|r| completed(r))
        .map(|r| normaliser.request(r))
        .collect();
    Run {
        adapter,
        transcript,
        wire,
        requests,
        stats,
        elapsed,
    }
}

/// Whether the client sent the whole request. One it broke off mid-body (its upload source
/// failed) is left out of the comparison: whether any of it reached the server depends on how the
/// HTTP stack buffers (ureq writes the head at once, hyper may hold a small body back until it is
/// complete), not on the client's logic. Scenarios count such requests themselves.
fn completed(r: &RecordedRequest) -> bool {
    r.header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .is_none_or(|len| len == r.body.len())
}

/// The three clients under test.
fn makers() -> [fn(&MockServer, &Settings) -> Client; 3] {
    [Client::ureq, Client::reqwest, Client::own]
}

/// Runs `scenario` against every client and asserts identical transcripts and wire requests.
pub(crate) fn conform(
    mock: MockConfig,
    settings: Settings,
    scenario: impl Fn(&mut Ctx),
) -> [Run; 3] {
    conform_with(|| mock.clone(), settings, scenario)
}

/// As [`conform`], with a fresh simulator configuration for each run (e.g. its own webhook
/// receiver).
pub(crate) fn conform_with(
    mock: impl Fn() -> MockConfig,
    settings: Settings,
    scenario: impl Fn(&mut Ctx),
) -> [Run; 3] {
    let runs = makers().map(|make| run_one(make, mock(), &settings, &scenario));
    let [reference, others @ ..] = &runs;
    for other in others {
        assert_eq!(
            reference.transcript, other.transcript,
            "results differ between {} (left) and {} (right)",
            reference.adapter, other.adapter
        );
        assert_eq!(
            reference.wire, other.wire,
            "wire requests differ between {} (left) and {} (right)",
            reference.adapter, other.adapter
        );
    }
    runs
}

/// The simulator as most scenarios use it: sessions complete at once.
pub(crate) fn mock() -> MockConfig {
    MockConfig::new().processing_delay(Duration::ZERO)
}
