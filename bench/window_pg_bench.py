"""Windows over PostgreSQL (issue 13's bench): hyprstream in the README's configuration,
Windowed(Cached(Adbc(PostgreSQL))) — `--engine adbc` over a throw-away PostgreSQL 15 with
`--enable-cache` (DuckDB in memory) — against the same stack without windows and against
PostgreSQL answering the same questions itself.

  ingest  rows/s into `metrics` (running columns computed by hyprstream, windows 5m/30m/1h/1d)
          versus the stack started with --metrics-table=false ingesting into a plain
          `metrics` table: one holding the rows as sent (3 columns; what a user compares) and
          one holding the rows as stored (6 columns, the client sending running columns; the
          windows' work alone). Streaming: one DoPut, 1k-row batches, 8 ahead of their acks,
          rows/s from the first send to the last ack (an ack means PostgreSQL committed the
          batch). Bulk: adbc_ingest, 64k-row batches. Each run: a fresh hyprstream over
          emptied tables; the cases interleaved; median of --repeat runs. Target: windows
          cost <= 25% of the rows/s.
  reads   over --rows rows and --keys keys with timestamps up to now: the current 5m window
          for every key (hyprstream_window) versus PostgreSQL computing it (date_bin GROUP BY
          over the newest bucket, with an index on timestamp), and the README query
          (AVG(value_running_window_avg) over the last hour) through the stack — from kept
          results, and computed by the cache's DuckDB (a comment varied per run; as a
          diagnosis also with NOW() cast to TIMESTAMP) — versus verbatim on PostgreSQL.
          p50/p99 over ADBC (adbc_driver_flightsql / adbc_driver_postgresql). Target: >= 20x
          PostgreSQL.
  churn   (--churn) hyprstream's RSS while ever-new metric_ids stream in by DoPut:
          --churn-distinct keys, --churn-active sending at a time, each for a day of event time.

    .venv/bin/python bench/window_pg_bench.py [--quick] [--parts ingest,reads,churn]
        [--repeat 5] [--stream-batch 1000] [--json FILE]

Full sizes take about 10 minutes (churn 3 more) on 2 cores; --quick (1M rows, 10k keys,
2 repeats, 100k churning keys) about one.

HYPRSTREAM_BIN overrides build/hyprstream. Client, hyprstream and PostgreSQL share the
machine's CPUs; the CPU each used per run is printed beside the figures.
"""
import argparse
import json
import os
import pathlib
import sys
import tempfile
import threading
import time

import adbc_driver_flightsql.dbapi
import adbc_driver_postgresql.dbapi
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bench_data import last_bucket_start_us, metric_rows, recent_start_us
from bench_server import postgres_server, start_hyprstream_over_postgres, stop
from bench_util import median, ms, percentile, process_cpu_seconds, resident_mb
from systems import DoPutStream, chunked_reader

WINDOW_READ = "SELECT * FROM hyprstream_window('metrics', width := '5m', current := 'true')"
README_QUERY = ("SELECT metric_id, COUNT(*) AS samples, AVG(value_running_window_avg) AS avg_value "
                "FROM metrics WHERE timestamp >= NOW() - INTERVAL '1 hour' GROUP BY metric_id "
                "ORDER BY avg_value DESC")
# PostgreSQL's current 5m window: the newest bucket, binned as hyprstream's windows are.
PG_WINDOW = ("SELECT metric_id, date_bin('5 minutes', \"timestamp\", TIMESTAMP '2000-01-01') "
             "AS window_start, count(value), sum(value), avg(value), min(value), max(value) "
             "FROM metrics WHERE \"timestamp\" >= {bucket} GROUP BY 1, 2")
RUNNING = ["value_running_window_sum", "value_running_window_avg", "value_running_window_count"]
SIZES = {  # rows, keys, streamed rows, repeats, samples of fast reads, samples of slow reads
    "full": dict(rows=10_000_000, keys=100_000, stream_rows=2_000_000, repeat=5,
                 fast_samples=50, slow_samples=10),
    "quick": dict(rows=1_000_000, keys=10_000, stream_rows=200_000, repeat=2,
                  fast_samples=20, slow_samples=5),
}


