//! Keeping a chain's on-chain client of another chain at a height the relay needs, with
//! headers the relayer verified itself: the path from the on-chain client's trusted header
//! (bisection, so intermediate headers are included when the validator set moved) must end
//! at exactly the header the relayer's own light client holds at that height.

use xrelay_adapters::{ClientUpdate, HostedClient, Submission};
use xrelay_light_client::{Hash32, Height};

use super::chain::{metered_update, ChainHandle, RelayError};
use crate::metrics::Metrics;
use xrelay_protocol::{evm_update_runs, light_block_runs};

/// How long [`ensure_client_at`] waits for an update it submits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateWait {
    /// Until the host's mempool accepted it: the caller submits the transaction that
    /// needs the update right after, and the host's block includes both, in order.
    Accepted,
    /// Until a block included it (nothing follows it).
    Included,
}

/// Makes sure `host`'s client of `of` has verified `of`'s header at `height` (or, with
/// [`UpdateWait::Accepted`], that the update doing so is queued). Returns `Retry` when the
/// on-chain client is already past `height` without it.
pub async fn ensure_client_at(
    host: &ChainHandle,
    of: &ChainHandle,
    height: Height,
    metrics: &Metrics,
    wait: UpdateWait,
) -> Result<(), RelayError> {
    let ours = of.verified(height).await?;
    let _guard = host.hosted_update_lock(&of.id).await;
    let state = host
        .adapter
        .client_state_for(&of.id, height)
        .await?
        .ok_or_else(|| RelayError::NoClient {
            host: host.id.clone(),
            of: of.id.clone(),
        })?;
    if state.is_frozen() {
        return Err(RelayError::Frozen {
            host: host.id.to_string(),
            of: of.id.clone(),
        });
    }
    if let Some(held) = state.header_hash_at(height) {
        if held != ours.header_hash {
            return Err(conflict(
                metrics,
                of,
                format!(
                    "{}'s client holds {held} at {height}, the relayer verified {}",
                    host.id, ours.header_hash
                ),
            ));
        }
        return Ok(());
    }
    if state.latest_height() > height {
        return Err(RelayError::Retry(format!(
            "{}'s client of {} is at {}, past {height}",
            host.id,
            of.id,
            state.latest_height()
        )));
    }
    let mut updates: Vec<ClientUpdate> = match state {
        HostedClient::Bft(path) => {
            light_block_runs(bft_path(host, of, *path, height, ours.header_hash, metrics).await?)
                .into_iter()
                .map(ClientUpdate::Bft)
                .collect()
        }
        HostedClient::Evm(hosted) => {
            evm_path(host, of, hosted, height, ours.header_hash, metrics).await?
        }
    };
    // A path over one transaction's verification budget (PROTOCOL.md §9.2) goes in several
    // transactions, each included before the next.
    let last = updates.pop().unwrap_or(ClientUpdate::Bft(Vec::new()));
    for update in updates {
        let confirmed = host
            .adapter
            .submit(Submission::UpdateClient {
                of: of.id.clone(),
                update,
            })
            .await?;
        if let Err(why) = confirmed.outcome {
            return Err(RelayError::Retry(format!(
                "update of {}'s client of {}: {why}",
                host.id, of.id
            )));
        }
    }
    let update = Submission::UpdateClient {
        of: of.id.clone(),
        update: last,
    };
    if wait == UpdateWait::Accepted {
        return match host.adapter.broadcast(update).await {
            Ok(_) => Ok(()),
            Err(xrelay_adapters::AdapterError::Refused { reason, .. }) => {
                recheck_after_failed_update(host, of, height, ours.header_hash, metrics, &reason)
                    .await
            }
            Err(e) => {
                metrics
                    .submissions
                    .with_label_values(&[host.id.as_str(), "failed"])
                    .inc();
                Err(e.into())
            }
        };
    }
    let confirmed = host.adapter.submit(update).await;
    match confirmed {
        Ok(c) if c.outcome.is_ok() => {
            metrics
                .submissions
                .with_label_values(&[host.id.as_str(), "delivered"])
                .inc();
            Ok(())
        }
        Ok(c) => {
            let reason = c.outcome.err().unwrap_or_default();
            recheck_after_failed_update(host, of, height, ours.header_hash, metrics, &reason).await
        }
        Err(xrelay_adapters::AdapterError::Refused { reason, .. }) => {
            recheck_after_failed_update(host, of, height, ours.header_hash, metrics, &reason).await
        }
        Err(e) => {
            metrics
                .submissions
                .with_label_values(&[host.id.as_str(), "failed"])
                .inc();
            Err(e.into())
        }
    }
}

