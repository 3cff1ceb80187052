//! The outbox as ack and timeout see it: whether a sent message is still pending, and
//! settling it. Shared by the `ack` and `timeout` handlers (which must not import each
//! other), so both read and settle commitments by one rule.

use xrelay_light_client::{paths, Message};

use super::checks;

use super::ModuleError;
use crate::state::Overlay;
use xrelay_protocol::Outcome;

/// Loads the commitment of an outbound message: `true` if pending and identical, `false` if
/// it was already settled, an error if it never existed or differs. Ack and timeout call it
/// so that a settled message counts as already done, not as an error.
pub(super) fn pending(s: &Overlay<'_>, m: &Message) -> Result<bool, ModuleError> {
    match s.get(&paths::commitment(&m.destination, m.sequence))? {
        Some(stored) => checks::check_commitment(&stored, m).map(|_| true),
        None if s.has(&paths::outcome(&m.destination, m.sequence))? => Ok(false),
        None => Err(ModuleError::UnknownMessage {
            sequence: m.sequence,
        }),
    }
}

/// Deletes a sent message's commitment and records how it ended, so that a settled message
/// can never be settled again and its status stays queryable.
pub(super) fn settle(
    s: &mut Overlay<'_>,
    m: &Message,
    outcome: Outcome,
) -> Result<(), ModuleError> {
    s.delete(paths::commitment(&m.destination, m.sequence));
    s.set(
        paths::outcome(&m.destination, m.sequence),
        vec![outcome.byte()],
    );
    Ok(())
}
