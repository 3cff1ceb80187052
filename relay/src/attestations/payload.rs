//! The gossip payload of one attester signature on `xrelay/mesh/attest/v1`
//! (docs/PROTOCOL.md §10): the canonical encoding of the `Attestation` followed by the
//! canonical encoding of the `AttesterSignature`, nothing else.
//!
//! This file depends on `xrelay_light_client` only, so the fuzz crate (which has no libp2p)
//! compiles it as is (`fuzz/fuzz_targets/decode_attestation_payload.rs`).

use xrelay_light_client::chain::MAX_CHAIN_ID_LEN;
use xrelay_light_client::encoding::{DecodeError, Reader, Writer};
use xrelay_light_client::evm::attest::{Attestation, AttesterSignature};

/// The largest payload a valid message can have (a chain id of at most
/// [`MAX_CHAIN_ID_LEN`] bytes with its 4-byte prefix, height, two hashes, time, address and signature). Longer messages are
/// refused before decoding.
pub const MAX_PAYLOAD_LEN: usize = 4 + MAX_CHAIN_ID_LEN + 8 + 32 + 32 + 8 + 20 + 65;

/// `attestation ‖ signature`, canonical.
pub fn encode_payload(attestation: &Attestation, signature: &AttesterSignature) -> Vec<u8> {
    let mut w = Writer::with_capacity(MAX_PAYLOAD_LEN);
    w.put(attestation).put(signature);
    w.into_vec()
}

/// Decodes `attestation ‖ signature`, strictly: every field canonical and no bytes left.
pub fn decode_payload(bytes: &[u8]) -> Result<(Attestation, AttesterSignature), DecodeError> {
    if bytes.len() > MAX_PAYLOAD_LEN {
        return Err(DecodeError::invalid(
            "attestation payload",
            format!("{} bytes, at most {MAX_PAYLOAD_LEN}", bytes.len()),
        ));
    }
    let mut r = Reader::new(bytes);
    let attestation: Attestation = r.get()?;
    let signature: AttesterSignature = r.get()?;
    r.finish()?;
    Ok((attestation, signature))
}
