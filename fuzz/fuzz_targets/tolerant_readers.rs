//! The tolerant readers on documents a server might send: a session, a search page, a created
//! session and a token response, each documented member absent, `null`, or (numbers) any number
//! text the fuzzer writes, plus extra members of any JSON the fuzzer writes.
//!
//! Whenever the document is JSON at all (serde_json reads it as a `Value`), the reader must accept
//! it: only the session id and the access token are required. Then the required id is kept, every
//! extra member is kept as received, every number member keeps its exact value, and the whole-
//! number accessors agree with that value.
#![no_main]

use arbitrary::{Result, Unstructured};
use http::Response;
use kyc_core::{CreateSession, GetSession, Number, RequestToken, SearchSessions, parse_response, whole};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Number-like text: digits, signs, a point, exponents, in any order (it may not be JSON).
fn number_text(u: &mut Unstructured<'_>) -> Result<String> {
    if u.ratio(1, 2)? {
        return Ok(match u.int_in_range(0u8..=4)? {
            0 => u.arbitrary::<u64>()?.to_string(),
            1 => format!("{}.{}", u.arbitrary::<u32>()?, u.arbitrary::<u16>()?),
            2 => format!("{}e{}", u.arbitrary::<u16>()?, u.int_in_range(-320i32..=320)?),
            3 => format!("-{}", u.arbitrary::<u64>()?),
            _ => "0.00085".to_owned(),
        });
    }
    let len = u.int_in_range(1usize..=30)?;
    let mut text = String::new();
    for _ in 0..len {
        text.push(*u.choose(&['0', '1', '3', '7', '9', '.', 'e', 'E', '-', '+'])?);
    }
    Ok(text)
}

/// A number member: `None` absent, else its JSON text (`null` or a number).
fn number_member(u: &mut Unstructured<'_>) -> Result<Option<String>> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => None,
        1 => Some("null".to_owned()),
        _ => Some(number_text(u)?),
    })
}

/// Up to three extra members, `x_…` names, values as JSON text the fuzzer writes.
fn extras(u: &mut Unstructured<'_>) -> Result<Vec<(String, String)>> {
    let count = u.int_in_range(0usize..=3)?;
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let len = u.int_in_range(0usize..=40)?;
        let text = String::from_utf8_lossy(u.bytes(len)?).into_owned();
        out.push((format!("x_{i}"), text));
    }
    Ok(out)
}

fn object(members: &[(&str, Option<String>)], extra: &[(String, String)]) -> String {
    let mut parts: Vec<String> = members
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| format!("\"{name}\":{v}")))
        .collect();
    parts.extend(extra.iter().map(|(name, value)| format!("\"{name}\":{value}")));
    format!("{{{}}}", parts.join(","))
}

fn ok(body: &str) -> Response<Vec<u8>> {
    let mut response = Response::new(body.as_bytes().to_vec());
    *response.status_mut() = http::StatusCode::OK;
    response
}

/// The document is JSON as serde_json reads it (numbers out of `f64`'s range are not).
fn is_json(body: &str) -> Option<Value> {
    serde_json::from_str::<Value>(body).ok()
}

/// A kept number has the value the document gave, and `whole` agrees with it.
fn same_number(kept: Option<&Number>, sent: Option<&Value>) {
    match sent {
        Some(Value::Number(n)) => {
            assert_eq!(kept, Some(n), "the exact number is kept");
            if let Some(w) = whole(n) {
                let f = n.as_f64().unwrap_or(f64::NAN);
                assert!(n.as_u64() == Some(w) || f == w as f64, "{n} read as {w}");
            }
        }
        None | Some(Value::Null) => assert_eq!(kept, None),
        Some(other) => panic!("a number member sent as {other}"),
    }
}

fn extras_kept(kept: &kyc_core::Extra, sent: &Value, names: &[(String, String)]) {
    for (name, _) in names {
        if let Some(value) = sent.get(name) {
            assert_eq!(kept.get(name), Some(value), "extra {name} kept as received");
        }
    }
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    // A session with one file.
    let size = number_member(u)?;
    let file_extra = extras(u)?;
    let file = object(&[("id", Some("\"fil-1\"".into())), ("size", size)], &file_extra);
    let session_extra = extras(u)?;
    let files = if u.ratio(1, 8)? { "null".to_owned() } else { format!("[{file}]") };
    let session = object(
        &[("id", Some("\"iss-1\"".into())), ("files", Some(files)), ("steps", None)],
        &session_extra,
    );
    let body = format!("{{\"data\":{session}}}");
    if let Some(sent) = is_json(&body) {
        let parsed = parse_response::<GetSession, _>(&ok(&body))
            .unwrap_or_else(|e| panic!("refused {body}: {e}"));
        assert_eq!(parsed.id.as_str(), "iss-1");
        extras_kept(&parsed.extra, &sent["data"], &session_extra);
        if let Some(file) = parsed.files.first() {
            same_number(file.size.as_ref(), sent["data"]["files"][0].get("size"));
            extras_kept(&file.extra, &sent["data"]["files"][0], &file_extra);
            let _ = file.size_bytes();
        }
    }

    // A search page.
    let mut members = Vec::new();
    for name in ["total_pages", "current_page", "page_size", "total_items"] {
        members.push((name, number_member(u)?));
    }
    let pagination_extra = extras(u)?;
    let pagination = object(&members, &pagination_extra);
    let body = format!("{{\"data\":[{{\"id\":\"iss-1\"}}],\"meta\":{{\"pagination\":{pagination}}}}}");
    if let Some(sent) = is_json(&body) {
        let page = parse_response::<SearchSessions, _>(&ok(&body))
            .unwrap_or_else(|e| panic!("refused {body}: {e}"));
        let kept = page.pagination.expect("pagination present");
        let sent = &sent["meta"]["pagination"];
        same_number(kept.total_pages.as_ref(), sent.get("total_pages"));
        same_number(kept.current_page.as_ref(), sent.get("current_page"));
        same_number(kept.page_size.as_ref(), sent.get("page_size"));
        let _ = (kept.total_pages(), kept.current_page(), kept.page_size());
    }

    // A created session and a token response.
    let created_extra = extras(u)?;
    let body = format!("{{\"data\":{}}}", object(&[("id", Some("\"iss-2\"".into()))], &created_extra));
    if is_json(&body).is_some() {
        let created = parse_response::<CreateSession, _>(&ok(&body))
            .unwrap_or_else(|e| panic!("refused {body}: {e}"));
        assert_eq!(created.id.as_str(), "iss-2");
    }
    let expires_in = number_member(u)?;
    let token_extra = extras(u)?;
    let body = object(
        &[("access_token", Some("\"tok-1\"".into())), ("expires_in", expires_in)],
        &token_extra,
    );
    if is_json(&body).is_some() {
        let grant = parse_response::<RequestToken<'_>, _>(&ok(&body))
            .unwrap_or_else(|e| panic!("refused {body}: {e}"));
        let _ = grant.expires_at(std::time::UNIX_EPOCH);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
