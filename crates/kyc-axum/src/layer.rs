//! [`ReceiptLayer`]: commits a delivery's [`Receipt`] when the response is `2xx`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use crate::Receipt;

/// Records a delivery as received when its handler's response is `2xx`, which is what Pomelo
/// reads as received; any other answer, a panic or a cancelled request (a timeout layer, a client
/// gone) leaves it to be handled again. Add it to the router that takes [`VerifiedEvent`]
/// (`Router::layer` or `Router::route_layer`); without it, the extractor answers `500` (reason
/// `receipt_layer_missing`) rather than guess.
///
/// [`VerifiedEvent`]: crate::VerifiedEvent
///
/// ```
/// use axum::{Router, routing::post, http::StatusCode};
/// use kyc_axum::{ReceiptLayer, VerifiedEvent, WebhookReceiver};
///
/// async fn identity(VerifiedEvent(_event): VerifiedEvent) -> StatusCode {
///     StatusCode::NO_CONTENT // 2xx: received; anything else: Pomelo sends it again
/// }
///
/// # fn app(receiver: WebhookReceiver) -> Router {
/// Router::new()
///     .route("/webhooks/identity", post(identity))
///     .layer(ReceiptLayer::new())
///     .with_state(receiver)
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ReceiptLayer {
    _private: (),
}

impl ReceiptLayer {
    /// The layer.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> tower_layer::Layer<S> for ReceiptLayer {
    type Service = ReceiptService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ReceiptService { inner }
    }
}

/// The service [`ReceiptLayer`] wraps around a route.
#[derive(Clone, Debug)]
pub struct ReceiptService<S> {
    inner: S,
}

impl<S, B, ResBody> tower_service::Service<http::Request<B>> for ReceiptService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ReceiptFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let slot = Slot::default();
        request.extensions_mut().insert(slot.clone());
        ReceiptFuture {
            inner: Box::pin(self.inner.call(request)),
            slot,
            committing: None,
        }
    }
}

/// The response future of [`ReceiptService`]: the route's, then the commit or the abandon (on
/// tokio's blocking pool when the replay store blocks; the response waits for it). Dropped before the route's
/// future finishes (a cancelled request), it drops the receipt uncommitted.
pub struct ReceiptFuture<F: Future> {
    inner: Pin<Box<F>>,
    slot: Slot,
    committing: Option<Committing<F::Output>>,
}

/// A commit or abandon under way on a blocking thread, and the response that waits for it.
struct Committing<T> {
    commit: tokio::task::JoinHandle<()>,
    output: Option<Box<T>>,
}

impl<F, ResBody, E> Future for ReceiptFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            if let Some(Committing { commit, output }) = &mut this.committing {
                // Polled again after it finished (a caller's error): the finished handle is not
                // polled again (tokio panics on that); there is nothing more to give.
                if output.is_none() {
                    return Poll::Pending;
                }
                // A failed commit (its thread panicked) is one the store did not record: the
                // delivery is handled again if it comes back, as when the store fails.
                if Pin::new(commit).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                return output
                    .take()
                    .map_or(Poll::Pending, |output| Poll::Ready(*output));
            }
            let output = match this.inner.as_mut().poll(cx) {
                Poll::Ready(output) => output,
                Poll::Pending => return Poll::Pending,
            };
            let Some(receipt) = this.slot.take() else {
                return Poll::Ready(output);
            };
            let received = matches!(&output, Ok(response) if response.status().is_success());
            match receipt.blocking_pool() {
                // Recorded, or forgotten, before the answer leaves: a copy sent after it finds
                // the delivery handled, or free to handle.
                Some(pool) => {
                    let commit = pool.spawn_blocking(move || {
                        if received {
                            receipt.commit();
                        } else {
                            receipt.abandon_here();
                        }
                    });
                    this.committing = Some(Committing {
                        commit,
                        output: Some(Box::new(output)),
                    });
                }
                None => {
                    if received {
                        receipt.commit();
                    }
                    // Otherwise dropped here: not received.
                    return Poll::Ready(output);
                }
            }
        }
    }
}

impl<F: Future> std::fmt::Debug for ReceiptFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptFuture").finish_non_exhaustive()
    }
}

/// Where the extractor leaves a request's receipt for the layer: a request extension shared by
/// both.
#[derive(Clone, Default)]
pub(crate) struct Slot(Arc<Mutex<Option<Receipt>>>);

impl Slot {
    pub(crate) fn put(&self, receipt: Receipt) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(receipt);
    }

    fn take(&self) -> Option<Receipt> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}
