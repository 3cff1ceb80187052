//! `xrelay tx send|transfer`: the dApp side. Signs with a keystore key (or a devnet
//! development account), submits on the source chain, waits for the block and prints the
//! message ids, which `xrelay query message` and `/api/v1/messages/{id}` follow.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use clap::{Args, Subcommand};
use xrelay_devchain::node::client::NodeClient;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_devchain::Event;
use xrelay_light_client::{Address, ChainId, Encode, MessageId, SigningKey, Timeout};

use crate::config::RelayerConfig;
use crate::keys::{passphrase, Keystore};
use xrelay_protocol::TransferPacket;

/// `xrelay tx …`.
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Send app messages (e.g. `echo`).
    Send(SendArgs),
    /// Send tokens to an account on another chain.
    Transfer(TransferArgs),
}

/// Who signs.
#[derive(Debug, Args)]
pub struct Signer {
    /// Key name in the keystore (passphrase from `XRELAY_KEY_PASSPHRASE` or a prompt).
    #[arg(long, conflicts_with = "dev_account")]
    pub key: Option<String>,
    /// Keystore directory (default `$XRELAY_KEYSTORE` or `~/.xrelay/keys`).
    #[arg(long)]
    pub keystore: Option<PathBuf>,
    /// A devnet development account (0-3, funded at genesis). Never on a real chain.
    #[arg(long)]
    pub dev_account: Option<u32>,
}

impl Signer {
    fn load(&self) -> anyhow::Result<SigningKey> {
        match (&self.key, self.dev_account) {
            (Some(name), None) => {
                let ks = Keystore::new(self.keystore.clone().unwrap_or_else(Keystore::default_dir));
                Ok(ks.load(name, &passphrase(&format!("passphrase of key {name}: "))?)?)
            }
            (None, Some(i)) => Ok(crate::devnet::user_key(i)),
            _ => bail!("give --key NAME (keystore) or --dev-account N (devnet)"),
        }
    }
}

/// `xrelay tx send` flags.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The relayer config (for the chains' endpoints).
    #[arg(long)]
    pub config: PathBuf,
    /// Source chain.
    #[arg(long)]
    pub from: String,
    /// Destination chain.
    #[arg(long)]
    pub to: String,
    /// The receiving app.
    #[arg(long, default_value = "echo")]
    pub app: String,
    /// The payload (UTF-8 text).
    #[arg(long)]
    pub payload: String,
    /// How many messages.
    #[arg(long, default_value_t = 1)]
    pub count: u32,
    /// Time out this many milliseconds from now (default: never).
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Signer.
    #[command(flatten)]
    pub signer: Signer,
}

/// `xrelay tx transfer` flags.
#[derive(Debug, Args)]
pub struct TransferArgs {
    /// The relayer config (for the chains' endpoints).
    #[arg(long)]
    pub config: PathBuf,
    /// Source chain.
    #[arg(long)]
    pub from: String,
    /// Destination chain.
    #[arg(long)]
    pub to: String,
    /// Amount (integer units).
    #[arg(long)]
    pub amount: u128,
    /// Receiving account on the destination (hex address).
    #[arg(long)]
    pub receiver: String,
    /// Token (default the source chain's coin, `{from}-coin`).
    #[arg(long)]
    pub denom: Option<String>,
    /// Time out this many milliseconds from now (default: never).
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Signer.
    #[command(flatten)]
    pub signer: Signer,
}

fn timeout(ms: Option<u64>) -> Timeout {
    let now = crate::core::clock::now_ms();
    match ms {
        Some(ms) => Timeout {
            height: 0,
            time_ms: now + ms,
        },
        None => Timeout {
            height: 0,
            time_ms: u64::MAX / 2,
        },
    }
}

fn endpoint(cfg: &RelayerConfig, chain: &str) -> anyhow::Result<NodeClient> {
    let section = cfg
        .chain(chain)
        .ok_or_else(|| anyhow!("chain {chain} is not in the config"))?;
    let url = section
        .rpc
        .first()
        .ok_or_else(|| anyhow!("chain {chain} has no rpc endpoint"))?;
    Ok(NodeClient::new(
        url,
        Duration::from_millis(section.request_timeout_ms),
    )?)
}

async fn send(
    cfg_path: &std::path::Path,
    from: &str,
    to: &str,
    signer: &Signer,
    actions: Vec<Action>,
) -> anyhow::Result<()> {
    let cfg = RelayerConfig::load(cfg_path, std::env::vars())?;
    let node = endpoint(&cfg, from)?;
    cfg.chain(to)
        .ok_or_else(|| anyhow!("chain {to} is not in the config"))?;
    let source: ChainId = from.parse()?;
    let key = signer.load()?;
    let mut nonce = node.nonce(&key.address()).await?;
    for action in actions {
        let tx = Tx::Signed(Box::new(SignedAction::sign(&source, &key, nonce, action)));
        let included = node
            .submit(&tx, Duration::from_secs(60))
            .await
            .context("submitting")?;
        let report = included
            .outcome
            .map_err(|e| anyhow!("the send failed in block {}: {e}", included.height))?;
        for e in report.events {
            if let Event::MessageSent { message } = e {
                println!(
                    "{}",
                    MessageId::new(&message.source, &message.destination, message.sequence)
                );
            }
        }
        nonce += 1;
    }
    Ok(())
}

/// Runs a `tx` subcommand.
pub async fn run(cmd: TxCommand) -> anyhow::Result<()> {
    match cmd {
        TxCommand::Send(a) => {
            let to: ChainId = a.to.parse()?;
            let actions = (0..a.count)
                .map(|_| Action::Send {
                    destination: to.clone(),
                    app: a.app.clone(),
                    payload: a.payload.clone().into_bytes(),
                    timeout: timeout(a.timeout_ms),
                })
                .collect();
            send(&a.config, &a.from, &a.to, &a.signer, actions).await
        }
        TxCommand::Transfer(a) => {
            let to: ChainId = a.to.parse()?;
            let receiver = Address(
                hex::decode(a.receiver.trim_start_matches("0x"))
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| anyhow!("--receiver must be a 20-byte hex address"))?,
            );
            let key = a.signer.load()?;
            let packet = TransferPacket {
                denom: a
                    .denom
                    .clone()
                    .unwrap_or_else(|| format!("{}-coin", a.from)),
                amount: a.amount,
                sender: key.address(),
                receiver,
            };
            let action = Action::Send {
                destination: to,
                app: "transfer".into(),
                payload: packet.encode(),
                timeout: timeout(a.timeout_ms),
            };
            send(&a.config, &a.from, &a.to, &a.signer, vec![action]).await
        }
    }
}
