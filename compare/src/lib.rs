//! # xrelay-compare
//!
//! Inputs for one benchmark run (`benches/versus.rs`) that sets xrelay-light-client's
//! verification beside two established Rust verifiers at the same sizes:
//! - state proofs: our Jellyfish Merkle membership proofs against ics23 existence proofs of
//!   a balanced IAVL tree ([`iavl`]) over the same keys and values ([`entries`]);
//! - headers: our BFT verification of a commit by N secp256k1 validators against
//!   `tendermint-light-client-verifier`'s `ProdVerifier` on a commit by N ed25519 validators
//!   ([`tm`], [`ours`]);
//! - EVM Merkle-Patricia proofs: our `evm::mpt` verifier against alloy-trie's `verify_proof`
//!   on the same `eth_getProof` node lists of tries alloy-trie built ([`mpt`]).
//!
//! The crate is outside the root workspace on purpose: ics23, tendermint and their
//! dependencies must not change the workspace's feature unification. Everything is built
//! here and checked (proofs verify, tampered ones do not, verifiers accept the headers) so
//! the benchmark measures only genuine successful verifications.

pub mod iavl;
pub mod mpt;
pub mod ours;
pub mod tm;

/// The key of entry `i`: the layout of a lane commitment key (as in the light client's
/// own proof bench).
pub fn key_of(i: usize) -> Vec<u8> {
    format!("commitments/beta/{i}").into_bytes()
}

/// The value of entry `i`: 32 bytes, like a message commitment.
pub fn value_of(i: usize) -> Vec<u8> {
    xrelay_light_client::sha256(&(i as u64).to_be_bytes())
        .0
        .to_vec()
}

/// The `n` (key, value) pairs both trees hold.
pub fn entries(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n).map(|i| (key_of(i), value_of(i))).collect()
}

/// The entries whose proofs are measured: `count` spread evenly over `0..n`.
pub fn sampled(n: usize, count: usize) -> Vec<usize> {
    let step = n / count;
    (0..count).map(|j| j * step + step / 2).collect()
}
