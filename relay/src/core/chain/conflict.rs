//! Conflict confirmation. A host's client reporting that a chain signed two blocks at one
//! height is a claim; the relayer freezes the chain only if its own light client verifies
//! both blocks ([`Confirmation`]). Apart from `verify` because it judges evidence against
//! the chain instead of moving the client forward, and must never trust a node's word.

use xrelay_light_client::evm::attest::Attested;
use xrelay_light_client::evm::client::{EvmClientState, EvmUpdate, FinalityMode};
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
use xrelay_light_client::{Hash32, Height, LightBlock};

use super::{evm_block_hash, ChainHandle, RelayError};
use crate::core::clock::now_ms;
use crate::core::followed::{EvmFollow, Followed};

/// What the relayer's own light client says of a conflict a host's client reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// Both blocks verified: the chain (its validators, or its committee) signed two
    /// different blocks at one height.
    Confirmed,
    /// Not shown: the relayer does not freeze the chain and keeps relaying.
    Unconfirmed {
        /// Stable label (`xrelay_misbehaviour_unconfirmed_total{reason}`).
        reason: &'static str,
        /// Details for the log.
        detail: String,
    },
}

/// What the relayer makes of a conflict a host's client of an EVM chain reported: its own
/// client's verdict, and the evidence (PROTOCOL.md §12.7) built from the block the host
/// accepted and the chain's own block the relayer verified, for every host of a client of
/// the chain to check from its own trusted set or committee. No evidence when either
/// block is missing (the host's block carries no such update, the relayer's client holds
/// no verified block there, or they are one block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmConflict {
    /// The relayer's own client's verdict: only this freezes the chain for the relayer.
    pub confirmation: Confirmation,
    /// Evidence for the hosts: seal modes, the accepted header and the chain's own
    /// (`Headers`); attestation mode, the accepted attestation and the relayer's own of the
    /// chain's block (`Attestations`), or the accepted one alone (`Conflict`) when the
    /// relayer keeps no attestation of that block.
    pub evidence: Option<EvmMisbehaviour>,
}

impl EvmConflict {
    fn unconfirmed(reason: &'static str, detail: impl Into<String>) -> Self {
        EvmConflict {
            confirmation: Confirmation::unconfirmed(reason, detail),
            evidence: None,
        }
    }
}

impl Confirmation {
    fn unconfirmed(reason: &'static str, detail: impl Into<String>) -> Self {
        Confirmation::Unconfirmed {
            reason,
            detail: detail.into(),
        }
    }
}

impl ChainHandle {
    /// Whether the relayer's own light client confirms that `first` and `second`, two
    /// different headers of this BFT chain at one height, were both committed by its
    /// validators: checked from a header the relayer verified itself below them, so neither
    /// this chain's node nor a host's can make a conflict up. Unconfirmed when the client
    /// holds no verified header below them (it was anchored later) or does not verify both.
    pub async fn confirms_conflict(
        &self,
        first: &LightBlock,
        second: &LightBlock,
    ) -> Result<Confirmation, RelayError> {
        let below = {
            let light = self.light.lock().await;
            let Followed::Bft(client) = &*light else {
                return Ok(Confirmation::unconfirmed("wrong_family", "not a BFT chain"));
            };
            client.heights().filter(|h| *h < first.height()).max()
        };
        let Some(trusted_height) = below else {
            return Ok(Confirmation::unconfirmed(
                "no_trusted_header",
                format!(
                    "the relayer's client holds no verified header below {}",
                    first.height()
                ),
            ));
        };
        // The set comes from the node, but the client checks it against the hash it
        // verified at `trusted_height`.
        let trusted = self.adapter.light_block(trusted_height).await?;
        let evidence = xrelay_light_client::Misbehaviour {
            trusted_height,
            trusted_next_validators: trusted.next_validators,
            first: first.clone(),
            second: second.clone(),
        };
        let light = self.light.lock().await;
        let Followed::Bft(client) = &*light else {
            return Ok(Confirmation::unconfirmed("wrong_family", "not a BFT chain"));
        };
        let mut probe = client.as_ref().clone();
        Ok(match probe.submit_misbehaviour(&evidence, now_ms()) {
            Ok(_) => Confirmation::Confirmed,
            Err(e) => Confirmation::unconfirmed(
                "not_verified",
                format!("from the relayer's header {trusted_height}: {e}"),
            ),
        })
    }

