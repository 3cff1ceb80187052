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

xrelay_ensure_deps() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found. Install Rust (https://rustup.rs) and run this again." >&2
    exit 1
  fi
  local missing=() entry
  for entry in "${XRELAY_APT_NEEDS[@]}"; do
    if [[ "$entry" == *:* ]]; then
      command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
    else
      dpkg -s "$entry" >/dev/null 2>&1 || missing+=("$entry")
    fi
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing ${missing[*]} ..." >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      echo "error: missing packages: ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
}
