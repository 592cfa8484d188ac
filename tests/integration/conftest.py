"""Fixtures for the integration tests: the real hyprstream binary, started on a free port,
driven by the real third-party clients (ADBC Flight SQL driver, pyarrow.flight).

HYPRSTREAM_BIN names the binary (scripts/test.sh sets it); by default build/hyprstream.
Every result a test reads through the ADBC DB-API or a `flight.connect` client is validated as
Arrow in full (arrow_validity.py): invalid data fails the test that read it.
"""
import os
import pathlib
import socket
import subprocess
import time
import uuid

import adbc_driver_flightsql.dbapi
import pyarrow.flight as flight
import pytest

import arrow_validity
import stacks

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = pathlib.Path(os.environ.get("HYPRSTREAM_BIN", ROOT / "build" / "hyprstream"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One hyprstream process. `uri` is where clients connect; `log` is its stderr file."""

    def __init__(self, tmp_dir, *args, env=None):
        self.port = free_port()
        self.uri = f"grpc://127.0.0.1:{self.port}"
        self.log_path = pathlib.Path(tmp_dir) / f"hyprstream-{self.port}.log"
        self.args = [str(BINARY), "--host", "127.0.0.1", "--port", str(self.port), *args]
        self.env = {**os.environ, **(env or {})}
        self.process = None

    def connect(self, **kwargs):
        """A pyarrow.flight client for this server (subclasses add TLS material)."""
        return flight.connect(self.uri, **kwargs)

    def start(self, timeout=30):
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.args, stdout=self._log, stderr=self._log,
                                        env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hyprstream exited with {self.process.returncode}:\n"
                                   + self.log())
            try:
                with self.connect() as client:
                    list(client.list_actions(
                        options=flight.FlightCallOptions(timeout=1)))
                return self
            except flight.FlightUnauthenticatedError:
                return self  # listening, and asking for credentials
            except flight.FlightError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("hyprstream did not start listening:\n" + self.log())

    def stop(self, sig_timeout=20):
        """SIGTERM, then wait; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(sig_timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        code, self.process = self.process.returncode, None
        return code

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture(scope="session", autouse=True)
def every_result_is_valid_arrow():
    """The clients validate every batch they hand a test (see arrow_validity.py)."""
    with pytest.MonkeyPatch.context() as patch:
        arrow_validity.install(patch)
        yield


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A shared in-memory server for the whole run; tests use their own table names."""
    s = Server(tmp_path_factory.mktemp("server")).start()
    yield s
    code = s.stop()
    assert code == 0, f"server exited with {code} on SIGTERM:\n{s.log()}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that started servers reports the end of each server's log with it (CI
    shows only the report)."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for s in getattr(item, "hyprstream_servers", []):
        tail = "\n".join(s.log().splitlines()[-60:])
        report.sections.append((f"end of the log of {s.uri}", tail))


@pytest.fixture
def start_server(tmp_path, request):
    """Starts extra servers with their own arguments; all stopped at the end of the test."""
    started = []
    request.node.hyprstream_servers = started

    def start(*args, env=None):
        s = Server(tmp_path, *args, env=env).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def uri(server):
    return server.uri


@pytest.fixture
def conn(uri):
    """A DB-API connection with the driver's defaults (autocommit off)."""
    c = adbc_driver_flightsql.dbapi.connect(uri)
    yield c
    c.close()


@pytest.fixture
def autocommit_conn(uri):
    c = adbc_driver_flightsql.dbapi.connect(uri, autocommit=True)
    yield c
    c.close()


@pytest.fixture
def client(uri):
    c = flight.connect(uri)
    yield c
    c.close()


@pytest.fixture
def table():
    """A table name no other test uses."""
    return "t_" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL 15 (tests/integration/postgres_server.py) for the whole run: database
    `metrics`, superuser postgres/secret over TCP. Tests that stop() it must start() it again."""
    from postgres_server import PostgresServer

    pg = PostgresServer().start()
    yield pg
    pg.destroy()


@pytest.fixture(params=stacks.NAMES)
def stack(request, tmp_path, start_server):
    """One engine stack of the windows layer (stacks.py): embedded DuckDB, ADBC SQLite, ADBC
    PostgreSQL behind the DuckDB cache. Each test gets its own database."""
    postgres = request.getfixturevalue("postgres") if request.param == "postgres" else None
    s = stacks.Stack(request.param, tmp_path, start_server, postgres)
    yield s
    s.close()


READ_ONLY_USERS = {"root": ("admin", "r00t pass"), "reader": ("read_only", "reader-pass")}


@pytest.fixture
def read_only_database(tmp_path, start_server):
    """For read_only callers: a DuckDB file holding table `ro_t` (5 rows, made by an admin) and
    a config file with users `root` (admin) and `reader` (read_only, password
    READ_ONLY_USERS["reader"][1]). No server holds the file when this returns: start one with
    `--engine-connection <database>` (plus `--config <config>` or `--readonly`).
    Returns (database, config, table, rows)."""
    config = tmp_path / "users.toml"
    text = ""
    for user, (role, password) in READ_ONLY_USERS.items():
        digest = subprocess.run([str(BINARY), "--hash-password"], input=password + "\n",
                                capture_output=True, text=True, check=True).stdout.strip()
        text += f'[[users]]\nname = "{user}"\npassword_hash = "{digest}"\nrole = "{role}"\n'
    config.write_text(text)
    database = tmp_path / "read_only.duckdb"
    seeder = start_server("--engine-connection", str(database), "--config", str(config))
    with adbc_driver_flightsql.dbapi.connect(
            seeder.uri, db_kwargs={"username": "root", "password": READ_ONLY_USERS["root"][1]},
            autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE ro_t AS SELECT range AS a, 'v' || range AS b FROM range(5)")
    assert seeder.stop() == 0
    return database, config, "ro_t", 5


def start_read_only_server(start_server, read_only_database, caller):
    """A server over `read_only_database` for a read_only caller: `--readonly` (anyone, no
    login) or the `reader` user of its config. Returns (server, login arguments for the client
    programs: [] or [user, password], table, rows)."""
    database, config, table, rows = read_only_database
    if caller == "--readonly":
        server = start_server("--engine-connection", str(database), "--readonly",
                              "--log-level", "debug")
        return server, [], table, rows
    server = start_server("--engine-connection", str(database), "--config", str(config),
                          "--log-level", "debug")
    return server, ["reader", READ_ONLY_USERS["reader"][1]], table, rows
