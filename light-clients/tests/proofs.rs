//! State proofs: the prover (jmt) against an independent reference tree, our verifier
//! against jmt's own, bit flips, false claims, batches and old versions.

use std::collections::BTreeMap;

use proptest::prelude::*;
use xrelay_light_client::proof::{INTERNAL_TAG, PLACEHOLDER};
use xrelay_light_client::prover::{key_hash, MemoryTreeStore, StateTree};
use xrelay_light_client::{
    sha256, verify_batch, BatchItem, Decode, Encode, Hash32, ProofError, ProofLeaf, StateProof,
};

/// The root of a set of leaves, computed from the spec in `docs/PROTOCOL.md` alone:
/// empty subtree → placeholder, one leaf → its hash, otherwise split on the next bit.
fn reference_root(leaves: &[(Hash32, Hash32)], depth: usize) -> Hash32 {
    match leaves {
        [] => PLACEHOLDER,
        [(k, v)] => ProofLeaf {
            key_hash: *k,
            value_hash: *v,
        }
        .hash(),
        _ => {
            let split =
                leaves.partition_point(|(k, _)| k.0[depth / 8] & (0x80 >> (depth % 8)) == 0);
            let left = reference_root(&leaves[..split], depth + 1);
            let right = reference_root(&leaves[split..], depth + 1);
            xrelay_light_client::hash::sha256_concat(&[INTERNAL_TAG, &left.0, &right.0])
        }
    }
}

