//! The ledger's unit tests: forward-only moves, role checks, claims and proven outcomes.

use super::*;
use xrelay_adapters::ChainEvent;
use xrelay_light_client::Timeout;
use xrelay_light_client::{Acknowledgement, Message};
use xrelay_protocol::Outcome;

fn msg(seq: u64) -> Message {
    Message {
        source: "a".parse().unwrap(),
        destination: "b".parse().unwrap(),
        sequence: seq,
        sender: vec![1],
        receiver: "echo".into(),
        payload: vec![],
        timeout: Timeout {
            height: 50,
            time_ms: 0,
        },
    }
}

fn ledger(dir: &std::path::Path) -> Ledger {
    let store = Arc::new(RelayStore::open(dir).unwrap());
    let lanes = [("a".parse().unwrap(), "b".parse().unwrap())]
        .into_iter()
        .collect();
    Ledger::open(store, Metrics::new(), lanes).unwrap()
}

#[tokio::test]
async fn events_move_messages_forward_only_and_repeat_harmlessly() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(dir.path());
    let (a, b): (ChainId, ChainId) = ("a".parse().unwrap(), "b".parse().unwrap());
    let ack = Acknowledgement::Success(vec![1]);
    let sent: Vec<ChainEvent> = (1..=3)
        .map(|s| ChainEvent::Sent {
            height: 5,
            message: msg(s),
        })
        .collect();
    assert_eq!(l.apply(&a, &sent, Some(5)).await.unwrap().sent, 3);
    assert_eq!(
        l.apply(&a, &sent, Some(5)).await.unwrap(),
        Changes::default(),
        "seen before"
    );
    // The ack is seen on the source before the delivery is seen on the destination.
    let acked = [ChainEvent::Acknowledged {
        height: 9,
        message: msg(1),
        ack: ack.clone(),
    }];
    assert_eq!(l.apply(&a, &acked, Some(9)).await.unwrap().acknowledged, 1);
    let received = [
        ChainEvent::Received {
            height: 7,
            message: msg(1),
            ack: ack.clone(),
        },
        ChainEvent::Received {
            height: 7,
            message: msg(2),
            ack,
        },
    ];
    let c = l.apply(&b, &received, Some(7)).await.unwrap();
    assert_eq!(c.delivered, 1, "the acknowledged one does not move back");
    // Message 3 arrives late on b (lane skipped) and then times out on a: closed.
    l.apply(
        &b,
        &[ChainEvent::Expired {
            height: 60,
            message: msg(3),
        }],
        None,
    )
    .await
    .unwrap();
    let c = l
        .apply(
            &a,
            &[ChainEvent::TimedOut {
                height: 12,
                message: msg(3),
            }],
            None,
        )
        .await
        .unwrap();
    assert_eq!((c.timed_out, c.closed), (1, 1));
    let store = l.store();
    assert_eq!(
        store.message(&a, &b, 1).unwrap().unwrap().status,
        Status::Acknowledged
    );
    assert_eq!(
        store.message(&a, &b, 2).unwrap().unwrap().status,
        Status::Delivered
    );
    assert_eq!(
        store.message(&a, &b, 3).unwrap().unwrap().status,
        Status::Closed
    );
    assert_eq!(store.cursor(&a).unwrap(), Some(9));
    drop(l);
    // Counters survive a restart without walking the history.
    let l = ledger(dir.path());
    let counts = l.counts().await;
    assert_eq!(
        counts.get(&(a.clone(), b.clone(), Status::Delivered)),
        Some(&1)
    );
    assert_eq!(
        counts.get(&(a.clone(), b.clone(), Status::Pending)),
        Some(&0)
    );
    assert_eq!(counts.get(&(a, b, Status::Closed)), Some(&1));
}

fn id(s: &str) -> ChainId {
    s.parse().unwrap()
}

fn refused(l: &Ledger, chain: &str, reason: &str) -> u64 {
    l.metrics
        .claims_refused
        .with_label_values(&[chain, reason])
        .get()
}

fn sent(seq: u64, height: Height, payload: &[u8]) -> ChainEvent {
    let mut message = msg(seq);
    message.payload = payload.to_vec();
    ChainEvent::Sent { height, message }
}

#[tokio::test]
async fn events_are_taken_only_from_the_end_of_the_lane_they_describe() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(dir.path());
    let (a, b) = (id("a"), id("b"));
    // b cannot send, acknowledge or time out a message of lane a → b.
    let c = l.apply(&b, &[sent(1, 5, b"x")], Some(5)).await.unwrap();
    assert_eq!(c, Changes::default());
    assert_eq!(l.store().message(&a, &b, 1).unwrap(), None);
    let ack = Acknowledgement::Success(vec![]);
    l.apply(&a, &[sent(1, 5, b"x")], Some(5)).await.unwrap();
    // a cannot receive its own message; b cannot settle it.
    let lies = [
        ChainEvent::Received {
            height: 6,
            message: msg_with(1, b"x"),
            ack: ack.clone(),
        },
        ChainEvent::Expired {
            height: 6,
            message: msg_with(1, b"x"),
        },
    ];
    assert_eq!(l.apply(&a, &lies, None).await.unwrap(), Changes::default());
    let lies = [
        ChainEvent::Acknowledged {
            height: 6,
            message: msg_with(1, b"x"),
            ack,
        },
        ChainEvent::TimedOut {
            height: 6,
            message: msg_with(1, b"x"),
        },
    ];
    assert_eq!(l.apply(&b, &lies, None).await.unwrap(), Changes::default());
    let r = l.store().message(&a, &b, 1).unwrap().unwrap();
    assert_eq!((r.status, r.lane_skipped), (Status::Pending, false));
    assert_eq!(refused(&l, "b", "role"), 3);
    assert_eq!(refused(&l, "a", "role"), 2);
}

