"""Server CPU per RPC of a prepared point query (issue 15): a Flight SQL client executes a
prepared `SELECT ... WHERE id = ?` as three RPCs — DoPut (the parameter row), GetFlightInfo,
DoGet (the ticket) — and this probe measures what each costs the server, with raw
pyarrow.flight calls so that the client's own work stays out of the picture:

  ListActions     an RPC with no engine work: the gRPC/Flight floor per call;
  DoPut params    binding one parameter row;
  GetFlightInfo   announcing the prepared query (no execution: DoGet runs it);
  full            DoPut + GetFlightInfo + DoGet, i.e. one point query.

DoGet's share is `full - DoPut - GetFlightInfo`. Server CPU comes from /proc (10 ms ticks:
use a few thousand calls); the server is started here (HYPRSTREAM_BIN or --hyprstream-bin).

Usage: .venv/bin/python bench/point_query_rpcs.py [--calls 2000] [--rows 100000]
"""
import argparse
import pathlib
import random
import sys
import tempfile
import time

import adbc_driver_flightsql.dbapi
import pyarrow as pa
import pyarrow.flight as flight

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import flightsql_wire as wire  # noqa: E402

import bench_server  # noqa: E402
from bench_util import process_cpu_seconds  # noqa: E402

SQL = "SELECT id, value, label FROM points WHERE id = ?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--hyprstream-bin", default=str(bench_server.BINARY))
    args = parser.parse_args()

    with tempfile.TemporaryFile() as log:
        proc, uri = bench_server.start_hyprstream(log, binary=args.hyprstream_bin)
        try:
            with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
                with conn.cursor() as cur:
                    cur.execute("CREATE TABLE points (id BIGINT PRIMARY KEY, value DOUBLE, "
                                "label VARCHAR)")
                    cur.execute(f"INSERT INTO points SELECT range, range * 1.5, 'x' || range "
                                f"FROM range({args.rows})")
            client = flight.connect(uri)
            reply = list(client.do_action(flight.Action(
                "CreatePreparedStatement", wire.create_prepared_request(SQL))))
            _, fields = wire.unpack_any(reply[0].body.to_pybytes())
            descriptor = flight.FlightDescriptor.for_command(wire.prepared_query(fields[1][0]))
            rng = random.Random(1)

            def put():
                key = pa.array([rng.randrange(args.rows)], pa.int64())
                batch = pa.record_batch([key], names=["parameter_1"])
                writer, acks = client.do_put(descriptor, batch.schema)
                writer.write_batch(batch)
                writer.done_writing()
                acks.read()
                writer.close()

            def info():
                return client.get_flight_info(descriptor)

            def full():
                put()
                table = client.do_get(info().endpoints[0].ticket).read_all()
                assert table.num_rows == 1

            results = {}
            for name, call in [("ListActions", client.list_actions), ("DoPut params", put),
                               ("GetFlightInfo", info), ("full", full)]:
                for _ in range(50):
                    call()
                cpu, wall = process_cpu_seconds(proc.pid), time.perf_counter()
                for _ in range(args.calls):
                    call()
                results[name] = ((process_cpu_seconds(proc.pid) - cpu) / args.calls * 1000,
                                 (time.perf_counter() - wall) / args.calls * 1000)
            results["DoGet (full - put - info)"] = tuple(
                results["full"][i] - results["DoPut params"][i] - results["GetFlightInfo"][i]
                for i in range(2))
            print("| RPC | server CPU ms/call | wall ms/call |\n|---|---|---|")
            for name, (cpu_ms, wall_ms) in results.items():
                print(f"| {name} | {cpu_ms:.3f} | {wall_ms:.3f} |")
        finally:
            bench_server.stop(proc)


if __name__ == "__main__":
    main()
