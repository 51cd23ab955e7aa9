//! RFC 3339 text for a `SystemTime`, in UTC (`2024-05-13T19:47:13Z`). Presentation only: a dozen
//! lines of civil-calendar arithmetic instead of a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// `time` as RFC 3339 in UTC, whole seconds. Times before 1970 are written as 1970-01-01.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month, day of the `days`-th day after 1970-01-01 (proleptic Gregorian calendar), after
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
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
        assert_eq!(at(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        // 1970 to 2400: day numbers map to consecutive, valid dates.
        let mut previous = civil_from_days(0);
        for days in 1..157_000 {
            let next = civil_from_days(days);
            let (y, m, d) = previous;
            let expected = if next.2 == 1 {
                // A new month starts only after the last day of the previous one.
                let after_last = kyc_core::Date::new(
                    u16::try_from(y).unwrap(),
                    u8::try_from(m).unwrap(),
                    u8::try_from(d + 1).unwrap(),
                );
                assert!(
                    after_last.is_err(),
                    "day {days}: {previous:?} is not a month's end"
                );
                if m == 12 {
                    (y + 1, 1, 1)
                } else {
                    (y, m + 1, 1)
                }
            } else {
                (y, m, d + 1)
            };
            assert_eq!(next, expected, "day {days}");
            assert!(
                kyc_core::Date::new(
                    u16::try_from(next.0).unwrap(),
                    u8::try_from(next.1).unwrap(),
                    u8::try_from(next.2).unwrap()
                )
                .is_ok()
            );
            previous = next;
        }
    }
}
