//! `MerklePatricia.sol` (through the test-only `MptHarness`) against the Rust verifier
//! (`xrelay_light_client::evm::mpt`, `evm::client::verify_path`) on a real anvil node: the
//! contract's verdict (the value or absence, the result code with the node it names and
//! the proof it is in, or a codec revert exactly where Rust cannot decode the proof) must be
//! the Rust one on
//!
//! - real `eth_getProof` answers of a deployed `Gateway` that sent messages (present and
//!   absent paths, wrong values, a wrong root, an absent account, an account without
//!   storage), and the recorded answer `light-clients/tests/data/evm/anvil_gateway_proof.json`;
//! - every single-bit alteration (bit 0, then bit 7) of every byte of such proofs, both as
//!   sent (the framing and the nodes) and re-hashed (the altered node's hash written into
//!   its parent up to a new state root, so the rules behind the hash check are reached);
//! - random tries built with `alloy-trie` (extensions, embedded nodes, malformed storage
//!   values and accounts), their proofs altered, plus the bounds and the empty trie.
//!
//! It also checks that a proof read inside a larger body leaves the reader after it, and
//! prints the gas of `checkGatewayPath` with its keccak floor (`-- --nocapture`).
//!
//! One anvil for the file (`$XRELAY_ANVIL`, else `$HOME/.cache/xrelay-tools/node_modules/.bin/anvil`),
//! on 127.0.0.1, stopped when the single test ends.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;

use alloy::primitives::{Address as EvmAddress, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::sol_types::SolInterface;
use alloy_trie::proof::ProofRetainer;
use alloy_trie::{HashBuilder, Nibbles};
use futures::stream::{self, StreamExt};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use xrelay_evm::create_client_args;
use xrelay_evm::gateway::{deploy_all, Gateway};
use xrelay_evm::light_client::BftLightClient;
use xrelay_evm::mpt::{encode_nodes, MptCode, MptVerdict, PathVerdict};
use xrelay_evm::mpt_harness::MptHarness::{self, MptHarnessErrors};
use xrelay_light_client::evm::client::{
    provable_slot, verify_path, EvmClientState, EvmConsensusState, EvmStorageProof, FinalityMode,
};
use xrelay_light_client::evm::mpt::{
    keccak256, verify_account, verify_proof, verify_storage, EMPTY_ROOT, MAX_NODE_LEN,
    MAX_PROOF_NODES,
};
use xrelay_light_client::testkit::{fixed_set, ChainSpec, TestChain};
use xrelay_light_client::{
    paths, sha256, Address, ChainId, Decode, Encode, Hash32, Message, TrustOptions,
};

type Harness = MptHarness::MptHarnessInstance<DynProvider>;

/// Calls in flight at once when comparing many bodies.
const IN_FLIGHT: usize = 16;

// ------------------------------------------------------------------ verdicts

/// What either side says of a gateway-path proof body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Rust cannot decode the `EvmStorageProof`; the contract reverts with a codec error.
    Undecodable,
    /// The proof was decoded and judged.
    Path(PathVerdict),
}

impl Seen {
    fn label(&self) -> String {
        match self {
            Seen::Undecodable => "malformed".into(),
            Seen::Path(p) => {
                let code = format!("{:?}", p.verdict.code);
                match (p.verdict.code, p.in_storage_proof) {
                    (MptCode::Valid | MptCode::GatewayAbsent | MptCode::ValueMismatch, _) => code,
                    (_, true) => format!("storage {code}"),
                    (_, false) => format!("account {code}"),
                }
            }
        }
    }
}

/// A codec revert (`UnexpectedEnd`, `TrailingBytes`, `TooLong`): the contract could not
/// decode its input. Anything else is a broken test.
fn undecodable(e: alloy::contract::Error) -> Seen {
    let data = e
        .as_revert_data()
        .unwrap_or_else(|| panic!("the call failed without reverting: {e}"));
    match MptHarnessErrors::abi_decode(&data) {
        Ok(_) => Seen::Undecodable,
        Err(_) => panic!("the call reverted with an unknown error: {data}"),
    }
}

fn b256(h: &[u8; 32]) -> B256 {
    B256::from(*h)
}

fn index_of(v: U256) -> u64 {
    v.try_into().expect("a node index fits in 64 bits")
}

// ------------------------------------------------------------------ gateway paths

/// A gateway-path claim with its proof: what `verify_path` and `checkGatewayPath` judge.
#[derive(Debug, Clone)]
struct PathCase {
    what: String,
    state_root: [u8; 32],
    gateway: [u8; 20],
    path: Vec<u8>,
    value: Option<Vec<u8>>,
    proof: EvmStorageProof,
}

/// The height the Rust client holds its one consensus state at.
const HEIGHT: u64 = 1;

impl PathCase {
    fn claim(&self) -> MptHarness::Claim {
        MptHarness::Claim {
            stateRoot: b256(&self.state_root),
            gateway: EvmAddress::from(self.gateway),
            pathHash: b256(&sha256(&self.path).0),
            membership: self.value.is_some(),
            valueHash: b256(&self.value.as_deref().map_or(Hash32::ZERO, sha256).0),
        }
    }

    /// The Rust client's verdict on the proof encoded as `body`.
    fn rust(&self, body: &[u8]) -> Seen {
        let Ok(proof) = EvmStorageProof::decode(body) else {
            return Seen::Undecodable;
        };
        let client = EvmClientState::new(
            ChainId::new("source").expect("chain id"),
            FinalityMode::Qbft,
            vec![Address([1; 20])],
            Address(self.gateway),
            HEIGHT,
            EvmConsensusState {
                block_hash: Hash32::ZERO,
                state_root: Hash32(self.state_root),
                time_ms: 0,
            },
        )
        .expect("client");
        let result = verify_path(&client, HEIGHT, &self.path, self.value.as_deref(), &proof);
        Seen::Path(PathVerdict::of(&result).expect("a proof verdict"))
    }

    fn with(&self, what: &str, change: impl FnOnce(&mut PathCase)) -> PathCase {
        let mut c = self.clone();
        c.what = format!("{}, {what}", self.what);
        change(&mut c);
        c
    }
}

/// The contract's verdict on `body` for `claim`.
async fn contract_path(h: &Harness, claim: MptHarness::Claim, body: Vec<u8>) -> Seen {
    match h.checkGatewayPath(claim, body.into()).call().await {
        Ok(r) => Seen::Path(
            PathVerdict::from_contract(r.code, r.inStorageProof, index_of(r.index))
                .unwrap_or_else(|| panic!("unknown result code {}", r.code)),
        ),
        Err(e) => undecodable(e),
    }
}

