//! Merkle-Patricia trie proofs as `eth_getProof` returns them: an account proof against a
//! block's state root and a storage proof against the account's storage root.
//!
//! A proof is the list of RLP-encoded trie nodes on the path from the root to the key,
//! root first, each node referenced from its parent by its keccak-256 hash, except nodes
//! whose encoding is shorter than 32 bytes, which sit embedded in their parent and are not
//! listed. The key is the 64-nibble keccak-256 of the address (accounts) or of the slot
//! (storage). The walk ends at the leaf holding the key (membership), or proves absence:
//! an empty branch slot where the key's next nibble points, or a leaf or extension whose
//! path diverges from the key.
//!
//! Written here rather than taken from `alloy-trie` (which the tests check it against on
//! random and mutated proofs): the verifier must be strict, bounded and panic-free on
//! hostile input, returning a typed error for every failure, and it runs inside an
//! on-chain client where it must not allocate per node. It refuses what `alloy-trie`
//! tolerates: nodes after the point that settles the key, branch values (a trie of
//! fixed-length keys has none), leaves whose path does not end at the key length, an
//! extension whose child is not a branch, non-canonical hex-prefix paths.

use alloy_rlp::Header;
use sha3::{Digest, Keccak256};

/// Most nodes a proof may hold: a path through 64 nibbles has at most 64 hashed nodes.
pub const MAX_PROOF_NODES: usize = 64;

/// Largest node accepted: a full branch of 16 hashes is 532 bytes, a leaf holding an
/// account about 110; 4 KiB leaves room for any real node and bounds hostile ones.
pub const MAX_NODE_LEN: usize = 4096;

/// keccak-256 of the empty string's RLP (`0x80`): the root of an empty trie (an account
/// without storage has it as its storage root).
pub const EMPTY_ROOT: [u8; 32] = [
    0x56, 0xe8, 0x1f, 0x17, 0x1b, 0xcc, 0x55, 0xa6, 0xff, 0x83, 0x45, 0xe6, 0x92, 0xc0, 0xf8, 0x6e,
    0x5b, 0x48, 0xe0, 0x1b, 0x99, 0x6c, 0xad, 0xc0, 0x01, 0x62, 0x2f, 0xb5, 0xe3, 0x63, 0xb4, 0x21,
];

/// Nibbles in a trie key (a 32-byte keccak-256 digest).
const KEY_NIBBLES: usize = 64;

