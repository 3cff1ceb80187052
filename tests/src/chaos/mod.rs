//! The chaos run: a devnet of several chains and meshed relayers, thousands of messages
//! sent in every direction, and meanwhile `kill -9` of relayers and chain nodes and cut or
//! refused RPC connections at random moments; then everything is restarted and the run
//! checks, from the chains alone, that nothing was lost, nothing arrived or settled twice,
//! token supply is conserved and every account holds exactly what the settled transfers
//! say (so timed-out transfers were refunded to their senders).
//!
//! Layout: `devnet up --relayers K` creates the chains (with clients of each other) and
//! the meshed relayer configs. Each chain gets two [`Proxy`]s: a *chaos* one, through which
//! the relayers and the senders reach the node and which the schedule cuts and refuses,
//! and a *steady* one for the run's own bookkeeping. A killed node is restarted here with
//! `xrelay devnet node` on its data directory and a fresh port, and both proxies follow it.
//!
//! Every choice (faults, targets, moments, downtimes, messages) comes from one seeded
//! generator, so a seed names a schedule. The processes' own timing is not reproducible:
//! the same seed kills at the same offsets, but what a process was doing at that instant
//! differs from run to run.

pub mod procs;
pub mod schedule;
pub mod send;
pub mod tally;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use rand::SeedableRng;
use xrelay_devchain::node::client::NodeClient;
use xrelay_light_client::ChainId;

use crate::proxy::{Proxy, ProxyStats};
use crate::{user, Devnet, Proc};
use procs::{kill_nine_pid, NodeSpec, RelayerSpec};
use schedule::{Event, Fault, FaultPlan};
use send::{Sender, SenderStats};
use tally::{Outcomes, Tally};

/// The seed when `XRELAY_CHAOS_SEED` is not set.
pub const DEFAULT_SEED: u64 = 20_251_125;

/// Everything a chaos run is made of.
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    /// Seeds every random choice.
    pub seed: u64,
    /// Messages to send, in total.
    pub messages: usize,
    /// Funded accounts sending on each chain.
    pub accounts: usize,
    /// Block time of every chain.
    pub block_time_ms: u64,
    /// Messages are spread evenly over this long.
    pub spread: Duration,
    /// The faults (chains and relayers are taken from here).
    pub faults: FaultPlan,
    /// The whole run, setup and checks included, must end within this.
    pub deadline: Duration,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} does not parse")),
        Err(_) => default,
    }
}

impl ChaosConfig {
    /// The standard run: 3 chains, 2 meshed relayers, 10,000 messages over 80 s, 12 relayer
    /// kills, 12 node kills, 10 connection cuts and 6 outages, 6 minutes at most.
    /// `XRELAY_CHAOS_SEED`, `XRELAY_CHAOS_MESSAGES` and `XRELAY_CHAOS_SECONDS` (the
    /// sending and fault window) override.
    pub fn from_env() -> ChaosConfig {
        let spread = Duration::from_secs(env_or("XRELAY_CHAOS_SECONDS", 80));
        ChaosConfig {
            seed: env_or("XRELAY_CHAOS_SEED", DEFAULT_SEED),
            messages: env_or("XRELAY_CHAOS_MESSAGES", 10_000),
            accounts: 4,
            block_time_ms: 200,
            spread,
            faults: FaultPlan {
                chains: 3,
                relayers: 2,
                lead: Duration::from_secs(3),
                window: spread + Duration::from_secs(5),
                relayer_kills: 12,
                node_kills: 12,
                cuts: 10,
                outages: 6,
            },
            deadline: Duration::from_secs(360),
        }
    }
}

