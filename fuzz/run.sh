#!/usr/bin/env bash
# A libFuzzer run of the front-door target for SECONDS (default 30): the build cargo-fuzz would
# make (coverage instrumentation, debug assertions, overflow checks), without installing
# cargo-fuzz and without AddressSanitizer, so CI pays about a minute for it. The front door is
# safe Rust; for long runs with ASan use `cargo fuzz run` (README, "Fuzzing").
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-30}"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps the instrumentation off build scripts and proc macros.
host="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --locked --release --bin token_front_door --target "$host" --target-dir target/ci
mkdir -p corpus/token_front_door
"target/ci/$host/release/token_front_door" corpus/token_front_door seeds/token_front_door \
    -max_total_time="$seconds" -print_final_stats=1
