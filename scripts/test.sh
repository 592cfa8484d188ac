#!/usr/bin/env bash
# Sets everything up (idempotent, see bootstrap.sh), then runs every test: the GoogleTest
# unit tests (ctest) and the integration tests (pytest against the real server binary with
# the real ADBC / pyarrow.flight clients). Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh" "$ROOT/build" Release

echo "== unit tests (ctest)"
ctest --test-dir "$ROOT/build" --output-on-failure -j"$(nproc)"

echo "== integration tests (pytest)"
HYPRSTREAM_BIN="$ROOT/build/hyprstream" "$ROOT/.venv/bin/python" -m pytest -q "$ROOT/tests/integration" "$@"
