//! The `transfer` app's packet (PROTOCOL.md §9.4): both ends of a lane decode the same
//! bytes, whatever chain family runs the app, so the packet and its denomination rule live
//! here once.

use xrelay_light_client::encoding::{Reader, Writer};
use xrelay_light_client::{Address, Decode, DecodeError, Encode};

/// Longest denomination: a bound on every key a denomination is part of.
pub const MAX_DENOM_LEN: usize = 128;

/// Checks a denomination before it becomes part of a key: 1–128 bytes of `[A-Za-z0-9._/-]`,
/// no empty `/` segment.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denominations() {
        assert!(check_denom("xrd").is_ok());
        assert!(check_denom("v/alpha/xrd").is_ok());
        assert!(check_denom("v//xrd").is_err());
        assert!(check_denom("").is_err());
        assert!(check_denom("a b").is_err());
        assert!(check_denom(&"a".repeat(MAX_DENOM_LEN)).is_ok());
        assert!(check_denom(&"a".repeat(MAX_DENOM_LEN + 1)).is_err());
    }
}
