//! The verdicts of `kyc doctor`: for each guess this project made where Pomelo's reference is
//! silent, whether the account agrees and which `POMELO_*` setting fits it where it does not.
//!
//! A probe's answer, whatever its status, is reduced to [`Received`]: the status, the request id,
//! the `Date` header and the *shape* of the body (its member names and list lengths, never a
//! value: bodies may hold personal data). The verdict functions take those and return a
//! [`Check`]; they are pure and unit-tested without a network. Sending the probes is
//! `probe.rs`'s job.

use std::fmt;
use std::time::{Duration, SystemTime};

use kyc_core::http::header::{DATE, HeaderValue};
use kyc_core::http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::capture::Capture;
use kyc_core::request_id;
use kyc_core::webhook::{Verifier, WebhookError, WebhookKeys};

/// The `Date` header's time, when it has one that parses.
fn date(headers: &HeaderMap) -> Option<SystemTime> {
    httpdate::parse_http_date(headers.get(DATE)?.to_str().ok()?).ok()
}

/// What came back to one probe, reduced to facts that carry no personal data.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[non_exhaustive]
pub(crate) struct Received {
    /// The status.
    pub(crate) status: u16,
    /// The `x-request-id` header, for Pomelo's support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) request_id: Option<String>,
    /// The server's clock, from its `Date` header.
    #[serde(skip)]
    pub(crate) date: Option<SystemTime>,
    /// The body's shape: member names and list lengths, no value (`{data: [3], meta: {…}}`).
    pub(crate) shape: String,
    /// The error codes of a `{"error": {"details": [{"code"}]}}` body.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) codes: Vec<String>,
    /// The ids of the sessions a list holds (`data[].id`), to compare pages; not printed.
    #[serde(skip)]
    pub(crate) ids: Vec<String>,
    /// `meta.pagination.current_page`, when present and a whole number.
    #[serde(skip)]
    pub(crate) current_page: Option<u64>,
    /// The member names of `meta.pagination` (at most 8), when the body has one.
    #[serde(skip)]
    pub(crate) pagination: Option<Vec<String>>,
}

impl Received {
    /// Reads an answer of any status.
    #[must_use]
    pub(crate) fn from_parts(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let shape = match &json {
            Some(value) => shape(value, 3),
            None if body.is_empty() => "empty".to_owned(),
            None => format!("not JSON ({} bytes)", body.len()),
        };
        let codes = json
            .as_ref()
            .and_then(|v| v.pointer("/error/details")?.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|d| d.get("code")?.as_str().map(str::to_owned))
            .collect();
        let ids = json
            .as_ref()
            .and_then(|v| v.get("data")?.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s.get("id")?.as_str().map(str::to_owned))
            .collect();
        let current_page = json
            .as_ref()
            .and_then(|v| v.pointer("/meta/pagination/current_page")?.as_u64());
        let pagination = json
            .as_ref()
            .and_then(|v| v.pointer("/meta/pagination")?.as_object())
            .map(|members| members.keys().take(8).map(|k| printable(k)).collect());
        Self {
            status: status.as_u16(),
            request_id: request_id(headers),
            date: date(headers),
            shape,
            codes,
            ids,
            current_page,
            pagination,
        }
    }
}

impl Received {
    /// Reads a non-2xx answer that a call reported as an [`ApiError`](kyc_core::ApiError) (from its
    /// kept, truncated body; there is no `Date`).
    #[must_use]
    pub(crate) fn from_api_error(error: &kyc_core::ApiError) -> Self {
        let mut headers = HeaderMap::new();
        if let Some(id) = error
            .request_id
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert("x-request-id", id);
        }
        Self::from_parts(error.status, &headers, error.raw_body.as_bytes())
    }
}

/// The audiences of Pomelo's environments (reference §2), tried in this order when an account
/// refuses the configured one.
pub(crate) const KNOWN_AUDIENCES: [&str; 3] = [
    "https://auth.pomelo.la",
    "https://auth-staging.pomelo.la",
    "https://auth-dev.pomelo.la",
];

