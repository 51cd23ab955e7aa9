//! Verifying a received webhook: headers, freshness, endpoint, MAC, then JSON.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac as _;
use http::{HeaderMap, Request};

use super::error::WebhookError;
use super::event::Event;
use super::secret::{WebhookKeys, WebhookSecret};
use super::{ALGORITHM, WebhookHeader};

/// Length of the base64 text of a 32-byte MAC, padding included.
const ENCODED_MAC_LEN: usize = 44;
/// Length of the hex text of a 32-byte MAC.
const HEX_MAC_LEN: usize = 64;
/// Length of an HMAC-SHA256 MAC.
const MAC_LEN: usize = 32;
const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Checks webhooks against a set of secrets, a freshness window and, optionally, the endpoint the
/// receiver serves. See the [module documentation](crate::webhook) for the algorithm and the
/// order of the checks.
///
/// A `Verifier` holds no state between calls and never reads the clock: `now` is an argument.
/// `Debug` shows how many keys and secrets it holds, never the secrets.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: WebhookKeys,
    tolerance: Duration,
    expected_endpoint: Option<String>,
}

impl Verifier {
    /// The default freshness window: 300 seconds either side of `now` (decision 9 of the API
    /// reference).
    pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

    /// A verifier for `keys` with the default freshness window and no expected endpoint.
    #[must_use]
    pub fn new(keys: WebhookKeys) -> Self {
        Verifier {
            keys,
            tolerance: Self::DEFAULT_TOLERANCE,
            expected_endpoint: None,
        }
    }

    /// The freshness window.
    #[must_use]
    pub fn tolerance_value(&self) -> Duration {
        self.tolerance
    }

