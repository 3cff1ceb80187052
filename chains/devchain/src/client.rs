//! A typed client of the node's JSON-RPC API (HTTP), for tools, tests and the relayer's
//! devchain adapter (feature `client`: no storage engine, so the adapter links none). Everything a node returns is decoded strictly: a light block or proof
//! that does not decode is an error here, never a panic or a silently wrong value. The
//! decoding itself lives in [`crate::rpc_answers`] (compiled without the node, so it is
//! fuzzed and property-tested as is); this module does the transport.

use std::time::{Duration, Instant};

use jsonrpsee::core::client::{ClientT, Error as RpcError};
use jsonrpsee::core::params::ObjectParams;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use xrelay_light_client::evm::client::EvmClientState;
use xrelay_light_client::{Address, ChainId, ClientState, Encode, Hash32, Height, LightBlock};

use crate::rpc_answers::{self, codes, BadAnswer};
pub use crate::rpc_answers::{EventAt, Included, ProvenValue, Status};
use crate::tx::Tx;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node could not be reached, or did not answer in time.
    #[error("transport: {0}")]
    Transport(String),
    /// The node answered with a JSON-RPC error.
    #[error("rpc error {code}: {message}")]
    Rpc {
        /// The error code (`rpc::codes`).
        code: i32,
        /// The node's explanation.
        message: String,
    },
    /// The answer did not have the documented shape.
    #[error("bad answer to {method}: {why}")]
    BadAnswer {
        /// The method called.
        method: &'static str,
        /// What was wrong.
        why: String,
    },
    /// A wait ended before the condition held.
    #[error("timed out: {0}")]
    Timeout(String),
}

impl ClientError {
    /// Whether the node refused the transaction (the module's verdict; retrying the same
    /// transaction will not help).
    pub fn is_refusal(&self) -> bool {
        matches!(self, ClientError::Rpc { code, .. } if *code == codes::TX_REFUSED)
    }
}

impl From<BadAnswer> for ClientError {
    fn from(e: BadAnswer) -> Self {
        ClientError::BadAnswer {
            method: e.method,
            why: e.why,
        }
    }
}

impl From<RpcError> for ClientError {
    fn from(e: RpcError) -> Self {
        match e {
            RpcError::Call(o) => ClientError::Rpc {
                code: o.code(),
                message: o.message().to_string(),
            },
            other => ClientError::Transport(other.to_string()),
        }
    }
}

/// A client of one node.
#[derive(Debug, Clone)]
pub struct NodeClient {
    http: HttpClient,
    url: String,
}

fn object(params: Value) -> ObjectParams {
    let mut p = ObjectParams::new();
    if let Value::Object(map) = params {
        for (k, v) in map {
            // Inserting an already-built JSON value cannot fail to serialise.
            let _ = p.insert(&k, v);
        }
    }
    p
}

