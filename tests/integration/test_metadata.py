"""Catalog metadata with exact schemas: ADBC's get_objects / get_table_schema / get_info /
get_table_types, and the raw Flight SQL commands (keys, XdbcTypeInfo, SqlInfo) through
pyarrow.flight. A server of its own, so the catalog holds exactly what this module creates."""
import adbc_driver_flightsql.dbapi
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flightsql_wire as wire
from conftest import Server


@pytest.fixture(scope="module")
def meta(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("meta"), "--metrics-table=false").start()
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        cur = conn.cursor()
        for sql in [
            "CREATE TABLE parent (id INTEGER NOT NULL, region VARCHAR NOT NULL, "
            "name VARCHAR, PRIMARY KEY (region, id))",
            "CREATE TABLE child (cid BIGINT PRIMARY KEY, pid INTEGER, pregion VARCHAR, "
            "amount DECIMAL(12, 3), FOREIGN KEY (pregion, pid) REFERENCES parent (region, id))",
            "CREATE VIEW parent_names AS SELECT name FROM parent",
            "CREATE SCHEMA sales",
            "CREATE TABLE sales.orders (o_id INTEGER, note VARCHAR)",
            "CREATE TABLE sales.order_lines (l_id INTEGER)",
        ]:
            cur.execute(sql)
    yield server
    server.stop()


def flight_sql(uri, command_name, fields=()):
    with flight.connect(uri) as client:
        descriptor = flight.FlightDescriptor.for_command(wire.any_of(command_name, list(fields)))
        info = client.get_flight_info(descriptor)
        table = client.do_get(info.endpoints[0].ticket).read_all()
        schema = client.get_schema(descriptor).schema
    assert table.schema == info.schema == schema  # announced == streamed, nullability included
    assert all(a.nullable == b.nullable for a, b in zip(table.schema, info.schema))
    return table


def test_get_catalogs_and_schemas(meta):
    catalogs = flight_sql(meta.uri, "CommandGetCatalogs")
    assert catalogs.schema == pa.schema([pa.field("catalog_name", pa.string(), False)])
    assert "memory" in catalogs["catalog_name"].to_pylist()
    schemas = flight_sql(meta.uri, "CommandGetDbSchemas", [(1, "memory")])
    assert schemas.schema == pa.schema([pa.field("catalog_name", pa.string()),
                                        pa.field("db_schema_name", pa.string(), False)])
    assert schemas["db_schema_name"].to_pylist() == ["main", "sales"]
    filtered = flight_sql(meta.uri, "CommandGetDbSchemas", [(2, "sal%")])
    assert filtered["db_schema_name"].to_pylist() == ["sales"]
    assert flight_sql(meta.uri, "CommandGetDbSchemas", [(1, "no_such_catalog")]).num_rows == 0


def test_get_tables_filters_order_and_types(meta):
    tables = flight_sql(meta.uri, "CommandGetTables", [(1, "memory")])
    rows = list(zip(tables["db_schema_name"].to_pylist(), tables["table_name"].to_pylist(),
                    tables["table_type"].to_pylist()))
    assert rows == [("main", "child", "TABLE"), ("main", "parent", "TABLE"),
                    ("main", "parent_names", "VIEW"), ("sales", "order_lines", "TABLE"),
                    ("sales", "orders", "TABLE")]
    duckdb_spelling = flight_sql(meta.uri, "CommandGetTables", [(4, "BASE TABLE")])
    assert duckdb_spelling.num_rows == 4
    views = flight_sql(meta.uri, "CommandGetTables", [(4, "VIEW")])
    assert views["table_name"].to_pylist() == ["parent_names"]
    # _ matches one character, \ escapes it
    pattern = flight_sql(meta.uri, "CommandGetTables", [(2, "sales"), (3, "order\\_%")])
    assert pattern["table_name"].to_pylist() == ["order_lines"]
    assert flight_sql(meta.uri, "CommandGetTables", [(3, "parent_")]).num_rows == 0


