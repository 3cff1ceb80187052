//! Misbehaviour detection: every header a chain's client of `of` accepted (its
//! `ClientUpdated` events) is compared with `of`'s own header at that height. A different
//! one becomes evidence for every chain that hosts a client of `of` (each verifies it from
//! its own trusted state: a BFT `Misbehaviour`, or an `EvmMisbehaviour` of the accepted
//! block and the chain's own for an EVM chain), and the relayer stops relaying `of` (persisted, until an
//! operator runs `xrelay unfreeze`) only once its own light client has verified both
//! blocks (`ChainHandle::confirms_conflict`, `ChainHandle::confirms_evm_conflict`). What
//! nodes answer (an event, a host's client reported frozen, evidence reported accepted)
//! never freezes a chain by itself: an unconfirmed conflict is counted
//! (`xrelay_misbehaviour_unconfirmed_total{chain,reason}`), logged, and relaying goes on.

use xrelay_adapters::{ChainAdapter, HostedClient, Submission};
use xrelay_light_client::evm::client::EvmUpdate;
use xrelay_light_client::{ChainId, Hash32, Height, LightBlock, Misbehaviour, TrustedState};

use super::chain::{ChainHandle, Confirmation, EvmConflict, RelayError};
use super::Relay;

/// Checks the headers `host`'s client of `of` accepted in block `at`.
pub async fn check(
    relay: &Relay,
    host: &ChainHandle,
    at: Height,
    of: &ChainId,
    headers: &[(Height, Hash32)],
) {
    let Some(followed) = relay.chains.get(of) else {
        return;
    };
    if followed.is_frozen() {
        return;
    }
    for (height, hash) in headers {
        let verdict = match followed.header_hash(*height).await {
            Ok(own) if own == *hash => continue,
            Ok(own) => {
                tracing::warn!(chain = %of, host = %host.id, height, own = %own, accepted = %hash, "a client accepted a header the chain's node does not serve: checking it");
                if followed.is_evm() {
                    match host.adapter.submitted_evm_updates(at, of).await {
                        Ok(updates) => report_evm(relay, followed, *height, *hash, &updates).await,
                        Err(e) => Err(e.into()),
                    }
                } else {
                    match followed.light_block(*height).await {
                        Ok(own) => report(relay, host, at, followed, own, *hash).await,
                        Err(e) => Err(e),
                    }
                }
            }
            Err(e) => {
                tracing::warn!(chain = %of, height, error = %e, "could not fetch the header to compare");
                continue;
            }
        };
        let verdict = verdict.unwrap_or_else(|e| {
            (
                Confirmation::Unconfirmed {
                    reason: e.reason(),
                    detail: e.to_string(),
                },
                None,
            )
        });
        match verdict {
            (Confirmation::Confirmed, evidence) => {
                freeze(relay, host, followed, *height, *hash, evidence);
            }
            (Confirmation::Unconfirmed { reason, detail }, _) => {
                relay
                    .metrics
                    .misbehaviour_unconfirmed
                    .with_label_values(&[of.as_str(), reason])
                    .inc();
                tracing::warn!(chain = %of, host = %host.id, height, accepted = %hash, reason, %detail, "conflict not confirmed by the relayer's own light client: still relaying");
            }
        }
        return;
    }
}

/// The relayer's own client verified both blocks: it stops relaying `of` (persisted and
/// synced) and counts the incident.
fn freeze(
    relay: &Relay,
    host: &ChainHandle,
    of: &ChainHandle,
    height: Height,
    accepted: Hash32,
    evidence: Option<Hash32>,
) {
    tracing::error!(chain = %of.id, host = %host.id, height, accepted = %accepted, "MISBEHAVIOUR: the chain signed two different blocks at one height (verified by the relayer's own light client); relaying from it stops");
    relay
        .metrics
        .misbehaviour
        .with_label_values(&[of.id.as_str()])
        .inc();
    of.freeze();
    let store = relay.ledger.store();
    let mut t = store.transition();
    store.put_frozen(&mut t, &of.id, &evidence.unwrap_or(accepted).to_string());
    if let Err(e) = store.commit(t) {
        tracing::error!(chain = %of.id, error = %e, "could not persist the frozen chain");
    }
}

