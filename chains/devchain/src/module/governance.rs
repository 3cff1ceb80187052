//! The governance account: written at genesis, read by the actions only it may sign
//! (creating and resetting clients). Its own file so that the one rule "only governance"
//! has one home; the client handlers it guards stay free of account checks.

use xrelay_light_client::Address;

use super::checks;
use super::keys;
use super::ModuleError;
use crate::state::Overlay;

/// Records the governance account (genesis).
pub(super) fn install(s: &mut Overlay<'_>, governance: &Address) {
    s.set(keys::GOVERNANCE.to_vec(), governance.0.to_vec());
}

/// The governance account, if one was set.
fn governance(s: &Overlay<'_>) -> Result<Option<Address>, ModuleError> {
    Ok(s.get(keys::GOVERNANCE)?
        .and_then(|b| b.try_into().ok())
        .map(Address))
}

/// Refuses `signer` unless it is the governance account: the gate of every client
/// creation or reset signed by an account.
pub(super) fn require(s: &Overlay<'_>, signer: &Address) -> Result<(), ModuleError> {
    checks::check_governance(governance(s)?, signer)
}
