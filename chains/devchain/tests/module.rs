//! Every rule of the message module, with two in-process chains and a relayer by hand.

mod common;

use common::*;
use proptest::prelude::*;
use xrelay_devchain::apps::echo::Echo;
use xrelay_devchain::apps::transfer::voucher;
use xrelay_devchain::module::query::{self, SentStatus};
use xrelay_devchain::tx::{Action, Tx};
use xrelay_devchain::{Event, Module, ModuleError};
use xrelay_light_client::{
    paths, sha256, Acknowledgement, ClientError, Encode, Hash32, Misbehaviour, Timeout,
};
use xrelay_protocol::{
    InboundMessage, Outcome, ProvenMessage, RelayTx, SourceProof, TransferPacket,
};

fn transfer_payload(
    denom: &str,
    amount: u128,
    from: &xrelay_light_client::SigningKey,
    to: &xrelay_light_client::SigningKey,
) -> Vec<u8> {
    TransferPacket {
        denom: denom.into(),
        amount,
        sender: from.address(),
        receiver: to.address(),
    }
    .encode()
}

#[test]
fn echo_round_trip_and_duplicates_are_no_ops() {
    let (mut a, mut b, _) = pair(Module::default());
    let alice = user("alice");
    let m = a
        .send(&alice, &b.id, "echo", b"hello".to_vec(), far())
        .unwrap();
    assert_eq!(m.sequence, 1);
    assert_eq!(
        query::sent_status(&a.state, &b.id, 1).unwrap(),
        SentStatus::Pending
    );

    let r = relay_messages(&a, &mut b);
    let report = r.last().unwrap().as_ref().unwrap();
    match &report.events[..] {
        [Event::MessageReceived { ack, .. }] => {
            assert_eq!(ack, &Acknowledgement::Success(sha256(b"hello").0.to_vec()))
        }
        other => panic!("{other:?}"),
    }
    // The same delivery again (another relayer): success, no effect.
    let h = a.height();
    let again = b.run(Tx::Relay(RelayTx::Recv {
        source: a.id.clone(),
        proof_height: h,
        messages: vec![InboundMessage {
            shows: SourceProof::Committed,
            message: m.clone(),
            proof: a.prove(&paths::commitment(&b.id, 1), h),
        }],
    }));
    assert_eq!(again.already_done, 1);
    assert!(again.events.is_empty());

    relay_acks(&mut a, &b).pop().unwrap().unwrap();
    assert_eq!(
        query::sent_status(&a.state, &b.id, 1).unwrap(),
        SentStatus::Settled(Outcome::Acknowledged)
    );
    // Acks relayed twice: no-op.
    let ack_again = {
        let h = b.height();
        let ack = Acknowledgement::Success(sha256(b"hello").0.to_vec());
        a.run(Tx::Relay(RelayTx::Ack {
            destination: b.id.clone(),
            proof_height: a.client_height(&b.id).min(h),
            acks: vec![xrelay_protocol::ProvenAck {
                message: m,
                ack,
                proof: b.prove(&paths::ack(&a.id, 1), h),
            }],
        }))
    };
    assert_eq!(ack_again.already_done, 1);
}

#[test]
fn lanes_deliver_in_order_only() {
    let (mut a, mut b, _) = pair(Module::default());
    let alice = user("alice");
    let msgs: Vec<_> = (0..3)
        .map(|i| a.send(&alice, &b.id, "echo", vec![i], far()).unwrap())
        .collect();
    let h = a.height();
    b.run(update(&a, &b).unwrap());
    let b_id = b.id.clone();
    let proven = |m: &xrelay_light_client::Message| InboundMessage {
        message: m.clone(),
        shows: SourceProof::Committed,
        proof: a.prove(&paths::commitment(&b_id, m.sequence), h),
    };
    let before = b.state.clone();
    let err = b
        .block(vec![Tx::Relay(RelayTx::Recv {
            source: a.id.clone(),
            proof_height: h,
            messages: vec![proven(&msgs[1])],
        })])
        .pop()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err,
        ModuleError::OutOfOrder {
            expected: 1,
            found: 2
        }
    );
    assert_eq!(b.state, before, "a refused transaction changes nothing");
    let ok = b.run(Tx::Relay(RelayTx::Recv {
        source: a.id.clone(),
        proof_height: h,
        messages: msgs.iter().map(proven).collect(),
    }));
    assert_eq!(ok.events.len(), 3);
    assert_eq!(query::lane_counters(&b.state, &a.id).unwrap().1, 4);
}

