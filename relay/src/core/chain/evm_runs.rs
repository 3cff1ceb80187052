//! EVM chains: what brings a client of the chain to a height (sealed headers in runs of
//! at most one update's worth, or this relayer's attestation of the block), and the
//! relayer's own client followed that way, pass by pass, without holding it across
//! network I/O. Apart from `verify` because an EVM chain is followed by other rules than
//! bisection, and on-chain clients of it are brought forward with the same runs.

use xrelay_light_client::evm::client::{
    EvmClientState, EvmUpdate, FinalityMode, MAX_UPDATE_HEADERS,
};
use xrelay_light_client::Height;

use super::{ChainHandle, RelayError};
use crate::core::followed::{Failure, Followed, Verified};

/// Most EVM headers fetched and verified in one pass of [`ChainHandle::verified`]: one
/// update's worth, so memory per pass is bounded whatever height is asked for.
pub const EVM_HEADERS_PER_PASS: u64 = MAX_UPDATE_HEADERS as u64;

/// Passes one call of [`ChainHandle::verified`] makes before handing back (a retry): the
/// caller's work waits at most that long behind a far target.
const MAX_EVM_PASSES: usize = 16;

impl ChainHandle {
    /// [`Self::verified`] for an EVM chain: the headers (or the attestation) are fetched
    /// without holding the light client, at most [`EVM_HEADERS_PER_PASS`] per pass, each
    /// pass verified on a copy and committed (and persisted) only if nobody moved the client
    /// meanwhile, so a far target (or a node claiming one) neither blocks proof checks on
    /// the chain nor piles headers up in memory.
    pub(super) async fn verified_evm(&self, height: Height) -> Result<Verified, RelayError> {
        for _ in 0..MAX_EVM_PASSES {
            let mut client = {
                let light = self.light.lock().await;
                if let Some(v) = light.verified_at(height) {
                    return Ok(v);
                }
                if height < light.latest_height() {
                    return Err(RelayError::Retry(format!(
                        "{} height {height} is below the verified height and was not kept",
                        self.id
                    )));
                }
                match &*light {
                    Followed::Evm(c) => c.clone(),
                    Followed::Bft(_) => {
                        return Err(RelayError::Retry(format!(
                            "{} is followed as a BFT chain",
                            self.id
                        )))
                    }
                }
            };
            let start = client.latest_height();
            // Sealed headers are followed one by one, a pass at a time; an attestation
            // covers the block asked for at once.
            let attested = matches!(
                self.evm.as_ref().map(|f| &f.mode),
                Some(FinalityMode::Attestation(_))
            );
            let target = if attested {
                height
            } else {
                height.min(start.saturating_add(EVM_HEADERS_PER_PASS))
            };
            let updates = self.evm_updates(&client, target).await?;
            let (applied, spent) = crate::cpu::timed(|| {
                for u in &updates {
                    client.update(u)?;
                }
                Ok::<_, xrelay_light_client::evm::client::EvmClientError>(())
            });
            self.metrics
                .verification_cpu
                .with_label_values(&[self.id.as_str(), "header"])
                .inc_by(spent.as_secs_f64());
            applied.map_err(|e| self.fail(Failure::evm(&e)))?;
            let mut light = self.light.lock().await;
            if light.latest_height() != start {
                // Another task moved the client meanwhile: start again from its state.
                continue;
            }
            *light = Followed::Evm(client);
            self.metrics
                .headers_verified
                .with_label_values(&[self.id.as_str()])
                .inc_by(updates.len() as u64);
            self.metrics
                .client_height
                .with_label_values(&[self.id.as_str()])
                .set(light.latest_height() as i64);
            let mut t = self.store.transition();
            light.persist(&self.store, &mut t, &self.id);
            self.store.commit(t)?;
        }
        Err(RelayError::Retry(format!(
            "{} height {height}: not reached in {MAX_EVM_PASSES} passes of at most \
             {EVM_HEADERS_PER_PASS} headers; continuing on the next request",
            self.id
        )))
    }

    /// What brings `client` (a client of this EVM chain: the relayer's own or an on-chain
    /// one) to `height`: the sealed headers after its latest, in batches, or this relayer's
    /// attestation of the block. Unverified here; the caller applies them to a client.
    pub async fn evm_updates(
        &self,
        client: &EvmClientState,
        height: Height,
    ) -> Result<Vec<EvmUpdate>, RelayError> {
        let Some(follow) = &self.evm else {
            return Err(RelayError::Retry(format!(
                "{} is not an EVM chain",
                self.id
            )));
        };
        match &follow.mode {
            FinalityMode::Attestation(committee) => {
                let attested = self.attest(height, follow, committee).await?;
                Ok(vec![EvmUpdate::Attested(attested)])
            }
            _ => {
                let mut headers = Vec::new();
                for h in client.latest_height() + 1..=height {
                    headers.push(self.adapter.evm_header(h).await?);
                }
                Ok(headers
                    .chunks(MAX_UPDATE_HEADERS)
                    .map(|c| EvmUpdate::Headers(c.to_vec()))
                    .collect())
            }
        }
    }
}
