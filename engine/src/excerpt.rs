//! Quoting user values in messages without leaking them.
//!
//! An error that names a value (an id, a YAML scalar, a line of a file that
//! was not what we expected) shows at most [`EXCERPT_CHARS`] characters of
//! it, with control characters escaped, so that a secret file passed by
//! mistake is not printed and a value cannot drive the terminal.

use std::fmt::{self, Write as _};

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

/// `value` cut to `max` characters (`…` marks the cut), control characters
/// escaped: for longer texts such as a parser's message.
pub fn clip(value: &str, max: usize) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    for c in chars.by_ref().take(max) {
        let _ = write_escaped(&mut out, c);
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// The longest run of unquoted text [`quote_safe`] keeps.
const PROSE_CHARS: usize = 80;

/// The most characters of a parser's message shown, after [`quote_safe`]
/// has cut the values it quotes.
pub const MESSAGE_CHARS: usize = 300;

/// A message from a parser (serde, YAML, JSON) made safe to print: every
/// value it quotes (`"…"` or `` `…` ``) becomes an [`Excerpt`], and the whole
/// is clipped to [`MESSAGE_CHARS`]. Parsers quote the offending value in
/// full (`invalid type: string "…"`), which would print a secret file that
/// was passed by mistake.
pub fn quote_safe(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MESSAGE_CHARS));
    let mut chars = message.chars();
    // Characters since the last quote: a parser's own words come in short
    // runs, so a long run is a value whose quotes did not pair up (a key
    // holding a backtick) and is cut like a quoted one.
    let mut run = 0;
    while let Some(c) = chars.next() {
        if out.len() > 4 * MESSAGE_CHARS {
            break;
        }
        if c != '"' && c != '`' {
            run += 1;
            if run <= PROSE_CHARS {
                out.push(c);
            } else if run == PROSE_CHARS + 1 {
                out.push('…');
            }
            continue;
        }
        run = 0;
        let mut quoted = String::new();
        let mut escaped = false;
        let mut closed = false;
        for q in chars.by_ref() {
            if escaped {
                escaped = false;
            } else if q == '\\' && c == '"' {
                escaped = true;
            } else if q == c {
                closed = true;
                break;
            }
            quoted.push(q);
            if quoted.len() > 4 * EXCERPT_CHARS + 8 {
                // Enough to make the excerpt; skip the rest of the value.
                for r in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if r == '\\' && c == '"' {
                        escaped = true;
                    } else if r == c {
                        closed = true;
                        break;
                    }
                }
                break;
            }
        }
        out.push(c);
        let _ = write!(out, "{}", Excerpt(&quoted));
        if closed {
            out.push(c);
        }
    }
    clip(&out, MESSAGE_CHARS)
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
    fn parser_messages_quote_only_excerpts() {
        let secret = format!("API_KEY={}", "s".repeat(5_000));
        let message = format!("invalid type: string \"{secret}\", expected struct Snapshot");
        let safe = quote_safe(&message);
        assert!(safe.len() < 200, "{safe}");
        assert!(
            safe.starts_with("invalid type: string \"API_KEY=sss"),
            "{safe}"
        );
        assert!(safe.ends_with("\", expected struct Snapshot"), "{safe}");
        assert_eq!(
            quote_safe("unknown field `nmae`, expected `name`"),
            "unknown field `nmae`, expected `name`"
        );
        assert_eq!(quote_safe("a \"b\\\"c\nd\" e"), "a \"b\\\"c\\nd\" e");
        assert!(quote_safe(&"x".repeat(10_000)).chars().count() <= PROSE_CHARS + 1);
        // A value holding a quote character unpairs the quotes: the long
        // unquoted run that results is cut as well.
        let odd = format!("unknown field `a`b{}`, expected `format`", "s".repeat(500));
        let safe = quote_safe(&odd);
        assert!(safe.chars().count() < 2 * PROSE_CHARS, "{safe}");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(excerpt("a\nb\u{1b}[2J\0"), "a\\nb\\u{1b}[2J\\u{0}");
        assert_eq!(escape_control("x\r\u{202e}y"), "x\\r\\u{202e}y");
        assert_eq!(format!("{:<6}|", Escaped("a\tb")), "a\\tb  |");
    }
}
