//! `evm::mpt::verify_proof` on arbitrary node lists against an arbitrary root (what a
//! relayer or a chain gets in an `eth_getProof` answer): it must never panic, and it must be
//! deterministic. Input: `u8 mode` ‖ `key` (32 bytes) ‖ `root` (32 bytes) ‖ nodes, each a
//! `u16` big-endian length then its bytes (a short last node takes what is left). Mode bit
//! 0 replaces the root with keccak-256 of the first node, so the walk gets past the root
//! check and into the node decoding; bit 1 uses the empty-trie root. A value the verifier
//! returns must be the bytes of one of the given nodes; the account and storage wrappers
//! run on the same proof.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_light_client::evm::mpt::{
    keccak256, verify_account, verify_proof, verify_storage, EMPTY_ROOT,
};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((key, rest)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let Some((root, mut rest)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let mut nodes: Vec<&[u8]> = Vec::new();
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len)).min(tail.len());
        nodes.push(&tail[..len]);
        rest = &tail[len..];
    }
    let root = match (mode & 1, mode & 2, nodes.first()) {
        (_, 2, _) => EMPTY_ROOT,
        (1, _, Some(first)) => keccak256(first),
        _ => *root,
    };
    let first = verify_proof(&root, key, &nodes);
    assert_eq!(first, verify_proof(&root, key, &nodes), "not deterministic");
    if let Ok(Some(value)) = first {
        assert!(
            nodes.iter().any(|n| {
                let (start, end) = (n.as_ptr() as usize, n.as_ptr() as usize + n.len());
                let v = value.as_ptr() as usize;
                v >= start && v + value.len() <= end
            }),
            "the value is not inside a proof node"
        );
    }
    let mut address = [0u8; 20];
    address.copy_from_slice(&key[..20]);
    let _ = verify_account(&root, &address, &nodes);
    let _ = verify_storage(&root, key, &nodes);
});
