//! The committed artifacts are what the committed contracts compile to: runs
//! `node chains/evm/compile.mjs --check` (pinned solc 0.8.30). Skipped, saying so, only when
//! node is not installed; a missing solc package is a failure (scripts/lib.sh installs it).

use std::path::Path;
use std::process::Command;

#[test]
fn artifacts_match_a_fresh_compile() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("compile.mjs");
    let output = match Command::new("node").arg(&script).arg("--check").output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED artifacts_match_a_fresh_compile: node is not installed, so the committed artifacts were not re-compiled");
            return;
        }
        Err(e) => panic!("cannot run node: {e}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "compile.mjs --check failed (run `node chains/evm/compile.mjs` and commit the artifacts):\n{stdout}{stderr}"
    );
    assert!(stdout.contains("match a fresh compile"), "{stdout}");
}
