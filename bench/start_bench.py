"""How long a restart takes with a long history in `metrics`: the rows span the last --days
days, as after a week of retention-bounded streaming, and the server is restarted --runs
times. Embedded DuckDB (a database file), or with --postgres the README's configuration over a
throw-away PostgreSQL 15 (ADBC, DuckDB cache in memory), or with --postgres --no-cache the
same without the cache (the windows built from a snapshot of PostgreSQL's rows).

  serving    seconds from launch until it answers Flight calls
  answering  seconds from launch until each window definition answers (metrics_trailing:
             the README's last-hour query; metrics: time buckets), built from the stored
             rows in the background
  first row  seconds from launch until a DoPut of one metrics row has returned (the running
             columns of a new row need the running state)
  newest     seconds from launch until a read of metrics' newest 5m windows (current :=
             'true', asked from launch on a connection of its own) has returned: the state
             answers it before its history is written

and, for comparison, the same start with --metrics-table=false.

    .venv/bin/python bench/start_bench.py [--rows 10000000] [--keys 5000] [--days 7] [--runs 3]
        [--postgres [--no-cache]]

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
import pyarrow as pa

from bench_data import rows_over_days
from bench_server import BINARY, free_port, postgres_server, stop, wait_for_flight
from bench_util import median
from systems import chunked_reader


CACHE = ["--enable-cache", "--cache-engine", "duckdb", "--cache-connection", ":memory:"]


def launch(log, database, *args):
    """`database`: a DuckDB file, or a postgres_server() to run in front of."""
    port = free_port()
    engine = ["--engine-connection", database]
    env = None
    if not isinstance(database, str):
        import adbc_driver_postgresql
        import pathlib

        driver = pathlib.Path(adbc_driver_postgresql.__file__).parent / "libadbc_driver_postgresql.so"
        env = dict(os.environ, HYPRSTREAM_ENGINE_USERNAME="postgres",
                   HYPRSTREAM_ENGINE_PASSWORD="secret")
        engine = ["--engine", "adbc", "--engine-connection",
                  f"postgresql://127.0.0.1:{database.port}/metrics",
                  "--engine-options", f"driver_path={driver}", *CACHE]
    began = time.monotonic()
    proc = subprocess.Popen(
        [str(BINARY), "--host", "127.0.0.1", "--port", str(port), "--log-level", "info",
         *engine, *args], stdout=log, stderr=log, env=env)
    uri = f"grpc://127.0.0.1:{port}"
    wait_for_flight(proc, uri, "hyprstream", timeout=600)
    return proc, uri, began, time.monotonic() - began


NEWEST = "SELECT count(*) FROM hyprstream_window('metrics', width := '5m', current := 'true')"


def read_newest(uri, began, wait, out):
    """Asks for metrics' newest windows until it is answered (a read waits for the state, up
    to 60 s, then fails); sets out["newest"] to the seconds from launch."""
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        while time.monotonic() - began < wait:
            try:
                cur.execute(NEWEST)
                cur.fetchall()
                out["newest"] = time.monotonic() - began
                return
            except adbc_driver_flightsql.dbapi.Error:
                time.sleep(0.02)


def one_start(log, database, wait):
    proc, uri, began, serving = launch(log, database)
    newest = {}
    reader = threading.Thread(target=read_newest, args=(uri, began, wait, newest))
    reader.start()
    try:
        with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
            cur = conn.cursor()
            row = pa.table({"metric_id": ["m-restart"],
                            "timestamp": pa.array([time.time_ns() // 1000], pa.timestamp("us")),
                            "value": [1.0]})
            cur.adbc_ingest("metrics", row, mode="append")
            first_row = time.monotonic() - began
            answering = {}
            while time.monotonic() - began < wait:
                cur.execute("SELECT name, state FROM hyprstream_windows()")
                states = dict(cur.fetchall())
                for name, state in states.items():
                    if state == "answering":
                        answering.setdefault(name, time.monotonic() - began)
                if len(answering) == len(states):
                    break
                time.sleep(0.02)
        reader.join()
    finally:
        stop(proc)
    return (serving, first_row, answering.get("metrics_trailing"), answering.get("metrics"),
            newest.get("newest"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keys", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wait", type=float, default=600)
    parser.add_argument("--postgres", action="store_true",
                        help="over PostgreSQL behind the cache instead of embedded DuckDB")
    parser.add_argument("--no-cache", action="store_true",
                        help="with --postgres: without the cache")
    args = parser.parse_args()
    if args.no_cache:
        CACHE.clear()
    pg = postgres_server() if args.postgres else None
    with tempfile.TemporaryDirectory() as tmp:
        log_path = os.environ.get("BENCH_LOG") or os.path.join(tmp, "hyprstream.log")
        database = pg or os.path.join(tmp, "metrics.duckdb")
        try:
            run(args, log_path, database)
        finally:
            if pg is not None:
                pg.destroy()


def run(args, log_path, database):
    with open(log_path, "a") as log:
        proc, uri, _, _ = launch(log, database)
        try:
            data = rows_over_days(args.rows, args.keys, args.days, time.time_ns() // 1000)
            with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
                conn.cursor().adbc_ingest("metrics", chunked_reader(data), mode="append")
        finally:
            stop(proc)
        print(f"{args.rows} rows of metrics over {args.days} days, {args.keys} keys, "
              f"{'embedded' if not args.postgres else 'PostgreSQL without the cache' if args.no_cache else 'PostgreSQL behind the cache'}, "
              f"binary {BINARY}")
        runs = [one_start(log, database, args.wait) for _ in range(args.runs)]
        for name, i in (("serving", 0), ("first row", 1), ("metrics_trailing answering", 2),
                        ("metrics answering", 3), ("metrics newest windows read", 4)):
            values = [r[i] for r in runs if r[i] is not None]
            print(f"  {name:26s} median {median(values):.2f} s  runs "
                  + ", ".join(f"{v:.2f}" for v in values))
        proc, _, _, plain = launch(log, database, "--metrics-table=false")
        stop(proc)
        print(f"  serving with --metrics-table=false: {plain:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