impl NodeClient {
    /// A client of the node at `url` (`http://host:port`); each call gives up after
    /// `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, ClientError> {
        let http = HttpClientBuilder::default()
            .request_timeout(timeout)
            .build(url)
            .map_err(|e| ClientError::Transport(format!("{url}: {e}")))?;
        Ok(NodeClient {
            http,
            url: url.to_string(),
        })
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method` with named `params` and returns the answer as the node sent it.
    async fn answer(&self, method: &'static str, params: Value) -> Result<Value, ClientError> {
        Ok(self.http.request(method, object(params)).await?)
    }

    /// Calls `method` with named `params` and decodes the answer as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        params: Value,
    ) -> Result<T, ClientError> {
        let v = self.answer(method, params).await?;
        Ok(rpc_answers::typed(method, v)?)
    }

    /// `status`.
    pub async fn status(&self) -> Result<Status, ClientError> {
        let v = self.answer("status", json!({})).await?;
        Ok(rpc_answers::status(v)?)
    }

    /// The light block (signed header and validator sets) at `height`, as the node serves
    /// it; unverified.
    pub async fn light_block(&self, height: Height) -> Result<LightBlock, ClientError> {
        self.header_variant(height, json!({ "height": height }))
            .await
    }

    /// The canonical light block at `height`: what an honest node serves. Differs from
    /// [`Self::light_block`] only on a node started with a fault.
    pub async fn canonical_light_block(&self, height: Height) -> Result<LightBlock, ClientError> {
        self.header_variant(height, json!({ "height": height, "canonical": true }))
            .await
    }

    /// The second header a node started with `--fault conflicting-header` signed at
    /// `height` (attack tooling for tests; other nodes answer with the canonical one).
    pub async fn forged_light_block(&self, height: Height) -> Result<LightBlock, ClientError> {
        self.header_variant(height, json!({ "height": height, "forged": true }))
            .await
    }

    async fn header_variant(
        &self,
        height: Height,
        params: Value,
    ) -> Result<LightBlock, ClientError> {
        let v = self.answer("header", params).await?;
        Ok(rpc_answers::light_block(&v, height)?)
    }

    /// The transactions of the block at `height`, in block order.
    pub async fn block_txs(&self, height: Height) -> Result<Vec<Tx>, ClientError> {
        let v = self
            .answer("block_txs", json!({ "height": height }))
            .await?;
        Ok(rpc_answers::block_txs(&v)?)
    }

    /// The nonce `account` must sign its next action with (committed state: actions
    /// waiting in the mempool are not counted).
    pub async fn nonce(&self, account: &Address) -> Result<u64, ClientError> {
        let v = self.answer("nonce", json!({ "account": account })).await?;
        Ok(rpc_answers::nonce(&v)?)
    }

    /// The state of this chain's client of `chain`, or `None` if there is none.
    pub async fn client_state(&self, chain: &ChainId) -> Result<Option<ClientState>, ClientError> {
        match self.answer("client", json!({ "chain": chain })).await {
            Ok(v) => Ok(Some(rpc_answers::client_state(&v)?)),
            Err(ClientError::Rpc { code, .. }) if code == codes::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// This chain's client of the EVM chain `of`, or `None` if there is none (a chain
    /// followed by a BFT client has none).
    pub async fn evm_client_state(
        &self,
        of: &ChainId,
    ) -> Result<Option<EvmClientState>, ClientError> {
        let v = self.answer("evm_client", json!({ "chain": of })).await?;
        Ok(rpc_answers::evm_client_state(&v, of)?)
    }

    /// This node's client of `chain` trimmed to its latest consensus state and the one at
    /// `height` (if kept): what bringing it to `height` needs, without the whole history.
    pub async fn client_state_for(
        &self,
        chain: &ChainId,
        height: Height,
    ) -> Result<Option<ClientState>, ClientError> {
        match self
            .answer("client", json!({ "chain": chain, "at": height }))
            .await
        {
            Ok(v) => Ok(Some(rpc_answers::client_state(&v)?)),
            Err(ClientError::Rpc { code, .. }) if code == codes::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The value at `key` with its proof at `height`; unverified.
    pub async fn proof(&self, key: &[u8], height: Height) -> Result<ProvenValue, ClientError> {
        let v = self
            .answer(
                "proof",
                json!({ "key_hex": hex::encode(key), "height": height }),
            )
            .await?;
        Ok(rpc_answers::proof(&v, height)?)
    }

    /// The values at `keys` with their proofs at `height`, in the order of `keys`, in one
    /// request (at most [`crate::rpc_answers::MAX_PROOF_KEYS`]); unverified.
    pub async fn proofs(
        &self,
        keys: &[Vec<u8>],
        height: Height,
    ) -> Result<Vec<ProvenValue>, ClientError> {
        let v = self
            .answer(
                "proofs",
                json!({
                    "keys_hex": keys.iter().map(hex::encode).collect::<Vec<_>>(),
                    "height": height,
                }),
            )
            .await?;
        Ok(rpc_answers::proofs(&v, height, keys.len())?)
    }

    /// Submits `tx` and waits up to `wait` for the block that includes it. A transaction the
    /// mempool refuses is `ClientError::Rpc` with code `TX_REFUSED` and the module's reason.
    pub async fn submit(&self, tx: &Tx, wait: Duration) -> Result<Included, ClientError> {
        let v = self
            .answer(
                "submit_tx",
                json!({ "tx": hex::encode(tx.encode()), "wait_ms": wait.as_millis() as u64 }),
            )
            .await?;
        Ok(rpc_answers::included(v)?)
    }

    /// Submits `tx` without waiting for a block: returns its hash once the mempool accepted
    /// it.
    pub async fn broadcast(&self, tx: &Tx) -> Result<Hash32, ClientError> {
        let v = self
            .answer(
                "submit_tx",
                json!({ "tx": hex::encode(tx.encode()), "wait_ms": 0 }),
            )
            .await?;
        Ok(rpc_answers::broadcast(&v)?)
    }

    /// Events of heights `from..=to` (at most 1000 heights per call).
    pub async fn events(&self, from: Height, to: Height) -> Result<Vec<EventAt>, ClientError> {
        let v = self
            .answer("events", json!({ "from": from, "to": to }))
            .await?;
        Ok(rpc_answers::events(v)?)
    }

    /// Polls `status` until the chain reaches `height`; gives up after `timeout`.
    pub async fn wait_height(
        &self,
        height: Height,
        timeout: Duration,
    ) -> Result<Height, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.status().await {
                Ok(s) if s.latest_height >= height => return Ok(s.latest_height),
                Ok(s) => s.latest_height.to_string(),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout(format!(
                    "{} did not reach height {height} (last: {last})",
                    self.url
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
