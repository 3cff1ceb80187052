//! Verification before forwarding: the relayer's own light client is brought to a height
//! (by bisection for a BFT chain; EVM chains through `evm_runs`) and proofs are checked
//! against what it verified, the CPU time of the checks metered apart from the I/O.

use xrelay_adapters::ChainProof;
use xrelay_light_client::{ClientError, ClientState, Height, LightBlock};

use super::{ChainHandle, RelayError};
use crate::core::clock::now_ms;
use crate::core::followed::{Expect, Failure, Followed, Verified};
use crate::metrics::Metrics;

/// Brings `client` (of `chain`) to `height` by bisection over `chain`'s light blocks,
/// adding the CPU time of the verification steps alone to
/// `xrelay_verification_cpu_seconds_total{chain, kind}`. Returns the verified blocks.
pub async fn metered_update(
    client: &mut ClientState,
    chain: &ChainHandle,
    height: Height,
    kind: &str,
    metrics: &Metrics,
) -> Result<Vec<LightBlock>, ClientError> {
    let adapter = chain.adapter.clone();
    let mut meter = crate::cpu::CpuMeter::default();
    let updated = client
        .update_to_with_meter(
            height,
            now_ms(),
            |h| {
                let adapter = adapter.clone();
                async move { adapter.light_block(h).await }
            },
            &mut meter,
        )
        .await;
    metrics
        .verification_cpu
        .with_label_values(&[chain.id.as_str(), kind])
        .inc_by(meter.spent.as_secs_f64());
    updated
}

/// Consensus states the relayer's own light client keeps (the newest): proofs are taken
/// at recent heights, and the client is stored on every update, so it must stay small.
pub const KEPT_CONSENSUS_STATES: usize = 1_000;

impl ChainHandle {
    /// Makes sure the relayer's light client has verified the header at `height`
    /// (bisecting from its latest trusted header, or following an EVM chain's headers or
    /// attesting its block) and returns what it verified there.
    pub async fn verified(&self, height: Height) -> Result<Verified, RelayError> {
        if self.is_frozen() {
            return Err(RelayError::Frozen {
                host: "relayer".into(),
                of: self.id.clone(),
            });
        }
        if self.evm.is_some() {
            return self.verified_evm(height).await;
        }
        let mut light = self.light.lock().await;
        if let Some(v) = light.verified_at(height) {
            return Ok(v);
        }
        if height < light.latest_height() {
            return Err(RelayError::Retry(format!(
                "{} height {height} is below the verified height and was not kept",
                self.id
            )));
        }
        let headers = match &mut *light {
            Followed::Bft(client) => {
                let blocks = metered_update(client, self, height, "header", &self.metrics)
                    .await
                    .map_err(|e| self.fail(Failure::bft(&e)))?;
                client.prune_to(now_ms(), KEPT_CONSENSUS_STATES);
                blocks.len()
            }
            // EVM chains go through `verified_evm`, which never holds the client across
            // network I/O.
            Followed::Evm(_) => {
                return Err(RelayError::Retry(format!(
                    "{} is followed as an EVM chain",
                    self.id
                )))
            }
        };
        self.metrics
            .headers_verified
            .with_label_values(&[self.id.as_str()])
            .inc_by(headers as u64);
        self.metrics
            .client_height
            .with_label_values(&[self.id.as_str()])
            .set(light.latest_height() as i64);
        let mut t = self.store.transition();
        light.persist(&self.store, &mut t, &self.id);
        self.store.commit(t)?;
        light.verified_at(height).ok_or_else(|| {
            RelayError::Retry(format!(
                "{} height {height} not kept after verification",
                self.id
            ))
        })
    }

    /// Checks a proof served by this chain at a height the light client verified.
    pub async fn check_proof(
        &self,
        height: Height,
        key: &[u8],
        expect: Expect<'_>,
        proof: &ChainProof,
    ) -> Result<(), RelayError> {
        let light = self.light.lock().await;
        let now = now_ms();
        let (result, spent) =
            crate::cpu::timed(|| light.check_proof(height, key, expect, proof, now));
        drop(light);
        self.metrics
            .verification_cpu
            .with_label_values(&[self.id.as_str(), "proof"])
            .inc_by(spent.as_secs_f64());
        self.metrics
            .proofs_verified
            .with_label_values(&[self.id.as_str()])
            .inc();
        result.map_err(|f| self.fail(f))
    }
}
