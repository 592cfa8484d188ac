"""The DuckDB read cache with write-through in front of a REAL PostgreSQL (--engine adbc
--enable-cache), driven by the real clients. What hyprstream wrote is read back DIRECTLY from
PostgreSQL; where each answer came from is read from the result's provenance (schema metadata
and the DoGet headers x-hyprstream-cache/-source/-as-of) with pyarrow.flight."""
import datetime as dt
import time
import uuid

import adbc_driver_flightsql.dbapi
import adbc_driver_postgresql.dbapi
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flightsql_wire as wire
from test_adbc_backend import CREDENTIALS, PG_DRIVER, adbc_args, pg_rows

README_CACHE_FLAGS = ["--enable-cache", "--cache-engine", "duckdb", "--cache-connection", ":memory:"]


@pytest.fixture
def name():
    return "c_" + uuid.uuid4().hex[:10]


@pytest.fixture
def cached(postgres, start_server):
    return start_server(*adbc_args(postgres), *README_CACHE_FLAGS, "--cache-result-ttl", "60s",
                        env=CREDENTIALS)


class _Headers(flight.ClientMiddlewareFactory):
    def __init__(self):
        self.seen = {}

    def start_call(self, info):
        factory = self

        class Middleware(flight.ClientMiddleware):
            def received_headers(self, headers):
                for key, values in headers.items():
                    if key.startswith("x-hyprstream"):
                        factory.seen[key] = values[0]

        return Middleware()


def ask(uri, sql, headers=()):
    """(rows, provenance) of one query through pyarrow.flight; provenance from the schema
    metadata, checked against the DoGet response headers."""
    recorder = _Headers()
    with flight.connect(uri, middleware=[recorder]) as client:
        options = flight.FlightCallOptions(headers=[(k.encode(), v.encode()) for k, v in headers])
        info = client.get_flight_info(flight.FlightDescriptor.for_command(wire.statement_query(sql)),
                                      options)
        table = client.do_get(info.endpoints[0].ticket, options).read_all()
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    provenance = {k.split(".", 1)[1]: v for k, v in meta.items() if k.startswith("hyprstream.")}
    assert recorder.seen.get("x-hyprstream-source") == provenance.get("source")
    return table.to_pylist(), provenance


def answered(uri, sql):
    """(rows, where they came from)"""
    rows, provenance = ask(uri, sql)
    return rows, provenance["source"]


def ingest(uri, table_name, data, mode="create_append"):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        return conn.cursor().adbc_ingest(table_name, data, mode=mode)


def execute(uri, sql):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall() if cur.description else cur.rowcount


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def utcnow():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def readings(n, start=0, age=dt.timedelta(0)):
    now = utcnow() - age
    return pa.table({"ts": pa.array([now - dt.timedelta(seconds=i) for i in range(n)], pa.timestamp("us")),
                     "sensor": [f"s{(start + i) % 7}" for i in range(n)],
                     "value": [float(start + i) for i in range(n)]})


def test_readme_command_writes_through_and_reads_from_the_cache(cached, postgres, name):
    assert ingest(cached.uri, name, readings(1000)) == 1000
    # Acknowledged = committed in PostgreSQL.
    assert pg_rows(postgres, f"SELECT count(*), sum(value) FROM {name}") == [(1000, 499500.0)]
    rows, provenance = ask(cached.uri, f"SELECT count(*) AS n, sum(value) AS total FROM {name}")
    assert rows == [{"n": 1000, "total": 499500.0}]
    assert provenance["cache"] == "hit" and provenance["source"] == "cache"
    dt.datetime.fromisoformat(provenance["as_of"].rstrip("Z"))
    # Appends keep both sides equal, and the cache keeps answering.
    assert ingest(cached.uri, name, readings(500, start=1000), mode="append") == 500
    rows, provenance = ask(cached.uri, f"SELECT count(*) AS n, sum(value) AS total FROM {name}")
    assert rows == [{"n": 1500, "total": float(sum(range(1500)))}] and provenance["source"] == "cache"
    assert pg_rows(postgres, f"SELECT count(*) FROM {name}") == [(1500,)]
    # Same column names and arithmetic as the backend (count, not DuckDB's count_star();
    # integer division as in PostgreSQL).
    rows, provenance = ask(cached.uri, f"SELECT count(*), count(*) / 1000 AS thousands FROM {name}")
    assert rows == [{"count": 1500, "thousands": 1}] and provenance["source"] == "cache"
    # Replace swaps both.
    assert ingest(cached.uri, name, readings(3), mode="replace") == 3
    assert ask(cached.uri, f"SELECT count(*) AS n FROM {name}")[0] == [{"n": 3}]
    assert pg_rows(postgres, f"SELECT count(*) FROM {name}") == [(3,)]


