"""Security with real clients: TLS and mutual TLS (pyarrow.flight, ADBC), Basic handshake ->
bearer token (ADBC username/password, pyarrow authenticate_basic_token, raw padded and
unpadded headers), every RPC refused without a token, forged/expired/external JWTs, each
role against each write path, --readonly, the audit log, and handles (prepared statements,
tickets, transactions, poll descriptors, session cookies) that only their owner can use.

Certificates and keys are made by the test setup with the openssl CLI; password hashes with
`hyprstream --hash-password`.
"""
import base64
import hashlib
import hmac
import json
import pathlib
import secrets
import subprocess
import threading
import time

import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import grpc
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flightsql_wire as wire
from conftest import BINARY, READ_ONLY_USERS, Server, free_port
from flight_raw import RawFlight, cmd_descriptor

PASSWORDS = {"root": "r00t pass", "writer": "wr1ter:pass", "reader": "reader-pass"}
ROLES = {"root": "admin", "writer": "read_write", "reader": "read_only"}
SECRET = "test-token-secret-0123456789-abcdefghij"


# --- Setup ---------------------------------------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1/localhost, a client certificate from the CA
    and one from a rogue CA."""
    d = tmp_path_factory.mktemp("certs")
    for ca in ("ca", "rogue"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key",
                "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN=hyprstream test {ca}", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, ca, ext in (("server", "ca", "server.ext"), ("client", "ca", "client.ext"),
                          ("rogue-client", "rogue", "client.ext")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", ext, cwd=d)
    return d


@pytest.fixture(scope="module")
def users_toml(tmp_path_factory):
    """A config file with three users, one per role; hashes from --hash-password."""
    text = ""
    for user, password in PASSWORDS.items():
        out = subprocess.run([str(BINARY), "--hash-password"], input=password + "\n",
                             capture_output=True, text=True, check=True).stdout.strip()
        assert out.startswith("pbkdf2-sha256$600000$") and password not in out
        text += f'[[users]]\nname = "{user}"\npassword_hash = "{out}"\nrole = "{ROLES[user]}"\n'
    path = tmp_path_factory.mktemp("users") / "users.toml"
    path.write_text(text)
    return path


class SecureServer(Server):
    """A Server reached over TLS (optionally with a client certificate)."""

    def __init__(self, tmp_dir, *args, env=None, tls_ca=None, client_cert=None):
        super().__init__(tmp_dir, *args, env=env)
        self.tls_ca = tls_ca
        self.client_cert = client_cert
        if tls_ca is not None:
            self.uri = f"grpc+tls://127.0.0.1:{self.port}"

    def connect(self, **kwargs):
        if self.tls_ca is not None:
            kwargs.setdefault("tls_root_certs", self.tls_ca.read_bytes())
            if self.client_cert is not None:
                kwargs.setdefault("cert_chain", (self.client_cert / "client.pem").read_bytes())
                kwargs.setdefault("private_key", (self.client_cert / "client.key").read_bytes())
        return super().connect(**kwargs)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    started = []

    def start(*args, **kwargs):
        s = SecureServer(tmp_path_factory.mktemp("secure"), *args, **kwargs).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def auth_server(servers, users_toml, tmp_path_factory):
    audit = tmp_path_factory.mktemp("audit") / "audit.log"
    s = servers("--config", str(users_toml), "--audit-log", str(audit),
                env={"HYPRSTREAM_AUTH_TOKEN_SECRET": SECRET})
    s.audit_path = audit
    return s


def token_headers(server, user):
    with server.connect() as client:
        key, value = client.authenticate_basic_token(user, PASSWORDS[user])
    return [(key, value)]


def options_for(server, user):
    return flight.FlightCallOptions(headers=token_headers(server, user))


def adbc_connect(server, user, password=None, **kwargs):
    return adbc_driver_flightsql.dbapi.connect(
        server.uri, db_kwargs={"username": user, "password": password or PASSWORDS[user]},
        autocommit=True, **kwargs)


def query(client, sql, options):
    info = client.get_flight_info(flight.FlightDescriptor.for_command(
        wire.statement_query(sql)), options)
    return client.do_get(info.endpoints[0].ticket, options).read_all()


def update(client, sql, options):
    writer, reader = client.do_put(
        flight.FlightDescriptor.for_command(wire.statement_update(sql)), pa.schema([]), options)
    writer.done_writing()
    buf = reader.read()
    writer.close()
    return wire.signed(wire.decode(buf)[1][0]) if buf is not None and len(buf) else 0


# --- TLS -----------------------------------------------------------------------------------

def test_tls_with_pyarrow_and_adbc(servers, certs):
    s = servers("--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
                tls_ca=certs / "ca.pem")
    assert "serving Flight SQL on grpc+tls://" in s.log()
    with s.connect() as client:
        assert query(client, "SELECT 42 AS x", flight.FlightCallOptions()).to_pydict() == {"x": [42]}
    ca = (certs / "ca.pem").read_text()
    with adbc_driver_flightsql.dbapi.connect(
            s.uri, db_kwargs={"adbc.flight.sql.client_option.tls_root_certs": ca},
            autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT 7 AS y")
        assert cur.fetchall() == [(7,)]
    # A client that does not trust the CA, and a plaintext client, are refused.
    with flight.connect(s.uri) as untrusting, pytest.raises(flight.FlightError):
        list(untrusting.list_actions(flight.FlightCallOptions(timeout=5)))
    with flight.connect(f"grpc://127.0.0.1:{s.port}") as plain, pytest.raises(flight.FlightError):
        list(plain.list_actions(flight.FlightCallOptions(timeout=5)))


def test_mutual_tls_accepts_only_certificates_of_the_client_ca(servers, certs):
    s = servers("--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
                "--tls-client-ca", str(certs / "ca.pem"), tls_ca=certs / "ca.pem",
                client_cert=certs)
    with s.connect() as client:
        assert len(list(client.list_actions())) > 0
    ca = (certs / "ca.pem").read_text()
    with adbc_driver_flightsql.dbapi.connect(s.uri, db_kwargs={
            "adbc.flight.sql.client_option.tls_root_certs": ca,
            "adbc.flight.sql.client_option.mtls_cert_chain": (certs / "client.pem").read_text(),
            "adbc.flight.sql.client_option.mtls_private_key": (certs / "client.key").read_text(),
    }, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]
    ca_bytes = (certs / "ca.pem").read_bytes()
    with flight.connect(s.uri, tls_root_certs=ca_bytes) as no_cert, \
            pytest.raises(flight.FlightError):
        list(no_cert.list_actions(flight.FlightCallOptions(timeout=5)))
    with flight.connect(s.uri, tls_root_certs=ca_bytes,
                        cert_chain=(certs / "rogue-client.pem").read_bytes(),
                        private_key=(certs / "rogue-client.key").read_bytes()) as rogue, \
            pytest.raises(flight.FlightError):
        list(rogue.list_actions(flight.FlightCallOptions(timeout=5)))


def test_tls_versions_below_1_2_are_refused_and_1_3_minimum_is_an_error(servers, certs):
    s = servers("--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
                tls_ca=certs / "ca.pem")

    def handshake(version):
        return subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{s.port}", version, "-alpn", "h2",
             "-CAfile", str(certs / "ca.pem")], input=b"", capture_output=True, timeout=30)

    assert handshake("-tls1_2").returncode == 0
    assert handshake("-tls1_3").returncode == 0
    assert handshake("-tls1_1").returncode != 0
    refused = subprocess.run([str(BINARY), "--tls-min-version", "1.3"], capture_output=True,
                             text=True)
    assert refused.returncode == 2
    assert "cannot be enforced" in refused.stderr


def test_bad_tls_files_stop_the_start(tmp_path, certs):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    result = subprocess.run([str(BINARY), "--port", str(free_port()), "--tls-cert", str(bad), "--tls-key",
                             str(certs / "server.key")], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 1
    assert "not PEM" in result.stderr


def test_plaintext_on_a_public_address_warns(servers):
    s = servers("--host", "0.0.0.0")
    log = s.log()
    assert "SERVING WITHOUT TLS" in log and "no authentication" in log


# --- Authentication ------------------------------------------------------------------------

def test_adbc_username_password_and_wrong_password(auth_server):
    with adbc_connect(auth_server, "reader") as conn, conn.cursor() as cur:
        cur.execute("SELECT 5 AS v")
        assert cur.fetchall() == [(5,)]
    with pytest.raises(adbc_driver_manager.Error) as error:
        with adbc_connect(auth_server, "reader", password="wrong") as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
    assert error.value.status_code == adbc_driver_manager.AdbcStatusCode.UNAUTHENTICATED


def test_pyarrow_basic_token_returns_a_signed_jwt(auth_server):
    headers = token_headers(auth_server, "writer")
    key, value = headers[0]
    assert key.lower() == b"authorization" and value.startswith(b"Bearer ")
    header, payload, _ = value[len(b"Bearer "):].split(b".")
    claims = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    assert json.loads(base64.urlsafe_b64decode(header + b"=" * (-len(header) % 4)))["alg"] == "HS256"
    assert claims["sub"] == "writer" and claims["role"] == "read_write"
    assert claims["exp"] - claims["iat"] == 3600
    with auth_server.connect() as client:
        assert query(client, "SELECT 1 AS one", flight.FlightCallOptions(headers=headers)
                     ).to_pydict() == {"one": [1]}


class HeaderMiddlewareFactory(flight.ClientMiddlewareFactory):
    """Sends one fixed authorization header and keeps the one the server answers with."""

    def __init__(self, value):
        self.value = value
        self.received = None

    def start_call(self, info):
        factory = self

        class Middleware(flight.ClientMiddleware):
            def sending_headers(self):
                return {"authorization": factory.value}

            def received_headers(self, headers):
                for key, values in headers.items():
                    if key.lower() == "authorization":
                        factory.received = values[0]

        return Middleware()


class NoCredentials(flight.ClientAuthHandler):
    def authenticate(self, outgoing, incoming):
        pass

    def get_token(self):
        return b""


@pytest.mark.parametrize("padded", [True, False])
def test_raw_basic_header_padded_and_unpadded(auth_server, padded):
    # "reader:reader-pass" is 18 bytes: no padding; "root:r00t pass" is 14 bytes: padded.
    user = "root" if padded else "reader"
    encoded = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
    assert encoded.endswith("=") == padded
    if padded:
        encoded = encoded.rstrip("=")  # send the unpadded spelling of a padded value too
        for spelling in (encoded, encoded + "=" * (-len(encoded) % 4)):
            factory = HeaderMiddlewareFactory("Basic " + spelling)
            with flight.connect(auth_server.uri, middleware=[factory]) as client:
                client.authenticate(NoCredentials())
            assert factory.received.startswith("Bearer ")
        return
    factory = HeaderMiddlewareFactory("Basic " + encoded)
    with flight.connect(auth_server.uri, middleware=[factory]) as client:
        client.authenticate(NoCredentials())
    assert factory.received.startswith("Bearer ")
    options = flight.FlightCallOptions(headers=[(b"authorization", factory.received.encode())])
    with flight.connect(auth_server.uri) as client:
        assert len(list(client.list_actions(options))) > 0


def every_rpc(server, client, headers):
    """Each Flight RPC once, sending `headers`; yields (name, callable)."""
    options = flight.FlightCallOptions(headers=headers, timeout=10)
    descriptor = flight.FlightDescriptor.for_command(wire.statement_query("SELECT 1"))
    yield "ListFlights", lambda: list(client.list_flights(options=options))
    yield "GetFlightInfo", lambda: client.get_flight_info(descriptor, options)
    yield "GetSchema", lambda: client.get_schema(descriptor, options)
    yield "DoGet", lambda: client.do_get(flight.Ticket(b"x"), options).read_all()
    yield "ListActions", lambda: list(client.list_actions(options))
    yield "DoAction", lambda: list(client.do_action(flight.Action("BeginTransaction", b""),
                                                    options))

    def put():
        writer, _ = client.do_put(flight.FlightDescriptor.for_path("t"), pa.schema([("a", pa.int64())]),
                                  options)
        writer.write_table(pa.table({"a": [1]}))
        writer.close()
    yield "DoPut", put

    def exchange():
        writer, reader = client.do_exchange(descriptor, options)
        writer.close()
    yield "DoExchange", exchange


@pytest.mark.parametrize("credentials", ["none", "garbage", "tampered", "expired", "unsigned"])
def test_every_rpc_is_unauthenticated_without_a_valid_token(auth_server, credentials):
    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    def sign(header, claims):
        text = b64(header) + "." + b64(claims)
        mac = hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).digest()
        return text + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    now = int(time.time())
    good = {"iss": "hyprstream", "sub": "root", "role": "admin", "iat": now, "exp": now + 600}
    headers = {
        "none": [],
        "garbage": [(b"authorization", b"Bearer not-a-token")],
        # A reader's real token with its role claim and subject changed, signature kept.
        "tampered": None,
        "expired": [(b"authorization", b"Bearer " + sign(
            {"alg": "HS256"}, {**good, "iat": now - 700, "exp": now - 100}).encode())],
        "unsigned": [(b"authorization", b"Bearer " + (b64({"alg": "none"}) + "." + b64(good)
                                                      + ".").encode())],
    }[credentials]
    if headers is None:
        real = token_headers(auth_server, "reader")[0][1][len(b"Bearer "):].decode()
        h, _, s = real.split(".")
        headers = [(b"authorization", f"Bearer {h}.{b64(good)}.{s}".encode())]
    # The same secret really signs valid tokens: a correctly signed forged-by-us one works.
    with auth_server.connect() as client:
        valid = flight.FlightCallOptions(
            headers=[(b"authorization", b"Bearer " + sign({"alg": "HS256"}, good).encode())])
        assert len(list(client.list_actions(valid))) > 0
        for name, call in every_rpc(auth_server, client, headers):
            assert outcome(call) == UNAUTHENTICATED, (name, credentials)
    # Each RPC was refused itself (not only a client's first call): the audit log names them.
    rpcs = {"ListFlights", "GetFlightInfo", "GetSchema", "DoGet",
            "ListActions", "DoAction", "DoPut", "DoExchange"}
    refused = {line["rpc"] for line in audit_lines(
        auth_server, lambda l: l["outcome"] == "UNAUTHENTICATED",
        until=lambda found: rpcs <= {line["rpc"] for line in found})}
    assert rpcs <= refused, refused


def test_poll_flight_info_with_an_expired_token(servers, users_toml):
    # pyarrow has no PollFlightInfo; ADBC's incremental execution sends it. The driver logs in
    # (a token valid for 5 s: long enough for the first query on a loaded CI machine), the
    # token expires, then the poll is refused.
    s = servers("--config", str(users_toml), "--auth-token-lifetime", "5s")
    with adbc_connect(s, "reader") as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]
        cur.close()
        time.sleep(6)
        stmt = adbc_driver_manager.AdbcStatement(conn.adbc_connection)
        stmt.set_options(**{"adbc.statement.exec.incremental": "true"})
        stmt.set_sql_query("SELECT 2")
        assert outcome(stmt.execute_partitions) == UNAUTHENTICATED
        try:
            stmt.close()
        except adbc_driver_manager.Error:
            pass  # the driver cannot close a statement whose poll failed


def test_handshake_with_bad_credentials_is_unauthenticated(auth_server):
    with auth_server.connect() as client:
        with pytest.raises(flight.FlightUnauthenticatedError):
            client.authenticate_basic_token("reader", "wrong")
        with pytest.raises(flight.FlightUnauthenticatedError):
            client.authenticate_basic_token("nobody", "x")
        with pytest.raises(flight.FlightUnauthenticatedError):
            client.authenticate(NoCredentials())


def test_external_rs256_tokens(servers, users_toml, tmp_path):
    openssl("genrsa", "-out", "idp.key", "2048", cwd=tmp_path)
    openssl("rsa", "-in", "idp.key", "-pubout", "-out", "idp.pub", cwd=tmp_path)
    s = servers("--auth-jwt-public-key", str(tmp_path / "idp.pub"), "--auth-jwt-issuer",
                "https://idp.test", "--auth-jwt-audience", "hyprstream", "--auth-jwt-role-claim",
                "roles")

    def token(claims):
        def b64(data):
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        text = b64(json.dumps({"alg": "RS256"}).encode()) + "." + b64(json.dumps(claims).encode())
        (tmp_path / "input").write_text(text)
        openssl("dgst", "-sha256", "-sign", "idp.key", "-out", "sig", "input", cwd=tmp_path)
        return text + "." + b64((tmp_path / "sig").read_bytes())

    now = int(time.time())
    claims = {"iss": "https://idp.test", "aud": "hyprstream", "sub": "dana",
              "roles": ["viewer", "read_only"], "exp": now + 300}
    options = flight.FlightCallOptions(
        headers=[(b"authorization", b"Bearer " + token(claims).encode())])
    with s.connect() as client:
        assert query(client, "SELECT 3 AS x", options).to_pydict() == {"x": [3]}
        with pytest.raises(flight.FlightUnauthorizedError, match="dana.*read_only"):
            query(client, "CREATE TABLE ext_t (a INT)", options)
        for bad in ({**claims, "aud": "other"}, {**claims, "iss": "https://evil"},
                    {**claims, "exp": now - 300}, {**claims, "roles": ["viewer"]}):
            with pytest.raises(flight.FlightUnauthenticatedError):
                list(client.list_actions(flight.FlightCallOptions(
                    headers=[(b"authorization", b"Bearer " + token(bad).encode())])))
        # A handle belongs to the user, whatever role its token carries; the role is checked
        # again when it runs: prepared by dana as admin, refused to dana as read_only.
        admin = flight.FlightCallOptions(headers=[(b"authorization", b"Bearer " + token(
            {**claims, "roles": ["admin"]}).encode())])
        query(client, "CREATE TABLE ext_owned (a INT)", admin)
        result = list(client.do_action(flight.Action(
            "CreatePreparedStatement", wire.create_prepared_request("DELETE FROM ext_owned")),
            admin))
        handle = wire.unpack_any(result[0].body.to_pybytes())[1][1][0]
        with pytest.raises(flight.FlightUnauthorizedError, match="dana.*read_only"):
            client.get_flight_info(flight.FlightDescriptor.for_command(
                wire.prepared_query(handle)), options)
        client.get_flight_info(flight.FlightDescriptor.for_command(wire.prepared_query(handle)),
                               admin)


# --- Roles ---------------------------------------------------------------------------------

DENIED = "denied"
UNAUTHENTICATED = "unauthenticated"


def outcome(call):
    """'ok', 'denied' (PERMISSION_DENIED), 'unauthenticated' or the other error's name."""
    try:
        call()
        return "ok"
    except flight.FlightUnauthorizedError:
        return DENIED
    except flight.FlightUnauthenticatedError:
        return UNAUTHENTICATED
    except adbc_driver_manager.Error as e:
        if e.status_code == adbc_driver_manager.AdbcStatusCode.UNAUTHORIZED:
            return DENIED
        if e.status_code == adbc_driver_manager.AdbcStatusCode.UNAUTHENTICATED:
            return UNAUTHENTICATED
        if "code = PermissionDenied" in str(e):  # the driver wraps some calls as IO errors
            return DENIED
        return type(e).__name__ + ": " + str(e)
    except OSError as e:
        # pyarrow's get_schema raises the Flight status as a plain OSError with its detail.
        if str(e).endswith("Detail: Unauthenticated"):
            return UNAUTHENTICATED
        if str(e).endswith("Detail: Unauthorized"):
            return DENIED
        return type(e).__name__ + ": " + str(e)
    except Exception as e:  # noqa: BLE001 - reported in the assertion message
        return type(e).__name__ + ": " + str(e)