#[test]
fn forged_and_unverified_proofs_are_refused() {
    let (mut a, mut b, _) = pair(Module::default());
    let alice = user("alice");
    let m = a
        .send(&alice, &b.id, "echo", b"real".to_vec(), far())
        .unwrap();
    let h = a.height();
    b.run(update(&a, &b).unwrap());
    let proof = a.prove(&paths::commitment(&b.id, 1), h);
    // Altered payload: the commitment differs, the proof fails.
    let mut forged = m.clone();
    forged.payload = b"forged".to_vec();
    let err = b.block(vec![Tx::Relay(RelayTx::Recv {
        source: a.id.clone(),
        proof_height: h,
        messages: vec![InboundMessage {
            shows: SourceProof::Committed,
            message: forged,
            proof: proof.clone(),
        }],
    })]);
    assert!(matches!(err[0], Err(ModuleError::Client { .. })));
    // A message never sent (sequence 2) with some proof: refused.
    let mut ghost = m.clone();
    ghost.sequence = 2;
    let ghost_proof = a.prove(&paths::commitment(&b.id, 2), h);
    let err = b.block(vec![Tx::Relay(RelayTx::Recv {
        source: a.id.clone(),
        proof_height: h,
        messages: vec![
            InboundMessage {
                shows: SourceProof::Committed,
                message: m.clone(),
                proof: proof.clone(),
            },
            InboundMessage {
                shows: SourceProof::Committed,
                message: ghost,
                proof: ghost_proof,
            },
        ],
    })]);
    assert!(matches!(err[0], Err(ModuleError::Client { .. })));
    // A proof height the client never verified.
    let err = b.block(vec![Tx::Relay(RelayTx::Recv {
        source: a.id.clone(),
        proof_height: h + 5,
        messages: vec![InboundMessage {
            shows: SourceProof::Committed,
            message: m.clone(),
            proof: proof.clone(),
        }],
    })]);
    match &err[0] {
        Err(ModuleError::Client { error, .. }) => {
            assert_eq!(**error, ClientError::UnknownHeight(h + 5))
        }
        other => panic!("{other:?}"),
    }
    // A proof against the wrong root (an older height, before the send).
    let old = a.height() - 2;
    let err = b.block(vec![Tx::Relay(RelayTx::Recv {
        source: a.id.clone(),
        proof_height: old,
        messages: vec![InboundMessage {
            shows: SourceProof::Committed,
            message: m.clone(),
            proof: a.prove(&paths::commitment(&b.id, 1), old),
        }],
    })]);
    assert!(err[0].is_err());
    // Nothing was received.
    assert!(!query::received(&b.state, &a.id, 1).unwrap());
}

