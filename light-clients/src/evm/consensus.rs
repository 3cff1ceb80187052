//! One entry point for "is this EVM header final/sealed by these validators?", whatever
//! consensus the chain runs: QBFT, IBFT 2.0 or Clique. The relayer's EVM light client and
//! the CLI (`xrelay verify evm-header`) call [`verify_header`]; the per-consensus rules live
//! in `evm::istanbul` and `evm::clique`.

use std::fmt;
use std::str::FromStr;

use crate::crypto::Address;
use crate::evm::clique::{self, CliqueError, CliqueHeader};
use crate::evm::header::EvmHeader;
use crate::evm::istanbul::{self, check_validator_set, BftError, BftHeader, BftVariant};
use crate::hash::Hash32;

/// The consensus protocol whose seals a header carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvmConsensus {
    /// QBFT (Besu, GoQuorum): committed seals from ceil(2n/3) validators.
    Qbft,
    /// IBFT 2.0 (Besu): committed seals from ceil(2n/3) validators.
    Ibft2,
    /// Clique (EIP-225): one authorised signer's seal.
    Clique {
        /// Checkpoint interval: blocks whose number is a multiple of it list the signers.
        epoch: u64,
    },
}

impl EvmConsensus {
    /// Clique with go-ethereum's default epoch of 30,000 blocks.
    pub const CLIQUE: EvmConsensus = EvmConsensus::Clique {
        epoch: clique::DEFAULT_EPOCH,
    };

    /// The validators a header itself names: for QBFT and IBFT 2.0 the list in its
    /// extraData (the validators of that block, which also sign the next one unless its
    /// vote changes the set), for Clique the signer list of a checkpoint block (`None`
    /// between checkpoints). This is what a client trusts when it has no other source,
    /// e.g. for a header it takes as its trust anchor.
    pub fn header_validators(
        self,
        header: &EvmHeader,
    ) -> Result<Option<Vec<Address>>, EvmConsensusError> {
        match self {
            EvmConsensus::Qbft | EvmConsensus::Ibft2 => {
                let parsed = BftHeader::parse(self.bft_variant_or_qbft(), header)?;
                Ok(Some(parsed.extra.validators))
            }
            EvmConsensus::Clique { epoch } => {
                Ok(CliqueHeader::parse(header, epoch)?.checkpoint_signers)
            }
        }
    }

    /// The hash the chain itself gives the block, which the next header's parentHash
    /// repeats: for QBFT and IBFT 2.0 the header hashed without seals and round, for Clique
    /// keccak-256 of the full header.
    pub fn block_hash(self, header: &EvmHeader) -> Result<Hash32, EvmConsensusError> {
        match self {
            EvmConsensus::Qbft | EvmConsensus::Ibft2 => {
                Ok(BftHeader::parse(self.bft_variant_or_qbft(), header)?.block_hash())
            }
            EvmConsensus::Clique { .. } => Ok(header.hash()),
        }
    }

    fn bft_variant_or_qbft(self) -> BftVariant {
        match self {
            EvmConsensus::Ibft2 => BftVariant::Ibft2,
            _ => BftVariant::Qbft,
        }
    }
}

impl fmt::Display for EvmConsensus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvmConsensus::Qbft => f.write_str("qbft"),
            EvmConsensus::Ibft2 => f.write_str("ibft2"),
            EvmConsensus::Clique { .. } => f.write_str("clique"),
        }
    }
}

/// The name is not a consensus this crate verifies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown EVM consensus '{0}' (expected qbft, ibft2 or clique)")]
pub struct UnknownConsensus(pub String);

impl FromStr for EvmConsensus {
    type Err = UnknownConsensus;

    /// `qbft`, `ibft2` (or `ibft`), `clique` (default epoch), case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "qbft" => Ok(EvmConsensus::Qbft),
            "ibft2" | "ibft" | "ibft2.0" => Ok(EvmConsensus::Ibft2),
            "clique" => Ok(EvmConsensus::CLIQUE),
            _ => Err(UnknownConsensus(s.to_string())),
        }
    }
}

/// Why a header's seals do not make it final/authorised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvmConsensusError {
    /// QBFT / IBFT 2.0 rule broken.
    #[error(transparent)]
    Bft(#[from] BftError),
    /// Clique rule broken.
    #[error(transparent)]
    Clique(#[from] CliqueError),
}

/// A vote to change the validator set, carried by the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VoteCast {
    /// The validator voted on.
    pub subject: Address,
    /// `true` to add it, `false` to remove it.
    pub authorize: bool,
}