@pytest.fixture(scope="module")
def role_table(auth_server):
    with auth_server.connect() as client:
        options = options_for(auth_server, "root")
        update(client, "CREATE TABLE roles_t (a BIGINT, b VARCHAR)", options)
        update(client, "INSERT INTO roles_t VALUES (1, 'x')", options)
    return "roles_t"


def write_paths(server, client, options, user, tmp):
    """Every route that changes something; each a callable. (Opening, committing and rolling
    back a transaction change nothing by themselves: every role may, see the transaction
    tests below.)"""
    t = "roles_t"
    n = f"{user}_{int(time.time() * 1e6)}"

    def adbc_ingest():
        with adbc_connect(server, user) as conn, conn.cursor() as cur:
            cur.adbc_ingest(t, pa.table({"a": [2], "b": ["y"]}), mode="append")

    def put_stream():
        writer, reader = client.do_put(flight.FlightDescriptor.for_path(t),
                                       pa.schema([("a", pa.int64()), ("b", pa.string())]),
                                       options)
        writer.write_table(pa.table({"a": [3], "b": ["z"]}))
        writer.done_writing()
        reader.read()
        writer.close()

    def prepared_update():
        result = list(client.do_action(flight.Action(
            "CreatePreparedStatement", wire.create_prepared_request(
                f"INSERT INTO {t} VALUES (4, 'p')")), options))
        _, fields = wire.unpack_any(result[0].body.to_pybytes())
        handle = fields[1][0]
        writer, reader = client.do_put(flight.FlightDescriptor.for_command(
            wire.prepared_update(handle)), pa.schema([]), options)
        writer.done_writing()
        reader.read()
        writer.close()

    csv = tmp / f"{n}.csv"
    csv.write_text("a,b\n9,c\n")
    return {
        "update": lambda: update(client, f"UPDATE {t} SET b = 'u' WHERE a = 1", options),
        "insert via query path": lambda: query(client, f"INSERT INTO {t} VALUES (5, 'q')", options),
        "ingest": adbc_ingest,
        "doput stream": put_stream,
        "ddl": lambda: update(client, f"CREATE TABLE {n} (x INT)", options),
        "ddl via query path": lambda: query(client, f"CREATE VIEW {n}_v AS SELECT 1", options),
        "prepared update": prepared_update,
        "cte insert": lambda: query(client, f"WITH x AS (SELECT 1) INSERT INTO {t} "
                                    "SELECT 6, 'c' FROM x", options),
        # A script: every statement is judged (the DELETE needs read_write), then it runs.
        "multi statement": lambda: query(client, f"SELECT 1; DELETE FROM {t} WHERE a < 0",
                                         options),
        "sequence": lambda: query(client, f"CREATE SEQUENCE IF NOT EXISTS {n}_s", options),
        "read_csv": lambda: query(client, f"SELECT * FROM read_csv('{csv}')", options),
        "replacement scan": lambda: query(client, f"SELECT * FROM '{csv}'", options),
        "copy from": lambda: update(client, f"COPY {t} FROM '{csv}'", options),
        "drop window function": lambda: query(
            client, "SELECT * FROM hyprstream_drop_window('no_such_window')", options),
        "copy to": lambda: update(client, f"COPY {t} TO '{tmp}/{n}.out.csv'", options),
        "attach": lambda: update(client, f"ATTACH ':memory:' AS {n}_db", options),
        "install": lambda: update(client, "INSTALL no_such_extension_xyz", options),
        "set global": lambda: update(client, "SET GLOBAL threads = 4", options),
        "set global-scope setting": lambda: update(client, "SET memory_limit = '64GB'", options),
        "pragma": lambda: update(client, "PRAGMA enable_profiling", options),
        "export": lambda: update(client, f"EXPORT DATABASE '{tmp}/{n}_export'", options),
    }


