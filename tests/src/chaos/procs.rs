//! Starting, killing and restarting the chaos run's processes: devchain nodes
//! (`xrelay devnet node` on the data directory `devnet up` created) and relayers
//! (`xrelay start`), each logging to a file that survives its restarts.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};

use crate::{xrelay_bin, Proc};

/// Reads the child's first stdout line within `wait`, then keeps draining its stdout on a
/// thread so that it never blocks (or dies of a broken pipe) printing more.
fn first_line(child: &mut Child, wait: Duration) -> Option<String> {
    let stdout = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    rx.recv_timeout(wait).ok()
}

/// Opens `log` for appending and writes a marker line, so one file tells a process's
/// whole life across restarts.
fn log_file(log: &Path, marker: &str) -> anyhow::Result<std::fs::File> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("{}", log.display()))?;
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    writeln!(
        f,
        "===== chaos: {marker} at unix time {}.{:03} =====",
        at.as_secs(),
        at.subsec_millis()
    )?;
    Ok(f)
}

/// How to (re)start one chain's node: the flags `devnet up` gave it.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// Chain id.
    pub chain_id: String,
    /// Its RocksDB directory (created by `devnet up`).
    pub data_dir: PathBuf,
    /// Its log (the one `devnet up` opened; restarts append).
    pub log: PathBuf,
    /// Validators.
    pub validators: u32,
    /// Block time.
    pub block_time_ms: u64,
}

impl NodeSpec {
    /// Starts the node on a free port; returns it and its RPC address. The data directory
    /// may still be locked for a moment by a killed predecessor: a start that fails is
    /// retried a few times.
    pub fn start(&self) -> anyhow::Result<(Proc, SocketAddr)> {
        let mut last = anyhow!("not started");
        for attempt in 0..10 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(300));
            }
            let log = log_file(&self.log, &format!("restart (attempt {})", attempt + 1))?;
            let mut child = Command::new(xrelay_bin())
                .args(["devnet", "node", "--chain-id", &self.chain_id])
                .args(["--validators", &self.validators.to_string()])
                .args(["--block-time-ms", &self.block_time_ms.to_string()])
                .args(["--rpc", "127.0.0.1:0", "--data-dir"])
                .arg(&self.data_dir)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::from(log))
                .spawn()
                .context("spawning xrelay devnet node")?;
            let line = first_line(&mut child, Duration::from_secs(30));
            let proc = Proc { child };
            let addr = line
                .as_deref()
                .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .and_then(|v| v["rpc"].as_str().and_then(|a| a.parse().ok()));
            match addr {
                Some(addr) => return Ok((proc, addr)),
                None => {
                    last = anyhow!(
                        "{} did not start (said {line:?}); see {}",
                        self.chain_id,
                        self.log.display()
                    )
                }
            }
        }
        Err(last)
    }
}

/// How to (re)start one relayer.
#[derive(Debug, Clone)]
pub struct RelayerSpec {
    /// `relayer-i.toml` from `devnet up --relayers K`.
    pub config: PathBuf,
    /// `XRELAY_…` overrides (the chains' RPC endpoints point at the proxies).
    pub env: Vec<(String, String)>,
    /// Its log (stderr), appended across restarts.
    pub log: PathBuf,
}

impl RelayerSpec {
    /// Starts `xrelay start`; returns it and its API address once it listens. A relayer
    /// that cannot reach a chain at start exits; the caller retries.
    pub fn start(&self) -> anyhow::Result<(Proc, String)> {
        let log = log_file(&self.log, "start")?;
        let mut cmd = Command::new(xrelay_bin());
        cmd.args(["start", "--config"])
            .arg(&self.config)
            .env(
                "RUST_LOG",
                std::env::var("XRELAY_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env("XRELAY_API__LISTEN", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("spawning xrelay start")?;
        let line = first_line(&mut child, Duration::from_secs(30));
        let proc = Proc { child };
        let api = line
            .as_deref()
            .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .and_then(|v| v["api"].as_str().map(str::to_string));
        match api {
            Some(api) => Ok((proc, api)),
            None => bail!(
                "{} did not start; see {}",
                self.config.display(),
                self.log.display()
            ),
        }
    }
}

/// SIGKILL to a process that is not our child (a node `devnet up` started), then waits
/// until it is gone or a zombie: either way it holds no port and no lock any more.
pub fn kill_nine_pid(pid: u32) {
    let pid_t = nix::unistd::Pid::from_raw(pid as i32);
    let _ = nix::sys::signal::kill(pid_t, nix::sys::signal::Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state is the first field after the parenthesised command name.
            Ok(stat) => {
                let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
                if state.is_some_and(|s| s.starts_with('Z') || s.starts_with('X')) {
                    return;
                }
            }
            Err(_) => return,
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
