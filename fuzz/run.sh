#!/usr/bin/env bash
# Fuzzes every decoder of outside bytes in xrelay with libFuzzer (cargo-fuzz): the strict
# binary decoders of xrelay-light-client and the devchain module, the devchain node's JSON-RPC
# answers as the relayer decodes them, validator key files and the relayer's configuration.
#
#   fuzz/run.sh [SECONDS_PER_TARGET (default 30)] [TARGET...]
#
# With no TARGET, runs every target listed in Cargo.toml, one after another (one libFuzzer
# process at a time). Per target: regenerate the seed corpus (valid encodings from
# examples/seed_corpus.rs) into corpus/<target>/, build, fuzz for SECONDS, then print one
# summary line: executions, corpus size and whether a crash (panic, OOM, timeout, sanitizer
# report) was found. Exits non-zero if any target crashed or failed to build. Crash inputs are
# left in artifacts/<target>/ and printed in hex; logs go to $CARGO_TARGET_DIR/logs/<target>.log.
# A target with a dictionary (dicts/<target>.dict: JSON and TOML tokens) gets it.
#
# Environment:
#   CARGO_TARGET_DIR  base target dir; the fuzz build uses "<it or ~/.cache/xrelay-target>/fuzz"
#                     so it never invalidates the workspace build.
#   FUZZ_SANITIZER    cargo-fuzz sanitizer (default: address; "none" is faster, finds less).
#   FUZZ_ARGS         extra libFuzzer flags, space-separated (e.g. "-max_len=70000").
#   FUZZ_TOOLCHAIN    rustup toolchain for cargo-fuzz (default: nightly when installed;
#                     otherwise the default toolchain with RUSTC_BOOTSTRAP=1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
    # The comment block at the top of this file.
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

seconds=30
if [[ $# -gt 0 ]]; then
    case "$1" in
        -h | --help) usage; exit 0 ;;
    esac
    if [[ ! "$1" =~ ^[0-9]+$ ]] || [[ "$1" -lt 1 ]]; then
        echo "run.sh: SECONDS_PER_TARGET must be a positive integer, got '$1'" >&2
        usage >&2
        exit 2
    fi
    seconds="$1"
    shift
fi

# The targets are the [[bin]] entries of Cargo.toml (the `name` line after each `[[bin]]`).
mapfile -t all_targets < <(awk '/^\[\[bin\]\]/ { bin = 1; next }
    bin && /^name = "/ { gsub(/^name = "|"$/, ""); print; bin = 0 }' "$here/Cargo.toml")
if [[ $# -gt 0 ]]; then
    targets=("$@")
    for t in "${targets[@]}"; do
        if [[ ! " ${all_targets[*]} " == *" $t "* ]]; then
            echo "run.sh: unknown target '$t'; known: ${all_targets[*]}" >&2
            exit 2
        fi
    done
else
    targets=("${all_targets[@]}")
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked
fi

# cargo-fuzz passes nightly-only flags (-Zsanitizer=address, -Cpasses=sancov-module, ...).
# Use the nightly toolchain when it is installed; without one, RUSTC_BOOTSTRAP=1 lets the
# stable rustc/cargo accept them (the address sanitizer runtime ships with the stable
# rust-std for x86_64-unknown-linux-gnu too).
toolchain="${FUZZ_TOOLCHAIN:-}"
if [[ -z "$toolchain" ]] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=nightly
fi
if [[ -n "$toolchain" ]]; then
    cargo=(cargo "+$toolchain")
else
    cargo=(cargo)
    export RUSTC_BOOTSTRAP=1
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/xrelay-target}/fuzz"
sanitizer="${FUZZ_SANITIZER:-address}"
read -r -a extra_args <<<"${FUZZ_ARGS:-}"
log_dir="$CARGO_TARGET_DIR/logs"
mkdir -p "$log_dir"

echo "==> seed corpus (examples/seed_corpus.rs) -> $here/corpus"
"${cargo[@]}" run --release --quiet --manifest-path "$here/Cargo.toml" --example seed_corpus -- "$here/corpus"

# cargo-fuzz's defaults: release optimisations with debug assertions and overflow checks.
fuzz_flags=(--fuzz-dir "$here" --sanitizer "$sanitizer")

summary=()
failed=0
for t in "${targets[@]}"; do
    log="$log_dir/$t.log"
    echo "==> build $t"
    if ! "${cargo[@]}" fuzz build "${fuzz_flags[@]}" "$t" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        summary+=("$(printf '%-22s %5ss %16s %14s  BUILD FAILED (log: %s)' "$t" "$seconds" "-" "-" "$log")")
        failed=1
        continue
    fi
    echo "==> fuzz $t for ${seconds}s (log: $log)"
    dict=()
    if [[ -f "$here/dicts/$t.dict" ]]; then
        dict=(-dict="$here/dicts/$t.dict")
    fi
    status=0
    "${cargo[@]}" fuzz run "${fuzz_flags[@]}" "$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
        ${dict[@]+"${dict[@]}"} ${extra_args[@]+"${extra_args[@]}"} >>"$log" 2>&1 || status=$?

    # Executions: libFuzzer's final stats line, else the "#N DONE" line, else the last "#N" line.
    execs="$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)"
    if [[ -z "$execs" ]]; then
        execs="$(grep -oE '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 | grep -oE '[0-9]+' || true)"
    fi
    if [[ -z "$execs" ]]; then
        execs="$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#' || true)"
    fi
    execs="${execs:-?}"
    # Corpus size: the inputs in corpus/<target>/ after the run (seeds and what was added).
    corpus="$(find "$here/corpus/$t" -type f 2>/dev/null | wc -l | tr -d ' ')"

    if [[ $status -eq 0 ]]; then
        result="no crash"
    else
        failed=1
        artifact="$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -n 1 | sed 's/^Test unit written to //' || true)"
        if [[ -n "$artifact" ]]; then
            kind="$(basename "$artifact" | cut -d- -f1)"
            result="CRASH ($kind): $artifact"
            echo "---- $t: $kind input (hex) ----" >&2
            od -An -v -tx1 "$artifact" | tr -d ' \n' >&2
            echo >&2
            echo "---- $t: report ----" >&2
            grep -E -A 3 'panicked at|ERROR: (libFuzzer|AddressSanitizer)|SUMMARY:' "$log" | head -n 25 >&2 || true
        else
            result="FAILED (exit $status, no artifact; see $log)"
            tail -n 20 "$log" >&2
        fi
    fi
    summary+=("$(printf '%-22s %5ss %16s %14s  %s' "$t" "$seconds" "$execs execs" "$corpus inputs" "$result")")
done

echo
echo "==> summary (sanitizer: $sanitizer, toolchain: ${toolchain:-default with RUSTC_BOOTSTRAP=1})"
printf '%s\n' "${summary[@]}"
exit "$failed"
