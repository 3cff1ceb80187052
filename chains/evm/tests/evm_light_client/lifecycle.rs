//! The client's life outside the Rust rules: governance (create, reset, hand-over), the
//! create arguments' own checks, the admin module refusing direct calls, the trusting
//! period and the clock-drift bound (Solidity only, PROTOCOL.md §12.6), and pruning to the
//! newest 512 consensus states.

use alloy::primitives::Bytes;
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use xrelay_evm::evm_light_client::EvmLightClient;
use xrelay_evm::{create_evm_client_args, evm_update_body};
use xrelay_light_client::evm::client::{EvmUpdate, MAX_CONSENSUS_STATES};
use xrelay_light_client::evm::istanbul::BftVariant;
use xrelay_light_client::evm::testkit::bft_reseal;
use xrelay_light_client::Encode;

use super::client::{self, update_both, DRIFT_MS, LONG_PERIOD_MS};
use super::runs::{keys, BftChain};
use crate::common::Node;

fn kind(label: &str) -> &str {
    label.split('(').next().unwrap_or(label)
}

/// Governance and the create arguments.
pub async fn governance(node: &Node) {
    let start_s = node.now_s().await - 1_000;
    let chain = BftChain::new(BftVariant::Qbft, keys("gov", 4), &[0, 1, 2, 3], start_s);
    let rust = chain.client("gov");
    let lc = client::deploy(&node.provider).await;
    let args = create_evm_client_args(&rust, LONG_PERIOD_MS, DRIFT_MS);
    let as_stranger = EvmLightClient::new(*lc.address(), node.stranger.clone());
    let refused = as_stranger
        .createClient(args.clone())
        .send()
        .await
        .expect_err("stranger");
    assert_eq!(kind(&client::revert_label(&refused)), "NotGovernance");
    let refused = lc
        .resetClient(args.clone())
        .send()
        .await
        .expect_err("nothing to reset");
    assert_eq!(kind(&client::revert_label(&refused)), "UnknownClient");
    let zero = create_evm_client_args(&rust, 0, DRIFT_MS);
    let refused = lc.createClient(zero).send().await.expect_err("zero period");
    assert_eq!(kind(&client::revert_label(&refused)), "InvalidTrustOptions");
    let mut frozen = rust.encode();
    *frozen.last_mut().expect("frozen flag") = 1;
    frozen.extend_from_slice(&LONG_PERIOD_MS.to_be_bytes());
    frozen.extend_from_slice(&DRIFT_MS.to_be_bytes());
    let refused = lc
        .createClient(frozen.into())
        .send()
        .await
        .expect_err("frozen");
    assert_eq!(kind(&client::revert_label(&refused)), "FrozenSetup");
    let mut trailing = args.to_vec();
    trailing.push(0);
    let refused = lc
        .createClient(trailing.into())
        .send()
        .await
        .expect_err("trailing");
    assert_eq!(client::revert_label(&refused), "malformed");
    client::create(&lc, &rust, LONG_PERIOD_MS, false).await;
    let refused = lc
        .createClient(args.clone())
        .send()
        .await
        .expect_err("twice");
    assert_eq!(kind(&client::revert_label(&refused)), "ClientExists");
    let id = Bytes::copy_from_slice(b"gov");
    let gateway = lc
        .counterpartyGateway(id.clone())
        .call()
        .await
        .expect("gateway");
    assert_eq!(gateway.0 .0, rust.gateway().0);
    let params = lc
        .trustParameters(id.clone())
        .call()
        .await
        .expect("trust parameters");
    assert_eq!(
        (params.trustingPeriodMs, params.maxClockDriftMs),
        (LONG_PERIOD_MS, DRIFT_MS)
    );
    let state = lc
        .clientState(id.clone(), 0)
        .call()
        .await
        .expect("clientState");
    assert_eq!(
        state.to_vec(),
        rust.encode(),
        "clientState is the canonical encoding"
    );

    // The admin module runs only by delegatecall.
    let admin = lc.admin().call().await.expect("admin");
    let call = TransactionRequest::default()
        .to(admin)
        .input(lc.createClient(args.clone()).calldata().clone().into());
    let direct = node.provider.call(call).await.expect_err("direct call");
    let data = direct
        .as_error_resp()
        .and_then(|e| e.as_revert_data())
        .expect("revert data");
    assert_eq!(
        &data[..4],
        &alloy::primitives::keccak256(b"NotDelegated()")[..4]
    );

    // Handing governance on.
    let refused = lc
        .transferGovernance(alloy::primitives::Address::ZERO)
        .send()
        .await
        .expect_err("zero");
    assert_eq!(kind(&client::revert_label(&refused)), "ZeroGovernance");
    lc.transferGovernance(node.stranger_address)
        .send()
        .await
        .expect("transfer")
        .get_receipt()
        .await
        .expect("receipt");
    let refused = lc
        .resetClient(args.clone())
        .send()
        .await
        .expect_err("former governance");
    assert_eq!(kind(&client::revert_label(&refused)), "NotGovernance");
    as_stranger
        .resetClient(args)
        .send()
        .await
        .expect("new governance resets")
        .get_receipt()
        .await
        .expect("receipt");
    println!("governance: create, reset, hand-over and the create arguments' checks hold");
}