/// Both verdicts on the case's own proof must agree; returns the verdict.
async fn check_case(h: &Harness, case: &PathCase) -> Seen {
    let body = case.proof.encode();
    let rust = case.rust(&body);
    let contract = contract_path(h, case.claim(), body).await;
    assert_eq!(contract, rust, "{}", case.what);
    rust
}

/// Compares many (case, body) pairs, `IN_FLIGHT` calls at a time; returns how many of each
/// verdict were seen.
async fn compare_bodies(
    h: &Harness,
    bodies: Vec<(PathCase, Vec<u8>, String)>,
) -> BTreeMap<String, usize> {
    let mut verdicts = BTreeMap::new();
    let mut results = stream::iter(bodies)
        .map(|(case, body, what)| {
            let h = h.clone();
            async move {
                let rust = case.rust(&body);
                let contract = contract_path(&h, case.claim(), body).await;
                (rust, contract, what)
            }
        })
        .buffer_unordered(IN_FLIGHT);
    while let Some((rust, contract, what)) = results.next().await {
        assert_eq!(contract, rust, "{what}");
        *verdicts.entry(rust.label()).or_default() += 1;
    }
    verdicts
}

// ------------------------------------------------------------------ a real gateway

/// A deployed Gateway that sent messages, at the block after its last send.
struct RealGateway {
    gateway: [u8; 20],
    block: u64,
    state_root: [u8; 32],
    /// Paths the Gateway holds, with their values.
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// Paths it never wrote.
    absent: Vec<Vec<u8>>,
}

/// Messages sent to give the Gateway's storage trie a realistic depth.
const MESSAGES: u64 = 24;

async fn real_gateway(provider: &DynProvider) -> RealGateway {
    let evm = ChainId::new("evm").expect("chain id");
    let d = deploy_all(provider.clone(), &evm)
        .await
        .expect("deploy_all");
    let now_s = provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .expect("latest block")
        .expect("a block")
        .header
        .timestamp;
    // A client of `alpha`, so the Gateway accepts sends to it.
    let mut spec = ChainSpec::new("alpha", fixed_set(4, 10));
    spec.genesis_time_ms = (now_s - 3_600) * 1000;
    let alpha_chain = TestChain::new(spec, 1);
    let alpha = alpha_chain.chain_id().clone();
    let (state, options) =
        create_client_args(&alpha_chain.trusted_state(1), &TrustOptions::default());
    let receipt = BftLightClient::new(d.light_client, provider)
        .createClient(state, options)
        .send()
        .await
        .expect("createClient")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status());

    let gw = Gateway::new(d.gateway, provider);
    let alpha_bytes = Bytes::copy_from_slice(alpha.as_str().as_bytes());
    let mut entries = Vec::new();
    for i in 0..MESSAGES {
        let payload = vec![b'x'; (i as usize * 7) % 50 + 1];
        let receipt = gw
            .sendMessage(
                alpha_bytes.clone(),
                Bytes::from_static(b"echo"),
                0,
                now_s * 1000 + 86_400_000,
                payload.into(),
            )
            .send()
            .await
            .expect("sendMessage")
            .get_receipt()
            .await
            .expect("receipt");
        assert!(receipt.status());
        for log in receipt.inner.logs() {
            if let Ok(sent) = log.log_decode::<Gateway::Sent>() {
                let m = Message::decode(&sent.inner.data.message).expect("a canonical message");
                entries.push((
                    paths::commitment(&alpha, m.sequence),
                    m.commitment().0.to_vec(),
                ));
            }
        }
    }
    assert_eq!(entries.len() as u64, MESSAGES);
    entries.push((
        paths::next_send(&alpha),
        (MESSAGES + 1).to_be_bytes().to_vec(),
    ));
    // The values are the Gateway's own (provable[sha256(P)] = sha256(V)).
    for (path, value) in &entries {
        let stored = gw
            .provableAt(Bytes::copy_from_slice(path))
            .call()
            .await
            .expect("provableAt");
        assert_eq!(
            stored,
            b256(&sha256(value).0),
            "{}",
            String::from_utf8_lossy(path)
        );
    }
    let block = provider.get_block_number().await.expect("block number");
    let header = provider
        .get_block_by_number(block.into())
        .await
        .expect("block")
        .expect("the block")
        .header;
    RealGateway {
        gateway: d.gateway.into_array(),
        block,
        state_root: header.state_root.0,
        entries,
        absent: vec![
            paths::commitment(&alpha, MESSAGES + 1),
            paths::receipt(&alpha, 1),
            paths::next_receive(&alpha),
        ],
    }
}

/// `eth_getProof(account, [slot of each path], block)` as one `EvmStorageProof` per path;
/// the answer's account fields are checked against what Rust proves from it.
async fn get_proofs(
    provider: &DynProvider,
    account: [u8; 20],
    paths: &[Vec<u8>],
    block: u64,
    state_root: &[u8; 32],
) -> Vec<EvmStorageProof> {
    let slots: Vec<B256> = paths.iter().map(|p| b256(&provable_slot(p))).collect();
    let answer = provider
        .get_proof(EvmAddress::from(account), slots.clone())
        .block_id(block.into())
        .await
        .expect("eth_getProof");
    let account_proof: Vec<Vec<u8>> = answer.account_proof.iter().map(|n| n.to_vec()).collect();
    // The fields eth_getProof reports are the ones its proof shows.
    if let Some(a) = verify_account(state_root, &account, &account_proof).expect("account proof") {
        assert_eq!(a.storage_root, answer.storage_hash.0);
        assert_eq!(a.code_hash, answer.code_hash.0);
        assert_eq!(a.nonce, answer.nonce);
        assert_eq!(U256::from_be_bytes(a.balance), answer.balance);
    }
    assert_eq!(answer.storage_proof.len(), paths.len());
    answer
        .storage_proof
        .iter()
        .zip(&slots)
        .map(|(sp, slot)| {
            assert_eq!(sp.key.as_b256(), *slot);
            EvmStorageProof {
                account_proof: account_proof.clone(),
                storage_proof: sp.proof.iter().map(|n| n.to_vec()).collect(),
            }
        })
        .collect()
}

