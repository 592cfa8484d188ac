"""Rows that never commit never reach the windows, however the transaction is spelled: SQL
BEGIN/ROLLBACK statements, a script, the DB-API's transactions, and a COMMIT of a transaction
a failed statement aborted (DuckDB answers that COMMIT with success and rolls back). Each
answer from window state is checked against DuckDB's own answer over the stored rows."""
import datetime as dt

import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import pytest

TRAILING = ("SELECT sym, count(px) AS n, sum(px) AS s FROM {t} "
            "WHERE ts > now() - INTERVAL '1 hour' GROUP BY sym ORDER BY sym")
# The same rows, written so that the windows cannot answer it (DuckDB computes it).
ENGINE = ("SELECT sym, count(px) AS n, sum(px) AS s FROM (SELECT * FROM {t}) "
          "WHERE ts > now() - INTERVAL '1 hour' GROUP BY sym ORDER BY sym")


@pytest.fixture
def server(start_server):
    return start_server("--log-level", "debug")


def windowed_table(cur, table):
    cur.execute(f"CREATE TABLE {table} (sym VARCHAR, ts TIMESTAMP, px DOUBLE)")
    cur.execute(f"SELECT * FROM hyprstream_create_window('{table}_w', '{table}', keys := 'sym', "
                "time_column := 'ts', value_columns := 'px', windows := 'trailing 1h')")
    cur.fetchall()


def now_literal(seconds_ago=0):
    at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(seconds=seconds_ago)
    return f"TIMESTAMP '{at.isoformat(sep=' ')}'"


def assert_answered_exactly(server, cur, table, expected):
    cur.execute(TRAILING.format(t=table))
    got = cur.fetchall()
    cur.execute(ENGINE.format(t=table))
    assert got == cur.fetchall() == expected
    assert f"answered from the maintained windows of '{table}_w'" in server.log()


def test_sql_begin_insert_rollback_leaves_no_row_in_the_windows(server, table):
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        cur = conn.cursor()
        windowed_table(cur, table)
        cur.execute(f"INSERT INTO {table} VALUES ('a', {now_literal(60)}, 1.0)")
        cur.execute("BEGIN")
        cur.execute(f"INSERT INTO {table} VALUES ('a', {now_literal(30)}, 100.0)")
        cur.execute("ROLLBACK")
        # The same as one script.
        cur.execute(f"BEGIN; INSERT INTO {table} VALUES ('b', {now_literal(20)}, 5.0); ROLLBACK")
        assert_answered_exactly(server, cur, table, [("a", 1, 1.0)])
        cur.execute("BEGIN TRANSACTION")
        cur.execute(f"INSERT INTO {table} VALUES ('b', {now_literal(10)}, 2.0)")
        cur.execute("COMMIT")
        assert_answered_exactly(server, cur, table, [("a", 1, 1.0), ("b", 1, 2.0)])


def test_commit_of_a_transaction_a_failed_statement_aborted_counts_nothing(server, table):
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        cur = conn.cursor()
        windowed_table(cur, table)
        cur.execute(f"CREATE TABLE {table}_k (k INT PRIMARY KEY)")
        cur.execute(f"INSERT INTO {table}_k VALUES (1)")
        cur.execute("BEGIN")
        cur.execute(f"INSERT INTO {table} VALUES ('a', {now_literal(5)}, 7.0)")
        with pytest.raises(adbc_driver_manager.Error):
            cur.execute(f"INSERT INTO {table}_k VALUES (1)")  # aborts the transaction
        cur.execute("COMMIT")  # DuckDB: "success", rolled back
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchall() == [(0,)]
        cur.execute(f"INSERT INTO {table} VALUES ('b', {now_literal(4)}, 3.0)")
        assert_answered_exactly(server, cur, table, [("b", 1, 3.0)])
    # The same through the DB-API's own transaction (autocommit off).
    with adbc_driver_flightsql.dbapi.connect(server.uri) as conn:
        cur = conn.cursor()
        cur.execute(f"INSERT INTO {table} VALUES ('c', {now_literal(3)}, 9.0)")
        with pytest.raises(adbc_driver_manager.Error):
            cur.execute(f"INSERT INTO {table}_k VALUES (1)")
        conn.commit()
        cur.execute(f"INSERT INTO {table} VALUES ('d', {now_literal(2)}, 4.0)")
        conn.commit()
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        assert_answered_exactly(server, conn.cursor(), table, [("b", 1, 3.0), ("d", 1, 4.0)])


def test_an_insert_after_a_with_clause_reaches_the_windows(server, table):
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        cur = conn.cursor()
        windowed_table(cur, table)
        cur.execute(f"WITH x AS (SELECT 'a' AS sym, {now_literal(9)} AS ts, 2.5 AS px) "
                    f"INSERT INTO {table} SELECT * FROM x")
        cur.execute(f"INSERT INTO {table} SELECT 'a', {now_literal(8)}, 0.5")
        assert_answered_exactly(server, cur, table, [("a", 2, 3.0)])


def test_a_retention_delete_that_loses_to_an_open_transaction_runs_again_and_the_windows_agree(
        server, table):
    """A followed retention DELETE whose rows another session's open transaction has deleted:
    DuckDB refuses it at once (a transaction conflict). hyprstream runs it again on its own,
    as it would run without windows; that conflicts too, and the client gets UNAVAILABLE saying
    to run it again. Once the other transaction commits, the DELETE runs, and the windows answer
    exactly what DuckDB computes over the stored rows."""
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn, \
            adbc_driver_flightsql.dbapi.connect(server.uri) as other:  # autocommit off
        cur = conn.cursor()
        windowed_table(cur, table)
        cur.execute(f"INSERT INTO {table} VALUES ('a', {now_literal(7200)}, 1.0), "
                    f"('a', {now_literal(1800)}, 2.0), ('b', {now_literal(600)}, 3.0)")
        assert_answered_exactly(server, cur, table, [("a", 1, 2.0), ("b", 1, 3.0)])
        with other.cursor() as holding:
            holding.execute(f"DELETE FROM {table} WHERE ts < now() - INTERVAL '100 minutes'")
        retention = f"DELETE FROM {table} WHERE ts < now() - INTERVAL '90 minutes'"
        with pytest.raises(adbc_driver_flightsql.dbapi.OperationalError) as lost:
            cur.execute(retention)
        assert "write conflict" in str(lost.value) and "run it again" in str(lost.value)
        assert f"a DELETE of main.{table} lost to another write of its rows" in server.log()
        other.commit()
        cur.execute(retention)
        assert cur.rowcount == 0  # the other transaction removed the old row
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchall() == [(2,)]
        assert_answered_exactly(server, cur, table, [("a", 1, 2.0), ("b", 1, 3.0)])
