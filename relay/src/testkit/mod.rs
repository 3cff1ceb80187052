//! In-process chains for fast tests of the relay core (feature `testkit`, always on in
//! this crate's unit tests).
//!
//! Each [`MemChain`] is a real devchain: the node's `Chain` with the real module and apps
//! over a memory store, real signed headers and real state proofs; blocks are produced
//! when a test asks (or for every submitted transaction). It implements
//! [`ChainAdapter`](xrelay_adapters::ChainAdapter) with the devchain adapter's semantics,
//! so the relay core runs on it unchanged, and it has fault hooks ([`Faults`]): lying
//! events, forged proofs, conflicting headers, withheld blocks, and the devchain node's own
//! `--fault` modes. [`Harness`] puts a [`Relay`](crate::core::Relay) over two or three of
//! them with a real [`RelayStore`](crate::store::RelayStore) on a temporary directory, and
//! can restart it from that store. The end-to-end suite keeps running real processes;
//! this is for the core's unit tests, which run in milliseconds.

mod adapter;
mod chain;
mod faults;
mod harness;

pub use chain::{governance, user, ChainSpec, MemChain, TestkitError};
pub use faults::{Faults, Forgery};
pub use harness::{net, net_of, Harness, Options, StepReport};