# What each role may do: read_write everything but the admin-only file-system and settings
# statements; read_only nothing at all.
ADMIN_ONLY = {"copy to", "attach", "install", "set global", "set global-scope setting",
              "pragma", "export"}


@pytest.mark.parametrize("user", ["reader", "writer", "root"])
def test_each_role_against_each_write_path(auth_server, role_table, user, tmp_path):
    options = options_for(auth_server, user)
    with auth_server.connect() as client:
        results = {name: outcome(call) for name, call in
                   write_paths(auth_server, client, options, user, tmp_path).items()}
    wrong = {}
    for name, result in results.items():
        if user == "reader" or (user == "writer" and name in ADMIN_ONLY):
            expected_ok = result == DENIED
        elif name in ("drop window function", "install"):
            # Allowed by the policy; the statement itself then fails on its own terms.
            expected_ok = result not in (DENIED, "ok")
        else:
            expected_ok = result == "ok"
        if not expected_ok:
            wrong[name] = result
    assert not wrong, (user, wrong)


def test_read_only_user_changes_nothing_and_can_read(auth_server, role_table, tmp_path):
    admin = options_for(auth_server, "root")
    reader = options_for(auth_server, "reader")
    with auth_server.connect() as client:
        before = query(client, "SELECT count(*) AS n, string_agg(b, ',' ORDER BY a, b) AS s "
                               "FROM roles_t", admin).to_pydict()
        for call in write_paths(auth_server, client, reader, "reader", tmp_path).values():
            outcome(call)
        after = query(client, "SELECT count(*) AS n, string_agg(b, ',' ORDER BY a, b) AS s "
                              "FROM roles_t", admin).to_pydict()
        assert before == after
        # Reading is fine, metadata too; a SET of a connection-local setting as well.
        assert query(client, "SELECT a FROM roles_t WHERE a = 1", reader).to_pydict() == {"a": [1]}
        tables = client.get_flight_info(flight.FlightDescriptor.for_command(
            wire.any_of("CommandGetTables", [])), reader)
        assert client.do_get(tables.endpoints[0].ticket, reader).read_all().num_rows >= 1
        update_denied = outcome(lambda: update(client, "SET TimeZone = 'UTC'", reader))
        assert update_denied == DENIED  # statement updates need read_write even for SET
        assert query(client, "SELECT * FROM duckdb_settings() WHERE name = 'threads'",
                     reader).num_rows == 1


