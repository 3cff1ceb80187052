//! The devchain adapter: the devchain node's JSON-RPC (`docs/DEVCHAIN_RPC.md`) through
//! [`NodeClient`], with several endpoints per chain, failover, timeouts and backoff, and a
//! live head pushed over the node's WebSocket block stream (polled while that is down).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jsonrpsee::core::client::SubscriptionClientT;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::Value;
use tokio::sync::watch;
use xrelay_devchain::client::{ClientError, NodeClient};
use xrelay_devchain::rpc_answers::{codes, MAX_PROOF_KEYS};
use xrelay_devchain::tx::Tx;
use xrelay_devchain::Event;
use xrelay_light_client::evm::client::EvmUpdate;
use xrelay_light_client::{ChainId, Hash32, Height, LightBlock};
use xrelay_protocol::RelayTx;

use crate::endpoints::{EndpointPolicy, Endpoints, RpcErrorCounter};
use crate::screen::{screen_events, Head, HeadGuard, Refusals};
use crate::types::Applied;
use crate::{
    AdapterError, ChainAdapter, ChainEvent, ChainFamily, ChainProof, ChainStatus, Confirmed,
    HostedClient, Proven, Submission,
};

/// How long `submit` waits for the block that includes a transaction.
const INCLUSION_WAIT: Duration = Duration::from_secs(30);

/// A devchain, reached through one or more node endpoints.
pub struct DevchainAdapter {
    chain: ChainId,
    endpoints: Arc<Endpoints<NodeClient>>,
    heads: watch::Receiver<Height>,
    head_task: tokio::task::JoinHandle<()>,
    refused: Refusals,
}

impl Drop for DevchainAdapter {
    fn drop(&mut self) {
        self.head_task.abort();
    }
}

fn error(chain: &ChainId, e: ClientError) -> AdapterError {
    let chain = chain.to_string();
    match e {
        ClientError::Transport(message) | ClientError::Timeout(message) => {
            AdapterError::Unavailable { chain, message }
        }
        ClientError::Rpc { code, message } => match code {
            codes::TX_REFUSED => AdapterError::Refused {
                chain,
                reason: message,
            },
            codes::NOT_FOUND => AdapterError::NotFound {
                chain,
                what: message,
            },
            codes::TIMEOUT | codes::MEMPOOL_FULL => AdapterError::Busy {
                chain,
                why: message,
            },
            _ => AdapterError::Unavailable {
                chain,
                message: format!("rpc error {code}: {message}"),
            },
        },
        ClientError::BadAnswer { method, why } => AdapterError::BadAnswer {
            chain,
            why: format!("{method}: {why}"),
        },
    }
}

impl DevchainAdapter {
    /// Connects to `chain` through `urls` (HTTP; the WebSocket stream uses the same ports).
    /// Refuses endpoints that serve another chain. `poll` is how often the head is polled
    /// while no push stream is up.
    pub async fn connect(
        chain: ChainId,
        urls: &[String],
        policy: EndpointPolicy,
        errors: RpcErrorCounter,
        poll: Duration,
    ) -> Result<Self, AdapterError> {
        if urls.is_empty() {
            return Err(AdapterError::Unavailable {
                chain: chain.to_string(),
                message: "no RPC endpoints configured".into(),
            });
        }
        let mut clients = Vec::new();
        for url in urls {
            let client =
                NodeClient::new(url, policy.request_timeout).map_err(|e| error(&chain, e))?;
            clients.push((url.clone(), client));
        }
        let endpoints = Arc::new(Endpoints::new(chain.to_string(), clients, policy, errors));
        let status = endpoints
            .call("status", |c| {
                let chain = chain.clone();
                async move { c.status().await.map_err(|e| error(&chain, e)) }
            })
            .await?;
        if status.chain_id != chain {
            return Err(AdapterError::BadAnswer {
                chain: chain.to_string(),
                why: format!("endpoint serves chain {}, not {chain}", status.chain_id),
            });
        }
        let (tx, heads) = watch::channel(status.latest_height);
        let refused = Refusals::default();
        let guard = HeadGuard::new(status.latest_height, poll * 2);
        let head_task = tokio::spawn(follow_heads(
            chain.clone(),
            endpoints.clone(),
            tx,
            poll,
            guard,
            refused.clone(),
        ));
        Ok(DevchainAdapter {
            chain,
            endpoints,
            heads,
            head_task,
            refused,
        })
    }

