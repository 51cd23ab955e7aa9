//! Lazy pagination over a search: kyc-core's [`Pager`](kyc_core::Pager) says which page comes
//! next and when to stop ([`kyc_adapter::Walk`] keeps the books); this stream fetches each page
//! when the previous one is used up.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use kyc_adapter::{Walk, WalkStep};
use kyc_core::{SearchSessions, Session, SessionPage};

use crate::Error;
use crate::client::Client;
use crate::transport::BoxFuture;

/// Every session matching a search, fetched page by page; see [`Client::search_all`].
///
/// A [`Stream`] of `Ok(session)` in the server's order, each session once, ending when the pager
/// says so. A failed page, or a walk the pager stops early (a server that ignores `page[number]`,
/// the page cap), is yielded as one `Err` after every session already fetched, and ends the
/// stream. `Unpin`: use it with `futures_util::StreamExt::next` directly.
pub struct SearchAll {
    client: Client,
    walk: Walk,
    in_flight: Option<BoxFuture<'static, Result<SessionPage, Error>>>,
}

impl SearchAll {
    pub(crate) fn new(client: Client, search: SearchSessions) -> Self {
        let walk = Walk::new(client.config(), search);
        Self {
            client,
            walk,
            in_flight: None,
        }
    }

    /// How many pages were fetched so far.
    #[must_use]
    pub fn pages_fetched(&self) -> u64 {
        self.walk.pages_fetched()
    }
}

impl fmt::Debug for SearchAll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchAll")
            .field("walk", &self.walk)
            .field("fetching", &self.in_flight.is_some())
            .finish_non_exhaustive()
    }
}

impl Stream for SearchAll {
    type Item = Result<Session, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(fetch) = this.in_flight.as_mut() {
                let page = std::task::ready!(fetch.as_mut().poll(cx));
                this.in_flight = None;
                this.walk.received(page);
            }
            match this.walk.step() {
                WalkStep::Yield(item) => return Poll::Ready(Some(item)),
                WalkStep::Fetch(search) => {
                    let client = this.client.clone();
                    this.in_flight = Some(Box::pin(async move { client.execute(&search).await }));
                }
                WalkStep::End => return Poll::Ready(None),
            }
        }
    }
}

impl FusedStream for SearchAll {
    fn is_terminated(&self) -> bool {
        self.in_flight.is_none() && self.walk.is_over()
    }
}