def test_streaming_doput_writes_through(cached, postgres, name):
    data = readings(3000)
    with flight.connect(cached.uri) as client:
        writer, acks = client.do_put(flight.FlightDescriptor.for_path(name), data.schema)
        for batch in data.to_batches(max_chunksize=1000):
            writer.write_batch(batch)
            assert acks.read() is not None
        writer.done_writing()
        writer.close()
    assert pg_rows(postgres, f"SELECT count(*) FROM {name}") == [(3000,)]
    rows, provenance = ask(cached.uri, f"SELECT count(*) AS n FROM {name}")
    assert rows == [{"n": 3000}] and provenance["source"] == "cache"


def test_rejected_ingest_leaves_cache_and_backend_unchanged(cached, postgres, name):
    ingest(cached.uri, name, readings(10))
    bad = pa.table({"ts": pa.array([utcnow()], pa.timestamp("us")), "sensor": ["x"], "value": ["not a number"]})
    with pytest.raises(adbc_driver_flightsql.dbapi.Error):
        ingest(cached.uri, name, bad, mode="append")
    assert pg_rows(postgres, f"SELECT count(*) FROM {name}") == [(10,)]
    rows, provenance = ask(cached.uri, f"SELECT count(*) AS n FROM {name}")
    assert rows == [{"n": 10}] and provenance["source"] == "cache"


def test_sql_write_invalidates_then_reloads(cached, postgres, name):
    ingest(cached.uri, name, readings(10))
    assert execute(cached.uri, f"DELETE FROM {name} WHERE value < 5") == 5
    rows, _ = ask(cached.uri, f"SELECT count(*) AS n FROM {name}")
    assert rows == [{"n": 5}]  # never the stale 10, wherever it was answered
    # The mirror is reloaded from PostgreSQL; a query it has not answered before is then
    # computed from it (fresh SQL text, so no kept result answers instead).
    probes = iter(range(10**6))
    assert wait_for(lambda: answered(cached.uri, f"SELECT count(*) AS n FROM {name} /* {next(probes)} */")
                    == ([{"n": 5}], "cache"))


