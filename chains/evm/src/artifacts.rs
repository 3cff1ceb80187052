//! The compiled contracts, as committed by `compile.mjs`: `{abi, bytecode, deployedBytecode}`
//! JSON, embedded so tools can deploy without node or solc.

/// `BftLightClient`: the light client of xrelay BFT chains (PROTOCOL.md §7–§8).
pub const BFT_LIGHT_CLIENT: &str = include_str!("../artifacts/BftLightClient.json");

/// `EvmLightClient`: the light client of EVM chains (PROTOCOL.md §11–§12); its constructor
/// deploys `EvmLightClientAdmin`.
pub const EVM_LIGHT_CLIENT: &str = include_str!("../artifacts/EvmLightClient.json");
