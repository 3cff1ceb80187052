//! # xrelay-adapters
//!
//! [`ChainAdapter`] is everything the relay core needs from a chain, and nothing specific
//! to one chain family: identity and height, signed headers (light blocks), the protocol's
//! events over a height range and as a live stream of new heights, state proofs, the
//! state of the chain's on-chain client of another chain, and submitting and confirming
//! the relay's transactions. A new chain family is one module implementing it.
//!
//! Adapters return what the chain *says*; the relay core verifies every header and proof
//! with its own light clients before it forwards anything.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod devchain;
mod endpoints;
pub mod evm;
pub mod screen;
mod types;

pub use endpoints::{EndpointPolicy, RpcErrorCounter};
pub use types::{
    AdapterError, Applied, ChainEvent, ChainFamily, ChainProof, ChainStatus, ClientUpdate,
    Confirmed, HostedClient, Proven, Submission,
};

use async_trait::async_trait;
use tokio::sync::watch;
use xrelay_light_client::evm::client::EvmUpdate;
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::{ChainId, Hash32, Height, LightBlock};

/// What the relay needs from one chain.
#[async_trait]
pub trait ChainAdapter: Send + Sync + 'static {
    /// The chain this adapter talks to.
    fn chain_id(&self) -> &ChainId;

    /// What kind of chain it is: which light client follows it, which proofs it serves.
    fn family(&self) -> ChainFamily;

    /// Latest committed height and its time.
    async fn status(&self) -> Result<ChainStatus, AdapterError>;

    /// The signed header at `height` with the validator sets that sign it and the next one
    /// (BFT chains).
    async fn light_block(&self, height: Height) -> Result<LightBlock, AdapterError>;

    /// The block header at `height` as its hash commits to it (EVM chains).
    async fn evm_header(&self, height: Height) -> Result<EvmHeader, AdapterError> {
        Err(AdapterError::NotFound {
            chain: self.chain_id().to_string(),
            what: format!("EVM header {height}: not an EVM chain"),
        })
    }

    /// Protocol events of heights `from..=to`, in chain order. Callers keep ranges within
    /// [`ChainAdapter::max_event_range`].
    async fn events(&self, from: Height, to: Height) -> Result<Vec<ChainEvent>, AdapterError>;

    /// Most heights one [`ChainAdapter::events`] call may span.
    fn max_event_range(&self) -> u64 {
        500
    }

    /// A live view of the latest committed height: updated as blocks are committed (pushed
    /// when the chain can push, polled otherwise). It survives connection loss.
    fn heads(&self) -> watch::Receiver<Height>;

    /// The value at `key` (protocol path) with its proof at `height`.
    async fn prove(&self, key: &[u8], height: Height) -> Result<Proven, AdapterError>;

    /// The values at `keys` with their proofs at `height`, in the order of `keys`. A batch
    /// of deliveries needs one proof per message: chains that can answer many in one
    /// request override this (one round trip instead of one per message).
    async fn prove_many(
        &self,
        keys: &[Vec<u8>],
        height: Height,
    ) -> Result<Vec<Proven>, AdapterError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.prove(key, height).await?);
        }
        Ok(out)
    }

    /// The next sequence this chain's lane from `source` expects, at `height` (unverified:
    /// the relayer proves it with [`Self::prove`] at `paths::next_receive`). Chains whose
    /// proofs carry the value itself read it from there; others ask.
    async fn next_receive(&self, source: &ChainId, height: Height) -> Result<u64, AdapterError> {
        let proven = self
            .prove(&xrelay_light_client::paths::next_receive(source), height)
            .await?;
        match proven.value {
            None => Ok(1),
            Some(v) => v
                .as_slice()
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| AdapterError::BadAnswer {
                    chain: self.chain_id().to_string(),
                    why: format!("next_recv/{source} holds {} bytes, not 8", v.len()),
                }),
        }
    }

    /// The state of this chain's client of `of`, if it has one.
    async fn client_state(&self, of: &ChainId) -> Result<Option<HostedClient>, AdapterError>;

    /// This chain's client of `of`, possibly trimmed to its latest consensus state and the
    /// one at `height`: enough to bring it to `height`, and what a relayer asks for before
    /// every update (a whole client can hold hundreds of consensus states).
    async fn client_state_for(
        &self,
        of: &ChainId,
        height: Height,
    ) -> Result<Option<HostedClient>, AdapterError> {
        let _ = height;
        self.client_state(of).await
    }

    /// The headers of `of` that transactions in this chain's block at `height` submitted to
    /// its client of `of` (what misbehaviour detection compares with `of`'s own headers).
    async fn submitted_headers(
        &self,
        height: Height,
        of: &ChainId,
    ) -> Result<Vec<LightBlock>, AdapterError>;

    /// The updates of the EVM chain `of` that transactions in this chain's block at `height`
    /// submitted to its client of `of` (misbehaviour detection re-verifies the block a
    /// `ClientUpdated` event names from them). Chains that host no EVM clients have none.
    async fn submitted_evm_updates(
        &self,
        height: Height,
        of: &ChainId,
    ) -> Result<Vec<EvmUpdate>, AdapterError> {
        let _ = (height, of);
        Ok(Vec::new())
    }

    /// Builds, submits and confirms one relay transaction: returns once a block included it
    /// (or the chain refused it).
    async fn submit(&self, submission: Submission) -> Result<Confirmed, AdapterError>;

    /// Submits one relay transaction and returns once the chain accepted it for a coming
    /// block (or refused it), without waiting for the block: a client update sent this way
    /// right before the transaction that needs it lands in the same block. Chains without
    /// a mempool to queue in confirm it as [`Self::submit`] does.
    async fn broadcast(&self, submission: Submission) -> Result<Hash32, AdapterError> {
        Ok(self.submit(submission).await?.tx_hash)
    }
}
