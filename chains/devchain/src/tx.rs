//! Transactions of the message module and their canonical encoding.
//!
//! Relay transactions (client updates, receives, acks, timeouts, misbehaviour) carry their
//! own proof of validity and are idempotent, so they need no signature, no account and no
//! nonce: any relayer may submit them, concurrently, from any number of processes, without
//! the account-sequence races that shared relayer wallets suffer elsewhere. Actions that
//! move an account's value or change governance are signed by the account, with a nonce.

use serde::{Deserialize, Serialize};
use xrelay_light_client::encoding::{decode_seq, encode_seq, Reader, Writer};
use xrelay_light_client::evm::client::{EvmClientState, EvmStorageProof, EvmUpdate};
use xrelay_light_client::hash::sha256_concat;
use xrelay_light_client::{
    Acknowledgement, Address, ChainId, Decode, DecodeError, Encode, Hash32, Height, LightBlock,
    Message, Misbehaviour, Signature65, SigningKey, StateProof, Timeout, TrustOptions,
    TrustedState,
};

/// Domain tag of the digest an account signs.
pub const SIGNED_TX_TAG: &[u8] = b"xrelay.tx.v1";
/// Domain tag of a transaction hash.
pub const TX_HASH_TAG: &[u8] = b"xrelay.txid.v1";
/// Domain tag of a block's transaction root.
pub const TX_ROOT_TAG: &[u8] = b"xrelay.txroot.v1";

/// `SHA-256("xrelay.txroot.v1" ‖ id₁ ‖ id₂ ‖ …)` over the block's transaction ids in block
/// order: the header's `tx_root`.
pub fn tx_root(ids: impl IntoIterator<Item = Hash32>) -> Hash32 {
    let ids: Vec<u8> = ids.into_iter().flat_map(|h| h.0).collect();
    sha256_concat(&[TX_ROOT_TAG, &ids])
}

/// Most items in one receive, ack or timeout batch.
pub const MAX_BATCH: usize = 1024;
/// Most light blocks in one client update.
pub const MAX_UPDATE_BLOCKS: usize = 256;
/// Most updates in one EVM client update (each carries up to 256 headers or one
/// attested block).
pub const MAX_EVM_UPDATES: usize = 16;
/// Longest app name.
pub const MAX_APP_LEN: usize = 64;

/// Most signature recoveries verifying one transaction may need (PROTOCOL.md §9.2,
/// verification budget): two fully signed headers of a 1,024-validator chain (misbehaviour
/// evidence), about 80 ms of secp256k1 work on one core. Relay transactions are free, so
/// each must cost a bounded amount to check.
pub const MAX_TX_SIGNATURES: usize = 2_048;
/// Most headers (light blocks, EVM headers, attested blocks) in one transaction.
pub const MAX_TX_HEADERS: usize = 256;
/// Most state proofs in one transaction (one per item of a receive, ack or timeout).
pub const MAX_TX_PROOFS: usize = MAX_BATCH;

/// Bytes one EVM header seal takes: a header cannot carry more seals than its extraData
/// holds 65-byte blocks, whatever its consensus.
const SEAL_BYTES: usize = 65;

/// What verifying a transaction costs at most, counted from its decoded form before anything
/// is verified (PROTOCOL.md §9.2): the signature recoveries, headers and state proofs it can
/// make a chain check. A chain refuses a transaction over [`MAX_TX_SIGNATURES`],
/// [`MAX_TX_HEADERS`] or [`MAX_TX_PROOFS`] unverified, and a node budgets its blocks and its
/// mempool checks in [`TxCost::units`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxCost {
    /// Signature recoveries, at most (a header counts at least one).
    pub signatures: usize,
    /// Headers: light blocks, EVM headers, attested blocks.
    pub headers: usize,
    /// State proofs.
    pub proofs: usize,
}

/// A transaction over the verification budget (PROTOCOL.md §9.2); it was not verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too costly to verify: {count} {what}, at most {max} per transaction")]
pub struct TooCostly {
    /// `signatures`, `headers` or `proofs`.
    pub what: &'static str,
    /// How many the transaction carries.
    pub count: usize,
    /// The bound.
    pub max: usize,
}

