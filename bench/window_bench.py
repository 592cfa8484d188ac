"""Window benchmark, end to end over Flight SQL, in one run on the same generated data.

Prints: ingest rows/s into `metrics` with the running columns and the four default windows
(5m/30m/1h/1d) live, versus the same ingest into a plain table on a server without windows;
DuckDB computing the same four window aggregates with GROUP BY over the stored rows; latency
of the current 5m window for all keys, for 1,000 keys and for one key (ADBC round trips);
memory per open key-window.

Usage: .venv/bin/python bench/window_bench.py [--rows 10000000] [--keys 100000] [--quick]
       .venv/bin/python bench/window_bench.py --reads [--rows ...] [--keys ...] [--postgres]
Targets (issue 7): windows cost <= 25% of ingest throughput; all-keys current window
<= 10 ms; 1,000 keys p50 <= 200 us server-side; one key <= 1 ms round trip.

--reads measures only the reads (one server, one ingest): the current 5m window for all keys,
1,000 keys and one key, the same all-keys rows from a plain table, and a prepared point query
(SELECT ... WHERE id = ?; with --postgres also against PostgreSQL through its ADBC driver).
For each: client p50/p99 over ADBC, and from the server's /metrics the Flight RPCs per
execution and the server time per execution (sum of the RPC durations it measured). Also the
same all-keys read forced through DuckDB's executor, the same reads from pyarrow.flight, and
the floor of a 2-RPC ADBC call (GetTableTypes) on this machine.
"""
import argparse
import os
import pathlib
import re
import sys
import statistics
import tempfile
import time
import urllib.request

import adbc_driver_flightsql.dbapi
import pyarrow.flight as flight

from bench_data import metric_rows as generate
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "integration"))
import flightsql_wire  # noqa: E402

from bench_server import free_port, postgres_server, start_server
from bench_util import ms, percentile, timed
from systems import chunked_reader


def ingest(uri, table_name, data):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        start_t = time.perf_counter()
        n = cur.adbc_ingest(table_name, chunked_reader(data), mode="append")
        return n, time.perf_counter() - start_t


def rpc_totals(http_uri):
    """{rpc: (count, seconds)} from the server's /metrics RPC duration histogram."""
    text = urllib.request.urlopen(http_uri + "/metrics", timeout=10).read().decode()
    out = {}
    for m in re.finditer(r'^hyprstream_rpc_duration_seconds_(sum|count)\{rpc="([^"]+)"\} (\S+)$',
                         text, re.M):
        kind, rpc, value = m.group(1), m.group(2), float(m.group(3))
        count, seconds = out.get(rpc, (0, 0.0))
        out[rpc] = (count + value, seconds) if kind == "count" else (count, seconds + value)
    return out


def measured(run, n, http_uri=None):
    """Runs run() n times (after 3 untimed warm-ups); client latencies and, with http_uri, the
    server's RPCs and RPC time per run (the /metrics scrapes are outside the timed runs)."""
    for _ in range(3):
        run()
    before = rpc_totals(http_uri) if http_uri else None
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        run()
        samples.append(time.perf_counter() - t)
    out = {"p50_ms": ms(statistics.median(samples)), "p99_ms": ms(percentile(samples, 99))}
    if http_uri:
        after = rpc_totals(http_uri)
        per_rpc = {}
        for rpc, (count, seconds) in after.items():
            c0, s0 = before.get(rpc, (0, 0.0))
            if count - c0 > 0:
                per_rpc[rpc] = (round((count - c0) / n, 2), ms((seconds - s0) / n))
        out["rpcs"] = per_rpc
        out["server_ms"] = round(sum(v[1] for v in per_rpc.values()), 3)
    return out


def fmt(label, r):
    line = f"{label:<44} p50 {r['p50_ms']:8.3f} ms   p99 {r['p99_ms']:8.3f} ms"
    if "server_ms" in r:
        rpcs = ", ".join(f"{k} {c:g}x {t:.3f} ms" for k, (c, t) in sorted(r["rpcs"].items()))
        line += f"   server {r['server_ms']:.3f} ms ({rpcs})"
    return line


