//! The bounds every party enforces on relay transactions (PROTOCOL.md §9.2): a chain refuses
//! a transaction over them before verifying anything, a relayer cuts its batches and client
//! updates to fit them, a decoder refuses longer sequences before allocating.

/// Most items in one receive, ack or timeout batch.
pub const MAX_BATCH: usize = 1024;
/// Most light blocks in one client update.
pub const MAX_UPDATE_BLOCKS: usize = 256;
/// Most updates in one EVM client update (each carries up to 256 headers or one
/// attested block).
pub const MAX_EVM_UPDATES: usize = 16;
/// Most signature recoveries verifying one transaction may need (PROTOCOL.md §9.2,
/// verification budget): two fully signed headers of a 1,024-validator chain (misbehaviour
/// evidence), about 80 ms of secp256k1 work on one core. Relay transactions are free, so
/// each must cost a bounded amount to check.
pub const MAX_TX_SIGNATURES: usize = 2_048;
/// Most headers (light blocks, EVM headers, attested blocks) in one transaction.
pub const MAX_TX_HEADERS: usize = 256;
/// Most state proofs in one transaction (one per item of a receive, ack or timeout).
pub const MAX_TX_PROOFS: usize = MAX_BATCH;
