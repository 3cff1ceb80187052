//! Read-only queries over committed state (what the node's RPC answers). Its own file
//! because queries write nothing and run outside any transaction: they read a
//! [`StateRead`] by the same keys the handlers write.

use serde::{Deserialize, Serialize};
use xrelay_light_client::evm::client::EvmClientState;
use xrelay_light_client::{paths, Address, ChainId, ClientState, Decode};

use super::keys;
use super::ModuleError;
use crate::bank;
use crate::state::{Overlay, StateRead, StorageError};
use xrelay_protocol::Outcome;

/// Where a message sent on `source`→`destination` at `sequence` stands, seen from the
/// source chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SentStatus {
    /// Never sent.
    Unknown,
    /// Committed, not settled yet.
    Pending,
    /// Settled.
    Settled(Outcome),
}

/// Status of a message this chain sent.
pub fn sent_status(
    state: &dyn StateRead,
    destination: &ChainId,
    sequence: u64,
) -> Result<SentStatus, StorageError> {
    if state
        .get(&paths::commitment(destination, sequence))?
        .is_some()
    {
        return Ok(SentStatus::Pending);
    }
    Ok(match state.get(&paths::outcome(destination, sequence))? {
        Some(b) => b
            .first()
            .and_then(|b| Outcome::from_byte(*b))
            .map_or(SentStatus::Unknown, SentStatus::Settled),
        None => SentStatus::Unknown,
    })
}

/// Whether a message from `source` at `sequence` was received (and its app ran) here.
pub fn received(
    state: &dyn StateRead,
    source: &ChainId,
    sequence: u64,
) -> Result<bool, StorageError> {
    Ok(state.get(&paths::receipt(source, sequence))?.is_some())
}

/// The client of `chain`, if any.
pub fn client(state: &dyn StateRead, chain: &ChainId) -> Result<Option<ClientState>, ModuleError> {
    match state.get(&keys::client(chain))? {
        Some(bytes) => Ok(Some(ClientState::decode(&bytes)?)),
        None => Ok(None),
    }
}

/// The client of the EVM chain `chain`, if any. Stored bytes that do not decode are a
/// storage failure (the module only ever writes canonical states there).
pub fn evm_client(
    state: &dyn StateRead,
    chain: &ChainId,
) -> Result<Option<EvmClientState>, StorageError> {
    match state.get(&keys::evm_client(chain))? {
        Some(bytes) => EvmClientState::decode(&bytes).map(Some).map_err(|e| {
            StorageError(format!("stored EVM client of {chain} does not decode: {e}"))
        }),
        None => Ok(None),
    }
}

/// Balance of `account` in `denom`.
pub fn balance(
    state: &dyn StateRead,
    denom: &str,
    account: &Address,
) -> Result<u128, StorageError> {
    bank::balance(&Overlay::new(state), denom, account)
}

/// Tokens of `denom` that exist on this chain (balances and escrow together).
pub fn supply(state: &dyn StateRead, denom: &str) -> Result<u128, StorageError> {
    bank::supply(&Overlay::new(state), denom)
}

/// What is escrowed here for `counterparty` in `denom`.
pub fn escrow(
    state: &dyn StateRead,
    counterparty: &ChainId,
    denom: &str,
) -> Result<u128, StorageError> {
    bank::escrowed(&Overlay::new(state), counterparty, denom)
}

/// The nonce `account` must sign its next action with.
pub fn nonce(state: &dyn StateRead, account: &Address) -> Result<u64, StorageError> {
    Overlay::new(state).get_u64(&keys::nonce(account))
}

/// The next sequence to be sent to `destination`, and the next expected from `source`.
pub fn lane_counters(state: &dyn StateRead, other: &ChainId) -> Result<(u64, u64), StorageError> {
    let o = Overlay::new(state);
    Ok((
        o.get_u64(&paths::next_send(other))?.max(1),
        o.get_u64(&paths::next_receive(other))?.max(1),
    ))
}