def test_prepared_statement_of_an_admin_is_not_executable_by_a_reader(auth_server, role_table):
    admin = options_for(auth_server, "root")
    reader = options_for(auth_server, "reader")
    with auth_server.connect() as client:
        result = list(client.do_action(flight.Action(
            "CreatePreparedStatement", wire.create_prepared_request(
                "DELETE FROM roles_t")), admin))
        handle = wire.unpack_any(result[0].body.to_pybytes())[1][1][0]
        # Not even found: the handle is root's (the role check on execution is tested with
        # one external user holding two roles, test_external_rs256_tokens).
        with pytest.raises(pa.ArrowKeyError, match="unknown or expired prepared statement"):
            client.get_flight_info(flight.FlightDescriptor.for_command(
                wire.prepared_query(handle)), reader)
        # And a reader may not prepare DML at all.
        with pytest.raises(flight.FlightUnauthorizedError, match="DELETE"):
            list(client.do_action(flight.Action("CreatePreparedStatement",
                                                wire.create_prepared_request(
                                                    "DELETE FROM roles_t")), reader))
        with pytest.raises(flight.FlightUnauthorizedError, match="threads"):
            # SetSessionOptionsRequest{session_options: {"threads": string_value "2"}}
            entry = wire.encode([(1, "threads"), (2, wire.encode([(1, "2")]))])
            list(client.do_action(flight.Action("SetSessionOptions", wire.encode([(1, entry)])),
                                  reader))


def test_denial_message_names_user_role_and_statement(auth_server, role_table):
    with adbc_connect(auth_server, "reader") as conn, conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.Error) as error:
            cur.execute("INSERT INTO roles_t VALUES (8, 'n')")
    assert error.value.status_code == adbc_driver_manager.AdbcStatusCode.UNAUTHORIZED
    message = str(error.value)
    assert "reader" in message and "read_only" in message and "INSERT" in message


# --- Transactions: every role ---------------------------------------------------------------

