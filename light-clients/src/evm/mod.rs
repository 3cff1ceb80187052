//! Light clients of EVM chains: block headers hashed as keccak-256 of their RLP, finality
//! from QBFT / IBFT 2.0 committed seals, Clique seals, or a committee of attesters (for dev
//! nodes whose headers carry no seals), and account/storage proofs (Merkle-Patricia) against
//! a verified state root. The devchain's on-chain client of an EVM chain and the relayer's
//! own client use this same code.

pub mod attest;
pub mod client;
pub mod clique;
pub mod consensus;
pub mod header;
pub mod istanbul;
pub mod misbehaviour;
pub mod mpt;
pub mod testkit;
