//! A balanced IAVL tree over N key/value pairs, and ics23 existence proofs out of it.
//!
//! Why build the tree here: the `ics23` crate only verifies; a real IAVL (cosmos/iavl) is a
//! Go library. To compare like for like we need a *genuine* proof of the depth a tree of N
//! keys has, whose root commits to all N keys. So this module builds the whole tree in
//! memory with IAVL's node hashing and emits proofs in the form IAVL's ics23 exporter gives
//! them; `ics23::verify_membership` with `iavl_spec()` accepts them (the tests and the bench
//! assert it, and that a tampered value or sibling is refused).
//!
//! The node hashes (IAVL's layout, which `iavl_spec()` checks field by field):
//! - leaf: `SHA-256(zz(0) ‖ zz(1) ‖ zz(version) ‖ uv(len key) ‖ key ‖ uv(32) ‖ SHA-256(value))`
//! - inner: `SHA-256(zz(height) ‖ zz(size) ‖ zz(version) ‖ uv(32) ‖ left ‖ uv(32) ‖ right)`
//!
//! where `zz` is a zig-zag signed varint (Go's `binary.PutVarint`), `uv` an unsigned
//! (protobuf) varint, `height` the subtree height (leaves 0), `size` the number of leaves
//! below. Keys live in the leaves only, in byte order; inner nodes do not hash a key.
//!
//! In ics23 form a leaf is a `LeafOp` (prefix `zz(0) ‖ zz(1) ‖ zz(version)`, no key prehash,
//! SHA-256 value prehash, varint length prefixes) and each level up is an `InnerOp` whose
//! prefix is `zz(height) ‖ zz(size) ‖ zz(version) ‖ 0x20` followed, when the proven child is
//! the right one, by `left ‖ 0x20`; the suffix is `0x20 ‖ right` when the child is the left
//! one and empty otherwise.
//!
//! Shape: the sorted keys are split in halves recursively (left half gets the extra key), so
//! sibling subtrees differ in height by at most one (a valid AVL tree) and every leaf sits
//! at depth ⌊log2 N⌋ or ⌈log2 N⌉. That is the *shortest* an IAVL tree of N keys can be; a
//! tree grown by inserts is AVL-balanced but may be up to ~1.44 × log2 N deep, so these
//! proofs are the best case for ics23.

use ics23::{commitment_proof, CommitmentProof, ExistenceProof, HashOp, InnerOp, LeafOp, LengthOp};
use sha2::{Digest, Sha256};

/// Every node of the tree is written at this version (one block wrote all keys).
pub const VERSION: i64 = 1;

/// Length prefix of a 32-byte hash (and of a 32-byte value hash): uvarint(32).
const LEN32: u8 = 0x20;

/// Appends `x` as a zig-zag signed varint (what IAVL uses for height, size and version).
fn put_signed_varint(out: &mut Vec<u8>, x: i64) {
    let mut u = ((x << 1) ^ (x >> 63)) as u64;
    put_uvarint_u64(out, &mut u);
}

/// Appends an unsigned (protobuf) varint.
fn put_uvarint(out: &mut Vec<u8>, x: usize) {
    let mut u = x as u64;
    put_uvarint_u64(out, &mut u);
}

fn put_uvarint_u64(out: &mut Vec<u8>, u: &mut u64) {
    while *u >= 0x80 {
        out.push((*u as u8) | 0x80);
        *u >>= 7;
    }
    out.push(*u as u8);
}

