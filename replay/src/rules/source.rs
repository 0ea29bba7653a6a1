//! The interface between compiled rules and event data.
//!
//! The evaluator asks a [`FieldSource`] for field values by [`FieldRef`];
//! values are borrowed ([`FieldValue`]), so the common path allocates nothing.

use std::fmt::{self, Write as _};
use std::net::IpAddr;

use super::fields::FieldRef;

/// One value of a field, borrowed from the source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldValue<'a> {
    /// Text.
    Str(&'a str),
    /// Raw bytes (I/O buffers).
    Bytes(&'a [u8]),
    /// Signed integer.
    I64(i64),
    /// Unsigned integer (also times in ns, ports, uids).
    U64(u64),
    /// Boolean.
    Bool(bool),
    /// An address.
    Ip(IpAddr),
    /// Floating point.
    Double(f64),
}

impl FieldValue<'_> {
    /// An owned copy.
    pub fn to_owned_value(&self) -> OwnedValue {
        match *self {
            FieldValue::Str(s) => OwnedValue::Str(s.to_owned()),
            FieldValue::Bytes(b) => OwnedValue::Bytes(b.to_vec()),
            FieldValue::I64(v) => OwnedValue::I64(v),
            FieldValue::U64(v) => OwnedValue::U64(v),
            FieldValue::Bool(v) => OwnedValue::Bool(v),
            FieldValue::Ip(v) => OwnedValue::Ip(v),
            FieldValue::Double(v) => OwnedValue::Double(v),
        }
    }

    /// The value as an integer, if it is one (or a string holding one).
    pub(crate) fn as_i128(&self) -> Option<i128> {
        match *self {
            FieldValue::I64(v) => Some(v.into()),
            FieldValue::U64(v) => Some(v.into()),
            FieldValue::Bool(v) => Some(v.into()),
            FieldValue::Double(v) if v.fract() == 0.0 && v.abs() < 1e30 => Some(v as i128),
            FieldValue::Str(s) => parse_int(s),
            _ => None,
        }
    }
}

impl fmt::Display for FieldValue<'_> {
    /// Falco's text rendering: strings as they are, bytes with
    /// non-printable characters as `.`, booleans `true`/`false`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FieldValue::Str(s) => f.write_str(s),
            FieldValue::Bytes(b) => {
                for &c in b {
                    f.write_char(if c.is_ascii_graphic() || c == b' ' {
                        c as char
                    } else {
                        '.'
                    })?;
                }
                Ok(())
            }
            FieldValue::I64(v) => write!(f, "{v}"),
            FieldValue::U64(v) => write!(f, "{v}"),
            FieldValue::Bool(v) => write!(f, "{v}"),
            FieldValue::Ip(v) => write!(f, "{v}"),
            FieldValue::Double(v) => write!(f, "{v}"),
        }
    }
}

/// An owned field value (transformer results, `val()` operands, JSON output).
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum OwnedValue {
    Str(String),
    Bytes(Vec<u8>),
    I64(i64),
    U64(u64),
    Bool(bool),
    Ip(IpAddr),
    Double(f64),
}

impl OwnedValue {
    /// A borrowed view.
    pub fn as_value(&self) -> FieldValue<'_> {
        match self {
            OwnedValue::Str(s) => FieldValue::Str(s),
            OwnedValue::Bytes(b) => FieldValue::Bytes(b),
            OwnedValue::I64(v) => FieldValue::I64(*v),
            OwnedValue::U64(v) => FieldValue::U64(*v),
            OwnedValue::Bool(v) => FieldValue::Bool(*v),
            OwnedValue::Ip(v) => FieldValue::Ip(*v),
            OwnedValue::Double(v) => FieldValue::Double(*v),
        }
    }
}

impl fmt::Display for OwnedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_value().fmt(f)
    }
}

/// Where field values come from: implemented by the replay engine over
/// trace events (and by tests over maps).
///
/// A source answers for the event currently being evaluated. Return `None`
/// when a field has no value for this event (missing process info, not a
/// socket, ...): every comparison on it is then false, `!=` included.
///
/// Multi-valued fields ([`FieldRef::is_multi`]: `proc.aname` and friends
/// without an index, list fields such as `fd.types`) are read through
/// [`for_each`](Self::for_each); implement it for those fields. For the
/// ancestor fields (`proc.aname`, `proc.aexe`, `proc.aexepath`, `proc.apid`,
/// `proc.acmdline` without an index) visit the parent first, then its
/// parent, and so on, *excluding* the process itself, as libsinsp's
/// `traverse_parent_state`; with an index (`proc.aname[N]`) they are
/// single-valued, `[0]` being the process itself and `[1]` its parent.
/// Single-valued fields are read with [`get`](Self::get).
///
/// `field.slot` is dense per ruleset, so a source can keep per-slot caches
/// or precomputed plans in a `Vec`; `field.id` is an enum to `match` on.
pub trait FieldSource {
    /// The value of a single-valued field, or `None` when it has none.
    fn get(&mut self, field: &FieldRef) -> Option<FieldValue<'_>>;

    /// Calls `visit` with each value of a multi-valued field, in order,
    /// until it returns `false`. The default forwards the single value of
    /// [`get`](Self::get), if any.
    fn for_each(&mut self, field: &FieldRef, visit: &mut dyn FnMut(FieldValue<'_>) -> bool) {
        if let Some(v) = self.get(field) {
            visit(v);
        }
    }

    /// Renders a field for an output message into `out`; returns `false`
    /// when the field has no value (the caller writes `<NA>`). The default
    /// uses [`get`](Self::get) and [`FieldValue`]'s `Display`; override it
    /// for fields whose text differs from their compared value.
    fn render(&mut self, field: &FieldRef, out: &mut String) -> bool {
        match self.get(field) {
            Some(v) => {
                let _ = write!(out, "{v}");
                true
            }
            None => false,
        }
    }
}

/// Parses an integer as Falco does for numeric fields: decimal or `0x` hex,
/// with an optional sign before either (`-0x10`; never after the prefix:
/// `0x-5` is not a number). Part of the source contract: a string value
/// compared as a number is read this way.
pub(crate) fn parse_int(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (radix, digits) = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => (16, hex),
        None => (10, digits),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::parse_int;

    #[test]
    fn decimal_hex_and_signs() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int(" -42 "), Some(-42));
        assert_eq!(parse_int("+7"), Some(7));
        assert_eq!(parse_int("0x1f"), Some(31));
        assert_eq!(parse_int("-0x10"), Some(-16));
        for bad in ["0x-5", "0x+5", "0x", "", "-", "1a", "4 2", "--1"] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }
}
