//! `core::misbehaviour`: a header a host's client accepted that differs from the chain's
//! own freezes the chain for the relayer only when its own light client verifies both
//! blocks; evidence goes to every host; what lying nodes say freezes nothing.

use xrelay_devchain::node::fault::Fault;
use xrelay_devchain::tx::Tx;
use xrelay_light_client::Hash32;
use xrelay_protocol::RelayTx;

use super::*;
use crate::core::misbehaviour;

/// Feeds `host`'s client of `of` a second, validly signed header of `of` at `height` (what
/// colluding validators and an attacking relayer would do). Returns the forged header.
fn feed_conflict(
    host: &MemChain,
    of: &MemChain,
    height: Height,
) -> xrelay_light_client::LightBlock {
    let forged = of.conflicting_block(height).unwrap();
    host.execute(Tx::Relay(RelayTx::UpdateClient {
        chain: of.id().clone(),
        blocks: vec![forged.clone()],
    }))
    .unwrap();
    forged
}

#[tokio::test]
async fn a_conflict_the_relayers_client_verifies_freezes_the_chain_and_is_persisted() {
    let (a, b, h) = pair().await;
    let target = a.produce_n(3).unwrap();
    feed_conflict(&b, &a, target);
    h.scan().await.unwrap();
    assert!(h.handle(a.id()).is_frozen());
    assert_eq!(metric(&h.relay.metrics.misbehaviour, &["a"]), 1);
    let frozen = h.relay.ledger.store().frozen().unwrap();
    assert!(frozen.iter().any(|(c, _)| c == a.id()), "{frozen:?}");
    // The other chain stays followed.
    assert!(!h.handle(b.id()).is_frozen());
}

#[tokio::test]
async fn evidence_freezes_the_clients_of_every_host() {
    let (chains, h) = triple().await;
    let (a, b, c) = (&chains[0], &chains[1], &chains[2]);
    let target = a.produce_n(3).unwrap();
    feed_conflict(b, a, target);
    assert!(c.hosted_client(a.id()).unwrap().frozen().is_none());
    h.scan().await.unwrap();
    assert!(h.handle(a.id()).is_frozen());
    assert!(c.hosted_client(a.id()).unwrap().frozen().is_some());
    assert!(b.hosted_client(a.id()).unwrap().frozen().is_some());
    // Clients of other chains are untouched.
    assert!(c.hosted_client(b.id()).unwrap().frozen().is_none());
}

#[tokio::test]
async fn after_a_confirmed_conflict_nothing_more_is_relayed_from_the_chain() {
    let (a, b, h) = pair().await;
    let target = a.produce_n(2).unwrap();
    feed_conflict(&b, &a, target);
    h.scan().await.unwrap();
    a.send(b.id(), b"after", NEVER).unwrap();
    h.settle(5).await;
    assert!(received_sequences(&b, a.id()).is_empty());
}

#[tokio::test]
async fn a_frozen_chain_stays_frozen_after_a_restart() {
    let (a, b, h) = pair().await;
    let target = a.produce_n(2).unwrap();
    feed_conflict(&b, &a, target);
    h.scan().await.unwrap();
    let h = h.restart().await.unwrap();
    assert!(h.handle(a.id()).is_frozen());
    assert!(!h.handle(b.id()).is_frozen());
}

#[tokio::test]
async fn a_lying_host_freezes_nothing_and_the_other_lanes_go_on() {
    let (chains, h) = triple().await;
    let (a, b, c) = (&chains[0], &chains[1], &chains[2]);
    b.set_node_fault(Fault::LyingHost);
    // `b`'s client of `a` really accepts an honest header; its node names another one.
    a.produce_n(2).unwrap();
    let target = a.height();
    let honest = a.block(target).unwrap();
    b.execute(Tx::Relay(RelayTx::UpdateClient {
        chain: a.id().clone(),
        blocks: vec![honest],
    }))
    .unwrap();
    a.send(c.id(), b"still relayed", NEVER).unwrap();
    h.settle(10).await;
    assert!(!h.handle(a.id()).is_frozen());
    assert!(h.relay.ledger.store().frozen().unwrap().is_empty());
    assert!(metric_sum(&h.relay.metrics.misbehaviour_unconfirmed, "a") > 0);
    assert_eq!(metric(&h.relay.metrics.misbehaviour, &["a"]), 0);
    assert_eq!(received_sequences(c, a.id()), vec![1]);
    // Nothing the lying node said reached the clients of honest hosts.
    assert!(c.hosted_client(a.id()).unwrap().frozen().is_none());
}

#[tokio::test]
async fn a_conflict_below_the_relayers_trusted_header_is_not_confirmed() {
    let chains = net(&["a", "b"]).unwrap();
    let (a, b) = (chains[0].clone(), chains[1].clone());
    // `b`'s client of `a` is older than the relayer's trust root.
    a.produce_n(3).unwrap();
    let h = Harness::over(&chains).await.unwrap();
    // The relayer trusted `a` from its latest header when it started: a conflict at that
    // very height has no header of its own below it to be checked from.
    let anchored = h.handle(a.id()).verified_height().await;
    assert_eq!(anchored, a.height());
    feed_conflict(&b, &a, anchored);
    h.scan().await.unwrap();
    assert!(!h.handle(a.id()).is_frozen());
    assert_eq!(
        metric(
            &h.relay.metrics.misbehaviour_unconfirmed,
            &["a", "no_trusted_header"]
        ),
        1
    );
}

#[tokio::test]
async fn headers_that_match_the_chains_own_change_nothing() {
    let (a, b, h) = pair().await;
    let target = a.produce_n(2).unwrap();
    let own = a.header_hash(target).unwrap();
    misbehaviour::check(
        &h.relay,
        &h.handle(b.id()),
        b.height(),
        a.id(),
        &[(target, own)],
    )
    .await;
    assert!(!h.handle(a.id()).is_frozen());
    assert_eq!(metric(&h.relay.metrics.misbehaviour, &["a"]), 0);
    assert!(b.hosted_client(a.id()).unwrap().frozen().is_none());
}

#[tokio::test]
async fn a_claimed_header_no_host_block_carries_is_not_confirmed() {
    let (a, b, h) = pair().await;
    let target = a.produce_n(2).unwrap();
    // An event naming a hash nobody submitted (a lying node's event alone).
    misbehaviour::check(
        &h.relay,
        &h.handle(b.id()),
        b.height(),
        a.id(),
        &[(target, Hash32([7; 32]))],
    )
    .await;
    assert!(!h.handle(a.id()).is_frozen());
    assert_eq!(
        metric(
            &h.relay.metrics.misbehaviour_unconfirmed,
            &["a", "not_found"]
        ),
        1
    );
}
