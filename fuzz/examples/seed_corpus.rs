//! Writes the seed corpus of every fuzz target: valid encodings made with the library's own
//! builders (`testkit` chains, a `prover` state tree), real devchain node answers
//! (`seeds/rpc/*.json`, captured from a devnet), relayer configurations (the example
//! config, overrides, a meshed relayer) and the light-client crate's real EVM test data
//! (Besu QBFT / IBFT 2.0, Goerli Clique and anvil headers, anvil's `eth_getProof` answer)
//! with the headers, client states, proofs and attester signatures built from it with
//! deterministic keys, so the fuzzer starts from inputs that pass every check of the
//! decoder and mutates them into the interesting near-misses.
//!
//! `cargo run --release --example seed_corpus -- [OUT_DIR]` (default: `corpus/` beside this
//! crate's Cargo.toml). Files are named `seed-<label>`; rerunning overwrites them with the
//! same bytes and leaves whatever the fuzzer added alone.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use xrelay_config::RelayerConfig;
use xrelay_devchain::rpc_answers as answers;
use xrelay_fuzz::evm_evidence as ev;
use xrelay_fuzz::{config_input, RpcRequest};

// The mesh's attester-signature payload codec, compiled from the relayer's own source file as
// the `decode_attestation_payload` target does (it depends on xrelay-light-client only).
#[path = "../../relay/src/attestations/payload.rs"]
mod payload;

// The mesh's heartbeat codec, compiled from the relayer's own source file as the
// `decode_heartbeat` target does (it depends on xrelay-light-client and thiserror only).
#[allow(dead_code)]
#[path = "../../relay/src/mesh/heartbeat.rs"]
mod heartbeat;

use xrelay_light_client::evm::attest::{Attestation, Attested, AttesterSignature, Committee};
use xrelay_light_client::evm::client::{
    EvmClientState, EvmConsensusState, EvmUpdate, FinalityMode,
};
use xrelay_light_client::evm::clique::{CliqueHeader, DEFAULT_EPOCH, NONCE_AUTH};
use xrelay_light_client::evm::consensus::{verify_header, EvmConsensus};
use xrelay_light_client::evm::header::{BlobGasFields, EvmHeader};
use xrelay_light_client::evm::istanbul::{BftExtraData, BftHeader, BftVariant, ValidatorVote};
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
use xrelay_light_client::evm::mpt::{self, verify_proof, EMPTY_ROOT};
use xrelay_light_client::evm::testkit::{self as kit, addresses, bft_reseal, clique_reseal};
use xrelay_light_client::prover::{MemoryTreeStore, StateTree};
use xrelay_light_client::testkit::{fixed_set, rotating_set, ChainSpec, TestChain};
use xrelay_light_client::{
    Acknowledgement, Address, ChainId, ClientState, Decode, Encode, Hash32, Message, Misbehaviour,
    SigningKey, StateProof, Timeout, TrustOptions,
};
use xrelay_protocol::{InboundMessage, ProvenAck, ProvenMessage, RelayTx, SourceProof, TransferPacket};

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

    /// A `decode_evm_header` seed: `header`'s RLP, after checking that it decodes back to
    /// `header` and re-encodes byte for byte.
    fn evm_header(&mut self, label: &str, header: &EvmHeader) {
        let bytes = header.encode();
        let back =
            EvmHeader::decode(&bytes).unwrap_or_else(|e| panic!("seed evm header/{label}: {e}"));
        assert_eq!(&back, header, "seed evm header/{label} does not round-trip");
        assert_eq!(back.encode(), bytes, "seed evm header/{label}");
        self.put_raw("decode_evm_header", label, &bytes);
    }

    /// A `decode_mpt_proof` seed: `u8 mode` ‖ `key` ‖ `root` ‖ each node as `u16` big-endian
    /// length then its bytes, after checking that `evm::mpt::verify_proof` gives `expected`
    /// (the leaf's value, or `None` for a proven absence) for the root the target will use.
    fn mpt(
        &mut self,
        label: &str,
        mode: u8,
        key: &[u8; 32],
        root: &[u8; 32],
        nodes: &[Vec<u8>],
        expected: Option<&[u8]>,
    ) {
        let used = match (mode & 1, mode & 2, nodes.first()) {
            (_, 2, _) => EMPTY_ROOT,
            (1, _, Some(first)) => mpt::keccak256(first),
            _ => *root,
        };
        let found = verify_proof(&used, key, nodes)
            .unwrap_or_else(|e| panic!("seed mpt/{label}: {e}"))
            .map(<[u8]>::to_vec);
        assert_eq!(found.as_deref(), expected, "seed mpt/{label}");
        let mut input = vec![mode];
        input.extend_from_slice(key);
        input.extend_from_slice(root);
        for node in nodes {
            let len = u16::try_from(node.len()).expect("a proof node fits a u16 length");
            input.extend_from_slice(&len.to_be_bytes());
            input.extend_from_slice(node);
        }
        self.put_raw("decode_mpt_proof", label, &input);
    }

    /// A `decode_attestation_payload` seed: the payload the mesh gossips for `signature` of
    /// `attestation` (`payload::encode_payload`, the relayer's own codec), after checking
    /// that it decodes back and that the signature recovers to the attester it names.
    fn attestation(
        &mut self,
        label: &str,
        attestation: &Attestation,
        signature: &AttesterSignature,
    ) {
        let bytes = payload::encode_payload(attestation, signature);
        assert!(
            bytes.len() <= payload::MAX_PAYLOAD_LEN,
            "seed attest/{label}"
        );
        let back =
            payload::decode_payload(&bytes).unwrap_or_else(|e| panic!("seed attest/{label}: {e}"));
        assert_eq!(
            &back,
            &(attestation.clone(), *signature),
            "seed attest/{label}"
        );
        let signer = signature
            .signature
            .recover_address(&attestation.digest())
            .unwrap_or_else(|e| panic!("seed attest/{label}: {e}"));
        assert_eq!(signer, signature.attester, "seed attest/{label}");
        self.put_raw("decode_attestation_payload", label, &bytes);
    }

    /// A `decode_heartbeat` seed: the payload of `hb` with a signature made of `fill` (the
    /// target does not check signatures: they need libp2p's ed25519), after checking that it
    /// decodes back.
    fn heartbeat(&mut self, label: &str, hb: &heartbeat::Heartbeat, fill: u8) {
        let signature = [fill; heartbeat::SIGNATURE_LEN];
        let bytes = heartbeat::encode_payload(hb, &signature);
        assert!(
            bytes.len() <= heartbeat::MAX_PAYLOAD_LEN,
            "seed heartbeat/{label}"
        );
        let back = heartbeat::decode_payload(&bytes)
            .unwrap_or_else(|e| panic!("seed heartbeat/{label}: {e}"));
        assert_eq!(back, (hb.clone(), signature), "seed heartbeat/{label}");
        self.put_raw("decode_heartbeat", label, &bytes);
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

// ---------------------------------------------------------------------------------------
// EVM data: the light-client crate's committed test data (`light-clients/tests/data/evm/`,
// origins in its README.md) and headers sealed here with deterministic keys, the way
// `light-clients/tests/evm_headers.rs` and `evm_client.rs` build them.

/// A file of the light-client crate's EVM test data.
fn evm_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../light-clients/tests/data/evm")
        .join(name)
}

