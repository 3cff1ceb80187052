//! Relay transactions that settle messages sent from here by their proven acks (`Ack`,
//! `AckEvm`). Its own file because an ack is the end of a message's life on its source: the
//! commitment goes, the outcome stays, and an error ack makes the app refund.

use xrelay_light_client::{paths, ChainId, Height};

use super::checks;
use super::counterparty::{Claim, Counterparty};
use super::outbox;
use super::{Context, Event, Module, ModuleError, TxReport};
use crate::state::Overlay;
use xrelay_protocol::Outcome;
use xrelay_protocol::ProvenAck;

impl Module {
    /// Settles messages sent to `destination` (client kind `C`) by their proven acks.
    pub(super) fn ack<C: Counterparty>(
        &self,
        s: &mut Overlay<'_>,
        ctx: &Context,
        destination: &ChainId,
        proof_height: Height,
        acks: &[ProvenAck<C::Proof>],
    ) -> Result<TxReport, ModuleError> {
        checks::check_non_empty(acks.len())?;
        let client = C::load(s, destination)?;
        let mut out = TxReport::default();
        let mut fresh = Vec::new();
        // A message named twice in one batch is settled once: the pending check reads the
        // state before any item of the batch settles.
        let mut named = std::collections::BTreeSet::new();
        for pa in acks {
            checks::check_outbound_lane(ctx, destination, &pa.message)?;
            if named.insert(pa.message.sequence) && outbox::pending(s, &pa.message)? {
                fresh.push(pa);
            } else {
                out.already_done += 1;
            }
        }
        let values: Vec<(Vec<u8>, [u8; 32])> = fresh
            .iter()
            .map(|pa| {
                (
                    paths::ack(&ctx.chain_id, pa.message.sequence),
                    pa.ack.commitment().0,
                )
            })
            .collect();
        let claims: Vec<Claim<'_, C::Proof>> = fresh
            .iter()
            .zip(&values)
            .map(|(pa, (key, value))| Claim {
                key,
                value: Some(value),
                proof: &pa.proof,
            })
            .collect();
        client.verify(proof_height, &claims, ctx.time_ms)?;
        for pa in fresh {
            let outcome = if pa.ack.is_success() {
                Outcome::Acknowledged
            } else {
                Outcome::Refused
            };
            outbox::settle(s, &pa.message, outcome)?;
            // An unknown app here cannot have sent; refunds of known apps must not fail.
            let app = self.app(&pa.message.receiver)?;
            app.on_ack(s, &pa.message, &pa.ack)?;
            out.events.push(Event::MessageAcknowledged {
                message: pa.message.clone(),
                ack: pa.ack.clone(),
            });
        }
        Ok(out)
    }
}
