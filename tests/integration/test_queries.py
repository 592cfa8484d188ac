"""Queries, DDL/DML and prepared statements through the ADBC Flight SQL driver (DB-API and
low-level), checked by values and row counts."""
import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import pyarrow as pa
import pytest


def test_issue_example_returns_the_rows(conn, table):
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (id INTEGER, name VARCHAR)")
    cur.execute(f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b')")
    cur.execute(f"SELECT * FROM {table} WHERE id > ?", parameters=(0,))
    result = cur.fetch_arrow_table()
    assert result.schema.names == ["id", "name"]
    assert result.schema.field("id").type == pa.int32()
    assert result.to_pydict() == {"id": [1, 2], "name": ["a", "b"]}


def test_dml_through_the_query_path_runs_exactly_once(conn, table):
    """cursor.execute prepares, then GetFlightInfo + DoGet: the INSERT must land once."""
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (x INTEGER)")
    cur.execute(f"INSERT INTO {table} SELECT * FROM range(10)")
    assert cur.rowcount in (10, -1)
    cur.execute(f"UPDATE {table} SET x = x + 100 WHERE x < 3")
    cur.execute(f"DELETE FROM {table} WHERE x = 9")
    cur.execute(f"SELECT count(*), sum(x) FROM {table}")
    assert cur.fetchone() == (9, sum(range(3, 9)) + 300 + 3)


def test_rowcount_of_adbc_execute_update(conn, table):
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (x INTEGER)")
    assert cur.adbc_statement is not None
    stmt = cur.adbc_statement
    stmt.set_sql_query(f"INSERT INTO {table} SELECT * FROM range(25)")
    assert stmt.execute_update() == 25
    stmt.set_sql_query(f"DELETE FROM {table} WHERE x >= 20")
    assert stmt.execute_update() == 5


def test_parameters_of_every_common_type(conn):
    cur = conn.cursor()
    cur.execute("SELECT ? AS i, ? AS f, ? AS s, ? AS b, ? AS n",
                parameters=(42, 2.5, "héllo", True, None))
    row = cur.fetchone()
    assert row == (42, 2.5, "héllo", True, None)


def test_executemany_inserts_every_row(conn, table):
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (id BIGINT, name VARCHAR)")
    rows = [(i, f"n{i}") for i in range(500)]
    cur.executemany(f"INSERT INTO {table} VALUES (?, ?)", rows)
    cur.execute(f"SELECT count(*), sum(id), min(name), max(name) FROM {table}")
    assert cur.fetchone() == (500, sum(range(500)), "n0", "n99")


def test_prepared_query_reexecuted_with_new_parameters(conn, table):
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} AS SELECT range AS x FROM range(100)")
    sql = f"SELECT count(*) FROM {table} WHERE x < ?"
    for limit in (0, 1, 50, 1000):
        cur.execute(sql, parameters=(limit,))
        assert cur.fetchone() == (min(limit, 100),)


def test_prepared_query_with_several_parameter_rows_concatenates_results(uri):
    """Binding N parameter rows to a query runs it once per row; results come back together."""
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        stmt = cur.adbc_statement
        stmt.set_sql_query("SELECT ? * 10 AS v")
        stmt.prepare()
        stmt.bind(pa.record_batch([pa.array([1, 2, 3], pa.int64())], names=["p"]))
        handle, _ = stmt.execute_query()
        reader = pa.RecordBatchReader._import_from_c(handle.address)
        assert reader.read_all().column("v").to_pylist() == [10, 20, 30]


def test_empty_result_keeps_its_schema(conn, table):
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (a INTEGER NOT NULL, b VARCHAR)")
    cur.execute(f"SELECT * FROM {table}")
    result = cur.fetch_arrow_table()
    assert result.num_rows == 0
    assert result.schema.names == ["a", "b"]
    assert result.schema.field("a").type == pa.int32()


def test_large_result_streams_in_many_batches_with_exact_values(conn):
    cur = conn.cursor()
    n = 1_000_000
    cur.execute(f"SELECT range AS i, range * 2 AS j, 'x' || (range % 7) AS s FROM range({n})")
    reader = cur.fetch_record_batch()
    batches = total = checksum = 0
    for batch in reader:
        batches += 1
        total += batch.num_rows
        checksum += pa.compute.sum(batch.column("j")).as_py() or 0
    assert total == n
    assert checksum == n * (n - 1)
    assert batches > 1


