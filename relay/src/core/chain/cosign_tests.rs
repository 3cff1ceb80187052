//! The co-signer against a real anvil node (the Gateway deployed, blocks mined on request)
//! and the relayer's real RocksDB store: it signs final blocks only, never two blocks at one
//! height (also after a restart), and a conflict stops it and makes `/readyz` say so.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alloy::providers::{Provider, ProviderBuilder};
use xrelay_adapters::evm::{EvmAdapter, EvmSettings, FeePolicy};
use xrelay_adapters::EndpointPolicy;
use xrelay_light_client::evm::attest::{Attestation, Committee};
use xrelay_light_client::evm::client::FinalityMode;
use xrelay_light_client::{Address, ChainId, Hash32, SigningKey};

use super::{ChainHandle, Cosigned, RelayError};
use crate::core::attestations::AttestationBoard;
use crate::core::followed::EvmFollow;
use crate::metrics::Metrics;
use crate::store::RelayStore;

const CONFIRMATIONS: u64 = 2;

struct Node {
    anvil: alloy::node_bindings::AnvilInstance,
    gateway: alloy::primitives::Address,
    chain: ChainId,
}

impl Node {
    /// anvil mining only on request, with the contracts deployed.
    async fn start() -> Node {
        let path = crate::devnet::evm::anvil_path();
        let anvil = alloy::node_bindings::Anvil::at(&path)
            .try_spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "anvil at {} (run scripts/test once, or set XRELAY_ANVIL): {e}",
                    path.display()
                )
            });
        let chain = ChainId::new("anvil").unwrap();
        let deployer = key_of(&anvil, 0);
        let deployment = crate::devnet::evm::deploy(&anvil.endpoint(), &deployer, &chain)
            .await
            .unwrap();
        let node = Node {
            anvil,
            gateway: deployment.gateway,
            chain,
        };
        node.mine(5).await;
        node
    }

    async fn mine(&self, blocks: u64) {
        let provider = ProviderBuilder::new().connect_http(self.anvil.endpoint().parse().unwrap());
        for _ in 0..blocks {
            let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await.unwrap();
        }
    }

    async fn head(&self) -> u64 {
        ProviderBuilder::new()
            .connect_http(self.anvil.endpoint().parse().unwrap())
            .get_block_number()
            .await
            .unwrap()
    }

    /// The relayer's handle of the chain, attesting with `me` in a committee of two, on the
    /// store in `dir` (opened anew: a restart).
    async fn handle(
        &self,
        dir: &Path,
        me: &SigningKey,
        peer: &SigningKey,
        metrics: &Metrics,
    ) -> ChainHandle {
        let settings = EvmSettings {
            chain: self.chain.clone(),
            urls: vec![self.anvil.endpoint()],
            evm_chain_id: self.anvil.chain_id(),
            gateway: self.gateway,
            account: key_of(&self.anvil, 1),
            confirmations: CONFIRMATIONS,
            fees: FeePolicy::default(),
            policy: EndpointPolicy::default(),
            poll: Duration::from_millis(50),
        };
        let adapter = EvmAdapter::connect(settings, None).await.unwrap();
        let mut members = vec![me.address(), peer.address()];
        members.sort();
        let committee = Committee::new(members, 2).unwrap();
        let board = AttestationBoard::new();
        board.admit(self.chain.clone(), &committee);
        let follow = EvmFollow {
            mode: FinalityMode::Attestation(committee),
            gateway: Address(self.gateway.0 .0),
            attester: Some(me.clone()),
            board,
        };
        let store = Arc::new(RelayStore::open(&dir.join("db")).unwrap());
        ChainHandle::open(
            Arc::new(adapter),
            Duration::from_secs(1),
            None,
            Some(follow),
            Vec::new(),
            store,
            metrics.clone(),
        )
        .await
        .unwrap()
    }
}

fn key_of(anvil: &alloy::node_bindings::AnvilInstance, i: usize) -> SigningKey {
    let bytes: [u8; 32] = anvil.keys()[i].to_bytes().into();
    SigningKey::from_bytes(&bytes).unwrap()
}

/// What a peer whose node agrees with this relayer's asks it to sign at `height`.
async fn honest(handle: &ChainHandle, height: u64) -> Attestation {
    handle.own_attestation(height).await.unwrap()
}

fn board(handle: &ChainHandle) -> &AttestationBoard {
    &handle.evm.as_ref().expect("an EVM chain").board
}