    /// Sets the freshness window: a webhook is accepted when `|now − X-Timestamp| <= tolerance`.
    /// The same window applies into the past (delivery delay) and into the future (clock skew).
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Requires `X-Endpoint` to equal `endpoint` byte for byte: the path this receiver serves, with
    /// the query string if Pomelo is configured to call a URL that has one. Without it, the
    /// endpoint is still covered by the MAC, but a webhook signed for another of your routes is
    /// accepted.
    #[must_use]
    pub fn expected_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.expected_endpoint = Some(endpoint.into());
        self
    }

    /// The keyring this verifier checks against.
    #[must_use]
    pub fn keys(&self) -> &WebhookKeys {
        &self.keys
    }

    /// The freshness window in force.
    #[must_use]
    pub fn current_tolerance(&self) -> Duration {
        self.tolerance
    }

    /// Authenticates a webhook, then reads its JSON body as an [`Event`].
    ///
    /// `body` must be the raw bytes as received, before any JSON parsing or re-encoding.
    ///
    /// # Errors
    ///
    /// Every reason of [`Verifier::verify_signature`], then [`WebhookError::InvalidJson`] if the
    /// authenticated body is not JSON. A body that is JSON but of a shape this library does not
    /// know is not an error: it becomes [`Event::Other`].
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Event, WebhookError> {
        self.verify_signature(headers, body, now)?;
        let raw: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| WebhookError::InvalidJson {
                line: e.line(),
                column: e.column(),
            })?;
        Ok(Event::from_json(raw))
    }

    /// [`Verifier::verify`] on an [`http::Request`], for any server framework that can hand over
    /// the request with its body collected into bytes (`Vec<u8>`, `Bytes`, `String`, …). Only the
    /// headers and the body are read; check the method and route in your framework as usual.
    ///
    /// # Errors
    ///
    /// As [`Verifier::verify`].
    pub fn verify_request<B: AsRef<[u8]>>(
        &self,
        request: &Request<B>,
        now: SystemTime,
    ) -> Result<Event, WebhookError> {
        self.verify(request.headers(), request.body().as_ref(), now)
    }

    /// Authenticates a webhook without looking at its body's content: for callers that parse the
    /// body themselves.
    ///
    /// # Errors
    ///
    /// The first failing check, in this order:
    /// [`MissingHeader`](WebhookError::MissingHeader) (`X-Api-Key`, `X-Signature`,
    /// `X-Timestamp`, `X-Endpoint`, in that order),
    /// [`UnsupportedAlgorithm`](WebhookError::UnsupportedAlgorithm),
    /// [`MalformedSignature`](WebhookError::MalformedSignature),
    /// [`MalformedTimestamp`](WebhookError::MalformedTimestamp),
    /// [`Stale`](WebhookError::Stale) or [`FromFuture`](WebhookError::FromFuture),
    /// [`EndpointMismatch`](WebhookError::EndpointMismatch) (only with
    /// [`Verifier::expected_endpoint`]), [`UnknownApiKey`](WebhookError::UnknownApiKey),
    /// [`SignatureMismatch`](WebhookError::SignatureMismatch).
    pub fn verify_signature(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), WebhookError> {
        let signed = self.signed_parts(headers, now)?;
        // Every secret is tried, without stopping at the first match, so neither the result nor
        // the time taken depends on the order of the secrets or on which one matched. Each
        // comparison is constant-time (`Mac::verify_slice`).
        let matched = signed.secrets.iter().fold(false, |matched, secret| {
            let ok = secret
                .mac(signed.timestamp, signed.endpoint, body)
                .verify_slice(&signed.mac)
                .is_ok();
            matched | ok
        });
        if matched {
            Ok(())
        } else {
            Err(WebhookError::SignatureMismatch)
        }
    }

    /// The checks that need only the headers and the time (checks 1–7 of the
    /// [module documentation](crate::webhook#check-order)): the four headers are present, the
    /// signature is well formed, the timestamp is fresh, the endpoint is the expected one and a
    /// secret is configured for the api key. What a receiver runs *before* reading the body, so
    /// that a request that cannot be authentic is refused without holding a buffer for its body.
    ///
    /// A pure function of its arguments, like every check here: [`Verifier::verify`] and
    /// [`Verifier::verify_signature`] run the same checks again, with the `now` they are given,
    /// before the MAC.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use kyc_core::webhook::{sign, Verifier, WebhookError, WebhookKeys, WebhookSecret};
    ///
    /// let secret = WebhookSecret::from_base64("uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=")?;
    /// let verifier = Verifier::new(WebhookKeys::new().with("my-api-key", secret.clone()));
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    ///
    /// let headers = sign("my-api-key", &secret, "/hooks", 1_700_000_000, b"{}").to_header_map()?;
    /// assert_eq!(verifier.check_headers(&headers, now), Ok(())); // now read the body, then verify
    ///
    /// let unknown = sign("someone-else", &secret, "/hooks", 1_700_000_000, b"{}").to_header_map()?;
    /// assert_eq!(verifier.check_headers(&unknown, now), Err(WebhookError::UnknownApiKey));
    /// assert!(matches!(
    ///     verifier.check_headers(&http::HeaderMap::new(), now),
    ///     Err(WebhookError::MissingHeader { name: "X-Api-Key" })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Verifier::verify_signature`], without
    /// [`SignatureMismatch`](WebhookError::SignatureMismatch) (that needs the body).
    pub fn check_headers(&self, headers: &HeaderMap, now: SystemTime) -> Result<(), WebhookError> {
        self.signed_parts(headers, now).map(|_| ())
    }

    /// Checks 1–7 over the headers; what the MAC check needs from them.
    fn signed_parts<'a>(
        &'a self,
        headers: &'a HeaderMap,
        now: SystemTime,
    ) -> Result<SignedParts<'a>, WebhookError> {
        let api_key = header(headers, WebhookHeader::ApiKey)?;
        let signature = header(headers, WebhookHeader::Signature)?;
        let timestamp = header(headers, WebhookHeader::Timestamp)?;
        let endpoint = header(headers, WebhookHeader::Endpoint)?;

        let mac = parse_signature(signature)?;
        let signed_at = parse_timestamp(timestamp)?;
        check_freshness(signed_at, now, self.tolerance)?;
        if let Some(expected) = &self.expected_endpoint {
            if endpoint != expected.as_bytes() {
                return Err(WebhookError::EndpointMismatch);
            }
        }
        let secrets = self
            .keys
            .secrets_for(api_key)
            .ok_or(WebhookError::UnknownApiKey)?;
        Ok(SignedParts {
            secrets,
            mac,
            timestamp,
            endpoint,
        })
    }
}

/// What the headers of a delivery that passed checks 1–7 give the MAC check.
struct SignedParts<'a> {
    secrets: &'a [WebhookSecret],
    mac: [u8; MAC_LEN],
    timestamp: &'a [u8],
    endpoint: &'a [u8],
}

/// The first value of a required header, as raw bytes (values need not be UTF-8).
fn header(headers: &HeaderMap, which: WebhookHeader) -> Result<&[u8], WebhookError> {
    headers
        .get(which.lowercase())
        .map(http::HeaderValue::as_bytes)
        .ok_or(WebhookError::MissingHeader { name: which.name() })
}

