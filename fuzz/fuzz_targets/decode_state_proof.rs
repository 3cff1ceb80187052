//! `StateProof::decode` on arbitrary bytes: it must never panic nor allocate for a hostile
//! sibling count, and a decoded proof must re-encode to exactly the input (the placeholder
//! sibling has only its short form). Verifying the proof must not panic for a membership and
//! a non-membership claim about keys and roots derived from the input (and about the proof's
//! own leaf, so the whole path is hashed); and verification must be deterministic: the root
//! a path computes (reported by `RootMismatch`) must then verify, one by one and in a batch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::{decode_canonical, derived};
use xrelay_light_client::{verify_batch, BatchItem, Hash32, ProofError, StateProof};

fuzz_target!(|data: &[u8]| {
    let Some(proof) = decode_canonical::<StateProof>(data) else {
        return;
    };
    let root = derived(data, b"root");
    let key = derived(data, b"key");
    let value = derived(data, b"value");
    // Arbitrary claims: almost always errors, never panics.
    let _ = proof.verify(&root, &key, Some(&value));
    let _ = proof.verify(&root, &key, None);
    let _ = proof.verify_membership(&root, data, data);
    let _ = proof.verify_non_membership(&root, data);
    // Claims the leaf (if any) agrees with, so the walk reaches the root comparison.
    match proof.leaf {
        Some(leaf) => {
            check_recomputed_root(&proof, &leaf.key_hash, Some(leaf.value_hash));
            // A key on the leaf's path that is not the leaf's: non-membership.
            let mut other = leaf.key_hash;
            other.0[31] ^= 1;
            check_recomputed_root(&proof, &other, None);
        }
        None => check_recomputed_root(&proof, &key, None),
    }
});

/// Verifies against a wrong root to learn the computed one, then against that root.
fn check_recomputed_root(proof: &StateProof, key_hash: &Hash32, value_hash: Option<Hash32>) {
    let computed = match proof.verify(&Hash32([0xa5; 32]), key_hash, value_hash.as_ref()) {
        Err(ProofError::RootMismatch { computed, .. }) => computed,
        // The claim was refused before hashing (e.g. leaf off the path), or the path
        // happened to hash to the probe root.
        _ => return,
    };
    assert_eq!(
        proof.verify(&computed, key_hash, value_hash.as_ref()),
        Ok(())
    );
    let item = BatchItem {
        key_hash: *key_hash,
        value_hash,
        proof,
    };
    assert_eq!(verify_batch(&computed, &[item]), Ok(()));
    assert_eq!(verify_batch(&computed, &[item, item]), Ok(()));
}