/// Why a proof does not establish what it claims. Verification never panics; it returns
/// one of these, naming the node (its index in the proof) where it failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MptError {
    /// More nodes than any path needs.
    #[error("proof has {count} nodes, above the maximum {max}")]
    TooManyNodes {
        /// Nodes given.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// A node above the size bound.
    #[error("proof node {index} is {len} bytes, above the maximum {max}")]
    NodeTooLong {
        /// The node's index in the proof.
        index: usize,
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A node's keccak-256 is not the reference its parent (or the root) holds.
    #[error("proof node {index} does not hash to the reference that leads to it")]
    HashMismatch {
        /// The node's index in the proof.
        index: usize,
    },
    /// The proof stops where the path continues into a hashed node it does not include.
    #[error("proof ends before node {index}, which the path needs")]
    MissingNode {
        /// Index the missing node would have.
        index: usize,
    },
    /// Nodes follow the one that already settles the key (its leaf or its absence).
    #[error("proof node {index} settles the key, but {extra} more node(s) follow")]
    TrailingNodes {
        /// The node that settles the key.
        index: usize,
        /// Nodes after it.
        extra: usize,
    },
    /// A node is not valid (canonical) RLP.
    #[error("proof node {index} is not valid RLP: {error}")]
    Rlp {
        /// The node's index in the proof.
        index: usize,
        /// What the RLP decoder found.
        error: alloy_rlp::Error,
    },
    /// A node decodes as RLP but is not a trie node of a fixed-length-key trie.
    #[error("proof node {index} is malformed: {reason}")]
    Malformed {
        /// The node's index in the proof.
        index: usize,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The leaf of an account proof does not hold a valid account.
    #[error("the proven leaf is not a valid account: {0}")]
    BadAccount(&'static str),
    /// The leaf of a storage proof does not hold a valid storage value.
    #[error("the proven leaf is not a valid storage value: {0}")]
    BadStorageValue(&'static str),
}

/// An account as the state trie stores it (RLP `[nonce, balance, storageRoot, codeHash]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Transactions sent (or contracts created) by the account.
    pub nonce: u64,
    /// Balance in wei, 256-bit big-endian.
    pub balance: [u8; 32],
    /// Root of the account's storage trie ([`EMPTY_ROOT`] if it has no storage).
    pub storage_root: [u8; 32],
    /// keccak-256 of the account's code.
    pub code_hash: [u8; 32],
}

/// keccak-256, the hash of every Merkle-Patricia node and key.
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// Verifies an `eth_getProof` account proof of `address` against a block's state root.
/// Returns the account, or `None` if the proof shows it does not exist.
pub fn verify_account<N: AsRef<[u8]>>(
    state_root: &[u8; 32],
    address: &[u8; 20],
    proof: &[N],
) -> Result<Option<Account>, MptError> {
    match verify_proof(state_root, &keccak256(address), proof)? {
        None => Ok(None),
        Some(leaf) => decode_account(leaf).map(Some),
    }
}

/// Verifies an `eth_getProof` storage proof of `slot` against an account's storage root.
/// Returns the slot's 256-bit value, big-endian; zero if the proof shows the slot absent
/// (the EVM never stores a zero).
pub fn verify_storage<N: AsRef<[u8]>>(
    storage_root: &[u8; 32],
    slot: &[u8; 32],
    proof: &[N],
) -> Result<[u8; 32], MptError> {
    match verify_proof(storage_root, &keccak256(slot), proof)? {
        None => Ok([0u8; 32]),
        Some(leaf) => decode_storage_value(leaf),
    }
}

/// Verifies a proof for the 64-nibble trie key `key` (already hashed) against `root`.
/// Returns the leaf's value (the raw bytes the trie stores: RLP of an account or of a
/// storage integer), borrowed from the proof, or `None` for a proven absence.
pub fn verify_proof<'p, N: AsRef<[u8]>>(
    root: &[u8; 32],
    key: &[u8; 32],
    proof: &'p [N],
) -> Result<Option<&'p [u8]>, MptError> {
    if proof.len() > MAX_PROOF_NODES {
        return Err(MptError::TooManyNodes {
            count: proof.len(),
            max: MAX_PROOF_NODES,
        });
    }
    if let Some((index, node)) = proof
        .iter()
        .enumerate()
        .find(|(_, n)| n.as_ref().len() > MAX_NODE_LEN)
    {
        return Err(MptError::NodeTooLong {
            index,
            len: node.as_ref().len(),
            max: MAX_NODE_LEN,
        });
    }
    // The empty trie: no node at all, or the single node `0x80` that its root hashes.
    if *root == EMPTY_ROOT {
        return match proof {
            [] => Ok(None),
            [only] if only.as_ref() == [alloy_rlp::EMPTY_STRING_CODE] => Ok(None),
            [_, ..] if proof[0].as_ref() == [alloy_rlp::EMPTY_STRING_CODE] => {
                Err(MptError::TrailingNodes {
                    index: 0,
                    extra: proof.len() - 1,
                })
            }
            _ => Err(MptError::HashMismatch { index: 0 }),
        };
    }
    let mut walk = Walk {
        key,
        depth: 0,
        expect_branch: false,
    };
    let mut expected = *root;
    for (index, node) in proof.iter().enumerate() {
        let node = node.as_ref();
        if keccak256(node) != expected {
            return Err(MptError::HashMismatch { index });
        }
        let outcome = walk.node(node).map_err(|e| e.at(index))?;
        match outcome {
            Step::Next(hash) => expected = hash,
            Step::Done(value) => {
                let extra = proof.len() - index - 1;
                if extra > 0 {
                    return Err(MptError::TrailingNodes { index, extra });
                }
                return Ok(value);
            }
        }
    }
    Err(MptError::MissingNode { index: proof.len() })
}

/// Where one node leads.
enum Step<'a> {
    /// To the hashed node with this reference.
    Next([u8; 32]),
    /// Nowhere: the key's leaf value, or `None` for proven absence.
    Done(Option<&'a [u8]>),
}

/// A node-level failure, placed at its proof index by [`NodeError::at`].
enum NodeError {
    Rlp(alloy_rlp::Error),
    Malformed(&'static str),
}

impl NodeError {
    fn at(self, index: usize) -> MptError {
        match self {
            NodeError::Rlp(error) => MptError::Rlp { index, error },
            NodeError::Malformed(reason) => MptError::Malformed { index, reason },
        }
    }
}

impl From<alloy_rlp::Error> for NodeError {
    fn from(e: alloy_rlp::Error) -> Self {
        NodeError::Rlp(e)
    }
}

/// The position of a walk down the trie along `key`.
struct Walk<'k> {
    key: &'k [u8; 32],
    /// Nibbles of the key consumed so far.
    depth: usize,
    /// The node reached next was referenced by an extension, so it must be a branch.
    expect_branch: bool,
}

/// One RLP item of a node: its payload and its whole encoding.
#[derive(Clone, Copy, Default)]
struct Item<'a> {
    list: bool,
    payload: &'a [u8],
    raw: &'a [u8],
}