def test_get_tables_include_schema_has_types_nullability_and_metadata(meta):
    tables = flight_sql(meta.uri, "CommandGetTables", [(3, "child"), (5, True)])
    assert tables.schema.field("table_schema").type == pa.binary()
    assert not tables.schema.field("table_schema").nullable
    schema = wire.schema_from_ipc(tables["table_schema"][0].as_py())
    assert schema.names == ["cid", "pid", "pregion", "amount"]
    assert schema.field("cid").type == pa.int64() and not schema.field("cid").nullable
    assert schema.field("amount").type == pa.decimal128(12, 3)
    meta_amount = {k.decode(): v.decode() for k, v in schema.field("amount").metadata.items()}
    assert meta_amount["ARROW:FLIGHT:SQL:TYPE_NAME"] == "DECIMAL(12,3)"
    assert meta_amount["ARROW:FLIGHT:SQL:PRECISION"] == "12"
    assert meta_amount["ARROW:FLIGHT:SQL:SCALE"] == "3"
    assert meta_amount["ARROW:FLIGHT:SQL:TABLE_NAME"] == "child"
    assert meta_amount["ARROW:FLIGHT:SQL:IS_AUTO_INCREMENT"] == "0"


def test_column_metadata_uses_the_keys_flight_sql_clients_read(meta):
    """The Arrow Flight SQL clients (C++, Java/JDBC, Go) read ARROW:FLIGHT:SQL:SCHEMA_NAME:
    ADBC's GetObjects fills xdbc_scope_* from it."""
    tables = flight_sql(meta.uri, "CommandGetTables", [(2, "sales"), (3, "orders"), (5, True)])
    field = wire.schema_from_ipc(tables["table_schema"][0].as_py()).field("o_id")
    keys = {k.decode(): v.decode() for k, v in field.metadata.items()}
    assert (keys["ARROW:FLIGHT:SQL:CATALOG_NAME"], keys["ARROW:FLIGHT:SQL:SCHEMA_NAME"],
            keys["ARROW:FLIGHT:SQL:TABLE_NAME"]) == ("memory", "sales", "orders")
    assert "ARROW:FLIGHT:SQL:DB_SCHEMA_NAME" not in keys
    with adbc_driver_flightsql.dbapi.connect(meta.uri, autocommit=True) as conn:
        columns = conn.adbc_get_objects(depth="all", db_schema_filter="sales",
                                        table_name_filter="orders").read_all().to_pylist()
    orders = [t for c in columns for s in c["catalog_db_schemas"] or []
              for t in s["db_schema_tables"] or [] if t["table_name"] == "orders"][0]
    assert [(col["column_name"], col["xdbc_scope_catalog"], col["xdbc_scope_schema"],
             col["xdbc_scope_table"]) for col in orders["table_columns"]] == \
        [("o_id", "memory", "sales", "orders"), ("note", "memory", "sales", "orders")]


def origins(schema):
    keys = ("ARROW:FLIGHT:SQL:CATALOG_NAME", "ARROW:FLIGHT:SQL:SCHEMA_NAME",
            "ARROW:FLIGHT:SQL:TABLE_NAME")
    out = {}
    for field in schema:
        m = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
        out[field.name] = tuple(m[k] for k in keys) if keys[2] in m else None
    return out