def test_plain_inserts_are_written_through_without_a_reload(cached, postgres, name):
    """A plain INSERT (the DB-API's execute, a prepared executemany) into a mirrored table runs
    with RETURNING * added: PostgreSQL stores the rows (its default filled, its cast applied),
    the mirror appends exactly those, the client gets its row count, and the cache keeps
    answering without loading the table again."""
    ingest(cached.uri, name, readings(10))
    execute(cached.uri, f"ALTER TABLE {name} ADD COLUMN note TEXT DEFAULT 'n'")
    probes = iter(range(10**6))
    assert wait_for(lambda: answered(cached.uri, f"SELECT count(*) AS n FROM {name} "
                                                 f"/* {next(probes)} */") == ([{"n": 10}], "cache"))
    # (This table's loads: the metrics table's first load may land meanwhile on a busy machine.)
    table_loads = lambda: dict(execute(cached.uri, "SELECT table_name, loads FROM "
                                                   "hyprstream_cache_tables()"))[name]
    loads = table_loads()
    with adbc_driver_flightsql.dbapi.connect(cached.uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(f"INSERT INTO {name} (ts, sensor, value) VALUES "
                    f"(now()::timestamp, 's9', 100), (now()::timestamp, 's9', '200.5')")
        assert cur.rowcount == 2
        cur.executemany(f"INSERT INTO {name} (ts, sensor, value) VALUES (now()::timestamp, $1, $2)",
                        [("s8", 1.0), ("s8", 2.0), ("s8", 3.0)])
    want = pg_rows(postgres, f"SELECT count(*), sum(value), count(*) FILTER (WHERE note = 'n') "
                             f"FROM {name}")
    assert want == [(15, 45.0 + 300.5 + 6.0, 15)]
    rows, provenance = ask(cached.uri, f"SELECT count(*) AS n, sum(value) AS s, "
                                       f"count(*) FILTER (WHERE note = 'n') AS noted FROM {name}")
    assert rows == [{"n": 15, "s": 351.5, "noted": 15}]
    assert provenance["source"] == "cache"
    assert table_loads() == loads  # appended, not loaded again


def test_sql_transactions_write_through_at_commit(cached, postgres, name):
    """A transaction opened and ended with SQL statements keeps the cache exactly as the API's
    does: its rows reach the mirror at COMMIT (answered from the cache right away), a ROLLBACK's
    never do. The SQL COMMIT used to leave the table out of the cache for good, every later
    query going to PostgreSQL."""
    ingest(cached.uri, name, readings(10))
    with adbc_driver_flightsql.dbapi.connect(cached.uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("BEGIN")
        cur.execute(f"INSERT INTO {name} VALUES (now()::timestamp, 's9', 100.0)")
        cur.execute("COMMIT")
        cur.execute("BEGIN TRANSACTION")
        cur.execute(f"INSERT INTO {name} VALUES (now()::timestamp, 's9', 200.0)")
        cur.execute("ROLLBACK")
    assert pg_rows(postgres, f"SELECT count(*), sum(value) FROM {name}") == [(11, 145.0)]
    probes = iter(range(10**6))
    seen = []  # the last answer, for the message should it never be the right one

    def from_cache():
        seen[:] = [answered(cached.uri, f"SELECT count(*) AS n, sum(value) AS s FROM {name} "
                                        f"/* {next(probes)} */")]
        return seen[0] == ([{"n": 11, "s": 145.0}], "cache")

    assert wait_for(from_cache, timeout=10), (
        f"last answer {seen}; mirror {ask(cached.uri, 'SELECT * FROM hyprstream_cache_tables()')}")


def test_results_of_other_tables_are_kept_until_ttl_or_write(postgres, start_server, name):
    # (A TTL with room for the server's start-up work in the background: the first steps must
    # run within it.)
    front = start_server(*adbc_args(postgres), *README_CACHE_FLAGS, "--cache-result-ttl", "5s",
                         env=CREDENTIALS)
    with adbc_driver_postgresql.dbapi.connect(postgres.uri) as pc:
        cur = pc.cursor()
        cur.execute(f"CREATE TABLE {name} AS SELECT g AS id FROM generate_series(1, 100) g")
        pc.commit()
    sql = f"SELECT count(*) AS n FROM {name}"
    rows, provenance = ask(front.uri, sql)
    assert rows == [{"n": 100}] and provenance["source"] == "backend"
    rows, provenance = ask(front.uri, sql)
    assert rows == [{"n": 100}] and provenance["source"] == "result-cache"
    # A write through hyprstream drops the kept result at once.
    assert execute(front.uri, f"INSERT INTO {name} VALUES (101)") == 1
    rows, provenance = ask(front.uri, sql)
    assert rows == [{"n": 101}] and provenance["source"] == "backend" and provenance["cache"] == "miss"
    # A write straight into PostgreSQL shows once the result expires (TTL 5s)...
    with adbc_driver_postgresql.dbapi.connect(postgres.uri) as pc:
        cur = pc.cursor()
        cur.execute(f"INSERT INTO {name} VALUES (102)")
        pc.commit()
    assert ask(front.uri, sql)[0] == [{"n": 101}]
    assert wait_for(lambda: ask(front.uri, sql)[0] == [{"n": 102}], timeout=15)
    # ...or at once for a client that asks for fresh data.
    with adbc_driver_postgresql.dbapi.connect(postgres.uri) as pc:
        cur = pc.cursor()
        cur.execute(f"INSERT INTO {name} VALUES (103)")
        pc.commit()
    rows, provenance = ask(front.uri, sql, headers=[("x-hyprstream-max-staleness", "0")])
    assert rows == [{"n": 103}] and provenance["cache"] == "bypass"


def test_rows_inserted_directly_into_postgres_are_refreshed(postgres, start_server, name):
    with adbc_driver_postgresql.dbapi.connect(postgres.uri) as pc:
        cur = pc.cursor()
        cur.execute(f"CREATE TABLE {name} (ts timestamp, v double precision)")
        cur.execute(f"INSERT INTO {name} VALUES (now() AT TIME ZONE 'UTC', 1)")
        pc.commit()
    front = start_server(*adbc_args(postgres), *README_CACHE_FLAGS, "--cache-tables", f"{name}=ts/append",
                         "--cache-refresh-interval", "1s", env=CREDENTIALS)
    sql = f"SELECT sum(v) AS total FROM {name}"
    assert wait_for(lambda: answered(front.uri, sql) == ([{"total": 1.0}], "cache"))
    with adbc_driver_postgresql.dbapi.connect(postgres.uri) as pc:
        cur = pc.cursor()
        cur.execute(f"INSERT INTO {name} VALUES ((now() AT TIME ZONE 'UTC') + INTERVAL '1 second', 2)")
        pc.commit()
    assert wait_for(lambda: ask(front.uri, sql)[0] == [{"total": 3.0}])
    rows, provenance = ask(front.uri, sql)
    # Computed from the refreshed mirror, then kept (the refresh dropped the older result).
    assert provenance["source"] in ("cache", "result-cache") and provenance["cache"] == "hit"
    # The session option bounds staleness too: 0 always reads PostgreSQL.
    with adbc_driver_flightsql.dbapi.connect(front.uri, autocommit=True) as conn:
        conn.adbc_connection.set_options(**{"adbc.flight.sql.session.option.hyprstream.max_staleness": "0"})
        cur = conn.cursor()
        cur.execute(sql)
        assert cur.fetchall() == [(3.0,)]
    stats = dict(execute(front.uri, "SELECT name, value FROM hyprstream_cache_stats()"))
    assert stats["mirror_refreshes"] >= 1 and stats["hits"] >= 1
    tables = execute(front.uri, "SELECT table_name, state, rows FROM hyprstream_cache_tables()")
    assert (name, "ready", 2) in tables


def test_old_rows_evicted_and_uncovered_queries_go_to_postgres(postgres, start_server, name):
    front = start_server(*adbc_args(postgres), *README_CACHE_FLAGS, "--cache-max-duration", "1h",
                         "--cache-result-ttl", "0", env=CREDENTIALS)
    ingest(front.uri, name, readings(10))                                   # now
    ingest(front.uri, name, readings(5, start=10, age=dt.timedelta(hours=3)), mode="append")  # old
    stats = lambda: dict(execute(front.uri, "SELECT name, value FROM hyprstream_cache_stats()"))
    assert wait_for(lambda: stats()["rows_evicted"] == 5)
    assert wait_for(lambda: stats()["cache_memory_bytes"] > 0)
    assert stats()["mirrored_rows"] == 10
    recent = f"SELECT count(*) AS n FROM {name} WHERE ts >= now() - INTERVAL '30 minutes'"
    rows, provenance = ask(front.uri, recent)
    assert rows == [{"n": 10}] and provenance["source"] == "cache"
    rows, provenance = ask(front.uri, f"SELECT count(*) AS n FROM {name}")
    assert rows == [{"n": 15}] and provenance["source"] == "backend"


def test_backend_down_clear_errors_no_divergence_and_recovery(postgres, start_server, name):
    front = start_server(*adbc_args(postgres, "pool_max=4&pool_min=1&connect_timeout=3"),
                         *README_CACHE_FLAGS, env=CREDENTIALS)
    ingest(front.uri, name, readings(100))
    postgres.stop()
    try:
        # Cached data still answers, and says how old it is.
        rows, provenance = ask(front.uri, f"SELECT count(*) AS n FROM {name}")
        assert rows == [{"n": 100}] and provenance["source"] == "cache"
        # Writes fail with a clear, retryable error; nothing reaches the cache.
        with pytest.raises(adbc_driver_flightsql.dbapi.Error) as failure:
            ingest(front.uri, name, readings(7), mode="append")
        assert "UNAVAILABLE" in str(failure.value).upper() or "unreachable" in str(failure.value)
        rows, _ = ask(front.uri, f"SELECT count(*) AS n FROM {name}")
        assert rows == [{"n": 100}]
        # What the cache cannot answer fails clearly too (no hang).
        with pytest.raises(flight.FlightError):
            ask(front.uri, "SELECT count(*) FROM pg_class")
    finally:
        postgres.start()
    assert wait_for(lambda: _ingest_ok(front.uri, name), timeout=30)
    assert pg_rows(postgres, f"SELECT count(*) FROM {name}") == [(107,)]
    rows, provenance = ask(front.uri, f"SELECT count(*) AS n FROM {name}")
    assert rows == [{"n": 107}] and provenance["source"] == "cache"


def _ingest_ok(uri, name):
    try:
        ingest(uri, name, readings(7), mode="append")
        return True
    except adbc_driver_flightsql.dbapi.Error:
        return False


def test_readme_cache_command_as_written(postgres, tmp_path, name):
    """The README's cache command, run by bash as written; only the binary, the backend's port,
    the driver's path and our free port are substituted."""
    import os
    import re
    import subprocess

    from conftest import BINARY, ROOT, free_port

    readme = (ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"```bash\n(.*?)```", readme, flags=re.S) if "--enable-cache" in b)
    port = free_port()
    script = (block.replace("localhost:5432", f"127.0.0.1:{postgres.port}")
              .replace("/usr/local/lib/libadbc_driver_postgresql.so", PG_DRIVER)
              .replace("\nhyprstream ", f"\nexec {BINARY} --port {port} "))
    assert f"exec {BINARY}" in script, "the README block no longer starts hyprstream"
    log = open(tmp_path / "readme-cache.log", "w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPRSTREAM_ENGINE_")}
    proc = subprocess.Popen(["bash", "-c", script], stdout=log, stderr=log, env=env)
    uri = f"grpc://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _answers(uri), timeout=30), (tmp_path / "readme-cache.log").read_text()
        assert ingest(uri, name, readings(42)) == 42
        assert pg_rows(postgres, f"SELECT count(*) FROM {name}") == [(42,)]
        assert answered(uri, f"SELECT count(*) AS n FROM {name}") == ([{"n": 42}], "cache")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "secret" not in (tmp_path / "readme-cache.log").read_text()


