//! One pass over a directed lane `src → dst`: deliver what is pending (with the messages
//! the source timed out, so the ordered lane moves past them), time out what the
//! destination can no longer receive, and relay acknowledgements back. Every header and
//! proof is verified by the relayer's light clients before it is submitted.

use xrelay_adapters::{Confirmed, HostedClient, Submission};
use xrelay_light_client::{paths, Height};

use xrelay_protocol::Outcome;

use super::chain::{ChainHandle, RelayError};
use super::claims::{judge_content, Judged};
use super::followed::Expect;
use super::remote::{ensure_client_at, UpdateWait};
use super::Relay;
use crate::mesh::work_item;
use crate::store::{MessageRecord, Status};
use xrelay_protocol::{InboundMessage, ProvenAck, ProvenMessage, SourceProof};

/// `outcomes/{destination}/{sequence}` on the source, and the value a timeout leaves there.
fn outcome_key(m: &xrelay_light_client::Message) -> Vec<u8> {
    paths::outcome(&m.destination, m.sequence)
}
const OUTCOME_TIMED_OUT: u8 = Outcome::TimedOut.byte();

/// What a pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Transactions submitted.
    pub submitted: usize,
}

/// Relays lane `src → dst` once.
pub async fn relay_once(
    relay: &Relay,
    src: &ChainHandle,
    dst: &ChainHandle,
) -> Result<Pass, RelayError> {
    let mut pass = Pass::default();
    if src.is_frozen() || dst.is_frozen() {
        return Ok(pass);
    }
    let store = relay.ledger.store();
    let limit = relay.max_batch;
    // The lane's open messages in sequence order: pending and timed out (to skip).
    let mut open: Vec<MessageRecord> = store.by_status(Status::Pending, &src.id, &dst.id, limit)?;
    open.extend(store.by_status(Status::TimedOut, &src.id, &dst.id, limit)?);
    open.sort_by_key(|r| r.message.sequence);
    open.truncate(limit);
    if !open.is_empty() {
        let dst_status = dst.adapter.status().await?;
        let mut deliver = Vec::new();
        let mut expire = Vec::new();
        // Deliveries go in lane order, so they stop at the first window another live member
        // owns (it delivers that one; this relayer sees it happen and goes on).
        let mut delivering = true;
        let item = |kind: &str, r: &MessageRecord| {
            work_item(
                kind,
                src.id.as_str(),
                dst.id.as_str(),
                r.message.sequence,
                relay.mesh.window,
            )
        };
        for r in open {
            let expired = r
                .message
                .timeout
                .has_passed(dst_status.height, dst_status.time_ms);
            let deliverable = match r.status {
                Status::TimedOut => Some(SourceProof::TimedOut),
                Status::Pending if !r.lane_skipped && !expired => Some(SourceProof::Committed),
                _ => None,
            };
            match deliverable {
                Some(shows) if delivering && expire.is_empty() => {
                    if relay.owns(&item("deliver", &r)) {
                        deliver.push((r, shows));
                    } else {
                        delivering = false;
                    }
                }
                Some(_) => {}
                None if r.status == Status::Pending && relay.owns(&item("timeout", &r)) => {
                    expire.push(r)
                }
                None => {
                    // The lane is ordered: nothing after a message the destination can no
                    // longer receive can be delivered until its timeout is proven on the
                    // source, whoever does that.
                    if r.status == Status::Pending {
                        delivering = false;
                    }
                }
            }
        }
        if !deliver.is_empty() {
            deliver.truncate(dst.batch_limit(limit));
            let n = deliver.len();
            let result = deliver_batch(relay, src, dst, deliver).await;
            dst.batch_sent(n, &result);
            pass.submitted += result?;
        }
        if !expire.is_empty() {
            expire.truncate(src.batch_limit(limit));
            let n = expire.len();
            let result = timeout_batch(relay, src, dst, expire).await;
            src.batch_sent(n, &result);
            pass.submitted += result?;
        }
    }
    let delivered: Vec<MessageRecord> = store
        .by_status(Status::Delivered, &src.id, &dst.id, limit)?
        .into_iter()
        .filter(|r| {
            relay.owns(&work_item(
                "ack",
                src.id.as_str(),
                dst.id.as_str(),
                r.message.sequence,
                relay.mesh.window,
            ))
        })
        .collect();
    if !delivered.is_empty() {
        let mut delivered = delivered;
        delivered.truncate(src.batch_limit(limit));
        let n = delivered.len();
        let result = ack_batch(relay, src, dst, delivered).await;
        src.batch_sent(n, &result);
        pass.submitted += result?;
    }
    Ok(pass)
}

