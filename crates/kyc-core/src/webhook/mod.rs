//! Identity webhooks: verify, sign and read them.
//!
//! Pomelo signs every webhook it sends with HMAC-SHA256 (API reference §8). This module checks
//! those signatures from the raw body bytes, the request headers, your secrets and the current
//! time — which you pass in: nothing here reads a clock, a socket or a file — and turns the
//! authenticated body into a typed [`Event`].
//!
//! # Receiving a webhook
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use kyc_core::webhook::{sign, Event, Verifier, WebhookKeys, WebhookSecret};
//!
//! // Once, at start-up: the api-key / api-secret pair(s) Pomelo gave you.
//! let api_key = "Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA=";
//! let secret = WebhookSecret::from_base64("uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=")?;
//! let verifier = Verifier::new(WebhookKeys::new().with(api_key, secret.clone()))
//!     .expected_endpoint("/webhooks/identity/sessions");
//!
//! // What Pomelo would send (here signed locally, as a simulator or a test does).
//! let body = br#"{"event_type":"identity.session.status_changed",
//!                 "data":{"session_id":"iss-123","status":"VALIDATED"}}"#;
//! let signed = sign(api_key, &secret, "/webhooks/identity/sessions", 1_700_000_000, body);
//! let mut request = http::Request::post("/webhooks/identity/sessions").body(body.to_vec())?;
//! signed.apply(request.headers_mut())?;
//!
//! // In the handler: one line, with the body as raw bytes and the current time.
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_042); // a server passes the real time
//! match verifier.verify_request(&request, now)? {
//!     Event::ValidationSession(session) => {
//!         assert_eq!(session.session_id, "iss-123");
//!         assert!(session.status.is_final());
//!     }
//!     Event::RequiredFile(_) | Event::Other(_) => unreachable!(),
//!     _ => {} // `Event` is non-exhaustive
//! }
//!
//! // A replay ten minutes later is refused.
//! let err = verifier.verify_request(&request, now + Duration::from_secs(600)).unwrap_err();
//! assert_eq!(err.kind(), "stale");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Answer `2xx` once the event is handled (Pomelo sends it again otherwise), and the same
//! non-`2xx` status (e.g. `401`) for every [`WebhookError`]; log [`WebhookError::kind`], do not
//! send it back.
//!
//! A copy of a delivery (Pomelo's redelivery, or a capture replayed within the window) verifies
//! like the first. [`ReplayGuard`] tells them apart, by [`DeliveryKey`] (the `event_id`, else the
//! api key, endpoint and body), and counts a delivery as handled only once its [`Ticket`] is
//! committed, so a handler that failed loses nothing: the redelivery reaches it again.
//!
//! # Algorithm
//!
//! Headers: `X-Api-Key` (which secret), `X-Signature`, `X-Timestamp` (Unix seconds) and
//! `X-Endpoint` (the path, with query, Pomelo sent the webhook to). Header names are
//! case-insensitive; if a header is repeated, its first value is used.
//!
//! 1. `key = base64_decode(api_secret)` — [`WebhookSecret::from_base64`].
//! 2. `msg = X-Timestamp ‖ X-Endpoint ‖ body`: the header values' bytes and the raw body bytes,
//!    with no separators.
//! 3. `mac = HMAC-SHA256(key, msg)`.
//! 4. `X-Signature = "hmac-sha256 " + base64(mac)`, standard alphabet, padded (44 characters).
//!
//! Verification decodes the signature strictly (canonical base64 only, so one MAC has one
//! accepted spelling) and compares MACs in constant time with [`hmac::Mac::verify_slice`].
//! A webhook is fresh when `|now − X-Timestamp| <= tolerance` (300 s by default, both ways;
//! [`Verifier::tolerance`]). Every secret configured for the api key is tried ([`WebhookKeys`]),
//! so secrets can be rotated without downtime.
//!
//! # Check order
//!
//! Each refused webhook gets exactly one [`WebhookError`], from the first failing check:
//!
//! | # | Check | Error |
//! |---|---|---|
//! | 1 | `X-Api-Key`, `X-Signature`, `X-Timestamp`, `X-Endpoint` present (in that order) | `MissingHeader { name }` |
//! | 2 | `X-Signature` starts with the token `hmac-sha256` and a space | `UnsupportedAlgorithm` |
//! | 3 | the rest is base64 of 32 bytes | `MalformedSignature` |
//! | 4 | `X-Timestamp` is decimal digits fitting a `u64` | `MalformedTimestamp` |
//! | 5 | `now − tolerance <= X-Timestamp <= now + tolerance` | `Stale { age, .. }` / `FromFuture { ahead, .. }` |
//! | 6 | `X-Endpoint` equals the expected endpoint, if one is set | `EndpointMismatch` |
//! | 7 | a secret is configured for `X-Api-Key` | `UnknownApiKey` |
//! | 8 | some secret of that api key gives the same MAC | `SignatureMismatch` |
//! | 9 | the body is JSON ([`Verifier::verify`] only) | `InvalidJson { line, column }` |
//!
//! Why this order:
//!
//! - **Checks 1–6 are about what the sender put in the request**, judged against things that are
//!   not secret (the clock, your route). Reporting them tells a sender nothing it did not already
//!   know, and they are cheap: junk, replays and misrouted requests are refused before any HMAC
//!   is computed.
//! - **The api key is looked up last before the MAC**, because it is the first check that depends
//!   on your secret configuration. It cannot be hidden entirely (the secrets to try depend on it,
//!   and operators need to tell a missing key from a bad signature), but only a well-formed,
//!   fresh, correctly routed request gets that far. Do not return the reason to the sender.
//! - **The MAC comes before the body is read.** An unauthenticated body is never parsed, a bad
//!   MAC is always `SignatureMismatch` whatever the body holds, and a body that is authentic but
//!   not JSON is `InvalidJson`, never a signature error. A JSON body of an unknown shape is not an
//!   error at all: it becomes [`Event::Other`].
//!
//! Checks 1–7 need only the headers and the time: [`Verifier::check_headers`] runs them alone,
//! so a receiver can refuse a request that cannot be authentic before reading its body.
//!
//! Limits are the caller's: run [`Verifier::check_headers`] first, then cap the body size in your
//! server before buffering it.