/// The gateway-path cases of a real Gateway: every path it holds and a few it never wrote,
/// claimed rightly and wrongly, under a wrong root, with another path's proof; an absent
/// account; an account without storage. Returns them, every one already compared.
async fn real_proofs(h: &Harness, provider: &DynProvider, real: &RealGateway) -> Vec<PathCase> {
    let mut paths: Vec<Vec<u8>> = real.entries.iter().map(|(p, _)| p.clone()).collect();
    paths.extend(real.absent.iter().cloned());
    let proofs = get_proofs(provider, real.gateway, &paths, real.block, &real.state_root).await;
    let mut cases = Vec::new();
    for (i, (path, proof)) in paths.iter().zip(&proofs).enumerate() {
        let value = real.entries.get(i).map(|(_, v)| v.clone());
        let base = PathCase {
            what: format!("gateway path {}", String::from_utf8_lossy(path)),
            state_root: real.state_root,
            gateway: real.gateway,
            path: path.clone(),
            value: value.clone(),
            proof: proof.clone(),
        };
        assert_eq!(check_case(h, &base).await.label(), "Valid", "{}", base.what);
        cases.push(base.clone());
        let wrong = vec![
            base.with("claimed absent", |c| {
                c.value = if value.is_some() {
                    None
                } else {
                    Some(b"v".to_vec())
                }
            }),
            base.with("another value", |c| {
                c.value = Some(b"another value".to_vec())
            }),
            base.with("another root", |c| c.state_root[31] ^= 1),
            base.with("another gateway", |c| c.gateway[19] ^= 1),
            base.with("another path's proof", |c| {
                c.proof = proofs[(i + 1) % proofs.len()].clone()
            }),
        ];
        for case in wrong {
            assert_ne!(check_case(h, &case).await.label(), "Valid", "{}", case.what);
            cases.push(case);
        }
    }

    // An account that does not exist, and one without storage (an externally owned one).
    let nobody = [0xde; 20];
    let eoa = EvmAddress::from([0x5a; 20]);
    let _: Value = provider
        .raw_request(
            "anvil_setBalance".into(),
            (eoa, U256::from(1_000_000_000u64)),
        )
        .await
        .expect("anvil_setBalance");
    let _: Value = provider
        .raw_request("evm_mine".into(), ())
        .await
        .expect("evm_mine");
    let block = provider.get_block_number().await.expect("block number");
    let state_root = provider
        .get_block_by_number(block.into())
        .await
        .expect("block")
        .expect("the block")
        .header
        .state_root
        .0;
    for (account, expect) in [(nobody, "GatewayAbsent"), (eoa.into_array(), "Valid")] {
        let proofs = get_proofs(provider, account, &paths[..1], block, &state_root).await;
        let case = PathCase {
            what: format!("account {}", hex::encode(account)),
            state_root,
            gateway: account,
            path: paths[0].clone(),
            value: None,
            proof: proofs[0].clone(),
        };
        assert_eq!(check_case(h, &case).await.label(), expect, "{}", case.what);
        let claimed = case.with("claimed present", |c| c.value = Some(b"v".to_vec()));
        check_case(h, &claimed).await;
        cases.push(case);
        cases.push(claimed);
    }
    println!(
        "real gateway: {} paths, account proof of {} nodes, storage proofs of {:?} nodes; {} cases agree",
        paths.len(),
        proofs[0].account_proof.len(),
        proofs.iter().map(|p| p.storage_proof.len()).collect::<Vec<_>>(),
        cases.len()
    );
    cases
}

// ------------------------------------------------------------------ the recorded answer

fn hex32(v: &Value) -> [u8; 32] {
    let s = v.as_str().expect("hex string").trim_start_matches("0x");
    let padded = format!("{s:0>64}");
    let mut out = [0u8; 32];
    hex::decode_to_slice(padded, &mut out).expect("32-byte hex");
    out
}

fn hex_nodes(v: &Value) -> Vec<Vec<u8>> {
    v.as_array()
        .expect("node list")
        .iter()
        .map(|n| hex::decode(n.as_str().expect("hex").trim_start_matches("0x")).expect("hex"))
        .collect()
}

/// `anvil_gateway_proof.json`: its paths present with their values and its never-written
/// path absent through `checkGatewayPath`; every slot (the plain ones too) through
/// `verifyStorage`; the account through `verifyAccount`.
async fn recorded_answer(h: &Harness) -> Vec<PathCase> {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../light-clients/tests/data/evm/anvil_gateway_proof.json"
    );
    let answer: Value =
        serde_json::from_str(&std::fs::read_to_string(file).expect("recorded answer"))
            .expect("JSON");
    let state_root = hex32(&answer["eth_getBlockByNumber"]["stateRoot"]);
    let proof = &answer["eth_getProof"];
    let mut gateway = [0u8; 20];
    hex::decode_to_slice(
        answer["gateway"]
            .as_str()
            .expect("gateway")
            .trim_start_matches("0x"),
        &mut gateway,
    )
    .expect("address");
    let account_proof = hex_nodes(&proof["accountProof"]);
    compare_account(h, &state_root, &gateway, &account_proof, "recorded account").await;
    let storage_root = hex32(&proof["storageHash"]);
    let by_slot: BTreeMap<[u8; 32], Vec<Vec<u8>>> = proof["storageProof"]
        .as_array()
        .expect("storage proofs")
        .iter()
        .map(|e| (hex32(&e["key"]), hex_nodes(&e["proof"])))
        .collect();
    for (slot, nodes) in &by_slot {
        compare_storage(h, &storage_root, slot, nodes, "recorded slot").await;
    }
    let mut cases = Vec::new();
    let claims = answer["writes"]
        .as_array()
        .expect("writes")
        .iter()
        .filter(|w| w.get("path").is_some())
        .map(|w| {
            let v = w["value"].as_str().expect("value").trim_start_matches("0x");
            (w["path"].clone(), Some(hex::decode(v).expect("hex")))
        })
        .chain([(answer["absent"]["path"].clone(), None)]);
    for (path, value) in claims {
        let path = path.as_str().expect("path").as_bytes().to_vec();
        let case = PathCase {
            what: format!("recorded path {}", String::from_utf8_lossy(&path)),
            state_root,
            gateway,
            proof: EvmStorageProof {
                account_proof: account_proof.clone(),
                storage_proof: by_slot[&provable_slot(&path)].clone(),
            },
            path,
            value,
        };
        assert_eq!(check_case(h, &case).await.label(), "Valid", "{}", case.what);
        cases.push(case);
    }
    println!(
        "recorded answer: {} slots and the account agree, {} paths proven",
        by_slot.len(),
        cases.len()
    );
    cases
}

// ------------------------------------------------------------------ node lists

