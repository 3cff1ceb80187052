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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SigningKey;
    use crate::evm::attest::Attestation;
    use crate::evm::client::{EvmClientError, EvmConsensusState, EvmUpdate};
    use crate::evm::istanbul::BftVariant;
    use crate::evm::testkit::{
        bft_block_hash, bft_header, bft_reseal, clique_header, clique_reseal,
    };
    use proptest::prelude::*;

    fn keys(seed: &str, n: u32) -> Vec<SigningKey> {
        (0..n).map(|i| SigningKey::from_seed(seed, i)).collect()
    }

    fn addresses(keys: &[SigningKey]) -> Vec<Address> {
        keys.iter().map(SigningKey::address).collect()
    }

    /// A QBFT client at genesis (4 validators) and two sealed blocks 1 with other roots.
    fn qbft_fork() -> (EvmClientState, Vec<SigningKey>, EvmHeader, EvmHeader) {
        let ks = keys("mb-qbft", 5);
        let set = addresses(&ks[..4]);
        let genesis = bft_header(BftVariant::Qbft, 0, Hash32::ZERO, 1_000, &set, None, &[]);
        let client = EvmClientState::from_header(
            ChainId::new("mb").unwrap(),
            FinalityMode::Qbft,
            &genesis,
            Address([0xaa; 20]),
        )
        .unwrap();
        let parent = bft_block_hash(BftVariant::Qbft, &genesis);
        let a = bft_header(BftVariant::Qbft, 1, parent, 1_001, &set, None, &ks[..3]);
        let mut b = a.clone();
        b.state_root = Hash32([0xbb; 32]);
        bft_reseal(BftVariant::Qbft, &mut b, &ks[1..4]);
        (client, ks, a, b)
    }

    fn headers(a: &EvmHeader, b: &EvmHeader) -> EvmMisbehaviour {
        EvmMisbehaviour::Headers {
            first: Box::new(a.clone()),
            second: Box::new(b.clone()),
        }
    }

    fn attested_client(committee: &[SigningKey]) -> EvmClientState {
        EvmClientState::new(
            ChainId::new("mb-anvil").unwrap(),
            FinalityMode::Attestation(Committee::new(addresses(committee), 2).unwrap()),
            vec![],
            Address([0xaa; 20]),
            10,
            EvmConsensusState {
                block_hash: Hash32([1; 32]),
                state_root: Hash32([2; 32]),
                time_ms: 10_000,
            },
        )
        .unwrap()
    }

    fn attestation(height: u64, root: u8) -> Attestation {
        Attestation {
            chain_id: ChainId::new("mb-anvil").unwrap(),
            height,
            block_hash: Hash32([height as u8; 32]),
            state_root: Hash32([root; 32]),
            time_ms: 10_000 + height,
        }
    }

    #[test]
    fn a_qbft_fork_under_the_trusted_set_freezes() {
        let (mut client, ks, a, b) = qbft_fork();
        assert_eq!(
            client.clone().freeze_on_misbehaviour(&headers(&a, &a)),
            Err(EvmMisbehaviourError::NoConflict(1))
        );
        let mut thin = b.clone();
        bft_reseal(BftVariant::Qbft, &mut thin, &ks[..2]);
        assert!(matches!(
            client.clone().freeze_on_misbehaviour(&headers(&a, &thin)),
            Err(EvmMisbehaviourError::Header {
                which: Which::Second,
                error: EvmConsensusError::Bft(
                    crate::evm::istanbul::BftError::InsufficientQuorum { .. }
                ),
                ..
            })
        ));
        let mut later = b.clone();
        later.number = 2;
        assert_eq!(
            client.clone().freeze_on_misbehaviour(&headers(&a, &later)),
            Err(EvmMisbehaviourError::HeightMismatch {
                first: 1,
                second: 2
            })
        );
        let conflict = EvmMisbehaviour::Conflict(Attested::sign(attestation(1, 1), &ks[..2]));
        assert!(matches!(
            client.clone().freeze_on_misbehaviour(&conflict),
            Err(EvmMisbehaviourError::ModeMismatch {
                mode: "qbft",
                found: "attestation"
            })
        ));
        let before = client.clone();
        assert_eq!(client.freeze_on_misbehaviour(&headers(&a, &b)), Ok(1));
        assert!(client.is_frozen() && !before.is_frozen());
        assert_eq!(
            client.update(&EvmUpdate::Headers(vec![a.clone()])),
            Err(EvmClientError::Frozen)
        );
        // Checked again, it stays frozen.
        assert_eq!(client.freeze_on_misbehaviour(&headers(&b, &a)), Ok(1));
    }

    #[test]
    fn clique_evidence_needs_one_signer_twice() {
        let mut ks = keys("mb-clique", 3);
        ks.sort_by_key(SigningKey::address);
        let set = addresses(&ks);
        let genesis = clique_header(0, Hash32::ZERO, 1_000, 100, &set, &set, &ks[0]);
        let mut client = EvmClientState::from_header(
            ChainId::new("mb-clique").unwrap(),
            FinalityMode::Clique { epoch: 100 },
            &genesis,
            Address([0xaa; 20]),
        )
        .unwrap();
        let a = clique_header(1, genesis.hash(), 1_015, 100, &set, &set, &ks[1]);
        let mut b = a.clone();
        b.state_root = Hash32([0xcc; 32]);
        clique_reseal(&mut b, &ks[1]);
        let mut other = b.clone();
        other.difficulty = alloy_primitives::U256::from(1);
        clique_reseal(&mut other, &ks[2]);
        assert_eq!(
            client.clone().freeze_on_misbehaviour(&headers(&a, &other)),
            Err(EvmMisbehaviourError::SealersDiffer {
                first: ks[1].address(),
                second: ks[2].address()
            })
        );
        assert_eq!(client.freeze_on_misbehaviour(&headers(&a, &b)), Ok(1));
        assert!(client.is_frozen());
    }

    #[test]
    fn conflicting_attestations_freeze() {
        let committee = keys("mb-attest", 3);
        let mut client = attested_client(&committee);
        let held = Attested::sign(attestation(12, 1), &committee[..2]);
        client.update(&EvmUpdate::Attested(held.clone())).unwrap();
        let twin = Attested::sign(attestation(12, 9), &committee[1..]);
        assert_eq!(
            client
                .clone()
                .freeze_on_misbehaviour(&EvmMisbehaviour::Conflict(held.clone())),
            Err(EvmMisbehaviourError::NoConflict(12))
        );
        let below = Attested::sign(attestation(12, 9), &committee[..1]);
        assert!(matches!(
            client
                .clone()
                .freeze_on_misbehaviour(&EvmMisbehaviour::Attestations {
                    first: held.clone(),
                    second: below
                }),
            Err(EvmMisbehaviourError::Attestation {
                which: Which::Second,
                error: AttestError::BelowQuorum { .. },
                ..
            })
        ));
        let pair = EvmMisbehaviour::Attestations {
            first: held,
            second: twin.clone(),
        };
        assert_eq!(client.clone().freeze_on_misbehaviour(&pair), Ok(12));
        assert_eq!(
            client.freeze_on_misbehaviour(&EvmMisbehaviour::Conflict(twin)),
            Ok(12)
        );
        assert!(client.is_frozen());
    }

    #[test]
    fn encoding_is_tagged_and_strict() {
        let (_, ks, a, b) = qbft_fork();
        let evidence = [
            headers(&a, &b),
            EvmMisbehaviour::Attestations {
                first: Attested::sign(attestation(3, 1), &ks[..2]),
                second: Attested::sign(attestation(3, 2), &ks[1..3]),
            },
            EvmMisbehaviour::Conflict(Attested::sign(attestation(4, 1), &ks[..1])),
        ];
        for (tag, e) in evidence.iter().enumerate() {
            let bytes = e.encode();
            assert_eq!(bytes[0] as usize, tag);
            assert_eq!(&EvmMisbehaviour::decode(&bytes).unwrap(), e);
            assert_eq!(e.hash(), sha256_concat(&[EVIDENCE_TAG, &bytes]));
            let mut trailing = bytes.clone();
            trailing.push(0);
            assert!(EvmMisbehaviour::decode(&trailing).is_err());
            assert!(EvmMisbehaviour::decode(&bytes[..bytes.len() - 1]).is_err());
        }
        assert!(EvmMisbehaviour::decode(&[3]).is_err());
        // A header that does not decode is refused by the evidence decoder.
        let mut w = Writer::default();
        w.u8(0).bytes(&[0xc0]).bytes(&a.encode());
        assert!(EvmMisbehaviour::decode(&w.into_vec()).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any bytes: the decoder never panics, and what it accepts re-encodes to the input.
        #[test]
        fn decoding_is_strict_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(e) = EvmMisbehaviour::decode(&bytes) {
                prop_assert_eq!(e.encode(), bytes);
            }
        }

        /// Attestation evidence with any fields round-trips; every truncation is refused.
        #[test]
        fn attestation_evidence_round_trips(
            height in any::<u64>(),
            root in any::<[u8; 32]>(),
            time_ms in any::<u64>(),
            signers in 0usize..4,
            cut in any::<prop::sample::Index>(),
        ) {
            let ks = keys("mb-prop", 3);
            let a = Attestation {
                chain_id: ChainId::new("mb-prop").unwrap(),
                height,
                block_hash: Hash32(root),
                state_root: Hash32(root),
                time_ms,
            };
            let e = EvmMisbehaviour::Attestations {
                first: Attested::sign(a.clone(), &ks[..signers.min(3)]),
                second: Attested::sign(Attestation { time_ms: time_ms ^ 1, ..a }, &ks[..1]),
            };
            let bytes = e.encode();
            prop_assert_eq!(EvmMisbehaviour::decode(&bytes).unwrap(), e);
            let at = cut.index(bytes.len());
            prop_assert!(EvmMisbehaviour::decode(&bytes[..at]).is_err());
        }
    }
}
