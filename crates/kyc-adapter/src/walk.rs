//! The bookkeeping of a lazy walk over a search's pages, for both clients' `SearchAll`: kyc-core's
//! [`Pager`] decides which page comes next and when to stop; this buffers each page's sessions
//! and turns the pager's verdicts into what the iterator or stream yields next.

use std::collections::VecDeque;
use std::fmt;

use kyc_core::{Config, Pager, PagerStep, SearchSessions, Session, SessionPage};

use crate::Error;

/// Where a walk stands; see [`Walk::step`].
pub struct Walk {
    pager: Pager,
    buffered: VecDeque<Session>,
    failed: Option<Error>,
    ended: bool,
}

/// What a walk does next.
#[derive(Debug)]
// A step lives for one `match`; boxing the session would allocate once per session yielded.
#[allow(clippy::large_enum_variant)]
pub enum WalkStep {
    /// Yield this item.
    Yield(Result<Session, Error>),
    /// Fetch this page, then report it with [`Walk::received`].
    Fetch(SearchSessions),
    /// The walk is over.
    End,
}

impl Walk {
    /// A walk over every page of `search`, as `config` numbers and caps them.
    #[must_use]
    pub fn new(config: &Config, search: SearchSessions) -> Self {
        Self {
            pager: Pager::new(config, search),
            buffered: VecDeque::new(),
            failed: None,
            ended: false,
        }
    }

    /// The next thing to do: a session already fetched, a page to fetch, or the end. A failed
    /// page, or a walk the pager stops early, is yielded as one `Err` after every session
    /// already fetched, and ends the walk.
    pub fn step(&mut self) -> WalkStep {
        if let Some(session) = self.buffered.pop_front() {
            return WalkStep::Yield(Ok(session));
        }
        if let Some(e) = self.failed.take() {
            return WalkStep::Yield(Err(e));
        }
        if self.ended {
            return WalkStep::End;
        }
        match self.pager.next_step() {
            PagerStep::Fetch(search) => WalkStep::Fetch(search),
            PagerStep::Failed(e) => {
                self.ended = true;
                WalkStep::Yield(Err(Error::new(e)))
            }
            _ => {
                self.ended = true;
                WalkStep::End
            }
        }
    }

    /// Reports the page the last [`WalkStep::Fetch`] asked for: its new sessions are yielded
    /// next; a failure is yielded once and ends the walk.
    pub fn received(&mut self, page: Result<SessionPage, Error>) {
        match page {
            Ok(page) => self.buffered.extend(self.pager.receive(page)),
            Err(e) => {
                self.failed = Some(e);
                self.ended = true;
            }
        }
    }

    /// Whether nothing more will be yielded.
    #[must_use]
    pub fn is_over(&self) -> bool {
        self.ended && self.buffered.is_empty() && self.failed.is_none()
    }

    /// How many pages were fetched so far.
    #[must_use]
    pub fn pages_fetched(&self) -> u64 {
        u64::from(self.pager.pages_fetched())
    }
}

impl fmt::Debug for Walk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Walk")
            .field("pager", &self.pager)
            .field("buffered", &self.buffered.len())
            .field("ended", &self.ended)
            .finish()
    }
}
