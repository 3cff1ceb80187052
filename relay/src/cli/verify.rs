//! `xrelay verify`: offline checks an auditor or operator runs on data they hold, with the
//! very code the relayer and the on-chain clients run.

pub mod evm_proof;
pub mod proof_answer;

use clap::{Args, Subcommand};
use xrelay_light_client::evm::consensus::{verify_header, EvmConsensus};
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::Address;

/// `xrelay verify …`.
#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Checks one EVM block header's seals (QBFT, IBFT 2.0 or Clique) and prints the
    /// recovered signers and the verdict; exit code 0 only if the header is valid.
    EvmHeader(EvmHeaderArgs),
    /// Checks an `eth_getProof` answer against a state root (the account, every storage
    /// slot, every value the answer claims) and optionally a Gateway path; exit code 0
    /// only if everything is proven.
    EvmProof(evm_proof::EvmProofArgs),
}

/// `xrelay verify evm-header`.
#[derive(Debug, Args)]
pub struct EvmHeaderArgs {
    /// The chain's consensus: `qbft`, `ibft2` or `clique`.
    #[arg(long)]
    pub consensus: String,
    /// The header as hex RLP (`0x` optional), exactly as its hash commits to it.
    #[arg(long)]
    pub header: String,
    /// The validators that must seal this block (comma-separated `0x` addresses). Without
    /// it, the validators the header itself lists are used (QBFT/IBFT 2.0: its extraData;
    /// Clique: the signer list of a checkpoint block), which proves only that the header
    /// is consistent with itself.
    #[arg(long, value_delimiter = ',')]
    pub validators: Vec<String>,
    /// Clique's checkpoint interval.
    #[arg(long, default_value_t = 30_000)]
    pub epoch: u64,
}

/// Runs `xrelay verify`.
pub fn run(cmd: VerifyCommand) -> anyhow::Result<()> {
    match cmd {
        VerifyCommand::EvmHeader(args) => evm_header(args),
        VerifyCommand::EvmProof(args) => evm_proof::run(args),
    }
}

fn consensus(name: &str, epoch: u64) -> anyhow::Result<EvmConsensus> {
    Ok(match name {
        "qbft" => EvmConsensus::Qbft,
        "ibft2" => EvmConsensus::Ibft2,
        "clique" => EvmConsensus::Clique { epoch },
        other => anyhow::bail!("unknown consensus {other:?}: give qbft, ibft2 or clique"),
    })
}

fn evm_header(args: EvmHeaderArgs) -> anyhow::Result<()> {
    let consensus = consensus(&args.consensus, args.epoch)?;
    let header =
        EvmHeader::from_hex(args.header.trim()).map_err(|e| anyhow::anyhow!("--header: {e}"))?;
    let (validators, source) = if args.validators.is_empty() {
        let listed = match consensus.header_validators(&header) {
            Ok(listed) => listed,
            Err(e) => {
                println!("verdict:    INVALID: the header's own validator list: {e}");
                std::process::exit(1);
            }
        }
        .ok_or_else(|| {
            anyhow::anyhow!(
                "this Clique header is not a checkpoint (it lists no signers): give --validators"
            )
        })?;
        (listed, "listed in the header itself")
    } else {
        let parsed = args
            .validators
            .iter()
            .map(|v| {
                Address::from_hex(v.trim()).map_err(|e| anyhow::anyhow!("--validators {v}: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        (parsed, "given with --validators")
    };
    println!("consensus:  {consensus}");
    println!("number:     {}", header.number);
    println!("validators: {} ({source})", validators.len());
    match verify_header(consensus, &header, &validators) {
        Ok(v) => {
            println!("block hash: {}", v.hash);
            println!("seal digest: {}", v.seal_digest);
            for s in &v.signers {
                println!("signer:     {s}");
            }
            println!("seals:      {} of {} required", v.signers.len(), v.required);
            if let Some(in_turn) = v.in_turn {
                println!("in turn:    {in_turn}");
            }
            if let Some(vote) = v.vote {
                let what = if vote.authorize { "add" } else { "remove" };
                println!("vote:       {what} {}", vote.subject);
            }
            println!("verdict:    VALID");
            Ok(())
        }
        Err(e) => {
            println!("verdict:    INVALID: {e}");
            std::process::exit(1);
        }
    }
}
