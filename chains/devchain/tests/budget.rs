//! The verification budget of free relay transactions (PROTOCOL.md §9.2): caps per
//! transaction refused before anything is verified, in the mempool and in a block; the
//! node's per-block, queued and per-interval budgets (`Limits`); and the runs a relayer
//! splits a long update into so that each fits.

use xrelay_devchain::node::chain::{
    Chain, ChainConfig, KeySource, Limits, SubmitError, ValidatorPlan,
};
use xrelay_devchain::node::store::Store;
use xrelay_devchain::tx::Tx;
use xrelay_devchain::{Genesis, Module, ModuleError};
use xrelay_light_client::evm::attest::{Attestation, Attested};
use xrelay_light_client::evm::client::EvmUpdate;
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::testkit::{fixed_set, ChainSpec, TestChain};
use xrelay_light_client::{ChainId, Hash32, LightBlock, SigningKey, TrustOptions};
use xrelay_protocol::{
    evm_update_runs, light_block_runs, limits::MAX_TX_HEADERS, limits::MAX_TX_SIGNATURES, RelayTx,
    TooCostly,
};

/// Later than every test header, within their trusting period.
const NOW: u64 = 1_735_689_600_000 + 60_000;

fn node(clients: Vec<&TestChain>, limits: Limits) -> Chain {
    let config = ChainConfig {
        chain_id: ChainId::new("host").unwrap(),
        validators: ValidatorPlan {
            keys: KeySource::Seed("host-validators".into()),
            count: 4,
            power: 10,
            rotate_every: None,
        },
        signers: None,
        genesis: Genesis {
            governance: SigningKey::from_seed("budget-test", 0).address(),
            clients: clients
                .into_iter()
                .map(|c| (c.trusted_state(1), TrustOptions::default()))
                .collect(),
            balances: vec![],
        },
        limits,
    };
    Chain::open(config, Store::memory(), Module::default()).unwrap()
}

/// A light block with one signature corrupted: whoever verifies it does all the work and
/// then refuses it; whoever refuses it unverified says something else.
fn corrupted(mut block: LightBlock) -> LightBlock {
    if let Some(last) = block.signed_header.commit.signatures.last_mut() {
        last.signature.0[10] ^= 0x5a;
    }
    block
}

#[test]
fn transactions_over_the_caps_are_refused_unverified() {
    // 1,024 validators: three fully signed headers are 3,072 signature recoveries.
    let big = TestChain::new(ChainSpec::new("big", fixed_set(1024, 1)), 4);
    let mut chain = node(vec![&big], Limits::default());
    let blocks: Vec<LightBlock> = (2..=4).map(|h| corrupted(big.light_block(h))).collect();
    let over = Tx::Relay(RelayTx::UpdateClient {
        chain: big.chain_id().clone(),
        blocks: blocks.clone(),
    });
    assert_eq!(over.cost().signatures, 3 * 1024);
    assert_eq!(
        chain.submit(over.clone(), NOW),
        Err(SubmitError::Refused(ModuleError::TooCostly(TooCostly {
            what: "signatures",
            count: 3 * 1024,
            max: MAX_TX_SIGNATURES,
        })))
    );
    // Two of them fit: verified (the corrupted signature is found), so refused otherwise.
    let within = Tx::Relay(RelayTx::UpdateClient {
        chain: big.chain_id().clone(),
        blocks: blocks[..2].to_vec(),
    });
    assert_eq!(within.cost().signatures, MAX_TX_SIGNATURES);
    match chain.submit(within, NOW) {
        Err(SubmitError::Refused(ModuleError::Client { .. })) => {}
        other => panic!("expected the client's refusal, got {other:?}"),
    }

    // A block producer that took it anyway executes it as the mempool checks it.
    let state = xrelay_devchain::MemoryState::default();
    let mut overlay = xrelay_devchain::Overlay::new(&state);
    let ctx = xrelay_devchain::Context {
        chain_id: ChainId::new("host").unwrap(),
        height: 1,
        time_ms: NOW,
    };
    assert!(matches!(
        Module::default().execute(&mut overlay, &ctx, &over),
        Err(ModuleError::TooCostly(_))
    ));

    // Headers: an EVM update of 300 headers (over 256), whatever chain it names.
    let header = EvmHeader::decode(&hex_header()).unwrap();
    let many = Tx::Relay(RelayTx::UpdateEvmClient {
        chain: ChainId::new("nowhere").unwrap(),
        updates: vec![
            EvmUpdate::Headers(vec![header.clone(); 150]),
            EvmUpdate::Headers(vec![header; 150]),
        ],
    });
    assert_eq!(
        chain.submit(many, NOW),
        Err(SubmitError::Refused(ModuleError::TooCostly(TooCostly {
            what: "headers",
            count: 300,
            max: MAX_TX_HEADERS,
        })))
    );
}

