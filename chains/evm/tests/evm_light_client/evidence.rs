//! Misbehaviour evidence (PROTOCOL.md §12.7), each body checked by the contract and by the
//! Rust `freeze_on_misbehaviour` with the same verdict: QBFT and Clique double seals,
//! conflicting attestations and an attestation against a held block; then a frozen client
//! refuses updates and proofs until governance resets it.

use alloy::primitives::Bytes;
use xrelay_light_client::evm::attest::{Attestation, Attested};
use xrelay_light_client::evm::client::{EvmClientState, EvmUpdate};
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::istanbul::BftVariant;
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
use xrelay_light_client::evm::testkit::{bft_reseal, clique_reseal};
use xrelay_light_client::Hash32;

use super::client::{self, update_both, Client, LONG_PERIOD_MS};
use super::runs::{keys, BftChain};
use super::setups::{attestation_client, clique_client, AttestationSetup};
use crate::common::Node;

/// Checks `evidence` on both sides (a call, nothing sent) and returns the common verdict.
pub async fn judge(
    lc: &Client,
    rust: &EvmClientState,
    evidence: &EvmMisbehaviour,
    what: &str,
) -> String {
    let body = client::evidence_body(rust, evidence);
    let expected = client::rust_evidence(rust, &body).map(|_| ());
    let called = client::call_evidence(lc, body).await;
    assert_eq!(called, expected, "{what}: evidence verdicts differ");
    match called {
        Ok(()) => "ok".into(),
        Err(label) => label,
    }
}

fn kind(label: &str) -> &str {
    label.split('(').next().unwrap_or(label)
}

/// A QBFT client at height 4 and two sealed forks of block 5, plus the chain.
pub async fn qbft_fork(
    node: &Node,
    name: &str,
) -> (Client, EvmClientState, BftChain, EvmHeader, EvmHeader) {
    let start_s = node.now_s().await - 100_000;
    let mut chain = BftChain::new(BftVariant::Qbft, keys(name, 5), &[0, 1, 2, 3], start_s);
    let mut rust = chain.client(name);
    let lc = client::deploy(&node.provider).await;
    client::create(&lc, &rust, LONG_PERIOD_MS, false).await;
    let run = chain.extend(4, &[0, 1, 2, 3], &[0, 1, 2]);
    assert_eq!(
        update_both(&lc, &mut rust, &[EvmUpdate::Headers(run)], "to 4").await,
        "ok"
    );
    let a = chain.next(&[0, 1, 2, 3], None, &[0, 1, 2]);
    let mut b = a.clone();
    b.state_root = Hash32([0xbb; 32]);
    bft_reseal(BftVariant::Qbft, &mut b, &chain.keys[1..4]);
    (lc, rust, chain, a, b)
}

