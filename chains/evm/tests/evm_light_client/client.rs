//! Driving `EvmLightClient` and the Rust `EvmClientState` side by side: deployment, the
//! create arguments, update bodies sent (or only called) on chain and applied in Rust, and
//! the comparison of their verdicts and of what each then holds.

use alloy::primitives::Bytes;
use alloy::providers::DynProvider;
use alloy::rpc::types::TransactionReceipt;
use xrelay_evm::evm_light_client::EvmLightClient;
use xrelay_evm::{create_evm_client_args, evm_misbehaviour_body, evm_update_body};
use xrelay_light_client::encoding::Reader;
use xrelay_light_client::evm::attest::Attested;
use xrelay_light_client::evm::client::{EvmClientState, EvmUpdate};
use xrelay_light_client::evm::header::{EvmHeader, MAX_HEADER_BYTES};
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
use xrelay_light_client::{ChainId, Decode, Hash32, Height};

use super::client_labels;
use super::labels;

/// The client contract on the test node.
pub type Client = EvmLightClient::EvmLightClientInstance<DynProvider>;

/// A trusting period long enough that the differential tests never see it (the Rust client
/// has none, PROTOCOL.md §12.6).
pub const LONG_PERIOD_MS: u64 = 10 * 365 * 24 * 3600 * 1000;
/// The clock drift the tests allow.
pub const DRIFT_MS: u64 = 60_000;

/// Deploys a client contract governed by `provider`'s account.
pub async fn deploy(provider: &DynProvider) -> Client {
    let address = xrelay_evm::deploy_evm_light_client(provider.clone())
        .await
        .expect("deploy EvmLightClient");
    EvmLightClient::new(address, provider.clone())
}

/// The label of a failed call's revert.
pub fn revert_label(e: &alloy::contract::Error) -> String {
    let data = e
        .as_revert_data()
        .unwrap_or_else(|| panic!("call failed without a revert: {e}"));
    client_labels::contract(&data)
}

/// Creates (or, `reset`, replaces) the client of `state`'s chain with `period_ms`.
pub async fn create(lc: &Client, state: &EvmClientState, period_ms: u64, reset: bool) {
    let args = create_evm_client_args(state, period_ms, DRIFT_MS);
    let call = if reset {
        lc.resetClient(args).send().await
    } else {
        lc.createClient(args).send().await
    };
    let receipt = call
        .unwrap_or_else(|e| panic!("create/reset: {}", revert_label(&e)))
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status(), "create/reset mined but reverted");
}

/// Sends `updateClient(body)`: the receipt, or the refusal's label.
pub async fn send_update(lc: &Client, body: Bytes) -> Result<TransactionReceipt, String> {
    let pending = lc
        .updateClient(body)
        .send()
        .await
        .map_err(|e| revert_label(&e))?;
    let receipt = pending.get_receipt().await.expect("receipt");
    assert!(receipt.status(), "mined updateClient reverted");
    Ok(receipt)
}

/// What `updateClient(body)` would do now: the (height, hash) of the blocks it newly trusts,
/// or the refusal's label.
pub async fn call_update(lc: &Client, body: Bytes) -> Result<Vec<(Height, Hash32)>, String> {
    match lc.updateClient(body).call().await {
        Ok(r) => Ok(r
            .heights
            .iter()
            .zip(&r.hashes)
            .map(|(h, x)| (*h, Hash32(x.0)))
            .collect()),
        Err(e) => Err(revert_label(&e)),
    }
}

/// The updates of a tag-6 body, decoded as the Rust decoder does, except that a header
/// that does not decode is reported with its `EvmHeaderError` (the decoder folds it into a
/// `DecodeError`, the contract names it).
pub fn decode_updates(body: &[u8]) -> Result<(ChainId, Vec<EvmUpdate>), String> {
    let malformed = |_| "malformed".to_string();
    let mut r = Reader::new(body);
    let chain: ChainId = r.get().map_err(malformed)?;
    let n = r.len_prefix("evm updates", 16, 5).map_err(malformed)?;
    let mut updates = Vec::with_capacity(n);
    for _ in 0..n {
        match r.u8().map_err(malformed)? {
            0 => {
                let count = r.len_prefix("headers", 256, 4).map_err(malformed)?;
                let mut headers = Vec::with_capacity(count);
                for _ in 0..count {
                    let raw = r.bytes("header", MAX_HEADER_BYTES).map_err(malformed)?;
                    headers.push(EvmHeader::decode(raw).map_err(|e| labels::header(&e))?);
                }
                updates.push(EvmUpdate::Headers(headers));
            }
            1 => updates.push(EvmUpdate::Attested(r.get::<Attested>().map_err(malformed)?)),
            _ => return Err("malformed".into()),
        }
    }
    r.finish().map_err(malformed)?;
    Ok((chain, updates))
}

