//! Webhook secrets and the keyring that maps an `X-Api-Key` to its secrets.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// A Pomelo `api-secret`: the HMAC-SHA256 key that signs webhooks.
///
/// Pomelo hands the secret out as a base64 string; the key is the *decoded* bytes (API reference
/// §8.3 step 1). The secret is kept only as a keyed HMAC state, and `Debug` prints `[redacted]`,
/// so it cannot leak through logs or error messages.
///
/// ```
/// use kyc_core::webhook::WebhookSecret;
///
/// let secret = WebhookSecret::from_base64("uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=")?;
/// assert_eq!(format!("{secret:?}"), "WebhookSecret([redacted])");
/// # Ok::<(), kyc_core::webhook::InvalidWebhookSecret>(())
/// ```
#[derive(Clone)]
pub struct WebhookSecret {
    /// HMAC-SHA256 keyed with the decoded secret, before any message bytes; cloned per use.
    keyed: HmacSha256,
}

impl WebhookSecret {
    /// Reads a secret in the form Pomelo delivers it: standard, padded base64 (`A–Z a–z 0–9 + /`,
    /// `=` padding). Leading and trailing ASCII whitespace is ignored, so a value read from a file
    /// with a final newline works.
    ///
    /// # Errors
    ///
    /// [`InvalidWebhookSecret::NotBase64`] if the text is not canonical standard padded base64,
    /// [`InvalidWebhookSecret::Empty`] if it decodes to no bytes. The error never contains any
    /// part of the text.
    pub fn from_base64(encoded: &str) -> Result<Self, InvalidWebhookSecret> {
        let key = STANDARD
            .decode(encoded.trim_ascii())
            .map_err(|_| InvalidWebhookSecret::NotBase64)?;
        Self::from_bytes(&key)
    }

    /// Uses `key` as the HMAC key directly (the bytes a base64 secret decodes to).
    ///
    /// # Errors
    ///
    /// [`InvalidWebhookSecret::Empty`] if `key` is empty.
    pub fn from_bytes(key: &[u8]) -> Result<Self, InvalidWebhookSecret> {
        if key.is_empty() {
            return Err(InvalidWebhookSecret::Empty);
        }
        // HMAC accepts keys of any length; the error arm exists only because the trait is generic.
        let keyed = HmacSha256::new_from_slice(key).map_err(|_| InvalidWebhookSecret::Empty)?;
        Ok(WebhookSecret { keyed })
    }

    /// HMAC-SHA256 over `timestamp ‖ endpoint ‖ body`, with no separators (API reference §8.3).
    pub(crate) fn mac(&self, timestamp: &[u8], endpoint: &[u8], body: &[u8]) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(timestamp);
        mac.update(endpoint);
        mac.update(body);
        mac
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

/// Why a webhook secret was refused. Never contains any part of the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidWebhookSecret {
    /// The text is not canonical standard padded base64.
    #[error("webhook secret is not standard padded base64")]
    NotBase64,
    /// The secret decodes to no bytes.
    #[error("webhook secret is empty")]
    Empty,
}

/// The secrets a receiver accepts, keyed by the `X-Api-Key` they belong to.
///
/// Several api keys can be configured at once (several Pomelo key pairs), and each can hold several
/// secrets, so a secret can be rotated without a window where valid webhooks are refused: add the
/// new secret, wait until Pomelo signs with it, then drop the old one. A webhook is accepted if
/// *any* secret of its api key matches; the order of insertion does not matter.
///
/// `Debug` shows only how many api keys and secrets there are.
///
/// ```
/// use kyc_core::webhook::{WebhookKeys, WebhookSecret};
///
/// let old = WebhookSecret::from_base64("uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=")?;
/// let new = WebhookSecret::from_base64("c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24=")?;
/// let keys = WebhookKeys::new()
///     .with("Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA=", old)
///     .with("Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA=", new);
/// assert_eq!(format!("{keys:?}"), "WebhookKeys { api_keys: 1, secrets: 2 }");
/// # Ok::<(), kyc_core::webhook::InvalidWebhookSecret>(())
/// ```
#[derive(Clone, Default)]
pub struct WebhookKeys {
    by_api_key: BTreeMap<String, Vec<WebhookSecret>>,
}

impl WebhookKeys {
    /// An empty keyring: every webhook is refused with `UnknownApiKey` until a secret is added.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `secret` for `api_key` (builder form of [`WebhookKeys::insert`]).
    #[must_use]
    pub fn with(mut self, api_key: impl Into<String>, secret: WebhookSecret) -> Self {
        self.insert(api_key, secret);
        self
    }

    /// Adds `secret` for `api_key`, keeping any secrets already held for it.
    pub fn insert(&mut self, api_key: impl Into<String>, secret: WebhookSecret) {
        self.by_api_key
            .entry(api_key.into())
            .or_default()
            .push(secret);
    }

    /// Removes `api_key` and all its secrets; returns whether it was present.
    pub fn remove(&mut self, api_key: &str) -> bool {
        self.by_api_key.remove(api_key).is_some()
    }

    /// Whether `api_key` has at least one secret.
    #[must_use]
    pub fn contains(&self, api_key: &str) -> bool {
        self.by_api_key.contains_key(api_key)
    }

    /// Number of api keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_api_key.len()
    }

    /// Whether no api key is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_api_key.is_empty()
    }

    /// The secrets for the api key sent in `X-Api-Key` (raw header bytes), if any.
    pub(crate) fn secrets_for(&self, api_key: &[u8]) -> Option<&[WebhookSecret]> {
        let api_key = std::str::from_utf8(api_key).ok()?;
        self.by_api_key.get(api_key).map(Vec::as_slice)
    }
}

impl fmt::Debug for WebhookKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookKeys")
            .field("api_keys", &self.by_api_key.len())
            .field(
                "secrets",
                &self.by_api_key.values().map(Vec::len).sum::<usize>(),
            )
            .finish()
    }
}
