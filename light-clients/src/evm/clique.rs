//! Clique (EIP-225) proof-of-authority seals, as go-ethereum and Besu check them.
//!
//! extraData = 32-byte vanity ‖ (at checkpoint blocks, every `epoch` blocks: the
//! authorised signers, 20 bytes each, ascending) ‖ 65-byte seal `r ‖ s ‖ v` (`v ∈ {0, 1}`).
//! The seal signs keccak-256 of the header RLP with the 65 seal bytes cut from extraData
//! (every other field, the checkpoint signer list included, stays). The block hash is
//! keccak-256 of the full header RLP. Clique predates Shanghai: a header with a
//! withdrawals root or later fields is not a Clique header.
//!
//! Finality is weaker than BFT: one authorised signer seals each block. What a light client
//! can check per header is that the sealer is authorised, that the difficulty says whether
//! it was the in-turn signer, and over a run of headers that no signer sealed more than one
//! of any `floor(N/2) + 1` consecutive blocks.

use crate::crypto::{Address, Signature65, SignatureError};
use crate::evm::header::EvmHeader;
use crate::hash::Hash32;

/// Bytes of vanity at the start of extraData.
pub const VANITY_LENGTH: usize = 32;
/// Bytes of the seal at the end of extraData.
pub const SEAL_LENGTH: usize = 65;
/// The checkpoint interval go-ethereum uses when a chain configures none.
pub const DEFAULT_EPOCH: u64 = 30_000;
/// Difficulty of a block sealed by the in-turn signer.
pub const DIFF_IN_TURN: u64 = 2;
/// Difficulty of a block sealed by any other authorised signer.
pub const DIFF_NO_TURN: u64 = 1;
/// The nonce voting to authorise the beneficiary.
pub const NONCE_AUTH: [u8; 8] = [0xff; 8];
/// The nonce voting to deauthorise the beneficiary (or casting no vote).
pub const NONCE_DROP: [u8; 8] = [0x00; 8];
/// keccak-256 of the RLP of an empty list: the ommers hash of every Clique block.
pub const EMPTY_OMMERS_HASH: Hash32 = Hash32([
    0x1d, 0xcc, 0x4d, 0xe8, 0xde, 0xc7, 0x5d, 0x7a, 0xab, 0x85, 0xb5, 0x67, 0xb6, 0xcc, 0xd4, 0x1a,
    0xd3, 0x12, 0x45, 0x1b, 0x94, 0x8a, 0x74, 0x13, 0xf0, 0xa1, 0x42, 0xfd, 0x40, 0xd4, 0x93, 0x47,
]);

/// Why a header is not an acceptable Clique block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliqueError {
    /// The epoch length is zero.
    #[error("the Clique epoch must be at least 1")]
    ZeroEpoch,
    /// extraData is shorter than vanity plus seal.
    #[error("extraData is {0} bytes, shorter than 32 bytes of vanity and a 65-byte seal")]
    ExtraDataTooShort(usize),
    /// A non-checkpoint block lists signers.
    #[error("block {number} is not a checkpoint but its extraData lists signers")]
    SignersOutsideCheckpoint {
        /// The block number.
        number: u64,
    },
    /// A checkpoint's signer list is not whole 20-byte addresses.
    #[error("checkpoint signer list is {0} bytes, not a multiple of 20")]
    CheckpointSignersLength(usize),
    /// A checkpoint's signer list is empty or not strictly ascending.
    #[error("checkpoint signer list is empty or not strictly ascending")]
    CheckpointSignersOrder,
    /// The nonce is neither the add nor the drop vote.
    #[error("nonce {} is not a Clique vote (all 0x00 or all 0xff)", hex::encode(.0))]
    InvalidVote([u8; 8]),
    /// A checkpoint carries a vote.
    #[error("checkpoint block carries a vote (beneficiary or nonce set)")]
    CheckpointVote,
    /// The mixHash is not zero.
    #[error("mixHash must be zero in Clique")]
    MixHash,
    /// The ommers hash is not that of an empty list.
    #[error("ommers hash is not that of an empty list")]
    OmmersHash,
    /// The header carries post-Shanghai fields, which Clique never seals.
    #[error("Clique headers end at the London base fee; this one has Shanghai or later fields")]
    PostShanghaiFields,
    /// The difficulty is not 1 or 2.
    #[error("difficulty must be 1 (out of turn) or 2 (in turn)")]
    Difficulty,
    /// The seal's recovery byte is not 0 or 1.
    #[error("seal recovery byte {0} is not 0 or 1")]
    SealRecoveryByte(u8),
    /// The seal is not a valid signature.
    #[error("seal: {0}")]
    BadSeal(SignatureError),
    /// The sealer is not an authorised signer.
    #[error("block sealed by {0}, not an authorised signer")]
    UnauthorizedSigner(Address),
    /// The difficulty claims the wrong turn.
    #[error("difficulty {difficulty} but the signer is {} turn", if *.in_turn { "in" } else { "out of" })]
    WrongDifficulty {
        /// The header's difficulty.
        difficulty: u64,
        /// Whether the signer was in turn.
        in_turn: bool,
    },
    /// The signer set to check against is empty or lists an address twice.
    #[error("the authorised signer set is empty or lists an address twice")]
    BadSignerSet,
    /// The headers of a run are not consecutive.
    #[error("block {number} follows block {previous}: a run must be consecutive")]
    NotConsecutive {
        /// Number of the out-of-place block.
        number: u64,
        /// Number of the block before it in the run.
        previous: u64,
    },
    /// A signer sealed twice within `floor(N/2) + 1` consecutive blocks.
    #[error("{signer} sealed block {number} and, too recently, block {previous}")]
    RecentlySigned {
        /// The signer.
        signer: Address,
        /// The later block.
        number: u64,
        /// The earlier block it also sealed.
        previous: u64,
    },
}

