//! The pager against a server the fuzzer plays: whatever pages and metadata come back, the walk
//! ends within its page cap, never sends the same page number twice, never yields a session
//! twice, and once over stays over.
//!
//! Input layout: the first bytes choose the configuration (first page 0 or 1, a cap of 1 to 40
//! pages) and the search (page size and number, each present or not); then each answered page is
//! either a structured page (up to 12 sessions drawn from 16 ids, metadata members each absent,
//! `null` or any number text) or raw body bytes, parsed by `parse_response` as a client would. A
//! body that does not parse ends the walk the way an adapter does: the page's answer never comes.
#![no_main]

use std::collections::HashSet;

use arbitrary::{Result, Unstructured};
use http::Response;
use kyc_core::{
    Config, Environment, Pager, PagerStep, PaginationError, SearchSessions, SessionPage,
    parse_response,
};
use libfuzzer_sys::fuzz_target;

/// A JSON number as a server might write it, or something close to one (it may not parse).
fn number_text(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.int_in_range(0u8..=5)? {
        0 => u.int_in_range(0u64..=50)?.to_string(),
        1 => format!("{}.0", u.int_in_range(0u64..=50)?),
        2 => format!("{}e{}", u.int_in_range(0u64..=9)?, u.int_in_range(0u8..=2)?),
        3 => format!("-{}", u.int_in_range(0u64..=3)?),
        4 => u.arbitrary::<u64>()?.to_string(),
        _ => {
            let len = u.int_in_range(1usize..=24)?;
            let mut text = String::new();
            for _ in 0..len {
                text.push(*u.choose(&[
                    '0', '1', '2', '5', '9', '.', 'e', 'E', '-', '+',
                ])?);
            }
            text
        }
    })
}

/// A member of the pagination object: absent, `null`, or a number.
fn member(u: &mut Unstructured<'_>, name: &str, out: &mut Vec<String>) -> Result<()> {
    match u.int_in_range(0u8..=3)? {
        0 => {}
        1 => out.push(format!("\"{name}\":null")),
        _ => out.push(format!("\"{name}\":{}", number_text(u)?)),
    }
    Ok(())
}

fn structured_body(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let count = u.int_in_range(0usize..=12)?;
    let mut sessions = Vec::with_capacity(count);
    for _ in 0..count {
        sessions.push(format!("{{\"id\":\"iss-{}\"}}", u.int_in_range(0u8..=15)?));
    }
    let mut meta = Vec::new();
    for name in ["total_pages", "current_page", "page_size", "total_items"] {
        member(u, name, &mut meta)?;
    }
    let data = if u.ratio(1, 10)? {
        "null".to_owned()
    } else {
        format!("[{}]", sessions.join(","))
    };
    let body = match u.int_in_range(0u8..=3)? {
        0 => format!("{{\"data\":{data}}}"),
        1 => format!("{{\"data\":{data},\"meta\":{{}}}}"),
        _ => format!(
            "{{\"data\":{data},\"meta\":{{\"pagination\":{{{}}}}}}}",
            meta.join(",")
        ),
    };
    Ok(body.into_bytes())
}

/// The next page the fuzzer's server answers, or `None` when its answer does not parse.
fn answer(u: &mut Unstructured<'_>) -> Result<Option<SessionPage>> {
    let body = if u.ratio(7, 8)? {
        structured_body(u)?
    } else {
        let len = u.int_in_range(0usize..=256)?;
        u.bytes(len)?.to_vec()
    };
    let response = Response::builder()
        .status(200)
        .body(body)
        .map_err(|_| arbitrary::Error::IncorrectFormat)?;
    Ok(parse_response::<SearchSessions, _>(&response).ok())
}

fn walk(u: &mut Unstructured<'_>) -> Result<()> {
    let first_page = u.int_in_range(0u32..=1)?;
    let cap = u.int_in_range(1u32..=40)?;
    let config = Config::builder(Environment::Sandbox)
        .first_page(first_page)
        .max_pages(cap)
        .build()
        .map_err(|_| arbitrary::Error::IncorrectFormat)?;
    let mut search = SearchSessions::new();
    if u.arbitrary()? {
        search = search.page_size(u.int_in_range(1u32..=5)?);
    }
    if u.arbitrary()? {
        search = search.page_number(*u.choose(&[0, 1, 2, 7, u32::MAX - 1, u32::MAX])?);
    }
    let implicit_first = search.page().is_none();

    let mut pager = Pager::new(&config, search);
    let mut sent: HashSet<Option<u32>> = HashSet::new();
    let mut yielded: HashSet<String> = HashSet::new();
    // The number the server gave the page the first request left to it (0 or 1), if it did.
    let mut implicit_number: Option<u32> = None;
    let mut steps = 0u32;
    let end = loop {
        steps += 1;
        assert!(steps <= cap + 1, "more steps than the cap allows");
        match pager.next_step() {
            PagerStep::Fetch(request) => {
                assert!(pager.pages_fetched() < cap, "a fetch past the cap");
                let number = request.page();
                assert!(sent.insert(number), "page {number:?} requested twice");
                if number.is_some() {
                    assert_ne!(number, implicit_number, "the implicit first page asked again");
                }
                let Some(page) = answer(u)? else {
                    // The caller's request failed: the walk has nothing more.
                    assert_eq!(pager.next_step(), PagerStep::Done);
                    return Ok(());
                };
                if steps == 1 && implicit_first {
                    implicit_number = page
                        .pagination
                        .as_ref()
                        .and_then(|p| p.current_page())
                        .filter(|c| *c <= 1)
                        .map(|c| c as u32);
                }
                let received = page.sessions.len();
                let fresh = pager.receive(page);
                assert!(fresh.len() <= received);
                for session in fresh {
                    assert!(
                        yielded.insert(session.id.as_str().to_owned()),
                        "{} yielded twice",
                        session.id.as_str()
                    );
                }
            }
            end @ (PagerStep::Done | PagerStep::Failed(_)) => break end,
        }
    };
    if let PagerStep::Failed(PaginationError::PageCap { pages }) = &end {
        assert_eq!(*pages, cap);
    }
    assert!(pager.pages_fetched() <= cap);
    // Over is over.
    assert_eq!(pager.next_step(), end);
    // Without the fuzzer's page answered, a stray receive changes nothing.
    assert!(pager.receive(SessionPage::default()).is_empty());
    assert_eq!(pager.next_step(), end);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = walk(&mut Unstructured::new(data));
});
