//! The message module: what a chain embeds to take part in xrelay. It keeps a light client
//! per counterparty, an outbox (commitments), an inbox (receipts, acks, lane counters), and
//! runs apps; all of it lives in the state tree, so all of it is provable.
//!
//! Each handler loads what it needs, applies the pure rules of [`checks`], and only then
//! writes; a transaction runs on its own overlay, so a failure leaves no trace.
//!
//! This file keeps what every handler shares ([`Module`], [`ModuleError`], [`TxReport`],
//! [`Genesis`]) and [`Module::execute`], which dispatches each transaction to its handler:
//! `send`, `recv`, `ack`, `timeout` (the message's life), `clients` (client creation,
//! updates, resets, misbehaviour), `governance` (who may create and reset clients) and
//! `bank` (balances, supplies, escrows: `Pay`, genesis balances, and what the transfer app
//! moves). Handlers use items of this file and the shared helpers (`checks`,
//! `counterparty`, `keys`, `outbox`), never each other.

mod ack;
/// The bank, reachable here as well: genesis, `Pay` and the queries use it.
pub use crate::bank;
pub mod checks;
mod clients;
pub mod counterparty;
mod event;
mod governance;
pub mod keys;
mod outbox;
pub mod query;
mod recv;
mod send;
mod timeout;

use serde::{Deserialize, Serialize};
use xrelay_light_client::evm::client::{EvmClientError, EvmClientState};
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviourError;
use xrelay_light_client::{
    Address, ChainId, ClientError, ClientState, DecodeError, Height, TimeMs, TrustOptions,
    TrustedState,
};

use crate::apps::{App, AppError};
pub use crate::context::Context;
use crate::state::{atomically, Overlay, StorageError};
use crate::tx::{Action, SignedAction, Tx};
use bank::BankError;
pub use clients::KEPT_CONSENSUS_STATES;
pub use counterparty::{load_client, load_evm_client, Counterparty};
pub use event::Event;
use xrelay_protocol::{RelayTx, TooCostly};

/// What a successful transaction reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxReport {
    /// Events, in order.
    pub events: Vec<Event>,
    /// Items of a batch that had already been processed (no effect, not an error).
    pub already_done: usize,
}

