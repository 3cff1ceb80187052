//! Every single-bit alteration (bit 0 and bit 7 of each byte after the chain id) of an
//! update body — a QBFT run, a Clique run, an attestation — and of evidence bodies: the
//! contract's verdict (a call, nothing sent) equals the Rust client's on the same bytes,
//! accepted with the same newly trusted blocks or refused by the same rule.

use std::collections::BTreeMap;

use alloy::primitives::Bytes;
use xrelay_evm::evm_update_body;
use xrelay_light_client::evm::attest::{Attestation, Attested};
use xrelay_light_client::evm::client::{EvmClientState, EvmUpdate};
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
use xrelay_light_client::Hash32;

use super::client::{self, Client, LONG_PERIOD_MS};
use super::evidence::qbft_fork;
use super::runs::{keys, BftChain};
use super::setups::{attestation_client, clique_client, single_bit_flips, AttestationSetup};
use crate::common::Node;
use xrelay_light_client::evm::istanbul::BftVariant;

/// The verdict kinds met, and how many bodies were compared.
#[derive(Default)]
pub struct Tally {
    /// Bodies compared.
    pub compared: usize,
    /// Verdict kind (label up to its arguments) → count.
    pub kinds: BTreeMap<String, usize>,
}

impl Tally {
    fn add(&mut self, label: &str) {
        self.compared += 1;
        let kind = label.split('(').next().unwrap_or(label).to_string();
        *self.kinds.entry(kind).or_default() += 1;
    }
}

/// Which entry point a body is for.
#[derive(Clone, Copy)]
enum Entry {
    /// `updateClient` / `EvmClientState::update`.
    Update,
    /// `submitMisbehaviour` / `EvmClientState::freeze_on_misbehaviour`.
    Evidence,
}

/// Flips every bit 0 and bit 7 of `body` after the chain id and compares the verdicts of
/// `entry` on both sides (an update's: the blocks it newly trusts).
async fn flip_every_bit(
    lc: &Client,
    rust: &EvmClientState,
    body: &[u8],
    entry: Entry,
    tally: &mut Tally,
    what: &str,
) {
    let start = 4 + rust.chain_id().as_str().len();
    for (pos, mask, flipped) in single_bit_flips(body, start) {
        let verdict = match entry {
            Entry::Update => {
                let expected = client::rust_update(rust, &flipped).map(|(_, trusted)| trusted);
                let called = client::call_update(lc, Bytes::from(flipped)).await;
                assert_eq!(called, expected, "{what}: byte {pos} ^ {mask:#04x}");
                expected.map(drop)
            }
            Entry::Evidence => {
                let expected = client::rust_evidence(rust, &flipped).map(drop);
                let called = client::call_evidence(lc, Bytes::from(flipped)).await;
                assert_eq!(called, expected, "{what}: byte {pos} ^ {mask:#04x}");
                expected
            }
        };
        tally.add(match &verdict {
            Ok(()) => "accepted",
            Err(label) => label,
        });
    }
}

/// A QBFT run of 3 headers (4 validators), a Clique run of 3 headers across a checkpoint,
/// an attestation (2 of 3), QBFT fork evidence and attestation evidence, every bit flipped.
pub async fn every_bit_flipped(node: &Node) -> Vec<(&'static str, Tally)> {
    let mut out = Vec::new();

    let start_s = node.now_s().await - 100_000;
    let mut chain = BftChain::new(
        BftVariant::Qbft,
        keys("flip-qbft", 4),
        &[0, 1, 2, 3],
        start_s,
    );
    let rust = chain.client("flip-qbft");
    let lc = client::deploy(&node.provider).await;
    client::create(&lc, &rust, LONG_PERIOD_MS, false).await;
    let run = chain.extend(3, &[0, 1, 2, 3], &[0, 1, 2]);
    let body = evm_update_body(rust.chain_id(), &[EvmUpdate::Headers(run)]);
    let mut tally = Tally::default();
    flip_every_bit(&lc, &rust, &body, Entry::Update, &mut tally, "QBFT run").await;
    out.push(("QBFT run (3 headers)", tally));

    let clique = clique_client(node, "flip-clique", 2, start_s).await;
    let blocks = clique.blocks(3);
    let body = evm_update_body(
        clique.rust.chain_id(),
        &[EvmUpdate::Headers(blocks[1..].to_vec())],
    );
    let mut tally = Tally::default();
    flip_every_bit(
        &clique.lc,
        &clique.rust,
        &body,
        Entry::Update,
        &mut tally,
        "Clique run",
    )
    .await;
    out.push(("Clique run (3 headers, checkpoint)", tally));

    let AttestationSetup {
        lc,
        rust,
        committee,
        chain_id,
        base_ms,
    } = attestation_client(node, "flip-attest", 3, 2, "flip-anvil").await;
    let at = |height: u64, root: u8| Attestation {
        chain_id: chain_id.clone(),
        height,
        block_hash: Hash32([height as u8; 32]),
        state_root: Hash32([root; 32]),
        time_ms: base_ms + height * 1000,
    };
    let attested = Attested::sign(at(12, 1), &committee[..2]);
    let body = evm_update_body(rust.chain_id(), &[EvmUpdate::Attested(attested.clone())]);
    let mut tally = Tally::default();
    flip_every_bit(&lc, &rust, &body, Entry::Update, &mut tally, "attestation").await;
    out.push(("attestation (2 of 3)", tally));

    let mut held = rust.clone();
    held.update(&EvmUpdate::Attested(attested.clone()))
        .expect("12");
    client::send_update(&lc, body).await.expect("12 on chain");
    let evidence = EvmMisbehaviour::Attestations {
        first: attested,
        second: Attested::sign(at(12, 9), &committee[1..]),
    };
    let body = client::evidence_body(&held, &evidence);
    let mut tally = Tally::default();
    flip_every_bit(
        &lc,
        &held,
        &body,
        Entry::Evidence,
        &mut tally,
        "attestation evidence",
    )
    .await;
    out.push(("attestation evidence", tally));

    let (lc, rust, _, a, b) = qbft_fork(node, "flip-fork").await;
    let evidence = EvmMisbehaviour::Headers {
        first: Box::new(a),
        second: Box::new(b),
    };
    let body = client::evidence_body(&rust, &evidence);
    let mut tally = Tally::default();
    flip_every_bit(
        &lc,
        &rust,
        &body,
        Entry::Evidence,
        &mut tally,
        "QBFT evidence",
    )
    .await;
    out.push(("QBFT fork evidence", tally));
    out
}
