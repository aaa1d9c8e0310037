#!/usr/bin/env bash
# Runs every test of aurora-krb: installs what is missing, checks formatting and lints, then
# the unit, integration and end-to-end tests against real KDCs and a real PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# One build for all tests: `cargo test` also builds the aurora-krb binary (the CLI's
# integration tests need it) with the same features, before any test runs; a separate
# `cargo build` would resolve features without dev-dependencies and build the AWS SDK twice.
cargo test --workspace --no-fail-fast
# Each fuzz target for a few seconds (installs cargo-fuzz when missing); the long runs are by
# hand (docs/fuzzing.md).
bash scripts/fuzz-smoke.sh
