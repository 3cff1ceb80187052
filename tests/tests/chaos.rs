//! The chaos run (see `xrelay_tests::chaos` and RELIABILITY.md): 10,000 messages across
//! three chains while relayers and chain nodes are killed with SIGKILL at random moments
//! and RPC connections are cut or refused; at the end nothing is lost, nothing arrived
//! or settled twice, and token supply is conserved.
//!
//! `XRELAY_CHAOS_SEED=N` replays a schedule; `XRELAY_CHAOS_MESSAGES` and
//! `XRELAY_CHAOS_SECONDS` shrink or stretch the run.

use xrelay_tests::chaos::{run, ChaosConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_and_dropped_connections_lose_and_duplicate_nothing() {
    let cfg = ChaosConfig::from_env();
    let dir = tempfile::Builder::new()
        .prefix("xrelay-chaos-")
        .tempdir()
        .unwrap();
    let report = match run(&cfg, dir.path()).await {
        Ok(report) => report,
        Err(e) => panic!("seed {}: {e:#}; logs in {}", cfg.seed, dir.keep().display()),
    };
    eprintln!("{report}");
    if !report.passed() || std::env::var_os("XRELAY_CHAOS_KEEP").is_some() {
        let kept = dir.keep();
        eprintln!("chaos: logs and data kept in {}", kept.display());
    }
    assert!(report.passed(), "seed {}: {report}", cfg.seed);
    let kills = report.faults.relayer_kills + report.faults.node_kills;
    assert!(kills >= 20, "only {kills} kills");
}