/// Faults actually carried out, by kind.
#[derive(Debug, Default, Clone, Copy)]
pub struct FaultCounts {
    /// Relayers killed with SIGKILL.
    pub relayer_kills: u32,
    /// Chain nodes killed with SIGKILL.
    pub node_kills: u32,
    /// Cuts of every live connection to a chain.
    pub cuts: u32,
    /// Outages (cut, then refuse new connections for a while).
    pub outages: u32,
    /// Relayer starts that failed and were retried (a chain was unreachable).
    pub relayer_start_retries: u32,
    /// Processes that exited without being killed (crashes).
    pub unexpected_exits: u32,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Messages planned.
    pub planned: u64,
    /// Faults carried out.
    pub faults: FaultCounts,
    /// The proxies' counts, summed over chains (chaos proxies only).
    pub proxies: ProxyStats,
    /// The senders' counts, summed.
    pub senders: SenderStats,
    /// Senders that did not finish, and why.
    pub sender_failures: Vec<String>,
    /// What the chains say happened.
    pub outcomes: Outcomes,
    /// Duplicate deliveries and settlements by the shared check
    /// (`xrelay::devnet::checks::duplicate_deliveries`).
    pub duplicate_deliveries: u64,
    /// The shared supply check.
    pub supply_conserved: bool,
    /// Accounts (senders and receivers of transfers) whose balance was checked.
    pub balances_checked: usize,
    /// Accounts whose balance is not what the settled transfers say (refunds included).
    pub balance_mismatches: Vec<String>,
    /// Unexpected process exits and other things worth reading in the logs.
    pub notes: Vec<String>,
    /// Devnet and relayers up.
    pub setup: Duration,
    /// From the first send to the last message committed.
    pub sending: Duration,
    /// From the end of sending and chaos to every message settled.
    pub settling: Duration,
    /// Everything.
    pub wall: Duration,
}

impl Report {
    /// Whether the run met every promise.
    pub fn passed(&self) -> bool {
        self.sender_failures.is_empty()
            && self.outcomes.sent == self.planned
            && self.outcomes.lost == 0
            && self.outcomes.duplicated == 0
            && self.outcomes.inconsistent == 0
            && self.duplicate_deliveries == 0
            && self.supply_conserved
            && self.balance_mismatches.is_empty()
            && self.faults.unexpected_exits == 0
            && self.notes.is_empty()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (o, k, p, s) = (&self.outcomes, &self.faults, &self.proxies, &self.senders);
        writeln!(
            f,
            "chaos seed {}: {}",
            self.seed,
            if self.passed() { "PASSED" } else { "FAILED" }
        )?;
        writeln!(
            f,
            "  faults: {} relayer kills, {} node kills ({} kills), {} connection cuts, {} outages; \
             {} connections reset by cuts, {} refused, {} reset while a node was down; \
             {} relayer start retries, {} unexpected exits",
            k.relayer_kills,
            k.node_kills,
            k.relayer_kills + k.node_kills,
            k.cuts,
            k.outages,
            p.cut,
            p.refused,
            p.upstream_down,
            k.relayer_start_retries,
            k.unexpected_exits
        )?;
        writeln!(
            f,
            "  senders: {} planned, {} broadcasts accepted, {} refused as already there, \
             {} transport errors, {} resubmissions, {} mempool full",
            s.planned, s.accepted, s.refused, s.transport_errors, s.resubmissions, s.mempool_full
        )?;
        writeln!(
            f,
            "  messages: {} planned, {} sent; {} delivered and acknowledged, {} refused by the app, \
             {} timed out and refunded ({} skipped by the destination lane); lost {}, \
             duplicated {} (shared check: {}), inconsistent {}; supply conserved: {}; \
             balances as the settlements say: {} of {} accounts",
            self.planned,
            o.sent,
            o.delivered_acked,
            o.delivered_refused,
            o.timed_out,
            o.timed_out_expired,
            o.lost,
            o.duplicated,
            self.duplicate_deliveries,
            o.inconsistent,
            self.supply_conserved,
            self.balances_checked - self.balance_mismatches.len(),
            self.balances_checked
        )?;
        write!(
            f,
            "  time: setup {:.1} s, sending {:.1} s, settling {:.1} s, wall {:.1} s",
            self.setup.as_secs_f64(),
            self.sending.as_secs_f64(),
            self.settling.as_secs_f64(),
            self.wall.as_secs_f64()
        )?;
        for n in &self.balance_mismatches {
            write!(f, "\n  balance: {n}")?;
        }
        for n in &self.sender_failures {
            write!(f, "\n  sender failed: {n}")?;
        }
        for n in &self.notes {
            write!(f, "\n  note: {n}")?;
        }
        Ok(())
    }
}

/// A chain node as the run sees it.
enum NodeState {
    /// Started by `devnet up` (not our child): killed by pid.
    External(u32),
    /// Restarted by the run.
    Child(Proc),
    /// Killed, not restarted yet.
    Down,
}

