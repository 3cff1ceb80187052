//! `xrelay bench`: the end-to-end benchmark. Local devchains and `K` relayer processes
//! (meshed when `K > 1`), echo messages sent at a steady rate on every directed lane, and
//! the figures an operator sizes a deployment by: throughput, latency from the moment a
//! dApp submits a send to the destination block that delivers it, relayer CPU per message
//! next to the verification work the relayer must do for it, and peak memory. Every number
//! is read from the chains (events, block times) and from the relayer processes (`/proc`,
//! `/metrics`), not from the relayer's own bookkeeping.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Args;
use serde::Serialize;
use tokio::io::AsyncBufReadExt as _;
use xrelay_devchain::node::client::NodeClient;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_devchain::Event;
use xrelay_light_client::{ChainId, Height, Message, SigningKey, Timeout};

use crate::core::chain::now_ms;
use crate::devnet::up::{Devnet, UpOptions};

/// `xrelay bench` flags.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// How many chains (every pair is linked, both directions carry load).
    #[arg(long, default_value_t = 2)]
    pub chains: u32,
    /// How many relayer processes (a mesh when more than one).
    #[arg(long, default_value_t = 1)]
    pub relayers: u32,
    /// How many messages in all.
    #[arg(long, default_value_t = 5_000)]
    pub messages: u64,
    /// Messages per second offered, over all lanes (0: as fast as the chains take them).
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// Block interval of every chain.
    #[arg(long, default_value_t = 200)]
    pub block_time_ms: u64,
    /// Validators per chain.
    #[arg(long, default_value_t = 4)]
    pub validators: u32,
    /// Give up waiting for acknowledgements after this long (default: 60 s plus 10 ms per
    /// message).
    #[arg(long)]
    pub timeout_s: Option<u64>,
    /// Print the report as one JSON object on the last line of stdout.
    #[arg(long)]
    pub json: bool,
    /// Keep the chains' and relayers' data here instead of a temporary directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// The report (`--json` keys are part of the interface).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Messages accepted by the source chains' mempools.
    pub messages: u64,
    /// Chains.
    pub chains: u32,
    /// Relayer processes.
    pub relayers: u32,
    /// Offered rate (0: unpaced).
    pub rate_msgs_per_s: f64,
    /// Block interval of every chain.
    pub block_time_ms: u64,
    /// Delivered messages per second, first submission to last delivery.
    pub throughput_msgs_per_s: f64,
    /// Submission of the send to the block that delivered it: median.
    pub latency_ms_p50: u64,
    /// 90th percentile.
    pub latency_ms_p90: u64,
    /// 99th percentile.
    pub latency_ms_p99: u64,
    /// The latency goal: source interval + destination interval + 50 ms.
    pub latency_goal_ms: u64,
    /// Relayer CPU (user + system, all relayer processes) per message, delivery and
    /// acknowledgement together.
    pub relayer_cpu_us_per_msg: f64,
    /// Of which verification (header signatures, state proofs) the relayer must do.
    pub relayer_verify_us_per_msg: f64,
    /// Re-checking the header paths submitted to on-chain clients, per message.
    pub relayer_path_us_per_msg: f64,
    /// CPU per message over verification per message.
    pub cpu_over_verify: f64,
    /// Largest peak resident set of any relayer process.
    pub relayer_peak_rss_mb: f64,
    /// Delivered to their destination.
    pub delivered: u64,
    /// Acknowledged back on their source.
    pub acknowledged: u64,
    /// Submitted and never delivered (nor timed out) before the deadline.
    pub lost: u64,
    /// Delivered more than once (counted on the chains).
    pub duplicated: u64,
    /// Wall time from the first submission to the last acknowledgement.
    pub wall_s: f64,
}

/// Seed of the (unfunded) accounts that send the benchmark's echo messages.
const BENCH_SEED: &str = "xrelay-bench";
/// Sending accounts per chain: each sends in nonce order, so more accounts, more overlap.
const ACCOUNTS: u64 = 32;
/// Prefix of every benchmark payload, followed by the message's index.
const PAYLOAD_PREFIX: &str = "xb";

/// Runs the benchmark; exits non-zero if anything was lost or duplicated.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.chains < 2 {
        bail!("--chains must be at least 2");
    }
    if args.relayers < 1 {
        bail!("--relayers must be at least 1");
    }
    if args.messages == 0 {
        bail!("--messages must be at least 1");
    }
    if !(args.rate >= 0.0 && args.rate.is_finite()) {
        bail!("--rate must be a non-negative number");
    }
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let say = |s: String| {
        if args.json {
            eprintln!("{s}");
        } else {
            println!("{s}");
        }
    };
    say(format!(
        "bench: {} chains, {} relayer(s), {} messages at {} msg/s, {} ms blocks, in {}",
        args.chains,
        args.relayers,
        args.messages,
        if args.rate > 0.0 {
            args.rate.to_string()
        } else {
            "max".into()
        },
        args.block_time_ms,
        dir.display()
    ));
    let devnet = Devnet::up(&UpOptions {
        chains: args.chains,
        out: dir.join("devnet"),
        block_time_ms: args.block_time_ms,
        validators: args.validators,
        faults: BTreeMap::new(),
        base_port: None,
        rotate_every: None,
        relayers: if args.relayers > 1 { args.relayers } else { 0 },
    })
    .await?;
    let result = drive(&args, &devnet, &dir, &say).await;
    devnet.stop().await;
    let report = result?;
    print_report(&report, args.json);
    if report.lost > 0 || report.duplicated > 0 {
        bail!("the benchmark found lost or duplicated messages");
    }
    Ok(())
}

