//! Driving a benchmark: planned sends at a steady rate from many accounts, the chains'
//! events read back, and the figures of the report computed from them.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use xrelay_devchain::node::client::NodeClient;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_devchain::Event;
use xrelay_light_client::{ChainId, Height, SigningKey, Timeout};

use super::figures::{report, Outcome, Progress};
use super::procs::Relayers;
use super::{
    bench_index, relayer_configs, BenchArgs, Report, ACCOUNTS, BENCH_SEED, PAYLOAD_PREFIX,
};
use crate::core::clock::now_ms;
use crate::devnet::up::Devnet;

/// One planned send.
struct Planned {
    index: u64,
    at: Duration,
    action: Action,
}

/// What the chains said about the benchmark's messages.
#[derive(Default)]
struct Seen {
    /// Message index → (destination chain index, height) of its delivery.
    received: HashMap<u64, (usize, Height)>,
    /// Deliveries of the same index counted more than once.
    received_twice: u64,
    acknowledged: HashMap<u64, Height>,
    timed_out: u64,
}

pub(super) async fn drive(
    args: &BenchArgs,
    devnet: &Devnet,
    dir: &Path,
    say: &dyn Fn(String),
) -> anyhow::Result<Report> {
    let nodes = devnet.node_clients()?;
    let ids = devnet.chain_ids()?;
    let configs = relayer_configs(args, devnet, dir);
    let mut relayers = Relayers::start(&configs, dir, args.block_time_ms, say).await?;

    let n = ids.len();
    let lanes: Vec<(usize, usize)> = (0..n)
        .flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b)))
        .collect();
    let far = Timeout {
        height: 0,
        time_ms: now_ms() + 24 * 3_600_000,
    };
    // By (source chain, account): the sends in nonce order.
    let mut plan: BTreeMap<(usize, u64), Vec<Planned>> = BTreeMap::new();
    for i in 0..args.messages {
        let (src, dst) = lanes[(i as usize) % lanes.len()];
        let account = (i / lanes.len() as u64) % ACCOUNTS;
        let at = if args.rate > 0.0 {
            Duration::from_secs_f64(i as f64 / args.rate)
        } else {
            Duration::ZERO
        };
        plan.entry((src, account)).or_default().push(Planned {
            index: i,
            at,
            action: Action::Send {
                destination: ids[dst].clone(),
                app: "echo".into(),
                payload: format!("{PAYLOAD_PREFIX}{i}").into_bytes(),
                timeout: far,
            },
        });
    }

    let mut start_heights = Vec::new();
    for node in &nodes {
        start_heights.push(node.status().await?.latest_height);
    }
    relayers.mark().await?;
    let started = Instant::now();
    let started_ms = now_ms();
    let submitted = send_all(&nodes, &ids, plan, started, started_ms).await?;
    say(format!(
        "submitted {} messages in {:.1} s",
        submitted.len(),
        started.elapsed().as_secs_f64()
    ));

    // Follow every chain's events until each message is acknowledged (or the deadline).
    let budget = Duration::from_secs(
        args.timeout_s
            .unwrap_or(60 + args.messages.saturating_mul(10) / 1000),
    );
    let wait_start = Instant::now();
    let mut cursors = start_heights.clone();
    let mut seen = Seen::default();
    let mut block_times: HashMap<(usize, Height), u64> = HashMap::new();
    let mut progress = Progress::new();
    loop {
        for (c, node) in nodes.iter().enumerate() {
            let head = node.status().await?.latest_height;
            while cursors[c] < head {
                let to = head.min(cursors[c] + 200);
                for e in node.events(cursors[c] + 1, to).await? {
                    match &e.event {
                        Event::MessageReceived { message, .. } => {
                            if let Some(i) = bench_index(message) {
                                if seen.received.insert(i, (c, e.height)).is_some() {
                                    seen.received_twice += 1;
                                }
                            }
                        }
                        Event::MessageAcknowledged { message, .. } => {
                            if let Some(i) = bench_index(message) {
                                seen.acknowledged.insert(i, e.height);
                            }
                        }
                        Event::MessageTimedOut { message } if bench_index(message).is_some() => {
                            seen.timed_out += 1;
                        }
                        _ => {}
                    }
                }
                cursors[c] = to;
            }
        }
        let settled = seen.acknowledged.len() as u64 + seen.timed_out;
        if settled >= submitted.len() as u64 || wait_start.elapsed() > budget {
            break;
        }
        progress.tick(
            say,
            seen.received.len(),
            seen.acknowledged.len(),
            submitted.len() as u64,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wall = started.elapsed();

    let cost = relayers.finish().await?;

    // Latency: the dApp's submission to the block time of the destination block that
    // delivered it.
    let mut delivered_at = HashMap::with_capacity(seen.received.len());
    for (i, (c, h)) in &seen.received {
        let t = match block_times.get(&(*c, *h)) {
            Some(t) => *t,
            None => {
                let t = nodes[*c].light_block(*h).await?.header().time_ms;
                block_times.insert((*c, *h), t);
                t
            }
        };
        delivered_at.insert(*i, t);
    }
    let duplicated = crate::devnet::checks::duplicate_deliveries(&nodes)
        .await?
        .max(seen.received_twice);
    let outcome = Outcome {
        chains: (args.chains, 0),
        block_time_ms: args.block_time_ms,
        submitted,
        delivered_at,
        acknowledged: seen.acknowledged.len() as u64,
        timed_out: seen.timed_out,
        duplicated,
        started_ms,
        wall,
    };
    Ok(report(args, &outcome, &cost))
}

/// Signs and submits every planned send at its time; returns each message's submission
/// time (ms since the epoch) by index. Each account's sends go in nonce order.
async fn send_all(
    nodes: &[NodeClient],
    ids: &[ChainId],
    plan: BTreeMap<(usize, u64), Vec<Planned>>,
    started: Instant,
    started_ms: u64,
) -> anyhow::Result<HashMap<u64, u64>> {
    let mut tasks = tokio::task::JoinSet::new();
    for ((chain, account), sends) in plan {
        let node = nodes[chain].clone();
        let id = ids[chain].clone();
        let key = SigningKey::from_seed(BENCH_SEED, (chain as u64 * ACCOUNTS + account) as u32);
        tasks.spawn(async move {
            let mut nonce = node.nonce(&key.address()).await?;
            let mut times = Vec::with_capacity(sends.len());
            for p in sends {
                tokio::time::sleep_until((started + p.at).into()).await;
                let tx = Tx::Signed(Box::new(SignedAction::sign(&id, &key, nonce, p.action)));
                let at = started_ms + started.elapsed().as_millis() as u64;
                crate::devnet::broadcast_when_room(&node, &tx, &id, Duration::from_millis(20))
                    .await?;
                nonce += 1;
                times.push((p.index, at));
            }
            Ok::<_, anyhow::Error>(times)
        });
    }
    let mut out = HashMap::new();
    while let Some(r) = tasks.join_next().await {
        out.extend(r??);
    }
    Ok(out)
}
