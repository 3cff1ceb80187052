//! EVM chains added to a devnet: `count` anvil nodes with the contracts deployed, clients
//! created between every pair of linked chains (each EVM chain with every partner devchain
//! and with every other EVM chain), the relayers' keys in a keystore, and each relayer's
//! configuration extended with the chains and links.

use std::path::Path;

use anyhow::{anyhow, bail, Context};
use xrelay_devchain::node::client::NodeClient;
use xrelay_evm::gateway::Deployment;
use xrelay_light_client::evm::attest::Committee;
use xrelay_light_client::{ChainId, SigningKey};

use super::{
    attested_client_state, create_client_on_devchain, create_client_on_evm,
    create_evm_client_on_evm, deploy, Anvil, ANVIL_CHAIN_ID,
};

/// The first EVM chain's id in devnets and the demo (the `i`-th is `evm-i`).
pub const EVM_CHAIN: &str = "evm-1";

/// Passphrase of the devnet's keystore (development keys, never for real funds).
const DEV_PASSPHRASE: &str = "xrelay-devnet";

/// Anvil's accounts 0 (governance) and 2 (the user) are taken; relayers get 1 and 3..=9.
const RELAYER_ACCOUNTS: [usize; 8] = [1, 3, 4, 5, 6, 7, 8, 9];

/// One anvil chain of a devnet.
pub struct EvmDevnet {
    /// The node.
    pub anvil: Anvil,
    /// The chain's xrelay id.
    pub chain: ChainId,
    /// Where the contracts are.
    pub deployment: Deployment,
    /// Governance of the contracts (anvil's account 0).
    pub governance: SigningKey,
    /// A dApp user with ether for gas (anvil's account 2).
    pub user: SigningKey,
}

impl EvmDevnet {
    /// One anvil chain linked to `partner` (a devnet chain, whose governance is the
    /// devnet's), appended to the relayer configuration at `relayer_config`. One relayer
    /// attests the chain alone (a committee of one).
    pub async fn up(
        dir: &Path,
        relayer_config: &Path,
        partner: &NodeClient,
        block_time_s: u64,
    ) -> anyhow::Result<EvmDevnet> {
        Self::up_with_committee(dir, &[relayer_config], partner, block_time_s).await
    }

    /// [`Self::up`] for several relayers (a mesh): relayer `i` (its configuration at
    /// `relayer_configs[i]`) gets its own EVM account and attester key, and the committee
    /// of the chain is all of them with a quorum of all, so no block is attested unless
    /// every relayer's node agrees.
    pub async fn up_with_committee(
        dir: &Path,
        relayer_configs: &[&Path],
        partner: &NodeClient,
        block_time_s: u64,
    ) -> anyhow::Result<EvmDevnet> {
        let options = EvmOptions {
            count: 1,
            block_time_s,
            quorum: None,
        };
        let mut topology = EvmTopology::up(dir, relayer_configs, &[partner], &options).await?;
        topology
            .chains
            .pop()
            .ok_or_else(|| anyhow!("no EVM chain came up"))
    }
}

/// What [`EvmTopology::up`] builds.
#[derive(Debug, Clone)]
pub struct EvmOptions {
    /// How many anvil nodes (`evm-1` … `evm-N`, EIP-155 chain ids 31337, 31338, …).
    pub count: usize,
    /// Seconds between blocks.
    pub block_time_s: u64,
    /// Attestations each block needs; `None`: every relayer's.
    pub quorum: Option<usize>,
}

/// The EVM chains of a devnet, all linked with each other and with every partner devchain.
pub struct EvmTopology {
    /// The chains, `evm-1` first.
    pub chains: Vec<EvmDevnet>,
    /// The attesters' committee, the same for every chain (relayer `i` holds key `i`).
    pub committee: Committee,
}

