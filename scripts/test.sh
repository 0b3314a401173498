#!/usr/bin/env bash
# Sets up and builds if needed, then runs the whole test suite (CTest; every test runs, none is
# skipped by default).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)"
