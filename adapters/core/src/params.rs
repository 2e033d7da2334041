//! What an adapter may do to the store it opens ([`Access`]), and the
//! parameters an adapter reads from its URL's query string (time limits).

use std::time::Duration;

use crate::DirectoryError;

/// How a command uses a directory. Read-only commands (`eval`, `eval-all`,
/// `diff`, `test`, `snapshot`) must change nothing, not even a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// Reads only: an existing directory database, opened read-only where
    /// the backend can; no migration. Anything else is refused, untouched.
    ReadOnly,
    /// Reads and writes (`restore`): an existing directory database, whose
    /// schema is brought up to date.
    ReadWrite,
    /// `import`: may create the database and its schema.
    Create,
}

/// The unit of a time limit written as a bare number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BareUnit {
    Seconds,
    Milliseconds,
}

/// A query string split by [`take_params`]: our `(key, value)` pairs, and
/// the other `key=value` pairs as written.
pub type SplitParams<'q> = (Vec<(&'q str, &'q str)>, Vec<&'q str>);

/// Splits `key=value` pairs off a query string (`a=1&b=2`), keeping the
/// ones `known` does not name, in order, for the backend's own parser.
pub fn take_params<'q>(query: &'q str, known: &[&str]) -> Result<SplitParams<'q>, DirectoryError> {
    let mut ours = Vec::new();
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        if known.contains(&key) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(DirectoryError::Unsupported(format!(
                    "URL parameter `{key}` needs a value, e.g. `{key}=5s`"
                )));
            };
            ours.push((key, value));
        } else {
            rest.push(pair);
        }
    }
    Ok((ours, rest))
}

/// Parses a time limit: `250ms`, `5s`, `2min`, `1h`, or a bare number in
/// `bare` units (PostgreSQL's conventions). `0` means no limit.
pub fn parse_timeout(key: &str, value: &str, bare: BareUnit) -> Result<Duration, DirectoryError> {
    let bad = || {
        DirectoryError::Unsupported(format!(
            "URL parameter `{key}`: `{}` is not a time limit; write e.g. `500ms`, `5s` or `1min` (`0`: no limit)",
            value.escape_default()
        ))
    };
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = value.split_at(digits);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let millis = match (unit, bare) {
        ("ms", _) | ("", BareUnit::Milliseconds) => Some(number),
        ("s", _) | ("", BareUnit::Seconds) => number.checked_mul(1_000),
        ("min", _) => number.checked_mul(60_000),
        ("h", _) => number.checked_mul(3_600_000),
        _ => None,
    }
    .ok_or_else(bad)?;
    // PostgreSQL keeps these in a 32-bit count of milliseconds.
    if millis > i32::MAX as u64 {
        return Err(DirectoryError::Unsupported(format!(
            "URL parameter `{key}`: `{value}` is longer than the 24 days allowed"
        )));
    }
    Ok(Duration::from_millis(millis))
}

/// A time limit as PostgreSQL and the messages write it (`5000ms`).
pub fn millis(limit: Duration) -> String {
    format!("{}ms", limit.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_with_units_and_bare_numbers() {
        let ms = |v, bare| parse_timeout("t", v, bare).map(|d| d.as_millis());
        assert_eq!(ms("250ms", BareUnit::Seconds).unwrap(), 250);
        assert_eq!(ms("5s", BareUnit::Milliseconds).unwrap(), 5_000);
        assert_eq!(ms("2min", BareUnit::Seconds).unwrap(), 120_000);
        assert_eq!(ms("1h", BareUnit::Seconds).unwrap(), 3_600_000);
        assert_eq!(ms("7", BareUnit::Seconds).unwrap(), 7_000);
        assert_eq!(ms("7", BareUnit::Milliseconds).unwrap(), 7);
        assert_eq!(ms("0", BareUnit::Seconds).unwrap(), 0);
        for bad in [
            "",
            "s",
            "5 s",
            "-1s",
            "5d",
            "1.5s",
            "99999999999999999999",
            "9999h",
        ] {
            let e = parse_timeout("lock_timeout", bad, BareUnit::Seconds).unwrap_err();
            assert!(e.to_string().contains("`lock_timeout`"), "{bad}: {e}");
        }
    }

    #[test]
    fn params_split_ours_from_the_rest() {
        let (ours, rest) = take_params(
            "sslmode=disable&lock_timeout=2s&&application_name=x",
            &["lock_timeout"],
        )
        .unwrap();
        assert_eq!(ours, [("lock_timeout", "2s")]);
        assert_eq!(rest, ["sslmode=disable", "application_name=x"]);
        let e = take_params("lock_timeout", &["lock_timeout"]).unwrap_err();
        assert!(e.to_string().contains("needs a value"), "{e}");
    }
}
