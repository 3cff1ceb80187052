//! The `EvmLightClient` contract (a client of other EVM chains): its binding, deployment,
//! and the byte bodies its calls take. The bodies are the protocol's encodings: the create
//! arguments an `EvmClientState` with the trust parameters after it, an update the
//! devchain's tag-6 body, evidence an `EvmMisbehaviour` after the chain id (PROTOCOL.md
//! §12), so the relayer's encoders serve both chain families.

use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;
use alloy::sol_types::SolInterface;
use xrelay_light_client::encoding::Writer;
use xrelay_light_client::evm::client::{EvmClientState, EvmUpdate};
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
use xrelay_light_client::ChainId;
use xrelay_protocol::RelayTx;

alloy::sol!(
    /// Binding of `contracts/EvmLightClient.sol`, generated from its committed artifact
    /// (ABI and bytecode): calls, events, custom errors (the header libraries' included)
    /// and `deploy`.
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    EvmLightClient,
    "artifacts/EvmLightClient.json"
);

pub use EvmLightClient::EvmLightClientErrors;

/// Why talking to the EVM light client contract failed.
#[derive(Debug, thiserror::Error)]
pub enum EvmLightClientError {
    /// The node refused or failed the call or transaction; `reverted` holds the contract's
    /// custom error when the failure was a revert the ABI names.
    #[error("EVM light client call failed: {source}")]
    Call {
        /// The RPC or contract error.
        #[source]
        source: alloy::contract::Error,
        /// The decoded revert, if any.
        reverted: Option<EvmLightClientErrors>,
    },
    /// The deployment transaction did not yield a contract address.
    #[error("deployment failed: {0}")]
    Deploy(String),
}

impl From<alloy::contract::Error> for EvmLightClientError {
    fn from(source: alloy::contract::Error) -> Self {
        let reverted = revert_of(&source);
        EvmLightClientError::Call { source, reverted }
    }
}

/// The contract's custom error carried by a failed call, if it reverted with one.
pub fn revert_of(err: &alloy::contract::Error) -> Option<EvmLightClientErrors> {
    let data = err.as_revert_data()?;
    EvmLightClientErrors::abi_decode(&data).ok()
}

/// Deploys an `EvmLightClient` (and, from its constructor, its admin module) whose
/// governance is the provider's sending account.
pub async fn deploy_evm_light_client<P: Provider>(
    provider: P,
) -> Result<Address, EvmLightClientError> {
    let pending = EvmLightClient::deploy_builder(provider)
        .send()
        .await
        .map_err(EvmLightClientError::from)?;
    let receipt = pending
        .get_receipt()
        .await
        .map_err(|e| EvmLightClientError::Deploy(e.to_string()))?;
    receipt
        .contract_address
        .ok_or_else(|| EvmLightClientError::Deploy("receipt has no contract address".into()))
}

/// `createClient` / `resetClient` argument: `EvmClientState` ‖ `u64 trusting_period_ms` ‖
/// `u64 max_clock_drift_ms` (PROTOCOL.md §12.4).
pub fn create_evm_client_args(
    state: &EvmClientState,
    trusting_period_ms: u64,
    max_clock_drift_ms: u64,
) -> Bytes {
    let mut w = Writer::default();
    w.put(state).u64(trusting_period_ms).u64(max_clock_drift_ms);
    w.into_vec().into()
}

/// `updateClient` body: `ChainId ‖ seq<EvmUpdate>`, the devchain's tag-6 body.
pub fn evm_update_body(chain: &ChainId, updates: &[EvmUpdate]) -> Bytes {
    Bytes::from(
        RelayTx::UpdateEvmClient {
            chain: chain.clone(),
            updates: updates.to_vec(),
        }
        .body(),
    )
}

/// `submitMisbehaviour` body: `ChainId ‖ EvmMisbehaviour`, the devchain's tag-10 body (what
/// `Gateway.submitEvmMisbehaviour` passes on).
pub fn evm_misbehaviour_body(chain: &ChainId, evidence: &EvmMisbehaviour) -> Bytes {
    Bytes::from(
        RelayTx::SubmitEvmMisbehaviour {
            chain: chain.clone(),
            evidence: Box::new(evidence.clone()),
        }
        .body(),
    )
}