/// A relayer child process and what it serves.
struct RelayerProc {
    child: tokio::process::Child,
    pid: u32,
    api: String,
}

async fn spawn_relayer(config: &Path, log: &Path) -> anyhow::Result<RelayerProc> {
    let exe = std::env::current_exe().context("locating the xrelay binary")?;
    let log_file = std::fs::File::create(log).with_context(|| format!("{}", log.display()))?;
    let mut child = tokio::process::Command::new(exe)
        .args(["start", "--config"])
        .arg(config)
        .env("XRELAY_API__LISTEN", "127.0.0.1:0")
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true)
        .spawn()
        .context("starting a relayer")?;
    let pid = child.id().context("relayer pid")?;
    let stdout = child.stdout.take().context("relayer stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .with_context(|| format!("relayer did not start; see {}", log.display()))??
        .with_context(|| format!("relayer exited; see {}", log.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&line).with_context(|| format!("relayer said {line:?}"))?;
    let api = v["api"]
        .as_str()
        .with_context(|| format!("relayer said {line:?}"))?
        .to_string();
    // Keep reading so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(RelayerProc { child, pid, api })
}

/// User + system CPU time of a process, from `/proc/PID/stat`.
fn process_cpu(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..13)
        .context("short /proc stat")?
        .iter()
        .map(|f| f.parse::<u64>().unwrap_or(0))
        .sum();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100)
        .max(1) as u64;
    Ok(Duration::from_micros(ticks * 1_000_000 / hz))
}

/// Peak resident set of a process in MiB, from `/proc/PID/status`.
fn process_peak_rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmHWM in /proc status")?;
    Ok(kb / 1024.0)
}

/// Verification CPU seconds a relayer reports, by kind (`header`, `proof`, `path`).
async fn verification_cpu(api: &str) -> anyhow::Result<BTreeMap<String, f64>> {
    let body = http_get(api, "/metrics").await?;
    let mut out = BTreeMap::new();
    for line in body.lines() {
        let Some(rest) = line.strip_prefix("xrelay_verification_cpu_seconds_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let kind = labels
            .split(',')
            .find_map(|l| l.strip_prefix("kind=\""))
            .map(|k| k.trim_end_matches('"').to_string())
            .unwrap_or_default();
        *out.entry(kind).or_insert(0.0) += value.trim().parse::<f64>().unwrap_or(0.0);
    }
    Ok(out)
}

/// The body of `GET path` on a relayer's HTTP server (HTTP/1.0, one request).
async fn http_get(addr: &str, path: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let fetch = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), fetch)
        .await
        .with_context(|| format!("GET http://{addr}{path} timed out"))??;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("GET http://{addr}{path}: no HTTP response"))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        bail!(
            "GET http://{addr}{path}: {}",
            head.lines().next().unwrap_or("")
        );
    }
    Ok(body.to_string())
}

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

fn bench_index(m: &Message) -> Option<u64> {
    std::str::from_utf8(&m.payload)
        .ok()?
        .strip_prefix(PAYLOAD_PREFIX)?
        .parse()
        .ok()
}

