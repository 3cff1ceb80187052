//! The Merkle-Patricia proof verifier (`evm::mpt`) against `alloy-trie`: tries and proofs
//! built by alloy-trie's `HashBuilder`, checked by ours and by alloy-trie's `verify_proof`,
//! including proofs mutated (a byte flipped, a node dropped or duplicated, another key, a
//! wrong claim); plus a real `eth_getProof` answer from anvil (tests/data/evm).

use std::collections::BTreeMap;

use alloy_primitives::{Bytes, B256, U256};
use alloy_rlp::Encodable;
use alloy_trie::proof::{verify_proof as alloy_verify, ProofRetainer};
use alloy_trie::{HashBuilder, Nibbles};
use proptest::prelude::*;
use serde_json::Value;
use xrelay_light_client::evm::mpt::{
    keccak256, verify_account, verify_proof, verify_storage, Account, MptError, EMPTY_ROOT,
    MAX_PROOF_NODES,
};

/// A trie built by alloy-trie with proofs retained for `targets`.
struct Trie {
    root: [u8; 32],
    entries: BTreeMap<[u8; 32], Vec<u8>>,
    proofs: BTreeMap<[u8; 32], Vec<Bytes>>,
}

impl Trie {
    fn build(entries: BTreeMap<[u8; 32], Vec<u8>>, targets: &[[u8; 32]]) -> Trie {
        let retainer = ProofRetainer::from_iter(targets.iter().map(Nibbles::unpack));
        let mut builder = HashBuilder::default().with_proof_retainer(retainer);
        for (k, v) in &entries {
            builder.add_leaf(Nibbles::unpack(k), v);
        }
        let root = builder.root().0;
        let nodes = builder.take_proof_nodes();
        let proofs = targets
            .iter()
            .map(|t| {
                // The eth_getProof layout: the path's nodes root first, without the ones
                // embedded in their parent (shorter than 32 bytes; the root is always listed).
                let proof = nodes
                    .matching_nodes_sorted(&Nibbles::unpack(t))
                    .into_iter()
                    .enumerate()
                    .filter(|(i, (_, n))| *i == 0 || n.len() >= 32)
                    .map(|(_, (_, n))| n)
                    .collect();
                (*t, proof)
            })
            .collect();
        Trie {
            root,
            entries,
            proofs,
        }
    }
}

/// What alloy-trie says about `claim` (the leaf value, or `None` for absence).
fn alloy_accepts(root: &[u8; 32], key: &[u8; 32], claim: Option<&[u8]>, proof: &[Bytes]) -> bool {
    alloy_verify(
        B256::from(*root),
        Nibbles::unpack(key),
        claim.map(<[u8]>::to_vec),
        proof,
    )
    .is_ok()
}

/// What ours says about the same claim.
fn ours(root: &[u8; 32], key: &[u8; 32], proof: &[Bytes]) -> Result<Option<Vec<u8>>, MptError> {
    verify_proof(root, key, proof).map(|v| v.map(<[u8]>::to_vec))
}

/// Both verifiers must reach the same verdict on `claim`. The one place ours is stricter
/// by design: nodes after a diverging extension (alloy-trie walks on, ignoring that the path
/// already left the key; ours refuses them). Then the proof cut after the settling node must
/// be accepted by both, so the disagreement is only about the extra nodes.
fn assert_agree(root: &[u8; 32], key: &[u8; 32], claim: Option<&[u8]>, proof: &[Bytes]) {
    let mine = ours(root, key, proof);
    let ours_ok = mine.as_ref().is_ok_and(|v| v.as_deref() == claim);
    let theirs_ok = alloy_accepts(root, key, claim, proof);
    if ours_ok == theirs_ok {
        return;
    }
    match mine {
        Err(MptError::TrailingNodes { index, .. }) if theirs_ok && claim.is_none() => {
            let cut = &proof[..=index];
            assert_eq!(ours(root, key, cut), Ok(None), "cut proof");
            assert!(alloy_accepts(root, key, None, cut), "cut proof (alloy)");
        }
        other => panic!(
            "verdicts differ for key {} claim {:?}: ours {other:?}, alloy-trie accepts: {theirs_ok}",
            hex::encode(key),
            claim.map(hex::encode)
        ),
    }
}

/// Keys that share prefixes of every length with a base key, so tries get extensions,
/// deep leaves and (with short values) nodes embedded in their parents.
fn key_strategy() -> impl Strategy<Value = (usize, [u8; 32])> {
    (
        prop_oneof![0usize..4, 0usize..64, 48usize..64],
        any::<[u8; 32]>(),
    )
}

fn splice(base: &[u8; 32], shared_nibbles: usize, tail: &[u8; 32]) -> [u8; 32] {
    let mut out = *tail;
    for i in 0..shared_nibbles {
        let mask = if i.is_multiple_of(2) { 0xf0 } else { 0x0f };
        out[i / 2] = (out[i / 2] & !mask) | (base[i / 2] & mask);
    }
    out
}