def dbapi_connect(server, user=None, password=None):
    """A DB-API connection with the driver's defaults: autocommit off, so the driver opens a
    transaction (BeginTransaction) as it connects and again after every commit/rollback."""
    db_kwargs = {"username": user, "password": password or PASSWORDS[user]} if user else {}
    return adbc_driver_flightsql.dbapi.connect(server.uri, db_kwargs=db_kwargs)


ROLES_T_CONTENT = "SELECT count(*) AS n, string_agg(b, ',' ORDER BY a, b) AS s FROM roles_t"


def admin_view(server):
    with server.connect() as client:
        return query(client, ROLES_T_CONTENT, options_for(server, "root")).to_pydict()


def expect_denied(call, user, what):
    """`call` fails with PERMISSION_DENIED (ADBC UNAUTHORIZED) naming the user, the role
    read_only and `what`."""
    with pytest.raises(adbc_driver_manager.Error) as raised:
        call()
    assert raised.value.status_code == adbc_driver_manager.AdbcStatusCode.UNAUTHORIZED, \
        str(raised.value)
    message = str(raised.value)
    assert f"user '{user}'" in message and "read_only" in message and what in message, message


@pytest.mark.parametrize("user", ["reader", "writer", "root"])
def test_every_role_connects_with_the_default_dbapi_and_commits_and_rolls_back(
        auth_server, role_table, user):
    before = admin_view(auth_server)
    with dbapi_connect(auth_server, user) as conn:
        cur = conn.cursor()
        cur.execute(ROLES_T_CONTENT)
        assert cur.fetchall() == [(before["n"][0], before["s"][0])]
        conn.commit()
        cur.execute("SELECT count(*) FROM roles_t")
        assert cur.fetchall() == [(before["n"][0],)]
        conn.rollback()
        cur.execute("SELECT 42")
        assert cur.fetchall() == [(42,)]
        conn.commit()
    assert admin_view(auth_server) == before


def test_a_write_inside_a_read_only_users_transaction_is_refused_and_changes_nothing(
        auth_server, role_table):
    before = admin_view(auth_server)
    with dbapi_connect(auth_server, "reader") as conn:
        cur = conn.cursor()
        expect_denied(lambda: cur.execute("INSERT INTO roles_t VALUES (90, 'tx-refused')"),
                      "reader", "INSERT")
        expect_denied(lambda: cur.execute("DELETE FROM roles_t"), "reader", "DELETE")
        expect_denied(lambda: cur.execute("CREATE TABLE ro_in_tx (x INT)"), "reader", "CREATE")
        expect_denied(lambda: cur.adbc_ingest("roles_t", pa.table({"a": [91], "b": ["ing"]}),
                                              mode="append"), "reader", "bulk ingest")
        # The refusals leave the transaction usable; committing it changes nothing.
        cur.execute(ROLES_T_CONTENT)
        assert cur.fetchall() == [(before["n"][0], before["s"][0])]
        conn.commit()
        conn.rollback()
    assert admin_view(auth_server) == before
    # The audit log has the refusal inside the transaction and the transaction calls.
    refused = audit_lines(auth_server, lambda l: "tx-refused" in l["sql"])
    assert refused and refused[0]["user"] == "reader" and refused[0]["role"] == "read_only"
    assert refused[0]["outcome"] == "PERMISSION_DENIED"
    for action in ("BeginTransaction", "EndTransaction"):
        lines = audit_lines(auth_server, lambda l, a=action: l["user"] == "reader"
                            and l["command"] == a)
        assert lines and all(line["outcome"] == "ok" for line in lines), (action, lines)


def test_sql_begin_commit_rollback_for_a_read_only_user(auth_server, role_table):
    """BEGIN/COMMIT/ROLLBACK as SQL on every route a client may send them: the query path,
    the statement-update path and a prepared update (the route JDBC takes)."""
    before = admin_view(auth_server)
    reader = options_for(auth_server, "reader")
    with auth_server.connect() as client:  # one client: one session
        query(client, "BEGIN TRANSACTION", reader)
        with pytest.raises(flight.FlightUnauthorizedError, match="reader.*read_only"):
            update(client, "UPDATE roles_t SET b = 'sql-tx'", reader)
        with pytest.raises(flight.FlightUnauthorizedError, match="INSERT"):
            query(client, "INSERT INTO roles_t VALUES (92, 'sql-tx')", reader)
        assert query(client, ROLES_T_CONTENT, reader).to_pydict() == before
        update(client, "ROLLBACK", reader)
        update(client, "BEGIN", reader)
        query(client, "COMMIT", reader)
        for sql in ("BEGIN", "COMMIT"):
            result = list(client.do_action(flight.Action(
                "CreatePreparedStatement", wire.create_prepared_request(sql)), reader))
            handle = wire.unpack_any(result[0].body.to_pybytes())[1][1][0]
            writer, stream = client.do_put(flight.FlightDescriptor.for_command(
                wire.prepared_update(handle)), pa.schema([]), reader)
            writer.done_writing()
            stream.read()
            writer.close()
        # Not a way around the policy: a write next to BEGIN is a write.
        with pytest.raises(flight.FlightUnauthorizedError):
            update(client, "BEGIN; DELETE FROM roles_t; COMMIT", reader)
    with adbc_connect(auth_server, "reader") as conn, conn.cursor() as cur:  # autocommit
        cur.execute("BEGIN")
        expect_denied(lambda: cur.execute("DELETE FROM roles_t"), "reader", "DELETE")
        cur.execute("ROLLBACK")
    assert admin_view(auth_server) == before


# --- --readonly ----------------------------------------------------------------------------

def test_readonly_server_without_auth(servers):
    s = servers("--readonly")
    options = flight.FlightCallOptions()
    with s.connect() as client:
        assert query(client, "SELECT 1 AS x", options).to_pydict() == {"x": [1]}
        with pytest.raises(flight.FlightUnauthorizedError, match="anonymous.*read_only"):
            update(client, "CREATE TABLE ro_t (a INT)", options)
        with pytest.raises(flight.FlightUnauthorizedError):
            query(client, "CREATE TABLE ro_t (a INT)", options)


@pytest.mark.parametrize("caller", ["anonymous", "root"])
def test_readonly_server_with_the_default_dbapi(start_server, read_only_database, tmp_path,
                                                caller):
    """`hyprstream --readonly` and adbc_driver_flightsql.dbapi.connect(uri) with its defaults
    (autocommit off): connects, queries, commits and rolls back; writes inside the
    transaction are refused and the data stays. An admin is capped at read_only the same way."""
    database, config, table, rows = read_only_database
    audit = tmp_path / "readonly-audit.log"
    args = ["--engine-connection", str(database), "--readonly", "--audit-log", str(audit)]
    if caller == "root":
        args += ["--config", str(config)]
    server = start_server(*args)
    server.audit_path = audit
    password = READ_ONLY_USERS["root"][1] if caller == "root" else None
    content = f"SELECT count(*), string_agg(b, ',' ORDER BY a) FROM {table}"
    with dbapi_connect(server, None if caller == "anonymous" else caller, password) as conn:
        cur = conn.cursor()
        cur.execute(content)
        before = cur.fetchall()
        assert before == [(rows, "v0,v1,v2,v3,v4")]
        conn.commit()
        expect_denied(lambda: cur.execute(f"INSERT INTO {table} VALUES (9, 'readonly-refused')"),
                      caller, "INSERT")
        expect_denied(lambda: cur.execute(f"DROP TABLE {table}"), caller, "DROP")
        cur.execute(content)
        assert cur.fetchall() == before
        conn.rollback()
        cur.execute(content)
        assert cur.fetchall() == before
        conn.commit()
    with dbapi_connect(server, None if caller == "anonymous" else caller, password) as conn:
        cur = conn.cursor()
        cur.execute(content)
        assert cur.fetchall() == before
    refused = audit_lines(server, lambda l: "readonly-refused" in l["sql"])
    assert refused and refused[0]["user"] == caller and refused[0]["role"] == "read_only"
    assert refused[0]["outcome"] == "PERMISSION_DENIED"
    begun = audit_lines(server, lambda l: l["command"] == "BeginTransaction")
    assert begun and all(line["outcome"] == "ok" for line in begun)


