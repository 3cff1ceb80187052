#!/usr/bin/env node
// Compiles every contract under chains/evm/contracts with the pinned solc (npm package
// `solc`, standard-JSON API) and writes chains/evm/artifacts/<Contract>.json =
// {abi, bytecode, deployedBytecode}, keys sorted, one trailing newline. The artifacts are
// committed so `cargo build` never needs node; `--check` compiles in memory and fails if
// the committed artifacts differ (the crate's `artifacts` test runs it).
//
// solc is looked up in $XRELAY_SOLC_MODULE, else $HOME/.cache/xrelay-tools/node_modules/solc
// (where scripts/lib.sh installs it), else the normal Node resolution.

import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SOLC_VERSION = "0.8.30";
const here = path.dirname(fileURLToPath(import.meta.url));
const contractsDir = path.join(here, "contracts");
const artifactsDir = path.join(here, "artifacts");
const check = process.argv.includes("--check");

function loadSolc() {
  const require = createRequire(import.meta.url);
  const candidates = [
    process.env.XRELAY_SOLC_MODULE,
    path.join(os.homedir(), ".cache", "xrelay-tools", "node_modules", "solc"),
    "solc",
  ].filter(Boolean);
  for (const candidate of candidates) {
    try {
      return require(candidate);
    } catch (e) {
      if (e.code !== "MODULE_NOT_FOUND") throw e;
    }
  }
  throw new Error(
    `solc ${SOLC_VERSION} not found: npm install --prefix $HOME/.cache/xrelay-tools solc@${SOLC_VERSION}`,
  );
}

// Source unit names are paths relative to chains/evm, so the output never depends on where
// the repository is checked out.
function sources() {
  const out = {};
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".sol")) {
        const unit = path.relative(here, full).split(path.sep).join("/");
        out[unit] = { content: fs.readFileSync(full, "utf8") };
      }
    }
  };
  walk(contractsDir);
  return out;
}

// Keys sorted at every level, so the JSON text is a function of the compiler output only.
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys(value[k])]),
    );
  }
  return value;
}

function compile(solc) {
  const version = solc.version();
  if (!version.startsWith(`${SOLC_VERSION}+`)) {
    throw new Error(`solc ${version} found, ${SOLC_VERSION} required`);
  }
  const input = {
    language: "Solidity",
    sources: sources(),
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
      // No metadata hash in the bytecode: comments and paths do not change the code.
      metadata: { bytecodeHash: "none", appendCBOR: false },
      outputSelection: {
        "*": { "": ["ast"], "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) process.stderr.write(`${e.formattedMessage}\n`);
  if (errors.length > 0) {
    process.stderr.write(`${errors.length} compilation error(s)\n`);
    process.exit(1);
  }

  // Only concrete contracts get an artifact: interfaces and abstract contracts have no
  // code, and the libraries here are internal (inlined into the contracts that use them).
  const deployable = new Set();
  for (const [unit, source] of Object.entries(output.sources)) {
    for (const node of source.ast.nodes) {
      if (node.nodeType === "ContractDefinition" && node.contractKind === "contract" && !node.abstract) {
        deployable.add(`${unit}:${node.name}`);
      }
    }
  }
  const artifacts = {};
  for (const unit of Object.keys(output.contracts).sort()) {
    for (const [name, contract] of Object.entries(output.contracts[unit])) {
      if (!deployable.has(`${unit}:${name}`)) continue;
      const code = contract.evm.bytecode.object;
      if (artifacts[`${name}.json`]) {
        throw new Error(`two contracts named ${name}: artifact names must be unique`);
      }
      const artifact = {
        abi: contract.abi,
        bytecode: `0x${code}`,
        deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
      };
      artifacts[`${name}.json`] = `${JSON.stringify(sortKeys(artifact), null, 2)}\n`;
    }
  }
  return artifacts;
}

function main() {
  const artifacts = compile(loadSolc());
  const existing = fs.existsSync(artifactsDir)
    ? fs.readdirSync(artifactsDir).filter((f) => f.endsWith(".json"))
    : [];
  if (check) {
    const problems = [];
    for (const [file, text] of Object.entries(artifacts)) {
      const full = path.join(artifactsDir, file);
      if (!fs.existsSync(full)) problems.push(`${file} is missing`);
      else if (fs.readFileSync(full, "utf8") !== text) problems.push(`${file} differs from a fresh compile`);
    }
    for (const file of existing) {
      if (!(file in artifacts)) problems.push(`${file} has no contract`);
    }
    if (problems.length > 0) {
      process.stderr.write(`${problems.join("\n")}\nrun: node chains/evm/compile.mjs\n`);
      process.exit(1);
    }
    process.stdout.write(`${Object.keys(artifacts).length} artifacts match a fresh compile\n`);
    return;
  }
  fs.mkdirSync(artifactsDir, { recursive: true });
  for (const file of existing) {
    if (!(file in artifacts)) fs.rmSync(path.join(artifactsDir, file));
  }
  for (const [file, text] of Object.entries(artifacts)) {
    fs.writeFileSync(path.join(artifactsDir, file), text);
  }
  process.stdout.write(`wrote ${Object.keys(artifacts).length} artifacts to ${path.relative(process.cwd(), artifactsDir) || "."}\n`);
}

main();
