"""Bad input of every kind gets a clear error with the right Flight code and a message saying
what was wrong, and the server keeps serving: malformed protobuf bodies, wrong type_urls,
truncated and doctored Arrow IPC on DoPut (sent over raw gRPC, see flight_raw.py), schema
mismatches on ingest and on prepared statement parameters, invalid UTF-8 in SQL and in string
columns, SQL errors, huge values, unknown actions. test_flight_edge_cases.py covers the basic
malformed-command and unknown-type cases; this file goes further."""
import json

import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import grpc
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flight_raw as raw
import flightsql_wire as wire

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
def rawc(uri):
    c = raw.RawFlight(uri)
    yield c
    c.close()


@pytest.fixture(autouse=True)
def still_serving(uri):
    """After each test: a fresh client still gets a correct answer."""
    yield
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 40 + 2 AS x")
        assert cur.fetchall() == [(42,)]


def rpc_error(fn, code, *fragments):
    with pytest.raises(grpc.RpcError) as err:
        fn()
    assert err.value.code() == code, (err.value.code(), err.value.details())
    details = err.value.details()
    for fragment in fragments:
        assert fragment.lower() in details.lower(), details
    return details


def create_table(uri, sql):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        conn.cursor().execute(sql)


def count(uri, table):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchall()[0][0]


# --- protobuf bodies and type_urls ------------------------------------------------------------

@pytest.mark.parametrize("action", ["CreatePreparedStatement", "ClosePreparedStatement",
                                    "BeginTransaction", "EndTransaction", "CancelQuery"])
@pytest.mark.parametrize("body", [b"\xff\xff\xff", b"\x0a\x10short"])
def test_malformed_action_bodies_are_invalid_argument(rawc, action, body):
    rpc_error(lambda: rawc.do_action(action, body), INVALID, "Any")


def test_action_with_the_wrong_type_url_names_both_types(rawc):
    body = wire.any_of("ActionClosePreparedStatementRequest", [(1, b"h")])
    rpc_error(lambda: rawc.do_action("CreatePreparedStatement", body), INVALID,
              "ActionCreatePreparedStatementRequest", "ActionClosePreparedStatementRequest")


def test_a_foreign_type_url_is_unimplemented_and_named(rawc):
    cmd = wire.encode([(1, "type.googleapis.com/google.protobuf.Duration"), (2, b"\x08\x01")])
    rpc_error(lambda: rawc.get_flight_info(raw.cmd_descriptor(cmd)),
              grpc.StatusCode.UNIMPLEMENTED, "google.protobuf.Duration")


def test_an_any_without_type_url_is_invalid(rawc):
    cmd = wire.encode([(2, b"\x0a\x01x")])
    rpc_error(lambda: rawc.get_flight_info(raw.cmd_descriptor(cmd)), INVALID, "type_url")


@pytest.mark.parametrize("ticket", [b"", b"\xff\xfe\xfd", wire.statement_query("SELECT 1"),
                                    wire.any_of("TicketStatementQuery", [(1, b"no-such")])])
def test_bad_tickets_are_rejected(rawc, ticket):
    with pytest.raises(grpc.RpcError) as err:
        rawc.do_get(ticket)
    assert err.value.code() in (INVALID, grpc.StatusCode.NOT_FOUND), err.value.details()
    assert err.value.details()


def test_a_query_command_sent_as_a_ticket_says_how_to_run_it(rawc):
    rpc_error(lambda: rawc.do_get(wire.statement_query("SELECT 1")), INVALID,
              "CommandStatementQuery", "GetFlightInfo")


def test_unknown_action_names_itself(rawc):
    rpc_error(lambda: rawc.do_action("DropEverything", b""), grpc.StatusCode.UNIMPLEMENTED,
              "DropEverything")


def test_invalid_utf8_in_sql_is_invalid_argument_saying_utf8(rawc):
    bad = wire.encode([(1, wire.PREFIX + "CommandStatementQuery"),
                       (2, wire.encode([(1, b"SELECT '\xff\xfe'")]))])
    rpc_error(lambda: rawc.get_flight_info(raw.cmd_descriptor(bad)), INVALID, "UTF-8")


def test_invalid_utf8_requests_do_not_flood_the_server_log(start_server):
    server = start_server()
    c = raw.RawFlight(server.uri)
    bad = wire.encode([(1, wire.PREFIX + "CommandStatementQuery"),
                       (2, wire.encode([(1, b"SELECT '\xff'")]))])
    for _ in range(20):
        rpc_error(lambda: c.get_flight_info(raw.cmd_descriptor(bad)), INVALID, "UTF-8")
    c.close()
    assert "libprotobuf" not in server.log()


def test_doput_with_a_garbage_command_is_invalid(rawc):
    schema_header, _ = raw.ipc_parts(pa.schema([("a", pa.int32())]).serialize())
    msgs = [raw.flight_data(raw.cmd_descriptor(b"\xff\x00garbage"), schema_header)]
    rpc_error(lambda: rawc.do_put(msgs), INVALID)


