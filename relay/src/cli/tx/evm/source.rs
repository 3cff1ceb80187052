//! The source chain as `xrelay tx` reaches it: the first endpoint that answers with the
//! configured chain id, the Gateway checked, the sender resolved; fees, the estimate, the
//! burst of transactions with local nonces, and the receipts.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use alloy::eips::BlockNumberOrTag;
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, TxHash, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use xrelay_evm::gateway::{Gateway, TransferApp, TRANSFER};

use super::{bytes, EvmSendError, EvmSigner, Refusal};
use crate::config::{parse_address, ChainSection, EvmSection};

/// Gas limit = estimate × (100 + this) / 100: later messages of a `--count` burst run on a
/// state the estimate did not see (a lane counter one higher).
const GAS_MARGIN_PERCENT: u64 = 25;

/// The chain's endpoint, the sender and the contracts, checked.
pub(super) struct Source {
    pub(super) chain: String,
    pub(super) provider: DynProvider,
    pub(super) sender: Address,
    pub(super) gateway: Address,
    pub(super) evm_chain_id: u64,
    request_timeout: Duration,
    pub(super) block_time: Duration,
    max_fee: u128,
}

impl Source {
    fn rpc_err(&self, what: &str, error: impl std::fmt::Display) -> EvmSendError {
        EvmSendError::Rpc {
            chain: self.chain.clone(),
            what: what.to_string(),
            error: error.to_string(),
        }
    }

    /// One RPC request, bounded by the chain's `request_timeout_ms`.
    async fn rpc<T, E: std::fmt::Display>(
        &self,
        what: &str,
        call: impl IntoFuture<Output = Result<T, E>>,
    ) -> Result<T, EvmSendError> {
        match tokio::time::timeout(self.request_timeout, call.into_future()).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.rpc_err(what, e)),
            Err(_) => {
                Err(self.rpc_err(what, format!("no answer within {:?}", self.request_timeout)))
            }
        }
    }
}

/// Reaches the chain (first endpoint that answers, with the right chain id), checks the
/// Gateway is there and is this chain's, and resolves the sender.
pub(super) async fn connect(
    section: &ChainSection,
    evm: &EvmSection,
    signer: EvmSigner,
) -> Result<Source, EvmSendError> {
    let chain = section.id.clone();
    let gateway = parse_address(&evm.gateway)
        .map(Address::from)
        .filter(|a| !a.is_zero())
        .ok_or_else(|| EvmSendError::NoGateway(chain.clone()))?;
    let request_timeout = Duration::from_millis(section.request_timeout_ms);
    let wallet = match &signer {
        EvmSigner::Key(key) => Some(EthereumWallet::from(
            PrivateKeySigner::from_bytes(&B256::from(key.secret_bytes()))
                .map_err(|e| EvmSendError::BadKey(e.to_string()))?,
        )),
        EvmSigner::DevAccount(_) => None,
    };
    let mut tried = Vec::new();
    let mut reached = None;
    for url in &section.rpc {
        let Ok(parsed) = url.parse() else {
            tried.push(format!("{url}: not a URL"));
            continue;
        };
        let builder = ProviderBuilder::new().disable_recommended_fillers();
        let provider = match &wallet {
            Some(w) => builder.wallet(w.clone()).connect_http(parsed).erased(),
            None => builder.connect_http(parsed).erased(),
        };
        match tokio::time::timeout(request_timeout, provider.get_chain_id()).await {
            Ok(Ok(id)) => {
                reached = Some((provider, id));
                break;
            }
            Ok(Err(e)) => tried.push(format!("{url}: {e}")),
            Err(_) => tried.push(format!("{url}: no answer within {request_timeout:?}")),
        }
    }
    let (provider, reported) = reached.ok_or_else(|| EvmSendError::Unreachable {
        chain: chain.clone(),
        tried: tried.join("; "),
    })?;
    if reported != evm.chain_id {
        return Err(EvmSendError::WrongChainId {
            chain,
            configured: evm.chain_id,
            reported,
        });
    }
    let mut source = Source {
        chain: chain.clone(),
        provider,
        sender: Address::ZERO,
        gateway,
        evm_chain_id: evm.chain_id,
        request_timeout,
        block_time: Duration::from_millis(section.block_time_ms),
        max_fee: u128::from(evm.max_fee_gwei) * 1_000_000_000,
    };
    let code = source
        .rpc("eth_getCode", source.provider.get_code_at(gateway))
        .await?;
    if code.is_empty() {
        return Err(EvmSendError::GatewayNotDeployed {
            chain,
            gateway: gateway.to_string(),
        });
    }
    let contract = Gateway::new(gateway, source.provider.clone());
    let says = source
        .rpc("Gateway.chainId", contract.chainId().call())
        .await?;
    if says.as_ref() != chain.as_bytes() {
        return Err(EvmSendError::OtherChainsGateway {
            chain,
            gateway: gateway.to_string(),
            says: String::from_utf8_lossy(&says).into_owned(),
        });
    }
    source.sender = match signer {
        EvmSigner::Key(key) => Address::from(key.address().0),
        EvmSigner::DevAccount(index) => {
            let accounts = source
                .rpc("eth_accounts", source.provider.get_accounts())
                .await?;
            *accounts
                .get(index as usize)
                .ok_or(EvmSendError::NoDevAccount {
                    chain,
                    index,
                    available: accounts.len(),
                })?
        }
    };
    Ok(source)
}

