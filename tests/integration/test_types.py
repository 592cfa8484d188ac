"""Every DuckDB type arrives as the right Arrow type with the right value, and Arrow data
ingested comes back unchanged. Every result read here is valid Arrow in full (conftest
validates what the clients fetch; the tests below also call validate_fully themselves)."""
import datetime
import decimal
import re
import uuid

import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flightsql_wire as wire
from arrow_validity import validate_fully
from conftest import Server

HUGEINT_MAX = 2**127 - 1  # 39 digits
HUGEINT_MIN = -2**127
UHUGEINT_MAX = 2**128 - 1  # 39 digits
D38 = 10**38 - 1  # the largest magnitude decimal128(38, 0) carries

CASES = [
    # (SQL expression, expected Arrow type, expected Python value)
    ("1::TINYINT", pa.int8(), 1),
    ("-2::SMALLINT", pa.int16(), -2),
    ("3::INTEGER", pa.int32(), 3),
    ("9223372036854775807::BIGINT", pa.int64(), 9223372036854775807),
    ("255::UTINYINT", pa.uint8(), 255),
    ("65535::USMALLINT", pa.uint16(), 65535),
    ("4294967295::UINTEGER", pa.uint32(), 4294967295),
    ("18446744073709551615::UBIGINT", pa.uint64(), 18446744073709551615),
    ("1.5::FLOAT", pa.float32(), 1.5),
    ("2.25::DOUBLE", pa.float64(), 2.25),
    ("123.45::DECIMAL(10,2)", pa.decimal128(10, 2), decimal.Decimal("123.45")),
    ("12345678901234567890.123::DECIMAL(38,3)", pa.decimal128(38, 3),
     decimal.Decimal("12345678901234567890.123")),
    ("'héllo'::VARCHAR", pa.string(), "héllo"),
    ("'\\x00\\xFF'::BLOB", pa.binary(), b"\x00\xff"),
    ("true", pa.bool_(), True),
    ("DATE '2024-02-29'", pa.date32(), datetime.date(2024, 2, 29)),
    ("TIME '12:34:56.789'", pa.time64("us"), datetime.time(12, 34, 56, 789000)),
    ("TIMESTAMP '2024-01-02 03:04:05.123456'", pa.timestamp("us"),
     datetime.datetime(2024, 1, 2, 3, 4, 5, 123456)),
    ("TIMESTAMP_MS '2024-01-02 03:04:05.123'", pa.timestamp("ms"),
     datetime.datetime(2024, 1, 2, 3, 4, 5, 123000)),
    ("TIMESTAMP_NS '2024-01-02 03:04:05'", pa.timestamp("ns"), None),
    ("TIMESTAMPTZ '2024-01-02 03:04:05+00'", pa.timestamp("us", tz="UTC"),
     datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)),
    ("INTERVAL '1 month 2 days 3 seconds'", pa.month_day_nano_interval(),
     pa.MonthDayNano([1, 2, 3_000_000_000])),
    ("'12345678-1234-5678-1234-567812345678'::UUID", pa.string(),
     str(uuid.UUID("12345678-1234-5678-1234-567812345678"))),
    ("[1, 2, NULL]::INTEGER[]", pa.list_(pa.int32()), [1, 2, None]),
    ("{'a': 1, 'b': 'x'}", pa.struct([("a", pa.int32()), ("b", pa.string())]),
     {"a": 1, "b": "x"}),
    ("MAP {'k': 1}", pa.map_(pa.string(), pa.int32()), [("k", 1)]),
    ("[0.5, 1.5, 2.5]::FLOAT[3]", pa.list_(pa.float32(), 3), [0.5, 1.5, 2.5]),
    ("NULL::INTEGER", pa.int32(), None),
    # HUGEINT is decimal128(38, 0): its values of up to 38 digits (the rest fail, see below).
    (f"{D38}::HUGEINT", pa.decimal128(38, 0), decimal.Decimal(D38)),
    (f"-{D38}::HUGEINT", pa.decimal128(38, 0), decimal.Decimal(-D38)),
    ("-42::HUGEINT", pa.decimal128(38, 0), decimal.Decimal(-42)),
    ("NULL::HUGEINT", pa.decimal128(38, 0), None),
    (f"[1, {D38}]::HUGEINT[]", pa.list_(pa.decimal128(38, 0)),
     [decimal.Decimal(1), decimal.Decimal(D38)]),
]