#[test]
fn timeouts_refund_and_late_deliveries_are_skipped() {
    let (mut a, mut b, _) = pair(Module::default());
    let alice = user("alice");
    let bob = user("bob");
    let deadline = b.height() + 3;
    let m = a
        .send(
            &alice,
            &b.id,
            "transfer",
            transfer_payload("xrd", 100, &alice, &bob),
            Timeout {
                height: deadline,
                time_ms: 0,
            },
        )
        .unwrap();
    let second = a
        .send(&alice, &b.id, "echo", b"after".to_vec(), far())
        .unwrap();
    assert_eq!(a.balance("xrd", &alice.address()), 1_000_000 - 100);
    assert_eq!(a.escrow(&b.id, "xrd"), 100);

    // Too early: the destination has not reached the timeout.
    assert!(relay_timeouts(&mut a, &b).is_empty());
    let h = b.height();
    b.block(vec![]);
    a.run(update(&b, &a).unwrap());
    let early = a.block(vec![Tx::Relay(RelayTx::Timeout {
        destination: b.id.clone(),
        proof_height: b.height(),
        messages: vec![ProvenMessage {
            message: m.clone(),
            proof: b.prove(&paths::receipt(&a.id, 1), b.height()),
        }],
    })]);
    assert!(
        matches!(early[0], Err(ModuleError::NotTimedOut { .. })),
        "{:?} (h={h})",
        early[0]
    );

    // The destination is held still by the relayer until it passes the deadline.
    while b.height() < deadline {
        b.block(vec![]);
    }
    relay_timeouts(&mut a, &b).pop().unwrap().unwrap();
    assert_eq!(
        query::sent_status(&a.state, &b.id, 1).unwrap(),
        SentStatus::Settled(Outcome::TimedOut)
    );
    assert_eq!(a.balance("xrd", &alice.address()), 1_000_000);
    assert_eq!(a.escrow(&b.id, "xrd"), 0);

    // A late delivery is skipped (no receipt, no voucher) and the lane moves on.
    let reports = relay_messages(&a, &mut b);
    let report = reports.last().unwrap().as_ref().unwrap();
    assert!(
        matches!(
            &report.events[..],
            [Event::MessageExpired { .. }, Event::MessageReceived { .. }]
        ),
        "{:?}",
        report.events
    );
    assert_eq!(b.balance(&voucher(&a.id, "xrd"), &bob.address()), 0);
    assert!(query::received(&b.state, &a.id, second.sequence).unwrap());
    // Timing out twice is a no-op.
    let again = a.run(Tx::Relay(RelayTx::Timeout {
        destination: b.id.clone(),
        proof_height: a.client_height(&b.id),
        messages: vec![ProvenMessage {
            message: m,
            proof: xrelay_light_client::StateProof {
                leaf: None,
                siblings: vec![],
            },
        }],
    }));
    assert_eq!(again.already_done, 1);
}

#[test]
fn transfers_go_there_and_back_conserving_supply() {
    let (mut a, mut b, _) = pair(Module::default());
    let alice = user("alice");
    let bob = user("bob");
    let v = voucher(&a.id, "xrd");
    a.send(
        &alice,
        &b.id,
        "transfer",
        transfer_payload("xrd", 250, &alice, &bob),
        far(),
    )
    .unwrap();
    relay_messages(&a, &mut b);
    relay_acks(&mut a, &b);
    assert_eq!(b.balance(&v, &bob.address()), 250);
    assert_eq!(b.supply(&v), 250);
    assert_eq!(a.escrow(&b.id, "xrd"), 250);
    // Back home: the voucher burns on beta, the escrow releases on alpha.
    b.send(
        &bob,
        &a.id,
        "transfer",
        transfer_payload(&v, 100, &bob, &alice),
        far(),
    )
    .unwrap();
    assert_eq!(b.supply(&v), 150);
    relay_messages(&b, &mut a);
    relay_acks(&mut b, &a);
    assert_eq!(a.balance("xrd", &alice.address()), 1_000_000 - 250 + 100);
    assert_eq!(a.escrow(&b.id, "xrd"), 150);
    assert_eq!(a.supply("xrd"), 1_000_000);
    // Spending more than held is refused at send, changing nothing.
    assert!(matches!(
        b.send(
            &bob,
            &a.id,
            "transfer",
            transfer_payload(&v, 151, &bob, &alice),
            far()
        ),
        Err(ModuleError::App(_))
    ));
    // Someone else's tokens cannot be sent.
    assert!(b
        .send(
            &bob,
            &a.id,
            "transfer",
            transfer_payload(&v, 1, &alice, &alice),
            far()
        )
        .is_err());
}

