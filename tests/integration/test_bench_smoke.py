"""Smoke test of bench/run's harness, so it cannot rot silently: every workload against every
system (hyprstream, DuckDB in-process, the arrow-go Flight SQL example server, PostgreSQL 15)
at tiny sizes, one repetition, report and plots into a temp dir. Asserts that every
(workload, system) produced figures, that all systems computed the same window answer from
the same data, and that the report files are there. No figure is judged: speed is bench/'s.

The arrow-go peer is built from bench/peers/go.mod with `go build` into the clients' cache
(~/.cache/hyprstream-clients/...), like the arrow-go client test.
"""
import json
import os
import subprocess
import sys

import client_programs as cp
from conftest import BINARY, ROOT

WORKLOADS = ["point_query", "throughput", "large_result", "bulk_ingest", "streaming_ingest",
             "window_query"]
SYSTEMS = ["hyprstream", "duckdb-inproc", "arrow-go", "postgres", "hyprstream+pg-cache"]


def build_peer():
    cp.require("go")
    build_dir = cp.cache_dir("bench-peers")
    binary = build_dir / "sqlite_flightsql_server"
    with cp.locked(build_dir):
        code, output = cp.run(
            ["go", "build", "-buildvcs=false", "-o", str(binary),
             "github.com/apache/arrow-go/v18/arrow/flight/flightsql/example/cmd/"
             "sqlite_flightsql_server"],
            cwd=ROOT / "bench" / "peers", timeout=900, what="go build of the arrow-go peer")
        assert code == 0, f"go build failed ({code}):\n{output}"
    return binary


def test_bench_harness_tiny(tmp_path):
    peer = build_peer()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "harness.py"), "--tiny",
         "--hyprstream-bin", str(BINARY), "--arrow-go-bin", str(peer), "--out", str(tmp_path)],
        cwd=ROOT, env=cp.tool_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Progress names each workload and system as it goes.
    assert "1. point query round trip | hyprstream |" in proc.stderr
    assert "6. windowed aggregates | postgres |" in proc.stderr

    (json_path,) = tmp_path.glob("*-tiny.json")
    data = json.loads(json_path.read_text())
    assert data["meta"]["mode"] == "tiny" and data["meta"]["scaled_down"]
    assert data["meta"]["errors"] == []
    results = data["results"]
    assert list(results) == WORKLOADS
    for workload in WORKLOADS:
        assert sorted(results[workload]) == sorted(SYSTEMS), workload
    sizes = data["meta"]["sizes"]
    for system in SYSTEMS:
        assert results["point_query"][system]["samples"] == sizes["point_samples"]
        assert results["point_query"][system]["p50_ms"] > 0
        assert results["large_result"][system]["rows"] == sizes["wide_rows"]
        assert all(results["throughput"][system][f"qps_{c}"] > 0 for c in sizes["clients"])
        assert results["streaming_ingest"][system]["rows_per_s"] > 0
    # The floor client ran the same point queries on every Flight SQL server; client and
    # server CPU per query are there for every system with a server, PostgreSQL included.
    for system in ("hyprstream", "arrow-go", "hyprstream+pg-cache"):
        floor = results["point_query"][system]["floor"]
        assert floor["samples"] == sizes["point_samples"] and floor["p50_ms"] > 0, (system, floor)
        assert "client_cpu_ms_per_query" in floor and "server_cpu_ms_per_query" in floor
    assert "floor" not in results["point_query"]["postgres"]
    for system in ("hyprstream", "arrow-go", "postgres", "hyprstream+pg-cache"):
        assert "server_cpu_ms_per_query" in results["point_query"][system], system
        for c in sizes["clients"]:
            assert f"server_cpu_ms_per_query_{c}" in results["throughput"][system], (system, c)
    assert results["bulk_ingest"]["hyprstream"]["rows"] == sizes["bulk_rows"]
    assert results["bulk_ingest"]["arrow-go"]["rows"] == sizes["bulk_rows_slow"]

    # Same data, same answer: the maintained window and every GROUP BY agree.
    window = results["window_query"]
    for name in ("hyprstream", "hyprstream+pg-cache"):  # windows over DuckDB and PostgreSQL
        assert window[name]["window_keys"] == window[name]["group_by_keys"] == sizes["window_keys"]
        assert window[name]["window_samples"] == window[name]["group_by_samples"] == sizes["window_rows"]
    hypr = window["hyprstream"]
    for system in SYSTEMS:
        assert window[system]["group_by_keys"] == sizes["window_keys"], system
        assert window[system]["group_by_samples"] == sizes["window_rows"], system
        assert abs(window[system]["group_by_value_sum"] - hypr["group_by_value_sum"]) < 0.1

    assert [t["target"] for t in data["targets"]][0].startswith("large result")
    # Every issue-15 target has a verdict: this run measured every workload.
    assert len(data["targets_issue15"]) == 7 + len(sizes["clients"]) - 1
    assert all(t["met"] in (True, False) for t in data["targets_issue15"]), data["targets_issue15"]
    markdown = json_path.with_suffix(".md").read_text()
    assert "tiny mode: row counts scaled down" in markdown
    for title in ("1. Point query", "6. Current 5m aggregates", "| target | measured | met |",
                  "## Targets (issue 15)", "| hyprstream floor client |", "CPU per query (ms):"):
        assert title in markdown
    plots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(plots) == len(WORKLOADS), plots
    assert all(os.path.getsize(tmp_path / p) > 1000 for p in plots)
