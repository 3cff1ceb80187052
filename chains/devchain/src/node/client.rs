//! A typed client of the node's JSON-RPC API (HTTP), for tools, tests and the relayer's
//! devchain adapter. Everything a node returns is decoded strictly: a light block or proof
//! that does not decode is an error here, never a panic or a silently wrong value.

use std::time::{Duration, Instant};

use jsonrpsee::core::client::{ClientT, Error as RpcError};
use jsonrpsee::core::params::ObjectParams;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use xrelay_light_client::{
    Address, ChainId, ClientState, Decode, Encode, Hash32, Height, LightBlock, StateProof,
};

use super::rpc::codes;
use crate::module::{Event, TxReport};
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

/// `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The chain.
    pub chain_id: ChainId,
    /// Latest committed height (0 before the first block).
    pub latest_height: Height,
    /// Its block time.
    pub latest_time_ms: u64,
    /// Its header hash.
    pub latest_hash: Hash32,
    /// Transactions waiting for the next block.
    pub mempool: usize,
}

/// A transaction's fate, from `submit_tx`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Included {
    /// The transaction hash.
    pub hash: Hash32,
    /// The block that included it.
    pub height: Height,
    /// Its kind.
    pub kind: String,
    /// What it did, or why it failed in the block (then it changed nothing).
    pub outcome: Result<TxReport, String>,
}

/// An event with where it happened, from `events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventAt {
    /// Block height.
    pub height: Height,
    /// The transaction that emitted it.
    pub tx_hash: Hash32,
    /// The event.
    pub event: Event,
}

/// A value with its proof, from `proof`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenValue {
    /// The height the proof is for.
    pub height: Height,
    /// The state root the node says the proof leads to (check it against a verified header,
    /// never trust it).
    pub root: Hash32,
    /// The value, or `None` for a proof of absence.
    pub value: Option<Vec<u8>>,
    /// The proof.
    pub proof: StateProof,
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

