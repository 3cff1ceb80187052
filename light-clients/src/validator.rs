//! Validators and validator sets, and the exact power arithmetic of quorums.

use serde::{Deserialize, Serialize};

use crate::crypto::{Address, PublicKeyBytes, SigningKey};
use crate::encoding::{decode_seq, encode_seq, Decode, DecodeError, Encode, Reader, Writer};
use crate::hash::{sha256_concat, Hash32};

/// Domain tag of the validator-set hash.
pub const VALSET_HASH_TAG: &[u8] = b"xrelay.valset.v1";

/// The most validators a set may hold; bounds decoding and on-chain gas.
pub const MAX_VALIDATORS: usize = 1024;

/// The most total voting power a set may hold (2^60), so that sums and the `u128` products
/// of quorum checks can never overflow.
pub const MAX_TOTAL_POWER: u64 = 1 << 60;

/// Encoded size of one validator: address, public key, power.
pub const VALIDATOR_ENCODED_LEN: usize = 20 + 33 + 8;

/// One member of a chain's validator set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Validator {
    /// keccak-derived address; signatures are matched to validators by it.
    pub address: Address,
    /// Compressed public key. [`ValidatorSet::check_keys`] proves it matches `address`.
    pub public_key: PublicKeyBytes,
    /// Voting power, at least 1.
    pub power: u64,
}

impl Validator {
    /// The validator entry of a key with the given power.
    pub fn from_key(key: &SigningKey, power: u64) -> Self {
        Validator {
            address: key.address(),
            public_key: key.public_key(),
            power,
        }
    }
}

impl Encode for Validator {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.address).put(&self.public_key).u64(self.power);
    }
}

impl Decode for Validator {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Validator {
            address: r.get()?,
            public_key: r.get()?,
            power: r.u64()?,
        })
    }
}

/// A fraction `numerator / denominator`, used for trust thresholds. Compared with exact
/// integer arithmetic, never floating point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fraction {
    /// Top.
    pub numerator: u64,
    /// Bottom, never zero.
    pub denominator: u64,
}

impl Fraction {
    /// One third: the default trust threshold.
    pub const ONE_THIRD: Fraction = Fraction::new_unchecked(1, 3);
    /// Two thirds: the commit quorum (strictly more than this is needed).
    pub const TWO_THIRDS: Fraction = Fraction::new_unchecked(2, 3);

    const fn new_unchecked(numerator: u64, denominator: u64) -> Self {
        Fraction {
            numerator,
            denominator,
        }
    }

    /// Whether `part` is strictly more than this fraction of `total`.
    pub fn is_exceeded_by(&self, part: u64, total: u64) -> bool {
        u128::from(part) * u128::from(self.denominator)
            > u128::from(total) * u128::from(self.numerator)
    }
}

/// A chain's validators at one height, sorted by address, no duplicates, each with power.
///
/// The sort order and the bounds are part of the canonical encoding, so one set has
/// exactly one encoding and one hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Validator>", into = "Vec<Validator>")]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    total_power: u64,
}

impl ValidatorSet {
    /// Builds a set: sorts by address, then checks every rule of [`ValidatorSet::validate`].
    pub fn new(mut validators: Vec<Validator>) -> Result<Self, DecodeError> {
        validators.sort_by_key(|a| a.address);
        Self::validate(validators)
    }

    /// The set of the given keys, each with the given power (convenient for dev chains).
    pub fn from_keys<'a>(
        keys: impl IntoIterator<Item = (&'a SigningKey, u64)>,
    ) -> Result<Self, DecodeError> {
        Self::new(
            keys.into_iter()
                .map(|(k, p)| Validator::from_key(k, p))
                .collect(),
        )
    }

    /// Checks an already-sorted list: 1..=MAX_VALIDATORS members, strictly ascending
    /// addresses, every power ≥ 1, total ≤ [`MAX_TOTAL_POWER`].
    fn validate(validators: Vec<Validator>) -> Result<Self, DecodeError> {
        if validators.is_empty() {
            return Err(DecodeError::invalid("validator set", "no validators"));
        }
        if validators.len() > MAX_VALIDATORS {
            return Err(DecodeError::TooLong {
                what: "validator set",
                len: validators.len() as u64,
                max: MAX_VALIDATORS as u64,
            });
        }
        let mut total: u64 = 0;
        for (i, v) in validators.iter().enumerate() {
            if v.power == 0 {
                return Err(DecodeError::invalid(
                    "validator set",
                    format!("validator {} has zero power", v.address),
                ));
            }
            if i > 0 && validators[i - 1].address >= v.address {
                return Err(DecodeError::invalid(
                    "validator set",
                    format!("addresses not strictly ascending at {}", v.address),
                ));
            }
            total = total
                .checked_add(v.power)
                .filter(|t| *t <= MAX_TOTAL_POWER)
                .ok_or_else(|| DecodeError::invalid("validator set", "total power above 2^60"))?;
        }
        Ok(ValidatorSet {
            validators,
            total_power: total,
        })
    }

