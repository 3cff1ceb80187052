//! State-tree keys owned by the module (the protocol paths come from
//! `xrelay_light_client::paths`). One place, so two kinds of data can never share a prefix.

use xrelay_light_client::{Address, ChainId};

/// The bank's keys (`balances`, `supply`, `escrow`), kept by [`crate::bank`].
pub use crate::bank::keys::{balance, escrow, supply};

/// `clients/{chain}` → the client of `chain` (canonical `ClientState` bytes).
pub fn client(chain: &ChainId) -> Vec<u8> {
    format!("clients/{chain}").into_bytes()
}

/// `evm_clients/{chain}` → the client of the EVM chain `chain` (canonical
/// `EvmClientState` bytes). A chain has a client here or at [`client`], never both.
pub fn evm_client(chain: &ChainId) -> Vec<u8> {
    format!("evm_clients/{chain}").into_bytes()
}

/// `nonces/{account}` → the account's next nonce (u64).
pub fn nonce(account: &Address) -> Vec<u8> {
    format!("nonces/{account}").into_bytes()
}

/// `governance` → the address allowed to create and reset clients.
pub const GOVERNANCE: &[u8] = b"governance";

/// The value of a receipt: the message was received and its app ran.
pub const RECEIPT: &[u8] = &[1];
