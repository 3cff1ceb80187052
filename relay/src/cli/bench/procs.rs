//! The relayer processes a benchmark runs and what it reads of them: CPU time and peak
//! memory from `/proc`, verification CPU from their `/metrics`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio::io::AsyncBufReadExt as _;

/// A relayer child process and what it serves.
pub(super) struct RelayerProc {
    pub(super) child: tokio::process::Child,
    pub(super) pid: u32,
    pub(super) api: String,
}

pub(super) async fn spawn_relayer(config: &Path, log: &Path) -> anyhow::Result<RelayerProc> {
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
pub(super) fn process_cpu(pid: u32) -> anyhow::Result<Duration> {
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
pub(super) fn process_peak_rss_mb(pid: u32) -> anyhow::Result<f64> {
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
pub(super) async fn verification_cpu(api: &str) -> anyhow::Result<BTreeMap<String, f64>> {
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