/// An update that failed (in its block or at the mempool) usually lost a race with another
/// relayer: if the client now holds our header at `height`, that is success.
async fn recheck_after_failed_update(
    host: &ChainHandle,
    of: &ChainHandle,
    height: Height,
    ours: xrelay_light_client::Hash32,
    metrics: &Metrics,
    reason: &str,
) -> Result<(), RelayError> {
    let now = host.adapter.client_state_for(&of.id, height).await?;
    let outcome = if now
        .as_ref()
        .and_then(|s| s.header_hash_at(height))
        .is_some_and(|h| h == ours)
    {
        "already_delivered"
    } else {
        "failed"
    };
    metrics
        .submissions
        .with_label_values(&[host.id.as_str(), outcome])
        .inc();
    if outcome == "failed" {
        return Err(RelayError::Retry(format!(
            "update of {}'s client of {}: {reason}",
            host.id, of.id
        )));
    }
    Ok(())
}

fn conflict(metrics: &Metrics, of: &ChainHandle, detail: String) -> RelayError {
    metrics
        .verification_failures
        .with_label_values(&[of.id.as_str(), "conflicting_header"])
        .inc();
    RelayError::Verification {
        chain: of.id.clone(),
        reason: "conflicting_header",
        detail,
    }
}

/// The light blocks a hosted BFT client needs to reach `height`, checked from its own
/// trusted state by bisection; they must end at the header the relayer verified.
async fn bft_path(
    host: &ChainHandle,
    of: &ChainHandle,
    mut path: xrelay_light_client::ClientState,
    height: Height,
    ours: Hash32,
    metrics: &Metrics,
) -> Result<Vec<xrelay_light_client::LightBlock>, RelayError> {
    let updated = metered_update(&mut path, of, height, "path", metrics).await;
    if let Err(
        e @ xrelay_light_client::ClientError::Bisection(
            xrelay_light_client::BisectionError::Source { .. },
        ),
    ) = &updated
    {
        // An RPC outage while fetching the path, not a failed verification.
        return Err(RelayError::Retry(format!(
            "path for {}'s client of {}: {e}",
            host.id, of.id
        )));
    }
    let blocks = updated.map_err(|e| {
        let reason = e.reason();
        metrics
            .verification_failures
            .with_label_values(&[of.id.as_str(), reason])
            .inc();
        RelayError::Verification {
            chain: of.id.clone(),
            reason,
            detail: format!("path for {}'s client: {e}", host.id),
        }
    })?;
    match blocks.last() {
        Some(last) if last.header().hash() == ours => Ok(blocks),
        other => Err(conflict(
            metrics,
            of,
            format!(
                "the path to {height} ends at {:?}, the relayer verified {ours}",
                other.map(|b| b.header().hash())
            ),
        )),
    }
}

/// Transactions' worth of EVM updates (each within the verification budget) that bring a
/// hosted EVM client to `height`, checked on a copy of that client: it must end holding
/// the block the relayer verified.
async fn evm_path(
    host: &ChainHandle,
    of: &ChainHandle,
    hosted: xrelay_light_client::evm::client::EvmClientState,
    height: Height,
    ours: Hash32,
    metrics: &Metrics,
) -> Result<Vec<ClientUpdate>, RelayError> {
    let updates = of.evm_updates(&hosted, height).await?;
    let mut check = hosted;
    let (applied, spent) =
        crate::cpu::timed(|| updates.iter().try_for_each(|u| check.update(u).map(|_| ())));
    metrics
        .verification_cpu
        .with_label_values(&[of.id.as_str(), "path"])
        .inc_by(spent.as_secs_f64());
    if let Err(e) = applied {
        let reason = e.reason();
        metrics
            .verification_failures
            .with_label_values(&[of.id.as_str(), reason])
            .inc();
        return Err(RelayError::Verification {
            chain: of.id.clone(),
            reason,
            detail: format!("path for {}'s client: {e}", host.id),
        });
    }
    match check.consensus_state(height) {
        Some(cs) if cs.block_hash == ours => {}
        other => {
            return Err(conflict(
                metrics,
                of,
                format!(
                    "the path to {height} ends at {:?}, the relayer verified {ours}",
                    other.map(|cs| cs.block_hash)
                ),
            ))
        }
    }
    Ok(evm_update_runs(updates)
        .into_iter()
        .map(ClientUpdate::Evm)
        .collect())
}
