//! The tolerant reader: responses built from the members Pomelo documents, each one absent,
//! `null` or present in any JSON form it may take (numbers as integers, decimals or exponents),
//! with arbitrary members added, must parse, keep the required id, and keep every unknown member.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use kyc_core::{
    CreateSession, GetReport, GetSession, RequestToken, SearchSessions, parse_response,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A number in any JSON form a server may write: integer, decimal, exponent, fraction.
fn any_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u64..100_000).prop_map(Value::from),
        (0u64..100_000).prop_map(|n| serde_json::from_str(&format!("{n}.0")).unwrap()),
        (0u64..1000).prop_map(|n| serde_json::from_str(&format!("{n}e2")).unwrap()),
        (0.0f64..10.0).prop_map(Value::from),
        Just(serde_json::from_str("0.00085").unwrap()),
        (-5i64..0).prop_map(Value::from),
    ]
}

/// A documented member: absent (`None`), `null`, or the given value.
fn member(value: impl Strategy<Value = Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        3 => value.prop_map(Some),
    ]
}

/// Extra members (names no model knows), any values.
fn extras() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map("x_[a-z]{1,8}", any_json(), 0..4)
        .prop_map(|m| m.into_iter().collect())
}

fn object(members: Vec<(&str, Option<Value>)>, extra: &Map<String, Value>) -> Value {
    let mut out = extra.clone();
    for (name, value) in members {
        if let Some(value) = value {
            out.insert(name.to_owned(), value);
        }
    }
    Value::Object(out)
}

fn text() -> impl Strategy<Value = Value> {
    "[A-Za-z0-9:._-]{0,20}".prop_map(Value::String)
}

fn file() -> impl Strategy<Value = Value> {
    (
        member(text()),
        member(text()),
        member(any_number()),
        member(text()),
        extras(),
    )
        .prop_map(|(id, name, size, kind, extra)| {
            object(
                vec![
                    ("id", id),
                    ("file_name", name),
                    ("size", size),
                    ("type_document", kind),
                ],
                &extra,
            )
        })
}

fn session() -> impl Strategy<Value = Value> {
    let step = (member(text()), member(text()), extras())
        .prop_map(|(name, status, extra)| object(vec![("name", name), ("status", status)], &extra));
    (
        "iss-[A-Za-z0-9]{1,27}",
        member(text()),
        member(prop_oneof![Just(json!("VALIDATED")), text()]),
        member(text()),
        member(proptest::collection::vec(step, 0..3).prop_map(Value::Array)),
        member(proptest::collection::vec(file(), 0..3).prop_map(Value::Array)),
        extras(),
    )
        .prop_map(|(id, user, status, reason, steps, files, extra)| {
            object(
                vec![
                    ("id", Some(json!(id))),
                    ("user_id", user),
                    ("status", status),
                    ("reason", reason),
                    ("steps", steps),
                    ("files", files),
                ],
                &extra,
            )
        })
}

fn response(body: &Value) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(200)
        .body(serde_json::to_vec(body).unwrap())
        .unwrap()
}

fn extra_names(value: &Value) -> Vec<String> {
    value
        .as_object()
        .map(|o| o.keys().filter(|k| k.starts_with("x_")).cloned().collect())
        .unwrap_or_default()
}

proptest! {
    #[test]
    fn sessions_parse_in_any_documented_form(session in session(), outer in extras()) {
        let mut body = outer;
        body.insert("data".into(), session.clone());
        let parsed = parse_response::<GetSession, _>(&response(&Value::Object(body)));
        let parsed = parsed.map_err(|e| format!("{e}"));
        prop_assert!(parsed.is_ok(), "{:?} for {}", parsed, session);
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.id.as_str(), session["id"].as_str().unwrap());
        for name in extra_names(&session) {
            prop_assert!(parsed.extra.get(&name).is_some(), "lost {name}");
        }
        for (file, sent) in parsed.files.iter().zip(session["files"].as_array().into_iter().flatten()) {
            if let Some(size) = sent.get("size").filter(|s| s.is_number()) {
                let kept = file.size.as_ref().map(|n| serde_json::to_value(n).unwrap());
                prop_assert_eq!(Some(size), kept.as_ref(), "the exact number is kept");
            }
        }
    }

    #[test]
    fn search_pages_parse_in_any_documented_form(
        sessions in member(proptest::collection::vec(session(), 0..3).prop_map(Value::Array)),
        pagination in member((member(any_number()), member(any_number()), member(any_number()), member(any_number()), extras())
            .prop_map(|(total, current, size, items, extra)| object(vec![
                ("total_pages", total), ("current_page", current), ("page_size", size), ("total_items", items),
            ], &extra))),
        filters in member(any_json()),
    ) {
        let meta = object(vec![("pagination", pagination), ("filters", filters)], &Map::new());
        let body = object(vec![("data", Some(sessions.unwrap_or(Value::Null))), ("meta", Some(meta))], &Map::new());
        let parsed = parse_response::<SearchSessions, _>(&response(&body));
        prop_assert!(parsed.is_ok(), "{:?} for {}", parsed.map_err(|e| e.to_string()), body);
    }

    #[test]
    fn created_sessions_reports_and_tokens_parse_in_any_documented_form(
        id in "iss-[A-Za-z0-9]{1,27}",
        created in member(text()),
        url in member(text()),
        expires_in in member(any_number()),
        token_type in member(text()),
        extra in extras(),
    ) {
        let created_body = json!({"data": object(vec![("id", Some(json!(id))), ("created_at", created), ("url", url)], &extra)});
        let created = parse_response::<CreateSession, _>(&response(&created_body));
        prop_assert!(created.is_ok(), "{:?}", created.map_err(|e| e.to_string()));
        let report_body = json!({"data": object(vec![("id", Some(json!(id)))], &extra)});
        let report = parse_response::<GetReport, _>(&response(&report_body)).unwrap();
        for name in extra_names(&report_body["data"]) {
            prop_assert!(report.extra.get(&name).is_some(), "lost {name}");
        }
        let token_body = object(vec![
            ("access_token", Some(json!("tok-1"))),
            ("expires_in", expires_in),
            ("token_type", token_type),
        ], &extra);
        let token = parse_response::<RequestToken<'_>, _>(&response(&token_body));
        prop_assert!(token.is_ok(), "{:?}", token.map_err(|e| e.to_string()));
    }
}
