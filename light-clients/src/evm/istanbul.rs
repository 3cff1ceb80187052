//! QBFT and IBFT 2.0 finality, the BFT family of Hyperledger Besu (GoQuorum's QBFT writes
//! the same bytes). A block is final once a quorum of its validators signed it; the
//! signatures ("committed seals") travel in the header's extraData, so the seals cannot sign
//! the header as it is. This module decodes the extraData, rebuilds the bytes each seal
//! signs and the block hash the chain uses, and counts distinct known signers.
//!
//! extraData is the RLP list `[vanity (32 bytes), validators, vote, round, seals]`:
//!
//! | field | QBFT | IBFT 2.0 |
//! | --- | --- | --- |
//! | no vote | empty list `0xc0` | empty string `0x80` |
//! | vote | `[address, 0x81ff]` add, `[address, 0x80]` drop | `[address, 0x81ff]` add, `[address, 0x00]` drop |
//! | round | RLP integer (`0x80` for 0) | 4 bytes big-endian (`0x84 …`) |
//!
//! What is hashed (both variants keccak-256 the header RLP with extraData replaced; the
//! genesis block, number 0, is hashed with its extraData as it is):
//!
//! | digest | QBFT extraData | IBFT 2.0 extraData |
//! | --- | --- | --- |
//! | committed seal | `[vanity, validators, vote, round, []]` | `[vanity, validators, vote, round]` |
//! | block hash | `[vanity, validators, vote, 0, []]` | `[vanity, validators, vote]` |
//!
//! Each seal is `r ‖ s ‖ v` with `v ∈ {0, 1}` (Besu's `SECPSignature` encoding).

use alloy_rlp::{Encodable, Header as RlpHeader, PayloadView, EMPTY_LIST_CODE, EMPTY_STRING_CODE};

use crate::crypto::{Address, Signature65, SignatureError};
use crate::evm::header::EvmHeader;
use crate::hash::Hash32;

/// Length of the vanity field every BFT extraData starts with.
pub const VANITY_LENGTH: usize = 32;

/// The mixHash every QBFT and IBFT 2.0 block carries ("Istanbul digest").
pub const ISTANBUL_MIX_HASH: Hash32 = Hash32([
    0x63, 0x74, 0x69, 0x63, 0x61, 0x6c, 0x20, 0x62, 0x79, 0x7a, 0x61, 0x6e, 0x74, 0x69, 0x6e, 0x65,
    0x20, 0x66, 0x61, 0x75, 0x6c, 0x74, 0x20, 0x74, 0x6f, 0x6c, 0x65, 0x72, 0x61, 0x6e, 0x63, 0x65,
]);

/// The vote byte Besu writes for "add this validator".
const VOTE_ADD: u8 = 0xff;

/// Which member of the BFT family wrote a header: the two differ in how extraData encodes
/// the vote and the round, and in what the hashes leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BftVariant {
    /// QBFT (Besu, GoQuorum).
    Qbft,
    /// IBFT 2.0 (Besu).
    Ibft2,
}

/// Why a BFT header's extraData or seals are not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BftError {
    /// extraData is not well-formed RLP.
    #[error("extraData RLP: {0}")]
    Rlp(alloy_rlp::Error),
    /// extraData is RLP but not the BFT structure (wrong item count or item kind).
    #[error("extraData is not a {variant:?} structure: {reason}")]
    Shape {
        /// The variant decoding was attempted for.
        variant: BftVariant,
        /// What was wrong.
        reason: &'static str,
    },
    /// The vanity field is not 32 bytes.
    #[error("extraData vanity is {0} bytes, expected 32")]
    VanityLength(usize),
    /// extraData decodes but is not the one encoding the chain writes, so the seals could
    /// not have signed the bytes rebuilt from it.
    #[error("extraData is not canonically encoded")]
    NonCanonical,
    /// The header's mixHash is not the Istanbul digest: not a BFT header.
    #[error("mixHash {0} is not the Istanbul digest of a BFT header")]
    MixHash(Hash32),
    /// A seal's recovery byte is not 0 or 1.
    #[error("seal {index}: recovery byte {v} is not 0 or 1")]
    SealRecoveryByte {
        /// Position of the seal in extraData.
        index: usize,
        /// The byte found.
        v: u8,
    },
    /// A seal is not a valid signature (scalar out of range, high s, unrecoverable).
    #[error("seal {index}: {source}")]
    BadSeal {
        /// Position of the seal in extraData.
        index: usize,
        /// Why it does not authenticate a signer.
        source: SignatureError,
    },
    /// A seal was made by a key outside the validator set.
    #[error("seal {index} was signed by {signer}, not a validator of this block")]
    UnknownSigner {
        /// Position of the seal in extraData.
        index: usize,
        /// The recovered address.
        signer: Address,
    },
    /// Two seals recover to the same validator.
    #[error("validator {signer} sealed the block twice")]
    DuplicateSigner {
        /// The validator.
        signer: Address,
    },
    /// Fewer distinct validators sealed the block than the quorum.
    #[error("{signed} of {validators} validators sealed the block, {required} required")]
    InsufficientQuorum {
        /// Distinct validators that sealed.
        signed: usize,
        /// Required: ceil(2n/3).
        required: usize,
        /// Size of the validator set.
        validators: usize,
    },
    /// Too few members of the previously trusted set sealed a block that changes the set
    /// (see `evm::consensus::verify_header_transition`).
    #[error("{signed} of {trusted} trusted validators sealed the block, {required} required to hand on a new set")]
    InsufficientTrustedSigners {
        /// Trusted validators among the sealers.
        signed: usize,
        /// Required: more than a third of the trusted set.
        required: usize,
        /// Size of the trusted set.
        trusted: usize,
    },
    /// The validator set to check against is empty.
    #[error("the validator set is empty")]
    EmptyValidatorSet,
    /// The validator set to check against lists an address twice.
    #[error("validator {0} is listed twice")]
    DuplicateValidator(Address),
}

