//! The module's rules as pure functions of values: no state, no I/O, so each rule can be
//! read and tested on its own. Handlers load what a rule needs, call it, then write.

use xrelay_light_client::{Address, ChainId, Hash32, Height, Message, Signature65, TimeMs};

use super::{Context, ModuleError};

/// What to do with a message arriving on a lane whose next expected sequence is `next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Already processed: a no-op reported as "already delivered".
    Duplicate,
    /// The next one, and still in time: run the app.
    Deliver,
    /// The next one, but past its timeout here: advance the lane without running the app
    /// (no receipt, so the source can prove the timeout and refund).
    Expired,
}

/// A message received here must come from `source` and be addressed to this chain.
pub fn check_inbound_lane(
    ctx: &Context,
    source: &ChainId,
    message: &Message,
) -> Result<(), ModuleError> {
    if message.source != *source || message.destination != ctx.chain_id {
        return Err(ModuleError::WrongLane {
            expected: format!("{source} -> {}", ctx.chain_id),
            found: format!("{} -> {}", message.source, message.destination),
        });
    }
    Ok(())
}

/// An ack or timeout handled here must be for a message this chain sent to `destination`.
pub fn check_outbound_lane(
    ctx: &Context,
    destination: &ChainId,
    message: &Message,
) -> Result<(), ModuleError> {
    if message.source != ctx.chain_id || message.destination != *destination {
        return Err(ModuleError::WrongLane {
            expected: format!("{} -> {destination}", ctx.chain_id),
            found: format!("{} -> {}", message.source, message.destination),
        });
    }
    Ok(())
}

/// Lane order: below `next` is a duplicate, above is a gap (refused), `next` is delivered
/// unless this block is past the message's timeout.
pub fn check_arrival(next: u64, message: &Message, ctx: &Context) -> Result<Arrival, ModuleError> {
    use std::cmp::Ordering::*;
    match message.sequence.cmp(&next) {
        Less => Ok(Arrival::Duplicate),
        Greater => Err(ModuleError::OutOfOrder {
            expected: next,
            found: message.sequence,
        }),
        Equal if message.timeout.has_passed(ctx.height, ctx.time_ms) => Ok(Arrival::Expired),
        Equal => Ok(Arrival::Deliver),
    }
}

/// A message the source proves timed out can only be skipped here: if this chain would
/// still deliver it, the proof cannot be right.
pub fn check_settled_timeout(arrival: Arrival, message: &Message) -> Result<(), ModuleError> {
    if arrival == Arrival::Deliver {
        return Err(ModuleError::NotTimedOut {
            sequence: message.sequence,
            height: 0,
            time_ms: 0,
        });
    }
    Ok(())
}

/// A timeout is provable only at a destination height (and that header's time) at or past
/// the message's timeout.
pub fn check_timeout_passed(
    message: &Message,
    proof_height: Height,
    proof_time_ms: TimeMs,
) -> Result<(), ModuleError> {
    if message.timeout.has_passed(proof_height, proof_time_ms) {
        Ok(())
    } else {
        Err(ModuleError::NotTimedOut {
            sequence: message.sequence,
            height: proof_height,
            time_ms: proof_time_ms,
        })
    }
}

/// The stored commitment must be this exact message.
pub fn check_commitment(stored: &[u8], message: &Message) -> Result<(), ModuleError> {
    if stored != message.commitment().0 {
        return Err(ModuleError::CommitmentMismatch {
            sequence: message.sequence,
        });
    }
    Ok(())
}

/// A signed action must recover to its signer and use the signer's next nonce.
pub fn check_signed(
    digest: &Hash32,
    signer: &Address,
    signature: &Signature65,
    expected_nonce: u64,
    nonce: u64,
) -> Result<(), ModuleError> {
    match signature.recover_address(digest) {
        Ok(a) if a == *signer => {}
        _ => return Err(ModuleError::BadSignature { signer: *signer }),
    }
    if nonce != expected_nonce {
        return Err(ModuleError::BadNonce {
            expected: expected_nonce,
            found: nonce,
        });
    }
    Ok(())
}

/// Governance actions are taken only by the governance account.
pub fn check_governance(governance: Option<Address>, signer: &Address) -> Result<(), ModuleError> {
    if governance != Some(*signer) {
        return Err(ModuleError::NotGovernance { signer: *signer });
    }
    Ok(())
}

/// A batch must carry at least one item.
pub fn check_non_empty(len: usize) -> Result<(), ModuleError> {
    if len == 0 {
        return Err(ModuleError::EmptyBatch);
    }
    Ok(())
}
