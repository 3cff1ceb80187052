//! Transactions that create, update, reset and freeze the light clients this chain keeps of
//! its counterparties, BFT and EVM. Its own file because these are the only handlers that
//! write clients; the message handlers only load them (through `counterparty`).

use xrelay_light_client::evm::client::{EvmClientError, EvmClientState, EvmUpdate};
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
use xrelay_light_client::{
    ChainId, ClientState, LightBlock, Misbehaviour, MisbehaviourKind, TrustOptions, TrustedState,
};

use super::checks;
use super::counterparty::{
    has_client, load_client, load_evm_client, store_client, store_evm_client,
};
use super::{report, Context, Event, ModuleError, TxReport};
use crate::state::Overlay;

/// Installs a client of a new chain (genesis or governance); refused if the chain has a
/// client of either kind already.
pub(super) fn create_client(
    s: &mut Overlay<'_>,
    trusted: &TrustedState,
    options: &TrustOptions,
) -> Result<Event, ModuleError> {
    // One client per chain, of one kind: a second would let two trust roots speak for it.
    if has_client(s, &trusted.chain_id)? {
        return Err(ModuleError::ClientExists(trusted.chain_id.clone()));
    }
    let client = ClientState::new(trusted.clone(), *options)
        .map_err(|e| ModuleError::client(&trusted.chain_id, e))?;
    store_client(s, &client);
    Ok(Event::ClientCreated {
        chain: trusted.chain_id.clone(),
        height: trusted.height,
    })
}

/// Consensus states an on-chain client keeps after an update (the newest, and never one
/// older than the trusting period): the client is rewritten in the state tree on every
/// update, so its size is the cost of every update. Deliveries proven at a forgotten
/// height are refused; relayers prove at recent heights and retry at a newer one.
pub const KEPT_CONSENSUS_STATES: usize = 512;

/// Applies light blocks to the BFT client of `chain` (`UpdateClient`), prunes what it no
/// longer needs, and reports each accepted header for misbehaviour watchers.
pub(super) fn update_client(
    s: &mut Overlay<'_>,
    ctx: &Context,
    chain: &ChainId,
    blocks: &[LightBlock],
) -> Result<TxReport, ModuleError> {
    checks::check_non_empty(blocks.len())?;
    let mut client = load_client(s, chain)?;
    client
        .update(blocks, ctx.time_ms)
        .map_err(|e| ModuleError::client(chain, e))?;
    client.prune_to(ctx.time_ms, KEPT_CONSENSUS_STATES);
    store_client(s, &client);
    Ok(report(vec![Event::ClientUpdated {
        chain: chain.clone(),
        headers: blocks
            .iter()
            .map(|b| (b.height(), b.header().hash()))
            .collect(),
    }]))
}

/// Governance installs only clients that can work: a frozen one would refuse everything.
fn check_not_frozen(client: &EvmClientState) -> Result<(), ModuleError> {
    if client.is_frozen() {
        return Err(ModuleError::evm_client(
            client.chain_id(),
            EvmClientError::Frozen,
        ));
    }
    Ok(())
}

/// Installs a client of a new EVM chain (governance); refused if the chain has a client of
/// either kind already, or if the state is frozen.
pub(super) fn create_evm_client(
    s: &mut Overlay<'_>,
    client: &EvmClientState,
) -> Result<Event, ModuleError> {
    if has_client(s, client.chain_id())? {
        return Err(ModuleError::ClientExists(client.chain_id().clone()));
    }
    check_not_frozen(client)?;
    store_evm_client(s, client);
    Ok(Event::ClientCreated {
        chain: client.chain_id().clone(),
        height: client.latest_height(),
    })
}

