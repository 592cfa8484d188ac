"""--engine adbc overhead against a real PostgreSQL 15 (started like the integration fixture):
simple-query latency and bulk-ingest throughput through hyprstream vs direct ADBC to PostgreSQL.

    .venv/bin/python bench/adbc_bench.py [--queries 500] [--rows 1000000]
"""
import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

import adbc_driver_flightsql.dbapi
import adbc_driver_postgresql
import adbc_driver_postgresql.dbapi
import pyarrow as pa

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from postgres_server import PostgresServer  # noqa: E402

from bench_server import start_server  # noqa: E402

PG_DRIVER = str(pathlib.Path(adbc_driver_postgresql.__file__).parent /
                "libadbc_driver_postgresql.so")


def latency(connect, n):
    with connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        cur.fetchall()
        times = []
        for _ in range(n):
            start = time.perf_counter()
            cur.execute("SELECT 1")
            cur.fetchall()
            times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1e3, times[int(len(times) * 0.99) - 1] * 1e3


def ingest(connect, table, data):
    with connect() as conn:
        cur = conn.cursor()
        start = time.perf_counter()
        # 64k-row batches: one 1M-row batch exceeds gRPC's 16 MiB message limit.
        cur.adbc_ingest(table, pa.RecordBatchReader.from_batches(
            data.schema, data.to_batches(max_chunksize=65536)), mode="replace")
        conn.commit()
        return data.num_rows / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    data = pa.table({"ts": pa.array(range(args.rows), pa.int64()),
                     "host": pa.array([f"h{i % 100}" for i in range(args.rows)]),
                     "value": pa.array([i * 0.5 for i in range(args.rows)], pa.float64())})
    pg = PostgresServer().start()
    os.environ.update(HYPRSTREAM_ENGINE_USERNAME="postgres", HYPRSTREAM_ENGINE_PASSWORD="secret")
    log = open(tempfile.mktemp(suffix=".log"), "wb")
    proc, uri = start_server(
        log, "--engine", "adbc", "--engine-connection",
        f"postgresql://127.0.0.1:{pg.port}/metrics?pool_max=4&pool_min=1&connect_timeout=30",
        "--engine-options", f"driver_path={PG_DRIVER}")
    try:
        direct = lambda: adbc_driver_postgresql.dbapi.connect(pg.uri)  # noqa: E731
        front = lambda: adbc_driver_flightsql.dbapi.connect(uri)  # noqa: E731
        proc2, duck_uri = start_server(log)
        duck = lambda: adbc_driver_flightsql.dbapi.connect(duck_uri)  # noqa: E731
        p50, p99 = latency(duck, args.queries)
        print(f"SELECT 1 latency, {'hyprstream duckdb':20s}: p50 {p50:.3f} ms  p99 {p99:.3f} ms")
        proc2.terminate()
        for label, connect in [("direct PostgreSQL", direct), ("through hyprstream", front)]:
            p50, p99 = latency(connect, args.queries)
            print(f"SELECT 1 latency, {label:20s}: p50 {p50:.3f} ms  p99 {p99:.3f} ms")
        for label, connect in [("direct PostgreSQL", direct), ("through hyprstream", front)]:
            rate = ingest(connect, "bench_ingest", data)
            print(f"adbc_ingest {args.rows} rows, {label:20s}: {rate:,.0f} rows/s")
    finally:
        proc.terminate()
        proc.wait()
        pg.destroy()


if __name__ == "__main__":
    main()
