//! `xrelay demo --evm N`: N EVM chains (anvil nodes with the contracts deployed), plus
//! `--chains M` devchains, every pair linked, relayed by `--relayers K` meshed relayers
//! (default 3) whose attester keys form the EVM chains' committee, a majority of them
//! signing each attested block (2 of 3). Each EVM chain's home coin is minted to its
//! user; every ordered pair of EVM chains carries transfers out (escrow on the home chain,
//! vouchers on the other) and a smaller one back (vouchers burned, escrow released), every
//! lane carries echo messages, a few transfers to an EVM chain held still (SIGSTOP) time
//! out and are refunded, and the summary is checked against every chain (supply, escrow =
//! vouchers, duplicates).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use alloy::primitives::{Address as EvmAddress, Bytes};
use alloy::providers::Provider;
use anyhow::Context as _;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use xrelay_devchain::tx::Action;
use xrelay_evm::gateway::{Gateway, TransferApp};
use xrelay_light_client::{ChainId, SigningKey, Timeout};

use super::evm::{evm_duplicates, wait_settled};
use super::send::{broadcast_all, Planned};
use super::summary::{tally, Summary};
use super::DemoArgs;
use crate::config::RelayerConfig;
use crate::core::clock::now_ms;
use crate::devnet::coin;
use crate::devnet::evm::{mint, signing_provider, EvmDevnet, EvmTopology};
use crate::devnet::up::{Devnet, UpOptions};

/// What each EVM chain's user holds of its home coin at the start.
const MINTED: u128 = 1_000_000;

/// Runs the demo in `dir` with `evm` EVM chains and `chains` devchains.
pub(super) async fn run(
    args: &DemoArgs,
    chains: u32,
    evm: u32,
    dir: &Path,
    say: &dyn Fn(String),
) -> anyhow::Result<Summary> {
    let relayers = args.relayers.unwrap_or(3);
    say(format!(
        "starting {chains} devchains, {evm} anvil nodes and {} in {}",
        match relayers {
            0 => "a relayer".to_string(),
            k => format!("{k} meshed relayers"),
        },
        dir.display()
    ));
    let devnet = Devnet::up(&UpOptions {
        chains,
        out: dir.join("devnet"),
        block_time_ms: args.block_time_ms.max(1_000),
        validators: 4,
        faults: Default::default(),
        base_port: None,
        rotate_every: None,
        relayers,
        evm,
    })
    .await?;
    let result = async {
        let topology = devnet
            .evm
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the devnet started no EVM chain"))?;
        for c in &topology.chains {
            say(format!(
                "{} on {}: Gateway {}, EVM client {}",
                c.chain,
                c.anvil.url(),
                c.deployment.gateway,
                c.deployment.evm_light_client
            ));
            mint(
                &c.anvil.url(),
                &c.governance,
                c.deployment.transfer,
                &coin(&c.chain),
                EvmAddress::from(c.user.address().0),
                MINTED,
            )
            .await?;
        }
        let configs: Vec<std::path::PathBuf> = match relayers {
            0 => vec![devnet.relayer_config.clone()],
            k => (1..=k)
                .map(|i| dir.join("devnet").join(format!("relayer-{i}.toml")))
                .collect(),
        };
        let mut running = Vec::new();
        let started = start_relayers(&configs, &mut running, topology, say).await;
        let result = match started {
            Ok(()) => drive(args, &devnet, &running, &topology.chains, say).await,
            Err(e) => Err(e),
        };
        for r in running {
            r.stop().await;
        }
        result
    }
    .await;
    devnet.stop().await;
    result
}

/// Starts one in-process relayer per configuration (into `running`, so the caller stops
/// them whatever happens) and says who attests the EVM chains.
async fn start_relayers(
    configs: &[std::path::PathBuf],
    running: &mut Vec<crate::runner::RunningRelayer>,
    topology: &EvmTopology,
    say: &dyn Fn(String),
) -> anyhow::Result<()> {
    for path in configs {
        let cfg = RelayerConfig::load(
            path,
            [("XRELAY_API__LISTEN".to_string(), "127.0.0.1:0".to_string())],
        )?;
        let relayer = crate::runner::start(&cfg).await?;
        say(format!(
            "relayer {} api on http://{1} (status page: http://{1}/)",
            running.len() + 1,
            relayer.api_addr
        ));
        running.push(relayer);
    }
    say(format!(
        "the EVM chains' blocks are attested by {} of the {} relayers' attester keys",
        topology.committee.quorum(),
        topology.committee.attesters().len()
    ));
    Ok(())
}

