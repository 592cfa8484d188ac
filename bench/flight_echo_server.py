"""A trivial Arrow Flight server for bench/throughput_probe.py: the transport's own limit.

It answers just enough Flight SQL for the ADBC Flight SQL client: GetFlightInfo of any
command returns one endpoint whose DoGet streams the bench's wide table (built once at start,
in 128k-row batches, like hyprstream's default --result-batch-rows) from C++ (pyarrow's
RecordBatchStream: no Python per batch); a DoPut (bulk ingest) reads every batch, keeps
nothing and answers the row count as a DoPutUpdateResult. No SQL, no database, no copies
beyond what Flight/gRPC do themselves.

Usage: .venv/bin/python bench/flight_echo_server.py --port P [--rows N]
"""
import argparse

import duckdb
import pyarrow as pa
import pyarrow.flight as flight

from bench_data import WIDE_COLUMNS

BATCH_ROWS = 128 * 1024


def field(number, payload):
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


class EchoServer(flight.FlightServerBase):
    def __init__(self, location, rows):
        cols = ", ".join(f"{e} AS {n}" for n, e in WIDE_COLUMNS.items())
        table = duckdb.sql(f"SELECT {cols} FROM (SELECT range AS i FROM range({rows}))")
        self.table = table.fetch_arrow_table().combine_chunks()
        self.batches = self.table.to_batches(max_chunksize=BATCH_ROWS)
        super().__init__(location)  # listens: the data is ready

    def get_flight_info(self, context, descriptor):
        if b"CommandStatementQuery" not in descriptor.command and \
                b"CommandPreparedStatementQuery" not in descriptor.command:
            raise flight.FlightUnimplementedError("only queries")  # e.g. GetSqlInfo
        endpoint = flight.FlightEndpoint(b"wide", [])
        return flight.FlightInfo(self.table.schema, descriptor, [endpoint],
                                 self.table.num_rows, -1)

    def get_schema(self, context, descriptor):
        return flight.SchemaResult(self.table.schema)

    def do_get(self, context, ticket):
        return flight.RecordBatchStream(
            pa.RecordBatchReader.from_batches(self.table.schema, iter(self.batches)))

    def do_put(self, context, descriptor, reader, writer):
        rows = 0
        for chunk in reader:
            if chunk.data is not None:
                rows += chunk.data.num_rows
        # DoPutUpdateResult { int64 record_count = 1; }
        writer.write(pa.py_buffer(b"\x08" + varint(rows)))

    def do_action(self, context, action):
        # The ADBC client prepares every statement: hand out one handle (no schemas).
        if action.type == "CreatePreparedStatement":
            result = field(1, b"echo")
            yield flight.Result(pa.py_buffer(
                field(1, b"type.googleapis.com/arrow.flight.protocol.sql."
                         b"ActionCreatePreparedStatementResult") + field(2, result)))
        # ClosePreparedStatement and anything else: nothing to do.

    def list_actions(self, context):
        return []


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rows", type=int, default=10_000_000)
    args = p.parse_args()
    server = EchoServer(f"grpc://127.0.0.1:{args.port}", args.rows)
    server.serve()


if __name__ == "__main__":
    main()