/// Every evidence kind, refused and accepted; a frozen client and its reset. Returns the
/// number of evidence bodies compared.
pub async fn evidence(node: &Node) -> usize {
    let mut n = 0;
    let mut check = |label: String, want: &str, what: &str| {
        assert_eq!(kind(&label), want, "{what}: got {label}");
        n += 1;
    };

    // QBFT: two sealed blocks at height 5.
    let (lc, mut rust, chain, a, b) = qbft_fork(node, "evidence-qbft").await;
    let headers = |x: &EvmHeader, y: &EvmHeader| EvmMisbehaviour::Headers {
        first: Box::new(x.clone()),
        second: Box::new(y.clone()),
    };
    check(
        judge(&lc, &rust, &headers(&a, &a), "same").await,
        "no_conflict",
        "same block",
    );
    let mut round = a.clone();
    let mut extra = xrelay_light_client::evm::istanbul::BftExtraData::decode(
        BftVariant::Qbft,
        &round.extra_data,
    )
    .expect("extra");
    extra.round = 3;
    round.extra_data = extra.encode();
    bft_reseal(BftVariant::Qbft, &mut round, &chain.keys[..3]);
    check(
        judge(&lc, &rust, &headers(&a, &round), "another round").await,
        "no_conflict",
        "round only",
    );
    let mut higher = b.clone();
    higher.number += 1;
    bft_reseal(BftVariant::Qbft, &mut higher, &chain.keys[..3]);
    check(
        judge(&lc, &rust, &headers(&a, &higher), "heights").await,
        "evidence_heights",
        "heights",
    );
    let mut thin = b.clone();
    bft_reseal(BftVariant::Qbft, &mut thin, &chain.keys[..2]);
    check(
        judge(&lc, &rust, &headers(&a, &thin), "two seals").await,
        "bft_quorum",
        "thin",
    );
    let mut outsider = b.clone();
    bft_reseal(
        BftVariant::Qbft,
        &mut outsider,
        &[
            chain.keys[0].clone(),
            chain.keys[1].clone(),
            chain.keys[4].clone(),
        ],
    );
    check(
        judge(&lc, &rust, &headers(&a, &outsider), "outsider").await,
        "bft_unknown_signer",
        "outsider",
    );
    let stray = Attested::sign(
        Attestation {
            chain_id: rust.chain_id().clone(),
            height: 5,
            block_hash: Hash32([1; 32]),
            state_root: Hash32([2; 32]),
            time_ms: 1,
        },
        &chain.keys[..1],
    );
    check(
        judge(&lc, &rust, &EvmMisbehaviour::Conflict(stray), "attested").await,
        "mode_mismatch",
        "mode",
    );
    let fork = headers(&a, &b);
    check(judge(&lc, &rust, &fork, "fork").await, "ok", "fork");
    // Sent: the client freezes, refuses updates and proofs, and keeps the first evidence.
    let id = Bytes::copy_from_slice(rust.chain_id().as_str().as_bytes());
    let receipt = lc
        .submitMisbehaviour(client::evidence_body(&rust, &fork))
        .send()
        .await
        .expect("evidence accepted")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status());
    rust.freeze_on_misbehaviour(&fork)
        .expect("Rust freezes too");
    assert!(lc.isFrozen(id.clone()).call().await.expect("isFrozen"));
    check(
        update_both(
            &lc,
            &mut rust,
            &[EvmUpdate::Headers(vec![a.clone()])],
            "frozen",
        )
        .await,
        "frozen",
        "frozen update",
    );
    let proven = lc
        .provenState(id.clone(), 4)
        .call()
        .await
        .expect_err("frozen proofs");
    assert_eq!(client::revert_label(&proven), "frozen");
    check(
        judge(&lc, &rust, &fork, "again").await,
        "ok",
        "evidence on a frozen client",
    );
    // Reset by governance: trusting block 5 of the honest chain, it follows the chain again.
    let mut fresh = chain.client(rust.chain_id().as_str());
    let mut to_5 = chain.headers[1..5].to_vec();
    to_5.push(a.clone());
    fresh
        .update(&EvmUpdate::Headers(to_5))
        .expect("honest chain");
    client::create(&lc, &fresh, LONG_PERIOD_MS, true).await;
    assert!(!lc.isFrozen(id.clone()).call().await.expect("isFrozen"));
    let mut rust = fresh;
    client::assert_same_state(&lc, &rust, "after reset").await;
    let mut chain = chain;
    chain.headers.push(a);
    let six = chain.extend(1, &[0, 1, 2, 3], &[0, 1, 2]);
    check(
        update_both(&lc, &mut rust, &[EvmUpdate::Headers(six)], "after reset").await,
        "ok",
        "reset",
    );

    // Clique: one signer seals two blocks at one height; two signers do not count.
    let start_s = node.now_s().await - 100_000;
    let clique = clique_client(node, "evidence-clique", 100, start_s).await;
    let one = clique.blocks(1).remove(1);
    let mut other = one.clone();
    other.state_root = Hash32([0xcc; 32]);
    clique_reseal(&mut other, &clique.signers[1]);
    let mut by_two = other.clone();
    by_two.difficulty = alloy::primitives::U256::from(1);
    clique_reseal(&mut by_two, &clique.signers[2]);
    let (lc, rust) = (&clique.lc, &clique.rust);
    check(
        judge(lc, rust, &headers(&one, &by_two), "two sealers").await,
        "evidence_sealers",
        "sealers",
    );
    check(
        judge(lc, rust, &headers(&one, &other), "double seal").await,
        "ok",
        "clique",
    );

    // Attestations: two at one height, each vouched for; one against a held block.
    let AttestationSetup {
        lc,
        mut rust,
        committee,
        chain_id,
        base_ms,
    } = attestation_client(node, "evidence-attest", 3, 2, "evidence-anvil").await;
    let at = |root: u8| Attestation {
        chain_id: chain_id.clone(),
        height: 12,
        block_hash: Hash32([12; 32]),
        state_root: Hash32([root; 32]),
        time_ms: base_ms + 2_000,
    };
    let held = Attested::sign(at(1), &committee[..2]);
    assert_eq!(
        update_both(&lc, &mut rust, &[EvmUpdate::Attested(held.clone())], "12").await,
        "ok"
    );
    let twin = Attested::sign(at(9), &committee[1..]);
    check(
        judge(
            &lc,
            &rust,
            &EvmMisbehaviour::Conflict(held.clone()),
            "the held block",
        )
        .await,
        "no_conflict",
        "held",
    );
    check(
        judge(
            &lc,
            &rust,
            &EvmMisbehaviour::Attestations {
                first: held.clone(),
                second: Attested::sign(at(9), &committee[..1]),
            },
            "one signature",
        )
        .await,
        "below_quorum",
        "quorum",
    );
    check(
        judge(
            &lc,
            &rust,
            &EvmMisbehaviour::Attestations {
                first: held.clone(),
                second: held.clone(),
            },
            "same",
        )
        .await,
        "no_conflict",
        "same",
    );
    check(
        judge(
            &lc,
            &rust,
            &EvmMisbehaviour::Attestations {
                first: held,
                second: twin.clone(),
            },
            "two at 12",
        )
        .await,
        "ok",
        "attestations",
    );
    check(
        judge(&lc, &rust, &EvmMisbehaviour::Conflict(twin), "against held").await,
        "ok",
        "conflict",
    );
    n
}
