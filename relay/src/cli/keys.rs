//! `xrelay keys add|list|delete`: signing keys, encrypted at rest.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::keys::{passphrase, Keystore};

/// `xrelay keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key (or import one with `--import-hex-from-env VAR`).
    Add(AddArgs),
    /// List keys and their addresses.
    List(DirArgs),
    /// Delete a key.
    Delete(DeleteArgs),
}

/// The keystore directory.
#[derive(Debug, Args)]
pub struct DirArgs {
    /// Keystore directory (default `$XRELAY_KEYSTORE` or `~/.xrelay/keys`).
    #[arg(long)]
    pub keystore: Option<PathBuf>,
}

/// `xrelay keys add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Key name.
    pub name: String,
    /// Import the secret key held (as hex) in this environment variable instead of
    /// generating one (never on the command line, where it would be visible).
    #[arg(long)]
    pub import_hex_from_env: Option<String>,
    /// Directory.
    #[command(flatten)]
    pub dir: DirArgs,
}

/// `xrelay keys delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Key name.
    pub name: String,
    /// Directory.
    #[command(flatten)]
    pub dir: DirArgs,
}

fn store(d: &DirArgs) -> Keystore {
    Keystore::new(d.keystore.clone().unwrap_or_else(Keystore::default_dir))
}

/// Runs a `keys` subcommand.
pub async fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Add(a) => {
            let secret = match &a.import_hex_from_env {
                Some(var) => {
                    let hex_key = std::env::var(var)
                        .map_err(|_| anyhow::anyhow!("environment variable {var} is not set"))?;
                    Some(
                        crate::config::hex_hash(hex_key.trim())
                            .ok_or_else(|| anyhow::anyhow!("{var} must hold 32 bytes of hex"))?,
                    )
                }
                None => None,
            };
            let pass = passphrase(&format!("passphrase for new key {}: ", a.name))?;
            if pass.is_empty() {
                anyhow::bail!("an empty passphrase would leave the key unprotected");
            }
            let address = store(&a.dir).add(&a.name, secret, &pass)?;
            println!("{}  {}", a.name, hex::encode(address.0));
        }
        KeysCommand::List(d) => {
            for (name, address) in store(&d).list()? {
                println!("{name}  {address}");
            }
        }
        KeysCommand::Delete(a) => {
            store(&a.dir).delete(&a.name)?;
            println!("deleted {}", a.name);
        }
    }
    Ok(())
}