    /// Proves every public key is a valid point whose address is the listed one. Costs one
    /// point decompression and one keccak per validator, so it runs where a set enters a
    /// chain (genesis, rotation), not on every header: signatures are matched by address.
    pub fn check_keys(&self) -> Result<(), DecodeError> {
        for v in &self.validators {
            if v.public_key.address()? != v.address {
                return Err(DecodeError::invalid(
                    "validator set",
                    format!("public key of {} does not derive its address", v.address),
                ));
            }
        }
        Ok(())
    }

    /// The members, sorted by address.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// Never true for a valid set; present for API completeness.
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    /// Sum of all powers.
    pub fn total_power(&self) -> u64 {
        self.total_power
    }

    /// Position of a member by address (binary search over the sorted list).
    pub fn index_of(&self, address: &Address) -> Option<usize> {
        self.validators
            .binary_search_by(|v| v.address.cmp(address))
            .ok()
    }

    /// A member by address.
    pub fn get(&self, address: &Address) -> Option<&Validator> {
        self.index_of(address).map(|i| &self.validators[i])
    }

    /// `SHA-256("xrelay.valset.v1" ‖ encoding)`: what headers commit to.
    pub fn hash(&self) -> Hash32 {
        sha256_concat(&[VALSET_HASH_TAG, &self.encode()])
    }
}

impl TryFrom<Vec<Validator>> for ValidatorSet {
    type Error = DecodeError;
    fn try_from(v: Vec<Validator>) -> Result<Self, Self::Error> {
        // Serde input must already be canonical, like bytes: no silent re-sorting.
        Self::validate(v)
    }
}

impl From<ValidatorSet> for Vec<Validator> {
    fn from(set: ValidatorSet) -> Self {
        set.validators
    }
}

impl Encode for ValidatorSet {
    fn encode_to(&self, w: &mut Writer) {
        encode_seq(w, &self.validators);
    }
}

impl Decode for ValidatorSet {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let list = decode_seq(r, "validator set", MAX_VALIDATORS, VALIDATOR_ENCODED_LEN)?;
        Self::validate(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u32) -> Vec<SigningKey> {
        (0..n).map(|i| SigningKey::from_seed("valset", i)).collect()
    }

    #[test]
    fn sets_are_canonical() {
        let ks = keys(4);
        let a = ValidatorSet::from_keys(ks.iter().map(|k| (k, 10))).unwrap();
        let b = ValidatorSet::from_keys(ks.iter().rev().map(|k| (k, 10))).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.hash(), b.hash());
        assert_eq!(ValidatorSet::decode(&a.encode()).unwrap(), a);
        assert_eq!(a.total_power(), 40);
        a.check_keys().unwrap();
    }

    #[test]
    fn bad_sets_are_refused() {
        let ks = keys(2);
        let v0 = Validator::from_key(&ks[0], 1);
        assert!(ValidatorSet::new(vec![]).is_err());
        assert!(ValidatorSet::new(vec![v0, v0]).is_err());
        assert!(ValidatorSet::new(vec![Validator { power: 0, ..v0 }]).is_err());
        let huge = Validator::from_key(&ks[1], MAX_TOTAL_POWER);
        assert!(ValidatorSet::new(vec![v0, huge]).is_err());
        // Unsorted bytes do not decode.
        let mut sorted = ValidatorSet::new(vec![v0, Validator::from_key(&ks[1], 1)])
            .unwrap()
            .validators()
            .to_vec();
        sorted.reverse();
        let mut w = Writer::default();
        encode_seq(&mut w, &sorted);
        assert!(ValidatorSet::decode(w.as_slice()).is_err());
        // A key that does not match its address is caught by check_keys.
        let liar = Validator {
            public_key: ks[1].public_key(),
            ..v0
        };
        assert!(ValidatorSet::new(vec![liar]).unwrap().check_keys().is_err());
    }

    #[test]
    fn fraction_comparison_is_exact() {
        let two_thirds = Fraction::TWO_THIRDS;
        assert!(!two_thirds.is_exceeded_by(2, 3));
        assert!(two_thirds.is_exceeded_by(3, 3));
        assert!(!two_thirds.is_exceeded_by(200, 300));
        assert!(two_thirds.is_exceeded_by(201, 300));
        assert!(!two_thirds.is_exceeded_by(MAX_TOTAL_POWER / 3 * 2, MAX_TOTAL_POWER / 3 * 3));
    }
}
