//! [`VerifiedEvent`]: the extractor.

use axum::extract::{FromRef, FromRequest, Request};
use http::header;
use kyc_core::webhook::Event;

use crate::layer::Slot;
use crate::{Rejection, WebhookReceiver};

/// A webhook delivery that passed verification and is not being handled or handled already: the
/// extractor. Its receipt waits in the request for [`ReceiptLayer`](crate::ReceiptLayer), which
/// records the delivery as received when the handler answers `2xx`.
#[derive(Debug, Clone)]
pub struct VerifiedEvent(pub Event);

impl<S> FromRequest<S> for VerifiedEvent
where
    S: Send + Sync,
    WebhookReceiver: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let receiver = WebhookReceiver::from_ref(state);
        let limit = receiver.body_limit_value();
        let (parts, body) = request.into_parts();
        // What needs only the headers comes first: a request that cannot be authentic is
        // refused before its body is read, so it holds no buffer.
        receiver.check_headers(&parts.headers)?;
        let slot = parts.extensions.get::<Slot>().cloned();
        if slot.is_none() && receiver.guards_replays() {
            return Err(Rejection::ReceiptLayerMissing);
        }
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(Rejection::BodyTooLarge);
        }
        let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
            if e.into_inner().is::<http_body_util::LengthLimitError>() {
                Rejection::BodyTooLarge
            } else {
                Rejection::BodyUnreadable
            }
        })?;
        let delivery = if let Some(pool) = receiver.blocking_pool() {
            // A database: off the worker thread (the synchronous `postgres` driver panics on
            // one, and any database would stall the runtime's other requests).
            let headers = parts.headers.clone();
            let verifying = receiver.clone();
            pool.spawn_blocking(move || verifying.verify(&headers, &bytes))
                .await
                .map_err(|_| Rejection::StoreUnavailable)??
        } else {
            // The memory store, or no tokio runtime to hand the call to: in place.
            receiver.verify(&parts.headers, &bytes)?
        };
        if let Some(slot) = slot {
            slot.put(delivery.receipt);
        }
        Ok(VerifiedEvent(delivery.event))
    }
}
