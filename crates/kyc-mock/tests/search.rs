//! Search sessions: filters, 0-based paging, sort, and refusal of unknown parameters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests: panics are failures

mod common;

use std::time::Duration;

use common::{Client, session_body};
use kyc_mock::{MockConfig, MockServer};
use serde_json::{Value, json};

const DAY: Duration = Duration::from_secs(86_400);

struct Fixture {
    server: MockServer,
    client: Client,
    token: String,
    /// Session ids in creation order.
    ids: Vec<String>,
    /// `YYYY-MM-DD` of each session's creation.
    days: Vec<String>,
}

/// Six sessions, created one simulated day apart:
/// 0 ARG usr-b, 1 BRA usr-a (kyc-cards), 2 ARG usr-c (cancelled), 3 CHL usr-a, 4 ARG usr-b, 5 MEX usr-d.
fn fixture() -> Fixture {
    let server = MockServer::start(
        MockConfig::new()
            .token_lifetime(DAY * 30)
            .session_lifetime(DAY * 30),
    )
    .unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let mut ids = Vec::new();
    let mut days = Vec::new();
    for (i, (country, user)) in [
        ("ARG", "usr-b"),
        ("BRA", "usr-a"),
        ("ARG", "usr-c"),
        ("CHL", "usr-a"),
        ("ARG", "usr-b"),
        ("MEX", "usr-d"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = session_body(country, user);
        if i == 1 {
            body["flow_type"] = json!("kyc-cards");
        }
        let reply = client.post_json("/identity/v2/sessions", Some(&token), &body);
        let data = &reply.json()["data"];
        ids.push(data["id"].as_str().unwrap().to_owned());
        days.push(data["created_at"].as_str().unwrap()[..10].to_owned());
        server.advance_clock(DAY);
    }
    assert_eq!(
        client
            .delete(&format!("/identity/v1/sessions/{}", ids[2]), &token)
            .status,
        200
    );
    Fixture {
        server,
        client,
        token,
        ids,
        days,
    }
}

impl Fixture {
    fn search(&self, query: &str) -> Value {
        let reply = self
            .client
            .get(&format!("/identity/v1/sessions{query}"), &self.token);
        assert_eq!(
            reply.status,
            200,
            "{query}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }

    /// Indices (into `ids`) of the sessions a search returns, in order.
    fn found(&self, query: &str) -> Vec<usize> {
        self.search(query)["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                self.ids
                    .iter()
                    .position(|id| s["id"] == id.as_str())
                    .unwrap()
            })
            .collect()
    }
}

#[test]
fn default_search_is_newest_first_with_pagination_meta() {
    let f = fixture();
    let body = f.search("");
    assert_eq!(f.found(""), [5, 4, 3, 2, 1, 0]);
    assert_eq!(
        body["meta"],
        json!({"pagination": {"total_pages": 1, "current_page": 0, "page_size": 20, "total_items": 6}, "filters": []})
    );
    // Items are full session objects.
    let first = &body["data"][0];
    for field in [
        "id",
        "user_id",
        "status",
        "steps",
        "files",
        "created_at",
        "updated_at",
        "expiration_at",
        "url",
        "country",
    ] {
        assert!(first.get(field).is_some(), "{field}");
    }
    drop(f.server);
}

#[test]
fn filters_combine_and_accept_comma_separated_values() {
    let f = fixture();
    assert_eq!(f.found("?filter[country]=ARG"), [4, 2, 0]);
    assert_eq!(
        f.found("?filter%5Bcountry%5D=ARG"),
        [4, 2, 0],
        "percent-encoded brackets"
    );
    assert_eq!(f.found("?filter[country]=ARG,MEX"), [5, 4, 2, 0]);
    assert_eq!(f.found("?filter[user_id]=usr-a"), [3, 1]);
    assert_eq!(
        f.found("?filter[user_id]=usr-b&filter[country]=ARG"),
        [4, 0]
    );
    assert_eq!(f.found("?filter[status]=CANCELLED"), [2]);
    assert_eq!(
        f.found("?filter[status]=IN_PROGRESS,CANCELLED"),
        [5, 4, 3, 2, 1, 0]
    );
    assert_eq!(f.found("?filter[status]=VALIDATED"), Vec::<usize>::new());
    assert_eq!(f.found("?filter[flow_type]=kyc-cards"), [1]);
    let (d1, d3) = (&f.days[1], &f.days[3]);
    assert_eq!(
        f.found(&format!(
            "?filter[created_at][from]={d1}&filter[created_at][to]={d3}"
        )),
        [3, 2, 1]
    );
    assert_eq!(
        f.found(&format!("?filter[created_at][from]={d3}")),
        [5, 4, 3]
    );
    assert_eq!(f.found(&format!("?filter[created_at][to]={d1}")), [1, 0]);
}

#[test]
fn paging_is_zero_based() {
    let f = fixture();
    let page0 = f.search("?page[size]=4&page[number]=0");
    assert_eq!(f.found("?page[size]=4&page[number]=0"), [5, 4, 3, 2]);
    assert_eq!(
        page0["meta"]["pagination"],
        json!({"total_pages": 2, "current_page": 0, "page_size": 4, "total_items": 6})
    );
    assert_eq!(f.found("?page[size]=4&page[number]=1"), [1, 0]);
    assert_eq!(
        f.search("?page[size]=4&page[number]=1")["meta"]["pagination"]["current_page"],
        1
    );
    assert_eq!(f.found("?page[size]=4&page[number]=2"), Vec::<usize>::new());
    assert_eq!(f.found("?page[size]=1&page[number]=5"), [0]);
    assert_eq!(f.found("?page[size]=100"), [5, 4, 3, 2, 1, 0]);
}

#[test]
fn sort_by_fields_ascending_or_descending() {
    let f = fixture();
    assert_eq!(f.found("?sort=created_at"), [0, 1, 2, 3, 4, 5]);
    assert_eq!(f.found("?sort=-created_at"), [5, 4, 3, 2, 1, 0]);
    assert_eq!(f.found("?sort=user_id,created_at"), [1, 3, 0, 4, 2, 5]);
    assert_eq!(f.found("?sort=user_id,-created_at"), [3, 1, 4, 0, 2, 5]);
    assert_eq!(f.found("?sort=-user_id"), [5, 2, 4, 0, 3, 1]);
    // CANCELLED sorts before IN_PROGRESS; the cancel is the latest update.
    assert_eq!(f.found("?sort=status,created_at")[0], 2);
    assert_eq!(f.found("?sort=-updated_at")[0], 2);
}

#[test]
fn unknown_or_malformed_parameters_are_400() {
    let f = fixture();
    for query in [
        "?filter[colour]=red",
        "?filters[status]=CANCELLED",
        "?page=1",
        "?page[size]=0",
        "?page[size]=101",
        "?page[size]=abc",
        "?page[number]=-1",
        "?page[number]=1.5",
        // Past 2^53 - 1, which a JSON reader may not keep exactly in `current_page`.
        "?page[number]=9007199254740992",
        "?sort=name",
        "?sort=created_at,created_at",
        "?sort=",
        "?filter[status]=DONE",
        "?filter[status]=",
        "?filter[status]=CANCELLED,",
        "?filter[country]=URY",
        "?filter[flow_type]=kyb-loans",
        "?filter[created_at][from]=27-07-2021",
        "?filter[created_at][to]=2021-02-30",
        "?filter[created_at]=2021-07-27",
        "?sort=created_at&sort=user_id",
        "?limit=10",
    ] {
        let reply = f
            .client
            .get(&format!("/identity/v1/sessions{query}"), &f.token);
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.error_code(), "invalid_parameter", "{query}");
    }
}
