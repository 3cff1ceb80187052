//! `core::followed` through `ChainHandle`: the relayer's own light client reaches heights by
//! verified headers only, is persisted and reloaded, and checks every proof against what it
//! verified.

use xrelay_adapters::{ChainAdapter, ChainProof};
use xrelay_devchain::node::fault::Fault;
use xrelay_light_client::paths;

use super::*;
use crate::core::chain::RelayError;
use crate::core::followed::{Expect, Followed};
use crate::testkit::{net_of, ChainSpec, Forgery};

#[tokio::test]
async fn the_relayers_client_verifies_a_far_height_and_holds_the_chains_own_header() {
    let (a, _b, h) = pair().await;
    let target = a.produce_n(30).unwrap();
    let v = h.handle(a.id()).verified(target).await.unwrap();
    let block = a.block(target).unwrap();
    assert_eq!(v.header_hash, block.header().hash());
    assert_eq!(v.state_root, block.header().state_root);
    assert_eq!(h.handle(a.id()).verified_height().await, target);
    let facts = h.handle(a.id()).client_facts().await;
    assert_eq!(
        (facts.family, facts.height, facts.frozen),
        ("bft", target, false)
    );
}

#[tokio::test]
async fn a_rotating_validator_set_is_followed() {
    let mut spec = ChainSpec::new("a");
    spec.rotate_every = Some(1);
    let chains = net_of(&[spec, ChainSpec::new("b")]).unwrap();
    let a = chains[0].clone();
    let h = Harness::over(&chains).await.unwrap();
    let target = a.produce_n(25).unwrap();
    let v = h.handle(a.id()).verified(target).await.unwrap();
    assert_eq!(v.header_hash, a.header_hash(target).unwrap());
}

#[tokio::test]
async fn headers_with_bad_signatures_are_refused_and_the_client_stays() {
    let (a, _b, h) = pair().await;
    let before = h.handle(a.id()).verified_height().await;
    let target = a.produce_n(3).unwrap();
    a.set_node_fault(Fault::BadSignature);
    let e = h.handle(a.id()).verified(target).await.unwrap_err();
    assert!(matches!(e, RelayError::Verification { .. }), "{e}");
    assert_eq!(h.handle(a.id()).verified_height().await, before);
    assert!(metric_sum(&h.relay.metrics.verification_failures, "a") > 0);
    // Honest again: verified.
    a.clear_faults();
    h.handle(a.id()).verified(target).await.unwrap();
}

#[tokio::test]
async fn a_withheld_height_cannot_be_verified_and_is_not_a_verification_failure() {
    let (a, _b, h) = pair().await;
    a.withhold();
    let hidden = a.produce_n(2).unwrap();
    let e = h.handle(a.id()).verified(hidden).await.unwrap_err();
    assert!(!matches!(e, RelayError::Verification { .. }), "{e}");
    assert!(h.handle(a.id()).verified_height().await < hidden);
    assert_eq!(metric_sum(&h.relay.metrics.verification_failures, "a"), 0);
    a.release();
    h.handle(a.id()).verified(hidden).await.unwrap();
}

#[tokio::test]
async fn membership_and_absence_proofs_verify_and_false_answers_do_not() {
    let (a, b, h) = pair().await;
    let m = a.send(b.id(), b"proof me", NEVER).unwrap();
    let height = a.height();
    let handle = h.handle(a.id());
    handle.verified(height).await.unwrap();
    let key = paths::commitment(b.id(), m.sequence);
    let commitment = m.commitment().0;
    let proven = a.prove(&key, height).await.unwrap();
    assert_eq!(proven.value.as_deref(), Some(&commitment[..]));
    handle
        .check_proof(height, &key, Expect::Value(&commitment), &proven.proof)
        .await
        .unwrap();
    // Another value, or absence, is refused with the same proof.
    assert!(handle
        .check_proof(height, &key, Expect::Value(&[0u8; 32]), &proven.proof)
        .await
        .is_err());
    assert!(handle
        .check_proof(height, &key, Expect::Absent, &proven.proof)
        .await
        .is_err());
    // A key that holds nothing: its absence verifies, a value does not.
    let absent = paths::commitment(b.id(), 99);
    let proven = a.prove(&absent, height).await.unwrap();
    assert_eq!(proven.value, None);
    handle
        .check_proof(height, &absent, Expect::Absent, &proven.proof)
        .await
        .unwrap();
    assert!(handle
        .check_proof(height, &absent, Expect::Value(&commitment), &proven.proof)
        .await
        .is_err());
}

#[tokio::test]
async fn a_proof_with_altered_bytes_does_not_verify() {
    let (a, b, h) = pair().await;
    let m = a.send(b.id(), b"x", NEVER).unwrap();
    let height = a.height();
    let handle = h.handle(a.id());
    handle.verified(height).await.unwrap();
    a.forge_proofs(b"commitments/", Forgery::CorruptProof);
    let key = paths::commitment(b.id(), m.sequence);
    let proven = a.prove(&key, height).await.unwrap();
    let e = handle
        .check_proof(
            height,
            &key,
            Expect::Value(&m.commitment().0),
            &proven.proof,
        )
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "proof", "{e}");
}

#[tokio::test]
async fn a_proof_at_a_height_the_client_did_not_verify_is_refused() {
    let (a, b, h) = pair().await;
    let m = a.send(b.id(), b"x", NEVER).unwrap();
    let height = a.height();
    let key = paths::commitment(b.id(), m.sequence);
    let proven = a.prove(&key, height).await.unwrap();
    // Not verified at `height` (the client holds only its trust root below it).
    assert!(h.handle(a.id()).verified_height().await < height);
    assert!(h
        .handle(a.id())
        .check_proof(
            height,
            &key,
            Expect::Value(&m.commitment().0),
            &proven.proof
        )
        .await
        .is_err());
}

#[tokio::test]
async fn the_client_is_persisted_and_reloaded_not_trusted_anew_on_restart() {
    let (a, _b, h) = pair().await;
    let verified = a.produce_n(4).unwrap();
    h.handle(a.id()).verified(verified).await.unwrap();
    // The chain moves on while the relayer is down.
    a.produce_n(6).unwrap();
    let h = h.restart().await.unwrap();
    assert_eq!(h.handle(a.id()).verified_height().await, verified);
    let stored = Followed::load(h.relay.ledger.store(), a.id(), false)
        .unwrap()
        .unwrap();
    assert_eq!(stored.latest_height(), verified);
    assert!(!stored.is_frozen());
}

#[tokio::test]
async fn a_proof_of_the_wrong_family_is_refused() {
    let (a, b, h) = pair().await;
    let m = a.send(b.id(), b"x", NEVER).unwrap();
    let height = a.height();
    h.handle(a.id()).verified(height).await.unwrap();
    let proof = ChainProof::Evm(Default::default());
    let e = h
        .handle(a.id())
        .check_proof(
            height,
            &paths::commitment(b.id(), m.sequence),
            Expect::Value(&m.commitment().0),
            &proof,
        )
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "proof_family", "{e}");
}