impl TxCost {
    /// What a block and a mempool budget count: signature recoveries plus proofs.
    pub fn units(&self) -> usize {
        self.signatures.saturating_add(self.proofs)
    }

    /// Refuses a cost over the per-transaction bounds.
    pub fn check(&self) -> Result<(), TooCostly> {
        for (what, count, max) in [
            ("signatures", self.signatures, MAX_TX_SIGNATURES),
            ("headers", self.headers, MAX_TX_HEADERS),
            ("proofs", self.proofs, MAX_TX_PROOFS),
        ] {
            if count > max {
                return Err(TooCostly { what, count, max });
            }
        }
        Ok(())
    }

    fn plus(self, other: TxCost) -> TxCost {
        TxCost {
            signatures: self.signatures.saturating_add(other.signatures),
            headers: self.headers.saturating_add(other.headers),
            proofs: self.proofs.saturating_add(other.proofs),
        }
    }

    fn light_blocks<'a>(blocks: impl IntoIterator<Item = &'a LightBlock>) -> Self {
        blocks.into_iter().fold(TxCost::default(), |c, b| TxCost {
            signatures: c
                .signatures
                .saturating_add(b.signed_header.commit.signatures.len().max(1)),
            headers: c.headers + 1,
            proofs: c.proofs,
        })
    }

    /// The cost of verifying `updates` of an EVM client: each header counts
    /// `max(1, len(extraData) / 65)` recoveries (no consensus seals more than that), an
    /// attested block its signatures.
    pub fn evm_updates(updates: &[EvmUpdate]) -> Self {
        let mut cost = TxCost::default();
        for u in updates {
            match u {
                EvmUpdate::Headers(headers) => {
                    for h in headers {
                        cost.signatures = cost
                            .signatures
                            .saturating_add((h.extra_data.len() / SEAL_BYTES).max(1));
                        cost.headers += 1;
                    }
                }
                EvmUpdate::Attested(a) => {
                    cost.signatures = cost.signatures.saturating_add(a.signatures.len().max(1));
                    cost.headers += 1;
                }
            }
        }
        cost
    }
}

/// Splits a path of light blocks into consecutive runs that each fit one transaction's
/// budget ([`MAX_TX_SIGNATURES`], [`MAX_TX_HEADERS`]); each run verifies from the client the
/// previous one leaves, so they are submitted in order. A single block over the budget
/// (more than 2,048 signatures) is a run of its own, which a chain refuses.
pub fn light_block_runs(blocks: Vec<LightBlock>) -> Vec<Vec<LightBlock>> {
    let mut runs: Vec<Vec<LightBlock>> = Vec::new();
    let mut total = TxCost::default();
    for block in blocks {
        let cost = TxCost::light_blocks([&block]);
        let next = total.plus(cost);
        match runs.last_mut() {
            Some(run) if next.check().is_ok() => {
                run.push(block);
                total = next;
            }
            _ => {
                runs.push(vec![block]);
                total = cost;
            }
        }
    }
    runs
}

/// Splits EVM updates into transactions' worth within the budget and the 16 updates a
/// transaction holds, keeping their order; a run of consecutive headers is cut where the
/// budget ends (a shorter run verifies the same way) and joined across the updates' own
/// cuts.
pub fn evm_update_runs(updates: Vec<EvmUpdate>) -> Vec<Vec<EvmUpdate>> {
    let mut runs: Vec<Vec<EvmUpdate>> = Vec::new();
    let mut total = TxCost::default();
    let pieces = updates.into_iter().flat_map(|u| match u {
        EvmUpdate::Headers(headers) => headers
            .into_iter()
            .map(|h| EvmUpdate::Headers(vec![h]))
            .collect::<Vec<_>>(),
        attested => vec![attested],
    });
    for piece in pieces {
        let cost = TxCost::evm_updates(std::slice::from_ref(&piece));
        let next = total.plus(cost);
        let fits = next.check().is_ok();
        let last = runs.last_mut().filter(|_| fits);
        match (last, piece) {
            (Some(run), EvmUpdate::Headers(h)) => {
                let room = run.len() < MAX_EVM_UPDATES;
                match run.last_mut() {
                    Some(EvmUpdate::Headers(headers)) => {
                        headers.extend(h);
                        total = next;
                    }
                    _ if room => {
                        run.push(EvmUpdate::Headers(h));
                        total = next;
                    }
                    _ => {
                        runs.push(vec![EvmUpdate::Headers(h)]);
                        total = cost;
                    }
                }
            }
            (Some(run), attested) if run.len() < MAX_EVM_UPDATES => {
                run.push(attested);
                total = next;
            }
            (_, piece) => {
                runs.push(vec![piece]);
                total = cost;
            }
        }
    }
    runs
}

