//! The one summary both demos end in: what crossed, tallied from the relayer's records,
//! with what the chains said about duplicates and supply; printed as a table (and JSON),
//! and the verdict that fails the run.

use serde::Serialize;
use xrelay_light_client::ChainId;

use crate::store::Status;

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

/// The summary of the messages in `sent` from the relayer's records, with what the chains
/// said about duplicates and supply.
pub(super) fn tally(
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
    let pct = |p: f64| crate::cli::percentile(&latencies, p);
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

/// Prints `summary` and fails unless nothing was lost or duplicated and supply held: the
/// end of every demo run, so both runs judge by the same rule.
pub(super) fn conclude(summary: &Summary, json: bool) -> anyhow::Result<()> {
    print_summary(summary, json);
    if summary.lost > 0 || summary.duplicated > 0 || !summary.supply_conserved {
        anyhow::bail!("the demo found lost or duplicated messages, or supply not conserved");
    }
    Ok(())
}
