#!/usr/bin/env python3
"""Produces anvil_gateway_proof.json: a real eth_getProof answer from anvil.

Starts anvil on 127.0.0.1 with an ephemeral port, gives a stand-in gateway account code,
writes the gateway's provable-storage convention (docs/PROTOCOL.md section 12) for a few
protocol paths plus two plain slots, mines a block, and saves the answers of eth_getProof
(gateway account, every written slot and one never written) and eth_getBlockByNumber.

    python3 light-clients/tests/data/evm/anvil_capture.py [ANVIL_BINARY]

(default binary: $HOME/.cache/xrelay-tools/node_modules/.bin/anvil). Only the Python 3
standard library is used; keccak-256 comes from the node itself (web3_sha3).
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
GATEWAY = "0x00000000000000000000000000000000000a11ce"
# (protocol path, value) pairs the gateway proves; value bytes as in PROTOCOL.md section 6.
PATHS = [
    ("commitments/beta/1", hashlib.sha256(b"xrelay test commitment 1").digest()),
    ("receipts/alpha/7", bytes([1])),
    ("next_send/beta", (2).to_bytes(8, "big")),
]
ABSENT_PATH = "commitments/beta/2"
# Plain slots with small values: exercise the storage trie's leading-zero stripping.
PLAIN = [(1, 0x2A), (2, 0x0100)]


def word(n):
    return "0x" + n.to_bytes(32, "big").hex()


def main():
    anvil = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser(
        "~/.cache/xrelay-tools/node_modules/.bin/anvil")
    version = subprocess.run([anvil, "--version"], capture_output=True, text=True,
                             check=True).stdout.splitlines()[0]
    proc = subprocess.Popen([anvil, "--host", "127.0.0.1", "--port", "0", "--chain-id",
                             "31337"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        port = None
        for line in proc.stdout:
            m = re.search(r"Listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            raise SystemExit("anvil did not report its port")
        url = f"http://127.0.0.1:{port}"
        ids = iter(range(1, 1 << 30))

        def rpc(method, *params):
            body = json.dumps({"jsonrpc": "2.0", "id": next(ids), "method": method,
                               "params": list(params)}).encode()
            req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(req) as answer:
                out = json.load(answer)
            if "error" in out:
                raise SystemExit(f"{method}: {out['error']}")
            return out["result"]

        def keccak(data):
            return bytes.fromhex(rpc("web3_sha3", "0x" + data.hex())[2:])

        # Stand-in runtime code (STOP): the account is a contract like the real gateway.
        rpc("anvil_setCode", GATEWAY, "0x00")
        rpc("anvil_setNonce", GATEWAY, "0x1")
        writes = []
        for path, value in PATHS:
            key = hashlib.sha256(path.encode()).digest()
            slot = "0x" + keccak(key + bytes(32)).hex()
            stored = "0x" + hashlib.sha256(value).hexdigest()
            rpc("anvil_setStorageAt", GATEWAY, slot, stored)
            writes.append({"path": path, "value": "0x" + value.hex(), "slot": slot,
                           "stored": stored})
        for slot, value in PLAIN:
            rpc("anvil_setStorageAt", GATEWAY, word(slot), word(value))
            writes.append({"slot": word(slot), "stored": word(value)})
        rpc("evm_mine")
        absent_slot = "0x" + keccak(hashlib.sha256(ABSENT_PATH.encode()).digest()
                                    + bytes(32)).hex()
        block = rpc("eth_getBlockByNumber", "latest", False)
        slots = [w["slot"] for w in writes] + [absent_slot]
        proof = rpc("eth_getProof", GATEWAY, slots, block["number"])
        out = {
            "origin": f"{version}; produced by anvil_capture.py in this directory "
                      f"(anvil_setCode/anvil_setNonce/anvil_setStorageAt, evm_mine, then "
                      f"eth_getBlockByNumber and eth_getProof at that block)",
            "gateway": GATEWAY,
            "writes": writes,
            "absent": {"path": ABSENT_PATH, "slot": absent_slot},
            "eth_getBlockByNumber": block,
            "eth_getProof": proof,
        }
        with open(os.path.join(HERE, "anvil_gateway_proof.json"), "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