/// A JSON value's shape, `depth` levels deep: objects as `{a, b: {…}}`, lists as `[n]` followed by
/// their first item's shape, scalars as their type. No value appears.
#[must_use]
pub(crate) fn shape(value: &Value, depth: usize) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => "bool".to_owned(),
        Value::Number(_) => "number".to_owned(),
        Value::String(_) => "string".to_owned(),
        Value::Array(items) => match (items.first(), depth) {
            (Some(first), d) if d > 0 => format!("[{}] of {}", items.len(), shape(first, d - 1)),
            _ => format!("[{}]", items.len()),
        },
        Value::Object(members) if depth == 0 => format!("{{{} members}}", members.len()),
        Value::Object(members) => {
            let inner: Vec<String> = members
                .iter()
                .map(|(name, v)| match v {
                    Value::Object(_) | Value::Array(_) => {
                        format!("{}: {}", printable(name), shape(v, depth - 1))
                    }
                    _ => printable(name),
                })
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// A member name as it may be shown: at most 40 characters, controls escaped.
fn printable(name: &str) -> String {
    name.chars()
        .take(40)
        .flat_map(char::escape_default)
        .collect()
}

/// A check's verdict.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub(crate) enum Verdict {
    /// The account behaves as this library assumes.
    Ok,
    /// The account differs; the check's `setting` makes the library fit it, when one exists.
    Differs,
    /// The check could not tell (it needs an input, or the answers were inconclusive).
    Unknown,
    /// The check found something that stops the library from working (or no answer came).
    Failed,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Ok => "ok",
            Verdict::Differs => "differs",
            Verdict::Unknown => "unknown",
            Verdict::Failed => "failed",
        })
    }
}

/// One request a check sent: method and path, never a secret.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub(crate) struct Sent {
    /// The method.
    pub(crate) method: String,
    /// The path and query.
    pub(crate) path: String,
}

impl Sent {
    /// `method path`.
    #[must_use]
    pub(crate) fn new(method: &Method, path: impl Into<String>) -> Self {
        Self {
            method: method.to_string(),
            path: path.into(),
        }
    }
}

/// What one check found.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[non_exhaustive]
pub(crate) struct Check {
    /// Its name (`credentials`, `clock`, `get_session_path`, `search`, `webhook`,
    /// `error_body`).
    pub(crate) name: &'static str,
    /// Its verdict.
    pub(crate) verdict: Verdict,
    /// The `POMELO_*=value` setting that fits the account, when the verdict is `differs` and one
    /// exists.
    pub(crate) setting: Option<String>,
    /// What was found, in a sentence.
    pub(crate) detail: String,
    /// The requests sent.
    pub(crate) sent: Vec<Sent>,
    /// What came back to each (a request that got no answer has none).
    pub(crate) received: Vec<Received>,
}

impl Check {
    /// A check named `name`.
    #[must_use]
    pub(crate) fn new(name: &'static str, verdict: Verdict, detail: impl Into<String>) -> Self {
        Self {
            name,
            verdict,
            setting: None,
            detail: detail.into(),
            sent: Vec::new(),
            received: Vec::new(),
        }
    }

    /// With the setting that fits.
    #[must_use]
    pub(crate) fn setting(mut self, setting: impl Into<String>) -> Self {
        self.setting = Some(setting.into());
        self
    }
}

/// The answer to one probe: what came back, or why nothing did (the transport's words).
pub(crate) type Answer = Result<Received, String>;

/// The credentials and audience check: `configured` is the answer to the token request with the
/// configured audience; `others`, when it was refused for its audience, the answers with every
/// other known audience, in order.
#[must_use]
pub(crate) fn credentials(
    configured_audience: &str,
    configured: &Answer,
    others: &[(&str, Answer)],
) -> Check {
    match configured {
        Ok(r) if (200..300).contains(&r.status) => Check::new(
            "credentials",
            Verdict::Ok,
            format!("a token was obtained for audience {configured_audience}"),
        ),
        Ok(r)
            if r.codes.iter().any(|c| c == "invalid_audience")
                || (r.status == 400 && !others.is_empty()) =>
        {
            match others
                .iter()
                .find(|(_, a)| a.as_ref().is_ok_and(|r| (200..300).contains(&r.status)))
            {
                Some((audience, _)) => Check::new(
                    "credentials",
                    Verdict::Differs,
                    format!("audience {configured_audience} was refused; {audience} was accepted"),
                )
                .setting(format!("POMELO_AUDIENCE={audience}")),
                None => Check::new(
                    "credentials",
                    Verdict::Failed,
                    format!(
                        "audience {configured_audience} was refused, and so was every other known audience"
                    ),
                ),
            }
        }
        Ok(r) => Check::new(
            "credentials",
            Verdict::Failed,
            format!(
                "the token request was refused with {} ({})",
                r.status,
                r.codes.join(", ")
            ),
        ),
        Err(why) => Check::new(
            "credentials",
            Verdict::Failed,
            format!("no answer to the token request: {why}"),
        ),
    }
}

