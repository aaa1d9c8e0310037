#!/usr/bin/env bash
# Runs each fuzz target of fuzz/ briefly (FUZZ_SECONDS each, 5 by default) from its seeds,
# and fails on a crash: CI's check that the targets build and that the code survives a few
# seconds of each. The long runs are by hand: docs/fuzzing.md.
#
#   FUZZ_SECONDS   seconds per target (5)
#   FUZZ_TARGETS   the targets to run (all of them)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-5}

# cargo-fuzz wants a nightly compiler (its -Z flags). Without a nightly toolchain the
# machine's own compiler is told to accept them (RUSTC_BOOTSTRAP=1), as nightly would.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    echo "fuzz-smoke: no nightly toolchain: building with the default one and RUSTC_BOOTSTRAP=1" >&2
    toolchain=()
    export RUSTC_BOOTSTRAP=1
fi
if ! cargo "${toolchain[@]}" fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

# The same flags as the long runs (docs/fuzzing.md), so one build serves both.
flags=(--release --debug-assertions --sanitizer none)
started=$(date +%s)
cargo "${toolchain[@]}" fuzz build "${flags[@]}"
echo "fuzz-smoke: built in $(($(date +%s) - started)) s"

targets=${FUZZ_TARGETS:-$(cargo "${toolchain[@]}" fuzz list)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in $targets; do
    mkdir -p "$work/$t"
    args=(-max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=1024)
    [ -f "fuzz/dicts/$t.dict" ] && args+=(-dict="fuzz/dicts/$t.dict")
    echo "fuzz-smoke: $t for ${seconds} s"
    # New inputs go to a scratch corpus; the committed seeds are only read.
    if ! cargo "${toolchain[@]}" fuzz run "${flags[@]}" "$t" "$work/$t" "fuzz/seeds/$t" \
        -- "${args[@]}" >"$work/$t.log" 2>&1; then
        tail -n 60 "$work/$t.log" >&2
        echo "fuzz-smoke: $t crashed; the input is in fuzz/artifacts/$t/ (see docs/fuzzing.md)" >&2
        exit 1
    fi
    grep -E '^Done [0-9]+ runs' "$work/$t.log" | sed "s/^/fuzz-smoke: $t: /" || true
done
echo "fuzz-smoke: all targets ran without a crash ($(($(date +%s) - started)) s in all)"
