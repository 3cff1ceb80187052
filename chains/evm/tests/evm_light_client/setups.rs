//! What several scenarios share: a Clique client and its in-turn blocks, an attestation
//! client, each created on a fresh contract and in Rust alike, and the single-bit
//! alterations the differential comparisons walk through.

use xrelay_light_client::evm::attest::Committee;
use xrelay_light_client::evm::client::{EvmClientState, EvmConsensusState, FinalityMode};
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::testkit::clique_header;
use xrelay_light_client::{Address, ChainId, Hash32, SigningKey};

use super::client::{self, Client, LONG_PERIOD_MS};
use super::runs::{gateway, keys};
use crate::common::Node;

/// Every single-bit alteration compared on both sides: for each byte of `body` from
/// `start` on, in order, the body with bit 0 flipped, then with bit 7 flipped, each with
/// the byte's position and the mask.
pub fn single_bit_flips(
    body: &[u8],
    start: usize,
) -> impl Iterator<Item = (usize, u8, Vec<u8>)> + '_ {
    (start..body.len()).flat_map(move |pos| {
        [0x01u8, 0x80].into_iter().map(move |mask| {
            let mut flipped = body.to_vec();
            flipped[pos] ^= mask;
            (pos, mask, flipped)
        })
    })
}

/// A Clique client of three signers, on a fresh contract and in Rust.
pub struct CliqueSetup {
    /// The contract.
    pub lc: Client,
    /// The Rust client, at block 0.
    pub rust: EvmClientState,
    /// The signers, in ascending address order (the order of turns).
    pub signers: Vec<SigningKey>,
    /// Their addresses.
    pub set: Vec<Address>,
    /// The epoch.
    pub epoch: u64,
    /// Block 0: a checkpoint listing the three, sealed by the first.
    pub genesis: EvmHeader,
}

/// Deploys a contract and creates on it (and in Rust) the Clique client of chain `name`
/// (also the signers' key seed) with `epoch`, anchored at a block 0 of time `start_s`.
pub async fn clique_client(node: &Node, name: &str, epoch: u64, start_s: u64) -> CliqueSetup {
    let mut signers = keys(name, 3);
    signers.sort_by_key(SigningKey::address);
    let set: Vec<_> = signers.iter().map(SigningKey::address).collect();
    let genesis = clique_header(0, Hash32::ZERO, start_s, epoch, &set, &set, &signers[0]);
    let rust = EvmClientState::from_header(
        ChainId::new(name).expect("id"),
        FinalityMode::Clique { epoch },
        &genesis,
        gateway(),
    )
    .expect("anchor");
    let lc = client::deploy(&node.provider).await;
    client::create(&lc, &rust, LONG_PERIOD_MS, false).await;
    CliqueSetup {
        lc,
        rust,
        signers,
        set,
        epoch,
        genesis,
    }
}

impl CliqueSetup {
    /// Block 0 and blocks 1..=n after it, each sealed in turn (block `k` by signer
    /// `k % 3`), 15 s after its parent: the block of number `k` at index `k`.
    pub fn blocks(&self, n: u64) -> Vec<EvmHeader> {
        let mut blocks = vec![self.genesis.clone()];
        for number in 1..=n {
            let parent = blocks.last().expect("parent");
            let sealer = &self.signers[(number % 3) as usize];
            blocks.push(clique_header(
                number,
                parent.hash(),
                parent.timestamp + 15,
                self.epoch,
                &self.set,
                &self.set,
                sealer,
            ));
        }
        blocks
    }
}

/// An attestation-mode client, on a fresh contract and in Rust.
pub struct AttestationSetup {
    /// The contract.
    pub lc: Client,
    /// The Rust client, holding block 10.
    pub rust: EvmClientState,
    /// The committee's keys.
    pub committee: Vec<SigningKey>,
    /// The chain attested.
    pub chain_id: ChainId,
    /// Block 10's time: the node's clock less 100,000 s, in milliseconds.
    pub base_ms: u64,
}

/// Deploys a contract and creates on it (and in Rust) the attestation client of `chain`:
/// a committee of `n` keys from `seed` with `quorum`, holding block 10 (hash `[1; 32]`,
/// state root `[2; 32]`) at the node's time less 100,000 s.
pub async fn attestation_client(
    node: &Node,
    seed: &str,
    n: u32,
    quorum: usize,
    chain: &str,
) -> AttestationSetup {
    let committee = keys(seed, n);
    let chain_id = ChainId::new(chain).expect("id");
    let base_ms = node.now_s().await * 1000 - 100_000_000;
    let rust = EvmClientState::new(
        chain_id.clone(),
        FinalityMode::Attestation(
            Committee::new(committee.iter().map(SigningKey::address).collect(), quorum)
                .expect("committee"),
        ),
        vec![],
        gateway(),
        10,
        EvmConsensusState {
            block_hash: Hash32([1; 32]),
            state_root: Hash32([2; 32]),
            time_ms: base_ms,
        },
    )
    .expect("client");
    let lc = client::deploy(&node.provider).await;
    client::create(&lc, &rust, LONG_PERIOD_MS, false).await;
    AttestationSetup {
        lc,
        rust,
        committee,
        chain_id,
        base_ms,
    }
}