/// The clock check: the skew between this machine's clock (`local`, read when the answer
/// arrived) and the server's `Date` header, against the webhook freshness `window`. `asked` is
/// the answer the date was read from (the token request's): when it is an error, or none came,
/// the check says it could not ask rather than blame a missing header.
#[must_use]
pub(crate) fn clock(
    local: SystemTime,
    server: Option<SystemTime>,
    asked: &Answer,
    window: Duration,
) -> Check {
    let Some(server) = server else {
        let why = match asked {
            Ok(r) if (200..300).contains(&r.status) => {
                "the server's answer has no Date header".to_owned()
            }
            Ok(r) => format!(
                "could not ask the server's time: the token request was refused with {} (see the \
                 credentials check)",
                r.status
            ),
            Err(_) => "could not ask the server's time: the token request got no answer (see the \
                       credentials check)"
                .to_owned(),
        };
        return Check::new("clock", Verdict::Unknown, why);
    };
    let (skew, ahead) = match local.duration_since(server) {
        Ok(d) => (d, "ahead of"),
        Err(e) => (e.duration(), "behind"),
    };
    let secs = skew.as_secs();
    let detail = format!(
        "this machine's clock is {secs} s {ahead} the server's; webhooks are accepted within ±{} s",
        window.as_secs()
    );
    // The Date header has a resolution of one second, and the answer took some time.
    if skew <= Duration::from_secs(5) {
        Check::new("clock", Verdict::Ok, detail)
    } else if skew < window / 2 {
        Check::new(
            "clock",
            Verdict::Differs,
            format!("{detail}: set this machine's clock (NTP) before it eats into the window"),
        )
    } else {
        Check::new(
            "clock",
            Verdict::Failed,
            format!(
                "{detail}: fresh webhooks would be refused as stale or future; set this machine's clock"
            ),
        )
    }
}

/// The get-session path check, from the answers to the same session under the configured
/// template and under the other spelling (`None`: no session id was given).
#[must_use]
pub(crate) fn get_session_path(
    configured: &str,
    other: &str,
    answers: Option<(&Answer, &Answer)>,
) -> Check {
    let Some((mine, theirs)) = answers else {
        return Check::new(
            "get_session_path",
            Verdict::Unknown,
            "needs a session of yours: kyc doctor --session ID",
        );
    };
    let found = |a: &Answer| a.as_ref().is_ok_and(|r| (200..300).contains(&r.status));
    match (found(mine), found(theirs)) {
        (true, _) => Check::new(
            "get_session_path",
            Verdict::Ok,
            format!("the session answers at {configured}"),
        ),
        (false, true) => Check::new(
            "get_session_path",
            Verdict::Differs,
            format!("the session answers at {other}, not at {configured}"),
        )
        .setting(format!("POMELO_GET_SESSION_PATH={other}")),
        (false, false) => Check::new(
            "get_session_path",
            Verdict::Failed,
            "the session answers at neither spelling: check the id and the base URL",
        ),
    }
}