/// The Rust verdict on an update body (the devchain's tag-6 handler): the client after it
/// and the blocks it newly trusts, or the refusal's label.
pub fn rust_update(
    client: &EvmClientState,
    body: &[u8],
) -> Result<(EvmClientState, Vec<(Height, Hash32)>), String> {
    let (_, updates) = decode_updates(body)?;
    if updates.is_empty() {
        return Err("empty_update".into());
    }
    let mut c = client.clone();
    let mut trusted = Vec::new();
    for u in &updates {
        let before = c.latest_height();
        c.update(u).map_err(|e| client_labels::client(&e))?;
        trusted.extend(
            c.heights()
                .filter(|h| *h > before)
                .map(|h| (h, c.consensus_state(h).expect("held").block_hash)),
        );
    }
    Ok((c, trusted))
}

/// Sends `updates` to the contract and applies them in Rust: both must give the same
/// verdict (and on acceptance trust the same blocks). Returns the label ("ok" if accepted).
pub async fn update_both(
    lc: &Client,
    rust: &mut EvmClientState,
    updates: &[EvmUpdate],
    what: &str,
) -> String {
    let body = evm_update_body(rust.chain_id(), updates);
    let expected = rust_update(rust, &body);
    let called = call_update(lc, body.clone()).await;
    match expected {
        Ok((next, trusted)) => {
            assert_eq!(
                called,
                Ok(trusted),
                "{what}: contract and Rust trust different blocks"
            );
            send_update(lc, body).await.expect("the call was accepted");
            *rust = next;
            assert_same_state(lc, rust, what).await;
            "ok".into()
        }
        Err(label) => {
            assert_eq!(called, Err(label.clone()), "{what}: verdicts differ");
            label
        }
    }
}

/// Compares what the contract holds with the Rust client: latest height, every kept
/// consensus state at the heights Rust holds (the newest 16), the trusted set.
pub async fn assert_same_state(lc: &Client, rust: &EvmClientState, what: &str) {
    let id = Bytes::copy_from_slice(rust.chain_id().as_str().as_bytes());
    let latest = lc
        .latestHeight(id.clone())
        .call()
        .await
        .expect("latestHeight");
    assert_eq!(latest, rust.latest_height(), "{what}: latest height");
    let heights: Vec<Height> = rust.heights().collect();
    for h in heights.iter().rev().take(16) {
        let cs = lc
            .consensusState(id.clone(), *h)
            .call()
            .await
            .expect("consensusState");
        let want = rust.consensus_state(*h).expect("held");
        assert!(cs.exists, "{what}: height {h} held");
        assert_eq!(
            Hash32(cs.headerHash.0),
            want.block_hash,
            "{what}: hash at {h}"
        );
        assert_eq!(
            Hash32(cs.stateRoot.0),
            want.state_root,
            "{what}: root at {h}"
        );
        assert_eq!(cs.timeMs, want.time_ms, "{what}: time at {h}");
    }
    let validators: Vec<[u8; 20]> = lc
        .trustedValidators(id)
        .call()
        .await
        .expect("trustedValidators")
        .iter()
        .map(|a| a.0 .0)
        .collect();
    let expected: Vec<[u8; 20]> = match rust.mode() {
        xrelay_light_client::evm::client::FinalityMode::Attestation(c) => {
            c.attesters().iter().map(|a| a.0).collect()
        }
        _ => rust.validators().iter().map(|a| a.0).collect(),
    };
    assert_eq!(validators, expected, "{what}: trusted validators");
}

/// The Rust verdict on a `submitMisbehaviour` body: the height frozen at, or the label.
pub fn rust_evidence(client: &EvmClientState, body: &[u8]) -> Result<Height, String> {
    let malformed = |_| "malformed".to_string();
    let mut r = Reader::new(body);
    let _: ChainId = r.get().map_err(malformed)?;
    let rest = &body[body.len() - r.remaining()..];
    // Headers that do not decode are named, as in update bodies.
    let evidence = match EvmMisbehaviour::decode(rest) {
        Ok(e) => e,
        Err(_) => return Err(evidence_decode_label(rest)),
    };
    client
        .clone()
        .freeze_on_misbehaviour(&evidence)
        .map_err(|e| client_labels::misbehaviour(&e))
}

/// Why evidence bytes do not decode: the first header's `EvmHeaderError` if a header is
/// what fails, else `malformed`.
fn evidence_decode_label(bytes: &[u8]) -> String {
    let mut r = Reader::new(bytes);
    if !matches!(r.u8(), Ok(0)) {
        return "malformed".into();
    }
    for _ in 0..2 {
        let Ok(raw) = r.bytes("header", MAX_HEADER_BYTES) else {
            return "malformed".into();
        };
        if let Err(e) = EvmHeader::decode(raw) {
            return labels::header(&e);
        }
    }
    "malformed".into()
}

/// What `submitMisbehaviour(body)` would do now: Ok, or the refusal's label.
pub async fn call_evidence(lc: &Client, body: Bytes) -> Result<(), String> {
    lc.submitMisbehaviour(body)
        .call()
        .await
        .map(|_| ())
        .map_err(|e| revert_label(&e))
}

/// The evidence body of `evidence` against `rust`'s chain.
pub fn evidence_body(rust: &EvmClientState, evidence: &EvmMisbehaviour) -> Bytes {
    evm_misbehaviour_body(rust.chain_id(), evidence)
}
