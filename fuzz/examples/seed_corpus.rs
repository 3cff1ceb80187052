//! Writes the seed corpus of every fuzz target: valid encodings made with the library's own
//! builders (`testkit` chains, a `prover` state tree), real devchain node answers
//! (`seeds/rpc/*.json`, captured from a devnet) and relayer configurations (the example
//! config, overrides, a meshed relayer), so the fuzzer starts from inputs that pass every
//! check of the decoder and mutates them into the interesting near-misses.
//!
//! `cargo run --release --example seed_corpus -- [OUT_DIR]` (default: `corpus/` beside this
//! crate's Cargo.toml). Files are named `seed-<label>`; rerunning overwrites them with the
//! same bytes and leaves whatever the fuzzer added alone.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use xrelay_config::RelayerConfig;
use xrelay_devchain::rpc_answers as answers;
use xrelay_fuzz::{config_input, RpcRequest};

use xrelay_light_client::prover::{MemoryTreeStore, StateTree};
use xrelay_light_client::testkit::{fixed_set, rotating_set, ChainSpec, TestChain};
use xrelay_light_client::{
    Acknowledgement, ChainId, ClientState, Decode, Encode, Hash32, Message, Misbehaviour,
    SigningKey, StateProof, Timeout, TrustOptions,
};

struct Corpus {
    root: PathBuf,
    written: usize,
}

impl Corpus {
    /// Writes `value`'s encoding to `corpus/<target>/seed-<label>`, after checking that it
    /// decodes back to itself (a seed that does not decode would teach the fuzzer nothing).
    fn put<T: Encode + Decode + PartialEq + Debug>(
        &mut self,
        target: &str,
        label: &str,
        value: &T,
    ) {
        let bytes = value.encode();
        let back = T::decode(&bytes).unwrap_or_else(|e| panic!("seed {target}/{label}: {e}"));
        assert_eq!(&back, value, "seed {target}/{label} does not round-trip");
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let path = dir.join(format!("seed-{label}"));
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.written += 1;
    }

    /// Writes `bytes` as they are (for targets whose input is not one encoded value; the
    /// caller checks the seed).
    fn put_raw(&mut self, target: &str, label: &str, bytes: &[u8]) {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let path = dir.join(format!("seed-{label}"));
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.written += 1;
    }

    /// A `decode_rpc_answer` seed for `answer` of `method`, in both input modes (JSON text
    /// and value description), after checking that the method's decoder accepts it.
    fn rpc(&mut self, label: &str, method: &str, params: &Value, answer: &Value) {
        let height = params["height"].as_u64().unwrap_or(0);
        let asked = params["keys_hex"].as_array().map_or(0, Vec::len);
        let accepted = match method {
            "status" => answers::status(answer.clone()).map(drop),
            "header" => answers::light_block(answer, height).map(drop),
            "block_txs" => answers::block_txs(answer).map(drop),
            "nonce" => answers::nonce(answer).map(drop),
            "client" => answers::client_state(answer).map(drop),
            "proof" => answers::proof(answer, height).map(drop),
            "proofs" => answers::proofs(answer, height, asked).map(drop),
            "submit_tx" if params["wait_ms"] == 0 => answers::broadcast(answer).map(drop),
            "submit_tx" => answers::included(answer.clone()).map(drop),
            "events" => answers::events(answer.clone()).map(drop),
            other => panic!("seed rpc/{label}: no decoder for method {other}"),
        };
        accepted.unwrap_or_else(|e| panic!("seed rpc/{label}: {e}"));
        let text = RpcRequest {
            structured: false,
            height,
            asked,
        };
        let body = serde_json::to_vec(answer).expect("JSON");
        self.put_raw(
            "decode_rpc_answer",
            &format!("{label}-text"),
            &text.input(&body),
        );
        let structured = RpcRequest {
            structured: true,
            ..text
        };
        let body = xrelay_fuzz::json::to_bytes(answer)
            .unwrap_or_else(|e| panic!("seed rpc/{label}: {e:?}"));
        assert_eq!(&xrelay_fuzz::json::value(&body), answer, "seed rpc/{label}");
        self.put_raw(
            "decode_rpc_answer",
            &format!("{label}-value"),
            &structured.input(&body),
        );
    }

