//! A trusted state as create-client and reset-client actions carry it (PROTOCOL.md §9.2):
//! the devchain's signed actions and an EVM chain's `BftLightClient` take the same bytes.

use xrelay_light_client::encoding::{Reader, Writer};
use xrelay_light_client::{DecodeError, TrustedState};

/// Writes a `TrustedState` as the create-client and reset-client actions carry it (PROTOCOL.md
/// §9.2); an EVM chain's light client takes the same bytes.
pub fn put_trusted(w: &mut Writer, t: &TrustedState) {
    w.put(&t.chain_id)
        .u64(t.height)
        .u64(t.time_ms)
        .put(&t.header_hash)
        .put(&t.state_root)
        .put(&t.next_validators);
}

/// Reads what [`put_trusted`] wrote.
pub fn get_trusted(r: &mut Reader<'_>) -> Result<TrustedState, DecodeError> {
    Ok(TrustedState {
        chain_id: r.get()?,
        height: r.u64()?,
        time_ms: r.u64()?,
        header_hash: r.get()?,
        state_root: r.get()?,
        next_validators: r.get()?,
    })
}
