//! Attestation committees: finality for EVM chains whose headers carry no seals (anvil and
//! other development nodes). A committee of `n` secp256k1 attesters (relayer operators,
//! identified by their Ethereum addresses) each sign a digest of (chain, height, block
//! hash, state root, time); `k` valid signatures of distinct members make the block
//! trusted. What this trusts is the committee, not the chain: `k` colluding members can
//! attest any state root (docs/PROTOCOL.md §12).

use crate::chain::{ChainId, Height, TimeMs};
use crate::crypto::{Address, Signature65, SignatureError, SigningKey};
use crate::encoding::{decode_seq, encode_seq, Decode, DecodeError, Encode, Reader, Writer};
use crate::hash::{sha256_concat, Hash32};

/// Domain tag of the digest attesters sign (no tag of PROTOCOL.md §3 is its prefix).
pub const ATTEST_TAG: &[u8] = b"xrelay.evm-attest.v1";

/// Most attesters a committee may have; bounds decoding and verification work.
pub const MAX_ATTESTERS: usize = 256;

/// Encoded size of one (address, signature) pair.
const SIGNATURE_ENTRY_LEN: usize = 20 + 65;

/// What the committee vouches for: one block of an EVM chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// The EVM chain (its xrelay chain id, not the EIP-155 number).
    pub chain_id: ChainId,
    /// Block number.
    pub height: Height,
    /// keccak-256 of the block header's RLP.
    pub block_hash: Hash32,
    /// The header's state root: what storage proofs at this height are checked against.
    pub state_root: Hash32,
    /// The header's timestamp in milliseconds since the Unix epoch.
    pub time_ms: TimeMs,
}

impl Attestation {
    /// The 32 bytes each attester signs:
    /// `SHA-256("xrelay.evm-attest.v1" ‖ ChainId ‖ u64 height ‖ hash32 block_hash ‖
    /// hash32 state_root ‖ u64 time_ms)`.
    pub fn digest(&self) -> Hash32 {
        sha256_concat(&[ATTEST_TAG, &self.encode()])
    }

    /// One attester's signature over [`Attestation::digest`].
    pub fn sign(&self, key: &SigningKey) -> AttesterSignature {
        AttesterSignature {
            attester: key.address(),
            signature: key.sign_digest(&self.digest()),
        }
    }
}

impl Encode for Attestation {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.chain_id)
            .u64(self.height)
            .put(&self.block_hash)
            .put(&self.state_root)
            .u64(self.time_ms);
    }
}

impl Decode for Attestation {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Attestation {
            chain_id: r.get()?,
            height: r.u64()?,
            block_hash: r.get()?,
            state_root: r.get()?,
            time_ms: r.u64()?,
        })
    }
}

/// One member's signature, naming the member (so a verifier checks each signature against
/// one address instead of searching the committee).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttesterSignature {
    /// The member who signed.
    pub attester: Address,
    /// `r ‖ s ‖ v` over the attestation digest (PROTOCOL.md §4 rules).
    pub signature: Signature65,
}

impl Encode for AttesterSignature {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.attester).put(&self.signature);
    }
}

impl Decode for AttesterSignature {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AttesterSignature {
            attester: r.get()?,
            signature: r.get()?,
        })
    }
}

/// An attestation with the signatures collected for it: what a relayer submits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attested {
    /// The block vouched for.
    pub attestation: Attestation,
    /// Members' signatures, at most [`MAX_ATTESTERS`].
    pub signatures: Vec<AttesterSignature>,
}

impl Attested {
    /// `attestation` signed by each of `keys`, signatures in ascending attester order (the
    /// order is not checked by verification; sorting makes equal sets encode equally).
    pub fn sign(attestation: Attestation, keys: &[SigningKey]) -> Self {
        let mut signatures: Vec<_> = keys.iter().map(|k| attestation.sign(k)).collect();
        signatures.sort_by_key(|s| s.attester);
        Attested {
            attestation,
            signatures,
        }
    }

    /// Adds one more member's signature (a relayer collecting them from its peers),
    /// keeping ascending attester order. A second signature by the same attester replaces
    /// the first.
    pub fn add(&mut self, signature: AttesterSignature) {
        match self
            .signatures
            .binary_search_by_key(&signature.attester, |s| s.attester)
        {
            Ok(i) => self.signatures[i] = signature,
            Err(i) => self.signatures.insert(i, signature),
        }
    }
}

impl Encode for Attested {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.attestation);
        encode_seq(w, &self.signatures);
    }
}

impl Decode for Attested {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Attested {
            attestation: r.get()?,
            signatures: decode_seq(r, "attester signatures", MAX_ATTESTERS, SIGNATURE_ENTRY_LEN)?,
        })
    }
}

/// Why an attestation is not vouched for by the committee.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestError {
    /// A signature names an address that is not a member.
    #[error("signature {index} is by {attester}, who is not in the committee")]
    UnknownAttester {
        /// Index of the signature.
        index: usize,
        /// The address it names.
        attester: Address,
    },
    /// Two signatures name the same member.
    #[error("signature {index} repeats attester {attester}")]
    DuplicateAttester {
        /// Index of the second one.
        index: usize,
        /// The member.
        attester: Address,
    },
    /// A signature is malformed or was made by another key than the member it names.
    #[error("signature {index} by {attester} is invalid: {reason}")]
    BadSignature {
        /// Index of the signature.
        index: usize,
        /// The member it names.
        attester: Address,
        /// What failed.
        reason: BadSignature,
    },
    /// Fewer valid member signatures than the quorum.
    #[error("{signed} attester signature(s), the quorum is {quorum}")]
    BelowQuorum {
        /// Valid distinct members that signed.
        signed: usize,
        /// Signatures needed.
        quorum: usize,
    },
}

