//! The node's JSON-RPC 2.0 API over HTTP and WebSocket (one port, `jsonrpsee`), and the
//! push stream of new blocks (`subscribe_blocks`). Every method is documented with
//! examples in `docs/DEVCHAIN_RPC.md`. Reads go to the store directly, so queries never
//! wait for block production.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonrpsee::server::{PendingSubscriptionSink, Server, ServerHandle};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::RpcModule;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::broadcast;
use xrelay_light_client::prover::StateTree;
use xrelay_light_client::{Address, ChainId, Decode, Encode, Hash32, Height};

use super::chain::{BlockResults, Chain, SubmitError, TxResult, ValidatorPlan};
use super::fault::{alter_payload, Fault};
use super::store::Store;
use crate::module::{query, Event};
use crate::tx::Tx;

pub use crate::rpc_answers::codes;

/// A new block, as pushed to subscribers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockNotice {
    /// Height.
    pub height: Height,
    /// Header hash.
    pub hash: Hash32,
    /// Block time.
    pub time_ms: u64,
    /// Transaction results of the block.
    pub txs: Vec<TxResult>,
}

/// What the RPC handlers share with the block producer.
pub struct NodeState {
    /// The chain (locked only to submit and to produce).
    pub chain: Mutex<Chain>,
    /// The store, for lock-free reads.
    pub store: Arc<Store>,
    /// New blocks, for subscribers and for `submit_tx` waiters.
    pub blocks: broadcast::Sender<Arc<BlockNotice>>,
    /// This chain's id.
    pub chain_id: ChainId,
    /// Who signs at each height (to sign what a faulty node serves).
    pub validators: ValidatorPlan,
    /// The misbehaviour this node was started with, if any.
    pub fault: Option<Fault>,
}

impl NodeState {
    /// Wraps a chain; `fault` makes the node serve what a faulty one would.
    pub fn new(chain: Chain, fault: Option<Fault>) -> Arc<Self> {
        let (blocks, _) = broadcast::channel(1024);
        Arc::new(NodeState {
            store: chain.store_handle(),
            chain_id: chain.chain_id().clone(),
            validators: chain.config().validators.clone(),
            fault,
            chain: Mutex::new(chain),
            blocks,
        })
    }

    /// Produces a block (called by the block timer) and tells subscribers.
    pub fn produce(&self, time_ms: u64) -> Result<Arc<BlockNotice>, String> {
        let mut chain = self
            .chain
            .lock()
            .map_err(|_| "chain lock poisoned".to_string())?;
        let (block, results) = chain.produce(time_ms).map_err(|e| e.to_string())?;
        drop(chain);
        let mut txs = results.txs;
        if self.fault.is_some_and(|f| f.alters_payloads()) {
            for report in txs.iter_mut().filter_map(|t| t.outcome.as_mut().ok()) {
                for e in &mut report.events {
                    if let Event::MessageSent { message } = e {
                        alter_payload(&mut message.payload);
                    }
                }
            }
        }
        let notice = Arc::new(BlockNotice {
            height: block.height(),
            hash: block.header().hash(),
            time_ms: block.header().time_ms,
            txs,
        });
        let _ = self.blocks.send(notice.clone());
        Ok(notice)
    }
}

fn err(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    err(codes::INTERNAL, e.to_string())
}

fn params<T: for<'de> Deserialize<'de>>(p: &Params<'_>) -> Result<T, ErrorObjectOwned> {
    p.parse()
        .map_err(|e| err(codes::INVALID_PARAMS, e.to_string()))
}

#[derive(Deserialize)]
struct HeightParam {
    height: Height,
}

#[derive(Deserialize)]
struct HeaderParam {
    height: Height,
    #[serde(default)]
    canonical: bool,
    #[serde(default)]
    forged: bool,
}

#[derive(Deserialize)]
struct RangeParam {
    from: Height,
    to: Height,
}

#[derive(Deserialize)]
struct ProofParam {
    key: Option<String>,
    key_hex: Option<String>,
    height: Height,
}

#[derive(Deserialize)]
struct ProofsParam {
    keys_hex: Vec<String>,
    height: Height,
}