fn hex_field(v: &Value, field: &str, method: &'static str) -> Result<Vec<u8>, ClientError> {
    let s = v[field].as_str().ok_or_else(|| ClientError::BadAnswer {
        method,
        why: format!("no string field {field:?}"),
    })?;
    hex::decode(s).map_err(|e| ClientError::BadAnswer {
        method,
        why: format!("{field}: {e}"),
    })
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

    /// Calls `method` with named `params` and decodes the answer as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        params: Value,
    ) -> Result<T, ClientError> {
        let v: Value = self.http.request(method, object(params)).await?;
        serde_json::from_value(v).map_err(|e| ClientError::BadAnswer {
            method,
            why: e.to_string(),
        })
    }

    /// `status`.
    pub async fn status(&self) -> Result<Status, ClientError> {
        self.call("status", json!({})).await
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
        let v: Value = self.call("header", params).await?;
        let bytes = hex_field(&v, "light_block", "header")?;
        let block = LightBlock::decode(&bytes).map_err(|e| ClientError::BadAnswer {
            method: "header",
            why: e.to_string(),
        })?;
        if block.height() != height {
            return Err(ClientError::BadAnswer {
                method: "header",
                why: format!("asked for height {height}, got {}", block.height()),
            });
        }
        Ok(block)
    }

    /// The transactions of the block at `height`, in block order.
    pub async fn block_txs(&self, height: Height) -> Result<Vec<Tx>, ClientError> {
        let v: Value = self.call("block_txs", json!({ "height": height })).await?;
        let items = v["txs"].as_array().ok_or_else(|| ClientError::BadAnswer {
            method: "block_txs",
            why: "no txs array".into(),
        })?;
        items
            .iter()
            .map(|item| {
                let bytes = hex_field(item, "tx", "block_txs")?;
                Tx::decode(&bytes).map_err(|e| ClientError::BadAnswer {
                    method: "block_txs",
                    why: e.to_string(),
                })
            })
            .collect()
    }

    /// The nonce `account` must sign its next action with (committed state: actions
    /// waiting in the mempool are not counted).
    pub async fn nonce(&self, account: &Address) -> Result<u64, ClientError> {
        let v: Value = self.call("nonce", json!({ "account": account })).await?;
        v["nonce"].as_u64().ok_or_else(|| ClientError::BadAnswer {
            method: "nonce",
            why: "no nonce".into(),
        })
    }

    /// The state of this chain's client of `chain`, or `None` if there is none.
    pub async fn client_state(&self, chain: &ChainId) -> Result<Option<ClientState>, ClientError> {
        match self
            .call::<Value>("client", json!({ "chain": chain }))
            .await
        {
            Ok(v) => serde_json::from_value(v["state"].clone())
                .map(Some)
                .map_err(|e| ClientError::BadAnswer {
                    method: "client",
                    why: e.to_string(),
                }),
            Err(ClientError::Rpc { code, .. }) if code == codes::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The value at `key` with its proof at `height`; unverified.
    pub async fn proof(&self, key: &[u8], height: Height) -> Result<ProvenValue, ClientError> {
        let v: Value = self
            .call(
                "proof",
                json!({ "key_hex": hex::encode(key), "height": height }),
            )
            .await?;
        let proof = StateProof::decode(&hex_field(&v, "proof", "proof")?).map_err(|e| {
            ClientError::BadAnswer {
                method: "proof",
                why: e.to_string(),
            }
        })?;
        let value = match &v["value"] {
            Value::Null => None,
            _ => Some(hex_field(&v, "value", "proof")?),
        };
        let root =
            serde_json::from_value(v["root"].clone()).map_err(|e| ClientError::BadAnswer {
                method: "proof",
                why: format!("root: {e}"),
            })?;
        Ok(ProvenValue {
            height,
            root,
            value,
            proof,
        })
    }

    /// The values at `keys` with their proofs at `height`, in the order of `keys`, in one
    /// request (at most [`crate::node::rpc::MAX_PROOF_KEYS`]); unverified.
    pub async fn proofs(
        &self,
        keys: &[Vec<u8>],
        height: Height,
    ) -> Result<Vec<ProvenValue>, ClientError> {
        let bad = |why: String| ClientError::BadAnswer {
            method: "proofs",
            why,
        };
        let v: Value = self
            .call(
                "proofs",
                json!({
                    "keys_hex": keys.iter().map(hex::encode).collect::<Vec<_>>(),
                    "height": height,
                }),
            )
            .await?;
        let root: Hash32 =
            serde_json::from_value(v["root"].clone()).map_err(|e| bad(format!("root: {e}")))?;
        let items = v["items"]
            .as_array()
            .ok_or_else(|| bad("no array field \"items\"".into()))?;
        if items.len() != keys.len() {
            return Err(bad(format!(
                "asked for {} proofs, got {}",
                keys.len(),
                items.len()
            )));
        }
        items
            .iter()
            .map(|item| {
                let proof = StateProof::decode(&hex_field(item, "proof", "proofs")?)
                    .map_err(|e| bad(e.to_string()))?;
                let value = match &item["value"] {
                    Value::Null => None,
                    _ => Some(hex_field(item, "value", "proofs")?),
                };
                Ok(ProvenValue {
                    height,
                    root,
                    value,
                    proof,
                })
            })
            .collect()
    }

    /// Submits `tx` and waits up to `wait` for the block that includes it. A transaction the
    /// mempool refuses is `ClientError::Rpc` with code `TX_REFUSED` and the module's reason.
    pub async fn submit(&self, tx: &Tx, wait: Duration) -> Result<Included, ClientError> {
        self.call(
            "submit_tx",
            json!({ "tx": hex::encode(tx.encode()), "wait_ms": wait.as_millis() as u64 }),
        )
        .await
    }

    /// Submits `tx` without waiting for a block: returns its hash once the mempool accepted
    /// it.
    pub async fn broadcast(&self, tx: &Tx) -> Result<Hash32, ClientError> {
        let v: Value = self
            .call(
                "submit_tx",
                json!({ "tx": hex::encode(tx.encode()), "wait_ms": 0 }),
            )
            .await?;
        serde_json::from_value(v["hash"].clone()).map_err(|e| ClientError::BadAnswer {
            method: "submit_tx",
            why: e.to_string(),
        })
    }

    /// Events of heights `from..=to` (at most 1000 heights per call).
    pub async fn events(&self, from: Height, to: Height) -> Result<Vec<EventAt>, ClientError> {
        self.call("events", json!({ "from": from, "to": to })).await
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