/// Applies `updates` in order to the EVM client of `chain`, all or nothing, and reports
/// each block it newly trusts as (height, block hash), the same event a BFT update emits.
pub(super) fn update_evm_client(
    s: &mut Overlay<'_>,
    chain: &ChainId,
    updates: &[EvmUpdate],
) -> Result<TxReport, ModuleError> {
    checks::check_non_empty(updates.len())?;
    let mut client = load_evm_client(s, chain)?;
    let mut headers = Vec::new();
    for update in updates {
        let before = client.latest_height();
        client
            .update(update)
            .map_err(|e| ModuleError::evm_client(chain, e))?;
        // Updates only add blocks above the latest one, so the new blocks are those above
        // `before` (one update adds at most 256, fewer than the 512 the client keeps).
        headers.extend(
            client
                .heights()
                .filter(|h| *h > before)
                .filter_map(|h| client.consensus_state(h).map(|cs| (h, cs.block_hash))),
        );
    }
    store_evm_client(s, &client);
    Ok(report(vec![Event::ClientUpdated {
        chain: chain.clone(),
        headers,
    }]))
}

/// Replaces the trusted state of the existing BFT client of `trusted.chain_id`
/// (governance's `ResetClient`), e.g. after it expired or froze.
pub(super) fn reset_client(
    s: &mut Overlay<'_>,
    trusted: &TrustedState,
    options: &TrustOptions,
) -> Result<Event, ModuleError> {
    let mut client = load_client(s, &trusted.chain_id)?;
    client
        .reset(trusted.clone(), *options)
        .map_err(|e| ModuleError::client(&trusted.chain_id, e))?;
    store_client(s, &client);
    Ok(Event::ClientCreated {
        chain: trusted.chain_id.clone(),
        height: trusted.height,
    })
}

/// Replaces the existing EVM client of `client.chain_id()` (governance's
/// `ResetEvmClient`) by a state that is not frozen.
pub(super) fn reset_evm_client(
    s: &mut Overlay<'_>,
    client: &EvmClientState,
) -> Result<Event, ModuleError> {
    // Only an existing EVM client is replaced (a typed error otherwise).
    load_evm_client(s, client.chain_id())?;
    check_not_frozen(client)?;
    store_evm_client(s, client);
    Ok(Event::ClientCreated {
        chain: client.chain_id().clone(),
        height: client.latest_height(),
    })
}

/// Freezes the BFT client of `chain` on valid misbehaviour evidence
/// (`SubmitMisbehaviour`): from then on it proves nothing.
pub(super) fn submit_misbehaviour(
    s: &mut Overlay<'_>,
    ctx: &Context,
    chain: &ChainId,
    evidence: &Misbehaviour,
) -> Result<TxReport, ModuleError> {
    let mut client = load_client(s, chain)?;
    let kind = client
        .submit_misbehaviour(evidence, ctx.time_ms)
        .map_err(|e| ModuleError::client(chain, e))?;
    store_client(s, &client);
    Ok(report(vec![Event::ClientFrozen {
        chain: chain.clone(),
        kind,
        evidence: evidence.hash(),
    }]))
}

/// Freezes the EVM client of `chain` on evidence that its trusted validators (or its
/// committee) vouched for two different blocks at one height (`SubmitEvmMisbehaviour`,
/// PROTOCOL.md §12.7), checked by `freeze_on_misbehaviour` from the client's own trusted
/// set or committee and held blocks: from then on it proves nothing. Evidence against a
/// client frozen already is checked the same way and leaves it frozen.
pub(super) fn submit_evm_misbehaviour(
    s: &mut Overlay<'_>,
    chain: &ChainId,
    evidence: &EvmMisbehaviour,
) -> Result<TxReport, ModuleError> {
    let mut client = load_evm_client(s, chain)?;
    let height =
        client
            .freeze_on_misbehaviour(evidence)
            .map_err(|error| ModuleError::EvmMisbehaviour {
                chain: chain.clone(),
                error,
            })?;
    store_evm_client(s, &client);
    Ok(report(vec![Event::ClientFrozen {
        chain: chain.clone(),
        // Every kind of EVM evidence shows two different blocks at one height.
        kind: MisbehaviourKind::ConflictingHeaders { height },
        evidence: evidence.hash(),
    }]))
}
