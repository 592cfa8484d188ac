"""What defining a window on a table that already holds many rows costs its writers, on
embedded DuckDB (a database file, --metrics-table=false). The table `ticks` holds --rows rows
over the last --days days; a writer sends 1k-row DoPut batches of current rows to it while
hyprstream_create_window defines 5m, 1h and 1d windows and a trailing hour on it. Reported:

  create   seconds until hyprstream_create_window returned, and its backfilled_rows
  writer   its longest call while the definition was built, beside its median outside

    .venv/bin/python bench/window_create_bench.py [--rows 10000000] [--keys 5000] [--days 7]
        [--runs 2]

HYPRSTREAM_BIN overrides build/hyprstream; BENCH_LOG=FILE keeps hyprstream's log there.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

import adbc_driver_flightsql.dbapi

from bench_data import metric_rows, recent_start_us, rows_over_days
from bench_server import BINARY, free_port, stop, wait_for_flight
from bench_util import median
from systems import chunked_reader

DEFINE = """SELECT backfilled_rows FROM hyprstream_create_window('t{run}', 'ticks',
    keys := 'metric_id', time_column := 'timestamp', value_columns := 'value',
    windows := '5m, 1h, 1d, trailing 1h')"""


def launch(log, database):
    port = free_port()
    proc = subprocess.Popen(
        [str(BINARY), "--host", "127.0.0.1", "--port", str(port), "--log-level", "info",
         "--engine-connection", database, "--metrics-table=false"], stdout=log, stderr=log)
    uri = f"grpc://127.0.0.1:{port}"
    wait_for_flight(proc, uri, "hyprstream", timeout=600)
    return proc, uri


def define_beside_a_writer(uri, keys, run):
    """Seconds hyprstream_create_window took, its backfilled_rows, and the writer's calls
    outside and during it."""
    spans = []  # (began, ended) of each call
    done = threading.Event()

    def writer():
        batch = metric_rows(1000, keys, start_us=recent_start_us(1000, time.time_ns() // 1000))
        with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
            cur = conn.cursor()
            while not done.is_set():
                began = time.monotonic()
                cur.adbc_ingest("ticks", batch, mode="append")
                spans.append((began, time.monotonic()))

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(2)
    try:
        with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
            cur = conn.cursor()
            began = time.monotonic()
            cur.execute(DEFINE.format(run=run))
            (backfilled,) = cur.fetchone()
            ended = time.monotonic()
    finally:
        time.sleep(1)
        done.set()
        thread.join()
    # A call is "during" the definition when their times overlap.
    during = [e - b for b, e in spans if b < ended and e > began]
    calls = [e - b for b, e in spans if not (b < ended and e > began)]
    return ended - began, backfilled, calls, during


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keys", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    print(f"{args.rows} rows of ticks over {args.days} days, {args.keys} keys, binary {BINARY}")
    with tempfile.TemporaryDirectory() as tmp:
        log_path = os.environ.get("BENCH_LOG") or os.path.join(tmp, "hyprstream.log")
        log = open(log_path, "a")
        proc = None
        try:
            proc, uri = launch(log, os.path.join(tmp, "ticks.duckdb"))
            data = rows_over_days(args.rows, args.keys, args.days, time.time_ns() // 1000)
            with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
                conn.cursor().adbc_ingest("ticks", chunked_reader(data), mode="create")
            for run in range(args.runs):
                seconds, rows, calls, during = define_beside_a_writer(uri, args.keys, run)
                print(f"  run {run + 1}: create {seconds:.2f} s, backfilled_rows {rows}; writer "
                      f"{len(during)} calls during, longest {max(during, default=0) * 1e3:.0f} "
                      f"ms, median {median(during) * 1e3 if during else 0:.1f} ms; median "
                      f"outside {median(calls) * 1e3:.1f} ms", flush=True)
        finally:
            if proc is not None:
                stop(proc)  # (if still running)
            log.close()


if __name__ == "__main__":
    sys.exit(main())
