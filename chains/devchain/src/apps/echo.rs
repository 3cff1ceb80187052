//! `echo`: acknowledges every message with the SHA-256 of its payload, so a sender can check
//! end to end that the destination saw exactly its bytes.

use xrelay_light_client::{sha256, Acknowledgement, Address, ChainId, Message};

use super::{App, AppError};
use crate::context::Context;
use crate::state::Overlay;

/// The echo app.
pub struct Echo;

impl App for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn on_send(
        &self,
        _: &mut Overlay<'_>,
        _: &Context,
        _: &Address,
        _: &ChainId,
        _: &[u8],
    ) -> Result<(), AppError> {
        Ok(())
    }

    fn on_recv(
        &self,
        _: &mut Overlay<'_>,
        _: &Context,
        message: &Message,
    ) -> Result<Vec<u8>, AppError> {
        Ok(sha256(&message.payload).0.to_vec())
    }

    fn on_ack(
        &self,
        _: &mut Overlay<'_>,
        _: &Message,
        _: &Acknowledgement,
    ) -> Result<(), AppError> {
        Ok(())
    }

    fn on_timeout(&self, _: &mut Overlay<'_>, _: &Message) -> Result<(), AppError> {
        Ok(())
    }
}
