//! From `[chains.evm]` to what the EVM adapter and the relayer's EVM light client need: the
//! keys come out of the keystore here, the committee and modes are checked here.

use std::time::Duration;

use anyhow::{anyhow, Context};
use xrelay_adapters::evm::{EvmSettings, FeePolicy};
use xrelay_adapters::EndpointPolicy;
use xrelay_light_client::evm::attest::Committee;
use xrelay_light_client::evm::client::FinalityMode;
use xrelay_light_client::{Address, ChainId};

use crate::config::{parse_address, ChainSection, EvmSection};
use crate::core::attestations::AttestationBoard;
use crate::core::followed::EvmFollow;
use crate::keys::{passphrase, Keystore};

fn address(s: &str, what: &str) -> anyhow::Result<Address> {
    parse_address(s)
        .map(Address)
        .ok_or_else(|| anyhow!("{what}: {s:?} is not a 20-byte hex address"))
}

/// The finality mode `[chains.evm]` names.
pub fn finality_mode(e: &EvmSection) -> anyhow::Result<FinalityMode> {
    Ok(match e.consensus.as_str() {
        "qbft" => FinalityMode::Qbft,
        "ibft2" => FinalityMode::Ibft2,
        "clique" => FinalityMode::Clique {
            epoch: e.clique_epoch,
        },
        "attestation" => {
            let attesters = e
                .attesters
                .iter()
                .map(|a| address(a, "attesters"))
                .collect::<anyhow::Result<Vec<_>>>()?;
            FinalityMode::Attestation(
                Committee::new(attesters, e.quorum).map_err(|e| anyhow!("committee: {e}"))?,
            )
        }
        other => anyhow::bail!("unknown consensus {other:?}"),
    })
}

/// The passphrase of a chain's keystore keys: `passphrase_file` when set, else
/// `XRELAY_KEY_PASSPHRASE` or a prompt.
pub fn keys_passphrase(id: &ChainId, e: &EvmSection) -> anyhow::Result<String> {
    Ok(match &e.passphrase_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("chain {id}: passphrase file {}", path.display()))?
            .trim_end_matches(['\n', '\r'])
            .to_string(),
        None => passphrase(&format!("passphrase of the keys of {id}: "))?,
    })
}

/// The adapter settings and the light-client settings of one EVM chain. A chain in
/// attestation mode admits its committee to `board`, which then keeps its members'
/// signatures (and nobody else's) for the chain.
pub fn settings(
    id: &ChainId,
    c: &ChainSection,
    e: &EvmSection,
    policy: EndpointPolicy,
    board: &std::sync::Arc<AttestationBoard>,
) -> anyhow::Result<(EvmSettings, EvmFollow)> {
    let keystore = Keystore::new(e.keys_dir.clone().unwrap_or_else(Keystore::default_dir));
    let pass = keys_passphrase(id, e)?;
    let account = keystore
        .load(&e.account_key, &pass)
        .with_context(|| format!("chain {id}: account key {:?}", e.account_key))?;
    let attester = match &e.attester_key {
        Some(name) => Some(
            keystore
                .load(name, &pass)
                .with_context(|| format!("chain {id}: attester key {name:?}"))?,
        ),
        None => None,
    };
    let mode = finality_mode(e)?;
    if let (FinalityMode::Attestation(committee), Some(key)) = (&mode, &attester) {
        if !committee.attesters().contains(&key.address()) {
            anyhow::bail!(
                "chain {id}: the attester key {} is not in the committee",
                key.address()
            );
        }
    }
    if let FinalityMode::Attestation(committee) = &mode {
        board.admit(id.clone(), committee);
    }
    let settings = adapter_settings(id, c, e, policy, account)?;
    let gateway = address(&e.gateway, "gateway")?;
    Ok((
        settings,
        EvmFollow {
            mode,
            gateway,
            attester,
            board: board.clone(),
        },
    ))
}

/// Adapter settings for reading the chain only (`xrelay health-check`): no keystore, no
/// passphrase. The account is a throwaway key: this process never sends a transaction.
pub fn read_only_settings(
    id: &ChainId,
    c: &ChainSection,
    e: &EvmSection,
    policy: EndpointPolicy,
) -> anyhow::Result<EvmSettings> {
    let throwaway = xrelay_light_client::SigningKey::from_seed("xrelay.read-only", 0);
    adapter_settings(id, c, e, policy, throwaway)
}

fn adapter_settings(
    id: &ChainId,
    c: &ChainSection,
    e: &EvmSection,
    policy: EndpointPolicy,
    account: xrelay_light_client::SigningKey,
) -> anyhow::Result<EvmSettings> {
    let gateway = address(&e.gateway, "gateway")?;
    Ok(EvmSettings {
        chain: id.clone(),
        urls: c.rpc.clone(),
        evm_chain_id: e.chain_id,
        gateway: gateway.0.into(),
        account,
        confirmations: e.confirmations,
        fees: FeePolicy {
            bump_after_blocks: e.bump_after_blocks,
            bump_percent: e.bump_percent,
            max_fee_per_gas: u128::from(e.max_fee_gwei) * 1_000_000_000,
            ..FeePolicy::default()
        },
        policy,
        poll: Duration::from_millis(c.block_time_ms / 2).max(Duration::from_millis(20)),
    })
}
