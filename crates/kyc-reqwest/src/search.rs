//! Lazy pagination over a search: kyc-core's [`Pager`] says which page comes next and when to
//! stop; this stream fetches each page when the previous one is used up.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use kyc_core::{Pager, PagerStep, SearchSessions, Session, SessionPage};

use crate::client::Client;
use crate::error::Error;
use crate::transport::BoxFuture;

/// Every session matching a search, fetched page by page; see [`Client::search_all`].
///
/// A [`Stream`] of `Ok(session)` in the server's order, each session once, ending when the
/// [`Pager`] says so. A failed page, or a walk the pager stops early (a server that ignores
/// `page[number]`, the page cap), is yielded as one `Err` after every session already fetched,
/// and ends the stream. `Unpin`: use it with `futures_util::StreamExt::next` directly.
pub struct SearchAll {
    client: Client,
    pager: Pager,
    buffered: VecDeque<Session>,
    in_flight: Option<BoxFuture<'static, Result<SessionPage, Error>>>,
    ended: bool,
}

impl SearchAll {
    pub(crate) fn new(client: Client, search: SearchSessions) -> Self {
        let pager = Pager::new(client.config(), search);
        Self {
            client,
            pager,
            buffered: VecDeque::new(),
            in_flight: None,
            ended: false,
        }
    }

    /// How many pages were fetched so far.
    #[must_use]
    pub fn pages_fetched(&self) -> u64 {
        u64::from(self.pager.pages_fetched())
    }
}

impl fmt::Debug for SearchAll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchAll")
            .field("pager", &self.pager)
            .field("buffered", &self.buffered.len())
            .field("fetching", &self.in_flight.is_some())
            .finish_non_exhaustive()
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
            if this.ended {
                return Poll::Ready(None);
            }
            if let Some(fetch) = this.in_flight.as_mut() {
                let result = match fetch.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(result) => result,
                };
                this.in_flight = None;
                match result {
                    Ok(page) => {
                        this.buffered.extend(this.pager.receive(page));
                        continue;
                    }
                    Err(e) => {
                        this.ended = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
            match this.pager.next_step() {
                PagerStep::Fetch(search) => {
                    let client = this.client.clone();
                    this.in_flight =
                        Some(Box::pin(
                            async move { client.search_sessions(&search).await },
                        ));
                }
                PagerStep::Failed(e) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(Error::Core(e.into()))));
                }
                _ => this.ended = true,
            }
        }
    }
}

impl FusedStream for SearchAll {
    fn is_terminated(&self) -> bool {
        self.ended && self.buffered.is_empty()
    }
}
