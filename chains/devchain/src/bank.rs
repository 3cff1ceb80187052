//! The bank: token balances, supplies and escrows, and the only code that reads or writes
//! them. It has its own file so that the module (genesis balances, `Pay`, balance queries)
//! and the transfer app (escrow, vouchers, refunds) share one API and neither reaches into a
//! key layout the other owns. It depends on nothing but the state overlay and its own keys
//! ([`keys`]), so apps use it without depending on the module.
//!
//! State: [`keys::balance`], [`keys::supply`], [`keys::escrow`] (PROTOCOL.md §9).

use xrelay_light_client::{Address, ChainId};

use crate::state::{Overlay, StorageError};

/// The state keys the bank owns (listed with the module's in `module::keys`).
pub mod keys {
    use xrelay_light_client::{Address, ChainId};

    /// `balances/{denom}/{account}` → the account's balance of `denom` (u128), kept by the
    /// bank.
    pub fn balance(denom: &str, account: &Address) -> Vec<u8> {
        format!("balances/{denom}/{account}").into_bytes()
    }

    /// `supply/{denom}` → the tokens of `denom` that exist on this chain, escrow included
    /// (u128), kept by the bank.
    pub fn supply(denom: &str) -> Vec<u8> {
        format!("supply/{denom}").into_bytes()
    }

    /// `escrow/{counterparty}/{denom}` → what is escrowed here for sends to `counterparty`
    /// (u128), kept by the bank.
    pub fn escrow(counterparty: &ChainId, denom: &str) -> Vec<u8> {
        format!("escrow/{counterparty}/{denom}").into_bytes()
    }
}

/// Denominations follow the `transfer` packet's rule: every key a denomination is part of
/// stays bounded.
pub use xrelay_protocol::transfer::{check_denom, MAX_DENOM_LEN};

/// Why the bank refused a movement of tokens. Apps turn it into an
/// [`AppError`](crate::apps::AppError) with the same meaning and text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankError {
    /// An account lacks the funds.
    #[error("insufficient funds: {denom} balance {balance} < {amount}")]
    InsufficientFunds {
        /// Token.
        denom: String,
        /// Balance held.
        balance: u128,
        /// Amount asked for.
        amount: u128,
    },
    /// An arithmetic bound was hit (a balance or supply would overflow).
    #[error("amount overflow")]
    Overflow,
    /// A supply or escrow holds less than is released from it: the message claiming it
    /// does not match what this chain recorded.
    #[error("{key} holds {held}, cannot release {amount}")]
    Unbacked {
        /// The key released from, as text.
        key: String,
        /// What it holds.
        held: u128,
        /// What was asked.
        amount: u128,
    },
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Balance of `account` in `denom`, for queries and apps.
pub fn balance(state: &Overlay<'_>, denom: &str, account: &Address) -> Result<u128, StorageError> {
    state.get_u128(&keys::balance(denom, account))
}

/// Tokens of `denom` that exist on this chain (balances and escrow together), for queries.
pub fn supply(state: &Overlay<'_>, denom: &str) -> Result<u128, StorageError> {
    state.get_u128(&keys::supply(denom))
}

/// What is escrowed here for `counterparty` in `denom`, for queries.
pub fn escrowed(
    state: &Overlay<'_>,
    counterparty: &ChainId,
    denom: &str,
) -> Result<u128, StorageError> {
    state.get_u128(&keys::escrow(counterparty, denom))
}

/// Takes `amount` of `denom` from `account`'s balance (a payment or a send); refused if the
/// balance is short.
pub fn debit(
    state: &mut Overlay<'_>,
    denom: &str,
    account: &Address,
    amount: u128,
) -> Result<(), BankError> {
    let key = keys::balance(denom, account);
    let have = state.get_u128(&key)?;
    let left = have
        .checked_sub(amount)
        .ok_or_else(|| BankError::InsufficientFunds {
            denom: denom.to_string(),
            balance: have,
            amount,
        })?;
    state.set_u128(key, left);
    Ok(())
}

/// Adds `amount` of `denom` to `account`'s balance, tokens that already exist here (a
/// payment received, an escrow released).
pub fn credit(
    state: &mut Overlay<'_>,
    denom: &str,
    account: &Address,
    amount: u128,
) -> Result<(), BankError> {
    add(state, keys::balance(denom, account), amount)
}

/// Moves `amount` of `denom` from `from` to `to` (the signed `Pay` action).
pub fn pay(
    state: &mut Overlay<'_>,
    denom: &str,
    from: &Address,
    to: &Address,
    amount: u128,
) -> Result<(), BankError> {
    debit(state, denom, from, amount)?;
    credit(state, denom, to, amount)
}

/// Mints `amount` of `denom` to `account`: the supply grows with the balance (genesis,
/// vouchers, refunds of burns).
pub fn mint(
    state: &mut Overlay<'_>,
    denom: &str,
    account: &Address,
    amount: u128,
) -> Result<(), BankError> {
    add(state, keys::supply(denom), amount)?;
    add(state, keys::balance(denom, account), amount)
}

/// Removes `amount` of `denom` from the supply, tokens already debited from their holder
/// (a voucher going home stops existing here).
pub fn burn(state: &mut Overlay<'_>, denom: &str, amount: u128) -> Result<(), BankError> {
    sub(state, keys::supply(denom), amount)
}

/// Adds `amount` of `denom` to the escrow for `counterparty`, tokens already debited from
/// their holder (a native token or a third chain's voucher sent there).
pub fn escrow(
    state: &mut Overlay<'_>,
    counterparty: &ChainId,
    denom: &str,
    amount: u128,
) -> Result<(), BankError> {
    add(state, keys::escrow(counterparty, denom), amount)
}

/// Takes `amount` of `denom` out of the escrow for `counterparty`, to be credited to an
/// account (a voucher came home, or a send was refunded); refused if the escrow is short.
pub fn release(
    state: &mut Overlay<'_>,
    counterparty: &ChainId,
    denom: &str,
    amount: u128,
) -> Result<(), BankError> {
    sub(state, keys::escrow(counterparty, denom), amount)
}

fn add(state: &mut Overlay<'_>, key: Vec<u8>, amount: u128) -> Result<(), BankError> {
    let now = state
        .get_u128(&key)?
        .checked_add(amount)
        .ok_or(BankError::Overflow)?;
    state.set_u128(key, now);
    Ok(())
}

fn sub(state: &mut Overlay<'_>, key: Vec<u8>, amount: u128) -> Result<(), BankError> {
    let have = state.get_u128(&key)?;
    let left = have
        .checked_sub(amount)
        .ok_or_else(|| BankError::Unbacked {
            key: String::from_utf8_lossy(&key).into_owned(),
            held: have,
            amount,
        })?;
    state.set_u128(key, left);
    Ok(())
}
