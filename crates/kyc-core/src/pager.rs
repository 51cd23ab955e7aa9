//! [`Pager`]: the walk over every page of a search, sans-IO, bounded whatever the server says.
//!
//! See [`Pager`] for the rules.

use std::collections::HashSet;

use crate::config::Config;
use crate::error::PaginationError;
use crate::model::{Session, SessionId, SessionPage};
use crate::search::SearchSessions;

/// What the walk does next.
#[derive(Clone, PartialEq, Eq, Debug)]
#[must_use]
pub enum PagerStep {
    /// Send this search (one page), then give its answer to [`Pager::receive`].
    Fetch(SearchSessions),
    /// Every page was fetched.
    Done,
    /// The walk stopped early, for this reason.
    Failed(PaginationError),
}

/// The walk over every page of a search.
///
/// Pomelo does not publish whether Identity numbers pages from 0 or 1, nor the shape of its
/// pagination metadata (reference §4.4, §12.6). So the next page follows from the page
/// *requested*, never from the server's word alone:
///
/// - Page numbers start at the search's own `page[number]`, or at
///   [`Config::first_page`](crate::Config::first_page) (0 unless configured). The first page's
///   metadata teaches the server's numbering once: a first request without `page[number]` takes
///   the number the server gives it (0 or 1), and a server one ahead of ours (a 1-based server
///   answering `0` as `1`) is followed; so the walk neither skips nor repeats a page.
/// - No page number is requested twice.
/// - The walk ends on an empty page, after the last page (`total_pages` pages fetched; without
///   it, a page shorter than its size; without any metadata, after the first page, decision 4),
///   and fails at the page cap ([`Config::max_pages`](crate::Config::max_pages)) or when a page
///   holds no session not seen before (a server that ignores `page[number]`), after everything new
///   was yielded.
/// - A session seen on an earlier page is not yielded again.
///
///
/// ```
/// use kyc_core::{Config, Environment, Pager, PagerStep, SearchSessions, SessionPage};
///
/// let config = Config::new(Environment::Sandbox)?;
/// let mut pager = Pager::new(&config, SearchSessions::new().page_size(2));
/// let PagerStep::Fetch(first) = pager.next_step() else { panic!() };
/// assert_eq!(first.page(), None); // the search as given
/// // ... send it, parse the answer, then:
/// let sessions = pager.receive(SessionPage::default());
/// assert!(sessions.is_empty());
/// assert_eq!(pager.next_step(), PagerStep::Done); // an empty page ends the walk
/// # Ok::<(), kyc_core::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Pager {
    search: SearchSessions,
    /// The page number the next request asks for.
    next: u32,
    /// Whether the first request goes out as the caller wrote it.
    first_as_given: bool,
    /// Whether that first request carries no `page[number]`, so the server picks the first page.
    first_implicit: bool,
    requested: HashSet<u32>,
    seen: HashSet<SessionId>,
    pages: u32,
    max_pages: u32,
    /// Set once the walk is over.
    end: Option<PagerStep>,
    /// The number the last request asked for, until its answer arrives.
    in_flight: Option<u32>,
}

impl Pager {
    /// A walk over `search`, numbered and capped as `config` says.
    pub fn new(config: &Config, search: SearchSessions) -> Self {
        let next = search.page().unwrap_or(config.first_page());
        let first_implicit = search.page().is_none();
        Self {
            search,
            next,
            first_as_given: true,
            first_implicit,
            requested: HashSet::new(),
            seen: HashSet::new(),
            pages: 0,
            max_pages: config.max_pages(),
            end: None,
            in_flight: None,
        }
    }

    /// How many pages were fetched so far.
    #[must_use]
    pub fn pages_fetched(&self) -> u32 {
        self.pages
    }

    /// What to do next. After [`PagerStep::Done`] or [`PagerStep::Failed`] it says the same again.
    pub fn next_step(&mut self) -> PagerStep {
        if let Some(end) = &self.end {
            return end.clone();
        }
        if self.in_flight.is_some() {
            // The last page's answer never came (the caller's request failed): nothing new.
            return PagerStep::Done;
        }
        if self.pages >= self.max_pages {
            return self.finish(PagerStep::Failed(PaginationError::PageCap {
                pages: self.pages,
            }));
        }
        if !self.requested.insert(self.next) {
            // Cannot happen with the numbering below; refuse rather than ask twice.
            return self.finish(PagerStep::Failed(PaginationError::NoNewSessions {
                page: self.next,
            }));
        }
        self.in_flight = Some(self.next);
        let search = if std::mem::take(&mut self.first_as_given) {
            self.search.clone()
        } else {
            self.search.clone().page_number(self.next)
        };
        PagerStep::Fetch(search)
    }

    /// Takes in the page that answered the last [`PagerStep::Fetch`] and returns its sessions
    /// not yielded before, in the server's order.
    pub fn receive(&mut self, page: SessionPage) -> Vec<Session> {
        let Some(asked) = self.in_flight.take() else {
            return Vec::new();
        };
        self.pages += 1;
        let received = page.sessions.len() as u64;
        let pagination = page.pagination;
        let fresh: Vec<Session> = page
            .sessions
            .into_iter()
            .filter(|s| self.seen.insert(s.id.clone()))
            .collect();
        if received == 0 {
            self.end = Some(PagerStep::Done);
            return fresh;
        }
        if fresh.is_empty() {
            self.end = Some(PagerStep::Failed(PaginationError::NoNewSessions {
                page: asked,
            }));
            return fresh;
        }
        let Some(pagination) = pagination else {
            // No metadata: a single page (decision 4).
            self.end = Some(PagerStep::Done);
            return fresh;
        };
        // On the first page only, the server's numbering is learnt: when the request let the
        // server choose its first page, its number (0 or 1) is taken; otherwise a server one
        // ahead of ours (1-based, answering `0` as `1`) is followed. Later pages follow ours.
        // In `u64`: a server one ahead of the last `u32` page number is a number past `u32`.
        let mut numbered = u64::from(asked);
        if self.pages == 1 {
            match pagination.current_page() {
                Some(current @ (0 | 1)) if self.first_implicit => {
                    // That request sent no number: it stands for the server's, not ours.
                    numbered = current;
                    self.requested.remove(&asked);
                    self.requested.insert(current as u32);
                }
                Some(current) if current == numbered + 1 => numbered = current,
                _ => {}
            }
        }
        let more = match pagination.total_pages() {
            Some(total) => u64::from(self.pages) < total,
            None => {
                let size = pagination.page_size().or(self.search.size().map(u64::from));
                size.is_some_and(|s| received >= s)
            }
        };
        // The page after the last `u32` number cannot be asked for: the walk ends there.
        match u32::try_from(numbered + 1) {
            Ok(next) if more => self.next = next,
            _ => self.end = Some(PagerStep::Done),
        }
        fresh
    }

    fn finish(&mut self, end: PagerStep) -> PagerStep {
        self.end = Some(end.clone());
        end
    }
}
