//! From configuration to a running relay: the one place that knows which adapter serves which
//! chain family. `[[chains]]` sections become adapters here ([`connect`]: the devchain's
//! JSON-RPC adapter, or the EVM adapter with its keys and finality mode from [`evm`]), the
//! relay core receives them as `dyn ChainAdapter` and never names a family's adapter itself
//! (ARCHITECTURE.md, invariants; checked by `relay/tests/layering.rs`).

pub mod evm;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use xrelay_adapters::devchain::DevchainAdapter;
use xrelay_adapters::evm::{EvmAdapter, EvmSettings};
use xrelay_adapters::{AdapterError, ChainAdapter, EndpointPolicy};
use xrelay_light_client::ChainId;

use crate::config::{hex_hash, ChainSection, RelayerConfig};
use crate::core::attestations::AttestationBoard;
use crate::core::chain::{ChainHandle, RelayError};
use crate::core::followed::EvmFollow;
use crate::core::ledger::Ledger;
use crate::core::Relay;
use crate::metrics::Metrics;
use crate::store::RelayStore;

/// How one configured chain is reached: worked out once from its section (an EVM chain's
/// keys leave the keystore here), then connected as often as a patient start needs.
pub enum ChainWiring {
    /// A devchain node over JSON-RPC and its WebSocket head stream.
    Devchain {
        /// The node's endpoints, in failover order.
        urls: Vec<String>,
    },
    /// An EVM node and the Gateway on it; `follow` says how the relayer's EVM light client
    /// verifies its blocks.
    Evm {
        /// Endpoints, account, fee policy.
        settings: Box<EvmSettings>,
        /// Finality mode, Gateway address, attester key.
        follow: EvmFollow,
    },
}

impl ChainWiring {
    /// Reads one `[[chains]]` section. An attestation-mode EVM chain admits its committee
    /// to `board` here.
    pub fn prepare(
        id: &ChainId,
        c: &ChainSection,
        policy: EndpointPolicy,
        board: &Arc<AttestationBoard>,
    ) -> anyhow::Result<Self> {
        Ok(match &c.evm {
            None => ChainWiring::Devchain {
                urls: c.rpc.clone(),
            },
            Some(e) => {
                let (settings, follow) = evm::settings(id, c, e, policy, board)?;
                ChainWiring::Evm {
                    settings: Box::new(settings),
                    follow,
                }
            }
        })
    }
}

/// Connects the adapter a chain's wiring names, polling heads every `poll` while no stream
/// pushes them. Returns the adapter and, for an EVM chain, how its light client follows it.
pub async fn connect(
    id: &ChainId,
    wiring: &ChainWiring,
    policy: EndpointPolicy,
    poll: Duration,
    metrics: &Metrics,
) -> Result<(Arc<dyn ChainAdapter>, Option<EvmFollow>), AdapterError> {
    Ok(match wiring {
        ChainWiring::Devchain { urls } => (
            Arc::new(
                DevchainAdapter::connect(
                    id.clone(),
                    urls,
                    policy,
                    Some(metrics.rpc_errors.clone()),
                    poll,
                )
                .await?
                .with_refusals(metrics.claims_refused.clone()),
            ),
            None,
        ),
        ChainWiring::Evm { settings, follow } => {
            let mut settings = settings.as_ref().clone();
            settings.poll = poll;
            (
                Arc::new(
                    EvmAdapter::connect(settings, Some(metrics.rpc_errors.clone()))
                        .await?
                        .with_refusals(metrics.claims_refused.clone()),
                ),
                Some(follow.clone()),
            )
        }
    })
}

/// Directed lanes, both ways of every link.
type Lanes = Vec<(ChainId, ChainId)>;
/// The chains each chain is linked with.
type Partners = BTreeMap<ChainId, Vec<ChainId>>;

