# Shared by scripts/demo, scripts/test and .ci/run: one build directory per machine and the
# system packages the build needs. Source it; do not run it.

# One target directory outside the clone, shared by tests, the demo, benchmarks and CI, so
# the C/C++ dependencies are compiled once per machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/xrelay-target}"
mkdir -p "$CARGO_TARGET_DIR"

# Debian packages the build needs beyond a Rust toolchain, as "command:package" (the command
# proves the package is there) or "package" (checked with dpkg). libclang-dev: RocksDB's
# bindings are generated with bindgen at build time.
XRELAY_APT_NEEDS=(
  "cc:gcc"
  "c++:g++"
  "make:make"
  "libclang-dev"
)

# Tools the deploy tests (relay/tests/deploy_artifacts.rs) run: promtool (package prometheus),
# docker-compose (only `config`, no Docker engine) and PyYAML. Installed without recommends,
# which would pull a Docker engine and the node exporter.
XRELAY_APT_TOOLS=(
  "promtool:prometheus"
  "docker-compose:docker-compose"
  "python3-yaml"
)

# Prints the packages of the given entries that are missing.
xrelay_apt_missing() {
  local entry
  for entry in "$@"; do
    if [[ "$entry" == *:* ]]; then
      command -v "${entry%%:*}" >/dev/null 2>&1 || echo "${entry#*:}"
    else
      dpkg -s "$entry" >/dev/null 2>&1 || echo "$entry"
    fi
  done
}

xrelay_ensure_deps() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found. Install Rust (https://rustup.rs) and run this again." >&2
    exit 1
  fi
  local missing tools
  mapfile -t missing < <(xrelay_apt_missing "${XRELAY_APT_NEEDS[@]}")
  mapfile -t tools < <(xrelay_apt_missing "${XRELAY_APT_TOOLS[@]}")
  local all=("${missing[@]}" "${tools[@]}")
  if [ "${#all[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing ${all[*]} ..." >&2
      apt-get update -qq
      if [ "${#missing[@]}" -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
      fi
      if [ "${#tools[@]}" -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tools[@]}" >/dev/null
      fi
    else
      local how=()
      [ "${#missing[@]}" -eq 0 ] || how+=("sudo apt-get install ${missing[*]}")
      [ "${#tools[@]}" -eq 0 ] || how+=("sudo apt-get install --no-install-recommends ${tools[*]}")
      echo "error: missing packages: ${all[*]}. Install them with: ${how[0]}${how[1]:+ && ${how[1]}}" >&2
      exit 1
    fi
  fi
}

# EVM tools, from the npm registry at pinned versions, into one folder per machine: anvil (a
# real Ethereum node, for the EVM tests and `xrelay demo --with-evm`) and solc (solcjs, which
# compiles chains/evm/contracts offline; the compiled artifacts are committed, so builds never
# need it). Needs Node.js and npm.
export XRELAY_TOOLS="${XRELAY_TOOLS:-$HOME/.cache/xrelay-tools}"
XRELAY_ANVIL_PACKAGE="@foundry-rs/anvil-linux-amd64@1.7.1"
XRELAY_SOLC_PACKAGE="solc@0.8.30"

xrelay_ensure_evm_tools() {
  local bin="$XRELAY_TOOLS/node_modules/.bin"
  if [ -x "$bin/anvil" ] && [ -x "$bin/solcjs" ] \
    && "$bin/anvil" --version 2>/dev/null | grep -q "Version: ${XRELAY_ANVIL_PACKAGE##*@}" \
    && "$bin/solcjs" --version 2>/dev/null | grep -q "^${XRELAY_SOLC_PACKAGE##*@}+"; then
    export XRELAY_ANVIL="${XRELAY_ANVIL:-$bin/anvil}"
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "error: npm not found; the EVM tests need anvil and solc from the npm registry. Install Node.js 20+ and npm." >&2
    exit 1
  fi
  echo "installing $XRELAY_ANVIL_PACKAGE and $XRELAY_SOLC_PACKAGE into $XRELAY_TOOLS ..." >&2
  mkdir -p "$XRELAY_TOOLS"
  npm install --prefix "$XRELAY_TOOLS" --no-audit --no-fund --silent \
    "$XRELAY_ANVIL_PACKAGE" "$XRELAY_SOLC_PACKAGE" >/dev/null
  export XRELAY_ANVIL="${XRELAY_ANVIL:-$bin/anvil}"
}

# The status page's browser test: Debian's Chromium, driven by playwright-core from the npm
# registry (pinned; no browser download, it uses /usr/bin/chromium).
XRELAY_PLAYWRIGHT_PACKAGE="playwright-core@1.65.1"

xrelay_ensure_browser() {
  if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing chromium ..." >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "error: chromium missing (the status page test needs it): sudo apt-get install chromium" >&2
      exit 1
    fi
  fi
  local pkg="$XRELAY_TOOLS/node_modules/playwright-core/package.json"
  if [ -f "$pkg" ] && grep -q "\"version\": \"${XRELAY_PLAYWRIGHT_PACKAGE##*@}\"" "$pkg"; then
    return 0
  fi
  echo "installing $XRELAY_PLAYWRIGHT_PACKAGE into $XRELAY_TOOLS ..." >&2
  mkdir -p "$XRELAY_TOOLS"
  npm install --prefix "$XRELAY_TOOLS" --no-audit --no-fund --silent "$XRELAY_PLAYWRIGHT_PACKAGE" >/dev/null
}
