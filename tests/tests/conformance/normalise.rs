//! Turns what differs between two runs by chance (ids the simulator draws, tokens, idempotency
//! keys, multipart boundaries, timestamps) into numbered placeholders, in order of first
//! appearance. Two runs that reuse the same key on the same attempts normalise to the same text;
//! a run that drew a new key where the other reused one does not.

use std::collections::HashMap;

use kyc_mock::RecordedRequest;

/// Headers left out of the comparison, each for a reason: `user-agent` names the adapter on
/// purpose; `host` carries the port of each run's own simulator.
const IGNORED_HEADERS: [&str; 2] = ["user-agent", "host"];

#[derive(Default)]
pub(crate) struct Normaliser {
    seen: HashMap<(&'static str, String), usize>,
    counts: HashMap<&'static str, usize>,
}

/// Prefixes of the simulator's random ids and of the client's multipart boundary.
const ID_PREFIXES: [(&str, &str); 5] = [
    ("iss-", "session"),
    ("fil-", "file"),
    ("evt-", "event"),
    ("req-", "request"),
    ("kyc-rs-", "boundary"),
];

impl Normaliser {
    fn placeholder(&mut self, class: &'static str, value: &str) -> String {
        let next = self.counts.get(class).copied().unwrap_or(0) + 1;
        let n = *self
            .seen
            .entry((class, value.to_owned()))
            .or_insert_with(|| {
                self.counts.insert(class, next);
                next
            });
        format!("<{class}#{n}>")
    }

    /// Replaces ids and RFC 3339 timestamps in free text.
    pub(crate) fn text(&mut self, text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        'scan: while i < bytes.len() {
            let rest = &text[i..];
            let boundary_before = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
            if boundary_before {
                for (prefix, class) in ID_PREFIXES {
                    if let Some(after) = rest.strip_prefix(prefix) {
                        let len = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
                        if len >= 6 {
                            let value = &rest[..prefix.len() + len];
                            out.push_str(&self.placeholder(class, value));
                            i += value.len();
                            continue 'scan;
                        }
                    }
                }
                if let Some(after) = rest.strip_prefix("127.0.0.1:") {
                    // Each run's simulator listens on a port of its own.
                    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
                    out.push_str("<simulator>");
                    i += "127.0.0.1:".len() + digits;
                    continue 'scan;
                }
                if let Some(len) = timestamp_len(rest) {
                    out.push_str("<time>");
                    i += len;
                    continue 'scan;
                }
            }
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
        out
    }

    /// One request as both clients must have sent it.
    pub(crate) fn request(&mut self, r: &RecordedRequest) -> String {
        let mut headers: Vec<String> = r
            .headers
            .iter()
            .filter(|(name, _)| !IGNORED_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| {
                let value = match name.as_str() {
                    "authorization" => match value.strip_prefix("Bearer ") {
                        Some(token) => format!("Bearer {}", self.placeholder("token", token)),
                        None => value.clone(),
                    },
                    "x-idempotency-key" => self.placeholder("key", value),
                    _ => self.text(value),
                };
                format!("{name}: {value}")
            })
            .collect();
        headers.sort();
        let query = r.query.as_deref().map(|q| self.text(q)).unwrap_or_default();
        let body = self.text(&r.body_text());
        format!(
            "{} {}?{}\n  {}\n  body({} bytes): {}",
            r.method,
            self.text(&r.path),
            query,
            headers.join("\n  "),
            r.body.len(),
            body
        )
    }
}

/// Length of an RFC 3339 timestamp at the start of `s` (`2024-01-02T03:04:05`, optional fraction,
/// optional `Z` or `±hh:mm`).
fn timestamp_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd";
    if b.len() < shape.len() {
        return None;
    }
    for (c, want) in b.iter().zip(shape) {
        let ok = if *want == b'd' {
            c.is_ascii_digit()
        } else {
            c == want || (*want == b'T' && *c == b' ')
        };
        if !ok {
            return None;
        }
    }
    let mut n = shape.len();
    if b.get(n) == Some(&b'.') {
        n += 1;
        while b.get(n).is_some_and(u8::is_ascii_digit) {
            n += 1;
        }
    }
    match b.get(n) {
        Some(b'Z') => n += 1,
        Some(b'+' | b'-') if b.len() >= n + 6 && b[n + 3] == b':' => n += 6,
        _ => {}
    }
    Some(n)
}

#[test]
fn placeholders_follow_first_appearance() {
    let mut n = Normaliser::default();
    let a = n
        .text("iss-2lG0Yvy1fq then iss-99ZZ00aa then iss-2lG0Yvy1fq at 2024-01-02T03:04:05-03:00.");
    assert_eq!(
        a,
        "<session#1> then <session#2> then <session#1> at <time>."
    );
    assert_eq!(n.text("kyc-rs-0123456789abcdef"), "<boundary#1>");
    assert_eq!(n.text("this-is not an id"), "this-is not an id");
    assert_eq!(n.text("http://127.0.0.1:4242/x"), "http://<simulator>/x");
}