fn value_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..4),
        prop::collection::vec(any::<u8>(), 1..80)
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipByte { node: usize, at: usize, bit: u8 },
    Drop { node: usize },
    Duplicate { node: usize },
    OtherKey { other: usize },
    WrongClaim { value: Vec<u8> },
}

fn mutation_strategy() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<usize>(), 0u8..8).prop_map(|(node, at, bit)| Mutation::FlipByte {
            node,
            at,
            bit
        }),
        any::<usize>().prop_map(|node| Mutation::Drop { node }),
        any::<usize>().prop_map(|node| Mutation::Duplicate { node }),
        any::<usize>().prop_map(|other| Mutation::OtherKey { other }),
        value_strategy().prop_map(|value| Mutation::WrongClaim { value }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Membership and absence proofs of random tries verify with ours and alloy-trie's, and
    /// every mutation gets the same verdict from both.
    #[test]
    fn agrees_with_alloy_trie(
        base in any::<[u8; 32]>(),
        keys in prop::collection::vec((key_strategy(), value_strategy()), 1..48),
        absent in prop::collection::vec(key_strategy(), 1..8),
        near in prop::collection::vec((any::<usize>(), 0usize..64, 1u8..16), 0..8),
        mutations in prop::collection::vec((any::<usize>(), mutation_strategy()), 1..16),
    ) {
        let entries: BTreeMap<[u8; 32], Vec<u8>> = keys
            .iter()
            .map(|((shared, tail), v)| (splice(&base, *shared, tail), v.clone()))
            .collect();
        let present: Vec<[u8; 32]> = entries.keys().copied().collect();
        let mut targets = present.clone();
        targets.extend(absent.iter().map(|(shared, tail)| splice(&base, *shared, tail)));
        // Keys one nibble away from a present one: absence by a diverging leaf or extension.
        for (pick, nibble, delta) in &near {
            let mut k = present[pick % present.len()];
            let shift = if nibble.is_multiple_of(2) { 4 } else { 0 };
            k[nibble / 2] ^= delta << shift;
            targets.push(k);
        }
        targets.sort();
        targets.dedup();
        let trie = Trie::build(entries, &targets);

        for key in &targets {
            let proof = &trie.proofs[key];
            prop_assert!(proof.len() <= MAX_PROOF_NODES);
            let expected = trie.entries.get(key).map(Vec::as_slice);
            prop_assert_eq!(ours(&trie.root, key, proof), Ok(expected.map(<[u8]>::to_vec)));
            prop_assert!(alloy_accepts(&trie.root, key, expected, proof));
        }

        for (pick, mutation) in &mutations {
            let key = targets[pick % targets.len()];
            let mut proof = trie.proofs[&key].clone();
            let mut claim_key = key;
            let mut claim = trie.entries.get(&key).cloned();
            match mutation {
                Mutation::FlipByte { node, at, bit } => {
                    let n = node % proof.len();
                    let mut bytes = proof[n].to_vec();
                    let i = at % bytes.len();
                    bytes[i] ^= 1 << bit;
                    proof[n] = bytes.into();
                }
                Mutation::Drop { node } => {
                    proof.remove(node % proof.len());
                }
                Mutation::Duplicate { node } => {
                    let n = node % proof.len();
                    proof.insert(n + 1, proof[n].clone());
                }
                Mutation::OtherKey { other } => {
                    claim_key = targets[other % targets.len()];
                    claim = trie.entries.get(&claim_key).cloned();
                }
                Mutation::WrongClaim { value } => {
                    claim = match claim {
                        Some(v) if v == *value => None,
                        _ => Some(value.clone()),
                    };
                }
            }
            assert_agree(&trie.root, &claim_key, claim.as_deref(), &proof);
            // A changed proof or claim about the key itself never verifies with ours.
            if claim_key == key && (proof != trie.proofs[&key]
                || claim.as_deref() != trie.entries.get(&key).map(Vec::as_slice))
            {
                let verdict = ours(&trie.root, &key, &proof);
                prop_assert!(
                    verdict.as_ref().map_or(true, |v| v.as_deref() != claim.as_deref()),
                    "mutated proof accepted: {:?}", mutation
                );
            }
        }
    }

    /// Accounts and storage slots: leaf values are RLP accounts and RLP integers, keys the
    /// keccak-256 of addresses and slots, as in an Ethereum state.
    #[test]
    fn accounts_and_storage(
        accounts in prop::collection::btree_map(any::<[u8; 20]>(),
            (any::<u64>(), any::<[u8; 32]>(), any::<[u8; 32]>()), 1..24),
        storage in prop::collection::btree_map(any::<[u8; 32]>(), any::<[u8; 32]>(), 0..24),
        absent_address in any::<[u8; 20]>(),
        absent_slot in any::<[u8; 32]>(),
    ) {
        // Storage trie: zero values are never stored.
        let stored: BTreeMap<[u8; 32], [u8; 32]> = storage
            .into_iter()
            .filter(|(_, v)| *v != [0u8; 32])
            .collect();
        let slot_keys: Vec<[u8; 32]> = stored.keys().chain([&absent_slot]).map(|s| keccak256(s)).collect();
        let storage_trie = Trie::build(
            stored.iter().map(|(s, v)| (keccak256(s), alloy_rlp::encode(U256::from_be_bytes(*v)))).collect(),
            &slot_keys,
        );
        let storage_root = if stored.is_empty() { EMPTY_ROOT } else { storage_trie.root };
        prop_assert_eq!(storage_trie.root, storage_root);
        for (slot, value) in &stored {
            let proof = &storage_trie.proofs[&keccak256(slot)];
            prop_assert_eq!(verify_storage(&storage_root, slot, proof), Ok(*value));
        }
        if !stored.contains_key(&absent_slot) {
            let proof = &storage_trie.proofs[&keccak256(&absent_slot)];
            prop_assert_eq!(verify_storage(&storage_root, &absent_slot, proof), Ok([0u8; 32]));
        }

        // State trie: the first account owns the storage above.
        let state: BTreeMap<[u8; 20], Account> = accounts
            .iter()
            .enumerate()
            .map(|(i, (address, (nonce, balance, code_hash)))| {
                let account = Account {
                    nonce: *nonce,
                    balance: *balance,
                    storage_root: if i == 0 { storage_root } else { keccak256(code_hash) },
                    code_hash: *code_hash,
                };
                (*address, account)
            })
            .collect();
        let address_keys: Vec<[u8; 32]> =
            state.keys().chain([&absent_address]).map(|a| keccak256(a)).collect();
        let state_trie = Trie::build(
            state
                .iter()
                .map(|(a, acc)| (keccak256(a), account_rlp(acc)))
                .collect(),
            &address_keys,
        );
        for (address, account) in &state {
            let proof = &state_trie.proofs[&keccak256(address)];
            prop_assert_eq!(verify_account(&state_trie.root, address, proof), Ok(Some(*account)));
        }
        if !state.contains_key(&absent_address) {
            let proof = &state_trie.proofs[&keccak256(&absent_address)];
            prop_assert_eq!(verify_account(&state_trie.root, &absent_address, proof), Ok(None));
        }
    }

    /// Arbitrary node lists against arbitrary roots: typed errors, never a panic, and never
    /// an acceptance of bytes that were not built from the root.
    #[test]
    fn garbage_is_refused(
        root in any::<[u8; 32]>(),
        key in any::<[u8; 32]>(),
        nodes in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..6),
    ) {
        prop_assume!(root != EMPTY_ROOT);
        prop_assert!(verify_proof(&root, &key, &nodes).is_err());
        // The first node's own hash as the root: the walk goes as deep as the bytes allow.
        if let Some(first) = nodes.first() {
            let _ = verify_proof(&keccak256(first), &key, &nodes);
        }
    }
}

