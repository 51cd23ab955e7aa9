//! The log of requests the simulator received, for tests to assert on.

use std::collections::VecDeque;

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

/// Bounded log: at most `max_entries` requests and [`MAX_RECORDED_BODY_BYTES`] of bodies, the
/// oldest dropped first.
#[derive(Debug)]
pub(crate) struct RequestLog {
    entries: VecDeque<RecordedRequest>,
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

    pub(crate) fn push(&mut self, request: RecordedRequest) {
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
        self.entries.iter().cloned().collect()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.body_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(n: usize) -> RecordedRequest {
        RecordedRequest {
            request_id: format!("req-{n}"),
            method: "GET".into(),
            path: "/".into(),
            query: None,
            headers: vec![("X-Thing".into(), "v".into())],
            body: vec![0; n],
            received_at: std::time::SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn keeps_the_newest_entries() {
        let mut log = RequestLog::new(2);
        log.push(req(1));
        log.push(req(2));
        log.push(req(3));
        let ids: Vec<_> = log.snapshot().into_iter().map(|r| r.request_id).collect();
        assert_eq!(ids, ["req-2", "req-3"]);
        assert_eq!(log.snapshot()[0].header("x-thing"), Some("v"));
        log.clear();
        assert!(log.snapshot().is_empty());
    }
}