@pytest.mark.parametrize("expression,arrow_type,value", CASES, ids=[c[0] for c in CASES])
def test_select_type(autocommit_conn, expression, arrow_type, value):
    cur = autocommit_conn.cursor()
    cur.execute(f"SELECT {expression} AS v")
    table = validate_fully(cur.fetch_arrow_table())
    field = table.schema.field("v")
    # timezone spelling may differ; compare the rest exactly
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz:
        assert pa.types.is_timestamp(field.type) and field.type.unit == arrow_type.unit
        assert field.type.tz == "UTC"
    elif pa.types.is_list(arrow_type):  # the item field's name is DuckDB's ("l")
        assert pa.types.is_list(field.type) and field.type.value_type == arrow_type.value_type
    else:
        assert field.type == arrow_type
    if value is not None or expression.startswith("NULL"):
        assert table.column("v")[0].as_py() == value


def too_wide(value, sql_type="HUGEINT", column="v"):
    """The error a HUGEINT beyond 38 digits gives (a regular expression)."""
    return re.escape(f'column "{column}" ({sql_type}) holds the value {value}, which has more '
                     "digits than its Arrow type decimal128(38, 0) can carry; CAST the column "
                     "to VARCHAR for the exact value, or to DOUBLE")


TOO_WIDE = [
    # (query, value the error names, SQL type of column v)
    (f"SELECT {HUGEINT_MAX}::HUGEINT AS v", HUGEINT_MAX, "HUGEINT"),
    # -2^127 passes Arrow's own validate(full=True) (arrow_validity.py checks it apart).
    (f"SELECT '{HUGEINT_MIN}'::HUGEINT AS v", HUGEINT_MIN, "HUGEINT"),
    (f"SELECT {10**38}::HUGEINT AS v", 10**38, "HUGEINT"),
    (f"SELECT -{10**38}::HUGEINT AS v", -10**38, "HUGEINT"),
    (f"SELECT [1, NULL, {HUGEINT_MAX}]::HUGEINT[] AS v", HUGEINT_MAX, "HUGEINT[]"),
    (f"SELECT {{'a': {HUGEINT_MAX}::HUGEINT}} AS v", HUGEINT_MAX, "STRUCT(a HUGEINT)"),
    (f"SELECT MAP {{{HUGEINT_MAX}::HUGEINT: 1}} AS v", HUGEINT_MAX, "MAP(HUGEINT, INTEGER)"),
    (f"SELECT x::HUGEINT * 10000000000000000000000000000000000 AS v FROM range(15000) t(x) "
     "ORDER BY x", 10**38, "HUGEINT"),
]


@pytest.mark.parametrize("sql,value,sql_type", TOO_WIDE, ids=[c[0][:60] for c in TOO_WIDE])
def test_hugeint_beyond_38_digits_fails_the_query_naming_the_column(autocommit_conn, sql, value,
                                                                    sql_type):
    """HUGEINT's Arrow type is decimal128(38, 0), announced before any value is seen; a value of
    39 digits fails the query with INVALID_ARGUMENT naming the column and the value, instead of
    arriving as data Arrow's validation rejects ("does not fit in precision")."""
    cur = autocommit_conn.cursor()
    with pytest.raises(adbc_driver_flightsql.dbapi.ProgrammingError,
                       match=too_wide(value, sql_type)) as error:
        cur.execute(sql)
        cur.fetch_arrow_table()
    assert error.value.status_code == adbc_driver_manager.AdbcStatusCode.INVALID_ARGUMENT
    assert "INVALID_ARGUMENT" in str(error.value)


def test_flight_announces_hugeint_as_decimal128_and_do_get_fails_on_39_digits(client):
    """Through pyarrow.flight: GetFlightInfo announces decimal128(38, 0); DoGet streams the rows
    that fit (schema equal to the announced one) and fails with INVALID_ARGUMENT on one that
    does not."""
    def flight_info(sql):
        return client.get_flight_info(flight.FlightDescriptor.for_command(
            wire.statement_query(sql)))

    fits = flight_info(f"SELECT {D38}::HUGEINT AS v, NULL::HUGEINT AS n")
    assert fits.schema.field("v").type == pa.decimal128(38, 0)
    data = validate_fully(client.do_get(fits.endpoints[0].ticket).read_all())
    assert data.schema == fits.schema
    assert data.to_pylist() == [{"v": decimal.Decimal(D38), "n": None}]

    wide = flight_info(f"SELECT 1 AS k, {HUGEINT_MAX}::HUGEINT AS h")
    assert wide.schema.field("h").type == pa.decimal128(38, 0)
    with pytest.raises(pa.ArrowInvalid, match=too_wide(HUGEINT_MAX, column="h")) as error:
        client.do_get(wide.endpoints[0].ticket).read_all()
    # pyarrow.flight raises ArrowInvalid for gRPC INVALID_ARGUMENT (and a FlightError subclass
    # for INTERNAL, UNAVAILABLE, ...).
    assert type(error.value) is pa.ArrowInvalid


