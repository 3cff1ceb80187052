//! `core::lane`: ordered delivery exactly once, batches (size, a foreign mesh window),
//! timeouts with non-membership proofs, acks, and what faulty chains cannot make it do.

use xrelay_devchain::module::query::SentStatus;

use super::*;
use crate::mesh::work_item;
use crate::store::Status;
use crate::testkit::{Forgery, Options};
use xrelay_adapters::AdapterError;

#[tokio::test]
async fn a_message_is_delivered_and_its_ack_settles_it_on_the_source() {
    let (a, b, h) = pair().await;
    let m = a.send(b.id(), b"hello", NEVER).unwrap();
    let r = h.settle(10).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(b.received(a.id(), m.sequence));
    assert_eq!(
        a.sent_status(b.id(), m.sequence),
        Some(SentStatus::Settled(Outcome::Acknowledged))
    );
    assert_eq!(
        h.status(a.id(), b.id(), m.sequence),
        Some(Status::Acknowledged)
    );
}

#[tokio::test]
async fn many_messages_are_delivered_in_lane_order_exactly_once() {
    let (a, b, h) = pair().await;
    a.send_many(b.id(), 12, NEVER).unwrap();
    let r = h.settle(10).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(received_sequences(&b, a.id()), (1..=12).collect::<Vec<_>>());
    assert_eq!(b.next_receive(a.id()), 13);
    assert_eq!(acknowledged(&a, b.id()), 12);
    for s in 1..=12 {
        assert_eq!(
            h.status(a.id(), b.id(), s),
            Some(Status::Acknowledged),
            "{s}"
        );
    }
}

