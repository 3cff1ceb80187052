#!/usr/bin/env bash
# Instruction counts (valgrind callgrind) of header verification against the secp256k1 work
# it must do, and the parallel speed-up as fastest-of-rounds wall time. Instruction counts
# repeat exactly on a busy machine, which wall-clock benches on 2 shared cores do not.
#   light-clients/benches/instructions.sh [ROUNDS (default 100)]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
command -v valgrind >/dev/null || { echo "error: valgrind missing: apt-get install valgrind" >&2; exit 1; }
rounds="${1:-100}"
cargo build --release -q -p xrelay-light-client --example verify_cost
bin="$CARGO_TARGET_DIR/release/examples/verify_cost"
ir() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='*measured_*' "$bin" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%5s %5s | %12s %12s %6s | %12s %12s %12s %6s %6s\n' n q verify-full recover-full ratio verify-q recover-q ecdsa-q ratio vs-ecdsa
for n in 4 21 100 150; do
  q=$(( n * 2 / 3 + 1 ))
  vf=$(ir "$n" verify-full); rf=$(ir "$n" recover-full)
  vq=$(ir "$n" verify-quorum); rq=$(ir "$n" recover-quorum); eq=$(ir "$n" ecdsa-quorum)
  printf '%5d %5d | %12d %12d %6.3f | %12d %12d %12d %6.3f %6.3f\n' "$n" "$q" "$vf" "$rf" \
    "$(echo "$vf / $rf" | bc -l)" "$vq" "$rq" "$eq" "$(echo "$vq / $rq" | bc -l)" "$(echo "$vq / $eq" | bc -l)"
done
echo
for n in 4 21 100 150; do "$bin" "$n" speedup "$rounds"; done
