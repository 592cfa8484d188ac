"""bench/floor_client.cc (the point query over Arrow's C++ Flight client alone, which
bench/run runs beside the ADBC client): against a running hyprstream it prepares, binds,
runs and checks every query, reports one latency per query, and fails loudly on a wrong
answer. No timing is judged."""
import json
import subprocess

import pytest

from conftest import BINARY

FLOOR_CLIENT = BINARY.parent / "bench" / "floor_client"


@pytest.fixture
def points(autocommit_conn, table):
    """`table` with ids 0..99, the shape of bench/run's points table."""
    cur = autocommit_conn.cursor()
    cur.execute(f"CREATE TABLE {table} AS SELECT range AS id, range * 0.5 AS value, "
                f"'label-' || range AS label FROM range(100)")
    cur.close()
    return table


def floor_client(uri, sql, *args, stdin=None):
    if not FLOOR_CLIENT.exists():
        pytest.skip(f"{FLOOR_CLIENT} not built (target floor_client)")
    return subprocess.run([str(FLOOR_CLIENT), "--uri", uri, "--sql", sql, "--keys", "100",
                           *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_reports_one_latency_per_checked_query(uri, points):
    proc = floor_client(uri, f"SELECT id, value, label FROM {points} WHERE id = ?",
                        "--queries", "7", "--warmup", "2", "--sync", stdin="go\nclose\n")
    assert proc.returncode == 0, proc.stderr
    ready, result = proc.stdout.splitlines()
    assert json.loads(ready) == {"ready": True}
    got = json.loads(result)
    assert got["samples"] == 7
    latencies = got["latencies_ms"]
    assert len(latencies) == 7 and all(v > 0 for v in latencies)
    assert min(latencies) <= got["p50_ms"] <= got["p95_ms"] <= got["p99_ms"] <= max(latencies)
    assert got["client_cpu_ms_per_query"] >= 0


@pytest.mark.parametrize("select, error", [
    ("SELECT id, value, label FROM {t} WHERE id = ? + 100", "answered with 0 rows"),
    ("SELECT id + 1, value, label FROM {t} WHERE id = ?", "answered with id"),
])
def test_a_wrong_answer_fails_the_run(uri, points, select, error):
    proc = floor_client(uri, select.format(t=points), "--queries", "3", "--warmup", "0")
    assert proc.returncode == 1
    assert error in proc.stderr
    assert proc.stdout == ""


def test_a_server_error_is_reported(uri):
    proc = floor_client(uri, "SELECT id FROM no_such_table_for_floor WHERE id = ?")
    assert proc.returncode == 1
    assert "no_such_table_for_floor" in proc.stderr
