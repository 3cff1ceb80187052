//! A sender that keeps going while its node is killed, restarted or unreachable, and
//! still sends each planned message exactly once.
//!
//! Message `i` of an account is the signed action with nonce `first + i`; once signed, the
//! same bytes are what gets (re)broadcast. A nonce executes at most once on the chain, so
//! resubmitting can never send a message twice, and the committed nonce says exactly
//! which messages landed. The mempool lives in memory: after a node restart (or a cut
//! connection whose answer never came) the sender goes back to the first nonce not
//! committed and broadcasts again; the mempool's "not the account's next nonce N" answer
//! tells it where the mempool already is.

use std::time::{Duration, Instant};

use xrelay::devnet::coin;
use xrelay_devchain::node::client::{ClientError, NodeClient};
use xrelay_devchain::node::rpc::codes;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_light_client::{ChainId, SigningKey, Timeout};

use super::schedule::{MessageSpec, Payload, ShortTimeout};

/// Messages allowed in flight (broadcast, not committed) per account.
const WINDOW: usize = 64;
/// With messages in flight and no nonce progress for this long, the mempool lost them.
const STALL: Duration = Duration::from_secs(3);

/// The "never" timeout of echo messages and ordinary transfers.
pub const FAR: Timeout = Timeout {
    height: 0,
    time_ms: u64::MAX / 2,
};

/// What one sender went through.
#[derive(Debug, Default, Clone, Copy)]
pub struct SenderStats {
    /// Messages planned (and, if the sender finished, committed).
    pub planned: u64,
    /// Broadcasts the mempool accepted (more than `planned` after resubmissions).
    pub accepted: u64,
    /// Broadcasts refused because the mempool already had that nonce or a later one.
    pub refused: u64,
    /// Calls that failed on the connection (node down, connection cut or refused).
    pub transport_errors: u64,
    /// Times the sender went back to the committed nonce and broadcast again.
    pub resubmissions: u64,
    /// "Mempool full" answers.
    pub mempool_full: u64,
}

impl std::ops::AddAssign for SenderStats {
    fn add_assign(&mut self, o: SenderStats) {
        self.planned += o.planned;
        self.accepted += o.accepted;
        self.refused += o.refused;
        self.transport_errors += o.transport_errors;
        self.resubmissions += o.resubmissions;
        self.mempool_full += o.mempool_full;
    }
}

