"""hyprstream --engine adbc in front of a REAL PostgreSQL 15 (the `postgres` fixture), driven by
the real clients (adbc_driver_flightsql.dbapi, pyarrow.flight); what hyprstream wrote is read
back DIRECTLY from PostgreSQL with adbc_driver_postgresql.dbapi. Also a smaller pass-through
smoke test against the SQLite ADBC driver."""
import concurrent.futures
import pathlib
import subprocess
import threading
import time
import uuid

import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import adbc_driver_postgresql
import adbc_driver_postgresql.dbapi
import adbc_driver_sqlite.dbapi
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flightsql_wire as wire
from conftest import free_port
from prometheus_text import http_get, metric, parse_metrics

PG_DRIVER = str(pathlib.Path(adbc_driver_postgresql.__file__).parent / "libadbc_driver_postgresql.so")
CREDENTIALS = {"HYPRSTREAM_ENGINE_USERNAME": "postgres", "HYPRSTREAM_ENGINE_PASSWORD": "secret"}


def adbc_args(pg, query="pool_max=10&pool_min=1&connect_timeout=30"):
    return ["--engine", "adbc", "--engine-connection",
            f"postgresql://127.0.0.1:{pg.port}/metrics?{query}",
            "--engine-options", f"driver_path={PG_DRIVER}"]


@pytest.fixture
def front(postgres, start_server):
    """hyprstream --engine adbc on the shared PostgreSQL; credentials only via the env."""
    return start_server(*adbc_args(postgres), env=CREDENTIALS)


@pytest.fixture
def name():
    return "t_" + uuid.uuid4().hex[:10]


def pg_rows(postgres, sql):
    """Rows read DIRECTLY from PostgreSQL (not through hyprstream)."""
    with adbc_driver_postgresql.dbapi.connect(postgres.uri) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall()


def execute(uri, sql, parameters=None, autocommit=True):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=autocommit) as conn:
        cur = conn.cursor()
        cur.execute(sql, parameters)
        return cur.fetch_arrow_table() if cur.description else cur.rowcount


def flight_sql(uri, command_name, fields=()):
    with flight.connect(uri) as client:
        descriptor = flight.FlightDescriptor.for_command(wire.any_of(command_name, list(fields)))
        info = client.get_flight_info(descriptor)
        table = client.do_get(info.endpoints[0].ticket).read_all()
    assert table.schema == info.schema
    return table


def test_select_with_types(front):
    table = execute(front.uri, "SELECT 1::int4 AS i, 2::int8 AS l, 'x'::text AS s, 1.5::float8 AS f, "
                               "true AS b, DATE '2024-01-02' AS d, "
                               "TIMESTAMP '2024-01-02 03:04:05' AS ts, NULL::int AS n")
    assert table.schema.types == [pa.int32(), pa.int64(), pa.string(), pa.float64(), pa.bool_(),
                                  pa.date32(), pa.timestamp("us"), pa.int32()]
    assert table.to_pylist()[0]["s"] == "x" and table.to_pylist()[0]["n"] is None
    big = execute(front.uri, "SELECT g FROM generate_series(1, 200000) g")
    assert big.num_rows == 200000 and pa.compute.sum(big["g"]).as_py() == 200000 * 200001 // 2


def test_dml_row_counts(front, postgres, name):
    assert execute(front.uri, f"CREATE TABLE {name} (id int PRIMARY KEY, v text)") in (-1, 0)
    assert execute(front.uri, f"INSERT INTO {name} VALUES (1, 'a'), (2, 'b'), (3, 'c')") == 3
    assert execute(front.uri, f"UPDATE {name} SET v = 'z' WHERE id >= 2") == 2
    assert execute(front.uri, f"DELETE FROM {name} WHERE id = 1") == 1
    assert pg_rows(postgres, f"SELECT id, v FROM {name} ORDER BY id") == [(2, "z"), (3, "z")]


