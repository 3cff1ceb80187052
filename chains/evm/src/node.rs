//! Where the development EVM node is: the devnet, the demo and every test on a real node
//! start the same anvil binary, installed from npm by `scripts/lib.sh`.

use std::path::PathBuf;

/// The anvil binary: `$XRELAY_ANVIL`, else `$HOME/.cache/xrelay-tools/node_modules/.bin/anvil`
/// (where `scripts/lib.sh` `xrelay_ensure_evm_tools` installs `@foundry-rs/anvil-linux-amd64`).
pub fn anvil_path() -> PathBuf {
    std::env::var_os("XRELAY_ANVIL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(".cache/xrelay-tools/node_modules/.bin/anvil")
        })
}