def test_query_results_name_the_table_each_column_comes_from(meta):
    """JDBC's ResultSetMetaData.getSchemaName/getTableName read these keys: a column passed
    through from a table names it (aliases, joins and * resolved); computed columns do not."""
    with adbc_driver_flightsql.dbapi.connect(meta.uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("SELECT o.o_id, o.note AS n, o_id + 1 AS next, l.* "
                    "FROM sales.orders AS o JOIN sales.order_lines l ON o.o_id = l.l_id")
        assert origins(cur.fetch_arrow_table().schema) == {
            "o_id": ("memory", "sales", "orders"), "n": ("memory", "sales", "orders"),
            "next": None, "l_id": ("memory", "sales", "order_lines")}
        cur.execute("CREATE TEMP TABLE orders (o_id INTEGER)")
        cur.execute("SELECT * FROM orders")  # the session's temp table shadows main.orders
        assert origins(cur.fetch_arrow_table().schema) == {"o_id": ("temp", "main", "orders")}
        cur.execute("DROP TABLE temp.main.orders")
        cur.execute("USE memory.sales")
        cur.execute("SELECT note FROM orders")  # the session's current schema now
        assert origins(cur.fetch_arrow_table().schema) == {"note": ("memory", "sales", "orders")}
        cur.execute("SELECT l_id FROM order_lines JOIN orders ON true")  # unqualified, 2 tables
        assert origins(cur.fetch_arrow_table().schema) == {"l_id": None}
        cur.execute("USE memory.main")


def test_query_results_carry_column_metadata(meta):
    with adbc_driver_flightsql.dbapi.connect(meta.uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("SELECT name, amount FROM parent JOIN child ON id = pid")
        schema = cur.fetch_arrow_table().schema
    names = {f.name: f.metadata[b"ARROW:FLIGHT:SQL:TYPE_NAME"].decode() for f in schema}
    assert names == {"name": "VARCHAR", "amount": "DECIMAL(12,3)"}


def test_table_types(meta):
    types = flight_sql(meta.uri, "CommandGetTableTypes")
    assert types["table_type"].to_pylist() == ["LOCAL TEMPORARY", "TABLE", "VIEW"]
    with adbc_driver_flightsql.dbapi.connect(meta.uri) as conn:
        assert conn.adbc_get_table_types() == ["LOCAL TEMPORARY", "TABLE", "VIEW"]


def test_primary_keys(meta):
    keys = flight_sql(meta.uri, "CommandGetPrimaryKeys", [(3, "parent")])
    assert keys.schema.names == ["catalog_name", "db_schema_name", "table_name", "column_name",
                                 "key_sequence", "key_name"]
    assert keys.schema.field("key_sequence").type == pa.int32()
    assert [(r["column_name"], r["key_sequence"]) for r in keys.to_pylist()] == \
        [("region", 1), ("id", 2)]
    assert keys["key_name"][0].as_py()
    assert flight_sql(meta.uri, "CommandGetPrimaryKeys", [(3, "parent_names")]).num_rows == 0


def test_imported_exported_keys_and_cross_reference(meta):
    imported = flight_sql(meta.uri, "CommandGetImportedKeys", [(3, "child")])
    exported = flight_sql(meta.uri, "CommandGetExportedKeys", [(3, "parent")])
    cross = flight_sql(meta.uri, "CommandGetCrossReference", [(3, "parent"), (6, "child")])
    for table in (imported, exported, cross):
        assert table.schema.names[8:11] == ["key_sequence", "fk_key_name", "pk_key_name"]
        assert table.schema.field("update_rule").type == pa.uint8()
        rows = [(r["pk_table_name"], r["pk_column_name"], r["fk_table_name"], r["fk_column_name"],
                 r["key_sequence"], r["update_rule"], r["delete_rule"])
                for r in table.to_pylist()]
        assert rows == [("parent", "region", "child", "pregion", 1, 3, 3),
                        ("parent", "id", "child", "pid", 2, 3, 3)]
    assert flight_sql(meta.uri, "CommandGetImportedKeys", [(3, "parent")]).num_rows == 0
    assert flight_sql(meta.uri, "CommandGetCrossReference",
                      [(3, "child"), (6, "parent")]).num_rows == 0


def test_xdbc_type_info(meta):
    info = flight_sql(meta.uri, "CommandGetXdbcTypeInfo")
    assert info.schema.names[:3] == ["type_name", "data_type", "column_size"]
    assert len(info.schema) == 19
    pairs = list(zip(info["data_type"].to_pylist(), info["type_name"].to_pylist()))
    assert pairs == sorted(pairs)
    names = set(info["type_name"].to_pylist())
    assert {"BIGINT", "VARCHAR", "DECIMAL", "TIMESTAMP", "BOOLEAN", "DOUBLE", "BLOB"} <= names
    only_int = flight_sql(meta.uri, "CommandGetXdbcTypeInfo", [(1, 4)])
    assert set(only_int["type_name"].to_pylist()) == {"INTEGER", "UINTEGER"}


# (id, Arrow union type code) — the value types JDBC casts to: 0 string, 1 bool, 2 int64,
# 3 int32 bitmask, 4 string list, 5 int32 -> int32 list map.
SQL_INFO_TYPES = {0: 0, 1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 8: 3, 9: 1, 10: 1, 11: 1,
                  500: 1, 503: 2, 504: 0, 507: 2, 508: 4, 509: 4, 513: 0, 517: 5, 522: 3,
                  528: 3, 541: 2, 543: 2, 559: 2, 562: 2, 563: 1, 564: 3, 567: 3, 576: 1}


def test_sql_info_everything_with_the_right_value_types(meta):
    info = flight_sql(meta.uri, "CommandGetSqlInfo")
    ids = info["info_name"].to_pylist()
    assert set(range(0, 12)) <= set(ids)
    assert set(range(500, 577)) <= set(ids)
    codes = dict(zip(ids, info["value"].chunk(0).type_codes.to_pylist()))
    for info_id, code in SQL_INFO_TYPES.items():
        assert codes[info_id] == code, info_id
    values = dict(zip(ids, info["value"].to_pylist()))
    assert values[0] == "hyprstream"
    assert "SELECT" in values[508]
    # unknown ids are skipped, requested order kept
    some = flight_sql(meta.uri, "CommandGetSqlInfo", [(1, 504), (1, 99999), (1, 0)])
    assert some["info_name"].to_pylist() == [504, 0]


def test_adbc_get_info(meta):
    with adbc_driver_flightsql.dbapi.connect(meta.uri) as conn:
        info = conn.adbc_get_info()
    assert info["vendor_name"] == "hyprstream"
    assert info["vendor_arrow_version"] == pa.__version__ or info["vendor_arrow_version"]


def test_adbc_get_objects_at_every_depth(meta):
    with adbc_driver_flightsql.dbapi.connect(meta.uri) as conn:
        catalogs = conn.adbc_get_objects(depth="catalogs").read_all().to_pylist()
        assert "memory" in [c["catalog_name"] for c in catalogs]
        schemas = conn.adbc_get_objects(depth="db_schemas", catalog_filter="memory") \
            .read_all().to_pylist()
        assert [s["db_schema_name"] for s in schemas[0]["catalog_db_schemas"]] == ["main", "sales"]
        tables = conn.adbc_get_objects(depth="tables", db_schema_filter="sales",
                                       table_name_filter="order%").read_all().to_pylist()
        sales = [s for c in tables for s in c["catalog_db_schemas"] or []
                 if s["db_schema_name"] == "sales"][0]
        assert sorted(t["table_name"] for t in sales["db_schema_tables"]) == \
            ["order_lines", "orders"]
        columns = conn.adbc_get_objects(depth="all", table_name_filter="child") \
            .read_all().to_pylist()
        child = [t for c in columns for s in c["catalog_db_schemas"] or []
                 for t in s["db_schema_tables"] or [] if t["table_name"] == "child"][0]
        assert [(col["column_name"], col["ordinal_position"], col["xdbc_type_name"])
                for col in child["table_columns"]] == \
            [("cid", 1, "BIGINT"), ("pid", 2, "INTEGER"), ("pregion", 3, "VARCHAR"),
             ("amount", 4, "DECIMAL(12,3)")]


def test_adbc_get_table_schema(meta):
    with adbc_driver_flightsql.dbapi.connect(meta.uri) as conn:
        schema = conn.adbc_get_table_schema("orders", db_schema_filter="sales")
        assert schema.names == ["o_id", "note"]
        assert schema.types == [pa.int32(), pa.string()]
        with pytest.raises(adbc_driver_flightsql.dbapi.Error):
            conn.adbc_get_table_schema("no_such_table")