/// `verifyProof` and Rust's `verify_proof` agree on (root, key, nodes); returns the verdict
/// (`Valid` with the value, or the refusal).
async fn compare_proof<N: AsRef<[u8]>>(
    h: &Harness,
    root: &[u8; 32],
    key: &[u8; 32],
    nodes: &[N],
    what: &str,
) -> (MptVerdict, Option<Vec<u8>>) {
    let rust = match verify_proof(root, key, nodes) {
        Ok(v) => (
            MptVerdict {
                code: MptCode::Valid,
                index: None,
            },
            v.map(<[u8]>::to_vec),
        ),
        Err(e) => ((&e).into(), None),
    };
    let r = h
        .verifyProof(b256(root), b256(key), encode_nodes(nodes).into())
        .call()
        .await
        .unwrap_or_else(|e| panic!("{what}: verifyProof failed: {e}"));
    let contract = (
        MptVerdict::from_contract(r.code, index_of(r.index)).expect("a known code"),
        r.found.then(|| r.value.to_vec()),
    );
    assert_eq!(contract, rust, "{what}: key {}", hex::encode(key));
    rust
}

/// `verifyStorage` and Rust's `verify_storage` agree.
async fn compare_storage<N: AsRef<[u8]>>(
    h: &Harness,
    root: &[u8; 32],
    slot: &[u8; 32],
    nodes: &[N],
    what: &str,
) -> MptVerdict {
    let rust = verify_storage(root, slot, nodes);
    let r = h
        .verifyStorage(b256(root), b256(slot), encode_nodes(nodes).into())
        .call()
        .await
        .unwrap_or_else(|e| panic!("{what}: verifyStorage failed: {e}"));
    let verdict = MptVerdict::from_contract(r.code, index_of(r.index)).expect("a known code");
    match &rust {
        Ok(value) => {
            assert_eq!(verdict.code, MptCode::Valid, "{what}: {rust:?}");
            assert_eq!(r.value.0, *value, "{what}");
        }
        Err(e) => assert_eq!(verdict, e.into(), "{what}"),
    }
    verdict
}

/// `verifyAccount` and Rust's `verify_account` agree (existence and every field).
async fn compare_account<N: AsRef<[u8]>>(
    h: &Harness,
    root: &[u8; 32],
    account: &[u8; 20],
    nodes: &[N],
    what: &str,
) -> MptVerdict {
    let rust = verify_account(root, account, nodes);
    let r = h
        .verifyAccount(
            b256(root),
            EvmAddress::from(*account),
            encode_nodes(nodes).into(),
        )
        .call()
        .await
        .unwrap_or_else(|e| panic!("{what}: verifyAccount failed: {e}"));
    let verdict = MptVerdict::from_contract(r.code, index_of(r.index)).expect("a known code");
    match &rust {
        Ok(found) => {
            assert_eq!(verdict.code, MptCode::Valid, "{what}: {rust:?}");
            assert_eq!(r.found, found.is_some(), "{what}");
            if let Some(a) = found {
                assert_eq!(r.fields.nonce, a.nonce, "{what}");
                assert_eq!(r.fields.balance, U256::from_be_bytes(a.balance), "{what}");
                assert_eq!(r.fields.storageRoot.0, a.storage_root, "{what}");
                assert_eq!(r.fields.codeHash.0, a.code_hash, "{what}");
            }
        }
        Err(e) => assert_eq!(verdict, e.into(), "{what}"),
    }
    verdict
}

// ------------------------------------------------------------------ altered proofs

/// `nodes` with node `index` replaced by `node` and every reference above it rewritten to
/// the new hashes; returns the new root, `None` if a parent does not hold the old hash.
fn lift(nodes: &mut [Vec<u8>], index: usize, node: Vec<u8>) -> Option<[u8; 32]> {
    let mut old = keccak256(&nodes[index]);
    nodes[index] = node;
    let mut new = keccak256(&nodes[index]);
    for parent in (0..index).rev() {
        let parent_old = keccak256(&nodes[parent]);
        replace_hash(&mut nodes[parent], &old, &new)?;
        old = parent_old;
        new = keccak256(&nodes[parent]);
    }
    Some(new)
}

fn replace_hash(node: &mut [u8], old: &[u8; 32], new: &[u8; 32]) -> Option<()> {
    let at = node.windows(32).position(|w| w == old)?;
    node[at..at + 32].copy_from_slice(new);
    Some(())
}

/// The case with byte `at` of node `index` (of the storage proof if `storage`, else of the
/// account proof) xor `mask`, re-hashed up to a new state root (through the account's
/// storage root for a storage node). `None` where the chain cannot be rewritten.
fn rehashed(case: &PathCase, storage: bool, index: usize, at: usize, mask: u8) -> Option<PathCase> {
    let mut c = case.clone();
    c.what = format!(
        "{}, {} node {index} byte {at} ^ {mask:#04x}, re-hashed",
        case.what,
        if storage { "storage" } else { "account" }
    );
    let mut account = c.proof.account_proof.clone();
    let last = account.len().checked_sub(1)?;
    let mut new_leaf = account[last].clone();
    if storage {
        let old_root = keccak256(c.proof.storage_proof.first()?);
        let mut node = c.proof.storage_proof[index].clone();
        node[at] ^= mask;
        let new_root = lift(&mut c.proof.storage_proof, index, node)?;
        replace_hash(&mut new_leaf, &old_root, &new_root)?;
    } else if index == last {
        new_leaf[at] ^= mask;
    } else {
        let mut node = account[index].clone();
        node[at] ^= mask;
        c.state_root = lift(&mut account, index, node)?;
        c.proof.account_proof = account;
        return Some(c);
    }
    c.state_root = lift(&mut account, last, new_leaf)?;
    c.proof.account_proof = account;
    Some(c)
}

/// Every byte of each case's proof body flipped (bit 0, then bit 7), as sent and re-hashed.
async fn every_byte_flipped(h: &Harness, cases: &[PathCase]) {
    let mut plain = Vec::new();
    let mut deep = Vec::new();
    for case in cases {
        let body = case.proof.encode();
        for at in 0..body.len() {
            for mask in [0x01u8, 0x80] {
                let mut flipped = body.clone();
                flipped[at] ^= mask;
                let what = format!("{}, body byte {at} ^ {mask:#04x}", case.what);
                plain.push((case.clone(), flipped, what));
            }
        }
        for (storage, list) in [
            (false, &case.proof.account_proof),
            (true, &case.proof.storage_proof),
        ] {
            for (index, node) in list.iter().enumerate() {
                for at in 0..node.len() {
                    for mask in [0x01u8, 0x80] {
                        if let Some(c) = rehashed(case, storage, index, at, mask) {
                            let body = c.proof.encode();
                            let what = c.what.clone();
                            deep.push((c, body, what));
                        }
                    }
                }
            }
        }
    }
    let (n_plain, n_deep) = (plain.len(), deep.len());
    let plain = compare_bodies(h, plain).await;
    println!(
        "every proof byte flipped: {n_plain} bodies, contract verdict = Rust verdict: {plain:?}"
    );
    let deep = compare_bodies(h, deep).await;
    println!(
        "every node byte flipped and re-hashed: {n_deep} bodies, contract verdict = Rust verdict: {deep:?}"
    );
}