impl EvmTopology {
    /// Starts `options.count` anvil nodes, deploys the contracts on each, creates the clients
    /// of every linked pair (an EVM chain and each of `partners`, every two EVM chains) and
    /// adds the chains and links to each relayer configuration. Relayer `i` gets its own
    /// EVM account (the same on every EVM chain) and attester key; every EVM chain is
    /// attested by the committee of all relayers' attester keys.
    pub async fn up(
        dir: &Path,
        relayer_configs: &[&Path],
        partners: &[&NodeClient],
        options: &EvmOptions,
    ) -> anyhow::Result<EvmTopology> {
        if relayer_configs.is_empty() || relayer_configs.len() > RELAYER_ACCOUNTS.len() {
            bail!(
                "between 1 and {} relayers can share an anvil devnet",
                RELAYER_ACCOUNTS.len()
            );
        }
        if options.count == 0 {
            bail!("an EVM topology needs at least one chain");
        }
        let attesters: Vec<SigningKey> = (0..relayer_configs.len() as u32)
            .map(|i| SigningKey::from_seed("xrelay.devnet.attester", i))
            .collect();
        let committee = Committee::new(
            attesters.iter().map(SigningKey::address).collect(),
            options.quorum.unwrap_or(attesters.len()),
        )
        .map_err(|e| anyhow!("committee: {e}"))?;

        let mut chains = Vec::with_capacity(options.count);
        for i in 0..options.count {
            let anvil = Anvil::start_as(options.block_time_s, ANVIL_CHAIN_ID + i as u64)?;
            let chain: ChainId = format!("evm-{}", i + 1).parse()?;
            let governance = anvil.key(0)?;
            let user = anvil.key(2)?;
            let deployment = deploy(&anvil.url(), &governance, &chain).await?;
            chains.push(EvmDevnet {
                anvil,
                chain,
                deployment,
                governance,
                user,
            });
        }

        let mut partner_ids = Vec::with_capacity(partners.len());
        for partner in partners {
            partner_ids.push(partner.status().await?.chain_id);
        }
        for evm in &chains {
            let url = evm.anvil.url();
            for partner in partners {
                create_client_on_evm(&url, &evm.governance, evm.deployment.light_client, partner)
                    .await?;
                let state = attested_client_state(
                    &url,
                    &evm.chain,
                    evm.deployment.gateway,
                    committee.clone(),
                )
                .await?;
                create_client_on_devchain(partner, &crate::devnet::governance_key(), state).await?;
            }
        }
        for host in &chains {
            for of in chains.iter().filter(|c| c.chain != host.chain) {
                let state = attested_client_state(
                    &of.anvil.url(),
                    &of.chain,
                    of.deployment.gateway,
                    committee.clone(),
                )
                .await?;
                create_evm_client_on_evm(
                    &host.anvil.url(),
                    &host.governance,
                    host.deployment.evm_light_client,
                    &state,
                )
                .await?;
            }
        }

        let keys_dir = dir.join("keys");
        let keystore = crate::keys::Keystore::new(&keys_dir);
        let passphrase_file = keys_dir.join("passphrase");
        for (i, config) in relayer_configs.iter().enumerate() {
            let suffix = if i == 0 {
                String::new()
            } else {
                format!("-{i}")
            };
            let (account_name, attester_name) = (
                format!("evm-account{suffix}"),
                format!("evm-attester{suffix}"),
            );
            let account = chains[0].anvil.key(RELAYER_ACCOUNTS[i])?;
            for (name, key) in [(&account_name, &account), (&attester_name, &attesters[i])] {
                if keystore.load(name, DEV_PASSPHRASE).is_err() {
                    keystore.add(name, Some(key.secret_bytes()), DEV_PASSPHRASE)?;
                }
            }
            std::fs::write(&passphrase_file, DEV_PASSPHRASE)?;
            for (k, evm) in chains.iter().enumerate() {
                let mut section = toml::Table::new();
                section.insert("chain_id".into(), (evm.anvil.chain_id() as i64).into());
                section.insert("gateway".into(), evm.deployment.gateway.to_string().into());
                section.insert("consensus".into(), "attestation".into());
                section.insert(
                    "attesters".into(),
                    attesters
                        .iter()
                        .map(|a| toml::Value::from(a.address().to_string()))
                        .collect::<Vec<_>>()
                        .into(),
                );
                section.insert("quorum".into(), (committee.quorum() as i64).into());
                section.insert("account_key".into(), account_name.clone().into());
                section.insert("attester_key".into(), attester_name.clone().into());
                section.insert("keys_dir".into(), path_str(&keys_dir)?.into());
                section.insert("passphrase_file".into(), path_str(&passphrase_file)?.into());
                // Each EVM chain links every partner and the EVM chains listed before it, so
                // every pair is linked once.
                let links: Vec<ChainId> = partner_ids
                    .iter()
                    .cloned()
                    .chain(chains[..k].iter().map(|c| c.chain.clone()))
                    .collect();
                add_chain(
                    config,
                    &evm.chain,
                    &evm.anvil.url(),
                    options.block_time_s,
                    section,
                    &links,
                )?;
            }
        }
        Ok(EvmTopology { chains, committee })
    }
}

/// Appends the EVM chain `id` (its `[chains.evm]` section `evm`) and its links with each of
/// `partners` to the relayer configuration at `config`.
fn add_chain(
    config: &Path,
    id: &ChainId,
    url: &str,
    block_time_s: u64,
    evm: toml::Table,
    partners: &[ChainId],
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(config).with_context(|| format!("{}", config.display()))?;
    let mut root: toml::Table = toml::from_str(&text)?;
    let mut c = toml::Table::new();
    c.insert("id".into(), id.to_string().into());
    c.insert("kind".into(), "evm".into());
    c.insert("rpc".into(), vec![toml::Value::from(url)].into());
    c.insert(
        "block_time_ms".into(),
        ((block_time_s * 1_000) as i64).into(),
    );
    c.insert("evm".into(), evm.into());
    push(&mut root, "chains", c);
    for partner in partners {
        let mut link = toml::Table::new();
        link.insert(
            "chains".into(),
            vec![
                toml::Value::from(partner.to_string()),
                toml::Value::from(id.to_string()),
            ]
            .into(),
        );
        push(&mut root, "links", link);
    }
    std::fs::write(config, toml::to_string_pretty(&root)?)
        .with_context(|| format!("{}", config.display()))
}

/// Appends `item` to the array of tables `key` of `root` (created when missing).
fn push(root: &mut toml::Table, key: &str, item: toml::Table) {
    let entry = root
        .entry(key)
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    if let toml::Value::Array(a) = entry {
        a.push(item.into());
    }
}

fn path_str(p: &Path) -> anyhow::Result<String> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{} is not valid UTF-8", p.display()))
}