/// What a branch slot or an extension's child refers to.
enum Child<'a> {
    Empty,
    Hash([u8; 32]),
    Embedded(&'a [u8]),
}

impl Walk<'_> {
    fn nibble(&self, i: usize) -> u8 {
        let byte = self.key[i / 2];
        if i.is_multiple_of(2) {
            byte >> 4
        } else {
            byte & 0x0f
        }
    }

    /// Walks one hashed node and any nodes embedded in it.
    fn node<'a>(&mut self, mut raw: &'a [u8]) -> Result<Step<'a>, NodeError> {
        loop {
            let mut items = [Item::default(); 17];
            let count = decode_node(raw, &mut items)?;
            let must_be_branch = std::mem::replace(&mut self.expect_branch, false);
            if count == 17 {
                if self.depth >= KEY_NIBBLES {
                    return Err(NodeError::Malformed("branch below the full key length"));
                }
                if items[16].list || !items[16].payload.is_empty() {
                    return Err(NodeError::Malformed(
                        "branch holds a value (keys have a fixed length)",
                    ));
                }
                let slot = items[usize::from(self.nibble(self.depth))];
                self.depth += 1;
                match child(slot)? {
                    Child::Empty => return Ok(Step::Done(None)),
                    Child::Hash(h) => return Ok(Step::Next(h)),
                    Child::Embedded(inner) => raw = inner,
                }
                continue;
            }
            if must_be_branch {
                return Err(NodeError::Malformed("extension child is not a branch"));
            }
            let (is_leaf, path) = hex_prefix(items[0])?;
            let len = path.len();
            if is_leaf {
                if self.depth + len != KEY_NIBBLES {
                    return Err(NodeError::Malformed(
                        "leaf path does not end at the key length",
                    ));
                }
                let value = items[1];
                if value.list || value.payload.is_empty() {
                    return Err(NodeError::Malformed("leaf value is not a non-empty string"));
                }
                let matches = path
                    .iter()
                    .enumerate()
                    .all(|(i, n)| n == self.nibble(self.depth + i));
                return Ok(Step::Done(matches.then_some(value.payload)));
            }
            if len == 0 || self.depth + len >= KEY_NIBBLES {
                return Err(NodeError::Malformed(
                    "extension path is empty or reaches the key length",
                ));
            }
            if !path
                .iter()
                .enumerate()
                .all(|(i, n)| n == self.nibble(self.depth + i))
            {
                return Ok(Step::Done(None));
            }
            self.depth += len;
            self.expect_branch = true;
            match child(items[1])? {
                Child::Empty => return Err(NodeError::Malformed("extension without a child")),
                Child::Hash(h) => return Ok(Step::Next(h)),
                Child::Embedded(inner) => raw = inner,
            }
        }
    }
}

