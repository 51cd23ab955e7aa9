//! [`Timestamp`]: a point in time as the server wrote it, read as an instant when it can be.

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The last second of year 9999 (`9999-12-31T23:59:59Z`): "until further notice" for a lease, a
/// hold or a memory, and what [`later`] saturates at (the epoch on a platform whose
/// `SystemTime` cannot count that far).
#[must_use]
pub fn far_future() -> SystemTime {
    SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(253_402_300_799))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// `t + d`, or [`far_future`] (`t` if that is later) when the sum is past what `SystemTime`
/// can hold: a lease or a period too long to add lasts as long as it can, never zero.
#[must_use]
pub fn later(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_add(d).unwrap_or_else(|| far_future().max(t))
}

/// A point in time as Pomelo wrote it (`2021-07-27T14:04:31-03:00`), and the instant it names.
///
/// Tolerant, like every model: any text is kept as received ([`Timestamp::as_str`], and
/// serialised back unchanged); [`Timestamp::instant`] reads it as RFC 3339 (an offset or `Z`
/// required, fractional seconds allowed) the first time it is asked, and is `None` for text that
/// is not. A JSON number is read as Unix seconds (and written back as text). Equality compares
/// the text.
///
/// ```
/// let t = kyc_core::Timestamp::new("2021-07-27T14:04:31-03:00");
/// assert_eq!(t.instant().map(|i| i.as_second()), Some(1_627_405_471));
/// assert_eq!(t.as_str(), "2021-07-27T14:04:31-03:00");
/// assert!(kyc_core::Timestamp::new("yesterday").instant().is_none());
/// ```
#[derive(Clone)]
pub struct Timestamp {
    text: String,
    instant: OnceLock<Option<jiff::Timestamp>>,
}

impl Timestamp {
    /// The time written as `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            instant: OnceLock::new(),
        }
    }

    /// The time `instant`, written in RFC 3339 in UTC (`2024-05-13T19:47:13Z`).
    #[must_use]
    pub fn from_instant(instant: jiff::Timestamp) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(Some(instant));
        Self {
            text: instant.to_string(),
            instant: cell,
        }
    }

    /// The text as received.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The instant, when the text is RFC 3339 with an offset (or Unix seconds from a JSON number).
    #[must_use]
    pub fn instant(&self) -> Option<jiff::Timestamp> {
        *self.instant.get_or_init(|| read(&self.text))
    }

    /// The instant as a [`SystemTime`], when there is one and the platform's `SystemTime` can
    /// hold it (Windows' cannot go before 1601: `0001-01-01T00:00:00Z` is `None` there, where a
    /// plain conversion would panic).
    #[must_use]
    pub fn to_system_time(&self) -> Option<SystemTime> {
        let since = self.instant()?.as_duration();
        let magnitude = since.unsigned_abs();
        if since.is_negative() {
            SystemTime::UNIX_EPOCH.checked_sub(magnitude)
        } else {
            SystemTime::UNIX_EPOCH.checked_add(magnitude)
        }
    }
}

fn read(text: &str) -> Option<jiff::Timestamp> {
    let text = text.trim();
    // Unix seconds (a JSON number, or digits): whole seconds only.
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .ok()
            .and_then(|s| jiff::Timestamp::from_second(s).ok());
    }
    text.parse::<jiff::Timestamp>().ok()
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Timestamp {}

impl fmt::Debug for Timestamp {
    // Times are shown as they are (the Debug policy: ids, statuses and times in the clear).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<&str> for Timestamp {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for Timestamp {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl From<jiff::Timestamp> for Timestamp {
    fn from(instant: jiff::Timestamp) -> Self {
        Self::from_instant(instant)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// A JSON string, or a number kept as its text.
fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(match Wire::deserialize(d)? {
        Wire::Text(text) => text,
        Wire::Number(n) => n.to_string(),
    })
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        text_or_number(d).map(Self::new)
    }
}

/// A calendar date as Pomelo wrote it (`2019-02-04`), and the date it names.
///
/// Tolerant, like [`Timestamp`]: the text is kept as received and written back unchanged;
/// [`CalendarDate::date`] reads it as `YYYY-MM-DD` (or the date of an RFC 3339 date-time) the
/// first time it is asked, and is `None` for anything else. Equality compares the text.
///
/// ```
/// let d = kyc_core::CalendarDate::new("2019-02-04");
/// assert_eq!(d.date(), Some(kyc_core::jiff::civil::date(2019, 2, 4)));
/// assert!(kyc_core::CalendarDate::new("04/02/2019").date().is_none());
/// ```
#[derive(Clone)]
pub struct CalendarDate {
    text: String,
    date: OnceLock<Option<jiff::civil::Date>>,
}

