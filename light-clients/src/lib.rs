//! # xrelay-light-client
//!
//! Everything the rest of xrelay trusts: protocol types with one canonical byte layout,
//! BFT header verification (adjacent, skipping, bisection), misbehaviour evidence, and
//! sparse Merkle state proofs. Pure code: no I/O, no async, no storage engine, so that a
//! relayer, a chain and a fuzzer can all embed it. `docs/PROTOCOL.md` specifies every byte
//! that is hashed or signed.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bisection;
pub mod chain;
pub mod client;
pub mod crypto;
pub mod encoding;
pub mod evm;
pub mod hash;
pub mod header;
pub mod message;
pub mod misbehaviour;
pub mod proof;
#[cfg(feature = "prover")]
pub mod prover;
pub mod testkit;
pub mod validator;
pub mod verifier;

pub use bisection::{bisect, Bisected, Bisection, BisectionError, LightBlockSource, Step};
pub use chain::{ChainId, Height, TimeMs};
pub use client::{
    ClientError, ClientState, ClientStatus, ConsensusState, Frozen, NoMeter, ProofClaim,
    VerifyMeter,
};
pub use crypto::{Address, PublicKeyBytes, Signature65, SignatureError, SigningKey};
pub use encoding::{Decode, DecodeError, Encode};
pub use hash::{sha256, Hash32};
pub use header::{Commit, CommitSig, Header, LightBlock, SignedHeader};
pub use message::{paths, Acknowledgement, Message, MessageId, Timeout};
pub use misbehaviour::{Misbehaviour, MisbehaviourError, MisbehaviourKind};
pub use proof::{verify_batch, BatchItem, ProofError, ProofLeaf, StateProof};
pub use validator::{Fraction, Validator, ValidatorSet};
pub use verifier::{
    Parallelism, SignatureFault, TrustOptions, TrustedState, Verifier, VerifyError,
};
