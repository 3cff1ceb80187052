//! secp256k1 keys, 65-byte recoverable signatures and EVM-style addresses.
//!
//! A signature is checked the way an EVM contract checks it with `ecrecover`: recover the
//! public key from (digest, r, s, v), derive its address (last 20 bytes of keccak-256 of the
//! 64-byte uncompressed key) and compare addresses. Doing exactly that off-chain means the
//! relayer and an on-chain client can never disagree about who signed.

use std::fmt;

use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, SecretKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha3::{Digest, Keccak256};

use crate::encoding::{Decode, DecodeError, Encode, Reader, Writer};
use crate::hash::{parse_hex_array, sha256_concat, Hash32};

/// The secp256k1 group order n, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];
/// n / 2, the largest `s` accepted (low-s rule, as in EIP-2).
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

macro_rules! hex_bytes_type {
    ($name:ident, $len:expr, $what:expr) => {
        impl $name {
            /// Lower-case hex without a prefix.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            /// Parses hex of the exact length (an optional `0x` prefix is accepted).
            pub fn from_hex(s: &str) -> Result<Self, DecodeError> {
                parse_hex_array(s.trim_start_matches("0x"), $what).map($name)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl Encode for $name {
            fn encode_to(&self, w: &mut Writer) {
                w.fixed(&self.0);
            }
        }

        impl Decode for $name {
            fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.array::<$len>().map($name)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::from_hex(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A 20-byte validator address: the last 20 bytes of keccak-256 of the uncompressed public
/// key, exactly what EVM `ecrecover` yields, so a Solidity client can identify signers.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 20]);
hex_bytes_type!(Address, 20, "address");

impl Address {
    /// The address of a public key.
    pub fn of(key: &PublicKey) -> Self {
        let uncompressed = key.serialize_uncompressed();
        let digest = Keccak256::digest(&uncompressed[1..]);
        let mut out = [0u8; 20];
        out.copy_from_slice(&digest[12..]);
        Address(out)
    }
}

/// A 33-byte compressed secp256k1 public key, kept as bytes; [`PublicKeyBytes::parse`]
/// checks that it is a point on the curve.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKeyBytes(pub [u8; 33]);
hex_bytes_type!(PublicKeyBytes, 33, "public key");

impl PublicKeyBytes {
    /// The compressed form of a key.
    pub fn from_key(key: &PublicKey) -> Self {
        PublicKeyBytes(key.serialize())
    }

    /// Parses the point; fails if the bytes are not a valid compressed key.
    pub fn parse(&self) -> Result<PublicKey, DecodeError> {
        PublicKey::from_slice(&self.0)
            .map_err(|e| DecodeError::invalid("public key", e.to_string()))
    }

    /// The address of this key, or an error if it is not a valid point.
    pub fn address(&self) -> Result<Address, DecodeError> {
        self.parse().map(|k| Address::of(&k))
    }
}

/// A 65-byte recoverable signature `r ‖ s ‖ v` with `v ∈ {27, 28}`: the layout EVM
/// `ecrecover` takes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature65(pub [u8; 65]);
hex_bytes_type!(Signature65, 65, "signature");

/// Why a signature failed to authenticate its signer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// `v` must be 27 or 28.
    #[error("recovery byte v = {0} is not 27 or 28")]
    BadRecoveryByte(u8),
    /// `r` or `s` is zero or not below the group order.
    #[error("r or s is out of range")]
    ScalarOutOfRange,
    /// `s` is above n/2: the malleated twin of a valid signature.
    #[error("s is in the upper half of the group order (high-s)")]
    HighS,
    /// No public key can be recovered from these bytes.
    #[error("no public key recovers from the signature")]
    Unrecoverable,
}

fn in_range(scalar: &[u8]) -> bool {
    scalar.iter().any(|&b| b != 0) && scalar < &ORDER[..]
}

impl Signature65 {
    /// The `r` scalar.
    pub fn r(&self) -> &[u8] {
        &self.0[..32]
    }

    /// The `s` scalar.
    pub fn s(&self) -> &[u8] {
        &self.0[32..64]
    }

    /// The recovery byte (27 or 28 when well-formed).
    pub fn v(&self) -> u8 {
        self.0[64]
    }

    /// Recovers the signer's address of `digest`, enforcing the same rules as EVM
    /// `ecrecover` plus low-s (so each signature has exactly one valid encoding).
    pub fn recover_address(&self, digest: &Hash32) -> Result<Address, SignatureError> {
        let v = self.v();
        if v != 27 && v != 28 {
            return Err(SignatureError::BadRecoveryByte(v));
        }
        if !in_range(self.r()) || !in_range(self.s()) {
            return Err(SignatureError::ScalarOutOfRange);
        }
        if self.s() > &HALF_ORDER[..] {
            return Err(SignatureError::HighS);
        }
        let rec_id = RecoveryId::try_from(i32::from(v - 27))
            .map_err(|_| SignatureError::BadRecoveryByte(v))?;
        let sig = RecoverableSignature::from_compact(&self.0[..64], rec_id)
            .map_err(|_| SignatureError::ScalarOutOfRange)?;
        let key = sig
            .recover_ecdsa(Message::from_digest(digest.0))
            .map_err(|_| SignatureError::Unrecoverable)?;
        Ok(Address::of(&key))
    }
}

/// A validator's (or any signer's) secret key. Debug output never shows the secret.
#[derive(Clone)]
pub struct SigningKey {
    secret: SecretKey,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.address())
    }
}

impl SigningKey {
    /// Wraps 32 secret bytes; fails if they are zero or not below the group order.
    pub fn from_bytes(secret: &[u8; 32]) -> Result<Self, DecodeError> {
        let secret = SecretKey::from_secret_bytes(*secret)
            .map_err(|e| DecodeError::invalid("secret key", e.to_string()))?;
        let public = PublicKey::from_secret_key(&secret);
        Ok(SigningKey { secret, public })
    }

    /// A development key derived from a seed phrase and an index:
    /// `secret = SHA-256("xrelay.devkey.v1" ‖ seed ‖ index as u32 big-endian)`, re-hashed in
    /// the (astronomically unlikely) case it is not a valid scalar. Never use for real funds.
    pub fn from_seed(seed: &str, index: u32) -> Self {
        let mut digest =
            sha256_concat(&[b"xrelay.devkey.v1", seed.as_bytes(), &index.to_be_bytes()]);
        loop {
            if let Ok(key) = SigningKey::from_bytes(&digest.0) {
                return key;
            }
            digest = sha256_concat(&[&digest.0]);
        }
    }

    /// The secret bytes, for writing a key file.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret.to_secret_bytes()
    }

    /// The compressed public key.
    pub fn public_key(&self) -> PublicKeyBytes {
        PublicKeyBytes::from_key(&self.public)
    }

    /// The EVM-style address of the key.
    pub fn address(&self) -> Address {
        Address::of(&self.public)
    }

    /// Signs a 32-byte digest (RFC 6979 deterministic nonce, low-s), returning `r ‖ s ‖ v`.
    pub fn sign_digest(&self, digest: &Hash32) -> Signature65 {
        let sig = RecoverableSignature::sign_ecdsa_recoverable(
            Message::from_digest(digest.0),
            &self.secret,
        );
        let (rec_id, compact) = sig.serialize_compact();
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&compact);
        out[64] = 27 + u8::from(rec_id);
        Signature65(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256;

    #[test]
    fn signatures_recover_to_the_signer() {
        let key = SigningKey::from_seed("test", 0);
        let digest = sha256(b"hello");
        let sig = key.sign_digest(&digest);
        assert_eq!(sig.recover_address(&digest).unwrap(), key.address());
        assert_ne!(
            sig.recover_address(&sha256(b"other")).unwrap(),
            key.address()
        );
        assert_eq!(key.public_key().address().unwrap(), key.address());
    }

    #[test]
    fn malformed_signatures_are_typed_errors() {
        let key = SigningKey::from_seed("test", 1);
        let digest = sha256(b"m");
        let sig = key.sign_digest(&digest);

        let mut bad_v = sig;
        bad_v.0[64] = 1;
        assert_eq!(
            bad_v.recover_address(&digest),
            Err(SignatureError::BadRecoveryByte(1))
        );

        let mut zero_r = sig;
        zero_r.0[..32].fill(0);
        assert_eq!(
            zero_r.recover_address(&digest),
            Err(SignatureError::ScalarOutOfRange)
        );

        let mut big_s = sig;
        big_s.0[32..64].copy_from_slice(&ORDER);
        assert_eq!(
            big_s.recover_address(&digest),
            Err(SignatureError::ScalarOutOfRange)
        );

        // The malleated twin (n - s, flipped v) recovers the same key but is refused.
        let mut high = sig;
        let s = &sig.0[32..64];
        let mut twin = [0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(ORDER[i]) - i16::from(s[i]) - borrow;
            borrow = i16::from(d < 0);
            twin[i] = (d + 256 * borrow) as u8;
        }
        high.0[32..64].copy_from_slice(&twin);
        high.0[64] = if sig.v() == 27 { 28 } else { 27 };
        assert_eq!(high.recover_address(&digest), Err(SignatureError::HighS));
    }

    #[test]
    fn dev_keys_are_deterministic_and_distinct() {
        assert_eq!(
            SigningKey::from_seed("s", 3).address(),
            SigningKey::from_seed("s", 3).address()
        );
        assert_ne!(
            SigningKey::from_seed("s", 3).address(),
            SigningKey::from_seed("s", 4).address()
        );
    }

    #[test]
    fn address_matches_the_ethereum_vector() {
        // Secret key 1: its address is well known.
        let mut secret = [0u8; 32];
        secret[31] = 1;
        let key = SigningKey::from_bytes(&secret).unwrap();
        assert_eq!(
            key.address().to_hex(),
            "7e5f4552091a69125d5dfcb7b8c2659029395bdf"
        );
    }
}
