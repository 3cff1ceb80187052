//! Ethereum block headers as every EVM client hashes them: an RLP list of 15 fields, grown
//! by forks (London: base fee; Shanghai: withdrawals root; Cancun: blob gas used, excess blob
//! gas, parent beacon block root; Prague: requests hash). The block hash is keccak-256 of
//! that RLP, so a header is only useful if it re-encodes to exactly the bytes it was decoded
//! from; decoding is strict (canonical RLP only, no trailing bytes, a known field count) and
//! bounded, and encoding reproduces the input byte for byte.

use alloy_primitives::U256;
use alloy_rlp::{Decodable, Encodable, Header as RlpHeader, PayloadView};
use sha3::{Digest, Keccak256};

use crate::crypto::Address;
use crate::hash::Hash32;

/// Largest encoded header accepted: real headers are about 500–700 bytes plus extraData, so
/// 64 KiB leaves room for any consensus payload while bounding the work an attacker can ask.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Largest extraData accepted. Ethereum mainnet allows 32 bytes; consortium chains carry
/// validator lists and seals (about 20 bytes per validator, 67 per seal), far below this.
pub const MAX_EXTRA_DATA_BYTES: usize = 32 * 1024;

/// The field counts a header can have, one per fork layout: legacy, London, Shanghai,
/// Cancun, Prague. Berlin and earlier headers are 15 fields; Cancun added three at once.
pub const FIELD_COUNTS: [usize; 5] = [15, 16, 17, 20, 21];

/// Keccak-256, the hash of EVM headers, addresses and seals.
pub fn keccak256(data: &[u8]) -> Hash32 {
    Hash32(Keccak256::digest(data).into())
}

/// Why bytes are not an acceptable EVM header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvmHeaderError {
    /// The input is longer than [`MAX_HEADER_BYTES`].
    #[error("header is {len} bytes, above the {max}-byte limit")]
    TooLarge {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The outer RLP item is malformed (truncated, non-canonical length, ...).
    #[error("header RLP: {0}")]
    Rlp(alloy_rlp::Error),
    /// The outer RLP item is a string, not a list.
    #[error("a header is an RLP list, found a string")]
    NotAList,
    /// Bytes remain after the header's list.
    #[error("{0} bytes follow the header's RLP list")]
    TrailingBytes(usize),
    /// The list has a field count no fork defines.
    #[error("a header has 15, 16, 17, 20 or 21 fields, found {0}")]
    FieldCount(usize),
    /// One field is malformed (wrong length, leading zeros, a list where bytes belong, ...).
    #[error("header field `{field}`: {source}")]
    Field {
        /// The field's name as in the Ethereum yellow paper / JSON-RPC.
        field: &'static str,
        /// What alloy-rlp found wrong.
        source: alloy_rlp::Error,
    },
    /// extraData is longer than [`MAX_EXTRA_DATA_BYTES`].
    #[error("extraData is {len} bytes, above the {max}-byte limit")]
    ExtraDataTooLarge {
        /// extraData length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// An Ethereum block header with every field kept, so that [`EvmHeader::encode`] reproduces
/// the decoded bytes and [`EvmHeader::hash`] is the block hash the chain itself uses.
///
/// The optional fields are positional in RLP: each one is present only if every earlier one
/// is (decoding never yields a gap; a header built by hand with a gap encodes to bytes that
/// decoding refuses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmHeader {
    /// Hash of the parent block.
    pub parent_hash: Hash32,
    /// Hash of the ommers (uncles) list.
    pub ommers_hash: Hash32,
    /// The fee recipient (coinbase); in Clique, the vote's subject.
    pub beneficiary: Address,
    /// Root of the state trie after the block: what account and storage proofs check against.
    pub state_root: Hash32,
    /// Root of the transactions trie.
    pub transactions_root: Hash32,
    /// Root of the receipts trie.
    pub receipts_root: Hash32,
    /// The 2048-bit logs bloom filter.
    pub logs_bloom: Box<[u8; 256]>,
    /// Difficulty (Clique: 1 or 2; BFT: 1; proof of stake: 0).
    pub difficulty: U256,
    /// Block number.
    pub number: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Block time, seconds since the Unix epoch.
    pub timestamp: u64,
    /// Consensus payload: Clique signers and seal, QBFT/IBFT 2.0 validators and seals.
    pub extra_data: Vec<u8>,
    /// Mix hash (BFT: the fixed "Istanbul digest" `0x63746963…`; proof of stake: prevRandao).
    pub mix_hash: Hash32,
    /// Nonce (Clique: the vote; BFT and proof of stake: zero).
    pub nonce: [u8; 8],
    /// Base fee per gas (London and later).
    pub base_fee_per_gas: Option<U256>,
    /// Root of the withdrawals trie (Shanghai and later).
    pub withdrawals_root: Option<Hash32>,
    /// Blob fields (Cancun and later).
    pub blob_gas: Option<BlobGasFields>,
    /// Hash of the execution-layer requests (Prague and later).
    pub requests_hash: Option<Hash32>,
}

/// The three fields Cancun appended together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobGasFields {
    /// Blob gas used by the block's transactions.
    pub blob_gas_used: u64,
    /// Excess blob gas carried into the block.
    pub excess_blob_gas: u64,
    /// Root of the parent beacon block.
    pub parent_beacon_block_root: Hash32,
}

