//! `core::ledger` (with `core::claims` in front of it): events move messages forward only,
//! once; a node's made-up events change nothing; a restart from the store resumes without
//! doing anything twice.

use xrelay_adapters::{ChainAdapter, ChainEvent};
use xrelay_light_client::{Acknowledgement, Message};

use super::*;
use crate::store::Status;
use crate::testkit::Options;

fn fake_ack() -> Acknowledgement {
    Acknowledgement::Success(b"made up".to_vec())
}

/// A message `a` never sent: `m` with another sequence and payload.
fn phantom(m: &Message, sequence: u64) -> Message {
    Message {
        sequence,
        payload: b"never sent".to_vec(),
        ..m.clone()
    }
}

#[tokio::test]
async fn a_made_up_reception_on_the_destination_changes_nothing() {
    let (a, b, h) = pair().await;
    let m = a.send(b.id(), b"x", NEVER).unwrap();
    b.lie(ChainEvent::Received {
        height: b.height() + 1,
        message: m.clone(),
        ack: fake_ack(),
    });
    b.produce().unwrap();
    h.scan().await.unwrap();
    assert_eq!(h.status(a.id(), b.id(), m.sequence), Some(Status::Pending));
    assert!(metric(&h.relay.metrics.claims_refused, &["b", "unproven"]) > 0);
    // The real delivery still happens, once.
    let r = h.settle(10).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(received_sequences(&b, a.id()), vec![m.sequence]);
    assert_eq!(
        h.status(a.id(), b.id(), m.sequence),
        Some(Status::Acknowledged)
    );
}

#[tokio::test]
async fn a_made_up_settlement_on_the_source_changes_nothing() {
    let (a, b, h) = pair().await;
    let m = a.send(b.id(), b"x", NEVER).unwrap();
    h.scan().await.unwrap();
    a.lie(ChainEvent::Acknowledged {
        height: a.height() + 1,
        message: m.clone(),
        ack: fake_ack(),
    });
    a.lie(ChainEvent::TimedOut {
        height: a.height() + 1,
        message: m.clone(),
    });
    a.produce().unwrap();
    h.scan().await.unwrap();
    assert_eq!(h.status(a.id(), b.id(), m.sequence), Some(Status::Pending));
    assert!(metric(&h.relay.metrics.claims_refused, &["a", "unproven"]) >= 2);
}

#[tokio::test]
async fn a_made_up_send_is_dropped_when_relayed_and_never_delivered() {
    let (a, b, h) = pair().await;
    let m = a.send(b.id(), b"real", NEVER).unwrap();
    a.lie(ChainEvent::Sent {
        height: a.height(),
        message: phantom(&m, 2),
    });
    h.settle(6).await;
    assert_eq!(received_sequences(&b, a.id()), vec![1]);
    assert!(!b.received(a.id(), 2));
    assert_eq!(b.next_receive(a.id()), 2);
    assert!(metric(&h.relay.metrics.claims_refused, &["a", "never_sent"]) > 0);
    assert_eq!(h.status(a.id(), b.id(), 1), Some(Status::Acknowledged));
}

#[tokio::test]
async fn an_event_in_another_chains_role_is_screened_out() {
    let (a, b, h) = pair().await;
    let m = a.send(b.id(), b"real", NEVER).unwrap();
    // `b` claims a send of `a`'s lane: only `a` can emit that.
    b.lie(ChainEvent::Sent {
        height: b.height(),
        message: phantom(&m, 2),
    });
    h.scan().await.unwrap();
    assert!(h.record(a.id(), b.id(), 1).is_some());
    assert_eq!(h.record(a.id(), b.id(), 2), None);
}

#[tokio::test]
async fn applying_the_same_events_twice_changes_nothing_the_second_time() {
    let (a, b, h) = pair().await;
    a.send_many(b.id(), 3, NEVER).unwrap();
    let events = a.events(1, a.height()).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, ChainEvent::Sent { .. }))
            .count(),
        3
    );
    let first = h.relay.ledger.apply(a.id(), &events, None).await.unwrap();
    assert_eq!(first.sent, 3);
    let second = h.relay.ledger.apply(a.id(), &events, None).await.unwrap();
    assert!(!second.any(), "{second:?}");
    let counts = h.relay.ledger.counts().await;
    assert_eq!(
        counts.get(&(a.id().clone(), b.id().clone(), Status::Pending)),
        Some(&3)
    );
}

