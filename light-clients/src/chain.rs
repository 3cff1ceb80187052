//! Chain identity, heights and times: the coordinates every header and message carries.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::encoding::{Decode, DecodeError, Encode, Reader, Writer};

/// A block height. Heights start at 1 for the first block after genesis.
pub type Height = u64;

/// Milliseconds since the Unix epoch (UTC). Block times, timeouts and the trusting period
/// all use this one unit so no conversion can go wrong between chains.
pub type TimeMs = u64;

/// The longest chain id accepted, in bytes.
pub const MAX_CHAIN_ID_LEN: usize = 64;

/// A chain's name, unique within a consortium (for example `alpha` or `bank-b.prod`).
///
/// Restricted to 1–64 bytes of `[A-Za-z0-9._-]` so that it can appear in state-tree paths
/// (`commitments/{dst}/{seq}`) without escaping and cannot contain the `/` separator.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChainId(String);

impl ChainId {
    /// Checks the id rules and wraps the name.
    pub fn new(name: impl Into<String>) -> Result<Self, DecodeError> {
        let name = name.into();
        if name.is_empty() || name.len() > MAX_CHAIN_ID_LEN {
            return Err(DecodeError::invalid(
                "chain id",
                format!("length {} is outside 1..={MAX_CHAIN_ID_LEN}", name.len()),
            ));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(DecodeError::invalid(
                "chain id",
                format!("character {c:?} is not one of [A-Za-z0-9._-]"),
            ));
        }
        Ok(ChainId(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainId({})", self.0)
    }
}

impl FromStr for ChainId {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChainId::new(s)
    }
}

impl TryFrom<String> for ChainId {
    type Error = DecodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ChainId::new(s)
    }
}

impl From<ChainId> for String {
    fn from(id: ChainId) -> String {
        id.0
    }
}

impl Encode for ChainId {
    fn encode_to(&self, w: &mut Writer) {
        w.bytes(self.0.as_bytes());
    }
}

impl Decode for ChainId {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let raw = r.bytes("chain id", MAX_CHAIN_ID_LEN)?;
        let name =
            std::str::from_utf8(raw).map_err(|_| DecodeError::invalid("chain id", "not UTF-8"))?;
        ChainId::new(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet_only() {
        assert!(ChainId::new("bank-a.prod_1").is_ok());
        assert!(ChainId::new("").is_err());
        assert!(ChainId::new("a/b").is_err());
        assert!(ChainId::new("é").is_err());
        assert!(ChainId::new("x".repeat(65)).is_err());
        assert!(ChainId::new("x".repeat(64)).is_ok());
    }

    #[test]
    fn round_trips_through_bytes_and_json() {
        let id = ChainId::new("alpha").unwrap();
        assert_eq!(id.encode(), [0, 0, 0, 5, b'a', b'l', b'p', b'h', b'a']);
        assert_eq!(ChainId::decode(&id.encode()).unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"alpha\"");
        assert!(serde_json::from_str::<ChainId>("\"a b\"").is_err());
    }
}
