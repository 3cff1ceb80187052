//! EVM Merkle-Patricia proofs for the comparison of our verifier
//! (`xrelay_light_client::evm::mpt`) with alloy-trie's `verify_proof`: storage tries of N
//! slots and a state trie whose gateway account owns one of them, all built by alloy-trie's
//! `HashBuilder` (the reference implementation), with the `eth_getProof` node lists of the
//! sampled slots. Both verifiers get the same node lists (`alloy_primitives::Bytes`).

use alloy_primitives::{Bytes, B256, U256};
use alloy_rlp::Encodable;
use alloy_trie::proof::{verify_proof, ProofRetainer};
use alloy_trie::{HashBuilder, Nibbles};
use xrelay_light_client::evm::mpt::{self, keccak256};

/// Storage slot `i`: the 32-byte big-endian index (as a Solidity array or mapping slot).
pub fn slot_of(i: usize) -> [u8; 32] {
    let mut slot = [0u8; 32];
    slot[24..].copy_from_slice(&(i as u64).to_be_bytes());
    slot
}

/// The value stored at slot `i`: 32 bytes like a `provable` entry (`sha256` of a value),
/// never zero.
pub fn stored_of(i: usize) -> [u8; 32] {
    crate::value_of(i).try_into().expect("32 bytes")
}

/// One storage proof: the slot, its trie key, the value as the trie stores it and the nodes.
pub struct StorageCase {
    /// The slot.
    pub slot: [u8; 32],
    /// keccak-256 of the slot: the trie key.
    pub key: [u8; 32],
    /// The slot's value.
    pub value: [u8; 32],
    /// The RLP of the value (the leaf's value, what alloy-trie compares).
    pub leaf: Vec<u8>,
    /// `eth_getProof`'s node list.
    pub proof: Vec<Bytes>,
}

/// A storage trie of `size` slots with proofs of the sampled ones.
pub struct StorageTrie {
    /// Slots in the trie.
    pub size: usize,
    /// Its root.
    pub root: [u8; 32],
    /// The proofs to verify.
    pub cases: Vec<StorageCase>,
}

/// Builds a trie of (key, value) leaves with alloy-trie and the node lists of `targets`, in
/// the `eth_getProof` layout (root first, nodes embedded in their parent left out).
fn build(
    mut leaves: Vec<([u8; 32], Vec<u8>)>,
    targets: &[[u8; 32]],
) -> ([u8; 32], Vec<Vec<Bytes>>) {
    leaves.sort_by_key(|l| l.0);
    let retainer = ProofRetainer::from_iter(targets.iter().map(Nibbles::unpack));
    let mut builder = HashBuilder::default().with_proof_retainer(retainer);
    for (k, v) in &leaves {
        builder.add_leaf(Nibbles::unpack(k), v);
    }
    let root = builder.root().0;
    let nodes = builder.take_proof_nodes();
    let proofs = targets
        .iter()
        .map(|t| {
            nodes
                .matching_nodes_sorted(&Nibbles::unpack(t))
                .into_iter()
                .enumerate()
                .filter(|(i, (_, n))| *i == 0 || n.len() >= 32)
                .map(|(_, (_, n))| n)
                .collect()
        })
        .collect();
    (root, proofs)
}

impl StorageTrie {
    /// The trie of slots `0..size` holding [`stored_of`], proofs of `sampled`; checks that
    /// both verifiers accept every proof and refuse it for a changed value.
    pub fn build(size: usize, sampled: &[usize]) -> Self {
        let leaves = (0..size)
            .map(|i| {
                let leaf = alloy_rlp::encode(U256::from_be_bytes(stored_of(i)));
                (keccak256(&slot_of(i)), leaf)
            })
            .collect();
        let keys: Vec<[u8; 32]> = sampled.iter().map(|&i| keccak256(&slot_of(i))).collect();
        let (root, proofs) = build(leaves, &keys);
        let cases: Vec<StorageCase> = sampled
            .iter()
            .zip(proofs)
            .map(|(&i, proof)| StorageCase {
                slot: slot_of(i),
                key: keccak256(&slot_of(i)),
                value: stored_of(i),
                leaf: alloy_rlp::encode(U256::from_be_bytes(stored_of(i))),
                proof,
            })
            .collect();
        for c in &cases {
            assert_eq!(ours_storage(&root, c), Some(&c.leaf[..]), "ours refuses");
            assert!(theirs_storage(&root, c), "alloy-trie refuses");
            assert_eq!(mpt::verify_storage(&root, &c.slot, &c.proof), Ok(c.value));
            let mut other = c.leaf.clone();
            *other.last_mut().expect("non-empty") ^= 1;
            assert!(verify_proof(
                B256::from(root),
                Nibbles::unpack(c.key),
                Some(other),
                &c.proof
            )
            .is_err());
        }
        StorageTrie { size, root, cases }
    }

    /// Average nodes per proof.
    pub fn avg_nodes(&self) -> f64 {
        self.cases.iter().map(|c| c.proof.len()).sum::<usize>() as f64 / self.cases.len() as f64
    }

    /// Average bytes per proof.
    pub fn avg_bytes(&self) -> f64 {
        self.cases
            .iter()
            .map(|c| c.proof.iter().map(|n| n.len()).sum::<usize>())
            .sum::<usize>() as f64
            / self.cases.len() as f64
    }
}

/// Ours on a hashed key: the leaf value, or `None` if the proof fails or shows absence.
pub fn ours_storage<'a>(root: &[u8; 32], c: &'a StorageCase) -> Option<&'a [u8]> {
    mpt::verify_proof(root, &c.key, &c.proof).ok().flatten()
}