/// One account's messages on one chain.
pub struct Sender {
    /// The account.
    pub key: SigningKey,
    /// Its chain.
    pub chain: ChainId,
    /// Its chain's node (through the chaos proxy).
    pub node: NodeClient,
    /// Every chain's id and node, by index (destination heights for height timeouts).
    pub chains: Vec<(ChainId, NodeClient)>,
    /// What to send, in nonce order.
    pub plan: Vec<MessageSpec>,
    /// Message `i` is due at `start + spread * i / plan.len()`.
    pub start: Instant,
    /// See `start`.
    pub spread: Duration,
    /// Give up here.
    pub deadline: Instant,
    /// The chains' block time (a height timeout falls back to the clock with it).
    pub block_time_ms: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The `N` of the mempool's "nonce X is not the account's next nonce N".
fn expected_nonce(e: &ClientError) -> Option<u64> {
    let ClientError::Rpc { message, .. } = e else {
        return None;
    };
    let rest = &message[message.find("next nonce ")? + "next nonce ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

impl Sender {
    /// The action of message `i`. Short timeouts are fixed when the message is first
    /// signed, from the destination's clock or height at that moment.
    async fn action(&self, i: usize) -> Action {
        let spec = self.plan[i];
        let (dst, dst_node) = &self.chains[spec.dst];
        let receiver = SigningKey::from_seed("xrelay-chaos-receiver", spec.dst as u32);
        let transfer = |amount: u128, timeout: Timeout| {
            crate::transfer(
                dst,
                &coin(&self.chain),
                amount,
                &self.key,
                &receiver,
                timeout,
            )
        };
        match spec.payload {
            Payload::Echo => {
                let payload = format!("{} #{i}", self.key.address());
                crate::echo(dst, payload.as_bytes())
            }
            Payload::Transfer { amount } => transfer(amount, FAR),
            Payload::ShortTransfer { amount, timeout } => {
                let by_height = match timeout {
                    ShortTimeout::Blocks(n) => {
                        dst_node.status().await.ok().map(|s| s.latest_height + n)
                    }
                    ShortTimeout::Ms(_) => None,
                };
                let timeout = match (by_height, timeout) {
                    (Some(height), _) => Timeout { height, time_ms: 0 },
                    (None, ShortTimeout::Ms(ms)) => Timeout {
                        height: 0,
                        time_ms: now_ms() + ms,
                    },
                    // The destination was unreachable: the same delay by the clock.
                    (None, ShortTimeout::Blocks(n)) => Timeout {
                        height: 0,
                        time_ms: now_ms() + n * self.block_time_ms,
                    },
                };
                transfer(amount, timeout)
            }
        }
    }

    /// Sends every planned message; returns what it took, or why it gave up.
    pub async fn run(self) -> Result<SenderStats, String> {
        let n = self.plan.len();
        let mut stats = SenderStats {
            planned: n as u64,
            ..Default::default()
        };
        let addr = self.key.address();
        let first = loop {
            match self.node.nonce(&addr).await {
                Ok(nonce) => break nonce,
                Err(_) if Instant::now() < self.deadline => {
                    stats.transport_errors += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(format!("{}: no nonce: {e}", self.chain)),
            }
        };
        let mut signed: Vec<Option<Tx>> = vec![None; n];
        let mut committed = 0usize; // messages committed (nonce - first)
        let mut next = 0usize; // next message to broadcast
        let mut last_progress = Instant::now();
        let due = |i: usize| self.start + self.spread.mul_f64(i as f64 / n as f64);
        while committed < n {
            if Instant::now() > self.deadline {
                return Err(format!(
                    "{} {addr}: {committed} of {n} committed at the deadline ({stats:?})",
                    self.chain
                ));
            }
            while next < n && next < committed + WINDOW && Instant::now() >= due(next) {
                if signed[next].is_none() {
                    let action = self.action(next).await;
                    let tx =
                        SignedAction::sign(&self.chain, &self.key, first + next as u64, action);
                    signed[next] = Some(Tx::Signed(Box::new(tx)));
                }
                let Some(tx) = &signed[next] else { break };
                match self.node.broadcast(tx).await {
                    Ok(_) => {
                        stats.accepted += 1;
                        next += 1;
                    }
                    Err(ClientError::Rpc { code, .. }) if code == codes::MEMPOOL_FULL => {
                        stats.mempool_full += 1;
                        break;
                    }
                    Err(e) if e.is_refusal() => {
                        stats.refused += 1;
                        match expected_nonce(&e) {
                            // The mempool is already past it (an earlier broadcast whose
                            // answer was lost), or lost the ones before it.
                            Some(expected) => {
                                next = (expected.saturating_sub(first) as usize).min(n);
                            }
                            None => {
                                return Err(format!(
                                    "{} {addr}: message {next} refused: {e}",
                                    self.chain
                                ))
                            }
                        }
                    }
                    Err(_) => {
                        // Connection cut, refused, or node down: whether it landed is
                        // unknown; the committed nonce will tell.
                        stats.transport_errors += 1;
                        next = committed;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            match self.node.nonce(&addr).await {
                Ok(nonce) => {
                    let now = (nonce.saturating_sub(first) as usize).min(n);
                    if now > committed {
                        committed = now;
                        last_progress = Instant::now();
                    }
                    next = next.max(committed);
                }
                Err(_) => stats.transport_errors += 1,
            }
            if next > committed && last_progress.elapsed() > STALL {
                // In flight for too long: the node restarted and its mempool is gone.
                stats.resubmissions += 1;
                next = committed;
                last_progress = Instant::now();
            }
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_mempools_next_nonce() {
        let e = ClientError::Rpc {
            code: codes::TX_REFUSED,
            message: "nonce 12 is not the account's next nonce 9".into(),
        };
        assert_eq!(expected_nonce(&e), Some(9));
        let other = ClientError::Rpc {
            code: codes::TX_REFUSED,
            message: "no client of chain-9".into(),
        };
        assert_eq!(expected_nonce(&other), None);
    }
}