/// Decodes a node: an RLP list of 2 (leaf, extension) or 17 (branch) items using every
/// byte. Returns the item count.
fn decode_node<'a>(raw: &'a [u8], items: &mut [Item<'a>; 17]) -> Result<usize, NodeError> {
    let mut buf = raw;
    let header = Header::decode(&mut buf)?;
    if !header.list {
        return Err(NodeError::Malformed("node is not an RLP list"));
    }
    if buf.len() != header.payload_length {
        return Err(NodeError::Malformed("bytes after the node's RLP list"));
    }
    let mut count = 0;
    while !buf.is_empty() {
        if count == items.len() {
            return Err(NodeError::Malformed("node has more than 17 items"));
        }
        let start = buf;
        let h = Header::decode(&mut buf)?;
        let payload = &buf[..h.payload_length];
        buf = &buf[h.payload_length..];
        items[count] = Item {
            list: h.list,
            payload,
            raw: &start[..start.len() - buf.len()],
        };
        count += 1;
    }
    match count {
        2 | 17 => Ok(count),
        _ => Err(NodeError::Malformed("node has neither 2 nor 17 items")),
    }
}

/// A child reference: empty, a 32-byte hash, or a node embedded because its encoding is
/// shorter than 32 bytes.
fn child(item: Item<'_>) -> Result<Child<'_>, NodeError> {
    if item.list {
        return if item.raw.len() < 32 {
            Ok(Child::Embedded(item.raw))
        } else {
            Err(NodeError::Malformed("embedded node of 32 bytes or more"))
        };
    }
    match item.payload.len() {
        0 => Ok(Child::Empty),
        32 => {
            let mut h = [0u8; 32];
            h.copy_from_slice(item.payload);
            Ok(Child::Hash(h))
        }
        _ => Err(NodeError::Malformed(
            "child reference is neither empty, a hash nor an embedded node",
        )),
    }
}

/// A hex-prefix (compact) path: flag nibble (bit 1: leaf, bit 0: odd length), then the
/// nibbles, padded with a zero nibble when even.
struct Path<'a> {
    bytes: &'a [u8],
    odd: bool,
}

impl Path<'_> {
    fn len(&self) -> usize {
        (self.bytes.len() - 1) * 2 + usize::from(self.odd)
    }

    fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        let first = self.odd.then_some(self.bytes[0] & 0x0f);
        first
            .into_iter()
            .chain(self.bytes[1..].iter().flat_map(|b| [b >> 4, b & 0x0f]))
    }
}

fn hex_prefix(item: Item<'_>) -> Result<(bool, Path<'_>), NodeError> {
    if item.list {
        return Err(NodeError::Malformed("node path is a list"));
    }
    let Some(&first) = item.payload.first() else {
        return Err(NodeError::Malformed("node path is empty"));
    };
    let flag = first >> 4;
    if flag > 3 {
        return Err(NodeError::Malformed("hex-prefix flag above 3"));
    }
    let odd = flag & 1 == 1;
    if !odd && first & 0x0f != 0 {
        return Err(NodeError::Malformed(
            "even hex-prefix path with a non-zero pad nibble",
        ));
    }
    Ok((
        flag & 2 == 2,
        Path {
            bytes: item.payload,
            odd,
        },
    ))
}

