//! Golden vectors: the byte layouts, hashes, signatures, a signed header chain with its
//! keys, and state proofs, committed under `tests/vectors/` so a second implementation
//! (the Solidity client, a Go relayer) can be checked byte for byte.
//!
//! This test rebuilds every vector and compares it with the committed file, then decodes
//! and re-verifies the committed bytes on their own. After an intentional protocol change,
//! regenerate with `XRELAY_WRITE_VECTORS=1 cargo test --release -p xrelay-light-client --test vectors`
//! and say so in `docs/PROTOCOL.md`.

use std::path::PathBuf;

use serde_json::{json, Value};
use xrelay_light_client::prover::{MemoryTreeStore, StateTree};
use xrelay_light_client::testkit::{rotating_set, ChainSpec, TestChain};
use xrelay_light_client::{
    paths, Acknowledgement, Address, ChainId, Commit, Decode, Encode, Hash32, Header, LightBlock,
    Message, MessageId, SigningKey, StateProof, Timeout, TrustOptions, TrustedState, Validator,
    ValidatorSet, Verifier,
};

const HEIGHTS: u64 = 12;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn keys() -> Vec<SigningKey> {
    (0..3)
        .map(|i| SigningKey::from_seed("xrelay-vectors", i))
        .collect()
}

fn sample_header(set: &ValidatorSet, proposer: Address) -> Header {
    Header {
        chain_id: ChainId::new("alpha").unwrap(),
        height: 42,
        time_ms: 1_735_689_600_000,
        parent_hash: xrelay_light_client::sha256(b"parent"),
        state_root: xrelay_light_client::sha256(b"state"),
        tx_root: xrelay_light_client::sha256(b"txs"),
        validators_hash: set.hash(),
        next_validators_hash: set.hash(),
        proposer,
    }
}

fn sample_message() -> Message {
    Message {
        source: ChainId::new("alpha").unwrap(),
        destination: ChainId::new("beta").unwrap(),
        sequence: 7,
        sender: vec![0xab; 20],
        receiver: "transfer".into(),
        payload: b"{\"amount\":100}".to_vec(),
        timeout: Timeout {
            height: 1_000,
            time_ms: 1_735_700_000_000,
        },
    }
}

fn entry(name: &str, value: Value, encoding: &[u8], hashes: Value) -> Value {
    json!({ "name": name, "value": value, "encoding": hex::encode(encoding), "hashes": hashes })
}

fn encodings() -> Value {
    let ks = keys();
    let set = ValidatorSet::new(
        ks.iter()
            .zip([10u64, 20, 30])
            .map(|(k, p)| Validator::from_key(k, p))
            .collect(),
    )
    .unwrap();
    let header = sample_header(&set, ks[0].address());
    let commit = Commit::sign(&header, &ks);
    let msg = sample_message();
    let ok = Acknowledgement::Success(vec![1, 2, 3]);
    let err = Acknowledgement::Error("insufficient funds".into());
    let alpha = ChainId::new("alpha").unwrap();
    let beta = ChainId::new("beta").unwrap();
    json!({
        "about": "Canonical encodings (hex) and hashes; see docs/PROTOCOL.md for each layout.",
        "keys": ks.iter().enumerate().map(|(i, k)| json!({
            "seed": "xrelay-vectors", "index": i,
            "secret": hex::encode(k.secret_bytes()),
            "public_key": k.public_key().to_hex(),
            "address": k.address().to_hex(),
        })).collect::<Vec<_>>(),
        "vectors": [
            entry("chain_id", json!(alpha), &alpha.encode(), json!({})),
            entry("validator_set", serde_json::to_value(&set).unwrap(), &set.encode(), json!({"valset_hash": set.hash()})),
            entry("header", serde_json::to_value(&header).unwrap(), &header.encode(), json!({"header_hash": header.hash()})),
            entry("commit", serde_json::to_value(&commit).unwrap(), &commit.encode(), json!({})),
            entry("message", serde_json::to_value(&msg).unwrap(), &msg.encode(), json!({
                "message_id": msg.id(), "commitment": msg.commitment(),
            })),
            entry("ack_success", serde_json::to_value(&ok).unwrap(), &ok.encode(), json!({"commitment": ok.commitment()})),
            entry("ack_error", serde_json::to_value(&err).unwrap(), &err.encode(), json!({"commitment": err.commitment()})),
        ],
        "paths": {
            "commitment(beta, 7)": String::from_utf8(paths::commitment(&beta, 7)).unwrap(),
            "receipt(alpha, 7)": String::from_utf8(paths::receipt(&alpha, 7)).unwrap(),
            "ack(alpha, 7)": String::from_utf8(paths::ack(&alpha, 7)).unwrap(),
            "next_receive(alpha)": String::from_utf8(paths::next_receive(&alpha)).unwrap(),
            "next_send(beta)": String::from_utf8(paths::next_send(&beta)).unwrap(),
        },
        "message_id(alpha, beta, 1)": MessageId::new(&alpha, &beta, 1),
    })
}

