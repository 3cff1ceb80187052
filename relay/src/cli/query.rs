//! `xrelay query message|pending|lanes`: what the relayer knows, read from its store (a
//! read-only snapshot, so it works while the relayer runs and after it stopped).

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use serde_json::json;
use xrelay_light_client::{Hash32, MessageId};

use crate::config::{hex_hash, RelayerConfig};
use crate::store::{RelayStore, Status};

/// `xrelay query …`.
#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// One message's timeline.
    Message(MessageArgs),
    /// Messages not settled yet.
    Pending(CommonArgs),
    /// Every lane's counts.
    Lanes(CommonArgs),
}

/// Flags of every query.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// The relayer config.
    #[arg(long)]
    pub config: PathBuf,
    /// One JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `xrelay query message`.
#[derive(Debug, Args)]
pub struct MessageArgs {
    /// Flags.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The message id (hex).
    pub id: String,
}

fn open(config: &std::path::Path) -> anyhow::Result<RelayStore> {
    let cfg = RelayerConfig::load(config, std::env::vars())?;
    let dir = cfg.relayer.data_dir.join("db");
    RelayStore::open_read_only(&dir)
        .map_err(|e| anyhow!("{}: {e} (has the relayer run yet?)", dir.display()))
}

/// Runs a query.
pub async fn run(cmd: QueryCommand) -> anyhow::Result<()> {
    match cmd {
        QueryCommand::Message(a) => {
            let store = open(&a.common.config)?;
            let id = MessageId(Hash32(
                hex_hash(&a.id).ok_or_else(|| anyhow!("a message id is 32 bytes of hex"))?,
            ));
            let r = store
                .message_by_id(&id)?
                .ok_or_else(|| anyhow!("the relayer has not seen message {}", a.id))?;
            if a.common.json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                let m = &r.message;
                println!(
                    "message {} ({} -> {} #{}, app {}): {}",
                    r.id,
                    m.source,
                    m.destination,
                    m.sequence,
                    m.receiver,
                    r.status.name()
                );
                for step in &r.timeline {
                    println!(
                        "  {:<13} {:>15} ms  {} height {}",
                        step.status.name(),
                        step.at_ms,
                        step.chain,
                        step.height
                    );
                }
            }
        }
        QueryCommand::Pending(a) => {
            let store = open(&a.config)?;
            let mut open_records = Vec::new();
            for status in Status::UNSETTLED {
                open_records.extend(store.all_by_status(status, 10_000)?);
            }
            if a.json {
                println!("{}", serde_json::to_string(&open_records)?);
            } else {
                println!("{} messages not settled", open_records.len());
                for r in &open_records {
                    let m = &r.message;
                    println!(
                        "  {}  {} -> {} #{}  {}",
                        r.id,
                        m.source,
                        m.destination,
                        m.sequence,
                        r.status.name()
                    );
                }
            }
        }
        QueryCommand::Lanes(a) => {
            let store = open(&a.config)?;
            let counts = store.counts()?;
            let mut lanes: std::collections::BTreeMap<
                (String, String),
                serde_json::Map<String, serde_json::Value>,
            > = Default::default();
            for ((src, dst, status), n) in counts {
                lanes
                    .entry((src.to_string(), dst.to_string()))
                    .or_default()
                    .insert(status.name().into(), json!(n));
            }
            if a.json {
                let out: Vec<_> = lanes
                    .iter()
                    .map(|((s, d), c)| json!({"src_chain": s, "dst_chain": d, "messages": c}))
                    .collect();
                println!("{}", serde_json::to_string(&out)?);
            } else {
                for ((s, d), c) in &lanes {
                    let n = |k: &str| c.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
                    println!(
                        "{s} -> {d}: pending {}  delivered {}  acknowledged {}  timed out {}  closed {}",
                        n("pending"),
                        n("delivered"),
                        n("acknowledged"),
                        n("timed_out"),
                        n("closed")
                    );
                }
            }
        }
    }
    Ok(())
}
