//! The attester's signer (attestation mode). A relayer that is an attester of an EVM chain
//! signs the chain's blocks as its own node sees them: its own attestations (gathered with
//! the committee's signatures into the quorum an update needs) and co-signatures of peers'
//! attestations that match its node. It signs final blocks only, never two blocks at one
//! height (recorded in the store before the signature exists), and stops signing the chain
//! at the first conflict until an operator restarts it. Apart from the rest because these
//! rules are what keep a committee member from ever attesting two forks.

use std::time::Duration;

use xrelay_light_client::evm::attest::{Attestation, Attested, AttesterSignature, Committee};
use xrelay_light_client::evm::client::FinalityMode;
use xrelay_light_client::{Height, SigningKey};

use super::{ChainHandle, RelayError};
use crate::core::followed::{EvmFollow, Failure};

/// Heights of a chain below the newest one signed for which the co-signer remembers what
/// it signed (in the store, across restarts); it signs nothing at or below the forgotten
/// ones. Attestations are asked for near the chain's head, so this is hours of blocks.
pub const SIGNED_HEIGHTS_KEPT: u64 = 16_384;

/// Attestations a relayer keeps of its own (for the on-chain clients that need them).
const KEPT_ATTESTATIONS: usize = 256;

/// How long a relayer waits for the committee's quorum on a block, in block times
/// (clamped to [`ATTESTATION_WAIT_MIN`, `ATTESTATION_WAIT_MAX`]): long enough for peers
/// whose nodes are a block behind, short enough that a missing peer stalls a lane briefly
/// before the next try.
const ATTESTATION_WAIT_BLOCKS: u32 = 10;
const ATTESTATION_WAIT_MIN: Duration = Duration::from_secs(2);
const ATTESTATION_WAIT_MAX: Duration = Duration::from_secs(30);

/// What [`ChainHandle::cosign`] did with a peer's attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cosigned {
    /// This relayer is no attester of the chain (or it is not in attestation mode).
    NotAttester,
    /// It had signed the attestation already.
    AlreadySigned,
    /// It checked the attestation against its own node, signed and published it.
    Signed,
    /// The height is at or below those whose signatures it has forgotten: not signed.
    TooOld,
}

impl ChainHandle {
    /// The committee's attestation of the chain's block at `height`, gathered once and
    /// kept: this relayer signs it and publishes its signature to the mesh, then waits
    /// (a bounded time) for the other members' signatures until a quorum signed. Members
    /// sign what their own nodes say ([`Self::cosign`]), so a quorum exists only if enough
    /// of them see the same block.
    pub(super) async fn attest(
        &self,
        height: Height,
        follow: &EvmFollow,
        committee: &Committee,
    ) -> Result<Attested, RelayError> {
        if let Some(a) = self.attested.lock().await.get(&height) {
            return Ok(a.clone());
        }
        let Some(key) = &follow.attester else {
            return Err(RelayError::Verification {
                chain: self.id.clone(),
                reason: "no_attester_key",
                detail:
                    "attestation mode needs this relayer's attester key (evm.attester_key_file)"
                        .into(),
            });
        };
        self.ensure_final(height).await?;
        let attestation = self.own_attestation(height).await?;
        let signature = self.sign_once(&attestation, key)?;
        follow
            .board
            .publish_own(attestation.clone(), signature)
            .map_err(|e| RelayError::Verification {
                chain: self.id.clone(),
                reason: "attestation_refused",
                detail: format!("this relayer's own signature: {e}"),
            })?;
        let wait = (self.block_time * ATTESTATION_WAIT_BLOCKS)
            .clamp(ATTESTATION_WAIT_MIN, ATTESTATION_WAIT_MAX);
        let attested = follow
            .board
            .gather(&attestation, committee, wait)
            .await
            .ok_or_else(|| {
                RelayError::Retry(format!(
                    "{} height {height}: {} of the committee's attester signatures needed, not \
                     all arrived within {wait:?} (peers down, or their nodes see another block)",
                    self.id,
                    committee.quorum()
                ))
            })?;
        let mut kept = self.attested.lock().await;
        kept.insert(height, attested.clone());
        while kept.len() > KEPT_ATTESTATIONS {
            kept.pop_first();
        }
        Ok(attested)
    }

    /// What this relayer attests of the chain's block at `height`: its own node's header.
    /// (Visible to the parent module for `cosign_tests`.)
    pub(super) async fn own_attestation(&self, height: Height) -> Result<Attestation, RelayError> {
        let header = self.adapter.evm_header(height).await?;
        Ok(Attestation {
            chain_id: self.id.clone(),
            height,
            block_hash: header.hash(),
            state_root: header.state_root,
            time_ms: header.timestamp.saturating_mul(1_000),
        })
    }

