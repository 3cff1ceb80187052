//! Block headers, the commits that sign them, and light blocks (a header with the validator
//! sets needed to verify it).

use serde::{Deserialize, Serialize};

use crate::chain::{ChainId, Height, TimeMs};
use crate::crypto::{Address, Signature65, SigningKey};
use crate::encoding::{decode_seq, encode_seq, Decode, DecodeError, Encode, Reader, Writer};
use crate::hash::{sha256_concat, Hash32};
use crate::validator::{ValidatorSet, MAX_VALIDATORS};

/// Domain tag of the header hash (the digest validators sign).
pub const HEADER_HASH_TAG: &[u8] = b"xrelay.header.v1";

/// A block header: everything a light client needs to follow a chain and check proofs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Header {
    /// The chain this block belongs to.
    pub chain_id: ChainId,
    /// Block height, starting at 1.
    pub height: Height,
    /// Block time in milliseconds since the Unix epoch; strictly increasing.
    pub time_ms: TimeMs,
    /// Hash of the previous block's header (zero for height 1).
    pub parent_hash: Hash32,
    /// Root of the state tree after this block's transactions.
    pub state_root: Hash32,
    /// Commitment to this block's transactions.
    pub tx_root: Hash32,
    /// Hash of the set that signs this header.
    pub validators_hash: Hash32,
    /// Hash of the set that signs the next header: how rotations are followed.
    pub next_validators_hash: Hash32,
    /// The validator that proposed the block.
    pub proposer: Address,
}

impl Header {
    /// `SHA-256("xrelay.header.v1" ‖ encoding)`: the block hash and the digest signed by
    /// validators (an EVM contract checks it with `sha256` and `ecrecover`).
    pub fn hash(&self) -> Hash32 {
        sha256_concat(&[HEADER_HASH_TAG, &self.encode()])
    }
}

impl Encode for Header {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.chain_id)
            .u64(self.height)
            .u64(self.time_ms)
            .put(&self.parent_hash)
            .put(&self.state_root)
            .put(&self.tx_root)
            .put(&self.validators_hash)
            .put(&self.next_validators_hash)
            .put(&self.proposer);
    }
}

impl Decode for Header {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Header {
            chain_id: r.get()?,
            height: r.u64()?,
            time_ms: r.u64()?,
            parent_hash: r.get()?,
            state_root: r.get()?,
            tx_root: r.get()?,
            validators_hash: r.get()?,
            next_validators_hash: r.get()?,
            proposer: r.get()?,
        })
    }
}

/// One validator's signature in a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CommitSig {
    /// Who claims to have signed; must be the address the signature recovers to.
    pub validator: Address,
    /// Signature of the header hash.
    pub signature: Signature65,
}

/// Encoded size of one [`CommitSig`].
pub const COMMIT_SIG_ENCODED_LEN: usize = 20 + 65;

impl Encode for CommitSig {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.validator).put(&self.signature);
    }
}

impl Decode for CommitSig {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CommitSig {
            validator: r.get()?,
            signature: r.get()?,
        })
    }
}

/// The validators' signatures of one header hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Commit {
    /// Height of the signed header.
    pub height: Height,
    /// Hash of the signed header.
    pub header_hash: Hash32,
    /// At most one signature per validator, in any order.
    pub signatures: Vec<CommitSig>,
}

impl Commit {
    /// Signs `header` with each key (a dev chain or a test builds commits this way).
    pub fn sign<'a>(header: &Header, keys: impl IntoIterator<Item = &'a SigningKey>) -> Self {
        let header_hash = header.hash();
        Commit {
            height: header.height,
            header_hash,
            signatures: keys
                .into_iter()
                .map(|k| CommitSig {
                    validator: k.address(),
                    signature: k.sign_digest(&header_hash),
                })
                .collect(),
        }
    }
}

impl Encode for Commit {
    fn encode_to(&self, w: &mut Writer) {
        w.u64(self.height).put(&self.header_hash);
        encode_seq(w, &self.signatures);
    }
}

impl Decode for Commit {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Commit {
            height: r.u64()?,
            header_hash: r.get()?,
            signatures: decode_seq(
                r,
                "commit signatures",
                MAX_VALIDATORS,
                COMMIT_SIG_ENCODED_LEN,
            )?,
        })
    }
}

/// A header with the commit that signs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedHeader {
    /// The header.
    pub header: Header,
    /// Signatures of its hash.
    pub commit: Commit,
}

impl Encode for SignedHeader {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.header).put(&self.commit);
    }
}

impl Decode for SignedHeader {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SignedHeader {
            header: r.get()?,
            commit: r.get()?,
        })
    }
}

/// What a light client needs to verify one header: the signed header, the set that signed
/// it and the set that will sign the next one (whose hash the header commits to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LightBlock {
    /// The header and its commit.
    pub signed_header: SignedHeader,
    /// The set whose hash is `header.validators_hash`.
    pub validators: ValidatorSet,
    /// The set whose hash is `header.next_validators_hash`.
    pub next_validators: ValidatorSet,
}

impl LightBlock {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.signed_header.header
    }

    /// The header's height.
    pub fn height(&self) -> Height {
        self.signed_header.header.height
    }
}

impl Encode for LightBlock {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.signed_header)
            .put(&self.validators)
            .put(&self.next_validators);
    }
}

impl Decode for LightBlock {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(LightBlock {
            signed_header: r.get()?,
            validators: r.get()?,
            next_validators: r.get()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample_header() -> Header {
        Header {
            chain_id: ChainId::new("alpha").unwrap(),
            height: 7,
            time_ms: 1_700_000_000_000,
            parent_hash: Hash32([1; 32]),
            state_root: Hash32([2; 32]),
            tx_root: Hash32([3; 32]),
            validators_hash: Hash32([4; 32]),
            next_validators_hash: Hash32([5; 32]),
            proposer: Address([6; 20]),
        }
    }

    #[test]
    fn header_layout_is_fixed() {
        let h = sample_header();
        let bytes = h.encode();
        assert_eq!(bytes.len(), 4 + 5 + 8 + 8 + 32 * 5 + 20);
        assert_eq!(Header::decode(&bytes).unwrap(), h);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Header::decode(&longer).is_err());
        assert!(Header::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn commits_round_trip() {
        let h = sample_header();
        let keys: Vec<_> = (0..3).map(|i| SigningKey::from_seed("c", i)).collect();
        let commit = Commit::sign(&h, &keys);
        assert_eq!(commit.header_hash, h.hash());
        let sh = SignedHeader { header: h, commit };
        assert_eq!(SignedHeader::decode(&sh.encode()).unwrap(), sh);
    }
}