#[test]
fn empty_trie_agrees_with_alloy_trie() {
    let key = [0x42u8; 32];
    let trie = Trie::build(BTreeMap::new(), &[key]);
    assert_eq!(trie.root, EMPTY_ROOT);
    let proof = &trie.proofs[&key];
    assert_eq!(ours(&trie.root, &key, proof), Ok(None));
    assert!(alloy_accepts(&trie.root, &key, None, proof));
    assert_agree(&trie.root, &key, Some(&[1]), proof);
}

/// Nodes embedded in their parent: two keys differing only in the last nibble with 1-byte
/// values make a branch at depth 63 whose two leaves are 3 bytes each, inside an extension.
#[test]
fn embedded_leaves_under_an_extension() {
    let a = [0x11u8; 32];
    let mut b = a;
    b[31] = 0x1f;
    let mut c = [0x22u8; 32];
    c[0] = 0x21;
    let entries: BTreeMap<_, _> = [(a, vec![1u8]), (b, vec![2u8]), (c, vec![3u8])].into();
    let mut absent = a;
    absent[31] = 0x15;
    let trie = Trie::build(entries, &[a, b, c, absent]);
    // Root branch → extension (62 nibbles) + embedded branch with embedded leaves: 2 nodes.
    assert_eq!(trie.proofs[&a].len(), 2);
    for (k, v) in [
        (a, Some(vec![1u8])),
        (b, Some(vec![2u8])),
        (c, Some(vec![3u8])),
        (absent, None),
    ] {
        assert_eq!(ours(&trie.root, &k, &trie.proofs[&k]), Ok(v.clone()));
        assert!(alloy_accepts(
            &trie.root,
            &k,
            v.as_deref(),
            &trie.proofs[&k]
        ));
    }
}

