//! `xrelay devnet …`: run devchain nodes on this machine.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use xrelay_devchain::node::fault::Fault;
use xrelay_devchain::node::run::{start, NodeOptions};

use crate::devnet::up::{parse_fault, Devnet, UpOptions};
use crate::devnet::{devnet_chain, ValidatorOptions};

/// Devnet subcommands.
#[derive(Debug, Subcommand)]
pub enum DevnetCommand {
    /// Run one devchain node in the foreground until interrupted.
    Node(NodeArgs),
    /// Run N devchains as child processes, each with a client of every other, and write the
    /// relayer config; stays in the foreground until interrupted.
    Up(UpArgs),
    /// Flood one node with signed `Send` transactions and report how many per second its
    /// blocks include.
    Load(LoadArgs),
}

/// `xrelay devnet load` flags.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The node's RPC URL.
    #[arg(long)]
    pub rpc: String,
    /// Destination chain of the messages (the node needs a client of it).
    #[arg(long)]
    pub destination: String,
    /// How many sends.
    #[arg(long, default_value_t = 20_000)]
    pub txs: u64,
    /// Accounts sending in parallel.
    #[arg(long, default_value_t = 16)]
    pub accounts: u32,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 32)]
    pub payload_bytes: usize,
    /// Print the report as one JSON line.
    #[arg(long)]
    pub json: bool,
}

/// `xrelay devnet node` flags.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The chain's id ([A-Za-z0-9._-], at most 64 characters).
    #[arg(long)]
    pub chain_id: String,
    /// How many validators sign blocks.
    #[arg(long, default_value_t = 4)]
    pub validators: u32,
    /// Time between blocks.
    #[arg(long, default_value_t = 500)]
    pub block_time_ms: u64,
    /// JSON-RPC listen address (HTTP and WebSocket); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:26657")]
    pub rpc: SocketAddr,
    /// Where the RocksDB store lives.
    #[arg(long, required_unless_present = "memory")]
    pub data_dir: Option<PathBuf>,
    /// Keep everything in memory (tests): nothing survives a restart.
    #[arg(long, conflicts_with = "data_dir")]
    pub memory: bool,
    /// Replace one validator every N heights (follow-the-rotation tests).
    #[arg(long)]
    pub rotate_every: Option<u64>,
    /// Only this many validators sign each block (threshold tests; at or below 2/3 of the
    /// power no client accepts the blocks).
    #[arg(long)]
    pub signers: Option<usize>,
    /// Seed of development validator keys (default derived from the chain id).
    #[arg(long)]
    pub validator_seed: Option<String>,
    /// File of validator secret keys, one hex key per line (instead of a seed).
    #[arg(long, conflicts_with = "validator_seed")]
    pub validator_keys: Option<PathBuf>,
    /// Misbehave on purpose, to test that others refuse it: conflicting-header[:EVERY],
    /// forged-proof, bad-signature, withhold[:PAUSE_MS[:AFTER_BLOCKS]].
    #[arg(long)]
    pub fault: Option<Fault>,
    /// Exit when the parent process dies (set by `devnet up` for its children).
    #[arg(long, hide = true)]
    pub exit_with_parent: bool,
}

/// `xrelay devnet up` flags.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// How many chains (`chain-1` … `chain-N`).
    #[arg(long, default_value_t = 2)]
    pub chains: u32,
    /// Directory for data, logs, `relayer.toml` and `devnet.json`.
    #[arg(long)]
    pub out: PathBuf,
    /// Time between blocks on every chain.
    #[arg(long, default_value_t = 500)]
    pub block_time_ms: u64,
    /// Validators per chain.
    #[arg(long, default_value_t = 4)]
    pub validators: u32,
    /// Make one chain misbehave: CHAIN_ID=MODE (repeatable).
    #[arg(long = "fault", value_parser = parse_fault)]
    pub faults: Vec<(String, Fault)>,
    /// RPC port of chain-1 (chain-i gets BASE+i-1); free ports when absent.
    #[arg(long)]
    pub base_port: Option<u16>,
    /// Replace one validator every N heights on every chain.
    #[arg(long)]
    pub rotate_every: Option<u64>,
    /// Also write K meshed relayer configs, DIR/relayer-1.toml … DIR/relayer-K.toml.
    #[arg(long, default_value_t = 0)]
    pub relayers: u32,
    /// Also start N EVM chains (anvil, `evm-1` … `evm-N`), linked with every devchain and
    /// with each other (`--chains 0 --evm 2`: two EVM chains alone). With --relayers K they
    /// are in the meshed configs, attested by a majority of the K relayers; else in
    /// relayer.toml, attested by its relayer.
    #[arg(long, default_value_t = 0)]
    pub evm: u32,
}

