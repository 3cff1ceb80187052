//! `xrelay demo`: N devchains and a relayer on loopback in a temporary directory, a mix of
//! echo messages and token transfers on every lane, some of them with short timeouts sent
//! to a destination that is held still (SIGSTOP) so they must time out and be refunded;
//! live progress; a summary checked against the chains themselves.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::Serialize;
use xrelay_devchain::node::client::NodeClient;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_devchain::Event;
use xrelay_light_client::{Address, ChainId, Encode, SigningKey, Timeout};

use crate::config::RelayerConfig;
use crate::core::clock::now_ms;
use crate::devnet::up::{Devnet, UpOptions};
use crate::devnet::{coin, user_key, DEV_ACCOUNTS};
use crate::store::Status;
use xrelay_protocol::TransferPacket;

/// `xrelay demo` flags.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many chains (every pair is linked).
    #[arg(long, default_value_t = 2)]
    pub chains: u32,
    /// How many messages in all.
    #[arg(long, default_value_t = 400)]
    pub messages: u64,
    /// Print the summary as one JSON object on the last line of stdout.
    #[arg(long)]
    pub json: bool,
    /// Block interval of the chains.
    #[arg(long, default_value_t = 200)]
    pub block_time_ms: u64,
    /// Keep the chains' and relayer's data here instead of a temporary directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Relay between a devchain and a real EVM node (anvil, with the Gateway deployed)
    /// instead: tokens out and back, echo messages both ways.
    #[arg(long)]
    pub with_evm: bool,
}

/// The summary (`--json` keys are part of the interface).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Messages committed on their source chains.
    pub sent: u64,
    /// Received by their destination app.
    pub delivered: u64,
    /// Acknowledged back on the source.
    pub acknowledged: u64,
    /// Timed out and refunded on the source.
    pub timed_out: u64,
    /// Sent and never settled.
    pub lost: u64,
    /// Delivered or settled more than once (counted on the chains).
    pub duplicated: u64,
    /// Every coin's supply is the same across all chains as at genesis.
    pub supply_conserved: bool,
    /// Delivered messages per second, first send to last delivery.
    pub throughput_msgs_per_s: f64,
    /// Send committed to delivery committed, median.
    pub latency_ms_p50: u64,
    /// 99th percentile.
    pub latency_ms_p99: u64,
}

/// Seed of the (unfunded) accounts that send echo messages.
const ECHO_SEED: &str = "xrelay-demo-echo";

pub(crate) struct Planned {
    pub(crate) chain: usize,
    pub(crate) key: SigningKey,
    pub(crate) action: Action,
}

/// Runs the demo; exits non-zero unless nothing was lost or duplicated and supply held.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if args.chains < 2 {
        anyhow::bail!("--chains must be at least 2");
    }
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let say = |s: String| {
        if !args.json {
            println!("{s}");
        } else {
            eprintln!("{s}");
        }
    };
    if args.with_evm {
        let summary = super::demo_evm::run(&args, &dir, &say).await?;
        print_summary(&summary, args.json);
        if summary.lost > 0 || summary.duplicated > 0 || !summary.supply_conserved {
            anyhow::bail!("the demo found lost or duplicated messages, or supply not conserved");
        }
        return Ok(());
    }
    say(format!(
        "starting {} devchains and a relayer in {}",
        args.chains,
        dir.display()
    ));
    let devnet = Devnet::up(&UpOptions {
        chains: args.chains,
        out: dir.join("devnet"),
        block_time_ms: args.block_time_ms,
        validators: 4,
        faults: BTreeMap::new(),
        base_port: None,
        rotate_every: None,
        relayers: 0,
    })
    .await?;
    let result = drive(&args, &devnet, &say).await;
    devnet.stop().await;
    let summary = result?;
    print_summary(&summary, args.json);
    if summary.lost > 0 || summary.duplicated > 0 || !summary.supply_conserved {
        anyhow::bail!("the demo found lost or duplicated messages, or supply not conserved");
    }
    Ok(())
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