fn test_chain() -> TestChain {
    TestChain::new(ChainSpec::new("vectors", rotating_set(4, 3, 25)), HEIGHTS)
}

fn header_chain() -> Value {
    let chain = test_chain();
    let key_indices: Vec<u32> = (0..(HEIGHTS as u32 / 3 + 5)).collect();
    let mut forged = chain.light_block(2);
    forged.signed_header.commit.signatures[0].signature.0[10] ^= 1;
    json!({
        "about": "A signed header chain: 4 validators of power 25, one replaced every 3 heights. \
                  Each block is a LightBlock encoding. Checks give the expected verdict of \
                  verifying `target` from the state trusted after `trusted` at time `now_ms`.",
        "chain_id": chain.chain_id(),
        "trust_options": TrustOptions::default(),
        "keys": key_indices.iter().map(|i| {
            let k = chain.key(*i);
            json!({"index": i, "secret": hex::encode(k.secret_bytes()), "address": k.address().to_hex()})
        }).collect::<Vec<_>>(),
        "blocks": (1..=HEIGHTS).map(|h| json!({
            "height": h,
            "header_hash": chain.header(h).hash(),
            "light_block": hex::encode(chain.light_block(h).encode()),
        })).collect::<Vec<_>>(),
        "checks": [
            json!({"trusted": 1, "target": 2, "now_ms": chain.time_at(HEIGHTS) + 1000, "expect": "ok"}),
            json!({"trusted": 1, "target": 5, "now_ms": chain.time_at(HEIGHTS) + 1000, "expect": "ok"}),
            json!({"trusted": 1, "target": 12, "now_ms": chain.time_at(HEIGHTS) + 1000, "expect": "insufficient_trust"}),
            json!({"trusted": 1, "target": 2, "now_ms": chain.time_at(1) - 10_000, "expect": "header_from_future"}),
            json!({"trusted": 1, "target": 2, "now_ms": chain.time_at(HEIGHTS) + 1000, "expect": "bad_signature",
                   "light_block_override": hex::encode(forged.encode())}),
        ],
    })
}

fn proofs() -> Value {
    let store = MemoryTreeStore::new();
    let tree = StateTree::new(&store);
    let entries: Vec<(String, Vec<u8>)> = (1..=16u64)
        .map(|i| {
            (
                format!("commitments/beta/{i}"),
                xrelay_light_client::sha256(&i.to_be_bytes()).0.to_vec(),
            )
        })
        .collect();
    let root = tree
        .apply(
            0,
            entries
                .iter()
                .map(|(k, v)| (k.clone().into_bytes(), Some(v.clone()))),
        )
        .unwrap();
    let mut claims = Vec::new();
    for key in [
        "commitments/beta/1",
        "commitments/beta/9",
        "commitments/beta/16",
        "commitments/beta/17",
        "receipts/alpha/1",
    ] {
        let (value, proof) = tree.prove(key.as_bytes(), 0).unwrap();
        claims.push(json!({
            "key": key,
            "value": value.map(hex::encode),
            "proof": hex::encode(proof.encode()),
        }));
    }
    json!({
        "about": "A state tree of 16 keys at version 0; each proof shows the key's value (membership) or, with value null, its absence.",
        "entries": entries.iter().map(|(k, v)| json!({"key": k, "value": hex::encode(v)})).collect::<Vec<_>>(),
        "root": root,
        "proofs": claims,
    })
}

