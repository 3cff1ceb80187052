//! What verifying a relay transaction costs, counted from its decoded form (PROTOCOL.md
//! §9.2), and the splitting of long client updates into transactions that fit the budget.

use xrelay_light_client::evm::attest::Attested;
use xrelay_light_client::evm::client::EvmUpdate;
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
use xrelay_light_client::LightBlock;

use crate::limits::{MAX_EVM_UPDATES, MAX_TX_HEADERS, MAX_TX_PROOFS, MAX_TX_SIGNATURES};

/// Bytes one EVM header seal takes: a header cannot carry more seals than its extraData
/// holds 65-byte blocks, whatever its consensus.
const SEAL_BYTES: usize = 65;

/// What verifying a transaction costs at most, counted from its decoded form before anything
/// is verified (PROTOCOL.md §9.2): the signature recoveries, headers and state proofs it can
/// make a chain check. A chain refuses a transaction over [`MAX_TX_SIGNATURES`](crate::limits::MAX_TX_SIGNATURES),
/// [`MAX_TX_HEADERS`] or [`MAX_TX_PROOFS`] unverified, and a node budgets its blocks and its
/// mempool checks in [`TxCost::units`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxCost {
    /// Signature recoveries, at most (a header counts at least one).
    pub signatures: usize,
    /// Headers: light blocks, EVM headers, attested blocks.
    pub headers: usize,
    /// State proofs.
    pub proofs: usize,
}

/// A transaction over the verification budget (PROTOCOL.md §9.2); it was not verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too costly to verify: {count} {what}, at most {max} per transaction")]
pub struct TooCostly {
    /// `signatures`, `headers` or `proofs`.
    pub what: &'static str,
    /// How many the transaction carries.
    pub count: usize,
    /// The bound.
    pub max: usize,
}

impl TxCost {
    /// What a block and a mempool budget count: signature recoveries plus proofs.
    pub fn units(&self) -> usize {
        self.signatures.saturating_add(self.proofs)
    }

    /// Refuses a cost over the per-transaction bounds.
    pub fn check(&self) -> Result<(), TooCostly> {
        for (what, count, max) in [
            ("signatures", self.signatures, MAX_TX_SIGNATURES),
            ("headers", self.headers, MAX_TX_HEADERS),
            ("proofs", self.proofs, MAX_TX_PROOFS),
        ] {
            if count > max {
                return Err(TooCostly { what, count, max });
            }
        }
        Ok(())
    }

    pub(crate) fn plus(self, other: TxCost) -> TxCost {
        TxCost {
            signatures: self.signatures.saturating_add(other.signatures),
            headers: self.headers.saturating_add(other.headers),
            proofs: self.proofs.saturating_add(other.proofs),
        }
    }

    pub(crate) fn light_blocks<'a>(blocks: impl IntoIterator<Item = &'a LightBlock>) -> Self {
        blocks.into_iter().fold(TxCost::default(), |c, b| TxCost {
            signatures: c
                .signatures
                .saturating_add(b.signed_header.commit.signatures.len().max(1)),
            headers: c.headers + 1,
            proofs: c.proofs,
        })
    }

    /// The cost of verifying `updates` of an EVM client: each header counts
    /// `max(1, len(extraData) / 65)` recoveries (no consensus seals more than that), an
    /// attested block its signatures.
    pub fn evm_updates(updates: &[EvmUpdate]) -> Self {
        let mut cost = TxCost::default();
        for u in updates {
            match u {
                EvmUpdate::Headers(headers) => {
                    for h in headers {
                        cost = cost.plus(Self::evm_header(h));
                    }
                }
                EvmUpdate::Attested(a) => cost = cost.plus(Self::attested(a)),
            }
        }
        cost
    }

    /// The cost of checking EVM misbehaviour evidence (PROTOCOL.md §12.7): its headers or
    /// attested blocks, counted as in an update.
    pub fn evm_evidence(evidence: &EvmMisbehaviour) -> Self {
        match evidence {
            EvmMisbehaviour::Headers { first, second } => {
                Self::evm_header(first).plus(Self::evm_header(second))
            }
            EvmMisbehaviour::Attestations { first, second } => {
                Self::attested(first).plus(Self::attested(second))
            }
            EvmMisbehaviour::Conflict(a) => Self::attested(a),
        }
    }

    /// One EVM header: `max(1, len(extraData) / 65)` recoveries.
    fn evm_header(h: &EvmHeader) -> Self {
        TxCost {
            signatures: (h.extra_data.len() / SEAL_BYTES).max(1),
            headers: 1,
            proofs: 0,
        }
    }

    /// One attested block: its signatures, at least one.
    fn attested(a: &Attested) -> Self {
        TxCost {
            signatures: a.signatures.len().max(1),
            headers: 1,
            proofs: 0,
        }
    }
}

/// Splits a path of light blocks into consecutive runs that each fit one transaction's
/// budget ([`MAX_TX_SIGNATURES`], [`MAX_TX_HEADERS`]); each run verifies from the client the
/// previous one leaves, so they are submitted in order. A single block over the budget
/// (more than 2,048 signatures) is a run of its own, which a chain refuses.
pub fn light_block_runs(blocks: Vec<LightBlock>) -> Vec<Vec<LightBlock>> {
    let mut runs: Vec<Vec<LightBlock>> = Vec::new();
    let mut total = TxCost::default();
    for block in blocks {
        let cost = TxCost::light_blocks([&block]);
        let next = total.plus(cost);
        match runs.last_mut() {
            Some(run) if next.check().is_ok() => {
                run.push(block);
                total = next;
            }
            _ => {
                runs.push(vec![block]);
                total = cost;
            }
        }
    }
    runs
}

/// Splits EVM updates into transactions' worth within the budget and the 16 updates a
/// transaction holds, keeping their order; a run of consecutive headers is cut where the
/// budget ends (a shorter run verifies the same way) and joined across the updates' own
/// cuts.
pub fn evm_update_runs(updates: Vec<EvmUpdate>) -> Vec<Vec<EvmUpdate>> {
    let mut runs: Vec<Vec<EvmUpdate>> = Vec::new();
    let mut total = TxCost::default();
    let pieces = updates.into_iter().flat_map(|u| match u {
        EvmUpdate::Headers(headers) => headers
            .into_iter()
            .map(|h| EvmUpdate::Headers(vec![h]))
            .collect::<Vec<_>>(),
        attested => vec![attested],
    });
    for piece in pieces {
        let cost = TxCost::evm_updates(std::slice::from_ref(&piece));
        let next = total.plus(cost);
        let fits = next.check().is_ok();
        let last = runs.last_mut().filter(|_| fits);
        match (last, piece) {
            (Some(run), EvmUpdate::Headers(h)) => {
                let room = run.len() < MAX_EVM_UPDATES;
                match run.last_mut() {
                    Some(EvmUpdate::Headers(headers)) => {
                        headers.extend(h);
                        total = next;
                    }
                    _ if room => {
                        run.push(EvmUpdate::Headers(h));
                        total = next;
                    }
                    _ => {
                        runs.push(vec![EvmUpdate::Headers(h)]);
                        total = cost;
                    }
                }
            }
            (Some(run), attested) if run.len() < MAX_EVM_UPDATES => {
                run.push(attested);
                total = next;
            }
            (_, piece) => {
                runs.push(vec![piece]);
                total = cost;
            }
        }
    }
    runs
}
