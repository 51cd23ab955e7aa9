//! Webhook signing, reference §8.3: a pure function of the secret, the timestamp, the endpoint and
//! the body. Delivery (targets, attempts, retries) is `delivery.rs`'s.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How the digest is written after `hmac-sha256 `.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Digest {
    /// Standard base64, as Pomelo documents it.
    Base64,
    /// Lowercase hex (`Alternative::HexSignatures`).
    Hex,
}

/// `"hmac-sha256 " + digest(HMAC-SHA256(key, timestamp ‖ endpoint ‖ body))`.
pub(crate) fn sign(
    key: &[u8],
    timestamp: &str,
    endpoint: &str,
    body: &[u8],
    digest: Digest,
) -> String {
    // HMAC takes keys of any length, so this cannot fail; an empty MAC would only fail verification.
    let Ok(mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return "hmac-sha256 ".to_owned();
    };
    let tag = mac
        .chain_update(timestamp.as_bytes())
        .chain_update(endpoint.as_bytes())
        .chain_update(body)
        .finalize()
        .into_bytes();
    match digest {
        Digest::Base64 => format!("hmac-sha256 {}", STANDARD.encode(tag)),
        Digest::Hex => {
            let digits: String = tag.iter().map(|b| format!("{b:02x}")).collect();
            format!("hmac-sha256 {digits}")
        }
    }
}

/// The headers of one webhook attempt, in the order they are sent: `content-type`, `x-api-key`,
/// `x-signature`, `x-timestamp`, `x-endpoint`.
pub(crate) fn signed_headers(
    api_key: &str,
    key: &[u8],
    timestamp: &str,
    endpoint: &str,
    body: &[u8],
    digest: Digest,
) -> Vec<(String, String)> {
    vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-api-key".to_owned(), api_key.to_owned()),
        (
            "x-signature".to_owned(),
            sign(key, timestamp, endpoint, body, digest),
        ),
        ("x-timestamp".to_owned(), timestamp.to_owned()),
        ("x-endpoint".to_owned(), endpoint.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_reference_vectors() {
        let key = STANDARD
            .decode("uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=")
            .unwrap();
        assert_eq!(
            sign(
                &key,
                "1700000000",
                "/webhooks/identity/sessions",
                br#"{"id":"iss-123","status":"VALIDATED"}"#,
                Digest::Base64
            ),
            "hmac-sha256 JoGyuWrhnlXQTCenRej5MVnolkroEtek63ESCjDEXdg="
        );
        assert_eq!(
            sign(
                &key,
                "1700000000",
                "/transactions/adjustments/credit",
                b"",
                Digest::Base64
            ),
            "hmac-sha256 GrPfZok+HlPRG+QxLSuAKbMpRR65vJzPHU8llD2ImEY="
        );
        // The same digest in hex (`GrPf…` is 1a b3 df …).
        let hex = sign(
            &key,
            "1700000000",
            "/transactions/adjustments/credit",
            b"",
            Digest::Hex,
        );
        assert!(hex.starts_with("hmac-sha256 1ab3df6689"), "{hex}");
        let headers = signed_headers("k", &key, "1", "/e", b"{}", Digest::Base64);
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "content-type",
                "x-api-key",
                "x-signature",
                "x-timestamp",
                "x-endpoint"
            ]
        );
    }
}
