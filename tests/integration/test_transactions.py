"""Transactions: the DB-API's autocommit-off default, commit, rollback, and isolation from
other sessions."""
import adbc_driver_flightsql.dbapi
import pytest


def count(uri, table):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as other:
        with other.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")
            return cur.fetchone()[0]


def test_commit_makes_writes_visible_to_other_sessions(conn, uri, table):
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (x INTEGER)")
    conn.commit()
    cur.execute(f"INSERT INTO {table} VALUES (1), (2), (3)")
    assert count(uri, table) == 0  # not yet committed
    cur.execute(f"SELECT count(*) FROM {table}")
    assert cur.fetchone() == (3,)  # but visible inside the transaction
    conn.commit()
    assert count(uri, table) == 3


def test_rollback_discards_writes(conn, uri, table):
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (x INTEGER)")
    cur.execute(f"INSERT INTO {table} VALUES (1)")
    conn.commit()
    cur.execute(f"INSERT INTO {table} VALUES (2), (3)")
    cur.execute(f"DELETE FROM {table} WHERE x = 1")
    conn.rollback()
    cur.execute(f"SELECT x FROM {table}")
    assert cur.fetchall() == [(1,)]
    assert count(uri, table) == 1


def test_rollback_of_ddl(conn, uri, table):
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (x INTEGER)")
    conn.rollback()
    with pytest.raises(adbc_driver_flightsql.dbapi.Error):
        count(uri, table)


def test_autocommit_writes_are_visible_at_once(autocommit_conn, uri, table):
    cur = autocommit_conn.cursor()
    cur.execute(f"CREATE TABLE {table} (x INTEGER)")
    cur.execute(f"INSERT INTO {table} VALUES (1), (2)")
    assert count(uri, table) == 2


def test_switching_autocommit_off_and_on(autocommit_conn, uri, table):
    cur = autocommit_conn.cursor()
    cur.execute(f"CREATE TABLE {table} (x INTEGER)")
    # The low-level API: the DB-API wrapper's commit() follows its own autocommit flag.
    autocommit_conn.adbc_connection.set_autocommit(False)
    cur.execute(f"INSERT INTO {table} VALUES (1)")
    assert count(uri, table) == 0
    autocommit_conn.adbc_connection.commit()
    assert count(uri, table) == 1
    cur.execute(f"INSERT INTO {table} VALUES (2)")
    autocommit_conn.adbc_connection.set_autocommit(True)  # commits the open transaction
    assert count(uri, table) == 2


def test_many_transactions_in_a_row(conn, uri, table):
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (x INTEGER)")
    conn.commit()
    for i in range(20):
        cur.execute(f"INSERT INTO {table} VALUES ({i})")
        if i % 2:
            conn.commit()
        else:
            conn.rollback()
    assert count(uri, table) == 10
