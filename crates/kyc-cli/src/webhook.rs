//! `kyc webhook verify` and `kyc webhook sign`: kyc-core's verifier and signer, with the clock
//! read here (kyc-core never reads it) unless `--now` / `--timestamp` is given.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kyc_core::http::{HeaderMap, HeaderName, HeaderValue};
use kyc_core::webhook::{Event, Verifier, WebhookKeys, WebhookSecret, sign as sign_webhook};
use serde::Serialize;

use crate::capture::Capture;

use crate::cli::{SecretArgs, SignArgs, VerifyArgs};
use crate::failure::Failure;
use crate::{input, output};

/// What `kyc webhook verify` prints: the classification and the body as received.
#[derive(Serialize)]
struct Verified<'a> {
    /// `validation_session`, `required_file` or `other`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// The whole JSON body.
    event: &'a serde_json::Value,
}

pub(crate) fn verify(args: &VerifyArgs) -> Result<(), Failure> {
    let keys = keys(&args.secrets)?;
    let (headers, body) = match &args.request {
        Some(path) => {
            let capture = capture(path)?;
            (capture.headers, capture.body)
        }
        None => (
            header_map(&args.headers)?,
            input::read_or_empty("--body", args.body.as_deref())?,
        ),
    };
    let now = match args.now {
        Some(unix) => UNIX_EPOCH
            .checked_add(Duration::from_secs(unix))
            .ok_or_else(|| Failure::invalid_input("--now is too far in the future"))?,
        None => SystemTime::now(),
    };
    let mut verifier = Verifier::new(keys);
    if let Some(seconds) = args.tolerance {
        verifier = verifier.tolerance(Duration::from_secs(seconds));
    }
    if let Some(endpoint) = &args.endpoint {
        verifier = verifier.expected_endpoint(endpoint.as_str());
    }
    let event = verifier
        .verify(&headers, &body, now)
        .map_err(|e| Failure::webhook(&e))?;
    let kind = match &event {
        Event::ValidationSession(_) => "validation_session",
        Event::RequiredFile(_) => "required_file",
        _ => "other",
    };
    output::json(&Verified {
        kind,
        event: event.raw(),
    })
}

/// A secret from a file, white space around it trimmed. Messages name the file, never its content.
pub(crate) fn read_secret_file(flag: &str, path: &std::path::Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_owned())
        .map_err(|e| Failure::invalid_input(format!("cannot read {flag} {}: {e}", path.display())))
}

/// Reads a captured delivery (`kyc_core::webhook::Capture`'s format).
pub(crate) fn capture(path: &std::path::Path) -> Result<Capture, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::invalid_input(format!("cannot read {}: {e}", path.display())))?;
    Capture::parse(&bytes).map_err(|e| Failure::invalid_input(format!("{}: {e}", path.display())))
}

/// The webhook keys from every source the options name: `--secret` values, `--secret-file`
/// lines, `POMELO_WEBHOOK_SECRETS` entries (commas or newlines between them). At least one.
pub(crate) fn keys(args: &SecretArgs) -> Result<WebhookKeys, Failure> {
    let mut entries: Vec<String> = args.secrets.clone();
    if let Some(path) = &args.secret_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::invalid_input(format!("cannot read --secret-file {}: {e}", path.display()))
        })?;
        entries.extend(split_entries(&text));
    }
    if let Some(text) = &args.from_env {
        entries.extend(split_entries(text));
    }
    if entries.is_empty() {
        return Err(Failure::invalid_input(
            "no webhook secret: set POMELO_WEBHOOK_SECRETS, or pass --secret-file or --secret",
        ));
    }
    keyring(&entries)
}

/// Non-blank entries separated by commas or newlines.
fn split_entries(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
}

/// Reads the `--secret API_KEY:BASE64_SECRET` values. The split is at the **last** `:`: a base64
/// secret never contains one, so the rule is unambiguous whatever the key holds. Messages name
/// the value's position and, once split, the api key (sent in clear in `X-Api-Key` anyway), never
/// the secret.
fn keyring(entries: &[String]) -> Result<WebhookKeys, Failure> {
    let mut keys = WebhookKeys::new();
    for (n, entry) in entries.iter().enumerate() {
        let position = n + 1;
        let (api_key, secret) = entry
            .rsplit_once(':')
            .filter(|(key, _)| !key.is_empty())
            .ok_or_else(|| {
                Failure::invalid_input(format!(
                    "webhook secret #{position}: expected API_KEY:BASE64_SECRET"
                ))
            })?;
        let secret = WebhookSecret::from_base64(secret).map_err(|e| {
            Failure::invalid_input(format!(
                "webhook secret #{position} (api key `{api_key}`): {e}"
            ))
        })?;
        keys.insert(api_key, secret);
    }
    Ok(keys)
}

