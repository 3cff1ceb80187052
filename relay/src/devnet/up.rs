//! `xrelay devnet up`: N devchain nodes as child processes on loopback, each with its own
//! data directory, log file and port; on every chain a client of every other chain (created
//! by the development governance key); `DIR/relayer.toml` for `xrelay start`, and
//! `DIR/devnet.json` with the endpoints for scripts. With `evm > 0`, as many anvil chains
//! (`evm-1` …, `devnet::evm::EvmTopology`) linked with every devchain and with each other.
//! Children stop with SIGTERM when the devnet stops, and die with it if it is killed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use xrelay_devchain::node::client::NodeClient;
use xrelay_devchain::node::fault::Fault;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_light_client::{ChainId, TrustOptions, TrustedState};

use super::evm::{EvmOptions, EvmTopology};
use super::governance_key;

/// What `devnet up` starts.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Number of chains (ids `chain-1` … `chain-N`).
    pub chains: u32,
    /// Where data directories, logs and configs go.
    pub out: PathBuf,
    /// Time between blocks on every chain.
    pub block_time_ms: u64,
    /// Validators per chain.
    pub validators: u32,
    /// Replace one validator every this many heights on every chain.
    pub rotate_every: Option<u64>,
    /// Meshed relayer configs to write (`relayer-1.toml` … `relayer-K.toml`), 0 for none.
    pub relayers: u32,
    /// Faults by chain id.
    pub faults: BTreeMap<String, Fault>,
    /// EVM chains (anvil nodes, `evm-1` … `evm-N`) linked with every devchain and with each
    /// other; attested by the relayers' committee (a majority of the meshed relayers, or the
    /// one relayer of `relayer.toml` when `relayers` is 0).
    pub evm: u32,
    /// First RPC port (`chain-i` gets `base_port + i - 1`); `None` picks free ports.
    pub base_port: Option<u16>,
}

/// One running chain of the devnet.
#[derive(Debug, Clone, Serialize)]
pub struct ChainEndpoint {
    /// Its id.
    pub chain_id: String,
    /// JSON-RPC over HTTP.
    pub rpc: String,
    /// The same port over WebSocket (block subscriptions).
    pub ws: String,
    /// RocksDB directory.
    pub data_dir: PathBuf,
    /// The node's log.
    pub log: PathBuf,
    /// Process id.
    pub pid: u32,
    /// The fault it runs with, if any.
    pub fault: Option<String>,
}

/// A devnet that is running.
pub struct Devnet {
    /// The chains.
    pub chains: Vec<ChainEndpoint>,
    /// `DIR/relayer.toml`.
    pub relayer_config: PathBuf,
    /// The EVM chains, when `evm > 0` (their nodes stop when this is dropped).
    pub evm: Option<EvmTopology>,
    children: Vec<Child>,
}

/// The id of the `i`-th chain (1-based).
pub fn chain_name(i: u32) -> String {
    format!("chain-{i}")
}

/// Parses `CHAIN_ID=MODE`.
pub fn parse_fault(s: &str) -> Result<(String, Fault), String> {
    let (chain, mode) = s
        .split_once('=')
        .ok_or_else(|| format!("expected CHAIN_ID=MODE, got {s:?}"))?;
    ChainId::new(chain).map_err(|e| format!("{chain:?}: {e}"))?;
    let fault = mode.parse().map_err(|e| format!("{e}"))?;
    Ok((chain.to_string(), fault))
}

