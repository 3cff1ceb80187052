//! One label per refusal of a header, from either side: the Rust verifier's error
//! (`EvmHeaderError`, `EvmConsensusError`) and the header libraries' custom error become the
//! same string, with the arguments both carry, so a differential test compares verdicts
//! with `assert_eq!`. Each Rust variant has exactly one custom error (the two `match`es
//! below list them in the same order).

use xrelay_light_client::crypto::SignatureError;
use xrelay_light_client::evm::clique::CliqueError;
use xrelay_light_client::evm::consensus::EvmConsensusError;
use xrelay_light_client::evm::header::EvmHeaderError;
use xrelay_light_client::evm::istanbul::BftError;

use super::harness::EvmHeadersHarness::EvmHeadersHarnessErrors as H;

/// The index of a header field in its RLP list, by the name `EvmHeaderError::Field` gives.
fn field_index(name: &str) -> usize {
    const NAMES: [&str; 21] = [
        "parentHash",
        "sha3Uncles",
        "miner",
        "stateRoot",
        "transactionsRoot",
        "receiptsRoot",
        "logsBloom",
        "difficulty",
        "number",
        "gasLimit",
        "gasUsed",
        "timestamp",
        "extraData",
        "mixHash",
        "nonce",
        "baseFeePerGas",
        "withdrawalsRoot",
        "blobGasUsed",
        "excessBlobGas",
        "parentBeaconBlockRoot",
        "requestsHash",
    ];
    NAMES
        .iter()
        .position(|n| *n == name)
        .unwrap_or_else(|| panic!("unknown header field {name}"))
}

/// The part number of `BftExtraDataShape` for a `BftError::Shape` reason.
fn shape_part(reason: &str) -> u8 {
    match reason {
        "extraData must be a list of 5 items" => 0,
        "vanity must be bytes" => 1,
        "validators must be a list" => 2,
        "a validator must be 20 bytes" => 3,
        "a vote must be a [recipient, type] list" => 4,
        "a vote recipient must be 20 bytes" => 5,
        "a vote type must be add (0xff) or drop" => 6,
        "round must be an RLP integer" | "round must be 4 bytes" => 7,
        "seals must be a list" => 8,
        "a seal must be 65 bytes" => 9,
        other => panic!("unknown extraData shape reason {other}"),
    }
}

/// The `why` number of a seal's `SignatureError` (`EvmHeaders.SIG_*`).
pub fn why(e: &SignatureError) -> u8 {
    match e {
        SignatureError::BadRecoveryByte(_) => 0,
        SignatureError::ScalarOutOfRange => 1,
        SignatureError::HighS => 2,
        SignatureError::Unrecoverable => 3,
    }
}

/// The label of a header decoding error.
pub fn header(e: &EvmHeaderError) -> String {
    match e {
        EvmHeaderError::TooLarge { len, .. } => format!("header_too_large({len})"),
        EvmHeaderError::Rlp(_) => "header_rlp".into(),
        EvmHeaderError::NotAList => "header_not_a_list".into(),
        EvmHeaderError::TrailingBytes(n) => format!("header_trailing({n})"),
        EvmHeaderError::FieldCount(n) => format!("header_field_count({n})"),
        EvmHeaderError::Field { field, .. } => format!("header_field({})", field_index(field)),
        EvmHeaderError::ExtraDataTooLarge { len, .. } => format!("extra_data_too_large({len})"),
    }
}

/// The label of a seal error.
pub fn consensus(e: &EvmConsensusError) -> String {
    match e {
        EvmConsensusError::Bft(e) => match e {
            BftError::Rlp(_) => "bft_extra_rlp".into(),
            BftError::Shape { reason, .. } => format!("bft_shape({})", shape_part(reason)),
            BftError::VanityLength(n) => format!("bft_vanity({n})"),
            // Unreachable: the strict item decoding leaves one encoding (PROTOCOL.md §11.2).
            BftError::NonCanonical => "bft_non_canonical".into(),
            BftError::MixHash(h) => format!("bft_mix_hash({h})"),
            BftError::SealRecoveryByte { index, v } => format!("bft_seal_v({index},{v})"),
            BftError::BadSeal { index, source } => format!("bft_bad_seal({index},{})", why(source)),
            BftError::UnknownSigner { index, signer } => {
                format!("bft_unknown_signer({index},{signer})")
            }
            BftError::DuplicateSigner { signer } => format!("bft_duplicate_signer({signer})"),
            BftError::InsufficientQuorum {
                signed,
                required,
                validators,
            } => format!("bft_quorum({signed},{required},{validators})"),
            BftError::InsufficientTrustedSigners {
                signed,
                required,
                trusted,
            } => format!("bft_trusted({signed},{required},{trusted})"),
            BftError::EmptyValidatorSet => "empty_validator_set".into(),
            BftError::DuplicateValidator(a) => format!("duplicate_validator({a})"),
        },
        EvmConsensusError::Clique(e) => match e {
            CliqueError::ZeroEpoch => "clique_zero_epoch".into(),
            CliqueError::ExtraDataTooShort(n) => format!("clique_extra_short({n})"),
            CliqueError::SignersOutsideCheckpoint { number } => {
                format!("clique_signers_outside_checkpoint({number})")
            }
            CliqueError::CheckpointSignersLength(n) => format!("clique_checkpoint_length({n})"),
            CliqueError::CheckpointSignersOrder => "clique_checkpoint_order".into(),
            CliqueError::InvalidVote(n) => format!("clique_invalid_vote({})", hex::encode(n)),
            CliqueError::CheckpointVote => "clique_checkpoint_vote".into(),
            CliqueError::MixHash => "clique_mix_hash".into(),
            CliqueError::OmmersHash => "clique_ommers_hash".into(),
            CliqueError::PostShanghaiFields => "clique_post_shanghai".into(),
            CliqueError::Difficulty => "clique_difficulty".into(),
            CliqueError::SealRecoveryByte(v) => format!("clique_seal_v({v})"),
            CliqueError::BadSeal(e) => format!("clique_bad_seal({})", why(e)),
            CliqueError::UnauthorizedSigner(a) => format!("clique_unauthorized({a})"),
            CliqueError::WrongDifficulty {
                difficulty,
                in_turn,
            } => format!("clique_wrong_difficulty({difficulty},{in_turn})"),
            CliqueError::BadSignerSet => "clique_bad_signer_set".into(),
            // Unreachable in the client: a run is adjacent before this is checked.
            CliqueError::NotConsecutive { number, previous } => {
                format!("clique_not_consecutive({number},{previous})")
            }
            CliqueError::RecentlySigned {
                signer,
                number,
                previous,
            } => format!("clique_recently_signed({signer},{number},{previous})"),
        },
    }
}