// ------------------------------------------------------------------ generated tries

/// A trie built by alloy-trie, with `eth_getProof`-style proofs of `targets` (root first,
/// nodes embedded in their parent left out).
struct Trie {
    root: [u8; 32],
    proofs: BTreeMap<[u8; 32], Vec<Vec<u8>>>,
}

impl Trie {
    fn build(entries: &BTreeMap<[u8; 32], Vec<u8>>, targets: &[[u8; 32]]) -> Trie {
        let retainer = ProofRetainer::from_iter(targets.iter().map(Nibbles::unpack));
        let mut builder = HashBuilder::default().with_proof_retainer(retainer);
        for (k, v) in entries {
            builder.add_leaf(Nibbles::unpack(k), v);
        }
        let root = builder.root().0;
        let nodes = builder.take_proof_nodes();
        let proofs = targets
            .iter()
            .map(|t| {
                let proof = nodes
                    .matching_nodes_sorted(&Nibbles::unpack(t))
                    .into_iter()
                    .enumerate()
                    .filter(|(i, (_, n))| *i == 0 || n.len() >= 32)
                    .map(|(_, (_, n))| n.to_vec())
                    .collect();
                (*t, proof)
            })
            .collect();
        Trie { root, proofs }
    }
}

/// `tail` with its first `shared` nibbles taken from `base`: keys sharing prefixes of every
/// length give extensions, deep leaves and (with short values) embedded nodes.
fn splice(base: &[u8; 32], shared: usize, tail: &[u8; 32]) -> [u8; 32] {
    let mut out = *tail;
    for i in 0..shared {
        let mask = if i % 2 == 0 { 0xf0 } else { 0x0f };
        out[i / 2] = (out[i / 2] & !mask) | (base[i / 2] & mask);
    }
    out
}

fn rlp_string(bytes: &[u8]) -> Vec<u8> {
    match bytes {
        [b] if *b < 0x80 => vec![*b],
        _ => rlp_prefixed(0x80, bytes),
    }
}

fn rlp_list(items: &[Vec<u8>]) -> Vec<u8> {
    rlp_prefixed(0xc0, &items.concat())
}

fn rlp_prefixed(base: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut out = if len < 56 {
        vec![base + len as u8]
    } else {
        let be = len.to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count();
        let mut v = vec![base + 55 + (be.len() - skip) as u8];
        v.extend_from_slice(&be[skip..]);
        v
    };
    out.extend_from_slice(payload);
    out
}

/// One generated structure case: a trie of spliced keys, proofs of present and absent keys,
/// and each proof altered (a node byte re-hashed, a node dropped, a node repeated, the
/// proof used for another key).
#[derive(Debug, Clone)]
struct ShapeCase {
    base: [u8; 32],
    entries: Vec<(usize, [u8; 32], Vec<u8>)>,
    absent: Vec<(usize, [u8; 32])>,
    flip: (usize, usize, u8),
}

fn shape_strategy() -> impl Strategy<Value = ShapeCase> {
    let shared = || prop_oneof![0usize..4, 0usize..64, 48usize..64];
    let value = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..4),
        prop::collection::vec(any::<u8>(), 1..80)
    ];
    (
        any::<[u8; 32]>(),
        prop::collection::vec((shared(), any::<[u8; 32]>(), value), 1..24),
        prop::collection::vec((shared(), any::<[u8; 32]>()), 1..3),
        (any::<usize>(), any::<usize>(), 0u8..8),
    )
        .prop_map(|(base, entries, absent, flip)| ShapeCase {
            base,
            entries,
            absent,
            flip,
        })
}

async fn shape_case(h: &Harness, case: &ShapeCase, seen: &mut BTreeMap<String, usize>) {
    let entries: BTreeMap<[u8; 32], Vec<u8>> = case
        .entries
        .iter()
        .map(|(s, tail, v)| (splice(&case.base, *s, tail), v.clone()))
        .collect();
    let mut targets: Vec<[u8; 32]> = entries.keys().take(3).copied().collect();
    targets.extend(case.absent.iter().map(|(s, t)| splice(&case.base, *s, t)));
    let trie = Trie::build(&entries, &targets);
    for (i, key) in targets.iter().enumerate() {
        let proof = &trie.proofs[key];
        let (verdict, value) = compare_proof(h, &trie.root, key, proof, "generated").await;
        assert_eq!(verdict.code, MptCode::Valid, "a built proof verifies");
        assert_eq!(value.as_ref(), entries.get(key), "the built value");
        let mut record = |v: MptVerdict| *seen.entry(format!("{:?}", v.code)).or_default() += 1;
        record(verdict);
        let (node_pick, byte_pick, bit) = case.flip;
        let index = node_pick % proof.len();
        let at = byte_pick % proof[index].len();
        let mut altered = proof.clone();
        let mut node = altered[index].clone();
        node[at] ^= 1 << bit;
        if let Some(root) = lift(&mut altered, index, node) {
            record(compare_proof(h, &root, key, &altered, "re-hashed").await.0);
        }
        let mut dropped = proof.clone();
        dropped.remove(index);
        record(
            compare_proof(h, &trie.root, key, &dropped, "dropped")
                .await
                .0,
        );
        let mut repeated = proof.clone();
        repeated.push(proof[index].clone());
        record(
            compare_proof(h, &trie.root, key, &repeated, "repeated")
                .await
                .0,
        );
        let other = &targets[(i + 1) % targets.len()];
        record(
            compare_proof(h, &trie.root, other, proof, "other key")
                .await
                .0,
        );
    }
}

/// One generated leaf case: a storage trie (keys `keccak(slot)`) and a state trie (keys
/// `keccak(address)`) whose leaves are canonical or slightly broken, proven by slot and by
/// address through `verifyStorage` and `verifyAccount`.
#[derive(Debug, Clone)]
struct LeafCase {
    slots: Vec<([u8; 32], Vec<u8>, bool)>,
    accounts: Vec<([u8; 20], AccountFields)>,
}

#[derive(Debug, Clone)]
struct AccountFields {
    nonce: Vec<u8>,
    balance: Vec<u8>,
    storage_root: Vec<u8>,
    code_hash: Vec<u8>,
    extra: Option<Vec<u8>>,
}

impl AccountFields {
    fn rlp(&self) -> Vec<u8> {
        let mut items = vec![
            rlp_string(&self.nonce),
            rlp_string(&self.balance),
            rlp_string(&self.storage_root),
            rlp_string(&self.code_hash),
        ];
        items.extend(self.extra.iter().map(|e| rlp_string(e)));
        rlp_list(&items)
    }
}

