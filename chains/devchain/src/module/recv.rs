//! Relay transactions that deliver messages here (`Recv`, `RecvEvm`): the destination side
//! of a lane. Its own file because delivery is the one place where an app's receive
//! callback runs and a receipt, an ack and the lane counter are written.

use xrelay_light_client::{paths, Acknowledgement, ChainId, Height};

use super::checks::{self, Arrival};
use super::counterparty::{Claim, Counterparty};
use super::keys;
use super::{Context, Event, Module, ModuleError, TxReport};
use crate::apps::AppError;
use crate::state::{atomically, Overlay};
use xrelay_protocol::Outcome;
use xrelay_protocol::{InboundMessage, SourceProof};

impl Module {
    /// Receives messages from `source`, whose client here is a `C` (§9.1 lane rules).
    pub(super) fn recv<C: Counterparty>(
        &self,
        s: &mut Overlay<'_>,
        ctx: &Context,
        source: &ChainId,
        proof_height: Height,
        messages: &[InboundMessage<C::Proof>],
    ) -> Result<TxReport, ModuleError> {
        checks::check_non_empty(messages.len())?;
        let client = C::load(s, source)?;
        let mut next = s.get_u64(&paths::next_receive(source))?.max(1);
        let mut arrivals = Vec::with_capacity(messages.len());
        for im in messages {
            checks::check_inbound_lane(ctx, source, &im.message)?;
            let arrival = checks::check_arrival(next, &im.message, ctx)?;
            if im.shows == SourceProof::TimedOut {
                checks::check_settled_timeout(arrival, &im.message)?;
            }
            if arrival != Arrival::Duplicate {
                next += 1;
            }
            arrivals.push(arrival);
        }
        // Every new item's state on the source is proven in one batched check: the
        // commitment of a pending message, or the timed-out outcome of a refunded one.
        let fresh: Vec<&InboundMessage<C::Proof>> = messages
            .iter()
            .zip(&arrivals)
            .filter(|(_, a)| **a != Arrival::Duplicate)
            .map(|(im, _)| im)
            .collect();
        let values: Vec<(Vec<u8>, Vec<u8>)> = fresh
            .iter()
            .map(|im| match im.shows {
                SourceProof::Committed => (
                    paths::commitment(&ctx.chain_id, im.message.sequence),
                    im.message.commitment().0.to_vec(),
                ),
                SourceProof::TimedOut => (
                    paths::outcome(&ctx.chain_id, im.message.sequence),
                    vec![Outcome::TimedOut.byte()],
                ),
            })
            .collect();
        let claims: Vec<Claim<'_, C::Proof>> = fresh
            .iter()
            .zip(&values)
            .map(|(im, (key, value))| Claim {
                key,
                value: Some(value),
                proof: &im.proof,
            })
            .collect();
        client.verify(proof_height, &claims, ctx.time_ms)?;
        let mut out = TxReport::default();
        for (im, arrival) in messages.iter().zip(arrivals) {
            let m = &im.message;
            match arrival {
                Arrival::Duplicate => out.already_done += 1,
                Arrival::Expired => {
                    s.set_u64(paths::next_receive(source), m.sequence + 1);
                    out.events
                        .push(Event::MessageExpired { message: m.clone() });
                }
                Arrival::Deliver => {
                    let ack = match self.app(&m.receiver) {
                        Err(e) => Acknowledgement::Error(e.to_string()),
                        Ok(app) => match atomically(s, |child| app.on_recv(child, ctx, m)) {
                            Ok(result) => Acknowledgement::Success(result),
                            Err(AppError::Storage(e)) => return Err(e.into()),
                            Err(e) => Acknowledgement::Error(e.to_string()),
                        },
                    };
                    s.set(paths::receipt(source, m.sequence), keys::RECEIPT.to_vec());
                    s.set(paths::ack(source, m.sequence), ack.commitment().0.to_vec());
                    s.set_u64(paths::next_receive(source), m.sequence + 1);
                    out.events.push(Event::MessageReceived {
                        message: m.clone(),
                        ack,
                    });
                }
            }
        }
        Ok(out)
    }
}