/// Reads the `--header 'Name: value'` values (split at the first `:`, white space around the
/// value trimmed), in order: a repeated header keeps every value, and the verifier uses the first.
fn header_map(entries: &[String]) -> Result<HeaderMap, Failure> {
    let mut headers = HeaderMap::new();
    for (n, entry) in entries.iter().enumerate() {
        let position = n + 1;
        let (name, value) = entry.split_once(':').ok_or_else(|| {
            Failure::invalid_input(format!("--header #{position}: expected 'Name: value'"))
        })?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            Failure::invalid_input(format!(
                "--header #{position}: `{}` is not a header name",
                name.trim()
            ))
        })?;
        let value = HeaderValue::from_str(value.trim()).map_err(|_| {
            Failure::invalid_input(format!(
                "--header #{position} ({name}): the value cannot be sent in an HTTP header"
            ))
        })?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// What `kyc webhook sign` prints: the four headers, named as Pomelo sends them.
#[derive(Serialize)]
struct Signed<'a> {
    #[serde(rename = "X-Api-Key")]
    api_key: &'a str,
    #[serde(rename = "X-Signature")]
    signature: &'a str,
    #[serde(rename = "X-Timestamp")]
    timestamp: &'a str,
    #[serde(rename = "X-Endpoint")]
    endpoint: &'a str,
}

pub(crate) fn sign(args: &SignArgs) -> Result<(), Failure> {
    let text = match (&args.secret, &args.secret_file) {
        (Some(secret), _) => secret.clone(),
        (None, Some(path)) => read_secret_file("--secret-file", path)?,
        (None, None) => {
            return Err(Failure::invalid_input(
                "--secret or --secret-file is required",
            ));
        }
    };
    let secret = WebhookSecret::from_base64(&text)
        .map_err(|e| Failure::invalid_input(format!("--secret: {e}")))?;
    let body = input::read_or_empty("--body", args.body.as_deref())?;
    let timestamp = match args.timestamp {
        Some(unix) => unix,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .map_err(|_| Failure::invalid_input("the clock is before 1970: pass --timestamp"))?,
    };
    let signed = sign_webhook(&args.api_key, &secret, &args.endpoint, timestamp, &body);
    // The headers must be sendable as they are (no newline in the api key or endpoint).
    signed
        .to_header_map()
        .map_err(|e| Failure::invalid_input(e.to_string()))?;
    output::json(&Signed {
        api_key: &signed.api_key,
        signature: &signed.signature,
        timestamp: &signed.timestamp,
        endpoint: &signed.endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=";

    #[test]
    fn secrets_split_at_the_last_colon_and_keys_keep_their_padding() {
        let keys = keyring(&[
            format!("Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA=:{SECRET}"),
            format!("tenant:key=:{SECRET}"),
        ])
        .unwrap();
        assert!(keys.contains("Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA="));
        assert!(keys.contains("tenant:key="));
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn a_bad_secret_is_refused_without_being_echoed() {
        for entry in ["no-colon-s3cr3t", ":c2VjcmV0", "key:not base64 s3cr3t"] {
            let failure = keyring(&[entry.to_owned()]).unwrap_err();
            let shown = format!("{failure:?}");
            assert_eq!(failure.exit_code(), 2);
            assert!(
                !shown.contains("s3cr3t") && !shown.contains("c2VjcmV0"),
                "{shown}"
            );
        }
    }

    #[test]
    fn headers_keep_every_value_in_order() {
        let map = header_map(&[
            "X-Timestamp: 1".to_owned(),
            "x-timestamp:2".to_owned(),
            "X-Endpoint:  /a:b ".to_owned(),
        ])
        .unwrap();
        let stamps: Vec<_> = map.get_all("x-timestamp").iter().collect();
        assert_eq!(stamps, ["1", "2"]);
        assert_eq!(map["x-endpoint"], "/a:b");
        assert!(header_map(&["no colon".to_owned()]).is_err());
        assert!(header_map(&["Bad Name: x".to_owned()]).is_err());
    }
}
