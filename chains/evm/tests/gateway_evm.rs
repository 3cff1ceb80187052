//! Two Gateways that follow each other as EVM chains (PROTOCOL.md §9.2 tags 6–10, §12): the
//! counterparty's blocks are attested by a 2-of-3 committee into the `EvmLightClient`, and
//! every message, acknowledgement and timeout is proven by the counterpart Gateway's real
//! `eth_getProof` answer, checked by `EvmStorageProofs`. Both Gateways live on one anvil
//! node (two chain ids, two deployments): the proofs are of two different contracts'
//! storage, exactly as across two nodes, and one node keeps the test fast. Evidence that
//! the committee attested two blocks at one height (tag 10 as `submitEvmMisbehaviour`)
//! freezes a Gateway's client of the other chain; bad evidence reverts and changes nothing.

mod common;

use alloy::primitives::{Address as EvmAddress, Bytes, B256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolEvent;
use xrelay_evm::create_evm_client_args;
use xrelay_evm::evm_light_client::{EvmLightClient, EvmLightClientErrors};
use xrelay_evm::gateway::{deploy_all, relay_call, Deployment, Gateway, GatewayErrors};
use xrelay_light_client::evm::attest::{Attestation, Attested, Committee};
use xrelay_light_client::evm::client::{
    provable_slot, EvmClientState, EvmConsensusState, EvmStorageProof, EvmUpdate, FinalityMode,
};
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
use xrelay_light_client::{paths, Address, ChainId, Decode, Hash32, Message, SigningKey};
use xrelay_protocol::{InboundMessage, ProvenAck, ProvenMessage, RelayTx, SourceProof, Submission};

/// The committee that attests both chains: 2 of 3.
fn attesters() -> Vec<SigningKey> {
    (0..3)
        .map(|i| SigningKey::from_seed("gateway-evm-attester", i))
        .collect()
}

fn id(s: &str) -> ChainId {
    ChainId::new(s).unwrap()
}

/// One chain of the pair: its id and contracts.
struct Side {
    chain: ChainId,
    d: Deployment,
}

impl Side {
    fn gateway(&self, p: &DynProvider) -> Gateway::GatewayInstance<DynProvider> {
        Gateway::new(self.d.gateway, p.clone())
    }
}

/// What a call's revert decoded to, or the receipt.
async fn send(
    p: &DynProvider,
    side: &Side,
    tx: &RelayTx,
) -> Result<TransactionReceipt, Option<GatewayErrors>> {
    use alloy::sol_types::SolInterface;
    let input = Bytes::from(relay_call(tx).abi_encode());
    let request = alloy::rpc::types::TransactionRequest::default()
        .to(side.d.gateway)
        .input(input.into());
    match p.send_transaction(request).await {
        Ok(pending) => {
            let receipt = pending.get_receipt().await.expect("receipt");
            assert!(receipt.status(), "mined relay call reverted: {receipt:?}");
            Ok(receipt)
        }
        Err(e) => Err(e
            .as_error_resp()
            .and_then(|r| r.as_revert_data())
            .and_then(|data| GatewayErrors::abi_decode(&data).ok())),
    }
}

fn events<E: SolEvent>(receipt: &TransactionReceipt, from: EvmAddress) -> Vec<E> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|l| l.address() == from)
        .filter_map(|l| l.log_decode::<E>().ok())
        .map(|l| l.inner.data)
        .collect()
}

/// The attested block `height` of the node as chain `chain`.
async fn attest(p: &DynProvider, chain: &ChainId, height: u64, keys: &[SigningKey]) -> Attested {
    let block = p
        .get_block_by_number(height.into())
        .await
        .unwrap()
        .expect("block");
    Attested::sign(
        Attestation {
            chain_id: chain.clone(),
            height,
            block_hash: Hash32(block.header.hash.0),
            state_root: Hash32(block.header.state_root.0),
            time_ms: block.header.timestamp * 1000,
        },
        keys,
    )
}

/// Brings `host`'s client of `of` to `height` with an attestation of 2 of the 3 attesters.
async fn update(p: &DynProvider, host: &Side, of: &Side, height: u64) {
    let attested = attest(p, &of.chain, height, &attesters()[..2]).await;
    send(
        p,
        host,
        &RelayTx::UpdateEvmClient {
            chain: of.chain.clone(),
            updates: vec![EvmUpdate::Attested(attested)],
        },
    )
    .await
    .expect("attested update accepted");
}

