//! Evidence that an EVM chain's validators (or an attestation committee) vouched for two
//! different blocks at one height, and the rule that freezes a client on it
//! (docs/PROTOCOL.md §12.7). Anyone can check it from the client alone: the evidence
//! carries the two blocks, the client holds the trusted set or committee they are checked
//! against.
//!
//! - QBFT / IBFT 2.0: two headers at one height with different block hashes, each final
//!   under the client's trusted set `T` (`verify_header`: ceil(2|T|/3) seals of `T`). Two
//!   such quorums share at least ceil(|T|/3) validators, who sealed both.
//! - Clique: two headers at one height with different hashes, each sealed (in turn as its
//!   difficulty says) by the same member of `T`.
//! - Attestation: two different attestations of one height each vouched for by the
//!   committee, or one that differs from a block the client holds (the rule of
//!   [`EvmClientState::freeze_on_conflict`]).

use crate::chain::{ChainId, Height};
use crate::crypto::Address;
use crate::encoding::{Decode, DecodeError, Encode, Reader, Writer};
use crate::evm::attest::{AttestError, Attested, Committee};
use crate::evm::client::{EvmClientState, FinalityMode};
use crate::evm::consensus::{verify_header, EvmConsensusError};
use crate::evm::header::{EvmHeader, MAX_HEADER_BYTES};
use crate::hash::{sha256_concat, Hash32};

/// Domain tag of the evidence hash (no tag of PROTOCOL.md §3 or §12 is its prefix).
pub const EVIDENCE_TAG: &[u8] = b"xrelay.evm-misbehaviour.v1";

/// Evidence against an EVM client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvmMisbehaviour {
    /// Seal modes: two headers at one height, both sealed under the trusted set.
    Headers {
        /// One header (boxed: headers are large beside an attestation).
        first: Box<EvmHeader>,
        /// The other, with another block hash.
        second: Box<EvmHeader>,
    },
    /// Attestation mode: two different attestations of one height, both vouched for.
    Attestations {
        /// One attestation.
        first: Attested,
        /// The other.
        second: Attested,
    },
    /// Attestation mode: one vouched-for attestation that differs from the block the
    /// client holds at its height.
    Conflict(Attested),
}

/// `u8 0` ‖ `bytes header_rlp` ‖ `bytes header_rlp` | `u8 1` ‖ `Attested` ‖ `Attested` |
/// `u8 2` ‖ `Attested`.
impl Encode for EvmMisbehaviour {
    fn encode_to(&self, w: &mut Writer) {
        match self {
            EvmMisbehaviour::Headers { first, second } => {
                w.u8(0).bytes(&first.encode()).bytes(&second.encode());
            }
            EvmMisbehaviour::Attestations { first, second } => {
                w.u8(1).put(first).put(second);
            }
            EvmMisbehaviour::Conflict(a) => {
                w.u8(2).put(a);
            }
        }
    }
}

fn header(r: &mut Reader<'_>) -> Result<EvmHeader, DecodeError> {
    let raw = r.bytes("header", MAX_HEADER_BYTES)?;
    EvmHeader::decode(raw).map_err(|e| DecodeError::invalid("header", e.to_string()))
}

impl Decode for EvmMisbehaviour {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(EvmMisbehaviour::Headers {
                first: Box::new(header(r)?),
                second: Box::new(header(r)?),
            }),
            1 => Ok(EvmMisbehaviour::Attestations {
                first: r.get()?,
                second: r.get()?,
            }),
            2 => Ok(EvmMisbehaviour::Conflict(r.get()?)),
            t => Err(DecodeError::invalid(
                "evm misbehaviour",
                format!("tag {t} is not 0, 1 or 2"),
            )),
        }
    }
}

impl EvmMisbehaviour {
    /// `SHA-256("xrelay.evm-misbehaviour.v1" ‖ EvmMisbehaviour)`: what a freeze records.
    pub fn hash(&self) -> Hash32 {
        sha256_concat(&[EVIDENCE_TAG, &self.encode()])
    }
}

/// Which block of the evidence a failure is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The first one.
    First,
    /// The second one.
    Second,
}

/// Why evidence does not freeze a client. Checking it changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvmMisbehaviourError {
    /// The evidence's kind does not fit the client's mode.
    #[error("{found} evidence for a client in {mode} mode")]
    ModeMismatch {
        /// The client's mode.
        mode: &'static str,
        /// What the evidence carries.
        found: &'static str,
    },
    /// The two blocks are at different heights.
    #[error("the evidence's blocks are at heights {first} and {second}")]
    HeightMismatch {
        /// The first block's height.
        first: Height,
        /// The second block's height.
        second: Height,
    },
    /// The two blocks are the same block (or the attested one is the block held).
    #[error("no conflict at height {0}")]
    NoConflict(Height),
    /// A header is not sealed under the trusted set.
    #[error("{which:?} header at height {height}: {error}")]
    Header {
        /// Which header.
        which: Which,
        /// Its height.
        height: Height,
        /// The rule that failed.
        error: EvmConsensusError,
    },
    /// An attestation is not vouched for by the committee.
    #[error("{which:?} attestation at height {height}: {error}")]
    Attestation {
        /// Which attestation.
        which: Which,
        /// Its height.
        height: Height,
        /// The rule that failed.
        error: AttestError,
    },
    /// An attestation is for another chain.
    #[error("attestation for chain {found}, the client follows {expected}")]
    WrongChain {
        /// The client's chain.
        expected: ChainId,
        /// The attestation's chain.
        found: ChainId,
    },
    /// Clique headers sealed by two different signers: each may seal one block per height.
    #[error("the headers were sealed by {first} and {second}, not by one signer twice")]
    SealersDiffer {
        /// The first header's sealer.
        first: Address,
        /// The second header's sealer.
        second: Address,
    },
}

