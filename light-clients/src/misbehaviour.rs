//! Misbehaviour evidence: proof, checkable by anyone holding a trusted state, that a
//! chain's validators signed two conflicting headers (a fork) or broke BFT time.

use serde::{Deserialize, Serialize};

use crate::chain::{Height, TimeMs};
use crate::encoding::{Decode, DecodeError, Encode, Reader, Writer};
use crate::hash::{sha256_concat, Hash32};
use crate::header::LightBlock;
use crate::validator::ValidatorSet;
use crate::verifier::{TrustedState, Verifier, VerifyError};

/// Domain tag of an evidence hash.
pub const MISBEHAVIOUR_HASH_TAG: &[u8] = b"xrelay.misbehaviour.v1";

/// Two validly committed headers that cannot both be honest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Misbehaviour {
    /// The trusted height both headers verify from.
    pub trusted_height: Height,
    /// The validator set that signs the header after `trusted_height` (checked against
    /// the trusted `next_validators_hash`).
    pub trusted_next_validators: ValidatorSet,
    /// One header.
    pub first: LightBlock,
    /// The conflicting header.
    pub second: LightBlock,
}

/// What kind of misbehaviour evidence shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MisbehaviourKind {
    /// Two different headers at one height: a fork.
    ConflictingHeaders {
        /// The forked height.
        height: Height,
    },
    /// A lower header with a time not before a higher one's: BFT time was broken.
    TimeViolation {
        /// The lower height.
        lower: Height,
        /// Its time.
        lower_time_ms: TimeMs,
        /// The higher height.
        higher: Height,
        /// Its (earlier or equal) time.
        higher_time_ms: TimeMs,
    },
}

/// Why evidence is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MisbehaviourError {
    /// The two headers are for different chains (or not the trusted one).
    #[error("evidence headers are for different chains")]
    ChainMismatch,
    /// The headers do not conflict: same header twice, or consistent heights and times.
    #[error("the two headers do not conflict")]
    NoConflict,
    /// The supplied trusted set does not match the trusted state.
    #[error("trusted validator set hash {found} is not the trusted one {expected}")]
    TrustedSetMismatch {
        /// Trusted next-validators hash.
        expected: Hash32,
        /// Hash of the supplied set.
        found: Hash32,
    },
    /// The evidence names a trusted height the verifier does not have.
    #[error("evidence trusted height {evidence} is not the trusted state's {trusted}")]
    TrustedHeightMismatch {
        /// Trusted state's height.
        trusted: Height,
        /// Evidence's trusted height.
        evidence: Height,
    },
    /// One of the headers is not validly committed.
    #[error("evidence header at height {height} does not verify: {error}")]
    InvalidHeader {
        /// Its height.
        height: Height,
        /// The rule it breaks.
        error: VerifyError,
    },
}

impl Misbehaviour {
    /// `SHA-256("xrelay.misbehaviour.v1" ‖ encoding)`: names the evidence in logs and state.
    pub fn hash(&self) -> Hash32 {
        sha256_concat(&[MISBEHAVIOUR_HASH_TAG, &self.encode()])
    }

    /// The kind of conflict the two headers show, without checking signatures.
    pub fn kind(&self) -> Result<MisbehaviourKind, MisbehaviourError> {
        let (a, b) = (self.first.header(), self.second.header());
        if a.chain_id != b.chain_id {
            return Err(MisbehaviourError::ChainMismatch);
        }
        if a.height == b.height {
            return if a.hash() != b.hash() {
                Ok(MisbehaviourKind::ConflictingHeaders { height: a.height })
            } else {
                Err(MisbehaviourError::NoConflict)
            };
        }
        let (lower, higher) = if a.height < b.height { (a, b) } else { (b, a) };
        if lower.time_ms >= higher.time_ms {
            Ok(MisbehaviourKind::TimeViolation {
                lower: lower.height,
                lower_time_ms: lower.time_ms,
                higher: higher.height,
                higher_time_ms: higher.time_ms,
            })
        } else {
            Err(MisbehaviourError::NoConflict)
        }
    }

    /// Re-verifies the evidence from a trusted state at `trusted_height`: the headers
    /// conflict and each is validly committed (as an update from `trusted` would require).
    pub fn verify(
        &self,
        trusted: &TrustedState,
        verifier: &Verifier,
        now_ms: TimeMs,
    ) -> Result<MisbehaviourKind, MisbehaviourError> {
        if trusted.height != self.trusted_height {
            return Err(MisbehaviourError::TrustedHeightMismatch {
                trusted: trusted.height,
                evidence: self.trusted_height,
            });
        }
        let expected = trusted.next_validators.hash();
        let found = self.trusted_next_validators.hash();
        if expected != found {
            return Err(MisbehaviourError::TrustedSetMismatch { expected, found });
        }
        let kind = self.kind()?;
        if self.first.header().chain_id != trusted.chain_id {
            return Err(MisbehaviourError::ChainMismatch);
        }
        for block in [&self.first, &self.second] {
            verifier.verify(trusted, block, now_ms).map_err(|error| {
                MisbehaviourError::InvalidHeader {
                    height: block.height(),
                    error,
                }
            })?;
        }
        Ok(kind)
    }
}

impl Encode for Misbehaviour {
    fn encode_to(&self, w: &mut Writer) {
        w.u64(self.trusted_height)
            .put(&self.trusted_next_validators)
            .put(&self.first)
            .put(&self.second);
    }
}

impl Decode for Misbehaviour {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Misbehaviour {
            trusted_height: r.u64()?,
            trusted_next_validators: r.get()?,
            first: r.get()?,
            second: r.get()?,
        })
    }
}
