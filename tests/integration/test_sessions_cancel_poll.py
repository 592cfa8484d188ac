"""Session options (catalog/schema switching, DuckDB settings), CloseSession, cancellation
of running queries, and PollFlightInfo / incremental execution."""
import threading
import time

import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flightsql_wire as wire

# Seconds of work on this machine, and interruptible at any point.
SLOW = "SELECT sum(hash(range)) AS s FROM range(20000000000)"


def session_options(client):
    (result,) = client.do_action(flight.Action("GetSessionOptions", b""))
    # GetSessionOptionsResult: map<string, SessionOptionValue> (field 1), entries key=1 value=2;
    # SessionOptionValue: string_value=1, bool_value=2, int64_value=3 (sfixed64), double=4.
    options = {}
    for entry in wire.decode(result.body.to_pybytes()).get(1, []):
        fields = wire.decode(entry)
        value = wire.decode(fields[2][0]) if 2 in fields else {}
        options[fields[1][0].decode()] = value.get(1, [b""])[0].decode() if 1 in value else value
    return options


def set_session_options(client, **options):
    entries = []
    for name, value in options.items():
        entries.append((1, wire.encode([(1, name), (2, wire.encode([(1, value)]))])))
    (result,) = client.do_action(flight.Action("SetSessionOptions", wire.encode(entries)))
    errors = {}
    for entry in wire.decode(result.body.to_pybytes()).get(1, []):
        fields = wire.decode(entry)
        errors[fields[1][0].decode()] = wire.decode(fields[2][0]).get(1, [0])[0]
    return errors


def test_adbc_current_catalog_and_schema_switching(uri, table):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE SCHEMA {table}_s")
        cur.execute(f"CREATE TABLE {table}_s.only_here AS SELECT 7 AS x")
        assert conn.adbc_current_catalog == "memory"
        assert conn.adbc_current_db_schema == "main"
        conn.adbc_current_db_schema = f"{table}_s"
        assert conn.adbc_current_db_schema == f"{table}_s"
        cur.execute("SELECT x FROM only_here")  # unqualified: found in the new schema
        assert cur.fetchall() == [(7,)]
        conn.adbc_current_db_schema = "main"
        with pytest.raises(adbc_driver_manager.Error):  # a new cursor: no cached statement
            conn.cursor().execute("SELECT x FROM only_here")


def test_adbc_current_catalog_switching(uri, table):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(f"ATTACH ':memory:' AS {table}_db")
        cur.execute(f"CREATE TABLE {table}_db.main.t AS SELECT 'other' AS origin")
        conn.adbc_current_catalog = f"{table}_db"
        assert conn.adbc_current_catalog == f"{table}_db"
        c2 = conn.cursor()
        c2.execute("SELECT origin FROM t")
        assert c2.fetchall() == [("other",)]
        with pytest.raises(adbc_driver_manager.Error):
            conn.adbc_current_catalog = "no_such_catalog"
        conn.adbc_current_catalog = "memory"


def in_a_transaction(conn, *statements):
    """Runs `statements` in one Flight SQL transaction of `conn` (BeginTransaction: autocommit
    off), commits, and turns autocommit back on; the last statement's rows, if any."""
    conn.adbc_connection.set_options(**{"adbc.connection.autocommit": "false"})
    cur = conn.cursor()
    for sql in statements:
        cur.execute(sql)
    rows = cur.fetchall() if cur.description else None
    conn.commit()
    conn.adbc_connection.set_options(**{"adbc.connection.autocommit": "true"})
    return rows


def test_a_transaction_uses_the_sessions_schema_and_settings(uri, table):
    """A Flight SQL transaction runs on a connection of its own; it gets the session's schema
    and settings (before, it ran in the default schema with the server's settings: an
    unqualified INSERT inside it wrote another table of the same name)."""
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE SCHEMA {table}_s")
        for schema in ("main", f"{table}_s"):
            cur.execute(f"CREATE TABLE {schema}.{table} (id INTEGER)")
        conn.adbc_current_db_schema = f"{table}_s"
        conn.adbc_connection.set_options(
            **{"adbc.flight.sql.session.option.TimeZone": "Asia/Tokyo"})
        assert in_a_transaction(
            conn, f"INSERT INTO {table} VALUES (1)",
            "SELECT current_schema() AS s, current_setting('TimeZone') AS tz") == [
                (f"{table}_s", "Asia/Tokyo")]
        cur.execute(f"SELECT (SELECT count(*) FROM memory.main.{table}), "
                    f"(SELECT count(*) FROM memory.{table}_s.{table})")
        assert cur.fetchall() == [(0, 1)]
        # Another catalog chosen after the schema: the transaction is in its main schema.
        cur.execute(f"ATTACH ':memory:' AS {table}_db")
        cur.execute(f"CREATE TABLE {table}_db.main.{table} (id INTEGER)")
        conn.adbc_current_catalog = f"{table}_db"
        in_a_transaction(conn, f"INSERT INTO {table} VALUES (2)")
        cur = conn.cursor()
        cur.execute(f"SELECT (SELECT count(*) FROM {table}_db.main.{table}), "
                    f"(SELECT count(*) FROM memory.{table}_s.{table})")
        assert cur.fetchall() == [(1, 1)]