def note(*parts):
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, file=sys.stderr, flush=True)


def pg_timestamp(epoch_us):
    return f"(TIMESTAMP 'epoch' + {epoch_us} * INTERVAL '1 microsecond')"


class Stack:
    """One PostgreSQL for the whole run; hyprstream started afresh over it per measurement."""

    def __init__(self, log):
        self.pg = postgres_server()
        self.log = log
        self.proc = self.uri = None
        self.pg_pid = int((self.pg.data / "postmaster.pid").read_text().split()[0])

    def pg_connect(self):
        return adbc_driver_postgresql.dbapi.connect(self.pg.uri, autocommit=True)

    def pg_execute(self, *sql):
        with self.pg_connect() as conn:
            cur = conn.cursor()
            for s in sql:
                cur.execute(s)

    def pg_count(self, table="metrics"):
        with self.pg_connect() as conn:
            cur = conn.cursor()
            cur.execute(f"SELECT count(*) FROM {table}")
            return cur.fetchone()[0]

    def start(self, *args, cache=True):
        """hyprstream over emptied tables: metrics and hyprstream's own schema dropped first."""
        self.stop()
        self.pg_execute("DROP TABLE IF EXISTS metrics", "DROP SCHEMA IF EXISTS _hyprstream CASCADE",
                        "CHECKPOINT")
        self.proc, self.uri = start_hyprstream_over_postgres(self.log, self.pg, *args, cache=cache)
        return self

    def connect(self):
        return adbc_driver_flightsql.dbapi.connect(self.uri, autocommit=True)

    def cpu(self):
        """(hyprstream, PostgreSQL) CPU seconds so far."""
        return (process_cpu_seconds(self.proc.pid),
                process_cpu_seconds(self.pg_pid, children=True))

    def stop(self):
        if self.proc:
            stop(self.proc)
            self.proc = None

    def destroy(self):
        self.stop()
        self.pg.destroy()


# --- ingest ---------------------------------------------------------------------------------
# name: (server options, label). Without windows the first ingest creates the table, as a
# user's would: that also makes the cache mirror it (a table that already existed in
# PostgreSQL would be loaded into the cache in the background and not written through
# meanwhile), so every case writes each row to PostgreSQL and to the DuckDB cache.
INGEST_CASES = {
    "windows": ((), "metrics with windows (3 columns sent, 6 stored)"),
    "plain3": (("--metrics-table=false",),
               "no windows, plain table of the rows sent (3 columns)"),
    "plain6": (("--metrics-table=false",),
               "no windows, plain table of the rows stored (6 columns)"),
}


def with_running_columns(data):
    """The 6-column rows the plain6 case sends: running columns as a client would send them."""
    out = data
    for name in RUNNING[:2]:
        out = out.append_column(name, data["value"])
    return out.append_column(RUNNING[2], pa.array(np.ones(data.num_rows, np.int64)))


def ingest_run(stack, case, mode, data, stream_batch):
    args, _ = INGEST_CASES[case]
    stack.start(*args)
    rows = data.num_rows
    if case == "plain6":
        data = with_running_columns(data)
    try:
        cpu0 = stack.cpu()
        if mode == "stream":
            stream = DoPutStream(stack.uri, "metrics", data.schema)
            start = time.perf_counter()
            for batch in data.to_batches(max_chunksize=stream_batch):
                stream.send(batch)
            stream.flush()
            seconds = time.perf_counter() - start
            stream.close()
        else:
            with stack.connect() as conn:
                start = time.perf_counter()
                conn.cursor().adbc_ingest("metrics", chunked_reader(data), mode="create_append")
                seconds = time.perf_counter() - start
        cpu1 = stack.cpu()
        stored = stack.pg_count()
        assert stored == rows, (case, mode, stored, rows)
        with stack.connect() as conn:
            cur = conn.cursor()
            # Every row reached the cache too (with windows, so did the closed windows written
            # to their history table).
            cur.execute("SELECT name, value FROM hyprstream_cache_stats()")
            cache = dict(cur.fetchall())
            assert cache["write_through_failures"] == 0 and cache["mirrored_rows"] >= rows, cache
            history_rows = cache["rows_written_through"] - rows
            if case == "windows":
                cur.execute("SELECT rows FROM hyprstream_windows() WHERE name = 'metrics'")
                assert cur.fetchone()[0] == rows, "windows missed rows"
        rss = resident_mb(stack.proc.pid)[1]
    finally:
        stack.stop()
    return {"rows_per_s": rows / seconds, "seconds": seconds,
            "server_cpu_s": cpu1[0] - cpu0[0], "pg_cpu_s": cpu1[1] - cpu0[1], "peak_rss_mb": rss,
            "history_rows": history_rows}


