"""Writes the small seed corpora for the libFuzzer targets (scripts/fuzz.sh runs it):
  <out>/command_decode/  Flight SQL commands and action bodies packed in Any
  <out>/ipc_ingest/      Arrow IPC streams of the column types clients send
Deterministic: the same files every run."""
import datetime
import decimal
import hashlib
import pathlib
import sys

import pyarrow as pa

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "integration"))
import flightsql_wire as wire  # noqa: E402


def write(folder, data):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def commands():
    yield wire.statement_query("SELECT 1", b"txn")
    yield wire.statement_update("INSERT INTO t VALUES (1)")
    yield wire.create_prepared_request("SELECT ?", b"t1")
    yield wire.prepared_query(b"handle")
    yield wire.prepared_update(b"handle")
    yield wire.close_prepared_request(b"handle")
    yield wire.any_of("TicketStatementQuery", [(1, b"ticket")])
    yield wire.any_of("CommandGetSqlInfo", [(1, 0), (1, 500)])
    yield wire.any_of("CommandGetTables", [(1, "c"), (2, "s%"), (3, "t%"), (4, "TABLE"), (5, 1)])
    yield wire.any_of("CommandGetDbSchemas", [(1, "c"), (2, "%")])
    yield wire.any_of("CommandGetCatalogs", [])
    yield wire.any_of("CommandGetTableTypes", [])
    yield wire.any_of("CommandGetPrimaryKeys", [(1, "c"), (2, "s"), (3, "t")])
    yield wire.any_of("CommandGetCrossReference", [(1, "a"), (3, "t"), (6, "u")])
    yield wire.any_of("CommandGetXdbcTypeInfo", [(1, 4)])
    options = wire.encode([(1, 1), (2, 2)])
    yield wire.any_of("CommandStatementIngest", [(1, options), (2, "t"), (3, "s"), (5, 1),
                                                 (6, b"txn"), (1000, wire.encode([(1, "k"),
                                                                                  (2, "v")]))])
    yield wire.any_of("ActionBeginTransactionRequest", [])
    yield wire.any_of("ActionEndTransactionRequest", [(1, b"txn"), (2, 1)])
    yield wire.any_of("ActionCancelQueryRequest", [(1, b"info")])
    yield b""


def streams():
    n = 5
    yield pa.table({"a": pa.array(range(n), pa.int32()), "b": [f"s{i}" for i in range(n)]})
    yield pa.table({"metric_id": ["cpu", "mem", None, "cpu", "x"],
                    "timestamp": pa.array([datetime.datetime(2026, 1, 1, 0, i) for i in range(n)],
                                          pa.timestamp("ms")),
                    "value": [0.5, None, 1.5, 2.5, -1.0]})
    yield pa.table({"i8": pa.array([1, -2, None, 4, 5], pa.int8()),
                    "u64": pa.array([1, 2, 3, None, 2**64 - 1], pa.uint64()),
                    "f32": pa.array([1.5, None, 3.0, 4.0, float("nan")], pa.float32()),
                    "bool": [True, False, None, True, False],
                    "d": pa.array([datetime.date(2026, 1, i + 1) for i in range(n)], pa.date32()),
                    "dec": pa.array([decimal.Decimal("1.25")] * n, pa.decimal128(10, 2))})
    yield pa.table({"bin": pa.array([b"\x00\x01", b"", None, b"x" * 40, b"y"]),
                    "ls": pa.array(["a", "b", None, "d", "e"], pa.large_string()),
                    "dict": pa.array(["x", "y", "x", None, "y"]).dictionary_encode(),
                    "list": pa.array([[1, 2], [], None, [3], [4, 5, 6]], pa.list_(pa.int64())),
                    "st": pa.array([{"p": i, "q": str(i)} for i in range(n)])})
    yield pa.table({"ts_ns": pa.array(range(n), pa.timestamp("ns", tz="UTC")),
                    "t64": pa.array(range(n), pa.time64("us")),
                    "dur": pa.array(range(n), pa.duration("s")),
                    "iv": pa.array([(1, 2, 3)] * n, pa.month_day_nano_interval())})
    yield pa.table({"empty": pa.array([], pa.int64())})


def ipc_stream(table):
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=3):
            writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def main(out):
    out = pathlib.Path(out)
    for cmd in commands():
        write(out / "command_decode", cmd)
    for table in streams():
        write(out / "ipc_ingest", ipc_stream(table))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build-fuzz/corpus")