fn field<T: Decodable>(
    items: &[&[u8]],
    index: usize,
    name: &'static str,
) -> Result<T, EvmHeaderError> {
    let mut item = items[index];
    // Each item slice holds exactly one RLP item (alloy-rlp split the list), so decoding
    // consumes it entirely or fails; the check below keeps that true if a type decodes less.
    let value = T::decode(&mut item).map_err(|source| EvmHeaderError::Field {
        field: name,
        source,
    })?;
    if !item.is_empty() {
        return Err(EvmHeaderError::Field {
            field: name,
            source: alloy_rlp::Error::UnexpectedLength,
        });
    }
    Ok(value)
}

fn hash_field(items: &[&[u8]], index: usize, name: &'static str) -> Result<Hash32, EvmHeaderError> {
    field::<[u8; 32]>(items, index, name).map(Hash32)
}

impl EvmHeader {
    /// Decodes a header from its RLP, strictly: bounded size, one canonical RLP list with a
    /// known field count, every field canonical and of its exact length, nothing after it.
    pub fn decode(bytes: &[u8]) -> Result<Self, EvmHeaderError> {
        if bytes.len() > MAX_HEADER_BYTES {
            return Err(EvmHeaderError::TooLarge {
                len: bytes.len(),
                max: MAX_HEADER_BYTES,
            });
        }
        let mut rest = bytes;
        let items = match RlpHeader::decode_raw(&mut rest).map_err(EvmHeaderError::Rlp)? {
            PayloadView::List(items) => items,
            PayloadView::String(_) => return Err(EvmHeaderError::NotAList),
        };
        if !rest.is_empty() {
            return Err(EvmHeaderError::TrailingBytes(rest.len()));
        }
        if !FIELD_COUNTS.contains(&items.len()) {
            return Err(EvmHeaderError::FieldCount(items.len()));
        }

        let mut extra = items[12];
        let extra_data =
            RlpHeader::decode_bytes(&mut extra, false).map_err(|source| EvmHeaderError::Field {
                field: "extraData",
                source,
            })?;
        if extra_data.len() > MAX_EXTRA_DATA_BYTES {
            return Err(EvmHeaderError::ExtraDataTooLarge {
                len: extra_data.len(),
                max: MAX_EXTRA_DATA_BYTES,
            });
        }

        let n = items.len();
        Ok(EvmHeader {
            parent_hash: hash_field(&items, 0, "parentHash")?,
            ommers_hash: hash_field(&items, 1, "sha3Uncles")?,
            beneficiary: Address(field(&items, 2, "miner")?),
            state_root: hash_field(&items, 3, "stateRoot")?,
            transactions_root: hash_field(&items, 4, "transactionsRoot")?,
            receipts_root: hash_field(&items, 5, "receiptsRoot")?,
            logs_bloom: Box::new(field(&items, 6, "logsBloom")?),
            difficulty: field(&items, 7, "difficulty")?,
            number: field(&items, 8, "number")?,
            gas_limit: field(&items, 9, "gasLimit")?,
            gas_used: field(&items, 10, "gasUsed")?,
            timestamp: field(&items, 11, "timestamp")?,
            extra_data: extra_data.to_vec(),
            mix_hash: hash_field(&items, 13, "mixHash")?,
            nonce: field(&items, 14, "nonce")?,
            base_fee_per_gas: if n > 15 {
                Some(field(&items, 15, "baseFeePerGas")?)
            } else {
                None
            },
            withdrawals_root: if n > 16 {
                Some(hash_field(&items, 16, "withdrawalsRoot")?)
            } else {
                None
            },
            blob_gas: if n > 17 {
                Some(BlobGasFields {
                    blob_gas_used: field(&items, 17, "blobGasUsed")?,
                    excess_blob_gas: field(&items, 18, "excessBlobGas")?,
                    parent_beacon_block_root: hash_field(&items, 19, "parentBeaconBlockRoot")?,
                })
            } else {
                None
            },
            requests_hash: if n > 20 {
                Some(hash_field(&items, 20, "requestsHash")?)
            } else {
                None
            },
        })
    }