def ingest(stack, sizes, now_us):
    out = {}
    plan = {"stream": metric_rows(sizes["stream_rows"], sizes["keys"], late=True,
                                  start_us=recent_start_us(sizes["stream_rows"], now_us)),
            "bulk": metric_rows(sizes["rows"], sizes["keys"], late=True,
                                start_us=recent_start_us(sizes["rows"], now_us))}
    for mode, data in plan.items():
        runs = {case: [] for case in INGEST_CASES}
        for r in range(sizes["repeat"]):
            # Interleaved, and in a rotated order each repeat, so drift hits every case alike.
            cases = list(INGEST_CASES)
            cases = cases[r % len(cases):] + cases[:r % len(cases)]
            for case in cases:
                got = ingest_run(stack, case, mode, data, sizes["stream_batch"])
                note(f"ingest {mode} {case} {r + 1}/{sizes['repeat']}: "
                     f"{got['rows_per_s']:,.0f} rows/s, hyprstream {got['server_cpu_s']:.2f} s "
                     f"CPU, PostgreSQL {got['pg_cpu_s']:.2f} s CPU")
                runs[case].append(got)
        out[mode] = {case: summarise(v) for case, v in runs.items()}
        out[mode]["rows"] = data.num_rows
    return out


def summarise(runs):
    """Median of each figure over the runs, and every run's rows/s."""
    return {**{k: median([r[k] for r in runs]) for k in runs[0]},
            "runs_rows_per_s": [round(r["rows_per_s"]) for r in runs]}


# --- reads ----------------------------------------------------------------------------------
def timed(run, samples, warmups=2):
    for _ in range(warmups):
        run()
    out = []
    for _ in range(samples):
        t = time.perf_counter()
        run()
        out.append(time.perf_counter() - t)
    return {"p50_ms": ms(median(out)), "p99_ms": ms(percentile(out, 99)), "samples": samples}


