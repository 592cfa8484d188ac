"""Foundation benchmark: hyprstream over Flight SQL versus DuckDB in-process, same data, one run.

Prints:
  * small-query round trip p50/p99 over the ADBC Flight SQL driver (fresh statement each time,
    and a re-executed prepared statement),
  * rows/s of a 3-column SELECT streamed to the client vs DuckDB producing the same Arrow data
    in-process (the ceiling),
  * rows/s of adbc_ingest of narrow rows vs DuckDB appending the same Arrow table in-process.

Usage: .venv/bin/python bench/foundation_bench.py [--rows 10000000] [--quick] [--json out.json]
Targets (issue 2): stream >= 0.7x and ingest >= 0.7x of in-process; small-query p50 <= 1 ms.
"""
import argparse
import json
import os
import pathlib
import statistics
import tempfile
import time

import adbc_driver_flightsql.dbapi
import duckdb
import pyarrow as pa

from bench_server import start_server
from bench_util import best_of, ms, percentile
from systems import chunked_reader


def small_query_latency(uri, n):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        for _ in range(50):  # warm up
            cur.execute("SELECT 1")
            cur.fetchall()
        fresh = []
        for i in range(n):
            sql = f"SELECT {i} AS v"  # new text: prepare + GetFlightInfo + DoGet + close
            t = time.perf_counter()
            cur.execute(sql)
            cur.fetchall()
            fresh.append(time.perf_counter() - t)
        reused = []
        for i in range(n):
            t = time.perf_counter()  # same text: the driver re-executes its prepared statement
            cur.execute("SELECT ? AS v", parameters=(i,))
            cur.fetchall()
            reused.append(time.perf_counter() - t)
    return {"fresh_p50_ms": ms(statistics.median(fresh)), "fresh_p99_ms": ms(percentile(fresh, 99)),
            "prepared_p50_ms": ms(statistics.median(reused)),
            "prepared_p99_ms": ms(percentile(reused, 99))}


def make_table(rows):
    return pa.table({
        "id": pa.array(range(rows), pa.int64()),
        "value": pa.array([i * 0.5 for i in range(rows)], pa.float64())
        if rows <= 1_000_000 else pa.compute.multiply(pa.array(range(rows), pa.float64()), 0.5),
        "tag": pa.compute.cast(pa.compute.bit_wise_and(pa.array(range(rows), pa.int64()), 1023),
                               pa.int32()),
    })


def stream_select(uri, rows, repeats):
    setup = f"CREATE TABLE stream_src AS SELECT range AS id, range * 0.5 AS value, " \
            f"(range % 1024)::INTEGER AS tag FROM range({rows})"
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(setup)

        def over_flight():
            cur.execute("SELECT id, value, tag FROM stream_src")
            return sum(b.num_rows for b in cur.fetch_record_batch())

        remote_s, got = best_of(repeats, over_flight)
    assert got == rows, got
    local = duckdb.connect()
    local.execute(setup)

    def in_process():
        reader = local.execute("SELECT id, value, tag FROM stream_src").fetch_record_batch()
        return sum(b.num_rows for b in reader)

    local_s, got = best_of(repeats, in_process)
    assert got == rows
    return {"flight_rows_per_s": round(rows / remote_s), "inprocess_rows_per_s": round(rows / local_s),
            "ratio": round(local_s / remote_s, 3)}


def ingest(uri, data, repeats):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()

        def over_flight():
            # The driver sends each batch as one gRPC message (16 MiB client limit): chunk.
            return cur.adbc_ingest("ingest_dst", chunked_reader(data), mode="replace")

        remote_s, got = best_of(repeats, over_flight)
    assert got == data.num_rows, got
    local = duckdb.connect()
    local.register("data", data)

    def in_process():
        local.execute("CREATE OR REPLACE TABLE ingest_dst AS SELECT * FROM data")
        return local.execute("SELECT count(*) FROM ingest_dst").fetchone()[0]

    local_s, got = best_of(repeats, in_process)
    assert got == data.num_rows
    return {"flight_rows_per_s": round(data.num_rows / remote_s),
            "inprocess_rows_per_s": round(data.num_rows / local_s),
            "ratio": round(local_s / remote_s, 3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="1M rows, fewer repeats")
    parser.add_argument("--latency-samples", type=int, default=2000)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    rows = 1_000_000 if args.quick else args.rows
    repeats = 2 if args.quick else 3

    with tempfile.TemporaryFile() as log:
        proc, uri = start_server(log)
        try:
            results = {"rows": rows, "cpus": os.cpu_count(),
                       "latency": small_query_latency(uri, 300 if args.quick else args.latency_samples),
                       "stream_select": stream_select(uri, rows, repeats),
                       "ingest": ingest(uri, make_table(rows), repeats)}
        finally:
            proc.terminate()
            proc.wait()

    lat, sel, ing = results["latency"], results["stream_select"], results["ingest"]
    print(f"small query (ADBC, fresh statement)   p50 {lat['fresh_p50_ms']} ms   p99 {lat['fresh_p99_ms']} ms")
    print(f"small query (ADBC, prepared re-exec)  p50 {lat['prepared_p50_ms']} ms   p99 {lat['prepared_p99_ms']} ms")
    print(f"SELECT {rows:,} rows x 3 cols       flight {sel['flight_rows_per_s']:,} rows/s   "
          f"in-process {sel['inprocess_rows_per_s']:,} rows/s   ratio {sel['ratio']}")
    print(f"adbc_ingest {rows:,} rows x 3 cols  flight {ing['flight_rows_per_s']:,} rows/s   "
          f"in-process {ing['inprocess_rows_per_s']:,} rows/s   ratio {ing['ratio']}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