    /// Decodes a header from hex (an optional `0x` prefix is accepted), as node RPCs and
    /// the CLI carry it.
    pub fn from_hex(s: &str) -> Result<Self, EvmHeaderDecodeHexError> {
        let s = s.trim();
        let s = s.strip_prefix("0x").unwrap_or(s);
        if s.len() > 2 * MAX_HEADER_BYTES {
            return Err(EvmHeaderDecodeHexError::Header(EvmHeaderError::TooLarge {
                len: s.len() / 2,
                max: MAX_HEADER_BYTES,
            }));
        }
        let bytes = hex::decode(s).map_err(|e| EvmHeaderDecodeHexError::Hex(e.to_string()))?;
        Self::decode(&bytes).map_err(EvmHeaderDecodeHexError::Header)
    }

    /// The header's RLP: the bytes whose keccak-256 is the block hash.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with_extra_data(&self.extra_data)
    }

    /// The RLP of this header with `extra_data` in place of its own. Seal digests hash a
    /// header whose extraData has the seals removed (Clique) or re-encoded (QBFT, IBFT 2.0).
    pub fn encode_with_extra_data(&self, extra_data: &[u8]) -> Vec<u8> {
        let mut payload = Vec::with_capacity(600 + extra_data.len());
        self.parent_hash.0.encode(&mut payload);
        self.ommers_hash.0.encode(&mut payload);
        self.beneficiary.0.encode(&mut payload);
        self.state_root.0.encode(&mut payload);
        self.transactions_root.0.encode(&mut payload);
        self.receipts_root.0.encode(&mut payload);
        self.logs_bloom[..].encode(&mut payload);
        self.difficulty.encode(&mut payload);
        self.number.encode(&mut payload);
        self.gas_limit.encode(&mut payload);
        self.gas_used.encode(&mut payload);
        self.timestamp.encode(&mut payload);
        extra_data.encode(&mut payload);
        self.mix_hash.0.encode(&mut payload);
        self.nonce.encode(&mut payload);
        if let Some(base_fee) = &self.base_fee_per_gas {
            base_fee.encode(&mut payload);
        }
        if let Some(root) = &self.withdrawals_root {
            root.0.encode(&mut payload);
        }
        if let Some(blob) = &self.blob_gas {
            blob.blob_gas_used.encode(&mut payload);
            blob.excess_blob_gas.encode(&mut payload);
            blob.parent_beacon_block_root.0.encode(&mut payload);
        }
        if let Some(hash) = &self.requests_hash {
            hash.0.encode(&mut payload);
        }
        let list = RlpHeader {
            list: true,
            payload_length: payload.len(),
        };
        let mut out = Vec::with_capacity(list.length_with_payload());
        list.encode(&mut out);
        out.extend_from_slice(&payload);
        out
    }

    /// The block hash: keccak-256 of [`EvmHeader::encode`]. For QBFT and IBFT 2.0 chains
    /// this is NOT the hash the chain uses (they hash with the seals removed); see
    /// `evm::istanbul`.
    pub fn hash(&self) -> Hash32 {
        keccak256(&self.encode())
    }

    /// keccak-256 of the header with `extra_data` in place of its own.
    pub fn hash_with_extra_data(&self, extra_data: &[u8]) -> Hash32 {
        keccak256(&self.encode_with_extra_data(extra_data))
    }
}

/// Why a hex string is not an acceptable EVM header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvmHeaderDecodeHexError {
    /// Not hex (odd length or a non-hex character).
    #[error("header hex: {0}")]
    Hex(String),
    /// Hex, but not a valid header.
    #[error(transparent)]
    Header(EvmHeaderError),
}
