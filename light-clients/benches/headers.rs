//! Header verification against the secp256k1 work it cannot avoid.
//!
//! For 4, 21, 100 and 150 equal-power validators this measures `Verifier::verify` of the
//! block at height 2 from the trusted state at height 1, sequentially and on the rayon
//! pool, for a commit signed by every validator and for one signed by the minimal quorum
//! (`n * 2 / 3 + 1`), plus a skipping step (height 1 to height 10, full commit). In the same
//! run it measures the baselines:
//! - one public-key recovery per signature present, with the bare `secp256k1` calls
//!   (`RecoverableSignature::from_compact` + `recover_ecdsa`) and with our wrapper
//!   `Signature65::recover_address` (which also checks ranges and derives the keccak address);
//! - plain ECDSA verification with a known public key (`ecdsa::Signature::verify`) for the
//!   quorum count, the cheapest check a BFT light client could possibly do.
//!
//! After criterion's own report, a summary table (medians of criterion's samples) with the
//! ratios is printed to stderr.

#[path = "support/recorder.rs"]
mod recorder;

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use recorder::{Recorder, SAMPLES};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId, Signature};
use secp256k1::{Message, PublicKey};
use xrelay_light_client::testkit::{fixed_set, ChainSpec, TestChain};
use xrelay_light_client::{
    Hash32, LightBlock, Parallelism, Signature65, TrustOptions, TrustedState, Verifier,
};

const SIZES: [u32; 4] = [4, 21, 100, 150];
/// Height of the skipping target (trusted height is 1).
const SKIP_TO: u64 = 10;

/// The bare library calls our wrapper makes, without its range checks or keccak.
fn recover_bare(sig: &Signature65, msg: Message) -> PublicKey {
    let rec_id = RecoveryId::try_from(i32::from(sig.0[64] - 27)).expect("recovery id");
    RecoverableSignature::from_compact(&sig.0[..64], rec_id)
        .expect("compact signature")
        .recover_ecdsa(msg)
        .expect("recoverable")
}

struct Case {
    n: usize,
    quorum: usize,
    trusted: TrustedState,
    full: LightBlock,
    quorum_block: LightBlock,
    skip_block: LightBlock,
    now: u64,
    skip_now: u64,
    digest: Hash32,
    /// Signatures of the full commit and of the quorum commit.
    full_sigs: Vec<Signature65>,
    quorum_sigs: Vec<Signature65>,
    /// Standard signatures and known public keys of the quorum commit.
    quorum_plain: Vec<(Signature, PublicKey)>,
}

fn case(n: u32) -> Case {
    let chain = TestChain::new(ChainSpec::new("bench", fixed_set(n, 10)), SKIP_TO);
    let quorum = (n * 2 / 3 + 1) as usize;
    let trusted = chain.trusted_state(1);
    let full = chain.light_block(2);
    let picked: HashSet<_> = chain
        .signers(2)
        .iter()
        .take(quorum)
        .map(|k| k.address())
        .collect();
    let quorum_block = chain.light_block_signed_by(2, |a| picked.contains(a));
    let skip_block = chain.light_block(SKIP_TO);
    let digest = full.signed_header.commit.header_hash;
    let sigs = |b: &LightBlock| -> Vec<Signature65> {
        b.signed_header
            .commit
            .signatures
            .iter()
            .map(|s| s.signature)
            .collect()
    };
    let quorum_plain = quorum_block
        .signed_header
        .commit
        .signatures
        .iter()
        .map(|s| {
            let rec_id = RecoveryId::try_from(i32::from(s.signature.0[64] - 27)).unwrap();
            let sig = RecoverableSignature::from_compact(&s.signature.0[..64], rec_id)
                .unwrap()
                .to_standard();
            let key = quorum_block
                .validators
                .get(&s.validator)
                .expect("signer in set")
                .public_key
                .parse()
                .expect("valid key");
            (sig, key)
        })
        .collect();
    Case {
        n: n as usize,
        quorum,
        now: full.header().time_ms + 1000,
        skip_now: skip_block.header().time_ms + 1000,
        full_sigs: sigs(&full),
        quorum_sigs: sigs(&quorum_block),
        trusted,
        full,
        quorum_block,
        skip_block,
        digest,
        quorum_plain,
    }
}

fn verifier(parallelism: Parallelism) -> Verifier {
    Verifier {
        options: TrustOptions::default(),
        parallelism,
    }
}

fn single_ops(c: &mut Criterion, rec: &Recorder) {
    let cs = case(4);
    let sig = cs.full_sigs[0];
    let msg = Message::from_digest(cs.digest.0);
    let (plain, key) = cs.quorum_plain[0];
    let mut g = c.benchmark_group("secp256k1");
    rec.bench(&mut g, "secp256k1/recover_bare", || {
        recover_bare(black_box(&sig), msg)
    });
    rec.bench(&mut g, "secp256k1/recover_address", || {
        black_box(&sig).recover_address(&cs.digest).unwrap()
    });
    rec.bench(&mut g, "secp256k1/verify_known_key", || {
        black_box(&plain).verify(msg, &key).unwrap()
    });
    g.finish();
}

