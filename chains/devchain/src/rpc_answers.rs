//! Decoding of the devchain node's JSON-RPC answers, from the parsed JSON value to the typed
//! result.
//!
//! An answer comes from a node the caller does not control (it may be faulty or hostile), so
//! every decoder here is total: any JSON value gives either the typed result or a
//! [`BadAnswer`] naming the method and what was wrong, never a panic, and binary fields
//! (light blocks, proofs, transactions) go through the strict canonical decoders.
//!
//! This module is separate from `node::client` (which does the transport) and compiled
//! without the `node` feature so that the fuzz crate and property tests exercise exactly the
//! code the relayer runs, without building RocksDB and the RPC stack. `NodeClient` calls
//! these functions and nothing else to interpret an answer.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use xrelay_light_client::evm::client::EvmClientState;
use xrelay_light_client::{ChainId, ClientState, Decode, Hash32, Height, LightBlock, StateProof};

use crate::module::{Event, TxReport};
use crate::tx::Tx;

/// Error codes beyond JSON-RPC's own.
pub mod codes {
    /// Bad parameters (JSON-RPC standard).
    pub const INVALID_PARAMS: i32 = -32602;
    /// The transaction was refused by the mempool check (the module's error).
    pub const TX_REFUSED: i32 = 1;
    /// Nothing at that height (not produced yet, or never).
    pub const NOT_FOUND: i32 = 2;
    /// Storage or internal failure.
    pub const INTERNAL: i32 = 3;
    /// The transaction was accepted but no block included it in time.
    pub const TIMEOUT: i32 = 4;
    /// The mempool is full, or its verification budget for relay transactions is used up:
    /// retry after the next block.
    pub const MEMPOOL_FULL: i32 = 5;
}

/// Most keys one `proofs` call proves: a bound on the work and the answer's size.
pub const MAX_PROOF_KEYS: usize = 1_000;

/// An answer that did not have the documented shape (`node::client::ClientError::BadAnswer`
/// once it reaches a client's caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad answer to {method}: {why}")]
pub struct BadAnswer {
    /// The method called.
    pub method: &'static str,
    /// What was wrong.
    pub why: String,
}