async fn drive(
    args: &DemoArgs,
    devnet: &Devnet,
    relayers: &[crate::runner::RunningRelayer],
    evms: &[EvmDevnet],
    say: &dyn Fn(String),
) -> anyhow::Result<Summary> {
    // Every relayer records every lane's messages; the first one's records are the tally.
    let relayer = relayers
        .first()
        .ok_or_else(|| anyhow::anyhow!("no relayer started"))?;
    let far = Timeout {
        height: 0,
        time_ms: now_ms() + 3_600_000,
    };
    let devchains = devnet.chain_ids()?;
    let nodes = devnet.node_clients()?;
    let evm_ids: Vec<ChainId> = evms.iter().map(|e| e.chain.clone()).collect();
    let all: Vec<ChainId> = devchains.iter().chain(&evm_ids).cloned().collect();
    let lanes = all.len() * (all.len() - 1);
    let per_lane = (args.messages / lanes as u64).max(2);
    let out = |i: u64| 2 + i % 10;
    let back = |i: u64| 1 + i % 5;
    let started = Instant::now();
    // Messages sent per lane: every lane is fresh, so they are sequences 1..=n.
    let mut sent_on: BTreeMap<(ChainId, ChainId), u64> = BTreeMap::new();

    // Devchain sources: echo messages to every other chain.
    let mut plan = Vec::new();
    for (c, home) in devchains.iter().enumerate() {
        for dst in all.iter().filter(|d| *d != home) {
            for i in 0..per_lane {
                plan.push(Planned {
                    chain: c,
                    action: Action::Send {
                        destination: dst.clone(),
                        app: "echo".into(),
                        payload: format!("{home} to {dst} {i}").into_bytes(),
                        timeout: far,
                    },
                    key: SigningKey::from_seed("xrelay-demo-evm-chains", (i % 8) as u32),
                });
                *sent_on.entry((home.clone(), dst.clone())).or_default() += 1;
            }
        }
    }
    if !plan.is_empty() {
        broadcast_all(&nodes, &devchains, plan).await?;
    }

    // EVM sources, first leg: echo to every chain, the home coin out to every EVM chain.
    for src in evms {
        let mut batch = EvmBatch::new(src)?;
        for dst in all.iter().filter(|d| **d != src.chain) {
            let to = evms.iter().find(|x| x.chain == *dst);
            for i in 0..per_lane / 2 {
                batch
                    .echo(dst, format!("{} to {dst} {i}", src.chain), far)
                    .await?;
                if let Some(to) = to {
                    batch
                        .transfer(dst, &coin(&src.chain), out(i), &to.user, far)
                        .await?;
                }
            }
        }
        batch.wait().await?;
        say(format!("{}: sent {} messages", src.chain, batch.sent));
        for (lane, n) in batch.per_lane {
            *sent_on.entry(lane).or_default() += n;
        }
    }
    for ((src, dst), n) in &sent_on {
        wait_settled(relayer, src, dst, *n, 0, say).await?;
    }

    // Transfers to a chain held still, which expire before it moves again: refunded.
    let mut timed_out_on: BTreeMap<(ChainId, ChainId), u64> = BTreeMap::new();
    if let [src, .., victim] = evms {
        let n = (args.messages / 20).max(2);
        let (lane, refunded) = timeout_drill(src, victim, n, say).await?;
        *sent_on.entry(lane.clone()).or_default() += refunded;
        timed_out_on.insert(lane, refunded);
    }

    // Second leg: each EVM user sends vouchers of every other EVM chain's coin home.
    for src in evms {
        let mut batch = EvmBatch::new(src)?;
        for home in evms.iter().filter(|h| h.chain != src.chain) {
            let voucher = format!("v/{}/{}", home.chain, coin(&home.chain));
            let receiver = &home.user;
            for i in 0..per_lane / 2 {
                batch
                    .transfer(&home.chain, &voucher, back(i), receiver, far)
                    .await?;
            }
        }
        batch.wait().await?;
        for (lane, n) in batch.per_lane {
            *sent_on.entry(lane).or_default() += n;
        }
    }
    for ((src, dst), n) in &sent_on {
        let closed = timed_out_on
            .get(&(src.clone(), dst.clone()))
            .copied()
            .unwrap_or(0);
        wait_settled(relayer, src, dst, n - closed, closed, say).await?;
    }
    let sent: Vec<(ChainId, ChainId, u64)> = sent_on
        .iter()
        .flat_map(|((src, dst), n)| (1..=*n).map(move |seq| (src.clone(), dst.clone(), seq)))
        .collect();

    // Every EVM chain's coin: its supply there (escrow included) is what was minted, and
    // what it holds in escrow for each other EVM chain equals the vouchers there.
    let mut conserved = true;
    for home in evms {
        let provider = signing_provider(&home.anvil.url(), &home.user)?;
        let app = TransferApp::new(home.deployment.transfer, provider);
        let denom = coin(&home.chain);
        let supply = app
            .supplyOf(Bytes::copy_from_slice(denom.as_bytes()))
            .call()
            .await?;
        conserved &= supply == MINTED;
        for away in evms.iter().filter(|a| a.chain != home.chain) {
            let escrow = app
                .escrowOf(
                    Bytes::copy_from_slice(away.chain.as_str().as_bytes()),
                    Bytes::copy_from_slice(denom.as_bytes()),
                )
                .call()
                .await?;
            let away_app = TransferApp::new(
                away.deployment.transfer,
                signing_provider(&away.anvil.url(), &away.user)?,
            );
            let voucher = format!("v/{}/{denom}", home.chain);
            let vouchers = away_app
                .supplyOf(Bytes::copy_from_slice(voucher.as_bytes()))
                .call()
                .await?;
            say(format!(
                "{}: {denom} escrowed for {} {escrow}; {}: {vouchers} vouchers",
                home.chain, away.chain, away.chain
            ));
            conserved &= escrow == vouchers;
        }
    }
    let mut duplicated = crate::devnet::checks::duplicate_deliveries(&nodes).await?;
    for e in evms {
        let provider = signing_provider(&e.anvil.url(), &e.user)?;
        duplicated += evm_duplicates(&provider, e.deployment.gateway).await?;
    }
    let summary = tally(relayer.relay.ledger.store(), &sent, duplicated, conserved);
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "EVM chains demo done"
    );
    summary
}

