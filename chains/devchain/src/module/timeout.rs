//! Relay transactions that refund messages sent from here that their destination can no
//! longer receive (`Timeout`, `TimeoutEvm`). Its own file because it is the one handler that
//! proves an absence (no receipt) and checks the destination's clock, not this chain's.

use xrelay_light_client::{paths, ChainId, Height};

use super::checks;
use super::counterparty::{Claim, Counterparty};
use super::outbox;
use super::{Context, Event, Module, ModuleError, TxReport};
use crate::state::Overlay;
use xrelay_protocol::Outcome;
use xrelay_protocol::ProvenMessage;

impl Module {
    /// Refunds messages sent to `destination` (client kind `C`) that it can no longer
    /// receive, proven by the absence of their receipts at a height past their timeouts.
    pub(super) fn timeout<C: Counterparty>(
        &self,
        s: &mut Overlay<'_>,
        ctx: &Context,
        destination: &ChainId,
        proof_height: Height,
        messages: &[ProvenMessage<C::Proof>],
    ) -> Result<TxReport, ModuleError> {
        checks::check_non_empty(messages.len())?;
        let client = C::load(s, destination)?;
        let proof_time = client.time_at(proof_height)?;
        let mut out = TxReport::default();
        let mut fresh = Vec::new();
        let mut named = std::collections::BTreeSet::new();
        for pm in messages {
            checks::check_outbound_lane(ctx, destination, &pm.message)?;
            if named.insert(pm.message.sequence) && outbox::pending(s, &pm.message)? {
                checks::check_timeout_passed(&pm.message, proof_height, proof_time)?;
                fresh.push(pm);
            } else {
                out.already_done += 1;
            }
        }
        let keys: Vec<Vec<u8>> = fresh
            .iter()
            .map(|pm| paths::receipt(&ctx.chain_id, pm.message.sequence))
            .collect();
        let claims: Vec<Claim<'_, C::Proof>> = fresh
            .iter()
            .zip(&keys)
            .map(|(pm, key)| Claim {
                key,
                value: None,
                proof: &pm.proof,
            })
            .collect();
        client.verify(proof_height, &claims, ctx.time_ms)?;
        for pm in fresh {
            outbox::settle(s, &pm.message, Outcome::TimedOut)?;
            self.app(&pm.message.receiver)?.on_timeout(s, &pm.message)?;
            out.events.push(Event::MessageTimedOut {
                message: pm.message.clone(),
            });
        }
        Ok(out)
    }
}
