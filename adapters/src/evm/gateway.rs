//! The Gateway contract as the relayer sees it: the calls it makes (each carrying the same
//! canonical body as the devchain's relay transaction, PROTOCOL.md §9.2) and the events it
//! reads, decoded into the chain-agnostic [`ChainEvent`]s.

use alloy::primitives::Log as PrimitiveLog;
use alloy::sol_types::SolEvent;
use xrelay_light_client::{Acknowledgement, ChainId, Decode, Hash32, Height, Message};

use crate::{AdapterError, ChainEvent};

pub use xrelay_evm::evm_light_client::EvmLightClient;
/// The Gateway's and the light client's bindings, generated from the committed artifacts
/// of `chains/evm`, so the adapter cannot drift from the contracts it calls.
pub use xrelay_evm::gateway::Gateway;
pub use xrelay_evm::light_client::BftLightClient;

/// The topics the adapter filters the Gateway's logs by.
pub fn topics() -> Vec<alloy::primitives::B256> {
    vec![
        Gateway::Sent::SIGNATURE_HASH,
        Gateway::Received::SIGNATURE_HASH,
        Gateway::Expired::SIGNATURE_HASH,
        Gateway::Acknowledged::SIGNATURE_HASH,
        Gateway::TimedOut::SIGNATURE_HASH,
        Gateway::AlreadyDone::SIGNATURE_HASH,
        Gateway::ClientUpdated::SIGNATURE_HASH,
        Gateway::ClientFrozen::SIGNATURE_HASH,
    ]
}

/// One decoded Gateway log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayLog {
    /// A protocol event.
    Event(ChainEvent),
    /// An item of a relay transaction that had already been processed.
    AlreadyDone,
}

fn bad(chain: &ChainId, why: String) -> AdapterError {
    AdapterError::BadAnswer {
        chain: chain.to_string(),
        why,
    }
}

fn message(chain: &ChainId, bytes: &[u8]) -> Result<Message, AdapterError> {
    Message::decode(bytes).map_err(|e| bad(chain, format!("Gateway event message: {e}")))
}

fn ack(chain: &ChainId, bytes: &[u8]) -> Result<Acknowledgement, AdapterError> {
    Acknowledgement::decode(bytes).map_err(|e| bad(chain, format!("Gateway event ack: {e}")))
}

/// Decodes one Gateway log emitted in the block at `height`. Logs of other shapes are
/// refused (the filter asks for the Gateway's topics only, so one here is a bad answer).
pub fn decode_log(
    chain: &ChainId,
    height: Height,
    log: &PrimitiveLog,
) -> Result<GatewayLog, AdapterError> {
    let topic = log
        .topics()
        .first()
        .copied()
        .ok_or_else(|| bad(chain, "Gateway log without a topic".into()))?;
    let decoded = |e: alloy::sol_types::Error| bad(chain, format!("Gateway log: {e}"));
    let event = match topic {
        Gateway::Sent::SIGNATURE_HASH => {
            let e = Gateway::Sent::decode_log_data(&log.data).map_err(decoded)?;
            ChainEvent::Sent {
                height,
                message: message(chain, &e.message)?,
            }
        }
        Gateway::Received::SIGNATURE_HASH => {
            let e = Gateway::Received::decode_log_data(&log.data).map_err(decoded)?;
            ChainEvent::Received {
                height,
                message: message(chain, &e.message)?,
                ack: ack(chain, &e.ack)?,
            }
        }
        Gateway::Expired::SIGNATURE_HASH => {
            let e = Gateway::Expired::decode_log_data(&log.data).map_err(decoded)?;
            ChainEvent::Expired {
                height,
                message: message(chain, &e.message)?,
            }
        }
        Gateway::Acknowledged::SIGNATURE_HASH => {
            let e = Gateway::Acknowledged::decode_log_data(&log.data).map_err(decoded)?;
            ChainEvent::Acknowledged {
                height,
                message: message(chain, &e.message)?,
                ack: ack(chain, &e.ack)?,
            }
        }
        Gateway::TimedOut::SIGNATURE_HASH => {
            let e = Gateway::TimedOut::decode_log_data(&log.data).map_err(decoded)?;
            ChainEvent::TimedOut {
                height,
                message: message(chain, &e.message)?,
            }
        }
        Gateway::AlreadyDone::SIGNATURE_HASH => {
            Gateway::AlreadyDone::decode_log_data(&log.data).map_err(decoded)?;
            return Ok(GatewayLog::AlreadyDone);
        }
        Gateway::ClientUpdated::SIGNATURE_HASH => {
            let e = Gateway::ClientUpdated::decode_log_data(&log.data).map_err(decoded)?;
            if e.heights.len() != e.hashes.len() {
                return Err(bad(
                    chain,
                    "ClientUpdated: heights and hashes differ in length".into(),
                ));
            }
            ChainEvent::ClientUpdated {
                height,
                of: ChainId::decode_str(chain, &e.chainId)?,
                headers: e
                    .heights
                    .iter()
                    .zip(e.hashes.iter())
                    .map(|(h, x)| (*h, Hash32(x.0)))
                    .collect(),
            }
        }
        Gateway::ClientFrozen::SIGNATURE_HASH => {
            let e = Gateway::ClientFrozen::decode_log_data(&log.data).map_err(decoded)?;
            ChainEvent::ClientFrozen {
                height,
                of: ChainId::decode_str(chain, &e.chainId)?,
            }
        }
        other => return Err(bad(chain, format!("unexpected Gateway log topic {other}"))),
    };
    Ok(GatewayLog::Event(event))
}

/// Chain ids in Gateway events are the id's raw bytes (not the length-prefixed encoding).
trait ChainIdFromEvent: Sized {
    fn decode_str(chain: &ChainId, bytes: &[u8]) -> Result<Self, AdapterError>;
}

impl ChainIdFromEvent for ChainId {
    fn decode_str(chain: &ChainId, bytes: &[u8]) -> Result<Self, AdapterError> {
        let s = std::str::from_utf8(bytes)
            .map_err(|_| bad(chain, "Gateway event chain id is not UTF-8".into()))?;
        ChainId::new(s).map_err(|e| bad(chain, format!("Gateway event chain id: {e}")))
    }
}
