//! `EvmLightClient` and its header libraries on a real anvil node, differentially against
//! the Rust EVM light client (`light-clients/src/evm/`): real headers and the shared
//! real-data vectors through a header harness; generated QBFT, IBFT 2.0, Clique and
//! attestation runs through the client; every single-bit alteration of update and evidence
//! bodies; governance, the trusting period, freezing and reset, pruning, all-or-nothing
//! batches; and gas per header against its floor (`-- --nocapture` prints the counts and
//! the gas table).
//!
//! One anvil per test file, killed when the single test below ends; the scenarios run in
//! turn on it, each against freshly deployed contracts.

#[path = "evm_light_client/alterations.rs"]
mod alterations;
#[path = "evm_light_client/client.rs"]
mod client;
#[path = "evm_light_client/client_labels.rs"]
mod client_labels;
#[path = "common/mod.rs"]
mod common;
#[path = "evm_light_client/evidence.rs"]
mod evidence;
#[path = "evm_light_client/gas.rs"]
mod gas;
#[path = "evm_light_client/harness.rs"]
mod harness;
#[path = "evm_light_client/labels.rs"]
mod labels;
#[path = "evm_light_client/lifecycle.rs"]
mod lifecycle;
#[path = "evm_light_client/runs.rs"]
mod runs;
#[path = "evm_light_client/setups.rs"]
mod setups;
#[path = "evm_light_client/vectors.rs"]
mod vectors;

use common::Node;
use xrelay_light_client::evm::istanbul::BftVariant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evm_light_client_on_anvil() {
    let wall_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let node = Node::start(wall_s);
    let headers = harness::deploy(&node.provider).await;
    vectors::real_headers_and_every_bit_flipped(&headers).await;
    vectors::shared_vectors(&headers).await;

    let qbft = runs::bft_runs(&node, BftVariant::Qbft).await;
    let ibft2 = runs::bft_runs(&node, BftVariant::Ibft2).await;
    let clique = runs::clique_runs(&node).await;
    let attested = runs::attestation_runs(&node).await;
    let judged = evidence::evidence(&node).await;
    println!("misbehaviour evidence, contract verdict = Rust verdict: {judged} bodies");
    for (what, tally) in alterations::every_bit_flipped(&node).await {
        println!(
            "every bit 0 / bit 7 flipped, {what}: {} bodies, contract verdict = Rust verdict: {:?}",
            tally.compared, tally.kinds
        );
    }
    println!(
        "generated runs, contract verdict = Rust verdict: QBFT {qbft}, IBFT 2.0 {ibft2}, Clique {clique}, attestation {attested} bodies"
    );

    lifecycle::governance(&node).await;
    lifecycle::pruning(&node).await;

    println!("updateClient gas per header (receipt gasUsed; exec = minus 21,000 and calldata; floor = ecrecover 3,000 each + the hashing the rules require; x = exec / floor; x-st = (exec - 66,300 for the three new storage slots of a consensus state) / floor):");
    println!(
        "  {:<34} {:>9} {:>9} {:>11} {:>9} {:>7} {:>7} {:>7} {:>7}",
        "", "single", "exec", "run of 10", "exec", "floor", "x(1)", "x(10)", "x-st(10)"
    );
    for r in gas::table(&node).await {
        println!(
            "  {:<34} {:>9} {:>9} {:>11} {:>9} {:>7} {:>7.2} {:>7.2} {:>7.2}",
            r.what,
            r.single,
            r.single_exec,
            r.per_header_in_10,
            r.run_exec,
            r.floor,
            r.single_exec as f64 / r.floor as f64,
            r.run_exec as f64 / r.floor as f64,
            r.run_exec.saturating_sub(gas::NEW_STATE_GAS) as f64 / r.floor as f64
        );
    }

    // Last: it moves the node's clock forward.
    lifecycle::trusting_period(&node).await;
}
