//! A node's answer is a claim: what the relayer proves before its ledger believes it.
//!
//! - Reception and settlement events (`Received`, `Expired` on the destination;
//!   `Acknowledged`, `TimedOut` on the source) move a message out of the set the relayer
//!   still works on, so each is proven by its key at a height the relayer's own light client
//!   verified before the ledger applies it ([`prove_events`]); one the chain's state
//!   contradicts is dropped and counted, one whose proof does not verify fails the step
//!   (retried, another endpoint may answer).
//! - A message's content (from a `Sent` event) is checked against its commitment on the
//!   source when it is relayed ([`judge_content`]): a content the commitment contradicts,
//!   or a message the source never committed, is dropped from the ledger and its chains
//!   re-read from below the claim, so the true message is found again; a message the source
//!   settled already is recorded as settled from its proven outcome.

use xrelay_adapters::{ChainEvent, Proven};
use xrelay_light_client::{paths, ChainId, Height, Message};
use xrelay_protocol::Outcome;

use super::chain::{ChainHandle, RelayError};
use super::followed::Expect;
use super::Relay;
use crate::store::MessageRecord;

/// The key whose proven value shows `event` happened, and that value (`None`: an event that
/// needs more than one key, proven on its own).
fn key_of(event: &ChainEvent) -> Option<(Vec<u8>, Vec<u8>)> {
    match event {
        ChainEvent::Received { message, ack, .. } => Some((
            paths::ack(&message.source, message.sequence),
            ack.commitment().0.to_vec(),
        )),
        ChainEvent::Acknowledged { message, ack, .. } => {
            let outcome = if ack.is_success() {
                Outcome::Acknowledged
            } else {
                Outcome::Refused
            };
            Some((
                paths::outcome(&message.destination, message.sequence),
                vec![outcome as u8],
            ))
        }
        ChainEvent::TimedOut { message, .. } => Some((
            paths::outcome(&message.destination, message.sequence),
            vec![Outcome::TimedOut.byte()],
        )),
        _ => None,
    }
}

/// The events of `chain` (an answer to "events up to `scanned_to`") the ledger may apply:
/// sends as they are (their content is proven when relayed), everything that would move
/// a message out of the open set only once proven at a verified height of `chain`. Events
/// the chain's state contradicts are left out and counted.
pub async fn prove_events(
    relay: &Relay,
    chain: &ChainHandle,
    events: Vec<ChainEvent>,
    scanned_to: Height,
) -> Result<Vec<ChainEvent>, RelayError> {
    let mut needs = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let claim = matches!(
            e,
            ChainEvent::Received { .. }
                | ChainEvent::Expired { .. }
                | ChainEvent::Acknowledged { .. }
                | ChainEvent::TimedOut { .. }
        );
        if claim && relay.ledger.would_move(&chain.id, e)? {
            needs.push(i);
        }
    }
    if needs.is_empty() {
        return Ok(events);
    }
    let height = proof_height(chain, &events, &needs, scanned_to).await?;
    let mut refused = vec![false; events.len()];
    // One request for every single-key claim.
    let single: Vec<(usize, Vec<u8>, Vec<u8>)> = needs
        .iter()
        .filter_map(|&i| key_of(&events[i]).map(|(k, v)| (i, k, v)))
        .collect();
    if !single.is_empty() {
        let keys: Vec<Vec<u8>> = single.iter().map(|(_, k, _)| k.clone()).collect();
        let proofs = chain.adapter.prove_many(&keys, height).await?;
        for ((i, key, value), proven) in single.into_iter().zip(proofs) {
            if !holds(chain, height, &key, &value, &proven).await? {
                refused[i] = true;
            }
        }
    }
    for &i in &needs {
        if let ChainEvent::Expired { message, .. } = &events[i] {
            if !expired(chain, message, height).await? {
                refused[i] = true;
            }
        }
    }
    let mut kept = Vec::with_capacity(events.len());
    for (i, e) in events.into_iter().enumerate() {
        if refused[i] {
            tracing::warn!(chain = %chain.id, height = e.height(), event = ?e, proven_at = height, "event contradicted by the chain's proven state; ignored");
            count(relay, &chain.id, "unproven");
        } else {
            kept.push(e);
        }
    }
    Ok(kept)
}

/// A height of `chain` the relayer has verified, at or above every event to prove (keys
/// that prove events are never deleted): its light client's latest when that is high
/// enough, else the end of the scanned range, verified now.
async fn proof_height(
    chain: &ChainHandle,
    events: &[ChainEvent],
    needs: &[usize],
    scanned_to: Height,
) -> Result<Height, RelayError> {
    let highest = needs.iter().map(|&i| events[i].height()).max().unwrap_or(0);
    let verified = chain.verified_height().await;
    let height = if verified >= highest {
        verified
    } else {
        scanned_to.max(highest)
    };
    chain.verified(height).await?;
    Ok(height)
}

