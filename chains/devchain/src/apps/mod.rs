//! Apps that send and receive messages through the module. An app sees only its own
//! effects: the module runs each callback on a child overlay and drops the writes of a
//! callback that fails.

pub mod echo;
pub mod transfer;

use xrelay_light_client::{Acknowledgement, Address, ChainId, Message};

use crate::bank::BankError;
use crate::context::Context;
use crate::state::{Overlay, StorageError};

/// Why an app refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// The payload is not what the app understands.
    #[error("bad payload: {0}")]
    BadPayload(String),
    /// The sender lacks the funds.
    #[error("insufficient funds: {denom} balance {balance} < {amount}")]
    InsufficientFunds {
        /// Token.
        denom: String,
        /// Balance held.
        balance: u128,
        /// Amount asked for.
        amount: u128,
    },
    /// An arithmetic bound was hit (a supply would overflow).
    #[error("amount overflow")]
    Overflow,
    /// The payload's sender is not the account that sent the message.
    #[error("payload sender {payload} is not the message sender {actual}")]
    SenderMismatch {
        /// Named in the payload.
        payload: String,
        /// Who signed the send.
        actual: String,
    },
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A refusal of the bank becomes the app's refusal, with the same text (an error ack's text
/// is committed, so it must not change with where the rule lives).
impl From<BankError> for AppError {
    fn from(e: BankError) -> Self {
        match e {
            BankError::InsufficientFunds {
                denom,
                balance,
                amount,
            } => AppError::InsufficientFunds {
                denom,
                balance,
                amount,
            },
            BankError::Overflow => AppError::Overflow,
            e @ BankError::Unbacked { .. } => AppError::BadPayload(e.to_string()),
            BankError::Storage(e) => AppError::Storage(e),
        }
    }
}

/// The callbacks of an app, on the sending and on the receiving chain.
pub trait App: Send + Sync {
    /// Name messages address it by (`Message::receiver`).
    fn name(&self) -> &'static str;

    /// Source chain, in the send transaction: validate and take what the message carries
    /// (escrow, burn). An error refuses the send.
    fn on_send(
        &self,
        state: &mut Overlay<'_>,
        ctx: &Context,
        sender: &Address,
        destination: &ChainId,
        payload: &[u8],
    ) -> Result<(), AppError>;

    /// Destination chain: act on the message; the result bytes become a success ack, an
    /// error becomes an error ack (and the app's writes are dropped).
    fn on_recv(
        &self,
        state: &mut Overlay<'_>,
        ctx: &Context,
        message: &Message,
    ) -> Result<Vec<u8>, AppError>;

    /// Source chain, once the ack is proven: an error ack means undo what `on_send` took.
    fn on_ack(
        &self,
        state: &mut Overlay<'_>,
        message: &Message,
        ack: &Acknowledgement,
    ) -> Result<(), AppError>;

    /// Source chain, once the timeout is proven: undo what `on_send` took.
    fn on_timeout(&self, state: &mut Overlay<'_>, message: &Message) -> Result<(), AppError>;
}

/// The apps a devchain runs.
pub fn default_apps() -> Vec<Box<dyn App>> {
    vec![Box::new(echo::Echo), Box::new(transfer::Transfer)]
}