def test_readonly_server_caps_admins(servers, users_toml):
    s = servers("--config", str(users_toml), "--readonly")
    with s.connect() as client:
        options = options_for(s, "root")
        with pytest.raises(flight.FlightUnauthorizedError, match="root.*read_only"):
            update(client, "CREATE TABLE ro_admin (a INT)", options)


# --- Audit log -----------------------------------------------------------------------------

def audit_lines(server, predicate, until=bool):
    """The lines matching `predicate`, once `until(lines)` holds: waits for the buffered
    writer, which flushes within 100 ms (gives up after 5 s and returns what it has)."""
    for _ in range(100):
        lines = [json.loads(line) for line in server.audit_path.read_text().splitlines()]
        found = [line for line in lines if predicate(line)]
        if until(found):
            return found
        time.sleep(0.05)
    return found


def test_audit_log_records_who_ran_what_and_never_a_password(auth_server, role_table):
    with auth_server.connect() as client:
        reader = options_for(auth_server, "reader")
        outcome(lambda: update(client, "DELETE FROM roles_t WHERE b = 'audit-marker'", reader))
        writer = options_for(auth_server, "writer")
        assert update(client, "INSERT INTO roles_t VALUES (77, 'audit-ok')", writer) == 1
        with pytest.raises(flight.FlightUnauthenticatedError):
            client.authenticate_basic_token("reader", "audit-wrong-password")
    denied = audit_lines(auth_server, lambda l: "audit-marker" in l["sql"])
    assert denied and denied[0]["user"] == "reader" and denied[0]["role"] == "read_only"
    assert denied[0]["outcome"] == "PERMISSION_DENIED" and denied[0]["rpc"] == "DoPut"
    assert denied[0]["command"] == "CommandStatementUpdate"
    assert denied[0]["peer"].startswith("ipv4:127.0.0.1") or "127.0.0.1" in denied[0]["peer"]
    ok = audit_lines(auth_server, lambda l: "audit-ok" in l["sql"])
    assert ok and ok[0]["user"] == "writer" and ok[0]["outcome"] == "ok" and ok[0]["rows"] == 1
    assert ok[0]["duration_ms"] >= 0 and ok[0]["time"].endswith("Z")
    refused = audit_lines(auth_server, lambda l: l["rpc"] == "Handshake"
                          and l["outcome"] == "UNAUTHENTICATED" and l["user"] == "reader")
    assert refused
    streamed = audit_lines(auth_server, lambda l: l["rpc"] == "DoGet" and (l["rows"] or 0) > 0)
    assert streamed
    text = auth_server.audit_path.read_text()
    for password in [*PASSWORDS.values(), "audit-wrong-password"]:
        assert password not in text
    assert "Bearer" not in text and SECRET not in text
    assert "audit-wrong-password" not in auth_server.log()


def test_roles_in_front_of_another_database(servers, users_toml, tmp_path):
    """Roles hold with --engine adbc (SQLite here) and with the cache in front of it: the SQL
    is classified by DuckDB's parser even though the backend speaks another dialect."""
    for extra in ([], ["--enable-cache"]):
        db = tmp_path / f"backend{len(extra)}.db"
        server = servers("--config", str(users_toml), "--engine", "adbc", "--engine-connection",
                         str(db), "--engine-options", "driver=sqlite", *extra,
                         env={"HYPRSTREAM_AUTH_TOKEN_SECRET": SECRET})
        with adbc_connect(server, "writer") as conn:
            cur = conn.cursor()
            cur.execute("CREATE TABLE t (id INTEGER, v TEXT)")
            cur.execute("INSERT INTO t VALUES (1, 'a')")
            cur.execute("SELECT count(*) FROM t")
            assert cur.fetchall() == [(1,)]
        with adbc_connect(server, "reader") as conn:
            cur = conn.cursor()
            cur.execute("SELECT v FROM t")
            assert cur.fetchall() == [("a",)]
            for sql in ("INSERT INTO t VALUES (2, 'b')", "DELETE FROM t", "DROP TABLE t"):
                with pytest.raises(adbc_driver_flightsql.dbapi.Error, match="(?i)permission|denied|read_only"):
                    cur.execute(sql)
            cur.execute("SELECT count(*) FROM t")
            assert cur.fetchall() == [(1,)]


# --- Handles belong to their owner ---------------------------------------------------------
#
# `writer` makes each kind of handle; `root` (an admin: the strongest other user) and `reader`
# present it raw. Each gets exactly what a random unknown id gets (so ids cannot be probed),
# nothing of writer's changes, writer's handle keeps working (from another connection too),
# and the audit log names the refusal.

OWNER, OTHERS = "writer", ("root", "reader")


def actions(client, name, body, options):
    return [r.body.to_pybytes() for r in client.do_action(flight.Action(name, body), options)]


def prepare(client, sql, options, transaction_id=None):
    (result,) = actions(client, "CreatePreparedStatement",
                        wire.create_prepared_request(sql, transaction_id), options)
    return wire.unpack_any(result)[1][1][0]


def answer(call):
    """What the client sees: ("ok", result) or (exception type, message)."""
    try:
        return "ok", call()
    except Exception as e:  # noqa: BLE001 - compared, and reported by the assertion
        return type(e).__name__, str(e)


def unknown_id():
    return secrets.token_hex(16).encode()


def put(client, command, options):
    """A DoPut of `command` without rows; the DoPutUpdateResult's record count, if any."""
    writer, reader = client.do_put(flight.FlightDescriptor.for_command(command), pa.schema([]),
                                   options)
    writer.done_writing()
    buf = reader.read()
    writer.close()
    return wire.signed(wire.decode(buf).get(1, [0])[0]) if buf is not None and len(buf) else None


def cancel(client, info, options):
    """CancelFlightInfo, then the deprecated CancelQuery: both statuses."""
    (status,) = actions(client, "CancelFlightInfo", wire.encode([(1, info.serialize())]), options)
    (result,) = actions(client, "CancelQuery", wire.any_of(
        "ActionCancelQueryRequest", [(1, info.serialize())]), options)
    return wire.decode(status), wire.unpack_any(result)[1]


