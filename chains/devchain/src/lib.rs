//! # xrelay-devchain
//!
//! The chain side of xrelay. [`module`] is what a chain embeds: per counterparty a light
//! client (from `xrelay-light-client`), the outbox, the inbox, acknowledgements and
//! timeouts, and the apps in [`apps`]. Everything it stores lives in the state tree, so a
//! relayer can prove any of it to another chain.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod amount;
pub mod apps;
pub mod bank;
#[cfg(feature = "client")]
pub mod client;
pub mod context;
pub mod keyfile;
pub mod module;
#[cfg(feature = "node")]
pub mod node;
pub mod rpc_answers;
pub mod state;
pub mod tx;

pub use module::{Context, Event, Genesis, Module, ModuleError, TxReport};
pub use state::{MemoryState, Overlay, StateRead, StorageError};
pub use tx::{Action, SignedAction, Tx};