/// A message sent here with the proof, from its destination, that it was never received.
/// `P` is the destination's kind of proof: a [`StateProof`] from a chain with a state tree
/// (§5), an [`EvmStorageProof`] from an EVM chain (§12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenMessage<P = StateProof> {
    /// The message as this chain stored it.
    pub message: Message,
    /// Non-membership of `receipts/{source}/{sequence}` on the destination.
    pub proof: P,
}

/// What a receive item's proof shows about its message on the source chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceProof {
    /// Membership of `commitments/{destination}/{sequence}` with the message's commitment:
    /// the message is pending on the source.
    Committed,
    /// Membership of `outcomes/{destination}/{sequence}` = timed out: the source already
    /// refunded it, so the destination only moves its lane past it (an ordered lane would
    /// otherwise stay blocked behind a message whose commitment is gone).
    TimedOut,
}

/// A message to receive, with the proof of its state on the source. `P` is the source's
/// kind of proof (see [`ProvenMessage`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage<P = StateProof> {
    /// The message as the source stored it.
    pub message: Message,
    /// What the proof shows.
    pub shows: SourceProof,
    /// The proof, at the transaction's proof height.
    pub proof: P,
}

impl<P: Encode> Encode for InboundMessage<P> {
    fn encode_to(&self, w: &mut Writer) {
        let tag = match self.shows {
            SourceProof::Committed => 0,
            SourceProof::TimedOut => 1,
        };
        w.put(&self.message).u8(tag).put(&self.proof);
    }
}

impl<P: Decode> Decode for InboundMessage<P> {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let message = r.get()?;
        let shows = match r.u8()? {
            0 => SourceProof::Committed,
            1 => SourceProof::TimedOut,
            t => {
                return Err(DecodeError::invalid(
                    "source proof tag",
                    format!("{t} is not 0 or 1"),
                ))
            }
        };
        Ok(InboundMessage {
            message,
            shows,
            proof: r.get()?,
        })
    }
}

/// An acknowledgement with the proof that the destination wrote it. `P` is the
/// destination's kind of proof (see [`ProvenMessage`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenAck<P = StateProof> {
    /// The acknowledged message.
    pub message: Message,
    /// What the destination app answered.
    pub ack: Acknowledgement,
    /// Membership of `acks/{source}/{sequence}` on the destination.
    pub proof: P,
}

/// What an account can do (signed, with a nonce).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Send a message to `app` on `destination`.
    Send {
        /// The receiving chain.
        destination: ChainId,
        /// The app on the destination that receives it (`echo`, `transfer`).
        app: String,
        /// App data (for `transfer`, a `TransferPacket` encoding built by the app's helper).
        payload: Vec<u8>,
        /// When delivery stops being allowed.
        timeout: Timeout,
    },
    /// Move tokens between accounts on this chain.
    Pay {
        /// The receiving account.
        to: Address,
        /// Token name.
        denom: String,
        /// Amount.
        #[serde(with = "crate::amount")]
        amount: u128,
    },
    /// Governance: create a client of another chain.
    CreateClient {
        /// The state to trust.
        trusted: TrustedState,
        /// Trust options.
        options: TrustOptions,
    },
    /// Governance: reset (unfreeze or revive) the client of `trusted.chain_id`.
    ResetClient {
        /// The new state to trust.
        trusted: TrustedState,
        /// Trust options.
        options: TrustOptions,
    },
    /// Governance: create a client of an EVM chain (§12), trusting the given state (boxed:
    /// it carries a validator set or committee and its consensus states).
    CreateEvmClient(#[serde(with = "crate::canonical_hex::boxed")] Box<EvmClientState>),
    /// Governance: replace the client of an EVM chain (after a freeze, or to re-anchor it).
    ResetEvmClient(#[serde(with = "crate::canonical_hex::boxed")] Box<EvmClientState>),
}

/// An action signed by an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAction {
    /// The account (recovered from the signature, checked equal).
    pub signer: Address,
    /// The account's next nonce: each nonce is used once, in order.
    pub nonce: u64,
    /// What to do.
    pub action: Action,
    /// Signature of `SHA-256("xrelay.tx.v1" ‖ chain id ‖ signer ‖ nonce ‖ action)`.
    pub signature: Signature65,
}

