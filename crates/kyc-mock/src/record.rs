//! The log of requests the simulator received, for tests to assert on.

use std::collections::VecDeque;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method};

/// Upper bound on body bytes kept in the request log, whatever the entry count.
const MAX_RECORDED_BODY_BYTES: usize = 256 * 1024 * 1024;

/// One request as the simulator received it (faulted requests included).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The `x-request-id` the simulator answered with (for a dropped connection, the id it would
    /// have used).
    pub request_id: String,
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path without the query, e.g. `/identity/v2/sessions`.
    pub path: String,
    /// Raw query string without `?`, if any.
    pub query: Option<String>,
    /// Headers in arrival order, names lower-case; values decoded lossily as UTF-8.
    pub headers: Vec<(String, String)>,
    /// The body bytes (empty when the body was refused as too large).
    pub body: Vec<u8>,
    /// When it was recorded (this machine's wall clock, not the simulator's adjustable one): to
    /// tell, say, how far apart two polls of a session were.
    pub received_at: std::time::SystemTime,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text, lossily.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A request as the log keeps it, turned into a [`RecordedRequest`] only when someone reads the
/// log: its path, query, header names and values (decoded lossily) in one string, where they
/// stand in it, and the body shared with the request. Copying each header into two strings of its
/// own for every request was a share of the simulator's time under load (BENCHMARKS.md, L6);
/// keeping the request's own header values instead would keep hyper's read buffers alive.
#[derive(Debug)]
pub(crate) struct Entry {
    request_id: HeaderValue,
    method: Method,
    /// The path, the query, then each header's name and value.
    text: String,
    path_end: usize,
    /// Where the query ends, when there is one (it starts at `path_end`).
    query_end: Option<usize>,
    /// Where each header's name ends and its value ends.
    headers: Vec<(usize, usize)>,
    body: Bytes,
    received_at: std::time::SystemTime,
}

impl Entry {
    pub(crate) fn new(request_id: HeaderValue, parts: &Parts, body: Bytes) -> Self {
        let size: usize = parts
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum();
        let uri = &parts.uri;
        let mut text =
            String::with_capacity(uri.path().len() + uri.query().map_or(0, str::len) + size);
        text.push_str(uri.path());
        let path_end = text.len();
        let query_end = uri.query().map(|query| {
            text.push_str(query);
            text.len()
        });
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                text.push_str(name.as_str());
                let name_end = text.len();
                match value.to_str() {
                    // Visible ASCII, as nearly every value is: checked faster than UTF-8.
                    Ok(ascii) => text.push_str(ascii),
                    Err(_) => text.push_str(&String::from_utf8_lossy(value.as_bytes())),
                }
                (name_end, text.len())
            })
            .collect();
        Self {
            request_id,
            method: parts.method.clone(),
            text,
            path_end,
            query_end,
            headers,
            body,
            received_at: std::time::SystemTime::now(),
        }
    }

    fn recorded(&self) -> RecordedRequest {
        let text = |from: usize, to: usize| self.text.get(from..to).unwrap_or_default().to_owned();
        let mut at = self.query_end.unwrap_or(self.path_end);
        RecordedRequest {
            request_id: String::from_utf8_lossy(self.request_id.as_bytes()).into_owned(),
            method: self.method.as_str().to_owned(),
            path: text(0, self.path_end),
            query: self.query_end.map(|end| text(self.path_end, end)),
            headers: self
                .headers
                .iter()
                .map(|&(name_end, value_end)| {
                    let header = (text(at, name_end), text(name_end, value_end));
                    at = value_end;
                    header
                })
                .collect(),
            body: self.body.to_vec(),
            received_at: self.received_at,
        }
    }
}

/// Bounded log: at most `max_entries` requests and [`MAX_RECORDED_BODY_BYTES`] of bodies, the
/// oldest dropped first.
#[derive(Debug)]
pub(crate) struct RequestLog {
    entries: VecDeque<Entry>,
    body_bytes: usize,
    max_entries: usize,
}

impl RequestLog {
    pub(crate) fn new(max_entries: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            body_bytes: 0,
            max_entries,
        }
    }

    pub(crate) fn push(&mut self, request: Entry) {
        if self.max_entries == 0 {
            return;
        }
        self.body_bytes = self.body_bytes.saturating_add(request.body.len());
        self.entries.push_back(request);
        while self.entries.len() > self.max_entries
            || (self.body_bytes > MAX_RECORDED_BODY_BYTES && self.entries.len() > 1)
        {
            match self.entries.pop_front() {
                Some(old) => self.body_bytes = self.body_bytes.saturating_sub(old.body.len()),
                None => break,
            }
        }
    }

    /// A copy of the log, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        self.entries.iter().map(Entry::recorded).collect()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.body_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(n: usize) -> Entry {
        let (mut parts, ()) = http::Request::get("/a/b?c=d")
            .body(())
            .unwrap()
            .into_parts();
        parts
            .headers
            .insert("x-thing", HeaderValue::from_static("v"));
        parts.headers.append(
            "x-thing",
            HeaderValue::from_bytes(b"caf\xc3\xa9 \xff").unwrap(),
        );
        parts
            .headers
            .insert("accept", HeaderValue::from_static("*/*"));
        let id = HeaderValue::from_str(&format!("req-{n}")).unwrap();
        Entry::new(id, &parts, Bytes::from(vec![0; n]))
    }

    #[test]
    fn keeps_the_newest_entries() {
        let mut log = RequestLog::new(2);
        log.push(req(1));
        log.push(req(2));
        log.push(req(3));
        let ids: Vec<_> = log.snapshot().into_iter().map(|r| r.request_id).collect();
        assert_eq!(ids, ["req-2", "req-3"]);
        let first = &log.snapshot()[0];
        assert_eq!(first.header("X-Thing"), Some("v"));
        // Every value kept, in order, decoded lossily; the path apart from the query.
        assert_eq!(
            first.headers,
            [
                ("x-thing".to_owned(), "v".to_owned()),
                ("x-thing".to_owned(), "café \u{FFFD}".to_owned()),
                ("accept".to_owned(), "*/*".to_owned())
            ]
        );
        assert_eq!(
            (first.method.as_str(), first.path.as_str()),
            ("GET", "/a/b")
        );
        assert_eq!(first.query.as_deref(), Some("c=d"));
        assert_eq!(first.body, [0, 0]);
        let (bare, ()) = http::Request::get("/").body(()).unwrap().into_parts();
        let bare = Entry::new(HeaderValue::from_static("req-0"), &bare, Bytes::new()).recorded();
        assert_eq!(
            (bare.path.as_str(), bare.query, bare.headers.len()),
            ("/", None, 0)
        );
        log.clear();
        assert!(log.snapshot().is_empty());
    }
}
