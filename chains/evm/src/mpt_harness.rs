//! The test-only `MptHarness` contract (`contracts/test/MptHarness.sol`): the binding tests
//! use to run `MerklePatricia` on a node (`MptHarness::deploy`) and compare it with Rust.

alloy::sol!(
    /// Binding of `contracts/test/MptHarness.sol`, generated from its committed artifact:
    /// `verifyProof`, `verifyAccount`, `verifyStorage`, `checkGatewayPath` (and its variants
    /// inside a larger body, measuring gas, and in a transaction) and `deploy`.
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    MptHarness,
    "artifacts/MptHarness.json"
);
