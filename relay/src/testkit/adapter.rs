//! [`ChainAdapter`] for a testkit chain, answering in process what the devchain adapter
//! gets from a node's RPC (`adapters/src/devchain.rs` over `node/rpc.rs`): the same
//! events (screened the same way), light blocks, proofs, hosted clients, submitted headers
//! and EVM updates, and transaction outcomes, with the chain's faults applied where the node applies its
//! own.

use async_trait::async_trait;
use tokio::sync::watch;
use xrelay_adapters::devchain::{
    chain_event, evm_updates_submitted_in, headers_submitted_in, to_tx,
};
use xrelay_adapters::screen::{screen_events, Refusals};
use xrelay_adapters::{
    AdapterError, Applied, ChainAdapter, ChainEvent, ChainFamily, ChainProof, ChainStatus,
    Confirmed, HostedClient, Proven, Submission,
};
use xrelay_devchain::module::query;
use xrelay_devchain::node::chain::{block_txs, SubmitError};
use xrelay_devchain::node::fault::alter_payload;
use xrelay_devchain::tx::Tx;
use xrelay_devchain::Event;
use xrelay_light_client::evm::client::EvmUpdate;
use xrelay_light_client::prover::StateTree;
use xrelay_light_client::{ChainId, Hash32, Height, LightBlock};

use super::chain::MemChain;

/// Blocks a submission may wait for before it counts as not included (a full mempool
/// spills over into the next blocks).
const INCLUSION_BLOCKS: usize = 4;

impl MemChain {
    fn not_found(&self, what: String) -> AdapterError {
        AdapterError::NotFound {
            chain: self.id.to_string(),
            what,
        }
    }

    fn internal(&self, e: impl std::fmt::Display) -> AdapterError {
        AdapterError::Unavailable {
            chain: self.id.to_string(),
            message: format!("rpc error 3: {e}"),
        }
    }

    /// The served block at `height` (NotFound past the served head), as stored.
    fn served_block(&self, height: Height) -> Result<LightBlock, AdapterError> {
        if self.faults().withholds(height) {
            return Err(self.not_found(format!("no block at height {height}")));
        }
        self.store
            .block(height)
            .map_err(|e| self.internal(e))?
            .ok_or_else(|| self.not_found(format!("no block at height {height}")))
    }

    /// The transactions of the served block at `height`, as the node's faults serve them.
    fn served_txs(&self, height: Height) -> Result<Vec<Tx>, AdapterError> {
        self.served_block(height)?;
        let txs = block_txs(&self.store, height)
            .map_err(|e| self.internal(e))?
            .ok_or_else(|| self.not_found(format!("no block at height {height}")))?;
        // Bound first: the faults' lock is not held while serving.
        let fault = self.faults().node;
        Ok(match fault {
            Some(fault) => fault.serve_txs(txs),
            None => txs,
        })
    }

    /// What the module's state says of one key at `height`, with the faults applied.
    fn proven(&self, key: &[u8], height: Height) -> Result<Proven, AdapterError> {
        self.served_block(height)?;
        let (value, proof) = StateTree::new(self.store.as_ref())
            .prove(key, height)
            .map_err(|e| self.internal(e))?;
        let (value, proof) = self.faults().serve_proof(key, value, proof);
        Ok(Proven {
            height,
            value,
            proof: ChainProof::Jmt(proof),
        })
    }

    fn confirmed(
        &self,
        height: Height,
        hash: Hash32,
        outcome: Result<xrelay_devchain::TxReport, String>,
    ) -> Confirmed {
        Confirmed {
            height,
            tx_hash: hash,
            outcome: outcome.map(|report| Applied {
                events: report
                    .events
                    .into_iter()
                    .filter_map(|e| chain_event(height, e))
                    .collect(),
                already_done: report.already_done,
            }),
        }
    }

    /// Refuses a batch larger than the chain's blocks hold (the `block_items` fault).
    fn fits_in_a_block(&self, submission: &Submission) -> Result<(), AdapterError> {
        let items = match submission {
            Submission::Receive { messages, .. } => messages.len(),
            Submission::Acknowledge { acks, .. } => acks.len(),
            Submission::Timeout { messages, .. } => messages.len(),
            _ => return Ok(()),
        };
        match self.faults().block_items {
            Some(max) if items > max => Err(AdapterError::TooLarge {
                chain: self.id.to_string(),
                why: format!("{items} messages in one transaction; a block holds {max}"),
            }),
            _ => Ok(()),
        }
    }

    fn admit(&self, tx: Tx) -> Result<(), AdapterError> {
        let chain = self.id.to_string();
        self.lock()
            .chain
            .submit(tx, crate::core::clock::now_ms())
            .map(|_| ())
            .map_err(|e| match e {
                SubmitError::MempoolFull(_) | SubmitError::Busy(..) => AdapterError::Busy {
                    chain,
                    why: e.to_string(),
                },
                SubmitError::Refused(_) => AdapterError::Refused {
                    chain,
                    reason: e.to_string(),
                },
            })
    }
}

#[async_trait]
impl ChainAdapter for MemChain {
    fn chain_id(&self) -> &ChainId {
        &self.id
    }

    fn family(&self) -> ChainFamily {
        ChainFamily::Devchain
    }

    async fn status(&self) -> Result<ChainStatus, AdapterError> {
        let height = self.served_height();
        let time_ms = match height {
            0 => 0,
            h => self.served_block(h)?.header().time_ms,
        };
        Ok(ChainStatus { height, time_ms })
    }