/// A canonical RLP unsigned integer of at most `N` bytes, left-padded to `N`.
fn rlp_uint<const N: usize>(buf: &mut &[u8]) -> Result<[u8; N], &'static str> {
    let bytes = Header::decode_bytes(buf, false).map_err(|_| "integer is not an RLP string")?;
    if bytes.len() > N {
        return Err("integer too wide");
    }
    if bytes.first() == Some(&0) {
        return Err("integer with a leading zero");
    }
    let mut out = [0u8; N];
    out[N - bytes.len()..].copy_from_slice(bytes);
    Ok(out)
}

fn rlp_hash(buf: &mut &[u8]) -> Result<[u8; 32], &'static str> {
    let bytes = Header::decode_bytes(buf, false).map_err(|_| "hash is not an RLP string")?;
    bytes.try_into().map_err(|_| "hash is not 32 bytes")
}

/// Decodes the RLP list `[nonce, balance, storageRoot, codeHash]`, strictly.
fn decode_account(leaf: &[u8]) -> Result<Account, MptError> {
    let decode = || -> Result<Account, &'static str> {
        let mut buf = leaf;
        let mut fields =
            Header::decode_bytes(&mut buf, true).map_err(|_| "account is not an RLP list")?;
        if !buf.is_empty() {
            return Err("bytes after the account");
        }
        let account = Account {
            nonce: u64::from_be_bytes(rlp_uint::<8>(&mut fields)?),
            balance: rlp_uint::<32>(&mut fields)?,
            storage_root: rlp_hash(&mut fields)?,
            code_hash: rlp_hash(&mut fields)?,
        };
        if !fields.is_empty() {
            return Err("account has more than 4 fields");
        }
        Ok(account)
    };
    decode().map_err(MptError::BadAccount)
}