impl SignedAction {
    /// The digest the signer signs; the chain id stops replays on other chains.
    pub fn digest(chain_id: &ChainId, signer: &Address, nonce: u64, action: &Action) -> Hash32 {
        let mut w = Writer::default();
        w.put(chain_id).put(signer).u64(nonce).put(action);
        sha256_concat(&[SIGNED_TX_TAG, w.as_slice()])
    }

    /// Signs `action` for `chain_id` with `key` at `nonce`.
    pub fn sign(chain_id: &ChainId, key: &SigningKey, nonce: u64, action: Action) -> Self {
        let signer = key.address();
        let signature = key.sign_digest(&Self::digest(chain_id, &signer, nonce, &action));
        SignedAction {
            signer,
            nonce,
            action,
            signature,
        }
    }
}

/// A transaction of the message module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tx {
    /// An account's signed action (boxed: governance actions carry a validator set).
    Signed(Box<SignedAction>),
    /// New headers of `chain` for its client here (bisection's intermediate ones included).
    UpdateClient {
        /// The followed chain.
        chain: ChainId,
        /// Light blocks in height order, each verifiable from the previous.
        blocks: Vec<LightBlock>,
    },
    /// Messages from `source`, proven at `proof_height` of its client here, in lane order.
    Recv {
        /// The sending chain.
        source: ChainId,
        /// A height the client of `source` has verified.
        proof_height: Height,
        /// The messages with proofs of their state on the source.
        messages: Vec<InboundMessage>,
    },
    /// Acknowledgements from `destination` of messages sent here.
    Ack {
        /// The chain that received the messages.
        destination: ChainId,
        /// A height the client of `destination` has verified.
        proof_height: Height,
        /// The acks with their proofs.
        acks: Vec<ProvenAck>,
    },
    /// Messages sent here that `destination` can no longer receive.
    Timeout {
        /// The chain the messages were for.
        destination: ChainId,
        /// A verified height of `destination` at or past the messages' timeouts.
        proof_height: Height,
        /// The messages with non-membership proofs of their receipts.
        messages: Vec<ProvenMessage>,
    },
    /// Evidence that `chain`'s validators misbehaved: freezes its client here.
    SubmitMisbehaviour {
        /// The misbehaving chain.
        chain: ChainId,
        /// The evidence (boxed: two light blocks and a validator set).
        evidence: Box<Misbehaviour>,
    },
    /// New blocks of the EVM chain `chain` for its client here: sealed headers or attested
    /// blocks, applied in order, all or nothing.
    UpdateEvmClient {
        /// The followed EVM chain.
        chain: ChainId,
        /// Updates in order, each verifiable from the client after the previous one.
        #[serde(with = "crate::canonical_hex::seq")]
        updates: Vec<EvmUpdate>,
    },
    /// [`Tx::Recv`] from an EVM chain: messages proven by storage proofs of its gateway.
    RecvEvm {
        /// The sending EVM chain.
        source: ChainId,
        /// A height the EVM client of `source` has verified.
        proof_height: Height,
        /// The messages with storage proofs of their state on the source.
        messages: Vec<InboundMessage<EvmStorageProof>>,
    },
    /// [`Tx::Ack`] from an EVM chain.
    AckEvm {
        /// The EVM chain that received the messages.
        destination: ChainId,
        /// A height the EVM client of `destination` has verified.
        proof_height: Height,
        /// The acks with storage proofs.
        acks: Vec<ProvenAck<EvmStorageProof>>,
    },
    /// [`Tx::Timeout`] against an EVM chain.
    TimeoutEvm {
        /// The EVM chain the messages were for.
        destination: ChainId,
        /// A verified height of `destination` at or past the messages' timeouts.
        proof_height: Height,
        /// The messages with storage proofs that their receipts are absent.
        messages: Vec<ProvenMessage<EvmStorageProof>>,
    },
}

