//! The canonical byte layout shared by everything that is hashed or signed.
//!
//! Integers are big-endian and fixed width, byte strings and sequences carry a `u32`
//! big-endian length prefix, and every decoder is strict: bounded lengths, no trailing
//! bytes, no second encoding of the same value. A tiny hand-written reader is used
//! rather than a serialisation crate because the layout must be reproducible from
//! `docs/PROTOCOL.md` alone (including by a Solidity contract), and the available crates
//! are either little-endian (borsh, SCALE), self-describing (CBOR, JSON) or not strict
//! about trailing bytes.

use thiserror::Error;

/// Why a byte string is not a valid encoding. Decoding never panics; it returns one of these.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before the value did.
    #[error("unexpected end of input: needed {needed} more bytes, {remaining} left")]
    UnexpectedEnd {
        /// Bytes the next field needs.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// The value was complete but bytes were left over.
    #[error("{count} trailing bytes after the value")]
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
    /// A length prefix is above the bound of its field.
    #[error("{what} has length {len}, above the maximum {max}")]
    TooLong {
        /// The field.
        what: &'static str,
        /// The length found.
        len: u64,
        /// The bound.
        max: u64,
    },
    /// A field decoded but its value breaks a rule of the layout.
    #[error("invalid {what}: {reason}")]
    InvalidValue {
        /// The field.
        what: &'static str,
        /// The rule it breaks.
        reason: String,
    },
}

impl DecodeError {
    /// Shorthand for [`DecodeError::InvalidValue`].
    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        DecodeError::InvalidValue {
            what,
            reason: reason.into(),
        }
    }
}

/// Appends canonical encodings to a byte buffer.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A writer with room for `capacity` bytes before it reallocates.
    pub fn with_capacity(capacity: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// Two bytes, big-endian.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Four bytes, big-endian.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Eight bytes, big-endian.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Raw bytes of a fixed-width field (no prefix).
    pub fn fixed(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// A `u32` length prefix followed by the bytes. Callers bound `v` by the field's
    /// maximum, which is far below `u32::MAX`.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.len_prefix(v.len());
        self.buf.extend_from_slice(v);
        self
    }

    /// A `u32` count or length prefix.
    pub fn len_prefix(&mut self, len: usize) -> &mut Self {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        self.u32(len)
    }

    /// Any encodable value.
    pub fn put<T: Encode + ?Sized>(&mut self, v: &T) -> &mut Self {
        v.encode_to(self);
        self
    }

    /// The bytes written so far.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes written so far, borrowed.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }
}

/// Reads a canonical encoding with bounds checks on every field.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::UnexpectedEnd {
                needed: n,
                remaining: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// Two bytes, big-endian.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Four bytes, big-endian.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Eight bytes, big-endian.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A `u32` length prefix, checked against `max` and against the bytes left (each
    /// element takes at least `min_elem_size` bytes), so a hostile prefix cannot make
    /// the caller reserve memory it will never fill.
    pub fn len_prefix(
        &mut self,
        what: &'static str,
        max: usize,
        min_elem_size: usize,
    ) -> Result<usize, DecodeError> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(DecodeError::TooLong {
                what,
                len: len as u64,
                max: max as u64,
            });
        }
        let needed = len.saturating_mul(min_elem_size);
        if needed > self.remaining() {
            return Err(DecodeError::UnexpectedEnd {
                needed,
                remaining: self.remaining(),
            });
        }
        Ok(len)
    }

    /// A length-prefixed byte string of at most `max` bytes.
    pub fn bytes(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.len_prefix(what, max, 1)?;
        self.take(len)
    }

    /// Any decodable value.
    pub fn get<T: Decode>(&mut self) -> Result<T, DecodeError> {
        T::decode_from(self)
    }

    /// Succeeds only if every byte was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { count }),
        }
    }
}

/// A type with one canonical byte layout.
pub trait Encode {
    /// Appends the canonical encoding.
    fn encode_to(&self, w: &mut Writer);

    /// The canonical encoding as a new vector.
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        self.encode_to(&mut w);
        w.into_vec()
    }
}

/// A type that can be read back from its canonical layout, strictly.
pub trait Decode: Sized {
    /// Reads one value, leaving the reader after it.
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Decodes a whole byte string: the value must use every byte.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let v = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

impl Encode for u64 {
    fn encode_to(&self, w: &mut Writer) {
        w.u64(*self);
    }
}

impl Decode for u64 {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u64()
    }
}

/// Encodes a sequence as a `u32` count followed by the elements.
pub fn encode_seq<T: Encode>(w: &mut Writer, items: &[T]) {
    w.len_prefix(items.len());
    for item in items {
        item.encode_to(w);
    }
}

/// Decodes a sequence written by [`encode_seq`], with at most `max` elements of at
/// least `min_elem_size` bytes each.
pub fn decode_seq<T: Decode>(
    r: &mut Reader<'_>,
    what: &'static str,
    max: usize,
    min_elem_size: usize,
) -> Result<Vec<T>, DecodeError> {
    let len = r.len_prefix(what, max, min_elem_size)?;
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        out.push(T::decode_from(r)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_big_endian() {
        let mut w = Writer::default();
        w.u16(0x0102).u32(0x03040506).u64(0x0708090a0b0c0d0e);
        assert_eq!(
            w.as_slice(),
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        assert_eq!(
            u64::decode(&[0, 0, 0, 0, 0, 0, 0, 1, 9]),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
        assert_eq!(u64::decode(&[0, 0, 0, 0, 0, 0, 0, 1]), Ok(1));
    }

    #[test]
    fn hostile_length_prefix_does_not_allocate() {
        // Claims 1,000,000 elements of 8 bytes with 4 bytes left.
        let bytes = [0x00, 0x0f, 0x42, 0x40, 1, 2, 3, 4];
        let mut r = Reader::new(&bytes);
        let err = decode_seq::<u64>(&mut r, "numbers", 2_000_000, 8).unwrap_err();
        assert!(matches!(err, DecodeError::UnexpectedEnd { .. }));
        let mut r = Reader::new(&bytes);
        let err = decode_seq::<u64>(&mut r, "numbers", 10, 8).unwrap_err();
        assert!(matches!(err, DecodeError::TooLong { max: 10, .. }));
    }
}
