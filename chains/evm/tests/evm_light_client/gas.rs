//! Gas per verified header, against its floor: the `ecrecover` calls the rules require
//! (3,000 gas each) plus hashing the bytes they require (keccak-256 at 30 + 6 per word of
//! each preimage: QBFT / IBFT 2.0 the seal digest's and the block hash's, Clique the seal
//! hash's and the header's; attestations SHA-256 at 60 + 12 per word of the tagged
//! attestation). "Execution" is the receipt's gas minus the 21,000 intrinsic gas and the
//! calldata (4 per zero byte, 16 per other byte).

use alloy::primitives::Bytes;
use xrelay_evm::evm_update_body;
use xrelay_light_client::evm::attest::{Attestation, Attested, ATTEST_TAG};
use xrelay_light_client::evm::client::EvmUpdate;
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::istanbul::{quorum, BftExtraData, BftVariant};
use xrelay_light_client::{Encode, Hash32};

use super::client::{self, LONG_PERIOD_MS};
use super::runs::{keys, BftChain};
use super::setups::{attestation_client, clique_client, AttestationSetup};
use crate::common::Node;

/// Storing one consensus state in a ring entry never written: three new slots at 22,100
/// gas each (the same entry rewritten after the ring wrapped costs 3 × 5,000).
pub const NEW_STATE_GAS: u64 = 3 * 22_100;

/// One row of the table.
pub struct Row {
    /// What was verified.
    pub what: String,
    /// Receipt gas of one header in its own update.
    pub single: u64,
    /// Its execution gas.
    pub single_exec: u64,
    /// Receipt gas per header of a 10-header run.
    pub per_header_in_10: u64,
    /// Its execution gas per header.
    pub run_exec: u64,
    /// The floor per header.
    pub floor: u64,
}

fn keccak_gas(len: usize) -> u64 {
    30 + 6 * len.div_ceil(32) as u64
}

fn sha256_gas(len: usize) -> u64 {
    60 + 12 * len.div_ceil(32) as u64
}

fn calldata_gas(body: &Bytes) -> u64 {
    // The call's ABI encoding: selector, offset, length, the body padded to words.
    let padded = body.len().div_ceil(32) * 32;
    let zeros_in_padding = (padded - body.len()) as u64 + 4 + 32 + 28;
    let body_gas: u64 = body.iter().map(|b| if *b == 0 { 4 } else { 16 }).sum();
    // selector (4 non-zero bytes at most), offset 0x20 and the length: counted exactly
    // enough for a ratio (their few non-zero bytes).
    body_gas + zeros_in_padding * 4 + 4 * 16 + 2 * 16
}

async fn gas_of(lc: &client::Client, body: Bytes) -> (u64, u64) {
    let receipt = client::send_update(lc, body.clone())
        .await
        .expect("update accepted");
    let used = receipt.gas_used;
    (used, used.saturating_sub(21_000 + calldata_gas(&body)))
}

fn bft_floor(variant: BftVariant, header: &EvmHeader, seals: usize) -> u64 {
    let extra = BftExtraData::decode(variant, &header.extra_data).expect("extra");
    let digest_len = header
        .encode_with_extra_data(&extra.encode_for_seal_digest())
        .len();
    let hash_len = header
        .encode_with_extra_data(&extra.encode_for_block_hash())
        .len();
    3_000 * seals as u64 + keccak_gas(digest_len) + keccak_gas(hash_len)
}

async fn bft_row(node: &Node, variant: BftVariant, n: u32) -> Row {
    let name = format!("gas-{variant:?}-{n}").to_lowercase();
    let start_s = node.now_s().await - 100_000;
    let all: Vec<usize> = (0..n as usize).collect();
    let sealers: Vec<usize> = (0..quorum(n as usize)).collect();
    let mut chain = BftChain::new(variant, keys(&name, n), &all, start_s);
    let rust = chain.client(&name);
    let lc = client::deploy(&node.provider).await;
    client::create(&lc, &rust, LONG_PERIOD_MS, false).await;
    let one = chain.extend(1, &all, &sealers);
    let floor = bft_floor(variant, &one[0], sealers.len());
    let (single, single_exec) = gas_of(
        &lc,
        evm_update_body(rust.chain_id(), &[EvmUpdate::Headers(one)]),
    )
    .await;
    let ten = chain.extend(10, &all, &sealers);
    let (run, run_exec) = gas_of(
        &lc,
        evm_update_body(rust.chain_id(), &[EvmUpdate::Headers(ten)]),
    )
    .await;
    Row {
        what: format!("{variant:?} {n} validators ({} seals)", sealers.len()),
        single,
        single_exec,
        per_header_in_10: run / 10,
        run_exec: run_exec / 10,
        floor,
    }
}

async fn clique_row(node: &Node) -> Row {
    let start_s = node.now_s().await - 100_000;
    let clique = clique_client(node, "gas-clique", 30_000, start_s).await;
    let (lc, rust, blocks) = (&clique.lc, &clique.rust, clique.blocks(11));
    let h = &blocks[1];
    let floor = 3_000
        + keccak_gas(h.encode().len())
        + keccak_gas(
            h.encode_with_extra_data(&h.extra_data[..h.extra_data.len() - 65])
                .len(),
        );
    let (single, single_exec) = gas_of(
        lc,
        evm_update_body(
            rust.chain_id(),
            &[EvmUpdate::Headers(blocks[1..2].to_vec())],
        ),
    )
    .await;
    let (run, run_exec) = gas_of(
        lc,
        evm_update_body(
            rust.chain_id(),
            &[EvmUpdate::Headers(blocks[2..12].to_vec())],
        ),
    )
    .await;
    Row {
        what: "Clique 3 signers (1 seal)".into(),
        single,
        single_exec,
        per_header_in_10: run / 10,
        run_exec: run_exec / 10,
        floor,
    }
}

async fn attestation_row(node: &Node, k: usize, n: u32) -> Row {
    let name = format!("gas-attest-{k}-{n}");
    let AttestationSetup {
        lc,
        committee,
        chain_id: chain,
        base_ms,
        ..
    } = attestation_client(node, &name, n, k, &name).await;
    let at = |height: u64| Attestation {
        chain_id: chain.clone(),
        height,
        block_hash: Hash32([height as u8; 32]),
        state_root: Hash32([7; 32]),
        time_ms: base_ms + height * 1000,
    };
    let update = |height: u64| EvmUpdate::Attested(Attested::sign(at(height), &committee[..k]));
    let floor = 3_000 * k as u64 + sha256_gas(ATTEST_TAG.len() + at(11).encode().len());
    let (single, single_exec) = gas_of(&lc, evm_update_body(&chain, &[update(11)])).await;
    let ten: Vec<EvmUpdate> = (12..22).map(update).collect();
    let (run, run_exec) = gas_of(&lc, evm_update_body(&chain, &ten)).await;
    Row {
        what: format!("attestation {k} of {n}"),
        single,
        single_exec,
        per_header_in_10: run / 10,
        run_exec: run_exec / 10,
        floor,
    }
}

/// The gas table: QBFT with 4, 7 and 21 validators, IBFT 2.0 with 4, Clique, attestations
/// 2 of 3 and 5 of 7.
pub async fn table(node: &Node) -> Vec<Row> {
    vec![
        bft_row(node, BftVariant::Qbft, 4).await,
        bft_row(node, BftVariant::Qbft, 7).await,
        bft_row(node, BftVariant::Qbft, 21).await,
        bft_row(node, BftVariant::Ibft2, 4).await,
        clique_row(node).await,
        attestation_row(node, 2, 3).await,
        attestation_row(node, 5, 7).await,
    ]
}
