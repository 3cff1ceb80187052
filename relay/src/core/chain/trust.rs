//! Opening a chain: the relayer's light client of it comes from the store, or is created
//! once from the configured trust root (height and header hash) or, without one, from the
//! chain's latest header (trust on first use, logged). Apart from verification because it
//! runs once per start and is where the operator's pinned trust meets the chain's headers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xrelay_adapters::ChainAdapter;
use xrelay_light_client::evm::client::{EvmClientState, EvmConsensusState, FinalityMode};
use xrelay_light_client::{ChainId, ClientState, Hash32, Height, TrustOptions, TrustedState};

use super::{evm_block_hash, ChainHandle, RelayError};
use crate::core::followed::{EvmFollow, Followed};
use crate::metrics::Metrics;
use crate::store::RelayStore;

impl ChainHandle {
    /// Loads the relayer's light client of the chain from the store, or creates it from the
    /// configured trust root (`trusted`: height and header hash) or, without one, from the
    /// chain's latest header (trust on first use, logged). `evm` says how an EVM chain is
    /// followed (`None` for BFT chains).
    pub async fn open(
        adapter: Arc<dyn ChainAdapter>,
        block_time: Duration,
        trusted: Option<(Height, [u8; 32])>,
        evm: Option<EvmFollow>,
        counterparties: Vec<ChainId>,
        store: Arc<RelayStore>,
        metrics: Metrics,
    ) -> Result<Self, RelayError> {
        let id = adapter.chain_id().clone();
        let client = match Followed::load(&store, &id, evm.is_some())? {
            Some(c) => c,
            None => {
                let height = match trusted {
                    Some((height, _)) => height,
                    None => adapter.status().await?.height,
                };
                let client = match &evm {
                    None => Followed::Bft(Box::new(
                        Self::bft_trust_root(&*adapter, &id, height, trusted).await?,
                    )),
                    Some(follow) => Followed::Evm(
                        Self::evm_trust_root(&*adapter, &id, height, trusted, follow).await?,
                    ),
                };
                let mut t = store.transition();
                client.persist(&store, &mut t, &id);
                store.commit(t)?;
                client
            }
        };
        metrics
            .client_height
            .with_label_values(&[id.as_str()])
            .set(client.latest_height() as i64);
        let frozen = store.frozen()?.iter().any(|(c, _)| *c == id) || client.is_frozen();
        Ok(ChainHandle {
            id,
            adapter,
            block_time,
            light: tokio::sync::Mutex::new(client),
            evm,
            attested: tokio::sync::Mutex::new(BTreeMap::new()),
            hosted_updates: counterparties
                .into_iter()
                .map(|c| (c, tokio::sync::Mutex::new(())))
                .collect(),
            frozen: AtomicBool::new(frozen),
            batch_cap: AtomicUsize::new(0),
            batch_ceiling: AtomicUsize::new(0),
            cosign_halt: Mutex::new(None),
            signing: Mutex::new(()),
            store,
            metrics,
        })
    }

    fn trust_root_error(id: &ChainId, detail: String) -> RelayError {
        RelayError::Verification {
            chain: id.clone(),
            reason: "trust_root",
            detail,
        }
    }

    fn check_pinned(
        id: &ChainId,
        height: Height,
        found: Hash32,
        trusted: Option<(Height, [u8; 32])>,
    ) -> Result<(), RelayError> {
        match trusted {
            Some((_, hash)) if found.0 != hash => Err(RelayError::Verification {
                chain: id.clone(),
                reason: "trust_root_mismatch",
                detail: format!(
                    "header {height} is {found}, the config trusts {}",
                    hex::encode(hash)
                ),
            }),
            Some(_) => Ok(()),
            None => {
                tracing::warn!(chain = %id, height, hash = %found, "no trust root configured: trusting the chain's latest header (pin it with trusted_height/trusted_hash)");
                Ok(())
            }
        }
    }

    async fn bft_trust_root(
        adapter: &dyn ChainAdapter,
        id: &ChainId,
        height: Height,
        trusted: Option<(Height, [u8; 32])>,
    ) -> Result<ClientState, RelayError> {
        let block = adapter.light_block(height).await?;
        Self::check_pinned(id, height, block.header().hash(), trusted)?;
        let state = TrustedState::from_light_block(&block)
            .map_err(|e| Self::trust_root_error(id, e.to_string()))?;
        ClientState::new(state, TrustOptions::default())
            .map_err(|e| Self::trust_root_error(id, e.to_string()))
    }

    async fn evm_trust_root(
        adapter: &dyn ChainAdapter,
        id: &ChainId,
        height: Height,
        trusted: Option<(Height, [u8; 32])>,
        follow: &EvmFollow,
    ) -> Result<EvmClientState, RelayError> {
        let header = adapter.evm_header(height).await?;
        let hash =
            evm_block_hash(&follow.mode, &header).map_err(|e| Self::trust_root_error(id, e))?;
        Self::check_pinned(id, height, hash, trusted)?;
        let client = match follow.mode {
            FinalityMode::Attestation(_) => EvmClientState::new(
                id.clone(),
                follow.mode.clone(),
                Vec::new(),
                follow.gateway,
                height,
                EvmConsensusState {
                    block_hash: hash,
                    state_root: header.state_root,
                    time_ms: header.timestamp.saturating_mul(1_000),
                },
            ),
            _ => EvmClientState::from_header(
                id.clone(),
                follow.mode.clone(),
                &header,
                follow.gateway,
            ),
        };
        client.map_err(|e| Self::trust_root_error(id, e.to_string()))
    }
}