    /// A `parse_relayer_config` seed: `file` and the overrides `env` (names without the
    /// `XRELAY_` prefix), after checking that the relayer accepts them.
    fn config(&mut self, label: &str, file: &str, env: &[(&str, &str)]) {
        let mut input = file.as_bytes().to_vec();
        for (name, value) in env {
            input.push(0);
            input.extend_from_slice(format!("{name}={value}").as_bytes());
        }
        let (bytes, vars) = config_input(&input);
        RelayerConfig::parse("seed.toml", bytes, vars)
            .unwrap_or_else(|e| panic!("seed config/{label}: {e}"));
        self.put_raw("parse_relayer_config", label, &input);
    }
}

fn id(s: &str) -> ChainId {
    ChainId::new(s).expect("valid chain id")
}

fn main() {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let mut c = Corpus { root, written: 0 };

    // Chain ids: shortest, typical, every allowed character class, longest.
    for (label, name) in [
        ("short", "a"),
        ("alpha", "alpha"),
        ("classes", "Bank-B.prod_1"),
        ("longest", &"x".repeat(64)),
    ] {
        c.put("decode_chain_id", label, &id(name));
    }

    // Header chains: a fixed set of 4, a rotating set of 5 (new member every 2 heights) and
    // a single validator.
    let chains = [
        (
            "fixed",
            TestChain::new(ChainSpec::new("alpha", fixed_set(4, 10)), 6),
        ),
        (
            "rotating",
            TestChain::new(ChainSpec::new("bank-b.prod", rotating_set(5, 2, 7)), 8),
        ),
        (
            "single",
            TestChain::new(ChainSpec::new("x", fixed_set(1, 1)), 5),
        ),
    ];
    for (name, chain) in &chains {
        for h in [1, 2, chain.tip()] {
            let block = chain.light_block(h);
            let label = format!("{name}-h{h}");
            c.put("decode_header", &label, block.header());
            c.put("decode_commit", &label, &block.signed_header.commit);
            c.put("decode_signed_header", &label, &block.signed_header);
            c.put("decode_validator_set", &label, &block.validators);
            c.put("decode_light_block", &label, &block);
        }
        // A commit signed by only the first validator (below quorum unless the set has one).
        let first = chain.validators(2).validators()[0].address;
        let partial = chain.light_block_signed_by(2, |a| *a == first);
        c.put("decode_light_block", &format!("{name}-partial"), &partial);
        c.put(
            "decode_commit",
            &format!("{name}-partial"),
            &partial.signed_header.commit,
        );

        // Evidence: a fork at height 3, and a BFT-time violation between heights 3 and 4.
        let fork = Misbehaviour {
            trusted_height: 2,
            trusted_next_validators: chain.validators(3).clone(),
            first: chain.light_block(3),
            second: chain.conflicting_light_block(3, |h| h.state_root = Hash32([9; 32])),
        };
        assert!(fork.kind().is_ok(), "{name}: fork evidence must classify");
        c.put("decode_misbehaviour", &format!("{name}-fork"), &fork);
        let time = Misbehaviour {
            trusted_height: 2,
            trusted_next_validators: chain.validators(3).clone(),
            first: chain.light_block(3),
            second: chain.conflicting_light_block(4, |h| h.time_ms = chain.time_at(3)),
        };
        assert!(time.kind().is_ok(), "{name}: time evidence must classify");
        c.put("decode_misbehaviour", &format!("{name}-time"), &time);

        // Client states: active after a few updates, and frozen by the fork.
        let mut client = ClientState::new(chain.trusted_state(1), TrustOptions::default())
            .expect("client from a trusted state");
        let now = chain.time_at(chain.tip()) + 1_000;
        client
            .update(&[chain.light_block(2), chain.light_block(3)], now)
            .expect("update");
        c.put("decode_client_state", &format!("{name}-active"), &client);
        client
            .submit_misbehaviour(&fork, now)
            .expect("fork evidence");
        c.put("decode_client_state", &format!("{name}-frozen"), &client);
        // The same state as a node's `client` answer (a frozen client is what a node
        // serves after misbehaviour; the captured answers only have active ones).
        c.rpc(
            &format!("client-{name}-frozen"),
            "client",
            &json!({ "chain": client.chain_id() }),
            &json!({ "chain": client.chain_id(), "state": client }),
        );
    }

    // State proofs from a real tree: membership and absence, in a tree of one key, of 64
    // keys, and after deletions.
    let store = MemoryTreeStore::new();
    let tree = StateTree::new(&store);
    let key = |i: u32| format!("commitments/beta/{i}").into_bytes();
    // Versions are consecutive from 0 (`StateTree::compute` refuses a first version above 0).
    let root0 = tree
        .apply(0, [(key(0), Some(b"only".to_vec()))])
        .expect("version 0");
    let root1 = tree
        .apply(1, (1..64).map(|i| (key(i), Some(i.to_be_bytes().to_vec()))))
        .expect("version 1");
    let root2 = tree
        .apply(2, (0..64).step_by(3).map(|i| (key(i), None)))
        .expect("version 2");
    for (version, root, probes) in [
        (0u64, root0, vec![0u32, 1]),
        (1, root1, vec![0, 5, 63, 64, 1000]),
        (2, root2, vec![0, 1, 3, 62, 63]),
    ] {
        for i in probes {
            let (value, proof) = tree.prove(&key(i), version).expect("proof");
            match &value {
                Some(v) => proof.verify_membership(&root, &key(i), v),
                None => proof.verify_non_membership(&root, &key(i)),
            }
            .unwrap_or_else(|e| panic!("seed proof v{version} key {i}: {e}"));
            let kind = if value.is_some() { "in" } else { "out" };
            c.put(
                "decode_state_proof",
                &format!("v{version}-k{i}-{kind}"),
                &proof,
            );
        }
    }
    let empty = StateProof {
        leaf: None,
        siblings: vec![],
    };
    c.put("decode_state_proof", "empty-tree", &empty);

    // Messages: height-only, time-only and both timeouts; empty and larger payloads.
    let base = Message {
        source: id("alpha"),
        destination: id("beta"),
        sequence: 1,
        sender: vec![0xaa; 20],
        receiver: "echo".into(),
        payload: b"hello".to_vec(),
        timeout: Timeout {
            height: 100,
            time_ms: 0,
        },
    };
    c.put("decode_message", "height-timeout", &base);
    c.put(
        "decode_message",
        "time-timeout",
        &Message {
            sequence: u64::MAX,
            payload: vec![],
            timeout: Timeout {
                height: 0,
                time_ms: 1_735_689_600_000,
            },
            ..base.clone()
        },
    );
    c.put(
        "decode_message",
        "both-timeouts",
        &Message {
            source: id("bank-b.prod"),
            destination: id("a"),
            sender: vec![1; 64],
            receiver: "transfer".into(),
            payload: (0..=255u8).cycle().take(1500).collect(),
            timeout: Timeout {
                height: 7,
                time_ms: 9,
            },
            ..base.clone()
        },
    );

    // Acknowledgements.
    c.put(
        "decode_ack",
        "success-empty",
        &Acknowledgement::Success(vec![]),
    );
    c.put(
        "decode_ack",
        "success",
        &Acknowledgement::Success(b"ok:42".to_vec()),
    );
    c.put(
        "decode_ack",
        "error",
        &Acknowledgement::Error("insufficient funds".into()),
    );
    c.put(
        "decode_ack",
        "error-utf8",
        &Acknowledgement::Error("refusé ✗".into()),
    );

    // Devchain transactions and transfer payloads.
    {
        use xrelay_devchain::apps::transfer::TransferPacket;
        use xrelay_devchain::tx::{
            Action, InboundMessage, ProvenAck, ProvenMessage, SignedAction, SourceProof, Tx,
        };
        use xrelay_light_client::Address;

        let chain = TestChain::new(ChainSpec::new("alpha", fixed_set(4, 1)), 3);
        let beta = id("beta");
        let store = MemoryTreeStore::new();
        let tree = StateTree::new(&store);
        tree.apply(0, [(b"commitments/beta/1".to_vec(), Some(vec![7; 32]))])
            .expect("version 0");
        let (_, proof) = tree.prove(b"commitments/beta/1", 0).expect("proof");
        let message = Message {
            source: id("alpha"),
            destination: beta.clone(),
            sequence: 1,
            sender: vec![1; 20],
            receiver: "transfer".into(),
            payload: vec![],
            timeout: Timeout {
                height: 10,
                time_ms: 0,
            },
        };
        let packet = TransferPacket {
            denom: "v/alpha/xrd".into(),
            amount: 5,
            sender: Address([1; 20]),
            receiver: Address([2; 20]),
        };
        c.put("decode_transfer_packet", "voucher", &packet);
        let key = SigningKey::from_seed("fuzz", 0);
        let txs = [
            (
                "update",
                Tx::UpdateClient {
                    chain: id("alpha"),
                    blocks: vec![chain.light_block(2), chain.light_block(3)],
                },
            ),
            (
                "recv",
                Tx::Recv {
                    source: id("alpha"),
                    proof_height: 3,
                    messages: vec![InboundMessage {
                        message: message.clone(),
                        shows: SourceProof::Committed,
                        proof: proof.clone(),
                    }],
                },
            ),
            (
                "ack",
                Tx::Ack {
                    destination: beta.clone(),
                    proof_height: 3,
                    acks: vec![ProvenAck {
                        message: message.clone(),
                        ack: Acknowledgement::Success(vec![1]),
                        proof: proof.clone(),
                    }],
                },
            ),
            (
                "timeout",
                Tx::Timeout {
                    destination: beta.clone(),
                    proof_height: 3,
                    messages: vec![ProvenMessage {
                        message: message.clone(),
                        proof,
                    }],
                },
            ),
            (
                "send",
                Tx::Signed(Box::new(SignedAction::sign(
                    &id("alpha"),
                    &key,
                    0,
                    Action::Send {
                        destination: beta.clone(),
                        app: "transfer".into(),
                        payload: packet.encode(),
                        timeout: Timeout {
                            height: 0,
                            time_ms: 99,
                        },
                    },
                ))),
            ),
            (
                "pay",
                Tx::Signed(Box::new(SignedAction::sign(
                    &id("alpha"),
                    &key,
                    1,
                    Action::Pay {
                        to: Address([3; 20]),
                        denom: "xrd".into(),
                        amount: 1,
                    },
                ))),
            ),
            (
                "create-client",
                Tx::Signed(Box::new(SignedAction::sign(
                    &id("alpha"),
                    &key,
                    2,
                    Action::CreateClient {
                        trusted: chain.trusted_state(1),
                        options: TrustOptions::default(),
                    },
                ))),
            ),
        ];
        for (label, tx) in &txs {
            c.put("decode_tx", label, tx);
        }
    }

    // Validator key files: one key, and several with comments, blank lines, `0x` and
    // surrounding spaces (the forms `keyfile::parse` documents).
    {
        use xrelay_devchain::keyfile;
        let secret =
            |i: u32| hex::encode(SigningKey::from_seed("fuzz-validator", i).secret_bytes());
        let files = [
            ("one", format!("{}\n", secret(0))),
            (
                "commented",
                format!(
                    "# consortium validators\n{}\n\n  0x{}  \n# retired:\n# {}\n{}",
                    secret(1),
                    secret(2),
                    secret(3),
                    secret(4)
                ),
            ),
        ];
        for (label, text) in &files {
            keyfile::parse(text).unwrap_or_else(|e| panic!("seed key file {label}: {e}"));
            c.put_raw("parse_key_file", label, text.as_bytes());
        }
    }

    // Real node answers, captured from a devnet (see README.md: `seeds/rpc/`).
    let captured = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/rpc");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&captured)
        .unwrap_or_else(|e| panic!("{}: {e}", captured.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for path in &files {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let record: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let label = path.file_stem().expect("file name").to_string_lossy();
        let method = record["method"].as_str().expect("method");
        c.rpc(&label, method, &record["params"], &record["answer"]);
    }

    // Relayer configurations: the example, a two-chain file with defaults left out, the
    // overrides an operator sets, a trust root, and a meshed relayer.
    let example_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/relayer.example.toml");
    let example = std::fs::read_to_string(&example_path)
        .unwrap_or_else(|e| panic!("{}: {e}", example_path.display()));
    c.config("example", &example, &[]);
    let minimal = r#"[relayer]
data_dir = "/tmp/r"

[[chains]]
id = "a"
kind = "devchain"
rpc = ["http://127.0.0.1:1"]

[[chains]]
id = "b"
kind = "devchain"
rpc = ["http://127.0.0.1:2", "https://b.example:443"]
block_time_ms = 200

[[links]]
chains = ["a", "b"]
"#;
    c.config("minimal", minimal, &[]);
    c.config(
        "overrides",
        minimal,
        &[
            ("API__ADMIN_TOKEN", "s3cret"),
            ("API__LISTEN", "0.0.0.0:9464"),
            (
                "CHAINS__0__RPC",
                r#"["http://10.0.0.5:26657", "http://10.0.0.6:26657"]"#,
            ),
            ("CHAINS__1__BLOCK_TIME_MS", "750"),
            ("RELAYER__MAX_BATCH", "7"),
            ("KEY_PASSPHRASE", "not a config key"),
        ],
    );
    let trusted = minimal.replace(
        "block_time_ms = 200",
        &format!(
            "block_time_ms = 200\ntrusted_height = 12\ntrusted_hash = \"0x{}\"",
            "ab".repeat(32)
        ),
    );
    c.config("trust-root", &trusted, &[]);
    // Peer ids: identity multihashes of (protobuf-encoded) ed25519 keys, as libp2p makes.
    let peer = |i: u8| {
        let mut key = vec![0x08, 0x01, 0x12, 0x20];
        key.extend_from_slice(&[i; 32]);
        let hash = multiaddr::multihash::Multihash::<64>::wrap(0, &key).expect("identity hash");
        multiaddr::PeerId::from_multihash(hash)
            .expect("peer id")
            .to_base58()
    };
    let meshed = format!(
        r#"{minimal}
[mesh]
enabled = true
listen = "/ip4/0.0.0.0/tcp/9465"
identity_key = "/var/lib/xrelay/identity.key"
peers = ["/ip4/10.0.0.2/tcp/9465/p2p/{p2}", "/dns4/relayer-3.example/tcp/9465/p2p/{p3}"]
allowed = ["{p1}", "{p2}", "{p3}"]
heartbeat_ms = 500
grace_ms = 3000
window = 500
"#,
        p1 = peer(1),
        p2 = peer(2),
        p3 = peer(3),
    );
    c.config("mesh", &meshed, &[]);
    c.config(
        "mesh-overrides",
        &example,
        &[
            ("MESH__ENABLED", "true"),
            ("MESH__ALLOWED", &format!("[\"{}\"]", peer(4))),
            ("MESH__WINDOW", "100"),
        ],
    );

    println!("wrote {} seed inputs under {}", c.written, c.root.display());
}
