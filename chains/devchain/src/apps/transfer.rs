//! `transfer`: fungible tokens across chains. Sending a token native to this chain (or a
//! voucher of a third chain) escrows it per destination; the destination mints a voucher
//! `v/{source}/{denom}`. Sending a voucher back to the chain it came from burns it there, and
//! that chain releases the escrow. A timeout or an error ack refunds the sender. So for every
//! token, escrow on its home chain always equals the vouchers outstanding elsewhere plus
//! what is in flight, and nothing is created or lost.
//!
//! State: `balances/{denom}/{account}` (u128), `supply/{denom}` (u128, tokens that exist on
//! this chain, escrow included), `escrow/{counterparty}/{denom}` (u128).

use xrelay_light_client::encoding::{Reader, Writer};
use xrelay_light_client::{
    Acknowledgement, Address, ChainId, Decode, DecodeError, Encode, Message,
};

use super::{App, AppError};
use crate::module::Context;
use crate::state::{Overlay, StorageError};

/// Longest denomination.
pub const MAX_DENOM_LEN: usize = 128;

/// The payload of a transfer message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferPacket {
    /// The token as named on the sending chain.
    pub denom: String,
    /// Amount, at least 1.
    pub amount: u128,
    /// The paying account on the source.
    pub sender: Address,
    /// The receiving account on the destination.
    pub receiver: Address,
}

impl Encode for TransferPacket {
    fn encode_to(&self, w: &mut Writer) {
        w.bytes(self.denom.as_bytes())
            .fixed(&self.amount.to_be_bytes())
            .put(&self.sender)
            .put(&self.receiver);
    }
}

impl Decode for TransferPacket {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let denom = std::str::from_utf8(r.bytes("denom", MAX_DENOM_LEN)?)
            .map_err(|_| DecodeError::invalid("denom", "not UTF-8"))?
            .to_string();
        let packet = TransferPacket {
            denom,
            amount: u128::from_be_bytes(r.array()?),
            sender: r.get()?,
            receiver: r.get()?,
        };
        check_denom(&packet.denom)?;
        if packet.amount == 0 {
            return Err(DecodeError::invalid("amount", "zero"));
        }
        Ok(packet)
    }
}

/// Denominations are 1–128 bytes of `[A-Za-z0-9._/-]`, no empty `/` segment.
pub fn check_denom(denom: &str) -> Result<(), DecodeError> {
    let ok_chars = denom
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
    if denom.is_empty()
        || denom.len() > MAX_DENOM_LEN
        || !ok_chars
        || denom.split('/').any(str::is_empty)
    {
        return Err(DecodeError::invalid(
            "denom",
            format!("{denom:?} is not a valid denomination"),
        ));
    }
    Ok(())
}

/// The voucher name on this chain of `denom` arriving from `source`.
pub fn voucher(source: &ChainId, denom: &str) -> String {
    format!("v/{source}/{denom}")
}

/// If `denom` (as named here) is a voucher of `home`, the name it has on `home`.
fn returning_home<'a>(denom: &'a str, home: &ChainId) -> Option<&'a str> {
    denom
        .strip_prefix("v/")?
        .strip_prefix(home.as_str())?
        .strip_prefix('/')
}

/// Key of an account's balance.
pub fn balance_key(denom: &str, account: &Address) -> Vec<u8> {
    format!("balances/{denom}/{account}").into_bytes()
}

/// Key of a token's supply on this chain.
pub fn supply_key(denom: &str) -> Vec<u8> {
    format!("supply/{denom}").into_bytes()
}

/// Key of what is escrowed here for `counterparty`.
pub fn escrow_key(counterparty: &ChainId, denom: &str) -> Vec<u8> {
    format!("escrow/{counterparty}/{denom}").into_bytes()
}

/// Balance of `account` in `denom`.
pub fn balance(state: &Overlay<'_>, denom: &str, account: &Address) -> Result<u128, StorageError> {
    state.get_u128(&balance_key(denom, account))
}

fn debit(
    state: &mut Overlay<'_>,
    denom: &str,
    account: &Address,
    amount: u128,
) -> Result<(), AppError> {
    let key = balance_key(denom, account);
    let have = state.get_u128(&key)?;
    let left = have
        .checked_sub(amount)
        .ok_or_else(|| AppError::InsufficientFunds {
            denom: denom.to_string(),
            balance: have,
            amount,
        })?;
    state.set_u128(key, left);
    Ok(())
}

fn credit(state: &mut Overlay<'_>, key: Vec<u8>, amount: u128) -> Result<(), AppError> {
    let now = state
        .get_u128(&key)?
        .checked_add(amount)
        .ok_or(AppError::Overflow)?;
    state.set_u128(key, now);
    Ok(())
}

