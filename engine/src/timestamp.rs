//! Timestamps on input: RFC 3339 with an explicit zone, years 0000–9999.
//!
//! chrono also reads an extended year (`+10000-01-01T00:00:00Z`), which is
//! not RFC 3339 and which other tools (databases, JSON consumers) cannot
//! read back; rule files, snapshot files and `--at` all go through here.

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use thiserror::Error;

use crate::excerpt::Excerpt;

/// Why a text is not an input timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TimestampError {
    #[error("timestamp `{}` has no time zone; add `Z` or an offset such as `+08:00`", Excerpt(.text))]
    NoZone { text: String },
    #[error("`{}` is not an RFC 3339 timestamp", Excerpt(.text))]
    NotRfc3339 { text: String },
    #[error("timestamp `{}` is outside the years 0000-9999", Excerpt(.text))]
    OutOfRange { text: String },
}

/// Parses an RFC 3339 timestamp that names its zone (`Z` or `±HH:MM`), with
/// a four-digit year, whose UTC time also falls in the years 0000–9999.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, TimestampError> {
    let trimmed = text.trim();
    let owned = || text.to_owned();
    // RFC 3339: `date-fullyear = 4DIGIT`, then `-`.
    let year_ok = trimmed.len() > 4
        && trimmed.as_bytes().iter().take(4).all(u8::is_ascii_digit)
        && trimmed.as_bytes().get(4) == Some(&b'-');
    match DateTime::parse_from_rfc3339(trimmed) {
        Ok(_) if !year_ok => Err(TimestampError::OutOfRange { text: owned() }),
        Ok(t) => {
            let t = t.with_timezone(&Utc);
            if (0..=9999).contains(&t.year()) {
                Ok(t)
            } else {
                Err(TimestampError::OutOfRange { text: owned() })
            }
        }
        Err(_)
            if NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
                || NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%d %H:%M:%S%.f").is_ok() =>
        {
            Err(TimestampError::NoZone { text: owned() })
        }
        Err(_) => Err(TimestampError::NotRfc3339 { text: owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoned_rfc3339_in_range_is_read() {
        let t = parse_timestamp("2026-11-24T10:00:00+08:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-24T02:00:00+00:00");
        assert!(parse_timestamp("0000-01-01T00:00:00Z").is_ok());
        assert!(parse_timestamp("9999-12-31T23:59:59Z").is_ok());
    }

    #[test]
    fn years_outside_0000_9999_are_refused() {
        for text in [
            "+10000-01-01T00:00:00Z",
            "10000-01-01T00:00:00Z",
            "-0001-01-01T00:00:00Z",
            "9999-12-31T23:00:00-05:00",
            "0000-01-01T00:00:00+01:00",
        ] {
            assert!(
                matches!(
                    parse_timestamp(text),
                    Err(TimestampError::OutOfRange { .. }) | Err(TimestampError::NotRfc3339 { .. })
                ),
                "{text}: {:?}",
                parse_timestamp(text)
            );
        }
        assert!(matches!(
            parse_timestamp("9999-12-31T23:00:00-05:00"),
            Err(TimestampError::OutOfRange { .. })
        ));
    }

    #[test]
    fn zone_less_and_garbage_are_refused() {
        assert!(matches!(
            parse_timestamp("2026-11-24T10:00:00"),
            Err(TimestampError::NoZone { .. })
        ));
        assert!(matches!(
            parse_timestamp("yesterday"),
            Err(TimestampError::NotRfc3339 { .. })
        ));
    }
}
