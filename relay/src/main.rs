//! The `xrelay` binary: parses the command line and runs it; errors end the process with
//! exit code 1 and their full cause chain on stderr.

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = xrelay::cli::Cli::parse();
    xrelay::cli::init_logging(&cli.log_format);
    if let Err(e) = xrelay::cli::run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
