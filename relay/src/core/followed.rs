//! The relayer's own light client of one chain, whichever family the chain is: a BFT client
//! (devchain headers, sparse Merkle proofs) or an EVM client (sealed or attested headers,
//! Merkle-Patricia storage proofs of the Gateway). Everything the relay forwards passes one
//! of them first.

use xrelay_adapters::ChainProof;
use xrelay_light_client::evm::client::{
    provable_slot, verify_path, EvmClientError, EvmClientState, FinalityMode,
};
use xrelay_light_client::{
    BisectionError, ChainId, ClientError, ClientState, Hash32, Height, SigningKey, TimeMs,
};

use crate::store::{RelayStore, Transition};

/// What an operator needs to know of a light client, wherever it runs (the relayer's own,
/// or one hosted on a chain): how far it is and how long it can wait for an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ClientFacts {
    /// `bft` or `evm`.
    pub family: &'static str,
    /// The newest height it verified.
    pub height: Height,
    /// That header's time (0 if the client holds no state for it).
    pub header_time_ms: TimeMs,
    /// A BFT client's trusting period; EVM clients have none.
    pub trusting_period_ms: Option<u64>,
    /// Whether evidence froze it.
    pub frozen: bool,
}

impl ClientFacts {
    /// The facts of a client held on a chain.
    pub fn of_hosted(client: &xrelay_adapters::HostedClient) -> Self {
        use xrelay_adapters::HostedClient;
        match client {
            HostedClient::Bft(c) => Self::of_bft(c),
            HostedClient::Evm(c) => Self::of_evm(c),
        }
    }

    fn of_bft(c: &ClientState) -> Self {
        ClientFacts {
            family: "bft",
            height: c.latest_height(),
            header_time_ms: c
                .consensus_state(c.latest_height())
                .map_or(0, |cs| cs.time_ms),
            trusting_period_ms: Some(c.options().trusting_period_ms),
            frozen: c.frozen().is_some(),
        }
    }

    fn of_evm(c: &EvmClientState) -> Self {
        ClientFacts {
            family: "evm",
            height: c.latest_height(),
            header_time_ms: c
                .consensus_state(c.latest_height())
                .map_or(0, |cs| cs.time_ms),
            trusting_period_ms: None,
            frozen: c.is_frozen(),
        }
    }

    /// Milliseconds since its newest header at `now_ms`.
    pub fn age_ms(&self, now_ms: TimeMs) -> u64 {
        now_ms.saturating_sub(self.header_time_ms)
    }

    /// Milliseconds left before it expires without an update (negative once expired);
    /// `None` for clients that do not expire.
    pub fn trust_remaining_ms(&self, now_ms: TimeMs) -> Option<i64> {
        let age = i64::try_from(self.age_ms(now_ms)).unwrap_or(i64::MAX);
        self.trusting_period_ms
            .map(|p| i64::try_from(p).unwrap_or(i64::MAX).saturating_sub(age))
    }
}

/// What the relayer verified of one header of a followed chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The header's time.
    pub time_ms: TimeMs,
    /// The header (block) hash, as the chain's next header and on-chain clients name it.
    pub header_hash: Hash32,
    /// The state root proofs at this height are checked against.
    pub state_root: Hash32,
}

/// What a proof must show at a protocol path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect<'a> {
    /// The path holds this value.
    Value(&'a [u8]),
    /// The path is absent.
    Absent,
    /// The path holds what the chain said it stores (the value on a devchain, its
    /// `sha256` word on an EVM chain): "something is there", for paths whose value the
    /// relayer does not know in advance.
    Stored(&'a [u8]),
}

/// How the relayer follows an EVM chain (from its configuration).
#[derive(Debug, Clone)]
pub struct EvmFollow {
    /// Seals or attestations.
    pub mode: FinalityMode,
    /// The Gateway contract whose storage is proven.
    pub gateway: xrelay_light_client::Address,
    /// This relayer's attester key (attestation mode).
    pub attester: Option<SigningKey>,
    /// Where the committee's signatures meet (attestation mode): this relayer's and its
    /// mesh peers'.
    pub board: std::sync::Arc<crate::core::attestations::AttestationBoard>,
}

/// Why a verification failed: a stable reason label and the details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `xrelay_verification_failures_total{reason}`.
    pub reason: &'static str,
    /// What failed.
    pub detail: String,
    /// The chain could not be asked (not a verification failure: retry).
    pub source_unavailable: bool,
}

impl Failure {
    /// A BFT client failure.
    pub fn bft(e: &ClientError) -> Self {
        Failure {
            reason: e.reason(),
            detail: e.to_string(),
            source_unavailable: matches!(e, ClientError::Bisection(BisectionError::Source { .. })),
        }
    }