#[test]
fn error_acks_refund_the_sender() {
    // beta runs only echo: a transfer arriving there is answered with an error ack.
    let (mut a, mut b, _) = pair(Module::new(vec![Box::new(Echo)]));
    let alice = user("alice");
    let bob = user("bob");
    a.send(
        &alice,
        &b.id,
        "transfer",
        transfer_payload("xrd", 40, &alice, &bob),
        far(),
    )
    .unwrap();
    let r = relay_messages(&a, &mut b);
    assert!(matches!(
        &r.last().unwrap().as_ref().unwrap().events[..],
        [Event::MessageReceived {
            ack: Acknowledgement::Error(_),
            ..
        }]
    ));
    relay_acks(&mut a, &b).pop().unwrap().unwrap();
    assert_eq!(
        query::sent_status(&a.state, &b.id, 1).unwrap(),
        SentStatus::Settled(Outcome::Refused)
    );
    assert_eq!(a.balance("xrd", &alice.address()), 1_000_000);
    assert_eq!(a.escrow(&b.id, "xrd"), 0);
}

#[test]
fn a_frozen_client_accepts_nothing_until_governance_resets_it() {
    let (mut a, mut b, _) = pair(Module::default());
    let alice = user("alice");
    a.send(&alice, &b.id, "echo", b"x".to_vec(), far()).unwrap();
    b.run(update(&a, &b).unwrap());
    // alpha's validators sign a second header at the height beta trusts.
    let trusted_h = b.client_height(&a.id);
    let real = a.blocks[(trusted_h - 1) as usize].clone();
    let mut fork_header = real.header().clone();
    fork_header.state_root = Hash32([7; 32]);
    let fork = xrelay_light_client::LightBlock {
        signed_header: xrelay_light_client::SignedHeader {
            commit: xrelay_light_client::Commit::sign(&fork_header, &a.keys),
            header: fork_header,
        },
        validators: real.validators.clone(),
        next_validators: real.next_validators.clone(),
    };
    let client = query::client(&b.state, &a.id).unwrap().unwrap();
    let base = client.heights().next().unwrap();
    let evidence = Misbehaviour {
        trusted_height: base,
        trusted_next_validators: a.set.clone(),
        first: real,
        second: fork,
    };
    let r = b.run(Tx::Relay(RelayTx::SubmitMisbehaviour {
        chain: a.id.clone(),
        evidence: Box::new(evidence),
    }));
    assert!(matches!(r.events[..], [Event::ClientFrozen { .. }]));
    let r = relay_messages(&a, &mut b);
    assert!(
        matches!(r.last().unwrap(), Err(ModuleError::Client { error, .. }) if matches!(**error, ClientError::Frozen { .. }))
    );
    // Only governance may reset.
    let mallory = user("mallory");
    let tx = b.signed(
        &mallory,
        Action::ResetClient {
            trusted: a.trusted(),
            options: Default::default(),
        },
    );
    assert!(matches!(
        b.block(vec![tx]).pop().unwrap(),
        Err(ModuleError::NotGovernance { .. })
    ));
    let gov = b.governance.clone();
    let tx = b.signed(
        &gov,
        Action::ResetClient {
            trusted: a.trusted(),
            options: Default::default(),
        },
    );
    b.run(tx);
    relay_messages(&a, &mut b).pop().unwrap().unwrap();
    assert!(query::received(&b.state, &a.id, 1).unwrap());
}