/// alloy-trie's `verify_proof` on the same key (unpacked into nibbles, which its API takes)
/// and the expected leaf value.
pub fn theirs_storage(root: &[u8; 32], c: &StorageCase) -> bool {
    verify_proof(
        B256::from(*root),
        Nibbles::unpack(c.key),
        Some(c.leaf.clone()),
        &c.proof,
    )
    .is_ok()
}

/// The raw cost any verifier of this proof pays: keccak-256 of every node (returned
/// combined so the work cannot be optimised away).
pub fn keccak_nodes(c: &StorageCase) -> [u8; 32] {
    let mut acc = [0u8; 32];
    for node in &c.proof {
        let h = keccak256(node);
        for (a, b) in acc.iter_mut().zip(h) {
            *a ^= b;
        }
    }
    acc
}

/// The gateway account's address in the state trie.
pub const GATEWAY: [u8; 20] = [0xaa; 20];

/// A state trie of `accounts` accounts, one of them the gateway owning a storage trie:
/// what one gateway path costs to prove (account proof, then storage proof).
pub struct GatewayState {
    /// The block's state root.
    pub state_root: [u8; 32],
    /// The gateway's account proof.
    pub account_proof: Vec<Bytes>,
    /// The account's RLP (alloy-trie is given it as the expected value).
    pub account_rlp: Vec<u8>,
    /// The gateway's storage trie and slot proofs.
    pub storage: StorageTrie,
}

fn account_rlp(nonce: u64, balance: u64, storage_root: [u8; 32], code_hash: [u8; 32]) -> Vec<u8> {
    let (balance, storage_root, code_hash) = (
        U256::from(balance),
        B256::from(storage_root),
        B256::from(code_hash),
    );
    let payload = nonce.length() + balance.length() + storage_root.length() + code_hash.length();
    let mut out = Vec::new();
    alloy_rlp::Header {
        list: true,
        payload_length: payload,
    }
    .encode(&mut out);
    nonce.encode(&mut out);
    balance.encode(&mut out);
    storage_root.encode(&mut out);
    code_hash.encode(&mut out);
    out
}

impl GatewayState {
    /// `accounts` accounts (addresses `keccak(i)[..20]`, plus the gateway) and the gateway's
    /// storage trie of `slots` slots, proofs of `sampled` slots.
    pub fn build(accounts: usize, slots: usize, sampled: &[usize]) -> Self {
        let storage = StorageTrie::build(slots, sampled);
        let code_hash = keccak256(b"gateway code");
        let gateway_rlp = account_rlp(1, 0, storage.root, code_hash);
        let mut leaves: Vec<([u8; 32], Vec<u8>)> = (0..accounts)
            .map(|i| {
                let address = &keccak256(&(i as u64).to_be_bytes())[..20];
                (
                    keccak256(address),
                    account_rlp(
                        i as u64,
                        1_000_000 + i as u64,
                        mpt::EMPTY_ROOT,
                        keccak256(&[]),
                    ),
                )
            })
            .collect();
        leaves.push((keccak256(&GATEWAY), gateway_rlp.clone()));
        let (state_root, mut proofs) = build(leaves, &[keccak256(&GATEWAY)]);
        let account_proof = proofs.pop().expect("one target");
        let state = GatewayState {
            state_root,
            account_proof,
            account_rlp: gateway_rlp,
            storage,
        };
        for c in &state.storage.cases {
            assert_eq!(state.ours(c), Some(c.value), "ours refuses");
            assert!(state.theirs(c), "alloy-trie refuses");
        }
        state
    }

    /// Ours: the account proof of the gateway (keccak of the address, walk, account
    /// decoded), then the slot's storage proof against its storage root (keccak of the
    /// slot, walk, integer decoded).
    pub fn ours(&self, c: &StorageCase) -> Option<[u8; 32]> {
        let account = mpt::verify_account(&self.state_root, &GATEWAY, &self.account_proof)
            .ok()
            .flatten()?;
        mpt::verify_storage(&account.storage_root, &c.slot, &c.proof).ok()
    }

    /// alloy-trie: the same two proofs, the same keys hashed and unpacked, with the
    /// expected account RLP and value RLP given (it compares, it does not decode).
    pub fn theirs(&self, c: &StorageCase) -> bool {
        let address_key = Nibbles::unpack(keccak256(&GATEWAY));
        verify_proof(
            B256::from(self.state_root),
            address_key,
            Some(self.account_rlp.clone()),
            &self.account_proof,
        )
        .is_ok()
            && verify_proof(
                B256::from(self.storage.root),
                Nibbles::unpack(keccak256(&c.slot)),
                Some(c.leaf.clone()),
                &c.proof,
            )
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_verify_on_both_sides_and_tampering_is_refused() {
        let sampled = crate::sampled(1000, 16);
        let trie = StorageTrie::build(1000, &sampled);
        for c in &trie.cases {
            let mut bad = c.proof.clone();
            let mut node = bad[0].to_vec();
            node[5] ^= 1;
            bad[0] = node.into();
            let tampered = StorageCase {
                proof: bad,
                slot: c.slot,
                key: c.key,
                value: c.value,
                leaf: c.leaf.clone(),
            };
            assert_eq!(ours_storage(&trie.root, &tampered), None);
            assert!(!theirs_storage(&trie.root, &tampered));
        }
        let state = GatewayState::build(500, 1000, &sampled);
        assert!(state.account_proof.len() >= 2);
    }
}
