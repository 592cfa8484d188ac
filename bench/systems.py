"""The systems bench/run compares, behind one small interface, so each workload is written
once. A system starts/stops its server (if any), hands out DB-API connections (one per
thread), speaks its SQL dialect (DDL types, placeholders, row generation) and offers its
bulk and streaming ingest paths. Not thread-safe itself; connections are per thread.

Systems: hyprstream (Flight SQL, embedded DuckDB), duckdb-inproc (the limit: DuckDB in this
process, Arrow in and out, no network), arrow-go (the arrow-go Flight SQL example server,
SQLite), postgres (PostgreSQL 15 through the ADBC PostgreSQL driver).
"""
import pathlib
import time

import adbc_driver_flightsql.dbapi
import adbc_driver_postgresql.dbapi
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight

import bench_server
from bench_data import WIDE_COLUMNS, metric_row_sql
from bench_util import process_cpu_seconds

INGEST_CHUNK = 65536  # rows per Arrow batch sent by ADBC ingest (one gRPC message each)


def chunked_reader(table, rows=INGEST_CHUNK):
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=rows))


class System:
    name = ""
    label = ""
    types = {"bigint": "BIGINT", "double": "DOUBLE", "varchar": "VARCHAR",
             "timestamp": "TIMESTAMP"}
    timestamps_as_int = False  # store event time as BIGINT epoch microseconds
    bulk_path = ""
    stream_path = ""
    index_time = False  # give the raw metrics tables an index on "timestamp"
    has_windows = False  # keeps the built-in metrics table with maintained windows
    speaks_flight_sql = False  # a Flight SQL server at self.uri (the floor client's peers)

    def start(self, log_dir):
        pass

    def stop(self):
        pass

    def connect(self):
        raise NotImplementedError

    def server_cpu_seconds(self):
        """CPU time used so far by the server's processes, or None (in-process)."""
        return None

    def placeholder(self, n):
        return "?"

    def execute(self, cur, sql, params=None):
        if params is None:
            cur.execute(sql)
        else:
            cur.execute(sql, params)

    def query(self, cur, sql, params=None):
        """Runs a query; returns its result as an Arrow table."""
        self.execute(cur, sql, params)
        return cur.fetch_arrow_table()

    def stream(self, cur, sql):
        """Runs a query; yields its result batches as they arrive."""
        self.execute(cur, sql)
        yield from cur.fetch_record_batch()

    # --- tables ---------------------------------------------------------------------------
    def row_source(self, rows):
        return f"(SELECT range AS i FROM range({rows})) AS src"

    def create_wide(self, cur, table, rows, primary_key=False):
        t = self.types
        pk = " PRIMARY KEY" if primary_key else ""
        self.execute(cur, f"DROP TABLE IF EXISTS {table}")
        self.execute(cur, f"CREATE TABLE {table} (id {t['bigint']}{pk}, value {t['double']}, "
                          f"label {t['varchar']})")
        cols = ", ".join(WIDE_COLUMNS.values())
        self.execute(cur, f"INSERT INTO {table} SELECT {cols} FROM {self.row_source(rows)}")

    def create_metrics(self, cur, table):
        t = self.types
        ts = t["bigint"] if self.timestamps_as_int else t["timestamp"]
        self.execute(cur, f"DROP TABLE IF EXISTS {table}")
        self.execute(cur, f'CREATE TABLE {table} (metric_id {t["varchar"]}, "timestamp" {ts}, '
                          f'value {t["double"]})')

    def index_metrics(self, cur, table):
        if self.index_time:
            self.execute(cur, f'CREATE INDEX {table}_ts ON {table} ("timestamp")')

    def time_literal(self, epoch_us):
        if self.timestamps_as_int:
            return str(epoch_us)
        return f"make_timestamp({epoch_us})"

    def adapt(self, data):
        """The metric rows as this system stores them."""
        if not self.timestamps_as_int:
            return data
        i = data.schema.get_field_index("timestamp")
        return data.set_column(i, "timestamp", pc.cast(data["timestamp"], pa.int64()))

    # --- ingest ---------------------------------------------------------------------------
    def bulk_ingest(self, conn, table, data):
        """Appends `data` (adapted) to the existing `table` the way users bulk load; commits."""
        raise NotImplementedError

    def load_metrics(self, conn, table, rows, keys, metric_data):
        """Untimed set-up: loads metric_rows(rows, keys, late=False) (metric_data(rows, keys)
        gives them as Arrow) into the existing `table` the fastest way this system has."""
        self.bulk_ingest(conn, table, self.adapt(metric_data(rows, keys)))

    def open_stream(self, conn, table, schema):
        """A writer: send(batch) returns once the batch is sent (it may be committed later),
        flush() once every batch sent is committed, close() ends the stream."""
        raise NotImplementedError


class AdbcIngestStream:
    """Streaming by repeated bulk appends, one per batch (each a committed ingest)."""

    def __init__(self, system, conn, table):
        self.system, self.conn, self.table = system, conn, table

    def send(self, batch):
        self.system.bulk_ingest(self.conn, self.table, pa.Table.from_batches([batch]))

    def flush(self):
        pass  # each send() returned after its commit

    def close(self):
        pass


