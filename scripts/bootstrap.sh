#!/usr/bin/env bash
# Installs everything hyprstream needs on Debian 12 and builds it. Idempotent: each step
# checks first and does nothing when already done, so a second run takes seconds.
#
#   scripts/bootstrap.sh [build-dir] [build-type]     (defaults: build, Release)
#   HYPRSTREAM_EXTRA_APT_PACKAGES="a b" also installs those (e.g. clang for scripts/fuzz.sh).
#
# Steps: Debian packages -> project venv (.venv, pinned requirements.txt; also our Arrow SDK)
# -> DuckDB C library from npm (.deps/) -> CMake configure + Ninja build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-$ROOT/build}"
BUILD_TYPE="${2:-Release}"
DUCKDB_VERSION="1.4.4"
DUCKDB_LIB_PACKAGE="@duckdb/node-bindings-linux-x64@1.4.4-r.4"
DUCKDB_HEADER_PACKAGE="duckdb@1.4.4"
DEPS="$ROOT/.deps"
VENV="$ROOT/.venv"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# --- 1. Debian packages -------------------------------------------------------------------
APT_PACKAGES=(
  g++ cmake ninja-build pkg-config git
  protobuf-compiler libprotobuf-dev
  libgtest-dev libcli11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libssl-dev
  python3 python3-venv
  npm
  ${HYPRSTREAM_EXTRA_APT_PACKAGES:-}
  postgresql
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  # python3/npm may come from elsewhere (pyenv, nodesource); accept a working command too.
  case "$p" in
    python3|python3-venv) command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- 2. Python venv (tests, examples, benchmarks; and the Arrow C++ SDK inside pyarrow) ----
req_hash="$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
  log "creating venv in $VENV"
  python3 -m venv "$VENV"
fi
if [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$req_hash" ]; then
  log "installing pinned Python packages"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements.txt"
  echo "$req_hash" >"$VENV/.requirements.sha256"
fi

# --- 3. DuckDB C library and header from the npm registry ---------------------------------
DUCKDB_DIR="$DEPS/duckdb-$DUCKDB_VERSION"
if [ ! -f "$DUCKDB_DIR/lib/libduckdb.so" ] || [ ! -f "$DUCKDB_DIR/include/duckdb.h" ]; then
  log "fetching DuckDB $DUCKDB_VERSION (libduckdb.so + duckdb.h) from npm"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$DUCKDB_LIB_PACKAGE" "$DUCKDB_HEADER_PACKAGE" >/dev/null)
  mkdir -p "$tmp/lib" "$tmp/hdr"
  tar -xzf "$tmp"/duckdb-node-bindings-linux-x64-*.tgz -C "$tmp/lib" package/libduckdb.so
  tar -xzf "$tmp"/duckdb-"$DUCKDB_VERSION".tgz -C "$tmp/hdr" package/src/duckdb/src/include/duckdb.h
  rm -rf "$DUCKDB_DIR" && mkdir -p "$DUCKDB_DIR/lib" "$DUCKDB_DIR/include"
  mv "$tmp/lib/package/libduckdb.so" "$DUCKDB_DIR/lib/"
  mv "$tmp/hdr/package/src/duckdb/src/include/duckdb.h" "$DUCKDB_DIR/include/"
fi

# --- 4. Configure and build -------------------------------------------------------------
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  log "configuring $BUILD_DIR ($BUILD_TYPE)"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
    -DHYPRSTREAM_PYTHON="$VENV/bin/python" \
    -DDUCKDB_ROOT="$DUCKDB_DIR" >/dev/null
fi
log "building"
cmake --build "$BUILD_DIR" -- -j"$(nproc)" | { grep -v -E '^\[[0-9]+/[0-9]+\]' || true; }