def test_prepared_statements_with_parameters(front, postgres, name):
    execute(front.uri, f"CREATE TABLE {name} (id int, v text)")
    with adbc_driver_flightsql.dbapi.connect(front.uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.executemany(f"INSERT INTO {name} VALUES ($1, $2)", [(1, "a"), (2, "b"), (3, "c")])
        assert cur.rowcount == 3
        cur.execute(f"SELECT v FROM {name} WHERE id = $1", (2,))
        assert cur.fetchall() == [("b",)]
        # The same prepared statement again, with other parameters.
        cur.execute(f"SELECT v FROM {name} WHERE id = $1", (3,))
        assert cur.fetchall() == [("c",)]
    assert pg_rows(postgres, f"SELECT count(*) FROM {name}") == [(3,)]


@pytest.mark.parametrize("mode", ["create", "append", "replace", "create_append"])
def test_ingest_modes_land_in_postgres(front, postgres, name, mode):
    data = pa.table({"id": pa.array(range(1000), pa.int64()),
                     "v": pa.array([f"r{i}" for i in range(1000)])})
    with adbc_driver_flightsql.dbapi.connect(front.uri, autocommit=True) as conn:
        cur = conn.cursor()
        if mode in ("append", "replace"):
            cur.execute(f"CREATE TABLE {name} (id bigint, v text)")
            cur.execute(f"INSERT INTO {name} VALUES (-1, 'old')")
        assert cur.adbc_ingest(name, data, mode=mode) == 1000
    expected = 1001 if mode == "append" else 1000
    assert pg_rows(postgres, f"SELECT count(*), sum(id)::bigint FROM {name}") == [
        (expected, sum(range(1000)) - (1 if mode == "append" else 0))]
    assert pg_rows(postgres, f"SELECT v FROM {name} WHERE id = 999") == [("r999",)]


def test_ingest_into_missing_table_fails_cleanly(front, name):
    with adbc_driver_flightsql.dbapi.connect(front.uri, autocommit=True) as conn:
        with pytest.raises(Exception) as error:
            conn.cursor().adbc_ingest(name, pa.table({"a": [1]}), mode="append")
    assert "NOT_FOUND" in str(error.value) or "does not exist" in str(error.value)


def test_transactions_commit_and_rollback(front, postgres, name):
    execute(front.uri, f"CREATE TABLE {name} (id int)")
    with adbc_driver_flightsql.dbapi.connect(front.uri) as conn:  # autocommit off
        cur = conn.cursor()
        cur.execute(f"INSERT INTO {name} VALUES (1)")
        cur.execute(f"SELECT count(*) FROM {name}")
        assert cur.fetchall() == [(1,)]
        assert pg_rows(postgres, f"SELECT count(*) FROM {name}") == [(0,)]  # not yet visible
        conn.rollback()
        cur.execute(f"INSERT INTO {name} VALUES (2)")
        cur.adbc_ingest(name, pa.table({"id": pa.array([3, 4], pa.int32())}), mode="append")
        conn.commit()
    assert pg_rows(postgres, f"SELECT id FROM {name} ORDER BY id") == [(2,), (3,), (4,)]


def test_sql_transaction_statements_pin_one_backend_connection(front, postgres, name):
    """BEGIN / COMMIT / ROLLBACK written as SQL (any spelling) are the session's transaction:
    the statements between them run on one PostgreSQL connection; a BEGIN with options the
    pool cannot honour is refused, saying what to write instead."""
    execute(front.uri, f"CREATE TABLE {name} (id int)")
    with adbc_driver_flightsql.dbapi.connect(front.uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("BEGIN TRANSACTION")
        cur.execute(f"INSERT INTO {name} VALUES (1)")
        cur.execute(f"SELECT count(*) FROM {name}")
        assert cur.fetchall() == [(1,)]  # the same connection sees its own row
        assert pg_rows(postgres, f"SELECT count(*) FROM {name}") == [(0,)]
        cur.execute("ROLLBACK WORK")
        cur.execute("START TRANSACTION")
        cur.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        cur.execute(f"INSERT INTO {name} VALUES (2)")
        cur.execute("COMMIT")
        assert pg_rows(postgres, f"SELECT id FROM {name}") == [(2,)]
        with pytest.raises(adbc_driver_flightsql.dbapi.Error, match="SET TRANSACTION"):
            cur.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
        cur.execute(f"INSERT INTO {name} VALUES (3)")  # not left inside a transaction
    assert pg_rows(postgres, f"SELECT id FROM {name} ORDER BY id") == [(2,), (3,)]


def test_metadata_passes_through(front, postgres, name):
    execute(front.uri, f"CREATE TABLE {name}_p (id int PRIMARY KEY, label text NOT NULL)")
    execute(front.uri, f"CREATE TABLE {name}_c (cid bigint, pid int REFERENCES {name}_p (id))")
    with adbc_driver_flightsql.dbapi.connect(front.uri) as conn:
        catalogs = conn.adbc_get_objects(depth="catalogs").read_all().to_pylist()
        assert "metrics" in [c["catalog_name"] for c in catalogs]
        schemas = conn.adbc_get_objects(depth="db_schemas", catalog_filter="metrics").read_all()
        names = [s["db_schema_name"] for c in schemas.to_pylist() for s in c["catalog_db_schemas"]]
        assert "public" in names
        tables = conn.adbc_get_objects(depth="tables", catalog_filter="metrics",
                                       table_name_filter=f"{name}%").read_all().to_pylist()
        found = sorted(t["table_name"] for c in tables for s in c["catalog_db_schemas"]
                       for t in s["db_schema_tables"])
        assert found == [f"{name}_c", f"{name}_p"]
        columns = conn.adbc_get_objects(depth="all", catalog_filter="metrics",
                                        table_name_filter=f"{name}_p").read_all().to_pylist()
        table = columns[0]["catalog_db_schemas"][0]["db_schema_tables"][0]
        assert [c["column_name"] for c in table["table_columns"]] == ["id", "label"]
        schema = conn.adbc_get_table_schema(f"{name}_p")
        assert schema.names == ["id", "label"] and schema.types == [pa.int32(), pa.string()]
        assert "table" in conn.adbc_get_table_types() and "view" in conn.adbc_get_table_types()
        info = conn.adbc_get_info()
        assert info["vendor_name"] == "PostgreSQL"
    keys = flight_sql(front.uri, "CommandGetPrimaryKeys", [(3, f"{name}_p")])
    assert keys["column_name"].to_pylist() == ["id"] and keys["key_sequence"].to_pylist() == [1]
    imported = flight_sql(front.uri, "CommandGetImportedKeys", [(3, f"{name}_c")])
    assert imported["pk_table_name"].to_pylist() == [f"{name}_p"]
    assert imported["pk_column_name"].to_pylist() == ["id"]
    assert imported["fk_column_name"].to_pylist() == ["pid"]
    exported = flight_sql(front.uri, "CommandGetExportedKeys", [(3, f"{name}_p")])
    assert exported["fk_table_name"].to_pylist() == [f"{name}_c"]
    cross = flight_sql(front.uri, "CommandGetCrossReference",
                       [(3, f"{name}_p"), (6, f"{name}_c")])
    assert cross["fk_column_name"].to_pylist() == ["pid"]
    tables = flight_sql(front.uri, "CommandGetTables", [(1, "metrics"), (3, f"{name}%"), (5, True)])
    assert tables["table_name"].to_pylist() == [f"{name}_c", f"{name}_p"]
    assert tables["db_schema_name"].to_pylist() == ["public", "public"]
    schema = pa.ipc.read_schema(pa.py_buffer(tables["table_schema"][1].as_py()))
    assert schema.names == ["id", "label"] and schema.types == [pa.int32(), pa.string()]
    assert schema.field("id").metadata[b"ARROW:FLIGHT:SQL:TABLE_NAME"] == f"{name}_p".encode()
    schemas = flight_sql(front.uri, "CommandGetDbSchemas", [(1, "metrics"), (2, "pub%")])
    assert schemas.to_pylist() == [{"catalog_name": "metrics", "db_schema_name": "public"}]
    assert flight_sql(front.uri, "CommandGetDbSchemas", [(1, "")]).num_rows == 0


def test_error_codes(front):
    with adbc_driver_flightsql.dbapi.connect(front.uri, autocommit=True) as conn:
        cur = conn.cursor()
        with pytest.raises(adbc_driver_flightsql.dbapi.ProgrammingError) as bad:
            cur.execute("SELEC 1")
        assert "INVALID_ARGUMENT" in str(bad.value) and "syntax error" in str(bad.value)
        with pytest.raises(adbc_driver_flightsql.dbapi.ProgrammingError) as missing:
            cur.execute("SELECT * FROM no_such_table_here")
        assert "NOT_FOUND" in str(missing.value) and "no_such_table_here" in str(missing.value)
        # An error raised while rows already stream (row 100000 of 200000).
        with pytest.raises(adbc_driver_flightsql.dbapi.ProgrammingError) as late:
            cur.execute("SELECT 1 / (g - 100000) FROM generate_series(1, 200000) g")
            cur.fetchall()
        assert "INVALID_ARGUMENT" in str(late.value) and "division by zero" in str(late.value)


def test_password_never_shown(front):
    execute(front.uri, "SELECT 1")
    assert "secret" not in front.log()
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    line = [l for l in ps.splitlines() if str(front.port) in l]
    assert line and all("secret" not in l for l in line)


def test_readme_command_as_written(postgres, start_server):
    # The command, with only driver_path and the port substituted.
    server = start_server(
        "--engine", "adbc",
        "--engine-connection",
        f"postgresql://localhost:{postgres.port}/metrics?pool_max=10&pool_min=1&connect_timeout=30",
        "--engine-options", f"driver_path={PG_DRIVER}",
        env={"HYPRSTREAM_ENGINE_USERNAME": "postgres", "HYPRSTREAM_ENGINE_PASSWORD": "secret"})
    assert execute(server.uri, "SELECT current_database() AS db").to_pylist() == [{"db": "metrics"}]


def test_unreachable_backend_fails_startup_naming_it(start_server, postgres):
    with socket_port() as port:
        with pytest.raises(RuntimeError) as error:
            start_server("--engine", "adbc", "--engine-connection",
                         f"postgresql://127.0.0.1:{port}/metrics?connect_timeout=2",
                         "--engine-options", f"driver_path={PG_DRIVER}", env=CREDENTIALS)
    assert f"127.0.0.1:{port}" in str(error.value)
    assert "secret" not in str(error.value)


class socket_port:
    """A loopback port nobody listens on."""

    def __enter__(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def __exit__(self, *exc):
        return False


def test_pool_max_is_honoured(postgres, start_server):
    server = start_server(*adbc_args(postgres, "pool_max=2&pool_min=1&connect_timeout=30"),
                          env=CREDENTIALS)
    seen = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            seen.append(int(postgres.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'metrics' "
                "AND client_addr IS NOT NULL AND application_name = ''")))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(
                lambda i: execute(server.uri, f"SELECT {i} AS i, pg_sleep(0.3)").column("i")[0].as_py(),
                range(6)))
    finally:
        stop.set()
        watcher.join()
    assert sorted(results) == list(range(6))
    assert seen and max(seen) <= 2


def test_exhausted_pool_is_unavailable_with_retry_hint(postgres, start_server, name):
    server = start_server(*adbc_args(postgres, "pool_max=1&pool_min=1&connect_timeout=1"),
                          env=CREDENTIALS)
    with adbc_driver_flightsql.dbapi.connect(server.uri) as holder:  # a transaction pins the one
        cur = holder.cursor()
        cur.execute("SELECT 1")
        cur.fetchall()
        with pytest.raises(Exception) as busy:
            execute(server.uri, "SELECT 2")
        # Ends the transaction without opening the next one (rollback() would open another).
        holder.adbc_connection.set_options(**{"adbc.connection.autocommit": "true"})
    assert "Unavailable" in str(busy.value)  # Flight UNAVAILABLE, as the ADBC client shows it
    assert "all 1 backend connections are busy" in str(busy.value) and "retry" in str(busy.value)
    assert execute(server.uri, "SELECT 3 AS x").to_pylist() == [{"x": 3}]


def test_backend_down_then_back(postgres, front, name):
    execute(front.uri, f"CREATE TABLE {name} (id int)")
    execute(front.uri, f"INSERT INTO {name} VALUES (1)")
    postgres.stop()
    try:
        with pytest.raises(Exception) as down:
            execute(front.uri, f"SELECT * FROM {name}")
        assert "Unavailable" in str(down.value), str(down.value)
        assert "backend unreachable" in str(down.value) and "retry" in str(down.value)
        assert front.process.poll() is None  # still serving
    finally:
        postgres.start()
    # Recovers by itself: stale pooled connections are replaced.
    assert execute(front.uri, f"SELECT id FROM {name}").to_pylist() == [{"id": 1}]
    assert execute(front.uri, f"INSERT INTO {name} VALUES (2)") == 1
    assert pg_rows(postgres, f"SELECT count(*) FROM {name}") == [(2,)]


@pytest.mark.parametrize("how", ["statement", "ingest"])
def test_a_write_whose_connection_is_ended_is_not_run_again(postgres, front, name, how):
    """A write on a pooled connection that dies under it (here an administrator ends it; a
    backend crash right after a commit looks the same) fails with UNAVAILABLE instead of
    being run again on another connection: the backend may have applied it already. Reads are
    still retried once on a new connection."""
    execute(front.uri, f"CREATE TABLE {name} (id bigint)")
    for _ in range(3):
        execute(front.uri, "SELECT 1")  # the next borrow is of an idle, reused connection
    marker = f"{name}_slow"
    failures = []

    def write():
        try:
            if how == "statement":
                execute(front.uri, f"INSERT INTO {name} SELECT 1 FROM pg_sleep(3) "
                                   f"WHERE '{marker}' <> ''")
            else:  # the COPY of a bulk ingest, held by a trigger that sleeps
                with adbc_driver_flightsql.dbapi.connect(front.uri, autocommit=True) as conn:
                    conn.cursor().adbc_ingest(name, pa.table({"id": pa.array([1], pa.int64())}),
                                              mode="append")
        except Exception as e:  # noqa: BLE001 (asserted below)
            failures.append(e)

    if how == "ingest":
        with adbc_driver_postgresql.dbapi.connect(postgres.uri) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE FUNCTION {marker}() RETURNS trigger LANGUAGE plpgsql AS "
                        "$$ BEGIN PERFORM pg_sleep(3); RETURN NEW; END $$")
            cur.execute(f"CREATE TRIGGER {marker} BEFORE INSERT ON {name} FOR EACH ROW "
                        f"EXECUTE FUNCTION {marker}()")
            conn.commit()
    writer = threading.Thread(target=write)
    writer.start()
    ended = []
    for _ in range(200):
        ended = pg_rows(postgres, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE state = 'active' AND pid <> pg_backend_pid() AND "
                                  f"(query LIKE '%{marker}%' OR query LIKE 'COPY%{name}%')")
        if ended:
            break
        time.sleep(0.05)
    writer.join()
    assert ended == [(True,)]
    assert len(failures) == 1 and "Unavailable" in str(failures[0]), failures
    assert "terminating connection" in str(failures[0])
    assert pg_rows(postgres, f"SELECT count(*) FROM {name}") == [(0,)]  # not run again
    assert execute(front.uri, f"SELECT count(*) AS n FROM {name}").to_pylist() == [{"n": 0}]


