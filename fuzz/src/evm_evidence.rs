//! The EVM clients `decode_evm_misbehaviour` judges decoded evidence against, and the keys
//! behind them. The seed program builds its evidence with the same keys, so the fuzzer
//! starts from evidence that freezes a client and mutates it into the near-misses (another
//! height, a seal too few, an outsider's seal, another chain, the held block).

use xrelay_light_client::evm::attest::Committee;
use xrelay_light_client::evm::client::{EvmClientState, EvmConsensusState, FinalityMode};
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::istanbul::BftVariant;
use xrelay_light_client::evm::testkit::{addresses, bft_header, clique_header, keys};
use xrelay_light_client::{Address, ChainId, Hash32, SigningKey};

/// The chain every client follows (attestations name it).
pub const CHAIN: &str = "fuzz-evm";
/// Block 0's time, in seconds.
pub const GENESIS_TIME_S: u64 = 1_700_000_000;
/// The Clique client's epoch (block 0 is a checkpoint listing the signers).
pub const CLIQUE_EPOCH: u64 = 30_000;
/// The attestation committee's quorum (of the four keys).
pub const QUORUM: usize = 3;
/// The block the attestation client holds at height 0.
pub const HELD: EvmConsensusState = EvmConsensusState {
    block_hash: Hash32([0x11; 32]),
    state_root: Hash32([0x22; 32]),
    time_ms: GENESIS_TIME_S * 1000,
};

/// The four keys: QBFT and IBFT 2.0 validators, Clique signers, attesters.
pub fn evidence_keys() -> Vec<SigningKey> {
    keys("fuzz-evm-evidence", 4)
}

/// The chain id of [`CHAIN`].
pub fn chain_id() -> ChainId {
    ChainId::new(CHAIN).expect("a valid chain id")
}

/// Block 0 of the BFT chain of `variant`, listing the four keys (no seals).
pub fn bft_genesis(variant: BftVariant) -> EvmHeader {
    let set = addresses(&evidence_keys());
    bft_header(variant, 0, Hash32::ZERO, GENESIS_TIME_S, &set, None, &[])
}

/// Block 0 of the Clique chain: a checkpoint listing the four keys.
pub fn clique_genesis() -> EvmHeader {
    let keys = evidence_keys();
    let set = addresses(&keys);
    clique_header(
        0,
        Hash32::ZERO,
        GENESIS_TIME_S,
        CLIQUE_EPOCH,
        &set,
        &set,
        &keys[0],
    )
}

/// One client per finality mode, each at height 0 trusting the four keys: QBFT, IBFT 2.0,
/// Clique, and attestation (quorum [`QUORUM`], holding [`HELD`]).
pub fn clients() -> [EvmClientState; 4] {
    let gateway = Address([0xaa; 20]);
    let anchor = |mode, header: &EvmHeader| {
        EvmClientState::from_header(chain_id(), mode, header, gateway).expect("anchor")
    };
    let committee =
        Committee::new(addresses(&evidence_keys()), QUORUM).expect("a committee of four");
    [
        anchor(FinalityMode::Qbft, &bft_genesis(BftVariant::Qbft)),
        anchor(FinalityMode::Ibft2, &bft_genesis(BftVariant::Ibft2)),
        anchor(
            FinalityMode::Clique {
                epoch: CLIQUE_EPOCH,
            },
            &clique_genesis(),
        ),
        EvmClientState::new(
            chain_id(),
            FinalityMode::Attestation(committee),
            vec![],
            gateway,
            0,
            HELD,
        )
        .expect("attestation client"),
    ]
}