fn build(entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> (MemoryTreeStore, Hash32) {
    let store = MemoryTreeStore::new();
    let root = StateTree::new(&store)
        .apply(0, entries.iter().map(|(k, v)| (k.clone(), Some(v.clone()))))
        .unwrap();
    (store, root)
}

fn entries_strategy() -> impl Strategy<Value = BTreeMap<Vec<u8>, Vec<u8>>> {
    prop::collection::btree_map(
        prop::collection::vec(any::<u8>(), 1..24),
        prop::collection::vec(any::<u8>(), 0..40),
        0..60,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// jmt's root equals the root computed from the documented spec, and every key's proof
    /// verifies with our verifier and with jmt's, for present and absent keys alike.
    #[test]
    fn prover_matches_the_spec_and_both_verifiers_agree(entries in entries_strategy(), absent in prop::collection::vec(any::<u8>(), 1..24)) {
        let (store, root) = build(&entries);
        let mut leaves: Vec<(Hash32, Hash32)> = entries.iter().map(|(k, v)| (sha256(k), sha256(v))).collect();
        leaves.sort();
        prop_assert_eq!(root, reference_root(&leaves, 0));

        let tree = StateTree::new(&store);
        let jmt = jmt::Sha256Jmt::new(&store);
        for (k, v) in &entries {
            let (value, proof) = tree.prove(k, 0).unwrap();
            prop_assert_eq!(value.as_ref(), Some(v));
            proof.verify_membership(&root, k, v).unwrap();
            prop_assert_eq!(proof.verify_non_membership(&root, k), Err(ProofError::KeyPresent));
            let (_, jmt_proof) = jmt.get_with_proof(key_hash(k), 0).unwrap();
            prop_assert!(jmt_proof.verify_existence(jmt::RootHash(root.0), key_hash(k), v).is_ok());
            prop_assert_eq!(StateProof::decode(&proof.encode()).unwrap(), proof);
        }
        if !entries.contains_key(&absent) {
            let (value, proof) = tree.prove(&absent, 0).unwrap();
            prop_assert!(value.is_none());
            proof.verify_non_membership(&root, &absent).unwrap();
            prop_assert!(proof.verify_membership(&root, &absent, b"x").is_err());
            let (_, jmt_proof) = jmt.get_with_proof(key_hash(&absent), 0).unwrap();
            prop_assert!(jmt_proof.verify_nonexistence(jmt::RootHash(root.0), key_hash(&absent)).is_ok());
        }
    }

    /// Any single-bit change to an encoded proof is refused (decode error or failed check),
    /// for membership and non-membership proofs.
    #[test]
    fn any_bit_flip_in_a_proof_is_refused(entries in entries_strategy(), pick in any::<prop::sample::Index>(), bit in any::<prop::sample::Index>(), member in any::<bool>()) {
        prop_assume!(!entries.is_empty());
        let (store, root) = build(&entries);
        let keys: Vec<&Vec<u8>> = entries.keys().collect();
        let key = keys[pick.index(keys.len())].clone();
        let absent_key = [key.clone(), b"/absent".to_vec()].concat();
        prop_assume!(!entries.contains_key(&absent_key));
        let target = if member { key.clone() } else { absent_key };
        let (_, proof) = StateTree::new(&store).prove(&target, 0).unwrap();
        let bytes = proof.encode();
        let bit = bit.index(bytes.len() * 8);
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        if let Ok(mutated) = StateProof::decode(&flipped) {
            let verdict = if member {
                mutated.verify_membership(&root, &target, &entries[&target])
            } else {
                mutated.verify_non_membership(&root, &target)
            };
            prop_assert!(verdict.is_err(), "bit {} of {:?} accepted", bit, bytes);
        }
    }

    /// A batch passes when every claim is true and fails at the first false claim.
    #[test]
    fn batches_accept_exactly_true_claims(entries in entries_strategy(), lie_at in any::<prop::sample::Index>(), lie in any::<bool>()) {
        prop_assume!(entries.len() >= 2);
        let (store, root) = build(&entries);
        let tree = StateTree::new(&store);
        let proofs: Vec<(Vec<u8>, StateProof)> = entries.keys().map(|k| (k.clone(), tree.prove(k, 0).unwrap().1)).collect();
        let mut items: Vec<BatchItem<'_>> = proofs.iter().map(|(k, p)| BatchItem {
            key_hash: sha256(k),
            value_hash: Some(sha256(&entries[k])),
            proof: p,
        }).collect();
        prop_assert_eq!(verify_batch(&root, &items), Ok(()));
        if lie {
            let i = lie_at.index(items.len());
            items[i].value_hash = Some(sha256(b"a value never stored"));
            let err = verify_batch(&root, &items).unwrap_err();
            prop_assert_eq!(err.0, i);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Soundness of batches: whatever mix of genuine and bit-flipped proofs, present and
    /// absent keys, true and false claims, a batch that passes holds only true claims.
    #[test]
    fn a_passing_batch_holds_only_true_claims(
        entries in entries_strategy(),
        picks in prop::collection::vec((any::<prop::sample::Index>(), any::<bool>(), prop::option::weighted(0.1, any::<prop::sample::Index>()), any::<u8>()), 1..24),
    ) {
        prop_assume!(!entries.is_empty());
        let (store, root) = build(&entries);
        let tree = StateTree::new(&store);
        let keys: Vec<&Vec<u8>> = entries.keys().collect();
        let mut claims = Vec::new();
        for (pick, absent, flip, claim_kind) in &picks {
            let base = keys[pick.index(keys.len())].clone();
            let key = if *absent { [base, b"~".to_vec()].concat() } else { base };
            let (_, proof) = tree.prove(&key, 0).unwrap();
            let mut bytes = proof.encode();
            if let Some(bit) = flip {
                let bit = bit.index(bytes.len() * 8);
                bytes[bit / 8] ^= 1 << (bit % 8);
            }
            let Ok(proof) = StateProof::decode(&bytes) else { continue };
            // Mostly the truth (the value, or absence); sometimes a false value or
            // absence of a present key.
            let value_hash = match claim_kind % 10 {
                0 => Some(sha256(b"never stored")),
                1 => None,
                _ => entries.get(&key).map(|v| sha256(v)),
            };
            let truth = match value_hash {
                Some(h) => entries.get(&key).map(|v| sha256(v)) == Some(h),
                None => !entries.contains_key(&key),
            };
            claims.push((sha256(&key), value_hash, proof, truth));
        }
        let items: Vec<BatchItem<'_>> = claims.iter().map(|(k, v, p, _)| BatchItem { key_hash: *k, value_hash: *v, proof: p }).collect();
        let all_true = claims.iter().all(|c| c.3);
        let all_genuine = picks.iter().all(|p| p.2.is_none());
        match verify_batch(&root, &items) {
            Ok(()) => prop_assert!(all_true, "a batch with a false claim passed"),
            Err((i, e)) => prop_assert!(!(all_true && all_genuine), "true genuine claim {} refused: {}", i, e),
        }
        // The same claims one by one: a passing single proof is a true claim.
        for (k, v, p, truth) in &claims {
            if p.verify(&root, k, v.as_ref()).is_ok() {
                prop_assert!(*truth);
            }
        }
    }
}

#[test]
fn old_versions_stay_provable_and_deletions_prove_absence() {
    let store = MemoryTreeStore::new();
    let tree = StateTree::new(&store);
    assert!(tree.apply(1, vec![]).is_err(), "versions start at 0");
    let r0 = tree.apply(0, vec![]).unwrap();
    assert_eq!(r0, PLACEHOLDER);
    let r1 = tree
        .apply(
            1,
            vec![
                (b"a".to_vec(), Some(b"1".to_vec())),
                (b"b".to_vec(), Some(b"2".to_vec())),
            ],
        )
        .unwrap();
    let r2 = tree
        .apply(
            2,
            vec![(b"a".to_vec(), None), (b"c".to_vec(), Some(b"3".to_vec()))],
        )
        .unwrap();
    assert_ne!(r1, r2);
    assert_eq!(tree.root(1).unwrap(), r1);
    let (v, p) = tree.prove(b"a", 1).unwrap();
    assert_eq!(v.as_deref(), Some(&b"1"[..]));
    p.verify_membership(&r1, b"a", b"1").unwrap();
    let (v, p) = tree.prove(b"a", 2).unwrap();
    assert!(v.is_none());
    p.verify_non_membership(&r2, b"a").unwrap();
    // A proof from one version does not verify against another version's root.
    assert!(matches!(
        p.verify_non_membership(&r1, b"a"),
        Err(ProofError::KeyPresent | ProofError::RootMismatch { .. })
    ));
    assert_eq!(tree.get(b"c", 2).unwrap().as_deref(), Some(&b"3"[..]));
    // A block without writes keeps the root; skipping a version is refused.
    assert_eq!(tree.apply(3, vec![]).unwrap(), r2);
    assert!(tree.apply(5, vec![(b"d".to_vec(), Some(vec![]))]).is_err());
    assert!(tree.get(b"c", 1).unwrap().is_none());
}

#[test]
fn large_tree_proofs_and_batches() {
    let entries: BTreeMap<Vec<u8>, Vec<u8>> = (0..5_000u32)
        .map(|i| {
            (
                format!("commitments/beta/{i}").into_bytes(),
                sha256(&i.to_be_bytes()).0.to_vec(),
            )
        })
        .collect();
    let (store, root) = build(&entries);
    let tree = StateTree::new(&store);
    let proofs: Vec<(Vec<u8>, StateProof)> = (0..200u32)
        .map(|i| format!("commitments/beta/{}", i * 7))
        .map(|k| {
            (
                k.clone().into_bytes(),
                tree.prove(k.as_bytes(), 0).unwrap().1,
            )
        })
        .collect();
    let items: Vec<BatchItem<'_>> = proofs
        .iter()
        .map(|(k, p)| BatchItem {
            key_hash: sha256(k),
            value_hash: Some(sha256(&entries[k])),
            proof: p,
        })
        .collect();
    verify_batch(&root, &items).unwrap();
    let absent = b"commitments/beta/999999".to_vec();
    let (_, p) = tree.prove(&absent, 0).unwrap();
    let mixed = [
        items[0],
        BatchItem {
            key_hash: sha256(&absent),
            value_hash: None,
            proof: &p,
        },
    ];
    verify_batch(&root, &mixed).unwrap();
    // A wrong root fails the batch.
    assert!(verify_batch(&Hash32([1; 32]), &items).is_err());
}