impl BadAnswer {
    fn new(method: &'static str, why: impl Into<String>) -> Self {
        BadAnswer {
            method,
            why: why.into(),
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

/// The whole answer of `method` as `T` through its serde implementation (which, for the
/// protocol types, checks their invariants).
pub fn typed<T: DeserializeOwned>(method: &'static str, answer: Value) -> Result<T, BadAnswer> {
    serde_json::from_value(answer).map_err(|e| BadAnswer::new(method, e.to_string()))
}

/// The bytes of the hex string `field` of `v`.
fn hex_field(v: &Value, field: &str, method: &'static str) -> Result<Vec<u8>, BadAnswer> {
    let s = v[field]
        .as_str()
        .ok_or_else(|| BadAnswer::new(method, format!("no string field {field:?}")))?;
    hex::decode(s).map_err(|e| BadAnswer::new(method, format!("{field}: {e}")))
}

/// `status`.
pub fn status(answer: Value) -> Result<Status, BadAnswer> {
    typed("status", answer)
}

/// `header` (any variant: served, canonical, forged): the light block asked for at
/// `height`. A block of another height is refused, so a node cannot answer an old request
/// with a different block.
pub fn light_block(answer: &Value, height: Height) -> Result<LightBlock, BadAnswer> {
    let bytes = hex_field(answer, "light_block", "header")?;
    let block = LightBlock::decode(&bytes).map_err(|e| BadAnswer::new("header", e.to_string()))?;
    if block.height() != height {
        return Err(BadAnswer::new(
            "header",
            format!("asked for height {height}, got {}", block.height()),
        ));
    }
    Ok(block)
}

/// `block_txs`: the block's transactions, in block order.
pub fn block_txs(answer: &Value) -> Result<Vec<Tx>, BadAnswer> {
    let items = answer["txs"]
        .as_array()
        .ok_or_else(|| BadAnswer::new("block_txs", "no txs array"))?;
    items
        .iter()
        .map(|item| {
            let bytes = hex_field(item, "tx", "block_txs")?;
            Tx::decode(&bytes).map_err(|e| BadAnswer::new("block_txs", e.to_string()))
        })
        .collect()
}

/// `nonce`.
pub fn nonce(answer: &Value) -> Result<u64, BadAnswer> {
    answer["nonce"]
        .as_u64()
        .ok_or_else(|| BadAnswer::new("nonce", "no nonce"))
}

/// `client` (when the node has the client; "not found" is an RPC error, not an answer).
pub fn client_state(answer: &Value) -> Result<ClientState, BadAnswer> {
    serde_json::from_value(answer["state"].clone())
        .map_err(|e| BadAnswer::new("client", e.to_string()))
}

/// `evm_client` for the chain `asked`: `null` (no EVM client of it) or its canonical state
/// in hex, decoded strictly. A state of another chain is refused, so a node cannot answer
/// with the client of a different chain.
pub fn evm_client_state(
    answer: &Value,
    asked: &ChainId,
) -> Result<Option<EvmClientState>, BadAnswer> {
    if answer.is_null() {
        return Ok(None);
    }
    let bytes = hex_field(answer, "state", "evm_client")?;
    let client =
        EvmClientState::decode(&bytes).map_err(|e| BadAnswer::new("evm_client", e.to_string()))?;
    if client.chain_id() != asked {
        return Err(BadAnswer::new(
            "evm_client",
            format!("asked for chain {asked}, got {}", client.chain_id()),
        ));
    }
    Ok(Some(client))
}

/// The `proof` and `value` fields of a proof answer (the `proof` answer itself or an item
/// of `proofs`); `value` null or missing means a proof of absence. The proof is decoded
/// first, so a broken proof is what gets reported.
fn proof_and_value(
    item: &Value,
    method: &'static str,
) -> Result<(StateProof, Option<Vec<u8>>), BadAnswer> {
    let proof = StateProof::decode(&hex_field(item, "proof", method)?)
        .map_err(|e| BadAnswer::new(method, e.to_string()))?;
    let value = match &item["value"] {
        Value::Null => None,
        _ => Some(hex_field(item, "value", method)?),
    };
    Ok((proof, value))
}

/// The `root` field every proof answer carries.
fn root_field(answer: &Value, method: &'static str) -> Result<Hash32, BadAnswer> {
    serde_json::from_value(answer["root"].clone())
        .map_err(|e| BadAnswer::new(method, format!("root: {e}")))
}

/// `proof`: the value at the key asked for, with its proof at `height`; unverified.
pub fn proof(answer: &Value, height: Height) -> Result<ProvenValue, BadAnswer> {
    let (proof, value) = proof_and_value(answer, "proof")?;
    let root = root_field(answer, "proof")?;
    Ok(ProvenValue {
        height,
        root,
        value,
        proof,
    })
}

/// `proofs`: the values of the `asked` keys with their proofs at `height`, in the order of
/// the keys; an answer with another number of items is refused (the caller pairs items with
/// keys by position). Unverified.
pub fn proofs(answer: &Value, height: Height, asked: usize) -> Result<Vec<ProvenValue>, BadAnswer> {
    let root = root_field(answer, "proofs")?;
    let items = answer["items"]
        .as_array()
        .ok_or_else(|| BadAnswer::new("proofs", "no array field \"items\""))?;
    if items.len() != asked {
        return Err(BadAnswer::new(
            "proofs",
            format!("asked for {asked} proofs, got {}", items.len()),
        ));
    }
    items
        .iter()
        .map(|item| {
            let (proof, value) = proof_and_value(item, "proofs")?;
            Ok(ProvenValue {
                height,
                root,
                value,
                proof,
            })
        })
        .collect()
}

/// `submit_tx` with a wait: the block that included the transaction and its outcome.
pub fn included(answer: Value) -> Result<Included, BadAnswer> {
    typed("submit_tx", answer)
}

/// `submit_tx` without a wait: the hash of the transaction the mempool accepted.
pub fn broadcast(answer: &Value) -> Result<Hash32, BadAnswer> {
    serde_json::from_value(answer["hash"].clone())
        .map_err(|e| BadAnswer::new("submit_tx", e.to_string()))
}

/// `events`: the events of a range of heights.
pub fn events(answer: Value) -> Result<Vec<EventAt>, BadAnswer> {
    typed("events", answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use xrelay_light_client::prover::{MemoryTreeStore, StateTree};
    use xrelay_light_client::testkit::{fixed_set, ChainSpec, TestChain};
    use xrelay_light_client::{Encode, TrustOptions};
    use xrelay_protocol::RelayTx;

    /// Runs every decoder on `v` with the expectations derived from `height` and `asked`;
    /// only a panic fails.
    fn decode_all(v: &Value, height: Height, asked: usize) {
        let _ = status(v.clone());
        let _ = light_block(v, height);
        let _ = block_txs(v);
        let _ = nonce(v);
        let _ = client_state(v);
        let _ = evm_client_state(v, &ChainId::new("alpha").expect("valid id"));
        let _ = proof(v, height);
        let _ = proofs(v, height, asked);
        let _ = included(v.clone());
        let _ = broadcast(v);
        let _ = events(v.clone());
    }

    #[test]
    fn real_answers_decode_and_wrong_ones_name_the_method() {
        let chain = TestChain::new(ChainSpec::new("alpha", fixed_set(4, 1)), 3);
        let block = chain.light_block(2);
        let v = json!({ "light_block": hex::encode(block.encode()) });
        assert_eq!(light_block(&v, 2).unwrap(), block);
        let err = light_block(&v, 3).unwrap_err();
        assert_eq!(err.method, "header");
        assert!(err.why.contains("asked for height 3, got 2"), "{err}");

        let store = MemoryTreeStore::new();
        let tree = StateTree::new(&store);
        let root = tree
            .apply(0, [(b"k".to_vec(), Some(b"v".to_vec()))])
            .unwrap();
        let (_, present) = tree.prove(b"k", 0).unwrap();
        let (_, absent) = tree.prove(b"other", 0).unwrap();
        let one = json!({
            "proof": hex::encode(present.encode()),
            "value": hex::encode(b"v"),
            "root": root,
        });
        let got = proof(&one, 0).unwrap();
        assert_eq!((got.value.as_deref(), got.root), (Some(&b"v"[..]), root));
        let many = json!({
            "root": root,
            "items": [
                { "proof": hex::encode(present.encode()), "value": hex::encode(b"v") },
                { "proof": hex::encode(absent.encode()), "value": null },
            ],
        });
        let got = proofs(&many, 0, 2).unwrap();
        assert_eq!(got[1].value, None);
        assert_eq!(got[1].proof, absent);
        let err = proofs(&many, 0, 3).unwrap_err();
        assert!(err.why.contains("asked for 3 proofs, got 2"), "{err}");

        let client =
            ClientState::new(chain.trusted_state(1), TrustOptions::default()).expect("client");
        let v = json!({ "state": client });
        assert_eq!(client_state(&v).unwrap(), client);

        let evm = evm_client("alpha");
        let v = json!({ "chain": "alpha", "state": hex::encode(evm.encode()) });
        assert_eq!(
            evm_client_state(&v, evm.chain_id()).unwrap(),
            Some(evm.clone())
        );
        assert_eq!(
            evm_client_state(&Value::Null, evm.chain_id()).unwrap(),
            None
        );
        let other = ChainId::new("beta").unwrap();
        let err = evm_client_state(&v, &other).unwrap_err();
        assert!(err.why.contains("asked for chain beta, got alpha"), "{err}");
        let mut bytes = evm.encode();
        bytes.push(0);
        let v = json!({ "state": hex::encode(bytes) });
        assert_eq!(
            evm_client_state(&v, evm.chain_id()).unwrap_err().method,
            "evm_client"
        );

        let tx = Tx::Relay(RelayTx::UpdateClient {
            chain: ChainId::new("alpha").unwrap(),
            blocks: vec![block],
        });
        let v = json!({ "txs": [{ "tx": hex::encode(tx.encode()) }] });
        assert_eq!(block_txs(&v).unwrap(), vec![tx]);
        assert_eq!(nonce(&json!({ "nonce": 7 })).unwrap(), 7);
        assert_eq!(
            broadcast(&json!({ "hash": Hash32([3; 32]) })).unwrap(),
            Hash32([3; 32])
        );

        for (v, method) in [
            (json!({ "light_block": "zz" }), "header"),
            (json!({ "txs": {} }), "block_txs"),
            (json!({ "nonce": -1 }), "nonce"),
            (json!({ "state": 1 }), "client"),
            (json!({ "state": "zz" }), "evm_client"),
            (json!({ "proof": "00", "root": 1 }), "proof"),
            (json!({ "items": [] }), "proofs"),
            (json!([]), "submit_tx"),
            (json!({ "events": [] }), "events"),
        ] {
            let errors = [
                light_block(&v, 1).err(),
                block_txs(&v).err(),
                nonce(&v).err(),
                client_state(&v).err(),
                evm_client_state(&v, &ChainId::new("alpha").unwrap()).err(),
                proof(&v, 1).err(),
                proofs(&v, 1, 0).err(),
                broadcast(&v).err(),
                events(v.clone()).err(),
            ];
            assert!(
                errors.iter().flatten().any(|e| e.method == method),
                "{method}: {errors:?}"
            );
        }
    }

    /// An attestation-mode client of `chain` trusting height 5.
    fn evm_client(chain: &str) -> EvmClientState {
        use xrelay_light_client::evm::attest::Committee;
        use xrelay_light_client::evm::client::{EvmConsensusState, FinalityMode};
        use xrelay_light_client::Address;
        let committee = Committee::new(vec![Address([1; 20]), Address([2; 20])], 2).unwrap();
        EvmClientState::new(
            ChainId::new(chain).unwrap(),
            FinalityMode::Attestation(committee),
            vec![],
            Address([9; 20]),
            5,
            EvmConsensusState {
                block_hash: Hash32([5; 32]),
                state_root: Hash32([6; 32]),
                time_ms: 7,
            },
        )
        .unwrap()
    }

    /// Any JSON value: null, booleans, numbers (including ones beyond `u64` and negative),
    /// strings (often hex, so the binary decoders run), arrays and objects whose keys are
    /// mostly the fields the decoders look for.
    fn any_json() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            prop::sample::select(vec![
                "light_block",
                "txs",
                "tx",
                "nonce",
                "state",
                "proof",
                "value",
                "root",
                "items",
                "hash",
                "height",
                "kind",
                "outcome",
                "Ok",
                "Err",
                "events",
                "already_done",
                "tx_hash",
                "event",
                "chain_id",
                "latest_height",
                "latest_time_ms",
                "latest_hash",
                "mempool",
            ])
            .prop_map(str::to_string),
            "[a-z_]{1,8}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop::collection::vec(any::<u8>(), 0..80).prop_map(|b| Value::from(hex::encode(b))),
            "\\PC{0,20}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(key.clone(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever a node answers, every decoder returns a result or a `BadAnswer`; none
        /// panics.
        #[test]
        fn any_answer_is_decoded_or_refused(v in any_json(), height in 0u64..4, asked in 0usize..4) {
            decode_all(&v, height, asked);
        }

        /// Arbitrary JSON text, as the transport would parse it.
        #[test]
        fn any_text_is_decoded_or_refused(text in "[\\[\\]{}\",:0-9a-f ]{0,200}|\\PC{0,200}") {
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                decode_all(&v, 1, 1);
            }
        }
    }
}
