//! [`Rejection`]: why a delivery did not reach the handler, and the answer it gets.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use kyc_core::webhook::WebhookError;

/// Seconds a copy of a delivery being handled is told to wait (`Retry-After`): about as long as a
/// handler writing to a database takes, so the next copy finds the first's outcome.
pub const IN_FLIGHT_RETRY_AFTER_SECS: u64 = 5;

/// Why a delivery did not reach the handler, and the answer it gets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Not authenticated (signature, timestamp, api key, endpoint): `401`, the same body for
    /// every reason.
    #[error("webhook not authenticated: {0}")]
    Unauthenticated(WebhookError),
    /// Authentic, but the body is not JSON: `400`.
    #[error("webhook body is not JSON")]
    InvalidJson,
    /// Authentic and handled before within the replay memory (a redelivery or a replay):
    /// `200`, so that Pomelo stops redelivering, without calling the handler again.
    #[error("webhook delivery already received")]
    Repeated,
    /// Authentic, and another copy of it is being handled right now: `409` with `Retry-After`,
    /// never a `2xx`, because the first copy's handler may still fail; the sender tries again and
    /// then finds the first's outcome.
    #[error("webhook delivery is being handled")]
    InFlight,
    /// The body is larger than the receiver's limit: `413`.
    #[error("webhook body too large")]
    BodyTooLarge,
    /// The body could not be read (the client went away mid-body): `400`.
    #[error("webhook body could not be read")]
    BodyUnreadable,
    /// The router has no [`ReceiptLayer`](crate::ReceiptLayer), so nothing would record the
    /// delivery once handled: `500` before the body is read. A setup error, found by the first
    /// request.
    #[error("the router that takes VerifiedEvent needs kyc_axum::ReceiptLayer")]
    ReceiptLayerMissing,
    /// The replay store (a shared database) failed: `503` with `Retry-After`, so Pomelo
    /// delivers it again.
    #[error("the replay store is unavailable")]
    StoreUnavailable,
}

impl Rejection {
    /// A stable name for logs and metrics: the verifier's reason (`signature_mismatch`,
    /// `stale`, ...) for an unauthenticated delivery, else `invalid_json`, `repeated`,
    /// `in_flight`, `body_too_large`, `body_unreadable`, `receipt_layer_missing` or
    /// `store_unavailable`.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Unauthenticated(e) => e.kind(),
            Rejection::InvalidJson => "invalid_json",
            Rejection::Repeated => "repeated",
            Rejection::InFlight => "in_flight",
            Rejection::BodyTooLarge => "body_too_large",
            Rejection::BodyUnreadable => "body_unreadable",
            Rejection::ReceiptLayerMissing => "receipt_layer_missing",
            Rejection::StoreUnavailable => "store_unavailable",
        }
    }

    /// The HTTP status this rejection answers with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Rejection::InvalidJson | Rejection::BodyUnreadable => StatusCode::BAD_REQUEST,
            Rejection::Repeated => StatusCode::OK,
            Rejection::InFlight => StatusCode::CONFLICT,
            Rejection::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::ReceiptLayerMissing => StatusCode::INTERNAL_SERVER_ERROR,
            Rejection::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let body: &'static str = match self {
            Rejection::Unauthenticated(_) => r#"{"error":"unauthenticated"}"#,
            Rejection::InvalidJson => r#"{"error":"invalid_json"}"#,
            Rejection::Repeated => r#"{"status":"already_received"}"#,
            Rejection::InFlight => r#"{"status":"in_progress"}"#,
            Rejection::BodyTooLarge => r#"{"error":"body_too_large"}"#,
            Rejection::BodyUnreadable => r#"{"error":"body_unreadable"}"#,
            Rejection::ReceiptLayerMissing => r#"{"error":"receiver_misconfigured"}"#,
            Rejection::StoreUnavailable => r#"{"error":"store_unavailable"}"#,
        };
        let in_flight = matches!(self, Rejection::InFlight | Rejection::StoreUnavailable);
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if in_flight {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(IN_FLIGHT_RETRY_AFTER_SECS),
            );
        }
        response
    }
}
