#!/usr/bin/env bash
# Runs every test of Sluice. Installs the wasm target first if it is missing, because
# the tests build real connector components.
set -euo pipefail
cd "$(dirname "$0")"
toolchain="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)"
if ! rustup +"$toolchain" target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    echo "installing the wasm32-wasip2 target for $toolchain"
    rustup target add --toolchain "$toolchain" wasm32-wasip2
fi
cargo test --workspace --locked "$@"
