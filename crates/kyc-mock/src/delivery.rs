//! Webhook delivery: each notification POSTed over plain HTTP/1.1 with a timeout, signed anew
//! for each attempt, retried with a doubling wait up to the configured attempts, then logged.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;

use crate::clock::unix_seconds;
use crate::config::Alternative;
use crate::signature::{Digest, signed_headers};
use crate::state::Shared;
use crate::webhook::{DeliveryAttempt, Notification, WebhookDelivery, WebhookKind, WebhookTarget};

/// Starts delivering `notifications` in the background (only those with a configured URL).
pub(crate) fn dispatch(shared: &Arc<Shared>, notifications: Vec<Notification>) {
    for n in notifications {
        start(shared, n);
    }
}

/// Delivers a logged delivery's notification again (same event id and body, newly signed), as
/// Pomelo would redeliver it. Returns whether a target is configured for its kind.
pub(crate) fn resend(shared: &Arc<Shared>, delivery: &WebhookDelivery) -> bool {
    start(
        shared,
        Notification {
            kind: delivery.kind,
            session_id: delivery.session_id.clone(),
            event_id: delivery.event_id.clone(),
            body: delivery.body.clone(),
        },
    )
}

/// Spawns the delivery of `n` to the target of its kind; whether there is one.
fn start(shared: &Arc<Shared>, n: Notification) -> bool {
    let target = match n.kind {
        WebhookKind::SessionStatus => &shared.webhook_target,
        WebhookKind::RequiredFile => &shared.required_file_target,
    };
    let Some(target) = target.clone() else {
        return false;
    };
    tokio::spawn(deliver(Arc::clone(shared), target, n));
    true
}

async fn deliver(shared: Arc<Shared>, target: WebhookTarget, n: Notification) {
    let config = &shared.config;
    let attempts_allowed = config.webhook_max_attempts.max(1);
    let mut attempts = Vec::new();
    let mut wait = config.webhook_retry_delay;
    let digest = if config.plays(Alternative::HexSignatures) {
        Digest::Hex
    } else {
        Digest::Base64
    };
    for attempt in 0..attempts_allowed {
        if attempt > 0 {
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
        let timestamp = unix_seconds(shared.clock.now()).to_string();
        let headers = signed_headers(
            &config.webhook_api_key,
            &shared.webhook_key,
            &timestamp,
            &target.endpoint,
            &n.body,
            digest,
        );
        let outcome =
            tokio::time::timeout(config.webhook_timeout, post(&target, &headers, &n.body)).await;
        let (status, error) = match outcome {
            Ok(Ok(status)) => (Some(status), None),
            Ok(Err(e)) => (None, Some(e)),
            Err(_) => (
                None,
                Some(format!("no answer within {:?}", config.webhook_timeout)),
            ),
        };
        let success = status.is_some_and(|s| (200..300).contains(&s));
        attempts.push(DeliveryAttempt {
            headers,
            status,
            error,
        });
        if success {
            break;
        }
    }
    shared.record_delivery(WebhookDelivery {
        kind: n.kind,
        url: target.url.clone(),
        endpoint: target.endpoint.clone(),
        session_id: n.session_id,
        event_id: n.event_id,
        body: n.body,
        attempts,
    });
}

/// One POST; the status code, or why there is none.
async fn post(
    target: &WebhookTarget,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect((target.connect_host.as_str(), target.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let driver = tokio::spawn(connection);
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(target.endpoint.as_str())
        .header(http::header::HOST, target.host_header.as_str());
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| format!("request: {e}"))?;
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let status = response.status().as_u16();
        // Read (and discard) a bounded amount of the answer so the exchange completes.
        let _ = Limited::new(response.into_body(), 64 * 1024)
            .collect()
            .await;
        Ok(status)
    }
    .await;
    driver.abort();
    result
}
