//! What the light client does, end to end, on generated data: follow a chain whose
//! validator set rotates across 10,000 heights with a handful of headers, check message
//! commitments against the verified state root (one by one and batched), refuse a forged
//! proof, and freeze on a fork. Run: `cargo run --release -p xrelay-light-client --example walkthrough`.

use std::time::Instant;

use xrelay_light_client::prover::{MemoryTreeStore, StateTree};
use xrelay_light_client::testkit::{rotating_set, ChainSpec, TestChain};
use xrelay_light_client::{
    paths, ChainId, ClientState, Hash32, Message, Misbehaviour, ProofClaim, Timeout, TrustOptions,
};

const HEIGHTS: u64 = 10_000;
const MESSAGES: u64 = 10_000;
const CHECKED: u64 = 500;

fn main() {
    let started = Instant::now();
    let alpha = ChainId::new("alpha").unwrap_or_else(|e| panic!("{e}"));
    let beta = ChainId::new("beta").unwrap_or_else(|e| panic!("{e}"));

    // 1. The source chain: 21 validators, one replaced every 250 heights.
    let t = Instant::now();
    let chain = TestChain::new(ChainSpec::new("alpha", rotating_set(21, 250, 10)), HEIGHTS);
    println!(
        "chain alpha: {HEIGHTS} headers, 21 validators, one replaced every 250 heights ({} sets in all), built in {:.0?}",
        HEIGHTS / 250 + 21,
        t.elapsed()
    );

    // 2. A client that trusts height 1 reaches the tip by bisection.
    let mut client = ClientState::new(chain.trusted_state(1), TrustOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let now = chain.time_at(HEIGHTS) + 1_000;
    let t = Instant::now();
    let mut source = &chain;
    let path = client
        .update_to(HEIGHTS, &mut source, now)
        .unwrap_or_else(|e| panic!("{e}"));
    let bisect_time = t.elapsed();
    println!(
        "bisection 1 -> {HEIGHTS}: {} light blocks fetched, {} headers to submit on-chain, {:.1?}",
        chain.fetches(),
        path.len(),
        bisect_time
    );

    // 3. The source's state: MESSAGES commitments under commitments/beta/{seq}.
    let t = Instant::now();
    let store = MemoryTreeStore::new();
    let tree = StateTree::new(&store);
    let messages: Vec<Message> = (1..=MESSAGES)
        .map(|seq| Message {
            source: alpha.clone(),
            destination: beta.clone(),
            sequence: seq,
            sender: vec![0x11; 20],
            receiver: "echo".into(),
            payload: format!("hello #{seq}").into_bytes(),
            timeout: Timeout {
                height: 1_000_000,
                time_ms: 0,
            },
        })
        .collect();
    let root = tree
        .apply(
            0,
            messages.iter().map(|m| {
                (
                    paths::commitment(&beta, m.sequence),
                    Some(m.commitment().0.to_vec()),
                )
            }),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    println!(
        "state tree: {MESSAGES} message commitments, root {root}, built in {:.0?}",
        t.elapsed()
    );

    // A client of a chain whose header commits to that root (height 1 of a small chain).
    let gamma = TestChain::new(ChainSpec::new("alpha", rotating_set(4, 1_000, 1)), 2);
    let mut trusted = gamma.trusted_state(1);
    trusted.state_root = root;
    let state_client =
        ClientState::new(trusted, TrustOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let proof_now = gamma.time_at(1) + 1_000;

    let proofs: Vec<_> = messages
        .iter()
        .take(CHECKED as usize)
        .map(|m| {
            let key = paths::commitment(&beta, m.sequence);
            let (_, proof) = tree.prove(&key, 0).unwrap_or_else(|e| panic!("{e}"));
            (key, m.commitment().0.to_vec(), proof)
        })
        .collect();
    let t = Instant::now();
    for (key, value, proof) in &proofs {
        state_client
            .verify_membership(1, key, value, proof, proof_now)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let single = t.elapsed();
    let claims: Vec<ProofClaim<'_>> = proofs
        .iter()
        .map(|(k, v, p)| ProofClaim {
            key: k,
            value: Some(v),
            proof: p,
        })
        .collect();
    let t = Instant::now();
    state_client
        .verify_batch(1, &claims, proof_now)
        .unwrap_or_else(|e| panic!("{e}"));
    let batched = t.elapsed();
    println!(
        "proofs: {CHECKED} commitments verified one by one in {:.1?} ({:.1} us each), batched in {:.1?} ({:.1} us each)",
        single,
        single.as_secs_f64() * 1e6 / CHECKED as f64,
        batched,
        batched.as_secs_f64() * 1e6 / CHECKED as f64
    );

    // 4. Forgeries are refused with the rule that caught them.
    let (key, _, proof) = &proofs[0];
    let forged = state_client.verify_membership(1, key, b"a payload never sent", proof, proof_now);
    println!(
        "forged payload:      refused: {}",
        forged.err().map(|e| e.to_string()).unwrap_or_default()
    );
    let absent = paths::commitment(&beta, MESSAGES + 1);
    let (_, absent_proof) = tree.prove(&absent, 0).unwrap_or_else(|e| panic!("{e}"));
    let never_sent =
        state_client.verify_membership(1, &absent, &[0u8; 32], &absent_proof, proof_now);
    println!(
        "message never sent:  refused: {}",
        never_sent.err().map(|e| e.to_string()).unwrap_or_default()
    );

    // 5. A fork: the validators of the first bisection height sign a second header there;
    //    the evidence verifies from the trusted state and the client freezes.
    let fork_height = path.first().map(|b| b.height()).unwrap_or(HEIGHTS);
    let evidence = Misbehaviour {
        trusted_height: 1,
        trusted_next_validators: chain.validators(2).clone(),
        first: chain.light_block(fork_height),
        second: chain.conflicting_light_block(fork_height, |h| h.state_root = Hash32([0xee; 32])),
    };
    let kind = client
        .submit_misbehaviour(&evidence, now)
        .unwrap_or_else(|e| panic!("{e}"));
    let after = client.update(&[chain.light_block(HEIGHTS)], now);
    println!(
        "fork at height {fork_height}: evidence {} accepted ({kind:?}); client frozen, next update: {}",
        evidence.hash(),
        after.err().map(|e| e.to_string()).unwrap_or_default()
    );

    println!();
    println!("summary");
    println!("  headers followed          {HEIGHTS}");
    println!("  light blocks fetched      {}", chain.fetches());
    println!("  headers for on-chain      {}", path.len());
    println!("  proofs verified           {}", 2 * CHECKED);
    println!("  forgeries refused         2 of 2");
    println!("  fork detected, frozen     {}", client.frozen().is_some());
    println!("  total time                {:.1?}", started.elapsed());
}
