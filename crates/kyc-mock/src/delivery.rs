//! Webhook delivery: each notification numbered, planned by the chaos settings (`chaos.rs`:
//! dropped, duplicated, held), then POSTed over plain HTTP/1.1 with a timeout, retried with a
//! doubling wait up to the configured attempts, each attempt to the next target URL, each copy
//! logged when it finishes.
//!
//! Signing: every attempt is signed anew with a fresh `X-Timestamp` from the simulator's clock,
//! unless `keep_first_signature` is set, in which case every attempt of the notification (its
//! retries and duplicates) carries its first attempt's timestamp, and so the same signature for
//! the same endpoint.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::chaos::{Plan, plan};
use crate::clock::unix_seconds;
use crate::config::Alternative;
use crate::signature::{Digest, signed_headers};
use crate::state::Shared;
use crate::webhook::{
    DeliveryAttempt, DeliveryOrigin, DropReason, Notification, WebhookDelivery, WebhookTarget,
};

/// Starts delivering `notifications` in the background (only those with a configured URL).
pub(crate) fn dispatch(shared: &Arc<Shared>, notifications: Vec<Notification>) {
    for n in notifications {
        start(shared, n, None);
    }
}

/// Delivers a logged delivery's notification again (same event id and body, newly signed, no
/// chaos), as Pomelo would redeliver it. Returns whether a target is configured for its kind.
pub(crate) fn resend(shared: &Arc<Shared>, delivery: &WebhookDelivery) -> bool {
    start(
        shared,
        Notification {
            kind: delivery.kind,
            session_id: delivery.session_id.clone(),
            event_id: delivery.event_id.clone(),
            body: delivery.body.clone(),
        },
        Some(delivery.notification),
    )
}

/// A notification on its way.
struct Job {
    n: Notification,
    number: u64,
    plan: Plan,
    keep_first_signature: bool,
    resend: bool,
}

/// Numbers `n` (a resend keeps `resend_of`'s number), plans it and spawns its delivery, or logs
/// it as dropped; whether a target is configured for its kind.
fn start(shared: &Arc<Shared>, mut n: Notification, resend_of: Option<u64>) -> bool {
    let targets = shared.targets(n.kind);
    if targets.is_empty() {
        return false;
    }
    let mut state = shared.lock();
    let chaos = state.chaos.clone();
    let (number, plan) = match resend_of {
        Some(number) => (
            number,
            Plan {
                dropped: false,
                holds: vec![Duration::ZERO],
            },
        ),
        None => {
            state.notifications += 1;
            state.stats.webhook_notifications += 1;
            let number = state.notifications;
            (number, plan(shared.webhook_seed, number, &chaos))
        }
    };
    let full = state.pending_webhooks >= shared.config.webhook_max_pending;
    if !plan.dropped && !full {
        state.pending_webhooks += 1;
    }
    drop(state);
    let origin = if resend_of.is_some() {
        DeliveryOrigin::Resend
    } else {
        DeliveryOrigin::First
    };
    if resend_of.is_none() && chaos.omit_event_id {
        n.body = without_event_id(&n.body);
    }
    let dropped = if plan.dropped {
        Some(DropReason::Chaos)
    } else if full {
        Some(DropReason::QueueFull)
    } else {
        None
    };
    if let Some(reason) = dropped {
        let (url, endpoint) = nth_target(targets, number, 0)
            .map(|t| (t.url.clone(), t.endpoint.clone()))
            .unwrap_or_default();
        shared.record_delivery(WebhookDelivery {
            kind: n.kind,
            url,
            endpoint,
            session_id: n.session_id,
            event_id: n.event_id,
            body: n.body,
            attempts: Vec::new(),
            notification: number,
            origin,
            dropped: Some(reason),
            held: Duration::ZERO,
        });
        return true;
    }
    let job = Job {
        n,
        number,
        plan,
        keep_first_signature: chaos.keep_first_signature && resend_of.is_none(),
        resend: resend_of.is_some(),
    };
    tokio::spawn(run(Arc::clone(shared), job));
    true
}

/// The body without its `event_id` member (the body as it is if it is not a JSON object).
fn without_event_id(body: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut map)) => {
            map.remove("event_id");
            serde_json::to_vec(&map).unwrap_or_else(|_| body.to_vec())
        }
        _ => body.to_vec(),
    }
}

