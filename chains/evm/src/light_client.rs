//! The `BftLightClient` contract: its binding, deployment, and the byte bodies its calls take.

use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;
use alloy::sol_types::SolInterface;
use xrelay_light_client::encoding::Writer;
use xrelay_light_client::{ChainId, LightBlock, Misbehaviour, TrustOptions, TrustedState};
use xrelay_protocol::trusted::put_trusted;
use xrelay_protocol::RelayTx;

alloy::sol!(
    /// Binding of `contracts/BftLightClient.sol`, generated from its committed artifact
    /// (ABI and bytecode): calls, events, custom errors and `deploy`.
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    BftLightClient,
    "artifacts/BftLightClient.json"
);

pub use BftLightClient::BftLightClientErrors;

/// Why talking to the light client contract failed.
#[derive(Debug, thiserror::Error)]
pub enum LightClientError {
    /// The node refused or failed the call or transaction; `reverted` holds the contract's
    /// custom error when the failure was a revert the ABI names.
    #[error("light client call failed: {source}")]
    Call {
        /// The RPC or contract error.
        #[source]
        source: alloy::contract::Error,
        /// The decoded revert, if any.
        reverted: Option<BftLightClientErrors>,
    },
    /// The deployment transaction did not yield a contract address.
    #[error("deployment failed: {0}")]
    Deploy(String),
}

impl From<alloy::contract::Error> for LightClientError {
    fn from(source: alloy::contract::Error) -> Self {
        let reverted = revert_of(&source);
        LightClientError::Call { source, reverted }
    }
}

/// The contract's custom error carried by a failed call, if it reverted with one.
pub fn revert_of(err: &alloy::contract::Error) -> Option<BftLightClientErrors> {
    let data = err.as_revert_data()?;
    BftLightClientErrors::abi_decode(&data).ok()
}

/// Deploys a `BftLightClient` whose governance is the provider's sending account.
pub async fn deploy_light_client<P: Provider>(provider: P) -> Result<Address, LightClientError> {
    let pending = BftLightClient::deploy_builder(provider)
        .send()
        .await
        .map_err(LightClientError::from)?;
    let receipt = pending
        .get_receipt()
        .await
        .map_err(|e| LightClientError::Deploy(e.to_string()))?;
    receipt
        .contract_address
        .ok_or_else(|| LightClientError::Deploy("receipt has no contract address".into()))
}

/// `updateClient` body: `ChainId ‖ seq<LightBlock>`, the devchain's tag-1 body.
pub fn update_body(chain: &ChainId, blocks: &[LightBlock]) -> Bytes {
    Bytes::from(
        RelayTx::UpdateClient {
            chain: chain.clone(),
            blocks: blocks.to_vec(),
        }
        .body(),
    )
}

/// `submitMisbehaviour` body: `ChainId ‖ Misbehaviour`, the devchain's tag-5 body.
pub fn misbehaviour_body(chain: &ChainId, evidence: &Misbehaviour) -> Bytes {
    Bytes::from(
        RelayTx::SubmitMisbehaviour {
            chain: chain.clone(),
            evidence: Box::new(evidence.clone()),
        }
        .body(),
    )
}

/// `createClient` / `resetClient` arguments: `TrustedState` and `TrustOptions`, the
/// encodings of the devchain's create-client action (§9.2).
pub fn create_client_args(trusted: &TrustedState, options: &TrustOptions) -> (Bytes, Bytes) {
    let mut w = Writer::default();
    put_trusted(&mut w, trusted);
    let mut o = Writer::default();
    o.put(options);
    (w.into_vec().into(), o.into_vec().into())
}
