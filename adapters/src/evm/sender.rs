//! Sending transactions from one relayer account to an EVM chain: nonces assigned locally (so
//! a client update and the delivery that needs it can be queued back to back for the same
//! block), fees from the chain (EIP-1559 where blocks carry a base fee, legacy gas price on
//! PoA chains without one), and stuck transactions replaced with bumped fees.
//!
//! A transaction is "stuck" when it is not included `bump_after_blocks` blocks after it was
//! sent: consortium chains with a full or misconfigured mempool keep such transactions, and
//! every later nonce of the account waits behind them.

use std::sync::Arc;
use std::time::Duration;

use alloy::eips::{BlockNumberOrTag, Encodable2718};
use alloy::network::{
    Ethereum, EthereumWallet, NetworkTransactionBuilder, NetworkWallet, TransactionBuilder,
};
use alloy::primitives::{Address, Bytes, TxHash};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use tokio::sync::Mutex;

use super::rpc_error;
use crate::endpoints::Endpoints;
use crate::AdapterError;

/// How fees are chosen and bumped.
#[derive(Debug, Clone)]
pub struct FeePolicy {
    /// Blocks to wait for inclusion before the transaction is re-sent with bumped fees.
    pub bump_after_blocks: u64,
    /// Each bump multiplies the fees by `(100 + bump_percent) / 100`; nodes refuse a
    /// replacement below +10 % (geth, Besu), so keep it at 10 or more.
    pub bump_percent: u64,
    /// Fees never go above this (wei per gas); a transaction at the cap is left to wait.
    pub max_fee_per_gas: u128,
    /// Gas limit = estimate × (100 + margin) / 100: the state can change between the estimate
    /// and the block (another relayer's client update, say).
    pub gas_margin_percent: u64,
    /// How long one transaction may take, bumps included, before the caller hears `Busy`.
    pub inclusion_timeout: Duration,
}

impl Default for FeePolicy {
    fn default() -> Self {
        FeePolicy {
            bump_after_blocks: 3,
            bump_percent: 25,
            max_fee_per_gas: 1_000_000_000_000, // 1000 gwei
            gas_margin_percent: 25,
            inclusion_timeout: Duration::from_secs(60),
        }
    }
}

/// The fees of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fees {
    Legacy { gas_price: u128 },
    Eip1559 { max_fee: u128, priority: u128 },
}

impl Fees {
    fn bumped(self, percent: u64, cap: u128) -> Fees {
        let up = |v: u128| {
            let raised = v.saturating_mul(100 + percent as u128) / 100;
            raised.max(v + 1).min(cap)
        };
        match self {
            Fees::Legacy { gas_price } => Fees::Legacy {
                gas_price: up(gas_price),
            },
            Fees::Eip1559 { max_fee, priority } => Fees::Eip1559 {
                max_fee: up(max_fee),
                priority: up(priority).min(up(max_fee)),
            },
        }
    }

    fn apply(self, tx: TransactionRequest) -> TransactionRequest {
        match self {
            Fees::Legacy { gas_price } => tx.with_gas_price(gas_price),
            Fees::Eip1559 { max_fee, priority } => tx
                .with_max_fee_per_gas(max_fee)
                .with_max_priority_fee_per_gas(priority),
        }
    }

    fn at_cap(self, cap: u128) -> bool {
        match self {
            Fees::Legacy { gas_price } => gas_price >= cap,
            Fees::Eip1559 { max_fee, .. } => max_fee >= cap,
        }
    }
}

/// A transaction the node accepted, not yet included.
#[derive(Debug, Clone)]
pub struct InFlight {
    request: TransactionRequest,
    nonce: u64,
    fees: Fees,
    /// Every hash sent for this nonce (the original and its replacements): any of them may
    /// be the one included.
    hashes: Vec<TxHash>,
    sent_at: u64,
}

impl InFlight {
    /// The hash of the latest attempt.
    pub fn hash(&self) -> TxHash {
        self.hashes.last().copied().unwrap_or_default()
    }
}

/// One relayer account on one EVM chain.
pub struct Sender {
    chain: String,
    endpoints: Arc<Endpoints<RootProvider>>,
    wallet: EthereumWallet,
    from: Address,
    chain_id: u64,
    policy: FeePolicy,
    /// The next nonce to use, or `None` when it must be read from the chain first. Held
    /// while a transaction is signed and sent, so nonces go out in order.
    next_nonce: Mutex<Option<u64>>,
    poll: Duration,
}