#[test]
fn signed_actions_need_the_right_key_and_nonce() {
    let (mut a, b, _) = pair(Module::default());
    let alice = user("alice");
    let bob = user("bob");
    let send = xrelay_devchain::Action::Pay {
        to: bob.address(),
        denom: "xrd".into(),
        amount: 5,
    };
    // Replay of a used nonce.
    let tx = a.signed(&alice, send.clone());
    a.run(tx.clone());
    assert!(matches!(
        a.block(vec![tx]).pop().unwrap(),
        Err(ModuleError::BadNonce {
            expected: 1,
            found: 0
        })
    ));
    // Signed by someone else.
    let mut forged = match a.signed(&alice, send) {
        Tx::Signed(s) => *s,
        _ => unreachable!(),
    };
    forged.signature = bob.sign_digest(&Hash32([0; 32]));
    assert!(matches!(
        a.block(vec![Tx::Signed(Box::new(forged))]).pop().unwrap(),
        Err(ModuleError::BadSignature { .. })
    ));
    // A send to a chain without a client, or to an unknown app, is refused.
    let nowhere = xrelay_light_client::ChainId::new("nowhere").unwrap();
    let mut a2 = a;
    a2.nonces.insert(alice.address(), 1);
    assert!(matches!(
        a2.send(&alice, &nowhere, "echo", vec![], far()),
        Err(ModuleError::UnknownClient(_))
    ));
    a2.nonces.insert(alice.address(), 1);
    assert!(matches!(
        a2.send(&alice, &b.id, "nope", vec![], far()),
        Err(ModuleError::UnknownApp(_))
    ));
    assert_eq!(a2.balance("xrd", &bob.address()), 5);
}

/// One step of the random schedule.
#[derive(Debug, Clone)]
enum Op {
    SendAB { amount: u128, short: bool },
    SendBA { amount: u128, short: bool },
    RelayAB,
    RelayBA,
    AcksAB,
    AcksBA,
    TimeoutsAB,
    TimeoutsBA,
    TickA,
    TickB,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u128..500, any::<bool>()).prop_map(|(amount, short)| Op::SendAB { amount, short }),
        2 => (1u128..500, any::<bool>()).prop_map(|(amount, short)| Op::SendBA { amount, short }),
        2 => Just(Op::RelayAB),
        2 => Just(Op::RelayBA),
        1 => Just(Op::AcksAB),
        1 => Just(Op::AcksBA),
        1 => Just(Op::TimeoutsAB),
        1 => Just(Op::TimeoutsBA),
        1 => Just(Op::TickA),
        1 => Just(Op::TickB),
    ]
}

