#!/usr/bin/env bash
# Runs every test of Sluice. Installs the wasm target first if it is missing, because
# the tests build real connector components, and Debian's Chromium and ChromeDriver,
# because the console's tests drive a real headless browser.
set -euo pipefail
cd "$(dirname "$0")"
toolchain="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)"
if ! rustup +"$toolchain" target list --installed | grep -qx wasm32-wasip2; then
    echo "installing the wasm32-wasip2 target for $toolchain"
    rustup target add --toolchain "$toolchain" wasm32-wasip2
fi
if [ -z "$(command -v chromium)" ] || [ -z "$(command -v chromedriver)" ]; then
    echo "installing Debian's chromium and chromium-driver for the console's browser tests"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver
fi
# Each store test notes the databases it ran on; the sum is printed at the end, pass or fail.
databases_used=target/tmp/databases-used.tsv
rm -f "$databases_used"
summary() {
    if [ -f "$databases_used" ]; then
        echo "store tests by database:"
        cut -f1 "$databases_used" | sort | uniq -c
    fi
}
trap summary EXIT
cargo test --workspace --locked "$@"
# The connectors' own unit tests (cursors, paging, mapping), natively: the connectors are a
# workspace of their own, built for wasm32-wasip2 by the tests above.
cargo test --manifest-path plugins/Cargo.toml --workspace --locked
