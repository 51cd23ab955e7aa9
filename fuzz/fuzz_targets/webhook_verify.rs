//! The webhook verifier on two kinds of input, chosen by the first byte:
//!
//! - **raw**: arbitrary header names and values, an arbitrary body and an arbitrary `now` into
//!   `Verifier::verify`, `verify_request` and `verify_signature`. Nothing may panic, the three must
//!   agree, and nothing the fuzzer writes by itself may be accepted (it cannot forge the MAC).
//! - **signed**: a request correctly signed with `webhook::sign` over a fuzzer-chosen body,
//!   endpoint, timestamp, api key and secret, then one fuzzer-chosen mutation. Each mutation has an
//!   exact expected outcome (see `expected`): an unmutated request inside the freshness window is
//!   accepted (`Ok`, or `InvalidJson` exactly when the body is not JSON), never refused for an
//!   authentication reason.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue};
use kyc_core::webhook::{Event, Verifier, WebhookError, WebhookKeys, WebhookSecret, sign};
use libfuzzer_sys::fuzz_target;

/// The four headers, in the order the verifier checks their presence.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    ApiKey,
    Signature,
    Timestamp,
    Endpoint,
}

impl Which {
    fn lowercase(self) -> &'static str {
        match self {
            Which::ApiKey => "x-api-key",
            Which::Signature => "x-signature",
            Which::Timestamp => "x-timestamp",
            Which::Endpoint => "x-endpoint",
        }
    }

    fn pomelo_name(self) -> &'static str {
        match self {
            Which::ApiKey => "X-Api-Key",
            Which::Signature => "X-Signature",
            Which::Timestamp => "X-Timestamp",
            Which::Endpoint => "X-Endpoint",
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Mutation {
    None,
    /// XOR one body byte with a non-zero mask.
    FlipBody {
        index: u16,
        mask: u8,
    },
    /// Add bytes at the end of the body.
    AppendBody(Vec<u8>),
    /// Cut the body short by `cut` bytes (at least one).
    TruncateBody {
        cut: u16,
    },
    /// XOR one byte of one header value with a non-zero mask.
    FlipHeader {
        which: Which,
        index: u8,
        mask: u8,
    },
    /// Remove a header.
    Drop(Which),
    /// Send the header name in upper case (names are case-insensitive: no effect).
    UpperCaseName(Which),
    /// Swap the ASCII case of a header value.
    SwapValueCase(Which),
    /// Add a second value after the genuine one (the first value is used: no effect).
    DuplicateAfter {
        which: Which,
        value: Vec<u8>,
    },
    /// Add a value before the genuine one (same outcome as replacing the header with it).
    DuplicateBefore {
        which: Which,
        value: Vec<u8>,
    },
    /// Write the digest in hex instead of base64 (decision 9: no effect), in either case, and
    /// maybe change one hex digit to another value (then the MAC no longer matches).
    HexDigest { upper: bool, change: Option<(u8, u8)> },
}

#[derive(Arbitrary, Debug)]
struct Signed {
    api_key: String,
    secret: Vec<u8>,
    /// Another secret configured for the same api key (rotation), tried before or after.
    other_secret: Option<(Vec<u8>, bool)>,
    endpoint: String,
    /// Whether the verifier pins the endpoint it serves.
    pin_endpoint: bool,
    timestamp: u64,
    /// `now - timestamp`, in seconds.
    skew: i32,
    tolerance: u16,
    mutation: Mutation,
    body: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct Raw {
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    now: u64,
    tolerance: u32,
    body: Vec<u8>,
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(raw) = u.arbitrary::<bool>() else {
        return;
    };
    if raw {
        if let Ok(input) = Raw::arbitrary_take_rest(u) {
            raw_case(input);
        }
    } else if let Ok(input) = Signed::arbitrary_take_rest(u) {
        signed_case(input);
    }
});

fn keys_with(api_key: &str, secrets: &[&[u8]]) -> Option<WebhookKeys> {
    let mut keys = WebhookKeys::new();
    for secret in secrets {
        keys.insert(api_key, WebhookSecret::from_bytes(secret).ok()?);
    }
    Some(keys)
}

/// Runs the three entry points and checks they agree; returns `verify`'s result.
fn verify_all(
    verifier: &Verifier,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<Event, WebhookError> {
    let full = verifier.verify(headers, body, now);
    let signature_only = verifier.verify_signature(headers, body, now);
    let mut request = http::Request::new(body.to_vec());
    *request.headers_mut() = headers.clone();
    let via_request = verifier.verify_request(&request, now);
    assert_eq!(full, via_request, "verify and verify_request disagree");
    match (&full, &signature_only) {
        (Ok(_), Ok(())) | (Err(WebhookError::InvalidJson { .. }), Ok(())) => {}
        (Err(a), Err(b)) => assert_eq!(a, b, "verify and verify_signature disagree"),
        _ => panic!("verify {full:?} but verify_signature {signature_only:?}"),
    }
    if let Err(e) = &full {
        // Messages and kinds are for logs: they must render.
        let _ = (e.to_string(), e.kind());
    }
    full
}

fn raw_case(input: Raw) {
    let mut headers = HeaderMap::new();
    for (name, value) in &input.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(n, v);
        }
    }
    let Some(keys) = keys_with("key-1", &[b"secret-one", b"secret-two"]) else {
        return;
    };
    let verifier = Verifier::new(keys).tolerance(Duration::from_secs(u64::from(input.tolerance)));
    let now = UNIX_EPOCH + Duration::from_secs(input.now % (1 << 40));
    let result = verify_all(&verifier, &headers, &input.body, now);
    let pinned = verifier.clone().expected_endpoint("/webhooks");
    let _ = verify_all(&pinned, &headers, &input.body, now);
    // Without the secret the fuzzer cannot produce a valid MAC.
    assert!(
        result
            .as_ref()
            .is_err_and(WebhookError::is_authentication_failure),
        "an unsigned request was not refused: {result:?}"
    );
}

