//! What the durable stores share: times as milliseconds since the epoch (saturating both ways),
//! counts as SQL integers, and records kept as JSON text read back with a typed error.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kyc_core::track::Tracked;

use super::{StoreError, VerdictRecord};

/// A JSON error in a stored row, as [`StoreError::Corrupt`] naming `what` was read.
pub(super) fn corrupt(what: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |e| StoreError::Corrupt {
        what,
        why: json_fault(&e),
    }
}

/// What kind of JSON error `e` is and where, without serde's message: that can quote the value
/// it met ("invalid type: string \"…\""), and stored rows hold names and document numbers.
pub(crate) fn json_fault(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "an I/O error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "JSON of another shape",
        serde_json::error::Category::Eof => "JSON cut short",
    };
    if e.line() == 0 {
        kind.to_owned()
    } else {
        format!("{kind} (line {}, column {})", e.line(), e.column())
    }
}

/// `t` in milliseconds since the epoch (0 before it, `i64::MAX` past the range).
pub(super) fn ms(t: SystemTime) -> i64 {
    let millis = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    i64::try_from(millis).unwrap_or(i64::MAX)
}

/// The time `ms` milliseconds after the epoch (the epoch for a negative value).
pub(super) fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
        .unwrap_or(UNIX_EPOCH)
}

/// A count as an SQL integer.
pub(super) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A session's record from its JSON text.
pub(super) fn tracked(text: &str) -> Result<Tracked, StoreError> {
    serde_json::from_str(text).map_err(corrupt("session record"))
}

/// A verdict from its JSON text, with how many times it was handed over.
pub(super) fn verdict(text: &str, deliveries: i64) -> Result<VerdictRecord, StoreError> {
    let mut record: VerdictRecord = serde_json::from_str(text).map_err(corrupt("verdict"))?;
    record.deliveries = u32::try_from(deliveries.max(0)).unwrap_or(u32::MAX);
    Ok(record)
}

/// What a receipt that could not be claimed means: a delivery handled before (remembered until
/// a time still to come) or a copy being handled now.
pub(super) fn not_new(remember_until: Option<i64>, now: SystemTime) -> kyc_axum::Started {
    match remember_until {
        Some(until) if until > ms(now) => kyc_axum::Started::Done,
        _ => kyc_axum::Started::InFlight,
    }
}
