//! Every decoder of `xrelay_devchain::rpc_answers` (what `NodeClient`, and so the relayer's
//! devchain adapter, runs on a node's JSON-RPC answers) on arbitrary answers: JSON text as the
//! transport would parse it, or a value built from the bytes (`xrelay_fuzz::json`). A node
//! may be faulty or hostile, so each decoder must return a value or a `BadAnswer` naming its
//! method, never panic; an accepted answer must agree with the request (the height asked
//! for, the number of proofs), and what the relayer then does with it (hashing headers and
//! messages, verifying proofs, storing client states as JSON) must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use xrelay_devchain::module::Event;
use xrelay_devchain::rpc_answers::{self as answers, BadAnswer};
use xrelay_fuzz::{derived, RpcRequest};
use xrelay_light_client::{ChainId, ClientState, Decode, Encode, TrustedState};

/// `result` is a value or an error of `method`.
fn named<T>(method: &str, result: Result<T, BadAnswer>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            assert_eq!(e.method, method, "{e}");
            let _ = e.to_string();
            None
        }
    }
}

/// What the relayer does with an event: message ids and commitments, the encoding that
/// goes into its transactions.
fn use_event(event: &Event) {
    match event {
        Event::MessageSent { message }
        | Event::MessageExpired { message }
        | Event::MessageTimedOut { message } => {
            let _ = (message.id(), message.commitment(), message.encode());
        }
        Event::MessageReceived { message, ack } | Event::MessageAcknowledged { message, ack } => {
            let _ = (message.id(), message.commitment(), ack.commitment());
        }
        _ => {}
    }
}

fn decode_all(v: &Value, req: RpcRequest) {
    let _ = named("status", answers::status(v.clone()));

    if let Some(block) = named("header", answers::light_block(v, req.height)) {
        assert_eq!(block.height(), req.height, "a block of another height");
        let _ = block.header().hash();
        let _ = TrustedState::from_light_block(&block);
    }

    if let Some(txs) = named("block_txs", answers::block_txs(v)) {
        for tx in &txs {
            let _ = (tx.hash(), tx.kind());
        }
    }

    let _ = named("nonce", answers::nonce(v));

    if let Some(client) = named("client", answers::client_state(v)) {
        let latest = client.latest_height();
        assert!(client.consensus_state(latest).is_some());
        let _ = client.status(u64::MAX);
        // The relayer stores client states as JSON: an accepted state must read back.
        let json = serde_json::to_value(&client).expect("a client state serialises");
        let back: ClientState = serde_json::from_value(json).expect("a client state reads back");
        assert_eq!(back, client);
    }

    // The relayer asks for the EVM client of a chain it names; an accepted state is of that
    // chain, and is exactly the canonical bytes the answer carried.
    let asked = ChainId::new("fuzz").expect("valid id");
    if let Some(Some(client)) = named("evm_client", answers::evm_client_state(v, &asked)) {
        assert_eq!(client.chain_id(), &asked, "a client of another chain");
        let latest = client.latest_height();
        assert!(client.consensus_state(latest).is_some());
        let bytes = client.encode();
        assert_eq!(
            v["state"].as_str().map(|s| s.to_ascii_lowercase()),
            Some(hex::encode(&bytes)),
            "an accepted state is not canonical"
        );
        let back = xrelay_light_client::evm::client::EvmClientState::decode(&bytes);
        assert_eq!(back.as_ref(), Ok(&client));
    }

    if let Some(p) = named("proof", answers::proof(v, req.height)) {
        assert_eq!(p.height, req.height);
        let key = derived(&p.root.0, b"key").0;
        let _ = match &p.value {
            Some(value) => p.proof.verify_membership(&p.root, &key, value),
            None => p.proof.verify_non_membership(&p.root, &key),
        };
    }

    if let Some(items) = named("proofs", answers::proofs(v, req.height, req.asked)) {
        assert_eq!(items.len(), req.asked, "proofs not paired with the keys");
        for p in &items {
            let _ = p.proof.verify_non_membership(&p.root, b"receipts/fuzz/1");
        }
    }

    if let Some(included) = named("submit_tx", answers::included(v.clone())) {
        if let Ok(report) = &included.outcome {
            report.events.iter().for_each(use_event);
        }
    }

    let _ = named("submit_tx", answers::broadcast(v));

    if let Some(events) = named("events", answers::events(v.clone())) {
        events.iter().for_each(|e| use_event(&e.event));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((req, body)) = RpcRequest::split(data) else {
        return;
    };
    let value = if req.structured {
        xrelay_fuzz::json::value(body)
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => v,
            Err(_) => return,
        }
    };
    decode_all(&value, req);
});
