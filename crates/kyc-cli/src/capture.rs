//! A captured webhook delivery, as a file: the format `kyc webhook verify --request FILE` and
//! `kyc doctor --webhook-file FILE` read.
//!
//! ```text
//! POST /webhooks/identity HTTP/1.1        <- optional request line, skipped
//! X-Api-Key: Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA=
//! X-Signature: hmac-sha256 JoGyuWrhnlXQTCenRej5MVnolkroEtek63ESCjDEXdg=
//! X-Timestamp: 1700000000
//! X-Endpoint: /webhooks/identity
//!                                          <- one blank line (CRLF or LF)
//! {"event_id": ...}                        <- the raw body, byte for byte, to the end of the file
//! ```
//!
//! That is an HTTP/1.1 request as a proxy or `tcpdump` shows it, so a delivery can be saved from
//! a log or a capture; the body is everything after the blank line, unchanged (the signature
//! covers its exact bytes).

use kyc_core::http::{self, HeaderMap, HeaderName, HeaderValue};

/// A delivery read from a capture: its headers and its raw body. `Debug` shows the header names
/// and the body's length only (the body is personal data).
#[derive(Clone)]
pub(crate) struct Capture {
    /// The headers.
    pub(crate) headers: HeaderMap,
    /// The raw body.
    pub(crate) body: Vec<u8>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(http::HeaderName::as_str).collect();
        f.debug_struct("Capture")
            .field("headers", &names)
            .field("body", &format_args!("{} bytes", self.body.len()))
            .finish()
    }
}

/// Why a capture could not be read; names the line, never its content.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum CaptureError {
    /// A header line is not `Name: value` with a valid name and value.
    #[error("line {line} of the capture is not a header (Name: value)")]
    BadHeader {
        /// 1-based line number.
        line: usize,
    },
    /// No blank line separates the headers from the body.
    #[error("the capture has no blank line between its headers and its body")]
    NoBody,
}

impl Capture {
    /// Reads a capture.
    ///
    /// # Errors
    ///
    /// [`CaptureError`] when a header line is malformed or no blank line ends the headers.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, CaptureError> {
        let mut headers = HeaderMap::new();
        let mut rest = bytes;
        let mut line_number = 0;
        loop {
            let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                return Err(CaptureError::NoBody);
            };
            let (line, after) = rest.split_at(end);
            rest = after.get(1..).unwrap_or_default();
            line_number += 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                return Ok(Self {
                    headers,
                    body: rest.to_vec(),
                });
            }
            if line_number == 1 && line.windows(6).any(|w| w == b" HTTP/") {
                continue;
            }
            let bad = CaptureError::BadHeader { line: line_number };
            let colon = line.iter().position(|&b| b == b':').ok_or(bad)?;
            let (name, value) = line.split_at(colon);
            let value = value.get(1..).unwrap_or_default().trim_ascii();
            let name = HeaderName::from_bytes(name.trim_ascii()).map_err(|_| bad)?;
            let value = HeaderValue::from_bytes(value).map_err(|_| bad)?;
            headers.append(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_headers_and_the_exact_body_with_or_without_a_request_line() {
        let capture =
            b"POST /hooks HTTP/1.1\r\nX-Api-Key: k\r\nX-Timestamp: 1\r\n\r\n{\"a\":1}\r\n";
        let c = Capture::parse(capture).unwrap();
        assert_eq!(c.headers["x-api-key"], "k");
        assert_eq!(c.body, b"{\"a\":1}\r\n");
        let bare = Capture::parse(b"X-Endpoint: /e?x=1\n\nbody").unwrap();
        assert_eq!((c.headers.len(), bare.body.as_slice()), (2, &b"body"[..]));
        assert_eq!(
            Capture::parse(b"X-Api-Key: k\n").err(),
            Some(CaptureError::NoBody)
        );
        assert_eq!(
            Capture::parse(b"X-Api-Key k\n\n").err(),
            Some(CaptureError::BadHeader { line: 1 })
        );
    }

    #[test]
    fn debug_shows_header_names_and_the_body_length_only() {
        let c = Capture::parse(b"X-Api-Key: k\n\n{\"name\": \"MARKER-NAME\"}").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("MARKER"), "{shown}");
        assert!(
            shown.contains("x-api-key") && shown.contains("23 bytes"),
            "{shown}"
        );
    }
}