# hyprstream's connections to PostgreSQL (the tests' own direct reads are the only others).
OURS = ("FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend'")


def open_backend_connections(uri, table, n):
    """Has hyprstream open n backend connections (n sessions in transactions at once), then
    gives them back to its pool."""
    holders = [adbc_driver_flightsql.dbapi.connect(uri, autocommit=False) for _ in range(n)]
    try:
        for holder in holders:
            holder.cursor().execute(f"SELECT count(*) FROM {table}")
        for holder in holders:
            holder.adbc_connection.rollback()
            holder.adbc_connection.set_options(**{"adbc.connection.autocommit": "true"})
    finally:
        for holder in holders:
            holder.close()


@pytest.mark.parametrize("write", ["update", "transaction", "ingest"])
@pytest.mark.parametrize("how", ["restart", "idle_ended"])
def test_the_first_write_after_idle_connections_died_succeeds(postgres, start_server, name, how,
                                                              write):
    """Pooled connections that died while idle (the backend restarted, or an administrator or
    idle_session_timeout ended them) are checked before they are lent, so the first write
    afterwards succeeds instead of failing once with UNAVAILABLE (a write on a dead connection
    is not run again, see above): a statement update, a transaction, a bulk ingest."""
    http_port = free_port()
    server = start_server(*adbc_args(postgres, "pool_max=4&pool_min=1"), "--http-port",
                          str(http_port), env=CREDENTIALS)
    execute(server.uri, f"CREATE TABLE {name} (id bigint)")
    open_backend_connections(server.uri, name, 4)
    assert pg_rows(postgres, f"SELECT count(*) {OURS} AND state = 'idle'") == [(4,)]
    if how == "restart":
        postgres.stop()
        postgres.start()
    else:
        assert pg_rows(postgres, f"SELECT count(pg_terminate_backend(pid)) {OURS}") == [(4,)]
    time.sleep(1.2)  # idle for longer than the pool lends a connection without a check (1 s)
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=write != "transaction") as conn:
        cur = conn.cursor()
        if write == "update":  # CommandStatementUpdate, as JDBC's executeUpdate and Go's Exec
            cur.adbc_statement.set_sql_query(f"INSERT INTO {name} VALUES (1)")
            assert cur.adbc_statement.execute_update() == 1
        elif write == "transaction":
            cur.execute(f"INSERT INTO {name} VALUES (1)")
            conn.commit()
        else:
            cur.adbc_ingest(name, pa.table({"id": pa.array([1], pa.int64())}), mode="append")
    assert pg_rows(postgres, f"SELECT id FROM {name}") == [(1,)]
    assert "died while idle" in server.log()
    samples = parse_metrics(http_get(http_port, "/metrics")[1])
    assert metric(samples, "hyprstream_backend_connection_checks_total") >= 1
    assert metric(samples, "hyprstream_backend_connections_found_dead_total") >= 1
    assert metric(samples, "hyprstream_backend_connections_opened_total") >= 5
    assert metric(samples, "hyprstream_backend_connections_max") == 4
    # The DB-API transaction's session still holds its connection (it began the next one).
    in_use = metric(samples, "hyprstream_backend_connections", state="in_use")
    assert in_use == (1 if write == "transaction" else 0)
    assert 1 <= in_use + metric(samples, "hyprstream_backend_connections", state="idle") <= 4


