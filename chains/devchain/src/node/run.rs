//! A running node: the chain, a block producer on its own thread (fixed interval, never
//! blocking the RPC runtime), and the RPC server; stopped cleanly on request.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jsonrpsee::server::ServerHandle;

use super::chain::{Chain, ChainConfig};
use super::fault::Fault;
use super::rpc::{now_ms, serve, NodeState};
use super::store::Store;
use crate::module::Module;

/// How to run a node.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// The chain.
    pub chain: ChainConfig,
    /// RocksDB directory; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// RPC listen address (port 0 picks a free one).
    pub rpc: SocketAddr,
    /// Time between blocks.
    pub block_time_ms: u64,
    /// Deliberate misbehaviour (tests of refusal only).
    pub fault: Option<Fault>,
}

/// A node that is running.
pub struct RunningNode {
    /// Where the RPC server listens.
    pub rpc_addr: SocketAddr,
    /// Shared state (for in-process tests and tools).
    pub state: Arc<NodeState>,
    server: ServerHandle,
    stop: Arc<AtomicBool>,
    producer: Option<JoinHandle<()>>,
}

/// Opens the store, the chain and starts producing blocks and serving RPC.
pub async fn start(opts: NodeOptions) -> Result<RunningNode, String> {
    let store = match &opts.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            Store::open(dir).map_err(|e| e.to_string())?
        }
        None => Store::memory(),
    };
    let chain =
        Chain::open(opts.chain.clone(), store, Module::default()).map_err(|e| e.to_string())?;
    tracing::info!(chain = %chain.chain_id(), height = chain.height(), "chain opened");
    if let Some(fault) = &opts.fault {
        tracing::warn!(%fault, "FAULT INJECTION ENABLED: this node serves invalid data on purpose");
    }
    let state = NodeState::new(chain, opts.fault);
    let (server, rpc_addr) = serve(state.clone(), opts.rpc).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (state, stop) = (state.clone(), stop.clone());
        let interval = Duration::from_millis(opts.block_time_ms.max(1));
        let fault = opts.fault;
        std::thread::Builder::new()
            .name("block-producer".into())
            .spawn(move || produce_blocks(&state, &stop, interval, fault))
            .map_err(|e| e.to_string())?
    };
    tracing::info!(%rpc_addr, block_time_ms = opts.block_time_ms, "node running");
    Ok(RunningNode {
        rpc_addr,
        state,
        server,
        stop,
        producer: Some(producer),
    })
}

fn produce_blocks(state: &NodeState, stop: &AtomicBool, interval: Duration, fault: Option<Fault>) {
    let mut next = Instant::now() + interval;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now < next {
            std::thread::sleep((next - now).min(Duration::from_millis(50)));
            continue;
        }
        next += interval;
        match state.produce(now_ms()) {
            Ok(b) => {
                tracing::debug!(height = b.height, txs = b.txs.len(), "block");
                if let Some(pause) = fault.and_then(|f| f.pause_after(b.height)) {
                    tracing::warn!(
                        height = b.height,
                        pause_ms = pause,
                        "withholding blocks (fault)"
                    );
                    next = Instant::now() + Duration::from_millis(pause) + interval;
                }
            }
            Err(e) => {
                // Storage failure: stop producing rather than fork from a half-written state.
                tracing::error!(error = %e, "block production failed; producer stopping");
                return;
            }
        }
    }
}

impl RunningNode {
    /// Stops producing, stops the server, and waits for both.
    pub async fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(p) = self.producer.take() {
            let _ = tokio::task::spawn_blocking(move || p.join()).await;
        }
        let _ = self.server.stop();
        self.server.clone().stopped().await;
    }
}