/// The processes and proxies of a run, shared by the fault executor and the watchdog.
struct World {
    nodes: Mutex<Vec<NodeState>>,
    relayers: Mutex<Vec<Option<Proc>>>,
    node_specs: Vec<NodeSpec>,
    relayer_specs: Vec<RelayerSpec>,
    chaos: Vec<Proxy>,
    steady: Vec<Proxy>,
    counts: Mutex<FaultCounts>,
    notes: Mutex<Vec<String>>,
    deadline: Instant,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl World {
    fn note(&self, s: String) {
        eprintln!("chaos: {s}");
        lock(&self.notes).push(s);
    }

    /// Restarts chain `c`'s node and points both proxies at it.
    async fn start_node(self: &Arc<Self>, c: usize) -> anyhow::Result<()> {
        let spec = self.node_specs[c].clone();
        let (proc, addr) = tokio::task::spawn_blocking(move || spec.start()).await??;
        self.chaos[c].set_upstream(addr);
        self.steady[c].set_upstream(addr);
        lock(&self.nodes)[c] = NodeState::Child(proc);
        Ok(())
    }

    /// Starts relayer `r`, retrying while it cannot reach a chain, until the deadline.
    async fn start_relayer(self: &Arc<Self>, r: usize) -> anyhow::Result<()> {
        loop {
            let spec = self.relayer_specs[r].clone();
            match tokio::task::spawn_blocking(move || spec.start()).await? {
                Ok((proc, _api)) => {
                    lock(&self.relayers)[r] = Some(proc);
                    return Ok(());
                }
                Err(e) if Instant::now() < self.deadline => {
                    lock(&self.counts).relayer_start_retries += 1;
                    eprintln!("chaos: relayer-{} start failed, retrying: {e}", r + 1);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Carries out one fault; returns the restart it needs, if any.
    async fn apply(self: &Arc<Self>, fault: &Fault) -> Option<tokio::task::JoinHandle<()>> {
        match *fault {
            Fault::KillRelayer { relayer, down } => {
                let proc = lock(&self.relayers)[relayer].take();
                let proc = proc?;
                tokio::task::spawn_blocking(move || proc.kill_nine())
                    .await
                    .ok()?;
                lock(&self.counts).relayer_kills += 1;
                let world = self.clone();
                Some(tokio::spawn(async move {
                    tokio::time::sleep(down).await;
                    if let Err(e) = world.start_relayer(relayer).await {
                        world.note(format!("relayer-{} did not restart: {e}", relayer + 1));
                    }
                }))
            }
            Fault::KillNode { chain, down } => {
                let state = std::mem::replace(&mut lock(&self.nodes)[chain], NodeState::Down);
                tokio::task::spawn_blocking(move || match state {
                    NodeState::External(pid) => kill_nine_pid(pid),
                    NodeState::Child(proc) => proc.kill_nine(),
                    NodeState::Down => {}
                })
                .await
                .ok()?;
                lock(&self.counts).node_kills += 1;
                let world = self.clone();
                Some(tokio::spawn(async move {
                    tokio::time::sleep(down).await;
                    if let Err(e) = world.start_node(chain).await {
                        world.note(format!("chain-{} did not restart: {e:#}", chain + 1));
                    }
                }))
            }
            Fault::Cut { chain } => {
                self.chaos[chain].cut();
                lock(&self.counts).cuts += 1;
                None
            }
            Fault::Outage { chain, down } => {
                self.chaos[chain].refuse_for(down);
                self.chaos[chain].cut();
                lock(&self.counts).outages += 1;
                None
            }
        }
    }

    /// Runs the schedule from `t0`. A process whose previous restart is still under way
    /// is killed once it is back, so every planned kill happens.
    async fn run_schedule(self: Arc<Self>, events: Vec<Event>, t0: tokio::time::Instant) {
        let mut restarts: HashMap<(bool, usize), tokio::task::JoinHandle<()>> = HashMap::new();
        for e in events {
            tokio::time::sleep_until(t0 + e.at).await;
            let target = match e.fault {
                Fault::KillRelayer { relayer, .. } => Some((true, relayer)),
                Fault::KillNode { chain, .. } => Some((false, chain)),
                _ => None,
            };
            if let Some(pending) = target.and_then(|t| restarts.remove(&t)) {
                let _ = pending.await;
            }
            eprintln!("chaos: {e} (at {:.2}s)", t0.elapsed().as_secs_f64());
            if let (Some(t), Some(h)) = (target, self.apply(&e.fault).await) {
                restarts.insert(t, h);
            }
        }
        for (_, h) in restarts {
            let _ = h.await;
        }
        for p in &self.chaos {
            p.accept_again();
        }
    }

    /// Finds processes that died without being killed, notes them (with their log) and
    /// restarts them so the run can finish and show the rest of the damage.
    async fn watchdog(self: &Arc<Self>) {
        let mut dead_nodes = Vec::new();
        for (c, state) in lock(&self.nodes).iter_mut().enumerate() {
            let gone = match state {
                NodeState::External(pid) => std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|s| {
                        s.rsplit_once(')')
                            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
                    })
                    .unwrap_or(true),
                NodeState::Child(p) => matches!(p.child.try_wait(), Ok(Some(_))),
                NodeState::Down => false,
            };
            if gone {
                *state = NodeState::Down;
                dead_nodes.push(c);
            }
        }
        let mut dead_relayers = Vec::new();
        for (r, slot) in lock(&self.relayers).iter_mut().enumerate() {
            if let Some(p) = slot {
                if let Ok(Some(status)) = p.child.try_wait() {
                    dead_relayers.push((r, status));
                    *slot = None;
                }
            }
        }
        for c in dead_nodes {
            lock(&self.counts).unexpected_exits += 1;
            self.note(format!(
                "chain-{} node exited by itself; see {}",
                c + 1,
                self.node_specs[c].log.display()
            ));
            if let Err(e) = self.start_node(c).await {
                self.note(format!("chain-{} did not restart: {e:#}", c + 1));
            }
        }
        for (r, status) in dead_relayers {
            lock(&self.counts).unexpected_exits += 1;
            self.note(format!(
                "relayer-{} exited by itself ({status}); see {}",
                r + 1,
                self.relayer_specs[r].log.display()
            ));
            if let Err(e) = self.start_relayer(r).await {
                self.note(format!("relayer-{} did not restart: {e:#}", r + 1));
            }
        }
    }
}

/// The chains of `devnet.json`.
fn devnet_chains(dir: &Path) -> anyhow::Result<Vec<(String, std::net::SocketAddr, NodeSpecParts)>> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("devnet.json"))?)?;
    let chains = v["chains"].as_array().ok_or_else(|| anyhow!("no chains"))?;
    chains
        .iter()
        .map(|c| {
            let field = |k: &str| {
                c[k].as_str()
                    .map(str::to_string)
                    .ok_or_else(|| anyhow!("devnet.json: chain without {k}"))
            };
            let rpc = field("rpc")?;
            let addr = rpc
                .trim_start_matches("http://")
                .parse()
                .with_context(|| format!("devnet.json: rpc {rpc}"))?;
            let parts = NodeSpecParts {
                data_dir: field("data_dir")?.into(),
                log: field("log")?.into(),
                pid: c["pid"]
                    .as_u64()
                    .ok_or_else(|| anyhow!("devnet.json: no pid"))? as u32,
            };
            Ok((field("chain_id")?, addr, parts))
        })
        .collect()
}

/// What `devnet.json` says about a node besides its id and address.
struct NodeSpecParts {
    data_dir: std::path::PathBuf,
    log: std::path::PathBuf,
    pid: u32,
}

/// Compares every account a transfer touched with what the settled transfers say it must
/// hold (`expected` is the change from genesis: senders start with
/// `DEV_BALANCE` of their chain's coin, receivers with nothing).
async fn check_balances(
    net: &Devnet,
    expected: &HashMap<(ChainId, String, xrelay_light_client::Address), i128>,
) -> Vec<String> {
    let mut wrong = Vec::new();
    for ((chain, denom, account), change) in expected {
        let node = &net.nodes[net.index(chain)];
        let start = if *denom == xrelay::devnet::coin(chain) {
            xrelay::devnet::DEV_BALANCE as i128
        } else {
            0
        };
        let v: Result<serde_json::Value, _> = node
            .call(
                "balance",
                serde_json::json!({"account": account, "denom": denom}),
            )
            .await;
        let held = v
            .ok()
            .and_then(|v| v["amount"].as_str()?.parse::<i128>().ok());
        if held != Some(start + change) {
            wrong.push(format!(
                "{account} on {chain} holds {held:?} {denom}, expected {}",
                start + change
            ));
        }
    }
    wrong.sort();
    wrong
}

/// Runs the chaos schedule of `cfg` in `dir` and reports what the chains say.
pub async fn run(cfg: &ChaosConfig, dir: &Path) -> anyhow::Result<Report> {
    let started = Instant::now();
    let deadline = started + cfg.deadline;
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
    let events = schedule::faults(&mut rng, &cfg.faults);
    let (chains, relayers) = (cfg.faults.chains, cfg.faults.relayers);
    let plan = schedule::messages(&mut rng, chains, cfg.accounts, cfg.messages);
    eprintln!(
        "chaos: seed {} (XRELAY_CHAOS_SEED), {} messages over {:?}, {} chains, {} relayers, {} faults:",
        cfg.seed,
        cfg.messages,
        cfg.spread,
        chains,
        relayers,
        events.len()
    );
    for e in &events {
        eprintln!("chaos:   {e}");
    }

    const VALIDATORS: u32 = 4;
    let mut net = Devnet::up(
        dir,
        chains as u32,
        cfg.block_time_ms,
        &[
            "--relayers",
            &relayers.to_string(),
            "--validators",
            &VALIDATORS.to_string(),
        ],
    );
    let found = devnet_chains(dir)?;
    let mut node_specs = Vec::new();
    let (mut chaos, mut steady, mut nodes) = (Vec::new(), Vec::new(), Vec::new());
    for (chain_id, addr, parts) in found {
        chaos.push(Proxy::start(addr)?);
        steady.push(Proxy::start(addr)?);
        nodes.push(NodeState::External(parts.pid));
        node_specs.push(NodeSpec {
            chain_id,
            data_dir: parts.data_dir,
            log: parts.log,
            validators: VALIDATORS,
            block_time_ms: cfg.block_time_ms,
        });
    }
    // Everything the run itself reads goes through the steady proxies, which follow
    // restarted nodes; the harness checks use `net.nodes`.
    net.nodes = steady
        .iter()
        .map(|p| NodeClient::new(&p.url(), Duration::from_secs(10)))
        .collect::<Result<_, _>>()?;
    let env: Vec<(String, String)> = chaos
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                format!("XRELAY_CHAINS__{i}__RPC"),
                format!("[\"{}\"]", p.url()),
            )
        })
        .collect();
    let relayer_specs: Vec<RelayerSpec> = (1..=relayers)
        .map(|i| RelayerSpec {
            config: dir.join(format!("relayer-{i}.toml")),
            env: env.clone(),
            log: dir.join(format!("relayer-{i}.log")),
        })
        .collect();
    let world = Arc::new(World {
        nodes: Mutex::new(nodes),
        relayers: Mutex::new((0..relayers).map(|_| None).collect()),
        node_specs,
        relayer_specs,
        chaos,
        steady,
        counts: Mutex::new(FaultCounts::default()),
        notes: Mutex::new(Vec::new()),
        deadline,
    });
    for r in 0..relayers {
        world.start_relayer(r).await?;
    }
    let setup = started.elapsed();
    eprintln!(
        "chaos: devnet and relayers up in {:.1} s; logs in {}",
        setup.as_secs_f64(),
        dir.display()
    );

    // Follow every chain's events.
    let tally = Arc::new(Mutex::new(Tally::default()));
    let (stop_follow, follow_rx) = tokio::sync::watch::channel(false);
    let followers: Vec<_> = net
        .nodes
        .iter()
        .map(|n| {
            tokio::spawn(tally::follow(
                n.clone(),
                tally.clone(),
                follow_rx.clone(),
                Duration::from_secs(20),
            ))
        })
        .collect();

    // Senders, through the chaos proxies.
    let ids: Vec<ChainId> = net.ids.clone();
    let chaos_clients: Vec<NodeClient> = world
        .chaos
        .iter()
        .map(|p| NodeClient::new(&p.url(), Duration::from_secs(5)))
        .collect::<Result<_, _>>()?;
    let everyone: Vec<(ChainId, NodeClient)> = ids
        .iter()
        .cloned()
        .zip(chaos_clients.iter().cloned())
        .collect();
    let t0 = tokio::time::Instant::now() + Duration::from_millis(500);
    let send_deadline = deadline - Duration::from_secs(60).min(cfg.deadline / 4);
    let mut senders = tokio::task::JoinSet::new();
    for (c, accounts) in plan.into_iter().enumerate() {
        for (a, msgs) in accounts.into_iter().enumerate() {
            let sender = Sender {
                key: user(a as u32),
                chain: ids[c].clone(),
                node: chaos_clients[c].clone(),
                chains: everyone.clone(),
                plan: msgs,
                start: t0.into_std(),
                spread: cfg.spread,
                deadline: send_deadline,
                block_time_ms: cfg.block_time_ms,
            };
            senders.spawn(sender.run());
        }
    }
    let chaos_task = tokio::spawn(world.clone().run_schedule(events, t0));

    // Progress and the watchdog, until sending and chaos are over.
    let mut sender_stats = SenderStats::default();
    let mut sender_failures = Vec::new();
    let mut last_progress = Instant::now();
    let mut sending = None;
    while !(chaos_task.is_finished() && senders.is_empty()) {
        tokio::select! {
            done = senders.join_next(), if !senders.is_empty() => match done {
                Some(Ok(Ok(s))) => sender_stats += s,
                Some(Ok(Err(why))) => sender_failures.push(why),
                Some(Err(e)) => sender_failures.push(format!("sender task: {e}")),
                None => {}
            },
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        if senders.is_empty() && sending.is_none() {
            sending = Some(t0.elapsed());
        }
        world.watchdog().await;
        if last_progress.elapsed() > Duration::from_secs(10) {
            last_progress = Instant::now();
            let t = lock(&tally);
            let k = *lock(&world.counts);
            eprintln!(
                "chaos: {:5.1}s sent {} settled {}; kills {} relayer + {} node, cuts {}, outages {}",
                t0.elapsed().as_secs_f64(),
                t.sent.len(),
                t.settled_count(),
                k.relayer_kills,
                k.node_kills,
                k.cuts,
                k.outages
            );
        }
        if Instant::now() > deadline {
            chaos_task.abort();
            senders.abort_all();
            world.note("the deadline passed during sending".into());
            break;
        }
    }
    let sending = sending.unwrap_or_else(|| t0.elapsed());
    world.watchdog().await;

    // Settlement, bounded by the deadline (keeping time for the checks).
    let settle_from = Instant::now();
    let settle_deadline = deadline - Duration::from_secs(20).min(cfg.deadline / 10);
    loop {
        let (done, sent, settled) = {
            let t = lock(&tally);
            // Senders that gave up leave fewer messages than planned (reported above).
            let all_sent = t.sent.len() >= cfg.messages || !sender_failures.is_empty();
            (t.all_settled() && all_sent, t.sent.len(), t.settled_count())
        };
        if done {
            break;
        }
        if Instant::now() > settle_deadline {
            world.note(format!(
                "{settled} of {sent} messages settled when the deadline came"
            ));
            break;
        }
        if last_progress.elapsed() > Duration::from_secs(10) {
            last_progress = Instant::now();
            eprintln!("chaos: settling: {settled} of {sent} settled");
        }
        world.watchdog().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let settling = settle_from.elapsed();

    // Final reads, from the chains only.
    let _ = stop_follow.send(true);
    for f in followers {
        match f.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => world.note(e),
            Err(e) => world.note(format!("follower: {e}")),
        }
    }
    let outcomes = lock(&tally).outcomes();
    let duplicate_deliveries = crate::duplicates(&net).await;
    let supply_conserved = crate::supply_conserved(&net).await;
    let expected_balances = lock(&tally).expected_balances();
    let balance_mismatches = check_balances(&net, &expected_balances).await;
    let mut proxies = ProxyStats::default();
    for p in &world.chaos {
        let s = p.stats();
        proxies.forwarded += s.forwarded;
        proxies.cut += s.cut;
        proxies.refused += s.refused;
        proxies.upstream_down += s.upstream_down;
    }
    let report = Report {
        seed: cfg.seed,
        planned: cfg.messages as u64,
        faults: *lock(&world.counts),
        proxies,
        senders: sender_stats,
        sender_failures,
        outcomes,
        duplicate_deliveries,
        supply_conserved,
        balances_checked: expected_balances.len(),
        balance_mismatches,
        notes: lock(&world.notes)
            .iter()
            .chain(&lock(&tally).notes)
            .cloned()
            .collect(),
        setup,
        sending,
        settling,
        wall: started.elapsed(),
    };
    // Relayers first (they would log errors about vanished nodes), then nodes, then the
    // devnet process.
    lock(&world.relayers).clear();
    lock(&world.nodes).clear();
    drop(net);
    Ok(report)
}
