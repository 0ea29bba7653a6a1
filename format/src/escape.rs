//! The one escape for text meant for a terminal or a log: names, paths,
//! argv, messages and alert lines that a traced workload, a trace file, a
//! manifest or a rules file controls.
//!
//! A workload names itself (`prctl(PR_SET_NAME)`), its files and its
//! arguments; a manifest names its segments. Printed raw, an escape
//! sequence in one of them moves the cursor or recolours the terminal, and
//! a newline forges a whole line of output (an "OK" line of `replay
//! verify`). Everything the binaries print as text goes through
//! [`escape_bytes`] (or its wrappers); JSON output has its own escaping and
//! does not use this.
//!
//! # The scheme
//!
//! - `\` is written `\\`.
//! - A byte that is not part of valid UTF-8 is written `\xNN` (two
//!   lowercase hex digits).
//! - A control character is written as its UTF-8 bytes, each `\xNN`: C0
//!   controls (U+0000 to U+001F, so tab and newline too), DEL (U+007F), C1
//!   controls (U+0080 to U+009F, written `\xc2\xNN`), the line and
//!   paragraph separators U+2028 and U+2029, and the bidirectional
//!   formatting characters (U+200E, U+200F, U+202A to U+202E, U+2066 to
//!   U+2069), which reorder what is displayed.
//! - Everything else is written as it is.
//!
//! So the output is valid UTF-8 without a control character, and the
//! escape is reversible: [`unescape`] turns `\\` back into `\` and `\xNN`
//! into the byte NN, giving back the original bytes exactly.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt as _;

/// Whether the character must be escaped.
fn is_control(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{200e}' | '\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "\\x{b:02x}");
    }
}

/// Escapes `b` for text output (see the module docs). Borrows when nothing
/// needs escaping.
pub fn escape_bytes(b: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(b)
        && !s.chars().any(|c| c == '\\' || is_control(c))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(b.len() + 16);
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else if is_control(c) {
                let mut buf = [0; 4];
                push_hex(&mut out, c.encode_utf8(&mut buf).as_bytes());
            } else {
                out.push(c);
            }
        }
        push_hex(&mut out, chunk.invalid());
    }
    Cow::Owned(out)
}

/// [`escape_bytes`] of a string.
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_bytes(s.as_bytes())
}

/// [`escape_bytes`] of a path or other OS string (its bytes, so a name
/// that is not UTF-8 keeps every byte).
pub fn escape_os(s: &(impl AsRef<OsStr> + ?Sized)) -> Cow<'_, str> {
    escape_bytes(s.as_ref().as_bytes())
}

/// The bytes [`escape_bytes`] was given; `None` for text it cannot have
/// written (a lone `\`, `\x` without two hex digits, another escape).
pub fn unescape(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1)? {
            b'\\' => {
                out.push(b'\\');
                i += 2;
            }
            b'x' => {
                let hex = s.get(i + 2..i + 4)?;
                if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 4;
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples() {
        let cases: &[(&[u8], &str)] = &[
            (b"plain name", "plain name"),
            (b"\x1b[31mred", "\\x1b[31mred"),
            (b"a\nOK: forged", "a\\x0aOK: forged"),
            (b"back\\slash", "back\\\\slash"),
            (b"tab\there", "tab\\x09here"),
            (b"\xff\xfeok", "\\xff\\xfeok"),
            (b"caf\xc3\xa9", "caf\u{e9}"),
            ("csi \u{9b}2J".as_bytes(), "csi \\xc2\\x9b2J"),
            ("rtl \u{202e}txt".as_bytes(), "rtl \\xe2\\x80\\xaetxt"),
            (b"del\x7f", "del\\x7f"),
            (b"cut \xe2\x80", "cut \\xe2\\x80"),
        ];
        for (input, want) in cases {
            assert_eq!(escape_bytes(input), *want, "{input:?}");
            assert_eq!(unescape(want).as_deref(), Some(*input), "{want}");
        }
        assert!(matches!(escape("nothing"), Cow::Borrowed(_)));
        assert_eq!(escape_os(OsStr::from_bytes(b"seg\n.zst")), "seg\\x0a.zst");
    }

    #[test]
    fn output_has_no_control_character_and_round_trips() {
        // Every byte value, alone and in pairs (covers partial and whole
        // UTF-8 sequences of two bytes).
        for a in 0..=255u8 {
            for b in [None, Some(0x80u8), Some(0x9b), Some(b'x'), Some(b'\\')] {
                let mut input = vec![a];
                input.extend(b);
                let e = escape_bytes(&input);
                assert!(!e.chars().any(is_control), "{input:?} -> {e:?}");
                assert_eq!(unescape(&e), Some(input.clone()), "{e:?}");
            }
        }
    }

    #[test]
    fn unescape_refuses_what_escape_never_writes() {
        for bad in ["\\", "\\x", "\\x1", "\\xzz", "\\n", "a\\"] {
            assert_eq!(unescape(bad), None, "{bad:?}");
        }
    }
}
