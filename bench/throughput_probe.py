"""Focused probe of bench/run's two throughput workloads (3. large result, 4. bulk ingest),
for profiling and before/after comparisons on a shared machine: each measurement is repeated
`--runs` times and reported as the median wall time, with the CPU seconds the client process
and the server process spent per run (CPU ratios move less with other load than wall time).

Systems (--systems, comma separated):
  hyprstream     the server under test (HYPRSTREAM_BIN or --hyprstream-bin), ADBC client;
  duckdb-inproc  DuckDB in this process, Arrow in and out (bench/run's limit);
  flight-echo    a trivial Arrow Flight server (bench/flight_echo_server.py, C++ under
                 pyarrow) that streams pre-built batches of the same table to the same ADBC
                 client and swallows ingested batches: what the transport alone costs, i.e.
                 the best any Flight SQL server can do on this machine.

Usage: .venv/bin/python bench/throughput_probe.py [--rows 10000000] [--runs 3]
           [--workloads large_result,bulk_ingest] [--systems ...] [--server-arg=--x=y ...]
Prints one JSON line per (system, workload) and a table.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import adbc_driver_flightsql.dbapi
import duckdb
import pyarrow as pa

import bench_server
from bench_data import WIDE_COLUMNS, metric_rows
from systems import chunked_reader

ROOT = pathlib.Path(__file__).resolve().parents[1]


def cpu_of(pid):
    if pid is None:
        return 0.0
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(fn, runs, pid, before=None):
    """Median wall seconds of `runs` calls of fn, and median client/server CPU seconds."""
    walls, clients, servers = [], [], []
    for _ in range(runs):
        if before is not None:
            before()
        c0, s0, t0 = time.process_time(), cpu_of(pid), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        clients.append(time.process_time() - c0)
        servers.append(cpu_of(pid) - s0)
    return {"wall_s": round(statistics.median(walls), 3),
            "walls": [round(w, 3) for w in walls],
            "client_cpu_s": round(statistics.median(clients), 3),
            "server_cpu_s": round(statistics.median(servers), 3) if pid else None}


class FlightSystem:
    def __init__(self, name, proc, uri):
        self.name, self.proc, self.uri = name, proc, uri

    def connect(self):
        return adbc_driver_flightsql.dbapi.connect(self.uri, autocommit=True)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        bench_server.stop(self.proc)


def large_result(system, rows, runs):
    with system.connect() as conn:
        cur = conn.cursor()
        if system.name == "hyprstream":
            cur.execute("DROP TABLE IF EXISTS wide")
            cur.execute("CREATE TABLE wide (id BIGINT, value DOUBLE, label VARCHAR)")
            cols = ", ".join(WIDE_COLUMNS.values())
            cur.execute(f"INSERT INTO wide SELECT {cols} FROM (SELECT range AS i FROM "
                        f"range({rows})) AS src")

        def fetch():
            cur.execute("SELECT id, value, label FROM wide")
            got = sum(b.num_rows for b in cur.fetch_record_batch())
            assert got == rows, got

        fetch()  # warm up
        return measure(fetch, runs, system.pid)


def bulk_ingest(system, rows, runs):
    data = metric_rows(rows, 100_000, late=False)
    with system.connect() as conn:
        cur = conn.cursor()

        def fresh():
            if system.name == "hyprstream":
                cur.execute("DROP TABLE IF EXISTS bulk")
                cur.execute('CREATE TABLE bulk (metric_id VARCHAR, "timestamp" TIMESTAMP, '
                            'value DOUBLE)')

        def ingest():
            n = cur.adbc_ingest("bulk", chunked_reader(data), mode="append")
            assert n in (rows, -1), n

        out = measure(ingest, runs, system.pid, before=fresh)
        if system.name == "hyprstream":
            cur.execute("SELECT count(*) FROM bulk")
            assert cur.fetchone()[0] == rows
        return out


def inproc(workload, rows, runs):
    db = duckdb.connect()
    # As bench/run's duckdb-inproc does. Without a first statement on the connection itself,
    # an INSERT from Arrow on a cursor of it took 3x the time and CPU (DuckDB 1.4.4, Python).
    db.execute("SELECT current_setting('threads')").fetchone()
    if workload == "large_result":
        cols = ", ".join(f"{e} AS {n}" for n, e in WIDE_COLUMNS.items())
        db.execute(f"CREATE TABLE wide AS SELECT {cols} FROM (SELECT range AS i FROM "
                   f"range({rows})) AS src")

        def fetch():
            got = sum(b.num_rows for b in
                      db.execute("SELECT id, value, label FROM wide").fetch_record_batch(1 << 17))
            assert got == rows

        fetch()
        return measure(fetch, runs, None)
    data = metric_rows(rows, 100_000, late=False)
    cur = db.cursor()  # as bench/run's duckdb-inproc system does

    def fresh():
        cur.execute("DROP TABLE IF EXISTS bulk")
        cur.execute('CREATE TABLE bulk (metric_id VARCHAR, "timestamp" TIMESTAMP, value DOUBLE)')

    def ingest():
        cur.register("src", data)
        cur.execute("INSERT INTO bulk SELECT * FROM src")
        cur.unregister("src")

    return measure(ingest, runs, None, before=fresh)


def start(name, args, log):
    if name == "hyprstream":
        proc, uri = bench_server.start_hyprstream(log, *args.server_arg,
                                                  binary=args.hyprstream_bin)
        return FlightSystem(name, proc, uri)
    port = bench_server.free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "flight_echo_server.py"),
                             "--port", str(port), "--rows", str(args.rows)], stdout=log,
                            stderr=log)
    uri = f"grpc://127.0.0.1:{port}"
    bench_server.wait_for_flight(proc, uri, "flight-echo", timeout=300)
    return FlightSystem(name, proc, uri)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--workloads", default="large_result,bulk_ingest")
    p.add_argument("--systems", default="hyprstream,duckdb-inproc,flight-echo")
    p.add_argument("--hyprstream-bin", default=str(bench_server.BINARY))
    p.add_argument("--server-arg", action="append", default=[],
                   help="extra hyprstream argument (repeatable), e.g. --server-arg=--x=1")
    args = p.parse_args()
    table = []
    with tempfile.TemporaryDirectory(prefix="probe-") as tmp:
        for name in args.systems.split(","):
            system = None
            if name != "duckdb-inproc":
                log = open(pathlib.Path(tmp) / f"{name}.log", "ab")
                system = start(name, args, log)
            try:
                for w in args.workloads.split(","):
                    if system is None:
                        out = inproc(w, args.rows, args.runs)
                    else:
                        out = {"large_result": large_result,
                               "bulk_ingest": bulk_ingest}[w](system, args.rows, args.runs)
                    out = {"system": name, "workload": w,
                           "rows_per_s": round(args.rows / out["wall_s"]), **out}
                    print(json.dumps(out), flush=True)
                    table.append(out)
            finally:
                if system is not None:
                    system.stop()
    print(f"\n{'workload':14} {'system':14} {'Mrows/s':>8} {'wall s':>7} {'client':>7} "
          f"{'server':>7}")
    for r in table:
        server = "" if r["server_cpu_s"] is None else f"{r['server_cpu_s']:.3f}"
        print(f"{r['workload']:14} {r['system']:14} {r['rows_per_s'] / 1e6:8.2f} "
              f"{r['wall_s']:7.3f} {r['client_cpu_s']:7.3f} {server:>7}")


if __name__ == "__main__":
    main()
