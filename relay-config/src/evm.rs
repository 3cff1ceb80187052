//! `[chains.evm]`: how the relayer reaches and follows one EVM chain.

use serde::{Deserialize, Serialize};

/// `[chains.evm]`, required when `kind = "evm"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvmSection {
    /// The EIP-155 chain id the endpoints must report (`eth_chainId`).
    pub chain_id: u64,
    /// The xrelay Gateway contract (`0x…`).
    pub gateway: String,
    /// How blocks become final for the relayer's light client: `qbft`, `ibft2`, `clique`
    /// (seals checked against the chain's validators) or `attestation` (the committee of
    /// `attesters` signs each block: for dev nodes whose headers carry no seals).
    pub consensus: String,
    /// Clique's checkpoint interval.
    #[serde(default = "default_epoch")]
    pub clique_epoch: u64,
    /// Attestation mode: the committee's addresses (`0x…`).
    #[serde(default)]
    pub attesters: Vec<String>,
    /// Attestation mode: attestations needed per block.
    #[serde(default = "default_quorum")]
    pub quorum: usize,
    /// Name of the keystore key of the account that pays for relay calls on this chain.
    pub account_key: String,
    /// Attestation mode: name of the keystore key this relayer attests with (one of
    /// `attesters`).
    #[serde(default)]
    pub attester_key: Option<String>,
    /// The keystore folder (default: `$XRELAY_KEYSTORE` or `~/.xrelay/keys`).
    #[serde(default)]
    pub keys_dir: Option<std::path::PathBuf>,
    /// A file holding the keys' passphrase (a mounted secret); without it the passphrase
    /// comes from `$XRELAY_KEY_PASSPHRASE` or the terminal.
    #[serde(default)]
    pub passphrase_file: Option<std::path::PathBuf>,
    /// Blocks below the head before a block counts (0 for QBFT/IBFT 2.0, whose sealed
    /// blocks are final).
    #[serde(default)]
    pub confirmations: u64,
    /// Blocks a relay transaction may wait before it is re-sent with bumped fees.
    #[serde(default = "default_bump_after")]
    pub bump_after_blocks: u64,
    /// Each bump raises the fees by this percentage (at least 10: nodes refuse less).
    #[serde(default = "default_bump_percent")]
    pub bump_percent: u64,
    /// Fee cap, in gwei per gas.
    #[serde(default = "default_max_fee")]
    pub max_fee_gwei: u64,
}

fn default_epoch() -> u64 {
    30_000
}

fn default_quorum() -> usize {
    1
}

fn default_bump_after() -> u64 {
    3
}

fn default_bump_percent() -> u64 {
    25
}

fn default_max_fee() -> u64 {
    1_000
}

/// A 20-byte address from `0x`-prefixed (or bare) hex.
pub fn parse_address(s: &str) -> Option<[u8; 20]> {
    hex::decode(s.trim_start_matches("0x"))
        .ok()?
        .try_into()
        .ok()
}

impl EvmSection {
    /// Checks what types cannot; errors name the key below `chains[i].evm`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if parse_address(&self.gateway).is_none() {
            return Err(("gateway", "expected a 20-byte hex address".into()));
        }
        match self.consensus.as_str() {
            "qbft" | "ibft2" => {}
            "clique" if self.clique_epoch == 0 => {
                return Err(("clique_epoch", "must be at least 1".into()))
            }
            "clique" => {}
            "attestation" => {
                if self.attesters.is_empty() {
                    return Err(("attesters", "list the committee's addresses".into()));
                }
                if let Some(bad) = self.attesters.iter().find(|a| parse_address(a).is_none()) {
                    return Err(("attesters", format!("{bad:?} is not a 20-byte hex address")));
                }
                if self.quorum == 0 || self.quorum > self.attesters.len() {
                    return Err((
                        "quorum",
                        format!(
                            "must be 1 to {} (the committee's size)",
                            self.attesters.len()
                        ),
                    ));
                }
                if self.attester_key.is_none() {
                    return Err((
                        "attester_key",
                        "attestation mode needs this relayer's attester key".into(),
                    ));
                }
            }
            other => {
                return Err((
                    "consensus",
                    format!(
                        "unknown consensus {other:?} (known: qbft, ibft2, clique, attestation)"
                    ),
                ))
            }
        }
        if self.bump_percent < 10 {
            return Err((
                "bump_percent",
                "nodes refuse replacements below +10 %".into(),
            ));
        }
        if self.bump_after_blocks == 0 || self.max_fee_gwei == 0 {
            return Err((
                "bump_after_blocks",
                "bump_after_blocks and max_fee_gwei must be positive".into(),
            ));
        }
        Ok(())
    }
}