/// Largest request body the server reads: it bounds the bytes of a transaction, hence the
/// hashing its verification needs (PROTOCOL.md §9.2, verification budget).
pub const MAX_REQUEST_BYTES: u32 = 10 * 1024 * 1024;

pub use crate::rpc_answers::MAX_PROOF_KEYS;

#[derive(Deserialize)]
struct TxParam {
    tx: String,
    #[serde(default = "default_wait")]
    wait_ms: u64,
}

fn default_wait() -> u64 {
    30_000
}

#[derive(Deserialize)]
struct BalanceParam {
    account: Address,
    denom: String,
}

#[derive(Deserialize)]
struct AccountParam {
    account: Address,
}

#[derive(Deserialize)]
struct DenomParam {
    denom: String,
    counterparty: Option<ChainId>,
}

#[derive(Deserialize)]
struct MessageParam {
    source: ChainId,
    destination: ChainId,
    sequence: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeParam {
    /// Include the block's transaction results (the default).
    #[serde(default = "yes")]
    txs: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct ClientParam {
    chain: ChainId,
    /// Only the latest consensus state and the one at this height, if kept.
    #[serde(default)]
    at: Option<Height>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvmClientParam {
    chain: ChainId,
}

fn latest(store: &Store) -> Result<Height, ErrorObjectOwned> {
    store
        .latest_height()
        .map_err(internal)
        .map(|h| h.unwrap_or(0))
}

fn block_at(
    store: &Store,
    height: Height,
) -> Result<xrelay_light_client::LightBlock, ErrorObjectOwned> {
    store
        .block(height)
        .map_err(internal)?
        .ok_or_else(|| err(codes::NOT_FOUND, format!("no block at height {height}")))
}

fn results_at(store: &Store, height: Height) -> Result<Option<BlockResults>, ErrorObjectOwned> {
    store
        .get(super::store::Cf::Results, &height.to_be_bytes())
        .map_err(internal)?
        .map(|b| serde_json::from_slice(&b).map_err(internal))
        .transpose()
}

/// Builds the RPC module over `state`.
pub fn module(state: Arc<NodeState>) -> Result<RpcModule<Arc<NodeState>>, String> {
    let mut m = RpcModule::new(state);
    let reg = |e: jsonrpsee::core::RegisterMethodError| e.to_string();

    m.register_method("status", |_, s, _| -> Result<Value, ErrorObjectOwned> {
        let height = latest(&s.store)?;
        let (time, hash) = match height {
            0 => (0, Hash32::ZERO),
            h => {
                let b = block_at(&s.store, h)?;
                (b.header().time_ms, b.header().hash())
            }
        };
        let mempool = s.chain.lock().map(|c| c.mempool_len()).unwrap_or(0);
        Ok(json!({
            "chain_id": s.chain_id,
            "latest_height": height,
            "latest_time_ms": time,
            "latest_hash": hash,
            "mempool": mempool,
        }))
    })
    .map_err(reg)?;

    m.register_method("header", |p, s, _| -> Result<Value, ErrorObjectOwned> {
        let HeaderParam {
            height,
            canonical,
            forged,
        } = params(&p)?;
        let mut b = block_at(&s.store, height)?;
        if let Some(fault) = &s.fault {
            b = fault.serve_block(b, &s.validators, canonical, forged);
        }
        Ok(json!({
            "height": height,
            "hash": b.header().hash(),
            "state_root": b.header().state_root,
            "header": b.header(),
            "commit": b.signed_header.commit,
            "light_block": hex::encode(b.encode()),
        }))
    })
    .map_err(reg)?;

    m.register_method("validators", |p, s, _| -> Result<Value, ErrorObjectOwned> {
        let HeightParam { height } = params(&p)?;
        let b = block_at(&s.store, height)?;
        Ok(json!({
            "height": height,
            "validators": b.validators,
            "hash": b.validators.hash(),
            "next_validators": b.next_validators,
            "next_hash": b.next_validators.hash(),
        }))
    })
    .map_err(reg)?;

    m.register_method("events", |p, s, _| -> Result<Value, ErrorObjectOwned> {
        let RangeParam { from, to } = params(&p)?;
        if to < from || to - from >= 1_000 {
            return Err(err(
                codes::INVALID_PARAMS,
                "range must be from <= to, at most 1000 heights",
            ));
        }
        let mut out = Vec::new();
        let lying = s.fault.filter(Fault::lies_about_clients);
        for h in from..=to.min(latest(&s.store)?) {
            if let Some(r) = results_at(&s.store, h)? {
                let block_txs = match lying {
                    Some(_) => super::chain::block_txs(&s.store, h)
                        .map_err(internal)?
                        .unwrap_or_default(),
                    None => Vec::new(),
                };
                for tx in r.txs {
                    if let Ok(report) = tx.outcome {
                        for mut e in report.events {
                            if let (Some(fault), Event::MessageSent { message }) =
                                (&s.fault, &mut e)
                            {
                                if fault.alters_payloads() {
                                    alter_payload(&mut message.payload);
                                }
                            }
                            if let Some(fault) = &lying {
                                fault.serve_event(&mut e, &block_txs);
                            }
                            out.push(json!({"height": h, "tx_hash": tx.hash, "event": e}));
                        }
                    }
                }
            }
        }
        Ok(Value::Array(out))
    })
    .map_err(reg)?;

    m.register_method(
        "block_results",
        |p, s, _| -> Result<Value, ErrorObjectOwned> {
            let HeightParam { height } = params(&p)?;
            let r = results_at(&s.store, height)?
                .ok_or_else(|| err(codes::NOT_FOUND, format!("no block at height {height}")))?;
            serde_json::to_value(r).map_err(internal)
        },
    )
    .map_err(reg)?;

    m.register_method("block_txs", |p, s, _| -> Result<Value, ErrorObjectOwned> {
        let HeightParam { height } = params(&p)?;
        let txs = super::chain::block_txs(&s.store, height)
            .map_err(internal)?
            .ok_or_else(|| err(codes::NOT_FOUND, format!("no block at height {height}")))?;
        let txs = match &s.fault {
            Some(fault) => fault.serve_txs(txs),
            None => txs,
        };
        let txs: Vec<Value> = txs
            .iter()
            .map(|t| json!({"hash": t.hash(), "kind": t.kind(), "tx": hex::encode(t.encode())}))
            .collect();
        Ok(json!({"height": height, "txs": txs}))
    })
    .map_err(reg)?;

    m.register_method("proof", |p, s, _| -> Result<Value, ErrorObjectOwned> {
        let ProofParam {
            key,
            key_hex,
            height,
        } = params(&p)?;
        let key = match (key, key_hex) {
            (Some(k), None) => k.into_bytes(),
            (None, Some(h)) => hex::decode(h.trim_start_matches("0x"))
                .map_err(|e| err(codes::INVALID_PARAMS, e.to_string()))?,
            _ => {
                return Err(err(
                    codes::INVALID_PARAMS,
                    "give exactly one of key, key_hex",
                ))
            }
        };
        let b = block_at(&s.store, height)?;
        let (mut value, proof) = StateTree::new(s.store.as_ref())
            .prove(&key, height)
            .map_err(internal)?;
        if let Some(fault) = &s.fault {
            value = fault.serve_value(&key, value);
        }
        Ok(json!({
            "height": height,
            "root": b.header().state_root,
            "value": value.map(hex::encode),
            "proof": hex::encode(proof.encode()),
        }))
    })
    .map_err(reg)?;

    m.register_method("proofs", |p, s, _| -> Result<Value, ErrorObjectOwned> {
        let ProofsParam { keys_hex, height } = params(&p)?;
        if keys_hex.len() > MAX_PROOF_KEYS {
            return Err(err(
                codes::INVALID_PARAMS,
                format!(
                    "at most {MAX_PROOF_KEYS} keys per call, got {}",
                    keys_hex.len()
                ),
            ));
        }
        let keys = keys_hex
            .iter()
            .map(|h| hex::decode(h.trim_start_matches("0x")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(codes::INVALID_PARAMS, e.to_string()))?;
        let b = block_at(&s.store, height)?;
        let tree = StateTree::new(s.store.as_ref());
        let mut items = Vec::with_capacity(keys.len());
        for key in &keys {
            let (mut value, proof) = tree.prove(key, height).map_err(internal)?;
            if let Some(fault) = &s.fault {
                value = fault.serve_value(key, value);
            }
            items.push(json!({
                "value": value.map(hex::encode),
                "proof": hex::encode(proof.encode()),
            }));
        }
        Ok(json!({
            "height": height,
            "root": b.header().state_root,
            "items": items,
        }))
    })
    .map_err(reg)?;

    m.register_async_method("submit_tx", |p, s, _| async move {
        let TxParam { tx, wait_ms } = params(&p)?;
        let bytes = hex::decode(tx.trim_start_matches("0x")).map_err(|e| err(codes::INVALID_PARAMS, e.to_string()))?;
        let tx = Tx::decode(&bytes).map_err(|e| err(codes::INVALID_PARAMS, format!("transaction does not decode: {e}")))?;
        let hash = tx.hash();
        if let Some(report) = s.fault.as_ref().and_then(|f| f.fake_evidence_outcome(&tx)) {
            // A lying host: "included and accepted", though nothing entered the mempool.
            if wait_ms == 0 {
                return Ok(json!({"hash": hash, "accepted": true}));
            }
            let outcome: Result<crate::module::TxReport, String> = Ok(report);
            return Ok(json!({"hash": hash, "height": latest(&s.store)?, "kind": tx.kind(), "outcome": outcome}));
        }
        let mut blocks = s.blocks.subscribe();
        {
            let mut chain = s.chain.lock().map_err(internal)?;
            chain
                .submit(tx, now_ms())
                .map_err(|e| match e {
                    SubmitError::MempoolFull(_) | SubmitError::Busy(..) => err(codes::MEMPOOL_FULL, e.to_string()),
                    SubmitError::Refused(_) => err(codes::TX_REFUSED, e.to_string()),
                })?;
        }
        if wait_ms == 0 {
            return Ok(json!({"hash": hash, "accepted": true}));
        }
        let wait = async {
            loop {
                match blocks.recv().await {
                    Ok(notice) => {
                        if let Some(r) = notice.txs.iter().find(|r| r.hash == hash) {
                            return Ok(json!({"hash": hash, "height": notice.height, "kind": r.kind, "outcome": r.outcome}));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return Err(err(codes::INTERNAL, "node stopping")),
                }
            }
        };
        match tokio::time::timeout(Duration::from_millis(wait_ms), wait).await {
            Ok(r) => r,
            Err(_) => Err(err(codes::TIMEOUT, format!("transaction {hash} accepted, not yet in a block"))),
        }
    })
    .map_err(reg)?;

    m.register_method("balance", |p, s, _| -> Result<Value, ErrorObjectOwned> {
        let BalanceParam { account, denom } = params(&p)?;
        let v = query::balance(s.store.as_ref(), &denom, &account).map_err(internal)?;
        Ok(json!({"account": account, "denom": denom, "amount": v.to_string()}))
    })
    .map_err(reg)?;

    m.register_method("nonce", |p, s, _| -> Result<Value, ErrorObjectOwned> {
        let AccountParam { account } = params(&p)?;
        let nonce = query::nonce(s.store.as_ref(), &account).map_err(internal)?;
        Ok(json!({"account": account, "nonce": nonce}))
    })
    .map_err(reg)?;

    m.register_method("supply", |p, s, _| -> Result<Value, ErrorObjectOwned> {
        let DenomParam { denom, counterparty } = params(&p)?;
        let supply = query::supply(s.store.as_ref(), &denom).map_err(internal)?;
        let escrow = match &counterparty {
            Some(c) => Some(query::escrow(s.store.as_ref(), c, &denom).map_err(internal)?.to_string()),
            None => None,
        };
        Ok(json!({"denom": denom, "supply": supply.to_string(), "counterparty": counterparty, "escrow": escrow}))
    })
    .map_err(reg)?;

    m.register_method("message_status", |p, s, _| -> Result<Value, ErrorObjectOwned> {
        let MessageParam { source, destination, sequence } = params(&p)?;
        let store = s.store.as_ref();
        if source == s.chain_id {
            let status = query::sent_status(store, &destination, sequence).map_err(internal)?;
            Ok(json!({"role": "source", "status": status}))
        } else if destination == s.chain_id {
            let received = query::received(store, &source, sequence).map_err(internal)?;
            let (_, next) = query::lane_counters(store, &source).map_err(internal)?;
            Ok(json!({"role": "destination", "received": received, "processed": sequence < next}))
        } else {
            Err(err(codes::INVALID_PARAMS, format!("this is chain {}, on neither end of the lane", s.chain_id)))
        }
    })
    .map_err(reg)?;

    m.register_method("client", |p, s, _| -> Result<Value, ErrorObjectOwned> {
        let ClientParam { chain, at } = params(&p)?;
        let mut c = query::client(s.store.as_ref(), &chain)
            .map_err(internal)?
            .ok_or_else(|| err(codes::NOT_FOUND, format!("no client of {chain}")))?;
        if let Some(height) = at {
            c = c.trimmed_for(height);
        }
        if let Some(fault) = &s.fault {
            c = fault.serve_client(c);
        }
        Ok(json!({
            "chain": chain,
            "latest_height": c.latest_height(),
            "frozen": c.frozen().is_some(),
            "state": c,
        }))
    })
    .map_err(reg)?;

    // `null` when there is no EVM client of the chain (a BFT client included), else the
    // canonical state as hex: EVM client states have no JSON form, and the hex is exactly
    // what the module stores.
    m.register_method("evm_client", |p, s, _| -> Result<Value, ErrorObjectOwned> {
        let EvmClientParam { chain } = params(&p)?;
        Ok(
            match query::evm_client(s.store.as_ref(), &chain).map_err(internal)? {
                None => Value::Null,
                Some(c) => json!({
                    "chain": chain,
                    "latest_height": c.latest_height(),
                    "frozen": c.is_frozen(),
                    "state": hex::encode(c.encode()),
                }),
            },
        )
    })
    .map_err(reg)?;

    m.register_subscription(
        "subscribe_blocks",
        "block",
        "unsubscribe_blocks",
        |p, pending: PendingSubscriptionSink, s, _| async move {
            // `{"txs": false}`: heads only (height, hash, time), for followers that read
            // events by range anyway and would otherwise decode every block twice.
            let with_txs = match p.as_str() {
                None => true,
                Some(_) => match p.parse::<SubscribeParam>() {
                    Ok(sp) => sp.txs,
                    Err(e) => {
                        pending
                            .reject(err(codes::INVALID_PARAMS, e.to_string()))
                            .await;
                        return Ok(());
                    }
                },
            };
            let mut blocks = s.blocks.subscribe();
            let sink = pending.accept().await?;
            loop {
                tokio::select! {
                    _ = sink.closed() => return Ok(()),
                    next = blocks.recv() => match next {
                        Ok(notice) => {
                            let msg = if with_txs {
                                serde_json::value::to_raw_value(notice.as_ref())?
                            } else {
                                serde_json::value::to_raw_value(&BlockNotice {
                                    height: notice.height,
                                    hash: notice.hash,
                                    time_ms: notice.time_ms,
                                    txs: Vec::new(),
                                })?
                            };
                            if sink.send(msg).await.is_err() {
                                return Ok(());
                            }
                        }
                        // A slow subscriber skips blocks; it can fetch them with `header`/`events`.
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    },
                }
            }
        },
    )
    .map_err(reg)?;

    Ok(m)
}

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Starts the server on `addr`; returns its handle and the bound address.
pub async fn serve(
    state: Arc<NodeState>,
    addr: SocketAddr,
) -> Result<(ServerHandle, SocketAddr), String> {
    let server = Server::builder()
        .set_config(
            jsonrpsee::server::ServerConfig::builder()
                .max_request_body_size(MAX_REQUEST_BYTES)
                .build(),
        )
        .build(addr)
        .await
        .map_err(|e| format!("bind {addr}: {e}"))?;
    let bound = server.local_addr().map_err(|e| e.to_string())?;
    Ok((server.start(module(state)?), bound))
}
