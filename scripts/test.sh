#!/usr/bin/env bash
# Runs every test of aurora-krb: installs what is missing, checks formatting and lints, then
# the unit, integration and end-to-end tests against real KDCs and a real PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The end-to-end tests run the aurora-krb binary: build it first.
cargo build --workspace --bins
cargo test --workspace --no-fail-fast
