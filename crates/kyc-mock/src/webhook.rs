//! Webhooks the simulator sends: their targets, their payloads (docs/wire-conventions.md) and the
//! log of finished deliveries. Signing is `signature.rs`'s, the attempts and retries
//! `delivery.rs`'s, the chaos `chaos.rs`'s.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use url::{Host, Url};

use crate::clock::rfc3339;
use crate::session::Session;

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
    /// The URL it was sent to (with several webhook URLs, attempts take them in turn).
    pub url: String,
    /// Headers sent, in order: `content-type`, `x-api-key`, `x-signature`, `x-timestamp`,
    /// `x-endpoint`.
    pub headers: Vec<(String, String)>,
    /// The receiver's status code, when it answered.
    pub status: Option<u16>,
    /// Why no status was obtained (connection refused, timeout, …).
    pub error: Option<String>,
}

/// A finished webhook delivery: all its attempts, the last one successful or the attempts used
/// up; or a delivery the simulator withheld ([`dropped`](Self::dropped), no attempt).
///
/// One notification may have several deliveries: its first, duplicates the
/// [chaos settings](crate::WebhookChaos) added, and resends by hand. They share
/// [`notification`](Self::notification) and [`event_id`](Self::event_id).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookDelivery {
    /// The notification sent.
    pub kind: WebhookKind,
    /// The URL of its first attempt (for a dropped delivery, the one it would have had).
    pub url: String,
    /// `X-Endpoint` of its first attempt: the URL's path and query.
    pub endpoint: String,
    /// The session concerned.
    pub session_id: String,
    /// The notification's event id (the same in every attempt and copy), also when
    /// [`WebhookChaos::omit_event_id`](crate::WebhookChaos::omit_event_id) left it out of the body.
    pub event_id: String,
    /// The exact body bytes sent (the same in every attempt).
    pub body: Vec<u8>,
    /// The attempts, in order; none when [`dropped`](Self::dropped).
    pub attempts: Vec<DeliveryAttempt>,
    /// The notification's number in this run, from 1, in the order the simulator sent them: the
    /// position of its decisions in the seeded stream. Its copies and resends share it.
    pub notification: u64,
    /// The notification's first delivery, a duplicate, or a resend by hand.
    pub origin: DeliveryOrigin,
    /// Why the simulator withheld it, when it did: the receiver never saw it.
    pub dropped: Option<DropReason>,
    /// How long it was held before its first attempt (a duplicate: after the previous copy
    /// finished).
    pub held: Duration,
}

/// Where a [`WebhookDelivery`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryOrigin {
    /// The notification's first delivery.
    First,
    /// The `n`-th extra copy (from 1) that [`WebhookChaos::duplicate_rate`](crate::WebhookChaos::duplicate_rate)
    /// added.
    Duplicate(u32),
    /// Sent again by hand: [`MockServer::resend_webhook`](crate::MockServer::resend_webhook), the
    /// console or the admin API.
    Resend,
}

impl DeliveryOrigin {
    /// `first`, `duplicate` or `resend`, as the admin API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOrigin::First => "first",
            DeliveryOrigin::Duplicate(_) => "duplicate",
            DeliveryOrigin::Resend => "resend",
        }
    }
}

/// Why the simulator withheld a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// [`WebhookChaos::drop_rate`](crate::WebhookChaos::drop_rate) chose it.
    Chaos,
    /// [`MockConfig::webhook_max_pending`](crate::MockConfig::webhook_max_pending) notifications
    /// were already on their way.
    QueueFull,
}

impl DropReason {
    /// `chaos` or `queue_full`, as the admin API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Chaos => "chaos",
            DropReason::QueueFull => "queue_full",
        }
    }
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

    /// Whether some attempt got an answer, so the receiver certainly saw it. (An attempt that
    /// timed out may have reached it too.)
    pub fn answered(&self) -> bool {
        self.attempts.iter().any(|a| a.status.is_some())
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
    pub(crate) connect_host: String,
    pub(crate) port: u16,
    pub(crate) host_header: String,
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

/// A notification waiting to be delivered.
#[derive(Debug)]
pub(crate) struct Notification {
    pub(crate) kind: WebhookKind,
    pub(crate) session_id: String,
    pub(crate) event_id: String,
    pub(crate) body: Vec<u8>,
}

impl Notification {
    /// Validation session notification for the session's current status.
    pub(crate) fn status_changed(session: &Session, event_id: String, now: SystemTime) -> Self {
        let mut body = json!({
            "event_id": event_id,
            "event_type": "identity.session.status_changed",
            "created_at": rfc3339(now),
            "data": {
                "session_id": session.id,
                "status": session.status.as_str(),
                "reason": session.reason,
                "country": session.country,
                "flow_type": session.flow_type,
            }
        });
        if let Some(data) = body.get_mut("data").and_then(Value::as_object_mut) {
            data.extend(session.subject.members());
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
        session: &Session,
        documents: &[String],
        reason: &str,
        event_id: String,
        now: SystemTime,
    ) -> Self {
        let mut body = json!({
            "event_id": event_id,
            "event_type": "identity.session.required_file",
            "created_at": rfc3339(now),
            "data": {
                "session_id": session.id,
                "entity_id": session.subject.id(),
                "required_documents": documents,
                "reason": reason,
            }
        });
        if let Some(data) = body.get_mut("data").and_then(Value::as_object_mut) {
            data.extend(session.subject.members());
        }
        Self {
            kind: WebhookKind::RequiredFile,
            session_id: session.id.clone(),
            event_id,
            body: serde_json::to_vec(&body).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