/// A BFT chain's conflict: whether the relayer's own client confirms it, after the evidence
/// went to every host of a client of `of` (each checks it from its own trusted header,
/// whatever its node says of that client). Returns the confirmation and the hash of the
/// evidence submitted, if any.
async fn report(
    relay: &Relay,
    host: &ChainHandle,
    at: Height,
    of: &ChainHandle,
    own: LightBlock,
    accepted: Hash32,
) -> Result<(Confirmation, Option<Hash32>), RelayError> {
    let height = own.height();
    // The chain's own header must be validly committed by its own set (checked again by
    // the relayer's client and by every host against a trusted state).
    if let Err(e) = TrustedState::from_light_block(&own) {
        return Ok((
            Confirmation::Unconfirmed {
                reason: "own_header",
                detail: format!("the chain's own header {height} is not committed: {e}"),
            },
            None,
        ));
    }
    let Some(forged) = host
        .adapter
        .submitted_headers(at, &of.id)
        .await?
        .into_iter()
        .find(|b| b.height() == height && b.header().hash() == accepted)
    else {
        return Ok((
            Confirmation::Unconfirmed {
                reason: "not_found",
                detail: format!("the header {accepted} is not in {}'s block {at}", host.id),
            },
            None,
        ));
    };
    let confirmation = of.confirms_conflict(&forged, &own).await?;
    let mut evidence_hash = None;
    for (hosts_id, hosting) in &relay.chains {
        if *hosts_id == of.id {
            continue;
        }
        let Ok(Some(HostedClient::Bft(state))) = hosting.adapter.client_state(&of.id).await else {
            continue;
        };
        // The evidence is checked from the host's own trusted header below the conflict.
        let Some(trusted_height) = state.heights().filter(|h| *h < height).max() else {
            tracing::warn!(host = %hosts_id, chain = %of.id, "no trusted header below the conflict; cannot prove it there");
            continue;
        };
        let trusted = match of.light_block(trusted_height).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(host = %hosts_id, chain = %of.id, error = %e, "evidence not built");
                continue;
            }
        };
        let evidence = Misbehaviour {
            trusted_height,
            trusted_next_validators: trusted.next_validators.clone(),
            first: forged.clone(),
            second: own.clone(),
        };
        evidence_hash.get_or_insert(evidence.hash());
        submit_evidence(
            hosting.adapter.as_ref(),
            hosts_id,
            &of.id,
            Submission::Misbehaviour {
                of: of.id.clone(),
                evidence: Box::new(evidence),
            },
        )
        .await;
    }
    Ok((confirmation, evidence_hash))
}

/// An EVM chain's conflict: whether the relayer's own client confirms it
/// (`ChainHandle::confirms_evm_conflict`), after the evidence built from the two blocks
/// went to every host of an EVM client of `of`, devchains and EVM chains alike (each checks
/// it from its own trusted set or committee, whatever its node says of that client).
/// Returns the confirmation and the hash of the evidence, if any was built.
async fn report_evm(
    relay: &Relay,
    of: &ChainHandle,
    height: Height,
    accepted: Hash32,
    submitted: &[EvmUpdate],
) -> Result<(Confirmation, Option<Hash32>), RelayError> {
    let EvmConflict {
        confirmation,
        evidence,
    } = of
        .confirms_evm_conflict(height, accepted, submitted)
        .await?;
    let Some(evidence) = evidence else {
        return Ok((confirmation, None));
    };
    let evidence_hash = evidence.hash();
    for (hosts_id, hosting) in &relay.chains {
        if *hosts_id == of.id {
            continue;
        }
        let Ok(Some(HostedClient::Evm(_))) = hosting.adapter.client_state(&of.id).await else {
            continue;
        };
        submit_evidence(
            hosting.adapter.as_ref(),
            hosts_id,
            &of.id,
            Submission::EvmMisbehaviour {
                of: of.id.clone(),
                evidence: Box::new(evidence.clone()),
            },
        )
        .await;
    }
    Ok((confirmation, Some(evidence_hash)))
}

/// Submits evidence against `of` to a host and logs the answer, which is never taken as
/// proof of anything (a host's node may say its client froze, or refuse, either way).
async fn submit_evidence(
    host: &dyn ChainAdapter,
    host_id: &ChainId,
    of: &ChainId,
    evidence: Submission,
) {
    let kind = evidence.kind();
    match host.submit(evidence).await {
        Ok(c) => match c.outcome {
            Ok(_) => {
                tracing::warn!(host = %host_id, chain = %of, kind, "evidence submitted; the host reports its client frozen")
            }
            Err(why) => {
                tracing::warn!(host = %host_id, chain = %of, kind, %why, "evidence refused")
            }
        },
        Err(e) => {
            tracing::warn!(host = %host_id, chain = %of, kind, error = %e, "evidence not submitted")
        }
    }
}
