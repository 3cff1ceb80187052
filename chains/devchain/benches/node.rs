//! What a devchain node spends per block, on RocksDB in a temporary directory:
//! - block commit cost against the validator count (4, 21, 50, 100): `Chain::produce` of
//!   an empty block (state-tree commit, header, n signatures, one synced RocksDB batch),
//!   against its unavoidable part, the n signatures alone (`Commit::sign`);
//! - `Send` throughput: 1,000 signed sends checked by the mempool and executed in one block,
//!   and the same sends' signature recoveries alone (each send's signature must be checked
//!   twice: once by the mempool, once in the block).
//!
//! After criterion's report a summary with the ratios is printed to stderr.

#[path = "../../../light-clients/benches/support/recorder.rs"]
mod recorder;

use std::cell::Cell;
use std::time::{Duration, Instant};

use criterion::Criterion;
use recorder::{Recorder, SAMPLES};
use xrelay_devchain::node::chain::{Chain, ChainConfig, KeySource, Limits, ValidatorPlan};
use xrelay_devchain::node::store::Store;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_devchain::{Genesis, Module};
use xrelay_light_client::{ChainId, Commit, SigningKey, Timeout, TrustOptions, TrustedState};

const SIZES: [u32; 4] = [4, 21, 50, 100];
const SENDS: usize = 1_000;
const T0: u64 = 1_750_000_000_000;

fn config(id: &str, validators: u32, genesis: Genesis) -> ChainConfig {
    ChainConfig {
        chain_id: ChainId::new(id).unwrap(),
        validators: ValidatorPlan {
            keys: KeySource::Seed(format!("bench-{id}")),
            count: validators,
            power: 10,
            rotate_every: None,
        },
        signers: None,
        genesis,
        limits: Limits {
            max_mempool_txs: 100_000,
            max_block_txs: 100_000,
            ..Limits::default()
        },
    }
}

fn empty_genesis() -> Genesis {
    Genesis {
        governance: SigningKey::from_seed("bench-gov", 0).address(),
        clients: vec![],
        balances: vec![],
    }
}

/// A chain on RocksDB in `dir` with a client of a chain called `dest` (so sends are allowed).
fn chain_with_client(dir: &std::path::Path, validators: u32) -> Chain {
    let mut dest = Chain::open(
        config("dest", 4, empty_genesis()),
        Store::memory(),
        Module::default(),
    )
    .unwrap();
    let (block, _) = dest.produce(T0).unwrap();
    let mut genesis = empty_genesis();
    genesis.clients.push((
        TrustedState::from_light_block(&block).unwrap(),
        TrustOptions::default(),
    ));
    Chain::open(
        config("bench", validators, genesis),
        Store::open(dir).unwrap(),
        Module::default(),
    )
    .unwrap()
}

fn sends(chain_id: &ChainId, from: u64) -> Vec<Tx> {
    let dest = ChainId::new("dest").unwrap();
    (0..SENDS as u64)
        .map(|n| {
            let key = SigningKey::from_seed("bench-senders", (n % 8) as u32);
            let action = Action::Send {
                destination: dest.clone(),
                app: "echo".into(),
                payload: vec![7; 32],
                timeout: Timeout {
                    height: u64::MAX / 2,
                    time_ms: 0,
                },
            };
            Tx::Signed(Box::new(SignedAction::sign(
                chain_id,
                &key,
                from + n / 8,
                action,
            )))
        })
        .collect()
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let rec = Recorder::default();
    let now = Cell::new(T0);
    let tick = || {
        now.set(now.get() + 1_000);
        now.get()
    };

    let mut group = c.benchmark_group("commit");
    for n in SIZES {
        let dir = tempfile::tempdir().unwrap();
        let mut chain = chain_with_client(dir.path(), n);
        rec.bench(&mut group, &format!("commit/produce_empty_{n}"), || {
            chain.produce(tick()).unwrap().0.height()
        });
        let (block, _) = chain.produce(tick()).unwrap();
        let keys: Vec<SigningKey> = chain.signing_keys(block.height());
        rec.bench(&mut group, &format!("commit/sign_only_{n}"), || {
            Commit::sign(block.header(), &keys)
        });
    }
    group.finish();

    let mut group = c.benchmark_group("sends");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    let dir = tempfile::tempdir().unwrap();
    let mut chain = chain_with_client(dir.path(), 4);
    let id = chain.chain_id().clone();
    let mut next_nonce = 0u64;
    let per_block: std::cell::RefCell<Vec<f64>> = Default::default();
    group.bench_function("submit_and_produce_1000", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let txs = sends(&id, next_nonce);
                next_nonce += (SENDS / 8) as u64;
                let start = Instant::now();
                for tx in txs {
                    chain.submit(tx, now.get()).unwrap();
                }
                let (_, results) = chain.produce(tick()).unwrap();
                let took = start.elapsed();
                assert!(results.txs.iter().all(|t| t.outcome.is_ok()));
                per_block.borrow_mut().push(took.as_secs_f64() * 1e9);
                total += took;
            }
            total
        })
    });
    let txs = sends(&id, 1_000_000);
    rec.bench(&mut group, "sends/recover_only_1000", || {
        txs.iter()
            .filter(|tx| match tx {
                Tx::Signed(s) => {
                    let digest = SignedAction::digest(&id, &s.signer, s.nonce, &s.action);
                    s.signature.recover_address(&digest).is_ok()
                }
                _ => false,
            })
            .count()
    });
    group.finish();

    eprintln!("\n== block commit cost against validator count (medians of {SAMPLES} samples)");
    eprintln!(
        "{:>10} {:>14} {:>14} {:>8}",
        "validators", "produce (us)", "sign (us)", "ratio"
    );
    for n in SIZES {
        let p = rec
            .median(&format!("commit/produce_empty_{n}"))
            .unwrap_or(f64::NAN);
        let s = rec
            .median(&format!("commit/sign_only_{n}"))
            .unwrap_or(f64::NAN);
        eprintln!("{n:>10} {:>14.1} {:>14.1} {:>8.2}", p / 1e3, s / 1e3, p / s);
    }
    let mut blocks = per_block.into_inner();
    blocks.sort_by(f64::total_cmp);
    let block = blocks[blocks.len() / 2];
    let recover = rec.median("sends/recover_only_1000").unwrap_or(f64::NAN);
    eprintln!(
        "\n== {SENDS} sends: mempool check + execution + commit in one block (median of {})",
        blocks.len()
    );
    eprintln!(
        "block {:.1} ms = {:.0} sends/s; signature recoveries alone {:.1} ms; ratio to the 2 recoveries each send needs {:.2}",
        block / 1e6,
        SENDS as f64 / (block / 1e9),
        recover / 1e6,
        block / (2.0 * recover)
    );
}
