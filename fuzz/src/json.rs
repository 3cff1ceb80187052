//! Arbitrary `serde_json::Value`s from fuzz bytes, and back.
//!
//! Mutating JSON *text* mostly yields text that does not parse, so `decode_rpc_answer` also
//! reads its input as a compact binary description of a value ([`value`]): every input is
//! some value, and byte-level mutations become changes of shape (a field renamed, an array
//! shortened, a number turned into a string) or of the bytes behind a hex string (which the
//! strict binary decoders then see). [`to_bytes`] is the inverse, so real node answers can
//! seed this mode too.
//!
//! Layout: one tag byte (taken modulo 10), then
//! `0` null, `1` false, `2` true, `3` u64 (8 bytes, big-endian), `4` i64, `5` f64 (bits),
//! `6` hex string (u16 length, raw bytes; the string is their lower-case hex),
//! `7` string (u16 length, UTF-8, invalid sequences replaced), `8` array (u8 count, items),
//! `9` object (u8 count, then per entry a u8-length key and the value).
//! Input that runs out reads as zeros (null) and ends arrays and objects early, so the
//! value never has more nodes than the input has bytes.

use serde_json::{Map, Number, Value};

/// Deepest nesting [`value`] builds; deeper positions become null. Real answers nest at
/// most 8 deep (an event in a list of events, with a message and its timeout).
pub const MAX_DEPTH: usize = 24;

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.bytes.len());
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        head
    }

    fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    fn u16(&mut self) -> usize {
        let hi = self.u8() as usize;
        (hi << 8) | self.u8() as usize
    }

    fn u64(&mut self) -> u64 {
        let mut buf = [0u8; 8];
        let got = self.take(8);
        buf[..got.len()].copy_from_slice(got);
        u64::from_be_bytes(buf)
    }

    fn value(&mut self, depth: usize) -> Value {
        if depth >= MAX_DEPTH {
            return Value::Null;
        }
        match self.u8() % 10 {
            0 => Value::Null,
            1 => Value::Bool(false),
            2 => Value::Bool(true),
            3 => Value::from(self.u64()),
            4 => Value::from(self.u64() as i64),
            // Not finite: null, as serde_json does.
            5 => Number::from_f64(f64::from_bits(self.u64())).map_or(Value::Null, Value::Number),
            6 => {
                let n = self.u16();
                Value::String(hex::encode(self.take(n)))
            }
            7 => {
                let n = self.u16();
                Value::String(String::from_utf8_lossy(self.take(n)).into_owned())
            }
            8 => {
                let n = self.u8();
                let mut items = Vec::new();
                for _ in 0..n {
                    if self.is_empty() {
                        break;
                    }
                    items.push(self.value(depth + 1));
                }
                Value::Array(items)
            }
            _ => {
                let n = self.u8();
                let mut map = Map::new();
                for _ in 0..n {
                    if self.is_empty() {
                        break;
                    }
                    let len = self.u8() as usize;
                    let key = String::from_utf8_lossy(self.take(len)).into_owned();
                    let v = self.value(depth + 1);
                    map.insert(key, v);
                }
                Value::Object(map)
            }
        }
    }
}

/// The value `bytes` describe (see the module documentation). Total: every input is a value.
pub fn value(bytes: &[u8]) -> Value {
    Reader { bytes }.value(0)
}

/// Why a value has no description: [`value`] cannot produce it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooBig(pub String);

/// The description of `v`, which [`value`] reads back to `v`: strings of lower-case hex
/// are described by their bytes, so mutations hit the bytes the binary decoders see.
pub fn to_bytes(v: &Value) -> Result<Vec<u8>, TooBig> {
    let mut out = Vec::new();
    write(v, 0, &mut out)?;
    Ok(out)
}

fn len16(n: usize, what: &str, out: &mut Vec<u8>) -> Result<(), TooBig> {
    let n = u16::try_from(n).map_err(|_| TooBig(format!("{what} of {n} bytes")))?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

fn len8(n: usize, what: &str, out: &mut Vec<u8>) -> Result<(), TooBig> {
    out.push(u8::try_from(n).map_err(|_| TooBig(format!("{what} of {n}")))?);
    Ok(())
}

fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.len().is_multiple_of(2)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn write(v: &Value, depth: usize, out: &mut Vec<u8>) -> Result<(), TooBig> {
    if depth >= MAX_DEPTH {
        return Err(TooBig(format!("nesting deeper than {MAX_DEPTH}")));
    }
    match v {
        Value::Null => out.push(0),
        Value::Bool(false) => out.push(1),
        Value::Bool(true) => out.push(2),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.push(3);
                out.extend_from_slice(&u.to_be_bytes());
            } else if let Some(i) = n.as_i64() {
                out.push(4);
                out.extend_from_slice(&i.to_be_bytes());
            } else {
                out.push(5);
                let f = n.as_f64().unwrap_or_default();
                out.extend_from_slice(&f.to_bits().to_be_bytes());
            }
        }
        Value::String(s) if is_hex(s) => {
            let bytes = hex::decode(s).map_err(|e| TooBig(e.to_string()))?;
            out.push(6);
            len16(bytes.len(), "hex string", out)?;
            out.extend_from_slice(&bytes);
        }
        Value::String(s) => {
            out.push(7);
            len16(s.len(), "string", out)?;
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(items) => {
            out.push(8);
            len8(items.len(), "array", out)?;
            for item in items {
                write(item, depth + 1, out)?;
            }
        }
        Value::Object(map) => {
            out.push(9);
            len8(map.len(), "object", out)?;
            for (k, item) in map {
                len8(k.len(), "key", out)?;
                out.extend_from_slice(k.as_bytes());
                write(item, depth + 1, out)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn descriptions_read_back() {
        let v = json!({
            "light_block": "00ff10",
            "items": [null, true, false, 7, -3, 1.5, "text", "ABCD", ""],
            "nested": { "k": [[{}]] },
        });
        assert_eq!(value(&to_bytes(&v).unwrap()), v);
        // Short input: the array ends where the bytes do.
        assert_eq!(value(&[8, 200, 2]), json!([true]));
        assert_eq!(value(&[]), Value::Null);
    }
}