fn leaf_strategy() -> impl Strategy<Value = LeafCase> {
    // Integers: mostly canonical (leading zeros stripped, at most 8 / 32 bytes), sometimes not.
    let int = |max: usize| {
        prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..=max).prop_map(|v| {
                v.into_iter().skip_while(|b| *b == 0).collect::<Vec<u8>>()
            }),
            1 => prop::collection::vec(any::<u8>(), 0..=max + 2),
        ]
    };
    let hash = prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 32..=32),
        1 => prop::collection::vec(any::<u8>(), 30..=34),
    ];
    let fields = (
        int(8),
        int(32),
        hash.clone(),
        hash,
        prop::option::weighted(0.1, prop::collection::vec(any::<u8>(), 0..3)),
    )
        .prop_map(
            |(nonce, balance, storage_root, code_hash, extra)| AccountFields {
                nonce,
                balance,
                storage_root,
                code_hash,
                extra,
            },
        );
    (
        prop::collection::vec(
            (
                any::<[u8; 32]>(),
                prop::collection::vec(any::<u8>(), 0..34),
                any::<bool>(),
            ),
            1..12,
        ),
        prop::collection::vec((any::<[u8; 20]>(), fields), 1..8),
    )
        .prop_map(|(slots, accounts)| LeafCase { slots, accounts })
}

async fn leaf_case(h: &Harness, case: &LeafCase, seen: &mut BTreeMap<String, usize>) {
    // Storage: a canonical value is the RLP string of a non-zero integer, the rest raw bytes.
    let mut entries = BTreeMap::new();
    for (slot, bytes, canonical) in &case.slots {
        let stored = if *canonical {
            let int: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
            rlp_string(if int.is_empty() { &[1] } else { &int[..] })
        } else if bytes.is_empty() {
            vec![0x80]
        } else {
            bytes.clone()
        };
        entries.insert(keccak256(slot), stored);
    }
    let slots: Vec<[u8; 32]> = case.slots.iter().map(|(s, _, _)| *s).collect();
    let absent_slot = [0xee; 32];
    let mut targets: Vec<[u8; 32]> = slots.iter().map(|s| keccak256(s)).collect();
    targets.push(keccak256(&absent_slot));
    let trie = Trie::build(&entries, &targets);
    for slot in slots.iter().chain([&absent_slot]) {
        let v = compare_storage(
            h,
            &trie.root,
            slot,
            &trie.proofs[&keccak256(slot)],
            "storage",
        )
        .await;
        *seen.entry(format!("storage {:?}", v.code)).or_default() += 1;
    }

    let entries: BTreeMap<[u8; 32], Vec<u8>> = case
        .accounts
        .iter()
        .map(|(a, f)| (keccak256(a), f.rlp()))
        .collect();
    let targets: Vec<[u8; 32]> = case.accounts.iter().map(|(a, _)| keccak256(a)).collect();
    let trie = Trie::build(&entries, &targets);
    for (address, _) in &case.accounts {
        let v = compare_account(
            h,
            &trie.root,
            address,
            &trie.proofs[&keccak256(address)],
            "account",
        )
        .await;
        *seen.entry(format!("account {:?}", v.code)).or_default() += 1;
    }
}

/// Generated tries, bounded so the file runs in well under a minute.
async fn generated_tries(h: &Harness) {
    let handle = tokio::runtime::Handle::current();
    let shapes = RefCell::new(BTreeMap::new());
    let leaves = RefCell::new(BTreeMap::new());
    // Shrinking re-runs failing cases: their panics stay quiet while the runners run (each
    // catches them), and the smallest failing case is reported once the hook is back.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let (tries, leaf_values) = tokio::task::block_in_place(|| {
        let mut runner = TestRunner::new(Config {
            cases: 96,
            failure_persistence: None,
            ..Config::default()
        });
        let tries = runner.run(&shape_strategy(), |case| {
            handle.block_on(shape_case(h, &case, &mut shapes.borrow_mut()));
            Ok(())
        });
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        let leaf_values = runner.run(&leaf_strategy(), |case| {
            handle.block_on(leaf_case(h, &case, &mut leaves.borrow_mut()));
            Ok(())
        });
        (tries, leaf_values)
    });
    std::panic::set_hook(hook);
    tries.expect("generated tries agree");
    leaf_values.expect("generated leaves agree");
    println!(
        "generated tries: proofs and altered proofs agree: {:?}",
        shapes.into_inner()
    );
    println!(
        "generated leaves: storage values and accounts agree: {:?}",
        leaves.into_inner()
    );
}

/// The §12.1 bounds (as `verify_proof` results on a node list, as decoding errors in an
/// `EvmStorageProof`) and the empty trie.
async fn bounds_and_empty_trie(h: &Harness, sample: &PathCase) {
    let key = [0x11; 32];
    let root = [0x22; 32];
    let short = vec![0xc0u8];
    let many = vec![short.clone(); MAX_PROOF_NODES + 1];
    let (v, _) = compare_proof(h, &root, &key, &many, "65 nodes").await;
    assert_eq!(v.code, MptCode::TooManyNodes);
    let (v, _) = compare_proof(h, &root, &key, &many[..MAX_PROOF_NODES], "64 nodes").await;
    assert_eq!(v.code, MptCode::HashMismatch);
    let long = vec![short.clone(), vec![0u8; MAX_NODE_LEN + 1]];
    let (v, _) = compare_proof(h, &root, &key, &long, "a node of 4,097 bytes").await;
    assert_eq!(
        v,
        MptVerdict {
            code: MptCode::NodeTooLong,
            index: Some(1)
        }
    );
    let mut both = many.clone();
    both[3] = vec![0u8; MAX_NODE_LEN + 1];
    let (v, _) = compare_proof(h, &root, &key, &both, "both bounds").await;
    assert_eq!(v.code, MptCode::TooManyNodes);
    for nodes in [
        vec![],
        vec![vec![0x80u8]],
        vec![vec![0x80u8], vec![0x80]],
        vec![vec![0xc0u8]],
        vec![vec![0x80u8, 0x00]],
    ] {
        compare_proof(h, &EMPTY_ROOT, &key, &nodes, "empty trie").await;
    }
    // In an `EvmStorageProof` the bounds are decoding rules: the contract reverts.
    let over = [
        sample.with("65 storage nodes", |c| c.proof.storage_proof = many.clone()),
        sample.with("a storage node of 4,097 bytes", |c| {
            c.proof.storage_proof = long.clone()
        }),
        sample.with("65 account nodes", |c| c.proof.account_proof = many.clone()),
    ];
    for case in &over {
        assert_eq!(
            check_case(h, case).await,
            Seen::Undecodable,
            "{}",
            case.what
        );
    }
    println!("bounds and the empty trie agree");
}