/// `zz(height) ‖ zz(size) ‖ zz(version)`: the start of every IAVL node hash.
fn node_prefix(height: u8, size: u64) -> Vec<u8> {
    let mut p = Vec::with_capacity(12);
    put_signed_varint(&mut p, i64::from(height));
    put_signed_varint(&mut p, size as i64);
    put_signed_varint(&mut p, VERSION);
    p
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The leaf hash of `key` → `value`.
pub fn leaf_hash(key: &[u8], value: &[u8]) -> [u8; 32] {
    let prefix = node_prefix(0, 1);
    let mut len = Vec::with_capacity(3);
    put_uvarint(&mut len, key.len());
    sha256(&[&prefix, &len, key, &[LEN32], &sha256(&[value])])
}

/// The hash of an inner node with the given height, size and children.
pub fn inner_hash(height: u8, size: u64, left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    sha256(&[&node_prefix(height, size), &[LEN32], left, &[LEN32], right])
}

/// One node of the in-memory tree.
#[derive(Debug, Clone)]
struct Node {
    hash: [u8; 32],
    height: u8,
    size: u64,
    /// Children (indices into `IavlTree::nodes`); `None` for a leaf.
    children: Option<(usize, usize)>,
}

/// A balanced IAVL tree: every key and value kept, every node hash computed.
pub struct IavlTree {
    /// (key, value), sorted by key.
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    nodes: Vec<Node>,
    root: usize,
}

impl IavlTree {
    /// Builds the tree of `entries` (any order; keys must be distinct and non-empty, values
    /// non-empty: ics23 refuses empty ones).
    pub fn build(mut entries: Vec<(Vec<u8>, Vec<u8>)>) -> Self {
        assert!(!entries.is_empty(), "an IAVL tree needs at least one key");
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        assert!(
            entries.windows(2).all(|w| w[0].0 != w[1].0),
            "duplicate key"
        );
        let mut tree = IavlTree {
            nodes: Vec::with_capacity(2 * entries.len()),
            root: 0,
            entries,
        };
        tree.root = tree.build_range(0, tree.entries.len());
        tree
    }

    /// Builds the subtree over `entries[lo..hi]` and returns its node index.
    fn build_range(&mut self, lo: usize, hi: usize) -> usize {
        let node = if hi - lo == 1 {
            let (k, v) = &self.entries[lo];
            Node {
                hash: leaf_hash(k, v),
                height: 0,
                size: 1,
                children: None,
            }
        } else {
            let mid = lo + (hi - lo).div_ceil(2);
            let l = self.build_range(lo, mid);
            let r = self.build_range(mid, hi);
            let (ln, rn) = (&self.nodes[l], &self.nodes[r]);
            let height = 1 + ln.height.max(rn.height);
            let size = ln.size + rn.size;
            Node {
                hash: inner_hash(height, size, &ln.hash, &rn.hash),
                height,
                size,
                children: Some((l, r)),
            }
        };
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// The root hash (what a header would commit to).
    pub fn root(&self) -> Vec<u8> {
        self.nodes[self.root].hash.to_vec()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Never true (a tree has at least one key); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Height of the root (the longest path).
    pub fn height(&self) -> u8 {
        self.nodes[self.root].height
    }

    /// The ics23 existence proof of `key`, or `None` if the key is not in the tree.
    pub fn prove(&self, key: &[u8]) -> Option<CommitmentProof> {
        let index = self
            .entries
            .binary_search_by(|(k, _)| k.as_slice().cmp(key))
            .ok()?;
        // Walk down from the root, remembering each inner node and which side we took.
        let mut steps: Vec<(usize, bool)> = Vec::new();
        let (mut node, mut lo, mut hi) = (self.root, 0, self.entries.len());
        while let Some((l, r)) = self.nodes[node].children {
            let mid = lo + (hi - lo).div_ceil(2);
            let right = index >= mid;
            steps.push((node, right));
            if right {
                node = r;
                lo = mid;
            } else {
                node = l;
                hi = mid;
            }
        }
        debug_assert_eq!((lo, hi), (index, index + 1));
        // ics23 lists inner ops from the leaf up.
        let path = steps
            .iter()
            .rev()
            .map(|&(n, right)| {
                let node = &self.nodes[n];
                let (l, r) = node.children.expect("inner node");
                let mut prefix = node_prefix(node.height, node.size);
                prefix.push(LEN32);
                let mut suffix = Vec::new();
                if right {
                    prefix.extend_from_slice(&self.nodes[l].hash);
                    prefix.push(LEN32);
                } else {
                    suffix.push(LEN32);
                    suffix.extend_from_slice(&self.nodes[r].hash);
                }
                InnerOp {
                    hash: HashOp::Sha256.into(),
                    prefix,
                    suffix,
                }
            })
            .collect();
        let (k, v) = &self.entries[index];
        let leaf = LeafOp {
            hash: HashOp::Sha256.into(),
            prehash_key: HashOp::NoHash.into(),
            prehash_value: HashOp::Sha256.into(),
            length: LengthOp::VarProto.into(),
            prefix: node_prefix(0, 1),
        };
        Some(CommitmentProof {
            proof: Some(commitment_proof::Proof::Exist(ExistenceProof {
                key: k.clone(),
                value: v.clone(),
                leaf: Some(leaf),
                path,
            })),
        })
    }
}

/// The existence proof inside a commitment proof built by [`IavlTree::prove`].
pub fn existence(proof: &CommitmentProof) -> &ExistenceProof {
    match &proof.proof {
        Some(commitment_proof::Proof::Exist(e)) => e,
        _ => panic!("not an existence proof"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ics23::{calculate_existence_root, iavl_spec, verify_membership, HostFunctionsManager};

    fn entries(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n)
            .map(|i| {
                (
                    format!("k/{i}").into_bytes(),
                    sha256(&[&(i as u64).to_be_bytes()]).to_vec(),
                )
            })
            .collect()
    }

    fn verifies(proof: &CommitmentProof, root: &[u8], key: &[u8], value: &[u8]) -> bool {
        verify_membership::<HostFunctionsManager>(proof, &iavl_spec(), &root.to_vec(), key, value)
    }

    #[test]
    fn varints_match_go_encoding() {
        let mut out = Vec::new();
        put_signed_varint(&mut out, 0);
        put_signed_varint(&mut out, 1);
        put_signed_varint(&mut out, 64);
        put_signed_varint(&mut out, 100_000);
        // zig-zag: 0 -> 0, 1 -> 2, 64 -> 128 (two bytes), 100000 -> 200000.
        assert_eq!(out, vec![0x00, 0x02, 0x80, 0x01, 0xc0, 0x9a, 0x0c]);
    }

    #[test]
    fn single_leaf_and_two_leaves_by_hand() {
        let one = IavlTree::build(vec![(b"a".to_vec(), b"1".to_vec())]);
        assert_eq!(one.root(), leaf_hash(b"a", b"1").to_vec());
        let p = one.prove(b"a").unwrap();
        assert!(existence(&p).path.is_empty());
        assert!(verifies(&p, &one.root(), b"a", b"1"));

        let two = IavlTree::build(vec![
            (b"b".to_vec(), b"2".to_vec()),
            (b"a".to_vec(), b"1".to_vec()),
        ]);
        let root = inner_hash(1, 2, &leaf_hash(b"a", b"1"), &leaf_hash(b"b", b"2"));
        assert_eq!(two.root(), root.to_vec());
        for (k, v) in [(b"a", b"1"), (b"b", b"2")] {
            let p = two.prove(k).unwrap();
            assert_eq!(existence(&p).path.len(), 1);
            assert!(verifies(&p, &root, k, v));
        }
    }

    #[test]
    fn every_proof_verifies_and_has_balanced_depth() {
        for n in [3usize, 7, 8, 9, 100, 1000] {
            let es = entries(n);
            let tree = IavlTree::build(es.clone());
            let root = tree.root();
            let floor = usize::BITS - 1 - n.leading_zeros();
            let ceil = n.next_power_of_two().trailing_zeros();
            assert_eq!(u32::from(tree.height()), ceil, "n = {n}");
            for (k, v) in &es {
                let p = tree.prove(k).unwrap();
                let ex = existence(&p);
                let depth = ex.path.len() as u32;
                assert!(floor <= depth && depth <= ceil, "n = {n}, depth {depth}");
                assert_eq!(
                    calculate_existence_root::<HostFunctionsManager>(ex).unwrap(),
                    root
                );
                assert!(verifies(&p, &root, k, v), "n = {n}");
            }
        }
    }

    /// A proof produced by the real IAVL (Go) for ics23's own test suite
    /// (`testdata/iavl/exist_left.json` in the cosmos/ics23 repository, Apache-2.0): a
    /// 12-level path in a tree written at version 1. Our hash functions must reproduce its
    /// leaf hash, every inner node hash (from the height and size in each prefix) and its
    /// root, which shows our encoding is IAVL's and not merely one ics23 accepts.
    #[test]
    fn reproduces_a_proof_made_by_iavl() {
        use prost::Message;
        const KEY: &str = "3033763434454574647248423556417579715966";
        const VALUE: &str = "76616c75655f666f725f3033763434454574647248423556417579715966";
        const ROOT: &str = "77e43ef93047a91fe457f5498bd7afc60b9dddd661d8f1225e5f40a91bda4623";
        const PROOF: &str = concat!(
            "0a89040a143033763434454574647248423556417579715966121e76616c75655f666f725f",
            "30337634344545746472484235564175797159661a0b0801180120012a03000202222b0801",
            "1204040602201a2120afca3de8c7aefe1041f185a34e977a976b37d6ce4cce80e5e4545b93",
            "413eca02222b08011204060c02201a21205e1712938d9dcef396a76bbd7ea844bcc7e72a64",
            "d416485ba14e8c679402dfc3222b08011204081802201a2120c6a6430436f6e95ab0c90d7c",
            "3d32c7e62884a1e28e22da87f9e8c863782b7195222b080112040a2c02201a21201204acd0",
            "c729844aa19ffa80cfdfcb931f1ea54167babe1872a2fdcdf520962a222b080112040c4402",
            "201a2120c21911260b253d74c89d95ec7534b7499b98a8b7523857f7f31e6af723245b8922",
            "2b080112040e6e02201a212045a06e0b8f7391f60a5f716eeef9eb01d8c588bbdbfb4e6a67",
            "718e92ab3ed12d222c0801120512960202201a21209b77ab64f5b7c290b608533b70612d18",
            "a0d55ede4ccb2f9418b56aa17069e966222c0801120514e60302201a2120246dce928b807f",
            "040230219a808c049d7a172108db6b1c83c445c66373ea4cd9222c0801120516800802201a",
            "2120ec794fb7e49d3d3554680ad0df7d1cc3797201fe33fc8288581f7ad32bb995c0222c08",
            "01120518b60f02201a21203b05428644520c7bae4be197ecb6de54a03a18a1ebd34836eea3",
            "1fe593a6b6e0",
        );
        let (key, value) = (hex::decode(KEY).unwrap(), hex::decode(VALUE).unwrap());
        let proof = CommitmentProof::decode(hex::decode(PROOF).unwrap().as_slice()).unwrap();
        let ex = existence(&proof);
        assert_eq!(ex.leaf.as_ref().unwrap().prefix, node_prefix(0, 1));
        let mut node = leaf_hash(&key, &value);
        for step in &ex.path {
            // zz(height) ‖ zz(size) ‖ zz(version): single-byte height, sizes below 2^13.
            let mut rest = &step.prefix[..];
            let mut read = || {
                let (mut x, mut shift) = (0u64, 0);
                loop {
                    let b = rest[0];
                    rest = &rest[1..];
                    x |= u64::from(b & 0x7f) << shift;
                    shift += 7;
                    if b < 0x80 {
                        return (x >> 1) as i64;
                    }
                }
            };
            let (height, size, version) = (read(), read(), read());
            assert_eq!(version, VERSION);
            let (left, right) = if step.suffix.is_empty() {
                (rest[1..33].try_into().unwrap(), node)
            } else {
                (node, step.suffix[1..33].try_into().unwrap())
            };
            node = inner_hash(height as u8, size as u64, &left, &right);
        }
        assert_eq!(hex::encode(node), ROOT);
        assert!(verifies(&proof, &node, &key, &value));
    }

    #[test]
    fn tampering_is_refused() {
        let es = entries(1000);
        let tree = IavlTree::build(es.clone());
        let root = tree.root();
        let (k, v) = &es[123];
        let p = tree.prove(k).unwrap();
        assert!(verifies(&p, &root, k, v));
        let mut other = v.clone();
        other[0] ^= 1;
        assert!(!verifies(&p, &root, k, &other), "tampered value");
        assert!(!verifies(&p, &root, b"k/1000", v), "other key");
        let mut bad_root = root.clone();
        bad_root[31] ^= 1;
        assert!(!verifies(&p, &bad_root, k, v), "other root");
        let mut forged = p.clone();
        if let Some(commitment_proof::Proof::Exist(e)) = &mut forged.proof {
            let step = &mut e.path[3];
            if step.suffix.is_empty() {
                step.prefix[10] ^= 1; // inside the left sibling hash
            } else {
                step.suffix[5] ^= 1; // inside the right sibling hash
            }
        }
        assert!(!verifies(&forged, &root, k, v), "tampered sibling");
        assert!(tree.prove(b"absent").is_none());
    }
}