impl Tx {
    /// What verifying this transaction can cost, counted without verifying anything.
    pub fn cost(&self) -> TxCost {
        let proofs = |n: usize| TxCost {
            proofs: n,
            ..TxCost::default()
        };
        match self {
            Tx::Signed(_) => TxCost {
                signatures: 1,
                ..TxCost::default()
            },
            Tx::UpdateClient { blocks, .. } => TxCost::light_blocks(blocks),
            Tx::SubmitMisbehaviour { evidence, .. } => {
                TxCost::light_blocks([&evidence.first, &evidence.second])
            }
            Tx::UpdateEvmClient { updates, .. } => TxCost::evm_updates(updates),
            Tx::Recv { messages, .. } => proofs(messages.len()),
            Tx::Ack { acks, .. } => proofs(acks.len()),
            Tx::Timeout { messages, .. } => proofs(messages.len()),
            Tx::RecvEvm { messages, .. } => proofs(messages.len()),
            Tx::AckEvm { acks, .. } => proofs(acks.len()),
            Tx::TimeoutEvm { messages, .. } => proofs(messages.len()),
        }
    }

    /// Whether this is a relay transaction (unsigned, free: tags 1–9).
    pub fn is_relay(&self) -> bool {
        !matches!(self, Tx::Signed(_))
    }

    /// `SHA-256("xrelay.txid.v1" ‖ encoding)`: names the transaction in RPC answers and logs.
    pub fn hash(&self) -> Hash32 {
        sha256_concat(&[TX_HASH_TAG, &self.encode()])
    }

    /// A short name of the kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Tx::Signed(s) => match s.action {
                Action::Send { .. } => "send",
                Action::Pay { .. } => "pay",
                Action::CreateClient { .. } => "create_client",
                Action::ResetClient { .. } => "reset_client",
                Action::CreateEvmClient(_) => "create_evm_client",
                Action::ResetEvmClient(_) => "reset_evm_client",
            },
            Tx::UpdateClient { .. } => "update_client",
            Tx::Recv { .. } => "recv",
            Tx::Ack { .. } => "ack",
            Tx::Timeout { .. } => "timeout",
            Tx::SubmitMisbehaviour { .. } => "misbehaviour",
            Tx::UpdateEvmClient { .. } => "update_evm_client",
            Tx::RecvEvm { .. } => "recv_evm",
            Tx::AckEvm { .. } => "ack_evm",
            Tx::TimeoutEvm { .. } => "timeout_evm",
        }
    }
}

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

fn get_trusted(r: &mut Reader<'_>) -> Result<TrustedState, DecodeError> {
    Ok(TrustedState {
        chain_id: r.get()?,
        height: r.u64()?,
        time_ms: r.u64()?,
        header_hash: r.get()?,
        state_root: r.get()?,
        next_validators: r.get()?,
    })
}

fn get_string(r: &mut Reader<'_>, what: &'static str, max: usize) -> Result<String, DecodeError> {
    std::str::from_utf8(r.bytes(what, max)?)
        .map(str::to_string)
        .map_err(|_| DecodeError::invalid(what, "not UTF-8"))
}

impl Encode for Action {
    fn encode_to(&self, w: &mut Writer) {
        match self {
            Action::Send {
                destination,
                app,
                payload,
                timeout,
            } => {
                w.u8(0)
                    .put(destination)
                    .bytes(app.as_bytes())
                    .bytes(payload)
                    .u64(timeout.height)
                    .u64(timeout.time_ms);
            }
            Action::Pay { to, denom, amount } => {
                w.u8(1)
                    .put(to)
                    .bytes(denom.as_bytes())
                    .fixed(&amount.to_be_bytes());
            }
            Action::CreateClient { trusted, options } => {
                w.u8(2);
                put_trusted(w, trusted);
                w.put(options);
            }
            Action::ResetClient { trusted, options } => {
                w.u8(3);
                put_trusted(w, trusted);
                w.put(options);
            }
            Action::CreateEvmClient(client) => {
                w.u8(4).put(client.as_ref());
            }
            Action::ResetEvmClient(client) => {
                w.u8(5).put(client.as_ref());
            }
        }
    }
}

