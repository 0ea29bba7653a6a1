//! LEB128 varints and zigzag, as the column schema defines them.

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a signed value zigzag-encoded.
pub(crate) fn put_signed(out: &mut Vec<u8>, v: i64) {
    put(out, zigzag(v));
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A read position in a varint column.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// The next varint; `None` at the end of the column or for a varint
    /// that is cut short or does not fit in 64 bits.
    #[inline]
    pub(crate) fn next(&mut self) -> Option<u64> {
        let first = *self.bytes.get(self.pos)?;
        if first < 0x80 {
            self.pos += 1;
            return Some(u64::from(first));
        }
        let mut v = 0u64;
        for i in 0..10 {
            let b = *self.bytes.get(self.pos + i)?;
            if i == 9 && b > 1 {
                return None;
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.pos += i + 1;
                return Some(v);
            }
        }
        None
    }

    #[inline]
    pub(crate) fn next_signed(&mut self) -> Option<i64> {
        self.next().map(unzigzag)
    }

    /// Whether every byte was read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// A read position in a byte-string column: lengths in one varint column,
/// the bytes in another.
#[derive(Clone, Copy)]
pub(crate) struct Blobs<'a> {
    lens: Reader<'a>,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Blobs<'a> {
    pub(crate) fn new(lens: &'a [u8], bytes: &'a [u8]) -> Self {
        Blobs {
            lens: Reader::new(lens),
            bytes,
            pos: 0,
        }
    }

    /// The next byte string; `None` when a column is short.
    #[inline]
    pub(crate) fn next(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.lens.next()?).ok()?;
        let end = self.pos.checked_add(len)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    pub(crate) fn at_end(&self) -> bool {
        self.lens.at_end() && self.pos == self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_overlong() {
        let vals = [
            0u64,
            1,
            127,
            128,
            300,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ];
        let mut buf = Vec::new();
        for v in vals {
            put(&mut buf, v);
        }
        let mut r = Reader::new(&buf);
        for v in vals {
            assert_eq!(r.next(), Some(v));
        }
        assert!(r.at_end());
        assert_eq!(r.next(), None);
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        // Cut short, and an 11th byte / a 10th byte over 1.
        assert_eq!(Reader::new(&[0x80]).next(), None);
        assert_eq!(Reader::new(&[0xff; 11]).next(), None);
        let mut over = vec![0xff; 9];
        over.push(2);
        assert_eq!(Reader::new(&over).next(), None);
    }

    #[test]
    fn blobs_stop_at_short_columns() {
        let mut lens = Vec::new();
        put(&mut lens, 3);
        put(&mut lens, 5);
        let mut b = Blobs::new(&lens, b"abcde");
        assert_eq!(b.next(), Some(&b"abc"[..]));
        assert_eq!(b.next(), None);
        assert!(!b.at_end());
    }
}