def test_idle_connections_beyond_pool_min_go_back_to_the_backend(postgres, start_server, name):
    """After a burst, connections idle for pool_idle_timeout are closed down to pool_min (a
    PostgreSQL's max_connections is shared by every client), and new ones open on demand."""
    http_port = free_port()
    server = start_server(*adbc_args(postgres, "pool_max=5&pool_min=2&pool_idle_timeout=1"),
                          "--http-port", str(http_port), env=CREDENTIALS)
    execute(server.uri, f"CREATE TABLE {name} (id bigint)")
    open_backend_connections(server.uri, name, 5)
    assert pg_rows(postgres, f"SELECT count(*) {OURS}")[0][0] == 5
    deadline = time.monotonic() + 30
    while pg_rows(postgres, f"SELECT count(*) {OURS}")[0][0] > 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)  # well past the timeout: the two of pool_min stay
    assert pg_rows(postgres, f"SELECT count(*) {OURS}") == [(2,)]
    samples = parse_metrics(http_get(http_port, "/metrics")[1])
    assert metric(samples, "hyprstream_backend_connections_closed_idle_total") == 3
    assert metric(samples, "hyprstream_backend_connections", state="idle") == 2
    open_backend_connections(server.uri, name, 4)  # a new burst opens connections again
    assert execute(server.uri, f"INSERT INTO {name} VALUES (1)") == 1
    assert pg_rows(postgres, f"SELECT count(*) FROM {name}") == [(1,)]