impl Sender {
    /// A sender for `wallet`'s default signer on the chain (`chain_id` is its EIP-155 id).
    pub(crate) fn new(
        chain: String,
        endpoints: Arc<Endpoints<RootProvider>>,
        wallet: EthereumWallet,
        chain_id: u64,
        policy: FeePolicy,
        poll: Duration,
    ) -> Self {
        let from = NetworkWallet::<Ethereum>::default_signer_address(&wallet);
        Sender {
            chain,
            endpoints,
            wallet,
            from,
            chain_id,
            policy,
            next_nonce: Mutex::new(None),
            poll,
        }
    }

    /// The account that pays.
    pub fn address(&self) -> Address {
        self.from
    }

    fn err(&self) -> impl Fn(alloy::transports::TransportError) -> AdapterError + '_ {
        move |e| rpc_error(&self.chain, e)
    }

    async fn head(&self) -> Result<u64, AdapterError> {
        self.endpoints
            .call("eth_blockNumber", |p| async move {
                p.get_block_number().await.map_err(self.err())
            })
            .await
    }

    /// The fees to offer now and the gas limit of the newest block (what one transaction
    /// can use at most).
    async fn fees(&self) -> Result<(Fees, u64), AdapterError> {
        let block = self
            .endpoints
            .call("eth_getBlockByNumber", |p| async move {
                p.get_block_by_number(BlockNumberOrTag::Latest)
                    .await
                    .map_err(self.err())
            })
            .await?
            .ok_or_else(|| AdapterError::BadAnswer {
                chain: self.chain.clone(),
                why: "no latest block".into(),
            })?;
        match block.header.base_fee_per_gas {
            Some(base) => {
                let priority = self
                    .endpoints
                    .call("eth_maxPriorityFeePerGas", |p| async move {
                        p.get_max_priority_fee_per_gas().await.map_err(self.err())
                    })
                    .await
                    .unwrap_or(1_000_000_000);
                let max_fee = (base as u128)
                    .saturating_mul(2)
                    .saturating_add(priority)
                    .min(self.policy.max_fee_per_gas);
                Ok((
                    Fees::Eip1559 {
                        max_fee,
                        priority: priority.min(max_fee),
                    },
                    block.header.gas_limit,
                ))
            }
            None => {
                let gas_price = self
                    .endpoints
                    .call("eth_gasPrice", |p| async move {
                        p.get_gas_price().await.map_err(self.err())
                    })
                    .await?;
                Ok((
                    Fees::Legacy {
                        gas_price: gas_price.min(self.policy.max_fee_per_gas),
                    },
                    block.header.gas_limit,
                ))
            }
        }
    }

    /// Estimates, signs and sends a call of `to` with `input`, and returns once the node
    /// accepted it (not included yet). Transactions sent one after the other get consecutive
    /// nonces, so they are included in that order. A call that reverts against the current
    /// state is `Refused` (with the revert reason) and sends nothing.
    pub async fn send(&self, to: Address, input: Bytes) -> Result<InFlight, AdapterError> {
        let base = TransactionRequest::default()
            .with_from(self.from)
            .with_to(to)
            .with_input(input)
            .with_chain_id(self.chain_id);
        let mut next = self.next_nonce.lock().await;
        let nonce = match *next {
            Some(n) => n,
            None => {
                let from = self.from;
                self.endpoints
                    .call("eth_getTransactionCount", |p| async move {
                        p.get_transaction_count(from)
                            .pending()
                            .await
                            .map_err(self.err())
                    })
                    .await?
            }
        };
        let request = base.with_nonce(nonce);
        let estimate = {
            let request = &request;
            self.endpoints
                .call("eth_estimateGas", |p| async move {
                    p.estimate_gas(request.clone()).await.map_err(self.err())
                })
                .await?
        };
        let (fees, block_gas) = self.fees().await?;
        // A transaction needing most of a block would wait for an empty one and leave room
        // for nothing else: the caller sends less per transaction instead.
        if estimate > block_gas / 10 * 9 {
            *next = None;
            return Err(AdapterError::TooLarge {
                chain: self.chain.clone(),
                why: format!("needs {estimate} gas; a block holds {block_gas}"),
            });
        }
        let gas =
            (estimate.saturating_mul(100 + self.policy.gas_margin_percent) / 100).min(block_gas);
        let request = request.with_gas_limit(gas);
        let sent_at = self.head().await?;
        match self.send_attempt(&request, fees).await {
            Ok(hash) => {
                *next = Some(nonce + 1);
                Ok(InFlight {
                    request,
                    nonce,
                    fees,
                    hashes: vec![hash],
                    sent_at,
                })
            }
            Err(e) => {
                // The nonce may or may not be taken now (a timeout after the node accepted
                // it): read it from the chain next time rather than guess.
                *next = None;
                Err(e)
            }
        }
    }

    async fn send_attempt(
        &self,
        request: &TransactionRequest,
        fees: Fees,
    ) -> Result<TxHash, AdapterError> {
        let envelope = fees
            .apply(request.clone())
            .build(&self.wallet)
            .await
            .map_err(|e| AdapterError::Refused {
                chain: self.chain.clone(),
                reason: format!("cannot sign: {e}"),
            })?;
        let raw = envelope.encoded_2718();
        let hash = *envelope.tx_hash();
        let raw = &raw;
        self.endpoints
            .call("eth_sendRawTransaction", |p| async move {
                match p.send_raw_transaction(raw).await {
                    Ok(_) => Ok(()),
                    // A retry of an attempt the node already has is not a failure.
                    Err(e) if e.to_string().contains("already known") => Ok(()),
                    Err(e) => Err(rpc_error(&self.chain, e)),
                }
            })
            .await?;
        Ok(hash)
    }

    async fn receipt(&self, tx: &InFlight) -> Result<Option<TransactionReceipt>, AdapterError> {
        for hash in tx.hashes.iter().rev() {
            let hash = *hash;
            let receipt = self
                .endpoints
                .call("eth_getTransactionReceipt", |p| async move {
                    p.get_transaction_receipt(hash).await.map_err(self.err())
                })
                .await?;
            if receipt.is_some() {
                return Ok(receipt);
            }
        }
        Ok(None)
    }

    /// Waits until one of the attempts for `tx`'s nonce is included and returns its receipt,
    /// replacing the transaction with bumped fees whenever it sat `bump_after_blocks` blocks
    /// without being included.
    pub async fn confirm(&self, mut tx: InFlight) -> Result<TransactionReceipt, AdapterError> {
        let deadline = tokio::time::Instant::now() + self.policy.inclusion_timeout;
        loop {
            if let Some(receipt) = self.receipt(&tx).await? {
                return Ok(receipt);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(AdapterError::Busy {
                    chain: self.chain.clone(),
                    why: format!(
                        "transaction {} (nonce {}) not included within {:?}",
                        tx.hash(),
                        tx.nonce,
                        self.policy.inclusion_timeout
                    ),
                });
            }
            let from = self.from;
            let mined = self
                .endpoints
                .call("eth_getTransactionCount", |p| async move {
                    p.get_transaction_count(from)
                        .latest()
                        .await
                        .map_err(self.err())
                })
                .await?;
            if mined > tx.nonce {
                // The nonce is used: by one of our attempts (its receipt shows up now) or by
                // another transaction of this account (a second process with the same key).
                tokio::time::sleep(self.poll).await;
                if let Some(receipt) = self.receipt(&tx).await? {
                    return Ok(receipt);
                }
                *self.next_nonce.lock().await = None;
                return Err(AdapterError::Busy {
                    chain: self.chain.clone(),
                    why: format!(
                        "nonce {} of {} was used by another transaction (is the key shared?)",
                        tx.nonce, self.from
                    ),
                });
            }
            let head = self.head().await?;
            if head >= tx.sent_at + self.policy.bump_after_blocks
                && !tx.fees.at_cap(self.policy.max_fee_per_gas)
            {
                let fees = tx
                    .fees
                    .bumped(self.policy.bump_percent, self.policy.max_fee_per_gas);
                match self.send_attempt(&tx.request, fees).await {
                    Ok(hash) => {
                        tracing::warn!(chain = %self.chain, nonce = tx.nonce, old = %tx.hash(), new = %hash, ?fees, "transaction stuck: re-sent with bumped fees");
                        tx.fees = fees;
                        tx.hashes.push(hash);
                        tx.sent_at = head;
                    }
                    Err(e) => {
                        tracing::warn!(chain = %self.chain, nonce = tx.nonce, error = %e, "fee bump refused")
                    }
                }
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_are_at_least_the_percentage_and_capped() {
        let f = Fees::Eip1559 {
            max_fee: 100,
            priority: 10,
        };
        assert_eq!(
            f.bumped(25, 1_000),
            Fees::Eip1559 {
                max_fee: 125,
                priority: 12
            }
        );
        assert_eq!(
            f.bumped(25, 110),
            Fees::Eip1559 {
                max_fee: 110,
                priority: 12
            }
        );
        // Zero fees (PoA chains with free gas) still move by one wei, so the node sees a
        // replacement rather than a copy.
        assert_eq!(
            Fees::Legacy { gas_price: 0 }.bumped(25, 10),
            Fees::Legacy { gas_price: 1 }
        );
        assert!(Fees::Legacy { gas_price: 10 }.at_cap(10));
    }

    /// A real anvil node from `XRELAY_ANVIL` or the project's tool folder.
    fn anvil() -> alloy::node_bindings::AnvilInstance {
        alloy::node_bindings::Anvil::at(xrelay_evm::node::anvil_path()).spawn()
    }

    fn sender_on(anvil: &alloy::node_bindings::AnvilInstance, policy: FeePolicy) -> Sender {
        let url = anvil.endpoint_url();
        let endpoints = Arc::new(Endpoints::new(
            "anvil".into(),
            vec![(url.to_string(), RootProvider::new_http(url))],
            crate::EndpointPolicy::default(),
            None,
        ));
        let signer = alloy::signers::local::PrivateKeySigner::from(anvil.keys()[0].clone());
        Sender::new(
            "anvil".into(),
            endpoints,
            EthereumWallet::from(signer),
            anvil.chain_id(),
            policy,
            Duration::from_millis(20),
        )
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn back_to_back_sends_take_consecutive_nonces_and_all_land() {
        let anvil = anvil();
        let sender = sender_on(&anvil, FeePolicy::default());
        let to = anvil.addresses()[1];
        let mut sent = Vec::new();
        for _ in 0..3 {
            sent.push(sender.send(to, Bytes::new()).await.unwrap());
        }
        let nonces: Vec<u64> = sent.iter().map(|t| t.nonce).collect();
        assert_eq!(nonces, [0, 1, 2]);
        for tx in sent {
            let receipt = sender.confirm(tx).await.unwrap();
            assert!(receipt.status());
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_transaction_priced_out_by_the_base_fee_is_re_sent_with_bumped_fees() {
        let anvil = anvil();
        let policy = FeePolicy {
            bump_after_blocks: 1,
            inclusion_timeout: Duration::from_secs(30),
            ..FeePolicy::default()
        };
        let sender = sender_on(&anvil, policy);
        let node: RootProvider = RootProvider::new_http(anvil.endpoint_url());
        let _: serde_json::Value = node
            .raw_request("evm_setAutomine".into(), (false,))
            .await
            .unwrap();
        let tx = sender
            .send(anvil.addresses()[1], Bytes::new())
            .await
            .unwrap();
        let first_max_fee = match tx.fees {
            Fees::Eip1559 { max_fee, .. } => max_fee,
            Fees::Legacy { .. } => panic!("anvil blocks carry a base fee"),
        };
        // The next blocks' base fee is far above what the transaction offers: it stays in
        // the pool until its fees are bumped past the (slowly falling) base fee.
        let _: serde_json::Value = node
            .raw_request(
                "anvil_setNextBlockBaseFeePerGas".into(),
                (alloy::primitives::U256::from(first_max_fee * 6),),
            )
            .await
            .unwrap();
        let miner = {
            let node = node.clone();
            tokio::spawn(async move {
                for _ in 0..200 {
                    let _: Result<String, _> = node.raw_request("evm_mine".into(), ()).await;
                    tokio::time::sleep(Duration::from_millis(60)).await;
                }
            })
        };
        let receipt = sender.confirm(tx).await.unwrap();
        miner.abort();
        assert!(receipt.status());
        assert!(
            receipt.effective_gas_price > first_max_fee,
            "included at {} wei/gas, first offer was {first_max_fee}: it must have been bumped",
            receipt.effective_gas_price
        );
        // The account's next transaction follows on the next nonce.
        let _: serde_json::Value = node
            .raw_request("evm_setAutomine".into(), (true,))
            .await
            .unwrap();
        let next = sender
            .send(anvil.addresses()[1], Bytes::new())
            .await
            .unwrap();
        assert_eq!(next.nonce, 1);
        assert!(sender.confirm(next).await.unwrap().status());
    }
}
