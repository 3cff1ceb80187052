//! The block a transaction runs in. It is its own module because both the module's handlers
//! and the apps' callbacks take it: apps import it from here without depending on the
//! module's handlers.

use xrelay_light_client::{ChainId, Height, TimeMs};

/// The block a transaction runs in: the chain's own clock for timeouts and client checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// This chain.
    pub chain_id: ChainId,
    /// Height of the block being built.
    pub height: Height,
    /// Its time.
    pub time_ms: TimeMs,
}