def test_hugeint_metadata_says_the_38_digits_its_arrow_type_carries(client):
    """A HUGEINT column's ARROW:FLIGHT:SQL:PRECISION (JDBC's getPrecision) and the HUGEINT row of
    GetXdbcTypeInfo say 38, the precision of decimal128(38, 0), not HUGEINT's 39."""
    info = client.get_flight_info(flight.FlightDescriptor.for_command(
        wire.statement_query("SELECT 1::HUGEINT AS h, 1::UHUGEINT AS u")))
    h = info.schema.field("h")
    assert h.type == pa.decimal128(38, 0)
    assert h.metadata[b"ARROW:FLIGHT:SQL:TYPE_NAME"] == b"HUGEINT"
    assert h.metadata[b"ARROW:FLIGHT:SQL:PRECISION"] == b"38"
    assert info.schema.field("u").metadata[b"ARROW:FLIGHT:SQL:PRECISION"] == b"39"
    types = flight.FlightDescriptor.for_command(wire.any_of("CommandGetXdbcTypeInfo", []))
    type_info = client.get_flight_info(types)
    rows = validate_fully(client.do_get(type_info.endpoints[0].ticket).read_all()).to_pylist()
    sizes = {row["type_name"]: row["column_size"] for row in rows}
    assert (sizes["HUGEINT"], sizes["UHUGEINT"], sizes["DECIMAL"]) == (38, 39, 38)

def test_hugeint_and_uhugeint_columns_of_a_table(autocommit_conn, table):
    """Stored HUGEINT/UHUGEINT extremes, typical values and NULLs: HUGEINT reads as
    decimal128(38, 0) up to 38 digits and fails naming the column beyond; UHUGEINT reads as
    DuckDB's arrow.opaque (16 bytes, little-endian), which holds every value; both exact as
    VARCHAR; SUM of them and of an INTEGER column is valid too."""
    cur = autocommit_conn.cursor()
    cur.execute(f"CREATE TABLE {table} (k INTEGER, h HUGEINT, u UHUGEINT)")
    rows = [(1, D38, 0), (2, -D38, UHUGEINT_MAX), (3, 12345, 12345), (4, None, None),
            (5, HUGEINT_MAX, 1), (6, HUGEINT_MIN, 2)]
    literal = lambda v: "NULL" if v is None else f"'{v}'"  # noqa: E731
    cur.execute(f"INSERT INTO {table} VALUES "
                + ", ".join(f"({k}, {literal(h)}, {literal(u)})" for k, h, u in rows))

    cur.execute(f"SELECT k, h FROM {table} WHERE k <= 4 ORDER BY k")
    fits = validate_fully(cur.fetch_arrow_table())
    assert fits.schema.field("h").type == pa.decimal128(38, 0)
    assert fits.column("h").to_pylist() == [decimal.Decimal(D38), decimal.Decimal(-D38),
                                            decimal.Decimal(12345), None]

    for where in ("", "WHERE k = 5", "WHERE k = 6"):
        with pytest.raises(adbc_driver_flightsql.dbapi.ProgrammingError,
                           match=re.escape('column "h" (HUGEINT) holds the value ')) as error:
            cur.execute(f"SELECT k, h FROM {table} {where} ORDER BY k")
            cur.fetch_arrow_table()
        assert error.value.status_code == adbc_driver_manager.AdbcStatusCode.INVALID_ARGUMENT

    # As the error advises: exact as VARCHAR, approximate as DOUBLE.
    cur.execute(f"SELECT k, h::VARCHAR, u::VARCHAR, h::DOUBLE FROM {table} ORDER BY k")
    text = lambda v: None if v is None else str(v)  # noqa: E731
    approx = lambda v: None if v is None else float(v)  # noqa: E731
    assert cur.fetchall() == [(k, text(h), text(u), approx(h)) for k, h, u in rows]

    cur.execute(f"SELECT u FROM {table} ORDER BY k")
    unsigned = validate_fully(cur.fetch_arrow_table())
    u_type = unsigned.schema.field("u").type
    assert isinstance(u_type, pa.OpaqueType)
    assert (u_type.storage_type, u_type.type_name, u_type.vendor_name) == \
        (pa.binary(16), "uhugeint", "DuckDB")
    assert [None if b is None else int.from_bytes(b, "little")
            for b in unsigned.column("u").to_pylist()] == [u for _, _, u in rows]

    cur.execute(f"SELECT sum(k) AS s, sum(h) FILTER (WHERE k <= 3) AS sh FROM {table}")
    sums = validate_fully(cur.fetch_arrow_table())
    assert sums.schema.field("s").type == pa.decimal128(38, 0)  # SUM(INTEGER) is HUGEINT
    assert sums.to_pylist() == [{"s": decimal.Decimal(21), "sh": decimal.Decimal(12345)}]


