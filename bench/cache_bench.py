"""The DuckDB read cache in front of PostgreSQL (issue 4's targets), against a real PostgreSQL 15
started in a temp dir:

  * the same analytical query over an N-row table (default 10M): directly on PostgreSQL through
    the ADBC PostgreSQL driver, through hyprstream on a cache hit (target >= 20x faster), and
    through hyprstream on a miss (the client asks for fresh data; target <= 10% overhead);
  * bulk ingest rows/s through hyprstream into PostgreSQL (write-through, cache on) versus ADBC
    bulk ingest straight into PostgreSQL (target >= 0.9x).

    .venv/bin/python bench/cache_bench.py [--rows 10000000] [--repeat 5]
"""
import argparse
import statistics
import sys
import time

import adbc_driver_flightsql.dbapi
import adbc_driver_postgresql.dbapi
import numpy as np
import pyarrow as pa

from bench_server import ROOT, start_hyprstream_over_postgres

sys.path.insert(0, str(ROOT / "tests" / "integration"))
from postgres_server import PostgresServer  # noqa: E402

QUERY = ("SELECT metric_id, count(*) AS samples, avg(value) AS mean, max(value) AS peak "
         "FROM {table} GROUP BY metric_id ORDER BY metric_id")


def metric_rows(n, seed=7):
    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-01-01T00:00:00", "us")
    return pa.table({
        "metric_id": pa.array(rng.integers(0, 1000, n).astype("int64")),
        "timestamp": pa.array(start + np.arange(n).astype("timedelta64[ms]")),
        "value": pa.array(rng.random(n)),
    })


def batches(table):
    """The same 64k-row batches for both paths (gRPC refuses messages over 16 MiB)."""
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=65536))


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = metric_rows(args.rows)
    pg = PostgresServer().start()
    log = open(ROOT / "bench" / "cache_bench.log", "w")
    proc = None
    try:
        # Ingest: straight into PostgreSQL, then through hyprstream (write-through + cache).
        with adbc_driver_postgresql.dbapi.connect(pg.uri) as conn:
            t0 = time.perf_counter()
            conn.cursor().adbc_ingest("direct_rows", batches(data), mode="create")
            conn.commit()
            direct_ingest = args.rows / (time.perf_counter() - t0)
        proc, uri = start_hyprstream_over_postgres(log, pg, "--cache-result-ttl", "60s")
        with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
            t0 = time.perf_counter()
            conn.cursor().adbc_ingest("cached_rows", batches(data), mode="create")
            through_ingest = args.rows / (time.perf_counter() - t0)
        with adbc_driver_postgresql.dbapi.connect(pg.uri) as conn:
            cur = conn.cursor()
            cur.execute("ANALYZE cached_rows")
            cur.execute("SELECT count(*) FROM cached_rows")
            assert cur.fetchone()[0] == args.rows, "write-through lost rows"

        # One long-lived connection per path, as an application would hold.
        pg_conn = adbc_driver_postgresql.dbapi.connect(pg.uri)
        hit_conn = adbc_driver_flightsql.dbapi.connect(uri, autocommit=True)
        fresh_conn = adbc_driver_flightsql.dbapi.connect(
            uri, autocommit=True,
            db_kwargs={"adbc.flight.sql.rpc.call_header.x-hyprstream-max-staleness": "0"})

        runs = iter(range(1_000_000))

        def run(conn, vary=False):
            # vary: a different comment each time, so the result cache cannot answer and the
            # mirror computes it (what a first or post-write query costs).
            cur = conn.cursor()
            cur.execute(QUERY.format(table="cached_rows") + (f" /* {next(runs)} */" if vary else ""))
            table = cur.fetch_arrow_table()
            cur.close()
            return table

        direct = lambda: run(pg_conn)  # noqa: E731
        direct_s, expected = timed(direct, args.repeat)
        mirror_s, mirrored = timed(lambda: run(hit_conn, vary=True), args.repeat)
        hit_s, hit = timed(lambda: run(hit_conn), args.repeat)
        miss_s, miss = timed(lambda: run(fresh_conn), args.repeat)
        for conn in (pg_conn, hit_conn, fresh_conn):
            conn.close()
        for name, table in (("hit", hit), ("mirror", mirrored), ("miss", miss)):
            assert table.num_rows == expected.num_rows == 1000, name
            assert table.column("samples").to_pylist() == expected.column("samples").to_pylist(), name
            got, want = table.column("mean").to_pylist(), expected.column("mean").to_pylist()
            assert all(abs(float(a) - float(b)) < 1e-9 for a, b in zip(got, want)), name
        with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
            cur = conn.cursor()
            cur.execute("SELECT name, value FROM hyprstream_cache_stats()")
            stats = dict(cur.fetchall())
        print(f"rows: {args.rows:,}  (PostgreSQL 15 on loopback, median of {args.repeat})")
        print(f"analytical query direct on PostgreSQL : {direct_s * 1e3:9.1f} ms")
        print(f"through hyprstream, result-cache hit  : {hit_s * 1e3:9.1f} ms  "
              f"({direct_s / hit_s:.1f}x faster; target >= 20x)")
        print(f"through hyprstream, mirror computes   : {mirror_s * 1e3:9.1f} ms  "
              f"({direct_s / mirror_s:.1f}x faster)")
        print(f"through hyprstream, miss (fresh)      : {miss_s * 1e3:9.1f} ms  "
              f"({(miss_s / direct_s - 1) * 100:+.1f}% vs direct; target <= +10%)")
        print(f"bulk ingest direct into PostgreSQL     : {direct_ingest / 1e6:9.2f} M rows/s")
        print(f"bulk ingest through hyprstream (w-t)   : {through_ingest / 1e6:9.2f} M rows/s  "
              f"({through_ingest / direct_ingest:.2f}x; target >= 0.9x)")
        print(f"cache: {stats['queries_answered_from_results']} from kept results, "
              f"{stats['queries_answered_from_cache']} computed from mirrors, "
              f"{stats['queries_answered_by_backend'] + stats['queries_bypassing_cache']} by PostgreSQL")
    finally:
        if proc:
            proc.terminate()
            proc.wait()
        pg.destroy()


if __name__ == "__main__":
    main()
