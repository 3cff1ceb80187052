//! The report's figures, from what a run saw on the chains (submissions, deliveries,
//! settlements) and what the relayer processes spent; the same for every chain family.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::procs::Cost;
use super::{BenchArgs, Report};

/// What a run saw on the chains.
pub(super) struct Outcome {
    /// Devchains and EVM chains in the run.
    pub(super) chains: (u32, u32),
    /// Block interval of the chains.
    pub(super) block_time_ms: u64,
    /// Submission time of each message (ms since the epoch), by index.
    pub(super) submitted: HashMap<u64, u64>,
    /// When each delivered message's delivery became a block (ms since the epoch), by index.
    pub(super) delivered_at: HashMap<u64, u64>,
    /// Messages acknowledged back on their source.
    pub(super) acknowledged: u64,
    /// Messages timed out on their source.
    pub(super) timed_out: u64,
    /// Deliveries beyond the first of any message.
    pub(super) duplicated: u64,
    /// When the first submission started (ms since the epoch).
    pub(super) started_ms: u64,
    /// First submission to the last settlement seen.
    pub(super) wall: Duration,
}

/// The report of a run.
pub(super) fn report(args: &BenchArgs, o: &Outcome, cost: &Cost) -> Report {
    let mut latencies: Vec<u64> = o
        .delivered_at
        .iter()
        .filter_map(|(i, t)| o.submitted.get(i).map(|s| t.saturating_sub(*s)))
        .collect();
    latencies.sort_unstable();
    let pct = |p: f64| crate::cli::percentile(&latencies, p);
    let last_delivery_ms = o
        .delivered_at
        .values()
        .copied()
        .max()
        .unwrap_or(o.started_ms);
    let messages = o.submitted.len() as u64;
    let delivered = o.delivered_at.len() as u64;
    let per_msg_us = |secs: f64| (secs * 1e6 / messages.max(1) as f64 * 10.0).round() / 10.0;
    let verify = |kind: &str| cost.verify.get(kind).copied().unwrap_or(0.0);
    let verify_s = verify("header") + verify("proof");
    let span_ms = last_delivery_ms.saturating_sub(o.started_ms).max(1);
    Report {
        messages,
        chains: o.chains.0,
        evm_chains: o.chains.1,
        relayers: args.relayers,
        rate_msgs_per_s: args.rate,
        block_time_ms: o.block_time_ms,
        throughput_msgs_per_s: (delivered as f64 * 1000.0 / span_ms as f64 * 10.0).round() / 10.0,
        latency_ms_p50: pct(0.50),
        latency_ms_p90: pct(0.90),
        latency_ms_p99: pct(0.99),
        latency_goal_ms: 2 * o.block_time_ms + 50,
        relayer_cpu_us_per_msg: per_msg_us(cost.cpu.as_secs_f64()),
        relayer_verify_us_per_msg: per_msg_us(verify_s),
        relayer_path_us_per_msg: per_msg_us(verify("path")),
        cpu_over_verify: if verify_s > 0.0 {
            (cost.cpu.as_secs_f64() / verify_s * 100.0).round() / 100.0
        } else {
            0.0
        },
        relayer_peak_rss_mb: (cost.peak_rss_mb * 10.0).round() / 10.0,
        delivered,
        acknowledged: o.acknowledged,
        lost: messages.saturating_sub(delivered + o.timed_out),
        duplicated: o.duplicated,
        wall_s: (o.wall.as_secs_f64() * 10.0).round() / 10.0,
    }
}

/// Says how far a run got, at most every five seconds while it waits.
pub(super) struct Progress {
    last: Instant,
}

impl Progress {
    /// Starts counting from now.
    pub(super) fn new() -> Progress {
        Progress {
            last: Instant::now(),
        }
    }

    /// Says the counts if five seconds passed since the last time.
    pub(super) fn tick(&mut self, say: &dyn Fn(String), delivered: usize, acked: usize, of: u64) {
        if self.last.elapsed() > Duration::from_secs(5) {
            self.last = Instant::now();
            say(format!(
                "  {delivered} delivered, {acked} acknowledged of {of}"
            ));
        }
    }
}
