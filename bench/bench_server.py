"""Starts the servers the benchmarks talk to, each on a free loopback port, and stops them:
hyprstream (HYPRSTREAM_BIN overrides build/hyprstream), the arrow-go Flight SQL example
server, and a throw-away PostgreSQL 15 cluster in a temp dir. A Flight server is ready when
it answers ListActions / a Flight SQL handshake; PostgreSQL when pg_ctl -w says so."""
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pyarrow.flight as flight

ROOT = pathlib.Path(__file__).resolve().parents[1]
BINARY = pathlib.Path(os.environ.get("HYPRSTREAM_BIN", ROOT / "build" / "hyprstream"))
PG_BIN = pathlib.Path("/usr/lib/postgresql/15/bin")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_flight(proc, uri, what, timeout=30):
    """Waits until the Flight server at `uri` answers; kills it and raises if it does not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            with flight.connect(uri) as client:
                list(client.list_actions(options=flight.FlightCallOptions(timeout=1)))
            return
        except flight.FlightUnauthenticatedError:
            return  # up, and asking for credentials
        except flight.FlightError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{what} did not start in {timeout} s")


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_hyprstream(log, *args, binary=None):
    """Returns (process, uri) of a hyprstream with warn-level logs to `log`."""
    port = free_port()
    proc = subprocess.Popen([str(binary or BINARY), "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warn", *args], stdout=log, stderr=log)
    uri = f"grpc://127.0.0.1:{port}"
    wait_for_flight(proc, uri, "hyprstream")
    return proc, uri


def start_server(log, *args):
    """hyprstream for the single-system benchmarks: exits the benchmark if it does not start."""
    try:
        return start_hyprstream(log, *args)
    except RuntimeError as e:
        sys.exit(str(e))


def start_hyprstream_over_postgres(log, pg, *args, cache=True, binary=None,
                                  pool="pool_max=10&pool_min=1&connect_timeout=30"):
    """Returns (process, uri) of a hyprstream in the README's configuration over `pg` (a
    postgres_server()): --engine adbc with the ADBC PostgreSQL driver, the credentials in
    HYPRSTREAM_ENGINE_USERNAME/PASSWORD, and (`cache`) the DuckDB cache in memory."""
    import adbc_driver_postgresql

    driver = pathlib.Path(adbc_driver_postgresql.__file__).parent / "libadbc_driver_postgresql.so"
    os.environ["HYPRSTREAM_ENGINE_USERNAME"] = "postgres"
    os.environ["HYPRSTREAM_ENGINE_PASSWORD"] = "secret"
    cached = ["--enable-cache", "--cache-engine", "duckdb", "--cache-connection", ":memory:"]
    return start_hyprstream(
        log, "--engine", "adbc", "--engine-connection",
        f"postgresql://127.0.0.1:{pg.port}/metrics?{pool}",
        "--engine-options", f"driver_path={driver}", *(cached if cache else []), *args,
        binary=binary)


def start_arrow_go(binary, log):
    """Returns (process, uri) of the arrow-go SQLite Flight SQL example server."""
    port = free_port()
    proc = subprocess.Popen([str(binary), "-host", "127.0.0.1", "-port", str(port)],
                            stdout=log, stderr=log)
    uri = f"grpc://127.0.0.1:{port}"
    wait_for_flight(proc, uri, "the arrow-go Flight SQL example server")
    return proc, uri


def postgres_server():
    """A throw-away PostgreSQL 15 cluster (tests/integration/postgres_server.py: temp dir, free
    loopback port, durability off, user postgres/secret, database metrics); .destroy() it."""
    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    from postgres_server import PostgresServer

    return PostgresServer().start()
