//! JSON strings and numbers, byte for byte as `serde_json` writes them.

/// Escape class of each byte, as in `serde_json`'s own table: 0 means the
/// byte is copied as is; otherwise the letter after the backslash (`u` for
/// `\u00XX`). Only `"`, `\` and the C0 controls are escaped; DEL and every
/// non-ASCII byte pass through, as `serde_json` does.
static ESCAPE: [u8; 256] = {
    const UU: u8 = b'u';
    const BB: u8 = b'b';
    const TT: u8 = b't';
    const NN: u8 = b'n';
    const FF: u8 = b'f';
    const RR: u8 = b'r';
    const QU: u8 = b'"';
    const BS: u8 = b'\\';
    const __: u8 = 0;
    [
        //   1   2   3   4   5   6   7   8   9   A   B   C   D   E   F
        UU, UU, UU, UU, UU, UU, UU, UU, BB, TT, NN, UU, FF, RR, UU, UU, // 0
        UU, UU, UU, UU, UU, UU, UU, UU, UU, UU, UU, UU, UU, UU, UU, UU, // 1
        __, __, QU, __, __, __, __, __, __, __, __, __, __, __, __, __, // 2
        __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // 3
        __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // 4
        __, __, __, __, __, __, __, __, __, __, __, __, BS, __, __, __, // 5
        __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // 6
        __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // 7
        __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // 8
        __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // 9
        __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // A
        __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // B
        __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // C
        __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // D
        __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // E
        __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // F
    ]
};

/// The escape class of `byte` (see [`ESCAPE`]).
#[inline]
fn escape_class(byte: u8) -> u8 {
    // A `u8` is always below the table's 256 entries: the `None` arm is
    // never taken and the check compiles away.
    ESCAPE.get(usize::from(byte)).copied().unwrap_or(0)
}

/// The lowercase hex digit of the low four bits of `nibble`.
#[inline]
fn hex_digit(nibble: u8) -> u8 {
    match nibble & 0xF {
        n @ 0..=9 => b'0' + n,
        n => b'a' + (n - 10),
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes in `word` must be escaped. Exact (no false
/// positive, no false negative) as a yes/no answer for the whole word: each
/// test is the classic "has a zero byte" / "has a byte less than n" trick,
/// which can only mislabel *which* byte, never whether one exists.
#[inline]
fn needs_escape(word: u64) -> bool {
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (control | quote | backslash) & HIGHS != 0
}

/// Appends `s` as a quoted JSON string.
#[inline]
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    write_str_contents(out, s.as_bytes());
    out.push(b'"');
}

/// Appends the escaped contents of a string, without quotes.
fn write_str_contents(out: &mut Vec<u8>, bytes: &[u8]) {
    // Clean prefix eight bytes at a time; most strings are clean throughout.
    let (words, tail) = bytes.as_chunks::<8>();
    let clean = match words
        .iter()
        .position(|word| needs_escape(u64::from_le_bytes(*word)))
    {
        Some(dirty) => dirty * 8,
        None => {
            // The last few bytes as one word, padded with a byte that needs no escape.
            let mut word = [b'a'; 8];
            for (slot, &byte) in word.iter_mut().zip(tail) {
                *slot = byte;
            }
            if !needs_escape(u64::from_le_bytes(word)) {
                out.extend_from_slice(bytes);
                return;
            }
            bytes.len() - tail.len()
        }
    };
    let (head, mut rest) = bytes.split_at_checked(clean).unwrap_or((&[], bytes));
    out.extend_from_slice(head);
    while let Some(at) = rest.iter().position(|&byte| escape_class(byte) != 0) {
        let Some((run, [byte, after @ ..])) = rest.split_at_checked(at) else {
            break;
        };
        out.extend_from_slice(run);
        let escape = escape_class(*byte);
        if escape == b'u' {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                hex_digit(byte >> 4),
                hex_digit(*byte),
            ]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        rest = after;
    }
    out.extend_from_slice(rest);
}

/// Appends `n` in decimal, as `serde_json` writes an unsigned integer.
#[inline]
pub(super) fn write_u32(out: &mut Vec<u8>, mut n: u32) {
    // Ten digits hold every `u32`.
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    for (at, slot) in digits.iter_mut().enumerate().rev() {
        // `n % 10` is below 10: the cast cannot truncate.
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        start = at;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde(s: &str) -> Vec<u8> {
        serde_json::to_vec(s).unwrap()
    }

    fn ours(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_str(&mut out, s);
        out
    }

    #[test]
    fn every_single_char_is_escaped_as_serde_json_does() {
        for c in (0u32..0x300).filter_map(char::from_u32) {
            let s = c.to_string();
            assert_eq!(ours(&s), serde(&s), "char U+{:04X}", c as u32);
        }
        for c in [
            '\u{2028}',
            '\u{2029}',
            '\u{FEFF}',
            '\u{FFFF}',
            '\u{10FFFF}',
            '😀',
        ] {
            let s = c.to_string();
            assert_eq!(ours(&s), serde(&s), "char U+{:04X}", c as u32);
        }
    }

    #[test]
    fn an_escaped_byte_at_every_offset_of_the_word_scan() {
        for bad in ['"', '\\', '\n', '\u{0}', '\u{1f}', '\u{7f}', 'é'] {
            for len in 0..40 {
                for at in 0..len {
                    let s: String = (0..len).map(|i| if i == at { bad } else { 'a' }).collect();
                    assert_eq!(ours(&s), serde(&s), "{bad:?} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn the_word_test_is_exact_for_every_byte_value_in_every_lane() {
        for lane in 0..8 {
            for byte in 0..=255u8 {
                let mut word = [b'a'; 8];
                word[lane] = byte;
                let expected = ESCAPE[usize::from(byte)] != 0;
                assert_eq!(
                    needs_escape(u64::from_le_bytes(word)),
                    expected,
                    "byte {byte:#04x} in lane {lane}"
                );
            }
        }
    }

    #[test]
    fn numbers_as_serde_json_writes_them() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            12_345,
            999_999_999,
            1_000_000_000,
            u32::MAX,
        ] {
            let mut out = Vec::new();
            write_u32(&mut out, n);
            assert_eq!(out, serde_json::to_vec(&n).unwrap());
        }
    }
}