    async fn light_block(&self, height: Height) -> Result<LightBlock, AdapterError> {
        let block = self.served_block(height)?;
        let faults = self.faults().clone();
        let block = if faults.conflicting_headers.contains(&height) {
            xrelay_devchain::node::fault::Fault::ConflictingHeader { every: 1 }
                .serve_block(block, &self.plan, false, true)
        } else {
            block
        };
        Ok(match faults.node {
            Some(fault) => fault.serve_block(block, &self.plan, false, false),
            None => block,
        })
    }

    async fn events(&self, from: Height, to: Height) -> Result<Vec<ChainEvent>, AdapterError> {
        if to < from || to - from >= 1_000 {
            return Err(AdapterError::Unavailable {
                chain: self.id.to_string(),
                message: "rpc error -32602: range must be from <= to, at most 1000 heights".into(),
            });
        }
        let faults = self.faults().clone();
        let top = to.min(self.served_height());
        let mut events = Vec::new();
        {
            let inner = self.lock();
            for h in from..=top {
                let Some(results) = inner.chain.results(h).map_err(|e| self.internal(e))? else {
                    continue;
                };
                let txs = match faults.node.filter(|f| f.lies_about_clients()) {
                    Some(_) => block_txs(&self.store, h)
                        .map_err(|e| self.internal(e))?
                        .unwrap_or_default(),
                    None => Vec::new(),
                };
                for tx in results.txs {
                    let Ok(report) = tx.outcome else { continue };
                    for mut e in report.events {
                        if let Some(fault) = &faults.node {
                            if let (true, Event::MessageSent { message }) =
                                (fault.alters_payloads(), &mut e)
                            {
                                alter_payload(&mut message.payload);
                            }
                            fault.serve_event(&mut e, &txs);
                        }
                        events.extend(chain_event(h, e));
                    }
                }
            }
        }
        events.extend(
            faults
                .lying_events
                .iter()
                .filter(|e| (from..=to).contains(&e.height()))
                .cloned(),
        );
        events.sort_by_key(ChainEvent::height);
        Ok(screen_events(
            &self.id,
            from,
            to,
            events,
            &Refusals::default(),
        ))
    }

    fn max_event_range(&self) -> u64 {
        1_000
    }

    fn heads(&self) -> watch::Receiver<Height> {
        self.heads.subscribe()
    }

    async fn prove(&self, key: &[u8], height: Height) -> Result<Proven, AdapterError> {
        self.proven(key, height)
    }

    async fn prove_many(
        &self,
        keys: &[Vec<u8>],
        height: Height,
    ) -> Result<Vec<Proven>, AdapterError> {
        keys.iter().map(|k| self.proven(k, height)).collect()
    }

    async fn client_state(&self, of: &ChainId) -> Result<Option<HostedClient>, AdapterError> {
        self.hosted(of, None)
    }

    async fn client_state_for(
        &self,
        of: &ChainId,
        height: Height,
    ) -> Result<Option<HostedClient>, AdapterError> {
        self.hosted(of, Some(height))
    }

    async fn submitted_headers(
        &self,
        height: Height,
        of: &ChainId,
    ) -> Result<Vec<LightBlock>, AdapterError> {
        Ok(headers_submitted_in(self.served_txs(height)?, of))
    }

    async fn submitted_evm_updates(
        &self,
        height: Height,
        of: &ChainId,
    ) -> Result<Vec<EvmUpdate>, AdapterError> {
        Ok(evm_updates_submitted_in(self.served_txs(height)?, of))
    }

    async fn broadcast(&self, submission: Submission) -> Result<Hash32, AdapterError> {
        self.fits_in_a_block(&submission)?;
        let tx = to_tx(&self.id, submission)?;
        let hash = tx.hash();
        let fake = self
            .faults()
            .node
            .and_then(|f| f.fake_evidence_outcome(&tx));
        if fake.is_none() {
            self.admit(tx)?;
        }
        Ok(hash)
    }

    async fn submit(&self, submission: Submission) -> Result<Confirmed, AdapterError> {
        self.fits_in_a_block(&submission)?;
        let tx = to_tx(&self.id, submission)?;
        let hash = tx.hash();
        // Bound first: the faults' lock must not be held while answering.
        let fake = self
            .faults()
            .node
            .and_then(|f| f.fake_evidence_outcome(&tx));
        if let Some(report) = fake {
            // A lying host: "included and accepted", though nothing entered the mempool.
            return Ok(self.confirmed(self.served_height(), hash, Ok(report)));
        }
        self.admit(tx)?;
        let withheld = self.faults().withheld_above.is_some();
        if !self.auto_produce || withheld {
            return Err(AdapterError::Busy {
                chain: self.id.to_string(),
                why: format!("transaction {hash} accepted, not yet in a block"),
            });
        }
        for _ in 0..INCLUSION_BLOCKS {
            let (block, results) = self.produce().map_err(|e| self.internal(e))?;
            if let Some(r) = results.txs.into_iter().find(|r| r.hash == hash) {
                return Ok(self.confirmed(block.height(), hash, r.outcome));
            }
        }
        Err(AdapterError::Busy {
            chain: self.id.to_string(),
            why: format!("transaction {hash} accepted, not yet in a block"),
        })
    }
}

impl MemChain {
    fn hosted(
        &self,
        of: &ChainId,
        at: Option<Height>,
    ) -> Result<Option<HostedClient>, AdapterError> {
        match query::client(self.store.as_ref(), of).map_err(|e| self.internal(e))? {
            Some(mut c) => {
                if let Some(h) = at {
                    c = c.trimmed_for(h);
                }
                let fault = self.faults().node;
                if let Some(fault) = fault {
                    c = fault.serve_client(c);
                }
                Ok(Some(HostedClient::Bft(Box::new(c))))
            }
            None => Ok(query::evm_client(self.store.as_ref(), of)
                .map_err(|e| self.internal(e))?
                .map(HostedClient::Evm)),
        }
    }
}
