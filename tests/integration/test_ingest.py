"""Bulk ingest (CommandStatementIngest) as cursor.adbc_ingest sends it: every mode, temporary
tables, schemas, transactions, and all-or-nothing on error."""
import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import pyarrow as pa
import pytest

Status = adbc_driver_manager.AdbcStatusCode


def data(n, start=0):
    ids = pa.array(range(start, start + n), pa.int64())
    return pa.table({"id": ids, "v": pa.array([float(i) / 2 for i in range(start, start + n)]),
                     "s": pa.array([f"s{i}" for i in range(start, start + n)])})


def rows(cur, table):
    cur.execute(f"SELECT count(*), coalesce(sum(id), 0) FROM {table}")
    return cur.fetchone()


def test_create_then_append(autocommit_conn, table):
    cur = autocommit_conn.cursor()
    assert cur.adbc_ingest(table, data(100), mode="create") == 100
    assert cur.adbc_ingest(table, data(50, start=100), mode="append") == 50
    assert rows(cur, table) == (150, sum(range(150)))
    cur.execute(f"SELECT * FROM {table} ORDER BY id LIMIT 2")
    result = cur.fetch_arrow_table()
    assert result.schema.types == [pa.int64(), pa.float64(), pa.string()]
    assert result.to_pydict() == {"id": [0, 1], "v": [0.0, 0.5], "s": ["s0", "s1"]}


def test_columns_match_the_tables_ignoring_case(autocommit_conn, table):
    cur = autocommit_conn.cursor()
    cur.execute(f'CREATE TABLE {table} ("S" VARCHAR, "Id" BIGINT, "V" DOUBLE, extra INT DEFAULT 7)')
    assert cur.adbc_ingest(table, data(3), mode="append") == 3
    cur.execute(f"SELECT id, v, s, extra FROM {table} ORDER BY id")
    assert cur.fetchall() == [(0, 0.0, "s0", 7), (1, 0.5, "s1", 7), (2, 1.0, "s2", 7)]


def test_create_on_existing_table_is_already_exists_and_keeps_data(autocommit_conn, table):
    cur = autocommit_conn.cursor()
    cur.adbc_ingest(table, data(10), mode="create")
    with pytest.raises(adbc_driver_manager.Error) as err:
        cur.adbc_ingest(table, data(5), mode="create")
    assert err.value.status_code == Status.ALREADY_EXISTS
    assert rows(cur, table) == (10, sum(range(10)))


def test_append_to_missing_table_is_not_found(autocommit_conn, table):
    cur = autocommit_conn.cursor()
    with pytest.raises(adbc_driver_manager.Error) as err:
        cur.adbc_ingest(table, data(5), mode="append")
    assert err.value.status_code == Status.NOT_FOUND
    assert table in str(err.value)


def test_replace_drops_old_rows_and_schema(autocommit_conn, table):
    cur = autocommit_conn.cursor()
    cur.adbc_ingest(table, data(10), mode="create")
    other = pa.table({"k": pa.array(["x", "y"])})
    assert cur.adbc_ingest(table, other, mode="replace") == 2
    cur.execute(f"SELECT * FROM {table} ORDER BY k")
    assert cur.fetch_arrow_table().to_pydict() == {"k": ["x", "y"]}
    # replace on a missing table creates it
    cur.adbc_ingest(table + "_new", data(3), mode="replace")
    assert rows(cur, table + "_new") == (3, 3)


def test_create_append_creates_once_then_appends(autocommit_conn, table):
    cur = autocommit_conn.cursor()
    cur.adbc_ingest(table, data(7), mode="create_append")
    cur.adbc_ingest(table, data(3, start=7), mode="create_append")
    assert rows(cur, table) == (10, sum(range(10)))


def test_many_batches_and_a_large_table(autocommit_conn, table):
    cur = autocommit_conn.cursor()
    big = data(300_000)
    reader = pa.RecordBatchReader.from_batches(big.schema, big.to_batches(max_chunksize=7_000))
    assert cur.adbc_ingest(table, reader, mode="create") == 300_000
    assert rows(cur, table) == (300_000, sum(range(300_000)))


def test_failure_in_a_later_batch_leaves_nothing_behind(autocommit_conn, table):
    cur = autocommit_conn.cursor()
    cur.execute(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, v DOUBLE, s VARCHAR)")
    cur.adbc_ingest(table, data(10), mode="append")
    batches = data(1000, start=10).to_batches(max_chunksize=100) + data(1, start=5).to_batches()
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, batches)
    with pytest.raises(adbc_driver_manager.Error) as err:
        cur.adbc_ingest(table, reader, mode="append")
    assert "5" in str(err.value)
    assert rows(cur, table) == (10, sum(range(10)))


@pytest.mark.parametrize("mode", ["append", "create_append"])
def test_mismatched_columns_are_already_exists_without_changes(autocommit_conn, table, mode):
    """ADBC: appending data whose schema does not match the table is ALREADY_EXISTS (clients
    branch on it); the message still names the column."""
    cur = autocommit_conn.cursor()
    cur.adbc_ingest(table, data(4), mode="create")
    with pytest.raises(adbc_driver_manager.Error) as err:
        cur.adbc_ingest(table, pa.table({"nope": [1, 2]}), mode=mode)
    assert err.value.status_code == Status.ALREADY_EXISTS
    assert '"nope"' in str(err.value) and table in str(err.value)
    assert rows(cur, table) == (4, 6)