impl CalendarDate {
    /// The date written as `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            date: OnceLock::new(),
        }
    }

    /// The text as received.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The date, when the text is `YYYY-MM-DD` or an RFC 3339 date-time.
    #[must_use]
    pub fn date(&self) -> Option<jiff::civil::Date> {
        *self.date.get_or_init(|| {
            let text = self.text.trim();
            let day = text.get(..10).filter(|_| {
                text.len() == 10
                    || text
                        .as_bytes()
                        .get(10)
                        .is_some_and(|b| *b == b'T' || *b == b't')
            })?;
            day.parse::<jiff::civil::Date>().ok()
        })
    }
}

impl PartialEq for CalendarDate {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for CalendarDate {}

impl fmt::Debug for CalendarDate {
    // Shown only by length: a date in a report may be a birth date or a document's dates.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CalendarDate([redacted, {} bytes])", self.text.len())
    }
}

impl fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<&str> for CalendarDate {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<jiff::civil::Date> for CalendarDate {
    fn from(date: jiff::civil::Date) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(Some(date));
        Self {
            text: date.to_string(),
            date: cell,
        }
    }
}

impl Serialize for CalendarDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for CalendarDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        text_or_number(d).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_an_offset_is_an_instant_and_anything_else_stays_text() {
        let utc = Timestamp::new("2021-07-27T17:04:31Z");
        let local = Timestamp::new("2021-07-27T14:04:31-03:00");
        assert_eq!(utc.instant(), local.instant());
        assert_ne!(utc, local, "equality is by text");
        assert_eq!(
            Timestamp::new("2021-07-27T14:04:31.250-03:00")
                .instant()
                .map(|t| t.subsec_millisecond()),
            Some(250)
        );
        for bad in [
            "",
            "2021-07-27",
            "2021-07-27T14:04:31",
            "27/07/2021",
            "tomorrow",
        ] {
            assert_eq!(Timestamp::new(bad).instant(), None, "{bad}");
            assert_eq!(Timestamp::new(bad).as_str(), bad);
        }
        assert_eq!(
            Timestamp::new("1627405471")
                .instant()
                .map(|t| t.as_second()),
            Some(1_627_405_471)
        );
        let from = Timestamp::from_instant(jiff::Timestamp::from_second(0).unwrap());
        assert_eq!(from.as_str(), "1970-01-01T00:00:00Z");
        assert_eq!(from.to_system_time(), Some(std::time::UNIX_EPOCH));
        // Before the epoch, to the ends of jiff's range: converted where the platform can hold
        // it, `None` where it cannot, never a panic (Windows stops at 1601).
        assert_eq!(
            Timestamp::new("1969-12-31T23:59:59.5Z").to_system_time(),
            std::time::UNIX_EPOCH.checked_sub(std::time::Duration::from_millis(500))
        );
        for edge in [
            "0001-01-01T00:00:00Z",
            "-009999-01-02T01:59:59Z",
            "9999-12-30T22:00:00Z",
        ] {
            let converted = Timestamp::new(edge).to_system_time();
            // Where `SystemTime` reaches that far (Unix: ±292 billion years), the same instant.
            #[cfg(unix)]
            assert_eq!(
                converted.and_then(|t| jiff::Timestamp::try_from(t).ok()),
                Timestamp::new(edge).instant(),
                "{edge}"
            );
            let _ = converted;
        }
    }

    #[test]
    fn json_strings_and_numbers_read_and_write_back_as_given() {
        let t: Timestamp = serde_json::from_str("\"2021-07-27T14:04:31-03:00\"").unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2021-07-27T14:04:31-03:00\""
        );
        let n: Timestamp = serde_json::from_str("1627405471").unwrap();
        assert_eq!(n.instant().map(|t| t.as_second()), Some(1_627_405_471));
        assert!(serde_json::from_str::<Timestamp>("{}").is_err());
        assert_eq!(format!("{t:?}"), "\"2021-07-27T14:04:31-03:00\"");
    }

    #[test]
    fn calendar_dates_read_a_day_and_keep_any_text() {
        let day = jiff::civil::date(2019, 2, 4);
        assert_eq!(CalendarDate::new("2019-02-04").date(), Some(day));
        assert_eq!(CalendarDate::new("2019-02-04T10:00:00Z").date(), Some(day));
        for bad in [
            "",
            "2019-02-30",
            "04/02/2019",
            "2019-02-04x",
            "20190204",
            "2019-02-0é",
        ] {
            assert_eq!(CalendarDate::new(bad).date(), None, "{bad}");
        }
        let d: CalendarDate = serde_json::from_str("20190204").unwrap();
        assert_eq!(d.as_str(), "20190204");
        assert_eq!(
            serde_json::to_string(&CalendarDate::from(day)).unwrap(),
            "\"2019-02-04\""
        );
        assert_eq!(format!("{d:?}"), "CalendarDate([redacted, 8 bytes])");
    }
}