def _answers(uri):
    try:
        with flight.connect(uri) as client:
            list(client.list_actions())
        return True
    except flight.FlightError:
        return False


def test_cache_in_front_of_sqlite(start_server, tmp_path, name):
    """The same write-through and cached reads with the SQLite ADBC driver as the backend."""
    import adbc_driver_sqlite.dbapi

    db = tmp_path / "backend.db"
    front = start_server("--engine", "adbc", "--engine-connection", f"{db}?pool_max=3",
                         "--engine-options", "driver=sqlite", *README_CACHE_FLAGS)
    data = pa.table({"id": list(range(100)), "v": [float(i) for i in range(100)]})
    assert ingest(front.uri, name, data) == 100
    with adbc_driver_sqlite.dbapi.connect(str(db)) as direct:
        cur = direct.cursor()
        cur.execute(f"SELECT count(*), sum(v) FROM {name}")
        assert cur.fetchall() == [(100, 4950.0)]
    rows, provenance = ask(front.uri, f"SELECT count(*) AS n, sum(v) AS total, 7 / 2 AS half FROM {name}")
    assert rows == [{"n": 100, "total": 4950.0, "half": 3}] and provenance["source"] == "cache"
    assert execute(front.uri, f"DELETE FROM {name} WHERE id >= 50") == 50
    assert ask(front.uri, f"SELECT count(*) AS n FROM {name}")[0] == [{"n": 50}]
    probes = iter(range(10**6))
    assert wait_for(lambda: answered(front.uri, f"SELECT count(*) AS n FROM {name} /* {next(probes)} */")
                    == ([{"n": 50}], "cache"))


