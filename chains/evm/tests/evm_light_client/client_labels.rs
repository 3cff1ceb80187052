//! Refusal labels of the client, from either side: `EvmClientError`, `AttestError` and
//! `EvmMisbehaviourError` in Rust, `EvmLightClient`'s custom errors on chain (its header
//! and seal errors share the harness's selectors and are labelled by `labels::harness`).
//! Each Rust variant has exactly one custom error, with the same arguments.

use alloy::sol_types::SolInterface;
use xrelay_evm::evm_light_client::EvmLightClientErrors as C;
use xrelay_light_client::crypto::SignatureError;
use xrelay_light_client::evm::attest::{AttestError, BadSignature};
use xrelay_light_client::evm::client::EvmClientError;
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviourError;

use super::harness::EvmHeadersHarness::EvmHeadersHarnessErrors as H;
use super::labels::{a, consensus, harness, why};

/// The label of a committee refusal.
pub fn attest(e: &AttestError) -> String {
    match e {
        AttestError::UnknownAttester { index, attester } => {
            format!("unknown_attester({index},{attester})")
        }
        AttestError::DuplicateAttester { index, attester } => {
            format!("duplicate_attester({index},{attester})")
        }
        AttestError::BadSignature {
            index,
            attester,
            reason,
        } => match reason {
            BadSignature::Malformed(SignatureError::BadRecoveryByte(_)) => {
                format!("bad_attester_signature({index},{attester},0)")
            }
            BadSignature::Malformed(e) => {
                format!("bad_attester_signature({index},{attester},{})", why(e))
            }
            BadSignature::OtherSigner(other) => {
                format!("bad_attester_signature({index},{attester},4,{other})")
            }
        },
        AttestError::BelowQuorum { signed, quorum } => format!("below_quorum({signed},{quorum})"),
    }
}

/// The label of a client refusal.
pub fn client(e: &EvmClientError) -> String {
    match e {
        EvmClientError::Frozen => "frozen".into(),
        EvmClientError::InvalidSetup(s) => format!("invalid_setup({s})"),
        EvmClientError::ModeMismatch { mode, found } => format!("mode_mismatch({mode},{found})"),
        EvmClientError::HeaderCount { count, .. } => format!("header_count({count})"),
        EvmClientError::WrongChain { found, .. } => format!("wrong_chain({found})"),
        EvmClientError::NotNewer { height, latest } => format!("not_newer({height},{latest})"),
        EvmClientError::NotAdjacent {
            expected_parent,
            found,
        } => format!("not_adjacent({expected_parent},{found})"),
        EvmClientError::ParentMismatch {
            height,
            expected,
            found,
        } => format!("parent_mismatch({height},{expected},{found})"),
        EvmClientError::TimeDecreased {
            height,
            time_ms,
            latest_ms,
        } => format!("time_decreased({height},{time_ms},{latest_ms})"),
        EvmClientError::TimeOverflow { height } => format!("time_overflow({height})"),
        EvmClientError::Seal { error, .. } => consensus(error),
        EvmClientError::BadValidatorSet { height, .. } => format!("bad_validator_set({height})"),
        EvmClientError::Attestation { error, .. } => attest(error),
        EvmClientError::ConflictingHeader {
            height,
            trusted,
            found,
        } => format!("conflicting_header({height},{trusted},{found})"),
        EvmClientError::NoConflict(h) => format!("no_conflict({h})"),
        EvmClientError::UnknownHeight(h) => format!("unknown_height({h})"),
        other => format!("proof({other})"),
    }
}

/// The label of an evidence refusal.
pub fn misbehaviour(e: &EvmMisbehaviourError) -> String {
    match e {
        EvmMisbehaviourError::ModeMismatch { mode, found } => {
            format!("mode_mismatch({mode},{found})")
        }
        EvmMisbehaviourError::HeightMismatch { first, second } => {
            format!("evidence_heights({first},{second})")
        }
        EvmMisbehaviourError::NoConflict(h) => format!("no_conflict({h})"),
        EvmMisbehaviourError::Header { error, .. } => consensus(error),
        EvmMisbehaviourError::Attestation { error, .. } => attest(error),
        EvmMisbehaviourError::WrongChain { found, .. } => format!("wrong_chain({found})"),
        EvmMisbehaviourError::SealersDiffer { first, second } => {
            format!("evidence_sealers({first},{second})")
        }
    }
}