/// The trusting period and the clock-drift bound: the contract refuses where the Rust
/// client (which has neither) accepts.
pub async fn trusting_period(node: &Node) {
    let now_s = node.now_s().await;
    let mut chain = BftChain::new(
        BftVariant::Qbft,
        keys("period", 4),
        &[0, 1, 2, 3],
        now_s - 30,
    );
    let mut rust = chain.client("period");
    let lc = client::deploy(&node.provider).await;
    client::create(&lc, &rust, 120_000, false).await;
    let run = chain.extend(2, &[0, 1, 2, 3], &[0, 1, 2]);
    assert_eq!(
        update_both(&lc, &mut rust, &[EvmUpdate::Headers(run)], "in time").await,
        "ok"
    );

    // A block dated beyond now + drift: Rust takes it, the contract does not.
    let mut ahead = chain.next(&[0, 1, 2, 3], None, &[0, 1, 2]);
    ahead.timestamp = node.now_s().await + 3_600;
    bft_reseal(BftVariant::Qbft, &mut ahead, &chain.keys[..3]);
    let body = evm_update_body(rust.chain_id(), &[EvmUpdate::Headers(vec![ahead])]);
    assert!(
        client::rust_update(&rust, &body).is_ok(),
        "Rust has no clock"
    );
    let label = client::call_update(&lc, body)
        .await
        .expect_err("from the future");
    assert_eq!(kind(&label), "HeaderFromFuture");

    // 200 s later the latest block (about now - 28 s) is past the 120 s period.
    node.set_time(now_s + 200).await;
    let next = chain.extend(1, &[0, 1, 2, 3], &[0, 1, 2]);
    let body = evm_update_body(rust.chain_id(), &[EvmUpdate::Headers(next.clone())]);
    assert!(
        client::rust_update(&rust, &body).is_ok(),
        "Rust has no trusting period"
    );
    let label = client::call_update(&lc, body).await.expect_err("expired");
    assert_eq!(kind(&label), "ClientExpired");
    let id = Bytes::copy_from_slice(b"period");
    let proof = lc
        .provenState(id.clone(), 2)
        .call()
        .await
        .expect_err("expired proofs");
    assert_eq!(kind(&client::revert_label(&proof)), "ClientExpired");
    assert!(
        lc.consensusState(id.clone(), 2)
            .call()
            .await
            .expect("view")
            .exists,
        "kept, not usable"
    );
    // Governance revives it with a fresh trusted state.
    let fresh = chain.client("period");
    client::create(&lc, &fresh, LONG_PERIOD_MS, true).await;
    let mut rust = fresh;
    let again = chain.headers[1..].to_vec();
    assert_eq!(
        update_both(&lc, &mut rust, &[EvmUpdate::Headers(again)], "after reset").await,
        "ok"
    );
    let proven = lc
        .provenState(id, 3)
        .call()
        .await
        .expect("proof after reset");
    assert_eq!(
        proven.stateRoot.0,
        rust.consensus_state(3).expect("held").state_root.0
    );
    println!(
        "trusting period: a block from the future and an expired client refused, reset revives"
    );
}

/// 530 blocks in runs of 64 (and one of 18): the newest 512 kept, as in Rust.
pub async fn pruning(node: &Node) {
    let start_s = node.now_s().await - 100_000;
    let mut chain = BftChain::new(BftVariant::Qbft, keys("prune", 1), &[0], start_s);
    let mut rust = chain.client("prune");
    let lc = client::deploy(&node.provider).await;
    client::create(&lc, &rust, LONG_PERIOD_MS, false).await;
    for n in [64usize, 64, 64, 64, 64, 64, 64, 64, 18] {
        let run = chain.extend(n, &[0], &[0]);
        assert_eq!(
            update_both(&lc, &mut rust, &[EvmUpdate::Headers(run)], "run").await,
            "ok"
        );
    }
    let id = Bytes::copy_from_slice(b"prune");
    assert_eq!(rust.heights().count(), MAX_CONSENSUS_STATES);
    assert_eq!(rust.heights().next(), Some(19));
    for h in [0u64, 18] {
        assert!(
            !lc.consensusState(id.clone(), h)
                .call()
                .await
                .expect("view")
                .exists,
            "{h} pruned"
        );
        let e = lc
            .provenState(id.clone(), h)
            .call()
            .await
            .expect_err("pruned");
        assert_eq!(client::revert_label(&e), format!("unknown_height({h})"));
    }
    for h in [19u64, 200, 530] {
        let cs = lc.consensusState(id.clone(), h).call().await.expect("view");
        assert!(cs.exists, "{h} kept");
        assert_eq!(
            cs.headerHash.0,
            rust.consensus_state(h).expect("held").block_hash.0
        );
    }
    // A held block re-sent after pruning of its predecessors is still skipped; a pruned
    // one is too old.
    let old = chain.headers[10].clone();
    assert_eq!(
        kind(&update_both(&lc, &mut rust, &[EvmUpdate::Headers(vec![old])], "pruned").await),
        "not_newer"
    );
    println!("pruning: 530 blocks sent, the newest 512 kept as in Rust");
}
