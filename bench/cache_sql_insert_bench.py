"""SQL INSERTs into a cached table (the README configuration over a throw-away PostgreSQL 15,
DuckDB cache in memory): what a client that writes with plain SQL INSERT statements (JDBC's
executeUpdate, a DB-API cursor) does to the cache.

A table `events` of --rows rows over --keys keys is written through hyprstream (so it is
mirrored). Then one writer sends --inserts single-row `INSERT INTO events VALUES (...)` while
one reader asks a per-key aggregate over the table as fast as it can. Reported:

  insert   the writer's median and p99 INSERT call (--no-reader: without the reader)
  reader   the share of the reader's answers that came from the cache (metadata
           hyprstream.source), and its median and p99 call
  loads    how many times the cache loaded the whole table again (hyprstream_cache_stats)
  checked  the reader's last answer equals PostgreSQL's

    .venv/bin/python bench/cache_sql_insert_bench.py [--rows 500000] [--keys 1000] [--inserts 300]

HYPRSTREAM_BIN overrides build/hyprstream. Client, hyprstream and PostgreSQL share the CPUs.
"""
import argparse
import pathlib
import sys
import tempfile
import threading
import time

import adbc_driver_flightsql.dbapi
import adbc_driver_postgresql.dbapi
import pyarrow as pa
import pyarrow.flight as flight

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "integration"))
import flightsql_wire  # noqa: E402

from bench_server import postgres_server, start_hyprstream_over_postgres, stop
from bench_util import median, percentile

QUERY = "SELECT k, count(*) AS n, sum(v) AS s FROM events GROUP BY k ORDER BY k"


def stat(cur, name):
    cur.execute(f"SELECT value FROM hyprstream_cache_stats() WHERE name = '{name}'")
    return cur.fetchone()[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--keys", type=int, default=1_000)
    parser.add_argument("--inserts", type=int, default=300)
    parser.add_argument("--no-reader", action="store_true",
                        help="the INSERTs alone (their cost without a reader sharing the CPUs)")
    args = parser.parse_args()
    pg = postgres_server()
    with tempfile.TemporaryFile("w+") as log:
        proc = None
        try:
            proc, uri = start_hyprstream_over_postgres(log, pg)
            data = pa.table({"k": pa.array([i % args.keys for i in range(args.rows)], pa.int64()),
                             "v": pa.array([float(i % 97) for i in range(args.rows)])})
            with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
                conn.cursor().adbc_ingest("events", data, mode="create")
            admin = adbc_driver_flightsql.dbapi.connect(uri, autocommit=True)
            acur = admin.cursor()
            for _ in range(600):  # until the mirror answers
                acur.execute("SELECT state FROM hyprstream_cache_tables() "
                             "WHERE table_name = 'events'")
                row = acur.fetchone()
                if row and row[0] == "ready":
                    break
                time.sleep(0.05)
            loads_before = stat(acur, "mirror_loads")

            done = threading.Event()
            reads, sources = [], []

            def reader():
                # pyarrow.flight: the answer's schema metadata says where it came from.
                with flight.connect(uri) as client:
                    command = flight.FlightDescriptor.for_command(
                        flightsql_wire.statement_query(QUERY))
                    while not done.is_set():
                        began = time.monotonic()
                        info = client.get_flight_info(command)
                        table = client.do_get(info.endpoints[0].ticket).read_all()
                        reads.append(time.monotonic() - began)
                        meta = table.schema.metadata or {}
                        sources.append(meta.get(b"hyprstream.source", b"").decode())

            thread = threading.Thread(target=reader)
            if not args.no_reader:
                thread.start()
            inserts = []
            with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
                cur = conn.cursor()
                for i in range(args.inserts):
                    began = time.monotonic()
                    cur.execute(f"INSERT INTO events VALUES ({i % args.keys}, {float(i)})")
                    inserts.append(time.monotonic() - began)
            done.set()
            if not args.no_reader:
                thread.join()
            loads = stat(acur, "mirror_loads") - loads_before
            acur.execute(QUERY + " /* last */")
            ours = acur.fetch_arrow_table()
            admin.close()
            with adbc_driver_postgresql.dbapi.connect(
                    f"postgresql://postgres:secret@127.0.0.1:{pg.port}/metrics") as direct:
                dcur = direct.cursor()
                dcur.execute(QUERY)
                theirs = dcur.fetch_arrow_table()
            same = [r for r in ours.to_pylist()] == [r for r in theirs.to_pylist()]
            cached = sum(1 for s in sources if s in ("cache", "result-cache"))
            print(f"{args.inserts} INSERTs into {args.rows} rows: median "
                  f"{median(inserts) * 1e3:.2f} ms, p99 {percentile(inserts, 99) * 1e3:.2f} ms")
            if not args.no_reader:
                print(f"reader: {len(reads)} queries, {100.0 * cached / max(len(reads), 1):.0f}% from "
                      f"the cache, median {median(reads) * 1e3:.1f} ms, p99 "
                      f"{percentile(reads, 99) * 1e3:.1f} ms")
            print(f"whole-table loads of the cache during the INSERTs: {loads}")
            print(f"last answer equals PostgreSQL's: {same}")
            return 0 if same else 1
        finally:
            if proc is not None:
                stop(proc)
            pg.destroy()


if __name__ == "__main__":
    sys.exit(main())