pub fn a(x: &alloy::primitives::Address) -> String {
    xrelay_light_client::Address(x.0 .0).to_string()
}

/// The label of a header-library custom error (the harness's, and the client's with the
/// same selectors).
pub fn harness(e: &H) -> String {
    match e {
        H::HeaderTooLarge(e) => format!("header_too_large({})", e.len),
        H::HeaderRlp(_) => "header_rlp".into(),
        H::HeaderNotAList(_) => "header_not_a_list".into(),
        H::HeaderTrailingBytes(e) => format!("header_trailing({})", e.count),
        H::HeaderFieldCount(e) => format!("header_field_count({})", e.found),
        H::HeaderField(e) => format!("header_field({})", e.index),
        H::ExtraDataTooLarge(e) => format!("extra_data_too_large({})", e.len),
        H::BftExtraDataRlp(_) => "bft_extra_rlp".into(),
        H::BftExtraDataShape(e) => format!("bft_shape({})", e.part),
        H::BftVanityLength(e) => format!("bft_vanity({})", e.len),
        H::BftMixHash(e) => format!("bft_mix_hash({})", hex::encode(e.found)),
        H::BftSealRecoveryByte(e) => format!("bft_seal_v({},{})", e.index, e.v),
        H::BftBadSeal(e) => format!("bft_bad_seal({},{})", e.index, e.why),
        H::BftUnknownSigner(e) => format!("bft_unknown_signer({},{})", e.index, a(&e.signer)),
        H::BftDuplicateSigner(e) => format!("bft_duplicate_signer({})", a(&e.signer)),
        H::BftInsufficientQuorum(e) => {
            format!("bft_quorum({},{},{})", e.signed, e.required, e.validators)
        }
        H::EmptyValidatorSet(_) => "empty_validator_set".into(),
        H::DuplicateValidator(e) => format!("duplicate_validator({})", a(&e.validator)),
        H::CliqueZeroEpoch(_) => "clique_zero_epoch".into(),
        H::CliqueExtraDataTooShort(e) => format!("clique_extra_short({})", e.len),
        H::CliqueSignersOutsideCheckpoint(e) => {
            format!("clique_signers_outside_checkpoint({})", e.number)
        }
        H::CliqueCheckpointSignersLength(e) => format!("clique_checkpoint_length({})", e.len),
        H::CliqueCheckpointSignersOrder(_) => "clique_checkpoint_order".into(),
        H::CliqueInvalidVote(e) => format!("clique_invalid_vote({})", hex::encode(e.nonce)),
        H::CliqueCheckpointVote(_) => "clique_checkpoint_vote".into(),
        H::CliqueMixHash(_) => "clique_mix_hash".into(),
        H::CliqueOmmersHash(_) => "clique_ommers_hash".into(),
        H::CliquePostShanghaiFields(_) => "clique_post_shanghai".into(),
        H::CliqueDifficulty(_) => "clique_difficulty".into(),
        H::CliqueSealRecoveryByte(e) => format!("clique_seal_v({})", e.v),
        H::CliqueBadSeal(e) => format!("clique_bad_seal({})", e.why),
        H::CliqueUnauthorizedSigner(e) => format!("clique_unauthorized({})", a(&e.signer)),
        H::CliqueWrongDifficulty(e) => {
            format!("clique_wrong_difficulty({},{})", e.difficulty, e.inTurn)
        }
        H::CliqueBadSignerSet(_) => "clique_bad_signer_set".into(),
        H::NoListedValidators(_) => "no_listed_validators".into(),
        H::UnknownConsensus(e) => format!("unknown_consensus({})", e.consensus),
    }
}
