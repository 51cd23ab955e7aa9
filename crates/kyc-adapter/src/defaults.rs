//! Defaults both adapters use, defined once so the two clients cannot drift apart.

use std::time::Duration;

/// Default time one attempt may take, connection to last response byte: 60 s (long enough for a
/// 16 MiB upload over a slow uplink).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Default time one logical call may take, token fetch, retries and back-off included: 3 min. A
/// retry whose delay would end after it is not made.
pub const DEFAULT_OVERALL_TIMEOUT: Duration = Duration::from_secs(180);

/// Default limit on a response body: 10 MiB. Pomelo's JSON answers are a few kilobytes; a larger
/// body is refused as [`TransportErrorKind::ResponseTooLarge`](crate::TransportErrorKind) rather
/// than truncated.
pub const DEFAULT_MAX_RESPONSE_BODY: u64 = 10 * 1024 * 1024;

/// Default time allowed to set up a connection (DNS, TCP, TLS).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