# --- Arrow IPC on DoPut ---------------------------------------------------------------------

def ipc_messages(table_name, batch, doctor):
    schema_header, _ = raw.ipc_parts(batch.schema.serialize())
    header, body = raw.ipc_parts(batch.serialize())
    header, body = doctor(header, body)
    return [raw.flight_data(raw.path_descriptor(table_name), schema_header),
            raw.flight_data(header=header, body=body)]


def sample_batch():
    return pa.record_batch({"id": pa.array(range(12345), pa.int64()),
                            "s": pa.array([f"v{i}" for i in range(12345)])})


def doctor_length(header, body):
    """Claims 2^40 rows (batch and every column) in a batch whose buffers hold 12345."""
    old = (12345).to_bytes(8, "little")
    assert header.count(old) >= 1
    return header.replace(old, (1 << 40).to_bytes(8, "little")), body


@pytest.mark.parametrize("doctor,what", [
    (lambda h, b: (h, b[:len(b) // 2]), "truncated body"),
    (lambda h, b: (h, b""), "no body"),
    (lambda h, b: (h[:len(h) // 2], b), "truncated header"),
    (lambda h, b: (b"\x00" * 64, b), "zeroed header"),
    (doctor_length, "row count larger than the buffers"),
])
def test_broken_ipc_on_streaming_doput_is_invalid_and_stores_nothing(uri, rawc, table, doctor,
                                                                      what):
    create_table(uri, f"CREATE TABLE {table} (id BIGINT, s VARCHAR)")
    msgs = ipc_messages(table, sample_batch(), doctor)
    with pytest.raises(grpc.RpcError) as err:
        rawc.do_put(msgs)
    assert err.value.code() == INVALID, (what, err.value.code(), err.value.details())
    assert count(uri, table) == 0


def test_broken_ipc_on_bulk_ingest_is_invalid_and_stores_nothing(uri, rawc, table):
    batch = sample_batch()
    schema_header, _ = raw.ipc_parts(batch.schema.serialize())
    header, body = raw.ipc_parts(batch.serialize())
    options = wire.encode([(1, 1), (2, 2)])  # create if missing, append
    cmd = wire.any_of("CommandStatementIngest", [(1, options), (2, table)])
    good = [raw.flight_data(raw.cmd_descriptor(cmd), schema_header),
            raw.flight_data(header=header, body=body)]
    with pytest.raises(grpc.RpcError) as err:
        rawc.do_put(good + [raw.flight_data(header=header, body=body[:100])])
    assert err.value.code() == INVALID, err.value.details()
    # all-or-nothing: the good first batch went too (the table may not even exist)
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{table}'")
        if cur.fetchall()[0][0]:
            assert count(uri, table) == 0


def test_a_batch_before_any_schema_is_rejected_saying_so(rawc, table):
    header, body = raw.ipc_parts(sample_batch().serialize())
    msgs = [raw.flight_data(raw.path_descriptor(table), header, body)]
    with pytest.raises(grpc.RpcError) as err:
        rawc.do_put(msgs)
    # Arrow's Flight server reads the first message itself, before hyprstream's DoPut runs,
    # and answers UNKNOWN for this one; the message says what was wrong.
    assert err.value.code() in (INVALID, grpc.StatusCode.UNKNOWN), err.value.details()
    assert "schema" in err.value.details()


# --- schema mismatches ----------------------------------------------------------------------

def test_bulk_ingest_of_the_wrong_column_types_is_rejected_naming_the_column(uri, table):
    create_table(uri, f"CREATE TABLE {table} (id BIGINT, ts TIMESTAMP)")
    data = pa.table({"id": pa.array(["not a number"]), "ts": pa.array(["nor a time"])})
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        with pytest.raises(adbc_driver_manager.ProgrammingError) as err:
            conn.cursor().adbc_ingest(table, data, mode="append")
    assert "id" in str(err.value)
    assert count(uri, table) == 0


def test_streaming_doput_of_the_wrong_column_count_is_rejected(client, uri, table):
    create_table(uri, f"CREATE TABLE {table} (a INTEGER)")
    data = pa.table({"a": pa.array([1], pa.int32()), "b": pa.array([2], pa.int32())})
    with pytest.raises(pa.ArrowInvalid, match="column"):
        writer, acks = client.do_put(flight.FlightDescriptor.for_path(table), data.schema)
        writer.write_table(data)
        acks.read()
        writer.close()
    assert count(uri, table) == 0


@pytest.mark.parametrize("sql,params", [
    ("SELECT ? + 1", ("abc",)),
    ("SELECT ?, ?", (1,)),
    ("SELECT ?", (1, 2, 3)),
])
def test_bad_prepared_statement_parameters_are_clear_errors(autocommit_conn, sql, params):
    cur = autocommit_conn.cursor()
    with pytest.raises(adbc_driver_manager.Error) as err:
        cur.execute(sql, parameters=params)
        cur.fetchall()
    assert "INVALID_ARGUMENT" in str(err.value) or "InvalidArgument" in str(err.value), err.value


def test_prepared_update_parameters_of_the_wrong_type_store_nothing(autocommit_conn, uri, table):
    cur = autocommit_conn.cursor()
    cur.execute(f"CREATE TABLE {table} (id INTEGER, t TIMESTAMP)")
    with pytest.raises(adbc_driver_manager.Error):
        cur.executemany(f"INSERT INTO {table} VALUES (?, ?)",
                        [(1, "2026-01-01"), (2, "not a timestamp")])
    assert count(uri, table) == 0


# --- invalid UTF-8 in string columns --------------------------------------------------------

def invalid_utf8_strings():
    values = [b"ok", b"\xff\xfe bad", b"\xc3"]
    offsets = [0]
    for v in values:
        offsets.append(offsets[-1] + len(v))
    return pa.Array.from_buffers(pa.string(), len(values), [
        None, pa.py_buffer(pa.array(offsets, pa.int32()).buffers()[1]),
        pa.py_buffer(b"".join(values))])


def test_invalid_utf8_in_a_streamed_string_column_is_rejected(client, uri, table):
    create_table(uri, f"CREATE TABLE {table} (s VARCHAR)")
    data = pa.table({"s": invalid_utf8_strings()})
    with pytest.raises(pa.ArrowInvalid, match="(?i)utf-?8"):
        writer, acks = client.do_put(flight.FlightDescriptor.for_path(table), data.schema)
        writer.write_table(data)
        acks.read()
        writer.close()
    assert count(uri, table) == 0


def test_invalid_utf8_in_a_bulk_ingest_is_rejected(autocommit_conn, uri, table):
    data = pa.table({"s": invalid_utf8_strings()})
    with pytest.raises(adbc_driver_manager.Error, match="(?i)utf-?8"):
        autocommit_conn.cursor().adbc_ingest(table, data, mode="create_append")


def test_invalid_utf8_as_a_parameter_is_rejected(client):
    data = pa.table({"p": invalid_utf8_strings().slice(1, 1)})
    (result,) = [r.body.to_pybytes() for r in client.do_action(flight.Action(
        "CreatePreparedStatement", wire.create_prepared_request("SELECT length(?) AS n")))]
    handle = wire.unpack_any(result)[1][1][0]
    with pytest.raises(pa.ArrowInvalid, match="(?i)utf-?8"):
        writer, acks = client.do_put(
            flight.FlightDescriptor.for_command(wire.prepared_query(handle)), data.schema)
        writer.write_table(data)
        writer.done_writing()
        acks.read()
        writer.close()
        info = client.get_flight_info(
            flight.FlightDescriptor.for_command(wire.prepared_query(handle)))
        client.do_get(info.endpoints[0].ticket).read_all()


# --- SQL errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("sql,fragment", [
    ("SELEC 1", "syntax"),
    ("SELECT * FROM no_such_table_xyz", "no_such_table_xyz"),
    ("SELECT no_such_column FROM range(1)", "no_such_column"),
    ("SELECT 1/0::INTEGER + 'a'::INTEGER", "a"),
])
def test_sql_errors_say_what_is_wrong(autocommit_conn, sql, fragment):
    cur = autocommit_conn.cursor()
    with pytest.raises(adbc_driver_manager.Error) as err:
        cur.execute(sql)
        cur.fetchall()
    assert fragment.lower() in str(err.value).lower(), err.value


@pytest.mark.parametrize("sql", ["", "   ", "-- only a comment"])
def test_empty_sql_is_invalid_argument(client, sql):
    with pytest.raises(pa.ArrowInvalid):
        client.get_flight_info(flight.FlightDescriptor.for_command(wire.statement_query(sql)))


# --- huge values ------------------------------------------------------------------------------

def test_a_64_mib_string_round_trips(client, uri, table):
    create_table(uri, f"CREATE TABLE {table} (id INTEGER, s VARCHAR)")
    big = "x" * (64 << 20)
    data = pa.table({"id": pa.array([1], pa.int32()), "s": [big]})
    writer, acks = client.do_put(flight.FlightDescriptor.for_path(table), data.schema)
    writer.write_table(data)
    assert json.loads(acks.read().to_pybytes())["rows"] == 1
    writer.close()
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT length(s), s[1:3], right(s, 2) FROM {table}")
        assert cur.fetchall() == [(64 << 20, "xxx", "xx")]
    # (the ADBC driver caps messages at 16 MiB on its side: fetch with pyarrow.flight)
    assert query(client, f"SELECT s FROM {table}")["s"][0].as_py() == big


def test_a_64_mib_sql_literal_is_answered(client):
    got = query(client, "SELECT length('" + "y" * (64 << 20) + "') AS n")
    assert got["n"].to_pylist() == [64 << 20]


def query(client, sql):
    info = client.get_flight_info(flight.FlightDescriptor.for_command(wire.statement_query(sql)))
    return client.do_get(info.endpoints[0].ticket).read_all()
