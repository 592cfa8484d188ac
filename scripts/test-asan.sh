#!/usr/bin/env bash
# Builds the unit tests with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/) and
# runs them. Setup is shared with scripts/bootstrap.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh" "$ROOT/build" Release >/dev/null
if [ ! -f "$ROOT/build-asan/build.ninja" ]; then
  cmake -S "$ROOT" -B "$ROOT/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHYPRSTREAM_SANITIZE=ON \
    -DHYPRSTREAM_PYTHON="$ROOT/.venv/bin/python" -DDUCKDB_ROOT="$ROOT/.deps/duckdb-1.4.4" >/dev/null
fi
cmake --build "$ROOT/build-asan"
# The wheel's and DuckDB's libraries are not instrumented; leaks inside them are not ours.
ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  ctest --test-dir "$ROOT/build-asan" --output-on-failure -j"$(nproc)"