def test_decimal_beyond_its_precision_is_refused_as_parameter_and_by_ingest(autocommit_conn,
                                                                            table):
    """-2^127 in decimal128(38, 0) has 39 digits, though Arrow's own validation lets it pass:
    bound as a parameter or ingested it is refused with a message naming the column, and
    nothing is stored."""
    minimum = pa.Array.from_buffers(
        pa.decimal128(38, 0), 1,
        [None, pa.py_buffer(HUGEINT_MIN.to_bytes(16, "little", signed=True))])
    minimum.validate(full=True)  # what Arrow alone says
    message = re.escape(f'column "p" of the Arrow data is invalid: the decimal value '
                        f"{HUGEINT_MIN} does not fit in the precision of decimal128(38, 0)")
    cur = autocommit_conn.cursor()
    with pytest.raises(adbc_driver_flightsql.dbapi.ProgrammingError, match=message) as error:
        cur.execute("SELECT ?::VARCHAR AS v", parameters=pa.record_batch([minimum], names=["p"]))
        cur.fetchall()
    assert error.value.status_code == adbc_driver_manager.AdbcStatusCode.INVALID_ARGUMENT

    cur.execute(f"CREATE TABLE {table} (p DECIMAL(38, 0))")
    with pytest.raises(adbc_driver_flightsql.dbapi.ProgrammingError, match=message) as error:
        cur.adbc_ingest(table, pa.table({"p": minimum}), mode="append")
    assert error.value.status_code == adbc_driver_manager.AdbcStatusCode.INVALID_ARGUMENT
    cur.execute(f"SELECT count(*) FROM {table}")
    assert cur.fetchone() == (0,)


def test_enum_arrives_as_dictionary(autocommit_conn, table):
    cur = autocommit_conn.cursor()
    cur.execute(f"CREATE TYPE {table}_mood AS ENUM ('sad', 'ok', 'happy')")
    cur.execute(f"SELECT 'happy'::{table}_mood AS m UNION ALL SELECT 'sad'::{table}_mood")
    result = cur.fetch_arrow_table()
    field_type = result.schema.field("m").type
    assert pa.types.is_dictionary(field_type)
    assert field_type.value_type == pa.string()
    assert sorted(result.column("m").to_pylist()) == ["happy", "sad"]


def test_arrow_types_round_trip_through_ingest(autocommit_conn, table):
    data = pa.table({
        "i8": pa.array([-1, None], pa.int8()),
        "u64": pa.array([2**64 - 1, 0], pa.uint64()),
        "f32": pa.array([1.5, None], pa.float32()),
        "dec": pa.array([decimal.Decimal("1.23"), None], pa.decimal128(9, 2)),
        "s": pa.array(["a", None]),
        "bin": pa.array([b"\x00\x01", None]),
        "b": pa.array([True, False]),
        "d": pa.array([datetime.date(2020, 1, 1), None], pa.date32()),
        "t": pa.array([datetime.time(1, 2, 3), None], pa.time64("us")),
        "ts": pa.array([datetime.datetime(2020, 1, 1, 1, 2, 3), None], pa.timestamp("us")),
        "tsz": pa.array([datetime.datetime(2020, 1, 1, 1, 2, 3), None],
                        pa.timestamp("us", tz="UTC")),
        "l": pa.array([[1, 2], None], pa.list_(pa.int64())),
        "st": pa.array([{"x": 1, "y": "z"}, None],
                       pa.struct([("x", pa.int32()), ("y", pa.string())])),
        "emb": pa.array([[0.1, 0.2, 0.3, 0.4], None], pa.list_(pa.float32(), 4)),
        "m": pa.array([[("a", 1)], None], pa.map_(pa.string(), pa.int32())),
    })
    cur = autocommit_conn.cursor()
    cur.adbc_ingest(table, data, mode="create")
    cur.execute(f"SELECT * FROM {table} ORDER BY b DESC")
    back = cur.fetch_arrow_table()
    for name in data.column_names:
        expected = data.column(name)
        got = back.column(name)
        if name == "tsz":
            assert got.type.unit == "us" and got.type.tz is not None
            assert got.cast(pa.timestamp("us", tz="UTC")).to_pylist() == expected.to_pylist()
        else:
            assert got.type == expected.type, name
            assert got.to_pylist() == expected.to_pylist(), name


