//! The reference devchain node: crash-safe storage ([`store`]), the chain it runs
//! ([`chain`]: mempool, block production, signing), the JSON-RPC server ([`rpc`]) and its
//! typed client ([`client`]), the runner that ties them together ([`run`]), and the faults
//! a test can switch on to prove that others refuse them ([`fault`]).

pub mod chain;
/// The RPC client, reachable here too: tools that run a node also talk to one.
pub use crate::client;
pub mod fault;
pub mod rpc;
pub mod run;
pub mod store;