def test_list_actions_names_every_action(client):
    names = {a.type for a in client.list_actions()}
    assert {"CancelFlightInfo", "CancelQuery", "SetSessionOptions", "GetSessionOptions",
            "CloseSession", "BeginTransaction", "EndTransaction", "CreatePreparedStatement",
            "ClosePreparedStatement"} <= names


def test_session_options_through_raw_flight(client, table):
    options = session_options(client)
    assert options["catalog"] == "memory" and options["schema"] == "main"
    errors = set_session_options(client, schema="no_such_schema", TimeZone="Asia/Tokyo",
                                 not_a_setting="1")
    assert errors == {"schema": 2, "not_a_setting": 1}  # INVALID_VALUE, INVALID_NAME
    info = client.get_flight_info(flight.FlightDescriptor.for_command(
        wire.statement_query("SELECT current_setting('TimeZone') AS tz")))
    assert client.do_get(info.endpoints[0].ticket).read_all()["tz"][0].as_py() == "Asia/Tokyo"
    assert session_options(client)["TimeZone"] == "Asia/Tokyo"


def test_close_session_drops_temp_tables_and_transaction_state(client, table):
    info = client.get_flight_info(flight.FlightDescriptor.for_command(
        wire.statement_query(f"CREATE TEMP TABLE {table} AS SELECT 1 AS x")))
    client.do_get(info.endpoints[0].ticket).read_all()
    (result,) = client.do_action(flight.Action("CloseSession", b""))
    assert wire.decode(result.body.to_pybytes()) == {1: [1]}  # CLOSED
    with pytest.raises(pa.ArrowKeyError):  # a new session: the temp table is gone
        client.get_flight_info(flight.FlightDescriptor.for_command(
            wire.statement_query(f"SELECT * FROM {table}")))


def test_adbc_cancel_interrupts_a_running_query(uri):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        outcome = {}

        def run():
            try:
                cur.execute(SLOW)
                outcome["rows"] = cur.fetchall()
            except adbc_driver_manager.Error as e:
                outcome["error"] = e

        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(0.5)
        start = time.monotonic()
        cur.adbc_cancel()
        worker.join(30)
        assert not worker.is_alive()
        assert outcome["error"].status_code == adbc_driver_manager.AdbcStatusCode.CANCELLED
        # the session's connection is free again at once: the server interrupted DuckDB
        cur2 = conn.cursor()
        cur2.execute("SELECT 42")
        assert cur2.fetchall() == [(42,)]
        assert time.monotonic() - start < 5


def test_cancel_flight_info_ends_the_stream_with_cancelled(client):
    info = client.get_flight_info(flight.FlightDescriptor.for_command(wire.statement_query(SLOW)))
    outcome = {}

    def read():
        try:
            client.do_get(info.endpoints[0].ticket).read_all()
        except flight.FlightCancelledError as e:
            outcome["cancelled"] = str(e)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.5)
    (result,) = client.do_action(
        flight.Action("CancelFlightInfo", wire.encode([(1, info.serialize())])))
    assert wire.decode(result.body.to_pybytes()) == {1: [1]}  # CANCELLED
    reader.join(30)
    assert "Interrupted" in outcome["cancelled"]


def test_cancel_of_an_unread_result_and_of_a_finished_one(client):
    info = client.get_flight_info(flight.FlightDescriptor.for_command(
        wire.statement_query("SELECT 1 AS x")))
    (result,) = client.do_action(
        flight.Action("CancelFlightInfo", wire.encode([(1, info.serialize())])))
    assert wire.decode(result.body.to_pybytes()) == {1: [1]}
    with pytest.raises(pa.ArrowKeyError):  # the ticket is gone
        client.do_get(info.endpoints[0].ticket).read_all()
    (result,) = client.do_action(
        flight.Action("CancelFlightInfo", wire.encode([(1, info.serialize())])))
    assert wire.decode(result.body.to_pybytes()) == {1: [3]}  # NOT_CANCELLABLE


def test_deprecated_cancel_query_action(client):
    info = client.get_flight_info(flight.FlightDescriptor.for_command(
        wire.statement_query("SELECT 2 AS x")))
    (result,) = client.do_action(flight.Action(
        "CancelQuery", wire.any_of("ActionCancelQueryRequest", [(1, info.serialize())])))
    type_url, fields = wire.unpack_any(result.body.to_pybytes())
    assert type_url.endswith("ActionCancelQueryResult") and fields == {1: [1]}


def test_incremental_execution_polls_until_done(uri):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.adbc_statement.set_options(**{"adbc.statement.exec.incremental": "true"})
        sql = "SELECT sum(range) AS s, count(*) AS n FROM range(50000000)"
        partitions, schema = cur.adbc_execute_partitions(sql)
        assert schema.names == ["s", "n"]
        progress = cur.adbc_statement.get_option_float("adbc.statement.exec.progress")
        assert 0.0 <= progress <= 1.0
        while True:  # the driver signals the end with an empty set of partitions
            more, _ = cur.adbc_execute_partitions(sql)
            if not more:
                break
            partitions += more
        rows = []
        for partition in partitions:
            cur.adbc_read_partition(partition)
            rows += cur.fetchall()
        n = 50_000_000
        assert rows == [(n * (n - 1) // 2, n)]


def test_an_unknown_ticket_is_not_found_with_a_clear_message(client):
    ticket = wire.any_of("TicketStatementQuery", [(1, "0" * 32)])
    with pytest.raises(pa.ArrowKeyError, match="unknown ticket"):
        client.do_get(flight.Ticket(ticket)).read_all()