/// The height of `chain` to prove at: its latest head (as pushed), and at least
/// `at_least` (a block we know exists because it holds what is to be proven), verified by
/// the relayer's light client.
async fn proof_height(chain: &ChainHandle, at_least: Height) -> Result<Height, RelayError> {
    let mut head = *chain.adapter.heads().borrow();
    if head == 0 {
        head = chain.adapter.status().await?.height;
    }
    let height = head.max(at_least);
    match chain.verified(height).await {
        Ok(_) => Ok(height),
        // The head is a node's word and may be a lie (a height the chain has not
        // produced): the latest verified height will do if it covers the work.
        Err(e) if height > at_least => {
            let fallback = at_least.max(chain.verified_height().await);
            if fallback >= height {
                return Err(e);
            }
            tracing::debug!(chain = %chain.id, head = height, fallback, error = %e, "head not verifiable; proving at a verified height");
            chain.verified(fallback).await?;
            Ok(fallback)
        }
        Err(e) => Err(e),
    }
}

/// The highest block height at which any of `records` reached `status` on `chain`.
fn reached_at(
    records: &[&MessageRecord],
    status: Status,
    chain: &xrelay_light_client::ChainId,
) -> Height {
    records
        .iter()
        .filter_map(|r| {
            r.timeline
                .iter()
                .find(|s| s.status == status && s.chain == *chain)
        })
        .map(|s| s.height)
        .max()
        .unwrap_or(0)
}

/// Records the effects of a confirmed submission and counts it.
async fn settle(
    relay: &Relay,
    chain: &ChainHandle,
    items: usize,
    confirmed: Result<Confirmed, xrelay_adapters::AdapterError>,
) -> Result<(), RelayError> {
    let outcome = match confirmed {
        Ok(c) => match c.outcome {
            Ok(applied) => {
                // The node's account of what the transaction did is a claim like any
                // other answer: proven before the ledger believes it.
                let events =
                    super::claims::prove_events(relay, chain, applied.events, c.height).await?;
                relay.ledger.apply(&chain.id, &events, None).await?;
                if applied.already_done >= items {
                    "already_delivered"
                } else {
                    "delivered"
                }
            }
            Err(reason) => {
                tracing::warn!(chain = %chain.id, %reason, "relay transaction failed in its block");
                "failed"
            }
        },
        Err(e) => {
            relay
                .metrics
                .submissions
                .with_label_values(&[chain.id.as_str(), "failed"])
                .inc();
            return Err(e.into());
        }
    };
    tracing::debug!(chain = %chain.id, items, outcome, "relay transaction settled");
    relay
        .metrics
        .submissions
        .with_label_values(&[chain.id.as_str(), outcome])
        .inc();
    Ok(())
}

