//! Operator commands: `xrelay config validate`, `xrelay health-check`, `xrelay clear`,
//! `xrelay unfreeze`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, Subcommand};
use xrelay_light_client::ChainId;

use crate::config::RelayerConfig;
use crate::core::clock::now_ms;
use crate::core::followed::ClientFacts;
use crate::core::{lane, scan_once, Relay};
use crate::metrics::Metrics;
use crate::store::Status;

/// `xrelay config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a config file (and `XRELAY_…` overrides) without starting anything.
    Validate(ConfigArgs),
}

/// `--config FILE`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The relayer config.
    #[arg(long)]
    pub config: PathBuf,
}

/// `xrelay unfreeze` flags.
#[derive(Debug, Args)]
pub struct UnfreezeArgs {
    /// The relayer config; the chain's `trusted_height` and `trusted_hash` must name the
    /// header the consortium re-anchored on after the incident.
    #[arg(long)]
    pub config: PathBuf,
    /// The chain to relay again.
    #[arg(long)]
    pub chain: String,
}

/// `xrelay clear` flags.
#[derive(Debug, Args)]
pub struct ClearArgs {
    /// The relayer config.
    #[arg(long)]
    pub config: PathBuf,
    /// Only this lane: SRC:DST.
    #[arg(long)]
    pub lane: Option<String>,
}

/// Runs `config validate`.
pub async fn config(cmd: ConfigCommand) -> anyhow::Result<()> {
    let ConfigCommand::Validate(a) = cmd;
    let cfg = RelayerConfig::load(&a.config, std::env::vars())?;
    println!(
        "{}: valid ({} chains, {} links)",
        a.config.display(),
        cfg.chains.len(),
        cfg.links.len()
    );
    Ok(())
}

/// `xrelay health-check`: every chain reachable (through any of its endpoints, the right
/// chain), every client of a linked chain present, not frozen and fresh (a BFT client's
/// latest header younger than a third of its trusting period), for devchains and EVM
/// chains alike. Reads only: no keystore, runs beside a relayer. Exit 0 only if all are.
pub async fn health_check(a: ConfigArgs) -> anyhow::Result<()> {
    use std::sync::Arc;
    use xrelay_adapters::{ChainAdapter, EndpointPolicy};

    let cfg = RelayerConfig::load(&a.config, std::env::vars())?;
    let mut healthy = true;
    let mut adapters: std::collections::BTreeMap<String, Arc<dyn ChainAdapter>> =
        Default::default();
    for c in &cfg.chains {
        let id: ChainId = c.id.parse()?;
        let policy = EndpointPolicy {
            request_timeout: Duration::from_millis(c.request_timeout_ms),
            ..EndpointPolicy::default()
        };
        let poll = Duration::from_millis(c.block_time_ms).max(Duration::from_millis(20));
        let connected: Result<Arc<dyn ChainAdapter>, xrelay_adapters::AdapterError> = match &c.evm {
            None => {
                xrelay_adapters::devchain::DevchainAdapter::connect(id, &c.rpc, policy, None, poll)
                    .await
                    .map(|a| Arc::new(a) as Arc<dyn ChainAdapter>)
            }
            Some(e) => {
                let settings = crate::wiring::evm::read_only_settings(&id, c, e, policy)?;
                xrelay_adapters::evm::EvmAdapter::connect(settings, None)
                    .await
                    .map(|a| Arc::new(a) as Arc<dyn ChainAdapter>)
            }
        };
        match connected {
            Ok(adapter) => match adapter.status().await {
                Ok(s) => {
                    println!("chain {:<16} reachable   height {}", c.id, s.height);
                    adapters.insert(c.id.clone(), adapter);
                }
                Err(e) => {
                    healthy = false;
                    println!("chain {:<16} UNREACHABLE {e}", c.id);
                }
            },
            Err(e) => {
                healthy = false;
                println!("chain {:<16} UNREACHABLE {e}", c.id);
            }
        }
    }
    for link in &cfg.links {
        for (host, of) in [
            (&link.chains[0], &link.chains[1]),
            (&link.chains[1], &link.chains[0]),
        ] {
            let of_id: ChainId = of.parse()?;
            let verdict = match adapters.get(host.as_str()) {
                None => "UNKNOWN (host unreachable)".to_string(),
                Some(adapter) => match adapter.client_state(&of_id).await {
                    Ok(None) => "MISSING".to_string(),
                    Ok(Some(client)) => client_verdict(&ClientFacts::of_hosted(&client)),
                    Err(e) => format!("UNKNOWN ({e})"),
                },
            };
            healthy &= verdict.starts_with("fresh");
            println!("client of {of:<12} on {host:<12} {verdict}");
        }
    }
    if !healthy {
        bail!("unhealthy");
    }
    println!("healthy");
    Ok(())
}

