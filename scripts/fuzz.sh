#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang and runs each for a bounded time.
#
#   scripts/fuzz.sh [seconds-per-target]     (default 60)
#
# Not part of scripts/test.sh (CI stays fast): installs clang from Debian if missing, runs
# scripts/bootstrap.sh for everything else, configures build-fuzz/ with -DHYPRSTREAM_FUZZ=ON,
# writes the seed corpora (fuzz/make_corpus.py) and runs each target with -max_total_time.
# Inputs found along the way are kept in build-fuzz/corpus/<target>; a crash leaves
# build-fuzz/crash-* (reproduce: build-fuzz/fuzz/<target> <file>) and a non-zero exit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_EACH="${1:-60}"
BUILD="$ROOT/build-fuzz"

log() { printf '[fuzz] %s\n' "$*" >&2; }

# The Debian packages (plus clang and its runtime libraries: libFuzzer, ASan/UBSan are in
# libclang-rt-14-dev on Debian 12), the venv (Arrow SDK) and DuckDB.
HYPRSTREAM_EXTRA_APT_PACKAGES="clang libclang-rt-14-dev" \
  "$ROOT/scripts/bootstrap.sh" "$ROOT/build" Release >/dev/null

if [ ! -f "$BUILD/build.ninja" ]; then
  log "configuring $BUILD"
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DHYPRSTREAM_FUZZ=ON -DHYPRSTREAM_TESTS=OFF \
    -DHYPRSTREAM_PYTHON="$ROOT/.venv/bin/python" -DDUCKDB_ROOT="$ROOT/.deps/duckdb-1.4.4" >/dev/null
fi
log "building"
cmake --build "$BUILD" --target command_decode_fuzz ipc_ingest_fuzz -- -j"$(nproc)" |
  { grep -v -E '^\[[0-9]+/[0-9]+\]' || true; }

"$ROOT/.venv/bin/python" "$ROOT/fuzz/make_corpus.py" "$BUILD/seeds"
status=0
for target in command_decode_fuzz ipc_ingest_fuzz; do
  corpus="$BUILD/corpus/${target%_fuzz}"
  mkdir -p "$corpus"
  log "running $target for ${SECONDS_EACH}s"
  # Arrow and DuckDB are not instrumented and keep process-wide caches: no leak checking.
  (cd "$BUILD" && ASAN_OPTIONS=detect_leaks=0 "$BUILD/fuzz/$target" -max_total_time="$SECONDS_EACH" \
      -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 "$corpus" "$BUILD/seeds/${target%_fuzz}") ||
    status=$?
done
exit "$status"
