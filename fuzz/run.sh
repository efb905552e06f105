#!/usr/bin/env bash
# Fuzzes one target — manifest, host_pattern, address, ciphertext or webhook_signature — for SECONDS (60 by
# default), starting from its seeds in corpus/TARGET. New inputs go to target/corpus/TARGET,
# so the committed seeds stay as they are; a crash goes to artifacts/TARGET. cargo-fuzz
# passes nightly flags to rustc, which RUSTC_BOOTSTRAP lets the pinned toolchain accept.
set -euo pipefail
cd "$(dirname "$0")"
target="${1:?usage: fuzz/run.sh TARGET [SECONDS]}"
seconds="${2:-60}"
if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked
fi
mkdir -p "target/corpus/$target"
RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "target/corpus/$target" "corpus/$target" \
    -- -max_total_time="$seconds"