/// The search check, from four answers with `page[size]=1`: without `page[number]` (the
/// server's first page), and with `page[number]` 0, 1 and 2.
#[must_use]
pub(crate) fn search(path: &str, first: &Answer, pages: [&Answer; 3]) -> Check {
    fn ok(a: &Answer) -> Option<&Received> {
        a.as_ref().ok().filter(|r| (200..300).contains(&r.status))
    }
    let Some(head) = ok(first) else {
        return match first {
            Ok(r) => Check::new(
                "search",
                Verdict::Failed,
                format!(
                    "{path} answered {}: set POMELO_SEARCH_SESSIONS_PATH to your account's search path",
                    r.status
                ),
            ),
            Err(why) => Check::new(
                "search",
                Verdict::Failed,
                format!("no answer from {path}: {why}"),
            ),
        };
    };
    let meta = match &head.pagination {
        Some(members) if members.is_empty() => "meta.pagination is empty".to_owned(),
        Some(members) => format!("meta.pagination has {}", members.join(", ")),
        None => "no meta.pagination: each search is read as a single page (decision 4)".to_owned(),
    };
    if head.ids.is_empty() {
        return Check::new(
            "search",
            Verdict::Unknown,
            format!(
                "the search path answers, but the account has no session to compare pages with; {meta}"
            ),
        );
    }
    // The sessions each numbered page holds (`None`: refused).
    let [zero, one, two] = pages.map(|a| ok(a).map(|r| &r.ids));
    let first = Some(&head.ids);
    if zero.is_some() && zero == one && one == two {
        return Check::new(
            "search",
            Verdict::Differs,
            format!(
                "pages 0, 1 and 2 hold the same sessions: the server ignores page[number]; \
                 a walk over pages stops with an error after the first; {meta}"
            ),
        );
    }
    if first == zero && zero != one {
        return Check::new(
            "search",
            Verdict::Ok,
            format!("pages are numbered from 0 and page[number] is honoured; {meta}"),
        );
    }
    if first == one && one != two {
        return Check::new(
            "search",
            Verdict::Differs,
            format!("the first page is page 1: pages are numbered from 1; {meta}"),
        )
        .setting("POMELO_FIRST_PAGE=1");
    }
    Check::new(
        "search",
        Verdict::Unknown,
        format!("the first page matches neither page 0 nor page 1; {meta}"),
    )
}

/// The webhook check, from a captured delivery and the receiver's keys: which digest encoding and
/// which endpoint form verify, and whether the timestamp is in seconds. Freshness is not judged
/// (a capture is old by nature): the MAC is checked as at the delivery's own timestamp.
#[must_use]
pub(crate) fn webhook(capture: &Capture, keys: &WebhookKeys) -> Check {
    let header = |name: &str| {
        capture
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let timestamp = header("x-timestamp");
    let Ok(seconds) = timestamp.parse::<u64>() else {
        return Check::new(
            "webhook",
            Verdict::Failed,
            "the capture's X-Timestamp is not a whole number",
        );
    };
    let milliseconds = timestamp.len() >= 13;
    let signed_at = SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(seconds))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let encoding = match header("x-signature")
        .strip_prefix("hmac-sha256 ")
        .map(str::len)
    {
        Some(44) => "base64",
        Some(64) => "hex",
        _ => "an unknown encoding",
    };
    let endpoint = header("x-endpoint");
    let form = if endpoint.contains('?') {
        "the path with its query"
    } else {
        "the path"
    };
    let verifier = Verifier::new(keys.clone());
    match verifier.verify_signature(&capture.headers, &capture.body, signed_at) {
        Ok(()) if milliseconds => Check::new(
            "webhook",
            Verdict::Failed,
            format!(
                "the signature verifies (digest in {encoding}), but X-Timestamp is in milliseconds: \
                 every live delivery would be refused as from the future"
            ),
        ),
        // Both encodings are accepted: nothing to change either way.
        Ok(()) => Check::new(
            "webhook",
            Verdict::Ok,
            format!(
                "the signature verifies: digest in {encoding} (both are accepted), X-Endpoint is \
                 {form} (`{}`: give it to Verifier::expected_endpoint), X-Timestamp in seconds",
                printable(&endpoint)
            ),
        ),
        Err(WebhookError::SignatureMismatch) => Check::new(
            "webhook",
            Verdict::Failed,
            format!(
                "the signature (digest in {encoding}) does not verify with the secret given for its X-Api-Key"
            ),
        ),
        Err(e) => Check::new(
            "webhook",
            Verdict::Failed,
            format!("the capture is refused: {} ({e})", e.kind()),
        ),
    }
}