fn reduce(state: &mut Overlay<'_>, key: Vec<u8>, amount: u128) -> Result<(), AppError> {
    let have = state.get_u128(&key)?;
    let left = have.checked_sub(amount).ok_or_else(|| {
        AppError::BadPayload(format!(
            "{} holds {have}, cannot release {amount}",
            String::from_utf8_lossy(&key)
        ))
    })?;
    state.set_u128(key, left);
    Ok(())
}

/// Mints `amount` of `denom` to `account` (genesis, vouchers, refunds of burns).
pub fn mint(
    state: &mut Overlay<'_>,
    denom: &str,
    account: &Address,
    amount: u128,
) -> Result<(), AppError> {
    credit(state, supply_key(denom), amount)?;
    credit(state, balance_key(denom, account), amount)
}

fn packet(message: &Message) -> Result<TransferPacket, AppError> {
    TransferPacket::decode(&message.payload).map_err(|e| AppError::BadPayload(e.to_string()))
}

/// Gives back what `on_send` took: re-mint a burned voucher, or release the escrow.
fn refund(state: &mut Overlay<'_>, message: &Message) -> Result<(), AppError> {
    let p = packet(message)?;
    if returning_home(&p.denom, &message.destination).is_some() {
        mint(state, &p.denom, &p.sender, p.amount)
    } else {
        reduce(state, escrow_key(&message.destination, &p.denom), p.amount)?;
        credit(state, balance_key(&p.denom, &p.sender), p.amount)
    }
}

/// The transfer app.
pub struct Transfer;

impl App for Transfer {
    fn name(&self) -> &'static str {
        "transfer"
    }

    fn on_send(
        &self,
        state: &mut Overlay<'_>,
        _: &Context,
        sender: &Address,
        destination: &ChainId,
        payload: &[u8],
    ) -> Result<(), AppError> {
        let p = TransferPacket::decode(payload).map_err(|e| AppError::BadPayload(e.to_string()))?;
        if p.sender != *sender {
            return Err(AppError::SenderMismatch {
                payload: p.sender.to_string(),
                actual: sender.to_string(),
            });
        }
        debit(state, &p.denom, sender, p.amount)?;
        if returning_home(&p.denom, destination).is_some() {
            // A voucher going home: it stops existing here.
            reduce(state, supply_key(&p.denom), p.amount)
        } else {
            credit(state, escrow_key(destination, &p.denom), p.amount)
        }
    }

    fn on_recv(
        &self,
        state: &mut Overlay<'_>,
        ctx: &Context,
        message: &Message,
    ) -> Result<Vec<u8>, AppError> {
        let p = packet(message)?;
        match returning_home(&p.denom, &ctx.chain_id) {
            Some(home_denom) => {
                reduce(state, escrow_key(&message.source, home_denom), p.amount)?;
                credit(state, balance_key(home_denom, &p.receiver), p.amount)?;
            }
            None => {
                let v = voucher(&message.source, &p.denom);
                check_denom(&v).map_err(|e| AppError::BadPayload(e.to_string()))?;
                mint(state, &v, &p.receiver, p.amount)?;
            }
        }
        Ok(vec![1])
    }

    fn on_ack(
        &self,
        state: &mut Overlay<'_>,
        message: &Message,
        ack: &Acknowledgement,
    ) -> Result<(), AppError> {
        if ack.is_success() {
            Ok(())
        } else {
            refund(state, message)
        }
    }

    fn on_timeout(&self, state: &mut Overlay<'_>, message: &Message) -> Result<(), AppError> {
        refund(state, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denominations_and_vouchers() {
        let alpha = ChainId::new("alpha").unwrap();
        assert!(check_denom("xrd").is_ok());
        assert!(check_denom("v/alpha/xrd").is_ok());
        assert!(check_denom("v//xrd").is_err());
        assert!(check_denom("").is_err());
        assert!(check_denom("a b").is_err());
        assert_eq!(voucher(&alpha, "xrd"), "v/alpha/xrd");
        assert_eq!(returning_home("v/alpha/xrd", &alpha), Some("xrd"));
        assert_eq!(returning_home("v/alphabet/xrd", &alpha), None);
        assert_eq!(returning_home("xrd", &alpha), None);
    }

    #[test]
    fn packets_round_trip_strictly() {
        let p = TransferPacket {
            denom: "xrd".into(),
            amount: 5,
            sender: Address([1; 20]),
            receiver: Address([2; 20]),
        };
        assert_eq!(TransferPacket::decode(&p.encode()).unwrap(), p);
        let zero = TransferPacket { amount: 0, ..p };
        assert!(TransferPacket::decode(&zero.encode()).is_err());
    }
}
