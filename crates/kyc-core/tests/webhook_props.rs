//! Property tests for webhook signing and verification: round trips, single-byte tampering with
//! the exact expected reason, the freshness window, secret order, no panics on arbitrary input, and
//! no secret in any `Debug` output.

// A panic is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};
use kyc_core::webhook::{SignedHeaders, Verifier, WebhookError, WebhookKeys, WebhookSecret, sign};
use proptest::prelude::*;
use proptest::sample::Index;

const NOW: u64 = 1_700_000_000;
const WINDOW: i64 = 300;
const API_KEY: &str = "Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA=";
/// Length of `hmac-sha256 `.
const PREFIX_LEN: usize = 12;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn secret_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 16..64)
}

fn secret(bytes: &[u8]) -> WebhookSecret {
    WebhookSecret::from_base64(&STANDARD.encode(bytes)).unwrap()
}

fn endpoint() -> impl Strategy<Value = String> {
    "/[ -~]{0,40}"
}

/// A request signed `offset` seconds away from `NOW`, with a verifier holding its secret.
struct Signed {
    verifier: Verifier,
    headers: SignedHeaders,
    body: Vec<u8>,
}

fn signed(key: &[u8], endpoint: &str, offset: i64, body: Vec<u8>, expect_endpoint: bool) -> Signed {
    let ts = NOW.checked_add_signed(offset).unwrap();
    let s = secret(key);
    let headers = sign(API_KEY, &s, endpoint, ts, &body);
    let mut verifier = Verifier::new(WebhookKeys::new().with(API_KEY, s));
    if expect_endpoint {
        verifier = verifier.expected_endpoint(endpoint);
    }
    Signed {
        verifier,
        headers,
        body,
    }
}

/// Headers from raw values; `None` if a value is not allowed in an HTTP header.
fn header_map(
    api_key: &[u8],
    signature: &[u8],
    timestamp: &[u8],
    endpoint: &[u8],
) -> Option<HeaderMap> {
    let mut map = HeaderMap::new();
    for (name, value) in [
        ("x-api-key", api_key),
        ("x-signature", signature),
        ("x-timestamp", timestamp),
        ("x-endpoint", endpoint),
    ] {
        map.insert(name, HeaderValue::from_bytes(value).ok()?);
    }
    Some(map)
}

/// Changes the byte at `at` by xor with a non-zero `mask` (a single bit when `mask` is a power of
/// two).
fn flipped(text: &[u8], at: Index, mask: u8) -> Vec<u8> {
    let mut out = text.to_vec();
    let i = at.index(out.len());
    out[i] ^= mask;
    out
}

fn verify(
    s: &Signed,
    api_key: &[u8],
    signature: &[u8],
    timestamp: &[u8],
    endpoint: &[u8],
) -> Option<Result<(), WebhookError>> {
    let headers = header_map(api_key, signature, timestamp, endpoint)?;
    Some(s.verifier.verify_signature(&headers, &s.body, at(NOW)))
}

fn original(s: &Signed) -> [Vec<u8>; 4] {
    [
        s.headers.api_key.as_bytes().to_vec(),
        s.headers.signature.as_bytes().to_vec(),
        s.headers.timestamp.as_bytes().to_vec(),
        s.headers.endpoint.as_bytes().to_vec(),
    ]
}

