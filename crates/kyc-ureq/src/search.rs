//! Lazy pagination over a search: kyc-core's [`Pager`] says which page comes next and when to
//! stop; this iterator fetches each page when the previous one is used up.

use std::collections::VecDeque;
use std::fmt;

use kyc_core::{Pager, PagerStep, SearchSessions, Session};

use crate::client::Client;
use crate::error::Error;

/// Every session matching a search, fetched page by page; see [`Client::search_all`].
///
/// Yields `Ok(session)` in the server's order, each session once, then ends when the [`Pager`]
/// says so. A failed page, or a walk the pager stops early (a server that ignores
/// `page[number]`, the page cap), is yielded as one `Err` after every session already fetched,
/// and ends the iteration.
pub struct SearchAll {
    client: Client,
    pager: Pager,
    buffered: VecDeque<Session>,
    ended: bool,
}

impl SearchAll {
    pub(crate) fn new(client: Client, search: SearchSessions) -> Self {
        let pager = Pager::new(client.config(), search);
        Self {
            client,
            pager,
            buffered: VecDeque::new(),
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
            .finish_non_exhaustive()
    }
}

impl Iterator for SearchAll {
    type Item = Result<Session, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(session) = self.buffered.pop_front() {
                return Some(Ok(session));
            }
            if self.ended {
                return None;
            }
            let failure = match self.pager.next_step() {
                PagerStep::Fetch(search) => match self.client.search_sessions(&search) {
                    Ok(page) => {
                        self.buffered.extend(self.pager.receive(page));
                        continue;
                    }
                    Err(e) => e,
                },
                PagerStep::Failed(e) => Error::Core(e.into()),
                _ => {
                    self.ended = true;
                    return None;
                }
            };
            self.ended = true;
            return Some(Err(failure));
        }
    }
}

impl std::iter::FusedIterator for SearchAll {}
