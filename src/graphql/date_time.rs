//! The `DateTime` scalar: an RFC 3339 timestamp, always written in UTC with six fractional
//! digits, so that every timestamp the Admin API returns has one length and sorts as text
//! in time order.
//!
//! async-graphql's own `DateTime` (for `time::OffsetDateTime`) drops trailing zeros of the
//! fraction: a time stored as `…:39.364000` came out as `…:39.364Z`, which sorts as text
//! before `…:39.364836Z`, although it is earlier by less than a millisecond.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A timestamp at the Admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime(pub OffsetDateTime);

impl From<OffsetDateTime> for DateTime {
    fn from(t: OffsetDateTime) -> Self {
        Self(t)
    }
}

/// Formats `t` in UTC with microseconds: `2026-12-06T17:05:39.364000Z`.
pub fn format(t: OffsetDateTime) -> String {
    crate::service::time::rfc3339_micros(t)
}

/// A date and time, in RFC 3339 format.
///
/// Input: any RFC 3339 timestamp, with any offset and fraction, e.g.
/// "2026-01-12T04:00:19Z" or "2026-01-12T07:00:19.5+03:00". Output: always UTC with six
/// fractional digits (microseconds), e.g. "2026-01-12T04:00:19.500000Z", so that
/// timestamps compare as text in time order.
#[Scalar(name = "DateTime", specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => OffsetDateTime::parse(s, &Rfc3339).map(DateTime).map_err(|_| {
                InputValueError::custom(format!(
                    "`{}` is not an RFC 3339 date-time, such as 2026-01-12T04:00:19Z",
                    s.chars().take(64).collect::<String>()
                ))
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(format(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn every_timestamp_has_six_fractional_digits_in_utc() {
        assert_eq!(format(datetime!(2026-12-06 17:05:39.364 UTC)), "2026-12-06T17:05:39.364000Z");
        assert_eq!(format(datetime!(2026-12-06 17:05:39.364836 UTC)), "2026-12-06T17:05:39.364836Z");
        assert_eq!(format(datetime!(2026-12-06 17:05:39 UTC)), "2026-12-06T17:05:39.000000Z");
        assert_eq!(format(datetime!(2026-12-07 01:05:39 +08:00)), "2026-12-06T17:05:39.000000Z");
    }

    #[test]
    fn any_rfc3339_input_is_read() {
        let v = |s: &str| DateTime::parse(Value::String(s.into())).map(|d| d.0);
        assert_eq!(v("2026-01-12T07:00:19.5+03:00").ok(), Some(datetime!(2026-01-12 04:00:19.5 UTC)));
        assert_eq!(v("2026-01-12T04:00:19Z").ok(), Some(datetime!(2026-01-12 04:00:19 UTC)));
        assert!(v("yesterday").is_err());
        assert!(DateTime::parse(Value::Number(1.into())).is_err());
    }
}