/// Why a transaction was refused. It changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleError {
    /// Bytes did not decode.
    #[error("malformed: {0}")]
    Malformed(#[from] DecodeError),
    /// Storage below the module failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// No client of that chain here.
    #[error("no client of chain {0}")]
    UnknownClient(ChainId),
    /// A client of that chain exists already.
    #[error("a client of chain {0} exists already")]
    ClientExists(ChainId),
    /// The client refused (bad header, bad proof, frozen, expired, ...).
    #[error("client of {chain}: {error}")]
    Client {
        /// The followed chain.
        chain: ChainId,
        /// What it refused (boxed: evidence-carrying errors are large).
        error: Box<ClientError>,
    },
    /// A message is on another lane than the transaction says.
    #[error("message lane {found} is not {expected}")]
    WrongLane {
        /// The lane the transaction names.
        expected: String,
        /// The message's lane.
        found: String,
    },
    /// A message skips ahead of the lane's next sequence.
    #[error("out of order: next sequence is {expected}, got {found}")]
    OutOfOrder {
        /// Next expected.
        expected: u64,
        /// Given.
        found: u64,
    },
    /// An ack or timeout names a message this chain never sent.
    #[error("no message {sequence} was sent on this lane")]
    UnknownMessage {
        /// The sequence.
        sequence: u64,
    },
    /// The message differs from the one committed at its sequence.
    #[error("message {sequence} differs from the committed one")]
    CommitmentMismatch {
        /// The sequence.
        sequence: u64,
    },
    /// The proof height is not past the message's timeout.
    #[error(
        "message {sequence} has not timed out at destination height {height} (time {time_ms} ms)"
    )]
    NotTimedOut {
        /// The sequence.
        sequence: u64,
        /// The proof height.
        height: Height,
        /// That header's time.
        time_ms: TimeMs,
    },
    /// The signature does not recover to the signer.
    #[error("signature does not belong to {signer}")]
    BadSignature {
        /// The claimed signer.
        signer: Address,
    },
    /// Not the account's next nonce.
    #[error("nonce {found} is not the account's next nonce {expected}")]
    BadNonce {
        /// Next nonce.
        expected: u64,
        /// Given.
        found: u64,
    },
    /// Only the governance account may do this.
    #[error("{signer} is not the governance account")]
    NotGovernance {
        /// Who tried.
        signer: Address,
    },
    /// No app by that name.
    #[error("no app named {0:?}")]
    UnknownApp(String),
    /// The app refused the send.
    #[error("app refused: {0}")]
    App(#[from] AppError),
    /// A batch without items.
    #[error("empty batch")]
    EmptyBatch,
    /// Over the per-transaction verification budget (PROTOCOL.md §9.2): refused before
    /// anything was verified.
    #[error(transparent)]
    TooCostly(#[from] TooCostly),
    /// No EVM client of that chain here.
    #[error("no EVM client of chain {0}")]
    UnknownEvmClient(ChainId),
    /// An EVM-proven transaction names a chain followed by a BFT client.
    #[error("chain {0} has a BFT client, not an EVM one")]
    NotEvmClient(ChainId),
    /// A BFT-proven transaction names a chain followed by an EVM client.
    #[error("chain {0} has an EVM client, not a BFT one")]
    NotBftClient(ChainId),
    /// The EVM client refused (bad seal or attestation, bad storage proof, unknown height,
    /// frozen, ...).
    #[error("EVM client of {chain}: {error}")]
    EvmClient {
        /// The followed EVM chain.
        chain: ChainId,
        /// What it refused (boxed, as for [`ModuleError::Client`]).
        error: Box<EvmClientError>,
    },
    /// EVM misbehaviour evidence (tag 10) does not show, from the client's own trusted set
    /// or committee, two blocks vouched for at one height (PROTOCOL.md §12.7).
    #[error("evidence against the EVM client of {chain}: {error}")]
    EvmMisbehaviour {
        /// The EVM chain the evidence names.
        chain: ChainId,
        /// The rule it failed.
        error: EvmMisbehaviourError,
    },
}

impl ModuleError {
    fn client(chain: &ChainId, error: ClientError) -> Self {
        ModuleError::Client {
            chain: chain.clone(),
            error: Box::new(error),
        }
    }

    fn evm_client(chain: &ChainId, error: EvmClientError) -> Self {
        ModuleError::EvmClient {
            chain: chain.clone(),
            error: Box::new(error),
        }
    }
}

/// A refusal of the bank in the module's own transactions (`Pay`): a storage failure is the
/// module's, anything else is the app-level refusal it has always been reported as.
impl From<BankError> for ModuleError {
    fn from(e: BankError) -> Self {
        match e {
            BankError::Storage(e) => ModuleError::Storage(e),
            e => ModuleError::App(AppError::from(e)),
        }
    }
}

/// Genesis of the module: governance, counterparty clients and initial balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// The account that may create and reset clients.
    pub governance: Address,
    /// Clients of counterparty chains, trusted from the start.
    pub clients: Vec<(TrustedState, TrustOptions)>,
    /// Initial token balances: (account, denom, amount).
    pub balances: Vec<(Address, String, u128)>,
}

/// The module with its apps.
pub struct Module {
    apps: Vec<Box<dyn App>>,
}

impl Default for Module {
    fn default() -> Self {
        Module::new(crate::apps::default_apps())
    }
}

impl Module {
    /// A module running `apps`.
    pub fn new(apps: Vec<Box<dyn App>>) -> Self {
        Module { apps }
    }

    fn app(&self, name: &str) -> Result<&dyn App, ModuleError> {
        self.apps
            .iter()
            .find(|a| a.name() == name)
            .map(|a| a.as_ref())
            .ok_or_else(|| ModuleError::UnknownApp(name.to_string()))
    }

    /// Writes the genesis state.
    pub fn genesis(
        &self,
        state: &mut Overlay<'_>,
        genesis: &Genesis,
    ) -> Result<Vec<Event>, ModuleError> {
        governance::install(state, &genesis.governance);
        let mut events = Vec::new();
        for (trusted, options) in &genesis.clients {
            events.push(clients::create_client(state, trusted, options)?);
        }
        for (account, denom, amount) in &genesis.balances {
            bank::check_denom(denom)?;
            // Through `AppError`, as when genesis minted through the transfer app.
            bank::mint(state, denom, account, *amount).map_err(AppError::from)?;
        }
        Ok(events)
    }

