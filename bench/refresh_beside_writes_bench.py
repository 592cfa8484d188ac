"""A writer's calls while the cache refreshes its copy of a large table (the README
configuration: Windowed(Cached(Adbc(PostgreSQL))) over a throw-away PostgreSQL 15, DuckDB cache
in memory). Every --interval the cache's append refresh reads the rows of `metrics` newer than
its copy's newest from PostgreSQL; without an index on `timestamp` that read scans the table.

  load     --rows rows of `metrics` over the last 3 days, --keys keys, through hyprstream,
           then --settle seconds (autovacuum summarises a new BRIN index's ranges within a
           minute or so: 70 to measure that steady state)
  write    for --seconds, one writer sends 1k-row batches of new rows (adbc_ingest, one call
           each): its calls' p50, p99, longest, and how many took over 100 ms
  reads    PostgreSQL's own log (log_min_duration_statement): how long each refresh's read of
           `metrics` took meanwhile, and each read of the windows' history table
  stalls   with --stalls, each call over 100 ms: when it began, how long it took, and the
           PostgreSQL statements over 50 ms that overlapped it
  change   with --statement SQL, another session runs it --statement-at seconds into the
           writes (an UPDATE the cache and the windows cannot follow: the copy is reloaded and
           the windows rebuilt from it, beside the writer)

    .venv/bin/python bench/refresh_beside_writes_bench.py [--rows 3000000] [--keys 5000]
        [--interval 5s] [--seconds 30] [--settle 5] [--stalls] [--log PATH]
        [--server-arg=--flag --server-arg=value ...] [--statement SQL [--statement-at 5]]

HYPRSTREAM_BIN overrides build/hyprstream. Client, hyprstream and PostgreSQL share the CPUs.
"""
import argparse
import datetime
import os
import re
import sys
import tempfile
import threading
import time

import adbc_driver_flightsql.dbapi
import pyarrow as pa

from bench_data import metric_rows, recent_start_us, rows_over_days
from bench_server import BINARY, postgres_server, stop
from bench_util import median, percentile
from window_rebuild_bench import start

# PostgreSQL's log lines as configured below: "2026-12-07 16:39:13.553 UTC LOG:  duration: ..."
SLOW = re.compile(r"^(\S+ \S+) UTC LOG:  duration: ([\d.]+) ms  (?:statement|execute [^:]*): (.*)$")


def slow_statements(pg, since):
    """(end as a UTC datetime, ms, SQL) of PostgreSQL's statements logged after `since`."""
    out = []
    for line in pg.log().splitlines():
        m = SLOW.match(line)
        if not m:
            continue
        end = datetime.datetime.fromisoformat(m.group(1)).replace(tzinfo=datetime.timezone.utc)
        if end > since:
            out.append((end, float(m.group(2)), m.group(3)))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--keys", type=int, default=5_000)
    parser.add_argument("--interval", default="5s", help="--cache-refresh-interval")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--settle", type=float, default=5,
                        help="seconds between the load and the writer")
    parser.add_argument("--stalls", action="store_true")
    parser.add_argument("--log", help="keep hyprstream's log at this path")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="another argument for hyprstream (repeatable)")
    parser.add_argument("--statement", help="SQL another session runs during the writes")
    parser.add_argument("--statement-at", type=float, default=5,
                        help="seconds into the writes when --statement runs")
    args = parser.parse_args()
    pg = postgres_server()
    for setting in ("log_min_duration_statement = 50", "log_line_prefix = '%m '"):
        pg.psql(f"ALTER SYSTEM SET {setting}", database="postgres")
    pg.psql("SELECT pg_reload_conf()", database="postgres")
    with tempfile.TemporaryDirectory() as tmp:
        log = open(args.log or os.path.join(tmp, "hyprstream.log"), "a")
        try:
            proc, uri, _ = start(pg, log, "--cache-refresh-interval", args.interval,
                                   *args.server_arg)
            data = rows_over_days(args.rows, args.keys, 3, time.time_ns() // 1000)
            with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
                conn.cursor().adbc_ingest("metrics", pa.RecordBatchReader.from_batches(
                    data.schema, data.to_batches(max_chunksize=65536)), mode="append")
            time.sleep(args.settle)  # the windows' history written, the copy refreshed
            began = datetime.datetime.now(datetime.timezone.utc)
            calls = []  # (began, seconds)
            ran = []  # (began, seconds) of --statement

            def change():
                time.sleep(args.statement_at)
                with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as other:
                    at = datetime.datetime.now(datetime.timezone.utc)
                    t = time.monotonic()
                    other.cursor().execute(args.statement)
                    ran.append((at, time.monotonic() - t))

            changer = threading.Thread(target=change) if args.statement else None
            if changer:
                changer.start()
            with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
                cur = conn.cursor()
                t0 = time.monotonic()
                n = 0
                while time.monotonic() - t0 < args.seconds:
                    batch = metric_rows(1000, args.keys, first_row=n * 1000,
                                        start_us=recent_start_us(1000, time.time_ns() // 1000))
                    n += 1
                    at = datetime.datetime.now(datetime.timezone.utc)
                    t = time.monotonic()
                    cur.adbc_ingest("metrics", batch, mode="append")
                    calls.append((at, time.monotonic() - t))
                cur.close()
            if changer:
                changer.join()
            stop(proc)
        finally:
            log.close()
            statements = slow_statements(pg, began)
            pg.destroy()
    took = [s for _, s in calls]
    print(f"{BINARY}: {args.rows:,} rows, refresh every {args.interval}, settled "
          f"{args.settle:.0f} s, {len(took)} calls in "
          f"{args.seconds:.0f} s: p50 {1000 * median(took):.1f} ms, p99 "
          f"{1000 * percentile(took, 99):.1f} ms, longest {1000 * max(took):.1f} ms, "
          f"{sum(1 for s in took if s > 0.1)} over 100 ms")
    for at, seconds in ran:
        print(f"  {at.time()} --statement ran in {1000 * seconds:.0f} ms")
    for what, pattern in (("metrics", 'FROM "metrics" WHERE'),
                          ("history", '_history" WHERE')):
        reads = [ms for _, ms, sql in statements if "TO STDOUT" in sql and pattern in sql]
        print(f"  refresh reads of {what}: {len(reads)}, ms: "
              f"{', '.join(f'{ms:.0f}' for ms in reads) or '-'}")
    if args.stalls:
        for at, seconds in calls:
            if seconds <= 0.1:
                continue
            end = at + datetime.timedelta(seconds=seconds)
            overlapping = [f"{ms:.0f} ms {sql[:70]}" for stmt_end, ms, sql in statements
                           if stmt_end > at and
                           stmt_end - datetime.timedelta(milliseconds=ms) < end]
            print(f"  {at.time()} {1000 * seconds:.0f} ms; PostgreSQL meanwhile: "
                  f"{'; '.join(overlapping) or '-'}")


if __name__ == "__main__":
    sys.exit(main())
