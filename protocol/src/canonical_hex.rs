//! Serde for protocol types that have a canonical byte layout but no serde form of their
//! own (EVM client states and updates): written as the hex of their canonical encoding,
//! read back through the strict decoder, so JSON never holds a value the module could not.

use serde::{Deserialize, Deserializer, Serializer};
use xrelay_light_client::{Decode, Encode};

fn to_hex<T: Encode + ?Sized>(v: &T) -> String {
    hex::encode(v.encode())
}

fn from_hex<T: Decode, E: serde::de::Error>(s: &str) -> Result<T, E> {
    let bytes = hex::decode(s).map_err(E::custom)?;
    T::decode(&bytes).map_err(E::custom)
}

/// A boxed value (`#[serde(with = "xrelay_protocol::canonical_hex::boxed")]`).
pub mod boxed {
    use super::*;

    /// The hex of the value's canonical encoding.
    #[allow(clippy::borrowed_box)] // serde's `with` passes `&Box<T>`
    pub fn serialize<T: Encode, S: Serializer>(v: &Box<T>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(v.as_ref()))
    }

    /// A hex string that decodes strictly.
    pub fn deserialize<'de, T: Decode, D: Deserializer<'de>>(d: D) -> Result<Box<T>, D::Error> {
        from_hex(&String::deserialize(d)?).map(Box::new)
    }
}

/// A vector of values, one hex string each
/// (`#[serde(with = "xrelay_protocol::canonical_hex::seq")]`).
pub mod seq {
    use super::*;
    use serde::ser::SerializeSeq;

    /// An array of the hex of each value's canonical encoding.
    pub fn serialize<T: Encode, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for item in v {
            seq.serialize_element(&to_hex(item))?;
        }
        seq.end()
    }

    /// An array of hex strings that each decode strictly.
    pub fn deserialize<'de, T: Decode, D: Deserializer<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| from_hex(s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use xrelay_light_client::{ChainId, Encode};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "super::boxed")]
        one: Box<ChainId>,
        #[serde(with = "super::seq")]
        many: Vec<ChainId>,
    }

    #[test]
    fn values_round_trip_and_anything_else_is_refused() {
        let id = |s: &str| ChainId::new(s).unwrap();
        let h = Holder {
            one: Box::new(id("alpha")),
            many: vec![id("beta"), id("gamma")],
        };
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["one"], hex::encode(id("alpha").encode()));
        assert_eq!(serde_json::from_value::<Holder>(json).unwrap(), h);

        let good = hex::encode(id("alpha").encode());
        for bad in [
            serde_json::json!({ "one": format!("{good}00"), "many": [] }),
            serde_json::json!({ "one": "zz", "many": [] }),
            serde_json::json!({ "one": good, "many": ["00"] }),
            serde_json::json!({ "one": good, "many": "00" }),
            serde_json::json!({ "one": [1, 2], "many": [] }),
        ] {
            assert!(
                serde_json::from_value::<Holder>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