def end_connections_of(postgres, where):
    """pg_terminate_backend of hyprstream's connections matching `where`; how many."""
    return pg_rows(postgres, f"SELECT count(pg_terminate_backend(pid)) {OURS} AND {where}")[0][0]


@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_a_transaction_whose_connection_dies_is_lost_whole(postgres, front, name, end):
    """When the backend connection of an open transaction dies, the transaction is gone with
    it: the statements the client sends before it ends the transaction fail instead of running
    in autocommit on another connection (before, they were applied and kept while the client
    believed them inside a transaction it then could not commit), a commit says the
    transaction was rolled back, a rollback ends it, and the session goes on."""
    execute(front.uri, f"CREATE TABLE {name} (id bigint)")
    with adbc_driver_flightsql.dbapi.connect(front.uri, autocommit=False) as conn:
        cur = conn.cursor()
        cur.execute(f"INSERT INTO {name} VALUES (1)")
        assert end_connections_of(postgres, "state = 'idle in transaction'") == 1
        with pytest.raises(adbc_driver_manager.OperationalError) as died:
            cur.execute(f"INSERT INTO {name} VALUES (2)")
        assert "terminating connection" in str(died.value)
        with pytest.raises(adbc_driver_manager.OperationalError) as refused:
            cur.execute(f"INSERT INTO {name} VALUES (3)")
        assert "the transaction was aborted" in str(refused.value)
        assert "roll it back and run the transaction again" in str(refused.value)
        if end == "commit":
            with pytest.raises(adbc_driver_manager.OperationalError) as committed:
                conn.commit()
            assert "rolled back, not committed" in str(committed.value)
        else:
            conn.rollback()
            cur.execute(f"INSERT INTO {name} VALUES (4)")  # the next transaction, on a new
            conn.commit()                                  # connection
        assert pg_rows(postgres, f"SELECT id FROM {name}") == ([] if end == "commit" else [(4,)])