async fn deliver_batch(
    relay: &Relay,
    src: &ChainHandle,
    dst: &ChainHandle,
    items: Vec<(MessageRecord, SourceProof)>,
) -> Result<usize, RelayError> {
    let records: Vec<&MessageRecord> = items.iter().map(|(r, _)| r).collect();
    let at_least = reached_at(&records, Status::Pending, &src.id).max(reached_at(
        &records,
        Status::TimedOut,
        &src.id,
    ));
    let height = proof_height(src, at_least).await?;
    let claims: Vec<(Vec<u8>, Vec<u8>)> = items
        .iter()
        .map(|(r, shows)| {
            let m = &r.message;
            match shows {
                SourceProof::Committed => (
                    paths::commitment(&dst.id, m.sequence),
                    m.commitment().0.to_vec(),
                ),
                SourceProof::TimedOut => (outcome_key(m), vec![OUTCOME_TIMED_OUT]),
            }
        })
        .collect();
    let keys: Vec<Vec<u8>> = claims.iter().map(|(k, _)| k.clone()).collect();
    let proofs = src.adapter.prove_many(&keys, height).await?;
    // The update goes into the destination's mempool just ahead of the delivery, so both
    // land in the same block.
    ensure_client_at(dst, src, height, &relay.metrics, UpdateWait::Accepted).await?;
    let mut messages = Vec::with_capacity(items.len());
    let mut proven_now = Vec::new();
    for (((r, shows), (key, value)), proven) in items.into_iter().zip(claims).zip(proofs) {
        match shows {
            SourceProof::Committed => {
                // The content is a node's claim until its commitment matches: a false one
                // is dropped (and re-read), a settled one recorded; either way the ordered
                // lane stops here for this pass.
                match judge_content(relay, src, &r, height, &proven).await {
                    Ok(Judged::Matches) => {
                        if !r.content_proven {
                            proven_now.push(r.clone());
                        }
                    }
                    Ok(Judged::Settled) => break,
                    Ok(Judged::Dropped) if messages.is_empty() => {
                        // Back off a little: the re-read needs a scan, and a node that
                        // keeps lying must not make the relayer spin.
                        return Err(RelayError::Retry(format!(
                            "{} claim of {}/{} dropped; re-reading",
                            src.id, dst.id, r.message.sequence
                        )));
                    }
                    Ok(Judged::Dropped) => break,
                    Err(e) if messages.is_empty() => return Err(e),
                    Err(_) => break,
                }
            }
            SourceProof::TimedOut => {
                if let Err(e) = src
                    .check_proof(height, &key, Expect::Value(&value), &proven.proof)
                    .await
                {
                    // Verify before forward: the lane stops here (it is ordered) and
                    // nothing unverified is submitted.
                    if messages.is_empty() {
                        return Err(e);
                    }
                    break;
                }
            }
        }
        messages.push(InboundMessage {
            message: r.message,
            shows,
            proof: proven.proof,
        });
    }
    if !proven_now.is_empty() {
        let refs: Vec<&MessageRecord> = proven_now.iter().collect();
        relay.ledger.mark_content_proven(&refs).await?;
    }
    if messages.is_empty() {
        return Ok(0);
    }
    let n = messages.len();
    let confirmed = dst
        .adapter
        .submit(Submission::Receive {
            source: src.id.clone(),
            proof_height: height,
            messages,
        })
        .await;
    settle(relay, dst, n, confirmed).await?;
    Ok(1)
}

/// The records among `records` whose content the source's commitment confirms, checked
/// at a verified height of `src` for those not proven yet; the others are dropped as false
/// claims or recorded as settled (`claims::judge_content`). What is sent back to the source
/// (a timeout, an ack) names the message by its content, which the source checks.
async fn with_proven_content(
    relay: &Relay,
    src: &ChainHandle,
    records: Vec<MessageRecord>,
) -> Result<Vec<MessageRecord>, RelayError> {
    if records.iter().all(|r| r.content_proven) {
        return Ok(records);
    }
    let refs: Vec<&MessageRecord> = records.iter().collect();
    let height = proof_height(src, reached_at(&refs, Status::Pending, &src.id)).await?;
    let unproven: Vec<&MessageRecord> = records.iter().filter(|r| !r.content_proven).collect();
    let keys: Vec<Vec<u8>> = unproven
        .iter()
        .map(|r| paths::commitment(&r.message.destination, r.message.sequence))
        .collect();
    let proofs = src.adapter.prove_many(&keys, height).await?;
    let mut confirmed = std::collections::BTreeSet::new();
    let mut proven_now = Vec::new();
    for (r, proven) in unproven.into_iter().zip(proofs) {
        if judge_content(relay, src, r, height, &proven).await? == Judged::Matches {
            confirmed.insert(r.message.sequence);
            proven_now.push(r);
        }
    }
    relay.ledger.mark_content_proven(&proven_now).await?;
    Ok(records
        .into_iter()
        .filter(|r| r.content_proven || confirmed.contains(&r.message.sequence))
        .collect())
}