/// A `.hex` data file: one hex string.
fn evm_hex(name: &str) -> Vec<u8> {
    let path = evm_data(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    hex::decode(text.trim()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A header data file, decoded.
fn evm_header(name: &str) -> EvmHeader {
    EvmHeader::decode(&evm_hex(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The items of an RLP list (each item with its own RLP prefix), for the full-block data
/// file `[header, transactions, ommers]`.
fn rlp_list_items(bytes: &[u8]) -> Vec<&[u8]> {
    // (prefix length, payload length) of the RLP item at the start of `b`.
    fn head(b: &[u8]) -> (usize, usize) {
        let long = |base: u8| {
            let n = usize::from(b[0] - base);
            let len = b[1..=n]
                .iter()
                .fold(0usize, |acc, x| acc << 8 | usize::from(*x));
            (1 + n, len)
        };
        match b[0] {
            0x00..=0x7f => (0, 1),
            0x80..=0xb7 => (1, usize::from(b[0] - 0x80)),
            0xb8..=0xbf => long(0xb7),
            0xc0..=0xf7 => (1, usize::from(b[0] - 0xc0)),
            0xf8..=0xff => long(0xf7),
        }
    }
    assert!(bytes[0] >= 0xc0, "not an RLP list");
    let (prefix, len) = head(bytes);
    assert_eq!(prefix + len, bytes.len(), "bytes after the RLP list");
    let mut rest = &bytes[prefix..];
    let mut items = Vec::new();
    while !rest.is_empty() {
        let (p, l) = head(rest);
        items.push(&rest[..p + l]);
        rest = &rest[p + l..];
    }
    items
}

/// A JSON hex string (`0x…`; quantities may be odd-length).
fn json_bytes(v: &Value) -> Vec<u8> {
    let digits = v.as_str().expect("hex string").trim_start_matches("0x");
    hex::decode(format!("{}{digits}", "0".repeat(digits.len() % 2))).expect("hex")
}

/// A JSON hex value as 32 bytes, left-padded (hashes, slots, storage words).
fn json32(v: &Value) -> [u8; 32] {
    let raw = json_bytes(v);
    let mut out = [0u8; 32];
    out[32 - raw.len()..].copy_from_slice(&raw);
    out
}

/// A JSON quantity as a `u64`.
fn json_u64(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().expect("quantity").trim_start_matches("0x"), 16)
        .expect("quantity")
}

/// The header of anvil's `eth_getBlockByNumber` answer (a development node: Prague layout,
/// no seal), rebuilt field by field; checked against the block hash anvil gave.
fn anvil_header(block: &Value) -> EvmHeader {
    let mut bloom = [0u8; 256];
    bloom.copy_from_slice(&json_bytes(&block["logsBloom"]));
    let mut nonce = [0u8; 8];
    nonce.copy_from_slice(&json_bytes(&block["nonce"]));
    let u256 = |name: &str| {
        block[name]
            .as_str()
            .expect("quantity")
            .parse()
            .expect("256-bit quantity")
    };
    let header = EvmHeader {
        parent_hash: Hash32(json32(&block["parentHash"])),
        ommers_hash: Hash32(json32(&block["sha3Uncles"])),
        beneficiary: Address::from_hex(block["miner"].as_str().expect("miner")).expect("miner"),
        state_root: Hash32(json32(&block["stateRoot"])),
        transactions_root: Hash32(json32(&block["transactionsRoot"])),
        receipts_root: Hash32(json32(&block["receiptsRoot"])),
        logs_bloom: Box::new(bloom),
        difficulty: u256("difficulty"),
        number: json_u64(&block["number"]),
        gas_limit: json_u64(&block["gasLimit"]),
        gas_used: json_u64(&block["gasUsed"]),
        timestamp: json_u64(&block["timestamp"]),
        extra_data: json_bytes(&block["extraData"]),
        mix_hash: Hash32(json32(&block["mixHash"])),
        nonce,
        base_fee_per_gas: Some(u256("baseFeePerGas")),
        withdrawals_root: Some(Hash32(json32(&block["withdrawalsRoot"]))),
        blob_gas: Some(BlobGasFields {
            blob_gas_used: json_u64(&block["blobGasUsed"]),
            excess_blob_gas: json_u64(&block["excessBlobGas"]),
            parent_beacon_block_root: Hash32(json32(&block["parentBeaconBlockRoot"])),
        }),
        requests_hash: Some(Hash32(json32(&block["requestsHash"]))),
    };
    assert_eq!(
        header.hash(),
        Hash32(json32(&block["hash"])),
        "the rebuilt anvil header must hash to anvil's block hash"
    );
    header
}

/// Keys sorted by address (validator lists are ascending).
fn evm_keys(seed: &str, n: u32) -> Vec<SigningKey> {
    let mut keys: Vec<SigningKey> = (0..n).map(|i| SigningKey::from_seed(seed, i)).collect();
    keys.sort_by_key(SigningKey::address);
    keys
}

/// `r ‖ s ‖ v` with `v ∈ {0, 1}`, as Besu, GoQuorum and geth write seals.
fn evm_seal(key: &SigningKey, digest: &Hash32) -> [u8; 65] {
    let mut sig = key.sign_digest(digest).0;
    sig[64] -= 27;
    sig
}

/// A QBFT / IBFT 2.0 header made from the real header `template`: at `number` after
/// `parent`, listing `validators`, carrying `vote` and `round`, sealed by `sealers` (a
/// genesis, number 0, has no seals).
#[allow(clippy::too_many_arguments)]
fn bft_header(
    template: &EvmHeader,
    variant: BftVariant,
    number: u64,
    parent: Hash32,
    validators: &[Address],
    vote: Option<ValidatorVote>,
    round: u32,
    sealers: &[&SigningKey],
) -> EvmHeader {
    let mut listed = validators.to_vec();
    listed.sort();
    let mut extra = BftExtraData {
        variant,
        vanity: [0; 32],
        validators: listed,
        vote,
        round,
        seals: vec![],
    };
    let mut header = template.clone();
    header.number = number;
    header.parent_hash = parent;
    header.timestamp = template.timestamp + number;
    header.extra_data = extra.encode();
    if number > 0 {
        let digest = BftHeader::parse(variant, &header)
            .expect("BFT header")
            .seal_digest();
        extra.seals = sealers.iter().map(|k| evm_seal(k, &digest)).collect();
        header.extra_data = extra.encode();
    }
    header
}

/// The chain's block hash of a BFT header (without seals and round).
fn bft_hash(variant: BftVariant, header: &EvmHeader) -> Hash32 {
    BftHeader::parse(variant, header)
        .expect("BFT header")
        .block_hash()
}

/// A Clique header made from the real (Goerli) header `template`: at `number` after
/// `parent`, listing `signers` (checkpoints only), voting for `vote` (`NONCE_AUTH` nonce),
/// sealed by `sealer` with the difficulty of its turn among `current` (ascending).
fn clique_header(
    template: &EvmHeader,
    number: u64,
    parent: Hash32,
    signers: &[Address],
    vote: Option<Address>,
    current: &[Address],
    sealer: &SigningKey,
) -> EvmHeader {
    let mut header = template.clone();
    header.number = number;
    header.parent_hash = parent;
    header.timestamp = template.timestamp + 15 * (number - template.number);
    let mut extra = template.extra_data[..32].to_vec();
    for s in signers {
        extra.extend_from_slice(&s.0);
    }
    extra.extend_from_slice(&[0; 65]);
    header.extra_data = extra;
    header.beneficiary = Address::default();
    header.nonce = [0; 8];
    if let Some(subject) = vote {
        header.beneficiary = subject;
        header.nonce = NONCE_AUTH;
    }
    let turn = current
        .iter()
        .position(|a| *a == sealer.address())
        .expect("the sealer is a signer");
    let in_turn = number % current.len() as u64 == turn as u64;
    header.difficulty = if in_turn { "2" } else { "1" }.parse().expect("difficulty");
    let digest = CliqueHeader::parse(&header, DEFAULT_EPOCH)
        .expect("Clique header")
        .seal_hash();
    let len = header.extra_data.len();
    header.extra_data[len - 65..].copy_from_slice(&evm_seal(sealer, &digest));
    header
}

/// RLP of a byte string.
fn rlp_string(bytes: &[u8]) -> Vec<u8> {
    if let [b @ 0..=0x7f] = bytes {
        return vec![*b];
    }
    let mut out = rlp_prefix(0x80, bytes.len());
    out.extend_from_slice(bytes);
    out
}

/// RLP of a list of already encoded items.
fn rlp_list(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = rlp_prefix(0xc0, items.iter().map(Vec::len).sum());
    for item in items {
        out.extend_from_slice(item);
    }
    out
}

fn rlp_prefix(base: u8, len: usize) -> Vec<u8> {
    if len < 56 {
        return vec![base + len as u8];
    }
    let be = len.to_be_bytes();
    let skip = be.iter().take_while(|b| **b == 0).count();
    let mut out = vec![base + 55 + (be.len() - skip) as u8];
    out.extend_from_slice(&be[skip..]);
    out
}

/// Hex-prefix (compact) encoding of a nibble path (PROTOCOL.md §12.1).
fn hex_prefix(nibbles: &[u8], leaf: bool) -> Vec<u8> {
    let odd = nibbles.len() % 2 == 1;
    let flag = (u8::from(leaf) << 1 | u8::from(odd)) << 4;
    let (first, rest) = if odd {
        (flag | nibbles[0], &nibbles[1..])
    } else {
        (flag, nibbles)
    };
    let mut out = vec![first];
    out.extend(rest.chunks(2).map(|p| p[0] << 4 | p[1]));
    out
}

fn nibbles(key: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (i, b) in key.iter().enumerate() {
        out[2 * i] = b >> 4;
        out[2 * i + 1] = b & 0x0f;
    }
    out
}

/// A Merkle-Patricia trie over 32-byte keys (already hashed), built as Ethereum clients
/// build it: a leaf for a lone key, an extension for a shared path, else a branch; a node
/// whose RLP is shorter than 32 bytes is embedded in its parent. Checked against anvil's
/// storage trie below (same root, same `eth_getProof` nodes), then used for the shapes the
/// captured proof lacks (a leaf or extension at the root, embedded nodes).
struct Mpt {
    /// (key nibbles, stored bytes), ascending.
    entries: Vec<([u8; 64], Vec<u8>)>,
}

impl Mpt {
    fn new(entries: impl IntoIterator<Item = ([u8; 32], Vec<u8>)>) -> Mpt {
        let mut entries: Vec<_> = entries.into_iter().map(|(k, v)| (nibbles(&k), v)).collect();
        entries.sort();
        entries.dedup_by(|a, b| a.0 == b.0);
        Mpt { entries }
    }

    fn root(&self) -> [u8; 32] {
        if self.entries.is_empty() {
            return EMPTY_ROOT;
        }
        mpt::keccak256(&mpt_node(&self.entries, 0, None, &mut Vec::new()))
    }

    /// `eth_getProof`'s nodes for `key`: the nodes on its path, root first, without the
    /// ones embedded in their parent (the root is always listed).
    fn proof(&self, key: &[u8; 32]) -> Vec<Vec<u8>> {
        if self.entries.is_empty() {
            return vec![];
        }
        let mut path = Vec::new();
        mpt_node(&self.entries, 0, Some(&nibbles(key)), &mut path);
        path.reverse();
        path.into_iter()
            .enumerate()
            .filter(|(i, n)| *i == 0 || n.len() >= 32)
            .map(|(_, n)| n)
            .collect()
    }
}

/// The RLP of the node over `entries` (all sharing their first `depth` nibbles); pushes the
/// nodes on `target`'s path onto `path`, deepest first.
fn mpt_node(
    entries: &[([u8; 64], Vec<u8>)],
    depth: usize,
    target: Option<&[u8; 64]>,
    path: &mut Vec<Vec<u8>>,
) -> Vec<u8> {
    let node = if let [(key, value)] = entries {
        rlp_list(&[
            rlp_string(&hex_prefix(&key[depth..], true)),
            rlp_string(value),
        ])
    } else {
        let (first, last) = (&entries[0].0, &entries[entries.len() - 1].0);
        let shared = (depth..64).take_while(|&i| first[i] == last[i]).count();
        let prefix = &first[depth..depth + shared];
        if shared > 0 {
            let on = target.filter(|t| &t[depth..depth + shared] == prefix);
            let child = mpt_node(entries, depth + shared, on, path);
            rlp_list(&[rlp_string(&hex_prefix(prefix, false)), mpt_ref(child)])
        } else {
            let mut items: Vec<Vec<u8>> = (0..16u8)
                .map(|n| {
                    let group: Vec<_> = entries
                        .iter()
                        .filter(|e| e.0[depth] == n)
                        .cloned()
                        .collect();
                    if group.is_empty() {
                        return rlp_string(&[]);
                    }
                    let on = target.filter(|t| t[depth] == n);
                    mpt_ref(mpt_node(&group, depth + 1, on, path))
                })
                .collect();
            items.push(rlp_string(&[]));
            rlp_list(&items)
        }
    };
    if target.is_some() {
        path.push(node.clone());
    }
    node
}

/// How a parent refers to a node: embedded if its RLP is shorter than 32 bytes, else by
/// keccak-256.
fn mpt_ref(node: Vec<u8>) -> Vec<u8> {
    if node.len() < 32 {
        node
    } else {
        rlp_string(&mpt::keccak256(&node))
    }
}

/// Keys next to `key` that the first `k` nodes of its proof show absent, one per `k`
/// (changing one nibble of `key` at a time, from the first): what a node answers for a key
/// whose path leaves `key`'s at that node.
fn absent_neighbours(root: &[u8; 32], key: &[u8; 32], nodes: &[Vec<u8>]) -> Vec<(usize, [u8; 32])> {
    let mut found: Vec<(usize, [u8; 32])> = Vec::new();
    for nibble in 0..64 {
        for value in 0..16u8 {
            let mut other = *key;
            let byte = &mut other[nibble / 2];
            *byte = if nibble % 2 == 0 {
                value << 4 | (*byte & 0x0f)
            } else {
                (*byte & 0xf0) | value
            };
            if other == *key {
                continue;
            }
            let k =
                (1..=nodes.len()).find(|&k| verify_proof(root, &other, &nodes[..k]) == Ok(None));
            if let Some(k) = k {
                if found.iter().all(|(seen, _)| *seen != k) {
                    found.push((k, other));
                }
            }
        }
    }
    found.sort();
    found
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
        use xrelay_devchain::tx::{Action, SignedAction, Tx};

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
                Tx::Relay(RelayTx::UpdateClient {
                    chain: id("alpha"),
                    blocks: vec![chain.light_block(2), chain.light_block(3)],
                }),
            ),
            (
                "recv",
                Tx::Relay(RelayTx::Recv {
                    source: id("alpha"),
                    proof_height: 3,
                    messages: vec![InboundMessage {
                        message: message.clone(),
                        shows: SourceProof::Committed,
                        proof: proof.clone(),
                    }],
                }),
            ),
            (
                "ack",
                Tx::Relay(RelayTx::Ack {
                    destination: beta.clone(),
                    proof_height: 3,
                    acks: vec![ProvenAck {
                        message: message.clone(),
                        ack: Acknowledgement::Success(vec![1]),
                        proof: proof.clone(),
                    }],
                }),
            ),
            (
                "timeout",
                Tx::Relay(RelayTx::Timeout {
                    destination: beta.clone(),
                    proof_height: 3,
                    messages: vec![ProvenMessage {
                        message: message.clone(),
                        proof,
                    }],
                }),
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
            if let Tx::Relay(relay) = tx {
                c.put("decode_relay_tx", label, relay);
            }
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

    // EVM block headers: the real ones of the light-client crate's test data (a Besu QBFT
    // block with 3 seals and the same header without them, the header of an IBFT 2.0 block,
    // a Goerli Clique block, anvil's sealless Prague header), the extraData of the two BFT
    // blocks on their own (the target decodes its input as extraData too), and headers
    // sealed here with deterministic keys: votes in both BFT encodings, a BFT genesis (no
    // seals), a Clique checkpoint and a Clique vote.
    let qbft = evm_header("qbft_besu_block_7528.hex");
    let qbft_sealless = evm_header("qbft_besu_block_7528_commit_preimage.hex");
    let ibft2_block = evm_hex("ibft2_block_5618555.block.hex");
    let ibft2_items = rlp_list_items(&ibft2_block);
    assert_eq!(
        ibft2_items.len(),
        3,
        "a block is [header, transactions, ommers]"
    );
    let ibft2 = EvmHeader::decode(ibft2_items[0]).expect("the IBFT 2.0 block's header");
    let goerli = evm_header("clique_goerli_block_1798342.hex");
    let anvil_path = evm_data("anvil_gateway_proof.json");
    let anvil: Value = serde_json::from_str(
        &std::fs::read_to_string(&anvil_path)
            .unwrap_or_else(|e| panic!("{}: {e}", anvil_path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", anvil_path.display()));
    let anvil_block = anvil_header(&anvil["eth_getBlockByNumber"]);
    for (consensus, header) in [(EvmConsensus::Qbft, &qbft), (EvmConsensus::Ibft2, &ibft2)] {
        let own = consensus
            .header_validators(header)
            .expect("BFT extraData")
            .expect("a BFT header lists its validators");
        verify_header(consensus, header, &own).expect("a real BFT header verifies");
    }
    assert!(
        BftExtraData::decode(BftVariant::Qbft, &qbft_sealless.extra_data)
            .expect("QBFT extraData")
            .seals
            .is_empty()
    );
    c.evm_header("qbft-besu-7528", &qbft);
    c.evm_header("qbft-besu-7528-sealless", &qbft_sealless);
    c.evm_header("ibft2-5618555", &ibft2);
    c.evm_header("clique-goerli-1798342", &goerli);
    c.evm_header("anvil-1-sealless", &anvil_block);
    for (label, variant, header) in [
        ("qbft-besu-7528-extra", BftVariant::Qbft, &qbft),
        ("ibft2-5618555-extra", BftVariant::Ibft2, &ibft2),
    ] {
        let extra = BftExtraData::decode(variant, &header.extra_data).expect("BFT extraData");
        assert_eq!(extra.encode(), header.extra_data, "{label}");
        c.put_raw("decode_evm_header", label, &header.extra_data);
    }

    let bft_keys = evm_keys("fuzz-evm-bft", 5);
    let set4: Vec<Address> = bft_keys[..4].iter().map(SigningKey::address).collect();
    let set5: Vec<Address> = bft_keys.iter().map(SigningKey::address).collect();
    let newcomer = bft_keys[4].address();
    let three: Vec<&SigningKey> = bft_keys[..3].iter().collect();
    for (name, consensus, variant, template) in [
        ("qbft", EvmConsensus::Qbft, BftVariant::Qbft, &qbft),
        ("ibft2", EvmConsensus::Ibft2, BftVariant::Ibft2, &ibft2),
    ] {
        for (what, authorize, recipient) in [("add", true, newcomer), ("drop", false, set4[3])] {
            let label = format!("{name}-vote-{what}");
            let vote = Some(ValidatorVote {
                recipient,
                authorize,
            });
            let parent = qbft.parent_hash;
            let header = bft_header(template, variant, 42, parent, &set4, vote, 3, &three);
            let verdict =
                verify_header(consensus, &header, &set4).expect("own BFT header verifies");
            assert_eq!(verdict.signers.len(), 3, "{label}");
            c.evm_header(&label, &header);
        }
    }
    let qbft_genesis = bft_header(
        &qbft,
        BftVariant::Qbft,
        0,
        Hash32::ZERO,
        &set4,
        None,
        0,
        &[],
    );
    c.evm_header("qbft-genesis-sealless", &qbft_genesis);

    let clique_keys = evm_keys("fuzz-evm-clique", 3);
    let signers: Vec<Address> = clique_keys.iter().map(SigningKey::address).collect();
    // 1,800,000 is a checkpoint of the default epoch (30,000): it lists the signers.
    let checkpoint = 1_800_000;
    let in_turn = |n: u64| &clique_keys[(n % 3) as usize];
    let clique_cp = clique_header(
        &goerli,
        checkpoint,
        goerli.hash(),
        &signers,
        None,
        &signers,
        in_turn(checkpoint),
    );
    let verdict =
        verify_header(EvmConsensus::CLIQUE, &clique_cp, &signers).expect("Clique checkpoint");
    assert_eq!(verdict.next_validators.as_deref(), Some(&signers[..]));
    c.evm_header("clique-checkpoint", &clique_cp);
    let clique_1 = clique_header(
        &goerli,
        checkpoint + 1,
        clique_cp.hash(),
        &[],
        None,
        &signers,
        in_turn(checkpoint + 1),
    );
    // Out of turn (difficulty 1), voting to add the BFT newcomer.
    let clique_2 = clique_header(
        &goerli,
        checkpoint + 2,
        clique_1.hash(),
        &[],
        Some(newcomer),
        &signers,
        in_turn(checkpoint),
    );
    let verdict = verify_header(EvmConsensus::CLIQUE, &clique_2, &signers).expect("Clique vote");
    assert_eq!(verdict.in_turn, Some(false));
    assert!(verdict
        .vote
        .is_some_and(|v| v.authorize && v.subject == newcomer));
    c.evm_header("clique-vote-out-of-turn", &clique_2);

    // EVM client states, one per finality mode: QBFT and IBFT 2.0 anchored at the real
    // blocks, and after updates through headers sealed here (IBFT 2.0 adding a validator by
    // vote); Clique from a checkpoint and two blocks; attestation mode (committee of 4,
    // quorum 3) after the attested anvil block, and frozen by a conflicting attestation.
    let gateway = Address::from_hex(anvil["gateway"].as_str().expect("gateway")).expect("gateway");
    for (label, mode, header) in [
        ("qbft-besu-7528", FinalityMode::Qbft, &qbft),
        ("ibft2-5618555", FinalityMode::Ibft2, &ibft2),
    ] {
        let client = EvmClientState::from_header(id(label), mode, header, gateway)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        c.put("decode_evm_client_state", label, &client);
    }
    {
        let genesis = &qbft_genesis;
        let mut client =
            EvmClientState::from_header(id("besu-qbft"), FinalityMode::Qbft, genesis, gateway)
                .expect("QBFT client");
        let mut headers: Vec<EvmHeader> = Vec::new();
        for n in 1..=3u64 {
            let parent = bft_hash(BftVariant::Qbft, headers.last().unwrap_or(genesis));
            let sealers: Vec<&SigningKey> =
                bft_keys[..4].iter().skip(n as usize % 2).take(3).collect();
            headers.push(bft_header(
                &qbft,
                BftVariant::Qbft,
                n,
                parent,
                &set4,
                None,
                0,
                &sealers,
            ));
        }
        assert_eq!(client.update(&EvmUpdate::Headers(headers)), Ok(3));
        c.put("decode_evm_client_state", "qbft-h3", &client);
    }
    {
        let genesis = bft_header(
            &ibft2,
            BftVariant::Ibft2,
            0,
            Hash32::ZERO,
            &set4,
            None,
            0,
            &[],
        );
        let mut client =
            EvmClientState::from_header(id("besu-ibft2"), FinalityMode::Ibft2, &genesis, gateway)
                .expect("IBFT 2.0 client");
        let vote = ValidatorVote {
            recipient: newcomer,
            authorize: true,
        };
        let h1 = bft_header(
            &ibft2,
            BftVariant::Ibft2,
            1,
            bft_hash(BftVariant::Ibft2, &genesis),
            &set4,
            Some(vote),
            0,
            &three,
        );
        let sealers: Vec<&SigningKey> = [0, 1, 2, 4].iter().map(|&i| &bft_keys[i]).collect();
        let h2 = bft_header(
            &ibft2,
            BftVariant::Ibft2,
            2,
            bft_hash(BftVariant::Ibft2, &h1),
            &set5,
            None,
            1,
            &sealers,
        );
        assert_eq!(client.update(&EvmUpdate::Headers(vec![h1, h2])), Ok(2));
        assert_eq!(client.validators().len(), 5);
        c.put("decode_evm_client_state", "ibft2-h2-added", &client);
    }
    {
        let mode = FinalityMode::Clique {
            epoch: DEFAULT_EPOCH,
        };
        let mut client = EvmClientState::from_header(id("goerli-like"), mode, &clique_cp, gateway)
            .expect("Clique client");
        assert_eq!(
            client.update(&EvmUpdate::Headers(vec![
                clique_1.clone(),
                clique_2.clone()
            ])),
            Ok(checkpoint + 2)
        );
        c.put("decode_evm_client_state", "clique-checkpoint-h2", &client);
    }
    let attesters = evm_keys("fuzz-attester", 4);
    let committee =
        Committee::new(attesters.iter().map(SigningKey::address).collect(), 3).expect("committee");
    let anvil_json = &anvil["eth_getBlockByNumber"];
    let anvil_attestation = Attestation {
        chain_id: id("anvil"),
        height: anvil_block.number,
        block_hash: anvil_block.hash(),
        state_root: anvil_block.state_root,
        time_ms: anvil_block.timestamp * 1000,
    };
    {
        let mut client = EvmClientState::new(
            id("anvil"),
            FinalityMode::Attestation(committee.clone()),
            vec![],
            gateway,
            0,
            EvmConsensusState {
                block_hash: Hash32(json32(&anvil_json["parentHash"])),
                state_root: Hash32([0x11; 32]),
                time_ms: 0,
            },
        )
        .expect("attestation client");
        let attested = Attested::sign(anvil_attestation.clone(), &attesters[..3]);
        assert_eq!(client.update(&EvmUpdate::Attested(attested)), Ok(1));
        c.put("decode_evm_client_state", "attestation-anvil-1", &client);
        let conflicting = Attestation {
            state_root: Hash32([7; 32]),
            ..anvil_attestation.clone()
        };
        assert_eq!(
            client.freeze_on_conflict(&Attested::sign(conflicting, &attesters[1..])),
            Ok(1)
        );
        assert!(client.is_frozen());
        c.put(
            "decode_evm_client_state",
            "attestation-anvil-1-frozen",
            &client,
        );
    }

    // EVM misbehaviour evidence against the clients `decode_evm_misbehaviour` judges
    // (src/evm_evidence.rs, four keys): QBFT and IBFT 2.0 forks of block 1 (two quorums of
    // three seals), a Clique block 1 sealed twice by one signer, two attestations of block 1
    // each by a quorum, and an attestation of block 0 unlike the block held. Each is checked
    // to freeze its client at its height.
    {
        let keys = ev::evidence_keys();
        let set = addresses(&keys);
        let [qbft_client, ibft2_client, clique_client, attested_client] = ev::clients();
        let mut seeds: Vec<(String, &EvmClientState, u64, EvmMisbehaviour)> = Vec::new();
        for (name, variant, client) in [
            ("qbft", BftVariant::Qbft, &qbft_client),
            ("ibft2", BftVariant::Ibft2, &ibft2_client),
        ] {
            let genesis = ev::bft_genesis(variant);
            let parent = bft_hash(variant, &genesis);
            let time = ev::GENESIS_TIME_S + 1;
            let a = kit::bft_header(variant, 1, parent, time, &set, None, &keys[..3]);
            let mut b = a.clone();
            b.state_root = Hash32([0xbb; 32]);
            bft_reseal(variant, &mut b, &keys[1..]);
            let fork = EvmMisbehaviour::Headers {
                first: Box::new(a),
                second: Box::new(b),
            };
            seeds.push((format!("{name}-fork"), client, 1, fork));
        }
        let genesis = ev::clique_genesis();
        let time = ev::GENESIS_TIME_S + 15;
        let one = kit::clique_header(
            1,
            genesis.hash(),
            time,
            ev::CLIQUE_EPOCH,
            &set,
            &set,
            &keys[1],
        );
        let mut other = one.clone();
        other.state_root = Hash32([0xcc; 32]);
        clique_reseal(&mut other, &keys[1]);
        let double = EvmMisbehaviour::Headers {
            first: Box::new(one),
            second: Box::new(other),
        };
        seeds.push(("clique-double-seal".into(), &clique_client, 1, double));
        let at = |height: u64, root: u8| Attestation {
            chain_id: ev::chain_id(),
            height,
            block_hash: Hash32([0x33; 32]),
            state_root: Hash32([root; 32]),
            time_ms: ev::HELD.time_ms + 1000 * height,
        };
        let pair = EvmMisbehaviour::Attestations {
            first: Attested::sign(at(1, 1), &keys[..3]),
            second: Attested::sign(at(1, 2), &keys[1..]),
        };
        seeds.push(("attestations-pair".into(), &attested_client, 1, pair));
        let conflict = EvmMisbehaviour::Conflict(Attested::sign(at(0, 1), &keys[1..]));
        seeds.push((
            "attestation-conflict-held".into(),
            &attested_client,
            0,
            conflict,
        ));
        for (label, client, height, evidence) in seeds {
            let mut frozen = client.clone();
            assert_eq!(
                frozen.freeze_on_misbehaviour(&evidence),
                Ok(height),
                "seed decode_evm_misbehaviour/{label}"
            );
            c.put("decode_evm_misbehaviour", &label, &evidence);
        }
    }

    // Attester-signature payloads as the mesh gossips them (PROTOCOL.md §10, §12.3): each
    // committee member's signature of the anvil block, and the shortest and longest chain
    // ids (170 and 233 bytes).
    for (i, key) in attesters.iter().enumerate() {
        c.attestation(
            &format!("anvil-1-attester{i}"),
            &anvil_attestation,
            &anvil_attestation.sign(key),
        );
    }
    for (label, chain, len) in [
        ("chain-id-min", "a".to_string(), 170),
        ("chain-id-max", "x".repeat(64), 233),
    ] {
        let attestation = Attestation {
            chain_id: id(&chain),
            ..anvil_attestation.clone()
        };
        let signature = attestation.sign(&attesters[0]);
        assert_eq!(
            payload::encode_payload(&attestation, &signature).len(),
            len,
            "{label}"
        );
        c.attestation(label, &attestation, &signature);
    }

    // Heartbeats as the mesh gossips them (PROTOCOL.md §10): a member serving every lane,
    // one stuck on a lane, one stuck on both lanes of two links, and the shortest and
    // longest chain ids.
    {
        use heartbeat::{Heartbeat, Lane};
        let lane = |a: &str, b: &str| Lane {
            source: id(a),
            destination: id(b),
        };
        let t = 1_764_000_000_000u64;
        c.heartbeat("serving", &Heartbeat::new(t, t, []), 0x11);
        c.heartbeat(
            "stuck-one",
            &Heartbeat::new(t + 1, t + 500, [lane("alpha", "beta")]),
            0x22,
        );
        c.heartbeat(
            "stuck-four",
            &Heartbeat::new(
                t + 2,
                t + 1_000,
                [
                    lane("alpha", "beta"),
                    lane("beta", "alpha"),
                    lane("alpha", "anvil"),
                    lane("anvil", "alpha"),
                ],
            ),
            0x33,
        );
        let long = "x".repeat(64);
        c.heartbeat(
            "chain-id-min-max",
            &Heartbeat::new(u64::MAX, u64::MAX, [lane("a", &long), lane(&long, "a")]),
            0xff,
        );
    }

    // Merkle-Patricia proofs (`eth_getProof` node lists): anvil's answer (the gateway
    // account against the block's state root, every storage slot against the account's
    // storage root, a never-written slot), keys next to them that the same nodes show
    // absent, the empty trie, and tries built here for a leaf at the root, an extension with
    // embedded nodes and 64 keys. Mode 0 gives the root; mode 1 seeds take it from the first
    // node (the target's bit 0), so mutations of that node still reach the node decoding.
    {
        let proof = &anvil["eth_getProof"];
        let state_root = anvil_block.state_root.0;
        let nodes = |v: &Value| -> Vec<Vec<u8>> {
            v.as_array()
                .expect("node list")
                .iter()
                .map(json_bytes)
                .collect()
        };
        let account_proof = nodes(&proof["accountProof"]);
        let account_key = mpt::keccak256(&gateway.0);
        let account = mpt::verify_account(&state_root, &gateway.0, &account_proof)
            .expect("account proof")
            .expect("the gateway exists");
        let leaf = verify_proof(&state_root, &account_key, &account_proof)
            .expect("account proof")
            .expect("account leaf")
            .to_vec();
        c.mpt(
            "anvil-account",
            0,
            &account_key,
            &state_root,
            &account_proof,
            Some(&leaf),
        );
        c.mpt(
            "anvil-account-m1",
            1,
            &account_key,
            &[0; 32],
            &account_proof,
            Some(&leaf),
        );
        for (k, key) in absent_neighbours(&state_root, &account_key, &account_proof) {
            c.mpt(
                &format!("anvil-account-out-{k}nodes"),
                0,
                &key,
                &state_root,
                &account_proof[..k],
                None,
            );
        }

        let storage_root = account.storage_root;
        assert_eq!(storage_root, json32(&proof["storageHash"]));
        let mut rebuilt = Vec::new();
        for (i, entry) in proof["storageProof"]
            .as_array()
            .expect("storage proofs")
            .iter()
            .enumerate()
        {
            let slot = json32(&entry["key"]);
            let key = mpt::keccak256(&slot);
            let nodes = nodes(&entry["proof"]);
            let word = json32(&entry["value"]);
            assert_eq!(mpt::verify_storage(&storage_root, &slot, &nodes), Ok(word));
            let stored = (word != [0; 32]).then(|| {
                let skip = word.iter().take_while(|b| **b == 0).count();
                rlp_string(&word[skip..])
            });
            c.mpt(
                &format!("anvil-slot{i}"),
                0,
                &key,
                &storage_root,
                &nodes,
                stored.as_deref(),
            );
            if let Some(stored) = stored {
                rebuilt.push((key, stored));
            }
            // Slot 1's path is branch, branch, leaf: absences at each of the three.
            if i == 1 {
                assert_eq!(nodes.len(), 3);
                for (k, other) in absent_neighbours(&storage_root, &key, &nodes) {
                    c.mpt(
                        &format!("anvil-slot{i}-out-{k}nodes"),
                        0,
                        &other,
                        &storage_root,
                        &nodes[..k],
                        None,
                    );
                }
            }
        }
        // The builder reproduces anvil's storage trie: same root, same nodes per slot.
        let trie = Mpt::new(rebuilt);
        assert_eq!(trie.root(), storage_root, "rebuilt storage root");
        for entry in proof["storageProof"].as_array().expect("storage proofs") {
            let key = mpt::keccak256(&json32(&entry["key"]));
            assert_eq!(
                trie.proof(&key),
                nodes(&entry["proof"]),
                "rebuilt storage proof"
            );
        }

        let key = [0x42; 32];
        c.mpt("empty-trie", 2, &key, &[0; 32], &[], None);
        c.mpt("empty-trie-node", 2, &key, &[0; 32], &[vec![0x80]], None);

        // One leaf: the root is a leaf node.
        let key = [0xab; 32];
        let trie = Mpt::new([(key, vec![0x2a])]);
        let mut other = key;
        other[31] ^= 1;
        c.mpt(
            "leaf-root-in",
            0,
            &key,
            &trie.root(),
            &trie.proof(&key),
            Some(&[0x2a]),
        );
        c.mpt(
            "leaf-root-in-m1",
            1,
            &key,
            &[0; 32],
            &trie.proof(&key),
            Some(&[0x2a]),
        );
        c.mpt(
            "leaf-root-out",
            0,
            &other,
            &trie.root(),
            &trie.proof(&other),
            None,
        );

        // Two keys differing in the last nibble under a 62-nibble extension (their branch
        // and leaves embedded in it), one more key beside them.
        let a = [0x11u8; 32];
        let mut b = a;
        b[31] = 0x1f;
        let mut c2 = [0x22u8; 32];
        c2[0] = 0x21;
        let trie = Mpt::new([(a, vec![1]), (b, vec![2]), (c2, vec![3])]);
        let root = trie.root();
        assert_eq!(
            trie.proof(&a).len(),
            2,
            "root branch, extension with embedded nodes"
        );
        let mut under = a;
        under[31] = 0x15;
        let beside = [0x12u8; 32];
        for (label, key, value) in [
            ("ext-embedded-a", a, Some(&[1u8][..])),
            ("ext-embedded-b", b, Some(&[2u8][..])),
            ("ext-embedded-c", c2, Some(&[3u8][..])),
            ("ext-embedded-out-branch", under, None),
            ("ext-embedded-out-ext", beside, None),
        ] {
            c.mpt(label, 0, &key, &root, &trie.proof(&key), value);
        }
        c.mpt(
            "ext-embedded-a-m1",
            1,
            &a,
            &[0; 32],
            &trie.proof(&a),
            Some(&[1]),
        );
        // An extension at the root: every key starts with the same two nibbles.
        let mut d = a;
        d[5] = 0x99;
        let trie = Mpt::new([(a, vec![1]), (d, vec![4])]);
        c.mpt(
            "ext-root-in",
            0,
            &d,
            &trie.root(),
            &trie.proof(&d),
            Some(&[4]),
        );

        // 64 hashed keys, storage-like values.
        let keys: Vec<[u8; 32]> = (0u32..64)
            .map(|i| mpt::keccak256(&i.to_be_bytes()))
            .collect();
        let trie = Mpt::new(
            keys.iter()
                .enumerate()
                .map(|(i, k)| (*k, rlp_string(&[i as u8 + 1]))),
        );
        let root = trie.root();
        c.mpt(
            "keys64-k0",
            0,
            &keys[0],
            &root,
            &trie.proof(&keys[0]),
            Some(&[1]),
        );
        c.mpt(
            "keys64-k63",
            0,
            &keys[63],
            &root,
            &trie.proof(&keys[63]),
            Some(&[64]),
        );
        let missing = mpt::keccak256(&1000u32.to_be_bytes());
        c.mpt(
            "keys64-out",
            0,
            &missing,
            &root,
            &trie.proof(&missing),
            None,
        );
    }

    println!("wrote {} seed inputs under {}", c.written, c.root.display());
}