// ------------------------------------------------------------------ every rule by name

/// The nibbles of `key`.
fn nibbles(key: &[u8; 32]) -> Vec<u8> {
    key.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect()
}

/// The hex-prefix encoding of `path` for a leaf or an extension.
fn hex_prefix(path: &[u8], leaf: bool) -> Vec<u8> {
    let flag = if leaf { 2 } else { 0 } + (path.len() % 2) as u8;
    let mut out = Vec::new();
    let rest = if path.len() % 2 == 1 {
        out.push((flag << 4) | path[0]);
        &path[1..]
    } else {
        out.push(flag << 4);
        path
    };
    out.extend(rest.chunks(2).map(|c| (c[0] << 4) | c[1]));
    out
}

fn short_node(path: &[u8], leaf: bool, second: Vec<u8>) -> Vec<u8> {
    rlp_list(&[rlp_string(&hex_prefix(path, leaf)), second])
}

/// A branch holding `child` at slot `slot`, empty elsewhere, with `value` as its 17th item.
fn branch(slot: u8, child: Vec<u8>, value: Vec<u8>) -> Vec<u8> {
    let mut items = vec![vec![0x80u8]; 16];
    items[usize::from(slot)] = child;
    items.push(value);
    rlp_list(&items)
}

fn hash_ref(node: &[u8]) -> Vec<u8> {
    rlp_string(&keccak256(node))
}

/// Every rule of §12.1, each on a proof built to break it (or to settle the key by it):
/// Rust reports the named rule, and the contract the same verdict.
async fn every_rule(h: &Harness) {
    let key = [0x12u8; 32];
    let k = nibbles(&key);
    let leaf_all = short_node(&k, true, rlp_string(&[7]));
    let empty_branch = rlp_list(&vec![vec![0x80u8]; 17]);
    let mut cases: Vec<(&str, Vec<Vec<u8>>, &str)> = vec![
        ("a leaf holding the key", vec![leaf_all.clone()], "value"),
        (
            "a leaf of another key",
            vec![short_node(&nibbles(&[0x13; 32]), true, rlp_string(&[7]))],
            "absent",
        ),
        (
            "an empty branch slot",
            vec![branch(k[0] ^ 1, hash_ref(&leaf_all), vec![0x80])],
            "absent",
        ),
        (
            "an extension leaving the key",
            vec![short_node(&[k[0] ^ 1], false, hash_ref(&empty_branch))],
            "absent",
        ),
        (
            "a string, not a list",
            vec![rlp_string(b"not a node at all")],
            "node is not an RLP list",
        ),
        (
            "a byte after the list",
            vec![[leaf_all.clone(), vec![0]].concat()],
            "bytes after the node's RLP list",
        ),
        (
            "one item",
            vec![rlp_list(&[rlp_string(&[0x20])])],
            "node has neither 2 nor 17 items",
        ),
        (
            "three items",
            vec![rlp_list(&[rlp_string(&[0x20]), vec![1], vec![2]])],
            "node has neither 2 nor 17 items",
        ),
        (
            "18 items",
            vec![rlp_list(&vec![vec![0x80u8]; 18])],
            "node has more than 17 items",
        ),
        (
            "flag 4",
            vec![rlp_list(&[rlp_string(&[0x40]), vec![1]])],
            "hex-prefix flag above 3",
        ),
        (
            "even leaf, pad 1",
            vec![rlp_list(&[
                rlp_string(&[&[0x21u8][..], &key[..]].concat()),
                vec![1],
            ])],
            "even hex-prefix path with a non-zero pad nibble",
        ),
        (
            "even extension, pad 4",
            vec![rlp_list(&[
                rlp_string(&[0x04, 0x12]),
                hash_ref(&empty_branch),
            ])],
            "even hex-prefix path with a non-zero pad nibble",
        ),
        (
            "empty path",
            vec![rlp_list(&[vec![0x80], vec![1]])],
            "node path is empty",
        ),
        (
            "path is a list",
            vec![rlp_list(&[vec![0xc0], vec![1]])],
            "node path is a list",
        ),
        (
            "short leaf",
            vec![short_node(&k[..63], true, vec![1])],
            "leaf path does not end at the key length",
        ),
        (
            "empty leaf value",
            vec![short_node(&k, true, vec![0x80])],
            "leaf value is not a non-empty string",
        ),
        (
            "list leaf value",
            vec![short_node(&k, true, vec![0xc1, 0x01])],
            "leaf value is not a non-empty string",
        ),
        (
            "branch value",
            vec![branch(k[0], hash_ref(&leaf_all), vec![1])],
            "branch holds a value (keys have a fixed length)",
        ),
        (
            "empty extension path",
            vec![short_node(&[], false, hash_ref(&empty_branch))],
            "extension path is empty or reaches the key length",
        ),
        (
            "extension of 64 nibbles",
            vec![short_node(&k, false, hash_ref(&empty_branch))],
            "extension path is empty or reaches the key length",
        ),
        (
            "extension without a child",
            vec![short_node(&k[..1], false, vec![0x80])],
            "extension without a child",
        ),
        (
            "extension to a leaf",
            {
                let leaf = short_node(&k[1..], true, rlp_string(&[7; 40]));
                vec![short_node(&k[..1], false, hash_ref(&leaf)), leaf]
            },
            "extension child is not a branch",
        ),
        (
            "an embedded node of 32 bytes",
            vec![branch(k[0], short_node(&k[1..], true, vec![1]), vec![0x80])],
            "embedded node of 32 bytes or more",
        ),
        (
            "a 31-byte reference",
            vec![branch(k[0], rlp_string(&[9; 31]), vec![0x80])],
            "child reference is neither empty, a hash nor an embedded node",
        ),
        (
            "a branch at depth 64",
            {
                let last = branch(k[63], empty_branch.clone(), vec![0x80]);
                vec![short_node(&k[..63], false, hash_ref(&last)), last]
            },
            "branch below the full key length",
        ),
        (
            "an embedded leaf at depth 63",
            {
                let below = branch(k[62], short_node(&k[63..], true, vec![5]), vec![0x80]);
                vec![short_node(&k[..62], false, hash_ref(&below)), below]
            },
            "value",
        ),
        (
            "a non-canonical single byte",
            vec![vec![0xc2, 0x81, 0x05]],
            "rlp",
        ),
        ("a truncated list", vec![vec![0xc5, 0x80]], "rlp"),
        (
            "a long length with a leading zero",
            vec![[vec![0xf9, 0x00, 0x40], vec![0x80; 64]].concat()],
            "rlp",
        ),
        (
            "a short length in the long form",
            vec![[vec![0xf8, 0x02], vec![0x80; 2]].concat()],
            "rlp",
        ),
        (
            "a truncated hash",
            vec![[vec![0xd1], vec![0x80; 15], vec![0xa0, 0x01]].concat()],
            "rlp",
        ),
    ];
    // A proof that stops at a hash reference, and one with a node after the leaf.
    let b = branch(k[0], hash_ref(&leaf_all), vec![0x80]);
    cases.push(("a missing node", vec![b.clone()], "missing"));
    cases.push((
        "a node after the leaf",
        vec![leaf_all.clone(), leaf_all.clone()],
        "trailing",
    ));
    for (what, nodes, expect) in &cases {
        let root = keccak256(&nodes[0]);
        let rust = verify_proof(&root, &key, nodes);
        let named = match (&rust, *expect) {
            (Ok(Some(_)), "value") | (Ok(None), "absent") => true,
            (Err(xrelay_light_client::evm::mpt::MptError::Malformed { reason, .. }), e) => {
                *reason == e
            }
            (Err(xrelay_light_client::evm::mpt::MptError::Rlp { .. }), "rlp") => true,
            (Err(xrelay_light_client::evm::mpt::MptError::MissingNode { .. }), "missing") => true,
            (Err(xrelay_light_client::evm::mpt::MptError::TrailingNodes { .. }), "trailing") => {
                true
            }
            _ => false,
        };
        assert!(
            named,
            "{what}: Rust says {rust:?}, the case is built for {expect:?}"
        );
        compare_proof(h, &root, &key, nodes, what).await;
    }
    println!(
        "every rule of §12.1: {} built proofs, each refused (or settled) by its rule on both sides",
        cases.len()
    );
}