/// Runs a devnet subcommand.
pub async fn run(cmd: DevnetCommand) -> anyhow::Result<()> {
    match cmd {
        DevnetCommand::Node(args) => run_node(args).await,
        DevnetCommand::Up(args) => run_up(args).await,
        DevnetCommand::Load(args) => run_load(args).await,
    }
}

async fn run_load(args: LoadArgs) -> anyhow::Result<()> {
    let destination = args
        .destination
        .parse()
        .map_err(|e| anyhow::anyhow!("--destination: {e}"))?;
    let report = crate::devnet::load::run(&crate::devnet::load::LoadOptions {
        rpc: args.rpc,
        destination,
        txs: args.txs,
        accounts: args.accounts,
        payload_bytes: args.payload_bytes,
    })
    .await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "included {} sends ({} failed) in {} blocks over {} ms of block time: {:.0} sends/s \
             (wall {} ms, {} mempool-full retries)",
            report.included,
            report.failed,
            report.blocks,
            report.span_ms,
            report.sends_per_s,
            report.wall_ms,
            report.mempool_full_retries
        );
    }
    Ok(())
}

async fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    if args.exit_with_parent {
        exit_with_parent()?;
    }
    let chain = devnet_chain(
        &args.chain_id,
        &ValidatorOptions {
            count: args.validators,
            key_file: args.validator_keys.clone(),
            seed: args.validator_seed.clone(),
            rotate_every: args.rotate_every,
            signers: args.signers,
        },
    )?;
    let node = start(NodeOptions {
        chain,
        data_dir: if args.memory {
            None
        } else {
            args.data_dir.clone()
        },
        rpc: args.rpc,
        block_time_ms: args.block_time_ms,
        fault: args.fault,
    })
    .await
    .map_err(anyhow::Error::msg)?;
    // One machine-readable line on stdout so parents can find the port.
    println!(
        "{}",
        serde_json::json!({"event": "listening", "chain_id": args.chain_id, "rpc": node.rpc_addr.to_string()})
    );
    wait_for_shutdown().await;
    tracing::info!("stopping");
    node.stop().await;
    Ok(())
}

async fn run_up(args: UpArgs) -> anyhow::Result<()> {
    let opts = UpOptions {
        chains: args.chains,
        out: args.out,
        block_time_ms: args.block_time_ms,
        validators: args.validators,
        faults: args.faults.into_iter().collect::<BTreeMap<_, _>>(),
        base_port: args.base_port,
        rotate_every: args.rotate_every,
        relayers: args.relayers,
        evm: args.evm,
    };
    let devnet = Devnet::up(&opts).await?;
    for c in &devnet.chains {
        let fault = c
            .fault
            .as_deref()
            .map(|f| format!("  FAULT {f}"))
            .unwrap_or_default();
        println!(
            "{}  rpc {}  ws {}  data {}  log {}{fault}",
            c.chain_id,
            c.rpc,
            c.ws,
            c.data_dir.display(),
            c.log.display()
        );
    }
    for c in devnet.evm.iter().flat_map(|t| &t.chains) {
        println!(
            "{}  rpc {}  EIP-155 chain id {}  gateway {}",
            c.chain,
            c.anvil.url(),
            c.anvil.chain_id(),
            c.deployment.gateway
        );
    }
    println!("relayer config: {}", devnet.relayer_config.display());
    for i in 1..=opts.relayers {
        println!(
            "meshed relayer config: {}",
            opts.out.join(format!("relayer-{i}.toml")).display()
        );
    }
    println!("ready: every chain has a client of every other; Ctrl-C stops the devnet");
    wait_for_shutdown().await;
    println!("stopping");
    devnet.stop().await;
    Ok(())
}

/// Asks Linux to send SIGTERM when the parent dies, so a killed `devnet up` leaves no
/// orphan nodes behind.
fn exit_with_parent() -> anyhow::Result<()> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)?;
    if nix::unistd::getppid() == nix::unistd::Pid::from_raw(1) {
        anyhow::bail!("parent already gone");
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn wait_for_shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