/// Tokens of alpha's `xrd` that are in flight: escrowed on alpha but not minted on beta
/// (sent alpha→beta, not received), or burned on beta but not released on alpha.
fn in_flight(a: &Chain, b: &Chain) -> u128 {
    let v = voucher(&a.id, "xrd");
    let pending = |src: &Chain, dst: &Chain, denom: &str| -> u128 {
        src.sent_messages(&dst.id)
            .iter()
            .filter(|m| m.receiver == "transfer")
            .filter(|m| {
                query::sent_status(&src.state, &dst.id, m.sequence).unwrap() == SentStatus::Pending
            })
            .filter(|m| !query::received(&dst.state, &src.id, m.sequence).unwrap())
            .filter_map(|m| {
                <TransferPacket as xrelay_light_client::Decode>::decode(&m.payload).ok()
            })
            .filter(|p| p.denom == denom)
            .map(|p| p.amount)
            .sum()
    };
    pending(a, b, "xrd") + pending(b, a, &v)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the interleaving of sends, deliveries, acks, timeouts and idle blocks, after
    /// every block: alpha's xrd supply never changes, and the escrow on alpha equals the
    /// vouchers on beta plus what is in flight.
    #[test]
    fn supply_is_conserved_under_any_schedule(ops in prop::collection::vec(op(), 1..40)) {
        let (mut a, mut b, _) = pair(Module::default());
        let alice = user("alice");
        let bob = user("bob");
        let v = voucher(&a.id, "xrd");
        let check = |a: &Chain, b: &Chain| -> Result<(), TestCaseError> {
            prop_assert_eq!(a.supply("xrd"), 1_000_000);
            prop_assert_eq!(a.balance("xrd", &alice.address()) + a.balance("xrd", &bob.address()) + a.escrow(&b.id, "xrd"), 1_000_000);
            prop_assert_eq!(a.escrow(&b.id, "xrd"), b.supply(&v) + in_flight(a, b));
            prop_assert_eq!(b.supply(&v), b.balance(&v, &bob.address()) + b.balance(&v, &alice.address()));
            Ok(())
        };
        for op in ops {
            let short = |chain: &Chain, s: bool| if s { Timeout { height: chain.height() + 2, time_ms: 0 } } else { far() };
            match op {
                Op::SendAB { amount, short: s } => {
                    let t = short(&b, s);
                    let _ = a.send(&alice, &b.id, "transfer", transfer_payload("xrd", amount, &alice, &bob), t);
                }
                Op::SendBA { amount, short: s } => {
                    let t = short(&a, s);
                    let held = b.balance(&v, &bob.address());
                    if held > 0 {
                        let _ = b.send(&bob, &a.id, "transfer", transfer_payload(&v, amount.min(held), &bob, &alice), t);
                    }
                }
                Op::RelayAB => { relay_messages(&a, &mut b); }
                Op::RelayBA => { relay_messages(&b, &mut a); }
                Op::AcksAB => { relay_acks(&mut a, &b); }
                Op::AcksBA => { relay_acks(&mut b, &a); }
                Op::TimeoutsAB => { relay_timeouts(&mut a, &b); }
                Op::TimeoutsBA => { relay_timeouts(&mut b, &a); }
                Op::TickA => { a.block(vec![]); }
                Op::TickB => { b.block(vec![]); }
            }
            check(&a, &b)?;
        }
        // Drain: deliver, ack and time out everything; nothing is left in flight.
        for _ in 0..4 {
            relay_messages(&a, &mut b);
            relay_messages(&b, &mut a);
            relay_acks(&mut a, &b);
            relay_acks(&mut b, &a);
            relay_timeouts(&mut a, &b);
            relay_timeouts(&mut b, &a);
            check(&a, &b)?;
        }
        prop_assert_eq!(in_flight(&a, &b), 0);
    }
}

/// A timeout (or ack) batch that names one message twice settles and refunds it once: the
/// second copy is "already done", and a second transfer still in flight keeps its escrow.
#[test]
fn a_message_named_twice_in_one_timeout_batch_is_refunded_once() {
    let (mut a, mut b, _clock) = pair(Module::default());
    let alice = user("alice");
    let bob = user("bob");
    let start = a.balance("xrd", &alice.address());
    let soon = Timeout {
        height: b.height() + 2,
        time_ms: 0,
    };
    let dst = b.id.clone();
    let first = a
        .send(
            &alice,
            &dst,
            "transfer",
            transfer_payload("xrd", 100, &alice, &bob),
            soon,
        )
        .unwrap();
    a.send(
        &alice,
        &dst,
        "transfer",
        transfer_payload("xrd", 100, &alice, &bob),
        far(),
    )
    .unwrap();
    assert_eq!(a.escrow(&b.id, "xrd"), 200);
    for _ in 0..3 {
        b.block(vec![]);
    }
    let h = b.height();
    let item = ProvenMessage {
        proof: b.prove(&paths::receipt(&a.id, first.sequence), h),
        message: first,
    };
    let txs: Vec<Tx> = update(&b, &a)
        .into_iter()
        .chain([Tx::Relay(RelayTx::Timeout {
            destination: b.id.clone(),
            proof_height: h,
            messages: vec![item.clone(), item],
        })])
        .collect();
    a.block(txs);
    assert_eq!(a.balance("xrd", &alice.address()), start - 100);
    assert_eq!(
        a.escrow(&b.id, "xrd"),
        100,
        "the second transfer is still in flight"
    );
}
