"""Per-table grants with real clients (ADBC DB-API, pyarrow.flight, the Flight SQL JDBC driver,
arrow-go):
[[grants]] in the config file and hyprstream_grant()/hyprstream_revoke() at run time, enforced
on queries (joins, subqueries, views, table and scalar macros, tumble()/query_table(), window
reads), prepared statements, updates, bulk ingest, streaming DoPut and the metadata commands;
groups from [[users]] and from an identity provider's token; an audit line per refusal; and
no grant at all keeps today's behaviour.

The server's tables: `sales` (analysts may read it), `secret` (nobody but admins), `inbox`
(the writer may read and write it), views `sales_v` (over sales) and `leak_v` (over secret,
granted to analysts: the view alone is not enough), macros over secret, a window on secret.
"""
import base64
import json
import subprocess
import time

import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import client_programs as cp
import flightsql_wire as wire
import test_client_go
import test_client_jdbc
from conftest import BINARY, Server

PASSWORDS = {"root": "r00t pass", "ana": "ana-pass", "wes": "wes-pass", "bob": "bob-pass"}
ROLES = {"root": "admin", "ana": "read_only", "wes": "read_write", "bob": "read_write"}
GROUPS = {"ana": ["analysts"]}
GRANTS = [  # privilege, object, principal
    ("read", "memory.main.sales", "group:analysts"),
    ("read", "memory.main.sales_v", "group:analysts"),
    ("read", "memory.main.leak_v", "group:analysts"),
    ("read", "memory.main.inbox", "user:wes"),
    ("write", "memory.main.inbox", "user:wes"),
    ("write", "memory.main.wes_*", "user:nobody"),  # a pattern part is a whole name or *
    ("read", "memory.staging", "user:wes"),  # a whole schema
]


def toml_config(path, grants=True):
    text = ""
    for user, password in PASSWORDS.items():
        hashed = subprocess.run([str(BINARY), "--hash-password"], input=password + "\n",
                                capture_output=True, text=True, check=True).stdout.strip()
        text += (f'[[users]]\nname = "{user}"\npassword_hash = "{hashed}"\n'
                 f'role = "{ROLES[user]}"\n')
        if user in GROUPS:
            text += "groups = [" + ", ".join(f'"{g}"' for g in GROUPS[user]) + "]\n"
    if grants:
        for privilege, obj, principal in GRANTS:
            text += (f'[[grants]]\nprivilege = "{privilege}"\nobject = "{obj}"\n'
                     f'principal = "{principal}"\n')
    path.write_text(text)
    return path


def connect(server, user, autocommit=True):
    return adbc_driver_flightsql.dbapi.connect(
        server.uri, db_kwargs={"username": user, "password": PASSWORDS[user]},
        autocommit=autocommit)


def rows(conn, sql):
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return cur.fetchall()
    finally:
        cur.close()


def denied(conn, sql, *parameters):
    """The message of the PERMISSION_DENIED `sql` gets (fails the test otherwise)."""
    cur = conn.cursor()
    try:
        with pytest.raises(adbc_driver_manager.Error) as raised:
            cur.execute(sql, parameters or None)
            cur.fetchall()
        e = raised.value
        assert (e.status_code == adbc_driver_manager.AdbcStatusCode.UNAUTHORIZED
                or "PermissionDenied" in str(e)), str(e)
        return str(e)
    finally:
        cur.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("grants")
    s = Server(d, "--config", str(toml_config(d / "config.toml")),
               "--audit-log", str(d / "audit.log"))
    s.audit_path = d / "audit.log"
    s.start()
    with connect(s, "root") as conn:
        cur = conn.cursor()
        for sql in [
            "CREATE TABLE sales (id BIGINT PRIMARY KEY, amount DOUBLE, ts TIMESTAMP)",
            "INSERT INTO sales VALUES (1, 10.0, TIMESTAMP '2026-01-01 00:00:00'), "
            "(2, 20.0, TIMESTAMP '2026-01-01 00:01:00')",
            "CREATE TABLE secret (id BIGINT PRIMARY KEY, code VARCHAR, ts TIMESTAMP)",
            "INSERT INTO secret VALUES (1, 'launch', TIMESTAMP '2026-01-01 00:00:00')",
            "CREATE TABLE inbox (id BIGINT, note VARCHAR)",
            "CREATE VIEW sales_v AS SELECT id, amount FROM sales",
            "CREATE VIEW leak_v AS SELECT s.id, x.code FROM sales s JOIN secret x USING (id)",
            "CREATE MACRO leak_m() AS TABLE SELECT * FROM secret",
            "CREATE MACRO leak_s() AS (SELECT max(code) FROM secret)",
            "CREATE SCHEMA staging",
            "CREATE TABLE staging.feed (a INT)",
        ]:
            cur.execute(sql)
        cur.execute("SELECT * FROM hyprstream_create_window('secret_w', 'secret', "
                    "time_column := 'ts', value_columns := 'id', windows := '1m', "
                    "aggregates := 'count')")
        cur.fetchall()
        cur.close()
    yield s
    s.stop()


