//! RFC 3339 text for a `SystemTime`, in UTC (`2024-05-13T19:47:13Z`), through kyc-core's date-time
//! crate (jiff).

use std::time::{SystemTime, UNIX_EPOCH};

use kyc_core::jiff;

/// `time` as RFC 3339 in UTC, whole seconds. Times before 1970 are written as 1970-01-01, times
/// past the last second jiff represents (9999-12-30T22:00:00Z) as that second.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or_else(|| {
            jiff::Timestamp::from_second(jiff::Timestamp::MAX.as_second())
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        })
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> String {
        rfc3339(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn known_instants() {
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z"); // a leap day of a century year
        assert_eq!(at(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(at(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(at(1_709_251_200), "2024-03-01T00:00:00Z");
        assert_eq!(at(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(at(253_402_300_799), "9999-12-30T22:00:00Z"); // past jiff's range: its end
        // Fractions are dropped: whole seconds only.
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1_700_000_000_750)),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00Z"
        );
    }
}
