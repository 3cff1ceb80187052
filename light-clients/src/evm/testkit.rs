//! EVM headers sealed with test keys, for tests, benchmarks and the Solidity light client's
//! differential tests: QBFT / IBFT 2.0 headers with committed seals as Besu writes them, and
//! Clique headers with their seal and turn. Deterministic (RFC 6979 signatures over fixed
//! fields); callers edit a header and seal it again to make forks, forged hand-overs or
//! conflicting blocks. Panics only on programmer error (a header these builders cannot
//! parse back).

use alloy_primitives::U256;

use crate::crypto::{Address, SigningKey};
use crate::evm::clique::{EMPTY_OMMERS_HASH, SEAL_LENGTH};
use crate::evm::header::EvmHeader;
use crate::evm::istanbul::{BftExtraData, BftHeader, BftVariant, ValidatorVote, ISTANBUL_MIX_HASH};
use crate::hash::Hash32;

/// `n` deterministic keys derived from `seed` (`SigningKey::from_seed(seed, 0..n)`, in that
/// order): the validators, Clique signers and attestation committees of EVM tests.
pub fn keys(seed: &str, n: u32) -> Vec<SigningKey> {
    (0..n).map(|i| SigningKey::from_seed(seed, i)).collect()
}

/// The addresses of `keys`, in the same order: what a validator list or committee names.
pub fn addresses(keys: &[SigningKey]) -> Vec<Address> {
    keys.iter().map(SigningKey::address).collect()
}

/// A header with the fields every builder shares: a London layout (base fee 1 gwei) unless
/// `london` is false, the state root `[number as u8; 32]` (so blocks differ), no ommers
/// check (callers of each consensus set their own).
fn base_header(number: u64, parent_hash: Hash32, timestamp: u64, london: bool) -> EvmHeader {
    EvmHeader {
        parent_hash,
        ommers_hash: EMPTY_OMMERS_HASH,
        beneficiary: Address::default(),
        state_root: Hash32([number as u8; 32]),
        transactions_root: Hash32([0x56; 32]),
        receipts_root: Hash32([0x56; 32]),
        logs_bloom: Box::new([0; 256]),
        difficulty: U256::from(1),
        number,
        gas_limit: 30_000_000,
        gas_used: 0,
        timestamp,
        extra_data: Vec::new(),
        mix_hash: Hash32::ZERO,
        nonce: [0; 8],
        base_fee_per_gas: london.then(|| U256::from(1_000_000_000u64)),
        withdrawals_root: None,
        blob_gas: None,
        requests_hash: None,
    }
}

/// A `variant` header at `number` listing `validators` (sorted, as Besu lists them),
/// carrying `vote`, round 0, sealed by `sealers` in that order (block 0 is left unsealed).
pub fn bft_header(
    variant: BftVariant,
    number: u64,
    parent_hash: Hash32,
    timestamp: u64,
    validators: &[Address],
    vote: Option<ValidatorVote>,
    sealers: &[SigningKey],
) -> EvmHeader {
    let mut listed = validators.to_vec();
    listed.sort();
    let extra = BftExtraData {
        variant,
        vanity: [0; 32],
        validators: listed,
        vote,
        round: 0,
        seals: vec![],
    };
    let mut header = base_header(number, parent_hash, timestamp, true);
    header.extra_data = extra.encode();
    header.mix_hash = ISTANBUL_MIX_HASH;
    if number != 0 {
        bft_reseal(variant, &mut header, sealers);
    }
    header
}

/// Replaces a BFT header's committed seals with `sealers`' over its current fields (its
/// list, vote and round kept): how tests edit a sealed header and keep it final.
pub fn bft_reseal(variant: BftVariant, header: &mut EvmHeader, sealers: &[SigningKey]) {
    let digest = BftHeader::parse(variant, header)
        .expect("a BFT header the testkit built")
        .seal_digest();
    let mut extra =
        BftExtraData::decode(variant, &header.extra_data).expect("a BFT header the testkit built");
    extra.seals = sealers.iter().map(|k| besu_seal(k, &digest)).collect();
    header.extra_data = extra.encode();
}

/// The chain's hash of a BFT header (without seals and round).
pub fn bft_block_hash(variant: BftVariant, header: &EvmHeader) -> Hash32 {
    BftHeader::parse(variant, header)
        .expect("a BFT header the testkit built")
        .block_hash()
}

/// A seal as Besu and Clique write it: `r ‖ s ‖ v` with `v ∈ {0, 1}`.
pub fn besu_seal(key: &SigningKey, digest: &Hash32) -> [u8; 65] {
    let mut seal = key.sign_digest(digest).0;
    seal[64] -= 27;
    seal
}

/// A Clique header at `number` (15 fields, as Clique chains before London), sealed by
/// `sealer`, listing `signers` (sorted) when `number` is a checkpoint (a multiple of
/// `epoch`), with the difficulty of `sealer`'s turn among `current` (the authorised set).
pub fn clique_header(
    number: u64,
    parent_hash: Hash32,
    timestamp: u64,
    epoch: u64,
    signers: &[Address],
    current: &[Address],
    sealer: &SigningKey,
) -> EvmHeader {
    let mut extra = vec![0u8; 32];
    if number.is_multiple_of(epoch) {
        let mut sorted = signers.to_vec();
        sorted.sort();
        for s in sorted {
            extra.extend_from_slice(&s.0);
        }
    }
    extra.extend_from_slice(&[0u8; 65]);
    let mut sorted = current.to_vec();
    sorted.sort();
    let in_turn = sorted
        .iter()
        .position(|a| *a == sealer.address())
        .is_some_and(|p| number % sorted.len() as u64 == p as u64);
    let mut header = base_header(number, parent_hash, timestamp, false);
    header.difficulty = U256::from(if in_turn { 2u8 } else { 1 });
    header.extra_data = extra;
    if number != 0 {
        clique_reseal(&mut header, sealer);
    }
    header
}

/// Replaces a Clique header's seal (the last 65 bytes of its extraData) with `sealer`'s
/// over its current fields, whether or not the rest obeys Clique (so tests can seal
/// headers that break one rule).
pub fn clique_reseal(header: &mut EvmHeader, sealer: &SigningKey) {
    let len = header.extra_data.len();
    let digest = header.hash_with_extra_data(&header.extra_data[..len - SEAL_LENGTH]);
    let seal = besu_seal(sealer, &digest);
    header.extra_data[len - SEAL_LENGTH..].copy_from_slice(&seal);
}