/// The real `eth_getProof` of `side`'s Gateway slot of `path` at `height`.
async fn proof(p: &DynProvider, side: &Side, path: &[u8], height: u64) -> EvmStorageProof {
    let slot = B256::from(provable_slot(path));
    let answer = p
        .get_proof(side.d.gateway, vec![slot])
        .block_id(height.into())
        .await
        .expect("eth_getProof");
    EvmStorageProof {
        account_proof: answer.account_proof.iter().map(|n| n.to_vec()).collect(),
        storage_proof: answer.storage_proof[0]
            .proof
            .iter()
            .map(|n| n.to_vec())
            .collect(),
    }
}

/// `host`'s client of `of` in the attestation mode, anchored at the node's latest block.
async fn create_client(p: &DynProvider, host: &Side, of: &Side) {
    let committee = Committee::new(attesters().iter().map(SigningKey::address).collect(), 2)
        .expect("committee");
    let height = p.get_block_number().await.unwrap();
    let block = p.get_block_by_number(height.into()).await.unwrap().unwrap();
    let state = EvmClientState::new(
        of.chain.clone(),
        FinalityMode::Attestation(committee),
        Vec::new(),
        Address(of.d.gateway.0 .0),
        height,
        EvmConsensusState {
            block_hash: Hash32(block.header.hash.0),
            state_root: Hash32(block.header.state_root.0),
            time_ms: block.header.timestamp * 1000,
        },
    )
    .expect("client state");
    let args = create_evm_client_args(&state, 7 * 24 * 3600 * 1000, 5_000);
    EvmLightClient::new(host.d.evm_light_client, p.clone())
        .createClient(args)
        .send()
        .await
        .expect("createClient")
        .get_receipt()
        .await
        .expect("createClient receipt");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_evm_gateways_relay_to_each_other_on_storage_proofs() {
    let anvil = common::spawn_anvil(&[]);
    let p = common::wallet_provider(&anvil, 0);
    let a = Side {
        chain: id("evm-a"),
        d: deploy_all(p.clone(), &id("evm-a")).await.expect("deploy a"),
    };
    let b = Side {
        chain: id("evm-b"),
        d: deploy_all(p.clone(), &id("evm-b")).await.expect("deploy b"),
    };
    create_client(&p, &a, &b).await;
    create_client(&p, &b, &a).await;

    // A sends an echo message to B and a second one that will time out.
    let far = u64::MAX / 2;
    let receipt = a
        .gateway(&p)
        .sendMessage(
            Bytes::copy_from_slice(b"evm-b"),
            Bytes::copy_from_slice(b"echo"),
            0,
            far,
            Bytes::from_static(b"hello from evm-a"),
        )
        .send()
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("receipt");
    let sent: Vec<Message> = events::<Gateway::Sent>(&receipt, a.d.gateway)
        .iter()
        .map(|e| Message::decode(&e.message).unwrap())
        .collect();
    let message = sent[0].clone();
    let sent_at = receipt.block_number.unwrap();
    let now_height = p.get_block_number().await.unwrap();
    let doomed_receipt = a
        .gateway(&p)
        .sendMessage(
            Bytes::copy_from_slice(b"evm-b"),
            Bytes::copy_from_slice(b"echo"),
            now_height + 20,
            0,
            Bytes::from_static(b"too late"),
        )
        .send()
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("receipt");
    let doomed =
        Message::decode(&events::<Gateway::Sent>(&doomed_receipt, a.d.gateway)[0].message).unwrap();
    let proof_height = doomed_receipt.block_number.unwrap();
    assert!(proof_height >= sent_at);
    update(&p, &b, &a, proof_height).await;

    let committed = proof(&p, &a, &paths::commitment(&b.chain, 1), proof_height).await;
    let recv = |proof: EvmStorageProof| RelayTx::RecvEvm {
        source: a.chain.clone(),
        proof_height,
        messages: vec![InboundMessage {
            message: message.clone(),
            shows: SourceProof::Committed,
            proof,
        }],
    };

    // A BFT relay call naming an EVM client is refused by family, before any proof.
    let as_bft = RelayTx::Recv {
        source: a.chain.clone(),
        proof_height,
        messages: vec![],
    };
    assert!(matches!(
        send(&p, &b, &as_bft).await,
        Err(Some(GatewayErrors::NotBftClient(_)))
    ));

    // Forged proofs change nothing: a flipped byte in the storage proof, another path's
    // proof (the doomed message's commitment), a proof of A's state for another gateway.
    let mut flipped = committed.clone();
    let last = flipped.storage_proof.len() - 1;
    let node = &mut flipped.storage_proof[last];
    let mid = node.len() / 2;
    node[mid] ^= 1;
    let other_path = proof(&p, &a, &paths::commitment(&b.chain, 2), proof_height).await;
    let of_b = proof(&p, &b, &paths::commitment(&b.chain, 1), proof_height).await;
    for forged in [flipped, other_path, of_b] {
        match send(&p, &b, &recv(forged)).await {
            Err(Some(GatewayErrors::ProofRefused(e))) => assert_eq!(e.sequence, 1),
            other => panic!("a forged proof must be refused, got {other:?}"),
        }
    }
    assert_eq!(
        b.gateway(&p)
            .nextRecv(Bytes::copy_from_slice(b"evm-a"))
            .call()
            .await
            .unwrap(),
        1
    );

    // The real proof delivers; the same body again is AlreadyDone.
    let received = send(&p, &b, &recv(committed.clone()))
        .await
        .expect("recvEvm with the real proof");
    eprintln!(
        "recvEvm of one echo message (account and storage proof, app, receipt, ack): {} gas",
        received.gas_used
    );
    let got = events::<Gateway::Received>(&received, b.d.gateway);
    assert_eq!(got.len(), 1);
    assert_eq!(Message::decode(&got[0].message).unwrap(), message);
    let again = send(&p, &b, &recv(committed)).await.expect("replay");
    assert_eq!(events::<Gateway::AlreadyDone>(&again, b.d.gateway).len(), 1);

    // B's ack travels back to A on a proof of B's storage.
    let ack_height = received.block_number.unwrap();
    update(&p, &a, &b, ack_height).await;
    let ack = xrelay_light_client::Acknowledgement::decode(&got[0].ack).unwrap();
    let ack_proof = proof(&p, &b, &paths::ack(&a.chain, 1), ack_height).await;
    let acked = send(
        &p,
        &a,
        &RelayTx::AckEvm {
            destination: b.chain.clone(),
            proof_height: ack_height,
            acks: vec![ProvenAck {
                message: message.clone(),
                ack,
                proof: ack_proof,
            }],
        },
    )
    .await
    .expect("acknowledgeEvm");
    assert_eq!(
        events::<Gateway::Acknowledged>(&acked, a.d.gateway).len(),
        1
    );

    // Before its timeout height on B, the doomed message cannot be timed out, even with a
    // true proof that its receipt is absent.
    assert!(ack_height < doomed.timeout.height);
    let early = proof(&p, &b, &paths::receipt(&a.chain, 2), ack_height).await;
    let too_early = RelayTx::TimeoutEvm {
        destination: b.chain.clone(),
        proof_height: ack_height,
        messages: vec![ProvenMessage {
            message: doomed.clone(),
            proof: early,
        }],
    };
    assert!(matches!(
        send(&p, &a, &too_early).await,
        Err(Some(GatewayErrors::NotTimedOut(_)))
    ));

    // The doomed message: once B is past its timeout height, A times it out on a proof
    // that B never wrote its receipt.
    let _: serde_json::Value = p
        .raw_request("anvil_mine".into(), (25u64,))
        .await
        .expect("anvil_mine");
    let late = p.get_block_number().await.unwrap();
    assert!(late > doomed.timeout.height);
    update(&p, &a, &b, late).await;
    let absent = proof(&p, &b, &paths::receipt(&a.chain, 2), late).await;
    let timed_out = send(
        &p,
        &a,
        &RelayTx::TimeoutEvm {
            destination: b.chain.clone(),
            proof_height: late,
            messages: vec![ProvenMessage {
                message: doomed.clone(),
                proof: absent,
            }],
        },
    )
    .await
    .expect("timeoutEvm");
    assert_eq!(
        events::<Gateway::TimedOut>(&timed_out, a.d.gateway).len(),
        1
    );
}

/// What the relayer sends a Gateway for EVM evidence: the submission as a relay
/// transaction, as a `submitEvmMisbehaviour` call. A revert is decoded as the EVM light
/// client's error (the Gateway passes its revert on).
async fn submit_evidence(
    p: &DynProvider,
    host: &Side,
    of: &Side,
    evidence: EvmMisbehaviour,
) -> Result<TransactionReceipt, Option<EvmLightClientErrors>> {
    use alloy::sol_types::SolInterface;
    let tx = RelayTx::from_submission(Submission::EvmMisbehaviour {
        of: of.chain.clone(),
        evidence: Box::new(evidence),
    })
    .expect("evidence carries no proofs");
    assert!(matches!(
        relay_call(&tx),
        Gateway::GatewayCalls::submitEvmMisbehaviour(_)
    ));
    let request = alloy::rpc::types::TransactionRequest::default()
        .to(host.d.gateway)
        .input(Bytes::from(relay_call(&tx).abi_encode()).into());
    match p.send_transaction(request).await {
        Ok(pending) => {
            let receipt = pending.get_receipt().await.expect("receipt");
            assert!(receipt.status(), "mined evidence reverted: {receipt:?}");
            Ok(receipt)
        }
        Err(e) => Err(e
            .as_error_resp()
            .and_then(|r| r.as_revert_data())
            .and_then(|data| EvmLightClientErrors::abi_decode(&data).ok())),
    }
}

async fn is_frozen(p: &DynProvider, host: &Side, of: &Side) -> bool {
    EvmLightClient::new(host.d.evm_light_client, p.clone())
        .isFrozen(Bytes::copy_from_slice(of.chain.as_str().as_bytes()))
        .call()
        .await
        .expect("isFrozen")
}

#[tokio::test(flavor = "multi_thread")]
async fn evm_evidence_through_the_gateway_freezes_its_client_and_bad_evidence_reverts() {
    let anvil = common::spawn_anvil(&[]);
    let p = common::wallet_provider(&anvil, 0);
    let a = Side {
        chain: id("evm-a"),
        d: deploy_all(p.clone(), &id("evm-a")).await.expect("deploy a"),
    };
    let b = Side {
        chain: id("evm-b"),
        d: deploy_all(p.clone(), &id("evm-b")).await.expect("deploy b"),
    };
    create_client(&p, &a, &b).await;
    let _: serde_json::Value = p
        .raw_request("anvil_mine".into(), (1u64,))
        .await
        .expect("anvil_mine");
    let h = p.get_block_number().await.unwrap();
    update(&p, &a, &b, h).await;
    let honest = attest(&p, &b.chain, h, &attesters()[..2]).await;
    let mut other = honest.attestation.clone();
    other.block_hash = Hash32([0xee; 32]);
    other.state_root = Hash32([0xee; 32]);
    let forged = Attested::sign(other.clone(), &attesters()[1..]);

    // The held block is no conflict with itself; one attester is no quorum: both revert,
    // nothing frozen.
    let refused = submit_evidence(&p, &a, &b, EvmMisbehaviour::Conflict(honest.clone())).await;
    assert!(
        matches!(&refused, Err(Some(EvmLightClientErrors::NoConflict(e))) if e.height == h),
        "{refused:?}"
    );
    let lone = Attested::sign(other, &attesters()[..1]);
    let refused = submit_evidence(
        &p,
        &a,
        &b,
        EvmMisbehaviour::Attestations {
            first: honest.clone(),
            second: lone,
        },
    )
    .await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(!is_frozen(&p, &a, &b).await);
    // Evidence naming a chain the Gateway has no EVM client of.
    let refused = submit_evidence(&p, &b, &a, EvmMisbehaviour::Conflict(forged.clone())).await;
    assert!(refused.is_err(), "{refused:?}");

    // Two attestations of one height by the committee: the client freezes, the Gateway
    // says so, and it takes no more updates.
    let receipt = submit_evidence(
        &p,
        &a,
        &b,
        EvmMisbehaviour::Attestations {
            first: forged,
            second: honest,
        },
    )
    .await
    .expect("evidence accepted");
    let frozen = events::<Gateway::ClientFrozen>(&receipt, a.d.gateway);
    assert_eq!(frozen.len(), 1);
    assert_eq!(frozen[0].chainId.as_ref(), b.chain.as_str().as_bytes());
    assert!(is_frozen(&p, &a, &b).await);
    let _: serde_json::Value = p
        .raw_request("anvil_mine".into(), (1u64,))
        .await
        .expect("anvil_mine");
    let next = p.get_block_number().await.unwrap();
    let attested = attest(&p, &b.chain, next, &attesters()[..2]).await;
    assert!(send(
        &p,
        &a,
        &RelayTx::UpdateEvmClient {
            chain: b.chain.clone(),
            updates: vec![EvmUpdate::Attested(attested)],
        },
    )
    .await
    .is_err());
}
