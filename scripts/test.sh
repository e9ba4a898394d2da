#!/usr/bin/env bash
# The whole msec test suite, runnable on a fresh Debian machine with only Rust installed.
# It installs and starts what the tests need by itself, then runs every test of the
# workspace in the dev profile. `.ci/run` calls exactly this script.
#
# What it installs (once per machine; later runs reuse it):
#   - mosquitto and mosquitto-clients (Debian packages): the MQTT broker and `mosquitto_pub`;
#   - tansu 0.6.0 (crates.io), a Kafka-protocol broker, built into ~/.cache/msec/tansu
#     (about 10-20 minutes on 2 cores the first time);
#   - python3 with a venv in ~/.cache/msec/venv holding confluent-kafka (PyPI), the
#     independent Kafka producer of the tests.
# The broker tests start their brokers themselves, on loopback and free ports, and stop them.
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

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/msec"
mkdir -p "$CACHE"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "scripts/test.sh: need root (or sudo) to run: $*" >&2; return 1; fi
}

# --- Debian packages: the MQTT broker and client, Python for the Kafka client -------------
need_apt=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need_apt+=(mosquitto-clients)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need_apt+=(python3-venv)
# The bundled librdkafka builds with make and a C compiler.
command -v make >/dev/null 2>&1 || need_apt+=(make)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc g++)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing with apt: ${need_apt[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
# The package starts a system-wide mosquitto on port 1883; the tests use their own.
export MSEC_MOSQUITTO="$(command -v mosquitto || echo /usr/sbin/mosquitto)"

# --- tansu, the Kafka-protocol broker ----------------------------------------------------
TANSU="$CACHE/tansu/bin/tansu"
if [ ! -x "$TANSU" ]; then
  echo "building tansu 0.6.0 into $CACHE/tansu (once per machine)"
  cargo install tansu --version 0.6.0 --features dynostore --locked --root "$CACHE/tansu" -j "${CARGO_BUILD_JOBS:-2}"
fi
export MSEC_TANSU="$TANSU"

# --- confluent-kafka in a venv ---------------------------------------------------------------
VENV="$CACHE/venv"
if ! "$VENV/bin/python" -c "import confluent_kafka" >/dev/null 2>&1; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check confluent-kafka
fi
export MSEC_PYTHON="$VENV/bin/python"

# Every broker test must run: a missing broker or client fails the suite here.
export MSEC_REQUIRE_BROKERS=1

# Two cores: build and run tests with at most two jobs so links do not run out of memory.
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export RUST_BACKTRACE=1

cargo test --workspace --locked "$@"