fn per_size(c: &mut Criterion, rec: &Recorder, cs: &Case) {
    let n = cs.n;
    let seq = verifier(Parallelism::Sequential);
    let par = verifier(Parallelism::Parallel);
    for (v, block, now) in [
        (&seq, &cs.full, cs.now),
        (&seq, &cs.quorum_block, cs.now),
        (&seq, &cs.skip_block, cs.skip_now),
    ] {
        let got = v.verify(&cs.trusted, block, now).expect("block verifies");
        assert_eq!(got.height, block.height());
    }
    assert_eq!(cs.full_sigs.len(), n);
    assert_eq!(cs.quorum_sigs.len(), cs.quorum);

    let msg = Message::from_digest(cs.digest.0);
    let mut g = c.benchmark_group(format!("headers_n{n}"));
    let key = |id: &str| format!("n{n}/{id}");

    rec.bench(&mut g, &key("verify_full_seq"), || {
        seq.verify(&cs.trusted, black_box(&cs.full), cs.now)
            .unwrap()
    });
    rec.bench(&mut g, &key("verify_full_par"), || {
        par.verify(&cs.trusted, black_box(&cs.full), cs.now)
            .unwrap()
    });
    rec.bench(&mut g, &key("verify_quorum_seq"), || {
        seq.verify(&cs.trusted, black_box(&cs.quorum_block), cs.now)
            .unwrap()
    });
    rec.bench(&mut g, &key("verify_quorum_par"), || {
        par.verify(&cs.trusted, black_box(&cs.quorum_block), cs.now)
            .unwrap()
    });
    rec.bench(&mut g, &key("skip_full_seq"), || {
        seq.verify(&cs.trusted, black_box(&cs.skip_block), cs.skip_now)
            .unwrap()
    });
    rec.bench(&mut g, &key("skip_full_par"), || {
        par.verify(&cs.trusted, black_box(&cs.skip_block), cs.skip_now)
            .unwrap()
    });

    // Baselines: the same signatures, recovered or verified back to back on one core.
    rec.bench(&mut g, &key("recover_bare_full"), || {
        for s in black_box(&cs.full_sigs) {
            black_box(recover_bare(s, msg));
        }
    });
    rec.bench(&mut g, &key("recover_address_full"), || {
        for s in black_box(&cs.full_sigs) {
            black_box(s.recover_address(&cs.digest).unwrap());
        }
    });
    rec.bench(&mut g, &key("recover_bare_quorum"), || {
        for s in black_box(&cs.quorum_sigs) {
            black_box(recover_bare(s, msg));
        }
    });
    rec.bench(&mut g, &key("verify_known_key_quorum"), || {
        for (s, k) in black_box(&cs.quorum_plain) {
            s.verify(msg, k).unwrap();
        }
    });
    g.finish();
}

fn summary(rec: &Recorder, cases: &[Case]) {
    let m = |k: &str| rec.median(k).unwrap_or(f64::NAN);
    let us = |ns: f64| format!("{:.1}", ns / 1e3);
    let (one_rec, one_addr, one_ver) = (
        m("secp256k1/recover_bare"),
        m("secp256k1/recover_address"),
        m("secp256k1/verify_known_key"),
    );
    eprintln!();
    eprintln!("== header verification summary (medians of criterion samples) ==");
    eprintln!(
        "one recovery (bare secp256k1): {} us; recover_address: {} us; verify with known key: {} us",
        us(one_rec),
        us(one_addr),
        us(one_ver)
    );
    eprintln!(
        "{:>4} {:>4} | {:>9} {:>9} {:>7} | {:>9} {:>9} {:>7} | {:>10} {:>10} {:>6} {:>6} | {:>10} {:>10} {:>6} {:>6} | {:>9} {:>9}",
        "n", "q",
        "full seq", "full par", "speedup",
        "q seq", "q par", "speedup",
        "n*rec", "rec loop", "x", "x addr",
        "q*rec", "q*verify", "x rec", "x ver",
        "skip seq", "skip par",
    );
    for cs in cases {
        let k = |id: &str| m(&format!("n{}/{id}", cs.n));
        let (fs, fp, qs, qp) = (
            k("verify_full_seq"),
            k("verify_full_par"),
            k("verify_quorum_seq"),
            k("verify_quorum_par"),
        );
        let n_rec = cs.n as f64 * one_rec;
        let rec_loop = k("recover_bare_full");
        let addr_loop = k("recover_address_full");
        let q_rec = k("recover_bare_quorum");
        let q_ver = k("verify_known_key_quorum");
        eprintln!(
            "{:>4} {:>4} | {:>9} {:>9} {:>6.2}x | {:>9} {:>9} {:>6.2}x | {:>10} {:>10} {:>5.3}x {:>5.3}x | {:>10} {:>10} {:>5.3}x {:>5.2}x | {:>9} {:>9}",
            cs.n,
            cs.quorum,
            us(fs),
            us(fp),
            fs / fp,
            us(qs),
            us(qp),
            qs / qp,
            us(n_rec),
            us(rec_loop),
            fs / rec_loop,
            fs / addr_loop,
            us(q_rec),
            us(q_ver),
            qs / q_rec,
            qs / q_ver,
            us(k("skip_full_seq")),
            us(k("skip_full_par")),
        );
    }
    eprintln!("(times in us; `x` = sequential verify / measured loop of bare recoveries of the same signatures; `x addr` = against recover_address loop; `x rec`/`x ver` = quorum-only verify against q bare recoveries / q known-key verifications)");
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let rec = Recorder::default();
    single_ops(&mut c, &rec);
    let cases: Vec<Case> = SIZES.iter().map(|&n| case(n)).collect();
    for cs in &cases {
        per_size(&mut c, &rec, cs);
    }
    c.final_summary();
    summary(&rec, &cases);
}
