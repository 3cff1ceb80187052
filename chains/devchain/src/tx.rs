//! Transactions of the message module and their canonical encoding.
//!
//! Relay transactions (client updates, receives, acks, timeouts, misbehaviour evidence)
//! are the protocol's ([`RelayTx`], tags 1–10, in `xrelay-protocol`): they carry their own proof of
//! validity and are idempotent, so they need no signature, no account and no nonce: any
//! relayer may submit them, concurrently, from any number of processes, without the
//! account-sequence races that shared relayer wallets suffer elsewhere. Actions that move an
//! account's value or change governance are this chain's own, signed by the account with a
//! nonce (tag 0).

use serde::{Deserialize, Serialize};
use xrelay_light_client::encoding::{Reader, Writer};
use xrelay_light_client::evm::client::EvmClientState;
use xrelay_light_client::hash::sha256_concat;
use xrelay_light_client::{
    Address, ChainId, Decode, DecodeError, Encode, Hash32, Signature65, SigningKey, Timeout,
    TrustOptions, TrustedState,
};
use xrelay_protocol::trusted::{get_trusted, put_trusted};
use xrelay_protocol::{tag, RelayTx, TxCost};

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

/// Longest app name.
pub const MAX_APP_LEN: usize = 64;

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
    CreateEvmClient(#[serde(with = "xrelay_protocol::canonical_hex::boxed")] Box<EvmClientState>),
    /// Governance: replace the client of an EVM chain (after a freeze, or to re-anchor it).
    ResetEvmClient(#[serde(with = "xrelay_protocol::canonical_hex::boxed")] Box<EvmClientState>),
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
    /// A relay transaction (tags 1–10): the protocol's bodies, carrying their own proofs.
    /// Untagged in JSON, so a relay transaction reads as `{"Recv": …}` as it always has.
    #[serde(untagged)]
    Relay(RelayTx),
}

impl From<RelayTx> for Tx {
    fn from(r: RelayTx) -> Self {
        Tx::Relay(r)
    }
}

impl Tx {
    /// What verifying this transaction can cost, counted without verifying anything.
    pub fn cost(&self) -> TxCost {
        match self {
            Tx::Signed(_) => TxCost {
                signatures: 1,
                ..TxCost::default()
            },
            Tx::Relay(r) => r.cost(),
        }
    }

    /// Whether this is a relay transaction (unsigned, free: tags 1–10).
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
            Tx::Relay(r) => r.kind(),
        }
    }
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
                denom: get_string(r, "denom", crate::bank::MAX_DENOM_LEN)?,
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
            Tx::Relay(r) => r.encode_to(w),
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
            t @ tag::UPDATE_CLIENT..=tag::LAST => Tx::Relay(RelayTx::decode_body(t, r)?),
            t => {
                return Err(DecodeError::invalid(
                    "transaction tag",
                    format!("{t} is not 0-{}", tag::LAST),
                ))
            }
        })
    }
}