/// The label of a light-client custom error; header and seal errors (shared selectors with
/// the harness) are labelled by [`harness`]. Codec errors (the canonical encoding of
/// PROTOCOL.md §1) are all `malformed`, as every Rust `DecodeError` is.
pub fn contract(data: &[u8]) -> String {
    if let Ok(e) = H::abi_decode(data) {
        return harness(&e);
    }
    let e = C::abi_decode(data)
        .unwrap_or_else(|_| panic!("revert data {} is no known error", hex::encode(data)));
    match e {
        C::UnexpectedEnd(_) | C::TrailingBytes(_) | C::TooLong(_) | C::InvalidValue(_) => {
            "malformed".into()
        }
        C::BftInsufficientTrustedSigners(e) => {
            format!("bft_trusted({},{},{})", e.signed, e.required, e.trusted)
        }
        C::CliqueRecentlySigned(e) => format!(
            "clique_recently_signed({},{},{})",
            a(&e.signer),
            e.number,
            e.previous
        ),
        C::FrozenClient(_) => "frozen".into(),
        C::EmptyUpdate(_) => "empty_update".into(),
        C::ModeMismatch(e) => format!(
            "mode_mismatch({},{})",
            mode_name(e.mode),
            found_name(e.found)
        ),
        C::HeaderCount(e) => format!("header_count({})", e.count),
        C::WrongChain(e) => format!("wrong_chain({})", String::from_utf8_lossy(&e.found)),
        C::NotNewer(e) => format!("not_newer({},{})", e.height, e.latest),
        C::NotAdjacent(e) => format!("not_adjacent({},{})", e.expectedParent, e.found),
        C::ParentMismatch(e) => format!(
            "parent_mismatch({},{},{})",
            e.height,
            hex::encode(e.expected),
            hex::encode(e.found)
        ),
        C::TimeDecreased(e) => format!("time_decreased({},{},{})", e.height, e.timeMs, e.latestMs),
        C::TimeOverflow(e) => format!("time_overflow({})", e.height),
        C::BadValidatorSet(e) => format!("bad_validator_set({})", e.height),
        C::UnknownAttester(e) => format!("unknown_attester({},{})", e.index, a(&e.attester)),
        C::DuplicateAttester(e) => format!("duplicate_attester({},{})", e.index, a(&e.attester)),
        C::BadAttesterSignature(e) if e.why == 4 => format!(
            "bad_attester_signature({},{},4,{})",
            e.index,
            a(&e.attester),
            a(&e.recovered)
        ),
        C::BadAttesterSignature(e) => {
            format!(
                "bad_attester_signature({},{},{})",
                e.index,
                a(&e.attester),
                e.why
            )
        }
        C::BelowQuorum(e) => format!("below_quorum({},{})", e.signed, e.quorum),
        C::ConflictingHeader(e) => format!(
            "conflicting_header({},{},{})",
            e.height,
            hex::encode(e.trusted),
            hex::encode(e.found)
        ),
        C::NoConflict(e) => format!("no_conflict({})", e.height),
        C::UnknownHeight(e) => format!("unknown_height({})", e.height),
        C::EvidenceHeightMismatch(e) => format!("evidence_heights({},{})", e.first, e.second),
        C::EvidenceSealersDiffer(e) => {
            format!("evidence_sealers({},{})", a(&e.first), a(&e.second))
        }
        other => format!("{other:?}"),
    }
}

/// `FinalityMode::name` of a mode number.
fn mode_name(mode: u8) -> &'static str {
    match mode {
        0 => "qbft",
        1 => "ibft2",
        2 => "clique",
        _ => "attestation",
    }
}

/// What an update or evidence carries, by the number the contract reports.
fn found_name(found: u8) -> &'static str {
    match found {
        0 => "headers",
        _ => "attestation",
    }
}