/// A Clique-shaped header: 32 bytes of vanity and a 65-byte seal (1 recovery).
fn hex_header() -> Vec<u8> {
    let h = EvmHeader {
        parent_hash: Hash32::ZERO,
        ommers_hash: Hash32([1; 32]),
        beneficiary: Default::default(),
        state_root: Hash32([2; 32]),
        transactions_root: Hash32([3; 32]),
        receipts_root: Hash32([3; 32]),
        logs_bloom: Box::new([0; 256]),
        difficulty: alloy_primitives::U256::from(2u8),
        number: 1,
        gas_limit: 30_000_000,
        gas_used: 0,
        timestamp: 1,
        extra_data: vec![0; 97],
        mix_hash: Hash32::ZERO,
        nonce: [0; 8],
        base_fee_per_gas: None,
        withdrawals_root: None,
        blob_gas: None,
        requests_hash: None,
    };
    h.encode()
}

#[test]
fn the_node_budgets_relay_work_per_block_queued_and_checked() {
    let small = TestChain::new(ChainSpec::new("small", fixed_set(4, 10)), 12);
    // A 4-signature update is 4 units: a block takes one, the mempool holds two, and the
    // mempool checks three per block interval.
    let limits = Limits {
        max_block_relay_units: 4,
        max_mempool_relay_units: 8,
        max_check_relay_units: 12,
        ..Limits::default()
    };
    let mut chain = node(vec![&small], limits);
    let update = |h| {
        Tx::Relay(RelayTx::UpdateClient {
            chain: small.chain_id().clone(),
            blocks: vec![small.light_block(h)],
        })
    };
    chain.submit(update(2), NOW).unwrap();
    chain.submit(update(3), NOW).unwrap();
    assert_eq!(
        chain.submit(update(4), NOW),
        Err(SubmitError::Busy(8, "waiting")),
        "the mempool's relay units are full: refused unverified"
    );
    let (_, first) = chain.produce(NOW).unwrap();
    assert_eq!(first.txs.len(), 1, "one update's units per block");
    assert!(first.txs[0].outcome.is_ok());
    assert_eq!(chain.mempool_len(), 1, "the other stays queued");
    // A new interval: 12 units of checks, refused transactions included.
    let bad = Tx::Relay(RelayTx::UpdateClient {
        chain: small.chain_id().clone(),
        blocks: vec![corrupted(small.light_block(5))],
    });
    for _ in 0..3 {
        assert!(matches!(
            chain.submit(bad.clone(), NOW),
            Err(SubmitError::Refused(ModuleError::Client { .. }))
        ));
    }
    assert_eq!(
        chain.submit(bad.clone(), NOW),
        Err(SubmitError::Busy(12, "checked")),
        "past the check budget, refused unverified until the next block"
    );
    let (_, second) = chain.produce(NOW + 1_000).unwrap();
    assert_eq!(second.txs.len(), 1);
    assert!(second.txs[0].outcome.is_ok());
    chain.submit(update(4), NOW + 1_000).unwrap();
}

#[test]
fn long_updates_split_into_runs_within_the_budget() {
    let big = TestChain::new(ChainSpec::new("big", fixed_set(1024, 1)), 4);
    let blocks: Vec<LightBlock> = (2..=4).map(|h| big.light_block(h)).collect();
    let runs = light_block_runs(blocks);
    assert_eq!(runs.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);

    // 600 one-seal headers: runs of 256, 256 and 88 headers, one update each.
    let header = EvmHeader::decode(&hex_header()).unwrap();
    let updates: Vec<EvmUpdate> = (0..3)
        .map(|_| EvmUpdate::Headers(vec![header.clone(); 200]))
        .collect();
    let runs = evm_update_runs(updates);
    let shape: Vec<Vec<usize>> = runs
        .iter()
        .map(|r| {
            r.iter()
                .map(|u| match u {
                    EvmUpdate::Headers(h) => h.len(),
                    EvmUpdate::Attested(_) => 0,
                })
                .collect()
        })
        .collect();
    assert_eq!(shape, [vec![256], vec![256], vec![88]]);
    for run in &runs {
        let tx = Tx::Relay(RelayTx::UpdateEvmClient {
            chain: ChainId::new("evm").unwrap(),
            updates: run.clone(),
        });
        tx.cost().check().unwrap();
    }

    // 20 attested blocks of 3 signatures: 16 updates per transaction at most.
    let keys: Vec<SigningKey> = (0..3).map(|i| SigningKey::from_seed("attest", i)).collect();
    let attested: Vec<EvmUpdate> = (1..=20)
        .map(|h| {
            EvmUpdate::Attested(Attested::sign(
                Attestation {
                    chain_id: ChainId::new("evm").unwrap(),
                    height: h,
                    block_hash: Hash32([h as u8; 32]),
                    state_root: Hash32([h as u8; 32]),
                    time_ms: h * 1000,
                },
                &keys,
            ))
        })
        .collect();
    let runs = evm_update_runs(attested);
    assert_eq!(runs.iter().map(Vec::len).collect::<Vec<_>>(), [16, 4]);
}