    /// Whether the relayer's own EVM light client confirms that this chain produced two
    /// different blocks at `height`: the one a host's client accepted (hash `accepted`,
    /// found among `submitted`, the updates the host's block carried) and its own; with the
    /// evidence built from the two blocks ([`EvmConflict`]).
    ///
    /// Seal modes (QBFT, IBFT 2.0, Clique): the relayer's client verifies the chain's own
    /// block at `height`, and, from the block it verified at `height - 1` and the
    /// validators trusted after it, the accepted header's seals (the rules of an update:
    /// parent, seals, time). Attestation mode: the accepted block carries a quorum of the
    /// committee the relayer configured, and differs from the block the relayer's client
    /// verified there. Nothing a node says counts until it passes one of these checks.
    pub async fn confirms_evm_conflict(
        &self,
        height: Height,
        accepted: Hash32,
        submitted: &[EvmUpdate],
    ) -> Result<EvmConflict, RelayError> {
        let Some(follow) = &self.evm else {
            return Ok(EvmConflict::unconfirmed("wrong_family", "not an EVM chain"));
        };
        let found = submitted.iter().find_map(|u| match u {
            EvmUpdate::Headers(headers) => headers
                .iter()
                .find(|h| {
                    h.number == height
                        && evm_block_hash(&follow.mode, h).is_ok_and(|hash| hash == accepted)
                })
                .map(|h| EvmUpdate::Headers(vec![h.clone()])),
            EvmUpdate::Attested(a) => (a.attestation.height == height
                && a.attestation.block_hash == accepted)
                .then(|| EvmUpdate::Attested(a.clone())),
        });
        let Some(found) = found else {
            return Ok(EvmConflict::unconfirmed(
                "not_found",
                format!("the host's block carries no update with block {accepted} at {height}"),
            ));
        };
        // The chain's own block there, as the relayer's client verifies it.
        let own = match self.verified(height).await {
            Ok(v) => v,
            Err(e) => {
                return Ok(EvmConflict::unconfirmed(
                    "own_header",
                    format!("the chain's own block {height} is not verified: {e}"),
                ))
            }
        };
        if own.header_hash == accepted {
            return Ok(EvmConflict::unconfirmed(
                "no_conflict",
                format!("the relayer's client verified block {accepted} at {height} itself"),
            ));
        }
        match found {
            EvmUpdate::Attested(attested) => {
                let own_attested = self
                    .attested
                    .lock()
                    .await
                    .get(&height)
                    .filter(|a| a.attestation.block_hash == own.header_hash)
                    .cloned();
                let evidence = Some(attested_evidence(attested.clone(), own_attested));
                let light = self.light.lock().await;
                let Followed::Evm(client) = &*light else {
                    return Ok(EvmConflict::unconfirmed("wrong_family", "not an EVM chain"));
                };
                let mut probe = client.clone();
                let confirmation = match probe.freeze_on_conflict(&attested) {
                    Ok(_) => Confirmation::Confirmed,
                    Err(e) => Confirmation::unconfirmed("not_verified", e.to_string()),
                };
                Ok(EvmConflict {
                    confirmation,
                    evidence,
                })
            }
            EvmUpdate::Headers(forged) => {
                let evidence = self
                    .sealed_evidence(follow, height, own.header_hash, &forged)
                    .await;
                // A failure to confirm (a node answering wrongly) keeps the evidence:
                // the hosts judge it themselves.
                let confirmation = match self.confirms_sealed(height, follow, forged).await {
                    Ok(c) => c,
                    Err(e) => Confirmation::unconfirmed(e.reason(), e.to_string()),
                };
                Ok(EvmConflict {
                    confirmation,
                    evidence,
                })
            }
        }
    }