mod error;
mod event;
mod replay;
mod secret;
mod sign;
mod verify;

pub use error::{InvalidHeaderText, WebhookError};
pub use event::{Event, OtherEvent, RequiredFileNotification, SessionNotification};
pub use replay::{Begin, DeliveryKey, ReplayGuard, Ticket, signed_at};
pub use secret::{InvalidWebhookSecret, WebhookKeys, WebhookSecret};
pub use sign::{SignedHeaders, sign};
pub use verify::Verifier;

/// The only signature algorithm Pomelo uses, as named in `X-Signature`.
const ALGORITHM: &str = "hmac-sha256";
/// `X-Signature` starts with this: the algorithm and one space.
const ALGORITHM_PREFIX: &str = "hmac-sha256 ";

/// The four webhook headers.
#[derive(Debug, Clone, Copy)]
enum WebhookHeader {
    ApiKey,
    Signature,
    Timestamp,
    Endpoint,
}

impl WebhookHeader {
    /// The name as Pomelo spells it, for messages.
    fn name(self) -> &'static str {
        match self {
            WebhookHeader::ApiKey => "X-Api-Key",
            WebhookHeader::Signature => "X-Signature",
            WebhookHeader::Timestamp => "X-Timestamp",
            WebhookHeader::Endpoint => "X-Endpoint",
        }
    }

    /// The lowercase form `http` uses for lookups.
    fn lowercase(self) -> &'static str {
        match self {
            WebhookHeader::ApiKey => "x-api-key",
            WebhookHeader::Signature => "x-signature",
            WebhookHeader::Timestamp => "x-timestamp",
            WebhookHeader::Endpoint => "x-endpoint",
        }
    }

    fn header_name(self) -> http::HeaderName {
        http::HeaderName::from_static(self.lowercase())
    }
}
