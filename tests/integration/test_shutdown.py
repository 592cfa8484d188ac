"""Graceful shutdown of the real binary: on SIGTERM new calls are refused, running ones may
finish within --shutdown-grace (then they are cancelled), a file-backed database is
checkpointed, and a second signal stops the process at once."""
import signal
import threading
import time

import adbc_driver_flightsql.dbapi
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flightsql_wire as wire

# Long enough to still be running when the signal arrives (seconds of work on 4 threads).
LONG_SQL = "SELECT count(*) AS n FROM range(300000000) t(x) WHERE x % 7 = 3"
ENDLESS_SQL = "SELECT count(*) AS n FROM range(4000000000000) t(x) WHERE x % 7 = 3"


def run_in_background(uri, sql):
    """Runs `sql` with pyarrow.flight on a thread; returns (thread, outcome dict)."""
    outcome = {}

    def run():
        try:
            with flight.connect(uri) as client:
                info = client.get_flight_info(
                    flight.FlightDescriptor.for_command(wire.statement_query(sql)))
                table = client.do_get(info.endpoints[0].ticket).read_all()
                outcome["rows"] = [tuple(row.values()) for row in table.to_pylist()]
        except Exception as e:  # noqa: BLE001 - the test inspects it
            outcome["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_sigterm_lets_a_running_query_finish_and_refuses_new_calls(start_server):
    server = start_server("--shutdown-grace", "5m")
    thread, outcome = run_in_background(server.uri, LONG_SQL)
    time.sleep(1.0)  # let the query start
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    with flight.connect(server.uri) as client, pytest.raises(flight.FlightError):
        list(client.list_actions(flight.FlightCallOptions(timeout=5)))
    thread.join(120)
    assert "error" not in outcome, outcome
    n = 300000000
    assert outcome["rows"] == [(len(range(3, n, 7)),)]
    assert server.process.wait(60) == 0
    log = server.log()
    assert "shutting down" in log and "stopped" in log


def test_queries_still_running_at_the_end_of_the_grace_period_are_cancelled(start_server):
    server = start_server("--shutdown-grace", "1s")
    thread, outcome = run_in_background(server.uri, ENDLESS_SQL)
    time.sleep(1.0)
    server.process.send_signal(signal.SIGTERM)
    thread.join(120)
    assert not thread.is_alive()
    assert "error" in outcome, outcome
    assert server.process.wait(60) == 0


def test_file_database_is_checkpointed_on_shutdown(start_server, tmp_path):
    path = tmp_path / "db.duckdb"
    server = start_server("--engine-connection", str(path))
    with flight.connect(server.uri) as client:
        writer, reader = client.do_put(
            flight.FlightDescriptor.for_command(wire.statement_update(
                "CREATE TABLE kept AS SELECT range AS x FROM range(1000)")),
            pa.schema([]))
        writer.done_writing()
        reader.read()
        writer.close()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(60) == 0
    assert f"checkpointed {path}" in server.log()
    wal = tmp_path / "db.duckdb.wal"
    assert not wal.exists() or wal.stat().st_size == 0
    again = start_server("--engine-connection", str(path))
    with adbc_driver_flightsql.dbapi.connect(again.uri, autocommit=True) as conn, \
            conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM kept")
        assert cur.fetchall() == [(1000,)]