    /// An EVM client failure.
    pub fn evm(e: &EvmClientError) -> Self {
        Failure {
            reason: e.reason(),
            detail: e.to_string(),
            source_unavailable: false,
        }
    }

    /// A proof of the wrong family for the chain.
    pub fn family(detail: impl Into<String>) -> Self {
        Failure {
            reason: "proof_family",
            detail: detail.into(),
            source_unavailable: false,
        }
    }
}

/// The relayer's light client of one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// A BFT chain.
    Bft(Box<ClientState>),
    /// An EVM chain.
    Evm(EvmClientState),
}

impl Followed {
    /// Loads the client of `chain` from the store, if the relayer has one.
    pub fn load(
        store: &RelayStore,
        chain: &ChainId,
        evm: bool,
    ) -> Result<Option<Self>, crate::store::StoreError> {
        Ok(if evm {
            store.evm_client(chain)?.map(Followed::Evm)
        } else {
            store.client(chain)?.map(|c| Followed::Bft(Box::new(c)))
        })
    }

    /// Writes the client into `t`.
    pub fn persist(&self, store: &RelayStore, t: &mut Transition, chain: &ChainId) {
        match self {
            Followed::Bft(c) => store.put_client(t, chain, c),
            Followed::Evm(c) => store.put_evm_client(t, chain, c),
        }
    }

    /// The newest verified height.
    pub fn latest_height(&self) -> Height {
        match self {
            Followed::Bft(c) => c.latest_height(),
            Followed::Evm(c) => c.latest_height(),
        }
    }

    /// Whether evidence froze it.
    pub fn is_frozen(&self) -> bool {
        match self {
            Followed::Bft(c) => c.frozen().is_some(),
            Followed::Evm(c) => c.is_frozen(),
        }
    }

    /// Height, age and expiry, for the status page and metrics.
    pub fn facts(&self) -> ClientFacts {
        match self {
            Followed::Bft(c) => ClientFacts::of_bft(c),
            Followed::Evm(c) => ClientFacts::of_evm(c),
        }
    }

    /// What it verified at `height`, if it kept that height.
    pub fn verified_at(&self, height: Height) -> Option<Verified> {
        match self {
            Followed::Bft(c) => c.consensus_state(height).map(|cs| Verified {
                time_ms: cs.time_ms,
                header_hash: cs.header_hash,
                state_root: cs.state_root,
            }),
            Followed::Evm(c) => c.consensus_state(height).map(|cs| Verified {
                time_ms: cs.time_ms,
                header_hash: cs.block_hash,
                state_root: cs.state_root,
            }),
        }
    }

    /// Checks a proof the chain served at a verified height.
    pub fn check_proof(
        &self,
        height: Height,
        key: &[u8],
        expect: Expect<'_>,
        proof: &ChainProof,
        now: TimeMs,
    ) -> Result<(), Failure> {
        match (self, proof) {
            (Followed::Bft(c), ChainProof::Jmt(p)) => match expect {
                Expect::Value(v) | Expect::Stored(v) => c.verify_membership(height, key, v, p, now),
                Expect::Absent => c.verify_non_membership(height, key, p, now),
            }
            .map_err(|e| Failure::bft(&e)),
            (Followed::Evm(c), ChainProof::Evm(p)) => match expect {
                Expect::Value(v) => verify_path(c, height, key, Some(v), p),
                Expect::Absent => verify_path(c, height, key, None, p),
                Expect::Stored(word) => holds_word(c, height, key, word, p),
            }
            .map_err(|e| Failure::evm(&e)),
            (Followed::Bft(_), ChainProof::Evm(_)) => {
                Err(Failure::family("an EVM storage proof for a BFT chain"))
            }
            (Followed::Evm(_), ChainProof::Jmt(_)) => {
                Err(Failure::family("a sparse Merkle proof for an EVM chain"))
            }
        }
    }
}

/// Checks that the Gateway's slot of `key` holds exactly the non-zero `word`.
fn holds_word(
    c: &EvmClientState,
    height: Height,
    key: &[u8],
    word: &[u8],
    p: &xrelay_light_client::evm::client::EvmStorageProof,
) -> Result<(), EvmClientError> {
    let found = c.verify_storage(
        height,
        &p.account_proof,
        &p.storage_proof,
        &provable_slot(key),
    )?;
    if found == [0u8; 32] || found.as_slice() != word {
        return Err(EvmClientError::ValueMismatch {
            path: String::from_utf8_lossy(key).into_owned(),
            expected: Hash32(word.try_into().unwrap_or([0u8; 32])),
            found: Hash32(found),
        });
    }
    Ok(())
}
