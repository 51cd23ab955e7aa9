//! A search with arbitrary statuses, filters, sort keys and paging is either refused with
//! `InvalidInput::InvalidSearch` (exactly when `query_pairs` refuses it) or becomes a URI whose
//! query, parsed by the `url` crate, gives back `query_pairs()` exactly, with the path unchanged.
#![no_main]

use arbitrary::Arbitrary;
use kyc_core::{
    AccessToken, Config, Date, Environment, Error, InvalidInput, SearchSessions, SessionStatus,
    Sort, build_request,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Known statuses by index, or any text.
    statuses: Vec<Result<u8, String>>,
    user_id: Option<String>,
    created_from: Option<(u16, u8, u8)>,
    created_to: Option<(u16, u8, u8)>,
    filters: Vec<(String, String)>,
    sort: Vec<(String, bool)>,
    page_size: Option<u32>,
    page_number: Option<u32>,
    /// Use a configured search path instead of the default.
    custom_path: bool,
}

fuzz_target!(|input: Input| {
    let mut search = SearchSessions::new();
    for status in input.statuses {
        search = search.status(match status {
            Ok(i) => SessionStatus::KNOWN[usize::from(i) % SessionStatus::KNOWN.len()].clone(),
            Err(text) => SessionStatus::from(text),
        });
    }
    if let Some(user_id) = input.user_id {
        search = search.user_id(user_id);
    }
    if let Some(Ok(date)) = input.created_from.map(|(y, m, d)| Date::new(y, m, d)) {
        // A date prints as YYYY-MM-DD and parses back to itself.
        assert_eq!(Date::parse(&date.to_string()), Ok(date));
        search = search.created_from(date);
    }
    if let Some(Ok(date)) = input.created_to.map(|(y, m, d)| Date::new(y, m, d)) {
        search = search.created_to(date);
    }
    for (field, value) in input.filters {
        search = search.filter(field, value);
    }
    for (field, descending) in input.sort {
        search = search.sort(if descending {
            Sort::desc(field)
        } else {
            Sort::asc(field)
        });
    }
    if let Some(size) = input.page_size {
        search = search.page_size(size);
    }
    if let Some(number) = input.page_number {
        search = search.page_number(number);
    }

    let path = if input.custom_path {
        "/identity/v1/sessions/search"
    } else {
        "/identity/v1/sessions"
    };
    let config = Config::builder(Environment::Sandbox)
        .search_sessions_path(path)
        .build()
        .expect("a valid configuration");
    let token = AccessToken::new("token");

    let pairs = search.query_pairs();
    let request = build_request(&config, &search, Some(&token), None);
    let request = match (pairs, request) {
        (Err(refused), Err(Error::InvalidInput(e))) => {
            assert_eq!(
                refused, e,
                "build_request and query_pairs refuse differently"
            );
            assert!(matches!(e, InvalidInput::InvalidSearch { .. }), "{e:?}");
            return;
        }
        (Ok(pairs), Ok(request)) => (pairs, request),
        (pairs, request) => panic!("query_pairs {pairs:?} but build_request {request:?}"),
    };
    let (pairs, request) = request;
    assert_eq!(request.method(), "GET");
    let uri = request.uri().to_string();
    let url = url::Url::parse(&uri).expect("the request URI is a valid URL");
    assert_eq!(url.path(), path, "the query leaked into the path");
    assert_eq!(request.uri().path(), path);
    assert!(url.fragment().is_none());
    let got: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(got, pairs, "the query does not decode to query_pairs()");
    // `url` would re-encode nothing: the query is already in its canonical form.
    assert_eq!(url.as_str(), uri);

    // List values keep their items apart: one literal comma per separator.
    let query = url.query().unwrap_or_default();
    for (key, value) in &pairs {
        if key == "filter[status]" || key == "sort" {
            let raw = query
                .split('&')
                .find_map(|p| p.strip_prefix(&format!("{key}=")))
                .expect("the list is in the query");
            assert_eq!(raw.split(',').count(), value.split(',').count());
        }
    }
});
