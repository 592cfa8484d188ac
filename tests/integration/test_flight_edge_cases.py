"""The protocol edges, driven with raw pyarrow.flight: descriptor-only DoPut, prepared
statements without parameters, DoPutUpdateResult, transactions on every command, unknown
type_url, malformed bytes, one-shot tickets."""
import json

import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flightsql_wire as wire

# pyarrow raises NOT_FOUND as ArrowKeyError and INVALID_ARGUMENT as ArrowInvalid.
CallFailed = (flight.FlightError, pa.ArrowException)


def action(client, name, body):
    return [r.body.to_pybytes() for r in client.do_action(flight.Action(name, body))]


def begin(client):
    (result,) = action(client, "BeginTransaction",
                       wire.any_of("ActionBeginTransactionRequest", []))
    type_url, fields = wire.unpack_any(result)
    assert type_url.endswith("ActionBeginTransactionResult")
    return fields[1][0]


def end(client, transaction_id, commit):
    action(client, "EndTransaction", wire.any_of("ActionEndTransactionRequest",
                                                 [(1, transaction_id), (2, 1 if commit else 2)]))


def query(client, sql, transaction_id=None):
    info = client.get_flight_info(
        flight.FlightDescriptor.for_command(wire.statement_query(sql, transaction_id)))
    table = client.do_get(info.endpoints[0].ticket).read_all()
    assert table.schema == info.schema
    return table


def update(client, sql, transaction_id=None):
    """CommandStatementUpdate: the DoPutUpdateResult arrives before we half-close."""
    writer, reader = client.do_put(
        flight.FlightDescriptor.for_command(wire.statement_update(sql, transaction_id)),
        pa.schema([]))
    ack = reader.read()
    writer.close()
    return wire.signed(wire.decode(ack.to_pybytes()).get(1, [0])[0])


def ingest(client, table, data, transaction_id=None, if_not_exist=1, if_exists=2):
    options = wire.encode([(1, if_not_exist), (2, if_exists)])
    cmd = wire.any_of("CommandStatementIngest", [(1, options), (2, table), (6, transaction_id)])
    writer, reader = client.do_put(flight.FlightDescriptor.for_command(cmd), data.schema)
    writer.write_table(data)
    writer.done_writing()
    ack = reader.read()
    writer.close()
    return wire.decode(ack.to_pybytes())[1][0]


def test_statement_update_answers_with_the_row_count(client, table):
    assert update(client, f"CREATE TABLE {table} (x INTEGER)") in (0, -1)
    assert update(client, f"INSERT INTO {table} SELECT * FROM range(42)") == 42
    assert query(client, f"SELECT count(*) AS n FROM {table}").column("n")[0].as_py() == 42


def test_query_announced_schema_equals_streamed_schema(client):
    info = client.get_flight_info(flight.FlightDescriptor.for_command(
        wire.statement_query("SELECT 1::INTEGER AS a, 'x' AS b, NULL::DOUBLE AS c")))
    table = client.do_get(info.endpoints[0].ticket).read_all()
    assert table.schema == info.schema
    assert table.to_pydict() == {"a": [1], "b": ["x"], "c": [None]}


def test_get_schema_of_a_statement(client):
    result = client.get_schema(flight.FlightDescriptor.for_command(
        wire.statement_query("SELECT 1::SMALLINT AS s, now() AS t")))
    assert result.schema.names == ["s", "t"]
    assert result.schema.field("s").type == pa.int16()


def test_tickets_are_one_shot(client):
    info = client.get_flight_info(flight.FlightDescriptor.for_command(
        wire.statement_query("SELECT 1 AS x")))
    client.do_get(info.endpoints[0].ticket).read_all()
    with pytest.raises(pa.ArrowKeyError) as err:
        client.do_get(info.endpoints[0].ticket).read_all()
    assert "ticket" in str(err.value).lower()


