//! The harness of the end-to-end tests: a devnet (`xrelay devnet up`) and relayers
//! (`xrelay start`) as real child processes on loopback, killed when dropped; senders of
//! signed messages; checks read from the chains themselves.
//!
//! The `xrelay` binary is the one `cargo test --workspace` builds next to the test
//! executables (set `XRELAY_BIN` to use another).

pub mod chaos;
pub mod evm;
pub mod hostile;
pub mod mesh_replay;
pub mod proxy;
pub mod rpc_tamper;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xrelay::devnet::user_key;
use xrelay_devchain::node::client::NodeClient;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_devchain::Event;
use xrelay_light_client::{ChainId, Encode, SigningKey, Timeout};
use xrelay_protocol::TransferPacket;

/// Longest wait for anything in these tests.
pub const WAIT: Duration = Duration::from_secs(90);

/// The `xrelay` binary.
pub fn xrelay_bin() -> PathBuf {
    if let Ok(p) = std::env::var("XRELAY_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/xrelay
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("xrelay"))
        .expect("target directory");
    assert!(bin.is_file(), "{} is missing: build it with `cargo build --release -p xrelay` (or run the workspace tests)", bin.display());
    bin
}

/// Runs `xrelay ARGS --json --dir DIR` (a demo or a benchmark) to the end, fails the test
/// unless it succeeded, and returns the JSON object its last stdout line holds.
pub fn run_json(args: &[&str], dir: &Path) -> serde_json::Value {
    let out = Command::new(xrelay_bin())
        .args(args)
        .args(["--json", "--dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("xrelay runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "xrelay {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().expect("a JSON line");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("the last line is not JSON ({e}): {last}"))
}

/// A child process killed (SIGKILL) when dropped.
pub struct Proc {
    /// The child.
    pub child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Stops it with SIGTERM and waits (SIGKILL after 15 s).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return self.child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill_nine(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGSTOP / SIGCONT.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig)
            .expect("signal");
    }
}

/// A running devnet.
pub struct Devnet {
    /// `xrelay devnet up`.
    pub proc: Proc,
    /// Its directory.
    pub dir: PathBuf,
    /// Chain ids.
    pub ids: Vec<ChainId>,
    /// RPC clients, by chain index.
    pub nodes: Vec<NodeClient>,
    /// Node process ids.
    pub pids: Vec<u32>,
}

impl Devnet {
    /// `xrelay devnet up --chains N --out DIR --block-time-ms MS` plus `extra`.
    pub fn up(dir: &Path, chains: u32, block_ms: u64, extra: &[&str]) -> Devnet {
        let mut child = Command::new(xrelay_bin())
            .args([
                "devnet",
                "up",
                "--chains",
                &chains.to_string(),
                "--block-time-ms",
                &block_ms.to_string(),
                "--out",
            ])
            .arg(dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("xrelay devnet up starts");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let proc = Proc { child };
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.starts_with("ready"));
        assert!(ready, "devnet up did not get ready");
        // Keep draining its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("devnet.json")).expect("devnet.json"))
                .expect("json");
        let chains = v["chains"].as_array().expect("chains");
        Devnet {
            proc,
            dir: dir.to_path_buf(),
            ids: chains
                .iter()
                .map(|c| c["chain_id"].as_str().unwrap().parse().unwrap())
                .collect(),
            nodes: chains
                .iter()
                .map(|c| {
                    NodeClient::new(c["rpc"].as_str().unwrap(), Duration::from_secs(30)).unwrap()
                })
                .collect(),
            pids: chains
                .iter()
                .map(|c| c["pid"].as_u64().unwrap() as u32)
                .collect(),
        }
    }

    /// The relayer config it wrote.
    pub fn relayer_config(&self) -> PathBuf {
        self.dir.join("relayer.toml")
    }

    /// Index of a chain id.
    pub fn index(&self, id: &ChainId) -> usize {
        self.ids.iter().position(|c| c == id).expect("known chain")
    }
}

/// A relayer process (`xrelay start`).
pub struct Relayer {
    /// The process.
    pub proc: Proc,
    /// Its API address.
    pub api: String,
}

impl Relayer {
    /// Starts `xrelay start --config CONFIG` with `env` overrides; the API on a free port.
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Relayer {
        let mut cmd = Command::new(xrelay_bin());
        cmd.args(["start", "--config"])
            .arg(config)
            .env(
                "RUST_LOG",
                std::env::var("XRELAY_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env("XRELAY_API__LISTEN", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("xrelay start");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("relayer prints its address");
        let proc = Proc { child };
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("relayer said {line:?}: {e}"));
        Relayer {
            proc,
            api: v["api"].as_str().expect("api").to_string(),
        }
    }

    /// GET `path` on the API: (status code, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.api, path)
    }

    /// The value of one metric sample (`name{labels}` exactly as rendered), 0 if absent.
    pub fn metric(&self, sample: &str) -> f64 {
        let (_, body) = self.get("/metrics");
        body.lines()
            .find_map(|l| {
                l.strip_prefix(sample)
                    .and_then(|rest| rest.strip_prefix(' '))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0.0)
    }

    /// Sum of every sample of a metric family whose labels contain all of `labels`.
    pub fn metric_sum(&self, name: &str, labels: &[&str]) -> f64 {
        let (_, body) = self.get("/metrics");
        body.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter(|l| labels.iter().all(|x| l.contains(x)))
            .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
            .sum()
    }
}

/// A plain HTTP/1.0 GET on loopback.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    http_request(addr, "GET", path, None, "")
}

/// An HTTP/1.0 request on loopback with an optional bearer token and a text body:
/// (status code, body).
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the relayer api");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response");
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// Signs and sends actions, tracking each account's nonce.
#[derive(Default)]
pub struct Sender {
    nonces: HashMap<(ChainId, [u8; 20]), u64>,
}