def test_the_sessions_schema_survives_its_connection_dying(postgres, front, name):
    """A session that chose its schema keeps it when its backend connection dies: the next
    connection it takes is set up again (before, its statements ran in the default schema:
    its writes went to another table of the same name), and its transactions use it too
    (before, they never did)."""
    execute(front.uri, "CREATE SCHEMA IF NOT EXISTS other_schema")
    for schema in ("public", "other_schema"):
        execute(front.uri, f"CREATE TABLE {schema}.{name} (id bigint)")
    with adbc_driver_flightsql.dbapi.connect(front.uri, autocommit=True) as conn:
        conn.adbc_current_db_schema = "other_schema"
        cur = conn.cursor()
        cur.execute(f"INSERT INTO {name} VALUES (1)")
        assert end_connections_of(postgres, "state = 'idle'") >= 1
        cur.adbc_statement.set_sql_query(f"INSERT INTO {name} VALUES (2)")
        cur.adbc_statement.execute_update()
        cur.execute(f"INSERT INTO {name} VALUES (3)")
        cur.execute(f"SELECT count(*) FROM {name}")
        assert cur.fetchall() == [(3,)]
        conn.adbc_connection.set_options(**{"adbc.connection.autocommit": "false"})
        cur.execute(f"INSERT INTO {name} VALUES (4)")
        conn.commit()
        conn.adbc_connection.set_options(**{"adbc.connection.autocommit": "true"})
        assert end_connections_of(postgres, "state = 'idle'") >= 1
        # A transaction begun after the session's connection and the pool's died.
        conn.adbc_connection.set_options(**{"adbc.connection.autocommit": "false"})
        cur.execute(f"INSERT INTO {name} VALUES (5)")
        conn.commit()
        conn.adbc_connection.set_options(**{"adbc.connection.autocommit": "true"})
    assert pg_rows(postgres, f"SELECT id FROM other_schema.{name} ORDER BY id") == [
        (1,), (2,), (3,), (4,), (5,)]
    assert pg_rows(postgres, f"SELECT count(*) FROM public.{name}") == [(0,)]