def test_prepared_statement_lifecycle(client, table):
    update(client, f"CREATE TABLE {table} AS SELECT range AS x FROM range(10)")
    (result,) = action(client, "CreatePreparedStatement",
                       wire.create_prepared_request(f"SELECT x FROM {table} WHERE x >= ?"))
    type_url, fields = wire.unpack_any(result)
    assert type_url.endswith("ActionCreatePreparedStatementResult")
    handle = fields[1][0]
    assert wire.schema_from_ipc(fields[2][0]).names == ["x"]
    assert len(wire.schema_from_ipc(fields[3][0])) == 1

    def run(params):
        descriptor = flight.FlightDescriptor.for_command(wire.prepared_query(handle))
        writer, reader = client.do_put(descriptor, params.schema)
        writer.write_table(params)
        writer.done_writing()
        reader.read()  # DoPutPreparedStatementResult
        writer.close()
        info = client.get_flight_info(descriptor)
        return client.do_get(info.endpoints[0].ticket).read_all().column("x").to_pylist()

    assert sorted(run(pa.table({"p": [7]}))) == [7, 8, 9]
    assert sorted(run(pa.table({"p": [9]}))) == [9]
    action(client, "ClosePreparedStatement", wire.close_prepared_request(handle))
    with pytest.raises(pa.ArrowKeyError):
        client.get_flight_info(flight.FlightDescriptor.for_command(wire.prepared_query(handle)))


def test_prepared_statement_without_parameters_has_an_empty_parameter_schema(client):
    (result,) = action(client, "CreatePreparedStatement",
                       wire.create_prepared_request("SELECT 42 AS answer"))
    _, fields = wire.unpack_any(result)
    parameter_schema = wire.schema_from_ipc(fields.get(3, [b""])[0])
    assert parameter_schema is None or len(parameter_schema) == 0
    descriptor = flight.FlightDescriptor.for_command(wire.prepared_query(fields[1][0]))
    info = client.get_flight_info(descriptor)
    assert client.do_get(info.endpoints[0].ticket).read_all().to_pydict() == {"answer": [42]}


def test_prepared_update_with_n_parameter_rows(client, table):
    update(client, f"CREATE TABLE {table} (id INTEGER, name VARCHAR)")
    (result,) = action(client, "CreatePreparedStatement",
                       wire.create_prepared_request(f"INSERT INTO {table} VALUES (?, ?)"))
    _, fields = wire.unpack_any(result)
    assert fields.get(4) == [1]  # is_update
    params = pa.table({"a": pa.array([1, 2, 3], pa.int32()), "b": ["x", "y", "z"]})
    writer, reader = client.do_put(
        flight.FlightDescriptor.for_command(wire.prepared_update(fields[1][0])), params.schema)
    writer.write_table(params)
    writer.done_writing()
    assert wire.decode(reader.read().to_pybytes())[1][0] == 3
    writer.close()
    assert query(client, f"SELECT * FROM {table} ORDER BY id").to_pydict() == \
        {"id": [1, 2, 3], "name": ["x", "y", "z"]}


def test_transaction_id_is_honoured_by_query_update_and_ingest(client, table):
    update(client, f"CREATE TABLE {table} (id BIGINT)")
    txn = begin(client)
    assert update(client, f"INSERT INTO {table} VALUES (1), (2)", txn) == 2
    assert ingest(client, table, pa.table({"id": pa.array([3, 4, 5], pa.int64())}), txn) == 3
    assert query(client, f"SELECT count(*) AS n FROM {table}", txn)["n"][0].as_py() == 5
    assert query(client, f"SELECT count(*) AS n FROM {table}")["n"][0].as_py() == 0
    end(client, txn, commit=False)
    assert query(client, f"SELECT count(*) AS n FROM {table}")["n"][0].as_py() == 0

    txn = begin(client)
    ingest(client, table, pa.table({"id": pa.array([9], pa.int64())}), txn)
    end(client, txn, commit=True)
    assert query(client, f"SELECT id FROM {table}")["id"].to_pylist() == [9]
    with pytest.raises(pa.ArrowKeyError) as err:
        update(client, f"INSERT INTO {table} VALUES (1)", txn)
    assert "transaction" in str(err.value)


def test_unknown_command_is_unimplemented_naming_the_type_url(client):
    with pytest.raises(pa.ArrowNotImplementedError) as err:
        client.get_flight_info(flight.FlightDescriptor.for_command(
            wire.any_of("CommandDoesNotExist", [(1, "x")])))
    assert "arrow.flight.protocol.sql.CommandDoesNotExist" in str(err.value)


@pytest.mark.parametrize("payload", [b"\xff\xffnot protobuf", b"", b"\x0a\x05abc"])
def test_malformed_command_bytes_are_invalid_argument(client, payload):
    with pytest.raises(pa.ArrowInvalid):
        client.get_flight_info(flight.FlightDescriptor.for_command(payload))


def test_malformed_payload_inside_a_valid_any_is_invalid_argument(client):
    bad = wire.encode([(1, wire.PREFIX + "CommandStatementQuery"), (2, b"\x0a\xff\xff")])
    with pytest.raises(pa.ArrowInvalid):
        client.get_flight_info(flight.FlightDescriptor.for_command(bad))