def reads(stack, sizes, now_us):
    rows, keys = sizes["rows"], sizes["keys"]
    start_us = recent_start_us(rows, now_us)
    bucket = last_bucket_start_us(rows, start_us=start_us)
    stack.start()
    try:
        note(f"reads: loading {rows:,} rows, {keys:,} keys")
        with stack.connect() as conn:
            conn.cursor().adbc_ingest("metrics", chunked_reader(
                metric_rows(rows, keys, late=False, start_us=start_us)), mode="append")
        # PostgreSQL's best case: an index on timestamp, statistics and the visibility map.
        stack.pg_execute('CREATE INDEX metrics_ts ON metrics ("timestamp")',
                         "VACUUM ANALYZE metrics")
        out = {"rows": rows, "keys": keys}
        pg_conn, conn = stack.pg_connect(), stack.connect()
        pg, cur = pg_conn.cursor(), conn.cursor()

        def query(c, sql):
            c.execute(sql)
            return c.fetch_arrow_table()

        def cache_stats():
            got = query(cur, "SELECT name, value FROM hyprstream_cache_stats()")
            return dict(zip(got["name"].to_pylist(), got["value"].to_pylist()))

        # The same answer every way, checked before timing.
        total = lambda table, column: pc.sum(table[column]).as_py()  # noqa: E731
        window = query(cur, WINDOW_READ)
        pg_window = query(pg, PG_WINDOW.format(bucket=pg_timestamp(bucket)))
        in_bucket = rows - (bucket - start_us) // (1_000_000 // 10_000)  # 10k rows/s
        assert window.num_rows == pg_window.num_rows == keys, (window.num_rows, pg_window.num_rows)
        assert total(window, "value_count") == total(pg_window, "count") == in_bucket
        assert abs(total(window, "value_sum") - total(pg_window, "sum")) < 1e-3 * in_bucket
        cast = README_QUERY.replace("NOW()", "CAST(NOW() AS TIMESTAMP)")
        for answer in (query(cur, README_QUERY), query(pg, README_QUERY), query(cur, cast)):
            assert answer.num_rows == keys and total(answer, "samples") == rows
        out["window_rows_in_bucket"] = in_bucket

        note("reads: window")
        out["window"] = timed(lambda: query(cur, WINDOW_READ), sizes["fast_samples"])
        note("reads: PostgreSQL date_bin GROUP BY")
        out["pg_window"] = timed(lambda: query(pg, PG_WINDOW.format(bucket=pg_timestamp(bucket))),
                                 sizes["slow_samples"])
        before = cache_stats()
        note("reads: README query, kept results")
        out["readme_kept"] = timed(lambda: query(cur, README_QUERY), sizes["fast_samples"])
        varied = iter(range(10**9))
        note("reads: README query, computed by the cache's DuckDB")
        out["readme_computed"] = timed(lambda: query(cur, f"{README_QUERY} /* {next(varied)} */"),
                                       sizes["slow_samples"])
        # Diagnosis, not a headline: the same query with NOW() made a TIMESTAMP like the
        # column (in the cache's DuckDB, TIMESTAMP >= TIMESTAMPTZ converts every row's time
        # zone through ICU; the session time zone is UTC, so the answer is the same).
        note("reads: README query with NOW() cast to TIMESTAMP, computed by the cache's DuckDB")
        out["readme_cast_computed"] = timed(lambda: query(cur, f"{cast} /* {next(varied)} */"),
                                            sizes["slow_samples"])
        after = cache_stats()
        out["cache_stats_delta"] = {k: after[k] - before.get(k, 0) for k in after
                                    if after[k] != before.get(k, 0)}
        note("reads: README query on PostgreSQL")
        out["pg_readme"] = timed(lambda: query(pg, README_QUERY), sizes["slow_samples"])
        conn.close()
        pg_conn.close()
        out["server_rss_mb"] = resident_mb(stack.proc.pid)[0]
    finally:
        stack.stop()
    return out


# --- churn ----------------------------------------------------------------------------------
def churn_batches(distinct, active, rows_per_key, batch, start_us, lifetime_us=86_400_000_000):
    """Ever-new keys, as build/bench/window_bench --churn makes them: row i goes to one of the
    `active` keys [first, first + active), first moving from 0 to distinct - active over the
    stream, so each key sends ~rows_per_key rows over about one lifetime and then never
    again; ~1% of rows up to 90 s late. Yields (batch, rows so far, keys seen so far)."""
    rows = distinct * rows_per_key
    span_us = lifetime_us // active * distinct
    rng = np.random.default_rng(42)
    for begin in range(0, rows, batch):
        i = np.arange(begin, min(begin + batch, rows), dtype=np.int64)
        first = (i / rows * (distinct - active)).astype(np.int64)
        key = first + rng.integers(0, active, i.size)
        t = start_us + (i / rows * span_us).astype(np.int64)
        late = rng.integers(0, 100, i.size) == 0
        t = np.where(late, t - rng.integers(0, 90_000_000, i.size), t)
        yield pa.record_batch({
            "metric_id": pc.binary_join_element_wise("host-", pc.cast(pa.array(key), pa.string()),
                                                     ""),
            "timestamp": pa.array(t, pa.timestamp("us")),
            "value": pa.array(rng.random(i.size) * 100)}), begin + i.size, int(first[-1]) + active


