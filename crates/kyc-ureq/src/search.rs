//! Lazy pagination over a search: the core says which page comes next, this iterator fetches it
//! when the previous one is used up.

use std::collections::VecDeque;
use std::fmt;

use kyc_core::{SearchSessions, Session};

use crate::client::Client;
use crate::error::Error;

/// Every session matching a search, fetched page by page; see [`Client::search_all`].
///
/// Yields `Ok(session)` in the server's order, then ends after an empty page or the last page
/// ([`SearchSessions::next_page`] decides). A failed page is yielded as one `Err` and ends the
/// iteration.
pub struct SearchAll {
    client: Client,
    next: Option<SearchSessions>,
    buffered: VecDeque<Session>,
    pages_fetched: u64,
}

impl SearchAll {
    pub(crate) fn new(client: Client, search: SearchSessions) -> Self {
        Self {
            client,
            next: Some(search),
            buffered: VecDeque::new(),
            pages_fetched: 0,
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
            .finish()
    }
}

impl Iterator for SearchAll {
    type Item = Result<Session, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(session) = self.buffered.pop_front() {
                return Some(Ok(session));
            }
            let search = self.next.take()?;
            match self.client.search_sessions(&search) {
                Ok(page) => {
                    self.pages_fetched += 1;
                    self.next = search.next_page(&page);
                    self.buffered.extend(page.sessions);
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl std::iter::FusedIterator for SearchAll {}
