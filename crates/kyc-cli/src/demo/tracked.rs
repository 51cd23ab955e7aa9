//! The demo's last part: kyc-track follows two sessions to their verdicts, one whose webhook
//! arrives and one whose webhook the simulator drops, found by a poll.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kyc_core::track::{Origin, TrackSettings};
use kyc_core::webhook::{Verifier, WebhookKeys, WebhookSecret};
use kyc_core::{Config, Country, CreateSession, Credentials, Environment, UploadFile};
use kyc_mock::{MockConfig, MockServer, WebhookChaos};
use kyc_track::{MemoryStore, Tracker, VerdictRecord};

use super::flow::{DOCUMENTS, step};

/// Where the tracker receives webhooks.
const PATH: &str = "/webhooks/identity";
/// The demo's quiet period before a poll (10 min by default).
const QUIET: Duration = Duration::from_secs(1);
/// How long the demo waits for each verdict.
const VERDICT_WAIT: Duration = Duration::from_secs(20);

/// Runs the tracker part on its own simulator.
///
/// # Errors
///
/// The first failing step, or a verdict that does not come in time.
pub(crate) fn run(out: &mut dyn Write) -> Result<(), Box<dyn std::error::Error>> {
    writeln!(
        out,
        "\nTracker: every verdict once, even when its webhook is lost"
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let url = format!("http://{}{PATH}", listener.local_addr()?);
    let server = MockServer::start(
        MockConfig::new()
            .webhook_url(&url)
            .processing_delay(Duration::from_millis(100)),
    )?;
    let config = Config::builder(Environment::Sandbox)
        .base_url(server.base_url())
        .audience(server.audience())
        .build()?;
    let client = kyc_reqwest::Client::new(
        config,
        Credentials::new(server.client_id(), server.client_secret()),
    );
    let mut settings = TrackSettings::default();
    settings.quiet_period = QUIET;
    settings.max_backoff = Duration::from_secs(2);
    let tracker = Tracker::new(client.clone(), Arc::new(MemoryStore::new()), settings);
    let verifier = Verifier::new(WebhookKeys::new().with(
        server.webhook_api_key(),
        WebhookSecret::from_base64(server.webhook_secret())?,
    ))
    .expected_endpoint(PATH);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = {
        let tracker = tracker.clone();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let stop = async move {
                let _ = stopped.await;
            };
            kyc_track::serve(
                tracker,
                listener,
                PATH,
                verifier,
                Duration::from_millis(200),
                stop,
            )
            .await
        })
    };
    step(
        out,
        "tracker",
        &format!(
            "kyc-track receives webhooks on {url} and polls a session not heard of for {} s \
             (10 min by default)",
            QUIET.as_secs()
        ),
    )?;

    let first = follow_one(out, &runtime, &tracker, &client, "usr-demo-tracked-1")?;
    step(
        out,
        "verdict",
        &format!(
            "{} for {}, from the {}; key {} acknowledged",
            first.verdict.status,
            first.session_id,
            origin(first.origin()),
            first.key
        ),
    )?;

    server.set_webhook_chaos(WebhookChaos::new().drop_rate(1.0))?;
    step(
        out,
        "network",
        "the simulator now drops every webhook (as a network or a receiver outage would)",
    )?;
    let started = Instant::now();
    let second = follow_one(out, &runtime, &tracker, &client, "usr-demo-tracked-2")?;
    let record = tracker
        .store()
        .load(&second.session_id)?
        .ok_or("the tracked session is gone")?;
    step(
        out,
        "verdict",
        &format!(
            "{} for {}, from a {} after {:.1} s ({} poll(s)): the webhook was dropped; key {} \
             acknowledged",
            second.verdict.status,
            second.session_id,
            origin(second.origin()),
            started.elapsed().as_secs_f64(),
            record.polls,
            second.key
        ),
    )?;
    let dropped = server
        .webhook_deliveries()
        .iter()
        .filter(|d| d.dropped.is_some())
        .count();
    step(
        out,
        "webhooks",
        &format!("{dropped} dropped by the simulator, 0 verdicts lost, none handed over twice"),
    )?;
    let _ = stop.send(());
    runtime.block_on(serving)??;
    server.shutdown();
    Ok(())
}

fn origin(origin: Origin) -> &'static str {
    match origin {
        Origin::Webhook => "webhook",
        Origin::Poll => "poll",
        Origin::Search => "search",
        _ => "create",
    }
}

/// Creates a session for `user` through the tracker, uploads its documents, and waits for its
/// verdict, which it acknowledges.
fn follow_one(
    out: &mut dyn Write,
    runtime: &tokio::runtime::Runtime,
    tracker: &Tracker,
    client: &kyc_reqwest::Client,
    user: &str,
) -> Result<VerdictRecord, Box<dyn std::error::Error>> {
    let created = runtime.block_on(tracker.create(CreateSession::new(user, Country::Arg)))?;
    step(
        out,
        "session",
        &format!(
            "created {} through the tracker (its idempotency key stored first)",
            created.id
        ),
    )?;
    for (document, file, bytes) in DOCUMENTS {
        let upload = UploadFile::new(created.id.clone(), user, document).file_name(file);
        runtime.block_on(client.upload(&upload, kyc_reqwest::Source::bytes(bytes)))?;
    }
    let deadline = Instant::now() + VERDICT_WAIT;
    while Instant::now() < deadline {
        let waiting = runtime.block_on(tracker.next_verdicts(8))?;
        if let Some(verdict) = waiting.into_iter().find(|v| v.session_id == created.id) {
            runtime.block_on(tracker.ack(&verdict.key))?;
            return Ok(verdict);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "no verdict for {} within {} s",
        created.id,
        VERDICT_WAIT.as_secs()
    )
    .into())
}