// ------------------------------------------------------------------ in a larger body, gas

/// A proof read from inside a larger body leaves the reader just after it, whatever the
/// verdict, and the verdict is the one on the proof alone.
async fn inside_a_body(h: &Harness, cases: &[PathCase]) {
    for case in cases {
        let proof = case.proof.encode();
        let mut body = b"prefix!".to_vec();
        let offset = body.len();
        body.extend_from_slice(&proof);
        body.extend_from_slice(b"suffix");
        let r = h
            .checkGatewayPathInside(case.claim(), body.into(), U256::from(offset))
            .call()
            .await
            .expect("checkGatewayPathInside");
        assert_eq!(
            index_of(r.stop),
            (offset + proof.len()) as u64,
            "{}",
            case.what
        );
        let Seen::Path(alone) = case.rust(&proof) else {
            panic!("{}: the proof decodes", case.what)
        };
        assert_eq!(r.code, alone.verdict.code as u8, "{}", case.what);
    }
    println!(
        "inside a larger body: {} proofs leave the reader after them",
        cases.len()
    );
}

/// keccak-256's gas on `len` bytes: 30 + 6 per 32-byte word.
fn keccak_gas(len: usize) -> u64 {
    30 + 6 * len.div_ceil(32) as u64
}

/// Gas of `checkGatewayPath` on real proofs against its floor: the keccak work any verifier
/// must do (every node hashed, plus the account key, the slot and the storage key).
async fn gas(h: &Harness, cases: &[(&str, &PathCase)]) {
    println!("checkGatewayPath gas (the library alone, measured with gasleft; the floor is its keccak work):");
    for (what, case) in cases {
        let body = case.proof.encode();
        let r = h
            .gasOfCheckGatewayPath(case.claim(), body.clone().into())
            .call()
            .await
            .expect("gasOfCheckGatewayPath");
        assert_eq!(r.code, MptCode::Valid as u8, "{what}");
        let nodes: Vec<&Vec<u8>> = case
            .proof
            .account_proof
            .iter()
            .chain(&case.proof.storage_proof)
            .collect();
        let hashed: usize = nodes.iter().map(|n| n.len()).sum();
        let floor: u64 = nodes.iter().map(|n| keccak_gas(n.len())).sum::<u64>()
            + keccak_gas(20)
            + keccak_gas(64)
            + keccak_gas(32);
        let used: u64 = r.gasUsed.try_into().expect("gas fits in 64 bits");
        let receipt = h
            .checkGatewayPathTx(case.claim(), body.clone().into())
            .send()
            .await
            .expect("checkGatewayPathTx")
            .get_receipt()
            .await
            .expect("receipt");
        assert!(receipt.status());
        println!(
            "  {what}: {used} gas; floor {floor} ({} keccak calls over {} bytes: {} nodes of {:?} and {:?} bytes, 3 keys); ratio {:.2}; as a transaction with a {}-byte proof: {} gasUsed",
            nodes.len() + 3,
            hashed + 20 + 64 + 32,
            nodes.len(),
            case.proof.account_proof.iter().map(Vec::len).collect::<Vec<_>>(),
            case.proof.storage_proof.iter().map(Vec::len).collect::<Vec<_>>(),
            used as f64 / floor as f64,
            body.len(),
            receipt.gas_used
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merkle_patricia_on_anvil() {
    let anvil = common::spawn_anvil(&[]);
    let provider = common::wallet_provider(&anvil, 0);
    let h = MptHarness::deploy(provider.clone())
        .await
        .expect("deploy MptHarness");

    let real = real_gateway(&provider).await;
    let cases = real_proofs(&h, &provider, &real).await;
    let recorded = recorded_answer(&h).await;
    bounds_and_empty_trie(&h, &cases[0]).await;
    every_rule(&h).await;

    // Every byte flipped: a commitment, the lane counter, an absent path, the absent
    // account and the account without storage of the real Gateway; a recorded path.
    let pick = |what: &str| {
        cases
            .iter()
            .find(|c| c.what == what)
            .unwrap_or_else(|| panic!("case {what}"))
            .clone()
    };
    let commitment = pick("gateway path commitments/alpha/1");
    let next_send = pick("gateway path next_send/alpha");
    let absent = pick(&format!("gateway path commitments/alpha/{}", MESSAGES + 1));
    let no_account = pick(&format!("account {}", hex::encode([0xde; 20])));
    let no_storage = pick(&format!("account {}", hex::encode([0x5a; 20])));
    every_byte_flipped(
        &h,
        &[
            commitment.clone(),
            next_send.clone(),
            absent.clone(),
            no_account,
            no_storage,
            recorded[0].clone(),
        ],
    )
    .await;

    generated_tries(&h).await;
    inside_a_body(&h, &cases).await;
    gas(
        &h,
        &[
            ("a commitment (membership)", &commitment),
            ("the lane counter (membership)", &next_send),
            ("a path never written (absence)", &absent),
            ("recorded answer, a commitment", &recorded[0]),
        ],
    )
    .await;
}