/// A proposal, carried in a block, to add or remove a validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValidatorVote {
    /// The validator voted on.
    pub recipient: Address,
    /// `true` to add it, `false` to remove it.
    pub authorize: bool,
}

/// The decoded extraData of a QBFT or IBFT 2.0 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BftExtraData {
    /// Which variant's encoding it uses.
    pub variant: BftVariant,
    /// 32 bytes of free-form data.
    pub vanity: [u8; VANITY_LENGTH],
    /// The validators of this block, in the order listed (Besu lists them ascending).
    pub validators: Vec<Address>,
    /// The vote this block carries, if any.
    pub vote: Option<ValidatorVote>,
    /// The consensus round the block was agreed in.
    pub round: u32,
    /// Committed seals, 65 bytes each (`r ‖ s ‖ v`, `v ∈ {0, 1}`).
    pub seals: Vec<[u8; 65]>,
}

/// Which parts of extraData an encoding keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Everything (the header as the chain stores it).
    All,
    /// Everything but the seals (what each committed seal signs).
    WithoutSeals,
    /// Neither seals nor round (what the block hash covers).
    WithoutSealsAndRound,
}

fn list_items(bytes: &[u8]) -> Result<Vec<&[u8]>, alloy_rlp::Error> {
    let mut rest = bytes;
    match RlpHeader::decode_raw(&mut rest)? {
        PayloadView::List(items) if rest.is_empty() => Ok(items),
        PayloadView::List(_) => Err(alloy_rlp::Error::UnexpectedLength),
        PayloadView::String(_) => Err(alloy_rlp::Error::UnexpectedString),
    }
}

fn string_item(item: &[u8]) -> Result<&[u8], alloy_rlp::Error> {
    let mut rest = item;
    let bytes = RlpHeader::decode_bytes(&mut rest, false)?;
    if !rest.is_empty() {
        return Err(alloy_rlp::Error::UnexpectedLength);
    }
    Ok(bytes)
}