class FlightSqlServer(System):
    """A Flight SQL server process we start (launch() returns (process, uri)), queried
    through the ADBC Flight SQL driver; its output goes to <log_dir>/<name>.log."""
    speaks_flight_sql = True

    def __init__(self, binary):
        self.binary = binary
        self.proc = None

    def launch(self, log):
        raise NotImplementedError

    def start(self, log_dir):
        self._log = open(pathlib.Path(log_dir) / f"{self.name}.log", "ab")
        self.proc, self.uri = self.launch(self._log)

    def stop(self):
        if self.proc:
            bench_server.stop(self.proc)
            self._log.close()
            self.proc = None

    def connect(self):
        return adbc_driver_flightsql.dbapi.connect(self.uri, autocommit=True)

    def server_cpu_seconds(self):
        return process_cpu_seconds(self.proc.pid)


class Hyprstream(FlightSqlServer):
    name = "hyprstream"
    label = "hyprstream"
    has_windows = True
    bulk_path = "ADBC adbc_ingest (Flight SQL CommandStatementIngest), 64k-row batches"
    stream_path = "one long-lived plain Flight DoPut on the table's path, ack per batch"

    def __init__(self, binary, extra_args=()):
        super().__init__(binary)
        self.extra_args = list(extra_args)

    def launch(self, log):
        return bench_server.start_hyprstream(log, *self.extra_args, binary=self.binary)

    def bulk_ingest(self, conn, table, data):
        return conn.cursor().adbc_ingest(table, chunked_reader(data), mode="append")

    def open_stream(self, conn, table, schema):
        return DoPutStream(self.uri, table, schema)


class DoPutStream:
    """hyprstream's streaming ingest: one DoPut, batches written as they come, up to
    MAX_UNACKED ahead of their acks (each ack says the batch is committed).

    Reading the acks matters beyond bookkeeping: with pyarrow 26, DoPut writes made from a
    thread that then only issues ADBC queries (e.g. polling for the rows) were seen to stall
    for many seconds; a thread waiting on the stream's acks keeps it moving."""
    MAX_UNACKED = 8

    def __init__(self, uri, table, schema):
        self.client = flight.connect(uri)
        self.writer, self.acks = self.client.do_put(flight.FlightDescriptor.for_path(table),
                                                    schema)
        self.unacked = 0

    def send(self, batch):
        self.writer.write_batch(batch)
        self.unacked += 1
        if self.unacked > self.MAX_UNACKED:
            self.acks.read()
            self.unacked -= 1

    def flush(self):
        while self.unacked:
            self.acks.read()
            self.unacked -= 1

    def close(self):
        self.flush()
        self.writer.done_writing()
        self.writer.close()
        self.client.close()


class DuckDBInProcess(System):
    name = "duckdb-inproc"
    label = "DuckDB in-process (limit)"
    bulk_path = "INSERT INTO t SELECT * FROM <Arrow table> in process"
    stream_path = "INSERT of each Arrow batch in process"

    def start(self, log_dir):
        # DuckDB's own default (one thread per core): the best it does here. hyprstream's
        # floor of 4 threads (a DuckDB 1.4.4 deadlock on UNION ALL of large aggregates) is
        # not needed by these workloads, and on 2 cores 4 threads make ingest ~2x slower.
        self.db = duckdb.connect()
        self.threads = self.db.execute("SELECT current_setting('threads')").fetchone()[0]
        self.label = f"DuckDB in-process (limit, {self.threads} threads)"

    def stop(self):
        self.db.close()

    def connect(self):
        return _DuckDBConnection(self.db.cursor())

    def stream(self, cur, sql):
        yield from cur.execute(sql).fetch_record_batch(1 << 17)

    def bulk_ingest(self, conn, table, data):
        cur = conn.cursor()
        cur.register("bench_ingest_src", data)
        cur.execute(f"INSERT INTO {table} SELECT * FROM bench_ingest_src")
        cur.unregister("bench_ingest_src")
        return data.num_rows

    def open_stream(self, conn, table, schema):
        return AdbcIngestStream(self, conn, table)


class _DuckDBConnection:
    """A DuckDB cursor with the DB-API connection surface the workloads use."""

    def __init__(self, cur):
        self.cur = cur

    def cursor(self):
        return self.cur

    def close(self):
        self.cur.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ArrowGo(FlightSqlServer):
    name = "arrow-go"
    label = "arrow-go Flight SQL example (SQLite)"
    types = {"bigint": "INTEGER", "double": "DOUBLE", "varchar": "TEXT", "timestamp": "INTEGER"}
    timestamps_as_int = True  # the example server binds no timestamp parameters
    index_time = True
    bulk_path = ("ADBC executemany of a prepared INSERT (one DoPut of parameter batches; the "
                 "example server implements no CommandStatementIngest)")
    stream_path = "one prepared-INSERT executemany per 1k-row batch"

    def launch(self, log):
        return bench_server.start_arrow_go(self.binary, log)

    def row_source(self, rows):
        return (f"(WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r "
                f"WHERE i < {rows - 1}) SELECT i FROM r) AS src")

    def bulk_ingest(self, conn, table, data):
        # The server accepts gRPC messages up to 4 MiB: bind the rows in 16k-row batches.
        cur = conn.cursor()
        cur.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", chunked_reader(data, 16384))
        return data.num_rows

    def load_metrics(self, conn, table, rows, keys, metric_data):
        # Row-by-row inserts would take minutes: SQLite generates the same rows itself.
        cols = ", ".join(metric_row_sql(keys, "i").values())
        self.execute(conn.cursor(), f"INSERT INTO {table} SELECT {cols} FROM "
                                    f"{self.row_source(rows)}")

    def open_stream(self, conn, table, schema):
        return AdbcIngestStream(self, conn, table)


