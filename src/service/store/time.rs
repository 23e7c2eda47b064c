//! Time as the database stores it (microseconds since the Unix epoch, UTC), and JSON
//! array columns read as strings.

use serde_json::Value;
use time::OffsetDateTime;

/// Current time, truncated to microseconds (what the database stores).
pub fn now() -> OffsetDateTime {
    time_of(micros(OffsetDateTime::now_utc()))
}

/// A time as stored: microseconds since the Unix epoch, UTC.
pub fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

/// A stored time back as a date-time.
pub fn time_of(v: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The strings of a JSON array column (scopes, AMR, redirect URIs, ...); anything else
/// reads as empty.
pub(in crate::service) fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}