def test_connections_are_retired_after_pool_max_lifetime(postgres, start_server):
    """A backend connection open for pool_max_lifetime is closed once given back, and the
    next query runs on a new one (another PostgreSQL backend)."""
    http_port = free_port()
    server = start_server(*adbc_args(postgres, "pool_max=2&pool_min=1&pool_max_lifetime=1"),
                          "--http-port", str(http_port), env=CREDENTIALS)
    first = execute(server.uri, "SELECT pg_backend_pid() AS pid").to_pylist()[0]["pid"]
    deadline = time.monotonic() + 30
    later = first
    while later == first and time.monotonic() < deadline:
        time.sleep(0.2)
        later = execute(server.uri, "SELECT pg_backend_pid() AS pid").to_pylist()[0]["pid"]
    assert later != first
    while pg_rows(postgres, f"SELECT count(*) {OURS} AND pid = {first}") != [(0,)]:
        assert time.monotonic() < deadline, "the old connection was never closed"
        time.sleep(0.1)
    samples = parse_metrics(http_get(http_port, "/metrics")[1])
    assert metric(samples, "hyprstream_backend_connections_retired_total") >= 1


def test_session_options_catalog_schema(front, name):
    execute(front.uri, "CREATE SCHEMA IF NOT EXISTS other_schema")
    execute(front.uri, f"CREATE TABLE other_schema.{name} AS SELECT 7 AS x")
    with adbc_driver_flightsql.dbapi.connect(front.uri, autocommit=True) as conn:
        conn.adbc_current_db_schema = "other_schema"
        cur = conn.cursor()
        cur.execute(f"SELECT x FROM {name}")  # unqualified: found in the session's schema
        assert cur.fetchall() == [(7,)]
    with flight.connect(front.uri) as client:
        # Only catalog and schema exist for the adbc engine: anything else is INVALID_NAME (1).
        # PostgreSQL cannot switch the database of a connection: INVALID_VALUE (2).
        (result,) = client.do_action(flight.Action("SetSessionOptions", wire.encode(
            [(1, wire.encode([(1, "threads"), (2, wire.encode([(1, "4")]))])),
             (1, wire.encode([(1, "catalog"), (2, wire.encode([(1, "postgres")]))]))])))
        errors = {}
        for entry in wire.decode(result.body.to_pybytes()).get(1, []):
            fields = wire.decode(entry)
            errors[fields[1][0].decode()] = wire.decode(fields[2][0]).get(1, [0])[0]
        assert errors == {"threads": 1, "catalog": 2}


def test_sqlite_pass_through(start_server, tmp_path, name):
    db = tmp_path / "backend.db"
    server = start_server("--engine", "adbc", "--engine-connection", f"{db}?pool_max=3",
                          "--engine-options", "driver=sqlite")
    execute(server.uri, f"CREATE TABLE {name} (id INTEGER, v TEXT)")
    assert execute(server.uri, f"INSERT INTO {name} VALUES (1, 'a'), (2, 'b')") == 2
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.adbc_ingest(name, pa.table({"id": [3], "v": ["c"]}), mode="append")
        cur.execute(f"SELECT v FROM {name} WHERE id = ?", (3,))
        assert cur.fetchall() == [("c",)]
    with adbc_driver_sqlite.dbapi.connect(str(db)) as direct:
        cur = direct.cursor()
        cur.execute(f"SELECT count(*) FROM {name}")
        assert cur.fetchall() == [(3,)]