def refused(server, user, what, count=1):
    """The audit lines of `user`'s calls refused for presenting `what` of writer."""
    return audit_lines(server, lambda l: l["user"] == user
                       and (l.get("refused") or "").startswith(what)
                       and f"of user '{OWNER}'" in l["refused"],
                       until=lambda found: len(found) >= count)


def test_another_users_prepared_statement_handle_is_not_found(auth_server):
    owner = options_for(auth_server, OWNER)
    with auth_server.connect() as client, auth_server.connect() as elsewhere:
        update(client, "CREATE TABLE owned_ps (a BIGINT, s VARCHAR)", owner)
        update(client, "INSERT INTO owned_ps VALUES (1, 'ps-secret')", owner)
        select = prepare(client, "SELECT s FROM owned_ps WHERE a = 1", owner)
        insert = prepare(client, "INSERT INTO owned_ps VALUES (2, 'by-handle')", owner)

        def calls(options):
            """Every use of a handle, as a function of the handle."""
            def info(handle):
                return client.get_flight_info(flight.FlightDescriptor.for_command(
                    wire.prepared_query(handle)), options)
            return {
                "GetFlightInfo": info,
                "DoGet": lambda h: client.do_get(info(h).endpoints[0].ticket, options).read_all(),
                "GetSchema": lambda h: client.get_schema(flight.FlightDescriptor.for_command(
                    wire.prepared_query(h)), options).schema,
                "DoPut parameters": lambda h: put(client, wire.prepared_query(h), options),
                "DoPut update": lambda h: put(client, wire.prepared_update(h), options),
            }

        for user in OTHERS:
            options = options_for(auth_server, user)
            for name, call in calls(options).items():
                handle = insert if name == "DoPut update" else select
                theirs, unknown = answer(lambda: call(handle)), answer(lambda: call(unknown_id()))
                assert theirs == unknown, (user, name)
                assert theirs[0] == "ArrowKeyError" and "unknown or expired prepared statement " \
                    "handle" in theirs[1], (user, name, theirs)
            # Closing it answers like closing an unknown handle (not an error), and closes nothing.
            assert actions(client, "ClosePreparedStatement", wire.close_prepared_request(select),
                           options) == actions(client, "ClosePreparedStatement",
                                               wire.close_prepared_request(unknown_id()), options)
        # Still the owner's, from another connection too; the refused update ran nowhere.
        mine = calls(owner)
        assert mine["DoGet"](select).to_pydict() == {"s": ["ps-secret"]}
        assert put(elsewhere, wire.prepared_update(insert), owner) == 1
        assert query(elsewhere, "SELECT a, s FROM owned_ps ORDER BY a", owner).to_pydict() == {
            "a": [1, 2], "s": ["ps-secret", "by-handle"]}
        actions(elsewhere, "ClosePreparedStatement", wire.close_prepared_request(select), owner)
        assert answer(lambda: mine["GetFlightInfo"](select))[0] == "ArrowKeyError"
    lines = refused(auth_server, "root", "prepared statement handle", count=6)
    assert {(l["rpc"], l["outcome"]) for l in lines} >= {
        ("GetFlightInfo", "NOT_FOUND"), ("GetSchema", "NOT_FOUND"), ("DoPut", "NOT_FOUND"),
        ("DoAction", "ok")}, lines
    assert all(l["message"] == "" or "unknown or expired" in l["message"] for l in lines)


def test_another_users_ticket_is_not_found_and_not_cancellable(auth_server):
    owner = options_for(auth_server, OWNER)
    with auth_server.connect() as client, auth_server.connect() as elsewhere:
        info = client.get_flight_info(flight.FlightDescriptor.for_command(
            wire.statement_query("SELECT 'ticket-secret' AS s")), owner)
        ticket = info.endpoints[0].ticket
        stranger = flight.FlightInfo(
            pa.schema([("s", pa.string())]), info.descriptor, [flight.FlightEndpoint(
                wire.any_of("TicketStatementQuery", [(1, unknown_id())]), [])], -1, -1)
        for user in OTHERS:
            options = options_for(auth_server, user)
            theirs = answer(lambda: client.do_get(ticket, options).read_all())
            assert theirs == answer(lambda: client.do_get(
                stranger.endpoints[0].ticket, options).read_all())
            assert theirs[0] == "ArrowKeyError" and "unknown ticket" in theirs[1], theirs
            # NOT_CANCELLABLE, as for an unknown ticket; the unread result stays.
            assert cancel(client, info, options) == cancel(client, stranger, options) == (
                {1: [3]}, {1: [3]})
        # The owner reads it, from another connection.
        assert elsewhere.do_get(ticket, owner).read_all().to_pydict() == {"s": ["ticket-secret"]}
    lines = refused(auth_server, "root", "result ticket", count=3)
    assert {(l["rpc"], l["outcome"]) for l in lines} == {("DoGet", "NOT_FOUND"),
                                                         ("DoAction", "ok")}, lines


SLOW = "SELECT sum(hash(range)) AS s FROM range(20000000000)"


def test_another_users_cancel_leaves_a_running_stream_alone(auth_server):
    owner = options_for(auth_server, OWNER)
    with auth_server.connect() as client, auth_server.connect() as other:
        info = client.get_flight_info(flight.FlightDescriptor.for_command(
            wire.statement_query(SLOW)), owner)
        outcome_of = {}

        def read():
            try:
                client.do_get(info.endpoints[0].ticket, owner).read_all()
                outcome_of["read"] = "finished"
            except flight.FlightCancelledError as e:
                outcome_of["read"] = str(e)

        reader = threading.Thread(target=read)
        reader.start()
        try:
            time.sleep(0.5)
            assert cancel(other, info, options_for(auth_server, "root")) == ({1: [3]}, {1: [3]})
            time.sleep(0.5)
            assert reader.is_alive(), outcome_of  # still streaming
        finally:
            statuses = cancel(other, info, owner)
            reader.join(30)
        assert statuses[0] == {1: [1]}  # CANCELLED, by its owner
        assert "Interrupted" in outcome_of["read"]