    /// Signs a peer's `attestation` of this chain if it is what this relayer's own node
    /// says of that block, and publishes the signature: how the other members of the
    /// committee help a relayer reach the quorum for a block it needs. It signs only a
    /// final block (at or below its node's head minus the chain's confirmations; above it
    /// is a [`RelayError::Retry`], worth trying again) and never two different blocks at
    /// one height ([`Self::sign_once`]). An attestation of a block this relayer's node does
    /// not have yet is an [`RelayError::Adapter`] error (worth retrying); one that differs
    /// from a block it signed at that height, or from its own node's final block, is a
    /// conflict: nothing is signed, and it stops signing attestations of this chain
    /// ([`Self::cosign_halted`]).
    pub async fn cosign(&self, attestation: &Attestation) -> Result<Cosigned, RelayError> {
        let Some(follow) = &self.evm else {
            return Ok(Cosigned::NotAttester);
        };
        let (FinalityMode::Attestation(_), Some(key)) = (&follow.mode, &follow.attester) else {
            return Ok(Cosigned::NotAttester);
        };
        if attestation.chain_id != self.id {
            return Ok(Cosigned::NotAttester);
        }
        if follow.board.signed_by(attestation, &key.address()) {
            return Ok(Cosigned::AlreadySigned);
        }
        self.check_not_halted()?;
        // Asked to sign another block at a height it signed: a conflict, whatever its node
        // says now.
        match self
            .store
            .signed_attestation(&self.id, attestation.height)?
        {
            Some(signed) if signed != *attestation => {
                return Err(self.conflict(format!(
                    "a peer asks to sign block {} at height {}, where this relayer signed block {}",
                    attestation.block_hash, attestation.height, signed.block_hash
                )));
            }
            Some(_) => {}
            None if attestation.height <= self.store.signed_floor(&self.id)? => {
                return Ok(Cosigned::TooOld);
            }
            None => {}
        }
        self.ensure_final(attestation.height).await?;
        let own = self.own_attestation(attestation.height).await?;
        if own != *attestation {
            return Err(self.conflict(format!(
                "a peer attested height {} as block {} (state root {}, time {}), this \
                 relayer's node has block {} (state root {}, time {})",
                attestation.height,
                attestation.block_hash,
                attestation.state_root,
                attestation.time_ms,
                own.block_hash,
                own.state_root,
                own.time_ms
            )));
        }
        let signature = self.sign_once(&own, key)?;
        follow
            .board
            .publish_own(own, signature)
            .map_err(|e| RelayError::Verification {
                chain: self.id.clone(),
                reason: "attestation_refused",
                detail: format!("this relayer's own signature: {e}"),
            })?;
        Ok(Cosigned::Signed)
    }

    /// Why this relayer stopped signing attestations of this chain, if it did (shown by
    /// `/readyz`).
    pub fn cosign_halted(&self) -> Option<String> {
        self.cosign_halt
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn check_not_halted(&self) -> Result<(), RelayError> {
        match self.cosign_halted() {
            Some(why) => Err(RelayError::CosignHalted {
                chain: self.id.clone(),
                why,
            }),
            None => Ok(()),
        }
    }

    /// Stops signing attestations of this chain (the first conflict's words are kept),
    /// counts the conflict and raises `xrelay_cosign_halted{chain}`; the error to return.
    fn conflict(&self, why: String) -> RelayError {
        {
            let mut halt = self.cosign_halt.lock().unwrap_or_else(|e| e.into_inner());
            if halt.is_none() {
                tracing::error!(chain = %self.id, conflict = %why, "ATTESTATION CONFLICT: this relayer stops signing attestations of the chain until restarted; either its node or other attesters are wrong");
                *halt = Some(why.clone());
            }
        }
        self.metrics
            .cosign_halted
            .with_label_values(&[self.id.as_str()])
            .set(1);
        self.fail(Failure {
            reason: "attestation_conflict",
            detail: format!("{why}: not signed"),
            source_unavailable: false,
        })
    }

    /// Fails with [`RelayError::Retry`] unless `height` is final on this relayer's node
    /// (for an EVM chain, at or below its head minus the configured confirmations).
    async fn ensure_final(&self, height: Height) -> Result<(), RelayError> {
        let mut last_final = *self.adapter.heads().borrow();
        if height > last_final {
            last_final = self.adapter.status().await?.height;
        }
        if height > last_final {
            return Err(RelayError::Retry(format!(
                "{} height {height} is not final on this relayer's node yet (final head \
                 {last_final}): not signed",
                self.id
            )));
        }
        Ok(())
    }

    /// Signs `attestation` with `key` unless this relayer signed another block at its
    /// height of this chain: what it signs is recorded on disk before the signature
    /// exists, so not even a restart lets it sign two. The same attestation again gets the
    /// same signature. A different one halts signing for the chain (see [`Self::cosign`]).
    fn sign_once(
        &self,
        attestation: &Attestation,
        key: &SigningKey,
    ) -> Result<AttesterSignature, RelayError> {
        self.check_not_halted()?;
        let signed = {
            let _one_at_a_time = self.signing.lock().unwrap_or_else(|e| e.into_inner());
            match self
                .store
                .signed_attestation(&self.id, attestation.height)?
            {
                Some(signed) if signed == *attestation => Ok(()),
                Some(signed) => Err(signed),
                None => {
                    if attestation.height <= self.store.signed_floor(&self.id)? {
                        return Err(RelayError::Verification {
                            chain: self.id.clone(),
                            reason: "attestation_too_old",
                            detail: format!(
                                "height {} is at or below the heights this relayer no longer \
                                 remembers signing: not signed",
                                attestation.height
                            ),
                        });
                    }
                    self.store
                        .remember_signed(attestation, SIGNED_HEIGHTS_KEPT)?;
                    Ok(())
                }
            }
        };
        match signed {
            Ok(()) => Ok(attestation.sign(key)),
            Err(signed) => Err(self.conflict(format!(
                "this relayer's node now has block {} at height {}, where this relayer signed \
                 block {} (a reorganisation deeper than the confirmations?)",
                attestation.block_hash, attestation.height, signed.block_hash
            ))),
        }
    }
}
