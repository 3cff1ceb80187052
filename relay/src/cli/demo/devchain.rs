//! The devchains-only demo: every lane gets echo messages and token transfers, and a
//! stopped destination makes some transfers time out and be refunded.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use xrelay_devchain::node::client::NodeClient;
use xrelay_devchain::tx::Action;
use xrelay_devchain::Event;
use xrelay_light_client::{ChainId, SigningKey, Timeout};

use super::send::{broadcast_all, transfer, Planned};
use super::summary::{tally, Summary};
use super::DemoArgs;
use crate::config::RelayerConfig;
use crate::core::clock::now_ms;
use crate::devnet::up::{Devnet, UpOptions};
use crate::devnet::{user_key, DEV_ACCOUNTS};
use crate::store::Status;

/// Seed of the (unfunded) accounts that send echo messages.
const ECHO_SEED: &str = "xrelay-demo-echo";

/// Runs the devchains-only demo in `dir`; returns its summary.
pub(super) async fn run(
    args: &DemoArgs,
    chains: u32,
    dir: &Path,
    say: &dyn Fn(String),
) -> anyhow::Result<Summary> {
    say(format!(
        "starting {chains} devchains and a relayer in {}",
        dir.display()
    ));
    let devnet = Devnet::up(&UpOptions {
        chains,
        out: dir.join("devnet"),
        block_time_ms: args.block_time_ms,
        validators: 4,
        faults: BTreeMap::new(),
        base_port: None,
        rotate_every: None,
        relayers: 0,
        evm: 0,
    })
    .await?;
    let result = drive(args, &devnet, say).await;
    devnet.stop().await;
    result
}