def test_another_users_transaction_id_is_not_found(auth_server):
    owner = options_for(auth_server, OWNER)

    def begin(client, options):
        (result,) = actions(client, "BeginTransaction",
                            wire.any_of("ActionBeginTransactionRequest", []), options)
        return wire.unpack_any(result)[1][1][0]

    def end(client, transaction_id, action, options):
        return actions(client, "EndTransaction", wire.any_of(
            "ActionEndTransactionRequest", [(1, transaction_id), (2, action)]), options)

    def read_in(client, sql, transaction_id, options):
        info = client.get_flight_info(flight.FlightDescriptor.for_command(
            wire.statement_query(sql, transaction_id)), options)
        return client.do_get(info.endpoints[0].ticket, options).read_all()

    COMMIT, ROLLBACK = 1, 2
    with auth_server.connect() as client, auth_server.connect() as elsewhere:
        update(client, "CREATE TABLE owned_tx (s VARCHAR)", owner)
        transaction = begin(client, owner)
        assert put(client, wire.statement_update("INSERT INTO owned_tx VALUES ('uncommitted')",
                                                 transaction), owner) == 1
        for user in OTHERS:
            options = options_for(auth_server, user)
            uses = {
                "query": lambda t: read_in(client, "SELECT s FROM owned_tx", t, options),
                "update": lambda t: put(client, wire.statement_update(
                    "INSERT INTO owned_tx VALUES ('intruder')", t), options),
                "prepare": lambda t: prepare(client, "SELECT s FROM owned_tx", options, t),
                "rollback": lambda t: end(client, t, ROLLBACK, options),
                "commit": lambda t: end(client, t, COMMIT, options),
            }
            for name, use in uses.items():
                theirs, unknown = answer(lambda: use(transaction)), answer(lambda: use(unknown_id()))
                assert theirs == unknown, (user, name)
                if user == "root":
                    assert theirs[0] == "ArrowKeyError" and "transaction_id" in theirs[1], theirs
        # Neither ended nor written into: the owner still sees its own row, then commits.
        assert read_in(client, "SELECT s FROM owned_tx", transaction, owner).to_pydict() == {
            "s": ["uncommitted"]}
        assert end(elsewhere, transaction, COMMIT, owner) == []
        assert query(elsewhere, "SELECT s FROM owned_tx", options_for(auth_server, "root")
                     ).to_pydict() == {"s": ["uncommitted"]}
    lines = refused(auth_server, "root", "transaction_id", count=5)
    assert {(l["command"], l["outcome"]) for l in lines} >= {
        ("CommandStatementQuery", "NOT_FOUND"), ("CommandStatementUpdate", "NOT_FOUND"),
        ("CreatePreparedStatement", "NOT_FOUND"), ("EndTransaction", "NOT_FOUND")}, lines


def test_another_users_poll_descriptor_is_not_found(auth_server):
    # pyarrow has no PollFlightInfo: raw gRPC with each user's bearer token.
    def metadata(user):
        return [(k.decode().lower(), v.decode()) for k, v in token_headers(auth_server, user)]

    def poll(descriptor, user):
        try:
            return "ok", wire.decode(raw.poll_flight_info(descriptor, metadata(user)))
        except grpc.RpcError as e:
            return e.code().name, e.details()

    n = 200_000_000
    raw = RawFlight(auth_server.uri)
    try:
        code, first = poll(cmd_descriptor(wire.statement_query(
            f"SELECT sum(range) AS s FROM range({n})")), OWNER)
        assert code == "ok" and 2 in first, first  # running: a retry descriptor
        retry, partial = first[2][0], flight.FlightInfo.deserialize(first[1][0])
        stranger = cmd_descriptor(wire.any_of("TicketStatementQuery", [(1, unknown_id())]))
        with auth_server.connect() as client:
            for user in OTHERS:
                theirs = poll(retry, user)
                assert theirs == poll(stranger, user)
                assert theirs[0] == "NOT_FOUND" and "poll descriptor" in theirs[1], theirs
                assert cancel(client, partial, options_for(auth_server, user)) == (
                    {1: [3]}, {1: [3]})
            code, info = poll(retry, OWNER)
            while 2 in info:  # the owner polls it to the end
                code, info = poll(info[2][0], OWNER)
                assert code == "ok", info
            final = flight.FlightInfo.deserialize(info[1][0])
            assert client.do_get(final.endpoints[0].ticket, options_for(
                auth_server, OWNER)).read_all().to_pydict() == {"s": [n * (n - 1) // 2]}
    finally:
        raw.close()
    lines = refused(auth_server, "root", "poll descriptor", count=2)
    assert {(l["rpc"], l["outcome"]) for l in lines} == {("PollFlightInfo", "NOT_FOUND"),
                                                         ("DoAction", "ok")}, lines


def session_options(client, options):
    (result,) = actions(client, "GetSessionOptions", b"", options)
    names = set()
    for entry in wire.decode(result).get(1, []):
        names.add(wire.decode(entry)[1][0].decode())
    return names


def test_another_users_session_cookie_names_a_session_of_its_own(auth_server):
    """Flight SQL sessions are named by the arrow_flight_session_id cookie. Another user
    presenting the same cookie gets a session of its own, exactly as for a cookie the server
    has never seen: none of the owner's temp tables or options, and closing it closes only
    its own."""
    cookie = (b"cookie", b"arrow_flight_session_id=" + unknown_id())
    owner = flight.FlightCallOptions(headers=token_headers(auth_server, OWNER) + [cookie])
    with auth_server.connect() as client, auth_server.connect() as elsewhere:
        update(client, "CREATE TEMP TABLE session_secret AS SELECT 'temp-secret' AS s", owner)
        entry = wire.encode([(1, "TimeZone"), (2, wire.encode([(1, "Asia/Tokyo")]))])
        actions(client, "SetSessionOptions", wire.encode([(1, entry)]), owner)
        assert "TimeZone" in session_options(client, owner)
        for user in OTHERS:
            options = flight.FlightCallOptions(headers=token_headers(auth_server, user) + [cookie])
            theirs = answer(lambda: query(elsewhere, "SELECT s FROM session_secret", options))
            assert theirs[0] != "ok" and "session_secret" in theirs[1], theirs
            assert "TimeZone" not in session_options(elsewhere, options)
            if user == "root":  # its own temp table of the same name, in its own session
                update(elsewhere, "CREATE TEMP TABLE session_secret AS SELECT 'root' AS s",
                       options)
                assert query(elsewhere, "SELECT s FROM session_secret", options).to_pydict() == {
                    "s": ["root"]}
            (closed,) = actions(elsewhere, "CloseSession", b"", options)
            assert wire.decode(closed) == {1: [1]}  # CLOSED (its own)
        # The owner's session is untouched, from another connection too.
        assert query(elsewhere, "SELECT s, current_setting('TimeZone') AS tz FROM session_secret",
                     owner).to_pydict() == {"s": ["temp-secret"], "tz": ["Asia/Tokyo"]}
    lines = refused(auth_server, "root", "session (arrow_flight_session_id cookie)")
    assert lines and "a session of its own" in lines[0]["refused"], lines


def test_adbc_partitions_of_another_user_are_not_found(auth_server):
    """The DB-API's partitioned execution hands out tickets: another connection of the same
    user reads them, another user's connection gets NOT_FOUND."""
    with adbc_connect(auth_server, OWNER) as conn, adbc_connect(auth_server, OWNER) as same, \
            adbc_connect(auth_server, "root") as other:
        cur = conn.cursor()
        partitions, _ = cur.adbc_execute_partitions("SELECT 'partition-secret' AS s")
        assert len(partitions) == 1
        with other.cursor() as theirs, pytest.raises(adbc_driver_manager.Error) as error:
            theirs.adbc_read_partition(partitions[0])
            theirs.fetchall()
        assert error.value.status_code == adbc_driver_manager.AdbcStatusCode.NOT_FOUND
        assert "unknown ticket" in str(error.value)
        with same.cursor() as mine:
            mine.adbc_read_partition(partitions[0])
            assert mine.fetchall() == [("partition-secret",)]
