//! What the receive, ack and timeout handlers need from the client of the chain at the
//! other end of a lane, whatever kind it is: a BFT chain proven by the state tree of §5
//! ([`ClientState`]), or an EVM chain proven by gateway storage proofs of §12
//! ([`EvmClientState`]). The lane rules are written once against [`Counterparty`], so
//! both kinds of chain get exactly the same semantics.

use xrelay_light_client::evm::client::{
    verify_path, EvmClientError, EvmClientState, EvmStorageProof,
};
use xrelay_light_client::{
    ChainId, ClientError, ClientState, Decode, Encode, Height, ProofClaim, StateProof, TimeMs,
};

use super::{keys, ModuleError};
use crate::state::Overlay;

/// One fact about the counterparty's state to prove: `key` held `value` (`None`: was
/// absent) at the proof height.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a, P> {
    /// The protocol path (§6).
    pub key: &'a [u8],
    /// The value it holds, or `None` to prove absence.
    pub value: Option<&'a [u8]>,
    /// The proof.
    pub proof: &'a P,
}

/// The client of the chain at the other end of a lane, as the lane handlers use it.
pub trait Counterparty: Sized {
    /// The kind of proof the chain's state is proven with.
    type Proof;

    /// The client of `chain` stored here; a typed error if there is none of this kind.
    fn load(state: &Overlay<'_>, chain: &ChainId) -> Result<Self, ModuleError>;

    /// Checks every claim at the verified `height`, all or nothing.
    fn verify(
        &self,
        height: Height,
        claims: &[Claim<'_, Self::Proof>],
        now_ms: TimeMs,
    ) -> Result<(), ModuleError>;

    /// The block time the client verified at `height` (a timeout's proof time).
    fn time_at(&self, height: Height) -> Result<TimeMs, ModuleError>;
}

/// Whether `chain` has a client here of either kind (a lane to it can settle).
pub fn has_client(state: &Overlay<'_>, chain: &ChainId) -> Result<bool, ModuleError> {
    Ok(state.has(&keys::client(chain))? || state.has(&keys::evm_client(chain))?)
}

impl Counterparty for ClientState {
    type Proof = StateProof;

    fn load(state: &Overlay<'_>, chain: &ChainId) -> Result<Self, ModuleError> {
        load_client(state, chain)
    }

    fn verify(
        &self,
        height: Height,
        claims: &[Claim<'_, StateProof>],
        now_ms: TimeMs,
    ) -> Result<(), ModuleError> {
        if claims.is_empty() {
            return Ok(());
        }
        let claims: Vec<ProofClaim<'_>> = claims
            .iter()
            .map(|c| ProofClaim {
                key: c.key,
                value: c.value,
                proof: c.proof,
            })
            .collect();
        self.verify_batch(height, &claims, now_ms)
            .map_err(|e| ModuleError::client(self.chain_id(), e))
    }

    fn time_at(&self, height: Height) -> Result<TimeMs, ModuleError> {
        self.consensus_state(height)
            .map(|cs| cs.time_ms)
            .ok_or_else(|| ModuleError::client(self.chain_id(), ClientError::UnknownHeight(height)))
    }
}

impl Counterparty for EvmClientState {
    type Proof = EvmStorageProof;

    fn load(state: &Overlay<'_>, chain: &ChainId) -> Result<Self, ModuleError> {
        load_evm_client(state, chain)
    }

    /// EVM clients have no trusting period (`now_ms` is unused): a verified block stays
    /// trusted until it is pruned or the client frozen.
    fn verify(
        &self,
        height: Height,
        claims: &[Claim<'_, EvmStorageProof>],
        _now_ms: TimeMs,
    ) -> Result<(), ModuleError> {
        claims.iter().try_for_each(|c| {
            verify_path(self, height, c.key, c.value, c.proof)
                .map_err(|e| ModuleError::evm_client(self.chain_id(), e))
        })
    }

    fn time_at(&self, height: Height) -> Result<TimeMs, ModuleError> {
        self.consensus_state(height)
            .map(|cs| cs.time_ms)
            .ok_or_else(|| {
                ModuleError::evm_client(self.chain_id(), EvmClientError::UnknownHeight(height))
            })
    }
}

/// The BFT client of `chain` stored in `state`.
pub fn load_client(state: &Overlay<'_>, chain: &ChainId) -> Result<ClientState, ModuleError> {
    match state.get(&keys::client(chain))? {
        Some(bytes) => Ok(ClientState::decode(&bytes)?),
        None if state.has(&keys::evm_client(chain))? => {
            Err(ModuleError::NotBftClient(chain.clone()))
        }
        None => Err(ModuleError::UnknownClient(chain.clone())),
    }
}

/// The EVM client of `chain` stored in `state`.
pub fn load_evm_client(
    state: &Overlay<'_>,
    chain: &ChainId,
) -> Result<EvmClientState, ModuleError> {
    match state.get(&keys::evm_client(chain))? {
        Some(bytes) => Ok(EvmClientState::decode(&bytes)?),
        None if state.has(&keys::client(chain))? => Err(ModuleError::NotEvmClient(chain.clone())),
        None => Err(ModuleError::UnknownEvmClient(chain.clone())),
    }
}

/// Writes the BFT client at `clients/{chain}`.
pub(super) fn store_client(state: &mut Overlay<'_>, client: &ClientState) {
    state.set(keys::client(client.chain_id()), client.encode());
}

/// Writes the EVM client at `evm_clients/{chain}`.
pub(super) fn store_evm_client(state: &mut Overlay<'_>, client: &EvmClientState) {
    state.set(keys::evm_client(client.chain_id()), client.encode());
}