impl EvmMisbehaviourError {
    /// A short stable label, for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            EvmMisbehaviourError::ModeMismatch { .. } => "mode_mismatch",
            EvmMisbehaviourError::HeightMismatch { .. } => "height_mismatch",
            EvmMisbehaviourError::NoConflict(_) => "no_conflict",
            EvmMisbehaviourError::Header { .. } => "bad_seal",
            EvmMisbehaviourError::Attestation { .. } => "bad_attestation",
            EvmMisbehaviourError::WrongChain { .. } => "wrong_chain",
            EvmMisbehaviourError::SealersDiffer { .. } => "sealers_differ",
        }
    }
}

impl EvmClientState {
    /// Checks `evidence` against the client's trusted set or committee and freezes the
    /// client; returns the height of the conflict. The checks, in order: the evidence fits
    /// the mode; headers: same height, different block hashes, each sealed under the
    /// trusted set (first, then second), Clique by one signer; attestations: same height,
    /// different, each for this chain and vouched for (first, then second); one
    /// attestation: for this chain, vouched for, and different from the block held at its
    /// height. Evidence against a frozen client is checked the same way (it stays frozen).
    pub fn freeze_on_misbehaviour(
        &mut self,
        evidence: &EvmMisbehaviour,
    ) -> Result<Height, EvmMisbehaviourError> {
        let height = match evidence {
            EvmMisbehaviour::Headers { first, second } => self.check_headers(first, second)?,
            EvmMisbehaviour::Attestations { first, second } => {
                let committee = self.committee("attestation")?;
                let (a, b) = (&first.attestation, &second.attestation);
                if a.height != b.height {
                    return Err(EvmMisbehaviourError::HeightMismatch {
                        first: a.height,
                        second: b.height,
                    });
                }
                if a == b {
                    return Err(EvmMisbehaviourError::NoConflict(a.height));
                }
                self.vouched(committee, first, Which::First)?;
                self.vouched(committee, second, Which::Second)?;
                a.height
            }
            EvmMisbehaviour::Conflict(attested) => {
                let committee = self.committee("attestation")?;
                self.vouched(committee, attested, Which::First)?;
                let a = &attested.attestation;
                match self.consensus_state(a.height) {
                    Some(held)
                        if held.block_hash != a.block_hash
                            || held.state_root != a.state_root
                            || held.time_ms != a.time_ms => {}
                    _ => return Err(EvmMisbehaviourError::NoConflict(a.height)),
                }
                a.height
            }
        };
        self.freeze();
        Ok(height)
    }

    fn check_headers(
        &self,
        first: &EvmHeader,
        second: &EvmHeader,
    ) -> Result<Height, EvmMisbehaviourError> {
        let Some(consensus) = self.mode().consensus() else {
            return Err(EvmMisbehaviourError::ModeMismatch {
                mode: self.mode().name(),
                found: "headers",
            });
        };
        if first.number != second.number {
            return Err(EvmMisbehaviourError::HeightMismatch {
                first: first.number,
                second: second.number,
            });
        }
        let height = first.number;
        let seal = |which| {
            move |error| EvmMisbehaviourError::Header {
                which,
                height,
                error,
            }
        };
        let first_hash = consensus.block_hash(first).map_err(seal(Which::First))?;
        let second_hash = consensus.block_hash(second).map_err(seal(Which::Second))?;
        if first_hash == second_hash {
            return Err(EvmMisbehaviourError::NoConflict(height));
        }
        let trusted = self.validators();
        let a = verify_header(consensus, first, trusted).map_err(seal(Which::First))?;
        let b = verify_header(consensus, second, trusted).map_err(seal(Which::Second))?;
        if let FinalityMode::Clique { .. } = self.mode() {
            if a.signers != b.signers {
                return Err(EvmMisbehaviourError::SealersDiffer {
                    first: a.signers[0],
                    second: b.signers[0],
                });
            }
        }
        Ok(height)
    }

    fn committee(&self, found: &'static str) -> Result<&Committee, EvmMisbehaviourError> {
        match self.mode() {
            FinalityMode::Attestation(committee) => Ok(committee),
            mode => Err(EvmMisbehaviourError::ModeMismatch {
                mode: mode.name(),
                found,
            }),
        }
    }

    fn vouched(
        &self,
        committee: &Committee,
        attested: &Attested,
        which: Which,
    ) -> Result<(), EvmMisbehaviourError> {
        let a = &attested.attestation;
        if &a.chain_id != self.chain_id() {
            return Err(EvmMisbehaviourError::WrongChain {
                expected: self.chain_id().clone(),
                found: a.chain_id.clone(),
            });
        }
        committee
            .verify(attested)
            .map(|_| ())
            .map_err(|error| EvmMisbehaviourError::Attestation {
                which,
                height: a.height,
                error,
            })
    }
}
