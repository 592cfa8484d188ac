"""Smoke test with a Flight SQL client nobody here wrote: the arrow-go Flight SQL client
(github.com/apache/arrow-go/v18/arrow/flight/flightsql, version pinned in
tests/clients/go/go.mod and go.sum).

tests/clients/go/main.go connects and checks a query and its values and Arrow types, prepared
queries and updates with parameters, update counts, a transaction rolled back and one
committed, a write that loses to an open transaction's (Unavailable, saying to run it again),
bulk ingest, the metadata commands (GetCatalogs, GetDBSchemas, GetTables with and
without include_schema, GetTableTypes, GetPrimaryKeys, imported/exported keys, cross
reference, GetSqlInfo, GetXdbcTypeInfo) against the spec's schemas, and the session-option,
PollFlightInfo and CancelFlightInfo RPCs. It prints PASS/FAIL per check and exits non-zero
when any failed. This wrapper builds it with `go build` (modules from the Go module proxy,
cached in ~/go/pkg/mod and ~/.cache/go-build) and runs it against a fresh server.
"""
import pytest

import client_programs as cp
from conftest import start_read_only_server

GO_DIR = cp.CLIENTS / "go"


def build():
    cp.require("go")
    build_dir = cp.cache_dir("go")
    binary = build_dir / "go-client"
    with cp.locked(build_dir):
        # -buildvcs=false: no VCS stamping, so the build needs no git metadata.
        code, output = cp.run(["go", "build", "-buildvcs=false", "-o", str(binary), "."],
                              cwd=GO_DIR, timeout=900, what="go build")
        assert code == 0, f"go build failed ({code}):\n{output}"
    return binary


def test_arrow_go_flightsql_smoke(start_server):
    binary = build()
    server = start_server("--log-level", "debug")
    code, output = cp.run([str(binary), f"127.0.0.1:{server.port}"],
                          cwd=GO_DIR, timeout=180, what="the arrow-go smoke program")
    cp.assert_client_passed(code, output, server, "the arrow-go Flight SQL smoke program")


@pytest.mark.parametrize("caller", ["read_only user", "--readonly"])
def test_arrow_go_read_only_caller_queries_and_runs_transactions(start_server, read_only_database,
                                                                 caller):
    """A read_only caller may query and open, commit and roll back transactions (Flight SQL
    BeginTransaction/EndTransaction, SQL BEGIN/COMMIT/ROLLBACK as statement and prepared
    updates); every write inside is refused with PERMISSION_DENIED and the table keeps its
    rows (main.go, --read-only)."""
    binary = build()
    server, login, table, rows = start_read_only_server(start_server, read_only_database, caller)
    code, output = cp.run([str(binary), f"127.0.0.1:{server.port}", "--read-only", table,
                           str(rows), *login],
                          cwd=GO_DIR, timeout=180, what="the arrow-go read-only program")
    cp.assert_client_passed(code, output, server, f"the arrow-go read-only program ({caller})")