impl Decode for Action {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            0 => Action::Send {
                destination: r.get()?,
                app: get_string(r, "app", MAX_APP_LEN)?,
                payload: r
                    .bytes("payload", xrelay_light_client::message::MAX_PAYLOAD_LEN)?
                    .to_vec(),
                timeout: Timeout {
                    height: r.u64()?,
                    time_ms: r.u64()?,
                },
            },
            1 => Action::Pay {
                to: r.get()?,
                denom: get_string(r, "denom", crate::module::bank::MAX_DENOM_LEN)?,
                amount: u128::from_be_bytes(r.array()?),
            },
            2 => Action::CreateClient {
                trusted: get_trusted(r)?,
                options: r.get()?,
            },
            3 => Action::ResetClient {
                trusted: get_trusted(r)?,
                options: r.get()?,
            },
            4 => Action::CreateEvmClient(Box::new(r.get()?)),
            5 => Action::ResetEvmClient(Box::new(r.get()?)),
            t => {
                return Err(DecodeError::invalid(
                    "action tag",
                    format!("{t} is not 0-5"),
                ))
            }
        })
    }
}

impl<P: Encode> Encode for ProvenMessage<P> {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.message).put(&self.proof);
    }
}

impl<P: Decode> Decode for ProvenMessage<P> {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ProvenMessage {
            message: r.get()?,
            proof: r.get()?,
        })
    }
}

impl<P: Encode> Encode for ProvenAck<P> {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.message).put(&self.ack).put(&self.proof);
    }
}

impl<P: Decode> Decode for ProvenAck<P> {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ProvenAck {
            message: r.get()?,
            ack: r.get()?,
            proof: r.get()?,
        })
    }
}

/// Smallest encodings, for bounding counts against the bytes left.
const MIN_MESSAGE_LEN: usize = 4 + 1 + 4 + 1 + 8 + 4 + 1 + 4 + 1 + 4 + 16;
const MIN_PROOF_LEN: usize = 3;
/// Two empty node lists.
const MIN_EVM_PROOF_LEN: usize = 4 + 4;
/// A header update without headers (`u8 0` ‖ `u32 0`).
const MIN_EVM_UPDATE_LEN: usize = 1 + 4;

/// The first byte of each transaction's encoding (PROTOCOL.md §9.2). An EVM Gateway's relay
/// calls carry the body after it, so the tag is what turns a call back into a transaction.
pub mod tag {
    /// [`super::Tx::Signed`].
    pub const SIGNED: u8 = 0;
    /// [`super::Tx::UpdateClient`].
    pub const UPDATE_CLIENT: u8 = 1;
    /// [`super::Tx::Recv`].
    pub const RECV: u8 = 2;
    /// [`super::Tx::Ack`].
    pub const ACK: u8 = 3;
    /// [`super::Tx::Timeout`].
    pub const TIMEOUT: u8 = 4;
    /// [`super::Tx::SubmitMisbehaviour`].
    pub const SUBMIT_MISBEHAVIOUR: u8 = 5;
    /// [`super::Tx::UpdateEvmClient`].
    pub const UPDATE_EVM_CLIENT: u8 = 6;
    /// [`super::Tx::RecvEvm`].
    pub const RECV_EVM: u8 = 7;
    /// [`super::Tx::AckEvm`].
    pub const ACK_EVM: u8 = 8;
    /// [`super::Tx::TimeoutEvm`].
    pub const TIMEOUT_EVM: u8 = 9;
}

