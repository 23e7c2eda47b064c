//! Time as the database stores it (microseconds since the Unix epoch, UTC), and JSON
//! array columns read as strings.

use serde_json::Value;
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

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

/// RFC 3339 in UTC with six fractional digits: `2026-12-06T17:05:39.364000Z`.
const RFC3339_MICROS: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// A time as every API and export writes it: RFC 3339 in UTC with microseconds (what the
/// database keeps), always the same length, so that such texts sort in time order. (Plain
/// RFC 3339 formatting drops the fraction's trailing zeros: `…:39.364Z` sorted before the
/// earlier `…:39.364836Z`.)
pub fn rfc3339_micros(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    t.format(RFC3339_MICROS).unwrap_or_else(|_| t.format(&Rfc3339).unwrap_or_default())
}

/// The strings of a JSON array column (scopes, AMR, redirect URIs, ...); anything else
/// reads as empty.
pub(in crate::service) fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}
