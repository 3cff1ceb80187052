//! What the anvil test files share: one anvil node per test file on 127.0.0.1 (ephemeral
//! port), providers that send as its funded accounts (a governance account and a
//! stranger), and control of the node's clock. Each test file includes it as `mod common;`
//! and uses part of it.

#![allow(dead_code)]

use alloy::network::EthereumWallet;
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::Address as EvmAddress;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use serde_json::Value;
use xrelay_evm::node::anvil_path;

/// anvil (`xrelay_evm::node::anvil_path`) on 127.0.0.1 with an ephemeral port and the extra
/// command-line `args`; it stops when the returned instance is dropped.
pub fn spawn_anvil(args: &[&str]) -> AnvilInstance {
    Anvil::at(anvil_path())
        .host("127.0.0.1")
        .args(args.iter().copied())
        .try_spawn()
        .unwrap_or_else(|e| {
            panic!(
                "anvil at {} did not start ({e}); install it with scripts/lib.sh or set XRELAY_ANVIL",
                anvil_path().display()
            )
        })
}

/// A provider that signs and sends as anvil's `i`-th funded account.
pub fn wallet_provider(anvil: &AnvilInstance, i: usize) -> DynProvider {
    let signer: PrivateKeySigner = anvil.keys()[i].clone().into();
    // Nonces are asked of the node for every transaction: a call refused at gas estimation
    // must not leave a cached nonce (and a gap) behind it.
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(signer))
        .connect_http(anvil.endpoint_url())
        .erased()
}

/// A running anvil and the accounts the tests send from; anvil stops when it is dropped.
pub struct Node {
    _anvil: AnvilInstance,
    /// The first funded account: deploys contracts, so it is their governance.
    pub provider: DynProvider,
    /// A second funded account, for calls governance must refuse.
    pub stranger: DynProvider,
    /// The stranger's address.
    pub stranger_address: EvmAddress,
}

impl Node {
    /// anvil on 127.0.0.1 with its genesis block at `genesis_s` (seconds).
    pub fn start(genesis_s: u64) -> Node {
        let anvil = spawn_anvil(&["--timestamp", &genesis_s.to_string()]);
        Node {
            provider: wallet_provider(&anvil, 0),
            stranger: wallet_provider(&anvil, 1),
            stranger_address: anvil.addresses()[1],
            _anvil: anvil,
        }
    }

    /// The latest block's time, in seconds.
    pub async fn now_s(&self) -> u64 {
        self.provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .expect("latest block")
            .expect("a latest block")
            .header
            .timestamp
    }

    /// Mines a block at `secs`: the contracts' "now" is then `secs * 1000` plus the few
    /// seconds the node's clock runs on (every time margin in the tests is wider than
    /// that). A time the node has already reached leaves it as it is.
    pub async fn set_time(&self, secs: u64) {
        if secs <= self.now_s().await {
            return;
        }
        let _: Value = self
            .provider
            .raw_request("evm_setNextBlockTimestamp".into(), (secs,))
            .await
            .expect("evm_setNextBlockTimestamp");
        let _: Value = self
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .expect("evm_mine");
    }
}