impl BftExtraData {
    /// Decodes a header's extraData as `variant` writes it, refusing anything but the exact
    /// bytes the chain's encoder produces (so re-encoding parts of it reproduces what the
    /// seals signed).
    pub fn decode(variant: BftVariant, extra_data: &[u8]) -> Result<Self, BftError> {
        let shape = |reason| BftError::Shape { variant, reason };
        let items = list_items(extra_data).map_err(BftError::Rlp)?;
        if items.len() != 5 {
            return Err(shape("extraData must be a list of 5 items"));
        }

        let vanity_bytes = string_item(items[0]).map_err(|_| shape("vanity must be bytes"))?;
        let vanity: [u8; VANITY_LENGTH] = vanity_bytes
            .try_into()
            .map_err(|_| BftError::VanityLength(vanity_bytes.len()))?;

        let validators = list_items(items[1])
            .map_err(|_| shape("validators must be a list"))?
            .into_iter()
            .map(|item| {
                string_item(item)
                    .ok()
                    .and_then(|b| <[u8; 20]>::try_from(b).ok())
                    .map(Address)
                    .ok_or_else(|| shape("a validator must be 20 bytes"))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let vote = decode_vote(variant, items[2])?;

        let round = match variant {
            BftVariant::Qbft => {
                let mut item = items[3];
                let round = <u32 as alloy_rlp::Decodable>::decode(&mut item)
                    .map_err(|_| shape("round must be an RLP integer"))?;
                if !item.is_empty() {
                    return Err(shape("round must be an RLP integer"));
                }
                round
            }
            BftVariant::Ibft2 => {
                let bytes = string_item(items[3]).map_err(|_| shape("round must be 4 bytes"))?;
                u32::from_be_bytes(
                    bytes
                        .try_into()
                        .map_err(|_| shape("round must be 4 bytes"))?,
                )
            }
        };

        let seals = list_items(items[4])
            .map_err(|_| shape("seals must be a list"))?
            .into_iter()
            .map(|item| {
                string_item(item)
                    .ok()
                    .and_then(|b| <[u8; 65]>::try_from(b).ok())
                    .ok_or_else(|| shape("a seal must be 65 bytes"))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let decoded = BftExtraData {
            variant,
            vanity,
            validators,
            vote,
            round,
            seals,
        };
        if decoded.encode() != extra_data {
            return Err(BftError::NonCanonical);
        }
        Ok(decoded)
    }

    /// The extraData bytes, as the chain stores them.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_keeping(Keep::All)
    }

    /// extraData as it stands in the bytes each committed seal signs.
    pub fn encode_for_seal_digest(&self) -> Vec<u8> {
        self.encode_keeping(Keep::WithoutSeals)
    }

    /// extraData as it stands in the bytes the block hash covers.
    pub fn encode_for_block_hash(&self) -> Vec<u8> {
        self.encode_keeping(Keep::WithoutSealsAndRound)
    }

    fn encode_keeping(&self, keep: Keep) -> Vec<u8> {
        let mut payload =
            Vec::with_capacity(64 + 21 * self.validators.len() + 67 * self.seals.len());
        self.vanity.encode(&mut payload);
        let validators: Vec<[u8; 20]> = self.validators.iter().map(|a| a.0).collect();
        alloy_rlp::encode_list::<_, [u8; 20]>(&validators, &mut payload);
        self.encode_vote(&mut payload);
        match (self.variant, keep) {
            (BftVariant::Qbft, Keep::All) => {
                self.round.encode(&mut payload);
                let seals: Vec<&[u8]> = self.seals.iter().map(|s| &s[..]).collect();
                alloy_rlp::encode_list::<_, [u8]>(&seals, &mut payload);
            }
            (BftVariant::Qbft, Keep::WithoutSeals) => {
                self.round.encode(&mut payload);
                payload.push(EMPTY_LIST_CODE);
            }
            (BftVariant::Qbft, Keep::WithoutSealsAndRound) => {
                0u32.encode(&mut payload);
                payload.push(EMPTY_LIST_CODE);
            }
            (BftVariant::Ibft2, Keep::All) => {
                self.round.to_be_bytes().encode(&mut payload);
                let seals: Vec<&[u8]> = self.seals.iter().map(|s| &s[..]).collect();
                alloy_rlp::encode_list::<_, [u8]>(&seals, &mut payload);
            }
            (BftVariant::Ibft2, Keep::WithoutSeals) => {
                self.round.to_be_bytes().encode(&mut payload);
            }
            (BftVariant::Ibft2, Keep::WithoutSealsAndRound) => {}
        }
        let list = RlpHeader {
            list: true,
            payload_length: payload.len(),
        };
        let mut out = Vec::with_capacity(list.length_with_payload());
        list.encode(&mut out);
        out.extend_from_slice(&payload);
        out
    }

    fn encode_vote(&self, out: &mut Vec<u8>) {
        let Some(vote) = &self.vote else {
            out.push(match self.variant {
                BftVariant::Qbft => EMPTY_LIST_CODE,
                BftVariant::Ibft2 => EMPTY_STRING_CODE,
            });
            return;
        };
        let mut payload = Vec::with_capacity(23);
        vote.recipient.0.encode(&mut payload);
        match (self.variant, vote.authorize) {
            (_, true) => VOTE_ADD.encode(&mut payload),
            (BftVariant::Qbft, false) => payload.push(EMPTY_STRING_CODE),
            (BftVariant::Ibft2, false) => payload.push(0x00),
        }
        RlpHeader {
            list: true,
            payload_length: payload.len(),
        }
        .encode(out);
        out.extend_from_slice(&payload);
    }
}

fn decode_vote(variant: BftVariant, item: &[u8]) -> Result<Option<ValidatorVote>, BftError> {
    let shape = |reason| BftError::Shape { variant, reason };
    // "No vote" is one exact byte; the vote list itself is `[address, type]`.
    let none = match variant {
        BftVariant::Qbft => EMPTY_LIST_CODE,
        BftVariant::Ibft2 => EMPTY_STRING_CODE,
    };
    if item == [none] {
        return Ok(None);
    }
    let parts = list_items(item).map_err(|_| shape("a vote must be a [recipient, type] list"))?;
    if parts.len() != 2 {
        return Err(shape("a vote must be a [recipient, type] list"));
    }
    let recipient = string_item(parts[0])
        .ok()
        .and_then(|b| <[u8; 20]>::try_from(b).ok())
        .map(Address)
        .ok_or_else(|| shape("a vote recipient must be 20 bytes"))?;
    let authorize = match (variant, parts[1]) {
        (_, [0x81, VOTE_ADD]) => true,
        (BftVariant::Qbft, [EMPTY_STRING_CODE]) => false,
        (BftVariant::Ibft2, [0x00]) => false,
        _ => return Err(shape("a vote type must be add (0xff) or drop")),
    };
    Ok(Some(ValidatorVote {
        recipient,
        authorize,
    }))
}

/// The number of distinct validator seals a block needs: ceil(2n/3), as Besu computes it.
pub fn quorum(validators: usize) -> usize {
    (2 * validators).div_ceil(3)
}

/// The fewest members of a trusted set of `n` that include an honest one when fewer than a
/// third are faulty: more than a third, `floor(n/3) + 1`.
pub fn trust_threshold(validators: usize) -> usize {
    validators / 3 + 1
}

/// A BFT header with its extraData decoded, and the two digests derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BftHeader<'a> {
    /// The header.
    pub header: &'a EvmHeader,
    /// Its decoded extraData.
    pub extra: BftExtraData,
}

impl<'a> BftHeader<'a> {
    /// Decodes the header's extraData and checks its mixHash is the Istanbul digest.
    pub fn parse(variant: BftVariant, header: &'a EvmHeader) -> Result<Self, BftError> {
        if header.mix_hash != ISTANBUL_MIX_HASH {
            return Err(BftError::MixHash(header.mix_hash));
        }
        let extra = BftExtraData::decode(variant, &header.extra_data)?;
        Ok(BftHeader { header, extra })
    }

    /// The 32-byte digest every committed seal signs: keccak-256 of the header RLP with the
    /// seals taken out of extraData (the round stays in).
    pub fn seal_digest(&self) -> Hash32 {
        if self.header.number == 0 {
            return self.header.hash();
        }
        self.header
            .hash_with_extra_data(&self.extra.encode_for_seal_digest())
    }

    /// The block hash the chain uses (and the next header's parentHash): keccak-256 of the
    /// header RLP with the seals and the round taken out of extraData.
    pub fn block_hash(&self) -> Hash32 {
        if self.header.number == 0 {
            return self.header.hash();
        }
        self.header
            .hash_with_extra_data(&self.extra.encode_for_block_hash())
    }

    /// The address behind each seal, in seal order (not yet checked against any set).
    pub fn recover_signers(&self) -> Result<Vec<Address>, BftError> {
        let digest = self.seal_digest();
        self.extra
            .seals
            .iter()
            .enumerate()
            .map(|(index, seal)| {
                let v = seal[64];
                if v > 1 {
                    return Err(BftError::SealRecoveryByte { index, v });
                }
                let mut sig = Signature65(*seal);
                sig.0[64] = 27 + v;
                sig.recover_address(&digest)
                    .map_err(|source| BftError::BadSeal { index, source })
            })
            .collect()
    }

    /// Checks that a quorum (ceil(2n/3)) of distinct members of `validators` sealed the
    /// header, every seal by a member and none twice, as Besu's commit-seal rule does.
    /// Returns the signers in seal order.
    pub fn verify_seals(&self, validators: &[Address]) -> Result<Vec<Address>, BftError> {
        check_validator_set(validators)?;
        let signers = self.recover_signers()?;
        let mut seen: Vec<Address> = Vec::with_capacity(signers.len());
        for (index, signer) in signers.iter().enumerate() {
            if !validators.contains(signer) {
                return Err(BftError::UnknownSigner {
                    index,
                    signer: *signer,
                });
            }
            if seen.contains(signer) {
                return Err(BftError::DuplicateSigner { signer: *signer });
            }
            seen.push(*signer);
        }
        let required = quorum(validators.len());
        if seen.len() < required {
            return Err(BftError::InsufficientQuorum {
                signed: seen.len(),
                required,
                validators: validators.len(),
            });
        }
        Ok(signers)
    }
}

/// A validator set to verify against must be non-empty and list each address once.
pub fn check_validator_set(validators: &[Address]) -> Result<(), BftError> {
    if validators.is_empty() {
        return Err(BftError::EmptyValidatorSet);
    }
    let mut sorted = validators.to_vec();
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(BftError::DuplicateValidator(pair[0]));
    }
    Ok(())
}
