//! The simulator's notion of "now": the system clock plus an offset that tests can advance, and the
//! date formatting the wire uses (RFC 3339 in UTC, written with `Z`).

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The latest time the clock reaches, 9999-12-31T00:00:00Z: RFC 3339 and HTTP dates have
/// four-digit years (and `httpdate` panics past them).
pub(crate) const LATEST: Duration = Duration::from_secs(253_402_214_400);

/// Wall clock shifted by an offset that only grows (see `MockServer::advance_clock`), never past
/// [`LATEST`].
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset: Mutex<Duration>,
}

impl Clock {
    /// The simulator's current time.
    pub(crate) fn now(&self) -> SystemTime {
        let offset = *self
            .offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let latest = UNIX_EPOCH + LATEST;
        SystemTime::now()
            .checked_add(offset)
            .map_or(latest, |t| t.min(latest))
    }

    /// Moves the simulator's clock forward by `by`, stopping at [`LATEST`]. Returns whether all
    /// of `by` could be applied.
    pub(crate) fn advance(&self, by: Duration) -> bool {
        let mut offset = self
            .offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let room = LATEST.saturating_sub(wall).saturating_sub(*offset);
        *offset = offset.saturating_add(by.min(room));
        by <= room
    }
}

/// Whole milliseconds of `duration`, saturating (as the options and the admin API write them).
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Whole seconds since the Unix epoch (0 for times before it).
pub(crate) fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Formats `t` as RFC 3339 in UTC with second precision, e.g. `2021-07-27T17:04:31Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    Stamp::of(t).as_str().to_owned()
}

/// An instant written as [`rfc3339`] writes it, on the stack: the simulator writes several per
/// answer, and formatting each into a `String` was a share of its time (BENCHMARKS.md, L6).
pub(crate) struct Stamp {
    bytes: [u8; 32],
    len: usize,
}

impl Stamp {
    pub(crate) fn of(t: SystemTime) -> Self {
        let secs = unix_seconds(t);
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(i64::try_from(secs / 86_400).unwrap_or(i64::MAX));
        let mut stamp = Stamp {
            bytes: [0; 32],
            len: 0,
        };
        // At least four digits of year (more past 9999, which an expiry may reach).
        let year = u64::try_from(y).unwrap_or(0);
        let digits = year.checked_ilog10().map_or(1, |l| l as usize + 1).max(4);
        for i in (0..digits).rev() {
            stamp.digit(year / 10u64.pow(u32::try_from(i).unwrap_or(0)) % 10);
        }
        let two = |stamp: &mut Stamp, n: u64, after: u8| {
            stamp.digit(n / 10 % 10);
            stamp.digit(n % 10);
            stamp.push(after);
        };
        stamp.push(b'-');
        two(&mut stamp, u64::try_from(m).unwrap_or(0), b'-');
        two(&mut stamp, u64::try_from(d).unwrap_or(0), b'T');
        two(&mut stamp, rem / 3600, b':');
        two(&mut stamp, rem % 3600 / 60, b':');
        two(&mut stamp, rem % 60, b'Z');
        stamp
    }

    fn digit(&mut self, n: u64) {
        // `n` is below 10: the cast keeps it.
        self.push(b'0' + (n % 10) as u8);
    }

    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.bytes.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl serde::Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Parses a `YYYY-MM-DD` calendar date into days since the Unix epoch; `None` when malformed.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Days since the Unix epoch of the UTC calendar day containing `t`.
pub(crate) fn day_number(t: SystemTime) -> i64 {
    i64::try_from(unix_seconds(t) / 86_400).unwrap_or(i64::MAX)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil calendar algorithms (public domain).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_627_405_471);
        assert_eq!(rfc3339(t), "2021-07-27T17:04:31Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
        // An expiry past the clock's last day keeps every digit of its year.
        let after = UNIX_EPOCH + LATEST + Duration::from_secs(86_400 + 3_661);
        assert_eq!(rfc3339(after), "10000-01-01T01:01:01Z");
        let early = UNIX_EPOCH + Duration::from_secs(86_400 * 365 * 30 + 59);
        assert_eq!(rfc3339(early), "1999-12-25T00:00:59Z");
    }

    #[test]
    fn parses_dates_and_rejects_bad_ones() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2021-07-27"), Some(1_627_405_471 / 86_400));
        assert_eq!(parse_date("2000-02-29"), Some(951_782_400 / 86_400));
        for bad in [
            "2021-02-29",
            "2021-13-01",
            "2021-7-27",
            "2021/07/27",
            "",
            "2021-07-2x",
            "+021-07-27",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn advance_moves_now_forward() {
        let clock = Clock::default();
        let before = clock.now();
        assert!(clock.advance(Duration::from_secs(3600)));
        let after = clock.now();
        assert!(after.duration_since(before).unwrap() >= Duration::from_secs(3600));
        // Never past year 9999, however far it is pushed: dates keep four-digit years.
        assert!(!clock.advance(Duration::MAX));
        assert!(!clock.advance(Duration::from_secs(1)));
        assert_eq!(rfc3339(clock.now()), "9999-12-31T00:00:00Z");
        let _ = httpdate::fmt_http_date(clock.now());
    }
}
