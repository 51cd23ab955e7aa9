//! The pager against honest and adversarial servers: it always ends within its cap, never asks for
//! a page twice, and yields every session of an honest 0-based or 1-based server exactly once.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashSet;

use kyc_core::{
    Config, Environment, Pager, PagerStep, PaginationError, SearchSessions, SessionPage,
    parse_response,
};
use proptest::prelude::*;

/// A page as a server would send it: `ids` and the metadata given (`None` members left out).
fn page(ids: &[u64], current: Option<u64>, total: Option<u64>, size: Option<u64>) -> SessionPage {
    let data: Vec<_> = ids
        .iter()
        .map(|i| serde_json::json!({"id": format!("iss-{i}")}))
        .collect();
    let mut pagination = serde_json::Map::new();
    for (name, value) in [
        ("current_page", current),
        ("total_pages", total),
        ("page_size", size),
    ] {
        if let Some(v) = value {
            pagination.insert(name.into(), v.into());
        }
    }
    let body = serde_json::json!({"data": data, "meta": {"pagination": pagination}});
    let response = http::Response::builder()
        .status(200)
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    parse_response::<SearchSessions, _>(&response).unwrap()
}

fn config(first: u32, cap: u32) -> Config {
    Config::builder(Environment::Sandbox)
        .first_page(first)
        .max_pages(cap)
        .build()
        .unwrap()
}

/// An honest server with `n` sessions numbering pages from `base`; a request without
/// `page[number]` gets the first page.
fn honest(n: u64, size: u64, base: u64, search: &SearchSessions) -> SessionPage {
    let number = search.page().map_or(base, u64::from);
    let index = number.saturating_sub(base);
    let ids: Vec<u64> = (index * size..((index + 1) * size).min(n)).collect();
    let total = n.div_ceil(size);
    page(&ids, Some(number), Some(total), Some(size))
}

/// Walks with `server`, returning the ids yielded, the page numbers asked and how it ended.
fn walk(
    pager: &mut Pager,
    mut server: impl FnMut(&SearchSessions) -> SessionPage,
) -> (Vec<String>, Vec<Option<u32>>, PagerStep) {
    let (mut ids, mut asked) = (Vec::new(), Vec::new());
    for _ in 0..10_000 {
        match pager.next_step() {
            PagerStep::Fetch(search) => {
                asked.push(search.page());
                ids.extend(pager.receive(server(&search)).into_iter().map(|s| s.id.0));
            }
            end => return (ids, asked, end),
        }
    }
    panic!("the pager did not end");
}

#[test]
fn zero_and_one_based_servers_are_walked_whole() {
    for base in [0, 1] {
        for first in [0, 1] {
            let search = SearchSessions::new().page_size(3);
            let mut pager = Pager::new(&config(first, 100), search);
            let (ids, asked, end) = walk(&mut pager, |s| honest(7, 3, base, s));
            assert_eq!(end, PagerStep::Done, "base {base}, first {first}");
            assert_eq!(
                ids.len(),
                7,
                "base {base}, first {first}: {ids:?} {asked:?}"
            );
            assert_eq!(asked.len(), 3, "base {base}, first {first}: {asked:?}");
        }
    }
}

#[test]
fn a_server_stuck_on_page_zero_ends_the_walk_with_an_error() {
    let mut pager = Pager::new(&config(0, 100), SearchSessions::new().page_size(2));
    let (ids, asked, end) = walk(&mut pager, |_| page(&[1, 2], Some(0), Some(9), Some(2)));
    assert_eq!(ids.len(), 2);
    assert_eq!(asked, [None, Some(1)]);
    assert_eq!(
        end,
        PagerStep::Failed(PaginationError::NoNewSessions { page: 1 })
    );
}

#[test]
fn the_cap_stops_an_endless_server() {
    let mut n = 0;
    let mut pager = Pager::new(&config(0, 5), SearchSessions::new());
    let (ids, asked, end) = walk(&mut pager, |_| {
        n += 1;
        page(&[n], Some(0), None, Some(1))
    });
    assert_eq!((ids.len(), asked.len()), (5, 5));
    assert_eq!(
        end,
        PagerStep::Failed(PaginationError::PageCap { pages: 5 })
    );
}