class Postgres(System):
    name = "postgres"
    label = "PostgreSQL 15 (ADBC)"
    types = {"bigint": "BIGINT", "double": "DOUBLE PRECISION", "varchar": "VARCHAR",
             "timestamp": "TIMESTAMP"}
    index_time = True
    bulk_path = "ADBC adbc_ingest (binary COPY)"
    stream_path = "one adbc_ingest append (COPY) per 1k-row batch on one connection"

    def start(self, log_dir):
        self.server = bench_server.postgres_server()
        self.uri = self.server.uri

    def stop(self):
        self.server.destroy()

    def connect(self):
        return adbc_driver_postgresql.dbapi.connect(self.uri, autocommit=True)

    def server_cpu_seconds(self):
        return postgres_cpu_seconds(self.server)

    def placeholder(self, n):
        return f"${n}"

    def row_source(self, rows):
        return f"generate_series(0::BIGINT, {rows - 1}) AS src(i)"

    def time_literal(self, epoch_us):
        return f"(TIMESTAMP 'epoch' + {epoch_us} * INTERVAL '1 microsecond')"

    def create_wide(self, cur, table, rows, primary_key=False):
        super().create_wide(cur, table, rows, primary_key)
        self.execute(cur, f"ANALYZE {table}")

    def bulk_ingest(self, conn, table, data):
        return conn.cursor().adbc_ingest(table, chunked_reader(data), mode="append")

    def open_stream(self, conn, table, schema):
        return AdbcIngestStream(self, conn, table)


class HyprstreamPgCache(Hyprstream):
    """hyprstream in front of PostgreSQL: --engine adbc with the DuckDB read cache; every
    ingest is written through to PostgreSQL, reads come from DuckDB when it can answer. SQL
    reaching PostgreSQL is PostgreSQL's dialect ($n parameters, generate_series). The
    built-in metrics table lives in PostgreSQL with its windows kept by hyprstream."""
    name = "hyprstream+pg-cache"
    label = "hyprstream → PostgreSQL (write-through, DuckDB cache)"
    types = Postgres.types
    index_time = True
    bulk_path = "ADBC adbc_ingest to hyprstream, written through with COPY, mirrored in DuckDB"

    def launch(self, log):
        self.pg = bench_server.postgres_server()
        return bench_server.start_hyprstream_over_postgres(
            log, self.pg, *self.extra_args, binary=self.binary, pool="pool_max=32&pool_min=2")

    def stop(self):
        super().stop()
        if getattr(self, "pg", None):
            self.pg.destroy()
            self.pg = None

    def server_cpu_seconds(self):
        """hyprstream's CPU and that of the PostgreSQL behind it."""
        return super().server_cpu_seconds() + postgres_cpu_seconds(self.pg)

    placeholder = Postgres.placeholder
    row_source = Postgres.row_source
    time_literal = Postgres.time_literal

    def create_wide(self, cur, table, rows, primary_key=False):
        System.create_wide(self, cur, table, rows, primary_key)
        self.execute(cur, f"ANALYZE {table}")


def postgres_cpu_seconds(pg):
    """CPU time used so far by a postgres_server()'s postmaster and every process it started
    (backends, background workers; live ones and those it has reaped)."""
    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    return process_cpu_seconds(postmaster, children=True)


SYSTEM_NAMES = ["hyprstream", "duckdb-inproc", "arrow-go", "postgres", "hyprstream+pg-cache"]


def make_systems(names, hyprstream_bin, arrow_go_bin):
    made = {"hyprstream": lambda: Hyprstream(hyprstream_bin),
            "duckdb-inproc": DuckDBInProcess,
            "arrow-go": lambda: ArrowGo(arrow_go_bin),
            "postgres": Postgres,
            "hyprstream+pg-cache": lambda: HyprstreamPgCache(hyprstream_bin)}
    return [made[n]() for n in names]


POLL_PAUSE_S = 0.0005


def wait_visible(system, cur, table, epoch_us, timeout=30):
    """Polls until a query on `cur` sees a row of `table` at or after `epoch_us`; returns
    the time it returned True (perf_counter)."""
    sql = f'SELECT count(*) FROM {table} WHERE "timestamp" >= {system.time_literal(epoch_us)}'
    deadline = time.perf_counter() + timeout
    while True:
        if system.query(cur, sql).column(0)[0].as_py() > 0:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{system.name}: rows not visible after {timeout} s")
        time.sleep(POLL_PAUSE_S)
