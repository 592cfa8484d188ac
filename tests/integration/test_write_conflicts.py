"""A write that loses to another transaction's write of the same rows (on SQLite: that waited
past busy_timeout for another session's write transaction): every engine answers it alike,
with UNAVAILABLE (a DB-API OperationalError, as psycopg raises for PostgreSQL's serialization
failures) and a message that says the write was not applied and to run it again. Running it
again after the rollback succeeds, and the winner's write is kept."""
import adbc_driver_flightsql.dbapi
import pytest

from test_adbc_backend import CREDENTIALS, adbc_args, pg_rows


def rows(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def run(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)


def expect_conflict(error):
    message = str(error.value)
    assert "Unavailable" in message, message  # the gRPC code, as the ADBC driver words it
    assert "write conflict" in message and "run it again" in message, message


def test_duckdb_a_conflicting_update_says_run_it_again(uri, table):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as setup:
        run(setup, f"CREATE TABLE {table} (id INTEGER, v INTEGER)")
        run(setup, f"INSERT INTO {table} VALUES (1, 0), (2, 0)")
    with adbc_driver_flightsql.dbapi.connect(uri) as first, \
            adbc_driver_flightsql.dbapi.connect(uri) as second:  # autocommit off
        run(first, f"UPDATE {table} SET v = 1 WHERE id = 1")
        with pytest.raises(adbc_driver_flightsql.dbapi.OperationalError) as lost:
            run(second, f"UPDATE {table} SET v = 2 WHERE id = 1")
        expect_conflict(lost)
        second.rollback()
        first.commit()
        run(second, f"UPDATE {table} SET v = v + 10 WHERE id = 1")  # run again: it goes through
        second.commit()
        assert rows(second, f"SELECT id, v FROM {table} ORDER BY id") == [(1, 11), (2, 0)]


def test_duckdb_a_conflicting_delete_says_run_it_again(uri, table):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as setup:
        run(setup, f"CREATE TABLE {table} (id INTEGER, v INTEGER)")
        run(setup, f"INSERT INTO {table} VALUES (1, 0), (2, 0)")
    with adbc_driver_flightsql.dbapi.connect(uri) as first, \
            adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as second:
        run(first, f"DELETE FROM {table} WHERE id = 2")
        with pytest.raises(adbc_driver_flightsql.dbapi.OperationalError) as lost:
            run(second, f"DELETE FROM {table} WHERE id >= 2")  # on its own, autocommit
        expect_conflict(lost)
        first.commit()
        run(second, f"DELETE FROM {table} WHERE id >= 2")
        assert rows(second, f"SELECT id FROM {table}") == [(1,)]


@pytest.mark.parametrize("cache", [False, True], ids=["postgres", "postgres-behind-cache"])
def test_postgres_a_serialization_failure_says_run_it_again(postgres, start_server, table, cache):
    server = start_server(*adbc_args(postgres),
                          *(["--enable-cache", "--cache-engine", "duckdb",
                             "--cache-connection", ":memory:"] if cache else []),
                          env=CREDENTIALS)
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as winner, \
            adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as loser:
        run(winner, f"CREATE TABLE {table} (id int, v int)")
        run(winner, f"INSERT INTO {table} VALUES (1, 0)")
        run(loser, "START TRANSACTION")
        run(loser, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        assert rows(loser, f"SELECT v FROM {table} WHERE id = 1") == [(0,)]  # its snapshot
        run(winner, f"UPDATE {table} SET v = 1 WHERE id = 1")
        with pytest.raises(adbc_driver_flightsql.dbapi.OperationalError) as lost:
            run(loser, f"UPDATE {table} SET v = v + 10 WHERE id = 1")
        expect_conflict(lost)
        assert "40001" in str(lost.value)
        run(loser, "ROLLBACK")
        run(loser, f"UPDATE {table} SET v = v + 10 WHERE id = 1")  # run again: it goes through
        assert rows(loser, f"SELECT v FROM {table}") == [(11,)]
    assert pg_rows(postgres, f"SELECT id, v FROM {table}") == [(1, 11)]


def test_sqlite_a_write_while_another_holds_the_database_says_run_it_again(start_server,
                                                                           tmp_path, table):
    """SQLite takes one writer at a time: a write waits busy_timeout (10 s) for another
    session's open write transaction, then fails the same way, not as a lost backend."""
    server = start_server("--engine", "adbc", "--engine-connection",
                          f"{tmp_path / 'engine.sqlite'}?pool_max=4",
                          "--engine-options", "driver=sqlite", "--metrics-table=false")
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as holder, \
            adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as loser:
        run(holder, f"CREATE TABLE {table} (x INTEGER)")
        run(holder, "BEGIN")
        run(holder, f"INSERT INTO {table} VALUES (1)")
        with pytest.raises(adbc_driver_flightsql.dbapi.OperationalError) as lost:
            run(loser, f"INSERT INTO {table} VALUES (2)")
        expect_conflict(lost)
        assert "database is locked" in str(lost.value) and "unreachable" not in str(lost.value)
        run(holder, "COMMIT")
        run(loser, f"INSERT INTO {table} VALUES (2)")  # run again: it goes through
        assert rows(loser, f"SELECT x FROM {table} ORDER BY x") == [(1,), (2,)]
