//! Webhooks the simulator sends: payloads of docs/wire-conventions.md, the reference's §8.3
//! signature, delivery over plain HTTP/1.1 with a timeout and bounded retries, and the delivery log.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::Sha256;
use url::{Host, Url};

use crate::clock::{rfc3339, unix_seconds};
use crate::session::Session;
use crate::state::Shared;

/// Which of Pomelo's two identity notifications a delivery carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WebhookKind {
    /// Validation session notification (`identity.session.status_changed`), sent for an outcome.
    SessionStatus,
    /// Required file notification (`identity.session.required_file`).
    RequiredFile,
}

/// One HTTP attempt of a webhook delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryAttempt {
    /// Headers sent, in order: `content-type`, `x-api-key`, `x-signature`, `x-timestamp`,
    /// `x-endpoint`.
    pub headers: Vec<(String, String)>,
    /// The receiver's status code, when it answered.
    pub status: Option<u16>,
    /// Why no status was obtained (connection refused, timeout, …).
    pub error: Option<String>,
}

/// A finished webhook delivery: all its attempts, the last one successful or the attempts used up.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookDelivery {
    /// The notification sent.
    pub kind: WebhookKind,
    /// The target URL.
    pub url: String,
    /// `X-Endpoint`: the target's path and query.
    pub endpoint: String,
    /// The session concerned.
    pub session_id: String,
    /// `event_id` of the payload (the same in every attempt).
    pub event_id: String,
    /// The exact body bytes sent (the same in every attempt).
    pub body: Vec<u8>,
    /// The attempts, in order.
    pub attempts: Vec<DeliveryAttempt>,
}

impl WebhookKind {
    /// The event type's short name: `status_changed` or `required_file`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::SessionStatus => "status_changed",
            WebhookKind::RequiredFile => "required_file",
        }
    }
}

impl WebhookDelivery {
    /// Whether the last attempt got a `2xx`.
    pub fn delivered(&self) -> bool {
        self.last_status().is_some_and(|s| (200..300).contains(&s))
    }

    /// Status of the last attempt, when it got one.
    pub fn last_status(&self) -> Option<u16> {
        self.attempts.last().and_then(|a| a.status)
    }

    /// The payload as JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// A parsed webhook URL.
#[derive(Clone, Debug)]
pub(crate) struct WebhookTarget {
    pub(crate) url: String,
    connect_host: String,
    port: u16,
    host_header: String,
    pub(crate) endpoint: String,
}

impl WebhookTarget {
    /// Parses an `http://` URL; unless `allow_any_host`, the host must be loopback.
    pub(crate) fn parse(raw: &str, allow_any_host: bool) -> Result<Self, String> {
        let url = Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
        if url.scheme() != "http" {
            return Err("only http:// URLs are supported".to_owned());
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| "no port".to_owned())?;
        let (connect_host, loopback) = match url.host() {
            Some(Host::Ipv4(ip)) => (ip.to_string(), IpAddr::V4(ip).is_loopback()),
            Some(Host::Ipv6(ip)) => (ip.to_string(), IpAddr::V6(ip).is_loopback()),
            Some(Host::Domain(d)) => (d.to_owned(), d.eq_ignore_ascii_case("localhost")),
            None => return Err("no host".to_owned()),
        };
        if !loopback && !allow_any_host {
            return Err(
                "the host must be loopback (127.0.0.0/8, ::1 or localhost) unless \
                 danger_allow_non_loopback is set"
                    .to_owned(),
            );
        }
        let host_header = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let endpoint = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        Ok(Self {
            url: raw.to_owned(),
            connect_host,
            port,
            host_header,
            endpoint,
        })
    }
}

/// `"hmac-sha256 " + base64(HMAC-SHA256(key, timestamp ‖ endpoint ‖ body))` (reference §8.3).
#[cfg(test)]
pub(crate) fn sign(key: &[u8], timestamp: &str, endpoint: &str, body: &[u8]) -> String {
    sign_as(key, timestamp, endpoint, body, false)
}

/// As [`sign`], with the digest in lowercase hex when `hex` (`Alternative::HexSignatures`).
pub(crate) fn sign_as(
    key: &[u8],
    timestamp: &str,
    endpoint: &str,
    body: &[u8],
    hex: bool,
) -> String {
    // HMAC takes keys of any length, so this cannot fail; an empty MAC would only fail verification.
    let Ok(mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return "hmac-sha256 ".to_owned();
    };
    let tag = mac
        .chain_update(timestamp.as_bytes())
        .chain_update(endpoint.as_bytes())
        .chain_update(body)
        .finalize()
        .into_bytes();
    if hex {
        let digits: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        return format!("hmac-sha256 {digits}");
    }
    format!("hmac-sha256 {}", STANDARD.encode(tag))
}

/// A notification waiting to be delivered.
#[derive(Debug)]
pub(crate) struct Notification {
    kind: WebhookKind,
    session_id: String,
    event_id: String,
    body: Vec<u8>,
}

impl Notification {
    /// Validation session notification for the session's current status.
    pub(crate) fn status_changed(shared: &Shared, session: &Session) -> Self {
        let event_id = shared.ids.id("evt-", 27);
        let mut body = json!({
            "event_id": event_id,
            "event_type": "identity.session.status_changed",
            "created_at": rfc3339(shared.clock.now()),
            "data": {
                "session_id": session.id,
                "status": session.status.as_str(),
                "reason": session.reason,
                "country": session.country,
                "flow_type": session.flow_type,
            }
        });
        if let Some(data) = body.get_mut("data").and_then(Value::as_object_mut) {
            data.extend(session.subject());
        }
        Self {
            kind: WebhookKind::SessionStatus,
            session_id: session.id.clone(),
            event_id,
            body: serde_json::to_vec(&body).unwrap_or_default(),
        }
    }