def test_parameters_bind_temporal_and_decimal_values(autocommit_conn):
    cur = autocommit_conn.cursor()
    when = datetime.datetime(2024, 5, 6, 7, 8, 9)
    cur.execute("SELECT ? + INTERVAL 1 DAY AS t, ?::DATE AS d, ? * 2 AS x",
                parameters=(when, datetime.date(2024, 1, 31), decimal.Decimal("1.25")))
    t, d, x = cur.fetchone()
    assert t == when + datetime.timedelta(days=1)
    assert d == datetime.date(2024, 1, 31)
    assert x == decimal.Decimal("2.50")


NANOS = [-2500, -1500, -1000, -999, -1, 0, 1, 999, 1500, 86_400_000_000_001]


@pytest.mark.parametrize("sql_type, arrow_type", [
    ("TIMESTAMP", pa.timestamp("ns")),
    ("TIMESTAMPTZ", pa.timestamp("ns", tz="UTC")),
    ("INTERVAL", pa.duration("ns")),
    ("INTERVAL", pa.month_day_nano_interval()),
])
def test_nanoseconds_become_the_same_microseconds_as_parameters_and_by_ingest(
        autocommit_conn, table, sql_type, arrow_type):
    """One rule (truncation toward zero, as DuckDB's Arrow reader does) whichever way a value
    arrives: bound as a parameter or bulk-ingested."""
    cur = autocommit_conn.cursor()
    cur.execute(f"CREATE TABLE {table} (k INTEGER, t {sql_type})")
    if arrow_type == pa.month_day_nano_interval():
        values = pa.array([(0, 0, n) for n in NANOS], arrow_type)
    else:
        values = pa.array(NANOS, arrow_type)
    keys = pa.array(range(len(NANOS)), pa.int32())
    cur.adbc_ingest(table, pa.table({"k": keys, "t": values}), mode="append")
    cur.executemany(f"INSERT INTO {table} VALUES (? + 100, ?)",
                    pa.record_batch([keys, values], names=["k", "t"]))
    micros = "epoch_us(t)" if sql_type != "INTERVAL" else "epoch_us(TIMESTAMP '1970-01-01' + t)"
    cur.execute(f"SELECT k, {micros} FROM {table} ORDER BY k")
    stored = dict(cur.fetchall())
    expected = [int(n / 1000) for n in NANOS]  # toward zero
    assert [stored[k] for k in range(len(NANOS))] == expected
    assert [stored[k + 100] for k in range(len(NANOS))] == expected


def tz_of_timestamptz(uri, setup=()):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        for sql in setup:
            cur.execute(sql)
        cur.execute("SELECT TIMESTAMPTZ '2023-05-15 13:45:30+00' AS t")
        result = cur.fetch_arrow_table()
    assert result.column("t").cast(pa.timestamp("us", tz="UTC")).to_pylist()[0] == \
        datetime.datetime(2023, 5, 15, 13, 45, 30, tzinfo=datetime.timezone.utc)
    return result.schema.field("t").type.tz


@pytest.mark.parametrize("host_zone", ["America/Chicago", "Etc/UTC", "UTC"])
def test_timestamptz_label_is_utc_whatever_the_hosts_zone(start_server, host_zone):
    """The result type does not depend on the host's zone file: every session starts in UTC,
    and SET TimeZone changes one session's label (others keep UTC)."""
    server = start_server(env={"TZ": host_zone})
    assert tz_of_timestamptz(server.uri) == "UTC"
    assert tz_of_timestamptz(server.uri, ["SET TimeZone = 'Asia/Tokyo'"]) == "Asia/Tokyo"
    assert tz_of_timestamptz(server.uri) == "UTC"


def test_engine_option_sets_the_default_time_zone(start_server, tmp_path):
    server = start_server("--engine-options", "TimeZone=Europe/Paris")
    assert tz_of_timestamptz(server.uri) == "Europe/Paris"
    bad = Server(tmp_path, "--engine-options", "TimeZone=Mars/Olympus_Mons")
    with pytest.raises(RuntimeError, match="invalid TimeZone 'Mars/Olympus_Mons'"):
        bad.start()