def reads(args, rows, keys):
    """--reads: window and point-query read latency, client and server side."""
    data = generate(rows, keys, args.event_rate)
    http_port = free_port()
    http_uri = f"http://127.0.0.1:{http_port}"
    results = {}
    with tempfile.TemporaryFile() as log:
        server, uri = start_server(log, f"--http-port={http_port}")
        try:
            n, _ = ingest(uri, "metrics", data)
            assert n == rows
            del data
            with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
                cur = conn.cursor()

                def query(sql, params=None, expect=None):
                    if expect == "same":  # as many rows as a first run returns
                        cur.execute(sql)
                        expect = cur.fetch_arrow_table().num_rows

                    def run():
                        cur.execute(sql, params) if params is not None else cur.execute(sql)
                        got = cur.fetch_arrow_table()
                        if expect is not None:
                            assert got.num_rows == expect, (sql[:80], got.num_rows, expect)
                    return run

                window_sql = ("SELECT * FROM hyprstream_window('metrics', width := '5m', "
                              "current := 'true'")
                cur.execute(window_sql + ")")
                all_rows = cur.fetch_arrow_table().num_rows
                sample = [f"m{k}" for k in range(0, keys, max(1, keys // 1000))][:1000]
                results["all"] = measured(query(window_sql + ")", expect=all_rows),
                                          args.samples, http_uri)
                # The same rows through DuckDB's executor (a WHERE clause keeps them there):
                # what every window read cost before direct reads.
                results["all_duckdb"] = measured(query(window_sql + ") WHERE true",
                                                       expect=all_rows), args.samples, http_uri)
                results["1000"] = measured(
                    query(window_sql + f", key := '{','.join(sample)}')", expect="same"),
                    args.samples * 3, http_uri)
                results["one"] = measured(query(window_sql + ", key := 'm1')", expect="same"),
                                          args.samples * 10, http_uri)
                # The floor of any 2-RPC ADBC call here: metadata the server has in memory.
                results["floor"] = measured(conn.adbc_get_table_types, args.samples * 10,
                                            http_uri)
                cur.execute(window_sql + ", key := 'm1')")
                results_one_rows = cur.fetch_arrow_table().num_rows
                # The same reads from pyarrow.flight (GetFlightInfo + DoGet, no ADBC driver).
                client = flight.connect(uri)

                def raw(sql, expect):
                    def run():
                        info = client.get_flight_info(flight.FlightDescriptor.for_command(
                            flightsql_wire.statement_query(sql)))
                        got = client.do_get(info.endpoints[0].ticket).read_all()
                        assert got.num_rows == expect
                    return run
                results["all_raw"] = measured(raw(window_sql + ")", all_rows), args.samples,
                                              http_uri)
                results["one_raw"] = measured(raw(window_sql + ", key := 'm1')",
                                                  results_one_rows),
                                              args.samples * 10, http_uri)
                client.close()
                cur.execute("CREATE TABLE window_copy AS " + window_sql + ")")
                results["plain"] = measured(query("SELECT * FROM window_copy", expect=all_rows),
                                            args.samples, http_uri)
                cur.execute("CREATE TABLE points AS SELECT range AS id, range * 0.5 AS value, "
                            "'label ' || range AS label FROM range(100000)")
                cur.execute("ALTER TABLE points ADD PRIMARY KEY (id)")
                keys_iter = iter(range(10**9))
                point_sql = "SELECT id, value, label FROM points WHERE id = ?"

                def point():
                    k = next(keys_iter) * 7919 % 100000
                    cur.execute(point_sql, (k,))
                    got = cur.fetch_arrow_table()
                    assert got.num_rows == 1 and got.column(0)[0].as_py() == k
                results["point"] = measured(point, args.samples * 10, http_uri)
        finally:
            server.terminate()
            server.wait()
    if args.postgres:
        import adbc_driver_postgresql.dbapi
        pg = postgres_server()
        try:
            with adbc_driver_postgresql.dbapi.connect(pg.uri) as conn:
                cur = conn.cursor()
                cur.execute("DROP TABLE IF EXISTS points")
                cur.execute("CREATE TABLE points AS SELECT g AS id, g * 0.5 AS value, "
                            "'label ' || g AS label FROM generate_series(0, 99999) g")
                cur.execute("ALTER TABLE points ADD PRIMARY KEY (id)")
                conn.commit()
                keys_iter = iter(range(10**9))

                def pg_point():
                    k = next(keys_iter) * 7919 % 100000
                    cur.execute("SELECT id, value, label FROM points WHERE id = $1", (k,))
                    got = cur.fetch_arrow_table()
                    assert got.num_rows == 1
                results["pg_point"] = measured(pg_point, args.samples * 10)
        finally:
            pg.destroy()
    print(f"reads: rows {rows:,}, keys {keys:,}, current 5m window rows {all_rows:,}, "
          f"cpus {os.cpu_count()}, samples {args.samples} (x3 for 1,000 keys, x10 one key "
          f"and point)")
    print(fmt("current 5m window, all keys", results["all"]))
    print(fmt("all keys through DuckDB (... WHERE true)", results["all_duckdb"]))
    print(fmt("current 5m window, 1,000 keys", results["1000"]))
    print(fmt("current 5m window, one key", results["one"]))
    print(fmt("ADBC floor: GetTableTypes (no SQL)", results["floor"]))
    print(fmt("all keys, pyarrow.flight (no ADBC driver)", results["all_raw"]))
    print(fmt("one key, pyarrow.flight (no ADBC driver)", results["one_raw"]))
    print(fmt("same all-keys rows from a plain table", results["plain"]))
    print(fmt("point query (prepared, WHERE id = ?)", results["point"]))
    if "pg_point" in results:
        print(fmt("point query, PostgreSQL via ADBC", results["pg_point"]))
        print(f"point query ratio hyprstream/PostgreSQL p50 "
              f"{results['point']['p50_ms'] / results['pg_point']['p50_ms']:.2f}")
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--event-rate", type=int, default=10_000,
                        help="rows per second of event time (how often windows close)")
    parser.add_argument("--quick", action="store_true", help="1M rows, 10k keys")
    parser.add_argument("--reads", action="store_true",
                        help="only the read latencies (window reads, point query)")
    parser.add_argument("--samples", type=int, default=30,
                        help="--reads: timed all-keys reads (more for the small reads)")
    parser.add_argument("--postgres", action="store_true",
                        help="--reads: also the point query against PostgreSQL (ADBC)")
    args = parser.parse_args()
    rows, keys = (1_000_000, 10_000) if args.quick else (args.rows, args.keys)
    if args.reads:
        reads(args, rows, keys)
        return
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
