"""Transactions: the DB-API's autocommit-off default, commit, rollback, and isolation from
other sessions, and what the session keeps across them."""
import random
import threading
import time

import adbc_driver_flightsql.dbapi
import pyarrow.flight as flight
import pytest

from test_flight_edge_cases import begin, end, query, update


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


@pytest.mark.parametrize("seed", [1, 2])
def test_statements_the_driver_keeps_across_commits_run_in_the_current_transaction(stack, seed):
    """The ADBC DB-API keeps a cursor's prepared statement across commit() and rollback() and
    runs it again in the next transaction. Before, it ran on the connection of the transaction
    it was prepared in, committed at once: rollback() kept its rows, and the reads a cursor kept
    did not see the transaction's own writes. Random commits and rollbacks, on every engine."""
    server = stack.start()
    marker = stack.placeholders(1)
    rng = random.Random(seed)
    committed = []
    with adbc_driver_flightsql.dbapi.connect(server.uri) as conn:  # autocommit off
        writer, reader = conn.cursor(), conn.cursor()
        writer.execute("CREATE TABLE kept (x INTEGER)")
        conn.commit()
        for i in range(16):
            pending = [i] if rng.random() < 0.7 else []
            for x in pending:
                writer.execute(f"INSERT INTO kept VALUES ({marker})", (x,))
            reader.execute(f"SELECT count(*) FROM kept WHERE x >= {marker}", (0,))
            assert reader.fetchone()[0] == len(committed) + len(pending), i
            if rng.random() < 0.5:
                conn.commit()
                committed += pending
            else:
                conn.rollback()
    assert [row[0] for row in stack.stored("SELECT x FROM kept ORDER BY x")] == committed


def test_the_sessions_temp_tables_and_settings_survive_its_transactions(conn, table):
    """With the DB-API's autocommit off every statement runs in a Flight SQL transaction; it
    runs on the session's connection, so what the session made is there after commit() (before,
    each transaction had a connection of its own: a temp table was gone after commit())."""
    cur = conn.cursor()
    cur.execute(f"CREATE TEMP TABLE {table} AS SELECT 42 AS x")
    cur.execute("SET TimeZone = 'Asia/Tokyo'")
    cur.execute(f"CREATE TEMP MACRO {table}_twice(v) AS v * 2")
    conn.commit()
    cur.execute(f"SELECT {table}_twice(x), current_setting('TimeZone') FROM {table}")
    assert cur.fetchall() == [(84, "Asia/Tokyo")]
    cur.execute(f"INSERT INTO {table} VALUES (1)")
    conn.rollback()
    cur.execute(f"SELECT x FROM {table}")
    assert cur.fetchall() == [(42,)]
    conn.commit()


def test_threads_sharing_a_session_keep_their_writes_apart_from_its_transactions(uri, table):
    """One gRPC channel is one session (no cookie). Threads sharing it write autocommitted
    while another thread's transactions on the session's connection commit or roll back: every
    acknowledged autocommitted row is kept, and exactly the committed transactions' rows."""
    client = flight.connect(uri)
    update(client, f"CREATE TABLE {table} (writer INTEGER, n INTEGER)")
    acknowledged = {w: [] for w in range(4)}
    committed = []
    failures = []

    def autocommit_writer(w):
        try:
            for n in range(150):
                assert update(client, f"INSERT INTO {table} VALUES ({w}, {n})") == 1
                acknowledged[w].append(n)
        except Exception as e:  # noqa: BLE001 (reported below)
            failures.append(repr(e))

    def transactions():
        rng = random.Random(7)
        try:
            for n in range(100):
                txn = begin(client)
                update(client, f"INSERT INTO {table} VALUES (99, {n})", txn)
                seen = query(client, f"SELECT count(*) AS c FROM {table} WHERE writer = 99",
                             txn)["c"][0].as_py()
                assert seen == len(committed) + 1
                if rng.random() < 0.5:
                    end(client, txn, commit=True)
                    committed.append(n)
                else:
                    end(client, txn, commit=False)
        except Exception as e:  # noqa: BLE001 (reported below)
            failures.append(repr(e))

    threads = [threading.Thread(target=autocommit_writer, args=(w,)) for w in range(4)]
    threads.append(threading.Thread(target=transactions))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    rows = query(client, f"SELECT writer, n FROM {table} ORDER BY writer, n").to_pylist()
    expected = [{"writer": w, "n": n} for w in range(4) for n in acknowledged[w]]
    expected += [{"writer": 99, "n": n} for n in committed]
    assert rows == expected
    client.close()


def test_a_long_transaction_keeps_its_session(start_server, table):
    """Calls inside a transaction count as the session's use: a transaction longer than
    --session-idle-timeout does not lose the session's temp tables and settings under it."""
    server = start_server("--session-idle-timeout", "2s")
    with adbc_driver_flightsql.dbapi.connect(server.uri) as conn:  # autocommit off
        cur = conn.cursor()
        cur.execute(f"CREATE TEMP TABLE {table} AS SELECT 1 AS x")
        cur.execute("SET TimeZone = 'Asia/Tokyo'")
        conn.commit()
        deadline = time.monotonic() + 7  # the server sweeps idle sessions every 5 s
        while time.monotonic() < deadline:
            cur.execute(f"INSERT INTO {table} VALUES (2)")
            time.sleep(0.5)
        conn.commit()
        cur.execute(f"SELECT count(*), current_setting('TimeZone') FROM {table}")
        count, zone = cur.fetchone()
        assert count > 10 and zone == "Asia/Tokyo"
        conn.commit()


def test_metadata_lists_the_sessions_temp_tables_and_its_transactions_tables(conn, table):
    """Catalog metadata reads the session's connection: in the DB-API's default mode (always
    in a transaction) it lists the session's temp tables and what its transaction created."""
    cur = conn.cursor()
    cur.execute(f"CREATE TEMP TABLE {table}_tmp (a INTEGER)")
    conn.commit()
    cur.execute(f"CREATE TABLE {table} (b VARCHAR)")  # not committed yet
    assert conn.adbc_get_table_schema(f"{table}_tmp").names == ["a"]
    assert conn.adbc_get_table_schema(table).names == ["b"]
    conn.rollback()
    with pytest.raises(adbc_driver_flightsql.dbapi.Error):
        conn.adbc_get_table_schema(table)
    conn.commit()
