//! Lazy pagination over a search: the core says which page comes next, this stream fetches it
//! when the previous one is used up.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use kyc_core::{SearchSessions, Session, SessionPage};

use crate::client::Client;
use crate::error::Error;
use crate::transport::BoxFuture;

/// Every session matching a search, fetched page by page; see [`Client::search_all`].
///
/// A [`Stream`] of `Ok(session)` in the server's order, ending after an empty page or the last page
/// ([`SearchSessions::next_page`] decides). A failed page is yielded as one `Err` and ends the
/// stream. `Unpin`: use it with `futures_util::StreamExt::next` directly.
pub struct SearchAll {
    client: Client,
    next: Option<SearchSessions>,
    buffered: VecDeque<Session>,
    pages_fetched: u64,
    in_flight: Option<InFlight>,
}

type InFlight = BoxFuture<'static, (SearchSessions, Result<SessionPage, Error>)>;

impl SearchAll {
    pub(crate) fn new(client: Client, search: SearchSessions) -> Self {
        Self {
            client,
            next: Some(search),
            buffered: VecDeque::new(),
            pages_fetched: 0,
            in_flight: None,
        }
    }

    /// How many pages were fetched so far.
    #[must_use]
    pub fn pages_fetched(&self) -> u64 {
        self.pages_fetched
    }
}

impl fmt::Debug for SearchAll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchAll")
            .field("next", &self.next)
            .field("buffered", &self.buffered.len())
            .field("pages_fetched", &self.pages_fetched)
            .field("fetching", &self.in_flight.is_some())
            .finish()
    }
}

impl Stream for SearchAll {
    type Item = Result<Session, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(session) = this.buffered.pop_front() {
                return Poll::Ready(Some(Ok(session)));
            }
            if let Some(fetch) = this.in_flight.as_mut() {
                let (search, result) = match fetch.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(done) => done,
                };
                this.in_flight = None;
                match result {
                    Ok(page) => {
                        this.pages_fetched += 1;
                        this.next = search.next_page(&page);
                        this.buffered.extend(page.sessions);
                        continue;
                    }
                    Err(e) => return Poll::Ready(Some(Err(e))),
                }
            }
            let Some(search) = this.next.take() else {
                return Poll::Ready(None);
            };
            let client = this.client.clone();
            this.in_flight = Some(Box::pin(async move {
                let result = client.search_sessions(&search).await;
                (search, result)
            }));
        }
    }
}

impl FusedStream for SearchAll {
    fn is_terminated(&self) -> bool {
        self.buffered.is_empty() && self.next.is_none() && self.in_flight.is_none()
    }
}
