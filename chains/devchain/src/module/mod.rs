//! The message module: what a chain embeds to take part in xrelay. It keeps a light client
//! per counterparty, an outbox (commitments), an inbox (receipts, acks, lane counters), and
//! runs apps; all of it lives in the state tree, so all of it is provable.
//!
//! Each handler loads what it needs, applies the pure rules of [`checks`], and only then
//! writes; a transaction runs on its own overlay, so a failure leaves no trace.

pub mod checks;
pub mod counterparty;
pub mod keys;

use serde::{Deserialize, Serialize};
use xrelay_light_client::evm::client::{EvmClientError, EvmClientState, EvmUpdate};
use xrelay_light_client::{
    paths, Acknowledgement, Address, ChainId, ClientError, ClientState, Decode, DecodeError,
    Height, Message, MisbehaviourKind, TimeMs, TrustOptions, TrustedState,
};

use crate::apps::{App, AppError};
use crate::state::{atomically, Overlay, StateRead, StorageError};
use crate::tx::{
    Action, InboundMessage, ProvenAck, ProvenMessage, SignedAction, SourceProof, TooCostly, Tx,
};
use checks::Arrival;
use counterparty::{has_client, store_client, store_evm_client, Claim};
pub use counterparty::{load_client, load_evm_client, Counterparty};
use keys::Outcome;

/// The block a transaction runs in: the chain's own clock for timeouts and client checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// This chain.
    pub chain_id: ChainId,
    /// Height of the block being built.
    pub height: Height,
    /// Its time.
    pub time_ms: TimeMs,
}