def test_unknown_action_is_unimplemented(client):
    with pytest.raises(pa.ArrowNotImplementedError):
        action(client, "NoSuchAction", b"")


def test_list_actions_names_the_flight_sql_actions(client):
    names = {a.type for a in client.list_actions()}
    assert {"CreatePreparedStatement", "ClosePreparedStatement", "BeginTransaction",
            "EndTransaction"} <= names


def test_streaming_doput_acknowledges_each_batch_and_is_visible_at_once(client, table):
    schema = pa.schema([("ts", pa.timestamp("us")), ("v", pa.float64())])
    writer, acks = client.do_put(flight.FlightDescriptor.for_path(table), schema)
    total = 0
    for i in range(5):
        n = 100 * (i + 1)
        batch = pa.record_batch([pa.array(range(n), pa.timestamp("us")),
                                 pa.array([float(i)] * n)], schema=schema)
        writer.write_batch(batch)
        total += n
        assert json.loads(acks.read().to_pybytes()) == {"rows": n, "total_rows": total}
        # committed: another call sees it while the stream is still open
        assert query(client, f"SELECT count(*) AS n FROM {table}")["n"][0].as_py() == total
    writer.close()


def test_streaming_doput_appends_to_an_existing_table(client, table):
    update(client, f"CREATE TABLE {table} (a INTEGER, b VARCHAR)")
    data = pa.table({"a": pa.array([1, 2], pa.int32()), "b": ["x", "y"]})
    writer, acks = client.do_put(flight.FlightDescriptor.for_path(table), data.schema)
    writer.write_table(data)
    assert json.loads(acks.read().to_pybytes())["total_rows"] == 2
    writer.close()
    assert query(client, f"SELECT * FROM {table} ORDER BY a").to_pydict() == data.to_pydict()