async fn drive(args: &DemoArgs, devnet: &Devnet, say: &dyn Fn(String)) -> anyhow::Result<Summary> {
    let cfg = RelayerConfig::load(
        &devnet.relayer_config,
        [("XRELAY_API__LISTEN".to_string(), "127.0.0.1:0".to_string())],
    )?;
    let relayer = crate::runner::start(&cfg).await?;
    say(format!(
        "relayer api on http://{0} (status page: http://{0}/)",
        relayer.api_addr
    ));
    let nodes = devnet.node_clients()?;
    let ids = devnet.chain_ids()?;
    let n = ids.len();
    let lanes: Vec<(usize, usize)> = (0..n)
        .flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b)))
        .collect();
    let victim = n - 1;
    let timeouts = (args.messages / 20).max(1).min(args.messages);
    let normal = args.messages - timeouts;

    let far = Timeout {
        height: 0,
        time_ms: now_ms() + 3_600_000,
    };
    let mut plan = Vec::new();
    for i in 0..normal {
        let (src, dst) = lanes[(i as usize) % lanes.len()];
        let round = i / lanes.len() as u64;
        if i % 2 == 0 {
            let from = user_key((round % DEV_ACCOUNTS as u64) as u32);
            let to = user_key(((round + 1) % DEV_ACCOUNTS as u64) as u32);
            plan.push(Planned {
                chain: src,
                action: transfer(&ids[src], &ids[dst], &from, &to, 1 + round % 50, far),
                key: from,
            });
        } else {
            let key = SigningKey::from_seed(ECHO_SEED, (round % 16) as u32);
            let action = Action::Send {
                destination: ids[dst].clone(),
                app: "echo".into(),
                payload: format!("hello {i}").into_bytes(),
                timeout: far,
            };
            plan.push(Planned {
                chain: src,
                action,
                key,
            });
        }
    }
    let started = Instant::now();
    let start_heights = futures_heights(&nodes).await?;
    broadcast_all(&nodes, &ids, plan).await?;
    say(format!("sent {normal} messages on {} lanes; holding {} still for {timeouts} short-timeout transfers", lanes.len(), ids[victim]));

    // The late transfers reuse the funded accounts: let their queued sends commit first so
    // the nonces they read are current.
    wait_mempools_empty(&nodes, Duration::from_secs(60)).await?;
    // Let the normal traffic arrive before the drill, so holding a chain still does not
    // count as relay latency.
    let deadline = Instant::now() + Duration::from_secs(60 + normal / 50);
    loop {
        let counts = relayer.relay.ledger.counts().await;
        let arrived: u64 = counts
            .iter()
            .filter(|((_, _, st), _)| matches!(st, Status::Delivered | Status::Acknowledged))
            .map(|(_, v)| *v)
            .sum();
        if arrived >= normal || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Hold the victim still, send transfers to it that expire in a second, then let it go:
    // its next block is past their timeout, so they can only time out and be refunded.
    let victim_pid = Pid::from_raw(devnet.chains[victim].pid as i32);
    kill(victim_pid, Signal::SIGSTOP).context("holding the destination still")?;
    let deadline = Timeout {
        height: 0,
        time_ms: now_ms() + 1_000,
    };
    let mut late = Vec::new();
    for i in 0..timeouts {
        let src = (i as usize) % (n - 1);
        let from = user_key((i % DEV_ACCOUNTS as u64) as u32);
        late.push(Planned {
            chain: src,
            action: transfer(&ids[src], &ids[victim], &from, &from, 7, deadline),
            key: from,
        });
    }
    let sent_late = broadcast_all(&nodes, &ids, late).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    kill(victim_pid, Signal::SIGCONT).context("releasing the destination")?;
    sent_late?;

    // Every message the chains committed, by lane and sequence.
    let expected = args.messages;
    let sent = collect_sent(
        &nodes,
        &ids,
        &start_heights,
        expected,
        Duration::from_secs(60),
    )
    .await?;
    let progress = Progress::new(sent.len() as u64);
    let budget = Duration::from_secs(120 + sent.len() as u64 / 20);
    let wait_start = Instant::now();
    loop {
        let counts = relayer.relay.ledger.counts().await;
        let total = |s: Status| {
            counts
                .iter()
                .filter(|((_, _, st), _)| *st == s)
                .map(|(_, v)| *v)
                .sum::<u64>()
        };
        let (acked, closed) = (total(Status::Acknowledged), total(Status::Closed));
        let delivered = total(Status::Delivered) + acked;
        progress.update(
            acked + closed,
            delivered,
            acked,
            total(Status::TimedOut) + closed,
        );
        if acked + closed >= sent.len() as u64 || wait_start.elapsed() > budget {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    progress.finish();

    // Tally from the relayer's records, then check the chains themselves.
    let duplicated = crate::devnet::checks::duplicate_deliveries(&nodes).await?;
    let supply_conserved = crate::devnet::checks::supply_conserved(&nodes, &ids).await?;
    let summary = tally(
        relayer.relay.ledger.store(),
        &sent,
        duplicated,
        supply_conserved,
    );
    relayer.stop().await;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "demo done"
    );
    summary
}

async fn wait_mempools_empty(nodes: &[NodeClient], wait: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + wait;
    for n in nodes {
        while n.status().await?.mempool > 0 {
            if Instant::now() > deadline {
                anyhow::bail!("{}: mempool did not drain within {wait:?}", n.url());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

async fn futures_heights(nodes: &[NodeClient]) -> anyhow::Result<Vec<u64>> {
    let mut out = Vec::new();
    for n in nodes {
        out.push(n.status().await?.latest_height);
    }
    Ok(out)
}

/// The messages committed since `from` heights, waiting until `expected` were seen.
async fn collect_sent(
    nodes: &[NodeClient],
    ids: &[ChainId],
    from: &[u64],
    expected: u64,
    wait: Duration,
) -> anyhow::Result<Vec<(ChainId, ChainId, u64)>> {
    let deadline = Instant::now() + wait;
    let mut cursors: Vec<u64> = from.to_vec();
    let mut sent = Vec::new();
    loop {
        for (i, node) in nodes.iter().enumerate() {
            let head = node.status().await?.latest_height;
            while cursors[i] < head {
                let to = head.min(cursors[i] + 500);
                for e in node.events(cursors[i] + 1, to).await? {
                    if let Event::MessageSent { message } = e.event {
                        sent.push((ids[i].clone(), message.destination, message.sequence));
                    }
                }
                cursors[i] = to;
            }
        }
        if sent.len() as u64 >= expected || Instant::now() > deadline {
            return Ok(sent);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A progress bar on a terminal, plain lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    last_line: std::cell::Cell<Instant>,
}

impl Progress {
    fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} settled  {msg}")
            {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            total,
            last_line: std::cell::Cell::new(Instant::now()),
        }
    }

    fn update(&self, settled: u64, delivered: u64, acked: u64, timed_out: u64) {
        let msg = format!("delivered {delivered}  acknowledged {acked}  timed out {timed_out}");
        match &self.bar {
            Some(bar) => {
                bar.set_position(settled);
                bar.set_message(msg);
            }
            None if self.last_line.get().elapsed() >= Duration::from_secs(1)
                || settled >= self.total =>
            {
                self.last_line.set(Instant::now());
                eprintln!("progress: {settled}/{} settled, {msg}", self.total);
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