def regular_and_temp(cur, name):
    """(rows of the regular table, rows of the session's temp table) named `name`."""
    cur.execute(f"SELECT count(*) FROM memory.main.{name}")
    regular = cur.fetchone()[0]
    cur.execute(f"SELECT count(*) FROM temp.main.{name}")
    return regular, cur.fetchone()[0]


@pytest.mark.parametrize("mode", ["append", "create_append", "replace"])
def test_ingest_targets_the_regular_table_when_a_temp_table_shadows_it(autocommit_conn, table,
                                                                       mode):
    """ADBC's temporary=false names the regular table, even when the session has a temp
    table of the same name (which unqualified SQL would resolve to first)."""
    cur = autocommit_conn.cursor()
    cur.execute(f"CREATE TABLE memory.main.{table} (id BIGINT, v DOUBLE, s VARCHAR)")
    cur.execute(f"CREATE TEMP TABLE {table} (id BIGINT, v DOUBLE, s VARCHAR)")
    assert cur.adbc_ingest(table, data(3), mode=mode) == 3
    assert regular_and_temp(cur, table) == (3, 0)
    assert cur.adbc_ingest(table, data(2), mode="append", temporary=True) == 2
    assert regular_and_temp(cur, table) == (3, 2)


def test_create_beside_a_temp_table_creates_the_regular_table(autocommit_conn, table):
    cur = autocommit_conn.cursor()
    cur.execute(f"CREATE TEMP TABLE {table} (id BIGINT, v DOUBLE, s VARCHAR)")
    assert cur.adbc_ingest(table, data(4), mode="create") == 4
    assert regular_and_temp(cur, table) == (4, 0)
    with pytest.raises(adbc_driver_manager.Error) as err:
        cur.adbc_ingest(table, data(1), mode="create", temporary=True)
    assert err.value.status_code == Status.ALREADY_EXISTS
    assert regular_and_temp(cur, table) == (4, 0)


def test_streaming_doput_ignores_a_sessions_temp_table(uri, table):
    """A PATH DoPut names a regular table; a temp table of that name in a session is not it."""
    import pyarrow.flight as flight
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {table} (id BIGINT, v DOUBLE, s VARCHAR)")
        cur.execute(f"CREATE TEMP TABLE {table} (id BIGINT, v DOUBLE, s VARCHAR)")
        with flight.connect(uri) as client:
            batch = data(5)
            writer, acks = client.do_put(flight.FlightDescriptor.for_path(table), batch.schema)
            writer.write_table(batch)
            writer.done_writing()
            acks.read()
            writer.close()
        assert regular_and_temp(cur, table) == (5, 0)


def test_temporary_table_is_private_to_the_session(uri, table):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as a, \
            adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as b:
        ca, cb = a.cursor(), b.cursor()
        ca.adbc_ingest(table, data(5), mode="create", temporary=True)
        assert rows(ca, table) == (5, 10)
        with pytest.raises(adbc_driver_manager.Error) as err:
            rows(cb, table)
        assert err.value.status_code == Status.NOT_FOUND


def test_ingest_into_a_named_schema(autocommit_conn, table):
    cur = autocommit_conn.cursor()
    cur.execute(f"CREATE SCHEMA {table}_schema")
    cur.adbc_ingest(table, data(6), mode="create", db_schema_name=f"{table}_schema")
    assert rows(cur, f"{table}_schema.{table}") == (6, 15)
    cur.adbc_ingest(table, data(2), mode="append", catalog_name="memory",
                    db_schema_name=f"{table}_schema")
    assert rows(cur, f"memory.{table}_schema.{table}") == (8, 16)


def test_adbc_ingest_in_a_dbapi_transaction_is_committed_at_once(conn, uri, table):
    """The ADBC Flight SQL driver (1.13) sends CommandStatementIngest without the connection's
    transaction_id, so the server applies it in autocommit. Pinned here so a driver change
    that starts sending it is noticed (the raw-Flight test covers transactional ingest)."""
    cur = conn.cursor()
    cur.adbc_ingest(table, data(10), mode="create")
    conn.rollback()
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as other:
        assert rows(other.cursor(), table) == (10, sum(range(10)))


def test_a_temp_table_ingest_in_a_dbapi_transaction_is_the_sessions(conn, table):
    """With autocommit off the driver sends an ingest without its transaction id. A temp table
    is the session connection's own, so it is ingested there, inside the open transaction: the
    transaction's queries see it, and the session does after commit() (before, it was made on
    another connection and no query of the session ever saw it)."""
    cur = conn.cursor()
    assert cur.adbc_ingest(table, data(5), mode="create", temporary=True) == 5
    assert rows(cur, table) == (5, 10)
    conn.commit()
    assert rows(cur, table) == (5, 10)
    assert cur.adbc_ingest(table, data(2), mode="append", temporary=True) == 2
    assert rows(cur, table) == (7, 11)
    conn.rollback()
    assert rows(cur, table) == (5, 10)  # the rolled-back transaction's append is gone
    conn.commit()


def test_pandas_dataframe_ingest(autocommit_conn, table):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"host": ["a", "b", "c"], "cpu": [0.1, 0.2, 0.3]})
    cur = autocommit_conn.cursor()
    assert cur.adbc_ingest(table, frame, mode="create") == 3
    cur.execute(f"SELECT host, cpu FROM {table} ORDER BY host")
    assert cur.fetch_df().to_dict("list") == {"host": ["a", "b", "c"], "cpu": [0.1, 0.2, 0.3]}