def test_cache_answers_send_valid_arrow_and_fail_on_a_hugeint_beyond_38_digits(start_server,
                                                                               tmp_path, name):
    """Answers from the DuckDB cache go through the same conversion as the DuckDB engine's: a
    SUM (HUGEINT in DuckDB) arrives as decimal128(38, 0) and valid, and a HUGEINT of 39 digits
    fails the query naming the column (SQLite, the backend, cannot run this SQL at all, so the
    message proves the cache answered)."""
    front = start_server("--engine", "adbc", "--engine-connection",
                         f"{tmp_path / 'backend.db'}?pool_max=3", "--engine-options",
                         "driver=sqlite", *README_CACHE_FLAGS)
    assert ingest(front.uri, name, pa.table({"id": list(range(100))})) == 100
    with flight.connect(front.uri) as client:
        info = client.get_flight_info(flight.FlightDescriptor.for_command(
            wire.statement_query(f"SELECT sum(id)::HUGEINT * 10 AS s FROM {name}")))
        table = client.do_get(info.endpoints[0].ticket).read_all()  # validated by conftest
    assert table.schema.field("s").type == pa.decimal128(38, 0)
    assert table.column("s").to_pylist() == [49500]
    assert (table.schema.metadata or {}).get(b"hyprstream.source") == b"cache"
    big = (f"SELECT id, id::HUGEINT * 10000000000000000000000000000000000000 AS big FROM {name} "
           "WHERE id <= 10 ORDER BY id")  # the last row is 10^38
    with adbc_driver_flightsql.dbapi.connect(front.uri, autocommit=True) as conn:
        cur = conn.cursor()
        with pytest.raises(adbc_driver_flightsql.dbapi.ProgrammingError,
                           match=r'column "big" \(HUGEINT\) holds the value '
                                 r"100000000000000000000000000000000000000, which has more "
                                 r"digits than its Arrow type decimal128\(38, 0\)") as error:
            cur.execute(big)
            cur.fetchall()
        assert "INVALID_ARGUMENT" in str(error.value)


