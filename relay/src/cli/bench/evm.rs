//! The benchmark among EVM chains (`--evm N`): echo messages sent through each chain's
//! Gateway at a steady rate by the chain's user, every ordered pair of chains a lane, and
//! the Gateways' logs followed as their blocks appear. A delivery's time is when the bench
//! first saw its block (polled every 100 ms): anvil stamps blocks in whole seconds, too
//! coarse for a latency. CPU and memory are read from the relayer processes as for
//! devchains.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use xrelay_evm::gateway::Gateway;
use xrelay_light_client::{ChainId, Decode, Message};

use super::figures::{report, Outcome, Progress};
use super::procs::Relayers;
use super::{bench_index, relayer_configs, BenchArgs, Report, PAYLOAD_PREFIX};
use crate::core::clock::now_ms;
use crate::devnet::evm::{signing_provider, EvmDevnet};
use crate::devnet::up::Devnet;

/// One planned send: the message's index, when to send it, the destination.
type Planned = (u64, Duration, ChainId);

pub(super) async fn drive(
    args: &BenchArgs,
    devnet: &Devnet,
    dir: &Path,
    say: &dyn Fn(String),
) -> anyhow::Result<Report> {
    let topology = devnet
        .evm
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the devnet started no EVM chain"))?;
    let chains = &topology.chains;
    let block_time_ms = args.block_time_ms.max(1_000);
    let mut relayers =
        Relayers::start(&relayer_configs(args, devnet, dir), dir, block_time_ms, say).await?;
    say(format!(
        "EVM blocks attested by {} of {} relayers' keys",
        topology.committee.quorum(),
        topology.committee.attesters().len()
    ));

    let n = chains.len();
    let lanes: Vec<(usize, usize)> = (0..n)
        .flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b)))
        .collect();
    let mut plan: Vec<Vec<Planned>> = vec![Vec::new(); n];
    for i in 0..args.messages {
        let (src, dst) = lanes[(i as usize) % lanes.len()];
        let at = if args.rate > 0.0 {
            Duration::from_secs_f64(i as f64 / args.rate)
        } else {
            Duration::ZERO
        };
        plan[src].push((i, at, chains[dst].chain.clone()));
    }
    let mut followers = Vec::with_capacity(n);
    for c in chains {
        followers.push(Follower::new(c).await?);
    }

    relayers.mark().await?;
    let started = Instant::now();
    let started_ms = now_ms();
    let mut senders = tokio::task::JoinSet::new();
    for (c, sends) in plan.into_iter().enumerate() {
        let provider = signing_provider(&chains[c].anvil.url(), &chains[c].user)?.erased();
        let gateway = chains[c].deployment.gateway;
        senders.spawn(send_all(provider, gateway, sends, started, started_ms));
    }

    let budget = Duration::from_secs(
        args.timeout_s
            .unwrap_or(60 + args.messages.saturating_mul(20) / 1000),
    );
    let mut seen = Seen::default();
    let mut submitted: HashMap<u64, u64> = HashMap::new();
    let mut sending = true;
    let mut progress = Progress::new();
    loop {
        while let Some(done) = senders.try_join_next() {
            submitted.extend(done??);
        }
        if sending && senders.is_empty() {
            sending = false;
            say(format!(
                "submitted {} messages in {:.1} s",
                submitted.len(),
                started.elapsed().as_secs_f64()
            ));
        }
        for f in &mut followers {
            f.follow(&mut seen).await?;
        }
        let settled = seen.acknowledged.len() as u64 + seen.timed_out;
        if !sending && settled >= submitted.len() as u64 {
            break;
        }
        if started.elapsed() > budget {
            senders.abort_all();
            break;
        }
        progress.tick(
            say,
            seen.delivered_at.len(),
            seen.acknowledged.len(),
            args.messages,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wall = started.elapsed();
    let cost = relayers.finish().await?;
    let outcome = Outcome {
        chains: (0, n as u32),
        block_time_ms,
        submitted,
        delivered_at: seen.delivered_at,
        acknowledged: seen.acknowledged.len() as u64,
        timed_out: seen.timed_out,
        duplicated: seen.received_twice,
        started_ms,
        wall,
    };
    Ok(report(args, &outcome, &cost))
}

/// Sends one chain's planned messages from its user, each at its time, without waiting for
/// inclusion; then checks every receipt. Returns each message's submission time by index.
async fn send_all(
    provider: DynProvider,
    gateway: Address,
    sends: Vec<Planned>,
    started: Instant,
    started_ms: u64,
) -> anyhow::Result<Vec<(u64, u64)>> {
    let gateway = Gateway::new(gateway, provider);
    let mut pending = Vec::with_capacity(sends.len());
    let mut times = Vec::with_capacity(sends.len());
    for (index, at, destination) in sends {
        tokio::time::sleep_until((started + at).into()).await;
        let sent_ms = started_ms + started.elapsed().as_millis() as u64;
        pending.push(
            gateway
                .sendMessage(
                    Bytes::copy_from_slice(destination.as_str().as_bytes()),
                    Bytes::copy_from_slice(b"echo"),
                    0,
                    u64::MAX / 2,
                    Bytes::from(format!("{PAYLOAD_PREFIX}{index}").into_bytes()),
                )
                .send()
                .await?,
        );
        times.push((index, sent_ms));
    }
    for p in pending {
        let receipt = p.get_receipt().await?;
        anyhow::ensure!(receipt.status(), "a benchmark send reverted");
    }
    Ok(times)
}

/// What the Gateways' logs said about the benchmark's messages.
#[derive(Default)]
struct Seen {
    /// Message index → when its delivery's block was first seen (ms since the epoch).
    delivered_at: HashMap<u64, u64>,
    /// Deliveries of the same index counted more than once.
    received_twice: u64,
    acknowledged: HashSet<u64>,
    timed_out: u64,
}

/// One chain's Gateway logs, read block range by block range as the chain grows.
struct Follower {
    chain: ChainId,
    provider: DynProvider,
    gateway: Address,
    cursor: u64,
}

impl Follower {
    async fn new(c: &EvmDevnet) -> anyhow::Result<Follower> {
        let provider = signing_provider(&c.anvil.url(), &c.user)?.erased();
        let cursor = provider.get_block_number().await?;
        Ok(Follower {
            chain: c.chain.clone(),
            provider,
            gateway: c.deployment.gateway,
            cursor,
        })
    }

    /// Reads the logs of the blocks that appeared since the last call into `seen`.
    async fn follow(&mut self, seen: &mut Seen) -> anyhow::Result<()> {
        let head = self.provider.get_block_number().await?;
        if head <= self.cursor {
            return Ok(());
        }
        let filter = Filter::new()
            .address(self.gateway)
            .event_signature(vec![
                Gateway::Received::SIGNATURE_HASH,
                Gateway::Acknowledged::SIGNATURE_HASH,
                Gateway::TimedOut::SIGNATURE_HASH,
            ])
            .from_block(self.cursor + 1)
            .to_block(head);
        let now = now_ms();
        for log in self.provider.get_logs(&filter).await? {
            let (bytes, kind) = match log.topic0() {
                Some(t) if *t == Gateway::Received::SIGNATURE_HASH => (
                    Gateway::Received::decode_log_data(&log.inner.data)?.message,
                    0,
                ),
                Some(t) if *t == Gateway::Acknowledged::SIGNATURE_HASH => (
                    Gateway::Acknowledged::decode_log_data(&log.inner.data)?.message,
                    1,
                ),
                _ => (
                    Gateway::TimedOut::decode_log_data(&log.inner.data)?.message,
                    2,
                ),
            };
            let message = Message::decode(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: a Gateway log: {e}", self.chain))?;
            let Some(i) = bench_index(&message) else {
                continue;
            };
            match kind {
                0 => {
                    if seen.delivered_at.insert(i, now).is_some() {
                        seen.received_twice += 1;
                    }
                }
                1 => {
                    seen.acknowledged.insert(i);
                }
                _ => seen.timed_out += 1,
            }
        }
        self.cursor = head;
        Ok(())
    }
}
