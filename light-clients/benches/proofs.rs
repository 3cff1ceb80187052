//! State-proof verification against the SHA-256 compressions it cannot avoid.
//!
//! For state trees of 1,000 and 100,000 keys (`commitments/beta/{i}` -> 32 bytes, written
//! as version 1 in one `apply`), 64 present and 64 absent keys are proven. Measured:
//! - `StateProof::verify_membership` / `verify_non_membership`, per proof;
//! - `StateProof::verify` with the key and value already hashed (what a batch item holds);
//! - `proof::verify_batch` over the 64 membership proofs, with the items built (key and
//!   value hashed) inside the timed loop, and with prehashed items;
//! - the baseline: one SHA-256 compression (`sha2::compress256` of one 64-byte block), and
//!   for reference `sha256` of 55 bytes (exactly one padded block).
//!
//! Every node hash is `SHA-256(tag ‖ 64 bytes)` = 2 compressions (tags are 13 and 16
//! bytes). A membership proof with k siblings needs 1 (key, < 56 bytes), 1 (32-byte value),
//! 2 (leaf) and 2k (internal nodes) compressions. A batch needs each distinct node of the
//! union of the paths once. After criterion's own report a summary per tree size is printed to stderr, using
//! the medians of criterion's samples.

#[path = "support/recorder.rs"]
mod recorder;

use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use recorder::{Recorder, SAMPLES};
use sha2::digest::generic_array::GenericArray;
use xrelay_light_client::prover::{MemoryTreeStore, StateTree};
use xrelay_light_client::{sha256, verify_batch, BatchItem, Hash32, StateProof};

const SIZES: [usize; 2] = [1_000, 100_000];
const SAMPLED: usize = 64;

fn key_of(i: usize) -> Vec<u8> {
    format!("commitments/beta/{i}").into_bytes()
}

fn value_of(i: usize) -> Vec<u8> {
    sha256(&(i as u64).to_be_bytes()).0.to_vec()
}

struct Sample {
    key: Vec<u8>,
    value: Vec<u8>,
    key_hash: Hash32,
    value_hash: Hash32,
    proof: StateProof,
}

struct Tree {
    size: usize,
    root: Hash32,
    present: Vec<Sample>,
    absent: Vec<Sample>,
}

fn build(size: usize) -> Tree {
    let store = MemoryTreeStore::new();
    let tree = StateTree::new(&store);
    // The prover wants consecutive versions from 0: an empty genesis, then every key at
    // version 1 in one `apply`.
    tree.apply(0, std::iter::empty()).expect("genesis");
    let start = Instant::now();
    let root = tree
        .apply(1, (0..size).map(|i| (key_of(i), Some(value_of(i)))))
        .expect("apply");
    eprintln!(
        "state tree of {size} keys built in {:.2} s ({} nodes)",
        start.elapsed().as_secs_f64(),
        store.node_count()
    );
    assert_eq!(tree.root(1).expect("root"), root);
    let sample = |i: usize| {
        let key = key_of(i);
        let (value, proof) = tree.prove(&key, 1).expect("prove");
        let value = value.unwrap_or_default();
        Sample {
            key_hash: sha256(&key),
            value_hash: sha256(&value),
            key,
            value,
            proof,
        }
    };
    let step = size / SAMPLED;
    let present: Vec<Sample> = (0..SAMPLED).map(|j| sample(j * step + step / 2)).collect();
    let absent: Vec<Sample> = (0..SAMPLED).map(|j| sample(size + j)).collect();
    for s in &present {
        s.proof
            .verify_membership(&root, &s.key, &s.value)
            .expect("membership");
    }
    for s in &absent {
        assert!(s.value.is_empty());
        s.proof
            .verify_non_membership(&root, &s.key)
            .expect("non-membership");
    }
    Tree {
        size,
        root,
        present,
        absent,
    }
}

/// The first `depth` bits of `key_hash` (names a node on the key's path).
fn prefix(key_hash: &Hash32, depth: usize) -> [u8; 32] {
    let mut out = [0u8; 32];
    let full = depth / 8;
    out[..full].copy_from_slice(&key_hash.0[..full]);
    if !depth.is_multiple_of(8) {
        out[full] = key_hash.0[full] & (0xffu8 << (8 - depth % 8));
    }
    out
}

/// Node hashes (2 compressions each) a batch of membership proofs needs: (distinct nodes on
/// the union of the paths, nodes `verify_batch` actually hashes — it stops a path at the
/// first node already proven, after hashing that node once more).
fn batch_nodes(samples: &[Sample]) -> (usize, usize) {
    let mut union = HashSet::new();
    let mut proven = HashSet::new();
    let mut hashed = 0;
    for s in samples {
        let len = s.proof.siblings.len();
        let path: Vec<(usize, [u8; 32])> = (0..=len)
            .rev()
            .map(|d| (d, prefix(&s.key_hash, d)))
            .collect();
        for node in &path {
            hashed += 1;
            if proven.contains(node) {
                break;
            }
        }
        for node in path {
            union.insert(node);
            proven.insert(node);
        }
    }
    (union.len(), hashed)
}

fn avg_siblings(samples: &[Sample]) -> f64 {
    samples
        .iter()
        .map(|s| s.proof.siblings.len() as f64)
        .sum::<f64>()
        / samples.len() as f64
}