/// What a transaction did, for the event stream relayers and dApps follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A message was committed for sending.
    MessageSent {
        /// The message (its id is derivable).
        message: Message,
    },
    /// A message was received and its app answered.
    MessageReceived {
        /// The message.
        message: Message,
        /// The app's answer, now committed at `acks/{source}/{sequence}`.
        ack: Acknowledgement,
    },
    /// A message arrived past its timeout: the lane moved on, the app did not run.
    MessageExpired {
        /// The message.
        message: Message,
    },
    /// The ack of a message sent here was proven; the commitment is gone.
    MessageAcknowledged {
        /// The message.
        message: Message,
        /// The ack.
        ack: Acknowledgement,
    },
    /// A message sent here timed out; the sender was refunded.
    MessageTimedOut {
        /// The message.
        message: Message,
    },
    /// A client was created (genesis or governance) or reset.
    ClientCreated {
        /// The followed chain.
        chain: ChainId,
        /// Its trusted height.
        height: Height,
    },
    /// A client accepted new headers. The headers are listed so that anyone can compare
    /// them with the followed chain's own (misbehaviour detection).
    ClientUpdated {
        /// The followed chain.
        chain: ChainId,
        /// Heights and header hashes accepted, ascending.
        headers: Vec<(Height, xrelay_light_client::Hash32)>,
    },
    /// A client was frozen by misbehaviour evidence.
    ClientFrozen {
        /// The misbehaving chain.
        chain: ChainId,
        /// What the evidence showed.
        kind: MisbehaviourKind,
        /// The evidence hash.
        evidence: xrelay_light_client::Hash32,
    },
    /// Tokens moved between accounts here.
    Paid {
        /// Payer.
        from: Address,
        /// Payee.
        to: Address,
        /// Token.
        denom: String,
        /// Amount.
        #[serde(with = "crate::amount")]
        amount: u128,
    },
}

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
        state.set(keys::GOVERNANCE.to_vec(), genesis.governance.0.to_vec());
        let mut events = Vec::new();
        for (trusted, options) in &genesis.clients {
            events.push(create_client(state, trusted, options)?);
        }
        for (account, denom, amount) in &genesis.balances {
            crate::apps::transfer::check_denom(denom)?;
            crate::apps::transfer::mint(state, denom, account, *amount)?;
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
            Tx::UpdateClient { chain, blocks } => update_client(s, ctx, chain, blocks),
            Tx::Recv {
                source,
                proof_height,
                messages,
            } => self.recv::<ClientState>(s, ctx, source, *proof_height, messages),
            Tx::Ack {
                destination,
                proof_height,
                acks,
            } => self.ack::<ClientState>(s, ctx, destination, *proof_height, acks),
            Tx::Timeout {
                destination,
                proof_height,
                messages,
            } => self.timeout::<ClientState>(s, ctx, destination, *proof_height, messages),
            Tx::UpdateEvmClient { chain, updates } => update_evm_client(s, chain, updates),
            Tx::RecvEvm {
                source,
                proof_height,
                messages,
            } => self.recv::<EvmClientState>(s, ctx, source, *proof_height, messages),
            Tx::AckEvm {
                destination,
                proof_height,
                acks,
            } => self.ack::<EvmClientState>(s, ctx, destination, *proof_height, acks),
            Tx::TimeoutEvm {
                destination,
                proof_height,
                messages,
            } => self.timeout::<EvmClientState>(s, ctx, destination, *proof_height, messages),
            Tx::SubmitMisbehaviour { chain, evidence } => {
                let mut client = load_client(s, chain)?;
                let kind = client
                    .submit_misbehaviour(evidence, ctx.time_ms)
                    .map_err(|e| ModuleError::client(chain, e))?;
                store_client(s, &client);
                Ok(report(vec![Event::ClientFrozen {
                    chain: chain.clone(),
                    kind,
                    evidence: evidence.hash(),
                }]))
            }
        })
    }

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
            } => {
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
                    sender: tx.signer.0.to_vec(),
                    receiver: app.name().to_string(),
                    payload: payload.clone(),
                    timeout: *timeout,
                };
                message.validate()?;
                app.on_send(s, ctx, &tx.signer, destination, payload)?;
                s.set(
                    paths::commitment(destination, sequence),
                    message.commitment().0.to_vec(),
                );
                s.set_u64(paths::next_send(destination), sequence + 1);
                vec![Event::MessageSent { message }]
            }
            Action::Pay { to, denom, amount } => {
                use crate::apps::transfer::{balance_key, check_denom};
                check_denom(denom)?;
                let from_key = balance_key(denom, &tx.signer);
                let have = s.get_u128(&from_key)?;
                let left =
                    have.checked_sub(*amount)
                        .ok_or_else(|| AppError::InsufficientFunds {
                            denom: denom.clone(),
                            balance: have,
                            amount: *amount,
                        })?;
                s.set_u128(from_key, left);
                let to_key = balance_key(denom, to);
                let credited = s
                    .get_u128(&to_key)?
                    .checked_add(*amount)
                    .ok_or(AppError::Overflow)?;
                s.set_u128(to_key, credited);
                vec![Event::Paid {
                    from: tx.signer,
                    to: *to,
                    denom: denom.clone(),
                    amount: *amount,
                }]
            }
            Action::CreateClient { trusted, options } => {
                checks::check_governance(governance(s)?, &tx.signer)?;
                vec![create_client(s, trusted, options)?]
            }
            Action::ResetClient { trusted, options } => {
                checks::check_governance(governance(s)?, &tx.signer)?;
                let mut client = load_client(s, &trusted.chain_id)?;
                client
                    .reset(trusted.clone(), *options)
                    .map_err(|e| ModuleError::client(&trusted.chain_id, e))?;
                store_client(s, &client);
                vec![Event::ClientCreated {
                    chain: trusted.chain_id.clone(),
                    height: trusted.height,
                }]
            }
            Action::CreateEvmClient(client) => {
                checks::check_governance(governance(s)?, &tx.signer)?;
                vec![create_evm_client(s, client)?]
            }
            Action::ResetEvmClient(client) => {
                checks::check_governance(governance(s)?, &tx.signer)?;
                // Only an existing EVM client is replaced (a typed error otherwise).
                load_evm_client(s, client.chain_id())?;
                check_not_frozen(client)?;
                store_evm_client(s, client);
                vec![Event::ClientCreated {
                    chain: client.chain_id().clone(),
                    height: client.latest_height(),
                }]
            }
        };
        Ok(report(events))
    }

    /// Receives messages from `source`, whose client here is a `C` (§9.1 lane rules).
    fn recv<C: Counterparty>(
        &self,
        s: &mut Overlay<'_>,
        ctx: &Context,
        source: &ChainId,
        proof_height: Height,
        messages: &[InboundMessage<C::Proof>],
    ) -> Result<TxReport, ModuleError> {
        checks::check_non_empty(messages.len())?;
        let client = C::load(s, source)?;
        let mut next = s.get_u64(&paths::next_receive(source))?.max(1);
        let mut arrivals = Vec::with_capacity(messages.len());
        for im in messages {
            checks::check_inbound_lane(ctx, source, &im.message)?;
            let arrival = checks::check_arrival(next, &im.message, ctx)?;
            if im.shows == SourceProof::TimedOut {
                checks::check_settled_timeout(arrival, &im.message)?;
            }
            if arrival != Arrival::Duplicate {
                next += 1;
            }
            arrivals.push(arrival);
        }
        // Every new item's state on the source is proven in one batched check: the
        // commitment of a pending message, or the timed-out outcome of a refunded one.
        let fresh: Vec<&InboundMessage<C::Proof>> = messages
            .iter()
            .zip(&arrivals)
            .filter(|(_, a)| **a != Arrival::Duplicate)
            .map(|(im, _)| im)
            .collect();
        let values: Vec<(Vec<u8>, Vec<u8>)> = fresh
            .iter()
            .map(|im| match im.shows {
                SourceProof::Committed => (
                    paths::commitment(&ctx.chain_id, im.message.sequence),
                    im.message.commitment().0.to_vec(),
                ),
                SourceProof::TimedOut => (
                    keys::outcome(&ctx.chain_id, im.message.sequence),
                    vec![Outcome::TimedOut as u8],
                ),
            })
            .collect();
        let claims: Vec<Claim<'_, C::Proof>> = fresh
            .iter()
            .zip(&values)
            .map(|(im, (key, value))| Claim {
                key,
                value: Some(value),
                proof: &im.proof,
            })
            .collect();
        client.verify(proof_height, &claims, ctx.time_ms)?;
        let mut out = TxReport::default();
        for (im, arrival) in messages.iter().zip(arrivals) {
            let m = &im.message;
            match arrival {
                Arrival::Duplicate => out.already_done += 1,
                Arrival::Expired => {
                    s.set_u64(paths::next_receive(source), m.sequence + 1);
                    out.events
                        .push(Event::MessageExpired { message: m.clone() });
                }
                Arrival::Deliver => {
                    let ack = match self.app(&m.receiver) {
                        Err(e) => Acknowledgement::Error(e.to_string()),
                        Ok(app) => match atomically(s, |child| app.on_recv(child, ctx, m)) {
                            Ok(result) => Acknowledgement::Success(result),
                            Err(AppError::Storage(e)) => return Err(e.into()),
                            Err(e) => Acknowledgement::Error(e.to_string()),
                        },
                    };
                    s.set(paths::receipt(source, m.sequence), keys::RECEIPT.to_vec());
                    s.set(paths::ack(source, m.sequence), ack.commitment().0.to_vec());
                    s.set_u64(paths::next_receive(source), m.sequence + 1);
                    out.events.push(Event::MessageReceived {
                        message: m.clone(),
                        ack,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Loads the commitment of an outbound message: `Some` if pending and identical,
    /// `None` if it was already settled, an error if it never existed or differs.
    fn pending(s: &Overlay<'_>, m: &Message) -> Result<bool, ModuleError> {
        match s.get(&paths::commitment(&m.destination, m.sequence))? {
            Some(stored) => checks::check_commitment(&stored, m).map(|_| true),
            None if s.has(&keys::outcome(&m.destination, m.sequence))? => Ok(false),
            None => Err(ModuleError::UnknownMessage {
                sequence: m.sequence,
            }),
        }
    }

    fn settle(
        &self,
        s: &mut Overlay<'_>,
        m: &Message,
        outcome: Outcome,
    ) -> Result<(), ModuleError> {
        s.delete(paths::commitment(&m.destination, m.sequence));
        s.set(
            keys::outcome(&m.destination, m.sequence),
            vec![outcome as u8],
        );
        Ok(())
    }

    /// Settles messages sent to `destination` (client kind `C`) by their proven acks.
    fn ack<C: Counterparty>(
        &self,
        s: &mut Overlay<'_>,
        ctx: &Context,
        destination: &ChainId,
        proof_height: Height,
        acks: &[ProvenAck<C::Proof>],
    ) -> Result<TxReport, ModuleError> {
        checks::check_non_empty(acks.len())?;
        let client = C::load(s, destination)?;
        let mut out = TxReport::default();
        let mut fresh = Vec::new();
        // A message named twice in one batch is settled once: the pending check reads the
        // state before any item of the batch settles.
        let mut named = std::collections::BTreeSet::new();
        for pa in acks {
            checks::check_outbound_lane(ctx, destination, &pa.message)?;
            if named.insert(pa.message.sequence) && Self::pending(s, &pa.message)? {
                fresh.push(pa);
            } else {
                out.already_done += 1;
            }
        }
        let values: Vec<(Vec<u8>, [u8; 32])> = fresh
            .iter()
            .map(|pa| {
                (
                    paths::ack(&ctx.chain_id, pa.message.sequence),
                    pa.ack.commitment().0,
                )
            })
            .collect();
        let claims: Vec<Claim<'_, C::Proof>> = fresh
            .iter()
            .zip(&values)
            .map(|(pa, (key, value))| Claim {
                key,
                value: Some(value),
                proof: &pa.proof,
            })
            .collect();
        client.verify(proof_height, &claims, ctx.time_ms)?;
        for pa in fresh {
            let outcome = if pa.ack.is_success() {
                Outcome::Acknowledged
            } else {
                Outcome::Refused
            };
            self.settle(s, &pa.message, outcome)?;
            // An unknown app here cannot have sent; refunds of known apps must not fail.
            let app = self.app(&pa.message.receiver)?;
            app.on_ack(s, &pa.message, &pa.ack)?;
            out.events.push(Event::MessageAcknowledged {
                message: pa.message.clone(),
                ack: pa.ack.clone(),
            });
        }
        Ok(out)
    }

    /// Refunds messages sent to `destination` (client kind `C`) that it can no longer
    /// receive, proven by the absence of their receipts at a height past their timeouts.
    fn timeout<C: Counterparty>(
        &self,
        s: &mut Overlay<'_>,
        ctx: &Context,
        destination: &ChainId,
        proof_height: Height,
        messages: &[ProvenMessage<C::Proof>],
    ) -> Result<TxReport, ModuleError> {
        checks::check_non_empty(messages.len())?;
        let client = C::load(s, destination)?;
        let proof_time = client.time_at(proof_height)?;
        let mut out = TxReport::default();
        let mut fresh = Vec::new();
        let mut named = std::collections::BTreeSet::new();
        for pm in messages {
            checks::check_outbound_lane(ctx, destination, &pm.message)?;
            if named.insert(pm.message.sequence) && Self::pending(s, &pm.message)? {
                checks::check_timeout_passed(&pm.message, proof_height, proof_time)?;
                fresh.push(pm);
            } else {
                out.already_done += 1;
            }
        }
        let keys: Vec<Vec<u8>> = fresh
            .iter()
            .map(|pm| paths::receipt(&ctx.chain_id, pm.message.sequence))
            .collect();
        let claims: Vec<Claim<'_, C::Proof>> = fresh
            .iter()
            .zip(&keys)
            .map(|(pm, key)| Claim {
                key,
                value: None,
                proof: &pm.proof,
            })
            .collect();
        client.verify(proof_height, &claims, ctx.time_ms)?;
        for pm in fresh {
            self.settle(s, &pm.message, Outcome::TimedOut)?;
            self.app(&pm.message.receiver)?.on_timeout(s, &pm.message)?;
            out.events.push(Event::MessageTimedOut {
                message: pm.message.clone(),
            });
        }
        Ok(out)
    }
}

fn report(events: Vec<Event>) -> TxReport {
    TxReport {
        events,
        already_done: 0,
    }
}

fn governance(s: &Overlay<'_>) -> Result<Option<Address>, ModuleError> {
    Ok(s.get(keys::GOVERNANCE)?
        .and_then(|b| b.try_into().ok())
        .map(Address))
}

fn create_client(
    s: &mut Overlay<'_>,
    trusted: &TrustedState,
    options: &TrustOptions,
) -> Result<Event, ModuleError> {
    // One client per chain, of one kind: a second would let two trust roots speak for it.
    if has_client(s, &trusted.chain_id)? {
        return Err(ModuleError::ClientExists(trusted.chain_id.clone()));
    }
    let client = ClientState::new(trusted.clone(), *options)
        .map_err(|e| ModuleError::client(&trusted.chain_id, e))?;
    store_client(s, &client);
    Ok(Event::ClientCreated {
        chain: trusted.chain_id.clone(),
        height: trusted.height,
    })
}

/// Consensus states an on-chain client keeps after an update (the newest, and never one
/// older than the trusting period): the client is rewritten in the state tree on every
/// update, so its size is the cost of every update. Deliveries proven at a forgotten
/// height are refused; relayers prove at recent heights and retry at a newer one.
pub const KEPT_CONSENSUS_STATES: usize = 512;

fn update_client(
    s: &mut Overlay<'_>,
    ctx: &Context,
    chain: &ChainId,
    blocks: &[xrelay_light_client::LightBlock],
) -> Result<TxReport, ModuleError> {
    checks::check_non_empty(blocks.len())?;
    let mut client = load_client(s, chain)?;
    client
        .update(blocks, ctx.time_ms)
        .map_err(|e| ModuleError::client(chain, e))?;
    client.prune_to(ctx.time_ms, KEPT_CONSENSUS_STATES);
    store_client(s, &client);
    Ok(report(vec![Event::ClientUpdated {
        chain: chain.clone(),
        headers: blocks
            .iter()
            .map(|b| (b.height(), b.header().hash()))
            .collect(),
    }]))
}

/// Governance installs only clients that can work: a frozen one would refuse everything.
fn check_not_frozen(client: &EvmClientState) -> Result<(), ModuleError> {
    if client.is_frozen() {
        return Err(ModuleError::evm_client(
            client.chain_id(),
            EvmClientError::Frozen,
        ));
    }
    Ok(())
}

fn create_evm_client(s: &mut Overlay<'_>, client: &EvmClientState) -> Result<Event, ModuleError> {
    if has_client(s, client.chain_id())? {
        return Err(ModuleError::ClientExists(client.chain_id().clone()));
    }
    check_not_frozen(client)?;
    store_evm_client(s, client);
    Ok(Event::ClientCreated {
        chain: client.chain_id().clone(),
        height: client.latest_height(),
    })
}

/// Applies `updates` in order to the EVM client of `chain`, all or nothing, and reports
/// each block it newly trusts as (height, block hash), the same event a BFT update emits.
fn update_evm_client(
    s: &mut Overlay<'_>,
    chain: &ChainId,
    updates: &[EvmUpdate],
) -> Result<TxReport, ModuleError> {
    checks::check_non_empty(updates.len())?;
    let mut client = load_evm_client(s, chain)?;
    let mut headers = Vec::new();
    for update in updates {
        let before = client.latest_height();
        client
            .update(update)
            .map_err(|e| ModuleError::evm_client(chain, e))?;
        // Updates only add blocks above the latest one, so the new blocks are those above
        // `before` (one update adds at most 256, fewer than the 512 the client keeps).
        headers.extend(
            client
                .heights()
                .filter(|h| *h > before)
                .filter_map(|h| client.consensus_state(h).map(|cs| (h, cs.block_hash))),
        );
    }
    store_evm_client(s, &client);
    Ok(report(vec![Event::ClientUpdated {
        chain: chain.clone(),
        headers,
    }]))
}

/// Read-only queries over committed state (what the node's RPC answers).
pub mod query {
    use super::*;

    /// Where a message sent on `source`→`destination` at `sequence` stands, seen from the
    /// source chain.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum SentStatus {
        /// Never sent.
        Unknown,
        /// Committed, not settled yet.
        Pending,
        /// Settled.
        Settled(Outcome),
    }

    /// Status of a message this chain sent.
    pub fn sent_status(
        state: &dyn StateRead,
        destination: &ChainId,
        sequence: u64,
    ) -> Result<SentStatus, StorageError> {
        if state
            .get(&paths::commitment(destination, sequence))?
            .is_some()
        {
            return Ok(SentStatus::Pending);
        }
        Ok(match state.get(&keys::outcome(destination, sequence))? {
            Some(b) => b
                .first()
                .and_then(|b| Outcome::from_byte(*b))
                .map_or(SentStatus::Unknown, SentStatus::Settled),
            None => SentStatus::Unknown,
        })
    }

    /// Whether a message from `source` at `sequence` was received (and its app ran) here.
    pub fn received(
        state: &dyn StateRead,
        source: &ChainId,
        sequence: u64,
    ) -> Result<bool, StorageError> {
        Ok(state.get(&paths::receipt(source, sequence))?.is_some())
    }

    /// The client of `chain`, if any.
    pub fn client(
        state: &dyn StateRead,
        chain: &ChainId,
    ) -> Result<Option<ClientState>, ModuleError> {
        match state.get(&keys::client(chain))? {
            Some(bytes) => Ok(Some(ClientState::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// The client of the EVM chain `chain`, if any. Stored bytes that do not decode are a
    /// storage failure (the module only ever writes canonical states there).
    pub fn evm_client(
        state: &dyn StateRead,
        chain: &ChainId,
    ) -> Result<Option<EvmClientState>, StorageError> {
        match state.get(&keys::evm_client(chain))? {
            Some(bytes) => EvmClientState::decode(&bytes).map(Some).map_err(|e| {
                StorageError(format!("stored EVM client of {chain} does not decode: {e}"))
            }),
            None => Ok(None),
        }
    }

    /// Balance of `account` in `denom`.
    pub fn balance(
        state: &dyn StateRead,
        denom: &str,
        account: &Address,
    ) -> Result<u128, StorageError> {
        Overlay::new(state).get_u128(&crate::apps::transfer::balance_key(denom, account))
    }

    /// Tokens of `denom` that exist on this chain (balances and escrow together).
    pub fn supply(state: &dyn StateRead, denom: &str) -> Result<u128, StorageError> {
        Overlay::new(state).get_u128(&crate::apps::transfer::supply_key(denom))
    }

    /// What is escrowed here for `counterparty` in `denom`.
    pub fn escrow(
        state: &dyn StateRead,
        counterparty: &ChainId,
        denom: &str,
    ) -> Result<u128, StorageError> {
        Overlay::new(state).get_u128(&crate::apps::transfer::escrow_key(counterparty, denom))
    }

    /// The nonce `account` must sign its next action with.
    pub fn nonce(state: &dyn StateRead, account: &Address) -> Result<u64, StorageError> {
        Overlay::new(state).get_u64(&keys::nonce(account))
    }

    /// The next sequence to be sent to `destination`, and the next expected from `source`.
    pub fn lane_counters(
        state: &dyn StateRead,
        other: &ChainId,
    ) -> Result<(u64, u64), StorageError> {
        let o = Overlay::new(state);
        Ok((
            o.get_u64(&paths::next_send(other))?.max(1),
            o.get_u64(&paths::next_receive(other))?.max(1),
        ))
    }
}
