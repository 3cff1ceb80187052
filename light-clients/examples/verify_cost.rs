//! Cost harness for header verification, for two measurements that wall-clock benches on a
//! shared 2-core machine cannot make reliably:
//!
//! - `verify_cost N WHAT`: runs one measured function once, for `callgrind`'s instruction
//!   count (repeatable to the instruction whatever else the machine does). `WHAT` is
//!   `verify-full`, `verify-quorum` (our sequential verification of an adjacent header
//!   signed by all N, or by the minimal quorum), `recover-full`, `recover-quorum` (the bare
//!   secp256k1 recoveries of the same signatures: the work the verification must do) or
//!   `ecdsa-quorum` (plain ECDSA verification with known keys, the cheapest possible check).
//!   Run through `light-clients/benches/instructions.sh`, which prints the table.
//! - `verify_cost N speedup ROUNDS`: the parallel speed-up, as the median over ROUNDS of
//!   the ratio of a sequential run to the parallel run right after it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use secp256k1::ecdsa::{RecoverableSignature, RecoveryId, Signature};
use secp256k1::{Message, PublicKey};
use xrelay_light_client::testkit::{fixed_set, ChainSpec, TestChain};
use xrelay_light_client::{LightBlock, Parallelism, TrustOptions, TrustedState, Verifier};

fn verifier(parallelism: Parallelism) -> Verifier {
    Verifier {
        options: TrustOptions::default(),
        parallelism,
    }
}

#[inline(never)]
fn measured_verify(trusted: &TrustedState, block: &LightBlock, now: u64) {
    let result = verifier(Parallelism::Sequential).verify(trusted, block, now);
    assert!(black_box(result).is_ok());
}

#[inline(never)]
fn measured_recover(sigs: &[(RecoverableSignature, Message)]) {
    for (sig, msg) in sigs {
        black_box(sig.recover_ecdsa(*msg).ok());
    }
}

#[inline(never)]
fn measured_ecdsa(sigs: &[(Signature, Message, PublicKey)]) {
    for (sig, msg, key) in sigs {
        black_box(sig.verify(*msg, key).ok());
    }
}

/// Runs `a` and `b` back to back `rounds` times; returns the fastest of each and the median
/// of the per-round ratios a/b. Pairing adjacent runs makes the ratio robust to slow drifts
/// in what else the machine is doing.
fn paired(rounds: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (Duration, Duration, f64) {
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed()
    };
    let mut ratios = Vec::with_capacity(rounds);
    let (mut best_a, mut best_b) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds.max(1) {
        let ta = time(&mut a);
        let tb = time(&mut b);
        best_a = best_a.min(ta);
        best_b = best_b.min(tb);
        ratios.push(ta.as_secs_f64() / tb.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    (best_a, best_b, ratios[ratios.len() / 2])
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: verify_cost N (verify-full|verify-quorum|recover-full|recover-quorum|ecdsa-quorum|speedup ROUNDS)";
    let n: u32 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{usage}"));
    let what = args
        .get(2)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("{usage}"));
    let chain = TestChain::new(ChainSpec::new("cost", fixed_set(n, 10)), 3);
    let trusted = chain.trusted_state(1);
    let quorum = (n * 2 / 3 + 1) as usize;
    let quorum_signers: Vec<_> = chain
        .signers(2)
        .iter()
        .take(quorum)
        .map(|k| k.address())
        .collect();
    let full = chain.light_block(2);
    let minimal = chain.light_block_signed_by(2, |a| quorum_signers.contains(a));
    let now = chain.time_at(2) + 1_000;
    let digest = Message::from_digest(chain.header(2).hash().0);
    let recoverable = |block: &LightBlock| -> Vec<(RecoverableSignature, Message)> {
        block
            .signed_header
            .commit
            .signatures
            .iter()
            .map(|s| {
                let id = RecoveryId::try_from(i32::from(s.signature.v() - 27))
                    .unwrap_or_else(|e| panic!("{e}"));
                let sig = RecoverableSignature::from_compact(&s.signature.0[..64], id)
                    .unwrap_or_else(|e| panic!("{e}"));
                (sig, digest)
            })
            .collect()
    };
    match what {
        "verify-full" => measured_verify(&trusted, &full, now),
        "verify-quorum" => measured_verify(&trusted, &minimal, now),
        "recover-full" => measured_recover(&recoverable(&full)),
        "recover-quorum" => measured_recover(&recoverable(&minimal)),
        "ecdsa-quorum" => {
            let sigs: Vec<_> = recoverable(&minimal)
                .into_iter()
                .map(|(sig, msg)| {
                    let key = sig.recover_ecdsa(msg).unwrap_or_else(|e| panic!("{e}"));
                    (sig.to_standard(), msg, key)
                })
                .collect();
            measured_ecdsa(&sigs)
        }
        "speedup" => {
            let rounds: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(50);
            for (label, block) in [("full", &full), ("quorum", &minimal)] {
                let (seq, par, ratio) = paired(
                    rounds,
                    || {
                        black_box(
                            verifier(Parallelism::Sequential)
                                .verify(&trusted, block, now)
                                .ok(),
                        );
                    },
                    || {
                        black_box(
                            verifier(Parallelism::Parallel)
                                .verify(&trusted, block, now)
                                .ok(),
                        );
                    },
                );
                println!(
                    "n={n} {label}: sequential {:.0} us, parallel {:.0} us (fastest of {rounds}), speed-up {:.2}x (median of paired runs)",
                    seq.as_secs_f64() * 1e6,
                    par.as_secs_f64() * 1e6,
                    ratio
                );
            }
        }
        other => panic!("unknown measurement {other}; {usage}"),
    }
}