/// The summary of the messages in `sent` from the relayer's records, with what the chains
/// said about duplicates and supply.
pub(crate) fn tally(
    store: &crate::store::RelayStore,
    sent: &[(ChainId, ChainId, u64)],
    duplicated: u64,
    supply_conserved: bool,
) -> anyhow::Result<Summary> {
    let (mut delivered, mut acknowledged, mut timed_out, mut lost) = (0, 0, 0, 0);
    let mut latencies = Vec::new();
    let (mut first_sent, mut last_delivered) = (u64::MAX, 0);
    for (src, dst, seq) in sent {
        let Some(r) = store.message(src, dst, *seq)? else {
            lost += 1;
            continue;
        };
        let sent_at = r.reached(Status::Pending).map(|s| s.at_ms).unwrap_or(0);
        first_sent = first_sent.min(sent_at);
        if let Some(d) = r.reached(Status::Delivered) {
            delivered += 1;
            latencies.push(d.at_ms.saturating_sub(sent_at));
            last_delivered = last_delivered.max(d.at_ms);
        }
        match r.status {
            Status::Acknowledged => acknowledged += 1,
            Status::Closed => timed_out += 1,
            _ => lost += 1,
        }
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    let span_ms = last_delivered.saturating_sub(first_sent).max(1);
    Ok(Summary {
        sent: sent.len() as u64,
        delivered,
        acknowledged,
        timed_out,
        lost,
        duplicated,
        supply_conserved,
        throughput_msgs_per_s: (delivered as f64 * 1000.0 / span_ms as f64 * 10.0).round() / 10.0,
        latency_ms_p50: pct(0.50),
        latency_ms_p99: pct(0.99),
    })
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

pub(crate) fn transfer(
    src: &ChainId,
    dst: &ChainId,
    from: &SigningKey,
    to: &SigningKey,
    amount: u64,
    timeout: Timeout,
) -> Action {
    // Each chain's own coin travels out; vouchers are not sent back in the demo, so the
    // escrow on the source always equals the vouchers on the destination.
    let denom = coin(src);
    let payload = TransferPacket {
        denom,
        amount: amount.into(),
        sender: from.address(),
        receiver: to.address(),
    }
    .encode();
    Action::Send {
        destination: dst.clone(),
        app: "transfer".into(),
        payload,
        timeout,
    }
}

async fn futures_heights(nodes: &[NodeClient]) -> anyhow::Result<Vec<u64>> {
    let mut out = Vec::new();
    for n in nodes {
        out.push(n.status().await?.latest_height);
    }
    Ok(out)
}

/// Signs and broadcasts everything; each account's actions go in nonce order.
pub(crate) async fn broadcast_all(
    nodes: &[NodeClient],
    ids: &[ChainId],
    plan: Vec<Planned>,
) -> anyhow::Result<()> {
    let mut by_account: HashMap<(usize, Address), (SigningKey, Vec<Action>)> = HashMap::new();
    for p in plan {
        by_account
            .entry((p.chain, p.key.address()))
            .or_insert_with(|| (p.key.clone(), Vec::new()))
            .1
            .push(p.action);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for ((chain, address), (key, actions)) in by_account {
        let node = nodes[chain].clone();
        let id = ids[chain].clone();
        tasks.spawn(async move {
            let first = node.nonce(&address).await?;
            for (i, action) in actions.into_iter().enumerate() {
                let tx = Tx::Signed(Box::new(SignedAction::sign(
                    &id,
                    &key,
                    first + i as u64,
                    action,
                )));
                crate::devnet::broadcast_when_room(&node, &tx, &id, Duration::from_millis(50))
                    .await?;
            }
            Ok::<(), anyhow::Error>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
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

fn print_summary(s: &Summary, json: bool) {
    let rows = [
        ("sent", s.sent.to_string()),
        ("delivered", s.delivered.to_string()),
        ("acknowledged", s.acknowledged.to_string()),
        ("timed out (refunded)", s.timed_out.to_string()),
        ("lost", s.lost.to_string()),
        ("duplicated", s.duplicated.to_string()),
        (
            "supply conserved",
            if s.supply_conserved {
                "yes".into()
            } else {
                "NO".into()
            },
        ),
        (
            "throughput",
            format!("{:.1} msgs/s", s.throughput_msgs_per_s),
        ),
        ("latency p50", format!("{} ms", s.latency_ms_p50)),
        ("latency p99", format!("{} ms", s.latency_ms_p99)),
    ];
    let out = |line: String| {
        if json {
            eprintln!("{line}")
        } else {
            println!("{line}")
        }
    };
    out(String::new());
    for (k, v) in rows {
        out(format!("  {k:<22} {v:>14}"));
    }
    if json {
        println!("{}", serde_json::to_string(s).unwrap_or_default());
    }
}
