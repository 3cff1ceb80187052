//! The `evm_client` RPC method through a running node and `NodeClient`: governance creates
//! an EVM client with a transaction the mempool checks, and the client reads back exactly
//! the stored state; chains without one (or with a BFT client) answer `None`.

use std::time::Duration;

use xrelay_devchain::node::chain::{ChainConfig, KeySource, Limits, ValidatorPlan};
use xrelay_devchain::node::client::NodeClient;
use xrelay_devchain::node::run::{start, NodeOptions};
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_devchain::Genesis;
use xrelay_light_client::evm::attest::Committee;
use xrelay_light_client::evm::client::{EvmClientState, EvmConsensusState, FinalityMode};
use xrelay_light_client::{Address, ChainId, Hash32, SigningKey, TrustOptions};

fn governance() -> SigningKey {
    SigningKey::from_seed("rpc-evm-test", 0)
}

fn evm_client_of(chain: &str) -> EvmClientState {
    let attesters = (0..3)
        .map(|i| SigningKey::from_seed("rpc-evm-attester", i).address())
        .collect();
    EvmClientState::new(
        ChainId::new(chain).unwrap(),
        FinalityMode::Attestation(Committee::new(attesters, 2).unwrap()),
        vec![],
        Address([0x6a; 20]),
        12,
        EvmConsensusState {
            block_hash: Hash32([1; 32]),
            state_root: Hash32([2; 32]),
            time_ms: 1_735_689_600_000,
        },
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_serves_its_evm_clients() {
    let chain_id = ChainId::new("alpha").unwrap();
    let node = start(NodeOptions {
        chain: ChainConfig {
            chain_id: chain_id.clone(),
            validators: ValidatorPlan {
                keys: KeySource::Seed("alpha-validators".into()),
                count: 4,
                power: 10,
                rotate_every: None,
            },
            signers: None,
            genesis: Genesis {
                governance: governance().address(),
                clients: vec![],
                balances: vec![],
            },
            limits: Limits {
                max_mempool_txs: 16,
                max_block_txs: 16,
                ..Limits::default()
            },
        },
        data_dir: None,
        rpc: "127.0.0.1:0".parse().unwrap(),
        block_time_ms: 50,
        fault: None,
    })
    .await
    .unwrap();
    let client = NodeClient::new(
        &format!("http://{}", node.rpc_addr),
        Duration::from_secs(10),
    )
    .unwrap();

    let evm = evm_client_of("anvil-1");
    let create = Tx::Signed(Box::new(SignedAction::sign(
        &chain_id,
        &governance(),
        0,
        Action::CreateEvmClient(Box::new(evm.clone())),
    )));
    let included = client
        .submit(&create, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(included.kind, "create_evm_client");
    assert!(included.outcome.is_ok(), "{:?}", included.outcome);
    assert_eq!(
        client.evm_client_state(evm.chain_id()).await.unwrap(),
        Some(evm.clone())
    );

    // The mempool refuses a second client of the same chain.
    let again = Tx::Signed(Box::new(SignedAction::sign(
        &chain_id,
        &governance(),
        1,
        Action::CreateEvmClient(Box::new(evm.clone())),
    )));
    let err = client
        .submit(&again, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(err.is_refusal(), "{err}");

    // A chain followed by a BFT client, and one followed by none: no EVM client.
    let beta = xrelay_light_client::testkit::TestChain::new(
        xrelay_light_client::testkit::ChainSpec::new(
            "beta",
            xrelay_light_client::testkit::fixed_set(4, 1),
        ),
        2,
    );
    let bft = Tx::Signed(Box::new(SignedAction::sign(
        &chain_id,
        &governance(),
        1,
        Action::CreateClient {
            trusted: beta.trusted_state(1),
            options: TrustOptions::default(),
        },
    )));
    let included = client.submit(&bft, Duration::from_secs(10)).await.unwrap();
    assert!(included.outcome.is_ok(), "{:?}", included.outcome);
    let beta_id = ChainId::new("beta").unwrap();
    assert!(client.client_state(&beta_id).await.unwrap().is_some());
    assert_eq!(client.evm_client_state(&beta_id).await.unwrap(), None);
    assert_eq!(
        client
            .evm_client_state(&ChainId::new("nobody").unwrap())
            .await
            .unwrap(),
        None
    );
    // The BFT `client` method does not serve the EVM client either.
    assert_eq!(client.client_state(evm.chain_id()).await.unwrap(), None);

    // Malformed parameters are the caller's error, not an answer.
    let bad: Result<serde_json::Value, _> = client
        .call(
            "evm_client",
            serde_json::json!({ "chain": "anvil-1", "at": 3 }),
        )
        .await;
    assert!(bad.is_err());
    node.stop().await;
}