def audit_denials(server, user, until):
    for _ in range(100):
        lines = [json.loads(line) for line in server.audit_path.read_text().splitlines()]
        found = [line for line in lines
                 if line.get("user") == user and line.get("outcome") != "ok"]
        if until(found):
            return found
        time.sleep(0.05)
    return found


# --- Queries -------------------------------------------------------------------------------

def test_reads_need_a_read_grant_through_joins_subqueries_and_ctes(server):
    with connect(server, "ana") as conn:
        assert rows(conn, "SELECT id, amount FROM sales ORDER BY id") == [(1, 10.0), (2, 20.0)]
        assert rows(conn, "SELECT count(*) FROM memory.main.SALES") == [(2,)]
        assert rows(conn, "SELECT 1 + 1") == [(2,)]
        message = denied(conn, "SELECT * FROM secret")
        assert "user 'ana'" in message and "read grant on memory.main.secret" in message
        for sql in ["SELECT * FROM sales JOIN secret USING (id)",
                    "SELECT * FROM sales WHERE id IN (SELECT id FROM main.secret)",
                    "WITH s AS (SELECT * FROM memory.main.secret) SELECT * FROM s",
                    "SELECT * FROM \"SECRET\"",
                    "SELECT 1; SELECT * FROM secret",
                    "SELECT * FROM inbox"]:
            denied(conn, sql)


def test_views_need_read_on_the_view_and_on_what_it_reads(server):
    with connect(server, "ana") as conn:
        assert rows(conn, "SELECT * FROM sales_v ORDER BY id") == [(1, 10.0), (2, 20.0)]
        message = denied(conn, "SELECT * FROM leak_v")
        assert "memory.main.secret" in message and "view memory.main.leak_v" in message
    with connect(server, "wes") as conn:  # may read inbox, not the view
        denied(conn, "SELECT * FROM sales_v")


def test_macros_table_functions_and_windows_are_followed_to_their_tables(server):
    # bob (read_write) may call any table function his role allows, but holds no grant.
    with connect(server, "bob") as conn:
        for sql in ["SELECT * FROM leak_m()",
                    "SELECT leak_s()",
                    "SELECT * FROM query_table('secret')",
                    "SELECT * FROM tumble('secret', 'ts', INTERVAL '1 minute')",
                    "SELECT * FROM hyprstream_window('secret_w')",
                    "SELECT * FROM hyprstream_drop_window('secret_w')",
                    "SELECT * FROM hyprstream_create_window('bob_w', 'secret', "
                    "time_column := 'ts', value_columns := 'id', windows := '1m')",
                    "SELECT * FROM query('SELECT * FROM secret')"]:
            assert "read grant on memory.main.secret" in denied(conn, sql), sql
    with connect(server, "ana") as conn:
        assert len(rows(conn, "SELECT * FROM tumble('sales', 'ts', INTERVAL '1 minute')")) == 2


