//! The relayer processes a benchmark runs and what it reads of them: CPU time and peak
//! memory from `/proc`, verification CPU from their `/metrics`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio::io::AsyncBufReadExt as _;

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

/// The relayer processes of a run, with what they had spent when the measurement began.
pub(super) struct Relayers {
    procs: Vec<RelayerProc>,
    cpu_before: Vec<Duration>,
    verify_before: Vec<BTreeMap<String, f64>>,
}

/// What the relayers spent between [`Relayers::mark`] and [`Relayers::finish`].
pub(super) struct Cost {
    /// User + system CPU of all relayer processes.
    pub(super) cpu: Duration,
    /// Verification CPU seconds they report, by kind (`header`, `proof`, `path`).
    pub(super) verify: BTreeMap<String, f64>,
    /// Largest peak resident set of any of them, in MiB.
    pub(super) peak_rss_mb: f64,
}

impl Relayers {
    /// Starts one relayer process per configuration (logs next to them in `dir`), says
    /// where they serve, and lets them settle (clients created, first scans done) for
    /// three blocks of `block_time_ms`.
    pub(super) async fn start(
        configs: &[PathBuf],
        dir: &Path,
        block_time_ms: u64,
        say: &dyn Fn(String),
    ) -> anyhow::Result<Relayers> {
        let mut procs = Vec::new();
        for (i, c) in configs.iter().enumerate() {
            procs.push(spawn_relayer(c, &dir.join(format!("relayer-{}.log", i + 1))).await?);
        }
        say(format!(
            "relayers up: {}",
            procs
                .iter()
                .map(|r| format!("pid {} api http://{}", r.pid, r.api))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        tokio::time::sleep(Duration::from_millis(block_time_ms * 3)).await;
        Ok(Relayers {
            procs,
            cpu_before: Vec::new(),
            verify_before: Vec::new(),
        })
    }

    /// Records what each relayer has spent so far: the measurement starts here.
    pub(super) async fn mark(&mut self) -> anyhow::Result<()> {
        self.cpu_before.clear();
        self.verify_before.clear();
        for r in &self.procs {
            self.cpu_before.push(process_cpu(r.pid)?);
            self.verify_before.push(verification_cpu(&r.api).await?);
        }
        Ok(())
    }

    /// What they spent since [`Relayers::mark`]; then stops them.
    pub(super) async fn finish(mut self) -> anyhow::Result<Cost> {
        let mut cost = Cost {
            cpu: Duration::ZERO,
            verify: BTreeMap::new(),
            peak_rss_mb: 0.0,
        };
        for (i, r) in self.procs.iter().enumerate() {
            let before = self.cpu_before.get(i).copied().unwrap_or_default();
            cost.cpu += process_cpu(r.pid)?.saturating_sub(before);
            for (kind, v) in verification_cpu(&r.api).await? {
                let before = self
                    .verify_before
                    .get(i)
                    .and_then(|b| b.get(&kind))
                    .copied()
                    .unwrap_or(0.0);
                *cost.verify.entry(kind).or_insert(0.0) += (v - before).max(0.0);
            }
            cost.peak_rss_mb = cost.peak_rss_mb.max(process_peak_rss_mb(r.pid)?);
        }
        for r in &mut self.procs {
            let _ = r.child.start_kill();
            let _ = r.child.wait().await;
        }
        Ok(cost)
    }
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