/// `hmac-sha256 <base64>` or `hmac-sha256 <hex>` → the 32 MAC bytes. The algorithm token is
/// everything before the first space and must be exactly `hmac-sha256`. Pomelo's identity pages
/// do not say how the digest is written: its card examples use base64 (44 characters, padded),
/// third-party material shows hex (64 digits); both spell the same 32 bytes (decision 9).
fn parse_signature(value: &[u8]) -> Result<[u8; MAC_LEN], WebhookError> {
    let mut parts = value.splitn(2, |&b| b == b' ');
    let algorithm = parts.next().unwrap_or_default();
    if algorithm != ALGORITHM.as_bytes() {
        return Err(WebhookError::UnsupportedAlgorithm);
    }
    let encoded = parts.next().ok_or(WebhookError::MalformedSignature)?;
    // Lengths are checked before decoding, so an oversized header costs no allocation.
    match encoded.len() {
        ENCODED_MAC_LEN => {
            // The engine is strict: canonical padding and no stray trailing bits, so a given MAC
            // has exactly one accepted base64 spelling.
            let decoded = STANDARD
                .decode(encoded)
                .map_err(|_| WebhookError::MalformedSignature)?;
            <[u8; MAC_LEN]>::try_from(decoded.as_slice())
                .map_err(|_| WebhookError::MalformedSignature)
        }
        HEX_MAC_LEN => decode_hex(encoded).ok_or(WebhookError::MalformedSignature),
        _ => Err(WebhookError::MalformedSignature),
    }
}

/// 64 hexadecimal digits (either case) → 32 bytes.
fn decode_hex(encoded: &[u8]) -> Option<[u8; MAC_LEN]> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let mut mac = [0u8; MAC_LEN];
    for (byte, pair) in mac.iter_mut().zip(encoded.chunks_exact(2)) {
        let [high, low] = pair else { return None };
        *byte = (digit(*high)? << 4) | digit(*low)?;
    }
    Some(mac)
}

/// Decimal ASCII digits only (no sign, no spaces, no fraction) that fit in a `u64`.
pub(super) fn parse_timestamp(value: &[u8]) -> Result<u64, WebhookError> {
    if value.is_empty() {
        return Err(WebhookError::MalformedTimestamp);
    }
    value.iter().try_fold(0_u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return Err(WebhookError::MalformedTimestamp);
        }
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(u64::from(b - b'0')))
            .ok_or(WebhookError::MalformedTimestamp)
    })
}

/// `|now − signed_at| <= tolerance`, computed in `i128` nanoseconds: every `u64` timestamp, any
/// `SystemTime` (including before 1970) and any `Duration` fit without overflow.
fn check_freshness(
    signed_at: u64,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), WebhookError> {
    let now_nanos = match now.duration_since(UNIX_EPOCH) {
        Ok(after) => nanos(after),
        Err(before) => nanos(before.duration()).saturating_neg(),
    };
    let signed_nanos = i128::from(signed_at).saturating_mul(NANOS_PER_SEC);
    let age = now_nanos.saturating_sub(signed_nanos);
    let allowed = nanos(tolerance);
    if age > allowed {
        Err(WebhookError::Stale {
            age: duration(age),
            tolerance,
        })
    } else if age.saturating_neg() > allowed {
        Err(WebhookError::FromFuture {
            ahead: duration(age.saturating_neg()),
            tolerance,
        })
    } else {
        Ok(())
    }
}

fn nanos(d: Duration) -> i128 {
    i128::try_from(d.as_nanos()).unwrap_or(i128::MAX)
}