async fn drive(
    args: &BenchArgs,
    devnet: &Devnet,
    dir: &Path,
    say: &dyn Fn(String),
) -> anyhow::Result<Report> {
    let nodes = devnet.node_clients()?;
    let ids = devnet.chain_ids()?;
    let configs: Vec<PathBuf> = if args.relayers > 1 {
        (1..=args.relayers)
            .map(|i| dir.join("devnet").join(format!("relayer-{i}.toml")))
            .collect()
    } else {
        vec![devnet.relayer_config.clone()]
    };
    let mut relayers = Vec::new();
    for (i, c) in configs.iter().enumerate() {
        relayers.push(spawn_relayer(c, &dir.join(format!("relayer-{}.log", i + 1))).await?);
    }
    say(format!(
        "relayers up: {}",
        relayers
            .iter()
            .map(|r| format!("pid {} api http://{}", r.pid, r.api))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    // Let the relayers settle (light clients created, first scans done) before measuring.
    tokio::time::sleep(Duration::from_millis(args.block_time_ms * 3)).await;

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
    let mut cpu_before = Vec::new();
    let mut verify_before = Vec::new();
    for r in &relayers {
        cpu_before.push(process_cpu(r.pid)?);
        verify_before.push(verification_cpu(&r.api).await?);
    }
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
    let mut last_report = Instant::now();
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
        if last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            say(format!(
                "  {} delivered, {} acknowledged of {}",
                seen.received.len(),
                seen.acknowledged.len(),
                submitted.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wall = started.elapsed();

    let mut cpu = Duration::ZERO;
    let mut verify: BTreeMap<String, f64> = BTreeMap::new();
    let mut rss: f64 = 0.0;
    for (i, r) in relayers.iter().enumerate() {
        cpu += process_cpu(r.pid)?.saturating_sub(cpu_before[i]);
        for (kind, v) in verification_cpu(&r.api).await? {
            let before = verify_before[i].get(&kind).copied().unwrap_or(0.0);
            *verify.entry(kind).or_insert(0.0) += (v - before).max(0.0);
        }
        rss = rss.max(process_peak_rss_mb(r.pid)?);
    }
    for r in &mut relayers {
        let _ = r.child.start_kill();
        let _ = r.child.wait().await;
    }

    // Latency: the dApp's submission to the block time of the destination block that
    // delivered it.
    let mut latencies = Vec::with_capacity(seen.received.len());
    let mut last_delivery_ms = started_ms;
    for (i, (c, h)) in &seen.received {
        let t = match block_times.get(&(*c, *h)) {
            Some(t) => *t,
            None => {
                let t = nodes[*c].light_block(*h).await?.header().time_ms;
                block_times.insert((*c, *h), t);
                t
            }
        };
        last_delivery_ms = last_delivery_ms.max(t);
        if let Some(s) = submitted.get(i) {
            latencies.push(t.saturating_sub(*s));
        }
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    let duplicated = crate::devnet::checks::duplicate_deliveries(&nodes)
        .await?
        .max(seen.received_twice);
    let messages = submitted.len() as u64;
    let delivered = seen.received.len() as u64;
    let per_msg_us = |secs: f64| (secs * 1e6 / messages.max(1) as f64 * 10.0).round() / 10.0;
    let verify_s =
        verify.get("header").copied().unwrap_or(0.0) + verify.get("proof").copied().unwrap_or(0.0);
    let span_ms = last_delivery_ms.saturating_sub(started_ms).max(1);
    Ok(Report {
        messages,
        chains: args.chains,
        relayers: args.relayers,
        rate_msgs_per_s: args.rate,
        block_time_ms: args.block_time_ms,
        throughput_msgs_per_s: (delivered as f64 * 1000.0 / span_ms as f64 * 10.0).round() / 10.0,
        latency_ms_p50: pct(0.50),
        latency_ms_p90: pct(0.90),
        latency_ms_p99: pct(0.99),
        latency_goal_ms: 2 * args.block_time_ms + 50,
        relayer_cpu_us_per_msg: per_msg_us(cpu.as_secs_f64()),
        relayer_verify_us_per_msg: per_msg_us(verify_s),
        relayer_path_us_per_msg: per_msg_us(verify.get("path").copied().unwrap_or(0.0)),
        cpu_over_verify: if verify_s > 0.0 {
            (cpu.as_secs_f64() / verify_s * 100.0).round() / 100.0
        } else {
            0.0
        },
        relayer_peak_rss_mb: (rss * 10.0).round() / 10.0,
        delivered,
        acknowledged: seen.acknowledged.len() as u64,
        lost: messages.saturating_sub(delivered + seen.timed_out),
        duplicated,
        wall_s: (wall.as_secs_f64() * 10.0).round() / 10.0,
    })
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

fn print_report(r: &Report, json: bool) {
    let rows = [
        ("messages", r.messages.to_string()),
        (
            "delivered / acknowledged",
            format!("{} / {}", r.delivered, r.acknowledged),
        ),
        (
            "lost / duplicated",
            format!("{} / {}", r.lost, r.duplicated),
        ),
        ("throughput", format!("{} msg/s", r.throughput_msgs_per_s)),
        (
            "latency p50 / p90 / p99",
            format!(
                "{} / {} / {} ms (goal for p50: {} ms)",
                r.latency_ms_p50, r.latency_ms_p90, r.latency_ms_p99, r.latency_goal_ms
            ),
        ),
        (
            "relayer CPU per message",
            format!(
                "{} µs (verification {} µs, {}x; path re-checks {} µs)",
                r.relayer_cpu_us_per_msg,
                r.relayer_verify_us_per_msg,
                r.cpu_over_verify,
                r.relayer_path_us_per_msg
            ),
        ),
        ("relayer peak RSS", format!("{} MB", r.relayer_peak_rss_mb)),
        ("wall", format!("{} s", r.wall_s)),
    ];
    let out: Box<dyn Fn(&str)> = if json {
        Box::new(|s| eprintln!("{s}"))
    } else {
        Box::new(|s| println!("{s}"))
    };
    for (k, v) in rows {
        out(&format!("{k:>26}  {v}"));
    }
    if json {
        println!(
            "{}",
            serde_json::to_string(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        );
    }
}
