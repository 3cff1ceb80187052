//! The header harness (`contracts/test/EvmHeadersHarness.sol`) and the Rust
//! `verify_header` it is compared with: both give a verdict (block hash, seal digest,
//! signers, listed validators) or a refusal label (`labels`).

use alloy::primitives::Bytes;
use alloy::providers::DynProvider;
use xrelay_light_client::evm::consensus::{verify_header, EvmConsensus};
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::{Address, Hash32};

use super::labels;

alloy::sol!(
    /// Binding of `contracts/test/EvmHeadersHarness.sol` from its committed artifact.
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    EvmHeadersHarness,
    "artifacts/EvmHeadersHarness.json"
);

/// The harness as deployed on the test node.
pub type Harness = EvmHeadersHarness::EvmHeadersHarnessInstance<DynProvider>;

/// What a verified header showed: the same four values from either side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The chain's block hash.
    pub hash: Hash32,
    /// What the seals signed.
    pub digest: Hash32,
    /// The sealers, in seal order.
    pub signers: Vec<Address>,
    /// The validators the header names (BFT list; Clique checkpoint signers, else none).
    pub listed: Vec<Address>,
}

/// Deploys the harness.
pub async fn deploy(provider: &DynProvider) -> Harness {
    EvmHeadersHarness::deploy(provider.clone())
        .await
        .expect("deploy EvmHeadersHarness")
}

/// The number the harness and the client give a consensus (FinalityMode's tag).
pub fn number(consensus: EvmConsensus) -> (u8, u64) {
    match consensus {
        EvmConsensus::Qbft => (0, 0),
        EvmConsensus::Ibft2 => (1, 0),
        EvmConsensus::Clique { epoch } => (2, epoch),
    }
}

fn address(a: &alloy::primitives::Address) -> Address {
    Address(a.0 .0)
}

/// The harness's verdict on `bytes` against `validators` (`None`: the header's own list).
pub async fn on_chain(
    harness: &Harness,
    consensus: EvmConsensus,
    bytes: &[u8],
    validators: Option<&[Address]>,
) -> Result<Verdict, String> {
    let (mode, epoch) = number(consensus);
    let packed: Vec<u8> = validators
        .unwrap_or_default()
        .iter()
        .flat_map(|a| a.0)
        .collect();
    match harness
        .verifyHeader(
            mode,
            epoch,
            Bytes::copy_from_slice(bytes),
            Bytes::from(packed),
            validators.is_none(),
        )
        .call()
        .await
    {
        Ok(r) => Ok(Verdict {
            hash: Hash32(r.blockHash.0),
            digest: Hash32(r.sealDigest.0),
            signers: r.signers.iter().map(address).collect(),
            listed: r.listed.iter().map(address).collect(),
        }),
        Err(e) => {
            let data = e
                .as_revert_data()
                .unwrap_or_else(|| panic!("harness call failed without a revert: {e}"));
            let decoded = <EvmHeadersHarness::EvmHeadersHarnessErrors as alloy::sol_types::SolInterface>::abi_decode(&data)
                .unwrap_or_else(|_| panic!("unknown revert {}", hex::encode(&data)));
            Err(labels::harness(&decoded))
        }
    }
}

/// The Rust verdict on the same input: `EvmHeader::decode`, the header's own list when
/// `validators` is `None` (`header_validators`, as `xrelay verify evm-header` does), then
/// `verify_header`.
pub fn in_rust(
    consensus: EvmConsensus,
    bytes: &[u8],
    validators: Option<&[Address]>,
) -> Result<Verdict, String> {
    let header = EvmHeader::decode(bytes).map_err(|e| labels::header(&e))?;
    let set = match validators {
        Some(v) => v.to_vec(),
        None => match consensus.header_validators(&header) {
            Err(e) => return Err(labels::consensus(&e)),
            Ok(None) => return Err("no_listed_validators".into()),
            Ok(Some(v)) => v,
        },
    };
    let v = verify_header(consensus, &header, &set).map_err(|e| labels::consensus(&e))?;
    Ok(Verdict {
        hash: v.hash,
        digest: v.seal_digest,
        signers: v.signers,
        listed: v.next_validators.unwrap_or_default(),
    })
}
