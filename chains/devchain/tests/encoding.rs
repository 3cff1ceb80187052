//! Transactions and transfer payloads from outside: strict decoding, canonical round trips,
//! and no panics on any input.

mod common;

use common::*;
use proptest::prelude::*;
use xrelay_devchain::tx::{Action, Tx};
use xrelay_devchain::Module;
use xrelay_light_client::{Decode, Encode, Timeout};
use xrelay_protocol::{RelayTx, TransferPacket};

/// Real transactions of every kind, taken from a two-chain run (built once).
fn sample_txs() -> &'static [Tx] {
    static TXS: std::sync::OnceLock<Vec<Tx>> = std::sync::OnceLock::new();
    TXS.get_or_init(build_txs)
}

fn build_txs() -> Vec<Tx> {
    let (mut a, mut b, _) = pair(Module::default());
    let alice = user("alice");
    let bob = user("bob");
    let payload = TransferPacket {
        denom: "xrd".into(),
        amount: 3,
        sender: alice.address(),
        receiver: bob.address(),
    }
    .encode();
    let carol = user("carol");
    let mut txs = vec![
        a.signed(
            &carol,
            Action::Send {
                destination: b.id.clone(),
                app: "transfer".into(),
                payload,
                timeout: Timeout {
                    height: 3,
                    time_ms: 0,
                },
            },
        ),
        a.signed(
            &carol,
            Action::Pay {
                to: bob.address(),
                denom: "xrd".into(),
                amount: 9,
            },
        ),
    ];
    a.send(&alice, &b.id, "echo", b"x".to_vec(), far()).unwrap();
    relay_messages(&a, &mut b);
    txs.push(update(&a, &b).unwrap_or(Tx::Relay(RelayTx::UpdateClient {
        chain: a.id.clone(),
        blocks: vec![a.tip().clone()],
    })));
    txs.push(Tx::Relay(RelayTx::Recv {
        source: a.id.clone(),
        proof_height: a.height(),
        messages: vec![xrelay_protocol::InboundMessage {
            message: a.sent_messages(&b.id)[0].clone(),
            shows: xrelay_protocol::SourceProof::Committed,
            proof: a.prove(
                &xrelay_light_client::paths::commitment(&b.id, 1),
                a.height(),
            ),
        }],
    }));
    txs
}

#[test]
fn transactions_round_trip() {
    for tx in sample_txs() {
        let bytes = tx.encode();
        assert_eq!(&Tx::decode(&bytes).unwrap(), tx);
        assert!(Tx::decode(&[bytes.as_slice(), &[0]].concat()).is_err());
        assert!(Tx::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any single-bit change to a transaction either fails to decode or decodes to a
    /// different transaction that re-encodes to exactly the changed bytes (one encoding
    /// per value, so a relayed transaction cannot be malleated into a second id).
    #[test]
    fn bit_flips_never_alias(pick in any::<prop::sample::Index>(), bit in any::<prop::sample::Index>()) {
        let txs = sample_txs();
        let tx = &txs[pick.index(txs.len())];
        let bytes = tx.encode();
        let bit = bit.index(bytes.len() * 8);
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        if let Ok(other) = Tx::decode(&flipped) {
            prop_assert_ne!(&other, tx);
            prop_assert_eq!(other.encode(), flipped);
            prop_assert_ne!(other.hash(), tx.hash());
        }
    }

    /// Random bytes never panic a decoder.
    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Tx::decode(&bytes);
        let _ = TransferPacket::decode(&bytes);
        let _ = Action::decode(&bytes);
    }
}