#[test]
fn no_metadata_means_one_page() {
    let mut pager = Pager::new(&config(0, 5), SearchSessions::new());
    let response = http::Response::builder()
        .status(200)
        .body(br#"{"data": [{"id": "iss-1"}]}"#.to_vec())
        .unwrap();
    let (ids, _, end) = walk(&mut pager, |_| {
        parse_response::<SearchSessions, _>(&response).unwrap()
    });
    assert_eq!((ids.len(), end), (1, PagerStep::Done));
}

#[test]
fn a_server_one_ahead_of_the_last_page_number_ends_the_walk_without_overflow() {
    // A search started at the last `u32` page, answered as if the server counted from 1: the
    // page after it has no number to ask for. Panicked in a debug build (`asked + 1`).
    let search = SearchSessions::new().page_size(1).page_number(u32::MAX);
    let mut pager = Pager::new(&config(0, 100), search);
    let (ids, asked, end) = walk(&mut pager, |_| {
        page(&[1], Some(u64::from(u32::MAX) + 1), Some(u64::MAX), Some(1))
    });
    assert_eq!(ids, ["iss-1"]);
    assert_eq!(asked, [Some(u32::MAX)]);
    assert_eq!(end, PagerStep::Done);
}

proptest! {
    #[test]
    fn any_server_near_the_last_page_number_ends_without_asking_twice(
        start in prop_oneof![Just(None), (0u32..3).prop_map(Some), (u32::MAX - 3..=u32::MAX).prop_map(Some)],
        pages in proptest::collection::vec((
            proptest::collection::vec(0u64..40, 0..6),
            proptest::option::of(0u64..4),
            proptest::option::of(0u64..50),
        ), 1..20),
    ) {
        // `current_page` within a few of the page asked for: the first page's metadata is where
        // the pager learns the server's numbering, and must never overflow doing it.
        let mut search = SearchSessions::new().page_size(2);
        if let Some(start) = start {
            search = search.page_number(start);
        }
        let base = u64::from(start.unwrap_or(0));
        let mut pager = Pager::new(&config(0, 30), search);
        let mut script = pages.into_iter().cycle();
        let (ids, asked, end) = walk(&mut pager, |_| {
            let (ids, ahead, total) = script.next().unwrap();
            page(&ids, ahead.map(|a| base + a), total, Some(2))
        });
        let numbers: HashSet<_> = asked.iter().collect();
        prop_assert_eq!(numbers.len(), asked.len(), "a page asked twice: {:?}", asked);
        let unique: HashSet<_> = ids.iter().collect();
        prop_assert_eq!(unique.len(), ids.len(), "a session yielded twice");
        prop_assert!(!matches!(end, PagerStep::Fetch(_)));
    }

    #[test]
    fn honest_servers_are_walked_exactly_once(n in 0u64..60, size in 1u64..9, base in 0u64..2, first in 0u32..2) {
        let search = SearchSessions::new().page_size(size as u32);
        let mut pager = Pager::new(&config(first, 1000), search);
        let (ids, asked, end) = walk(&mut pager, |s| honest(n, size, base, s));
        prop_assert_eq!(end, PagerStep::Done);
        let unique: HashSet<_> = ids.iter().collect();
        prop_assert_eq!(unique.len(), ids.len());
        prop_assert_eq!(ids.len() as u64, n);
        let numbers: HashSet<_> = asked.iter().collect();
        prop_assert_eq!(numbers.len(), asked.len(), "a page asked twice: {:?}", asked);
    }

    #[test]
    fn any_server_ends_within_the_cap_without_asking_twice(
        cap in 1u32..30,
        pages in proptest::collection::vec((
            proptest::collection::vec(0u64..40, 0..6),
            proptest::option::of(0u64..50),
            proptest::option::of(0u64..50),
            proptest::option::of(0u64..8),
        ), 1..40),
    ) {
        let mut pager = Pager::new(&config(0, cap), SearchSessions::new());
        let mut script = pages.into_iter().cycle();
        let (ids, asked, end) = walk(&mut pager, |_| {
            let (ids, current, total, size) = script.next().unwrap();
            page(&ids, current, total, size)
        });
        prop_assert!(asked.len() <= cap as usize);
        let numbers: HashSet<_> = asked.iter().collect();
        prop_assert_eq!(numbers.len(), asked.len(), "a page asked twice: {:?}", asked);
        let unique: HashSet<_> = ids.iter().collect();
        prop_assert_eq!(unique.len(), ids.len(), "a session yielded twice");
        prop_assert!(!matches!(end, PagerStep::Fetch(_)));
    }
}