async fn timeout_batch(
    relay: &Relay,
    src: &ChainHandle,
    dst: &ChainHandle,
    items: Vec<MessageRecord>,
) -> Result<usize, RelayError> {
    let items = with_proven_content(relay, src, items).await?;
    if items.is_empty() {
        return Ok(0);
    }
    let height = proof_height(dst, 0).await?;
    let header = dst.verified(height).await?;
    let passed: Vec<MessageRecord> = items
        .into_iter()
        .filter(|r| r.message.timeout.has_passed(height, header.time_ms))
        .collect();
    if passed.is_empty() {
        return Ok(0);
    }
    let keys: Vec<Vec<u8>> = passed
        .iter()
        .map(|r| paths::receipt(&src.id, r.message.sequence))
        .collect();
    let proofs = dst.adapter.prove_many(&keys, height).await?;
    ensure_client_at(src, dst, height, &relay.metrics, UpdateWait::Accepted).await?;
    let mut messages = Vec::with_capacity(passed.len());
    for ((r, key), proven) in passed.into_iter().zip(keys).zip(proofs) {
        if proven.value.is_some() {
            // Received after all: its ack will come through the destination's events.
            continue;
        }
        dst.check_proof(height, &key, Expect::Absent, &proven.proof)
            .await?;
        messages.push(ProvenMessage {
            message: r.message,
            proof: proven.proof,
        });
    }
    if messages.is_empty() {
        return Ok(0);
    }
    let n = messages.len();
    let confirmed = src
        .adapter
        .submit(Submission::Timeout {
            destination: dst.id.clone(),
            proof_height: height,
            messages,
        })
        .await;
    settle(relay, src, n, confirmed).await?;
    Ok(1)
}

async fn ack_batch(
    relay: &Relay,
    src: &ChainHandle,
    dst: &ChainHandle,
    items: Vec<MessageRecord>,
) -> Result<usize, RelayError> {
    let items = with_proven_content(relay, src, items).await?;
    if items.is_empty() {
        return Ok(0);
    }
    let records: Vec<&MessageRecord> = items.iter().collect();
    let height = proof_height(dst, reached_at(&records, Status::Delivered, &dst.id)).await?;
    let items: Vec<MessageRecord> = items.into_iter().filter(|r| r.ack.is_some()).collect();
    let keys: Vec<Vec<u8>> = items
        .iter()
        .map(|r| paths::ack(&src.id, r.message.sequence))
        .collect();
    let proofs = dst.adapter.prove_many(&keys, height).await?;
    ensure_client_at(src, dst, height, &relay.metrics, UpdateWait::Accepted).await?;
    let mut acks = Vec::with_capacity(items.len());
    for ((r, key), proven) in items.into_iter().zip(keys).zip(proofs) {
        let Some(ack) = r.ack else { continue };
        dst.check_proof(
            height,
            &key,
            Expect::Value(&ack.commitment().0),
            &proven.proof,
        )
        .await?;
        acks.push(ProvenAck {
            message: r.message,
            ack,
            proof: proven.proof,
        });
    }
    if acks.is_empty() {
        return Ok(0);
    }
    let n = acks.len();
    let confirmed = src
        .adapter
        .submit(Submission::Acknowledge {
            destination: dst.id.clone(),
            proof_height: height,
            acks,
        })
        .await;
    settle(relay, src, n, confirmed).await?;
    Ok(1)
}

/// Keeps `dst`'s client of `src` well inside its trusting period on a quiet lane: once its
/// latest header is older than a third of the period, it is updated to `src`'s head (so the
/// client never expires between messages).
pub async fn refresh_client(
    relay: &Relay,
    src: &ChainHandle,
    dst: &ChainHandle,
) -> Result<bool, RelayError> {
    if src.is_frozen() || dst.is_frozen() {
        return Ok(false);
    }
    // Only BFT clients expire; an EVM chain's client has no trusting period.
    let Some(HostedClient::Bft(state)) = dst.adapter.client_state(&src.id).await? else {
        return Ok(false);
    };
    let Some(latest) = state.consensus_state(state.latest_height()) else {
        return Ok(false);
    };
    let age = super::clock::now_ms().saturating_sub(latest.time_ms);
    if age < state.options().trusting_period_ms / 3 {
        return Ok(false);
    }
    let height = proof_height(src, 0).await?;
    ensure_client_at(dst, src, height, &relay.metrics, UpdateWait::Included).await?;
    tracing::info!(host = %dst.id, of = %src.id, height, age_ms = age, "client refreshed");
    Ok(true)
}