impl Encode for Tx {
    fn encode_to(&self, w: &mut Writer) {
        match self {
            Tx::Signed(s) => {
                w.u8(tag::SIGNED)
                    .put(&s.signer)
                    .u64(s.nonce)
                    .put(&s.action)
                    .put(&s.signature);
            }
            Tx::UpdateClient { chain, blocks } => {
                w.u8(tag::UPDATE_CLIENT).put(chain);
                encode_seq(w, blocks);
            }
            Tx::Recv {
                source,
                proof_height,
                messages,
            } => {
                w.u8(tag::RECV).put(source).u64(*proof_height);
                encode_seq(w, messages);
            }
            Tx::Ack {
                destination,
                proof_height,
                acks,
            } => {
                w.u8(tag::ACK).put(destination).u64(*proof_height);
                encode_seq(w, acks);
            }
            Tx::Timeout {
                destination,
                proof_height,
                messages,
            } => {
                w.u8(tag::TIMEOUT).put(destination).u64(*proof_height);
                encode_seq(w, messages);
            }
            Tx::SubmitMisbehaviour { chain, evidence } => {
                w.u8(tag::SUBMIT_MISBEHAVIOUR)
                    .put(chain)
                    .put(evidence.as_ref());
            }
            Tx::UpdateEvmClient { chain, updates } => {
                w.u8(tag::UPDATE_EVM_CLIENT).put(chain);
                encode_seq(w, updates);
            }
            Tx::RecvEvm {
                source,
                proof_height,
                messages,
            } => {
                w.u8(tag::RECV_EVM).put(source).u64(*proof_height);
                encode_seq(w, messages);
            }
            Tx::AckEvm {
                destination,
                proof_height,
                acks,
            } => {
                w.u8(tag::ACK_EVM).put(destination).u64(*proof_height);
                encode_seq(w, acks);
            }
            Tx::TimeoutEvm {
                destination,
                proof_height,
                messages,
            } => {
                w.u8(tag::TIMEOUT_EVM).put(destination).u64(*proof_height);
                encode_seq(w, messages);
            }
        }
    }
}

impl Decode for Tx {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            tag::SIGNED => Tx::Signed(Box::new(SignedAction {
                signer: r.get()?,
                nonce: r.u64()?,
                action: r.get()?,
                signature: r.get()?,
            })),
            tag::UPDATE_CLIENT => Tx::UpdateClient {
                chain: r.get()?,
                blocks: decode_seq(r, "light blocks", MAX_UPDATE_BLOCKS, 64)?,
            },
            tag::RECV => Tx::Recv {
                source: r.get()?,
                proof_height: r.u64()?,
                messages: decode_seq(
                    r,
                    "messages",
                    MAX_BATCH,
                    MIN_MESSAGE_LEN + 1 + MIN_PROOF_LEN,
                )?,
            },
            tag::ACK => Tx::Ack {
                destination: r.get()?,
                proof_height: r.u64()?,
                acks: decode_seq(r, "acks", MAX_BATCH, MIN_MESSAGE_LEN + 5 + MIN_PROOF_LEN)?,
            },
            tag::TIMEOUT => Tx::Timeout {
                destination: r.get()?,
                proof_height: r.u64()?,
                messages: decode_seq(r, "messages", MAX_BATCH, MIN_MESSAGE_LEN + MIN_PROOF_LEN)?,
            },
            tag::SUBMIT_MISBEHAVIOUR => Tx::SubmitMisbehaviour {
                chain: r.get()?,
                evidence: Box::new(r.get()?),
            },
            tag::UPDATE_EVM_CLIENT => Tx::UpdateEvmClient {
                chain: r.get()?,
                updates: decode_seq(r, "evm updates", MAX_EVM_UPDATES, MIN_EVM_UPDATE_LEN)?,
            },
            tag::RECV_EVM => Tx::RecvEvm {
                source: r.get()?,
                proof_height: r.u64()?,
                messages: decode_seq(
                    r,
                    "messages",
                    MAX_BATCH,
                    MIN_MESSAGE_LEN + 1 + MIN_EVM_PROOF_LEN,
                )?,
            },
            tag::ACK_EVM => Tx::AckEvm {
                destination: r.get()?,
                proof_height: r.u64()?,
                acks: decode_seq(
                    r,
                    "acks",
                    MAX_BATCH,
                    MIN_MESSAGE_LEN + 5 + MIN_EVM_PROOF_LEN,
                )?,
            },
            tag::TIMEOUT_EVM => Tx::TimeoutEvm {
                destination: r.get()?,
                proof_height: r.u64()?,
                messages: decode_seq(
                    r,
                    "messages",
                    MAX_BATCH,
                    MIN_MESSAGE_LEN + MIN_EVM_PROOF_LEN,
                )?,
            },
            t => {
                return Err(DecodeError::invalid(
                    "transaction tag",
                    format!("{t} is not 0-9"),
                ))
            }
        })
    }
}
