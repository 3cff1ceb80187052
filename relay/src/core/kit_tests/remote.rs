//! `core::remote::ensure_client_at`: a hosted client is brought to exactly the header the
//! relayer verified, by a verified path; what is already there is not sent again; a client
//! past the height, missing, frozen or holding another header is a typed error.

use xrelay_devchain::tx::Tx;
use xrelay_protocol::RelayTx;

use super::*;
use crate::core::chain::RelayError;
use crate::core::remote::{ensure_client_at, UpdateWait};
use crate::testkit::{net_of, ChainSpec, MemChain};

async fn ensure(
    h: &Harness,
    host: &MemChain,
    of: &MemChain,
    height: Height,
    wait: UpdateWait,
) -> Result<(), RelayError> {
    ensure_client_at(
        &h.handle(host.id()),
        &h.handle(of.id()),
        height,
        &h.relay.metrics,
        wait,
    )
    .await
}

fn held(host: &MemChain, of: &MemChain, height: Height) -> Option<xrelay_light_client::Hash32> {
    host.hosted_client(of.id())?
        .consensus_state(height)
        .map(|cs| cs.header_hash)
}

#[tokio::test]
async fn the_hosted_client_gets_exactly_the_header_the_relayer_verified() {
    let (a, b, h) = pair().await;
    let target = a.produce_n(5).unwrap();
    ensure(&h, &b, &a, target, UpdateWait::Included)
        .await
        .unwrap();
    assert_eq!(held(&b, &a, target), Some(a.header_hash(target).unwrap()));
    assert_eq!(b.hosted_client(a.id()).unwrap().latest_height(), target);
}

#[tokio::test]
async fn a_client_that_holds_the_header_already_gets_no_transaction() {
    let (a, b, h) = pair().await;
    let target = a.produce_n(2).unwrap();
    ensure(&h, &b, &a, target, UpdateWait::Included)
        .await
        .unwrap();
    let hb = b.height();
    ensure(&h, &b, &a, target, UpdateWait::Included)
        .await
        .unwrap();
    assert_eq!(b.height(), hb);
}

#[tokio::test]
async fn a_rotating_validator_set_is_crossed_with_a_verified_bisection_path() {
    let mut a = ChainSpec::new("a");
    a.rotate_every = Some(2);
    let chains = net_of(&[a, ChainSpec::new("b")]).unwrap();
    let (a, b) = (chains[0].clone(), chains[1].clone());
    let h = Harness::over(&chains).await.unwrap();
    let before = b.hosted_client(a.id()).unwrap().heights().count();
    let target = a.produce_n(20).unwrap();
    ensure(&h, &b, &a, target, UpdateWait::Included)
        .await
        .unwrap();
    let client = b.hosted_client(a.id()).unwrap();
    assert_eq!(held(&b, &a, target), Some(a.header_hash(target).unwrap()));
    // Four validators, one replaced every two heights: more than a third of the trusted
    // set is gone by the target, so intermediate headers were needed.
    assert!(
        client.heights().count() > before + 1,
        "{}",
        client.heights().count()
    );
}

#[tokio::test]
async fn the_update_can_be_queued_just_ahead_of_what_needs_it() {
    let (a, b, h) = pair().await;
    let target = a.produce_n(3).unwrap();
    let hb = b.height();
    ensure(&h, &b, &a, target, UpdateWait::Accepted)
        .await
        .unwrap();
    // Queued, not included yet.
    assert_eq!(b.height(), hb);
    assert_eq!(held(&b, &a, target), None);
    b.produce().unwrap();
    assert_eq!(held(&b, &a, target), Some(a.header_hash(target).unwrap()));
}

#[tokio::test]
async fn a_client_already_past_the_height_without_it_is_a_retry() {
    let (a, b, h) = pair().await;
    let low = a.produce_n(2).unwrap();
    let high = a.produce_n(4).unwrap();
    ensure(&h, &b, &a, high, UpdateWait::Included)
        .await
        .unwrap();
    assert_eq!(held(&b, &a, low), None);
    let e = ensure(&h, &b, &a, low, UpdateWait::Included)
        .await
        .unwrap_err();
    assert!(matches!(e, RelayError::Retry(_)), "{e}");
}

#[tokio::test]
async fn a_chain_without_a_client_is_a_typed_error() {
    let a = MemChain::new(&ChainSpec::new("a"), vec![]).unwrap();
    let b = MemChain::new(&ChainSpec::new("b"), vec![]).unwrap();
    let h = Harness::over(&[a.clone(), b.clone()]).await.unwrap();
    let target = a.produce_n(1).unwrap();
    let e = ensure(&h, &b, &a, target, UpdateWait::Included)
        .await
        .unwrap_err();
    assert!(matches!(e, RelayError::NoClient { .. }), "{e}");
    assert_eq!(e.reason(), "no_client");
}

#[tokio::test]
async fn a_hosted_client_holding_another_header_is_a_conflict_not_an_update() {
    let (a, b, h) = pair().await;
    let h0 = a.height();
    h.handle(a.id()).verified(h0).await.unwrap();
    let target = a.produce_n(3).unwrap();
    // An attacker feeds `b`'s client a second header its validators signed at `target`.
    let forged = a.conflicting_block(target).unwrap();
    b.execute(Tx::Relay(RelayTx::UpdateClient {
        chain: a.id().clone(),
        blocks: vec![forged.clone()],
    }))
    .unwrap();
    assert_eq!(held(&b, &a, target), Some(forged.header().hash()));
    let e = ensure(&h, &b, &a, target, UpdateWait::Included)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "conflicting_header", "{e}");
    assert!(
        metric(
            &h.relay.metrics.verification_failures,
            &["a", "conflicting_header"]
        ) > 0
    );
}

#[tokio::test]
async fn a_frozen_hosted_client_is_not_updated() {
    let (a, b, h) = pair().await;
    let target = a.produce_n(2).unwrap();
    let hb = b.height();
    b.set_node_fault(xrelay_devchain::node::fault::Fault::LyingHost);
    // The host's node reports its client frozen: nothing is sent to it.
    let e = ensure(&h, &b, &a, target, UpdateWait::Included)
        .await
        .unwrap_err();
    assert!(matches!(e, RelayError::Frozen { .. }), "{e}");
    assert_eq!(b.height(), hb);
    // The relayer's own view of `a` is untouched by that claim.
    assert!(!h.handle(a.id()).is_frozen());
}

#[tokio::test]
async fn a_target_the_followed_chain_has_not_produced_is_refused_before_anything_is_sent() {
    let (a, b, h) = pair().await;
    let hb = b.height();
    let e = ensure(&h, &b, &a, a.height() + 10, UpdateWait::Included)
        .await
        .unwrap_err();
    assert!(!matches!(e, RelayError::Store(_)), "{e}");
    assert_eq!(b.height(), hb);
}
