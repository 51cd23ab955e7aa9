//! Transport defaults both adapters use, defined once so the two clients cannot drift apart. The
//! call's own defaults (attempt and overall timeouts) are kyc-core's.

use std::time::Duration;

/// Default limit on a response body: 10 MiB. Pomelo's JSON answers are a few kilobytes; a larger
/// body is refused as [`TransportErrorKind::ResponseTooLarge`](kyc_core::TransportErrorKind) rather
/// than truncated.
pub const DEFAULT_MAX_RESPONSE_BODY: u64 = 10 * 1024 * 1024;

/// Default time allowed to set up a connection (DNS, TCP, TLS), within the attempt's budget.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
