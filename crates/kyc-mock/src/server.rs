//! [`MockServer`]: the synchronous handle, and the hyper server on a background tokio runtime.

use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};

use crate::chaos::WebhookChaos;
use crate::config::{MockConfig, Outcome, StartError};
use crate::faults::Fault;
use crate::record::RecordedRequest;
use crate::router::DropConnection;
use crate::routes::Route;
use crate::state::{MockStats, Shared};
use crate::webhook::{WebhookDelivery, WebhookTarget};

/// Time a client has to send a request's head once it starts one.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// hyper's read buffer.
const MAX_BUF_SIZE: usize = 256 * 1024;
/// Largest request head (request line and headers) accepted; larger → `431` from hyper.
const MAX_HEADER_SIZE: usize = 64 * 1024;

/// A running simulator. Starts on [`MockServer::start`]; stops on [`MockServer::shutdown`] or drop.
///
/// All methods are synchronous and may be called from any thread while the server runs.
pub struct MockServer {
    shared: Arc<Shared>,
    /// The runtime's handle, for the synchronous methods that start background work.
    runtime: tokio::runtime::Handle,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> StartError {
    StartError::InvalidConfig {
        setting,
        reason: reason.into(),
    }
}

impl MockServer {
    /// Checks `config`, binds its address and starts serving on a background thread.
    ///
    /// # Errors
    /// [`StartError::InvalidConfig`] for an unusable setting (a non-loopback address without
    /// `danger_allow_non_loopback`, a webhook URL that is not `http://` on loopback, a webhook secret
    /// that is not base64 or is empty, a zero connection or pending-webhook limit, webhook chaos
    /// out of its bounds); [`StartError::Bind`] when the address cannot be bound;
    /// [`StartError::Runtime`] when the runtime or its thread cannot be created.
    pub fn start(config: MockConfig) -> Result<Self, StartError> {
        let allow_any = config.danger_allow_non_loopback;
        if !allow_any && !config.bind_addr.ip().is_loopback() {
            return Err(invalid(
                "bind_addr",
                format!(
                    "{} is not a loopback address; set danger_allow_non_loopback to allow it",
                    config.bind_addr
                ),
            ));
        }
        if config.max_connections == 0 {
            return Err(invalid("max_connections", "must be at least 1"));
        }
        let webhook_key = STANDARD
            .decode(config.webhook_secret.trim())
            // The decoder names the offending symbol: never echo any part of a secret.
            .map_err(|_| invalid("webhook_secret", "not standard padded base64"))?;
        if webhook_key.is_empty() {
            return Err(invalid(
                "webhook_secret",
                "decodes to no bytes: no key to sign with",
            ));
        }
        if config.webhook_max_pending == 0 {
            return Err(invalid("webhook_max_pending", "must be at least 1"));
        }
        config
            .webhook_chaos
            .check()
            .map_err(|e| invalid("webhook_chaos", e))?;
        let webhook_targets = config
            .webhook_urls
            .iter()
            .map(|u| WebhookTarget::parse(u, allow_any))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("webhook_urls", e))?;
        let required_file_targets = match config.required_file_webhook_url.as_deref() {
            Some(u) => vec![
                WebhookTarget::parse(u, allow_any)
                    .map_err(|e| invalid("required_file_webhook_url", e))?,
            ],
            None => webhook_targets.clone(),
        };