def test_cancel_interrupts_a_running_backend_query(front):
    import adbc_driver_manager
    import time
    with adbc_driver_flightsql.dbapi.connect(front.uri, autocommit=True) as conn:
        cur = conn.cursor()
        outcome = {}

        def run():
            try:
                cur.execute("SELECT pg_sleep(60) AS s")
                outcome["rows"] = cur.fetchall()
            except adbc_driver_manager.Error as e:
                outcome["error"] = e

        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(1)
        cur.adbc_cancel()
        worker.join(40)
        assert not worker.is_alive()
        assert outcome["error"].status_code == adbc_driver_manager.AdbcStatusCode.CANCELLED, outcome
        cur2 = conn.cursor()
        cur2.execute("SELECT 42")
        assert cur2.fetchall() == [(42,)]


def test_flightsql_pass_through(server, start_server, name):
    """hyprstream --engine adbc in front of another Flight SQL server (a DuckDB hyprstream),
    through the Go-based Flight SQL ADBC driver (driver inferred from grpc://)."""
    outer = start_server("--engine", "adbc", "--engine-connection", f"{server.uri}?pool_max=3")
    execute(outer.uri, f"CREATE TABLE {name} (a INTEGER, b VARCHAR)")
    assert execute(outer.uri, f"INSERT INTO {name} VALUES (1, 'x'), (2, 'y')") == 2
    with adbc_driver_flightsql.dbapi.connect(outer.uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT b FROM {name} WHERE a = ?", (2,))
        assert cur.fetchall() == [("y",)]
        cur.adbc_ingest(name, pa.table({"a": pa.array([3], pa.int32()), "b": ["z"]}),
                        mode="append")
        assert conn.adbc_get_table_schema(name).names == ["a", "b"]
        with pytest.raises(adbc_driver_flightsql.dbapi.ProgrammingError) as missing:
            cur.execute("SELECT * FROM no_such_table_here")
        assert "NOT_FOUND" in str(missing.value)
    # Landed in the inner server.
    assert execute(server.uri, f"SELECT count(*) AS n FROM {name}").to_pylist() == [{"n": 3}]


def test_streaming_doput_commits_each_batch_into_postgres(front, postgres, name):
    import json
    schema = pa.schema([("ts", pa.timestamp("us")), ("v", pa.float64())])
    with flight.connect(front.uri) as client:
        writer, acks = client.do_put(flight.FlightDescriptor.for_path(name), schema)
        total = 0
        for i in range(3):
            n = 100 * (i + 1)
            writer.write_batch(pa.record_batch([pa.array(range(n), pa.timestamp("us")),
                                                pa.array([float(i)] * n)], schema=schema))
            total += n
            assert json.loads(acks.read().to_pybytes()) == {"rows": n, "total_rows": total}
            # committed in PostgreSQL while the stream is still open
            assert pg_rows(postgres, f"SELECT count(*) FROM {name}") == [(total,)]
        writer.close()
    assert pg_rows(postgres, f"SELECT sum(v)::float8 FROM {name}") == [(0 * 100 + 1 * 200 + 2 * 300.0,)]


def test_a_schema_chosen_inside_a_transaction_outlives_its_rollback(postgres, front, name):
    """With the DB-API's autocommit off the client is always inside a transaction, so it
    chooses the session's schema there. PostgreSQL undoes a SET made in a transaction that
    rolls back; the session's choice must not go with it: the next statements still write the
    chosen schema's table."""
    execute(front.uri, "CREATE SCHEMA IF NOT EXISTS other_schema")
    for schema in ("public", "other_schema"):
        execute(front.uri, f"CREATE TABLE {schema}.{name} (id bigint)")
    with adbc_driver_flightsql.dbapi.connect(front.uri) as conn:  # autocommit off
        cur = conn.cursor()
        cur.execute(f"INSERT INTO {name} VALUES (0)")  # the transaction is open in PostgreSQL
        conn.adbc_current_db_schema = "other_schema"
        cur.execute(f"INSERT INTO {name} VALUES (1)")
        conn.rollback()
        cur.execute(f"INSERT INTO {name} VALUES (2)")
        conn.commit()
        assert conn.adbc_current_db_schema == "other_schema"
        cur.execute(f"INSERT INTO {name} VALUES (3)")
        conn.commit()
    assert pg_rows(postgres, f"SELECT id FROM other_schema.{name} ORDER BY id") == [(2,), (3,)]
    assert pg_rows(postgres, f"SELECT count(*) FROM public.{name}") == [(0,)]
