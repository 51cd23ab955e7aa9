//! Lazy pagination over a search: kyc-core's [`Pager`](kyc_core::Pager) says which page comes
//! next and when to stop ([`kyc_adapter::Walk`] keeps the books); this iterator fetches each page
//! when the previous one is used up.

use kyc_adapter::{Walk, WalkStep};
use kyc_core::{SearchSessions, Session};

use crate::Error;
use crate::client::Client;

/// Every session matching a search, fetched page by page; see [`Client::search_all`].
///
/// Yields `Ok(session)` in the server's order, each session once, then ends when the pager says
/// so. A failed page, or a walk the pager stops early (a server that ignores `page[number]`, the
/// page cap), is yielded as one `Err` after every session already fetched, and ends the
/// iteration.
#[derive(Debug)]
pub struct SearchAll {
    client: Client,
    walk: Walk,
}

impl SearchAll {
    pub(crate) fn new(client: Client, search: SearchSessions) -> Self {
        let walk = Walk::new(client.config(), search);
        Self { client, walk }
    }

    /// How many pages were fetched so far.
    #[must_use]
    pub fn pages_fetched(&self) -> u64 {
        self.walk.pages_fetched()
    }
}

impl Iterator for SearchAll {
    type Item = Result<Session, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.walk.step() {
                WalkStep::Yield(item) => return Some(item),
                WalkStep::Fetch(search) => self.walk.received(self.client.execute(&search)),
                WalkStep::End => return None,
            }
        }
    }
}

impl std::iter::FusedIterator for SearchAll {}