/// What a successful verification established about a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealVerdict {
    /// The consensus checked.
    pub consensus: EvmConsensus,
    /// Block number.
    pub number: u64,
    /// The block hash as the chain gives it (see [`EvmConsensus::block_hash`]).
    pub hash: Hash32,
    /// The digest the seals signed.
    pub seal_digest: Hash32,
    /// The validators whose seals verified, in seal order (Clique: the one sealer).
    pub signers: Vec<Address>,
    /// Seals required from the set (BFT: ceil(2n/3); Clique: 1).
    pub required: usize,
    /// Size of the validator set checked against.
    pub validator_count: usize,
    /// Clique only: whether the sealer was the in-turn signer (difficulty 2).
    pub in_turn: Option<bool>,
    /// The validators the header names for what follows: BFT, the list in its extraData;
    /// Clique, the checkpoint signer list (`None` between checkpoints).
    pub next_validators: Option<Vec<Address>>,
    /// The vote the header carries, if any.
    pub vote: Option<VoteCast>,
}

/// Verifies the seals of `header` under `consensus` against `validators`, the set that must
/// seal this block (QBFT / IBFT 2.0: the validators after the parent block, which Besu
/// requires the header's own extraData to list; Clique: the authorised signers after the
/// parent). Pass [`EvmConsensus::header_validators`] when the header itself is trusted.
pub fn verify_header(
    consensus: EvmConsensus,
    header: &EvmHeader,
    validators: &[Address],
) -> Result<SealVerdict, EvmConsensusError> {
    match consensus {
        EvmConsensus::Qbft | EvmConsensus::Ibft2 => {
            let bft = BftHeader::parse(consensus.bft_variant_or_qbft(), header)?;
            let signers = bft.verify_seals(validators)?;
            Ok(SealVerdict {
                consensus,
                number: header.number,
                hash: bft.block_hash(),
                seal_digest: bft.seal_digest(),
                signers,
                required: istanbul::quorum(validators.len()),
                validator_count: validators.len(),
                in_turn: None,
                next_validators: Some(bft.extra.validators.clone()),
                vote: bft.extra.vote.map(|v| VoteCast {
                    subject: v.recipient,
                    authorize: v.authorize,
                }),
            })
        }
        EvmConsensus::Clique { epoch } => {
            let parsed = CliqueHeader::parse(header, epoch)?;
            let signer = parsed.verify_signer(validators)?;
            Ok(SealVerdict {
                consensus,
                number: header.number,
                hash: header.hash(),
                seal_digest: parsed.seal_hash(),
                signers: vec![signer],
                required: 1,
                validator_count: validators.len(),
                in_turn: Some(parsed.claims_in_turn()),
                next_validators: parsed.checkpoint_signers.clone(),
                vote: parsed.vote.map(|v| VoteCast {
                    subject: v.subject,
                    authorize: v.authorize,
                }),
            })
        }
    }
}

/// Verifies a header that may change the validator set, for a client that trusts
/// `trusted` (the set that sealed the parent, as the client knows it).
///
/// QBFT / IBFT 2.0: Besu requires a block's extraData to list the validators that must seal
/// it (the set after the parent's vote), so the header is first checked against its own
/// list with the full rule of [`verify_header`]; then more than a third of `trusted`
/// ([`istanbul::trust_threshold`]) must be among its sealers, so that with fewer than a
/// third of the trusted set faulty an honest trusted validator vouched for the new list.
/// Without a change this is [`verify_header`] against `trusted`; with one it accepts the
/// blocks Besu accepts (a removed validator's absence can leave fewer seals than a
/// two-thirds quorum of the old set, and an added validator's seal is unknown to it).
///
/// Clique: the sealer must be in `trusted`, as in [`verify_header`] (the signer set changes
/// are read from checkpoint blocks).
pub fn verify_header_transition(
    consensus: EvmConsensus,
    header: &EvmHeader,
    trusted: &[Address],
) -> Result<SealVerdict, EvmConsensusError> {
    match consensus {
        EvmConsensus::Qbft | EvmConsensus::Ibft2 => {
            check_validator_set(trusted)?;
            let listed = BftHeader::parse(consensus.bft_variant_or_qbft(), header)?
                .extra
                .validators;
            let verdict = verify_header(consensus, header, &listed)?;
            let vouching = verdict
                .signers
                .iter()
                .filter(|s| trusted.contains(s))
                .count();
            let required = istanbul::trust_threshold(trusted.len());
            if vouching < required {
                return Err(BftError::InsufficientTrustedSigners {
                    signed: vouching,
                    required,
                    trusted: trusted.len(),
                }
                .into());
            }
            Ok(verdict)
        }
        EvmConsensus::Clique { .. } => verify_header(consensus, header, trusted),
    }
}