    /// Counts what this adapter refuses from its nodes (events that cannot be true, heads
    /// too far ahead) in `xrelay_claims_refused_total{chain,reason}`.
    pub fn with_refusals(self, counter: prometheus::IntCounterVec) -> Self {
        self.refused.install(counter);
        self
    }

    /// The transactions of block `height` (what a host's client was updated with).
    async fn block_txs(&self, height: Height) -> Result<Vec<Tx>, AdapterError> {
        self.call("block_txs", |c| async move { c.block_txs(height).await })
            .await
    }

    /// The chain's client of the EVM chain `of`, if it hosts one.
    async fn evm_client(&self, of: &ChainId) -> Result<Option<HostedClient>, AdapterError> {
        let evm = self
            .call(
                "evm_client",
                |c| async move { c.evm_client_state(of).await },
            )
            .await?;
        Ok(evm.map(HostedClient::Evm))
    }

    async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T, AdapterError>
    where
        F: Fn(NodeClient) -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let chain = &self.chain;
        self.endpoints
            .call(what, |c| {
                let fut = f(c);
                async move { fut.await.map_err(|e| error(chain, e)) }
            })
            .await
    }
}

/// Keeps `tx` at the chain's latest height: from the first endpoint's WebSocket block
/// stream while it is up, by polling `status` otherwise (and retrying the stream).
async fn follow_heads(
    chain: ChainId,
    endpoints: Arc<Endpoints<NodeClient>>,
    tx: watch::Sender<Height>,
    poll: Duration,
    mut guard: HeadGuard,
    refused: Refusals,
) {
    // Publishes a plausible newer head; says false for one too far ahead (a lying or broken
    // endpoint: the caller moves to another).
    let mut publish = |h: Height, endpoint: &str| -> bool {
        match guard.admit(h) {
            Head::Moved(h) => {
                tx.send_replace(h);
                true
            }
            Head::Known => true,
            Head::Suspect { allowed } => {
                tracing::warn!(%chain, endpoint, reported = h, allowed, "head further ahead than elapsed time allows; ignored");
                refused.count(&chain, "suspect_head");
                false
            }
        }
    };
    loop {
        if tx.is_closed() {
            return;
        }
        for url in endpoints.urls() {
            let ws_url = url
                .replacen("http://", "ws://", 1)
                .replacen("https://", "wss://", 1);
            let Ok(ws) = WsClientBuilder::default().build(&ws_url).await else {
                continue;
            };
            let Ok(mut sub) = ws
                .subscribe::<Value, _>("subscribe_blocks", heads_only(), "unsubscribe_blocks")
                .await
            else {
                continue;
            };
            tracing::debug!(%chain, endpoint = %ws_url, "following blocks over WebSocket");
            // A stream that stays silent for long is treated as dead.
            while let Ok(Some(Ok(notice))) =
                tokio::time::timeout(poll * 20 + Duration::from_secs(5), sub.next()).await
            {
                if let Some(h) = notice["height"].as_u64() {
                    if !publish(h, &ws_url) {
                        break;
                    }
                }
                if tx.is_closed() {
                    return;
                }
            }
            tracing::debug!(%chain, endpoint = %ws_url, "block stream ended; polling");
        }
        // No stream: poll for a while, then try streaming again.
        for _ in 0..20 {
            let status = endpoints
                .call("status", |c| {
                    let chain = chain.clone();
                    async move { c.status().await.map_err(|e| error(&chain, e)) }
                })
                .await;
            if let Ok(s) = status {
                let endpoint = endpoints.preferred_url();
                if !publish(s.latest_height, &endpoint) {
                    endpoints.demote(&endpoint);
                }
            }
            if tx.is_closed() {
                return;
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// `subscribe_blocks` parameters asking for heads only: the relayer reads events by
/// height range, so the block's transaction results would be decoded for nothing.
fn heads_only() -> jsonrpsee::core::params::ObjectParams {
    let mut p = jsonrpsee::core::params::ObjectParams::new();
    // Inserting a bool into a fresh parameter object cannot fail.
    let _ = p.insert("txs", false);
    p
}

/// The adapter's view of a module event at `height`; `None` for events no relay step reads
/// (client creation, payments). Public so an in-process devchain maps events the same way.
pub fn chain_event(height: Height, event: Event) -> Option<ChainEvent> {
    Some(match event {
        Event::MessageSent { message } => ChainEvent::Sent { height, message },
        Event::MessageReceived { message, ack } => ChainEvent::Received {
            height,
            message,
            ack,
        },
        Event::MessageExpired { message } => ChainEvent::Expired { height, message },
        Event::MessageAcknowledged { message, ack } => ChainEvent::Acknowledged {
            height,
            message,
            ack,
        },
        Event::MessageTimedOut { message } => ChainEvent::TimedOut { height, message },
        Event::ClientUpdated { chain, headers } => ChainEvent::ClientUpdated {
            height,
            of: chain,
            headers,
        },
        Event::ClientFrozen { chain, .. } => ChainEvent::ClientFrozen { height, of: chain },
        Event::ClientCreated { .. } | Event::Paid { .. } => return None,
    })
}

/// The headers a block's transactions `txs` submitted to the client of `of` (what
/// misbehaviour detection compares with `of`'s own); shared with the in-memory testkit.
pub fn headers_submitted_in(txs: Vec<Tx>, of: &ChainId) -> Vec<LightBlock> {
    txs.into_iter()
        .filter_map(|tx| match tx {
            Tx::Relay(RelayTx::UpdateClient { chain, blocks }) if chain == *of => Some(blocks),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The EVM headers or attestations `txs` submitted to the EVM client of `of`.
pub fn evm_updates_submitted_in(txs: Vec<Tx>, of: &ChainId) -> Vec<EvmUpdate> {
    txs.into_iter()
        .filter_map(|tx| match tx {
            Tx::Relay(RelayTx::UpdateEvmClient { chain, updates }) if chain == *of => Some(updates),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The devchain transaction that runs `s`: the protocol's relay body as such (public so an
/// in-process devchain, the relayer's testkit, sends exactly what this adapter sends).
pub fn to_tx(chain: &ChainId, s: Submission) -> Result<Tx, AdapterError> {
    RelayTx::from_submission(s)
        .map(Tx::Relay)
        .map_err(|e| AdapterError::Refused {
            chain: chain.to_string(),
            reason: e.to_string(),
        })
}

#[async_trait]
impl ChainAdapter for DevchainAdapter {
    fn chain_id(&self) -> &ChainId {
        &self.chain
    }

    fn family(&self) -> ChainFamily {
        ChainFamily::Devchain
    }

    async fn status(&self) -> Result<ChainStatus, AdapterError> {
        let s = self
            .call("status", |c| async move { c.status().await })
            .await?;
        Ok(ChainStatus {
            height: s.latest_height,
            time_ms: s.latest_time_ms,
        })
    }

    async fn light_block(&self, height: Height) -> Result<LightBlock, AdapterError> {
        let block = self
            .call("header", |c| async move { c.light_block(height).await })
            .await?;
        if block.height() != height || block.header().chain_id != self.chain {
            return Err(AdapterError::BadAnswer {
                chain: self.chain.to_string(),
                why: format!(
                    "asked for {}/{height}, got {}/{}",
                    self.chain,
                    block.header().chain_id,
                    block.height()
                ),
            });
        }
        Ok(block)
    }

    async fn events(&self, from: Height, to: Height) -> Result<Vec<ChainEvent>, AdapterError> {
        let events = self
            .call("events", |c| async move { c.events(from, to).await })
            .await?;
        let events = events
            .into_iter()
            .filter_map(|e| chain_event(e.height, e.event))
            .collect();
        Ok(screen_events(&self.chain, from, to, events, &self.refused))
    }

    fn max_event_range(&self) -> u64 {
        1_000
    }

    fn heads(&self) -> watch::Receiver<Height> {
        self.heads.clone()
    }

    async fn prove(&self, key: &[u8], height: Height) -> Result<Proven, AdapterError> {
        let p = self
            .call("proof", |c| async move { c.proof(key, height).await })
            .await?;
        Ok(Proven {
            height: p.height,
            value: p.value,
            proof: ChainProof::Jmt(p.proof),
        })
    }

    async fn prove_many(
        &self,
        keys: &[Vec<u8>],
        height: Height,
    ) -> Result<Vec<Proven>, AdapterError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_PROOF_KEYS) {
            let proven = self
                .call("proofs", |c| async move { c.proofs(chunk, height).await })
                .await?;
            if proven.len() != chunk.len() {
                return Err(AdapterError::BadAnswer {
                    chain: self.chain.to_string(),
                    why: format!("proofs: {} answers to {} keys", proven.len(), chunk.len()),
                });
            }
            out.extend(proven.into_iter().map(|p| Proven {
                height: p.height,
                value: p.value,
                proof: ChainProof::Jmt(p.proof),
            }));
        }
        Ok(out)
    }

    async fn client_state_for(
        &self,
        of: &ChainId,
        height: Height,
    ) -> Result<Option<HostedClient>, AdapterError> {
        let bft = self
            .call(
                "client",
                |c| async move { c.client_state_for(of, height).await },
            )
            .await?;
        match bft {
            Some(c) => Ok(Some(HostedClient::Bft(Box::new(c)))),
            None => self.evm_client(of).await,
        }
    }

    async fn client_state(&self, of: &ChainId) -> Result<Option<HostedClient>, AdapterError> {
        let bft = self
            .call("client", |c| async move { c.client_state(of).await })
            .await?;
        match bft {
            Some(c) => Ok(Some(HostedClient::Bft(Box::new(c)))),
            None => self.evm_client(of).await,
        }
    }

    async fn submitted_headers(
        &self,
        height: Height,
        of: &ChainId,
    ) -> Result<Vec<LightBlock>, AdapterError> {
        Ok(headers_submitted_in(self.block_txs(height).await?, of))
    }

    async fn submitted_evm_updates(
        &self,
        height: Height,
        of: &ChainId,
    ) -> Result<Vec<EvmUpdate>, AdapterError> {
        Ok(evm_updates_submitted_in(self.block_txs(height).await?, of))
    }

    async fn broadcast(&self, submission: Submission) -> Result<Hash32, AdapterError> {
        let tx = to_tx(&self.chain, submission)?;
        self.call("submit_tx", |c| {
            let tx = &tx;
            async move { c.broadcast(tx).await }
        })
        .await
    }

    async fn submit(&self, submission: Submission) -> Result<Confirmed, AdapterError> {
        let tx = to_tx(&self.chain, submission)?;
        let included = self
            .call("submit_tx", |c| {
                let tx = &tx;
                async move { c.submit(tx, INCLUSION_WAIT).await }
            })
            .await?;
        Ok(Confirmed {
            height: included.height,
            tx_hash: included.hash,
            outcome: included.outcome.map(|report| Applied {
                events: report
                    .events
                    .into_iter()
                    .filter_map(|e| chain_event(included.height, e))
                    .collect(),
                already_done: report.already_done,
            }),
        })
    }
}