/// What the verifier must answer for a genuine request at `skew` seconds from its timestamp.
fn unmutated(body: &[u8], skew: i64, tolerance: u64) -> Expect {
    let tolerance = i64::try_from(tolerance).unwrap_or(i64::MAX);
    if skew > tolerance {
        Expect::Kind("stale")
    } else if -skew > tolerance {
        Expect::Kind("future")
    } else if serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        Expect::Ok
    } else {
        Expect::Kind("invalid_json")
    }
}

#[derive(Debug)]
enum Expect {
    Ok,
    Kind(&'static str),
    /// Any of these kinds (the mutation's effect depends on which byte changed).
    OneOf(&'static [&'static str]),
    /// The same result as another request (computed by the caller).
    SameAs(Result<Event, WebhookError>),
}

fn signed_case(input: Signed) {
    if input.secret.is_empty() {
        return;
    }
    let Ok(secret) = WebhookSecret::from_bytes(&input.secret) else {
        return;
    };
    let mut secrets: Vec<&[u8]> = vec![&input.secret];
    if let Some((other, first)) = &input.other_secret {
        if other.is_empty() {
            return;
        }
        if *first {
            secrets.insert(0, other);
        } else {
            secrets.push(other);
        }
    }
    let Some(keys) = keys_with(&input.api_key, &secrets) else {
        return;
    };
    let tolerance = u64::from(input.tolerance);
    let mut verifier = Verifier::new(keys).tolerance(Duration::from_secs(tolerance));
    if input.pin_endpoint {
        verifier = verifier.expected_endpoint(input.endpoint.clone());
    }
    // Keep `now` where `SystemTime` can represent it (the library handles any `now`; the harness's
    // own `UNIX_EPOCH + secs` must not overflow).
    let timestamp = input.timestamp % (1 << 40);
    let skew = i64::from(input.skew);
    let Some(now_secs) = timestamp.checked_add_signed(skew) else {
        return;
    };
    let now = UNIX_EPOCH + Duration::from_secs(now_secs);

    let signed = sign(
        &input.api_key,
        &secret,
        &input.endpoint,
        timestamp,
        &input.body,
    );
    let Ok(mut headers) = signed.to_header_map() else {
        // Only a value HTTP forbids in a header (a control character) can make this fail.
        assert!(
            [&input.api_key, &input.endpoint]
                .iter()
                .any(|v| HeaderValue::from_str(v).is_err()),
            "sign produced headers that cannot be sent"
        );
        return;
    };
    let mut body = input.body.clone();
    let genuine = unmutated(&body, skew, tolerance);
    let fresh = matches!(genuine, Expect::Ok | Expect::Kind("invalid_json"));

    let dropped = match &input.mutation {
        Mutation::Drop(which) => Some(*which),
        _ => None,
    };
    let expect = match input.mutation {
        Mutation::None => genuine,
        Mutation::FlipBody { index, mask } => {
            if body.is_empty() || mask == 0 {
                return;
            }
            let i = usize::from(index) % body.len();
            if let Some(b) = body.get_mut(i) {
                *b ^= mask;
            }
            if fresh {
                Expect::Kind("signature_mismatch")
            } else {
                genuine
            }
        }
        Mutation::AppendBody(extra) => {
            if extra.is_empty() {
                return;
            }
            body.extend_from_slice(&extra);
            if fresh {
                Expect::Kind("signature_mismatch")
            } else {
                genuine
            }
        }
        Mutation::TruncateBody { cut } => {
            let cut = usize::from(cut).min(body.len());
            if cut == 0 {
                return;
            }
            body.truncate(body.len() - cut);
            if fresh {
                Expect::Kind("signature_mismatch")
            } else {
                genuine
            }
        }
        Mutation::FlipHeader { which, index, mask } => {
            let Some(original) = headers.get(which.lowercase()).cloned() else {
                return;
            };
            let mut value = original.as_bytes().to_vec();
            if value.is_empty() || mask == 0 {
                return;
            }
            let i = usize::from(index) % value.len();
            if let Some(b) = value.get_mut(i) {
                *b ^= mask;
            }
            let Ok(new) = HeaderValue::from_bytes(&value) else {
                return;
            };
            headers.insert(which.lowercase(), new);
            changed_header(which, i, fresh, input.pin_endpoint, &genuine)
        }
        Mutation::Drop(which) => {
            headers.remove(which.lowercase());
            // Presence is checked first, in the order of `Which`.
            Expect::Kind("missing_header")
        }
        Mutation::UpperCaseName(which) => {
            let Some(value) = headers.remove(which.lowercase()) else {
                return;
            };
            let Ok(name) = HeaderName::from_bytes(which.pomelo_name().to_uppercase().as_bytes())
            else {
                return;
            };
            headers.insert(name, value);
            genuine
        }
        Mutation::SwapValueCase(which) => {
            let Some(original) = headers.get(which.lowercase()).cloned() else {
                return;
            };
            let swapped: Vec<u8> = original
                .as_bytes()
                .iter()
                .map(|b| {
                    if b.is_ascii_lowercase() {
                        b.to_ascii_uppercase()
                    } else {
                        b.to_ascii_lowercase()
                    }
                })
                .collect();
            if swapped == original.as_bytes() {
                // Nothing changed (digits only, e.g. the timestamp): must still verify.
                genuine
            } else {
                let Ok(new) = HeaderValue::from_bytes(&swapped) else {
                    return;
                };
                headers.insert(which.lowercase(), new);
                // The first cased byte changed; which check catches it depends on where it is.
                let first = original
                    .as_bytes()
                    .iter()
                    .position(u8::is_ascii_alphabetic)
                    .unwrap_or(0);
                changed_header(which, first, fresh, input.pin_endpoint, &genuine)
            }
        }
        Mutation::HexDigest { upper, change } => {
            let Some(value) = headers.get("x-signature").and_then(|v| v.to_str().ok()) else {
                return;
            };
            let Some(digest) = value
                .strip_prefix("hmac-sha256 ")
                .and_then(|b64| STANDARD.decode(b64).ok())
            else {
                panic!("sign wrote a signature that is not `hmac-sha256 <base64>`: {value}");
            };
            let mut hex: Vec<u8> = digest
                .iter()
                .flat_map(|b| {
                    let text = if upper { format!("{b:02X}") } else { format!("{b:02x}") };
                    text.into_bytes()
                })
                .collect();
            let mut expect = genuine;
            if let Some((index, by)) = change {
                let digits = b"0123456789abcdef";
                let i = usize::from(index) % hex.len();
                let old = hex.get(i).map(u8::to_ascii_lowercase).unwrap_or(b'0');
                let old_value = digits.iter().position(|d| *d == old).unwrap_or(0);
                let new_value = (old_value + 1 + usize::from(by) % 15) % 16;
                if let (Some(slot), Some(new)) = (hex.get_mut(i), digits.get(new_value)) {
                    *slot = *new;
                }
                if fresh {
                    expect = Expect::Kind("signature_mismatch");
                }
            }
            let mut new = b"hmac-sha256 ".to_vec();
            new.extend_from_slice(&hex);
            let Ok(new) = HeaderValue::from_bytes(&new) else {
                return;
            };
            headers.insert("x-signature", new);
            expect
        }
        Mutation::DuplicateAfter { which, value } => {
            let Ok(extra) = HeaderValue::from_bytes(&value) else {
                return;
            };
            headers.append(which.lowercase(), extra);
            genuine
        }
        Mutation::DuplicateBefore { which, value } => {
            let Ok(extra) = HeaderValue::from_bytes(&value) else {
                return;
            };
            let Some(original) = headers.remove(which.lowercase()) else {
                return;
            };
            // The outcome with the extra value alone...
            let mut replaced = headers.clone();
            replaced.insert(which.lowercase(), extra.clone());
            let alone = verify_all(&verifier, &replaced, &body, now);
            // ...must be the outcome with the extra value first and the genuine one second.
            headers.append(which.lowercase(), extra);
            headers.append(which.lowercase(), original);
            Expect::SameAs(alone)
        }
    };

    let result = verify_all(&verifier, &headers, &body, now);
    let kind = result.as_ref().err().map(WebhookError::kind);
    let ok = match &expect {
        Expect::Ok => result.is_ok(),
        Expect::Kind(k) => kind == Some(*k),
        Expect::OneOf(ks) => kind.is_some_and(|k| ks.contains(&k)),
        Expect::SameAs(other) => &result == other,
    };
    assert!(ok, "expected {expect:?}, got {result:?}");
    if let (Err(WebhookError::MissingHeader { name }), Some(which)) = (&result, dropped) {
        assert_eq!(
            *name,
            which.pomelo_name(),
            "the wrong header reported missing"
        );
    }
}

