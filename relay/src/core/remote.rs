//! Keeping a chain's on-chain client of another chain at a height the relay needs, with
//! headers the relayer verified itself: the path from the on-chain client's trusted header
//! (bisection, so intermediate headers are included when the validator set moved) must end
//! at exactly the header the relayer's own light client holds at that height.

use xrelay_adapters::Submission;
use xrelay_light_client::Height;

use super::chain::{client_error_reason, metered_update, ChainHandle, RelayError};
use crate::metrics::Metrics;

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
    if state.frozen().is_some() {
        return Err(RelayError::Frozen {
            host: host.id.to_string(),
            of: of.id.clone(),
        });
    }
    if let Some(cs) = state.consensus_state(height) {
        if cs.header_hash != ours.header_hash {
            metrics
                .verification_failures
                .with_label_values(&[of.id.as_str(), "conflicting_header"])
                .inc();
            return Err(RelayError::Verification {
                chain: of.id.clone(),
                reason: "conflicting_header",
                detail: format!(
                    "{}'s client holds {} at {height}, the relayer verified {}",
                    host.id, cs.header_hash, ours.header_hash
                ),
            });
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
    // The headers the on-chain client needs, checked from its own trusted state.
    let mut path = state;
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
        let reason = client_error_reason(&e);
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
        Some(last) if last.header().hash() == ours.header_hash => {}
        other => {
            metrics
                .verification_failures
                .with_label_values(&[of.id.as_str(), "conflicting_header"])
                .inc();
            return Err(RelayError::Verification {
                chain: of.id.clone(),
                reason: "conflicting_header",
                detail: format!(
                    "the path to {height} ends at {:?}, the relayer verified {}",
                    other.map(|b| b.header().hash()),
                    ours.header_hash
                ),
            });
        }
    }
    let update = Submission::UpdateClient {
        of: of.id.clone(),
        blocks,
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
        .and_then(|s| s.consensus_state(height))
        .is_some_and(|cs| cs.header_hash == ours)
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