def test_a_window_grant_reads_the_windows_results_not_its_table(server):
    with connect(server, "root") as admin, connect(server, "ana") as ana:
        denied(ana, "SELECT * FROM hyprstream_window('secret_w')")
        rows(admin, "SELECT * FROM hyprstream_grant('read', 'window:secret_w', 'user:ana')")
        try:
            assert len(rows(ana, "SELECT * FROM hyprstream_window('secret_w')")) == 1
            denied(ana, "SELECT * FROM secret")
            # The window's grant does not stretch to the table read beside it.
            denied(ana, "SELECT * FROM hyprstream_window('secret_w'); SELECT * FROM secret")
            denied(ana, "SELECT * FROM hyprstream_window('secret_w'), secret")
        finally:
            rows(admin, "SELECT * FROM hyprstream_revoke('read', 'window:secret_w', 'user:ana')")
        message = denied(ana, "SELECT * FROM hyprstream_window('secret_w')")
        assert "nor on window:secret_w" in message


def test_prepared_statements_are_checked_when_prepared_and_when_executed(server):
    with connect(server, "root") as admin, connect(server, "bob") as bob:
        denied(bob, "SELECT * FROM secret WHERE id = ?", 1)
        rows(admin, "SELECT * FROM hyprstream_grant('read', 'memory.main.secret', 'user:bob')")
        cur = bob.cursor()
        cur.adbc_prepare("SELECT code FROM secret WHERE id = ?")
        cur.execute("SELECT code FROM secret WHERE id = ?", (1,))
        assert cur.fetchall() == [("launch",)]
        rows(admin, "SELECT * FROM hyprstream_revoke('read', 'memory.main.secret', 'user:bob')")
        with pytest.raises(adbc_driver_manager.Error, match="read grant on memory.main.secret"):
            cur.execute("SELECT code FROM secret WHERE id = ?", (1,))  # the same handle
            cur.fetchall()
        cur.close()


# --- Writes --------------------------------------------------------------------------------

def test_writes_need_a_write_grant_on_their_target(server):
    with connect(server, "wes") as conn:
        cur = conn.cursor()
        cur.execute("INSERT INTO inbox VALUES (1, 'a'), (2, 'b')")
        cur.execute("UPDATE inbox SET note = 'c' WHERE id = 2")
        cur.execute("DELETE FROM inbox WHERE id = 1")
        assert rows(conn, "SELECT * FROM inbox") == [(2, "c")]
        cur.close()
        assert "write grant on memory.main.sales" in denied(conn, "INSERT INTO sales VALUES (3, 1, NULL)")
        denied(conn, "DELETE FROM sales")
        denied(conn, "INSERT INTO inbox SELECT id, code FROM secret")
        denied(conn, "DELETE FROM inbox WHERE id IN (SELECT id FROM secret)")
        denied(conn, "CREATE TABLE wes_new (a INT)")
        denied(conn, "DROP TABLE sales")
        assert rows(conn, "SELECT count(*) FROM staging.feed") == [(0,)]  # a schema grant
        denied(conn, "INSERT INTO staging.feed VALUES (1)")  # read only there
    with connect(server, "bob") as conn:
        denied(conn, "INSERT INTO inbox VALUES (9, 'z')")
        denied(conn, "CREATE SCHEMA bobs")
        # A macro could stand in for tumble() (read here on a table bob may read).
        assert "other than a table or view" in denied(
            conn, "CREATE OR REPLACE MACRO main.tumble(t, c, w) AS TABLE SELECT * FROM secret")