    /// Required file notification asking for `documents` again.
    pub(crate) fn required_file(
        shared: &Shared,
        session: &Session,
        documents: &[String],
        reason: &str,
    ) -> Self {
        let event_id = shared.ids.id("evt-", 27);
        let mut body = json!({
            "event_id": event_id,
            "event_type": "identity.session.required_file",
            "created_at": rfc3339(shared.clock.now()),
            "data": {
                "session_id": session.id,
                "entity_id": session.user_id,
                "required_documents": documents,
                "reason": reason,
            }
        });
        if let Some(data) = body.get_mut("data").and_then(Value::as_object_mut) {
            data.extend(session.subject());
        }
        Self {
            kind: WebhookKind::RequiredFile,
            session_id: session.id.clone(),
            event_id,
            body: serde_json::to_vec(&body).unwrap_or_default(),
        }
    }
}

/// Starts delivering `notifications` in the background (only those with a configured URL).
pub(crate) fn dispatch(shared: &Arc<Shared>, notifications: Vec<Notification>) {
    for n in notifications {
        let target = match n.kind {
            WebhookKind::SessionStatus => shared.webhook_target.clone(),
            WebhookKind::RequiredFile => shared.required_file_target.clone(),
        };
        if let Some(target) = target {
            tokio::spawn(deliver(Arc::clone(shared), target, n));
        }
    }
}

/// Delivers a logged delivery's notification again (same event id and body, newly signed), as
/// Pomelo would redeliver it. Returns whether a target is configured for its kind.
pub(crate) fn resend(shared: &Arc<Shared>, delivery: &WebhookDelivery) -> bool {
    let target = match delivery.kind {
        WebhookKind::SessionStatus => shared.webhook_target.clone(),
        WebhookKind::RequiredFile => shared.required_file_target.clone(),
    };
    let Some(target) = target else {
        return false;
    };
    let notification = Notification {
        kind: delivery.kind,
        session_id: delivery.session_id.clone(),
        event_id: delivery.event_id.clone(),
        body: delivery.body.clone(),
    };
    tokio::spawn(deliver(Arc::clone(shared), target, notification));
    true
}

async fn deliver(shared: Arc<Shared>, target: WebhookTarget, n: Notification) {
    let config = &shared.config;
    let attempts_allowed = config.webhook_max_attempts.max(1);
    let mut attempts = Vec::new();
    let mut wait = config.webhook_retry_delay;
    for attempt in 0..attempts_allowed {
        if attempt > 0 {
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
        let timestamp = unix_seconds(shared.clock.now()).to_string();
        let hex = shared
            .config
            .plays(crate::config::Alternative::HexSignatures);
        let signature = sign_as(
            &shared.webhook_key,
            &timestamp,
            &target.endpoint,
            &n.body,
            hex,
        );
        let headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-api-key".to_owned(), config.webhook_api_key.clone()),
            ("x-signature".to_owned(), signature),
            ("x-timestamp".to_owned(), timestamp),
            ("x-endpoint".to_owned(), target.endpoint.clone()),
        ];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_reference_vectors() {
        let key = STANDARD
            .decode("uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=")
            .unwrap();
        assert_eq!(
            sign(
                &key,
                "1700000000",
                "/webhooks/identity/sessions",
                br#"{"id":"iss-123","status":"VALIDATED"}"#
            ),
            "hmac-sha256 JoGyuWrhnlXQTCenRej5MVnolkroEtek63ESCjDEXdg="
        );
        assert_eq!(
            sign(&key, "1700000000", "/transactions/adjustments/credit", b""),
            "hmac-sha256 GrPfZok+HlPRG+QxLSuAKbMpRR65vJzPHU8llD2ImEY="
        );
    }

    #[test]
    fn targets_must_be_plain_http_on_loopback() {
        let t = WebhookTarget::parse("http://127.0.0.1:8080/hooks/id?x=1", false).unwrap();
        assert_eq!(t.endpoint, "/hooks/id?x=1");
        assert_eq!(t.host_header, "127.0.0.1:8080");
        let t = WebhookTarget::parse("http://[::1]:9/h", false).unwrap();
        assert_eq!(t.connect_host, "::1");
        assert!(WebhookTarget::parse("http://localhost:9/", false).is_ok());
        assert!(WebhookTarget::parse("https://127.0.0.1:9/", false).is_err());
        assert!(WebhookTarget::parse("http://example.com/", false).is_err());
        assert!(WebhookTarget::parse("http://10.0.0.1/", false).is_err());
        assert!(WebhookTarget::parse("http://10.0.0.1/", true).is_ok());
        assert!(WebhookTarget::parse("not a url", true).is_err());
    }
}