/// A message the test sent, by lane and sequence.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sent {
    /// Source.
    pub src: ChainId,
    /// Destination.
    pub dst: ChainId,
    /// Sequence.
    pub seq: u64,
}

impl Sender {
    async fn next_nonce(&mut self, node: &NodeClient, chain: &ChainId, key: &SigningKey) -> u64 {
        let addr = key.address();
        let slot = match self.nonces.entry((chain.clone(), addr.0)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(node.nonce(&addr).await.expect("nonce"))
            }
        };
        *slot += 1;
        *slot - 1
    }

    /// Sends `action` from `key` on `chain` and waits for its block; returns the message.
    pub async fn send(
        &mut self,
        node: &NodeClient,
        chain: &ChainId,
        key: &SigningKey,
        action: Action,
    ) -> Sent {
        let nonce = self.next_nonce(node, chain, key).await;
        let tx = Tx::Signed(Box::new(SignedAction::sign(chain, key, nonce, action)));
        let included = node
            .submit(&tx, Duration::from_secs(30))
            .await
            .expect("send accepted");
        let report = included.outcome.expect("send succeeded");
        match &report.events[..] {
            [Event::MessageSent { message }, ..] => Sent {
                src: chain.clone(),
                dst: message.destination.clone(),
                seq: message.sequence,
            },
            other => panic!("no MessageSent: {other:?}"),
        }
    }

    /// Broadcasts `action` without waiting (nonces stay in order per account).
    pub async fn broadcast(
        &mut self,
        node: &NodeClient,
        chain: &ChainId,
        key: &SigningKey,
        action: Action,
    ) {
        let nonce = self.next_nonce(node, chain, key).await;
        let tx = Tx::Signed(Box::new(SignedAction::sign(chain, key, nonce, action)));
        node.broadcast(&tx).await.expect("broadcast accepted");
    }
}

/// An echo message to `dst` that never times out.
pub fn echo(dst: &ChainId, payload: &[u8]) -> Action {
    Action::Send {
        destination: dst.clone(),
        app: "echo".into(),
        payload: payload.to_vec(),
        timeout: Timeout {
            height: 0,
            time_ms: u64::MAX / 2,
        },
    }
}

/// A transfer of `amount` of `denom` from `from` to `to` on `dst`.
pub fn transfer(
    dst: &ChainId,
    denom: &str,
    amount: u128,
    from: &SigningKey,
    to: &SigningKey,
    timeout: Timeout,
) -> Action {
    let payload = TransferPacket {
        denom: denom.into(),
        amount,
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

/// A funded development account.
pub fn user(i: u32) -> SigningKey {
    user_key(i)
}

/// Where a message stands on its source: `pending`, `acknowledged`, `timed_out`, …
pub async fn source_status(node: &NodeClient, m: &Sent) -> String {
    let v: serde_json::Value = node
        .call(
            "message_status",
            serde_json::json!({"source": m.src, "destination": m.dst, "sequence": m.seq}),
        )
        .await
        .expect("message_status");
    match &v["status"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(o) => o
            .get("settled")
            .and_then(|s| s.as_str())
            .unwrap_or("?")
            .to_ascii_lowercase(),
        other => other.to_string(),
    }
}

/// Waits until every message is settled on its source; returns their final statuses.
pub async fn wait_settled(net: &Devnet, sent: &[Sent], wait: Duration) -> HashMap<Sent, String> {
    let deadline = Instant::now() + wait;
    let mut done = HashMap::new();
    loop {
        for m in sent {
            if done.contains_key(m) {
                continue;
            }
            let s = source_status(&net.nodes[net.index(&m.src)], m).await;
            if s != "pending" && s != "unknown" {
                done.insert(m.clone(), s);
            }
        }
        if done.len() == sent.len() {
            return done;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} messages settled within {wait:?}",
            done.len(),
            sent.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Deliveries and settlements that happened more than once, from every chain's events.
pub async fn duplicates(net: &Devnet) -> u64 {
    xrelay::devnet::checks::duplicate_deliveries(&net.nodes)
        .await
        .expect("events")
}

/// Every chain's coin: genesis supply on its own chain, escrow for each other chain equal
/// to the vouchers there.
pub async fn supply_conserved(net: &Devnet) -> bool {
    xrelay::devnet::checks::supply_conserved(&net.nodes, &net.ids)
        .await
        .expect("supply")
}

/// A balance.
pub async fn balance(node: &NodeClient, denom: &str, who: &SigningKey) -> u128 {
    let v: serde_json::Value = node
        .call(
            "balance",
            serde_json::json!({"account": who.address(), "denom": denom}),
        )
        .await
        .expect("balance");
    v["amount"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("amount")
}