def test_bulk_ingest_and_streaming_doput_need_a_write_grant(server):
    data = pa.table({"id": pa.array([7], pa.int64()), "note": pa.array(["i"])})
    with connect(server, "wes") as conn:
        cur = conn.cursor()
        assert cur.adbc_ingest("inbox", data, mode="append") == 1
        with pytest.raises(adbc_driver_manager.Error, match="write grant on memory.main.sales"):
            cur.adbc_ingest("sales", pa.table({"id": [5], "amount": [1.0]}), mode="append")
        with pytest.raises(adbc_driver_manager.Error, match="write grant on memory.main.wes_t"):
            cur.adbc_ingest("wes_t", data, mode="create")
        cur.close()
    with flight.connect(server.uri) as client:
        key, value = client.authenticate_basic_token("wes", PASSWORDS["wes"])
        options = flight.FlightCallOptions(headers=[(key, value)])
        writer, _ = client.do_put(flight.FlightDescriptor.for_path("inbox"), data.schema, options)
        writer.write_table(data)
        writer.close()
        with pytest.raises(flight.FlightUnauthorizedError, match="write grant on memory.main.sales"):
            writer, _ = client.do_put(flight.FlightDescriptor.for_path("sales"),
                                      pa.schema([("id", pa.int64())]), options)
            writer.write_table(pa.table({"id": [9]}))
            writer.close()
        # A PATH descriptor reads the table like SELECT *.
        with pytest.raises(flight.FlightUnauthorizedError, match="memory.main.secret"):
            client.get_flight_info(flight.FlightDescriptor.for_path("secret"), options)
    with connect(server, "root") as conn:
        assert rows(conn, "SELECT count(*) FROM inbox WHERE id = 7") == [(2,)]
        assert rows(conn, "SELECT count(*) FROM sales") == [(2,)]


# --- Metadata ------------------------------------------------------------------------------

def test_metadata_shows_only_what_the_caller_may_read(server):
    with connect(server, "ana") as conn:
        objects = conn.adbc_get_objects(depth="tables").read_all().to_pylist()
        tables = {(c["catalog_name"], s["db_schema_name"], t["table_name"])
                  for c in objects for s in c["catalog_db_schemas"] or []
                  for t in s["db_schema_tables"] or []}
        assert tables == {("memory", "main", "sales"), ("memory", "main", "sales_v"),
                          ("memory", "main", "leak_v")}
        assert {c["catalog_name"] for c in objects} == {"memory"}
        assert conn.adbc_get_table_schema("sales").names == ["id", "amount", "ts"]
        with pytest.raises(adbc_driver_manager.Error):  # as if it did not exist
            conn.adbc_get_table_schema("secret")
    with connect(server, "wes") as conn:
        objects = conn.adbc_get_objects(depth="tables").read_all().to_pylist()
        tables = {(s["db_schema_name"], t["table_name"])
                  for c in objects for s in c["catalog_db_schemas"] or []
                  for t in s["db_schema_tables"] or []}
        assert tables == {("main", "inbox"), ("staging", "feed")}
    with flight.connect(server.uri) as client:
        key, value = client.authenticate_basic_token("ana", PASSWORDS["ana"])
        options = flight.FlightCallOptions(headers=[(key, value)])

        def metadata(command):
            info = client.get_flight_info(flight.FlightDescriptor.for_command(command), options)
            return client.do_get(info.endpoints[0].ticket, options).read_all()

        assert metadata(wire.any_of("CommandGetPrimaryKeys", [(3, "secret")])).num_rows == 0
        assert metadata(wire.any_of("CommandGetPrimaryKeys", [(3, "sales")])).num_rows == 1
        schemas = metadata(wire.any_of("CommandGetDbSchemas", [])).to_pylist()
        assert {(r["catalog_name"], r["db_schema_name"]) for r in schemas} == {("memory", "main")}


# --- Third-party clients -------------------------------------------------------------------

def test_jdbc_driver_sees_grants_enforced(server):
    """tests/clients/jdbc/.../JdbcGrants.java: user/password in the URL, queries, a view,
    prepared statements, DatabaseMetaData, updates."""
    classpath = test_client_jdbc.build()
    code, output = cp.run(
        ["java", *test_client_jdbc.JVM_FLAGS, "-cp", classpath, "hyprstream.clients.JdbcGrants",
         "127.0.0.1", str(server.port), "ana", PASSWORDS["ana"], "wes", PASSWORDS["wes"]],
        cwd=test_client_jdbc.JDBC_DIR, timeout=180, what="the JDBC grants program")
    cp.assert_client_passed(code, output, server, "the JDBC grants program")