/// Why one signature does not authenticate the member it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSignature {
    /// The bytes break a rule of PROTOCOL.md §4.
    #[error("{0}")]
    Malformed(#[from] SignatureError),
    /// The signature recovers to another address.
    #[error("it recovers to {0}")]
    OtherSigner(Address),
}

/// Why a committee cannot be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitteeError {
    /// No members, or more than [`MAX_ATTESTERS`].
    #[error("a committee has 1 to {max} attesters, got {count}")]
    Size {
        /// Members given.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// The same address twice.
    #[error("attester {0} is listed twice")]
    Duplicate(Address),
    /// The quorum is 0 or above the member count.
    #[error("quorum {quorum} is outside 1..={members}")]
    Quorum {
        /// The quorum given.
        quorum: usize,
        /// Members.
        members: usize,
    },
}

/// `k` of `n` attesters, `n` distinct addresses kept in ascending order (one encoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committee {
    attesters: Vec<Address>,
    quorum: usize,
}

impl Committee {
    /// A committee of `attesters` (any order; sorted here) of which `quorum` must sign.
    pub fn new(mut attesters: Vec<Address>, quorum: usize) -> Result<Self, CommitteeError> {
        if attesters.is_empty() || attesters.len() > MAX_ATTESTERS {
            return Err(CommitteeError::Size {
                count: attesters.len(),
                max: MAX_ATTESTERS,
            });
        }
        attesters.sort_unstable();
        if let Some(w) = attesters.windows(2).find(|w| w[0] == w[1]) {
            return Err(CommitteeError::Duplicate(w[0]));
        }
        if quorum == 0 || quorum > attesters.len() {
            return Err(CommitteeError::Quorum {
                quorum,
                members: attesters.len(),
            });
        }
        Ok(Committee { attesters, quorum })
    }

    /// The members, ascending.
    pub fn attesters(&self) -> &[Address] {
        &self.attesters
    }

    /// Signatures of distinct members needed.
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// Checks that at least `quorum` distinct members signed the attestation's digest and
    /// that every signature present is a valid one by a member (one bad signature fails the
    /// whole attestation, so a relayer notices a broken peer). Returns the signers, in the
    /// order of the signatures.
    pub fn verify(&self, attested: &Attested) -> Result<Vec<Address>, AttestError> {
        let digest = attested.attestation.digest();
        let mut seen = vec![false; self.attesters.len()];
        let mut signers = Vec::with_capacity(attested.signatures.len());
        for (index, s) in attested.signatures.iter().enumerate() {
            let member = self.attesters.binary_search(&s.attester).map_err(|_| {
                AttestError::UnknownAttester {
                    index,
                    attester: s.attester,
                }
            })?;
            if std::mem::replace(&mut seen[member], true) {
                return Err(AttestError::DuplicateAttester {
                    index,
                    attester: s.attester,
                });
            }
            let bad = |reason| AttestError::BadSignature {
                index,
                attester: s.attester,
                reason,
            };
            let recovered = s
                .signature
                .recover_address(&digest)
                .map_err(|e| bad(BadSignature::Malformed(e)))?;
            if recovered != s.attester {
                return Err(bad(BadSignature::OtherSigner(recovered)));
            }
            signers.push(s.attester);
        }
        if signers.len() < self.quorum {
            return Err(AttestError::BelowQuorum {
                signed: signers.len(),
                quorum: self.quorum,
            });
        }
        Ok(signers)
    }
}

/// `seq<address>` (ascending, distinct, 1..=256) ‖ `u32 quorum` (1..=n).
impl Encode for Committee {
    fn encode_to(&self, w: &mut Writer) {
        encode_seq(w, &self.attesters);
        w.len_prefix(self.quorum);
    }
}

impl Decode for Committee {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let attesters: Vec<Address> = decode_seq(r, "attesters", MAX_ATTESTERS, 20)?;
        if attesters.windows(2).any(|w| w[0] >= w[1]) {
            return Err(DecodeError::invalid(
                "attesters",
                "addresses not strictly ascending",
            ));
        }
        let quorum = r.u32()? as usize;
        Committee::new(attesters, quorum)
            .map_err(|e| DecodeError::invalid("committee", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u32) -> Vec<SigningKey> {
        (0..n).map(|i| SigningKey::from_seed("attest", i)).collect()
    }

    fn attestation() -> Attestation {
        Attestation {
            chain_id: ChainId::new("anvil").unwrap(),
            height: 7,
            block_hash: Hash32([1; 32]),
            state_root: Hash32([2; 32]),
            time_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn digest_is_the_tagged_encoding() {
        let a = attestation();
        let mut pre = ATTEST_TAG.to_vec();
        pre.extend_from_slice(&[0, 0, 0, 5]);
        pre.extend_from_slice(b"anvil");
        pre.extend_from_slice(&7u64.to_be_bytes());
        pre.extend_from_slice(&[1; 32]);
        pre.extend_from_slice(&[2; 32]);
        pre.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
        assert_eq!(a.digest(), crate::hash::sha256(&pre));
        assert_eq!(Attestation::decode(&a.encode()).unwrap(), a);
    }

    #[test]
    fn quorum_of_members_verifies() {
        let ks = keys(4);
        let committee = Committee::new(ks.iter().map(SigningKey::address).collect(), 3).unwrap();
        let attested = Attested::sign(attestation(), &ks[..3]);
        assert_eq!(committee.verify(&attested).unwrap().len(), 3);
        let short = Attested::sign(attestation(), &ks[..2]);
        assert_eq!(
            committee.verify(&short),
            Err(AttestError::BelowQuorum {
                signed: 2,
                quorum: 3
            })
        );
    }
}
