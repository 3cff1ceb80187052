//! The `Send` action: an account's app commits a message for a counterparty. Its own file
//! because it is the one handler that starts a message's life; the others (recv, ack,
//! timeout) each end a step of it.

use xrelay_light_client::{paths, Address, ChainId, Message, Timeout};

use super::counterparty::has_client;
use super::{Context, Event, Module, ModuleError};
use crate::state::Overlay;

impl Module {
    /// Runs `app`'s send callback for `signer` and commits the message at the lane's next
    /// sequence: what an outbound message is on this chain (PROTOCOL.md §9.1).
    // The fields of `Action::Send` are passed as they are, beside the signer.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send(
        &self,
        s: &mut Overlay<'_>,
        ctx: &Context,
        signer: &Address,
        destination: &ChainId,
        app: &str,
        payload: &[u8],
        timeout: Timeout,
    ) -> Result<Vec<Event>, ModuleError> {
        // A lane needs a client of the destination (of either kind) to ever settle.
        if !has_client(s, destination)? {
            return Err(ModuleError::UnknownClient(destination.clone()));
        }
        let app = self.app(app)?;
        let sequence = s.get_u64(&paths::next_send(destination))?.max(1);
        let message = Message {
            source: ctx.chain_id.clone(),
            destination: destination.clone(),
            sequence,
            sender: signer.0.to_vec(),
            receiver: app.name().to_string(),
            payload: payload.to_vec(),
            timeout,
        };
        message.validate()?;
        app.on_send(s, ctx, signer, destination, payload)?;
        s.set(
            paths::commitment(destination, sequence),
            message.commitment().0.to_vec(),
        );
        s.set_u64(paths::next_send(destination), sequence + 1);
        Ok(vec![Event::MessageSent { message }])
    }
}