def test_streaming_doput_bad_batch_keeps_earlier_batches(client, table):
    update(client, f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
    schema = pa.schema([("id", pa.int32())])
    writer, acks = client.do_put(flight.FlightDescriptor.for_path(table), schema)
    writer.write_batch(pa.record_batch([pa.array([1, 2, 3], pa.int32())], schema=schema))
    assert json.loads(acks.read().to_pybytes())["rows"] == 3
    writer.write_batch(pa.record_batch([pa.array([4, 1], pa.int32())], schema=schema))
    with pytest.raises(pa.ArrowInvalid, match="(?i)constraint|duplicate"):
        acks.read()
        writer.close()
    ids = query(client, f"SELECT id FROM {table} ORDER BY id")["id"].to_pylist()
    assert ids == [1, 2, 3]


def test_streaming_doput_with_a_wrong_schema_is_rejected(client, table):
    update(client, f"CREATE TABLE {table} (a INTEGER)")
    data = pa.table({"zzz": ["text"]})
    with pytest.raises(pa.ArrowInvalid, match="zzz"):
        writer, acks = client.do_put(flight.FlightDescriptor.for_path(table), data.schema)
        writer.write_table(data)
        acks.read()
        writer.close()
    assert query(client, f"SELECT count(*) AS n FROM {table}")["n"][0].as_py() == 0


def test_path_descriptor_get_flight_info_reads_the_table(client, table):
    update(client, f"CREATE TABLE {table} AS SELECT range AS x FROM range(5)")
    info = client.get_flight_info(flight.FlightDescriptor.for_path(table))
    data = client.do_get(info.endpoints[0].ticket).read_all()
    assert sorted(data["x"].to_pylist()) == [0, 1, 2, 3, 4]


def prepare(client, sql, transaction_id=None):
    (result,) = action(client, "CreatePreparedStatement",
                       wire.create_prepared_request(sql, transaction_id))
    return wire.unpack_any(result)[1][1][0]


def run_prepared_update(client, handle):
    writer, reader = client.do_put(
        flight.FlightDescriptor.for_command(wire.prepared_update(handle)), pa.schema([]))
    writer.done_writing()  # no parameter rows
    count = wire.signed(wire.decode(reader.read().to_pybytes()).get(1, [0])[0])
    writer.close()
    return count


def test_a_transaction_runs_on_the_sessions_connection_and_calls_without_its_id_stay_out(
        client, table):
    """A transaction runs on the session's own connection (its temp tables and settings);
    meanwhile the session's calls without the transaction id (statements, and a statement
    prepared outside it) run outside it, autocommitted, with the session's options."""
    from test_sessions_cancel_poll import set_session_options
    update(client, f"CREATE TABLE {table} (x INTEGER)")
    update(client, f"CREATE TEMP TABLE {table}_tmp AS SELECT 7 AS x")
    assert set_session_options(client, TimeZone="Asia/Tokyo") == {}
    outside = prepare(client, f"INSERT INTO {table} VALUES (100)")
    txn = begin(client)
    assert query(client, f"SELECT x, current_setting('TimeZone') AS tz FROM {table}_tmp",
                 txn).to_pylist() == [{"x": 7, "tz": "Asia/Tokyo"}]
    assert update(client, f"INSERT INTO {table} VALUES (1)", txn) == 1
    assert update(client, f"INSERT INTO {table} VALUES (2)") == 1
    assert run_prepared_update(client, outside) == 1
    # Outside the transaction: its row is not seen, the session's settings are.
    assert query(client, f"SELECT list(x ORDER BY x) AS xs, current_setting('TimeZone') AS tz "
                 f"FROM {table}").to_pylist() == [{"xs": [2, 100], "tz": "Asia/Tokyo"}]
    end(client, txn, commit=False)
    assert query(client, f"SELECT x FROM {table} ORDER BY x")["x"].to_pylist() == [2, 100]
    assert run_prepared_update(client, outside) == 1
    assert query(client, f"SELECT count(*) AS n FROM {table}_tmp")["n"][0].as_py() == 1


def test_a_transaction_begun_inside_a_sql_transaction_runs_beside_it(client, table):
    """The session's connection is in a SQL BEGIN: a Flight SQL transaction gets a connection
    of its own, and each ends on its own."""
    update(client, f"CREATE TABLE {table} (x INTEGER)")
    update(client, "BEGIN")
    update(client, f"INSERT INTO {table} VALUES (1)")
    txn = begin(client)
    update(client, f"INSERT INTO {table} VALUES (2)", txn)
    end(client, txn, commit=True)
    update(client, "ROLLBACK")
    assert query(client, f"SELECT x FROM {table}")["x"].to_pylist() == [2]


def test_a_statement_prepared_in_an_ended_transaction_runs_in_the_sessions_next_one(
        client, table):
    """The ADBC driver keeps a prepared statement across its commits: once the transaction it
    was prepared in has ended, it runs where the session's statements run, inside the session's
    transaction (before, on the ended transaction's connection, committed at once)."""
    update(client, f"CREATE TABLE {table} (x INTEGER)")
    first = begin(client)
    handle = prepare(client, f"INSERT INTO {table} VALUES (1)", first)
    run_prepared_update(client, handle)
    end(client, first, commit=True)
    second = begin(client)
    run_prepared_update(client, handle)
    assert query(client, f"SELECT count(*) AS n FROM {table}", second)["n"][0].as_py() == 2
    end(client, second, commit=False)
    assert query(client, f"SELECT count(*) AS n FROM {table}")["n"][0].as_py() == 1
    run_prepared_update(client, handle)  # no transaction open: autocommitted
    assert query(client, f"SELECT count(*) AS n FROM {table}")["n"][0].as_py() == 2


def test_a_closed_sessions_slot_is_free_while_its_result_is_unread_or_its_transaction_open(
        start_server, table):
    """What holds the session's connection after CloseSession (an unread result, a transaction
    on it) does not keep the closed session's place in --max-sessions; the transaction can
    still be committed."""
    server = start_server("--max-sessions", "1")

    def close_session(c):
        (result,) = c.do_action(flight.Action("CloseSession", b""))
        assert wire.decode(result.body.to_pybytes()) == {1: [1]}  # CLOSED

    def count_from_another_session():
        with flight.connect(server.uri) as other:  # another channel: another session
            n = query(other, f"SELECT count(*) AS n FROM {table}")["n"][0].as_py()
            close_session(other)
            return n

    client = flight.connect(server.uri)
    update(client, f"CREATE TABLE {table} (x INTEGER)")
    unread = client.get_flight_info(flight.FlightDescriptor.for_command(
        wire.statement_query("SELECT 1")))
    close_session(client)
    assert count_from_another_session() == 0
    txn = begin(client)  # a new session of this channel, and its connection
    update(client, f"INSERT INTO {table} VALUES (1)", txn)
    close_session(client)
    assert count_from_another_session() == 0
    end(client, txn, commit=True)
    assert count_from_another_session() == 1
    assert unread.endpoints
    client.close()