def churn(stack, args, cache=True):
    distinct, active, per_key = args.churn_distinct, args.churn_active, args.churn_rows_per_key
    rows = distinct * per_key
    span_us = 86_400_000_000 // active * distinct
    # Event time ending about now, so a mirror bounded by --cache-max-duration stays small.
    start_us = int(time.time() * 1e6) - span_us
    extra = ("--cache-max-duration", "1h") if cache else ()
    stack.start(*extra, cache=cache)
    samples, stop_sampling = [], threading.Event()

    def sample():
        while not stop_sampling.wait(0.5):
            samples.append(resident_mb(stack.proc.pid)[0])

    sampler = threading.Thread(target=sample, daemon=True)
    out = {"stack": "Windowed(Cached(Adbc(PostgreSQL)))" if cache else "Windowed(Adbc(PostgreSQL))",
           "distinct": distinct, "active": active, "rows": rows, "batch": args.churn_batch,
           "reports": []}
    try:
        batches = churn_batches(distinct, active, per_key, args.churn_batch, start_us)
        first, done, seen = next(batches)
        stream = DoPutStream(stack.uri, "metrics", first.schema)
        report_every, next_report = max(rows // 24, 1), max(rows // 24, 1)
        sampler.start()
        start = time.perf_counter()
        stream.send(first)
        with stack.connect() as conn:
            cur = conn.cursor()
            for batch, done, seen in batches:
                stream.send(batch)
                if done >= next_report or done == rows:
                    next_report += report_every
                    stream.flush()
                    cur.execute("SELECT keys, open_bytes FROM hyprstream_windows() "
                                "WHERE name = 'metrics'")
                    keys, open_bytes = cur.fetchone()
                    rss = resident_mb(stack.proc.pid)[0]
                    out["reports"].append({"rows": done, "distinct": seen, "keys": keys,
                                           "open_mb": open_bytes / 1e6, "rss_mb": rss,
                                           "seconds": time.perf_counter() - start})
                    note(f"churn {100 * done / rows:3.0f}%: {seen:,} keys seen, {keys:,} in "
                         f"memory, open state {open_bytes / 1e6:.1f} MB, RSS {rss:.1f} MB")
            stream.close()
        out["rows_per_s"] = rows / (time.perf_counter() - start)
        out["peak_rss_mb"] = resident_mb(stack.proc.pid)[1]
    finally:
        stop_sampling.set()
        stack.stop()
    out["rss_samples_mb"] = [round(s, 1) for s in samples]
    return out


# --- report ---------------------------------------------------------------------------------
def print_report(res, meta):
    print(f"\nwindows over Cached(Adbc(PostgreSQL)): {meta}")
    if "ingest" in res:
        print(f"\nstreamed batches: {meta['sizes']['stream_batch']:,} rows")
        print("\n| ingest | case | rows/s (median) | windows cost | runs (rows/s) | "
              "hyprstream CPU s | PostgreSQL CPU s | closed windows written |")
        print("|---|---|---|---|---|---|---|---|")
        for mode, cases in res["ingest"].items():
            for case, fig in cases.items():
                if case == "rows":
                    continue
                cost = ""
                if case != "windows":
                    cost = f"{100 * (1 - cases['windows']['rows_per_s'] / fig['rows_per_s']):.1f}%"
                print(f"| {mode} ({cases['rows']:,} rows) | {INGEST_CASES[case][1]} | "
                      f"{fig['rows_per_s']:,.0f} | {cost} | "
                      f"{', '.join(f'{v:,}' for v in fig['runs_rows_per_s'])} | "
                      f"{fig['server_cpu_s']:.2f} | {fig['pg_cpu_s']:.2f} | "
                      f"{fig['history_rows']:,.0f} |")
        print("(windows cost: 1 - rows/s with windows / rows/s of that case; target <= 25%)")
    if "reads" in res:
        r = res["reads"]
        print(f"\n| read ({r['rows']:,} rows, {r['keys']:,} keys) | p50 ms | p99 ms | samples | "
              "PostgreSQL p50 / this |")
        print("|---|---|---|---|---|")
        rows = [("current 5m window, hyprstream_window", "window", "pg_window"),
                ("  PostgreSQL: date_bin GROUP BY, newest bucket", "pg_window", None),
                ("README query, from kept results", "readme_kept", "pg_readme"),
                ("README query, computed by the DuckDB cache", "readme_computed", "pg_readme"),
                ("  PostgreSQL: README query", "pg_readme", None),
                ("(diagnosis) README query, NOW() cast to TIMESTAMP, computed by the DuckDB "
                 "cache", "readme_cast_computed", "pg_readme")]
        for label, key, base in rows:
            fig = r[key]
            ratio = f"{r[base]['p50_ms'] / fig['p50_ms']:.1f}x" if base else ""
            print(f"| {label} | {fig['p50_ms']:,.2f} | {fig['p99_ms']:,.2f} | {fig['samples']} | "
                  f"{ratio} |")
        print(f"(target >= 20x; cache counters over the README runs: {r['cache_stats_delta']})")
    for c in res.get("churn", []):
        print(f"\nchurn through {c['stack']}: {c['distinct']:,} distinct keys, {c['active']:,} "
              f"active, {c['rows']:,} rows in {c['batch']:,}-row DoPut batches, "
              f"{c['rows_per_s']:,.0f} rows/s, peak RSS {c['peak_rss_mb']:.1f} MB")
        print("| rows | keys seen | keys in memory | open state MB | RSS MB |")
        print("|---|---|---|---|---|")
        for p in c["reports"]:
            print(f"| {p['rows']:,} | {p['distinct']:,} | {p['keys']:,} | {p['open_mb']:.1f} | "
                  f"{p['rss_mb']:.1f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1M rows, 10k keys, 2 repeats")
    parser.add_argument("--parts", default="ingest,reads",
                        help="comma list of ingest, reads, churn")
    parser.add_argument("--churn", action="store_true", help="same as adding churn to --parts")
    parser.add_argument("--repeat", type=int)
    parser.add_argument("--rows", type=int)
    parser.add_argument("--keys", type=int)
    parser.add_argument("--stream-rows", type=int)
    parser.add_argument("--stream-batch", type=int, default=1000,
                        help="rows per streamed batch (default 1000)")
    parser.add_argument("--churn-distinct", type=int, default=1_000_000)
    parser.add_argument("--churn-active", type=int, default=10_000)
    parser.add_argument("--churn-rows-per-key", type=int, default=8)
    parser.add_argument("--churn-batch", type=int, default=10_000)
    parser.add_argument("--churn-stacks", default="cached,uncached",
                        help="cached: the README stack with --cache-max-duration 1h; "
                             "uncached: Windowed(Adbc) alone")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()
    sizes = dict(SIZES["quick" if args.quick else "full"])
    sizes["stream_batch"] = args.stream_batch
    for k in ("repeat", "rows", "keys", "stream_rows"):
        if getattr(args, k) is not None:
            sizes[k] = getattr(args, k)
    parts = set(args.parts.split(",")) | ({"churn"} if args.churn else set())
    if args.quick:
        args.churn_distinct = min(args.churn_distinct, 100_000)
        args.churn_active = min(args.churn_active, 1_000)
    meta = {"sizes": sizes, "cpus": os.cpu_count(), "load": os.getloadavg(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    res = {}
    with tempfile.TemporaryFile() as log:
        stack = Stack(log)
        try:
            now_us = int(time.time() * 1e6)
            if "ingest" in parts:
                res["ingest"] = ingest(stack, sizes, now_us)
            if "reads" in parts:
                res["reads"] = reads(stack, sizes, int(time.time() * 1e6))
            if "churn" in parts:
                res["churn"] = [churn(stack, args, cache=s == "cached")
                                for s in args.churn_stacks.split(",")]
        finally:
            stack.destroy()
    meta["load_after"] = os.getloadavg()
    print_report(res, meta)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"meta": meta, "results": res}, indent=1))


if __name__ == "__main__":
    main()