impl Devnet {
    /// Starts every node, waits for their first block, creates the clients and writes the
    /// configs.
    pub async fn up(opts: &UpOptions) -> anyhow::Result<Devnet> {
        if opts.chains + opts.evm < 2 {
            bail!("a devnet relays between at least 2 chains (--chains plus --evm)");
        }
        for chain in opts.faults.keys() {
            if !(1..=opts.chains).any(|i| chain_name(i) == *chain) {
                bail!(
                    "--fault names {chain}, which is not one of chain-1 … chain-{}",
                    opts.chains
                );
            }
        }
        std::fs::create_dir_all(&opts.out).with_context(|| format!("{}", opts.out.display()))?;
        let exe = std::env::current_exe().context("locating the xrelay binary")?;
        let mut devnet = Devnet {
            chains: Vec::new(),
            relayer_config: opts.out.join("relayer.toml"),
            evm: None,
            children: Vec::new(),
        };
        for i in 1..=opts.chains {
            let (endpoint, child) = spawn_node(&exe, opts, i).await?;
            devnet.chains.push(endpoint);
            devnet.children.push(child);
        }
        let clients = devnet
            .chains
            .iter()
            .map(|c| NodeClient::new(&c.rpc, Duration::from_secs(30)))
            .collect::<Result<Vec<_>, _>>()?;
        for (c, e) in clients.iter().zip(&devnet.chains) {
            c.wait_height(1, Duration::from_secs(30))
                .await
                .with_context(|| {
                    format!("{} produced no block; see {}", e.chain_id, e.log.display())
                })?;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for host in 0..clients.len() {
            let others: Vec<NodeClient> = (0..clients.len())
                .filter(|&o| o != host)
                .map(|o| clients[o].clone())
                .collect();
            let host = clients[host].clone();
            tasks.spawn(async move { create_clients(&host, &others).await });
        }
        while let Some(done) = tasks.join_next().await {
            done.context("client creation task")??;
        }
        write_configs(&devnet, opts)?;
        if opts.evm > 0 {
            let topology = add_evm_chains(opts, &clients).await?;
            record_evm_chains(&opts.out.join("devnet.json"), &topology)?;
            devnet.evm = Some(topology);
        }
        Ok(devnet)
    }

    /// An RPC client of every chain, in chain order.
    pub fn node_clients(&self) -> anyhow::Result<Vec<NodeClient>> {
        Ok(self
            .chains
            .iter()
            .map(|c| NodeClient::new(&c.rpc, Duration::from_secs(30)))
            .collect::<Result<_, _>>()?)
    }

    /// The chain ids, in chain order.
    pub fn chain_ids(&self) -> anyhow::Result<Vec<ChainId>> {
        Ok(self
            .chains
            .iter()
            .map(|c| c.chain_id.parse())
            .collect::<Result<_, _>>()?)
    }

    /// Stops every node with SIGTERM, waiting up to 10 s each before SIGKILL.
    pub async fn stop(mut self) {
        for child in &self.children {
            if let Some(pid) = child.id() {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
            }
        }
        for child in &mut self.children {
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

async fn spawn_node(
    exe: &Path,
    opts: &UpOptions,
    i: u32,
) -> anyhow::Result<(ChainEndpoint, Child)> {
    let chain_id = chain_name(i);
    let dir = opts.out.join(&chain_id);
    let data_dir = dir.join("data");
    std::fs::create_dir_all(&data_dir).with_context(|| format!("{}", data_dir.display()))?;
    let log = dir.join("node.log");
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("{}", log.display()))?;
    let port = opts.base_port.map_or(0, |p| p + (i - 1) as u16);
    let fault = opts.faults.get(&chain_id).copied();
    let mut cmd = Command::new(exe);
    cmd.args(["devnet", "node", "--chain-id", &chain_id])
        .args(["--validators", &opts.validators.to_string()])
        .args(["--block-time-ms", &opts.block_time_ms.to_string()])
        .args(["--rpc", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--exit-with-parent")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true);
    if let Some(f) = fault {
        cmd.args(["--fault", &f.to_string()]);
    }
    if let Some(n) = opts.rotate_every {
        cmd.args(["--rotate-every", &n.to_string()]);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("child stdout"))?;
    let mut line = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await;
    let addr = match read {
        Ok(Ok(n)) if n > 0 => serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["rpc"].as_str().map(str::to_string)),
        _ => None,
    }
    .ok_or_else(|| anyhow!("{chain_id} did not start; see {}", log.display()))?;
    let endpoint = ChainEndpoint {
        rpc: format!("http://{addr}"),
        ws: format!("ws://{addr}"),
        chain_id,
        data_dir,
        log,
        pid: child.id().unwrap_or(0),
        fault: fault.map(|f| f.to_string()),
    };
    Ok((endpoint, child))
}

/// Governance on `host` creates a client of each chain in `others` that it does not have
/// yet, trusting that chain's current canonical tip.
async fn create_clients(host: &NodeClient, others: &[NodeClient]) -> anyhow::Result<()> {
    let status = host.status().await?;
    let gov = governance_key();
    let mut nonce = host.nonce(&gov.address()).await?;
    for other in others {
        let of = other.status().await?;
        if host.client_state(&of.chain_id).await?.is_some() {
            continue; // restarted devnet: the client is already there
        }
        let block = other.canonical_light_block(of.latest_height).await?;
        let trusted =
            TrustedState::from_light_block(&block).map_err(|e| anyhow!("{}: {e}", of.chain_id))?;
        let tx = Tx::Signed(Box::new(SignedAction::sign(
            &status.chain_id,
            &gov,
            nonce,
            Action::CreateClient {
                trusted,
                options: TrustOptions::default(),
            },
        )));
        let included = host
            .submit(&tx, Duration::from_secs(30))
            .await
            .with_context(|| {
                format!(
                    "creating the client of {} on {}",
                    of.chain_id, status.chain_id
                )
            })?;
        if let Err(why) = included.outcome {
            bail!(
                "creating the client of {} on {}: {why}",
                of.chain_id,
                status.chain_id
            );
        }
        nonce += 1;
    }
    Ok(())
}

/// Writes `relayer.toml` (what `xrelay start` reads), `relayer-1.toml` … `relayer-K.toml`
/// (meshed relayers with their identity keys) and `devnet.json` (endpoints).
fn write_configs(devnet: &Devnet, opts: &UpOptions) -> anyhow::Result<()> {
    let base = |data_dir: &Path| -> anyhow::Result<toml::Table> {
        let mut root = toml::Table::new();
        let mut relayer = toml::Table::new();
        relayer.insert("data_dir".into(), path_value(data_dir)?);
        root.insert("relayer".into(), relayer.into());
        let chains: Vec<toml::Value> = devnet
            .chains
            .iter()
            .map(|c| {
                let mut t = toml::Table::new();
                t.insert("id".into(), c.chain_id.clone().into());
                t.insert("kind".into(), "devchain".into());
                t.insert("rpc".into(), vec![toml::Value::from(c.rpc.clone())].into());
                t.insert("block_time_ms".into(), (opts.block_time_ms as i64).into());
                t.into()
            })
            .collect();
        root.insert("chains".into(), chains.into());
        let mut links = Vec::new();
        for (i, a) in devnet.chains.iter().enumerate() {
            for b in &devnet.chains[i + 1..] {
                let mut t = toml::Table::new();
                t.insert(
                    "chains".into(),
                    vec![
                        toml::Value::from(a.chain_id.clone()),
                        toml::Value::from(b.chain_id.clone()),
                    ]
                    .into(),
                );
                links.push(toml::Value::from(t));
            }
        }
        root.insert("links".into(), links.into());
        Ok(root)
    };
    let write = |path: &Path, root: &toml::Table| -> anyhow::Result<()> {
        let text = format!(
            "# Written by `xrelay devnet up`. Run the relayer with:\n#   xrelay start --config {}\n\n{}",
            path.display(),
            toml::to_string_pretty(root).context("rendering the relayer config")?
        );
        std::fs::write(path, text).with_context(|| format!("{}", path.display()))
    };
    write(&devnet.relayer_config, &base(&opts.out.join("relayer"))?)?;

    // Meshed relayers: identity keys, free ports, every one allowed and dialing the others.
    let mut members = Vec::new();
    for i in 1..=opts.relayers {
        let key_path = opts.out.join(format!("relayer-{i}")).join("identity.key");
        let key = crate::mesh::load_or_create_identity(&key_path)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        members.push((i, key.public().to_peer_id(), port, key_path));
    }
    let mut relayer_configs = Vec::new();
    for (i, _, port, key_path) in &members {
        let mut root = base(&opts.out.join(format!("relayer-{i}")))?;
        let mut api = toml::Table::new();
        api.insert("listen".into(), "127.0.0.1:0".into());
        root.insert("api".into(), api.into());
        let mut mesh = toml::Table::new();
        mesh.insert("enabled".into(), true.into());
        mesh.insert("listen".into(), format!("/ip4/127.0.0.1/tcp/{port}").into());
        mesh.insert("identity_key".into(), path_value(key_path)?);
        let peers: Vec<toml::Value> = members
            .iter()
            .filter(|(j, ..)| j != i)
            .map(|(_, peer, port, _)| {
                toml::Value::from(format!("/ip4/127.0.0.1/tcp/{port}/p2p/{peer}"))
            })
            .collect();
        mesh.insert("peers".into(), peers.into());
        let allowed: Vec<toml::Value> = members
            .iter()
            .map(|(_, peer, ..)| toml::Value::from(peer.to_string()))
            .collect();
        mesh.insert("allowed".into(), allowed.into());
        root.insert("mesh".into(), mesh.into());
        let path = opts.out.join(format!("relayer-{i}.toml"));
        write(&path, &root)?;
        relayer_configs.push(path);
    }
    let json = serde_json::json!({
        "chains": devnet.chains,
        "relayer_config": devnet.relayer_config,
        "relayers": members
            .iter()
            .zip(&relayer_configs)
            .map(|((_, peer, port, _), path)| serde_json::json!({"config": path, "peer_id": peer.to_string(), "mesh_port": port}))
            .collect::<Vec<_>>(),
    });
    let path = opts.out.join("devnet.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&json)?)
        .with_context(|| format!("{}", path.display()))?;
    Ok(())
}

/// Starts the EVM chains and links them with every devchain and each other, in the relayer
/// configurations that relay them: the meshed ones when there are any (a majority of them
/// attests each block), else `relayer.toml` (its relayer attests alone).
async fn add_evm_chains(opts: &UpOptions, devchains: &[NodeClient]) -> anyhow::Result<EvmTopology> {
    let (configs, quorum) = if opts.relayers == 0 {
        (vec![opts.out.join("relayer.toml")], None)
    } else {
        (
            (1..=opts.relayers)
                .map(|i| opts.out.join(format!("relayer-{i}.toml")))
                .collect::<Vec<_>>(),
            Some(opts.relayers as usize / 2 + 1),
        )
    };
    let configs: Vec<&Path> = configs.iter().map(PathBuf::as_path).collect();
    let partners: Vec<&NodeClient> = devchains.iter().collect();
    EvmTopology::up(
        &opts.out,
        &configs,
        &partners,
        &EvmOptions {
            count: opts.evm as usize,
            block_time_s: (opts.block_time_ms / 1_000).max(1),
            quorum,
        },
    )
    .await
}

/// Adds the EVM chains (id, RPC, EIP-155 chain id, contracts) to `devnet.json`.
fn record_evm_chains(path: &Path, topology: &EvmTopology) -> anyhow::Result<()> {
    let text = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    let mut json: serde_json::Value = serde_json::from_slice(&text)?;
    json["evm"] = topology
        .chains
        .iter()
        .map(|c| {
            serde_json::json!({
                "chain_id": c.chain.to_string(),
                "rpc": c.anvil.url(),
                "eip155_chain_id": c.anvil.chain_id(),
                "gateway": c.deployment.gateway.to_string(),
                "light_client": c.deployment.light_client.to_string(),
                "evm_light_client": c.deployment.evm_light_client.to_string(),
            })
        })
        .collect();
    json["committee"] = serde_json::json!({
        "attesters": topology
            .committee
            .attesters()
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>(),
        "quorum": topology.committee.quorum(),
    });
    std::fs::write(path, serde_json::to_vec_pretty(&json)?)
        .with_context(|| format!("{}", path.display()))
}

fn path_value(p: &Path) -> anyhow::Result<toml::Value> {
    p.to_str()
        .map(|s| toml::Value::from(s.to_string()))
        .ok_or_else(|| anyhow!("{} is not valid UTF-8", p.display()))
}
