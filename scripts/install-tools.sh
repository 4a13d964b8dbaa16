#!/usr/bin/env bash
# Installs what `make pkg`, `make demo` and `make test` need, skipping what is present.
#   install-tools.sh build    -> wasm32 target, pinned wasm-bindgen-cli, npm dev dependencies, and
#                                the pinned nightly with rust-src for the threaded build (pkg/threads/)
#   install-tools.sh browser  -> Debian chromium + chromium-driver (needs root; else says what to install)
#   install-tools.sh recipes  -> what builds the docs' embedding recipes in the consumer tests: the
#                                pinned mdBook, and Sphinx + nbconvert in target/recipes-venv
set -euo pipefail
cd "$(dirname "$0")/.."

# The wasm-bindgen crate version pinned in Cargo.toml; the CLI must equal it exactly.
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' Cargo.toml)"

# The nightly toolchain of the threaded wasm build (`-Z build-std` with atomics, Makefile
# THREADS_*); the Makefile reads this line. A minimal profile with rust-src and the wasm32 target:
# about 14 s and 150 MB to install.
THREADS_NIGHTLY=nightly-2026-05-20

install_build() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "install-tools: adding rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
    echo "install-tools: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (takes several minutes)"
    # Not --locked: the CLI's lockfile names a crate version the registry no longer serves.
    cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --force
  fi
  if ! rustup component list --toolchain "$THREADS_NIGHTLY" --installed 2>/dev/null | grep -q '^rust-src' ||
     ! rustup target list --toolchain "$THREADS_NIGHTLY" --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo "install-tools: installing $THREADS_NIGHTLY with rust-src (the threaded build)"
    rustup toolchain install "$THREADS_NIGHTLY" --profile minimal --component rust-src --target wasm32-unknown-unknown
  fi
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "install-tools: npm ci (dev dependencies from the committed lockfile)"
    npm ci --no-audit --no-fund
  fi
}

# mdBook's version for the mdBook recipe (tests/consumers/recipes/mdbook).
MDBOOK_VERSION=0.5.4

install_recipes() {
  if [ "$(mdbook --version 2>/dev/null | awk '{print $2}')" != "v$MDBOOK_VERSION" ]; then
    echo "install-tools: installing mdbook $MDBOOK_VERSION (takes a few minutes)"
    cargo install mdbook --version "=$MDBOOK_VERSION" --locked --force
  fi
  local venv=target/recipes-venv requirements=tests/consumers/recipes/requirements.txt
  if [ ! -f "$venv/installed" ] || [ "$requirements" -nt "$venv/installed" ]; then
    echo "install-tools: Sphinx and nbconvert into $venv ($requirements)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    touch "$venv/installed"
  fi
}

install_browser() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    return
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "install-tools: apt-get install chromium chromium-driver"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "install-tools: the browser tests need Chromium and ChromeDriver at /usr/bin/chromium and" >&2
    echo "/usr/bin/chromedriver. On Debian/Ubuntu run: sudo apt-get install chromium chromium-driver" >&2
    exit 1
  fi
}

for what in "$@"; do
  case "$what" in
    build) install_build ;;
    browser) install_browser ;;
    recipes) install_recipes ;;
    *) echo "install-tools: unknown part '$what' (expected build, browser or recipes)" >&2; exit 2 ;;
  esac
done
