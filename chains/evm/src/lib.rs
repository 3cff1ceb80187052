//! # xrelay-evm
//!
//! The EVM side of xrelay: Solidity contracts (`contracts/`), their compiled artifacts
//! (`artifacts/`, produced by `compile.mjs` with the pinned solc and committed, so building
//! this crate never needs node), alloy bindings generated from those artifacts, and the
//! encoders of the byte bodies the contracts take. The bodies are the canonical encodings of
//! `docs/PROTOCOL.md`, the same bytes as the devchain's relay transactions (§9.2), so one
//! encoder serves both chains.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod artifacts;
pub mod evm_light_client;
pub mod light_client;

pub use evm_light_client::{
    create_evm_client_args, deploy_evm_light_client, evm_misbehaviour_body, evm_update_body,
    EvmLightClientError,
};
pub use light_client::{
    create_client_args, deploy_light_client, misbehaviour_body, update_body, LightClientError,
};
pub mod gateway;
pub mod mpt;
pub mod mpt_harness;
pub mod node;
