//! `EvmClientState::decode` on arbitrary bytes (what a chain reads back from its state):
//! it must never panic nor allocate for hostile counts, a decoded client must re-encode to
//! exactly the input and satisfy its invariants (the latest height is the newest consensus
//! state, at most 512 are kept, seal modes follow a validator set, the attestation mode
//! none), and its read-only queries and a storage proof against it must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::decode_canonical;
use xrelay_light_client::evm::client::{
    provable_slot, verify_path, EvmClientState, EvmStorageProof, FinalityMode, MAX_CONSENSUS_STATES,
};

fuzz_target!(|data: &[u8]| {
    let Some(client) = decode_canonical::<EvmClientState>(data) else {
        return;
    };
    let latest = client.latest_height();
    assert!(client.consensus_state(latest).is_some());
    assert_eq!(client.heights().last(), Some(latest));
    assert!(client.heights().count() <= MAX_CONSENSUS_STATES);
    match client.mode() {
        FinalityMode::Attestation(committee) => {
            assert!(client.validators().is_empty());
            assert!(committee.quorum() >= 1 && committee.quorum() <= committee.attesters().len());
        }
        _ => assert!(client.validators().windows(2).all(|w| w[0] < w[1])),
    }
    let proof = EvmStorageProof::default();
    let slot = provable_slot(b"commitments/beta/1");
    let _ = client.verify_storage(latest, &proof.account_proof, &proof.storage_proof, &slot);
    let _ = verify_path(&client, latest, b"commitments/beta/1", None, &proof);
});
