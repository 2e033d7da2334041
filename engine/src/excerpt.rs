//! Quoting user values in messages without leaking them.
//!
//! An error that names a value (an id, a YAML scalar, a line of a file that
//! was not what we expected) shows at most [`EXCERPT_CHARS`] characters of
//! it, with control characters escaped, so that a secret file passed by
//! mistake is not printed and a value cannot drive the terminal.

use std::fmt;

/// The most characters of a value an error message quotes.
pub const EXCERPT_CHARS: usize = 40;

/// Displays a value cut to [`EXCERPT_CHARS`] characters (`…` marks the cut)
/// with control characters escaped (see [`escape_control`]).
#[derive(Debug, Clone, Copy)]
pub struct Excerpt<'a>(pub &'a str);

impl fmt::Display for Excerpt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(EXCERPT_CHARS) {
            write_escaped(f, c)?;
        }
        if chars.next().is_some() {
            f.write_str("…")?;
        }
        Ok(())
    }
}

/// A value shortened and escaped for an error message.
pub fn excerpt(value: &str) -> String {
    Excerpt(value).to_string()
}

/// Displays a whole value with control characters escaped, for output that
/// must show the value (a member id in a table) but must not let it move the
/// cursor, erase a line or forge another row.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.0.chars().any(needs_escape) {
            return f.pad(self.0);
        }
        // Padding (`{:<24}`) applies to the escaped text.
        let mut out = String::with_capacity(self.0.len() + 8);
        for c in self.0.chars() {
            let _ = write_escaped(&mut out, c);
        }
        f.pad(&out)
    }
}

/// `value` with control characters escaped (`\n`, `\u{1b}`, ...).
pub fn escape_control(value: &str) -> String {
    Escaped(value).to_string()
}

/// Control characters (C0, DEL, C1) and the Unicode line and paragraph
/// separators, bidirectional overrides and isolates, which reorder or break
/// what a terminal shows.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
        )
}

fn write_escaped(out: &mut impl fmt::Write, c: char) -> fmt::Result {
    if needs_escape(c) {
        write!(out, "{}", c.escape_default())
    } else {
        out.write_char(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_plain_values_are_unchanged() {
        assert_eq!(excerpt("u_bob"), "u_bob");
        assert_eq!(escape_control("héllo"), "héllo");
    }

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(10_000);
        let shown = excerpt(&long);
        assert_eq!(shown.chars().count(), EXCERPT_CHARS + 1);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(excerpt("a\nb\u{1b}[2J\0"), "a\\nb\\u{1b}[2J\\u{0}");
        assert_eq!(escape_control("x\r\u{202e}y"), "x\\r\\u{202e}y");
        assert_eq!(format!("{:<6}|", Escaped("a\tb")), "a\\tb  |");
    }
}