/// Both directions of every configured link, and each chain's partners.
fn lanes(cfg: &RelayerConfig) -> anyhow::Result<(Lanes, Partners)> {
    let mut lanes = Lanes::new();
    let mut partners = Partners::new();
    for link in &cfg.links {
        let a: ChainId = link.chains[0].parse()?;
        let b: ChainId = link.chains[1].parse()?;
        lanes.push((a.clone(), b.clone()));
        lanes.push((b.clone(), a.clone()));
        partners.entry(a.clone()).or_default().push(b.clone());
        partners.entry(b).or_default().push(a);
    }
    Ok((lanes, partners))
}

impl Relay {
    /// Connects to every chain, opens the store and the light clients; a chain that cannot
    /// be reached fails the whole open (for one-shot commands such as `clear`).
    pub async fn open(cfg: &RelayerConfig, metrics: Metrics) -> anyhow::Result<Arc<Relay>> {
        Self::open_with(cfg, metrics, None).await
    }

    /// [`Self::open`] for the long-running relayer: a chain that cannot be reached yet
    /// (its node restarting, say) is retried with backoff up to `patience`, with a warning
    /// each time, instead of ending the process. Anything else (a trust root that does
    /// not match, a store of another schema) still fails at once.
    pub async fn open_patiently(
        cfg: &RelayerConfig,
        metrics: Metrics,
        patience: Duration,
    ) -> anyhow::Result<Arc<Relay>> {
        Self::open_with(cfg, metrics, Some(patience)).await
    }

    async fn open_with(
        cfg: &RelayerConfig,
        metrics: Metrics,
        patience: Option<Duration>,
    ) -> anyhow::Result<Arc<Relay>> {
        std::fs::create_dir_all(&cfg.relayer.data_dir)
            .map_err(|e| anyhow::anyhow!("{}: {e}", cfg.relayer.data_dir.display()))?;
        let store = Arc::new(RelayStore::open(&cfg.relayer.data_dir.join("db"))?);
        let (lanes, partners) = lanes(cfg)?;
        let attestations = AttestationBoard::new();
        let mut chains = BTreeMap::new();
        for c in &cfg.chains {
            let id: ChainId = c.id.parse()?;
            let policy = EndpointPolicy {
                request_timeout: Duration::from_millis(c.request_timeout_ms),
                ..EndpointPolicy::default()
            };
            let block_time = Duration::from_millis(c.block_time_ms);
            let trusted = match (
                c.trusted_height,
                c.trusted_hash.as_deref().and_then(hex_hash),
            ) {
                (Some(h), Some(hash)) => Some((h, hash)),
                _ => None,
            };
            let started = std::time::Instant::now();
            let mut backoff = Duration::from_millis(250);
            let wiring = ChainWiring::prepare(&id, c, policy, &attestations)?;
            let poll = (block_time / 2).max(Duration::from_millis(20));
            let handle = loop {
                let opened = async {
                    let (adapter, follow) = connect(&id, &wiring, policy, poll, &metrics).await?;
                    ChainHandle::open(
                        adapter,
                        block_time,
                        trusted,
                        follow,
                        partners.get(&id).cloned().unwrap_or_default(),
                        store.clone(),
                        metrics.clone(),
                    )
                    .await
                }
                .await;
                match (opened, patience) {
                    (Ok(handle), _) => break handle,
                    (Err(RelayError::Adapter(e)), Some(p)) if started.elapsed() < p => {
                        tracing::warn!(chain = %c.id, error = %e, retry_in_ms = backoff.as_millis() as u64, "chain unreachable at start; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                    (Err(e), _) => anyhow::bail!("chain {}: {e}", c.id),
                }
            };
            chains.insert(id, Arc::new(handle));
        }
        let ledger = Ledger::open(
            store,
            metrics.clone(),
            lanes.iter().cloned().collect::<BTreeSet<_>>(),
        )?;
        let mesh = if cfg.mesh.enabled {
            crate::mesh::Mesh::start(&cfg.mesh, metrics.mesh.clone(), attestations.clone()).await?
        } else {
            crate::mesh::Mesh::off(cfg.mesh.window, attestations.clone())
        };
        Ok(Relay::assemble(
            ledger,
            metrics,
            chains,
            lanes,
            cfg.relayer.max_batch,
            mesh,
        ))
    }
}