/// Decodes a storage leaf: the RLP string of a non-zero integer of at most 32 bytes.
fn decode_storage_value(leaf: &[u8]) -> Result<[u8; 32], MptError> {
    let mut buf = leaf;
    let value = rlp_uint::<32>(&mut buf).map_err(MptError::BadStorageValue)?;
    if !buf.is_empty() {
        return Err(MptError::BadStorageValue("bytes after the value"));
    }
    if value == [0u8; 32] {
        return Err(MptError::BadStorageValue("zero is never stored"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_keccak_of_the_empty_string_rlp() {
        assert_eq!(keccak256(&[0x80]), EMPTY_ROOT);
    }

    #[test]
    fn empty_trie_proves_absence_only_with_no_node_or_its_one_node() {
        let key = [7u8; 32];
        let none: [&[u8]; 0] = [];
        assert_eq!(verify_proof(&EMPTY_ROOT, &key, &none), Ok(None));
        assert_eq!(verify_proof(&EMPTY_ROOT, &key, &[[0x80u8]]), Ok(None));
        assert_eq!(
            verify_proof(&EMPTY_ROOT, &key, &[vec![0x80u8], vec![0x80]]),
            Err(MptError::TrailingNodes { index: 0, extra: 1 })
        );
        assert_eq!(
            verify_proof(&EMPTY_ROOT, &key, &[[0xc0u8]]),
            Err(MptError::HashMismatch { index: 0 })
        );
        assert_eq!(
            verify_storage(&EMPTY_ROOT, &[1u8; 32], &none),
            Ok([0u8; 32])
        );
    }

    #[test]
    fn single_leaf_trie() {
        // A trie with one leaf: [hex-prefix(0x20 ‖ key), rlp(0x2a)].
        let key = [0xabu8; 32];
        let mut path = vec![0x20];
        path.extend_from_slice(&key);
        let node = rlp_list(&[rlp_string(&path), rlp_string(&[0x2a])]);
        let root = keccak256(&node);
        assert_eq!(verify_proof(&root, &key, &[&node]), Ok(Some(&[0x2a][..])));
        let mut other = key;
        other[31] ^= 1;
        assert_eq!(verify_proof(&root, &other, &[&node]), Ok(None));
        let no_nodes: [&[u8]; 0] = [];
        assert_eq!(
            verify_proof(&root, &key, &no_nodes),
            Err(MptError::MissingNode { index: 0 })
        );
        assert_eq!(
            verify_proof(&root, &key, &[&node, &node]),
            Err(MptError::TrailingNodes { index: 0, extra: 1 })
        );
    }

    #[test]
    fn bounds_are_typed_errors() {
        let key = [0u8; 32];
        let many = vec![vec![0xc0u8]; MAX_PROOF_NODES + 1];
        assert_eq!(
            verify_proof(&[1u8; 32], &key, &many),
            Err(MptError::TooManyNodes {
                count: MAX_PROOF_NODES + 1,
                max: MAX_PROOF_NODES
            })
        );
        let big = vec![vec![0u8; MAX_NODE_LEN + 1]];
        assert_eq!(
            verify_proof(&[1u8; 32], &key, &big),
            Err(MptError::NodeTooLong {
                index: 0,
                len: MAX_NODE_LEN + 1,
                max: MAX_NODE_LEN
            })
        );
    }

    #[test]
    fn malformed_nodes_are_typed_errors() {
        let key = [0u8; 32];
        for (node, reason) in [
            (vec![0x82, 0x01, 0x02], "node is not an RLP list"),
            (
                rlp_list(&[rlp_string(&[0x20])]),
                "node has neither 2 nor 17 items",
            ),
            (
                rlp_list(&[rlp_string(&[0x40]), rlp_string(&[1])]),
                "hex-prefix flag above 3",
            ),
            (
                rlp_list(&[rlp_string(&[0x21]), rlp_string(&[1])]),
                "even hex-prefix path with a non-zero pad nibble",
            ),
            (
                rlp_list(&[rlp_string(&[0x20]), rlp_string(&[1])]),
                "leaf path does not end at the key length",
            ),
        ] {
            let root = keccak256(&node);
            assert_eq!(
                verify_proof(&root, &key, &[&node]),
                Err(MptError::Malformed { index: 0, reason }),
                "{}",
                hex::encode(&node)
            );
        }
        // Non-canonical RLP (a one-byte string below 0x80 with a length prefix).
        let node = vec![0xc2, 0x81, 0x05];
        assert!(matches!(
            verify_proof(&keccak256(&node), &key, &[&node]),
            Err(MptError::Rlp { index: 0, .. })
        ));
    }

    #[test]
    fn account_and_storage_values_are_strict() {
        let account = rlp_list(&[
            rlp_string(&[1]),
            rlp_string(&[0x0d, 0xe0]),
            rlp_string(&[0x11; 32]),
            rlp_string(&[0x22; 32]),
        ]);
        let decoded = decode_account(&account).unwrap();
        assert_eq!(decoded.nonce, 1);
        assert_eq!(&decoded.balance[30..], &[0x0d, 0xe0]);
        let leading_zero = rlp_list(&[
            rlp_string(&[0, 1]),
            rlp_string(&[]),
            rlp_string(&[0x11; 32]),
            rlp_string(&[0x22; 32]),
        ]);
        assert_eq!(
            decode_account(&leading_zero),
            Err(MptError::BadAccount("integer with a leading zero"))
        );
        assert_eq!(decode_storage_value(&[0x2a]).unwrap()[31], 0x2a);
        assert_eq!(
            decode_storage_value(&[0x80]),
            Err(MptError::BadStorageValue("zero is never stored"))
        );
        assert_eq!(
            decode_storage_value(&rlp_string(&[0u8; 33])),
            Err(MptError::BadStorageValue("integer too wide"))
        );
    }

    fn rlp_string(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        <[u8] as alloy_rlp::Encodable>::encode(bytes, &mut out);
        out
    }

    fn rlp_list(items: &[Vec<u8>]) -> Vec<u8> {
        let len: usize = items.iter().map(Vec::len).sum();
        let mut out = Vec::new();
        Header {
            list: true,
            payload_length: len,
        }
        .encode(&mut out);
        for i in items {
            out.extend_from_slice(i);
        }
        out
    }
}