    /// Runs one transaction in block `ctx`. On error nothing is written. A transaction over
    /// the verification budget ([`Tx::cost`]) is refused before anything is verified.
    pub fn execute(
        &self,
        state: &mut Overlay<'_>,
        ctx: &Context,
        tx: &Tx,
    ) -> Result<TxReport, ModuleError> {
        tx.cost().check()?;
        atomically(state, |s| match tx {
            Tx::Signed(signed) => self.signed(s, ctx, signed),
            Tx::Relay(RelayTx::UpdateClient { chain, blocks }) => {
                clients::update_client(s, ctx, chain, blocks)
            }
            Tx::Relay(RelayTx::Recv {
                source,
                proof_height,
                messages,
            }) => self.recv::<ClientState>(s, ctx, source, *proof_height, messages),
            Tx::Relay(RelayTx::Ack {
                destination,
                proof_height,
                acks,
            }) => self.ack::<ClientState>(s, ctx, destination, *proof_height, acks),
            Tx::Relay(RelayTx::Timeout {
                destination,
                proof_height,
                messages,
            }) => self.timeout::<ClientState>(s, ctx, destination, *proof_height, messages),
            Tx::Relay(RelayTx::UpdateEvmClient { chain, updates }) => {
                clients::update_evm_client(s, chain, updates)
            }
            Tx::Relay(RelayTx::RecvEvm {
                source,
                proof_height,
                messages,
            }) => self.recv::<EvmClientState>(s, ctx, source, *proof_height, messages),
            Tx::Relay(RelayTx::AckEvm {
                destination,
                proof_height,
                acks,
            }) => self.ack::<EvmClientState>(s, ctx, destination, *proof_height, acks),
            Tx::Relay(RelayTx::TimeoutEvm {
                destination,
                proof_height,
                messages,
            }) => self.timeout::<EvmClientState>(s, ctx, destination, *proof_height, messages),
            Tx::Relay(RelayTx::SubmitMisbehaviour { chain, evidence }) => {
                clients::submit_misbehaviour(s, ctx, chain, evidence)
            }
            Tx::Relay(RelayTx::SubmitEvmMisbehaviour { chain, evidence }) => {
                clients::submit_evm_misbehaviour(s, chain, evidence)
            }
        })
    }

    /// Checks a signed action's signature and nonce, consumes the nonce, and dispatches the
    /// action to its handler.
    fn signed(
        &self,
        s: &mut Overlay<'_>,
        ctx: &Context,
        tx: &SignedAction,
    ) -> Result<TxReport, ModuleError> {
        let digest = SignedAction::digest(&ctx.chain_id, &tx.signer, tx.nonce, &tx.action);
        let nonce_key = keys::nonce(&tx.signer);
        checks::check_signed(
            &digest,
            &tx.signer,
            &tx.signature,
            s.get_u64(&nonce_key)?,
            tx.nonce,
        )?;
        s.set_u64(nonce_key, tx.nonce + 1);
        let events = match &tx.action {
            Action::Send {
                destination,
                app,
                payload,
                timeout,
            } => self.send(s, ctx, &tx.signer, destination, app, payload, *timeout)?,
            Action::Pay { to, denom, amount } => {
                bank::check_denom(denom)?;
                bank::pay(s, denom, &tx.signer, to, *amount)?;
                vec![Event::Paid {
                    from: tx.signer,
                    to: *to,
                    denom: denom.clone(),
                    amount: *amount,
                }]
            }
            Action::CreateClient { trusted, options } => {
                governance::require(s, &tx.signer)?;
                vec![clients::create_client(s, trusted, options)?]
            }
            Action::ResetClient { trusted, options } => {
                governance::require(s, &tx.signer)?;
                vec![clients::reset_client(s, trusted, options)?]
            }
            Action::CreateEvmClient(client) => {
                governance::require(s, &tx.signer)?;
                vec![clients::create_evm_client(s, client)?]
            }
            Action::ResetEvmClient(client) => {
                governance::require(s, &tx.signer)?;
                vec![clients::reset_evm_client(s, client)?]
            }
        };
        Ok(report(events))
    }
}

/// A report of `events` with nothing already done: what every non-batch handler returns.
fn report(events: Vec<Event>) -> TxReport {
    TxReport {
        events,
        already_done: 0,
    }
}