/// A non-negative nanosecond count as a `Duration`, saturating at `u64::MAX` seconds.
fn duration(nanos: i128) -> Duration {
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    let subsec = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Duration::new(secs, subsec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_plain_decimal_seconds() {
        assert_eq!(parse_timestamp(b"1700000000"), Ok(1_700_000_000));
        assert_eq!(parse_timestamp(b"0"), Ok(0));
        assert_eq!(parse_timestamp(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [
            &b""[..],
            b"+1700000000",
            b"-1",
            b" 1700000000",
            b"1700000000.5",
            b"1e9",
            b"18446744073709551616",
        ] {
            assert_eq!(parse_timestamp(bad), Err(WebhookError::MalformedTimestamp));
        }
    }

    #[test]
    fn freshness_window_is_inclusive_and_never_overflows() {
        let tol = Duration::from_secs(300);
        let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(check_freshness(1000, at(1300), tol), Ok(()));
        assert_eq!(check_freshness(1300, at(1000), tol), Ok(()));
        assert!(matches!(
            check_freshness(1000, at(1301), tol),
            Err(WebhookError::Stale { age, .. }) if age == Duration::from_secs(301)
        ));
        assert!(matches!(
            check_freshness(1301, at(1000), tol),
            Err(WebhookError::FromFuture { ahead, .. }) if ahead == Duration::from_secs(301)
        ));
        // Sub-second precision of `now` counts: 300.5 s is outside a 300 s window.
        let late = at(1300) + Duration::from_millis(500);
        assert!(matches!(
            check_freshness(1000, late, tol),
            Err(WebhookError::Stale { .. })
        ));
        // Extremes: no panic, saturated durations.
        assert!(matches!(
            check_freshness(u64::MAX, at(0), tol),
            Err(WebhookError::FromFuture { ahead, .. }) if ahead == Duration::from_secs(u64::MAX)
        ));
        let before_epoch = UNIX_EPOCH - Duration::from_secs(1000);
        assert!(matches!(
            check_freshness(0, before_epoch, tol),
            Err(WebhookError::FromFuture { ahead, .. }) if ahead == Duration::from_secs(1000)
        ));
        assert_eq!(check_freshness(u64::MAX, at(0), Duration::MAX), Ok(()));
        // More than `Duration::MAX` ahead: refused, with the duration saturated.
        assert!(matches!(
            check_freshness(u64::MAX, before_epoch, Duration::MAX),
            Err(WebhookError::FromFuture { ahead, .. }) if ahead.as_secs() == u64::MAX
        ));
    }

    #[test]
    fn signature_needs_the_exact_algorithm_token_then_44_base64_chars_or_64_hex_digits() {
        let good = b"hmac-sha256 JoGyuWrhnlXQTCenRej5MVnolkroEtek63ESCjDEXdg=";
        let mac = parse_signature(good).unwrap();
        let hex = b"hmac-sha256 2681b2b96ae19e55d04c27a745e8f93159e8964ae812d7a4eb71120a30c45dd8";
        assert_eq!(parse_signature(hex), Ok(mac));
        let upper = b"hmac-sha256 2681B2B96AE19E55D04C27A745E8F93159E8964AE812D7A4EB71120A30C45DD8";
        assert_eq!(parse_signature(upper), Ok(mac));
        for unsupported in [
            &b"HMAC-SHA256 JoGyuWrhnlXQTCenRej5MVnolkroEtek63ESCjDEXdg="[..],
            b"hmac-sha1 JoGyuWrhnlXQTCenRej5MVnolkroEtek63ESCjDEXdg=",
            b"JoGyuWrhnlXQTCenRej5MVnolkroEtek63ESCjDEXdg=",
            b"",
            b" hmac-sha256 JoGyuWrhnlXQTCenRej5MVnolkroEtek63ESCjDEXdg=",
        ] {
            assert_eq!(
                parse_signature(unsupported),
                Err(WebhookError::UnsupportedAlgorithm)
            );
        }
        for malformed in [
            &b"hmac-sha256"[..],
            b"hmac-sha256 ",
            // Hex one digit short, one too many, or with a non-digit.
            b"hmac-sha256 2681b2b96ae19e55d04c27a745e8f93159e8964ae812d7a4eb71120a30c45dd",
            b"hmac-sha256 2681b2b96ae19e55d04c27a745e8f93159e8964ae812d7a4eb71120a30c45dd80",
            b"hmac-sha256 2681b2b96ae19e55d04c27a745e8f93159e8964ae812d7a4eb71120a30c45ddg",
            b"hmac-sha256 0x81b2b96ae19e55d04c27a745e8f93159e8964ae812d7a4eb71120a30c45dd8",
            b"hmac-sha256 JoGyuWrhnlXQTCenRej5MVnolkroEtek63ESCjDEXdg",
            b"hmac-sha256  JoGyuWrhnlXQTCenRej5MVnolkroEtek63ESCjDEXdg=",
            // Non-zero trailing bits: decodes to the same bytes under a lax decoder.
            b"hmac-sha256 JoGyuWrhnlXQTCenRej5MVnolkroEtek63ESCjDEXdh=",
            // URL-safe alphabet.
            b"hmac-sha256 GrPfZok-HlPRG-QxLSuAKbMpRR65vJzPHU8llD2ImEY=",
        ] {
            assert_eq!(
                parse_signature(malformed),
                Err(WebhookError::MalformedSignature),
                "{}",
                String::from_utf8_lossy(malformed)
            );
        }
    }
}
