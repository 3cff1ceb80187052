//! Misbehaviour detection: every header a chain's client of `of` accepted (its
//! `ClientUpdated` events) is compared with `of`'s own header at that height. Two different
//! headers at one height, both committed by `of`'s validators, are evidence: it is
//! submitted to every chain that hosts a client of `of` (they freeze it), and the relayer
//! stops relaying `of` (persisted) until an operator resolves it (`xrelay unfreeze`) — but
//! only once its own light client verified both conflicting headers, never on a node's
//! word (a host's `frozen` flag, an accepted evidence transaction, an event).

use xrelay_adapters::{HostedClient, Submission};
use xrelay_light_client::{ChainId, Hash32, Height, LightBlock, Misbehaviour, TrustedState};

use super::chain::{ChainHandle, RelayError};
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
        match followed.header_hash(*height).await {
            Ok(own) if own == *hash => continue,
            Ok(own) if followed.is_evm() => {
                // No evidence format for EVM chains' blocks (their own consensus has none the
                // devchain could check): stop relaying it and make it loud.
                report_evm(relay, host, followed, *height, own, *hash);
                return;
            }
            Ok(_) => {
                let reported = match followed.light_block(*height).await {
                    Ok(own) => report(relay, host, at, followed, own, *hash).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = reported {
                    tracing::error!(chain = %of, height, error = %e, "conflicting header found but the evidence could not be completed");
                }
                return;
            }
            Err(e) => {
                tracing::warn!(chain = %of, height, error = %e, "could not fetch the header to compare")
            }
        }
    }
}

/// A client of the EVM chain `of` accepted a block `of` did not produce, by the nodes'
/// account. EVM blocks have no evidence format the relayer could check from its own client
/// here, so it does not freeze on this: it counts the unconfirmed conflict, makes it loud
/// and keeps relaying (a host's client verified what it accepted, and the relayer verifies
/// everything it forwards with its own client).
fn report_evm(
    relay: &Relay,
    host: &ChainHandle,
    of: &ChainHandle,
    height: Height,
    own: Hash32,
    accepted: Hash32,
) {
    tracing::error!(chain = %of.id, host = %host.id, height, own = %own, accepted = %accepted, "a client is said to have accepted a block the EVM chain did not produce; unconfirmed by this relayer's own client, still relaying");
    relay
        .metrics
        .verification_failures
        .with_label_values(&[of.id.as_str(), "unconfirmed_conflict"])
        .inc();
}

async fn report(
    relay: &Relay,
    host: &ChainHandle,
    at: Height,
    of: &ChainHandle,
    own: LightBlock,
    accepted: Hash32,
) -> Result<(), RelayError> {
    let height = own.height();
    tracing::error!(chain = %of.id, host = %host.id, height, own = %own.header().hash(), accepted = %accepted, "MISBEHAVIOUR: a client accepted a header the chain did not commit");
    // The chain's own header must be validly committed by its own set (checked again by
    // every host against its trusted state).
    TrustedState::from_light_block(&own).map_err(|e| RelayError::Verification {
        chain: of.id.clone(),
        reason: "conflicting_header",
        detail: format!("the chain's own header {height} is not committed: {e}"),
    })?;
    let forged = host
        .adapter
        .submitted_headers(at, &of.id)
        .await?
        .into_iter()
        .find(|b| b.height() == height && b.header().hash() == accepted)
        .ok_or_else(|| {
            RelayError::Retry(format!(
                "the header {accepted} is not in {}'s block {at}",
                host.id
            ))
        })?;
    // Whether the conflict is real: the relayer's own client verifies both headers.
    // Anything else rests on nodes' answers (a host saying its client froze or took the
    // evidence), and a lying endpoint must not stop the relayer. The evidence still goes
    // to every host, which checks it itself.
    let confirmed = of.confirms_conflict(&forged, &own).await.unwrap_or(false);
    let mut evidence_hash = None;
    for (hosts_id, hosting) in &relay.chains {
        if *hosts_id == of.id {
            continue;
        }
        let Ok(Some(HostedClient::Bft(state))) = hosting.adapter.client_state(&of.id).await else {
            continue;
        };
        if state.frozen().is_some() {
            continue;
        }
        // The evidence is checked from the host's own trusted header below the conflict.
        let Some(trusted_height) = state.heights().filter(|h| *h < height).max() else {
            tracing::warn!(host = %hosts_id, chain = %of.id, "no trusted header below the conflict; cannot prove it there");
            continue;
        };
        let trusted = of.light_block(trusted_height).await?;
        let evidence = Misbehaviour {
            trusted_height,
            trusted_next_validators: trusted.next_validators.clone(),
            first: forged.clone(),
            second: own.clone(),
        };
        evidence_hash = Some(evidence.hash());
        match hosting
            .adapter
            .submit(Submission::Misbehaviour {
                of: of.id.clone(),
                evidence: Box::new(evidence),
            })
            .await
        {
            Ok(c) => match c.outcome {
                Ok(_) => {
                    tracing::warn!(host = %hosts_id, chain = %of.id, "evidence accepted: client frozen")
                }
                Err(why) => {
                    tracing::warn!(host = %hosts_id, chain = %of.id, %why, "evidence refused")
                }
            },
            Err(e) => {
                tracing::warn!(host = %hosts_id, chain = %of.id, error = %e, "evidence not submitted")
            }
        }
    }
    if !confirmed {
        return Err(RelayError::Verification {
            chain: of.id.clone(),
            reason: "unconfirmed_conflict",
            detail: format!(
                "a client on {} accepted header {accepted} at {height}, but this relayer's own client does not confirm a conflict (anchored later, or a node answered falsely); still relaying {}",
                host.id, of.id
            ),
        });
    }
    relay
        .metrics
        .misbehaviour
        .with_label_values(&[of.id.as_str()])
        .inc();
    of.freeze();
    let store = relay.ledger.store();
    let mut t = store.transition();
    store.put_frozen(
        &mut t,
        &of.id,
        &evidence_hash
            .map(|h| h.to_string())
            .unwrap_or_else(|| accepted.to_string()),
    );
    store.commit(t)?;
    Ok(())
}
