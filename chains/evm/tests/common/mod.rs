//! What the test files that run contracts on anvil share: starting the node and providers
//! that send as its funded accounts.

use alloy::network::EthereumWallet;
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
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