/// The error-body check, from the answer to a read of a session that cannot exist.
#[must_use]
pub(crate) fn error_body(answer: &Answer) -> Check {
    match answer {
        Ok(r) if r.status == 404 && r.shape.starts_with("{error:") => Check::new(
            "error_body",
            Verdict::Ok,
            format!(
                "a missing session is 404 with the error body {} (codes: {})",
                r.shape,
                r.codes.join(", ")
            ),
        ),
        Ok(r) if (400..500).contains(&r.status) => Check::new(
            "error_body",
            Verdict::Differs,
            format!(
                "a missing session is {} with the body {}; errors are kept raw (decision 8)",
                r.status, r.shape
            ),
        ),
        Ok(r) => Check::new(
            "error_body",
            Verdict::Unknown,
            format!(
                "a session that cannot exist answered {} with {}",
                r.status, r.shape
            ),
        ),
        Err(why) => Check::new("error_body", Verdict::Failed, format!("no answer: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: Value) -> Answer {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("req-1"));
        Ok(Received::from_parts(
            StatusCode::from_u16(status).unwrap(),
            &headers,
            &serde_json::to_vec(&body).unwrap(),
        ))
    }

    fn page(ids: &[&str], current: u64) -> Answer {
        let data: Vec<Value> = ids
            .iter()
            .map(|id| serde_json::json!({"id": id, "user_id": "usr-secret-name"}))
            .collect();
        answer(
            200,
            serde_json::json!({"data": data, "meta": {"pagination": {"current_page": current, "total_pages": 3}}}),
        )
    }

    #[test]
    fn shapes_name_members_never_values() {
        let received = page(&["iss-1"], 0).unwrap();
        assert_eq!(
            received.shape,
            "{data: [1] of {id, user_id}, meta: {pagination: {current_page, total_pages}}}"
        );
        assert!(
            !format!("{received:?}").contains("usr-secret-name")
                || received.shape.contains("user_id")
        );
        assert!(
            !serde_json::to_string(&received)
                .unwrap()
                .contains("usr-secret-name")
        );
        assert_eq!(received.ids, ["iss-1"]);
    }

    #[test]
    fn the_audience_that_works_is_the_setting() {
        let refused = answer(
            400,
            serde_json::json!({"error": {"details": [{"code": "invalid_audience"}]}}),
        );
        let accepted = answer(200, serde_json::json!({"access_token": "secret-token"}));
        let check = credentials(
            "https://a",
            &refused,
            &[
                ("https://b", refused.clone()),
                ("https://c", accepted.clone()),
            ],
        );
        assert_eq!(
            (check.verdict, check.setting.as_deref()),
            (Verdict::Differs, Some("POMELO_AUDIENCE=https://c"))
        );
        assert_eq!(
            credentials("https://a", &accepted, &[]).verdict,
            Verdict::Ok
        );
        let wrong = answer(
            401,
            serde_json::json!({"error": {"details": [{"code": "invalid_client"}]}}),
        );
        assert_eq!(
            credentials("https://a", &wrong, &[]).verdict,
            Verdict::Failed
        );
        assert!(
            !serde_json::to_string(&credentials("https://a", &accepted, &[]))
                .unwrap()
                .contains("secret-token")
        );
    }

    #[test]
    fn page_numbering_is_told_from_four_pages() {
        let (a, b, c) = (
            page(&["iss-a"], 0),
            page(&["iss-b"], 1),
            page(&["iss-c"], 2),
        );
        let empty = page(&[], 3);
        let zero_based = search("/s", &a, [&a, &b, &c]);
        assert_eq!(zero_based.verdict, Verdict::Ok);
        assert_eq!(
            search("/s", &a, [&a, &empty, &empty]).verdict,
            Verdict::Ok,
            "one session"
        );
        // 1-based: page 0 clamped to the first page, or refused.
        for zero in [a.clone(), answer(400, serde_json::json!({}))] {
            let one_based = search("/s", &a, [&zero, &a, &b]);
            assert_eq!(
                one_based.setting.as_deref(),
                Some("POMELO_FIRST_PAGE=1"),
                "{one_based:?}"
            );
        }
        assert_eq!(
            search("/s", &a, [&a, &a, &empty]).setting.as_deref(),
            Some("POMELO_FIRST_PAGE=1"),
            "1-based, one session"
        );
        let ignoring = search("/s", &a, [&a, &a, &a]);
        assert_eq!(
            (ignoring.verdict, ignoring.setting),
            (Verdict::Differs, None)
        );
        let missing = search("/s", &answer(404, serde_json::json!({})), [&a, &a, &a]);
        assert_eq!(missing.verdict, Verdict::Failed);
        assert_eq!(
            search("/s", &empty, [&empty, &empty, &empty]).verdict,
            Verdict::Unknown
        );
    }

    #[test]
    fn the_session_path_that_answers_is_the_setting() {
        let found = page(&["iss-1"], 0);
        let missing = answer(404, serde_json::json!({"error": {}}));
        let check = get_session_path(
            "/a/{session_id}",
            "/b/{session_id}",
            Some((&missing, &found)),
        );
        assert_eq!(
            check.setting.as_deref(),
            Some("POMELO_GET_SESSION_PATH=/b/{session_id}")
        );
        assert_eq!(get_session_path("/a", "/b", None).verdict, Verdict::Unknown);
        assert_eq!(
            get_session_path("/a", "/b", Some((&found, &missing))).verdict,
            Verdict::Ok
        );
    }

    #[test]
    fn a_captured_webhook_tells_its_encoding_and_timestamp_unit() {
        use kyc_core::webhook::{WebhookSecret, sign};
        let secret = "uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=";
        let keys = WebhookKeys::new().with("k", WebhookSecret::from_base64(secret).unwrap());
        let signed = sign(
            "k",
            &WebhookSecret::from_base64(secret).unwrap(),
            "/hooks?t=1",
            1_700_000_000,
            b"{}",
        );
        let text = format!(
            "X-Api-Key: k\nX-Signature: {}\nX-Timestamp: 1700000000\nX-Endpoint: /hooks?t=1\n\n{{}}",
            signed.signature
        );
        let check = webhook(&Capture::parse(text.as_bytes()).unwrap(), &keys);
        assert_eq!(check.verdict, Verdict::Ok, "{check:?}");
        assert!(
            check.detail.contains("base64") && check.detail.contains("query"),
            "{}",
            check.detail
        );
        let tampered = text.replace("{}", "{ }");
        assert_eq!(
            webhook(&Capture::parse(tampered.as_bytes()).unwrap(), &keys).verdict,
            Verdict::Failed
        );
    }

    #[test]
    fn a_skewed_clock_is_reported_against_the_window() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let window = Duration::from_secs(300);
        let ok = answer(200, serde_json::json!({"access_token": "t"}));
        assert_eq!(clock(now, Some(now), &ok, window).verdict, Verdict::Ok);
        assert_eq!(
            clock(now, Some(now + Duration::from_secs(60)), &ok, window).verdict,
            Verdict::Differs
        );
        assert_eq!(
            clock(now, Some(now - Duration::from_secs(600)), &ok, window).verdict,
            Verdict::Failed
        );
        let no_date = clock(now, None, &ok, window);
        assert_eq!(no_date.verdict, Verdict::Unknown);
        assert!(no_date.detail.contains("no Date header"), "{no_date:?}");
    }

    #[test]
    fn a_clock_that_could_not_be_asked_says_so_instead_of_blaming_the_date_header() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let window = Duration::from_secs(300);
        let refused = answer(401, serde_json::json!({"error": {"message": "no"}}));
        let check = clock(now, None, &refused, window);
        assert_eq!(check.verdict, Verdict::Unknown);
        assert!(
            check.detail.contains("could not ask") && check.detail.contains("401"),
            "{check:?}"
        );
        assert!(!check.detail.contains("Date header"), "{check:?}");
        let silent = clock(now, None, &Err("connection refused".to_owned()), window);
        assert!(silent.detail.contains("no answer"), "{silent:?}");
    }

    #[test]
    fn the_search_detail_names_the_pagination_members_not_the_whole_shape() {
        let pages = page(&["iss-1"], 0);
        let next = page(&["iss-2"], 1);
        let check = search("/s", &pages, [&pages, &next, &page(&["iss-3"], 2)]);
        assert_eq!(check.verdict, Verdict::Ok, "{check:?}");
        assert!(
            check
                .detail
                .ends_with("meta.pagination has current_page, total_pages"),
            "{}",
            check.detail
        );
        assert!(!check.detail.contains("data: ["), "{}", check.detail);
    }
}
