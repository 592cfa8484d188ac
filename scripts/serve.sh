#!/usr/bin/env bash
# Sets everything up (idempotent, see bootstrap.sh) and runs the server in the foreground.
# Without arguments: embedded in-memory DuckDB on 127.0.0.1:50051. Any arguments are passed
# to hyprstream (see `scripts/serve.sh --help`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh" "$ROOT/build" Release
exec "$ROOT/build/hyprstream" "$@"