def test_a_query_both_sides_refuse_reports_the_duckdb_caches_error_too(start_server, tmp_path,
                                                                       name):
    """DuckDB's SQL that fails in the cache's DuckDB on its data (an overflow when prepared,
    error() when run) and that the backend cannot run either: the error is the backend's and
    says what DuckDB said first. It was the backend's alone (SQLite: a syntax error at '::'),
    hiding the reason."""
    front = start_server("--engine", "adbc", "--engine-connection",
                         f"{tmp_path / 'backend.db'}?pool_max=3", "--engine-options",
                         "driver=sqlite", *README_CACHE_FLAGS)
    assert ingest(front.uri, name, pa.table({"id": list(range(10))})) == 10
    probes = iter(range(10**6))
    assert wait_for(lambda: answered(front.uri, f"SELECT count(*) AS n FROM {name} "
                                                f"/* {next(probes)} */") == ([{"n": 10}], "cache"))
    with adbc_driver_flightsql.dbapi.connect(front.uri, autocommit=True) as conn:
        cur = conn.cursor()
        for sql, duckdb_says in [
                (f"SELECT id, 170141183460469231731687303715884105727::HUGEINT + id AS big "
                 f"FROM {name} WHERE id = 1", "Overflow"),
                (f"SELECT id, error('no such id ' || id) AS e FROM {name}", "no such id 0")]:
            with pytest.raises(adbc_driver_flightsql.dbapi.Error) as refused:
                cur.execute(sql)
                cur.fetchall()
            assert duckdb_says in str(refused.value), (sql, str(refused.value))