    /// Seal modes: the accepted header and the chain's own header at `height`, the latter
    /// as the node serves it and kept only if its block hash is `own_hash`, the block the
    /// relayer's client verified (a node serving another block gives no evidence).
    async fn sealed_evidence(
        &self,
        follow: &EvmFollow,
        height: Height,
        own_hash: Hash32,
        forged: &[EvmHeader],
    ) -> Option<EvmMisbehaviour> {
        let forged = forged.first()?.clone();
        let own = match self.adapter.evm_header(height).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(chain = %self.id, height, error = %e, "the chain's own header is not served: no evidence built");
                return None;
            }
        };
        if evm_block_hash(&follow.mode, &own).ok()? != own_hash {
            tracing::warn!(chain = %self.id, height, "the node serves another block than the one the relayer verified: no evidence built");
            return None;
        }
        Some(EvmMisbehaviour::Headers {
            first: Box::new(forged),
            second: Box::new(own),
        })
    }

    /// Seal modes: verifies `forged` (one header at `height`) from the block the relayer's
    /// client verified at `height - 1`, with the validators trusted after that block.
    async fn confirms_sealed(
        &self,
        height: Height,
        follow: &EvmFollow,
        forged: Vec<EvmHeader>,
    ) -> Result<Confirmation, RelayError> {
        let Some(consensus) = follow.mode.consensus() else {
            return Ok(Confirmation::unconfirmed(
                "not_verified",
                "headers for a client in attestation mode",
            ));
        };
        let Some(parent_height) = height.checked_sub(1) else {
            return Ok(Confirmation::unconfirmed("no_trusted_header", "block 0"));
        };
        let (parent, latest, current, gateway) = {
            let light = self.light.lock().await;
            let Followed::Evm(client) = &*light else {
                return Ok(Confirmation::unconfirmed(
                    "wrong_family",
                    "not an EVM chain",
                ));
            };
            (
                client.consensus_state(parent_height).copied(),
                client.latest_height(),
                client.validators().to_vec(),
                client.gateway(),
            )
        };
        let Some(parent) = parent else {
            return Ok(Confirmation::unconfirmed(
                "no_trusted_header",
                format!("the relayer's client holds no verified block at {parent_height}"),
            ));
        };
        // The validators trusted after `parent_height`, from a header the client verified.
        let trusted = match follow.mode {
            FinalityMode::Clique { epoch } => {
                let checkpoint = parent_height - parent_height % epoch;
                if checkpoint.saturating_add(epoch) > latest {
                    // No checkpoint since: the signers the client trusts now.
                    Some(current)
                } else {
                    self.verified_header_validators(consensus, checkpoint)
                        .await?
                }
            }
            _ => {
                self.verified_header_validators(consensus, parent_height)
                    .await?
            }
        };
        let Some(trusted) = trusted else {
            return Ok(Confirmation::unconfirmed(
                "no_trusted_header",
                format!("the validators trusted after block {parent_height} are not known"),
            ));
        };
        let mut probe = match EvmClientState::new(
            self.id.clone(),
            follow.mode.clone(),
            trusted,
            gateway,
            parent_height,
            parent,
        ) {
            Ok(p) => p,
            Err(e) => return Ok(Confirmation::unconfirmed("not_verified", e.to_string())),
        };
        Ok(match probe.update(&EvmUpdate::Headers(forged)) {
            Ok(_) => Confirmation::Confirmed,
            Err(e) => Confirmation::unconfirmed(
                "not_verified",
                format!("from the relayer's block {parent_height}: {e}"),
            ),
        })
    }

    /// The validators an EVM header lists (QBFT / IBFT 2.0: its validators; Clique: a
    /// checkpoint's signers), if the relayer's client verified that very header (its block
    /// hash is the one the client holds at `height`). `None` when it holds none there.
    async fn verified_header_validators(
        &self,
        consensus: xrelay_light_client::evm::consensus::EvmConsensus,
        height: Height,
    ) -> Result<Option<Vec<xrelay_light_client::Address>>, RelayError> {
        let held = {
            let light = self.light.lock().await;
            match &*light {
                Followed::Evm(client) => client.consensus_state(height).map(|cs| cs.block_hash),
                Followed::Bft(_) => None,
            }
        };
        let Some(held) = held else {
            return Ok(None);
        };
        let header = self.adapter.evm_header(height).await?;
        match consensus.block_hash(&header) {
            Ok(hash) if hash == held => {}
            _ => {
                return Err(RelayError::Verification {
                    chain: self.id.clone(),
                    reason: "conflicting_header",
                    detail: format!(
                        "the node serves a block {height} other than the one the relayer verified"
                    ),
                })
            }
        }
        Ok(consensus.header_validators(&header).ok().flatten())
    }
}

/// Attestation mode: the accepted attestation with the relayer's own of the chain's block
/// (two vouched-for blocks at one height: valid against any client with the committee,
/// whatever it holds), or, without one, the accepted attestation alone (valid against a
/// client that holds another block at that height).
fn attested_evidence(accepted: Attested, own: Option<Attested>) -> EvmMisbehaviour {
    match own {
        Some(own) => EvmMisbehaviour::Attestations {
            first: accepted,
            second: own,
        },
        None => EvmMisbehaviour::Conflict(accepted),
    }
}
