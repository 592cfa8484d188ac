"""What rebuilding windows from the cache's copy costs (Windowed(Cached(Adbc(PostgreSQL))),
the README configuration over a throw-away PostgreSQL 15, DuckDB cache in memory). Behind the
cache, windows are built from the cache's copy of their table and rebuilt from it whenever
it is loaded whole; writes to the table wait while a rebuild reads the copy.

  start    seconds from launch to serving with --rows rows in `metrics` (the windows are
           built from the copy once the cache has loaded it, in the background), how long a
           stop right after that start takes, and for comparison the same start with the
           metrics table off (--metrics-table=false: nothing to build); then, started again,
           how long after serving both windows are built (they answer from then on)
  rebuild  a retention DELETE that removes nothing makes the cache reload `metrics` and its
           two definitions (metrics, metrics_trailing) rebuild: seconds from the DELETE until
           both logged "rebuilt", and the rows read
  stall    the longest ingest call of a writer sending 1k-row batches during that reload and
           rebuild, beside its median (writes wait while the cache's load begins its read of
           PostgreSQL and while it swaps its copy in, and for the moment a rebuild takes its
           snapshot; the copy and the rebuild's fold run beside them)

With --no-cache, over PostgreSQL without the cache (Windowed(Adbc)): the windows are built at
start, and rebuilt after the DELETE, from a snapshot of PostgreSQL's rows (a REPEATABLE READ
transaction) while writes go on; writes wait only while the snapshot is taken.

With --embedded, on embedded DuckDB (a database file; no cache, no PostgreSQL): a restart's
seconds to serving and until both windows answer (built from a snapshot of the stored rows in
the background), then the same rebuild and stall: the retention DELETE makes both definitions
rebuild from a DuckDB snapshot of the stored rows (writes wait only while it is taken).

With --days D the rows span the last D days instead of the last minutes, and the DELETE is a
real retention, `WHERE timestamp < now() - INTERVAL 'D-1 days'` (the oldest day goes). The
windows follow it without a rebuild (their state in memory holds no row that old; the
DELETE's transaction shares its snapshot with the check of its rows, and writes go on), so
the figures are the DELETE's own time, when both definitions answer again, and the writer's
longest call. Behind the cache its copy follows the DELETE too (no reload; the line says
how many rows it deleted and how long its check took). A definition that follows answers
queries of its state throughout; "answers again" is when its history (the closed windows the
DELETE changed) answers too.

In every mode a reader asks the README query (pyarrow.flight) from the DELETE's start until
both definitions answer again: how many answers came from the windows (the rest from the
engine, over the stored rows), their latency, and when the others came.

    .venv/bin/python bench/window_rebuild_bench.py [--rows 2000000] [--keys 5000] [--embedded]
        [--days 3] [--no-cache]

HYPRSTREAM_BIN overrides build/hyprstream; BENCH_LOG=FILE keeps hyprstream's log there. Client, hyprstream and PostgreSQL share the CPUs.
"""
import argparse
import datetime
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import adbc_driver_flightsql.dbapi
import pyarrow as pa
import pyarrow.flight as flight

from bench_data import metric_rows, recent_start_us, rows_over_days
from bench_server import BINARY, free_port, postgres_server, stop, wait_for_flight
from readme_query_bench import README_QUERY
from bench_util import median, percentile
from systems import chunked_reader

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import flightsql_wire  # noqa: E402


def start(pg, log, *args, cache=True):
    import adbc_driver_postgresql
    import pathlib

    driver = pathlib.Path(adbc_driver_postgresql.__file__).parent / "libadbc_driver_postgresql.so"
    env = dict(os.environ, HYPRSTREAM_ENGINE_USERNAME="postgres",
               HYPRSTREAM_ENGINE_PASSWORD="secret")
    port = free_port()
    began = time.monotonic()
    proc = subprocess.Popen(
        [str(BINARY), "--host", "127.0.0.1", "--port", str(port), "--log-level", "info",
         "--engine", "adbc", "--engine-connection",
         f"postgresql://127.0.0.1:{pg.port}/metrics?pool_max=10&pool_min=1",
         "--engine-options", f"driver_path={driver}",
         *(["--enable-cache", "--cache-engine", "duckdb", "--cache-connection", ":memory:"]
           if cache else []), *args],
        stdout=log, stderr=log, env=env)
    uri = f"grpc://127.0.0.1:{port}"
    wait_for_flight(proc, uri, "hyprstream", timeout=600)
    return proc, uri, time.monotonic() - began


REBUILT = re.compile(r"window '(metrics|metrics_trailing)' built from the "
                     r"(?:stored rows|cached copy) of \S+: (\d+) rows")
# hyprstream's log lines begin with their local time, e.g. 2026-12-07T09:42:06.761.
LINE_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+) ", re.M)


def logged_at(text, position):
    """Epoch seconds of the log line holding `position` in `text`."""
    start = text.rfind("\n", 0, position) + 1
    stamp = LINE_TIME.match(text, start)
    return datetime.datetime.fromisoformat(stamp.group(1)).timestamp()


