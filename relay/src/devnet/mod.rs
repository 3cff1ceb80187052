//! Local development networks of devchains: the chain a devnet node runs (development
//! keys, governance, funded accounts) and `devnet up` (several nodes as child processes,
//! clients of each other, a relayer config). Development keys come from public seeds:
//! never use a devnet for anything of value.

pub mod checks;
pub mod evm;
pub mod load;
pub mod up;

use anyhow::{bail, Context as _};
use xrelay_devchain::node::chain::{ChainConfig, KeySource, ValidatorPlan};
use xrelay_devchain::Genesis;
use xrelay_light_client::{Address, ChainId, SigningKey};

/// Seed of the development governance key of every devnet chain.
pub const DEV_GOVERNANCE_SEED: &str = "xrelay-devnet-governance";
/// Seed of the funded development accounts.
pub const DEV_USER_SEED: &str = "xrelay-devnet-user";
/// How many funded development accounts each chain has.
pub const DEV_ACCOUNTS: u32 = 4;
/// What each funded account holds of the chain's own coin at genesis.
pub const DEV_BALANCE: u128 = 1_000_000_000;
/// Power of each devnet validator.
pub const DEV_POWER: u64 = 10;

/// The governance key of devnet chains.
pub fn governance_key() -> SigningKey {
    SigningKey::from_seed(DEV_GOVERNANCE_SEED, 0)
}

/// Funded development account `index` (0..DEV_ACCOUNTS).
pub fn user_key(index: u32) -> SigningKey {
    SigningKey::from_seed(DEV_USER_SEED, index)
}

/// The coin a devnet chain mints at genesis: `{chain_id}-coin`.
pub fn coin(chain: &ChainId) -> String {
    format!("{chain}-coin")
}

/// How a devnet chain's validators are chosen.
#[derive(Debug, Clone)]
pub struct ValidatorOptions {
    /// How many validate each height.
    pub count: u32,
    /// Keys from this file (hex lines) instead of the development seed.
    pub key_file: Option<std::path::PathBuf>,
    /// Development key seed (default derived from the chain id).
    pub seed: Option<String>,
    /// Replace one validator every this many heights.
    pub rotate_every: Option<u64>,
    /// Only this many sign each block.
    pub signers: Option<usize>,
}

/// The chain a devnet node runs: validators as asked, the development governance key, and
/// `DEV_ACCOUNTS` accounts holding `DEV_BALANCE` of the chain's coin.
pub fn devnet_chain(chain_id: &str, v: &ValidatorOptions) -> anyhow::Result<ChainConfig> {
    let chain_id = ChainId::new(chain_id).with_context(|| format!("--chain-id {chain_id:?}"))?;
    if v.count == 0 {
        bail!("--validators must be at least 1");
    }
    let keys = match (&v.key_file, &v.seed) {
        (Some(file), None) => KeySource::from_key_file(file)?,
        (None, seed) => KeySource::Seed(
            seed.clone()
                .unwrap_or_else(|| format!("xrelay-devnet/{chain_id}")),
        ),
        (Some(_), Some(_)) => bail!("give --validator-keys or --validator-seed, not both"),
    };
    if let KeySource::Secrets(s) = &keys {
        if s.len() < v.count as usize {
            bail!(
                "--validators {} but the key file holds {} keys",
                v.count,
                s.len()
            );
        }
    }
    let coin = coin(&chain_id);
    Ok(ChainConfig {
        validators: ValidatorPlan {
            keys,
            count: v.count,
            power: DEV_POWER,
            rotate_every: v.rotate_every,
        },
        signers: v.signers,
        genesis: Genesis {
            governance: governance_key().address(),
            clients: vec![],
            balances: (0..DEV_ACCOUNTS)
                .map(|i| (user_key(i).address(), coin.clone(), DEV_BALANCE))
                .collect::<Vec<(Address, String, u128)>>(),
        },
        limits: Default::default(),
        chain_id,
    })
}

/// Broadcasts `tx` to `node`, waiting `pause` and trying again while the node's mempool is
/// full (load generators outrun the chain on purpose); any other error ends it, naming
/// `chain`.
pub async fn broadcast_when_room(
    node: &xrelay_devchain::node::client::NodeClient,
    tx: &xrelay_devchain::tx::Tx,
    chain: &ChainId,
    pause: std::time::Duration,
) -> anyhow::Result<()> {
    use xrelay_devchain::node::client::ClientError;
    use xrelay_devchain::node::rpc::codes;
    loop {
        match node.broadcast(tx).await {
            Ok(_) => return Ok(()),
            Err(ClientError::Rpc { code, .. }) if code == codes::MEMPOOL_FULL => {
                tokio::time::sleep(pause).await
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("sending on {chain}"))),
        }
    }
}