fn conflicts(metrics: &Metrics) -> u64 {
    metrics
        .verification_failures
        .with_label_values(&["anvil", "attestation_conflict"])
        .get()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_co_signer_signs_final_blocks_once_remembers_them_across_restarts_and_stops_on_a_conflict(
) {
    let node = Node::start().await;
    let dir = tempfile::tempdir().unwrap();
    let me = SigningKey::from_seed("cosign-test", 0);
    let peer = SigningKey::from_seed("cosign-test", 1);
    let metrics = Metrics::new();
    let handle = node.handle(dir.path(), &me, &peer, &metrics).await;

    let head = node.head().await;
    let last_final = head - CONFIRMATIONS;
    let good = honest(&handle, last_final).await;
    assert_eq!(handle.cosign(&good).await.unwrap(), Cosigned::Signed);
    assert_eq!(handle.cosign(&good).await.unwrap(), Cosigned::AlreadySigned);
    assert_eq!(
        handle
            .store
            .signed_attestation(&node.chain, last_final)
            .unwrap(),
        Some(good.clone()),
        "recorded before signing"
    );
    // A block within the confirmations is not signed yet (and nothing is recorded).
    let young = honest(&handle, head).await;
    assert!(matches!(
        handle.cosign(&young).await,
        Err(RelayError::Retry(_))
    ));
    assert_eq!(
        handle.store.signed_attestation(&node.chain, head).unwrap(),
        None
    );
    // Once final, it is.
    node.mine(CONFIRMATIONS).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match handle.cosign(&young).await {
            Ok(done) => {
                assert_eq!(done, Cosigned::Signed);
                break;
            }
            Err(RelayError::Retry(_)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(handle.cosign_halted().is_none());
    let chains: BTreeMap<ChainId, Arc<ChainHandle>> =
        [(node.chain.clone(), Arc::new(handle))].into();
    let (ready, _) = crate::api::readiness(&chains).await;
    assert!(ready);
    drop(chains);

    // Restart (a new handle on the same store, an empty board): the same block again is
    // fine, another block at that height is a conflict.
    let metrics = Metrics::new();
    let handle = node.handle(dir.path(), &me, &peer, &metrics).await;
    assert_eq!(handle.cosign(&good).await.unwrap(), Cosigned::Signed);
    let mut forged = good.clone();
    forged.block_hash = Hash32([0xab; 32]);
    let refused = handle.cosign(&forged).await;
    assert!(
        matches!(
            &refused,
            Err(RelayError::Verification {
                reason: "attestation_conflict",
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(
        !board(&handle).signed_by(&forged, &me.address()),
        "nothing signed"
    );
    assert_eq!(conflicts(&metrics), 1);
    assert_eq!(metrics.cosign_halted.with_label_values(&["anvil"]).get(), 1);
    let why = handle.cosign_halted().expect("co-signing stopped");
    assert!(why.contains("this relayer signed block"), "{why}");
    // It signs nothing of the chain any more, not even what its node agrees with.
    node.mine(1).await;
    let next = honest(&handle, last_final + 1).await;
    assert!(matches!(
        handle.cosign(&next).await,
        Err(RelayError::CosignHalted { .. })
    ));
    assert!(!board(&handle).signed_by(&next, &me.address()));
    // /readyz: not ready, naming the chain and why.
    let chains: BTreeMap<ChainId, Arc<ChainHandle>> =
        [(node.chain.clone(), Arc::new(handle))].into();
    let (ready, body) = crate::api::readiness(&chains).await;
    assert!(!ready);
    let reasons = body["not_ready"].to_string();
    assert!(
        reasons.contains("chain anvil") && reasons.contains("stopped co-signing"),
        "{body}"
    );
    assert!(reasons.contains("this relayer signed block"), "{body}");
    assert_eq!(body["chains"]["anvil"]["cosign_halted"], why.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_its_own_node_disagrees_with_stops_the_co_signer() {
    let node = Node::start().await;
    let dir = tempfile::tempdir().unwrap();
    let me = SigningKey::from_seed("cosign-test", 0);
    let peer = SigningKey::from_seed("cosign-test", 1);
    let metrics = Metrics::new();
    let handle = node.handle(dir.path(), &me, &peer, &metrics).await;
    let height = node.head().await - CONFIRMATIONS;
    let mut other = honest(&handle, height).await;
    other.state_root = Hash32([0x77; 32]);
    let refused = handle.cosign(&other).await;
    assert!(
        matches!(
            &refused,
            Err(RelayError::Verification {
                reason: "attestation_conflict",
                ..
            })
        ),
        "{refused:?}"
    );
    let why = handle.cosign_halted().expect("co-signing stopped");
    assert!(why.contains("this relayer's node has block"), "{why}");
    assert_eq!(
        handle
            .store
            .signed_attestation(&node.chain, height)
            .unwrap(),
        None
    );
    assert_eq!(conflicts(&metrics), 1);
    // The honest block at that height is not signed either, nor are its own attestations
    // made any more.
    let good = honest(&handle, height).await;
    assert!(matches!(
        handle.cosign(&good).await,
        Err(RelayError::CosignHalted { .. })
    ));
    node.mine(1).await;
    assert!(matches!(
        handle.verified(height + 1).await,
        Err(RelayError::CosignHalted { .. })
    ));
    for h in [height, height + 1] {
        assert_eq!(
            handle.store.signed_attestation(&node.chain, h).unwrap(),
            None
        );
    }
}