/// A vote cast in a Clique header: the beneficiary is the subject, the nonce the direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CliqueVote {
    /// The signer voted on.
    pub subject: Address,
    /// `true` to authorise it, `false` to deauthorise it.
    pub authorize: bool,
}

/// The Clique parts of a header: where extraData splits, and the vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliqueHeader<'a> {
    /// The header.
    pub header: &'a EvmHeader,
    /// The signer list, at a checkpoint block.
    pub checkpoint_signers: Option<Vec<Address>>,
    /// The vote cast, if the beneficiary is not zero.
    pub vote: Option<CliqueVote>,
    /// The seal.
    pub seal: [u8; SEAL_LENGTH],
}

impl<'a> CliqueHeader<'a> {
    /// Splits a header's extraData and checks the fields Clique fixes (mixHash, ommers,
    /// nonce, difficulty, signers only at checkpoints, no post-London fields).
    pub fn parse(header: &'a EvmHeader, epoch: u64) -> Result<Self, CliqueError> {
        if epoch == 0 {
            return Err(CliqueError::ZeroEpoch);
        }
        if header.withdrawals_root.is_some()
            || header.blob_gas.is_some()
            || header.requests_hash.is_some()
        {
            return Err(CliqueError::PostShanghaiFields);
        }
        let extra = &header.extra_data;
        if extra.len() < VANITY_LENGTH + SEAL_LENGTH {
            return Err(CliqueError::ExtraDataTooShort(extra.len()));
        }
        let signer_bytes = &extra[VANITY_LENGTH..extra.len() - SEAL_LENGTH];
        let checkpoint = header.number.is_multiple_of(epoch);
        let checkpoint_signers = if checkpoint {
            if !signer_bytes.len().is_multiple_of(20) {
                return Err(CliqueError::CheckpointSignersLength(signer_bytes.len()));
            }
            let signers: Vec<Address> = signer_bytes
                .chunks_exact(20)
                .map(|c| {
                    let mut address = [0u8; 20];
                    address.copy_from_slice(c);
                    Address(address)
                })
                .collect();
            if signers.is_empty() || signers.windows(2).any(|w| w[0] >= w[1]) {
                return Err(CliqueError::CheckpointSignersOrder);
            }
            Some(signers)
        } else {
            if !signer_bytes.is_empty() {
                return Err(CliqueError::SignersOutsideCheckpoint {
                    number: header.number,
                });
            }
            None
        };

        let authorize = match header.nonce {
            NONCE_AUTH => true,
            NONCE_DROP => false,
            other => return Err(CliqueError::InvalidVote(other)),
        };
        let vote = (header.beneficiary != Address::default()).then_some(CliqueVote {
            subject: header.beneficiary,
            authorize,
        });
        if checkpoint && (vote.is_some() || authorize) {
            return Err(CliqueError::CheckpointVote);
        }
        if header.mix_hash != Hash32::ZERO {
            return Err(CliqueError::MixHash);
        }
        if header.ommers_hash != EMPTY_OMMERS_HASH {
            return Err(CliqueError::OmmersHash);
        }
        if header.difficulty != alloy_primitives::U256::from(DIFF_IN_TURN)
            && header.difficulty != alloy_primitives::U256::from(DIFF_NO_TURN)
        {
            return Err(CliqueError::Difficulty);
        }

        let mut seal = [0u8; SEAL_LENGTH];
        seal.copy_from_slice(&extra[extra.len() - SEAL_LENGTH..]);
        Ok(CliqueHeader {
            header,
            checkpoint_signers,
            vote,
            seal,
        })
    }