def test_execute_schema_announces_the_result_schema(conn, table):
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (a BIGINT, b DOUBLE, c VARCHAR)")
    conn.commit()
    stmt = cur.adbc_statement
    stmt.set_sql_query(f"SELECT a, c FROM {table}")
    handle = stmt.execute_schema()
    schema = pa.Schema._import_from_c(handle.address)
    assert schema.names == ["a", "c"]
    assert [f.type for f in schema] == [pa.int64(), pa.string()]


def test_sql_error_is_invalid_argument_with_duckdb_message(conn):
    cur = conn.cursor()
    with pytest.raises(adbc_driver_manager.ProgrammingError) as err:
        cur.execute("SELEC 1")
    assert err.value.status_code == adbc_driver_manager.AdbcStatusCode.INVALID_ARGUMENT
    assert "syntax error" in str(err.value)
    assert str(err.value).count("LINE 1:") == 1


def test_missing_table_is_not_found(conn):
    cur = conn.cursor()
    with pytest.raises(adbc_driver_manager.Error) as err:
        cur.execute("SELECT * FROM no_such_table_anywhere")
    assert err.value.status_code == adbc_driver_manager.AdbcStatusCode.NOT_FOUND
    assert "no_such_table_anywhere" in str(err.value)


def test_connection_survives_an_error(conn, table):
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (x INTEGER)")
    with pytest.raises(adbc_driver_manager.Error):
        cur.execute(f"INSERT INTO {table} VALUES ('not a number')")
    conn.rollback()
    cur.execute(f"CREATE TABLE {table} (x INTEGER)")
    cur.execute(f"INSERT INTO {table} VALUES (7)")
    cur.execute(f"SELECT x FROM {table}")
    assert cur.fetchall() == [(7,)]


# --- Scripts of several statements ----------------------------------------------------------

def test_a_script_runs_every_statement_once_and_returns_the_last_result(conn, table):
    """What PostgreSQL's and DuckDB's own clients accept: statements separated by ';', run in
    order, each once; the cursor gets the last statement's result."""
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (x INT); INSERT INTO {table} VALUES (1), (2);"
                f" INSERT INTO {table} SELECT x + 10 FROM {table}; SELECT sum(x) AS s FROM {table}")
    assert cur.fetch_arrow_table().to_pydict() == {"s": [26]}
    conn.commit()
    cur.execute(f"SELECT x FROM {table} ORDER BY x")
    assert cur.fetchall() == [(1,), (2,), (11,), (12,)]


def test_a_script_follows_the_callers_transaction(conn, uri, table):
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (x INT)")
    conn.commit()
    cur.execute(f"INSERT INTO {table} VALUES (1); INSERT INTO {table} VALUES (2)")
    conn.rollback()
    cur.execute(f"SELECT count(*) FROM {table}")
    assert cur.fetchone() == (0,)
    cur.execute(f"INSERT INTO {table} VALUES (3); INSERT INTO {table} VALUES (4)")
    conn.commit()
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as other:
        ocur = other.cursor()
        ocur.execute(f"SELECT x FROM {table} ORDER BY x")
        assert ocur.fetchall() == [(3,), (4,)]


def test_a_failing_script_in_autocommit_changes_nothing_and_names_the_statement(uri, table):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {table} (x INT PRIMARY KEY)")
        with pytest.raises(adbc_driver_manager.Error) as err:
            cur.execute(f"INSERT INTO {table} VALUES (1); INSERT INTO {table} VALUES (1)")
        assert "statement 2 of 2 failed" in str(err.value)
        assert err.value.status_code == adbc_driver_manager.AdbcStatusCode.INVALID_ARGUMENT
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchone() == (0,)
        # A script that ends its own transactions runs as written.
        cur.execute(f"BEGIN; INSERT INTO {table} VALUES (5); COMMIT; SELECT count(*) AS n FROM {table}")
        assert cur.fetchall() == [(1,)]


def test_a_script_with_parameters_is_refused_clearly(conn, table):
    cur = conn.cursor()
    with pytest.raises(adbc_driver_manager.Error) as err:
        cur.execute(f"CREATE TABLE {table} (x INT); INSERT INTO {table} VALUES (?)", parameters=(1,))
    assert "parameters are not supported in a script" in str(err.value)