/// The expected outcome when byte `index` of header `which` changed (and nothing else did).
fn changed_header(
    which: Which,
    index: usize,
    fresh: bool,
    pinned: bool,
    genuine: &Expect,
) -> Expect {
    match which {
        // The format checks come before freshness. Within `hmac-sha256 ` (the space included,
        // since base64 has none to split on instead) only the algorithm check can fail.
        Which::Signature if index <= "hmac-sha256".len() => Expect::Kind("unsupported_algorithm"),
        // In the base64: either it no longer decodes (or decodes non-canonically), or it decodes
        // to another MAC, which only the MAC check (after freshness) can catch.
        Which::Signature if fresh => Expect::OneOf(&["malformed_signature", "signature_mismatch"]),
        Which::Signature => match genuine {
            Expect::Kind("stale") => Expect::OneOf(&["malformed_signature", "stale"]),
            _ => Expect::OneOf(&["malformed_signature", "future"]),
        },
        Which::Timestamp => Expect::OneOf(&[
            "malformed_timestamp",
            "stale",
            "future",
            "signature_mismatch",
        ]),
        // After freshness: a stale request stays stale whatever else changed.
        _ if !fresh => match genuine {
            Expect::Kind(k) => Expect::Kind(k),
            _ => unreachable!("a request that is not fresh has an error kind"),
        },
        Which::Endpoint if pinned => Expect::Kind("endpoint_mismatch"),
        Which::Endpoint => Expect::Kind("signature_mismatch"),
        Which::ApiKey => Expect::Kind("unknown_api_key"),
    }
}
