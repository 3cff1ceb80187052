//! # xrelay
//!
//! The relayer and its command line. Today: the devnet tooling (`xrelay devnet node`,
//! `xrelay devnet up`) that runs the reference chain; the relay core, adapters, metrics and
//! API land here next.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod devnet;
