//! Token amounts (`u128`) in JSON as decimal strings: JSON numbers cannot carry them
//! exactly (JavaScript clients lose precision past 2^53) and serde's buffered enums cannot
//! carry `u128` at all.

use serde::{Deserialize, Deserializer, Serializer};

/// Writes the amount as a decimal string.
pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Reads a decimal string (a JSON number is refused: it may already have lost digits).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
    let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    #[serde(tag = "type")]
    enum Tagged {
        Paid {
            #[serde(with = "super")]
            amount: u128,
        },
    }

    #[test]
    fn round_trips_the_largest_amount_through_a_tagged_enum() {
        let v = Tagged::Paid { amount: u128::MAX };
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(
            json,
            format!(r#"{{"type":"Paid","amount":"{}"}}"#, u128::MAX)
        );
        assert_eq!(serde_json::from_str::<Tagged>(&json).unwrap(), v);
        assert!(serde_json::from_str::<Tagged>(r#"{"type":"Paid","amount":5}"#).is_err());
        assert!(serde_json::from_str::<Tagged>(r#"{"type":"Paid","amount":"-1"}"#).is_err());
    }
}