/// The target of a notification's `sent`-th attempt (from 0, over all its copies): round-robin
/// from URL `(number - 1) mod n`.
fn nth_target(targets: &[WebhookTarget], number: u64, sent: u64) -> Option<&WebhookTarget> {
    let count = u64::try_from(targets.len()).ok().filter(|c| *c > 0)?;
    let index = number.wrapping_sub(1).wrapping_add(sent) % count;
    targets.get(usize::try_from(index).ok()?)
}

/// Marks the notification settled however its task ends (finished, or cancelled at shutdown).
struct Pending(Arc<Shared>);

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.webhook_settled();
    }
}

/// Delivers each copy of the job in turn, each after its hold, and logs it.
async fn run(shared: Arc<Shared>, job: Job) {
    let _pending = Pending(Arc::clone(&shared));
    let mut sent = 0u64;
    let mut first_timestamp = None;
    for (copy, hold) in job.plan.holds.iter().enumerate() {
        if !hold.is_zero() {
            tokio::time::sleep(*hold).await;
        }
        let first = sent;
        let attempts = attempts(&shared, &job, &mut sent, &mut first_timestamp).await;
        let (url, endpoint) = nth_target(shared.targets(job.n.kind), job.number, first)
            .map(|t| (t.url.clone(), t.endpoint.clone()))
            .unwrap_or_default();
        let origin = match (job.resend, u32::try_from(copy)) {
            (true, _) => DeliveryOrigin::Resend,
            (false, Ok(0)) => DeliveryOrigin::First,
            (false, copy) => DeliveryOrigin::Duplicate(copy.unwrap_or(u32::MAX)),
        };
        shared.record_delivery(WebhookDelivery {
            kind: job.n.kind,
            url,
            endpoint,
            session_id: job.n.session_id.clone(),
            event_id: job.n.event_id.clone(),
            body: job.n.body.clone(),
            attempts,
            notification: job.number,
            origin,
            dropped: None,
            held: *hold,
        });
    }
}

/// One copy's attempts: until a `2xx` or the attempts allowed are used up.
async fn attempts(
    shared: &Shared,
    job: &Job,
    sent: &mut u64,
    first_timestamp: &mut Option<String>,
) -> Vec<DeliveryAttempt> {
    let config = &shared.config;
    let digest = if config.plays(Alternative::HexSignatures) {
        Digest::Hex
    } else {
        Digest::Base64
    };
    let mut attempts = Vec::new();
    let mut wait = config.webhook_retry_delay;
    for attempt in 0..config.webhook_max_attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
        let Some(target) = nth_target(shared.targets(job.n.kind), job.number, *sent) else {
            break;
        };
        *sent += 1;
        let fresh = unix_seconds(shared.clock.now()).to_string();
        let timestamp = if job.keep_first_signature {
            first_timestamp.get_or_insert(fresh).clone()
        } else {
            fresh
        };
        let headers = signed_headers(
            &config.webhook_api_key,
            &shared.webhook_key,
            &timestamp,
            &target.endpoint,
            &job.n.body,
            digest,
        );
        let outcome =
            tokio::time::timeout(config.webhook_timeout, post(target, &headers, &job.n.body)).await;
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
            url: target.url.clone(),
            headers,
            status,
            error,
        });
        if success {
            break;
        }
    }
    attempts
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_take_the_targets_in_turn() {
        let targets: Vec<WebhookTarget> = (1..=3)
            .map(|p| WebhookTarget::parse(&format!("http://127.0.0.1:{p}/h"), false).unwrap())
            .collect();
        let port = |number, sent| nth_target(&targets, number, sent).map(|t| t.port);
        assert_eq!(port(1, 0), Some(1));
        assert_eq!(port(2, 0), Some(2));
        assert_eq!(port(3, 0), Some(3));
        assert_eq!(port(4, 0), Some(1));
        assert_eq!(port(1, 1), Some(2), "a retry goes to the next");
        assert_eq!(port(3, 2), Some(2));
        assert_eq!(nth_target(&[], 1, 0).map(|t| t.port), None);
    }

    #[test]
    fn event_ids_are_left_out_and_nothing_else() {
        let body = br#"{"created_at":"t","data":{"event_id":"inner"},"event_id":"evt-1"}"#;
        assert_eq!(
            without_event_id(body),
            br#"{"created_at":"t","data":{"event_id":"inner"}}"#.to_vec()
        );
        assert_eq!(without_event_id(b"[1]"), b"[1]".to_vec());
    }
}
