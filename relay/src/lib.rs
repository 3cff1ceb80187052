//! # xrelay
//!
//! The relayer and its command line: configuration ([`config`]), the relayer's store
//! ([`store`]), the relay core ([`core`]: scanners, lane workers, light clients,
//! misbehaviour detection), metrics and the HTTP API, the process runner, and the devnet
//! tooling that runs the reference chain.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod attestations;
pub mod cli;
pub mod clock;
/// The configuration (its own crate, `xrelay-config`, so that it can be fuzzed without the
/// relayer's RocksDB and libp2p); `crate::config::…` paths name it here.
pub use xrelay_config as config;
pub mod core;
pub mod cpu;
pub mod devnet;
pub mod keys;
pub mod logging;
pub mod mesh;
pub mod metrics;
pub mod runner;
/// The status sampler is part of the core (it reads the relay's state and the core starts
/// it), so the core and it do not import each other; `crate::status::…` paths keep naming it.
pub use crate::core::status;
pub mod store;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod wiring;