#[tokio::test]
async fn a_settled_message_never_moves_back() {
    let (a, b, h) = pair().await;
    let m = a.send(b.id(), b"x", NEVER).unwrap();
    h.settle(10).await;
    assert_eq!(
        h.status(a.id(), b.id(), m.sequence),
        Some(Status::Acknowledged)
    );
    // Every event of both chains seen again.
    let a_events = a.events(1, a.height()).await.unwrap();
    let b_events = b.events(1, b.height()).await.unwrap();
    let again = h.relay.ledger.apply(a.id(), &a_events, None).await.unwrap();
    assert!(!again.any(), "{again:?}");
    let again = h.relay.ledger.apply(b.id(), &b_events, None).await.unwrap();
    assert!(!again.any(), "{again:?}");
    assert_eq!(
        h.status(a.id(), b.id(), m.sequence),
        Some(Status::Acknowledged)
    );
}

#[tokio::test]
async fn lane_counts_follow_the_messages() {
    let (a, b, h) = pair().await;
    a.send_many(b.id(), 5, NEVER).unwrap();
    h.scan().await.unwrap();
    let key = |s| (a.id().clone(), b.id().clone(), s);
    let counts = h.relay.ledger.counts().await;
    assert_eq!(counts.get(&key(Status::Pending)), Some(&5));
    h.settle(10).await;
    let counts = h.relay.ledger.counts().await;
    assert_eq!(counts.get(&key(Status::Pending)).copied().unwrap_or(0), 0);
    assert_eq!(counts.get(&key(Status::Acknowledged)), Some(&5));
}

#[tokio::test]
async fn the_scan_cursor_moves_to_the_served_head_and_stops_there() {
    let (a, _b, h) = pair().await;
    a.produce_n(3).unwrap();
    h.scan().await.unwrap();
    assert_eq!(h.cursor(a.id()), a.height());
    a.withhold();
    a.produce_n(2).unwrap();
    h.scan().await.unwrap();
    assert_eq!(h.cursor(a.id()), a.served_height());
    assert!(h.cursor(a.id()) < a.height());
}

#[tokio::test]
async fn a_restart_after_scanning_delivers_each_message_once() {
    let (a, b, h) = pair().await;
    a.send_many(b.id(), 4, NEVER).unwrap();
    h.scan().await.unwrap();
    let cursor = h.cursor(a.id());
    let h = h.restart().await.unwrap();
    assert_eq!(h.cursor(a.id()), cursor);
    assert_eq!(h.status(a.id(), b.id(), 4), Some(Status::Pending));
    let r = h.settle(10).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(received_sequences(&b, a.id()), vec![1, 2, 3, 4]);
    assert_eq!(acknowledged(&a, b.id()), 4);
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_lane_resumes_where_it_stopped() {
    let chains = net(&["a", "b"]).unwrap();
    let (a, b) = (chains[0].clone(), chains[1].clone());
    let h = Harness::start(
        &chains,
        Options {
            max_batch: 2,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    a.send_many(b.id(), 5, NEVER).unwrap();
    h.scan().await.unwrap();
    h.relay_lane(a.id(), b.id()).await.unwrap();
    assert_eq!(received_sequences(&b, a.id()), vec![1, 2]);
    let h = h.restart().await.unwrap();
    let r = h.settle(20).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(received_sequences(&b, a.id()), vec![1, 2, 3, 4, 5]);
    assert_eq!(acknowledged(&a, b.id()), 5);
}

#[tokio::test]
async fn a_restart_after_everything_settled_submits_nothing() {
    let (a, b, h) = pair().await;
    a.send_many(b.id(), 3, NEVER).unwrap();
    h.settle(10).await;
    let (ha, hb) = (a.height(), b.height());
    let h = h.restart().await.unwrap();
    let r = h.step().await;
    assert_eq!(r.submitted, 0, "{:?}", r.errors);
    assert_eq!((a.height(), b.height()), (ha, hb));
    for s in 1..=3 {
        assert_eq!(h.status(a.id(), b.id(), s), Some(Status::Acknowledged));
    }
}
