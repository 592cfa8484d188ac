"""Window benchmark, end to end over Flight SQL, in one run on the same generated data.

Prints: ingest rows/s into `metrics` with the running columns and the four default windows
(5m/30m/1h/1d) live, versus the same ingest into a plain table on a server without windows;
DuckDB computing the same four window aggregates with GROUP BY over the stored rows; latency
of the current 5m window for all keys, for 1,000 keys and for one key (ADBC round trips);
memory per open key-window.

Usage: .venv/bin/python bench/window_bench.py [--rows 10000000] [--keys 100000] [--quick]
Targets (issue 7): windows cost <= 25% of ingest throughput; all-keys current window
<= 10 ms; 1,000 keys p50 <= 200 us server-side; one key <= 1 ms round trip.
"""
import argparse
import os
import statistics
import tempfile
import time

import adbc_driver_flightsql.dbapi

from bench_data import metric_rows as generate
from bench_server import start_server
from bench_util import ms, timed
from systems import chunked_reader


def ingest(uri, table_name, data):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        start_t = time.perf_counter()
        n = cur.adbc_ingest(table_name, chunked_reader(data), mode="append")
        return n, time.perf_counter() - start_t


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--event-rate", type=int, default=10_000,
                        help="rows per second of event time (how often windows close)")
    parser.add_argument("--quick", action="store_true", help="1M rows, 10k keys")
    args = parser.parse_args()
    rows, keys = (1_000_000, 10_000) if args.quick else (args.rows, args.keys)
    data = generate(rows, keys, args.event_rate)

    with tempfile.TemporaryFile() as log:
        plain, plain_uri = start_server(log, "--metrics-table=false")
        try:
            with adbc_driver_flightsql.dbapi.connect(plain_uri, autocommit=True) as conn:
                conn.cursor().execute("CREATE TABLE metrics (metric_id VARCHAR, "
                                      "timestamp TIMESTAMP, value DOUBLE)")
            _, plain_s = ingest(plain_uri, "metrics", data)
            # The same table with the four windows defined on it (no running columns).
            with adbc_driver_flightsql.dbapi.connect(plain_uri, autocommit=True) as conn:
                cur = conn.cursor()
                cur.execute("CREATE TABLE samples (metric_id VARCHAR, timestamp TIMESTAMP, "
                            "value DOUBLE)")
                cur.execute("SELECT * FROM hyprstream_create_window('samples_w', 'samples', "
                            "keys := 'metric_id', time_column := 'timestamp', "
                            "value_columns := 'value', windows := '5m,30m,1h,1d', "
                            "aggregates := 'count,sum,avg,min,max', lateness := '1m')")
                cur.fetchall()
            _, windows_only_s = ingest(plain_uri, "samples", data)
        finally:
            plain.terminate()
            plain.wait()

        windowed, uri = start_server(log)
        try:
            n, windowed_s = ingest(uri, "metrics", data)
            assert n == rows
            with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
                cur = conn.cursor()
                # One GROUP BY per window (DuckDB 1.4.4 hangs on a UNION ALL of these four
                # aggregates with fewer than 4 threads).
                group_by = [0.0, 0.0]
                for width in ("5 MINUTE", "30 MINUTE", "1 HOUR", "1 DAY"):
                    samples = timed(cur, f"""
                        SELECT metric_id, time_bucket(INTERVAL {width}, timestamp) w,
                               count(value), sum(value), avg(value), min(value), max(value)
                        FROM metrics GROUP BY ALL""", 2)
                    group_by = [a + b for a, b in zip(group_by, samples)]
                current_all = timed(cur, "SELECT * FROM hyprstream_window('metrics', "
                                         "width := '5m', current := 'true')", 20)
                sample = [f"m{k}" for k in range(0, keys, max(1, keys // 1000))][:1000]
                key_list = ",".join(sample)
                current_1000 = timed(cur, "SELECT * FROM hyprstream_window('metrics', width := "
                                          f"'5m', current := 'true', key := '{key_list}')", 50)
                one = timed(cur, "SELECT * FROM hyprstream_window('metrics', width := '5m', "
                                 "current := 'true', key := 'm1')", 200)
                cur.execute("SELECT keys, open_bytes FROM hyprstream_windows() "
                            "WHERE name = 'metrics'")
                key_count, open_bytes = cur.fetchone()
                cur.execute("SELECT count(*) FROM hyprstream_window('metrics') WHERE NOT closed")
                open_windows = cur.fetchone()[0]
        finally:
            windowed.terminate()
            windowed.wait()

        # GROUP BY time_bucket answered from the windows needs data without late rows.
        ordered, ordered_uri = start_server(log)
        try:
            ingest(ordered_uri, "metrics", generate(rows, keys, args.event_rate, late=False))
            with adbc_driver_flightsql.dbapi.connect(ordered_uri, autocommit=True) as conn:
                cur = conn.cursor()
                sql_5m = ("SELECT metric_id, time_bucket(INTERVAL '5 minutes', timestamp) AS b, "
                          "count(value), sum(value), avg(value), min(value), max(value) "
                          "FROM metrics GROUP BY ALL")
                answered = timed(cur, sql_5m, 5)  # rewritten to the maintained windows
                computed = timed(cur, sql_5m.replace("FROM metrics", "FROM metrics WHERE true"), 3)
        finally:
            ordered.terminate()
            ordered.wait()

    print(f"rows {rows:,}, keys {keys:,}, event time {rows // args.event_rate:,} s, "
          f"cpus {os.cpu_count()}")
    print(f"ingest without windows (plain table)   {rows / plain_s:,.0f} rows/s")
    print(f"ingest, same table + 4 windows defined  {rows / windows_only_s:,.0f} rows/s   "
          f"windows cost {100 * (1 - plain_s / windows_only_s):.1f}% of throughput")
    print(f"ingest into metrics (running columns stored + 4 windows) {rows / windowed_s:,.0f} "
          f"rows/s   cost {100 * (1 - plain_s / windowed_s):.1f}%")
    print(f"DuckDB GROUP BY for the same 4 windows  best {ms(min(group_by))} ms")
    print(f"GROUP BY time_bucket 5m over metrics: answered from windows p50 "
          f"{ms(statistics.median(answered))} ms, computed by DuckDB best {ms(min(computed))} ms")
    print(f"current 5m window, all keys             p50 {ms(statistics.median(current_all))} ms"
          f"   p99 {ms(max(current_all))} ms")
    print(f"current 5m window, 1,000 keys           p50 {ms(statistics.median(current_1000))} ms")
    print(f"current 5m window, one key              p50 {ms(statistics.median(one))} ms   "
          f"p99 {ms(sorted(one)[int(len(one) * 0.99) - 1])} ms")
    print(f"open state {open_bytes:,} bytes for {key_count:,} keys, {open_windows:,} open "
          f"key-windows: {open_bytes / max(open_windows, 1):.0f} bytes per open key-window")


if __name__ == "__main__":
    main()
