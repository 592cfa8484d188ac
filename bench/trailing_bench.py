"""Trailing "last N minutes as of now" queries: a plain SQL GROUP BY with
`WHERE ts > now() - INTERVAL '5 minutes'` answered from a definition's trailing buffer, versus
the same query computed by DuckDB over the stored rows (`AND true` keeps the rewriter away),
over ADBC. Rows: --rows spread evenly over the last 20 minutes, --keys keys, inserted in time
order; the definition keeps tumbling 5m and trailing 10m windows.

Usage: .venv/bin/python bench/trailing_bench.py [--rows 4000000] [--keys 100000] [--repeat 7]
"""
import argparse
import pathlib
import sys

import adbc_driver_flightsql.dbapi

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_server import start_server, stop  # noqa: E402
from bench_util import median, ms, percentile, timed  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    with open("/tmp/hyprstream-trailing-bench.log", "w") as log:
        proc, uri = start_server(log)
        try:
            with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
                cur = conn.cursor()
                cur.execute("CREATE TABLE ev (k VARCHAR, ts TIMESTAMP, v DOUBLE)")
                cur.execute("""SELECT * FROM hyprstream_create_window('evw', 'ev', keys := 'k',
                               time_column := 'ts', value_columns := 'v',
                               windows := '5m, trailing 10m',
                               aggregates := 'count(*), sum, avg, min, max')""")
                cur.fetchall()
                step_us = 20 * 60 * 1_000_000 // args.rows
                cur.execute(f"""INSERT INTO ev SELECT 'key-' || (i % {args.keys}),
                               now()::TIMESTAMP - INTERVAL 20 MINUTE + INTERVAL (i * {step_us})
                               MICROSECOND, (i % 997) * 0.5 FROM range({args.rows}) r(i)""")
                cur.execute("SELECT open_bytes FROM hyprstream_windows() WHERE name = 'evw'")
                open_bytes = cur.fetchone()[0]
                queries = {
                    "all keys": "SELECT k, count(*), sum(v), avg(v), min(v), max(v) FROM ev "
                                "WHERE ts > now() - INTERVAL '5 minutes' GROUP BY k",
                    "top 10": "SELECT k, count(*), avg(v) AS a FROM ev WHERE ts > now() - "
                              "INTERVAL '5 minutes' GROUP BY k ORDER BY a DESC LIMIT 10",
                }
                print(f"{args.rows} rows over 20 minutes, {args.keys} keys; definition state "
                      f"{open_bytes / 1e6:.1f} MB")
                for name, sql in queries.items():
                    state = timed(cur, sql, args.repeat)
                    duckdb = timed(cur, sql.replace("GROUP BY", "AND true GROUP BY"), args.repeat)
                    print(f"{name:9}: from the trailing buffer p50 {ms(median(state)):8.1f} ms "
                          f"p99 {ms(percentile(state, 99)):8.1f} ms | DuckDB GROUP BY p50 "
                          f"{ms(median(duckdb)):8.1f} ms | {median(duckdb) / median(state):.1f}x")
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
