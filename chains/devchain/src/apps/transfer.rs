//! `transfer`: fungible tokens across chains. Sending a token native to this chain (or a
//! voucher of a third chain) escrows it per destination; the destination mints a voucher
//! `v/{source}/{denom}`. Sending a voucher back to the chain it came from burns it there, and
//! that chain releases the escrow. A timeout or an error ack refunds the sender. So for every
//! token, escrow on its home chain always equals the vouchers outstanding elsewhere plus
//! what is in flight, and nothing is created or lost.
//!
//! The balances, supplies and escrows it moves are the bank's ([`crate::bank`]):
//! this app decides what moves, the bank keeps the state and its key layout.

use xrelay_light_client::{Acknowledgement, Address, ChainId, Decode, Message};

use super::{App, AppError};
use crate::bank;
use crate::context::Context;
use crate::state::Overlay;
use xrelay_protocol::transfer::{check_denom, TransferPacket};

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

fn packet(message: &Message) -> Result<TransferPacket, AppError> {
    TransferPacket::decode(&message.payload).map_err(|e| AppError::BadPayload(e.to_string()))
}

/// Gives back what `on_send` took: re-mint a burned voucher, or release the escrow.
fn refund(state: &mut Overlay<'_>, message: &Message) -> Result<(), AppError> {
    let p = packet(message)?;
    if returning_home(&p.denom, &message.destination).is_some() {
        bank::mint(state, &p.denom, &p.sender, p.amount)?;
    } else {
        bank::release(state, &message.destination, &p.denom, p.amount)?;
        bank::credit(state, &p.denom, &p.sender, p.amount)?;
    }
    Ok(())
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
        bank::debit(state, &p.denom, sender, p.amount)?;
        if returning_home(&p.denom, destination).is_some() {
            // A voucher going home: it stops existing here.
            bank::burn(state, &p.denom, p.amount)?;
        } else {
            bank::escrow(state, destination, &p.denom, p.amount)?;
        }
        Ok(())
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
                bank::release(state, &message.source, home_denom, p.amount)?;
                bank::credit(state, home_denom, &p.receiver, p.amount)?;
            }
            None => {
                let v = voucher(&message.source, &p.denom);
                check_denom(&v).map_err(|e| AppError::BadPayload(e.to_string()))?;
                bank::mint(state, &v, &p.receiver, p.amount)?;
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
    use xrelay_light_client::Encode;

    #[test]
    fn denominations_and_vouchers() {
        let alpha = ChainId::new("alpha").unwrap();
        assert!(check_denom("v/alpha/xrd").is_ok());
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