fn msg_with(seq: u64, payload: &[u8]) -> Message {
    let mut m = msg(seq);
    m.payload = payload.to_vec();
    m
}

#[tokio::test]
async fn a_second_content_for_a_sequence_is_refused_and_a_dropped_claim_is_reread() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(dir.path());
    let (a, b) = (id("a"), id("b"));
    // A lie first (height 20), the real message later (height 30), with a scan
    // cursor at 40.
    l.apply(&a, &[sent(1, 20, b"lie")], Some(25)).await.unwrap();
    l.apply(&a, &[sent(1, 30, b"real")], Some(40))
        .await
        .unwrap();
    let r = l.store().message(&a, &b, 1).unwrap().unwrap();
    assert_eq!(
        r.message.payload, b"lie",
        "the first claim stays until proven"
    );
    assert_eq!(refused(&l, "a", "conflicting_sent"), 1);
    assert_eq!(r.timeline[0].height, 20);
    // Its proof contradicts it: dropped, and a is re-read from just below the claim.
    assert!(l.drop_claim(&r, "content_mismatch").await.unwrap());
    assert_eq!(l.store().message(&a, &b, 1).unwrap(), None);
    assert_eq!(l.store().cursor(&a).unwrap(), Some(19));
    assert_eq!(
        l.counts()
            .await
            .get(&(a.clone(), b.clone(), Status::Pending)),
        Some(&0)
    );
    assert!(
        !l.drop_claim(&r, "content_mismatch").await.unwrap(),
        "dropped once"
    );
    // A scan that read past the claim before the drop commits: its cursor stops at
    // the rewind.
    l.apply(&a, &[], Some(45)).await.unwrap();
    assert_eq!(l.store().cursor(&a).unwrap(), Some(19));
    // The re-read finds the real message.
    l.apply(&a, &[sent(1, 30, b"real")], Some(45))
        .await
        .unwrap();
    let r = l.store().message(&a, &b, 1).unwrap().unwrap();
    assert_eq!(r.message.payload, b"real");
    assert_eq!(l.store().cursor(&a).unwrap(), Some(45));
    // Proven content is never dropped, and another content is refused outright.
    l.mark_content_proven(&[&r]).await.unwrap();
    let r = l.store().message(&a, &b, 1).unwrap().unwrap();
    assert!(r.content_proven);
    assert!(!l.drop_claim(&r, "never_sent").await.unwrap());
    l.apply(&a, &[sent(1, 10, b"lie")], None).await.unwrap();
    let again = l.store().message(&a, &b, 1).unwrap().unwrap();
    assert_eq!(
        (again.message.payload.as_slice(), again.timeline[0].height),
        (&b"real"[..], 30)
    );
    assert_eq!(l.store().message_by_id(&r.id).unwrap(), Some(again));
}

#[tokio::test]
async fn a_proven_outcome_settles_a_message_whose_events_were_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(dir.path());
    let (a, b) = (id("a"), id("b"));
    l.apply(&a, &[sent(1, 5, b"x"), sent(2, 5, b"y")], Some(5))
        .await
        .unwrap();
    let c = l
        .apply_outcome(&a, &msg_with(1, b"x"), Outcome::Acknowledged, 9)
        .await
        .unwrap();
    assert_eq!(c.acknowledged, 1);
    let c = l
        .apply_outcome(&a, &msg_with(2, b"y"), Outcome::TimedOut, 9)
        .await
        .unwrap();
    assert_eq!(c.timed_out, 1);
    let one = l.store().message(&a, &b, 1).unwrap().unwrap();
    assert_eq!((one.status, one.ack), (Status::Acknowledged, None));
    assert_eq!(
        l.store().message(&a, &b, 2).unwrap().unwrap().status,
        Status::TimedOut,
        "the destination lane still has to move past it"
    );
}

#[tokio::test]
async fn only_moves_need_proof_and_the_destination_content_replaces_an_unproven_claim() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(dir.path());
    let (a, b) = (id("a"), id("b"));
    let ack = Acknowledgement::Success(vec![7]);
    let received = |payload: &[u8]| ChainEvent::Received {
        height: 8,
        message: msg_with(1, payload),
        ack: ack.clone(),
    };
    assert!(
        l.would_move(&b, &received(b"real")).unwrap(),
        "unknown message"
    );
    assert!(!l.would_move(&a, &received(b"real")).unwrap(), "wrong role");
    l.apply(&a, &[sent(1, 5, b"lie")], Some(5)).await.unwrap();
    assert!(l.would_move(&b, &received(b"real")).unwrap());
    assert!(
        !l.would_move(&a, &sent(1, 5, b"lie")).unwrap(),
        "a send moves nothing"
    );
    let c = l.apply(&b, &[received(b"real")], Some(8)).await.unwrap();
    assert_eq!(c.delivered, 1);
    let r = l.store().message(&a, &b, 1).unwrap().unwrap();
    assert_eq!(r.message.payload, b"real");
    assert_eq!(r.ack, Some(ack.clone()));
    assert!(!l.would_move(&b, &received(b"real")).unwrap(), "a repeat");
    // A repeat with another ack changes nothing (the proven one stays).
    let other = ChainEvent::Received {
        height: 9,
        message: msg_with(1, b"real"),
        ack: Acknowledgement::Success(vec![8]),
    };
    l.apply(&b, &[other], None).await.unwrap();
    assert_eq!(
        l.store().message(&a, &b, 1).unwrap().unwrap().ack,
        Some(ack)
    );
}
