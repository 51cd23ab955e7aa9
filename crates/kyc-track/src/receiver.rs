//! Receiving Pomelo's webhooks for a tracker, in axum: [`Tracker::router`] for an app of yours,
//! [`serve`] for a whole service (the receiver and the polling loop).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use kyc_core::webhook::{DeliveryKey, Verifier, WebhookError};

use crate::tracker::Tracker;

/// The largest webhook body read: 1 MiB (Pomelo's notifications are a few hundred bytes).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

struct Route {
    tracker: Tracker,
    verifier: Verifier,
    body_limit: usize,
}

impl Tracker {
    /// An axum router receiving Pomelo's webhooks at `path` (give the same path to
    /// `Verifier::expected_endpoint`, so `X-Endpoint` is checked). Each delivery:
    ///
    /// 1. its headers are checked first (signature headers present, known api key, fresh
    ///    timestamp): a request that cannot be authentic is answered `401` before its body is
    ///    read;
    /// 2. its body (at most 1 MiB: `413` beyond) is verified (`401` for a bad signature, `400`
    ///    for an authentic body that is not JSON);
    /// 3. its effect, its dedup key (the `event_id`, or a digest of api key, endpoint and body,
    ///    never the signature's text, so a re-spelled or re-signed redelivery is the same) and the
    ///    verdict it reaches commit in one transaction: only then is it answered `200`. A store
    ///    failure is `503` with `Retry-After`, so Pomelo delivers it again; a redelivery of a
    ///    committed delivery is `200` without a second effect, and a copy arriving while the
    ///    first is being committed waits for the database, then is a duplicate.
    ///
    /// Put a timeout and a concurrency limit in front of it (tower-http's
    /// `TimeoutLayer` and `ConcurrencyLimitLayer`, or your proxy's): the body is read only after
    /// the header checks, but an authenticated slow client still holds a connection.
    pub fn router(&self, path: &str, verifier: Verifier) -> Router {
        let route = Arc::new(Route {
            tracker: self.clone(),
            verifier,
            body_limit: DEFAULT_BODY_LIMIT,
        });
        Router::new().route(path, post(receive)).with_state(route)
    }
}

fn plain(status: StatusCode) -> Response {
    status.into_response()
}

async fn receive(State(route): State<Arc<Route>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let now = SystemTime::now();
    if route.verifier.check_headers(&parts.headers, now).is_err() {
        return plain(StatusCode::UNAUTHORIZED);
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > route.body_limit as u64) {
        return plain(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let Ok(bytes) = axum::body::to_bytes(body, route.body_limit).await else {
        return plain(StatusCode::BAD_REQUEST);
    };
    let event = match route.verifier.verify(&parts.headers, &bytes, now) {
        Ok(event) => event,
        Err(WebhookError::InvalidJson { .. }) => return plain(StatusCode::BAD_REQUEST),
        Err(_) => return plain(StatusCode::UNAUTHORIZED),
    };
    let key = DeliveryKey::of(&parts.headers, &bytes, &event).to_string();
    match route.tracker.ingest(&event, key).await {
        Ok(_) => plain(StatusCode::OK),
        Err(_) => {
            let mut response = plain(StatusCode::SERVICE_UNAVAILABLE);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

/// Runs a tracker as a service until `stop` completes: receives webhooks on `listener` at `path`
/// ([`Tracker::router`]), polls what goes quiet and resumes the creates a crash left pending
/// ([`Tracker::run`], sleeping at most `idle` between rounds).
///
/// # Errors
///
/// The listener's failure. A failure to poll or resume creates is not one: they are tried
/// again at a later round.
pub async fn serve(
    tracker: Tracker,
    listener: tokio::net::TcpListener,
    path: &str,
    verifier: Verifier,
    idle: Duration,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stopped, watch) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stop.await;
        let _ = stopped.send(true);
    });
    let until = |mut watch: tokio::sync::watch::Receiver<bool>| async move {
        let _ = watch.wait_for(|stop| *stop).await;
    };
    let router = tracker.router(path, verifier);
    let poller = tracker.clone();
    let polling = tokio::spawn({
        let watch = watch.clone();
        async move { poller.run(idle, until(watch)).await }
    });
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(until(watch))
        .await;
    let _ = polling.await;
    served
}