def measure_rebuild(proc, uri, log, log_path, args):
    """A retention DELETE that removes nothing, beside a writer: when both definitions are
    rebuilt, and the writer's calls during the rebuild (see the module's docstring)."""
    rebuilt = REBUILT
    followed = re.compile(r"window '(\w+)' followed the DELETE")
    calls, during = [], []
    done = threading.Event()
    rebuilding = threading.Event()

    def writer():
        batch = metric_rows(1000, args.keys,
                            start_us=recent_start_us(1000, time.time_ns() // 1000))
        with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
            cur = conn.cursor()
            while not done.is_set():
                began = time.monotonic()
                cur.adbc_ingest("metrics", batch, mode="append")
                took = time.monotonic() - began
                (during if rebuilding.is_set() else calls).append(took)

    answers = []  # (seconds after the DELETE began, seconds it took, where it came from)

    def reader():
        # The README query, as a dashboard asks it, from the DELETE's start until both
        # definitions answer again (pyarrow.flight: the schema's metadata says the source).
        with flight.connect(uri) as client:
            command = flight.FlightDescriptor.for_command(
                flightsql_wire.statement_query(README_QUERY))
            while rebuilding.is_set():
                asked = time.monotonic()
                info = client.get_flight_info(command)
                table = client.do_get(info.endpoints[0].ticket).read_all()
                source = (table.schema.metadata or {}).get(b"hyprstream.source", b"").decode()
                answers.append((asked - began, time.monotonic() - asked, source))

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(2)
    mark = len(open(log_path).read())
    began = time.monotonic()
    began_wall = time.time()
    rebuilding.set()
    asking = threading.Thread(target=reader)
    if not args.no_reader:
        asking.start()
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        conn.cursor().execute(
            f"DELETE FROM metrics WHERE timestamp < now() - INTERVAL '{args.days - 1} days'"
            if args.days else "DELETE FROM metrics WHERE metric_id = 'none'")
    deleted = time.monotonic() - began
    loaded = re.compile(r"cache loaded metrics: (\d+) rows")
    copy_followed = re.compile(r"the cache of metrics followed the DELETE .*\((\d+) rows; "
                               r"checked in ([\d.]+) s\)")
    held = re.compile(r"cache load of metrics held its writes (.*)")
    found, load, held_for, copy = {}, None, None, None
    while len(found) < 2 and time.monotonic() - began < args.wait:
        text = open(log_path).read()[mark:]
        if load is None and loaded.search(text):
            load = time.monotonic() - began
        if held_for is None and held.search(text):
            held_for = held.search(text).group(1)
        if copy is None and copy_followed.search(text):
            match = copy_followed.search(text)
            copy = (logged_at(text, match.start()) - began_wall, match.group(1), match.group(2))
        # (When each logged it: a definition may answer again before the DELETE returns.)
        for match in rebuilt.finditer(text):
            found.setdefault(match.group(1), (logged_at(text, match.start()) - began_wall,
                                              f"rebuilt, {match.group(2)} rows"))
        for match in followed.finditer(text):
            found.setdefault(match.group(1), (logged_at(text, match.start()) - began_wall,
                                              "followed, no rebuild"))
        time.sleep(0.01)
    rebuilding.clear()
    if not args.no_reader:
        asking.join()
    time.sleep(1)
    done.set()
    thread.join()
    stop(proc)
    if load is not None:
        print(f"the cache's reload of metrics done {load:.2f} s after the DELETE")
    if held_for is not None:
        print(f"the reload held the writes {held_for}")
    if copy is not None:
        print(f"the cache's copy followed the DELETE {copy[0]:.2f} s after it began "
              f"({copy[1]} rows deleted; checked in {copy[2]} s)")
    print(f"the DELETE took {deleted:.2f} s")
    for name, (seconds, how) in sorted(found.items()):
        print(f"'{name}' answers again (history included) {seconds:.2f} s after the DELETE "
              f"began ({how})")
    if len(found) < 2:
        print(f"not every definition answered again within {args.wait:.0f} s")
    if answers:
        elsewhere = [a for a in answers if a[2] != "windows"]
        took = [a[1] for a in answers]
        print(f"README query meanwhile: {len(answers)} answers, {len(answers) - len(elsewhere)} "
              f"from the windows; p50 {median(took) * 1e3:.1f} ms, p99 "
              f"{percentile(took, 99) * 1e3:.1f} ms, longest {max(took) * 1e3:.0f} ms"
              + (f"; answered by {sorted({a[2] or 'the engine' for a in elsewhere})} from "
                 f"{elsewhere[0][0]:.2f} s to {elsewhere[-1][0] + elsewhere[-1][1]:.2f} s"
                 if elsewhere else ""))
    print(f"writer: {len(calls)} calls outside, median {median(calls) * 1e3:.1f} ms; "
          f"{len(during)} during, longest {max(during, default=0) * 1e3:.0f} ms, "
          f"median {median(during) * 1e3 if during else 0:.1f} ms")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--keys", type=int, default=5_000)
    parser.add_argument("--wait", type=float, default=600,
                        help="seconds to wait for the rebuilds (a build without them: a few)")
    parser.add_argument("--embedded", action="store_true",
                        help="embedded DuckDB instead of PostgreSQL behind the cache")
    parser.add_argument("--no-cache", action="store_true",
                        help="PostgreSQL without the cache: the windows are built and rebuilt "
                             "from a snapshot of PostgreSQL's rows")
    parser.add_argument("--days", type=int, default=0,
                        help="rows over the last DAYS days, and a retention DELETE of the "
                             "oldest day")
    parser.add_argument("--no-reader", action="store_true",
                        help="no README query during the DELETE (the writer alone)")
    args = parser.parse_args()
    if args.embedded:
        return embedded(args)
    pg = postgres_server()
    with tempfile.TemporaryDirectory() as tmp:
        log_path = os.environ.get("BENCH_LOG") or os.path.join(tmp, "hyprstream.log")
        log = open(log_path, "a")
        try:
            cache = not args.no_cache
            proc, uri, _ = start(pg, log, cache=cache)
            now_us = time.time_ns() // 1000
            if args.days:
                data = rows_over_days(args.rows, args.keys, args.days, now_us)
            else:
                data = metric_rows(args.rows, args.keys,
                                   start_us=recent_start_us(args.rows, now_us))
            with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
                batches = data.to_batches(max_chunksize=65536)
                conn.cursor().adbc_ingest(
                    "metrics", pa.RecordBatchReader.from_batches(data.schema, batches),
                    mode="append")
            stop(proc)
            proc, uri, seconds = start(pg, log, cache=cache)
            print(f"start with {args.rows} rows of metrics: {seconds:.2f} s to serving")
            began = time.monotonic()
            stop(proc)
            print(f"stop just after that start: {time.monotonic() - began:.2f} s")
            proc, _, plain = start(pg, log, "--metrics-table=false", cache=cache)
            print(f"start with the metrics table off: {plain:.2f} s")
            stop(proc)

            rebuilt = REBUILT
            log.flush()
            mark = len(open(log_path).read())
            proc, uri, seconds = start(pg, log, cache=cache)
            # The windows are built in the background once the cache has loaded `metrics`
            # (without the cache: from a snapshot of PostgreSQL's rows, at once).
            # (A build that logs no "in the background" built them before serving.)
            began_wait = time.monotonic()
            while time.monotonic() - began_wait < args.wait:
                text = open(log_path).read()[mark:]
                if ("in the background" not in text or
                        len({m.group(1) for m in rebuilt.finditer(text)}) == 2):
                    break
                time.sleep(0.05)
            print(f"windows built {time.monotonic() - began_wait:.2f} s after "
                  f"serving (start to serving {seconds:.2f} s)")
            measure_rebuild(proc, uri, log, log_path, args)
        finally:
            log.close()
            pg.destroy()


def embedded(args):
    def launch(log, database):
        port = free_port()
        began = time.monotonic()
        proc = subprocess.Popen(
            [str(BINARY), "--host", "127.0.0.1", "--port", str(port), "--log-level", "info",
             "--engine-connection", database], stdout=log, stderr=log)
        uri = f"grpc://127.0.0.1:{port}"
        wait_for_flight(proc, uri, "hyprstream", timeout=600)
        return proc, uri, time.monotonic() - began

    def states(uri):
        with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
            cur = conn.cursor()
            cur.execute("SELECT state FROM hyprstream_windows()")
            return [state for (state,) in cur.fetchall()]

    with tempfile.TemporaryDirectory() as tmp:
        log_path = os.environ.get("BENCH_LOG") or os.path.join(tmp, "hyprstream.log")
        log = open(log_path, "a")
        database = os.path.join(tmp, "metrics.duckdb")
        proc = None
        try:
            proc, uri, _ = launch(log, database)
            now_us = time.time_ns() // 1000
            if args.days:
                data = rows_over_days(args.rows, args.keys, args.days, now_us)
            else:
                data = metric_rows(args.rows, args.keys,
                                   start_us=recent_start_us(args.rows, now_us))
            with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
                conn.cursor().adbc_ingest("metrics", chunked_reader(data), mode="append")
            stop(proc)
            proc, uri, seconds = launch(log, database)
            served = time.monotonic()
            while set(states(uri)) != {"answering"} and time.monotonic() - served < args.wait:
                time.sleep(0.02)
            print(f"start with {args.rows} rows of metrics (a file): {seconds:.2f} s to serving; "
                  f"windows answering {time.monotonic() - served:.2f} s after serving")
            measure_rebuild(proc, uri, log, log_path, args)
        finally:
            if proc is not None:
                stop(proc)  # (if still running)
            log.close()


if __name__ == "__main__":
    sys.exit(main())