def test_arrow_go_client_sees_grants_enforced(server):
    """tests/clients/go/grants.go: basic-token login, queries, a view, prepare, GetTables,
    updates and bulk ingest."""
    binary = test_client_go.build()
    code, output = cp.run(
        [str(binary), "grants", f"127.0.0.1:{server.port}", "ana", PASSWORDS["ana"], "wes",
         PASSWORDS["wes"]], cwd=test_client_go.GO_DIR, timeout=180,
        what="the arrow-go grants program")
    cp.assert_client_passed(code, output, server, "the arrow-go grants program")


# --- Grants at run time, groups, admins ------------------------------------------------------

def test_admins_grant_and_revoke_at_run_time_and_others_may_not(server):
    with connect(server, "root") as admin, connect(server, "bob") as bob:
        assert rows(admin, "SELECT * FROM secret") == [(1, "launch", rows(admin, "SELECT ts FROM secret")[0][0])]
        denied(bob, "SELECT * FROM secret")
        assert rows(admin, "SELECT * FROM hyprstream_grant('READ', 'memory.main.*', 'user:bob')") \
            == [("read", "memory.main.*", "user:bob", True)]
        assert rows(bob, "SELECT code FROM secret") == [("launch",)]
        assert ("read", "memory.main.*", "user:bob") in rows(admin, "SELECT * FROM hyprstream_grants()")
        assert rows(admin, "SELECT changed FROM hyprstream_revoke('read', 'memory.main.*', 'user:bob')") == [(True,)]
        denied(bob, "SELECT code FROM secret")
        # A grant is done when executed, whether or not its row is fetched.
        cur = admin.cursor()
        cur.execute("SELECT * FROM hyprstream_grant('read', 'memory.main.sales', 'user:bob')")
        cur.close()
        assert rows(bob, "SELECT count(*) FROM sales") == [(2,)]
        rows(admin, "SELECT * FROM hyprstream_revoke('read', 'memory.main.sales', 'user:bob')")
        assert "admin" in denied(bob, "SELECT * FROM hyprstream_grant('read', '*', 'user:bob')")
        denied(bob, "SELECT * FROM hyprstream_grants()")
        with pytest.raises(adbc_driver_manager.Error, match="not user:NAME or group:NAME"):
            rows(admin, "SELECT * FROM hyprstream_grant('read', '*', 'bob')")


def test_run_time_grants_survive_a_restart_of_a_database_file(tmp_path):
    """Kept in _hyprstream.grant_changes and replayed over the config's grants at start."""
    config = toml_config(tmp_path / "c.toml", grants=False)
    database = tmp_path / "shop.duckdb"

    def start():
        return Server(tmp_path, "--config", str(config), "--engine-connection",
                      str(database)).start()

    s = start()
    try:
        with connect(s, "root") as admin:
            rows(admin, "CREATE TABLE t AS SELECT 1 AS x")
            rows(admin, "CREATE TABLE u AS SELECT 2 AS y")
            rows(admin, "SELECT * FROM hyprstream_grant('read', 'shop.main.t', 'user:bob')")
            rows(admin, "SELECT * FROM hyprstream_grant('read', 'shop.main.u', 'user:bob')")
            rows(admin, "SELECT * FROM hyprstream_revoke('read', 'shop.main.u', 'user:bob')")
    finally:
        s.stop()
    s = start()
    try:
        with connect(s, "bob") as bob, connect(s, "root") as admin:
            assert rows(bob, "SELECT x FROM t") == [(1,)]
            assert "read grant on shop.main.u" in denied(bob, "SELECT y FROM u")
            assert rows(admin, "SELECT * FROM hyprstream_grants()") == [
                ("read", "shop.main.t", "user:bob")]
            rows(admin, "SELECT * FROM hyprstream_revoke('read', 'shop.main.t', 'user:bob')")
    finally:
        s.stop()
    s = start()
    try:
        with connect(s, "bob") as bob:  # every grant revoked: still deny by default
            denied(bob, "SELECT x FROM t")
    finally:
        s.stop()


