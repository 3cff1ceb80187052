#!/bin/sh
# devnet-init of the compose demo: runs once per `up`, as uid 10001 on the shared volume.
# First run: `xrelay devnet up` creates chain-1 and chain-2 (development validator keys from
# public seeds), on each a client of the other, and three mesh identity keys
# (relayer-N/identity.key); it is stopped once ready and the chain services restart the nodes
# from these data directories. Every run: relayer-N/mesh.env gets the mesh peers and the
# allowed peer ids, which the relayer services load before `xrelay start`.
# THROWAWAY DEVELOPMENT KEYS: never use this stack's chains or keys for anything of value.
set -eu
out="${XRELAY_DEVNET_DIR:-/var/lib/xrelay}"
log="$out/devnet-up.log"
mkdir -p "$out"

if [ ! -f "$out/devnet.json" ]; then
  xrelay devnet up --chains 2 --relayers 3 --block-time-ms 500 --out "$out" >"$log" 2>&1 &
  pid=$!
  until grep -q '^ready:' "$log"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$log" >&2
      exit 1
    fi
    sleep 1
  done
  kill -TERM "$pid"
  wait "$pid" || true
fi

# Peer ids of relayer-1..3, in order (devnet.json lists them so).
ids=$(sed -n 's/.*"peer_id": *"\([^"]*\)".*/\1/p' "$out/devnet.json")
# shellcheck disable=SC2086
set -- $ids
if [ "$#" -ne 3 ]; then
  echo "devnet-init: expected 3 peer ids in $out/devnet.json, found $#" >&2
  exit 1
fi
allowed="[\"$1\",\"$2\",\"$3\"]"
for me in 1 2 3; do
  peers=""
  j=0
  for ip in $MESH_IPS; do
    j=$((j + 1))
    [ "$j" -eq "$me" ] && continue
    eval "id=\${$j}"
    peers="$peers${peers:+,}\"/ip4/$ip/tcp/9465/p2p/$id\""
  done
  printf "XRELAY_MESH__ALLOWED='%s'\nXRELAY_MESH__PEERS='%s'\n" "$allowed" "[$peers]" \
    >"$out/relayer-$me/mesh.env"
done
echo "devnet-init: chains ready, mesh peers: $*"