    /// The digest the seal signs: keccak-256 of the header RLP with extraData minus its last
    /// 65 bytes.
    pub fn seal_hash(&self) -> Hash32 {
        let extra = &self.header.extra_data;
        self.header
            .hash_with_extra_data(&extra[..extra.len() - SEAL_LENGTH])
    }

    /// The address that sealed the header.
    pub fn signer(&self) -> Result<Address, CliqueError> {
        let v = self.seal[64];
        if v > 1 {
            return Err(CliqueError::SealRecoveryByte(v));
        }
        let mut sig = Signature65(self.seal);
        sig.0[64] = 27 + v;
        sig.recover_address(&self.seal_hash())
            .map_err(CliqueError::BadSeal)
    }

    /// Whether the header was in turn: its difficulty is 2.
    pub fn claims_in_turn(&self) -> bool {
        self.header.difficulty == alloy_primitives::U256::from(DIFF_IN_TURN)
    }

    /// Recovers the sealer and checks it is one of `signers` (the authorised set for this
    /// block) and that the difficulty matches its turn: the in-turn signer of block `n` is
    /// the `n mod N`-th of the ascending signer list. Returns the sealer.
    pub fn verify_signer(&self, signers: &[Address]) -> Result<Address, CliqueError> {
        let mut sorted = signers.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.is_empty() || sorted.len() != signers.len() {
            return Err(CliqueError::BadSignerSet);
        }
        let signer = self.signer()?;
        let position = sorted
            .iter()
            .position(|s| *s == signer)
            .ok_or(CliqueError::UnauthorizedSigner(signer))?;
        let in_turn = self.header.number % sorted.len() as u64 == position as u64;
        if in_turn != self.claims_in_turn() {
            return Err(CliqueError::WrongDifficulty {
                difficulty: if self.claims_in_turn() {
                    DIFF_IN_TURN
                } else {
                    DIFF_NO_TURN
                },
                in_turn,
            });
        }
        Ok(signer)
    }
}

/// Checks EIP-225's "signed recently" rule over a run of consecutive blocks given as
/// `(number, sealer)`: with `signer_count` authorised signers, a signer may seal at most one
/// of any `floor(signer_count / 2) + 1` consecutive blocks.
pub fn check_recent_signers(
    run: &[(u64, Address)],
    signer_count: usize,
) -> Result<(), CliqueError> {
    if signer_count == 0 {
        return Err(CliqueError::BadSignerSet);
    }
    for (i, &(number, signer)) in run.iter().enumerate() {
        check_recently_signed(&run[..i], number, signer, signer_count)?;
    }
    Ok(())
}

/// The "signed recently" rule for the block after `earlier` (consecutive blocks of one run,
/// ascending, as `(number, sealer)`): block `number` sealed by `signer`, while
/// `signer_count` signers are authorised, is refused if `signer` sealed one of the
/// `floor(signer_count / 2)` blocks before it. This is how a client checks each header of
/// an update as it goes, with the signer count in force at that header.
pub fn check_recently_signed(
    earlier: &[(u64, Address)],
    number: u64,
    signer: Address,
    signer_count: usize,
) -> Result<(), CliqueError> {
    if signer_count == 0 {
        return Err(CliqueError::BadSignerSet);
    }
    if let Some(&(previous, _)) = earlier.last() {
        if previous.checked_add(1) != Some(number) {
            return Err(CliqueError::NotConsecutive { number, previous });
        }
    }
    let window = (signer_count / 2 + 1) as u64;
    // Blocks within the window before this one: numbers in (number - window, number).
    let mut within = earlier
        .iter()
        .rev()
        .take_while(|(n, _)| number - n < window);
    match within.find(|(_, s)| *s == signer) {
        Some(&(previous, _)) => Err(CliqueError::RecentlySigned {
            signer,
            number,
            previous,
        }),
        None => Ok(()),
    }
}
