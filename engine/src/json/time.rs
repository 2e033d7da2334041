//! Timestamps as chrono's `Serialize` writes a `DateTime<Utc>`: RFC 3339
//! with `Z`, and 0, 3, 6 or 9 fraction digits, whichever is the shortest
//! exact one (`SecondsFormat::AutoSi`).

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};

/// Appends `at` as a quoted JSON string. (Tried: civil date from the
/// Unix day by arithmetic instead of chrono's accessors: 288 instructions
/// per timestamp against 174, callgrind.)
pub(super) fn write_timestamp(out: &mut Vec<u8>, at: &DateTime<Utc>) {
    let naive = at.naive_utc();
    let year = naive.year();
    if !(0..=9999).contains(&year) {
        // Signed, wider years: rare enough to take chrono's own path.
        out.push(b'"');
        out.extend_from_slice(at.to_rfc3339_opts(SecondsFormat::AutoSi, true).as_bytes());
        out.push(b'"');
        return;
    }
    let mut second = naive.second();
    let mut nano = naive.nanosecond();
    // A leap second is second 59 with 1,000,000,000 or more nanoseconds;
    // chrono writes it as second 60.
    if nano >= 1_000_000_000 {
        second += 1;
        nano -= 1_000_000_000;
    }
    // The year is in 0..=9999: it fits in four digits.
    let [y1, y2, y3, y4] = decimal(year as u32);
    let [mo1, mo2] = decimal(naive.month());
    let [d1, d2] = decimal(naive.day());
    let [h1, h2] = decimal(naive.hour());
    let [mi1, mi2] = decimal(naive.minute());
    let [s1, s2] = decimal(second);
    // Both parts at most 32 bytes: one capacity check for the two copies.
    out.reserve(32);
    out.extend_from_slice(&[
        b'"', y1, y2, y3, y4, b'-', mo1, mo2, b'-', d1, d2, b'T', h1, h2, b':', mi1, mi2, b':', s1,
        s2,
    ]);
    if nano == 0 {
        out.extend_from_slice(b"Z\"");
    } else if nano.is_multiple_of(1_000_000) {
        let [f1, f2, f3] = decimal(nano / 1_000_000);
        out.extend_from_slice(&[b'.', f1, f2, f3, b'Z', b'"']);
    } else if nano.is_multiple_of(1_000) {
        let [f1, f2, f3, f4, f5, f6] = decimal(nano / 1_000);
        out.extend_from_slice(&[b'.', f1, f2, f3, f4, f5, f6, b'Z', b'"']);
    } else {
        let [f1, f2, f3, f4, f5, f6, f7, f8, f9] = decimal(nano);
        out.extend_from_slice(&[b'.', f1, f2, f3, f4, f5, f6, f7, f8, f9, b'Z', b'"']);
    }
}

/// The last `N` decimal digits of `n`, zero-padded.
#[inline]
fn decimal<const N: usize>(mut n: u32) -> [u8; N] {
    let mut digits = [b'0'; N];
    for slot in digits.iter_mut().rev() {
        // `n % 10` is below 10: the cast cannot truncate.
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    digits
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};

    use super::*;

    fn check(at: DateTime<Utc>) {
        let mut ours = Vec::new();
        write_timestamp(&mut ours, &at);
        let serde = serde_json::to_vec(&at).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&serde),
            "{at:?}"
        );
    }

    #[test]
    fn every_fraction_width_as_chrono_writes_it() {
        let base = Utc.with_ymd_and_hms(2026, 11, 28, 9, 5, 7).unwrap();
        for nanos in [
            0,
            1,
            10,
            999,
            1_000,
            10_000,
            999_000,
            1_000_000,
            100_000_000,
            120_000_000,
            123_456_789,
            999_999_999,
        ] {
            check(base + chrono::Duration::nanoseconds(nanos));
        }
    }

    #[test]
    fn edge_dates_as_chrono_writes_them() {
        for (y, m, d) in [
            (0, 1, 1),
            (1, 1, 1),
            (999, 12, 31),
            (1970, 1, 1),
            (2000, 2, 29),
            (9999, 12, 31),
            (10_000, 1, 1),
            (-1, 1, 1),
            (-262_143, 1, 1),
            (262_142, 12, 31),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            check(date.and_hms_nano_opt(23, 59, 59, 5_000).unwrap().and_utc());
            check(date.and_hms_opt(0, 0, 0).unwrap().and_utc());
        }
        check(DateTime::<Utc>::MIN_UTC);
        check(DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn every_day_of_four_centuries_as_chrono_writes_it() {
        // 1600-03-01 .. 2400-03-01 covers every leap-year rule twice.
        let start = NaiveDate::from_ymd_opt(1600, 3, 1).unwrap();
        for day in 0..292_194 {
            let date = start + chrono::Days::new(day);
            check(date.and_hms_opt(13, 7, 9).unwrap().and_utc());
        }
    }

    #[test]
    fn a_leap_second_as_chrono_writes_it() {
        let date = NaiveDate::from_ymd_opt(2016, 12, 31).unwrap();
        for nano in [1_000_000_000, 1_500_000_000, 1_999_999_999, 1_000_000_001] {
            check(date.and_hms_nano_opt(23, 59, 59, nano).unwrap().and_utc());
        }
    }
}