        let listener =
            StdTcpListener::bind(config.bind_addr).map_err(|source| StartError::Bind {
                addr: config.bind_addr,
                source,
            })?;
        listener
            .set_nonblocking(true)
            .map_err(StartError::Runtime)?;
        let addr = listener.local_addr().map_err(StartError::Runtime)?;
        let base_url = format!("http://{addr}");

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        let shared = Arc::new(Shared::new(
            config,
            base_url,
            webhook_key,
            webhook_targets,
            required_file_targets,
        ));
        let handle = runtime.handle().clone();
        let (stop_tx, stop_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("kyc-mock {addr}"))
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => {
                            let _ = ready_tx.send(Ok(()));
                            accept_loop(listener, thread_shared, stop_rx).await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
                // Dropping the runtime here cancels open connections and pending webhook deliveries.
                drop(runtime);
            })
            .map_err(StartError::Runtime)?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(StartError::Runtime(e));
            }
            Err(_) => {
                let _ = thread.join();
                return Err(StartError::Runtime(std::io::Error::other(
                    "the simulator thread stopped during start-up",
                )));
            }
        }
        Ok(Self {
            shared,
            runtime: handle,
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash: the API base URL to give a client.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OAuth client id the token endpoint accepts.
    pub fn client_id(&self) -> &str {
        &self.shared.config.client_id
    }

    /// The OAuth client secret the token endpoint accepts.
    pub fn client_secret(&self) -> &str {
        &self.shared.config.client_secret
    }

    /// The OAuth audience the token endpoint accepts.
    pub fn audience(&self) -> &str {
        &self.shared.config.audience
    }

    /// The URL validation-session notifications are sent to, if any (the first, when there are
    /// several).
    pub fn webhook_url(&self) -> Option<&str> {
        self.shared.config.webhook_urls.first().map(String::as_str)
    }

    /// Every URL validation-session notifications are sent to, taken in turn
    /// ([`MockConfig::webhook_urls`]).
    pub fn webhook_urls(&self) -> &[String] {
        &self.shared.config.webhook_urls
    }

    /// The seed of the webhook chaos's generator: start another simulator with
    /// [`MockConfig::webhook_seed`] and the same settings to replay a run's decisions.
    pub fn webhook_seed(&self) -> u64 {
        self.shared.webhook_seed
    }

    /// How webhooks are delivered now.
    pub fn webhook_chaos(&self) -> WebhookChaos {
        self.shared.lock().chaos.clone()
    }

    /// Changes how webhooks are delivered from the next notification on (those on their way keep
    /// their plan), as `POST /_admin/webhooks/chaos` does (the same code).
    ///
    /// # Errors
    ///
    /// [`AdminError::Refused`] for settings out of their bounds (a rate outside 0 to 1, more than
    /// [`MAX_WEBHOOK_DUPLICATES`](crate::MAX_WEBHOOK_DUPLICATES) duplicates, a delay over
    /// [`MAX_WEBHOOK_DELAY`](crate::MAX_WEBHOOK_DELAY)); nothing changes then.
    pub fn set_webhook_chaos(&self, chaos: WebhookChaos) -> Result<(), AdminError> {
        crate::admin::set_webhook_chaos(&self.shared, chaos).map_err(AdminError::from)
    }

    /// How many notifications are on their way: held, being attempted, waiting to retry or to be
    /// duplicated.
    pub fn pending_webhooks(&self) -> usize {
        self.shared.lock().pending_webhooks
    }

    /// Waits until no notification is on its way, or `timeout` passes; whether none is. (A
    /// session still in its processing delay has not sent its notification yet.)
    pub fn wait_for_settled_webhooks(&self, timeout: Duration) -> bool {
        self.shared.wait_for_settled_webhooks(timeout)
    }

    /// The webhook `X-Api-Key`.
    pub fn webhook_api_key(&self) -> &str {
        &self.shared.config.webhook_api_key
    }

    /// The webhook signing secret, base64 as configured.
    pub fn webhook_secret(&self) -> &str {
        &self.shared.config.webhook_secret
    }

    /// Every request received so far (faulted ones included), oldest first, within the log's bounds.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.snapshot()
    }

    /// What the simulator has done since it started (connections, requests, faults, tokens,
    /// applied creates and uploads, idempotent replays): counters that stay exact however small the request log.
    pub fn stats(&self) -> MockStats {
        self.shared.lock().stats
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Makes the next `times` requests on `route` ([`Route::Any`]: on any route) answer with `fault`.
    /// Faults are used first-in first-out among those matching a request.
    pub fn inject_fault(&self, route: Route, fault: Fault, times: usize) {
        self.shared
            .lock()
            .faults
            .push(route.fault_target(), fault, times);
    }

    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// How many faulted answers are still pending.
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().faults.pending()
    }

    /// The simulator's current time: the system clock plus every [`advance_clock`](Self::advance_clock).
    pub fn now(&self) -> SystemTime {
        self.shared.clock.now()
    }

    /// Moves the simulator's clock forward: tokens and sessions expire, timestamps and webhook
    /// `X-Timestamp`s move. (The processing delay and webhook retries still run in real time.)
    /// The clock stops at 9999-12-31: dates on the wire have four-digit years.
    pub fn advance_clock(&self, by: Duration) {
        let _ = self.shared.clock.advance(by);
    }

    /// Changes the outcome of sessions whose user id has no marker, for processing that ends from
    /// now on.
    pub fn set_default_outcome(&self, outcome: Outcome) {
        self.shared.lock().default_outcome = outcome;
    }

    /// Where the simulator serves [`OPENAPI`](crate::OPENAPI), the description of the API it
    /// plays: `http://127.0.0.1:PORT/openapi.json`.
    pub fn openapi_url(&self) -> String {
        format!("{}{}", self.shared.base_url, crate::openapi::PATH)
    }

    /// The token the console and the admin API ask for (32 random characters from the
    /// operating system, new at every start).
    pub fn admin_token(&self) -> &str {
        &self.shared.admin_token
    }

    /// The console's address, token included: open it in a browser on this machine.
    pub fn console_url(&self) -> String {
        // A listener on every address (0.0.0.0, [::]) is reached here on loopback, the only place
        // the console answers.
        let host = if self.addr.ip().is_unspecified() {
            format!("127.0.0.1:{}", self.addr.port())
        } else {
            self.addr.to_string()
        };
        format!("http://{host}/_console/?token={}", self.shared.admin_token)
    }

    /// Decides a session that is not final yet by hand, as the console's buttons and
    /// `POST /_admin/sessions/{id}/outcome` do (the same code): validated, not validated with a
    /// reason, or files required again; the notification is sent as for any outcome.
    ///
    /// # Errors
    ///
    /// [`AdminError::NotFound`] for an unknown session, [`AdminError::Refused`] for a final one or
    /// an invalid decision (no documents, an empty reason).
    pub fn decide(&self, session_id: &str, decision: crate::Decision) -> Result<(), AdminError> {
        let _runtime = self.runtime.enter();
        crate::admin::decide(&self.shared, session_id, &decision).map_err(AdminError::from)
    }

    /// Delivers a logged webhook again (same event id and body, signed anew), as the console's
    /// resend button and `POST /_admin/webhooks/{event_id}/resend` do.
    ///
    /// # Errors
    ///
    /// [`AdminError::NotFound`] when no delivery with that event id is logged,
    /// [`AdminError::Refused`] when no URL is configured for its kind.
    pub fn resend_webhook(&self, event_id: &str) -> Result<(), AdminError> {
        let _runtime = self.runtime.enter();
        crate::admin::resend_webhook(&self.shared, event_id).map_err(AdminError::from)
    }

    /// How many sessions are stored.
    pub fn session_count(&self) -> usize {
        self.shared.lock().sessions.len()
    }

    /// Finished webhook deliveries (each with all its attempts) and withheld ones, in the order
    /// they finished, oldest first (the newest 10,000). Each says which notification it carried,
    /// whether it was its first delivery, a duplicate or a resend, whether it was dropped, how
    /// long it was held, and each attempt's URL, headers and answer: what reached the receiver.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.shared.lock().deliveries.iter().cloned().collect()
    }

    /// Waits until at least `count` webhook deliveries have finished, or `timeout` passes; returns the
    /// deliveries finished by then (possibly fewer than `count`).
    pub fn wait_for_webhook_deliveries(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<WebhookDelivery> {
        self.shared.wait_for_deliveries(count, timeout)
    }

    /// Stops accepting, closes open connections, cancels pending deliveries and waits for the
    /// background thread. Dropping the server does the same.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for MockServer {
    // Hand-written so that keys and tokens in the shared state never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("base_url", &self.shared.base_url)
            .field("config", &self.shared.config)
            .field("running", &self.thread.is_some())
            .finish()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let permits = Arc::new(Semaphore::new(shared.config.max_connections));
    loop {
        let permit = tokio::select! {
            _ = &mut stop => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (stream, peer) = stream;
        let _ = stream.set_nodelay(true);
        shared.lock().stats.connections += 1;
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |request| serve(Arc::clone(&shared), peer, request));
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .keep_alive(true)
                .max_buf_size(MAX_BUF_SIZE)
                .max_header_size(MAX_HEADER_SIZE);
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

/// hyper's service: one request in, one response out (or a dropped connection). The API's
/// description, the console and the admin API are served apart, outside faults, the request log
/// and the statistics.
async fn serve(
    shared: Arc<Shared>,
    peer: SocketAddr,
    request: http::Request<hyper::body::Incoming>,
) -> Result<crate::http::HttpResponse, DropConnection> {
    if request.uri().path() == crate::openapi::PATH {
        return Ok(crate::openapi::serve(request.method()));
    }
    if crate::admin::is_admin_path(request.uri().path()) {
        let (parts, body) = request.into_parts();
        return Ok(crate::admin::serve(&shared, peer, parts, body).await);
    }
    crate::router::serve(shared, request).await
}

/// Why a decision or a resend by hand was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminError {
    /// No such session or delivery.
    NotFound(String),
    /// The session is final, the decision is invalid, or nothing can be sent.
    Refused(String),
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::NotFound(why) => write!(f, "not found: {why}"),
            AdminError::Refused(why) => write!(f, "refused: {why}"),
        }
    }
}

impl std::error::Error for AdminError {}

impl From<crate::http::ApiError> for AdminError {
    fn from(error: crate::http::ApiError) -> Self {
        if error.status == http::StatusCode::NOT_FOUND {
            AdminError::NotFound(error.message)
        } else {
            AdminError::Refused(error.message)
        }
    }
}
