//! Signing webhooks the way Pomelo does, for tests and simulators.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac as _;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::error::InvalidHeaderText;
use super::secret::WebhookSecret;
use super::{ALGORITHM_PREFIX, WebhookHeader};

/// The four headers Pomelo sends with a webhook, as produced by [`sign`].
///
/// The values are plain text; [`SignedHeaders::to_header_map`] and [`SignedHeaders::apply`] turn
/// them into HTTP headers.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedHeaders {
    /// `X-Api-Key`: which secret signed the webhook.
    pub api_key: String,
    /// `X-Signature`: `hmac-sha256 ` followed by the base64 MAC.
    pub signature: String,
    /// `X-Timestamp`: Unix time in seconds, in decimal.
    pub timestamp: String,
    /// `X-Endpoint`: the path (with query, if any) the webhook is sent to.
    pub endpoint: String,
}

/// Signs `body` as Pomelo does (API reference §8.3): HMAC-SHA256 keyed with the secret over
/// `timestamp_unix` in decimal, then `endpoint`, then the raw body, with no separators; the MAC
/// goes into `X-Signature` as `hmac-sha256 <standard padded base64>`.
///
/// Always base64, although the verifier also accepts hex: Pomelo's only runnable signing code
/// (its Go, Node and Postman examples, reference §8.3) writes base64, so that is what a receiver
/// built against Pomelo's documentation expects. A simulator that must play a hex-signing account
/// encodes the same MAC bytes itself (`kyc-mock` does).
///
/// Deterministic: the same inputs always give the same headers.
///
/// ```
/// use kyc_core::webhook::{sign, WebhookSecret};
///
/// let secret = WebhookSecret::from_base64("uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=")?;
/// let signed = sign("my-api-key", &secret, "/transactions/adjustments/credit", 1_700_000_000, b"");
/// assert_eq!(signed.signature, "hmac-sha256 GrPfZok+HlPRG+QxLSuAKbMpRR65vJzPHU8llD2ImEY=");
/// assert_eq!(signed.timestamp, "1700000000");
/// # Ok::<(), kyc_core::webhook::InvalidWebhookSecret>(())
/// ```
#[must_use]
pub fn sign(
    api_key: &str,
    secret: &WebhookSecret,
    endpoint: &str,
    timestamp_unix: u64,
    body: &[u8],
) -> SignedHeaders {
    let timestamp = timestamp_unix.to_string();
    let mac = secret
        .mac(timestamp.as_bytes(), endpoint.as_bytes(), body)
        .finalize()
        .into_bytes();
    let mut signature = String::with_capacity(ALGORITHM_PREFIX.len() + 44);
    signature.push_str(ALGORITHM_PREFIX);
    STANDARD.encode_string(mac, &mut signature);
    SignedHeaders {
        api_key: api_key.to_owned(),
        signature,
        timestamp,
        endpoint: endpoint.to_owned(),
    }
}

impl SignedHeaders {
    /// The four headers as a new [`HeaderMap`].
    ///
    /// # Errors
    ///
    /// [`InvalidHeaderText`] naming the header whose value contains a character HTTP headers do
    /// not allow (a control character other than tab, e.g. a newline in the endpoint).
    pub fn to_header_map(&self) -> Result<HeaderMap, InvalidHeaderText> {
        let mut headers = HeaderMap::with_capacity(4);
        self.apply(&mut headers)?;
        Ok(headers)
    }

    /// Sets the four headers on `headers`, replacing any previous values. Nothing is changed if a
    /// value is not allowed in a header.
    ///
    /// # Errors
    ///
    /// [`InvalidHeaderText`] as for [`SignedHeaders::to_header_map`].
    pub fn apply(&self, headers: &mut HeaderMap) -> Result<(), InvalidHeaderText> {
        let values = self.header_values()?;
        for (name, value) in values {
            headers.insert(name, value);
        }
        Ok(())
    }

    fn header_values(&self) -> Result<[(HeaderName, HeaderValue); 4], InvalidHeaderText> {
        let entry = |header: WebhookHeader, text: &str| {
            HeaderValue::from_bytes(text.as_bytes())
                .map(|value| (header.header_name(), value))
                .map_err(|_| InvalidHeaderText {
                    name: header.name(),
                })
        };
        Ok([
            entry(WebhookHeader::ApiKey, &self.api_key)?,
            entry(WebhookHeader::Signature, &self.signature)?,
            entry(WebhookHeader::Timestamp, &self.timestamp)?,
            entry(WebhookHeader::Endpoint, &self.endpoint)?,
        ])
    }
}

impl std::fmt::Debug for SignedHeaders {
    /// Shows the api key, timestamp and endpoint; the MAC is elided (it is a signature over the
    /// body, not the secret, but it has no place in logs).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedHeaders")
            .field("api_key", &self.api_key)
            .field("signature", &"hmac-sha256 [elided]")
            .field("timestamp", &self.timestamp)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}
