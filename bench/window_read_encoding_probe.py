"""What the client pays to decode a window read, by wire encoding (issue 15: "current 5m
window for 100k keys over ADBC <= 5 ms; the client's decoding dominates").

A stand-in Flight SQL server (this file with --serve, pyarrow.flight; answers just enough of
the protocol for the ADBC Flight SQL driver, like bench/flight_echo_server.py) serves the
shape of `hyprstream_window('metrics', width := '5m', current := 'true')` for --keys keys
(window_spec text, metric_id text, window_start, window_end, value_count, value_sum/avg/min/
max, closed) in variants:

  base       as hyprstream sends it (12,943-row batches, its ~1 MB per batch)
  one, b64k  one batch; 64k-row batches
  dict       window_spec dictionary-encoded (the same text in every row)
  nospec     without window_spec;  nospects  without window_spec, window_start, window_end
             (the most that moving the repeated columns out of the rows could save)

The client runs each variant's query through the ADBC DB-API (fetch_arrow_table), the
variants interleaved in every round, and prints per variant and round the p50 wall ms and the
client's CPU ms per read (the server runs in its own process).

    .venv/bin/python bench/window_read_encoding_probe.py [--keys 100000] [--reads 40] [--rounds 5]
"""
import argparse
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight

from bench_server import free_port, wait_for_flight
from bench_util import median
from flight_echo_server import field

NAMES = ["window_spec", "metric_id", "window_start", "window_end", "value_count", "value_sum",
         "value_avg", "value_min", "value_max", "closed"]


def variants(keys):
    """{name: (table, batch rows)}."""
    rng = np.random.default_rng(1)
    spec = pa.array(["tumbling 5m"] * keys)
    columns = {
        "metric_id": pa.array([f"m{k}" for k in range(keys)]),
        "window_start": pa.array(np.full(keys, 1767225600000000)).cast(pa.timestamp("us")),
        "window_end": pa.array(np.full(keys, 1767225900000000)).cast(pa.timestamp("us")),
        "value_count": pa.array(rng.integers(1, 20, keys)),
        **{n: pa.array(rng.random(keys) * 100) for n in NAMES[5:9]},
        "closed": pa.array(np.zeros(keys, dtype=bool)),
    }

    def table(spec_column, drop=()):
        cols = {"window_spec": spec_column, **columns}
        return pa.table({n: cols[n] for n in NAMES if n not in drop})

    return {
        "base": (table(spec), 12943),
        "one": (table(spec), keys),
        "b64k": (table(spec), 65536),
        "dict": (table(spec.dictionary_encode()), 12943),
        "nospec": (table(spec, ("window_spec",)), 12943),
        "nospects": (table(spec, ("window_spec", "window_start", "window_end")), 12943),
    }


class Server(flight.FlightServerBase):
    """The variant is the query's text ("SELECT <variant>"), carried in the statement handle."""

    def __init__(self, location, keys):
        self.variants = variants(keys)
        super().__init__(location)

    def variant(self, data):
        return next(v for v in sorted(self.variants, key=len, reverse=True) if v.encode() in data)

    def get_flight_info(self, context, descriptor):
        name = self.variant(descriptor.command)
        table = self.variants[name][0]
        return flight.FlightInfo(table.schema, descriptor, [flight.FlightEndpoint(name, [])],
                                 table.num_rows, -1)

    def do_get(self, context, ticket):
        table, rows = self.variants[ticket.ticket.decode()]
        return flight.RecordBatchStream(pa.RecordBatchReader.from_batches(
            table.schema, iter(table.to_batches(max_chunksize=rows))))

    def do_action(self, context, action):
        if action.type == "CreatePreparedStatement":
            handle = self.variant(action.body.to_pybytes()).encode()
            yield flight.Result(pa.py_buffer(
                field(1, b"type.googleapis.com/arrow.flight.protocol.sql."
                         b"ActionCreatePreparedStatementResult") + field(2, field(1, handle))))

    def list_actions(self, context):
        return []


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keys", type=int, default=100_000)
    p.add_argument("--reads", type=int, default=40)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # (the server's process)
    args = p.parse_args()
    if args.serve:
        Server(f"grpc://127.0.0.1:{args.serve}", args.keys).serve()
        return
    import adbc_driver_flightsql.dbapi

    port = free_port()
    uri = f"grpc://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port),
                               "--keys", str(args.keys)])
    names = list(variants(1))
    results = {n: [] for n in names}
    try:
        wait_for_flight(server, uri, "the stand-in server")
        with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
            cur = conn.cursor()
            for _ in range(args.rounds):
                for name in names:
                    cur.execute(f"SELECT {name}")
                    cur.fetch_arrow_table()  # warm-up
                    cpu, walls = time.process_time(), []
                    for _ in range(args.reads):
                        t = time.perf_counter()
                        cur.execute(f"SELECT {name}")
                        cur.fetch_arrow_table()
                        walls.append(time.perf_counter() - t)
                    results[name].append((median(walls) * 1000,
                                          (time.process_time() - cpu) / args.reads * 1000))
    finally:
        server.kill()
    print(f"{args.keys:,} keys, {args.reads} reads per variant and round; "
          "p50 ms / client CPU ms per read, per round")
    for name in names:
        runs = results[name]
        print(f"  {name:9s} median {median([r[0] for r in runs]):.2f} / "
              f"{median([r[1] for r in runs]):.2f}   "
              + ", ".join(f"{w:.2f}/{c:.2f}" for w, c in runs))


if __name__ == "__main__":
    sys.exit(main())