/// `FROZEN`, `EXPIRED`, `STALE (…)` or `fresh (…)`.
fn client_verdict(facts: &ClientFacts) -> String {
    let age = facts.age_ms(now_ms());
    if facts.frozen {
        return "FROZEN".to_string();
    }
    match facts.trusting_period_ms {
        Some(period) if age >= period => "EXPIRED".to_string(),
        Some(period) if age >= period / 3 => {
            format!("STALE (latest header {} s old)", age / 1000)
        }
        Some(_) => format!("fresh (height {}, {} s old)", facts.height, age / 1000),
        None => format!(
            "fresh (height {}, {} s old, no trusting period)",
            facts.height,
            age / 1000
        ),
    }
}

/// `xrelay clear`: scan every chain to its head and relay everything pending now, then exit.
/// Needs the relayer's store to itself (stop the relayer first).
pub async fn clear(a: ClearArgs) -> anyhow::Result<()> {
    let cfg = RelayerConfig::load(&a.config, std::env::vars())?;
    let relay = Relay::open(&cfg, Metrics::new()).await.map_err(|e| {
        anyhow::anyhow!("{e:#} (is a relayer running on this data_dir? stop it first)")
    })?;
    let lanes: Vec<(ChainId, ChainId)> = match &a.lane {
        Some(l) => {
            let (s, d) = l
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("--lane must be SRC:DST"))?;
            let lane = (s.parse()?, d.parse()?);
            if !relay.lanes.contains(&lane) {
                bail!("{l} is not a configured lane");
            }
            vec![lane]
        }
        None => relay.lanes.clone(),
    };
    for chain in relay.chains.values() {
        let head = chain.adapter.status().await?.height;
        while scan_once(&relay, chain, head).await? {}
    }
    for (src, dst) in &lanes {
        let (s, d) = (&relay.chains[src], &relay.chains[dst]);
        for _ in 0..100 {
            let pass = lane::relay_once(&relay, s, d).await?;
            // Pick up what the confirmations did not report (another relayer's work).
            for chain in [s, d] {
                let head = chain.adapter.status().await?.height;
                while scan_once(&relay, chain, head).await? {}
            }
            if pass.submitted == 0 {
                break;
            }
        }
        let counts = relay.ledger.counts().await;
        let n = |st: Status| {
            counts
                .get(&(src.clone(), dst.clone(), st))
                .copied()
                .unwrap_or(0)
        };
        println!(
            "{src} -> {dst}: pending {}  delivered (ack pending) {}  timed out (lane skip pending) {}",
            n(Status::Pending),
            n(Status::Delivered),
            n(Status::TimedOut)
        );
    }
    Ok(())
}

/// `xrelay unfreeze`: after a misbehaviour incident is dealt with (the chain's validators
/// replaced or the fork resolved, the on-chain clients reset by governance), lets the
/// relayer relay the chain again: lifts its misbehaviour flag and forgets its own light
/// client of the chain, which the next start re-creates from the configured trust root.
/// Needs the relayer's store to itself (stop the relayer first) and a pinned trust root,
/// so the new anchor is the consortium's decision, never whatever the node says next.
pub async fn unfreeze(a: UnfreezeArgs) -> anyhow::Result<()> {
    let cfg = RelayerConfig::load(&a.config, std::env::vars())?;
    let chain: ChainId = a.chain.parse()?;
    let Some(c) = cfg.chains.iter().find(|c| c.id == a.chain) else {
        bail!("chain {chain} is not in {}", a.config.display());
    };
    let (Some(height), Some(hash)) = (c.trusted_height, c.trusted_hash.as_deref()) else {
        bail!(
            "chain {chain}: set trusted_height and trusted_hash to the header the consortium \
             re-anchored on before unfreezing (the relayer's client restarts from it)"
        );
    };
    let store = crate::store::RelayStore::open(&cfg.relayer.data_dir.join("db")).map_err(|e| {
        anyhow::anyhow!("{e} (is a relayer running on this data_dir? stop it first)")
    })?;
    let was = store.frozen()?.into_iter().find(|(id, _)| *id == chain);
    let mut t = store.transition();
    store.clear_frozen(&mut t, &chain);
    store.delete_client(&mut t, &chain);
    store.commit(t)?;
    match was {
        Some((_, evidence)) => println!(
            "{chain}: misbehaviour flag lifted (evidence {evidence}); the relayer's client restarts from height {height} ({hash}) at the next start"
        ),
        None => println!(
            "{chain}: was not flagged; the relayer's client restarts from height {height} ({hash}) at the next start"
        ),
    }
    Ok(())
}