proptest! {
    #[test]
    fn signed_webhooks_verify_inside_the_window(
        key in secret_bytes(),
        endpoint in endpoint(),
        offset in -WINDOW..=WINDOW,
        body in prop::collection::vec(any::<u8>(), 0..512),
        expect_endpoint in any::<bool>(),
    ) {
        let s = signed(&key, &endpoint, offset, body, expect_endpoint);
        let headers = s.headers.to_header_map().unwrap();
        prop_assert_eq!(s.verifier.verify_signature(&headers, &s.body, at(NOW)), Ok(()));
        // `verify` adds only the JSON step: accepted exactly when the body is JSON.
        let full = s.verifier.verify(&headers, &s.body, at(NOW));
        let is_json = serde_json::from_slice::<serde_json::Value>(&s.body).is_ok();
        match full {
            Ok(_) => prop_assert!(is_json),
            Err(WebhookError::InvalidJson { .. }) => prop_assert!(!is_json),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn a_changed_body_byte_is_a_signature_mismatch(
        key in secret_bytes(),
        endpoint in endpoint(),
        offset in -WINDOW..=WINDOW,
        body in prop::collection::vec(any::<u8>(), 1..256),
        at_byte in any::<Index>(),
        mask in 1..=255u8,
    ) {
        let mut s = signed(&key, &endpoint, offset, body, true);
        s.body = flipped(&s.body, at_byte, mask);
        let headers = s.headers.to_header_map().unwrap();
        prop_assert_eq!(
            s.verifier.verify_signature(&headers, &s.body, at(NOW)),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn a_changed_timestamp_byte_gives_the_reason_its_new_value_deserves(
        key in secret_bytes(),
        endpoint in endpoint(),
        offset in -WINDOW..=WINDOW,
        at_byte in any::<Index>(),
        mask in 1..=255u8,
    ) {
        let s = signed(&key, &endpoint, offset, b"{}".to_vec(), false);
        let [api_key, signature, timestamp, endpoint] = original(&s);
        let changed = flipped(&timestamp, at_byte, mask);
        let Some(result) = verify(&s, &api_key, &signature, &changed, &endpoint) else {
            return Ok(()); // not a valid header byte: no such request can reach a server
        };
        let expected = if !changed.iter().all(u8::is_ascii_digit) {
            Err(WebhookError::MalformedTimestamp)
        } else {
            // Ten digits always fit; a changed digit always changes the signed message.
            let value: i64 = std::str::from_utf8(&changed).unwrap().parse().unwrap();
            let age = i64::try_from(NOW).unwrap() - value;
            let window = Duration::from_secs(300);
            if age > WINDOW {
                Err(WebhookError::Stale { age: Duration::from_secs(age.unsigned_abs()), tolerance: window })
            } else if age < -WINDOW {
                Err(WebhookError::FromFuture { ahead: Duration::from_secs(age.unsigned_abs()), tolerance: window })
            } else {
                Err(WebhookError::SignatureMismatch)
            }
        };
        prop_assert_eq!(result, expected);
    }

    #[test]
    fn a_changed_signature_byte_gives_the_reason_its_new_value_deserves(
        key in secret_bytes(),
        endpoint in endpoint(),
        offset in -WINDOW..=WINDOW,
        at_byte in any::<Index>(),
        mask in 1..=255u8,
    ) {
        let s = signed(&key, &endpoint, offset, b"{}".to_vec(), true);
        let [api_key, signature, timestamp, endpoint] = original(&s);
        let changed = flipped(&signature, at_byte, mask);
        let Some(result) = verify(&s, &api_key, &changed, &timestamp, &endpoint) else {
            return Ok(());
        };
        let position = at_byte.index(signature.len());
        let expected = if position < PREFIX_LEN {
            // Any change to `hmac-sha256 ` changes the algorithm token.
            WebhookError::UnsupportedAlgorithm
        } else {
            match STANDARD.decode(&changed[PREFIX_LEN..]) {
                Ok(mac) if mac.len() == 32 => {
                    // Canonical base64: a different text never decodes to the same MAC.
                    prop_assert_ne!(&mac[..], &STANDARD.decode(&signature[PREFIX_LEN..]).unwrap()[..]);
                    WebhookError::SignatureMismatch
                }
                _ => WebhookError::MalformedSignature,
            }
        };
        prop_assert_eq!(result, Err(expected));
    }

    #[test]
    fn a_changed_endpoint_byte_is_an_endpoint_mismatch_or_breaks_the_mac(
        key in secret_bytes(),
        endpoint in endpoint(),
        offset in -WINDOW..=WINDOW,
        at_byte in any::<Index>(),
        mask in 1..=255u8,
        expect_endpoint in any::<bool>(),
    ) {
        let s = signed(&key, &endpoint, offset, b"{}".to_vec(), expect_endpoint);
        let [api_key, signature, timestamp, endpoint] = original(&s);
        let changed = flipped(&endpoint, at_byte, mask);
        let Some(result) = verify(&s, &api_key, &signature, &timestamp, &changed) else {
            return Ok(());
        };
        let expected = if expect_endpoint {
            WebhookError::EndpointMismatch
        } else {
            WebhookError::SignatureMismatch
        };
        prop_assert_eq!(result, Err(expected));
    }

    #[test]
    fn a_changed_api_key_byte_is_unknown(
        key in secret_bytes(),
        at_byte in any::<Index>(),
        mask in 1..=255u8,
    ) {
        let s = signed(&key, "/hooks", 0, b"{}".to_vec(), true);
        let [api_key, signature, timestamp, endpoint] = original(&s);
        let changed = flipped(&api_key, at_byte, mask);
        let Some(result) = verify(&s, &changed, &signature, &timestamp, &endpoint) else {
            return Ok(());
        };
        prop_assert_eq!(result, Err(WebhookError::UnknownApiKey));
    }

    #[test]
    fn outside_the_window_is_refused_whatever_the_signature(
        key in secret_bytes(),
        beyond in 1..=u64::from(u32::MAX),
        past in any::<bool>(),
        valid_mac in any::<bool>(),
        other_mac in prop::array::uniform32(any::<u8>()),
        tolerance in 0..=86_400u64,
    ) {
        let distance = tolerance + beyond;
        let ts = if past { NOW.saturating_sub(distance) } else { NOW + distance };
        prop_assume!(NOW.abs_diff(ts) == distance);
        let s = secret(&key);
        let mut headers = sign(API_KEY, &s, "/hooks", ts, b"{}");
        if !valid_mac {
            headers.signature = format!("hmac-sha256 {}", STANDARD.encode(other_mac));
        }
        let verifier = Verifier::new(WebhookKeys::new().with(API_KEY, s))
            .tolerance(Duration::from_secs(tolerance));
        let result = verifier.verify(&headers.to_header_map().unwrap(), b"{}", at(NOW));
        let tolerance = Duration::from_secs(tolerance);
        let expected = if past {
            WebhookError::Stale { age: Duration::from_secs(distance), tolerance }
        } else {
            WebhookError::FromFuture { ahead: Duration::from_secs(distance), tolerance }
        };
        prop_assert_eq!(result, Err(expected));
    }

    #[test]
    fn with_several_secrets_the_order_does_not_matter(
        keys in prop::collection::vec(secret_bytes(), 1..5),
        signer in secret_bytes(),
        signer_is_configured in any::<bool>(),
        pick in any::<Index>(),
        permutation in Just((0..5).collect::<Vec<usize>>()).prop_shuffle(),
    ) {
        let signing_key = if signer_is_configured { keys[pick.index(keys.len())].clone() } else { signer };
        let configured = signer_is_configured || keys.contains(&signing_key);
        let headers = sign(API_KEY, &secret(&signing_key), "/hooks", NOW, b"{}")
            .to_header_map()
            .unwrap();
        let in_order = keys.iter().fold(WebhookKeys::new(), |k, b| k.with(API_KEY, secret(b)));
        let shuffled = permutation
            .iter()
            .filter(|&&i| i < keys.len())
            .fold(WebhookKeys::new(), |k, &i| k.with(API_KEY, secret(&keys[i])));
        let a = Verifier::new(in_order).verify_signature(&headers, b"{}", at(NOW));
        let b = Verifier::new(shuffled).verify_signature(&headers, b"{}", at(NOW));
        prop_assert_eq!(&a, &b);
        let expected = if configured { Ok(()) } else { Err(WebhookError::SignatureMismatch) };
        prop_assert_eq!(a, expected);
    }

    #[test]
    fn arbitrary_headers_and_bodies_never_panic(
        key in secret_bytes(),
        api_key in prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
        signature in prop::option::of(prop_oneof![
            prop::collection::vec(any::<u8>(), 0..80),
            prop::collection::vec(any::<u8>(), 0..60).prop_map(|rest| [b"hmac-sha256 ".as_slice(), &rest].concat()),
            prop::collection::vec(prop::sample::select(b"ABCXYZabcxyz0189+/= ".to_vec()), 44)
                .prop_map(|rest| [b"hmac-sha256 ".as_slice(), &rest].concat()),
        ]),
        timestamp in prop::option::of(prop_oneof![
            prop::collection::vec(any::<u8>(), 0..24),
            "[0-9]{0,25}".prop_map(String::into_bytes),
        ]),
        endpoint in prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
        body in prop::collection::vec(any::<u8>(), 0..256),
        now_secs in any::<i64>(),
        now_nanos in 0..1_000_000_000u32,
        tolerance in any::<u64>(),
        expected_endpoint in prop::option::of(endpoint()),
    ) {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-api-key", api_key),
            ("x-signature", signature),
            ("x-timestamp", timestamp),
            ("x-endpoint", endpoint),
        ] {
            // Arbitrary bytes, kept when HTTP allows them (including non-UTF-8 obs-text).
            if let Some(value) = value.and_then(|v| HeaderValue::from_bytes(&v).ok()) {
                headers.insert(name, value);
            }
        }
        let offset = Duration::new(now_secs.unsigned_abs(), now_nanos);
        let now = if now_secs >= 0 { UNIX_EPOCH.checked_add(offset) } else { UNIX_EPOCH.checked_sub(offset) };
        let now = now.unwrap_or(UNIX_EPOCH);
        let mut verifier = Verifier::new(WebhookKeys::new().with(API_KEY, secret(&key)))
            .tolerance(Duration::from_secs(tolerance));
        if let Some(expected) = expected_endpoint {
            verifier = verifier.expected_endpoint(expected);
        }
        let mut request = http::Request::new(body.clone());
        *request.headers_mut() = headers.clone();
        let result = verifier.verify_request(&request, now);
        prop_assert_eq!(&result, &verifier.verify(&headers, &body, now));
        // The header-only checks refuse exactly what the full check refuses before the MAC, with
        // the same reason, and pass everything else.
        let by_headers = verifier.check_headers(&headers, now);
        match verifier.verify_signature(&headers, &body, now) {
            Ok(()) | Err(WebhookError::SignatureMismatch) => prop_assert_eq!(by_headers, Ok(())),
            Err(reason) => prop_assert_eq!(by_headers, Err(reason)),
        }
        if let Err(err) = result {
            let text = format!("{err} {err:?}");
            prop_assert!(!text.contains(&STANDARD.encode(&key)));
            prop_assert!(!err.kind().is_empty());
        }
    }

    #[test]
    fn debug_output_never_contains_the_secret(
        key in secret_bytes(),
        endpoint in endpoint(),
        offset in -10_000i64..10_000,
    ) {
        let encoded = STANDARD.encode(&key);
        let s = WebhookSecret::from_base64(&encoded).unwrap();
        let keys = WebhookKeys::new().with(API_KEY, s.clone()).with("second", s.clone());
        let verifier = Verifier::new(keys.clone()).expected_endpoint("/hooks");
        let signed = sign(API_KEY, &s, &endpoint, NOW.checked_add_signed(offset).unwrap(), b"not json");
        let headers = signed.to_header_map().unwrap();
        let outcome = verifier.verify(&headers, b"not json", at(NOW));
        let texts = [
            format!("{s:?}"),
            format!("{keys:?}"),
            format!("{verifier:?}"),
            format!("{signed:?}"),
            format!("{outcome:?}"),
        ];
        for text in &texts {
            prop_assert!(!text.contains(&encoded), "secret in {}", text);
            prop_assert!(!text.contains(&signed.signature[PREFIX_LEN..]), "MAC in {}", text);
        }
        prop_assert_eq!(&texts[0], "WebhookSecret([redacted])");
    }
}

#[test]
fn invalid_secrets_are_refused_without_echoing_them() {
    use kyc_core::webhook::InvalidWebhookSecret;
    for (text, expected) in [
        ("not base64!", InvalidWebhookSecret::NotBase64),
        (
            "uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E",
            InvalidWebhookSecret::NotBase64,
        ),
        ("", InvalidWebhookSecret::Empty),
        ("  \n", InvalidWebhookSecret::Empty),
    ] {
        let err = WebhookSecret::from_base64(text).unwrap_err();
        assert_eq!(err, expected);
        assert!(text.trim().is_empty() || !format!("{err} {err:?}").contains(text.trim()));
    }
    // A trailing newline from a secrets file is tolerated.
    assert!(WebhookSecret::from_base64("uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=\n").is_ok());
}

#[test]
fn the_reference_example_header_has_the_documented_format() {
    // From Pomelo's Node/Go examples (reference §8.4): format only, its inputs are unknown.
    let header = "hmac-sha256 whk5MLlMd+zJBkEDGa9LYZVUsNsdKWJ94Qm3EXy6VK8=";
    let (algorithm, mac) = header.split_once(' ').unwrap();
    assert_eq!(algorithm, "hmac-sha256");
    assert_eq!(mac.len(), 44);
    assert_eq!(STANDARD.decode(mac).unwrap().len(), 32);
    // Our signer produces the same shape.
    let ours = sign("k", &secret(b"0123456789abcdef"), "/", NOW, b"").signature;
    assert_eq!(ours.len(), header.len());
    assert!(ours.starts_with("hmac-sha256 "));
    // And the verifier treats it as well-formed: a wrong MAC, not a malformed header.
    let mut headers = sign("k", &secret(b"0123456789abcdef"), "/", NOW, b"")
        .to_header_map()
        .unwrap();
    headers.insert("x-signature", HeaderValue::from_static(header));
    let verifier = Verifier::new(WebhookKeys::new().with("k", secret(b"0123456789abcdef")));
    assert_eq!(
        verifier.verify_signature(&headers, b"", at(NOW)),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn signed_headers_refuse_values_http_cannot_carry() {
    let signed = sign("k", &secret(b"0123456789abcdef"), "/a\nb", NOW, b"");
    let err = signed.to_header_map().unwrap_err();
    assert_eq!(err.name, "X-Endpoint");
    let mut headers = HeaderMap::new();
    assert!(signed.apply(&mut headers).is_err());
    assert!(headers.is_empty(), "apply must change nothing on error");
}

#[test]
fn repeated_headers_use_the_first_value() {
    let key = secret(b"0123456789abcdef");
    let verifier = Verifier::new(WebhookKeys::new().with("k", key.clone()));
    let mut headers = sign("k", &key, "/", NOW, b"{}").to_header_map().unwrap();
    headers.append("x-signature", HeaderValue::from_static("hmac-sha1 junk"));
    assert_eq!(verifier.verify_signature(&headers, b"{}", at(NOW)), Ok(()));
}
