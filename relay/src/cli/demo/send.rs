//! What both demos send: token transfers and echo messages, planned per chain and signed
//! and broadcast in each account's nonce order.

use std::collections::HashMap;
use std::time::Duration;

use xrelay_devchain::node::client::NodeClient;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_light_client::{Address, ChainId, Encode, SigningKey, Timeout};
use xrelay_protocol::TransferPacket;

use crate::devnet::coin;

/// One action to sign and broadcast on chain `chain` (an index into the devnet's chains).
pub(super) struct Planned {
    pub(super) chain: usize,
    pub(super) key: SigningKey,
    pub(super) action: Action,
}

pub(super) fn transfer(
    src: &ChainId,
    dst: &ChainId,
    from: &SigningKey,
    to: &SigningKey,
    amount: u64,
    timeout: Timeout,
) -> Action {
    // Each chain's own coin travels out; vouchers are not sent back in the demo, so the
    // escrow on the source always equals the vouchers on the destination.
    let denom = coin(src);
    let payload = TransferPacket {
        denom,
        amount: amount.into(),
        sender: from.address(),
        receiver: to.address(),
    }
    .encode();
    Action::Send {
        destination: dst.clone(),
        app: "transfer".into(),
        payload,
        timeout,
    }
}

/// Signs and broadcasts everything; each account's actions go in nonce order.
pub(super) async fn broadcast_all(
    nodes: &[NodeClient],
    ids: &[ChainId],
    plan: Vec<Planned>,
) -> anyhow::Result<()> {
    let mut by_account: HashMap<(usize, Address), (SigningKey, Vec<Action>)> = HashMap::new();
    for p in plan {
        by_account
            .entry((p.chain, p.key.address()))
            .or_insert_with(|| (p.key.clone(), Vec::new()))
            .1
            .push(p.action);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for ((chain, address), (key, actions)) in by_account {
        let node = nodes[chain].clone();
        let id = ids[chain].clone();
        tasks.spawn(async move {
            let first = node.nonce(&address).await?;
            for (i, action) in actions.into_iter().enumerate() {
                let tx = Tx::Signed(Box::new(SignedAction::sign(
                    &id,
                    &key,
                    first + i as u64,
                    action,
                )));
                crate::devnet::broadcast_when_room(&node, &tx, &id, Duration::from_millis(50))
                    .await?;
            }
            Ok::<(), anyhow::Error>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}