#[tokio::test]
async fn a_pass_delivers_at_most_max_batch_messages_in_one_transaction() {
    let chains = net(&["a", "b"]).unwrap();
    let (a, b) = (chains[0].clone(), chains[1].clone());
    let h = Harness::start(
        &chains,
        Options {
            max_batch: 3,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    a.send_many(b.id(), 7, NEVER).unwrap();
    h.scan().await.unwrap();
    let pass = h.relay_lane(a.id(), b.id()).await.unwrap();
    // One delivery of three, then the ack of those three.
    assert_eq!(pass.submitted, 2);
    assert_eq!(received_sequences(&b, a.id()), vec![1, 2, 3]);
    let r = h.settle(20).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(received_sequences(&b, a.id()), (1..=7).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_backlog_larger_than_a_block_drains_in_smaller_batches() {
    let chains = net(&["a", "b"]).unwrap();
    let (a, b) = (chains[0].clone(), chains[1].clone());
    let h = Harness::start(&chains, Options::default()).await.unwrap();
    // b's blocks hold 5 messages per transaction, a's 3: a backlog of 40 must still move.
    b.limit_block_items(5);
    a.limit_block_items(3);
    a.send_many(b.id(), 40, NEVER).unwrap();
    h.scan().await.unwrap();
    let first = h.relay_lane(a.id(), b.id()).await;
    assert!(first.is_err(), "the first batch of 40 cannot fit");
    assert!(received_sequences(&b, a.id()).is_empty());
    // A pass that only learned a smaller batch submits nothing: keep stepping (bounded).
    let mut errors = Vec::new();
    for _ in 0..40 {
        let r = h.settle(50).await;
        errors.extend(r.errors);
        if h.status(a.id(), b.id(), 40) == Some(Status::Acknowledged) {
            break;
        }
    }
    assert_eq!(received_sequences(&b, a.id()), (1..=40).collect::<Vec<_>>());
    for s in 1..=40 {
        assert_eq!(
            h.status(a.id(), b.id(), s),
            Some(Status::Acknowledged),
            "{s}"
        );
    }
    // Halving finds each chain's size in a few refusals, and growing stays below the
    // size that last failed: no endless refuse-and-retry cycle.
    assert!(
        errors.len() <= 10,
        "halving converges in a few passes: {errors:?}"
    );
    assert!(errors
        .iter()
        .all(|e| matches!(e, RelayError::Adapter(AdapterError::TooLarge { .. }))));
}

#[tokio::test]
async fn a_batch_stops_at_the_first_window_another_mesh_member_owns() {
    let chains = net(&["a", "b"]).unwrap();
    let (a, b) = (chains[0].clone(), chains[1].clone());
    let h = Harness::start(
        &chains,
        Options {
            mesh_peers: 3,
            window: 1,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let n = 12u64;
    a.send_many(b.id(), n as usize, NEVER).unwrap();
    let first_foreign = (1..=n)
        .find(|s| !h.membership.owns(&work_item("deliver", "a", "b", *s, 1)))
        .unwrap_or(n + 1);
    h.scan().await.unwrap();
    h.relay_lane(a.id(), b.id()).await.unwrap();
    // Everything below the foreign window, nothing from it on (another member delivers it).
    assert_eq!(
        received_sequences(&b, a.id()),
        (1..first_foreign).collect::<Vec<_>>()
    );
    assert_eq!(b.next_receive(a.id()), first_foreign);
    if first_foreign <= n {
        assert_eq!(
            h.status(a.id(), b.id(), first_foreign),
            Some(Status::Pending)
        );
    }
}

#[tokio::test]
async fn both_directions_of_a_pair_are_relayed() {
    let (a, b, h) = pair().await;
    let ab = a.send(b.id(), b"to b", NEVER).unwrap();
    let ba = b.send(a.id(), b"to a", NEVER).unwrap();
    let r = h.settle(10).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(
        h.status(a.id(), b.id(), ab.sequence),
        Some(Status::Acknowledged)
    );
    assert_eq!(
        h.status(b.id(), a.id(), ba.sequence),
        Some(Status::Acknowledged)
    );
    assert_eq!(received_sequences(&a, b.id()), vec![1]);
    assert_eq!(received_sequences(&b, a.id()), vec![1]);
}

#[tokio::test]
async fn three_chains_relay_all_six_lanes() {
    let (chains, h) = triple().await;
    for src in &chains {
        for dst in &chains {
            if src.id() != dst.id() {
                src.send_many(dst.id(), 2, NEVER).unwrap();
            }
        }
    }
    let r = h.settle(20).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    for src in &chains {
        for dst in &chains {
            if src.id() != dst.id() {
                assert_eq!(received_sequences(dst, src.id()), vec![1, 2]);
                assert_eq!(acknowledged(src, dst.id()), 2);
            }
        }
    }
}

#[tokio::test]
async fn a_message_past_its_timeout_is_timed_out_with_a_proven_absent_receipt() {
    let (a, b, h) = pair().await;
    let m = a.send(b.id(), b"late", at(b.height() + 2)).unwrap();
    // The destination passes the timeout height before the relayer looks.
    b.produce_n(3).unwrap();
    let r = h.settle(10).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(!b.received(a.id(), m.sequence));
    assert_eq!(
        a.sent_status(b.id(), m.sequence),
        Some(SentStatus::Settled(Outcome::TimedOut))
    );
    // The destination lane moved past it, so the record is closed.
    assert_eq!(b.next_receive(a.id()), 2);
    assert_eq!(h.status(a.id(), b.id(), m.sequence), Some(Status::Closed));
}

#[tokio::test]
async fn a_timed_out_message_does_not_hold_back_the_ones_after_it() {
    let (a, b, h) = pair().await;
    a.send(b.id(), b"late", at(b.height() + 1)).unwrap();
    a.send(b.id(), b"fine", NEVER).unwrap();
    b.produce_n(2).unwrap();
    let r = h.settle(15).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(!b.received(a.id(), 1));
    assert!(b.received(a.id(), 2));
    assert_eq!(h.status(a.id(), b.id(), 1), Some(Status::Closed));
    assert_eq!(h.status(a.id(), b.id(), 2), Some(Status::Acknowledged));
}

#[tokio::test]
async fn a_message_before_its_timeout_is_delivered_not_timed_out() {
    let (a, b, h) = pair().await;
    let m = a.send(b.id(), b"in time", at(b.height() + 50)).unwrap();
    let r = h.settle(10).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(b.received(a.id(), m.sequence));
    assert_eq!(
        h.status(a.id(), b.id(), m.sequence),
        Some(Status::Acknowledged)
    );
}

#[tokio::test]
async fn an_idle_lane_submits_nothing_and_a_settled_one_nothing_more() {
    let (a, b, h) = pair().await;
    let (ha, hb) = (a.height(), b.height());
    assert_eq!(h.step().await.submitted, 0);
    assert_eq!((a.height(), b.height()), (ha, hb));
    a.send(b.id(), b"x", NEVER).unwrap();
    assert!(h.settle(10).await.submitted > 0);
    let (ha, hb) = (a.height(), b.height());
    let again = h.step().await;
    assert_eq!(again.submitted, 0, "{:?}", again.errors);
    assert_eq!((a.height(), b.height()), (ha, hb));
}

#[tokio::test]
async fn nothing_is_relayed_from_a_chain_the_relayer_froze() {
    let (a, b, h) = pair().await;
    h.handle(a.id()).freeze();
    a.send(b.id(), b"x", NEVER).unwrap();
    h.settle(5).await;
    assert_eq!(b.next_receive(a.id()), 1);
    assert!(received_sequences(&b, a.id()).is_empty());
}

#[tokio::test]
async fn a_send_in_a_withheld_block_is_relayed_once_the_block_is_served() {
    let (a, b, h) = pair().await;
    a.withhold();
    let m = a.send(b.id(), b"hidden", NEVER).unwrap();
    h.settle(5).await;
    assert_eq!(h.record(a.id(), b.id(), m.sequence), None);
    assert!(!b.received(a.id(), m.sequence));
    assert!(
        h.cursor(a.id()) < a.height(),
        "cursor past a withheld block"
    );
    a.release();
    let r = h.settle(10).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(received_sequences(&b, a.id()), vec![m.sequence]);
}

#[tokio::test]
async fn a_destination_withholding_its_blocks_gets_each_message_once_after_release() {
    let (a, b, h) = pair().await;
    a.send_many(b.id(), 3, NEVER).unwrap();
    b.withhold();
    let r = h.step().await;
    // The delivery was queued but its block is not served: not delivered as far as the
    // relayer knows.
    assert!(!r.errors.is_empty());
    assert_eq!(h.status(a.id(), b.id(), 1), Some(Status::Pending));
    b.release();
    let r = h.settle(10).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(received_sequences(&b, a.id()), vec![1, 2, 3]);
    assert_eq!(acknowledged(&a, b.id()), 3);
}

#[tokio::test]
async fn a_forged_commitment_proof_is_refused_and_nothing_is_delivered() {
    let (a, b, h) = pair().await;
    a.forge_proofs(b"commitments/", Forgery::AlterValue);
    a.send(b.id(), b"x", NEVER).unwrap();
    let r = h.settle(5).await;
    assert!(
        r.errors
            .iter()
            .any(|e| matches!(e, RelayError::Verification { .. })),
        "{:?}",
        r.errors
    );
    assert!(!b.received(a.id(), 1));
    assert_eq!(b.next_receive(a.id()), 1);
    // The honest node again: delivered once.
    a.clear_faults();
    let r = h.settle(10).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(received_sequences(&b, a.id()), vec![1]);
}

#[tokio::test]
async fn a_proof_with_altered_bytes_is_refused_and_counted() {
    let (a, b, h) = pair().await;
    a.forge_proofs(b"commitments/", Forgery::CorruptProof);
    a.send(b.id(), b"x", NEVER).unwrap();
    let r = h.settle(5).await;
    assert!(!r.errors.is_empty());
    assert!(!b.received(a.id(), 1));
    let failures = metric(&h.relay.metrics.verification_failures, &["a", "proof"]);
    assert!(failures > 0);
}

#[tokio::test]
async fn a_source_denying_its_commitment_fails_verification_and_keeps_the_message() {
    let (a, b, h) = pair().await;
    a.forge_proofs(b"commitments/", Forgery::ClaimAbsent);
    let m = a.send(b.id(), b"x", NEVER).unwrap();
    let r = h.settle(3).await;
    // "Absent" with a proof of presence: a verification failure, not a reason to drop.
    assert!(
        r.errors
            .iter()
            .any(|e| matches!(e, RelayError::Verification { .. })),
        "{:?}",
        r.errors
    );
    assert!(!b.received(a.id(), m.sequence));
    assert_eq!(
        metric(&h.relay.metrics.claims_refused, &["a", "never_sent"]),
        0
    );
    assert_eq!(h.status(a.id(), b.id(), m.sequence), Some(Status::Pending));
    // The honest answer again: delivered once.
    a.clear_faults();
    let r = h.settle(10).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(received_sequences(&b, a.id()), vec![m.sequence]);
    assert_eq!(
        h.status(a.id(), b.id(), m.sequence),
        Some(Status::Acknowledged)
    );
}

use crate::core::chain::RelayError;
use xrelay_protocol::Outcome;