/// The state trie's RLP of an account, written with alloy-rlp's encoders (independent of
/// the decoder under test).
fn account_rlp(account: &Account) -> Vec<u8> {
    let balance = U256::from_be_bytes(account.balance);
    let storage_root = B256::from(account.storage_root);
    let code_hash = B256::from(account.code_hash);
    let payload = account.nonce.length() + balance.length() + 33 + 33;
    let mut out = Vec::new();
    alloy_rlp::Header {
        list: true,
        payload_length: payload,
    }
    .encode(&mut out);
    account.nonce.encode(&mut out);
    balance.encode(&mut out);
    storage_root.encode(&mut out);
    code_hash.encode(&mut out);
    out
}

fn hex32(v: &Value) -> [u8; 32] {
    let s = v.as_str().expect("hex string");
    let mut out = [0u8; 32];
    // Quantities (storage values) come without leading zeros, possibly odd-length.
    let digits = s.trim_start_matches("0x");
    let raw = hex::decode(format!("{}{digits}", "0".repeat(digits.len() % 2))).expect("hex");
    out[32 - raw.len()..].copy_from_slice(&raw);
    out
}

fn hex_nodes(v: &Value) -> Vec<Bytes> {
    v.as_array()
        .expect("proof array")
        .iter()
        .map(|n| {
            hex::decode(n.as_str().expect("node").trim_start_matches("0x"))
                .expect("hex")
                .into()
        })
        .collect()
}

fn anvil_answer() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/evm/anvil_gateway_proof.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("data file")).expect("JSON")
}

/// A real `eth_getProof` answer from anvil: the gateway account against the block's state
/// root, every written slot against its storage root, one never-written slot as zero;
/// alloy-trie agrees, and a flipped byte in any node or a wrong value is refused.
#[test]
fn anvil_eth_get_proof() {
    let answer = anvil_answer();
    let block = &answer["eth_getBlockByNumber"];
    let proof = &answer["eth_getProof"];
    let state_root = hex32(&block["stateRoot"]);
    let mut gateway = [0u8; 20];
    hex::decode_to_slice(
        answer["gateway"].as_str().unwrap().trim_start_matches("0x"),
        &mut gateway,
    )
    .unwrap();

    let account_proof = hex_nodes(&proof["accountProof"]);
    let account = verify_account(&state_root, &gateway, &account_proof)
        .expect("account proof")
        .expect("gateway exists");
    assert_eq!(account.nonce, 1);
    assert_eq!(account.balance, [0u8; 32]);
    assert_eq!(account.storage_root, hex32(&proof["storageHash"]));
    assert_eq!(account.code_hash, hex32(&proof["codeHash"]));
    assert_eq!(account.code_hash, keccak256(&[0x00]));
    assert!(alloy_accepts(
        &state_root,
        &keccak256(&gateway),
        Some(&account_rlp(&account)),
        &account_proof
    ));

    let storage = proof["storageProof"].as_array().unwrap();
    assert_eq!(
        storage.len(),
        answer["writes"].as_array().unwrap().len() + 1
    );
    for entry in storage {
        let slot = hex32(&entry["key"]);
        let nodes = hex_nodes(&entry["proof"]);
        let value = verify_storage(&account.storage_root, &slot, &nodes).expect("storage proof");
        assert_eq!(value, hex32(&entry["value"]));
        let claim = (value != [0u8; 32]).then(|| alloy_rlp::encode(U256::from_be_bytes(value)));
        assert!(alloy_accepts(
            &account.storage_root,
            &keccak256(&slot),
            claim.as_deref(),
            &nodes
        ));
        // Every byte of every node matters.
        for n in 0..nodes.len() {
            for at in [0, nodes[n].len() / 2, nodes[n].len() - 1] {
                let mut bad = nodes.clone();
                let mut bytes = bad[n].to_vec();
                bytes[at] ^= 0x01;
                bad[n] = bytes.into();
                assert!(verify_storage(&account.storage_root, &slot, &bad).is_err());
            }
        }
    }
    let absent = hex32(&answer["absent"]["slot"]);
    let entry = storage
        .iter()
        .find(|e| hex32(&e["key"]) == absent)
        .expect("absent slot proven");
    assert_eq!(hex32(&entry["value"]), [0u8; 32]);

    // The storage proof of one slot does not prove another slot's value.
    let first = &storage[0];
    let other = hex32(&storage[1]["key"]);
    let nodes = hex_nodes(&first["proof"]);
    assert!(verify_storage(&account.storage_root, &other, &nodes)
        .map_or(true, |v| v != hex32(&storage[1]["value"])));
}
