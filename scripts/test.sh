#!/usr/bin/env bash
# The whole msec test suite, runnable on a fresh Debian machine with only Rust installed.
# It installs and starts what the tests need by itself (nothing yet beyond Rust for the
# spine; brokers arrive with the connectors issue), then runs every test of the workspace
# in the dev profile. `.ci/run` calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "scripts/test.sh: cargo not found; install Rust (rustup) first" >&2
  exit 1
fi

# Real data tests read ../shared/datasets when present and say "skipped" otherwise.
if [ ! -d ../shared/datasets ]; then
  echo "note: ../shared/datasets not found; tests that need it will report skipped"
fi

# Two cores: build and run tests with at most two jobs so links do not run out of memory.
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export RUST_BACKTRACE=1

cargo test --workspace --locked "$@"
