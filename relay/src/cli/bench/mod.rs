//! `xrelay bench`: the end-to-end benchmark. Local devchains and `K` relayer processes
//! (meshed when `K > 1`), echo messages sent at a steady rate on every directed lane, and
//! the figures an operator sizes a deployment by: throughput, latency from the moment a
//! dApp submits a send to the destination block that delivers it, relayer CPU per message
//! next to the verification work the relayer must do for it, and peak memory. Every number
//! is read from the chains (events, block times) and from the relayer processes (`/proc`,
//! `/metrics`), not from the relayer's own bookkeeping.

mod drive;
mod evm;
mod figures;
mod procs;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use serde::Serialize;

use crate::devnet::up::{Devnet, UpOptions};
use drive::drive;

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
    /// Run among N EVM chains (anvil nodes with the contracts deployed, every pair linked,
    /// attested by the relayers' committee) instead of devchains; blocks of at least 1 s.
    #[arg(long, conflicts_with_all = ["chains", "validators"])]
    pub evm: Option<u32>,
}

/// The report (`--json` keys are part of the interface).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Messages accepted by the source chains' mempools.
    pub messages: u64,
    /// Chains.
    pub chains: u32,
    /// EVM chains (anvil nodes).
    pub evm_chains: u32,
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

/// The index a benchmark message carries in its payload, if it is one.
fn bench_index(m: &xrelay_light_client::Message) -> Option<u64> {
    std::str::from_utf8(&m.payload)
        .ok()?
        .strip_prefix(PAYLOAD_PREFIX)?
        .parse()
        .ok()
}

/// The relayers' configurations `xrelay devnet up` wrote: the meshed ones when there are
/// several relayers, else `relayer.toml`.
fn relayer_configs(args: &BenchArgs, devnet: &Devnet, dir: &std::path::Path) -> Vec<PathBuf> {
    if args.relayers > 1 {
        (1..=args.relayers)
            .map(|i| dir.join("devnet").join(format!("relayer-{i}.toml")))
            .collect()
    } else {
        vec![devnet.relayer_config.clone()]
    }
}

/// Runs the benchmark; exits non-zero if anything was lost or duplicated.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let (chains, evm) = match args.evm {
        Some(n) => (0, n),
        None => (args.chains, 0),
    };
    if chains + evm < 2 {
        bail!("--chains (or --evm) must be at least 2");
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
    let block_time_ms = if evm > 0 {
        args.block_time_ms.max(1_000)
    } else {
        args.block_time_ms
    };
    say(format!(
        "bench: {} {} chains, {} relayer(s), {} messages at {} msg/s, {} ms blocks, in {}",
        chains + evm,
        if evm > 0 { "EVM" } else { "dev" },
        args.relayers,
        args.messages,
        if args.rate > 0.0 {
            args.rate.to_string()
        } else {
            "max".into()
        },
        block_time_ms,
        dir.display()
    ));
    let devnet = Devnet::up(&UpOptions {
        chains,
        out: dir.join("devnet"),
        block_time_ms,
        validators: args.validators,
        faults: BTreeMap::new(),
        base_port: None,
        rotate_every: None,
        relayers: if args.relayers > 1 { args.relayers } else { 0 },
        evm,
    })
    .await?;
    let result = if evm > 0 {
        evm::drive(&args, &devnet, &dir, &say).await
    } else {
        drive(&args, &devnet, &dir, &say).await
    };
    devnet.stop().await;
    let report = result?;
    print_report(&report, args.json);
    if report.lost > 0 || report.duplicated > 0 {
        bail!("the benchmark found lost or duplicated messages");
    }
    Ok(())
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