def test_grants_to_groups_of_an_identity_providers_token(tmp_path, server):
    subprocess.run(["openssl", "genrsa", "-out", "idp.key", "2048"], cwd=tmp_path, check=True,
                   capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", "idp.key", "-pubout", "-out", "idp.pub"],
                   cwd=tmp_path, check=True, capture_output=True)
    config = tmp_path / "grants.toml"
    config.write_text('[[grants]]\nprivilege = "read"\nobject = "memory.main.sales"\n'
                      'principal = "group:analysts"\n')
    s = Server(tmp_path, "--config", str(config), "--auth-jwt-public-key",
               str(tmp_path / "idp.pub")).start()
    try:
        def token(claims):
            def b64(data):
                return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
            text = (b64(json.dumps({"alg": "RS256"}).encode()) + "."
                    + b64(json.dumps(claims).encode()))
            (tmp_path / "input").write_text(text)
            subprocess.run(["openssl", "dgst", "-sha256", "-sign", "idp.key", "-out", "sig",
                            "input"], cwd=tmp_path, check=True, capture_output=True)
            return text + "." + b64((tmp_path / "sig").read_bytes())

        def options(groups):
            claims = {"sub": "dana", "role": "read_write", "groups": groups,
                      "exp": int(time.time()) + 300}
            return flight.FlightCallOptions(
                headers=[(b"authorization", b"Bearer " + token(claims).encode())])

        def query(sql, opts):
            info = client.get_flight_info(flight.FlightDescriptor.for_command(
                wire.statement_query(sql)), opts)
            return client.do_get(info.endpoints[0].ticket, opts).read_all()

        with s.connect() as client:
            admin = flight.FlightCallOptions(headers=[(b"authorization", b"Bearer " + token(
                {"sub": "ops", "role": "admin", "exp": int(time.time()) + 300}).encode())])
            query("CREATE TABLE sales AS SELECT 1 AS id", admin)
            assert query("SELECT id FROM sales", options(["analysts"])).to_pydict() == {"id": [1]}
            with pytest.raises(flight.FlightUnauthorizedError,
                               match="user 'dana'.*read grant on memory.main.sales"):
                query("SELECT id FROM sales", options(["marketing"]))
    finally:
        s.stop()


def test_without_grants_every_role_reads_every_table_as_before(tmp_path):
    s = Server(tmp_path, "--config", str(toml_config(tmp_path / "c.toml", grants=False))).start()
    try:
        with connect(s, "root") as admin, connect(s, "ana") as ana:
            rows(admin, "CREATE TABLE secret AS SELECT 1 AS x")
            assert rows(ana, "SELECT x FROM secret") == [(1,)]
            objects = ana.adbc_get_objects(depth="tables").read_all().to_pylist()
            assert any(t["table_name"] == "secret" for c in objects
                       for s_ in c["catalog_db_schemas"] or [] for t in s_["db_schema_tables"] or [])
    finally:
        s.stop()


def test_bad_grants_in_the_config_stop_the_start(tmp_path):
    for entry, message in [('privilege = "delete"\nobject = "*"\nprincipal = "user:a"',
                            "not read or write"),
                           ('privilege = "read"\nobject = "a.b.c.d"\nprincipal = "user:a"',
                            "more than three parts"),
                           ('privilege = "read"\nobject = "*"\nprincipal = "a"',
                            "user:NAME or group:NAME")]:
        (tmp_path / "bad.toml").write_text("[[grants]]\n" + entry + "\n")
        out = subprocess.run([str(BINARY), "--config", str(tmp_path / "bad.toml")],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and message in out.stderr, out.stderr


# --- Audit ---------------------------------------------------------------------------------

def test_every_refusal_writes_an_audit_line(server):
    with connect(server, "bob") as conn:
        denied(conn, "SELECT id FROM sales WHERE id = 424242")
    found = audit_denials(server, "bob", lambda lines: any(
        "424242" in line.get("sql", "") for line in lines))
    line = [line for line in found if "424242" in line.get("sql", "")][-1]
    assert line["outcome"] != "ok" and "read grant on memory.main.sales" in line["message"]