/// The transfer app's address, once the sender is seen to hold `amount` of `denom`.
pub(super) async fn transfer_app(
    source: &Source,
    denom: &str,
    amount: u128,
) -> Result<Address, EvmSendError> {
    let gateway = Gateway::new(source.gateway, source.provider.clone());
    let app = source
        .rpc(
            "Gateway.appAddress",
            gateway.appAddress(bytes(TRANSFER)).call(),
        )
        .await?;
    if app.is_zero() {
        return Err(EvmSendError::NoTransferApp(source.chain.clone()));
    }
    let have = source
        .rpc(
            "TransferApp.balanceOf",
            TransferApp::new(app, source.provider.clone())
                .balanceOf(bytes(denom), source.sender)
                .call(),
        )
        .await?;
    if have < amount {
        return Err(EvmSendError::InsufficientTokens {
            denom: denom.to_string(),
            account: source.sender.to_string(),
            have,
            need: amount,
        });
    }
    Ok(app)
}

/// Fees per gas: EIP-1559 where blocks carry a base fee (twice the base fee plus the
/// priority fee), the legacy gas price otherwise; never above `[chains.evm] max_fee_gwei`.
async fn with_fees(
    source: &Source,
    request: TransactionRequest,
) -> Result<(TransactionRequest, u128), EvmSendError> {
    let block = source
        .rpc(
            "eth_getBlockByNumber",
            source
                .provider
                .get_block_by_number(BlockNumberOrTag::Latest),
        )
        .await?
        .ok_or_else(|| source.rpc_err("eth_getBlockByNumber", "no latest block"))?;
    Ok(match block.header.base_fee_per_gas {
        Some(base) => {
            let priority = source
                .rpc(
                    "eth_maxPriorityFeePerGas",
                    source.provider.get_max_priority_fee_per_gas(),
                )
                .await?;
            let max_fee = u128::from(base)
                .saturating_mul(2)
                .saturating_add(priority)
                .min(source.max_fee);
            (
                request
                    .with_max_fee_per_gas(max_fee)
                    .with_max_priority_fee_per_gas(priority.min(max_fee)),
                max_fee,
            )
        }
        None => {
            let price = source
                .rpc("eth_gasPrice", source.provider.get_gas_price())
                .await?
                .min(source.max_fee);
            (request.with_gas_price(price), price)
        }
    })
}

/// Estimates the call (a revert is a typed refusal and nothing is sent), checks the sender
/// can pay for `count` of them, then sends them with consecutive nonces without waiting.
/// Returns the hashes sent and, if the node refused one, why (the later ones are not sent).
pub(super) async fn broadcast(
    source: &Source,
    request: TransactionRequest,
    count: u32,
) -> Result<(Vec<TxHash>, Option<EvmSendError>), EvmSendError> {
    let estimate = match tokio::time::timeout(
        source.request_timeout,
        source.provider.estimate_gas(request.clone()),
    )
    .await
    {
        Ok(Ok(gas)) => gas,
        Ok(Err(e)) => {
            return Err(match e.as_error_resp().and_then(|p| p.as_revert_data()) {
                Some(data) => EvmSendError::Refused {
                    chain: source.chain.clone(),
                    refusal: Refusal::decode(&data),
                },
                None => source.rpc_err("eth_estimateGas", e),
            })
        }
        Err(_) => return Err(source.rpc_err("eth_estimateGas", "no answer in time")),
    };
    let gas = estimate.saturating_mul(100 + GAS_MARGIN_PERCENT) / 100;
    let (request, fee_per_gas) = with_fees(source, request.with_gas_limit(gas)).await?;
    let need = U256::from(gas) * U256::from(fee_per_gas) * U256::from(count);
    let have = source
        .rpc("eth_getBalance", source.provider.get_balance(source.sender))
        .await?;
    if have < need {
        return Err(EvmSendError::InsufficientEther {
            account: source.sender.to_string(),
            have,
            need,
            count,
        });
    }
    let first = source
        .rpc(
            "eth_getTransactionCount",
            source
                .provider
                .get_transaction_count(source.sender)
                .pending(),
        )
        .await?;
    let mut hashes = Vec::with_capacity(count as usize);
    for i in 0..u64::from(count) {
        let tx = request.clone().with_nonce(first + i);
        match source
            .rpc(
                &format!("sending transaction {} of {count}", i + 1),
                source.provider.send_transaction(tx),
            )
            .await
        {
            Ok(pending) => hashes.push(*pending.tx_hash()),
            Err(e) => return Ok((hashes, Some(e))),
        }
    }
    Ok((hashes, None))
}

pub(super) async fn wait_receipt(
    source: &Source,
    hash: TxHash,
    deadline: Instant,
) -> Result<TransactionReceipt, EvmSendError> {
    let poll = (source.block_time / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let started = Instant::now();
    loop {
        if let Some(receipt) = source
            .rpc(
                "eth_getTransactionReceipt",
                source.provider.get_transaction_receipt(hash),
            )
            .await?
        {
            if !receipt.status() {
                return Err(EvmSendError::Reverted {
                    chain: source.chain.clone(),
                    tx: hash.to_string(),
                    block: receipt.block_number.unwrap_or_default(),
                });
            }
            return Ok(receipt);
        }
        if Instant::now() >= deadline {
            return Err(EvmSendError::NotIncluded {
                chain: source.chain.clone(),
                tx: hash.to_string(),
                waited_s: started.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(poll).await;
    }
}
