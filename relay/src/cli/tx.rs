//! `xrelay tx send|transfer`: the dApp side. Signs with a keystore key (or a devnet
//! development account), submits on the source chain, waits for the block and prints the
//! message ids, which `xrelay query message` and `/api/v1/messages/{id}` follow. A source
//! chain of kind `evm` goes through the Gateway instead ([`evm`]).

pub mod evm;

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
    /// A development account, never on a real chain: on a devnet devchain 0-3 (funded at
    /// genesis); on an EVM dev node (anvil) the node's N-th unlocked account
    /// (`eth_accounts`), which the node signs for.
    #[arg(long)]
    pub dev_account: Option<u32>,
}

impl Signer {
    fn keystore_key(&self, name: &str) -> anyhow::Result<SigningKey> {
        let ks = Keystore::new(self.keystore.clone().unwrap_or_else(Keystore::default_dir));
        Ok(ks.load(name, &passphrase(&format!("passphrase of key {name}: "))?)?)
    }

    fn load(&self) -> anyhow::Result<SigningKey> {
        match (&self.key, self.dev_account) {
            (Some(name), None) => self.keystore_key(name),
            (None, Some(i)) => Ok(crate::devnet::user_key(i)),
            _ => bail!("give --key NAME (keystore) or --dev-account N (devnet)"),
        }
    }

    fn evm(&self) -> anyhow::Result<evm::EvmSigner> {
        match (&self.key, self.dev_account) {
            (Some(name), None) => Ok(evm::EvmSigner::Key(self.keystore_key(name)?)),
            (None, Some(i)) => Ok(evm::EvmSigner::DevAccount(i)),
            _ => bail!("give --key NAME (keystore) or --dev-account N (dev node)"),
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
    /// Token (default the source chain's coin, `{from}-coin`; a voucher going home is
    /// `v/{chain}/{denom}`).
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
    cfg: &RelayerConfig,
    from: &str,
    to: &str,
    signer: &Signer,
    actions: Vec<Action>,
) -> anyhow::Result<()> {
    let node = endpoint(cfg, from)?;
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

/// Whether chain `id` of the config is an EVM chain (sends go through its Gateway).
fn is_evm(cfg: &RelayerConfig, id: &str) -> bool {
    cfg.chain(id).is_some_and(|c| c.kind == "evm")
}

/// Sends from an EVM chain and prints each message id as its receipt arrives.
async fn send_evm(
    cfg: &RelayerConfig,
    from: &str,
    signer: &Signer,
    send: evm::EvmSend,
) -> anyhow::Result<()> {
    let signer = signer.evm()?;
    evm::send(cfg, from, signer, send, &mut |id| println!("{id}")).await?;
    Ok(())
}

/// Runs a `tx` subcommand.
pub async fn run(cmd: TxCommand) -> anyhow::Result<()> {
    match cmd {
        TxCommand::Send(a) => {
            let cfg = RelayerConfig::load(&a.config, std::env::vars())?;
            let to: ChainId = a.to.parse()?;
            if is_evm(&cfg, &a.from) {
                let send = evm::EvmSend {
                    destination: to,
                    timeout: timeout(a.timeout_ms),
                    call: evm::EvmCall::Message {
                        app: a.app.clone(),
                        payload: a.payload.into_bytes(),
                    },
                    count: a.count,
                };
                return send_evm(&cfg, &a.from, &a.signer, send).await;
            }
            let actions = (0..a.count)
                .map(|_| Action::Send {
                    destination: to.clone(),
                    app: a.app.clone(),
                    payload: a.payload.clone().into_bytes(),
                    timeout: timeout(a.timeout_ms),
                })
                .collect();
            send(&cfg, &a.from, &a.to, &a.signer, actions).await
        }
        TxCommand::Transfer(a) => {
            let cfg = RelayerConfig::load(&a.config, std::env::vars())?;
            let to: ChainId = a.to.parse()?;
            let receiver = Address(
                hex::decode(a.receiver.trim_start_matches("0x"))
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| anyhow!("--receiver must be a 20-byte hex address"))?,
            );
            let denom = a
                .denom
                .clone()
                .unwrap_or_else(|| format!("{}-coin", a.from));
            if is_evm(&cfg, &a.from) {
                let send = evm::EvmSend {
                    destination: to,
                    timeout: timeout(a.timeout_ms),
                    call: evm::EvmCall::Transfer {
                        denom,
                        amount: a.amount,
                        receiver: receiver.0,
                    },
                    count: 1,
                };
                return send_evm(&cfg, &a.from, &a.signer, send).await;
            }
            let key = a.signer.load()?;
            let packet = TransferPacket {
                denom,
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
            send(&cfg, &a.from, &a.to, &a.signer, vec![action]).await
        }
    }
}