fn baselines(c: &mut Criterion, rec: &Recorder) {
    let block = GenericArray::clone_from_slice(&[0x5a; 64]);
    let blocks = std::slice::from_ref(&block);
    let mut state = [
        0x6a09e667u32,
        0xbb67ae85,
        0x3c6ef372,
        0xa54ff53a,
        0x510e527f,
        0x9b05688c,
        0x1f83d9ab,
        0x5be0cd19,
    ];
    let input = [0x5au8; 55];
    let mut g = c.benchmark_group("sha256");
    rec.bench(&mut g, "sha256/compress256_1_block", || {
        sha2::compress256(black_box(&mut state), black_box(blocks));
    });
    rec.bench(&mut g, "sha256/sha256_55_bytes", || {
        sha256(black_box(&input))
    });
    g.finish();
}

fn per_size(c: &mut Criterion, rec: &Recorder, t: &Tree) {
    let size = t.size;
    let root = t.root;
    let mut g = c.benchmark_group(format!("proofs_{size}"));
    g.throughput(Throughput::Elements(SAMPLED as u64));
    let key = |id: &str| format!("{size}/{id}");

    rec.bench(&mut g, &key("verify_membership_x64"), || {
        for s in black_box(&t.present) {
            s.proof.verify_membership(&root, &s.key, &s.value).unwrap();
        }
    });
    rec.bench(&mut g, &key("verify_non_membership_x64"), || {
        for s in black_box(&t.absent) {
            s.proof.verify_non_membership(&root, &s.key).unwrap();
        }
    });
    rec.bench(&mut g, &key("verify_prehashed_x64"), || {
        for s in black_box(&t.present) {
            s.proof
                .verify(&root, &s.key_hash, Some(&s.value_hash))
                .unwrap();
        }
    });
    rec.bench(&mut g, &key("verify_batch_x64"), || {
        let items: Vec<BatchItem<'_>> = black_box(&t.present)
            .iter()
            .map(|s| BatchItem {
                key_hash: sha256(&s.key),
                value_hash: Some(sha256(&s.value)),
                proof: &s.proof,
            })
            .collect();
        verify_batch(&root, &items).unwrap();
    });
    let prehashed: Vec<BatchItem<'_>> = t
        .present
        .iter()
        .map(|s| BatchItem {
            key_hash: s.key_hash,
            value_hash: Some(s.value_hash),
            proof: &s.proof,
        })
        .collect();
    rec.bench(&mut g, &key("verify_batch_prehashed_x64"), || {
        verify_batch(&root, black_box(&prehashed)).unwrap();
    });
    g.finish();
}

fn summary(rec: &Recorder, trees: &[Tree]) {
    let m = |k: &str| rec.median(k).unwrap_or(f64::NAN);
    let comp = m("sha256/compress256_1_block");
    eprintln!();
    eprintln!("== state proof summary (medians of criterion samples, {SAMPLED} proofs each) ==");
    eprintln!(
        "one compression (sha2::compress256, 1 block): {comp:.1} ns; sha256(55 bytes): {:.1} ns",
        m("sha256/sha256_55_bytes")
    );
    for t in trees {
        let k = |id: &str| m(&format!("{}/{id}", t.size));
        let per = |id: &str| k(id) / SAMPLED as f64;
        let sib = avg_siblings(&t.present);
        let sib_absent = avg_siblings(&t.absent);
        let with_leaf = t.absent.iter().filter(|s| s.proof.leaf.is_some()).count();
        // Membership: key 1 + value 1 + leaf 2 + 2 per sibling.
        let need_member = 4.0 + 2.0 * sib;
        let need_member_pre = 2.0 + 2.0 * sib;
        // Non-membership: key 1 + (other leaf 2) + 2 per sibling.
        let need_absent = 1.0 + 2.0 * with_leaf as f64 / SAMPLED as f64 + 2.0 * sib_absent;
        let (distinct, hashed) = batch_nodes(&t.present);
        let need_batch_pre = 2.0 * distinct as f64 / SAMPLED as f64;
        let need_batch = need_batch_pre + 2.0;
        let done_batch_pre = 2.0 * hashed as f64 / SAMPLED as f64;
        eprintln!(
            "-- {} keys: avg siblings {sib:.2} (present), {sib_absent:.2} (absent, {with_leaf}/{SAMPLED} end at another leaf)",
            t.size
        );
        eprintln!(
            "   {:<28} {:>12} {:>12} {:>12} {:>7}",
            "per proof", "compressions", "measured ns", "raw ns", "ratio"
        );
        let row = |name: &str, need: f64, ns: f64| {
            eprintln!(
                "   {name:<28} {need:>12.2} {ns:>12.0} {:>12.0} {:>6.2}x",
                need * comp,
                ns / (need * comp)
            );
        };
        row(
            "verify_membership",
            need_member,
            per("verify_membership_x64"),
        );
        row(
            "verify_non_membership",
            need_absent,
            per("verify_non_membership_x64"),
        );
        row(
            "verify (prehashed)",
            need_member_pre,
            per("verify_prehashed_x64"),
        );
        row(
            "verify_batch (hashing k,v)",
            need_batch,
            per("verify_batch_x64"),
        );
        row(
            "verify_batch (prehashed)",
            need_batch_pre,
            per("verify_batch_prehashed_x64"),
        );
        eprintln!(
            "   batch: {distinct} distinct nodes on the union of paths, verify_batch hashes {hashed} ({done_batch_pre:.2} compressions per proof prehashed); batch needs {:.0}% of the per-proof compressions",
            100.0 * need_batch_pre / need_member_pre
        );
    }
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let rec = Recorder::default();
    baselines(&mut c, &rec);
    let trees: Vec<Tree> = SIZES.iter().map(|&n| build(n)).collect();
    for t in &trees {
        per_size(&mut c, &rec, t);
    }
    c.final_summary();
    summary(&rec, &trees);
}