/// Whether `key` holds `value` at `height`: `true` proven, `false` proven otherwise (the
/// node's own answer differs and its proof verifies); a proof that does not verify what
/// the node answered is a verification failure.
async fn holds(
    chain: &ChainHandle,
    height: Height,
    key: &[u8],
    value: &[u8],
    proven: &Proven,
) -> Result<bool, RelayError> {
    if answers(chain, value, proven) {
        chain
            .check_proof(height, key, Expect::Value(value), &proven.proof)
            .await?;
        return Ok(true);
    }
    let actual = match &proven.value {
        Some(v) => Expect::Stored(v),
        None => Expect::Absent,
    };
    chain
        .check_proof(height, key, actual, &proven.proof)
        .await?;
    Ok(false)
}

/// Whether the node answered that the key holds `value`: the value itself on a devchain,
/// its `sha256` word on an EVM chain (the Gateway's provable mapping).
fn answers(chain: &ChainHandle, value: &[u8], proven: &Proven) -> bool {
    match &proven.value {
        None => false,
        Some(v) if chain.is_evm() => v.as_slice() == xrelay_light_client::sha256(value).0,
        Some(v) => v.as_slice() == value,
    }
}

/// Whether `chain` (the destination) moved past `message` without receiving it, proven at
/// `height`: no receipt, and the lane's next expected sequence beyond it.
async fn expired(
    chain: &ChainHandle,
    message: &Message,
    height: Height,
) -> Result<bool, RelayError> {
    let receipt = paths::receipt(&message.source, message.sequence);
    let proven = chain.adapter.prove(&receipt, height).await?;
    if proven.value.is_some() {
        let stored = proven.value.clone().unwrap_or_default();
        chain
            .check_proof(height, &receipt, Expect::Stored(&stored), &proven.proof)
            .await?;
        return Ok(false);
    }
    chain
        .check_proof(height, &receipt, Expect::Absent, &proven.proof)
        .await?;
    let next = chain.adapter.next_receive(&message.source, height).await?;
    let key = paths::next_receive(&message.source);
    let proven = chain.adapter.prove(&key, height).await?;
    // The lane's counter starts at 1 and is stored once it moves: absent means 1.
    if next <= 1 && proven.value.is_none() {
        chain
            .check_proof(height, &key, Expect::Absent, &proven.proof)
            .await?;
        return Ok(false);
    }
    chain
        .check_proof(
            height,
            &key,
            Expect::Value(&next.to_be_bytes()),
            &proven.proof,
        )
        .await?;
    Ok(next > message.sequence)
}

fn count(relay: &Relay, chain: &ChainId, reason: &str) {
    relay
        .metrics
        .claims_refused
        .with_label_values(&[chain.as_str(), reason])
        .inc();
}

/// What the source's state says of a message the ledger holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    /// Its commitment holds exactly this content: relay it.
    Matches,
    /// The source settled it already; the ledger now says so (from its proven outcome).
    Settled,
    /// The content was false (another content committed, or nothing ever sent): the claim
    /// is dropped and the chains re-read.
    Dropped,
}

/// Checks the content of `record` against the commitment `proven` that `src` served at the
/// verified `height`, and acts on a contradiction (see [`Judged`]). A proof that verifies
/// neither the content nor the node's own answer is a verification failure (`Err`).
pub async fn judge_content(
    relay: &Relay,
    src: &ChainHandle,
    record: &MessageRecord,
    height: Height,
    proven: &Proven,
) -> Result<Judged, RelayError> {
    let m = &record.message;
    let key = paths::commitment(&m.destination, m.sequence);
    if holds(src, height, &key, &m.commitment().0, proven).await? {
        return Ok(Judged::Matches);
    }
    if proven.value.is_some() {
        relay.ledger.drop_claim(record, "content_mismatch").await?;
        return Ok(Judged::Dropped);
    }
    // No commitment: settled already (its outcome says how), or never sent.
    let outcome_key = paths::outcome(&m.destination, m.sequence);
    let settled = src.adapter.prove(&outcome_key, height).await?;
    let Some(word) = &settled.value else {
        src.check_proof(height, &outcome_key, Expect::Absent, &settled.proof)
            .await?;
        relay.ledger.drop_claim(record, "never_sent").await?;
        return Ok(Judged::Dropped);
    };
    let outcome = [Outcome::Acknowledged, Outcome::Refused, Outcome::TimedOut]
        .into_iter()
        .find(|o| {
            let byte = [*o as u8];
            word.as_slice() == byte || word.as_slice() == xrelay_light_client::sha256(&byte).0
        });
    let Some(outcome) = outcome else {
        return Err(RelayError::Verification {
            chain: src.id.clone(),
            reason: "proof",
            detail: format!(
                "outcome of {}/{} is not an outcome",
                m.destination, m.sequence
            ),
        });
    };
    src.check_proof(
        height,
        &outcome_key,
        Expect::Value(&[outcome as u8]),
        &settled.proof,
    )
    .await?;
    tracing::debug!(src = %src.id, dst = %m.destination, sequence = m.sequence, ?outcome, "already settled on the source (proven)");
    relay
        .ledger
        .apply_outcome(&src.id, m, outcome, height)
        .await?;
    Ok(Judged::Settled)
}
