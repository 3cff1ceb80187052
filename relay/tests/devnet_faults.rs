//! Nodes started with `--fault` serve what a faulty chain would; an honest chain (its
//! on-chain light client) refuses every one of them, and the conflicting header becomes
//! misbehaviour evidence that freezes the client.

mod common;

use std::time::{Duration, Instant};

use common::*;
use xrelay_devchain::tx::Tx;
use xrelay_devchain::Event;
use xrelay_light_client::{paths, Message, Misbehaviour};
use xrelay_protocol::{InboundMessage, RelayTx, SourceProof};

/// Submitting `tx` fails, in the mempool or in its block, with a reason containing `why`.
async fn refused(node: &Node, tx: &Tx, why: &str) {
    let reason = match node.rpc.submit(tx, WAIT).await {
        Err(e) => e.to_string(),
        Ok(included) => match included.outcome {
            Err(e) => e,
            Ok(report) => panic!("{} was accepted: {report:?}", tx.kind()),
        },
    };
    assert!(
        reason.contains(why),
        "{} refused for {reason:?}, expected {why:?}",
        tx.kind()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_are_refused() {
    let bad = spawn("bad", &["--memory", "--fault", "bad-signature"]);
    let honest = spawn("honest", &["--memory"]);
    honest.create_client_of(&bad).await;
    let h = bad.wait_height(bad.height().await + 1).await;
    let served = bad.rpc.light_block(h).await.unwrap();
    let canonical = bad.rpc.canonical_light_block(h).await.unwrap();
    assert_eq!(
        served.header(),
        canonical.header(),
        "same header, corrupted commit"
    );
    assert_ne!(served.signed_header.commit, canonical.signed_header.commit);
    refused(
        &honest,
        &Tx::Relay(RelayTx::UpdateClient {
            chain: bad.chain.clone(),
            blocks: vec![served],
        }),
        "signature",
    )
    .await;
    // The canonical block is accepted: the client was not harmed by the attempt.
    honest
        .submit_ok(&Tx::Relay(RelayTx::UpdateClient {
            chain: bad.chain.clone(),
            blocks: vec![canonical],
        }))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_proofs_are_refused() {
    let forger = spawn("forger", &["--memory", "--fault", "forged-proof"]);
    let honest = spawn("honest", &["--memory"]);
    honest.create_client_of(&forger).await;
    forger.create_client_of(&honest).await;
    let u0 = user(0);
    let served_send = sent(
        &forger
            .submit_ok(&echo_tx(&forger, &u0, 0, &honest.chain, b"real"))
            .await,
    );
    // What was really sent (the forger's answers all carry the altered payload).
    let real = Message {
        payload: b"real".to_vec(),
        ..served_send.clone()
    };
    assert_ne!(served_send.payload, real.payload);
    // The event stream serves the message with an altered payload too.
    let h = forger.height().await;
    let served = forger.rpc.events(h.saturating_sub(20), h).await.unwrap();
    let altered = served
        .iter()
        .find_map(|e| match &e.event {
            Event::MessageSent { message } if message.sequence == real.sequence => {
                Some(message.clone())
            }
            _ => None,
        })
        .expect("the send is served");
    assert_ne!(altered.payload, real.payload);

    let ph = honest.update_client_of(&forger).await;
    // The altered message with the proof served for its commitment (an altered value).
    let served_real = forger
        .rpc
        .proof(&paths::commitment(&honest.chain, 1), ph)
        .await
        .unwrap();
    assert_ne!(served_real.value.as_deref(), Some(&real.commitment().0[..]));
    let recv = |message: Message, proof| {
        Tx::Relay(RelayTx::Recv {
            source: forger.chain.clone(),
            proof_height: ph,
            messages: vec![InboundMessage {
                message,
                shows: SourceProof::Committed,
                proof,
            }],
        })
    };
    refused(&honest, &recv(altered, served_real.proof.clone()), "proof").await;
    // The real message with the real proof still goes through: the refusal changed nothing.
    let evs = honest
        .submit_ok(&recv(real.clone(), served_real.proof))
        .await;
    assert!(
        matches!(evs[..], [Event::MessageReceived { .. }]),
        "{evs:?}"
    );
    // A message never sent (sequence 2), with the forger's "membership" claim for it.
    let ghost = Message {
        sequence: 2,
        payload: b"ghost".to_vec(),
        ..real
    };
    let claim = forger
        .rpc
        .proof(&paths::commitment(&honest.chain, 2), ph)
        .await
        .unwrap();
    assert!(claim.value.is_some(), "the forger claims sequence 2 exists");
    refused(&honest, &recv(ghost, claim.proof), "proof").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_header_is_evidence_that_freezes_the_client() {
    let byz = spawn("byz", &["--memory", "--fault", "conflicting-header:4"]);
    let honest = spawn("honest", &["--memory"]);
    honest.create_client_of(&byz).await;
    let trusted = honest
        .rpc
        .client_state(&byz.chain)
        .await
        .unwrap()
        .unwrap()
        .latest_height();
    let target = (trusted / 4 + 1) * 4;
    byz.wait_height(target + 1).await;
    let forged = byz.rpc.forged_light_block(target).await.unwrap();
    let canonical = byz.rpc.light_block(target).await.unwrap();
    assert_eq!(
        canonical,
        byz.rpc.canonical_light_block(target).await.unwrap(),
        "served by default"
    );
    assert_ne!(forged.header().hash(), canonical.header().hash());
    // Off the fault's heights there is nothing to forge.
    assert_eq!(
        byz.rpc.forged_light_block(target + 1).await.unwrap(),
        byz.rpc.light_block(target + 1).await.unwrap()
    );
    // An attacker hands the forged header to the honest chain: it verifies on its own (the
    // validators signed it) ...
    honest
        .submit_ok(&Tx::Relay(RelayTx::UpdateClient {
            chain: byz.chain.clone(),
            blocks: vec![forged.clone()],
        }))
        .await;
    // ... but the chain continues from the canonical one: the next header does not link.
    let next = byz.rpc.light_block(target + 1).await.unwrap();
    refused(
        &honest,
        &Tx::Relay(RelayTx::UpdateClient {
            chain: byz.chain.clone(),
            blocks: vec![next],
        }),
        "parent",
    )
    .await;
    // The forged header is in the honest chain's block, where anyone can fetch it.
    let h = honest.height().await;
    let mut found = None;
    for height in (1..=h).rev().take(40) {
        for tx in honest.rpc.block_txs(height).await.unwrap() {
            if let Tx::Relay(RelayTx::UpdateClient { blocks, .. }) = tx {
                found = found.or(blocks.into_iter().find(|b| b.height() == target));
            }
        }
    }
    assert_eq!(found.as_ref(), Some(&forged));
    // Both headers together are evidence anyone can re-verify; the client freezes.
    let state = honest.rpc.client_state(&byz.chain).await.unwrap().unwrap();
    let consensus = state.consensus_state(trusted).expect("trusted height kept");
    let trusted_block = byz.rpc.canonical_light_block(trusted).await.unwrap();
    assert_eq!(
        consensus.next_validators_hash,
        trusted_block.next_validators.hash()
    );
    let evidence = Misbehaviour {
        trusted_height: trusted,
        trusted_next_validators: trusted_block.next_validators.clone(),
        first: forged,
        second: canonical.clone(),
    };
    let evs = honest
        .submit_ok(&Tx::Relay(RelayTx::SubmitMisbehaviour {
            chain: byz.chain.clone(),
            evidence: Box::new(evidence),
        }))
        .await;
    assert!(matches!(evs[..], [Event::ClientFrozen { .. }]), "{evs:?}");
    let state = honest.rpc.client_state(&byz.chain).await.unwrap().unwrap();
    assert!(state.frozen().is_some());
    // A frozen client takes nothing, not even honest headers.
    refused(
        &honest,
        &Tx::Relay(RelayTx::UpdateClient {
            chain: byz.chain.clone(),
            blocks: vec![canonical],
        }),
        "frozen",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withholding_stops_blocks_for_a_while() {
    let node = spawn("slow", &["--memory", "--fault", "withhold:1500:3"]);
    node.wait_height(3).await;
    let stalled_at = Instant::now();
    let h = node.height().await;
    assert_eq!(h, 3, "produced past the pause point");
    node.wait_height(4).await;
    let paused = stalled_at.elapsed();
    assert!(
        paused >= Duration::from_millis(1_000),
        "paused only {paused:?}"
    );
}