/// Compares `value` with the committed file (or writes it when asked to).
fn check_file(name: &str, value: &Value) -> Value {
    let path = dir().join(name);
    let text = serde_json::to_string_pretty(value).unwrap() + "\n";
    if std::env::var_os("XRELAY_WRITE_VECTORS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (generate with XRELAY_WRITE_VECTORS=1)",
            path.display()
        )
    });
    assert!(
        committed == text,
        "{name} differs from what the code produces: the protocol changed"
    );
    serde_json::from_str(&committed).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn encodings_match_and_decode() {
    let file = check_file("encodings.json", &encodings());
    for v in file["vectors"].as_array().unwrap() {
        let enc = bytes(&v["encoding"]);
        let name = v["name"].as_str().unwrap();
        // Every vector decodes to its JSON value and re-encodes to the same bytes.
        let json = match name {
            "chain_id" => serde_json::to_value(ChainId::decode(&enc).unwrap()),
            "validator_set" => serde_json::to_value(ValidatorSet::decode(&enc).unwrap()),
            "header" => {
                let h = Header::decode(&enc).unwrap();
                assert_eq!(json!(h.hash()), v["hashes"]["header_hash"]);
                serde_json::to_value(h)
            }
            "commit" => {
                let c = Commit::decode(&enc).unwrap();
                for s in &c.signatures {
                    assert_eq!(
                        s.signature.recover_address(&c.header_hash).unwrap(),
                        s.validator
                    );
                }
                serde_json::to_value(c)
            }
            "message" => {
                let m = Message::decode(&enc).unwrap();
                assert_eq!(json!(m.id()), v["hashes"]["message_id"]);
                serde_json::to_value(m)
            }
            "ack_success" | "ack_error" => {
                serde_json::to_value(Acknowledgement::decode(&enc).unwrap())
            }
            other => panic!("unknown vector {other}"),
        }
        .unwrap();
        assert_eq!(json, v["value"], "{name}");
    }
    for k in file["keys"].as_array().unwrap() {
        let secret: [u8; 32] = bytes(&k["secret"]).try_into().unwrap();
        assert_eq!(
            SigningKey::from_bytes(&secret).unwrap().address().to_hex(),
            k["address"].as_str().unwrap()
        );
    }
}

#[test]
fn header_chain_matches_and_verifies() {
    let file = check_file("header_chain.json", &header_chain());
    let blocks: Vec<LightBlock> = file["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| LightBlock::decode(&bytes(&b["light_block"])).unwrap())
        .collect();
    for (b, v) in blocks.iter().zip(file["blocks"].as_array().unwrap()) {
        assert_eq!(json!(b.header().hash()), v["header_hash"]);
    }
    let options: TrustOptions = serde_json::from_value(file["trust_options"].clone()).unwrap();
    let verifier = Verifier::new(options);
    for check in file["checks"].as_array().unwrap() {
        let trusted = TrustedState::from_light_block(
            &blocks[check["trusted"].as_u64().unwrap() as usize - 1],
        )
        .unwrap();
        let target = match check.get("light_block_override") {
            Some(hex) => LightBlock::decode(&bytes(hex)).unwrap(),
            None => blocks[check["target"].as_u64().unwrap() as usize - 1].clone(),
        };
        let verdict = match verifier.verify(&trusted, &target, check["now_ms"].as_u64().unwrap()) {
            Ok(_) => "ok",
            Err(e) => e.reason(),
        };
        assert_eq!(verdict, check["expect"].as_str().unwrap(), "{check}");
    }
}

#[test]
fn proofs_match_and_verify() {
    let file = check_file("proofs.json", &proofs());
    let root: Hash32 = serde_json::from_value(file["root"].clone()).unwrap();
    for p in file["proofs"].as_array().unwrap() {
        let proof = StateProof::decode(&bytes(&p["proof"])).unwrap();
        let key = p["key"].as_str().unwrap().as_bytes();
        match p["value"].as_str() {
            Some(v) => proof
                .verify_membership(&root, key, &hex::decode(v).unwrap())
                .unwrap(),
            None => proof.verify_non_membership(&root, key).unwrap(),
        }
    }
}