/// Holds `victim`'s node still (SIGSTOP), sends `n` transfers to it from `src` that expire
/// two seconds later, and lets it go once they expired: the destination's next block is
/// past their timeout, so the relayers can only prove them timed out (absent receipts under
/// a header the committee attests) and refund them on `src`. Returns the lane and `n`.
async fn timeout_drill(
    src: &EvmDevnet,
    victim: &EvmDevnet,
    n: u64,
    say: &dyn Fn(String),
) -> anyhow::Result<((ChainId, ChainId), u64)> {
    let pid = Pid::from_raw(victim.anvil.pid() as i32);
    kill(pid, Signal::SIGSTOP).context("holding the destination still")?;
    let held = Instant::now();
    let sent = async {
        let expiry = Timeout {
            height: 0,
            time_ms: now_ms() + 2_000,
        };
        let mut batch = EvmBatch::new(src)?;
        for _ in 0..n {
            batch
                .transfer(&victim.chain, &coin(&src.chain), 7, &victim.user, expiry)
                .await?;
        }
        batch.wait().await
    }
    .await;
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(held.elapsed())).await;
    kill(pid, Signal::SIGCONT).context("releasing the destination")?;
    sent?;
    say(format!(
        "held {} still for {n} transfers from {} that expired meanwhile",
        victim.chain, src.chain
    ));
    Ok(((src.chain.clone(), victim.chain.clone()), n))
}

/// Sends from one EVM chain's user without waiting for each receipt.
struct EvmBatch<'a> {
    src: &'a EvmDevnet,
    gateway: Gateway::GatewayInstance<alloy::providers::DynProvider>,
    app: TransferApp::TransferAppInstance<alloy::providers::DynProvider>,
    pending: Vec<alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>>,
    sent: u64,
    per_lane: BTreeMap<(ChainId, ChainId), u64>,
}

impl<'a> EvmBatch<'a> {
    fn new(src: &'a EvmDevnet) -> anyhow::Result<Self> {
        let provider = signing_provider(&src.anvil.url(), &src.user)?.erased();
        Ok(EvmBatch {
            src,
            gateway: Gateway::new(src.deployment.gateway, provider.clone()),
            app: TransferApp::new(src.deployment.transfer, provider),
            pending: Vec::new(),
            sent: 0,
            per_lane: BTreeMap::new(),
        })
    }

    fn count(&mut self, dst: &ChainId) {
        self.sent += 1;
        *self
            .per_lane
            .entry((self.src.chain.clone(), dst.clone()))
            .or_default() += 1;
    }

    async fn echo(&mut self, dst: &ChainId, payload: String, far: Timeout) -> anyhow::Result<()> {
        let p = self
            .gateway
            .sendMessage(
                Bytes::copy_from_slice(dst.as_str().as_bytes()),
                Bytes::copy_from_slice(b"echo"),
                far.height,
                far.time_ms,
                Bytes::from(payload.into_bytes()),
            )
            .send()
            .await?;
        self.pending.push(p);
        self.count(dst);
        Ok(())
    }

    async fn transfer(
        &mut self,
        dst: &ChainId,
        denom: &str,
        amount: u64,
        receiver: &SigningKey,
        far: Timeout,
    ) -> anyhow::Result<()> {
        let p = self
            .app
            .send(
                Bytes::copy_from_slice(dst.as_str().as_bytes()),
                Bytes::copy_from_slice(denom.as_bytes()),
                amount as u128,
                EvmAddress::from(receiver.address().0),
                far.height,
                far.time_ms,
            )
            .send()
            .await?;
        self.pending.push(p);
        self.count(dst);
        Ok(())
    }

    async fn wait(&mut self) -> anyhow::Result<()> {
        for p in self.pending.drain(..) {
            let receipt = p.get_receipt().await?;
            anyhow::ensure!(receipt.status(), "a send from {} reverted", self.src.chain);
        }
        Ok(())
    }
}
