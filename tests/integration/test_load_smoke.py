"""Smoke test of bench/load_test.py, so it cannot rot: a few clients for a few seconds. Checks
that every operation kind ran, that nothing failed and that the server stored exactly the rows
it acknowledged; no figure is judged (speed is bench/'s)."""
import json
import subprocess
import sys

from conftest import BINARY, ROOT


def test_load_test_tiny(tmp_path):
    out = tmp_path / "load.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load_test.py"), "--clients", "4", "--seconds", "3",
         "--hyprstream-bin", str(BINARY), "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["errors"] == 0, report["error_samples"]
    assert all(n > 0 for n in report["ops"].values()), report["ops"]
    assert report["rows_ingested"]["bulk_ingest"] == 1000 * report["ops"]["bulk_ingest"]
    assert report["rows_ingested"]["stream_ingest"] == 500 * report["ops"]["stream_ingest"]
    assert report["server_peak_rss_mib"] > 0
