//! The mesh's attester-signature payload (`xrelay/mesh/attest/v1`, docs/PROTOCOL.md §10:
//! canonical `Attestation ‖ AttesterSignature`) on arbitrary bytes, as a relayer receives it
//! from a member: decoding must never panic, a payload that decodes must re-encode to exactly
//! the input (one encoding per signature, so repeats are recognised), and checking the
//! signature against the attester it names must not panic either.
//!
//! The payload codec is compiled from the relayer's own source file (it depends on
//! xrelay-light-client only), so this crate needs no libp2p.
//!
//! Second, the input is read as field values: the payload built from them must decode back
//! to the same values, and losing its last byte or gaining one more must be refused.
#![no_main]

#[path = "../../relay/src/attestations/payload.rs"]
mod payload;

use libfuzzer_sys::fuzz_target;
use payload::{decode_payload, encode_payload, MAX_PAYLOAD_LEN};
use xrelay_fuzz::hex;
use xrelay_light_client::chain::MAX_CHAIN_ID_LEN;
use xrelay_light_client::evm::attest::{Attestation, AttesterSignature};
use xrelay_light_client::{Address, ChainId, Hash32, Signature65};

/// Takes `N` bytes from the front of `data`, zero-padded when it runs out.
fn take<const N: usize>(data: &mut &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let n = N.min(data.len());
    out[..n].copy_from_slice(&data[..n]);
    *data = &data[n..];
    out
}

/// A valid chain id of 1..=MAX_CHAIN_ID_LEN characters drawn from the input.
fn chain_id(data: &mut &[u8]) -> ChainId {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    let [len] = take::<1>(data);
    let len = 1 + len as usize % MAX_CHAIN_ID_LEN;
    let name: String = (0..len)
        .map(|_| ALPHABET[take::<1>(data)[0] as usize % ALPHABET.len()] as char)
        .collect();
    ChainId::new(name).expect("drawn from the allowed characters")
}

fuzz_target!(|data: &[u8]| {
    if let Ok((attestation, signature)) = decode_payload(data) {
        let again = encode_payload(&attestation, &signature);
        assert!(
            again == data,
            "attestation payload is not canonical: input {} re-encodes to {}",
            hex(data),
            hex(&again)
        );
        assert!(data.len() <= MAX_PAYLOAD_LEN);
        // What the board does with it: one recovery, never a panic.
        let _ = signature.signature.recover_address(&attestation.digest());
    }

    let mut rest = data;
    let attestation = Attestation {
        chain_id: chain_id(&mut rest),
        height: u64::from_be_bytes(take(&mut rest)),
        block_hash: Hash32(take(&mut rest)),
        state_root: Hash32(take(&mut rest)),
        time_ms: u64::from_be_bytes(take(&mut rest)),
    };
    let signature = AttesterSignature {
        attester: Address(take(&mut rest)),
        signature: Signature65(take(&mut rest)),
    };
    let bytes = encode_payload(&attestation, &signature);
    assert!(bytes.len() <= MAX_PAYLOAD_LEN, "{} bytes", bytes.len());
    let decoded = decode_payload(&bytes).expect("a built payload decodes");
    assert_eq!(
        decoded,
        (attestation, signature),
        "round trip of {}",
        hex(&bytes)
    );
    assert!(decode_payload(&bytes[..bytes.len() - 1]).is_err());
    let mut longer = bytes;
    longer.push(take::<1>(&mut rest)[0]);
    assert!(decode_payload(&longer).is_err());
});
